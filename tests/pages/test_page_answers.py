"""Pages over HTTP (no browser): a form post needs the session's CSRF token in its hidden
field, refusals and bad addresses are pages while the JSON API answers as before, and my work
lists what a person owes by name or by role, in a fixed number of queries."""

from __future__ import annotations

import datetime as dt

from api.pages.render import PageForbidden, local_path, who_may
from models import followup, rectification, work
from models.access import Can
from models.enums import Stage
from tests.conftest import ANONYMOUS, sql_statements
from tests.pages.conftest import sign_in_client


def test_a_form_post_needs_the_sessions_csrf_token_in_its_field(client, loop, session):  # type: ignore[no-untyped-def]
    csrf = sign_in_client(client, session, loop.cast.officer, "liqiang")
    for sent in ({}, {"csrf_token": "x" * 40}, {"csrf_token": "令牌"}):
        refused = client.post("/logout", data=sent, headers=ANONYMOUS, follow_redirects=False)
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]
        assert "CSRF" in refused.text and "xs_session=" not in refused.headers.get("set-cookie", "")
    # The JSON API takes the header only, as before.
    api = client.post("/auth/sign-out", data={"csrf_token": csrf}, headers=ANONYMOUS)
    assert api.status_code == 403 and api.json()["detail"].startswith("缺少或错误的 CSRF")
    ok = client.post(
        "/logout", data={"csrf_token": csrf}, headers=ANONYMOUS, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/login"
    assert 'xs_session=""' in ok.headers["set-cookie"]


def test_refusals_are_pages_and_the_api_answers_json_as_before(client, loop, session):  # type: ignore[no-untyped-def]
    away = client.get("/work?page=2", headers=ANONYMOUS, follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/login?next=%2Fwork%3Fpage%3D2"
    for address in ("/p/topics/abc", "/p/topics/999999"):
        missing = client.get(address, headers=ANONYMOUS)
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
        assert "<h1>未找到</h1>" in missing.text
    api = client.get("/topics/999999")
    assert api.status_code == 404 and api.json() == {"detail": "议题 999999 不存在"}
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p in ("/login", "/logout", "/work") or p.startswith("/p/")]


def test_next_stays_on_the_site() -> None:
    assert local_path("/work?page=2") == "/work?page=2"
    for outside in (
        "//evil.example",
        "https://evil.example",
        "/%2F%2Fevil.example",
        "/\\evil",
        "",
        None,
    ):
        assert local_path(outside) == "/work"


def test_a_refused_page_says_who_may_do_it(loop) -> None:  # type: ignore[no-untyped-def]
    assert who_may(Can.DECIDE) == "审定人"
    message = PageForbidden(loop.cast.officer, Can.RUN_LOOP).message
    assert message == "您的角色（责任单位联络员）无权推进协商流程；可办理的是：协商办工作人员"


def test_my_work_lists_what_is_owed_by_name_and_by_role_most_urgent_first(loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    pending = loop.topic(title="菜市场周边停车难")
    loop.run_stage(pending, Stage.TOPIC)
    approvals = work.my_work(session, c.approver)
    assert [(w.label, w.topic_title) for w in approvals.lines] == [("审定议题", "菜市场周边停车难")]
    assert work.my_work(session, c.officer).count == 0

    topic = loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
    mine = work.my_work(session, c.officer)
    assert [w.label for w in mine.lines] == ["签收整改事项"] and mine.count == 1
    line = mine.lines[0]
    assert line.level_label == "正常" and not line.overdue and "POST" not in line.how_to_act
    assert work.my_work(session, c.other_officer).count == 1  # his department's item

    # Past the deadline and swept: still owed, overdue, and the ladder says how far it went.
    later = line.deadline + dt.timedelta(days=10)
    followup.sweep(session, now=later)
    chased = work.my_work(session, c.officer, now=later).lines[0]
    assert chased.overdue and chased.level_label == "督办" and chased.time_left.startswith("已超期")

    with sql_statements(session) as statements:
        work.my_work(session, c.admin, now=later)
        few = len(statements)
        statements.clear()
        loop.advance(loop.topic(title="社区食堂"), to=Stage.TRANSFER, start=True)
        session.flush()
        statements.clear()
        work.my_work(session, c.officer, now=later)
        assert len(statements) <= max(few, 2)

    for item in loop.items(topic):
        rectification.acknowledge(session, item.id, by=item.officer_id)
    assert [w.topic_title for w in work.my_work(session, c.officer, now=later).lines] == [
        "社区食堂"
    ]


def test_a_conflict_on_a_page_is_a_page_that_explains_it() -> None:
    from fastapi import APIRouter, FastAPI
    from fastapi.staticfiles import StaticFiles
    from fastapi.testclient import TestClient

    from api.pages.render import HERE, PageRoute
    from models.errors import GateRefused

    app = FastAPI()
    router = APIRouter(route_class=PageRoute)

    @router.get("/refused")
    def refused() -> None:
        raise GateRefused("未完成商前调研，不能开展协商（不调研不协商）")

    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    r = TestClient(app).get("/refused")
    assert r.status_code == 409 and "text/html" in r.headers["content-type"]
    assert "<h1>当前无法办理</h1>" in r.text and "不调研不协商" in r.text


def test_an_expired_session_reads_as_signed_out_not_as_a_loop(client) -> None:  # type: ignore[no-untyped-def]
    client.cookies.set("xs_session", "expired.or.forged")
    try:
        form = client.get("/login?next=/work", headers=ANONYMOUS, follow_redirects=False)
        assert form.status_code == 200 and "<h1>登录</h1>" in form.text
        away = client.get("/work", headers=ANONYMOUS, follow_redirects=False)
        assert away.status_code == 303 and away.headers["location"].startswith("/login?next=")
        public = client.get("/p/topics/999999", headers=ANONYMOUS, follow_redirects=False)
        assert public.status_code == 404
    finally:
        client.cookies.clear()


def test_the_public_page_lists_a_topics_items_a_page_at_a_time(client, loop, session):  # type: ignore[no-untyped-def]
    from models.tables import RectificationItem

    topic = loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
    first = loop.items(topic)[0]
    fields = first.model_dump(exclude={"id", "version", "external_id"})
    for n in range(23):  # 25 in all, transferred
        session.add(RectificationItem(**{**fields, "title": f"整改事项第 {n + 3} 项"}))
    session.commit()
    one = client.get(f"/p/topics/{topic.id}", headers=ANONYMOUS)
    assert one.status_code == 200
    assert one.text.count('<li class="item') == 20 and "已完成 0 / 25 项" in one.text
    assert 'href="?page=2"' in one.text and "第 1 / 2 页" in one.text
    two = client.get(f"/p/topics/{topic.id}?page=2", headers=ANONYMOUS)
    assert two.text.count('<li class="item') == 5 and "整改事项第 25 项" in two.text
    assert 'href="?page=1"' in two.text and "下一页" not in two.text
