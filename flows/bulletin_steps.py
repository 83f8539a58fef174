"""The steps a bulletin run takes, shared by the monthly bulletin and the quarterly review."""

from __future__ import annotations

from prefect.runtime import flow_run

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


def produce_bulletin(kind: str, period: str | None, noun: str, interim: bool = False) -> dict:
    """Compute in SQL, render the files, record and announce, deliver, leave an artifact.
    A scheduled run reports the period before its scheduled time, so a late run is still right;
    a period that has not ended is refused in the first step unless `interim` (中期)."""
    data = compute_bulletin(
        kind, period, now=flow_run.scheduled_start_time.isoformat(), interim=interim
    )
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
    print(
        f"{data['title']}：{noun} {bulletin_id}，{data['overdue_label']} {data['overdue']['total']} 项"
    )
    return {
        "bulletin_id": bulletin_id,
        "period": data["period"],
        "interim": data["interim"],
        "files": files,
        "delivery": delivery,
    }
