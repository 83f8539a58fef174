"""The audit trail as a hash chain: no row can be edited, removed, inserted or moved unnoticed.

Every audit event is sealed in the transaction that writes it, just before the commit: it gets
the next sequence number, the hash of the event before it and its own hash over both and its
content. The chain head (last sequence number and hash) lives in `app_meta`, locked while a
transaction seals, so two transactions never fork the chain. What changed is recorded with the
event: for every record the transaction updated, each field's value before and after.

Deleting the newest events would leave a chain that still verifies; a checkpoint of the head,
signed with the installation's secret and kept outside the database (tasks/audit.py writes it),
catches that: `verify` reports a chain that ends before the checkpoint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from models.base import Page
from models.tables import AppMeta, AuditEvent, AuditRecord, Person

GENESIS = "0" * 64
HEAD_KEY = "audit_head"
PENDING = "audit_pending"  # session.info: events written in this transaction, in order
CHANGES = "audit_changes"  # session.info: field changes no event has told yet
CLAIMED = "audit_claimed"  # session.info: field changes already told

# Records whose changes are people's facts; follow-up rows, the outbox, run bookkeeping and
# the trail itself are the machinery and are not copied into it.
AUDITED_TABLES = frozenset(
    {
        "assessment",
        "consultation_session",
        "department",
        "holiday_schedule",
        "opinion",
        "participant",
        "person",
        "plan",
        "progress_update",
        "rating",
        "rectification_item",
        "report",
        "suggestion",
        "topic",
    }
)
NOT_COPIED = frozenset({"updated_at"})


class AuditPublic(AuditRecord):
    id: int


class AuditTrailPublic(Page[AuditPublic]):
    """A topic's history, oldest first: who, in which role, did what, what changed."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def record(
    session: Session,
    *,
    action: str,
    topic_id: int | None,
    actor: Person | None = None,
    **detail: Any,
) -> AuditEvent:
    """Stage an audit event; it is sealed into the chain when the transaction commits."""
    row = AuditEvent(
        topic_id=topic_id,
        actor_id=actor.id if actor else None,
        actor=actor.name if actor else "system",
        actor_role=actor.role.value if actor else None,
        action=action,
        detail={k: _jsonable(v) for k, v in detail.items()},
        changes=(session.info.pop(CHANGES, []) + _changes(session)) or None,
    )
    session.add(row)
    session.info.setdefault(PENDING, []).append(row)
    return row


class Content(Protocol):
    """What an event's hash covers: an AuditEvent, or a row of its columns (verify reads
    rows, not objects: a million ORM objects cost more than the hashing)."""

    @property
    def seq(self) -> int | None: ...
    @property
    def topic_id(self) -> int | None: ...
    @property
    def actor_id(self) -> int | None: ...
    @property
    def actor(self) -> str: ...
    @property
    def actor_role(self) -> str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def detail(self) -> dict[str, Any]: ...
    @property
    def changes(self) -> list[dict[str, Any]] | None: ...
    @property
    def at(self) -> dt.datetime: ...


def canonical(row: Content) -> bytes:
    """The bytes an event's hash covers: everything it says, in one fixed spelling."""
    at = row.at.astimezone(dt.UTC).replace(tzinfo=None) if row.at.tzinfo else row.at
    content = {
        "seq": row.seq,
        "topic_id": row.topic_id,
        "actor_id": row.actor_id,
        "actor": row.actor,
        "actor_role": row.actor_role,
        "action": row.action,
        "detail": row.detail,
        "changes": row.changes,
        "at": at.isoformat(timespec="microseconds"),
    }
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def link(prev_hash: str, row: Content) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(row)).hexdigest()


def _head(session: OrmSession) -> tuple[AppMeta, int, str]:
    meta = session.execute(
        select(AppMeta).where(AppMeta.key == HEAD_KEY).with_for_update()  # type: ignore[arg-type]
    ).scalar_one_or_none()
    if meta is None:
        meta = AppMeta(key=HEAD_KEY, value=f"0:{GENESIS}")
        session.add(meta)
    seq, _, last = meta.value.partition(":")
    return meta, int(seq), last


def head(session: Session) -> tuple[int, str]:
    """The last sealed sequence number and hash (0 and the genesis hash for an empty trail)."""
    meta = session.get(AppMeta, HEAD_KEY)
    if meta is None:
        return 0, GENESIS
    seq, _, last = meta.value.partition(":")
    return int(seq), last


def holds(session: Session, seq: int, digest: str) -> bool:
    """Whether the chain still has event `seq` with this hash (0 is the empty chain)."""
    if seq == 0:
        return True
    found = session.execute(
        select(AuditEvent.hash).where(AuditEvent.seq == seq)  # type: ignore[call-overload, arg-type]
    ).scalar_one_or_none()
    return found == digest


def _changes(session: OrmSession) -> list[dict[str, Any]]:
    """Each updated record's fields, value before → after, not yet told by an event."""
    claimed: set[tuple[Any, ...]] = session.info.setdefault(CLAIMED, set())
    found = []
    for obj in list(session.dirty):
        table = getattr(obj, "__tablename__", None)
        if table not in AUDITED_TABLES or not session.is_modified(obj):
            continue
        state = inspect(obj)
        fields = {}
        for attr in state.mapper.column_attrs:
            if attr.key in NOT_COPIED:
                continue
            hist = state.attrs[attr.key].history
            if not (hist.has_changes() and hist.deleted):
                continue
            before, after = hist.deleted[0], hist.added[0] if hist.added else None
            key = (table, state.identity, attr.key, repr(after))
            if before != after and key not in claimed:
                claimed.add(key)
                fields[attr.key] = [_jsonable(before), _jsonable(after)]
        if fields:
            found.append({"record": table, "id": state.identity[0], "fields": fields})
    return found


def _collect_changes(session: OrmSession, _ctx: Any, _instances: Any) -> None:
    """Before each flush: keep the changes no event has told yet (the flush forgets them)."""
    session.info.setdefault(CHANGES, []).extend(_changes(session))


def _seal(session: OrmSession) -> None:
    """Before commit: chain this transaction's events onto the head, under the head's lock."""
    pending: list[AuditEvent] = session.info.pop(PENDING, [])
    if not pending:
        session.info.pop(CHANGES, None)
        session.info.pop(CLAIMED, None)
        return
    session.flush()  # every other row first, so the head lock is the last one taken
    leftover = session.info.pop(CHANGES, [])
    session.info.pop(CLAIMED, None)
    meta, seq, last = _head(session)
    if leftover:
        pending[-1].changes = (pending[-1].changes or []) + leftover
    for row in pending:
        seq += 1
        row.seq = seq
        row.prev_hash = last
        if row.at is not None and row.at.tzinfo is None:
            row.at = row.at.replace(tzinfo=dt.UTC)
        row.hash = last = link(last, row)
    meta.value = f"{seq}:{last}"
    session.flush()


def _forget(session: OrmSession, *_: Any) -> None:
    for key in (PENDING, CHANGES, CLAIMED):
        session.info.pop(key, None)


event.listen(OrmSession, "before_flush", _collect_changes)
event.listen(OrmSession, "before_commit", _seal)
event.listen(OrmSession, "after_rollback", _forget)


# --- verification -------------------------------------------------------------------------


def sign(key: bytes, seq: int, digest: str) -> str:
    return hmac.new(key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """What `verify` found: how many events hold, and where and why the chain breaks."""

    ok: bool
    events: int
    head_seq: int
    message: str
    bad_id: int | None = None
    bad_seq: int | None = None


def verify(
    session: Session, *, checkpoint: dict[str, Any] | None = None, key: bytes | None = None
) -> Verdict:
    """Recompute the whole chain in sequence order; compare its end with the stored head and
    with a signed checkpoint taken earlier (which catches removed newest events)."""
    expected_seq, last = 0, GENESIS
    wanted = int(checkpoint["seq"]) if checkpoint is not None else None
    at_checkpoint: str | None = None
    e = AuditEvent
    # Columns, not objects, streamed in sequence order along the unique index on seq (a
    # server-side cursor on PostgreSQL): memory stays flat and no ORM object is built per row.
    rows = session.execute(
        select(  # type: ignore[call-overload, misc]
            e.id, e.seq, e.topic_id, e.actor_id, e.actor, e.actor_role, e.action,
            e.detail, e.changes, e.at, e.prev_hash, e.hash,
        )
        .where(e.seq.is_not(None))  # type: ignore[union-attr]
        .order_by(e.seq)
        .execution_options(yield_per=5000)
    )  # fmt: skip
    count = 0
    for row in rows:
        count += 1
        if row.seq is None or row.hash is None:
            return Verdict(False, count - 1, expected_seq, "审计记录未入链", row.id, None)
        if row.seq != expected_seq + 1:
            what = "缺失" if row.seq > expected_seq + 1 else "重复"
            return Verdict(
                False,
                count - 1,
                expected_seq,
                f"审计链序号不连续：第 {expected_seq + 1} 条{what}（此处为第 {row.seq} 条）",
                row.id,
                row.seq,
            )
        if row.prev_hash != last:
            return Verdict(
                False,
                count - 1,
                expected_seq,
                f"第 {row.seq} 条审计记录与前一条不衔接（前一条被改动、删除或顺序被调换）",
                row.id,
                row.seq,
            )
        if link(last, row) != row.hash:
            return Verdict(
                False,
                count - 1,
                expected_seq,
                f"第 {row.seq} 条审计记录内容被改动",
                row.id,
                row.seq,
            )
        expected_seq, last = row.seq, row.hash
        if row.seq == wanted:
            at_checkpoint = row.hash
    unsealed = session.execute(
        select(e.id).where(e.seq.is_(None)).order_by(e.id).limit(1)  # type: ignore[call-overload, union-attr]
    ).scalar_one_or_none()
    if unsealed is not None:  # after every sealed event, as a sort by (seq IS NULL, seq) had it
        return Verdict(False, count, expected_seq, "审计记录未入链", unsealed, None)
    stored_seq, stored_hash = head(session)
    if (stored_seq, stored_hash) != (expected_seq, last):
        return Verdict(
            False,
            count,
            expected_seq,
            f"审计链止于第 {expected_seq} 条，但链头记录为第 {stored_seq} 条：最新的记录被删除或链头被改动",
        )
    if checkpoint is not None:
        seq, digest = int(checkpoint["seq"]), str(checkpoint["hash"])
        if key is None or not hmac.compare_digest(sign(key, seq, digest), str(checkpoint["mac"])):
            return Verdict(False, count, expected_seq, "校验点签名无效：校验点文件被改动或密钥不符")
        if seq > expected_seq:
            return Verdict(
                False,
                count,
                expected_seq,
                f"审计链止于第 {expected_seq} 条，早于校验点记录的第 {seq} 条：最新的记录被删除",
            )
        if seq and at_checkpoint != digest:
            return Verdict(
                False, count, expected_seq, f"第 {seq} 条审计记录与校验点不符：记录被改写"
            )
    return Verdict(
        True, count, expected_seq, f"审计链完整：共 {count} 条记录，链头第 {expected_seq} 条"
    )
