"""Receivers and a channel file for the notification tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.receivers import HttpReceiver, SmtpReceiver, use_apprise_config, write_apprise_yaml


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def smtp_receiver() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as receiver:
        yield receiver


@pytest.fixture
def channels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_receiver: HttpReceiver, smtp_receiver
) -> Path:
    """person-li by webhook and e-mail; the office and the approver by webhook."""
    path = write_apprise_yaml(
        tmp_path / "apprise.yml",
        {
            http_receiver.url("li"): ["person-li"],
            smtp_receiver.url("li@example.cn"): ["person-li"],
            http_receiver.url("office"): ["role-administrator", "dept-office"],
            http_receiver.url("approver"): ["role-approver"],
        },
    )
    use_apprise_config(monkeypatch, path)
    return path
