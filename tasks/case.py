"""Tasks that run one models/ operation in one transaction. Each is safe to retry:
the operation itself returns early when its work is already done."""

from __future__ import annotations

from typing import Any

from prefect import task
from sqlmodel import SQLModel

from config.db import session_scope
from models import stages
from models.case import get
from models.enums import Stage
from models.tables import Topic
from tasks.retry import retrying

RETRY = retrying()


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


def _stage_work(topic_id: int, stage: Stage) -> Any:
    """The stage's automatic work (its spec names it), in one transaction; a row comes back as
    its id. Safe to retry: every such operation skips what it already did."""
    with session_scope() as session:
        result = stages.SPECS[stage].automatic_work()(session, topic_id)
        return getattr(result, "id", None) if isinstance(result, SQLModel) else result


# One Prefect task per stage, named as the spec says (screen-topic, invite-participants …).
STAGE_WORK = {
    stage: task(name=spec.work_name, **RETRY)(_stage_work) for stage, spec in stages.SPECS.items()
}


@task(name="topic-kpis", **RETRY)
def topic_kpis(topic_id: int) -> dict:
    from models import assessment  # not with the module: stage flows import it, never call this

    with session_scope() as session:
        return assessment.kpis(session, topic_id=topic_id)
