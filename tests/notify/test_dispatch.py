"""The weekly dispatch (周调度) as a models/ operation: what each person owes, grouped into one
digest per recipient, each item at the level its follow-up ladder reached, in a fixed number of
queries."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import event
from sqlmodel import select

from config.links import base_url
from models import dispatch, rectification
from models.enums import DeclineCode, Stage
from models.tables import Notification, RectificationItem

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, hh: int = 9) -> dt.datetime:
    return dt.datetime(y, m, d, hh, tzinfo=SH).astimezone(dt.UTC)


def digests(session, week: str) -> dict[str, Notification]:
    rows = session.exec(select(Notification).where(Notification.event_key == f"weekly:{week}"))
    return {n.recipient: n for n in rows}


def build_case(loop, session, time_machine) -> dict[str, RectificationItem]:
    """Three topics whose items owe different things on Monday 2026-04-20."""
    c = loop.cast
    # A: deadline Sat Apr 11; the officer never submits a plan, the other officer does.
    time_machine.move_to(local(2026, 3, 2, 10), tick=False)
    loop.today = dt.date(2026, 3, 2)
    a = loop.advance(loop.topic(title="老旧小区加装电梯"), to=Stage.IMPLEMENTATION, start=True)
    a1, a2 = loop.items(a)
    loop.plan(a2)
    # C: deadline Wed Apr 22 (due soon on Apr 20); both plans in.
    time_machine.move_to(local(2026, 3, 13, 10), tick=False)
    loop.today = dt.date(2026, 3, 13)
    t = loop.advance(loop.topic(title="背街小巷照明改造"), to=Stage.IMPLEMENTATION, start=True)
    c1, c2 = loop.items(t)
    for item in (c1, c2):
        loop.plan(item)
    # B: transferred Mon Apr 13, acknowledgement due Thu Apr 16: never acknowledged; the
    # other department declines its item and waits for the office to reassign it.
    time_machine.move_to(local(2026, 4, 13, 10), tick=False)
    loop.today = dt.date(2026, 4, 13)
    b = loop.advance(loop.topic(title="农贸市场周边停车"), to=Stage.TRANSFER, start=True)
    b1, b2 = loop.items(b)
    rectification.decline(
        session,
        b2.id,
        rectification.DeclineIn(code=DeclineCode.NOT_OUR_DUTY, reason="属区住建局职责"),
        by=c.other_officer.id,
    )
    session.flush()
    return {"a1": a1, "a2": a2, "c1": c1, "c2": c2, "b1": b1, "b2": b2}


def test_weekly_digest_groups_everything_each_person_owes(loop, session, time_machine):
    items = build_case(loop, session, time_machine)
    c = loop.cast
    time_machine.move_to(local(2026, 4, 20), tick=False)  # Monday 09:00

    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        summary = dispatch.weekly_dispatch(session)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # (SET LOCAL jit = off on PostgreSQL is a setting of the sweep's transaction, not a query)
    work = [
        s
        for s in statements
        if not s.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "SET LOCAL"))
    ]
    # the sweep: settle, due rungs, heads, messages, mark sent; then count, items, heads,
    # digests (+ the calendar token)
    assert len(work) <= 10, work

    assert summary["week"] == "2026-W17"
    assert summary["open_items"] == 5 and summary["attention"] == 6
    assert (summary["unacknowledged"], summary["ack_overdue"]) == (1, 1)
    assert (summary["plan_missing"], summary["plan_overdue"]) == (1, 1)
    # a1, a2 (due Sat 04-11): their ladder escalated to the office on Wed 04-15 -> 督办
    assert (summary["due_soon"], summary["warned"], summary["escalated"]) == (2, 0, 2)
    assert summary["declined"] == 1 and summary["digests"] == 5

    got = digests(session, "2026-W17")
    assert set(got) == {
        c.officer.tag,
        c.other_officer.tag,
        c.head.tag,
        "role-administrator",
        "role-approver",
    }
    officer = got[c.officer.tag]
    assert officer.title == "【周调度】2026年第17周·李强待办 3 项（含督办 1 项）"
    assert officer.body.startswith("区住建局、李强：")
    # overdue first (from the ladders: 签收 and 方案 overdue rungs went out), then due soon
    headings = ["【已超期】2 项", "已提请督办事项（督办）", "逾期未签收事项", "逾期未提交整改方案"]
    headings += ["【即将到期及待办】1 项", "即将到期事项"]
    positions = [officer.body.index(h) for h in headings]
    assert positions == sorted(positions)
    assert "共 3 项（已超期 2 项，即将到期及待办 1 项）" in officer.body
    assert "已超期事项（预警）" not in officer.body
    assert f"签收或退回 {base_url()}/work/items/{items['b1'].id}" in officer.body
    assert f"提交方案 {base_url()}/work/items/{items['a1'].id}" in officer.body
    # working days: Apr 13–17 and Monday Apr 20 (calendar: 9 days)
    assert (
        "整改期限 2026年04月11日 23:59，已超期 6 个工作日，督办；尚未提交整改方案" in officer.body
    )
    assert "签收期限 2026年04月16日 23:59，已超期 2 个工作日，已提请督办" in officer.body
    assert "整改期限 2026年04月22日 23:59，还剩 2 个工作日" in officer.body

    head = got[c.head.tag]
    assert head.body.startswith("区住建局负责同志（赵磊）：")
    assert "本单位逾期未签收事项（1 项）" in head.body
    assert "本单位逾期未提交整改方案事项（1 项）" in head.body
    assert "本单位超期未办结事项（预警/督办）（1 项）" in head.body
    assert "即将到期" not in head.body  # not yet the head's business

    office = got["role-administrator"]
    assert "已退回待改派事项（1 项）" in office.body and "非本单位职责" in office.body
    assert f"/admin/items/{items['b2'].id}" in office.body  # where the office reassigns it
    assert "逾期未签收事项（1 项）" in office.body
    # both 督办 items reach the office directly, 城南街道's (no head) among them
    assert "督办事项（超期且经预警仍未办结）（2 项）" in office.body and "城南街道" in office.body
    assert "未设单位负责人的超期事项" not in office.body and "本单位超期" not in office.body

    session.expire_all()  # the level is read from the ladder, never marked on the item
    levels = {k: session.get(RectificationItem, i.id).level for k, i in items.items()}
    assert levels == {"a1": 3, "a2": 3, "c1": 1, "c2": 1, "b1": 0, "b2": 0}


def test_the_digest_shows_the_rung_the_ladder_reached_and_reruns_add_nothing(
    loop, session, time_machine
):
    items = build_case(loop, session, time_machine)
    c = loop.cast
    # Thu 04-23 15:00: c1, c2 (due Wed 04-22) had their overdue rung (预警) this morning; the
    # head hears of them on Fri 04-24, the office on Mon 04-27.
    time_machine.move_to(local(2026, 4, 23, 15), tick=False)
    summary = dispatch.weekly_dispatch(session)
    assert (summary["due_soon"], summary["warned"], summary["escalated"]) == (0, 2, 2)
    w17 = digests(session, "2026-W17")
    assert "已超期事项（预警）（1 项）" in w17[c.officer.tag].body
    assert "整改期限 2026年04月22日 23:59，已超期 1 个工作日，预警" in w17[c.officer.tag].body
    session.expire_all()
    assert session.get(RectificationItem, items["c1"].id).level == dispatch.WARNED

    time_machine.move_to(local(2026, 4, 27), tick=False)
    summary = dispatch.weekly_dispatch(session)
    assert (summary["warned"], summary["escalated"]) == (0, 4)
    got = digests(session, "2026-W18")
    approver = got["role-approver"]
    assert approver.title == "【周调度】2026年第18周·审定人待办 4 项（含督办 4 项）"
    assert "督办事项（超期且经预警仍未办结）（4 项）" in approver.body
    assert "已提请督办事项（督办）（2 项）" in got[c.officer.tag].body
    session.expire_all()
    assert session.get(RectificationItem, items["c1"].id).level == dispatch.ESCALATED

    time_machine.move_to(local(2026, 4, 27, 15), tick=False)
    again = dispatch.weekly_dispatch(session)
    assert again["chased"] == 0 and again["escalated"] == 4
    session.expire_all()
    assert len(digests(session, "2026-W18")) == len(got)  # one digest per person per week


def _canteen_items(loop, session, time_machine):  # type: ignore[no-untyped-def]
    """The base case, then on 04-14 a new topic whose two items have just been transferred."""
    build_case(loop, session, time_machine)
    time_machine.move_to(local(2026, 4, 14, 10), tick=False)
    loop.today = dt.date(2026, 4, 14)
    d = loop.advance(loop.topic(title="社区食堂建设"), to=Stage.IMPLEMENTATION, start=True)
    return loop.items(d)


def test_items_in_progress_are_listed_newest_news_first(loop, session, time_machine):
    """Two items going to plan: the one with the latest progress leads its section, although
    it was created second."""
    c = loop.cast
    d1, d2 = _canteen_items(loop, session, time_machine)
    d2.officer_id, d2.lead_department_id = d1.officer_id, d1.lead_department_id  # one officer
    session.add(d2)
    session.flush()
    loop.plan(d1)
    loop.plan(d2)
    for item, day, note in ((d1, 16, "选址完成"), (d2, 17, "招标启动")):
        time_machine.move_to(local(2026, 4, day, 10), tick=False)
        rectification.report_progress(
            session, item.id, rectification.ProgressIn(note=note, percent=30), by=c.officer.id
        )
    time_machine.move_to(local(2026, 4, 20), tick=False)
    dispatch.weekly_dispatch(session)
    body = digests(session, "2026-W17")[c.officer.tag].body
    section = body[body.index("正在推进的事项") :]
    assert "正在推进的事项（2 项）" in body
    assert section.index("最新进展 2026年04月17日") < section.index("最新进展 2026年04月16日")
    assert section.index(f"{base_url()}/work/items/{d2.id}") < section.index(
        f"{base_url()}/work/items/{d1.id}"
    )


def test_the_digest_lists_items_in_progress_too_newest_news_first(loop, session, time_machine):
    """Everything the officer owes: also the items going to plan, far from their deadline."""
    c = loop.cast
    d1, d2 = _canteen_items(loop, session, time_machine)
    loop.plan(d1)
    loop.plan(d2)
    time_machine.move_to(local(2026, 4, 16, 10), tick=False)
    rectification.report_progress(
        session, d1.id, rectification.ProgressIn(note="选址完成", percent=30), by=c.officer.id
    )
    time_machine.move_to(local(2026, 4, 20), tick=False)
    summary = dispatch.weekly_dispatch(session)
    assert summary["in_progress"] == 2
    body = digests(session, "2026-W17")[c.officer.tag].body
    assert "共 4 项（已超期 2 项，即将到期及待办 1 项，正常推进 1 项）" in body
    assert body.index("【即将到期及待办】") < body.index("【正常推进】1 项")
    assert "正在推进的事项（1 项）" in body
    # 34 calendar days; the Labour Day holiday (May 1–5) and the weekends do not count
    assert "整改期限 2026年05月24日 23:59，还剩 22 个工作日；整改方案已提交、尚待审核" in body
    assert "最新进展 2026年04月16日，完成 30%" in body
    assert f"报送进展 {base_url()}/work/items/{d1.id}" in body
