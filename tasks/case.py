"""Tasks that run one models/ operation in one transaction. Each is safe to retry:
the operation itself returns early when its work is already done."""

from __future__ import annotations

from typing import Any

from prefect import task
from prefect.cache_policies import NO_CACHE

from config.db import session_scope
from models import assessment, consultation, prestudy, rectification, report, stages, subject
from models import topic as topics
from models.case import get
from models.enums import Stage
from models.tables import Topic

RETRY: dict[str, Any] = {"retries": 3, "retry_delay_seconds": [1, 2, 5], "cache_policy": NO_CACHE}


@task(name="begin-stage", **RETRY)
def begin_stage(topic_id: int, stage: Stage) -> bool:
    """Check the gate and mark the stage running (False if a retried run already did)."""
    with session_scope() as session:
        return stages.begin(session, get(session, Topic, topic_id, for_update=True), stage)


@task(name="settle-stage", **RETRY)
def settle_stage(topic_id: int) -> str:
    """Automatic work done: the stage now waits for people, or is already finished."""
    with session_scope() as session:
        topic = get(session, Topic, topic_id, for_update=True)
        return stages.settle(session, topic, after_flow=True).value


@task(name="screen-topic", **RETRY)
def screen_topic(topic_id: int) -> str:
    with session_scope() as session:
        return topics.screen(session, topic_id).status.value


@task(name="invite-participants", **RETRY)
def invite_participants(topic_id: int) -> int:
    with session_scope() as session:
        return subject.invite(session, topic_id)


@task(name="assign-research", **RETRY)
def assign_research(topic_id: int) -> int:
    with session_scope() as session:
        return prestudy.assign(session, topic_id)


@task(name="announce-session", **RETRY)
def announce_session(topic_id: int) -> int:
    with session_scope() as session:
        return consultation.announce(session, topic_id)


@task(name="compile-report", **RETRY)
def compile_report(topic_id: int) -> int:
    with session_scope() as session:
        return report.compile_report(session, topic_id).id  # type: ignore[return-value]


@task(name="transfer-items", **RETRY)
def transfer_items(topic_id: int) -> int:
    with session_scope() as session:
        return rectification.transfer(session, topic_id)


@task(name="request-plans", **RETRY)
def request_plans(topic_id: int) -> int:
    with session_scope() as session:
        return rectification.start_implementation(session, topic_id)


@task(name="request-ratings", **RETRY)
def request_ratings(topic_id: int) -> int:
    with session_scope() as session:
        return assessment.request_ratings(session, topic_id)


@task(name="topic-kpis", **RETRY)
def topic_kpis(topic_id: int) -> dict:
    with session_scope() as session:
        return assessment.kpis(session, topic_id=topic_id)
