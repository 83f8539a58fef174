"""What waits for the approver (待审定): topics and reports sent for a decision, the oldest
first, with how long each has waited in working days and the deadline of its approval ladder.

One SELECT per list (its page and the count of all in one answer). The deadline is the one of
the latest request: a report returned and submitted again has the rungs of both requests, and
only the new one counts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.base import PAGE_SIZE, page_count, utcnow
from models.calendar import calendar_for
from models.case import get
from models.deadlines import WorkdayCounter, format_local, local_today
from models.enums import (
    SOURCE_LABELS,
    FollowUpStatus,
    Obligation,
    ReportStatus,
    TopicSource,
    TopicStatus,
)
from models.report import VersionLine, version_lines
from models.tables import (
    LEVEL_LABELS,
    LEVEL_NONE,
    RUNG_LEVELS,
    FollowUp,
    Report,
    Suggestion,
    Topic,
)


@dataclass(frozen=True)
class ApprovalLine:
    """One topic or report awaiting a decision, as the inbox shows it."""

    kind: str  # "topic" or "report": the decision page is /approvals/<kind>s/<id>
    id: int
    title: str
    topic_id: int
    topic_title: str
    since_text: str
    waited: str  # "已等待 3 个工作日"
    deadline_text: str | None  # None: no approval deadline was set (sent for approval by hand)
    time_left: str | None
    overdue: bool
    provisional: bool
    level: int
    level_label: str


@dataclass(frozen=True)
class ApprovalPage:
    lines: list[ApprovalLine]
    count: int
    page: int
    pages: int


@dataclass(frozen=True)
class TopicToDecide:
    """A topic as the approver reads it before deciding; `line` is None once it is decided."""

    id: int
    title: str
    description: str
    category: str
    source_label: str
    urgent: bool
    important: bool
    status_note: str | None  # what became of it, when it no longer awaits a decision
    line: ApprovalLine | None


@dataclass(frozen=True)
class SuggestionToAdopt:
    id: int
    content: str


@dataclass(frozen=True)
class ReportToDecide:
    id: int
    title: str
    content: str
    topic_id: int
    topic_title: str
    suggestions: list[SuggestionToAdopt]
    status_note: str | None
    line: ApprovalLine | None
    versions: list[VersionLine]


def _latest_request(obligation: Obligation) -> Any:
    """Per subject: the deadline, start, rung and estimate of its latest approval request."""
    other = aliased(FollowUp)
    latest = (
        sa.select(sa.func.max(col(other.deadline)))
        .where(
            col(other.obligation) == obligation,
            col(other.subject_id) == col(FollowUp.subject_id),
        )
        .scalar_subquery()
    )
    rung = sa.case(
        *(
            (sa.and_(col(FollowUp.status) == FollowUpStatus.SENT, col(FollowUp.step) == s), lvl)
            for s, lvl in RUNG_LEVELS.items()
        ),
        else_=LEVEL_NONE,
    )
    return (
        sa.select(
            col(FollowUp.subject_id).label("subject_id"),
            sa.func.max(col(FollowUp.deadline)).label("deadline"),
            sa.func.min(col(FollowUp.created_at)).label("since"),
            sa.func.max(sa.case((col(FollowUp.provisional).is_(True), 1), else_=0)).label(
                "provisional"
            ),
            sa.func.max(rung).label("level"),
        )
        .where(col(FollowUp.obligation) == obligation, col(FollowUp.deadline) == latest)
        .group_by(col(FollowUp.subject_id))
        .subquery()
    )


def _topics_stmt() -> Any:
    ladder = _latest_request(Obligation.TOPIC_APPROVAL)
    since = sa.func.coalesce(ladder.c.since, col(Topic.updated_at))
    return (
        sa.select(
            col(Topic.id),
            col(Topic.title),
            col(Topic.id),
            col(Topic.title),
            since,
            ladder.c.deadline,
            ladder.c.provisional,
            ladder.c.level,
            sa.func.count().over(),
        )
        .select_from(Topic)
        .outerjoin(ladder, ladder.c.subject_id == col(Topic.id))
        .where(col(Topic.status) == TopicStatus.AWAITING_APPROVAL)
        .order_by(since, col(Topic.id))
    )


def _reports_stmt() -> Any:
    ladder = _latest_request(Obligation.REPORT_APPROVAL)
    return (
        sa.select(
            col(Report.id),
            col(Report.title),
            col(Topic.id),
            col(Topic.title),
            col(Report.submitted_at),
            ladder.c.deadline,
            ladder.c.provisional,
            ladder.c.level,
            sa.func.count().over(),
        )
        .select_from(Report)
        .join(Topic, col(Topic.id) == col(Report.topic_id))
        .outerjoin(ladder, ladder.c.subject_id == col(Report.id))
        .where(col(Report.status) == ReportStatus.SUBMITTED)
        .order_by(col(Report.submitted_at), col(Report.id))
    )


def _lines(
    session: Session, kind: str, stmt: Any, now: dt.datetime
) -> tuple[list[ApprovalLine], int]:
    rows = session.execute(stmt).all()
    counter = WorkdayCounter(calendar_for(session), local_today(now))
    lines: list[ApprovalLine] = []
    total = 0
    for ident, title, topic_id, topic_title, since, deadline, estimated, level, count in rows:
        total = count
        waited = -counter.between(local_today(since))
        lvl = int(level or LEVEL_NONE)
        lines.append(
            ApprovalLine(
                kind=kind,
                id=ident,
                title=title,
                topic_id=topic_id,
                topic_title=topic_title,
                since_text=format_local(since),
                waited=f"已等待 {waited} 个工作日" if waited else "今日送审",
                deadline_text=format_local(deadline) if deadline else None,
                time_left=counter.time_left(deadline) if deadline else None,
                overdue=bool(deadline and now > deadline),
                provisional=bool(estimated),
                level=lvl,
                level_label=LEVEL_LABELS[lvl],
            )
        )
    return lines, total


def _page(
    session: Session, kind: str, stmt: Any, page: int, now: dt.datetime | None, page_size: int
) -> ApprovalPage:
    now = now or utcnow()
    page = max(page, 1)
    lines, count = _lines(session, kind, stmt.limit(page_size).offset((page - 1) * page_size), now)
    if not lines and page > 1:
        # Past the last page: the pager still wants the count.
        count = int(
            session.execute(
                sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
            ).scalar_one()
        )
    return ApprovalPage(lines, count, page, page_count(count, page_size))


def awaiting_topics(
    session: Session, *, page: int = 1, now: dt.datetime | None = None, page_size: int = PAGE_SIZE
) -> ApprovalPage:
    """Topics sent for approval (审定议题), the longest waiting first."""
    return _page(session, "topic", _topics_stmt(), page, now, page_size)


def awaiting_reports(
    session: Session, *, page: int = 1, now: dt.datetime | None = None, page_size: int = PAGE_SIZE
) -> ApprovalPage:
    """Reports submitted for approval (审定协商成果报告), the longest waiting first."""
    return _page(session, "report", _reports_stmt(), page, now, page_size)


TOPIC_OUTCOMES = {
    TopicStatus.IN_PROGRESS: "该议题已审定同意，正在推进",
    TopicStatus.CLOSED: "该议题已审定同意，并已办结",
    TopicStatus.REJECTED: "该议题未获审定同意",
    TopicStatus.DRAFT: "该议题尚未完成筛查，暂不需要审定",
    TopicStatus.SCREENED_OUT: "该议题未通过筛查，不需要审定",
    TopicStatus.MERGED: "该议题已并入其他议题，不需要审定",
}
REPORT_OUTCOMES = {
    ReportStatus.APPROVED: "该报告已审定同意",
    ReportStatus.RETURNED: "该报告已退回修改，协商办修改后将重新报送",
}


def topic_to_decide(
    session: Session, topic_id: int, *, now: dt.datetime | None = None
) -> TopicToDecide:
    """The topic and, while it awaits a decision, its line of the inbox."""
    topic = get(session, Topic, topic_id)
    line = None
    if topic.status == TopicStatus.AWAITING_APPROVAL:
        found, _ = _lines(
            session, "topic", _topics_stmt().where(col(Topic.id) == topic_id), now or utcnow()
        )
        line = found[0] if found else None
    note = None if line else TOPIC_OUTCOMES.get(topic.status, "该议题当前不需要审定")
    if topic.status == TopicStatus.REJECTED and topic.status_reason:
        note = f"{note}（理由：{topic.status_reason}）"
    return TopicToDecide(
        id=topic_id,
        title=topic.title,
        description=topic.description,
        category=topic.category,
        source_label=SOURCE_LABELS[TopicSource(topic.source)],
        urgent=topic.urgent,
        important=topic.important,
        status_note=note,
        line=line,
    )


def report_to_decide(
    session: Session, report_id: int, *, now: dt.datetime | None = None
) -> ReportToDecide:
    """The report, the suggestions its approval adopts, and its inbox line while it waits."""
    report = get(session, Report, report_id)
    topic = get(session, Topic, report.topic_id)
    suggestions = [
        SuggestionToAdopt(s.id or 0, s.content)
        for s in session.exec(
            select(Suggestion)
            .where(Suggestion.topic_id == report.topic_id)
            .order_by(col(Suggestion.id))
        )
    ]
    line = None
    if report.status == ReportStatus.SUBMITTED:
        found, _ = _lines(
            session, "report", _reports_stmt().where(col(Report.id) == report_id), now or utcnow()
        )
        line = found[0] if found else None
    note = (
        None if line else REPORT_OUTCOMES.get(ReportStatus(report.status), "该报告当前不需要审定")
    )
    if report.status == ReportStatus.RETURNED and report.return_reason:
        note = f"{note}（退回理由：{report.return_reason}）"
    return ReportToDecide(
        id=report_id,
        title=report.title,
        content=report.content,
        topic_id=topic.id or 0,
        topic_title=topic.title,
        suggestions=suggestions,
        status_note=note,
        line=line,
        versions=version_lines(session, report_id),
    )
