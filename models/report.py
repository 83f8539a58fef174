"""报送成果: the report compiled from the session's results, and its approval."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, StrictBool
from sqlmodel import Session, select

from config.settings import get_settings
from models.base import Body, Id, utcnow
from models.case import (
    audit,
    close_follow_ups,
    get,
    queue,
    request_approval,
    require_role,
    role_tag,
)
from models.enums import Adoption, Obligation, ReportStatus, Role, Rsvp, SessionStatus, Stage
from models.errors import Conflict, Invalid
from models.messages import render
from models.stages import ensure_in_stage, settle
from models.tables import (
    ConsultationSession,
    Opinion,
    Participant,
    Person,
    Report,
    ReportBase,
    ReportRecord,
    ResearchTask,
    Suggestion,
    Topic,
)


class ReportPublic(ReportRecord):
    id: int


class ReportUpdate(ReportBase, Body):
    """Request body: the office's edit of a returned or submitted report (the title is kept
    when not given)."""

    title: str | None = Field(default=None, min_length=2, max_length=200)  # type: ignore[assignment]


class AdoptionDecision(Body):
    suggestion_id: Id
    adopted: StrictBool
    note: str | None = Field(default=None, max_length=500)


class ReportApproval(Body):
    """Request body: approve the report and decide on every suggestion."""

    decisions: list[AdoptionDecision] = Field(default_factory=list)
    adopt_all_others: StrictBool = Field(
        default=True, description="未逐条列出的建议是否一并采纳（false 时须逐条决定）"
    )
    comment: str | None = Field(default=None, max_length=1000)


class ReportReturn(Body):
    reason: str = Field(min_length=2, max_length=1000)


def compile_report(session: Session, topic_id: int, *, now: dt.datetime | None = None) -> Report:
    """Automatic work of the report stage: write the 协商意见建议清单 and send it for approval."""
    now = now or utcnow()
    existing = session.exec(select(Report).where(Report.topic_id == topic_id)).first()
    if existing:
        return existing
    topic = get(session, Topic, topic_id)
    rounds = session.exec(
        select(ConsultationSession)
        .where(
            ConsultationSession.topic_id == topic_id,
            ConsultationSession.status == SessionStatus.CONCLUDED,
        )
        .order_by(ConsultationSession.round)  # type: ignore[arg-type]
    ).all()
    suggestions = session.exec(
        select(Suggestion).where(Suggestion.topic_id == topic_id).order_by(Suggestion.id)  # type: ignore[arg-type]
    ).all()
    research = session.exec(
        select(ResearchTask).where(ResearchTask.topic_id == topic_id).order_by(ResearchTask.id)  # type: ignore[arg-type]
    ).all()
    opinions = session.exec(
        select(Opinion, Person.name)
        .join(Participant, Participant.id == Opinion.participant_id)  # type: ignore[arg-type]
        .join(Person, Person.id == Participant.person_id)  # type: ignore[arg-type]
        .join(ConsultationSession, ConsultationSession.id == Opinion.session_id)  # type: ignore[arg-type]
        .where(ConsultationSession.topic_id == topic_id)
        .order_by(Opinion.id)  # type: ignore[arg-type]
    ).all()
    attendees = session.exec(
        select(Participant).where(
            Participant.topic_id == topic_id, Participant.rsvp == Rsvp.ACCEPTED
        )
    ).all()
    title, content = render(
        "report",
        {
            "topic": topic,
            "rounds": rounds,
            "suggestions": suggestions,
            "research": research,
            "opinions": opinions,
            "attendee_count": len(attendees),
        },
    )
    report = Report(topic_id=topic_id, title=title, content=content, submitted_at=now)
    session.add(report)
    session.flush()
    _request_approval(session, topic, report, now=now)
    audit(session, action="report_compiled", topic_id=topic_id, report_id=report.id)
    return report


def _request_approval(session: Session, topic: Topic, report: Report, *, now: dt.datetime) -> None:
    request_approval(
        session,
        obligation=Obligation.REPORT_APPROVAL,
        subject_id=report.id,  # type: ignore[arg-type]
        topic_id=topic.id,  # type: ignore[arg-type]
        working_days=get_settings().approval_working_days,
        event_key=f"report:{report.id}:approval_request:{int(now.timestamp())}",
        template="report_approval_request",
        now=now,
        topic=topic,
        report=report,
    )


def _report(session: Session, report_id: int) -> tuple[Report, Topic]:
    report = get(session, Report, report_id, for_update=True)
    topic = get(session, Topic, report.topic_id, for_update=True)
    ensure_in_stage(topic, Stage.REPORT, "办理协商成果报告")
    return report, topic


def revise(session: Session, report_id: int, data: ReportUpdate, *, by: int | None) -> Report:
    report, topic = _report(session, report_id)
    editor = get(session, Person, by)
    require_role(editor, Role.ADMINISTRATOR, action="修改协商成果报告")
    if report.status == ReportStatus.APPROVED:
        raise Conflict("报告已审定，不能修改")
    report.content = data.content
    if data.title:
        report.title = data.title
    resubmitted = report.status == ReportStatus.RETURNED
    report.status = ReportStatus.SUBMITTED
    report.return_reason = None
    audit(session, action="report_revised", topic_id=topic.id, actor=editor)
    if resubmitted:
        now = utcnow()
        report.submitted_at = now
        _request_approval(session, topic, report, now=now)
    return report


def return_report(
    session: Session, report_id: int, data: ReportReturn, *, by: int | None
) -> Report:
    report, topic = _report(session, report_id)
    approver = get(session, Person, by)
    require_role(approver, Role.APPROVER, action="审定协商成果报告")
    if report.status != ReportStatus.SUBMITTED:
        raise Conflict("报告不在待审定状态")
    report.status = ReportStatus.RETURNED
    report.return_reason = data.reason
    close_follow_ups(
        session, obligation=Obligation.REPORT_APPROVAL, subject_ids=[report_id], outcome="退回修改"
    )
    queue(
        session,
        event_key=f"report:{report_id}:returned:{int(utcnow().timestamp())}",
        recipients=[role_tag(Role.ADMINISTRATOR)],
        template="report_returned",
        topic_id=topic.id,
        topic=topic,
        report=report,
        reason=data.reason,
        approver=approver.name,
    )
    audit(session, action="report_returned", topic_id=topic.id, actor=approver, reason=data.reason)
    return report


def approve(session: Session, report_id: int, data: ReportApproval, *, by: int | None) -> Report:
    report, topic = _report(session, report_id)
    approver = get(session, Person, by)
    require_role(approver, Role.APPROVER, action="审定协商成果报告")
    if report.status != ReportStatus.SUBMITTED:
        raise Conflict("报告不在待审定状态")
    suggestions = {
        s.id: s for s in session.exec(select(Suggestion).where(Suggestion.topic_id == topic.id))
    }
    decided: set[int] = set()
    for d in data.decisions:
        if d.suggestion_id not in suggestions:
            raise Invalid(f"建议 {d.suggestion_id} 不属于本议题", field="decisions")
        s = suggestions[d.suggestion_id]
        s.adoption = Adoption.ADOPTED if d.adopted else Adoption.NOT_ADOPTED
        s.adoption_note = d.note
        decided.add(d.suggestion_id)
    undecided = [s for sid, s in suggestions.items() if sid not in decided]
    if undecided and not data.adopt_all_others:
        raise Invalid(f"建议“{undecided[0].content[:30]}”尚未决定是否采纳", field="decisions")
    for s in undecided:
        s.adoption = Adoption.ADOPTED
    report.status = ReportStatus.APPROVED
    report.approved_by_id = approver.id
    report.approved_at = utcnow()
    close_follow_ups(
        session, obligation=Obligation.REPORT_APPROVAL, subject_ids=[report_id], outcome="已审定"
    )
    adopted = sum(1 for s in suggestions.values() if s.adoption == Adoption.ADOPTED)
    queue(
        session,
        event_key=f"report:{report_id}:approved",
        recipients=[role_tag(Role.ADMINISTRATOR)],
        template="report_approved",
        topic_id=topic.id,
        topic=topic,
        approver=approver.name,
        adopted=adopted,
        total=len(suggestions),
    )
    audit(session, action="report_approved", topic_id=topic.id, actor=approver, adopted=adopted)
    settle(session, topic)
    return report
