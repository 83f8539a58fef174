"""The records behind each KPI number (issue 9 point 11) on the golden data set of
tests/reports/dataset.py with its two returns (退单), on SQLite and PostgreSQL: the drill-down
lists exactly the records the hand-computed counts name, its row counts equal compute()'s
for every KPI's numerator and denominator in every scope, and the department table ranks
with its sample sizes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from models import kpi_board, kpis
from models.enums import ItemStatus
from models.errors import Invalid, NotFound
from models.kpi_board import Scope
from models.kpis import KPIS, Source
from models.tables import Department, ItemBounce, Rating, RectificationItem
from tests.conftest import sql_statements
from tests.reports.dataset import DEPARTMENTS, TZ, at, build

AS_OF = kpi_board.parse_period("2026-10-31")  # everything up to 2026-11-01 00:00 local
OCTOBER = kpi_board.parse_period("2026-10")


def _build(session: Session):  # type: ignore[no-untyped-def]
    """The golden data set with its two returns: 城南街道 returned a4 on 10-06, 区交通局
    returned c4 on 09-02 (before October)."""
    return build(session)


def _items(ds, *names: str) -> list:  # type: ignore[no-untyped-def]
    return sorted((Source.ITEM, ds.items[n]) for n in names)


def test_periods_are_named_windows():
    year = kpi_board.parse_period("2026")
    assert year.window.start == dt.datetime(2026, 1, 1, tzinfo=TZ)
    assert year.window.end == dt.datetime(2027, 1, 1, tzinfo=TZ)
    assert OCTOBER.label == "2026年10月" and OCTOBER.window.end == dt.datetime(
        2026, 11, 1, tzinfo=TZ
    )
    quarter = kpi_board.parse_period("2026Q4")
    assert quarter.window.start == dt.datetime(2026, 10, 1, tzinfo=TZ)
    assert AS_OF.window.start is None and AS_OF.window.end == dt.datetime(2026, 11, 1, tzinfo=TZ)
    assert AS_OF.label == "截至2026年10月31日"
    assert kpi_board.parse_period("").label == "截至目前"
    for bad in ("2026-13", "10月", "2026Q5", "2026-02-30"):
        with pytest.raises(Invalid) as refused:
            kpi_board.parse_period(bad)
        assert "期间格式应为" in refused.value.message


def test_the_records_behind_a_count_are_exactly_the_hand_counted_ones(session):
    ds = _build(session)
    t1 = Scope(topic_id=ds.topics["T1"])
    ids = kpi_board.record_ids
    # T1 as of 11-01 (tests/models/test_kpis.py): completed a1 a2 a5 b1 b2 b3 (a6 after).
    assert ids(session, "items_completed", AS_OF.window, t1) == _items(
        ds, "a1", "a2", "a5", "b1", "b2", "b3"
    )
    assert ids(session, "items_overdue", AS_OF.window, t1) == _items(ds, "a3", "a6")
    # October, everything: due = every counted item whose deadline fell before 11-01, or done.
    assert ids(session, "items_due", OCTOBER.window, Scope(department_id=ds.departments["a"])) == (
        _items(ds, "a1", "a2", "a3", "a6")
    )
    assert ids(session, "items_rebound", OCTOBER.window) == _items(ds, "a5")
    # Returns count for the department that returned the item, in the window they were made.
    b = Scope(department_id=ds.departments["b"])
    bounces = ids(session, "bounces", OCTOBER.window, b)
    assert [k for k, _ in bounces] == [Source.BOUNCE]
    transfers = ids(session, "transfers", OCTOBER.window, b)  # nothing transferred to 城南 in Oct
    assert transfers == bounces
    assert ids(session, "bounces", OCTOBER.window, Scope(department_id=ds.departments["c"])) == []
    # Ratings of a department are those of its items (the topic-level one is T1's only).
    a_ratings = ids(session, "ratings", OCTOBER.window, Scope(department_id=ds.departments["a"]))
    assert len(a_ratings) == 3
    assert len(ids(session, "ratings", OCTOBER.window, t1)) == 4
    assert len(ids(session, "suggestions_adopted", OCTOBER.window, t1)) == 3


@pytest.mark.parametrize("period", [AS_OF, OCTOBER])
def test_every_kpi_drills_down_to_as_many_records_as_it_counts(session, period):
    """For every KPI (a new one is covered without touching this test) and every scope the
    dashboard links: numerator and denominator rows equal the aggregate counts."""
    ds = _build(session)
    scopes = [Scope()] + [Scope(topic_id=t) for t in ds.topics.values()]
    departments = {r["department_id"]: r for r in kpis_by_department(session, period)}
    assert departments  # the data set has departments in both periods
    for scope in scopes:
        counts = kpis.compute(session, period.window, topic_id=scope.topic_id)
        for key, kpi in KPIS.items():
            for part, count_key in (("numerator", kpi.numerator), ("denominator", kpi.denominator)):
                found = kpi_board.records(session, key, part, period, scope, page_size=5)
                if kpis.COUNTS[count_key].value is not None:  # a sum (evaluation points)
                    every = kpi_board.records(session, key, part, period, scope, page_size=100)
                    assert sum(r.score or 0 for r in every.data) == counts[count_key], (scope, key)
                else:
                    assert found.count == counts[count_key], (scope, key, part)
                assert len(found.data) == min(5, found.count)
    for dept_id, row in departments.items():
        scope = Scope(department_id=dept_id)
        for key, kpi in KPIS.items():
            if kpi.numerator not in row:  # departments have no suggestions
                continue
            for part, count_key in (("numerator", kpi.numerator), ("denominator", kpi.denominator)):
                found = kpi_board.records(session, key, part, period, scope)
                assert found.count == row[count_key], (row["department"], key, part)


def kpis_by_department(session: Session, period: kpi_board.KpiPeriod) -> list[dict]:
    from models import bulletin

    return bulletin.department_rows(session, period.window)


def test_records_show_what_a_person_recognises_them_by(session):
    ds = _build(session)
    found = kpi_board.records(
        session, "on_time_rate", "denominator", OCTOBER, Scope(department_id=ds.departments["a"])
    )
    assert found.count == 4 and found.count_label == kpis.LABELS["items_on_time_base"]
    a3 = next(r for r in found.data if r.item_id == ds.items["a3"])
    assert (a3.item_title, a3.topic_title, a3.department) == (
        "整改事项a3",
        "老旧小区加装电梯",
        "区住建局",
    )
    assert a3.deadline == "2026年10月15日 23:59" and a3.completed_at is None
    assert a3.status_label == "整改中"
    bounce = kpi_board.records(session, "bounce_rate", "numerator", OCTOBER).data[0]
    assert (bounce.kind_label, bounce.department, bounce.item_title) == (
        "退回",
        "城南街道",
        "整改事项a4",
    )
    assert bounce.code_label == "非本单位职责" and bounce.at == "2026年10月06日 10:00"
    rating = kpi_board.records(session, "satisfaction_rate", "denominator", OCTOBER).data
    assert {r.score for r in rating} == {5, 4, 2}
    suggestion = kpi_board.records(session, "adoption_rate", "numerator", OCTOBER).data[0]
    assert suggestion.adoption_label == "采纳" and suggestion.text == "建议"


def test_paging_and_refusals(session):
    ds = _build(session)
    pages = [
        kpi_board.records(session, "completion_rate", "denominator", AS_OF, page=n, page_size=7)
        for n in (1, 2, 3)
    ]
    assert [len(p.data) for p in pages] == [7, 7, 4] and pages[0].pages == 3  # 18 due
    seen = [r.record_id for p in pages for r in p.data]
    assert len(set(seen)) == 18
    with pytest.raises(NotFound) as unknown:
        kpi_board.records(session, "happiness", "numerator", AS_OF)
    assert unknown.value.message == "指标 happiness 不存在"
    with pytest.raises(Invalid):
        kpi_board.records(session, "completion_rate", "top", AS_OF)
    with pytest.raises(Invalid) as no_dept:
        kpi_board.records(
            session, "adoption_rate", "numerator", AS_OF, Scope(department_id=ds.departments["a"])
        )
    assert "不能按单位统计" in no_dept.value.message
    with pytest.raises(NotFound):
        kpi_board.records(session, "completion_rate", "numerator", AS_OF, Scope(topic_id=999_999))


def test_the_department_table_ranks_with_its_samples(session):
    """October (dataset.py): with at least 3 items due, 城南街道 100 %, 区卫健委 75 % (on time
    75 %), 区交通局 75 % (on time 25 %), 区住建局 50 %; 区水务局 (1 due) and 区市场监管局
    (0 due) are not ranked."""
    _build(session)
    table = kpi_board.department_table(session, OCTOBER)
    got = [(d.department, d.rank, d.items_due) for d in table.departments]
    assert got == [
        ("城南街道", 1, 3),
        ("区卫健委", 2, 4),
        ("区交通局", 3, 4),
        ("区住建局", 4, 4),
        ("区市场监管局", None, 0),  # the unranked by name
        ("区水务局", None, 1),
    ]
    assert table.min_items_due == 3
    housing = {k.key: k for k in table.departments[3].kpis}
    completion = housing["completion_rate"]
    assert (completion.numerator, completion.denominator, completion.value_text) == (2, 4, "50.0%")
    assert (completion.target_text, completion.met, completion.met_text) == (
        "≥80%",
        False,
        "未达标",
    )
    assert housing["on_time_rate"].met_text == "无目标值"
    assert "adoption_rate" not in housing  # departments have no suggestions
    south = {k.key: k for k in table.departments[0].kpis}
    assert (south["bounce_rate"].numerator, south["bounce_rate"].denominator) == (1, 1)
    assert set(DEPARTMENTS.values()) - {d.department for d in table.departments} == {"区教育局"}


def _more(session: Session, ds, start: int = 0) -> None:  # type: ignore[no-untyped-def]
    officer = session.get(RectificationItem, ds.items["c1"])
    assert officer is not None
    for n in range(start, start + 10):
        dept = Department(name=f"第{n}街道", tag=f"more-{n}")
        session.add(dept)
        session.flush()
        for k in range(3):
            row = RectificationItem(
                topic_id=ds.topics["T2"],
                suggestion_id=officer.suggestion_id,
                title=f"增补事项{n}-{k}",
                lead_department_id=dept.id,  # type: ignore[arg-type]
                officer_id=officer.officer_id,
                deadline=at(10, 10),
                status=ItemStatus.COMPLETED,
                transferred_at=at(9, 1),
                ack_due_at=at(9, 4),
                acknowledged_at=at(9, 2),
                completed_at=at(10, 9),
            )
            session.add(row)
            session.flush()
            session.add(
                Rating(
                    topic_id=ds.topics["T2"],
                    item_id=row.id,
                    score=5,
                    satisfied=True,
                    created_at=at(10, 12),
                )
            )
            session.add(
                ItemBounce(
                    item_id=row.id,  # type: ignore[arg-type]
                    department_id=dept.id,  # type: ignore[arg-type]
                    reason="职责交叉",
                    by_id=officer.officer_id,
                    at=at(10, 2),
                )
            )
    session.flush()


def test_the_dashboard_and_the_records_take_the_same_queries_however_many_rows(session):
    ds = _build(session)

    def measure() -> tuple[int, int]:
        statements.clear()
        kpi_board.dashboard(session, AS_OF)
        board = len(statements)
        statements.clear()
        kpi_board.records(
            session, "completion_rate", "denominator", AS_OF, Scope(topic_id=ds.topics["T2"])
        )
        return board, len(statements)

    with sql_statements(session) as statements:
        few = measure()
        _more(session, ds)  # ten more departments, each with items, ratings and a return
        many = measure()
        _more(session, ds, start=10)
        more = measure()
    assert more == many == few
    assert few[1] <= 3  # the topic's title, the count, one page
