"""The floor a stage run is measured against: a flow with the same shape as a stage flow (four
tasks: begin, work, deliver, settle) that does nothing, served by a Prefect runner with the
stage runner's limit, exactly as `runtime/serve.py` serves the stages (an in-memory deployment,
so each run is a fresh process started by the runner). Imports only prefect.

    python bench/noop_flow.py --limit 8     # PREFECT_API_URL names the server

Used by bench/launch.py; not part of the product.
"""

from __future__ import annotations

import argparse
import asyncio

from prefect import flow, task
from prefect.runner import Runner


@task
def begin(topic_id: int) -> int:
    return topic_id


@task
def work(topic_id: int) -> dict[str, int]:
    return {"topic_id": topic_id}


@task
def deliver(topic_id: int) -> int:
    return 0


@task
def settle(topic_id: int) -> str:
    return "done"


@flow(name="noop-stage", flow_run_name="noop-{topic_id}")
async def noop_stage(topic_id: int) -> dict:
    begin(topic_id)
    result = work(topic_id)
    delivered = deliver(topic_id)
    return {"result": result, "delivered": delivered, "state": settle(topic_id)}


async def serve(limit: int) -> None:
    runner = Runner(name="bench-noop", limit=limit)
    await runner.add_deployment(await noop_stage.ato_deployment(name="noop"))
    await runner.start()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=8)
    asyncio.run(serve(parser.parse_args().limit))
