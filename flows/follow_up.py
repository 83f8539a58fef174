"""Follow-up sweep: one run handles every deadline that has come due (never a run per deadline)."""

from __future__ import annotations

from prefect import flow

from config.deployments import FOLLOW_UP_FLOW
from tasks.audit import checkpoint_audit
from tasks.notify import deliver_notifications, publish_sweep_summary, sweep_follow_ups


@flow(name=FOLLOW_UP_FLOW, log_prints=True)
async def follow_up() -> dict:
    """Chase what is due, then deliver the outbox (including rows queued by API actions), then
    keep the audit chain's signed checkpoint current (outside the database, so removing the
    newest audit events is noticed). The artifact records what a sweep did; a sweep that did
    nothing leaves none (on a short interval, empty artifacts would bury the ones that matter)."""
    summary = sweep_follow_ups()
    delivery = deliver_notifications()
    checkpoint = checkpoint_audit()
    if did_something(summary, delivery):
        publish_sweep_summary(summary, delivery)
    return {"sweep": summary, "delivery": delivery, "audit_checkpoint": checkpoint}


def did_something(summary: dict, delivery: dict[str, int]) -> bool:
    """A due rung was handled (chased or found fulfilled) or a message was delivered or failed."""
    return bool(summary["chased"] or summary["nothing_to_do"] or any(delivery.values()))
