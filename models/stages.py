"""Stage gates and transitions: the only place that decides whether a stage may start or is done."""

from __future__ import annotations

import datetime as dt
import importlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, select

from config.settings import get_settings
from models.base import Page, utcnow
from models.case import audit, get, touch
from models.enums import (
    PARTICIPANT_ROLE_LABELS,
    STAGE_ORDER,
    Adoption,
    ItemStatus,
    ParticipantRole,
    ReportStatus,
    Rsvp,
    SessionStatus,
    Stage,
    StageState,
    TopicStatus,
)
from models.errors import Conflict, GateRefused
from models.tables import (
    Assessment,
    ConsultationSession,
    Participant,
    RectificationItem,
    Report,
    ResearchSummary,
    ResearchTask,
    StageRun,
    Suggestion,
    Topic,
)

CLOSED_STATUSES = {
    TopicStatus.SCREENED_OUT: "未通过筛选",
    TopicStatus.REJECTED: "未获审定",
    TopicStatus.MERGED: "已并入其他议题",
    TopicStatus.CLOSED: "已办结",
}

ACKNOWLEDGED = (ItemStatus.ACKNOWLEDGED, ItemStatus.IN_PROGRESS, ItemStatus.COMPLETED)


def is_done(topic: Topic, stage: Stage) -> bool:
    if topic.stage.index > stage.index:
        return True
    return topic.stage == stage and topic.stage_state == StageState.DONE


def ensure_open(topic: Topic, doing: str) -> None:
    if topic.status in CLOSED_STATUSES:
        raise GateRefused(f"议题“{topic.title}”{CLOSED_STATUSES[topic.status]}，不能{doing}")


def ensure_in_stage(topic: Topic, stage: Stage, doing: str) -> None:
    """Human actions belong to one stage: refuse them before it starts or after it is done."""
    ensure_open(topic, doing)
    if topic.stage != stage or topic.stage_state in (StageState.NOT_STARTED, StageState.DONE):
        raise GateRefused(
            f"议题当前处于“{topic.stage.label}”环节（{STATE_LABELS[topic.stage_state]}），"
            f"不能{doing}；此操作属于“{stage.label}”环节进行中"
        )


def ensure_item_work(topic: Topic, stage: Stage, doing: str, *, item: RectificationItem) -> None:
    """An item's work belongs to its stage (签收 to the transfer, plan to completion to the
    implementation). An item that reached its department after the transfer stage — reopened
    by a failed 回头看, or brought in by a 台账 import — is worked in whichever of the two last
    stages the topic is in: the topic does not go back for it."""
    if reached_late(item) and topic.stage in (Stage.IMPLEMENTATION, Stage.ASSESSMENT):
        stage = topic.stage
    ensure_in_stage(topic, stage, doing)


def reached_late(item: RectificationItem) -> bool:
    """Reopened after a 回头看, or listed in a department's 台账 (its external id)."""
    return item.reopened_from_id is not None or item.external_id is not None


STATE_LABELS = {
    StageState.NOT_STARTED: "未启动",
    StageState.RUNNING: "自动处理中",
    StageState.WAITING: "等待办理",
    StageState.DONE: "已完成",
}


def representative(roles: Sequence[str]) -> str | None:
    """None if the mix of participants is representative, else the reason it is not: residents
    or stakeholders present, someone to take the outcome on, and no side above its share."""
    if ParticipantRole.RESIDENT not in roles:
        return "协商主体中没有群众代表或利益相关方，协商不具代表性"
    if ParticipantRole.ORGANIZER not in roles and ParticipantRole.DEPARTMENT not in roles:
        return "协商主体中没有党委政府或职能部门代表，协商意见无人承接"
    limit = get_settings().max_side_share
    side, n = Counter(roles).most_common(1)[0]
    if n / len(roles) > limit:
        return (
            f"{PARTICIPANT_ROLE_LABELS[ParticipantRole(side)]}占协商主体的 {n}/{len(roles)}，"
            f"超过 {limit:.0%} 的上限，请增加其他方面的代表"
        )
    return None


def _count(session: Session, stmt) -> int:  # type: ignore[no-untyped-def]
    return session.exec(stmt).one()


def _participants_gate(session: Session, topic: Topic) -> str | None:
    roles = list(session.exec(select(Participant.role).where(Participant.topic_id == topic.id)))
    if not roles:
        return "尚未确定协商主体，请先添加参加人员"
    return representative(roles)


def _research_gate(session: Session, topic: Topic) -> str | None:
    n = _count(session, select(func.count()).where(ResearchTask.topic_id == topic.id))
    return None if n else "尚未安排调研任务，请先安排至少一项商前调研"


def _session_gate(session: Session, topic: Topic) -> str | None:
    n = _count(
        session,
        select(func.count()).where(
            ConsultationSession.topic_id == topic.id,
            ConsultationSession.status == SessionStatus.SCHEDULED,
        ),
    )
    return None if n else "尚未安排协商会（形式、时间、地点），不能开展协商"


def _report_gate(session: Session, topic: Topic) -> str | None:
    n = _count(session, select(func.count()).where(Suggestion.topic_id == topic.id))
    return None if n else "协商未形成任何意见建议，无成果可报送"


def _transfer_gate(session: Session, topic: Topic) -> str | None:
    tid = topic.id
    adopted = session.exec(
        select(Suggestion).where(
            Suggestion.topic_id == tid, Suggestion.adoption == Adoption.ADOPTED
        )
    ).all()
    if not adopted:
        return "没有被采纳的建议，无事项可转交"
    with_items = set(
        session.exec(
            select(RectificationItem.suggestion_id).where(RectificationItem.topic_id == tid)
        )
    )
    missing = [sg for sg in adopted if sg.id not in with_items]
    if missing:
        return f"建议“{missing[0].content[:30]}”尚未确定牵头单位和责任人，请先建立整改事项"
    return None


def _no_gate(_session: Session, _topic: Topic) -> str | None:
    return None


def _approval_owed(_session: Session, topic: Topic) -> str | None:
    if topic.status == TopicStatus.AWAITING_SCREENING:
        return "等待协商办确认初筛（系统提示可能不予协商或与已有议题近似）"
    if topic.status in CLOSED_STATUSES:
        return None
    return None if topic.status == TopicStatus.IN_PROGRESS else "等待审定"


def _replies_owed(session: Session, topic: Topic) -> str | None:
    rows = session.exec(
        select(Participant.role, Participant.rsvp).where(Participant.topic_id == topic.id)
    ).all()
    if any(rsvp == Rsvp.PENDING for _, rsvp in rows):
        return "邀请回复未齐"
    return representative([role for role, rsvp in rows if rsvp == Rsvp.ACCEPTED])


def _findings_owed(session: Session, topic: Topic) -> str | None:
    """不调研不协商: every required task's findings, then the summary, accepted."""
    open_tasks = _count(
        session,
        select(func.count()).where(
            ResearchTask.topic_id == topic.id,
            ResearchTask.required.is_(True),  # type: ignore[attr-defined]
            ResearchTask.submitted_at.is_(None),  # type: ignore[union-attr]
        ),
    )
    if open_tasks:
        return "调研成果未全部提交"
    summary = session.exec(
        select(ResearchSummary).where(ResearchSummary.topic_id == topic.id)
    ).first()
    if summary is None:
        return "调研报告尚未提交"
    if summary.returned_at is not None:
        return f"调研报告已退回修改：{summary.review_note}"
    if summary.accepted_at is None:
        return "调研报告待协商办审核"
    return None


def _consensus_owed(session: Session, topic: Topic) -> str | None:
    n = _count(
        session,
        select(func.count()).where(
            ConsultationSession.topic_id == topic.id,
            ConsultationSession.consensus_reached.is_(True),  # type: ignore[attr-defined]
        ),
    )
    return None if n else "协商尚未形成共识"


def _report_decision_owed(session: Session, topic: Topic) -> str | None:
    report = session.exec(select(Report).where(Report.topic_id == topic.id)).first()
    return None if report and report.status == ReportStatus.APPROVED else "报告尚未审定"


def _acknowledgements_owed(session: Session, topic: Topic) -> str | None:
    pending = _count(
        session,
        select(func.count()).where(
            RectificationItem.topic_id == topic.id,
            RectificationItem.status.not_in(ACKNOWLEDGED),  # type: ignore[attr-defined]
        ),
    )
    return "整改事项尚未全部签收" if pending else None


def _completions_owed(session: Session, topic: Topic) -> str | None:
    pending = _count(
        session,
        select(func.count()).where(
            RectificationItem.topic_id == topic.id,
            RectificationItem.status != ItemStatus.COMPLETED,
        ),
    )
    return "整改事项尚未全部完成" if pending else None


def _assessment_owed(session: Session, topic: Topic) -> str | None:
    done = session.exec(select(Assessment.id).where(Assessment.topic_id == topic.id)).first()
    return None if done else "评估尚未办结"


Check = Callable[[Session, Topic], str | None]


@dataclass(frozen=True)
class StageSpec:
    """Everything the loop needs to know about one stage; flows, the deployment registry, the
    launcher, the demo and the test factories all derive from these declarations.

    To add a stage: a member of models.enums.Stage (with its label), a spec here, a one-line
    module in flows/ (`x_stage = STAGE_FLOWS[Stage.X]`, the entrypoint prefect.yaml names) and
    its prefect.yaml entry; tests/test_prefect_yaml.py checks the last two."""

    stage: Stage
    not_ready: str  # why it cannot start while the stage before it is unfinished
    gate: Check  # what must also exist before it starts (None: it may start)
    waits_for: Check  # what people still owe once the automatic work is done (None: done)
    work: str  # the automatic work, "module:function" taking (session, topic_id)
    work_name: str  # the Prefect task name of that work
    summary: str  # what the flow run does, as its description

    @property
    def label(self) -> str:
        return self.stage.label

    @property
    def flow_name(self) -> str:
        return f"stage-{self.stage.value}"

    @property
    def previous(self) -> Stage | None:
        return STAGE_ORDER[self.stage.index - 1] if self.stage.index else None

    def automatic_work(self) -> Callable[..., Any]:
        module, name = self.work.split(":")
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


SPECS: dict[Stage, StageSpec] = {
    spec.stage: spec
    for spec in [
        StageSpec(
            Stage.TOPIC,
            not_ready="",
            gate=_no_gate,
            waits_for=_approval_owed,
            work="models.topic:screen",
            work_name="screen-topic",
            summary="初筛议题（涉法涉诉、信访、不具代表性、已有明确规定不协商；近似议题提示），有提示的由协商办确认，报审定人审定",
        ),
        StageSpec(
            Stage.SUBJECT,
            not_ready="议题尚未经审定，不能明确协商主体",
            gate=_participants_gate,
            waits_for=_replies_owed,
            work="models.subject:invite",
            work_name="invite-participants",
            summary="邀请每位协商主体，并按工作日跟踪回复期限",
        ),
        StageSpec(
            Stage.PRESTUDY,
            not_ready="协商主体尚未确定（邀请回复未齐或缺少群众代表），不能开展商前调研",
            gate=_research_gate,
            waits_for=_findings_owed,
            work="models.prestudy:assign",
            work_name="assign-research",
            summary="向每位调研责任人布置调研任务及期限；必做任务成果齐全、调研报告经协商办审核通过后方可协商（不调研不协商）",
        ),
        StageSpec(
            Stage.SESSION,
            not_ready="未完成商前调研，不能开展协商（不调研不协商）",
            gate=_session_gate,
            waits_for=_consensus_owed,
            work="models.consultation:announce",
            work_name="announce-session",
            summary="向已接受邀请的协商主体发出本轮协商会通知",
        ),
        StageSpec(
            Stage.REPORT,
            not_ready="协商尚未形成共识，不能报送成果",
            gate=_report_gate,
            waits_for=_report_decision_owed,
            work="models.report:compile_report",
            work_name="compile-report",
            summary="汇总各轮协商、调研与意见建议，形成协商成果报告并报送审定",
        ),
        StageSpec(
            Stage.TRANSFER,
            not_ready="协商成果报告尚未审定，不能转交办理",
            gate=_transfer_gate,
            waits_for=_acknowledgements_owed,
            work="models.rectification:transfer",
            work_name="transfer-items",
            summary="将每项整改事项转交牵头单位，并按工作日跟踪签收",
        ),
        StageSpec(
            Stage.IMPLEMENTATION,
            not_ready="整改事项尚未全部签收，不能进入落实整改",
            gate=_no_gate,
            waits_for=_completions_owed,
            work="models.rectification:start_implementation",
            work_name="request-plans",
            summary="请各责任单位提交整改方案（一问题一方案），整改期限进入提醒与督办阶梯",
        ),
        StageSpec(
            Stage.ASSESSMENT,
            not_ready="整改事项尚未全部完成，不能评估质效",
            gate=_no_gate,
            waits_for=_assessment_owed,
            work="models.assessment:request_ratings",
            work_name="request-ratings",
            summary="请参加协商的群众、委员和监督员评价整改成效；协商办办结后计算评估指标",
        ),
    ]
}


def check_can_start(session: Session, topic: Topic, stage: Stage) -> None:
    """Raise GateRefused with the reason a person needs if `stage` may not start now."""
    spec = SPECS[stage]
    ensure_open(topic, f"开展“{stage.label}”")
    if spec.previous is None:
        if topic.status != TopicStatus.DRAFT:
            raise GateRefused("议题已提交审定，不能重复启动“确定议题”")
        return
    if topic.stage.index >= stage.index and topic.stage_state != StageState.NOT_STARTED:
        raise GateRefused(f"“{stage.label}”环节已启动")
    if not is_done(topic, spec.previous):
        raise GateRefused(spec.not_ready)
    reason = spec.gate(session, topic)
    if reason:
        raise GateRefused(reason)


def completion_reason(session: Session, topic: Topic) -> str | None:
    """None if the current stage's human work is finished, else what is still owed."""
    return SPECS[topic.stage].waits_for(session, topic)


def ensure_preparing(topic: Topic, stage: Stage, doing: str) -> None:
    """What a stage needs before and while it runs (participants, research tasks, a session,
    items) may be added from the moment the stage before it is done until this one is."""
    ensure_open(topic, doing)
    spec = SPECS[stage]
    if spec.previous is not None and not is_done(topic, spec.previous):
        raise Conflict(spec.not_ready)
    if is_done(topic, stage):
        raise Conflict(f"“{stage.label}”环节已完成，不能再{doing}")


def under_way(topic: Topic, stage: Stage) -> bool:
    """True once the stage's flow has started: a late addition gets its automatic work now
    (an invitation, a task assignment, a notice, a transfer) instead of waiting for a run."""
    return topic.stage == stage and topic.stage_state != StageState.NOT_STARTED


def begin(session: Session, topic: Topic, stage: Stage) -> bool:
    """Mark the stage running; False if it is already under way (a retried flow run)."""
    if topic.stage == stage and topic.stage_state != StageState.NOT_STARTED:
        return False
    check_can_start(session, topic, stage)
    topic.stage = stage
    topic.stage_state = StageState.RUNNING
    touch(topic)
    audit(session, action="stage_started", topic_id=topic.id, stage=stage.value)
    return True


def settle(session: Session, topic: Topic, *, after_flow: bool = False) -> StageState:
    """After the flow's automatic work or a person's action: wait for people, or finish."""
    if after_flow and topic.stage_state == StageState.RUNNING:
        topic.stage_state = StageState.WAITING
        touch(topic)
    if (
        topic.stage_state == StageState.WAITING
        and topic.status not in CLOSED_STATUSES
        and completion_reason(session, topic) is None
    ):
        topic.stage_state = StageState.DONE
        touch(topic)
        audit(session, action="stage_done", topic_id=topic.id, stage=topic.stage.value)
        run = stage_run(session, topic.id, topic.stage)  # type: ignore[arg-type]
        if run and run.finished_at is None:
            run.finished_at = utcnow()
    return topic.stage_state


def check_can_restart(session: Session, topic: Topic, stage: Stage) -> None:
    """A stage whose run failed may run again: its automatic work was interrupted (running) or
    never began; a stage already waiting for people or done needs no new run."""
    if topic.stage == stage and topic.stage_state == StageState.RUNNING:
        return
    check_can_start(session, topic, stage)


def record_run(session: Session, *, topic_id: int, stage: Stage, flow_run_id: str) -> bool:
    """Record the stage's run; a replacement for a failed run takes its place (Prefect keeps
    both). False when this very run was already recorded, by this request or a concurrent one
    (one read decides, so two requests converging on one run never both say they created it)."""
    existing = session.exec(
        select(StageRun).where(StageRun.topic_id == topic_id, StageRun.stage == stage)
    ).first()
    if existing:
        if existing.flow_run_id == flow_run_id:
            return False
        existing.flow_run_id = flow_run_id
        existing.started_at = utcnow()
        audit(session, action="stage_restarted", topic_id=topic_id, stage=stage.value)
        return True
    session.add(StageRun(topic_id=topic_id, stage=stage, flow_run_id=flow_run_id))
    session.flush()
    return True


def stage_run(session: Session, topic_id: int, stage: Stage) -> StageRun | None:
    return session.exec(
        select(StageRun).where(StageRun.topic_id == topic_id, StageRun.stage == stage)
    ).first()


class StageView(BaseModel):
    """A stage of one topic as people see it: its state, its flow run, what it waits for."""

    stage: Stage
    label: str
    state: StageState
    flow_run_id: str | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    waiting_for: str | None = None


class StagesPublic(Page[StageView]):
    """The topic's eight stages in order (the timeline)."""


def stage_views(session: Session, topic_id: int) -> list[StageView]:
    """The topic's eight stages in order (the timeline)."""
    topic = get(session, Topic, topic_id)
    runs = {r.stage: r for r in session.exec(select(StageRun).where(StageRun.topic_id == topic_id))}
    waiting = completion_reason(session, topic) if topic.stage_state == StageState.WAITING else None
    views = []
    for stage in Stage:
        if is_done(topic, stage):
            state = StageState.DONE
        elif topic.stage == stage:
            state = topic.stage_state
        else:
            state = StageState.NOT_STARTED
        run = runs.get(stage)
        views.append(
            StageView(
                stage=stage,
                label=stage.label,
                state=state,
                flow_run_id=run.flow_run_id if run else None,
                started_at=run.started_at if run else None,
                finished_at=run.finished_at if run else None,
                waiting_for=waiting if topic.stage == stage else None,
            )
        )
    return views
