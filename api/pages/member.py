"""Pages of the members, experts and residents who take part in a topic (我参与的议题): the
list of their topics and one topic's page, where they answer the invitation, submit the
findings of their research tasks and, once all are in, the research summary, give their opinion in a session round while it takes
opinions, and rate the outcome.

Each action is a plain form post carrying the session's CSRF token; it calls the same domain
operation as the JSON API (api/routes/actions.py, topics.py) with the signed-in person as the
actor, in the request's one transaction, then redirects back with a one-time message. A
refusal re-renders the page with the reason beside the field and what was typed; nothing is
written. Whether a round takes opinions is the domain's rule (models.consultation: the topic is
in 开展协商, the round is not concluded, an online window is open); the page shows the form only
then, and otherwise why not."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from sqlmodel import Session

from api import auth
from api.deps import PathId, ReadSessionDep, SessionDep
from api.pages.forms import submit
from api.pages.render import PageRoute, page, require
from api.pages.routes import PageNumber, Reader
from config.links import MY_TOPICS
from models import assessment, consultation, participation, prestudy, subject
from models.access import Can
from models.assessment import SATISFIED_FROM
from models.enums import Rsvp
from models.tables import Person

router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form(max_length=25000)]
# The rating's scale as a person chooses on it (the rating page and the one-time link's page).
SCORES: tuple[tuple[int, str], ...] = (
    (5, "5 分（很满意）"),
    (4, "4 分（满意）"),
    (3, "3 分（一般）"),
    (2, "2 分（不满意）"),
    (1, "1 分（很不满意）"),
)


@router.get(MY_TOPICS)
def list_topics(
    request: Request, session: ReadSessionDep, person: Reader, page_no: PageNumber = 1
) -> Response:
    """The topics the person takes part in, newest first."""
    found = participation.my_topics(session, person, page=page_no)
    session.commit()
    return page(request, "member_topics.html", person=person, title="我参与的议题", mine=found)


def _render(
    request: Request,
    session: Session,
    person: Person,
    topic_id: int,
    *,
    whom: int | None = None,
    focus: str = "",
    form: str = "",
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = participation.topic_view(session, person, topic_id, whom=whom)
    session.commit()
    # The forms on the page now; a refused one that is gone (the topic moved on meanwhile)
    # shows its reason at the top.
    on_page = {"rsvp"} if view.rsvp == Rsvp.PENDING and view.may_act else set()
    on_page |= {f"task-{t.task_id}" for t in view.tasks if t.open and view.may_act}
    on_page |= {"summary"} if view.summary and view.summary.open else set()
    on_page |= {f"round-{r.session_id}" for r in view.rounds if r.open}
    on_page |= {"rate"} if view.may_rate else set()
    errors = dict(errors or {})
    if form and form not in on_page and errors:
        errors = {"form": errors.get("form") or next(iter(errors.values()))}
    return page(
        request,
        "member_topic.html",
        person=person,
        status_code=status_code,
        title=view.title,
        topic=view,
        focus=focus,
        form=form,
        on_page=on_page,
        values=values or {},
        errors=errors,
        scores=SCORES,
        satisfied_from=SATISFIED_FROM,
    )


@router.get(MY_TOPICS + "/{topic_id}")
def topic_page(
    request: Request, session: ReadSessionDep, person: Reader, topic_id: PathId
) -> Response:
    """One topic as the participant sees it, with the forms for what he may do on it now."""
    return _render(request, session, person, topic_id)


@router.get(MY_TOPICS + "/{topic_id}/rate")
def rate_page(
    request: Request, session: ReadSessionDep, person: Reader, topic_id: PathId
) -> Response:
    """Where a rating request points: the topic's page, its rating form first."""
    return _render(request, session, person, topic_id, focus="rate")


@router.get("/my/invitations/{participant_id}")
def invitation_page(
    request: Request, session: ReadSessionDep, person: Reader, participant_id: PathId
) -> Response:
    """Where an invitation points: the topic's page with the reply form."""
    invited = participation.my_participant(session, person, participant_id)
    return _render(request, session, person, invited.topic_id, whom=invited.person_id, focus="rsvp")


@router.get("/my/research/{task_id}")
def research_page(
    request: Request, session: ReadSessionDep, person: Reader, task_id: PathId
) -> Response:
    """Where a research assignment points: the topic's page with the findings form."""
    task = participation.my_task(session, person, task_id)
    return _render(
        request, session, person, task.topic_id, whom=task.owner_id, focus=f"task-{task_id}"
    )


def _act(
    request: Request,
    session: Session,
    person: Person,
    topic_id: int,
    *,
    whom: int | None = None,
    form: str,
    values: Mapping[str, str],
    read: Callable[[dict[str, str]], Any],
    run: Callable[[Any], Any],
    done: str,
) -> Response:
    """One action of the topic page: read the form, call the operation in the request's
    transaction and commit, then back to the topic with a one-time message; a refusal rolls
    everything back and shows the form again with its reason."""
    auth._limit_actions(person)

    def again(errors: dict[str, str], status: int) -> Response:
        return _render(
            request,
            session,
            person,
            topic_id,
            whom=whom,
            focus=form,
            form=form,
            values=values,
            errors=errors,
            status_code=status,
        )

    return submit(
        session,
        values=values,
        labels={},
        read=read,
        run=run,
        done_url=f"{MY_TOPICS}/{topic_id}",
        done=done,
        again=again,
    )


@router.post("/my/invitations/{participant_id}")
def reply(
    request: Request,
    session: SessionDep,
    person: Reader,
    participant_id: PathId,
    accept: Text = "",
    note: Text = "",
) -> Response:
    """Accept or decline the invitation, with a note."""
    invited = participation.my_participant(session, person, participant_id, acting=True)

    def read(errors: dict[str, str]) -> subject.RsvpIn | None:
        if accept not in ("yes", "no"):
            errors["accept"] = "请选择参加或不参加"
        if len(note.strip()) > 500:
            errors["note"] = "说明不能超过 500 个字"
        if errors:
            return None
        return subject.RsvpIn(accept=accept == "yes", note=note.strip() or None)

    return _act(
        request,
        session,
        person,
        invited.topic_id,
        whom=invited.person_id,
        form="rsvp",
        values={"accept": accept, "note": note},
        read=read,
        run=lambda data: subject.reply(session, participant_id, data),
        done="已回复邀请：参加" if accept == "yes" else "已回复邀请：不参加",
    )


@router.post("/my/research/{task_id}")
def submit_findings(
    request: Request, session: SessionDep, person: Reader, task_id: PathId, findings: Text = ""
) -> Response:
    """The findings of one's own research task (商前调研成果)."""
    task = participation.my_task(session, person, task_id, acting=True)
    form = f"task-{task_id}"

    def read(errors: dict[str, str]) -> prestudy.FindingsIn | None:
        text = findings.strip()
        if len(text) < 5:
            errors[form] = "请填写调研成果（不少于 5 个字）"
        elif len(text) > 20000:
            errors[form] = "调研成果不能超过 20000 个字"
        return None if errors else prestudy.FindingsIn(findings=text)

    return _act(
        request,
        session,
        person,
        task.topic_id,
        whom=task.owner_id,
        form=form,
        values={form: findings},
        read=read,
        run=lambda data: prestudy.submit_findings(session, task_id, data, by=person.id),
        done="已提交调研成果",
    )


@router.post(MY_TOPICS + "/{topic_id}/research-summary")
def submit_summary(
    request: Request,
    session: SessionDep,
    person: Reader,
    topic_id: PathId,
    content: Annotated[str, Form(max_length=60000)] = "",
) -> Response:
    """The research summary (调研报告), by one who researched for the topic, once every
    required finding is in (the domain refuses otherwise); the office reviews it."""
    participation.topic_view(session, person, topic_id)  # 404 for a topic he may not see

    def read(errors: dict[str, str]) -> prestudy.SummaryIn | None:
        text = content.strip()
        if len(text) < 20:
            errors["summary"] = "请填写调研报告（不少于 20 个字）"
        elif len(text) > 50000:
            errors["summary"] = "调研报告不能超过 50000 个字"
        return None if errors else prestudy.SummaryIn(content=text)

    return _act(
        request,
        session,
        person,
        topic_id,
        form="summary",
        values={"summary": content},
        read=read,
        run=lambda data: prestudy.submit_summary(session, topic_id, data, by=person.id),
        done="已提交调研报告，待协商办审核",
    )


@router.post(MY_TOPICS + "/{topic_id}/opinions")
def give_opinion(
    request: Request,
    session: SessionDep,
    person: Reader,
    topic_id: PathId,
    session_id: Text = "",
    content: Text = "",
) -> Response:
    """The participant's own opinion in a round that takes opinions (the domain refuses one
    that is concluded, or a participant who has not accepted the invitation)."""
    view = participation.topic_view(session, person, topic_id)
    form = f"round-{session_id}"

    def read(errors: dict[str, str]) -> consultation.OpinionsAdd | None:
        if not any(str(r.session_id) == session_id for r in view.rounds):
            errors["form"] = "该轮协商不属于本议题"
        elif view.participant_id is None:
            errors["form"] = "您不是本议题的协商主体，不能发表意见"
        text = content.strip()
        if len(text) < 2:
            errors[form] = "请填写您的意见（不少于 2 个字）"
        elif len(text) > 5000:
            errors[form] = "意见不能超过 5000 个字"
        if errors:
            return None
        return consultation.OpinionsAdd(
            opinions=[consultation.OpinionIn(participant_id=view.participant_id or 0, content=text)]
        )

    return _act(
        request,
        session,
        person,
        topic_id,
        form=form,
        values={form: content},
        read=read,
        run=lambda data: consultation.record_opinions(session, int(session_id), data),
        done="已记录您的意见",
    )


@router.post(MY_TOPICS + "/{topic_id}/rate")
def rate(
    request: Request,
    session: SessionDep,
    person: Reader,
    topic_id: PathId,
    score: Text = "",
    comment: Text = "",
) -> Response:
    """Rate the outcome once, 1–5 (4 and above count as satisfied), with a comment."""
    require(person, Can.RATE)
    participation.topic_view(session, person, topic_id)  # 404 for a topic he may not see

    def read(errors: dict[str, str]) -> assessment.RatingIn | None:
        if score not in {str(n) for n, _ in SCORES}:
            errors["score"] = "请选择 1–5 分的评价"
        if len(comment.strip()) > 1000:
            errors["comment"] = "意见不能超过 1000 个字"
        if errors:
            return None
        return assessment.RatingIn(score=int(score), comment=comment.strip() or None)

    return _act(
        request,
        session,
        person,
        topic_id,
        form="rate",
        values={"score": score, "comment": comment},
        read=read,
        run=lambda data: assessment.rate(session, topic_id, data, by=person.id),
        done="已收到您的评价，谢谢",
    )
