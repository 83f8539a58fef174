"""One-time action links: see what a link does, act through it without an account, and (for
the office) list and revoke them.

`/act/{token}` is both the link a person opens in a browser and an API address: a request that
asks for a page (a browser's GET, which accepts text/html, or a form post) is left to the page
(api/pages/act.py); a request that asks for JSON (an API client: Accept application/json or
*/*, a JSON body or none) is answered here. Both perform the action with `perform`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from fastapi.routing import APIRoute
from pydantic import BaseModel, StrictBool, ValidationError
from sqlmodel import Session
from starlette.routing import Match
from starlette.types import Scope

from api.auth import Office, PublicCaller
from api.deps import PathId, SessionDep, commit
from api.errors import ErrorOut
from models import action_links, assessment, rectification, subject
from models.case import get
from models.errors import Forbidden, Invalid
from models.tables import ActionLink, Participant

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def wants_page(scope: Scope) -> bool:
    """A browser's request for the link's page: a GET that accepts HTML and does not ask for
    JSON, or a form post. Everything else is the JSON API's."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    if scope.get("method") in ("GET", "HEAD"):
        accept = headers.get("accept", "").lower()
        return "text/html" in accept and "application/json" not in accept
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type in FORM_TYPES


class JsonRoute(APIRoute):
    """A route of the JSON API at an address a browser opens too: it steps aside for a page
    request, which the page's route (registered after it) then answers."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and wants_page(scope):
            return Match.NONE, {}
        return super().matches(scope)


router = APIRouter(
    tags=["links"],
    responses={410: {"model": ErrorOut, "description": "链接已过期或已被撤销"}},
)

Token = Annotated[str, Path(min_length=20, max_length=1000, description="通知里的一次性链接令牌")]


class LinkActionIn(BaseModel):
    """What the action needs: nothing to sign for an item; `accept` (and a note) to reply to an
    invitation; `score` (and a comment) to rate."""

    accept: StrictBool | None = None
    note: str | None = None
    score: int | None = None
    comment: str | None = None


class LinkDone(BaseModel):
    action: str
    label: str
    subject_id: int
    message: str


def read_link(token: Token, session: SessionDep) -> action_links.LinkView:
    """What the link does, for whom, until when; reading it does not use it."""
    return action_links.view(session, token)


def _payload(model: type[BaseModel], data: dict[str, Any], fields: tuple[str, ...]) -> Any:
    try:
        return model.model_validate({k: data[k] for k in fields if data.get(k) is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise Invalid(f"{field}：{first.get('msg', '取值不合法')}", field=field) from None


def perform(session: Session, token: str, given: LinkActionIn) -> LinkDone:
    """Use the link once and do its action as its person, in the caller's transaction (the
    caller commits; a refusal rolls back both, and the link stays usable)."""
    link = action_links.redeem(session, token)
    data = given.model_dump()
    by = link.person_id
    if link.action == "item.acknowledge":
        rectification.acknowledge(session, link.subject_id, by=by)
        message = "已签收，请于期限内报送整改方案"
    elif link.action == "participant.rsvp":
        participant = get(session, Participant, link.subject_id)
        if participant.person_id != by:
            raise Forbidden("该链接不属于此邀请的受邀人")
        if data.get("accept") is None:
            raise Invalid("请说明是否参加（accept 为 true 或 false）", field="accept")
        subject.reply(session, link.subject_id, _payload(subject.RsvpIn, data, ("accept", "note")))
        message = "已回复邀请" if data["accept"] else "已回复：不参加"
    else:
        if data.get("score") is None:
            raise Invalid("请给出 1–5 分的评价", field="score")
        rating = _payload(assessment.RatingIn, data, ("score", "comment"))
        assessment.rate(session, link.subject_id, rating, by=by)
        message = "已收到您的评价，谢谢"
    return LinkDone(
        action=link.action,
        label=action_links.ACTIONS[link.action].label,
        subject_id=link.subject_id,
        message=message,
    )


def use_link(
    token: Token,
    session: SessionDep,
    _: PublicCaller,
    data: Annotated[LinkActionIn | None, Body()] = None,
) -> LinkDone:
    """Act through the link, once: the action is the person's, as if he had signed in."""
    done = perform(session, token, data or LinkActionIn())
    commit(session)
    return done


# The JSON answers at the link's own address (a page request passes them by: JsonRoute).
router.add_api_route(
    "/act/{token}",
    read_link,
    methods=["GET"],
    response_model=action_links.LinkView,
    route_class_override=JsonRoute,
)
router.add_api_route(
    "/act/{token}",
    use_link,
    methods=["POST"],
    response_model=LinkDone,
    route_class_override=JsonRoute,
)


class LinkPublic(BaseModel):
    id: int
    person_id: int
    action: str
    subject_id: int
    created_at: Any
    expires_at: Any
    used_at: Any
    revoked_at: Any


@router.post("/action-links/{link_id}/revoke", response_model=LinkPublic)
def revoke_link(link_id: PathId, session: SessionDep, _: Office) -> ActionLink:
    """The office revokes a link (sent to the wrong person, or forwarded): it never works."""
    link = action_links.revoke(session, link_id)
    commit(session, link)
    return link
