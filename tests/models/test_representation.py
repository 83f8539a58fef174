"""明确主体 (issue 9 point 2): no single side above its share before invitations go out, and a
decliner replaced by someone of the same side who is invited at once — on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import stages, subject
from models.enums import ParticipantRole, Rsvp, Stage
from models.errors import Conflict, GateRefused
from models.tables import Notification, Participant


def _approved(loop):  # type: ignore[no-untyped-def]
    topic = loop.topic()
    loop.run_stage(topic, Stage.TOPIC)
    loop.finish(topic, Stage.TOPIC)
    return topic


def _add(loop, topic, *pairs):  # type: ignore[no-untyped-def]
    return subject.add_participants(
        loop.s,
        topic.id,
        subject.ParticipantsAdd(
            participants=[subject.ParticipantIn(person_id=p.id, role=r) for p, r in pairs]
        ),
    )


def test_no_side_may_outweigh_the_others_before_invitations_go_out(loop, session, monkeypatch):
    c = loop.cast
    topic = _approved(loop)
    _add(
        loop,
        topic,
        (c.admin, ParticipantRole.ORGANIZER),
        (c.officer, ParticipantRole.DEPARTMENT),
        (c.other_officer, ParticipantRole.DEPARTMENT),
        (c.head, ParticipantRole.DEPARTMENT),
        (c.resident, ParticipantRole.RESIDENT),
    )
    with pytest.raises(GateRefused, match="职能部门占协商主体的 3/5，超过 50% 的上限"):
        stages.check_can_start(session, topic, Stage.SUBJECT)
    assert not session.exec(select(Notification).where(Notification.template == "invitation")).all()
    _add(loop, topic, (c.resident2, ParticipantRole.RESIDENT), (c.member, ParticipantRole.MEMBER))
    stages.check_can_start(session, topic, Stage.SUBJECT)  # 3 of 7: allowed


def test_the_share_is_a_setting(loop, session, monkeypatch):
    c = loop.cast
    topic = _approved(loop)
    _add(
        loop,
        topic,
        (c.admin, ParticipantRole.ORGANIZER),
        (c.resident, ParticipantRole.RESIDENT),
        (c.resident2, ParticipantRole.RESIDENT),
    )
    monkeypatch.setenv("XS_MAX_SIDE_SHARE", "0.7")
    from config.settings import get_settings

    get_settings.cache_clear()
    try:
        stages.check_can_start(session, topic, Stage.SUBJECT)  # 2/3 under 70 %
        monkeypatch.setenv("XS_MAX_SIDE_SHARE", "0.6")
        get_settings.cache_clear()
        with pytest.raises(GateRefused, match="群众和利益相关方占协商主体的 2/3"):
            stages.check_can_start(session, topic, Stage.SUBJECT)
    finally:
        monkeypatch.delenv("XS_MAX_SIDE_SHARE")
        get_settings.cache_clear()


def test_a_decliner_is_replaced_by_the_same_side_and_the_replacement_is_invited(loop, session):
    c = loop.cast
    topic = loop.advance(loop.topic(), to=Stage.SUBJECT, start=True)
    resident = session.exec(
        select(Participant).where(
            Participant.topic_id == topic.id, Participant.role == ParticipantRole.RESIDENT
        )
    ).one()
    with pytest.raises(Conflict, match="只有谢绝邀请的协商主体才能替补"):
        subject.replace(session, resident.id, subject.ReplaceIn(person_id=c.resident2.id))
    for p in session.exec(
        select(Participant).where(Participant.topic_id == topic.id, Participant.id != resident.id)
    ):
        subject.reply(session, p.id, subject.RsvpIn(accept=True))
    subject.reply(session, resident.id, subject.RsvpIn(accept=False, note="外出"))
    # Without a resident who accepted, the stage waits rather than finish.
    assert "没有群众代表" in (stages.completion_reason(session, topic) or "")
    replacement = subject.replace(session, resident.id, subject.ReplaceIn(person_id=c.resident2.id))
    assert replacement.role == ParticipantRole.RESIDENT
    assert replacement.replaces_id == resident.id and replacement.invited_at is not None
    invited = session.exec(
        select(Notification).where(
            Notification.template == "invitation", Notification.recipient == c.resident2.tag
        )
    ).one()
    assert topic.title in invited.body
    assert resident.rsvp == Rsvp.DECLINED  # the decliner stays on record
    with pytest.raises(Conflict, match="已有替补人员"):
        subject.replace(session, resident.id, subject.ReplaceIn(person_id=c.expert.id))
    assert stages.completion_reason(session, topic) == "邀请回复未齐"
    subject.reply(session, replacement.id, subject.RsvpIn(accept=True))
    assert stages.completion_reason(session, topic) is None
