"""The weekly dispatch flow (周调度) against a real Prefect server and a real webhook receiver:
one digest per recipient, an artifact with the counts, its cron schedule, and on demand from
the API and the CLI."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from sqlmodel import Session, select

from config.db import engine_for
from config.deployments import DEPLOYMENT, WEEKLY_DISPATCH_CRON, WEEKLY_DISPATCH_FLOW
from config.settings import get_settings
from flows.weekly_dispatch import weekly_dispatch
from models.tables import Department, Person, RectificationItem
from tests.factories import LoopBuilder, administrator_headers
from tests.notify.test_dispatch import build_case
from tests.receivers import HttpReceiver, use_apprise_config, write_apprise_yaml

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def inbox() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture
def case(committed_db, inbox, tmp_path, monkeypatch, time_machine) -> dict[str, str]:
    """The case of tests/notify/test_dispatch.py, committed; every tag routed to the inbox."""
    with Session(engine_for(committed_db)) as s:
        loop = LoopBuilder(s)
        build_case(loop, s, time_machine)
        tags = [*s.exec(select(Person.tag)), *s.exec(select(Department.tag))]
        tags += ["role-administrator", "role-approver"]
        path = write_apprise_yaml(tmp_path / "apprise.yml", {inbox.url(t): [t] for t in tags})
        s.commit()
        names = {"officer": loop.cast.officer.tag, "head": loop.cast.head.tag}
        names["other"] = loop.cast.other_officer.tag
    use_apprise_config(monkeypatch, path)
    return names


async def test_one_digest_per_recipient_and_an_artifact(prefect_server, case, inbox, time_machine):
    time_machine.move_to(dt.datetime(2026, 4, 20, 9, tzinfo=SH), tick=True)
    # What interrupted uploads left: one from last week, one from an upload under way now.
    leftovers = get_settings().evidence_dir / "tmp"
    leftovers.mkdir(parents=True, exist_ok=True)
    stale, fresh = leftovers / f"{'a' * 64}.x1.part", leftovers / f"{'b' * 64}.x2.part"
    for path, when in ((stale, dt.datetime(2026, 4, 14, 9)), (fresh, dt.datetime(2026, 4, 20, 8))):
        path.write_bytes(b"%PDF-1.7 half")
        stamp = when.replace(tzinfo=SH).timestamp()
        os.utime(path, (stamp, stamp))
    before = len(inbox.log)
    state = await weekly_dispatch(return_state=True)
    result = await state.result()
    assert result["evidence_leftovers_removed"] == 1
    assert not stale.exists() and fresh.exists()
    fresh.unlink()
    digests = [m for m in inbox.log[before:] if m.title.startswith("【周调度】")]
    assert sorted(m.path for m in digests) == sorted(
        [case["officer"], case["other"], case["head"], "role-administrator", "role-approver"]
    )
    assert result["dispatch"]["digests"] == 5 and set(result["delivery"]) == {"sent"}
    officer = next(m for m in digests if m.path == case["officer"])
    assert officer.title == "【周调度】2026年第17周·李强待办 3 项（含督办 1 项）"
    assert "逾期未提交整改方案" in officer.body and "已提请督办事项（督办）" in officer.body

    async with get_client() as client:
        (artifact,) = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["weekly-dispatch"])),
            flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[state.state_details.flow_run_id])
            ),
        )
    assert "# 周调度 2026-W17" in artifact.data
    assert "| 超期预警 | 0 |" in artifact.data and "| 督办 | 2 |" in artifact.data
    assert "| 摘要消息（一人一份） | 5 |" in artifact.data

    delivered = len(inbox.log)
    again = await weekly_dispatch()  # the same week, on demand: nothing goes out twice
    assert again["dispatch"]["digests"] == 5 and again["delivery"] == {}
    assert len(inbox.log) == delivered


def test_dispatch_weekly_from_the_cli_runs_it_here(
    prefect_server, committed_db, case, inbox, time_machine
):
    # No runner serves it: a deployment a stack left behind (another module's, stopped less
    # than a minute ago, still READY) is removed, so the command runs the dispatch here.
    import httpx
    from typer.testing import CliRunner

    from config.deployments import WEEKLY_DISPATCH_FLOW, deployment_ref
    from runtime.cli import app

    found = httpx.get(f"{prefect_server}/deployments/name/{deployment_ref(WEEKLY_DISPATCH_FLOW)}")
    if found.status_code == 200:
        httpx.delete(f"{prefect_server}/deployments/{found.json()['id']}").raise_for_status()
    time_machine.move_to(dt.datetime(2026, 4, 20, 9, tzinfo=SH), tick=True)
    result = CliRunner().invoke(app, ["dispatch", "weekly"])
    assert result.exit_code == 0, result.output
    assert "周调度 2026-W17 已完成" in result.output and "摘要消息（一人一份）：5" in result.output
    assert sum(m.title.startswith("【周调度】") for m in inbox.log) == 5
    with Session(engine_for(committed_db)) as s:
        levels = sorted(i.level for i in s.exec(select(RectificationItem)))
    assert levels == [0, 0, 1, 1, 3, 3]


async def test_registry_schedules_it_monday_0900_shanghai():
    from flows.registry import deployments

    (weekly,) = [d for d in await deployments() if d.flow_name == WEEKLY_DISPATCH_FLOW]
    (schedule,) = weekly.schedules
    assert schedule.schedule.cron == WEEKLY_DISPATCH_CRON == "0 9 * * 1"
    assert schedule.schedule.timezone == "Asia/Shanghai"
    assert schedule.active and "recurring" in weekly.tags


async def test_api_starts_it_on_demand(prefect_server, committed_db):
    from fastapi.testclient import TestClient

    from api.app import create_app

    deployment = await weekly_dispatch.ato_deployment(name=DEPLOYMENT)
    await deployment.apply()
    with TestClient(create_app(), headers=administrator_headers()) as client:
        response = client.post("/dispatch/weekly")
    assert response.status_code == 202, response.text
    run = response.json()
    assert run["flow_name"] == WEEKLY_DISPATCH_FLOW and run["state_name"] == "Scheduled"
    assert "on-demand" in run["tags"]
    async with get_client() as client:
        await client.delete_flow_run(run["id"])  # no runner here; leave nothing to pick up


async def test_a_deployment_made_again_is_not_handed_an_old_finished_run(prefect_server):
    """Prefect keeps an idempotency key per flow: after the deployment was made again (a new
    id, an empty run list), the first on-demand request must start a run, not get back the
    finished one an earlier deployment's first request made."""
    from prefect.states import Completed

    from api import launcher

    first_id = await (await weekly_dispatch.ato_deployment(name=DEPLOYMENT)).apply()
    first = await launcher.launch_weekly_dispatch()
    async with get_client() as client:
        await client.set_flow_run_state(first.id, Completed(), force=True)
        await client.delete_deployment(first_id)
    await (await weekly_dispatch.ato_deployment(name=DEPLOYMENT)).apply()
    second = await launcher.launch_weekly_dispatch()
    try:
        assert second.id != first.id
        assert second.state_name == "Scheduled" and not second.existing
    finally:
        async with get_client() as client:
            for run in (first, second):
                await client.delete_flow_run(run.id)
