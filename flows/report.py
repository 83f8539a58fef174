"""报送成果 — compile the list of opinions and suggestions into a report for approval."""

from __future__ import annotations

from prefect import flow

from config.deployments import STAGE_FLOWS
from models.enums import Stage
from tasks.case import begin_stage, compile_report, settle_stage
from tasks.notify import deliver_notifications


@flow(name=STAGE_FLOWS["report"], flow_run_name="report-{topic_id}", log_prints=True)
async def report_stage(topic_id: int) -> dict:
    """Compile the report from the rounds, research and suggestions, and send it for approval."""
    begin_stage(topic_id, Stage.REPORT)
    result = compile_report(topic_id)
    delivered = deliver_notifications(topic_id=topic_id)
    state = settle_stage(topic_id)
    return {"topic_id": topic_id, "result": result, "delivered": delivered, "stage_state": state}
