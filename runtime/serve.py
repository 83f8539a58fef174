"""One process that serves the HTTP API and every deployment (the embedded default), or, with
`--api-only`, the API alone (scale-out: the workers of the work pool run every flow run).

Deployments are served by two runners with their own slots: stage runs that people start,
and background runs (the recurring ones). What people's actions queue is delivered at once by
the delivery flow, called in a worker thread of this process. A busy sweep cannot fill the slots a
person's stage needs, and a burst of stage starts cannot stop the sweep."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from config.prefect_env import apply_prefect_environment
from config.settings import get_settings


async def _api_server(host: str, port: int) -> Any:
    """The API's server, after what every API process does first: migrate, install zombie
    detection, and deliver what people's actions queue from a thread of this process."""
    apply_prefect_environment()
    import uvicorn

    from api.app import create_app
    from api.launcher import enable_prompt_delivery, ensure_zombie_automation
    from config.db import migrate
    from flows.deliver import deliver_outbox

    migrate()
    await ensure_zombie_automation(get_settings().zombie_after_seconds)
    enable_prompt_delivery(deliver_outbox)
    return uvicorn.Server(uvicorn.Config(create_app(), host=host, port=port, log_level="warning"))


async def serve_api(host: str, port: int) -> None:
    """The API alone, without a runner: at scale, workers poll the work pool (runtime.scale_out)."""
    server = await _api_server(host, port)
    await server.serve()


async def serve_all(host: str, port: int) -> None:
    server = await _api_server(host, port)
    from prefect.runner import Runner

    from flows.registry import background_deployments, stage_deployments

    settings = get_settings()
    runners = []
    for name, limit, group in (
        ("xieshang-stages", settings.stage_run_limit, await stage_deployments()),
        ("xieshang-background", settings.background_run_limit, await background_deployments()),
    ):
        runner = Runner(name=name, limit=limit)
        for deployment in group:
            await runner.add_deployment(deployment)
        runners.append(asyncio.create_task(runner.start(), name=name))
    api = asyncio.create_task(server.serve(), name="api")
    tasks = {*runners, api}
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in tasks:
        if task not in done:
            if task is api:
                server.should_exit = True
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(task, 10)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    for task in done:
        task.result()  # surface a crash of any part


def main(api_only: bool = False) -> None:
    settings = get_settings()
    serve = serve_api if api_only else serve_all
    asyncio.run(serve(settings.api_host, settings.api_port))


if __name__ == "__main__":
    main(api_only="--api-only" in sys.argv[1:])
