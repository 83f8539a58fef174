"""The extension ledger (延期台账, issue 9 point 7): a department asks for more time before its
deadline, the office approves or refuses, every request stays on the ledger, no deadline moves
without a line there, and the on-time rate is reported against the original deadline beside
the current one."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from models import followup
from models.deadlines import end_of_day
from models.enums import ExtensionDecision, FollowUpStatus, Obligation, Stage
from models.tables import AuditEvent, FollowUp, ItemExtension, Notification, RectificationItem
from tests.api.conftest import Served
from tests.factories import LoopBuilder

SH = ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 4, 13, 10, tzinfo=SH)  # a working week with no holiday
DEADLINE = dt.date(2026, 5, 23)  # MONDAY + 40 days: the items' deadline


def _in_progress(loop, session: Session, time_machine) -> tuple[RectificationItem, object]:  # type: ignore[no-untyped-def]
    """A topic in 落实整改 on a Monday; its first item (区住建局, 李强) has a plan."""
    time_machine.move_to(MONDAY, tick=False)
    loop.today = MONDAY.date()
    topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
    item = loop.items(topic)[0]
    loop.plan(item)
    session.commit()
    assert item.deadline == end_of_day(DEADLINE)
    return item, loop.cast


def _ask(client, item_id: int, person, day: dt.date, reason: str = "汛期无法施工"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/items/{item_id}/extensions",
        json={"deadline": day.isoformat(), "reason": reason},
        headers=client.as_(person),
    )


def _rungs(session: Session, obligation: Obligation, subject_id: int) -> list[FollowUp]:
    return list(
        session.exec(
            select(FollowUp)
            .where(FollowUp.obligation == obligation, FollowUp.subject_id == subject_id)
            .order_by(FollowUp.id)
        )
    )


def _lines(session: Session, item_id: int) -> int:
    return session.exec(
        select(func.count()).select_from(ItemExtension).where(ItemExtension.item_id == item_id)
    ).one()


def test_a_request_after_the_deadline_is_refused(client, loop, session, time_machine):
    item, c = _in_progress(loop, session, time_machine)
    time_machine.move_to(dt.datetime(2026, 5, 24, 9, tzinfo=SH), tick=False)
    r = _ask(client, item.id, c.officer, DEADLINE + dt.timedelta(days=30))
    assert r.status_code == 409, r.text
    assert "已过" in r.json()["detail"] and "期限届满前申请" in r.json()["detail"]
    assert _lines(session, item.id) == 0


def test_a_new_date_must_be_after_the_current_deadline(client, loop, session, time_machine):
    item, c = _in_progress(loop, session, time_machine)
    for day in (DEADLINE, DEADLINE - dt.timedelta(days=3)):
        r = _ask(client, item.id, c.officer, day)
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == ["deadline"]
        assert "须晚于当前整改期限" in r.json()["detail"]
    assert _lines(session, item.id) == 0


def test_only_one_request_may_be_pending(client, loop, session, time_machine):
    item, c = _in_progress(loop, session, time_machine)
    first = _ask(client, item.id, c.officer, DEADLINE + dt.timedelta(days=20))
    assert first.status_code == 201, first.text
    assert first.json()["decision"] == "pending" and first.json()["decision_label"] == "待审批"
    again = _ask(client, item.id, c.head, DEADLINE + dt.timedelta(days=30))
    assert again.status_code == 409 and "待审批的延期申请" in again.json()["detail"]
    # Nor may the office move the deadline past a request it has not answered.
    direct = client.post(
        f"/items/{item.id}/extend",
        json={"deadline": (DEADLINE + dt.timedelta(days=40)).isoformat(), "reason": "另行调整"},
    )
    assert direct.status_code == 409 and "先批准或不予批准" in direct.json()["detail"]
    assert _lines(session, item.id) == 1


def test_a_request_is_owed_to_the_office_and_chased(client, loop, session, time_machine):
    item, c = _in_progress(loop, session, time_machine)
    r = _ask(client, item.id, c.officer, DEADLINE + dt.timedelta(days=20))
    line_id = r.json()["id"]
    (note,) = session.exec(
        select(Notification).where(Notification.template == "extension_request")
    ).all()
    assert note.recipient == "role-administrator"
    assert "李强申请将整改事项" in note.body and "汛期无法施工" in note.body
    assert f"/admin/extensions/{line_id}" in note.body  # the page where the office decides
    rungs = _rungs(session, Obligation.EXTENSION, line_id)
    # Two working days after Monday: Wednesday, then the office's escalation a day later.
    assert rungs[0].deadline == end_of_day(dt.date(2026, 4, 15))
    time_machine.move_to(dt.datetime(2026, 4, 17, 10, tzinfo=SH), tick=False)
    followup.sweep(session)
    session.commit()
    assert {r.status for r in _rungs(session, Obligation.EXTENSION, line_id)} == {
        FollowUpStatus.SENT
    }
    reminders = session.exec(
        select(Notification).where(Notification.event_key.like("followup:%"))  # type: ignore[attr-defined]
    ).all()
    assert any("审批延期申请" in n.body for n in reminders)


def test_approval_moves_the_deadline_and_replaces_its_ladder(client, loop, session, time_machine):
    item, c = _in_progress(loop, session, time_machine)
    old = [r for r in _rungs(session, Obligation.ITEM_DEADLINE, item.id)]
    assert old and {r.status for r in old} == {FollowUpStatus.OPEN}
    new_day = DEADLINE + dt.timedelta(days=20)
    line_id = _ask(client, item.id, c.officer, new_day).json()["id"]

    officer_try = client.post(
        f"/extensions/{line_id}/approve", json={}, headers=client.as_(c.officer)
    )
    assert officer_try.status_code == 403
    r = client.post(
        f"/extensions/{line_id}/approve", json={"comment": "同意"}, headers=client.as_(c.approver)
    )
    assert r.status_code == 200, r.text
    assert r.json()["decision"] == "approved" and r.json()["decided_by_id"] == c.approver.id

    session.expire_all()
    moved = session.get(RectificationItem, item.id)
    assert moved.deadline == end_of_day(new_day)
    assert moved.original_deadline == end_of_day(DEADLINE)  # never moves
    rungs = _rungs(session, Obligation.ITEM_DEADLINE, item.id)
    closed = [r for r in rungs if r.deadline == end_of_day(DEADLINE)]
    fresh = [r for r in rungs if r.deadline == end_of_day(new_day)]
    assert {(r.status, r.outcome) for r in closed} == {(FollowUpStatus.CLOSED, "期限已调整")}
    assert len(fresh) == len(closed) and {r.status for r in fresh} == {FollowUpStatus.OPEN}
    assert {r.status for r in _rungs(session, Obligation.EXTENSION, line_id)} == {
        FollowUpStatus.CLOSED
    }
    decided = session.exec(
        select(Notification).where(
            Notification.template == "extension_decided", Notification.recipient == c.officer.tag
        )
    ).one()
    assert "已批准" in decided.body and "2026年06月12日" in decided.body
    assert session.exec(
        select(Notification).where(
            Notification.template == "deadline_changed", Notification.recipient == c.officer.tag
        )
    ).first()
    again = client.post(f"/extensions/{line_id}/refuse", json={"comment": "再议"})
    assert again.status_code == 409 and "不能重复审批" in again.json()["detail"]


def test_refusal_keeps_the_deadline_and_needs_a_reason(client, loop, session, time_machine):
    item, c = _in_progress(loop, session, time_machine)
    before = [(r.id, r.status) for r in _rungs(session, Obligation.ITEM_DEADLINE, item.id)]
    line_id = _ask(client, item.id, c.officer, DEADLINE + dt.timedelta(days=20)).json()["id"]
    r = client.post(f"/extensions/{line_id}/refuse", json={})
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == ["comment"]
    r = client.post(f"/extensions/{line_id}/refuse", json={"comment": "工期可以压缩"})
    assert r.status_code == 200, r.text
    assert r.json()["decision_label"] == "不予批准"
    session.expire_all()
    kept = session.get(RectificationItem, item.id)
    assert kept.deadline == end_of_day(DEADLINE)
    assert [(r.id, r.status) for r in _rungs(session, Obligation.ITEM_DEADLINE, item.id)] == before
    note = session.exec(
        select(Notification).where(Notification.template == "extension_decided")
    ).one()
    assert "不予批准" in note.body and "工期可以压缩" in note.body


def test_the_ledger_lists_every_request_and_the_offices_own_change(
    client, loop, session, time_machine
):
    item, c = _in_progress(loop, session, time_machine)
    refused = _ask(client, item.id, c.officer, DEADLINE + dt.timedelta(days=10)).json()
    client.post(f"/extensions/{refused['id']}/refuse", json={"comment": "理由不充分"})
    approved = _ask(client, item.id, c.head, DEADLINE + dt.timedelta(days=15), "材料涨价重新招标")
    client.post(f"/extensions/{approved.json()['id']}/approve", json={})
    r = client.post(
        f"/items/{item.id}/extend",
        json={"deadline": (DEADLINE + dt.timedelta(days=25)).isoformat(), "reason": "区里统筹"},
    )
    assert r.status_code == 200, r.text

    ledger = client.get(f"/items/{item.id}/extensions", headers=client.as_(c.officer)).json()
    assert ledger["count"] == 3
    rows = ledger["data"]
    assert [x["decision"] for x in rows] == ["refused", "approved", "approved"]
    assert [x["direct"] for x in rows] == [False, False, True]
    assert [x["requested_by_id"] for x in rows] == [c.officer.id, c.head.id, c.admin.id]
    assert rows[0]["comment"] == "理由不充分" and rows[1]["reason"] == "材料涨价重新招标"
    # Each line starts from the deadline the one before it left.
    olds = [dt.datetime.fromisoformat(x["old_deadline"]) for x in rows]
    news = [dt.datetime.fromisoformat(x["requested_deadline"]) for x in rows]
    assert olds[0] == olds[1] == end_of_day(DEADLINE) and olds[2] == news[1]
    assert all(x["decided_by_id"] == c.admin.id and x["decided_at"] for x in rows)
    page = client.get(f"/items/{item.id}/extensions", params={"limit": 1, "offset": 2}).json()
    assert page["count"] == 3 and [x["direct"] for x in page["data"]] == [True]
    # Someone of another department does not see the item's ledger.
    assert (
        client.get(f"/items/{item.id}/extensions", headers=client.as_(c.other_officer)).status_code
        == 404
    )


def test_on_time_against_the_original_and_the_current_deadline(client, loop, session, time_machine):
    """Hand-made: two items due 05-23. 区住建局's is extended to 06-30 and completed on 05-25;
    城南街道's is open on 05-25. Current deadline: 1 on time of (1 completed + 1 overdue) = 50 %;
    original deadline: the completed one is late and the open one overdue, 0 of 2 = 0 %."""
    item, c = _in_progress(loop, session, time_machine)
    line = _ask(client, item.id, c.officer, dt.date(2026, 6, 30)).json()
    assert client.post(f"/extensions/{line['id']}/approve", json={}).status_code == 200
    time_machine.move_to(dt.datetime(2026, 5, 25, 10, tzinfo=SH), tick=False)
    loop.complete(session.get(RectificationItem, item.id))
    session.commit()
    time_machine.move_to(dt.datetime(2026, 5, 25, 11, tzinfo=SH), tick=False)
    got = client.get(f"/topics/{item.topic_id}/kpis").json()
    assert (got["items_on_time"], got["items_on_time_base"]) == (1, 2)
    assert (got["items_on_time_original"], got["items_on_time_base_original"]) == (0, 2)
    assert got["on_time_rate"] == 0.5 and got["on_time_rate_original"] == 0.0
    assert got["extensions_approved"] == 1
    overall = client.get("/kpis").json()
    assert overall["on_time_rate_original"] == 0.0 and overall["extensions_approved"] == 1


def _all_at_once(n: int, call) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_two_administrators_deciding_at_once_decide_once(served: Served) -> None:
    with served.session() as s:
        loop = LoopBuilder(s)
        topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
        item = loop.items(topic)[0]
        loop.plan(item)
        s.commit()
        item_id, officer = item.id, item.officer_id
        deadline = item.deadline
    asked = httpx.post(
        f"{served.base_url}/items/{item_id}/extensions",
        json={"deadline": (deadline.date() + dt.timedelta(days=20)).isoformat(), "reason": "雨季"},
        headers=served.as_(officer),
        timeout=60,
    )
    assert asked.status_code == 201, asked.text
    line_id = asked.json()["id"]
    admins = [served.as_(), served.as_()]

    def decide(i: int) -> httpx.Response:
        verb = "approve" if i == 0 else "refuse"
        return httpx.post(
            f"{served.base_url}/extensions/{line_id}/{verb}",
            json={"comment": f"第 {i} 位管理员的意见"},
            headers=admins[i],
            timeout=60,
        )

    answers = _all_at_once(2, decide)
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 409).json()
    assert "不能重复审批" in refused["detail"]
    winner = next(r for r in answers if r.status_code == 200).json()
    with served.session() as s:
        decisions = s.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "extension_decided")
        ).one()
        assert decisions == 1
        line = s.get(ItemExtension, line_id)
        assert line.decision == ExtensionDecision(winner["decision"])
        moved = s.get(RectificationItem, item_id)
        expected = line.requested_deadline if winner["decision"] == "approved" else deadline
        assert moved.deadline == expected
