"""Topics: proposal, approval, stages and their Prefect runs, and everything listed per topic."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import launcher
from api.auth import (
    Approver,
    CaseReader,
    Office,
    OfficeBrief,
    Overseer,
    Proposer,
    Rater,
)
from api.deps import (
    AsOf,
    Limit,
    Offset,
    PageDep,
    PathId,
    ReadSessionDep,
    SessionDep,
    UnitOfWorkDep,
    commit,
)
from models import (
    access,
    assessment,
    consultation,
    prestudy,
    rectification,
    screening,
    stages,
    subject,
)
from models import audit as audit_trail
from models import report as reports
from models import topic as topics
from models.case import Listing, get, of_topic, one_of_topic
from models.enums import Stage, TopicStatus
from models.errors import NotFound
from models.tables import (
    Assessment,
    AuditEvent,
    ConsultationSession,
    Participant,
    Rating,
    RectificationItem,
    Report,
    ResearchSummary,
    ResearchTask,
    Suggestion,
    Topic,
)

router = APIRouter(prefix="/topics", tags=["topics"])


@router.post("", response_model=topics.TopicPublic, status_code=201)
def create_topic(data: topics.TopicCreate, session: SessionDep, person: Proposer) -> Topic:
    """Anyone may propose a topic: residents without an account too (then no proposer)."""
    topic = topics.create_topic(session, data, by=person.id if person else None)
    commit(session, topic)
    return topic


@router.get("", response_model=topics.TopicsPublic)
def list_topics(
    session: ReadSessionDep,
    reader: CaseReader,
    status: TopicStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Listing[Topic]:
    """The topics the reader may see: all for the office, the others' own."""
    return topics.list_topics(
        session, status=status, limit=limit, offset=offset, where=access.topic_filter(reader)
    )


@router.get("/{topic_id}", response_model=topics.TopicPublic)
def read_topic(topic_id: PathId, session: ReadSessionDep, reader: CaseReader) -> Topic:
    access.see_topic(session, reader, topic_id)
    return get(session, Topic, topic_id)


@router.post("/{topic_id}/approve", response_model=topics.TopicPublic)
def approve_topic(
    topic_id: PathId, data: topics.Decision, session: SessionDep, actor: Approver
) -> Topic:
    topic = topics.approve(session, topic_id, data, by=actor.id)
    commit(session, topic)
    return topic


@router.post("/{topic_id}/reject", response_model=topics.TopicPublic)
def reject_topic(
    topic_id: PathId, data: topics.Rejection, session: SessionDep, actor: Approver
) -> Topic:
    topic = topics.reject(session, topic_id, data, by=actor.id)
    commit(session, topic)
    return topic


@router.get("/{topic_id}/screening", response_model=screening.ScreeningPublic)
def read_screening(
    topic_id: PathId, session: ReadSessionDep, actor: Office
) -> screening.ScreeningPublic:
    """The system's screening suggestions (rules hinted, look-alike topics with scores) and
    the office's decision on them."""
    return screening.view(session, topic_id)


@router.post("/{topic_id}/screening", response_model=topics.TopicPublic)
def decide_screening(
    topic_id: PathId, data: screening.ScreeningIn, session: SessionDep, actor: Office
) -> Topic:
    """Admit, exclude on a rule or merge into an earlier topic; against the suggestion only
    with a written justification."""
    topic = topics.decide_screening(session, topic_id, data, by=actor.id)
    commit(session, topic)
    return topic


@router.get("/{topic_id}/research-summary", response_model=prestudy.SummaryPublic)
def read_research_summary(
    topic_id: PathId, session: ReadSessionDep, reader: CaseReader
) -> ResearchSummary:
    access.see_topic(session, reader, topic_id)
    summary = prestudy.summary_of(session, topic_id)
    if summary is None:
        raise NotFound("该议题尚未提交调研报告")
    return summary


@router.put("/{topic_id}/research-summary", response_model=prestudy.SummaryPublic)
def submit_research_summary(
    topic_id: PathId, data: prestudy.SummaryIn, session: SessionDep, actor: CaseReader
) -> ResearchSummary:
    """The summary of the findings, by the office or one who did the research."""
    summary = prestudy.submit_summary(session, topic_id, data, by=actor.id)
    commit(session, summary)
    return summary


@router.post("/{topic_id}/research-summary/review", response_model=prestudy.SummaryPublic)
def review_research_summary(
    topic_id: PathId, data: prestudy.SummaryReview, session: SessionDep, actor: Office
) -> ResearchSummary:
    """Accept (the stage is done) or return with what is missing."""
    summary = prestudy.review_summary(session, topic_id, data, by=actor.id)
    commit(session, summary)
    return summary


@router.get("/{topic_id}/stages", response_model=stages.StagesPublic)
def list_stages(
    topic_id: PathId, session: ReadSessionDep, reader: CaseReader
) -> stages.StagesPublic:
    """Each stage's state, its flow run and what it waits for."""
    access.see_topic(session, reader, topic_id)
    views = stages.stage_views(session, topic_id)
    return stages.StagesPublic(data=views, count=len(views))


@router.post(
    "/{topic_id}/stages/{stage}",
    response_model=launcher.StageStart,
    status_code=202,
    responses={200: {"description": "该环节已启动，返回同一流程运行"}},
)
async def start_stage(
    topic_id: PathId, stage: Stage, uow: UnitOfWorkDep, response: Response, _: OfficeBrief
) -> launcher.StageStart:
    """Start a stage's flow run; starting it again returns the same run (idempotent), unless
    that run failed, crashed or was cancelled: then a new run picks the stage up."""
    result = await launcher.start_stage(uow, topic_id, stage)
    if not result.created:
        response.status_code = 200
    return result


@router.get("/{topic_id}/runs", response_model=launcher.FlowRunsPublic)
async def list_runs(
    topic_id: PathId, uow: UnitOfWorkDep, _: OfficeBrief
) -> launcher.FlowRunsPublic:
    """The topic's flow runs as Prefect records them (tagged topic:<id>)."""
    runs = await launcher.topic_runs(uow, topic_id)
    return launcher.FlowRunsPublic(data=runs, count=len(runs))


@router.get("/{topic_id}/participants", response_model=subject.ParticipantsPublic)
def list_participants(
    topic_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[Participant]:
    access.see_topic(session, reader, topic_id)
    return of_topic(session, Participant, topic_id, order_by=Participant.id, **page)


@router.post("/{topic_id}/participants", response_model=subject.ParticipantsPublic, status_code=201)
def add_participants(
    topic_id: PathId, data: subject.ParticipantsAdd, session: SessionDep, _: Office
) -> Listing[Participant]:
    """Invite people; the answer lists the participants just added."""
    added = subject.add_participants(session, topic_id, data)
    commit(session, *added)
    return Listing(added, len(added))


@router.get("/{topic_id}/research-tasks", response_model=prestudy.ResearchTasksPublic)
def list_research(
    topic_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[ResearchTask]:
    access.see_topic(session, reader, topic_id)
    return of_topic(session, ResearchTask, topic_id, order_by=ResearchTask.id, **page)


@router.post(
    "/{topic_id}/research-tasks", response_model=prestudy.ResearchTaskPublic, status_code=201
)
def create_research(
    topic_id: PathId, data: prestudy.ResearchTaskCreate, session: SessionDep, _: Office
) -> ResearchTask:
    task = prestudy.create_task(session, topic_id, data)
    commit(session, task)
    return task


@router.get("/{topic_id}/sessions", response_model=consultation.SessionsPublic)
def list_sessions(
    topic_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[ConsultationSession]:
    access.see_topic(session, reader, topic_id)
    return of_topic(
        session, ConsultationSession, topic_id, order_by=ConsultationSession.round, **page
    )


@router.post("/{topic_id}/sessions", response_model=consultation.SessionPublic, status_code=201)
def schedule_session(
    topic_id: PathId, data: consultation.SessionCreate, session: SessionDep, _: Office
) -> ConsultationSession:
    meeting = consultation.schedule_session(session, topic_id, data)
    commit(session, meeting)
    return meeting


@router.get("/{topic_id}/suggestions", response_model=consultation.SuggestionsPublic)
def list_suggestions(
    topic_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[Suggestion]:
    access.see_topic(session, reader, topic_id)
    return of_topic(session, Suggestion, topic_id, order_by=Suggestion.id, **page)


@router.get("/{topic_id}/report", response_model=reports.ReportPublic)
def read_report(topic_id: PathId, session: ReadSessionDep, reader: CaseReader) -> Report:
    access.see_topic(session, reader, topic_id)
    return one_of_topic(session, Report, topic_id, missing="该议题尚未形成协商成果报告")


@router.get("/{topic_id}/items", response_model=rectification.ItemsPublic)
def list_items(
    topic_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[RectificationItem]:
    """The topic's responsibility list; a department sees only its own lines."""
    access.see_topic(session, reader, topic_id)
    return of_topic(
        session,
        RectificationItem,
        topic_id,
        order_by=RectificationItem.id,
        where=access.item_filter(reader),
        **page,
    )


@router.post("/{topic_id}/items", response_model=rectification.ItemPublic, status_code=201)
def create_item(
    topic_id: PathId, data: rectification.ItemCreate, session: SessionDep, _: Office
) -> RectificationItem:
    item = rectification.create_item(session, topic_id, data)
    commit(session, item)
    return item


@router.get("/{topic_id}/ratings", response_model=assessment.RatingsPublic)
def list_ratings(
    topic_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[Rating]:
    access.see_topic(session, reader, topic_id)
    return of_topic(session, Rating, topic_id, order_by=Rating.id, **page)


@router.post("/{topic_id}/ratings", response_model=assessment.RatingPublic, status_code=201)
def rate(topic_id: PathId, data: assessment.RatingIn, session: SessionDep, rater: Rater) -> Rating:
    """A signed-in member, expert, supervisor or resident rates once (per item)."""
    rating = assessment.rate(session, topic_id, data, by=rater.id)
    commit(session, rating)
    return rating


@router.post(
    "/{topic_id}/assessment/close", response_model=assessment.AssessmentPublic, status_code=201
)
def close_assessment(
    topic_id: PathId, data: assessment.AssessmentClose, session: SessionDep, actor: Office
) -> Assessment:
    result = assessment.close(session, topic_id, data, by=actor.id)
    commit(session, result)
    return result


@router.get("/{topic_id}/assessment", response_model=assessment.AssessmentPublic)
def read_assessment(topic_id: PathId, session: ReadSessionDep, reader: CaseReader) -> Assessment:
    access.see_topic(session, reader, topic_id)
    return one_of_topic(session, Assessment, topic_id, missing="该议题尚未办结评估")


@router.get("/{topic_id}/kpis")
def topic_kpis(
    topic_id: PathId, session: ReadSessionDep, reader: CaseReader, as_of: AsOf = None
) -> dict:
    """The topic's KPIs now, or as of `as_of` (without an offset: Asia/Shanghai time)."""
    access.see_topic(session, reader, topic_id)
    get(session, Topic, topic_id)
    return assessment.kpis(session, topic_id=topic_id, as_of=as_of)


@router.get("/{topic_id}/audit", response_model=audit_trail.AuditTrailPublic)
def topic_audit(
    topic_id: PathId, session: ReadSessionDep, page: PageDep, _: Overseer
) -> Listing[AuditEvent]:
    """The topic's history: who did what, in which role, before → after."""
    return of_topic(session, AuditEvent, topic_id, order_by=AuditEvent.id, **page)
