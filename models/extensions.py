"""The extension ledger (延期台账): a department asks for more time before its deadline, the
office approves or refuses, and every request stays on the record with who decided and why.

An approval moves the deadline through rectification.move_deadline, the one place a deadline
moves (the office's own change, rectification.extend, writes a ledger line too)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, computed_field
from sqlmodel import Session, select

from config.settings import get_settings
from models.access import Can, require
from models.base import Body, Page, utcnow
from models.case import (
    addressed,
    audit,
    close_follow_ups,
    get,
    queue,
    role_tag,
    schedule_follow_ups,
)
from models.deadlines import Deadline, format_local, working_days_after
from models.enums import EXTENSION_DECISION_LABELS, ExtensionDecision, ItemStatus, Obligation, Role
from models.errors import Conflict, NotFound
from models.rectification import (
    ITEM_STATUS_LABELS,
    _ensure_officer,
    move_deadline,
    new_deadline_for,
    pending_extension,
)
from models.stages import ensure_open
from models.tables import ItemExtension, ItemExtensionRecord, Person, RectificationItem, Topic

# Who may ask for more time: the item is signed for and not yet done.
MAY_REQUEST = (ItemStatus.ACKNOWLEDGED, ItemStatus.IN_PROGRESS)


class ExtensionRequestIn(Body):
    """Request body: 申请延期, made by the item's department before its deadline."""

    deadline: dt.date = Field(description="申请延至的日期（当日 24 时前），须晚于当前整改期限")
    reason: str = Field(min_length=2, max_length=500, description="延期理由（必填）")


class ExtensionDecisionIn(Body):
    """Request body: the office's decision; a refusal must say why."""

    comment: str | None = Field(default=None, max_length=500, description="审批意见")


class ExtensionRefusalIn(Body):
    comment: str = Field(min_length=2, max_length=500, description="不予批准的理由（必填）")


class ExtensionPublic(ItemExtensionRecord):
    id: int

    @computed_field(description="审批结果：待审批 / 已批准 / 不予批准")  # type: ignore[prop-decorator]
    @property
    def decision_label(self) -> str:
        return EXTENSION_DECISION_LABELS[self.decision]


class ExtensionsPublic(Page[ExtensionPublic]):
    """An item's extension ledger, oldest first."""


def request(
    session: Session, item_id: int, data: ExtensionRequestIn, *, by: int | None
) -> ItemExtension:
    """申请延期: before the current deadline, one pending request at a time; the office owes a
    decision within N working days (never later than the deadline itself), chased by its ladder."""
    item = get(session, RectificationItem, item_id, for_update=True)
    topic = get(session, Topic, item.topic_id, for_update=True)
    ensure_open(topic, "申请延期")
    person = _ensure_officer(session, item, by, "申请延期")
    if item.status not in MAY_REQUEST:
        raise Conflict(f"事项当前为“{ITEM_STATUS_LABELS[item.status]}”，不能申请延期")
    now = utcnow()
    if now > item.deadline:
        raise Conflict(
            f"整改期限（{format_local(item.deadline)}）已过，不能再申请延期；"
            "延期须在期限届满前申请，请尽快办结或联系协商办"
        )
    if pending_extension(session, item_id) is not None:
        raise Conflict("该事项已有一份待审批的延期申请，请等待协商办审批后再申请")
    new_deadline = new_deadline_for(item, data.deadline)
    line = ItemExtension(
        item_id=item_id,
        old_deadline=item.deadline,
        requested_deadline=new_deadline,
        reason=data.reason,
        requested_by_id=person.id,  # type: ignore[arg-type]
        requested_at=now,
    )
    session.add(line)
    session.flush()
    due = working_days_after(session, now, get_settings().extension_working_days)
    if due.at > item.deadline:  # the office decides before the time asked about runs out
        due = Deadline(item.deadline, provisional=False)
    schedule_follow_ups(
        session,
        obligation=Obligation.EXTENSION,
        subject_id=line.id,  # type: ignore[arg-type]
        topic_id=topic.id,  # type: ignore[arg-type]
        owed_by_id=None,
        deadline=due,
        now=now,
    )
    queue(
        session,
        event_key=f"extension:{line.id}:requested",
        recipients=[role_tag(Role.ADMINISTRATOR)],
        template="extension_request",
        topic_id=topic.id,
        topic=topic,
        item=item,
        extension=line,
        person=person.name,
        old_deadline=format_local(line.old_deadline),
        new_deadline=format_local(new_deadline),
        decide_by=format_local(due.at),
        provisional=due.provisional,
    )
    audit(
        session,
        action="extension_requested",
        topic_id=topic.id,
        actor=person,
        item_id=item_id,
        extension_id=line.id,
        old=line.old_deadline,
        new=new_deadline,
        reason=data.reason,
    )
    return line


def _decidable(
    session: Session, extension_id: int, by: int | None, doing: str
) -> tuple[ItemExtension, RectificationItem, Topic, Person]:
    """Lock the ledger line first, read afresh: two deciders queue up on it, and the second
    finds it decided (409) instead of deciding it again."""
    line = session.exec(
        select(ItemExtension)
        .where(ItemExtension.id == extension_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if line is None:
        raise NotFound(f"延期申请 {extension_id} 不存在")
    item = get(session, RectificationItem, line.item_id, for_update=True)
    topic = get(session, Topic, item.topic_id, for_update=True)
    ensure_open(topic, doing)
    admin = get(session, Person, by)
    require(admin, Can.DECIDE_EXTENSION, action=doing)
    if line.decision != ExtensionDecision.PENDING:
        who = get(session, Person, line.decided_by_id).name if line.decided_by_id else "协商办"
        raise Conflict(
            f"该延期申请已由{who}于 {format_local(line.decided_at or utcnow())} 审批"
            f"（{EXTENSION_DECISION_LABELS[line.decision]}），不能重复审批"
        )
    return line, item, topic, admin


def _decide(
    session: Session,
    line: ItemExtension,
    item: RectificationItem,
    topic: Topic,
    admin: Person,
    decision: ExtensionDecision,
    comment: str | None,
) -> None:
    line.decision = decision
    line.decided_by_id = admin.id
    line.decided_at = utcnow()
    line.comment = comment
    close_follow_ups(
        session,
        obligation=Obligation.EXTENSION,
        subject_ids=[line.id],  # type: ignore[list-item]
        outcome=EXTENSION_DECISION_LABELS[decision],
    )
    officer = get(session, Person, item.officer_id)
    queue(
        session,
        event_key=f"extension:{line.id}:decided",
        recipients=[officer.tag],
        salutations=addressed(session, officer),
        template="extension_decided",
        topic_id=topic.id,
        topic=topic,
        item=item,
        approved=decision is ExtensionDecision.APPROVED,
        decided_by=admin.name,
        comment=comment or "",
        new_deadline=format_local(line.requested_deadline),
        deadline=format_local(item.deadline),
    )
    audit(
        session,
        action="extension_decided",
        topic_id=topic.id,
        actor=admin,
        item_id=item.id,
        extension_id=line.id,
        decision=decision.value,
        comment=comment,
    )


def approve(
    session: Session, extension_id: int, data: ExtensionDecisionIn, *, by: int | None
) -> ItemExtension:
    """批准: the deadline moves to the requested date and its ladder is replaced."""
    line, item, topic, admin = _decidable(session, extension_id, by, "审批延期申请")
    if item.status == ItemStatus.COMPLETED:
        raise Conflict("事项已办结，无需延期；请对该申请不予批准")
    if line.requested_deadline <= utcnow():
        raise Conflict("申请延至的日期已过，不能批准；请不予批准，或由协商办直接调整期限")
    _decide(session, line, item, topic, admin, ExtensionDecision.APPROVED, data.comment)
    move_deadline(
        session,
        item,
        topic,
        line.requested_deadline,
        actor=admin,
        reason=line.reason + (f"（审批意见：{data.comment}）" if data.comment else ""),
        extension_id=line.id,
    )
    return line


def refuse(
    session: Session, extension_id: int, data: ExtensionRefusalIn, *, by: int | None
) -> ItemExtension:
    """不予批准: the deadline and its ladder stay as they are."""
    line, item, topic, admin = _decidable(session, extension_id, by, "审批延期申请")
    _decide(session, line, item, topic, admin, ExtensionDecision.REFUSED, data.comment)
    return line
