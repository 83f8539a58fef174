"""The pages' routes: sign-in, sign-out, my work (我的待办) and a topic's public progress.

Thin like every route: read the person from the session cookie, call one models function,
render. Nothing here appears in the OpenAPI (the API's schema describes the API only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api import auth
from api.deps import PathId, ReadSessionDep, SessionDep
from api.pages.render import HOME, SIGN_IN, PageRoute, flash, local_path, page
from models import public, work
from models.errors import DomainError, NotSignedIn
from models.tables import Person

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def signed_in_or_not(
    request: Request,
    session: SessionDep,
    form_token: Annotated[str | None, Depends(auth.form_csrf_token)] = None,
) -> Person | None:
    """The visitor, or None: an expired or revoked session reads as none (the sign-in page
    and the public pages must not send anyone round in circles); a bad CSRF token still
    refuses."""
    try:
        person = auth.page_person(request, session, form_token)
    except NotSignedIn:
        session.rollback()
        person = None
    request.state.person = person
    return person


def signed_in(person: Annotated[Person | None, Depends(signed_in_or_not)]) -> Person:
    """A page for people with an account: without a session, sign in and come back."""
    if person is None:
        raise NotSignedIn("请先登录")
    return person


Visitor = Annotated[Person | None, Depends(signed_in_or_not)]
Reader = Annotated[Person, Depends(signed_in)]
PageNumber = Annotated[int, Query(ge=1, le=100_000, alias="page")]


@router.get("/")
def home(visitor: Visitor) -> RedirectResponse:
    return RedirectResponse(HOME if visitor else SIGN_IN, status_code=303)


@router.get(SIGN_IN)
def sign_in_form(request: Request, visitor: Visitor, next: str | None = None) -> Response:
    if visitor is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return page(request, "login.html", title="登录", next=local_path(next), login="", error=None)


@router.post(SIGN_IN)
def sign_in(
    request: Request,
    session: SessionDep,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=2000)] = HOME,
) -> Response:
    """Check the password and start the session; a refusal shows beside the form, which keeps
    the login typed (never the password)."""
    target = local_path(next)
    errors: dict[str, str] = {}
    if not login.strip():
        errors["login"] = "请填写登录名"
    if not password:
        errors["password"] = "请填写密码"
    if not errors:
        try:
            person = auth.authenticate(request, session, login.strip(), password)
        except DomainError as exc:
            errors["form"] = exc.message
        else:
            response = RedirectResponse(target, status_code=303)
            auth.start_session(response, person)
            return response
    return page(
        request,
        "login.html",
        title="登录",
        status_code=401 if "form" in errors else 422,
        next=target,
        login=login,
        errors=errors,
    )


@router.post("/logout")
def sign_out(request: Request, person: Reader) -> Response:
    """Sign out (a form post carrying the CSRF token, so no other site can sign one out)."""
    response = RedirectResponse(SIGN_IN, status_code=303)
    auth.end_session(response)
    flash(response, "您已安全退出")
    return response


@router.get(HOME)
def my_work(
    request: Request, session: ReadSessionDep, person: Reader, page_no: PageNumber = 1
) -> Response:
    """What the person owes, most urgent first."""
    found = work.my_work(session, person, page=page_no)
    session.commit()
    return page(request, "work.html", person=person, title="我的待办", work=found)


@router.get("/p/topics/{topic_id}")
def public_topic(
    request: Request,
    session: ReadSessionDep,
    visitor: Visitor,
    topic_id: PathId,
    page_no: PageNumber = 1,
) -> Response:
    """A topic's progress for anyone, without an account and without personal data (its items
    a page at a time); a proposal not yet approved (or turned away) shows where it stands."""
    found = public.public_page(session, topic_id, page=page_no)
    session.commit()
    if isinstance(found, public.PublicProposal):
        title = f"议题建议第 {found.id} 号"
        return page(request, "proposal_public.html", person=visitor, title=title, proposal=found)
    return page(request, "topic_public.html", person=visitor, title=found.title, topic=found)
