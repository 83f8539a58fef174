"""初筛 through the HTTP API (issue 9 point 1): the office reads the suggestions, decides with
a justification where it goes against them, is told in zh-CN what is wrong, and two
administrators deciding at once decide once — on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
from sqlalchemy import func
from sqlmodel import select

from models.enums import Stage, TopicStatus
from models.tables import AuditEvent, Topic, TopicSupporter
from tests.api.conftest import Served
from tests.api.test_concurrency import _all_at_once
from tests.factories import LoopBuilder


def _hinted_and_duplicate(served: Served) -> tuple[int, int, int, int]:
    """An earlier topic awaiting approval, a look-alike of it and a topic hinted as 涉诉,
    both waiting for the office; and the proposer of the look-alike."""
    with served.session() as s:
        loop = LoopBuilder(s)
        first = loop.topic(title="城南片区老旧小区加装电梯")
        loop.run_stage(first, Stage.TOPIC)
        second = loop.topic(title="城南片区老旧小区加装电梯问题", proposer_id=loop.cast.member.id)
        loop.run_stage(second, Stage.TOPIC)
        hinted = loop.topic(title="拆迁补偿纠纷", description="已向区法院起诉")
        loop.run_stage(hinted, Stage.TOPIC)
        s.commit()
        assert second.status == hinted.status == TopicStatus.AWAITING_SCREENING
        return first.id, second.id, hinted.id, loop.cast.member.id  # type: ignore[return-value]


def test_the_office_reads_the_suggestions_and_merges_on_confirmation(served: Served) -> None:
    first, second, _hinted, member = _hinted_and_duplicate(served)
    office = served.as_()
    shown = httpx.get(f"{served.base_url}/topics/{second}/screening", headers=office).json()
    assert shown["status"] == "awaiting_screening" and shown["outcome"] is None
    assert shown["candidates"][0]["topic_id"] == first
    assert shown["candidates"][0]["title"] == "城南片区老旧小区加装电梯"
    merged = httpx.post(
        f"{served.base_url}/topics/{second}/screening",
        json={"decision": "merge", "merge_into_id": first},
        headers=office,
    )
    assert merged.status_code == 200, merged.text
    assert merged.json()["status"] == "merged" and merged.json()["merged_into_id"] == first
    after = httpx.get(f"{served.base_url}/topics/{first}/screening", headers=office).json()
    assert after["supporters"] == [member]
    # The proposer of the merged topic learns it from a message, not from a later 409.
    with served.session() as s:
        assert s.exec(select(TopicSupporter.person_id)).all() == [member]


def test_bad_decisions_are_refused_in_words_and_change_nothing(served: Served) -> None:
    first, second, hinted, member = _hinted_and_duplicate(served)
    office = served.as_()
    url = f"{served.base_url}/topics/{hinted}/screening"
    no_rule = httpx.post(url, json={"decision": "exclude"}, headers=office)
    assert no_rule.status_code == 422 and "请选择不予协商的依据" in no_rule.text
    unjustified = httpx.post(url, json={"decision": "admit"}, headers=office)
    assert unjustified.status_code == 422 and "写明理由" in unjustified.text
    bad = httpx.post(url, json={"decision": "approve"}, headers=office)
    assert bad.status_code == 422
    later_target = httpx.post(
        f"{served.base_url}/topics/{first}/screening",
        json={"decision": "merge", "merge_into_id": second},
        headers=office,
    )
    assert later_target.status_code == 409  # first is not waiting for screening at all
    as_member = served.as_(member)
    refused = httpx.post(url, json={"decision": "exclude", "rule": "litigation"}, headers=as_member)
    assert refused.status_code == 403
    with served.session() as s:
        assert s.get(Topic, hinted).status == TopicStatus.AWAITING_SCREENING  # type: ignore[union-attr]


def test_two_administrators_deciding_at_once_decide_once(served: Served) -> None:
    _first, _second, hinted, _member = _hinted_and_duplicate(served)
    one, other = served.as_(), served.as_()

    def decide(i: int) -> httpx.Response:
        body = (
            {"decision": "exclude", "rule": "litigation"}
            if i == 0
            else {"decision": "admit", "justification": "诉讼已撤回，群众普遍关注"}
        )
        return httpx.post(
            f"{served.base_url}/topics/{hinted}/screening",
            json=body,
            headers=(one, other)[i],
            timeout=60,
        )

    answers = _all_at_once(2, decide)
    assert sorted(r.status_code for r in answers) == [200, 409], [r.text for r in answers]
    assert "已完成初筛" in next(r for r in answers if r.status_code == 409).text
    with served.session() as s:
        decided = s.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "topic_screening_decided", AuditEvent.topic_id == hinted)
        ).one()
        assert decided == 1
