"""群众出题 online, over HTTP: a resident proposes a topic without an account, reads the
screening rules first, gets the topic's number and follows it on its public page; every
refusal (bad input, a form this server did not render, a cross-site post, too many posts)
writes nothing and keeps what was typed; the public page names nobody."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from config.settings import get_settings
from models import screening
from models import topic as topics
from models.enums import ScreeningRule, Stage, TopicSource, TopicStatus
from models.screening import RULES
from models.tables import ScreeningDecision, Topic
from tests.conftest import ANONYMOUS
from tests.pages.conftest import sign_in_client

FORM = "/p/propose"


def _nonce(client: Any) -> str:
    form = client.get(FORM, headers=ANONYMOUS)
    assert form.status_code == 200
    found = re.search(r'name="form_nonce" value="([^"]+)"', form.text)
    assert found is not None
    return found.group(1)


def _post(client: Any, data: dict[str, Any], **headers: str) -> Any:
    return client.post(FORM, data=data, headers={**ANONYMOUS, **headers}, follow_redirects=False)


def _topics(session: Session) -> int:
    return int(session.exec(select(func.count()).select_from(Topic)).one())


def _field_error(html: str, name: str) -> str:
    found = re.search(rf'<p class="field-error" id="e-{name}">([^<]*)</p>', html)
    return found.group(1) if found else ""


def test_the_rules_come_first_and_a_proposal_gets_its_number_and_public_page(client, session, loop):  # type: ignore[no-untyped-def]
    form = client.get(FORM, headers=ANONYMOUS)
    assert form.status_code == 200 and "<h1>提出议题建议</h1>" in form.text
    rules = form.text.index("哪些事项不纳入协商")
    assert rules < form.text.index('name="title"')
    for spec in RULES.values():  # the declarations' own words, not a copy
        assert spec.label in form.text and spec.matter in form.text
    assert "姓名" in form.text and 'name="phone"' not in form.text  # nothing personal asked

    nonce = _nonce(client)
    posted = _post(
        client,
        {
            "form_nonce": nonce,
            "title": "  夜市噪声扰民  ",
            "description": "每晚十点后夜市音响很响，周边三个小区都受影响。",
            "category": "城市管理",
            "claims": ["not_general", "made-up"],
        },
    )
    assert posted.status_code == 303, posted.text
    number = int(posted.headers["location"].split("/")[3])
    received = client.get(posted.headers["location"], headers=ANONYMOUS)
    assert f"第 {number} 号" in received.text and "已收到您的议题建议" in received.text
    assert f'href="/p/topics/{number}"' in received.text

    topic = session.get(Topic, number)
    assert topic is not None and topic.title == "夜市噪声扰民"
    assert topic.source is TopicSource.PUBLIC and topic.proposer_id is None
    # The tick is the proposer's answer, kept as a hint for the office, nothing more.
    assert topic.of_general_concern is False and topic.in_litigation is False
    assert [h["rule"] for h in screening.hints(topic)] == [ScreeningRule.NOT_GENERAL.value]

    follow = client.get(f"/p/topics/{number}", headers=ANONYMOUS)
    assert follow.status_code == 200 and "已受理" in follow.text
    assert "夜市噪声扰民" not in follow.text and "音响" not in follow.text  # not yet vetted

    # The sign-in page and a public topic page lead here.
    assert 'href="/p/propose"' in client.get("/login", headers=ANONYMOUS).text
    approved = loop.topic()
    loop.run_stage(approved, Stage.TOPIC)
    loop.finish(approved, Stage.TOPIC)
    session.commit()
    public = client.get(f"/p/topics/{approved.id}", headers=ANONYMOUS)
    assert public.status_code == 200 and 'href="/p/propose"' in public.text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"title": " \u3000 "}, "title", "请填写议题名称（不少于 2 个字，首尾空白不计）"),
        ({"title": "井" * 201}, "title", "议题名称不能超过 200 个字"),
        ({"title": "井盖缺失", "category": "类" * 51}, "category", "类别不能超过 50 个字"),
        ({"title": "井盖缺失", "description": "深" * 5001}, "description", "具体情况不能超过"),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_the_form_keeps_what_was_typed(
    client, session, data, field, message
):  # type: ignore[no-untyped-def]
    before = _topics(session)
    typed = {"description": "路口井盖缺失两周", "category": "市政", **data}
    r = _post(client, {"form_nonce": _nonce(client), "claims": ["petition"], **typed})
    assert r.status_code == 422
    assert _field_error(r.text, field).startswith(message)
    if len(typed["description"]) < 100:
        assert f">{typed['description']}</textarea>" in r.text
    assert 'value="petition" checked' in r.text
    assert "哪些事项不纳入协商" in r.text  # the rules stay on the page
    assert _topics(session) == before


def test_a_post_not_from_this_sites_form_writes_nothing(client, session, loop):  # type: ignore[no-untyped-def]
    before = _topics(session)
    body = {"title": "占道经营", "description": "人行道被占"}
    for refused in (
        _post(client, body),
        _post(client, {**body, "form_nonce": "1.forged"}),
        _post(client, {**body, "form_nonce": _nonce(client)}, **{"Sec-Fetch-Site": "cross-site"}),
    ):
        assert refused.status_code == 403
        assert "页面已过期或不是从本平台打开的" in refused.text
        assert 'value="占道经营"' in refused.text
    # Signed in, the post carries the session's CSRF token too.
    csrf = sign_in_client(client, session, loop.cast.resident, "zhanggy")
    r = _post(client, {**body, "form_nonce": _nonce(client)})
    assert r.status_code == 403 and "CSRF" in r.text
    assert _topics(session) == before
    r = _post(client, {**body, "form_nonce": _nonce(client), "csrf_token": csrf})
    assert r.status_code == 303
    mine = session.get(Topic, int(r.headers["location"].split("/")[3]))
    assert mine is not None and mine.proposer_id == loop.cast.resident.id


@pytest.fixture
def two_a_minute(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    from api.auth import _limiter

    monkeypatch.setenv("XS_ACTIONS_PER_MINUTE", "2")
    get_settings.cache_clear()
    _limiter().storage.reset()
    yield
    get_settings.cache_clear()
    _limiter().storage.reset()


def test_too_many_proposals_from_one_address_are_refused_readably(client, session, two_a_minute):  # type: ignore[no-untyped-def]
    for title in ("路灯不亮", "井盖缺失"):
        assert _post(client, {"form_nonce": _nonce(client), "title": title}).status_code == 303
    before = _topics(session)
    r = _post(client, {"form_nonce": _nonce(client), "title": "占道经营", "description": "早市"})
    assert r.status_code == 429 and r.headers["Retry-After"] == "60"
    assert "text/html" in r.headers["content-type"]
    assert "操作过于频繁，请一分钟后再试（您填写的内容已保留）" in r.text
    assert 'value="占道经营"' in r.text and ">早市</textarea>" in r.text
    assert _topics(session) == before


def test_a_proposal_turned_away_says_on_which_rule_and_a_merged_one_where_it_went(
    client, session, loop
):  # type: ignore[no-untyped-def]
    admin = loop.cast.admin.id
    earlier = loop.topic(title="菜市场周边停车难")
    loop.run_stage(earlier, Stage.TOPIC)
    excluded = loop.topic(title="邻里纠纷起诉", in_litigation=True, proposer_id=None)
    duplicate = loop.topic(title="菜市场周边停车太难", proposer_id=None)
    for t in (excluded, duplicate):
        loop.run_stage(t, Stage.TOPIC)
        assert t.status is TopicStatus.AWAITING_SCREENING
    topics.decide_screening(
        session,
        excluded.id,
        screening.ScreeningIn(decision="exclude", rule=ScreeningRule.LITIGATION),
        by=admin,
    )
    topics.decide_screening(
        session,
        duplicate.id,
        screening.ScreeningIn(decision="merge", merge_into_id=earlier.id),
        by=admin,
    )
    session.commit()
    r = client.get(f"/p/topics/{excluded.id}", headers=ANONYMOUS)
    assert r.status_code == 200 and "不予协商" in r.text
    assert RULES[ScreeningRule.LITIGATION].reason in r.text and "邻里纠纷" not in r.text
    r = client.get(f"/p/topics/{duplicate.id}", headers=ANONYMOUS)
    assert "已并入其他议题" in r.text and f'href="/p/topics/{earlier.id}"' in r.text
    decision = session.exec(
        select(ScreeningDecision).where(ScreeningDecision.topic_id == excluded.id)
    ).one()
    assert decision.rule == ScreeningRule.LITIGATION.value


def test_the_public_pages_name_nobody(client, session, loop):  # type: ignore[no-untyped-def]
    phone = "13912345678"
    resident = loop.cast.resident
    resident.phone = phone
    csrf = sign_in_client(client, session, resident, "zhanggy")
    r = _post(
        client,
        {"form_nonce": _nonce(client), "csrf_token": csrf, "title": "社区食堂", "category": "养老"},
    )
    assert r.status_code == 303
    number = int(r.headers["location"].split("/")[3])
    client.cookies.clear()
    pages = [client.get(r.headers["location"], headers=ANONYMOUS)]
    pages.append(client.get(f"/p/topics/{number}", headers=ANONYMOUS))
    topic = session.get(Topic, number)
    assert topic is not None
    loop.run_stage(topic, Stage.TOPIC)
    loop.finish(topic, Stage.TOPIC)
    session.commit()
    pages.append(client.get(f"/p/topics/{number}", headers=ANONYMOUS))
    assert "社区食堂" in pages[-1].text  # approved: now public
    for shown in pages:
        assert shown.status_code == 200
        for person in (resident, loop.cast.approver, loop.cast.admin):
            assert person.name not in shown.text
        assert phone not in shown.text and "zhanggy" not in shown.text
