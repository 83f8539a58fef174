"""The stage gates and transitions of models/, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import assessment, consultation, screening, stages
from models import topic as topics
from models.enums import (
    FollowUpStatus,
    Obligation,
    ScreeningRule,
    Stage,
    StageState,
    TopicStatus,
)
from models.errors import Forbidden, GateRefused
from models.tables import FollowUp, Notification


def test_whole_loop_by_operations_closes_topic_with_kpis(loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.ASSESSMENT, start=True)
    loop.finish(topic, Stage.ASSESSMENT)
    assert topic.status == TopicStatus.CLOSED
    assert topic.stage == Stage.ASSESSMENT and topic.stage_state == StageState.DONE
    kpis = assessment.kpis(session, topic_id=topic.id)
    assert kpis["items"] == 2 and kpis["items_completed"] == 2
    assert kpis["completion_rate"] == 1.0 and kpis["adoption_rate"] == 1.0
    assert kpis["satisfaction_rate"] == 1.0 and kpis["response_rate"] == 1.0


@pytest.mark.parametrize(
    ("flag", "value", "rule", "reason"),
    [
        ("in_litigation", True, ScreeningRule.LITIGATION, "涉法涉诉不协商"),
        ("in_petition", True, ScreeningRule.PETITION, "纳入信访不协商"),
        ("policy_explicit", True, ScreeningRule.POLICY_EXPLICIT, "已有明确规定"),
        ("of_general_concern", False, ScreeningRule.NOT_GENERAL, "不具代表性不协商"),
    ],
)
def test_each_screening_rule_is_hinted_then_confirmed_with_its_reason(
    loop, session, flag, value, rule, reason
):
    topic = loop.topic(**{flag: value})
    loop.run_stage(topic, Stage.TOPIC)
    assert topic.status == TopicStatus.AWAITING_SCREENING
    assert [h["rule"] for h in screening.decision_of(session, topic.id).hints] == [rule.value]
    topics.decide_screening(
        session,
        topic.id,
        screening.ScreeningIn(decision="exclude", rule=rule),
        by=loop.cast.admin.id,
    )
    assert topic.status == TopicStatus.SCREENED_OUT
    assert reason in (topic.status_reason or "")
    with pytest.raises(GateRefused, match="未通过筛选"):
        stages.check_can_start(session, topic, Stage.SUBJECT)


def test_session_refused_without_prestudy(loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.PRESTUDY, start=True)
    with pytest.raises(GateRefused, match="未完成商前调研，不能开展协商"):
        stages.check_can_start(session, topic, Stage.SESSION)


def test_subject_requires_a_resident(loop, session):
    from models import subject
    from models.enums import ParticipantRole

    topic = loop.topic()
    loop.run_stage(topic, Stage.TOPIC)
    loop.finish(topic, Stage.TOPIC)
    subject.add_participants(
        session,
        topic.id,
        subject.ParticipantsAdd(
            participants=[
                subject.ParticipantIn(person_id=loop.cast.admin.id, role=ParticipantRole.ORGANIZER)
            ]
        ),
    )
    with pytest.raises(GateRefused, match="没有群众代表"):
        stages.check_can_start(session, topic, Stage.SUBJECT)


def test_only_approver_may_approve(loop):
    topic = loop.topic()
    loop.run_stage(topic, Stage.TOPIC)
    with pytest.raises(Forbidden, match="无权审定议题"):
        topics.approve(loop.s, topic.id, topics.Decision(), by=loop.cast.officer.id)
    assert topic.status == TopicStatus.AWAITING_APPROVAL


def test_approval_closes_its_follow_ups_and_queues_once(loop, session):
    topic = loop.topic()
    loop.run_stage(topic, Stage.TOPIC)
    loop.s.flush()
    rows = session.exec(
        select(FollowUp).where(FollowUp.obligation == Obligation.TOPIC_APPROVAL)
    ).all()
    assert rows and all(r.status == FollowUpStatus.OPEN for r in rows)
    topics.screen(session, topic.id)  # a retried task finds nothing more to do
    requests = session.exec(
        select(Notification).where(Notification.event_key == f"topic:{topic.id}:approval_request")
    ).all()
    assert len(requests) == 1
    loop.finish(topic, Stage.TOPIC)
    session.flush()
    for r in rows:
        session.refresh(r)
    assert all(r.status == FollowUpStatus.CLOSED for r in rows)


def test_session_without_consensus_allows_another_round(loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.SESSION, start=True)
    first = session.exec(
        select(consultation.ConsultationSession).where(
            consultation.ConsultationSession.topic_id == topic.id
        )
    ).one()
    consultation.conclude(
        session,
        first.id,
        consultation.Conclusion(
            consensus_reached=False,
            summary="分歧较大，择期再议",
            minutes="会议纪要：各方意见分歧较大，择期再议。",
        ),
    )
    assert topic.stage_state == StageState.WAITING
    import datetime as dt

    from models.enums import SessionForm

    second = consultation.schedule_session(
        session,
        topic.id,
        consultation.SessionCreate(
            form=SessionForm.ONLINE,
            starts_at=dt.datetime.now(dt.UTC),
            ends_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3),
        ),
    )
    assert second.round == 2
    loop.finish(topic, Stage.SESSION)
    assert topic.stage_state == StageState.DONE


def test_every_stage_is_declared_once_and_everything_derives_from_it():
    from flows.registry import STAGE_FLOWS
    from runtime.demo import STAGES

    assert list(stages.SPECS) == list(Stage)
    for spec in stages.SPECS.values():
        assert callable(spec.automatic_work()), spec.work
        assert spec.stage is Stage.TOPIC or spec.not_ready, spec.stage
    assert [f.name for f in STAGE_FLOWS] == [s.flow_name for s in stages.SPECS.values()]
    assert [s.value for s in Stage] == STAGES


def test_every_stage_has_a_factory_entry():
    from tests.factories import missing_entries

    missing = missing_entries()
    assert not missing, (
        "tests/factories.py has no entry for these stages of models/stages.py SPECS: "
        + "; ".join(f"{table}: {', '.join(s.value for s in ss)}" for table, ss in missing.items())
    )
