"""The approver's inbox (待审定) in a real browser: what waits, for how long and until when; a
return without a reason refused beside the field; a topic approved from its page leaves the
inbox with a message; an officer is told who may approve. Over HTTP: the forms call the domain
operations (a report's unticked suggestion is not adopted) and the inbox's queries stay few."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlmodel import Session, select

from config.db import engine_for, migrate, session_scope
from models import accounts, approvals
from models.deadlines import format_local
from models.enums import Adoption, Obligation, ReportStatus, Stage, TopicStatus
from models.tables import FollowUp, Report, Suggestion, Topic
from tests.conftest import ANONYMOUS, sql_statements
from tests.factories import LoopBuilder
from tests.pages.conftest import PASSWORD, screenshot, sign_in

LOGINS = {"approver": "chenjianguo", "officer": "liqiang"}
TOPIC = "菜市场周边停车难"
# Titles far enough apart that screening merges none of them as near-duplicates.
TITLES = [
    "背街小巷路灯维修",
    "社区食堂建设",
    "老年助餐点布局",
    "河道保洁长效机制",
    "校园周边交通安全",
    "垃圾分类投放点设置",
    "农贸市场提升改造",
    "公园夜间照明",
]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One topic awaiting approval and one topic whose report awaits approval."""
    url = f"sqlite:///{tmp_path_factory.mktemp('approvals') / 'case.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as s:
        loop = LoopBuilder(s)
        pending = loop.topic(title=TOPIC)
        loop.run_stage(pending, Stage.TOPIC)
        reported = loop.topic(title="老旧小区加装电梯")
        loop.advance(reported, to=Stage.REPORT, start=True)
        report = s.exec(select(Report).where(Report.topic_id == reported.id)).one()
        for role, login in LOGINS.items():
            accounts.set_password(s, getattr(loop.cast, role).id, login, PASSWORD)
        deadline = s.exec(
            select(FollowUp.deadline).where(
                FollowUp.obligation == Obligation.TOPIC_APPROVAL,
                FollowUp.subject_id == pending.id,
            )
        ).first()
        assert deadline is not None
        found = {
            "url": url,
            "topic_id": pending.id,
            "report_id": report.id,
            "report_title": report.title,
            "deadline": format_local(deadline),
        }
    engine_for(url).dispose()
    return found


def test_an_approver_returns_a_report_and_approves_a_topic_from_the_inbox(page, case):  # type: ignore[no-untyped-def]
    page.goto("/approvals")
    assert urlparse(page.url).path == "/login"
    sign_in(page, LOGINS["approver"])
    page.wait_for_url(re.compile(r"/approvals$"))
    assert page.get_by_role("heading", name="待审定", exact=True).is_visible()
    assert page.locator("nav a[aria-current=page]").inner_text() == "待审定"
    line = page.locator(".approval").filter(has_text=TOPIC)
    assert line.count() == 1
    assert case["deadline"] in line.locator(".deadline").inner_text()
    assert re.search(r"已等待 \d+ 个工作日|今日送审", line.locator(".waited").inner_text())
    assert page.locator(".approval").filter(has_text=case["report_title"]).count() == 1
    screenshot(page, "approvals")

    # A return needs a reason: refused beside the field, and what was typed stays.
    page.locator(".approval").filter(has_text=case["report_title"]).get_by_role(
        "link", name="审定", exact=True
    ).click()
    page.wait_for_url(re.compile(rf"/approvals/reports/{case['report_id']}$"))
    assert "协商意见建议清单" in page.locator(".report-content").inner_text()
    page.get_by_role("button", name="退回", exact=True).click()
    assert page.locator("#e-reason").inner_text() == "请填写退回修改的理由"
    page.get_by_label("退回理由").fill("改")
    page.get_by_role("button", name="退回", exact=True).click()
    assert page.locator("#e-reason").inner_text() == "退回理由不少于 2 个字"
    assert page.get_by_label("退回理由").input_value() == "改"

    # Approve the topic: a message, and it has left the inbox.
    page.goto("/approvals")
    page.locator(".approval").filter(has_text=TOPIC).get_by_role(
        "link", name="审定", exact=True
    ).click()
    page.wait_for_url(re.compile(rf"/approvals/topics/{case['topic_id']}$"))
    assert page.get_by_role("heading", name=TOPIC).is_visible()
    page.get_by_label("审定意见").fill("同意列入年度协商计划")
    page.get_by_role("button", name="同意", exact=True).click()
    page.wait_for_url(re.compile(r"/approvals$"))
    assert f"已同意议题“{TOPIC}”" in page.locator(".flash").inner_text()
    assert page.locator(".approval").filter(has_text=TOPIC).count() == 0
    assert page.locator(".approval").filter(has_text=case["report_title"]).count() == 1
    # Its page now says what became of it, without the forms.
    page.goto(f"/approvals/topics/{case['topic_id']}")
    assert "已审定同意" in page.locator(".decided").inner_text()
    assert page.locator("form.card").count() == 0


def test_an_officer_is_told_who_may_approve(page):  # type: ignore[no-untyped-def]
    page.goto("/login?next=/approvals")
    sign_in(page, LOGINS["officer"])
    page.wait_for_url(re.compile(r"/approvals$"))
    answer = page.reload()
    assert answer is not None and answer.status == 403
    assert page.get_by_role("heading", name="无权办理").is_visible()
    assert "可办理的是：审定人" in page.locator(".lead").inner_text()
    assert page.locator(".who").is_visible()  # still signed in, with his own nav
    assert page.locator("nav").get_by_role("link", name="待审定").count() == 0
    assert page.locator("nav").get_by_role("link", name="我的待办").count() == 1


def _signed_in(client, session, person, login: str) -> str:  # type: ignore[no-untyped-def]
    accounts.set_password(session, person.id, login, PASSWORD)
    session.commit()
    r = client.post(
        "/login",
        data={"login": login, "password": PASSWORD, "next": "/approvals"},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client.cookies["xs_csrf"]


def test_the_forms_decide_through_the_domain_operations(client, loop, session: Session):  # type: ignore[no-untyped-def]
    topic = loop.advance(loop.topic(), to=Stage.REPORT, start=True)
    report = session.exec(select(Report).where(Report.topic_id == topic.id)).one()
    suggestions = session.exec(select(Suggestion).where(Suggestion.topic_id == topic.id)).all()
    assert len(suggestions) >= 2
    pending = loop.topic(title="夜市噪声扰民")
    loop.run_stage(pending, Stage.TOPIC)
    csrf = _signed_in(client, session, loop.cast.approver, "chenjianguo")

    refused = client.post(
        f"/approvals/topics/{pending.id}/reject", data={"reason": "理由"}, headers=ANONYMOUS
    )
    assert refused.status_code == 403 and "CSRF" in refused.text
    empty = client.post(
        f"/approvals/topics/{pending.id}/reject",
        data={"csrf_token": csrf, "reason": "  "},
        headers=ANONYMOUS,
    )
    assert empty.status_code == 422 and "请填写不同意的理由" in empty.text
    rejected = client.post(
        f"/approvals/topics/{pending.id}/reject",
        data={"csrf_token": csrf, "reason": "已纳入区政府年度实事项目"},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert rejected.status_code == 303 and rejected.headers["location"] == "/approvals"
    session.expire_all()
    assert session.get(Topic, pending.id).status == TopicStatus.REJECTED  # type: ignore[union-attr]

    kept = [s.id for s in suggestions[1:]]
    approved = client.post(
        f"/approvals/reports/{report.id}/approve",
        data={"csrf_token": csrf, "comment": "同意", "adopt": kept},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert approved.status_code == 303, approved.text
    session.expire_all()
    assert session.get(Report, report.id).status == ReportStatus.APPROVED  # type: ignore[union-attr]
    adoption = {
        s.id: s.adoption
        for s in session.exec(select(Suggestion).where(Suggestion.topic_id == topic.id))
    }
    assert adoption[suggestions[0].id] == Adoption.NOT_ADOPTED
    assert all(adoption[i] == Adoption.ADOPTED for i in kept)
    again = client.post(
        f"/approvals/reports/{report.id}/return",
        data={"csrf_token": csrf, "reason": "再改改"},
        headers=ANONYMOUS,
    )
    assert again.status_code == 409 and "不能办理协商成果报告" in again.text
    assert "返回我的待办" in again.text  # the refusal is a page for the signed-in approver


def test_the_inbox_takes_one_query_per_list_however_many_wait(loop, session: Session):  # type: ignore[no-untyped-def]
    first, more = TITLES[:3], TITLES[3:]
    for title in first:
        loop.run_stage(loop.topic(title=title), Stage.TOPIC)
    with sql_statements(session) as statements:
        approvals.awaiting_topics(session)
        few = len(statements)
        for title in more:
            loop.run_stage(loop.topic(title=title), Stage.TOPIC)
        session.flush()
        statements.clear()
        found = approvals.awaiting_topics(session, page_size=4)
        assert len(statements) <= few
    assert found.count == 8 and found.pages == 2 and len(found.lines) == 4
    assert [line.title for line in found.lines[:3]] == first
    assert approvals.awaiting_topics(session, page=3, page_size=4).count == 8
