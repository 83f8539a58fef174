"""The audit chain's checkpoint: its head, signed, written outside the database."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from prefect import get_run_logger, task

from config.db import session_scope
from config.settings import get_settings
from models import audit
from tasks.retry import retrying


def read_checkpoint(path: Path | None = None) -> dict[str, Any] | None:
    path = path or get_settings().audit_checkpoint_path
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


class CheckpointMismatch(Exception):
    """The chain no longer holds the event the last checkpoint names: never overwrite it."""


def write_checkpoint(path: Path | None = None) -> dict[str, Any]:
    """Record the chain head (sequence and hash, HMAC-signed) in a file, atomically; a later
    `verify` proves no event up to it was removed. Unchanged head: the file is left alone. A
    chain that has lost or changed the checkpointed event is not checkpointed over (that would
    erase the evidence): CheckpointMismatch."""
    settings = get_settings()
    path = path or settings.audit_checkpoint_path
    previous = read_checkpoint(path)
    with session_scope() as session:
        seq, digest = audit.head(session)
        if previous is not None and not audit.holds(
            session, int(previous["seq"]), previous["hash"]
        ):
            raise CheckpointMismatch(
                f"审计链已不含校验点记录的第 {previous['seq']} 条（{path}）：记录可能被删除或改写，"
                "请运行 xieshang audit verify 核查；校验点未更新"
            )
    if previous is not None and (previous.get("seq"), previous.get("hash")) == (seq, digest):
        return previous
    content = {
        "seq": seq,
        "hash": digest,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mac": audit.sign(settings.secret(), seq, digest),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(temporary, path)
    return content


@task(name="checkpoint-audit", **retrying())
def checkpoint_audit() -> dict[str, Any]:
    """Run by the recurring sweep: keep the signed checkpoint up to date. A mismatch is logged
    as an error and reported, but never stops the sweep's reminders."""
    try:
        return write_checkpoint()
    except CheckpointMismatch as exc:
        get_run_logger().error(str(exc))
        return {"seq": None, "problem": str(exc)}
