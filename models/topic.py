"""Topics (议题): proposal, screening, merging, approval."""

from __future__ import annotations

import datetime as dt
from difflib import SequenceMatcher
from typing import Any

from pydantic import Field, computed_field
from sqlmodel import Session, select

from config.settings import get_settings
from models.base import Body, Page, utcnow
from models.case import (
    Listing,
    addressed,
    audit,
    close_follow_ups,
    get,
    listing,
    queue,
    request_approval,
    require_role,
    role_tag,
    touch,
)
from models.enums import (
    SOURCE_LABELS,
    Obligation,
    Role,
    Stage,
    TopicSource,
    TopicStatus,
)
from models.errors import Conflict, Invalid
from models.stages import ensure_in_stage, settle
from models.tables import Person, Topic, TopicBase, TopicRecord

DUPLICATE_SIMILARITY = 0.85


class TopicCreate(TopicBase, Body):
    """Request body: a proposed topic (议题建议) from any source channel."""


class TopicPublic(TopicRecord):
    id: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def quadrant(self) -> int:
        return priority_quadrant(self.urgent, self.important)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def stage_label(self) -> str:
        return self.stage.label


class TopicsPublic(Page[TopicPublic]):
    """A page of topics, newest first."""


class Decision(Body):
    """Request body: a person's decision with an optional comment or reason."""

    comment: str | None = Field(default=None, max_length=1000)


class Rejection(Body):
    reason: str = Field(min_length=2, max_length=1000)


def priority_quadrant(urgent: bool, important: bool) -> int:
    """Four quadrants: 1 urgent+important, 2 important, 3 urgent, 4 neither."""
    if important:
        return 1 if urgent else 2
    return 3 if urgent else 4


def screening_reason(topic: Topic) -> str | None:
    """The field's four 'no consultation' rules; None when the topic may proceed."""
    if topic.in_litigation:
        return "涉法涉诉事项不纳入协商（涉法涉诉不协商）"
    if topic.in_petition:
        return "已纳入信访程序的事项不纳入协商（纳入信访不协商）"
    if not topic.of_general_concern:
        return "事项不具普遍性和代表性（不具代表性不协商）"
    if topic.policy_explicit:
        return "党委政府已有明确规定的事项无需协商"
    return None


def create_topic(session: Session, data: TopicCreate, *, by: int | None = None) -> Topic:
    """A proposal, by a signed-in person (`by`) or by the public (None)."""
    if by is not None:
        get(session, Person, by)
    topic = Topic(**data.model_dump(), proposer_id=by)
    if data.source is TopicSource.EMERGENCY:
        topic.emergency = True
        topic.urgent = True
    session.add(topic)
    session.flush()
    audit(session, action="topic_proposed", topic_id=topic.id, title=topic.title)
    return topic


def find_near_duplicate(session: Session, topic: Topic) -> Topic | None:
    """An open topic whose title says the same thing, to merge into instead of consulting twice."""
    candidates = session.exec(
        select(Topic).where(
            Topic.id != topic.id,
            Topic.status.in_([TopicStatus.AWAITING_APPROVAL, TopicStatus.IN_PROGRESS]),  # type: ignore[attr-defined]
        )
    ).all()
    best, best_ratio = None, 0.0
    for other in candidates:
        ratio = SequenceMatcher(None, topic.title, other.title).ratio()
        if ratio > best_ratio:
            best, best_ratio = other, ratio
    return best if best_ratio >= DUPLICATE_SIMILARITY else None


def screen(session: Session, topic_id: int, *, now: dt.datetime | None = None) -> Topic:
    """Automatic work of the topic stage: screen, merge duplicates, send for approval."""
    now = now or utcnow()
    topic = get(session, Topic, topic_id, for_update=True)
    if topic.status != TopicStatus.DRAFT:
        return topic  # already screened by an earlier attempt
    reason = screening_reason(topic)
    duplicate = None if reason else find_near_duplicate(session, topic)
    if reason:
        topic.status = TopicStatus.SCREENED_OUT
        topic.status_reason = reason
        topic.closed_at = now
    elif duplicate:
        topic.status = TopicStatus.MERGED
        topic.merged_into_id = duplicate.id
        topic.status_reason = f"与议题“{duplicate.title}”（{duplicate.id}）重复，已合并"
        topic.closed_at = now
    else:
        topic.status = TopicStatus.AWAITING_APPROVAL
        request_approval(
            session,
            obligation=Obligation.TOPIC_APPROVAL,
            subject_id=topic.id,  # type: ignore[arg-type]
            topic_id=topic.id,  # type: ignore[arg-type]
            working_days=1 if topic.emergency else get_settings().approval_working_days,
            event_key=f"topic:{topic.id}:approval_request",
            template="approval_request",
            now=now,
            topic=topic,
            source=SOURCE_LABELS[topic.source],
            quadrant=priority_quadrant(topic.urgent, topic.important),
        )
    touch(topic)
    audit(session, action="topic_screened", topic_id=topic.id, status=topic.status.value)
    if topic.proposer_id is not None and topic.status != TopicStatus.AWAITING_APPROVAL:
        proposer = get(session, Person, topic.proposer_id)
        queue(
            session,
            event_key=f"topic:{topic.id}:screened",
            recipients=[proposer.tag],
            salutations=addressed(session, proposer),
            template="topic_screened",
            topic_id=topic.id,
            topic=topic,
        )
    return topic


def _ensure_undecided(topic: Topic) -> None:
    """A decision taken meanwhile (two approvers at once) is named, not a stage mismatch."""
    if topic.status in DECIDED:
        raise Conflict(f"议题已{DECIDED[topic.status]}，不能重复审定（可能他人刚刚审定）")


DECIDED = {TopicStatus.IN_PROGRESS: "审定通过", TopicStatus.REJECTED: "审定不通过"}


def approve(session: Session, topic_id: int, decision: Decision, *, by: int | None) -> Topic:
    topic = get(session, Topic, topic_id, for_update=True)
    _ensure_undecided(topic)
    approver = get(session, Person, by)
    require_role(approver, Role.APPROVER, action="审定议题")
    ensure_in_stage(topic, Stage.TOPIC, "审定议题")
    if topic.status != TopicStatus.AWAITING_APPROVAL:
        raise Conflict("议题不在待审定状态")
    topic.status = TopicStatus.IN_PROGRESS
    topic.approved_by_id = approver.id
    topic.approved_at = utcnow()
    touch(topic)
    close_follow_ups(
        session, obligation=Obligation.TOPIC_APPROVAL, subject_ids=[topic_id], outcome="已审定"
    )
    audit(
        session,
        action="topic_approved",
        topic_id=topic_id,
        actor=approver,
        comment=decision.comment,
    )
    queue(
        session,
        event_key=f"topic:{topic_id}:approved",
        recipients=[role_tag(Role.ADMINISTRATOR)],
        template="topic_decided",
        topic_id=topic_id,
        topic=topic,
        approved=True,
        approver=approver.name,
        comment=decision.comment or "",
    )
    settle(session, topic)
    return topic


def reject(session: Session, topic_id: int, rejection: Rejection, *, by: int | None) -> Topic:
    topic = get(session, Topic, topic_id, for_update=True)
    _ensure_undecided(topic)
    approver = get(session, Person, by)
    require_role(approver, Role.APPROVER, action="审定议题")
    ensure_in_stage(topic, Stage.TOPIC, "审定议题")
    if topic.status != TopicStatus.AWAITING_APPROVAL:
        raise Conflict("议题不在待审定状态")
    topic.status = TopicStatus.REJECTED
    topic.status_reason = rejection.reason
    topic.closed_at = utcnow()
    touch(topic)
    close_follow_ups(
        session, obligation=Obligation.TOPIC_APPROVAL, subject_ids=[topic_id], outcome="未获审定"
    )
    audit(
        session, action="topic_rejected", topic_id=topic_id, actor=approver, reason=rejection.reason
    )
    recipients = [role_tag(Role.ADMINISTRATOR)]
    salutations: dict[str, str] = {}
    if topic.proposer_id:
        proposer = get(session, Person, topic.proposer_id)
        recipients.append(proposer.tag)
        salutations = addressed(session, proposer)
    queue(
        session,
        event_key=f"topic:{topic_id}:rejected",
        recipients=recipients,
        salutations=salutations,
        template="topic_decided",
        topic_id=topic_id,
        topic=topic,
        approved=False,
        approver=approver.name,
        comment=rejection.reason,
    )
    return topic


def list_topics(
    session: Session, *, status: TopicStatus | None, limit: int, offset: int, where: Any = None
) -> Listing[Topic]:
    """Newest first; `where` narrows to what the reader may see (models.access)."""
    stmt = select(Topic)
    if where is not None:
        stmt = stmt.where(where)
    if status is not None:
        stmt = stmt.where(Topic.status == status)
    return listing(session, stmt, order_by=Topic.id.desc(), limit=limit, offset=offset)  # type: ignore[union-attr]


__all__ = ["Invalid"]
