"""Benchmark: how long a stage a person starts takes to begin, with and without a busy sweep.

One embedded stack (its own Prefect server on a free port with a throw-away PostgreSQL
database — on SQLite the server itself answers 503 under this load — one process serving the
API and every deployment, SQLite case file in a temporary directory). Rounds alternate between

- **idle**: the follow-up schedule paused and the background drained (no run in flight);
- **busy**: the sweep on a 5 s interval and a client asking for on-demand sweeps and weekly
  dispatches every 0.2 s (the burst pattern of issue 8);

and each round starts one topic stage and measures from the HTTP call to the flow body
running (the run's RUNNING time as Prefect records it), and to the stage runner taking the run
(its PENDING time: a run waiting for a free slot would wait here). Median and spread per mode,
the ratio of the medians, and what the background did meanwhile.

    uv run python bench/stage_latency.py [--rounds 6]   # XS_BENCH_PG_URL: PostgreSQL admin URL

Writes bench/results/stage_latency-<date>.json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
BACKGROUND_FLOWS = ["follow-up", "weekly-dispatch"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per mode (interleaved)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="xs-bench-latency-"))
    pg_admin = os.environ.get(
        "XS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    for key in [k for k in os.environ if k.startswith(("PREFECT_", "XS_"))]:
        del os.environ[key]
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    prefect_db = f"xs_bench_prefect_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{prefect_db}"'))
    os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = (
        pg_admin.rsplit("/", 1)[0].replace("+psycopg", "+asyncpg") + f"/{prefect_db}"
    )
    os.environ.update(
        XS_DATA_DIR=str(tmp / "data"),
        XS_PREFECT_PORT=str(_free_port()),
        XS_API_PORT=str(_free_port()),
        XS_FOLLOW_UP_INTERVAL_SECONDS="5",
    )
    import httpx

    from config.settings import get_settings
    from runtime.demo import Client, bootstrap_administrator, wait_for_run
    from runtime.stack import Stack

    settings = get_settings()
    stack = Stack(settings, log_dir=tmp / "logs")
    began = dt.datetime.now(dt.UTC)
    try:
        stack.start()
        api, prefect = stack.api_url, stack.prefect_api_url
        c = Client(api).signed_in(*bootstrap_administrator("bench"))
        sweep = httpx.get(f"{prefect}/deployments/name/follow-up/xieshang").json()["id"]

        def set_sweep(on: bool) -> None:
            action = "resume_deployment" if on else "pause_deployment"
            httpx.post(f"{prefect}/deployments/{sweep}/{action}", timeout=60).raise_for_status()

        stop = threading.Event()
        asked = {"requests": 0, "existing": 0}

        def hammer() -> None:
            targets = [("/follow-ups/sweep", None), ("/dispatch/weekly", None)]
            i = 0
            while not stop.is_set():
                path, body = targets[i % len(targets)]
                try:
                    r = httpx.post(f"{api}{path}", json=body, timeout=60, headers=c.headers)
                    asked["requests"] += 1
                    asked["existing"] += bool(r.json().get("existing"))
                except httpx.HTTPError:
                    pass
                i += 1
                time.sleep(0.2)

        def in_flight() -> int:
            runs = httpx.post(
                f"{prefect}/flow_runs/filter",
                json={
                    "flows": {"name": {"any_": BACKGROUND_FLOWS}},
                    "flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING"]}}},
                },
                timeout=60,
            ).json()
            return len(runs)

        def pickup(run_id: str, t0: dt.datetime) -> float:
            """Seconds from the call to the runner taking the run (its Pending state)."""
            states = httpx.get(
                f"{prefect}/flow_run_states/", params={"flow_run_id": run_id}, timeout=60
            ).json()
            pending = min(
                dt.datetime.fromisoformat(st["timestamp"])
                for st in states
                if st["type"] == "PENDING"
            )
            return (pending - t0).total_seconds()

        def one_stage() -> tuple[float, float, int]:
            tid = c.post(
                "/topics",
                {
                    "title": f"基准议题 {uuid.uuid4().hex[:6]}",
                    "description": "小区门前道路坑洼积水，雨天出行困难，居民希望尽快修复。",
                    "category": "市政设施",
                    "source": "public",
                },
            )["id"]
            t0 = dt.datetime.now(dt.UTC)
            run_id = c.post(f"/topics/{tid}/stages/topic")["flow_run_id"]
            busy_then = in_flight()
            run = wait_for_run(c, run_id)
            assert run["state_type"] == "COMPLETED", run
            started = dt.datetime.fromisoformat(run["start_time"])
            return (started - t0).total_seconds(), pickup(run_id, t0), busy_then

        samples: dict[str, list[float]] = {"idle": [], "busy": []}
        pickups: dict[str, list[float]] = {"idle": [], "busy": []}
        background: dict[str, list[int]] = {"idle": [], "busy": []}
        one_stage()  # warm-up: first imports, first process
        for _ in range(args.rounds):
            for mode in ("idle", "busy"):
                worker = None
                if mode == "busy":
                    set_sweep(True)
                    stop.clear()
                    worker = threading.Thread(target=hammer, daemon=True)
                    worker.start()
                    time.sleep(6)  # let the background fill up before measuring
                else:
                    set_sweep(False)
                    drained = time.monotonic() + 300
                    while in_flight() and time.monotonic() < drained:
                        time.sleep(1)
                latency, taken, busy_then = one_stage()
                samples[mode].append(round(latency, 3))
                pickups[mode].append(round(taken, 3))
                background[mode].append(busy_then)
                if worker is not None:
                    stop.set()
                    worker.join()
                print(
                    f"{mode:<4} body running after {latency:6.2f} s, taken by the runner after"
                    f" {taken:5.2f} s (background runs in flight: {busy_then})"
                )

        sweeps = httpx.post(
            f"{prefect}/flow_runs/filter",
            json={"flows": {"name": {"any_": ["follow-up"]}}, "limit": 200},
        ).json()
        ran = [r for r in sweeps if r["run_count"] > 0]
    finally:
        stop_all = locals().get("stop")
        if isinstance(stop_all, threading.Event):
            stop_all.set()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{prefect_db}" WITH (FORCE)'))
        admin.dispose()

    def stats(xs: list[float]) -> dict[str, float]:
        q = statistics.quantiles(xs, n=4) if len(xs) >= 2 else [xs[0]] * 3
        return {
            "median": round(statistics.median(xs), 3),
            "min": min(xs),
            "max": max(xs),
            "iqr": round(q[2] - q[0], 3),
        }

    idle, busy = stats(samples["idle"]), stats(samples["busy"])
    result: dict[str, Any] = {
        "benchmark": "stage start latency (HTTP call → flow body running)",
        "when": began.isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "rounds_per_mode": args.rounds,
        "stage_run_limit": settings.stage_run_limit,
        "background_run_limit": settings.background_run_limit,
        "idle_seconds": idle,
        "busy_seconds": busy,
        "busy_over_idle_median": round(busy["median"] / idle["median"], 2),
        # Call → the stage runner took the run (Pending): waiting for a slot would show here.
        "taken_by_runner_idle_seconds": stats(pickups["idle"]),
        "taken_by_runner_busy_seconds": stats(pickups["busy"]),
        "samples": samples,
        "taken_by_runner_samples": pickups,
        "background_runs_in_flight_at_start": background,
        "on_demand_requests": asked,
        "sweeps_ran": len(ran),
        "sweeps_dropped_as_overlap": sum(1 for r in sweeps if r["state_type"] == "CANCELLED"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"stage_latency-{began.date().isoformat()}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("idle_seconds", "busy_seconds")}, indent=2))
    print(f"busy/idle median: {result['busy_over_idle_median']} → {out}")


if __name__ == "__main__":
    main()
