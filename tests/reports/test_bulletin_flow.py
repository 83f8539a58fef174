"""The monthly bulletin as a real Prefect flow run, its schedules, and its API and CLI doors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from config.db import engine_for
from config.deployments import MONTHLY_BULLETIN_FLOW, QUARTERLY_REVIEW_FLOW, SCHEDULE_TIMEZONE
from models.tables import Bulletin, Notification
from tests.reports.dataset import build

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def reports_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from config.settings import get_settings

    monkeypatch.setenv("XS_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    return get_settings().reports_dir


async def test_monthly_flow_writes_files_row_announcement_and_artifact(
    prefect_server, committed_db, reports_dir
):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from flows.monthly_bulletin import monthly_bulletin

    engine = engine_for(committed_db)
    with Session(engine) as s:
        build(s)
        s.commit()

    result = await monthly_bulletin(period="2026-10")

    for fmt in ("html", "pdf", "xlsx"):
        path = reports_dir / result["files"][fmt]
        assert path.is_file() and path.stat().st_size > 1000, fmt
    with Session(engine) as s:
        row = s.exec(select(Bulletin)).one()
        assert (row.kind, row.period_start.isoformat(), row.period_end.isoformat()) == (
            "monthly",
            "2026-10-01",
            "2026-10-31",
        )
        assert row.id == result["bulletin_id"]
        assert row.summary["overall"]["completion_rate"] == 0.75
        notes = s.exec(
            select(Notification).where(Notification.event_key == "bulletin:monthly:2026-10")
        ).all()
        assert {n.recipient for n in notes} == {"role-approver", "role-administrator"}
        assert all(n.status.value != "pending" for n in notes)  # the flow delivered them
    async with get_client() as client:
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["monthly-bulletin"])),
            limit=5,
        )
    assert any("| 城南街道 | 3 | 3 | 100.0%" in (a.data or "") for a in artifacts)


async def test_recurring_runs_are_scheduled_in_shanghai():
    from flows.registry import deployments

    by_flow = {d.flow_name: d for d in await deployments()}
    for name, cron in (
        (MONTHLY_BULLETIN_FLOW, "0 9 1 * *"),
        (QUARTERLY_REVIEW_FLOW, "0 9 1 1,4,7,10 *"),
    ):
        (schedule,) = by_flow[name].schedules
        assert schedule.schedule.cron == cron
        assert schedule.schedule.timezone == SCHEDULE_TIMEZONE


def _stored_bulletin(session, reports_dir: Path) -> Bulletin:
    from tasks.reports import write_file

    rel = "monthly/2026-09/monthly-2026-09"
    files = {
        "pdf": write_file(f"{rel}.pdf", b"%PDF-1.7 test"),
        "html": write_file(f"{rel}.html", "<html lang='zh-CN'>月通报</html>"),
    }
    row = Bulletin(
        kind="monthly",
        period_start=dt.date(2026, 9, 1),
        period_end=dt.date(2026, 9, 30),
        files=files,
        summary={"overall": {"completion_rate": 0.8}, "ranking": {}, "overdue": {"total": 2}},
    )
    session.add(row)
    session.commit()  # each request rolls back what was not committed (a savepoint here)
    return row


def test_api_lists_and_downloads_files(client, session, reports_dir):
    row = _stored_bulletin(session, reports_dir)
    listed = client.get("/bulletins").json()["data"]
    assert [b["id"] for b in listed] == [row.id]
    assert listed[0]["title"] == "2026年9月整改工作月通报" and listed[0]["overdue_total"] == 2
    assert set(listed[0]["files"]) == {"pdf", "html"}
    detail = client.get(f"/bulletins/{row.id}").json()
    assert detail["summary"]["overall"]["completion_rate"] == 0.8

    pdf = client.get(f"/bulletins/{row.id}/files/pdf")
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 test"
    assert pdf.headers["content-type"] == "application/pdf"
    disposition = pdf.headers["content-disposition"]
    assert disposition.startswith("inline;") and "filename*=utf-8''" in disposition
    assert "%E6%9C%88%E9%80%9A%E6%8A%A5.pdf" in disposition  # 月通报.pdf
    html = client.get(f"/bulletins/{row.id}/files/html")
    assert html.headers["content-type"] == "text/html; charset=utf-8" and "月通报" in html.text

    missing = client.get(f"/bulletins/{row.id}/files/xlsx")
    assert missing.status_code == 404 and "数据表文件不存在" in missing.json()["detail"]
    assert client.get("/bulletins/999999").json()["detail"] == "通报 999999 不存在"
    assert client.get("/bulletins/999999/files/pdf").status_code == 404
    assert client.get(f"/bulletins/{row.id}/files/doc").status_code == 422


def test_api_refuses_a_bad_period_before_starting_anything(client):
    response = client.post("/bulletins/monthly", json={"period": "2026-13"})
    assert response.status_code == 422 and "期间格式" in response.json()["detail"]
    response = client.post("/bulletins/monthly", json={"period": "2026Q3"})
    assert response.status_code == 422 and "月通报" in response.json()["detail"]


def test_cli_refuses_a_bad_period():
    from typer.testing import CliRunner

    from runtime.cli import app

    result = CliRunner().invoke(app, ["bulletin", "monthly", "--period", "十月"])
    assert result.exit_code == 2 and "期间格式" in result.output


def test_api_refuses_a_period_that_has_not_ended_before_starting_anything(client):
    """On 2026-11-23 a bulletin for 2027-01 was produced and announced; now it is refused
    (409, nothing launched: without the refusal this would try Prefect and answer 503)."""
    import time_machine

    with time_machine.travel(dt.datetime(2026, 11, 23, 10, 0, tzinfo=TZ), tick=False):
        future = client.post("/bulletins/monthly", json={"period": "2027-01"})
        running = client.post("/bulletins/monthly", json={"period": "2026-11"})
        ended_interim = client.post(
            "/bulletins/monthly", json={"period": "2026-10", "interim": True}
        )
        quarter = client.post("/bulletins/quarterly", json={"period": "2026Q4"})
    assert future.status_code == 409
    assert future.json()["detail"] == (
        "2027年1月尚未开始，不能生成2027年1月月通报，最早可于 2027年2月1日起生成；"
        "目前可生成的最近一期是2026年10月月通报（2026-10）"
    )
    assert (
        running.status_code == 409 and "可生成中期月通报（interim: true" in running.json()["detail"]
    )
    assert ended_interim.status_code == 409
    assert "2026年10月已经结束，应生成正式月通报" in ended_interim.json()["detail"]
    assert quarter.status_code == 409 and "2026年第四季度尚未结束" in quarter.json()["detail"]


async def test_flow_refuses_a_future_month_and_writes_nothing(
    prefect_server, committed_db, reports_dir
):
    from flows.monthly_bulletin import monthly_bulletin
    from models.errors import Conflict

    engine = engine_for(committed_db)
    with Session(engine) as s:
        build(s)
        s.commit()
    next_year = f"{dt.date.today().year + 1}-01"
    with pytest.raises(Conflict, match="尚未开始，不能生成"):
        await monthly_bulletin(period=next_year)
    with Session(engine) as s:
        assert s.exec(select(Bulletin)).all() == []
        assert s.exec(select(Notification)).all() == []
    assert not reports_dir.exists() or not any(reports_dir.rglob("*.pdf"))


async def test_interim_flow_marks_every_page_and_leaves_the_final_alone(
    prefect_server, committed_db, reports_dir
):
    """An interim report of the running month: its own row and files, 中期 on every page of
    the PDF, in the XLSX and in the announcement."""
    from openpyxl import load_workbook
    from pypdf import PdfReader

    from flows.monthly_bulletin import monthly_bulletin

    engine = engine_for(committed_db)
    with Session(engine) as s:
        build(s)
        s.commit()
    final = await monthly_bulletin(period="2026-10")
    result = await monthly_bulletin(interim=True)

    assert result["interim"] and result["bulletin_id"] != final["bulletin_id"]
    assert result["files"]["pdf"].endswith("-interim.pdf")
    pages = PdfReader(reports_dir / result["files"]["pdf"]).pages
    for page in pages:
        text = "".join(ch for ch in page.extract_text() if ch not in "\x00 \n")
        assert "整改工作月通报（中期，截至" in text
    wb = load_workbook(reports_dir / result["files"]["xlsx"])
    assert "（中期，截至" in wb["概览"]["A1"].value
    with Session(engine) as s:
        rows = {r.interim: r for r in s.exec(select(Bulletin)).all()}
        assert set(rows) == {False, True}
        assert rows[False].id == final["bulletin_id"] and rows[False].as_of is None
        assert rows[True].as_of is not None and rows[True].summary["interim"] is True
        notes = s.exec(select(Notification).where(Notification.event_key.contains("interim"))).all()  # type: ignore[attr-defined]
        assert {n.recipient for n in notes} == {"role-approver", "role-administrator"}
        assert all(n.title.startswith("【中期月通报】") for n in notes)
        assert all("数字统计到生成时刻，不是本期正式月通报" in n.body for n in notes)
    # The final October files were not touched by the interim run.
    assert (reports_dir / final["files"]["pdf"]).is_file()
