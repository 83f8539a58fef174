"""转交办理 and 落实整改: rectification items, acknowledgement, plans, progress, completion."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, StrictBool, computed_field
from sqlmodel import Session, select

from config.links import action
from config.settings import get_settings
from models import action_links
from models.access import Can, require
from models.base import Body, Id, Page, utcnow
from models.case import (
    ROLE_NAMES,
    addressed,
    audit,
    close_follow_ups,
    department_heads,
    department_name,
    get,
    mark_items_provisional,
    queue,
    request_approval,
    role_tag,
    salutation,
    schedule_follow_ups,
    tell_deadline_changed,
)
from models.deadlines import Deadline, end_of_day, format_local, local_today, working_days_after
from models.enums import (
    DECLINE_CODE_LABELS,
    Adoption,
    DeclineCode,
    ExtensionDecision,
    ItemStatus,
    Obligation,
    PlanStatus,
    Role,
    Stage,
)
from models.errors import Conflict, Forbidden, Invalid
from models.stages import ensure_item_work, ensure_open, ensure_preparing, settle, under_way
from models.tables import (
    LEVEL_LABELS,
    Department,
    EvidenceFile,
    ItemBase,
    ItemBounce,
    ItemBounceRecord,
    ItemExtension,
    ItemRecord,
    Person,
    Plan,
    PlanBase,
    PlanRecord,
    ProgressBase,
    ProgressRecord,
    ProgressUpdate,
    RectificationItem,
    Suggestion,
    Topic,
)

ITEM_STATUS_LABELS = {
    ItemStatus.DRAFT: "待转交",
    ItemStatus.TRANSFERRED: "待签收",
    ItemStatus.DECLINED: "已退回",
    ItemStatus.ACKNOWLEDGED: "已签收",
    ItemStatus.IN_PROGRESS: "整改中",
    ItemStatus.COMPLETED: "已完成",
}


class ItemCreate(ItemBase, Body):
    """Request body: turn an adopted suggestion into a line of the responsibility list."""

    deadline: dt.date = Field(description="整改期限（当日 24 时前）")


class ItemPublic(ItemRecord):
    id: int
    level: int = Field(
        description="催办等级，取自整改期限催办阶梯已发出的最高一级："
        "0 正常、1 即将到期、2 预警、3 督办"
    )
    bounce_count: int = Field(description="该事项被责任单位退回的次数（退单次数）")

    @computed_field(description="催办等级（正常 / 即将到期 / 预警 / 督办）")  # type: ignore[prop-decorator]
    @property
    def level_label(self) -> str:
        return LEVEL_LABELS[self.level]

    @computed_field(  # type: ignore[prop-decorator]
        description="协商办裁定：待协商办裁定 / 协商办已裁定，未提请裁定时为空"
    )
    @property
    def arbitration_label(self) -> str | None:
        return arbitration_label(self.arbitration_requested_at, self.arbitrated_at)


def arbitration_label(requested: dt.datetime | None, decided: dt.datetime | None) -> str | None:
    if decided is not None:
        return "协商办已裁定"
    return "待协商办裁定" if requested is not None else None


class ItemsPublic(Page[ItemPublic]):
    """A topic's responsibility list (工作责任清单)."""


class DeclineIn(Body):
    """Request body: a return needs a reason from the fixed list and what lies behind it, so
    bounces can be counted and judged (退单须有编码理由)."""

    code: DeclineCode = Field(
        description="退回理由："
        + "；".join(f"{code.value} {label}" for code, label in DECLINE_CODE_LABELS.items())
    )
    reason: str = Field(min_length=2, max_length=500, description="具体说明（必填）")


class ReassignIn(Body):
    """Request body: the office hands a declined item to another department."""

    lead_department_id: Id
    officer_id: Id
    co_department_ids: list[Id] | None = None
    deadline: dt.date | None = None


class ArbitrateIn(ReassignIn):
    """Request body: the office decides who leads an item returned again and again; final."""

    note: str = Field(min_length=2, max_length=500, description="裁定意见（必填）")


class BouncePublic(ItemBounceRecord):
    id: int

    @computed_field(description="退回理由类别（中文）")  # type: ignore[prop-decorator]
    @property
    def code_label(self) -> str:
        return DECLINE_CODE_LABELS[self.code]


class BouncesPublic(Page[BouncePublic]):
    """An item's returns (退单记录), oldest first."""


class ExtendIn(Body):
    deadline: dt.date
    reason: str = Field(min_length=2, max_length=500)


class PlanIn(PlanBase, Body):
    """Request body: 一问题一方案."""

    deadline: dt.date = Field(description="方案完成时限（当日 24 时前）")


class PlanPublic(PlanRecord):
    id: int


class PlansPublic(Page[PlanPublic]):
    """An item's plans, first version first."""


class PlanReview(Body):
    approved: StrictBool
    note: str | None = Field(default=None, max_length=500)


class ProgressIn(ProgressBase, Body):
    """Request body: how far the item has got."""


class ProgressPublic(ProgressRecord):
    id: int


class ProgressListPublic(Page[ProgressPublic]):
    """An item's progress reports, oldest first."""


class CompletionIn(Body):
    """Request body: 办结. Needs at least one evidence file uploaded to the item first
    (the item.evidence action); a standing rule (长效机制) is named by its document."""

    summary: str = Field(min_length=2, max_length=5000)
    evidence_ref: str | None = Field(default=None, max_length=500)
    solved: StrictBool = True
    long_term_mechanism: StrictBool = False
    long_term_mechanism_ref: str | None = Field(
        default=None,
        max_length=200,
        description="长效机制的文件名称或文号（如“某政办发〔2026〕12号”），形成长效机制时必填",
    )


class RecheckIn(Body):
    rebound: StrictBool
    note: str = Field(min_length=2, max_length=2000)


def _check_department_people(
    session: Session, lead_id: int, co_ids: list[int], officer_id: int
) -> Person:
    get(session, Department, lead_id)
    if lead_id in co_ids:
        raise Invalid("牵头单位不能同时列为配合单位", field="co_department_ids")
    for co in co_ids:
        get(session, Department, co)
    officer = get(session, Person, officer_id)
    if officer.role not in (Role.OFFICER, Role.DEPARTMENT_HEAD) or officer.department_id != lead_id:
        raise Invalid(f"{officer.name} 不是牵头单位的联络员或负责人", field="officer_id")
    return officer


def create_item(session: Session, topic_id: int, data: ItemCreate) -> RectificationItem:
    topic = get(session, Topic, topic_id, for_update=True)
    ensure_preparing(topic, Stage.TRANSFER, "增加整改事项")
    suggestion = get(session, Suggestion, data.suggestion_id)
    if suggestion.topic_id != topic_id:
        raise Invalid("该建议不属于本议题", field="suggestion_id")
    if suggestion.adoption != Adoption.ADOPTED:
        raise Conflict("只有被采纳的建议才能转化为整改事项")
    _check_department_people(
        session, data.lead_department_id, data.co_department_ids, data.officer_id
    )
    if data.deadline <= local_today(utcnow()):
        raise Invalid("整改期限须晚于今天", field="deadline")
    item = RectificationItem(
        topic_id=topic_id,
        suggestion_id=data.suggestion_id,
        title=data.title,
        lead_department_id=data.lead_department_id,
        co_department_ids=data.co_department_ids,
        officer_id=data.officer_id,
        deadline=end_of_day(data.deadline),
    )
    session.add(item)
    session.flush()
    audit(session, action="item_created", topic_id=topic_id, item_id=item.id)
    if under_way(topic, Stage.TRANSFER):
        transfer(session, topic_id)
    return item


def transfer(session: Session, topic_id: int, *, now: dt.datetime | None = None) -> int:
    """Hand every draft item to its lead department and ask for 签收 within N working days."""
    now = now or utcnow()
    topic = get(session, Topic, topic_id)
    items = session.exec(
        select(RectificationItem).where(
            RectificationItem.topic_id == topic_id, RectificationItem.status == ItemStatus.DRAFT
        )
    ).all()
    for item in items:
        _send_for_acknowledgement(session, topic, item, now=now)
    if items:
        audit(session, action="items_transferred", topic_id=topic_id, count=len(items))
    return len(items)


def _send_for_acknowledgement(
    session: Session,
    topic: Topic,
    item: RectificationItem,
    *,
    now: dt.datetime,
    arbitration: str | None = None,
) -> None:
    ack_due = working_days_after(session, now, get_settings().ack_working_days)
    item.status = ItemStatus.TRANSFERRED
    item.transferred_at = now
    if item.original_deadline is None:  # the first transfer fixes it; nothing changes it later
        item.original_deadline = item.deadline
    item.ack_due_at = ack_due.at
    item.decline_reason = None
    officer = get(session, Person, item.officer_id)
    rungs = schedule_follow_ups(
        session,
        obligation=Obligation.ACKNOWLEDGEMENT,
        subject_id=item.id,  # type: ignore[arg-type]
        topic_id=topic.id,  # type: ignore[arg-type]
        owed_by_id=officer.id,
        deadline=ack_due,
        now=now,
    )
    item.deadline_provisional = any(r.provisional for r in rungs)
    dept = get(session, Department, item.lead_department_id)
    queue(
        session,
        # The decision is its own event: the department may have had the item before.
        event_key=f"item:{item.id}:transfer:{int(now.timestamp())}"
        + (":arbitrated" if arbitration else ""),
        recipients=[officer.tag, dept.tag],
        one_time_links=action_links.for_recipients(
            session, "item.acknowledge", item.id, [officer.tag]
        ),
        template="transfer",
        arbitration=arbitration,
        topic_id=topic.id,
        topic=topic,
        item=item,
        officer=officer,
        department=dept.name,
        co_departments="、".join(department_name(session, d) for d in item.co_department_ids),
        ack_deadline=format_local(ack_due.at),
        deadline=format_local(item.deadline),
        provisional=ack_due.provisional,
    )


def _item(
    session: Session, item_id: int, stage: Stage, doing: str
) -> tuple[RectificationItem, Topic]:
    item = get(session, RectificationItem, item_id, for_update=True)
    topic = get(session, Topic, item.topic_id, for_update=True)
    ensure_item_work(topic, stage, doing, item=item)
    return item, topic


def _ensure_officer(
    session: Session, item: RectificationItem, person_id: int | None, doing: str
) -> Person:
    person = get(session, Person, person_id)
    if person.id == item.officer_id:
        return person
    if person.role == Role.DEPARTMENT_HEAD and person.department_id == item.lead_department_id:
        return person
    raise Forbidden(f"{person.name} 不是该事项的责任人或牵头单位负责人，无权{doing}")


def acknowledge(session: Session, item_id: int, *, by: int | None) -> RectificationItem:
    item, topic = _item(session, item_id, Stage.TRANSFER, "签收整改事项")
    person = _ensure_officer(session, item, by, "签收")
    if item.status != ItemStatus.TRANSFERRED:
        raise Conflict(f"事项当前为“{ITEM_STATUS_LABELS[item.status]}”，不能签收")
    item.status = ItemStatus.ACKNOWLEDGED
    item.acknowledged_at = utcnow()
    item.acknowledged_by_id = person.id
    close_follow_ups(
        session, obligation=Obligation.ACKNOWLEDGEMENT, subject_ids=[item_id], outcome="已签收"
    )
    audit(session, action="item_acknowledged", topic_id=topic.id, actor=person, item_id=item_id)
    if item.plan_due_at is None and topic.stage in (Stage.IMPLEMENTATION, Stage.ASSESSMENT):
        # Reopened, or transferred by a 台账 import: no stage start is coming to ask for its plan
        _ask_for_plan(session, topic, item, now=utcnow())
    settle(session, topic)
    return item


def decline(
    session: Session, item_id: int, data: DeclineIn, *, by: int | None
) -> RectificationItem:
    """退单: recorded as a bounce with its coded reason; the Nth bounce (settings) sends the
    item to the office to decide who leads it, and after that decision nobody may return it."""
    item, topic = _item(session, item_id, Stage.TRANSFER, "退回整改事项")
    person = _ensure_officer(session, item, by, "退回")
    if item.arbitrated_at is not None:
        raise Conflict("协商办已裁定由本单位牵头办理，裁定为最终决定，不能再退回；请签收办理")
    if item.reopened_from_id is not None:
        raise Conflict("该事项是本单位已办结事项经回头看发现反弹后重新交办的，不能退回；请签收办理")
    if item.status != ItemStatus.TRANSFERRED:
        raise Conflict(f"事项当前为“{ITEM_STATUS_LABELS[item.status]}”，不能退回")
    now = utcnow()
    reason = f"{data.code.label}：{data.reason}"
    item.status = ItemStatus.DECLINED
    item.decline_reason = reason
    session.add(
        ItemBounce(
            item_id=item_id,
            department_id=item.lead_department_id,
            code=data.code,
            reason=data.reason,
            by_id=person.id,  # type: ignore[arg-type]
            at=now,
        )
    )
    session.flush()
    close_follow_ups(
        session, obligation=Obligation.ACKNOWLEDGEMENT, subject_ids=[item_id], outcome="已退回"
    )
    bounces = _bounces(session, item_id)
    limit = get_settings().bounces_before_arbitration
    department = department_name(session, item.lead_department_id)
    audit(
        session,
        action="item_declined",
        topic_id=topic.id,
        actor=person,
        item_id=item_id,
        code=data.code.value,
        reason=data.reason,
        bounces=len(bounces),
    )
    if len(bounces) >= limit:
        _request_arbitration(session, topic, item, bounces, now=now)
        return item
    queue(
        session,
        event_key=f"item:{item_id}:declined:{len(bounces)}",
        recipients=[role_tag(Role.ADMINISTRATOR)],
        template="item_declined",
        topic_id=topic.id,
        topic=topic,
        item=item,
        department=department,
        reason=reason,
        bounces=len(bounces),
        limit=limit,
    )
    return item


def _bounces(session: Session, item_id: int) -> list[ItemBounce]:
    return list(
        session.exec(
            select(ItemBounce).where(ItemBounce.item_id == item_id).order_by(ItemBounce.id)  # type: ignore[arg-type]
        )
    )


def _request_arbitration(
    session: Session,
    topic: Topic,
    item: RectificationItem,
    bounces: list[ItemBounce],
    *,
    now: dt.datetime,
) -> None:
    """退单拉锯战 stops here: the office owes a decision within N working days, chased by its
    own ladder, and is told every return with its reason."""
    item.arbitration_requested_at = now
    due = request_approval(
        session,
        obligation=Obligation.ARBITRATION,
        subject_id=item.id,  # type: ignore[arg-type]
        topic_id=topic.id,  # type: ignore[arg-type]
        working_days=get_settings().arbitration_working_days,
        event_key=f"item:{item.id}:arbitration",
        template="arbitration_request",
        now=now,
        to=Role.ADMINISTRATOR,
        topic=topic,
        item=item,
        bounces=[
            {
                "at": format_local(b.at),
                "department": department_name(session, b.department_id),
                "code": DECLINE_CODE_LABELS[b.code],
                "reason": b.reason,
            }
            for b in bounces
        ],
    )
    audit(
        session,
        action="item_arbitration_requested",
        topic_id=topic.id,
        item_id=item.id,
        bounces=len(bounces),
        due=due.at,
    )


def reassign(
    session: Session, item_id: int, data: ReassignIn, *, by: int | None
) -> RectificationItem:
    item, topic = _item(session, item_id, Stage.TRANSFER, "重新交办整改事项")
    admin = get(session, Person, by)
    require(admin, Can.RUN_LOOP, action="重新交办整改事项")
    if item.status not in (ItemStatus.DECLINED, ItemStatus.TRANSFERRED):
        raise Conflict(f"事项当前为“{ITEM_STATUS_LABELS[item.status]}”，不能重新交办")
    if item.arbitration_requested_at is not None and item.arbitrated_at is None:
        raise Conflict("事项已多次退回、待协商办裁定，请以裁定确定牵头单位")
    _hand_over(session, item, topic, data, admin)
    audit(session, action="item_reassigned", topic_id=topic.id, actor=admin, item_id=item_id)
    return item


def arbitrate(
    session: Session, item_id: int, data: ArbitrateIn, *, by: int | None
) -> RectificationItem:
    """The office's decision on an item returned again and again: who leads it. Final — the
    department it names can sign or be chased, never return it again."""
    item, topic = _item(session, item_id, Stage.TRANSFER, "裁定牵头单位")
    admin = get(session, Person, by)
    require(admin, Can.RUN_LOOP, action="裁定牵头单位")
    if item.arbitrated_at is not None:
        raise Conflict("该事项已由协商办裁定，裁定为最终决定")
    if item.arbitration_requested_at is None or item.status != ItemStatus.DECLINED:
        limit = get_settings().bounces_before_arbitration
        raise Conflict(f"事项未提请裁定（累计退回 {limit} 次后提请协商办裁定），请直接改派")
    item.arbitrated_at = utcnow()
    item.arbitrated_by_id = admin.id
    item.arbitration_note = data.note
    close_follow_ups(
        session, obligation=Obligation.ARBITRATION, subject_ids=[item_id], outcome="已裁定"
    )
    _hand_over(session, item, topic, data, admin, arbitration=data.note)
    audit(
        session,
        action="item_arbitrated",
        topic_id=topic.id,
        actor=admin,
        item_id=item_id,
        lead_department_id=data.lead_department_id,
        officer_id=data.officer_id,
        note=data.note,
    )
    return item


def _hand_over(
    session: Session,
    item: RectificationItem,
    topic: Topic,
    data: ReassignIn,
    admin: Person,
    *,
    arbitration: str | None = None,
) -> None:
    """Give the item to the department the office names: a fresh 签收 clock for it, the item
    deadline kept unless the office sets a new one (a return never buys time)."""
    item_id: int = item.id  # type: ignore[assignment]
    reason = item.decline_reason
    co = data.co_department_ids if data.co_department_ids is not None else item.co_department_ids
    co = [c for c in co if c != data.lead_department_id]
    _check_department_people(session, data.lead_department_id, co, data.officer_id)
    if data.deadline and data.deadline <= local_today(utcnow()):
        raise Invalid("整改期限须晚于今天", field="deadline")
    close_follow_ups(
        session, obligation=Obligation.ACKNOWLEDGEMENT, subject_ids=[item_id], outcome="已改派"
    )
    old_dept = department_name(session, item.lead_department_id)
    old_deadline = item.deadline
    item.lead_department_id = data.lead_department_id
    item.co_department_ids = co
    item.officer_id = data.officer_id
    if data.deadline:
        item.deadline = end_of_day(data.deadline)
    _send_for_acknowledgement(session, topic, item, now=utcnow(), arbitration=arbitration)
    if item.deadline != old_deadline:
        why = f"原牵头单位{old_dept}退回" + (f"（{reason}）" if reason else "")
        lead = department_name(session, item.lead_department_id)
        how = f"裁定由{lead}牵头" if arbitration else f"改派至{lead}"
        now = utcnow()
        session.add(  # the office's own change of the deadline: a ledger line like any other
            ItemExtension(
                item_id=item_id,
                old_deadline=old_deadline,
                requested_deadline=item.deadline,
                reason=f"{why}，{how}并重新确定整改期限",
                requested_by_id=admin.id,  # type: ignore[arg-type]
                requested_at=now,
                decision=ExtensionDecision.APPROVED,
                decided_by_id=admin.id,
                decided_at=now,
                direct=True,
            )
        )
        tell_deadline_changed(
            session,
            obligation=Obligation.ITEM_DEADLINE,
            subject_id=item_id,
            topic_id=topic.id,  # type: ignore[arg-type]
            owed_by_id=item.officer_id,
            old=old_deadline,
            new=item.deadline,
            reason=f"{why}，{admin.name}{how}并重新确定整改期限",
        )


def start_implementation(session: Session, topic_id: int, *, now: dt.datetime | None = None) -> int:
    """Ask for one plan per item and put every item deadline on its ladder (once per item).
    Signed items include those a department's 台账 import brought in under way (整改中)."""
    now = now or utcnow()
    topic = get(session, Topic, topic_id)
    items = session.exec(
        select(RectificationItem).where(
            RectificationItem.topic_id == topic_id,
            RectificationItem.status.in_(  # type: ignore[attr-defined]
                [ItemStatus.ACKNOWLEDGED, ItemStatus.IN_PROGRESS]
            ),
            RectificationItem.plan_due_at.is_(None),  # type: ignore[union-attr]
        )
    ).all()
    for item in items:
        _ask_for_plan(session, topic, item, now=now)
    return len(items)


def _ask_for_plan(
    session: Session, topic: Topic, item: RectificationItem, *, now: dt.datetime
) -> None:
    """The plan request and the ladders of the plan and the item deadline."""
    plan_due = working_days_after(session, now, get_settings().plan_working_days)
    if plan_due.at > item.deadline:  # never later than the item: it then mirrors that date
        plan_due = Deadline(item.deadline, provisional=False)
    item.plan_due_at = plan_due.at
    officer = get(session, Person, item.officer_id)
    rungs = schedule_follow_ups(
        session,
        obligation=Obligation.PLAN,
        subject_id=item.id,  # type: ignore[arg-type]
        topic_id=topic.id,  # type: ignore[arg-type]
        owed_by_id=officer.id,
        deadline=plan_due,
        now=now,
    )
    rungs += schedule_follow_ups(
        session,
        obligation=Obligation.ITEM_DEADLINE,
        subject_id=item.id,  # type: ignore[arg-type]
        topic_id=topic.id,  # type: ignore[arg-type]
        owed_by_id=officer.id,
        deadline=item.deadline,
        now=now,
    )
    item.deadline_provisional = any(r.provisional for r in rungs)
    queue(
        session,
        event_key=f"item:{item.id}:plan_request",
        recipients=[officer.tag],
        salutations=addressed(session, officer),
        template="plan_request",
        topic_id=topic.id,
        topic=topic,
        item=item,
        officer=officer,
        plan_deadline=format_local(plan_due.at),
        deadline=format_local(item.deadline),
        provisional=plan_due.provisional,
    )


def submit_plan(session: Session, item_id: int, data: PlanIn, *, by: int | None) -> Plan:
    item, topic = _item(session, item_id, Stage.IMPLEMENTATION, "提交整改方案")
    person = _ensure_officer(session, item, by, "提交整改方案")
    if item.status not in (ItemStatus.ACKNOWLEDGED, ItemStatus.IN_PROGRESS):
        raise Conflict(f"事项当前为“{ITEM_STATUS_LABELS[item.status]}”，不能提交方案")
    get(session, Person, data.responsible_id)
    if data.deadline < local_today(utcnow()):
        raise Invalid("方案完成时限不能早于今天", field="deadline")
    plan_deadline = end_of_day(data.deadline)
    if plan_deadline > item.deadline:
        raise Invalid(
            "方案完成期限不能晚于事项整改期限（如需延期请申请调整期限）", field="deadline"
        )
    current = session.exec(
        select(Plan).where(Plan.item_id == item_id).order_by(Plan.version.desc())  # type: ignore[attr-defined]
    ).first()
    if current and not data.adjust_reason:
        raise Invalid("方案已提交，调整方案须说明理由", field="adjust_reason")
    plan = Plan(
        item_id=item_id,
        version=(current.version + 1) if current else 1,
        target=data.target,
        measures=data.measures,
        deadline=plan_deadline,
        responsible_id=data.responsible_id,
        adjust_reason=data.adjust_reason,
    )
    session.add(plan)
    item.status = ItemStatus.IN_PROGRESS
    close_follow_ups(
        session, obligation=Obligation.PLAN, subject_ids=[item_id], outcome="已提交方案"
    )
    session.flush()
    queue(
        session,
        event_key=f"plan:{plan.id}:submitted",
        recipients=[role_tag(Role.ADMINISTRATOR)],
        template="plan_submitted",
        topic_id=topic.id,
        topic=topic,
        item=item,
        plan=plan,
        officer=person.name,
    )
    audit(session, action="plan_submitted", topic_id=topic.id, actor=person, item_id=item_id)
    return plan


def review_plan(session: Session, plan_id: int, data: PlanReview, *, by: int | None) -> Plan:
    plan = get(session, Plan, plan_id, for_update=True)
    item, topic = _item(session, plan.item_id, Stage.IMPLEMENTATION, "审核整改方案")
    reviewer = get(session, Person, by)
    require(reviewer, Can.REVIEW_PLAN, action="审核整改方案")
    if plan.status != PlanStatus.SUBMITTED:
        raise Conflict("方案已审核")
    plan.status = PlanStatus.APPROVED if data.approved else PlanStatus.RETURNED
    plan.reviewed_by_id = reviewer.id
    plan.review_note = data.note
    officer = get(session, Person, item.officer_id)
    queue(
        session,
        event_key=f"plan:{plan_id}:reviewed",
        recipients=[officer.tag],
        salutations=addressed(session, officer),
        template="plan_reviewed",
        topic_id=topic.id,
        topic=topic,
        item=item,
        approved=data.approved,
        note=data.note or "",
    )
    audit(
        session, action="plan_reviewed", topic_id=topic.id, actor=reviewer, approved=data.approved
    )
    return plan


def report_progress(
    session: Session, item_id: int, data: ProgressIn, *, by: int | None
) -> ProgressUpdate:
    item, topic = _item(session, item_id, Stage.IMPLEMENTATION, "报送整改进展")
    person = _ensure_officer(session, item, by, "报送进展")
    if item.status != ItemStatus.IN_PROGRESS:
        raise Conflict("请先提交整改方案，再报送进展")
    update = ProgressUpdate(
        item_id=item_id,
        by_id=person.id,  # type: ignore[arg-type]
        note=data.note,
        percent=data.percent,
        evidence_ref=data.evidence_ref,
    )
    session.add(update)
    item.progress_percent = data.percent
    session.flush()
    audit(
        session, action="progress_reported", topic_id=topic.id, actor=person, percent=data.percent
    )
    return update


def complete(
    session: Session, item_id: int, data: CompletionIn, *, by: int | None
) -> RectificationItem:
    item, topic = _item(session, item_id, Stage.IMPLEMENTATION, "办结整改事项")
    person = _ensure_officer(session, item, by, "办结")
    if item.status != ItemStatus.IN_PROGRESS:
        raise Conflict(f"事项当前为“{ITEM_STATUS_LABELS[item.status]}”，须有整改方案后方可办结")
    if data.long_term_mechanism and not data.long_term_mechanism_ref:
        raise Invalid(
            "形成长效机制的，须填写该制度的文件名称或文号", field="long_term_mechanism_ref"
        )
    if data.long_term_mechanism_ref and not data.long_term_mechanism:
        raise Invalid("未勾选形成长效机制时不填长效机制文号", field="long_term_mechanism_ref")
    evidence = list(session.exec(select(EvidenceFile).where(EvidenceFile.item_id == item_id)))
    if not evidence:
        raise Conflict(
            "办结须至少上传一份佐证材料（照片、PDF、Word 或 Excel），"
            f"请先在事项页面上传（{action('item.evidence', item_id=item_id)}）再办结"
        )
    now = utcnow()
    item.status = ItemStatus.COMPLETED
    item.completed_at = now
    item.completion_summary = data.summary
    item.solved = data.solved
    item.long_term_mechanism = data.long_term_mechanism
    item.long_term_mechanism_ref = data.long_term_mechanism_ref
    for file in evidence:  # what no progress report carries proves the completion
        if file.progress_id is None:
            file.completion = True
    recheck = working_days_after(session, now, get_settings().recheck_working_days)
    item.recheck_due_at = recheck.at
    if data.evidence_ref:
        session.add(
            ProgressUpdate(
                item_id=item_id,
                by_id=person.id,  # type: ignore[arg-type]
                note=f"办结：{data.summary}",
                percent=100,
                evidence_ref=data.evidence_ref,
            )
        )
    for obligation in (Obligation.PLAN, Obligation.ITEM_DEADLINE):
        close_follow_ups(session, obligation=obligation, subject_ids=[item_id], outcome="已办结")
    schedule_follow_ups(
        session,
        obligation=Obligation.RECHECK,
        subject_id=item_id,
        topic_id=topic.id,  # type: ignore[arg-type]
        owed_by_id=None,
        deadline=recheck,
        now=now,
    )
    audit(
        session,
        action="item_completed",
        topic_id=topic.id,
        actor=person,
        item_id=item_id,
        evidence=[f.sha256 for f in evidence],
        long_term_mechanism_ref=data.long_term_mechanism_ref,
    )
    settle(session, topic)
    return item


def new_deadline_for(item: RectificationItem, day: dt.date) -> dt.datetime:
    """The end of `day` as an item deadline: later than today and than the current one (422)."""
    if day <= local_today(utcnow()):
        raise Invalid("新期限须晚于今天", field="deadline")
    new_deadline = end_of_day(day)
    if new_deadline <= item.deadline:
        raise Invalid(
            f"新期限须晚于当前整改期限（{format_local(item.deadline)}）", field="deadline"
        )
    return new_deadline


def move_deadline(
    session: Session,
    item: RectificationItem,
    topic: Topic,
    new_deadline: dt.datetime,
    *,
    actor: Person,
    reason: str,
    extension_id: int | None,
) -> None:
    """动态调整, the one place an approved extension moves an item deadline: the old ladder
    closes, a new one follows the new date, and whoever owes it hears why."""
    item_id: int = item.id  # type: ignore[assignment]
    old = item.deadline
    item.deadline = new_deadline
    if item.plan_due_at is not None:  # its ladder is running: replace it
        close_follow_ups(
            session,
            obligation=Obligation.ITEM_DEADLINE,
            subject_ids=[item_id],
            outcome="期限已调整",
        )
        schedule_follow_ups(
            session,
            obligation=Obligation.ITEM_DEADLINE,
            subject_id=item_id,
            topic_id=topic.id,  # type: ignore[arg-type]
            owed_by_id=item.officer_id,
            deadline=new_deadline,
        )
        mark_items_provisional(session, [item_id])
    tell_deadline_changed(
        session,
        obligation=Obligation.ITEM_DEADLINE,
        subject_id=item_id,
        topic_id=topic.id,  # type: ignore[arg-type]
        owed_by_id=item.officer_id,
        old=old,
        new=new_deadline,
        reason=f"{actor.name}（{ROLE_NAMES[actor.role]}）批准延期：{reason}",
    )
    audit(
        session,
        action="item_extended",
        topic_id=topic.id,
        actor=actor,
        item_id=item_id,
        extension_id=extension_id,
        old=old,
        new=new_deadline,
        reason=reason,
    )


def pending_extension(session: Session, item_id: int) -> ItemExtension | None:
    return session.exec(
        select(ItemExtension).where(
            ItemExtension.item_id == item_id,
            ItemExtension.decision == ExtensionDecision.PENDING,
        )
    ).first()


def extend(session: Session, item_id: int, data: ExtendIn, *, by: int | None) -> RectificationItem:
    """The office sets a new deadline itself: recorded in the extension ledger as a request
    and its approval in one action (`direct`), so no deadline moves without a ledger line."""
    item = get(session, RectificationItem, item_id, for_update=True)
    topic = get(session, Topic, item.topic_id, for_update=True)
    ensure_open(topic, "调整整改期限")
    admin = get(session, Person, by)
    require(admin, Can.EXTEND_DEADLINE, action="调整整改期限")
    if item.status == ItemStatus.COMPLETED:
        raise Conflict("事项已办结，不能调整期限")
    if pending_extension(session, item_id) is not None:
        raise Conflict("该事项有待审批的延期申请，请先批准或不予批准该申请")
    new_deadline = new_deadline_for(item, data.deadline)
    now = utcnow()
    line = ItemExtension(
        item_id=item_id,
        old_deadline=item.deadline,
        requested_deadline=new_deadline,
        reason=data.reason,
        requested_by_id=admin.id,  # type: ignore[arg-type]
        requested_at=now,
        decision=ExtensionDecision.APPROVED,
        decided_by_id=admin.id,
        decided_at=now,
        direct=True,
    )
    session.add(line)
    session.flush()
    move_deadline(
        session, item, topic, new_deadline, actor=admin, reason=data.reason, extension_id=line.id
    )
    return item


def recheck(
    session: Session, item_id: int, data: RecheckIn, *, by: int | None
) -> RectificationItem:
    """回头看: record whether the fix held; a rebound is counted and reported."""
    item = get(session, RectificationItem, item_id, for_update=True)
    topic = get(session, Topic, item.topic_id)
    person = get(session, Person, by)
    require(person, Can.RECHECK, action="开展回头看")
    if item.status != ItemStatus.COMPLETED:
        raise Conflict("事项尚未办结，不能回头看")
    if item.rechecked_at is not None:
        raise Conflict("该事项已完成回头看")
    item.rechecked_at = utcnow()
    item.rebound = data.rebound
    close_follow_ups(
        session, obligation=Obligation.RECHECK, subject_ids=[item_id], outcome="已回头看"
    )
    audit(session, action="item_rechecked", topic_id=topic.id, actor=person, rebound=data.rebound)
    if data.rebound:
        _reopen(session, topic, item, note=data.note, by=person)
    return item


def _reopen(
    session: Session, topic: Topic, item: RectificationItem, *, note: str, by: Person
) -> RectificationItem:
    """A rebound goes back to the same department as a new, linked item with a fresh ladder
    (签收, plan, deadline): the finished item keeps its record and counts as a rebound."""
    now = utcnow()
    due = working_days_after(session, now, get_settings().reopen_working_days)
    again = RectificationItem(
        topic_id=item.topic_id,
        suggestion_id=item.suggestion_id,
        title=item.title,
        lead_department_id=item.lead_department_id,
        co_department_ids=list(item.co_department_ids),
        officer_id=item.officer_id,
        deadline=due.at,
        reopened_from_id=item.id,
    )
    session.add(again)
    session.flush()
    audit(
        session,
        action="item_reopened",
        topic_id=topic.id,
        actor=by,
        item_id=again.id,
        reopened_from=item.id,
    )
    _send_for_acknowledgement(session, topic, again, now=now)
    dept = department_name(session, item.lead_department_id)
    officer = get(session, Person, item.officer_id)
    salutations = addressed(session, officer)
    for tag, name in department_heads(session, [item.lead_department_id]).get(
        item.lead_department_id, []
    ):
        salutations[tag] = salutation(Role.DEPARTMENT_HEAD, name=name, department=dept)
    queue(
        session,
        event_key=f"item:{item.id}:rebound",
        recipients=[*salutations, role_tag(Role.ADMINISTRATOR)],
        salutations=salutations,
        template="rebound",
        topic_id=topic.id,
        topic=topic,
        item=item,
        again=again,
        note=note,
        deadline=format_local(again.deadline),
    )
    return again
