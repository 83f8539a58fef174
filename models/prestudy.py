"""商前调研: research assignments and their findings (不调研不协商)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field
from sqlalchemy import exists
from sqlmodel import Session, select

from models.base import Body, Page, utcnow
from models.case import addressed, audit, close_follow_ups, get, queue, schedule_follow_ups
from models.deadlines import end_of_day, format_local, local_today
from models.enums import Obligation, Stage, StageState
from models.errors import Conflict, Invalid
from models.stages import ensure_open, ensure_preparing, settle, under_way
from models.tables import (
    FollowUp,
    Person,
    ResearchTask,
    ResearchTaskBase,
    ResearchTaskRecord,
    Topic,
)


class ResearchTaskCreate(ResearchTaskBase, Body):
    """Request body: one research assignment with an owner and a due date."""

    due_date: dt.date = Field(description="调研成果提交日期（当日 24 时前）")


class ResearchTaskPublic(ResearchTaskRecord):
    id: int


class ResearchTasksPublic(Page[ResearchTaskPublic]):
    """A topic's research tasks."""


class FindingsIn(Body):
    """Request body: what the research found."""

    findings: str = Field(min_length=5, max_length=20000)


def create_task(session: Session, topic_id: int, data: ResearchTaskCreate) -> ResearchTask:
    topic = get(session, Topic, topic_id, for_update=True)
    ensure_preparing(topic, Stage.PRESTUDY, "安排调研任务")
    get(session, Person, data.owner_id)
    if data.due_date < local_today(utcnow()):
        raise Invalid("调研截止日期不能早于今天", field="due_date")
    task = ResearchTask(
        topic_id=topic_id,
        title=data.title,
        method=data.method,
        owner_id=data.owner_id,
        due_at=end_of_day(data.due_date),
    )
    session.add(task)
    session.flush()
    audit(session, action="research_task_created", topic_id=topic_id, task_id=task.id)
    if under_way(topic, Stage.PRESTUDY):
        assign(session, topic_id, task_ids=[task.id])  # type: ignore[list-item]
    return task


def assign(
    session: Session,
    topic_id: int,
    *,
    task_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Tell each owner not yet told what to research and by when; chase the due dates."""
    now = now or utcnow()
    topic = get(session, Topic, topic_id)
    stmt = (
        select(ResearchTask, Person)
        .join(Person, Person.id == ResearchTask.owner_id)  # type: ignore[arg-type]
        .where(
            ResearchTask.topic_id == topic_id,
            ResearchTask.submitted_at.is_(None),  # type: ignore[union-attr]
            ~exists().where(
                FollowUp.obligation == Obligation.RESEARCH,  # type: ignore[arg-type]
                FollowUp.subject_id == ResearchTask.id,  # type: ignore[arg-type]
            ),
        )
    )
    if task_ids is not None:
        stmt = stmt.where(ResearchTask.id.in_(task_ids))  # type: ignore[union-attr]
    rows = session.exec(stmt).all()
    for task, owner in rows:
        key = f"research:{task.id}:assigned"
        queue(
            session,
            event_key=key,
            recipients=[owner.tag],
            salutations=addressed(session, owner),
            template="research_assigned",
            topic_id=topic_id,
            topic=topic,
            task=task,
            owner=owner,
            deadline=format_local(task.due_at),
        )
        schedule_follow_ups(
            session,
            obligation=Obligation.RESEARCH,
            subject_id=task.id,  # type: ignore[arg-type]
            topic_id=topic_id,
            owed_by_id=owner.id,
            deadline=task.due_at,
            now=now,
        )
    return len(rows)


def submit_findings(
    session: Session, task_id: int, data: FindingsIn, *, by: int | None
) -> ResearchTask:
    task = get(session, ResearchTask, task_id, for_update=True)
    topic = get(session, Topic, task.topic_id, for_update=True)
    person = get(session, Person, by)
    ensure_open(topic, "提交调研成果")
    if topic.stage != Stage.PRESTUDY or topic.stage_state == StageState.NOT_STARTED:
        raise Conflict("“商前调研”环节尚未启动，不能提交调研成果")
    if task.submitted_at is not None:
        raise Conflict("该调研任务的成果已提交")
    task.findings = data.findings
    task.submitted_at = utcnow()
    close_follow_ups(
        session, obligation=Obligation.RESEARCH, subject_ids=[task_id], outcome="已提交成果"
    )
    audit(session, action="findings_submitted", topic_id=topic.id, actor=person, task_id=task_id)
    settle(session, topic)
    return task
