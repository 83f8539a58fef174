"""The KPI dashboard (指标看板) and the records behind each number (指标明细).

Nothing here says what a count means: every record list is the count's own condition from
models.kpis (COUNTS) over the rows of its source (kpis.base), in the same scope the
aggregates group by (kpis.TOPIC_OF / DEPARTMENT_OF). So the records listed behind a KPI's
numerator or denominator are exactly the ones compute() counted, one SELECT per page (a
derived count is one UNION ALL of its parts) plus one count.

A period is a month (2026-10), a quarter (2026Q4), a year (2026), everything up to the end
of a day (2026-10-31), or, when none is named, everything up to now (截至目前).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlalchemy import func, literal, null, union_all
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from config.settings import get_settings
from models import bulletin, kpis
from models.base import PAGE_SIZE, page_count, utcnow
from models.chain import ADOPTION_LABELS
from models.deadlines import format_local
from models.enums import DECLINE_CODE_LABELS, Adoption, DeclineCode, ItemStatus
from models.errors import Invalid, NotFound
from models.kpis import COUNTS, KPIS, Source, Window
from models.rectification import ITEM_STATUS_LABELS
from models.tables import (
    Department,
    Evaluation,
    FollowUp,
    ItemBounce,
    Person,
    Rating,
    RectificationItem,
    Suggestion,
    Topic,
)

NOW_LABEL = "截至目前"
PERIOD_HINT = "期间格式应为 2026（年）、2026Q4（季度）、2026-10（月）或 2026-10-31（截至该日）"

# --- periods -------------------------------------------------------------------------------


@dataclass(frozen=True)
class KpiPeriod:
    """A named span of local days as a kpis.Window; key "" is everything up to now."""

    key: str
    label: str
    window: Window


_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=get_settings().tz).astimezone(dt.UTC)


def parse_period(text: str | None, *, now: dt.datetime | None = None) -> KpiPeriod:
    """The period a person names; a name that is none of the forms is refused (422)."""
    text = (text or "").strip()
    if not text:
        return KpiPeriod("", NOW_LABEL, Window.as_of(now or utcnow()))
    if m := _YEAR.match(text):
        year = int(m[1])
        if not 1900 < year < 9999:
            raise Invalid(PERIOD_HINT, field="period")
        window = Window.between(_midnight(dt.date(year, 1, 1)), _midnight(dt.date(year + 1, 1, 1)))
        return KpiPeriod(text, f"{year}年", window)
    if _DAY.match(text):
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            raise Invalid(PERIOD_HINT, field="period") from None
        label = f"截至{day.year}年{day.month}月{day.day}日"
        return KpiPeriod(text, label, Window.as_of(_midnight(day + dt.timedelta(days=1))))
    kind = bulletin.BulletinKind.QUARTERLY if "q" in text.lower() else bulletin.BulletinKind.MONTHLY
    try:
        p = bulletin.parse_period(kind, text)
    except Invalid:
        raise Invalid(PERIOD_HINT, field="period") from None
    return KpiPeriod(p.key, p.label, p.window)


def period_choices(now: dt.datetime | None = None) -> list[tuple[str, str]]:
    """What the period chooser offers: up to now, this and last year, four quarters, six months."""
    today = (now or utcnow()).astimezone(get_settings().tz).date()
    out = [("", NOW_LABEL), (str(today.year), f"{today.year}年")]
    out.append((str(today.year - 1), f"{today.year - 1}年"))
    q = bulletin.quarter_of(today)
    for _ in range(4):
        out.append((q.key, q.label))
        q = bulletin.quarter_of(q.start - dt.timedelta(days=1))
    m = bulletin.month_of(today)
    for _ in range(6):
        out.append((m.key, m.label))
        m = bulletin.month_of(m.start - dt.timedelta(days=1))
    return out


# --- scope ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """All topics, one topic, or one department (a department across all topics)."""

    topic_id: int | None = None
    department_id: int | None = None

    def where(self, source: Source) -> list[Any]:
        out = []
        if self.topic_id is not None:
            out.append(kpis.TOPIC_OF[source] == self.topic_id)
        if self.department_id is not None:
            if source not in kpis.DEPARTMENT_OF:
                raise Invalid(
                    f"{KIND_LABELS[source]}不属于任何单位，不能按单位统计", field="department_id"
                )
            out.append(kpis.DEPARTMENT_OF[source] == self.department_id)
        return out


# --- the records behind a count -------------------------------------------------------------

_it = RectificationItem
_ts = _it.__table__.c.deadline.type  # type: ignore[attr-defined]
_TYPES: dict[str, Any] = {
    "kind": sa.String(),
    "record_id": sa.Integer(),
    "item_id": sa.Integer(),
    "item_title": sa.String(),
    "topic_id": sa.Integer(),
    "topic_title": sa.String(),
    "department_id": sa.Integer(),
    "department": sa.String(),
    "status": sa.String(),
    "deadline": _ts,
    "original_deadline": _ts,
    "transferred_at": _ts,
    "ack_due_at": _ts,
    "acknowledged_at": _ts,
    "completed_at": _ts,
    "rechecked_at": _ts,
    "solved": sa.Boolean(),
    "long_term": sa.Boolean(),
    "rebound": sa.Boolean(),
    "extensions": sa.Integer(),
    "at": _ts,
    "score": sa.Integer(),
    "satisfied": sa.Boolean(),
    "adoption": sa.String(),
    "text": sa.String(),
    "code": sa.String(),
}
_ItemDept = aliased(Department)


def _item_facts() -> dict[str, Any]:
    return {
        "item_id": _it.id,
        "item_title": _it.title,
        "topic_id": _it.topic_id,
        "topic_title": Topic.title,
        "status": sa.cast(_it.status, sa.String()),
        "deadline": _it.deadline,
        "original_deadline": func.coalesce(_it.original_deadline, _it.deadline),
        "transferred_at": _it.transferred_at,
        "ack_due_at": _it.ack_due_at,
        "acknowledged_at": _it.acknowledged_at,
        "completed_at": _it.completed_at,
        "rechecked_at": _it.rechecked_at,
        "solved": _it.solved,
        "long_term": _it.long_term_mechanism,
        "rebound": _it.rebound,
    }


def _columns(kind: Source, given: dict[str, Any]) -> list[Any]:
    """Every branch has the same columns in the same order (a typed NULL where a source has
    none), so any count, a derived one too, is one SELECT."""
    given = {"kind": literal(kind.value, sa.String()), **given}
    return [
        (given[name] if name in given else sa.cast(null(), typ)).label(name)
        for name, typ in _TYPES.items()
    ]


def _records_of(key: str, window: Window, scope: Scope) -> Any:
    """One SELECT of the records a (non-derived) count takes."""
    count = COUNTS[key]
    source = count.source
    cond = [*kpis.base(source, window), count.condition(window), *scope.where(source)]
    if source is Source.ITEM:
        cols = {
            "record_id": _it.id,
            **_item_facts(),
            "department_id": _it.lead_department_id,
            "department": Department.name,
            "at": _it.transferred_at,
        }
        if count.value is not None:
            value = count.value(window)
            cols["extensions"] = value
            cond.append(value > 0)  # an item that adds nothing to the count is not behind it
        return (
            select(*_columns(source, cols))
            .select_from(_it)
            .join(Topic, Topic.id == _it.topic_id)
            .join(Department, Department.id == _it.lead_department_id)
            .where(*cond)
        )
    if source is Source.BOUNCE:
        cols = {
            "record_id": ItemBounce.id,
            **_item_facts(),
            "department_id": ItemBounce.department_id,
            "department": Department.name,
            "at": ItemBounce.at,
            "text": ItemBounce.reason,
            "code": sa.cast(ItemBounce.code, sa.String()),
        }
        return (
            select(*_columns(source, cols))
            .select_from(ItemBounce)
            .join(_it, _it.id == ItemBounce.item_id)
            .join(Topic, Topic.id == _it.topic_id)
            .join(Department, Department.id == ItemBounce.department_id)
            .where(*cond)
        )
    if source is Source.RATING:
        cols = {
            "record_id": Rating.id,
            "item_id": Rating.item_id,
            "item_title": _it.title,
            "topic_id": Rating.topic_id,
            "topic_title": Topic.title,
            "department_id": _it.lead_department_id,
            "department": _ItemDept.name,
            "at": Rating.created_at,
            "score": Rating.score,
            "satisfied": Rating.satisfied,
            "text": Rating.comment,
        }
        stmt = select(*_columns(source, cols)).select_from(Rating)
        # The department scope counts only ratings of an item (as the bulletin's rating_counts
        # joins the item); otherwise a rating of the topic itself counts too.
        join = stmt.join if scope.department_id is not None else stmt.outerjoin
        stmt = join(_it, _it.id == Rating.item_id)
        return (
            stmt.outerjoin(_ItemDept, _ItemDept.id == _it.lead_department_id)
            .join(Topic, Topic.id == Rating.topic_id)
            .where(*cond)
        )
    if source is Source.RATING_REQUEST:
        answered = kpis.COUNTS["rating_requests_answered"].condition(window)
        cols = {
            "record_id": FollowUp.id,
            "topic_id": FollowUp.topic_id,
            "topic_title": Topic.title,
            "at": FollowUp.created_at,
            "text": Person.name,  # who was asked
            "code": sa.case((answered, "answered"), else_="waiting"),
        }
        return (
            select(*_columns(source, cols))
            .select_from(FollowUp)
            .join(Topic, Topic.id == FollowUp.topic_id)
            .outerjoin(Person, Person.id == FollowUp.owed_by_id)
            .where(*cond)
        )
    if source is Source.EVALUATION:
        cols = {
            "record_id": Evaluation.id,
            "topic_id": Evaluation.topic_id,
            "topic_title": Topic.title,
            "at": Evaluation.submitted_at,
            "score": Evaluation.overall,
            "text": Person.name,  # who evaluated
        }
        return (
            select(*_columns(source, cols))
            .select_from(Evaluation)
            .join(Topic, Topic.id == Evaluation.topic_id)
            .join(Person, Person.id == Evaluation.evaluator_id)
            .where(*cond)
        )
    cols = {
        "record_id": Suggestion.id,
        "topic_id": Suggestion.topic_id,
        "topic_title": Topic.title,
        "adoption": sa.cast(Suggestion.adoption, sa.String()),
        "text": Suggestion.content,
    }
    return (
        select(*_columns(source, cols))
        .select_from(Suggestion)
        .join(Topic, Topic.id == Suggestion.topic_id)
        .where(*cond)
    )


def records_statement(key: str, window: Window, scope: Scope) -> Any:
    """The records behind count `key` as one selectable (a derived count: its parts' union)."""
    count = COUNTS[key]
    if count.source is Source.DERIVED:
        return union_all(*(_records_of(part, window, scope) for part in count.parts))
    return _records_of(key, window, scope)


class KpiRecord(BaseModel):
    """One record behind a number, with what a person needs to recognise it."""

    kind: Source = Field(
        description="记录类别：item 整改事项、bounce 退回、rating 评价、suggestion 建议、"
        "rating_request 评价邀请、evaluation 第三方评估"
    )
    kind_label: str
    record_id: int
    item_id: int | None = None
    item_title: str | None = None
    topic_id: int
    topic_title: str
    department_id: int | None = None
    department: str | None = None
    status_label: str | None = None
    deadline: str | None = None
    original_deadline: str | None = None
    transferred_at: str | None = None
    acknowledged_at: str | None = None
    ack_due_at: str | None = None
    completed_at: str | None = None
    rechecked_at: str | None = None
    solved: bool | None = None
    long_term: bool | None = None
    rebound: bool | None = None
    extensions: int | None = None
    at: str | None = Field(default=None, description="评价、退回的时间（北京时间）")
    score: int | None = None
    satisfied: bool | None = None
    adoption_label: str | None = None
    text: str | None = Field(default=None, description="建议内容、退回理由或评价意见")
    code_label: str | None = None


KIND_LABELS = {
    Source.ITEM: "整改事项",
    Source.BOUNCE: "退回",
    Source.RATING: "评价",
    Source.SUGGESTION: "意见建议",
    Source.RATING_REQUEST: kpis.LABELS["rating_requests"],
    Source.EVALUATION: "第三方评估",
}


def _shown(when: dt.datetime | None) -> str | None:
    return None if when is None else format_local(when)


def _record(row: Any) -> KpiRecord:
    m = row._mapping
    kind = Source(m["kind"])
    return KpiRecord(
        kind=kind,
        kind_label=KIND_LABELS[kind],
        record_id=m["record_id"],
        item_id=m["item_id"],
        item_title=m["item_title"],
        topic_id=m["topic_id"],
        topic_title=m["topic_title"],
        department_id=m["department_id"],
        department=m["department"],
        status_label=ITEM_STATUS_LABELS[ItemStatus(m["status"])] if m["status"] else None,
        deadline=_shown(m["deadline"]),
        original_deadline=_shown(m["original_deadline"]),
        transferred_at=_shown(m["transferred_at"]),
        acknowledged_at=_shown(m["acknowledged_at"]),
        ack_due_at=_shown(m["ack_due_at"]),
        completed_at=_shown(m["completed_at"]),
        rechecked_at=_shown(m["rechecked_at"]),
        solved=m["solved"],
        long_term=m["long_term"],
        rebound=m["rebound"],
        extensions=m["extensions"],
        at=_shown(m["at"]) if kind in _DATED else None,
        score=m["score"],
        satisfied=m["satisfied"],
        adoption_label=ADOPTION_LABELS[Adoption(m["adoption"])] if m["adoption"] else None,
        text=m["text"],
        code_label=_code_label(kind, m["code"]),
    )


_DATED = (Source.RATING, Source.BOUNCE, Source.RATING_REQUEST, Source.EVALUATION)
_ANSWERS = {"answered": "已评价", "waiting": "未评价"}


def _code_label(kind: Source, code: str | None) -> str | None:
    """A return's coded reason, or whether the person asked to rate has rated."""
    if code is None:
        return None
    if kind is Source.RATING_REQUEST:
        return _ANSWERS[code]
    return DECLINE_CODE_LABELS[DeclineCode(code)]


class Part(BaseModel):
    key: str = Field(description="numerator 分子或 denominator 分母")
    label: str


PARTS = {"numerator": "分子", "denominator": "分母"}


class KpiRecords(BaseModel):
    """One page of the records behind a KPI's numerator or denominator."""

    kpi: str
    kpi_label: str
    part: str
    part_label: str
    count_key: str
    count_label: str
    period: str
    period_label: str
    topic_id: int | None
    topic_title: str | None
    department_id: int | None
    department: str | None
    count: int = Field(ge=0, description="该数字背后的记录总数")
    page: int
    pages: int
    data: list[KpiRecord]


def kpi_of(key: str) -> kpis.Kpi:
    if key not in KPIS:
        raise NotFound(f"指标 {key} 不存在")
    return KPIS[key]


def _names(session: Session, scope: Scope) -> tuple[str | None, str | None]:
    """The scope's topic title and department name (404 when either does not exist)."""
    topic = department = None
    if scope.topic_id is not None:
        topic = session.exec(select(Topic.title).where(Topic.id == scope.topic_id)).first()
        if topic is None:
            raise NotFound(f"议题 {scope.topic_id} 不存在")
    if scope.department_id is not None:
        department = session.exec(
            select(Department.name).where(Department.id == scope.department_id)
        ).first()
        if department is None:
            raise NotFound(f"单位 {scope.department_id} 不存在")
    return topic, department


def records(
    session: Session,
    key: str,
    part: str,
    period: KpiPeriod,
    scope: Scope = Scope(),
    *,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> KpiRecords:
    """The records behind KPI `key`'s numerator or denominator: one count, one page."""
    kpi = kpi_of(key)
    if part not in PARTS:
        raise Invalid("part 应为 numerator（分子）或 denominator（分母）", field="part")
    count_key = kpi.numerator if part == "numerator" else kpi.denominator
    topic, department = _names(session, scope)
    stmt = records_statement(count_key, period.window, scope).subquery()
    total = int(session.execute(select(func.count()).select_from(stmt)).scalar_one())
    rows = session.execute(
        select(stmt)
        .order_by(stmt.c.at.desc(), stmt.c.kind, stmt.c.record_id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    return KpiRecords(
        kpi=key,
        kpi_label=kpi.label,
        part=part,
        part_label=PARTS[part],
        count_key=count_key,
        count_label=kpis.LABELS[count_key],
        period=period.key,
        period_label=period.label,
        topic_id=scope.topic_id,
        topic_title=topic,
        department_id=scope.department_id,
        department=department,
        count=total,
        page=page,
        pages=page_count(total, page_size),
        data=[_record(r) for r in rows],
    )


def record_ids(
    session: Session, count_key: str, window: Window, scope: Scope = Scope()
) -> list[tuple[Source, int]]:
    """(kind, id) of every record behind a count, sorted: what a check compares."""
    stmt = records_statement(count_key, window, scope).subquery()
    rows = session.execute(select(stmt.c.kind, stmt.c.record_id)).all()
    return sorted((Source(k), i) for k, i in rows)


# --- the dashboard -------------------------------------------------------------------------


class KpiValue(BaseModel):
    """A KPI as the dashboard shows it: value, target, met or not, and its sample."""

    key: str
    label: str
    value: float | None = Field(
        description="比率（0–1，保留四位小数），以“分”计的指标为平均分（0–100）；分母为 0 时为空"
    )
    value_text: str
    bar: float | None = Field(description="条形图长度（0–1）：比率本身，或平均分占满分的比例")
    numerator: int
    numerator_label: str
    denominator: int = Field(description="样本量（分母）")
    denominator_label: str
    target: float | None
    target_text: str | None
    met: bool | None = Field(description="是否达标；无目标或无样本时为空")
    met_text: str


def met_text(met: bool | None, kpi: kpis.Kpi) -> str:
    if kpi.target is None:
        return "无目标值"
    if met is None:
        return "无样本"
    return "达标" if met else "未达标"


def kpi_values(counts: dict[str, Any], keys: list[str] | None = None) -> list[KpiValue]:
    out = []
    for key in keys or list(KPIS):
        kpi = KPIS[key]
        if kpi.numerator not in counts or kpi.denominator not in counts:
            continue
        met = kpi.meets(counts)
        out.append(
            KpiValue(
                key=key,
                label=kpi.label,
                value=kpi.rate(counts),
                value_text=kpis.shown(key, kpi.rate(counts)),
                bar=None if kpi.rate(counts) is None else (kpi.rate(counts) or 0) / kpi.full,
                numerator=counts[kpi.numerator],
                numerator_label=kpis.LABELS[kpi.numerator],
                denominator=counts[kpi.denominator],
                denominator_label=kpis.LABELS[kpi.denominator],
                target=kpi.target,
                target_text=kpi.target_text,
                met=met,
                met_text=met_text(met, kpi),
            )
        )
    return out


class DepartmentKpis(BaseModel):
    """One department's KPIs for the period, with its place in the ranking."""

    department_id: int
    department: str
    rank: int | None = Field(description="名次；应办结事项少于门槛的单位不排名（为空）")
    items_due: int = Field(description="排名的样本量：应办结事项数")
    kpis: list[KpiValue]


class DepartmentTable(BaseModel):
    period: str
    period_label: str
    min_items_due: int = Field(description="参与排名所需的最少应办结事项数")
    ranking_rule: str
    departments: list[DepartmentKpis]


def ranking_rule(min_due: int) -> str:
    """The bulletin's order (models.bulletin._score) as a person reads it."""
    rates = "、".join(kpis.LABELS[k] for k in ("completion_rate", "on_time_rate"))
    return (
        f"按{rates}从高到低，{kpis.LABELS['items_overdue']}少者在前，"
        f"{kpis.LABELS['items_due']}多者在前；{kpis.LABELS['items_due']}少于 {min_due} 项的单位"
        "样本不足，不排名"
    )


def department_table(session: Session, period: KpiPeriod) -> DepartmentTable:
    """Every department with items, ratings or returns in the period, ranked as the bulletin
    ranks (models.bulletin.rank), each rate beside its sample: three grouped queries."""
    settings = get_settings()
    rows = bulletin.department_rows(session, period.window)
    ranked = bulletin.rank(rows, min_due=settings.bulletin_min_items_due, size=len(rows) or 1)
    order = {r["department_id"]: r["rank"] for r in ranked["ranked"]}
    rows.sort(key=lambda r: (order.get(r["department_id"], len(order) + 1),))
    return DepartmentTable(
        period=period.key,
        period_label=period.label,
        min_items_due=settings.bulletin_min_items_due,
        ranking_rule=ranking_rule(settings.bulletin_min_items_due),
        departments=[
            DepartmentKpis(
                department_id=r["department_id"],
                department=r["department"],
                rank=order.get(r["department_id"]),
                items_due=r["items_due"],
                kpis=kpi_values(r),
            )
            for r in rows
        ],
    )


class Dashboard(BaseModel):
    """The dashboard: the period's KPIs for the scope and, for all topics, per department."""

    period: str
    period_label: str
    topic_id: int | None
    topic_title: str | None
    kpis: list[KpiValue]
    departments: DepartmentTable | None


def dashboard(session: Session, period: KpiPeriod, *, topic_id: int | None = None) -> Dashboard:
    """Four aggregate queries for the KPIs, three for the department table (all topics)."""
    topic, _ = _names(session, Scope(topic_id=topic_id))
    counts = kpis.compute(session, period.window, topic_id=topic_id)
    return Dashboard(
        period=period.key,
        period_label=period.label,
        topic_id=topic_id,
        topic_title=topic,
        kpis=kpi_values(counts),
        departments=department_table(session, period) if topic_id is None else None,
    )
