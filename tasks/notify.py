"""Delivering the outbox through Apprise, and the follow-up sweep that fills it."""

from __future__ import annotations

from collections import Counter
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from config.db import session_scope
from config.settings import get_settings
from models import followup, outbox
from tasks.retry import retrying


@task(name="deliver-notifications", **retrying(retries=2, delays=[2, 10]))
def deliver_notifications(topic_id: int | None = None, limit: int = 10_000) -> dict[str, int]:
    """Send what is pending, one message at a time (up to `limit` in this run). Each message is
    claimed in its own committed transaction just before it is sent, so a crash leaves at most
    the one message in flight in doubt — never the rest of a batch — and a retry of this task
    never sends a claimed message again: at most once per service."""
    # Apprise and its plugins load at the first delivery, not with the module: importing a
    # flow (the runner, a deployment's process, tests) does not pay for them.
    from tasks.channels import open_channel

    settings = get_settings()
    with session_scope() as session:
        in_doubt = outbox.mark_in_doubt(session)
    counts: Counter[str] = Counter()
    if in_doubt:
        counts["unknown"] += in_doubt
    channel = open_channel()  # before claiming: a broken channel file must not strand a row
    for _ in range(limit):
        with session_scope() as session:
            claimed = outbox.claim(session, limit=1, topic_id=topic_id)
        if not claimed:
            break
        row = claimed[0]
        try:
            result = channel.send(
                tag=row["recipient"],
                title=row["title"],
                body=row["body"],
                payload=row["payload"],
                already=row["delivered_services"],
                tries=settings.delivery_tries,
                backoff=settings.delivery_backoff_seconds,
            )
            delivered, failed, no_channel = result.delivered, result.failed, result.no_channel
        except Exception as exc:  # a broken channel must not stall the other rows
            delivered, failed, no_channel = [], {"apprise": repr(exc)[:300]}, False
        with session_scope() as session:
            status = outbox.record_result(
                session,
                notification_id=row["id"],
                delivered=delivered,
                failed=failed,
                no_channel=no_channel,
                max_attempts=settings.delivery_attempts,
            )
        counts[status.value] += 1
    return dict(counts)


@task(name="sweep-follow-ups", **retrying())
def sweep_follow_ups() -> dict[str, Any]:
    """All due rungs in one transaction: rerunning it after a crash finds them already handled."""
    with session_scope() as session:
        return followup.sweep(session)


@task(name="follow-up-artifact", cache_policy=NO_CACHE)
def publish_sweep_summary(summary: dict[str, Any], delivery: dict[str, int]) -> None:
    lines = [
        "# 跟踪督办巡检",
        "",
        f"- 到期待处理：{summary['chased'] + summary['nothing_to_do']} 条",
        f"- 已履行、无需提醒：{summary['nothing_to_do']} 条",
        f"- 已提醒/督办：{summary['chased']} 条，生成消息 {summary['messages']} 条",
        "",
        "| 环节.梯级 | 条数 |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in summary["by_rung"].items()],
        "",
        "投递结果：" + ("，".join(f"{k} {v}" for k, v in delivery.items()) or "无待发消息"),
    ]
    create_markdown_artifact(markdown="\n".join(lines), key="follow-up-sweep")
