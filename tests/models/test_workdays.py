"""Pure working-day arithmetic (config/workdays.py): package years, rule years, loaded years."""

from __future__ import annotations

import datetime as dt

import pytest

from config import workdays
from config.workdays import Overrides, Source, WorkCalendar

D = dt.date
CAL = WorkCalendar()


def test_2026_comes_from_package_data():
    assert CAL.source(2026) is Source.PACKAGE
    schedule = CAL.year_schedule(2026)
    assert not schedule.provisional
    assert (D(2026, 10, 1), "国庆节") in schedule.holidays
    assert [d for d, _ in schedule.workdays] == [
        D(2026, 1, 4),
        D(2026, 2, 14),
        D(2026, 2, 28),
        D(2026, 5, 9),
        D(2026, 9, 20),
        D(2026, 10, 10),
    ]


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (D(2026, 9, 30), 1, D(2026, 10, 8)),  # 国庆 10-01..10-07
        (D(2026, 9, 19), 1, D(2026, 9, 20)),  # Sunday 09-20 is a 调休 working day
        (D(2026, 10, 9), 1, D(2026, 10, 10)),  # Saturday 10-10 as well
        (D(2026, 2, 13), 1, D(2026, 2, 14)),  # Saturday before 春节 is worked
        (D(2026, 2, 14), 1, D(2026, 2, 24)),  # 春节 02-15..02-23
        (D(2026, 10, 8), -1, D(2026, 9, 30)),  # backwards over the holiday
        (D(2026, 11, 20), 3, D(2026, 11, 25)),  # an ordinary week: Fri + Mon, Tue, Wed
    ],
)
def test_package_year_counting(start, days, expected):
    result = CAL.add_working_days(start, days)
    assert result == workdays.WorkdayResult(expected, provisional=False)


def test_2027_without_schedule_falls_back_to_statutory_rule():
    assert CAL.source(2027) is Source.RULE
    info = CAL.info(D(2027, 1, 1))
    assert not info.working and info.provisional and info.name == "元旦"
    # 2026-12-31 is Thursday; 2027-01-01 元旦, then a weekend.
    assert CAL.add_working_days(D(2026, 12, 31), 1) == workdays.WorkdayResult(D(2027, 1, 4), True)
    # Staying inside 2026 is not provisional.
    assert CAL.add_working_days(D(2026, 12, 29), 2) == workdays.WorkdayResult(
        D(2026, 12, 31), False
    )


def test_spring_festival_2027_by_rule():
    # 除夕 02-05 (Fri), 初一–初三 02-06..02-08, 补假 02-09/02-10 for the weekend days.
    for day in range(5, 11):
        assert CAL.is_working_day(D(2027, 2, day)) == (False, True)
    assert CAL.add_working_days(D(2027, 2, 4), 1) == workdays.WorkdayResult(D(2027, 2, 11), True)


def test_rule_year_guesses_no_adjusted_working_days():
    schedule = CAL.year_schedule(2027)
    assert schedule.provisional and schedule.workdays == []
    saturdays = [D(2027, 1, 2) + dt.timedelta(weeks=w) for w in range(52)]
    assert all(not CAL.is_working_day(s)[0] for s in saturdays)


def test_rule_holidays_leave_out_the_packages_swaps():
    # python-holidays knows 2026's 调休 day off 01-02; the rule list must not include it.
    assert D(2026, 1, 2) not in workdays.rule_holidays(2026)
    assert workdays.rule_holidays(2026)[D(2026, 1, 1)] == "元旦"


def test_loaded_year_overrides_rule_and_is_not_provisional():
    overrides = Overrides.from_rows(
        [
            (2027, D(2027, 1, 1), False, "元旦"),
            (2027, D(2027, 1, 4), False, "元旦"),
            (2027, D(2027, 1, 9), True, "调休上班"),
        ]
    )
    cal = WorkCalendar(overrides)
    assert cal.source(2027) is Source.LOADED and cal.source(2026) is Source.PACKAGE
    assert cal.info(D(2027, 1, 4)).working is False
    assert cal.is_working_day(D(2027, 1, 9)) == (True, False)  # a Saturday worked
    assert cal.is_working_day(D(2027, 2, 8)) == (True, False)  # unlisted weekday works
    assert cal.add_working_days(D(2026, 12, 31), 1) == workdays.WorkdayResult(D(2027, 1, 5), False)
    schedule = cal.year_schedule(2027)
    assert schedule.holidays == [(D(2027, 1, 1), "元旦"), (D(2027, 1, 4), "元旦")]
    assert schedule.workdays == [(D(2027, 1, 9), "调休上班")]


def test_loaded_schedule_can_override_a_package_year():
    cal = WorkCalendar(Overrides.from_rows([(2026, D(2026, 12, 31), False, "演示")]))
    assert cal.source(2026) is Source.LOADED
    assert cal.is_working_day(D(2026, 10, 1)) == (True, False)  # only what was loaded counts


def test_module_functions_use_package_and_rule_only():
    assert workdays.is_working_day(D(2027, 1, 1)) == (False, True)
    assert workdays.add_working_days(D(2026, 9, 30), 1).day == D(2026, 10, 8)
