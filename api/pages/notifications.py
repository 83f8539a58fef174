"""The office's page of undelivered notifications (未送达通知): what did not reach its
recipient and why, with the two decisions only a person can take — send it again (accepting a
possible duplicate where the result is unknown) or give up on it.

Each decision calls the operation the JSON API calls (models.outbox.resend / give_up) in one
unit of work; a resent message goes out at once through the serving process's delivery (the
commit asks for it), otherwise at the next sweep."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from api import auth
from api.deps import PathId, ReadSessionDep, SessionDep, commit
from api.pages.render import PageRoute, flash, page, require
from api.pages.routes import PageNumber, Reader
from models import outbox
from models.access import Can
from models.deadlines import format_local
from models.enums import NOTIFICATION_STATUS_LABELS, NotificationStatus
from models.errors import Conflict

NOTIFICATIONS = "/admin/notifications"
PER_PAGE = 50
router = APIRouter(route_class=PageRoute, include_in_schema=False)

# What the office may do with a row in each state (models.outbox decides; this only hides the
# buttons that would be refused).
RESENDABLE = {
    NotificationStatus.FAILED,
    NotificationStatus.UNKNOWN,
    NotificationStatus.NO_CHANNEL,
}
ABANDONABLE = RESENDABLE | {NotificationStatus.PENDING}


@router.get(NOTIFICATIONS)
def notifications_page(
    request: Request,
    session: ReadSessionDep,
    person: Reader,
    page_no: PageNumber = 1,
) -> Response:
    """Undelivered messages, oldest first, one page at a time."""
    require(person, Can.HANDLE_NOTIFICATIONS)
    found = outbox.undelivered(session, limit=PER_PAGE, offset=(page_no - 1) * PER_PAGE)
    rows = [
        {
            "id": row.id,
            "title": row.title,
            "recipient": row.recipient,
            "status": row.status,
            "status_label": NOTIFICATION_STATUS_LABELS[NotificationStatus(row.status)],
            "attempts": row.attempts,
            "error": row.last_error,
            "created": format_local(row.created_at),
            "next_attempt": format_local(row.next_attempt_at) if row.next_attempt_at else None,
            "topic_id": row.topic_id,
            "may_resend": row.status in RESENDABLE,
            "may_give_up": row.status in ABANDONABLE,
        }
        for row in found.data
    ]
    session.commit()
    pages = max(1, -(-found.count // PER_PAGE))
    return page(
        request,
        "notifications.html",
        person=person,
        title="未送达通知",
        rows=rows,
        count=found.count,
        page_no=page_no,
        pages=pages,
    )


def _decide(session: SessionDep, person: Reader, notification_id: int, *, resend: bool) -> Response:
    require(person, Can.HANDLE_NOTIFICATIONS)
    auth._limit_actions(person)
    try:
        row = (outbox.resend if resend else outbox.give_up)(session, notification_id)
        commit(session, row)
    except Conflict as exc:
        session.rollback()
        response = RedirectResponse(NOTIFICATIONS + f"#n-{notification_id}", status_code=303)
        flash(response, f"通知 {notification_id} 未处理：{exc.message}")
        return response
    response = RedirectResponse(NOTIFICATIONS, status_code=303)
    done = "已重新排队发送" if resend else "已放弃发送，不再重试"
    flash(response, f"通知“{row.title}”{done}。")
    return response


@router.post(NOTIFICATIONS + "/{notification_id}/resend")
def resend(session: SessionDep, person: Reader, notification_id: PathId) -> Response:
    """Send it again: attempts start over; an unknown result may reach the recipient twice."""
    return _decide(session, person, notification_id, resend=True)


@router.post(NOTIFICATIONS + "/{notification_id}/give-up")
def give_up(session: SessionDep, person: Reader, notification_id: PathId) -> Response:
    """Stop retrying: the row stays on record as abandoned."""
    return _decide(session, person, notification_id, resend=False)
