"""第三方评估 (issue 9 point 8: an evaluator scores the outcome against a rubric), on SQLite and
PostgreSQL: the rubric's arithmetic, who may be assigned (independence), one final submission
checked criterion by criterion, the follow-up it owes and the message it sends, the assessment
that waits for it unless the office withdraws it with a reason, its KPI with the records behind
it, and its place in the topic's chain."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import assessment, chain, followup, kpi_board, kpis, people, rubric
from models import evaluation as evaluations
from models.base import utcnow
from models.enums import FollowUpStatus, FollowUpStep, Obligation, ParticipantRole, Role, Stage
from models.errors import Conflict, Forbidden, Invalid
from models.kpi_board import Scope
from models.tables import AuditEvent, Evaluation, FollowUp, Notification, Participant

FULL = {c.key: rubric.SCALE_MAX for c in rubric.CRITERIA}


def _scores(**low: int) -> dict[str, int]:
    return {**{c.key: 4 for c in rubric.CRITERIA}, **low}


def _submit(session, evaluation_id: int, by: int, **kwargs):  # type: ignore[no-untyped-def]
    data = {"scores": _scores(), "comment": "整改扎实，群众认可", **kwargs}
    return evaluations.submit(session, evaluation_id, evaluations.EvaluationIn(**data), by=by)


@pytest.fixture
def topic(loop, session):  # type: ignore[no-untyped-def]
    t = loop.advance(loop.topic(), to=Stage.ASSESSMENT, start=True)
    session.flush()
    return t


def _assign(session, loop, topic, evaluator=None):  # type: ignore[no-untyped-def]
    who = evaluator or loop.cast.expert
    e = evaluations.assign(
        session, topic.id, evaluations.AssignIn(evaluator_id=who.id), by=loop.cast.admin.id
    )
    session.flush()
    return e


def test_the_rubric_weighs_to_100_and_bands_the_overall_score():
    assert sum(c.weight for c in rubric.CRITERIA) == 100
    assert rubric.overall(FULL) == 100
    assert rubric.overall(dict.fromkeys(FULL, 0)) == 0
    # 问题解决程度 25 × 3/5 = 15, the other four at 4/5 of 20, 20, 20, 15 = 60
    assert rubric.overall(_scores(problem_solved=3)) == 15 + 16 + 16 + 16 + 12
    assert [rubric.band(s) for s in (100, 90, 89, 75, 74, 60, 59, 0)] == [
        "优秀",
        "优秀",
        "良好",
        "良好",
        "一般",
        "一般",
        "较差",
        "较差",
    ]
    assert rubric.band_text().startswith("优秀（90 分及以上）、良好（75–89 分）")


def test_an_assigned_expert_scores_once_and_it_is_final(loop, session, topic):
    c = loop.cast
    e = _assign(session, loop, topic)
    assert e.due_at > utcnow()
    (note,) = session.exec(
        select(Notification).where(Notification.template == "evaluation_request")
    ).all()
    assert note.recipient == c.expert.tag and "问题解决程度（权重 25%）" in note.body
    assert f"/my/evaluations/{e.id}" in note.payload["link"]
    owed = session.exec(
        select(FollowUp).where(
            FollowUp.obligation == Obligation.EVALUATION, FollowUp.subject_id == e.id
        )
    ).all()
    assert owed and {f.owed_by_id for f in owed} == {c.expert.id}

    done = _submit(
        session, e.id, c.expert.id, scores=_scores(mechanism=2), notes={"mechanism": "尚未形成制度"}
    )
    assert done.overall == 25 * 4 // 5 + 16 + 16 + 20 * 2 // 5 + 12 == 72
    assert rubric.band(done.overall) == "一般"
    assert done.notes == {"mechanism": "尚未形成制度"}
    assert {
        f.status
        for f in session.exec(
            select(FollowUp).where(
                FollowUp.obligation == Obligation.EVALUATION, FollowUp.subject_id == e.id
            )
        )
    } == {FollowUpStatus.CLOSED}
    with pytest.raises(Conflict, match="不能再次提交"):
        _submit(session, e.id, c.expert.id)
    session.flush()
    actions = [a.action for a in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert "evaluator_assigned" in actions and "evaluation_submitted" in actions
    submitted = session.exec(
        select(AuditEvent).where(AuditEvent.action == "evaluation_submitted")
    ).one()
    assert submitted.detail["overall"] == 72 and submitted.actor_id == c.expert.id


def test_someone_not_assigned_may_not_submit(loop, session, topic):
    e = _assign(session, loop, topic)
    other = people.create_person(session, people.PersonCreate(name="郑专家", role=Role.EXPERT))
    session.flush()
    with pytest.raises(Forbidden, match="未受指派"):
        _submit(session, e.id, other.id)
    with pytest.raises(Forbidden):  # a member holds no capability to score
        _submit(session, e.id, loop.cast.member.id)


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"scores": {k: 4 for k in list(FULL)[1:]}},
            "scores.problem_solved",
            "请为“问题解决程度”评分",
        ),
        ({"scores": _scores(timeliness=6)}, "scores.timeliness", "“工作时效”的评分应为 0–5 的整数"),
        ({"scores": _scores(measures=-1)}, "scores.measures", "“整改措施落实”的评分"),
        ({"scores": _scores(satisfaction=3.5)}, "scores.satisfaction", "整数"),
        ({"scores": _scores(problem_solved=1)}, "notes.problem_solved", "请写明理由"),
        ({"scores": {**_scores(), "extra": 3}}, "scores.extra", "评估标准中没有“extra”"),
        ({"comment": "   "}, "comment", "请填写总体评价意见"),
    ],
)
def test_each_criterion_is_required_in_range_and_a_low_score_explained(
    loop, session, topic, change, field, words
):
    e = _assign(session, loop, topic)
    with pytest.raises(Invalid, match=words) as refused:
        _submit(session, e.id, loop.cast.expert.id, **change)
    assert refused.value.field == field
    assert session.get(Evaluation, e.id).submitted_at is None


def test_only_experts_and_supervisors_independent_of_the_topic_are_assigned(loop, session, topic):
    c = loop.cast
    with pytest.raises(Invalid, match="只能指派专家或监督员，孙立是政协委员"):
        _assign(session, loop, topic, evaluator=c.member)
    # From a department responsible for the topic's items: not independent.
    insider = people.create_person(
        session, people.PersonCreate(name="冯工", role=Role.EXPERT, department_id=c.dept_id)
    )
    with pytest.raises(Conflict, match="冯工所在的区住建局是本议题整改事项的责任单位"):
        _assign(session, loop, topic, evaluator=insider)
    # From the office that ran the consultation.
    office = people.create_department(session, people.DepartmentCreate(name="区政协协商办"))
    people.create_person(
        session,
        people.PersonCreate(name="协商办主任", role=Role.ADMINISTRATOR, department_id=office.id),
    )
    colleague = people.create_person(
        session, people.PersonCreate(name="钱监督", role=Role.SUPERVISOR, department_id=office.id)
    )
    with pytest.raises(Conflict, match="钱监督所在的区政协协商办是组织本议题协商的协商办"):
        _assign(session, loop, topic, evaluator=colleague)
    # Took part in the consultation for a department.
    sided = people.create_person(session, people.PersonCreate(name="韩专家", role=Role.EXPERT))
    session.add(Participant(topic_id=topic.id, person_id=sided.id, role=ParticipantRole.DEPARTMENT))
    session.flush()
    with pytest.raises(Conflict, match="韩专家作为职能部门参加了本议题的协商"):
        _assign(session, loop, topic, evaluator=sided)
    _assign(session, loop, topic)  # the independent expert
    with pytest.raises(Conflict, match="吴工已受指派评估本议题"):
        _assign(session, loop, topic)
    assert session.exec(select(Evaluation)).all().__len__() == 1


def test_assignment_belongs_to_the_assessment_stage(loop, session):
    early = loop.advance(loop.topic(title="背街小巷路灯"), to=Stage.IMPLEMENTATION, start=True)
    with pytest.raises(Conflict, match="不能指派第三方评估"):
        _assign(session, loop, early)


def test_closing_waits_for_every_evaluation_unless_withdrawn_with_a_reason(loop, session, topic):
    c = loop.cast
    supervisor = people.create_person(
        session, people.PersonCreate(name="钱监督", role=Role.SUPERVISOR)
    )
    first = _assign(session, loop, topic)
    second = _assign(session, loop, topic, evaluator=supervisor)
    assessment.rate(session, topic.id, assessment.RatingIn(score=5), by=c.resident.id)
    close = assessment.AssessmentClose(summary="整改完成，评估办结")
    with pytest.raises(Conflict, match="尚有 2 份第三方评估未提交（待吴工、钱监督评分）"):
        assessment.close(session, topic.id, close, by=c.admin.id)
    _submit(session, first.id, c.expert.id)
    with pytest.raises(Conflict, match="待钱监督评分"):
        assessment.close(session, topic.id, close, by=c.admin.id)
    with pytest.raises(Forbidden):
        evaluations.withdraw(
            session, second.id, evaluations.WithdrawIn(reason="出差"), by=supervisor.id
        )
    with pytest.raises(Conflict, match="提交后的评估为最终结果，不能撤回"):
        evaluations.withdraw(
            session, first.id, evaluations.WithdrawIn(reason="重评"), by=c.admin.id
        )
    evaluations.withdraw(
        session, second.id, evaluations.WithdrawIn(reason="监督员长期出差，无法到场"), by=c.admin.id
    )
    session.flush()
    assert session.get(Evaluation, second.id).withdraw_reason == "监督员长期出差，无法到场"
    with pytest.raises(Conflict, match="协商办已撤回此项评估指派"):
        _submit(session, second.id, supervisor.id)
    row = session.exec(select(AuditEvent).where(AuditEvent.action == "evaluator_withdrawn")).one()
    assert (
        row.detail["reason"] == "监督员长期出差，无法到场" and row.detail["evaluator"] == "钱监督"
    )
    result = assessment.close(session, topic.id, close, by=c.admin.id)
    assert result.kpis["evaluation_score"] == 80.0 and result.kpis["evaluations"] == 1


def test_the_evaluator_is_reminded_until_he_submits(loop, session, topic):
    e = _assign(session, loop, topic)
    session.commit()
    due = e.due_at
    rungs = {
        f.step: f.due_at
        for f in session.exec(
            select(FollowUp).where(
                FollowUp.obligation == Obligation.EVALUATION, FollowUp.subject_id == e.id
            )
        )
    }
    assert set(rungs) == {FollowUpStep.DUE_SOON, FollowUpStep.DUE, FollowUpStep.ESCALATE_ADMIN}
    report = followup.sweep(session, now=rungs[FollowUpStep.DUE_SOON])
    session.flush()
    assert report["by_rung"].get("evaluation.due_soon") == 1
    (reminder,) = session.exec(
        select(Notification).where(Notification.template == "evaluation_due")
    ).all()
    assert reminder.recipient == loop.cast.expert.tag and "尚未提交" in reminder.body
    _submit(session, e.id, loop.cast.expert.id)
    session.flush()
    after = followup.sweep(session, now=due + dt.timedelta(days=5))
    assert (
        "evaluation.due" not in after["by_rung"]
        and "evaluation.escalate_admin" not in after["by_rung"]
    )


def test_the_third_party_score_is_the_mean_of_submitted_evaluations(loop, session, topic):
    c = loop.cast
    supervisor = people.create_person(
        session, people.PersonCreate(name="钱监督", role=Role.SUPERVISOR)
    )
    a = _assign(session, loop, topic)
    b = _assign(session, loop, topic, evaluator=supervisor)
    window = kpis.Window.as_of(utcnow() + dt.timedelta(seconds=1))
    empty = kpis.compute(session, window, topic_id=topic.id)
    assert empty["evaluations"] == 0 and empty["evaluation_score"] is None  # assigned only
    _submit(session, a.id, c.expert.id, scores=FULL)  # 100
    _submit(
        session,
        b.id,
        supervisor.id,
        scores=_scores(problem_solved=2),
        notes={"problem_solved": "部分楼栋仍未加装"},
    )  # 10 + 16 + 16 + 16 + 12 = 70
    session.flush()
    got = kpis.compute(
        session, kpis.Window.as_of(utcnow() + dt.timedelta(seconds=1)), topic_id=topic.id
    )
    assert (got["evaluations"], got["evaluation_points"]) == (2, 170)
    assert got["evaluation_score"] == 85.0
    assert kpis.shown("evaluation_score", got["evaluation_score"]) == "85.0 分"
    assert kpis.KPIS["evaluation_score"].target is None  # DOMAIN.md names none
    board = kpi_board.dashboard(session, kpi_board.parse_period(None), topic_id=topic.id)
    (value,) = [k for k in board.kpis if k.key == "evaluation_score"]
    assert (value.value_text, value.bar, value.denominator, value.met_text) == (
        "85.0 分",
        0.85,
        2,
        "无目标值",
    )
    period = kpi_board.parse_period(None)
    behind = kpi_board.records(session, "evaluation_score", "numerator", period, Scope(topic.id))
    assert behind.count == 2
    assert sorted((r.text, r.score, r.kind_label) for r in behind.data) == [
        ("吴工", 100, "第三方评估"),
        ("钱监督", 70, "第三方评估"),
    ]
    assert kpi_board.record_ids(session, "evaluations", period.window) == sorted(
        (kpis.Source.EVALUATION, i) for i in (a.id, b.id)
    )


def test_the_evaluation_is_in_the_topic_chain(loop, session, topic):
    e = _assign(session, loop, topic)
    pending = chain.chain(session, topic.id)
    assert [n.summary for n in pending.evaluation] == ["吴工第三方评估：待提交"]
    _submit(session, e.id, loop.cast.expert.id)
    session.flush()
    got = chain.chain(session, topic.id)
    (node,) = got.evaluation
    assert node.summary == "吴工第三方评估：80 分（良好）"
    assert node.detail["scores"] == _scores() and node.detail["band"] == "良好"
    items = {i.id for i in got.item}
    assert set(node.parents[chain.Kind.EVALUATION.ITEM]) == items
    for i in got.item:
        assert i.children[chain.Kind.EVALUATION] == [e.id]
