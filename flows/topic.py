"""确定议题 — screening and the request for approval."""

from __future__ import annotations

from prefect import flow

from config.deployments import STAGE_FLOWS
from models.enums import Stage
from tasks.case import begin_stage, screen_topic, settle_stage
from tasks.notify import deliver_notifications


@flow(name=STAGE_FLOWS["topic"], flow_run_name="topic-{topic_id}", log_prints=True)
async def topic_stage(topic_id: int) -> dict:
    """Screen the topic (four 'no consultation' rules, near-duplicates) and ask the approver; approval arrives later through the API."""
    begin_stage(topic_id, Stage.TOPIC)
    result = screen_topic(topic_id)
    delivered = deliver_notifications(topic_id=topic_id)
    state = settle_stage(topic_id)
    return {"topic_id": topic_id, "result": result, "delivered": delivered, "stage_state": state}
