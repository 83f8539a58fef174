"""The bulletin's files carry the golden KPIs (issue 9, "done when"): October's bulletin of
tests/reports/dataset.py is rendered by the flow's own tasks, and every count and rate is read
back from the files written to disk — the XLSX's cells, the PDF's table cells, the HTML's
tables — and compared, whole row by whole row, with the values worked out by hand in
dataset.py; the API's department table is held to the same numbers. On SQLite and PostgreSQL.
The columns are every KPI of models.kpis (bounces, extensions, the confirmed problem-solved
rate, the response rate of those asked to rate, rebounds): a dropped column fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session

from config.db import engine_for
from config.settings import get_settings
from models import bulletin, kpis
from models.bulletin import BulletinKind
from tasks import reports
from tests.reports import files
from tests.reports.dataset import (
    OCTOBER_DEPARTMENTS,
    OCTOBER_OVERALL,
    OCTOBER_TOPICS,
    build,
)

OCTOBER = bulletin.parse_period(BulletinKind.MONTHLY, "2026-10")
SOLVED_RULE = kpis.KPIS["problem_solved_rate"].note


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def october(request: pytest.FixtureRequest) -> Iterator[dict[str, bytes]]:
    """October's files as the monthly bulletin's tasks write them, read back from disk;
    rendered once per database (the fonts take seconds), the data rolled back after."""
    url = request.getfixturevalue(f"{request.param}_url")
    with engine_for(url).connect() as conn:
        tx = conn.begin()
        with Session(bind=conn) as session:
            build(session)
            data = bulletin.compute(session, OCTOBER)
        tx.rollback()
    charts = reports.render_charts.fn(data)
    written = {
        "pdf": reports.render_pdf.fn(data, charts),
        "xlsx": reports.render_xlsx.fn(data),
        "html": reports.render_html.fn(data, charts),
    }
    root = get_settings().reports_dir
    yield {fmt: (root / rel).read_bytes() for fmt, rel in written.items()}


def _rates(golden: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in golden.items() if k in kpis.KPIS}


def test_the_golden_set_covers_every_kpi():
    """A new KPI is a new column of the files: it needs a hand-computed value here first."""
    assert set(OCTOBER_OVERALL) >= set(kpis.KPIS)
    for golden in OCTOBER_TOPICS.values():
        assert set(golden) == set(bulletin.TOPIC_KEYS)
        assert set(golden) >= set(kpis.KPIS)
    # Departments have no suggestions, rating requests or third-party evaluations (those are a
    # topic's); everything else they have.
    for golden in OCTOBER_DEPARTMENTS.values():
        assert set(golden) == set(bulletin.DEPARTMENT_KEYS)
        assert set(kpis.KPIS) - set(golden) == {
            "adoption_rate",
            "rating_response_rate",
            "evaluation_score",
        }


def test_the_xlsx_cells_are_the_hand_computed_values(october):
    xlsx = october["xlsx"]
    departments = files.xlsx_table(xlsx, "单位指标")
    assert departments == {
        name: files.by_label(golden) for name, golden in OCTOBER_DEPARTMENTS.items()
    }
    topics = files.xlsx_table(xlsx, "议题指标")
    assert topics == {name: files.by_label(golden) for name, golden in OCTOBER_TOPICS.items()}
    overview = files.xlsx_overview(xlsx)
    for label, value in files.by_label(OCTOBER_OVERALL).items():
        assert overview[label][0] == value, label
    # Beside the problem-solved rate, the rule that makes an item count as solved.
    assert overview[kpis.LABELS["problem_solved_rate"]] == (0.125, SOLVED_RULE)


def test_the_pdf_tables_are_the_hand_computed_values(october):
    pdf = october["pdf"]
    departments = files.pdf_table(pdf, "单位")
    assert departments == {
        name: files.by_label(golden, text=True) for name, golden in OCTOBER_DEPARTMENTS.items()
    }
    topics = files.pdf_table(pdf, "议题")
    assert topics == {
        name: files.by_label(golden, text=True) for name, golden in OCTOBER_TOPICS.items()
    }
    expected = files.by_label(OCTOBER_OVERALL, text=True)
    overview = files.pdf_pairs(pdf)
    assert {k: overview[k] for k in expected} == expected
    assert SOLVED_RULE is not None and SOLVED_RULE in files.pdf_text(pdf)


def test_the_html_tables_are_the_hand_computed_values(october):
    tables, overview = files.html_tables(october["html"].decode("utf-8"))
    by_name = {next(iter(t)): t for t in tables if t}
    assert by_name["城南街道"] == {
        name: files.by_label(golden, text=True) for name, golden in OCTOBER_DEPARTMENTS.items()
    }
    assert by_name["老旧小区加装电梯"] == {
        name: files.by_label(golden, text=True) for name, golden in OCTOBER_TOPICS.items()
    }
    expected = files.by_label(OCTOBER_OVERALL, text=True)
    assert {k: overview[k] for k in expected} == expected
    assert SOLVED_RULE is not None and SOLVED_RULE in october["html"].decode("utf-8")


def test_the_api_reports_the_same_october(session, client):
    """GET /kpis/departments?period=2026-10: each department's rates are the bulletin's."""
    build(session)
    session.commit()
    r = client.get("/kpis/departments", params={"period": "2026-10"})
    assert r.status_code == 200, r.text
    got = {
        d["department"]: {k["key"]: k["value"] for k in d["kpis"]} for d in r.json()["departments"]
    }
    assert got == {name: _rates(golden) for name, golden in OCTOBER_DEPARTMENTS.items()}
