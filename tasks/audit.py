"""The audit chain's checkpoint: its head, signed, written outside the database."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from prefect import task

from config.db import session_scope
from config.settings import get_settings
from models import audit
from tasks.retry import retrying


def read_checkpoint(path: Path | None = None) -> dict[str, Any] | None:
    path = path or get_settings().audit_checkpoint_path
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def write_checkpoint(path: Path | None = None) -> dict[str, Any]:
    """Record the chain head (sequence and hash, HMAC-signed) in a file, atomically; a later
    `verify` proves no event up to it was removed. Unchanged head: the file is left alone."""
    settings = get_settings()
    path = path or settings.audit_checkpoint_path
    with session_scope() as session:
        seq, digest = audit.head(session)
    previous = read_checkpoint(path)
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
    """Run by the recurring sweep: keep the signed checkpoint up to date."""
    return write_checkpoint()
