"""不调研不协商 (issue 9 point 3): each research task has a method; the pre-study is done only
when every required task's findings are in and the research summary has been accepted by the
office — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import prestudy, stages
from models.enums import ResearchMethod, Stage, StageState
from models.errors import Conflict, Forbidden, Invalid
from models.tables import Notification, ResearchTask


def _in_prestudy(loop, *, optional_task: bool = False):  # type: ignore[no-untyped-def]
    topic = loop.advance(loop.topic(), to=Stage.PRESTUDY)
    if optional_task:
        prestudy.create_task(
            loop.s,
            topic.id,
            prestudy.ResearchTaskCreate(
                title="线上问卷（补充）",
                method=ResearchMethod.QUESTIONNAIRE,
                owner_id=loop.cast.expert.id,
                required=False,
                due_date=loop.today + dt.timedelta(days=20),
            ),
        )
    loop.run_stage(topic, Stage.PRESTUDY)
    return topic


def _findings(loop, topic, *, required_only: bool = True) -> None:  # type: ignore[no-untyped-def]
    for task in loop.s.exec(select(ResearchTask).where(ResearchTask.topic_id == topic.id)):
        if task.required or not required_only:
            prestudy.submit_findings(
                loop.s, task.id, prestudy.FindingsIn(findings="走访 120 户"), by=task.owner_id
            )


SUMMARY = prestudy.SummaryIn(
    content="调研报告：走访 120 户，多数住户支持加装电梯，低层住户关心补偿。"
)


def test_findings_alone_do_not_open_the_session_the_accepted_summary_does(loop, session):
    c = loop.cast
    topic = _in_prestudy(loop, optional_task=True)
    with pytest.raises(Conflict, match="必做调研任务未提交成果"):
        prestudy.submit_summary(session, topic.id, SUMMARY, by=c.admin.id)
    _findings(loop, topic)  # the optional questionnaire is still out: it holds nothing
    assert stages.completion_reason(session, topic) == "调研报告尚未提交"
    assert topic.stage_state == StageState.WAITING
    prestudy.submit_summary(session, topic.id, SUMMARY, by=c.member.id)  # a task owner writes it
    assert stages.completion_reason(session, topic) == "调研报告待协商办审核"
    told = session.exec(
        select(Notification).where(Notification.template == "research_summary_submitted")
    ).one()
    assert topic.title in told.body
    with pytest.raises(Conflict, match="不调研不协商"):  # no session may even be scheduled
        loop.prepare(topic, Stage.SESSION)
    prestudy.review_summary(session, topic.id, prestudy.SummaryReview(accepted=True), by=c.admin.id)
    assert topic.stage_state == StageState.DONE
    loop.prepare(topic, Stage.SESSION)
    stages.check_can_start(session, topic, Stage.SESSION)


def test_a_returned_summary_says_what_is_missing_and_is_revised(loop, session):
    c = loop.cast
    topic = _in_prestudy(loop)
    _findings(loop, topic)
    prestudy.submit_summary(session, topic.id, SUMMARY, by=c.member.id)
    with pytest.raises(Invalid, match="写明需要补充"):
        prestudy.review_summary(
            session, topic.id, prestudy.SummaryReview(accepted=False), by=c.admin.id
        )
    prestudy.review_summary(
        session,
        topic.id,
        prestudy.SummaryReview(accepted=False, note="请补充费用测算"),
        by=c.admin.id,
    )
    assert stages.completion_reason(session, topic) == "调研报告已退回修改：请补充费用测算"
    returned = session.exec(
        select(Notification).where(Notification.template == "research_summary_returned")
    ).one()
    assert returned.recipient == c.member.tag and "请补充费用测算" in returned.body
    with pytest.raises(Conflict, match="待重新提交"):
        prestudy.review_summary(
            session, topic.id, prestudy.SummaryReview(accepted=True), by=c.admin.id
        )
    revised = prestudy.SummaryIn(content=SUMMARY.content + "费用测算：每部约 60 万元。")
    prestudy.submit_summary(session, topic.id, revised, by=c.member.id)
    prestudy.review_summary(session, topic.id, prestudy.SummaryReview(accepted=True), by=c.admin.id)
    assert prestudy.summary_of(session, topic.id).content.endswith("每部约 60 万元。")  # type: ignore[union-attr]
    with pytest.raises(Conflict, match="已通过审核"):
        prestudy.submit_summary(session, topic.id, SUMMARY, by=c.member.id)


def test_only_the_office_or_a_researcher_writes_it_and_only_the_office_accepts(loop, session):
    c = loop.cast
    topic = _in_prestudy(loop)
    _findings(loop, topic)
    with pytest.raises(Forbidden, match="调研责任人"):
        prestudy.submit_summary(session, topic.id, SUMMARY, by=c.resident.id)
    prestudy.submit_summary(session, topic.id, SUMMARY, by=c.member.id)
    with pytest.raises(Forbidden, match="协商办工作人员"):
        prestudy.review_summary(
            session, topic.id, prestudy.SummaryReview(accepted=True), by=c.member.id
        )
    assert topic.stage_state == StageState.WAITING
