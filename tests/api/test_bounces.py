"""Transfer without ping-pong (退单拉锯战, issue 9 point 6): the 签收 clock runs from transfer, a
return needs a coded reason and is recorded as a bounce, the Nth bounce goes to the office to
decide who leads, the decision is final, and bounces are a KPI of the department that made
them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from config.settings import get_settings
from models import assessment, bulletin, dispatch, followup, kpis, rectification
from models.enums import DeclineCode, FollowUpStatus, FollowUpStep, ItemStatus, Obligation, Stage
from models.errors import Forbidden
from models.tables import AuditEvent, FollowUp, ItemBounce, Notification, RectificationItem

SH = ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 4, 13, 10, tzinfo=SH)  # a working week with no holiday


def _transferred(loop, session: Session, time_machine) -> tuple[RectificationItem, object]:  # type: ignore[no-untyped-def]
    """A topic in 转交办理 on a Monday; its second item is 城南街道's (周婷)."""
    time_machine.move_to(MONDAY, tick=False)
    loop.today = MONDAY.date()
    topic = loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
    session.commit()
    return loop.items(topic)[1], loop.cast


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _decline(client, item_id: int, person, code: str = "not_our_duty", reason: str = "属住建职责"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/items/{item_id}/decline",
        json={"code": code, "reason": reason},
        headers=client.as_(person),
    )


def _notes(session: Session, template: str, recipient: str | None = None) -> list[Notification]:
    stmt = select(Notification).where(Notification.template == template)
    if recipient is not None:
        stmt = stmt.where(Notification.recipient == recipient)
    return list(session.exec(stmt.order_by(Notification.id)))


def _to_arbitration(client, session: Session, item: RectificationItem, c) -> None:  # type: ignore[no-untyped-def]
    """城南街道 returns it, the office gives it to 区住建局, which returns it too: two bounces."""
    assert _decline(client, item.id, c.other_officer).status_code == 200
    r = client.post(
        f"/items/{item.id}/reassign",
        json={"lead_department_id": c.dept_id, "officer_id": c.officer.id},
    )
    assert r.status_code == 200, r.text
    r = _decline(client, item.id, c.officer, code="shared_duty", reason="涉及街道管辖的公共区域")
    assert r.status_code == 200, r.text


def test_the_ack_clock_runs_from_transfer_and_a_return_buys_no_time(
    client, loop, session, time_machine
):
    """签收 is owed within N working days of the transfer, not of anyone's signature; a return
    and a reassignment give the next department its own 签收 clock but keep the item deadline,
    so bouncing an item never restarts the time the item has to be fixed in."""
    item, c = _transferred(loop, session, time_machine)
    deadline = item.deadline
    assert item.transferred_at == MONDAY
    assert item.ack_due_at.astimezone(SH) == dt.datetime(2026, 4, 16, 23, 59, 59, tzinfo=SH)

    # 城南街道 lets its 签收 deadline pass, is escalated, and only then returns the item.
    time_machine.move_to(dt.datetime(2026, 4, 21, 10, tzinfo=SH), tick=False)
    followup.sweep(session)
    session.commit()
    sent = session.exec(
        select(FollowUp.step).where(
            FollowUp.obligation == Obligation.ACKNOWLEDGEMENT,
            FollowUp.subject_id == item.id,
            FollowUp.status == FollowUpStatus.SENT,
        )
    ).all()
    assert FollowUpStep.ESCALATE_HEAD in sent  # the escalation stands on the record
    assert _decline(client, item.id, c.other_officer).status_code == 200
    r = client.post(
        f"/items/{item.id}/reassign",
        json={"lead_department_id": c.dept_id, "officer_id": c.officer.id},
    )
    assert r.status_code == 200, r.text
    session.refresh(item)
    assert item.deadline == deadline  # the return bought no time
    assert item.ack_due_at.astimezone(SH) == dt.datetime(2026, 4, 24, 23, 59, 59, tzinfo=SH)
    # Escalations already sent were not taken back by the return, and it counts as a bounce.
    still = session.exec(
        select(func.count()).where(
            FollowUp.obligation == Obligation.ACKNOWLEDGEMENT,
            FollowUp.subject_id == item.id,
            FollowUp.status == FollowUpStatus.SENT,
        )
    ).one()
    assert still == len(sent)
    assert r.json()["bounce_count"] == 1


def test_a_decline_needs_a_code_from_the_list_and_an_explanation(
    client, loop, session, time_machine
):
    item, c = _transferred(loop, session, time_machine)
    audits = _count(session, AuditEvent)
    cases = [
        ({"reason": "不是我们的事"}, "code"),
        ({"code": "not_mine", "reason": "不是我们的事"}, "code"),
        ({"code": "", "reason": "不是我们的事"}, "code"),
        ({"code": "other"}, "reason"),
        ({"code": "other", "reason": "　 "}, "reason"),  # U+3000 and a space: empty
    ]
    for body, field in cases:
        r = client.post(f"/items/{item.id}/decline", json=body, headers=client.as_(c.other_officer))
        assert r.status_code == 422, (body, r.text)
        errors = r.json()["errors"]
        assert [e["field"] for e in errors] == [field], body
        assert field in r.json()["detail"]
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in e["message"]) for e in errors)
    assert _count(session, ItemBounce) == 0 and _count(session, AuditEvent) == audits
    session.refresh(item)
    assert item.status == ItemStatus.TRANSFERRED
    # Every code of the list is offered in the API documentation, with its zh-CN label.
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert set(schema["DeclineCode"]["enum"]) == {c.value for c in DeclineCode}
    assert "非本单位职责" in schema["DeclineIn"]["properties"]["code"]["description"]


def test_every_decline_is_recorded_as_a_bounce(client, loop, session, time_machine):
    item, c = _transferred(loop, session, time_machine)
    r = _decline(client, item.id, c.other_officer, code="higher_level", reason="属市级审批事权")
    assert r.status_code == 200, r.text
    assert r.json()["bounce_count"] == 1 and r.json()["arbitration_label"] is None
    assert r.json()["decline_reason"] == "属上级或垂直管理部门事权：属市级审批事权"
    (bounce,) = session.exec(select(ItemBounce).where(ItemBounce.item_id == item.id)).all()
    assert (bounce.department_id, bounce.code, bounce.reason, bounce.by_id) == (
        c.other_dept_id,
        DeclineCode.HIGHER_LEVEL,
        "属市级审批事权",
        c.other_officer.id,
    )
    listed = client.get(f"/items/{item.id}/bounces").json()
    assert listed["count"] == 1 and listed["data"][0]["code_label"] == "属上级或垂直管理部门事权"
    # The office hears of it, with the code, the count and the threshold.
    (note,) = _notes(session, "item_declined", "role-administrator")
    assert "属上级或垂直管理部门事权：属市级审批事权" in note.body
    assert "第 1 次被退回" in note.body and "累计退回 2 次" in note.body
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "item_declined")).one()
    assert event.detail["code"] == "higher_level" and event.detail["bounces"] == 1


def test_the_nth_bounce_opens_arbitration_and_tells_the_office(client, loop, session, time_machine):
    item, c = _transferred(loop, session, time_machine)
    _to_arbitration(client, session, item, c)
    got = client.get(f"/items/{item.id}").json()
    assert got["bounce_count"] == 2 and got["arbitration_label"] == "待协商办裁定"
    assert got["arbitration_requested_at"] is not None
    (note,) = _notes(session, "arbitration_request", "role-administrator")
    assert "已被退回 2 次" in note.body
    assert "城南街道退回：非本单位职责" in note.body and "区住建局退回：职责交叉" in note.body
    assert f"/admin/items/{item.id}" in note.body  # the page where the office arbitrates
    assert note.payload["link"].endswith(f"/admin/items/{item.id}")
    assert "2026年04月14日" in note.body  # within 1 working day
    # Instead of the plain "returned" message: one message for the second bounce.
    assert len(_notes(session, "item_declined")) == 1
    rungs = session.exec(
        select(FollowUp).where(
            FollowUp.obligation == Obligation.ARBITRATION, FollowUp.subject_id == item.id
        )
    ).all()
    assert {r.step for r in rungs} == {FollowUpStep.DUE, FollowUpStep.ESCALATE_ADMIN}
    assert all(r.status == FollowUpStatus.OPEN for r in rungs)
    # The office decides by arbitration, not by one more reassignment.
    r = client.post(
        f"/items/{item.id}/reassign",
        json={"lead_department_id": c.other_dept_id, "officer_id": c.other_officer.id},
    )
    assert r.status_code == 409 and "裁定" in r.json()["detail"]


def test_the_threshold_is_a_setting(client, loop, session, time_machine, monkeypatch):
    monkeypatch.setenv("XS_BOUNCES_BEFORE_ARBITRATION", "3")
    get_settings.cache_clear()
    try:
        item, c = _transferred(loop, session, time_machine)
        _to_arbitration(client, session, item, c)
        got = client.get(f"/items/{item.id}").json()
        assert got["bounce_count"] == 2 and got["arbitration_label"] is None
        assert _notes(session, "arbitration_request") == []
        assert "累计退回 3 次" in _notes(session, "item_declined")[-1].body
    finally:
        monkeypatch.delenv("XS_BOUNCES_BEFORE_ARBITRATION")
        get_settings.cache_clear()


def test_only_the_office_arbitrates(client, loop, session, time_machine):
    item, c = _transferred(loop, session, time_machine)
    _to_arbitration(client, session, item, c)
    body = {
        "lead_department_id": c.other_dept_id,
        "officer_id": c.other_officer.id,
        "note": "公共区域由街道牵头",
    }
    for person in (c.approver, c.head, c.officer, c.member):
        r = client.post(f"/items/{item.id}/arbitrate", json=body, headers=client.as_(person))
        assert r.status_code == 403, (person.role, r.text)
    # The rule holds in the operation too, not only at the door.
    with pytest.raises(Forbidden):
        rectification.arbitrate(
            session, item.id, rectification.ArbitrateIn(**body), by=c.approver.id
        )
    session.rollback()
    session.refresh(item)
    assert item.arbitrated_at is None


def test_the_decision_is_final_closes_the_follow_up_and_tells_the_department(
    client, loop, session, time_machine
):
    item, c = _transferred(loop, session, time_machine)
    _to_arbitration(client, session, item, c)
    r = client.post(
        f"/items/{item.id}/arbitrate",
        json={
            "lead_department_id": c.other_dept_id,
            "officer_id": c.other_officer.id,
            "note": "涉及街道管辖的公共区域，由城南街道牵头",
        },
    )
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["status"] == "transferred" and got["lead_department_id"] == c.other_dept_id
    assert got["arbitration_label"] == "协商办已裁定" and got["bounce_count"] == 2
    # The chosen department is told it was decided, and that it cannot return the item.
    note = _notes(session, "transfer", c.other_officer.tag)[-1]
    assert "经协商办裁定" in note.body and "不能再退回" in note.body
    assert "涉及街道管辖的公共区域，由城南街道牵头" in note.body
    assert f"/items/{item.id}/decline" not in note.body
    rungs = session.exec(
        select(FollowUp).where(
            FollowUp.obligation == Obligation.ARBITRATION, FollowUp.subject_id == item.id
        )
    ).all()
    assert {(r.status, r.outcome) for r in rungs} == {(FollowUpStatus.CLOSED, "已裁定")}
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "item_arbitrated")).one()
    assert event.actor_id == c.admin.id and event.detail["lead_department_id"] == c.other_dept_id

    r = _decline(client, item.id, c.other_officer, reason="仍认为不属本单位")
    assert r.status_code == 409 and "裁定为最终决定" in r.json()["detail"]
    assert _count(session, ItemBounce) == 2
    again = client.post(
        f"/items/{item.id}/arbitrate",
        json={"lead_department_id": c.dept_id, "officer_id": c.officer.id, "note": "改判"},
    )
    assert again.status_code == 409
    ack = client.post(f"/items/{item.id}/acknowledge", headers=client.as_(c.other_officer))
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"


def test_an_item_not_sent_to_arbitration_is_reassigned_not_arbitrated(
    client, loop, session, time_machine
):
    item, c = _transferred(loop, session, time_machine)
    assert _decline(client, item.id, c.other_officer).status_code == 200
    r = client.post(
        f"/items/{item.id}/arbitrate",
        json={"lead_department_id": c.dept_id, "officer_id": c.officer.id, "note": "由住建牵头"},
    )
    assert r.status_code == 409 and "改派" in r.json()["detail"]


def test_an_undecided_arbitration_escalates_after_one_working_day(
    client, loop, session, time_machine
):
    item, c = _transferred(loop, session, time_machine)
    _to_arbitration(client, session, item, c)  # on Monday 13 April: due Tuesday 14th

    # Rungs fire at 09:00: the reminder on the day it is due, the escalation a working day on.
    time_machine.move_to(dt.datetime(2026, 4, 14, 8, tzinfo=SH), tick=False)
    followup.sweep(session)
    assert _notes(session, "arbitration_due") == []  # not yet

    time_machine.move_to(dt.datetime(2026, 4, 14, 10, tzinfo=SH), tick=False)
    followup.sweep(session)
    (due,) = _notes(session, "arbitration_due")
    assert due.recipient == "role-administrator" and "尚未裁定" in due.body
    assert f"/admin/items/{item.id}" in due.body and "今天到期" in due.body

    time_machine.move_to(dt.datetime(2026, 4, 15, 10, tzinfo=SH), tick=False)
    followup.sweep(session)
    escalated = {
        n.recipient
        for n in _notes(session, "escalation")
        if n.payload["ids"].get("item_id") == item.id and "裁定牵头单位" in n.body
    }
    assert escalated == {"role-administrator", "role-approver"}


def test_a_decided_arbitration_is_not_chased(client, loop, session, time_machine):
    item, c = _transferred(loop, session, time_machine)
    _to_arbitration(client, session, item, c)
    rectification.arbitrate(
        session,
        item.id,
        rectification.ArbitrateIn(
            lead_department_id=c.dept_id, officer_id=c.officer.id, note="由区住建局牵头"
        ),
        by=c.admin.id,
    )
    time_machine.move_to(dt.datetime(2026, 4, 20, 9, tzinfo=SH), tick=False)
    followup.sweep(session)
    assert _notes(session, "arbitration_due") == []
    assert not [n for n in _notes(session, "escalation") if "裁定牵头单位" in n.body]


def test_bounces_are_a_kpi_of_the_department_that_made_them(client, loop, session, time_machine):
    """Hand count over the month: 4 items transferred (2 per department). 城南街道 returns
    one, the office gives it to 区住建局, which returns it again and it goes to arbitration
    (decided for 城南街道). 区住建局 holds 2 items and returned 1: 1 / 3. 城南街道 holds 2
    (its other item and the decided one) and returned 1: 1 / 3. In all 2 returns of 6
    transfers; the topic shows the same."""
    time_machine.move_to(MONDAY, tick=False)
    loop.today = MONDAY.date()
    topic = loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
    loop.advance(loop.topic(title="背街小巷环境整治"), to=Stage.TRANSFER, start=True)
    session.commit()
    c = loop.cast
    item = loop.items(topic)[1]
    _to_arbitration(client, session, item, c)
    rectification.arbitrate(
        session,
        item.id,
        rectification.ArbitrateIn(
            lead_department_id=c.other_dept_id, officer_id=c.other_officer.id, note="街道牵头"
        ),
        by=c.admin.id,
    )
    session.commit()
    period = bulletin.parse_period(bulletin.BulletinKind.MONTHLY, "2026-04")
    rows = {r["department"]: r for r in bulletin.department_kpis(session, period)}
    for name in ("区住建局", "城南街道"):
        row = rows[name]
        assert (row["bounces"], row["transfers"], row["bounce_rate"]) == (1, 3, 0.3333), name
    overall = bulletin.overall_kpis(session, period)
    assert (overall["bounces"], overall["transfers"], overall["bounce_rate"]) == (2, 6, 0.3333)
    page = assessment.kpis(session, topic_id=topic.id, window=period.window)
    assert (page["bounces"], page["transfers"], page["bounce_rate"]) == (2, 4, 0.5)
    assert kpis.KPIS["bounce_rate"].target is None
    assert kpis.KPIS["bounce_rate"].direction is kpis.Direction.AT_MOST
    time_machine.move_to(MONDAY + dt.timedelta(hours=1), tick=False)  # "as of" is before now
    assert client.get("/kpis").json()["bounce_rate"] == 0.3333


def test_the_weekly_digest_asks_the_office_to_decide_not_to_reassign(
    client, loop, session, time_machine
):
    item, c = _transferred(loop, session, time_machine)
    _to_arbitration(client, session, item, c)
    dispatch.weekly_dispatch(session)
    (digest,) = _notes(session, "weekly_digest", "role-administrator")
    line = next(x for x in digest.body.splitlines() if f"/admin/items/{item.id}" in x)
    assert "裁定" in line and "请尽快裁定" in line
    assert "多次退回待协商办裁定事项" in digest.body
