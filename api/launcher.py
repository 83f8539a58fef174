"""Starts flow runs through Prefect deployments and reads them back; the API's only Prefect door."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import anyio
import httpx
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.errors import ServiceUnavailable
from config.deployments import (
    FOLLOW_UP_FLOW,
    LEDGER_IMPORT_FLOW,
    MONTHLY_BULLETIN_FLOW,
    QUARTERLY_REVIEW_FLOW,
    WEEKLY_DISPATCH_FLOW,
    deployment_ref,
)
from models import bulletin, stages
from models.base import Page
from models.bulletin import BulletinKind
from models.case import get
from models.enums import Stage
from models.tables import AppMeta, Topic

# Opens one unit of work (commit on success, roll back on error): config.db.session_scope in
# production, the test's session in tests.
UnitOfWork = Callable[[], AbstractContextManager[Session]]


class FlowRunPublic(BaseModel):
    id: str
    name: str
    flow_name: str | None = None
    deployment_id: str | None = None
    tags: list[str]
    state_type: str | None
    state_name: str | None
    created: dt.datetime | None
    expected_start_time: dt.datetime | None = None
    start_time: dt.datetime | None
    end_time: dt.datetime | None
    parameters: dict[str, Any] = {}
    # True when a run of the same kind (and period) was already queued or running and this one
    # is returned instead of starting another.
    existing: bool = False


def installation_id(session: Session) -> str:
    """This case file's id; it keeps idempotency keys apart when databases share one Prefect."""
    row = session.get(AppMeta, "installation_id")
    if row is None:
        row = AppMeta(key="installation_id", value=uuid.uuid4().hex[:12])
        session.add(row)
        session.commit()
    return row.value


def run_tags(install_id: str, topic_id: int, stage: Stage) -> list[str]:
    return [f"topic:{topic_id}", f"stage:{stage.value}", f"xs:{install_id}"]


def _public(run: Any, flow_name: str | None = None, *, existing: bool = False) -> FlowRunPublic:
    state = run.state
    return FlowRunPublic(
        id=str(run.id),
        name=run.name,
        flow_name=flow_name,
        deployment_id=str(run.deployment_id) if run.deployment_id else None,
        tags=list(run.tags),
        state_type=state.type.value if state else None,
        state_name=state.name if state else None,
        created=run.created,
        expected_start_time=run.expected_start_time,
        start_time=run.start_time,
        end_time=run.end_time,
        parameters=dict(run.parameters or {}),
        existing=existing,
    )


RESTARTABLE = {"FAILED", "CRASHED", "CANCELLED"}


class FlowRunsPublic(Page[FlowRunPublic]):
    """A topic's flow runs as Prefect records them, newest first."""


class StageStart(BaseModel):
    """What starting a stage did: the one flow run that carries it, and whether it is new."""

    topic_id: int
    stage: Stage
    flow_run_id: str
    created: bool
    state_type: str | None = None


def _existing_run(uow: UnitOfWork, topic_id: int, stage: Stage) -> tuple[str, str | None]:
    """(installation id, the stage's recorded flow run); refuse at once if the gate says no."""
    with uow() as session:
        topic = get(session, Topic, topic_id)
        existing = stages.stage_run(session, topic_id, stage)
        if existing is None:
            stages.check_can_start(session, topic, stage)
        return installation_id(session), existing.flow_run_id if existing else None


def _check_restart(uow: UnitOfWork, topic_id: int, stage: Stage) -> None:
    with uow() as session:
        stages.check_can_restart(session, get(session, Topic, topic_id), stage)


def _record(uow: UnitOfWork, topic_id: int, stage: Stage, flow_run_id: str) -> bool:
    """Store the stage's run; False if a concurrent request stored this very run first."""
    try:
        with uow() as session:
            return stages.record_run(
                session, topic_id=topic_id, stage=stage, flow_run_id=flow_run_id
            )
    except IntegrityError:  # the same first start, recorded by a concurrent request
        return False


async def start_stage(uow: UnitOfWork, topic_id: int, stage: Stage) -> StageStart:
    """Start a stage, the one use case behind `POST /topics/{id}/stages/{stage}`.

    Starting again returns the same run (idempotent); a run that failed, crashed or was
    cancelled is replaced by a new one. Concurrent requests converge on one flow run: Prefect
    creates one run per idempotency key, and the case file records it once. No database
    transaction is open while Prefect is called, and all database work runs in worker threads,
    so a slow Prefect or a busy SQLite file never stalls other requests."""
    install_id, existing = await anyio.to_thread.run_sync(_existing_run, uow, topic_id, stage)
    after = None
    if existing:
        previous = await read_run(uuid.UUID(existing))
        if previous is None or previous.state_type not in RESTARTABLE:
            return StageStart(
                topic_id=topic_id,
                stage=stage,
                flow_run_id=existing,
                created=False,
                state_type=previous.state_type if previous else None,
            )
        await anyio.to_thread.run_sync(_check_restart, uow, topic_id, stage)
        after = existing
    run = await launch_stage(install_id, topic_id, stage, after=after)
    created = await anyio.to_thread.run_sync(_record, uow, topic_id, stage, run.id)
    return StageStart(
        topic_id=topic_id,
        stage=stage,
        flow_run_id=run.id,
        created=created,
        state_type=run.state_type,
    )


@contextmanager
def _prefect_for(what: str) -> Iterator[None]:
    """Calls to Prefect on the way to starting `what`: Prefect unreachable or the deployment not
    served is a clear 503 (nothing was started), not a traceback."""
    from prefect.exceptions import ObjectNotFound

    try:
        yield
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用，未启动{what}：{exc}") from exc
    except ObjectNotFound as exc:
        raise ServiceUnavailable(
            f"{what}的流程部署尚未就绪（请用 xieshang up 启动全部服务），未启动任何流程"
        ) from exc


async def _launch(
    flow_name: str,
    *,
    what: str,
    tags: list[str],
    parameters: dict[str, Any] | None = None,
    idempotency_key: str | None = None,
) -> FlowRunPublic:
    """Create a flow run of a served deployment and return at once; refuse clearly (503, nothing
    started) when Prefect or the deployment is not there."""
    from prefect.deployments import run_deployment

    with _prefect_for(what):
        run = await run_deployment(  # type: ignore[misc]
            deployment_ref(flow_name),
            parameters=parameters or {},
            timeout=0,
            as_subflow=False,
            tags=tags,
            idempotency_key=idempotency_key,
        )
    return _public(run, flow_name)


async def launch_stage(
    install_id: str, topic_id: int, stage: Stage, *, after: str | None = None
) -> FlowRunPublic:
    """Create (or find) the one flow run of this stage for this topic; returns at once.
    `after` names a failed run this one replaces (its own idempotency key)."""
    key = f"{install_id}:topic:{topic_id}:stage:{stage.value}"
    if after:
        key += f":after:{after}"
    return await _launch(
        stages.SPECS[stage].flow_name,
        what=f"“{stage.label}”环节",
        parameters={"topic_id": topic_id},
        tags=run_tags(install_id, topic_id, stage),
        idempotency_key=key,
    )


async def launch_ledger_import(import_id: int, key: str) -> FlowRunPublic:
    """Apply a checked 台账 (one run per apply: `key` names the import and the attempt)."""
    return await _launch(
        LEDGER_IMPORT_FLOW,
        what="台账导入",
        parameters={"import_id": import_id},
        tags=["ledger-import", f"import:{import_id}"],
        idempotency_key=key,
    )


async def launch_follow_up() -> FlowRunPublic:
    """An on-demand sweep, beside the scheduled ones (or the one already due or running)."""
    return await launch_recurring(FOLLOW_UP_FLOW)


# What each recurring run is called, for messages; keys are config.deployments' flow names.
RECURRING_NAMES = {
    FOLLOW_UP_FLOW: "跟踪督办巡检",
    WEEKLY_DISPATCH_FLOW: "周调度",
    MONTHLY_BULLETIN_FLOW: "月通报",
    QUARTERLY_REVIEW_FLOW: "季评估",
}
ACTIVE_STATES = ("SCHEDULED", "PENDING", "RUNNING")
# A scheduled run due this soon is the run a person asks for: it is returned, not doubled.
DUE_WITHIN = dt.timedelta(seconds=10)


async def _recent_runs(flow_name: str, parameters: dict[str, Any]) -> tuple[str, list[Any]]:
    """The deployment's id, and its runs with these parameters due by now + DUE_WITHIN,
    newest first."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterDeploymentId,
        FlowRunFilterExpectedStartTime,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    with _prefect_for(RECURRING_NAMES[flow_name]):
        async with get_client() as client:
            deployment = await client.read_deployment_by_name(deployment_ref(flow_name))
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    deployment_id=FlowRunFilterDeploymentId(any_=[deployment.id]),
                    expected_start_time=FlowRunFilterExpectedStartTime(
                        before_=dt.datetime.now(dt.UTC) + DUE_WITHIN
                    ),
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=50,
            )
    return str(deployment.id), [r for r in runs if dict(r.parameters or {}) == parameters]


def _in_flight(runs: list[Any]) -> Any | None:
    """The run that carries the request: running first, then pending, then the earliest due."""
    by_state = {state: [r for r in runs if r.state_type.value == state] for state in ACTIVE_STATES}
    if by_state["RUNNING"] or by_state["PENDING"]:
        return (by_state["RUNNING"] or by_state["PENDING"])[0]
    return by_state["SCHEDULED"][-1] if by_state["SCHEDULED"] else None


async def active_run(
    flow_name: str, parameters: dict[str, Any] | None = None
) -> FlowRunPublic | None:
    """The run of this kind (and these parameters) queued or running now, if any."""
    _, runs = await _recent_runs(flow_name, parameters or {})
    run = _in_flight(runs)
    return _public(run, flow_name, existing=True) if run is not None else None


async def launch_recurring(
    flow_name: str, parameters: dict[str, Any] | None = None, *, tags: list[str] | None = None
) -> FlowRunPublic:
    """A recurring run now, unless one of the same kind and parameters is already queued or
    running: then that one is returned (`existing`), so a burst of requests queues nothing.

    Requests at the same moment converge on one new run: its idempotency key names the last
    on-demand run before it, which is the same for all of them until the new one exists. In
    one API process they are also taken one at a time, so all but the first are told the run
    already existed (across processes the key alone converges them).

    The key also names the deployment: Prefect keeps a key per flow, so a deployment made
    again (a new id, none of the old runs in its list) would otherwise be handed an old,
    finished run that once had the key "after nothing"."""
    parameters = parameters or {}
    kind = f"{flow_name}:{json.dumps(parameters, sort_keys=True)}"
    async with _launch_lock(kind):
        deployment_id, runs = await _recent_runs(flow_name, parameters)
        current = _in_flight(runs)
        if current is not None:
            return _public(current, flow_name, existing=True)
        last = next((r for r in runs if "on-demand" in r.tags), None)
        return await _launch(
            flow_name,
            what=RECURRING_NAMES[flow_name],
            parameters=parameters,
            tags=["on-demand", *(tags or [])],
            idempotency_key=f"{deployment_id}:{kind}:after:{last.id if last else '-'}",
        )


# One lock per kind of recurring run and per event loop (an asyncio lock belongs to one loop).
_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _launch_lock(kind: str) -> asyncio.Lock:
    locks = _LOCKS.setdefault(asyncio.get_running_loop(), {})
    return locks.setdefault(kind, asyncio.Lock())


log = logging.getLogger("xieshang.delivery")


class DeliveryKicker:
    """Prompt delivery of what people's actions queue, without a run per action.

    The delivery flow runs in a worker thread of the serving process (a Prefect flow run like
    any other, but no new process: spawning one cost about 6 CPU-seconds per delivery). At most
    one delivery is in flight per process, and every request is followed by a delivery that
    starts after it: requests that arrive while one is under way are served by the next. If it
    fails, the follow-up sweep delivers later (the safety net)."""

    def __init__(self, deliver: Callable[[], object]) -> None:
        self._deliver = deliver
        self._pending = False
        self._worker: asyncio.Task[None] | None = None

    def request(self) -> None:
        """On the event loop: ask for a delivery soon."""
        self._pending = True
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._work())

    async def _work(self) -> None:
        while self._pending:
            self._pending = False
            try:
                await anyio.to_thread.run_sync(self._deliver)
            except Exception as exc:  # the sweep delivers later; never fail a person's action
                log.warning("未能立即投递通知，将由定时巡检补发：%s", exc)
                return


_kicker: DeliveryKicker | None = None


def enable_prompt_delivery(deliver: Callable[[], object]) -> None:
    """Called by the serving process with the delivery flow: from now on committed actions
    trigger it (the API itself never imports flows)."""
    global _kicker
    _kicker = DeliveryKicker(deliver)


def request_delivery() -> None:
    """From a request's worker thread, after a commit that queued messages."""
    if _kicker is None:
        return
    try:
        anyio.from_thread.run_sync(_kicker.request)
    except RuntimeError:  # not in a thread the event loop started (a script, a test)
        return


async def launch_weekly_dispatch() -> FlowRunPublic:
    """The Monday dispatch now, or the one already queued or running (digests are keyed per
    ISO week, so a second run in a week sends nothing again)."""
    return await launch_recurring(WEEKLY_DISPATCH_FLOW, tags=["weekly-dispatch"])


BULLETIN_FLOWS = {"monthly": MONTHLY_BULLETIN_FLOW, "quarterly": QUARTERLY_REVIEW_FLOW}


async def launch_bulletin(
    kind: str, period: str | None = None, *, interim: bool = False
) -> FlowRunPublic:
    """A monthly bulletin or quarterly review now; `period` (already validated) or the last one,
    or with `interim` the running period so far. The run already queued or running for the same
    period (and kind of report) is returned instead of a second one; a later rerun regenerates
    the files, the announcement still goes out once."""
    parameters: dict[str, Any] = {"period": period} if period else {}
    if interim:
        parameters["interim"] = True
    tags = [f"bulletin:{kind}"] + (["interim"] if interim else [])
    return await launch_recurring(BULLETIN_FLOWS[kind], parameters, tags=tags)


async def launch_bulletin_on_demand(
    kind: BulletinKind, period: str | None = None, *, interim: bool = False
) -> FlowRunPublic:
    """A bulletin a person asks for (API or page): a bad period is refused (422) and one that
    has not ended (or an interim one that has) too (409), before anything starts; the flow
    applies the same rule when it runs. Empty means the last full period."""
    chosen = bulletin.choose_period(kind, period, interim=interim)
    return await launch_bulletin(
        kind.value, chosen.key if period or interim else None, interim=interim
    )


async def recurring_runs(limit: int = 10) -> list[FlowRunPublic]:
    """The latest runs of the weekly dispatch and the bulletins (scheduled or on demand), newest
    first, as Prefect records them; the far-off scheduled ones are left out."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
    )
    from prefect.client.schemas.sorting import FlowRunSort

    names = [WEEKLY_DISPATCH_FLOW, *BULLETIN_FLOWS.values()]
    try:
        async with get_client() as client:
            flows = {
                f.id: f.name
                for f in await client.read_flows(
                    flow_filter=FlowFilter(name=FlowFilterName(any_=names))
                )
            }
            runs = await client.read_flow_runs(
                flow_filter=FlowFilter(name=FlowFilterName(any_=names)),
                flow_run_filter=FlowRunFilter(
                    expected_start_time=FlowRunFilterExpectedStartTime(
                        before_=dt.datetime.now(dt.UTC) + DUE_WITHIN
                    )
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_DESC,
                limit=limit,
            )
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用：{exc}") from exc
    return [_public(run, flows.get(run.flow_id)) for run in runs]


def _topic_install_id(uow: UnitOfWork, topic_id: int) -> str:
    with uow() as session:
        get(session, Topic, topic_id)
        return installation_id(session)


async def topic_runs(uow: UnitOfWork, topic_id: int) -> list[FlowRunPublic]:
    """The topic's flow runs as Prefect records them; 404 for an unknown topic."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

    install_id = await anyio.to_thread.run_sync(_topic_install_id, uow, topic_id)
    try:
        async with get_client() as client:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    tags=FlowRunFilterTags(all_=[f"topic:{topic_id}", f"xs:{install_id}"])
                ),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用：{exc}") from exc
    return [_public(run, _stage_flow(run.tags)) for run in runs]


def _stage_flow(tags: list[str]) -> str | None:
    """The stage flow a run carries, from its `stage:<stage>` tag (None for other runs)."""
    names = {f"stage:{stage.value}": spec.flow_name for stage, spec in stages.SPECS.items()}
    return next((names[t] for t in tags if t in names), None)


async def read_run(flow_run_id: uuid.UUID) -> FlowRunPublic | None:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    try:
        async with get_client() as client:
            run = await client.read_flow_run(flow_run_id)
    except ObjectNotFound:
        return None
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用：{exc}") from exc
    return _public(run, _stage_flow(run.tags))


async def missing_deployments() -> list[str]:
    """Deployments Prefect does not know yet (empty when the stack is ready to run stages)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    missing = []
    try:
        async with get_client() as client:
            for flow_name in [
                *(spec.flow_name for spec in stages.SPECS.values()),
                FOLLOW_UP_FLOW,
                WEEKLY_DISPATCH_FLOW,
                *BULLETIN_FLOWS.values(),
            ]:
                try:
                    await client.read_deployment_by_name(deployment_ref(flow_name))
                except ObjectNotFound:
                    missing.append(deployment_ref(flow_name))
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用：{exc}") from exc
    return missing


ZOMBIE_AUTOMATION = "xieshang：无心跳的流程运行标记为崩溃"


async def ensure_zombie_automation(silent_for_seconds: int) -> None:
    """Prefect's own zombie detection: a flow run that stops sending heartbeats (its process
    was killed, its machine went away) is marked CRASHED, so its stage can be restarted.
    Created once per Prefect server; kept in step with the configured silence."""
    from prefect.automations import Automation
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.events.schemas.events import ResourceSpecification

    wanted = Automation(
        name=ZOMBIE_AUTOMATION,
        description="流程运行进程意外终止（无心跳）时，将其标记为崩溃，以便重新启动该环节",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={
                "prefect.flow-run.heartbeat",
                "prefect.flow-run.Completed",
                "prefect.flow-run.Failed",
                "prefect.flow-run.Cancelled",
                "prefect.flow-run.Crashed",
            },
            match=ResourceSpecification({"prefect.resource.id": ["prefect.flow-run.*"]}),
            for_each={"prefect.resource.id"},
            posture=Posture.Proactive,
            threshold=1,
            within=dt.timedelta(seconds=silent_for_seconds),
        ),
        actions=[
            ChangeFlowRunState(
                state=StateType.CRASHED,
                message=f"{silent_for_seconds} 秒未收到心跳，运行进程已终止",
            )
        ],
    )
    try:
        try:
            current = await Automation.aread(name=ZOMBIE_AUTOMATION)
        except ValueError:
            await wanted.acreate()
            return
        if current.trigger.within != wanted.trigger.within:  # type: ignore[union-attr]
            await current.adelete()
            await wanted.acreate()
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用：{exc}") from exc


async def is_served(flow_name: str) -> bool:
    """Whether a runner or worker is polling this deployment now (Prefect's READY status)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.objects import DeploymentStatus
    from prefect.exceptions import ObjectNotFound

    try:
        async with get_client() as client:
            deployment = await client.read_deployment_by_name(deployment_ref(flow_name))
    except ObjectNotFound:
        return False
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用：{exc}") from exc
    return deployment.status == DeploymentStatus.READY


async def run_artifacts(flow_run_id: str) -> list[tuple[str | None, str]]:
    """(key, markdown) of what a run recorded as artifacts, oldest first: what it did."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.client.schemas.sorting import ArtifactSort

    try:
        async with get_client() as client:
            artifacts = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(flow_run_id)])
                ),
                sort=ArtifactSort.CREATED_DESC,
            )
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用：{exc}") from exc
    return [(a.key, str(a.data)) for a in reversed(artifacts) if isinstance(a.data, str)]
