"""评估质效 — rating requests; the office closes and discloses the result list."""

from __future__ import annotations

from prefect import flow

from config.deployments import STAGE_FLOWS
from models.enums import Stage
from tasks.case import begin_stage, request_ratings, settle_stage
from tasks.notify import deliver_notifications


@flow(name=STAGE_FLOWS["assessment"], flow_run_name="assessment-{topic_id}", log_prints=True)
async def assessment_stage(topic_id: int) -> dict:
    """Ask residents and members to rate the outcome; KPIs are computed when the office closes."""
    begin_stage(topic_id, Stage.ASSESSMENT)
    result = request_ratings(topic_id)
    delivered = deliver_notifications(topic_id=topic_id)
    state = settle_stage(topic_id)
    return {"topic_id": topic_id, "result": result, "delivered": delivered, "stage_state": state}
