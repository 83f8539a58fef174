"""Outbox bookkeeping: claim rows to send, record results, surface what did not arrive.

Delivery guarantee: at most once per key (event, recipient, channel) and Apprise service.

- A sender claims one row at a time ('sending', attempts + 1) and commits, then sends, then records
  what each Apprise service answered in a second transaction.
- Process dies before the claim commits: nothing was sent; the row is still pending and the
  next run sends it.
- Process dies between 'sent' (a service accepted the message) and 'marked sent' (the second
  commit): the row stays 'sending'. After IN_DOUBT_AFTER a later run marks it 'unknown' and does
  NOT resend it, because the receiver may already have it. It shows in the undelivered list;
  an administrator resends it (accepting a possible duplicate) or gives up on it.
- A failed row (some service refused) is retried by later runs with growing backoff, skipping
  the services that already accepted it, until it is delivered or an administrator gives up.

So a receiver never gets a key twice from the platform on its own; a loss is possible only in
the in-doubt window, and it is visible to an administrator rather than silent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select, update
from sqlmodel import Session
from sqlmodel import select as select_rows

from models.base import Page, utcnow
from models.case import Listing, get, listing
from models.enums import NotificationStatus
from models.errors import Conflict
from models.tables import Notification, NotificationRecord

IN_DOUBT_AFTER = dt.timedelta(minutes=10)
BACKOFF_SECONDS = (30, 120, 600, 1800, 3600)


class NotificationPublic(NotificationRecord):
    id: int


class NotificationsPublic(Page[NotificationPublic]):
    """Undelivered messages, oldest first."""


def mark_in_doubt(session: Session, *, now: dt.datetime | None = None) -> int:
    """Rows left 'sending' by a dead process: never resent blindly."""
    now = now or utcnow()
    return session.execute(  # type: ignore[attr-defined]
        update(Notification)
        .where(
            Notification.status == NotificationStatus.SENDING,  # type: ignore[arg-type]
            Notification.claimed_at < now - IN_DOUBT_AFTER,  # type: ignore[arg-type, operator]
        )
        .values(
            status=NotificationStatus.UNKNOWN,
            last_error="发送过程中断，无法确认是否送达；为避免重复未自动重发，请管理员决定重发或放弃",
        )
        .execution_options(synchronize_session=False)
    ).rowcount


def claim(
    session: Session,
    *,
    limit: int = 200,
    topic_id: int | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Take up to `limit` sendable rows (delivery takes one at a time: what a crash can leave in
    doubt is what was claimed); the conditional update keeps two senders apart.

    Failed rows come back after their backoff however many times they failed: only delivery
    or an administrator's give-up ends the retries."""
    now = now or utcnow()
    ready = select(Notification.id).where(  # type: ignore[call-overload]
        Notification.status.in_([NotificationStatus.PENDING, NotificationStatus.FAILED]),  # type: ignore[attr-defined]
        or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now),  # type: ignore[arg-type, operator, union-attr]
    )
    if topic_id is not None:
        ready = ready.where(Notification.topic_id == topic_id)
    ids = list(session.execute(ready.order_by(Notification.id).limit(limit)).scalars())
    if not ids:
        return []
    claimed = session.execute(
        update(Notification)  # type: ignore[call-overload]
        .where(
            Notification.id.in_(ids),  # type: ignore[union-attr]
            Notification.status.in_([NotificationStatus.PENDING, NotificationStatus.FAILED]),  # type: ignore[attr-defined]
        )
        .values(
            status=NotificationStatus.SENDING,
            claimed_at=now,
            attempts=Notification.attempts + 1,
        )
        .returning(
            Notification.id,
            Notification.recipient,
            Notification.title,
            Notification.body,
            Notification.payload,
            Notification.attempts,
            Notification.delivered_services,
        )
        .execution_options(synchronize_session=False)
    ).all()
    return [row._asdict() for row in claimed]


def record_result(
    session: Session,
    *,
    notification_id: int,
    delivered: list[str],
    failed: dict[str, str],
    no_channel: bool,
    max_attempts: int,
    now: dt.datetime | None = None,
) -> NotificationStatus:
    """Store what Apprise said, service by service."""
    now = now or utcnow()
    row = get(session, Notification, notification_id)
    row.delivered_services = sorted(set(row.delivered_services) | set(delivered))
    if no_channel:
        row.status = NotificationStatus.NO_CHANNEL
        row.last_error = f"通知标签“{row.recipient}”未配置任何通知渠道"
    elif failed:
        row.status = NotificationStatus.FAILED
        row.last_error = "；".join(f"{svc}: {err}" for svc, err in failed.items())[:1000]
        if row.attempts >= max_attempts:
            row.last_error = (
                f"已尝试 {row.attempts} 次仍失败（将每小时重试，直至送达或管理员放弃）："
                f"{row.last_error}"
            )[:1000]
        delay = BACKOFF_SECONDS[min(row.attempts, len(BACKOFF_SECONDS)) - 1]
        row.next_attempt_at = now + dt.timedelta(seconds=delay)
    else:
        row.status = NotificationStatus.SENT
        row.sent_at = now
        row.last_error = None
        row.next_attempt_at = None
    return row.status


UNDELIVERED = [
    NotificationStatus.PENDING,
    NotificationStatus.FAILED,
    NotificationStatus.NO_CHANNEL,
    NotificationStatus.UNKNOWN,
    NotificationStatus.SENDING,
]


def undelivered(session: Session, *, limit: int, offset: int) -> Listing[Notification]:
    stmt = select_rows(Notification).where(Notification.status.in_(UNDELIVERED))  # type: ignore[attr-defined]
    return listing(session, stmt, order_by=Notification.id, limit=limit, offset=offset)


def give_up(session: Session, notification_id: int) -> Notification:
    row = get(session, Notification, notification_id, for_update=True)
    if row.status in (NotificationStatus.SENT, NotificationStatus.ABANDONED):
        raise Conflict("该通知已送达或已放弃")
    if row.status == NotificationStatus.SENDING:
        raise Conflict("该通知正在发送，请稍后再试")
    row.status = NotificationStatus.ABANDONED
    return row


def resend(session: Session, notification_id: int) -> Notification:
    """An administrator's explicit decision to try again (also for 'unknown' rows)."""
    row = get(session, Notification, notification_id, for_update=True)
    if row.status not in (
        NotificationStatus.FAILED,
        NotificationStatus.UNKNOWN,
        NotificationStatus.NO_CHANNEL,
        NotificationStatus.ABANDONED,
    ):
        raise Conflict("只有发送失败、结果未知、无渠道或已放弃的通知可以重发")
    row.status = NotificationStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = None
    return row
