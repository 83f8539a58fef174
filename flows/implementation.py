"""落实整改 — one problem, one plan; every item deadline on its ladder."""

from __future__ import annotations

from prefect import flow

from config.deployments import STAGE_FLOWS
from models.enums import Stage
from tasks.case import begin_stage, request_plans, settle_stage
from tasks.notify import deliver_notifications


@flow(
    name=STAGE_FLOWS["implementation"], flow_run_name="implementation-{topic_id}", log_prints=True
)
async def implementation_stage(topic_id: int) -> dict:
    """Ask for plans and put each item's deadline on the reminder and escalation ladder."""
    begin_stage(topic_id, Stage.IMPLEMENTATION)
    result = request_plans(topic_id)
    delivered = deliver_notifications(topic_id=topic_id)
    state = settle_stage(topic_id)
    return {"topic_id": topic_id, "result": result, "delivered": delivered, "stage_state": state}
