"""初筛 as a recorded decision: the system hints, the office decides, and merging goes only
into the earlier topic and keeps every proposer — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event
from sqlmodel import Session, select

from models import followup, screening, stages
from models import topic as topics
from models.enums import (
    FollowUpStatus,
    Obligation,
    ScreeningOutcome,
    ScreeningRule,
    Stage,
    StageState,
    TopicSource,
    TopicStatus,
)
from models.errors import Conflict, Forbidden, GateRefused, Invalid
from models.tables import AuditEvent, FollowUp, Notification, ScreeningDecision, TopicSupporter


def _decide(loop, topic, **fields):  # type: ignore[no-untyped-def]
    return topics.decide_screening(
        loop.s, topic.id, screening.ScreeningIn(**fields), by=loop.cast.admin.id
    )


def _screened(loop, **fields):  # type: ignore[no-untyped-def]
    topic = loop.topic(**fields)
    loop.run_stage(topic, Stage.TOPIC)
    return topic


def test_proposers_answer_is_a_hint_the_office_confirms_not_a_verdict(loop, session):
    topic = _screened(loop, title="邻里宅基地纠纷", in_litigation=True)
    # Not closed by the proposer's checkbox: it waits for the office, which is chased.
    assert topic.status == TopicStatus.AWAITING_SCREENING
    assert topic.stage_state == StageState.WAITING
    row = session.exec(
        select(ScreeningDecision).where(ScreeningDecision.topic_id == topic.id)
    ).one()
    assert [h["rule"] for h in row.hints] == ["litigation"]
    assert "提出人申报" in row.hints[0]["why"]
    due = session.exec(
        select(FollowUp).where(
            FollowUp.obligation == Obligation.SCREENING, FollowUp.subject_id == topic.id
        )
    ).all()
    assert due and all(f.status == FollowUpStatus.OPEN for f in due)
    request = session.exec(
        select(Notification).where(Notification.template == "screening_request")
    ).one()
    assert "涉法涉诉不协商" in request.body and "提出人申报" in request.body
    assert "等待协商办确认初筛" in (stages.completion_reason(session, topic) or "")

    _decide(loop, topic, decision="exclude", rule=ScreeningRule.LITIGATION)
    assert topic.status == TopicStatus.SCREENED_OUT
    assert "涉法涉诉不协商" in (topic.status_reason or "")
    assert topic.stage_state == StageState.DONE
    assert all(
        f.status == FollowUpStatus.CLOSED
        for f in session.exec(select(FollowUp).where(FollowUp.obligation == Obligation.SCREENING))
    )
    told = session.exec(select(Notification).where(Notification.template == "topic_screened")).one()
    assert told.recipient == loop.cast.resident.tag
    decided = session.exec(
        select(AuditEvent).where(AuditEvent.action == "topic_screening_decided")
    ).one()
    assert decided.actor_id == loop.cast.admin.id
    assert decided.detail["decision"] == "excluded" and decided.detail["overridden"] is False
    with pytest.raises(GateRefused, match="未通过筛选"):
        stages.check_can_start(session, topic, Stage.SUBJECT)


def test_the_text_hints_at_a_rule_with_the_words_that_gave_it_away(loop, session):
    topic = _screened(loop, title="拆迁补偿纠纷", description="已向区法院起诉，等待判决")
    row = screening.decision_of(session, topic.id)
    assert row.hints[0]["rule"] == "litigation"
    assert "“起诉”" in row.hints[0]["why"] and "“法院”" in row.hints[0]["why"]


def test_admitting_a_hinted_topic_needs_a_written_justification(loop, session):
    topic = _screened(loop, title="小区信访积案化解", in_petition=True)
    with pytest.raises(Invalid, match="写明理由") as refused:
        _decide(loop, topic, decision="admit")
    assert refused.value.field == "justification"
    assert topic.status == TopicStatus.AWAITING_SCREENING
    _decide(loop, topic, decision="admit", justification="信访程序已终结，群众普遍关注，宜协商")
    assert topic.status == TopicStatus.AWAITING_APPROVAL
    row = screening.decision_of(session, topic.id)
    assert row.overridden and row.outcome == ScreeningOutcome.ADMITTED
    assert row.decided_by_id == loop.cast.admin.id
    assert session.exec(
        select(Notification).where(Notification.template == "approval_request")
    ).first()


def test_excluding_on_a_rule_nothing_hinted_at_needs_a_justification(loop):
    topic = _screened(loop, title="邻里宅基地纠纷", in_litigation=True)
    with pytest.raises(Invalid, match="写明理由"):
        _decide(loop, topic, decision="exclude", rule=ScreeningRule.POLICY_EXPLICIT)
    _decide(
        loop,
        topic,
        decision="exclude",
        rule=ScreeningRule.POLICY_EXPLICIT,
        justification="区政府已出台宅基地管理办法",
    )
    assert "已有明确规定" in (topic.status_reason or "")


def test_a_clean_proposal_is_admitted_by_the_system_on_the_record(loop, session):
    topic = _screened(loop, title="社区食堂运营补贴")
    assert topic.status == TopicStatus.AWAITING_APPROVAL
    row = screening.decision_of(session, topic.id)
    assert row.outcome == ScreeningOutcome.ADMITTED and row.decided_by_id is None
    assert "未发现" in (row.justification or "")


def test_only_an_administrator_decides_and_only_once(loop, session):
    topic = _screened(loop, title="邻里宅基地纠纷", in_litigation=True)
    with pytest.raises(Forbidden):
        topics.decide_screening(
            session,
            topic.id,
            screening.ScreeningIn(decision="exclude", rule=ScreeningRule.LITIGATION),
            by=loop.cast.approver.id,
        )
    _decide(loop, topic, decision="exclude", rule=ScreeningRule.LITIGATION)
    with pytest.raises(Conflict, match="已完成初筛"):
        _decide(loop, topic, decision="admit", justification="改变主意了，重新受理")


def test_a_near_duplicate_is_suggested_and_merged_into_the_earlier_topic_on_confirmation(
    loop, session
):
    first = _screened(loop, title="城南片区老旧小区加装电梯", proposer_id=loop.cast.resident.id)
    second = _screened(
        loop, title="城南片区老旧小区加装电梯问题", proposer_id=loop.cast.resident2.id
    )
    # A suggestion with its score, not a silent merge.
    assert second.status == TopicStatus.AWAITING_SCREENING
    row = screening.decision_of(session, second.id)
    assert row.candidates[0]["topic_id"] == first.id and row.candidates[0]["score"] >= 0.8
    _decide(loop, second, decision="merge", merge_into_id=first.id)
    assert second.status == TopicStatus.MERGED and second.merged_into_id == first.id
    # The merged topic's stage is closed, not left waiting.
    views = {v.stage: v for v in stages.stage_views(session, second.id)}
    assert views[Stage.TOPIC].state == StageState.DONE and views[Stage.TOPIC].waiting_for is None
    supporters = session.exec(
        select(TopicSupporter).where(TopicSupporter.topic_id == first.id)
    ).all()
    assert [(s.person_id, s.from_topic_id) for s in supporters] == [
        (loop.cast.resident2.id, second.id)
    ]
    told = session.exec(select(Notification).where(Notification.template == "topic_merged")).one()
    assert told.recipient == loop.cast.resident2.tag
    assert "城南片区老旧小区加装电梯" in told.body and f"/topics/{first.id}" in told.body


def test_merging_goes_only_into_the_earlier_topic(loop):
    earlier = _screened(loop, title="背街小巷路灯不亮", in_petition=True)  # waits for the office
    later = _screened(loop, title="菜市场周边停车难")
    assert later.status == TopicStatus.AWAITING_APPROVAL
    with pytest.raises(Conflict, match="只能并入更早提出的议题"):
        _decide(
            loop,
            earlier,
            decision="merge",
            merge_into_id=later.id,
            justification="内容相近，合并办理",
        )
    assert earlier.status == TopicStatus.AWAITING_SCREENING


def test_supporters_of_a_merged_topic_follow_it_into_the_earlier_one(loop, session):
    c = loop.cast
    first = _screened(loop, title="老城区雨污分流改造", proposer_id=c.resident.id)
    second = _screened(loop, title="老城区雨污分流改造工程", proposer_id=c.member.id)
    _decide(loop, second, decision="merge", merge_into_id=first.id)
    assert screening.supporters(session, first.id) == [c.member.id]
    third = _screened(loop, title="老城区雨污分流改造进度", proposer_id=c.resident2.id)
    _decide(loop, third, decision="merge", merge_into_id=first.id)
    assert screening.supporters(session, first.id) == [c.member.id, c.resident2.id]


def test_look_alikes_are_found_by_description_too(loop, session):
    text = "学校门口早晚高峰接送车辆乱停乱放，学生过马路非常危险，希望增设护学岗和临时停车位"
    first = _screened(loop, title="校门口交通安全", description=text)
    second = _screened(loop, title="接送孩子太乱了", description=text + "。")
    row = screening.decision_of(session, second.id)
    assert [c["topic_id"] for c in row.candidates] == [first.id]


def _queries(session: Session, run) -> int:  # type: ignore[no-untyped-def]
    count = 0

    def tick(*_args) -> None:  # type: ignore[no-untyped-def]
        nonlocal count
        count += 1

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", tick)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", tick)
    return count


def test_finding_look_alikes_costs_the_same_queries_however_many_topics_are_open(loop, session):
    """One grouped query on the bigram index and one read of the few candidates: no loop
    over every open topic."""

    def measure() -> int:
        probe = loop.topic(title="第一批老旧小区加装电梯试点")
        session.flush()
        found: list[object] = []
        count = _queries(session, lambda: found.extend(screening.near_duplicates(session, probe)))
        assert found  # the measure is of a search that found something
        return count

    for i in range(5):
        _screened(loop, title=f"第{i}批老旧小区加装电梯试点")
    few = measure()
    for i in range(5, 60):
        _screened(loop, title=f"第{i}批老旧小区加装电梯试点")
    assert measure() == few == 2


SH_MONDAY = dt.datetime(2026, 4, 13, 10, tzinfo=ZoneInfo("Asia/Shanghai"))  # no holiday that week


def _conversion_rungs(session: Session, topic_id: int) -> list[FollowUp]:
    return list(
        session.exec(
            select(FollowUp)
            .where(
                FollowUp.obligation == Obligation.EMERGENCY_CONVERSION,
                FollowUp.subject_id == topic_id,
            )
            .order_by(FollowUp.due_at)  # type: ignore[arg-type]
        )
    )


def test_an_emergency_starts_at_once_and_is_chased_into_the_regular_loop(
    loop, session, time_machine
):
    time_machine.move_to(SH_MONDAY, tick=False)
    loop.today = SH_MONDAY.date()
    topic = _screened(
        loop,
        title="暴雨致地下通道积水",
        description="居民反映通道积水，已有人起诉物业",  # a hint: it does not hold an emergency
        source=TopicSource.EMERGENCY,
    )
    assert topic.status == TopicStatus.AWAITING_APPROVAL
    assert "应急议题快速通道" in (screening.decision_of(session, topic.id).justification or "")
    rungs = _conversion_rungs(session, topic.id)
    # Five working days from Monday: the next Monday, 24:00 Asia/Shanghai.
    due = max(r.due_at for r in rungs).astimezone(ZoneInfo("Asia/Shanghai"))
    assert due.date() >= dt.date(2026, 4, 20)
    later = SH_MONDAY + dt.timedelta(days=9)
    time_machine.move_to(later, tick=False)
    followup.sweep(session, now=later)
    chased = session.exec(
        select(Notification).where(Notification.template == "emergency_conversion_due")
    ).all()
    assert chased and "转入常规协商流程" in chased[0].body


def test_an_emergency_that_entered_the_loop_is_chased_no_more(loop, session, time_machine):
    time_machine.move_to(SH_MONDAY, tick=False)
    loop.today = SH_MONDAY.date()
    topic = _screened(loop, title="燃气管道泄漏抢修", source=TopicSource.EMERGENCY)
    loop.finish(topic, Stage.TOPIC)
    loop.prepare(topic, Stage.SUBJECT)
    loop.run_stage(topic, Stage.SUBJECT)
    later = SH_MONDAY + dt.timedelta(days=9)
    time_machine.move_to(later, tick=False)
    followup.sweep(session, now=later)
    assert not session.exec(
        select(Notification).where(Notification.template == "emergency_conversion_due")
    ).all()
    assert all(r.status != FollowUpStatus.OPEN for r in _conversion_rungs(session, topic.id))
