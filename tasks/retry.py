"""One retry policy for every task: retry what can heal, fail at once on what cannot.

A gate refusal, a missing row or invalid input will refuse again on every attempt, so retrying
only delays the failure and repeats its traceback; a locked or unreachable database, a network
error talking to Prefect, Apprise or SMTP may well pass a second later.
"""

from __future__ import annotations

from typing import Any

import httpx
from prefect.cache_policies import NO_CACHE
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from config.db import database_unavailable
from models.errors import DomainError

# OSErrors about a path: the file system answers the same a second later.
_NEVER_HEALS = (
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
)


def is_transient(exc: BaseException) -> bool:
    """True for failures another attempt may get past."""
    if isinstance(exc, DomainError):
        return False
    if isinstance(exc, StaleDataError):
        return True  # someone changed the row meanwhile: the next attempt reloads it
    if database_unavailable(exc):
        return True
    if isinstance(exc, DBAPIError):
        return False  # a refusal of the data (integrity, range): the same again fails again
    if isinstance(exc, _NEVER_HEALS):
        return False  # a missing or unreadable file is missing on the next attempt too
    return isinstance(exc, httpx.TransportError | ConnectionError | TimeoutError | OSError)


def retry_transient(_task: Any, _task_run: Any, state: Any) -> bool:
    """Prefect's retry_condition_fn: look at the exception the failed attempt raised."""
    exc = state.data if isinstance(state.data, BaseException) else None
    if exc is None:
        try:
            exc = state.result(raise_on_failure=False)
        except Exception as error:  # pragma: no cover - defensive: unreadable result
            exc = error
    return isinstance(exc, BaseException) and is_transient(exc)


def retrying(*, retries: int = 3, delays: list[float] | None = None) -> dict[str, Any]:
    """Task options: `retries` attempts after the first, with backoff, for transient errors only.
    Never cached: every task here has a side effect or reads state that changes."""
    return {
        "retries": retries,
        "retry_delay_seconds": delays or [1, 2, 5][:retries],
        "retry_condition_fn": retry_transient,
        "cache_policy": NO_CACHE,
    }
