"""指标看板 (issue 10 point 3, issue 9 point 11): the office opens the dashboard, reads every
KPI beside its target, met or not in words and its sample; the departments ranked with their
samples; every number opens the records behind it, each linking to its item. In a real
Chromium at phone size, and over HTTP for the refusals and the number of queries."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from config.db import engine_for, migrate, session_scope
from models import accounts
from models.enums import Role
from models.tables import Person
from tests.conftest import ANONYMOUS, sql_statements
from tests.pages.conftest import PASSWORD, sign_in, sign_in_client
from tests.reports.dataset import build

OCTOBER = "2026-10"


def _admin(session: Session) -> Person:
    return session.exec(select(Person).where(Person.role == Role.ADMINISTRATOR)).first()  # type: ignore[return-value]


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The golden data set of tests/reports/dataset.py in a database of its own."""
    url = f"sqlite:///{tmp_path_factory.mktemp('kpis') / 'case.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as s:
        ds = build(s)
        accounts.set_password(s, _admin(s).id, "office", PASSWORD)  # type: ignore[arg-type]
        found = {"url": url, "items": dict(ds.items), "departments": dict(ds.departments)}
    engine_for(url).dispose()
    return found


def test_a_number_on_the_dashboard_opens_its_records_on_a_phone(phone_page, case):  # type: ignore[no-untyped-def]
    page = phone_page
    page.goto(f"/admin/kpis?period={OCTOBER}")
    sign_in(page, "office")
    page.wait_for_url(re.compile(r"/admin/kpis\?period=2026-10$"))
    assert page.get_by_role("heading", name="指标看板").is_visible()
    completion = page.locator("#kpis .kpi[data-kpi=completion_rate]")
    # October, all topics (dataset.py): 12 completed (T1 5, T2 7) of 16 due (T1 7, T2 9)
    # against the target of 80 %.
    assert completion.locator(".kpi-value").inner_text() == "75.0%"
    assert completion.locator(".kpi-goal").inner_text() == "目标 ≥80%"
    assert completion.locator(".kpi-met").inner_text() == "✗ 未达标"
    assert completion.locator(".kpi-n").inner_text() == "16"
    solved = page.locator("#kpis .kpi[data-kpi=rebound_rate]")  # 1 rebound of 2 re-checked
    assert solved.locator(".kpi-met").inner_text() == "✗ 未达标"
    south = page.locator(".kpi-department").first.locator("[data-kpi=completion_rate]")
    assert "✓ 达标" in south.inner_text()
    # The ranking, each with its sample.
    ranks = page.locator(".kpi-department")
    assert ranks.nth(0).locator("h3").inner_text() == "城南街道"
    assert ranks.nth(0).locator(".kpi-due").inner_text() == "样本：应办结 3 项"
    housing = page.locator(".kpi-department").filter(has_text="区住建局")
    assert housing.locator(".kpi-rank").inner_text() == "第 4 名"
    line = housing.locator("[data-kpi=completion_rate]")
    assert "✗ 未达标" in line.inner_text()
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"横向滚动：内容宽 {width}px，屏幕 {inner}px"

    # 区住建局's sample of 4 due opens those four items.
    line.locator(".kpi-n").click()
    page.wait_for_url(re.compile(r"/admin/kpis/completion_rate/records\?"))
    assert page.get_by_role("heading", name=re.compile("整改完成率 · 分母")).is_visible()
    assert page.locator(".records-count").inner_text() == "4"
    titles = sorted(page.locator(".kpi-record .obligation a").all_inner_texts())
    assert titles == ["整改事项a1", "整改事项a2", "整改事项a3", "整改事项a6"]
    width, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width <= inner, f"横向滚动：内容宽 {width}px，屏幕 {inner}px"
    page.locator(".kpi-record .obligation a", has_text="整改事项a3").click()
    page.wait_for_url(re.compile(rf"/admin/items/{case['items']['a3']}$"))
    assert page.get_by_role("heading", name="整改事项a3").is_visible()


def test_the_dashboard_over_http(client, session: Session):  # type: ignore[no-untyped-def]
    ds = build(session)
    sign_in_client(client, session, _admin(session), "office")
    r = client.get("/admin/kpis", params={"period": OCTOBER}, headers=ANONYMOUS)
    assert r.status_code == 200, r.text
    html = r.text
    assert 'href="/admin/kpis"' in html  # the nav entry
    # Every KPI links to the records behind its numerator and its denominator.
    for key in ("completion_rate", "bounce_rate", "adoption_rate", "satisfaction_rate"):
        assert f"/admin/kpis/{key}/records?part=numerator&amp;period=2026-10" in html
        assert f"/admin/kpis/{key}/records?part=denominator&amp;period=2026-10" in html
    dept = ds.departments["a"]
    assert f"part=denominator&amp;period=2026-10&amp;department_id={dept}" in html
    assert "无目标值" in html and "未达标" in html

    # A bad period: the reason beside the chooser, the page still readable.
    bad = client.get("/admin/kpis", params={"period": "2026-13"}, headers=ANONYMOUS)
    assert bad.status_code == 422
    assert 'id="e-period"' in bad.text and "期间格式应为" in bad.text

    # A topic's dashboard: its own numbers, its drill-down scoped to it; the topic page links.
    t1 = ds.topics["T1"]
    topic = client.get(
        "/admin/kpis", params={"topic_id": t1, "period": "2026-10-31"}, headers=ANONYMOUS
    )
    assert topic.status_code == 200 and "“老旧小区加装电梯”的指标" in topic.text
    assert f"period=2026-10-31&amp;topic_id={t1}" in topic.text
    records = client.get(
        "/admin/kpis/completion_rate/records",
        params={"part": "numerator", "period": "2026-10-31", "topic_id": t1},
        headers=ANONYMOUS,
    )
    assert records.status_code == 200
    for name in ("a1", "a2", "a5", "b1", "b2", "b3"):
        assert f'href="/admin/items/{ds.items[name]}"' in records.text
    assert f'href="/admin/items/{ds.items["a3"]}"' not in records.text
    topic_page = client.get(f"/admin/topics/{t1}", headers=ANONYMOUS)
    assert f'href="/admin/kpis?topic_id={t1}"' in topic_page.text

    unknown = client.get("/admin/kpis/happiness/records", headers=ANONYMOUS)
    assert unknown.status_code == 404 and "指标 happiness 不存在" in unknown.text


def test_an_officer_is_told_who_may_read_the_dashboard(client, session: Session, loop):  # type: ignore[no-untyped-def]
    sign_in_client(client, session, loop.cast.officer, "officer")
    r = client.get("/admin/kpis", headers=ANONYMOUS)
    assert r.status_code == 403 and "可办理的是：协商办工作人员、监督员" in r.text
    assert client.get("/admin/kpis/completion_rate/records", headers=ANONYMOUS).status_code == 403


def test_the_pages_take_the_same_queries_however_many_rows(client, session: Session):  # type: ignore[no-untyped-def]
    sign_in_client(client, session, _admin(session) or _seed_admin(session), "office")

    def measure() -> tuple[int, int]:
        out = []
        for path in ("/admin/kpis", "/admin/kpis/on_time_rate/records?part=denominator"):
            statements.clear()
            assert client.get(path, headers=ANONYMOUS).status_code == 200
            out.append(len(statements))
        return out[0], out[1]

    with sql_statements(session) as statements:
        empty = measure()
        build(session)  # seven departments, two topics, twenty items, ratings, suggestions
        session.commit()
        full = measure()
    assert full == empty


def _seed_admin(session: Session) -> Person:
    person = Person(name="协商办", role=Role.ADMINISTRATOR, tag="p-kpi-admin")
    session.add(person)
    session.commit()
    return person
