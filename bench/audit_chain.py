"""Benchmark: verifying the audit trail's hash chain over 1,000,000 events.

The events are made once, in bulk, with the project's own hashing (`models.audit.link` over
`models.audit.canonical`, exactly what sealing a transaction computes), each chained on the one
before, and loaded into the shared case file (bench/generate.py) with the chain head; they stay
there for the next run. Against the floor, in the same run on the same data:

- **floor**: the same rows read through the driver in sequence order and one `hashlib.sha256`
  per row over the previous hash and the row's stored values, in one loop — reading and
  hashing, nothing less a verification could do;
- **verify**: `models.audit.verify`, what `xieshang audit verify` runs (recompute every
  event's hash from its canonical content, check sequence, links and the stored head).

Goal: verify under a minute.

    uv run python bench/audit_chain.py [--size 1m] [--postgres] [--runs 3]

Writes bench/results/audit_chain-<date>[-postgres].json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import FIRST_DAY, SIZES, Loader, case_file, progress  # noqa: E402
from bench.measure import figure, interleaved, ratio, write  # noqa: E402

GOAL_S = 60.0
BATCH = 10_000
ACTIONS = [
    ("item.acknowledged", "rectification_item", "status", "transferred", "acknowledged"),
    ("plan.submitted", "plan", "status", "draft", "submitted"),
    ("progress.reported", "rectification_item", "progress_percent", 30, 60),
    ("item.completed", "rectification_item", "status", "in_progress", "completed"),
    ("topic.stage_started", "topic", "stage", "transfer", "implementation"),
]

FLOOR_SQL = (
    "SELECT id, seq, topic_id, actor_id, actor, actor_role, action, detail, changes, at, "
    "prev_hash, hash FROM audit_event ORDER BY seq"
)


def fill(engine: Any, events: int, topics: int, people: int, *, show: bool = True) -> float:
    """`events` chained audit events (none there yet), and the chain head; seconds taken."""
    from sqlalchemy import delete, insert

    from models import audit
    from models.tables import AppMeta, AuditEvent

    t0 = time.perf_counter()
    rng = random.Random(7)
    last, seq = audit.GENESIS, 0
    at = FIRST_DAY
    advance = progress(events, f"{events:,} 条审计记录", show)
    with engine.begin() as conn:
        load = Loader(conn)
        for start in range(0, events, BATCH):
            rows = []
            for _ in range(start, min(start + BATCH, events)):
                seq += 1
                at += dt.timedelta(seconds=rng.randint(1, 90), microseconds=rng.randint(0, 999_999))
                action, record, field, before, after = rng.choice(ACTIONS)
                subject = rng.randint(1, 1_000_000)
                person = rng.randint(3, people)
                row = SimpleNamespace(
                    seq=seq,
                    topic_id=rng.randint(1, topics),
                    actor_id=person,
                    actor=f"经办人{person}",
                    actor_role="officer",
                    action=action,
                    detail={"item_id": subject, "note": "按计划推进"},
                    changes=[{"record": record, "id": subject, "fields": {field: [before, after]}}],
                    at=at,
                    prev_hash=last,
                )
                row.hash = last = audit.link(last, row)  # type: ignore[arg-type]
                rows.append(dict(vars(row)))
            load(AuditEvent.__table__, rows)
            advance(len(rows))
        conn.execute(delete(AppMeta).where(AppMeta.key == audit.HEAD_KEY))  # type: ignore[arg-type]
        conn.execute(insert(AppMeta), [{"key": audit.HEAD_KEY, "value": f"{seq}:{last}"}])
    return time.perf_counter() - t0


def run(size: str, postgres: bool, runs: int, *, show: bool = True) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlmodel import Session

    from config.db import engine_for, read_only
    from models import audit

    events = SIZES[size]
    url, made = case_file(size, postgres, show_progress=show)
    engine = engine_for(url)
    reader = read_only(engine)
    with reader.connect() as conn:  # no write lock: other benchmarks may be writing
        have = conn.execute(text("SELECT count(*) FROM audit_event")).scalar_one()
    fill_s = None
    if have != events:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_event"))
        people = max(p for ids in made.officers.values() for p in ids)
        fill_s = round(fill(engine, events, made.counts["topic"], people, show=show), 1)

    def floor() -> int:
        with reader.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=10_000)
            last, n = audit.GENESIS, 0
            for row in result.exec_driver_sql(FLOOR_SQL):
                digest = hashlib.sha256(
                    last.encode() + b"\n" + "|".join(map(str, row[1:10])).encode()
                ).hexdigest()
                last, n = digest, n + 1
            return n

    verdicts: list[audit.Verdict] = []

    def verify() -> None:
        with Session(reader) as session:
            verdicts.append(audit.verify(session))

    times = interleaved({"floor: read and hash every row": floor, "verify": verify}, runs)
    verdict = verdicts[-1]
    assert all(v.ok for v in verdicts), verdict.message
    base = times["floor: read and hash every row"]
    median_verify = figure(times["verify"])["median_s"]
    return {
        "size": size,
        "events": verdict.events,
        "generated_in_s": fill_s,
        "verdict": verdict.message,
        "floor": "FLOOR_SQL through the driver, one sha256 per row over the previous hash and its values",
        "cases": [
            {
                "case": "floor: read and hash every row",
                **figure(base),
                "ratio": 1.0,
                "goal": None,
                "met": None,
            },
            {
                "case": "verify (models.audit.verify)",
                **figure(times["verify"]),
                "ratio": ratio(times["verify"], base),
                "goal": f"< {GOAL_S:.0f} s",
                "met": median_verify < GOAL_S,
            },
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1m", choices=sorted(SIZES))
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = run(args.size, args.postgres, args.runs)
    path = write("audit_chain", data, postgres=args.postgres, out=args.out)
    print(data["verdict"])
    for row in data["cases"]:
        print(f"{row['case']:<40} {row['median_s']:>8.3f} s  {row['ratio']:>5.2f} ×")
    print(path)


if __name__ == "__main__":
    main()
