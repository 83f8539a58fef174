"""A retried action acts once: the same Idempotency-Key gets the first answer again, a key
reused for another request is refused, a failed action keeps nothing, and two callers never
share an answer — on SQLite and PostgreSQL, through the real HTTP app."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, update
from sqlmodel import select

from models.base import utcnow
from models.enums import Stage
from models.tables import AuditEvent, IdempotencyRecord, Notification, Topic
from tests.api.conftest import Served
from tests.factories import LoopBuilder


def _key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def _count(served: Served, model, *where) -> int:  # type: ignore[no-untyped-def]
    with served.session() as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def _proposal(title: str = "老旧小区加装电梯") -> dict:
    return {"title": title, "source": "public"}


def test_a_retried_proposal_is_recorded_once_and_answered_the_same(served: Served) -> None:
    key = _key()
    first = httpx.post(f"{served.base_url}/topics", json=_proposal(), headers=key)
    again = httpx.post(f"{served.base_url}/topics", json=_proposal(), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _count(served, Topic) == 1
    assert _count(served, AuditEvent, AuditEvent.action == "topic_proposed") == 1
    other = httpx.post(f"{served.base_url}/topics", json=_proposal(), headers=_key())
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]


def test_a_retried_approval_answers_200_again_and_notifies_once(served: Served) -> None:
    with served.session() as s:
        loop = LoopBuilder(s)
        topic = loop.topic()
        loop.run_stage(topic, Stage.TOPIC)
        s.commit()
        topic_id, approver = topic.id, loop.cast.approver.id
    url = f"{served.base_url}/topics/{topic_id}/approve"
    signed_in = served.as_(approver)
    key = _key() | signed_in
    body = {"comment": "同意"}
    first = httpx.post(url, json=body, headers=key)
    again = httpx.post(url, json=body, headers=key)
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json() and again.headers["ETag"] == first.headers["ETag"]
    assert _count(served, AuditEvent, AuditEvent.action == "topic_approved") == 1
    assert _count(served, Notification, Notification.event_key == f"topic:{topic_id}:approved") == 1
    # Without the key the same request acts again, and is refused: the topic is decided.
    assert httpx.post(url, json=body, headers=signed_in).status_code == 409


def test_the_same_key_for_another_request_is_refused(served: Served) -> None:
    key = _key()
    assert httpx.post(f"{served.base_url}/topics", json=_proposal(), headers=key).status_code == 201
    changed = httpx.post(f"{served.base_url}/topics", json=_proposal("社区停车难"), headers=key)
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"
    assert "另一请求" in changed.json()["detail"]
    assert _count(served, Topic) == 1


def test_a_failed_action_keeps_nothing_so_its_retry_acts(served: Served) -> None:
    with served.session() as s:
        loop = LoopBuilder(s)
        topic = loop.topic()
        s.commit()
        approver = loop.cast.approver.id
    url = f"{served.base_url}/topics/{topic.id}/approve"
    key, body = _key() | served.as_(approver), {}
    refused = httpx.post(url, json=body, headers=key)
    assert refused.status_code == 409  # not yet screened: nothing to approve
    assert _count(served, IdempotencyRecord) == 0
    with served.session() as s:
        LoopBuilder(s).run_stage(s.get(Topic, topic.id), Stage.TOPIC)  # type: ignore[arg-type]
        s.commit()
    retried = httpx.post(url, json=body, headers=key)
    assert retried.status_code == 200, retried.text
    assert "Idempotent-Replayed" not in retried.headers


def test_two_callers_with_the_same_key_each_act(served: Served) -> None:
    key = str(uuid.uuid4())
    mine = httpx.post(
        f"{served.base_url}/topics",
        json=_proposal(),
        headers=served.as_(**{"Idempotency-Key": key}),
    )
    theirs = httpx.post(
        f"{served.base_url}/topics",
        json=_proposal(),
        headers=served.as_(**{"Idempotency-Key": key}),
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]
    assert "Idempotent-Replayed" not in theirs.headers
    with served.session() as s:  # no credential is stored, only its fingerprint
        callers = s.exec(select(IdempotencyRecord.caller)).all()
        assert len(set(callers)) == 2 and all(len(c) == 64 and "Bearer" not in c for c in callers)


def test_simultaneous_duplicates_act_once(served: Served) -> None:
    key = _key()
    barrier = threading.Barrier(6)

    def send(_: int) -> httpx.Response:
        barrier.wait()
        return httpx.post(f"{served.base_url}/topics", json=_proposal(), headers=key, timeout=60)

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(send, range(6)))
    acted = [r for r in answers if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    assert len(acted) == 1, [(r.status_code, r.text) for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert "同一请求正在处理" in r.json()["detail"]
        else:
            assert r.status_code == 201 and r.json() == acted[0].json()
    assert _count(served, Topic) == 1


def test_an_expired_key_acts_again(served: Served) -> None:
    key = _key()
    assert httpx.post(f"{served.base_url}/topics", json=_proposal(), headers=key).status_code == 201
    with served.session() as s:
        s.execute(update(IdempotencyRecord).values(expires_at=utcnow()))
        s.commit()
    again = httpx.post(f"{served.base_url}/topics", json=_proposal(), headers=key)
    assert again.status_code == 201 and "Idempotent-Replayed" not in again.headers
    assert _count(served, Topic) == 2


def test_a_key_that_is_not_printable_or_too_long_is_refused(served: Served) -> None:
    for bad in ("x" * 129, "tab\there"):
        r = httpx.post(
            f"{served.base_url}/topics", json=_proposal(), headers={"Idempotency-Key": bad}
        )
        assert r.status_code == 422, bad
        assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _count(served, Topic) == 0


def test_openapi_documents_the_headers_of_writes(served: Served) -> None:
    schema = httpx.get(f"{served.base_url}/openapi.json").json()

    def headers(path: str, method: str) -> set[str]:
        operation = schema["paths"][path][method]
        return {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}

    assert "Idempotency-Key" in headers("/topics", "post")
    assert {"Idempotency-Key", "If-Match"} <= headers("/topics/{topic_id}/approve", "post")
    assert "If-Match" not in headers("/topics/{topic_id}", "get")
    assert "ETag" in schema["paths"]["/topics/{topic_id}"]["get"]["responses"]["200"]["headers"]
