"""Every deployment and its schedule, in one list (prefect.yaml mirrors it for workers)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from prefect.schedules import Cron

from config.deployments import (
    DEPLOYMENT,
    MONTHLY_BULLETIN_CRON,
    QUARTERLY_REVIEW_CRON,
    SCHEDULE_TIMEZONE,
    WEEKLY_DISPATCH_CRON,
)
from config.settings import get_settings
from flows.deliver import deliver_outbox
from flows.follow_up import follow_up
from flows.monthly_bulletin import monthly_bulletin
from flows.quarterly_review import quarterly_review
from flows.stages import STAGE_FLOWS as STAGES_BY_NAME
from flows.weekly_dispatch import weekly_dispatch

STAGE_FLOWS = list(STAGES_BY_NAME.values())  # in stage order


async def deployments() -> list[Any]:
    """RunnerDeployments for `serve`: eight stage flows on demand, the sweep on an interval."""
    interval = timedelta(seconds=get_settings().follow_up_interval_seconds)
    result = [
        await f.ato_deployment(name=DEPLOYMENT, tags=["xieshang", "stage"]) for f in STAGE_FLOWS
    ]
    result.append(
        await follow_up.ato_deployment(
            name=DEPLOYMENT, interval=interval, tags=["xieshang", "recurring"]
        )
    )
    result.append(
        await deliver_outbox.ato_deployment(name=DEPLOYMENT, tags=["xieshang", "delivery"])
    )
    result.append(
        await weekly_dispatch.ato_deployment(
            name=DEPLOYMENT,
            schedules=[Cron(WEEKLY_DISPATCH_CRON, timezone=SCHEDULE_TIMEZONE)],
            tags=["xieshang", "recurring"],
        )
    )
    for recurring, cron in (
        (monthly_bulletin, MONTHLY_BULLETIN_CRON),
        (quarterly_review, QUARTERLY_REVIEW_CRON),
    ):
        result.append(
            await recurring.ato_deployment(
                name=DEPLOYMENT,
                schedules=[Cron(cron, timezone=SCHEDULE_TIMEZONE)],
                tags=["xieshang", "recurring"],
            )
        )
    return result
