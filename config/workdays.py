"""Working-day arithmetic on the Chinese official calendar (holidays and 调休 working weekends)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import chinese_calendar


@dataclass(frozen=True)
class WorkdayResult:
    """A computed date, and whether it rests on a year whose official schedule is not known."""

    day: dt.date
    provisional: bool


def is_working_day(day: dt.date) -> tuple[bool, bool]:
    """(working?, provisional?) — outside the package's years, weekends only, marked provisional."""
    try:
        return chinese_calendar.is_workday(day), False
    except NotImplementedError:
        return day.weekday() < 5, True


def add_working_days(start: dt.date, days: int) -> WorkdayResult:
    """The date `days` working days after `start` (start itself not counted)."""
    step = 1 if days >= 0 else -1
    remaining = abs(days)
    current = start
    provisional = False
    while remaining:
        current += dt.timedelta(days=step)
        working, unsure = is_working_day(current)
        provisional = provisional or unsure
        if working:
            remaining -= 1
    return WorkdayResult(current, provisional)
