"""The office's page of the weekly dispatch and the bulletins, over HTTP (no browser): the
bulletins made so far with each file to download, paged in a fixed number of queries; the
weekly dispatch started from the page on a real Prefect server, with its run linked in the
Prefect UI; a bad period refused beside its field before anything starts; a Prefect that does
not answer shown as a page a person reads; only the office."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from api.pages.admin import prefect_run_url
from models import bulletin
from models.bulletin import BulletinKind
from models.tables import Bulletin
from tests.conftest import ANONYMOUS, sql_statements
from tests.pages.conftest import sign_in_client
from tests.pages.test_admin_pages import prefect_down  # noqa: F401  (the fixture, used by name)

PAGE = "/admin/bulletins"


@pytest.fixture
def reports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from config.settings import get_settings

    monkeypatch.setenv("XS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield get_settings().reports_dir
    get_settings.cache_clear()


def make_bulletin(
    session: Session, period: bulletin.Period, files: dict[str, bytes | str]
) -> Bulletin:
    """A bulletin as the flow leaves it: its numbers computed, its files written under the
    reports directory, its row recorded (models.bulletin.record, which the flow's task calls)."""
    from tasks.reports import write_file

    stem = bulletin.file_stem(period)
    stored = {fmt: write_file(f"{stem}.{fmt}", content) for fmt, content in files.items()}
    row = bulletin.record(session, period, files=stored, summary=bulletin.compute(session, period))
    session.commit()
    return row


def _cards(html: str) -> dict[int, str]:
    found = re.findall(r'<li class="work bulletin" id="b-(\d+)">(.*?)</li>', html, re.S)
    return {int(i): body for i, body in found}


@pytest.mark.usefixtures("prefect_down")
def test_the_office_lists_bulletins_and_downloads_their_files(  # type: ignore[no-untyped-def]
    client, loop, session, reports_dir
):
    october = make_bulletin(
        session,
        bulletin.parse_period(BulletinKind.MONTHLY, "2026-10"),
        {"pdf": b"%PDF-1.7 october", "xlsx": b"PK-october"},
    )
    quarter = make_bulletin(
        session,
        bulletin.parse_period(BulletinKind.QUARTERLY, "2026Q3"),
        {"html": "<html lang='zh-CN'>第三季度</html>"},
    )
    (reports_dir / quarter.files["html"]).unlink()  # cleaned away since
    sign_in_client(client, session, loop.cast.admin, "office-admin")

    shown = client.get(PAGE, headers=ANONYMOUS)
    assert shown.status_code == 200
    cards = _cards(shown.text)
    assert list(cards) == [october.id, quarter.id]  # newest period first
    assert "2026年10月整改工作月通报" in cards[october.id]
    assert f'href="/bulletins/{october.id}/files/pdf"' in cards[october.id]
    assert (
        f'href="/bulletins/{october.id}/files/xlsx" class="button">数据表</a>' in cards[october.id]
    )
    assert "/files/html" not in cards[october.id]  # no HTML was made for it: no link
    assert "2026年第三季度整改工作季度评估" in cards[quarter.id]
    assert "网页版（文件已清理）" in cards[quarter.id] and "href=" not in cards[quarter.id]
    assert "共 2 期" in shown.text
    # Prefect is away: the page still answers, with a note instead of the runs.
    assert "流程引擎（Prefect）暂时无法访问，运行记录稍后可见" in shown.text

    pdf = client.get(f"/bulletins/{october.id}/files/pdf", headers=ANONYMOUS)
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 october"
    xlsx = client.get(f"/bulletins/{october.id}/files/xlsx", headers=ANONYMOUS)
    assert xlsx.content == b"PK-october"
    assert xlsx.headers["content-disposition"].startswith("attachment;")


@pytest.mark.usefixtures("prefect_down")
def test_the_list_is_paged_in_the_same_queries_for_thirty_bulletins_as_for_three(  # type: ignore[no-untyped-def]
    client, loop, session, reports_dir
):
    sign_in_client(client, session, loop.cast.admin, "office-admin")
    months = [dt.date(2024 + i // 12, i % 12 + 1, 1) for i in range(30)]

    def make(days: list[dt.date]) -> None:
        for day in days:
            make_bulletin(session, bulletin.month_of(day), {"pdf": b"%PDF-1.7"})

    make(months[:3])
    with sql_statements(session) as statements:
        assert client.get(PAGE, headers=ANONYMOUS).status_code == 200
        few = len(statements)
        make(months[3:])
        statements.clear()
        first = client.get(PAGE, headers=ANONYMOUS)
        assert len(statements) <= few
    assert len(_cards(first.text)) == 20 and "第 1 / 2 页" in first.text
    assert "2026年6月整改工作月通报" in first.text  # the newest of the thirty
    second = client.get(PAGE + "?page=2", headers=ANONYMOUS)
    assert len(_cards(second.text)) == 10 and "2024年1月整改工作月通报" in second.text


@pytest.mark.usefixtures("prefect_down")
def test_a_bad_period_is_refused_beside_the_field_before_anything_starts(  # type: ignore[no-untyped-def]
    client, loop, session, reports_dir
):
    """Prefect is away: a request that reached it would answer 503, so a 422 or 409 shows the
    refusal came first."""
    csrf = sign_in_client(client, session, loop.cast.admin, "office-admin")

    def post(kind: str, **fields: str):  # type: ignore[no-untyped-def]
        return client.post(f"{PAGE}/{kind}", data={"csrf_token": csrf, **fields}, headers=ANONYMOUS)

    typo = post("monthly", period="2026-13")
    assert typo.status_code == 422
    beside = re.search(r'<p class="field-error" id="e-period">(.*?)</p>', typo.text, re.S)
    assert beside and "期间格式" in beside.group(1)
    assert 'value="2026-13"' in typo.text  # what was typed is kept
    wrong_kind = post("monthly", period="2026Q3")
    assert wrong_kind.status_code == 422 and "月通报" in wrong_kind.text
    future = post("monthly", period="2099-01")
    assert future.status_code == 409
    assert re.search(r'<p class="form-error" role="alert">2099年1月尚未开始', future.text)
    assert post("annual").status_code == 404  # no such kind of bulletin

    # A valid request meets the absent Prefect: a page that says so, nothing started.
    away = post("monthly", period="2026-10")
    assert away.status_code == 503
    assert "未能启动月通报：流程引擎（Prefect）暂不可用" in away.text
    weekly = client.post(f"{PAGE}/weekly", data={"csrf_token": csrf}, headers=ANONYMOUS)
    assert weekly.status_code == 503 and "未能启动周调度" in weekly.text
    assert "<h1>调度与通报</h1>" in weekly.text  # the page itself, readable, with its forms

    no_token = client.post(f"{PAGE}/weekly", headers=ANONYMOUS)
    assert no_token.status_code == 403 and "CSRF" in no_token.text


@pytest.mark.usefixtures("prefect_down")
def test_only_the_office_starts_runs_and_reads_this_page(  # type: ignore[no-untyped-def]
    client, loop, session
):
    csrf = sign_in_client(client, session, loop.cast.officer, "officer-li")
    refused = client.get(PAGE, headers=ANONYMOUS)
    assert refused.status_code == 403
    assert "无权推进协商流程" in refused.text and "可办理的是：协商办工作人员" in refused.text
    # Refused before Prefect is asked (it is away: that would be a 503).
    post = client.post(f"{PAGE}/weekly", data={"csrf_token": csrf}, headers=ANONYMOUS)
    assert post.status_code == 403
    monthly = client.post(f"{PAGE}/monthly", data={"csrf_token": csrf}, headers=ANONYMOUS)
    assert monthly.status_code == 403
    assert 'href="/admin/bulletins"' not in client.get("/work", headers=ANONYMOUS).text
    client.cookies.clear()
    away = client.get(PAGE, headers=ANONYMOUS, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/login?next=")


async def test_the_weekly_dispatch_starts_from_the_page_with_its_run_linked(  # type: ignore[no-untyped-def]
    prefect_server: str, client: Any, loop: Any, session: Session
):
    """On a real Prefect server with the deployment applied (no runner: the run stays queued
    and is deleted at the end), as tests/flows/test_weekly_dispatch.py starts it from the API."""
    from prefect.client.orchestration import get_client

    from config.deployments import DEPLOYMENT
    from flows.weekly_dispatch import weekly_dispatch

    deployment = await weekly_dispatch.ato_deployment(name=DEPLOYMENT)
    await deployment.apply()
    sign_in_client(client, session, loop.cast.admin, "office-admin")
    form = client.get(PAGE, headers=ANONYMOUS).text.split('id="weekly"')[1]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token, "the form carries the session's CSRF token"
    csrf = token.group(1)
    started = client.post(
        f"{PAGE}/weekly", data={"csrf_token": csrf}, headers=ANONYMOUS, follow_redirects=False
    )
    assert started.status_code == 303, started.text
    found = re.fullmatch(
        r"/admin/bulletins\?started=([0-9a-f-]{36})#runs", started.headers["location"]
    )
    assert found
    run_id = found.group(1)
    try:
        shown = client.get(started.headers["location"], headers=ANONYMOUS)
        assert shown.status_code == 200
        assert re.search(
            rf"(已启动周调度|周调度已在排队或运行中)（流程运行 {run_id[:8]}）", shown.text
        )
        assert f'href="{prefect_run_url(run_id)}" class="run-link"' in shown.text
        runs = shown.text.split('id="runs"')[1].split('id="list"')[0]
        assert f'href="{prefect_run_url(run_id)}">运行详情</a>' in runs
        assert "周调度" in runs and "手动启动" in runs
        async with get_client() as prefect:
            run = await prefect.read_flow_run(run_id)
        assert "on-demand" in run.tags and run.state_type.value in (
            "SCHEDULED",
            "PENDING",
            "RUNNING",
        )
    finally:
        async with get_client() as prefect:
            await prefect.delete_flow_run(run_id)  # no runner here; leave nothing to pick up
