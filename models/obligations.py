"""Obligations as declarations: one spec per thing somebody owes.

Each spec says how the obligation is chased (its ladder: rungs at working-day offsets from the
deadline), who owes it when no single person does, how a person reads it (label, how to act,
template) and, where it is a simple one, the SQL condition that fulfils it. The follow-up rows
written from these ladders are the only record of escalation state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, or_

from config.links import action
from models.enums import (
    ExtensionDecision,
    FollowUpStep,
    ItemStatus,
    Obligation,
    PlanStatus,
    ReportStatus,
    Role,
    Rsvp,
    Stage,
    TopicStatus,
)
from models.tables import (
    Evaluation,
    FollowUp,
    ItemExtension,
    Participant,
    Plan,
    Rating,
    RectificationItem,
    Report,
    ResearchTask,
    Topic,
)

Ladder = tuple[tuple[FollowUpStep, int], ...]
ESCALATIONS = (FollowUpStep.ESCALATE_HEAD, FollowUpStep.ESCALATE_ADMIN)


@dataclass(frozen=True)
class ObligationSpec:
    """One obligation: its ladder, owner, wording, templates and fulfilment condition."""

    obligation: Obligation
    label: str  # zh-CN, as a reminder names what is owed
    ladder: Ladder  # (rung, working days from the deadline)
    how_to_act: str  # {topic_id} and {subject_id} are filled in
    template: str  # the reminder's template; escalations use "escalation"
    owner_role: Role = Role.ADMINISTRATOR  # who owes it when no single person does
    # SQL condition correlated to FollowUp, true once the owed thing has been done.
    fulfilled: Callable[[], Any] | None = None
    # The wording of the weekly digest's section for an item obligation.
    digest_how_to_act: str | None = None
    item: bool = False  # its subject is a RectificationItem
    templates: tuple[tuple[FollowUpStep, str], ...] = ()  # per-rung template overrides

    def template_for(self, step: FollowUpStep) -> str:
        if step in ESCALATIONS:
            return "escalation"
        return dict(self.templates).get(step, self.template)


# An emergency topic has entered the regular loop once its subject stage (or a later one) is
# its stage.
REGULAR_LOOP = [s for s in Stage if s.index >= Stage.SUBJECT.index]

SPECS: dict[Obligation, ObligationSpec] = {
    s.obligation: s
    for s in (
        ObligationSpec(
            Obligation.TOPIC_APPROVAL,
            "审定议题",
            ((FollowUpStep.DUE, 0), (FollowUpStep.ESCALATE_ADMIN, 1)),
            f"请在协商平台审定（打开 {action('topic.approve', topic_id='{topic_id}')}）",
            "approval_reminder",
            owner_role=Role.APPROVER,
            fulfilled=lambda: exists().where(
                Topic.id == FollowUp.subject_id,  # type: ignore[arg-type]
                Topic.status != TopicStatus.AWAITING_APPROVAL,  # type: ignore[arg-type]
            ),
        ),
        ObligationSpec(
            Obligation.SCREENING,
            "确认议题初筛",
            ((FollowUpStep.DUE, 0), (FollowUpStep.ESCALATE_ADMIN, 1)),
            f"请在协商平台确认初筛（{action('topic.screen', topic_id='{topic_id}')}）："
            "予以受理、不予协商或并入更早的近似议题",
            "screening_due",
            owner_role=Role.ADMINISTRATOR,
            fulfilled=lambda: exists().where(
                Topic.id == FollowUp.subject_id,  # type: ignore[arg-type]
                Topic.status != TopicStatus.AWAITING_SCREENING,  # type: ignore[arg-type]
            ),
        ),
        ObligationSpec(
            Obligation.EMERGENCY_CONVERSION,
            "应急议题转入常规协商",
            ((FollowUpStep.DUE_SOON, -1), (FollowUpStep.DUE, 0), (FollowUpStep.ESCALATE_ADMIN, 1)),
            "请将应急议题转入常规协商流程：确定协商主体并启动“明确主体”环节"
            f"（{action('topic.participants', topic_id='{topic_id}')}）",
            "emergency_conversion_due",
            owner_role=Role.ADMINISTRATOR,
            fulfilled=lambda: exists().where(
                Topic.id == FollowUp.subject_id,  # type: ignore[arg-type]
                Topic.stage.in_(REGULAR_LOOP),  # type: ignore[attr-defined]
            ),
        ),
        ObligationSpec(
            Obligation.RSVP,
            "回复协商邀请",
            ((FollowUpStep.DUE_SOON, -1), (FollowUpStep.ESCALATE_ADMIN, 1)),
            f"请在协商平台回复是否参加（打开 {action('participant.rsvp', participant_id='{subject_id}')}）",
            "rsvp_reminder",
            fulfilled=lambda: exists().where(
                Participant.id == FollowUp.subject_id,  # type: ignore[arg-type]
                Participant.rsvp != Rsvp.PENDING,  # type: ignore[arg-type]
            ),
        ),
        ObligationSpec(
            Obligation.RESEARCH,
            "提交商前调研成果",
            (
                (FollowUpStep.DUE_SOON, -1),
                (FollowUpStep.OVERDUE, 1),
                (FollowUpStep.ESCALATE_ADMIN, 2),
            ),
            f"请在协商平台提交调研成果（打开 {action('research.findings', task_id='{subject_id}')}）",
            "research_due",
            fulfilled=lambda: exists().where(
                ResearchTask.id == FollowUp.subject_id,  # type: ignore[arg-type]
                ResearchTask.submitted_at.is_not(None),  # type: ignore[arg-type, union-attr]
            ),
        ),
        ObligationSpec(
            Obligation.REPORT_APPROVAL,
            "审定协商成果报告",
            ((FollowUpStep.DUE, 0), (FollowUpStep.ESCALATE_ADMIN, 1)),
            f"请在协商平台审定报告（打开 {action('report.approve', report_id='{subject_id}')}）",
            "approval_reminder",
            owner_role=Role.APPROVER,
            fulfilled=lambda: exists().where(
                Report.id == FollowUp.subject_id,  # type: ignore[arg-type]
                Report.status != ReportStatus.SUBMITTED,  # type: ignore[arg-type]
            ),
        ),
        ObligationSpec(
            Obligation.ACKNOWLEDGEMENT,
            "签收整改事项",
            (
                (FollowUpStep.DUE, 0),
                (FollowUpStep.OVERDUE, 1),
                (FollowUpStep.ESCALATE_HEAD, 1),
                (FollowUpStep.ESCALATE_ADMIN, 2),
            ),
            f"请在协商平台签收或说明理由退回（打开 {action('item.acknowledge', item_id='{subject_id}')}）",
            "ack_overdue",
            fulfilled=lambda: exists().where(
                RectificationItem.id == FollowUp.subject_id,  # type: ignore[arg-type]
                or_(
                    RectificationItem.status != ItemStatus.TRANSFERRED,  # type: ignore[arg-type]
                    RectificationItem.ack_due_at != FollowUp.deadline,  # type: ignore[arg-type]
                ),
            ),
            digest_how_to_act="请在协商平台签收，确非本单位职责的请说明理由退回",
            item=True,
        ),
        ObligationSpec(
            Obligation.PLAN,
            "提交整改方案",
            (
                (FollowUpStep.DUE_SOON, -1),
                (FollowUpStep.OVERDUE, 1),
                (FollowUpStep.ESCALATE_HEAD, 2),
            ),
            f"请在协商平台提交整改方案（打开 {action('item.plan', item_id='{subject_id}')}）",
            "plan_due",
            fulfilled=lambda: or_(
                exists().where(Plan.item_id == FollowUp.subject_id),  # type: ignore[arg-type]
                exists().where(
                    RectificationItem.id == FollowUp.subject_id,  # type: ignore[arg-type]
                    RectificationItem.status == ItemStatus.COMPLETED,  # type: ignore[arg-type]
                ),
            ),
            digest_how_to_act="请在协商平台提交整改方案（目标、措施、时限、责任人）",
            item=True,
        ),
        ObligationSpec(
            Obligation.ITEM_DEADLINE,
            "完成整改事项",
            (
                (FollowUpStep.DUE_SOON, -3),  # -settings.due_soon_working_days in practice
                (FollowUpStep.DUE, 0),
                (FollowUpStep.OVERDUE, 1),
                (FollowUpStep.ESCALATE_HEAD, 2),
                (FollowUpStep.ESCALATE_ADMIN, 3),
            ),
            f"请按期完成整改并在协商平台报送进展、申请办结（打开 {action('item.complete', item_id='{subject_id}')}）",
            "item_due_soon",
            templates=((FollowUpStep.OVERDUE, "overdue_warning"),),
            fulfilled=lambda: exists().where(
                RectificationItem.id == FollowUp.subject_id,  # type: ignore[arg-type]
                or_(
                    RectificationItem.status == ItemStatus.COMPLETED,  # type: ignore[arg-type]
                    RectificationItem.deadline != FollowUp.deadline,  # type: ignore[arg-type]
                ),
            ),
            digest_how_to_act="请按期完成整改，报送进展并申请办结",
            item=True,
        ),
        ObligationSpec(
            Obligation.RECHECK,
            "开展回头看",
            ((FollowUpStep.DUE, 0),),
            f"请组织回头看并在协商平台记录结果（{action('item.recheck', item_id='{subject_id}')}）",
            "recheck_request",
            owner_role=Role.ADMINISTRATOR,
            fulfilled=lambda: exists().where(
                RectificationItem.id == FollowUp.subject_id,  # type: ignore[arg-type]
                RectificationItem.rechecked_at.is_not(None),  # type: ignore[union-attr]
            ),
            item=True,
        ),
        ObligationSpec(
            Obligation.ARBITRATION,
            "裁定牵头单位",
            ((FollowUpStep.DUE, 0), (FollowUpStep.ESCALATE_ADMIN, 1)),
            f"请在协商平台裁定牵头单位（{action('item.arbitrate', item_id='{subject_id}')}），"
            "裁定后责任单位不得再退回",
            "arbitration_due",
            owner_role=Role.ADMINISTRATOR,
            fulfilled=lambda: exists().where(
                RectificationItem.id == FollowUp.subject_id,  # type: ignore[arg-type]
                RectificationItem.arbitrated_at.is_not(None),  # type: ignore[union-attr]
            ),
            item=True,
        ),
        ObligationSpec(
            Obligation.EXTENSION,
            "审批延期申请",
            ((FollowUpStep.DUE, 0), (FollowUpStep.ESCALATE_ADMIN, 1)),
            f"请在协商平台审批（{action('extension.approve', extension_id='{subject_id}')} 或 "
            f"{action('extension.refuse', extension_id='{subject_id}')}），"
            "期限届满前未批准的，仍按原整改期限考核",
            "approval_reminder",
            owner_role=Role.ADMINISTRATOR,
            fulfilled=lambda: exists().where(
                ItemExtension.id == FollowUp.subject_id,  # type: ignore[arg-type]
                ItemExtension.decision != ExtensionDecision.PENDING,  # type: ignore[arg-type]
            ),
        ),
        ObligationSpec(
            Obligation.EVALUATION,
            "提交第三方评估",
            ((FollowUpStep.DUE_SOON, -2), (FollowUpStep.DUE, 0), (FollowUpStep.ESCALATE_ADMIN, 1)),
            "请在协商平台按评估标准逐项评分并提交（打开 "
            f"{action('evaluation.submit', evaluation_id='{subject_id}')}）",
            "evaluation_due",
            # Met when he submits, or the office withdraws the assignment.
            fulfilled=lambda: exists().where(
                Evaluation.id == FollowUp.subject_id,  # type: ignore[arg-type]
                or_(
                    Evaluation.submitted_at.is_not(None),  # type: ignore[union-attr]
                    Evaluation.withdrawn_at.is_not(None),  # type: ignore[union-attr]
                ),
            ),
        ),
        ObligationSpec(
            Obligation.RATING,
            "评价整改成效",
            ((FollowUpStep.DUE_SOON, -1),),
            f"请在协商平台评价（打开 {action('topic.rate', topic_id='{topic_id}')}）",
            "rating_reminder",
            fulfilled=lambda: exists().where(
                Rating.topic_id == FollowUp.subject_id,  # type: ignore[arg-type]
                Rating.person_id == FollowUp.owed_by_id,  # type: ignore[arg-type]
            ),
        ),
    )
}

assert set(SPECS) == set(Obligation), "every obligation needs a spec"

ITEM_OBLIGATIONS = tuple(o for o, s in SPECS.items() if s.item)
# Obligations owed by no single person: who owes them.
DEFAULT_OWNER_ROLE: dict[Obligation, Role] = {o: s.owner_role for o, s in SPECS.items()}


def spec(obligation: Obligation | str) -> ObligationSpec:
    return SPECS[Obligation(obligation)]


def fulfilled_condition() -> Any:
    """SQL condition, correlated to FollowUp, true when the owed thing has been done (or the
    topic it belongs to was closed, rejected, screened out or merged; a re-check outlives it)."""
    f = FollowUp
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
    per = [
        and_(f.obligation == o, s.fulfilled())  # type: ignore[arg-type]
        for o, s in SPECS.items()
        if s.fulfilled is not None  # type: ignore[arg-type]
    ]
    return or_(topic_closed, *per)


# Where an item stands on its plan, as a message about its deadline names it.
PLAN_STATES: dict[PlanStatus | None, str] = {
    None: "尚未提交整改方案",
    PlanStatus.SUBMITTED: "整改方案已提交、尚待审核",
    PlanStatus.RETURNED: "整改方案未通过审核、尚未重新提交",
    PlanStatus.APPROVED: "整改方案已审核通过，尚未申请办结",
}


def unmet(
    obligation: Obligation, *, overdue: bool, plan_status: PlanStatus | str | None = None
) -> str:
    """What is still owed, named from the obligation's own state: '逾期未签收整改事项',
    '已过整改期限仍未完成整改事项，整改方案已审核通过，尚未申请办结' …"""
    what = f"未{SPECS[obligation].label}"
    if obligation is Obligation.ITEM_DEADLINE:
        plan = PLAN_STATES[PlanStatus(plan_status) if plan_status else None]
        return f"{'已过整改期限仍' if overdue else '尚'}{what}，{plan}"
    return f"逾期{what}" if overdue else f"尚{what}"
