"""The calendar over HTTP (/calendar/…) and on the command line (`xieshang calendar …`)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import select
from typer.testing import CliRunner

from models.enums import Stage
from models.tables import HolidaySchedule
from tests.conftest import ANONYMOUS

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "calendars" / "2027.example.yaml"
BODY_2027 = {
    "holidays": [{"date": f"2027-01-0{d}", "name": "元旦"} for d in (1, 2, 3, 4)],
    "workdays": ["2027-01-09"],
}


def test_year_views_name_their_source(client):
    r = client.get("/calendar/2026")
    assert r.status_code == 200
    body = r.json()
    assert body["source"] == "package" and body["provisional"] is False
    assert {"date": "2026-10-01", "name": "国庆节"} in body["holidays"]
    assert "2026-09-20" in [d["date"] for d in body["workdays"]]
    body = client.get("/calendar/2027").json()
    assert body["source"] == "rule" and body["provisional"] is True
    assert body["workdays"] == [] and body["holidays"][0] == {"date": "2027-01-01", "name": "元旦"}
    assert "暂估" in body["source_label"]
    r = client.get("/calendar/1900")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "year"


def test_working_days_answers_date_and_provisional(client):
    body = client.get("/calendar/working-days", params={"start": "2026-09-30", "days": 1}).json()
    assert body["date"] == "2026-10-08" and body["provisional"] is False
    body = client.get("/calendar/working-days", params={"start": "2026-12-31", "days": 1}).json()
    assert body["date"] == "2027-01-04" and body["provisional"] is True
    r = client.get("/calendar/working-days", params={"start": "2026-02-30", "days": 1})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start"
    r = client.get("/calendar/working-days", params={"start": "2026-12-31"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "days"


def test_administrator_loads_a_year(client, session):
    session.commit()
    forced = {**BODY_2027, "note": "示例（演示用）", "force": True}
    assert client.put("/calendar/2027", json=forced).status_code == 200
    r = client.put("/calendar/2027", json={**BODY_2027})
    assert r.status_code == 200, r.text
    assert r.json()["holidays"] == 4 and r.json()["workdays"] == 1
    body = client.get("/calendar/2027").json()
    assert body["source"] == "loaded" and body["provisional"] is False
    assert body["workdays"] == [{"date": "2027-01-09", "name": "调休上班"}]
    assert body["loaded_at"] is not None
    body = client.get("/calendar/working-days", params={"start": "2026-12-31", "days": 1}).json()
    assert body == {
        "start": "2026-12-31",
        "days": 1,
        "date": "2027-01-05",
        "deadline": "2027-01-05T15:59:59Z",
        "provisional": False,
    }


def test_load_refusals(client, loop, session):
    cast = loop.cast
    session.commit()
    r = client.put("/calendar/2027", json=BODY_2027, headers=client.as_(cast.officer))
    assert r.status_code == 403 and "无权推进协商流程" in r.json()["detail"]
    r = client.put("/calendar/2027", json=BODY_2027, headers=ANONYMOUS)
    assert r.status_code == 401 and r.json()["detail"] == "请先登录"
    bad = {"holidays": [{"date": "2028-01-01"}], "workdays": []}
    r = client.put("/calendar/2027", json=bad)
    assert r.status_code == 422 and r.json()["field"] == "holidays.0.date"
    assert "不在 2027 年内" in r.json()["detail"]
    bad = {"holidays": [{"date": "1月1日"}], "workdays": []}
    r = client.put("/calendar/2027", json=bad)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "holidays.0.date"
    bad = {"holidays": [{"date": "2027-01-02"}], "workdays": ["2027-01-02"]}
    r = client.put("/calendar/2027", json=bad)
    assert r.status_code == 422 and r.json()["field"] == "workdays.0"
    r = client.put("/calendar/2027", json={"by": cast.admin.id, **BODY_2027})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "by"  # no acting for others
    example = {**BODY_2027, "note": "示例，非官方放假安排"}
    r = client.put("/calendar/2027", json=example)
    assert r.status_code == 422 and r.json()["field"] == "note"
    assert "标明为示例" in r.json()["detail"]
    assert session.exec(select(HolidaySchedule)).all() == []


def test_provisional_is_visible_on_items_participants_and_deadlines(
    client, loop, session, time_machine
):
    time_machine.move_to(
        dt.datetime(2026, 12, 29, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False
    )
    loop.today = dt.date(2026, 12, 29)
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    session.commit()
    items = client.get(f"/topics/{topic.id}/items").json()["data"]
    assert items and all(i["deadline_provisional"] for i in items)
    assert items[0]["ack_due_at"] == "2027-01-04T15:59:59Z"
    deadlines = client.get(
        "/calendar/deadlines", params={"topic_id": topic.id, "provisional": True}
    ).json()["data"]
    assert {d["obligation"] for d in deadlines} == {"acknowledgement"}
    assert all(d["counted_from"] == "2026-12-29" and d["working_days"] == 3 for d in deadlines)
    assert (
        "rsvp_due_provisional" in client.get(f"/topics/{topic.id}/participants").json()["data"][0]
    )

    r = client.put("/calendar/2027", json={**BODY_2027})
    assert r.status_code == 200 and r.json()["moved"] == len(items)
    items = client.get(f"/topics/{topic.id}/items").json()["data"]
    assert all(not i["deadline_provisional"] for i in items)
    assert items[0]["ack_due_at"] == "2027-01-05T15:59:59Z"
    assert client.get("/calendar/deadlines", params={"provisional": True}).json()["data"] == []


def test_cli_loads_and_shows_a_year(committed_db, tmp_path):
    from runtime.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["calendar", "show", "2027"])
    assert (
        r.exit_code == 0 and "按法定节假日规则暂估" in r.output and "2027-01-01  元旦" in r.output
    )
    path = tmp_path / "2027.json"
    path.write_text(json.dumps({"year": 2027, **BODY_2027}, ensure_ascii=False), encoding="utf-8")
    r = runner.invoke(app, ["calendar", "load", str(path)])
    assert r.exit_code == 0, r.output
    assert "已导入 2027 年放假安排：放假 4 天，调休上班 1 天" in r.output
    r = runner.invoke(app, ["calendar", "show", "2027", "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["source"] == "loaded"
    # The shipped example says it is not official: refused, nothing replaced …
    r = runner.invoke(app, ["calendar", "load", str(EXAMPLE)])
    assert r.exit_code == 1 and "标明为示例（示例，非官方放假安排）" in r.output, r.output
    assert "--force" in r.output
    r = runner.invoke(app, ["calendar", "show", "2027"])
    assert "调休上班：" in r.output and "2027-01-09" in r.output
    # … unless forced (a demo), which loads it, replacing the year, with a warning.
    r = runner.invoke(app, ["calendar", "load", str(EXAMPLE), "--force"])
    assert r.exit_code == 0 and "替换原有 5 条" in r.output, r.output
    assert "已按 --force 导入示例安排" in r.output


def test_cli_refuses_a_file_marked_as_an_example_by_name_or_heading(committed_db, tmp_path):
    from runtime.cli import app

    body = json.dumps({"year": 2027, **BODY_2027}, ensure_ascii=False)
    by_name = tmp_path / "2027.example.json"
    by_name.write_text(body, encoding="utf-8")
    r = CliRunner().invoke(app, ["calendar", "load", str(by_name)])
    assert r.exit_code == 1 and "标明为示例（文件名 2027.example.json）" in r.output
    by_heading = tmp_path / "2027.yaml"
    by_heading.write_text(
        "# 示例文件（EXAMPLE）—— 不是官方放假安排\nyear: 2027\nholidays:\n"
        "  - {date: 2027-01-01, name: 元旦}\n",
        encoding="utf-8",
    )
    r = CliRunner().invoke(app, ["calendar", "load", str(by_heading)])
    assert r.exit_code == 1 and "标明为示例" in r.output
    r = CliRunner().invoke(app, ["calendar", "show", "2027"])
    assert "暂估" in r.output  # nothing was loaded


def test_cli_refuses_a_bad_file(committed_db, tmp_path):
    from runtime.cli import app

    path = tmp_path / "bad.yaml"
    path.write_text("year: 2027\nholidays:\n  - {date: 2027-01-01}\nworkdays: [2027-01-01]\n")
    r = CliRunner().invoke(app, ["calendar", "load", str(path)])
    assert r.exit_code == 1 and "既是放假日又是调休上班日" in r.output and "workdays.0" in r.output
    path.write_text("year: 2027\nholiday: []\n")
    r = CliRunner().invoke(app, ["calendar", "load", str(path)])
    assert r.exit_code == 2 and "无法识别的字段：holiday" in r.output
