"""Human actions on the records a topic owns: replies, findings, opinions, reports, items, plans."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import PageDep, PathId, SessionDep, commit
from models import consultation, prestudy, rectification, subject
from models import report as reports
from models.case import Listing, children, get
from models.tables import (
    ConsultationSession,
    Opinion,
    Participant,
    Plan,
    ProgressUpdate,
    RectificationItem,
    Report,
    ResearchTask,
)

router = APIRouter()


@router.post(
    "/participants/{participant_id}/rsvp",
    response_model=subject.ParticipantPublic,
    tags=["subject"],
)
def rsvp(participant_id: PathId, data: subject.RsvpIn, session: SessionDep) -> Participant:
    participant = subject.reply(session, participant_id, data)
    commit(session, participant)
    return participant


@router.post(
    "/research-tasks/{task_id}/findings",
    response_model=prestudy.ResearchTaskPublic,
    tags=["prestudy"],
)
def submit_findings(
    task_id: PathId, data: prestudy.FindingsIn, session: SessionDep
) -> ResearchTask:
    task = prestudy.submit_findings(session, task_id, data)
    commit(session, task)
    return task


@router.get("/sessions/{session_id}", response_model=consultation.SessionPublic, tags=["session"])
def read_session(session_id: PathId, session: SessionDep) -> ConsultationSession:
    return get(session, ConsultationSession, session_id)


@router.get(
    "/sessions/{session_id}/opinions",
    response_model=consultation.OpinionsPublic,
    tags=["session"],
)
def list_opinions(session_id: PathId, session: SessionDep, page: PageDep) -> Listing[Opinion]:
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
    session_id: PathId, data: consultation.OpinionsAdd, session: SessionDep
) -> Listing[Opinion]:
    """Record opinions; the answer lists the opinions just recorded."""
    opinions = consultation.record_opinions(session, session_id, data)
    commit(session, *opinions)
    return Listing(opinions, len(opinions))


@router.post(
    "/sessions/{session_id}/conclude", response_model=consultation.SessionPublic, tags=["session"]
)
def conclude(
    session_id: PathId, data: consultation.Conclusion, session: SessionDep
) -> ConsultationSession:
    meeting = consultation.conclude(session, session_id, data)
    commit(session, meeting)
    return meeting


@router.get("/reports/{report_id}", response_model=reports.ReportPublic, tags=["report"])
def read_report(report_id: PathId, session: SessionDep) -> Report:
    return get(session, Report, report_id)


@router.put("/reports/{report_id}", response_model=reports.ReportPublic, tags=["report"])
def revise_report(report_id: PathId, data: reports.ReportUpdate, session: SessionDep) -> Report:
    report = reports.revise(session, report_id, data)
    commit(session, report)
    return report


@router.post("/reports/{report_id}/approve", response_model=reports.ReportPublic, tags=["report"])
def approve_report(report_id: PathId, data: reports.ReportApproval, session: SessionDep) -> Report:
    report = reports.approve(session, report_id, data)
    commit(session, report)
    return report


@router.post("/reports/{report_id}/return", response_model=reports.ReportPublic, tags=["report"])
def return_report(report_id: PathId, data: reports.ReportReturn, session: SessionDep) -> Report:
    report = reports.return_report(session, report_id, data)
    commit(session, report)
    return report


Item = rectification.ItemPublic


@router.get("/items/{item_id}", response_model=Item, tags=["items"])
def read_item(item_id: PathId, session: SessionDep) -> RectificationItem:
    return get(session, RectificationItem, item_id)


@router.post("/items/{item_id}/acknowledge", response_model=Item, tags=["items"])
def acknowledge(
    item_id: PathId, data: rectification.Actor, session: SessionDep
) -> RectificationItem:
    item = rectification.acknowledge(session, item_id, data)
    commit(session, item)
    return item


@router.post("/items/{item_id}/decline", response_model=Item, tags=["items"])
def decline(
    item_id: PathId, data: rectification.DeclineIn, session: SessionDep
) -> RectificationItem:
    item = rectification.decline(session, item_id, data)
    commit(session, item)
    return item


@router.post("/items/{item_id}/reassign", response_model=Item, tags=["items"])
def reassign(
    item_id: PathId, data: rectification.ReassignIn, session: SessionDep
) -> RectificationItem:
    item = rectification.reassign(session, item_id, data)
    commit(session, item)
    return item


@router.post("/items/{item_id}/extend", response_model=Item, tags=["items"])
def extend(item_id: PathId, data: rectification.ExtendIn, session: SessionDep) -> RectificationItem:
    item = rectification.extend(session, item_id, data)
    commit(session, item)
    return item


@router.get("/items/{item_id}/plans", response_model=rectification.PlansPublic, tags=["items"])
def list_plans(item_id: PathId, session: SessionDep, page: PageDep) -> Listing[Plan]:
    return children(
        session, RectificationItem, item_id, Plan, key="item_id", order_by=Plan.version, **page
    )


@router.post(
    "/items/{item_id}/plan",
    response_model=rectification.PlanPublic,
    status_code=201,
    tags=["items"],
)
def submit_plan(item_id: PathId, data: rectification.PlanIn, session: SessionDep) -> Plan:
    plan = rectification.submit_plan(session, item_id, data)
    commit(session, plan)
    return plan


@router.post("/plans/{plan_id}/review", response_model=rectification.PlanPublic, tags=["items"])
def review_plan(plan_id: PathId, data: rectification.PlanReview, session: SessionDep) -> Plan:
    plan = rectification.review_plan(session, plan_id, data)
    commit(session, plan)
    return plan


@router.get(
    "/items/{item_id}/progress", response_model=rectification.ProgressListPublic, tags=["items"]
)
def list_progress(item_id: PathId, session: SessionDep, page: PageDep) -> Listing[ProgressUpdate]:
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
    item_id: PathId, data: rectification.ProgressIn, session: SessionDep
) -> ProgressUpdate:
    update = rectification.report_progress(session, item_id, data)
    commit(session, update)
    return update


@router.post("/items/{item_id}/complete", response_model=Item, tags=["items"])
def complete(
    item_id: PathId, data: rectification.CompletionIn, session: SessionDep
) -> RectificationItem:
    item = rectification.complete(session, item_id, data)
    commit(session, item)
    return item


@router.post("/items/{item_id}/recheck", response_model=Item, tags=["items"])
def recheck(
    item_id: PathId, data: rectification.RecheckIn, session: SessionDep
) -> RectificationItem:
    item = rectification.recheck(session, item_id, data)
    commit(session, item)
    return item
