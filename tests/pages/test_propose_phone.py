"""A resident on a phone, in a real Chromium: opens the proposal page without an account,
reads the rules, fixes a refused field, proposes, and follows the link to the topic's public
page; nothing scrolls sideways at 390×844."""

from __future__ import annotations

import re
from typing import Any

import pytest

from config.db import engine_for, migrate
from models.screening import RULES
from tests.pages.conftest import screenshot


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """An empty, migrated case file: a resident's proposal needs nothing before it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('propose') / 'case.db'}"
    migrate(url)
    engine_for(url).dispose()
    return {"url": url}


def _fits(page: Any) -> None:
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"横向滚动：内容宽 {width}px，屏幕 {inner}px（{page.url}）"


def test_a_resident_proposes_from_a_phone_and_follows_it(phone_page):  # type: ignore[no-untyped-def]
    page = phone_page
    page.goto("/login")
    page.get_by_role("link", name="提出议题建议").click()
    page.wait_for_url(re.compile(r"/p/propose$"))
    assert page.get_by_role("heading", name="提出议题建议").is_visible()
    rules = page.locator(".rule-list").inner_text()
    assert all(spec.label in rules for spec in RULES.values())
    _fits(page)
    screenshot(page, "propose-phone")

    page.get_by_label("具体情况").fill("小区门口斑马线褪色，早晚接送孩子的家长很多。")
    page.get_by_role("button", name="提交议题建议").click()
    error = page.locator("#e-title")
    error.wait_for()
    assert error.inner_text().startswith("请填写议题名称")
    assert page.get_by_label("具体情况").input_value().startswith("小区门口斑马线褪色")
    _fits(page)

    page.get_by_label("议题名称").fill("学校门口斑马线重新施划")
    page.get_by_label("已纳入信访程序的事项").check()
    page.get_by_role("button", name="提交议题建议").click()
    page.wait_for_url(re.compile(r"/p/propose/\d+/received$"))
    number = page.locator(".proposal-number").inner_text()
    assert re.fullmatch(r"第 \d+ 号", number)
    assert "已收到您的议题建议" in page.locator(".flash").inner_text()
    _fits(page)

    page.get_by_role("link", name="查看办理进展").click()
    page.wait_for_url(re.compile(r"/p/topics/\d+$"))
    assert page.get_by_role("heading", name=f"议题建议{number}").is_visible()
    assert "已受理" in page.locator(".badge").inner_text()
    assert "斑马线" not in page.locator("body").inner_text()  # not public before it is vetted
    _fits(page)
