"""The outbox against real receivers on 127.0.0.1: once, retried, failed then delivered later,
and the in-doubt window (process dies between 'sent' and 'marked sent')."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from config.db import session_scope
from models import outbox
from models.case import queue
from models.enums import NotificationStatus
from models.tables import Notification
from tasks.notify import deliver_notifications

deliver = deliver_notifications.fn


def stage(key: str = "event:1", recipients: tuple[str, ...] = ("person-li",)) -> None:
    """A business action's transaction: the change and its outbox rows commit together."""
    with session_scope() as session:
        queue(
            session,
            event_key=key,
            recipients=recipients,
            template="plan_reviewed",
            topic_id=None,
            item={"title": "老旧小区加装电梯", "id": 12},
            approved=True,
            note="",
        )


def rows() -> list[Notification]:
    with session_scope() as session:
        return list(session.exec(select(Notification).order_by(Notification.id)))


def test_each_key_is_delivered_once_per_channel(
    committed_db, channels, http_receiver, smtp_receiver
):
    stage()
    stage()  # the same business event staged again (a retried action): the key holds
    assert deliver() == {"sent": 1}
    assert deliver() == {}
    stage()
    assert deliver() == {}
    assert [m.title for m in http_receiver.to("li")] == [
        "【方案审核】“老旧小区加装电梯”整改方案已通过"
    ]
    assert len(smtp_receiver.messages) == 1
    assert smtp_receiver.messages[0]["to"] == ["li@example.cn"]
    assert "整改方案已通过" in smtp_receiver.messages[0]["subject"]
    (row,) = rows()
    assert row.status == NotificationStatus.SENT and row.attempts == 1
    assert len(row.delivered_services) == 2 and row.last_error is None


def test_receiver_failing_twice_then_recovering_gets_it_exactly_once(
    committed_db, channels, http_receiver, smtp_receiver
):
    http_receiver.fail_next = 2
    stage()
    assert deliver() == {"sent": 1}
    assert http_receiver.hits == 3  # two refusals, then the one delivery
    assert len(http_receiver.to("li")) == 1 and len(smtp_receiver.messages) == 1
    assert deliver() == {}
    assert http_receiver.hits == 3


def test_receiver_down_for_a_whole_run_fails_then_a_later_run_delivers_once(
    committed_db, channels, http_receiver, smtp_receiver, time_machine
):
    start = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    http_receiver.stop()
    stage()
    assert deliver() == {"failed": 1}
    (row,) = rows()
    assert row.status == NotificationStatus.FAILED and row.attempts == 1
    assert "127.0.0.1" in row.last_error
    assert row.next_attempt_at == start + dt.timedelta(seconds=outbox.BACKOFF_SECONDS[0])
    assert len(smtp_receiver.messages) == 1  # the e-mail went out and is remembered
    assert deliver() == {}  # backing off: the next run right away leaves it alone

    http_receiver.start()
    time_machine.move_to(start + dt.timedelta(seconds=31), tick=False)
    assert deliver() == {"sent": 1}
    assert len(http_receiver.to("li")) == 1
    assert len(smtp_receiver.messages) == 1  # not sent again to the service that had it
    (row,) = rows()
    assert row.status == NotificationStatus.SENT and row.attempts == 2
    assert deliver() == {}


def test_failed_rows_are_retried_past_the_attempt_budget_until_given_up(
    committed_db, channels, http_receiver, monkeypatch, time_machine
):
    from config.settings import get_settings

    monkeypatch.setenv("XS_DELIVERY_ATTEMPTS", "2")
    monkeypatch.setenv("XS_DELIVERY_TRIES", "1")
    get_settings.cache_clear()
    now = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    time_machine.move_to(now, tick=False)
    http_receiver.stop()
    stage(recipients=("role-approver",))
    for _ in range(4):
        assert deliver() == {"failed": 1}
        now += dt.timedelta(hours=1, seconds=1)
        time_machine.move_to(now, tick=False)
    (row,) = rows()
    assert row.attempts == 4 and "已尝试 4 次仍失败" in row.last_error
    with session_scope() as session:
        outbox.give_up(session, row.id)
    assert deliver() == {}
    (row,) = rows()
    assert row.status == NotificationStatus.ABANDONED and row.attempts == 4


def test_process_dying_between_sent_and_marked_sent_is_never_resent_automatically(
    committed_db, channels, http_receiver, smtp_receiver, monkeypatch, time_machine
):
    """At most once: the receiver has the message, the row says 'sending'; later runs mark it
    'unknown' for an administrator instead of sending it again."""
    start = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
    time_machine.move_to(start, tick=False)
    stage()

    def die(*args: object, **kwargs: object) -> None:
        raise SystemExit("进程在“已发送”与“记为已发送”之间退出")

    with monkeypatch.context() as m:
        m.setattr(outbox, "record_result", die)
        with pytest.raises(SystemExit):
            deliver()
    assert len(http_receiver.to("li")) == 1 and len(smtp_receiver.messages) == 1
    (row,) = rows()
    assert row.status == NotificationStatus.SENDING

    assert deliver() == {}  # a run soon after: the claim still stands, nothing resent
    time_machine.move_to(start + outbox.IN_DOUBT_AFTER + dt.timedelta(seconds=1), tick=False)
    assert deliver() == {"unknown": 1}
    assert deliver() == {}
    assert len(http_receiver.to("li")) == 1 and len(smtp_receiver.messages) == 1
    with session_scope() as session:
        (listed,) = outbox.undelivered(session, limit=10, offset=0).data
        assert listed.status == NotificationStatus.UNKNOWN and "无法确认" in listed.last_error
        outbox.resend(session, listed.id)  # the administrator's explicit decision
    assert deliver() == {"sent": 1}
    assert len(http_receiver.to("li")) == 2


def test_a_tag_without_channel_is_recorded_not_retried(committed_db, channels):
    stage(recipients=("person-nobody",))
    assert deliver() == {"no_channel": 1}
    assert deliver() == {}
    (row,) = rows()
    assert row.status == NotificationStatus.NO_CHANNEL and "person-nobody" in row.last_error
