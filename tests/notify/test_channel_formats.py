"""One message, every kind of channel, against real receivers on 127.0.0.1: e-mail (aiosmtpd)
with a plain part and an HTML part, DingTalk as Markdown, WeCom, Lark and Feishu robots as plain
text (their Apprise plugins post to the receiver instead of the vendor's host), and a JSON webhook
with the structured message. Each keeps its line breaks, its link and its Chinese text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace as NS

import pytest
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.lark import NotifyLark
from apprise.plugins.wecombot import NotifyWeComBot

from config.db import session_scope
from config.links import base_url
from models.case import queue
from tasks.notify import deliver_notifications
from tests.receivers import HttpReceiver, SmtpReceiver, use_apprise_config, write_apprise_yaml

deliver = deliver_notifications.fn

ITEMS = [
    NS(title="落实加装电梯补贴", completion_summary="补贴已发放 32 户"),
    NS(title="简化审批流程", completion_summary="并联审批，10 个工作日办结"),
]
LINES = [
    "尊敬的刘大爷：",
    "议题“老旧小区加装电梯”的 2 项整改事项已全部办结：",
    "- 落实加装电梯补贴：补贴已发放 32 户",
    "- 简化审批流程：并联审批，10 个工作日办结",
]
TITLE = "【满意度评价】请评价“老旧小区加装电梯”整改成效"


@pytest.fixture
def robots(monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpReceiver]:
    """One HTTP receiver standing in for the vendors' hosts; the plugins are Apprise's own."""
    with HttpReceiver() as receiver:
        base = f"http://127.0.0.1:{receiver.port}"
        monkeypatch.setattr(NotifyDingTalk, "notify_url", base + "/dingtalk?access_token={token}")
        monkeypatch.setattr(NotifyWeComBot, "notify_url", base + "/wecom?key={key}")
        monkeypatch.setattr(NotifyFeishu, "notify_url", base + "/feishu/{token}/")
        monkeypatch.setattr(NotifyLark, "notify_url", base + "/lark/")
        yield receiver


@pytest.fixture
def every_channel(
    committed_db: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    robots: HttpReceiver,
    http_receiver: HttpReceiver,
    smtp_receiver: SmtpReceiver,
) -> None:
    write_apprise_yaml(
        tmp_path / "apprise.yml",
        {
            smtp_receiver.url("liu@example.cn"): ["person-liu"],
            "dingtalk://secret0123@abcdef0123456789/": ["person-liu"],
            "wecombot://0a1b2c3d-4e5f-6789-abcd-ef0123456789": ["person-liu"],
            "feishu://0a1b2c3d-feishu-token": ["person-liu"],
            "lark://0a1b2c3d-lark-token": ["person-liu"],
            http_receiver.url("liu"): ["person-liu"],
        },
    )
    use_apprise_config(monkeypatch, tmp_path / "apprise.yml")
    with session_scope() as session:
        queue(
            session,
            event_key="topic:7:rating_request",
            recipients=["person-liu"],
            template="rating_request",
            topic_id=None,
            topic=NS(id=7, title="老旧小区加装电梯"),
            person=NS(name="刘大爷"),
            salutation="尊敬的刘大爷",
            items=ITEMS,
            deadline="2026年03月03日 23:59",
            provisional=False,
        )
    assert deliver() == {"sent": 1}


def _in_order(text: str, lines: list[str]) -> None:
    """Each line is a line of its own, in order."""
    got = [line.strip() for line in text.splitlines()]
    positions = [got.index(line) for line in lines]
    assert positions == sorted(positions), text


LINK = "/my/topics/7/rate"  # the rating page (config.links)


def test_email_has_a_plain_part_line_by_line_and_an_html_part_with_a_button(
    every_channel, smtp_receiver
):
    (mail,) = smtp_receiver.messages
    assert mail["subject"] == TITLE
    _in_order(mail["body"], LINES)
    assert f"办理入口：{base_url()}{LINK}" in mail["body"]
    html = mail["html"]
    assert "尊敬的刘大爷：<br>议题“老旧小区加装电梯”的 2 项整改事项已全部办结：</p>" in html
    assert '<div style="margin:2px 0 2px 1em">- 落实加装电梯补贴：补贴已发放 32 户</div>' in html
    assert f'<a href="{base_url()}{LINK}" style="display:inline-block' in html  # the button
    assert f'<a href="{base_url()}{LINK}">{base_url()}{LINK}</a>' in html  # the link in the text


def test_dingtalk_gets_markdown_with_hard_line_breaks_and_links(every_channel, robots):
    (ding,) = [r.data for r in robots.log if r.path == "dingtalk"]
    assert ding["msgtype"] == "markdown"
    text = ding["markdown"]["text"]
    assert text.startswith(f"# {TITLE}\n")
    assert "尊敬的刘大爷：  \n议题“老旧小区加装电梯”的 2 项整改事项已全部办结：" in text
    assert "\n- 落实加装电梯补贴：补贴已发放 32 户\n- 简化审批流程" in text
    assert f"打开 [{base_url()}{LINK}]({base_url()}{LINK}) 评价" in text
    assert text.endswith(f"[去办理]({base_url()}{LINK})")


@pytest.mark.parametrize("robot", ["wecom", "feishu", "lark"])
def test_text_only_robots_get_the_lines_and_the_link_as_text(every_channel, robots, robot):
    (data,) = [r.data for r in robots.log if r.path.split("/")[0] == robot]
    text = data["text"]["content"] if robot == "wecom" else data["content"]["text"]
    _in_order(text, LINES)
    assert f"办理入口：{base_url()}{LINK}" in text
    assert "<" not in text and "**" not in text


def test_json_webhook_gets_the_structured_message(every_channel, http_receiver):
    (hook,) = http_receiver.to("liu")
    data = hook.data
    assert data["title"] == TITLE
    assert data["event"] == "rating_request" and data["event_key"] == "topic:7:rating_request"
    assert data["ids"] == {"topic_id": 7}
    assert data["deadline"] == "2026-03-03T23:59:00+08:00"
    assert data["link"] == f"{base_url()}{LINK}" and data["action"] == f"{base_url()}{LINK}"
    _in_order(data["text"], LINES)
    assert data["message"] == data["text"]
