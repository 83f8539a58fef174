"""Start and stop the embedded stack: a Prefect server (unless one is configured) and the
process that serves the API and the deployments. Used by `xieshang up`, the demo and tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from config.prefect_env import prefect_environment
from config.settings import Settings


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


# Waits before restarting a child that died, growing with each death in a row; a child that
# then runs for STABLE_AFTER seconds starts the count again.
RESTART_DELAYS = (1, 2, 5, 10, 30, 60)
STABLE_AFTER = 300.0


@dataclass
class Restart:
    """A child's deaths in a row, and when it may be started again."""

    count: int = 0
    due: float = 0.0
    started: float = field(default_factory=time.monotonic)


class Stack:
    """Children are started in their own process groups and stopped in reverse order; a child
    that dies is started again (after a growing delay) by `supervise`."""

    def __init__(self, settings: Settings, *, log_dir: Path | None = None) -> None:
        self.settings = settings
        self.log_dir = log_dir or settings.data_dir / "logs"
        self.processes: list[tuple[str, subprocess.Popen]] = []
        self.started_prefect = False
        # How each child is started again (arguments, its own environment on top of env())
        # and its restart record.
        self._specs: dict[str, tuple[list[str], dict[str, str]]] = {}
        self._restarts: dict[str, Restart] = {}

    @property
    def api_url(self) -> str:
        return f"http://{self.settings.api_host}:{self.settings.api_port}"

    @property
    def prefect_api_url(self) -> str:
        return self.settings.resolved_prefect_api_url

    @property
    def ui_url(self) -> str:
        return self.prefect_api_url.removesuffix("/api")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(prefect_environment(self.settings))
        env["XS_API_HOST"] = self.settings.api_host
        env["XS_API_PORT"] = str(self.settings.api_port)
        env["XS_PREFECT_API_URL"] = self.prefect_api_url
        env["XS_FOLLOW_UP_INTERVAL_SECONDS"] = str(self.settings.follow_up_interval_seconds)
        env["XS_RUN_HEARTBEAT_SECONDS"] = str(self.settings.run_heartbeat_seconds)
        env["XS_ZOMBIE_AFTER_SECONDS"] = str(self.settings.zombie_after_seconds)
        env["XS_STAGE_RUN_LIMIT"] = str(self.settings.stage_run_limit)
        env["XS_BACKGROUND_RUN_LIMIT"] = str(self.settings.background_run_limit)
        if self.settings.apprise_config:
            env["XS_APPRISE_CONFIG"] = str(self.settings.apprise_config)
        return env

    def _spawn(
        self, name: str, args: list[str], extra_env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(
            args,
            env=self.env() | (extra_env or {}),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.processes.append((name, proc))
        self._specs[name] = (args, extra_env or {})
        return proc

    def _wait(self, name: str, proc: subprocess.Popen, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if healthy(url):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.3)
        tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-3000:]
        self.stop()
        raise RuntimeError(f"{name} 未能启动（日志 {self.log_dir / (name + '.log')}）：\n{tail}")

    def prefect_server_env(self) -> dict[str, str]:
        """What the Prefect server this stack starts needs beyond env(): nothing for the
        embedded default (SQLite under PREFECT_HOME)."""
        return {}

    def start(self, timeout: float = 120) -> Stack:
        self.start_prefect(timeout)
        self.start_app(timeout)
        return self

    def start_prefect(self, timeout: float = 120) -> None:
        """Start a local Prefect server unless the configured one already answers."""
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        health = f"{self.prefect_api_url}/health"
        if not self.settings.prefect_api_url and not healthy(health):
            port = self.prefect_api_url.rsplit(":", 1)[1].split("/")[0]
            proc = self._spawn(
                "prefect-server",
                [
                    *[sys.executable, "-m", "prefect", "server", "start"],
                    *["--host", "127.0.0.1", "--port", port, "--log-level", "WARNING"],
                    "--analytics-off",
                ],
                self.prefect_server_env(),
            )
            self.started_prefect = True
            self._wait("prefect-server", proc, health, timeout)
        elif not healthy(health):
            raise RuntimeError(f"配置的 Prefect 服务 {self.prefect_api_url} 无法访问")

    def start_app(self, timeout: float = 120) -> None:
        """The API and every deployment, in one process; ready once Prefect lists them all."""
        proc = self._spawn("xieshang", [sys.executable, "-m", "runtime.serve"])
        self._wait("xieshang", proc, f"{self.api_url}/ready", timeout)

    def supervise(self, say: Callable[[str], None] = print) -> None:
        """One look at the children: a dead one is reported and, once its delay has passed,
        started again (without waiting for it to be ready: the next look sees how it does)."""
        now = time.monotonic()
        for index, (name, proc) in enumerate(list(self.processes)):
            record = self._restarts.setdefault(name, Restart())
            if proc.poll() is None:
                if record.count and now - record.started > STABLE_AFTER:
                    record.count = 0  # it has held: the next death starts the delays again
                continue
            if name not in self._specs:
                continue
            if not record.due:
                delay = RESTART_DELAYS[min(record.count, len(RESTART_DELAYS) - 1)]
                record.due = now + delay
                say(
                    f"{name} 意外退出（代码 {proc.returncode}），{delay} 秒后重启"
                    f"（连续第 {record.count + 1} 次；日志 {self.log_dir / (name + '.log')}）"
                )
            if now >= record.due:
                args, extra_env = self._specs[name]
                self.processes.pop(index)
                self._spawn(name, args, extra_env)
                record.count += 1
                record.due = 0.0
                record.started = now
                say(f"{name} 已重启")
                return  # the list changed: look again next time

    def stop(self) -> None:
        for _name, proc in reversed(self.processes):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for _name, proc in reversed(self.processes):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
