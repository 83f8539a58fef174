"""The office's operations pages in a real Chromium at phone size (390×844): the administrator
signs in from the calendar page's address, loads a year's official schedule by pasting it,
reads the answer, then downloads a bulletin's spreadsheet from the bulletins page; neither page
scrolls sideways."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from config.db import engine_for, migrate, session_scope
from config.settings import get_settings
from models import accounts, bulletin
from models.bulletin import BulletinKind
from models.tables import HolidaySchedule
from tests.factories import LoopBuilder
from tests.pages.conftest import PASSWORD, screenshot, sign_in
from tests.pages.test_bulletin_pages import make_bulletin

LOGIN = "wangmin"
LINES = "日期,类型,名称\n2027-01-01~2027-01-03,放假,元旦\n2027-02-05~2027-02-11,放假,春节\n2027-02-14,上班\n"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An administrator, and October's monthly bulletin with its spreadsheet built as the flow
    builds it, in a data directory the module's server shares (its reports are found there)."""
    from tasks import render

    base = tmp_path_factory.mktemp("ops")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XS_DATA_DIR", str(base / "data"))
        get_settings.cache_clear()
        url = f"sqlite:///{base / 'case.db'}"
        migrate(url)
        with session_scope(engine_for(url)) as s:
            loop = LoopBuilder(s)
            accounts.set_password(s, loop.cast.admin.id, LOGIN, PASSWORD)
            period = bulletin.parse_period(BulletinKind.MONTHLY, "2026-10")
            xlsx = render.build_xlsx(bulletin.compute(s, period))
            row = make_bulletin(s, period, {"xlsx": xlsx})
            found = {"url": url, "bulletin_id": row.id, "title": bulletin.period_of_row(row).title}
        engine_for(url).dispose()
        yield found  # the server starts inside, with this data directory
    get_settings.cache_clear()


def _fits(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_on_a_phone_the_office_loads_a_calendar_and_downloads_a_bulletin(  # type: ignore[no-untyped-def]
    phone_page, case, server, tmp_path: Path
):
    from openpyxl import load_workbook

    page = phone_page
    page.goto("/admin/calendar?year=2027")
    sign_in(page, LOGIN)
    page.wait_for_url("**/admin/calendar?year=2027")
    assert "2027 年官方放假安排尚未导入" in page.locator("#year").inner_text()
    assert _fits(page)

    page.get_by_label("放假安排").fill(LINES)
    page.get_by_role("button", name="导入", exact=True).click()
    page.locator(".flash").wait_for()
    assert page.url.endswith("/admin/calendar?year=2027#year"), page.locator("main").inner_text()
    assert (
        "已导入 2027 年官方放假安排：放假 10 天，调休上班 1 天"
        in page.locator(".flash").inner_text()
    )
    days = page.locator("#year").inner_text()
    assert "春节 2027年2月5日 星期五 至 2027年2月11日 星期四" in days
    assert "2027年2月14日 星期日" in days
    assert _fits(page)
    screenshot(page, "calendar-phone")
    with session_scope(engine_for(case["url"])) as s:
        assert len(s.exec(select(HolidaySchedule)).all()) == 11

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="调度与通报").click()
    page.wait_for_url("**/admin/bulletins")
    card = page.locator(f"#b-{case['bulletin_id']}")
    assert case["title"] in card.inner_text()
    assert _fits(page)
    screenshot(page, "bulletins-phone")
    with page.expect_download() as waiting:
        card.get_by_role("link", name="数据表").click()
    download = waiting.value
    assert download.suggested_filename == f"{case['title']}.xlsx"
    saved = tmp_path / "bulletin.xlsx"
    download.save_as(saved)
    assert case["title"] in load_workbook(saved)["概览"]["A1"].value
