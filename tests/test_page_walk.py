"""One topic through all eight stages by pages only, on the same stack as `xieshang up`
(Prefect server, one process serving the API, the pages and every deployment) with a real
Chromium: each step done by the person whose step it is, signed in through /login in a browser
context of his own (administrator, approver, officer, member, resident), plus a resident's
anonymous proposal and his one-time rating link taken from the message the channel received;
at the end the public page shows the finished topic without a name or a phone number.

Only the cast (departments, people, accounts) is written straight into the case file, as
`xieshang user add` would; every action of the loop is a form in a page. Each stage's Prefect
run is watched on the office's topic page (reloaded until the run shows 已完成)."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from config.db import engine_for, session_scope
from config.settings import get_settings
from models import accounts
from models import people as ppl
from models.enums import (
    PARTICIPANT_ROLE_LABELS,  # the labels the office's page shows
    ParticipantRole,
    Role,
    Stage,
)
from runtime.demo import DEMO_PDF
from tests.conftest import empty_case_file, running_stack
from tests.pages.conftest import PASSWORD, launch_chromium, require_chromium, screenshot
from tests.receivers import HttpReceiver, Received

STAGE_SECONDS = 120  # how long one stage's run may take to show as finished on the page
MESSAGE_SECONDS = 30  # how long a message may take to reach the channel once its run is done
BEIJING = get_settings().tz
TITLE = "城南小区夜间施工噪声扰民"
LINK = re.compile(r"https?://[A-Za-z0-9.:\-\[\]]+/[A-Za-z0-9/_\-.~%]*")


@dataclass(frozen=True)
class Member:
    """One of the cast: who he is, how he signs in, how he could be identified on a page."""

    id: int
    name: str
    login: str
    phone: str


@pytest.fixture(scope="module")
def inbox() -> Iterator[HttpReceiver]:
    """The channel every message goes to (Apprise json://), so the walk reads what people get."""
    with HttpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def stack(
    prefect_server: str, inbox: HttpReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """(pages' address, case file) of a running stack on a fresh SQLite case file."""
    require_chromium()  # no browser: skip before paying for the stack
    base: Path = tmp_path_factory.mktemp("walk")
    with (
        empty_case_file("sqlite", base, "walk") as url,
        running_stack(base, url, apprise_url=inbox.url()) as running,
    ):
        try:
            yield running.api_url, running.settings.resolved_database_url
        finally:
            engine_for(running.settings.resolved_database_url).dispose()


@pytest.fixture(scope="module")
def cast(stack: tuple[str, str]) -> dict[str, Any]:
    """The people of the loop and their accounts, each with a phone number the public page
    must never show."""
    _, url = stack  # migrated by the stack as it started
    found: dict[str, Any] = {}
    with session_scope(engine_for(url)) as s:
        dept = ppl.create_department(s, ppl.DepartmentCreate(name="区住房和城乡建设局"))
        found["department_id"] = dept.id
        for key, name, role, phone in (
            ("admin", "王敏", Role.ADMINISTRATOR, "13800000001"),
            ("approver", "陈建国", Role.APPROVER, "13800000002"),
            ("officer", "李强", Role.OFFICER, "13800000003"),
            ("member", "孙立", Role.MEMBER, "13800000004"),
            ("resident", "张桂英", Role.RESIDENT, "13800000005"),
        ):
            person = ppl.create_person(
                s,
                ppl.PersonCreate(
                    name=name,
                    role=role,
                    phone=phone,
                    department_id=dept.id if role == Role.OFFICER else None,
                ),
            )
            login = f"walk-{key}"
            accounts.set_password(s, person.id or 0, login, PASSWORD)
            found[key] = Member(person.id or 0, name, login, phone)
    return found


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    yield from launch_chromium(tmp_path_factory.mktemp("chromium"))


class Walk:
    """The browser contexts of the walk (one per person, signed in on first need), the
    channel's messages and the waits, all by what a person sees."""

    def __init__(self, browser: Any, base_url: str, inbox: HttpReceiver) -> None:
        self.browser = browser
        self.base_url = base_url
        self.inbox = inbox
        self.tabs: dict[str, Any] = {}
        self.contexts: list[Any] = []

    def tab(self, key: str | None = None) -> Any:
        """The person's tab (a context of its own, cookies kept); None: a new anonymous one."""
        if key is not None and key in self.tabs:
            return self.tabs[key]
        context = self.browser.new_context(
            base_url=self.base_url, locale="zh-CN", viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        if key is not None:
            self.tabs[key] = page
        return page

    def open(self, who: Member, key: str, address: str) -> Any:
        """Open an address as the person: the first time the page sends him to /login, he
        signs in there and comes back to it."""
        page = self.tab(key)
        page.goto(address)
        if urlparse(page.url).path == "/login":
            page.get_by_label("登录名").fill(who.login)
            page.get_by_label("密码").fill(PASSWORD)
            page.get_by_role("button", name="登录").click()
            target = urlparse(address).path
            page.wait_for_url(lambda u: urlparse(u).path == target)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()

    def message(self, title: str, to: Member) -> Received:
        """The message with this title addressed to the person, once the channel has it."""
        deadline = time.monotonic() + MESSAGE_SECONDS
        while time.monotonic() < deadline:
            for r in list(self.inbox.log):
                if r.title.startswith(title) and r.body.split("：", 1)[0].find(to.name) >= 0:
                    return r
            time.sleep(0.2)
        raise AssertionError(f"{to.name} 未收到“{title}”：{self.inbox.titles()}")


def link(message: Received, path: str) -> str:
    """The address in a message whose path starts with `path`."""
    for found in LINK.findall(message.body):
        if urlparse(found).path.startswith(path):
            return str(found)
    raise AssertionError(f"消息中没有 {path} 链接：{message.body}")


def done(page: Any, flash: str) -> None:
    """The action went through: the page after the redirect says so (else: why not)."""
    from playwright.sync_api import expect

    try:
        expect(page.locator(".flash")).to_contain_text(flash, timeout=15_000)
    except AssertionError:
        errors = page.locator(".form-error, .field-error").all_inner_texts()
        raise AssertionError(f"未见“{flash}”（{page.url}）：{errors or page.title()}") from None


def wait_for_stage(office: Any, topic_id: int, stage: Stage) -> Any:
    """Reload the office's topic page until the stage's Prefect run shows as finished and the
    stage waits for people (or is done); a failed run fails at once."""
    address = f"/admin/topics/{topic_id}"
    line = office.locator(f".timeline .stage[data-stage={stage.value}]")
    deadline = time.monotonic() + STAGE_SECONDS
    while True:
        office.goto(address)
        run = line.locator(".stage-run")
        text = run.inner_text() if run.count() else ""
        if "失败" in text or "崩溃" in text or "已取消" in text:
            raise AssertionError(f"“{stage.label}”的流程运行未成功：{text}")
        state = line.get_attribute("class") or ""
        if "已完成" in text and ("state-waiting" in state or "state-done" in state):
            return line
        if time.monotonic() > deadline:
            raise AssertionError(f"“{stage.label}”在 {STAGE_SECONDS} 秒内未完成：{text or state}")
        office.wait_for_timeout(1000)


def start_stage(office: Any, topic_id: int, stage: Stage) -> Any:
    """The office starts the stage from the topic page, then watches its run there."""
    office.goto(f"/admin/topics/{topic_id}")
    office.locator("#start").get_by_role("button", name=f"启动“{stage.label}”").click()
    done(office, f"已启动“{stage.label}”环节")
    return wait_for_stage(office, topic_id, stage)


def beijing(moment: dt.datetime) -> str:
    """A `datetime-local` field's value (Beijing time, to the minute)."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def test_a_topic_walks_all_eight_stages_by_pages_only(  # type: ignore[no-untyped-def]
    stack, cast, inbox, chromium
):
    api_url, _ = stack
    admin, approver, officer = cast["admin"], cast["approver"], cast["officer"]
    member, resident = cast["member"], cast["resident"]
    today = dt.datetime.now(BEIJING).date()
    walk = Walk(chromium, api_url, inbox)
    try:
        _walk(walk, cast, admin, approver, officer, member, resident, today)
    finally:
        walk.close()


def _walk(  # type: ignore[no-untyped-def]
    walk: Walk, cast, admin, approver, officer, member, resident, today: dt.date
) -> None:
    from playwright.sync_api import expect

    # 确定议题 — a resident proposes on the public form, without an account.
    proposer = walk.tab()
    proposer.goto("/p/propose")
    proposer.get_by_label("议题名称").fill(TITLE)
    proposer.get_by_label("具体情况").fill(
        "小区旁工地连续数周在夜间 22 时后施工，噪声影响老人和学生休息，希望商量出施工时段和降噪办法。"
    )
    proposer.get_by_label("类别").fill("城市管理")
    proposer.get_by_role("button", name="提交议题建议").click()
    proposer.wait_for_url(re.compile(r"/p/propose/\d+/received$"))
    topic_id = int(urlparse(proposer.url).path.split("/")[3])

    # The office finds it on the board, opens it and starts the stage; the run screens it.
    office = walk.open(admin, "admin", "/admin")
    office.locator(".board-topic").filter(has_text=TITLE).get_by_role("link", name=TITLE).click()
    office.wait_for_url(re.compile(rf"/admin/topics/{topic_id}$"))
    line = start_stage(office, topic_id, Stage.TOPIC)
    assert "等待审定" in line.inner_text()

    # The approver approves it from his inbox.
    decide = walk.open(approver, "approver", "/approvals")
    decide.locator(".approval").filter(has_text=TITLE).get_by_role("link", name="审定").click()
    decide.get_by_label("审定意见").fill("同意列入协商计划")
    decide.get_by_role("button", name="同意", exact=True).click()
    done(decide, f"已同意议题“{TITLE}”")

    # 明确主体 — three sides (a resident, a CPPCC member, the department), invited by the run.
    office.goto(f"/admin/topics/{topic_id}")
    for who, role in (
        (resident, ParticipantRole.RESIDENT),
        (member, ParticipantRole.MEMBER),
        (officer, ParticipantRole.DEPARTMENT),
    ):
        form = office.locator("#participants form")
        form.get_by_label("参加人员").select_option(str(who.id))
        form.get_by_label("参加身份").select_option(role.value)
        form.get_by_role("button", name="添加").click()
        done(office, "已添加协商主体。")
    start_stage(office, topic_id, Stage.SUBJECT)
    # Each answers on his own page, from the link in his invitation (signing in first).
    for who, key in ((resident, "resident"), (member, "member"), (officer, "officer")):
        invitation = walk.message("【协商邀请】", who)
        page = walk.open(who, key, link(invitation, "/my/invitations/"))
        rsvp = page.locator("#rsvp")
        rsvp.get_by_label("参加", exact=True).check()
        rsvp.get_by_role("button", name="提交回复").click()
        done(page, "已回复邀请：参加")
    line = wait_for_stage(office, topic_id, Stage.SUBJECT)
    assert "state-done" in (line.get_attribute("class") or "")

    # 商前调研 — a field visit owned by the member; his findings, his summary, the office's review.
    form = office.locator("#research form")
    form.get_by_label("调研题目").fill("走访工地周边住户，了解夜间施工影响")
    form.get_by_label("调研方式").select_option("field_visit")
    form.get_by_label("调研责任人").select_option(str(member.id))
    form.get_by_label("成果提交日期").fill((today + dt.timedelta(days=14)).isoformat())
    form.get_by_role("button", name="安排").click()
    done(office, "已安排调研任务。")
    start_stage(office, topic_id, Stage.PRESTUDY)
    assigned = walk.message("【商前调研】", member)
    mine = walk.open(member, "member", link(assigned, "/my/research/"))
    mine.get_by_label("调研成果").fill(
        "走访 60 户，九成住户反映 22 时后施工噪声影响休息，希望限定施工时段。"
    )
    mine.get_by_role("button", name="提交调研成果").click()
    done(mine, "已提交调研成果")
    mine.goto(f"/my/topics/{topic_id}")
    summary = mine.locator("#summary")
    summary.get_by_label("调研报告").fill(
        "调研报告：走访 60 户，九成住户受夜间施工噪声影响；建议 22 时后禁止高噪声作业，设置隔音屏障并公示投诉电话。"
    )
    summary.get_by_role("button", name="提交调研报告").click()
    done(mine, "已提交调研报告，待协商办审核")
    office.goto(f"/admin/topics/{topic_id}")
    review = office.locator("#summary")
    review.get_by_label("审核结论").select_option("1")
    review.get_by_role("button", name="确认").click()
    done(office, "调研报告已审核通过")

    # 开展协商 — an online window open now: the member speaks on his page, the office records
    # the department's word, then concludes with one suggestion.
    form = office.locator("#session form")
    form.get_by_label("协商形式").select_option("online")
    now = dt.datetime.now(dt.UTC)
    form.get_by_label("开始时间").fill(beijing(now - dt.timedelta(minutes=1)))
    form.get_by_label("结束时间").fill(beijing(now + dt.timedelta(days=2)))
    form.get_by_role("button", name="安排").click()
    done(office, "已安排协商会。")
    start_stage(office, topic_id, Stage.SESSION)
    mine.goto(f"/my/topics/{topic_id}")
    mine.get_by_label("我的意见").fill(
        "建议 22 时至次日 6 时禁止高噪声作业，确需连续施工的提前公示并征得居民同意。"
    )
    mine.get_by_role("button", name="发表意见").click()
    done(mine, "已记录您的意见")
    office.goto(f"/admin/topics/{topic_id}")
    said = office.locator("#opinions")
    speaker = f"{officer.name}（{PARTICIPANT_ROLE_LABELS[ParticipantRole.DEPARTMENT]}）"
    said.get_by_label("发言人").select_option(label=speaker)
    said.get_by_label("意见内容").fill("住建局将把夜间施工许可与降噪措施挂钩，并加强夜间巡查。")
    said.get_by_label("属于共识意见").check()
    said.get_by_role("button", name="记录意见").click()
    done(office, "已记录意见。")
    close = office.locator("#conclude")
    close.get_by_label("已形成共识").check()
    close.get_by_label("小结").fill("各方同意限定夜间施工时段并落实降噪措施。")
    close.get_by_label("意见建议（每行一条）").fill("限定夜间施工时段，夜间施工许可与降噪措施挂钩")
    close.get_by_role("button", name="结束本轮").click()
    done(office, "本轮协商已形成共识")

    # 报送成果 — the run compiles the report; the approver approves it (adopting the suggestion).
    start_stage(office, topic_id, Stage.REPORT)
    decide.goto("/approvals")
    reports = decide.locator("section.approvals").filter(has_text="待审定协商成果报告")
    reports.locator(".approval").filter(has_text=TITLE).get_by_role("link", name="审定").click()
    decide.get_by_label("审定意见").fill("同意，抓紧落实")
    decide.get_by_role("button", name="同意", exact=True).click()
    done(decide, "采纳建议 1 / 1 条")

    # 转交办理 — one item for the officer's department; he signs for it from his message.
    office.goto(f"/admin/topics/{topic_id}")
    form = office.locator("#items form")
    form.get_by_label("对应建议").select_option(index=1)
    form.get_by_label("事项名称").fill("限定夜间施工时段并落实降噪措施")
    form.get_by_label("牵头单位").select_option(str(cast["department_id"]))
    form.get_by_label("责任人（联络员）").select_option(str(officer.id))
    deadline = today + dt.timedelta(days=40)
    form.get_by_label("整改期限").fill(deadline.isoformat())
    form.get_by_role("button", name="建立事项").click()
    done(office, "已建立整改事项。")
    start_stage(office, topic_id, Stage.TRANSFER)
    transfer = walk.message("【交办签收】", officer)
    desk = walk.open(officer, "officer", link(transfer, "/work/items/"))
    item_page = urlparse(desk.url).path
    item_id = int(item_page.rsplit("/", 1)[1])
    desk.locator("#acknowledge").get_by_role("button", name="签收").click()
    done(desk, "已签收该事项")
    line = wait_for_stage(office, topic_id, Stage.TRANSFER)
    assert "state-done" in (line.get_attribute("class") or "")

    # 落实整改 — plan, the office's review, progress, an evidence file, completion.
    start_stage(office, topic_id, Stage.IMPLEMENTATION)
    desk.goto(item_page)
    plan = desk.locator("#plan")
    plan.get_by_label("整改目标").fill("一个月内夜间施工投诉下降八成")
    plan.get_by_label("整改措施").fill("夜间施工许可附降噪条件；工地设隔音屏障；每周两次夜间巡查")
    plan.get_by_label("方案完成时限").fill((deadline - dt.timedelta(days=10)).isoformat())
    plan.get_by_role("button", name="提交方案").click()
    done(desk, "整改方案已提交")
    office.goto(f"/admin/items/{item_id}")
    check = office.locator("#review_plan")
    check.get_by_label("通过", exact=True).check()
    check.get_by_label("审核意见").fill("方案可行")
    check.get_by_role("button", name="提交审核意见").click()
    done(office, "方案已审核通过。")
    desk.goto(item_page)
    progress = desk.locator("#progress")
    progress.get_by_label("进展情况").fill("隔音屏障已安装，夜间巡查已开展")
    progress.get_by_label("整改进度（%）").fill("70")
    progress.get_by_role("button", name="报送进展").click()
    done(desk, "整改进展已报送。")
    evidence = desk.locator("#evidence")
    evidence.get_by_label("佐证材料").set_input_files(
        files=[{"name": "夜间施工巡查记录.pdf", "mimeType": "application/pdf", "buffer": DEMO_PDF}]
    )
    evidence.get_by_role("button", name="上传").click()
    done(desk, "佐证材料“夜间施工巡查记录.pdf”已上传。")
    assert desk.locator("#evidence .files").get_by_role("link", name="夜间施工巡查记录.pdf").count()
    finish = desk.locator("#complete")
    finish.get_by_label("办结情况").fill("夜间 22 时后已无高噪声作业，投诉下降九成")
    finish.get_by_role("button", name="办结").click()
    done(desk, "事项已办结")
    line = wait_for_stage(office, topic_id, Stage.IMPLEMENTATION)
    assert "state-done" in (line.get_attribute("class") or "")

    # 评估质效 — rating requests go out; the resident rates through his one-time link (no
    # sign-in), the member on his page; the office closes the assessment, public.
    start_stage(office, topic_id, Stage.ASSESSMENT)
    request = walk.message("【满意度评价】", resident)
    by_link = walk.tab()
    by_link.goto(link(request, "/act/"))
    assert resident.name in by_link.locator(".facts").inner_text()
    by_link.get_by_label("5 分（很满意）").check()
    by_link.get_by_label("意见建议（可不填）").fill("晚上终于能睡个好觉了")
    by_link.get_by_role("button", name="提交评价").click()
    expect(by_link.locator("h1")).to_have_text("评价整改成效：已办理")
    again = by_link.context.new_page()  # the link is spent: opening it again says so
    assert again.goto(link(request, "/act/")).status == 409
    rated = walk.message("【满意度评价】", member)
    mine = walk.open(member, "member", link(rated, "/my/topics/"))
    mine.locator("#rate").get_by_label("4 分（满意）").check()
    mine.locator("#rate").get_by_role("button", name="提交评价").click()
    done(mine, "已收到您的评价，谢谢")
    office.goto(f"/admin/topics/{topic_id}")
    closing = office.locator("#assessment")
    closing.get_by_label("评估结论").fill("夜间施工噪声问题已解决，群众满意。")
    closing.get_by_role("button", name="办结评估").click()
    done(office, "评估已办结，议题闭环完成。")
    assert office.locator(".timeline .stage.state-done").count() == 8
    runs = office.locator(".timeline .stage-run").all_inner_texts()
    assert len(runs) == 8 and all("已完成" in r for r in runs)
    screenshot(office, "walk-timeline")

    # The public page: the finished topic, its item and its ratings, and nobody's name or phone.
    public = walk.tab()
    public.goto(f"/p/topics/{topic_id}")
    assert public.get_by_role("heading", name=TITLE).is_visible()
    assert public.locator(".meta .badge").first.inner_text() == "已办结"
    assert public.locator(".timeline .stage.state-done").count() == 8
    assert "夜间施工噪声问题已解决" in public.locator(".result").inner_text()
    assert "群众评价 2 份，满意 2 份" in public.locator(".satisfaction").inner_text()
    assert "牵头单位：区住房和城乡建设局" in public.locator(".items").inner_text()
    everyone = [cast[k] for k in ("admin", "approver", "officer", "member", "resident")]
    assert not [p.name for p in everyone if p.name in public.content()]
    assert not [p.phone for p in everyone if p.phone in public.content()]
