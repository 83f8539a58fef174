"""The consultation office's pages (协商办): 议题总览, the board of every topic by stage, and one
topic's page with its eight-stage timeline and every action of the loop as a plain form.

Each form post calls the operation the JSON API calls (api.routes.topics and actions) in one
short unit of work that commits, then redirects back with a one-time message; a refusal rolls
everything back and shows the form again with the reason beside the field and what was typed.
The topic page asks Prefect for the topic's runs and starting a stage goes through the
launcher: both happen outside any database transaction (the page's reads and writes run in
worker threads, each in a unit of work of its own), and a Prefect that does not answer leaves
the page readable with a note instead of the runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlmodel import Session, select

from api import auth, launcher
from api.deps import PathId, ReadSessionDep, UnitOfWorkDep, commit
from api.errors import VALIDATION_MESSAGES, ServiceUnavailable
from api.launcher import UnitOfWork
from api.pages.render import PageRoute, flash, page, require
from api.pages.routes import PageNumber, Reader
from config.settings import get_settings
from models import (
    assessment,
    board,
    consultation,
    prestudy,
    rectification,
    screening,
    subject,
)
from models import evaluation as evaluations
from models import report as reports
from models import topic as topics
from models.access import Can
from models.base import utcnow
from models.case import get
from models.consultation import FORM_LABELS
from models.deadlines import local_today
from models.enums import PARTICIPANT_ROLE_LABELS, Stage
from models.errors import DomainError, NotFound
from models.tables import ConsultationSession, Person, Report

ADMIN = "/admin"
TOPIC_PAGE = ADMIN + "/topics/{topic_id}"
router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]
# How long the topic page waits for Prefect's list of runs before it shows the page without it.
RUNS_WITHIN_SECONDS = 3.0

# A Prefect run's state as the office reads it (Prefect's own names are English).
RUN_STATES = {
    "SCHEDULED": "已排队",
    "PENDING": "待运行",
    "RUNNING": "运行中",
    "COMPLETED": "已完成",
    "FAILED": "失败",
    "CRASHED": "崩溃",
    "CANCELLED": "已取消",
    "CANCELLING": "取消中",
    "PAUSED": "已暂停",
}

# How each form field is named to the person, for the messages beside it.
LABELS = {
    "person_id": "参加人员",
    "role": "参加身份",
    "title": "标题",
    "method": "调研方式",
    "owner_id": "调研责任人",
    "due_date": "成果提交日期",
    "form": "协商形式",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "place": "地点",
    "participant_id": "发言人",
    "content": "内容",
    "summary": "小结",
    "suggestions": "意见建议",
    "opinion_ids": "依据的意见",
    "suggestion_id": "对应建议",
    "lead_department_id": "牵头单位",
    "officer_id": "责任人",
    "deadline": "整改期限",
    "decision": "初筛决定",
    "rule": "不予协商的依据",
    "merge_into_id": "并入的议题",
    "justification": "理由",
    "minutes": "会议纪要",
    "note": "审核意见",
    "evaluator_id": "评估人",
    "reason": "撤回理由",
}


def prefect_run_url(flow_run_id: str) -> str:
    """The run's page in the Prefect UI (the UI is served beside the API it talks to)."""
    ui = get_settings().resolved_prefect_api_url.removesuffix("/").removesuffix("/api")
    return f"{ui}/runs/flow-run/{flow_run_id}"


@router.get(ADMIN)
def board_page(
    request: Request,
    session: ReadSessionDep,
    person: Reader,
    page_no: PageNumber = 1,
    stage: Annotated[Stage | None, Query()] = None,
    view: Annotated[Literal["all", "late"], Query()] = "all",
) -> Response:
    """Every topic by stage: what each waits for and who on it is late."""
    require(person, Can.RUN_LOOP)
    found = board.board(session, page=page_no, stage=stage, late_only=view == "late")
    session.commit()
    return page(request, "admin_board.html", person=person, title="议题总览", board=found)


Read = tuple[
    board.TopicBoard,
    screening.ScreeningPublic | None,
    prestudy.SummaryPublic | None,
    list[evaluations.EvaluationPublic],
    list[tuple[str, str]],
]


def _read(uow: UnitOfWork, topic_id: int) -> Read:
    with uow() as session:
        found = board.topic_board(session, topic_id)
        try:
            screened = screening.view(session, topic_id)
        except DomainError:  # not screened yet
            screened = None
        summary = prestudy.summary_of(session, topic_id)
        shown = prestudy.SummaryPublic.model_validate(summary) if summary else None
        evaluated = evaluations.of_topic(session, topic_id)
        return found, screened, shown, evaluated, evaluations.evaluator_choices(session)


async def _runs(uow: UnitOfWork, topic_id: int) -> tuple[list[launcher.FlowRunPublic], str | None]:
    """The topic's runs as Prefect records them, or why they cannot be shown now."""
    try:
        with anyio.fail_after(RUNS_WITHIN_SECONDS):
            return await launcher.topic_runs(uow, topic_id), None
    except ServiceUnavailable:
        pass
    except TimeoutError:
        pass
    return [], "流程引擎（Prefect）暂时无法访问，流程运行记录稍后可见；议题的办理不受影响。"


async def _render(
    request: Request,
    uow: UnitOfWork,
    person: Person,
    topic_id: int,
    *,
    form: str | None = None,
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view, screened, summary, evaluated, evaluators = await anyio.to_thread.run_sync(
        _read, uow, topic_id
    )
    runs, runs_error = await _runs(uow, topic_id)
    by_id = {run.id: run for run in runs}
    return page(
        request,
        "admin_topic.html",
        person=person,
        status_code=status_code,
        title=view.title,
        topic=view,
        screening=screened,
        summary=summary,
        evaluations=evaluated,
        evaluator_choices=evaluators,
        rule_choices=list(screening.rule_choices()),
        rule_labels=dict(screening.rule_choices()),
        merge_choices=[
            (str(c["topic_id"]), f"{c['title']}（{c['topic_id']}，相似度 {c['score']:.0%}）")
            for c in (screened.candidates if screened else [])
        ],
        runs=by_id,
        all_runs=runs,
        runs_error=runs_error,
        run_url=prefect_run_url,
        run_states=RUN_STATES,
        form=form,
        values=values or {},
        errors=errors or {},
        role_choices=PARTICIPANT_ROLE_LABELS.items(),
        method_choices=board.RESEARCH_METHOD_LABELS.items(),
        form_choices=FORM_LABELS.items(),
        today=local_today(utcnow()).isoformat(),
    )


@router.get(TOPIC_PAGE)
async def topic_page(
    request: Request, person: Reader, uow: UnitOfWorkDep, topic_id: PathId
) -> Response:
    """The topic's timeline, its records and the forms of what the office may do now."""
    require(person, Can.RUN_LOOP)
    return await _render(request, uow, person, topic_id)


@router.get(ADMIN + "/reports/{report_id}")
def report_page(session: ReadSessionDep, person: Reader, report_id: PathId) -> Response:
    """A report is edited on its topic's page (messages about a report name the report)."""
    require(person, Can.RUN_LOOP)
    report = get(session, Report, report_id)
    session.commit()
    return RedirectResponse(
        TOPIC_PAGE.format(topic_id=report.topic_id) + "#report", status_code=303
    )


def _field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic's complaints as a person reads them, by form field."""
    found: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(part) for part in err.get("loc", ())]
        name = next((part for part in loc if part in LABELS), loc[0] if loc else "form")
        kind = err.get("type", "")
        ctx = err.get("ctx") or {}
        label = LABELS.get(name, "此项")
        if kind in ("missing", "enum", "int_parsing") and name.endswith(("_id", "role")):
            text = f"请选择{label}"
        elif kind == "missing":
            text = f"请填写{label}"
        elif kind == "string_too_short":
            text = f"请填写{label}（不少于 {ctx.get('min_length', 1)} 个字，首尾空白不计）"
        elif kind == "string_too_long":
            text = f"{label}不能超过 {ctx.get('max_length')} 个字"
        elif kind.startswith(("date", "datetime")):
            text = f"请填写{label}"
        elif kind == "value_error":
            text = str(err.get("msg", "")).removeprefix("Value error, ")
        else:
            text = VALIDATION_MESSAGES.get(kind, "取值不合法")
        found.setdefault(name, text)
    return found


Operation = Callable[[Session], Any]


async def _act(
    request: Request,
    uow: UnitOfWork,
    person: Person,
    topic_id: int,
    *,
    form: str,
    values: Mapping[str, Any],
    read: Callable[[], BaseModel | None],
    run: Callable[[Session, Any], Any],
    done: str,
) -> Response:
    """One action of the topic page: who acts, the form read into the API's request body, the
    operation in one unit of work that commits (its messages go out at once), then back to
    the topic with a one-time message; a refusal writes nothing and shows the form again."""
    require(person, Can.RUN_LOOP)
    auth._limit_actions(person)  # writes per person and minute, as the API counts them

    def work() -> tuple[dict[str, str], int]:
        try:
            data = read()
        except ValidationError as exc:
            return _field_errors(exc), 422
        try:
            with uow() as session:
                run(session, data)
                commit(session)
        except NotFound as exc:
            if exc.field in LABELS:
                return {exc.field: exc.message}, 422
            raise
        except DomainError as exc:
            field = exc.field if exc.field in LABELS else "form"
            return {field: exc.message}, 409 if exc.status_code == 409 else 422
        return {}, 200

    errors, status = await anyio.to_thread.run_sync(work)
    if not errors:
        response = RedirectResponse(TOPIC_PAGE.format(topic_id=topic_id) + f"#{form}", 303)
        flash(response, done)
        return response
    return await _render(
        request,
        uow,
        person,
        topic_id,
        form=form,
        values=values,
        errors=errors,
        status_code=status,
    )


def _id(value: str) -> int | str:
    """A choice from a form's list: its id, or the text as typed (refused by the schema)."""
    text = value.strip()
    return int(text) if text.isascii() and text.isdigit() else text


def _local_moment(value: str) -> dt.datetime | str | None:
    """A `datetime-local` field (no zone) read as Beijing time; empty is None."""
    text = value.strip()
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return text
    return moment if moment.tzinfo else moment.replace(tzinfo=get_settings().tz)


@router.post(TOPIC_PAGE + "/stages/{stage}")
async def start_stage(
    request: Request, person: Reader, uow: UnitOfWorkDep, topic_id: PathId, stage: Stage
) -> Response:
    """Start a stage through the launcher, as `POST /topics/{id}/stages/{stage}` does: the gate
    is checked in a short unit of work, Prefect is called with none open."""
    require(person, Can.RUN_LOOP)
    auth._limit_actions(person)
    try:
        result = await launcher.start_stage(uow, topic_id, stage)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _render(
            request,
            uow,
            person,
            topic_id,
            form="start",
            errors={"form": exc.message},
            status_code=409,
        )
    except ServiceUnavailable as exc:
        return await _render(
            request,
            uow,
            person,
            topic_id,
            form="start",
            errors={"form": exc.message},
            status_code=503,
        )
    response = RedirectResponse(TOPIC_PAGE.format(topic_id=topic_id) + "#timeline", 303)
    flash(
        response,
        f"已启动“{stage.label}”环节（流程运行 {result.flow_run_id[:8]}）"
        if result.created
        else f"“{stage.label}”环节已在运行，未重复启动",
    )
    return response


@router.post(TOPIC_PAGE + "/screening")
async def decide_screening(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    decision: Text = "",
    rule: Text = "",
    merge_into_id: Text = "",
    justification: Text = "",
) -> Response:
    """初筛: admit, exclude on a rule or merge into an earlier topic (against the system's
    suggestion only with a justification)."""
    done = {
        "admit": "已予以受理，议题已报请审定。",
        "exclude": "已决定不予协商，提出人将收到说明。",
        "merge": "已并入更早提出的议题，提出人已列为该议题的提议人。",
    }
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="screening",
        values={
            "decision": decision,
            "rule": rule,
            "merge_into_id": merge_into_id,
            "justification": justification,
        },
        read=lambda: screening.ScreeningIn.model_validate(
            {
                "decision": decision or None,
                "rule": rule or None,
                "merge_into_id": _id(merge_into_id) if merge_into_id.strip() else None,
                "justification": justification,
            }
        ),
        run=lambda s, data: topics.decide_screening(s, topic_id, data, by=person.id),
        done=done.get(decision, "已记录初筛决定。"),
    )


@router.post(TOPIC_PAGE + "/research-summary")
async def submit_summary(
    request: Request, person: Reader, uow: UnitOfWorkDep, topic_id: PathId, content: Text = ""
) -> Response:
    """调研报告: written (or revised after a return) once every required task's findings are in."""
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="summary",
        values={"content": content},
        read=lambda: prestudy.SummaryIn.model_validate({"content": content}),
        run=lambda s, data: prestudy.submit_summary(s, topic_id, data, by=person.id),
        done="调研报告已提交，待审核。",
    )


@router.post(TOPIC_PAGE + "/research-summary/review")
async def review_summary(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    accepted: Text = "",
    note: Text = "",
) -> Response:
    """Accept the summary (不调研不协商 is met) or return it saying what is missing."""
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="review",
        values={"accepted": accepted, "note": note},
        read=lambda: prestudy.SummaryReview.model_validate(
            {"accepted": accepted == "1", "note": note.strip() or None}
        ),
        run=lambda s, data: prestudy.review_summary(s, topic_id, data, by=person.id),
        done="调研报告已审核通过，可以安排协商。" if accepted == "1" else "调研报告已退回修改。",
    )


@router.post(TOPIC_PAGE + "/participants")
async def add_participant(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    person_id: Text = "",
    role: Text = "",
) -> Response:
    """明确主体: invite one person in a role (the stage checks representativeness)."""
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="participants",
        values={"person_id": person_id, "role": role},
        read=lambda: subject.ParticipantsAdd.model_validate(
            {"participants": [{"person_id": _id(person_id), "role": role or None}]}
        ),
        run=lambda s, data: subject.add_participants(s, topic_id, data),
        done="已添加协商主体。",
    )


@router.post(TOPIC_PAGE + "/research-tasks")
async def add_research(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    title: Text = "",
    method: Text = "",
    owner_id: Text = "",
    due_date: Text = "",
) -> Response:
    """商前调研: one research assignment with its owner and due date."""
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="research",
        values={"title": title, "method": method, "owner_id": owner_id, "due_date": due_date},
        read=lambda: prestudy.ResearchTaskCreate.model_validate(
            {
                "title": title,
                "method": method or None,
                "owner_id": _id(owner_id),
                "due_date": due_date or None,
            }
        ),
        run=lambda s, data: prestudy.create_task(s, topic_id, data),
        done="已安排调研任务。",
    )


@router.post(TOPIC_PAGE + "/sessions")
async def add_session(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    form: Text = "",
    starts_at: Text = "",
    ends_at: Text = "",
    place: Text = "",
) -> Response:
    """开展协商: the round's form, time and place (Beijing time)."""
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="session",
        values={"form": form, "starts_at": starts_at, "ends_at": ends_at, "place": place},
        read=lambda: consultation.SessionCreate.model_validate(
            {
                "form": form or None,
                "starts_at": _local_moment(starts_at),
                "ends_at": _local_moment(ends_at),
                "place": place.strip() or None,
            }
        ),
        run=lambda s, data: consultation.schedule_session(s, topic_id, data),
        done="已安排协商会。",
    )


def _round(session: Session, topic_id: int, session_id: int) -> ConsultationSession:
    """The round if it belongs to this topic (else 404: the address names nothing)."""
    meeting = get(session, ConsultationSession, session_id)
    if meeting.topic_id != topic_id:
        raise NotFound("该议题没有这一轮协商会")
    return meeting


@router.post(TOPIC_PAGE + "/sessions/{session_id}/opinions")
async def add_opinion(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    session_id: PathId,
    participant_id: Text = "",
    content: Text = "",
    consensus: Text = "",
) -> Response:
    """An opinion as a participant spoke it in the round."""

    def run(s: Session, data: consultation.OpinionsAdd) -> Any:
        _round(s, topic_id, session_id)
        return consultation.record_opinions(s, session_id, data)

    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="opinions",
        values={"participant_id": participant_id, "content": content, "consensus": consensus},
        read=lambda: consultation.OpinionsAdd.model_validate(
            {
                "opinions": [
                    {
                        "participant_id": _id(participant_id),
                        "content": content,
                        "consensus": bool(consensus),
                    }
                ]
            }
        ),
        run=run,
        done="已记录意见。",
    )


@router.post(TOPIC_PAGE + "/sessions/{session_id}/conclude")
async def conclude_session(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    session_id: PathId,
    summary: Text = "",
    suggestions: Text = "",
    consensus_reached: Text = "",
    minutes: Text = "",
    opinion_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Close the round: consensus or not, its summary, its minutes (a meeting's are
    required), and the suggestions it produced (one a line), each pointing back to the
    opinions ticked."""
    sources = [_id(i) for i in opinion_ids or []]
    lines = [line.strip() for line in suggestions.splitlines() if line.strip()]

    def run(s: Session, data: consultation.Conclusion) -> Any:
        _round(s, topic_id, session_id)
        return consultation.conclude(s, session_id, data)

    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="conclude",
        values={
            "summary": summary,
            "suggestions": suggestions,
            "consensus_reached": consensus_reached,
            "minutes": minutes,
            "opinion_ids": {str(i) for i in sources},
        },
        read=lambda: consultation.Conclusion.model_validate(
            {
                "consensus_reached": bool(consensus_reached),
                "summary": summary,
                "minutes": minutes or None,
                "suggestions": [{"content": c, "opinion_ids": sources} for c in lines],
            }
        ),
        run=run,
        done="本轮协商已结束。" if not consensus_reached else "本轮协商已形成共识并列出意见建议。",
    )


@router.post(TOPIC_PAGE + "/report")
async def revise_report(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    title: Text = "",
    content: Text = "",
) -> Response:
    """Edit the compiled report; a returned report goes to the approver again."""

    def run(s: Session, data: reports.ReportUpdate) -> Any:
        report = s.exec(select(Report).where(Report.topic_id == topic_id)).first()
        if report is None:
            raise NotFound("该议题尚未形成协商成果报告")
        return reports.revise(s, report.id, data, by=person.id)  # type: ignore[arg-type]

    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="report",
        values={"title": title, "content": content},
        read=lambda: reports.ReportUpdate.model_validate(
            {"title": title.strip() or None, "content": content}
        ),
        run=run,
        done="报告已保存并报送审定。",
    )


@router.post(TOPIC_PAGE + "/items")
async def add_item(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    suggestion_id: Text = "",
    title: Text = "",
    lead_department_id: Text = "",
    officer_id: Text = "",
    deadline: Text = "",
    co_department_ids: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """转交办理: an adopted suggestion becomes a line of the responsibility list."""
    values = {
        "suggestion_id": suggestion_id,
        "title": title,
        "lead_department_id": lead_department_id,
        "officer_id": officer_id,
        "deadline": deadline,
        "co_department_ids": set(co_department_ids or []),
    }
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="items",
        values=values,
        read=lambda: rectification.ItemCreate.model_validate(
            {
                "suggestion_id": _id(suggestion_id),
                "title": title,
                "lead_department_id": _id(lead_department_id),
                "officer_id": _id(officer_id),
                "deadline": deadline or None,
                "co_department_ids": [_id(d) for d in co_department_ids or []],
            }
        ),
        run=lambda s, data: rectification.create_item(s, topic_id, data),
        done="已建立整改事项。",
    )


@router.post(TOPIC_PAGE + "/evaluations")
async def assign_evaluator(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    evaluator_id: Text = "",
) -> Response:
    """第三方评估: ask an independent expert or supervisor to score the outcome."""
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="evaluations",
        values={"evaluator_id": evaluator_id},
        read=lambda: evaluations.AssignIn.model_validate({"evaluator_id": _id(evaluator_id)}),
        run=lambda s, data: evaluations.assign(s, topic_id, data, by=person.id),
        done="已指派第三方评估，评估人将收到通知。",
    )


@router.post(TOPIC_PAGE + "/evaluations/{evaluation_id}/withdraw")
async def withdraw_evaluator(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    evaluation_id: PathId,
    reason: Text = "",
) -> Response:
    """Withdraw an assignment not yet submitted, with the reason the audit trail keeps."""
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="evaluations",
        values={"reason": reason},
        read=lambda: evaluations.WithdrawIn.model_validate({"reason": reason}),
        run=lambda s, data: evaluations.withdraw(s, evaluation_id, data, by=person.id),
        done="已撤回该项第三方评估指派。",
    )


@router.post(TOPIC_PAGE + "/assessment")
async def close_assessment(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    topic_id: PathId,
    summary: Text = "",
    public: Text = "",
) -> Response:
    """评估质效: close the assessment; the KPIs are computed and, if public, disclosed."""
    return await _act(
        request,
        uow,
        person,
        topic_id,
        form="assessment",
        values={"summary": summary, "public": public},
        read=lambda: assessment.AssessmentClose.model_validate(
            {"summary": summary, "public": bool(public)}
        ),
        run=lambda s, data: assessment.close(s, topic_id, data, by=person.id),
        done="评估已办结，议题闭环完成。",
    )
