"""The eight stage flows, each built from its declaration in models/stages.py: check the gate,
do the stage's automatic work, deliver what it queued, then wait for people (or finish)."""

from __future__ import annotations

from typing import Any

from prefect import Flow, flow

from models.enums import Stage
from models.stages import SPECS
from tasks.case import STAGE_WORK, begin_stage, settle_stage
from tasks.notify import deliver_notifications


def _stage_flow(stage: Stage) -> Flow[..., Any]:
    spec = SPECS[stage]

    async def run_stage(topic_id: int) -> dict:
        begin_stage(topic_id, stage)
        result = STAGE_WORK[stage](topic_id, stage)
        delivered = deliver_notifications(topic_id=topic_id)
        state = settle_stage(topic_id)
        return {
            "topic_id": topic_id,
            "result": result,
            "delivered": delivered,
            "stage_state": state,
        }

    run_stage.__doc__ = spec.summary
    # The runner loads a served flow by "file:name" in a fresh process: name it as this module
    # exports it (below), so `flows/stages.py:topic_stage` resolves to this very flow.
    run_stage.__name__ = run_stage.__qualname__ = f"{stage.value}_stage"
    return flow(
        name=spec.flow_name,
        flow_run_name=f"{stage.value}-{{topic_id}}",
        description=f"{spec.label}：{spec.summary}",
        log_prints=True,
    )(run_stage)


# In stage order; flows/<stage>.py exposes each under the entrypoint prefect.yaml names.
STAGE_FLOWS: dict[Stage, Flow[..., Any]] = {stage: _stage_flow(stage) for stage in Stage}

# Each flow by its function name as well (`topic_stage` …), the names entrypoints use.
globals().update({flow_.fn.__name__: flow_ for flow_ in STAGE_FLOWS.values()})
