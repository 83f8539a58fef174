"""Loading a year's official holiday schedule (放假安排) and counting open deadlines again.

The State Council publishes next year's schedule late in the year, after the packages ship.
Until an administrator loads it, deadlines reaching into that year are counted on the
statutory holidays by rule and marked provisional (暂估). Loading replaces the year's rows,
moves the version every process checks, and recounts every open deadline the year touches.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from pydantic import BaseModel, Field, StrictBool, TypeAdapter, ValidationError
from sqlalchemy import and_, case, delete, func, or_
from sqlmodel import Session, select

from config.workdays import SOURCE_LABELS, Source, WorkCalendar
from models.base import Body, Page, utcnow
from models.calendar import bump_version, calendar_for
from models.case import (
    Listing,
    audit,
    get,
    listing,
    mark_items_provisional,
    require_role,
    tell_deadline_changed,
)
from models.deadlines import end_of_day, local_today, rung_due_at
from models.enums import FollowUpStatus, FollowUpStep, Obligation, Role
from models.errors import Invalid
from models.followup import OBLIGATION_LABELS
from models.tables import (
    FollowUp,
    HolidaySchedule,
    Participant,
    Person,
    RectificationItem,
)

MIN_YEAR, MAX_YEAR = 2000, 2100
WORKDAY_NAME = "调休上班"
HOLIDAY_NAME = "节假日"
# Rungs sit at most a few working days from their deadline; a long holiday stretches that.
RUNG_REACH = dt.timedelta(days=45)
WEEKDAYS = "一二三四五六日"


class HolidayIn(Body):
    date: dt.date
    name: str = Field(default="", max_length=50)


class ScheduleIn(Body):
    """Request body: the official schedule of one year, as the State Council's notice lists it."""

    holidays: list[HolidayIn] = Field(min_length=1, max_length=120)
    workdays: list[dt.date] = Field(default_factory=list, max_length=60)
    note: str | None = Field(default=None, max_length=200, description="来源说明；含“示例”即拒绝")
    force: StrictBool = Field(default=False, description="确需导入标明为示例的安排时设为 true")


class DayOut(BaseModel):
    date: dt.date
    name: str


class YearOut(BaseModel):
    year: int
    source: Source
    source_label: str
    provisional: bool
    holidays: list[DayOut]
    workdays: list[DayOut]
    loaded_at: dt.datetime | None = None


class WorkingDaysOut(BaseModel):
    start: dt.date
    days: int
    date: dt.date
    deadline: dt.datetime
    provisional: bool


class LoadSummary(BaseModel):
    year: int
    holidays: int
    workdays: int
    replaced_rows: int
    version: str
    recomputed: int
    moved: int
    still_provisional: int


class DeadlineOut(BaseModel):
    obligation: Obligation
    obligation_label: str
    topic_id: int
    subject_id: int
    owed_by_id: int | None
    deadline: dt.datetime
    counted_from: dt.date | None
    working_days: int | None
    provisional: bool


class DeadlinesPublic(Page[DeadlineOut]):
    """Open deadlines, earliest first."""


def _invalid(exc: ValidationError, prefix: str) -> Invalid:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in (prefix, *err.get("loc", ())))
    kind = err.get("type", "")
    text = {
        "date_parsing": "须为日期，格式 YYYY-MM-DD",
        "date_from_datetime_parsing": "须为日期，格式 YYYY-MM-DD",
        "date_type": "须为日期，格式 YYYY-MM-DD",
        "missing": "缺少必填字段",
        "string_too_long": "内容过长",
        "list_type": "须为列表",
    }.get(kind, "取值不合法")
    return Invalid(f"{loc}：{text}", field=loc)


def _validated(
    year: int, holidays: list[Any], workdays: list[Any]
) -> tuple[list[HolidayIn], list[dt.date]]:
    """Every rule of a schedule, each failure naming its field (holidays.3.date …)."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid(f"年份须在 {MIN_YEAR}–{MAX_YEAR} 之间", field="year")
    try:
        days_off = TypeAdapter(list[HolidayIn]).validate_python(holidays)
    except ValidationError as exc:
        raise _invalid(exc, "holidays") from exc
    try:
        days_on = TypeAdapter(list[dt.date]).validate_python(workdays)
    except ValidationError as exc:
        raise _invalid(exc, "workdays") from exc
    if not days_off:
        raise Invalid("至少须列出一个放假日期", field="holidays")
    seen: set[dt.date] = set()
    for i, h in enumerate(days_off):
        if h.date.year != year:
            raise Invalid(f"{h.date} 不在 {year} 年内", field=f"holidays.{i}.date")
        if h.date in seen:
            raise Invalid(f"{h.date} 重复列出", field=f"holidays.{i}.date")
        seen.add(h.date)
    on: set[dt.date] = set()
    for j, day in enumerate(days_on):
        if day.year != year:
            raise Invalid(f"{day} 不在 {year} 年内", field=f"workdays.{j}")
        if day in seen:
            raise Invalid(f"{day} 不能既是放假日又是调休上班日", field=f"workdays.{j}")
        if day in on:
            raise Invalid(f"{day} 重复列出", field=f"workdays.{j}")
        if day.weekday() < 5:
            raise Invalid(
                f"{day} 是星期{WEEKDAYS[day.weekday()]}，本来就上班；调休上班日应为周六或周日",
                field=f"workdays.{j}",
            )
        on.add(day)
    return days_off, days_on


# A schedule marked with one of these (its note, a file's name or heading) is an example, not
# the State Council's notice: deadlines counted on it would be wrong, so it is refused.
EXAMPLE_MARKERS = ("示例", "example")


def is_example(note: str | None) -> bool:
    return bool(note) and any(m in note.lower() for m in EXAMPLE_MARKERS)  # type: ignore[union-attr]


def load_schedule(
    session: Session,
    year: int,
    *,
    holidays: list[Any],
    workdays: list[Any],
    by: int | None = None,
    note: str | None = None,
    force: bool = False,
    now: dt.datetime | None = None,
) -> LoadSummary:
    """Replace a year's official schedule and recount the open deadlines it touches.

    `by` is the administrator loading it (the CLI may leave it out: it runs with database
    access already). A schedule whose `note` marks it as an example is refused unless `force`.
    Nothing commits here; the route or command owns the transaction."""
    if is_example(note) and not force:
        raise Invalid(
            f"该放假安排标明为示例（{note}），不是国务院办公厅公布的官方安排，未导入；"
            "请按官方通知填写后再导入，确需导入示例（演示、测试）请加 --force 或 force=true",
            field="note",
        )
    now = now or utcnow()
    actor = None
    if by is not None:
        actor = get(session, Person, by)
        require_role(actor, Role.ADMINISTRATOR, action="导入放假安排")
    days_off, days_on = _validated(year, holidays, workdays)
    replaced = session.execute(delete(HolidaySchedule).where(HolidaySchedule.year == year)).rowcount  # type: ignore[arg-type, attr-defined]
    session.add_all(
        [
            HolidaySchedule(
                year=year, day=h.date, working=False, name=h.name or HOLIDAY_NAME, loaded_at=now
            )
            for h in days_off
        ]
        + [
            HolidaySchedule(year=year, day=d, working=True, name=WORKDAY_NAME, loaded_at=now)
            for d in days_on
        ]
    )
    session.flush()
    version = bump_version(session)
    counts = recompute_open_deadlines(session, year, now=now)
    audit(
        session,
        action="calendar_loaded",
        topic_id=None,
        actor=actor,
        year=year,
        holidays=len(days_off),
        workdays=len(days_on),
        replaced_rows=replaced,
        version=version,
        **counts,
    )
    return LoadSummary(
        year=year,
        holidays=len(days_off),
        workdays=len(days_on),
        replaced_rows=replaced,
        version=version,
        **counts,
    )


def _touches(year: int) -> Any:
    """Open rows whose counting may have stepped over a day of `year`."""
    first = end_of_day(dt.date(year, 1, 1)) - dt.timedelta(days=1)
    last = end_of_day(dt.date(year, 12, 31))
    return and_(
        FollowUp.status == FollowUpStatus.OPEN,  # type: ignore[arg-type]
        or_(FollowUp.working_days.is_not(None), FollowUp.rung_offset != 0),  # type: ignore[arg-type, union-attr]
        or_(
            FollowUp.provisional.is_(True),  # type: ignore[attr-defined]
            FollowUp.deadline.between(first - RUNG_REACH, last + RUNG_REACH),  # type: ignore[attr-defined]
            and_(FollowUp.counted_from <= dt.date(year, 12, 31), FollowUp.deadline > first),  # type: ignore[arg-type, operator]
        ),
    )


def recompute_open_deadlines(
    session: Session, year: int, *, now: dt.datetime | None = None
) -> dict[str, int]:
    """Count each open deadline again from where it was counted, on the current calendar:
    deadline = counted_from + working_days, each rung = its offset from that deadline.
    The subject's copies of the date (ack/plan/RSVP due) move with it; owers hear of a move."""
    now = now or utcnow()
    calendar = calendar_for(session)
    rows = session.exec(select(FollowUp).where(_touches(year)).order_by(FollowUp.id)).all()  # type: ignore[arg-type]
    groups: dict[tuple, list[FollowUp]] = defaultdict(list)
    for row in rows:
        key = (
            row.obligation,
            row.subject_id,
            row.owed_by_id,
            row.deadline,
            row.counted_from,
            row.working_days,
        )
        groups[key].append(row)
    moved = still = 0
    item_ids: set[int] = set()
    for (obligation, subject_id, _owed, old, counted_from, working_days), ladder in groups.items():
        new, estimated = _recount(
            session, calendar, obligation, subject_id, old, counted_from, working_days
        )
        was_provisional = any(row.provisional for row in ladder)
        for row in ladder:
            due_at, unsure = rung_due_at(calendar, new, row.rung_offset)
            if row.step is FollowUpStep.DUE_SOON and row.due_at > now >= due_at:
                row.status = FollowUpStatus.NOTHING_TO_DO
                row.outcome = "放假安排更新后提醒时点已过"
                row.processed_at = now
            row.deadline, row.due_at, row.provisional = new, due_at, estimated or unsure
            still += row.provisional
        if obligation in (Obligation.ACKNOWLEDGEMENT, Obligation.PLAN, Obligation.ITEM_DEADLINE):
            item_ids.add(subject_id)
        if new != old:
            moved += 1
            _mirror(session, obligation, subject_id, old, new)
            _tell(session, ladder[0], old, new, estimated, was_provisional=was_provisional)
    session.flush()
    mark_items_provisional(session, sorted(item_ids))
    return {"recomputed": len(rows), "moved": moved, "still_provisional": still}


def _recount(
    session: Session,
    calendar: WorkCalendar,
    obligation: Obligation,
    subject_id: int,
    old: dt.datetime,
    counted_from: dt.date | None,
    working_days: int | None,
) -> tuple[dt.datetime, bool]:
    """(new deadline, estimated?): a date given as a date stays; a count is counted again."""
    if counted_from is None or working_days is None:
        return old, False
    result = calendar.add_working_days(counted_from, working_days)
    new = end_of_day(result.day)
    if obligation is Obligation.PLAN:  # a plan is never due after its item
        item = session.get(RectificationItem, subject_id)
        if item is not None and new > item.deadline:
            return item.deadline, False
    return new, result.provisional


def _mirror(
    session: Session, obligation: Obligation, subject_id: int, old: dt.datetime, new: dt.datetime
) -> None:
    """The subject keeps a copy of some deadlines; the sweep compares them with the rows."""
    if obligation is Obligation.RSVP:
        participant = session.get(Participant, subject_id)
        if participant is not None and participant.rsvp_due_at == old:
            participant.rsvp_due_at = new
    elif obligation in (Obligation.ACKNOWLEDGEMENT, Obligation.PLAN):
        item = session.get(RectificationItem, subject_id)
        field = "ack_due_at" if obligation is Obligation.ACKNOWLEDGEMENT else "plan_due_at"
        if item is not None and getattr(item, field) == old:
            setattr(item, field, new)


def _tell(
    session: Session,
    row: FollowUp,
    old: dt.datetime,
    new: dt.datetime,
    provisional: bool,
    *,
    was_provisional: bool,
) -> None:
    """Whoever owes the obligation (and an item's department head): the date has moved."""
    tell_deadline_changed(
        session,
        obligation=row.obligation,
        subject_id=row.subject_id,
        topic_id=row.topic_id,
        owed_by_id=row.owed_by_id,
        old=old,
        new=new,
        reason=f"根据{local_today(new).year}年官方放假安排重新计算工作日",
        provisional=provisional,
        was_provisional=was_provisional,
    )


def year_view(session: Session, year: int) -> YearOut:
    """What the calendar knows of a year and where that comes from."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid(f"年份须在 {MIN_YEAR}–{MAX_YEAR} 之间", field="year")
    schedule = calendar_for(session).year_schedule(year)
    loaded_at = None
    if schedule.source is Source.LOADED:
        loaded_at = session.exec(
            select(func.max(HolidaySchedule.loaded_at)).where(HolidaySchedule.year == year)
        ).first()
    return YearOut(
        year=year,
        source=schedule.source,
        source_label=SOURCE_LABELS[schedule.source],
        provisional=schedule.provisional,
        holidays=[DayOut(date=d, name=n) for d, n in schedule.holidays],
        workdays=[DayOut(date=d, name=n) for d, n in schedule.workdays],
        loaded_at=loaded_at,
    )


def working_days_view(session: Session, start: dt.date, days: int) -> WorkingDaysOut:
    """The N-th working day after `start`, as a deadline would be counted today."""
    result = calendar_for(session).add_working_days(start, days)
    return WorkingDaysOut(
        start=start,
        days=days,
        date=result.day,
        deadline=end_of_day(result.day),
        provisional=result.provisional,
    )


def open_deadlines(
    session: Session,
    *,
    topic_id: int | None = None,
    provisional_only: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> Listing[DeadlineOut]:
    """Open obligations, one line per deadline, flagged when any of its dates is estimated."""
    estimated = func.max(case((FollowUp.provisional.is_(True), 1), else_=0))  # type: ignore[attr-defined]
    one_deadline = (
        FollowUp.obligation,
        FollowUp.topic_id,
        FollowUp.subject_id,
        FollowUp.owed_by_id,
        FollowUp.deadline,
        FollowUp.counted_from,
        FollowUp.working_days,
    )
    stmt = (
        select(*one_deadline, estimated)  # type: ignore[call-overload]
        .where(FollowUp.status == FollowUpStatus.OPEN)
        .group_by(*one_deadline)
    )
    if topic_id is not None:
        stmt = stmt.where(FollowUp.topic_id == topic_id)
    if provisional_only:
        stmt = stmt.having(estimated == 1)
    rows = listing(
        session,
        stmt,
        order_by=(FollowUp.deadline, FollowUp.obligation, FollowUp.subject_id),
        limit=limit,
        offset=offset,
    )
    lines = [
        DeadlineOut(
            obligation=obligation,
            obligation_label=OBLIGATION_LABELS[Obligation(obligation)],
            topic_id=tid,
            subject_id=sid,
            owed_by_id=owed,
            deadline=deadline,
            counted_from=counted_from,
            working_days=working_days,
            provisional=bool(flag),
        )
        for obligation, tid, sid, owed, deadline, counted_from, working_days, flag in rows.data
    ]
    return Listing(lines, rows.count)
