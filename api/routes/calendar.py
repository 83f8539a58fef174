"""The working-day calendar: load a year's official schedule, see where a year's calendar comes
from, count working days, and list the deadlines still estimated (暂估)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth import CalendarReader, Office, Overseer
from api.deps import Limit, Offset, QueryId, ReadSessionDep, SessionDep, Year
from models import schedule
from models.case import Listing

router = APIRouter(prefix="/calendar", tags=["calendar"])


@router.get("/working-days", response_model=schedule.WorkingDaysOut)
def working_days(
    session: ReadSessionDep,
    _: CalendarReader,
    start: Annotated[dt.date, Query(description="起算日期（不计入），YYYY-MM-DD")],
    days: Annotated[int, Query(ge=-366, le=366, description="工作日数")],
) -> schedule.WorkingDaysOut:
    """The date N working days after `start`; provisional when counted on rule-estimated days."""
    return schedule.working_days_view(session, start, days)


@router.get("/deadlines", response_model=schedule.DeadlinesPublic)
def deadlines(
    session: ReadSessionDep,
    _: Overseer,
    topic_id: QueryId = None,
    provisional: bool = False,
    limit: Limit = 100,
    offset: Offset = 0,
) -> Listing[schedule.DeadlineOut]:
    """Open deadlines, one line each; `provisional=true` lists only the estimated ones."""
    return schedule.open_deadlines(
        session, topic_id=topic_id, provisional_only=provisional, limit=limit, offset=offset
    )


@router.get("/{year:int}", response_model=schedule.YearOut)
def read_year(year: Year, session: ReadSessionDep, _: CalendarReader) -> schedule.YearOut:
    """Where the year's calendar comes from (loaded / package / rule) and its special days."""
    return schedule.year_view(session, year)


@router.put("/{year:int}", response_model=schedule.LoadSummary)
def load_year(
    year: Year, data: schedule.ScheduleIn, session: SessionDep, actor: Office
) -> schedule.LoadSummary:
    """An administrator loads the official schedule; open deadlines are counted again.
    A body whose note marks it as an example is refused (422) unless `force` is true."""
    summary = schedule.load_schedule(
        session,
        year,
        holidays=list(data.holidays),
        workdays=list(data.workdays),
        by=actor.id,
        note=data.note,
        force=data.force,
    )
    session.commit()
    return summary
