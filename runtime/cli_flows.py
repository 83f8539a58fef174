"""Recurring runs from the command line: always a run on the configured Prefect server.

The configured API is applied before anything imports Prefect (otherwise Prefect starts a
temporary server of its own and the run is lost). A served deployment runs the flow (with the
same dedupe and overlap rules as the API); without one, the flow runs in this process against
the same server. By default the command waits, prints each state change and then what the run
did; `--no-wait` returns once the run is queued."""

from __future__ import annotations

import asyncio
import os
import re
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import typer

WAIT_HELP = "不等待运行结束，排队后立即返回"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Prefect's state names, as people read them here.
STATE_LABELS = {
    "Scheduled": "已排队，等待流程服务领取",
    "Late": "已延迟：流程服务尚未领取（xieshang up 是否在运行？）",
    "AwaitingConcurrencySlot": "等待同类运行结束后开始",
    "AwaitingRetry": "等待重试",
    "Pending": "准备启动",
    "Submitting": "正在交给运行进程",
    "Running": "运行中",
    "Retrying": "重试中",
    "Completed": "已完成",
    "Failed": "失败",
    "Crashed": "崩溃（运行进程意外终止）",
    "Cancelling": "正在取消",
    "Cancelled": "已取消",
    "Paused": "已暂停",
}


def state_label(name: str | None) -> str:
    return STATE_LABELS.get(name or "", name or "未知")


def connect_prefect() -> str:
    """Point this process at the configured Prefect API (before prefect is imported) and check
    that it answers; the API URL, or exit 1 with what to do."""
    from config.prefect_env import apply_prefect_environment
    from runtime.stack import healthy

    apply_prefect_environment()
    api_url = os.environ["PREFECT_API_URL"].removesuffix("/")
    if not healthy(f"{api_url}/health"):
        typer.echo(
            f"流程引擎（Prefect）{api_url} 未运行：请先运行 `xieshang up`，"
            "或设置 XS_PREFECT_API_URL 指向可用的 Prefect 服务",
            err=True,
        )
        raise typer.Exit(1)
    return api_url


def run_recurring(
    flow_name: str,
    parameters: dict[str, Any],
    *,
    wait: bool,
    here: Callable[[], Coroutine[Any, Any, Any]],
) -> Any:
    """Start (or join) the recurring run and follow it; returns the final FlowRunPublic.
    `here` runs the flow in this process when no runner serves its deployment."""
    api_url = connect_prefect()
    from api.errors import ServiceUnavailable
    from api.launcher import RECURRING_NAMES

    what = RECURRING_NAMES[flow_name]
    try:
        return asyncio.run(_run(flow_name, parameters, wait=wait, here=here, api_url=api_url))
    except ServiceUnavailable as exc:
        typer.echo(f"未能运行{what}：{exc.message}", err=True)
        raise typer.Exit(1) from exc


async def _run(
    flow_name: str,
    parameters: dict[str, Any],
    *,
    wait: bool,
    here: Callable[[], Coroutine[Any, Any, Any]],
    api_url: str,
) -> Any:
    from api import launcher

    what = launcher.RECURRING_NAMES[flow_name]
    if not await launcher.is_served(flow_name):
        if not wait:
            typer.echo(
                f"没有流程服务在运行{what}（请先运行 `xieshang up`）；"
                "去掉 --no-wait 可在本进程运行并等待结果",
                err=True,
            )
            raise typer.Exit(1)
        return await _run_here(flow_name, here, api_url)
    run = await launcher.launch_recurring(flow_name, parameters)
    if run.existing:
        typer.echo(f"已有{what}在排队或进行中，不再另行启动：流程运行 {run.id}")
    else:
        typer.echo(f"已启动{what}：流程运行 {run.id}（Prefect：{api_url}）")
    if not wait:
        typer.echo(f"当前状态：{state_label(run.state_name)}；查看进度：GET /runs/{run.id}")
        return run
    return await follow(flow_name, run)


async def _run_here(
    flow_name: str, here: Callable[[], Coroutine[Any, Any, Any]], api_url: str
) -> Any:
    from api import launcher
    from config.db import migrate

    what = launcher.RECURRING_NAMES[flow_name]
    typer.echo(f"没有流程服务领取{what}，在本进程运行（Prefect：{api_url}）……")
    await asyncio.to_thread(migrate)
    state = await here()
    run = await launcher.read_run(state.state_details.flow_run_id)
    typer.echo(f"  流程运行 {run.id if run else state.state_details.flow_run_id}：")
    typer.echo(f"  {state_label(state.name)}")
    return run


async def follow(flow_name: str, run: Any, poll: float = 1.0) -> Any:
    """Print each state change until the run ends. A run dropped because another of its kind
    was already running hands over to that one."""
    from api import launcher

    began, seen = time.monotonic(), None
    try:
        while True:
            current = await launcher.read_run(uuid.UUID(run.id))
            if current is None:
                typer.echo(f"流程运行 {run.id} 已不存在", err=True)
                raise typer.Exit(1)
            if current.state_name != seen:
                seen = current.state_name
                typer.echo(f"  [{time.monotonic() - began:5.0f} 秒] {state_label(seen)}")
            if current.state_type in FINAL:
                break
            await asyncio.sleep(poll)
    except KeyboardInterrupt:
        typer.echo(f"已停止等待；流程运行 {run.id} 仍在继续")
        raise typer.Exit(130) from None
    if current.state_type == "CANCELLED":
        other = await launcher.active_run(flow_name, current.parameters)
        if other is not None and other.id != current.id:
            typer.echo(f"  同类运行 {other.id} 正在进行，本次已由它代为完成；继续等待它结束")
            return await follow(flow_name, other, poll)
    return current


def finish(run: Any) -> None:
    """Exit non-zero unless the run completed."""
    if run is None or run.state_type != "COMPLETED":
        state = state_label(run.state_name) if run is not None else "未知"
        typer.echo(f"流程运行未成功完成（{state}），详情见 Prefect 界面中的运行日志", err=True)
        raise typer.Exit(1)


def print_artifacts(flow_run_id: str, keys: set[str] | None = None) -> None:
    """What the run did, as it recorded it (its markdown artifacts), in plain lines."""
    from api import launcher

    for key, markdown in asyncio.run(launcher.run_artifacts(flow_run_id)):
        if keys is None or key in keys:
            heading, *rest = markdown_lines(markdown) or [""]
            typer.echo(f"{heading} 已完成：")
            for line in rest:
                typer.echo(line)


_LINK = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


def markdown_lines(markdown: str) -> list[str]:
    """A markdown artifact for a terminal: headings as lines, two-column tables as
    "label：value", wider tables as aligned cells, links as "text url"."""
    out: list[str] = []
    header_done = False
    for raw in markdown.splitlines():
        line = _LINK.sub(r"\1 \2", raw.strip())
        if not line:
            header_done = False
            continue
        if line.startswith("#"):
            out.append(line.lstrip("#").strip())
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(set(c) <= {"-", ":"} for c in cells):
                continue
            if not header_done:  # the table's header row
                header_done = True
                if len(cells) == 2:
                    continue
            out.append(f"  {cells[0]}：{cells[1]}" if len(cells) == 2 else "  " + "  ".join(cells))
        else:
            out.append(line)
    return out
