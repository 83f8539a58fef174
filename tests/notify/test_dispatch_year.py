"""A year of weekly dispatches (周调度) on a committed case file, SQLite and PostgreSQL: some
weeks the run is late (Wednesday afternoon), some weeks it runs twice, some weeks two runs
overlap in threads; the Spring Festival and National Day weeks fall on holiday Mondays. Every
person who owes something gets exactly one digest per ISO week, at the real webhook receiver."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from config.db import engine_for, session_scope
from config.workdays import WorkCalendar
from models import dispatch, rectification
from models.enums import Stage
from models.tables import Notification
from tasks.notify import deliver_notifications
from tests.factories import LoopBuilder
from tests.receivers import HttpReceiver, use_apprise_config, write_apprise_yaml

SH = ZoneInfo("Asia/Shanghai")
MONDAYS = [dt.date(2025, 12, 29) + dt.timedelta(weeks=n) for n in range(53)]  # 2026-W01…W53


def at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SH).astimezone(dt.UTC)


def run(now: dt.datetime) -> dict:
    with session_scope() as session:
        return dispatch.weekly_dispatch(session, now=now)


def overlapping(now: dt.datetime) -> list[dict]:
    """Two dispatches of the same week at once, in two threads with their own sessions."""
    start = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            start.wait()
            results.append(run(now))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_one_digest_per_person_per_week_over_a_year(
    committed_db, tmp_path, monkeypatch, time_machine
):
    # The case, staged on Friday 2025-12-26: 李强's item runs all year (extended to the end of
    # 2026); 周婷's falls due in February and is escalated for the rest of the year.
    time_machine.move_to(at(dt.date(2025, 12, 26), 10), tick=False)
    with Session(engine_for(committed_db)) as s:
        loop = LoopBuilder(s)
        loop.today = dt.date(2025, 12, 26)
        c = loop.cast
        topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
        long_one, short_one = loop.items(topic)
        loop.plan(long_one)
        loop.plan(short_one)
        rectification.extend(
            s,
            long_one.id,
            rectification.ExtendIn(deadline=dt.date(2026, 12, 31), reason="跨年度工程"),
            by=c.admin.id,
        )
        s.commit()
        officers = {c.officer.tag, c.other_officer.tag}
        everyone = [c.officer.tag, c.other_officer.tag, c.head.tag]
    with HttpReceiver() as inbox:
        path = write_apprise_yaml(
            tmp_path / "apprise.yml",
            {inbox.url(t): [t] for t in [*everyone, "role-administrator", "role-approver"]},
        )
        use_apprise_config(monkeypatch, path)
        deliver = deliver_notifications.fn

        calendar = WorkCalendar()
        holiday_mondays = [m for m in MONDAYS if not calendar.is_working_day(m)[0]]
        # Spring Festival (02-16) and National Day (10-05) fall on a Monday in 2026.
        assert {dt.date(2026, 2, 16), dt.date(2026, 10, 5)} <= set(holiday_mondays)

        kinds: Counter[str] = Counter()
        for n, monday in enumerate(MONDAYS):
            if n % 5 == 2:
                kind = "late"  # the Monday run was missed: it runs on Wednesday afternoon
                time_machine.move_to(at(monday + dt.timedelta(days=2), 15), tick=False)
                run(at(monday + dt.timedelta(days=2), 15))
            elif n % 7 == 3:
                kind = "twice"  # the scheduled run and an on-demand one later the same week
                run(at(monday, 9))
                run(at(monday + dt.timedelta(days=3), 11))
            elif n % 4 == 1:
                kind = "overlap"
                overlapping(at(monday, 9))
            else:
                kind = "monday"
                run(at(monday, 9))
            kinds[kind] += 1
            time_machine.move_to(at(monday + dt.timedelta(days=4), 18), tick=False)
            deliver()
        assert min(kinds.values()) >= 5, kinds

        with session_scope() as session:
            rows = session.exec(
                select(Notification.recipient, Notification.event_key).where(
                    Notification.template == "weekly_digest"
                )
            ).all()
        per_week = Counter(rows)
        assert set(per_week.values()) == {1}
        weeks = {f"weekly:2026-W{n:02d}" for n in range(1, 54)}
        for tag in officers:  # both officers owe something every single week
            assert {key for who, key in rows if who == tag} == weeks, tag

        # What arrived: one digest per person and week, nothing twice (beside the ladder's
        # own reminders and escalations).
        digests = [m for m in inbox.log if m.data["event"] == "weekly_digest"]
        received = Counter((m.path, m.data["event_key"]) for m in digests)
        assert received == per_week
        spring = [m for m in digests if m.data["event_key"] == "weekly:2026-W08"]
        assert {m.path for m in spring} >= officers
