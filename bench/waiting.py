"""Benchmark: topics waiting for people hold no process, and memory stays flat.

A topic that waits (回执 of the participants, 签收 of its items, a report to approve …) is a
row in a waiting state and its follow-up rows, not a live flow run: the stage's run finished
when the stage reached its wait. Shown by measurement, with 100 and with 10,000 waiting
topics: each case file (bench/generate.py, topics in every stage, about 80 % of them in a
waiting state, their items' ladders open) gets its own embedded stack (runtime.stack.Stack,
as `xieshang up`: a local Prefect server and the one process serving the API and every
deployment); one follow-up sweep runs over all of it; then, with the stack idle:

- the RSS of the serving process and all its descendants (kB from /proc), and how many OS
  processes it has;
- the flow runs Prefect holds in PENDING or RUNNING state, and all flow runs it knows.

The figure is the ratio of the serving process's memory at 10,000 to that at 100 waiting
topics (goal ≈ 1 ×: flat). The processes and live runs should not grow at all.

    uv run python bench/waiting.py [--counts 100 10000] [--postgres]

Writes bench/results/waiting-<date>[-postgres].json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.generate import Shape, cached_database  # noqa: E402
from bench.measure import write  # noqa: E402

GOAL = 1.2  # "≈ 1 ×": within the noise of one Python process's heap


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _descendants(pid: int) -> list[int]:
    """The process and everything it started, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(waiting_topics: int, postgres: bool) -> dict[str, Any]:
    """One stack on a case file with about `waiting_topics` topics waiting."""
    import httpx
    from sqlalchemy import text

    from config.db import engine_for

    topics = round(waiting_topics / 0.8)
    shape = Shape(items=max(1_000, topics), topics=topics)
    url, _made = cached_database(shape, postgres, name=f"waiting-{topics}", show_progress=False)
    with engine_for(url).connect() as conn:
        waiting = conn.execute(
            text("SELECT count(*) FROM topic WHERE stage_state = 'waiting'")
        ).scalar_one()
        open_follow_ups = conn.execute(
            text("SELECT count(*) FROM follow_up WHERE status = 'open'")
        ).scalar_one()
    engine_for(url).dispose()

    tmp = Path(tempfile.mkdtemp(prefix="xs-bench-waiting-"))
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith(("PREFECT_", "XS_"))]:
        del os.environ[key]
    os.environ.update(
        XS_DATA_DIR=str(tmp / "data"),
        XS_DATABASE_URL=url,
        XS_PREFECT_PORT=str(_free_port()),
        XS_API_PORT=str(_free_port()),
        XS_FOLLOW_UP_INTERVAL_SECONDS="3600",  # only the sweep asked for below
    )
    from config.settings import get_settings

    get_settings.cache_clear()
    from runtime.demo import Client, bootstrap_administrator, wait_for_run
    from runtime.stack import Stack

    stack = Stack(get_settings(), log_dir=tmp / "logs")
    try:
        stack.start(timeout=900)  # a loaded machine starts Prefect slowly
        client = Client(stack.api_url).signed_in(
            *bootstrap_administrator(f"waiting-{uuid.uuid4().hex[:6]}", url)
        )
        run = client.post("/follow-ups/sweep", None)
        swept = wait_for_run(client, run["id"], timeout=600)
        serve = next(p for name, p in stack.processes if name == "xieshang")
        prefect = stack.prefect_api_url

        def live_runs() -> int:
            states = {"any_": ["PENDING", "RUNNING"]}
            return len(
                httpx.post(
                    f"{prefect}/flow_runs/filter",
                    json={"flow_runs": {"state": {"type": states}}},
                    timeout=60,
                ).json()
            )

        for _ in range(60):  # until the sweep's process has gone (the runner settles)
            if live_runs() == 0:
                break
            time.sleep(1)
        time.sleep(3)  # the finished run's process exits after its final state
        samples = []
        for _ in range(5):  # idle: what waiting costs while nothing runs
            family = _descendants(serve.pid)
            samples.append(
                (_rss_kb(serve.pid), sum(_rss_kb(p) for p in family), len(family), live_runs())
            )
            time.sleep(1)
        rss, family_rss, processes, live = (
            sorted(col)[len(col) // 2] for col in zip(*samples, strict=True)
        )
        runs = httpx.post(f"{prefect}/flow_runs/count", json={}, timeout=60).json()
        return {
            "topics": topics,
            "waiting_topics": waiting,
            "open_follow_ups": open_follow_ups,
            "sweep_run": swept["state_type"],
            "serve_rss_kb": rss,
            "serve_family_rss_kb": family_rss,
            "serve_processes": processes,
            "flow_runs_pending_or_running": live,
            "flow_runs_total": runs,
        }
    finally:
        stack.stop()
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()
        shutil.rmtree(tmp, ignore_errors=True)


def run(counts: list[int], postgres: bool) -> dict[str, Any]:
    found = [measure(n, postgres) for n in counts]
    small, large = found[0], found[-1]
    mem = round(large["serve_rss_kb"] / small["serve_rss_kb"], 2)
    return {
        "counts": counts,
        "stacks": found,
        "cases": [
            {
                "case": f"serving process RSS, {large['waiting_topics']:,} vs "
                f"{small['waiting_topics']:,} waiting topics",
                "median_s": None,
                "figure": f"{large['serve_rss_kb'] / 1024:.0f} MB vs "
                f"{small['serve_rss_kb'] / 1024:.0f} MB",
                "ratio": mem,
                "goal": "≈ 1 × (flat)",
                "met": mem <= GOAL,
            },
            {
                "case": "OS processes / live flow runs while waiting",
                "median_s": None,
                "figure": f"{large['serve_processes']} / {large['flow_runs_pending_or_running']}"
                f" (vs {small['serve_processes']} / {small['flow_runs_pending_or_running']})",
                "ratio": None,
                "goal": "no growth",
                "met": large["serve_processes"] <= small["serve_processes"]
                and large["flow_runs_pending_or_running"] <= small["flow_runs_pending_or_running"],
            },
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[100, 10_000])
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    data = run(args.counts, args.postgres)
    path = write("waiting", data, postgres=args.postgres, out=args.out)
    for s in data["stacks"]:
        print(s)
    for row in data["cases"]:
        print(row["case"], row["figure"], row["ratio"])
    print(path)


if __name__ == "__main__":
    main()
