"""The research summary (调研报告) on the member's topic page, over HTTP: the member who did the
research writes it once every required finding is in, the office reviews it; a returned one
shows what the office asked for and is revised in the same form; nobody else gets the form."""

from __future__ import annotations

import re

from sqlmodel import select

from models import prestudy
from models.enums import Stage
from models.tables import Notification, ResearchSummary, ResearchTask
from tests.conftest import ANONYMOUS
from tests.pages.conftest import sign_in_client

SUMMARY = "调研报告：走访 120 户，九成住户支持加装电梯，低层住户关心采光与补偿，建议先行试点。"


def test_the_member_who_researched_writes_the_summary_the_office_reviews(client, loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    topic = loop.advance(loop.topic(), to=Stage.PRESTUDY, start=True)
    task = session.exec(select(ResearchTask).where(ResearchTask.topic_id == topic.id)).one()
    assert task.owner_id == c.member.id
    page = f"/my/topics/{topic.id}"
    post = f"{page}/research-summary"
    # A participant who did no research for the topic sees no summary and cannot write one.
    client.cookies.clear()
    csrf = sign_in_client(client, session, c.resident, "zhanggy")
    other = client.get(page, headers=ANONYMOUS)
    assert other.status_code == 200 and 'id="summary"' not in other.text
    refused = client.post(post, data={"content": SUMMARY, "csrf_token": csrf}, headers=ANONYMOUS)
    assert refused.status_code == 403 and "调研责任人" in refused.text
    client.cookies.clear()
    csrf = sign_in_client(client, session, c.member, "sunli")

    shown = client.get(page, headers=ANONYMOUS)
    assert 'id="summary"' in shown.text and "尚有 1 项必做调研任务未提交成果" in shown.text
    assert f'action="{post}"' not in shown.text
    early = client.post(post, data={"content": SUMMARY, "csrf_token": csrf}, headers=ANONYMOUS)
    assert early.status_code == 409 and "不调研不协商" in early.text

    done = client.post(
        f"/my/research/{task.id}",
        data={"findings": "走访 120 户，多数支持", "csrf_token": csrf},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert done.status_code == 303
    shown = client.get(page, headers=ANONYMOUS)
    assert f'action="{post}"' in shown.text and "提交调研报告" in shown.text

    short = client.post(post, data={"content": "太短了", "csrf_token": csrf}, headers=ANONYMOUS)
    assert short.status_code == 422
    assert (
        '<p class="field-error" id="e-summary">请填写调研报告（不少于 20 个字）</p>' in short.text
    )
    assert ">太短了</textarea>" in short.text
    assert session.exec(select(ResearchSummary)).first() is None

    ok = client.post(
        post,
        data={"content": SUMMARY, "csrf_token": csrf},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == page
    written = prestudy.summary_of(session, topic.id)
    assert written is not None and written.submitted_by_id == c.member.id
    assert session.exec(
        select(Notification).where(Notification.template == "research_summary_submitted")
    ).first()

    prestudy.review_summary(
        session,
        topic.id,
        prestudy.SummaryReview(accepted=False, note="请补充低层住户的补偿意见"),
        by=c.admin.id,
    )
    session.commit()
    shown = client.get(page, headers=ANONYMOUS)
    assert "已退回修改" in shown.text and "请补充低层住户的补偿意见" in shown.text
    assert re.search(r"<textarea[^>]*>" + re.escape(SUMMARY) + "</textarea>", shown.text)
    again = client.post(
        post,
        data={"content": SUMMARY + "低层住户要求按面积补偿。", "csrf_token": csrf},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert again.status_code == 303
    prestudy.review_summary(session, topic.id, prestudy.SummaryReview(accepted=True), by=c.admin.id)
    session.commit()
    shown = client.get(page, headers=ANONYMOUS)
    assert "已通过协商办审核" in shown.text and f'action="{post}"' not in shown.text
