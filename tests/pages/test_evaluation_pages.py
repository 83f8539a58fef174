"""The evaluator's part by pages, in a real browser, from the link of his assignment message:
我的评估 lists the topic; the scoring form shows the rubric's guidance; a low score without its
reason is refused beside the criterion (what was typed kept); the evaluation is submitted with
a one-time message and is final. Over HTTP: the form carries the session's CSRF token and
another expert is refused; the office assigns and withdraws (with a reason) on its topic
page."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlmodel import select

from config.db import engine_for, migrate, session_scope
from models import accounts, people, rubric
from models import evaluation as evaluations
from models.enums import Role, Stage
from models.tables import Evaluation, Notification
from tests.conftest import ANONYMOUS
from tests.factories import LoopBuilder
from tests.pages.conftest import PASSWORD, sign_in, sign_in_client
from tests.pages.test_admin_pages import prefect_down  # noqa: F401  (a fixture)

LOGIN = "wugong"
TITLE = "老旧小区加装电梯"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A topic in its assessment, its third-party evaluation assigned to the expert 吴工."""
    url = f"sqlite:///{tmp_path_factory.mktemp('evaluation') / 'case.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as s:
        loop = LoopBuilder(s)
        topic = loop.advance(loop.topic(title=TITLE), to=Stage.ASSESSMENT, start=True)
        expert = loop.cast.expert
        e = evaluations.assign(
            s, topic.id, evaluations.AssignIn(evaluator_id=expert.id), by=loop.cast.admin.id
        )
        accounts.set_password(s, expert.id, LOGIN, PASSWORD)
        s.flush()
        note = s.exec(
            select(Notification).where(Notification.template == "evaluation_request")
        ).one()
        (path,) = re.findall(r"https?://[^\s/]+(/my/evaluations/\d+)", note.body)
        found = {"url": url, "link": path, "evaluation_id": e.id, "topic_id": topic.id}
    engine_for(url).dispose()
    return found


def test_an_expert_scores_the_outcome_by_the_page(page, case):  # type: ignore[no-untyped-def]
    page.goto(case["link"])
    assert urlparse(page.url).path == "/login"
    sign_in(page, LOGIN)
    page.wait_for_url(re.compile(re.escape(case["link"]) + "$"))
    assert page.get_by_role("heading", name=f"第三方评估：{TITLE}").is_visible()
    form = page.locator("#score")
    for c in rubric.CRITERIA:  # each criterion with its weight and guidance
        box = form.locator(f'fieldset[data-key="{c.key}"]')
        assert box.locator("legend").inner_text() == f"{c.label}（权重 {c.weight}%）"
        assert c.guidance in box.inner_text()
        box.get_by_label("评分").select_option(str(4))
    form.locator('fieldset[data-key="mechanism"]').get_by_label("评分").select_option("1")
    form.get_by_label("总体评价意见").fill("电梯已加装并投入使用，群众认可。")
    form.get_by_role("button", name="提交评估").click()
    # Refused beside the criterion; the rest of what was typed is kept.
    err = page.locator('fieldset[data-key="mechanism"] .field-error')
    assert err.inner_text() == "“长效机制建立”评为 1 分（2 分及以下），请写明理由"
    assert page.get_by_label("总体评价意见").input_value() == "电梯已加装并投入使用，群众认可。"
    kept = page.locator('fieldset[data-key="timeliness"]').get_by_label("评分").input_value()
    assert kept == "4"
    mechanism = page.locator('fieldset[data-key="mechanism"]')
    mechanism.get_by_label("理由（2 分及以下必填）").fill("尚未形成日常维保制度")
    page.locator("#score").get_by_role("button", name="提交评估").click()
    assert page.locator(".flash").inner_text() == "评估已提交，谢谢您的独立评估"
    # 25·4/5 + 20·4/5 + 20·4/5 + 20·1/5 + 15·4/5 = 20 + 16 + 16 + 4 + 12 = 68
    assert "总分 68 分（一般）" in page.locator("#result").inner_text()
    assert page.locator("#score").count() == 0  # final: no form any more

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="我的评估").click()
    page.wait_for_url(re.compile(r"/my/evaluations$"))
    assert page.locator(".my-evaluation .obligation").all_inner_texts() == [TITLE]
    assert page.locator(".my-evaluation .status").inner_text() == "已提交"


def test_the_form_needs_its_csrf_token_and_its_own_evaluator(client, loop, session):  # type: ignore[no-untyped-def]
    topic = loop.advance(loop.topic(title=TITLE), to=Stage.ASSESSMENT, start=True)
    c = loop.cast
    e = evaluations.assign(
        session, topic.id, evaluations.AssignIn(evaluator_id=c.expert.id), by=c.admin.id
    )
    other = people.create_person(session, people.PersonCreate(name="郑专家", role=Role.EXPERT))
    session.commit()
    token = sign_in_client(client, session, c.expert, LOGIN)
    form = {f"scores.{k.key}": "5" for k in rubric.CRITERIA} | {"comment": "很好"}
    url = f"/my/evaluations/{e.id}"
    page = client.get(url, headers=ANONYMOUS)
    assert page.status_code == 200 and f'value="{token}"' in page.text
    no_token = client.post(url, data=form, headers=ANONYMOUS, follow_redirects=False)
    assert no_token.status_code == 403
    assert session.get(Evaluation, e.id).submitted_at is None
    done = client.post(
        url, data=form | {"csrf_token": token}, headers=ANONYMOUS, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == url
    session.expire_all()
    assert session.get(Evaluation, e.id).overall == 100
    again = client.post(url, data=form | {"csrf_token": token}, headers=ANONYMOUS)
    assert again.status_code == 409 and "不能再次提交" in again.text

    client.cookies.clear()
    sign_in_client(client, session, other, "zheng")
    assert client.get(url, headers=ANONYMOUS).status_code == 403


@pytest.mark.usefixtures("prefect_down")
def test_the_office_assigns_and_withdraws_on_its_topic_page(client, loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    topic = loop.advance(loop.topic(title=TITLE), to=Stage.ASSESSMENT, start=True)
    session.commit()
    csrf = sign_in_client(client, session, c.admin, "wangmin")
    address = f"/admin/topics/{topic.id}"

    def post(path: str, **data: str):  # type: ignore[no-untyped-def]
        return client.post(
            f"{address}{path}",
            data={"csrf_token": csrf, **data},
            headers=ANONYMOUS,
            follow_redirects=False,
        )

    shown = client.get(address, headers=ANONYMOUS)
    assert shown.status_code == 200 and "指派第三方评估" in shown.text
    assert f'<option value="{c.expert.id}">吴工（专家）</option>' in shown.text
    assert "孙立" not in shown.text.split('id="evaluations"')[1].split("</form>")[0]
    member = post("/evaluations", evaluator_id=str(c.member.id))
    assert member.status_code == 422 and "只能指派专家或监督员" in member.text
    assert post("/evaluations", evaluator_id=str(c.expert.id)).status_code == 303
    listed = client.get(address, headers=ANONYMOUS).text
    assert "吴工" in listed and "待评分" in listed
    (e,) = session.exec(select(Evaluation).where(Evaluation.topic_id == topic.id)).all()
    blank = post(f"/evaluations/{e.id}/withdraw", reason=" ")
    assert blank.status_code == 422 and "撤回理由" in blank.text
    assert post(f"/evaluations/{e.id}/withdraw", reason="专家因病无法评估").status_code == 303
    session.expire_all()
    assert session.get(Evaluation, e.id).withdraw_reason == "专家因病无法评估"
    assert "已撤回：专家因病无法评估" in client.get(address, headers=ANONYMOUS).text
