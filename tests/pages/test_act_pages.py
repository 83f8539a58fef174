"""Every link of every message opens a page, in a real browser, for the person it was sent
to: the messages of a whole loop (every template, tests/notify/test_every_template.py's walk)
are read from the case file, each link is opened signed in as its recipient (sign-in first,
then back to the link) or, for a one-time link, without an account; each answers a page of
the app, not JSON and not 404. A resident then rates through her one-time link's page, and the
link's second use is refused with a page that says so."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from typing import Any
from urllib.parse import urlparse

import pytest
import time_machine
from sqlmodel import Session, col, select

from config.db import engine_for, migrate
from config.links import ADDRESS
from models import accounts
from models.base import utcnow
from models.enums import Role
from models.tables import (
    ActionLink,
    Department,
    Notification,
    Person,
    Rating,
    RectificationItem,
)
from tests.notify.test_every_template import _walk
from tests.pages.conftest import PASSWORD, sign_in

# Pages of the officers' items: the office and approvers read messages that point to the
# officer's page, which only the department may open (the office's own item page is another
# change's); for them, as for an escalation that points to the page of the person chased, the
# link answers the page that says who may act there.
DEPARTMENT_PAGE = re.compile(r"^/work/items/(\d+)$")


class _Clock:
    """The walk moves a time machine; this one outside a test function's fixture."""

    def __init__(self) -> None:
        self.traveller = time_machine.travel(dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC), tick=False)
        self.coordinates = self.traveller.start()

    def move_to(self, when: dt.datetime, tick: bool = False) -> None:
        self.coordinates.move_to(when, tick=tick)


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A whole loop's messages; everyone has a password. The walk ran in the spring: its
    one-time links still open are renewed as if their messages were sent today."""
    url = f"sqlite:///{tmp_path_factory.mktemp('act') / 'case.db'}"
    migrate(url)
    clock = _Clock()
    try:
        with Session(engine_for(url)) as s:
            _walk(s, clock)
            s.commit()
    finally:
        clock.traveller.stop()
    with Session(engine_for(url)) as s:
        people = list(s.exec(select(Person)))
        for p in people:
            accounts.set_password(s, p.id, f"user{p.id}", PASSWORD)  # type: ignore[arg-type]
        for link in s.exec(select(ActionLink).where(col(ActionLink.used_at).is_(None))):
            link.expires_at = utcnow() + dt.timedelta(days=14)
            s.add(link)
        heads = {p.department_id: p for p in people if p.role == Role.DEPARTMENT_HEAD}
        officers = {p.department_id: p for p in people if p.role == Role.OFFICER}
        by_tag = {p.tag: p for p in people}
        by_role = {f"role-{p.role.value}": p for p in people}
        for d in s.exec(select(Department)):
            by_tag[d.tag] = heads.get(d.id) or officers[d.id]
        # person id (None: a one-time link) -> path -> the templates that carried it
        links: dict[int | None, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for n in s.exec(select(Notification)):
            person = by_tag.get(n.recipient) or by_role[n.recipient]
            for m in ADDRESS.finditer(n.body):
                if m.group("origin"):
                    path = m.group("path")
                    who = None if path.startswith("/act/") else person.id
                    links[who][path].add(n.template)
        # An item's page, sent to a department the item has since been taken from (reassigned,
        # arbitrated): the link now says who works on it.
        lead = {i.id: i.lead_department_id for i in s.exec(select(RectificationItem))}
        dept_of = {p.id: p.department_id for p in people}
        moved = [
            (who, path)
            for who, paths in links.items()
            for path in paths
            if who is not None
            and (m := DEPARTMENT_PAGE.match(path))
            and dept_of[who] is not None
            and dept_of[who] != lead[int(m.group(1))]
        ]
        resident = next(p for p in people if p.name == "张桂英")
        rating = s.exec(
            select(Notification).where(
                Notification.template == "rating_request",
                Notification.recipient == resident.tag,
            )
        ).one()
        found = {
            "url": url,
            "links": {k: dict(v) for k, v in links.items()},
            "roles": {p.id: Role(p.role) for p in people},
            "moved": moved,
            "resident_id": resident.id,
            "rating_link": urlparse(rating.payload["link"]).path,
            "topic": rating.title,
        }
        s.commit()
    engine_for(url).dispose()
    return found


def _is_page(response: Any) -> None:
    assert response is not None
    assert response.headers["content-type"].startswith("text/html"), response.url


def test_every_link_in_every_message_opens_a_page_for_its_recipient(browser, server, case):  # type: ignore[no-untyped-def]
    rating_link = case["rating_link"]
    one_time = sorted(set(case["links"].pop(None, {})) - {rating_link})  # the next test uses it
    assert one_time and len(case["links"]) >= 5, case["links"]
    opened: set[str] = set()
    for person_id, paths in case["links"].items():
        context = browser.new_context(base_url=server.url, locale="zh-CN")
        context.set_default_timeout(10_000)
        tab = context.new_page()
        first, *rest = sorted(paths)
        tab.goto(first)
        assert urlparse(tab.url).path == "/login", first  # a link asks one to sign in …
        sign_in(tab, f"user{person_id}")
        tab.wait_for_url(lambda u: urlparse(u).path != "/login")  # … and comes back to it
        for path in [first, *rest]:
            response = tab.goto(path)
            _is_page(response)
            office = case["roles"][person_id] in (Role.ADMINISTRATOR, Role.APPROVER)
            chasing = paths[path] == {"escalation"}
            moved = (person_id, path) in case["moved"]
            if response.status == 403 and (
                chasing or moved or (office and DEPARTMENT_PAGE.match(path))
            ):
                assert re.search("可办理的是|只有.*可以", tab.locator("main").inner_text()), path
                continue
            assert response.status == 200, (path, tab.locator("main").inner_text())
            assert tab.locator("main h1").count() == 1, path
            if path.endswith("/rate"):
                assert tab.get_by_role("button", name="提交评价").is_visible(), path
            opened.add(path.split("/")[1])
        context.close()
    assert {"work", "my", "approvals", "admin"} <= opened, opened

    context = browser.new_context(base_url=server.url, locale="zh-CN")  # no account
    tab = context.new_page()
    for path in one_time:
        response = tab.goto(path)
        _is_page(response)
        assert response.status == 200, (path, tab.locator("main").inner_text())
        assert tab.locator("form[action^='/act/'] button[type=submit]").count() == 1, path
    context.close()


def test_a_resident_rates_through_her_link_once(page, case):  # type: ignore[no-untyped-def]
    link = case["rating_link"]
    response = page.goto(link)
    assert response.status == 200
    assert page.get_by_role("heading", name="评价整改成效").is_visible()
    main = page.locator("main").inner_text()
    assert "张桂英" in main and "老旧小区加装电梯" in main and "使用一次" in main

    page.get_by_label("意见建议（可不填）").fill("电梯装好了，上下楼方便多了")
    page.get_by_role("button", name="提交评价").click()
    error = page.locator(".field-error")
    assert error.inner_text() == "请选择 1–5 分的评价"
    assert page.get_by_label("意见建议（可不填）").input_value() == "电梯装好了，上下楼方便多了"

    page.get_by_label("4 分（满意）").check()
    page.get_by_role("button", name="提交评价").click()
    page.wait_for_load_state()
    done = page.locator("main").inner_text()
    assert "评价整改成效：已办理" in done and "已收到您的评价，谢谢" in done, done
    with Session(engine_for(case["url"])) as s:
        (rating,) = s.exec(select(Rating).where(Rating.person_id == case["resident_id"])).all()
        assert (rating.score, rating.satisfied, rating.comment) == (
            4,
            True,
            "电梯装好了，上下楼方便多了",
        )

    again = page.goto(link)
    assert again.status == 409
    assert page.get_by_role("heading", name="链接已使用").is_visible()
    assert "每个链接只能使用一次" in page.locator("main").inner_text()
