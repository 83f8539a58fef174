"""月通报 / 季评估: a period's KPIs per department and per topic, the ranking (红黑榜), the
overdue list, and the Bulletin row with its announcement to leadership.

The period is [start, end) of local Asia/Shanghai days (end exclusive); which items count
and every rate are defined once in models.kpis, over the period's window, so the topic page
and the bulletin report the same numbers for the same records. Departments are the items'
lead departments (with the ratings of their items), and the returns (退单) each department
made; topics take all of the topic's ratings.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from config.links import base_url
from config.settings import get_settings
from models import kpis
from models.base import Page, utcnow
from models.case import Listing, audit, listing, queue, role_tag
from models.enums import ItemStatus, Role
from models.errors import Conflict, Invalid
from models.kpis import pct
from models.tables import (
    LEVEL_LABELS,
    Bulletin,
    BulletinRecord,
    Department,
    Person,
    Rating,
    RectificationItem,
    Topic,
    item_level,
)


class BulletinKind(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"

    @property
    def label(self) -> str:
        return "月通报" if self is BulletinKind.MONTHLY else "季度评估"


class FileFormat(StrEnum):
    HTML = "html"
    PDF = "pdf"
    XLSX = "xlsx"


# How each file is named to a person (links, refusals).
FORMAT_LABELS = {FileFormat.HTML: "网页版", FileFormat.PDF: "PDF", FileFormat.XLSX: "数据表"}

MEDIA_TYPES = {
    FileFormat.HTML: "text/html; charset=utf-8",
    FileFormat.PDF: "application/pdf",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

QUARTER_NAMES = "一二三四"

# The counts a bulletin row shows as its sample, before its rates; the rates are every KPI of
# models.kpis (labels, targets and formulas are its declarations), so a new KPI is a new column.
SAMPLE_KEYS = [
    "items",
    "items_due",
    "items_completed",
    "items_overdue",
    "extensions_approved",
    "bounces",
]
BULLETIN_KEYS = [*SAMPLE_KEYS, *kpis.RATES_SHOWN]
# What each table can show: a department has no suggestions and no rating requests.
DEPARTMENT_KEYS = kpis.available(BULLETIN_KEYS, kpis.DEPARTMENT_OF)
TOPIC_KEYS = kpis.available(BULLETIN_KEYS, kpis.TOPIC_OF)
OVERALL_KEYS = [*BULLETIN_KEYS, "ratings", "rating_requests", "transfers"]
KPI_LABELS: dict[str, str] = {k: kpis.LABELS[k] for k in BULLETIN_KEYS}
RATE_KEYS = kpis.RATE_KEYS
# The rates a spreadsheet formats as percentages (a mean score is shown in its own unit).
PERCENT_KEYS = frozenset(k for k in RATE_KEYS if kpis.KPIS[k].unit == "%")
COMPLETION_TARGET = kpis.target("completion_rate")
COMPLETION = kpis.KPIS["completion_rate"]


# --- periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month or quarter in local time; `end` is its last day (inclusive).
    With `as_of` (a UTC instant inside the period) it is an interim report (中期) that counts
    from the start to that moment instead of to the end of the period."""

    kind: BulletinKind
    start: dt.date
    end: dt.date
    as_of: dt.datetime | None = None

    @property
    def interim(self) -> bool:
        return self.as_of is not None

    @property
    def as_of_local(self) -> dt.datetime | None:
        return None if self.as_of is None else self.as_of.astimezone(get_settings().tz)

    @property
    def last_day(self) -> dt.date:
        """The last local day counted: the period's end, or the day of an interim's moment."""
        local = self.as_of_local
        return self.end if local is None else local.date()

    @property
    def mark(self) -> str | None:
        """中期，截至2026年11月23日 10:00 — shown on every surface of an interim report."""
        local = self.as_of_local
        if local is None:
            return None
        return f"中期，截至{local.year}年{local.month}月{local.day}日 {local:%H:%M}"

    @property
    def overdue_label(self) -> str:
        """How overdue is counted: at the end of the period, or at the interim's moment."""
        return "截至生成时逾期" if self.interim else "期末逾期"

    @property
    def key(self) -> str:
        if self.kind is BulletinKind.MONTHLY:
            return f"{self.start:%Y-%m}"
        return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"

    @property
    def label(self) -> str:
        if self.kind is BulletinKind.MONTHLY:
            return f"{self.start.year}年{self.start.month}月"
        return f"{self.start.year}年第{QUARTER_NAMES[(self.start.month - 1) // 3]}季度"

    @property
    def title(self) -> str:
        title = f"{self.label}整改工作{self.kind.label}"
        return f"{title}（{self.mark}）" if self.mark else title

    @property
    def full_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) of the whole period as UTC instants: local midnight of the first day
        and of the day after the last."""
        tz = get_settings().tz
        start = dt.datetime.combine(self.start, dt.time(), tzinfo=tz)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    @property
    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """The counted window: the whole period, or up to the interim's moment."""
        start, end = self.full_bounds
        return start, (self.as_of.astimezone(dt.UTC) if self.as_of else end)

    @property
    def window(self) -> kpis.Window:
        return kpis.Window.between(*self.bounds)

    def months(self) -> list[Period]:
        """The months of the period side by side (one for a monthly period)."""
        if self.kind is BulletinKind.MONTHLY:
            return [self]
        return [month_of(self.start.replace(month=self.start.month + i)) for i in range(3)]

    def counted_months(self) -> list[Period | None]:
        """The months as far as they are counted: an interim quarter counts its running month
        to the same moment and leaves the months to come empty (None)."""
        if self.as_of is None:
            return list(self.months())
        out: list[Period | None] = []
        for m in self.months():
            start, end = m.full_bounds
            if start > self.as_of:
                out.append(None)
            elif end > self.as_of:
                out.append(Period(m.kind, m.start, m.end, as_of=self.as_of))
            else:
                out.append(m)
        return out


def _last_day(year: int, month: int) -> dt.date:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def month_of(day: dt.date) -> Period:
    return Period(BulletinKind.MONTHLY, day.replace(day=1), _last_day(day.year, day.month))


def quarter_of(day: dt.date) -> Period:
    first = (day.month - 1) // 3 * 3 + 1
    return Period(
        BulletinKind.QUARTERLY, dt.date(day.year, first, 1), _last_day(day.year, first + 2)
    )


def period_of(kind: BulletinKind, day: dt.date) -> Period:
    return month_of(day) if kind is BulletinKind.MONTHLY else quarter_of(day)


def previous_period(kind: BulletinKind, now: dt.datetime) -> Period:
    """The last full month (quarter) before `now` in local time: what a run on the 1st reports."""
    today = now.astimezone(get_settings().tz).date()
    current = period_of(kind, today)
    return period_of(kind, current.start - dt.timedelta(days=1))


_QUARTER = re.compile(r"^(\d{4})[-\s]?[Qq]([1-4])$")


def parse_period(kind: BulletinKind, text: str) -> Period:
    """'2026-10' or any date '2026-10-15' names the month (quarter) containing it; '2026Q3'
    names a quarter."""
    text = text.strip()
    if m := _QUARTER.match(text):
        if kind is not BulletinKind.QUARTERLY:
            raise Invalid("月通报的期间应写作 2026-10（年-月）", field="period")
        return quarter_of(dt.date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1))
    for fmt in ("%Y-%m-%d", "%Y-%m"):
        try:
            day = dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
        return period_of(kind, day)
    raise Invalid(
        "期间格式应为 2026-10（年-月）、2026-10-01（日期）或 2026Q4（季度）", field="period"
    )


def resolve_period(kind: BulletinKind, period: str | None, now: dt.datetime) -> Period:
    """The named period, or the previous one for a scheduled run."""
    return parse_period(kind, period) if period else previous_period(kind, now)


def _day(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def choose_period(
    kind: BulletinKind,
    period: str | None,
    *,
    interim: bool = False,
    now: dt.datetime | None = None,
    scheduled: dt.datetime | None = None,
) -> Period:
    """The one rule for what may be generated, used by the API before it starts a run and by
    the flow itself (scheduled or direct runs): a final bulletin only for a period that has
    ended; an interim one (中期) only for the running period, counted to `now`. `scheduled`
    picks the previous period of a scheduled run (a late run still reports the right one).
    Refuses with a Conflict naming what can be generated and from when."""
    now = (now or utcnow()).astimezone(dt.UTC)
    today = now.astimezone(get_settings().tz).date()
    last_full = previous_period(kind, now)
    running = period_of(kind, today)
    if period:
        chosen = parse_period(kind, period)
    elif interim:
        chosen = running
    else:
        chosen = previous_period(kind, scheduled or now)
    start, end = chosen.full_bounds
    noun = kind.label
    if not interim:
        if end <= now:
            return chosen
        if start > now:
            state = f"{chosen.label}尚未开始"
            hint = ""
        else:
            state = f"{chosen.label}尚未结束（至 {_day(chosen.end)}）"
            hint = f"；如需本期截至目前的情况，可生成中期{noun}（interim: true，--interim）"
        raise Conflict(
            f"{state}，不能生成{chosen.label}{noun}，最早可于 {_day(chosen.end + dt.timedelta(days=1))}"
            f"起生成；目前可生成的最近一期是{last_full.label}{noun}（{last_full.key}）{hint}",
            field="period",
        )
    if start > now:
        raise Conflict(
            f"{chosen.label}尚未开始，不能生成中期{noun}；中期{noun}只用于进行中的{running.label}"
            f"（{running.key}），{chosen.label}的正式{noun}最早可于 "
            f"{_day(chosen.end + dt.timedelta(days=1))}起生成",
            field="period",
        )
    if end <= now:
        raise Conflict(
            f"{chosen.label}已经结束，应生成正式{noun}（不加 interim）；中期{noun}只用于进行中的"
            f"{running.label}（{running.key}）",
            field="period",
        )
    return Period(chosen.kind, chosen.start, chosen.end, as_of=now)


def period_from_data(data: dict[str, Any]) -> Period:
    """The period a computed bulletin (models.bulletin.compute) reports, interim moment included."""
    p = parse_period(BulletinKind(data["kind"]), data["start"])
    as_of = data.get("as_of")
    return Period(p.kind, p.start, p.end, as_of=dt.datetime.fromisoformat(as_of) if as_of else None)


# --- KPIs in grouped SQL (the formulas are models.kpis') ------------------------------------


def overdue_condition(period: Period) -> Any:
    """Overdue at the end of the period (期末逾期), or at an interim's moment."""
    return kpis.COUNTS["items_overdue"].condition(period.window)


def _rows(*sources: dict[Any, dict[str, Any]]) -> dict[Any, dict[str, Any]]:
    """Join item, rating and bounce counts per group; a group missing from one gets zeros."""
    rows: dict[Any, dict[str, Any]] = {}
    for counts_by_group in sources:
        for key, counts in counts_by_group.items():
            rows.setdefault(key, kpis.zero()).update(counts)
    return rows


def department_kpis(session: Session, period: Period) -> list[dict[str, Any]]:
    """Per lead department: three grouped queries (items, ratings of their items, and the
    returns it made, counted for the department that returned them)."""
    return department_rows(session, period.window)


def department_rows(session: Session, w: kpis.Window) -> list[dict[str, Any]]:
    """department_kpis over any window (the KPI dashboard's year or as-of periods too)."""
    dept = kpis.DEPARTMENT_OF
    rows = _rows(
        kpis.item_counts(session, w, dept[kpis.Source.ITEM]),
        kpis.rating_counts(session, w, dept[kpis.Source.RATING], by_item=True),
        kpis.bounce_counts(session, w, dept[kpis.Source.BOUNCE]),  # who returned it
    )
    names = dict(
        session.exec(
            select(Department.id, Department.name).where(Department.id.in_(list(rows)))  # type: ignore[union-attr]
        ).all()
    )
    result = [
        {"department_id": d, "department": names.get(d, str(d)), **kpis.with_rates(row)}
        for d, row in rows.items()
    ]
    return sorted(result, key=lambda r: (r["department"], r["department_id"]))


def topic_kpis(session: Session, period: Period) -> list[dict[str, Any]]:
    """Per topic: six grouped queries (items, all ratings of the topic, its returns, who was
    asked to rate it, its third-party evaluations, and its suggestions)."""
    w = period.window
    rows = _rows(
        kpis.item_counts(session, w, RectificationItem.topic_id),
        kpis.rating_counts(session, w, Rating.topic_id),
        kpis.bounce_counts(session, w, RectificationItem.topic_id),
        kpis.unit_counts_by_topic(session, kpis.Source.RATING_REQUEST, w),
        kpis.unit_counts_by_topic(session, kpis.Source.EVALUATION, w),
    )
    # Suggestions carry no decision time, so they would list every topic in every period:
    # they join the topics that have something in this one.
    suggestions = kpis.unit_counts_by_topic(session, kpis.Source.SUGGESTION, w, topic_ids=rows)
    for (
        topic_id,
        row,
    ) in rows.items():  # a topic nobody was asked to rate: none asked, none answered
        for source in (kpis.Source.RATING_REQUEST, kpis.Source.EVALUATION, kpis.Source.SUGGESTION):
            for key in kpis.keys_of(source):
                row.setdefault(key, 0)
        row.update(suggestions.get(topic_id, {}))
    titles = dict(session.exec(select(Topic.id, Topic.title).where(Topic.id.in_(list(rows)))).all())  # type: ignore[union-attr]
    result = [
        {"topic_id": t, "topic": titles.get(t, str(t)), **kpis.with_rates(row)}
        for t, row in rows.items()
    ]
    return sorted(result, key=lambda r: r["topic_id"])


def overall_kpis(
    session: Session, period: Period, *, departments: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Every count and rate over all topics: what the KPI API reports over the same window. Given
    the period's department rows, the item counts are their sums (every item has one lead
    department, so the groups add up to the whole) and the items are not read a second time."""
    items = (
        {k: sum(d[k] for d in departments) for k in kpis.ITEM_KEYS}
        if departments is not None
        else None
    )
    return kpis.compute(session, period.window, items=items)


def overdue_items(
    session: Session, period: Period, *, limit: int, total: int | None = None
) -> tuple[int, list[dict]]:
    """Items overdue at the end of the period (an interim's moment), longest overdue first (at
    most `limit`), each with its level (正常 / 即将到期 / 预警 / 督办) as its ladder stood then.
    `total`, when the caller has it (the departments' 期末逾期 summed: the same items), spares
    counting them again."""
    it = RectificationItem
    where = [it.status != ItemStatus.DECLINED, overdue_condition(period)]
    if total is None:
        total = session.exec(select(func.count()).select_from(it).where(*where)).one()
    rows = session.exec(
        select(  # type: ignore[call-overload]
            it.id,
            it.title,
            it.deadline,
            it.completed_at,
            item_level(as_of=period.bounds[1]),
            Topic.title,
            Department.name,
            Person.name,
        )
        .join(Topic, Topic.id == it.topic_id)
        .join(Department, Department.id == it.lead_department_id)
        .join(Person, Person.id == it.officer_id)
        .where(*where)
        .order_by(it.deadline, it.id)
        .limit(limit)
    ).all()
    tz = get_settings().tz
    items = []
    for item_id, title, deadline, completed_at, level, topic, dept, officer in rows:
        local = deadline.astimezone(tz).date()
        items.append(
            {
                "item_id": item_id,
                "title": title,
                "topic": topic,
                "department": dept,
                "officer": officer,
                "deadline": local.isoformat(),
                "days_overdue": (period.last_day - local).days,
                "completed_after": completed_at.astimezone(tz).date().isoformat()
                if completed_at
                else None,
                "level": level,
                "level_label": LEVEL_LABELS[level],
            }
        )
    return int(total), items


# --- ranking -------------------------------------------------------------------------------


def _score(row: dict[str, Any]) -> tuple:
    """Best first: completion, then on-time, fewer overdue, more items due; the name and id
    break any remaining tie, so the order never depends on the database."""
    return (
        -kpis.fraction("completion_rate", row),
        -kpis.fraction("on_time_rate", row),
        row["items_overdue"],
        -row["items_due"],
        row["department"],
        row["department_id"],
    )


def honoured(row: dict[str, Any]) -> bool:
    """May stand on the 红榜: meets the completion target and has no overdue item. Everyone
    else who is ranked belongs on the 黑榜, so the two boards never share a department and a
    high place among weak departments is no honour."""
    return bool(COMPLETION.meets(row)) and row["items_overdue"] == 0


def rank(rows: list[dict[str, Any]], *, min_due: int, size: int) -> dict[str, Any]:
    """红黑榜. Only departments with at least `min_due` items due are ranked, so one lucky item
    cannot top the list. 红榜: the best of those that meet the completion target with nothing
    overdue; 黑榜: the worst (worst first) of those below the target or with overdue items;
    each at most `size`, every entry with its sample (items due)."""
    eligible = sorted((r for r in rows if r["items_due"] >= min_due), key=_score)
    ranked = [
        {
            "rank": i + 1,
            "department_id": r["department_id"],
            "department": r["department"],
            "items_due": r["items_due"],
            "items_completed": r["items_completed"],
            "items_overdue": r["items_overdue"],
            "items_on_time": r["items_on_time"],
            "items_on_time_base": r["items_on_time_base"],
            "completion_rate": r["completion_rate"],
            "on_time_rate": r["on_time_rate"],
        }
        for i, r in enumerate(eligible)
    ]
    red_all = [r for r, row in zip(ranked, eligible, strict=True) if honoured(row)]
    black_all = [r for r, row in zip(ranked, eligible, strict=True) if not honoured(row)][::-1]
    unranked = [
        {
            "department_id": r["department_id"],
            "department": r["department"],
            "items_due": r["items_due"],
        }
        for r in sorted(rows, key=lambda r: (r["department"], r["department_id"]))
        if r["items_due"] < min_due
    ]
    return {
        "min_items_due": min_due,
        "completion_target": COMPLETION.target,
        "size": size,
        "ranked": ranked,
        "red": red_all[:size],
        "black": black_all[:size],
        "red_total": len(red_all),
        "black_total": len(black_all),
        "unranked": unranked,
    }


# --- the whole bulletin --------------------------------------------------------------------


def compute(session: Session, period: Period, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything a bulletin shows, as JSON-ready data (also stored as the row's summary).
    An interim report is generated at its own moment: that is when it counts to."""
    settings = get_settings()
    now = period.as_of or now or utcnow()
    departments = department_kpis(session, period)
    ranking = rank(
        departments, min_due=settings.bulletin_min_items_due, size=settings.bulletin_ranking_size
    )
    order = {r["department_id"]: r["rank"] for r in ranking["ranked"]}
    departments.sort(key=lambda r: (order.get(r["department_id"], len(order) + 1),))
    total, overdue = overdue_items(
        session,
        period,
        limit=settings.bulletin_overdue_limit,
        total=sum(d["items_overdue"] for d in departments),
    )
    data: dict[str, Any] = {
        "kind": period.kind.value,
        "period": period.key,
        "label": period.label,
        "title": period.title,
        "start": period.start.isoformat(),
        "end": period.last_day.isoformat(),
        "period_end": period.end.isoformat(),
        "interim": period.interim,
        "as_of": period.as_of.isoformat() if period.as_of else None,
        "mark": period.mark,
        "overdue_label": period.overdue_label,
        "generated_at": now.astimezone(settings.tz).isoformat(timespec="seconds"),
        "overall": overall_kpis(session, period, departments=departments),
        "departments": departments,
        "topics": topic_kpis(session, period),
        "ranking": ranking,
        "overdue": {"total": total, "items": overdue, "limit": settings.bulletin_overdue_limit},
    }
    if period.kind is BulletinKind.QUARTERLY:
        data["trend"] = trend(session, period)
    return data


TREND_KEYS = ["items_due", "items_completed", "items_overdue", "completion_rate", "on_time_rate"]


def trend(session: Session, quarter: Period) -> dict[str, Any]:
    """The quarter's three months side by side, per department and per topic (季评估); in an
    interim review the running month is counted to its moment and the months to come are empty."""
    months = quarter.months()
    counted = quarter.counted_months()
    per_dept: dict[int, dict[str, Any]] = {}
    per_topic: dict[int, dict[str, Any]] = {}
    blank = dict.fromkeys(TREND_KEYS)
    dept_rows: dict[int, list[dict[str, Any]]] = {}  # month → its department rows
    for i, month in enumerate(counted):
        if month is None:
            continue
        dept_rows[i] = department_kpis(session, month)
        for row in dept_rows[i]:
            entry = per_dept.setdefault(
                row["department_id"],
                {
                    "department_id": row["department_id"],
                    "department": row["department"],
                    "months": [dict(blank) for _ in months],
                },
            )
            entry["months"][i] = {k: row[k] for k in TREND_KEYS}
        for row in topic_kpis(session, month):
            entry = per_topic.setdefault(
                row["topic_id"],
                {
                    "topic_id": row["topic_id"],
                    "topic": row["topic"],
                    "months": [dict(blank) for _ in months],
                },
            )
            entry["months"][i] = {k: row[k] for k in TREND_KEYS}
    overall = []
    for i, month in enumerate(counted):
        if month is None:
            overall.append(dict(blank))
            continue
        o = overall_kpis(session, month, departments=dept_rows[i])
        overall.append({k: o[k] for k in TREND_KEYS})
    return {
        "months": [
            f"{m.start.month}月（截至{m.last_day.day}日）"
            if m and m.interim
            else f"{mm.start.month}月"
            for m, mm in zip(counted, months, strict=True)
        ],
        "overall": overall,
        "departments": sorted(
            per_dept.values(), key=lambda r: (r["department"], r["department_id"])
        ),
        "topics": sorted(per_topic.values(), key=lambda r: r["topic_id"]),
    }


# --- files, the row and the announcement ---------------------------------------------------


def file_stem(period: Period) -> str:
    """Relative location of a period's files under the reports directory (ASCII on disk);
    an interim report has its own (the latest replaces the previous interim one)."""
    stem = f"{period.kind.value}/{period.key}/{period.kind.value}-{period.key}"
    return f"{stem}-interim" if period.interim else stem


def file_path(bulletin: Bulletin, fmt: FileFormat) -> Path | None:
    """The stored file of one format, if it exists and lies inside the reports directory."""
    rel = (bulletin.files or {}).get(fmt.value)
    if not rel:
        return None
    root = get_settings().reports_dir.resolve()
    path = (root / rel).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def period_of_row(bulletin: Bulletin) -> Period:
    p = period_of(BulletinKind(bulletin.kind), bulletin.period_start)
    if bulletin.interim and bulletin.as_of is not None:
        return Period(p.kind, p.start, p.end, as_of=bulletin.as_of)
    return p


def download_name(bulletin: Bulletin, fmt: FileFormat) -> str:
    return f"{period_of_row(bulletin).title}.{fmt.value}"


def file_address(bulletin_id: int, fmt: FileFormat) -> str:
    """The file's download address on this site, as the API serves it."""
    return f"/bulletins/{bulletin_id}/files/{fmt.value}"


def file_links(bulletin_id: int) -> dict[str, str]:
    base = base_url()
    return {f.value: f"{base}{file_address(bulletin_id, f)}" for f in FileFormat}


def record(
    session: Session, period: Period, *, files: dict[str, Any], summary: dict[str, Any]
) -> Bulletin:
    """Upsert the period's row and stage the announcement, in the caller's transaction.
    A rerun replaces the files and numbers; the announcement goes out once per period. An
    interim report has its own row (the latest interim one), so the final one is untouched."""
    row = session.exec(
        select(Bulletin)
        .where(
            Bulletin.kind == period.kind.value,
            Bulletin.period_start == period.start,
            Bulletin.interim == period.interim,
        )
        .with_for_update()
    ).first()
    if row is None:
        row = Bulletin(
            kind=period.kind.value,
            period_start=period.start,
            period_end=period.end,
            interim=period.interim,
        )
        session.add(row)
    row.period_end = period.end
    row.as_of = period.as_of
    row.files = dict(files)
    row.summary = dict(summary)
    row.generated_at = utcnow()
    session.flush()
    announce(session, row, period, summary)
    audit(
        session,
        action="bulletin_generated",
        topic_id=None,
        kind=period.kind.value,
        period=period.key,
        interim=period.interim,
        bulletin_id=row.id,
    )
    return row


def board_entry(row: dict[str, Any]) -> str:
    """A department on a board with its sample: 城南街道（应办结 3 项，完成 3 项，逾期 0 项）."""
    return (
        f"{row['department']}（{kpis.LABELS['items_due']} {row['items_due']} 项，"
        f"{kpis.LABELS['items_completed']} {row['items_completed']} 项，"
        f"{kpis.LABELS['completion_rate']} {pct(row['completion_rate'])}，"
        f"逾期 {row['items_overdue']} 项）"
    )


def event_key(period: Period) -> str:
    """The announcement's key: once per period, and once per moment for interim reports."""
    key = f"bulletin:{period.kind.value}:{period.key}"
    return f"{key}:interim:{period.as_of:%Y%m%dT%H%M%S}" if period.as_of else key


def announce(session: Session, bulletin: Bulletin, period: Period, summary: dict) -> None:
    """One message per leadership role, keyed by the period (an interim one by its moment)
    so a rerun does not repeat it."""
    overall = summary["overall"]
    ranking = summary["ranking"]
    queue(
        session,
        event_key=event_key(period),
        recipients=[role_tag(Role.APPROVER), role_tag(Role.ADMINISTRATOR)],
        template="bulletin",
        topic_id=None,
        title=period.title,
        kind_label=period.kind.label,
        period_label=period.label,
        start=period.start.isoformat(),
        end=period.last_day.isoformat(),
        mark=period.mark,
        overdue_label=period.overdue_label,
        items_due=overall["items_due"],
        items_completed=overall["items_completed"],
        completion=pct(overall["completion_rate"]),
        on_time=pct(overall["on_time_rate"]),
        satisfaction=pct(overall["satisfaction_rate"]),
        labels=kpis.LABELS,
        overdue=summary["overdue"]["total"],
        red=[board_entry(r) for r in ranking["red"]],
        black=[board_entry(r) for r in ranking["black"]],
        red_total=ranking.get("red_total", len(ranking["red"])),
        black_total=ranking.get("black_total", len(ranking["black"])),
        min_items_due=ranking["min_items_due"],
        target=COMPLETION.target_text,
        links=file_links(bulletin.id),  # type: ignore[arg-type]
    )


def list_bulletins(
    session: Session, *, kind: BulletinKind | None = None, limit: int = 50, offset: int = 0
) -> Listing[Bulletin]:
    stmt = select(Bulletin)
    if kind is not None:
        stmt = stmt.where(Bulletin.kind == kind.value)
    order = (Bulletin.period_start.desc(), Bulletin.kind, Bulletin.interim)  # type: ignore[attr-defined]
    return listing(session, stmt, order_by=order, limit=limit, offset=offset)


class BulletinPublic(BulletinRecord):
    """A bulletin as the API shows it: the period, download links and the summary numbers."""

    id: int
    kind: BulletinKind
    title: str
    period: str
    files: dict[str, str]
    overall: dict[str, Any]
    ranking: dict[str, Any]
    overdue_total: int


class BulletinsPublic(Page[BulletinPublic]):
    """Bulletins, newest period first."""


class BulletinDetail(BulletinPublic):
    summary: dict[str, Any]


def public(bulletin: Bulletin, *, detail: bool = False) -> BulletinPublic:
    period = period_of_row(bulletin)
    links = file_links(bulletin.id)  # type: ignore[arg-type]
    summary = bulletin.summary or {}
    data: dict[str, Any] = {
        "id": bulletin.id,
        "kind": period.kind,
        "title": period.title,
        "period": period.key,
        "period_start": bulletin.period_start,
        "period_end": bulletin.period_end,
        "interim": bulletin.interim,
        "as_of": bulletin.as_of,
        "generated_at": bulletin.generated_at,
        "files": {f: links[f] for f in (bulletin.files or {}) if f in links},
        "overall": summary.get("overall", {}),
        "ranking": summary.get("ranking", {}),
        "overdue_total": summary.get("overdue", {}).get("total", 0),
    }
    if detail:
        return BulletinDetail(**data, summary=summary)
    return BulletinPublic(**data)
