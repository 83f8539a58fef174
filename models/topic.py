"""Topics (议题): proposal, screening, merging, approval."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, computed_field
from sqlmodel import Session, select

from config.settings import get_settings
from models import screening
from models.access import Can, require
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
    role_tag,
    schedule_follow_ups,
    touch,
)
from models.deadlines import working_days_after
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
    screening.index_topic(session, topic)
    audit(session, action="topic_proposed", topic_id=topic.id, title=topic.title)
    return topic


def screen(session: Session, topic_id: int, *, now: dt.datetime | None = None) -> Topic:
    """Automatic work of the topic stage: the system's screening suggestions are recorded; a
    proposal nothing hints against and nothing resembles goes for approval, any other waits
    for the office's decision (models.screening.decide)."""
    now = now or utcnow()
    topic = get(session, Topic, topic_id, for_update=True)
    if topic.status != TopicStatus.DRAFT:
        return topic  # already screened by an earlier attempt
    row = screening.suggest(session, topic)
    days = 1 if topic.emergency else get_settings().approval_working_days
    if topic.emergency:
        # 应急快速通道: no wait for the office; approval within a working day, and a deadline
        # to enter the regular loop, chased like any obligation.
        screening.admit_emergency(row, now)
        _send_for_approval(session, topic, now=now)
        schedule_follow_ups(
            session,
            obligation=Obligation.EMERGENCY_CONVERSION,
            subject_id=topic.id,  # type: ignore[arg-type]
            topic_id=topic.id,  # type: ignore[arg-type]
            owed_by_id=None,
            deadline=working_days_after(
                session, now, get_settings().emergency_conversion_working_days
            ),
            now=now,
        )
    elif row.hints or row.candidates:
        screening.ask_the_office(session, topic, row, working_days=days, now=now)
    else:
        screening.admit_without_hints(row, now)
        _send_for_approval(session, topic, now=now)
    touch(topic)
    audit(
        session,
        action="topic_screened",
        topic_id=topic.id,
        status=topic.status.value,
        hints=[h["rule"] for h in row.hints],
        candidates=[c["topic_id"] for c in row.candidates],
    )
    return topic


def decide_screening(
    session: Session, topic_id: int, data: screening.ScreeningIn, *, by: int | None
) -> Topic:
    """The office confirms or overrides the screening suggestions (models.screening)."""
    topic = screening.decide(
        session,
        topic_id,
        data,
        by=by,
        admit=lambda t: _send_for_approval(session, t, now=utcnow()),
    )
    settle(session, topic)
    return topic


def _send_for_approval(session: Session, topic: Topic, *, now: dt.datetime) -> None:
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


def _ensure_undecided(topic: Topic) -> None:
    """A decision taken meanwhile (two approvers at once) is named, not a stage mismatch."""
    if topic.status in DECIDED:
        raise Conflict(f"议题已{DECIDED[topic.status]}，不能重复审定（可能他人刚刚审定）")


DECIDED = {TopicStatus.IN_PROGRESS: "审定通过", TopicStatus.REJECTED: "审定不通过"}


def approve(session: Session, topic_id: int, decision: Decision, *, by: int | None) -> Topic:
    topic = get(session, Topic, topic_id, for_update=True)
    _ensure_undecided(topic)
    approver = get(session, Person, by)
    require(approver, Can.DECIDE, action="审定议题")
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
    require(approver, Can.DECIDE, action="审定议题")
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
