"""A one-time link as a page: what the link does, on which record, for whom and until when,
with the one button (and the fields) its action needs; posting the form does it, once.

The page has no session: the link's token is its credential (models.action_links: signed,
one person, one action, one record, once, until it expires). A cross-site post cannot redeem
it silently: the form carries a nonce bound to this token and signed by the server, which only
a page rendered here holds (another site cannot read our page, so it cannot forge the post), and
a browser's post marked `Sec-Fetch-Site: cross-site` is refused. Opening the link (GET) never
acts, so a chat app's link preview uses nothing. A used, expired, revoked or altered link
answers with a page saying so. API clients get JSON at the same address (api/routes/links.py)."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request, Response

from api import auth
from api.deps import ReadSessionDep, SessionDep, commit
from api.pages.member import SCORES
from api.pages.render import PageRoute, page
from api.routes.links import LinkActionIn, perform
from config.links import ONE_TIME
from config.settings import get_settings
from models import action_links
from models.assessment import SATISFIED_FROM
from models.errors import Conflict, DomainError, Forbidden, Invalid

router = APIRouter(route_class=PageRoute, include_in_schema=False)
NONCE_SECONDS = 12 * 3600  # how long a rendered form may wait before it is posted
Token = Annotated[str, Path(min_length=20, max_length=1000)]
Text = Annotated[str, Form(max_length=5000)]


@dataclass(frozen=True)
class LinkPage:
    """How a link's page names its record and its button."""

    record: str
    button: str


PAGES: dict[str, LinkPage] = {
    "item.acknowledge": LinkPage("整改事项", "签收"),
    "participant.rsvp": LinkPage("议题", "提交回复"),
    "topic.rate": LinkPage("议题", "提交评价"),
}
REFUSED_TITLES = {404: "链接无效", 409: "链接已使用", 410: "链接已失效"}


def form_nonce(token: str, *, at: int | None = None) -> str:
    """'<time>.<mac>': proves the post comes from a form this server rendered for this link."""
    at = int(time.time()) if at is None else at
    key = get_settings().derived_key("act-form")
    mac = hmac.new(key, f"{at}|{token}".encode(), hashlib.sha256).hexdigest()
    return f"{at}.{mac}"


def nonce_ok(token: str, sent: str) -> bool:
    at, _, _ = sent.partition(".")
    if not at.isdigit() or not 0 <= time.time() - int(at) <= NONCE_SECONDS:
        return False
    return hmac.compare_digest(form_nonce(token, at=int(at)), sent)


def _refused(request: Request, exc: DomainError) -> Response:
    status = 409 if isinstance(exc, Conflict) else exc.status_code
    return page(
        request,
        "error.html",
        status_code=status,
        title=REFUSED_TITLES.get(status, "无法办理"),
        message=exc.message,
    )


def _form(
    request: Request,
    view: action_links.LinkView,
    token: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "act.html",
        status_code=status_code,
        title=view.label,
        link=view,
        spec=PAGES[view.action],
        action_url=ONE_TIME.format(token=token),
        nonce=form_nonce(token),
        scores=SCORES,
        satisfied_from=SATISFIED_FROM,
        values=values or {},
        errors=errors or {},
    )


@router.get(ONE_TIME)
def link_page(request: Request, session: ReadSessionDep, token: Token) -> Response:
    """What the link will do; opening it does nothing yet."""
    try:
        view = action_links.view(session, token)
    except DomainError as exc:
        session.rollback()
        return _refused(request, exc)
    session.commit()
    return _form(request, view, token)


def _read(
    action: str, accept: str, note: str, score: str, comment: str, errors: dict[str, str]
) -> LinkActionIn:
    """The form's fields as the action needs them, or messages beside the fields."""
    given = LinkActionIn()
    if action == "participant.rsvp":
        if accept not in ("yes", "no"):
            errors["accept"] = "请选择参加或不参加"
        if len(note.strip()) > 500:
            errors["note"] = "说明不能超过 500 个字"
        given = LinkActionIn(accept=accept == "yes", note=note.strip() or None)
    elif action == "topic.rate":
        if score not in {str(n) for n, _ in SCORES}:
            errors["score"] = "请选择 1–5 分的评价"
        if len(comment.strip()) > 1000:
            errors["comment"] = "意见不能超过 1000 个字"
        given = LinkActionIn(
            score=int(score) if score.isdigit() else None, comment=comment.strip() or None
        )
    return given


@router.post(ONE_TIME)
def use_link_page(
    request: Request,
    session: SessionDep,
    token: Token,
    form_nonce_: Annotated[str, Form(alias="form_nonce", max_length=200)] = "",
    accept: Text = "",
    note: Text = "",
    score: Text = "",
    comment: Text = "",
) -> Response:
    """Do the link's action once, as its person; a refusal writes nothing and says why."""
    try:
        view = action_links.view(session, token)
    except DomainError as exc:
        session.rollback()
        return _refused(request, exc)
    values = {"accept": accept, "note": note, "score": score, "comment": comment}
    if request.headers.get("sec-fetch-site") == "cross-site":
        session.rollback()
        return _refused(request, Forbidden("请从通知里的链接打开本页，再在本页提交"))
    if not nonce_ok(token, form_nonce_):
        session.rollback()
        stale = {"form": "页面已过期或不是从本平台打开的，请确认内容后再次提交"}
        return _form(request, view, token, values=values, errors=stale, status_code=403)
    auth._limit_actions(None, request)
    errors: dict[str, str] = {}
    given = _read(view.action, accept, note, score, comment, errors)
    if errors:
        session.rollback()
        return _form(request, view, token, values=values, errors=errors, status_code=422)
    try:
        done = perform(session, token, given)
    except Invalid as exc:
        session.rollback()
        field = exc.field if exc.field in values else "form"
        return _form(
            request, view, token, values=values, errors={field: exc.message}, status_code=422
        )
    except DomainError as exc:
        session.rollback()
        return _refused(request, exc)
    commit(session)
    return page(request, "act_done.html", title=done.label, link=view, message=done.message)
