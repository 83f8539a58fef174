"""Idempotency-Key: a person's action retried (a lost answer, a double click, a client that
retries on timeout) acts once; the retry gets the first answer again.

The first request with a key claims it (a row in `idempotency_record`, committed at once, so a
concurrent duplicate sees the claim), acts, and stores its answer before sending it. A retry by
the same caller with the same method, path and body gets that answer with
`Idempotent-Replayed: true`; the same key with another request is 422; a duplicate while the
first is still being handled is 409. An action that fails (4xx/5xx) stores nothing and
releases its key, so a retry acts. Records are kept 24 hours; expired ones are purged lazily:
the claim replaces an expired record of its own key, and at most every ten minutes a claim
deletes every expired record.

The caller is the credential the request presents (Authorization, X-API-Key, the xs_session
cookie), hashed: two people never share an answer, and no credential is stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.db import database_unavailable, session_scope
from models.base import utcnow
from models.tables import IdempotencyRecord

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEEP = dt.timedelta(hours=24)
# A claim older than this whose answer was never stored: the process handling it stopped
# after it may or may not have acted; the key is not used again (the person is told).
IN_FLIGHT_LEASE = dt.timedelta(minutes=10)
PURGE_EVERY_SECONDS = 600.0
# Headers of the first answer a replay repeats (never a cookie).
KEPT_HEADERS = frozenset({"content-type", "etag", "location"})
CREDENTIAL_COOKIE = "xs_session"
MAX_KEY_LENGTH = 128

_last_purge = 0.0


def caller_fingerprint(headers: Headers) -> str:
    """SHA-256 of the credential the request presents (empty when it presents none)."""
    cookie = cookie_parser(headers.get("cookie", "")).get(CREDENTIAL_COOKIE, "")
    parts = (headers.get("authorization", ""), headers.get("x-api-key", ""), cookie)
    return hashlib.sha256("\n".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def request_fingerprint(
    method: str, path: str, query: bytes, body: bytes, if_match: str = ""
) -> str:
    """What makes two requests the same one: method, address, query, body and the version
    they were based on (a retry with another If-Match is another request)."""
    digest = hashlib.sha256(f"{method}\n{path}\n{if_match}\n".encode("utf-8", "surrogateescape"))
    digest.update(query + b"\n" + body)
    return digest.hexdigest()


def valid_key(key: str) -> bool:
    return 1 <= len(key) <= MAX_KEY_LENGTH and all(" " <= ch <= "~" for ch in key)


@dataclass(frozen=True)
class Claim:
    """What the key says about this request: act (claimed), replay, or refuse."""

    outcome: str  # acted | replay | mismatch | in_flight | abandoned
    record_id: int | None = None
    status_code: int | None = None
    headers: list[list[str]] | None = None
    body: bytes | None = None


def claim(caller: str, key: str, method: str, path: str, request_hash: str) -> Claim:
    """Claim the key for this request, or say what an earlier request with it left."""
    global _last_purge
    table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
    now = utcnow()
    with session_scope() as session:
        if time.monotonic() - _last_purge > PURGE_EVERY_SECONDS:
            _last_purge = time.monotonic()
            session.execute(delete(table).where(table.c.expires_at < now))
        else:
            session.execute(
                delete(table).where(
                    table.c.caller == caller, table.c.key == key, table.c.expires_at < now
                )
            )
        row = session.execute(
            select(table).where(table.c.caller == caller, table.c.key == key)
        ).first()
        if row is None:
            try:
                with session.begin_nested():
                    new_id = session.execute(
                        insert(table)
                        .values(
                            caller=caller,
                            key=key,
                            method=method,
                            path=path[:2000],
                            request_hash=request_hash,
                            headers=[],
                            created_at=now,
                            expires_at=now + KEEP,
                        )
                        .returning(table.c.id)
                    ).scalar_one()
                return Claim("acted", record_id=new_id)
            except IntegrityError:  # a duplicate claimed it between our look and our insert
                row = session.execute(
                    select(table).where(table.c.caller == caller, table.c.key == key)
                ).one()
    if row.request_hash != request_hash:
        return Claim("mismatch")
    if row.status_code is None:
        abandoned = now - row.created_at > IN_FLIGHT_LEASE
        return Claim("abandoned" if abandoned else "in_flight")
    return Claim("replay", status_code=row.status_code, headers=row.headers, body=row.body)


def store(record_id: int, status_code: int, headers: list[list[str]], body: bytes) -> None:
    table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
    with session_scope() as session:
        session.execute(
            update(table)
            .where(table.c.id == record_id)
            .values(status_code=status_code, headers=headers, body=body)
        )


def release(record_id: int) -> None:
    """The action failed and wrote nothing: a retry with the key acts."""
    table = IdempotencyRecord.__table__  # type: ignore[attr-defined]
    with session_scope() as session:
        session.execute(delete(table).where(table.c.id == record_id))


REFUSALS = {
    "mismatch": (
        422,
        "Idempotency-Key 已用于另一请求（方法、地址或请求体不同）；新的操作请换用新的 Idempotency-Key",
    ),
    "in_flight": (409, "同一请求正在处理，请稍后重试（将返回第一次办理的结果）"),
    "abandoned": (
        409,
        "使用该 Idempotency-Key 的请求此前处理中断，结果未知；请先查看记录，再以新的 "
        "Idempotency-Key 重新提交",
    ),
}


async def _answer(
    send: Send, status: int, body: dict[str, Any], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> None:
    content = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def _refuse(send: Send, status: int, message: str, *, field: str | None = None) -> None:
    body: dict[str, Any] = {"detail": message}
    if field:
        body["field"] = field
        body["errors"] = [{"field": field, "message": message, "type": "invalid"}]
    await _answer(send, status, body)


class IdempotencyMiddleware:
    """ASGI middleware around the whole API: see the module docstring."""

    def __init__(self, app: ASGIApp, routes: Any = ()) -> None:
        self.app = app
        self.routes = routes

    def _served(self, scope: Scope) -> bool:
        """A method and address some route takes; anything else gets the app's own 404/405."""
        return any(route.matches(scope)[0] is Match.FULL for route in self.routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or not self._served(scope)
        ):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get(HEADER)
        if key is None:
            await self.app(scope, receive, send)
            return
        if not valid_key(key):
            await _refuse(
                send,
                422,
                "Idempotency-Key：须为 1–128 个可打印的 ASCII 字符（建议用 UUID）",
                field="Idempotency-Key",
            )
            return
        body = await _read_body(receive)
        caller = caller_fingerprint(headers)
        method, path = scope["method"], scope["path"]
        request_hash = request_fingerprint(
            method, path, scope.get("query_string", b""), body, headers.get("if-match", "")
        )
        try:
            found = await run_in_threadpool(claim, caller, key, method, path, request_hash)
        except DBAPIError as exc:
            if not database_unavailable(exc):
                raise
            await _answer(
                send,
                503,
                {"detail": "数据库暂不可用，本次操作未执行，请稍后重试"},
                ((b"retry-after", b"5"),),
            )
            return
        if found.outcome == "replay":
            kept = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in found.headers or []]
            length = str(len(found.body or b"")).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": found.status_code,
                    "headers": [
                        *kept,
                        (b"content-length", length),
                        (REPLAYED.lower().encode(), b"true"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": found.body or b""})
            return
        if found.outcome != "acted":
            status, message = REFUSALS[found.outcome]
            await _refuse(send, status, message, field="Idempotency-Key")
            return
        await self._act(scope, body, receive, send, found.record_id)  # type: ignore[arg-type]

    async def _act(
        self, scope: Scope, body: bytes, receive: Receive, send: Send, record_id: int
    ) -> None:
        """Run the action, keep its answer if it succeeded (else release the key), then send."""
        messages: list[Message] = []
        delivered = False

        async def replay_body() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def keep(message: Message) -> None:
            messages.append(message)

        try:
            await self.app(scope, replay_body, keep)
        except BaseException:
            await run_in_threadpool(release, record_id)
            raise
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        status = start["status"] if start else 500
        if status < 400:
            content = b"".join(m.get("body", b"") for m in messages if "body" in m)
            kept = [
                [k.decode("latin-1"), v.decode("latin-1")]
                for k, v in (start or {}).get("headers", [])
                if k.decode("latin-1").lower() in KEPT_HEADERS
            ]
            await run_in_threadpool(store, record_id, status, kept, content)
        else:
            await run_in_threadpool(release, record_id)
        for message in messages:
            await send(message)


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "可选：本次操作的唯一标识（1–128 个可打印字符，建议用 UUID）。"
        "同一调用方以同一标识重试同一请求时，不再重复办理，直接返回第一次的结果"
        "（响应头 Idempotent-Replayed: true）；同一标识用于不同请求返回 422；"
        "第一次尚在处理时返回 409。办理失败（4xx/5xx）不保留，重试会重新办理。保留 24 小时"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}


def document(schema: dict[str, Any]) -> None:
    """Every write operation documents the Idempotency-Key header."""
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method.upper() in WRITE_METHODS:
                operation.setdefault("parameters", []).append(IDEMPOTENCY_PARAMETER)


def install(app: FastAPI) -> None:
    app.add_middleware(IdempotencyMiddleware, routes=app.router.routes)
