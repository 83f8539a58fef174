"""Running a recurring flow from the command line: always as a real Prefect flow run."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from typing import Any

import typer


def run_flow_here(start: Callable[[], Coroutine[Any, Any, Any]], what: str) -> Any:
    """Run the flow in this process against the configured Prefect server; refuse without one,
    so every run is recorded (history, artifacts, logs) like the scheduled ones."""
    from config.db import migrate
    from config.prefect_env import apply_prefect_environment
    from runtime.stack import healthy

    migrate()
    apply_prefect_environment()
    api_url = os.environ["PREFECT_API_URL"].removesuffix("/")
    if not healthy(f"{api_url}/health"):
        typer.echo(
            f"流程引擎（Prefect）{api_url} 未运行：请先运行 `xieshang up`，"
            "或设置 XS_PREFECT_API_URL 指向可用的 Prefect 服务",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"正在本进程运行{what}流程（Prefect：{api_url}）……")
    return asyncio.run(start())
