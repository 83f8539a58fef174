"""开展协商 — the session notice; opinions and consensus are recorded by people."""

from __future__ import annotations

from prefect import flow

from config.deployments import STAGE_FLOWS
from models.enums import Stage
from tasks.case import announce_session, begin_stage, settle_stage
from tasks.notify import deliver_notifications


@flow(name=STAGE_FLOWS["session"], flow_run_name="session-{topic_id}", log_prints=True)
async def session_stage(topic_id: int) -> dict:
    """Announce the scheduled round to everyone who accepted."""
    begin_stage(topic_id, Stage.SESSION)
    result = announce_session(topic_id)
    delivered = deliver_notifications(topic_id=topic_id)
    state = settle_stage(topic_id)
    return {"topic_id": topic_id, "result": result, "delivered": delivered, "stage_state": state}
