"""群众出题 online: a resident proposes a topic without an account, and follows it on its
public page.

The page explains the screening rules first (from models.screening's declarations, the only
copy): what is not taken, and that the office decides, not the proposer's ticks. The form asks
for nothing personal. A post is checked like every page form (errors beside the fields, what was
typed kept), limited per address (per person when signed in) like the API's POST /topics, and
answered with the topic's number and the link to follow it.

Cross-site posts: the page has no session to bind a CSRF token to, so, like a one-time link's
page (api/pages/act.py), the form carries a nonce this server signed when it rendered the form,
and a browser's post marked `Sec-Fetch-Site: cross-site` is refused. A signed-in visitor's post
carries his session's CSRF token as well (checked by `Visitor`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from sqlmodel import Session

from api import auth
from api.deps import PathId, ReadSessionDep, SessionDep
from api.pages.act import form_nonce, nonce_ok
from api.pages.forms import submit
from api.pages.render import PageRoute, page
from api.pages.routes import Visitor
from config.links import PROPOSE_PAGE, PUBLIC_TOPIC_PAGE
from models import public, screening
from models import topic as topics
from models.enums import SOURCE_LABELS, ScreeningRule, TopicSource
from models.errors import TooManyRequests
from models.tables import Person, Topic

router = APIRouter(route_class=PageRoute, include_in_schema=False)
# The channel of a resident's own proposal (DOMAIN.md: residents propose, 群众出题).
SOURCE = TopicSource.PUBLIC
RECEIVED_PAGE = PROPOSE_PAGE + "/{topic_id}/received"
NONCE_SUBJECT = "page:propose"  # what the form's nonce is bound to (a link token is longer)
LABELS = {"title": "议题名称", "description": "具体情况", "category": "类别"}
Text = Annotated[str, Form(max_length=25000)]


def _form(
    request: Request,
    person: Person | None,
    *,
    values: dict[str, str] | None = None,
    claims: list[str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    return page(
        request,
        "propose.html",
        person=person,
        status_code=status_code,
        title="提出议题建议",
        rules=list(screening.RULES.values()),
        source_label=SOURCE_LABELS[SOURCE],
        nonce=form_nonce(NONCE_SUBJECT),
        values=values or {},
        claims=set(claims or ()),
        errors=errors or {},
    )


@router.get(PROPOSE_PAGE)
def propose_page(request: Request, visitor: Visitor) -> Response:
    """The rules first, then the form; no account needed."""
    return _form(request, visitor)


@router.post(PROPOSE_PAGE)
def propose(
    request: Request,
    session: SessionDep,
    visitor: Visitor,
    title: Text = "",
    description: Text = "",
    category: Text = "",
    claims: Annotated[list[str] | None, Form()] = None,
    nonce: Annotated[str, Form(alias="form_nonce", max_length=200)] = "",
) -> Response:
    """Record the proposal (群众出题) in one transaction and show its number; a refusal
    writes nothing and shows the form again with what was typed."""
    values = {"title": title, "description": description, "category": category}
    ticked = [c for c in claims or () if c in {r.value for r in ScreeningRule}]

    def again(errors: dict[str, str], status: int) -> Response:
        return _form(
            request, visitor, values=values, claims=ticked, errors=errors, status_code=status
        )

    if request.headers.get("sec-fetch-site") == "cross-site" or not nonce_ok(NONCE_SUBJECT, nonce):
        session.rollback()
        return again({"form": "页面已过期或不是从本平台打开的，请确认内容后再次提交"}, 403)
    try:
        auth._limit_actions(visitor, request)
    except TooManyRequests as exc:
        session.rollback()
        refused = again({"form": f"{exc.message}（您填写的内容已保留）"}, 429)
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused

    def read(errors: dict[str, str]) -> topics.TopicCreate:
        return topics.TopicCreate(
            title=title,
            description=description,
            category=category,
            source=SOURCE,
            **screening.claims(ScreeningRule(c) for c in ticked),
        )

    return submit(
        session,
        values=values,
        labels=LABELS,
        read=read,
        run=lambda data: _create(session, data, visitor),
        done_url=lambda made: RECEIVED_PAGE.format(topic_id=made.id),
        done="已收到您的议题建议",
        again=again,
    )


def _create(session: Session, data: topics.TopicCreate, visitor: Person | None) -> Topic:
    return topics.create_topic(session, data, by=visitor.id if visitor else None)


@router.get(RECEIVED_PAGE)
def received_page(
    request: Request, session: ReadSessionDep, visitor: Visitor, topic_id: PathId
) -> Response:
    """The proposal's number and where to follow it."""
    found = public.public_page(session, topic_id)
    session.commit()
    return page(
        request,
        "propose_received.html",
        person=visitor,
        title="议题建议已收到",
        proposal=found,
        follow_url=PUBLIC_TOPIC_PAGE.format(topic_id=topic_id),
    )
