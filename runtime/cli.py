"""The `xieshang` command line."""

from __future__ import annotations

import json
import signal
import sys
import time

import typer

from config.links import propose_url, public_topic_url, sign_in_url
from config.settings import get_settings
from runtime.cli_accounts import apikey_app, user_app
from runtime.cli_audit import app as audit_app
from runtime.cli_calendar import app as calendar_app
from runtime.cli_notify import dispatch_app, notify_app
from runtime.cli_reports import app as bulletin_app

app = typer.Typer(help="协商 Xieshang：协商议事闭环工作流平台", no_args_is_help=True)
app.add_typer(notify_app, name="notify")
app.add_typer(dispatch_app, name="dispatch")
app.add_typer(calendar_app, name="calendar")
app.add_typer(bulletin_app, name="bulletin")
app.add_typer(audit_app, name="audit")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")


def kpi_lines(kpis: dict) -> list[str]:
    """The demo's KPIs as printed: every rate in its declared order (models.kpis) and the
    ratings counted, each value with the target beside it where DOMAIN.md names one, met
    or not."""
    from models.kpis import LABELS, RATES_SHOWN, against_target, shown

    return [
        f"  {LABELS[key]}：{shown(key, kpis.get(key))}{against_target(key, kpis)}"
        for key in [*RATES_SHOWN, "ratings"]
    ]


@app.command()
def up(
    scale_out: bool = typer.Option(
        False,
        "--scale-out",
        help="规模扩展：Prefect 服务用 PostgreSQL，API 单独一个进程，"
        "工作池 xieshang-pool 的两个 worker（stages、background 各一）运行全部流程",
    ),
) -> None:
    """Start the embedded stack (Prefect server, API and every deployment) until Ctrl-C; with
    --scale-out the PostgreSQL-backed setup of runtime/scale_out.py instead."""
    from config.db import migrate
    from runtime.stack import Stack

    settings = get_settings()
    if scale_out:
        from runtime.scale_out import ScaleOutStack, prefect_database_url

        try:
            stack: Stack = ScaleOutStack(settings)
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        migrate()
        typer.echo("正在启动 Prefect 服务（PostgreSQL）、部署流程、两个 worker 与 API……")
        if not settings.prefect_api_url:
            typer.echo(f"Prefect 数据库：{prefect_database_url(settings).split('@')[-1]}")
    else:
        migrate()
        stack = Stack(settings)
        typer.echo("正在启动 Prefect 服务与协商平台……")
    stack.start()
    typer.echo(f"协商平台：  {sign_in_url()}（登录后进入我的待办）")
    typer.echo(f"群众出题：  {propose_url()}（无需登录）")
    typer.echo(f"API 文档：  {stack.api_url}/docs")
    typer.echo(f"Prefect UI：{stack.ui_url}")
    typer.echo(f"日志目录：  {stack.log_dir}    按 Ctrl-C 停止")
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping:  # a child that dies is restarted, with a growing delay
            stack.supervise(say=lambda line: typer.echo(line, err=True))
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        typer.echo("正在停止……")
        stack.stop()


@app.command()
def serve(
    api_only: bool = typer.Option(
        False, "--api-only", help="只提供 API，不运行任何流程（规模扩展时流程由 worker 运行）"
    ),
) -> None:
    """Serve the API and all deployments in this process (what `up` runs beside Prefect), or
    with --api-only the API alone (what `up --scale-out` runs beside the workers)."""
    from runtime.serve import main

    main(api_only=api_only)


@app.command()
def migrate() -> None:
    """Bring the application database to the newest schema."""
    from config.db import migrate as run

    run()
    typer.echo(f"数据库已是最新结构：{get_settings().resolved_database_url}")


@app.command()
def demo(as_json: bool = typer.Option(False, "--json", help="最后一行输出 JSON 结果")) -> None:
    """Drive one topic through all eight stages via the HTTP API (starts the stack if needed)."""
    from runtime.demo import DemoError, run_loop
    from runtime.stack import Stack, healthy

    settings = get_settings()
    stack = None
    base = f"http://{settings.api_host}:{settings.api_port}"
    if healthy(f"{base}/ready"):
        typer.echo(f"使用已运行的协商平台 {base}")
    else:
        typer.echo("未发现运行中的协商平台，正在启动嵌入式服务（约 20–40 秒）……")
        stack = Stack(settings).start()
    try:
        result = run_loop(base, say=typer.echo)
    except DemoError as exc:
        typer.echo(f"示例失败：{exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        if stack is not None:
            stack.stop()
    typer.echo("")
    typer.echo(f"议题 {result['topic_id']} 已走完八个环节：")
    for s in result["stages"]:
        typer.echo(f"  {s['stage']:<15} {s['flow_run_id']}  {s['state']}")
    typer.echo("闭环指标：")
    for line in kpi_lines(result["kpis"]):
        typer.echo(line)
    typer.echo(
        "示例人员的登录凭据（登录名 / 密码，可在 API 文档 /docs 中 Authorize 后以其身份操作）："
    )
    for cred in result["credentials"]:
        typer.echo(
            f"  {cred['name']:<14} {cred['role']:<16} {cred['login']}  /  {cred['password']}"
        )
    typer.echo(f"登录页面：{sign_in_url()}（用以上任一登录名登录）")
    if stack is not None:
        typer.echo("  （示例启动的服务已随示例停止；运行 xieshang up 后即可打开以上页面）")
    typer.echo(
        f"议题 {result['topic_id']} 的公开进展页（无需登录）：{public_topic_url(result['topic_id'])}"
    )
    if as_json:
        sys.stdout.flush()
        typer.echo(json.dumps(result, ensure_ascii=False))


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(ctx: typer.Context) -> None:
    """Every benchmark against its floor and the table in bench/README.md (bench/all.py, in
    a checkout of the source; its options pass through: --quick, --only …, --help)."""
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "bench" / "all.py"
    if not script.exists():
        typer.echo("基准测试只在源码目录中提供（bench/all.py）", err=True)
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call([sys.executable, str(script), *ctx.args]))


if __name__ == "__main__":
    app()
