"""Each stage flow runs as a real Prefect flow run against a real server, and does its stage's
automatic work on the case file."""

from __future__ import annotations

import asyncio
import time

import pytest
from prefect import tags
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterTags,
    LogFilter,
    LogFilterFlowRunId,
)
from sqlmodel import Session, select

from config.db import engine_for
from flows.registry import STAGE_FLOWS
from models.enums import FollowUpStatus, Stage, StageState
from models.tables import FollowUp, Notification, Report, Topic
from tests.factories import LoopBuilder

FLOWS = dict(zip(Stage, STAGE_FLOWS, strict=True))

# What each stage's automatic work leaves behind, beyond the stage waiting for people.
EXPECTED_EVENTS = {
    Stage.TOPIC: "approval_request",
    Stage.SUBJECT: "invitation",
    Stage.PRESTUDY: "research:",
    Stage.SESSION: "notice",
    Stage.REPORT: "approval_request",
    Stage.TRANSFER: "transfer",
    Stage.IMPLEMENTATION: "plan_request",
    Stage.ASSESSMENT: "rating_request",
}


@pytest.mark.parametrize("stage", list(Stage), ids=[s.value for s in Stage])
async def test_stage_flow_runs_in_prefect_and_waits_for_people(prefect_server, committed_db, stage):
    engine = engine_for(committed_db)
    with Session(engine) as s:
        loop = LoopBuilder(s)
        topic = loop.advance(loop.topic(title=f"流程测试 {stage.value}"), to=stage)
        s.commit()
        topic_id = topic.id

    marker = f"test-{stage.value}-{topic_id}-{id(engine)}"
    with tags(f"topic:{topic_id}", marker):
        result = await FLOWS[stage](topic_id)
    assert result["stage_state"] == StageState.WAITING.value

    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[marker]))
        )
    assert len(runs) == 1 and runs[0].state.is_completed()
    assert f"topic:{topic_id}" in runs[0].tags

    with Session(engine) as s:
        topic = s.get(Topic, topic_id)
        assert topic.stage == stage and topic.stage_state == StageState.WAITING
        keys = [n.event_key for n in s.exec(select(Notification)).all()]
        assert any(EXPECTED_EVENTS[stage] in k for k in keys), keys
        open_rows = s.exec(
            select(FollowUp).where(
                FollowUp.topic_id == topic_id, FollowUp.status == FollowUpStatus.OPEN
            )
        ).all()
        if stage is not Stage.SESSION:  # every other stage sets a deadline that must be chased
            assert open_rows, "the stage set a deadline, so a follow-up row must chase it"
        if stage is Stage.REPORT:
            report = s.exec(select(Report).where(Report.topic_id == topic_id)).one()
            assert "协商意见建议清单" in report.content and "落实补贴" in report.content


async def test_rerunning_a_stage_flow_does_no_work_twice(prefect_server, committed_db):
    engine = engine_for(committed_db)
    with Session(engine) as s:
        loop = LoopBuilder(s)
        topic = loop.advance(loop.topic(), to=Stage.SUBJECT)
        s.commit()
        topic_id = topic.id
    await FLOWS[Stage.SUBJECT](topic_id)
    with Session(engine) as s:
        before = (
            len(s.exec(select(Notification)).all()),
            len(s.exec(select(FollowUp)).all()),
        )
    await FLOWS[Stage.SUBJECT](topic_id)  # e.g. a retry of the whole run
    with Session(engine) as s:
        after = (len(s.exec(select(Notification)).all()), len(s.exec(select(FollowUp)).all()))
    assert after == before


async def test_flow_refuses_when_gate_does_not_hold(prefect_server, committed_db):
    engine = engine_for(committed_db)
    with Session(engine) as s:
        loop = LoopBuilder(s)
        topic = loop.topic()
        s.commit()
        topic_id = topic.id
    marker = f"gate-refused-{topic_id}-{id(engine)}"
    began = time.monotonic()
    with tags(marker):
        state = await FLOWS[Stage.PRESTUDY](topic_id, return_state=True)
    took = time.monotonic() - began
    assert state.is_failed()
    with Session(engine) as s:
        assert s.get(Topic, topic_id).stage == Stage.TOPIC

    # A refusal is final: the task fails on its first attempt (no 1 + 2 + 5 s of retries)
    # and the reason a person reads is logged once.
    async with get_client() as client:
        [run] = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[marker]))
        )
        task_runs = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id]))
        )
        [begin] = [t for t in task_runs if t.name.startswith("begin-stage")]
        for _ in range(40):  # logs reach the server in batches
            logs = await client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]))
            )
            if any(log.task_run_id == begin.id for log in logs):
                break
            await asyncio.sleep(0.25)
    assert begin.state.is_failed() and begin.run_count == 1
    assert not any("Retry" in log.message for log in logs), [log.message for log in logs]
    reason = [
        log for log in logs if log.task_run_id == begin.id and "不能开展商前调研" in log.message
    ]
    assert len(reason) == 1, [log.message for log in logs]
    assert took < 8  # the three retries alone took 8 s
