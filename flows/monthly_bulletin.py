"""月通报: on the 1st at 09:00 Asia/Shanghai (or on demand), the previous month's bulletin."""

from __future__ import annotations

from prefect import flow

from config.deployments import MONTHLY_BULLETIN_FLOW
from flows.bulletin_steps import produce_bulletin


@flow(name=MONTHLY_BULLETIN_FLOW, log_prints=True)
async def monthly_bulletin(period: str | None = None, interim: bool = False) -> dict:
    """`period` ('2026-10' or a date in the month) for an on-demand run; a scheduled run
    reports the month before its scheduled time, so a late run still reports the right month.
    A month that has not ended is refused unless `interim`: a 中期 report counted to now."""
    return produce_bulletin("monthly", period, "通报", interim)
