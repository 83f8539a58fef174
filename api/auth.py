"""Who a request acts as: a bearer token (OAuth2 password flow), a session cookie (pages, with a
CSRF token for writes) or an API key (machine clients). Routes ask for a capability
(`models.access.Can`); the acting person always comes from here, never from a request body."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Request, Response, Security
from fastapi.security import APIKeyHeader, OAuth2PasswordBearer, OAuth2PasswordRequestForm
from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from pydantic import BaseModel
from sqlmodel import Session

from api.deps import SessionDep, UnitOfWorkDep
from config.settings import get_settings
from models import accounts, people
from models.access import Can, check
from models.errors import Forbidden, NotSignedIn, TooManyRequests
from models.tables import Person

SESSION_COOKIE = "xs_session"
CSRF_COOKIE = "xs_csrf"
CSRF_HEADER = "X-CSRF-Token"
# The same token as a hidden field of a page's plain form post (a form cannot set headers).
CSRF_FIELD = "csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALGORITHM = "HS256"

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)
api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="机器客户端的密钥")


def _key(purpose: str) -> bytes:
    return get_settings().derived_key(purpose)


def issue_token(person: Person, *, now: dt.datetime | None = None) -> tuple[str, int]:
    """A signed, short-lived token naming the person; (token, seconds it lasts)."""
    now = now or dt.datetime.now(dt.UTC)
    lifetime = get_settings().token_minutes * 60
    claims = {
        "sub": str(person.id),
        # To the microsecond: a token issued just before a password change or "sign out
        # everywhere" is told apart from one issued just after.
        "iat": now.timestamp(),
        "exp": int(now.timestamp()) + lifetime,
        "typ": "access",
    }
    return jwt.encode(claims, _key("token"), algorithm=ALGORITHM), lifetime


def csrf_for(token: str) -> str:
    """The CSRF token that goes with a session cookie: only pages of this site can read it."""
    return hmac.new(_key("csrf"), token.encode(), hashlib.sha256).hexdigest()[:40]


def csrf_matches(session_token: str, sent: str | None) -> bool:
    """Constant-time: does the CSRF token sent belong to this session cookie?"""
    return hmac.compare_digest((sent or "").encode(), csrf_for(session_token).encode())


def _person_for_token(session: Session, token: str) -> Person:
    try:
        claims = jwt.decode(
            token,
            _key("token"),
            algorithms=[ALGORITHM],
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise NotSignedIn("登录已过期，请重新登录") from exc
    except jwt.PyJWTError as exc:
        raise NotSignedIn("登录凭据无效，请重新登录") from exc
    if claims.get("typ") != "access" or not str(claims["sub"]).isdigit():
        raise NotSignedIn("登录凭据无效，请重新登录")
    person = session.get(Person, int(claims["sub"]))
    valid_from = accounts.tokens_valid_from(session, int(claims["sub"]))
    if person is None or valid_from is None or claims["iat"] < valid_from.timestamp():
        raise NotSignedIn("登录已失效（密码已修改或已退出登录），请重新登录")
    return person


def _resolve(
    request: Request,
    session: Session,
    bearer: str | None,
    api_key: str | None,
    form_token: str | None = None,
) -> Person | None:
    """The person the request's credentials name, or None when it carries none. Credentials
    that are present but wrong are refused, never treated as anonymous. A write made with the
    session cookie carries its CSRF token in the header or, from a page's form, `form_token`."""
    if api_key:
        person = accounts.person_for_key(session, api_key)
        if person is None:
            raise NotSignedIn("API 密钥无效或已吊销")
        return person
    if bearer:
        return _person_for_token(session, bearer)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        person = _person_for_token(session, cookie)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER) or form_token
            if not csrf_matches(cookie, sent):
                raise Forbidden("缺少或错误的 CSRF 令牌，请刷新页面后重试")
        return person
    return None


def optional_person(
    request: Request,
    session: SessionDep,
    bearer: Annotated[str | None, Depends(oauth2)] = None,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
) -> Person | None:
    """For routes that work in the request's session: the person is loaded in it, and the
    read ends at once, so no transaction (on SQLite: the write lock) is held while the request
    waits for the worker thread its route runs in."""
    person = _resolve(request, session, bearer, api_key)
    session.commit()
    return person


async def form_csrf_token(request: Request) -> str | None:
    """The hidden CSRF field of a page's form post (the body is parsed once; the route's own
    form fields read the same parse)."""
    if request.method in SAFE_METHODS:
        return None
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in FORM_TYPES:
        return None
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else None


def page_person(
    request: Request,
    session: SessionDep,
    form_token: Annotated[str | None, Depends(form_csrf_token)] = None,
) -> Person | None:
    """For pages: the person the session cookie names (or None); a form post must carry the
    cookie's CSRF token as its `csrf_token` field (or the header)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    person = _resolve(request, session, None, None, form_token) if cookie else None
    session.commit()
    return person


def optional_person_brief(
    request: Request,
    uow: UnitOfWorkDep,
    bearer: Annotated[str | None, Depends(oauth2)] = None,
    api_key: Annotated[str | None, Security(api_key_header)] = None,
) -> Person | None:
    """For async routes that call Prefect: the person is read in a unit of work of its own,
    closed before the route runs, so no transaction stays open across the call."""
    with uow() as session:
        return _resolve(request, session, bearer, api_key)


def _signed_in(request: Request, person: Person | None) -> Person:
    if person is None:
        raise NotSignedIn("请先登录")
    if request.method not in SAFE_METHODS:
        _limit_actions(person)
    return person


def current_person(
    request: Request, person: Annotated[Person | None, Depends(optional_person)]
) -> Person:
    return _signed_in(request, person)


def current_person_brief(
    request: Request, person: Annotated[Person | None, Depends(optional_person_brief)]
) -> Person:
    return _signed_in(request, person)


@lru_cache
def _limiter() -> MovingWindowRateLimiter:
    return MovingWindowRateLimiter(MemoryStorage())


def _limit_actions(person: Person | None, request: Request | None = None) -> None:
    """Writes (which cause notifications) per person and minute, in this API process; the
    public's per address."""
    rate = RateLimitItemPerMinute(get_settings().actions_per_minute)
    who = f"person-{person.id}" if person else f"ip-{_source(request)}"
    if not _limiter().hit(rate, "actions", who):
        raise TooManyRequests("操作过于频繁，请一分钟后再试", retry_after=60)


def _source(request: Request | None) -> str:
    return request.client.host if request is not None and request.client else "?"


def public_caller(
    request: Request, person: Annotated[Person | None, Depends(optional_person)]
) -> Person | None:
    """Anyone may call (propose a topic, use a one-time link), signed in or not: writes are
    limited per person, or per address for the public."""
    _limit_actions(person, request)
    return person


def _limit_sign_in(request: Request) -> None:
    rate = RateLimitItemPerMinute(get_settings().sign_in_per_minute)
    if not _limiter().hit(rate, "sign-in", _source(request)):
        raise TooManyRequests("登录尝试过于频繁，请一分钟后再试", retry_after=60)


def allow(can: Can, *, brief: bool = False) -> Callable[..., Person]:
    """A dependency: the acting person, if his role holds the capability (else 403);
    `brief` for async routes that call another service."""
    resolve = current_person_brief if brief else current_person

    def dependency(person: Person) -> Person:
        check(person, can)
        return person

    # Stated as a signature object: the module's postponed annotations could not name
    # `resolve`, a local of this function.
    dependency.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                "person",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=Annotated[Person, Depends(resolve)],
            )
        ],
        return_annotation=Person,
    )
    dependency.__name__ = f"allow_{can.value}{'_brief' if brief else ''}"
    return dependency


Actor = Annotated[Person, Depends(current_person)]
CaseReader = Annotated[Person, Depends(allow(Can.READ_CASE))]
PeopleReader = Annotated[Person, Depends(allow(Can.READ_PEOPLE))]
PeopleManager = Annotated[Person, Depends(allow(Can.MANAGE_PEOPLE))]
Office = Annotated[Person, Depends(allow(Can.RUN_LOOP))]
Approver = Annotated[Person, Depends(allow(Can.DECIDE))]
Replier = Annotated[Person, Depends(allow(Can.REPLY))]
ItemWorker = Annotated[Person, Depends(allow(Can.WORK_ITEM))]
PlanReviewer = Annotated[Person, Depends(allow(Can.REVIEW_PLAN))]
Rater = Annotated[Person, Depends(allow(Can.RATE))]
DeadlineSetter = Annotated[Person, Depends(allow(Can.EXTEND_DEADLINE))]
Rechecker = Annotated[Person, Depends(allow(Can.RECHECK))]
Overseer = Annotated[Person, Depends(allow(Can.OVERSEE))]
CalendarReader = Annotated[Person, Depends(allow(Can.READ_CALENDAR))]
BulletinReader = Annotated[Person, Depends(allow(Can.READ_BULLETINS))]
Postmaster = Annotated[Person, Depends(allow(Can.HANDLE_NOTIFICATIONS))]
Proposer = Annotated[Person | None, Depends(public_caller)]
PublicCaller = Proposer
# The same for async routes (stage starts, runs, recurring runs on demand).
OfficeBrief = Annotated[Person, Depends(allow(Can.RUN_LOOP, brief=True))]
OverseerBrief = Annotated[Person, Depends(allow(Can.OVERSEE, brief=True))]
CaseReaderBrief = Annotated[Person, Depends(allow(Can.READ_CASE, brief=True))]


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class SignedIn(BaseModel):
    person: people.PersonPublic
    csrf_token: str
    expires_in: int


router = APIRouter(prefix="/auth", tags=["auth"])


def _authenticate(request: Request, session: Session, login: str, password: str) -> Person:
    _limit_sign_in(request)
    try:
        person = accounts.authenticate(session, login, password)
    except accounts.SignInRefused:
        session.commit()  # the failure counts, and a lockout holds
        raise
    session.commit()
    return person


@router.post("/token", response_model=TokenOut)
def token(
    request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep
) -> TokenOut:
    """OAuth2 password flow: a bearer token for API clients."""
    person = _authenticate(request, session, form.username, form.password)
    value, lifetime = issue_token(person)
    return TokenOut(access_token=value, expires_in=lifetime)


def authenticate(request: Request, session: Session, login: str, password: str) -> Person:
    """Check a login and password (rate-limited, failures counted and committed)."""
    return _authenticate(request, session, login, password)


def start_session(response: Response, person: Person) -> tuple[str, int]:
    """Set the pages' session cookie (HttpOnly, SameSite=Lax) and its CSRF cookie on the
    answer; (the CSRF token, seconds the session lasts)."""
    value, lifetime = issue_token(person)
    csrf = csrf_for(value)
    secure = not get_settings().development
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=lifetime,
        httponly=True,
        secure=secure,
        samesite="lax",
        path="/",
    )
    response.set_cookie(CSRF_COOKIE, csrf, max_age=lifetime, secure=secure, samesite="strict")
    return csrf, lifetime


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE)


@router.post("/sign-in", response_model=SignedIn)
def sign_in(
    request: Request, data: accounts.SignInIn, session: SessionDep, response: Response
) -> SignedIn:
    """Sign in for the pages: an HttpOnly, SameSite session cookie, and the CSRF token that
    writes made with it must carry (header X-CSRF-Token)."""
    person = _authenticate(request, session, data.login, data.password)
    csrf, lifetime = start_session(response, person)
    return SignedIn(
        person=people.PersonPublic.model_validate(person, from_attributes=True),
        csrf_token=csrf,
        expires_in=lifetime,
    )


@router.post("/sign-out", status_code=204)
def sign_out(
    person: Actor, session: SessionDep, response: Response, everywhere: bool = False
) -> None:
    """Sign out: the cookie is cleared; with `everywhere`, every token issued so far stops
    being honoured."""
    if everywhere:
        accounts.sign_out_everywhere(session, person)
        session.commit()
    end_session(response)


@router.get("/me", response_model=people.PersonPublic)
def me(person: Actor) -> Any:
    """Who the credentials name."""
    return person
