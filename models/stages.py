"""Stage gates and transitions: the only place that decides whether a stage may start or is done."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, select

from models.base import utcnow
from models.case import audit, touch
from models.enums import (
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
from models.errors import GateRefused
from models.tables import (
    Assessment,
    ConsultationSession,
    Participant,
    RectificationItem,
    Report,
    ResearchTask,
    StageRun,
    Suggestion,
    Topic,
)

# Why a stage cannot start while the one before it is unfinished.
NOT_READY: dict[Stage, str] = {
    Stage.SUBJECT: "议题尚未经审定，不能明确协商主体",
    Stage.PRESTUDY: "协商主体尚未确定（邀请回复未齐或缺少群众代表），不能开展商前调研",
    Stage.SESSION: "未完成商前调研，不能开展协商（不调研不协商）",
    Stage.REPORT: "协商尚未形成共识，不能报送成果",
    Stage.TRANSFER: "协商成果报告尚未审定，不能转交办理",
    Stage.IMPLEMENTATION: "整改事项尚未全部签收，不能进入落实整改",
    Stage.ASSESSMENT: "整改事项尚未全部完成，不能评估质效",
}

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


STATE_LABELS = {
    StageState.NOT_STARTED: "未启动",
    StageState.RUNNING: "自动处理中",
    StageState.WAITING: "等待办理",
    StageState.DONE: "已完成",
}


def representative(roles: list[ParticipantRole]) -> str | None:
    """None if the mix of participants is representative, else the reason it is not."""
    if ParticipantRole.RESIDENT not in roles:
        return "协商主体中没有群众代表或利益相关方，协商不具代表性"
    if ParticipantRole.ORGANIZER not in roles and ParticipantRole.DEPARTMENT not in roles:
        return "协商主体中没有党委政府或职能部门代表，协商意见无人承接"
    return None


def _count(session: Session, stmt) -> int:  # type: ignore[no-untyped-def]
    return session.exec(stmt).one()


def check_can_start(session: Session, topic: Topic, stage: Stage) -> None:
    """Raise GateRefused with the reason a person needs if `stage` may not start now."""
    ensure_open(topic, f"开展“{stage.label}”")
    if stage is Stage.TOPIC:
        if topic.status != TopicStatus.DRAFT:
            raise GateRefused("议题已提交审定，不能重复启动“确定议题”")
        return
    previous = Stage(list(Stage)[stage.index - 1])
    if topic.stage.index >= stage.index and topic.stage_state != StageState.NOT_STARTED:
        raise GateRefused(f"“{stage.label}”环节已启动")
    if not is_done(topic, previous):
        raise GateRefused(NOT_READY[stage])
    tid = topic.id
    if stage is Stage.SUBJECT:
        roles = list(session.exec(select(Participant.role).where(Participant.topic_id == tid)))
        if not roles:
            raise GateRefused("尚未确定协商主体，请先添加参加人员")
        reason = representative(roles)  # type: ignore[arg-type]
        if reason:
            raise GateRefused(reason)
    elif stage is Stage.PRESTUDY:
        n = _count(session, select(func.count()).where(ResearchTask.topic_id == tid))
        if not n:
            raise GateRefused("尚未安排调研任务，请先安排至少一项商前调研")
    elif stage is Stage.SESSION:
        n = _count(
            session,
            select(func.count()).where(
                ConsultationSession.topic_id == tid,
                ConsultationSession.status == SessionStatus.SCHEDULED,
            ),
        )
        if not n:
            raise GateRefused("尚未安排协商会（形式、时间、地点），不能开展协商")
    elif stage is Stage.REPORT:
        n = _count(session, select(func.count()).where(Suggestion.topic_id == tid))
        if not n:
            raise GateRefused("协商未形成任何意见建议，无成果可报送")
    elif stage is Stage.TRANSFER:
        adopted = session.exec(
            select(Suggestion).where(
                Suggestion.topic_id == tid, Suggestion.adoption == Adoption.ADOPTED
            )
        ).all()
        if not adopted:
            raise GateRefused("没有被采纳的建议，无事项可转交")
        with_items = set(
            session.exec(
                select(RectificationItem.suggestion_id).where(RectificationItem.topic_id == tid)
            )
        )
        missing = [s for s in adopted if s.id not in with_items]
        if missing:
            raise GateRefused(
                f"建议“{missing[0].content[:30]}”尚未确定牵头单位和责任人，请先建立整改事项"
            )


def completion_reason(session: Session, topic: Topic) -> str | None:
    """None if the current stage's human work is finished, else what is still owed."""
    tid = topic.id
    stage = topic.stage
    if stage is Stage.TOPIC:
        return None if topic.status == TopicStatus.IN_PROGRESS else "等待审定"
    if stage is Stage.SUBJECT:
        rows = session.exec(
            select(Participant.role, Participant.rsvp).where(Participant.topic_id == tid)
        ).all()
        if any(rsvp == Rsvp.PENDING for _, rsvp in rows):
            return "邀请回复未齐"
        return representative([role for role, rsvp in rows if rsvp == Rsvp.ACCEPTED])  # type: ignore[misc]
    if stage is Stage.PRESTUDY:
        open_tasks = _count(
            session,
            select(func.count()).where(
                ResearchTask.topic_id == tid,
                ResearchTask.submitted_at.is_(None),  # type: ignore[union-attr]
            ),
        )
        return "调研成果未全部提交" if open_tasks else None
    if stage is Stage.SESSION:
        n = _count(
            session,
            select(func.count()).where(
                ConsultationSession.topic_id == tid,
                ConsultationSession.consensus_reached.is_(True),  # type: ignore[attr-defined]
            ),
        )
        return None if n else "协商尚未形成共识"
    if stage is Stage.REPORT:
        report = session.exec(select(Report).where(Report.topic_id == tid)).first()
        return None if report and report.status == ReportStatus.APPROVED else "报告尚未审定"
    if stage is Stage.TRANSFER:
        pending = _count(
            session,
            select(func.count()).where(
                RectificationItem.topic_id == tid,
                RectificationItem.status.not_in(ACKNOWLEDGED),  # type: ignore[attr-defined]
            ),
        )
        return "整改事项尚未全部签收" if pending else None
    if stage is Stage.IMPLEMENTATION:
        pending = _count(
            session,
            select(func.count()).where(
                RectificationItem.topic_id == tid,
                RectificationItem.status != ItemStatus.COMPLETED,
            ),
        )
        return "整改事项尚未全部完成" if pending else None
    done = session.exec(select(Assessment.id).where(Assessment.topic_id == tid)).first()
    return None if done else "评估尚未办结"


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


def record_run(session: Session, *, topic_id: int, stage: Stage, flow_run_id: str) -> StageRun:
    """The stage's run; a replacement for a failed run takes its place (Prefect keeps both)."""
    existing = session.exec(
        select(StageRun).where(StageRun.topic_id == topic_id, StageRun.stage == stage)
    ).first()
    if existing:
        if existing.flow_run_id != flow_run_id:
            existing.flow_run_id = flow_run_id
            existing.started_at = utcnow()
            audit(session, action="stage_restarted", topic_id=topic_id, stage=stage.value)
        return existing
    run = StageRun(topic_id=topic_id, stage=stage, flow_run_id=flow_run_id)
    session.add(run)
    session.flush()
    return run


def stage_run(session: Session, topic_id: int, stage: Stage) -> StageRun | None:
    return session.exec(
        select(StageRun).where(StageRun.topic_id == topic_id, StageRun.stage == stage)
    ).first()
