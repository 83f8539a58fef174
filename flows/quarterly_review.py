"""季评估: on the first day of each quarter (or on demand), the previous quarter's review with
its three months side by side per department and topic."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from config.deployments import QUARTERLY_REVIEW_FLOW
from tasks.notify import deliver_notifications
from tasks.reports import (
    compute_bulletin,
    publish_bulletin_summary,
    record_bulletin,
    render_charts,
    render_html,
    render_pdf,
    render_xlsx,
)


@flow(name=QUARTERLY_REVIEW_FLOW, log_prints=True)
async def quarterly_review(period: str | None = None) -> dict:
    """`period` ('2026Q3', '2026-07' or a date in the quarter) for an on-demand run; a scheduled
    run reviews the quarter before its scheduled time."""
    data = compute_bulletin("quarterly", period, now=flow_run.scheduled_start_time.isoformat())
    charts = render_charts(data)
    files = {
        "html": render_html(data, charts),
        "pdf": render_pdf(data, charts),
        "xlsx": render_xlsx(data),
        "charts": charts,
    }
    bulletin_id = record_bulletin(data, files)
    delivery = deliver_notifications()
    publish_bulletin_summary(data, bulletin_id, delivery)
    print(f"{data['title']}：评估 {bulletin_id}，期末逾期 {data['overdue']['total']} 项")
    return {
        "bulletin_id": bulletin_id,
        "period": data["period"],
        "files": files,
        "delivery": delivery,
    }
