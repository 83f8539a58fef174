"""Benchmark: the follow-up sweep over 1,000,000 items with 10,000 deadline rungs due.

The case file (bench/generate.py, `Shape.due`) leaves 1 % of the items' latest past deadline
rung open — 10,000 at 1M, each a different rung of the ladder (即将到期 … 督办) by how late
the item is. Against the floor, in the same run on the same data:

- **floor**: the raw SQL that selects the due rows with what a reminder needs (the owing
  person, the topic, the item, its department, its latest plan), fetched with the driver;
- **sweep, DB part**: exactly the statements `models.followup.sweep` executed, with their
  parameters (captured from one run), replayed through the driver and fetched: settling the
  fulfilled rungs, selecting the due ones, finding heads, inserting the outbox rows, marking
  the rungs sent;
- **whole sweep**: `models.followup.sweep` itself (wording every reminder included).

Every timed run is rolled back, so each starts from the same 10,000 due rungs.

    uv run python bench/sweep.py [--size 1m] [--postgres] [--runs 5]

Writes bench/results/sweep-<date>[-postgres].json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import NOW, case_file  # noqa: E402
from bench.measure import figure, interleaved, ratio, write  # noqa: E402

GOAL = 2.0

RAW_SQL = """
SELECT f.id, f.topic_id, f.obligation, f.subject_id, f.step, f.deadline, f.provisional,
       p.name, p.tag, p.department_id, t.title, i.title, i.lead_department_id, d.name, p.role,
       (SELECT pl.status FROM plan pl WHERE pl.item_id = f.subject_id
        ORDER BY pl.version DESC LIMIT 1)
FROM follow_up f
JOIN topic t ON t.id = f.topic_id
LEFT JOIN person p ON p.id = f.owed_by_id
LEFT JOIN rectification_item i ON f.obligation IN ({item_obligations}) AND i.id = f.subject_id
LEFT JOIN department d ON d.id = i.lead_department_id
WHERE f.status = 'open' AND f.due_at <= :now
ORDER BY f.id
"""


def capture(engine: Any, fn: Any) -> list[tuple[str, Any, bool]]:
    """The statements (with parameters) `fn` sends to the database, in order."""
    from sqlalchemy import event

    seen: list[tuple[str, Any, bool]] = []

    def before(_conn: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "SAVEPOINT", "RELEASE")):
            seen.append((statement, params, many))

    event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return seen


def replay(engine: Any, statements: list[tuple[str, Any, bool]]) -> None:
    """Run captured statements through the driver in one transaction, fetch, roll back."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("BEGIN IMMEDIATE")  # the sweep's own transactions begin so
        for statement, params, many in statements:
            if many:
                cur.executemany(statement, params)
            else:
                cur.execute(statement, params)
            if cur.description is not None:
                cur.fetchall()
        raw.rollback()
    finally:
        raw.close()


def run(size: str, postgres: bool, runs: int) -> dict[str, Any]:
    from sqlalchemy import bindparam, text
    from sqlmodel import Session

    from config.db import engine_for
    from models import followup
    from models.obligations import ITEM_OBLIGATIONS
    from models.tables import FollowUp

    url, _made = case_file(size, postgres)
    engine = engine_for(url)
    raw_sql = text(
        RAW_SQL.format(item_obligations=", ".join(f"'{o.value}'" for o in ITEM_OBLIGATIONS))
    ).bindparams(bindparam("now", value=NOW, type_=FollowUp.__table__.c.due_at.type))

    def floor() -> int:
        with engine.connect() as conn:
            return len(conn.execute(raw_sql).all())

    def whole() -> dict[str, Any]:
        with Session(engine) as session:
            summary = followup.sweep(session, now=NOW)
            session.rollback()  # every timed run starts from the same due rungs
            return summary

    statements = capture(engine, whole)

    def db_part() -> None:
        replay(engine, statements)

    due = floor()
    summary = whole()
    cases = {
        "floor: raw select of the due rows": floor,
        "sweep, DB part": db_part,
        "whole sweep": whole,
    }
    times = interleaved(cases, runs)
    base = times["floor: raw select of the due rows"]
    rows = []
    for name, t in times.items():
        is_floor = name.startswith("floor")
        rows.append(
            {
                "case": name,
                **figure(t),
                "ratio": ratio(t, base),
                "goal": None if is_floor else f"≤ {GOAL} ×",
                "met": None if is_floor else ratio(t, base) <= GOAL,
            }
        )
    with engine.connect() as conn:
        follow_ups = conn.execute(text("SELECT count(*) FROM follow_up")).scalar_one()
        items = conn.execute(text("SELECT count(*) FROM rectification_item")).scalar_one()
    return {
        "size": size,
        "items": items,
        "follow_up_rows": follow_ups,
        "due_rows": due,
        "sweep": summary,
        "statements": len(statements),
        "floor": "RAW_SQL: the due rungs with their person, topic, item, department, latest plan",
        "cases": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1m", choices=["10k", "100k", "1m"])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = run(args.size, args.postgres, args.runs)
    path = write("sweep", data, postgres=args.postgres, out=args.out)
    print(f"due {data['due_rows']}, sweep {data['sweep']}, {data['statements']} statements")
    for row in data["cases"]:
        print(f"{row['case']:<40} {row['median_s']:>8.3f} s  {row['ratio']:>5.2f} ×")
    print(path)


if __name__ == "__main__":
    main()
