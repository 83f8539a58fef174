"""`xieshang notify test TAG`: one line per channel, and the exit code says if all went out."""

from __future__ import annotations

from typer.testing import CliRunner

from runtime.cli import app

runner = CliRunner()


def test_notify_test_reports_each_channel(channels, http_receiver, smtp_receiver):
    result = runner.invoke(app, ["notify", "test", "person-li"])
    assert result.exit_code == 0, result.output
    channel_lines = [line for line in result.output.splitlines() if "://" in line]
    assert len(channel_lines) == 2 and all(line.endswith("已发送") for line in channel_lines)
    assert "共 2 个渠道：2 个已发送，0 个失败" in result.output
    assert len(http_receiver.to("li")) == 1 and len(smtp_receiver.messages) == 1
    assert http_receiver.log[0].title == "【测试】协商平台通知渠道测试"


def test_notify_test_shows_the_failing_channel(channels, http_receiver, smtp_receiver):
    http_receiver.stop()
    result = runner.invoke(app, ["notify", "test", "person-li"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("mailto://") and "已发送" in line for line in lines)
    assert any(line.startswith("json://") and "失败" in line for line in lines)


def test_notify_test_for_a_tag_nobody_serves(channels):
    result = runner.invoke(app, ["notify", "test", "person-nobody"])
    assert result.exit_code == 1 and "没有配置任何通知渠道" in result.output
