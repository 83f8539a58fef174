"""Evidence files (佐证材料, issue 9 point 7): types by content and a size limit, both settings
and both named when a file is refused; stored outside the database by SHA-256, which the row
and the audit trail record; downloadable by the department, the office and the approvers; and
no completion without one."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from collections.abc import Iterator

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from config.settings import get_settings
from models import evidence
from models.enums import ItemStatus, Stage
from models.tables import AuditEvent, EvidenceFile, RectificationItem
from tests.factories import tiny_png


@pytest.fixture
def item(loop, session: Session) -> RectificationItem:
    """区住建局's item of a topic in 落实整改, its plan submitted (李强 is its officer)."""
    topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
    first = loop.items(topic)[0]
    loop.plan(first)
    session.commit()
    return first


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Settings changed for one test (XS_EVIDENCE_*), read afresh, restored afterwards."""
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


def _set(limits: pytest.MonkeyPatch, **env: str) -> None:
    for key, value in env.items():
        limits.setenv(key, value)
    get_settings.cache_clear()


def _upload(client, item_id: int, person, data: bytes, name: str = "现场.png", **form):  # type: ignore[no-untyped-def]
    return client.post(
        f"/items/{item_id}/evidence",
        files={"file": (name, data, "application/octet-stream")},
        data={k: str(v) for k, v in form.items()},
        headers=client.as_(person),
    )


def _office_file(kind: str, parts: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, body in parts.items():
            z.writestr(name, body)
    return buffer.getvalue()


DOCX = _office_file("docx", {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"})
XLSX = _office_file("xlsx", {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<x/>"})
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"


def _count(session: Session, model: type) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_an_upload_is_stored_by_its_sha256_and_audited(client, loop, session, item):
    data = tiny_png(7)
    r = _upload(client, item.id, loop.cast.officer, data)
    assert r.status_code == 201, r.text
    body = r.json()
    sha = hashlib.sha256(data).hexdigest()
    assert (body["sha256"], body["kind"], body["size"]) == (sha, "png", len(data))
    assert body["content_type"] == "image/png" and body["filename"] == "现场.png"
    stored = get_settings().evidence_dir / sha[:2] / f"{sha}.png"
    assert stored.read_bytes() == data  # outside the database, under its content's name
    assert not list((get_settings().evidence_dir / "tmp").glob(f"{sha}.*"))
    (event,) = session.exec(
        select(AuditEvent).where(AuditEvent.action == "evidence_uploaded")
    ).all()
    assert event.detail["sha256"] == sha == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert event.detail["evidence_id"] == body["id"] and event.actor_id == loop.cast.officer.id


@pytest.mark.parametrize(
    ("data", "kind"), [(PDF, "pdf"), (JPG, "jpg"), (DOCX, "docx"), (XLSX, "xlsx")]
)
def test_every_allowed_type_is_known_by_its_content(client, loop, item, data, kind):
    r = _upload(client, item.id, loop.cast.officer, data, name="材料.bin")
    assert r.status_code == 201, r.text
    assert r.json()["kind"] == kind


@pytest.mark.parametrize(
    "data",
    [
        b"just text, named like a picture",
        b"PK\x03\x04 not really a zip",
        _office_file("zip", {"readme.txt": b"hi"}),  # a zip, but no Office document
        b"GIF89a" + b"\x00" * 20,
    ],
)
def test_a_file_of_another_type_is_refused_with_the_allowed_types(
    client, loop, session, item, data
):
    r = _upload(client, item.id, loop.cast.officer, data, name="照片.png")
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "文件类型不支持" in detail and "jpg、png、pdf、docx、xlsx" in detail
    assert "按文件内容识别" in detail and "10.0 MB" in detail
    assert _count(session, EvidenceFile) == 0


def test_the_allowed_types_are_a_setting(client, loop, session, item, limits):
    _set(limits, XS_EVIDENCE_TYPES="pdf")
    r = _upload(client, item.id, loop.cast.officer, tiny_png())
    assert r.status_code == 422 and "仅接受 pdf 文件" in r.json()["detail"]
    assert "PNG 图片" in r.json()["detail"]  # what it was taken for
    assert _upload(client, item.id, loop.cast.officer, PDF).status_code == 201


def test_a_file_over_the_size_limit_is_refused_with_the_limit(client, loop, session, item, limits):
    _set(limits, XS_EVIDENCE_MAX_BYTES="2048")
    big = tiny_png() + b"\x00" * 3000
    r = _upload(client, item.id, loop.cast.officer, big)
    assert r.status_code == 413, r.text
    assert "文件过大" in r.json()["detail"] and "不超过 2 KB" in r.json()["detail"]
    assert _count(session, EvidenceFile) == 0
    assert _upload(client, item.id, loop.cast.officer, tiny_png()).status_code == 201


def test_an_upload_larger_than_other_bodies_gets_through(client, loop, item):
    """Bodies are capped at 1 MB; an evidence upload may carry a file up to its own limit."""
    photo = JPG[:-2] + b"\x00" * (3 * 1024 * 1024) + b"\xff\xd9"
    r = _upload(client, item.id, loop.cast.officer, photo, name="航拍.jpg")
    assert r.status_code == 201, r.text
    assert r.json()["size"] == len(photo)


def test_completion_needs_an_evidence_file(client, loop, session, item):
    body = {"summary": "已完成加装"}
    r = client.post(f"/items/{item.id}/complete", json=body, headers=client.as_(loop.cast.officer))
    assert r.status_code == 409, r.text
    assert "办结须至少上传一份佐证材料" in r.json()["detail"]
    assert f"/work/items/{item.id}）" in r.json()["detail"]  # the page where it is uploaded
    session.expire_all()
    assert session.get(RectificationItem, item.id).status == ItemStatus.IN_PROGRESS
    assert _upload(client, item.id, loop.cast.officer, tiny_png()).status_code == 201
    r = client.post(f"/items/{item.id}/complete", json=body, headers=client.as_(loop.cast.officer))
    assert r.status_code == 200, r.text
    (row,) = session.exec(select(EvidenceFile)).all()
    session.refresh(row)
    assert row.completion is True  # it proves the completion
    done = session.exec(select(AuditEvent).where(AuditEvent.action == "item_completed")).one()
    assert done.detail["evidence"] == [row.sha256]


def test_a_progress_report_carries_its_own_evidence(client, loop, session, item):
    c = loop.cast
    r = client.post(
        f"/items/{item.id}/progress",
        json={"note": "完成基坑开挖", "percent": 30},
        headers=client.as_(c.officer),
    )
    progress_id = r.json()["id"]
    r = _upload(client, item.id, c.officer, tiny_png(3), progress_id=progress_id)
    assert r.status_code == 201 and r.json()["progress_id"] == progress_id
    wrong = _upload(client, item.id, c.officer, tiny_png(4), progress_id=10_000)
    assert wrong.status_code == 422 and "不是本事项的进展" in wrong.json()["detail"]
    listed = client.get(f"/items/{item.id}/evidence").json()
    assert listed["count"] == 1 and listed["data"][0]["download"] == f"/evidence/{r.json()['id']}"


def test_a_standing_rule_is_named_by_its_document(client, loop, session, item):
    c = loop.cast
    _upload(client, item.id, c.officer, tiny_png())
    body = {"summary": "已建立长效机制", "long_term_mechanism": True}
    r = client.post(f"/items/{item.id}/complete", json=body, headers=client.as_(c.officer))
    assert r.status_code == 422 and [e["field"] for e in r.json()["errors"]] == [
        "long_term_mechanism_ref"
    ]
    body["long_term_mechanism_ref"] = "城南政办发〔2026〕12号"
    r = client.post(f"/items/{item.id}/complete", json=body, headers=client.as_(c.officer))
    assert r.status_code == 200, r.text
    assert r.json()["long_term_mechanism_ref"] == "城南政办发〔2026〕12号"


def test_the_download_is_the_same_bytes_for_those_who_may_read_it(client, loop, session, item):
    c = loop.cast
    data = _office_file("docx", {"[Content_Types].xml": b"<T/>", "word/document.xml": b"<d/>"})
    evidence_id = _upload(client, item.id, c.officer, data, name="整改报告.docx").json()["id"]
    for person in (c.officer, c.head, c.admin, c.approver):
        r = client.get(f"/evidence/{evidence_id}", headers=client.as_(person))
        assert r.status_code == 200, (person.name, r.text)
        assert r.content == data
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    # An officer of another department, a member and a resident may not.
    r = client.get(f"/evidence/{evidence_id}", headers=client.as_(c.other_officer))
    assert r.status_code == 403 and "只有该事项的责任单位" in r.json()["detail"]
    for person in (c.member, c.resident):
        assert client.get(f"/evidence/{evidence_id}", headers=client.as_(person)).status_code == 403


def test_another_department_may_not_upload(client, loop, session, item):
    r = _upload(client, item.id, loop.cast.other_officer, tiny_png())
    assert r.status_code == 404  # it does not see the item at all
    assert _count(session, EvidenceFile) == 0


def test_a_failed_transaction_leaves_no_file_behind(loop, session, item):
    """The file is written first under a temporary name, renamed only when the row commits,
    and deleted when the transaction rolls back."""
    root = get_settings().evidence_dir
    data = tiny_png(99) + uuid.uuid4().bytes  # a file of its own in the shared data directory
    sha = hashlib.sha256(data).hexdigest()
    evidence.store(
        session, item.id, filename="x.png", data=data, progress_id=None, by=item.officer_id
    )
    (tmp,) = list((root / "tmp").glob(f"{sha}.*.part"))
    assert tmp.read_bytes() == data and not evidence.stored_path(sha, "png").exists()
    session.rollback()
    assert not tmp.exists() and not evidence.stored_path(sha, "png").exists()

    row = evidence.store(
        session, item.id, filename="x.png", data=data, progress_id=None, by=item.officer_id
    )
    session.commit()
    assert evidence.stored_path(sha, "png").read_bytes() == data
    assert not list((root / "tmp").glob(f"{sha}.*.part"))
    assert evidence.path_for(row) == evidence.stored_path(sha, "png")


def test_a_rename_cut_short_by_a_crash_is_finished_on_first_read(loop, session, item):
    root = get_settings().evidence_dir
    data = tiny_png(123) + uuid.uuid4().bytes
    sha = hashlib.sha256(data).hexdigest()
    row = evidence.store(
        session, item.id, filename="x.png", data=data, progress_id=None, by=item.officer_id
    )
    session.info["xieshang.evidence_pending"].clear()  # as if the process died after commit
    session.commit()
    assert not evidence.stored_path(sha, "png").exists()
    assert evidence.path_for(row).read_bytes() == data
    assert not list((root / "tmp").glob(f"{sha}.*.part"))
