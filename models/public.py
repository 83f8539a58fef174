"""A topic's public progress (公开进展): what anyone may follow without an account.

Only facts about the matter, never about people: stages, the responsibility list by
department, progress, the disclosed result and the satisfaction in aggregate. No names, no
phone numbers, no opinions by author. A proposal not yet approved (or rejected, screened out,
merged) shows only its number and where it stands, with the rule's reason when it was screened
out and the topic it joined when merged: its proposer, who may have no account, follows it here,
and nothing of its text is public before the office has vetted it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.base import PAGE_SIZE, page_count
from models.deadlines import format_local
from models.enums import SOURCE_LABELS, ItemStatus, ScreeningRule, StageState, TopicStatus
from models.errors import NotFound
from models.rectification import ITEM_STATUS_LABELS
from models.screening import RULES
from models.stages import STATE_LABELS, stage_views
from models.tables import (
    Assessment,
    Department,
    Rating,
    RectificationItem,
    ScreeningDecision,
    Topic,
)
from models.work import PUBLIC_STATUSES

TOPIC_STATUS_LABELS = {TopicStatus.IN_PROGRESS: "推进中", TopicStatus.CLOSED: "已办结"}


@dataclass(frozen=True)
class PublicStage:
    label: str
    state: StageState
    state_label: str
    waiting_for: str | None
    finished: str | None


@dataclass(frozen=True)
class PublicItem:
    title: str
    department: str
    status_label: str
    completed: bool
    progress_percent: int | None
    deadline: str


@dataclass(frozen=True)
class PublicTopic:
    id: int
    title: str
    description: str
    category: str
    source_label: str
    status_label: str
    approved: str | None
    stage_label: str
    stages: list[PublicStage]
    stages_done: int
    items: list[PublicItem]  # one page of them
    items_total: int
    items_done: int
    page: int
    pages: int
    result: str | None  # the disclosed result list, once the assessment is closed
    closed: str | None
    ratings: int
    satisfied: int
    average_score: float | None


@dataclass(frozen=True)
class PublicProposal:
    """A proposal on its way in (or turned away): its number and where it stands."""

    id: int
    status_label: str
    explanation: str
    received: str
    merged_into_id: int | None


# Where a proposal stands before (or instead of) entering the loop, as its proposer reads it.
INTAKE: dict[TopicStatus, tuple[str, str]] = {
    TopicStatus.DRAFT: (
        "已受理",
        "议题建议已收到，等待协商办初筛；通过初筛后报同级党组织审定，审定通过即公开协商进展。",
    ),
    TopicStatus.AWAITING_SCREENING: (
        "待协商办确认初筛",
        "初筛发现需要核实的情形（是否属于不予协商的事项、有无内容相近的议题），协商办正在确认。",
    ),
    TopicStatus.AWAITING_APPROVAL: ("待审定", "已通过初筛，正报同级党组织审定。"),
    TopicStatus.REJECTED: ("未获审定", "经同级党组织审定，暂不列为协商议题。"),
    TopicStatus.SCREENED_OUT: ("不予协商", ""),
    TopicStatus.MERGED: ("已并入其他议题", "与更早提出的议题内容相近，已并入该议题统一协商。"),
}


def public_page(session: Session, topic_id: int, *, page: int = 1) -> PublicTopic | PublicProposal:
    """What anyone may read of a topic: its progress once approved, else where the proposal
    stands (no title, no description: the office has not vetted the text)."""
    topic = session.get(Topic, topic_id)
    if topic is None:
        raise NotFound(f"议题 {topic_id} 不存在或尚未公开")
    if topic.status in PUBLIC_STATUSES:
        return public_topic(session, topic_id, page=page)
    label, explanation = INTAKE[topic.status]
    if topic.status is TopicStatus.SCREENED_OUT:
        rule = session.exec(
            select(ScreeningDecision.rule).where(ScreeningDecision.topic_id == topic_id)
        ).first()
        explanation = RULES[ScreeningRule(rule)].reason if rule else "经初筛，不予协商。"
    return PublicProposal(
        id=topic_id,
        status_label=label,
        explanation=explanation,
        received=format_local(topic.created_at),
        merged_into_id=topic.merged_into_id,
    )


def _local(when: dt.datetime | None) -> str | None:
    return format_local(when) if when else None


def public_topic(session: Session, topic_id: int, *, page: int = 1) -> PublicTopic:
    topic = session.get(Topic, topic_id)
    if topic is None or topic.status not in PUBLIC_STATUSES:
        raise NotFound(f"议题 {topic_id} 不存在或尚未公开")
    stages = [
        PublicStage(
            label=v.label,
            state=v.state,
            state_label=STATE_LABELS[v.state],
            waiting_for=v.waiting_for,
            finished=_local(v.finished_at),
        )
        for v in stage_views(session, topic_id)
    ]
    transferred = [
        col(RectificationItem.topic_id) == topic_id,
        col(RectificationItem.status) != ItemStatus.DRAFT,
    ]
    items = [
        PublicItem(
            title=title,
            department=department,
            status_label=ITEM_STATUS_LABELS[ItemStatus(status)],
            completed=ItemStatus(status) is ItemStatus.COMPLETED,
            progress_percent=100 if ItemStatus(status) is ItemStatus.COMPLETED else percent,
            deadline=format_local(deadline),
        )
        for title, department, status, percent, deadline in session.execute(
            sa.select(
                col(RectificationItem.title),
                col(Department.name),
                col(RectificationItem.status),
                col(RectificationItem.progress_percent),
                col(RectificationItem.deadline),
            )
            .join(Department, col(Department.id) == RectificationItem.lead_department_id)
            .where(*transferred)
            .order_by(col(RectificationItem.id))
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).all()
    ]
    total, done = session.execute(
        sa.select(
            sa.func.count(col(RectificationItem.id)),
            sa.func.coalesce(
                sa.func.sum(
                    sa.case((col(RectificationItem.status) == ItemStatus.COMPLETED, 1), else_=0)
                ),
                0,
            ),
        ).where(*transferred)
    ).one()
    assessment = session.exec(
        select(Assessment).where(Assessment.topic_id == topic_id, col(Assessment.public).is_(True))
    ).first()
    ratings, satisfied, average = session.execute(
        sa.select(
            sa.func.count(col(Rating.id)),
            sa.func.coalesce(
                sa.func.sum(sa.case((col(Rating.satisfied).is_(True), 1), else_=0)), 0
            ),
            sa.func.avg(col(Rating.score)),
        ).where(col(Rating.topic_id) == topic_id)
    ).one()
    return PublicTopic(
        id=topic_id,
        title=topic.title,
        description=topic.description,
        category=topic.category,
        source_label=SOURCE_LABELS[topic.source],
        status_label=TOPIC_STATUS_LABELS[topic.status],
        approved=_local(topic.approved_at),
        stage_label=topic.stage.label,
        stages=stages,
        stages_done=sum(s.state is StageState.DONE for s in stages),
        items=items,
        items_total=int(total),
        items_done=int(done),
        page=page,
        pages=page_count(int(total)),
        result=assessment.summary if assessment else None,
        closed=_local(assessment.closed_at) if assessment else None,
        ratings=int(ratings),
        satisfied=int(satisfied),
        average_score=round(float(average), 1) if average is not None else None,
    )
