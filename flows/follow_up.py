"""Follow-up sweep: one run handles every deadline that has come due (never a run per deadline)."""

from __future__ import annotations

from prefect import flow

from config.deployments import FOLLOW_UP_FLOW
from tasks.notify import deliver_notifications, publish_sweep_summary, sweep_follow_ups


@flow(name=FOLLOW_UP_FLOW, log_prints=True)
async def follow_up() -> dict:
    """Chase what is due, then deliver the outbox (including rows queued by API actions)."""
    summary = sweep_follow_ups()
    delivery = deliver_notifications()
    publish_sweep_summary(summary, delivery)
    return {"sweep": summary, "delivery": delivery}
