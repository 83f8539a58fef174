"""The follow-up sweep: every due rung of every ladder, handled in a fixed number of queries."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import aliased
from sqlmodel import Session

from models.base import utcnow
from models.case import (
    DEFAULT_OWNER_ROLE,
    department_head_tags,
    insert_ignoring_duplicates,
    notification_row,
    role_tag,
)
from models.deadlines import format_local
from models.enums import (
    FollowUpStatus,
    FollowUpStep,
    ItemStatus,
    Obligation,
    ReportStatus,
    Role,
    Rsvp,
    TopicStatus,
)
from models.tables import (
    Department,
    FollowUp,
    Notification,
    Participant,
    Person,
    Plan,
    Rating,
    RectificationItem,
    Report,
    ResearchTask,
    Topic,
)

OBLIGATION_LABELS = {
    Obligation.TOPIC_APPROVAL: "审定议题",
    Obligation.RSVP: "回复协商邀请",
    Obligation.RESEARCH: "提交商前调研成果",
    Obligation.REPORT_APPROVAL: "审定协商成果报告",
    Obligation.ACKNOWLEDGEMENT: "签收整改事项",
    Obligation.PLAN: "提交整改方案",
    Obligation.ITEM_DEADLINE: "完成整改事项",
    Obligation.RECHECK: "开展回头看",
    Obligation.RATING: "评价整改成效",
}

HOW_TO_ACT = {
    Obligation.TOPIC_APPROVAL: "请在协商平台审定（POST /topics/{topic_id}/approve 或 /reject）",
    Obligation.RSVP: "请在协商平台回复是否参加（POST /participants/{subject_id}/rsvp）",
    Obligation.RESEARCH: "请在协商平台提交调研成果（POST /research-tasks/{subject_id}/findings）",
    Obligation.REPORT_APPROVAL: "请在协商平台审定报告（POST /reports/{subject_id}/approve）",
    Obligation.ACKNOWLEDGEMENT: "请在协商平台签收或说明理由退回（POST /items/{subject_id}/acknowledge）",
    Obligation.PLAN: "请在协商平台提交整改方案（POST /items/{subject_id}/plan）",
    Obligation.ITEM_DEADLINE: "请按期完成整改并在协商平台报送进展、申请办结（POST /items/{subject_id}/complete）",
    Obligation.RECHECK: "请组织回头看并在协商平台记录结果（POST /items/{subject_id}/recheck）",
    Obligation.RATING: "请在协商平台评价（POST /topics/{topic_id}/ratings）",
}

ITEM_OBLIGATIONS = (
    Obligation.ACKNOWLEDGEMENT,
    Obligation.PLAN,
    Obligation.ITEM_DEADLINE,
    Obligation.RECHECK,
)


def template_for(obligation: Obligation, step: FollowUpStep) -> str:
    if step in (FollowUpStep.ESCALATE_HEAD, FollowUpStep.ESCALATE_ADMIN):
        return "escalation"
    return {
        Obligation.TOPIC_APPROVAL: "approval_reminder",
        Obligation.REPORT_APPROVAL: "approval_reminder",
        Obligation.RSVP: "rsvp_reminder",
        Obligation.RESEARCH: "research_due",
        Obligation.ACKNOWLEDGEMENT: "ack_overdue",
        Obligation.PLAN: "plan_due",
        Obligation.ITEM_DEADLINE: (
            "overdue_warning" if step is FollowUpStep.OVERDUE else "item_due_soon"
        ),
        Obligation.RECHECK: "recheck_request",
        Obligation.RATING: "rating_reminder",
    }[obligation]


def _fulfilled() -> Any:
    """SQL condition, correlated to FollowUp, true when the owed thing has been done."""
    f = FollowUp
    item = RectificationItem
    per = {
        Obligation.TOPIC_APPROVAL: exists().where(
            Topic.id == f.subject_id,  # type: ignore[arg-type]
            Topic.status != TopicStatus.AWAITING_APPROVAL,  # type: ignore[arg-type]
        ),
        Obligation.RSVP: exists().where(
            Participant.id == f.subject_id,  # type: ignore[arg-type]
            Participant.rsvp != Rsvp.PENDING,  # type: ignore[arg-type]
        ),
        Obligation.RESEARCH: exists().where(
            ResearchTask.id == f.subject_id,  # type: ignore[arg-type]
            ResearchTask.submitted_at.is_not(None),  # type: ignore[union-attr]
        ),
        Obligation.REPORT_APPROVAL: exists().where(
            Report.id == f.subject_id,  # type: ignore[arg-type]
            Report.status != ReportStatus.SUBMITTED,  # type: ignore[arg-type]
        ),
        Obligation.ACKNOWLEDGEMENT: exists().where(
            item.id == f.subject_id,  # type: ignore[arg-type]
            or_(item.status != ItemStatus.TRANSFERRED, item.ack_due_at != f.deadline),  # type: ignore[arg-type]
        ),
        Obligation.PLAN: or_(
            exists().where(Plan.item_id == f.subject_id),  # type: ignore[arg-type]
            exists().where(item.id == f.subject_id, item.status == ItemStatus.COMPLETED),  # type: ignore[arg-type]
        ),
        Obligation.ITEM_DEADLINE: exists().where(
            item.id == f.subject_id,  # type: ignore[arg-type]
            or_(item.status == ItemStatus.COMPLETED, item.deadline != f.deadline),  # type: ignore[arg-type]
        ),
        Obligation.RECHECK: exists().where(item.id == f.subject_id, item.rechecked_at.is_not(None)),  # type: ignore[arg-type, union-attr]
        Obligation.RATING: exists().where(
            Rating.topic_id == f.subject_id,  # type: ignore[arg-type]
            Rating.person_id == f.owed_by_id,  # type: ignore[arg-type]
        ),
    }
    topic_closed = and_(
        f.obligation != Obligation.RECHECK,  # type: ignore[arg-type]
        exists().where(
            Topic.id == f.topic_id,  # type: ignore[arg-type]
            Topic.status.in_(  # type: ignore[attr-defined]
                [
                    TopicStatus.CLOSED,
                    TopicStatus.REJECTED,
                    TopicStatus.SCREENED_OUT,
                    TopicStatus.MERGED,
                ]
            ),
        ),
    )
    return or_(topic_closed, *(and_(f.obligation == o, cond) for o, cond in per.items()))  # type: ignore[arg-type]


def sweep(session: Session, *, now: dt.datetime | None = None, batch: int = 5000) -> dict[str, Any]:
    """Handle every rung that has come due: record 'nothing to do' or queue the reminder."""
    now = now or utcnow()
    due = and_(FollowUp.status == FollowUpStatus.OPEN, FollowUp.due_at <= now)  # type: ignore[arg-type]
    settled = session.execute(  # type: ignore[attr-defined]
        update(FollowUp)
        .where(due, _fulfilled())
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
