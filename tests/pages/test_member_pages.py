"""A CPPCC member's part of the loop by pages, in a real browser, from the links of his
messages: he answers an invitation (a reply without a choice is refused beside the field),
submits the findings of his research task and gives his opinion in a session round that takes
opinions; 我参与的议题 lists his topics; an expert outside the topic finds no invitation. Over
HTTP: a concluded round and an online window not yet open take no opinion, and an approver reads an invitation but cannot answer
it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlmodel import Session, select

from config.db import engine_for, migrate, session_scope
from models import accounts
from models.enums import Rsvp, SessionForm, Stage
from models.tables import ConsultationSession, Notification, Opinion, Participant, ResearchTask
from tests.conftest import ANONYMOUS
from tests.factories import LoopBuilder
from tests.pages.conftest import PASSWORD, sign_in

LOGIN = "sunli"
INVITED, RESEARCHING, IN_SESSION = "社区停车位共享", "背街小巷路灯维修", "老旧小区加装电梯"


def _link(s: Session, template: str, tag: str, title: str) -> str:
    """The path of the page a message of this template to this person links to."""
    n = next(
        n
        for n in s.exec(
            select(Notification).where(
                Notification.template == template, Notification.recipient == tag
            )
        )
        if title in n.title + n.body
    )
    (path,) = [m for m in re.findall(r"https?://[^\s/]+(/my/[\w/]+)", n.body)]
    return path


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three topics the member takes part in: invited to one, researching for another, the
    third in session (his invitation accepted, a round scheduled)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('member') / 'case.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as s:
        loop = LoopBuilder(s)
        invited = loop.advance(loop.topic(title=INVITED), to=Stage.SUBJECT, start=True)
        researching = loop.advance(loop.topic(title=RESEARCHING), to=Stage.PRESTUDY, start=True)
        in_session = loop.advance(loop.topic(title=IN_SESSION), to=Stage.SESSION, start=True)
        member = loop.cast.member
        accounts.set_password(s, member.id, LOGIN, PASSWORD)
        accounts.set_password(s, loop.cast.expert.id, "wugong", PASSWORD)
        s.flush()
        found = {
            "url": url,
            "invitation": _link(s, "invitation", member.tag, INVITED),
            "research": _link(s, "research_assigned", member.tag, RESEARCHING),
            "participant_id": s.exec(
                select(Participant.id).where(
                    Participant.topic_id == invited.id, Participant.person_id == member.id
                )
            ).one(),
            "task_id": s.exec(
                select(ResearchTask.id).where(ResearchTask.topic_id == researching.id)
            ).one(),
            "session_topic": in_session.id,
        }
    engine_for(url).dispose()
    return found


def test_a_member_replies_researches_and_gives_his_opinion_by_pages(page, case):  # type: ignore[no-untyped-def]
    page.goto(case["invitation"])
    assert urlparse(page.url).path == "/login"
    sign_in(page, LOGIN)
    page.wait_for_url(re.compile(re.escape(case["invitation"]) + "$"))
    assert page.get_by_role("heading", name=INVITED).is_visible()
    reply = page.locator("#rsvp")
    reply.get_by_label("说明（可不填）").fill("周三下午可以到场")
    reply.get_by_role("button", name="提交回复").click()
    assert page.locator("#rsvp .field-error").inner_text() == "请选择参加或不参加"
    assert page.locator("#rsvp").get_by_label("说明（可不填）").input_value() == "周三下午可以到场"
    page.locator("#rsvp").get_by_label("参加", exact=True).check()
    page.locator("#rsvp").get_by_role("button", name="提交回复").click()
    assert page.locator(".flash").inner_text() == "已回复邀请：参加"
    assert page.locator(".meta").inner_text().strip().endswith("已接受邀请")
    assert page.locator("#rsvp").count() == 0  # answered once, the form is gone

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我参与的议题").click()
    page.wait_for_url(re.compile(r"/my/topics$"))
    listed = page.locator(".my-topic .obligation").all_inner_texts()
    assert listed == [IN_SESSION, RESEARCHING, INVITED]  # newest first

    page.goto(case["research"])
    task = page.locator(f"#task-{case['task_id']}")
    task.get_by_label("调研成果").fill("走访")
    task.get_by_role("button", name="提交调研成果").click()
    assert "不少于 5 个字" in page.locator(f"#task-{case['task_id']} .field-error").inner_text()
    findings = "走访 86 户，七成支持夜间加装路灯"
    page.locator(f"#task-{case['task_id']}").get_by_label("调研成果").fill(findings)
    page.locator(f"#task-{case['task_id']}").get_by_role("button", name="提交调研成果").click()
    assert page.locator(".flash").inner_text() == "已提交调研成果"
    assert findings in page.locator(f"#task-{case['task_id']}").inner_text()

    page.goto(f"/my/topics/{case['session_topic']}")
    round_ = page.locator("section[id^=round-]")
    assert "第 1 轮协商" in round_.inner_text()
    round_.get_by_label("我的意见").fill("建议电梯补贴按楼层分档")
    round_.get_by_role("button", name="发表意见").click()
    assert page.locator(".flash").inner_text() == "已记录您的意见"
    assert "我的意见：建议电梯补贴按楼层分档" in page.locator("section[id^=round-]").inner_text()

    with Session(engine_for(case["url"])) as s:
        answered = s.get(Participant, case["participant_id"])
        assert (
            answered and answered.rsvp == Rsvp.ACCEPTED and answered.rsvp_note == "周三下午可以到场"
        )
        assert s.get(ResearchTask, case["task_id"]).findings == findings  # type: ignore[union-attr]
        assert [o.content for o in s.exec(select(Opinion))] == ["建议电梯补贴按楼层分档"]


def test_an_invitation_is_answered_only_by_its_invitee(page, case):  # type: ignore[no-untyped-def]
    page.goto(case["invitation"])
    sign_in(page, "wugong")  # the expert takes no part in this topic
    page.wait_for_url(re.compile(re.escape(case["invitation"]) + "$"))
    assert page.get_by_role("heading", name="未找到").is_visible()
    assert "不存在" in page.locator("main").inner_text()


def test_a_concluded_round_takes_no_opinion_and_an_approver_only_reads(client, loop, session):  # type: ignore[no-untyped-def]
    """Over HTTP: the domain's refusals reach the page, and nothing is written."""
    c = loop.cast
    topic = loop.advance(loop.topic(), to=Stage.SESSION, start=True)
    loop.finish(topic, Stage.SESSION)  # the round is concluded
    mine = session.exec(
        select(Participant).where(
            Participant.topic_id == topic.id, Participant.person_id == c.member.id
        )
    ).one()
    accounts.set_password(session, c.member.id, LOGIN, PASSWORD)
    accounts.set_password(session, c.approver.id, "chenjianguo", PASSWORD)
    session.commit()

    def sign_in_as(login: str) -> str:
        client.cookies.clear()
        signed = client.post(
            "/login",
            data={"login": login, "password": PASSWORD, "next": "/work"},
            headers=ANONYMOUS,
            follow_redirects=False,
        )
        assert signed.status_code == 303
        return client.cookies["xs_csrf"]

    token = sign_in_as(LOGIN)
    shown = client.get(f"/my/topics/{topic.id}", headers=ANONYMOUS)
    assert shown.status_code == 200 and "当前不接受意见" in shown.text
    assert "发表意见" not in shown.text
    meeting_id = re.search(r'id="round-(\d+)"', shown.text).group(1)  # type: ignore[union-attr]
    before = len(session.exec(select(Opinion)).all())
    late = client.post(
        f"/my/topics/{topic.id}/opinions",
        data={"session_id": meeting_id, "content": "补充一条意见", "csrf_token": token},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert late.status_code == 409 and "不能记录协商意见" in late.text  # the domain's reason
    assert len(session.exec(select(Opinion)).all()) == before

    # An online window that opens tomorrow: the page says when, and takes no opinion before.
    online = loop.advance(loop.topic(title="网上议事：社区停车"), to=Stage.SESSION, start=True)
    window = session.exec(
        select(ConsultationSession).where(ConsultationSession.topic_id == online.id)
    ).one()
    window.form = SessionForm.ONLINE
    window.starts_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    window.ends_at = window.starts_at + dt.timedelta(days=3)
    session.add(window)
    session.commit()
    shown = client.get(f"/my/topics/{online.id}", headers=ANONYMOUS)
    assert "网络协商窗口将于" in shown.text and "发表意见" not in shown.text
    early = client.post(
        f"/my/topics/{online.id}/opinions",
        data={"session_id": str(window.id), "content": "先提一条意见", "csrf_token": token},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert early.status_code == 409 and "届时方可提交意见" in early.text
    assert len(session.exec(select(Opinion)).all()) == before

    token = sign_in_as("chenjianguo")  # an approver sees every topic, answers for nobody
    read = client.get(f"/my/invitations/{mine.id}", headers=ANONYMOUS)
    assert read.status_code == 200 and "只读" in read.text and "提交回复" not in read.text
    refused = client.post(
        f"/my/invitations/{mine.id}",
        data={"accept": "no", "csrf_token": token},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "只有本人或协商办可以回复此邀请" in refused.text
