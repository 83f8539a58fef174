"""The consultation office's pages: 议题总览 and a topic's page with the loop's actions.

In a real browser against the real stack (a Prefect server and the process that serves the API,
the pages and every deployment): an administrator opens the board, opens a topic, adds
participants by forms, starts a stage and sees it move, with its Prefect run linked; a stage
whose gate is not met is refused with its reason on the page; an officer is told who may open
the board. Over HTTP: every action of the loop is a form calling the API's operation (nothing
is half-written on a refusal, what was typed is kept) and the topic page still answers when
Prefect does not."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from sqlmodel import Session, select

from config.db import engine_for, migrate, session_scope
from config.settings import Settings, get_settings
from models import accounts, assessment, prestudy
from models.case import ROLE_NAMES
from models.enums import ItemStatus, Role, Rsvp, Stage, StageState, TopicStatus
from models.tables import Participant, RectificationItem, ResearchTask, Topic
from tests.conftest import ANONYMOUS, _free_port
from tests.factories import LoopBuilder
from tests.pages.conftest import PASSWORD, Server, screenshot, sign_in

LOGINS = {"admin": "wangmin", "officer": "liqiang"}
TOPIC = "菜市场周边停车难"
TRANSFER_TOPIC = "老旧小区加装电梯"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One topic approved and waiting for its participants, one whose report is approved and
    whose adopted suggestions still need their items."""
    url = f"sqlite:///{tmp_path_factory.mktemp('admin') / 'case.db'}"
    migrate(url)
    with session_scope(engine_for(url)) as s:
        loop = LoopBuilder(s)
        approved = loop.topic(title=TOPIC)
        loop.run_stage(approved, Stage.TOPIC)
        loop.finish(approved, Stage.TOPIC)
        reported = loop.topic(title=TRANSFER_TOPIC)
        loop.advance(reported, to=Stage.REPORT, start=True)
        loop.finish(reported, Stage.REPORT)
        for role, login in LOGINS.items():
            accounts.set_password(s, getattr(loop.cast, role).id, login, PASSWORD)
        found = {
            "url": url,
            "topic_id": approved.id,
            "transfer_id": reported.id,
            "resident": f"{loop.cast.resident.name}（{ROLE_NAMES[Role.RESIDENT]}）",
            "officer": f"{loop.cast.officer.name}（{ROLE_NAMES[Role.OFFICER]}·区住建局）",
            "department": "区住建局",
        }
    engine_for(url).dispose()
    return found


@pytest.fixture(scope="module")
def server(
    case: dict[str, Any], prefect_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """The whole stack on the module's case file: stages started from the page really run."""
    from runtime.stack import Stack

    base: Path = tmp_path_factory.mktemp("admin-stack")
    defaults = get_settings()
    settings = Settings(
        data_dir=base / "data",
        database_url=case["url"],
        api_port=_free_port(),
        prefect_port=defaults.prefect_port,
        prefect_api_url=defaults.prefect_api_url,
        follow_up_interval_seconds=3600,
    )
    stack = Stack(settings, log_dir=base / "logs")
    stack.start_prefect()
    stack.start_app()
    try:
        yield Server(stack.api_url, case["url"])
    finally:
        stack.stop()


def _topic_state(url: str, topic_id: int) -> tuple[Stage, StageState]:
    with session_scope(engine_for(url)) as s:
        topic = s.get(Topic, topic_id)
        assert topic is not None
        return topic.stage, topic.stage_state


def test_an_administrator_runs_a_topic_from_the_board(page, case, server):  # type: ignore[no-untyped-def]
    page.goto("/admin")
    assert urlparse(page.url).path == "/login"
    sign_in(page, LOGINS["admin"])
    page.wait_for_url(re.compile(r"/admin$"))
    assert page.get_by_role("heading", name="议题总览", exact=True).is_visible()
    assert page.locator("nav a[aria-current=page]").first.inner_text() == "议题总览"
    line = page.locator(".board-topic").filter(has_text=TOPIC)
    assert "等待协商办启动“明确主体”环节" in line.locator(".waiting").inner_text()
    line.get_by_role("link", name=TOPIC).click()
    page.wait_for_url(re.compile(rf"/admin/topics/{case['topic_id']}$"))
    assert page.get_by_role("heading", name=TOPIC).is_visible()
    assert page.locator(".timeline .stage").count() == 8
    assert page.locator(".timeline .stage.state-done").count() == 1  # 确定议题

    # The gate refuses: nobody takes part yet. The reason is on the page, nothing started.
    start = page.locator("#start")
    assert "尚未确定协商主体" in start.locator(".hint").inner_text()
    start.get_by_role("button", name="启动“明确主体”").click()
    assert "尚未确定协商主体，请先添加参加人员" in page.locator("#start .form-error").inner_text()
    assert _topic_state(server.database_url, case["topic_id"]) == (Stage.TOPIC, StageState.DONE)

    # Participants by forms: a resident, then the department that will act.
    form = page.locator("#participants form")
    form.get_by_label("参加人员").select_option(label=case["resident"])
    form.get_by_label("参加身份").select_option("resident")
    form.get_by_role("button", name="添加").click()
    assert page.locator(".flash").inner_text() == "已添加协商主体。"
    form = page.locator("#participants form")
    form.get_by_label("参加人员").select_option(label=case["officer"])
    form.get_by_label("参加身份").select_option("department")
    form.get_by_role("button", name="添加").click()
    rows = page.locator("#participants tbody tr")
    assert rows.count() == 2 and "待回复" in rows.first.inner_text()

    # Start the stage: its flow run invites them, and the timeline shows it waiting.
    page.locator("#start").get_by_role("button", name="启动“明确主体”").click()
    assert "已启动“明确主体”环节" in page.locator(".flash").inner_text()
    subject = page.locator(".timeline .stage[data-stage=subject]")
    run_link = subject.locator(".stage-run a")
    assert run_link.get_attribute("href").startswith(server_ui(server))  # type: ignore[union-attr]
    for _ in range(60):
        if _topic_state(server.database_url, case["topic_id"])[1] == StageState.WAITING:
            break
        page.wait_for_timeout(1000)
    page.reload()
    assert "等待办理" in subject.locator(".stage-state").inner_text()
    assert "邀请回复未齐" in subject.locator(".stage-wait").inner_text()
    assert page.locator("#participants tbody tr").first.locator("td").nth(3).inner_text() != "—"
    screenshot(page, "admin-topic")

    # The board now says the topic waits for replies.
    page.goto("/admin?stage=subject")
    line = page.locator(".board-topic").filter(has_text=TOPIC)
    assert "回复协商邀请（2 项）" in line.locator(".waiting").inner_text()
    page.goto("/admin")
    screenshot(page, "admin-board")


def server_ui(server: Server) -> str:
    """The Prefect UI the stack's runs are shown in."""
    return get_settings().resolved_prefect_api_url.removesuffix("/api")


def test_an_administrator_creates_an_item_and_a_wrong_deadline_keeps_the_form(page, case, server):  # type: ignore[no-untyped-def]
    page.goto(f"/admin/topics/{case['transfer_id']}")
    sign_in(page, LOGINS["admin"])
    page.wait_for_url(re.compile(rf"/admin/topics/{case['transfer_id']}$"))
    form = page.locator("#items form")
    form.get_by_label("对应建议").select_option(index=1)
    form.get_by_label("事项名称").fill("落实加装电梯补贴")
    form.get_by_label("牵头单位").select_option(label=case["department"])
    form.get_by_label("责任人（联络员）").select_option(label=case["officer"])
    form.get_by_role("button", name="建立事项").click()
    assert page.locator("#items .field-error").inner_text() == "请填写整改期限"
    assert page.locator("#items form").get_by_label("事项名称").input_value() == "落实加装电梯补贴"
    due = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    page.locator("#items form").get_by_label("整改期限").fill(due)
    page.locator("#items form").get_by_role("button", name="建立事项").click()
    assert page.locator(".flash").inner_text() == "已建立整改事项。"
    line = page.locator("#items .item").filter(has_text="落实加装电梯补贴")
    assert case["department"] in line.inner_text()
    assert re.search(r"还剩 \d+ 个工作日", line.locator(".time-left").inner_text())
    with session_scope(engine_for(server.database_url)) as s:
        item = s.exec(
            select(RectificationItem).where(RectificationItem.title == "落实加装电梯补贴")
        ).one()
        assert item.status == ItemStatus.DRAFT and item.topic_id == case["transfer_id"]


def test_an_officer_is_told_who_may_open_the_board(page, case, server):  # type: ignore[no-untyped-def]
    page.goto("/admin")
    sign_in(page, LOGINS["officer"])
    page.wait_for_url(re.compile(r"/admin$"))
    answer = page.reload()
    assert answer is not None and answer.status == 403
    assert page.get_by_role("heading", name="无权办理").is_visible()
    assert "可办理的是：协商办工作人员" in page.locator(".lead").inner_text()
    assert page.locator("nav").get_by_role("link", name="议题总览").count() == 0
    topic = page.goto(f"/admin/topics/{case['topic_id']}")
    assert topic is not None and topic.status == 403


def _signed_in(client, session: Session, person, login: str) -> str:  # type: ignore[no-untyped-def]
    accounts.set_password(session, person.id, login, PASSWORD)
    session.commit()
    r = client.post(
        "/login",
        data={"login": login, "password": PASSWORD, "next": "/admin"},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return client.cookies["xs_csrf"]


@pytest.fixture
def prefect_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's Prefect client pointed at an address where nothing answers (whatever
    server other tests of the session started)."""
    import prefect.context
    from prefect.settings import PREFECT_API_URL

    current = prefect.context.GLOBAL_SETTINGS_CONTEXT
    down = prefect.context.SettingsContext(
        profile=current.profile,
        settings=current.settings.copy_with_update(
            updates={PREFECT_API_URL: f"http://127.0.0.1:{_free_port()}/api"}
        ),
    )
    monkeypatch.setattr(prefect.context, "GLOBAL_SETTINGS_CONTEXT", down)


def test_the_forms_call_the_operations_and_the_page_answers_without_prefect(  # type: ignore[no-untyped-def]
    client, loop, session: Session, prefect_down: None
):
    topic = loop.topic(title=TOPIC)
    loop.run_stage(topic, Stage.TOPIC)
    loop.finish(topic, Stage.TOPIC)
    session.commit()
    csrf = _signed_in(client, session, loop.cast.admin, "wangmin")
    address = f"/admin/topics/{topic.id}"

    shown = client.get(address, headers=ANONYMOUS)
    assert shown.status_code == 200 and "流程引擎（Prefect）暂时无法访问" in shown.text
    assert "尚未确定协商主体" in shown.text

    no_token = client.post(f"{address}/participants", data={"person_id": "1"}, headers=ANONYMOUS)
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    unchosen = client.post(
        f"{address}/participants",
        data={"csrf_token": csrf, "person_id": str(loop.cast.resident.id), "role": ""},
        headers=ANONYMOUS,
    )
    assert unchosen.status_code == 422 and "请选择参加身份" in unchosen.text
    added = client.post(
        f"{address}/participants",
        data={"csrf_token": csrf, "person_id": str(loop.cast.resident.id), "role": "resident"},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == f"{address}#participants"
    twice = client.post(
        f"{address}/participants",
        data={"csrf_token": csrf, "person_id": str(loop.cast.resident.id), "role": "resident"},
        headers=ANONYMOUS,
    )
    assert twice.status_code == 409 and "已在协商主体名单中" in twice.text
    assert 'value="resident" selected' in twice.text  # what was chosen is kept
    session.expire_all()
    invited = session.exec(select(Participant).where(Participant.topic_id == topic.id)).all()
    assert [(p.person_id, p.rsvp) for p in invited] == [(loop.cast.resident.id, Rsvp.PENDING)]

    refused = client.post(f"{address}/stages/subject", data={"csrf_token": csrf}, headers=ANONYMOUS)
    assert refused.status_code == 409
    assert "协商主体中没有党委政府或职能部门代表" in refused.text
    session.expire_all()
    assert session.get(Topic, topic.id).stage == Stage.TOPIC  # type: ignore[union-attr]


def test_every_action_of_the_loop_is_a_form_of_the_topic_page(  # type: ignore[no-untyped-def]
    client, loop, session: Session, prefect_down: None
):
    """Research, a session with its opinions and conclusion, the report, the items and the
    assessment, each posted as the page's form; the stages run as their flows would."""
    c = loop.cast
    topic = loop.advance(loop.topic(title=TOPIC), to=Stage.SUBJECT, start=True)
    loop.finish(topic, Stage.SUBJECT)
    session.commit()
    csrf = _signed_in(client, session, c.admin, "wangmin")
    address = f"/admin/topics/{topic.id}"

    def post(path: str, **data: Any):  # type: ignore[no-untyped-def]
        return client.post(
            f"{address}{path}",
            data={"csrf_token": csrf, **data},
            headers=ANONYMOUS,
            follow_redirects=False,
        )

    due = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    task = {"title": "入户走访", "method": "field_visit", "owner_id": str(c.member.id)}
    missing = post("/research-tasks", **task)
    assert missing.status_code == 422 and "请填写成果提交日期" in missing.text
    assert 'value="入户走访"' in missing.text
    assert post("/research-tasks", **task, due_date=due).status_code == 303
    loop.run_stage(topic, Stage.PRESTUDY)
    session.commit()
    early = post("/research-summary", content="调研报告：走访 120 户，多数住户支持加装电梯。")
    assert early.status_code == 409 and "必做调研任务未提交成果" in early.text
    for t in session.exec(select(ResearchTask).where(ResearchTask.topic_id == topic.id)):
        prestudy.submit_findings(
            session, t.id, prestudy.FindingsIn(findings="走访 120 户"), by=t.owner_id
        )
    session.commit()
    summary = "调研报告：走访 120 户，多数住户支持加装电梯。"
    assert post("/research-summary", content=summary).status_code == 303
    unsaid = post("/research-summary/review", accepted="0", note="")
    assert unsaid.status_code == 422 and "写明需要补充或修改的内容" in unsaid.text
    assert post("/research-summary/review", accepted="1").status_code == 303
    session.expire_all()
    assert session.get(Topic, topic.id).stage_state == StageState.DONE  # type: ignore[union-attr]

    starts = (dt.datetime.now() + dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    nowhere = post("/sessions", form="on_site", starts_at=starts)
    assert nowhere.status_code == 422 and "线下协商须填写地点" in nowhere.text
    assert (
        post("/sessions", form="on_site", starts_at=starts, place="社区议事厅").status_code == 303
    )
    loop.run_stage(topic, Stage.SESSION)
    session.commit()
    session.expire_all()
    from models.tables import ConsultationSession, Opinion, Report, Suggestion

    meeting = session.exec(
        select(ConsultationSession).where(ConsultationSession.topic_id == topic.id)
    ).one()
    resident = session.exec(
        select(Participant).where(
            Participant.topic_id == topic.id, Participant.person_id == c.resident.id
        )
    ).one()
    said = post(
        f"/sessions/{meeting.id}/opinions",
        participant_id=str(resident.id),
        content="希望加装电梯给予补贴",
        consensus="1",
    )
    assert said.status_code == 303
    opinion = session.exec(select(Opinion).where(Opinion.session_id == meeting.id)).one()
    empty = post(f"/sessions/{meeting.id}/conclude", consensus_reached="1", summary="同意补贴")
    assert empty.status_code == 422 and "形成共识时须列出至少一条意见建议" in empty.text
    unminuted = post(
        f"/sessions/{meeting.id}/conclude",
        consensus_reached="1",
        summary="同意补贴",
        suggestions="落实加装电梯补贴",
        opinion_ids=[str(opinion.id)],
    )
    assert unminuted.status_code == 422 and "现场协商结束时须填写会议纪要" in unminuted.text
    concluded = client.post(
        f"{address}/sessions/{meeting.id}/conclude",
        data={
            "csrf_token": csrf,
            "consensus_reached": "1",
            "summary": "同意补贴",
            "minutes": "会议纪要：居民代表、住建局参加，同意落实补贴并简化审批。",
            "suggestions": "落实加装电梯补贴\n简化审批流程\n",
            "opinion_ids": [str(opinion.id)],
        },
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert concluded.status_code == 303
    suggestions = session.exec(select(Suggestion).where(Suggestion.topic_id == topic.id)).all()
    assert [s.content for s in suggestions] == ["落实加装电梯补贴", "简化审批流程"]
    assert all(s.opinion_ids == [opinion.id] for s in suggestions)

    loop.run_stage(topic, Stage.REPORT)
    session.commit()
    edited = post(
        "/report", title="关于加装电梯的协商成果报告", content="经协商，建议落实补贴并简化审批。"
    )
    assert edited.status_code == 303
    session.expire_all()
    report = session.exec(select(Report).where(Report.topic_id == topic.id)).one()
    assert report.title == "关于加装电梯的协商成果报告"
    loop.finish(topic, Stage.REPORT)
    session.commit()

    deadline = (dt.date.today() + dt.timedelta(days=40)).isoformat()
    for s in suggestions:
        made = post(
            "/items",
            suggestion_id=str(s.id),
            title=s.content,
            lead_department_id=str(c.dept_id),
            officer_id=str(c.officer.id),
            deadline=deadline,
        )
        assert made.status_code == 303, made.text
    for stage in (Stage.TRANSFER, Stage.IMPLEMENTATION):
        loop.run_stage(topic, stage)
        loop.finish(topic, stage)
    loop.run_stage(topic, Stage.ASSESSMENT)
    session.commit()
    unrated = post("/assessment", summary="两项整改均已完成，群众满意", public="1")
    assert unrated.status_code == 409 and "尚无任何满意度评价，不能办结评估" in unrated.text
    assessment.rate(session, topic.id, assessment.RatingIn(score=5), by=c.resident.id)
    session.commit()
    closed = post("/assessment", summary="两项整改均已完成，群众满意", public="1")
    assert closed.status_code == 303
    session.expire_all()
    assert session.get(Topic, topic.id).status == TopicStatus.CLOSED  # type: ignore[union-attr]
    shown = client.get(address, headers=ANONYMOUS)
    assert shown.status_code == 200 and "两项整改均已完成，群众满意" in shown.text
    assert shown.text.count("state-done") == 8


def test_the_office_confirms_the_screening_on_the_topic_page(  # type: ignore[no-untyped-def]
    client, loop, session: Session, prefect_down: None
):
    """初筛 by form: the hints shown with why, an admission against them refused without a
    justification (what was typed kept), the exclusion on the hinted rule taken."""
    topic = loop.topic(title="邻里宅基地纠纷", description="一方已向区法院起诉")
    loop.run_stage(topic, Stage.TOPIC)
    session.commit()
    csrf = _signed_in(client, session, loop.cast.admin, "wangmin")
    address = f"/admin/topics/{topic.id}"
    shown = client.get(address, headers=ANONYMOUS)
    assert shown.status_code == 200 and "确认初筛" in shown.text
    assert "可能属于“涉法涉诉不协商”" in shown.text and "“起诉”" in shown.text

    def post(**data: str):  # type: ignore[no-untyped-def]
        return client.post(
            f"{address}/screening",
            data={"csrf_token": csrf, **data},
            headers=ANONYMOUS,
            follow_redirects=False,
        )

    unjustified = post(decision="admit", justification="")
    assert unjustified.status_code == 422 and "写明理由" in unjustified.text
    assert 'value="admit" selected' in unjustified.text
    excluded = post(decision="exclude", rule="litigation")
    assert excluded.status_code == 303, excluded.text
    session.expire_all()
    assert session.get(Topic, topic.id).status == TopicStatus.SCREENED_OUT  # type: ignore[union-attr]
    after = client.get(address, headers=ANONYMOUS)
    assert "协商办已决定：不予协商（涉法涉诉不协商）" in after.text
