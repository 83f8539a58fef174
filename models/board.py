"""议题总览 and one topic as the consultation office runs it: the board of every topic by stage
(what each waits for, who is late) in a fixed number of queries however many topics there
are, and a topic's timeline with the records of its stages and the actions open on it now.

Nothing here writes: the pages call the same operations as the JSON API for every action.
What may be done now is asked of the rules that the operations enforce again
(`models.stages`), never restated."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.base import PAGE_SIZE, page_count, utcnow
from models.calendar import calendar_for
from models.case import ROLE_NAMES, get
from models.consultation import FORM_LABELS
from models.deadlines import WorkdayCounter, format_local, local_today
from models.enums import (
    ADOPTION_LABELS,
    PARTICIPANT_ROLE_LABELS,
    RSVP_LABELS,
    STAGE_ORDER,
    Adoption,
    FollowUpStatus,
    ItemStatus,
    Obligation,
    ParticipantRole,
    ReportStatus,
    ResearchMethod,
    Role,
    Rsvp,
    SessionStatus,
    Stage,
    StageState,
    TopicStatus,
)
from models.errors import DomainError
from models.obligations import DEFAULT_OWNER_ROLE, fulfilled_condition
from models.obligations import SPECS as OBLIGATIONS
from models.rectification import ITEM_STATUS_LABELS
from models.report import VersionLine, version_lines
from models.stages import (
    CLOSED_STATUSES,
    SPECS,
    STATE_LABELS,
    check_can_start,
    ensure_in_stage,
    ensure_preparing,
    stage_views,
)
from models.tables import (
    Assessment,
    ConsultationSession,
    Department,
    FollowUp,
    Opinion,
    Participant,
    Person,
    RectificationItem,
    Report,
    ResearchTask,
    Suggestion,
    Topic,
)

RESEARCH_METHOD_LABELS = {
    ResearchMethod.FIELD_VISIT: "实地走访",
    ResearchMethod.FORUM: "座谈会",
    ResearchMethod.QUESTIONNAIRE: "问卷调查",
    ResearchMethod.POLICY_REVIEW: "政策梳理",
}
REPORT_STATUS_LABELS = {
    ReportStatus.SUBMITTED: "已报送，待审定",
    ReportStatus.RETURNED: "已退回修改",
    ReportStatus.APPROVED: "已审定",
}
TOPIC_STATUS_LABELS = {
    TopicStatus.DRAFT: "待筛选",
    TopicStatus.AWAITING_SCREENING: "待确认初筛",
    TopicStatus.AWAITING_APPROVAL: "待审定",
    TopicStatus.IN_PROGRESS: "推进中",
    **CLOSED_STATUSES,
}
_STAGE_INDEX = sa.case({s.value: i for i, s in enumerate(STAGE_ORDER)}, value=col(Topic.stage))


def next_stage(topic: Topic) -> Stage | None:
    """The stage the office may start next: the current one if it has not started, the one
    after it once it is done; None while it runs or waits, or after the last."""
    if topic.status in CLOSED_STATUSES:
        return None
    if topic.stage_state == StageState.NOT_STARTED:
        return topic.stage
    if topic.stage_state == StageState.DONE and topic.stage.index + 1 < len(STAGE_ORDER):
        return STAGE_ORDER[topic.stage.index + 1]
    return None


def _waiting_text(
    status: TopicStatus, stage: Stage, state: StageState, owed: list[tuple[str, int]]
) -> str:
    """What a topic waits for, as the office reads it on the board."""
    if status in CLOSED_STATUSES:
        return CLOSED_STATUSES[status]
    if state == StageState.RUNNING:
        return f"“{stage.label}”流程自动处理中"
    if state == StageState.NOT_STARTED:
        return f"等待协商办启动“{stage.label}”环节"
    if state == StageState.DONE:
        if stage.index + 1 < len(STAGE_ORDER):
            return f"等待协商办启动“{STAGE_ORDER[stage.index + 1].label}”环节"
        return "八个环节均已完成"
    if owed:
        return "等待：" + "、".join(f"{label}（{n} 项）" for label, n in owed)
    return f"等待“{stage.label}”环节的办理"


@dataclass(frozen=True)
class BoardLine:
    """One topic on the board."""

    id: int
    title: str
    stage: Stage
    stage_label: str
    state: StageState
    state_label: str
    status_label: str
    waiting: str
    late: list[str]  # '李强（签收整改事项）': who owes what past its deadline
    updated_text: str


@dataclass(frozen=True)
class StageCount:
    stage: Stage
    label: str
    count: int


@dataclass(frozen=True)
class BoardPage:
    lines: list[BoardLine]
    count: int
    page: int
    pages: int
    stage: Stage | None  # the stage the board is narrowed to, if any
    stages: list[StageCount]  # every stage with how many topics are in it
    late_only: bool
    late_count: int  # topics with someone late, whichever view is shown


def _open_rows(now: dt.datetime | None = None) -> list[sa.ColumnElement[bool]]:
    """Follow-up rows still owed (open or sent, the owed thing not done); past their deadline
    too when `now` is given."""
    where = [
        col(FollowUp.status).in_([FollowUpStatus.OPEN, FollowUpStatus.SENT]),
        sa.not_(fulfilled_condition()),
    ]
    if now is not None:
        where.append(col(FollowUp.deadline) < now)
    return where


def board(
    session: Session,
    *,
    page: int = 1,
    stage: Stage | None = None,
    late_only: bool = False,
    now: dt.datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> BoardPage:
    """One page of all topics in stage order (the newest change first within a stage): four
    queries whatever the number of topics — the page, the count per stage, what the page's
    topics wait for and who on them is late."""
    now = now or utcnow()
    page = max(page, 1)
    late_topics = sa.select(col(FollowUp.topic_id)).where(*_open_rows(now)).distinct()
    where: list[sa.ColumnElement[bool]] = []
    if stage is not None:
        where.append(col(Topic.stage) == stage)
    if late_only:
        where.append(col(Topic.id).in_(late_topics))
    rows = session.execute(
        sa.select(
            col(Topic.id),
            col(Topic.title),
            col(Topic.stage),
            col(Topic.stage_state),
            col(Topic.status),
            col(Topic.updated_at),
            sa.func.count().over(),
        )
        .where(*where)
        .order_by(_STAGE_INDEX, col(Topic.updated_at).desc(), col(Topic.id).desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    is_late = sa.case((col(Topic.id).in_(late_topics), 1), else_=0)
    per_stage = {
        Stage(st): (int(n), int(k or 0))
        for st, n, k in session.execute(
            sa.select(col(Topic.stage), sa.func.count(), sa.func.sum(is_late)).group_by(
                col(Topic.stage)
            )
        ).all()
    }
    late_count = sum(k for _, k in per_stage.values())
    ids = [r[0] for r in rows]
    owed: dict[int, list[tuple[str, int]]] = {}
    late: dict[int, list[str]] = {}
    if ids:
        owed_rows = session.execute(
            sa.select(
                col(FollowUp.topic_id),
                col(FollowUp.obligation),
                sa.func.count(sa.distinct(col(FollowUp.subject_id))),
            )
            .where(col(FollowUp.topic_id).in_(ids), *_open_rows())
            .group_by(col(FollowUp.topic_id), col(FollowUp.obligation))
            .order_by(col(FollowUp.topic_id), col(FollowUp.obligation))
        ).all()
        for topic_id, obligation, n in owed_rows:
            owed.setdefault(topic_id, []).append((OBLIGATIONS[Obligation(obligation)].label, n))
        late_rows = session.execute(
            sa.select(col(FollowUp.topic_id), col(FollowUp.obligation), col(Person.name))
            .outerjoin(Person, col(Person.id) == col(FollowUp.owed_by_id))
            .where(col(FollowUp.topic_id).in_(ids), *_open_rows(now))
            .group_by(col(FollowUp.topic_id), col(FollowUp.obligation), col(Person.name))
            .order_by(col(FollowUp.topic_id), col(Person.name), col(FollowUp.obligation))
        ).all()
        for topic_id, obligation, name in late_rows:
            obligation = Obligation(obligation)
            who = name or ROLE_NAMES[DEFAULT_OWNER_ROLE[obligation]]
            late.setdefault(topic_id, []).append(f"{who}（{OBLIGATIONS[obligation].label}）")
    count = int(rows[0][-1]) if rows else _count(session, where)
    lines = [
        BoardLine(
            id=topic_id,
            title=title,
            stage=Stage(st),
            stage_label=Stage(st).label,
            state=StageState(state),
            state_label=STATE_LABELS[StageState(state)],
            status_label=TOPIC_STATUS_LABELS[TopicStatus(status)],
            waiting=_waiting_text(
                TopicStatus(status), Stage(st), StageState(state), owed.get(topic_id, [])
            ),
            late=late.get(topic_id, []),
            updated_text=format_local(updated),
        )
        for topic_id, title, st, state, status, updated, _ in rows
    ]
    return BoardPage(
        lines=lines,
        count=count,
        page=page,
        pages=page_count(count, page_size),
        stage=stage,
        stages=[StageCount(s, s.label, per_stage.get(s, (0, 0))[0]) for s in SPECS],
        late_only=late_only,
        late_count=late_count,
    )


def _count(session: Session, where: list[sa.ColumnElement[bool]]) -> int:
    """Past the last page (or an empty board): the count is still wanted for the pager."""
    return int(session.execute(sa.select(sa.func.count(col(Topic.id))).where(*where)).scalar_one())


# -- one topic ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineStage:
    stage: Stage
    label: str
    state: StageState
    state_label: str
    flow_run_id: str | None
    started_text: str | None
    finished_text: str | None
    waiting_for: str | None
    blocked: str | None  # why it cannot start now (the gate's reason), for a stage not started


@dataclass(frozen=True)
class ParticipantLine:
    id: int
    name: str
    role_label: str
    rsvp_label: str
    rsvp_due_text: str | None
    rsvp_due_provisional: bool  # the reply deadline rests on an estimated calendar (暂估)
    time_left: str | None  # working days left to reply, while the reply is owed


@dataclass(frozen=True)
class ResearchLine:
    id: int
    title: str
    method_label: str
    owner_name: str
    due_text: str
    time_left: str
    submitted: bool
    findings: str | None


@dataclass(frozen=True)
class SessionLine:
    id: int
    round: int
    form_label: str
    starts_text: str
    place: str | None
    concluded: bool
    consensus: bool
    summary: str | None
    opinions: list[tuple[int, str, str]]  # (id, speaker, content)


@dataclass(frozen=True)
class SuggestionLine:
    id: int
    content: str
    adoption_label: str
    adopted: bool
    has_item: bool


@dataclass(frozen=True)
class ItemLine:
    id: int
    title: str
    department: str
    officer_name: str
    status_label: str
    deadline_text: str
    time_left: str
    overdue: bool
    provisional: bool  # the deadline rests on an estimated calendar (暂估)


@dataclass(frozen=True)
class ReportLine:
    id: int
    title: str
    content: str
    status_label: str
    return_reason: str | None
    editable: bool
    versions: list[VersionLine]


@dataclass(frozen=True)
class TopicBoard:
    """One topic as the office runs it: the timeline and each stage's records, the choices its
    forms offer, and which of its actions are open now (the operations decide again)."""

    id: int
    title: str
    description: str
    status_label: str
    stage_label: str
    state_label: str
    waiting: str | None
    timeline: list[TimelineStage]
    next_stage: Stage | None
    next_blocked: str | None  # the gate's reason the next stage cannot start now
    participants: list[ParticipantLine]
    research: list[ResearchLine]
    sessions: list[SessionLine]
    suggestions: list[SuggestionLine]
    report: ReportLine | None
    items: list[ItemLine]
    assessment: str | None
    open: frozenset[str]  # the forms to show: participants, research, session, ...
    people: list[tuple[int, str]] = field(default_factory=list)  # (id, '李强（联络员·区住建局）')
    officers: list[tuple[int, str]] = field(default_factory=list)
    departments: list[tuple[int, str]] = field(default_factory=list)
    speakers: list[tuple[int, str]] = field(default_factory=list)  # participants who accepted
    open_session_id: int | None = None
    item_choices: list[tuple[int, str]] = field(default_factory=list)  # adopted, no item yet


def _allowed(check: object) -> bool:
    """Whether a rule lets an action through now (the rule is called, nothing is written)."""
    try:
        check()  # type: ignore[operator]
    except DomainError:
        return False
    return True


def _blocked(session: Session, topic: Topic, stage: Stage) -> str | None:
    try:
        check_can_start(session, topic, stage)
    except DomainError as exc:
        return exc.message
    return None


def topic_board(session: Session, topic_id: int, *, now: dt.datetime | None = None) -> TopicBoard:
    """The topic page's facts, in a fixed handful of queries."""
    now = now or utcnow()
    topic = get(session, Topic, topic_id)
    views = stage_views(session, topic_id)
    upcoming = next_stage(topic)
    next_blocked = _blocked(session, topic, upcoming) if upcoming else None
    timeline = []
    for view in views:
        blocked = None
        if view.state == StageState.NOT_STARTED:
            blocked = next_blocked if view.stage == upcoming else SPECS[view.stage].not_ready
        timeline.append(
            TimelineStage(
                stage=view.stage,
                label=view.label,
                state=view.state,
                state_label=STATE_LABELS[view.state],
                flow_run_id=view.flow_run_id,
                started_text=format_local(view.started_at) if view.started_at else None,
                finished_text=format_local(view.finished_at) if view.finished_at else None,
                waiting_for=view.waiting_for,
                blocked=blocked,
            )
        )
    counter = WorkdayCounter(calendar_for(session), local_today(now))
    names = dict(session.execute(sa.select(col(Person.id), col(Person.name))).all())
    participants = session.exec(
        select(Participant).where(Participant.topic_id == topic_id).order_by(col(Participant.id))
    ).all()
    tasks = session.exec(
        select(ResearchTask).where(ResearchTask.topic_id == topic_id).order_by(col(ResearchTask.id))
    ).all()
    meetings = session.exec(
        select(ConsultationSession)
        .where(ConsultationSession.topic_id == topic_id)
        .order_by(col(ConsultationSession.round))
    ).all()
    opinions = session.exec(
        select(Opinion)
        .join(ConsultationSession, col(ConsultationSession.id) == col(Opinion.session_id))
        .where(ConsultationSession.topic_id == topic_id)
        .order_by(col(Opinion.id))
    ).all()
    suggestions = session.exec(
        select(Suggestion).where(Suggestion.topic_id == topic_id).order_by(col(Suggestion.id))
    ).all()
    report = session.exec(select(Report).where(Report.topic_id == topic_id)).first()
    items = session.exec(
        select(RectificationItem)
        .where(RectificationItem.topic_id == topic_id)
        .order_by(col(RectificationItem.id))
    ).all()
    departments = [
        (int(i), str(n))
        for i, n in session.execute(
            sa.select(col(Department.id), col(Department.name)).order_by(col(Department.id))
        ).all()
    ]
    department_names = dict(departments)
    people = session.execute(
        sa.select(
            col(Person.id), col(Person.name), col(Person.role), col(Person.department_id)
        ).order_by(col(Person.id))
    ).all()
    assessment = session.exec(select(Assessment).where(Assessment.topic_id == topic_id)).first()

    by_participant = {p.id: names.get(p.person_id, "") for p in participants}
    item_suggestions = {i.suggestion_id for i in items}
    open_round = next((m for m in meetings if m.status == SessionStatus.SCHEDULED), None)
    report_editable = (
        report is not None
        and report.status != ReportStatus.APPROVED
        and _allowed(lambda: ensure_in_stage(topic, Stage.REPORT, "修改"))
    )
    open_forms = {
        name
        for name, stage in (
            ("participants", Stage.SUBJECT),
            ("research", Stage.PRESTUDY),
            ("session", Stage.SESSION),
            ("items", Stage.TRANSFER),
        )
        if _allowed(lambda stage=stage: ensure_preparing(topic, stage, "办理"))  # type: ignore[misc]
    }
    if open_round is not None and _allowed(
        lambda: ensure_in_stage(topic, Stage.SESSION, "记录意见")
    ):
        open_forms |= {"opinions", "conclude"}
    if open_round is not None:
        open_forms.discard("session")  # one round at a time: conclude it first
    if report_editable:
        open_forms.add("report")
    if assessment is None and _allowed(
        lambda: ensure_in_stage(topic, Stage.ASSESSMENT, "办结评估")
    ):
        open_forms.add("assessment")
    if not any(
        s.adoption == Adoption.ADOPTED and s.id not in item_suggestions for s in suggestions
    ):
        open_forms.discard("items")

    def who(pid: int, role: str, dept: int | None) -> str:
        where = f"·{department_names[dept]}" if dept in department_names else ""
        return f"{names[pid]}（{ROLE_NAMES[Role(role)]}{where}）"

    return TopicBoard(
        id=topic_id,
        title=topic.title,
        description=topic.description,
        status_label=TOPIC_STATUS_LABELS[topic.status],
        stage_label=topic.stage.label,
        state_label=STATE_LABELS[topic.stage_state],
        waiting=next((s.waiting_for for s in views if s.waiting_for), None),
        timeline=timeline,
        next_stage=upcoming,
        next_blocked=next_blocked,
        participants=[
            ParticipantLine(
                id=p.id,  # type: ignore[arg-type]
                name=names.get(p.person_id, ""),
                role_label=PARTICIPANT_ROLE_LABELS[ParticipantRole(p.role)],
                rsvp_label=RSVP_LABELS[Rsvp(p.rsvp)],
                rsvp_due_text=format_local(p.rsvp_due_at) if p.rsvp_due_at else None,
                rsvp_due_provisional=bool(p.rsvp_due_provisional),  # type: ignore[attr-defined]
                time_left=(
                    counter.time_left(p.rsvp_due_at)
                    if p.rsvp_due_at and p.rsvp == Rsvp.PENDING
                    else None
                ),
            )
            for p in participants
        ],
        research=[
            ResearchLine(
                id=t.id,  # type: ignore[arg-type]
                title=t.title,
                method_label=RESEARCH_METHOD_LABELS[ResearchMethod(t.method)],
                owner_name=names.get(t.owner_id, ""),
                due_text=format_local(t.due_at),
                time_left="已提交" if t.submitted_at else counter.time_left(t.due_at),
                submitted=t.submitted_at is not None,
                findings=t.findings,
            )
            for t in tasks
        ],
        sessions=[
            SessionLine(
                id=m.id,  # type: ignore[arg-type]
                round=m.round,
                form_label=FORM_LABELS[m.form],
                starts_text=format_local(m.starts_at),
                place=m.place,
                concluded=m.status == SessionStatus.CONCLUDED,
                consensus=m.consensus_reached,
                summary=m.consensus_summary,
                opinions=[
                    (o.id, by_participant.get(o.participant_id, ""), o.content)  # type: ignore[misc]
                    for o in opinions
                    if o.session_id == m.id
                ],
            )
            for m in meetings
        ],
        suggestions=[
            SuggestionLine(
                id=s.id,  # type: ignore[arg-type]
                content=s.content,
                adoption_label=ADOPTION_LABELS[Adoption(s.adoption)],
                adopted=s.adoption == Adoption.ADOPTED,
                has_item=s.id in item_suggestions,
            )
            for s in suggestions
        ],
        report=(
            ReportLine(
                id=report.id,  # type: ignore[arg-type]
                title=report.title,
                content=report.content,
                status_label=REPORT_STATUS_LABELS[ReportStatus(report.status)],
                return_reason=report.return_reason,
                editable=report_editable,
                versions=version_lines(session, report.id),  # type: ignore[arg-type]
            )
            if report
            else None
        ),
        items=[
            ItemLine(
                id=i.id,  # type: ignore[arg-type]
                title=i.title,
                department=department_names.get(i.lead_department_id, ""),
                officer_name=names.get(i.officer_id, ""),
                status_label=ITEM_STATUS_LABELS[ItemStatus(i.status)],
                deadline_text=format_local(i.deadline),
                time_left=(
                    "已完成" if i.status == ItemStatus.COMPLETED else counter.time_left(i.deadline)
                ),
                overdue=i.status not in (ItemStatus.COMPLETED, ItemStatus.DECLINED)
                and now > i.deadline,
                provisional=i.deadline_provisional,
            )
            for i in items
        ],
        assessment=assessment.summary if assessment else None,
        open=frozenset(open_forms),
        people=[(int(pid), who(pid, role, dept)) for pid, _, role, dept in people],
        officers=[
            (int(pid), who(pid, role, dept))
            for pid, _, role, dept in people
            if Role(role) in (Role.OFFICER, Role.DEPARTMENT_HEAD)
        ],
        departments=departments,
        speakers=[
            (
                p.id,
                f"{names.get(p.person_id, '')}（{PARTICIPANT_ROLE_LABELS[ParticipantRole(p.role)]}）",
            )  # type: ignore[misc]
            for p in participants
            if p.rsvp == Rsvp.ACCEPTED
        ],
        open_session_id=open_round.id if open_round else None,
        item_choices=[
            (s.id, s.content[:60])  # type: ignore[misc]
            for s in suggestions
            if s.adoption == Adoption.ADOPTED and s.id not in item_suggestions
        ],
    )
