"""A cap on request bodies: a body larger than any the API takes is refused (413) before it
is read into memory, so one oversized request cannot exhaust the process."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import get_settings


def _refusal(limit: int) -> bytes:
    text = f"请求体过大：不能超过 {limit // 1024} KB，本次未做任何修改"
    return json.dumps({"detail": text}, ensure_ascii=False).encode()


# An evidence upload (POST /items/{id}/evidence, or its page's form) may carry a file up to its own limit, plus the
# multipart envelope; models/evidence.py refuses a larger file with the limits named.
_UPLOAD = re.compile(r"^(/work)?/items/\d+/evidence$")
MULTIPART_ALLOWANCE = 64 * 1024


def body_limit(path: str) -> int:
    s = get_settings()
    if _UPLOAD.match(path):
        return max(s.max_body_bytes, s.evidence_max_bytes + MULTIPART_ALLOWANCE)
    if path == "/imports":  # an uploaded 台账 of 10,000 rows is larger than any JSON body
        return max(s.max_body_bytes, s.max_import_bytes)
    return s.max_body_bytes


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_refusal(scope, receive, send, limit)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server stops at the declared length
            return
        # Sent in chunks without a length: read (at most the limit) before the app sees it.
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            more = message.get("more_body", False)
            if seen > limit:
                await _send_refusal(scope, receive, send, limit)
                return
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _wants_page(scope: Scope) -> bool:
    """A browser's form post (it accepts HTML) is answered with a page, a client with JSON."""
    accept = dict(scope.get("headers") or []).get(b"accept", b"")
    return b"text/html" in accept


def _page_refusal(scope: Scope, limit: int) -> Response:
    from api.pages.render import page  # the pages' layout, only for a browser's request

    s = get_settings()
    if _UPLOAD.match(scope.get("path", "")):
        text = (
            f"上传的文件过大：佐证材料每份不能超过 {s.evidence_max_bytes // (1024 * 1024)} MB，"
            "本次未做任何修改。请返回上一页，压缩或另选文件后重新上传。"
        )
    else:
        text = f"提交的内容过大：不能超过 {limit // 1024} KB，本次未做任何修改。请返回上一页修改后再提交。"
    return page(Request(scope), "error.html", status_code=413, title="内容过大", message=text)


async def _send_refusal(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    if _wants_page(scope):
        await _page_refusal(scope, limit)(scope, receive, send)
        return
    body = _refusal(limit)
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI) -> None:
    app.add_middleware(BodyLimitMiddleware)
