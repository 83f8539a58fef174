"""The follow-up ladder of a rectification item across the 2026 Spring Festival and National Day
holidays (time travel), and what completing, extending or reassigning does to its rungs."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from models import followup, rectification
from models.enums import (
    DeclineCode,
    FollowUpStatus,
    FollowUpStep,
    ItemStatus,
    Obligation,
    Stage,
)
from models.tables import FollowUp, Notification, RectificationItem

SH = ZoneInfo("Asia/Shanghai")
S = FollowUpStep


def local(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH).astimezone(dt.UTC)


def rungs(session, obligation: Obligation, item_id: int) -> dict[FollowUpStep, FollowUp]:
    rows = session.exec(
        select(FollowUp).where(FollowUp.obligation == obligation, FollowUp.subject_id == item_id)
    ).all()
    return {r.step: r for r in rows if r.status != FollowUpStatus.CLOSED}


def messages(session, fid: int) -> list[tuple[str, str]]:
    rows = session.exec(
        select(Notification).where(Notification.event_key == f"followup:{fid}")
    ).all()
    return sorted((n.recipient, n.title) for n in rows)


# Item deadline 40 days after the loop starts; the rungs land on official working days:
# Spring Festival 2026 is Feb 15–23 with Sat Feb 14 and Sat Feb 28 worked;
# National Day 2026 is Oct 1–7 (Mid-autumn Sep 25–27) with Sat Oct 10 worked.
ITEM_LADDERS = {
    "spring_festival": (
        dt.date(2026, 1, 16),
        {
            S.DUE_SOON: local(2026, 2, 13),  # Feb 25 − 3 working days: 24, 14 (Sat), 13
            S.DUE: local(2026, 2, 25),
            S.OVERDUE: local(2026, 2, 26),
            S.ESCALATE_HEAD: local(2026, 2, 27),
            S.ESCALATE_ADMIN: local(2026, 2, 28),  # an adjusted working Saturday
        },
    ),
    "national_day": (
        dt.date(2026, 8, 21),
        {
            S.DUE_SOON: local(2026, 9, 24),  # Sep 30 − 3: 29, 28, 24 (25–27 Mid-autumn)
            S.DUE: local(2026, 9, 30),
            S.OVERDUE: local(2026, 10, 8),
            S.ESCALATE_HEAD: local(2026, 10, 9),
            S.ESCALATE_ADMIN: local(2026, 10, 10),  # an adjusted working Saturday
        },
    ),
}


@pytest.mark.parametrize("holiday", sorted(ITEM_LADDERS))
def test_item_ladder_across_holiday_fires_each_rung_once_on_working_days(
    loop, session, time_machine, holiday
):
    start, expected = ITEM_LADDERS[holiday]
    time_machine.move_to(dt.datetime.combine(start, dt.time(10), tzinfo=SH), tick=False)
    loop.today = start
    topic = loop.topic()
    loop.advance(topic, to=Stage.IMPLEMENTATION, start=True)
    c = loop.cast
    first, second = loop.items(topic)  # officer (区住建局, has a head); other officer (no head)
    for item in (first, second):
        loop.plan(item)  # the plan ladder closes; only the item deadline is chased below
    session.flush()
    ladder = rungs(session, Obligation.ITEM_DEADLINE, first.id)
    assert {step: r.due_at for step, r in ladder.items()} == expected
    assert not any(r.provisional for r in ladder.values())

    recipients = {
        S.DUE_SOON: [c.officer.tag],
        S.DUE: [c.officer.tag],
        S.OVERDUE: [c.officer.tag],
        S.ESCALATE_HEAD: [c.head.tag],
        S.ESCALATE_ADMIN: ["role-administrator", "role-approver"],
    }
    second_ladder = rungs(session, Obligation.ITEM_DEADLINE, second.id)
    for step, when in expected.items():
        time_machine.move_to(when - dt.timedelta(minutes=1), tick=False)
        followup.sweep(session)
        assert messages(session, ladder[step].id) == [], f"{step} fired early"
        time_machine.move_to(when, tick=False)
        followup.sweep(session)
        followup.sweep(session)  # a second sweep finds nothing more
        got = messages(session, ladder[step].id)
        assert [r for r, _ in got] == sorted(recipients[step]), step
        # the department without a head escalates to the office instead
        if step is S.ESCALATE_HEAD:
            assert [r for r, _ in messages(session, second_ladder[step].id)] == [
                "role-administrator"
            ]
    titles = {step: messages(session, ladder[step].id)[0][1] for step in expected}
    assert titles[S.DUE_SOON].startswith("【到期提醒】")
    assert titles[S.DUE].startswith("【今日到期】")
    assert titles[S.OVERDUE].startswith("【预警】")
    assert titles[S.ESCALATE_HEAD].startswith("【督办】") and "李强" in titles[S.ESCALATE_HEAD]
    session.expire_all()
    assert {r.status for r in rungs(session, Obligation.ITEM_DEADLINE, first.id).values()} == {
        FollowUpStatus.SENT
    }


ACK_LADDERS = {
    # Transferred Thu Feb 12: 3 working days are Feb 13, Sat Feb 14 and Tue Feb 24.
    "spring_festival": (
        local(2026, 2, 12, 10),
        {
            S.DUE: local(2026, 2, 24),
            S.OVERDUE: local(2026, 2, 25),
            S.ESCALATE_HEAD: local(2026, 2, 25),
            S.ESCALATE_ADMIN: local(2026, 2, 26),
        },
    ),
    # Transferred Tue Sep 29: Sep 30, Oct 8, Oct 9; the next working day is Sat Oct 10.
    "national_day": (
        local(2026, 9, 29, 10),
        {
            S.DUE: local(2026, 10, 9),
            S.OVERDUE: local(2026, 10, 10),
            S.ESCALATE_HEAD: local(2026, 10, 10),
            S.ESCALATE_ADMIN: local(2026, 10, 12),
        },
    ),
}


@pytest.mark.parametrize("holiday", sorted(ACK_LADDERS))
def test_acknowledgement_ladder_across_holiday(loop, session, time_machine, holiday):
    transferred_at, expected = ACK_LADDERS[holiday]
    time_machine.move_to(transferred_at, tick=False)
    loop.today = transferred_at.astimezone(SH).date()
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    item = loop.items(topic)[0]
    due_day = expected[S.DUE].astimezone(SH).date()
    assert item.ack_due_at.astimezone(SH) == dt.datetime.combine(due_day, dt.time(23, 59, 59), SH)
    ladder = rungs(session, Obligation.ACKNOWLEDGEMENT, item.id)
    assert {step: r.due_at for step, r in ladder.items()} == expected
    time_machine.move_to(expected[S.ESCALATE_ADMIN], tick=False)
    summary = followup.sweep(session)
    assert summary["by_rung"]["acknowledgement.escalate_admin"] == 2  # both items
    assert [r for r, _ in messages(session, ladder[S.ESCALATE_HEAD].id)] == [loop.cast.head.tag]


def test_completing_extending_and_reassigning_leave_old_rungs_nothing_to_do(
    loop, session, time_machine
):
    time_machine.move_to(local(2026, 3, 2, 10), tick=False)
    loop.today = dt.date(2026, 3, 2)
    c = loop.cast
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    first, second = loop.items(topic)

    # Reassigning: the old officer's acknowledgement rungs close, new ones chase the new one.
    rectification.decline(
        session,
        second.id,
        rectification.DeclineIn(code=DeclineCode.NOT_OUR_DUTY, reason="属区住建局职责"),
        by=second.officer_id,
    )
    rectification.reassign(
        session,
        second.id,
        rectification.ReassignIn(lead_department_id=c.dept_id, officer_id=c.officer.id),
        by=c.admin.id,
    )
    session.flush()
    old = session.exec(
        select(FollowUp).where(
            FollowUp.obligation == Obligation.ACKNOWLEDGEMENT,
            FollowUp.subject_id == second.id,
            FollowUp.owed_by_id == c.other_officer.id,
        )
    ).all()
    assert old and {(r.status, r.outcome) for r in old} == {(FollowUpStatus.CLOSED, "已退回")}
    new = rungs(session, Obligation.ACKNOWLEDGEMENT, second.id)
    assert {r.owed_by_id for r in new.values()} == {c.officer.id}

    for item in (first, second):
        rectification.acknowledge(session, item.id, by=c.officer.id)
    loop.run_stage(topic, Stage.IMPLEMENTATION)
    before = rungs(session, Obligation.ITEM_DEADLINE, first.id)

    # Extending: the old ladder closes, a new one follows the new deadline.
    new_deadline = first.deadline.astimezone(SH).date() + dt.timedelta(days=30)
    rectification.extend(
        session,
        first.id,
        rectification.ExtendIn(deadline=new_deadline, reason="汛期停工"),
        by=c.admin.id,
    )
    # Completing: every open rung of the second item closes.
    loop.plan(second)
    loop.complete(second)
    session.flush()
    session.expire_all()
    for r in before.values():
        assert (r.status, r.outcome) == (FollowUpStatus.CLOSED, "期限已调整")
    after = rungs(session, Obligation.ITEM_DEADLINE, first.id)
    assert after[S.DUE].deadline == first.deadline and after[S.DUE].id not in {
        r.id for r in before.values()
    }
    done = session.exec(
        select(FollowUp).where(
            FollowUp.obligation == Obligation.ITEM_DEADLINE, FollowUp.subject_id == second.id
        )
    ).all()
    assert {(r.status, r.outcome) for r in done} == {(FollowUpStatus.CLOSED, "已办结")}

    # Sweeping past the old dates sends nothing for the old deadline or the completed item.
    time_machine.move_to(max(r.due_at for r in before.values()), tick=False)
    followup.sweep(session)
    for r in [*before.values(), *done]:
        assert messages(session, r.id) == []


def test_a_rung_whose_obligation_was_met_another_way_records_nothing_to_do(
    loop, session, time_machine
):
    """Rungs not closed by the action (e.g. an item completed by a data correction) find the
    obligation met when they come due, and say so instead of chasing."""
    time_machine.move_to(local(2026, 3, 2, 10), tick=False)
    loop.today = dt.date(2026, 3, 2)
    topic = loop.topic()
    loop.advance(topic, to=Stage.IMPLEMENTATION, start=True)
    item = loop.items(topic)[0]
    session.get(RectificationItem, item.id).status = ItemStatus.COMPLETED
    session.flush()
    ladder = rungs(session, Obligation.ITEM_DEADLINE, item.id)
    time_machine.move_to(max(r.due_at for r in ladder.values()), tick=False)
    followup.sweep(session)
    session.expire_all()
    for r in ladder.values():
        r = session.get(FollowUp, r.id)
        assert r.status == FollowUpStatus.NOTHING_TO_DO and "无需提醒" in r.outcome
        assert messages(session, r.id) == []
