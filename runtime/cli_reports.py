"""`xieshang bulletin …`: the monthly bulletin (月通报) and quarterly review (季评估) now."""

from __future__ import annotations

from typing import Any

import typer

from config.settings import get_settings
from runtime.cli_flows import run_flow_here

app = typer.Typer(help="通报：立即生成月通报、季度评估", no_args_is_help=True)

PERIOD_HELP = "统计期间：2026-10（月）、2026Q3（季度）或期间内任一日期；默认上一期"


@app.command("monthly")
def monthly(period: str | None = typer.Option(None, "--period", "-p", help=PERIOD_HELP)) -> None:
    """Generate a month's bulletin in this process (default: last month)."""
    _run("monthly", period)


@app.command("quarterly")
def quarterly(period: str | None = typer.Option(None, "--period", "-p", help=PERIOD_HELP)) -> None:
    """Generate a quarter's review in this process (default: last quarter)."""
    _run("quarterly", period)


def _run(kind: str, period: str | None) -> None:
    from models.bulletin import BulletinKind, parse_period
    from models.errors import Invalid

    if period:
        try:
            period = parse_period(BulletinKind(kind), period).key
        except Invalid as exc:
            typer.echo(exc.message, err=True)
            raise typer.Exit(2) from exc
    result = _run_here(kind, period)
    _report(result)


def _run_here(kind: str, period: str | None) -> dict[str, Any]:
    if kind == "monthly":
        from flows.monthly_bulletin import monthly_bulletin

        return run_flow_here(lambda: monthly_bulletin(period=period), "月通报")
    from flows.quarterly_review import quarterly_review

    return run_flow_here(lambda: quarterly_review(period=period), "季评估")


def _report(result: dict[str, Any]) -> None:
    from config.db import session_scope
    from models.bulletin import file_links
    from models.kpis import LABELS, pct
    from models.tables import Bulletin

    with session_scope() as session:
        row = session.get(Bulletin, result["bulletin_id"])
        summary = row.summary if row else {}
    root = get_settings().reports_dir
    typer.echo(
        f"{summary.get('title', '通报')}（{summary.get('start')} 至 {summary.get('end')}）已生成："
    )
    overall = summary.get("overall", {})
    typer.echo(
        f"  {LABELS['items_due']} {overall.get('items_due', 0)} 项，"
        f"{LABELS['items_completed']} {overall.get('items_completed', 0)} 项，"
        f"{LABELS['completion_rate']} {pct(overall.get('completion_rate'))}，"
        f"{LABELS['items_overdue']} {summary.get('overdue', {}).get('total', 0)} 项"
    )
    ranking = summary.get("ranking", {})
    for board, key in (("红榜", "red"), ("黑榜", "black")):
        names = "、".join(r["department"] for r in ranking.get(key, [])) or "无"
        typer.echo(f"  {board}：{names}")
    links = file_links(result["bulletin_id"])
    for fmt in ("pdf", "html", "xlsx"):
        typer.echo(f"  {fmt.upper():<4} {root / result['files'][fmt]}")
        typer.echo(f"       {links[fmt]}")
    delivery = result.get("delivery") or {}
    typer.echo(
        "  通知投递：" + ("，".join(f"{k} {v}" for k, v in delivery.items()) or "无待发消息")
    )
