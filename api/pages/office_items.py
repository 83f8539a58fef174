"""The consultation office's page of one rectification item (整改事项督办): the item as its
department sees it, its returns, and the decisions only the office takes — reassign a returned
item, arbitrate one returned again and again (final), review the plan, approve or refuse an
extension, move the deadline itself, and record the re-check (回头看).

Every decision is a plain form post that calls the operation the JSON API calls
(models.rectification, models.extensions) in the request's one transaction, then redirects
back with a one-time message; a refusal rolls everything back and shows the form again with
the reason beside the field and what was typed. Messages about an extension or a plan name
that record; their addresses (/admin/extensions/{id}, /admin/plans/{id}) lead here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse
from sqlmodel import Session

from api import auth
from api.deps import PathId, ReadSessionDep, SessionDep
from api.pages.forms import FormReader, moved_on, submit
from api.pages.render import PageRoute, page, require
from api.pages.routes import Reader
from models import extensions, rectification
from models.access import Can
from models.base import utcnow
from models.case import get
from models.deadlines import local_today
from models.department_items import OfficeItemView, office_item_view
from models.errors import DomainError
from models.tables import ItemExtension, Person, Plan

ITEM_PAGE = "/admin/items/{item_id}"
router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]

LABELS = {
    "officer_id": "新的责任人",
    "deadline": "整改期限",
    "note": "意见",
    "decision": "决定",
    "comment": "审批意见",
    "reason": "调整理由",
    "rebound": "回头看结论",
}


@router.get(ITEM_PAGE)
def item_page(
    request: Request, session: ReadSessionDep, person: Reader, item_id: PathId
) -> Response:
    """The item, its returns and ledger, and the forms of what the office may decide now."""
    require(person, Can.SUPERVISE_ITEM)
    view = office_item_view(session, person, item_id)
    session.commit()
    return _render(request, person, view)


@router.get("/admin/extensions/{extension_id}")
def extension_page(session: ReadSessionDep, person: Reader, extension_id: PathId) -> Response:
    """An extension request is decided on its item's page (messages name the request)."""
    require(person, Can.SUPERVISE_ITEM)
    line = get(session, ItemExtension, extension_id)
    session.commit()
    return RedirectResponse(ITEM_PAGE.format(item_id=line.item_id) + "#decide_extension", 303)


@router.get("/admin/plans/{plan_id}")
def plan_page(session: ReadSessionDep, person: Reader, plan_id: PathId) -> Response:
    """A plan is reviewed on its item's page (messages name the plan)."""
    require(person, Can.SUPERVISE_ITEM)
    plan = get(session, Plan, plan_id)
    session.commit()
    return RedirectResponse(ITEM_PAGE.format(item_id=plan.item_id) + "#review_plan", 303)


def _render(
    request: Request,
    person: Person,
    view: OfficeItemView,
    *,
    form: str | None = None,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "admin_item.html",
        person=person,
        status_code=status_code,
        title=view.item.title,
        office=view,
        item=view.item,
        actions=view.item.actions,  # the department's forms: none on this page
        office_actions={a.value for a in view.actions},
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
    """One decision on the item (api.pages.forms)."""
    require(person, Can.SUPERVISE_ITEM)
    auth._limit_actions(person)  # writes per person and minute, as the API counts them

    def again(found: dict[str, str], status: int) -> Response:
        view = office_item_view(session, person, item_id)
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
        done_url=ITEM_PAGE.format(item_id=item_id),
        done=done,
        again=again,
    )


def _officer(session: Session, officer_id: str, errors: dict[str, str]) -> Person | None:
    """The chosen officer (his department leads the item), or a message beside the field."""
    text = officer_id.strip()
    person = session.get(Person, int(text)) if text.isascii() and text.isdigit() else None
    if person is None or person.department_id is None:
        errors["officer_id"] = "请选择新的责任人"
        return None
    return person


def _date(value: str) -> dt.date | str | None:
    text = value.strip()
    return text or None


@router.post(ITEM_PAGE + "/reassign")
def reassign(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    officer_id: Text = "",
) -> Response:
    """改派 a returned item to another department's officer (the deadline stays; the office
    moves it with its own form, so the ledger records it)."""

    def read(errors: dict[str, str]) -> rectification.ReassignIn | None:
        officer = _officer(session, officer_id, errors)
        if officer is None:
            return None
        return rectification.ReassignIn.model_validate(
            {
                "lead_department_id": officer.department_id,
                "officer_id": officer.id,
            }
        )

    return _act(
        request,
        session,
        person,
        item_id,
        form="reassign",
        values={"officer_id": officer_id},
        read=read,
        run=lambda data: rectification.reassign(session, item_id, data, by=person.id),
        done="已改派，新的牵头单位将收到签收通知。",
    )


@router.post(ITEM_PAGE + "/arbitrate")
def arbitrate(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    officer_id: Text = "",
    note: Text = "",
) -> Response:
    """裁定 who leads an item returned again and again: final, it cannot be returned again."""

    def read(errors: dict[str, str]) -> rectification.ArbitrateIn | None:
        officer = _officer(session, officer_id, errors)
        if len(note.strip()) < 2:
            errors["note"] = "请填写裁定意见（不少于 2 个字）"
        if officer is None or errors:
            return None
        return rectification.ArbitrateIn.model_validate(
            {
                "lead_department_id": officer.department_id,
                "officer_id": officer.id,
                "note": note,
            }
        )

    return _act(
        request,
        session,
        person,
        item_id,
        form="arbitrate",
        values={"officer_id": officer_id, "note": note},
        read=read,
        run=lambda data: rectification.arbitrate(session, item_id, data, by=person.id),
        done="已裁定牵头单位；该单位须签收办理，不能再退回。",
    )


@router.post(ITEM_PAGE + "/plan-review")
def review_plan(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    plan_id: Text = "",
    decision: Text = "",
    note: Text = "",
) -> Response:
    """审核整改方案: approve it, or return it with what to change."""

    def read(errors: dict[str, str]) -> rectification.PlanReview | None:
        if decision not in ("approve", "return"):
            errors["decision"] = "请选择通过或退回修改"
        elif decision == "return" and len(note.strip()) < 2:
            errors["note"] = "退回修改须写明意见（不少于 2 个字）"
        if errors:
            return None
        return rectification.PlanReview.model_validate(
            {"approved": decision == "approve", "note": note.strip() or None}
        )

    def run(data: rectification.PlanReview) -> object:
        plan = get(session, Plan, int(plan_id) if plan_id.isdigit() else 0)
        if plan.item_id != item_id:
            raise DomainError("该方案不属于本事项，请刷新页面后重试")
        return rectification.review_plan(session, plan.id, data, by=person.id)  # type: ignore[arg-type]

    return _act(
        request,
        session,
        person,
        item_id,
        form="review_plan",
        values={"decision": decision, "note": note},
        read=read,
        run=run,
        done="方案已审核通过。"
        if decision == "approve"
        else "方案已退回修改，责任单位将收到意见。",
    )


@router.post(ITEM_PAGE + "/extension-decision")
def decide_extension(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    extension_id: Text = "",
    decision: Text = "",
    comment: Text = "",
) -> Response:
    """批准 (the deadline moves, its reminders follow) or 不予批准 (with the reason)."""

    def read(errors: dict[str, str]) -> Any:
        if decision == "approve":
            return extensions.ExtensionDecisionIn.model_validate(
                {"comment": comment.strip() or None}
            )
        if decision == "refuse":
            return extensions.ExtensionRefusalIn.model_validate({"comment": comment})
        errors["decision"] = "请选择批准或不予批准"
        return None

    def run(data: Any) -> object:
        line = get(session, ItemExtension, int(extension_id) if extension_id.isdigit() else 0)
        if line.item_id != item_id:
            raise DomainError("该延期申请不属于本事项，请刷新页面后重试")
        decide = extensions.approve if decision == "approve" else extensions.refuse
        return decide(session, line.id, data, by=person.id)  # type: ignore[arg-type]

    return _act(
        request,
        session,
        person,
        item_id,
        form="decide_extension",
        values={"decision": decision, "comment": comment},
        read=read,
        run=run,
        done="已批准延期，整改期限已调整。"
        if decision == "approve"
        else "已不予批准延期，仍按原期限办理。",
    )


@router.post(ITEM_PAGE + "/extend")
def extend(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    deadline: Text = "",
    reason: Text = "",
) -> Response:
    """协商办直接调整期限: recorded in the extension ledger like an approved request."""
    return _act(
        request,
        session,
        person,
        item_id,
        form="extend",
        values={"deadline": deadline, "reason": reason},
        read=lambda _: rectification.ExtendIn.model_validate(
            {"deadline": _date(deadline), "reason": reason}
        ),
        run=lambda data: rectification.extend(session, item_id, data, by=person.id),
        done="整改期限已调整，并记入延期台账。",
    )


@router.post(ITEM_PAGE + "/recheck")
def recheck(
    request: Request,
    session: SessionDep,
    person: Reader,
    item_id: PathId,
    rebound: Text = "",
    note: Text = "",
) -> Response:
    """回头看: whether the fix held; a rebound sends the item back to its department."""

    def read(errors: dict[str, str]) -> rectification.RecheckIn | None:
        if rebound not in ("no", "yes"):
            errors["rebound"] = "请选择回头看结论"
        return rectification.RecheckIn.model_validate({"rebound": rebound == "yes", "note": note})

    return _act(
        request,
        session,
        person,
        item_id,
        form="recheck",
        values={"rebound": rebound, "note": note},
        read=read,
        run=lambda data: rectification.recheck(session, item_id, data, by=person.id),
        done="回头看已记录。" if rebound != "yes" else "回头看发现反弹，已记录并通知责任单位。",
    )
