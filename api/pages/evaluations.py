"""The evaluator's pages (我的评估): the topics an expert or supervisor was assigned to score,
and one assignment's scoring form with the rubric's guidance beside each criterion.

The form posts with the session's CSRF token and calls models.evaluation.submit (the same
operation as POST /evaluations/{id}/submit) with the signed-in person; a refusal shows the
form again with the reason beside the criterion and what was typed, a success comes back
with a one-time message. Once submitted the page shows the evaluation; it is final."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session

from api import auth
from api.deps import PathId, ReadSessionDep, SessionDep
from api.pages.forms import submit
from api.pages.render import PageRoute, page, require
from api.pages.routes import Reader
from models import evaluation as evaluations
from models import rubric
from models.access import Can
from models.case import get
from models.deadlines import format_local
from models.errors import Forbidden
from models.tables import Evaluation, Person, Topic

router = APIRouter(route_class=PageRoute, include_in_schema=False)
MINE = "/my/evaluations"
SCALE = list(range(rubric.SCALE_MAX, rubric.SCALE_MIN - 1, -1))


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form as text fields (parsed once; the CSRF check reads the same parse): the
    criteria are the rubric's, so their fields are not declared one by one."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != auth.CSRF_FIELD}


Fields = Annotated[dict[str, str], Depends(form_fields)]


@router.get(MINE)
def list_mine(request: Request, session: ReadSessionDep, person: Reader) -> Response:
    """What this evaluator was asked to score: the open ones first."""
    require(person, Can.SCORE)
    rows = evaluations.assigned_to(session, person.id)  # type: ignore[arg-type]
    session.commit()
    return page(
        request,
        "evaluations.html",
        person=person,
        title="我的评估",
        rows=[(evaluations.public(e, person.name), t) for e, t in rows],
        local=format_local,
    )


def _mine(session: Session, person: Person, evaluation_id: int) -> tuple[Evaluation, Topic]:
    evaluation = get(session, Evaluation, evaluation_id)
    if evaluation.evaluator_id != person.id:
        raise Forbidden("您未受指派作此项第三方评估")
    return evaluation, get(session, Topic, evaluation.topic_id)


def _render(
    request: Request,
    session: Session,
    person: Person,
    evaluation_id: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    evaluation, topic = _mine(session, person, evaluation_id)
    shown = evaluations.public(evaluation, person.name)
    session.commit()
    return page(
        request,
        "evaluation.html",
        person=person,
        status_code=status_code,
        title=f"第三方评估：{topic.title}",
        evaluation=shown,
        topic=topic,
        criteria=rubric.CRITERIA,
        scale=SCALE,
        low_score=rubric.LOW_SCORE,
        bands=rubric.band_text(),
        values=values or {},
        errors=errors or {},
        local=format_local,
    )


@router.get(MINE + "/{evaluation_id}")
def evaluation_page(
    request: Request, session: ReadSessionDep, person: Reader, evaluation_id: PathId
) -> Response:
    """Where the assignment's message points: the scoring form, or the evaluation as given."""
    require(person, Can.SCORE)
    return _render(request, session, person, evaluation_id)


@router.post(MINE + "/{evaluation_id}")
def submit_page(
    request: Request, session: SessionDep, person: Reader, evaluation_id: PathId, fields: Fields
) -> Response:
    """Submit the scores, the reasons for low ones and the overall comment, once."""
    require(person, Can.SCORE)
    auth._limit_actions(person)
    _mine(session, person, evaluation_id)
    values = {
        **{f"scores.{c.key}": fields.get(f"scores.{c.key}", "") for c in rubric.CRITERIA},
        **{f"notes.{c.key}": fields.get(f"notes.{c.key}", "") for c in rubric.CRITERIA},
        "comment": fields.get("comment", ""),
    }

    def read(errors: dict[str, str]) -> evaluations.EvaluationIn:
        return evaluations.EvaluationIn(
            scores={c.key: values[f"scores.{c.key}"].strip() for c in rubric.CRITERIA},
            notes={c.key: values[f"notes.{c.key}"] for c in rubric.CRITERIA},
            comment=values["comment"],
        )

    def again(errors: dict[str, str], status: int) -> Response:
        return _render(
            request,
            session,
            person,
            evaluation_id,
            values=values,
            errors=errors,
            status_code=status,
        )

    return submit(
        session,
        values=values,
        labels={"comment": "总体评价意见"},
        read=read,
        run=lambda data: evaluations.submit(session, evaluation_id, data, by=person.id),
        done_url=f"{MINE}/{evaluation_id}",
        done="评估已提交，谢谢您的独立评估",
        again=again,
    )
