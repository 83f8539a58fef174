"""A sweep leaves an artifact only when it did something: on a short interval, empty artifacts
buried the ones that matter (120 in 40 minutes). Real in-process flow runs on the session's
Prefect server; the artifacts are read back from it."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from config.db import engine_for
from flows.follow_up import follow_up
from models.enums import FollowUpStatus, Stage
from models.tables import FollowUp
from tests.factories import LoopBuilder

SH = ZoneInfo("Asia/Shanghai")


async def _artifacts_of(state) -> list:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )


async def test_a_sweep_that_found_nothing_leaves_no_artifact_one_that_chased_does(
    prefect_server, committed_db, time_machine
):
    time_machine.move_to(dt.datetime(2026, 2, 12, 10, tzinfo=SH), tick=True)
    idle = await follow_up(return_state=True)
    assert (await idle.result())["sweep"]["chased"] == 0
    assert await _artifacts_of(idle) == []

    engine = engine_for(committed_db)
    with Session(engine) as s:
        loop = LoopBuilder(s)
        loop.today = dt.date(2026, 2, 12)
        loop.advance(
            loop.topic(title=f"巡检留痕的议题 {uuid.uuid4().hex}"),
            to=Stage.TRANSFER,
            start=True,
        )
        s.commit()
        first_due = min(
            s.exec(select(FollowUp.due_at).where(FollowUp.status == FollowUpStatus.OPEN))
        )
    time_machine.move_to(first_due + dt.timedelta(minutes=1), tick=True)
    busy = await follow_up(return_state=True)
    assert (await busy.result())["sweep"]["chased"] > 0
    [artifact] = await _artifacts_of(busy)
    assert artifact.key == "follow-up-sweep"
    assert "已提醒/督办" in artifact.data
