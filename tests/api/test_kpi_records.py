"""GET /kpis/departments and GET /kpis/{key}/records over HTTP on the golden data set
(tests/reports/dataset.py): the same numbers as GET /topics/{id}/kpis, typed answers, and the
refusals a client reads (404 for an unknown KPI, 422 for a bad period), on SQLite and
PostgreSQL."""

from __future__ import annotations

from models import kpis
from models.enums import Role
from models.tables import Person
from tests.reports.dataset import build

AS_OF = "2026-11-01T00:00:00+08:00"


def test_the_records_behind_every_number_of_a_topic(session, client):
    ds = build(session)
    session.commit()
    t1 = ds.topics["T1"]
    counts = client.get(f"/topics/{t1}/kpis", params={"as_of": AS_OF}).json()
    for key, kpi in kpis.KPIS.items():
        for part, count_key in (("numerator", kpi.numerator), ("denominator", kpi.denominator)):
            r = client.get(
                f"/kpis/{key}/records",
                params={"part": part, "topic_id": t1, "period": "2026-10-31"},
            )
            assert r.status_code == 200, r.text
            body = r.json()
            if kpis.COUNTS[count_key].value is not None:  # a sum (evaluation points) of records
                assert sum(rec["score"] for rec in body["data"]) == counts[count_key], (key, part)
            else:
                assert body["count"] == counts[count_key], (key, part)
            assert body["period_label"] == "截至2026年10月31日"
            assert body["topic_title"] == "老旧小区加装电梯"
    completed = client.get(
        "/kpis/completion_rate/records",
        params={"part": "numerator", "topic_id": t1, "period": "2026-10-31"},
    ).json()
    titles = sorted(r["item_title"] for r in completed["data"])
    assert titles == [f"整改事项{n}" for n in ("a1", "a2", "a5", "b1", "b2", "b3")]
    assert {r["department"] for r in completed["data"]} == {"区住建局", "城南街道"}


def test_departments_are_ranked_with_their_samples(session, client):
    build(session)
    session.commit()
    r = client.get("/kpis/departments", params={"period": "2026-10"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period_label"] == "2026年10月"
    ranked = [(d["department"], d["rank"], d["items_due"]) for d in body["departments"]][:4]
    assert ranked == [
        ("城南街道", 1, 3),
        ("区卫健委", 2, 4),
        ("区交通局", 3, 4),
        ("区住建局", 4, 4),
    ]
    first = {k["key"]: k for k in body["departments"][0]["kpis"]}
    assert first["completion_rate"]["denominator"] == 3
    assert first["completion_rate"]["met_text"] == "达标"


def test_unknown_kpis_and_bad_periods_are_refused_in_chinese(session, client):
    build(session)
    session.commit()
    unknown = client.get("/kpis/happiness/records")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "指标 happiness 不存在"
    for path in ("/kpis/completion_rate/records", "/kpis/departments"):
        bad = client.get(path, params={"period": "2026-13"})
        assert bad.status_code == 422, bad.text
        assert bad.json()["field"] == "period"
        assert bad.json()["detail"].startswith("期间格式应为 2026（年）")
    part = client.get("/kpis/completion_rate/records", params={"part": "top"})
    assert part.status_code == 422
    topic = client.get("/kpis/completion_rate/records", params={"topic_id": 999_999})
    assert topic.status_code == 404 and topic.json()["detail"] == "议题 999999 不存在"


def test_only_the_readers_of_the_overall_kpis_read_the_records(session, client):
    build(session)
    officer = Person(name="某联络员", role=Role.OFFICER, tag="p-kpi-officer")
    supervisor = Person(name="某监督员", role=Role.SUPERVISOR, tag="p-kpi-supervisor")
    session.add_all([officer, supervisor])
    session.commit()
    for path in ("/kpis/completion_rate/records", "/kpis/departments"):
        assert client.get(path, headers=client.as_(officer)).status_code == 403
        assert client.get(path, headers=client.as_(supervisor)).status_code == 200
