"""The one retry rule: what can heal is tried again, what cannot fails on the first attempt."""

from __future__ import annotations

import errno
import sqlite3

import httpx
import pytest
from prefect import flow, task
from sqlalchemy.exc import IntegrityError, OperationalError

from models.errors import GateRefused, NotFound
from tasks.retry import is_transient, retrying

HEALS = {
    "locked database": OperationalError(
        "BEGIN", {}, sqlite3.OperationalError("database is locked")
    ),
    "Prefect unreachable": httpx.ConnectError("connection refused"),
    "SMTP connection reset": ConnectionResetError(errno.ECONNRESET, "reset"),
    "timeout": TimeoutError("timed out"),
    "network unreachable": OSError(errno.ENETUNREACH, "Network is unreachable"),
}
NEVER_HEALS = {
    "gate refused": GateRefused("未完成商前调研，不能开展协商"),
    "not found": NotFound("议题不存在"),
    "integrity": IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed")),
    "missing file": FileNotFoundError(errno.ENOENT, "No such file", "/nope.pdf"),
    "permission": PermissionError(errno.EACCES, "Permission denied", "/root/x"),
    "directory": IsADirectoryError(errno.EISDIR, "Is a directory", "/tmp"),
    "bug": ValueError("a programming error"),
}


@pytest.mark.parametrize("exc", HEALS.values(), ids=HEALS.keys())
def test_what_can_heal_is_retried(exc):
    assert is_transient(exc)


@pytest.mark.parametrize("exc", NEVER_HEALS.values(), ids=NEVER_HEALS.keys())
def test_what_cannot_heal_is_not(exc):
    assert not is_transient(exc)


async def test_a_task_is_retried_past_a_locked_database_but_not_past_a_missing_file(
    prefect_server,
):
    attempts: dict[str, int] = {"locked": 0, "missing": 0}

    @task(**retrying(retries=3, delays=[0]))
    def locked_once() -> str:
        attempts["locked"] += 1
        if attempts["locked"] == 1:
            raise HEALS["locked database"]
        return "written"

    @task(**retrying(retries=3, delays=[0]))
    def missing_file() -> None:
        attempts["missing"] += 1
        raise FileNotFoundError(errno.ENOENT, "No such file", "/nope.pdf")

    @flow
    def both() -> tuple[str, bool]:
        written = locked_once()
        failed = missing_file(return_state=True).is_failed()
        return written, failed

    assert both() == ("written", True)
    assert attempts == {"locked": 2, "missing": 1}
