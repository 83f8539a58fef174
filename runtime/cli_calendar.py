"""`xieshang calendar …`: load a year's official holiday schedule, show a year's calendar.

Works on the application database directly (no API needed), in one transaction per command,
so an administrator can load next year's schedule the day the State Council publishes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="工作日日历：导入官方放假安排、查看某年日历", no_args_is_help=True)


def read_schedule_file(path: Path) -> dict[str, Any]:
    """A JSON, YAML or “日期,类型,名称” file, read as the pages read it (models.schedule)."""
    from models.schedule import parse_schedule

    parsed = parse_schedule(path.read_text(encoding="utf-8"), filename=path.name)
    return {
        "year": parsed.year,
        "holidays": parsed.holidays,
        "workdays": parsed.workdays,
        "note": parsed.note,
    }


@app.command("load", help="导入（替换）某年官方放假安排，并重新计算受影响的未到期期限")
def load(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="JSON、YAML 或“日期,类型,名称”文本文件"
    ),
    year: int | None = typer.Option(None, help="年份（默认取文件中的 year）"),
    by: int | None = typer.Option(
        None, "--by", help="导入人（协商办工作人员）的人员编号，记入审计"
    ),
    force: bool = typer.Option(
        False, "--force", help="文件标明为示例（非官方安排）时仍然导入（仅供演示、测试）"
    ),
) -> None:
    """Load (replace) a year's official schedule and recount the open deadlines it touches."""
    from config.db import migrate, session_scope
    from models.errors import DomainError, Invalid
    from models.schedule import is_example, load_schedule

    try:
        data = read_schedule_file(file)
    except (Invalid, OSError, UnicodeDecodeError) as exc:
        typer.echo(f"无法读取 {file}：{getattr(exc, 'message', exc)}", err=True)
        raise typer.Exit(2) from exc
    year = year or data["year"]
    if not isinstance(year, int):
        typer.echo("请在文件中写明 year，或用 --year 指定年份", err=True)
        raise typer.Exit(2)
    if data["year"] not in (None, year):
        typer.echo(f"文件中的年份 {data['year']} 与 --year {year} 不一致", err=True)
        raise typer.Exit(2)
    migrate()
    try:
        with session_scope() as session:
            summary = load_schedule(
                session,
                year,
                holidays=data["holidays"],
                workdays=data["workdays"],
                by=by,
                note=data["note"],
                force=force,
            )
    except DomainError as exc:
        where = f"（{exc.field}）" if exc.field else ""
        typer.echo(f"未导入：{exc.message}{where}", err=True)
        raise typer.Exit(1) from exc
    if force and is_example(data["note"]):
        typer.echo(f"注意：已按 --force 导入示例安排（{data['note']}），据此计算的期限并非官方日历")
    typer.echo(
        f"已导入 {year} 年放假安排：放假 {summary.holidays} 天，调休上班 {summary.workdays} 天"
        f"（替换原有 {summary.replaced_rows} 条）。"
    )
    typer.echo(
        f"重新计算未到期提醒 {summary.recomputed} 条，其中 {summary.moved} 个期限变动，"
        f"仍为暂估 {summary.still_provisional} 条。"
    )


@app.command("show", help="查看某年日历的来源、放假日期和调休上班日期")
def show(
    year: int = typer.Argument(..., help="年份"),
    as_json: bool = typer.Option(False, "--json", help="输出 JSON"),
) -> None:
    """Where the year's calendar comes from, its holidays and adjusted working days."""
    from config.db import migrate, session_scope
    from models.errors import DomainError
    from models.schedule import year_view

    migrate()
    try:
        with session_scope() as session:
            view = year_view(session, year)
    except DomainError as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(view.model_dump_json(indent=2))
        return
    typer.echo(f"{view.year} 年：{view.source_label}")
    typer.echo("放假：")
    for day in view.holidays:
        typer.echo(f"  {day.date}  {day.name}")
    typer.echo("调休上班：" + ("" if view.workdays else "无"))
    for day in view.workdays:
        typer.echo(f"  {day.date}  {day.name}")
    if view.provisional:
        typer.echo("提示：该年官方放假安排尚未导入，按此计算的期限均为暂估。")
