"""Issue 6: the follow-up ladder is the only record of escalation state. One item driven ten
working days past its deadline shows the same level (正常 / 即将到期 / 预警 / 督办) in the API,
in the weekly digest and in the bulletin's overdue list, at every step of the way."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import select

from models import bulletin, dispatch, followup
from models.enums import Stage
from models.tables import Notification, Person

SH = ZoneInfo("Asia/Shanghai")


def local(y: int, m: int, d: int, hh: int = 10) -> dt.datetime:
    return dt.datetime(y, m, d, hh, tzinfo=SH).astimezone(dt.UTC)


def levels_everywhere(session, client, officer_tag: str, item_id: int, now: dt.datetime):
    """The level as the API, the officer's weekly digest and the month's bulletin show it."""
    summary = dispatch.weekly_dispatch(session, now=now)
    session.commit()  # a savepoint here: the API's session rolls back what was not committed
    api = client.get(f"/items/{item_id}")
    assert api.status_code == 200, api.text
    (digest,) = session.exec(
        select(Notification).where(
            Notification.event_key == f"weekly:{summary['week']}",
            Notification.recipient == officer_tag,
        )
    ).all()
    data = bulletin.compute(session, bulletin.month_of(now.astimezone(SH).date()), now=now)
    (listed,) = [r for r in data["overdue"]["items"] if r["item_id"] == item_id]
    return api.json(), digest.body, listed


def test_one_item_ten_working_days_late_is_督办_in_the_api_the_digest_and_the_bulletin(
    loop, session, client, time_machine
):
    time_machine.move_to(local(2026, 3, 2), tick=False)
    loop.today = dt.date(2026, 3, 2)
    topic = loop.advance(loop.topic(title="老旧小区加装电梯"), to=Stage.IMPLEMENTATION, start=True)
    item, other = loop.items(topic)
    loop.plan(item)
    loop.plan(other)
    session.commit()
    officer = session.get(Person, item.officer_id).tag
    assert item.deadline.astimezone(SH).date() == dt.date(2026, 4, 11)  # a Saturday

    # Every morning from Wed 04-08 to Fri 04-24 (10 working days after Sat 04-11) the sweep
    # chases what came due; on three of those days we look at every surface.
    seen = {}
    day = dt.date(2026, 4, 8)
    while day <= dt.date(2026, 4, 24):
        now = local(day.year, day.month, day.day)
        time_machine.move_to(now, tick=False)
        followup.sweep(session, now=now)
        session.commit()
        if day in (dt.date(2026, 4, 13), dt.date(2026, 4, 24)):
            seen[day] = levels_everywhere(session, client, officer, item.id, now)
        day += dt.timedelta(days=1)

    # Mon 04-13, the first working day after the deadline: the overdue rung (预警) went out.
    api, digest, listed = seen[dt.date(2026, 4, 13)]
    assert (api["level"], api["level_label"]) == (2, "预警")
    assert "整改期限 2026年04月11日 23:59，已超期 1 个工作日，预警" in digest
    assert "已超期事项（预警）" in digest
    assert (listed["level"], listed["level_label"]) == (2, "预警")

    # Fri 04-24, ten working days late: escalated to the head (04-14) and the office (04-15).
    api, digest, listed = seen[dt.date(2026, 4, 24)]
    assert (api["level"], api["level_label"]) == (3, "督办")
    assert "整改期限 2026年04月11日 23:59，已超期 10 个工作日，督办" in digest
    assert "已提请督办事项（督办）" in digest and "已超期事项（预警）" not in digest
    assert (listed["level"], listed["level_label"]) == (3, "督办")
    topic_items = client.get(f"/topics/{topic.id}/items").json()["data"]
    assert {i["id"]: i["level_label"] for i in topic_items} == {item.id: "督办", other.id: "督办"}
