"""Monthly bulletin and quarterly review: compute, render each file, record, publish.

One side effect per task. Files are written to a temporary name and renamed, so a retried or
rerun task replaces a period's file whole and a download never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import Any

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE

from config.db import session_scope
from config.settings import get_settings
from models import bulletin
from models.bulletin import BulletinKind
from models.kpis import LABELS as L
from models.kpis import pct, shown
from tasks import render
from tasks.retry import retrying

RETRY: dict[str, Any] = retrying(retries=2, delays=[1, 5])


def _period(data: dict) -> bulletin.Period:
    return bulletin.period_from_data(data)


def write_file(relative: str, content: bytes | str) -> str:
    """Atomically write `content` under the reports directory; returns the relative path."""
    path = get_settings().reports_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the files are meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return relative


def _read(relative: str) -> bytes:
    return (get_settings().reports_dir / relative).read_bytes()


@task(name="compute-bulletin", **RETRY)
def compute_bulletin(
    kind: str, period: str | None = None, now: str | None = None, interim: bool = False
) -> dict:
    """The period's numbers (read only). `now` (the scheduled time) picks the previous period
    when none is named; a period that has not ended is refused unless `interim`, which counts
    to this moment (models.bulletin.choose_period, the rule the API applies too)."""
    scheduled = dt.datetime.fromisoformat(now) if now else None
    chosen = bulletin.choose_period(
        BulletinKind(kind),
        period,
        interim=interim,
        now=dt.datetime.now(dt.UTC),
        scheduled=scheduled,
    )
    with session_scope() as session:
        return bulletin.compute(session, chosen)


@task(name="render-charts", **RETRY)
def render_charts(data: dict) -> dict[str, str]:
    """The chart PNGs; returns name → path relative to the reports directory."""
    stem = bulletin.file_stem(_period(data))
    return {
        name: write_file(f"{stem}-{name}.png", png)
        for name, png in render.build_charts(data).items()
    }


@task(name="render-html", **RETRY)
def render_html(data: dict, charts: dict[str, str]) -> str:
    pngs = {name: _read(rel) for name, rel in charts.items()}
    html = render.build_html(data, pngs)
    return write_file(f"{bulletin.file_stem(_period(data))}.html", html)


@task(name="render-pdf", **RETRY)
def render_pdf(data: dict, charts: dict[str, str]) -> str:
    pngs = {name: _read(rel) for name, rel in charts.items()}
    return write_file(f"{bulletin.file_stem(_period(data))}.pdf", render.build_pdf(data, pngs))


@task(name="render-xlsx", **RETRY)
def render_xlsx(data: dict) -> str:
    return write_file(f"{bulletin.file_stem(_period(data))}.xlsx", render.build_xlsx(data))


@task(name="record-bulletin", **retrying())
def record_bulletin(data: dict, files: dict[str, Any]) -> int:
    """Upsert the Bulletin row and stage the announcement to leadership, in one transaction."""
    with session_scope() as session:
        row = bulletin.record(session, _period(data), files=files, summary=data)
        return row.id  # type: ignore[return-value]


SUMMARY_KEYS = [
    "items_due",
    "items_completed",
    "completion_rate",
    "on_time_rate",
    "items_overdue",
    "response_rate",
    "satisfaction_rate",
]


def summary_markdown(data: dict, bulletin_id: int, delivery: dict[str, int]) -> str:
    o = data["overall"]
    links = bulletin.file_links(bulletin_id)
    ranking = data["ranking"]
    lines = [
        f"# {data['title']}",
        "",
        *(
            [f"**{data['mark']}**：本期尚未结束，数字统计到生成时刻。", ""]
            if data.get("mark")
            else []
        ),
        f"统计期间 {data['start']} 至 {data['end']}；{L['items_due']} {o['items_due']} 项，"
        f"{L['items_completed']} {o['items_completed']} 项，"
        f"{L['completion_rate']} {pct(o['completion_rate'])}，"
        f"{L['on_time_rate']} {pct(o['on_time_rate'])}，"
        f"{data['overdue_label']} {data['overdue']['total']} 项。",
        "",
        "红榜：" + ("、".join(bulletin.board_entry(r) for r in ranking["red"]) or "无"),
        "黑榜：" + ("、".join(bulletin.board_entry(r) for r in ranking["black"]) or "无"),
        "",
        "| 单位 | " + " | ".join(L[k] for k in SUMMARY_KEYS) + " |",
        "|---|" + "---|" * len(SUMMARY_KEYS),
    ]
    for r in data["departments"]:
        cells = " | ".join(shown(k, r[k]) for k in SUMMARY_KEYS)
        lines.append(f"| {r['department']} | {cells} |")
    lines += [
        "",
        f"文件：[PDF]({links['pdf']}) · [网页]({links['html']}) · [Excel]({links['xlsx']})",
        "",
        "通知投递：" + ("，".join(f"{k} {v}" for k, v in delivery.items()) or "无待发消息"),
    ]
    return "\n".join(lines)


@task(name="bulletin-artifact", cache_policy=NO_CACHE)
def publish_bulletin_summary(data: dict, bulletin_id: int, delivery: dict[str, int]) -> None:
    """The summary table as a Prefect artifact, keyed per kind so the UI shows its history."""
    key = "monthly-bulletin" if data["kind"] == BulletinKind.MONTHLY else "quarterly-review"
    if data.get("interim"):
        key += "-interim"  # the history of final bulletins stays final
    create_markdown_artifact(
        markdown=summary_markdown(data, bulletin_id, delivery),
        key=key,
        description=data["title"],
    )
