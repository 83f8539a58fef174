"""明确主体 — invitations and the RSVP deadline."""

from __future__ import annotations

from prefect import flow

from config.deployments import STAGE_FLOWS
from models.enums import Stage
from tasks.case import begin_stage, invite_participants, settle_stage
from tasks.notify import deliver_notifications


@flow(name=STAGE_FLOWS["subject"], flow_run_name="subject-{topic_id}", log_prints=True)
async def subject_stage(topic_id: int) -> dict:
    """Invite every participant and put each reply on the follow-up ladder."""
    begin_stage(topic_id, Stage.SUBJECT)
    result = invite_participants(topic_id)
    delivered = deliver_notifications(topic_id=topic_id)
    state = settle_stage(topic_id)
    return {"topic_id": topic_id, "result": result, "delivered": delivered, "stage_state": state}
