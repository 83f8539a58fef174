"""The office's page of recurring runs on demand (调度与通报): the weekly dispatch (周调度), the
monthly bulletin (月通报) and the quarterly review (季度评估) started now, the bulletins made so
far with their files to download, and the latest of these runs as Prefect records them.

A start goes through the launcher functions the API's `POST /dispatch/weekly` and
`POST /bulletins/{kind}` call, with no database transaction open (the person is read in a
session that ends at once); the answer links to the run in the Prefect UI. A Prefect that does
not answer leaves the page readable: the list of runs gives way to a note, and a start is
refused with the reason on the page (nothing started)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from api import auth, launcher
from api.deps import UnitOfWorkDep
from api.errors import ServiceUnavailable
from api.launcher import UnitOfWork
from api.pages.admin import RUN_STATES, prefect_run_url
from api.pages.render import PageRoute, flash, page, require
from api.pages.routes import PageNumber, Reader
from models import bulletin
from models.access import Can
from models.bulletin import FORMAT_LABELS, BulletinKind, FileFormat
from models.deadlines import format_local
from models.errors import DomainError
from models.tables import Person

BULLETINS = "/admin/bulletins"
PER_PAGE = 20
RUNS_SHOWN = 10
# How long the page waits for Prefect's list of runs before it shows the page without it.
RUNS_WITHIN_SECONDS = 3.0
router = APIRouter(route_class=PageRoute, include_in_schema=False)
Text = Annotated[str, Form()]
WEEKLY = "weekly"
WHAT = {WEEKLY: "周调度", **{k.value: k.label for k in BulletinKind}}


def _rows(uow: UnitOfWork, page_no: int) -> tuple[list[dict[str, Any]], int]:
    """One page of bulletins, newest period first, each with the files that exist."""
    with uow() as session:
        found = bulletin.list_bulletins(session, limit=PER_PAGE, offset=(page_no - 1) * PER_PAGE)
        rows = []
        for row in found.data:
            period = bulletin.period_of_row(row)
            files = []
            for fmt in FileFormat:
                if fmt.value not in (row.files or {}):
                    continue
                present = bulletin.file_path(row, fmt) is not None
                address = bulletin.file_address(row.id, fmt)  # type: ignore[arg-type]
                files.append({"label": FORMAT_LABELS[fmt], "href": address if present else None})
            overall = (row.summary or {}).get("overall", {})
            rows.append(
                {
                    "id": row.id,
                    "title": period.title,
                    "kind": period.kind.label,
                    "generated": format_local(row.generated_at) if row.generated_at else "",
                    "completion": bulletin.pct(overall.get("completion_rate")),
                    "overdue": (row.summary or {}).get("overdue", {}).get("total", 0),
                    "files": files,
                }
            )
        return rows, found.count


def _when(run: launcher.FlowRunPublic) -> str:
    moment = run.start_time or run.expected_start_time or run.created
    return format_local(moment) if moment else ""


async def _runs() -> tuple[list[dict[str, Any]], str | None]:
    """The latest runs as Prefect records them, or why they cannot be shown now."""
    try:
        with anyio.fail_after(RUNS_WITHIN_SECONDS):
            runs = await launcher.recurring_runs(RUNS_SHOWN)
    except (ServiceUnavailable, TimeoutError):
        return [], "流程引擎（Prefect）暂时无法访问，运行记录稍后可见；已生成的通报仍可下载。"
    return [
        {
            "what": launcher.RECURRING_NAMES.get(run.flow_name or "", run.flow_name or run.name),
            "interim": "interim" in run.tags,
            "period": run.parameters.get("period"),
            "on_demand": "on-demand" in run.tags,
            "state": RUN_STATES.get(run.state_type or "", run.state_name or "未知"),
            "state_type": (run.state_type or "").lower(),
            "when": _when(run),
            "url": prefect_run_url(run.id),
        }
        for run in runs
    ], None


async def _render(
    request: Request,
    uow: UnitOfWork,
    person: Person,
    *,
    page_no: int = 1,
    started: uuid.UUID | None = None,
    form: str | None = None,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows, count = await anyio.to_thread.run_sync(_rows, uow, page_no)
    runs, runs_error = await _runs()
    return page(
        request,
        "bulletins.html",
        person=person,
        status_code=status_code,
        title="调度与通报",
        rows=rows,
        count=count,
        page_no=page_no,
        pages=max(1, -(-count // PER_PAGE)),
        runs=runs,
        runs_error=runs_error,
        started_url=prefect_run_url(str(started)) if started else None,
        form=form,
        values=values or {},
        errors=errors or {},
        kinds=list(BulletinKind),
        completion_label=bulletin.KPI_LABELS["completion_rate"],
    )


@router.get(BULLETINS)
async def bulletins_page(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    page_no: PageNumber = 1,
    started: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    """The forms to start each run now, the bulletins with their files, the latest runs."""
    require(person, Can.RUN_LOOP)
    return await _render(request, uow, person, page_no=page_no, started=started)


async def _start(
    request: Request,
    uow: UnitOfWork,
    person: Person,
    what: str,
    values: dict[str, str],
    launch: Any,
) -> Response:
    """Launch with no transaction open; 303 back with the run linked, or the page again with
    the refusal beside the form (422 bad period, 409 not yet, 503 Prefect away)."""
    require(person, Can.RUN_LOOP)
    auth._limit_actions(person)
    try:
        run = await launch()
    except DomainError as exc:
        field = "period" if what != WEEKLY and exc.status_code == 422 else "form"
        status = 409 if exc.status_code == 409 else 422
        errors = {field: exc.message}
    except ServiceUnavailable as exc:
        errors, status = {"form": f"未能启动{WHAT[what]}：{exc.message}"}, 503
    else:
        response = RedirectResponse(f"{BULLETINS}?started={run.id}#runs", status_code=303)
        short = run.id[:8]
        flash(
            response,
            f"{WHAT[what]}已在排队或运行中（流程运行 {short}），未重复启动。"
            if run.existing
            else f"已启动{WHAT[what]}（流程运行 {short}），完成后结果见下方。",
        )
        return response
    return await _render(
        request, uow, person, form=what, values=values, errors=errors, status_code=status
    )


@router.post(BULLETINS + "/weekly")
async def start_weekly(request: Request, person: Reader, uow: UnitOfWorkDep) -> Response:
    """周调度 now, as `POST /dispatch/weekly` (digests are keyed per ISO week: none twice)."""
    return await _start(request, uow, person, WEEKLY, {}, launcher.launch_weekly_dispatch)


@router.post(BULLETINS + "/{kind}")
async def start_bulletin(
    request: Request,
    person: Reader,
    uow: UnitOfWorkDep,
    kind: BulletinKind,
    period: Text = "",
    interim: Text = "",
) -> Response:
    """月通报 / 季度评估 now, as `POST /bulletins/{kind}`: the period typed (empty: the last
    one that has ended), or with 中期 the running one so far."""
    values = {"period": period, "interim": interim}

    async def launch() -> launcher.FlowRunPublic:
        return await launcher.launch_bulletin_on_demand(
            kind, period.strip() or None, interim=interim == "1"
        )

    return await _start(request, uow, person, kind.value, values, launch)
