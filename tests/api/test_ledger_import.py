"""台账导入 through the API: the template, a dry run of an uploaded sheet with its per-row
answers, who may import, and — against the real stack (Prefect server, one process serving the
API and every deployment) — applying it as a flow run whose items then appear."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from config.db import engine_for
from config.settings import get_settings
from models import ledger
from models.enums import Stage
from runtime.demo import wait_for_run
from runtime.stack import Stack
from tests.conftest import running_stack
from tests.factories import LoopBuilder, stack_client
from tests.models.test_ledger import case, new_row, sheet


def _upload(client: Any, content: bytes, department_id: int, **kw: Any) -> httpx.Response:
    return client.post(
        "/imports" + kw.pop("query", ""),
        files={"file": (kw.pop("name", "台账.csv"), content, "text/csv")},
        data={"department_id": str(department_id)},
        **kw,
    )


def test_the_template_has_every_column_and_an_explanation(client):
    r = client.get("/imports/template.xlsx")
    assert r.status_code == 200
    book = load_workbook(io.BytesIO(r.content))
    assert [c.value for c in book["台账"][1]] == [c.value for c in ledger.Column]
    explained = {row[0] for row in book["填写说明"].iter_rows(values_only=True)}
    assert {"外部编号", "期限", "进度"} <= explained


def test_a_dry_run_answers_every_row_and_writes_nothing_but_the_import(client, loop, session):
    c = case(loop)
    session.commit()
    content = sheet(
        new_row(c, "JT-1", 进度="10", 进展情况="已进场勘察"),
        {"外部编号": "JT-2", "事项编号": c["mine"].id, "责任单位": "区住建局"},
        new_row(c, "JT-3", 期限="明年春天"),
    )
    officer = client.as_(loop.cast.officer)
    r = _upload(client, content, loop.cast.dept_id, headers=officer)
    assert r.status_code == 201, r.text
    body = r.json()
    assert [row["action"] for row in body["rows"]] == ["create", "update", "rejected"]
    assert body["rows"][2]["message"] == "第 4 行“期限”列：不是日期（应为 2026-12-31）"
    assert (body["created"], body["updated"], body["unchanged"], body["rejected"]) == (1, 1, 0, 1)
    assert body["rows_total"] == 3 and body["status"] == "checked"
    assert body["status_label"] == "已试导入，待确认"
    stored = Path(get_settings().data_dir) / "imports"
    assert any(p.read_bytes() == content for p in stored.iterdir())  # the file, not the DB
    again = client.get(f"/imports/{body['id']}", headers=officer).json()
    assert again["errors"][0]["column"] == "期限" and again["progress_label"] == "已处理 0 / 3 行"
    assert loop.items(c["topic"])[0].external_id is None  # nothing applied yet


def test_imports_are_refused_clearly(client, loop, session):
    c = case(loop)
    session.commit()
    content = sheet(new_row(c, "JT-1"))
    other = client.as_(loop.cast.other_officer)
    r = _upload(client, content, loop.cast.dept_id, headers=other)
    assert r.status_code == 403 and "无权导入该单位的台账" in r.json()["detail"]
    r = _upload(client, content, loop.cast.dept_id, name="台账.xls")
    assert r.status_code == 422 and ".xlsx 或 .csv" in r.json()["detail"]
    r = _upload(client, content, loop.cast.dept_id, query="?dry_run=false")
    assert r.status_code == 422 and "须先试导入" in r.json()["detail"]
    r = _upload(client, "事项\n修路\n".encode(), loop.cast.dept_id)
    assert r.status_code == 422 and "缺少“外部编号”、“责任单位”列" in r.json()["detail"]
    assert client.get("/imports/987654").status_code == 404


# --- applying, against the real stack ------------------------------------------------------


@pytest.fixture(scope="module")
def stack(prefect_server: str, tmp_path_factory) -> Iterator[Stack]:
    base: Path = tmp_path_factory.mktemp("ledger")
    with running_stack(base, f"sqlite:///{base / 'ledger.db'}") as running:
        yield running


def test_applying_runs_a_flow_and_the_items_appear(stack):
    url = stack.settings.resolved_database_url
    with Session(engine_for(url)) as s:
        loop = LoopBuilder(s)
        c = case(loop)
        s.commit()
        topic_id, mine_id = c["topic"].id, c["mine"].id
        officer_id, dept_id = loop.cast.officer.id, loop.cast.dept_id
        rows = [new_row(c, f"JT-{n}", 进度="10", 进展情况="已进场勘察") for n in range(1, 4)]
    rows.append(
        {
            "外部编号": "JT-0",
            "事项编号": mine_id,
            "责任单位": "区住建局",
            "进度": "70",
            "进展情况": "主体完工",
        }
    )
    content = sheet(*rows)
    office = stack_client(url, stack.api_url)
    officer = stack_client(url, stack.api_url, person_id=officer_id)
    r = officer.http.post(
        "/imports",
        files={"file": ("台账.csv", content, "text/csv")},
        data={"department_id": str(dept_id)},
    )
    assert r.status_code == 201, r.text
    import_id = r.json()["id"]
    assert r.json()["created"] == 3

    started = officer.post(f"/imports/{import_id}/apply")
    assert started["status"] == "queued" and started["flow_run_id"]
    run = wait_for_run(office, started["flow_run_id"])
    assert run["state_type"] == "COMPLETED", run
    done = officer.get(f"/imports/{import_id}")
    assert done["status"] == "done" and done["progress_label"] == "已处理 4 / 4 行"
    assert (done["created"], done["updated"], done["unchanged"], done["rejected"]) == (3, 1, 0, 0)

    chain = office.get(f"/topics/{topic_id}/chain")
    externals = {n["detail"]["external_id"] for n in chain["item"]}
    assert {"JT-0", "JT-1", "JT-2", "JT-3"} <= externals
    listed = office.http.get(f"/topics/{topic_id}/lists/items.csv")
    table = list(csv.reader(io.StringIO(listed.content.decode("utf-8-sig"))))
    assert {row[1] for row in table[1:]} >= {"JT-0", "JT-1", "JT-2", "JT-3"}

    # Applying again is refused; importing the same file again changes nothing.
    again = officer.http.post(f"/imports/{import_id}/apply")
    assert again.status_code == 409 and "已完成" in again.json()["detail"]
    r = officer.http.post(
        "/imports",
        files={"file": ("台账.csv", content, "text/csv")},
        data={"department_id": str(dept_id)},
    )
    assert r.json()["unchanged"] == 4 and r.json()["created"] == r.json()["updated"] == 0
    second = officer.post(f"/imports/{r.json()['id']}/apply")
    assert wait_for_run(office, second["flow_run_id"])["state_type"] == "COMPLETED"
    deadline = time.monotonic() + 30
    while officer.get(f"/imports/{r.json()['id']}")["status"] != "done":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert len(office.get(f"/topics/{topic_id}/chain")["item"]) == len(chain["item"])
    assert office.get(f"/topics/{topic_id}")["stage"] == Stage.IMPLEMENTATION.value
