"""The bulletin's numbers against the hand-computed KPIs of tests/reports/dataset.py,
on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import bulletin, kpis
from models.bulletin import BulletinKind
from models.case import role_tag
from models.enums import Adoption, ItemStatus, Role, SessionForm, TopicSource
from models.tables import (
    Bulletin,
    ConsultationSession,
    Department,
    Notification,
    Person,
    RectificationItem,
    Suggestion,
    Topic,
)
from tests.reports.dataset import (
    OCTOBER_DEPARTMENTS,
    OCTOBER_OVERALL,
    OCTOBER_TOPICS,
    at,
    build,
    deadline,
)

OCTOBER = bulletin.parse_period(BulletinKind.MONTHLY, "2026-10")

# Per department, worked out by hand in dataset.py. The on-time rates changed with the
# one KPI module (models.kpis, issue 6): an item still open past its deadline at the end of
# the period now counts as not on time, so the denominator is completed + overdue
# (items_on_time_base) instead of completed alone.
EXPECTED = {
    "区住建局": {
        "items": 5,
        "items_due": 4,
        "items_completed": 2,
        "items_on_time": 1,
        "items_solved": 1,  # a1 (rated satisfied); a2 is recorded solved but rated 2
        "items_long_term": 1,
        "items_overdue": 2,
        "items_on_time_base": 4,  # a1 a2 completed + a3 a6 open past the deadline
        "items_transferred": 2,
        "items_acknowledged_on_time": 1,
        "items_rechecked": 1,
        "items_rebound": 1,
        "ratings": 3,
        "ratings_satisfied": 2,
        "completion_rate": 0.5,
        "on_time_rate": 0.25,  # 1 / (2 + 2); was 1 / 2 when overdue items were left out
        "problem_solved_rate": 0.25,  # 1 / 4
        "long_term_mechanism_rate": 0.5,
        "response_rate": 0.5,
        "rebound_rate": 1.0,
        "satisfaction_rate": 0.6667,
        "mean_score": 3.67,
    },
    "城南街道": {
        "items": 3,
        "items_due": 3,
        "items_completed": 3,
        "items_on_time": 3,
        "items_solved": 1,  # b1 (its 回头看 held); b3 is recorded solved, unconfirmed
        "items_overdue": 0,
        "items_rechecked": 1,  # b1 held at the re-check
        "items_rebound": 0,
        "completion_rate": 1.0,
        "on_time_rate": 1.0,
        "problem_solved_rate": 0.3333,  # 1 / 3
        "rebound_rate": 0.0,
        "long_term_mechanism_rate": 0.0,
        "response_rate": None,
        "satisfaction_rate": None,
        "mean_score": None,
    },
    "区交通局": {
        "items_due": 4,
        "items_completed": 3,
        "items_on_time": 1,
        "items_overdue": 1,
        "completion_rate": 0.75,
        "on_time_rate": 0.25,  # 1 / (3 + c4 overdue); was 1 / 3
    },
    "区卫健委": {
        "items_due": 4,
        "items_completed": 3,
        "items_on_time": 3,
        "items_overdue": 1,
        "completion_rate": 0.75,
        "on_time_rate": 0.75,  # 3 / (3 + g4 overdue); was 3 / 3
    },
    "区水务局": {"items_due": 1, "items_completed": 1, "completion_rate": 1.0},
    "区市场监管局": {
        "items": 1,
        "items_due": 0,
        "completion_rate": None,
        "items_transferred": 1,
        "response_rate": 1.0,
    },
}


def test_department_kpis_match_hand_computed(session):
    build(session)
    rows = {r["department"]: r for r in bulletin.department_kpis(session, OCTOBER)}
    assert set(rows) == set(EXPECTED)  # 区教育局 had nothing in October
    for name, expected in EXPECTED.items():
        got = {k: rows[name][k] for k in expected}
        assert got == expected, name


def test_every_column_of_october_is_the_hand_computed_value(session):
    """The whole tables of dataset.py (returns, extensions and rating requests included),
    as the files show them (tests/reports/test_bulletin_files.py reads them back)."""
    build(session)
    data = bulletin.compute(session, OCTOBER)
    departments = {
        r["department"]: {k: r[k] for k in bulletin.DEPARTMENT_KEYS} for r in data["departments"]
    }
    assert departments == OCTOBER_DEPARTMENTS
    topics = {r["topic"]: {k: r[k] for k in bulletin.TOPIC_KEYS} for r in data["topics"]}
    assert topics == OCTOBER_TOPICS
    assert {k: data["overall"][k] for k in OCTOBER_OVERALL} == OCTOBER_OVERALL


def test_topic_and_overall_kpis(session):
    build(session)
    topics = {r["topic"]: r for r in bulletin.topic_kpis(session, OCTOBER)}
    t1, t2 = topics["老旧小区加装电梯"], topics["背街小巷环境整治"]
    assert (t1["items"], t1["items_due"], t1["items_completed"]) == (8, 7, 5)
    # On time a1 b1 b2 b3 of completed a1 a2 b1 b2 b3 + overdue a3 a6: 4 / 7 (was 4 / 5).
    assert t1["completion_rate"] == 0.7143 and t1["on_time_rate"] == 0.5714
    assert t1["rebound_rate"] == 0.5  # a5 rebounded, b1 held
    # Item ratings of a1, a2 plus the topic-level one; the November rating is outside.
    assert (t1["ratings"], t1["satisfaction_rate"], t1["mean_score"]) == (4, 0.75, 3.75)
    assert (t2["items"], t2["items_due"], t2["items_completed"]) == (10, 9, 7)
    assert t2["completion_rate"] == 0.7778 and t2["satisfaction_rate"] is None

    overall = bulletin.overall_kpis(session, OCTOBER)
    assert (overall["items"], overall["items_due"], overall["items_completed"]) == (18, 16, 12)
    # On time 1 + 3 + 1 + 3 + 1 = 9 of 12 completed + 4 overdue: 9 / 16 (was 9 / 12).
    assert overall["completion_rate"] == 0.75 and overall["on_time_rate"] == 0.5625
    assert overall["items_overdue"] == 4 and overall["response_rate"] == 0.6667
    assert overall["satisfaction_rate"] == 0.75 and overall["rebound_rate"] == 0.5
    # Every counted item has one lead department: the departments add up to the total.
    rows = bulletin.department_kpis(session, OCTOBER)
    for key in ("items", "items_due", "items_completed", "items_on_time", "items_overdue"):
        assert sum(r[key] for r in rows) == overall[key], key


def test_ranking_needs_minimum_sample_and_breaks_ties(session):
    build(session)
    rows = bulletin.department_kpis(session, OCTOBER)
    ranking = bulletin.rank(rows, min_due=3, size=3)
    order = [r["department"] for r in ranking["ranked"]]
    # 区卫健委 and 区交通局 tie at 75 %: on-time rate decides (75 % against 25 %).
    assert order == ["城南街道", "区卫健委", "区交通局", "区住建局"]
    # The 红榜 admits only who meets the 80 % target with nothing overdue; 区卫健委 is second
    # but has an overdue item (g4), so it is on the 黑榜 with everyone else below or overdue.
    assert [r["department"] for r in ranking["red"]] == ["城南街道"]
    assert [r["department"] for r in ranking["black"]] == ["区住建局", "区交通局", "区卫健委"]
    assert (ranking["red_total"], ranking["black_total"]) == (1, 3)
    # Each entry carries its sample: items due, completed, overdue.
    samples = [(r["items_due"], r["items_completed"], r["items_overdue"]) for r in ranking["black"]]
    assert samples == [(4, 2, 2), (4, 3, 1), (4, 3, 1)]
    # 区水务局's one lucky item (100 %) does not reach the minimum sample.
    assert [(u["department"], u["items_due"]) for u in ranking["unranked"]] == [
        ("区市场监管局", 0),
        ("区水务局", 1),
    ]
    # With the rule relaxed, 100 % vs 100 %: more items due ranks first, not the lucky one.
    relaxed = bulletin.rank(rows, min_due=1, size=1)
    assert [r["department"] for r in relaxed["ranked"][:2]] == ["城南街道", "区水务局"]
    assert [r["department"] for r in relaxed["red"]] == ["城南街道"]
    assert [r["department"] for r in relaxed["black"]] == ["区住建局"]


def test_overdue_list_at_period_end(session):
    build(session)
    total, items = bulletin.overdue_items(session, OCTOBER, limit=3)
    assert total == 4
    assert [(i["title"], i["days_overdue"]) for i in items] == [
        ("整改事项c4", 33),
        ("整改事项a3", 16),
        ("整改事项g4", 6),
    ]
    _, everything = bulletin.overdue_items(session, OCTOBER, limit=10)
    a6 = everything[-1]
    assert (a6["title"], a6["deadline"], a6["completed_after"]) == (
        "整改事项a6",
        "2026-10-30",
        "2026-11-01",
    )
    assert a6["department"] == "区住建局" and a6["officer"] == "区住建局联络员"


def test_quarter_trend_puts_months_side_by_side(session):
    build(session)
    quarter = bulletin.parse_period(BulletinKind.QUARTERLY, "2026Q4")
    data = bulletin.compute(session, quarter)
    trend = data["trend"]
    assert trend["months"] == ["10月", "11月", "12月"]
    october = {r["department"]: r for r in bulletin.department_kpis(session, OCTOBER)}
    for entry in trend["departments"]:
        first = entry["months"][0]
        if entry["department"] in october:
            row = october[entry["department"]]
            assert first == {k: row[k] for k in bulletin.TREND_KEYS}
    housing = next(e for e in trend["departments"] if e["department"] == "区住建局")
    # November: a3 still open (due, overdue), a6 completed on 11-01 (due, completed late).
    assert housing["months"][1]["items_due"] == 2
    assert housing["months"][1]["items_completed"] == 1
    assert trend["overall"][0]["completion_rate"] == 0.75


def test_record_upserts_the_row_and_announces_once(session):
    build(session)
    data = bulletin.compute(session, OCTOBER)
    files = {"html": "monthly/2026-10/x.html", "pdf": "monthly/2026-10/x.pdf"}
    first = bulletin.record(session, OCTOBER, files=files, summary=data)
    again = bulletin.record(session, OCTOBER, files={**files, "xlsx": "x.xlsx"}, summary=data)
    assert first.id == again.id
    rows = session.exec(select(Bulletin)).all()
    assert len(rows) == 1 and rows[0].files["xlsx"] == "x.xlsx"
    notes = session.exec(
        select(Notification).where(Notification.event_key == "bulletin:monthly:2026-10")
    ).all()
    assert sorted(n.recipient for n in notes) == sorted(
        [role_tag(Role.APPROVER), role_tag(Role.ADMINISTRATOR)]
    )
    note = notes[0]
    assert note.title == "【月通报】2026年10月整改工作月通报"
    assert "整改完成率 75.0%" in note.body
    assert "中期" not in note.title + note.body
    assert "期末逾期未办结 4 项" in note.body
    assert (
        "红榜（整改完成率达到目标 ≥80% 且无逾期事项，共 1 个单位）："
        "城南街道（应办结 3 项，已办结 3 项，整改完成率 100.0%，逾期 0 项）"
    ) in note.body
    assert (
        "黑榜（未达目标或有逾期事项，共 3 个单位）："
        "区住建局（应办结 4 项，已办结 2 项，整改完成率 50.0%，逾期 2 项）、区交通局（"
    ) in note.body
    assert f"/bulletins/{first.id}/files/pdf" in note.body


@pytest.mark.parametrize("kind", list(BulletinKind))
def test_empty_period_renders_no_rates(session, kind):
    period = bulletin.parse_period(kind, "2020-01")
    data = bulletin.compute(session, period)
    assert data["departments"] == [] and data["overdue"]["total"] == 0
    assert data["overall"]["completion_rate"] is None


# 2026-10-20 10:00 in Shanghai: an interim report of October, generated mid-month.
OCT_20 = dt.datetime(2026, 10, 20, 2, 0, tzinfo=dt.UTC)


def _interim_october():
    return bulletin.choose_period(BulletinKind.MONTHLY, "2026-10", interim=True, now=OCT_20)


def test_interim_counts_to_the_moment_of_generation(session):
    build(session)
    data = bulletin.compute(session, _interim_october())
    assert data["interim"] and data["mark"] == "中期，截至2026年10月20日 10:00"
    assert data["generated_at"] == "2026-10-20T10:00:00+08:00"
    assert (data["start"], data["end"], data["period_end"]) == (
        "2026-10-01",
        "2026-10-20",
        "2026-10-31",
    )
    # Overdue on 10-20, days counted to 10-20 (the final October counts 33 and 16 days).
    assert data["overdue"]["total"] == 2 and data["overall"]["items_overdue"] == 2
    assert [(i["title"], i["days_overdue"]) for i in data["overdue"]["items"]] == [
        ("整改事项c4", 22),
        ("整改事项a3", 5),
    ]
    # Nothing after the moment counts: a2 (completed 10-25) is not yet completed.
    housing = next(r for r in data["departments"] if r["department"] == "区住建局")
    assert (housing["items_due"], housing["items_completed"]) == (2, 1)


def test_interim_has_its_own_row_and_never_touches_the_final_one(session):
    build(session)
    interim = _interim_october()
    early = bulletin.record(
        session,
        interim,
        files={"pdf": "monthly/2026-10/monthly-2026-10-interim.pdf"},
        summary=bulletin.compute(session, interim),
    )
    final = bulletin.record(
        session,
        OCTOBER,
        files={"pdf": "monthly/2026-10/monthly-2026-10.pdf"},
        summary=bulletin.compute(session, OCTOBER),
    )
    assert early.id != final.id
    rows = {r.interim: r for r in session.exec(select(Bulletin)).all()}
    assert rows[True].as_of == OCT_20 and rows[True].summary["overdue"]["total"] == 2
    assert rows[False].as_of is None and rows[False].summary["overdue"]["total"] == 4
    assert bulletin.file_stem(interim) == "monthly/2026-10/monthly-2026-10-interim"

    public = {b.interim: b for b in map(bulletin.public, rows.values())}
    assert public[True].title == "2026年10月整改工作月通报（中期，截至2026年10月20日 10:00）"
    assert public[False].title == "2026年10月整改工作月通报"

    notes = session.exec(select(Notification).where(Notification.template == "bulletin")).all()
    by_key = {n.event_key for n in notes}
    assert by_key == {
        "bulletin:monthly:2026-10",
        "bulletin:monthly:2026-10:interim:20261020T020000",
    }
    mid = next(n for n in notes if "interim" in n.event_key)
    assert mid.title == "【中期月通报】2026年10月整改工作月通报（中期，截至2026年10月20日 10:00）"
    assert "本件为中期月通报（中期，截至2026年10月20日 10:00）" in mid.body
    assert "2026年10月（2026-10-01 至 2026-10-20）" in mid.body
    assert "截至生成时逾期未办结 2 项" in mid.body
    last = next(n for n in notes if "interim" not in n.event_key)
    assert "中期" not in last.title + last.body


def test_a_lone_department_below_target_with_overdue_items_is_on_the_black_board(session):
    """The case that put a 33 % department on the 红榜: it was the top half of one."""
    dept = Department(name="城东街道", tag="dept-lone")
    session.add(dept)
    session.flush()
    officer = Person(name="城东联络员", role=Role.OFFICER, department_id=dept.id, tag="p-lone")
    topic = Topic(title="农贸市场改造", source=TopicSource.PARTY_GOVERNMENT)
    session.add_all([officer, topic])
    session.flush()
    meeting = ConsultationSession(
        topic_id=topic.id,  # type: ignore[arg-type]
        form=SessionForm.THEMATIC,
        starts_at=at(7, 1),
    )
    session.add(meeting)
    session.flush()
    sugg = Suggestion(
        topic_id=topic.id,  # type: ignore[arg-type]
        session_id=meeting.id,  # type: ignore[arg-type]
        content="建议",
        adoption=Adoption.ADOPTED,
    )
    session.add(sugg)
    session.flush()
    for n, completed in enumerate((at(10, 8), None, None)):
        session.add(
            RectificationItem(
                topic_id=topic.id,  # type: ignore[arg-type]
                suggestion_id=sugg.id,  # type: ignore[arg-type]
                title=f"市场整改{n}",
                lead_department_id=dept.id,  # type: ignore[arg-type]
                officer_id=officer.id,  # type: ignore[arg-type]
                deadline=deadline(10, 10),
                status=ItemStatus.COMPLETED if completed else ItemStatus.IN_PROGRESS,
                transferred_at=at(9, 1),
                ack_due_at=at(9, 4),
                acknowledged_at=at(9, 2),
                completed_at=completed,
            )
        )
    session.flush()
    data = bulletin.compute(session, OCTOBER)
    ranking = data["ranking"]
    assert [r["department"] for r in ranking["ranked"]] == ["城东街道"]
    assert ranking["red"] == [] and ranking["red_total"] == 0
    (black,) = ranking["black"]
    assert (black["department"], black["completion_rate"], black["items_overdue"]) == (
        "城东街道",
        0.3333,
        2,
    )
    bulletin.record(session, OCTOBER, files={}, summary=data)
    note = session.exec(
        select(Notification).where(Notification.event_key == "bulletin:monthly:2026-10")
    ).first()
    assert note is not None
    assert "红榜（整改完成率达到目标 ≥80% 且无逾期事项，共 0 个单位）：本期无" in note.body
    assert "城东街道（应办结 3 项，已办结 1 项，整改完成率 33.3%，逾期 2 项）" in note.body


def test_the_target_is_met_exactly_not_by_rounding():
    completion = kpis.KPIS["completion_rate"]
    assert completion.meets({"items_completed": 4, "items_due": 5}) is True
    assert completion.meets({"items_completed": 7999, "items_due": 10000}) is False
    assert completion.meets({"items_completed": 0, "items_due": 0}) is None


def test_interim_quarter_counts_its_running_month_to_the_moment(session):
    build(session)
    nov_23 = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
    quarter = bulletin.choose_period(BulletinKind.QUARTERLY, "2026Q4", interim=True, now=nov_23)
    trend = bulletin.compute(session, quarter)["trend"]
    assert trend["months"] == ["10月", "11月（截至23日）", "12月"]
    # December has not begun: nothing is counted for it, not zeros.
    assert trend["overall"][2] == dict.fromkeys(bulletin.TREND_KEYS)
    assert all(e["months"][2]["items_due"] is None for e in trend["departments"])
    # October is whole; November is counted to 11-23 10:00, where a3 is overdue.
    assert trend["overall"][0]["completion_rate"] == 0.75
    housing = next(e for e in trend["departments"] if e["department"] == "区住建局")
    assert housing["months"][1]["items_overdue"] == 1
