"""The weekly dispatch (周调度) as tasks: one set-based transaction, then its artifact."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from config.db import session_scope
from models import dispatch, evidence
from tasks.retry import retrying


@task(name="weekly-dispatch", **retrying())
def run_weekly_dispatch() -> dict[str, Any]:
    """Sweep and digests in one transaction; a retry or a second run this week adds nothing."""
    with session_scope() as session:
        return dispatch.weekly_dispatch(session)


@task(name="evidence-leftovers", **retrying())
def remove_evidence_leftovers() -> int:
    """Upload leftovers: a `.part` file no row names, left by a process that died between
    writing an evidence file and committing its row (a day old at least, so no upload still
    under way is touched)."""
    with session_scope() as session:
        return evidence.sweep_orphans(session)


@task(name="weekly-dispatch-artifact", cache_policy=NO_CACHE)
def publish_dispatch_summary(summary: dict[str, Any], delivery: dict[str, int]) -> None:
    """The counts, as a markdown artifact on the run (what the office reads on Monday)."""
    lines = [
        f"# 周调度 {summary['week']}",
        "",
        "| 项目 | 数量 |",
        "|---|---|",
        *[
            f"| {label} | {summary.get(key, 0)} |"
            for key, label in dispatch.DISPATCH_LABELS.items()
        ],
        "",
        "投递结果：" + ("，".join(f"{k} {v}" for k, v in delivery.items()) or "无待发消息"),
    ]
    create_markdown_artifact(
        markdown="\n".join(lines), key="weekly-dispatch", description="周调度统计"
    )
