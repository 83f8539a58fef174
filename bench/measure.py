"""What every benchmark of issue 11 shares: interleaved timing, figures, and the result file.

Each figure is a ratio against a floor measured in the same run on the same data: the cases
of one measurement run one after another, each first in turn (runs interleaved), so load from
other work on the machine falls on both sides alike.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def interleaved(cases: dict[str, Callable[[], Any]], runs: int) -> dict[str, list[float]]:
    """Run every case `runs` times, round by round, rotating which goes first; seconds each."""
    names = list(cases)
    times: dict[str, list[float]] = {n: [] for n in names}
    for r in range(runs):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            t0 = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def figure(seconds: list[float]) -> dict[str, float]:
    """Median and spread of one case's runs."""
    return {
        "median_s": round(statistics.median(seconds), 4),
        "min_s": round(min(seconds), 4),
        "max_s": round(max(seconds), 4),
        "runs": len(seconds),
    }


def ratio(case: list[float], floor: list[float]) -> float:
    return round(statistics.median(case) / statistics.median(floor), 2)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def write(name: str, data: dict[str, Any], *, postgres: bool, out: Path | None = None) -> Path:
    """results/<name>-<date>[-postgres].json (or `out`), with the machine's load beside it."""
    RESULTS.mkdir(exist_ok=True)
    day = dt.date.today().isoformat()
    path = out or RESULTS / f"{name}-{day}{'-postgres' if postgres else ''}.json"
    data = {
        "benchmark": name,
        "database": "postgresql" if postgres else "sqlite",
        "date": day,
        "load_average": load_average(),
        "cpus": os.cpu_count(),
        **data,
    }
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    return path
