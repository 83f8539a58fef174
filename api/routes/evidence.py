"""The extension ledger (延期申请与审批) and evidence files (佐证材料) of an item."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, UploadFile
from fastapi.responses import FileResponse
from sqlmodel import Session

from api.auth import CaseReader, ItemWorker, allow
from api.deps import PageDep, PathId, SessionDep, commit
from config.settings import get_settings
from models import access, extensions
from models import evidence as evidence_files
from models.access import Can
from models.base import MAX_ID
from models.case import Listing, children, get
from models.tables import EvidenceFile, ItemExtension, Person, RectificationItem

router = APIRouter()
ExtensionDecider = Annotated[Person, Depends(allow(Can.DECIDE_EXTENSION))]
EvidenceReader = Annotated[Person, Depends(allow(Can.READ_EVIDENCE))]


def _item(session: Session, item_id: int, person: Person) -> RectificationItem:
    """The item if this person may see it (a department only its own), else 404."""
    item = get(session, RectificationItem, item_id)
    access.see_item(session, person, item)
    return item


@router.post(
    "/items/{item_id}/extensions",
    response_model=extensions.ExtensionPublic,
    status_code=201,
    tags=["items"],
)
def request_extension(
    item_id: PathId, data: extensions.ExtensionRequestIn, session: SessionDep, actor: ItemWorker
) -> ItemExtension:
    """申请延期: the item's department, before its deadline; the office approves or refuses."""
    _item(session, item_id, actor)
    line = extensions.request(session, item_id, data, by=actor.id)
    commit(session, line)
    return line


@router.get(
    "/items/{item_id}/extensions", response_model=extensions.ExtensionsPublic, tags=["items"]
)
def list_extensions(
    item_id: PathId, session: SessionDep, page: PageDep, reader: CaseReader
) -> Listing[ItemExtension]:
    """The item's extension ledger (延期台账), oldest first: every request and its decision."""
    _item(session, item_id, reader)
    return children(
        session,
        RectificationItem,
        item_id,
        ItemExtension,
        key="item_id",
        order_by=ItemExtension.id,
        **page,
    )


@router.post(
    "/extensions/{extension_id}/approve",
    response_model=extensions.ExtensionPublic,
    tags=["items"],
)
def approve_extension(
    extension_id: PathId,
    data: extensions.ExtensionDecisionIn,
    session: SessionDep,
    actor: ExtensionDecider,
) -> ItemExtension:
    """批准延期: the deadline moves to the requested date and its reminders follow it."""
    line = extensions.approve(session, extension_id, data, by=actor.id)
    commit(session, line)
    return line


@router.post(
    "/extensions/{extension_id}/refuse",
    response_model=extensions.ExtensionPublic,
    tags=["items"],
)
def refuse_extension(
    extension_id: PathId,
    data: extensions.ExtensionRefusalIn,
    session: SessionDep,
    actor: ExtensionDecider,
) -> ItemExtension:
    """不予批准: the deadline stays; the department hears why."""
    line = extensions.refuse(session, extension_id, data, by=actor.id)
    commit(session, line)
    return line


@router.post(
    "/items/{item_id}/evidence",
    response_model=evidence_files.EvidencePublic,
    status_code=201,
    tags=["items"],
)
def upload_evidence(
    item_id: PathId,
    session: SessionDep,
    actor: ItemWorker,
    file: Annotated[UploadFile, File(description="佐证材料：jpg、png、pdf、docx、xlsx")],
    progress_id: Annotated[
        int | None, Form(ge=1, le=MAX_ID, description="所属进展；不填则作为办结佐证")
    ] = None,
) -> EvidenceFile:
    """上传佐证材料 of progress or completion; refused (413/422) with the limits named."""
    _item(session, item_id, actor)
    data = file.file.read(get_settings().evidence_max_bytes + 1)
    row = evidence_files.store(
        session,
        item_id,
        filename=file.filename or "",
        data=data,
        progress_id=progress_id,
        by=actor.id,
    )
    commit(session, row)
    return row


@router.get(
    "/items/{item_id}/evidence",
    response_model=evidence_files.EvidenceListPublic,
    tags=["items"],
)
def list_evidence(
    item_id: PathId, session: SessionDep, page: PageDep, reader: CaseReader
) -> Listing[EvidenceFile]:
    _item(session, item_id, reader)
    return children(
        session,
        RectificationItem,
        item_id,
        EvidenceFile,
        key="item_id",
        order_by=EvidenceFile.id,
        **page,
    )


@router.get(
    "/evidence/{evidence_id}",
    response_class=FileResponse,
    tags=["items"],
    responses={200: {"description": "文件内容"}},
)
def download_evidence(
    evidence_id: PathId, session: SessionDep, reader: EvidenceReader
) -> FileResponse:
    """下载佐证材料: the item's department, the office and the approvers."""
    row = evidence_files.readable(session, evidence_id, reader)
    path = evidence_files.path_for(row)
    session.rollback()  # nothing to write: hold no transaction while the file streams
    return FileResponse(path, media_type=row.content_type, filename=row.filename)
