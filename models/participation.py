"""What a member, expert or resident sees of the topics he takes part in (我参与的议题): the
invitation he answers, the research tasks he owes, the session rounds that take his opinion and
the rating he gives. Reads only, in a fixed number of queries per page; the actions are those of
models.subject, models.prestudy, models.consultation and models.assessment."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session, col, func, select

from models.access import POLICY, Can, own_or_office, see_topic
from models.base import PAGE_SIZE, page_count, utcnow
from models.case import get
from models.consultation import FORM_LABELS, ensure_window_open
from models.deadlines import format_local
from models.enums import RSVP_LABELS, Role, Rsvp, SessionStatus, Stage, StageState, TopicStatus
from models.errors import DomainError, NotFound
from models.tables import (
    ConsultationSession,
    Opinion,
    Participant,
    Person,
    Rating,
    ResearchSummary,
    ResearchTask,
    Topic,
)


@dataclass(frozen=True)
class MyTopic:
    """One topic the person takes part in, as the list shows it."""

    topic_id: int
    title: str
    stage_label: str
    closed: bool
    participant_id: int
    rsvp: Rsvp
    rsvp_label: str
    invited: bool


@dataclass(frozen=True)
class MyTopics:
    topics: list[MyTopic]
    count: int
    page: int
    pages: int


def my_topics(session: Session, person: Person, *, page: int = 1) -> MyTopics:
    """The topics the person is a participant (协商主体) of, the newest first."""
    page = max(page, 1)
    mine = select(Participant, Topic).join(Topic, col(Topic.id) == Participant.topic_id)
    mine = mine.where(Participant.person_id == person.id)
    count = session.exec(
        select(func.count()).select_from(Participant).where(Participant.person_id == person.id)
    ).one()
    rows = session.exec(
        mine.order_by(col(Topic.id).desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)
    ).all()
    topics = [
        MyTopic(
            topic_id=topic.id or 0,
            title=topic.title,
            stage_label=Stage(topic.stage).label,
            closed=topic.status == TopicStatus.CLOSED,
            participant_id=p.id or 0,
            rsvp=Rsvp(p.rsvp),
            rsvp_label=RSVP_LABELS[Rsvp(p.rsvp)],
            invited=p.invited_at is not None,
        )
        for p, topic in rows
    ]
    return MyTopics(topics, count, page, page_count(count))


@dataclass(frozen=True)
class Round:
    """A session round of the topic; `open` while it takes opinions."""

    session_id: int
    round: int
    form_label: str
    starts: str
    ends: str | None
    place: str | None
    open: bool
    my_opinions: list[str]
    window: str | None  # why an online window takes no opinion now (not yet open, closed)


@dataclass(frozen=True)
class Task:
    task_id: int
    title: str
    due: str
    findings: str | None
    submitted: str | None
    open: bool  # findings may be submitted now


@dataclass(frozen=True)
class Summary:
    """The research summary (调研报告) as one who researched for the topic sees it: the domain
    lets him write it once every required finding is in (models.prestudy.submit_summary)."""

    content: str | None
    state_label: str
    review_note: str | None  # what the office asked for when it returned the summary
    open: bool  # he may write (or revise) it now
    waiting_for: str | None  # why he may not yet


@dataclass(frozen=True)
class TopicView:
    """One topic as a participant sees it, with what he may do on it now."""

    topic_id: int
    title: str
    description: str | None
    stage_label: str
    participant_id: int | None
    rsvp: Rsvp | None
    rsvp_label: str | None
    rounds: list[Round]
    tasks: list[Task]
    summary: Summary | None  # shown to the owners of the topic's research tasks
    may_rate: bool
    rating: Rating | None
    on_behalf_of: str | None  # the invitee or task owner the office acts for, if not oneself
    may_act: bool  # the viewer may answer and submit for this participant (he or the office)


def _participant(session: Session, person_id: int, topic: Topic) -> Participant | None:
    return session.exec(
        select(Participant).where(
            Participant.topic_id == topic.id, Participant.person_id == person_id
        )
    ).first()


def topic_view(
    session: Session, viewer: Person, topic_id: int, *, whom: int | None = None
) -> TopicView:
    """The topic for its participant `whom` (default: the viewer himself; for another person,
    the office may reply and submit on his behalf, as the API lets it, and others who may see
    the topic only read). A topic the viewer may not see (he neither takes part, proposed, researches for it
    nor works on its items, and is not of the office, an approver or a supervisor) is 404,
    as the API answers it."""
    now = utcnow()
    topic = get(session, Topic, topic_id)
    see_topic(session, viewer, topic_id)
    person = viewer if whom in (None, viewer.id) else get(session, Person, whom)
    participant = _participant(session, person.id or 0, topic)
    stage = Stage(topic.stage)
    in_session = stage == Stage.SESSION and topic.status == TopicStatus.IN_PROGRESS
    accepted = participant is not None and participant.rsvp == Rsvp.ACCEPTED
    meetings = session.exec(
        select(ConsultationSession)
        .where(ConsultationSession.topic_id == topic_id)
        .order_by(col(ConsultationSession.round))
    ).all()
    said: dict[int, list[str]] = {}
    if participant is not None:
        for session_id, content in session.exec(
            select(Opinion.session_id, Opinion.content).where(
                Opinion.participant_id == participant.id
            )
        ):
            said.setdefault(session_id, []).append(content)
    rounds = [
        Round(
            session_id=m.id or 0,
            round=m.round,
            form_label=FORM_LABELS[m.form],
            starts=format_local(m.starts_at),
            ends=format_local(m.ends_at) if m.ends_at else None,
            place=m.place,
            open=in_session
            and accepted
            and m.status == SessionStatus.SCHEDULED
            and _window(m, now) is None,
            my_opinions=said.get(m.id or 0, []),
            window=_window(m, now) if m.status == SessionStatus.SCHEDULED else None,
        )
        for m in meetings
    ]
    prestudy_open = (
        stage == Stage.PRESTUDY
        and topic.stage_state != StageState.NOT_STARTED
        and topic.status == TopicStatus.IN_PROGRESS
    )
    tasks = [
        Task(
            task_id=t.id or 0,
            title=t.title,
            due=format_local(t.due_at),
            findings=t.findings,
            submitted=format_local(t.submitted_at) if t.submitted_at else None,
            open=prestudy_open and t.submitted_at is None,
        )
        for t in session.exec(
            select(ResearchTask)
            .where(ResearchTask.topic_id == topic_id, ResearchTask.owner_id == person.id)
            .order_by(col(ResearchTask.id))
        )
    ]
    rating = session.exec(
        select(Rating).where(
            Rating.topic_id == topic_id,
            Rating.person_id == person.id,
            col(Rating.item_id).is_(None),
        )
    ).first()
    summary = _summary(session, topic_id, prestudy_open, mine=person is viewer) if tasks else None
    return TopicView(
        topic_id=topic_id,
        title=topic.title,
        description=topic.description,
        stage_label=stage.label,
        participant_id=participant.id if participant else None,
        rsvp=Rsvp(participant.rsvp) if participant else None,
        rsvp_label=RSVP_LABELS[Rsvp(participant.rsvp)] if participant else None,
        rounds=rounds,
        tasks=tasks,
        summary=summary,
        may_rate=stage == Stage.ASSESSMENT
        and topic.status == TopicStatus.IN_PROGRESS
        and Role(person.role) in POLICY[Can.RATE]
        and person is viewer
        and rating is None,
        rating=rating,
        on_behalf_of=None if person is viewer else person.name,
        may_act=_own_or_office(viewer, person.id),
    )


def _summary(session: Session, topic_id: int, prestudy_open: bool, *, mine: bool) -> Summary:
    """The summary's state, and whether the task owner viewing it may write it now (not the
    office acting for him: it writes the summary on its own topic page)."""
    found = session.exec(
        select(ResearchSummary).where(ResearchSummary.topic_id == topic_id)
    ).first()
    missing = session.exec(
        select(func.count())
        .select_from(ResearchTask)
        .where(
            ResearchTask.topic_id == topic_id,
            col(ResearchTask.required).is_(True),
            col(ResearchTask.submitted_at).is_(None),
        )
    ).one()
    if found is None:
        label = "尚未提交"
    elif found.accepted_at is not None:
        label = "已通过协商办审核"
    elif found.returned_at is not None:
        label = "已退回修改"
    else:
        label = f"已于 {format_local(found.submitted_at)} 提交，待协商办审核"
    waiting = None
    if not prestudy_open:
        waiting = "“商前调研”环节进行中时可在此撰写调研报告。"
    elif missing:
        waiting = (
            f"尚有 {missing} 项必做调研任务未提交成果，全部提交后可撰写调研报告（不调研不协商）。"
        )
    accepted = found is not None and found.accepted_at is not None
    return Summary(
        content=found.content if found else None,
        state_label=label,
        review_note=found.review_note if found and found.returned_at else None,
        open=mine and waiting is None and not accepted,
        waiting_for=None if accepted else waiting,
    )


def _window(meeting: ConsultationSession, now: dt.datetime) -> str | None:
    """The domain's refusal of an opinion in this round now (an online window not open), if
    any: the page shows the form only when the domain would take the opinion."""
    try:
        ensure_window_open(meeting, now)
    except DomainError as exc:
        return exc.message
    return None


def my_participant(
    session: Session, person: Person, participant_id: int, *, acting: bool = False
) -> Participant:
    """An invitation: the invitee's own, which the office may answer on his behalf; others
    who may see the topic (an approver or supervisor chasing it) only read it (acting: 403),
    and anyone else is told it does not exist (404)."""
    participant = session.get(Participant, participant_id)
    if participant is None:
        raise NotFound(f"邀请 {participant_id} 不存在")
    _check(session, person, participant.person_id, participant.topic_id, acting, "回复此邀请")
    return participant


def my_task(
    session: Session, person: Person, task_id: int, *, acting: bool = False
) -> ResearchTask:
    """A research task, with the same rule as an invitation."""
    task = session.get(ResearchTask, task_id)
    if task is None:
        raise NotFound(f"调研任务 {task_id} 不存在")
    _check(session, person, task.owner_id, task.topic_id, acting, "提交此调研任务的成果")
    return task


def _check(
    session: Session, person: Person, owner_id: int | None, topic_id: int, acting: bool, doing: str
) -> None:
    if _own_or_office(person, owner_id):
        return
    see_topic(session, person, topic_id)  # 404 for a topic he may not see
    if acting:
        own_or_office(person, owner_id, doing)  # 403 naming who may


def _own_or_office(person: Person, owner_id: int | None) -> bool:
    """As models.access.own_or_office: the owner, or the office on his behalf."""
    return person.id == owner_id or Role(person.role) is Role.ADMINISTRATOR
