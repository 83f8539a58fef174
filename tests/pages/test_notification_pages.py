"""The office's page of undelivered notifications, over HTTP (no browser): what did not
arrive and why, resend and give up as plain form posts, refusals as pages."""

from __future__ import annotations

import re

from sqlmodel import Session

from models.enums import NotificationStatus
from models.tables import Notification
from tests.conftest import ANONYMOUS
from tests.pages.conftest import sign_in_client


def _message(session: Session, title: str, status: NotificationStatus, error: str | None) -> int:
    row = Notification(
        event_key=f"test:{title}",
        recipient="dept-3",
        template="item_transferred",
        title=title,
        body=f"{title}（正文）",
        status=status,
        attempts=0 if status == NotificationStatus.PENDING else 3,
        last_error=error,
    )
    session.add(row)
    session.commit()
    assert row.id is not None
    return row.id


def _cards(html: str) -> dict[int, str]:
    """Each notification's card on the page, by id."""
    found = re.findall(r'<li class="work notification" id="n-(\d+)">(.*?)</li>', html, re.S)
    return {int(i): body for i, body in found}


def test_the_office_sees_what_did_not_arrive_and_resends_or_gives_up(client, loop, session):  # type: ignore[no-untyped-def]
    failed = _message(
        session, "签收提醒：道路修复", NotificationStatus.FAILED, "dingtalk: 401 签名错误"
    )
    unknown = _message(
        session, "审定结果：楼道照明", NotificationStatus.UNKNOWN, "发送过程中断，无法确认是否送达"
    )
    pending = _message(session, "整改期限临近", NotificationStatus.PENDING, None)
    sent = _message(session, "已送达的消息", NotificationStatus.SENT, None)
    csrf = sign_in_client(client, session, loop.cast.admin, "office-admin")

    shown = client.get("/admin/notifications", headers=ANONYMOUS)
    assert shown.status_code == 200
    cards = _cards(shown.text)
    assert set(cards) == {failed, unknown, pending}  # delivered messages are not listed
    assert "发送失败（将自动重试）" in cards[failed] and "dingtalk: 401 签名错误" in cards[failed]
    assert "发送中断，结果未知" in cards[unknown]
    # A pending message may be given up but not resent (it is about to go out anyway).
    assert "/resend" not in cards[pending] and "/give-up" in cards[pending]
    assert "/resend" in cards[unknown] and "/give-up" in cards[unknown]
    assert 'href="/admin/notifications"' in shown.text  # in the office's navigation
    # Each button's form carries the session's CSRF token, as a browser would post it.
    assert f'name="csrf_token" value="{csrf}"' in cards[failed]

    again = client.post(
        f"/admin/notifications/{unknown}/resend",
        data={"csrf_token": csrf},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert again.status_code == 303
    row = session.get(Notification, unknown)
    session.refresh(row)
    assert row.status == NotificationStatus.PENDING and row.attempts == 0
    landed = client.get(again.headers["location"], headers=ANONYMOUS)
    assert "通知“审定结果：楼道照明”已重新排队发送。" in landed.text

    dropped = client.post(
        f"/admin/notifications/{failed}/give-up",
        data={"csrf_token": csrf},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert dropped.status_code == 303
    session.refresh(session.get(Notification, failed))
    assert session.get(Notification, failed).status == NotificationStatus.ABANDONED
    after = client.get("/admin/notifications", headers=ANONYMOUS)
    assert failed not in _cards(after.text) and "已放弃发送，不再重试" in after.text

    # A decision on a message that was delivered meanwhile changes nothing and says why.
    late = client.post(
        f"/admin/notifications/{sent}/give-up",
        data={"csrf_token": csrf},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert late.status_code == 303
    assert session.get(Notification, sent).status == NotificationStatus.SENT
    told = client.get(late.headers["location"], headers=ANONYMOUS)
    assert f"通知 {sent} 未处理：该通知已送达或已放弃" in told.text


def test_only_the_office_handles_notifications(client, loop, session):  # type: ignore[no-untyped-def]
    row = _message(session, "签收提醒：排水改造", NotificationStatus.FAILED, "smtp: 连接被拒绝")
    csrf = sign_in_client(client, session, loop.cast.officer, "officer-li")
    refused = client.get("/admin/notifications", headers=ANONYMOUS)
    assert refused.status_code == 403 and "协商办工作人员" in refused.text
    post = client.post(
        f"/admin/notifications/{row}/resend", data={"csrf_token": csrf}, headers=ANONYMOUS
    )
    assert post.status_code == 403
    assert session.get(Notification, row).status == NotificationStatus.FAILED
    assert 'href="/admin/notifications"' not in client.get("/work", headers=ANONYMOUS).text


def test_an_empty_outbox_says_so(client, loop, session):  # type: ignore[no-untyped-def]
    sign_in_client(client, session, loop.cast.admin, "office-admin")
    shown = client.get("/admin/notifications", headers=ANONYMOUS)
    assert "所有通知均已送达或已处理。" in shown.text
