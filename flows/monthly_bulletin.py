"""月通报: on the 1st at 09:00 Asia/Shanghai (or on demand), the previous month's bulletin."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from config.deployments import MONTHLY_BULLETIN_FLOW
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


@flow(name=MONTHLY_BULLETIN_FLOW, log_prints=True)
async def monthly_bulletin(period: str | None = None) -> dict:
    """`period` ('2026-10' or a date in the month) for an on-demand run; a scheduled run
    reports the month before its scheduled time, so a late run still reports the right month."""
    data = compute_bulletin("monthly", period, now=flow_run.scheduled_start_time.isoformat())
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
    print(f"{data['title']}：通报 {bulletin_id}，期末逾期 {data['overdue']['total']} 项")
    return {
        "bulletin_id": bulletin_id,
        "period": data["period"],
        "files": files,
        "delivery": delivery,
    }
