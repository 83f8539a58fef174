"""How a page's form post acts, once for every page: read the form into what the operation
takes (a message beside each field it cannot read), call the operation in the request's
transaction and commit (its messages go out at once), then redirect with a one-time message;
a refusal rolls everything back and the page is shown again with the reason beside the field
and what was typed."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from fastapi import Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import commit
from api.errors import VALIDATION_MESSAGES
from api.pages.render import flash
from models.errors import DomainError

# Reads the form into what the operation takes (a request body, a file's bytes), putting a
# message beside each field it cannot read.
FormReader = Callable[[dict[str, str]], Any]
# Shows the page again with the form's errors, answering with the given status.
Again = Callable[[dict[str, str], int], Response]


def field_errors(exc: ValidationError, labels: Mapping[str, str]) -> dict[str, str]:
    """Pydantic's complaints as a person reads them, by form field (named by `labels`)."""
    found: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err.get("loc") else "form"
        kind = err.get("type", "")
        ctx = err.get("ctx") or {}
        label = labels.get(name, "此项")
        if kind == "string_too_short":
            text = f"请填写{label}（不少于 {ctx.get('min_length', 1)} 个字，首尾空白不计）"
        elif kind == "string_too_long":
            text = f"{label}不能超过 {ctx.get('max_length')} 个字"
        elif kind == "enum":
            text = f"请选择{label}"
        elif kind.startswith("date"):
            text = f"请填写{label}（日期）"
        elif kind == "value_error":
            text = str(err.get("msg", "")).removeprefix("Value error, ")
        else:
            text = VALIDATION_MESSAGES.get(kind, "取值不合法")
        found.setdefault(name, text)
    return found


def moved_on(errors: dict[str, str], form: str, open_forms: Collection[str]) -> dict[str, str]:
    """The errors to show when a refused form is no longer on the page (the record moved on
    meanwhile: another tab, a colleague decided first): the form is gone, its reason is not."""
    if form in open_forms:
        return errors
    return {"form": errors.get("form") or next(iter(errors.values()))}


def submit(
    session: Session,
    *,
    values: Mapping[str, str],
    labels: Mapping[str, str],
    read: FormReader,
    run: Callable[[Any], Any],
    done_url: str | Callable[[Any], str],
    done: str,
    again: Again,
) -> Response:
    """One form post: 303 to `done_url` (or the address it gives for what `run` made) with
    `done` shown once, or `again` with the errors (422 for input, 403 or 409 as the operation
    refused). A refusal of a field the form has (`values`) sits beside it; any other beside
    the form."""
    errors: dict[str, str] = {}
    data = None
    try:
        data = read(errors)
    except ValidationError as exc:
        errors = {**field_errors(exc, labels), **errors}
    status = 422
    if not errors:
        try:
            made = run(data)
        except DomainError as exc:
            session.rollback()
            errors[exc.field if exc.field and exc.field in values else "form"] = exc.message
            status = exc.status_code if exc.status_code in (403, 409) else 422
        else:
            commit(session)  # the page is read again after the redirect
            target = done_url(made) if callable(done_url) else done_url
            response = RedirectResponse(target, status_code=303)
            flash(response, done)
            return response
    return again(errors, status)
