"""Turns a bulletin's data (models.bulletin.compute) into charts, HTML, PDF and XLSX bytes.

Pure functions, no file I/O: the tasks in tasks/reports.py write what these return.
Chinese text renders from the one CJK face declared in models/fonts.py (Noto Sans CJK SC of the
`noto-cjk-sans-otc` package, nothing fetched at run time). Every text of a chart (titles, ticks, legend, the numbers on the bars) is set in that one face.

An interim report (中期, data["mark"]) says so on every page: the title, a banner under it, the
PDF's running header, each sheet's header and the overview of the XLSX, the chart titles.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable, Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, FileSystemLoader, select_autoescape

from models import pdf as pdf_text
from models.bulletin import (
    COMPLETION,
    COMPLETION_TARGET,
    DEPARTMENT_KEYS,
    OVERALL_KEYS,
    PERCENT_KEYS,
    RATE_KEYS,
    TOPIC_KEYS,
    TREND_KEYS,
)
from models.fonts import FONT_FACE, FONT_FAMILY, font_path
from models.kpis import KPIS, LABELS, pct, short_label, shown

KIND_COLORS = {"red": (200, 30, 30), "black": (40, 40, 40)}


# --- table layouts shared by HTML, PDF and XLSX ------------------------------------------

Column = tuple[str, str]  # (key, zh label)

# Every table's columns come from models.bulletin's keys, which come from models.kpis.
DEPARTMENT_COLUMNS: list[Column] = [
    ("department", "单位"),
    *((k, LABELS[k]) for k in DEPARTMENT_KEYS),
]
TOPIC_COLUMNS: list[Column] = [("topic", "议题"), *((k, LABELS[k]) for k in TOPIC_KEYS)]
RANK_COLUMNS: list[Column] = [
    ("rank", "名次"),
    ("department", "单位"),
    *((k, LABELS[k]) for k in ("items_due", "items_completed", "completion_rate", "on_time_rate")),
    ("items_overdue", LABELS["items_overdue"]),
]
OVERDUE_COLUMNS: list[Column] = [
    ("title", "整改事项"),
    ("topic", "议题"),
    ("department", "牵头单位"),
    ("officer", "责任人"),
    ("deadline", "整改期限"),
    ("days_overdue", "期末逾期天数"),
    ("level_label", "催办等级"),
    ("completed_after", "期后办结日期"),
]
OVERALL_LABELS = LABELS


def kpi_notes(keys: Sequence[str]) -> list[tuple[str, str]]:
    """(label, how it is counted) for the shown KPIs whose declaration carries a note."""
    return [(LABELS[k], note) for k in keys if k in KPIS and (note := KPIS[k].note)]


def notes_text(keys: Sequence[str]) -> str:
    """指标口径 in one paragraph: each shown KPI's label and note, joined by "；"."""
    return "指标口径：" + "；".join(f"{label}：{note}" for label, note in kpi_notes(keys)) + "。"


def overall_pairs(data: dict) -> list[tuple[str, str]]:
    """The overview's (label, value) pairs, in OVERALL_KEYS order."""
    return [
        (relabel(data, OVERALL_LABELS[k]), cell_text(k, data["overall"][k])) for k in OVERALL_KEYS
    ]


def column_groups(columns: Sequence[Column], most: int = 9) -> list[list[Column]]:
    """A table too wide for the page as tables of at most `most` columns beside its first
    (name) column, each repeating it; the columns keep their order and are shared evenly."""
    name, rest = columns[0], list(columns[1:])
    parts = -(-len(rest) // most)  # ceiling
    size = -(-len(rest) // parts)
    return [[name, *rest[i : i + size]] for i in range(0, len(rest), size)]


def cell_text(key: str, value: Any) -> str:
    if key in RATE_KEYS:
        return shown(key, value)  # a percentage, or a score in its unit
    if value is None:
        return "—"
    return str(value)


def table_rows(rows: Sequence[dict], columns: Sequence[Column]) -> list[list[str]]:
    return [[cell_text(k, r.get(k)) for k, _ in columns] for r in rows]


def trend_columns(data: dict) -> list[str]:
    months = data["trend"]["months"]
    labels = (short_label("items_due"), short_label("completion_rate"))
    return [f"{m}{label}" for m in months for label in labels]


def trend_rows(entries: Sequence[dict], name_key: str) -> list[list[str]]:
    rows = []
    for e in entries:
        cells = [e[name_key]]
        for m in e["months"]:
            due = m["items_due"]
            cells += ["—" if due is None else str(due), pct(m["completion_rate"])]
        rows.append(cells)
    return rows


def generated_text(data: dict) -> str:
    when = dt.datetime.fromisoformat(data["generated_at"])
    return f"{when:%Y年%m月%d日 %H:%M} 生成"


def interim_notice(data: dict) -> str | None:
    """The banner of an interim report; None for a final one."""
    if not data.get("mark"):
        return None
    return (
        f"{data['mark']}：{data['label']}尚未结束，本{KIND_NOUNS[data['kind']]}为中期情况，"
        f"数字统计到生成时刻，逾期天数算至 {data['end']}，不作为本期正式通报。"
    )


KIND_NOUNS = {"monthly": "通报", "quarterly": "评估"}


def period_text(data: dict) -> str:
    """统计期间：2026-11-01 至 2026-11-23（中期，截至……）."""
    text = f"统计期间：{data['start']} 至 {data['end']}"
    return f"{text}（{data['mark']}）" if data.get("mark") else text


def chart_label(data: dict) -> str:
    """The period as a chart title starts: an interim one carries its mark."""
    return f"{data['label']}（{data['mark']}）" if data.get("mark") else data["label"]


def relabel(data: dict, label: str) -> str:
    """ "期末" (at the end of the period) reads "截至生成时" in an interim report."""
    return label.replace("期末", "截至生成时") if data.get("interim") else label


def columns_for(data: dict, columns: Sequence[Column]) -> list[Column]:
    return [(k, relabel(data, label)) for k, label in columns]


def summary_sentence(data: dict) -> str:
    o = data["overall"]
    rates = "，".join(
        f"{LABELS[k]} {pct(o[k])}"
        for k in ("completion_rate", "on_time_rate", "problem_solved_rate", "satisfaction_rate")
    )
    return (
        f"{data['label']}（{data['start']} 至 {data['end']}），全区{LABELS['items']} {o['items']} 项，"
        f"其中{LABELS['items_due']} {o['items_due']} 项、{LABELS['items_completed']} "
        f"{o['items_completed']} 项，{rates}；{data.get('overdue_label', '期末逾期')}未办结 "
        f"{data['overdue']['total']} 项。"
    )


def ranking_note(data: dict) -> str:
    r = data["ranking"]
    overdue = data.get("overdue_label", "期末逾期")
    note = (
        f"排名规则：本期{LABELS['items_due']}不少于 {r['min_items_due']} 项的单位参加排名，"
        f"依次比较{LABELS['completion_rate']}、{LABELS['on_time_rate']}、逾期事项数（少者在前）、"
        f"{LABELS['items_due']}事项数（多者在前）。"
        f"红榜只列{LABELS['completion_rate']}达到目标（{COMPLETION.target_text}）且无{overdue}事项的单位"
        f"（本期 {r.get('red_total', len(r['red']))} 个）；"
        f"黑榜列{LABELS['completion_rate']}未达目标或有{overdue}事项的单位"
        f"（本期 {r.get('black_total', len(r['black']))} 个），最差者在前；"
        + (f"各榜最多列 {r['size']} 个单位。" if "size" in r else "")
        + f"{LABELS['on_time_rate']}的分母含{overdue}未办结事项。"
    )
    if r["unranked"]:
        names = "、".join(f"{u['department']}（{u['items_due']} 项）" for u in r["unranked"])
        note += f"样本不足、未参加排名：{names}。"
    return note


CHARTS_TITLES = {
    "completion": f"各单位{LABELS['completion_rate']}与{LABELS['on_time_rate']}",
    "trend": f"{LABELS['completion_rate']}月度走势",
}

# --- charts --------------------------------------------------------------------------------


# Every text of a chart in the one CJK face, mathtext included, whatever else in the process
# changed matplotlib's global settings: applied around each chart, not once.
CHART_RC: dict[str, Any] = {
    "font.family": [FONT_FAMILY],
    "font.sans-serif": [FONT_FAMILY],
    "mathtext.fontset": "custom",
    **{f"mathtext.{k}": FONT_FAMILY for k in ("rm", "it", "bf", "sf", "tt", "cal")},
    "axes.formatter.use_mathtext": False,
    "axes.unicode_minus": False,
}


@cache
def _pyplot() -> Any:
    """matplotlib on the Agg backend with the CJK face registered (once per process)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    font_manager.fontManager.addfont(str(font_path()))
    return plt


def _styled(draw: Callable[[dict], bytes]) -> Callable[[dict], bytes]:
    """Draw and save the chart inside CHART_RC (text takes its font when it is drawn)."""

    def styled(data: dict) -> bytes:
        with _pyplot().rc_context(CHART_RC):
            return draw(data)

    styled.__doc__ = draw.__doc__
    styled.__name__ = draw.__name__
    return styled


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


LABEL_BOX = {"facecolor": "white", "edgecolor": "none", "pad": 0.6}


def _percent_axis(axis: Any) -> None:
    """Ticks read 0%, 20% …, so no axis label is needed (a lone "%" under the axis ran into
    the legend)."""
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(xmax=100, decimals=0))


def _empty(plt: Any, title: str, text: str) -> bytes:
    fig, ax = plt.subplots(figsize=(8, 2.2))
    ax.set_title(title)
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=14, color="#666")
    ax.set_axis_off()
    return _png(fig)


@_styled
def completion_chart(data: dict, limit: int = 25) -> bytes:
    """Completion and on-time rate per department (ranking order), the target dashed."""
    plt = _pyplot()
    title = f"{chart_label(data)}{CHARTS_TITLES['completion']}"
    rows = [r for r in data["departments"] if r["items_due"] or r["items_completed"]][:limit]
    if not rows:
        return _empty(plt, title, "本期无应办结事项")
    names = [r["department"] for r in rows]
    done = [(r["completion_rate"] or 0) * 100 for r in rows]
    on_time = [(r["on_time_rate"] or 0) * 100 for r in rows]
    fig, ax = plt.subplots(figsize=(8, max(2.4, 0.55 * len(rows) + 1.2)))
    y = range(len(rows))
    h = 0.38
    b1 = ax.barh(
        [i - h / 2 for i in y], done, height=h, color="#c0392b", label=LABELS["completion_rate"]
    )
    b2 = ax.barh(
        [i + h / 2 for i in y], on_time, height=h, color="#2e86c1", label=LABELS["on_time_rate"]
    )
    for bars in (b1, b2):  # on white, so the target's dashed line does not strike a number
        ax.bar_label(bars, fmt="%.0f%%", padding=2, fontsize=8, bbox=LABEL_BOX)
    ax.axvline(
        COMPLETION_TARGET * 100,
        color="#555",
        linestyle="--",
        linewidth=1,
        label=f"{short_label('completion_rate')}目标 {COMPLETION_TARGET:.0%}",
    )
    ax.set_yticks(list(y), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xticks(range(0, 101, 20))
    _percent_axis(ax.xaxis)
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    return _png(fig)


@_styled
def overdue_chart(data: dict, limit: int = 20) -> bytes:
    """期末逾期事项数，按单位，多者在前。"""
    plt = _pyplot()
    title = f"{chart_label(data)}各单位{relabel(data, '期末逾期')}未办结事项"
    rows = sorted(
        (r for r in data["departments"] if r["items_overdue"]),
        key=lambda r: (-r["items_overdue"], r["department"]),
    )[:limit]
    if not rows:
        return _empty(plt, title, "本期无逾期事项")
    fig, ax = plt.subplots(figsize=(8, max(2.4, 0.45 * len(rows) + 1.2)))
    bars = ax.barh(
        [r["department"] for r in rows], [r["items_overdue"] for r in rows], color="#7f8c8d"
    )
    ax.bar_label(bars, fmt="%d", padding=2, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("事项数")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title(title)
    return _png(fig)


@_styled
def trend_chart(data: dict, limit: int = 8) -> bytes:
    """The quarter's months of completion rate: overall and the busiest departments."""
    plt = _pyplot()
    trend = data["trend"]
    months = trend["months"]
    title = f"{chart_label(data)}{CHARTS_TITLES['trend']}"
    fig, ax = plt.subplots(figsize=(8, 3.6))
    x = list(range(len(months)))  # positions, so months without data keep their place

    def series(entries: list[dict]) -> list[float | None]:
        return [
            None if m["completion_rate"] is None else m["completion_rate"] * 100 for m in entries
        ]

    ax.plot(x, series(trend["overall"]), marker="o", linewidth=2.5, color="#c0392b", label="全区")
    busiest = sorted(
        trend["departments"],
        key=lambda d: (-sum(m["items_due"] or 0 for m in d["months"]), d["department"]),
    )[:limit]
    for d in busiest:
        ax.plot(x, series(d["months"]), marker=".", linewidth=1, label=d["department"])
    ax.set_xticks(x, months)
    ax.set_xlim(-0.4, len(months) - 0.6)
    ax.axhline(COMPLETION_TARGET * 100, color="#555", linestyle="--", linewidth=1)
    ax.set_ylim(0, 105)
    _percent_axis(ax.yaxis)
    ax.set_ylabel(LABELS["completion_rate"])
    ax.set_title(title)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _png(fig)


CHARTS: dict[str, tuple[str, Callable[[dict], bytes]]] = {
    "completion": (CHARTS_TITLES["completion"], completion_chart),
    "overdue": ("各单位期末逾期事项", overdue_chart),
    "trend": (CHARTS_TITLES["trend"], trend_chart),
}


def chart_names(data: dict) -> list[str]:
    return ["completion", "overdue"] + (["trend"] if "trend" in data else [])


def build_charts(data: dict) -> dict[str, bytes]:
    return {name: CHARTS[name][1](data) for name in chart_names(data)}


# --- HTML ----------------------------------------------------------------------------------

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html", "j2"]),
    trim_blocks=True,
    lstrip_blocks=True,
)


def font_subset_woff(text: str) -> bytes:
    """The CJK face cut down to the characters on the page, so the HTML shows Chinese on a
    machine without CJK fonts and stays small."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(font_path()), fontNumber=FONT_FACE, lazy=True)
    options = subset.Options()
    options.flavor = "woff"
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text + "0123456789%.—（）、：；，。")
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    return buf.getvalue()


def build_html(data: dict, charts: dict[str, bytes], *, embed_font: bool = True) -> str:
    context = {
        "d": data,
        "period_text": period_text(data),
        "interim_notice": interim_notice(data),
        "generated": generated_text(data),
        "summary": summary_sentence(data),
        "ranking_note": ranking_note(data),
        "dept_columns": columns_for(data, DEPARTMENT_COLUMNS),
        "dept_rows": table_rows(data["departments"], DEPARTMENT_COLUMNS),
        "topic_columns": columns_for(data, TOPIC_COLUMNS),
        "topic_rows": table_rows(data["topics"], TOPIC_COLUMNS),
        "rank_columns": columns_for(data, RANK_COLUMNS),
        "overdue_heading": overdue_heading(data),
        "red_rows": table_rows(data["ranking"]["red"], RANK_COLUMNS),
        "black_rows": table_rows(data["ranking"]["black"], RANK_COLUMNS),
        "overdue_columns": columns_for(data, OVERDUE_COLUMNS),
        "overdue_rows": table_rows(data["overdue"]["items"], OVERDUE_COLUMNS),
        "overall": overall_pairs(data),
        "notes": kpi_notes(OVERALL_KEYS),
        "charts": [
            (CHARTS[name][0], base64.b64encode(png).decode()) for name, png in charts.items()
        ],
        "trend": None,
        "font": None,
        "font_family": FONT_FAMILY,
    }
    if "trend" in data:
        context["trend"] = {
            "columns": trend_columns(data),
            "departments": trend_rows(data["trend"]["departments"], "department"),
            "topics": trend_rows(data["trend"]["topics"], "topic"),
        }
    template = _env.get_template("bulletin.html.j2")
    if embed_font:
        page = template.render(**context)
        context["font"] = base64.b64encode(font_subset_woff(page)).decode()
    return template.render(**context)


def overdue_heading(data: dict) -> str:
    """期末逾期未办结事项（共 4 项）, or counted to an interim's moment."""
    return f"{data.get('overdue_label', '期末逾期')}未办结事项（共 {data['overdue']['total']} 项）"


# --- PDF -----------------------------------------------------------------------------------


def build_pdf(data: dict, charts: dict[str, bytes]) -> bytes:
    """A4 landscape; the CJK face is embedded (subset) so any PDF reader shows the text."""
    from fpdf import FPDF
    from fpdf.enums import WrapMode, XPos, YPos
    from fpdf.fonts import FontFace

    mark = data.get("mark")

    class Bulletin(FPDF):
        def header(self) -> None:
            """Every page names the bulletin; an interim one says 中期 in red on every page."""
            self.set_font(FONT_FAMILY, size=8)
            self.set_text_color(*(KIND_COLORS["red"] if mark else (120, 120, 120)))
            self.cell(self.epw * 0.75, 5, data["title"], align="L")
            self.cell(self.epw * 0.25, 5, f"第 {self.page_no()} 页 / 共 {{nb}} 页", align="R")
            self.ln(7)
            self.set_text_color(0, 0, 0)

    pdf = Bulletin(orientation="L", unit="mm", format="A4")
    pdf.set_margins(12, 10, 12)
    pdf.set_auto_page_break(True, margin=12)
    pdf_text.prepare(pdf, title=data["title"])
    pdf.set_subject(f"{data['label']}整改工作情况")
    pdf.add_page()
    heads = FontFace(emphasis=None, fill_color=(236, 240, 241))
    text = partial(pdf_text.text, pdf, size=10, h=6)
    heading = partial(pdf_text.heading, pdf, keep=30)

    def table(
        header: list[str], rows: list[list[str]], widths: Sequence[float] | None = None
    ) -> None:
        pdf.set_font(FONT_FAMILY, size=8.5)
        if not rows:
            text("（无）", size=9)
            return
        with pdf.table(
            col_widths=widths,
            headings_style=heads,
            wrapmode=WrapMode.CHAR,
            text_align="CENTER",
            line_height=5,
            padding=1,
        ) as t:
            for row in [header, *rows]:
                r = t.row()
                for c in row:
                    r.cell(c)

    def grid(pairs: list[tuple[str, str]], per_row: int = 5) -> None:
        """Label and value side by side, `per_row` pairs a line: the overview's many numbers
        without a column per number."""
        pdf.set_font(FONT_FAMILY, size=8.5)
        label_w = pdf.epw / per_row * 0.62
        value_w = pdf.epw / per_row - label_w
        with pdf.table(
            col_widths=[label_w, value_w] * per_row,
            first_row_as_headings=False,
            wrapmode=WrapMode.CHAR,
            text_align="CENTER",
            line_height=5,
            padding=1,
        ) as t:
            for i in range(0, len(pairs), per_row):
                r = t.row()
                line = pairs[i : i + per_row]
                for label, value in line + [("", "")] * (per_row - len(line)):
                    r.cell(label, style=heads)
                    r.cell(value)

    pdf.set_font(FONT_FAMILY, size=20)
    pdf.cell(0, 12, data["title"], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    text(f"{period_text(data)}　　{generated_text(data)}", size=10)
    if notice := interim_notice(data):
        text(notice, size=11, color=KIND_COLORS["red"])
    heading("一、总体情况")
    text(summary_sentence(data))
    grid(overall_pairs(data))
    text(notes_text(OVERALL_KEYS), size=8.5, h=5, color=(90, 90, 90))

    heading("二、红黑榜")
    rank_header = [label for _, label in columns_for(data, RANK_COLUMNS)]
    text("红榜", size=11, color=KIND_COLORS["red"])
    table(rank_header, table_rows(data["ranking"]["red"], RANK_COLUMNS))
    text("黑榜", size=11, color=KIND_COLORS["black"])
    table(rank_header, table_rows(data["ranking"]["black"], RANK_COLUMNS))
    text(ranking_note(data), size=8.5, h=5, color=(90, 90, 90))

    from PIL import Image

    def image_size(png: bytes) -> tuple[float, float]:
        with Image.open(io.BytesIO(png)) as img:
            w_px, h_px = img.size
        width = min(200.0, pdf.epw)
        height = width * h_px / w_px
        if height > pdf.eph - 20:
            height = pdf.eph - 20
            width = height * w_px / h_px
        return width, height

    if charts and pdf.will_page_break(image_size(next(iter(charts.values())))[1] + 15):
        pdf.add_page()  # keep the heading with its first chart
    heading("三、图表")
    for name, png in charts.items():
        width, height = image_size(png)
        if pdf.will_page_break(height):
            pdf.add_page()
        pdf.image(
            io.BytesIO(png), x=(pdf.w - width) / 2, w=width, h=height, alt_text=CHARTS[name][0]
        )
        pdf.ln(2)

    name_w = 34.0

    def kpi_table(columns: Sequence[Column], rows: Sequence[dict]) -> None:
        """A name column and one equal column per key, across the page; more keys than fit
        go on in a second table under the first, the names repeated."""
        for n, group in enumerate(column_groups(columns)):
            if n:
                pdf.ln(2)
            rest = (pdf.epw - name_w) / (len(group) - 1)
            table(
                [c[1] for c in columns_for(data, group)],
                table_rows(rows, group),
                [name_w] + [rest] * (len(group) - 1),
            )

    heading("四、各单位整改指标")
    kpi_table(DEPARTMENT_COLUMNS, data["departments"])
    heading("五、各议题整改指标")
    kpi_table(TOPIC_COLUMNS, data["topics"])

    section = 6
    if "trend" in data:
        cols = trend_columns(data)
        heading("六、月度趋势（各单位）")
        w = [name_w] + [(pdf.epw - name_w) / len(cols)] * len(cols)
        table(["单位", *cols], trend_rows(data["trend"]["departments"], "department"), w)
        heading("七、月度趋势（各议题）")
        table(["议题", *cols], trend_rows(data["trend"]["topics"], "topic"), w)
        section = 8
    numerals = "一二三四五六七八九十"
    overdue = data["overdue"]
    heading(f"{numerals[section - 1]}、{overdue_heading(data)}")
    if overdue["total"] > len(overdue["items"]):
        text(f"仅列出逾期最久的 {len(overdue['items'])} 项。", size=9)
    table(
        [c[1] for c in columns_for(data, OVERDUE_COLUMNS)],
        table_rows(overdue["items"], OVERDUE_COLUMNS),
        [0.2, 0.18, 0.12, 0.12, 0.1, 0.09, 0.09, 0.1],
    )
    return bytes(pdf.output())


# --- XLSX ----------------------------------------------------------------------------------


def build_xlsx(data: dict) -> bytes:
    """Sheets: 概览, 单位指标, 红黑榜, 逾期清单, 议题指标 (+ 月度趋势 for a quarter).
    Rates are numbers formatted as percentages, so they sort and sum in Excel."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.worksheet import Worksheet

    wb = Workbook()
    wb.properties.title = data["title"]
    bold = Font(bold=True)
    mark = data.get("mark")
    fill = PatternFill("solid", fgColor="ECF0F1")

    def sheet(title: str, header: list[str], rows: list[list[Any]], rate_cols: set[int]) -> None:
        ws = wb.create_sheet(title)
        ws.append(header)
        for c in ws[1]:
            c.font, c.fill = bold, fill
            c.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        for row in rows:
            ws.append(row)
        for col in rate_cols:
            for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
                cell.number_format = "0.0%"
        for i, label in enumerate(header, start=1):
            longest = max([len(str(label))] + [len(str(r[i - 1] or "")) for r in rows])
            ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, longest * 1.8 + 2))
        ws.freeze_panes = "B2"
        print_header(ws)

    def print_header(ws: Worksheet) -> None:
        """The title (with 中期 for an interim report) at the top of every printed page."""
        header = ws.oddHeader
        if header is None:  # openpyxl's typing; a new sheet always has its header
            return
        header.center.text = data["title"]
        header.center.color = "C81E1E" if mark else "555555"

    def values(rows: list[dict], columns: Sequence[Column]) -> list[list[Any]]:
        return [[r.get(k) for k, _ in columns] for r in rows]

    def rates(columns: Sequence[Column]) -> set[int]:
        return {i for i, (k, _) in enumerate(columns, start=1) if k in PERCENT_KEYS}

    ws = cast(Worksheet, wb.active)  # a new Workbook always has its first sheet
    ws.title = "概览"
    ws.append([data["title"]])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["统计期间", f"{data['start']} 至 {data['end']}"])
    ws.append(["报告性质", interim_notice(data) or "正式通报（统计到期末）"])
    if mark:
        ws["B3"].font = Font(bold=True, color="C81E1E")
    ws.append(["生成时间", generated_text(data)])
    ws.append([])
    notes = dict(kpi_notes(OVERALL_KEYS))
    for k in OVERALL_KEYS:
        label = relabel(data, OVERALL_LABELS[k])
        ws.append([label, data["overall"][k], *([notes[label]] if label in notes else [])])
        if k in PERCENT_KEYS:
            ws.cell(ws.max_row, 2).number_format = "0.0%"
    ws.append([f"{data.get('overdue_label', '期末逾期')}未办结", data["overdue"]["total"]])
    ws.append([])
    ws.append(["说明", ranking_note(data)])
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 40
    print_header(ws)

    sheet(
        "单位指标",
        [c[1] for c in columns_for(data, DEPARTMENT_COLUMNS)],
        values(data["departments"], DEPARTMENT_COLUMNS),
        rates(DEPARTMENT_COLUMNS),
    )
    rank_cols: list[Column] = [("board", "榜单"), *RANK_COLUMNS]
    ranking = data["ranking"]
    red_ids = {r["department_id"] for r in ranking["red"]}
    black_ids = {r["department_id"] for r in ranking["black"]}
    rank_rows = [
        {
            **r,
            "board": "红榜"
            if r["department_id"] in red_ids
            else ("黑榜" if r["department_id"] in black_ids else ""),
        }
        for r in ranking["ranked"]
    ] + [{**u, "board": "样本不足，未排名"} for u in ranking["unranked"]]
    sheet(
        "红黑榜",
        [c[1] for c in columns_for(data, rank_cols)],
        values(rank_rows, rank_cols),
        rates(rank_cols),
    )
    sheet(
        "逾期清单",
        ["事项编号", *(c[1] for c in columns_for(data, OVERDUE_COLUMNS))],
        [[r["item_id"], *(r[k] for k, _ in OVERDUE_COLUMNS)] for r in data["overdue"]["items"]],
        set(),
    )
    sheet(
        "议题指标",
        [c[1] for c in columns_for(data, TOPIC_COLUMNS)],
        values(data["topics"], TOPIC_COLUMNS),
        rates(TOPIC_COLUMNS),
    )
    if "trend" in data:
        months = data["trend"]["months"]
        keys = TREND_KEYS
        header = ["类别", "名称"] + [f"{m}{short_label(k)}" for m in months for k in keys]
        rows: list[list[Any]] = [
            ["全区", "全区"] + [m[k] for m in data["trend"]["overall"] for k in keys]
        ]
        for kind, name_key, entries in (
            ("单位", "department", data["trend"]["departments"]),
            ("议题", "topic", data["trend"]["topics"]),
        ):
            rows += [
                [kind, e[name_key]] + [m[k] for m in e["months"] for k in keys] for e in entries
            ]
        rate_idx = {
            3 + i * len(keys) + j
            for i in range(len(months))
            for j, k in enumerate(keys)
            if k in PERCENT_KEYS
        }
        sheet("月度趋势", header, rows, rate_idx)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
