"""The report's versions on the pages: the administrator's topic page and the approver's report
page list every version with its decision and links to its DOCX and PDF, the links download for
the signed-in reader, and the pages' queries do not grow with the number of versions. In a real
Chromium on a phone: the approver downloads a version's PDF by its link, under its Chinese name."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlmodel import Session, select

from config.db import engine_for, migrate, session_scope
from models import accounts, approvals
from models import report as reports
from models.enums import Stage
from models.tables import Report
from tests.conftest import ANONYMOUS, sql_statements
from tests.factories import LoopBuilder
from tests.pages.conftest import PASSWORD, sign_in, sign_in_client
from tests.pages.test_admin_pages import prefect_down  # noqa: F401  (a fixture)


def _returned_and_resubmitted(loop, session: Session) -> Report:  # type: ignore[no-untyped-def]
    topic = loop.advance(loop.topic(), to=Stage.REPORT, start=True)
    report = session.exec(select(Report).where(Report.topic_id == topic.id)).one()
    reports.return_report(
        session, report.id, reports.ReportReturn(reason="请补充资金来源"), by=loop.cast.approver.id
    )
    reports.revise(
        session,
        report.id,
        reports.ReportUpdate(content="补充资金来源后的协商成果报告正文。" * 2),
        by=loop.cast.admin.id,
    )
    session.commit()
    return report


def _versions(html: str) -> list[str]:
    return re.findall(r'<li class="version" id="version-(\d+)">', html)


@pytest.mark.usefixtures("prefect_down")
def test_the_admin_topic_page_lists_versions_with_decisions_and_downloads(  # type: ignore[no-untyped-def]
    client, loop, session: Session
) -> None:
    report = _returned_and_resubmitted(loop, session)
    sign_in_client(client, session, loop.cast.admin, "wangmin")
    page = client.get(f"/admin/topics/{report.topic_id}", headers=ANONYMOUS)
    assert page.status_code == 200, page.text
    section = page.text[page.text.index('id="report"') :]
    assert _versions(section) == ["2", "1"]  # newest first
    assert '第 1 版</strong> <span class="version-decision">退回修改' in section
    assert "意见：请补充资金来源" in section and "待审定" in section
    for n in (1, 2):
        for kind in ("docx", "pdf"):
            assert f'href="/reports/{report.id}/versions/{n}.{kind}"' in section
    # The link works with the page's own sign-in (the session cookie), no bearer token.
    got = client.get(f"/reports/{report.id}/versions/1.pdf", headers=ANONYMOUS)
    assert got.status_code == 200 and got.content.startswith(b"%PDF-")
    name = quote(f"协商成果报告-议题{report.topic_id}-第1版.pdf")
    assert got.headers["content-disposition"] == f"attachment; filename*=UTF-8''{name}"


def test_the_approver_reads_every_version_on_the_report_page(  # type: ignore[no-untyped-def]
    client, loop, session: Session
) -> None:
    report = _returned_and_resubmitted(loop, session)
    sign_in_client(client, session, loop.cast.approver, "chenjianguo")
    page = client.get(f"/approvals/reports/{report.id}", headers=ANONYMOUS)
    assert page.status_code == 200, page.text
    assert _versions(page.text) == ["2", "1"]
    assert f'href="/reports/{report.id}/versions/2.docx"' in page.text
    assert "退回修改：" in page.text and loop.cast.approver.name in page.text
    word = client.get(f"/reports/{report.id}/versions/2.docx", headers=ANONYMOUS)
    assert word.status_code == 200 and word.content.startswith(b"PK")


def test_the_report_page_takes_the_same_queries_however_many_versions(  # type: ignore[no-untyped-def]
    loop, session: Session
) -> None:
    topic = loop.advance(loop.topic(), to=Stage.REPORT, start=True)
    report = session.exec(select(Report).where(Report.topic_id == topic.id)).one()
    with sql_statements(session) as statements:
        session.expire_all()
        approvals.report_to_decide(session, report.id)
        few = len(statements)
        for i in range(4):
            reports.revise(
                session,
                report.id,
                reports.ReportUpdate(content=f"第 {i + 2} 稿的协商成果报告正文内容。"),
                by=loop.cast.admin.id,
            )
        session.flush()
        session.expire_all()
        statements.clear()
        found = approvals.report_to_decide(session, report.id)
        assert len(statements) <= few
    assert [v.number for v in found.versions] == [5, 4, 3, 2, 1]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A report returned once and resubmitted (two versions), for the browser."""
    url = f"sqlite:///{tmp_path_factory.mktemp('report_versions') / 'case.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as s:
        loop = LoopBuilder(s)
        report = _returned_and_resubmitted(loop, s)
        accounts.set_password(s, loop.cast.approver.id, "chenjianguo", PASSWORD)
        found = {"url": url, "report_id": report.id, "topic_id": report.topic_id}
    engine_for(url).dispose()
    return found


def test_on_a_phone_the_approver_downloads_a_version_by_its_link(  # type: ignore[no-untyped-def]
    phone_page, case, tmp_path: Path
) -> None:
    page = phone_page
    page.goto(f"/approvals/reports/{case['report_id']}")
    sign_in(page, "chenjianguo")
    page.wait_for_url(re.compile(rf"/approvals/reports/{case['report_id']}$"))
    first = page.locator("#version-1")
    assert "退回修改" in first.inner_text() and "请补充资金来源" in first.inner_text()
    link = first.get_by_role("link", name="下载 PDF")
    assert (
        link.is_visible()
        and page.locator("#version-2").get_by_role("link", name="下载 Word（DOCX）").is_visible()
    )
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner  # no horizontal scroll at 390 px
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == f"协商成果报告-议题{case['topic_id']}-第1版.pdf"
    saved = tmp_path / "v1.pdf"
    download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF-")
