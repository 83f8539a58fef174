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
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.generate import NOW  # noqa: E402  (after the path: the script runs from bench/)

RESULTS = ROOT / "bench" / "results"

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

    from sqlalchemy import text
    from sqlmodel import Session

    from bench.generate import OPEN_MIX, Shape, bench_database, generate
    from config.db import engine_for
    from config.settings import get_settings

    inbox = Inbox()
    with bench_database(args.postgres, keep=args.keep) as (url, work):
        (work / "apprise.yml").write_text(
            f'urls:\n  - "json://127.0.0.1:{inbox.port}/":\n      - tag: always\n',
            encoding="utf-8",
        )
        os.environ.update(
            {
                "XS_DATA_DIR": str(work / "data"),
                "XS_DATABASE_URL": url,
                "XS_APPRISE_CONFIG": str(work / "apprise.yml"),
                "XS_DELIVERY_TRIES": "1",
            }
        )
        get_settings.cache_clear()
        from models import dispatch

        engine = engine_for(url)
        shape = Shape(
            items=args.items,
            topics=args.topics,
            departments=args.departments,
            officers_per_dept=args.officers_per_dept,
            mix=OPEN_MIX,
            now=NOW,
        )
        made = generate(engine, shape)
        seed_s = made.seconds

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
    inbox.server.shutdown()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"weekly_dispatch{'-postgres' if args.postgres else ''}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))
    print(f"→ {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
