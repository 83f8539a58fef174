"""`xieshang up` keeps the platform up: when the process serving the API and the deployments
dies, it is reported and started again, and people can go on."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.settings import Settings, get_settings
from runtime.stack import Stack, healthy
from tests.conftest import empty_case_file
from tests.factories import stack_client
from tests.receivers import free_port


@pytest.fixture(params=["sqlite", "postgres"])
def case_file(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with empty_case_file(request.param, tmp_path, "supervised") as url:
        yield url


def test_a_killed_server_process_is_restarted_and_answers_again(
    prefect_server, case_file: str, tmp_path: Path
):
    defaults = get_settings()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=case_file,
        api_port=free_port(),
        prefect_port=defaults.prefect_port,
        prefect_api_url=defaults.prefect_api_url,
        follow_up_interval_seconds=3600,
    )
    stack = Stack(settings, log_dir=tmp_path / "logs")
    stack.start_prefect()
    stack.start_app()
    said: list[str] = []
    try:
        (name, first), *_ = [(n, p) for n, p in stack.processes if n == "xieshang"]
        office = stack_client(settings.resolved_database_url, stack.api_url).headers
        created = httpx.post(
            f"{stack.api_url}/people",
            json={"name": "王敏", "role": "administrator"},
            timeout=10,
            headers=office,
        )
        assert created.status_code == 201
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            stack.supervise(say=said.append)
            if any("已重启" in line for line in said) and healthy(f"{stack.api_url}/ready"):
                break
            time.sleep(0.5)
        assert healthy(f"{stack.api_url}/ready"), said
        (second,) = [p for n, p in stack.processes if n == name]
        assert second.pid != first.pid and second.poll() is None
        assert any("xieshang 意外退出（代码 -9），1 秒后重启" in line for line in said), said
        # What was stored before the crash is still there, and people can go on.
        # (The signed-in token still holds: the new process checks it with the same secret.)
        people = httpx.get(f"{stack.api_url}/people", timeout=10, headers=office).json()
        assert [p["name"] for p in people["data"]] == ["值班管理员", "王敏"]
        again = httpx.post(
            f"{stack.api_url}/people",
            json={"name": "李强", "role": "resident"},
            timeout=10,
            headers=office,
        )
        assert again.status_code == 201
    finally:
        stack.stop()
