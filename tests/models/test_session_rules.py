"""开展协商 (issue 9 point 4): an online window takes opinions only while it is open, and a
meeting is concluded only with its minutes, which are kept — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import consultation
from models.enums import Rsvp, SessionForm, Stage
from models.errors import Conflict, Invalid
from models.tables import ConsultationSession, Opinion, Participant


def _opinion(loop, topic) -> consultation.OpinionsAdd:  # type: ignore[no-untyped-def]
    resident = loop.s.exec(
        select(Participant).where(
            Participant.topic_id == topic.id, Participant.rsvp == Rsvp.ACCEPTED
        )
    ).first()
    return consultation.OpinionsAdd(
        opinions=[consultation.OpinionIn(participant_id=resident.id, content="希望增设护学岗")]
    )


def _online_round(loop, starts: dt.datetime, ends: dt.datetime):  # type: ignore[no-untyped-def]
    """A topic whose first round is an online window from `starts` to `ends`."""
    topic = loop.topic()
    for stage in (Stage.TOPIC, Stage.SUBJECT, Stage.PRESTUDY):
        loop.prepare(topic, stage)
        loop.run_stage(topic, stage)
        loop.finish(topic, stage)
    meeting = consultation.schedule_session(
        loop.s,
        topic.id,
        consultation.SessionCreate(form=SessionForm.ONLINE, starts_at=starts, ends_at=ends),
    )
    loop.run_stage(topic, Stage.SESSION)
    return topic, meeting


def test_an_online_window_takes_opinions_only_while_open(loop, session, time_machine):
    start = dt.datetime(2026, 12, 7, 9, tzinfo=dt.UTC)
    time_machine.move_to(start - dt.timedelta(hours=2), tick=False)
    loop.today = (start - dt.timedelta(hours=2)).date()
    topic, meeting = _online_round(loop, start, start + dt.timedelta(days=2))
    with pytest.raises(Conflict, match="网络协商窗口将于 2026年12月07日 17:00 开放"):
        consultation.record_opinions(session, meeting.id, _opinion(loop, topic))
    time_machine.move_to(start + dt.timedelta(hours=1), tick=False)
    assert consultation.record_opinions(session, meeting.id, _opinion(loop, topic))
    time_machine.move_to(start + dt.timedelta(days=2, minutes=1), tick=False)
    with pytest.raises(Conflict, match="网络协商窗口已于 2026年12月09日 17:00 关闭"):
        consultation.record_opinions(session, meeting.id, _opinion(loop, topic))
    # Closing the round needs no minutes: the window's opinions are its record.
    (said,) = session.exec(select(Opinion.id).where(Opinion.session_id == meeting.id)).all()
    consultation.conclude(
        session,
        meeting.id,
        consultation.Conclusion(
            consensus_reached=True,
            summary="网上意见集中于护学岗",
            suggestions=[consultation.SuggestionIn(content="增设护学岗", opinion_ids=[said])],
        ),
    )
    assert meeting.minutes is None


def test_a_meeting_is_concluded_only_with_its_minutes_which_are_kept(loop, session):
    topic = loop.topic()
    for stage in (Stage.TOPIC, Stage.SUBJECT, Stage.PRESTUDY):
        loop.prepare(topic, stage)
        loop.run_stage(topic, stage)
        loop.finish(topic, stage)
    loop.prepare(topic, Stage.SESSION)  # an on-site meeting
    loop.run_stage(topic, Stage.SESSION)
    meeting = session.exec(
        select(ConsultationSession).where(ConsultationSession.topic_id == topic.id)
    ).one()
    (opinion,) = consultation.record_opinions(session, meeting.id, _opinion(loop, topic))
    conclusion = {
        "consensus_reached": True,
        "summary": "同意增设护学岗",
        "suggestions": [consultation.SuggestionIn(content="增设护学岗", opinion_ids=[opinion.id])],
    }
    with pytest.raises(Invalid, match="现场协商结束时须填写会议纪要") as refused:
        consultation.conclude(session, meeting.id, consultation.Conclusion(**conclusion))
    assert refused.value.field == "minutes"
    minutes = "会议纪要：学校、交警、家长代表参加，同意在早晚高峰增设护学岗。"
    consultation.conclude(
        session, meeting.id, consultation.Conclusion(**conclusion, minutes=minutes)
    )
    assert meeting.minutes == minutes
