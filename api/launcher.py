"""Starts flow runs through Prefect deployments and reads them back; the API's only Prefect door."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
from pydantic import BaseModel
from sqlmodel import Session

from api.errors import ServiceUnavailable
from config.deployments import (
    FOLLOW_UP_FLOW,
    MONTHLY_BULLETIN_FLOW,
    QUARTERLY_REVIEW_FLOW,
    STAGE_FLOWS,
    WEEKLY_DISPATCH_FLOW,
    deployment_ref,
)
from models.enums import Stage
from models.tables import AppMeta


class FlowRunPublic(BaseModel):
    id: str
    name: str
    flow_name: str | None = None
    deployment_id: str | None = None
    tags: list[str]
    state_type: str | None
    state_name: str | None
    created: dt.datetime | None
    start_time: dt.datetime | None
    end_time: dt.datetime | None


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


def _public(run: Any, flow_name: str | None = None) -> FlowRunPublic:
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
        start_time=run.start_time,
        end_time=run.end_time,
    )


RESTARTABLE = {"FAILED", "CRASHED", "CANCELLED"}


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
    from prefect.exceptions import ObjectNotFound

    try:
        run = await run_deployment(  # type: ignore[misc]
            deployment_ref(flow_name),
            parameters=parameters or {},
            timeout=0,
            as_subflow=False,
            tags=tags,
            idempotency_key=idempotency_key,
        )
    except (httpx.HTTPError, OSError) as exc:
        raise ServiceUnavailable(f"流程引擎（Prefect）暂不可用，未启动{what}：{exc}") from exc
    except ObjectNotFound as exc:
        raise ServiceUnavailable(
            f"{what}的流程部署尚未就绪（请用 xieshang up 启动全部服务），未启动任何流程"
        ) from exc
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
        STAGE_FLOWS[stage.value],
        what=f"“{stage.label}”环节",
        parameters={"topic_id": topic_id},
        tags=run_tags(install_id, topic_id, stage),
        idempotency_key=key,
    )


async def launch_follow_up() -> FlowRunPublic:
    """An on-demand sweep, beside the scheduled ones."""
    return await _launch(FOLLOW_UP_FLOW, what="跟踪督办巡检", tags=["on-demand"])


async def launch_weekly_dispatch() -> FlowRunPublic:
    """The Monday dispatch, now (it is idempotent per ISO week, so no key of our own)."""
    return await _launch(WEEKLY_DISPATCH_FLOW, what="周调度", tags=["on-demand", "weekly-dispatch"])


BULLETIN_FLOWS = {"monthly": MONTHLY_BULLETIN_FLOW, "quarterly": QUARTERLY_REVIEW_FLOW}


async def launch_bulletin(kind: str, period: str | None = None) -> FlowRunPublic:
    """A monthly bulletin or quarterly review now; `period` (already validated) or the last one.
    No idempotency key: a rerun regenerates the files, the announcement still goes out once."""
    return await _launch(
        BULLETIN_FLOWS[kind],
        what="月通报" if kind == "monthly" else "季评估",
        parameters={"period": period} if period else {},
        tags=["on-demand", f"bulletin:{kind}"],
    )


async def topic_runs(install_id: str, topic_id: int) -> list[FlowRunPublic]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags
    from prefect.client.schemas.sorting import FlowRunSort

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
    stage_tag = next((t for t in tags if t.startswith("stage:")), None)
    return STAGE_FLOWS.get(stage_tag.split(":", 1)[1]) if stage_tag else None


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
                *STAGE_FLOWS.values(),
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
