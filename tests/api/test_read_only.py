"""Reading never waits for a writer: GET routes read in transactions that take no write lock
(on SQLite every other transaction takes it up front), see what is committed, and cannot
write — while writes still queue for the lock, so none of them is lost."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from config.db import engine_for, read_only
from models.enums import Stage
from models.tables import Topic
from tests.api.conftest import Served
from tests.factories import LoopBuilder


def _topic(served: Served) -> tuple[int, str]:
    with served.session() as s:
        topic = LoopBuilder(s).topic()
        s.commit()
        return topic.id, topic.title  # type: ignore[return-value]


def test_a_topic_is_read_while_a_writer_holds_the_lock(served: Served) -> None:
    topic_id, title = _topic(served)
    headers = served.as_()
    writer = Session(engine_for(served.db_url))
    try:
        # Someone is in the middle of a write on the topic (on SQLite: the file's write lock).
        row = writer.get(Topic, topic_id, with_for_update=True)
        assert row is not None
        row.title = "正在修改的标题"
        writer.flush()
        started = time.monotonic()
        got = httpx.get(f"{served.base_url}/topics/{topic_id}", headers=headers, timeout=10)
        took = time.monotonic() - started
        assert got.status_code == 200, got.text
        assert got.json()["title"] == title  # what is committed, not the unfinished change
        assert took < 5, f"the read waited {took:.1f} s for the writer"
        listed = httpx.get(f"{served.base_url}/topics", headers=headers, timeout=10)
        assert listed.status_code == 200
    finally:
        writer.rollback()
        writer.close()


def test_a_write_still_waits_for_the_writer_and_then_goes_through(served: Served) -> None:
    with served.session() as s:
        loop = LoopBuilder(s)
        topic = loop.topic()
        loop.run_stage(topic, Stage.TOPIC)
        s.commit()
        topic_id, approver = topic.id, loop.cast.approver.id
    headers = served.as_(approver)
    writer = Session(engine_for(served.db_url))
    row = writer.get(Topic, topic_id, with_for_update=True)
    assert row is not None
    row.description = "办公室补充的说明"
    writer.flush()
    with httpx.Client(base_url=served.base_url, headers=headers, timeout=60) as client:
        answer: list[httpx.Response] = []
        approving = threading.Thread(
            target=lambda: answer.append(
                client.post(f"/topics/{topic_id}/approve", json={"comment": "同意"})
            )
        )
        approving.start()
        time.sleep(1.5)
        waited = not answer  # the approval queues behind the writer instead of failing
        writer.commit()
        writer.close()
        approving.join(30)
    assert waited
    assert answer and answer[0].status_code == 200, answer[0].text if answer else None
    with served.session() as s:
        topic = s.get(Topic, topic_id)
        assert topic is not None
        assert topic.description == "办公室补充的说明"  # the writer's change is kept
        assert topic.approved_at is not None  # and so is the approval


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_a_read_only_transaction_refuses_to_write(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ro.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS ro_probe (x INTEGER)"))
    with Session(read_only(engine)) as reader:
        assert reader.execute(text("SELECT COUNT(*) FROM ro_probe")).scalar() == 0
        with pytest.raises(DBAPIError):
            reader.execute(text("INSERT INTO ro_probe VALUES (1)"))
        reader.rollback()
    with Session(engine) as normal:  # the pool's connections write again afterwards
        normal.execute(text("INSERT INTO ro_probe VALUES (2)"))
        normal.commit()
        assert normal.execute(text("SELECT COUNT(*) FROM ro_probe")).scalar() == 1
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE ro_probe"))
