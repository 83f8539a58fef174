"""Benchmark: importing a department's 台账 of 10,000 rows (the domain part), on SQLite.

Each run starts from a copy of the same seeded case file (one topic in implementation, its
department with an officer) and times, for a CSV of 10,000 new items with their progress:

- **baseline**: a raw `executemany` INSERT of the same 10,000 items and progress rows through
  the sqlite3 driver — what any import must at least write;
- **dry run**: `models.ledger.dry_run` — read the sheet, validate and decide every row;
- **apply**: upload (dry run + storing the file) then `apply_file` batch by batch with a commit
  per batch (as the flow's task does) and `finish` (the counts must add up);
- **re-import**: the dry run of the same file again, which finds all 10,000 rows unchanged.

Also one dry run of the same rows as XLSX (openpyxl's reading is the slower format).

    uv run python bench/ledger_import.py [--rows 10000] [--runs 5]

Writes bench/results/ledger_import-<date>.json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"


def _sheet(header: list[str], rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow([row.get(h, "") for h in header])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _xlsx(header: list[str], rows: list[dict[str, Any]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    sheet.append(header)
    for row in rows:
        sheet.append([row.get(h, "") for h in header])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _seed(url: str) -> dict[str, Any]:
    from sqlmodel import Session

    from config.db import engine_for, migrate
    from models.enums import Stage
    from tests.factories import LoopBuilder

    migrate(url)
    with Session(engine_for(url)) as s:
        loop = LoopBuilder(s)
        topic = loop.advance(loop.topic(title="台账导入基准"), to=Stage.IMPLEMENTATION, start=True)
        item = loop.items(topic)[0]
        s.commit()
        seed = {
            "topic_id": topic.id,
            "suggestion_id": item.suggestion_id,
            "dept_id": loop.cast.dept_id,
            "dept_name": "区住建局",
            "officer_id": loop.cast.officer.id,
        }
    engine_for(url).dispose()  # the last connection closes: the WAL is folded into the file
    return seed


def _baseline(path: Path, seed: dict[str, Any], n: int) -> float:
    """The same rows written by hand: one executemany per table, one commit."""
    deadline = (dt.datetime.now(dt.UTC) + dt.timedelta(days=60)).replace(tzinfo=None)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    conn = sqlite3.connect(path)
    began = time.perf_counter()
    conn.executemany(
        "INSERT INTO rectification_item (topic_id, suggestion_id, title, lead_department_id,"
        " co_department_ids, officer_id, deadline, deadline_provisional, status, external_id,"
        " progress_percent, version) VALUES (?, ?, ?, ?, '[]', ?, ?, 0, 'draft', ?, 10, 1)",
        [
            (
                seed["topic_id"],
                seed["suggestion_id"],
                f"事项 {i}",
                seed["dept_id"],
                seed["officer_id"],
                deadline,
                f"B-{i}",
            )
            for i in range(n)
        ],
    )
    ids = conn.execute(
        "SELECT id FROM rectification_item WHERE external_id LIKE 'B-%' ORDER BY id"
    ).fetchall()
    conn.executemany(
        "INSERT INTO progress_update (item_id, by_id, note, percent, created_at)"
        " VALUES (?, ?, '已进场勘察', 10, ?)",
        [(i, seed["officer_id"], now) for (i,) in ids],
    )
    conn.commit()
    took = time.perf_counter() - began
    conn.close()
    return took


def _one_run(base: Path, seeded: Path, seed: dict[str, Any], content: bytes, n: int) -> dict:
    from sqlmodel import Session

    from config.db import engine_for
    from models import ledger
    from models.tables import Person

    raw_copy = base / "raw.db"
    shutil.copy(seeded, raw_copy)
    baseline = _baseline(raw_copy, seed, n)

    run_copy = base / "run.db"
    shutil.copy(seeded, run_copy)
    engine = engine_for(f"sqlite:///{run_copy}")
    with Session(engine, expire_on_commit=False) as s:
        began = time.perf_counter()
        tally = ledger.dry_run(s, seed["dept_id"], content, "csv")
        dry = time.perf_counter() - began
        assert tally.counts[ledger.Action.CREATE] == n, tally.counts
        s.rollback()

        officer = s.get(Person, seed["officer_id"])
        assert officer is not None
        began = time.perf_counter()
        row, _ = ledger.upload(
            s, department_id=seed["dept_id"], filename="台账.csv", content=content, by=officer
        )
        s.commit()
        ledger.begin(s, row.id)
        s.commit()
        for _ in ledger.apply_file(s, row.id):
            s.commit()
        done = ledger.finish(s, row.id)
        s.commit()
        apply = time.perf_counter() - began
        assert done.created == n and done.rows_done == n, done

        began = time.perf_counter()
        again = ledger.dry_run(s, seed["dept_id"], content, "csv")
        reimport = time.perf_counter() - began
        assert again.counts[ledger.Action.UNCHANGED] == n, again.counts
    engine.dispose()
    return {"baseline": baseline, "dry_run": dry, "apply": apply, "reimport_dry_run": reimport}


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    base = Path(tempfile.mkdtemp(prefix="xs-bench-ledger-"))
    seeded = base / "seeded.db"
    os.environ["XS_DATA_DIR"] = str(base / "data")
    os.environ["XS_DATABASE_URL"] = f"sqlite:///{seeded}"
    try:
        seed = _seed(f"sqlite:///{seeded}")
        from models import ledger

        header = [c.value for c in ledger.Column]
        deadline = (dt.date.today() + dt.timedelta(days=60)).isoformat()
        rows = [
            {
                "外部编号": f"JT-{i:05d}",
                "议题编号": seed["topic_id"],
                "建议编号": seed["suggestion_id"],
                "事项": f"楼道照明线路更换（第 {i} 栋）",
                "责任单位": seed["dept_name"],
                "期限": deadline,
                "进度": "10",
                "进展情况": "已进场勘察",
            }
            for i in range(args.rows)
        ]
        content = _sheet(header, rows)
        runs = [_one_run(base, seeded, seed, content, args.rows) for _ in range(args.runs)]

        from sqlmodel import Session

        from config.db import engine_for

        xlsx = _xlsx(header, rows)
        with Session(engine_for(f"sqlite:///{seeded}")) as s:
            began = time.perf_counter()
            tally = ledger.dry_run(s, seed["dept_id"], xlsx, "xlsx")
            xlsx_dry = time.perf_counter() - began
            assert tally.counts[ledger.Action.CREATE] == args.rows

        figures = {k: _stats([r[k] for r in runs]) for k in runs[0]}
        baseline = figures["baseline"]["median"]
        result = {
            "benchmark": f"台账 import of {args.rows} rows (domain part), SQLite",
            "when": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
            "rows": args.rows,
            "runs": args.runs,
            "batch": ledger.BATCH,
            "csv_bytes": len(content),
            "xlsx_bytes": len(xlsx),
            "seconds": figures,
            "xlsx_dry_run_seconds": round(xlsx_dry, 3),
            "apply_over_baseline_median": round(figures["apply"]["median"] / baseline, 1),
            "dry_run_plus_apply_median": round(
                figures["dry_run"]["median"] + figures["apply"]["median"], 3
            ),
        }
        RESULTS.mkdir(parents=True, exist_ok=True)
        out = RESULTS / f"ledger_import-{dt.date.today().isoformat()}.json"
        out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(result, ensure_ascii=False, indent=2))
        print(f"→ {out}")
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
