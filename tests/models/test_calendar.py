"""The calendar in the database: loading a year's schedule, seeing it from every session, and
counting open deadlines again (models/calendar.py, models/schedule.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlmodel import Session, select

from config.workdays import Source
from models import followup, schedule
from models import subject as subjects
from models.calendar import calendar_for, schedule_version
from models.deadlines import end_of_day, morning_of, working_days_after
from models.enums import FollowUpStatus, FollowUpStep, Obligation, Stage
from models.errors import Forbidden, Invalid, NotFound
from models.tables import AuditEvent, FollowUp, HolidaySchedule, Notification, Participant

SH = ZoneInfo("Asia/Shanghai")
D = dt.date
EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "calendars" / "2027.example.yaml"
# A made-up 2027 schedule: 元旦 01-01..01-04, and Saturday 01-09 worked.
SCHEDULE_2027 = {
    "holidays": [{"date": f"2027-01-0{d}", "name": "元旦"} for d in (1, 2, 3, 4)],
    "workdays": ["2027-01-09"],
}


def _at(year: int, month: int, day: int, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=SH)


def _load(session: Session, data: dict | None = None, **kw) -> schedule.LoadSummary:
    data = data or SCHEDULE_2027
    return schedule.load_schedule(
        session, 2027, holidays=data["holidays"], workdays=data["workdays"], **kw
    )


def test_deadline_into_2027_is_provisional_until_loaded(session):
    due = working_days_after(session, _at(2026, 12, 30), 3)
    # 12-31, (元旦 + weekend by rule), 01-04, 01-05
    assert due.at == end_of_day(D(2027, 1, 5))
    assert due.provisional and due.counted_from == D(2026, 12, 30) and due.working_days == 3
    inside = working_days_after(session, _at(2026, 9, 30), 1)
    assert inside.at == end_of_day(D(2026, 10, 8)) and not inside.provisional

    _load(session)
    due = working_days_after(session, _at(2026, 12, 30), 3)
    # 12-31, (01-01..01-04 off), 01-05, 01-06 — counted on the loaded schedule
    assert due.at == end_of_day(D(2027, 1, 6)) and not due.provisional


def test_load_replaces_the_year_bumps_version_and_audits(session, loop):
    admin = loop.cast.admin
    assert schedule_version(session) is None
    first = _load(session, by=admin.id)
    assert first.holidays == 4 and first.workdays == 1 and first.replaced_rows == 0
    v1 = schedule_version(session)
    assert v1 == first.version and v1.startswith("1:")
    second = _load(session, {"holidays": [{"date": "2027-01-01", "name": "元旦"}], "workdays": []})
    assert second.replaced_rows == 5 and schedule_version(session).startswith("2:")
    rows = session.exec(select(HolidaySchedule).where(HolidaySchedule.year == 2027)).all()
    assert [(r.day, r.working, r.name) for r in rows] == [(D(2027, 1, 1), False, "元旦")]
    assert calendar_for(session).source(2027) is Source.LOADED
    assert calendar_for(session).is_working_day(D(2027, 1, 4)) == (True, False)
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "calendar_loaded")).all()
    assert len(events) == 2 and events[0].actor == admin.name and events[0].detail["year"] == 2027


@pytest.mark.parametrize(
    ("holidays", "workdays", "field", "text"),
    [
        ([{"date": "2028-01-01"}], [], "holidays.0.date", "不在 2027 年内"),
        ([{"date": "2027-13-01"}], [], "holidays.0.date", "须为日期"),
        ([{"name": "元旦"}], [], "holidays.0.date", "缺少必填字段"),
        ([{"date": "2027-01-01"}, {"date": "2027-01-01"}], [], "holidays.1.date", "重复"),
        ([{"date": "2027-01-02"}], ["2027-01-02"], "workdays.0", "既是放假日又是调休上班日"),
        ([{"date": "2027-01-01"}], ["2027-01-06"], "workdays.0", "星期三"),
        ([{"date": "2027-01-01"}], ["2026-12-26"], "workdays.0", "不在 2027 年内"),
        ([], [], "holidays", "至少须列出一个放假日期"),
    ],
)
def test_invalid_schedules_are_refused_naming_the_field(session, holidays, workdays, field, text):
    with pytest.raises(Invalid, match=text) as err:
        schedule.load_schedule(session, 2027, holidays=holidays, workdays=workdays)
    assert err.value.field == field
    assert session.exec(select(HolidaySchedule)).all() == []


def test_only_an_administrator_loads(session, loop):
    with pytest.raises(Forbidden, match="无权导入放假安排"):
        _load(session, by=loop.cast.officer.id)
    with pytest.raises(NotFound, match="人员 999999 不存在"):
        _load(session, by=999999)
    with pytest.raises(Invalid) as err:
        schedule.load_schedule(session, 1999, holidays=[{"date": "1999-01-01"}], workdays=[])
    assert err.value.field == "year"


def test_a_load_committed_elsewhere_reaches_other_sessions(committed_db):
    """The API and the runner processes share only the database: a session that already used
    the calendar sees a schedule another one loaded, from its next transaction on."""
    from config.db import engine_for

    engine = engine_for(committed_db)
    with Session(engine) as reader:
        assert calendar_for(reader).source(2027) is Source.RULE
        reader.commit()
        with Session(engine) as writer:
            _load(writer)
            writer.commit()
        assert calendar_for(reader).source(2027) is Source.LOADED
        assert calendar_for(reader).is_working_day(D(2027, 1, 4)) == (False, False)


def _transferred_in_late_december(loop, session, time_machine):
    time_machine.move_to(_at(2026, 12, 29), tick=False)
    loop.today = D(2026, 12, 29)
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    return topic, loop.items(topic)


def _ack_rows(session, item_id):
    return session.exec(
        select(FollowUp)
        .where(FollowUp.obligation == Obligation.ACKNOWLEDGEMENT, FollowUp.subject_id == item_id)
        .order_by(FollowUp.id)
    ).all()


def test_loading_2027_recounts_an_open_acknowledgement(loop, session, time_machine):
    _, items = _transferred_in_late_december(loop, session, time_machine)
    item = items[0]
    # Tuesday 12-29 + 3 working days: 12-30, 12-31, then 01-04 by rule (元旦, weekend).
    assert item.ack_due_at == end_of_day(D(2027, 1, 4))
    assert item.deadline_provisional
    rows = _ack_rows(session, item.id)
    assert {(r.counted_from, r.working_days, r.provisional) for r in rows} == {
        (D(2026, 12, 29), 3, True)
    }
    transfer = session.exec(
        select(Notification).where(
            Notification.template == "transfer", Notification.topic_id == item.topic_id
        )
    ).first()
    assert "期限暂估" in transfer.body
    listed = schedule.open_deadlines(session, topic_id=item.topic_id, provisional_only=True).data
    assert {(d.obligation, d.subject_id) for d in listed} >= {
        (Obligation.ACKNOWLEDGEMENT, i.id) for i in items
    }

    summary = _load(session, by=loop.cast.admin.id)  # 01-04 is a holiday after all
    assert summary.moved >= len(items) and summary.recomputed >= len(rows)
    session.refresh(item)
    assert item.ack_due_at == end_of_day(D(2027, 1, 5))
    assert not item.deadline_provisional
    rows = _ack_rows(session, item.id)
    due = {r.step: r.due_at for r in rows}
    assert due[FollowUpStep.DUE] == morning_of(D(2027, 1, 5))
    assert due[FollowUpStep.OVERDUE] == morning_of(D(2027, 1, 6))
    assert due[FollowUpStep.ESCALATE_ADMIN] == morning_of(D(2027, 1, 7))
    assert all(r.deadline == item.ack_due_at and not r.provisional for r in rows)
    moved = session.exec(
        select(Notification).where(
            Notification.template == "deadline_changed",
            Notification.recipient == loop.cast.officer.tag,
        )
    ).all()
    assert len(moved) == 1
    assert "2027年01月04日 23:59（暂估）调整为 2027年01月05日 23:59" in moved[0].body
    assert "仍为暂估" not in moved[0].body

    # The sweep on the new due date chases the unacknowledged items (not "nothing to do").
    time_machine.move_to(_at(2027, 1, 5), tick=False)
    result = followup.sweep(session)
    assert result["by_rung"].get("acknowledgement.due") == len(items)


def test_loading_the_example_schedule_keeps_the_date_and_clears_provisional(
    loop, session, time_machine
):
    _, items = _transferred_in_late_december(loop, session, time_machine)
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    summary = _load(session, data)
    assert summary.moved == 0 and summary.still_provisional == 0
    for item in items:
        session.refresh(item)
        assert item.ack_due_at == end_of_day(D(2027, 1, 4)) and not item.deadline_provisional
        assert not any(r.provisional for r in _ack_rows(session, item.id))
    assert not session.exec(
        select(Notification).where(Notification.template == "deadline_changed")
    ).all()
    assert schedule.open_deadlines(session, provisional_only=True).data == []


def test_rsvp_deadline_moves_and_its_flag_clears(loop, session, time_machine):
    time_machine.move_to(_at(2026, 12, 30), tick=False)
    loop.today = D(2026, 12, 30)
    topic = loop.topic()
    loop.advance(topic, to=Stage.SUBJECT, start=True)
    participants = session.exec(select(Participant).where(Participant.topic_id == topic.id)).all()
    assert participants and all(p.rsvp_due_at == end_of_day(D(2027, 1, 5)) for p in participants)
    assert subjects.ParticipantPublic.model_validate(
        participants[0], from_attributes=True
    ).rsvp_due_provisional
    invitation = session.exec(
        select(Notification).where(Notification.template == "invitation")
    ).first()
    assert "期限暂估" in invitation.body

    _load(session)
    session.expire_all()
    participants = session.exec(select(Participant).where(Participant.topic_id == topic.id)).all()
    assert all(p.rsvp_due_at == end_of_day(D(2027, 1, 6)) for p in participants)
    assert not any(p.rsvp_due_provisional for p in participants)
    rows = session.exec(
        select(FollowUp).where(
            FollowUp.obligation == Obligation.RSVP, FollowUp.status == FollowUpStatus.OPEN
        )
    ).all()
    assert rows and all(r.deadline == end_of_day(D(2027, 1, 6)) for r in rows)


def test_rungs_of_a_given_date_are_recounted_too(loop, session, time_machine):
    """A research due date is a date, not a count; only its reminders move with the calendar."""
    time_machine.move_to(_at(2026, 12, 26), tick=False)
    loop.today = D(2026, 12, 26)  # the research task is due 10 days later: 2027-01-05
    topic = loop.topic()
    loop.advance(topic, to=Stage.PRESTUDY, start=True)

    def rungs() -> dict[FollowUpStep, FollowUp]:
        rows = session.exec(
            select(FollowUp).where(
                FollowUp.obligation == Obligation.RESEARCH, FollowUp.topic_id == topic.id
            )
        ).all()
        return {r.step: r for r in rows}

    before = rungs()
    assert before[FollowUpStep.DUE_SOON].due_at == morning_of(D(2027, 1, 4))
    assert all(r.provisional and r.working_days is None for r in before.values())
    _load(session)
    after = rungs()
    assert all(r.deadline == end_of_day(D(2027, 1, 5)) for r in after.values())
    assert after[FollowUpStep.DUE_SOON].due_at == morning_of(D(2026, 12, 31))
    assert after[FollowUpStep.OVERDUE].due_at == morning_of(D(2027, 1, 6))
    assert after[FollowUpStep.ESCALATE_ADMIN].due_at == morning_of(D(2027, 1, 7))
    assert not any(r.provisional for r in after.values())
