"""评估质效: ratings, the KPIs as SQL aggregates, closing and disclosing the result list."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import exists, func, update
from sqlmodel import Session, col, select

from config.settings import get_settings
from models import action_links
from models import evaluation as evaluations
from models import kpis as kpi_module
from models.access import Can, require
from models.base import Body, Page, utcnow
from models.case import (
    addressed,
    audit,
    close_follow_ups,
    get,
    queue,
    schedule_follow_ups,
)
from models.deadlines import format_local, working_days_after
from models.enums import (
    FollowUpStatus,
    ItemStatus,
    Obligation,
    ParticipantRole,
    RaterKind,
    Role,
    Rsvp,
    Stage,
    TopicStatus,
)
from models.errors import Conflict, Invalid
from models.kpis import Window
from models.stages import ensure_in_stage, settle
from models.tables import (
    Assessment,
    AssessmentBase,
    AssessmentRecord,
    FollowUp,
    Participant,
    Person,
    Rating,
    RatingBase,
    RatingRecord,
    RectificationItem,
    Topic,
)

SATISFIED_FROM = 4  # scores 4 and 5 of 5 count as satisfied


class RatingIn(RatingBase, Body):
    """Request body: one satisfaction rating (1–5) of the outcome."""


class RatingPublic(RatingRecord):
    id: int


class RatingsPublic(Page[RatingPublic]):
    """A topic's ratings, oldest first."""


class AssessmentClose(AssessmentBase, Body):
    """Request body: the office closes the assessment with its summary."""


class AssessmentPublic(AssessmentRecord):
    id: int


def kpis(
    session: Session,
    *,
    topic_id: int | None = None,
    as_of: dt.datetime | None = None,
    window: Window | None = None,
) -> dict[str, Any]:
    """The KPIs of DOMAIN.md as of a moment (default now), or over a window; the formulas
    live in models.kpis so the topic page and the bulletin agree."""
    return kpi_module.compute(session, window or Window.as_of(as_of or utcnow()), topic_id=topic_id)


def request_ratings(session: Session, topic_id: int, *, now: dt.datetime | None = None) -> int:
    """Ask residents and stakeholders who took part to rate what changed."""
    now = now or utcnow()
    topic = get(session, Topic, topic_id)
    people = session.exec(
        select(Person)
        .join(Participant, Participant.person_id == Person.id)  # type: ignore[arg-type]
        .where(
            Participant.topic_id == topic_id,
            Participant.rsvp == Rsvp.ACCEPTED,
            ~exists().where(Rating.topic_id == topic_id, Rating.person_id == Person.id),  # type: ignore[arg-type]
            ~exists().where(
                FollowUp.obligation == Obligation.RATING,  # type: ignore[arg-type]
                FollowUp.subject_id == topic_id,  # type: ignore[arg-type]
                FollowUp.owed_by_id == Person.id,  # type: ignore[arg-type]
            ),
            Participant.role.in_(  # type: ignore[attr-defined]
                [ParticipantRole.RESIDENT, ParticipantRole.MEMBER, ParticipantRole.SUPERVISOR]
            ),
        )
    ).all()
    due = working_days_after(session, now, get_settings().rating_working_days)
    items = session.exec(
        select(RectificationItem).where(RectificationItem.topic_id == topic_id)
    ).all()
    for person in people:
        queue(
            session,
            event_key=f"topic:{topic_id}:rating_request",
            recipients=[person.tag],
            salutations=addressed(session, person),
            one_time_links=action_links.for_recipients(
                session, "topic.rate", topic_id, [person.tag]
            ),
            template="rating_request",
            topic_id=topic_id,
            topic=topic,
            person=person,
            items=items,
            deadline=format_local(due.at),
            provisional=due.provisional,
        )
        schedule_follow_ups(
            session,
            obligation=Obligation.RATING,
            subject_id=topic_id,
            topic_id=topic_id,
            owed_by_id=person.id,
            deadline=due,
            now=now,
        )
    return len(people)


def rate(session: Session, topic_id: int, data: RatingIn, *, by: int | None) -> Rating:
    """One rating per person (and item): the rater is the acting person, so nobody rates in
    another's name and nobody rates twice."""
    topic = get(session, Topic, topic_id, for_update=True)
    ensure_in_stage(topic, Stage.ASSESSMENT, "评价整改成效")
    rater = get(session, Person, by)
    dup = session.exec(
        select(Rating.id).where(
            Rating.topic_id == topic_id,
            Rating.person_id == by,
            Rating.item_id == data.item_id
            if data.item_id is not None
            else Rating.item_id.is_(None),  # type: ignore[union-attr]
        )
    ).first()
    if dup:
        raise Conflict("您已对该议题（事项）作出评价")
    if data.item_id is not None:
        item = get(session, RectificationItem, data.item_id)
        if item.topic_id != topic_id:
            raise Invalid("该事项不属于本议题", field="item_id")
    rating = Rating(
        topic_id=topic_id,
        satisfied=data.score >= SATISFIED_FROM,
        person_id=by,
        rater_kind=_rater_kind(session, rater, topic_id),
        **data.model_dump(),
    )
    session.add(rating)
    session.flush()
    # A rating meets this person's obligation: close their reminder rows.
    session.execute(
        update(FollowUp)
        .where(
            FollowUp.obligation == Obligation.RATING,  # type: ignore[arg-type]
            FollowUp.subject_id == topic_id,  # type: ignore[arg-type]
            FollowUp.owed_by_id == by,  # type: ignore[arg-type]
            FollowUp.status == FollowUpStatus.OPEN,  # type: ignore[arg-type]
        )
        .values(status=FollowUpStatus.CLOSED, outcome="已评价", processed_at=utcnow())
    )
    audit(
        session,
        action="rated",
        topic_id=topic_id,
        score=data.score,
        kind=rating.rater_kind.value,
        actor=rater,
    )
    return rating


def _rater_kind(session: Session, rater: Person, topic_id: int) -> RaterKind:
    """Members rate as members, experts and supervisors as third parties, residents who took
    part as stakeholders and other residents as residents."""
    if rater.role is Role.MEMBER:
        return RaterKind.MEMBER
    if rater.role in (Role.EXPERT, Role.SUPERVISOR):
        return RaterKind.THIRD_PARTY
    took_part = session.exec(
        select(Participant.id).where(
            Participant.topic_id == topic_id, Participant.person_id == rater.id
        )
    ).first()
    return RaterKind.STAKEHOLDER if took_part else RaterKind.RESIDENT


def close(session: Session, topic_id: int, data: AssessmentClose, *, by: int | None) -> Assessment:
    topic = get(session, Topic, topic_id, for_update=True)
    ensure_in_stage(topic, Stage.ASSESSMENT, "办结评估")
    admin = get(session, Person, by)
    require(admin, Can.RUN_LOOP, action="办结评估、公开结果")
    n = session.exec(select(func.count()).where(Rating.topic_id == topic_id)).one()
    if not n:
        raise Conflict("尚无任何满意度评价，不能办结评估")
    reworking = session.exec(
        select(func.count()).where(
            RectificationItem.topic_id == topic_id,
            col(RectificationItem.reopened_from_id).is_not(None),
            RectificationItem.status != ItemStatus.COMPLETED,
        )
    ).one()
    if reworking:
        raise Conflict(
            f"尚有 {reworking} 项经回头看发现反弹、已重新交办的整改事项未办结，不能办结评估"
        )
    evaluations.refuse_close_while_outstanding(session, topic_id)
    now = utcnow()
    result = Assessment(
        topic_id=topic_id,
        summary=data.summary,
        kpis=kpis(session, topic_id=topic_id, as_of=now),
        closed_by_id=admin.id,  # type: ignore[arg-type]
        closed_at=now,
        public=data.public,
    )
    session.add(result)
    session.flush()
    close_follow_ups(
        session, obligation=Obligation.RATING, subject_ids=[topic_id], outcome="评估已办结"
    )
    audit(session, action="assessment_closed", topic_id=topic_id, actor=admin)
    settle(session, topic)
    topic.status = TopicStatus.CLOSED
    topic.closed_at = now
    return result
