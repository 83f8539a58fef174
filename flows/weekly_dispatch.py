"""周调度: every Monday 09:00 Asia/Shanghai, one run over all open items (never one per item)."""

from __future__ import annotations

from prefect import flow

from config.deployments import WEEKLY_DISPATCH_FLOW
from tasks.dispatch import (
    publish_dispatch_summary,
    remove_evidence_leftovers,
    run_weekly_dispatch,
)
from tasks.notify import deliver_notifications


@flow(name=WEEKLY_DISPATCH_FLOW, log_prints=True)
async def weekly_dispatch() -> dict:
    """Mark warnings and escalations, stage one digest per person, deliver, report the counts;
    and, once a week, remove what interrupted evidence uploads left behind."""
    summary = run_weekly_dispatch()
    delivery = deliver_notifications()
    publish_dispatch_summary(summary, delivery)
    leftovers = remove_evidence_leftovers()
    return {"dispatch": summary, "delivery": delivery, "evidence_leftovers_removed": leftovers}
