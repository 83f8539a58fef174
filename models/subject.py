"""明确主体: participants, invitations and replies (RSVP)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, StrictBool
from sqlmodel import Session, select

from config.settings import get_settings
from models import action_links
from models.base import Body, Page, utcnow
from models.case import addressed, audit, close_follow_ups, get, queue, schedule_follow_ups
from models.deadlines import format_local, working_days_after
from models.enums import Obligation, Rsvp, Stage
from models.errors import Conflict, Invalid
from models.stages import ensure_open, ensure_preparing, is_done, settle, under_way
from models.tables import Participant, ParticipantBase, ParticipantRecord, Person, Topic


class ParticipantIn(ParticipantBase, Body):
    """One invitee and the role they take part in."""


class ParticipantsAdd(Body):
    """Request body: people invited to the consultation, each in a role."""

    participants: list[ParticipantIn] = Field(min_length=1, max_length=200)


class ParticipantPublic(ParticipantRecord):
    id: int
    rsvp_due_provisional: bool = Field(
        default=False,
        description="回复期限或其提醒时点按法定节假日规则暂估（官方放假安排尚未导入）",
    )


class ParticipantsPublic(Page[ParticipantPublic]):
    """A topic's participants, in the order they were invited."""


class RsvpIn(Body):
    """Request body: the invitee's reply."""

    accept: StrictBool
    note: str | None = Field(default=None, max_length=500)


def add_participants(session: Session, topic_id: int, data: ParticipantsAdd) -> list[Participant]:
    topic = get(session, Topic, topic_id, for_update=True)
    ensure_preparing(topic, Stage.SUBJECT, "添加协商主体")
    seen = set(session.exec(select(Participant.person_id).where(Participant.topic_id == topic_id)))
    added = []
    for entry in data.participants:
        person = get(session, Person, entry.person_id)
        if entry.person_id in seen:
            raise Conflict(f"{person.name} 已在协商主体名单中")
        seen.add(entry.person_id)
        participant = Participant(topic_id=topic_id, person_id=entry.person_id, role=entry.role)
        session.add(participant)
        added.append(participant)
    session.flush()
    audit(
        session,
        action="participants_added",
        topic_id=topic_id,
        person_ids=[p.person_id for p in added],
    )
    if under_way(topic, Stage.SUBJECT):
        invite(session, topic_id)  # joined late: invite at once
    return added


class ReplaceIn(Body):
    """Request body: who takes the place of a participant who declined."""

    person_id: int = Field(ge=1)


def replace(session: Session, participant_id: int, data: ReplaceIn) -> Participant:
    """替补: someone of the same side takes a decliner's place and is invited at once if the
    invitations are out; the decliner stays on record."""
    declined = get(session, Participant, participant_id, for_update=True)
    topic = get(session, Topic, declined.topic_id, for_update=True)
    ensure_preparing(topic, Stage.SUBJECT, "替补协商主体")
    if declined.rsvp != Rsvp.DECLINED:
        raise Conflict("只有谢绝邀请的协商主体才能替补")
    if session.exec(
        select(Participant.id).where(Participant.replaces_id == participant_id)
    ).first():
        raise Conflict("该协商主体已有替补人员")
    person = get(session, Person, data.person_id)
    taken = session.exec(
        select(Participant.id).where(
            Participant.topic_id == topic.id, Participant.person_id == data.person_id
        )
    ).first()
    if taken:
        raise Conflict(f"{person.name} 已在协商主体名单中")
    replacement = Participant(
        topic_id=topic.id,  # type: ignore[arg-type]
        person_id=data.person_id,
        role=declined.role,
        replaces_id=participant_id,
    )
    session.add(replacement)
    session.flush()
    audit(
        session,
        action="participant_replaced",
        topic_id=topic.id,
        replaced=participant_id,
        person_id=data.person_id,
    )
    if under_way(topic, Stage.SUBJECT):
        invite(session, topic.id)  # type: ignore[arg-type]
    return replacement


def invite(session: Session, topic_id: int, *, now: dt.datetime | None = None) -> int:
    """Invite every participant not yet invited; each owes a reply by the RSVP deadline."""
    now = now or utcnow()
    topic = get(session, Topic, topic_id)
    pending = session.exec(
        select(Participant, Person)
        .join(Person, Person.id == Participant.person_id)  # type: ignore[arg-type]
        .where(Participant.topic_id == topic_id, Participant.invited_at.is_(None))  # type: ignore[union-attr]
    ).all()
    if not pending:
        return 0
    due = working_days_after(session, now, get_settings().rsvp_working_days)
    for participant, person in pending:
        participant.invited_at = now
        participant.rsvp_due_at = due.at
        schedule_follow_ups(
            session,
            obligation=Obligation.RSVP,
            subject_id=participant.id,  # type: ignore[arg-type]
            topic_id=topic_id,
            owed_by_id=person.id,
            deadline=due,
            now=now,
        )
        queue(
            session,
            event_key=f"participant:{participant.id}:invitation",
            recipients=[person.tag],
            salutations=addressed(session, person),
            one_time_links=action_links.for_recipients(
                session, "participant.rsvp", participant.id, [person.tag]
            ),
            template="invitation",
            topic_id=topic_id,
            topic=topic,
            person=person,
            participant_id=participant.id,
            deadline=format_local(due.at),
            provisional=due.provisional,
        )
    audit(session, action="invitations_sent", topic_id=topic_id, count=len(pending))
    return len(pending)


def reply(session: Session, participant_id: int, data: RsvpIn) -> Participant:
    participant = get(session, Participant, participant_id, for_update=True)
    topic = get(session, Topic, participant.topic_id, for_update=True)
    ensure_open(topic, "回复邀请")
    if participant.invited_at is None:
        raise Conflict("尚未发出邀请，不能回复")
    if participant.rsvp != Rsvp.PENDING:
        answer = "接受" if participant.rsvp == Rsvp.ACCEPTED else "谢绝"
        raise Conflict(f"已于此前{answer}邀请，不能重复回复")
    if is_done(topic, Stage.SUBJECT):
        raise Invalid("“明确主体”环节已完成")
    participant.rsvp = Rsvp.ACCEPTED if data.accept else Rsvp.DECLINED
    participant.rsvp_note = data.note
    participant.rsvp_at = utcnow()
    close_follow_ups(
        session, obligation=Obligation.RSVP, subject_ids=[participant_id], outcome="已回复"
    )
    audit(
        session,
        action="rsvp",
        topic_id=topic.id,
        participant_id=participant_id,
        accept=data.accept,
    )
    settle(session, topic)
    return participant
