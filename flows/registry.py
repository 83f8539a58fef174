"""Every deployment and its schedule, in one list (prefect.yaml mirrors it for workers).

Two groups with their own capacity: stage runs people start, and background runs (the
recurring ones). Recurring runs never overlap themselves. Prompt delivery is no deployment: the
serving process calls flows.deliver in a thread."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron

from config.deployments import (
    DEPLOYMENT,
    MONTHLY_BULLETIN_CRON,
    QUARTERLY_REVIEW_CRON,
    SCHEDULE_TIMEZONE,
    SINGLE_FLIGHT,
    WEEKLY_DISPATCH_CRON,
)
from config.settings import get_settings
from flows.follow_up import follow_up
from flows.ledger_import import ledger_import
from flows.monthly_bulletin import monthly_bulletin
from flows.quarterly_review import quarterly_review
from flows.stages import STAGE_FLOWS as STAGES_BY_NAME
from flows.weekly_dispatch import weekly_dispatch

STAGE_FLOWS = list(STAGES_BY_NAME.values())  # in stage order


def single_flight(flow_name: str) -> ConcurrencyLimitConfig | None:
    """At most one run of a recurring deployment in flight (config.deployments.SINGLE_FLIGHT)."""
    strategy = SINGLE_FLIGHT.get(flow_name)
    if strategy is None:
        return None
    return ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy(strategy))


async def stage_deployments() -> list[Any]:
    """The eight stage flows, on demand: what people start (work queue STAGE_QUEUE at scale)."""
    return [
        await f.ato_deployment(name=DEPLOYMENT, tags=["xieshang", "stage"]) for f in STAGE_FLOWS
    ]


async def background_deployments() -> list[Any]:
    """The sweep on an interval, 台账 imports on demand, the dispatch and
    bulletins on their crons (work queue BACKGROUND_QUEUE at scale)."""
    interval = timedelta(seconds=get_settings().follow_up_interval_seconds)
    plans: list[tuple[Any, dict[str, Any], list[str]]] = [
        (follow_up, {"interval": interval}, ["xieshang", "recurring"]),
        (ledger_import, {}, ["xieshang", "ledger-import"]),
        (
            weekly_dispatch,
            {"schedules": [Cron(WEEKLY_DISPATCH_CRON, timezone=SCHEDULE_TIMEZONE)]},
            ["xieshang", "recurring"],
        ),
        (
            monthly_bulletin,
            {"schedules": [Cron(MONTHLY_BULLETIN_CRON, timezone=SCHEDULE_TIMEZONE)]},
            ["xieshang", "recurring"],
        ),
        (
            quarterly_review,
            {"schedules": [Cron(QUARTERLY_REVIEW_CRON, timezone=SCHEDULE_TIMEZONE)]},
            ["xieshang", "recurring"],
        ),
    ]
    return [
        await f.ato_deployment(
            name=DEPLOYMENT,
            tags=tags,
            concurrency_limit=single_flight(f.name),
            **when,
        )
        for f, when, tags in plans
    ]


async def deployments() -> list[Any]:
    """Every deployment, both groups."""
    return [*(await stage_deployments()), *(await background_deployments())]
