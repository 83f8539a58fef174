"""Pages of the department officer (联络员) and head (负责人): 本单位事项 and one item's page,
where they acknowledge or return it, submit the plan, report progress and complete it.

Every action is a plain form post carrying the session's CSRF token. It calls the domain
operation of models.rectification in the request's one transaction, as the JSON API does
(api.routes.actions), with the signed-in person as the actor; then it redirects back with a
one-time message. Refused or invalid input re-renders the form with the reason beside the
field and what was typed, and nothing is written."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from api import auth
from api.deps import PathId, ReadSessionDep, SessionDep
from api.pages.forms import FormReader, field_errors, moved_on, submit
from api.pages.render import PageRoute, page, require
from api.pages.routes import PageNumber, Reader
from config.settings import get_settings
from models import department_items, extensions, rectification
from models import evidence as evidence_files
from models.access import Can
from models.base import utcnow
from models.deadlines import local_today
from models.department_items import ItemView
from models.enums import DECLINE_CODE_LABELS, Role
from models.errors import DomainError
from models.tables import Person

ITEMS = "/work/items"
router = APIRouter(route_class=PageRoute, include_in_schema=False)

# How each form field is named to the person, for the messages beside it.
LABELS = {
    "code": "退回理由",
    "reason": "具体说明",
    "target": "整改目标",
    "measures": "整改措施",
    "deadline": "方案完成时限",
    "responsible_id": "责任人",
    "adjust_reason": "调整理由",
    "note": "进展情况",
    "percent": "整改进度",
    "summary": "办结情况",
    "long_term_mechanism_ref": "长效机制文件",
    "file": "佐证材料",
    "new_deadline": "申请延至",
    "extension_reason": "延期理由",
}
# The extension form's fields are named apart from the plan's (deadline) and the return's
# (reason), so a message lands beside the field of the form that was sent.
EXTENSION_FIELDS = {"deadline": "new_deadline", "reason": "extension_reason"}
Text = Annotated[str, Form()]


@router.get(ITEMS)
def list_items(
    request: Request,
    session: ReadSessionDep,
    person: Reader,
    page_no: PageNumber = 1,
    view: Annotated[Literal["all", "overdue"], Query()] = "all",
) -> Response:
    """The department's items; the head may narrow them to the overdue ones."""
    require(person, Can.WORK_ITEM)
    head = person.role == Role.DEPARTMENT_HEAD
    found = department_items.department_items(
        session, person, page=page_no, overdue_only=head and view == "overdue"
    )
    session.commit()
    return page(request, "items.html", person=person, title="本单位事项", items=found, head=head)


@router.get(ITEMS + "/{item_id}")
def item_page(
    request: Request, session: ReadSessionDep, person: Reader, item_id: PathId
) -> Response:
    """One item and the forms for what the person may do on it now."""
    view = department_items.item_view(session, person, item_id)
    session.commit()
    return _render(request, person, view)


def _render(
    request: Request,
    person: Person,
    view: ItemView,
    *,
    form: str | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "item.html",
        person=person,
        status_code=status_code,
        title=view.title,
        item=view,
        actions={a.value for a in view.actions},
        decline_codes=DECLINE_CODE_LABELS,
        form=form,
        values=values or {},
        errors=errors or {},
        today=local_today(utcnow()).isoformat(),
    )


def _act(
    request: Request,
    session: Session,
    person: Person,
    item_id: int,
    *,
    form: str,
    values: Mapping[str, str],
    read: FormReader,
    run: Callable[[Any], Any],
    done: str,
) -> Response:
    """One action of the item page, by the item's officer or his head (api.pages.forms)."""
    item = department_items.workable_item(session, person, item_id)  # 404, or 403 naming who may
    auth._limit_actions(person)  # writes per person and minute, as the API counts them

    def again(found: dict[str, str], status: int) -> Response:
        view = department_items.item_view(session, person, item_id)
        session.commit()
        shown = moved_on(found, form, view.actions)
        return _render(
            request, person, view, form=form, values=values, errors=shown, status_code=status
        )

    return submit(
        session,
        values=values,
        labels=LABELS,
        read=read,
        run=run,
        done_url=f"{ITEMS}/{item.id}",
        done=done,
        again=again,
    )


def _whole_number(value: str, name: str, errors: dict[str, str], *, hint: str) -> int | None:
    """A number typed into a form: whole, or a message beside the field."""
    text = value.strip()
    if not text:
        errors[name] = f"请填写{LABELS[name]}"
    elif not (text.isascii() and text.isdigit()):
        errors[name] = hint
    else:
        return int(text)
    return None


def _given(**fields: object) -> dict[str, object]:
    """The fields to validate: those the form could not even read are left out (their message
    is already beside them)."""
    return {k: v for k, v in fields.items() if v is not None}


@router.post(ITEMS + "/{item_id}/acknowledge")
def acknowledge(request: Request, session: SessionDep, person: Reader, item_id: PathId) -> Response:
    """签收: the department takes the item on."""
    return _act(
        request,
        session,
        person,
        item_id,
        form="acknowledge",
        values={},
        read=lambda _: None,
        run=lambda _: rectification.acknowledge(session, item_id, by=person.id),
        done="已签收该事项。请按期提交整改方案。",
    )


@router.post(ITEMS + "/{item_id}/decline")
def decline(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    code: Text = "",
    reason: Text = "",
) -> Response:
    """退回, with a reason from the fixed list and what lies behind it."""
    return _act(
        request,
        session,
        person,
        item_id,
        form="decline",
        values={"code": code, "reason": reason},
        read=lambda _: rectification.DeclineIn.model_validate({"code": code, "reason": reason}),
        run=lambda data: rectification.decline(session, item_id, data, by=person.id),
        done="已退回该事项，协商办将改派或裁定牵头单位。",
    )


@router.post(ITEMS + "/{item_id}/plan")
def submit_plan(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    target: Text = "",
    measures: Text = "",
    deadline: Text = "",
    responsible_id: Text = "",
    adjust_reason: Text = "",
) -> Response:
    """一问题一方案: target, measures, deadline and the person responsible (one of the lead
    department's people, as the form offers them); a later version adjusts the plan and says
    why."""

    def read(errors: dict[str, str]) -> BaseModel:
        responsible = _whole_number(responsible_id, "responsible_id", errors, hint="请选择责任人")
        if responsible is not None and responsible not in dict(
            department_items.department_people(session, item_id)
        ):
            errors["responsible_id"] = "请从牵头单位的人员中选择责任人"
        return rectification.PlanIn.model_validate(
            _given(
                target=target,
                measures=measures,
                deadline=deadline,
                responsible_id=responsible,
                adjust_reason=adjust_reason.strip() or None,
            )
        )

    return _act(
        request,
        session,
        person,
        item_id,
        form="plan",
        values={
            "target": target,
            "measures": measures,
            "deadline": deadline,
            "responsible_id": responsible_id,
            "adjust_reason": adjust_reason,
        },
        read=read,
        run=lambda data: rectification.submit_plan(session, item_id, data, by=person.id),
        done="整改方案已提交，协商办和政协方面将审核。",
    )


@router.post(ITEMS + "/{item_id}/progress")
def report_progress(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    note: Text = "",
    percent: Text = "",
) -> Response:
    """How far the item has got."""

    def read(errors: dict[str, str]) -> BaseModel:
        done = _whole_number(percent, "percent", errors, hint="请填写 0 到 100 之间的整数")
        return rectification.ProgressIn.model_validate(_given(note=note, percent=done))

    return _act(
        request,
        session,
        person,
        item_id,
        form="progress",
        values={"note": note, "percent": percent},
        read=read,
        run=lambda data: rectification.report_progress(session, item_id, data, by=person.id),
        done="整改进展已报送。",
    )


@router.post(ITEMS + "/{item_id}/complete")
def complete(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    summary: Text = "",
    solved: Text = "",
    long_term_mechanism: Text = "",
    long_term_mechanism_ref: Text = "",
) -> Response:
    """办结: what was done, whether the problem is solved and whether a standing rule came of
    it (the problem-solved and long-term mechanism rates count these)."""
    return _act(
        request,
        session,
        person,
        item_id,
        form="complete",
        values={
            "summary": summary,
            "solved": solved,
            "long_term_mechanism": long_term_mechanism,
            "long_term_mechanism_ref": long_term_mechanism_ref,
        },
        read=lambda _: rectification.CompletionIn.model_validate(
            {
                "summary": summary,
                "solved": bool(solved),
                "long_term_mechanism": bool(long_term_mechanism),
                "long_term_mechanism_ref": long_term_mechanism_ref.strip() or None,
            }
        ),
        run=lambda data: rectification.complete(session, item_id, data, by=person.id),
        done="事项已办结，协商办将按期开展回头看。",
    )


@router.post(ITEMS + "/{item_id}/evidence")
def upload_evidence(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """上传佐证材料 of the completion (type and size checked by content, before anything is
    written; the limits are on the form)."""

    def read(errors: dict[str, str]) -> bytes | None:
        if file is None or not file.filename:
            errors["file"] = "请选择要上传的文件"
            return None
        return file.file.read(get_settings().evidence_max_bytes + 1)

    return _act(
        request,
        session,
        person,
        item_id,
        form="evidence",
        values={"file": ""},
        read=read,
        run=lambda data: evidence_files.store(
            session,
            item_id,
            filename=(file.filename or "") if file else "",
            data=data,
            progress_id=None,
            by=person.id,
        ),
        done=f"佐证材料“{file.filename if file else ''}”已上传。",
    )


@router.post(ITEMS + "/{item_id}/extensions")
def request_extension(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    new_deadline: Text = "",
    extension_reason: Text = "",
) -> Response:
    """申请延期, before the deadline; the office approves or refuses, and the ledger keeps both."""

    def read(errors: dict[str, str]) -> BaseModel | None:
        try:
            return extensions.ExtensionRequestIn.model_validate(
                {"deadline": new_deadline, "reason": extension_reason}
            )
        except ValidationError as exc:
            labels = {**LABELS, **{k: LABELS[v] for k, v in EXTENSION_FIELDS.items()}}
            for name, text in field_errors(exc, labels).items():
                errors[EXTENSION_FIELDS.get(name, name)] = text
            return None

    def run(data: extensions.ExtensionRequestIn) -> object:
        try:
            return extensions.request(session, item_id, data, by=person.id)
        except DomainError as exc:
            exc.field = EXTENSION_FIELDS.get(exc.field or "", exc.field)
            raise

    return _act(
        request,
        session,
        person,
        item_id,
        form="extension",
        values={"new_deadline": new_deadline, "extension_reason": extension_reason},
        read=read,
        run=run,
        done="延期申请已提交，等待协商办审批；审批前仍按原期限办理。",
    )
