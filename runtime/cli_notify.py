"""`xieshang notify …` and `xieshang dispatch …`: channel checks and recurring runs on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from config.settings import get_settings
from runtime.cli_flows import WAIT_HELP, finish, print_artifacts, run_recurring

notify_app = typer.Typer(help="通知渠道：检查 Apprise 配置是否能送达", no_args_is_help=True)
dispatch_app = typer.Typer(help="调度：立即执行周调度等定期任务", no_args_is_help=True)


@notify_app.command("test")
def notify_test(
    tag: str = typer.Argument(
        ..., help="通知标签：单位、角色或人员，如 dept-1、role-administrator"
    ),
    config: Path | None = typer.Option(
        None, "--config", "-c", help="Apprise 配置文件（默认取设置）"
    ),
) -> None:
    """Send a test message to every channel carrying TAG and report each channel's result."""
    from config.channels import config_path
    from models.base import utcnow
    from models.deadlines import format_local
    from tasks.channels import open_channel

    settings = get_settings()
    path = config or config_path()
    if path is None:
        typer.echo(
            "未配置 Apprise 通知渠道文件（XS_APPRISE_CONFIG 或 数据目录/apprise.yml）", err=True
        )
        raise typer.Exit(2)
    try:
        channel = open_channel(path)
    except FileNotFoundError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    result = channel.send(
        tag=tag,
        title="【测试】协商平台通知渠道测试",
        body=(
            f"这是一条发给标签“{tag}”的测试消息（{format_local(utcnow())}）。"
            "收到即表示该渠道配置正确，无需回复。"
        ),
        tries=settings.delivery_tries,
        backoff=settings.delivery_backoff_seconds,
    )
    typer.echo(f"配置文件：{path}")
    if result.no_channel:
        typer.echo(f"标签“{tag}”没有配置任何通知渠道", err=True)
        raise typer.Exit(1)
    rows = [(result.labels[s], "已发送", "") for s in result.delivered]
    rows += [(result.labels[s], "失败", err) for s, err in result.failed.items()]
    width = max(len(_short(label)) for label, _, _ in rows)
    typer.echo("渠道" + " " * max(width - 4, 0) + "  结果")  # CJK: two columns per character
    for label, outcome, err in rows:
        detail = f"  {_error_text(err, label)}" if err else ""
        typer.echo(f"{_short(label):<{width}}  {outcome}{detail}")
    typer.echo(
        f"共 {len(rows)} 个渠道：{len(result.delivered)} 个已发送，{len(result.failed)} 个失败"
    )
    if result.failed:
        raise typer.Exit(1)


def _short(label: str) -> str:
    """The channel's URL without its query string (secrets are already masked by Apprise)."""
    return label.split("?", 1)[0]


def _error_text(error: str, label: str) -> str:
    return error.removeprefix(label).strip()


@dispatch_app.command("weekly")
def dispatch_weekly(
    no_wait: bool = typer.Option(False, "--no-wait", help=WAIT_HELP),
) -> None:
    """Run the weekly dispatch now (or join the one queued or running); wait and print its
    counts and the digests delivered."""
    from config.deployments import WEEKLY_DISPATCH_FLOW

    run = run_recurring(WEEKLY_DISPATCH_FLOW, {}, wait=not no_wait, here=_here)
    if no_wait:
        return
    finish(run)
    print_artifacts(run.id, {"weekly-dispatch"})


async def _here() -> Any:
    from flows.weekly_dispatch import weekly_dispatch

    return await weekly_dispatch(return_state=True)
