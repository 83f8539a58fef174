"""The channel interface every delivery goes through, with Apprise as its implementation.

`Channel.send(tag, title, body, already, payload)` reaches every service that carries the tag
and reports per service; a new kind of channel is an Apprise URL in the channel file, or, for
something Apprise cannot reach, another class with the same `send`. Each service gets the
message in the form it shows best (tasks/formats.py): e-mail as HTML with its plain part,
Markdown where the service renders it (DingTalk), plain text elsewhere (WeCom, Lark, Feishu),
and JSON webhooks the structured message (event, ids, deadline, link, text) beside the text."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import apprise
from apprise import NotifyFormat
from apprise.plugins.custom_json import NotifyJSON

from config.channels import config_path
from tasks.formats import as_html, markdown, plain


@dataclass
class SendResult:
    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def no_channel(self) -> bool:
        return not (self.delivered or self.failed or self.skipped)


class Channel(Protocol):
    def send(
        self,
        *,
        tag: str,
        title: str,
        body: str,
        already: list[str] | tuple[str, ...] = (),
        tries: int = 3,
        backoff: float = 0.5,
        payload: Mapping[str, Any] | None = None,
    ) -> SendResult:
        """Send to every service carrying `tag`, skipping those in `already`."""
        ...


class AppriseChannel:
    """All services of the Apprise channel file, read afresh when opened, so an administrator's
    edit applies to the next delivery."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_path()
        self.apobj = load_apprise(self.path)

    def send(
        self,
        *,
        tag: str,
        title: str,
        body: str,
        already: list[str] | tuple[str, ...] = (),
        tries: int = 3,
        backoff: float = 0.5,
        payload: Mapping[str, Any] | None = None,
    ) -> SendResult:
        return send(
            self.apobj,
            tag=tag,
            title=title,
            body=body,
            already=already,
            tries=tries,
            backoff=backoff,
            payload=payload,
        )


def open_channel(path: Path | None = None) -> Channel:
    """The configured channel (raises FileNotFoundError for a missing channel file)."""
    return AppriseChannel(path)


def load_apprise(path: Path | None = None) -> apprise.Apprise:
    """Read the channel file (or none: then no tag has a channel)."""
    apobj = apprise.Apprise()
    if path is not None:
        if not path.exists():
            raise FileNotFoundError(f"Apprise 配置文件不存在：{path}")
        cfg = apprise.AppriseConfig()
        cfg.add(str(path))
        apobj.add(cfg)
    return apobj


def service_id(service: apprise.plugins.NotifyBase) -> str:
    """A stable, secret-free name for one configured service."""
    return hashlib.sha256(service.url().encode()).hexdigest()[:16]


def service_label(service: apprise.plugins.NotifyBase) -> str:
    return service.url(privacy=True)


def send(
    apobj: apprise.Apprise,
    *,
    tag: str,
    title: str,
    body: str,
    already: list[str] | tuple[str, ...] = (),
    tries: int = 3,
    backoff: float = 0.5,
    payload: Mapping[str, Any] | None = None,
) -> SendResult:
    """Send to every service carrying `tag` (and those tagged "always"), reading each answer."""
    result = SendResult()
    payload = dict(payload or {})
    link = payload.get("link")
    for service in apobj.find(tag=tag, match_always=True):
        sid = service_id(service)
        result.labels[sid] = service_label(service)
        if sid in already:
            result.skipped.append(sid)
            continue
        error = ""
        for attempt in range(tries):
            with apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as logs:
                ok = notify(service, title=title, body=body, link=link, payload=payload)
            if ok:
                result.delivered.append(sid)
                break
            error = (logs.getvalue().strip().splitlines() or ["发送失败"])[-1][:300]
            if attempt + 1 < tries:
                time.sleep(backoff * (2**attempt))
        else:
            result.failed[sid] = f"{service_label(service)} {error}"
    return result


def notify(
    service: apprise.plugins.NotifyBase,
    *,
    title: str,
    body: str,
    link: str | None,
    payload: dict[str, Any],
) -> bool:
    """One service, one message, in the format the service shows best."""
    if isinstance(service, NotifyJSON):
        text = plain(body, link)
        extras = service.payload_extras
        # Apprise's own fields (version, title, message, type) stay; its URL's :key=value
        # extras still apply; the structured message is added beside them for this send only.
        service.payload_extras = {**payload, "text": text} | extras
        try:
            return bool(service.notify(body=text, title=title, body_format=NotifyFormat.TEXT))
        finally:
            service.payload_extras = extras
    if service.resolve_format(NotifyFormat.HTML) is NotifyFormat.HTML:
        return bool(
            service.notify(
                body=as_html(title, body, link), title=title, body_format=NotifyFormat.HTML
            )
        )
    if service.resolve_format(NotifyFormat.MARKDOWN) is NotifyFormat.MARKDOWN:
        return bool(
            service.notify(
                body=markdown(body, link), title=title, body_format=NotifyFormat.MARKDOWN
            )
        )
    return bool(service.notify(body=plain(body, link), title=title, body_format=NotifyFormat.TEXT))
