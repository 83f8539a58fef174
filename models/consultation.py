"""开展协商: sessions (rounds), opinions per participant, consensus and suggestions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import ConfigDict, Field, StrictBool, ValidationInfo, field_validator
from sqlalchemy import func
from sqlmodel import Session, select

from models.base import Body, Page, utcnow
from models.case import audit, get, queue
from models.deadlines import format_local
from models.enums import Rsvp, SessionForm, SessionStatus, Stage
from models.errors import Conflict, Invalid
from models.stages import ensure_in_stage, ensure_preparing, settle, under_way
from models.tables import (
    ConsultationSession,
    Opinion,
    OpinionBase,
    OpinionRecord,
    Participant,
    Person,
    SessionBase,
    SessionRecord,
    Suggestion,
    SuggestionBase,
    SuggestionRecord,
    Topic,
)

# A round may be entered as it begins: a start up to this long ago still counts as now.
STARTED_GRACE = dt.timedelta(hours=1)

FORM_LABELS = {
    SessionForm.THEMATIC: "专题协商会",
    SessionForm.DELIBERATION: "民主恳谈会",
    SessionForm.ONLINE: "网络协商",
    SessionForm.WRITTEN: "书面协商",
    SessionForm.ON_SITE: "现场协商",
}


class SessionCreate(SessionBase, Body):
    """Request body: when, where and in which form the consultation takes place."""

    # Each rule names the field at fault (the checks run in field order, so `form` and
    # `starts_at` are known when `ends_at` and `place` are checked).
    model_config = ConfigDict(validate_default=True)

    @field_validator("starts_at")
    @classmethod
    def _starts_with_offset(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("须带时区，例如 2026-12-01T14:30:00+08:00")
        return value

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: dt.datetime | None, info: ValidationInfo) -> Any:
        if value is None:
            if info.data.get("form") == SessionForm.ONLINE:
                raise ValueError("网络协商须给出网上协商窗口的结束时间")
            return value
        if value.tzinfo is None:
            raise ValueError("须带时区，例如 2026-12-01T16:30:00+08:00")
        starts = info.data.get("starts_at")
        if starts is not None and starts.tzinfo is not None and value <= starts:
            raise ValueError("结束时间须晚于开始时间")
        return value

    @field_validator("place")
    @classmethod
    def _place_when_offline(cls, value: str | None, info: ValidationInfo) -> str | None:
        form = info.data.get("form")
        if form is not None and form not in (SessionForm.ONLINE, SessionForm.WRITTEN) and not value:
            raise ValueError("线下协商须填写地点")
        return value


class SessionPublic(SessionRecord):
    id: int


class SessionsPublic(Page[SessionPublic]):
    """A topic's consultation rounds, first round first."""


class OpinionIn(OpinionBase, Body):
    """One opinion as spoken by a participant."""


class OpinionsAdd(Body):
    """Request body: opinions as spoken, one per participant entry."""

    opinions: list[OpinionIn] = Field(min_length=1, max_length=500)


class OpinionPublic(OpinionRecord):
    id: int


class OpinionsPublic(Page[OpinionPublic]):
    """A session's opinions, in the order they were recorded."""


class SuggestionIn(SuggestionBase, Body):
    """One suggestion of the round, with the opinions it came from."""


class Conclusion(Body):
    """Request body: close a round, with or without consensus, and the suggestions it produced."""

    consensus_reached: StrictBool
    summary: str = Field(min_length=2, max_length=5000)
    suggestions: list[SuggestionIn] = Field(default_factory=list, max_length=200)
    # Required for a meeting (专题协商会、民主恳谈会、现场协商); an online window or a written
    # consultation keeps its opinions as its record.
    minutes: str | None = Field(default=None, max_length=100_000)

    @field_validator("suggestions")
    @classmethod
    def _suggestions_for_consensus(cls, value: list[SuggestionIn], info: ValidationInfo) -> Any:
        if info.data.get("consensus_reached") and not value:
            raise ValueError("形成共识时须列出至少一条意见建议")
        return value

    model_config = ConfigDict(validate_default=True)


class SuggestionPublic(SuggestionRecord):
    id: int


class SuggestionsPublic(Page[SuggestionPublic]):
    """A topic's 协商意见建议清单."""


def schedule_session(session: Session, topic_id: int, data: SessionCreate) -> ConsultationSession:
    topic = get(session, Topic, topic_id, for_update=True)
    ensure_preparing(topic, Stage.SESSION, "安排新一轮协商")
    open_round = session.exec(
        select(ConsultationSession).where(
            ConsultationSession.topic_id == topic_id,
            ConsultationSession.status == SessionStatus.SCHEDULED,
        )
    ).first()
    if open_round:
        raise Conflict(f"第 {open_round.round} 轮协商尚未结束，不能另行安排")
    last = session.exec(
        select(func.max(ConsultationSession.round)).where(ConsultationSession.topic_id == topic_id)
    ).one()
    if data.starts_at < utcnow() - STARTED_GRACE:
        raise Invalid("协商开始时间不能早于现在（已开过的会不能补排）", field="starts_at")
    meeting = ConsultationSession(topic_id=topic_id, round=(last or 0) + 1, **data.model_dump())
    session.add(meeting)
    session.flush()
    audit(session, action="session_scheduled", topic_id=topic_id, round=meeting.round)
    if under_way(topic, Stage.SESSION):
        announce(session, topic_id)  # a later round: tell people now
    return meeting


def announce(session: Session, topic_id: int) -> int:
    """Send the session notice of the open round to everyone who accepted."""
    topic = get(session, Topic, topic_id)
    meeting = session.exec(
        select(ConsultationSession).where(
            ConsultationSession.topic_id == topic_id,
            ConsultationSession.status == SessionStatus.SCHEDULED,
        )
    ).first()
    if meeting is None:
        return 0
    tags = session.exec(
        select(Person.tag)
        .join(Participant, Participant.person_id == Person.id)  # type: ignore[arg-type]
        .where(Participant.topic_id == topic_id, Participant.rsvp == Rsvp.ACCEPTED)
    ).all()
    queue(
        session,
        event_key=f"session:{meeting.id}:notice",
        recipients=tags,
        template="session_notice",
        topic_id=topic_id,
        topic=topic,
        meeting=meeting,
        form=FORM_LABELS[meeting.form],
        starts=format_local(meeting.starts_at),
        ends=format_local(meeting.ends_at) if meeting.ends_at else "",
    )
    return len(tags)


def _open_round(session: Session, session_id: int) -> tuple[ConsultationSession, Topic]:
    meeting = get(session, ConsultationSession, session_id, for_update=True)
    topic = get(session, Topic, meeting.topic_id, for_update=True)
    ensure_in_stage(topic, Stage.SESSION, "记录协商意见")
    if meeting.status != SessionStatus.SCHEDULED:
        raise Conflict(f"第 {meeting.round} 轮协商已结束")
    return meeting, topic


MEETINGS = (SessionForm.THEMATIC, SessionForm.DELIBERATION, SessionForm.ON_SITE)


def ensure_window_open(meeting: ConsultationSession, now: dt.datetime) -> None:
    """网络协商: opinions only while the online window is open."""
    if meeting.form != SessionForm.ONLINE:
        return
    if now < meeting.starts_at:
        raise Conflict(f"网络协商窗口将于 {format_local(meeting.starts_at)} 开放，届时方可提交意见")
    if meeting.ends_at is not None and now > meeting.ends_at:
        raise Conflict(f"网络协商窗口已于 {format_local(meeting.ends_at)} 关闭，不能再提交意见")


def record_opinions(session: Session, session_id: int, data: OpinionsAdd) -> list[Opinion]:
    meeting, topic = _open_round(session, session_id)
    ensure_window_open(meeting, utcnow())
    accepted = set(
        session.exec(
            select(Participant.id).where(
                Participant.topic_id == topic.id, Participant.rsvp == Rsvp.ACCEPTED
            )
        )
    )
    opinions = []
    for entry in data.opinions:
        if entry.participant_id not in accepted:
            raise Invalid(
                f"参加人 {entry.participant_id} 不是本议题已确认参加的协商主体",
                field="participant_id",
            )
        opinion = Opinion(session_id=meeting.id, **entry.model_dump())  # type: ignore[arg-type]
        session.add(opinion)
        opinions.append(opinion)
    session.flush()
    audit(session, action="opinions_recorded", topic_id=topic.id, count=len(opinions))
    return opinions


def conclude(session: Session, session_id: int, data: Conclusion) -> ConsultationSession:
    meeting, topic = _open_round(session, session_id)
    known = set(session.exec(select(Opinion.id).where(Opinion.session_id == meeting.id)))
    if data.consensus_reached and not known:
        raise Conflict("本轮协商尚未记录任何意见，不能认定形成共识")
    for s in data.suggestions:
        stray = [i for i in s.opinion_ids if i not in known]
        if stray:
            raise Invalid(f"意见 {stray[0]} 不属于本轮协商", field="opinion_ids")
    minutes = (data.minutes or "").strip()
    if meeting.form in MEETINGS and len(minutes) < 10:
        raise Invalid(
            f"{FORM_LABELS[meeting.form]}结束时须填写会议纪要（不少于 10 个字）", field="minutes"
        )
    for s in data.suggestions:
        session.add(
            Suggestion(
                topic_id=topic.id,  # type: ignore[arg-type]
                session_id=meeting.id,  # type: ignore[arg-type]
                content=s.content,
                opinion_ids=s.opinion_ids,
            )
        )
    meeting.status = SessionStatus.CONCLUDED
    meeting.consensus_reached = data.consensus_reached
    meeting.consensus_summary = data.summary
    meeting.minutes = minutes or None
    meeting.concluded_at = utcnow()
    audit(
        session,
        action="session_concluded",
        topic_id=topic.id,
        round=meeting.round,
        consensus=data.consensus_reached,
    )
    settle(session, topic)
    return meeting
