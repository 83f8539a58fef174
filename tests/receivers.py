"""Real notification receivers on 127.0.0.1 for the delivery tests: an SMTP server (aiosmtpd)
for mailto:// and an HTTP server for json:// webhooks, plus the Apprise file that points at them.

The HTTP receiver can be told to fail the next N requests (HTTP 500) or be stopped and started
again on the same port (connection refused in between)."""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    path: str
    title: str
    body: str
    data: dict[str, Any] = field(default_factory=dict)  # the whole JSON document received


@dataclass
class HttpReceiver:
    """A json:// endpoint (or any JSON-posting robot redirected here: DingTalk, WeCom, Lark).
    `log` holds what was accepted; `hits` every request, failed or not."""

    port: int = field(default_factory=free_port)
    log: list[Received] = field(default_factory=list)
    hits: int = 0
    fail_next: int = 0
    delay: float = 0.0  # seconds each answer takes (a slow channel), after the message is kept
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    @property
    def messages(self) -> list[dict[str, str]]:
        """Accepted payloads as dicts (title, message, path), in arrival order."""
        return [{"title": r.title, "message": r.body, "path": r.path} for r in self.log]

    def titles(self) -> list[str]:
        return [r.title for r in self.log]

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> HttpReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                payload = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.hits += 1
                    failing = receiver.fail_next > 0
                    if failing:
                        receiver.fail_next -= 1
                    else:
                        data = json.loads(payload)
                        receiver.log.append(
                            Received(
                                self.path.strip("/").split("?")[0],
                                data.get("title", ""),
                                data.get("message", ""),
                                data,
                            )
                        )
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def to(self, path: str) -> list[Received]:
        return [r for r in self.log if r.path == path]


class _SmtpHandler:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=policy.default)
        part = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        self.messages.append(
            {
                "to": list(envelope.rcpt_tos),
                "subject": str(msg["subject"]),
                "body": part.get_content() if part else "",
                "html": html.get_content() if html else "",
            }
        )
        return "250 OK"


class SmtpReceiver:
    """A mailto:// endpoint (plain SMTP, no auth)."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.port = free_port()
        self.handler = _SmtpHandler()
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.handler.messages

    def url(self, to: str) -> str:
        return f"mailto://127.0.0.1:{self.port}?from=xieshang@example.cn&to={to}&mode=insecure"

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def write_apprise_yaml(path: Path, routes: dict[str, list[str]]) -> Path:
    """An Apprise YAML file: each URL with the tags it serves (the format the README shows)."""
    lines = ["version: 1", "urls:"]
    for url, tags in routes.items():
        lines += [f'  - "{url}":', f"      - tag: {', '.join(tags)}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def use_apprise_config(monkeypatch: Any, path: Path) -> None:
    """Point the settings (and so every delivery in this process) at `path`."""
    from config.settings import get_settings

    monkeypatch.setenv("XS_APPRISE_CONFIG", str(path))
    monkeypatch.setenv("XS_DELIVERY_BACKOFF_SECONDS", "0.01")
    get_settings.cache_clear()
