"""Many people on one record at once, on SQLite and PostgreSQL, through the real HTTP app: no
update is lost, a decision is taken once, and a change based on a version someone else has
changed meanwhile is refused with the version the record is at now."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy.orm.exc import StaleDataError
from sqlmodel import Session, select

from config.db import engine_for
from models import audit
from models.enums import Stage, TopicStatus
from models.tables import AuditEvent, ProgressUpdate, RectificationItem, Topic
from tests.api.conftest import Served
from tests.factories import LoopBuilder

PROGRESS_REPORTS = 50


def _item_in_progress(served: Served) -> tuple[int, int, int]:
    """A committed item under rectification (plan submitted): its id, officer and topic."""
    with served.session() as s:
        loop = LoopBuilder(s)
        topic = loop.topic()
        loop.advance(topic, to=Stage.IMPLEMENTATION, start=True)
        item = loop.items(topic)[0]
        loop.plan(item)
        s.commit()
        return item.id, item.officer_id, topic.id  # type: ignore[return-value]


def _topic_awaiting_approval(served: Served) -> tuple[int, int]:
    with served.session() as s:
        loop = LoopBuilder(s)
        topic = loop.topic()
        loop.run_stage(topic, Stage.TOPIC)
        s.commit()
        assert topic.status == TopicStatus.AWAITING_APPROVAL
        return topic.id, loop.cast.approver.id  # type: ignore[return-value]


def _all_at_once(n: int, call) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)

    def one(i: int) -> httpx.Response:
        barrier.wait()
        return call(i)

    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(one, range(n)))


def test_fifty_simultaneous_progress_reports_are_all_recorded(served: Served) -> None:
    item_id, officer, topic_id = _item_in_progress(served)
    office, as_officer = served.as_(), served.as_(officer)
    before = httpx.get(f"{served.base_url}/items/{item_id}", headers=office).json()["version"]

    def report(i: int) -> httpx.Response:
        return httpx.post(
            f"{served.base_url}/items/{item_id}/progress",
            json={"note": f"第 {i} 次进展", "percent": i * 2},
            headers=as_officer,
            timeout=90,
        )

    answers = _all_at_once(PROGRESS_REPORTS, report)
    assert [r.status_code for r in answers] == [201] * PROGRESS_REPORTS, [
        r.text for r in answers if r.status_code != 201
    ]
    listed = httpx.get(
        f"{served.base_url}/items/{item_id}/progress", params={"limit": 100}, headers=office
    ).json()
    assert listed["count"] == PROGRESS_REPORTS
    assert {p["note"] for p in listed["data"]} == {f"第 {i} 次进展" for i in range(50)}
    item = httpx.get(f"{served.base_url}/items/{item_id}", headers=office).json()
    last = max(listed["data"], key=lambda p: p["id"])
    assert item["progress_percent"] == last["percent"]  # the item shows the latest report
    assert item["version"] == before + PROGRESS_REPORTS  # each report changed it once
    with served.session() as s:
        reported = s.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "progress_reported", AuditEvent.topic_id == topic_id)
        ).one()
        assert reported == PROGRESS_REPORTS
        assert audit.verify(s).ok


def test_two_simultaneous_approvals_decide_once(served: Served) -> None:
    topic_id, approver = _topic_awaiting_approval(served)
    as_approver = served.as_(approver)

    def approve(i: int) -> httpx.Response:
        return httpx.post(
            f"{served.base_url}/topics/{topic_id}/approve",
            json={"comment": f"同意（{i}）"},
            headers=as_approver,
            timeout=60,
        )

    answers = _all_at_once(2, approve)
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    refused = next(r for r in answers if r.status_code == 409).json()
    assert "已审定通过，不能重复审定" in refused["detail"]
    with served.session() as s:
        approvals = s.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "topic_approved", AuditEvent.topic_id == topic_id)
        ).one()
        assert approvals == 1


def test_a_write_on_a_version_someone_changed_is_refused_with_the_current_one(
    served: Served,
) -> None:
    item_id, officer, _ = _item_in_progress(served)
    url = f"{served.base_url}/items/{item_id}"
    h = served.as_(officer)
    seen = httpx.get(url, headers=h)
    version = seen.json()["version"]
    assert seen.headers["ETag"] == f'"{version}"'
    # Someone else reports progress first.
    other = httpx.post(f"{url}/progress", json={"note": "已开工", "percent": 10}, headers=h)
    assert other.status_code == 201
    stale = httpx.post(
        f"{url}/progress",
        json={"note": "进展过半", "percent": 50},
        headers=h | {"If-Match": seen.headers["ETag"]},
    )
    assert stale.status_code == 409, stale.text
    body = stale.json()
    assert body["current_version"] == version + 1
    assert f"当前版本为 {version + 1}" in body["detail"]
    assert stale.headers["ETag"] == f'"{version + 1}"'
    assert httpx.get(f"{url}/progress", headers=h).json()["count"] == 1  # nothing of it was written
    fresh = httpx.post(
        f"{url}/progress",
        json={"note": "进展过半", "percent": 50},
        headers=h | {"If-Match": str(version + 1)},  # the bare number is accepted too
    )
    assert fresh.status_code == 201, fresh.text
    assert httpx.get(url, headers=h).json()["progress_percent"] == 50


def test_an_if_match_that_is_not_a_version_is_refused_by_name(served: Served) -> None:
    item_id, officer, _ = _item_in_progress(served)
    r = httpx.post(
        f"{served.base_url}/items/{item_id}/progress",
        json={"note": "已开工", "percent": 10},
        headers=served.as_(officer, **{"If-Match": "latest"}),
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "If-Match"


def test_a_stale_write_without_if_match_is_a_409_not_a_lost_update(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operation that read a row without locking it (as a flow task may) while someone else
    changed it: the version column refuses the write; the other person's change stays."""
    if not served.db_url.startswith("postgresql"):
        pytest.skip("SQLite takes the write lock at BEGIN: two writers never interleave")
    from models import case, rectification

    item_id, officer, _ = _item_in_progress(served)
    h = served.as_(officer)
    unlocked_get = case.get

    def get_without_lock(session, model, ident, *, for_update=False):  # type: ignore[no-untyped-def]
        return unlocked_get(session, model, ident)

    read, changed = threading.Event(), threading.Event()
    checked = rectification._ensure_officer

    def slow_check(*args, **kwargs):  # type: ignore[no-untyped-def]
        read.set()
        assert changed.wait(30)
        return checked(*args, **kwargs)

    monkeypatch.setattr(rectification, "get", get_without_lock)
    monkeypatch.setattr(rectification, "_ensure_officer", slow_check)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(
            httpx.post,
            f"{served.base_url}/items/{item_id}/progress",
            json={"note": "基于旧数据", "percent": 90},
            headers=h,
            timeout=60,
        )
        assert read.wait(30)
        with served.session() as s:  # meanwhile someone else changes the item
            item = s.get(RectificationItem, item_id)
            assert item is not None
            item.progress_percent = 30
            s.commit()
            current = item.version
        changed.set()
        answer = pending.result()
    assert answer.status_code == 409, answer.text
    assert answer.json()["current_version"] == current
    assert "已被他人修改" in answer.json()["detail"]
    with served.session() as s:
        assert s.get(RectificationItem, item_id).progress_percent == 30  # type: ignore[union-attr]
        assert s.exec(select(func.count()).select_from(ProgressUpdate)).one() == 0


def test_a_change_from_a_stale_copy_never_overwrites(committed_db: str) -> None:
    """Two copies of one topic: the second to write, based on the old version, fails."""
    engine = engine_for(committed_db)
    with Session(engine) as s:
        topic = LoopBuilder(s).topic()
        s.commit()
        topic_id = topic.id
    with Session(engine) as first:
        mine = first.get(Topic, topic_id)
        assert mine is not None
        first.expunge(mine)  # a copy kept while no transaction is held (a form left open)
        first.rollback()
        with Session(engine) as second:
            theirs = second.get(Topic, topic_id)
            assert theirs is not None
            theirs.status_reason = "他人的修改"
            second.commit()
        first.add(mine)
        mine.status_reason = "我的修改"
        with pytest.raises(StaleDataError):
            first.commit()
    with Session(engine) as s:
        kept = s.get(Topic, topic_id)
        assert kept is not None and kept.status_reason == "他人的修改" and kept.version == 2
