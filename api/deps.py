"""Request dependencies: one database session per request; the route commits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from inspect import iscoroutinefunction
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request
from pydantic import BeforeValidator
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, SQLModel

from api.launcher import request_delivery
from config.db import database_unavailable, get_engine, read_only, session_scope
from models.base import MAX_ID
from models.case import OUTBOX_QUEUED
from models.errors import Invalid
from models.schedule import MAX_YEAR, MIN_YEAR
from models.tables import (
    ConsultationSession,
    Department,
    Participant,
    Person,
    Plan,
    RectificationItem,
    Report,
    ResearchTask,
    Topic,
)
from models.versions import ensure_version, stale_conflict


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
        except StaleDataError as exc:  # someone changed a row between our read and our write
            raise stale_conflict(session, exc) from None
        finally:
            try:
                session.rollback()  # anything not committed by the route is dropped
            except DBAPIError as exc:  # the connection died: there is nothing left to undo
                if not database_unavailable(exc):
                    raise


SessionDep = Annotated[Session, Depends(get_session)]


def get_read_session(session: SessionDep) -> Session:
    """The request's session, for a route that only reads: its transactions from here on begin
    without the write lock (config.db.read_only), so readers do not queue behind writers and
    each other. The same session serves the sign-in check, which reads too; a write in it is
    refused by the database. A session bound to one connection (tests) stays as it is."""
    if isinstance(session.bind, Engine):
        session.bind = read_only(session.bind)
    return session


ReadSessionDep = Annotated[Session, Depends(get_read_session)]


def get_unit_of_work() -> Callable[[], AbstractContextManager[Session]]:
    """For async routes that call another service: they open short units of work in worker
    threads around the call instead of holding one request-long transaction."""
    return session_scope


UnitOfWorkDep = Annotated[Callable[[], AbstractContextManager[Session]], Depends(get_unit_of_work)]
PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="记录编号")]
QueryId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="记录编号")]
Year = Annotated[int, Path(ge=MIN_YEAR, le=MAX_YEAR, description="年份")]
Limit = Annotated[int, Query(ge=1, le=500, description="每页条数")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="跳过的条数")]


_ISO_DATE = re.compile(r"\s*\d{4}-\d{2}-\d{2}")


def _iso_only(value: Any) -> Any:
    """A moment in a query is written as a date and time; pydantic would also read a bare
    number as seconds since 1970 (`as_of=0.5` was 1970-01-01), which the OpenAPI does not allow."""
    if isinstance(value, str) and not _ISO_DATE.match(value):
        raise ValueError("须为时间，格式 YYYY-MM-DDTHH:MM:SS+08:00")
    return value


AsOf = Annotated[
    dt.datetime | None,
    BeforeValidator(_iso_only),
    Query(description="统计截至的时刻（不带时区时按北京时间）；留空为现在"),
]


def paging(limit: Limit = 200, offset: Offset = 0) -> dict[str, int]:
    """`limit` and `offset` of a list a parent record owns (a topic's items, an item's plans)."""
    return {"limit": limit, "offset": offset}


PageDep = Annotated[dict[str, int], Depends(paging)]


def commit(session: Session, *rows: Any) -> None:
    """End the request's unit of work; refresh so the answer shows what was stored. Messages
    the action queued go out at once (the serving process's delivery flow), not at the next sweep."""
    queued = session.info.pop(OUTBOX_QUEUED, False)
    session.commit()
    if queued:
        request_delivery()
    for row in rows:
        session.refresh(row)
    if rows:
        # End the read too: while the answer is serialized (another worker thread) the request
        # holds no lock and no connection (SQLite takes its write lock at every BEGIN).
        session.commit()


# The record a write's path names, whose version `If-Match` speaks of.
VERSIONED_PATH_IDS: dict[str, type[SQLModel]] = {
    "topic_id": Topic,
    "participant_id": Participant,
    "task_id": ResearchTask,
    "session_id": ConsultationSession,
    "report_id": Report,
    "item_id": RectificationItem,
    "plan_id": Plan,
    "person_id": Person,
    "department_id": Department,
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


def accepted_versions(header: str) -> set[int] | None:
    """`If-Match: "3"`, `3`, `W/"3"`, a list of them, or `*` (None: any version)."""
    if header.strip() == "*":
        return None
    found = set()
    for part in header.split(","):
        match = _ETAG.match(part)
        if match is None:
            raise Invalid(
                '须为记录的版本号，如 "3"（取自记录的 version 或 ETag）', field="If-Match"
            )
        found.add(int(match.group(1)))
    return found


def if_match(request: Request, session: SessionDep, uow: UnitOfWorkDep) -> None:
    """A write sent with `If-Match` acts only on the version of the record its author saw (409
    naming the current version otherwise). Without the header the write proceeds; a race is
    still caught by the version column (409, never a lost update)."""
    header = request.headers.get("if-match")
    if header is None or request.method in SAFE_METHODS:
        return
    accepted = accepted_versions(header)
    for name, raw in request.path_params.items():
        model = VERSIONED_PATH_IDS.get(name)
        if model is None or not str(raw).isdigit() or not 1 <= int(raw) <= MAX_ID:
            continue
        if iscoroutinefunction(request.scope.get("endpoint")):
            # A route that calls another service holds no transaction: check in a short one
            # (the stage start it guards is idempotent anyway).
            with uow() as checking:
                ensure_version(checking, model, int(raw), accepted, lock=False)
        else:
            # The row stays locked until the route commits: nobody changes it in between.
            ensure_version(session, model, int(raw), accepted)
        return


IfMatch = Depends(if_match)
