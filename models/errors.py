"""Domain errors: each carries a sentence a person can read (zh-CN) and maps to one HTTP status."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    """A rule refuses in the current state (a stage gate, a transition)."""

    status_code = 409


class VersionConflict(Conflict):
    """The record is no longer at the version the change was based on."""

    def __init__(self, message: str, *, current_version: int | None) -> None:
        super().__init__(message)
        self.current_version = current_version


class GateRefused(Conflict):
    pass


class Forbidden(DomainError):
    status_code = 403


class NotSignedIn(DomainError):
    """No credentials, or credentials that are no longer honoured: sign in (again)."""

    status_code = 401


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Invalid(DomainError):
    """Input that passes the schema but breaks a domain rule about values."""

    status_code = 422
