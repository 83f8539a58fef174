"""Deadline arithmetic: working days in Asia/Shanghai, stored as UTC instants."""

from __future__ import annotations

import datetime as dt

from config.settings import get_settings
from config.workdays import add_working_days


def local_today(now: dt.datetime) -> dt.date:
    return now.astimezone(get_settings().tz).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """A deadline on a date means the whole date, local time."""
    local = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=get_settings().tz)
    return local.astimezone(dt.UTC)


def morning_of(day: dt.date) -> dt.datetime:
    """Reminders go out at 09:00 local, not at midnight."""
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=get_settings().tz).astimezone(dt.UTC)


def working_days_after(now: dt.datetime, days: int) -> tuple[dt.datetime, bool]:
    """(deadline at end of the N-th working day after today, provisional?)."""
    result = add_working_days(local_today(now), days)
    return end_of_day(result.day), result.provisional


def step_due_at(deadline: dt.datetime, offset_working_days: int) -> tuple[dt.datetime, bool]:
    """When a rung of the ladder fires: 09:00 on the working day `offset` from the deadline."""
    day = local_today(deadline)
    if offset_working_days == 0:
        return morning_of(day), False
    result = add_working_days(day, offset_working_days)
    return morning_of(result.day), result.provisional


def format_local(when: dt.datetime) -> str:
    return when.astimezone(get_settings().tz).strftime("%Y年%m月%d日 %H:%M")
