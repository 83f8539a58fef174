"""The office's working-day calendar page, over HTTP (no browser): a year's official schedule
loaded by pasting lines or uploading a file, a preview before a loaded year is replaced, every
refusal beside its field with what was typed kept and nothing written, only the office, and a
page whose queries do not grow with the years loaded."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from models import schedule
from models.tables import FollowUp, HolidaySchedule
from tests.conftest import ANONYMOUS, sql_statements
from tests.pages.conftest import sign_in_client

PAGE = "/admin/calendar"
SH = ZoneInfo("Asia/Shanghai")
# 2027-01-01 is a Friday; 2027-02-14 a Sunday.
LINES_2027 = """日期,类型,名称
2027-01-01~2027-01-03,放假,元旦
2027-02-05～2027-02-11，放假，春节
2027年2月14日,上班
"""


def _days(session: Session, year: int) -> list[tuple[str, bool, str]]:
    session.expire_all()
    rows = session.exec(
        select(HolidaySchedule).where(HolidaySchedule.year == year).order_by(HolidaySchedule.day)
    ).all()
    return [(r.day.isoformat(), r.working, r.name) for r in rows]


def _error(html: str, name: str) -> str:
    """The message beside a field."""
    found = re.search(rf'<p class="field-error" id="e-{name}">(.*?)</p>', html, re.S)
    assert found, f"no error beside {name}"
    return found.group(1)


def _textarea(html: str) -> str:
    found = re.search(r'<textarea id="f-schedule"[^>]*>(.*?)</textarea>', html, re.S)
    assert found
    return found.group(1)


def test_the_office_loads_a_year_by_pasting_its_days(client, loop, session):  # type: ignore[no-untyped-def]
    csrf = sign_in_client(client, session, loop.cast.admin, "office-admin")
    before = client.get(PAGE + "?year=2027", headers=ANONYMOUS)
    assert before.status_code == 200
    assert "2027 年官方放假安排尚未导入" in before.text
    assert "尚未导入任何年份的官方放假安排。" in before.text
    assert 'href="/admin/calendar"' in before.text and 'href="/admin/bulletins"' in before.text

    loaded = client.post(
        PAGE,
        data={"csrf_token": csrf, "year": "", "schedule": LINES_2027, "note": "国办发明电"},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert loaded.status_code == 303, loaded.text
    assert loaded.headers["location"] == PAGE + "?year=2027#year"
    assert _days(session, 2027) == [
        *[(f"2027-01-0{d}", False, "元旦") for d in (1, 2, 3)],
        *[(f"2027-02-{d:02}", False, "春节") for d in range(5, 12)],
        ("2027-02-14", True, schedule.WORKDAY_NAME),
    ]
    shown = client.get(loaded.headers["location"], headers=ANONYMOUS)
    assert (
        "已导入 2027 年官方放假安排：放假 10 天，调休上班 1 天（替换原有 0 条）；"
        "重新计算未到期提醒 0 条，其中 0 个期限随之变动"
    ) in shown.text
    # As a person reads the notice: named runs of days with weekdays, the adjusted Sunday.
    assert "2027年2月5日 星期五 至 2027年2月11日 星期四<small>（7 天）" in shown.text
    assert "2027年1月1日 星期五 至 2027年1月3日 星期日" in shown.text
    assert "<li>2027年2月14日 星期日</li>" in shown.text
    assert "2027 年 <small>管理员导入的官方放假安排</small>" in shown.text
    assert "尚未导入" not in shown.text.split('id="year"')[1].split('id="load"')[0]
    assert re.search(
        r'href="\?year=2027" aria-current="page">2027 年</a>\s*<small>放假 10 天 · 调休上班 1 天',
        shown.text,
    )


def test_a_moved_deadline_is_counted_in_the_answer(client, loop, session, time_machine):  # type: ignore[no-untyped-def]
    """An acknowledgement due in working days that reach into 2027 (暂估 until loaded): a
    schedule with 4 January off moves it, and the answer says how many moved."""
    from models.enums import Stage

    time_machine.move_to(dt.datetime(2026, 12, 30, 10, tzinfo=SH), tick=False)
    loop.today = dt.date(2026, 12, 30)
    loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)  # 签收 due 2027-01-05 (暂估)
    session.commit()
    csrf = sign_in_client(client, session, loop.cast.admin, "office-admin")
    loaded = client.post(
        PAGE,
        data={"csrf_token": csrf, "schedule": "2027-01-01~2027-01-04,放假,元旦"},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert loaded.status_code == 303, loaded.text
    shown = client.get(loaded.headers["location"], headers=ANONYMOUS).text
    moved = re.search(r"其中 (\d+) 个期限随之变动", shown)
    assert moved and int(moved.group(1)) >= 1, shown
    session.expire_all()
    rows = session.exec(select(FollowUp).where(FollowUp.working_days.is_not(None))).all()  # type: ignore[union-attr]
    assert rows and all(r.deadline.date() >= dt.date(2027, 1, 5) for r in rows)


def test_replacing_a_loaded_year_is_previewed_first(client, loop, session):  # type: ignore[no-untyped-def]
    schedule.load_schedule(
        session, 2027, holidays=[{"date": "2027-01-01", "name": "元旦"}], workdays=[]
    )
    session.commit()
    csrf = sign_in_client(client, session, loop.cast.admin, "office-admin")
    asked = client.post(
        PAGE,
        data={"csrf_token": csrf, "year": "2027", "schedule": LINES_2027},
        headers=ANONYMOUS,
    )
    assert asked.status_code == 200  # not loaded: the preview asks to confirm
    assert "预览：2027 年放假安排" in asked.text and "2027 年已导入 1 天" in asked.text
    assert "与已导入的相比：新增 10 天，去掉 0 天。" in asked.text
    assert "新增：2027年1月2日 星期六（元旦）" in asked.text
    assert _days(session, 2027) == [("2027-01-01", False, "元旦")]

    hidden = re.search(r'<input type="hidden" name="schedule" value="(.*?)">', asked.text, re.S)
    assert hidden and "2027-02-05～2027-02-11" in hidden.group(1)
    confirmed = client.post(
        PAGE,
        data={
            "csrf_token": csrf,
            "year": "2027",
            "schedule": LINES_2027,
            "note": "",
            "force": "",
            "confirm": "1",
        },
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert confirmed.status_code == 303
    assert len(_days(session, 2027)) == 11
    told = client.get(confirmed.headers["location"], headers=ANONYMOUS).text
    assert "（替换原有 1 条）" in told


def test_the_preview_button_writes_nothing(client, loop, session):  # type: ignore[no-untyped-def]
    csrf = sign_in_client(client, session, loop.cast.admin, "office-admin")
    shown = client.post(
        PAGE,
        data={"csrf_token": csrf, "schedule": LINES_2027, "action": "preview"},
        headers=ANONYMOUS,
    )
    assert shown.status_code == 200 and "放假 10 天，调休上班 1 天。" in shown.text
    assert '<span class="day-name">调休上班</span> 2027年2月14日 星期日' in shown.text
    assert _days(session, 2027) == []


def test_a_file_is_loaded_json_like_the_api_or_a_spreadsheets_csv(client, loop, session):  # type: ignore[no-untyped-def]
    csrf = sign_in_client(client, session, loop.cast.admin, "office-admin")
    body = {
        "year": 2028,
        "holidays": [{"date": "2028-01-01", "name": "元旦"}],
        "workdays": ["2028-01-02"],
    }
    sent = client.post(
        PAGE,
        data={"csrf_token": csrf},
        files={"file": ("2028.json", json.dumps(body).encode(), "application/json")},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    assert _days(session, 2028) == [
        ("2028-01-01", False, "元旦"),
        ("2028-01-02", True, schedule.WORKDAY_NAME),
    ]
    # A CSV saved by a spreadsheet on a Chinese Windows is GB18030, not UTF-8.
    gbk = "日期,类型,名称\n2029-01-01,放假,元旦\n".encode("gb18030")
    sent = client.post(
        PAGE,
        data={"csrf_token": csrf},
        files={"file": ("2029年放假安排.csv", gbk, "text/csv")},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    assert _days(session, 2029) == [("2029-01-01", False, "元旦")]


def test_every_refusal_is_beside_its_field_with_what_was_typed(client, loop, session):  # type: ignore[no-untyped-def]
    csrf = sign_in_client(client, session, loop.cast.admin, "office-admin")

    def post(**fields: str):  # type: ignore[no-untyped-def]
        return client.post(PAGE, data={"csrf_token": csrf, **fields}, headers=ANONYMOUS)

    empty = post(schedule="  ")
    assert empty.status_code == 422
    assert _error(empty.text, "schedule") == "请粘贴放假安排或选择文件"

    typo = "2027-01-01,放假,元旦\n2027-13-01,放假,元旦\n"
    bad_date = post(schedule=typo)
    assert bad_date.status_code == 422
    assert _error(bad_date.text, "schedule").startswith("第 2 行：“2027-13-01”不是日期")
    assert _textarea(bad_date.text) == typo  # what was typed is kept

    bad_kind = post(schedule="2027-01-01,请假,元旦")
    assert "类型“请假”无法识别，应为“放假”或“上班”" in _error(bad_kind.text, "schedule")

    other_year = post(year="2028", schedule="2027-01-01,放假,元旦")
    assert other_year.status_code == 422
    assert _error(other_year.text, "year") == "安排中写明的是 2027 年，与填写的 2028 年不一致"
    assert 'value="2028"' in other_year.text

    weekday = post(schedule="2027-01-01,放假,元旦\n2027-01-04,上班")
    assert "2027-01-04 是星期一，本来就上班" in _error(weekday.text, "schedule")
    both = post(schedule="2027-01-01,放假,元旦\n2027-01-01,放假,元旦")
    assert "2027-01-01 重复列出" in _error(both.text, "schedule")
    mixed_years = post(schedule="2027-01-01,放假,元旦\n2028-01-01,放假,元旦")
    assert _error(mixed_years.text, "year") == "请填写年份（安排中的日期不在同一年）"
    bad_json = post(schedule='{"holidays": [}')
    assert _error(bad_json.text, "schedule").startswith("无法按 JSON 读取")

    example = post(schedule="2027-01-01,放假,元旦", note="示例安排")
    assert example.status_code == 422
    assert "该放假安排标明为示例（示例安排）" in _error(example.text, "note")
    assert 'name="force"' in example.text  # the one way past it is offered beside it
    assert _days(session, 2027) == []  # nothing of any refusal was written
    forced = client.post(
        PAGE,
        data={
            "csrf_token": csrf,
            "schedule": "2027-01-01,放假,元旦",
            "note": "示例安排",
            "force": "1",
        },
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert forced.status_code == 303 and _days(session, 2027) == [("2027-01-01", False, "元旦")]

    huge = client.post(
        PAGE,
        data={"csrf_token": csrf},
        files={"file": ("big.csv", b"x" * 300_000, "text/csv")},
        headers=ANONYMOUS,
    )
    assert huge.status_code == 422 and "文件过大" in _error(huge.text, "file")
    no_token = client.post(PAGE, data={"schedule": LINES_2027}, headers=ANONYMOUS)
    assert no_token.status_code == 403 and "CSRF" in no_token.text


def test_only_the_office_loads_the_calendar(client, loop, session):  # type: ignore[no-untyped-def]
    csrf = sign_in_client(client, session, loop.cast.officer, "officer-li")
    refused = client.get(PAGE, headers=ANONYMOUS)
    assert refused.status_code == 403
    assert "无权推进协商流程" in refused.text and "可办理的是：协商办工作人员" in refused.text
    post = client.post(PAGE, data={"csrf_token": csrf, "schedule": LINES_2027}, headers=ANONYMOUS)
    assert post.status_code == 403 and _days(session, 2027) == []
    assert 'href="/admin/calendar"' not in client.get("/work", headers=ANONYMOUS).text
    client.cookies.clear()
    away = client.get(PAGE, headers=ANONYMOUS, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/login?next=")


def test_the_page_takes_the_same_queries_for_ten_years_as_for_one(client, loop, session):  # type: ignore[no-untyped-def]
    sign_in_client(client, session, loop.cast.admin, "office-admin")

    def load(year: int) -> None:
        schedule.load_schedule(
            session,
            year,
            holidays=[{"date": f"{year}-01-01"}, {"date": f"{year}-10-01"}],
            workdays=[],
        )
        session.commit()

    load(2030)
    with sql_statements(session) as statements:
        assert client.get(PAGE + "?year=2030", headers=ANONYMOUS).status_code == 200
        few = len(statements)
        for year in range(2031, 2040):
            load(year)
        statements.clear()
        shown = client.get(PAGE + "?year=2030", headers=ANONYMOUS)
        assert len(statements) <= few
    assert shown.text.count('<a href="?year=') == 10


def test_the_command_line_reads_the_same_lines(committed_db, tmp_path):  # type: ignore[no-untyped-def]
    """One reader for the page and `xieshang calendar load`: the office's CSV loads there too,
    and a bad line is refused there with the same words."""
    from typer.testing import CliRunner

    from runtime.cli import app

    path = tmp_path / "2027.csv"
    path.write_text(LINES_2027, encoding="utf-8")
    loaded = CliRunner().invoke(app, ["calendar", "load", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "已导入 2027 年放假安排：放假 10 天，调休上班 1 天" in loaded.output
    path.write_text("2027-01-01,放假,元旦\n2027-13-01,放假,元旦\n", encoding="utf-8")
    refused = CliRunner().invoke(app, ["calendar", "load", str(path)])
    assert refused.exit_code == 2 and "第 2 行：“2027-13-01”不是日期" in refused.output
