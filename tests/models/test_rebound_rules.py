"""A failed 回头看 sends the problem back (issue 9 point 8): a new item, linked to the one it
reopens, for the same department with a fresh ladder (签收, plan, deadline), which counts as a
rebound and keeps the assessment open until it is done; and "solved" counts only once a re-check
or a satisfied rating of the item confirmed it. On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from models import assessment, kpis, rectification
from models.base import utcnow
from models.enums import FollowUpStatus, ItemStatus, Obligation, Stage
from models.errors import Conflict
from models.tables import FollowUp, Notification, RectificationItem, Topic
from tests.factories import LoopBuilder


def _completed_topic(loop: LoopBuilder) -> tuple[Topic, list[RectificationItem]]:
    """A topic in its assessment, every item planned and completed (recorded solved)."""
    topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
    items = loop.items(topic)
    for item in items:
        loop.plan(item)
        loop.complete(item)
    loop.s.flush()
    loop.run_stage(topic, Stage.ASSESSMENT)
    return topic, items


def _recheck(loop: LoopBuilder, item: RectificationItem, *, rebound: bool) -> None:
    rectification.recheck(
        loop.s,
        item.id,  # type: ignore[arg-type]
        rectification.RecheckIn(rebound=rebound, note="楼道灯又不亮了" if rebound else "保持良好"),
        by=loop.cast.admin.id,
    )
    loop.s.flush()


def _reopened(session: Session, item: RectificationItem) -> RectificationItem:
    return session.exec(
        select(RectificationItem).where(RectificationItem.reopened_from_id == item.id)
    ).one()


def _open_follow_ups(session: Session, item: RectificationItem, obligation: Obligation) -> Any:
    return session.exec(
        select(FollowUp).where(
            FollowUp.subject_id == item.id,
            FollowUp.obligation == obligation,
            FollowUp.status == FollowUpStatus.OPEN,
        )
    ).all()


def test_a_failed_recheck_reopens_the_item_for_the_same_department_with_a_fresh_ladder(
    loop, session
):
    topic, items = _completed_topic(loop)
    first = items[0]
    _recheck(loop, first, rebound=True)

    again = _reopened(session, first)
    assert again.id != first.id and again.topic_id == topic.id
    assert (again.lead_department_id, again.officer_id) == (
        first.lead_department_id,
        first.officer_id,
    )
    assert again.status == ItemStatus.TRANSFERRED and again.ack_due_at is not None
    assert again.deadline > again.ack_due_at  # a deadline of its own, working days ahead
    assert _open_follow_ups(session, again, Obligation.ACKNOWLEDGEMENT)
    # The finished item keeps its record: completed, re-checked, a rebound.
    assert first.status == ItemStatus.COMPLETED and first.rebound is True
    texts = [
        n.body
        for n in session.exec(select(Notification).where(Notification.topic_id == topic.id))
        if n.template == "rebound"
    ]
    assert texts and "重新交办" in texts[0] and f"/work/items/{again.id}" in texts[0]


def test_the_reopened_item_is_worked_through_during_the_assessment(loop, session):
    topic, items = _completed_topic(loop)
    _recheck(loop, items[0], rebound=True)
    again = _reopened(session, items[0])
    assert topic.stage == Stage.ASSESSMENT

    with pytest.raises(Conflict, match="不能退回"):
        rectification.decline(
            session,
            again.id,  # type: ignore[arg-type]
            rectification.DeclineIn(code="not_our_duty", reason="不归我们管"),
            by=again.officer_id,
        )
    rectification.acknowledge(session, again.id, by=again.officer_id)  # type: ignore[arg-type]
    session.flush()
    # No stage start is coming: the plan is asked for at once, with the deadline's ladder.
    assert again.plan_due_at is not None
    assert _open_follow_ups(session, again, Obligation.PLAN)
    assert _open_follow_ups(session, again, Obligation.ITEM_DEADLINE)

    assessment.rate(session, topic.id, assessment.RatingIn(score=4), by=loop.cast.resident.id)
    with pytest.raises(Conflict, match="重新交办的整改事项未办结"):
        assessment.close(
            session, topic.id, assessment.AssessmentClose(summary="评估完成"), by=loop.cast.admin.id
        )
    loop.plan(again)
    loop.complete(again)
    session.flush()
    assert again.status == ItemStatus.COMPLETED and again.recheck_due_at is not None
    assessment.close(
        session, topic.id, assessment.AssessmentClose(summary="评估完成"), by=loop.cast.admin.id
    )


def test_a_rebound_counts_and_the_rework_is_one_more_item(loop, session):
    topic, items = _completed_topic(loop)
    _recheck(loop, items[0], rebound=True)
    _recheck(loop, items[1], rebound=False)
    got = kpis.compute(session, kpis.Window.as_of(utcnow()), topic_id=topic.id)
    assert got["items_rechecked"] == 2 and got["items_rebound"] == 1
    assert got["rebound_rate"] == 0.5
    assert got["items_transferred"] == len(items) + 1  # the reopened item is work of its own


def test_solved_counts_only_once_a_recheck_or_a_satisfied_rating_confirms_it(loop, session):
    topic, items = _completed_topic(loop)
    first, second = items[0], items[1]

    def solved() -> int:
        return kpis.compute(session, kpis.Window.as_of(utcnow()), topic_id=topic.id)["items_solved"]

    assert first.solved and second.solved  # the officers recorded both solved
    assert solved() == 0  # their word alone is not enough
    assessment.rate(
        session,
        topic.id,
        assessment.RatingIn(score=2, item_id=second.id),
        by=loop.cast.resident.id,
    )
    session.flush()
    assert solved() == 0  # an unsatisfied rating confirms nothing
    _recheck(loop, first, rebound=False)
    assert solved() == 1
    assessment.rate(
        session,
        topic.id,
        assessment.RatingIn(score=5, item_id=second.id),
        by=loop.cast.resident2.id,
    )
    session.flush()
    assert solved() == 2


def test_a_rebound_is_never_solved(loop, session):
    topic, items = _completed_topic(loop)
    _recheck(loop, items[0], rebound=True)
    got = kpis.compute(session, kpis.Window.as_of(utcnow()), topic_id=topic.id)
    assert got["items_solved"] == 0
