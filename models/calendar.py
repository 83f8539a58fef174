"""The working-day calendar as the database knows it: loaded schedules seen by every process.

The API and each Prefect runner process share only the database, so a schedule loaded in one
of them must reach the others. Each load writes a new version token to app_meta; a process
checks that one row (once per transaction) and rebuilds its calendar only when the token moved.
Tokens are unique (counter plus random part), so a load rolled back never aliases a later one.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict

from sqlalchemy import event
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, select

from config.workdays import Overrides, WorkCalendar
from models.tables import AppMeta, HolidaySchedule

VERSION_KEY = "calendar_version"
_SESSION_KEY = "xs_work_calendar"
_CACHE_SIZE = 8

_cache: OrderedDict[str, WorkCalendar] = OrderedDict()
_lock = threading.Lock()
_EMPTY = WorkCalendar()


def schedule_version(session: Session) -> str | None:
    """The current token, read from the database (a column select bypasses the identity map)."""
    return session.exec(select(AppMeta.value).where(AppMeta.key == VERSION_KEY)).first()


def bump_version(session: Session) -> str:
    """Give the loaded schedules a new token in the caller's transaction."""
    row = session.get(AppMeta, VERSION_KEY, with_for_update=True)
    counter = int(row.value.split(":", 1)[0]) + 1 if row else 1
    token = f"{counter}:{uuid.uuid4().hex[:12]}"
    if row is None:
        session.add(AppMeta(key=VERSION_KEY, value=token))
    else:
        row.value = token
    session.flush()
    forget(session)
    return token


def _load(session: Session) -> WorkCalendar:
    rows = session.exec(
        select(  # type: ignore[call-overload]
            HolidaySchedule.year, HolidaySchedule.day, HolidaySchedule.working, HolidaySchedule.name
        )
    ).all()
    return WorkCalendar(Overrides.from_rows(rows))


def calendar_for(session: Session) -> WorkCalendar:
    """The calendar to count on: package data and rules, overridden by loaded schedules."""
    cached = session.info.get(_SESSION_KEY)
    if cached is not None:
        return cached
    token = schedule_version(session)
    if token is None:
        calendar = _EMPTY
    else:
        with _lock:
            calendar = _cache.get(token)  # type: ignore[assignment]
            if calendar is not None:
                _cache.move_to_end(token)
        if calendar is None:
            calendar = _load(session)
            with _lock:
                _cache[token] = calendar
                while len(_cache) > _CACHE_SIZE:
                    _cache.popitem(last=False)
    session.info[_SESSION_KEY] = calendar
    return calendar


def forget(session: Session) -> None:
    """Drop the session's calendar so the next count re-checks the version."""
    session.info.pop(_SESSION_KEY, None)


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_at_transaction_end(session: OrmSession, _transaction: object) -> None:
    # A new transaction may see a schedule another process committed meanwhile.
    session.info.pop(_SESSION_KEY, None)
