"""Benchmark: what starting a stage costs against a no-op flow started the same way.

One embedded stack (`xieshang up`'s processes: a Prefect server — on a throw-away PostgreSQL
database, as bench/stage_latency.py explains — and the app process serving the API and every
deployment; the case file on SQLite, or PostgreSQL with `--postgres`), the recurring schedules
paused. Beside it, a second runner process serves bench/noop_flow.py (same four-task shape,
same runner limit, an in-memory deployment as the stages are) against the same server.

- **latency**: from the HTTP call that starts a topic stage (`POST /topics/{id}/stages/topic`)
  to its flow body running (Prefect's RUNNING time), against the no-op flow's Prefect call
  (`POST /deployments/{id}/create_flow_run`) to its body running; rounds interleaved, each side
  going first in turn.
- **CPU per run**: the CPU seconds of the run processes that appear under each serving
  process while the batch runs, sampled from /proc (`RunProcesses`).
- **throughput**: `--burst` runs started back to back, runs per second from the first call to
  the last run finished.

    uv run python bench/launch.py [--rounds 5] [--burst 30] [--postgres]
                                       # → results/launch-<date>[-postgres].json

Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
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
RECURRING = ["follow-up", "weekly-dispatch", "monthly-bulletin", "quarterly-review"]
TICKS = os.sysconf("SC_CLK_TCK")


class RunProcesses:
    """Watches the processes under each serving process (a run is a fresh process there) and
    keeps each one's last seen CPU seconds, sampled every 0.1 s from /proc: the CPU of the runs
    started in an interval is the sum over the processes that appeared in it. A run's last
    < 0.1 s before it exits is missed, on both sides alike."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots
        self.seen: dict[tuple[int, int], tuple[str, float, float]] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.stop.is_set():
            parent: dict[int, int] = {}
            cpu: dict[int, tuple[int, float]] = {}
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                pid = int(stat.parent.name)
                parent[pid] = int(fields[1])
                cpu[pid] = (int(fields[19]), (int(fields[11]) + int(fields[12])) / TICKS)
            now = time.monotonic()
            for pid, (started, seconds) in cpu.items():
                root, up = None, parent.get(pid)
                while up and up > 1:
                    root = next((k for k, v in self.roots.items() if v == up), None)
                    if root:
                        break
                    up = parent.get(up)
                if root:
                    first = self.seen.get((pid, started), (root, 0.0, now))[2]
                    self.seen[(pid, started)] = (root, seconds, first)
            self.stop.wait(0.1)

    def cpu_since(self, side: str, since: float) -> float:
        return sum(s for root, s, first in self.seen.values() if root == side and first >= since)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()


def stats(xs: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(xs), 3),
        "min": round(min(xs), 3),
        "max": round(max(xs), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="latency rounds per side")
    parser.add_argument("--burst", type=int, default=30, help="runs started back to back")
    parser.add_argument("--postgres", action="store_true", help="the case file on PostgreSQL")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="xs-bench-launch-"))
    pg_admin = os.environ.get(
        "XS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    for key in [k for k in os.environ if k.startswith(("PREFECT_", "XS_"))]:
        del os.environ[key]
    from sqlalchemy import create_engine, text

    from bench.stage_latency import _free_port

    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    suffix = uuid.uuid4().hex[:8]
    prefect_db, app_db = f"xs_bench_prefect_{suffix}", f"xs_bench_launch_{suffix}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{prefect_db}"'))
        if args.postgres:
            conn.execute(text(f'CREATE DATABASE "{app_db}"'))
    base = pg_admin.rsplit("/", 1)[0]
    os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = (
        base.replace("+psycopg", "+asyncpg") + f"/{prefect_db}"
    )
    os.environ.update(
        XS_DATA_DIR=str(tmp / "data"),
        XS_PREFECT_PORT=str(_free_port()),
        XS_API_PORT=str(_free_port()),
        XS_FOLLOW_UP_INTERVAL_SECONDS="3600",
    )
    if args.postgres:
        os.environ["XS_DATABASE_URL"] = f"{base}/{app_db}"
    import httpx

    from config.settings import get_settings
    from runtime.demo import Client, bootstrap_administrator
    from runtime.stack import Stack

    settings = get_settings()
    stack = Stack(settings, log_dir=tmp / "logs")
    noop: subprocess.Popen | None = None
    began = dt.datetime.now(dt.UTC)
    try:
        stack.start()
        api, prefect = stack.api_url, stack.prefect_api_url
        app_pid = dict(stack.processes)["xieshang"].pid
        for name in RECURRING:
            found = httpx.get(f"{prefect}/deployments/name/{name}/xieshang", timeout=60)
            if found.status_code == 200:
                httpx.post(
                    f"{prefect}/deployments/{found.json()['id']}/pause_deployment", timeout=60
                ).raise_for_status()
        with open(tmp / "logs" / "noop.log", "ab") as log:
            noop = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "bench" / "noop_flow.py"),
                    *["--limit", str(settings.stage_run_limit)],
                ],
                env=stack.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        noop_deployment = ""
        for _ in range(240):
            found = httpx.get(f"{prefect}/deployments/name/noop-stage/noop", timeout=60)
            if found.status_code == 200:
                noop_deployment = found.json()["id"]
                break
            time.sleep(0.5)
        assert noop_deployment, "the no-op runner did not register its deployment"
        c = Client(api).signed_in(*bootstrap_administrator("bench"))

        def new_topic() -> int:
            tag = uuid.uuid4().hex
            return int(
                c.post(
                    "/topics",
                    {
                        "title": f"基准议题 {tag}",
                        "description": f"小区道路编号 {tag} 坑洼积水，雨天出行困难，居民希望修复。",
                        "category": "市政设施",
                        "source": "public",
                    },
                )["id"]
            )

        topics = [new_topic() for _ in range(args.rounds + args.burst + 1)]

        def start_stage() -> tuple[str, dt.datetime]:
            tid = topics.pop()  # made beforehand: only the start is timed
            t0 = dt.datetime.now(dt.UTC)
            return c.post(f"/topics/{tid}/stages/topic")["flow_run_id"], t0

        def start_noop() -> tuple[str, dt.datetime]:
            t0 = dt.datetime.now(dt.UTC)
            r = httpx.post(
                f"{prefect}/deployments/{noop_deployment}/create_flow_run",
                json={"parameters": {"topic_id": 1}},
                timeout=60,
            )
            r.raise_for_status()
            return r.json()["id"], t0

        def finished(run_id: str) -> dict[str, Any]:
            run = _wait_prefect(prefect, run_id)
            assert run["state_type"] == "COMPLETED", run
            return run

        sides = {"stage": start_stage, "noop": start_noop}
        watch = RunProcesses({"stage": app_pid, "noop": noop.pid})
        latency: dict[str, list[float]] = {"stage": [], "noop": []}
        cpu: dict[str, list[float]] = {"stage": [], "noop": []}
        for side in ("stage", "noop"):  # warm-up: first imports, first process of each
            finished(sides[side]()[0])
        for i in range(args.rounds):
            order = ("stage", "noop") if i % 2 == 0 else ("noop", "stage")
            for side in order:
                before = time.monotonic()
                run_id, t0 = sides[side]()
                run = finished(run_id)
                time.sleep(1.5)  # the run's process exits after reporting its state
                cpu[side].append(round(watch.cpu_since(side, before), 2))
                body = dt.datetime.fromisoformat(run["start_time"])
                latency[side].append(round((body - t0).total_seconds(), 3))
                print(
                    f"{side:<5} body after {latency[side][-1]:6.2f} s, {cpu[side][-1]:5.2f} CPU-s"
                )

        throughput: dict[str, dict[str, float]] = {}
        for side in ("stage", "noop"):
            first = time.monotonic()
            runs = [sides[side]()[0] for _ in range(args.burst)]
            ends = [dt.datetime.fromisoformat(finished(r)["end_time"]) for r in runs]
            elapsed = time.monotonic() - first
            time.sleep(2)
            throughput[side] = {
                "runs": args.burst,
                "seconds": round(elapsed, 1),
                "runs_per_second": round(args.burst / elapsed, 3),
                "cpu_seconds_per_run": round(watch.cpu_since(side, first) / args.burst, 2),
                "last_end": max(ends).isoformat(),
            }
            print(f"{side:<5} burst of {args.burst}: {throughput[side]}")
        watch.close()
        logs = "\n".join(p.read_text(errors="replace") for p in (tmp / "logs").glob("*.log"))
        locked = logs.count("database is locked")
    finally:
        if noop is not None:
            noop.terminate()
            try:
                noop.wait(30)
            except subprocess.TimeoutExpired:
                noop.kill()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        with admin.connect() as conn:
            for db in (prefect_db, app_db):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()

    lat = {side: stats(xs) for side, xs in latency.items()}
    per_run = {side: stats(xs) for side, xs in cpu.items()}
    result: dict[str, Any] = {
        "benchmark": "stage launch against a no-op flow started the same way",
        "when": began.isoformat(timespec="seconds"),
        "database": "postgresql" if args.postgres else "sqlite",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "rounds": args.rounds,
        "stage_run_limit": settings.stage_run_limit,
        "latency_seconds": lat,
        "latency_ratio": round(lat["stage"]["median"] / lat["noop"]["median"], 2),
        "latency_goal": "≤ 1.2",
        "cpu_seconds_per_run": per_run,
        "cpu_ratio": round(per_run["stage"]["median"] / per_run["noop"]["median"], 2),
        "cpu_goal": "≤ 1.2",
        "throughput": throughput,
        "throughput_ratio": round(
            throughput["stage"]["runs_per_second"] / throughput["noop"]["runs_per_second"], 2
        ),
        "throughput_goal": "≥ 0.8",
        "database_is_locked_in_logs": locked,
        "samples": {"latency": latency, "cpu": cpu},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"launch-{began.date().isoformat()}{'-postgres' if args.postgres else ''}.json"
    out = RESULTS / name
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {k: result[k] for k in ("latency_ratio", "cpu_ratio", "throughput_ratio")}, indent=2
        )
    )
    print(f"→ {out}")


def _wait_prefect(prefect: str, run_id: str, timeout: float = 900) -> dict[str, Any]:
    """The run once it is final, read from Prefect (the no-op run is not the app's)."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = httpx.get(f"{prefect}/flow_runs/{run_id}", timeout=60).json()
        state = run.get("state") or {}
        if state.get("type") in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return {**run, "state_type": state["type"]}
        time.sleep(0.25)
    raise TimeoutError(f"run {run_id} did not finish in {timeout} s")


if __name__ == "__main__":
    main()
