"""Row versions over HTTP: an answer that is one record carries its version as `ETag`, and the
OpenAPI says which writes take `If-Match` (checked by api.deps.if_match)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import VERSIONED_PATH_IDS

VERSION_FIELDS = ("version", "row_version")
WRITE_METHODS = ("post", "put", "patch", "delete")


def _is_versioned_record(model: Any) -> bool:
    fields = getattr(model, "model_fields", None) or {}
    return "data" not in fields and any(f in fields for f in VERSION_FIELDS)


def _version(body: bytes) -> int | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    found = next((data[f] for f in VERSION_FIELDS if f in data), None)
    return found if isinstance(found, int) and not isinstance(found, bool) else None


class ETagMiddleware:
    """An answer that is one versioned record (a GET, or the record a write changed) carries
    `ETag: "<version>"`, read from the record itself (the route is known once routed)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None

        async def tagged(message: Message) -> None:
            nonlocal start
            route = scope.get("route")
            if message["type"] == "http.response.start":
                if isinstance(route, APIRoute) and route_sends_etag(route):
                    start = message  # held until the body says which version
                    return
            elif start is not None:
                if 200 <= start["status"] < 300 and not message.get("more_body"):
                    version = _version(message.get("body", b""))
                    if version is not None:
                        etag = (b"etag", f'"{version}"'.encode())
                        start = {**start, "headers": [*start.get("headers", []), etag]}
                await send(start)
                start = None
            await send(message)

        await self.app(scope, receive, tagged)


def route_sends_etag(route: APIRoute) -> bool:
    return _is_versioned_record(route.response_model)


ETAG_HEADER = {
    "ETag": {
        "description": '记录的版本号，如 "3"：修改时放入 If-Match',
        "schema": {"type": "string"},
    }
}


def send_etags(app: FastAPI) -> None:
    """Every answer that is one versioned record sends its version as ETag (for If-Match)."""
    app.add_middleware(ETagMiddleware)


IF_MATCH_PARAMETER = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": (
        '可选：所见记录的版本号（记录的 version 或 ETag，如 "3"）。'
        "记录已被他人修改时返回 409 和 current_version，不做任何修改"
    ),
    "schema": {"type": "string", "maxLength": 100},
}


def document(schema: dict[str, Any]) -> None:
    """If-Match on the writes whose path names a versioned record; ETag on every answer that
    is one versioned record."""
    components = schema.get("components", {}).get("schemas", {})
    for path, operations in schema.get("paths", {}).items():
        names_record = any(f"{{{name}}}" in path for name in VERSIONED_PATH_IDS)
        for method, operation in operations.items():
            if method in WRITE_METHODS and names_record:
                operation.setdefault("parameters", []).append(IF_MATCH_PARAMETER)
            for status, answer in operation.get("responses", {}).items():
                ref = answer.get("content", {}).get("application/json", {}).get("schema", {})
                model = components.get(str(ref.get("$ref", "")).rsplit("/", 1)[-1], {})
                fields = model.get("properties", {})
                versioned = "data" not in fields and any(f in fields for f in VERSION_FIELDS)
                if status.startswith("2") and versioned:
                    answer["headers"] = ETAG_HEADER
