"""Done when: a loop whose officers never acknowledge shows the whole ladder in the receiver's
log with no duplicates. Real follow-up flow runs (Prefect server, in-process async flow), real
webhook receiver, time travelled across the acknowledgement, plan and item ladders."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from config.db import engine_for
from flows.follow_up import follow_up
from models import people as ppl
from models import rectification
from models.enums import FollowUpStatus, FollowUpStep, Obligation, Role, Stage
from models.tables import Department, FollowUp, Notification, Person, Topic
from tests.factories import LoopBuilder
from tests.receivers import HttpReceiver, use_apprise_config, write_apprise_yaml

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def inbox() -> Iterator[HttpReceiver]:
    with HttpReceiver() as receiver:
        yield receiver


def route_every_tag(session: Session, receiver: HttpReceiver, path: Path) -> Path:
    """One webhook path per tag, so the log shows who got what."""
    tags = [*session.exec(select(Person.tag)), *session.exec(select(Department.tag))]
    tags += ["role-administrator", "role-approver"]
    return write_apprise_yaml(path, {receiver.url(tag): [tag] for tag in tags})


async def test_officers_never_acknowledge_whole_ladder_once_each(
    prefect_server, committed_db, inbox, tmp_path, monkeypatch, time_machine
):
    time_machine.move_to(dt.datetime(2026, 2, 12, 10, tzinfo=SH), tick=True)
    engine = engine_for(committed_db)
    with Session(engine) as s:
        loop = LoopBuilder(s)
        loop.today = dt.date(2026, 2, 12)
        c = loop.cast
        head2 = ppl.create_person(
            s,
            ppl.PersonCreate(name="钱芳", role=Role.DEPARTMENT_HEAD, department_id=c.other_dept_id),
        )
        topic = loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
        items = [(i.id, i.lead_department_id) for i in loop.items(topic)]
        heads = {c.dept_id: c.head.id, c.other_dept_id: head2.id}
        officers = {c.officer.tag, c.other_officer.tag}
        head_tags = {c.head.tag, head2.tag}
        use_apprise_config(monkeypatch, route_every_tag(s, inbox, tmp_path / "apprise.yml"))
        s.commit()
        topic_id = topic.id

    async def sweep_at(when: dt.datetime) -> None:
        time_machine.move_to(when, tick=True)
        result = await follow_up()
        assert result["delivery"].get("failed", 0) == 0

    def open_due_times(until: dt.datetime | None = None) -> list[dt.datetime]:
        query = select(FollowUp.due_at).where(FollowUp.status == FollowUpStatus.OPEN)
        if until is not None:
            query = query.where(FollowUp.due_at <= until)
        with Session(engine) as s:
            return sorted(set(s.exec(query)))

    # The acknowledgement ladder runs out; only then do the department heads sign (签收).
    signed = dt.datetime(2026, 2, 26, 10, tzinfo=SH)
    for when in open_due_times(until=signed):
        await sweep_at(when)
    time_machine.move_to(signed, tick=True)
    with Session(engine) as s:
        loop = LoopBuilder(s)
        loop.today = dt.date(2026, 2, 12)
        for item_id, dept in items:
            rectification.acknowledge(s, item_id, by=heads[dept])
        loop.run_stage(s.get(Topic, topic_id), Stage.IMPLEMENTATION)
        s.commit()
    # Plans and the work itself never come: the plan and item ladders run out too.
    for when in open_due_times():
        await sweep_at(when)
    assert open_due_times() == []
    before = len(inbox.log)
    await sweep_at(dt.datetime(2026, 3, 30, 9, tzinfo=SH))  # later runs find nothing more
    assert len(inbox.log) == before

    with Session(engine) as s:
        chased = s.exec(select(FollowUp).where(FollowUp.status == FollowUpStatus.SENT)).all()
        notes = s.exec(select(Notification)).all()
    rungs = Counter((r.obligation, r.step) for r in chased)
    assert rungs == {
        (Obligation.ACKNOWLEDGEMENT, FollowUpStep.DUE): 2,
        (Obligation.ACKNOWLEDGEMENT, FollowUpStep.OVERDUE): 2,
        (Obligation.ACKNOWLEDGEMENT, FollowUpStep.ESCALATE_HEAD): 2,
        (Obligation.ACKNOWLEDGEMENT, FollowUpStep.ESCALATE_ADMIN): 2,
        (Obligation.PLAN, FollowUpStep.DUE_SOON): 2,
        (Obligation.PLAN, FollowUpStep.OVERDUE): 2,
        (Obligation.PLAN, FollowUpStep.ESCALATE_HEAD): 2,
        (Obligation.ITEM_DEADLINE, FollowUpStep.DUE_SOON): 2,
        (Obligation.ITEM_DEADLINE, FollowUpStep.DUE): 2,
        (Obligation.ITEM_DEADLINE, FollowUpStep.OVERDUE): 2,
        (Obligation.ITEM_DEADLINE, FollowUpStep.ESCALATE_HEAD): 2,
        (Obligation.ITEM_DEADLINE, FollowUpStep.ESCALATE_ADMIN): 2,
    }
    assert all(n.status == "sent" for n in notes)

    # The receiver's log: every message once, and exactly what the outbox says was sent.
    log = [(m.path, m.title, m.body) for m in inbox.log]
    assert len(log) == len(set(log)), "a message arrived twice"
    assert Counter(m.path for m in inbox.log) == Counter(n.recipient for n in notes)
    ladder = {(n.recipient, n.title) for n in notes if n.event_key.startswith("followup:")}
    assert {(m.path, m.title) for m in inbox.log} >= ladder
    per_officer = Counter(m.title.split("】")[0] + "】" for m in inbox.log if m.path in officers)
    # Each officer: 签收提醒, 签收超期, 方案到期提醒, 方案超期, 到期提醒, 今日到期, 预警 — one each.
    expected_officer = {
        "【签收提醒】": 2,
        "【签收超期】": 2,
        "【方案到期提醒】": 2,
        "【方案超期】": 2,
        "【到期提醒】": 2,
        "【今日到期】": 2,
        "【预警】": 2,
    }
    assert {k: per_officer[k] for k in expected_officer} == expected_officer
    escalations = [m for m in inbox.log if m.title.startswith("【督办】")]
    assert Counter(m.path for m in escalations) == {
        **{tag: 3 for tag in head_tags},  # 签收, 方案, 整改 — one each per department
        "role-administrator": 4,  # 签收 and 整改 for both items
        "role-approver": 4,
    }
