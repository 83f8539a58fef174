"""Period arithmetic in Asia/Shanghai: which month or quarter a run reports."""

from __future__ import annotations

import datetime as dt

import pytest

from models.bulletin import BulletinKind, choose_period, parse_period, previous_period
from models.errors import Conflict, Invalid

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


# --- what may be generated when (models.bulletin.choose_period, used by the API and the flow) --

# 2026-11-23 10:00 in Shanghai, the day the 2027-01 bulletin was produced and announced.
NOV_23 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_a_future_month_is_refused_naming_what_can_be_generated_and_when():
    with pytest.raises(Conflict) as err:
        choose_period(BulletinKind.MONTHLY, "2027-01", now=NOV_23)
    message = err.value.message
    assert err.value.status_code == 409 and err.value.field == "period"
    assert "2027年1月尚未开始，不能生成2027年1月月通报" in message
    assert "最早可于 2027年2月1日起生成" in message
    assert "目前可生成的最近一期是2026年10月月通报（2026-10）" in message


def test_the_running_month_is_refused_unless_interim():
    with pytest.raises(Conflict) as err:
        choose_period(BulletinKind.MONTHLY, "2026-11", now=NOV_23)
    assert "2026年11月尚未结束（至 2026年11月30日）" in err.value.message
    assert "最早可于 2026年12月1日起生成" in err.value.message
    assert "可生成中期月通报" in err.value.message

    interim = choose_period(BulletinKind.MONTHLY, "2026-11", interim=True, now=NOV_23)
    assert interim.interim and interim.as_of == NOV_23
    # Counted to the moment of generation, not to the end of the month.
    assert interim.bounds == (dt.datetime(2026, 10, 31, 16, tzinfo=UTC), NOV_23)
    assert interim.last_day == dt.date(2026, 11, 23)
    assert interim.title == "2026年11月整改工作月通报（中期，截至2026年11月23日 10:00）"
    # Without a period an interim report is the running month's.
    assert choose_period(BulletinKind.MONTHLY, None, interim=True, now=NOV_23) == interim


def test_interim_is_only_for_the_running_period():
    with pytest.raises(Conflict, match="2027年1月尚未开始，不能生成中期月通报"):
        choose_period(BulletinKind.MONTHLY, "2027-01", interim=True, now=NOV_23)
    with pytest.raises(Conflict, match="2026年10月已经结束，应生成正式月通报"):
        choose_period(BulletinKind.MONTHLY, "2026-10", interim=True, now=NOV_23)


def test_ended_periods_and_scheduled_runs_are_final():
    october = choose_period(BulletinKind.MONTHLY, "2026-10", now=NOV_23)
    assert (october.key, october.interim) == ("2026-10", False)
    assert october.title == "2026年10月整改工作月通报"
    assert choose_period(BulletinKind.MONTHLY, None, now=NOV_23).key == "2026-10"
    # A late scheduled run still reports the month before its scheduled time.
    late = choose_period(
        BulletinKind.MONTHLY,
        None,
        now=NOV_23,
        scheduled=dt.datetime(2026, 10, 1, 1, 0, tzinfo=UTC),
    )
    assert late.key == "2026-09"


def test_quarters_follow_the_same_rule():
    with pytest.raises(Conflict, match="2026年第四季度尚未结束"):
        choose_period(BulletinKind.QUARTERLY, "2026Q4", now=NOV_23)
    q = choose_period(BulletinKind.QUARTERLY, "2026Q4", interim=True, now=NOV_23)
    assert q.title == "2026年第四季度整改工作季度评估（中期，截至2026年11月23日 10:00）"
    assert choose_period(BulletinKind.QUARTERLY, None, now=NOV_23).key == "2026Q3"
