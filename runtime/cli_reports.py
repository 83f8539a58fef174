"""`xieshang bulletin …`: the monthly bulletin (月通报) and quarterly review (季评估) now."""

from __future__ import annotations

from typing import Any

import typer

from runtime.cli_flows import WAIT_HELP, finish, run_recurring

app = typer.Typer(help="通报：立即生成月通报、季度评估", no_args_is_help=True)

PERIOD_HELP = "统计期间：2026-10（月）、2026Q3（季度）或期间内任一日期；默认上一期"
INTERIM_HELP = "中期通报：本期尚未结束时统计到此刻，各处标明“中期，截至某日”"


@app.command("monthly")
def monthly(
    period: str | None = typer.Option(None, "--period", "-p", help=PERIOD_HELP),
    interim: bool = typer.Option(False, "--interim", help=INTERIM_HELP),
    no_wait: bool = typer.Option(False, "--no-wait", help=WAIT_HELP),
) -> None:
    """Generate a month's bulletin (default: last month); wait and print its files."""
    _run("monthly", period, interim=interim, wait=not no_wait)


@app.command("quarterly")
def quarterly(
    period: str | None = typer.Option(None, "--period", "-p", help=PERIOD_HELP),
    interim: bool = typer.Option(False, "--interim", help=INTERIM_HELP),
    no_wait: bool = typer.Option(False, "--no-wait", help=WAIT_HELP),
) -> None:
    """Generate a quarter's review (default: last quarter); wait and print its files."""
    _run("quarterly", period, interim=interim, wait=not no_wait)


def _run(kind: str, period: str | None, *, interim: bool, wait: bool) -> None:
    # Nothing here imports prefect before run_recurring has applied the configured API.
    from config.deployments import MONTHLY_BULLETIN_FLOW, QUARTERLY_REVIEW_FLOW
    from models.bulletin import BulletinKind, choose_period
    from models.errors import Conflict, Invalid

    try:  # the API's rule: refused before anything runs
        chosen = choose_period(BulletinKind(kind), period, interim=interim)
    except (Invalid, Conflict) as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(2) from exc
    period = chosen.key if period or interim else None
    parameters: dict[str, Any] = {"period": period} if period else {}
    if interim:
        parameters["interim"] = True
    flow_name = MONTHLY_BULLETIN_FLOW if kind == "monthly" else QUARTERLY_REVIEW_FLOW
    run = run_recurring(flow_name, parameters, wait=wait, here=lambda: _here(kind, period, interim))
    if not wait:
        return
    finish(run)
    _report(kind, run, interim=interim)


async def _here(kind: str, period: str | None, interim: bool) -> Any:
    if kind == "monthly":
        from flows.monthly_bulletin import monthly_bulletin

        return await monthly_bulletin(period=period, interim=interim, return_state=True)
    from flows.quarterly_review import quarterly_review

    return await quarterly_review(period=period, interim=interim, return_state=True)


def _report(kind: str, run: Any, *, interim: bool = False) -> None:
    """The bulletin as the case file records it: its numbers, boards and the files written."""
    from sqlmodel import select

    from config.db import session_scope
    from models.bulletin import (
        BulletinKind,
        FileFormat,
        board_entry,
        file_links,
        file_path,
        resolve_period,
    )
    from models.kpis import LABELS, pct
    from models.tables import Bulletin

    period = resolve_period(
        BulletinKind(kind), run.parameters.get("period"), run.expected_start_time
    )
    with session_scope() as session:
        row = session.exec(
            select(Bulletin).where(
                Bulletin.kind == kind,
                Bulletin.period_start == period.start,
                Bulletin.interim == interim,  # type: ignore[arg-type]
            )
        ).first()
        if row is None:
            typer.echo(f"流程已完成，但未找到{period.title}的记录", err=True)
            raise typer.Exit(1)
        summary, bulletin_id = row.summary, row.id
        paths = {fmt: file_path(row, fmt) for fmt in FileFormat}
    typer.echo(
        f"{summary.get('title', '通报')}（{summary.get('start')} 至 {summary.get('end')}）已生成："
    )
    overall = summary.get("overall", {})
    typer.echo(
        f"  {LABELS['items_due']} {overall.get('items_due', 0)} 项，"
        f"{LABELS['items_completed']} {overall.get('items_completed', 0)} 项，"
        f"{LABELS['completion_rate']} {pct(overall.get('completion_rate'))}，"
        f"{summary.get('overdue_label', LABELS['items_overdue'])} "
        f"{summary.get('overdue', {}).get('total', 0)} 项"
    )
    ranking = summary.get("ranking", {})
    for board, key in (("红榜", "red"), ("黑榜", "black")):
        names = "、".join(board_entry(r) for r in ranking.get(key, [])) or "无"
        typer.echo(f"  {board}：{names}")
    links = file_links(bulletin_id or 0)
    typer.echo("  文件：")
    for fmt in (FileFormat.PDF, FileFormat.HTML, FileFormat.XLSX):
        typer.echo(f"  {fmt.value.upper():<4} {paths[fmt] or '（文件缺失）'}")
        typer.echo(f"       {links[fmt.value]}")
