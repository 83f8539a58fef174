"""报送成果: the report compiled from the session's results, and its approval.

Every submission is kept as a version (report_version, 第 1 版, 第 2 版 …): compiling the report
submits version 1; each revision submits the next (a resubmission after a return, or an edit
before any decision, which supersedes the version it replaces); returning and approving record
their decision on the current version. A version's title, content and lists are written once;
only its decision is filled in, once. Its documents (DOCX, PDF) are built from that row alone
(models/report_document.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, StrictBool, computed_field
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from config.settings import get_settings
from models.access import Can, require
from models.base import Body, Id, Page, utcnow
from models.case import (
    Listing,
    audit,
    children,
    close_follow_ups,
    get,
    queue,
    request_approval,
    role_tag,
)
from models.deadlines import format_local
from models.enums import (
    Adoption,
    Obligation,
    ReportStatus,
    Role,
    Rsvp,
    SessionStatus,
    Stage,
    VersionDecision,
)
from models.errors import Conflict, Invalid, NotFound
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
    ReportVersion,
    ReportVersionRecord,
    ResearchTask,
    Suggestion,
    Topic,
)

DECISION_LABELS = {
    None: "待审定",
    VersionDecision.RETURNED: "退回修改",
    VersionDecision.APPROVED: "审定通过",
    VersionDecision.SUPERSEDED: "已由新版本取代（未经审定）",
}
AUTOMATIC = "系统自动生成"  # who submitted version 1: the report stage compiles it


class ReportPublic(ReportRecord):
    id: int

    @computed_field(description="各版本列表（GET）")  # type: ignore[prop-decorator]
    @property
    def versions(self) -> str:
        return f"/reports/{self.id}/versions"


class ReportVersionPublic(ReportVersionRecord):
    id: int

    @computed_field(description="本版 Word 文档下载地址（GET）")  # type: ignore[prop-decorator]
    @property
    def docx(self) -> str:
        return document_url(self.report_id, self.number, "docx")

    @computed_field(description="本版 PDF 文档下载地址（GET）")  # type: ignore[prop-decorator]
    @property
    def pdf(self) -> str:
        return document_url(self.report_id, self.number, "pdf")


class ReportVersionsPublic(Page[ReportVersionPublic]):
    """A report's versions, first to last."""


class VersionLine(BaseModel):
    """One version as a page lists it: who submitted it, how it ended, its two documents."""

    number: int
    submitted_text: str  # 2026年12月03日 10:30, in Asia/Shanghai
    submitted_by: str
    decision_label: str
    decision_comment: str | None
    decided_by: str | None
    decided_text: str | None
    docx: str
    pdf: str


def document_url(report_id: int, number: int, kind: str) -> str:
    return f"/reports/{report_id}/versions/{number}.{kind}"


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


def _lists(session: Session, topic_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The 协商意见建议清单 and the consensus opinions as they stand now (two queries)."""
    suggestions = [
        {"id": s.id, "content": s.content}
        for s in session.exec(
            select(Suggestion).where(Suggestion.topic_id == topic_id).order_by(Suggestion.id)  # type: ignore[arg-type]
        )
    ]
    opinions = [
        {"id": o.id, "speaker": name, "content": o.content}
        for o, name in session.exec(
            select(Opinion, Person.name)
            .join(Participant, Participant.id == Opinion.participant_id)  # type: ignore[arg-type]
            .join(Person, Person.id == Participant.person_id)  # type: ignore[arg-type]
            .join(ConsultationSession, ConsultationSession.id == Opinion.session_id)  # type: ignore[arg-type]
            .where(ConsultationSession.topic_id == topic_id, Opinion.consensus.is_(True))  # type: ignore[attr-defined]
            .order_by(Opinion.id)  # type: ignore[arg-type]
        )
    ]
    return suggestions, opinions


def _submit_version(
    session: Session, report: Report, topic: Topic, *, by: int | None, now: dt.datetime
) -> ReportVersion:
    """Keep the report as it is submitted now as its next version."""
    last = session.exec(
        select(sa.func.max(ReportVersion.number)).where(ReportVersion.report_id == report.id)
    ).one()
    suggestions, opinions = _lists(session, report.topic_id)
    row = ReportVersion(
        report_id=report.id,  # type: ignore[arg-type]
        number=(last or 0) + 1,
        topic_title=topic.title,
        title=report.title,
        content=report.content,
        suggestions=suggestions,
        opinions=opinions,
        submitted_at=now,
        submitted_by_id=by,
    )
    session.add(row)
    report.current_version = row.number
    session.flush()
    return row


def _current(session: Session, report: Report) -> ReportVersion | None:
    return session.exec(
        select(ReportVersion).where(
            ReportVersion.report_id == report.id, ReportVersion.number == report.current_version
        )
    ).first()


def _decide(
    session: Session,
    report: Report,
    decision: VersionDecision,
    *,
    by: int | None,
    comment: str | None,
    now: dt.datetime,
    adoptions: dict[int, Suggestion] | None = None,
) -> None:
    """Record how the current version ended (once): its row is final from here on."""
    row = _current(session, report)
    if row is None or row.decision is not None:
        return
    row.decision = decision
    row.decision_comment = comment
    row.decided_by_id = by
    row.decided_at = now
    if adoptions is not None:
        row.suggestions = [
            entry
            | (
                {
                    "adopted": adoptions[entry["id"]].adoption == Adoption.ADOPTED,
                    "note": adoptions[entry["id"]].adoption_note,
                }
                if entry["id"] in adoptions
                else {}
            )
            for entry in row.suggestions
        ]


def versions(
    session: Session, report_id: int, *, limit: int | None = None, offset: int = 0
) -> Listing[ReportVersion]:
    """A report's versions, first to last (NotFound names the report when it does not exist)."""
    return children(
        session,
        Report,
        report_id,
        ReportVersion,
        key="report_id",
        order_by=ReportVersion.number,
        limit=limit,
        offset=offset,
    )


def version(session: Session, report_id: int, number: int) -> ReportVersion:
    """One version of a report, or a 404 that names what is missing."""
    report = get(session, Report, report_id)
    row = session.exec(
        select(ReportVersion).where(
            ReportVersion.report_id == report_id, ReportVersion.number == number
        )
    ).first()
    if row is None:
        raise NotFound(
            f"协商成果报告 {report_id} 没有第 {number} 版（现有第 1 至第 {report.current_version} 版）"
        )
    return row


def version_lines(session: Session, report_id: int) -> list[VersionLine]:
    """The versions as the pages list them, newest first, with names: one query."""
    submitter = aliased(Person)
    decider = aliased(Person)
    rows = session.exec(
        select(ReportVersion, submitter.name, decider.name)  # type: ignore[call-overload]
        .outerjoin(submitter, col(submitter.id) == col(ReportVersion.submitted_by_id))
        .outerjoin(decider, col(decider.id) == col(ReportVersion.decided_by_id))
        .where(ReportVersion.report_id == report_id)
        .order_by(ReportVersion.number.desc())  # type: ignore[attr-defined]
    ).all()
    return [
        VersionLine(
            number=v.number,
            submitted_text=format_local(v.submitted_at),
            submitted_by=by or AUTOMATIC,
            decision_label=DECISION_LABELS[v.decision],
            decision_comment=v.decision_comment,
            decided_by=decided_by,
            decided_text=format_local(v.decided_at) if v.decided_at else None,
            docx=document_url(report_id, v.number, "docx"),
            pdf=document_url(report_id, v.number, "pdf"),
        )
        for v, by, decided_by in rows
    ]


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
    _submit_version(session, report, topic, by=None, now=now)
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
    require(editor, Can.RUN_LOOP, action="修改协商成果报告")
    if report.status == ReportStatus.APPROVED:
        raise Conflict("报告已审定，不能修改")
    now = utcnow()
    # An edit before any decision replaces the version the approver has not decided yet.
    _decide(session, report, VersionDecision.SUPERSEDED, by=editor.id, comment=None, now=now)
    report.content = data.content
    if data.title:
        report.title = data.title
    resubmitted = report.status == ReportStatus.RETURNED
    report.status = ReportStatus.SUBMITTED
    report.return_reason = None
    submitted = _submit_version(session, report, topic, by=editor.id, now=now)
    audit(
        session,
        action="report_revised",
        topic_id=topic.id,
        actor=editor,
        report_version=submitted.number,
    )
    if resubmitted:
        report.submitted_at = now
        _request_approval(session, topic, report, now=now)
    return report


def return_report(
    session: Session, report_id: int, data: ReportReturn, *, by: int | None
) -> Report:
    report, topic = _report(session, report_id)
    approver = get(session, Person, by)
    require(approver, Can.DECIDE, action="审定协商成果报告")
    if report.status != ReportStatus.SUBMITTED:
        raise Conflict("报告不在待审定状态")
    report.status = ReportStatus.RETURNED
    report.return_reason = data.reason
    _decide(
        session,
        report,
        VersionDecision.RETURNED,
        by=approver.id,
        comment=data.reason,
        now=utcnow(),
    )
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
    audit(
        session,
        action="report_returned",
        topic_id=topic.id,
        actor=approver,
        reason=data.reason,
        report_version=report.current_version,
    )
    return report


def approve(session: Session, report_id: int, data: ReportApproval, *, by: int | None) -> Report:
    report, topic = _report(session, report_id)
    approver = get(session, Person, by)
    require(approver, Can.DECIDE, action="审定协商成果报告")
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
    _decide(
        session,
        report,
        VersionDecision.APPROVED,
        by=approver.id,
        comment=data.comment,
        now=report.approved_at,
        adoptions=suggestions,  # type: ignore[arg-type]
    )
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
    audit(
        session,
        action="report_approved",
        topic_id=topic.id,
        actor=approver,
        adopted=adopted,
        report_version=report.current_version,
    )
    settle(session, topic)
    return report
