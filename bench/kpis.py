"""Benchmark: the monthly KPIs and the monthly bulletin's queries over 1,000,000 items.

The floor is ONE sequential pass over the items table that reads every column the KPI
formulas read (transferred, completed, deadline and original deadline, acknowledged and its
due time, re-checked, rebound, solved, long-term, status, topic and lead department),
aggregated in the database so nothing but one row is fetched: any KPI over every item of the
province must read each item at least once, and none of them can do less work than this.
Against it, in the same run on the same data, each of:

- `kpis.compute` for the month over all topics (items, returns, ratings, suggestions and
  rating requests: one aggregate each),
- per department (`bulletin.department_kpis`, what the ranking ranks),
- the bulletin's other queries (per topic, the overdue list) and the whole
  `bulletin.compute`, the data the bulletin's files are built from (its overall counts are
  the departments' sums, so they cost no query of the items of their own).

    uv run python bench/kpis.py [--size 1m] [--postgres] [--runs 5]

Writes bench/results/kpis-<date>[-postgres].json. Not a test: nothing here asserts a time.
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

GOAL = 1.5
MONTH = "2026-05"  # the month before the generator's "now": what the June 1 bulletin reports

FLOOR_SQL = """
SELECT count(*), count(transferred_at), count(completed_at), count(deadline),
       count(original_deadline), count(acknowledged_at), count(ack_due_at),
       count(rechecked_at), sum(CASE WHEN rebound THEN 1 ELSE 0 END),
       sum(CASE WHEN solved THEN 1 ELSE 0 END), sum(CASE WHEN long_term_mechanism THEN 1 ELSE 0 END),
       count(status), sum(topic_id), sum(lead_department_id)
FROM rectification_item
"""


def run(size: str, postgres: bool, runs: int) -> dict[str, Any]:
    from sqlmodel import Session

    from config.db import engine_for, read_only
    from models import bulletin, kpis
    from models.bulletin import BulletinKind

    url, _made = case_file(size, postgres)
    engine = read_only(engine_for(url))
    period = bulletin.parse_period(BulletinKind.MONTHLY, MONTH)
    window = period.window

    def reading(fn: Any) -> Any:
        def once() -> Any:
            with Session(engine) as session:
                return fn(session)

        return once

    floor = reading(lambda s: s.connection().exec_driver_sql(FLOOR_SQL).all())
    cases = {
        "floor: one pass over the items": floor,
        "KPIs of the month, all topics (kpis.compute)": reading(lambda s: kpis.compute(s, window)),
        "KPIs per department (bulletin.department_kpis)": reading(
            lambda s: bulletin.department_kpis(s, period)
        ),
        "bulletin: per topic (topic_kpis)": reading(lambda s: bulletin.topic_kpis(s, period)),
        "bulletin: overdue list (overdue_items)": reading(
            lambda s: bulletin.overdue_items(s, period, limit=50)
        ),
        "bulletin: everything (bulletin.compute)": reading(
            lambda s: bulletin.compute(s, period, now=NOW)
        ),
    }
    floor()  # warm the page cache; the rotation below gives every case the same chances
    times = interleaved(cases, runs)
    base = times["floor: one pass over the items"]
    with Session(engine) as session:
        overall = kpis.compute(session, window)
        whole = bulletin.compute(session, period, now=NOW)
    rows = [
        {
            "case": name,
            **figure(t),
            "ratio": ratio(t, base),
            "goal": None if name.startswith("floor") else f"≤ {GOAL} ×",
            "met": None if name.startswith("floor") else ratio(t, base) <= GOAL,
        }
        for name, t in times.items()
    ]
    return {
        "size": size,
        "items": int(floor()[0][0]),
        "month": MONTH,
        "floor": "SELECT of every column the KPIs read, aggregated in the database (FLOOR_SQL)",
        "cases": rows,
        "check": {
            "items_due": overall["items_due"],
            "completion_rate": overall["completion_rate"],
            "departments": len(whole["departments"]),
            "topics": len(whole["topics"]),
            "overdue_total": whole["overdue"]["total"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="1m", choices=["10k", "100k", "1m"])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = run(args.size, args.postgres, args.runs)
    path = write("kpis", data, postgres=args.postgres, out=args.out)
    for row in data["cases"]:
        print(f"{row['case']:<50} {row['median_s']:>8.3f} s  {row['ratio']:>5.2f} ×")
    print(path)


if __name__ == "__main__":
    main()
