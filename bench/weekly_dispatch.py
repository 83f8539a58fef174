"""Benchmark: the weekly dispatch (周调度) over 100,000 open items.

Compares, in the same run and on the same database, the whole dispatch (select what everyone
owes with each item's level read from its follow-up ladder, build and stage one digest per
recipient) with the raw SQL that only
selects the same rows — the ratio shows what the rules and the digests cost on top of reading.
Then one dispatch is committed and its digests are delivered through Apprise to a local
webhook, so messages sent can be set against items.

    uv run python bench/weekly_dispatch.py                  # SQLite in a temporary directory
    XS_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        uv run python bench/weekly_dispatch.py --postgres   # a temporary PostgreSQL database

Writes bench/results/weekly_dispatch[-postgres].json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=SH).astimezone(dt.UTC)  # a Monday, 09:00

# The raw SQL that selects the same rows as models.dispatch.attention_query: what any
# hand-written report would have to read at least — every open (or declined) item, the level
# each of its three ladders reached (签收, 方案, 整改期限), its latest plan and progress.
RAW_SQL = """
SELECT i.id, i.title, i.status, i.deadline, i.ack_due_at, i.plan_due_at, i.decline_reason,
       i.lead_department_id,
       COALESCE(pr.created_at, pl.submitted_at, i.acknowledged_at, i.transferred_at, i.deadline),
       i.level, i.ack_level, i.plan_level, pl.status, pr.created_at, pr.percent,
       t.title, d.name, p.name, p.tag
FROM (
  SELECT r.*,
  COALESCE((
    SELECT MAX(CASE f.step WHEN 'escalate_head' THEN 3 WHEN 'escalate_admin' THEN 3
                           WHEN 'overdue' THEN 2 WHEN 'due' THEN 1 WHEN 'due_soon' THEN 1
                           ELSE 0 END)
    FROM follow_up f
    WHERE f.obligation = 'item_deadline' AND f.subject_id = r.id AND f.deadline = r.deadline
      AND f.status = 'sent'), 0) AS level,
  COALESCE((
    SELECT MAX(CASE f.step WHEN 'escalate_head' THEN 3 WHEN 'escalate_admin' THEN 3
                           WHEN 'overdue' THEN 2 WHEN 'due' THEN 1 WHEN 'due_soon' THEN 1
                           ELSE 0 END)
    FROM follow_up f
    WHERE f.obligation = 'acknowledgement' AND f.subject_id = r.id AND f.deadline = r.ack_due_at
      AND f.status = 'sent'), 0) AS ack_level,
  COALESCE((
    SELECT MAX(CASE f.step WHEN 'escalate_head' THEN 3 WHEN 'escalate_admin' THEN 3
                           WHEN 'overdue' THEN 2 WHEN 'due' THEN 1 WHEN 'due_soon' THEN 1
                           ELSE 0 END)
    FROM follow_up f
    WHERE f.obligation = 'plan' AND f.subject_id = r.id AND f.deadline = r.plan_due_at
      AND f.status = 'sent'), 0) AS plan_level
  FROM rectification_item r
) i
JOIN topic t ON t.id = i.topic_id
JOIN department d ON d.id = i.lead_department_id
JOIN person p ON p.id = i.officer_id
LEFT JOIN plan pl ON pl.id = (SELECT MAX(x.id) FROM plan x WHERE x.item_id = i.id)
LEFT JOIN progress_update pr
  ON pr.id = (SELECT MAX(y.id) FROM progress_update y WHERE y.item_id = i.id)
WHERE i.status IN ('transferred', 'declined', 'acknowledged', 'in_progress')
ORDER BY i.deadline, i.id
"""

# The rung of the item-deadline ladder already sent, by working days past the deadline
# (roughly: calendar days stand in for working days here).
SENT_RUNGS = [
    (-3, "due_soon"),
    (0, "due"),
    (1, "overdue"),
    (2, "escalate_head"),
    (3, "escalate_admin"),
]
# The same for the 签收 and 方案 ladders (models/obligations.py), on their own deadlines.
ACK_RUNGS = [(0, "due"), (1, "overdue"), (1, "escalate_head"), (2, "escalate_admin")]
PLAN_RUNGS = [(-1, "due_soon"), (1, "overdue"), (2, "escalate_head")]


def naive(t: dt.datetime) -> dt.datetime:
    """How UTCDateTime stores instants: naive UTC."""
    return t.astimezone(dt.UTC).replace(tzinfo=None)


def seed(engine: Any, items: int, departments: int, officers_per_dept: int, topics: int) -> None:
    """Bulk-insert a district's worth of open items (deterministic)."""
    from sqlalchemy import insert

    from models.tables import (
        ConsultationSession,
        Department,
        FollowUp,
        Person,
        Plan,
        ProgressUpdate,
        RectificationItem,
        Suggestion,
        Topic,
    )

    rng = random.Random(42)
    created = NOW - dt.timedelta(days=120)
    people: list[dict[str, Any]] = [
        {"id": 1, "name": "王敏", "role": "administrator", "tag": "role-admin-person"},
        {"id": 2, "name": "陈建国", "role": "approver", "tag": "approver-person"},
    ]
    officers: dict[int, list[int]] = {}
    for d in range(1, departments + 1):
        if d % 10 != 0:  # every tenth department has no head registered
            people.append(
                {
                    "id": len(people) + 1,
                    "name": f"负责人{d}",
                    "role": "department_head",
                    "department_id": d,
                    "tag": f"head-{d}",
                }
            )
        for k in range(officers_per_dept):
            pid = len(people) + 1
            people.append(
                {
                    "id": pid,
                    "name": f"联络员{d}-{k}",
                    "role": "officer",
                    "department_id": d,
                    "tag": f"officer-{pid}",
                }
            )
            officers.setdefault(d, []).append(pid)
    rows_items: list[dict[str, Any]] = []
    rows_suggestions: list[dict[str, Any]] = []
    rows_follow_ups: list[dict[str, Any]] = []
    rows_plans: list[dict[str, Any]] = []
    rows_progress: list[dict[str, Any]] = []

    def sent(topic: int, n: int, obligation: str, due: dt.datetime, rungs: Any) -> None:
        late = (NOW - due).days
        for offset, step in rungs:
            if offset <= late:
                rows_follow_ups.append(
                    {
                        "topic_id": topic,
                        "obligation": obligation,
                        "subject_id": n,
                        "step": step,
                        "deadline": due,
                        "due_at": due + dt.timedelta(days=offset),
                        "rung_offset": offset,
                        "provisional": False,
                        "status": "sent",
                        "outcome": "已提醒/督办",
                        "processed_at": due + dt.timedelta(days=offset),
                        "created_at": created,
                    }
                )

    for n in range(1, items + 1):
        topic = rng.randint(1, topics)
        dept = rng.randint(1, departments)
        roll = rng.random()
        deadline = NOW + dt.timedelta(days=rng.randint(-40, 200), hours=rng.randint(0, 23))
        row: dict[str, Any] = {
            "id": n,
            "topic_id": topic,
            "suggestion_id": n,
            "title": f"整改事项{n}",
            "lead_department_id": dept,
            "co_department_ids": [],
            "officer_id": rng.choice(officers[dept]),
            "deadline": deadline,
            "deadline_provisional": False,
            "transferred_at": created,
        }
        if roll < 0.08:
            row["status"] = "transferred"
            row["ack_due_at"] = NOW + dt.timedelta(days=rng.randint(-10, 5))
        elif roll < 0.085:
            row["status"] = "declined"
            row["decline_reason"] = "非本单位职责"
        elif roll < 0.2:
            row["status"] = "acknowledged"
            row["plan_due_at"] = NOW + dt.timedelta(days=rng.randint(-15, 7))
        else:
            row["status"] = "in_progress"
            row["plan_due_at"] = created
        if row["status"] != "declined":  # the ladders' rungs sent so far
            sent(topic, n, "item_deadline", deadline, SENT_RUNGS)
        if row["status"] == "transferred":
            sent(topic, n, "acknowledgement", row["ack_due_at"], ACK_RUNGS)
        if row["status"] == "acknowledged":
            sent(topic, n, "plan", row["plan_due_at"], PLAN_RUNGS)
        if row["status"] == "in_progress":  # one plan each; half have reported progress
            officer = row["officer_id"]
            rows_plans.append(
                {
                    "item_id": n,
                    "version": 1,
                    "target": "按期完成",
                    "measures": "联合审批",
                    "deadline": deadline,
                    "responsible_id": officer,
                    "status": rng.choice(["submitted", "approved", "approved", "returned"]),
                    "submitted_at": created + dt.timedelta(days=7),
                }
            )
            if rng.random() < 0.5:
                rows_progress.append(
                    {
                        "item_id": n,
                        "by_id": officer,
                        "note": "按计划推进",
                        "percent": rng.randint(10, 90),
                        "created_at": NOW - dt.timedelta(days=rng.randint(1, 60)),
                    }
                )
        rows_items.append(row)
        rows_suggestions.append(
            {"id": n, "topic_id": topic, "session_id": topic, "content": f"建议{n}"}
        )
    with engine.begin() as conn:
        conn.execute(
            insert(Department.__table__),
            [{"id": d, "name": f"单位{d}", "tag": f"dept-{d}"} for d in range(1, departments + 1)],
        )
        conn.execute(insert(Person.__table__), [{"department_id": None} | p for p in people])
        conn.execute(
            insert(Topic.__table__),
            [
                {
                    "id": t,
                    "title": f"议题{t}",
                    "description": "",
                    "category": "",
                    "source": "public",
                    "urgent": False,
                    "important": True,
                    "emergency": False,
                    "in_litigation": False,
                    "in_petition": False,
                    "of_general_concern": True,
                    "policy_explicit": False,
                    "stage": "implementation",
                    "stage_state": "waiting",
                    "status": "in_progress",
                    "created_at": created,
                    "updated_at": created,
                }
                for t in range(1, topics + 1)
            ],
        )
        conn.execute(
            insert(ConsultationSession.__table__),
            [
                {
                    "id": t,
                    "topic_id": t,
                    "round": 1,
                    "form": "thematic",
                    "starts_at": created,
                    "status": "concluded",
                    "consensus_reached": True,
                }
                for t in range(1, topics + 1)
            ],
        )
        for start in range(0, items, 10000):
            conn.execute(
                insert(Suggestion.__table__),
                [
                    s | {"opinion_ids": [], "adoption": "adopted"}
                    for s in rows_suggestions[start : start + 10000]
                ],
            )
            conn.execute(
                insert(RectificationItem.__table__),
                [
                    {
                        "ack_due_at": None,
                        "plan_due_at": None,
                        "decline_reason": None,
                    }
                    | r
                    for r in rows_items[start : start + 10000]
                ],
            )
        for start in range(0, len(rows_follow_ups), 10000):
            conn.execute(insert(FollowUp.__table__), rows_follow_ups[start : start + 10000])
        for start in range(0, len(rows_plans), 10000):
            conn.execute(insert(Plan.__table__), rows_plans[start : start + 10000])
        for start in range(0, len(rows_progress), 10000):
            conn.execute(insert(ProgressUpdate.__table__), rows_progress[start : start + 10000])


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    """Median wall time of `repeat` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


class Inbox:
    """A catch-all json:// receiver that counts what it accepts."""

    def __init__(self) -> None:
        self.count = 0
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                inbox.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--departments", type=int, default=60)
    parser.add_argument("--officers-per-dept", type=int, default=20)
    parser.add_argument("--topics", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="XS_BENCH_PG_URL 指向的 PostgreSQL")
    parser.add_argument("--no-deliver", action="store_true", help="只统计摘要，不实际投递")
    parser.add_argument("--keep", action="store_true", help="保留临时数据库（用于分析）")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="xs-bench-"))
    inbox = Inbox()
    (work / "apprise.yml").write_text(
        f'urls:\n  - "json://127.0.0.1:{inbox.port}/":\n      - tag: always\n', encoding="utf-8"
    )
    admin_url = None
    if args.postgres:
        admin_url = os.environ.get(
            "XS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        )
        name = f"xs_bench_{uuid.uuid4().hex[:8]}"
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{work / 'bench.db'}"
    os.environ.update(
        {
            "XS_DATA_DIR": str(work / "data"),
            "XS_DATABASE_URL": url,
            "XS_APPRISE_CONFIG": str(work / "apprise.yml"),
            "XS_DELIVERY_TRIES": "1",
        }
    )
    from sqlalchemy import create_engine, text
    from sqlmodel import Session

    from config.db import engine_for, migrate
    from models import dispatch

    if admin_url:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        migrate(url)
        engine = engine_for(url)
        t0 = time.perf_counter()
        seed(engine, args.items, args.departments, args.officers_per_dept, args.topics)
        seed_s = time.perf_counter() - t0
        if not admin_url:
            with engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")

        params: dict[str, Any] = {}

        def raw() -> int:
            with engine.connect() as conn:
                return len(conn.execute(text(RAW_SQL), params).all())

        def run_dispatch() -> dict[str, Any]:
            with Session(engine) as s:
                summary = dispatch.weekly_dispatch(s, now=NOW)
                s.rollback()  # every timed run starts from the same ladder
                return summary

        def dispatch_sql() -> int:
            """Only the dispatch's select (through the ORM types, levels read from the ladder):
            the part of the dispatch that is SQL, without grouping and wording digests."""
            with Session(engine) as s:
                rows = s.execute(dispatch.attention_query()).all()
                s.rollback()
                return len(rows)

        raw() and run_dispatch()  # warm caches for both sides alike
        raw_s, raw_rows = timed(raw, args.repeat)
        sql_s, _ = timed(dispatch_sql, args.repeat)
        dispatch_s, summary = timed(run_dispatch, args.repeat)
        assert raw_rows == summary["attention"], (raw_rows, summary["attention"])

        with Session(engine) as s:  # the run that counts: committed, then delivered
            summary = dispatch.weekly_dispatch(s, now=NOW)
            s.commit()
        delivery: dict[str, int] = {}
        deliver_s = 0.0
        if not args.no_deliver:
            from tasks.notify import deliver_notifications

            t0 = time.perf_counter()
            delivery = deliver_notifications.fn(limit=1_000_000)
            deliver_s = time.perf_counter() - t0

        result = {
            "backend": engine.dialect.name,
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "items": args.items,
            "open_items": summary["open_items"],
            "rows_needing_attention": summary["attention"],
            "seed_seconds": round(seed_s, 2),
            "raw_select_seconds": round(raw_s, 3),
            "dispatch_seconds": round(dispatch_s, 3),
            "dispatch_over_raw_select": round(dispatch_s / raw_s, 2),
            "dispatch_sql_part_seconds": round(sql_s, 3),
            "dispatch_sql_part_over_raw_select": round(sql_s / raw_s, 2),
            "digests": summary["digests"],
            "digests_per_1000_items": round(1000 * summary["digests"] / args.items, 2),
            "messages_received": inbox.count,
            "delivery": delivery,
            "deliver_seconds": round(deliver_s, 2),
            "summary": summary,
            "repeat": args.repeat,
        }
    finally:
        engine_for(url).dispose()
        engine_for.cache_clear()
        inbox.server.shutdown()
        if args.keep:
            print(f"临时数据库保留在 {url}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
        if admin_url:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"weekly_dispatch{'-postgres' if admin_url else ''}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"→ {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
