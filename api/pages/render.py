"""How pages answer: one Jinja2 environment, the layout's context (who is signed in, the nav of
his role, the CSRF token of his forms, a flash message), and errors as pages a person reads.

The JSON API keeps its own error answers (api/errors.py); only routes of the pages router
(`PageRoute`) turn a refusal into HTML: 401 goes to sign-in and comes back, 403 says who may
do it, 404 and 409 explain themselves."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from api import auth
from models.access import ACTION_LABELS, POLICY, Can
from models.case import ROLE_NAMES
from models.enums import Role
from models.errors import Conflict, DomainError, Forbidden, NotFound, NotSignedIn
from models.tables import Person

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
SIGN_IN = "/login"
HOME = "/work"
FLASH_COOKIE = "xs_flash"


@dataclass(frozen=True)
class NavEntry:
    label: str
    path: str
    roles: frozenset[Role]


# The pages' navigation, by role: a new page for some roles is one line here.
NAV: tuple[NavEntry, ...] = (
    NavEntry("我的待办", HOME, frozenset(Role)),
    NavEntry("本单位事项", "/work/items", frozenset({Role.OFFICER, Role.DEPARTMENT_HEAD})),
    NavEntry("待审定", "/approvals", POLICY[Can.DECIDE]),
    NavEntry("议题总览", "/admin", POLICY[Can.RUN_LOOP]),
    NavEntry("未送达通知", "/admin/notifications", POLICY[Can.HANDLE_NOTIFICATIONS]),
    NavEntry("指标看板", "/admin/kpis", POLICY[Can.OVERSEE]),
    NavEntry("工作日日历", "/admin/calendar", POLICY[Can.RUN_LOOP]),
    NavEntry("调度与通报", "/admin/bulletins", POLICY[Can.RUN_LOOP]),
    NavEntry("我参与的议题", "/my/topics", frozenset({Role.MEMBER, Role.EXPERT, Role.RESIDENT})),
    NavEntry("我的评估", "/my/evaluations", POLICY[Can.SCORE]),
)


def nav_for(person: Person | None) -> list[NavEntry]:
    if person is None:
        return []
    return [entry for entry in NAV if Role(person.role) in entry.roles]


def who_may(can: Can) -> str:
    """'协商办工作人员、审定人': the roles that hold a capability, as a person reads them."""
    return "、".join(ROLE_NAMES[role] for role in Role if role in POLICY[can])


class PageForbidden(Forbidden):
    """A page refused to this person's role, naming who may do it."""

    def __init__(self, person: Person, can: Can) -> None:
        super().__init__(
            f"您的角色（{ROLE_NAMES[Role(person.role)]}）无权{ACTION_LABELS[can]}；"
            f"可办理的是：{who_may(can)}"
        )


def require(person: Person, can: Can) -> Person:
    """Function-level access for a page: 403 naming who may do it."""
    if Role(person.role) not in POLICY[can]:
        raise PageForbidden(person, can)
    return person


def local_path(target: str | None) -> str:
    """A `next` address only if it stays on this site (a path, not //host or a scheme)."""
    if not target:
        return HOME
    decoded = unquote(target)
    if (
        not target.startswith("/")
        or target.startswith("//")
        or decoded.startswith("//")
        or "\\" in decoded
        or any(ord(c) < 32 for c in decoded)
    ):
        return HOME
    return target


def sign_in_address(request: Request) -> str:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{SIGN_IN}?{urlencode({'next': here})}"


def flash(response: Response, message: str) -> None:
    """A message the next page shows once (after a redirect)."""
    response.set_cookie(FLASH_COOKIE, quote(message), max_age=60, httponly=True, samesite="lax")


def page(
    request: Request,
    name: str,
    *,
    person: Person | None = None,
    status_code: int = 200,
    title: str = "",
    **context: Any,
) -> HTMLResponse:
    """Render a page in the layout; the flash message of the previous answer is shown once."""
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    message = request.cookies.get(FLASH_COOKIE)
    response = templates.TemplateResponse(
        request,
        name,
        {
            "person": person,
            "role_name": ROLE_NAMES[Role(person.role)] if person else None,
            "nav": nav_for(person),
            "csrf_token": auth.csrf_for(cookie) if person and cookie else "",
            "flash": unquote(message) if message else None,
            "title": title,
            **context,
        },
        status_code=status_code,
    )
    if message:
        response.delete_cookie(FLASH_COOKIE)
    return response


ERROR_TITLES = {
    403: "无权办理",
    404: "未找到",
    409: "当前无法办理",
    422: "输入有误",
    429: "操作过于频繁",
}


def error_page(request: Request, exc: DomainError, person: Person | None = None) -> Response:
    if isinstance(exc, NotSignedIn):
        return RedirectResponse(sign_in_address(request), status_code=303)
    status = exc.status_code
    if isinstance(exc, Conflict):
        status = 409
    headers = {"Retry-After": str(getattr(exc, "retry_after", 60))} if status == 429 else None
    response = page(
        request,
        "error.html",
        person=person,
        status_code=status,
        title=ERROR_TITLES.get(status, "无法办理"),
        message=exc.message,
    )
    if headers:
        response.headers.update(headers)
    return response


class PageRoute(APIRoute):
    """A route of the pages: refusals and bad addresses render as pages, not JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except DomainError as exc:
                return error_page(request, exc, getattr(request.state, "person", None))
            except RequestValidationError:
                # A page address with a malformed id or parameter names nothing that exists.
                return error_page(request, NotFound("未找到该页面，请检查地址是否完整"))

        return handle
