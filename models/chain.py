"""三单联动: a topic's chain from opinion to re-check, and its three lists as rows.

One read model, a fixed number of queries whatever the topic's size (one per kind of record,
never one per record): opinion → suggestion → item → plan → progress → evidence → rating →
re-check → third-party evaluation (which scores the outcome of every item of the topic). Every record carries the ids of its parents and of its children, so the chain can be
walked both ways. The three lists (问题清单, 任务清单, 责任清单) are rows derived from the same
chain, with the links as columns, ready for XLSX or CSV.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from config.settings import get_settings
from models import evaluation as evaluations
from models import rubric
from models.case import get
from models.enums import ADOPTION_LABELS, PLAN_STATUS_LABELS
from models.rectification import ITEM_STATUS_LABELS
from models.tables import (
    ConsultationSession,
    Department,
    Evaluation,
    Opinion,
    Person,
    Plan,
    ProgressUpdate,
    Rating,
    RectificationItem,
    Suggestion,
    Topic,
)


class Kind(StrEnum):
    """The links of the chain, in order."""

    OPINION = "opinion"
    SUGGESTION = "suggestion"
    ITEM = "item"
    PLAN = "plan"
    PROGRESS = "progress"
    EVIDENCE = "evidence"
    RATING = "rating"
    RECHECK = "recheck"
    EVALUATION = "evaluation"


class ChainNode(BaseModel):
    """One record of the chain with its links both ways (kind → ids)."""

    id: int = Field(description="记录编号（佐证材料与回头看分别取其进展、事项的编号）")
    summary: str = Field(description="记录摘要")
    detail: dict[str, Any] = Field(default_factory=dict, description="记录的主要字段")
    parents: dict[Kind, list[int]] = Field(default_factory=dict, description="上游记录")
    children: dict[Kind, list[int]] = Field(default_factory=dict, description="下游记录")


class ChainPublic(BaseModel):
    """三单联动: every record of a topic's chain, by kind, each linked both ways."""

    topic_id: int
    title: str
    opinion: list[ChainNode]
    suggestion: list[ChainNode]
    item: list[ChainNode]
    plan: list[ChainNode]
    progress: list[ChainNode]
    evidence: list[ChainNode]
    rating: list[ChainNode]
    recheck: list[ChainNode]
    evaluation: list[ChainNode]


@dataclass
class Records:
    """What the chain is built from: one query per kind of record."""

    topic: Topic
    opinions: list[Opinion]
    suggestions: list[Suggestion]
    items: list[RectificationItem]
    plans: list[Plan]
    progress: list[ProgressUpdate]
    ratings: list[Rating]
    evaluations: list[Evaluation]
    departments: dict[int, str]
    people: dict[int, str]


def load(session: Session, topic_id: int) -> Records:
    """Nine queries for any topic: topic, opinions, suggestions, items, plans, progress,
    ratings, evaluations, and the names of the departments and people they mention."""
    topic = get(session, Topic, topic_id)
    opinions = session.exec(
        select(Opinion)
        .join(ConsultationSession, Opinion.session_id == ConsultationSession.id)  # type: ignore[arg-type]
        .where(ConsultationSession.topic_id == topic_id)
        .order_by(Opinion.id)  # type: ignore[arg-type]
    ).all()
    suggestions = session.exec(
        select(Suggestion).where(Suggestion.topic_id == topic_id).order_by(Suggestion.id)  # type: ignore[arg-type]
    ).all()
    items = session.exec(
        select(RectificationItem)
        .where(RectificationItem.topic_id == topic_id)
        .order_by(RectificationItem.id)  # type: ignore[arg-type]
    ).all()
    of_topic = select(RectificationItem.id).where(RectificationItem.topic_id == topic_id)
    plans = session.exec(
        select(Plan).where(Plan.item_id.in_(of_topic)).order_by(Plan.item_id, Plan.version)  # type: ignore[attr-defined, arg-type]
    ).all()
    progress = session.exec(
        select(ProgressUpdate)
        .where(ProgressUpdate.item_id.in_(of_topic))  # type: ignore[attr-defined]
        .order_by(ProgressUpdate.id)  # type: ignore[arg-type]
    ).all()
    ratings = session.exec(
        select(Rating).where(Rating.topic_id == topic_id).order_by(Rating.id)  # type: ignore[arg-type]
    ).all()
    evaluations = session.exec(
        select(Evaluation).where(Evaluation.topic_id == topic_id).order_by(Evaluation.id)  # type: ignore[arg-type]
    ).all()
    departments = {d.id: d.name for d in session.exec(select(Department)).all() if d.id}
    people_ids = (
        {i.officer_id for i in items}
        | {p.responsible_id for p in plans}
        | {e.evaluator_id for e in evaluations}
    )
    people = (
        {
            p.id: p.name
            for p in session.exec(select(Person).where(Person.id.in_(people_ids))).all()  # type: ignore[union-attr]
            if p.id
        }
        if people_ids
        else {}
    )
    return Records(
        topic,
        list(opinions),
        list(suggestions),
        list(items),
        list(plans),
        list(progress),
        list(ratings),
        list(evaluations),
        departments,
        people,
    )


def local(when: dt.datetime | None, *, date_only: bool = False) -> str:
    """A moment as people read it: Asia/Shanghai, to the minute (or the date)."""
    if when is None:
        return ""
    moment = when.astimezone(get_settings().tz)
    return moment.strftime("%Y-%m-%d" if date_only else "%Y-%m-%d %H:%M")


def _plan_of(plans: list[Plan], progress: ProgressUpdate) -> int | None:
    """The plan a progress update reports on: the item's newest plan submitted before it."""
    before = [p for p in plans if p.submitted_at <= progress.created_at]
    chosen = before[-1] if before else (plans[-1] if plans else None)
    return chosen.id if chosen else None


class _Links:
    """Parent → child edges, recorded once and read both ways."""

    def __init__(self) -> None:
        self.down: dict[tuple[Kind, int], dict[Kind, list[int]]] = defaultdict(dict)
        self.up: dict[tuple[Kind, int], dict[Kind, list[int]]] = defaultdict(dict)

    def add(self, parent: tuple[Kind, int], child: tuple[Kind, int]) -> None:
        self.down[parent].setdefault(child[0], []).append(child[1])
        self.up[child].setdefault(parent[0], []).append(parent[1])

    def node(self, kind: Kind, ident: int, summary: str, **detail: Any) -> ChainNode:
        return ChainNode(
            id=ident,
            summary=summary,
            detail=detail,
            parents=dict(self.up.get((kind, ident), {})),
            children=dict(self.down.get((kind, ident), {})),
        )


def build(records: Records) -> ChainPublic:
    """The chain from the loaded records (no queries)."""
    links = _Links()
    opinion_ids = {o.id for o in records.opinions}
    for s in records.suggestions:
        for oid in s.opinion_ids:
            if oid in opinion_ids:
                links.add((Kind.OPINION, oid), (Kind.SUGGESTION, s.id))  # type: ignore[arg-type]
    plans_by_item: dict[int, list[Plan]] = defaultdict(list)
    for p in records.plans:
        plans_by_item[p.item_id].append(p)
    for i in records.items:
        links.add((Kind.SUGGESTION, i.suggestion_id), (Kind.ITEM, i.id))  # type: ignore[arg-type]
        for p in plans_by_item[i.id]:  # type: ignore[index]
            links.add((Kind.ITEM, i.id), (Kind.PLAN, p.id))  # type: ignore[arg-type]
        if i.recheck_due_at or i.rechecked_at:
            links.add((Kind.ITEM, i.id), (Kind.RECHECK, i.id))  # type: ignore[arg-type]
        if i.reopened_from_id is not None:  # the 回头看 that found the rebound reopened it
            links.add((Kind.RECHECK, i.reopened_from_id), (Kind.ITEM, i.id))  # type: ignore[arg-type]
    for u in records.progress:
        plan = _plan_of(plans_by_item[u.item_id], u)
        parent = (Kind.PLAN, plan) if plan is not None else (Kind.ITEM, u.item_id)
        links.add(parent, (Kind.PROGRESS, u.id))  # type: ignore[arg-type]
        if u.evidence_ref:
            links.add((Kind.PROGRESS, u.id), (Kind.EVIDENCE, u.id))  # type: ignore[arg-type]
    rechecked = {i.id for i in records.items if i.recheck_due_at or i.rechecked_at}
    for r in records.ratings:
        if r.item_id is not None:
            links.add((Kind.ITEM, r.item_id), (Kind.RATING, r.id))  # type: ignore[arg-type]
            if r.item_id in rechecked:
                links.add((Kind.RATING, r.id), (Kind.RECHECK, r.item_id))  # type: ignore[arg-type]
    for e in records.evaluations:  # an evaluation scores the outcome of every item
        for i in records.items:
            links.add((Kind.ITEM, i.id), (Kind.EVALUATION, e.id))  # type: ignore[arg-type]
    depts, people = records.departments, records.people
    return ChainPublic(
        topic_id=records.topic.id,  # type: ignore[arg-type]
        title=records.topic.title,
        opinion=[
            links.node(
                Kind.OPINION,
                o.id,  # type: ignore[arg-type]
                o.content[:80],
                session_id=o.session_id,
                participant_id=o.participant_id,
                consensus=o.consensus,
            )
            for o in records.opinions
        ],
        suggestion=[
            links.node(
                Kind.SUGGESTION,
                s.id,  # type: ignore[arg-type]
                s.content[:80],
                adoption=s.adoption.value,
                adoption_label=ADOPTION_LABELS[s.adoption],
            )
            for s in records.suggestions
        ],
        item=[
            links.node(
                Kind.ITEM,
                i.id,  # type: ignore[arg-type]
                i.title,
                external_id=i.external_id,
                status=i.status.value,
                status_label=ITEM_STATUS_LABELS[i.status],
                lead_department=depts.get(i.lead_department_id, ""),
                officer=people.get(i.officer_id, ""),
                deadline=local(i.deadline, date_only=True),
                progress_percent=i.progress_percent,
            )
            for i in records.items
        ],
        plan=[
            links.node(
                Kind.PLAN,
                p.id,  # type: ignore[arg-type]
                p.target[:80],
                version=p.version,
                status=p.status.value,
                status_label=PLAN_STATUS_LABELS[p.status],
                responsible=people.get(p.responsible_id, ""),
                deadline=local(p.deadline, date_only=True),
            )
            for p in records.plans
        ],
        progress=[
            links.node(
                Kind.PROGRESS,
                u.id,  # type: ignore[arg-type]
                u.note[:80],
                item_id=u.item_id,
                percent=u.percent,
                at=local(u.created_at),
            )
            for u in records.progress
        ],
        evidence=[
            links.node(Kind.EVIDENCE, u.id, u.evidence_ref or "", ref=u.evidence_ref)  # type: ignore[arg-type]
            for u in records.progress
            if u.evidence_ref
        ],
        rating=[
            links.node(
                Kind.RATING,
                r.id,  # type: ignore[arg-type]
                f"{r.score} 分，{'满意' if r.satisfied else '不满意'}",
                score=r.score,
                satisfied=r.satisfied,
                rater_kind=r.rater_kind.value,
                at=local(r.created_at),
            )
            for r in records.ratings
        ],
        recheck=[
            links.node(
                Kind.RECHECK,
                i.id,  # type: ignore[arg-type]
                _recheck_text(i),
                due=local(i.recheck_due_at, date_only=True),
                at=local(i.rechecked_at),
                rebound=i.rebound,
            )
            for i in records.items
            if i.recheck_due_at or i.rechecked_at
        ],
        evaluation=[
            links.node(
                Kind.EVALUATION,
                e.id,  # type: ignore[arg-type]
                _evaluation_text(e, people.get(e.evaluator_id, "")),
                evaluator=people.get(e.evaluator_id, ""),
                status=evaluations.status_of(e),
                overall=e.overall,
                band=rubric.band(e.overall),
                scores=e.scores,
                at=local(e.submitted_at),
            )
            for e in records.evaluations
        ],
    )


def _evaluation_text(e: Evaluation, evaluator: str) -> str:
    status = evaluations.status_of(e)
    if status == "submitted":
        return f"{evaluator}第三方评估：{e.overall} 分（{rubric.band(e.overall)}）"
    return f"{evaluator}第三方评估：{evaluations.STATUS_LABELS[status]}"


def _recheck_text(item: RectificationItem) -> str:
    if item.rechecked_at is None:
        return f"待回头看（{local(item.recheck_due_at, date_only=True)}）"
    return "回头看：出现反弹" if item.rebound else "回头看：未反弹"


def chain(session: Session, topic_id: int) -> ChainPublic:
    return build(load(session, topic_id))


# --- the three lists ------------------------------------------------------------------------


class ListName(StrEnum):
    """三单: 问题清单 (opinions and suggestions), 任务清单 (what is done about each and with what
    result), 责任清单 (who answers for each item)."""

    SUGGESTIONS = "suggestions"
    ITEMS = "items"
    RESPONSIBILITIES = "responsibilities"

    @property
    def label(self) -> str:
        return LIST_LABELS[self]


LIST_LABELS = {
    ListName.SUGGESTIONS: "问题清单",
    ListName.ITEMS: "任务清单",
    ListName.RESPONSIBILITIES: "责任清单",
}
HEADERS: dict[ListName, list[str]] = {
    ListName.SUGGESTIONS: [
        "建议编号",
        "议题编号",
        "建议内容",
        "来源意见编号",
        "来源意见",
        "采纳情况",
        "采纳说明",
        "转化事项编号",
    ],
    ListName.ITEMS: [
        "事项编号",
        "外部编号",
        "议题编号",
        "来源建议编号",
        "事项",
        "状态",
        "整改期限",
        "整改方案编号",
        "方案状态",
        "最新进度（%）",
        "最新进展",
        "进展编号",
        "佐证材料",
        "办结时间",
        "问题已解决",
        "形成长效机制",
        "评价编号",
        "满意评价数/评价数",
        "回头看期限",
        "回头看结果",
    ],
    ListName.RESPONSIBILITIES: [
        "事项编号",
        "外部编号",
        "来源建议编号",
        "事项",
        "牵头单位",
        "配合单位",
        "联络员",
        "方案责任人",
        "整改期限",
        "转交时间",
        "签收时间",
        "退回次数",
        "协商办裁定",
    ],
}


def _ids(values: Any) -> str:
    return "、".join(str(v) for v in values)


def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("是" if value else "否")


def list_rows(records: Records, name: ListName) -> list[list[Any]]:
    """One list's rows (without the header), links as columns of ids."""
    opinions = {o.id: o for o in records.opinions}
    items_of: dict[int, list[int]] = defaultdict(list)
    for i in records.items:
        items_of[i.suggestion_id].append(i.id)  # type: ignore[arg-type]
    if name is ListName.SUGGESTIONS:
        return [
            [
                s.id,
                s.topic_id,
                s.content,
                _ids(s.opinion_ids),
                "；".join(opinions[o].content for o in s.opinion_ids if o in opinions),
                ADOPTION_LABELS[s.adoption],
                s.adoption_note or "",
                _ids(items_of[s.id]),  # type: ignore[index]
            ]
            for s in records.suggestions
        ]
    plans: dict[int, list[Plan]] = defaultdict(list)
    for p in records.plans:
        plans[p.item_id].append(p)
    progress: dict[int, list[ProgressUpdate]] = defaultdict(list)
    for u in records.progress:
        progress[u.item_id].append(u)
    ratings: dict[int, list[Rating]] = defaultdict(list)
    for r in records.ratings:
        if r.item_id is not None:
            ratings[r.item_id].append(r)
    depts, people = records.departments, records.people
    rows: list[list[Any]] = []
    for i in records.items:
        ident: int = i.id  # type: ignore[assignment]
        current = plans[ident][-1] if plans[ident] else None
        if name is ListName.ITEMS:
            last = progress[ident][-1] if progress[ident] else None
            rated = ratings[ident]
            rows.append(
                [
                    ident,
                    i.external_id or "",
                    i.topic_id,
                    i.suggestion_id,
                    i.title,
                    ITEM_STATUS_LABELS[i.status],
                    local(i.deadline, date_only=True),
                    _ids(p.id for p in plans[ident]),
                    PLAN_STATUS_LABELS[current.status] if current else "",
                    i.progress_percent if i.progress_percent is not None else "",
                    last.note if last else "",
                    _ids(u.id for u in progress[ident]),
                    "；".join(u.evidence_ref for u in progress[ident] if u.evidence_ref),
                    local(i.completed_at),
                    _yes_no(i.solved),
                    _yes_no(i.long_term_mechanism),
                    _ids(r.id for r in rated),
                    f"{sum(r.satisfied for r in rated)}/{len(rated)}" if rated else "",
                    local(i.recheck_due_at, date_only=True),
                    _recheck_text(i) if i.rechecked_at else "",
                ]
            )
        else:
            rows.append(
                [
                    ident,
                    i.external_id or "",
                    i.suggestion_id,
                    i.title,
                    depts.get(i.lead_department_id, ""),
                    "、".join(depts.get(d, str(d)) for d in i.co_department_ids),
                    people.get(i.officer_id, ""),
                    people.get(current.responsible_id, "") if current else "",
                    local(i.deadline, date_only=True),
                    local(i.transferred_at),
                    local(i.acknowledged_at),
                    i.bounce_count,  # type: ignore[attr-defined]
                    i.arbitration_note or ("待裁定" if i.arbitration_requested_at else ""),
                ]
            )
    return rows


def export_csv(session: Session, topic_id: int, name: ListName) -> bytes:
    """One list as CSV in UTF-8 with a BOM, so Excel opens the Chinese correctly."""
    records = load(session, topic_id)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADERS[name])
    writer.writerows(list_rows(records, name))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def export_xlsx(session: Session, topic_id: int) -> bytes:
    """The three lists as one workbook, a sheet each, header frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    records = load(session, topic_id)
    book = Workbook()
    first = True
    for name in ListName:
        sheet = book.active if first else book.create_sheet()
        assert sheet is not None
        first = False
        sheet.title = name.label
        sheet.append(HEADERS[name])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for row in list_rows(records, name):
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
