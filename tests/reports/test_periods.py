"""Period arithmetic in Asia/Shanghai: which month or quarter a run reports."""

from __future__ import annotations

import datetime as dt

import pytest

from models.bulletin import BulletinKind, parse_period, previous_period
from models.errors import Invalid

UTC = dt.UTC


@pytest.mark.parametrize(
    ("now", "kind", "key", "start", "end"),
    [
        # 2026-11-01 00:30 in Shanghai is still 31 October in UTC: October is reported.
        (
            dt.datetime(2026, 10, 31, 16, 30, tzinfo=UTC),
            "monthly",
            "2026-10",
            "2026-10-01",
            "2026-10-31",
        ),
        # 2026-10-31 23:30 in Shanghai: the month is not over, September is the last full one.
        (
            dt.datetime(2026, 10, 31, 15, 30, tzinfo=UTC),
            "monthly",
            "2026-09",
            "2026-09-01",
            "2026-09-30",
        ),
        (
            dt.datetime(2027, 1, 1, 1, 0, tzinfo=UTC),
            "monthly",
            "2026-12",
            "2026-12-01",
            "2026-12-31",
        ),
        (
            dt.datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
            "monthly",
            "2026-02",
            "2026-02-01",
            "2026-02-28",
        ),
        (
            dt.datetime(2027, 1, 1, 1, 0, tzinfo=UTC),
            "quarterly",
            "2026Q4",
            "2026-10-01",
            "2026-12-31",
        ),
        (
            dt.datetime(2026, 4, 1, 1, 0, tzinfo=UTC),
            "quarterly",
            "2026Q1",
            "2026-01-01",
            "2026-03-31",
        ),
        (
            dt.datetime(2026, 8, 15, 1, 0, tzinfo=UTC),
            "quarterly",
            "2026Q2",
            "2026-04-01",
            "2026-06-30",
        ),
    ],
)
def test_previous_period(now, kind, key, start, end):
    p = previous_period(BulletinKind(kind), now)
    assert (p.key, p.start.isoformat(), p.end.isoformat()) == (key, start, end)


def test_bounds_are_local_midnights_in_utc():
    p = parse_period(BulletinKind.MONTHLY, "2026-10")
    assert p.bounds == (
        dt.datetime(2026, 9, 30, 16, tzinfo=UTC),
        dt.datetime(2026, 10, 31, 16, tzinfo=UTC),
    )
    assert p.label == "2026年10月" and p.title == "2026年10月整改工作月通报"


@pytest.mark.parametrize("text", ["2026Q3", "2026-q3", "2026-07", "2026-08-15", " 2026-09-30 "])
def test_parse_quarter(text):
    q = parse_period(BulletinKind.QUARTERLY, text)
    assert (q.key, q.label) == ("2026Q3", "2026年第三季度")
    assert [m.key for m in q.months()] == ["2026-07", "2026-08", "2026-09"]


@pytest.mark.parametrize(
    ("kind", "text"),
    [("monthly", "2026Q3"), ("monthly", "10/2026"), ("quarterly", "2026Q5"), ("monthly", "")],
)
def test_bad_period_is_refused_in_chinese(kind, text):
    with pytest.raises(Invalid, match="期间") as err:
        parse_period(BulletinKind(kind), text)
    assert err.value.field == "period"
