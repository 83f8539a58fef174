"""Prompt delivery: what a person's action queued goes out seconds after it is committed,
instead of waiting for the next follow-up sweep (which stays the safety net).

The serving process calls this flow in a worker thread after each action that queued
messages (api.launcher.DeliveryKicker), so it is a synchronous flow and not a deployment."""

from __future__ import annotations

from prefect import flow

from config.deployments import DELIVERY_FLOW
from tasks.notify import deliver_notifications


@flow(name=DELIVERY_FLOW, log_prints=True)
def deliver_outbox() -> dict:
    """Send every pending message (claims make concurrent runs safe: none is sent twice)."""
    return {"delivery": deliver_notifications()}
