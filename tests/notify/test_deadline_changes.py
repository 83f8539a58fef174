"""A deadline that moves, whatever moved it — an extension, a reassignment, a calendar reload —
reaches the officer and the department head with the old date, the new one and the reason."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlmodel import select

from config.links import base_url
from models import rectification
from models.enums import DeclineCode, Stage
from models.tables import Notification

SH = ZoneInfo("Asia/Shanghai")


def moved(session) -> dict[str, Notification]:
    rows = session.exec(select(Notification).where(Notification.template == "deadline_changed"))
    return {n.recipient: n for n in rows}


def test_an_extension_over_http_tells_the_officer_and_the_head(loop, session, client, time_machine):
    time_machine.move_to(dt.datetime(2026, 4, 13, 10, tzinfo=SH), tick=False)
    loop.today = dt.date(2026, 4, 13)
    topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
    item = loop.items(topic)[0]  # 区住建局, 李强; deadline 2026-05-23
    c = loop.cast
    response = client.post(
        f"/items/{item.id}/extend",
        json={"deadline": "2026-06-30", "reason": "需待汛期结束后施工"},
    )
    assert response.status_code == 200, response.text
    got = moved(session)
    assert set(got) == {c.officer.tag, c.head.tag}
    officer, head = got[c.officer.tag], got[c.head.tag]
    assert officer.title == "【期限调整】整改期限调整为 2026年06月30日 23:59"
    assert officer.body.startswith("区住建局、李强：")
    assert head.body.startswith("区住建局负责同志（赵磊）：")
    for body in (officer.body, head.body):
        assert "期限由 2026年05月23日 23:59 调整为 2026年06月30日 23:59" in body
        assert "调整原因：王敏（协商办工作人员）批准延期：需待汛期结束后施工" in body
        assert "还剩 53 个工作日" in body  # counted on the working-day calendar
        assert f"{base_url()}/work/items/{item.id}" in body  # the item's page
    assert head.payload["deadline"] == "2026-06-30T23:59:00+08:00"
    assert head.payload["ids"]["item_id"] == item.id


def test_a_reassignment_with_a_new_deadline_tells_the_new_officer_and_head(
    loop, session, time_machine
):
    time_machine.move_to(dt.datetime(2026, 4, 13, 10, tzinfo=SH), tick=False)
    loop.today = dt.date(2026, 4, 13)
    topic = loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
    c = loop.cast
    declined = loop.items(topic)[1]  # 城南街道, 周婷
    rectification.decline(
        session,
        declined.id,
        rectification.DeclineIn(code=DeclineCode.NOT_OUR_DUTY, reason="属区住建局职责"),
        by=c.other_officer.id,
    )
    rectification.reassign(
        session,
        declined.id,
        rectification.ReassignIn(
            lead_department_id=c.dept_id,
            officer_id=c.officer.id,
            deadline=dt.date(2026, 6, 15),
        ),
        by=c.admin.id,
    )
    session.flush()
    got = moved(session)
    assert set(got) == {c.officer.tag, c.head.tag}
    body = got[c.head.tag].body
    assert "期限由 2026年05月23日 23:59 调整为 2026年06月15日 23:59" in body
    assert (
        "调整原因：原牵头单位城南街道退回（非本单位职责：属区住建局职责），王敏改派至区住建局"
        in body
    )
    assert "责任人：李强" in body


def test_a_calendar_reload_tells_the_head_too(loop, session, time_machine):
    from models import schedule

    time_machine.move_to(dt.datetime(2026, 12, 30, 10, tzinfo=SH), tick=False)
    loop.today = dt.date(2026, 12, 30)
    loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)  # 签收 due 2027-01-05 (暂估)
    c = loop.cast
    schedule.load_schedule(
        session,
        2027,
        holidays=[{"date": "2027-01-01"}, {"date": "2027-01-04"}],
        workdays=[],
        by=c.admin.id,
    )
    session.flush()
    got = moved(session)
    assert {c.officer.tag, c.head.tag} <= set(got)
    body = got[c.head.tag].body
    assert body.startswith("区住建局负责同志（赵磊）：")
    assert "签收整改事项期限由 2027年01月05日 23:59（暂估）调整为 2027年01月06日 23:59" in body
    assert "调整原因：根据2027年官方放假安排重新计算工作日" in body
