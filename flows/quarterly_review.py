"""季评估: on the first day of each quarter (or on demand), the previous quarter's review with
its three months side by side per department and topic."""

from __future__ import annotations

from prefect import flow

from config.deployments import QUARTERLY_REVIEW_FLOW
from flows.bulletin_steps import produce_bulletin


@flow(name=QUARTERLY_REVIEW_FLOW, log_prints=True)
async def quarterly_review(period: str | None = None, interim: bool = False) -> dict:
    """`period` ('2026Q3', '2026-07' or a date in the quarter) for an on-demand run; a scheduled
    run reviews the quarter before its scheduled time. A quarter that has not ended is refused
    unless `interim`: a 中期 review counted to now."""
    return produce_bulletin("quarterly", period, "评估", interim)
