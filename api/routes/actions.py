"""Human actions on the records a topic owns: replies, findings, opinions, reports, items, plans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlmodel import Session

from api.auth import (
    Approver,
    CaseReader,
    DeadlineSetter,
    ItemWorker,
    Office,
    PlanReviewer,
    Rechecker,
    Replier,
)
from api.deps import PageDep, PathId, ReadSessionDep, SessionDep, commit
from api.routes.ledger import attachment
from models import access, consultation, prestudy, rectification, report_document, subject
from models import report as reports
from models.base import MAX_ID
from models.case import Listing, children, get
from models.tables import (
    ConsultationSession,
    ItemBounce,
    Opinion,
    Participant,
    Person,
    Plan,
    ProgressUpdate,
    RectificationItem,
    Report,
    ReportVersion,
    ResearchTask,
)

router = APIRouter()


@router.post(
    "/participants/{participant_id}/replace",
    response_model=subject.ParticipantPublic,
    status_code=201,
    tags=["subject"],
)
def replace_participant(
    participant_id: PathId, data: subject.ReplaceIn, session: SessionDep, actor: Office
) -> Participant:
    """替补: someone of the same side takes a decliner's place and is invited."""
    participant = subject.replace(session, participant_id, data)
    commit(session, participant)
    return participant


@router.post(
    "/participants/{participant_id}/rsvp",
    response_model=subject.ParticipantPublic,
    tags=["subject"],
)
def rsvp(
    participant_id: PathId, data: subject.RsvpIn, session: SessionDep, actor: Replier
) -> Participant:
    """The invitee replies (or the office records his reply)."""
    invited = get(session, Participant, participant_id)
    access.see_topic(session, actor, invited.topic_id)
    access.own_or_office(actor, invited.person_id, "回复此邀请")
    participant = subject.reply(session, participant_id, data)
    commit(session, participant)
    return participant


@router.post(
    "/research-tasks/{task_id}/findings",
    response_model=prestudy.ResearchTaskPublic,
    tags=["prestudy"],
)
def submit_findings(
    task_id: PathId, data: prestudy.FindingsIn, session: SessionDep, actor: Replier
) -> ResearchTask:
    owned = get(session, ResearchTask, task_id)
    access.see_topic(session, actor, owned.topic_id)
    access.own_or_office(actor, owned.owner_id, "提交此调研任务的成果")
    task = prestudy.submit_findings(session, task_id, data, by=actor.id)
    commit(session, task)
    return task


@router.get("/sessions/{session_id}", response_model=consultation.SessionPublic, tags=["session"])
def read_session(
    session_id: PathId, session: ReadSessionDep, reader: CaseReader
) -> ConsultationSession:
    meeting = get(session, ConsultationSession, session_id)
    access.see_topic(session, reader, meeting.topic_id)
    return meeting


@router.get(
    "/sessions/{session_id}/opinions",
    response_model=consultation.OpinionsPublic,
    tags=["session"],
)
def list_opinions(
    session_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[Opinion]:
    meeting = get(session, ConsultationSession, session_id)
    access.see_topic(session, reader, meeting.topic_id)
    return children(
        session,
        ConsultationSession,
        session_id,
        Opinion,
        key="session_id",
        order_by=Opinion.id,
        **page,
    )


@router.post(
    "/sessions/{session_id}/opinions",
    response_model=consultation.OpinionsPublic,
    status_code=201,
    tags=["session"],
)
def record_opinions(
    session_id: PathId, data: consultation.OpinionsAdd, session: SessionDep, _: Office
) -> Listing[Opinion]:
    """Record opinions; the answer lists the opinions just recorded."""
    opinions = consultation.record_opinions(session, session_id, data)
    commit(session, *opinions)
    return Listing(opinions, len(opinions))


@router.post(
    "/sessions/{session_id}/conclude", response_model=consultation.SessionPublic, tags=["session"]
)
def conclude(
    session_id: PathId, data: consultation.Conclusion, session: SessionDep, _: Office
) -> ConsultationSession:
    meeting = consultation.conclude(session, session_id, data)
    commit(session, meeting)
    return meeting


@router.get("/reports/{report_id}", response_model=reports.ReportPublic, tags=["report"])
def read_report(report_id: PathId, session: ReadSessionDep, reader: CaseReader) -> Report:
    report = get(session, Report, report_id)
    access.see_topic(session, reader, report.topic_id)
    return report


@router.get(
    "/reports/{report_id}/versions", response_model=reports.ReportVersionsPublic, tags=["report"]
)
def list_report_versions(
    report_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[ReportVersion]:
    """每次报送的版本 (第 1 版起), each with its decision and its DOCX and PDF downloads."""
    report = get(session, Report, report_id)
    access.see_topic(session, reader, report.topic_id)
    return reports.versions(session, report_id, **page)


@router.get(
    "/reports/{report_id}/versions/{number}.{kind}",
    response_class=Response,
    tags=["report"],
    responses={
        200: {
            "description": "本版协商成果报告文档（Word 或 PDF）",
            "content": {t: {} for t in report_document.CONTENT_TYPES.values()},
        }
    },
)
def download_report_version(
    report_id: PathId,
    number: Annotated[int, Path(ge=1, le=MAX_ID, description="版本号（第几版）")],
    kind: Annotated[report_document.DocumentKind, Path(description="docx 或 pdf")],
    session: ReadSessionDep,
    reader: CaseReader,
) -> Response:
    """下载某一版的协商成果报告: the same readers as the report itself."""
    doc = report_document.document(session, report_id, number, kind, reader)
    return Response(doc.data, media_type=doc.content_type, headers=attachment(doc.filename))


@router.put("/reports/{report_id}", response_model=reports.ReportPublic, tags=["report"])
def revise_report(
    report_id: PathId, data: reports.ReportUpdate, session: SessionDep, actor: Office
) -> Report:
    report = reports.revise(session, report_id, data, by=actor.id)
    commit(session, report)
    return report


@router.post("/reports/{report_id}/approve", response_model=reports.ReportPublic, tags=["report"])
def approve_report(
    report_id: PathId, data: reports.ReportApproval, session: SessionDep, actor: Approver
) -> Report:
    report = reports.approve(session, report_id, data, by=actor.id)
    commit(session, report)
    return report


@router.post("/reports/{report_id}/return", response_model=reports.ReportPublic, tags=["report"])
def return_report(
    report_id: PathId, data: reports.ReportReturn, session: SessionDep, actor: Approver
) -> Report:
    report = reports.return_report(session, report_id, data, by=actor.id)
    commit(session, report)
    return report


Item = rectification.ItemPublic


def _item(session: Session, item_id: int, person: Person) -> RectificationItem:
    """The item if this person may see it (a department only its own), else 404."""
    item = get(session, RectificationItem, item_id)
    access.see_item(session, person, item)
    return item


@router.get("/items/{item_id}", response_model=Item, tags=["items"])
def read_item(item_id: PathId, session: ReadSessionDep, reader: CaseReader) -> RectificationItem:
    return _item(session, item_id, reader)


@router.post("/items/{item_id}/acknowledge", response_model=Item, tags=["items"])
def acknowledge(item_id: PathId, session: SessionDep, actor: ItemWorker) -> RectificationItem:
    _item(session, item_id, actor)
    item = rectification.acknowledge(session, item_id, by=actor.id)
    commit(session, item)
    return item


@router.post("/items/{item_id}/decline", response_model=Item, tags=["items"])
def decline(
    item_id: PathId, data: rectification.DeclineIn, session: SessionDep, actor: ItemWorker
) -> RectificationItem:
    _item(session, item_id, actor)
    item = rectification.decline(session, item_id, data, by=actor.id)
    commit(session, item)
    return item


@router.post("/items/{item_id}/reassign", response_model=Item, tags=["items"])
def reassign(
    item_id: PathId, data: rectification.ReassignIn, session: SessionDep, actor: Office
) -> RectificationItem:
    item = rectification.reassign(session, item_id, data, by=actor.id)
    commit(session, item)
    return item


@router.post("/items/{item_id}/arbitrate", response_model=Item, tags=["items"])
def arbitrate(
    item_id: PathId, data: rectification.ArbitrateIn, session: SessionDep, actor: Office
) -> RectificationItem:
    """协商办裁定 an item returned again and again: who leads it; the department cannot
    return it again."""
    item = rectification.arbitrate(session, item_id, data, by=actor.id)
    commit(session, item)
    return item


@router.get("/items/{item_id}/bounces", response_model=rectification.BouncesPublic, tags=["items"])
def list_bounces(
    item_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[ItemBounce]:
    """An item's returns (退单记录) with their coded reasons, oldest first."""
    _item(session, item_id, reader)
    return children(
        session,
        RectificationItem,
        item_id,
        ItemBounce,
        key="item_id",
        order_by=ItemBounce.id,
        **page,
    )


@router.post("/items/{item_id}/extend", response_model=Item, tags=["items"])
def extend(
    item_id: PathId, data: rectification.ExtendIn, session: SessionDep, actor: DeadlineSetter
) -> RectificationItem:
    item = rectification.extend(session, item_id, data, by=actor.id)
    commit(session, item)
    return item


@router.get("/items/{item_id}/plans", response_model=rectification.PlansPublic, tags=["items"])
def list_plans(
    item_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[Plan]:
    _item(session, item_id, reader)
    return children(
        session, RectificationItem, item_id, Plan, key="item_id", order_by=Plan.version, **page
    )


@router.post(
    "/items/{item_id}/plan",
    response_model=rectification.PlanPublic,
    status_code=201,
    tags=["items"],
)
def submit_plan(
    item_id: PathId, data: rectification.PlanIn, session: SessionDep, actor: ItemWorker
) -> Plan:
    _item(session, item_id, actor)
    plan = rectification.submit_plan(session, item_id, data, by=actor.id)
    commit(session, plan)
    return plan


@router.post("/plans/{plan_id}/review", response_model=rectification.PlanPublic, tags=["items"])
def review_plan(
    plan_id: PathId, data: rectification.PlanReview, session: SessionDep, actor: PlanReviewer
) -> Plan:
    _item(session, get(session, Plan, plan_id).item_id, actor)
    plan = rectification.review_plan(session, plan_id, data, by=actor.id)
    commit(session, plan)
    return plan


@router.get(
    "/items/{item_id}/progress", response_model=rectification.ProgressListPublic, tags=["items"]
)
def list_progress(
    item_id: PathId, session: ReadSessionDep, page: PageDep, reader: CaseReader
) -> Listing[ProgressUpdate]:
    _item(session, item_id, reader)
    return children(
        session,
        RectificationItem,
        item_id,
        ProgressUpdate,
        key="item_id",
        order_by=ProgressUpdate.id,
        **page,
    )


@router.post(
    "/items/{item_id}/progress",
    response_model=rectification.ProgressPublic,
    status_code=201,
    tags=["items"],
)
def report_progress(
    item_id: PathId, data: rectification.ProgressIn, session: SessionDep, actor: ItemWorker
) -> ProgressUpdate:
    _item(session, item_id, actor)
    update = rectification.report_progress(session, item_id, data, by=actor.id)
    commit(session, update)
    return update


@router.post("/items/{item_id}/complete", response_model=Item, tags=["items"])
def complete(
    item_id: PathId, data: rectification.CompletionIn, session: SessionDep, actor: ItemWorker
) -> RectificationItem:
    _item(session, item_id, actor)
    item = rectification.complete(session, item_id, data, by=actor.id)
    commit(session, item)
    return item


@router.post("/items/{item_id}/recheck", response_model=Item, tags=["items"])
def recheck(
    item_id: PathId, data: rectification.RecheckIn, session: SessionDep, actor: Rechecker
) -> RectificationItem:
    item = rectification.recheck(session, item_id, data, by=actor.id)
    commit(session, item)
    return item
