"""台账导入: the template, a dry run of an uploaded sheet, applying it as a flow run, progress."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import anyio
from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response
from sqlmodel import Session, func, select

from api import launcher
from api.auth import Actor, current_person_brief
from api.deps import Limit, Offset, PathId, SessionDep, UnitOfWorkDep, commit
from api.errors import ServiceUnavailable
from models import ledger
from models.base import MAX_ID
from models.enums import Role
from models.errors import Invalid
from models.tables import LedgerImport, LedgerImportStatus, Person

router = APIRouter(prefix="/imports", tags=["imports"])


def attachment(filename: str) -> dict[str, str]:
    """A download's header with a Chinese file name (RFC 5987), which every browser reads."""
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}


def _importer(person: Actor) -> Person:
    ledger.check_import_role(person)
    return person


def _importer_brief(person: Annotated[Person, Depends(current_person_brief)]) -> Person:
    ledger.check_import_role(person)
    return person


# The office, or a department's officer or head (for his own department: models.ledger).
Importer = Annotated[Person, Depends(_importer)]
ImporterBrief = Annotated[Person, Depends(_importer_brief)]


@router.get(
    "/template.xlsx",
    response_class=Response,
    responses={200: {"content": {ledger.MEDIA_TYPES["xlsx"]: {}}, "description": "导入模板"}},
)
def template(_: Actor) -> Response:
    """The sheet to fill in: its headers, an example line and what each column means."""
    return Response(
        ledger.template_xlsx(),
        media_type=ledger.MEDIA_TYPES["xlsx"],
        headers={
            "Content-Disposition": "attachment; filename*=UTF-8''%E5%8F%B0%E8%B4%A6%E5%AF%BC%E5%85%A5%E6%A8%A1%E6%9D%BF.xlsx"
        },
    )


@router.post("", response_model=ledger.DryRunPublic, status_code=201)
def upload(
    session: SessionDep,
    person: Importer,
    file: Annotated[UploadFile, File(description="台账文件（.xlsx 或 .csv，表头见导入模板）")],
    department_id: Annotated[int, Form(ge=1, le=MAX_ID, description="导入的责任单位")],
    dry_run: Annotated[bool, Query(description="试导入：只检查、不修改；须为 true")] = True,
) -> ledger.DryRunPublic:
    """Dry run: every row's decision (新建（签收 / 转交 / 待转交）/ 更新 / 无变化 / 拒绝, with
    row, column and reason); nothing but the import record is written. Apply it with
    POST /imports/{id}/apply."""
    if not dry_run:
        raise Invalid(
            "须先试导入（dry_run=true）并核对结果，再以 POST /imports/{id}/apply 正式导入",
            field="dry_run",
        )
    content = file.file.read()
    row, tally = ledger.upload(
        session,
        department_id=department_id,
        filename=file.filename or "台账.csv",
        content=content,
        by=person,
    )
    commit(session, row)
    public = ledger.LedgerImportPublic.model_validate(row, from_attributes=True)
    return ledger.DryRunPublic(
        **public.model_dump(exclude={"status_label", "progress_label"}),
        rows=[d.public() for d in tally.decisions],
    )


@router.get("", response_model=ledger.LedgerImportsPublic)
def list_imports(
    session: SessionDep,
    person: Importer,
    department_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> ledger.LedgerImportsPublic:
    """Newest first; a department's people see their own department's imports."""
    query = select(LedgerImport)
    if person.role != Role.ADMINISTRATOR:
        department_id = person.department_id or 0
    if department_id is not None:
        query = query.where(LedgerImport.department_id == department_id)
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(LedgerImport.id.desc()).limit(limit).offset(offset)  # type: ignore[union-attr]
    ).all()
    return ledger.LedgerImportsPublic(
        data=[ledger.LedgerImportPublic.model_validate(r, from_attributes=True) for r in rows],
        count=count,
    )


@router.get("/{import_id:int}", response_model=ledger.LedgerImportPublic)
def read_import(import_id: PathId, session: SessionDep, person: Importer) -> LedgerImport:
    """Status and progress (rows done / total) while it runs; its counts and refused rows."""
    row = ledger.read_import(session, import_id)
    ledger.check_importer(session, person, row.department_id)
    return row


def _queue(session: Session, import_id: int, person: Person) -> tuple[str, str]:
    row = ledger.queue_apply(session, import_id, by=person)
    session.flush()
    install = launcher.installation_id(session)
    return row.sha256, f"{install}:ledger-import:{import_id}:{row.applied_at:%Y%m%dT%H%M%S%f}"


def _unqueue(session: Session, import_id: int, reason: str) -> None:
    row = session.get(LedgerImport, import_id)
    if row is not None and row.status is LedgerImportStatus.QUEUED:
        row.status = LedgerImportStatus.CHECKED
        row.failure = reason[:1000]


def _record_run(session: Session, import_id: int, flow_run_id: str) -> LedgerImport:
    row = ledger.read_import(session, import_id)
    row.flow_run_id = flow_run_id
    return row


@router.post("/{import_id:int}/apply", response_model=ledger.LedgerImportPublic, status_code=202)
async def apply(import_id: PathId, uow: UnitOfWorkDep, person: ImporterBrief) -> LedgerImport:
    """Apply a checked import as a Prefect flow run; watch GET /imports/{id} for its progress.
    The rows are decided again as the case file is then, so the counts may differ from the
    dry run's if items changed meanwhile; nothing is ever deleted."""

    def queue() -> str:
        with uow() as session:
            return _queue(session, import_id, person)[1]

    key = await anyio.to_thread.run_sync(queue)
    try:
        run = await launcher.launch_ledger_import(import_id, key)
    except ServiceUnavailable as exc:
        reason = exc.message

        def undo() -> None:
            with uow() as session:
                _unqueue(session, import_id, reason)

        await anyio.to_thread.run_sync(undo)
        raise

    def record() -> LedgerImport:
        with uow() as session:
            return _record_run(session, import_id, run.id)

    return await anyio.to_thread.run_sync(record)
