"""月通报 / 季评估: a period's KPIs per department and per topic, the ranking (红黑榜), the
overdue list, and the Bulletin row with its announcement to leadership.

The period is [start, end) of local Asia/Shanghai days (end exclusive); which items count
and every rate are defined once in models.kpis, over the period's window, so the topic page
and the bulletin report the same numbers for the same records. Departments are the items'
lead departments (with the ratings of their items); topics take all of the topic's ratings.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func
from sqlmodel import Session, select

from config.settings import get_settings
from models import kpis
from models.base import Page, utcnow
from models.case import Listing, audit, listing, queue, role_tag
from models.enums import ItemStatus, Role
from models.errors import Invalid
from models.kpis import pct
from models.tables import (
    LEVEL_LABELS,
    Bulletin,
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


MEDIA_TYPES = {
    FileFormat.HTML: "text/html; charset=utf-8",
    FileFormat.PDF: "application/pdf",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

QUARTER_NAMES = "一二三四"

# The columns the bulletin shows, in order; labels, targets and formulas are models.kpis'.
BULLETIN_KEYS = [
    "items",
    "items_due",
    "items_completed",
    "items_overdue",
    "completion_rate",
    "on_time_rate",
    "problem_solved_rate",
    "long_term_mechanism_rate",
    "response_rate",
    "satisfaction_rate",
    "mean_score",
    "rebound_rate",
]
KPI_LABELS: dict[str, str] = {k: kpis.LABELS[k] for k in BULLETIN_KEYS}
RATE_KEYS = kpis.RATE_KEYS
COMPLETION_TARGET = kpis.target("completion_rate")


# --- periods -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """A calendar month or quarter in local time; `end` is its last day (inclusive)."""

    kind: BulletinKind
    start: dt.date
    end: dt.date

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
        return f"{self.label}整改工作{self.kind.label}"

    @property
    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) as UTC instants: local midnight of the first day and of the day after."""
        tz = get_settings().tz
        start = dt.datetime.combine(self.start, dt.time(), tzinfo=tz)
        end = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), tzinfo=tz)
        return start.astimezone(dt.UTC), end.astimezone(dt.UTC)

    @property
    def window(self) -> kpis.Window:
        return kpis.Window.between(*self.bounds)

    def months(self) -> list[Period]:
        """The months of the period side by side (one for a monthly period)."""
        if self.kind is BulletinKind.MONTHLY:
            return [self]
        return [month_of(self.start.replace(month=self.start.month + i)) for i in range(3)]


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


# --- KPIs in grouped SQL (the formulas are models.kpis') ------------------------------------


def overdue_condition(period: Period) -> Any:
    """Overdue at the end of the period (期末逾期)."""
    return kpis.COUNTS["items_overdue"].condition(period.window)


def _rows(
    items: dict[Any, dict[str, Any]], ratings: dict[Any, dict[str, Any]]
) -> dict[Any, dict[str, Any]]:
    """Join item and rating counts per group; a group missing from one side gets zeros."""
    rows: dict[Any, dict[str, Any]] = {}
    for key, counts in items.items():
        rows[key] = {**kpis.zero(), **counts}
    for key, counts in ratings.items():
        rows.setdefault(key, kpis.zero()).update(counts)
    return rows


def department_kpis(session: Session, period: Period) -> list[dict[str, Any]]:
    """Per lead department: two grouped queries (items, ratings of their items)."""
    it = RectificationItem
    w = period.window
    rows = _rows(
        kpis.item_counts(session, w, it.lead_department_id),
        kpis.rating_counts(session, w, it.lead_department_id, by_item=True),
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
    """Per topic: two grouped queries (items, all ratings of the topic)."""
    w = period.window
    rows = _rows(
        kpis.item_counts(session, w, RectificationItem.topic_id),
        kpis.rating_counts(session, w, Rating.topic_id),
    )
    titles = dict(session.exec(select(Topic.id, Topic.title).where(Topic.id.in_(list(rows)))).all())  # type: ignore[union-attr]
    result = [
        {"topic_id": t, "topic": titles.get(t, str(t)), **kpis.with_rates(row)}
        for t, row in rows.items()
    ]
    return sorted(result, key=lambda r: r["topic_id"])


def overall_kpis(session: Session, period: Period) -> dict[str, Any]:
    w = period.window
    return kpis.with_rates(
        {**kpis.item_counts(session, w)[None], **kpis.rating_counts(session, w)[None]}
    )


def overdue_items(session: Session, period: Period, *, limit: int) -> tuple[int, list[dict]]:
    """Items overdue at the end of the period, longest overdue first (at most `limit`), each
    with its level (正常 / 即将到期 / 预警 / 督办) as its ladder stood at the end of the period."""
    it = RectificationItem
    where = [it.status != ItemStatus.DECLINED, overdue_condition(period)]
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
                "days_overdue": (period.end - local).days,
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


def rank(rows: list[dict[str, Any]], *, min_due: int, size: int) -> dict[str, Any]:
    """红黑榜. Only departments with at least `min_due` items due are ranked, so one lucky item
    cannot top the list. 红榜 takes the best, 黑榜 the worst (worst first); with few ranked
    departments each list takes at most half, so no department is on both."""
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
    n = len(ranked)
    red = ranked[: min(size, (n + 1) // 2)]
    black = list(reversed(ranked))[: min(size, n // 2)]
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
        "ranked": ranked,
        "red": red,
        "black": black,
        "unranked": unranked,
    }


# --- the whole bulletin --------------------------------------------------------------------


def compute(session: Session, period: Period, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Everything a bulletin shows, as JSON-ready data (also stored as the row's summary)."""
    settings = get_settings()
    departments = department_kpis(session, period)
    ranking = rank(
        departments, min_due=settings.bulletin_min_items_due, size=settings.bulletin_ranking_size
    )
    order = {r["department_id"]: r["rank"] for r in ranking["ranked"]}
    departments.sort(key=lambda r: (order.get(r["department_id"], len(order) + 1),))
    total, overdue = overdue_items(session, period, limit=settings.bulletin_overdue_limit)
    data: dict[str, Any] = {
        "kind": period.kind.value,
        "period": period.key,
        "label": period.label,
        "title": period.title,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "generated_at": (now or utcnow()).astimezone(settings.tz).isoformat(timespec="seconds"),
        "overall": overall_kpis(session, period),
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
    """The quarter's three months side by side, per department and per topic (季评估)."""
    months = quarter.months()
    per_dept: dict[int, dict[str, Any]] = {}
    per_topic: dict[int, dict[str, Any]] = {}
    blank = dict.fromkeys(TREND_KEYS)
    for i, month in enumerate(months):
        for row in department_kpis(session, month):
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
    for month in months:
        o = overall_kpis(session, month)
        overall.append({k: o[k] for k in TREND_KEYS})
    return {
        "months": [f"{m.start.month}月" for m in months],
        "overall": overall,
        "departments": sorted(
            per_dept.values(), key=lambda r: (r["department"], r["department_id"])
        ),
        "topics": sorted(per_topic.values(), key=lambda r: r["topic_id"]),
    }


# --- files, the row and the announcement ---------------------------------------------------


def file_stem(period: Period) -> str:
    """Relative location of a period's files under the reports directory (ASCII on disk)."""
    return f"{period.kind.value}/{period.key}/{period.kind.value}-{period.key}"


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
    kind = BulletinKind(bulletin.kind)
    return period_of(kind, bulletin.period_start)


def download_name(bulletin: Bulletin, fmt: FileFormat) -> str:
    return f"{period_of_row(bulletin).title}.{fmt.value}"


def public_base_url() -> str:
    s = get_settings()
    return (s.public_url or f"http://{s.api_host}:{s.api_port}").rstrip("/")


def file_links(bulletin_id: int) -> dict[str, str]:
    base = public_base_url()
    return {f.value: f"{base}/bulletins/{bulletin_id}/files/{f.value}" for f in FileFormat}


def record(
    session: Session, period: Period, *, files: dict[str, Any], summary: dict[str, Any]
) -> Bulletin:
    """Upsert the period's row and stage the announcement, in the caller's transaction.
    A rerun replaces the files and numbers; the announcement goes out once per period."""
    row = session.exec(
        select(Bulletin)
        .where(Bulletin.kind == period.kind.value, Bulletin.period_start == period.start)
        .with_for_update()
    ).first()
    if row is None:
        row = Bulletin(kind=period.kind.value, period_start=period.start, period_end=period.end)
        session.add(row)
    row.period_end = period.end
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
        bulletin_id=row.id,
    )
    return row


def announce(session: Session, bulletin: Bulletin, period: Period, summary: dict) -> None:
    """One message per leadership role, keyed by the period so a rerun does not repeat it."""
    overall = summary["overall"]
    ranking = summary["ranking"]
    queue(
        session,
        event_key=f"bulletin:{period.kind.value}:{period.key}",
        recipients=[role_tag(Role.APPROVER), role_tag(Role.ADMINISTRATOR)],
        template="bulletin",
        topic_id=None,
        title=period.title,
        kind_label=period.kind.label,
        period_label=period.label,
        start=period.start.isoformat(),
        end=period.end.isoformat(),
        items_due=overall["items_due"],
        items_completed=overall["items_completed"],
        completion=pct(overall["completion_rate"]),
        on_time=pct(overall["on_time_rate"]),
        satisfaction=pct(overall["satisfaction_rate"]),
        labels=kpis.LABELS,
        overdue=summary["overdue"]["total"],
        red=[r["department"] for r in ranking["red"]],
        black=[r["department"] for r in ranking["black"]],
        min_items_due=ranking["min_items_due"],
        links=file_links(bulletin.id),  # type: ignore[arg-type]
    )


def list_bulletins(
    session: Session, *, kind: BulletinKind | None = None, limit: int = 50, offset: int = 0
) -> Listing[Bulletin]:
    stmt = select(Bulletin)
    if kind is not None:
        stmt = stmt.where(Bulletin.kind == kind.value)
    order = (Bulletin.period_start.desc(), Bulletin.kind)  # type: ignore[attr-defined]
    return listing(session, stmt, order_by=order, limit=limit, offset=offset)


class BulletinPublic(BaseModel):
    """A bulletin as the API shows it: the period, download links and the summary numbers."""

    id: int
    kind: BulletinKind
    title: str
    period: str
    period_start: dt.date
    period_end: dt.date
    generated_at: dt.datetime
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
        "generated_at": bulletin.generated_at,
        "files": {f: links[f] for f in (bulletin.files or {}) if f in links},
        "overall": summary.get("overall", {}),
        "ranking": summary.get("ranking", {}),
        "overdue_total": summary.get("overdue", {}).get("total", 0),
    }
    if detail:
        return BulletinDetail(**data, summary=summary)
    return BulletinPublic(**data)
