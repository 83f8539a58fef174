"""Every benchmark in one command, and the summary table of bench/README.md.

Runs each benchmark script (each on SQLite and on PostgreSQL where it touches the app's
database), collects their JSON into bench/results/<date>.json and rewrites the table between
the `bench-table` markers at the top of bench/README.md: benchmark, database, figure,
baseline, ratio, goal, met. A benchmark not run this time (`--only`) keeps the row of its
latest result file, with that file's date.

    uv run python bench/all.py                 # full sizes (1M items), every benchmark
    uv run python bench/all.py --quick         # 10k items, fewer runs: a smoke of the lot
    uv run python bench/all.py --only kpis sweep audit_chain waiting
    uv run python bench/all.py --table-only    # rewrite the table from the latest results

The generated case files are kept between runs (bench/generate.py `case_file`, in
$XS_BENCH_CACHE); `--drop-cached` removes them (SQLite files and xs_bench_cache_* databases)
at the end. A quick run writes results/<date>-quick.json and leaves README.md alone unless
`--readme`. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
README = BENCH / "README.md"
BEGIN, END = "<!-- bench-table -->", "<!-- /bench-table -->"
DATABASES = ("sqlite", "postgresql")

Row = dict[str, Any]


def _num(value: Any, unit: str = "s") -> str:
    if value is None:
        return "—"
    if isinstance(value, int | float):
        return f"{value:,.3g} {unit}".strip() if value < 100 else f"{value:,.0f} {unit}".strip()
    return str(value)


def _ratio(value: Any) -> str:
    return "—" if value is None else f"{value} ×"


def _met(value: Any) -> str:
    return "—" if value is None else ("✓" if value else "✗")


def cases_rows(title: str) -> Callable[[dict[str, Any]], list[Row]]:
    """The new scripts' uniform shape: a floor case, then cases with ratio, goal, met."""

    def rows(data: dict[str, Any]) -> list[Row]:
        cases = data.get("cases", [])
        size = f" ({data['size']})" if data.get("size") else ""
        floor = next((c for c in cases if c["case"].startswith("floor")), None)
        out = []
        for c in cases:
            if c is floor:
                continue
            fig = c.get("figure") or (
                f"{_num(c['median_s'])} ({_num(c['min_s'], '')}–{_num(c['max_s'], '')})"
            )
            base = (
                f"{_num(floor['median_s'])} ({floor['case'].removeprefix('floor: ')})"
                if floor
                else "—"
            )
            out.append(
                {
                    "benchmark": f"{title}{size}: {c['case']}",
                    "figure": fig,
                    "baseline": base,
                    "ratio": c.get("ratio"),
                    "goal": c.get("goal") or "—",
                    "met": c.get("met"),
                }
            )
        return out

    return rows


def api_rows(data: dict[str, Any]) -> list[Row]:
    out = []
    for f in data.get("figures", []):
        app, bare = f["app_rps"]["median"], f["bare_rps"]["median"]
        out.append(
            {
                "benchmark": f"API reads, 8 clients: {f['endpoint']} throughput",
                "figure": f"{app:,.0f} req/s",
                "baseline": f"{bare:,.0f} req/s (bare FastAPI)",
                "ratio": f.get("throughput_ratio"),
                "goal": "≥ 0.5 ×",
                "met": (f.get("throughput_ratio") or 0) >= 0.5,
            }
        )
        out.append(
            {
                "benchmark": f"API reads, 8 clients: {f['endpoint']} p99",
                "figure": f"{f['app_p99_s']['median'] * 1000:,.0f} ms",
                "baseline": f"{f['bare_p99_s']['median'] * 1000:,.0f} ms",
                "ratio": f.get("p99_ratio"),
                "goal": "≤ 3 ×",
                "met": (f.get("p99_ratio") or 99) <= 3,
            }
        )
    return out


def import_rows(data: dict[str, Any]) -> list[Row]:
    now = data.get("sides", {}).get("now", {})
    noop = now.get("bench_noop_flow", {})
    return [
        {
            "benchmark": f"stage run import cost: {name}",
            "figure": f"{v['cpu_s']} CPU s, {v['rss_mb']} MB",
            "baseline": f"{noop.get('cpu_s')} CPU s (no-op flow)",
            "ratio": v.get("cpu_over_noop"),
            "goal": "≤ 1.2 ×",
            "met": (v.get("cpu_over_noop") or 99) <= 1.2,
        }
        for name, v in now.items()
        if name.startswith("flows.")
    ]


def dispatch_rows(data: dict[str, Any]) -> list[Row]:
    return [
        {
            "benchmark": f"weekly dispatch, {data.get('items', 0):,} items",
            "figure": _num(data.get("dispatch_seconds")),
            "baseline": f"{_num(data.get('raw_select_seconds'))} (raw select)",
            "ratio": data.get("dispatch_over_raw_select"),
            "goal": "≤ 3 ×",
            "met": (data.get("dispatch_over_raw_select") or 99) <= 3,
        }
    ]


def latency_rows(data: dict[str, Any]) -> list[Row]:
    idle, busy = data.get("idle_seconds", {}), data.get("busy_seconds", {})
    return [
        {
            "benchmark": "stage start, busy sweep vs idle (not yet against a no-op run)",
            "figure": f"{_num(busy.get('median'))} busy",
            "baseline": f"{_num(idle.get('median'))} idle",
            "ratio": data.get("busy_over_idle_median"),
            "goal": "≤ 1.2 × a no-op run (not measured here)",
            "met": None,
        }
    ]


def ledger_rows(data: dict[str, Any]) -> list[Row]:
    sec = data.get("seconds", {})
    total = data.get("dry_run_plus_apply_median")
    return [
        {
            "benchmark": f"台账 import, {data.get('rows', 0):,} rows (dry run + apply)",
            "figure": _num(total),
            "baseline": f"{_num(sec.get('baseline', {}).get('median'))} (raw executemany)",
            "ratio": data.get("apply_over_baseline_median"),
            "goal": "< 60 s",
            "met": None if total is None else total < 60,
        }
    ]


def launch_rows(data: dict[str, Any]) -> list[Row]:
    lat, cpu, burst = data["latency_seconds"], data["cpu_seconds_per_run"], data["throughput"]
    return [
        {
            "benchmark": "stage launch: API call → flow body",
            "figure": _num(lat["stage"]["median"]),
            "baseline": f"{_num(lat['noop']['median'])} (no-op flow, same runner)",
            "ratio": data.get("latency_ratio"),
            "goal": "≤ 1.2 ×",
            "met": (data.get("latency_ratio") or 99) <= 1.2,
        },
        {
            "benchmark": "stage launch: CPU per run",
            "figure": f"{cpu['stage']['median']} CPU s",
            "baseline": f"{cpu['noop']['median']} CPU s (no-op flow)",
            "ratio": data.get("cpu_ratio"),
            "goal": "≤ 1.2 ×",
            "met": (data.get("cpu_ratio") or 99) <= 1.2,
        },
        {
            "benchmark": f"stage launch: {burst['stage']['runs']} back to back",
            "figure": f"{burst['stage']['runs_per_second']} runs/s",
            "baseline": f"{burst['noop']['runs_per_second']} runs/s (no-op flow)",
            "ratio": data.get("throughput_ratio"),
            "goal": "≥ 0.8 ×",
            "met": (data.get("throughput_ratio") or 0) >= 0.8,
        },
    ]


def scale_rows(data: dict[str, Any]) -> list[Row]:
    locked = sum(log["database_is_locked"] for log in data.get("logs", {}).values())
    return [
        {
            "benchmark": "scale-out: 30 concurrent stage starts, two workers (PostgreSQL)",
            "figure": f"{data['stage_runs_per_second']['median']} runs/s, {locked} locked",
            "baseline": f"{data['noop_runs_per_second']['median']} runs/s (no-op, same workers)",
            "ratio": data.get("throughput_ratio"),
            "goal": "≥ 0.8 ×, no database is locked",
            "met": (data.get("throughput_ratio") or 0) >= 0.8 and locked == 0,
        }
    ]


@dataclass(frozen=True)
class Bench:
    """One benchmark script: how to run it, where it writes, how its figures read."""

    name: str
    script: str
    databases: tuple[str, ...]  # ("—",) when it does not touch the app's database
    quick: tuple[str, ...]
    full: tuple[str, ...]
    result: str  # glob of its result files (SQLite or none); PostgreSQL adds "-postgres"
    rows: Callable[[dict[str, Any]], list[Row]]
    takes_out: bool = True  # the new scripts write where --out says

    def pattern(self, database: str) -> str:
        stem = self.result.removesuffix(".json")
        return f"{stem}-postgres.json" if database == "postgresql" else self.result


BENCHMARKS = [
    Bench("kpis", "kpis.py", DATABASES, ("--size", "10k", "--runs", "3"), ("--size", "1m", "--runs", "5"), "kpis-????-??-??.json", cases_rows("monthly KPIs")),
    Bench("sweep", "sweep.py", DATABASES, ("--size", "10k", "--runs", "3"), ("--size", "1m", "--runs", "5"), "sweep-????-??-??.json", cases_rows("follow-up sweep, 1 % due")),
    Bench("audit_chain", "audit_chain.py", DATABASES, ("--size", "10k", "--runs", "2"), ("--size", "1m", "--runs", "3"), "audit_chain-????-??-??.json", cases_rows("audit chain verify")),
    Bench("waiting", "waiting.py", DATABASES, ("--counts", "20", "200"), ("--counts", "100", "10000"), "waiting-????-??-??.json", cases_rows("waiting topics")),
    Bench("api_reads", "run.py", DATABASES, ("--size", "10k", "--runs", "2", "--seconds", "2"), ("--size", "100k",), "api_reads-????-??-??.json", api_rows, takes_out=False),
    Bench("import_cost", "import_cost.py", ("—",), ("--repeat", "2", "--stages", "topic"), (), "import_cost-????-??-??.json", import_rows, takes_out=False),
    Bench("weekly_dispatch", "weekly_dispatch.py", DATABASES, ("--items", "10000", "--topics", "200", "--repeat", "1", "--no-deliver"), (), "weekly_dispatch.json", dispatch_rows, takes_out=False),
    Bench("stage_latency", "stage_latency.py", ("—",), ("--rounds", "1"), ("--rounds", "6"), "stage_latency-????-??-??.json", latency_rows, takes_out=False),
    Bench("launch", "launch.py", DATABASES, ("--rounds", "1", "--burst", "3"), ("--rounds", "5", "--burst", "30"), "launch-????-??-??.json", launch_rows, takes_out=False),
    Bench("scale_out", "scale_out.py", ("—",), ("--runs", "5", "--rounds", "1"), ("--runs", "30", "--rounds", "2"), "scale_out-????-??-??.json", scale_rows, takes_out=False),
    Bench("ledger_import", "ledger_import.py", ("sqlite",), ("--rows", "1000", "--runs", "2"), (), "ledger_import-????-??-??.json", ledger_rows, takes_out=False),
]  # fmt: skip
BY_NAME = {b.name: b for b in BENCHMARKS}


def latest(bench: Bench, database: str) -> Path | None:
    found = sorted(RESULTS.glob(bench.pattern(database)), key=lambda p: (p.stat().st_mtime, p.name))
    return found[-1] if found else None


def run_one(bench: Bench, database: str, *, quick: bool, work: Path) -> tuple[dict | None, str]:
    """Run one script on one database; its JSON (or None) and what happened."""
    args = [sys.executable, str(BENCH / bench.script), *(bench.quick if quick else bench.full)]
    if database == "postgresql":
        args.append("--postgres")
    out = work / f"{bench.name}-{database}.json"
    if bench.takes_out and quick:
        args += ["--out", str(out)]
    began = time.time()
    print(f"▶ {bench.name} ({database}): {' '.join(args[1:])}", flush=True)
    done = subprocess.run(args, cwd=ROOT, env=os.environ.copy())
    if done.returncode != 0:
        return None, f"exit {done.returncode}"
    if bench.takes_out and quick:
        path: Path | None = out
    else:
        path = latest(bench, database)
        if path is not None and path.stat().st_mtime < began:
            path = None
    if path is None or not path.exists():
        return None, "no result file"
    return json.loads(path.read_text()), f"{time.time() - began:.0f} s"


def table(runs: dict[str, dict[str, Any]]) -> list[Row]:
    """Every benchmark's rows: from this run where it ran, else from its latest result."""
    rows: list[Row] = []
    for bench in BENCHMARKS:
        for database in bench.databases:
            key = f"{bench.name}:{database}"
            data = runs.get(key)
            when = "this run"
            if data is None:
                path = latest(bench, database)
                if path is None:
                    continue
                data = json.loads(path.read_text())
                when = data.get("date") or str(data.get("when", ""))[:10] or path.stem
            else:
                when = data.get("date", "this run")
            for row in bench.rows(data):
                rows.append({**row, "database": database, "when": when})
    return rows


def markdown(rows: list[Row], *, quick: bool) -> str:
    head = (
        f"Figures of `bench/all.py`{' --quick (10k items)' if quick else ''}, rewritten by it "
        f"({dt.date.today().isoformat()}, {os.cpu_count()} shared cores; each result file records "
        "the load it was measured under, and the sections below quote it): each a median against "
        "the floor measured in the same run; the sections below say what each measures.\n\n"
        "| benchmark | database | figure | baseline | ratio | goal | met | measured |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['benchmark']} | {r['database']} | {r['figure']} | {r['baseline']} | "
        f"{_ratio(r['ratio'])} | {r['goal']} | {_met(r['met'])} | {r['when']} |"
        for r in rows
    ]
    return head + "\n".join(lines) + "\n"


def rewrite_readme(text: str) -> None:
    old = README.read_text()
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in old and END in old:
        before, rest = old.split(BEGIN, 1)
        new = before + block + rest.split(END, 1)[1]
    else:  # first time: right under the title
        title, _, body = old.partition("\n")
        new = f"{title}\n\n{block}\n{body}"
    README.write_text(new)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k 规模、较少轮次的冒烟运行")
    parser.add_argument("--only", nargs="+", choices=list(BY_NAME), help="只运行这些基准")
    parser.add_argument("--databases", nargs="+", choices=DATABASES, default=list(DATABASES))
    parser.add_argument("--table-only", action="store_true", help="只按已有结果重写表格")
    parser.add_argument("--readme", action="store_true", help="快速运行也重写 README 表格")
    parser.add_argument("--drop-cached", action="store_true", help="结束时删除缓存的生成数据库")
    args = parser.parse_args()

    runs: dict[str, dict[str, Any]] = {}
    status: dict[str, str] = {}
    if not args.table_only:
        chosen = [BY_NAME[n] for n in args.only] if args.only else BENCHMARKS
        with tempfile.TemporaryDirectory(prefix="xs-bench-all-") as tmp:
            for bench in chosen:
                for database in bench.databases:
                    if database in DATABASES and database not in args.databases:
                        continue
                    data, said = run_one(bench, database, quick=args.quick, work=Path(tmp))
                    status[f"{bench.name}:{database}"] = said
                    if data is not None:
                        runs[f"{bench.name}:{database}"] = data
        day = dt.date.today().isoformat()
        out = RESULTS / f"{day}{'-quick' if args.quick else ''}.json"
        merged = json.loads(out.read_text()) if out.exists() else {"benchmarks": {}}
        merged["benchmarks"].update(runs)
        merged.update(date=day, quick=args.quick, load_average=list(os.getloadavg()))
        merged.setdefault("status", {}).update(status)
        out.write_text(json.dumps(merged, ensure_ascii=False, indent=2, default=str) + "\n")
        print(f"→ {out}")
        for key, said in status.items():
            print(f"  {key}: {said}")
    if args.drop_cached:
        sys.path.insert(0, str(ROOT))
        from bench.generate import drop_cached

        print("dropped:", drop_cached())
    if args.table_only or not args.quick or args.readme:
        rows = table({} if args.quick and not args.readme else runs)
        rewrite_readme(markdown(rows, quick=args.quick))
        print(f"→ {README} ({len(rows)} rows)")
    failed = [k for k, s in status.items() if not s.endswith(" s")]
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
