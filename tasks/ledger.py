"""台账导入 tasks: each opens its own unit of work around a models.ledger operation."""

from __future__ import annotations

from typing import Any

from prefect import task

from config.db import session_scope
from models import ledger
from tasks.retry import retrying


@task(name="ledger-import-begin", **retrying())
def begin_ledger_import(import_id: int) -> bool:
    """Mark the import as running; False if it is gone or already done (a rerun does nothing)."""
    with session_scope() as session:
        return ledger.begin(session, import_id) is not None


@task(name="ledger-import-rows", **retrying())
def apply_ledger_rows(import_id: int) -> int:
    """Apply the stored sheet batch by batch, one commit per batch, so `rows_done` grows while
    it runs. Safe to retry: rows already applied are found unchanged."""
    with session_scope() as session:
        done = 0
        for row in ledger.apply_file(session, import_id):
            session.commit()
            done = row.rows_done
        return done


@task(name="ledger-import-finish", **retrying())
def finish_ledger_import(import_id: int) -> dict[str, Any]:
    """Check that the counts add up, close the import and record it in the audit trail."""
    with session_scope() as session:
        row = ledger.finish(session, import_id)
        return {
            "import_id": import_id,
            "rows": row.rows_total,
            "created": row.created,
            "updated": row.updated,
            "unchanged": row.unchanged,
            "rejected": row.rejected,
        }


@task(name="ledger-import-failed", **retrying())
def fail_ledger_import(import_id: int, reason: str) -> None:
    """Say on the import row why it failed, so the import record tells the person."""
    with session_scope() as session:
        ledger.fail(session, import_id, reason)
