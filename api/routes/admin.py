"""Administration: the outbox, on-demand sweeps, overall KPIs, single flow runs."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from api import launcher
from api.auth import OfficeBrief, Overseer, OverseerBrief, Postmaster
from api.deps import AsOf, Limit, Offset, PathId, QueryId, ReadSessionDep, SessionDep, commit
from models import assessment, kpi_board, outbox
from models.case import Listing
from models.errors import NotFound
from models.tables import Notification

router = APIRouter(tags=["admin"])


@router.get("/notifications/undelivered", response_model=outbox.NotificationsPublic)
def undelivered(
    session: ReadSessionDep, _: Postmaster, limit: Limit = 100, offset: Offset = 0
) -> Listing[Notification]:
    """Pending, failed, in-doubt and unroutable messages, oldest first."""
    return outbox.undelivered(session, limit=limit, offset=offset)


@router.post("/notifications/{notification_id}/resend", response_model=outbox.NotificationPublic)
def resend(notification_id: PathId, session: SessionDep, _: Postmaster) -> Notification:
    row = outbox.resend(session, notification_id)
    commit(session, row)
    return row


@router.post("/notifications/{notification_id}/give-up", response_model=outbox.NotificationPublic)
def give_up(notification_id: PathId, session: SessionDep, _: Postmaster) -> Notification:
    row = outbox.give_up(session, notification_id)
    commit(session, row)
    return row


@router.post("/follow-ups/sweep", response_model=launcher.FlowRunPublic, status_code=202)
async def sweep_now(_: OfficeBrief) -> launcher.FlowRunPublic:
    """Run the follow-up sweep now instead of waiting for its schedule."""
    return await launcher.launch_follow_up()


@router.get("/ready")
async def ready() -> dict:
    """200 once Prefect knows every deployment; 503 with what is missing before that."""
    missing = await launcher.missing_deployments()
    if missing:
        raise launcher.ServiceUnavailable("流程部署尚未就绪：" + "、".join(missing))
    return {"status": "ready"}


@router.get("/kpis")
def overall_kpis(session: ReadSessionDep, _: Overseer, as_of: AsOf = None) -> dict:
    """Every topic's KPIs together, now or as of `as_of` (as GET /topics/{id}/kpis)."""
    return assessment.kpis(session, as_of=as_of)


Period = Annotated[
    str | None,
    Query(
        max_length=20,
        description="统计期间：2026（年）、2026Q4（季度）、2026-10（月）、2026-10-31（截至该日）；"
        "留空为截至目前",
    ),
]


@router.get("/kpis/departments", response_model=kpi_board.DepartmentTable)
def department_kpis(
    session: ReadSessionDep, _: Overseer, period: Period = None
) -> kpi_board.DepartmentTable:
    """Every department's KPIs for the period, ranked, each rate beside its sample size."""
    return kpi_board.department_table(session, kpi_board.parse_period(period))


@router.get("/kpis/{key}/records", response_model=kpi_board.KpiRecords)
def kpi_records(
    key: Annotated[str, Path(max_length=64, description="指标键，如 completion_rate")],
    session: ReadSessionDep,
    _: Overseer,
    part: Literal["numerator", "denominator"] = "numerator",
    topic_id: QueryId = None,
    department_id: QueryId = None,
    period: Period = None,
    page: Annotated[int, Query(ge=1, le=100_000, description="页码")] = 1,
) -> kpi_board.KpiRecords:
    """The records behind a KPI's numerator or denominator, for all topics, one topic or one
    department, over the period (20 a page)."""
    return kpi_board.records(
        session,
        key,
        part,
        kpi_board.parse_period(period),
        kpi_board.Scope(topic_id=topic_id, department_id=department_id),
        page=page,
    )


@router.get("/runs/{flow_run_id}", response_model=launcher.FlowRunPublic)
async def read_run(flow_run_id: uuid.UUID, _: OverseerBrief) -> launcher.FlowRunPublic:
    run = await launcher.read_run(flow_run_id)
    if run is None:
        raise NotFound(f"流程运行 {flow_run_id} 不存在")
    return run
