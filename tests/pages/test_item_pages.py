"""The department's pages in a real browser: an officer goes from what he owes to the item and
acts there (a refused return, 签收, a plan refused then accepted, progress, completion), another
department's officer is refused the item, the head sees his department's overdue list, and the
item page fits a phone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from sqlmodel import select

from config.db import engine_for, migrate, session_scope
from models import accounts, followup
from models.enums import Stage
from models.tables import RectificationItem
from tests.factories import LoopBuilder, tiny_png
from tests.pages.conftest import PASSWORD, screenshot, sign_in

LOGINS = {"officer": "liqiang", "head": "zhaolei", "other_officer": "zhouting"}
WAITING, IMPLEMENTING, LATE = "老旧小区加装电梯", "背街小巷路灯维修", "农贸市场排水改造"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three topics with an item of the officer's department each: one waiting for its 签收,
    one waiting for its plan, and one transferred 60 days ago whose deadline has passed (the
    ladder swept up to 督办)."""
    tmp = tmp_path_factory.mktemp("item-pages")
    url = f"sqlite:///{tmp / 'case.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as s:
        loop = LoopBuilder(s)
        cast = loop.cast
        with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(days=60), tick=True):
            loop.today = dt.date.today()
            late = loop.advance(loop.topic(title=LATE), to=Stage.IMPLEMENTATION, start=True)
        loop.today = dt.date.today()
        followup.sweep(s)
        implementing = loop.advance(
            loop.topic(title=IMPLEMENTING), to=Stage.IMPLEMENTATION, start=True
        )
        waiting = loop.advance(loop.topic(title=WAITING), to=Stage.TRANSFER, start=True)
        for role, login in LOGINS.items():
            accounts.set_password(s, getattr(cast, role).id, login, PASSWORD)

        def officers_item(topic_id: int | None) -> int:
            item = s.exec(
                select(RectificationItem).where(
                    RectificationItem.topic_id == topic_id,
                    RectificationItem.officer_id == cast.officer.id,
                )
            ).one()
            return item.id  # type: ignore[return-value]

        found = {
            "url": url,
            "waiting": officers_item(waiting.id),
            "implementing": officers_item(implementing.id),
            "late": officers_item(late.id),
            "officer": cast.officer.name,
        }
    engine_for(url).dispose()
    return found


def _signed_in(page: Any, who: str, address: str = "/work") -> None:
    page.goto(address)
    sign_in(page, LOGINS[who])
    page.wait_for_url(re.compile(re.escape(address) + "$"))


def _open_from_my_work(page: Any, topic: str, obligation: str, item_id: int) -> None:
    page.goto("/work")
    line = page.locator(".work").filter(has_text=topic).filter(has_text=obligation)
    assert line.count() == 1, page.locator("main").inner_text()
    line.locator(".subject a").click()
    page.wait_for_url(re.compile(rf"/work/items/{item_id}$"))


def test_an_officer_acts_on_his_items_from_what_he_owes(page, case):  # type: ignore[no-untyped-def]
    _signed_in(page, "officer")
    _open_from_my_work(page, WAITING, "签收整改事项", case["waiting"])
    assert page.locator(".meta .status").inner_text() == "待签收"

    # A return without its explanation is refused beside the field; the reason chosen stays.
    page.get_by_label("退回理由").select_option(label="非本单位职责")
    page.get_by_role("button", name="退回", exact=True).click()
    page.locator("#e-reason").wait_for()
    assert "请填写具体说明" in page.locator("#e-reason").inner_text()
    assert page.get_by_label("退回理由").input_value() == "not_our_duty"
    assert page.locator(".meta .status").inner_text() == "待签收"

    page.get_by_role("button", name="签收", exact=True).click()
    page.wait_for_url(re.compile(rf"/work/items/{case['waiting']}$"))
    assert "已签收该事项" in page.locator(".flash").inner_text()
    assert page.locator(".meta .status").inner_text() == "已签收"
    assert page.get_by_role("button", name="签收", exact=True).count() == 0
    page.reload()
    assert page.locator(".flash").count() == 0  # shown once

    # The plan: an empty field is refused beside it, and what was typed stays.
    _open_from_my_work(page, IMPLEMENTING, "提交整改方案", case["implementing"])
    assert page.locator(".provisional").count() >= 1  # its deadline falls in 2027 (暂估)
    target = "年底前完成全部路灯更换，亮灯率达到 98%"
    deadline = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    page.get_by_label("整改目标").fill(target)
    page.get_by_label("方案完成时限").fill(deadline)
    page.get_by_role("button", name="提交方案").click()
    page.locator("#e-measures").wait_for()
    assert "请填写整改措施" in page.locator("#e-measures").inner_text()
    assert page.get_by_label("整改目标").input_value() == target
    assert page.get_by_label("方案完成时限").input_value() == deadline
    assert page.get_by_label("责任人").input_value() != ""

    page.get_by_label("整改措施").fill("分三批更换老化灯杆；每周巡查一次并公示")
    page.get_by_role("button", name="提交方案").click()
    page.wait_for_url(re.compile(rf"/work/items/{case['implementing']}$"))
    assert "整改方案已提交" in page.locator(".flash").inner_text()
    assert page.locator(".meta .status").inner_text() == "整改中"
    assert target in page.locator(".plan").inner_text()

    page.get_by_label("进展情况").fill("第一批 40 盏已更换")
    page.get_by_label("整改进度（%）").fill("60")
    page.get_by_role("button", name="报送进展").click()
    page.wait_for_url(re.compile(rf"/work/items/{case['implementing']}$"))
    assert "整改进展已报送" in page.locator(".flash").inner_text()
    assert "第一批 40 盏已更换" in page.locator(".latest").inner_text()
    assert page.locator(".item-progress").inner_text() == "进度 60%"
    screenshot(page, "item")

    # 办结 without evidence is refused, and says where to upload it; what was typed stays.
    page.get_by_label("办结情况").fill("全部路灯已更换，居民验收满意")
    page.get_by_role("button", name="办结").click()
    page.locator("#complete .form-error").wait_for()
    assert "办结须至少上传一份佐证材料" in page.locator("#complete .form-error").inner_text()
    assert page.get_by_label("办结情况").input_value() == "全部路灯已更换，居民验收满意"
    assert page.locator(".meta .status").inner_text() == "整改中"

    # The upload's limits are shown before it; a text file named .png is refused beside it.
    assert "单个文件不超过" in page.locator("#h-file").inner_text()
    page.locator("#f-file").set_input_files(
        {"name": "照片.png", "mimeType": "image/png", "buffer": "不是图片".encode()}
    )
    page.get_by_role("button", name="上传").click()
    page.locator("#e-file").wait_for()
    assert "文件类型不支持" in page.locator("#e-file").inner_text()
    assert page.locator(".files li").count() == 0
    # A file over the limit is refused before it is read: a page that says so, not JSON.
    page.locator("#f-file").set_input_files(
        {"name": "整段录像.png", "mimeType": "image/png", "buffer": b"\0" * (11 * 1024 * 1024)}
    )
    page.get_by_role("button", name="上传").click()
    page.locator(".error-page").wait_for()
    assert "佐证材料每份不能超过 10 MB" in page.locator(".error-page").inner_text()
    page.go_back()
    page.locator("#f-file").wait_for()
    assert page.locator(".files li").count() == 0
    page.locator("#f-file").set_input_files(
        {"name": "更换后路灯.png", "mimeType": "image/png", "buffer": tiny_png(7)}
    )
    page.get_by_role("button", name="上传").click()
    page.wait_for_url(re.compile(rf"/work/items/{case['implementing']}$"))
    assert "佐证材料“更换后路灯.png”已上传" in page.locator(".flash").inner_text()
    assert "更换后路灯.png" in page.locator(".files").inner_text()
    download = page.request.get(page.locator(".files a").get_attribute("href"))
    assert download.status == 200 and download.body() == tiny_png(7)

    # An extension is a request before the deadline: its reason is required; once sent it
    # waits for the office and no second request can be made meanwhile.
    later = dt.date.fromisoformat(page.locator("#f-new_deadline").get_attribute("min"))
    page.get_by_label("申请延至").fill((later + dt.timedelta(days=15)).isoformat())
    page.get_by_role("button", name="申请延期").click()
    page.locator("#e-extension_reason").wait_for()
    assert "请填写延期理由" in page.locator("#e-extension_reason").inner_text()
    assert (
        page.get_by_label("申请延至").input_value() == (later + dt.timedelta(days=15)).isoformat()
    )
    page.get_by_label("延期理由").fill("灯杆供货延迟两周，已签订补货合同")
    page.get_by_role("button", name="申请延期").click()
    page.wait_for_url(re.compile(rf"/work/items/{case['implementing']}$"))
    assert "延期申请已提交" in page.locator(".flash").inner_text()
    assert "待审批" in page.locator(".ledger").inner_text()
    assert page.get_by_role("button", name="申请延期").count() == 0

    page.get_by_label("办结情况").fill("全部路灯已更换，居民验收满意")
    page.get_by_role("button", name="办结").click()
    page.wait_for_url(re.compile(rf"/work/items/{case['implementing']}$"))
    assert "事项已办结" in page.locator(".flash").inner_text()
    assert page.locator(".meta .status").inner_text() == "已完成"
    assert page.locator("form.form").count() == 0  # nothing left to do on it


def test_another_departments_officer_is_refused_the_item(page, case):  # type: ignore[no-untyped-def]
    _signed_in(page, "other_officer")
    refused = page.goto(f"/work/items/{case['waiting']}")
    assert refused is not None and refused.status == 403
    assert page.get_by_role("heading", name="无权办理").is_visible()
    text = page.locator("main").inner_text()
    assert "区住建局" in text and case["officer"] in text  # who may
    missing = page.goto("/work/items/999999")
    assert missing is not None and missing.status == 404
    assert page.get_by_role("heading", name="未找到").is_visible()


def test_the_head_sees_his_departments_overdue_list(page, case):  # type: ignore[no-untyped-def]
    _signed_in(page, "head")
    page.get_by_role("link", name="本单位事项").click()
    page.wait_for_url(re.compile(r"/work/items$"))
    assert page.locator(".dept-item").count() >= 3
    page.get_by_role("link", name=re.compile(r"逾期事项（1）")).click()
    page.wait_for_url(re.compile(r"view=overdue$"))
    lines = page.locator(".dept-item")
    assert lines.count() == 1
    line = lines.first
    assert LATE in line.inner_text()
    assert line.locator(".time-left").inner_text().startswith("已超期")
    assert line.locator(".badge").inner_text() == "督办"
    line.locator(".obligation a").click()  # the head may open every item of his department
    page.wait_for_url(re.compile(rf"/work/items/{case['late']}$"))
    assert page.locator(".time-left").inner_text().startswith("已超期")


def test_the_item_page_fits_a_phone_screen(phone_page, case):  # type: ignore[no-untyped-def]
    page = phone_page
    _signed_in(page, "officer", f"/work/items/{case['late']}")
    assert page.locator("form.form").count() >= 1
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"横向滚动：内容宽 {width}px，屏幕 {inner}px"
