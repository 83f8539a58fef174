"""The first pages in a real browser: sign in and land on what one owes, come back to the page
one asked for, a refused password beside the form, a phone-sized screen, and a topic's public
progress without anybody's name or phone number."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from sqlmodel import select

from config.db import engine_for, migrate, session_scope
from models import accounts
from models.deadlines import format_local
from models.enums import Stage
from models.tables import Person, RectificationItem
from tests.factories import LoopBuilder
from tests.pages.conftest import PASSWORD, screenshot, sign_in

PHONE = "13912345678"
LOGINS = {"officer": "liqiang", "member": "sunli", "admin": "wangmin"}


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A case file with one topic waiting for its items to be acknowledged (the officer owes a
    签收) and one topic closed with its result disclosed; everyone has a phone number."""
    tmp = tmp_path_factory.mktemp("pages")
    url = f"sqlite:///{tmp / 'case.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as s:
        loop = LoopBuilder(s)
        closed = loop.topic(title="背街小巷路灯维修")
        loop.advance(closed, to=Stage.ASSESSMENT, start=True)
        loop.finish(closed, Stage.ASSESSMENT)
        waiting = loop.topic()
        loop.advance(waiting, to=Stage.TRANSFER, start=True)
        cast = loop.cast
        for person in s.exec(select(Person)):
            person.phone = PHONE
        for role, login in LOGINS.items():
            accounts.set_password(s, getattr(cast, role).id, login, PASSWORD)
        item = s.exec(
            select(RectificationItem).where(
                RectificationItem.topic_id == waiting.id,
                RectificationItem.officer_id == cast.officer.id,
            )
        ).first()
        assert item is not None and item.ack_due_at is not None
        names = [p.name for p in s.exec(select(Person))]
        found = {
            "url": url,
            "waiting_id": waiting.id,
            "closed_id": closed.id,
            "item_title": item.title,
            "ack_deadline": format_local(item.ack_due_at),
            "names": names,
            "officer_name": cast.officer.name,
        }
    engine_for(url).dispose()
    return found


def test_an_officer_signs_in_and_lands_on_the_acknowledgement_he_owes(page, case):  # type: ignore[no-untyped-def]
    page.goto("/")
    assert urlparse(page.url).path == "/login"
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    screenshot(page, "sign-in")
    sign_in(page, LOGINS["officer"])
    page.wait_for_url(re.compile(r"/work$"))
    assert page.get_by_role("heading", name="我的待办").is_visible()
    line = page.locator(".work").filter(has_text=case["item_title"])
    assert line.count() == 1
    assert "签收整改事项" in line.inner_text()
    assert case["ack_deadline"] in line.locator(".deadline").inner_text()
    assert re.search(r"还剩 \d+ 个工作日|今天到期", line.locator(".time-left").inner_text())
    assert line.locator(".badge").inner_text() == "正常"
    assert "POST" not in line.inner_text()  # how to act, as a person reads it
    assert case["officer_name"] in page.locator(".who").inner_text()
    screenshot(page, "my-work")

    page.get_by_role("button", name="退出").click()
    page.wait_for_url(re.compile(r"/login$"))
    assert "您已安全退出" in page.locator(".flash").inner_text()
    page.goto("/work")
    assert urlparse(page.url).path == "/login"


def test_a_page_without_a_session_goes_to_sign_in_and_comes_back(page):  # type: ignore[no-untyped-def]
    page.goto("/work?page=1")
    address = urlparse(page.url)
    assert address.path == "/login" and parse_qs(address.query)["next"] == ["/work?page=1"]
    sign_in(page, LOGINS["admin"])
    page.wait_for_url(re.compile(r"/work\?page=1$"))
    assert page.get_by_role("heading", name="我的待办").is_visible()


def test_a_next_address_off_the_site_is_not_followed(page):  # type: ignore[no-untyped-def]
    page.goto("/login?next=//evil.example/x")
    sign_in(page, LOGINS["admin"])
    page.wait_for_url(re.compile(r"/work$"))


def test_a_wrong_password_is_refused_beside_the_form_which_keeps_the_login(page):  # type: ignore[no-untyped-def]
    page.goto("/login")
    sign_in(page, LOGINS["member"], "不是这个密码的密码")
    error = page.locator(".form-error")
    error.wait_for()
    assert error.inner_text() == "登录名或密码不正确"
    assert page.get_by_label("登录名").input_value() == LOGINS["member"]
    assert page.get_by_label("密码").input_value() == ""
    page.get_by_label("密码").fill("")
    page.get_by_role("button", name="登录").click()
    assert page.locator("#e-password").inner_text() == "请填写密码"


def test_my_work_fits_a_phone_screen(phone_page):  # type: ignore[no-untyped-def]
    page = phone_page
    page.goto("/work")
    sign_in(page, LOGINS["officer"])
    page.wait_for_url(re.compile(r"/work$"))
    assert page.locator(".work").count() >= 1
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"横向滚动：内容宽 {width}px，屏幕 {inner}px"
    screenshot(page, "my-work-phone")


def test_the_public_progress_page_names_nobody(page, case):  # type: ignore[no-untyped-def]
    page.goto(f"/p/topics/{case['closed_id']}")
    assert page.get_by_role("heading", name="背街小巷路灯维修").is_visible()
    text = page.locator("body").inner_text()
    assert "评估质效" in text and "办理结果" in text and "已办结" in text
    assert page.locator(".stage").count() == 8
    assert page.locator(".item").count() >= 1
    for name in case["names"]:
        assert name not in text, f"公开页面出现了人名：{name}"
    assert PHONE not in page.content()
    screenshot(page, "topic-public")
    assert page.locator(".who").count() == 0  # nobody is signed in

    page.goto(f"/p/topics/{case['waiting_id']}")
    assert "整改事项尚未全部签收" in page.locator("body").inner_text()
    missing = page.goto("/p/topics/999999")
    assert missing is not None and missing.status == 404
    assert "不存在或尚未公开" in page.locator("body").inner_text()
