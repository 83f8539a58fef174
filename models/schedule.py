"""Loading a year's official holiday schedule (放假安排) and counting open deadlines again.

The State Council publishes next year's schedule late in the year, after the packages ship.
Until an administrator loads it, deadlines reaching into that year are counted on the
statutory holidays by rule and marked provisional (暂估). Loading replaces the year's rows,
moves the version every process checks, and recounts every open deadline the year touches.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, StrictBool, TypeAdapter, ValidationError
from sqlalchemy import and_, case, delete, func, or_
from sqlmodel import Session, select

from config.workdays import SOURCE_LABELS, Source, WorkCalendar
from models.access import Can, require
from models.base import Body, Page, utcnow
from models.calendar import bump_version, calendar_for
from models.case import (
    Listing,
    audit,
    get,
    listing,
    mark_items_provisional,
    tell_deadline_changed,
)
from models.deadlines import end_of_day, local_today, rung_due_at
from models.enums import FollowUpStatus, FollowUpStep, Obligation
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
        require(actor, Can.RUN_LOOP, action="导入放假安排")
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


# --- a schedule as an office has it: a file or pasted text ---------------------------------

HOLIDAY_KINDS = frozenset({"放假", "休", "假", "休息", "节假日", "holiday"})
WORKDAY_KINDS = frozenset({"上班", "班", "补班", "调休", "调休上班", "workday"})
SCHEDULE_FIELDS = frozenset({"year", "holidays", "workdays", "note", "source"})
LINE_FORMAT = "每行“日期,类型,名称”，如 2027-01-01,放假,元旦 或 2027-02-07,上班"
_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_RANGE = re.compile(r"\s*(?:~|～|至|到|—|–)\s*")
_SPLIT = re.compile(r"\s*[,，\t]\s*")


@dataclass(frozen=True)
class ScheduleText:
    """What a file or pasted text says: the body of `load_schedule` (and its year, if named)."""

    year: int | None
    holidays: list[Any]
    workdays: list[Any]
    note: str | None


def parse_schedule(text: str, *, filename: str = "", note: str | None = None) -> ScheduleText:
    """Read a schedule the way the office has it: the CLI's JSON or YAML file
    ({year, holidays: [{date, name}], workdays: [date]}) or lines of “日期,类型,名称” (CSV from a
    spreadsheet, or pasted), where 类型 is 放假 or 上班 and a date may span a range
    (2027-02-05~2027-02-11,放假,春节). Lines starting with # are comments. A note, the file's
    name or a heading comment that marks it as an example is kept as its note (refused later
    unless forced). Anything unreadable is refused (field `schedule`), naming its line."""
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise Invalid("请粘贴放假安排或选择文件", field="schedule")
    suffix = filename.lower().rsplit(".", 1)[-1] if "." in filename else ""
    stripped = text.lstrip()
    if suffix == "json" or stripped.startswith(("{", "[")):
        data = _structured(text, json_text=True)
    elif suffix in ("yaml", "yml") or re.search(r"^(holidays|workdays|year)\s*:", text, re.M):
        data = _structured(text, json_text=False)
    else:
        data = _lines(text)
    given = (note or "").strip() or (data.note or "")
    return ScheduleText(
        year=data.year,
        holidays=data.holidays,
        workdays=data.workdays,
        note=_example_note(filename, text, given) or given or None,
    )


def _example_note(filename: str, text: str, given: str) -> str | None:
    """Why the schedule is an example: its note, its file's name or a heading comment."""
    if is_example(given):
        return given
    if filename and is_example(filename):
        return f"文件名 {filename}"
    comments = [line.lstrip("# ").strip() for line in text.splitlines() if line.startswith("#")]
    return next((c for c in comments if is_example(c)), None)


def _structured(text: str, *, json_text: bool) -> ScheduleText:
    import json

    import yaml

    try:
        data = json.loads(text) if json_text else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        kind = "JSON" if json_text else "YAML"
        raise Invalid(f"无法按 {kind} 读取：{exc}", field="schedule") from exc
    if not isinstance(data, dict):
        raise Invalid("内容须为对象：{year, holidays, workdays}", field="schedule")
    unknown = set(data) - SCHEDULE_FIELDS
    if unknown:
        raise Invalid("无法识别的字段：" + "、".join(sorted(map(str, unknown))), field="schedule")
    year = data.get("year")
    if year is not None and not isinstance(year, int):
        raise Invalid(f"year 须为年份数字，读到的是“{year}”", field="schedule")
    workdays = [w.get("date") if isinstance(w, dict) else w for w in data.get("workdays") or []]
    note = data.get("note")
    return ScheduleText(
        year=year,
        holidays=data.get("holidays") or [],
        workdays=workdays,
        note=note.strip() if isinstance(note, str) else None,
    )


def _date(cell: str, number: int) -> dt.date:
    found = _DATE.match(cell.strip())
    try:
        if found is None:
            raise ValueError(cell)
        return dt.date(*(int(part) for part in found.groups()))
    except ValueError:
        raise Invalid(
            f"第 {number} 行：“{cell}”不是日期（格式 YYYY-MM-DD，如 2027-01-01）", field="schedule"
        ) from None


def _lines(text: str) -> ScheduleText:
    holidays: list[Any] = []
    workdays: list[Any] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = _SPLIT.split(line)
        if number == 1 and cells[0] in ("日期", "date"):
            continue  # a spreadsheet's heading row
        if len(cells) < 2 or len(cells) > 3:
            raise Invalid(f"第 {number} 行：“{line}”无法识别；{LINE_FORMAT}", field="schedule")
        span = _RANGE.split(cells[0], maxsplit=1)
        first = _date(span[0], number)
        last = _date(span[1], number) if len(span) > 1 else first
        if last < first or (last - first).days > 31:
            raise Invalid(f"第 {number} 行：日期范围“{cells[0]}”不合理", field="schedule")
        kind, name = cells[1], (cells[2] if len(cells) == 3 else "")
        days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
        if kind in HOLIDAY_KINDS:
            holidays += [{"date": day, "name": name} for day in days]
        elif kind in WORKDAY_KINDS:
            workdays += days
        else:
            raise Invalid(
                f"第 {number} 行：类型“{kind}”无法识别，应为“放假”或“上班”", field="schedule"
            )
    years = {d["date"].year for d in holidays} | {d.year for d in workdays}
    return ScheduleText(
        year=years.pop() if len(years) == 1 else None,
        holidays=holidays,
        workdays=workdays,
        note=None,
    )


def schedule_year(typed: str, parsed: ScheduleText) -> int:
    """The year a form loads: the one typed, else the one the schedule names (or all its dates
    fall in); they must agree."""
    text = typed.strip()
    if text:
        if not (text.isascii() and text.isdigit()):
            raise Invalid(f"年份须为四位数字，如 {local_today(utcnow()).year + 1}", field="year")
        year = int(text)
        if parsed.year is not None and parsed.year != year:
            raise Invalid(
                f"安排中写明的是 {parsed.year} 年，与填写的 {year} 年不一致", field="year"
            )
    elif parsed.year is not None:
        year = parsed.year
    else:
        raise Invalid("请填写年份（安排中的日期不在同一年）", field="year")
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Invalid(f"年份须在 {MIN_YEAR}–{MAX_YEAR} 之间", field="year")
    return year


class LoadedYear(BaseModel):
    year: int
    holidays: int
    workdays: int
    loaded_at: dt.datetime


def loaded_years(session: Session) -> list[LoadedYear]:
    """Every year whose official schedule was loaded, newest first (one query)."""
    rows = session.exec(
        select(  # type: ignore[call-overload]
            HolidaySchedule.year,
            func.sum(case((HolidaySchedule.working.is_(False), 1), else_=0)),  # type: ignore[attr-defined]
            func.sum(case((HolidaySchedule.working.is_(True), 1), else_=0)),  # type: ignore[attr-defined]
            func.max(HolidaySchedule.loaded_at),
        )
        .group_by(HolidaySchedule.year)  # type: ignore[arg-type]
        .order_by(HolidaySchedule.year.desc())  # type: ignore[attr-defined]
    ).all()
    return [
        LoadedYear(year=y, holidays=int(off), workdays=int(on), loaded_at=at)
        for y, off, on, at in rows
    ]


class SchedulePreview(BaseModel):
    """What loading would do, before anything is written: the days it reads, and against the
    year as it stands, the days it adds and drops."""

    year: int
    holidays: list[DayOut]
    workdays: list[DayOut]
    replaces: int
    added: list[DayOut]
    dropped: list[DayOut]


def preview_schedule(
    session: Session, year: int, *, holidays: list[Any], workdays: list[Any]
) -> SchedulePreview:
    """Check a schedule by every rule of `load_schedule` and compare it with what is loaded."""
    days_off, days_on = _validated(year, holidays, workdays)
    new = [DayOut(date=h.date, name=h.name or HOLIDAY_NAME) for h in days_off]
    new_on = [DayOut(date=d, name=WORKDAY_NAME) for d in days_on]
    rows = session.exec(select(HolidaySchedule).where(HolidaySchedule.year == year)).all()
    old = {(r.day, r.working): r.name for r in rows}
    wanted = {(d.date, False): d.name for d in new} | {(d.date, True): d.name for d in new_on}
    return SchedulePreview(
        year=year,
        holidays=sorted(new, key=lambda d: d.date),
        workdays=sorted(new_on, key=lambda d: d.date),
        replaces=len(rows),
        added=[DayOut(date=k[0], name=n) for k, n in sorted(wanted.items()) if k not in old],
        dropped=[DayOut(date=k[0], name=n) for k, n in sorted(old.items()) if k not in wanted],
    )


def day_text(day: dt.date) -> str:
    """2027年2月7日 星期日 — a date as the office reads it."""
    return f"{day.year}年{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"


class DaySpan(BaseModel):
    """Consecutive days of one name, as a notice states them: 春节 2月5日至11日, 7 天."""

    name: str
    first: dt.date
    last: dt.date
    days: int
    text: str


def spans(days: list[DayOut]) -> list[DaySpan]:
    """The days grouped into runs of consecutive dates with the same name."""
    runs: list[list[DayOut]] = []
    for day in sorted(days, key=lambda d: d.date):
        last = runs[-1][-1] if runs else None
        if last and last.name == day.name and (day.date - last.date).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return [
        DaySpan(
            name=run[0].name,
            first=run[0].date,
            last=run[-1].date,
            days=len(run),
            text=day_text(run[0].date)
            if len(run) == 1
            else f"{day_text(run[0].date)} 至 {day_text(run[-1].date)}",
        )
        for run in runs
    ]


def summary_text(summary: LoadSummary) -> str:
    """What a load did, in one sentence for the person who loaded it."""
    return (
        f"已导入 {summary.year} 年官方放假安排：放假 {summary.holidays} 天，"
        f"调休上班 {summary.workdays} 天（替换原有 {summary.replaced_rows} 条）；"
        f"重新计算未到期提醒 {summary.recomputed} 条，其中 {summary.moved} 个期限随之变动"
        f"{'（已通知相关责任人）' if summary.moved else ''}，"
        f"仍为暂估 {summary.still_provisional} 条。"
    )
