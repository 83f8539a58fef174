"""Helpers every operation uses to stage its side rows: audit, outbox and follow-ups.

Nothing here commits; the route or task that owns the transaction does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from sqlalchemy import exists, func, update
from sqlmodel import Session, SQLModel, select

from models import audit as audit_trail
from models.base import utcnow
from models.deadlines import (
    Deadline,
    format_local,
    local_today,
    step_due_at,
    time_left,
    working_days_after,
)
from models.enums import FollowUpStatus, FollowUpStep, Obligation, Role
from models.errors import Forbidden, NotFound
from models.messages import compose
from models.obligations import DEFAULT_OWNER_ROLE, SPECS, Ladder
from models.tables import (
    Department,
    FollowUp,
    Notification,
    Person,
    RectificationItem,
    Topic,
)

T = TypeVar("T", bound=SQLModel)
Row = TypeVar("Row")

ROLE_TAG = "role-{}"

ENTITY_LABELS: dict[str, str] = {
    "Topic": "议题",
    "Person": "人员",
    "Department": "单位",
    "Participant": "协商主体",
    "ResearchTask": "调研任务",
    "ConsultationSession": "协商会",
    "Suggestion": "建议",
    "Report": "协商成果报告",
    "RectificationItem": "整改事项",
    "Plan": "整改方案",
    "ItemExtension": "延期申请",
    "EvidenceFile": "佐证材料",
    "Evaluation": "第三方评估",
}


def get(session: Session, model: type[T], ident: int | None, *, for_update: bool = False) -> T:
    """Load a row or raise NotFound with the entity's Chinese name."""
    row = None
    if ident is not None:
        row = session.get(model, ident, with_for_update=for_update)
    if row is None:
        label = ENTITY_LABELS.get(model.__name__, model.__name__)
        raise NotFound(f"{label} {ident} 不存在")
    return row


class Listing(Generic[Row]):
    """One page of records and how many match in all: what every list query returns and every
    list answer (`Page`) is read from."""

    __slots__ = ("count", "data")

    def __init__(self, data: list[Row], count: int) -> None:
        self.data = data
        self.count = count


def listing(
    session: Session, stmt: Any, *, order_by: Any, limit: int | None = None, offset: int = 0
) -> Listing[Any]:
    """Run a filtered SELECT as one page in a stable order, with the total it pages over."""
    total = session.exec(
        select(func.count()).select_from(stmt.order_by(None).subquery())  # type: ignore[call-overload]
    ).one()
    stmt = stmt.order_by(*(order_by if isinstance(order_by, tuple) else (order_by,)))
    if limit is not None:
        stmt = stmt.limit(limit)
    return Listing(list(session.exec(stmt.offset(offset))), total)


def of_topic(
    session: Session,
    model: type[T],
    topic_id: int,
    *,
    order_by: Any,
    limit: int | None = None,
    offset: int = 0,
    where: Any = None,
) -> Listing[T]:
    """A topic's records of one kind, in order (404 for an unknown topic): the one shape of
    every per-topic list the API shows; `where` narrows it (a department's own items)."""
    return children(
        session,
        Topic,
        topic_id,
        model,
        key="topic_id",
        order_by=order_by,
        limit=limit,
        offset=offset,
        where=where,
    )


def children(
    session: Session,
    parent: type[SQLModel],
    parent_id: int,
    model: type[T],
    *,
    key: str,
    order_by: Any,
    limit: int | None = None,
    offset: int = 0,
    where: Any = None,
) -> Listing[T]:
    """The records of one kind that belong to a parent row (a session's opinions, an item's
    plans), in order; NotFound names the parent when it does not exist."""
    get(session, parent, parent_id)
    stmt = select(model).where(getattr(model, key) == parent_id)
    if where is not None:
        stmt = stmt.where(where)
    return listing(session, stmt, order_by=order_by, limit=limit, offset=offset)


def page(session: Session, model: type[T], *, order_by: Any, limit: int, offset: int) -> Listing[T]:
    """One page of every record of a kind (people, departments), in a stable order."""
    return listing(session, select(model), order_by=order_by, limit=limit, offset=offset)


def one_of_topic(session: Session, model: type[T], topic_id: int, *, missing: str) -> T:
    """The topic's single record of one kind (its report, its assessment), or NotFound."""
    get(session, Topic, topic_id)
    row = session.exec(select(model).where(model.topic_id == topic_id)).first()  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(missing)
    return row


def require_role(person: Person, *roles: Role, action: str) -> None:
    if person.role not in roles:
        allowed = "、".join(ROLE_NAMES[r] for r in roles)
        raise Forbidden(
            f"{person.name}（{ROLE_NAMES[person.role]}）无权{action}，需由{allowed}办理"
        )


ROLE_NAMES = {
    Role.ADMINISTRATOR: "协商办工作人员",
    Role.APPROVER: "审定人",
    Role.DEPARTMENT_HEAD: "单位负责人",
    Role.OFFICER: "责任单位联络员",
    Role.MEMBER: "政协委员",
    Role.RESIDENT: "群众代表",
    Role.EXPERT: "专家",
    Role.SUPERVISOR: "监督员",
}


def salutation(role: Role | str, *, name: str | None = None, department: str | None = None) -> str:
    """How a message addresses its reader, by the reader's role (without the colon)."""
    role = Role(role)
    if role is Role.ADMINISTRATOR:
        return f"协商办{name}同志" if name else "协商办同志"
    if role is Role.APPROVER:
        return f"{name}同志" if name else "审定人同志"
    if role is Role.DEPARTMENT_HEAD:
        if department and name:
            return f"{department}负责同志（{name}）"
        return f"{department or '责任单位'}负责同志"
    if role is Role.OFFICER:
        if department and name:
            return f"{department}、{name}"
        return name or "责任单位联络员"
    if role is Role.MEMBER:
        return f"{name}委员" if name else "各位委员"
    if role is Role.EXPERT:
        return f"{name}专家" if name else "各位专家"
    if role is Role.SUPERVISOR:
        return f"{name}同志" if name else "监督员同志"
    return f"尊敬的{name}" if name else "尊敬的群众代表"


def addressed(session: Session, *people: Person) -> dict[str, str]:
    """Each person's tag with the salutation of their role (and department)."""
    return {
        p.tag: salutation(
            p.role,
            name=p.name,
            department=department_name(session, p.department_id) if p.department_id else None,
        )
        for p in people
    }


def tag_salutation(tag: str) -> str | None:
    """The salutation of a role tag (role-administrator …), None for anyone else's tag."""
    prefix = ROLE_TAG.format("")
    if tag.startswith(prefix) and tag[len(prefix) :] in Role.__members__.values():
        return salutation(Role(tag[len(prefix) :]))
    return None


def audit(
    session: Session,
    *,
    action: str,
    topic_id: int | None,
    actor: Person | None = None,
    **detail: Any,
) -> None:
    """Record an action in the audit trail (sealed into its hash chain on commit)."""
    audit_trail.record(session, action=action, topic_id=topic_id, actor=actor, **detail)


def touch(topic: Topic) -> None:
    topic.updated_at = utcnow()


def insert_ignoring_duplicates(session: Session, model: type[SQLModel], rows: list[dict]) -> None:
    """Bulk insert that skips rows whose unique key exists: the outbox's 'never twice'."""
    if not rows:
        return
    # The dialect's insert is imported here: importing the PostgreSQL dialect loads every driver
    # module it knows, which a stage run on SQLite (a fresh process each) would pay for.
    dialect = session.get_bind().dialect.name
    table = model.__table__  # type: ignore[attr-defined]
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    names = set(rows[0])
    if dialect == "postgresql" or any(set(r) != names for r in rows):
        # psycopg pipelines executemany; measured over 16,000 reminders, one multi-row
        # VALUES per 2,000 rows was slower there (bench/README.md, the sweep).
        session.execute(stmt, rows)
        return
    # SQLite: one multi-row INSERT per chunk, not a statement per row (executemany); a chunk
    # stays under its 32,766 parameters per statement.
    size = max(1, 30_000 // len(names))
    for start in range(0, len(rows), size):
        session.execute(stmt.values(rows[start : start + size]))


def notification_row(
    *, event_key: str, recipient: str, template: str, context: dict[str, Any], topic_id: int | None
) -> dict[str, Any]:
    message = compose(template, context, event_key=event_key, topic_id=topic_id)
    return {
        "event_key": event_key,
        "recipient": recipient,
        "channel": "apprise",
        "template": template,
        "title": message.title,
        "body": message.body,
        "payload": message.payload,
        "topic_id": topic_id,
        "status": "pending",
        "attempts": 0,
        "delivered_services": [],
        "created_at": utcnow(),
    }


def queue(
    session: Session,
    *,
    event_key: str,
    recipients: Iterable[str],
    template: str,
    topic_id: int | None,
    salutations: dict[str, str] | None = None,
    one_time_links: dict[str, str] | None = None,
    **context: Any,
) -> None:
    """Stage one message per recipient in the outbox, in the caller's transaction.

    `salutations` addresses each recipient (tag -> salutation); a role tag is addressed by its
    role, anyone else by the context's own `salutation`. `one_time_links` gives a recipient his
    one-time link (models.action_links), which his message prints and carries as its link."""
    rows = [
        notification_row(
            event_key=event_key,
            recipient=r,
            template=template,
            context=context
            | _addressed(r, salutations, context)
            | {"one_time_link": (one_time_links or {}).get(r)},
            topic_id=topic_id,
        )
        for r in dict.fromkeys(recipients)
    ]
    insert_ignoring_duplicates(session, Notification, rows)
    if rows:
        session.info[OUTBOX_QUEUED] = True


def _addressed(
    recipient: str, salutations: dict[str, str] | None, context: dict[str, Any]
) -> dict[str, Any]:
    found = (salutations or {}).get(recipient) or tag_salutation(recipient)
    if found:
        return {"salutation": found}
    return {} if "salutation" in context else {"salutation": "您好"}


# Set on a session whose transaction staged outbox rows: whoever commits it may ask for
# prompt delivery (the API does; flows deliver in their own next task).
OUTBOX_QUEUED = "xieshang.outbox_queued"


def role_tag(role: Role) -> str:
    return ROLE_TAG.format(role.value)


def department_heads(
    session: Session, department_ids: Iterable[int]
) -> dict[int, list[tuple[str, str]]]:
    """(tag, name) of each department's heads, in one query."""
    rows = session.exec(
        select(Person.department_id, Person.tag, Person.name).where(
            Person.role == Role.DEPARTMENT_HEAD,
            Person.department_id.in_(sorted(set(department_ids))),  # type: ignore[union-attr]
        )
    ).all()
    heads: dict[int, list[tuple[str, str]]] = {}
    for dept_id, tag, name in rows:
        heads.setdefault(dept_id, []).append((tag, name))  # type: ignore[arg-type]
    return heads


def department_head_tags(session: Session, department_ids: Sequence[int]) -> dict[int, list[str]]:
    return {d: [t for t, _ in hs] for d, hs in department_heads(session, department_ids).items()}


def department_name(session: Session, department_id: int) -> str:
    dept = session.get(Department, department_id)
    return dept.name if dept else str(department_id)


# The ladder per obligation and who owes what no single person owes: see models/obligations.
LADDERS: dict[Obligation, Ladder] = {o: s.ladder for o, s in SPECS.items()}


def schedule_follow_ups(
    session: Session,
    *,
    obligation: Obligation,
    subject_id: int,
    topic_id: int,
    owed_by_id: int | None,
    deadline: dt.datetime | Deadline,
    provisional: bool = False,
    now: dt.datetime | None = None,
) -> list[FollowUp]:
    """Write every rung of the obligation's ladder; rungs already past fire on the next sweep.

    A `Deadline` counted in working days is recorded with how it was counted (counted_from,
    working_days), so loading an official schedule later can count it again."""
    rows = [
        FollowUp(**row)
        for row in ladder_rows(
            session,
            obligation=obligation,
            subject_id=subject_id,
            topic_id=topic_id,
            owed_by_id=owed_by_id,
            deadline=deadline,
            provisional=provisional,
            now=now,
        )
    ]
    session.add_all(rows)
    return rows


def ladder_rows(
    session: Session,
    *,
    obligation: Obligation,
    subject_id: int,
    topic_id: int,
    owed_by_id: int | None,
    deadline: dt.datetime | Deadline,
    provisional: bool = False,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """The rungs of an obligation's ladder as column values, written nowhere: what
    `schedule_follow_ups` adds one by one and a bulk operation (the 台账 import) inserts
    for a whole batch in one statement."""
    from config.settings import get_settings

    now = now or utcnow()
    counted_from: dt.date | None = None
    working_days: int | None = None
    if isinstance(deadline, Deadline):
        provisional = provisional or deadline.provisional
        counted_from, working_days = deadline.counted_from, deadline.working_days
        deadline = deadline.at
    ladder = list(SPECS[obligation].ladder)
    if obligation is Obligation.ITEM_DEADLINE:
        soon = get_settings().due_soon_working_days
        ladder = [(s, -soon if s is FollowUpStep.DUE_SOON else o) for s, o in ladder]
    rows = []
    for step, offset in ladder:
        due_at, unsure = step_due_at(session, deadline, offset)
        if step is FollowUpStep.DUE_SOON and due_at <= now:
            continue  # a "due soon" reminder after the fact says nothing
        rows.append(
            {
                "topic_id": topic_id,
                "obligation": obligation,
                "subject_id": subject_id,
                "owed_by_id": owed_by_id,
                "step": step,
                "deadline": deadline,
                "due_at": due_at,
                "rung_offset": offset,
                "counted_from": counted_from,
                "working_days": working_days,
                "provisional": provisional or unsure,
                "status": FollowUpStatus.OPEN,
                "created_at": utcnow(),
            }
        )
    return rows


ITEM_DEADLINES = (Obligation.ACKNOWLEDGEMENT, Obligation.PLAN, Obligation.ITEM_DEADLINE)


def mark_items_provisional(session: Session, item_ids: Sequence[int]) -> None:
    """RectificationItem.deadline_provisional: does any open deadline of the item (签收, 方案,
    整改期限 and their reminders) rest on a calendar estimated by rule?"""
    if not item_ids:
        return
    estimated = (
        exists()
        .where(
            FollowUp.subject_id == RectificationItem.id,  # type: ignore[arg-type]
            FollowUp.obligation.in_(ITEM_DEADLINES),  # type: ignore[attr-defined]
            FollowUp.status == FollowUpStatus.OPEN,  # type: ignore[arg-type]
            FollowUp.provisional.is_(True),  # type: ignore[attr-defined]
        )
        .correlate(RectificationItem)
    )
    session.execute(
        update(RectificationItem)
        .where(RectificationItem.id.in_(list(item_ids)))  # type: ignore[union-attr]
        .values(deadline_provisional=estimated)
        .execution_options(synchronize_session="fetch")
    )


def request_approval(
    session: Session,
    *,
    obligation: Obligation,
    subject_id: int,
    topic_id: int,
    working_days: int,
    event_key: str,
    template: str,
    now: dt.datetime,
    to: Role = Role.APPROVER,
    **context: Any,
) -> Deadline:
    """Ask the approver (议题、报告审定) or the office (初筛、裁定) to decide within N working
    days, and chase it."""
    due = working_days_after(session, now, working_days)
    schedule_follow_ups(
        session,
        obligation=obligation,
        subject_id=subject_id,
        topic_id=topic_id,
        owed_by_id=None,
        deadline=due,
        now=now,
    )
    queue(
        session,
        event_key=event_key,
        recipients=[role_tag(to)],
        template=template,
        topic_id=topic_id,
        deadline=format_local(due.at),
        provisional=due.provisional,
        **context,
    )
    return due


def close_follow_ups(
    session: Session, *, obligation: Obligation, subject_ids: Sequence[int], outcome: str
) -> None:
    """The obligation was met: its open rungs will not fire."""
    if not subject_ids:
        return
    session.execute(
        update(FollowUp)
        .where(
            FollowUp.obligation == obligation,  # type: ignore[arg-type]
            FollowUp.subject_id.in_(list(subject_ids)),  # type: ignore[attr-defined]
            FollowUp.status == FollowUpStatus.OPEN,  # type: ignore[arg-type]
        )
        .values(status=FollowUpStatus.CLOSED, outcome=outcome, processed_at=utcnow())
    )
    if obligation in ITEM_DEADLINES:
        mark_items_provisional(session, subject_ids)


def tell_deadline_changed(
    session: Session,
    *,
    obligation: Obligation,
    subject_id: int,
    topic_id: int,
    owed_by_id: int | None,
    old: dt.datetime,
    new: dt.datetime,
    reason: str,
    provisional: bool = False,
    was_provisional: bool = False,
    now: dt.datetime | None = None,
) -> None:
    """Whatever moved a deadline (an extension, a reassignment, a calendar reload): whoever owes
    it hears the old and the new date and why, and for an item so does its department's head."""
    from models.calendar import calendar_for

    now = now or utcnow()
    topic = session.get(Topic, topic_id)
    item = session.get(RectificationItem, subject_id) if obligation in ITEM_DEADLINES else None
    owed = session.get(Person, owed_by_id) if owed_by_id is not None else None
    if owed is not None:
        salutations = addressed(session, owed)
    else:
        role = DEFAULT_OWNER_ROLE.get(obligation, Role.ADMINISTRATOR)
        salutations = {role_tag(role): salutation(role)}
    if item is not None:
        dept = department_name(session, item.lead_department_id)
        for tag, name in department_heads(session, [item.lead_department_id]).get(
            item.lead_department_id, []
        ):
            salutations.setdefault(
                tag, salutation(Role.DEPARTMENT_HEAD, name=name, department=dept)
            )
    queue(
        session,
        event_key=f"deadline:{obligation.value}:{subject_id}:{int(new.timestamp())}",
        recipients=list(salutations),
        salutations=salutations,
        template="deadline_changed",
        topic_id=topic_id,
        # '整改期限' reads better than '完成整改事项期限'
        obligation="整改" if obligation is Obligation.ITEM_DEADLINE else SPECS[obligation].label,
        owed_by=owed.name if owed else "",
        topic_title=topic.title if topic else "",
        item_title=item.title if item else None,
        old_deadline=format_local(old),
        deadline=format_local(new),
        remaining=time_left(calendar_for(session), local_today(now), new),
        reason=reason,
        was_provisional=was_provisional,
        provisional=provisional,
        how_to_act=SPECS[obligation].how_to_act.format(topic_id=topic_id, subject_id=subject_id),
    )


__all__ = ["DEFAULT_OWNER_ROLE", "format_local"]
