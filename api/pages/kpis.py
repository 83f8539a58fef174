"""指标看板: every KPI for a period beside its target and sample, a bar chart, the departments
ranked with their samples, and behind every number the records it counts (models.kpi_board).

Read-only pages for the office and the overseers (the readers of GET /kpis); the period is
chosen with a plain GET form."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response

from api.deps import QueryId, ReadSessionDep
from api.pages.render import PageRoute, page, require
from api.pages.routes import PageNumber, Reader
from models import kpi_board
from models.access import Can
from models.errors import Invalid

DASHBOARD = "/admin/kpis"
RECORDS = DASHBOARD + "/{key}/records"
router = APIRouter(route_class=PageRoute, include_in_schema=False)
PeriodText = Annotated[str | None, Query(max_length=20)]


def records_url(
    key: str,
    part: str,
    period: str,
    *,
    topic_id: int | None = None,
    department_id: int | None = None,
    page_no: int = 1,
) -> str:
    """The address of the records behind one number (the template links every number here)."""
    query: dict[str, str | int] = {"part": part}
    if period:
        query["period"] = period
    if topic_id is not None:
        query["topic_id"] = topic_id
    if department_id is not None:
        query["department_id"] = department_id
    if page_no > 1:
        query["page"] = page_no
    return RECORDS.format(key=key) + "?" + urlencode(query)


def _period(text: str | None) -> tuple[kpi_board.KpiPeriod, str | None]:
    """The chosen period, or everything up to now with the reason beside the chooser."""
    try:
        return kpi_board.parse_period(text), None
    except Invalid as exc:
        return kpi_board.parse_period(None), exc.message


@router.get(DASHBOARD)
def dashboard_page(
    request: Request,
    session: ReadSessionDep,
    person: Reader,
    period: PeriodText = None,
    topic_id: QueryId = None,
) -> Response:
    require(person, Can.OVERSEE)
    chosen, error = _period(period)
    found = kpi_board.dashboard(session, chosen, topic_id=topic_id)
    session.commit()
    choices = kpi_board.period_choices()
    if chosen.key not in {key for key, _ in choices}:
        choices.insert(1, (chosen.key, chosen.label))
    return page(
        request,
        "kpis.html",
        person=person,
        status_code=422 if error else 200,
        title="指标看板",
        board=found,
        choices=choices,
        typed=period or "",
        error=error,
        records_url=records_url,
    )


@router.get(RECORDS)
def records_page(
    request: Request,
    session: ReadSessionDep,
    person: Reader,
    key: str,
    part: Annotated[Literal["numerator", "denominator"], Query()] = "numerator",
    period: PeriodText = None,
    topic_id: QueryId = None,
    department_id: QueryId = None,
    page_no: PageNumber = 1,
) -> Response:
    require(person, Can.OVERSEE)
    found = kpi_board.records(
        session,
        key,
        part,
        kpi_board.parse_period(period),
        kpi_board.Scope(topic_id=topic_id, department_id=department_id),
        page=page_no,
    )
    session.commit()
    return page(
        request,
        "kpi_records.html",
        person=person,
        title=f"{found.kpi_label}明细",
        found=found,
        records_url=records_url,
    )
