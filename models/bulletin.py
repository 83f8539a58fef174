"""月通报 / 季评估: a period's KPIs per department and per topic, the ranking (红黑榜), the
overdue list, and the Bulletin row with its announcement to leadership.

Which items count for a period [start, end) (local Asia/Shanghai days, end exclusive):

* an item is *open in the period* when it had been transferred before the period ended and
  was not completed before it began (transferred_at < end, completed_at is null or >= start).
  Items currently declined (退回待改派) belong to no department and are left out.
* *due* (应办结): open in the period and either its deadline fell before the period ended or it
  was completed during the period. An overdue item therefore counts again each month until
  it is done: that is what a bulletin is for.
* *completed* (已办结): open in the period and completed during it; *on time* when
  completed_at <= deadline; *solved* / *long-term* as the officer and the re-check recorded.
* *overdue at the end* (期末逾期): open in the period, deadline before the end, not completed
  before the end.
* response rate counts the items transferred during the period; rebound rate the items
  re-checked (回头看) during it; satisfaction the ratings given during it (a department: the
  ratings of its items; a topic: all of the topic's ratings).

The rates follow DOMAIN.md and models.assessment.kpis: completion = completed / due,
on-time = on time / completed, solved = solved / due (the period's analogue of "items": an item
not yet due cannot have been solved), long-term = long-term / completed, response = acknowledged
by the acknowledgement deadline / transferred, rebound = rebound / re-checked, satisfaction =
satisfied ratings / ratings (and the mean score).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, select

from config.settings import get_settings
from models.base import utcnow
from models.case import audit, queue, role_tag
from models.enums import ItemStatus, Role
from models.errors import Invalid
from models.tables import Bulletin, Department, Person, Rating, RectificationItem, Topic


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

# Column labels shared by the HTML, PDF and XLSX renderings and the artifact.
KPI_LABELS: dict[str, str] = {
    "items": "在办事项",
    "items_due": "应办结",
    "items_completed": "已办结",
    "items_overdue": "期末逾期",
    "completion_rate": "整改完成率",
    "on_time_rate": "按时完成率",
    "problem_solved_rate": "问题解决率",
    "long_term_mechanism_rate": "长效化率",
    "response_rate": "响应率",
    "satisfaction_rate": "群众满意度",
    "mean_score": "平均评分",
    "rebound_rate": "反弹率",
}
RATE_KEYS = [k for k in KPI_LABELS if k.endswith("_rate")]
COMPLETION_TARGET = 0.8  # DOMAIN.md: 80% within three months


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


# --- KPIs in grouped SQL -----------------------------------------------------------------

_COUNT_KEYS = [
    "items",
    "items_due",
    "items_completed",
    "items_on_time",
    "items_solved",
    "items_long_term",
    "items_overdue",
    "items_transferred",
    "items_acknowledged_on_time",
    "items_rechecked",
    "items_rebound",
]


def _conditions(period: Period) -> dict[str, Any]:
    """The period's item conditions (see the module docstring), as SQL expressions."""
    start, end = period.bounds
    it = RectificationItem
    open_in = and_(
        it.transferred_at < end,  # type: ignore[arg-type, operator]
        or_(it.completed_at.is_(None), it.completed_at >= start),  # type: ignore[arg-type, operator, union-attr]
    )
    done = and_(open_in, it.status == ItemStatus.COMPLETED, it.completed_at < end)  # type: ignore[arg-type, operator]
    transferred = and_(it.transferred_at >= start, it.transferred_at < end)  # type: ignore[arg-type, operator]
    rechecked = and_(it.rechecked_at >= start, it.rechecked_at < end)  # type: ignore[arg-type, operator]
    return {
        "items": open_in,
        "items_due": and_(open_in, or_(it.deadline < end, done)),  # type: ignore[arg-type]
        "items_completed": done,
        "items_on_time": and_(done, it.completed_at <= it.deadline),  # type: ignore[arg-type, operator]
        "items_solved": and_(done, it.solved.is_(True)),  # type: ignore[union-attr]
        "items_long_term": and_(done, it.long_term_mechanism.is_(True)),  # type: ignore[union-attr]
        "items_overdue": overdue_condition(period),
        "items_transferred": transferred,
        "items_acknowledged_on_time": and_(
            transferred,
            it.acknowledged_at.is_not(None),  # type: ignore[union-attr]
            it.acknowledged_at <= it.ack_due_at,  # type: ignore[arg-type, operator]
        ),
        "items_rechecked": rechecked,
        "items_rebound": and_(rechecked, it.rebound.is_(True)),  # type: ignore[union-attr]
        "_any": or_(open_in, transferred, rechecked),
    }


def overdue_condition(period: Period) -> Any:
    """Overdue at the end of the period (期末逾期)."""
    end = period.bounds[1]
    it = RectificationItem
    return and_(
        it.transferred_at < end,  # type: ignore[arg-type, operator]
        it.deadline < end,  # type: ignore[arg-type]
        or_(it.completed_at.is_(None), it.completed_at >= end),  # type: ignore[arg-type, operator, union-attr]
    )


def _count(cond: Any, label: str) -> Any:
    return func.coalesce(func.sum(case((cond, 1), else_=0)), 0).label(label)


def _item_counts(session: Session, period: Period, *keys: Any) -> list[Any]:
    """One aggregate query over the period's items, grouped by `keys` (none: the total)."""
    cond = _conditions(period)
    stmt = select(*keys, *(_count(cond[k], k) for k in _COUNT_KEYS)).where(
        RectificationItem.status != ItemStatus.DECLINED, cond["_any"]
    )
    if keys:
        stmt = stmt.group_by(*keys)
    return list(session.exec(stmt).all())


def _rating_cols() -> list[Any]:
    return [
        func.count(Rating.id).label("ratings"),  # type: ignore[arg-type]
        _count(Rating.satisfied.is_(True), "ratings_satisfied"),  # type: ignore[attr-defined]
        func.avg(Rating.score).label("mean"),
    ]


def _rating_window(period: Period) -> Any:
    start, end = period.bounds
    return and_(Rating.created_at >= start, Rating.created_at < end)  # type: ignore[arg-type]


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def with_rates(counts: dict[str, Any]) -> dict[str, Any]:
    """Add the rates to a row of counts (the same formulas for departments, topics, total)."""
    c = counts
    mean = c.pop("mean", None)
    c.setdefault("ratings", 0)
    c.setdefault("ratings_satisfied", 0)
    c["completion_rate"] = _rate(c["items_completed"], c["items_due"])
    c["on_time_rate"] = _rate(c["items_on_time"], c["items_completed"])
    c["problem_solved_rate"] = _rate(c["items_solved"], c["items_due"])
    c["long_term_mechanism_rate"] = _rate(c["items_long_term"], c["items_completed"])
    c["response_rate"] = _rate(c["items_acknowledged_on_time"], c["items_transferred"])
    c["rebound_rate"] = _rate(c["items_rebound"], c["items_rechecked"])
    c["satisfaction_rate"] = _rate(c["ratings_satisfied"], c["ratings"])
    c["mean_score"] = round(float(mean), 2) if mean is not None else None
    return c


def _zero() -> dict[str, Any]:
    return dict.fromkeys(_COUNT_KEYS, 0)


def department_kpis(session: Session, period: Period) -> list[dict[str, Any]]:
    """Per lead department: two grouped queries (items, ratings of their items)."""
    it = RectificationItem
    rows: dict[int, dict[str, Any]] = {}
    for r in _item_counts(session, period, it.lead_department_id):
        rows[r[0]] = {k: int(r._mapping[k]) for k in _COUNT_KEYS}
    ratings = session.exec(
        select(it.lead_department_id, *_rating_cols())
        .select_from(Rating)
        .join(it, it.id == Rating.item_id)
        .where(_rating_window(period))
        .group_by(it.lead_department_id)
    ).all()
    for dept_id, n, sat, mean in ratings:
        row = rows.setdefault(dept_id, _zero())
        row.update(ratings=int(n), ratings_satisfied=int(sat), mean=mean)
    names = dict(
        session.exec(
            select(Department.id, Department.name).where(Department.id.in_(list(rows)))  # type: ignore[union-attr]
        ).all()
    )
    result = [
        {"department_id": d, "department": names.get(d, str(d)), **with_rates(row)}
        for d, row in rows.items()
    ]
    return sorted(result, key=lambda r: (r["department"], r["department_id"]))


def topic_kpis(session: Session, period: Period) -> list[dict[str, Any]]:
    """Per topic: two grouped queries (items, all ratings of the topic)."""
    rows: dict[int, dict[str, Any]] = {}
    for r in _item_counts(session, period, RectificationItem.topic_id):
        rows[r[0]] = {k: int(r._mapping[k]) for k in _COUNT_KEYS}
    ratings = session.exec(
        select(Rating.topic_id, *_rating_cols())
        .where(_rating_window(period))
        .group_by(Rating.topic_id)
    ).all()
    for topic_id, n, sat, mean in ratings:
        row = rows.setdefault(topic_id, _zero())
        row.update(ratings=int(n), ratings_satisfied=int(sat), mean=mean)
    titles = dict(session.exec(select(Topic.id, Topic.title).where(Topic.id.in_(list(rows)))).all())  # type: ignore[union-attr]
    result = [
        {"topic_id": t, "topic": titles.get(t, str(t)), **with_rates(row)}
        for t, row in rows.items()
    ]
    return sorted(result, key=lambda r: r["topic_id"])


def overall_kpis(session: Session, period: Period) -> dict[str, Any]:
    r = _item_counts(session, period)[0]
    row = {k: int(r._mapping[k] or 0) for k in _COUNT_KEYS}
    n, sat, mean = session.exec(select(*_rating_cols()).where(_rating_window(period))).one()
    row.update(ratings=int(n or 0), ratings_satisfied=int(sat or 0), mean=mean)
    return with_rates(row)


def overdue_items(session: Session, period: Period, *, limit: int) -> tuple[int, list[dict]]:
    """Items overdue at the end of the period, longest overdue first (at most `limit`)."""
    it = RectificationItem
    where = [it.status != ItemStatus.DECLINED, overdue_condition(period)]
    total = session.exec(select(func.count()).select_from(it).where(*where)).one()
    rows = session.exec(
        select(  # type: ignore[call-overload]
            it.id,
            it.title,
            it.deadline,
            it.completed_at,
            it.warning_level,
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
                "warning_level": level,
            }
        )
    return int(total), items


# --- ranking -------------------------------------------------------------------------------


def _score(row: dict[str, Any]) -> tuple:
    """Best first: completion, then on-time, fewer overdue, more items due; the name and id
    break any remaining tie, so the order never depends on the database."""
    completion = Fraction(row["items_completed"], row["items_due"]) if row["items_due"] else 0
    on_time = (
        Fraction(row["items_on_time"], row["items_completed"]) if row["items_completed"] else 0
    )
    return (
        -completion,
        -on_time,
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


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


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
        overdue=summary["overdue"]["total"],
        red=[r["department"] for r in ranking["red"]],
        black=[r["department"] for r in ranking["black"]],
        min_items_due=ranking["min_items_due"],
        links=file_links(bulletin.id),  # type: ignore[arg-type]
    )


def list_bulletins(
    session: Session, *, kind: BulletinKind | None = None, limit: int = 50, offset: int = 0
) -> list[Bulletin]:
    stmt = select(Bulletin)
    if kind is not None:
        stmt = stmt.where(Bulletin.kind == kind.value)
    stmt = stmt.order_by(Bulletin.period_start.desc(), Bulletin.kind).offset(offset).limit(limit)  # type: ignore[attr-defined]
    return list(session.exec(stmt).all())


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
