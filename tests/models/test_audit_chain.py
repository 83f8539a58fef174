"""The audit trail cannot be quietly rewritten: every event is chained by hash, and a one-byte
edit, a deletion, an insertion, a reordering or the removal of the newest events is found and
named by `verify` (and by `xieshang audit verify`, which then exits non-zero)."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from config.db import engine_for, migrate
from config.settings import get_settings
from models import audit
from models.case import audit as record
from models.enums import Stage
from models.tables import AuditEvent
from tests.conftest import fresh_postgres, require_postgres

KEY = b"test-installation-secret"


def _events(session: Session, topic_id: int) -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(AuditEvent.topic_id == topic_id).order_by(AuditEvent.seq)
        )  # type: ignore[arg-type]
    )


def _loop_with_history(loop, session: Session) -> list[AuditEvent]:
    topic = loop.topic()
    loop.advance(topic, to=Stage.SUBJECT, start=True)
    session.commit()
    events = _events(session, topic.id)
    assert len(events) >= 3
    return events


def test_a_loop_leaves_a_chain_that_verifies_with_who_role_and_what_changed(loop, session, client):
    events = _loop_with_history(loop, session)
    verdict = audit.verify(session)
    assert verdict.ok, verdict.message
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs) and all(e.hash and len(e.hash) == 64 for e in events)
    approved = next(e for e in events if e.action == "topic_approved")
    assert approved.actor_role == "approver" and approved.actor != "system"
    changed = {c["record"]: c["fields"] for c in approved.changes or []}
    assert changed["topic"]["status"] == ["awaiting_approval", "in_progress"]
    # Administrators read the same history through the API.
    trail = client.get(f"/topics/{approved.topic_id}/audit").json()
    assert trail["count"] == len(events)
    shown = next(e for e in trail["data"] if e["action"] == "topic_approved")
    assert shown["actor_role"] == "approver" and shown["hash"] == approved.hash


def _tamper(session: Session, sql: str, **params: object) -> None:
    session.execute(text(sql), params)
    session.expire_all()


def test_a_one_byte_edit_is_found_and_named(loop, session):
    events = _loop_with_history(loop, session)
    target = events[1]
    _tamper(
        session,
        "UPDATE audit_event SET actor = :actor WHERE id = :id",
        actor=target.actor[:-1] + "X",
        id=target.id,
    )
    verdict = audit.verify(session)
    assert not verdict.ok and verdict.bad_id == target.id
    assert "内容被改动" in verdict.message


def test_a_deleted_event_is_found(loop, session):
    events = _loop_with_history(loop, session)
    _tamper(session, "DELETE FROM audit_event WHERE id = :id", id=events[1].id)
    verdict = audit.verify(session)
    assert not verdict.ok and verdict.bad_seq == events[2].seq
    assert "不连续" in verdict.message


def test_an_inserted_event_is_found(loop, session):
    events = _loop_with_history(loop, session)
    # A forger makes room by shifting the later events and slips a plausible event in.
    _tamper(
        session,
        "UPDATE audit_event SET seq = seq + 1000000 WHERE seq > :seq",
        seq=events[0].seq,
    )
    _tamper(
        session,
        "UPDATE audit_event SET seq = seq - 1000000 + 1 WHERE seq > 1000000",
    )
    forged = AuditEvent(
        topic_id=events[0].topic_id,
        actor="协商办",
        action="topic_approved",
        detail={},
        seq=events[0].seq + 1,
        prev_hash=events[0].hash,
    )
    forged.hash = audit.link(events[0].hash, forged)  # type: ignore[arg-type]
    session.add(forged)
    session.flush()
    session.expire_all()
    verdict = audit.verify(session)
    assert not verdict.ok and verdict.bad_seq == events[0].seq + 2
    assert "不衔接" in verdict.message


def test_a_reordering_is_found(loop, session):
    events = _loop_with_history(loop, session)
    (a, a_seq), (b, b_seq) = ((e.id, e.seq) for e in events[:2])
    _tamper(session, "UPDATE audit_event SET seq = :seq WHERE id = :id", seq=-a, id=a)
    _tamper(session, "UPDATE audit_event SET seq = :seq WHERE id = :id", seq=a_seq, id=b)
    _tamper(session, "UPDATE audit_event SET seq = :seq WHERE id = :id", seq=b_seq, id=a)
    verdict = audit.verify(session)
    assert not verdict.ok and verdict.bad_id == b


def test_removing_the_newest_events_is_caught_by_the_signed_checkpoint(loop, session):
    events = _loop_with_history(loop, session)
    seq, digest = audit.head(session)
    checkpoint = {"seq": seq, "hash": digest, "mac": audit.sign(KEY, seq, digest)}
    assert audit.verify(session, checkpoint=checkpoint, key=KEY).ok
    # Delete the newest two and rewind the stored head to match: the chain itself still holds.
    kept = events[-3]
    _tamper(session, "DELETE FROM audit_event WHERE seq > :seq", seq=kept.seq)
    _tamper(
        session,
        "UPDATE app_meta SET value = :value WHERE key = 'audit_head'",
        value=f"{kept.seq}:{kept.hash}",
    )
    assert audit.verify(session).ok  # without the checkpoint nothing shows
    verdict = audit.verify(session, checkpoint=checkpoint, key=KEY)
    assert not verdict.ok and "最新的记录被删除" in verdict.message
    forged = dict(checkpoint, seq=kept.seq, hash=kept.hash)
    verdict = audit.verify(session, checkpoint=forged, key=KEY)
    assert not verdict.ok and "签名无效" in verdict.message


def test_concurrent_transactions_never_fork_the_chain():
    """Twelve writers at once on PostgreSQL: one chain, no gaps, no two events on one place."""
    require_postgres()
    with fresh_postgres("xs_audit") as url:
        migrate(url)
        engine = engine_for(url)
        barrier = threading.Barrier(12)
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                barrier.wait()
                for i in range(5):
                    with Session(engine) as s:
                        record(s, action="test_event", topic_id=None, n=n, i=i)
                        record(s, action="test_event_2", topic_id=None, n=n, i=i)
                        s.commit()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        with Session(engine) as s:
            verdict = audit.verify(s)
            assert verdict.ok, verdict.message
            assert verdict.events == 120 and verdict.head_seq == 120
        engine.dispose()


@pytest.fixture
def case_file(monkeypatch, tmp_path):
    """A committed SQLite case file and data directory of its own (its checkpoint, its key)."""
    url = f"sqlite:///{tmp_path / 'case.db'}"
    monkeypatch.setenv("XS_DATABASE_URL", url)
    monkeypatch.setenv("XS_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    migrate(url)
    engine = engine_for(url)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_the_command_names_the_bad_event_and_exits_non_zero(case_file, tmp_path):
    """`xieshang audit checkpoint` then `verify` on a real database file; after an edit the
    command fails and says which event."""
    from runtime.cli import app

    engine = case_file
    with Session(engine) as s:
        for i in range(3):
            record(s, action="person_created", topic_id=None, name=f"人员{i}")
        s.commit()
    runner = CliRunner()
    assert runner.invoke(app, ["audit", "checkpoint"]).exit_code == 0
    saved = json.loads((tmp_path / "audit-checkpoint.json").read_text())
    assert saved["seq"] == 3
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0 and "审计链完整" in ok.output
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE audit_event SET detail = :d WHERE seq = 2"),
            {"d": json.dumps({"name": "人员9"}, ensure_ascii=False)},
        )
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "第 2 条审计记录内容被改动" in bad.output


@pytest.mark.parametrize("field", ["detail", "action"])
def test_editing_any_field_breaks_the_chain(loop, session, field):
    events = _loop_with_history(loop, session)
    value = json.dumps({"x": 1}) if field == "detail" else "topic_rejected"
    _tamper(
        session, f"UPDATE audit_event SET {field} = :v WHERE id = :id", v=value, id=events[0].id
    )
    verdict = audit.verify(session)
    assert not verdict.ok and verdict.bad_id == events[0].id


def test_the_checkpoint_is_never_written_over_a_shortened_chain(case_file):
    """Deleting the newest events and waiting for the next sweep must not launder them: the
    checkpoint keeps the old head and says why."""
    from tasks.audit import CheckpointMismatch, read_checkpoint, write_checkpoint

    engine = case_file
    with Session(engine) as s:
        for i in range(4):
            record(s, action="person_created", topic_id=None, name=f"人员{i}")
        s.commit()
    assert write_checkpoint()["seq"] == 4
    with Session(engine) as s:
        record(s, action="person_created", topic_id=None, name="人员4")
        s.commit()
    assert write_checkpoint()["seq"] == 5  # the chain grew: the checkpoint follows
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE seq >= 4"))
        row = conn.execute(text("SELECT seq, hash FROM audit_event WHERE seq = 3")).one()
        conn.execute(
            text("UPDATE app_meta SET value = :v WHERE key = 'audit_head'"),
            {"v": f"{row.seq}:{row.hash}"},
        )
    with pytest.raises(CheckpointMismatch, match="第 5 条"):
        write_checkpoint()
    assert read_checkpoint()["seq"] == 5
    with Session(engine) as s:
        verdict = audit.verify(s, checkpoint=read_checkpoint(), key=get_settings().secret())
    assert not verdict.ok and "最新的记录被删除" in verdict.message
