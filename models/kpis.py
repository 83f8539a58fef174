"""The KPIs of DOMAIN.md, each declared once: its label, target, numerator and denominator.

Every surface (topic page, the /kpis endpoint, the stored assessment, the monthly bulletin, the
quarterly trend, the CLI and the rendered files) takes its numbers and labels from here, so
the same records over the same window give the same rate everywhere. The records behind each
count (the dashboard's drill-down, models.kpi_board) are read with the same conditions over the
same rows (`base`) and scopes (`TOPIC_OF`, `DEPARTMENT_OF`).

A window is [start, end) in UTC; "as of a moment" is the window (-infinity, as_of). The
item conditions, for a window:

* *counted* (items): transferred before the end, not completed before the start, and not
  currently declined (退回待改派: it belongs to no department).
* *due* (应办结): counted, and its deadline fell before the end or it was completed in the
  window. An overdue item counts again in each period until it is done.
* *completed* (已办结): counted and completed before the end; *on time* when
  completed_at <= deadline; *long-term* as the officer recorded; *solved* when the officer
  recorded it solved and it was confirmed before the end: a 回头看 found the fix held, or a
  rating of that item was satisfied (issue 9: "solved" needs a confirmed re-check or rating).
* *overdue* (逾期未办结): deadline before the end and not completed before the end.
* *on-time base*: completed or overdue. An open item past its deadline is not on time, so
  it weighs on the on-time rate before it is completed (DOMAIN.md, ranking rules).
* *on time against the original deadline* (按原定期限): the same two counts with the deadline the
  item was transferred with (`original_deadline`, never moved by an extension) instead of the
  current one, so an extension cannot turn a late item into an on-time one unnoticed.
* *extensions approved* (获批延期): ledger lines (item_extension) approved in the window that
  moved a counted item's deadline later, the office's direct changes included.
* transferred / re-checked / rated: the event happened in the window.
* *bounces* (退回次数): returns (退单, item_bounce rows) made in the window, counted for the
  department that returned the item — not the item's lead department, which after a
  reassignment is another one. *transfers* (转交次数) is what a department received: the items
  it holds that were transferred in the window plus the ones it returned, so the bounce rate
  of a department that returned everything is 100 %, not a division by nothing.

Suggestions carry no decision time, so every decided suggestion counts in every window.

Where these differ from DOMAIN.md's table, on purpose:

* problem-solved rate is solved / *due*, not solved / all items: an item not yet due cannot
  have been verified solved, and counting it would make a young topic look unsolved;
* on-time rate's base adds open overdue items (above) to the completed ones;
* adoption rate is adopted / *decided*: a suggestion still pending (待定) is neither;
* public reach (民意收集覆盖率、平台活跃用户占比) is not computed yet: the case file records
  neither the targeted groups nor the population. It is absent, not shown as zero;
* bounce rate (退回率, issue 9: bounces are a KPI) is not in DOMAIN.md's table and has no
  target there: lower is better, none is named;
* the third-party score (第三方评估得分, DOMAIN.md stage 8 "third-party scores") is a mean, not
  a rate: the overall scores (out of 100, models.rubric) of the evaluations submitted in the
  window over their number, each evaluation weighing the same (a topic with one evaluator, the
  usual case, weighs as its score). Shown in 分; DOMAIN.md names no target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, case, func, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlmodel import Session, select

from config.settings import get_settings
from models.enums import Adoption, ExtensionDecision, ItemStatus, Obligation
from models.rubric import FULL_MARKS
from models.tables import (
    Evaluation,
    FollowUp,
    ItemBounce,
    ItemExtension,
    Rating,
    RectificationItem,
    Suggestion,
)

# --- windows -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """[start, end) as UTC instants; start None means -infinity (an "as of" window)."""

    start: dt.datetime | None
    end: dt.datetime

    @classmethod
    def as_of(cls, moment: dt.datetime) -> Window:
        """Everything up to `moment`; a naive moment is local time, as people write it."""
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=get_settings().tz)
        return cls(None, moment)

    @classmethod
    def between(cls, start: dt.datetime, end: dt.datetime) -> Window:
        return cls(start, end)

    def before_end(self, col: Any) -> ColumnElement[bool]:
        return col < self.end

    def not_before_start(self, col: Any) -> ColumnElement[bool]:
        """NULL or at/after the start: "had not yet happened when the window opened"."""
        if self.start is None:
            return true()
        return or_(col.is_(None), col >= self.start)

    def contains(self, col: Any) -> ColumnElement[bool]:
        if self.start is None:
            return col < self.end
        return and_(col >= self.start, col < self.end)


# --- counts --------------------------------------------------------------------------------


class Source(StrEnum):
    ITEM = "item"
    SUGGESTION = "suggestion"
    RATING = "rating"
    BOUNCE = "bounce"  # item_bounce rows, by the department that returned the item
    # Who was asked to rate (a follow_up row of the rating obligation: one per person and topic)
    RATING_REQUEST = "rating_request"
    EVALUATION = "evaluation"  # submitted third-party evaluations (evaluation rows)
    DERIVED = "derived"  # the sum of other counts (`parts`), once they are all known


Condition = Callable[[Window], ColumnElement[bool]]


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    source: Source
    condition: Condition
    parts: tuple[str, ...] = ()  # a derived count: the sum of these
    # What a matching item adds to the count (None: 1), e.g. how many extensions it was granted.
    value: Callable[[Window], Any] | None = None


_it = RectificationItem


def _counted(w: Window) -> ColumnElement[bool]:
    return and_(w.before_end(_it.transferred_at), w.not_before_start(_it.completed_at))


def _completed(w: Window) -> ColumnElement[bool]:
    return and_(_counted(w), _it.status == ItemStatus.COMPLETED, w.before_end(_it.completed_at))  # type: ignore[arg-type]


def _overdue(w: Window) -> ColumnElement[bool]:
    return and_(
        w.before_end(_it.transferred_at),
        w.before_end(_it.deadline),
        or_(_it.completed_at.is_(None), _it.completed_at >= w.end),  # type: ignore[arg-type, operator, union-attr]
    )


def _original_deadline() -> Any:
    """The deadline the item was transferred with (rows from before the column: the current)."""
    return func.coalesce(_it.original_deadline, _it.deadline)


def _overdue_original(w: Window) -> ColumnElement[bool]:
    return and_(
        w.before_end(_it.transferred_at),
        w.before_end(_original_deadline()),
        or_(_it.completed_at.is_(None), _it.completed_at >= w.end),  # type: ignore[arg-type, operator, union-attr]
    )


def _extensions_approved(w: Window) -> Any:
    """How many ledger lines approved in the window moved this item's deadline later. The
    count is correlated to the item, but asked only of items in the (small) set that has
    such a line: an uncorrelated `IN`, hashed once, instead of a subquery per item (1M of
    them cost PostgreSQL more than the scan)."""
    line = ItemExtension
    approved = (
        line.decision == ExtensionDecision.APPROVED,  # type: ignore[arg-type]
        line.requested_deadline > line.old_deadline,  # type: ignore[arg-type, operator]
        w.contains(line.decided_at),
    )
    count = (
        select(func.count(line.id))  # type: ignore[arg-type]
        .where(line.item_id == _it.id, *approved)  # type: ignore[arg-type]
        .correlate(_it)
        .scalar_subquery()
    )
    extended = _it.id.in_(select(line.item_id).where(*approved))  # type: ignore[union-attr]
    return case((extended, count), else_=0)


def _solved(w: Window) -> ColumnElement[bool]:
    """Completed, recorded solved, and confirmed by the time the window ends: a 回头看 found the
    fix held, or a rating of this item was satisfied. The officer's word alone is not enough."""
    held = and_(w.before_end(_it.rechecked_at), _it.rebound.is_(False))  # type: ignore[union-attr]
    # The items rated satisfied, as one uncorrelated set (hashed once) rather than a
    # subquery per item.
    rated = _it.id.in_(  # type: ignore[union-attr]
        select(Rating.item_id).where(
            Rating.item_id.is_not(None),  # type: ignore[union-attr]
            Rating.satisfied.is_(True),  # type: ignore[attr-defined]
            w.before_end(Rating.created_at),
        )
    )
    return and_(_completed(w), _it.solved.is_(True), or_(held, rated))  # type: ignore[union-attr]


def _transferred(w: Window) -> ColumnElement[bool]:
    return w.contains(_it.transferred_at)


def _rechecked(w: Window) -> ColumnElement[bool]:
    return w.contains(_it.rechecked_at)


def _all(_: Window) -> ColumnElement[bool]:
    return true()


def _bounced(w: Window) -> ColumnElement[bool]:
    return w.contains(ItemBounce.at)


def _request_answered(w: Window) -> ColumnElement[bool]:
    """The person asked rated the topic before the window ended."""
    return (
        select(Rating.id)
        .where(
            Rating.topic_id == FollowUp.subject_id,  # type: ignore[arg-type]
            Rating.person_id == FollowUp.owed_by_id,  # type: ignore[arg-type]
            w.before_end(Rating.created_at),
        )
        .correlate(FollowUp)
        .exists()
    )


COUNTS: dict[str, Count] = {
    c.key: c
    for c in (
        Count("items", "统计期内事项", Source.ITEM, _counted),
        Count(
            "items_due",
            "应办结",
            Source.ITEM,
            lambda w: and_(_counted(w), or_(w.before_end(_it.deadline), _completed(w))),
        ),
        Count("items_completed", "已办结", Source.ITEM, _completed),
        Count(
            "items_on_time",
            "按时办结",
            Source.ITEM,
            lambda w: and_(_completed(w), _it.completed_at <= _it.deadline),  # type: ignore[arg-type, operator]
        ),
        Count(
            "items_on_time_original",
            "按原定期限办结",
            Source.ITEM,
            lambda w: and_(_completed(w), _it.completed_at <= _original_deadline()),  # type: ignore[arg-type, operator]
        ),
        Count("items_solved", "已解决", Source.ITEM, _solved),
        Count(
            "items_long_term",
            "形成长效机制",
            Source.ITEM,
            lambda w: and_(_completed(w), _it.long_term_mechanism.is_(True)),  # type: ignore[union-attr]
        ),
        Count("items_overdue", "期末逾期", Source.ITEM, _overdue),
        Count(
            "items_on_time_base",
            "已办结及逾期未办结",
            Source.ITEM,
            lambda w: or_(_completed(w), _overdue(w)),
        ),
        Count(
            "items_on_time_base_original",
            "已办结及超过原定期限未办结",
            Source.ITEM,
            lambda w: or_(_completed(w), _overdue_original(w)),
        ),
        Count(
            "extensions_approved",
            "获批延期次数",
            Source.ITEM,
            _counted,
            value=_extensions_approved,
        ),
        Count("items_transferred", "已转交", Source.ITEM, _transferred),
        Count(
            "items_acknowledged_on_time",
            "按时签收",
            Source.ITEM,
            lambda w: and_(
                _transferred(w),
                _it.acknowledged_at.is_not(None),  # type: ignore[union-attr]
                _it.acknowledged_at <= _it.ack_due_at,  # type: ignore[arg-type, operator]
            ),
        ),
        Count("items_rechecked", "已回头看", Source.ITEM, _rechecked),
        Count(
            "items_rebound",
            "回头看反弹",
            Source.ITEM,
            lambda w: and_(_rechecked(w), _it.rebound.is_(True)),  # type: ignore[union-attr]
        ),
        Count(
            "suggestions_decided",
            "已决定建议",
            Source.SUGGESTION,
            lambda _: Suggestion.adoption != Adoption.PENDING,  # type: ignore[arg-type, return-value]
        ),
        Count(
            "suggestions_adopted",
            "已采纳建议",
            Source.SUGGESTION,
            lambda _: Suggestion.adoption == Adoption.ADOPTED,  # type: ignore[arg-type, return-value]
        ),
        Count("bounces", "退回次数", Source.BOUNCE, _bounced),
        Count(
            "transfers",
            "转交次数（含被退回）",
            Source.DERIVED,
            _all,
            parts=("items_transferred", "bounces"),
        ),
        Count("rating_requests", "评价邀请", Source.RATING_REQUEST, _all),
        Count("rating_requests_answered", "已评价的邀请", Source.RATING_REQUEST, _request_answered),
        Count("evaluations", "第三方评估份数", Source.EVALUATION, _all),
        Count(
            "evaluation_points",
            "第三方评估总分合计",
            Source.EVALUATION,
            _all,
            value=lambda _: Evaluation.overall,
        ),
        Count("ratings", "评价数", Source.RATING, _all),
        Count("ratings_satisfied", "满意评价", Source.RATING, lambda _: Rating.satisfied.is_(True)),  # type: ignore[attr-defined]
    )
}


def keys_of(source: Source) -> list[str]:
    """The counts taken from one source, in declared order."""
    return [k for k, c in COUNTS.items() if c.source is source]


ITEM_KEYS = [k for k, c in COUNTS.items() if c.source is Source.ITEM]
RATING_KEYS = [k for k, c in COUNTS.items() if c.source is Source.RATING]
BOUNCE_KEYS = [k for k, c in COUNTS.items() if c.source is Source.BOUNCE]
REQUEST_KEYS = [k for k, c in COUNTS.items() if c.source is Source.RATING_REQUEST]
DERIVED = [c for c in COUNTS.values() if c.source is Source.DERIVED]
MEAN_SCORE = "mean_score"


# --- rates ---------------------------------------------------------------------------------


class Direction(StrEnum):
    AT_LEAST = "at_least"
    AT_MOST = "at_most"


@dataclass(frozen=True)
class Kpi:
    """A rate numerator / denominator of two counts, with its target where DOMAIN.md names one."""

    key: str
    label: str
    short: str  # for narrow columns (trend tables)
    numerator: str
    denominator: str
    target: float | None = None
    direction: Direction = Direction.AT_LEAST
    unit: str = "%"  # a rate (shown as a percentage), or a mean in this unit ("分")
    full: float = 1.0  # the value of a full bar (a rate: 1; a score: its full marks)
    # How it is counted, where the label alone would mislead (the bulletin's 指标口径).
    note: str | None = None

    def fraction(self, counts: Mapping[str, Any]) -> Fraction | None:
        den = counts[self.denominator]
        return Fraction(counts[self.numerator], den) if den else None

    def rate(self, counts: Mapping[str, Any]) -> float | None:
        """Rounded to 4 places, None when the denominator is empty (nothing to measure)."""
        f = self.fraction(counts)
        return None if f is None else round(float(f), 4)

    def met(self, value: float | None) -> bool | None:
        if value is None or self.target is None:
            return None
        if self.direction is Direction.AT_LEAST:
            return value >= self.target
        return value <= self.target

    def meets(self, counts: Mapping[str, Any]) -> bool | None:
        """The exact rate against the target (no rounding can lift 79.996 % to 80 %); None
        when there is nothing to measure or no target."""
        f = self.fraction(counts)
        if f is None or self.target is None:
            return None
        goal = Fraction(str(self.target))
        return f >= goal if self.direction is Direction.AT_LEAST else f <= goal

    @property
    def target_text(self) -> str | None:
        if self.target is None:
            return None
        sign = "≥" if self.direction is Direction.AT_LEAST else "≤"
        if self.unit != "%":
            return f"{sign}{self.target:g} {self.unit}"
        return f"{sign}{self.target:.0%}"


KPIS: dict[str, Kpi] = {
    k.key: k
    for k in (
        Kpi("completion_rate", "整改完成率", "完成率", "items_completed", "items_due", 0.8),
        Kpi(
            "on_time_rate",
            "按时完成率",
            "按时率",
            "items_on_time",
            "items_on_time_base",
            note="分母含已超过期限仍未办结的事项，逾期未办结不算按时",
        ),
        Kpi(
            "on_time_rate_original",
            "按原定期限完成率",
            "原期限按时率",
            "items_on_time_original",
            "items_on_time_base_original",
            note="按转交时的期限计算，获批延期不改变此项",
        ),
        Kpi(
            "problem_solved_rate",
            "问题解决率",
            "解决率",
            "items_solved",
            "items_due",
            0.9,
            note="已解决须经确认：回头看未反弹，或群众对该事项的评价为满意；分母为应办结事项",
        ),
        Kpi(
            "adoption_rate",
            "建议采纳率",
            "采纳率",
            "suggestions_adopted",
            "suggestions_decided",
            0.85,
        ),
        Kpi(
            "long_term_mechanism_rate",
            "长效化率",
            "长效化率",
            "items_long_term",
            "items_completed",
            0.7,
        ),
        Kpi("satisfaction_rate", "群众满意度", "满意度", "ratings_satisfied", "ratings", 0.9),
        # Beside the satisfaction, which counts only those who rated: how many of those asked did.
        Kpi(
            "rating_response_rate",
            "评价参与率",
            "参与率",
            "rating_requests_answered",
            "rating_requests",
            note="本期发出的评价邀请中已评价的比例，与满意度并列看",
        ),
        Kpi(
            "rebound_rate",
            "反弹率",
            "反弹率",
            "items_rebound",
            "items_rechecked",
            0.05,
            Direction.AT_MOST,
            note="本期回头看的事项中整改反弹的比例，越低越好",
        ),
        Kpi("response_rate", "响应率", "响应率", "items_acknowledged_on_time", "items_transferred"),
        Kpi(
            "bounce_rate",
            "退回率",
            "退回率",
            "bounces",
            "transfers",
            None,
            Direction.AT_MOST,
            note="退单计入退回的单位；分母为本期转交给该单位的事项加其退回的次数，越低越好",
        ),
        Kpi(
            "evaluation_score",
            "第三方评估得分",
            "评估得分",
            "evaluation_points",
            "evaluations",
            unit="分",
            full=FULL_MARKS,
        ),
    )
}
RATE_KEYS = list(KPIS)
# Every rate in its declared order, the mean score read beside the satisfaction: the order in
# which the CLI and the bulletin's files list them.
RATES_SHOWN: list[str] = [
    k for key in RATE_KEYS for k in ((key, MEAN_SCORE) if key == "satisfaction_rate" else (key,))
]

# One label table for every renderer: counts, the mean score, rates.
LABELS: dict[str, str] = {
    **{k: c.label for k, c in COUNTS.items()},
    MEAN_SCORE: "平均评分",
    **{k: r.label for k, r in KPIS.items()},
}


def sources_of(key: str) -> set[Source]:
    """Which sources a count, a rate or the mean score is computed from."""
    if key == MEAN_SCORE:
        return {Source.RATING}
    if key in KPIS:
        return sources_of(KPIS[key].numerator) | sources_of(KPIS[key].denominator)
    count = COUNTS[key]
    if count.source is Source.DERIVED:
        return set().union(*(sources_of(p) for p in count.parts))
    return {count.source}


def available(keys: Iterable[str], sources: Iterable[Source]) -> list[str]:
    """The keys a group can show whose records come only from `sources` (a department has
    no suggestions and no rating requests: TOPIC_OF / DEPARTMENT_OF say which it has)."""
    have = set(sources)
    return [k for k in keys if sources_of(k) <= have]


def target(key: str) -> float:
    """The named target of a KPI that has one (a chart's dashed line)."""
    value = KPIS[key].target
    if value is None:
        raise KeyError(f"{key} has no target")
    return value


def short_label(key: str) -> str:
    return KPIS[key].short if key in KPIS else LABELS[key]


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def shown(key: str, value: Any) -> str:
    """A value as people read it: rates as percentages, a mean score in its unit, nothing as a
    dash."""
    if key in KPIS and KPIS[key].unit != "%":
        return "—" if value is None else f"{value:.1f} {KPIS[key].unit}"
    if key in KPIS:
        return pct(value)
    return "—" if value is None else str(value)


def against_target(key: str, counts: Mapping[str, Any]) -> str:
    """A rate's target and whether it is met, as the demo and the pages say it beside the value
    ("" for a count or a KPI without a target)."""
    kpi = KPIS.get(key)
    if kpi is None or kpi.target_text is None:
        return ""
    known = kpi.numerator in counts and kpi.denominator in counts
    met = kpi.meets(counts) if known else None
    verdict = "无数据" if met is None else ("达标" if met else "未达标")
    return f"（目标 {kpi.target_text}，{verdict}）"


def with_rates(counts: dict[str, Any]) -> dict[str, Any]:
    """Add every derived count whose parts are present, then every rate whose two counts are
    present (departments have no suggestions)."""
    for derived in DERIVED:
        if all(p in counts for p in derived.parts):
            counts[derived.key] = sum(counts[p] for p in derived.parts)
    for kpi in KPIS.values():
        if kpi.numerator in counts and kpi.denominator in counts:
            counts[kpi.key] = kpi.rate(counts)
    return counts


def fraction(key: str, counts: Mapping[str, Any]) -> Fraction:
    """The exact rate for ordering (0 when empty), so ties never depend on rounding."""
    return KPIS[key].fraction(counts) or Fraction(0)


# --- what every query over a source shares --------------------------------------------------


def base(source: Source, window: Window) -> list[ColumnElement[bool]]:
    """The rows of a source any count over the window may take: the aggregates below and the
    drill-down (models.kpi_board) both start from these, so both see the same records."""
    if source is Source.ITEM:
        anything = or_(
            COUNTS["items"].condition(window),
            COUNTS["items_transferred"].condition(window),
            COUNTS["items_rechecked"].condition(window),
        )
        return [_it.status != ItemStatus.DECLINED, anything]  # type: ignore[list-item]
    if source is Source.RATING:
        return [window.contains(Rating.created_at)]
    if source is Source.BOUNCE:
        return [window.contains(ItemBounce.at)]
    if source is Source.RATING_REQUEST:
        return [FollowUp.obligation == Obligation.RATING, window.contains(FollowUp.created_at)]  # type: ignore[list-item]
    if source is Source.EVALUATION:
        return [window.contains(Evaluation.submitted_at)]
    return []


# Where a source's record belongs: its topic, and its department (items: the lead department;
# ratings: the rated item's; bounces: the department that returned the item). Suggestions,
# rating requests (made per topic) and evaluations (of a topic) belong to no department. The
# bulletin groups by these, the drill-down filters by them.
TOPIC_OF: dict[Source, Any] = {
    Source.ITEM: _it.topic_id,
    Source.RATING: Rating.topic_id,
    Source.BOUNCE: _it.topic_id,
    Source.SUGGESTION: Suggestion.topic_id,
    Source.RATING_REQUEST: FollowUp.topic_id,
    Source.EVALUATION: Evaluation.topic_id,
}
DEPARTMENT_OF: dict[Source, Any] = {
    Source.ITEM: _it.lead_department_id,
    Source.RATING: _it.lead_department_id,  # joined through the rated item
    Source.BOUNCE: ItemBounce.department_id,
}


# --- aggregate queries ---------------------------------------------------------------------


class _Scanned(ColumnElement[Any]):
    """A column the planner is not to answer from its index. Every aggregate below reads
    (nearly) every item of the window, so one sequential pass is the cheapest plan; grouped
    by an indexed column (department, topic), SQLite walks that index instead to skip the
    sort and reads the table in random order — twice as slow over 1M items. On SQLite `+col`
    (a no-op on the value) disqualifies the index; PostgreSQL's planner already scans and
    hashes, so the column stays as it is there."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type


@compiles(_Scanned)
def _scanned_default(element: _Scanned, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(_Scanned, "sqlite")
def _scanned_sqlite(element: _Scanned, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def scanned(column: Any) -> Any:
    """`column`, for grouping or filtering in a query that should scan, not use its index."""
    return _Scanned(column)


def _sum(cond: ColumnElement[bool], key: str, value: Any = 1) -> Any:
    return func.coalesce(func.sum(case((cond, value), else_=0)), 0).label(key)


def _value(key: str, window: Window) -> Any:
    value = COUNTS[key].value
    return 1 if value is None else value(window)


def zero() -> dict[str, Any]:
    """Counts of a group with no rows of some source (e.g. a department nobody rated)."""
    return {**dict.fromkeys(ITEM_KEYS + RATING_KEYS + BOUNCE_KEYS, 0), MEAN_SCORE: None}


def item_counts(
    session: Session, window: Window, group: Any = None, where: Iterable[Any] = ()
) -> dict[Any, dict[str, int]]:
    """One aggregate query over the window's items, by `group` (None: one total row)."""
    cols = [_sum(COUNTS[k].condition(window), k, _value(k, window)) for k in ITEM_KEYS]
    key = scanned(group) if group is not None else None
    stmt = select(*([key] if key is not None else []), *cols).where(
        *base(Source.ITEM, window), *where
    )
    if key is not None:
        stmt = stmt.group_by(key)
        rows = session.exec(stmt).all()
        return {r[0]: {k: int(r._mapping[k]) for k in ITEM_KEYS} for r in rows}
    r = session.exec(stmt).one()
    return {None: {k: int(r._mapping[k] or 0) for k in ITEM_KEYS}}


def rating_counts(
    session: Session,
    window: Window,
    group: Any = None,
    where: Iterable[Any] = (),
    *,
    by_item: bool = False,
) -> dict[Any, dict[str, Any]]:
    """Ratings given in the window (and their mean score), by `group`; `by_item` joins the
    rated item so ratings can be grouped by its department."""
    cols = [_sum(COUNTS[k].condition(window), k) for k in RATING_KEYS]
    stmt = select(  # type: ignore[call-overload]
        *([group] if group is not None else []),
        *cols,
        func.avg(Rating.score).label(MEAN_SCORE),
    ).select_from(Rating)
    if by_item:
        stmt = stmt.join(_it, _it.id == Rating.item_id)
    stmt = stmt.where(*base(Source.RATING, window), *where)

    def row(r: Any) -> dict[str, Any]:
        mean = r._mapping[MEAN_SCORE]
        out: dict[str, Any] = {k: int(r._mapping[k] or 0) for k in RATING_KEYS}
        out[MEAN_SCORE] = round(float(mean), 2) if mean is not None else None
        return out

    if group is not None:
        return {r[0]: row(r) for r in session.exec(stmt.group_by(group)).all()}
    return {None: row(session.exec(stmt).one())}


def bounce_counts(
    session: Session, window: Window, group: Any = None, where: Iterable[Any] = ()
) -> dict[Any, dict[str, int]]:
    """Returns (退单) made in the window, by `group`: ItemBounce.department_id for the
    department that returned the item, or a column of the item (its topic)."""
    stmt = (
        select(  # type: ignore[call-overload]
            *([group] if group is not None else []),
            *(_sum(COUNTS[k].condition(window), k) for k in BOUNCE_KEYS),
        )
        .select_from(ItemBounce)
        .join(_it, _it.id == ItemBounce.item_id)
        .where(*base(Source.BOUNCE, window), *where)
    )
    if group is not None:
        rows = session.execute(stmt.group_by(group)).all()
        return {r[0]: {k: int(r._mapping[k]) for k in BOUNCE_KEYS} for r in rows}
    r = session.execute(stmt).one()  # rows, not scalars: there may be one column
    return {None: {k: int(r._mapping[k] or 0) for k in BOUNCE_KEYS}}


def unit_counts(
    session: Session, source: Source, window: Window, where: Iterable[Any] = ()
) -> dict[str, int]:
    """The counts of a source that has no department (suggestions, rating requests,
    evaluations): one row."""
    keys = keys_of(source)
    r = session.exec(
        select(*(_sum(COUNTS[k].condition(window), k, _value(k, window)) for k in keys)).where(
            *base(source, window), *where
        )
    ).one()
    return {k: int(r._mapping[k] or 0) for k in keys}


def unit_counts_by_topic(
    session: Session, source: Source, window: Window, topic_ids: Iterable[Any] | None = None
) -> dict[Any, dict[str, int]]:
    """The counts of a per-topic source (suggestions, rating requests, evaluations) over the
    window, one row per topic (only `topic_ids` when given): the bulletin's topic rows."""
    keys = keys_of(source)
    group = TOPIC_OF[source]
    where = [] if topic_ids is None else [group.in_(list(topic_ids))]
    rows = session.exec(
        select(group, *(_sum(COUNTS[k].condition(window), k, _value(k, window)) for k in keys))
        .where(*base(source, window), *where)
        .group_by(group)
    ).all()
    return {r[0]: {k: int(r._mapping[k] or 0) for k in keys} for r in rows}


def compute(
    session: Session,
    window: Window,
    *,
    topic_id: int | None = None,
    items: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Every count and rate for one topic (or all topics) over the window: six queries, five
    when the caller already has the item counts (the bulletin sums its department rows)."""

    def of(source: Source) -> list[Any]:
        return [TOPIC_OF[source] == topic_id] if topic_id is not None else []

    item_rows = (
        {None: dict(items)}
        if items is not None
        else item_counts(session, window, where=of(Source.ITEM))
    )
    bounces = bounce_counts(session, window, where=of(Source.BOUNCE))
    ratings = rating_counts(session, window, where=of(Source.RATING))
    suggestions = unit_counts(session, Source.SUGGESTION, window, where=of(Source.SUGGESTION))
    requests = unit_counts(session, Source.RATING_REQUEST, window, where=of(Source.RATING_REQUEST))
    evaluations = unit_counts(session, Source.EVALUATION, window, where=of(Source.EVALUATION))
    counts = {**item_rows[None], **bounces[None], **suggestions, **ratings[None], **requests}
    return with_rates(counts | evaluations)
