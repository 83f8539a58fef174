"""One process that serves the HTTP API and every deployment (the embedded default)."""

from __future__ import annotations

import asyncio
import contextlib

from config.prefect_env import apply_prefect_environment
from config.settings import get_settings


async def serve_all(host: str, port: int) -> None:
    apply_prefect_environment()
    import uvicorn
    from prefect import aserve

    from api.app import create_app
    from api.launcher import enable_prompt_delivery, ensure_zombie_automation
    from config.db import migrate
    from flows.registry import deployments

    migrate()
    await ensure_zombie_automation(get_settings().zombie_after_seconds)
    enable_prompt_delivery()
    server = uvicorn.Server(uvicorn.Config(create_app(), host=host, port=port, log_level="warning"))
    runner = asyncio.create_task(
        aserve(*(await deployments()), print_starting_message=False, limit=8), name="prefect-serve"
    )
    api = asyncio.create_task(server.serve(), name="api")
    done, _ = await asyncio.wait({runner, api}, return_when=asyncio.FIRST_COMPLETED)
    for task in (runner, api):
        if task not in done:
            if task is api:
                server.should_exit = True
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(task, 10)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    for task in done:
        task.result()  # surface a crash of either half


def main() -> None:
    settings = get_settings()
    asyncio.run(serve_all(settings.api_host, settings.api_port))


if __name__ == "__main__":
    main()
