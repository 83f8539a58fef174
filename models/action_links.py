"""One-time action links (一次性办理链接): an officer acknowledges an item from a DingTalk
message, an invitee replies, a resident rates, without an account.

A link names one action on one record for one person; it expires, works once and can be
revoked. Its token is signed (an altered link fails the signature) and names the row and a
nonce the row must still hold; using it marks the row in the same transaction as the action, so
a replay, a second tab or a link forwarded after use is refused."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

import jwt
from pydantic import BaseModel
from sqlalchemy import update
from sqlmodel import Session, col, select

from config.settings import get_settings
from models.base import utcnow
from models.case import audit, get
from models.deadlines import format_local
from models.errors import Conflict, DomainError, NotFound
from models.tables import ActionLink, Participant, Person, RectificationItem, Topic

ALGORITHM = "HS256"


@dataclass(frozen=True)
class LinkAction:
    """What a link may do, as the person reads it."""

    label: str


# The actions a link may carry (names from config.links); the record is the one its id names.
ACTIONS: dict[str, LinkAction] = {
    "item.acknowledge": LinkAction("签收整改事项"),
    "participant.rsvp": LinkAction("回复协商邀请"),
    "topic.rate": LinkAction("评价整改成效"),
}


class Gone(DomainError):
    """An expired or revoked link: it existed, and will not work again."""

    status_code = 410


class LinkView(BaseModel):
    """What a link does, shown before it is used (a preview must not act)."""

    action: str
    label: str
    subject_id: int
    subject: str
    person: str
    expires_at: dt.datetime
    expires: str


def _key() -> bytes:
    return get_settings().derived_key("action-link")


def token_for(link: ActionLink) -> str:
    claims = {
        "lid": link.id,
        "n": link.nonce,
        "act": link.action,
        "exp": int(link.expires_at.timestamp()),
    }
    return jwt.encode(claims, _key(), algorithm=ALGORITHM)


def issue(
    session: Session,
    person_id: int,
    action: str,
    subject_id: int,
    *,
    now: dt.datetime | None = None,
) -> tuple[ActionLink, str]:
    """The person's link for this action on this record: the one still open if there is one
    (a message sent again carries the same link), else a new one."""
    if action not in ACTIONS:
        raise ValueError(action)
    now = now or utcnow()
    open_link = session.exec(
        select(ActionLink).where(
            ActionLink.person_id == person_id,
            ActionLink.action == action,
            ActionLink.subject_id == subject_id,
            col(ActionLink.used_at).is_(None),
            col(ActionLink.revoked_at).is_(None),
            ActionLink.expires_at > now,
        )
    ).first()
    if open_link is None:
        open_link = ActionLink(
            person_id=person_id,
            action=action,
            subject_id=subject_id,
            nonce=secrets.token_hex(16),
            created_at=now,
            expires_at=now + dt.timedelta(days=get_settings().action_link_days),
        )
        session.add(open_link)
        session.flush()
    return open_link, token_for(open_link)


def _verified(session: Session, token: str, *, now: dt.datetime) -> ActionLink:
    """The link a token names, or the refusal a person understands."""
    try:
        claims = jwt.decode(token, _key(), algorithms=[ALGORITHM], options={"verify_exp": False})
    except jwt.PyJWTError as exc:
        raise NotFound("链接无效：可能不完整或被改动过，请使用通知里的原始链接") from exc
    link = (
        session.get(ActionLink, claims.get("lid")) if isinstance(claims.get("lid"), int) else None
    )
    if link is None or link.nonce != claims.get("n") or link.action != claims.get("act"):
        raise NotFound("链接无效：可能不完整或被改动过，请使用通知里的原始链接")
    if link.revoked_at is not None:
        raise Gone("该链接已被撤销，请联系协商办或登录协商平台办理")
    if link.used_at is not None:
        raise Conflict(f"该链接已于 {format_local(link.used_at)} 使用过，每个链接只能使用一次")
    if link.expires_at <= now:
        raise Gone(f"该链接已于 {format_local(link.expires_at)} 过期，请登录协商平台办理")
    return link


def view(session: Session, token: str, *, now: dt.datetime | None = None) -> LinkView:
    link = _verified(session, token, now=now or utcnow())
    person = get(session, Person, link.person_id)
    return LinkView(
        action=link.action,
        label=ACTIONS[link.action].label,
        subject_id=link.subject_id,
        subject=_subject(session, link),
        person=person.name,
        expires_at=link.expires_at,
        expires=format_local(link.expires_at),
    )


def _subject(session: Session, link: ActionLink) -> str:
    if link.action == "item.acknowledge":
        return get(session, RectificationItem, link.subject_id).title
    if link.action == "participant.rsvp":
        participant = get(session, Participant, link.subject_id)
        return get(session, Topic, participant.topic_id).title
    return get(session, Topic, link.subject_id).title


def redeem(session: Session, token: str, *, now: dt.datetime | None = None) -> ActionLink:
    """Use the link: marked used in the caller's transaction, so if the action is refused the
    rollback leaves it usable, and of two uses at the same moment one waits and is refused."""
    now = now or utcnow()
    link = _verified(session, token, now=now)
    taken = session.execute(
        update(ActionLink)
        .where(
            col(ActionLink.id) == link.id,
            col(ActionLink.used_at).is_(None),
            col(ActionLink.revoked_at).is_(None),
        )
        .values(used_at=now)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict("该链接刚刚已被使用，每个链接只能使用一次")
    session.refresh(link)
    person = get(session, Person, link.person_id)
    audit(
        session,
        action="action_link_used",
        topic_id=None,
        actor=person,
        link_id=link.id,
        link_action=link.action,
        subject_id=link.subject_id,
    )
    return link


def revoke(session: Session, link_id: int) -> ActionLink:
    link = session.get(ActionLink, link_id)
    if link is None:
        raise NotFound(f"链接 {link_id} 不存在")
    if link.revoked_at is None and link.used_at is None:
        link.revoked_at = utcnow()
        audit(session, action="action_link_revoked", topic_id=None, link_id=link_id)
    return link


def for_recipients(
    session: Session, action: str, subject_id: int | None, recipients: list[str]
) -> dict[str, str]:
    """Recipient tag → the address of his one-time link, for a message that asks for this
    action (only a recipient who is one person gets a link; a role or department does not)."""
    from config.links import one_time_url

    if subject_id is None:
        return {}
    people = session.exec(
        select(Person.tag, Person.id).where(col(Person.tag).in_(recipients))
    ).all()
    found = {}
    for tag, person_id in people:
        _, token = issue(session, person_id, action, subject_id)  # type: ignore[arg-type]
        found[tag] = one_time_url(token)
    return found
