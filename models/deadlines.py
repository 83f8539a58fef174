"""Deadline arithmetic: working days in Asia/Shanghai, stored as UTC instants."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlmodel import Session

from config.settings import get_settings
from config.workdays import WorkCalendar
from models.calendar import calendar_for


@dataclass(frozen=True)
class Deadline:
    """A deadline and how it was counted, so it can be counted again on a newer calendar."""

    at: dt.datetime
    provisional: bool
    counted_from: dt.date | None = None  # local date the working days were counted after
    working_days: int | None = None


def local_today(now: dt.datetime) -> dt.date:
    return now.astimezone(get_settings().tz).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """A deadline on a date means the whole date, local time."""
    local = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=get_settings().tz)
    return local.astimezone(dt.UTC)


def morning_of(day: dt.date) -> dt.datetime:
    """Reminders go out at 09:00 local, not at midnight."""
    return dt.datetime.combine(day, dt.time(9, 0), tzinfo=get_settings().tz).astimezone(dt.UTC)


def count_working_days(calendar: WorkCalendar, counted_from: dt.date, days: int) -> Deadline:
    """End of the N-th working day after `counted_from` on the given calendar."""
    result = calendar.add_working_days(counted_from, days)
    return Deadline(end_of_day(result.day), result.provisional, counted_from, days)


def working_days_after(session: Session, now: dt.datetime, days: int) -> Deadline:
    """Deadline at the end of the N-th working day after today (local)."""
    return count_working_days(calendar_for(session), local_today(now), days)


def rung_due_at(
    calendar: WorkCalendar, deadline: dt.datetime, offset_working_days: int
) -> tuple[dt.datetime, bool]:
    """When a rung of the ladder fires: 09:00 on the working day `offset` from the deadline."""
    day = local_today(deadline)
    if offset_working_days == 0:
        return morning_of(day), False
    result = calendar.add_working_days(day, offset_working_days)
    return morning_of(result.day), result.provisional


def step_due_at(
    session: Session, deadline: dt.datetime, offset_working_days: int
) -> tuple[dt.datetime, bool]:
    """`rung_due_at` on the database's current calendar."""
    return rung_due_at(calendar_for(session), deadline, offset_working_days)


def format_local(when: dt.datetime) -> str:
    return when.astimezone(get_settings().tz).strftime("%Y年%m月%d日 %H:%M")


def time_left(calendar: WorkCalendar, today: dt.date, due: dt.datetime) -> str:
    """'还剩 2 个工作日' / '今天到期' / '已超期 3 个工作日', counted on the working-day calendar;
    messages print the deadline's date beside it."""
    return WorkdayCounter(calendar, today).time_left(due)


class WorkdayCounter:
    """Working days from one `today` to many dates (a digest's lines): each calendar day is
    looked at once, however many deadlines fall on or beyond it."""

    def __init__(self, calendar: WorkCalendar, today: dt.date) -> None:
        self.calendar = calendar
        self.today = today
        self._ahead = [0]  # working days in (today, today + i]
        self._back = [0]  # working days in (today - i, today]

    def between(self, day: dt.date) -> int:
        """`WorkCalendar.working_days_between(today, day)`."""
        span = (day - self.today).days
        counts = self._ahead if span >= 0 else self._back
        while len(counts) <= abs(span):
            i = len(counts)
            current = self.today + dt.timedelta(days=i if span >= 0 else 1 - i)
            counts.append(counts[-1] + self.calendar.is_working_day(current)[0])
        return counts[abs(span)] if span >= 0 else -counts[-span]

    def time_left(self, due: dt.datetime) -> str:
        day = local_today(due)
        if day == self.today:
            return "今天到期"
        n = self.between(day)
        if day > self.today:
            return f"还剩 {n} 个工作日" if n else "还剩不足 1 个工作日"
        return f"已超期 {-n} 个工作日" if n else "已过期限（其后尚无工作日）"
