"""Scale-out, Prefect's own: `xieshang up --scale-out`.

Separate processes, as they would be on several machines: a Prefect server on PostgreSQL
(SQLite answers "database is locked" under concurrent runs), the API alone (no runner in it),
and two process workers of the work pool declared in prefect.yaml — one per work queue, as
`serve` runs one runner per group, so stage runs people start never wait behind a sweep, and
each queue keeps its own slots (XS_STAGE_RUN_LIMIT, XS_BACKGROUND_RUN_LIMIT). More capacity is
more workers on the `stages` queue, on other hosts. The deployments are registered from
prefect.yaml with `prefect deploy --all`: the declaration workers run, kept in step with
flows/registry.py by tests/test_prefect_yaml.py."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config.deployments import (
    BACKGROUND_QUEUE,
    FOLLOW_UP_FLOW,
    STAGE_QUEUE,
    WORK_POOL,
    deployment_ref,
)
from config.settings import Settings
from runtime.stack import Stack

# Where prefect.yaml and the flows live: `prefect deploy` runs here, and the pull step of every
# deployment (XS_CODE_DIR) sends each flow-run process here.
CODE_DIR = Path(__file__).resolve().parent.parent
PREFECT_DATABASE = "xs_prefect"
# Name of each worker process, and the queue it polls.
WORKERS = {f"worker-{STAGE_QUEUE}": STAGE_QUEUE, f"worker-{BACKGROUND_QUEUE}": BACKGROUND_QUEUE}


def prefect_database_url(settings: Settings) -> str:
    """XS_PREFECT_DATABASE_URL, or a database `xs_prefect` on the app database's server."""
    if settings.prefect_database_url:
        return settings.prefect_database_url
    url = make_url(settings.resolved_database_url)
    return url.set(drivername="postgresql+asyncpg", database=PREFECT_DATABASE).render_as_string(
        hide_password=False
    )


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database `url` names unless it exists (the Prefect server then
    creates its own tables)."""
    target = make_url(url)
    admin = create_engine(
        target.set(drivername="postgresql+psycopg", database="postgres"),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            ).first()
            if found is None:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


class ScaleOutStack(Stack):
    """Prefect server (PostgreSQL), deployments from prefect.yaml, one worker per queue, API."""

    def __init__(self, settings: Settings, *, log_dir: Path | None = None) -> None:
        if not settings.resolved_database_url.startswith("postgresql"):
            raise ValueError(
                "规模扩展模式需要 PostgreSQL 应用数据库：请设置 "
                "XS_DATABASE_URL=postgresql+psycopg://用户@主机:5432/数据库"
            )
        super().__init__(settings, log_dir=log_dir)

    def prefect_server_env(self) -> dict[str, str]:
        return {"PREFECT_API_DATABASE_CONNECTION_URL": prefect_database_url(self.settings)}

    def worker_env(self) -> dict[str, str]:
        """What a worker and its flow-run processes need beyond the app's environment."""
        bin_dir = str(Path(sys.executable).parent)
        return {
            "XS_CODE_DIR": str(CODE_DIR),  # prefect.yaml's pull step
            # prefect.yaml's `python -m prefect.engine` is this environment's python.
            "PATH": os.pathsep.join([bin_dir, os.environ.get("PATH", "")]),
            # Poll as often as serve's runners (PREFECT_RUNNER_POLL_FREQUENCY=1).
            "PREFECT_WORKER_QUERY_SECONDS": "1",
            # Never `uv run --no-default-groups` in the code dir (it would resync the venv).
            "PREFECT_RUNNER_AUTO_INSTALL_DEPENDENCIES": "false",
        }

    def start_prefect(self, timeout: float = 120) -> None:
        """The configured Prefect server, or one started here on its PostgreSQL database."""
        if not self.settings.prefect_api_url:
            ensure_database(prefect_database_url(self.settings))
        super().start_prefect(timeout)

    def start_app(self, timeout: float = 120) -> None:
        """At scale the app is the workers and the API process, without a serving runner."""
        self.deploy()
        self.start_workers(timeout)
        self.start_api(timeout)

    def deploy(self, timeout: float = 300) -> None:
        """The work pool (if missing), then every deployment prefect.yaml declares; the sweep's
        interval is a setting (XS_FOLLOW_UP_INTERVAL_SECONDS; prefect.yaml holds its default)."""
        asyncio.run(self._ensure_pool())
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / "deploy.log"
        with open(log_path, "ab") as log:
            done = subprocess.run(
                [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"],
                cwd=CODE_DIR,
                env=self.env() | self.worker_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            tail = log_path.read_text(errors="replace")[-3000:]
            self.stop()
            raise RuntimeError(f"部署流程失败（日志 {log_path}）：\n{tail}")
        asyncio.run(self._apply_sweep_interval())

    def _client(self) -> Any:
        from prefect.client.orchestration import PrefectClient

        return PrefectClient(api=self.prefect_api_url)

    async def _ensure_pool(self) -> None:
        from prefect.client.schemas.actions import WorkPoolCreate
        from prefect.exceptions import ObjectAlreadyExists
        from prefect.workers.process import ProcessWorker

        async with self._client() as client:
            with contextlib.suppress(ObjectAlreadyExists):  # kept as configured
                await client.create_work_pool(
                    WorkPoolCreate(
                        name=WORK_POOL,
                        type=ProcessWorker.type,
                        base_job_template=ProcessWorker.get_default_base_job_template(),
                    )
                )

    async def _apply_sweep_interval(self) -> None:
        from prefect.client.schemas.schedules import IntervalSchedule

        wanted = timedelta(seconds=self.settings.follow_up_interval_seconds)
        async with self._client() as client:
            deployment = await client.read_deployment_by_name(deployment_ref(FOLLOW_UP_FLOW))
            for schedule in await client.read_deployment_schedules(deployment.id):
                current = getattr(schedule.schedule, "interval", None)
                if current is not None and current != wanted:
                    await client.update_deployment_schedule(
                        deployment.id, schedule.id, schedule=IntervalSchedule(interval=wanted)
                    )

    def start_workers(self, timeout: float = 120) -> None:
        """One process worker per queue, each with its queue's slots; ready once Prefect sees
        every queue polled."""
        limits = {
            STAGE_QUEUE: self.settings.stage_run_limit,
            BACKGROUND_QUEUE: self.settings.background_run_limit,
        }
        for name, queue in WORKERS.items():
            self._spawn(
                name,
                [
                    *[sys.executable, "-m", "prefect", "worker", "start", "--type", "process"],
                    *["--pool", WORK_POOL, "--work-queue", queue, "--limit", str(limits[queue])],
                    *["--name", f"xieshang-{queue}", "--install-policy", "never"],
                ],
                self.worker_env(),
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if asyncio.run(self._queues_polled()):
                return
            dead = [n for n, p in self.processes if n in WORKERS and p.poll() is not None]
            if dead:
                break
            time.sleep(0.5)
        name = next((n for n, p in self.processes if n in WORKERS and p.poll() is not None), None)
        name = name or next(iter(WORKERS))
        tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{name} 未能启动（日志 {self.log_dir / (name + '.log')}）：\n{tail}")

    async def _queues_polled(self) -> bool:
        from prefect.client.schemas.objects import WorkQueueStatus
        from prefect.exceptions import ObjectNotFound

        async with self._client() as client:
            for queue in WORKERS.values():
                try:
                    found = await client.read_work_queue_by_name(queue, work_pool_name=WORK_POOL)
                except ObjectNotFound:
                    return False
                if found.status != WorkQueueStatus.READY:
                    return False
        return True

    def start_api(self, timeout: float = 120) -> None:
        """The API alone; ready once Prefect lists every deployment."""
        proc = self._spawn("xieshang-api", [sys.executable, "-m", "runtime.serve", "--api-only"])
        self._wait("xieshang-api", proc, f"{self.api_url}/ready", timeout)

    def stop(self) -> None:
        """The API and the workers first, then the server they talk to (a worker stopping
        tells the server, and a flow run finishing reports its state)."""
        server = [(n, p) for n, p in self.processes if n == "prefect-server"]
        self.processes = [(n, p) for n, p in self.processes if n != "prefect-server"]
        super().stop()
        self.processes = server
        super().stop()
