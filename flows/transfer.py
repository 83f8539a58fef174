"""转交办理 — hand each item to one lead department and ask for 签收."""

from __future__ import annotations

from prefect import flow

from config.deployments import STAGE_FLOWS
from models.enums import Stage
from tasks.case import begin_stage, settle_stage, transfer_items
from tasks.notify import deliver_notifications


@flow(name=STAGE_FLOWS["transfer"], flow_run_name="transfer-{topic_id}", log_prints=True)
async def transfer_stage(topic_id: int) -> dict:
    """Transfer every item and chase its acknowledgement in working days."""
    begin_stage(topic_id, Stage.TRANSFER)
    result = transfer_items(topic_id)
    delivered = deliver_notifications(topic_id=topic_id)
    state = settle_stage(topic_id)
    return {"topic_id": topic_id, "result": result, "delivered": delivered, "stage_state": state}
