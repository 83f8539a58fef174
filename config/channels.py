"""Where the notification channels are configured: an Apprise file that maps tags to URLs
(email, DingTalk, WeCom, Lark, webhooks … without code). Sending lives in tasks/channels.py."""

from __future__ import annotations

from pathlib import Path

from config.settings import get_settings


def config_path() -> Path | None:
    settings = get_settings()
    if settings.apprise_config:
        return settings.apprise_config
    default = settings.data_dir / "apprise.yml"
    return default if default.exists() else None
