"""Benchmark: 30 concurrent stage starts through the API on the scale-out setup.

The setup of `xieshang up --scale-out` (runtime/scale_out.py): a Prefect server on a
throw-away PostgreSQL database, the deployments of prefect.yaml, one process worker per work
queue (`stages`, `background`), the API alone; the case file a throw-away PostgreSQL database
too. Each round starts, at once,

- **stages**: 30 topics' first stage through the API (`POST /topics/{id}/stages/topic`, 30
  concurrent requests): the launcher's `run_deployment` on the `stages` queue;
- **no-op**: 30 runs of a no-op async flow deployed on the same pool and queue, started the
  same way (`run_deployment(..., timeout=0)` with an idempotency key, 30 at once), run by the
  same worker with the same slots (XS_STAGE_RUN_LIMIT) — the floor a run on this setup pays;

and waits until every run has ended. Throughput is runs / (last end − first call); every run
must reach its flow body (RUNNING, then COMPLETED). Afterwards every process log (server,
deploy, workers with their flow runs' output, API) is searched for "database is locked" and
for 503 answers (PREFECT_API_LOG_RETRYABLE_ERRORS=true makes clients log them).

    uv run python bench/scale_out.py [--runs 30] [--rounds 2]   # XS_BENCH_PG_URL: admin URL

Writes bench/results/scale_out-<date>.json. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
NOOP_FLOW = "bench-noop"
# As the stage flows: async, one parameter, nothing else.
NOOP = "from prefect import flow\n\n\n@flow(name='bench-noop')\nasync def noop(topic_id: int) -> None:\n    pass\n"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30, help="concurrent starts per batch")
    parser.add_argument("--rounds", type=int, default=2, help="rounds (stages and no-op each)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="xs-bench-scale-"))
    pg_admin = os.environ.get(
        "XS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    for key in [k for k in os.environ if k.startswith(("PREFECT_", "XS_"))]:
        del os.environ[key]
    prefect_port = _free_port()
    tag = uuid.uuid4().hex[:8]
    app_db, prefect_db = f"xs_bench_app_{tag}", f"xs_bench_prefect_{tag}"
    server = pg_admin.rsplit("/", 1)[0]
    os.environ.update(
        XS_DATA_DIR=str(tmp / "data"),
        XS_DATABASE_URL=f"{server}/{app_db}",
        XS_PREFECT_DATABASE_URL=f"{server.replace('+psycopg', '+asyncpg')}/{prefect_db}",
        XS_PREFECT_PORT=str(prefect_port),
        XS_API_PORT=str(_free_port()),
        XS_FOLLOW_UP_INTERVAL_SECONDS="3600",
        XS_ACTIONS_PER_MINUTE="100000",
        XS_SIGN_IN_PER_MINUTE="100000",
        # This process starts the no-op runs on the setup's server; every child logs the 503s
        # its client retries.
        PREFECT_API_URL=f"http://127.0.0.1:{prefect_port}/api",
        PREFECT_HOME=str(tmp / "prefect"),
        PREFECT_API_LOG_RETRYABLE_ERRORS="true",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_LOGGING_LEVEL="WARNING",
    )
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{app_db}"'))

    from config.db import migrate
    from config.settings import get_settings
    from runtime.scale_out import ScaleOutStack

    settings = get_settings()
    migrate(settings.resolved_database_url)
    stack = ScaleOutStack(settings, log_dir=tmp / "logs")
    began = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    rounds: list[dict[str, Any]] = []
    interrupted = False

    def _interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _interrupt)
    try:
        t = time.monotonic()
        stack.start(timeout=300)
        print(f"setup started in {time.monotonic() - t:.0f} s", flush=True)
        asyncio.run(_measure(stack, tmp, args.runs, args.rounds, rounds))
    except (KeyboardInterrupt, Exception) as exc:  # the rounds that finished are written
        interrupted = True
        print(f"interrupted: {exc!r}", flush=True)
    finally:
        stack.stop()
        logs = _grep_logs(tmp / "logs")
        shutil.rmtree(tmp, ignore_errors=True)
        with admin.connect() as conn:
            for name in (app_db, prefect_db):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    if not rounds:
        print("no round finished; nothing written")
        return

    def stats(xs: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(xs), 3), "min": min(xs), "max": max(xs)}

    stage_tp = [r["stages"]["runs_per_second"] for r in rounds]
    noop_tp = [r["noop"]["runs_per_second"] for r in rounds]
    result: dict[str, Any] = {
        "benchmark": "scale-out: concurrent stage starts through the API vs no-op runs",
        "when": began.isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "load_average_before": [round(x, 1) for x in load_before],
        "load_average_after": [round(x, 1) for x in os.getloadavg()],
        "setup": {
            "prefect_server": "PostgreSQL",
            "case_file": "PostgreSQL",
            "workers": {"stages": 1, "background": 1},
            "runs_per_batch": args.runs,
            "stage_run_limit": settings.stage_run_limit,
        },
        "stage_runs_per_second": stats(stage_tp),
        "noop_runs_per_second": stats(noop_tp),
        "throughput_ratio": round(statistics.median(stage_tp) / statistics.median(noop_tp), 2),
        "rounds_completed": len(rounds),
        "interrupted": interrupted,
        "all_reached_their_body": all(
            r[kind]["reached_body"] == args.runs for r in rounds for kind in ("stages", "noop")
        ),
        "logs": logs,
        "rounds": rounds,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scale_out-{began.date().isoformat()}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in result.items() if k != "rounds"}, indent=2))
    print(f"→ {out}")


async def _measure(
    stack: Any, tmp: Path, runs: int, rounds: int, measured: list[dict[str, Any]]
) -> None:
    """Warm-up, then `rounds` rounds, each appended to `measured` as it finishes."""
    import httpx
    from prefect import Flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.deployments import run_deployment

    from config.deployments import STAGE_QUEUE, WORK_POOL
    from runtime.demo import Client, bootstrap_administrator

    noop_dir = tmp / "noop"
    noop_dir.mkdir()
    (noop_dir / "noop_flow.py").write_text(NOOP, encoding="utf-8")
    source = await Flow.afrom_source(source=str(noop_dir), entrypoint="noop_flow.py:noop")
    await source.adeploy(
        name="bench",
        work_pool_name=WORK_POOL,
        work_queue_name=STAGE_QUEUE,
        job_variables={"command": "python -m prefect.engine"},
        build=False,
        push=False,
        print_next_steps=False,
    )
    credentials = bootstrap_administrator("bench", stack.settings.resolved_database_url)
    office = Client(stack.api_url).signed_in(*credentials)

    def topics(n: int) -> list[int]:
        nonlocal office
        office = Client(stack.api_url).signed_in(*credentials)  # a batch outlasts a token
        return [
            office.post(
                "/topics",
                {
                    "title": f"基准议题 {uuid.uuid4().hex[:6]}",
                    "description": "小区门前道路坑洼积水，雨天出行困难，居民希望尽快修复。",
                    "category": "市政设施",
                    "source": "public",
                },
            )["id"]
            for _ in range(n)
        ]

    async def start_stages(ids: list[int]) -> list[str]:
        async with httpx.AsyncClient(
            base_url=stack.api_url, headers=office.headers, timeout=120
        ) as http:
            answers = await asyncio.gather(*(http.post(f"/topics/{i}/stages/topic") for i in ids))
        bad = [a.text for a in answers if a.status_code not in (200, 202)]
        if bad:
            raise RuntimeError(f"stage starts refused: {bad[:3]}")
        return [a.json()["flow_run_id"] for a in answers]

    async def start_noops(n: int) -> list[str]:
        batch = uuid.uuid4().hex[:8]
        started = await asyncio.gather(
            *(
                run_deployment(  # type: ignore[misc]
                    f"{NOOP_FLOW}/bench",
                    parameters={"topic_id": i},
                    timeout=0,
                    as_subflow=False,
                    tags=["bench"],
                    idempotency_key=f"bench:{batch}:{i}",
                )
                for i in range(n)
            )
        )
        return [str(r.id) for r in started]

    async def finish(ids: list[str], t0: dt.datetime) -> dict[str, Any]:
        async with get_client() as client:
            while True:
                found = []
                for offset in range(0, len(ids), 100):
                    found += await client.read_flow_runs(
                        flow_run_filter=FlowRunFilter(
                            id=FlowRunFilterId(any_=[uuid.UUID(i) for i in ids[offset:][:100]])
                        ),
                        limit=100,
                    )
                if len(found) == len(ids) and all(r.state_type.value in FINAL for r in found):
                    break
                await asyncio.sleep(1)
        ends = [r.end_time for r in found if r.end_time]
        body = [r for r in found if r.start_time and r.state_type.value == "COMPLETED"]
        latency = sorted((r.start_time - t0).total_seconds() for r in body)
        wall = (max(ends) - t0).total_seconds()
        return {
            "runs": len(ids),
            "reached_body": len(body),
            "states": sorted({r.state_type.value for r in found}),
            "wall_seconds": round(wall, 2),
            "runs_per_second": round(len(ids) / wall, 3),
            "call_to_body_seconds": {
                "median": round(statistics.median(latency), 2) if latency else None,
                "max": round(max(latency), 2) if latency else None,
            },
        }

    async def batch(kind: str, n: int) -> dict[str, Any]:
        ids = topics(n) if kind == "stages" else []
        t0 = dt.datetime.now(dt.UTC)
        run_ids = await start_stages(ids) if kind == "stages" else await start_noops(n)
        figures = await finish(run_ids, t0)
        print(f"{kind:<6} {json.dumps(figures)}", flush=True)
        return figures

    await batch("noop", 1)  # warm-up: first imports on both sides
    await batch("stages", 1)
    for index in range(rounds):
        order = ("noop", "stages") if index % 2 == 0 else ("stages", "noop")
        this: dict[str, Any] = {"order": list(order)}
        for kind in order:
            this[kind] = await batch(kind, runs)
        measured.append(this)


def _grep_logs(log_dir: Path) -> dict[str, Any]:
    """Per process log: lines saying "database is locked", and answers a client retried
    (Prefect's client logs "retryable status code 503" and the like)."""
    found: dict[str, Any] = {}
    for path in sorted(log_dir.glob("*.log")):
        lines = path.read_text(errors="replace").splitlines()
        found[path.stem] = {
            "lines": len(lines),
            "database_is_locked": sum("database is locked" in line.lower() for line in lines),
            "retried_answers": sum("retryable status code" in line for line in lines),
            "service_unavailable": sum("Service Unavailable" in line for line in lines),
        }
    return found


if __name__ == "__main__":
    main()
