"""The follow-up sweep: every due rung of every ladder, handled in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import and_, select, text, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from models.base import utcnow
from models.calendar import calendar_for
from models.case import (
    ROLE_NAMES,
    department_heads,
    insert_ignoring_duplicates,
    notification_row,
    role_tag,
    salutation,
)
from models.deadlines import WorkdayCounter, format_local, local_today
from models.enums import (
    FollowUpStatus,
    FollowUpStep,
    Obligation,
    Role,
)
from models.obligations import (
    DEFAULT_OWNER_ROLE,
    ITEM_OBLIGATIONS,
    SPECS,
    fulfilled_condition,
    unmet,
)
from models.tables import (
    Department,
    FollowUp,
    Notification,
    Person,
    Plan,
    RectificationItem,
    Topic,
)

OBLIGATION_LABELS = {o: s.label for o, s in SPECS.items()}
HOW_TO_ACT = {o: s.how_to_act for o, s in SPECS.items()}


def template_for(obligation: Obligation, step: FollowUpStep) -> str:
    return SPECS[obligation].template_for(step)


def sweep(session: Session, *, now: dt.datetime | None = None, batch: int = 5000) -> dict[str, Any]:
    """Handle every rung that has come due: record 'nothing to do' or queue the reminder."""
    now = now or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        # The settling UPDATE's EXISTS per obligation make the planner guess hundreds of
        # thousands of due rows (cost ~10^7), so PostgreSQL JIT-compiles the sweep's statements:
        # 3 s of compiling for 0.2 s of work over 1M items. This transaction does short work.
        session.execute(text("SET LOCAL jit = off"))
    due = and_(FollowUp.status == FollowUpStatus.OPEN, FollowUp.due_at <= now)  # type: ignore[arg-type]
    settled = session.execute(  # type: ignore[attr-defined]
        update(FollowUp)
        .where(due, fulfilled_condition())
        .values(
            status=FollowUpStatus.NOTHING_TO_DO,
            outcome="到期时义务已履行，无需提醒",
            processed_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount

    owed = aliased(Person)
    # Where the item stands on its plan (its latest version), for the wording of its deadline.
    plan_status = (
        select(Plan.status)  # type: ignore[call-overload]
        .where(Plan.item_id == FollowUp.subject_id)
        .order_by(Plan.version.desc())  # type: ignore[attr-defined]
        .limit(1)
        .correlate(FollowUp)
        .scalar_subquery()
    )
    rows = session.execute(
        select(  # type: ignore[call-overload]
            FollowUp.id,
            FollowUp.topic_id,
            FollowUp.obligation,
            FollowUp.subject_id,
            FollowUp.step,
            FollowUp.deadline,
            FollowUp.provisional,
            owed.name,
            owed.tag,
            owed.department_id,
            Topic.title,
            RectificationItem.title,
            RectificationItem.lead_department_id,
            Department.name,
            owed.role,
            plan_status,
        )
        .join(Topic, Topic.id == FollowUp.topic_id)
        .outerjoin(owed, owed.id == FollowUp.owed_by_id)
        .outerjoin(
            RectificationItem,
            and_(
                FollowUp.obligation.in_(ITEM_OBLIGATIONS),  # type: ignore[attr-defined]
                RectificationItem.id == FollowUp.subject_id,  # type: ignore[arg-type]
            ),
        )
        .outerjoin(Department, Department.id == RectificationItem.lead_department_id)
        .where(due)
        .order_by(FollowUp.id)
    ).all()

    dept_ids = {r[12] or r[9] for r in rows if r[4] is FollowUpStep.ESCALATE_HEAD}
    heads = department_heads(session, [d for d in dept_ids if d is not None])
    counter = WorkdayCounter(calendar_for(session), local_today(now))  # one count per day
    notes: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for (
        fid,
        topic_id,
        obligation,
        subject_id,
        step,
        deadline,
        provisional,
        owed_name,
        owed_tag,
        owed_dept,
        topic_title,
        item_title,
        lead_dept,
        dept_name,
        owed_role,
        latest_plan,
    ) in rows:
        obligation = Obligation(obligation)
        step = FollowUpStep(step)
        default_role = DEFAULT_OWNER_ROLE.get(obligation, Role.ADMINISTRATOR)
        # Each recipient with the salutation of their role.
        recipients: dict[str, str]
        if step is FollowUpStep.ESCALATE_ADMIN:
            recipients = {role_tag(Role.ADMINISTRATOR): salutation(Role.ADMINISTRATOR)}
            recipients[role_tag(Role.APPROVER)] = salutation(Role.APPROVER)
        elif step is FollowUpStep.ESCALATE_HEAD:
            dept_heads = heads.get(lead_dept or owed_dept, [])
            recipients = {
                tag: salutation(Role.DEPARTMENT_HEAD, name=name, department=dept_name)
                for tag, name in dept_heads
            } or {role_tag(Role.ADMINISTRATOR): salutation(Role.ADMINISTRATOR)}
        elif owed_tag:
            recipients = {owed_tag: salutation(owed_role, name=owed_name, department=dept_name)}
        else:
            recipients = {role_tag(default_role): salutation(default_role)}
        overdue = now > deadline
        context = {
            "step": step.value,
            "obligation": OBLIGATION_LABELS[obligation],
            "owed_by": owed_name or ROLE_NAMES[default_role],
            "topic_title": topic_title,
            "item_title": item_title,
            "department": dept_name,
            "deadline": format_local(deadline),
            "overdue": overdue,
            "remaining": counter.time_left(deadline),
            "state": unmet(obligation, overdue=overdue, plan_status=latest_plan),
            "provisional": provisional,
            "how_to_act": HOW_TO_ACT[obligation].format(topic_id=topic_id, subject_id=subject_id),
        }
        template = template_for(obligation, step)
        for recipient, greeting in recipients.items():
            notes.append(
                notification_row(
                    event_key=f"followup:{fid}",
                    recipient=recipient,
                    template=template,
                    context=context | {"salutation": greeting},
                    topic_id=topic_id,
                )
            )
        counts[f"{obligation.value}.{step.value}"] += 1
    for start in range(0, len(notes), batch):
        insert_ignoring_duplicates(session, Notification, notes[start : start + batch])
    ids = [r[0] for r in rows]
    for start in range(0, len(ids), batch):
        session.execute(
            update(FollowUp)
            .where(FollowUp.id.in_(ids[start : start + batch]))  # type: ignore[union-attr]
            .values(status=FollowUpStatus.SENT, outcome="已提醒/督办", processed_at=now)
            .execution_options(synchronize_session=False)
        )
    return {
        "nothing_to_do": settled,
        "chased": len(rows),
        "messages": len(notes),
        "by_rung": dict(sorted(counts.items())),
    }
