"""Benchmark: what importing a stage flow's module costs a run process, against a no-op flow.

Every stage run is a new process that first imports its flow's module (prefect.yaml's
entrypoint). This measures, in fresh interpreters, the CPU seconds and wall time of
`import flows.<stage>` for every stage beside a no-op flow module (prefect and one @flow, the
floor every run pays), the median of `--repeat` imports each, interleaved; and, from
`-X importtime`, which packages the stage adds on top of the no-op. With `--before COMMIT`
the same is measured for that commit's tree (exported with git archive), interleaved.

    uv run python bench/import_cost.py --before <commit>   # → results/import_cost-<date>.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
STAGES = [
    "topic",
    "subject",
    "prestudy",
    "session",
    "report",
    "transfer",
    "implementation",
    "assessment",
]
NOOP = "from prefect import flow\n\n@flow\ndef noop(topic_id: int) -> None:\n    pass\n"
# Packages worth naming when a stage loads them on top of the no-op.
WATCH = [
    "sqlalchemy",
    "sqlmodel",
    "apprise",
    "jinja2",
    "holidays",
    "chinese_calendar",
    "jwt",
    "markdown",
    "matplotlib",
    "openpyxl",
    "fpdf",
    "pwdlib",
    "alembic",
    "psycopg",
]

PROBE = """
import resource, sys, time
t0 = time.perf_counter()
__import__(sys.argv[1])
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss)
"""


def measure(module: str, tree: Path) -> tuple[float, float, float]:
    """(wall s of the import, CPU s of the whole process, max RSS MB) in a fresh interpreter."""
    env = os.environ | {"PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[2]) / 1024


def loaded(module: str, tree: Path) -> dict[str, float]:
    """Cumulative import seconds of the watched top-level packages (-X importtime)."""
    env = os.environ | {"PYTHONPATH": str(tree)}
    err = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    found: dict[str, float] = {}
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)$", line)
        if m and m.group(3) in WATCH:
            found[m.group(3)] = int(m.group(1)) / 1e6
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--before", metavar="COMMIT", help="同时测量该提交的代码树")
    parser.add_argument("--stages", nargs="*", default=STAGES)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="xs-imports-"))
    try:
        trees = {"now": ROOT}
        if args.before:
            tree = work / "before"
            tree.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            trees["before"] = tree
        for tree in trees.values():
            (tree / "bench_noop_flow.py").write_text(NOOP, encoding="utf-8")
        modules = ["bench_noop_flow"] + [f"flows.{s}" for s in args.stages]
        samples: dict[str, dict[str, list[tuple[float, float, float]]]] = {
            side: {m: [] for m in modules} for side in trees
        }
        for _ in range(args.repeat):
            for m in modules:
                for side, tree in trees.items():
                    samples[side][m].append(measure(m, tree))
        result: dict[str, Any] = {
            "benchmark": "import_cost",
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "load_average": os.getloadavg(),
            },
            "repeat": args.repeat,
            "before": args.before,
            "sides": {},
        }
        for side, tree in trees.items():
            noop = samples[side]["bench_noop_flow"]
            noop_cpu = statistics.median(x[1] for x in noop)
            rows = {}
            for m in modules:
                xs = samples[side][m]
                cpu = [x[1] for x in xs]
                rows[m] = {
                    "import_wall_s": round(statistics.median(x[0] for x in xs), 3),
                    "cpu_s": round(statistics.median(cpu), 3),
                    "cpu_min_max": [round(min(cpu), 3), round(max(cpu), 3)],
                    "rss_mb": round(statistics.median(x[2] for x in xs), 1),
                    "cpu_over_noop": round(statistics.median(cpu) / noop_cpu, 2),
                }
            rows["packages_loaded_by_flows.topic"] = loaded("flows.topic", tree)  # type: ignore[assignment]
            rows["packages_loaded_by_noop"] = loaded("bench_noop_flow", tree)  # type: ignore[assignment]
            result["sides"][side] = rows
    finally:
        (ROOT / "bench_noop_flow.py").unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"import_cost-{dt.date.today().isoformat()}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print("| module | " + " | ".join(f"{s}: CPU s (× no-op), RSS MB" for s in trees) + " |")
    print("|---|" + "---|" * len(trees))
    for m in modules:
        cells = []
        for side in trees:
            r = result["sides"][side][m]
            cells.append(f"{r['cpu_s']:.2f} ({r['cpu_over_noop']:.2f}×), {r['rss_mb']:.0f}")
        print(f"| {m} | " + " | ".join(cells) + " |")
    for side in trees:
        print(side, "flows.topic loads:", result["sides"][side]["packages_loaded_by_flows.topic"])
    print(f"→ {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
