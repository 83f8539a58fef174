"""第三方评估: the office assigns experts or supervisors to score a topic's outcome against the
rubric (models.rubric), independently of the departments that did the work and of the office
that ran the consultation; each submits once, and his evaluation is final."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import and_
from sqlmodel import Session, col, select

from config.settings import get_settings
from models import rubric
from models.access import POLICY, Can, require
from models.base import Body, Page, utcnow
from models.case import (
    ROLE_NAMES,
    addressed,
    audit,
    close_follow_ups,
    get,
    queue,
    schedule_follow_ups,
)
from models.deadlines import format_local, working_days_after
from models.enums import Obligation, ParticipantRole, Role, Stage
from models.errors import Conflict, Forbidden, Invalid
from models.stages import ensure_in_stage
from models.tables import (
    Department,
    Evaluation,
    EvaluationRecord,
    Participant,
    Person,
    RectificationItem,
    Topic,
)

# --- the rubric as the API shows it -----------------------------------------------------


class CriterionPublic(BaseModel):
    key: str
    label: str
    guidance: str
    weight: int = Field(description="权重（%），各项之和为 100")


class BandPublic(BaseModel):
    label: str
    from_score: int = Field(description="该等次的最低总分")


class RubricPublic(BaseModel):
    """The rubric: criteria, the score scale, how the overall score is made and its bands."""

    criteria: list[CriterionPublic]
    scale_min: int
    scale_max: int
    low_score: int = Field(description="评分不高于此分的项须写明理由")
    full_marks: int
    overall_rule: str
    bands: list[BandPublic]


def rubric_public() -> RubricPublic:
    return RubricPublic(
        criteria=[CriterionPublic(**c.__dict__) for c in rubric.CRITERIA],
        scale_min=rubric.SCALE_MIN,
        scale_max=rubric.SCALE_MAX,
        low_score=rubric.LOW_SCORE,
        full_marks=rubric.FULL_MARKS,
        overall_rule=(
            f"总分 = Σ（各项得分 ÷ {rubric.SCALE_MAX} × 权重），满分 {rubric.FULL_MARKS} 分；"
            f"等次：{rubric.band_text()}"
        ),
        bands=[BandPublic(label=name, from_score=floor) for floor, name in rubric.BANDS],
    )


# --- request and response bodies ---------------------------------------------------------


class AssignIn(Body):
    """Request body: the office assigns an expert or supervisor to evaluate the topic."""

    evaluator_id: int = Field(ge=1, description="受指派的专家或监督员", strict=True)


class WithdrawIn(Body):
    """Request body: the office withdraws an assignment not yet submitted, saying why."""

    reason: str = Field(min_length=2, max_length=500)


class EvaluationIn(Body):
    """Request body: one score per criterion of the rubric, a reason for each low score and an
    overall comment. The checks (every criterion, in range) are the domain's, so a refusal
    names the criterion."""

    scores: dict[str, Any] = Field(description="评估标准各项得分（键为评估项 key）")
    notes: dict[str, str] = Field(default_factory=dict, description="低分项的理由（键同上）")
    comment: str = Field(default="", max_length=2000, description="总体评价意见")


class EvaluationPublic(EvaluationRecord):
    id: int
    evaluator: str = Field(description="评估人姓名")
    status: str = Field(description="pending 待提交、submitted 已提交、withdrawn 已撤回")
    status_label: str
    band: str | None = Field(default=None, description="等次：优秀、良好、一般、较差")


class EvaluationsPublic(Page[EvaluationPublic]):
    """A topic's evaluations, in the order they were assigned."""


STATUS_LABELS = {"pending": "待提交", "submitted": "已提交", "withdrawn": "已撤回"}


def status_of(e: Evaluation) -> str:
    if e.submitted_at is not None:
        return "submitted"
    return "withdrawn" if e.withdrawn_at is not None else "pending"


def public(e: Evaluation, evaluator: str) -> EvaluationPublic:
    status = status_of(e)
    return EvaluationPublic(
        **e.model_dump(),
        evaluator=evaluator,
        status=status,
        status_label=STATUS_LABELS[status],
        band=rubric.band(e.overall),
    )


def outstanding() -> Any:
    """Assigned, neither submitted nor withdrawn: what the assessment still waits for."""
    return and_(col(Evaluation.submitted_at).is_(None), col(Evaluation.withdrawn_at).is_(None))


# --- reading ---------------------------------------------------------------------------


def of_topic(session: Session, topic_id: int) -> list[EvaluationPublic]:
    """A topic's evaluations with their evaluators' names: one query."""
    rows = session.exec(
        select(Evaluation, Person.name)
        .join(Person, Person.id == Evaluation.evaluator_id)  # type: ignore[arg-type]
        .where(Evaluation.topic_id == topic_id)
        .order_by(Evaluation.id)  # type: ignore[arg-type]
    ).all()
    return [public(e, name) for e, name in rows]


def assigned_to(session: Session, person_id: int) -> list[tuple[Evaluation, Topic]]:
    """What one evaluator was asked to score (the pending first, then the newest)."""
    rows = session.exec(
        select(Evaluation, Topic)
        .join(Topic, Topic.id == Evaluation.topic_id)  # type: ignore[arg-type]
        .where(Evaluation.evaluator_id == person_id)
        .order_by(Evaluation.id.desc())  # type: ignore[union-attr]
    ).all()
    return sorted(rows, key=lambda r: status_of(r[0]) != "pending")


def waiting_for(session: Session, topic_id: int) -> list[str]:
    """The names of those still to score the topic (closing the assessment waits for them)."""
    return list(
        session.exec(
            select(Person.name)
            .join(Evaluation, Evaluation.evaluator_id == Person.id)  # type: ignore[arg-type]
            .where(Evaluation.topic_id == topic_id, outstanding())
            .order_by(Evaluation.id)  # type: ignore[arg-type]
        ).all()
    )


def evaluator_choices(session: Session) -> list[tuple[str, str]]:
    """Who the office may pick from: the people whose role scores (experts, supervisors)."""
    rows = session.exec(
        select(Person.id, Person.name, Person.role)
        .where(col(Person.role).in_(sorted(POLICY[Can.SCORE])))
        .order_by(Person.name)
    ).all()
    return [(str(i), f"{name}（{ROLE_NAMES[Role(role)]}）") for i, name, role in rows]


# --- the rules -------------------------------------------------------------------------


def _not_independent(session: Session, topic_id: int, evaluator: Person) -> str | None:
    """Why this person cannot score the topic independently (None: he can). Not someone from a
    department responsible for its items, nor one who took part for a department or the
    organiser, nor one of the office that ran it."""
    dept = evaluator.department_id
    if dept is not None:
        items = session.exec(
            select(RectificationItem.lead_department_id, RectificationItem.co_department_ids).where(
                RectificationItem.topic_id == topic_id
            )
        ).all()
        responsible = {lead for lead, _ in items} | {d for _, co in items for d in co or []}
        name = session.exec(select(Department.name).where(Department.id == dept)).one()
        if dept in responsible:
            return f"{evaluator.name}所在的{name}是本议题整改事项的责任单位，不能作独立评估"
        office = session.exec(
            select(Person.id).where(Person.role == Role.ADMINISTRATOR, Person.department_id == dept)
        ).first()
        if office is not None:
            return f"{evaluator.name}所在的{name}是组织本议题协商的协商办，不能作独立评估"
    side = session.exec(
        select(Participant.role).where(
            Participant.topic_id == topic_id,
            Participant.person_id == evaluator.id,
            col(Participant.role).in_([ParticipantRole.DEPARTMENT, ParticipantRole.ORGANIZER]),
        )
    ).first()
    if side is not None:
        who = "职能部门" if side == ParticipantRole.DEPARTMENT else "组织方"
        return f"{evaluator.name}作为{who}参加了本议题的协商，不能作独立评估"
    return None


def assign(
    session: Session,
    topic_id: int,
    data: AssignIn,
    *,
    by: int | None,
    now: dt.datetime | None = None,
) -> Evaluation:
    """The office asks an expert or supervisor for an evaluation: a follow-up he owes with its
    ladder, his message in the outbox and the audit row, in the caller's transaction."""
    now = now or utcnow()
    admin = get(session, Person, by)
    require(admin, Can.ASSIGN_EVALUATOR, action="指派第三方评估")
    topic = get(session, Topic, topic_id, for_update=True)
    ensure_in_stage(topic, Stage.ASSESSMENT, "指派第三方评估")
    evaluator = get(session, Person, data.evaluator_id)
    if evaluator.role not in POLICY[Can.SCORE]:
        allowed = "或".join(ROLE_NAMES[r] for r in ROLE_NAMES if r in POLICY[Can.SCORE])
        raise Invalid(
            f"第三方评估只能指派{allowed}，{evaluator.name}是{ROLE_NAMES[evaluator.role]}",
            field="evaluator_id",
        )
    why = _not_independent(session, topic_id, evaluator)
    if why:
        raise Conflict(why)
    active = session.exec(
        select(Evaluation.id).where(
            Evaluation.topic_id == topic_id,
            Evaluation.evaluator_id == evaluator.id,
            col(Evaluation.withdrawn_at).is_(None),
        )
    ).first()
    if active is not None:
        raise Conflict(f"{evaluator.name}已受指派评估本议题，不能重复指派")
    due = working_days_after(session, now, get_settings().evaluation_working_days)
    evaluation = Evaluation(
        topic_id=topic_id,
        evaluator_id=evaluator.id,  # type: ignore[arg-type]
        assigned_by_id=admin.id,  # type: ignore[arg-type]
        assigned_at=now,
        due_at=due.at,
    )
    session.add(evaluation)
    session.flush()
    schedule_follow_ups(
        session,
        obligation=Obligation.EVALUATION,
        subject_id=evaluation.id,  # type: ignore[arg-type]
        topic_id=topic_id,
        owed_by_id=evaluator.id,
        deadline=due,
        now=now,
    )
    queue(
        session,
        event_key=f"evaluation:{evaluation.id}:assigned",
        recipients=[evaluator.tag],
        salutations=addressed(session, evaluator),
        template="evaluation_request",
        topic_id=topic_id,
        topic=topic,
        evaluation_id=evaluation.id,
        criteria=rubric.CRITERIA,
        scale=rubric.scale_text(),
        low_score=rubric.LOW_SCORE,
        bands=rubric.band_text(),
        deadline=format_local(due.at),
        provisional=due.provisional,
    )
    audit(
        session,
        action="evaluator_assigned",
        topic_id=topic_id,
        actor=admin,
        evaluation_id=evaluation.id,
        evaluator=evaluator.name,
        due=format_local(due.at),
    )
    return evaluation


def withdraw(
    session: Session, evaluation_id: int, data: WithdrawIn, *, by: int | None
) -> Evaluation:
    """The office withdraws an assignment not yet submitted (the evaluator cannot, or is no
    longer needed); the reason is kept, his reminders stop, the assessment no longer waits."""
    admin = get(session, Person, by)
    require(admin, Can.ASSIGN_EVALUATOR, action="撤回第三方评估指派")
    evaluation = get(session, Evaluation, evaluation_id, for_update=True)
    if evaluation.submitted_at is not None:
        raise Conflict("该评估已提交，提交后的评估为最终结果，不能撤回")
    if evaluation.withdrawn_at is not None:
        raise Conflict(f"该评估指派已于 {format_local(evaluation.withdrawn_at)} 撤回")
    evaluation.withdrawn_at = utcnow()
    evaluation.withdrawn_by_id = admin.id
    evaluation.withdraw_reason = data.reason
    session.add(evaluation)
    close_follow_ups(
        session,
        obligation=Obligation.EVALUATION,
        subject_ids=[evaluation_id],
        outcome="协商办已撤回指派",
    )
    evaluator = get(session, Person, evaluation.evaluator_id)
    audit(
        session,
        action="evaluator_withdrawn",
        topic_id=evaluation.topic_id,
        actor=admin,
        evaluation_id=evaluation_id,
        evaluator=evaluator.name,
        reason=data.reason,
    )
    return evaluation


def _checked(data: EvaluationIn) -> tuple[dict[str, int], dict[str, str]]:
    """Every criterion scored, a whole number in range, a reason beside each low score, an
    overall comment: refused (422) naming the criterion, in the rubric's order."""
    unknown = [k for k in data.scores if k not in rubric.BY_KEY]
    if unknown:
        raise Invalid(f"评估标准中没有“{unknown[0]}”这一项", field=f"scores.{unknown[0]}")
    scores: dict[str, int] = {}
    notes: dict[str, str] = {}
    span = rubric.scale_text()
    whole = f"{rubric.SCALE_MIN}–{rubric.SCALE_MAX} 的整数"
    for c in rubric.CRITERIA:
        value = data.scores.get(c.key)
        if value is None or value == "":
            raise Invalid(f"请为“{c.label}”评分（{span}）", field=f"scores.{c.key}")
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            else:
                raise Invalid(f"“{c.label}”的评分应为 {whole}", field=f"scores.{c.key}")
        if not rubric.SCALE_MIN <= value <= rubric.SCALE_MAX:
            raise Invalid(f"“{c.label}”的评分应为 {whole}，不能是 {value}", field=f"scores.{c.key}")
        scores[c.key] = value
        note = (data.notes.get(c.key) or "").strip()
        if value <= rubric.LOW_SCORE and not note:
            raise Invalid(
                f"“{c.label}”评为 {value} 分（{rubric.LOW_SCORE} 分及以下），请写明理由",
                field=f"notes.{c.key}",
            )
        if note:
            if len(note) > 500:
                raise Invalid(f"“{c.label}”的理由不能超过 500 字", field=f"notes.{c.key}")
            notes[c.key] = note
    stray = [k for k in data.notes if k not in rubric.BY_KEY]
    if stray:
        raise Invalid(f"评估标准中没有“{stray[0]}”这一项", field=f"notes.{stray[0]}")
    if len(data.comment.strip()) < 2:
        raise Invalid("请填写总体评价意见（至少 2 个字）", field="comment")
    return scores, notes


def submit(
    session: Session, evaluation_id: int, data: EvaluationIn, *, by: int | None
) -> Evaluation:
    """The assigned evaluator's one evaluation: scored, derived, final. It meets his follow-up."""
    evaluator = get(session, Person, by)
    require(evaluator, Can.SCORE, action="提交第三方评估")
    evaluation = get(session, Evaluation, evaluation_id, for_update=True)
    if evaluation.evaluator_id != evaluator.id:
        raise Forbidden("您未受指派作此项第三方评估，不能提交评分")
    if evaluation.submitted_at is not None:
        raise Conflict(
            f"您已于 {format_local(evaluation.submitted_at)} 提交评估，提交后即为最终结果，不能再次提交"
        )
    if evaluation.withdrawn_at is not None:
        raise Conflict(
            f"协商办已撤回此项评估指派（理由：{evaluation.withdraw_reason}），无需再评估"
        )
    topic = get(session, Topic, evaluation.topic_id)
    ensure_in_stage(topic, Stage.ASSESSMENT, "提交第三方评估")
    scores, notes = _checked(data)
    evaluation.scores = scores
    evaluation.notes = notes
    evaluation.comment = data.comment.strip()
    evaluation.overall = rubric.overall(scores)
    evaluation.submitted_at = utcnow()
    session.add(evaluation)
    close_follow_ups(
        session, obligation=Obligation.EVALUATION, subject_ids=[evaluation_id], outcome="已提交评估"
    )
    audit(
        session,
        action="evaluation_submitted",
        topic_id=evaluation.topic_id,
        actor=evaluator,
        evaluation_id=evaluation_id,
        overall=evaluation.overall,
        band=rubric.band(evaluation.overall),
    )
    return evaluation


def refuse_close_while_outstanding(session: Session, topic_id: int) -> None:
    """Closing the assessment waits for every assigned evaluation (or its withdrawal)."""
    names = waiting_for(session, topic_id)
    if names:
        raise Conflict(
            f"尚有 {len(names)} 份第三方评估未提交（待{'、'.join(names)}评分），不能办结评估；"
            "如确不需要，请先撤回指派并说明理由"
        )
