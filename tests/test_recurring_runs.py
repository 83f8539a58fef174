"""Recurring runs never crowd out people, against the real stack (Prefect server, one process
serving the API and every deployment), on PostgreSQL:

- a burst of on-demand requests queues one run per kind and period, the rest get that run;
- the sweep and the dispatch never overlap themselves;
- the command line uses the configured Prefect API, waits, shows progress and prints the result.

That stage runs have slots of their own while sweeps run is tests/test_stage_capacity.py.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from config.db import engine_for
from config.settings import Settings, get_settings
from runtime.demo import Client, wait_for_run
from runtime.stack import Stack
from tests.conftest import _free_port, fresh_postgres, require_postgres
from tests.factories import stack_client
from tests.receivers import HttpReceiver
from tests.reports import files
from tests.reports.dataset import OCTOBER_DEPARTMENTS, build

ROOT = Path(__file__).resolve().parent.parent
BACKGROUND_SLOTS = 2  # the capacity test holds one with a blocked bulletin; sweeps use the other


@contextmanager
def serving(  # type: ignore[no-untyped-def]
    tmp_path_factory, follow_up_interval_seconds: int, *, own_prefect: bool = False
) -> Iterator[Stack]:
    """The stack on a fresh PostgreSQL database, with the sweep on the given interval; on the
    test session's Prefect server, or with `own_prefect` on one of its own (so no run an
    earlier stack left behind holds a deployment's concurrency slot)."""
    require_postgres()
    base: Path = tmp_path_factory.mktemp("recurring")
    with HttpReceiver() as inbox, fresh_postgres("xs_recurring") as url:
        apprise_yaml = base / "apprise.yml"
        apprise_yaml.write_text(f"urls:\n  - {inbox.url()}:\n      tag: always\n", "utf-8")
        defaults = get_settings()
        settings = Settings(
            data_dir=base / "data",
            database_url=url,
            apprise_config=apprise_yaml,
            api_port=defaults.api_port,
            prefect_port=_free_port() if own_prefect else defaults.prefect_port,
            prefect_api_url=None if own_prefect else defaults.prefect_api_url,
            follow_up_interval_seconds=follow_up_interval_seconds,
            background_run_limit=BACKGROUND_SLOTS,
            stage_run_limit=8,
        )
        running = Stack(settings, log_dir=base / "logs")
        running.start_prefect()
        running.start_app()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture(scope="module")
def stack(prefect_server: str, tmp_path_factory) -> Iterator[Stack]:
    """The production default interval: each sweep is a process of ~6 CPU-seconds, so the
    sweep every few seconds is kept to the capacity test (tests/test_stage_capacity.py)."""
    with serving(tmp_path_factory, follow_up_interval_seconds=60) as running:
        yield running


def _office(stack: Stack) -> Client:
    """The consultation office's administrator, signed in to the stack."""
    return stack_client(stack.settings.resolved_database_url, stack.api_url)


def _post(c: Client, url: str, body: dict | None = None) -> tuple[int, dict]:
    r = httpx.post(url, json=body, timeout=120, headers=c.headers)
    return r.status_code, r.json()


def _topic(c: Client, title: str) -> int:
    """A topic of its own: its title (with a uuid) in its description too, so the screening
    does not take the tests' topics for look-alikes of each other."""
    return c.post(
        "/topics",
        {
            "title": title,
            "description": f"{title}：老旧小区楼道照明损坏，夜间出行不便，居民希望尽快修复。",
            "category": "市政设施",
            "source": "public",
        },
    )["id"]


def _runs_of(stack: Stack, flow_name: str) -> list[dict]:
    r = httpx.post(
        f"{stack.prefect_api_url}/flow_runs/filter",
        json={"flows": {"name": {"any_": [flow_name]}}, "limit": 200},
        timeout=30,
    )
    r.raise_for_status()
    return r.json()


def _state_names(stack: Stack, flow_run_id: str) -> list[str]:
    r = httpx.get(f"{stack.prefect_api_url}/flow_run_states/", params={"flow_run_id": flow_run_id})
    r.raise_for_status()
    return [s["name"] for s in r.json()]


def _never_overlapped(runs: list[dict]) -> bool:
    """No run that ran started before the one before it had ended."""
    at = dt.datetime.fromisoformat
    spans = sorted(
        (
            at(r["start_time"]),
            at(r["end_time"]) if r["end_time"] else dt.datetime.max.replace(tzinfo=dt.UTC),
        )
        for r in runs
        if r["run_count"] > 0  # dropped runs (CANCEL_NEW) never ran their body
    )
    return all(end <= nxt_start for (_, end), (nxt_start, _) in itertools.pairwise(spans))


def test_a_burst_of_on_demand_requests_queues_one_run_per_kind_and_period(stack):
    api = stack.api_url
    c = _office(stack)
    requests = (
        [(f"{api}/dispatch/weekly", None)] * 10
        + [(f"{api}/follow-ups/sweep", None)] * 10
        + [(f"{api}/bulletins/monthly", {"period": "2026-10"})] * 5
        + [(f"{api}/bulletins/monthly", {"period": "2026-09"})] * 5
    )
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        answers = list(pool.map(lambda req: _post(c, *req), requests))
    assert {status for status, _ in answers} == {202}, answers
    weekly, sweeps, october, september = (
        [body for _, body in answers[a:b]] for a, b in ((0, 10), (10, 20), (20, 25), (25, 30))
    )
    # One weekly dispatch for ten requests, one bulletin per period for five each.
    assert len({r["id"] for r in weekly}) == 1
    assert len({r["id"] for r in october}) == 1 and october[0]["parameters"] == {
        "period": "2026-10"
    }
    assert len({r["id"] for r in september}) == 1 and september[0]["id"] != october[0]["id"]
    # Ten sweeps start at most one new run; the others get it or the scheduled one due now.
    # Requests for the same kind are answered one after another: every request after the one
    # that queued a run is told it already existed.
    assert len({r["id"] for r in sweeps if not r["existing"]}) <= 1
    assert sum(not r["existing"] for r in sweeps) <= 1
    assert sum(not r["existing"] for r in weekly) <= 1
    assert sum(r["existing"] for r in weekly) >= 9
    assert sum(r["existing"] for r in october) == 4

    for run_id in {r["id"] for r in weekly + october + september}:
        assert wait_for_run(c, run_id)["state_type"] == "COMPLETED"
    again = c.post("/dispatch/weekly")
    assert again["id"] != weekly[0]["id"] and again["existing"] is False
    assert wait_for_run(c, again["id"])["state_type"] == "COMPLETED"

    for flow_name in ("follow-up", "weekly-dispatch", "monthly-bulletin"):
        assert _never_overlapped(_runs_of(stack, flow_name)), flow_name


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runtime.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _configured_only(env: dict[str, str]) -> dict[str, str]:
    """The platform's settings only: Prefect must be found through XS_*, not PREFECT_API_URL."""
    return {k: v for k, v in env.items() if k not in ("PREFECT_API_URL", "PREFECT_HOME")}


def test_cli_waits_for_the_served_run_and_prints_what_it_did(stack):
    env = _configured_only(stack.env())
    done = _cli(["dispatch", "weekly"], env)
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    # Progress lines as the command saw the states (a short run may pass RUNNING between two
    # looks), ending in the result.
    assert re.search(r"已(启动|有)周调度", out) and "已完成" in out, out
    assert len(re.findall(r"^\s+\[\s*\d+ 秒\] ", out, re.M)) >= 2, out
    assert re.search(r"周调度 \d{4}-W\d{2} 已完成：", out) and "摘要消息（一人一份）：" in out

    queued = _cli(["bulletin", "monthly", "--period", "2026-07", "--no-wait"], env)
    assert queued.returncode == 0, queued.stdout + queued.stderr
    assert "当前状态：" in queued.stdout and "文件" not in queued.stdout

    joined = _cli(["bulletin", "monthly", "--period", "2026-07"], env)
    assert joined.returncode == 0, joined.stdout + joined.stderr
    run_id = re.search(r"流程运行 ([0-9a-f-]{36})", joined.stdout)[1]  # type: ignore[index]
    paths = re.findall(r"^\s+(?:PDF|HTML|XLSX)\s+(/\S+)$", joined.stdout, re.M)
    assert len(paths) == 3 and all(Path(p).is_file() for p in paths), joined.stdout
    run = httpx.get(f"{stack.prefect_api_url}/flow_runs/{run_id}").json()
    assert run["parameters"] == {"period": "2026-07"} and run["state_type"] == "COMPLETED"


def test_cli_bulletin_runs_on_the_configured_prefect_server(tmp_path, committed_db):
    """No runner serves it: the bulletin runs in the CLI's process, recorded on the server the
    settings name (a non-default port), not on a temporary one Prefect would start."""
    port = _free_port()
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=committed_db,
        prefect_port=port,
        prefect_api_url=None,
    )
    with Session(engine_for(committed_db)) as s:
        build(s)  # the hand-computed October of tests/reports/dataset.py
        s.commit()
    server = Stack(settings, log_dir=tmp_path / "logs")
    server.start_prefect()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "XS_"))}
        env.update(
            XS_DATA_DIR=str(settings.data_dir),
            XS_DATABASE_URL=committed_db,
            XS_PREFECT_PORT=str(port),
            PREFECT_LOGGING_LEVEL="WARNING",
        )
        done = _cli(["bulletin", "monthly", "--period", "2026-10"], env)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"127.0.0.1:{port}" in done.stdout
        paths = re.findall(r"^\s+(?:PDF|HTML|XLSX)\s+(/\S+)$", done.stdout, re.M)
        assert len(paths) == 3 and all(Path(p).is_file() for p in paths), done.stdout
        # The file the command wrote carries every hand-computed number of every department.
        (xlsx,) = [Path(p) for p in paths if p.endswith(".xlsx")]
        assert files.xlsx_table(xlsx.read_bytes(), "单位指标") == {
            name: files.by_label(golden) for name, golden in OCTOBER_DEPARTMENTS.items()
        }
        # The golden numbers, as the office reads them on the command line.
        assert "应办结 16 项，已办结 12 项，整改完成率 75.0%，期末逾期 4 项" in done.stdout, (
            done.stdout
        )
        assert (
            "红榜：城南街道（应办结 3 项，已办结 3 项，整改完成率 100.0%，逾期 0 项）"
            in done.stdout
        )
        assert re.search(
            r"黑榜：区住建局（应办结 4 项，已办结 2 项.*?逾期 2 项）、区交通局.*、区卫健委",
            done.stdout,
        )
        runs = httpx.post(
            f"http://127.0.0.1:{port}/api/flow_runs/filter",
            json={"flows": {"name": {"any_": ["monthly-bulletin"]}}},
        ).json()
        # Run in the command's own process, Prefect records every parameter, defaults included.
        assert [(r["parameters"], r["state_type"]) for r in runs] == [
            ({"period": "2026-10", "interim": False}, "COMPLETED")
        ]
    finally:
        server.stop()
