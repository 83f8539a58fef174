"""商前调研 — research assignments (不调研不协商)."""

from __future__ import annotations

from prefect import flow

from config.deployments import STAGE_FLOWS
from models.enums import Stage
from tasks.case import assign_research, begin_stage, settle_stage
from tasks.notify import deliver_notifications


@flow(name=STAGE_FLOWS["prestudy"], flow_run_name="prestudy-{topic_id}", log_prints=True)
async def prestudy_stage(topic_id: int) -> dict:
    """Tell each researcher what is owed and by when; findings arrive through the API."""
    begin_stage(topic_id, Stage.PRESTUDY)
    result = assign_research(topic_id)
    delivered = deliver_notifications(topic_id=topic_id)
    state = settle_stage(topic_id)
    return {"topic_id": topic_id, "result": result, "delivered": delivered, "stage_state": state}
