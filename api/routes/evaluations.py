"""第三方评估: the rubric, the office's assignments (and withdrawals), the evaluator's one
submission, and a topic's evaluations. Thin: the rules are models.evaluation's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from api.auth import CaseReader, allow
from api.deps import PathId, ReadSessionDep, SessionDep, commit
from models import access
from models import evaluation as evaluations
from models.access import Can
from models.case import get
from models.tables import Evaluation, Person, Topic

router = APIRouter(tags=["evaluations"])
Assigner = Annotated[Person, Depends(allow(Can.ASSIGN_EVALUATOR))]
Scorer = Annotated[Person, Depends(allow(Can.SCORE))]


def _answer(session: SessionDep, evaluation: Evaluation) -> evaluations.EvaluationPublic:
    evaluator = get(session, Person, evaluation.evaluator_id)
    return evaluations.public(evaluation, evaluator.name)


@router.get("/rubric", response_model=evaluations.RubricPublic)
def read_rubric(_: CaseReader) -> evaluations.RubricPublic:
    """The criteria, weights, scale and bands every evaluation is scored by."""
    return evaluations.rubric_public()


@router.get("/topics/{topic_id}/evaluations", response_model=evaluations.EvaluationsPublic)
def list_evaluations(
    topic_id: PathId, session: ReadSessionDep, reader: CaseReader
) -> evaluations.EvaluationsPublic:
    access.see_topic(session, reader, topic_id)
    get(session, Topic, topic_id)
    rows = evaluations.of_topic(session, topic_id)
    return evaluations.EvaluationsPublic(data=rows, count=len(rows))


@router.post(
    "/topics/{topic_id}/evaluations",
    response_model=evaluations.EvaluationPublic,
    status_code=201,
)
def assign_evaluator(
    topic_id: PathId, data: evaluations.AssignIn, session: SessionDep, actor: Assigner
) -> evaluations.EvaluationPublic:
    """The office asks an expert or supervisor, independent of the topic, to score it."""
    evaluation = evaluations.assign(session, topic_id, data, by=actor.id)
    commit(session, evaluation)
    return _answer(session, evaluation)


@router.post("/evaluations/{evaluation_id}/submit", response_model=evaluations.EvaluationPublic)
def submit_evaluation(
    evaluation_id: PathId, data: evaluations.EvaluationIn, session: SessionDep, actor: Scorer
) -> evaluations.EvaluationPublic:
    """The assigned evaluator's scores, once: final when submitted."""
    evaluation = evaluations.submit(session, evaluation_id, data, by=actor.id)
    commit(session, evaluation)
    return _answer(session, evaluation)


@router.post("/evaluations/{evaluation_id}/withdraw", response_model=evaluations.EvaluationPublic)
def withdraw_evaluator(
    evaluation_id: PathId, data: evaluations.WithdrawIn, session: SessionDep, actor: Assigner
) -> evaluations.EvaluationPublic:
    """The office withdraws an assignment not yet submitted, with its reason."""
    evaluation = evaluations.withdraw(session, evaluation_id, data, by=actor.id)
    commit(session, evaluation)
    return _answer(session, evaluation)
