"""Request dependencies: one database session per request; the route commits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import Depends, Path, Query
from pydantic import BeforeValidator
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from api.launcher import request_delivery
from config.db import database_unavailable, get_engine, session_scope
from models.base import MAX_ID
from models.case import OUTBOX_QUEUED
from models.schedule import MAX_YEAR, MIN_YEAR


def get_session() -> Iterator[Session]:
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
        finally:
            try:
                session.rollback()  # anything not committed by the route is dropped
            except DBAPIError as exc:  # the connection died: there is nothing left to undo
                if not database_unavailable(exc):
                    raise


SessionDep = Annotated[Session, Depends(get_session)]


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
    the action queued go out seconds later (a delivery run), not at the next sweep."""
    queued = session.info.pop(OUTBOX_QUEUED, False)
    session.commit()
    if queued:
        request_delivery()
    for row in rows:
        session.refresh(row)
