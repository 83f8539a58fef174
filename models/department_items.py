"""本单位事项: a department's rectification items as its officer (联络员) and head (负责人) see
them — one page of the list in one SELECT (its count and the overdue count included), and one
item with what the person may do on it now.

Overdue is the monthly bulletin's definition (models.kpis 期末逾期, as of now, declined items
left out), so the head's overdue list and the bulletin name the same items. Who may act on an
item is the rule `models.rectification` enforces again in every operation: its officer, or the
head of its lead department."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Session, col, select

from models.access import POLICY, Can, see_item
from models.base import PAGE_SIZE, page_count, utcnow
from models.calendar import calendar_for
from models.case import department_name, get
from models.deadlines import WorkdayCounter, format_local, local_today
from models.enums import (
    DECLINE_CODE_LABELS,
    EXTENSION_DECISION_LABELS,
    PLAN_STATUS_LABELS,
    DeclineCode,
    ExtensionDecision,
    ItemStatus,
    PlanStatus,
    Role,
    Stage,
)
from models.errors import DomainError, Forbidden
from models.evidence import KIND_NAMES, limits_text, size_text
from models.kpis import COUNTS, Window
from models.rectification import ITEM_STATUS_LABELS
from models.stages import ensure_item_work
from models.tables import (
    LEVEL_LABELS,
    Department,
    EvidenceFile,
    ItemBounce,
    ItemExtension,
    Person,
    Plan,
    ProgressUpdate,
    RectificationItem,
    Topic,
    item_level,
)


class ItemAction(StrEnum):
    """What a department person may do on an item, each one form of the item page."""

    ACKNOWLEDGE = "acknowledge"
    DECLINE = "decline"
    PLAN = "plan"
    PROGRESS = "progress"
    EVIDENCE = "evidence"  # 上传佐证材料
    COMPLETE = "complete"
    EXTENSION = "extension"  # 申请延期


@dataclass(frozen=True)
class DepartmentItemLine:
    """One item of the department's list."""

    id: int
    title: str
    topic_title: str
    officer_name: str
    status_label: str
    completed: bool
    deadline_text: str
    time_left: str
    overdue: bool
    provisional: bool  # a deadline of it rests on an estimated calendar (暂估)
    level: int
    level_label: str
    may_open: bool  # its officer, or the department's head: the item page is his


@dataclass(frozen=True)
class DepartmentItemsPage:
    department: str
    lines: list[DepartmentItemLine]
    count: int
    overdue_count: int  # of the whole department, whichever view is shown
    overdue_only: bool
    page: int
    pages: int


def _overdue(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Open past its deadline, as the bulletin counts it at that moment."""
    return sa.and_(
        col(RectificationItem.status) != ItemStatus.DECLINED,
        COUNTS["items_overdue"].condition(Window.as_of(now)),
    )


def _department_items_where(
    department_id: int, overdue_only: bool, now: dt.datetime
) -> list[sa.ColumnElement[bool]]:
    where = [
        col(RectificationItem.lead_department_id) == department_id,
        col(RectificationItem.status) != ItemStatus.DRAFT,  # not handed to anyone yet
    ]
    if overdue_only:
        where.append(_overdue(now))
    return where


def department_items(
    session: Session,
    person: Person,
    *,
    page: int = 1,
    overdue_only: bool = False,
    now: dt.datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> DepartmentItemsPage:
    """One page of the items the person's department leads: open ones first, the earliest
    deadline first; `overdue_only` keeps those past their deadline (the head's list)."""
    now = now or utcnow()
    page = max(page, 1)
    department_id = person.department_id
    if department_id is None:
        return DepartmentItemsPage("", [], 0, 0, overdue_only, page, 0)
    it = RectificationItem
    overdue = sa.case((_overdue(now), 1), else_=0)
    stmt = (
        sa.select(
            col(it.id),
            col(it.title),
            col(it.status),
            col(it.deadline),
            col(it.deadline_provisional),
            col(it.officer_id),
            item_level(),
            col(Topic.title),
            col(Person.name),
            col(Department.name),
            overdue,
            sa.func.count().over(),
            sa.func.sum(overdue).over(),
        )
        .join(Topic, col(Topic.id) == col(it.topic_id))
        .join(Person, col(Person.id) == col(it.officer_id))
        .join(Department, col(Department.id) == col(it.lead_department_id))
        .where(*_department_items_where(department_id, overdue_only, now))
        .order_by(
            sa.case((col(it.status) == ItemStatus.COMPLETED, 1), else_=0),
            col(it.deadline),
            col(it.id),
        )
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    rows = session.execute(stmt).all()
    if not rows:
        # An empty department, or past the last page: the counts are still wanted.
        return _counts_only(session, department_id, overdue_only, page, now)
    counter = WorkdayCounter(calendar_for(session), local_today(now))
    head = person.role == Role.DEPARTMENT_HEAD
    lines = []
    for (
        item_id,
        title,
        status,
        deadline,
        provisional,
        officer_id,
        level,
        topic_title,
        officer_name,
        _,
        is_overdue,
        _total,
        _overdue_total,
    ) in rows:
        completed = ItemStatus(status) is ItemStatus.COMPLETED
        lines.append(
            DepartmentItemLine(
                id=item_id,
                title=title,
                topic_title=topic_title,
                officer_name=officer_name,
                status_label=ITEM_STATUS_LABELS[ItemStatus(status)],
                completed=completed,
                deadline_text=format_local(deadline),
                time_left="已办结" if completed else counter.time_left(deadline),
                overdue=bool(is_overdue),
                provisional=bool(provisional),
                level=int(level),
                level_label=LEVEL_LABELS[int(level)],
                may_open=head or officer_id == person.id,
            )
        )
    first = rows[0]
    count, overdue_count = int(first[-2]), int(first[-1] or 0)
    if overdue_only:
        overdue_count = count
    return DepartmentItemsPage(
        department=first[9],
        lines=lines,
        count=count,
        overdue_count=overdue_count,
        overdue_only=overdue_only,
        page=page,
        pages=page_count(count, page_size),
    )


def _counts_only(
    session: Session, department_id: int, overdue_only: bool, page: int, now: dt.datetime
) -> DepartmentItemsPage:
    overdue = sa.case((_overdue(now), 1), else_=0)
    count, overdue_count = session.execute(
        sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(overdue), 0)).where(
            *_department_items_where(department_id, overdue_only, now)
        )
    ).one()
    return DepartmentItemsPage(
        department_name(session, department_id),
        [],
        int(count),
        int(count) if overdue_only else int(overdue_count),
        overdue_only,
        page,
        0,
    )


@dataclass(frozen=True)
class PlanView:
    version: int
    target: str
    measures: str
    deadline_text: str
    responsible_name: str
    status_label: str
    review_note: str | None
    adjust_reason: str | None


@dataclass(frozen=True)
class ProgressView:
    note: str
    percent: int
    by_name: str
    at_text: str


@dataclass(frozen=True)
class EvidenceView:
    """One evidence file as the item page lists it (downloadable by its id)."""

    id: int
    filename: str
    kind_name: str
    size_text: str
    at_text: str
    of_progress: bool


@dataclass(frozen=True)
class ExtensionView:
    """One line of the item's extension ledger (延期台账)."""

    old_text: str
    requested_text: str
    reason: str
    decision: ExtensionDecision
    decision_label: str
    comment: str | None
    at_text: str
    direct: bool


@dataclass(frozen=True)
class ItemView:
    """One item as the person who works on it sees it, and what he may do on it now."""

    id: int
    title: str
    topic_title: str
    department: str
    co_departments: str
    officer_name: str
    status: ItemStatus
    status_label: str
    deadline_text: str
    deadline_day: dt.date  # the last day a plan may name (the plan form's upper bound)
    time_left: str
    overdue: bool
    provisional: bool
    level: int
    level_label: str
    ack_due_text: str | None
    plan_due_text: str | None
    decline_reason: str | None
    bounce_count: int
    arbitrated: bool
    reopened_from_id: int | None  # the finished item a failed 回头看 sent back as this one
    progress_percent: int | None
    plan: PlanView | None
    progress: ProgressView | None
    completion_summary: str | None
    completed_text: str | None
    recheck_due_text: str | None
    actions: frozenset[ItemAction]
    waiting: str | None  # why there is nothing to do now, as a person reads it
    people: list[tuple[int, str]]  # whom a plan may name responsible: the department's people
    officer_id: int
    evidence: list[EvidenceView]
    extensions: list[ExtensionView]
    extension_pending: bool
    evidence_limits: str  # what an upload may be, shown before the upload


def may_work(person: Person, item: RectificationItem) -> bool:
    return person.id == item.officer_id or (
        person.role == Role.DEPARTMENT_HEAD and person.department_id == item.lead_department_id
    )


def workable_item(session: Session, person: Person, item_id: int) -> RectificationItem:
    """The item if this person works on it (its officer or the lead department's head); 404
    for a missing id, 403 naming who may for anyone else."""
    item = get(session, RectificationItem, item_id)
    if not may_work(person, item):
        officer = get(session, Person, item.officer_id)
        dept = department_name(session, item.lead_department_id)
        raise Forbidden(
            f"该整改事项由牵头单位{dept}办理，只有其责任人（联络员{officer.name}）"
            f"和{dept}负责人可以查看和办理"
        )
    return item


def department_people(session: Session, item_id: int) -> list[tuple[int, str]]:
    """Whom a plan of the item may name responsible: the officers and heads of its lead
    department (the item's officer among them)."""
    rows = session.execute(
        sa.select(col(Person.id), col(Person.name))
        .join(RectificationItem, col(RectificationItem.id) == item_id)
        .where(
            col(Person.department_id) == col(RectificationItem.lead_department_id),
            col(Person.role).in_([Role.OFFICER, Role.DEPARTMENT_HEAD]),
        )
        .order_by(col(Person.id))
    ).all()
    return [(int(pid), str(name)) for pid, name in rows]


def _under_way(topic: Topic, stage: Stage, item: RectificationItem) -> bool:
    try:
        ensure_item_work(topic, stage, "办理", item=item)
    except DomainError:
        return False
    return True


def _local(when: dt.datetime | None) -> str | None:
    return format_local(when) if when else None


def _actions(item: RectificationItem, topic: Topic) -> tuple[frozenset[ItemAction], str | None]:
    """The forms the item page shows now, or why it shows none (the operations decide again)."""
    status = ItemStatus(item.status)
    if status is ItemStatus.TRANSFERRED and _under_way(topic, Stage.TRANSFER, item):
        if item.arbitrated_at is not None or item.reopened_from_id is not None:
            return frozenset({ItemAction.ACKNOWLEDGE}), None  # no return: see decline
        return frozenset({ItemAction.ACKNOWLEDGE, ItemAction.DECLINE}), None
    implementing = _under_way(topic, Stage.IMPLEMENTATION, item)
    if status is ItemStatus.ACKNOWLEDGED and implementing:
        return frozenset({ItemAction.PLAN, ItemAction.EXTENSION}), None
    if status is ItemStatus.IN_PROGRESS and implementing:
        return frozenset(
            {
                ItemAction.PLAN,
                ItemAction.PROGRESS,
                ItemAction.EVIDENCE,
                ItemAction.COMPLETE,
                ItemAction.EXTENSION,
            }
        ), None
    waiting = {
        ItemStatus.DRAFT: "事项尚未转交，转交后即可在此签收。",
        ItemStatus.TRANSFERRED: "事项待签收，但议题当前不在“转交办理”环节，暂不能签收。",
        ItemStatus.DECLINED: "本单位已退回该事项，等待协商办改派或裁定牵头单位。",
        ItemStatus.ACKNOWLEDGED: "已签收。协商办启动“落实整改”环节后，即可在此提交整改方案。",
        ItemStatus.IN_PROGRESS: "议题当前不在“落实整改”环节，暂不能报送进展或办结。",
        ItemStatus.COMPLETED: "事项已办结，协商办将按期开展回头看。",
    }[status]
    return frozenset(), waiting


def item_view(
    session: Session, person: Person, item_id: int, *, now: dt.datetime | None = None
) -> ItemView:
    """The item page's facts: the item with its ladder level, the current plan, the latest
    progress report and the department's people (a fixed handful of queries)."""
    now = now or utcnow()
    item = workable_item(session, person, item_id)
    topic = get(session, Topic, item.topic_id)
    actions, waiting = _actions(item, topic)
    return _view(session, item, topic, actions, waiting, now)


def _view(
    session: Session,
    item: RectificationItem,
    topic: Topic,
    actions: frozenset[ItemAction],
    waiting: str | None,
    now: dt.datetime,
) -> ItemView:
    item_id: int = item.id  # type: ignore[assignment]
    officer = get(session, Person, item.officer_id)
    people = department_people(session, item_id)
    plan = session.execute(
        sa.select(Plan, col(Person.name))
        .join(Person, col(Person.id) == col(Plan.responsible_id))
        .where(col(Plan.item_id) == item_id)
        .order_by(col(Plan.version).desc())
        .limit(1)
    ).first()
    progress = session.execute(
        sa.select(ProgressUpdate, col(Person.name))
        .join(Person, col(Person.id) == col(ProgressUpdate.by_id))
        .where(col(ProgressUpdate.item_id) == item_id)
        .order_by(col(ProgressUpdate.id).desc())
        .limit(1)
    ).first()
    files = session.exec(
        select(EvidenceFile)
        .where(col(EvidenceFile.item_id) == item_id)
        .order_by(col(EvidenceFile.id))
    ).all()
    ledger = session.exec(
        select(ItemExtension)
        .where(col(ItemExtension.item_id) == item_id)
        .order_by(col(ItemExtension.id))
    ).all()
    status = ItemStatus(item.status)
    completed = status is ItemStatus.COMPLETED
    counter = WorkdayCounter(calendar_for(session), local_today(now))
    pending = any(line.decision == ExtensionDecision.PENDING for line in ledger)
    if pending or now > item.deadline:  # one request at a time, and only before the deadline
        actions = actions - {ItemAction.EXTENSION}
    level = int(item.level)  # type: ignore[attr-defined]
    return ItemView(
        id=item_id,
        title=item.title,
        topic_title=topic.title,
        department=department_name(session, item.lead_department_id),
        co_departments="、".join(department_name(session, d) for d in item.co_department_ids),
        officer_name=officer.name,
        status=status,
        status_label=ITEM_STATUS_LABELS[status],
        deadline_text=format_local(item.deadline),
        deadline_day=local_today(item.deadline),
        time_left="已办结" if completed else counter.time_left(item.deadline),
        overdue=not completed and status is not ItemStatus.DECLINED and now > item.deadline,
        provisional=item.deadline_provisional,
        level=level,
        level_label=LEVEL_LABELS[level],
        ack_due_text=_local(item.ack_due_at) if status is ItemStatus.TRANSFERRED else None,
        plan_due_text=_local(item.plan_due_at) if status is ItemStatus.ACKNOWLEDGED else None,
        decline_reason=item.decline_reason if status is ItemStatus.DECLINED else None,
        bounce_count=int(item.bounce_count),  # type: ignore[attr-defined]
        arbitrated=item.arbitrated_at is not None,
        reopened_from_id=item.reopened_from_id,
        progress_percent=100 if completed else item.progress_percent,
        plan=(
            PlanView(
                version=plan[0].version,
                target=plan[0].target,
                measures=plan[0].measures,
                deadline_text=format_local(plan[0].deadline),
                responsible_name=plan[1],
                status_label=PLAN_STATUS_LABELS[PlanStatus(plan[0].status)],
                review_note=plan[0].review_note,
                adjust_reason=plan[0].adjust_reason,
            )
            if plan
            else None
        ),
        progress=(
            ProgressView(
                note=progress[0].note,
                percent=progress[0].percent,
                by_name=progress[1],
                at_text=format_local(progress[0].created_at),
            )
            if progress
            else None
        ),
        completion_summary=item.completion_summary,
        completed_text=_local(item.completed_at),
        recheck_due_text=_local(item.recheck_due_at) if completed else None,
        actions=actions,
        waiting=waiting,
        people=people,
        officer_id=item.officer_id,
        evidence=[
            EvidenceView(
                id=f.id,  # type: ignore[arg-type]
                filename=f.filename,
                kind_name=KIND_NAMES.get(f.kind, f.kind),
                size_text=size_text(f.size),
                at_text=format_local(f.uploaded_at),
                of_progress=f.progress_id is not None,
            )
            for f in files
        ],
        extensions=[
            ExtensionView(
                old_text=format_local(line.old_deadline),
                requested_text=format_local(line.requested_deadline),
                reason=line.reason,
                decision=ExtensionDecision(line.decision),
                decision_label=EXTENSION_DECISION_LABELS[ExtensionDecision(line.decision)],
                comment=line.comment,
                at_text=format_local(line.requested_at),
                direct=line.direct,
            )
            for line in ledger
        ],
        extension_pending=pending,
        evidence_limits=limits_text(),
    )


class OfficeAction(StrEnum):
    """What the office (and whoever shares a decision on an item) may do on it, each one form
    of its item page."""

    REASSIGN = "reassign"  # 改派 a returned item
    ARBITRATE = "arbitrate"  # 裁定 after repeated returns (final)
    REVIEW_PLAN = "review_plan"  # 审核整改方案
    DECIDE_EXTENSION = "decide_extension"  # 审批延期申请
    EXTEND = "extend"  # 直接调整期限
    RECHECK = "recheck"  # 回头看


# Who takes each decision: the capability the operation itself requires (models.access).
OFFICE_ACTION_ROLES: dict[OfficeAction, frozenset[Role]] = {
    OfficeAction.REASSIGN: POLICY[Can.RUN_LOOP],
    OfficeAction.ARBITRATE: POLICY[Can.RUN_LOOP],
    OfficeAction.REVIEW_PLAN: POLICY[Can.REVIEW_PLAN],
    OfficeAction.DECIDE_EXTENSION: POLICY[Can.DECIDE_EXTENSION],
    OfficeAction.EXTEND: POLICY[Can.EXTEND_DEADLINE],
    OfficeAction.RECHECK: POLICY[Can.RECHECK],
}


@dataclass(frozen=True)
class BounceView:
    department: str
    code_label: str
    reason: str
    at_text: str


@dataclass(frozen=True)
class OfficeItemView:
    """One item as the office sees it: the department's view of it, its returns, and what the
    office may decide on it now (the operations decide again)."""

    item: ItemView
    topic_id: int
    actions: frozenset[OfficeAction]
    bounces: list[BounceView]
    arbitration_requested: bool
    pending_extension_id: int | None
    submitted_plan_id: int | None
    officers: list[tuple[int, str]]  # whom a reassignment may name: '区住建局 · 李强'
    rechecked: str | None  # the re-check's outcome once recorded
    reopened_as_id: int | None  # the item a failed 回头看 opened in its place


def office_item_view(
    session: Session, person: Person, item_id: int, *, now: dt.datetime | None = None
) -> OfficeItemView:
    """The office's item page (a fixed handful of queries, whatever the number of items), with
    the forms of the decisions this person takes; 404 for an item he may not see."""
    now = now or utcnow()
    item = get(session, RectificationItem, item_id)
    see_item(session, person, item)
    topic = get(session, Topic, item.topic_id)
    view = _view(session, item, topic, frozenset(), None, now)
    status = ItemStatus(item.status)
    bounces = session.execute(
        sa.select(ItemBounce, col(Department.name))
        .join(Department, col(Department.id) == col(ItemBounce.department_id))
        .where(col(ItemBounce.item_id) == item_id)
        .order_by(col(ItemBounce.id))
    ).all()
    pending = session.exec(
        select(ItemExtension.id).where(
            col(ItemExtension.item_id) == item_id,
            col(ItemExtension.decision) == ExtensionDecision.PENDING,
        )
    ).first()
    plan = session.exec(
        select(Plan.id, Plan.status)
        .where(col(Plan.item_id) == item_id)
        .order_by(col(Plan.version).desc())
        .limit(1)
    ).first()
    officers = session.execute(
        sa.select(col(Person.id), col(Person.name), col(Department.name))
        .join(Department, col(Department.id) == col(Person.department_id))
        .where(col(Person.role).in_([Role.OFFICER, Role.DEPARTMENT_HEAD]))
        .order_by(col(Department.name), col(Person.id))
    ).all()
    awaiting_arbitration = item.arbitration_requested_at is not None and item.arbitrated_at is None
    implementing = _under_way(topic, Stage.IMPLEMENTATION, item)
    actions: set[OfficeAction] = set()
    if status is ItemStatus.DECLINED and awaiting_arbitration:
        actions.add(OfficeAction.ARBITRATE)
    elif status in (ItemStatus.DECLINED, ItemStatus.TRANSFERRED) and not awaiting_arbitration:
        actions.add(OfficeAction.REASSIGN)
    if plan is not None and plan[1] == PlanStatus.SUBMITTED and implementing:
        actions.add(OfficeAction.REVIEW_PLAN)
    if pending is not None:
        actions.add(OfficeAction.DECIDE_EXTENSION)
    elif status is not ItemStatus.COMPLETED:
        actions.add(OfficeAction.EXTEND)
    if status is ItemStatus.COMPLETED and item.rechecked_at is None:
        actions.add(OfficeAction.RECHECK)
    actions = {a for a in actions if person.role in OFFICE_ACTION_ROLES[a]}
    rechecked, reopened_as = None, None
    if item.rebound:
        reopened_as = session.exec(
            select(RectificationItem.id).where(RectificationItem.reopened_from_id == item_id)
        ).first()
    if item.rechecked_at is not None:
        outcome = "发现反弹，已重新交办" if item.rebound else "整改成效保持"
        rechecked = f"{format_local(item.rechecked_at)} 回头看：{outcome}"
    return OfficeItemView(
        item=view,
        topic_id=topic.id,  # type: ignore[arg-type]
        actions=frozenset(actions),
        bounces=[
            BounceView(
                department=name,
                code_label=DECLINE_CODE_LABELS[DeclineCode(b.code)],
                reason=b.reason,
                at_text=format_local(b.at),
            )
            for b, name in bounces
        ],
        arbitration_requested=awaiting_arbitration,
        pending_extension_id=pending,
        submitted_plan_id=plan[0] if plan is not None and plan[1] == PlanStatus.SUBMITTED else None,
        officers=[(int(pid), f"{dept} · {name}") for pid, name, dept in officers],
        rechecked=rechecked,
        reopened_as_id=reopened_as,
    )
