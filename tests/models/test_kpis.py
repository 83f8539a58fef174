"""One KPI module (issue 6): the golden data set of tests/reports/dataset.py through every
surface — models.kpis as of a moment, GET /topics/{id}/kpis and GET /kpis over HTTP, the
bulletin's compute() for October — on SQLite and PostgreSQL. The arithmetic is written beside
each number; dataset.py describes every record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from models import assessment, bulletin, kpis
from models.bulletin import BulletinKind
from tests.reports.dataset import TZ, build

OCTOBER = bulletin.parse_period(BulletinKind.MONTHLY, "2026-10")
AS_OF = dt.datetime(2026, 11, 1, tzinfo=TZ)  # the end of October, local midnight
ROOT = Path(__file__).resolve().parents[2]

# Topic T1 as of 2026-11-01 00:00 (everything before; a5 counts, unlike in October's
# bulletin, because an as-of window has no start).
T1_AS_OF = {
    # a1 a2 a3 a4 a5 a6 b1 b2 b3 (a7 never transferred, b4 declined)
    "items": 9,
    # a4 is not due (deadline 12-31, open); b3 is due because it was completed
    "items_due": 8,
    # a1 a2 a5 b1 b2 b3 (a6 was completed at 11-01 00:10, after the moment)
    "items_completed": 6,
    "items_on_time": 4,  # a1 b1 b2 b3 (a2 and a5 late)
    "items_overdue": 2,  # a3 (deadline 10-15) and a6 (10-30), open at the moment
    "items_on_time_base": 8,  # 6 completed + 2 overdue
    # recorded solved: a1 a2 a5 b1 b3; confirmed: a1 (rated 5 and 4, satisfied) and b1 (its
    # 回头看 held). a2 was rated 2 (not satisfied), a5 rebounded, b3 was never checked.
    "items_solved": 2,
    "items_long_term": 1,  # a1
    "items_transferred": 9,
    "items_acknowledged_on_time": 8,  # all but a6 (acknowledged 10-09, due 10-06)
    "items_rechecked": 2,  # a5 (rebound), b1 (held)
    "items_rebound": 1,
    "suggestions_decided": 4,  # 3 adopted + 1 not adopted (1 pending)
    "suggestions_adopted": 3,
    "ratings": 4,  # 5, 4, 2 on items and 4 on the topic; the 11-03 rating is later
    "ratings_satisfied": 3,
    "mean_score": 3.75,  # (5 + 4 + 2 + 4) / 4
    "completion_rate": 0.75,  # 6 / 8
    "on_time_rate": 0.5,  # 4 / (6 + 2): a3 and a6, open past the deadline, are not on time
    "problem_solved_rate": 0.25,  # 2 / 8 due
    "adoption_rate": 0.75,  # 3 / 4
    "long_term_mechanism_rate": 0.1667,  # 1 / 6
    "satisfaction_rate": 0.75,  # 3 / 4
    "rebound_rate": 0.5,  # 1 / 2
    "response_rate": 0.8889,  # 8 / 9
    # b3: transferred with 10-20, moved to 11-30 on 10-15, completed 10-31
    "extensions_approved": 1,
    "items_on_time_original": 3,  # a1 b1 b2 (b3 late against 10-20)
    "items_on_time_base_original": 8,  # 6 completed + a3 a6 open past their deadline
    "on_time_rate_original": 0.375,  # 3 / 8
    "bounces": 1,  # 城南街道 returned a4 on 10-06
    "transfers": 10,  # 9 transferred + 1 returned
    "bounce_rate": 0.1,  # 1 / 10
    "rating_requests": 4,  # 居民甲乙丙 (10-10) and 居民丁 (09-20)
    "rating_requests_answered": 2,  # 甲 (10-15) and 丁 (10-12); 丙 rated only on 11-03
    "rating_response_rate": 0.5,  # 2 / 4
}

# All topics as of the same moment: T1 above plus T2 (c1-c4, g1-g4, d1, e1, f1).
ALL_AS_OF = {
    "items": 20,  # 9 + 11
    "items_due": 18,  # 8 + c1-c4 g1-g4 d1 f1 (e1 not due)
    "items_completed": 14,  # 6 + c1-c3 g1-g3 d1 f1
    "items_on_time": 10,  # 4 + c1 g1-g3 d1 f1
    "items_overdue": 4,  # a3 a6 c4 g4
    "items_on_time_base": 18,  # 14 + 4
    "items_solved": 2,  # nothing in T2 is solved
    "items_transferred": 20,
    "items_acknowledged_on_time": 19,  # all but a6
    "suggestions_decided": 5,  # T1 4 + T2 1
    "suggestions_adopted": 4,
    "ratings": 4,
    "completion_rate": 0.7778,  # 14 / 18
    "on_time_rate": 0.5556,  # 10 / 18
    "problem_solved_rate": 0.1111,  # 2 / 18
    "adoption_rate": 0.8,  # 4 / 5
    "long_term_mechanism_rate": 0.0714,  # 1 / 14
    "satisfaction_rate": 0.75,
    "mean_score": 3.75,
    "rebound_rate": 0.5,  # 1 / 2
    "response_rate": 0.95,  # 19 / 20
    "extensions_approved": 1,  # b3
    "items_on_time_original": 9,  # 10 on time less b3
    "on_time_rate_original": 0.5,  # 9 / 18
    "bounces": 2,  # a4 (10-06) and c4 (09-02)
    "transfers": 22,  # 20 + 2
    "bounce_rate": 0.0909,  # 2 / 22
    "rating_response_rate": 0.5,  # only T1 asked: 2 / 4
}

# Topic T1 in October [10-01, 11-01): a5 was completed before it began, so it is out.
T1_OCTOBER = {
    "items": 8,
    "items_due": 7,  # a1 a2 a3 a6 b1 b2 b3
    "items_completed": 5,  # a1 a2 b1 b2 b3
    "items_on_time": 4,  # a1 b1 b2 b3
    "items_overdue": 2,  # a3 a6
    "items_solved": 2,  # recorded a1 a2 b1 b3; confirmed a1 (rated), b1 (re-checked)
    "items_transferred": 2,  # a4 a6 were transferred in October
    "items_rechecked": 2,  # a5 on 10-26, b1 on 10-20
    "completion_rate": 0.7143,  # 5 / 7
    "on_time_rate": 0.5714,  # 4 / (5 + 2)
    "problem_solved_rate": 0.2857,  # 2 / 7
    "long_term_mechanism_rate": 0.2,  # 1 / 5
    "response_rate": 0.5,  # 1 / 2 (a6 acknowledged late)
    "rebound_rate": 0.5,
    "satisfaction_rate": 0.75,
    "mean_score": 3.75,
    "adoption_rate": 0.75,  # 3 / 4 decided (suggestions count in every window)
    "extensions_approved": 1,  # b3, decided 10-15
    "on_time_rate_original": 0.4286,  # a1 b1 b2 / (5 + 2)
    "bounces": 1,  # a4 on 10-06
    "bounce_rate": 0.3333,  # 1 / (a4 a6 transferred + 1 returned)
    "rating_requests": 3,  # 甲乙丙 asked 10-10 (丁 on 09-20, before October)
    "rating_requests_answered": 1,  # 甲; 丙 rated in November
    "rating_response_rate": 0.3333,
}


def _pick(row: dict, expected: dict) -> dict:
    return {k: row[k] for k in expected}


def test_topic_kpis_as_of_a_moment(session):
    ds = build(session)
    got = assessment.kpis(session, topic_id=ds.topics["T1"], as_of=AS_OF)
    assert _pick(got, T1_AS_OF) == T1_AS_OF
    assert _pick(assessment.kpis(session, as_of=AS_OF), ALL_AS_OF) == ALL_AS_OF


def test_http_surfaces_report_the_same_numbers(session, client):
    ds = build(session)
    session.commit()  # a savepoint inside the test's transaction: the route's rollback keeps it
    t1 = ds.topics["T1"]
    topic = client.get(f"/topics/{t1}/kpis", params={"as_of": AS_OF.isoformat()})
    assert topic.status_code == 200, topic.text
    assert _pick(topic.json(), T1_AS_OF) == T1_AS_OF
    # Without an offset the moment is local time, as people write it.
    local = client.get(f"/topics/{t1}/kpis", params={"as_of": "2026-11-01T00:00:00"})
    assert local.json() == topic.json()
    overall = client.get("/kpis", params={"as_of": AS_OF.isoformat()})
    assert overall.status_code == 200, overall.text
    assert _pick(overall.json(), ALL_AS_OF) == ALL_AS_OF
    # Keys existing clients read are all still there.
    for key in ("items", "items_due", "items_completed", "suggestions_decided", "ratings"):
        assert key in overall.json()


def test_topic_page_and_bulletin_agree_over_the_same_window(session):
    """Before issue 6 the topic page divided solved items by all items and the bulletin by
    items due, and "due" ended at <= as_of in one and < end in the other."""
    ds = build(session)
    t1 = ds.topics["T1"]
    data = bulletin.compute(session, OCTOBER)
    row = next(r for r in data["topics"] if r["topic_id"] == t1)
    assert _pick(row, T1_OCTOBER) == T1_OCTOBER
    page = assessment.kpis(session, topic_id=t1, window=OCTOBER.window)
    shared = [k for k in row if k in kpis.LABELS]
    assert {k: page[k] for k in shared} == {k: row[k] for k in shared}
    assert set(kpis.RATE_KEYS) <= set(shared)
    # The whole district: the bulletin's overall row and GET /kpis over October.
    everything = assessment.kpis(session, window=OCTOBER.window)
    overall = data["overall"]
    assert {k: everything[k] for k in overall} == overall
    assert overall["on_time_rate"] == 0.5625  # 9 on time / (12 completed + 4 overdue)


def test_open_overdue_item_is_not_on_time(session):
    """The rule from issue 6, on one department: 区住建局 in October completed a1 on time and
    a2 late, while a3 and a6 were still open past their deadlines at the end."""
    build(session)
    rows = {r["department"]: r for r in bulletin.department_kpis(session, OCTOBER)}
    housing = rows["区住建局"]
    assert (housing["items_on_time"], housing["items_on_time_base"]) == (1, 4)
    assert housing["on_time_rate"] == 0.25  # 1 / (2 + 2), not 1 / 2


def test_every_kpi_is_declared_once():
    assert set(kpis.RATE_KEYS) == {
        "completion_rate",
        "on_time_rate",
        "on_time_rate_original",
        "problem_solved_rate",
        "adoption_rate",
        "long_term_mechanism_rate",
        "satisfaction_rate",
        "rating_response_rate",
        "rebound_rate",
        "response_rate",
        "bounce_rate",
        "evaluation_score",
    }
    for kpi in kpis.KPIS.values():
        assert kpi.numerator in kpis.COUNTS and kpi.denominator in kpis.COUNTS
    assert kpis.KPIS["rebound_rate"].met(0.05) and not kpis.KPIS["rebound_rate"].met(0.06)
    assert kpis.KPIS["problem_solved_rate"].target_text == "≥90%"
    assert kpis.KPIS["on_time_rate"].met(1.0) is None  # DOMAIN.md names no target
    # No other source file spells a KPI's label or defines a rate of its own.
    labels = [k.label for k in kpis.KPIS.values()] + [kpis.LABELS[kpis.MEAN_SCORE]]
    sources = [
        p
        for d in ("api", "models", "tasks", "flows", "config")
        for p in sorted((ROOT / d).rglob("*"))
        if p.suffix in {".py", ".txt", ".j2"} and p != ROOT / "models" / "kpis.py"
    ]
    assert len(sources) > 40
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert "def _rate(" not in text, path
        for label in labels:
            assert label not in text, (path, label)


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (dt.datetime(2026, 10, 15, 12, tzinfo=TZ), 1),  # a3's deadline (10-15 23:59:59) not yet
        (dt.datetime(2026, 10, 16, tzinfo=TZ), 2),  # a3 now overdue beside c4 (09-28)
    ],
)
def test_due_means_deadline_before_the_window_end(session, moment, expected):
    build(session)
    counts = kpis.compute(session, kpis.Window.as_of(moment))
    # Open past the deadline at the moment: c4 (and a3 from 10-16 on); c2 and c3 were late
    # but completed by 10-15 10:00, g4 and a6 fall due later.
    assert counts["items_overdue"] == expected


def test_the_demo_prints_each_kpi_against_its_target(session):
    """The CLI's lines for the golden topic: the hand-computed values, the target beside each
    KPI that has one, met or not by the exact fraction."""
    from runtime.cli import kpi_lines

    ds = build(session)
    lines = kpi_lines(assessment.kpis(session, topic_id=ds.topics["T1"], as_of=AS_OF))
    assert "  整改完成率：75.0%（目标 ≥80%，未达标）" in lines  # 6 / 8
    assert "  问题解决率：25.0%（目标 ≥90%，未达标）" in lines  # 2 / 8
    assert "  群众满意度：75.0%（目标 ≥90%，未达标）" in lines  # 3 / 4
    assert "  反弹率：50.0%（目标 ≤5%，未达标）" in lines  # 1 / 2, lower is better
    assert "  响应率：88.9%" in lines  # no target in DOMAIN.md: none shown
    assert "  平均评分：3.75" in lines
    assert "  按原定期限完成率：37.5%" in lines  # 3 / 8: b3 was late against 10-20
    assert "  评价参与率：50.0%" in lines  # 2 of the 4 asked rated
    assert "  退回率：10.0%" in lines  # 1 return / (9 transferred + 1)
    nothing = kpi_lines(kpis.zero())
    assert "  整改完成率：—（目标 ≥80%，无数据）" in nothing
