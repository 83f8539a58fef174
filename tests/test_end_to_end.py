"""The whole loop driven through the HTTP API, twice: on the embedded stack of `xieshang up`
(Prefect server, one process serving the API and every deployment) with a SQLite case file, and
on the scale-out setup of `xieshang up --scale-out` with a PostgreSQL case file (Prefect server
on PostgreSQL, the deployments of prefect.yaml run by the work pool's workers, the API alone)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from config.db import engine_for
from config.deployments import STAGE_QUEUE, WORK_POOL
from models.enums import NotificationStatus
from models.tables import Notification
from runtime.demo import STAGES, Client, run_loop, wait_for_run
from tests.conftest import empty_case_file, running_scale_out, running_stack
from tests.factories import stack_client
from tests.receivers import HttpReceiver


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def case_file(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[str]:
    """The stack's case file: a SQLite file (embedded stack), then a fresh PostgreSQL database
    (scale-out setup)."""
    with empty_case_file(request.param, tmp_path_factory.mktemp("e2e-db"), "e2e") as url:
        yield url


@pytest.fixture(scope="module")
def inbox(case_file: str) -> Iterator[HttpReceiver]:
    """One receiver per case file, so each database's loop counts only its own messages."""
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def stack(
    prefect_server: str, inbox: HttpReceiver, case_file: str, tmp_path_factory
) -> Iterator[str]:
    base: Path = tmp_path_factory.mktemp("e2e")
    scale_out = case_file.startswith("postgresql")
    start = running_scale_out if scale_out else running_stack
    with start(base, case_file, apprise_url=inbox.url()) as running:
        _DATABASES[running.api_url] = running.settings.resolved_database_url
        _PREFECT[running.api_url] = (running.prefect_api_url, scale_out, running.log_dir)
        yield running.api_url


_DATABASES: dict[str, str] = {}
# The stack's Prefect API, whether it is the scale-out setup, and its log directory.
_PREFECT: dict[str, tuple[str, bool, Path]] = {}


def stack_db(api_url: str) -> str:
    return _DATABASES[api_url]


@pytest.fixture(scope="module")
def loop_result(stack: str) -> dict:
    return run_loop(stack, say=lambda _: None, database_url=stack_db(stack))


@pytest.fixture(scope="module")
def office(stack: str) -> Client:
    """The consultation office's administrator, signed in to the stack."""
    return stack_client(stack_db(stack), stack)


def test_every_stage_ran_as_a_completed_prefect_run_in_order(stack, loop_result, office):
    assert [s["stage"] for s in loop_result["stages"]] == STAGES
    assert all(s["state"] == "COMPLETED" for s in loop_result["stages"])
    tid = loop_result["topic_id"]
    runs = office.http.get(f"/topics/{tid}/runs", timeout=30).json()["data"]
    assert len(runs) == 8
    assert all(f"topic:{tid}" in r["tags"] for r in runs)
    stage_of = [next(t for t in r["tags"] if t.startswith("stage:"))[6:] for r in runs]
    assert stage_of == STAGES
    starts = [r["start_time"] for r in runs]
    assert starts == sorted(starts)
    assert {r["id"] for r in runs} == {s["flow_run_id"] for s in loop_result["stages"]}
    assert all(r["state_type"] == "COMPLETED" for r in runs)


def test_stage_runs_were_executed_by_the_workers_at_scale_and_by_serve_embedded(stack, loop_result):
    """Scale-out: every stage run went through the work pool's `stages` queue and was
    executed by its worker (Prefect's `prefect.worker.executed-flow-run` event names the
    worker), and no deployment is served by a runner. Embedded: the same runs were served by
    `serve`, outside any work pool, and no worker executed any."""
    prefect, scale_out, log_dir = _PREFECT[stack]
    ids = [s["flow_run_id"] for s in loop_result["stages"]]
    runs = httpx.post(
        f"{prefect}/flow_runs/filter", json={"flow_runs": {"id": {"any_": ids}}}, timeout=30
    ).json()
    executed_by = _executed_by(prefect, ids, expect=len(ids) if scale_out else 0)
    deployments = httpx.post(f"{prefect}/deployments/filter", json={}, timeout=30).json()
    assert len(runs) == 8
    if scale_out:
        assert all(r["infrastructure_pid"] for r in runs)
        assert {(r["work_pool_name"], r["work_queue_name"]) for r in runs} == {
            (WORK_POOL, STAGE_QUEUE)
        }
        assert executed_by == dict.fromkeys(ids, f"prefect.worker.process.xieshang-{STAGE_QUEUE}")
        assert deployments and {d["work_pool_name"] for d in deployments} == {WORK_POOL}
        names = {p.stem for p in log_dir.glob("*.log")}
        assert {"worker-stages", "worker-background", "xieshang-api"} <= names
        assert "xieshang" not in names  # no process serving deployments
    else:
        assert {r["work_pool_name"] for r in runs} == {None} and executed_by == {}


def _executed_by(prefect: str, ids: list[str], expect: int) -> dict[str, str]:
    """{flow run id: the worker that executed it} from Prefect's events, waiting (up to 60 s)
    for `expect` of them: the server stores events a moment after the run has ended."""
    deadline = time.monotonic() + 60
    while True:
        events = httpx.post(
            f"{prefect}/events/filter",
            json={
                "filter": {
                    "event": {"name": ["prefect.worker.executed-flow-run"]},
                    "related": {"id": [f"prefect.flow-run.{i}" for i in ids]},
                },
                "limit": 50,
            },
            timeout=30,
        ).json()["events"]
        found = {
            related["prefect.resource.id"].removeprefix("prefect.flow-run."): event["resource"][
                "prefect.resource.id"
            ]
            for event in events
            for related in event["related"]
            if related["prefect.resource.id"].startswith("prefect.flow-run.")
        }
        if len(found) >= expect or time.monotonic() > deadline:
            return found
        time.sleep(1)


def test_no_process_met_a_locked_database(stack, loop_result):
    """At scale, every log of the setup's processes (the flow runs' output included)."""
    _prefect, scale_out, log_dir = _PREFECT[stack]
    if not scale_out:
        pytest.skip("the embedded stack's SQLite case file is not the claim here")
    locked = [
        p.name
        for p in log_dir.glob("*.log")
        if "database is locked" in p.read_text(errors="replace")
    ]
    assert locked == []


def test_case_file_holds_items_report_and_kpis(stack, loop_result, office):
    tid = loop_result["topic_id"]
    topic = office.http.get(f"/topics/{tid}").json()
    assert topic["status"] == "closed" and topic["stage"] == "assessment"
    report = office.http.get(f"/topics/{tid}/report").json()
    assert report["status"] == "approved" and "协商意见建议清单" in report["content"]
    items = office.http.get(f"/topics/{tid}/items").json()["data"]
    # Two items, and the rework of the one whose 回头看 found a rebound, linked to it.
    assert len(items) == 3 and {i["status"] for i in items} == {"completed"}
    assert all(i["acknowledged_at"] and i["completed_at"] for i in items)
    reopened = [i for i in items if i["reopened_from_id"]]
    assert [i["reopened_from_id"] for i in reopened] == [items[1]["id"]]
    assert [i["rebound"] for i in items[:2]] == [False, True]
    kpis = loop_result["kpis"]
    assert kpis["items"] == 3 and kpis["completion_rate"] == 1.0
    assert kpis["adoption_rate"] == 1.0 and kpis["response_rate"] == 1.0
    assert kpis["rebound_rate"] == 0.5  # 1 of 2 re-checked
    # The disputed item: returned by the street, then by housing; the office arbitrated.
    disputed = items[1]
    bounces = office.http.get(f"/items/{disputed['id']}/bounces").json()["data"]
    assert [b["code"] for b in bounces] == ["not_our_duty", "shared_duty"]
    assert disputed["arbitrated_at"] and disputed["arbitration_note"]
    assert kpis["bounces"] == 2
    # Solved: the first (its 回头看 held) and the rework (rated satisfied), not the rebound.
    assert kpis["items_solved"] == 2 and kpis["problem_solved_rate"] == 0.6667
    assert kpis["ratings"] == 4 and kpis["satisfaction_rate"] == 1.0 and kpis["mean_score"] == 4.5
    # The expert's evaluation: 4·25/5 + 5·20/5 + 4·20/5 + 5·20/5 + 2·15/5 = 20+20+16+20+6.
    assert kpis["evaluations"] == 1 and kpis["evaluation_score"] == 82.0
    stages = office.http.get(f"/topics/{tid}/stages").json()["data"]
    assert [s["state"] for s in stages] == ["done"] * 8


def test_the_demo_screens_out_one_proposal_and_merges_a_look_alike(stack, loop_result, office):
    """初筛 in the demo: excluded on the hinted rule by the office; the look-alike merged into
    the demo's (earlier) topic, whose supporters now include its proposer."""
    shown = loop_result["screened"]
    excluded = office.http.get(f"/topics/{shown['excluded']}/screening", timeout=30).json()
    assert excluded["status"] == "screened_out" and excluded["rule"] == "litigation"
    assert excluded["decided_by_id"] is not None and not excluded["overridden"]
    merged = office.http.get(f"/topics/{shown['merged']}", timeout=30).json()
    assert merged["status"] == "merged" and merged["merged_into_id"] == loop_result["topic_id"]
    into = office.http.get(f"/topics/{loop_result['topic_id']}/screening", timeout=30).json()
    assert len(into["supporters"]) == 1


def test_the_demo_topic_opens_on_its_public_page(stack, loop_result):
    """What the demo prints for a newcomer to open: the finished topic, without signing in."""
    assert loop_result["public_page"] == f"/p/topics/{loop_result['topic_id']}"
    page = httpx.get(stack + loop_result["public_page"], timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert loop_result["title"] in page.text and "已办结" in page.text
    assert httpx.get(f"{stack}/login", timeout=30).status_code == 200


def test_starting_a_stage_again_returns_the_same_run(stack, loop_result, office):
    tid = loop_result["topic_id"]
    first = loop_result["stages"][0]["flow_run_id"]
    r = office.http.post(f"/topics/{tid}/stages/topic", timeout=30)
    assert r.status_code == 200
    assert r.json()["flow_run_id"] == first and r.json()["created"] is False


def test_gate_refusal_through_the_stack(stack, office):
    topic = office.http.post(
        "/topics", json={"title": "夜市噪声扰民", "source": "online"}, timeout=30
    ).json()
    r = office.http.post(f"/topics/{topic['id']}/stages/report", timeout=30)
    assert r.status_code == 409 and r.json()["detail"] == "协商尚未形成共识，不能报送成果"
    runs = office.http.get(f"/topics/{topic['id']}/runs", timeout=30).json()["data"]
    assert runs == []


def test_notifications_went_out_through_apprise_once(stack, loop_result, inbox, office):
    titles = inbox.titles()
    assert any(t.startswith("【交办签收】") for t in titles)
    assert any(t.startswith("【协商邀请】") for t in titles)
    # Rows queued by people's actions go out with the next follow-up sweep.
    run = office.http.post("/follow-ups/sweep", timeout=30).json()
    final = wait_for_run(office, run["id"])
    assert final["state_type"] == "COMPLETED"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any("审定结果" in t for t in inbox.titles()):
        time.sleep(0.2)
    titles = inbox.titles()
    assert any(t.startswith("【审定结果】") for t in titles)
    # One catch-all service: each outbox row marked sent arrived exactly once.
    with Session(engine_for(stack_db(stack))) as s:
        sent = s.exec(
            select(func.count()).where(Notification.status == NotificationStatus.SENT)
        ).one()
    assert sent == len(inbox.messages)


async def test_a_cancelled_stage_run_is_replaced_by_a_new_one(stack, office):
    from prefect.client.orchestration import PrefectClient
    from prefect.states import Cancelled

    async with httpx.AsyncClient(base_url=stack, timeout=30, headers=office.headers) as http:
        topic = (await http.post("/topics", json={"title": "河道保洁", "source": "member"})).json()
        first = (await http.post(f"/topics/{topic['id']}/stages/topic")).json()
        async with PrefectClient(api=_PREFECT[stack][0]) as prefect:
            await prefect.set_flow_run_state(first["flow_run_id"], Cancelled(), force=True)
        again = await http.post(f"/topics/{topic['id']}/stages/topic")
        assert again.status_code == 202 and again.json()["created"] is True
        second = again.json()["flow_run_id"]
        assert second != first["flow_run_id"]
        final = await _wait(http, second)
        assert final["state_type"] == "COMPLETED"
        assert (await http.get(f"/topics/{topic['id']}")).json()["status"] == "awaiting_approval"
        same = await http.post(f"/topics/{topic['id']}/stages/topic")
        assert same.status_code == 200 and same.json()["flow_run_id"] == second
        runs = {
            r["id"]: r["state_type"]
            for r in (await http.get(f"/topics/{topic['id']}/runs")).json()["data"]
        }
        assert set(runs) == {first["flow_run_id"], second} and runs[second] == "COMPLETED"
        # A process the runner had already started may still finish the cancelled run (forcing
        # the state does not kill it); its work is idempotent, the topic was screened once.
        assert runs[first["flow_run_id"]] in ("CANCELLED", "COMPLETED")
        audit = (await http.get(f"/topics/{topic['id']}/audit")).json()["data"]
        assert sum(1 for e in audit if e["action"] == "topic_screened") == 1


async def _wait(http: httpx.AsyncClient, run_id: str, timeout: float = 120) -> dict:
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = (await http.get(f"/runs/{run_id}")).json()
        if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        await asyncio.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish")
