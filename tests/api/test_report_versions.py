"""Every submission of a report is a version kept as it was sent, with its decision, and each
version downloads as a zh-CN DOCX and PDF: submit → return → resubmit → approve through the API,
an earlier version unchanged by a later revision, the documents' text and headers, the 404s."""

from __future__ import annotations

import io
from urllib.parse import quote

import docx
import pypdf
from sqlmodel import Session, select

from models import report as reports
from models.enums import Stage, VersionDecision
from models.tables import Report, ReportVersion, Suggestion
from tests.factories import LoopBuilder

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _report(loop: LoopBuilder, session: Session) -> tuple[Report, list[Suggestion]]:
    topic = loop.advance(loop.topic(), to=Stage.REPORT, start=True)
    report = session.exec(select(Report).where(Report.topic_id == topic.id)).one()
    suggestions = list(
        session.exec(
            select(Suggestion).where(Suggestion.topic_id == topic.id).order_by(Suggestion.id)
        )
    )
    return report, suggestions


def _flat(text: str) -> str:
    """Text without spaces and line breaks (and the NULs pypdf reads from fpdf2's two-byte
    CMap one byte at a time), so a line wrapped in the PDF still matches."""
    return "".join(ch for ch in text if ch not in "\x00 \n")


def _pdf_text(data: bytes) -> str:
    return _flat("".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages))


def _docx_text(data: bytes) -> str:
    return _flat("\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs))


def test_submit_return_resubmit_approve_keeps_every_version_with_its_decision(  # type: ignore[no-untyped-def]
    client, loop, session: Session
) -> None:
    report, suggestions = _report(loop, session)
    cast = loop.cast
    admin, approver = client.as_(cast.admin), client.as_(cast.approver)
    compiled_title = report.title
    first = client.get(f"/reports/{report.id}/versions", headers=admin).json()
    assert first["count"] == 1
    v1 = first["data"][0]
    assert v1["number"] == 1 and v1["submitted_by_id"] is None and v1["decision"] is None
    assert [s["content"] for s in v1["suggestions"]] == [s.content for s in suggestions]
    assert v1["docx"] == f"/reports/{report.id}/versions/1.docx"
    assert client.get(f"/reports/{report.id}", headers=admin).json()["current_version"] == 1

    r = client.post(
        f"/reports/{report.id}/return", json={"reason": "请补充资金来源"}, headers=approver
    )
    assert r.status_code == 200, r.text
    r = client.put(
        f"/reports/{report.id}",
        json={
            "title": "关于加装电梯的协商成果报告（修改稿）",
            "content": "补充：资金来源为专项补贴。" * 3,
        },
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["current_version"] == 2
    r = client.post(f"/reports/{report.id}/approve", json={"comment": "同意报送"}, headers=approver)
    assert r.status_code == 200, r.text

    data = client.get(f"/reports/{report.id}/versions", headers=admin).json()["data"]
    assert [v["number"] for v in data] == [1, 2]
    one, two = data
    assert one["decision"] == VersionDecision.RETURNED
    assert one["decision_comment"] == "请补充资金来源"
    assert one["decided_by_id"] == cast.approver.id
    assert one["title"] == compiled_title
    assert two["title"] == "关于加装电梯的协商成果报告（修改稿）"
    assert two["submitted_by_id"] == cast.admin.id
    assert two["decision"] == VersionDecision.APPROVED
    assert two["decided_by_id"] == cast.approver.id and two["decision_comment"] == "同意报送"
    assert all(s["adopted"] is True for s in two["suggestions"])
    assert all("adopted" not in s for s in one["suggestions"])  # returned: nothing adopted


def test_a_decided_version_and_its_documents_never_change_after_later_revisions(  # type: ignore[no-untyped-def]
    client, loop, session: Session
) -> None:
    report, _ = _report(loop, session)
    admin, approver = client.as_(loop.cast.admin), client.as_(loop.cast.approver)
    original = report.content
    client.post(f"/reports/{report.id}/return", json={"reason": "请重写"}, headers=approver)
    pdf_url, docx_url = (f"/reports/{report.id}/versions/1.{k}" for k in ("pdf", "docx"))
    before_pdf = client.get(pdf_url, headers=admin).content
    before_docx = client.get(docx_url, headers=admin).content
    assert client.get(pdf_url, headers=admin).content == before_pdf  # deterministic
    for content in ("全新的报告正文，原稿作废。" * 3, "第三稿：再次修改的报告正文。" * 3):
        r = client.put(f"/reports/{report.id}", json={"content": content}, headers=admin)
        assert r.status_code == 200, r.text
    r = client.post(f"/reports/{report.id}/approve", json={}, headers=approver)
    assert r.status_code == 200, r.text

    session.expire_all()
    v1, v2, v3 = session.exec(
        select(ReportVersion)
        .where(ReportVersion.report_id == report.id)
        .order_by(ReportVersion.number)
    ).all()
    assert v1.content == original and v1.decision == VersionDecision.RETURNED
    assert v1.decision_comment == "请重写"
    # An edit before any decision supersedes the version the approver had not decided yet.
    assert v2.content.startswith("全新的报告正文") and v2.decision == VersionDecision.SUPERSEDED
    assert v2.decided_by_id == loop.cast.admin.id
    assert v3.content.startswith("第三稿") and v3.decision == VersionDecision.APPROVED
    # The first version's documents are byte for byte what they were before the revisions.
    assert client.get(pdf_url, headers=admin).content == before_pdf
    assert client.get(docx_url, headers=admin).content == before_docx
    assert "全新的报告正文" not in _pdf_text(before_pdf)
    assert "已由新版本取代" in _pdf_text(
        client.get(f"/reports/{report.id}/versions/2.pdf", headers=admin).content
    )


def test_the_documents_carry_title_version_suggestions_and_the_return_comment(  # type: ignore[no-untyped-def]
    client, loop, session: Session
) -> None:
    report, suggestions = _report(loop, session)
    cast = loop.cast
    approver = client.as_(cast.approver)
    client.post(f"/reports/{report.id}/return", json={"reason": "请补充资金来源"}, headers=approver)

    pdf = client.get(f"/reports/{report.id}/versions/1.pdf", headers=approver)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    name = f"协商成果报告-议题{report.topic_id}-第1版.pdf"
    assert pdf.headers["content-disposition"] == f"attachment; filename*=UTF-8''{quote(name)}"
    word = client.get(f"/reports/{report.id}/versions/1.docx", headers=approver)
    assert word.status_code == 200 and word.headers["content-type"] == DOCX_TYPE
    assert quote(name.replace(".pdf", ".docx")) in word.headers["content-disposition"]

    for text in (_pdf_text(pdf.content), _docx_text(word.content)):
        assert "协商成果报告" in text
        assert _flat(f"议题：老旧小区加装电梯（议题 {report.topic_id}）") in text
        assert _flat("版本：第 1 版") in text
        assert "状态：退回修改" in text and "退回意见：请补充资金来源" in text
        assert f"退回人：{cast.approver.name}" in text
        for i, s in enumerate(suggestions, 1):
            assert _flat(f"{i}. {s.content}") in text
        assert "张桂英：希望补贴" in text  # the consensus opinion and who said it


def test_an_approved_version_names_each_adoption(client, loop, session: Session) -> None:  # type: ignore[no-untyped-def]
    report, suggestions = _report(loop, session)
    first, second = suggestions[:2]
    r = client.post(
        f"/reports/{report.id}/approve",
        json={
            "decisions": [
                {"suggestion_id": first.id, "adopted": True},
                {"suggestion_id": second.id, "adopted": False, "note": "已有政策覆盖"},
            ]
        },
        headers=client.as_(loop.cast.approver),
    )
    assert r.status_code == 200, r.text
    data = client.get(f"/reports/{report.id}/versions/1.docx").content
    text = _docx_text(data)
    assert "审定通过" in text
    assert _flat(f"1. {first.content}（采纳）") in text
    assert _flat(f"2. {second.content}（不采纳：已有政策覆盖）") in text


def test_missing_versions_and_hidden_reports_are_404_in_chinese(  # type: ignore[no-untyped-def]
    client, loop, session: Session
) -> None:
    report, _ = _report(loop, session)
    r = client.get(f"/reports/{report.id}/versions/3.pdf")
    assert r.status_code == 404
    assert "没有第 3 版" in r.json()["detail"]
    r = client.get(f"/reports/{report.id + 1000}/versions/1.pdf")
    assert r.status_code == 404 and "不存在" in r.json()["detail"]
    assert client.get(f"/reports/{report.id + 1000}/versions").status_code == 404
    assert client.get(f"/reports/{report.id}/versions/1.txt").status_code == 422
    # Who may not read the report may not read its versions either.
    other = loop.cast.other_officer
    assert (
        client.get(f"/reports/{report.id}", headers=client.as_(other)).status_code
        == (
            status := client.get(f"/reports/{report.id}/versions/1.pdf", headers=client.as_(other))
        ).status_code
    )
    assert status.status_code in (403, 404)
    assert (
        client.get(f"/reports/{report.id}/versions", headers=client.as_(other)).status_code
        == status.status_code
    )


def test_version_lines_name_who_submitted_and_decided(loop, session: Session) -> None:  # type: ignore[no-untyped-def]
    report, _ = _report(loop, session)
    reports.return_report(
        session, report.id, reports.ReportReturn(reason="数据不全"), by=loop.cast.approver.id
    )
    reports.revise(
        session,
        report.id,
        reports.ReportUpdate(content="补全数据后的报告正文内容。" * 2),
        by=loop.cast.admin.id,
    )
    lines = reports.version_lines(session, report.id)
    assert [line.number for line in lines] == [2, 1]
    assert lines[0].submitted_by == loop.cast.admin.name and lines[0].decision_label == "待审定"
    assert lines[1].submitted_by == reports.AUTOMATIC
    assert lines[1].decided_by == loop.cast.approver.name
    assert lines[1].decision_comment == "数据不全"
