"""One-time action links: see what a link does, act through it without an account, and (for
the office) list and revoke them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path
from pydantic import BaseModel, StrictBool, ValidationError

from api.auth import Office, PublicCaller
from api.deps import PathId, SessionDep, commit
from api.errors import ErrorOut
from models import action_links, assessment, rectification, subject
from models.case import get
from models.errors import Forbidden, Invalid
from models.tables import ActionLink, Participant

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


@router.get("/act/{token}", response_model=action_links.LinkView)
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


@router.post("/act/{token}", response_model=LinkDone)
def use_link(
    token: Token,
    session: SessionDep,
    _: PublicCaller,
    data: Annotated[LinkActionIn | None, Body()] = None,
) -> LinkDone:
    """Act through the link, once: the action is the person's, as if he had signed in."""
    link = action_links.redeem(session, token)
    given = (data or LinkActionIn()).model_dump()
    by = link.person_id
    if link.action == "item.acknowledge":
        rectification.acknowledge(session, link.subject_id, by=by)
        message = "已签收，请于期限内报送整改方案"
    elif link.action == "participant.rsvp":
        participant = get(session, Participant, link.subject_id)
        if participant.person_id != by:
            raise Forbidden("该链接不属于此邀请的受邀人")
        if given.get("accept") is None:
            raise Invalid("请说明是否参加（accept 为 true 或 false）", field="accept")
        subject.reply(session, link.subject_id, _payload(subject.RsvpIn, given, ("accept", "note")))
        message = "已回复邀请" if given["accept"] else "已回复：不参加"
    else:
        if given.get("score") is None:
            raise Invalid("请给出 1–5 分的评价", field="score")
        rating = _payload(assessment.RatingIn, given, ("score", "comment"))
        assessment.rate(session, link.subject_id, rating, by=by)
        message = "已收到您的评价，谢谢"
    commit(session)
    return LinkDone(
        action=link.action,
        label=action_links.ACTIONS[link.action].label,
        subject_id=link.subject_id,
        message=message,
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
