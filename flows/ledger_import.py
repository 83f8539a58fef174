"""台账导入: apply a department's checked ledger (on demand, after its dry run)."""

from __future__ import annotations

from prefect import flow

from config.deployments import LEDGER_IMPORT_FLOW
from tasks.ledger import (
    apply_ledger_rows,
    begin_ledger_import,
    fail_ledger_import,
    finish_ledger_import,
)
from tasks.notify import deliver_notifications


@flow(name=LEDGER_IMPORT_FLOW, log_prints=True)
async def ledger_import(import_id: int) -> dict:
    """Begin, apply the rows batch by batch (the import row shows rows done / total), then
    check that rows in = created + updated + unchanged + rejected and close it; deliver what
    closing queued (an office import's one message per officer asking for 签收)."""
    if not begin_ledger_import(import_id):
        return {"import_id": import_id, "skipped": True}
    try:
        apply_ledger_rows(import_id)
        result = finish_ledger_import(import_id)
    except Exception as exc:
        fail_ledger_import(import_id, str(exc))
        raise
    return result | {"delivery": deliver_notifications()}
