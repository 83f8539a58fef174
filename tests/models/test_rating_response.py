"""Satisfaction counts only those who rated; beside it, how many of those asked to rate did
(issue 9 point 8: the response rate is shown with the satisfaction). On SQLite and PostgreSQL,
with the records behind both numbers."""

from __future__ import annotations

from models import assessment, kpi_board, kpis
from models.base import utcnow
from models.enums import Stage
from models.kpi_board import Scope


def _now(session, topic_id: int) -> dict:  # type: ignore[no-untyped-def]
    return kpis.compute(session, kpis.Window.as_of(utcnow()), topic_id=topic_id)


def test_the_response_rate_counts_who_of_those_asked_rated(loop, session):
    c = loop.cast
    topic = loop.advance(loop.topic(), to=Stage.ASSESSMENT, start=True)  # asks who took part
    before = _now(session, topic.id)
    assert before["rating_requests"] == 2  # the resident and the member who took part
    assert before["rating_requests_answered"] == 0 and before["rating_response_rate"] == 0.0
    assert before["satisfaction_rate"] is None  # nobody rated: nothing to be satisfied with

    assessment.rate(session, topic.id, assessment.RatingIn(score=5), by=c.resident.id)
    # Someone not asked may rate too: a rating, not an answer to a request.
    assessment.rate(session, topic.id, assessment.RatingIn(score=2), by=c.resident2.id)
    session.flush()
    got = _now(session, topic.id)
    assert (got["rating_requests"], got["rating_requests_answered"]) == (2, 1)
    assert got["rating_response_rate"] == 0.5
    assert got["ratings"] == 2 and got["satisfaction_rate"] == 0.5  # among those who rated

    period = kpi_board.parse_period(None)  # everything up to now
    asked = kpi_board.records(
        session, "rating_response_rate", "denominator", period, Scope(topic_id=topic.id)
    )
    answered = kpi_board.records(
        session, "rating_response_rate", "numerator", period, Scope(topic_id=topic.id)
    )
    assert sorted(r.text for r in asked.data) == sorted([c.resident.name, c.member.name])
    assert [(r.text, r.code_label) for r in answered.data] == [(c.resident.name, "已评价")]
