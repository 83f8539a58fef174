"""Working-day arithmetic on the Chinese official calendar (holidays and 调休 working weekends).

Pure date arithmetic: the schedules an administrator loaded are handed in as data
(`Overrides`), so this module never touches the database. Per year the calendar resolves:

1. a schedule loaded by an administrator (the official notice, as data);
2. the official schedules shipped in `chinese_calendar` (2004–2026 in 1.11);
3. the statutory holidays by rule (`holidays.China`: 元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆 and
   the 补假 the law grants when one falls on a weekend), weekends off and no 调休 guessed.
   Deadlines counted over such a year are provisional (暂估) until the schedule is loaded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import chinese_calendar
from chinese_calendar import constants as cc_data


class Source(StrEnum):
    """Where the calendar of a year comes from, most authoritative first."""

    LOADED = "loaded"
    PACKAGE = "package"
    RULE = "rule"


SOURCE_LABELS: dict[Source, str] = {
    Source.LOADED: "管理员导入的官方放假安排",
    Source.PACKAGE: "chinese_calendar 内置的官方放假安排",
    Source.RULE: "按法定节假日规则暂估（官方放假安排尚未导入，未计调休）",
}

PACKAGE_NAMES: dict[str, str] = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}


@dataclass(frozen=True)
class LoadedDay:
    working: bool  # True: 调休上班; False: 放假
    name: str = ""


@dataclass(frozen=True)
class Overrides:
    """The official schedules an administrator loaded: whole years, listed days only."""

    years: frozenset[int] = frozenset()
    days: Mapping[dt.date, LoadedDay] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[int, dt.date, bool, str]]) -> Overrides:
        """Rows of (year, day, working, name) as stored in holiday_schedule."""
        years: set[int] = set()
        days: dict[dt.date, LoadedDay] = {}
        for year, day, working, name in rows:
            years.add(year)
            days[day] = LoadedDay(bool(working), name or "")
        return cls(frozenset(years), days)


@dataclass(frozen=True)
class DayInfo:
    day: dt.date
    working: bool
    source: Source
    name: str = ""

    @property
    def provisional(self) -> bool:
        return self.source is Source.RULE


@dataclass(frozen=True)
class WorkdayResult:
    """A computed date, and whether it rests on a year whose official schedule is not known."""

    day: dt.date
    provisional: bool


@dataclass(frozen=True)
class YearSchedule:
    """A year as the calendar sees it: holidays (放假) and adjusted working days (调休上班)."""

    year: int
    source: Source
    holidays: list[tuple[dt.date, str]]
    workdays: list[tuple[dt.date, str]]

    @property
    def provisional(self) -> bool:
        return self.source is Source.RULE


@lru_cache(maxsize=256)
def package_covers(year: int) -> bool:
    """chinese_calendar raises for years it has no official data for; ask it, not a constant."""
    try:
        chinese_calendar.is_workday(dt.date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=64)
def rule_holidays(year: int) -> Mapping[dt.date, str]:
    """Statutory holidays of a year by rule, in Chinese; the package's 调休 swaps left out.
    Imported here: only a year beyond the shipped schedules needs it, and every run is a fresh
    process that would otherwise pay for the package."""
    import holidays as holiday_rules

    days = holiday_rules.China(years=year, language="zh_CN")
    return {day: name for day, name in sorted(days.items()) if "调休" not in name}


class WorkCalendar:
    """The calendar every deadline is counted on; cheap to build, immutable once built."""

    def __init__(self, overrides: Overrides | None = None) -> None:
        self.overrides = overrides or Overrides()

    def source(self, year: int) -> Source:
        if year in self.overrides.years:
            return Source.LOADED
        if package_covers(year):
            return Source.PACKAGE
        return Source.RULE

    def info(self, day: dt.date) -> DayInfo:
        source = self.source(day.year)
        if source is Source.LOADED:
            loaded = self.overrides.days.get(day)
            if loaded is not None:
                return DayInfo(day, loaded.working, source, loaded.name)
            return DayInfo(day, day.weekday() < 5, source)
        if source is Source.PACKAGE:
            working = chinese_calendar.is_workday(day)
            _, name = chinese_calendar.get_holiday_detail(day)
            return DayInfo(day, working, source, PACKAGE_NAMES.get(name or "", name or ""))
        name = rule_holidays(day.year).get(day)
        if name is not None:
            return DayInfo(day, False, source, name)
        return DayInfo(day, day.weekday() < 5, source)

    def is_working_day(self, day: dt.date) -> tuple[bool, bool]:
        """(working?, provisional?)."""
        info = self.info(day)
        return info.working, info.provisional

    def add_working_days(self, start: dt.date, days: int) -> WorkdayResult:
        """The date `days` working days after `start` (start itself not counted; negative goes
        back). Provisional when any day stepped over was resolved by rule."""
        step = 1 if days >= 0 else -1
        remaining = abs(days)
        current = start
        provisional = False
        while remaining:
            current += dt.timedelta(days=step)
            working, unsure = self.is_working_day(current)
            provisional = provisional or unsure
            if working:
                remaining -= 1
        return WorkdayResult(current, provisional)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative, counting (end, start], when end is earlier.
        How far off a deadline is, the way the domain counts it."""
        sign, low, high = (1, start, end) if end >= start else (-1, end, start)
        count, current = 0, low
        while current < high:
            current += dt.timedelta(days=1)
            count += self.is_working_day(current)[0]
        return sign * count

    def year_schedule(self, year: int) -> YearSchedule:
        """Holidays (named days off, weekends inside a holiday included) and 调休 working days."""
        source = self.source(year)
        if source is Source.LOADED:
            days = sorted((d, v) for d, v in self.overrides.days.items() if d.year == year)
            return YearSchedule(
                year,
                source,
                [(d, v.name) for d, v in days if not v.working],
                [(d, v.name) for d, v in days if v.working],
            )
        if source is Source.PACKAGE:
            off = sorted((d, n) for d, n in cc_data.holidays.items() if d.year == year)
            on = sorted(
                (d, n) for d, n in cc_data.workdays.items() if d.year == year and d.weekday() >= 5
            )
            return YearSchedule(
                year,
                source,
                [(d, PACKAGE_NAMES.get(n, n)) for d, n in off],
                [(d, PACKAGE_NAMES.get(n, n) + "调休") for d, n in on],
            )
        return YearSchedule(year, source, list(rule_holidays(year).items()), [])


DEFAULT_CALENDAR = WorkCalendar()


def is_working_day(day: dt.date) -> tuple[bool, bool]:
    """(working?, provisional?) on package data and rules only: no loaded schedule is seen here.

    Code in models/ should count through `models.calendar.calendar_for(session)` instead."""
    return DEFAULT_CALENDAR.is_working_day(day)


def add_working_days(start: dt.date, days: int) -> WorkdayResult:
    """`WorkCalendar.add_working_days` without loaded schedules (see `is_working_day`)."""
    return DEFAULT_CALENDAR.add_working_days(start, days)
