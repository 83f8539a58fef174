"""The follow-up sweep: every due rung of every ladder, handled in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from models.base import utcnow
from models.case import (
    department_head_tags,
    insert_ignoring_duplicates,
    notification_row,
    role_tag,
)
from models.deadlines import format_local
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
)
from models.tables import (
    Department,
    FollowUp,
    Notification,
    Person,
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
    heads = department_head_tags(session, [d for d in dept_ids if d is not None])
    admins = [role_tag(Role.ADMINISTRATOR), role_tag(Role.APPROVER)]
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
    ) in rows:
        obligation = Obligation(obligation)
        step = FollowUpStep(step)
        default_owner = role_tag(DEFAULT_OWNER_ROLE.get(obligation, Role.ADMINISTRATOR))
        if step is FollowUpStep.ESCALATE_ADMIN:
            recipients = admins
        elif step is FollowUpStep.ESCALATE_HEAD:
            recipients = heads.get(lead_dept or owed_dept, []) or [role_tag(Role.ADMINISTRATOR)]
        else:
            recipients = [owed_tag or default_owner]
        context = {
            "step": step.value,
            "obligation": OBLIGATION_LABELS[obligation],
            "owed_by": owed_name or "相关负责同志",
            "topic_title": topic_title,
            "item_title": item_title,
            "department": dept_name,
            "deadline": format_local(deadline),
            "overdue": now > deadline,
            "provisional": provisional,
            "how_to_act": HOW_TO_ACT[obligation].format(topic_id=topic_id, subject_id=subject_id),
        }
        template = template_for(obligation, step)
        for recipient in recipients:
            notes.append(
                notification_row(
                    event_key=f"followup:{fid}",
                    recipient=recipient,
                    template=template,
                    context=context,
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
