"""The approver's pages: the inbox of what awaits a decision (待审定) and one decision page per
topic and per report, whose forms call the same domain operations as the API.

A decision stages its change, audit, outbox and follow-up rows in the request's transaction and
commits once (`api.deps.commit`, which also asks for prompt delivery of the messages). Nothing
here talks to Prefect while a transaction is open: approving starts no flow run (the office
starts the next stage), and prompt delivery runs after the commit, off the request; if Prefect
is unreachable the follow-up sweep delivers later and the decision stands."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.deps import PathId, ReadSessionDep, SessionDep, commit
from api.pages.render import PageRoute, flash, page, require
from api.pages.routes import Reader
from models import approvals
from models import report as reports
from models import topic as topics
from models.access import Can
from models.errors import Invalid

INBOX = "/approvals"
router = APIRouter(route_class=PageRoute, include_in_schema=False)
ListPage = Annotated[int, Query(ge=1, le=100_000)]


def _reason_error(exc: ValidationError | Invalid, what: str) -> str:
    """A refused comment or reason, as the person reads it beside the field."""
    if isinstance(exc, Invalid):
        return exc.message
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        if err.get("type") == "string_too_short":
            return f"{what}不少于 {ctx.get('min_length', 2)} 个字"
        if err.get("type") == "string_too_long":
            return f"{what}不能超过 {ctx.get('max_length', 1000)} 个字"
    return f"{what}不合要求，请修改后再提交"


@router.get(INBOX)
def inbox(
    request: Request,
    session: ReadSessionDep,
    person: Reader,
    topics_page: ListPage = 1,
    reports_page: ListPage = 1,
) -> Response:
    """Topics and reports awaiting a decision, the longest waiting first."""
    require(person, Can.DECIDE)
    waiting_topics = approvals.awaiting_topics(session, page=topics_page)
    waiting_reports = approvals.awaiting_reports(session, page=reports_page)
    session.commit()
    return page(
        request,
        "approvals.html",
        person=person,
        title="待审定",
        topics=waiting_topics,
        reports=waiting_reports,
        topics_page=topics_page,
        reports_page=reports_page,
    )


def _topic_page(
    request: Request,
    session: SessionDep,
    person: Reader,
    topic_id: int,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    found = approvals.topic_to_decide(session, topic_id)
    session.commit()
    return page(
        request,
        "approval_topic.html",
        person=person,
        status_code=422 if errors else 200,
        title=f"审定议题：{found.title}",
        topic=found,
        typed=typed or {},
        errors=errors or {},
    )


@router.get(INBOX + "/topics/{topic_id}")
def topic_decision(
    request: Request, session: ReadSessionDep, person: Reader, topic_id: PathId
) -> Response:
    """A topic as the approver reads it, with the two decisions."""
    require(person, Can.DECIDE)
    return _topic_page(request, session, person, topic_id)


@router.post(INBOX + "/topics/{topic_id}/approve")
def approve_topic(
    request: Request,
    session: SessionDep,
    person: Reader,
    topic_id: PathId,
    comment: Annotated[str, Form()] = "",
) -> Response:
    require(person, Can.DECIDE)
    try:
        decision = topics.Decision(comment=comment.strip() or None)
        topic = topics.approve(session, topic_id, decision, by=person.id)
    except (ValidationError, Invalid) as exc:
        session.rollback()
        errors = {"comment": _reason_error(exc, "审定意见")}
        return _topic_page(
            request, session, person, topic_id, typed={"comment": comment}, errors=errors
        )
    title = topic.title
    commit(session)
    response = RedirectResponse(INBOX, status_code=303)
    flash(response, f"已同意议题“{title}”，协商办将据此启动下一环节（明确主体）")
    return response


@router.post(INBOX + "/topics/{topic_id}/reject")
def reject_topic(
    request: Request,
    session: SessionDep,
    person: Reader,
    topic_id: PathId,
    reason: Annotated[str, Form()] = "",
) -> Response:
    require(person, Can.DECIDE)
    try:
        if not reason.strip():
            raise Invalid("请填写不同意的理由", field="reason")
        topic = topics.reject(session, topic_id, topics.Rejection(reason=reason), by=person.id)
    except (ValidationError, Invalid) as exc:
        session.rollback()
        errors = {"reason": _reason_error(exc, "理由")}
        return _topic_page(
            request, session, person, topic_id, typed={"reason": reason}, errors=errors
        )
    title = topic.title
    commit(session)
    response = RedirectResponse(INBOX, status_code=303)
    flash(response, f"已退回议题“{title}”（不同意），理由已告知协商办和提出人")
    return response


def _report_page(
    request: Request,
    session: SessionDep,
    person: Reader,
    report_id: int,
    *,
    typed: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    adopted: set[int] | None = None,
) -> Response:
    found = approvals.report_to_decide(session, report_id)
    session.commit()
    return page(
        request,
        "approval_report.html",
        person=person,
        status_code=422 if errors else 200,
        title=f"审定报告：{found.title}",
        report=found,
        typed=typed or {},
        errors=errors or {},
        adopted=adopted if adopted is not None else {s.id for s in found.suggestions},
    )


@router.get(INBOX + "/reports/{report_id}")
def report_decision(
    request: Request, session: ReadSessionDep, person: Reader, report_id: PathId
) -> Response:
    """A report as the approver reads it: its content, the suggestions to adopt, two decisions."""
    require(person, Can.DECIDE)
    return _report_page(request, session, person, report_id)


@router.post(INBOX + "/reports/{report_id}/approve")
def approve_report(
    request: Request,
    session: SessionDep,
    person: Reader,
    report_id: PathId,
    comment: Annotated[str, Form()] = "",
    adopt: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Approve, adopting the suggestions left ticked (all of them unless one is unticked)."""
    require(person, Can.DECIDE)
    chosen = set(adopt or [])
    suggestions = approvals.report_to_decide(session, report_id).suggestions
    try:
        data = reports.ReportApproval(
            decisions=[
                reports.AdoptionDecision(suggestion_id=s.id, adopted=s.id in chosen)
                for s in suggestions
            ],
            adopt_all_others=False,
            comment=comment.strip() or None,
        )
        report = reports.approve(session, report_id, data, by=person.id)
    except (ValidationError, Invalid) as exc:
        session.rollback()
        errors = {"comment": _reason_error(exc, "审定意见")}
        return _report_page(
            request,
            session,
            person,
            report_id,
            typed={"comment": comment},
            errors=errors,
            adopted=chosen,
        )
    title = report.title
    adopted = sum(1 for s in suggestions if s.id in chosen)
    commit(session)
    response = RedirectResponse(INBOX, status_code=303)
    flash(
        response,
        f"已同意报告“{title}”，采纳建议 {adopted} / {len(suggestions)} 条；协商办将据此转交办理",
    )
    return response


@router.post(INBOX + "/reports/{report_id}/return")
def return_report(
    request: Request,
    session: SessionDep,
    person: Reader,
    report_id: PathId,
    reason: Annotated[str, Form()] = "",
) -> Response:
    require(person, Can.DECIDE)
    try:
        if not reason.strip():
            raise Invalid("请填写退回修改的理由", field="reason")
        report = reports.return_report(
            session, report_id, reports.ReportReturn(reason=reason), by=person.id
        )
    except (ValidationError, Invalid) as exc:
        session.rollback()
        errors = {"reason": _reason_error(exc, "退回理由")}
        return _report_page(
            request, session, person, report_id, typed={"reason": reason}, errors=errors
        )
    title = report.title
    commit(session)
    response = RedirectResponse(INBOX, status_code=303)
    flash(response, f"已将报告“{title}”退回修改，协商办修改后将重新报送")
    return response
