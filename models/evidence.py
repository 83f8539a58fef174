"""Evidence files (佐证材料) of progress and completion: checked by content, kept outside the
database under the data directory by their SHA-256, recorded in a row and in the audit trail.

How a file and its row stay together (the transaction owns the file):

1. `store` checks everything first (who, the item, the size, the type by content), then writes
   the bytes to a temporary name `evidence/tmp/<sha256>.<random>.part` and stages the row;
2. the caller commits: only then is the file renamed to its content-addressed name
   `evidence/<sha[:2]>/<sha256>.<kind>` (an `after_commit` hook on the session). The same
   content uploaded twice is stored once;
3. a rollback (a rule refused later in the request, the database failed) deletes the temporary
   file (an `after_soft_rollback` hook), so a failed transaction leaves no file behind;
4. a process that dies between the commit and the rename leaves the `.part` file: its row names
   its SHA-256, so `path_for` finishes the rename when the file is first asked for. A process
   that dies before the commit leaves a `.part` file no row names; `sweep_orphans` deletes those.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import uuid
import zipfile
from pathlib import Path
from typing import Any

from pydantic import computed_field
from sqlalchemy import event
from sqlmodel import Session, select

from config.settings import get_settings
from models.base import Page, utcnow
from models.case import audit, get
from models.enums import ItemStatus, Role
from models.errors import Conflict, DomainError, Forbidden, Invalid
from models.rectification import ITEM_STATUS_LABELS, _ensure_officer
from models.tables import (
    EvidenceFile,
    EvidenceFileRecord,
    Person,
    ProgressUpdate,
    RectificationItem,
)

CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
KIND_NAMES = {"jpg": "JPG 图片", "png": "PNG 图片", "pdf": "PDF", "docx": "Word", "xlsx": "Excel"}
# Who may read an item's evidence besides its lead department.
READERS = (Role.ADMINISTRATOR, Role.APPROVER)
MAY_UPLOAD = (ItemStatus.ACKNOWLEDGED, ItemStatus.IN_PROGRESS)
_PENDING = "xieshang.evidence_pending"


class TooLarge(DomainError):
    """A file above the size limit (413), with the limit in the message."""

    status_code = 413


class EvidencePublic(EvidenceFileRecord):
    id: int

    @computed_field(description="下载地址（GET）")  # type: ignore[prop-decorator]
    @property
    def download(self) -> str:
        return f"/evidence/{self.id}"


class EvidenceListPublic(Page[EvidencePublic]):
    """An item's evidence files, oldest first."""


def size_text(n: int) -> str:
    """A file size as a person reads it: '820 KB', '3.5 MB'."""
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def limits_text() -> str:
    s = get_settings()
    kinds = "、".join(s.evidence_types)
    return f"仅接受 {kinds} 文件（按文件内容识别，改扩展名无效），单个文件不超过 {size_text(s.evidence_max_bytes)}"


def sniff(data: bytes) -> str | None:
    """The file's type from its bytes, whatever its name says: jpg, png, pdf, docx, xlsx."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if data.startswith(b"PK\x03\x04"):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except zipfile.BadZipFile:
            return None
        if "[Content_Types].xml" in names:
            if "word/document.xml" in names:
                return "docx"
            if "xl/workbook.xml" in names:
                return "xlsx"
    return None


def _root() -> Path:
    return get_settings().evidence_dir


def stored_path(sha256: str, kind: str) -> Path:
    """The content-addressed place of a file."""
    return _root() / sha256[:2] / f"{sha256}.{kind}"


def _on_outcome(session: Session) -> list[tuple[Path, Path]]:
    """The files this session's transaction owns; hooks rename them on commit, drop them on
    rollback (registered once per session)."""
    pending: list[tuple[Path, Path]] | None = session.info.get(_PENDING)
    if pending is not None:
        return pending
    pending = session.info[_PENDING] = []

    @event.listens_for(session, "after_commit")
    def _commit(s: Session) -> None:
        if s.in_nested_transaction():  # a savepoint released: the transaction goes on
            return
        for tmp, final in pending:
            _finish(tmp, final)
        pending.clear()

    @event.listens_for(session, "after_soft_rollback")
    def _rollback(s: Session, previous: Any) -> None:
        if previous.parent is not None:  # an inner savepoint: the transaction goes on
            return
        for tmp, _ in pending:
            tmp.unlink(missing_ok=True)
        pending.clear()

    return pending


def _finish(tmp: Path, final: Path) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    if final.exists():  # the same content is already stored
        tmp.unlink(missing_ok=True)
    else:
        os.replace(tmp, final)


def store(
    session: Session,
    item_id: int,
    *,
    filename: str,
    data: bytes,
    progress_id: int | None,
    by: int | None,
) -> EvidenceFile:
    """Attach a file to an item (and to one of its progress reports, if named); without a
    progress report it proves the completion. Refused before anything is written."""
    item = get(session, RectificationItem, item_id, for_update=True)
    person = _ensure_officer(session, item, by, "上传佐证材料")
    if item.status not in MAY_UPLOAD:
        raise Conflict(f"事项当前为“{ITEM_STATUS_LABELS[item.status]}”，不能上传佐证材料")
    if progress_id is not None:
        progress = session.get(ProgressUpdate, progress_id)
        if progress is None or progress.item_id != item_id:
            raise Invalid(f"进展 {progress_id} 不是本事项的进展", field="progress_id")
    settings = get_settings()
    if len(data) > settings.evidence_max_bytes:
        raise TooLarge(f"文件过大（{size_text(len(data))}）：{limits_text()}", field="file")
    if not data:
        raise Invalid(f"文件为空：{limits_text()}", field="file")
    kind = sniff(data)
    if kind is None or kind not in settings.evidence_types:
        what = f"{KIND_NAMES[kind]} 文件" if kind else "无法识别的文件"
        raise Invalid(f"文件类型不支持（{what}）：{limits_text()}", field="file")
    sha = hashlib.sha256(data).hexdigest()
    tmp = _root() / "tmp" / f"{sha}.{uuid.uuid4().hex}.part"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    _on_outcome(session).append((tmp, stored_path(sha, kind)))
    row = EvidenceFile(
        item_id=item_id,
        progress_id=progress_id,
        filename=Path(filename or f"evidence.{kind}").name[:200],
        kind=kind,
        content_type=CONTENT_TYPES[kind],
        size=len(data),
        sha256=sha,
        uploaded_by_id=person.id,  # type: ignore[arg-type]
    )
    session.add(row)
    session.flush()
    audit(
        session,
        action="evidence_uploaded",
        topic_id=item.topic_id,
        actor=person,
        item_id=item_id,
        evidence_id=row.id,
        progress_id=progress_id,
        filename=row.filename,
        kind=kind,
        size=len(data),
        sha256=sha,
    )
    return row


def readable(session: Session, evidence_id: int, person: Person) -> EvidenceFile:
    """The file row if this person may download it: the item's department, the office and the
    approvers (403 otherwise)."""
    row = get(session, EvidenceFile, evidence_id)
    item = get(session, RectificationItem, row.item_id)
    if person.role in READERS:
        return row
    if (
        person.role in (Role.OFFICER, Role.DEPARTMENT_HEAD)
        and person.department_id == item.lead_department_id
    ):
        return row
    raise Forbidden("只有该事项的责任单位、协商办和审定人可以下载佐证材料")


def path_for(row: EvidenceFile) -> Path:
    """Where the file's bytes are; finishes a rename a crash interrupted (see the module)."""
    final = stored_path(row.sha256, row.kind)
    if not final.exists():
        for tmp in sorted((_root() / "tmp").glob(f"{row.sha256}.*.part")):
            if hashlib.sha256(tmp.read_bytes()).hexdigest() == row.sha256:
                _finish(tmp, final)
                break
    if not final.exists():
        raise Conflict(f"佐证材料 {row.id} 的文件不在数据目录中，请联系系统管理员恢复")
    return final


def sweep_orphans(session: Session, *, older_than: dt.timedelta = dt.timedelta(days=1)) -> int:
    """Delete temporary files no row names (left by a process that died before its commit)."""
    folder = _root() / "tmp"
    if not folder.exists():
        return 0
    cutoff = (utcnow() - older_than).timestamp()
    removed = 0
    for tmp in folder.glob("*.part"):
        if tmp.stat().st_mtime > cutoff:
            continue
        sha = tmp.name.split(".", 1)[0]
        row = session.exec(select(EvidenceFile).where(EvidenceFile.sha256 == sha)).first()
        if row is None:
            tmp.unlink(missing_ok=True)
            removed += 1
        else:  # a committed row whose rename was cut short
            path_for(row)
    return removed
