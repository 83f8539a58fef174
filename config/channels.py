"""Notification channels: an Apprise configuration file maps tags to URLs (no code per channel)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import apprise

from config.settings import get_settings


def config_path() -> Path | None:
    settings = get_settings()
    if settings.apprise_config:
        return settings.apprise_config
    default = settings.data_dir / "apprise.yml"
    return default if default.exists() else None


def load_apprise(path: Path | None = None) -> apprise.Apprise:
    """Read the channel file afresh, so an administrator's edit applies to the next delivery."""
    apobj = apprise.Apprise()
    path = path or config_path()
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


@dataclass
class SendResult:
    delivered: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def no_channel(self) -> bool:
        return not (self.delivered or self.failed or self.skipped)


def send(
    apobj: apprise.Apprise,
    *,
    tag: str,
    title: str,
    body: str,
    already: list[str] | tuple[str, ...] = (),
    tries: int = 3,
    backoff: float = 0.5,
) -> SendResult:
    """Send to every service carrying `tag` (and those tagged "always"), reading each answer."""
    import time

    result = SendResult()
    for service in apobj.find(tag=tag, match_always=True):
        sid = service_id(service)
        result.labels[sid] = service_label(service)
        if sid in already:
            result.skipped.append(sid)
            continue
        error = ""
        for attempt in range(tries):
            with apprise.LogCapture(level=apprise.logging.WARNING, fmt="%(message)s") as logs:
                ok = service.notify(body=body, title=title)
            if ok:
                result.delivered.append(sid)
                break
            error = (logs.getvalue().strip().splitlines() or ["发送失败"])[-1][:300]
            if attempt + 1 < tries:
                time.sleep(backoff * (2**attempt))
        else:
            result.failed[sid] = f"{service_label(service)} {error}"
    return result
