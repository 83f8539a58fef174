"""The office's working-day calendar page (工作日日历): the years whose official schedule is
loaded, one year's holidays and adjusted working days (调休上班) as the State Council's notice
states them, and a form to load or replace a year's schedule — pasted or as a file, in the
format the CLI and `PUT /calendar/{year}` take or as lines of “日期,类型,名称”.

Replacing a year that is already loaded shows a preview first (the days added and dropped,
nothing written); loading calls the operation the API calls (models.schedule.load_schedule)
in one transaction, and the answer says how many open deadlines moved."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import RedirectResponse

from api import auth
from api.deps import ReadSessionDep, SessionDep, commit
from api.pages.render import PageRoute, flash, page, require
from api.pages.routes import Reader
from models import schedule
from models.access import Can
from models.base import utcnow
from models.deadlines import format_local, local_today
from models.errors import DomainError, Invalid
from models.tables import Person

CALENDAR = "/admin/calendar"
# A schedule is a few hundred lines at most; a bigger file is not one.
MAX_FILE_BYTES = 200_000
router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]
YearQuery = Annotated[int | None, Query(ge=schedule.MIN_YEAR, le=schedule.MAX_YEAR)]


def _render(
    request: Request,
    session: SessionDep,
    person: Person,
    year: int,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    preview: schedule.SchedulePreview | None = None,
    status_code: int = 200,
) -> Response:
    view = schedule.year_view(session, year)
    loaded = schedule.loaded_years(session)
    session.commit()
    return page(
        request,
        "calendar.html",
        person=person,
        status_code=status_code,
        title="工作日日历",
        year=view,
        holiday_spans=schedule.spans(view.holidays),
        workdays=[schedule.day_text(d.date) for d in view.workdays],
        loaded=[{**y.model_dump(), "loaded_text": format_local(y.loaded_at)} for y in loaded],
        loaded_at=format_local(view.loaded_at) if view.loaded_at else None,
        values=values or {"year": str(year)},
        errors=errors or {},
        preview=preview,
        preview_holidays=schedule.spans(preview.holidays) if preview else [],
        preview_workdays=[schedule.day_text(d.date) for d in preview.workdays] if preview else [],
        day_text=schedule.day_text,
        line_format=schedule.LINE_FORMAT,
    )


@router.get(CALENDAR)
def calendar_page(
    request: Request, session: ReadSessionDep, person: Reader, year: YearQuery = None
) -> Response:
    """The loaded years and one year (this year unless chosen) as the calendar counts it."""
    require(person, Can.RUN_LOOP)
    return _render(request, session, person, year or local_today(utcnow()).year)


def _decoded(upload: UploadFile) -> str:
    """A file's text: UTF-8 (with or without BOM), else GB18030 (a spreadsheet's CSV on a
    Chinese Windows)."""
    raw = upload.file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise Invalid(f"文件过大（超过 {MAX_FILE_BYTES // 1000} KB），不像放假安排", field="file")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("无法读取文件内容，请保存为 UTF-8 编码的文本或 CSV", field="file")


FIELDS = ("year", "schedule", "file", "note", "force")


def _field(exc: DomainError) -> str:
    """Where a refusal sits: a schedule's day (holidays.3.date …) beside the schedule."""
    name = (exc.field or "").split(".")[0]
    if name in ("holidays", "workdays"):
        return "schedule"
    return name if name in FIELDS else "form"


@router.post(CALENDAR)
def load_calendar(
    request: Request,
    session: SessionDep,
    person: Reader,
    year: Text = "",
    schedule_text: Annotated[str, Form(alias="schedule")] = "",
    note: Text = "",
    force: Text = "",
    action: Text = "load",
    confirm: Text = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """Preview or load a year's schedule. A file replaces the pasted text and, shown again, its
    text is in the text area (a confirmation needs no second upload). Replacing a loaded year
    needs the confirmation of its preview."""
    require(person, Can.RUN_LOOP)
    auth._limit_actions(person)
    values = {"year": year, "schedule": schedule_text, "note": note, "force": force}
    shown_year = local_today(utcnow()).year
    try:
        if file is not None and file.filename:
            values["schedule"] = _decoded(file)
        parsed = schedule.parse_schedule(
            values["schedule"], filename=(file.filename or "") if file else "", note=note
        )
        chosen = schedule.schedule_year(year, parsed)
        shown_year = chosen
        values["year"] = str(chosen)
        if parsed.note and not note.strip():
            values["note"] = parsed.note
        preview = schedule.preview_schedule(
            session, chosen, holidays=parsed.holidays, workdays=parsed.workdays
        )
        if action == "preview" or (preview.replaces and confirm != "1"):
            session.rollback()
            return _render(request, session, person, chosen, values=values, preview=preview)
        summary = schedule.load_schedule(
            session,
            chosen,
            holidays=parsed.holidays,
            workdays=parsed.workdays,
            by=person.id,
            note=parsed.note,
            force=force == "1",
        )
        commit(session)
    except DomainError as exc:
        session.rollback()
        errors: dict[str, Any] = {_field(exc): exc.message}
        status = exc.status_code if exc.status_code in (403, 409) else 422
        if year.strip().isdigit() and schedule.MIN_YEAR <= int(year) <= schedule.MAX_YEAR:
            shown_year = int(year)
        return _render(
            request,
            session,
            person,
            shown_year,
            values=values,
            errors=errors,
            status_code=status,
        )
    response = RedirectResponse(f"{CALENDAR}?year={chosen}#year", status_code=303)
    flash(response, schedule.summary_text(summary))
    return response
