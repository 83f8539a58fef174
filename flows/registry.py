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
from flows.assessment import assessment_stage
from flows.deliver import deliver_outbox
from flows.follow_up import follow_up
from flows.implementation import implementation_stage
from flows.monthly_bulletin import monthly_bulletin
from flows.prestudy import prestudy_stage
from flows.quarterly_review import quarterly_review
from flows.report import report_stage
from flows.session import session_stage
from flows.subject import subject_stage
from flows.topic import topic_stage
from flows.transfer import transfer_stage
from flows.weekly_dispatch import weekly_dispatch

STAGE_FLOWS = [
    topic_stage,
    subject_stage,
    prestudy_stage,
    session_stage,
    report_stage,
    transfer_stage,
    implementation_stage,
    assessment_stage,
]


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
