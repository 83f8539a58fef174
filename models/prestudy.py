"""商前调研: research assignments and their findings (不调研不协商)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, StrictBool
from sqlalchemy import exists
from sqlmodel import Session, select

from models.base import Body, Page, utcnow
from models.case import (
    addressed,
    audit,
    close_follow_ups,
    get,
    queue,
    role_tag,
    schedule_follow_ups,
    touch,
)
from models.deadlines import end_of_day, format_local, local_today
from models.enums import Obligation, Role, Stage, StageState
from models.errors import Conflict, Forbidden, Invalid
from models.stages import ensure_open, ensure_preparing, settle, under_way
from models.tables import (
    FollowUp,
    Person,
    ResearchSummary,
    ResearchSummaryRecord,
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
        required=data.required,
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


class SummaryIn(Body):
    """Request body: the research summary (调研报告) drawn from the findings."""

    content: str = Field(min_length=20, max_length=50000)


class SummaryReview(Body):
    """Request body: the office accepts the summary, or returns it saying what is missing."""

    accepted: StrictBool
    note: str | None = Field(default=None, max_length=1000)


class SummaryPublic(ResearchSummaryRecord):
    id: int


def summary_of(session: Session, topic_id: int) -> ResearchSummary | None:
    return session.exec(select(ResearchSummary).where(ResearchSummary.topic_id == topic_id)).first()


def missing_findings(session: Session, topic_id: int) -> list[ResearchTask]:
    """Required tasks whose findings are not in yet."""
    return list(
        session.exec(
            select(ResearchTask).where(
                ResearchTask.topic_id == topic_id,
                ResearchTask.required.is_(True),  # type: ignore[attr-defined]
                ResearchTask.submitted_at.is_(None),  # type: ignore[union-attr]
            )
        )
    )


def submit_summary(
    session: Session, topic_id: int, data: SummaryIn, *, by: int | None
) -> ResearchSummary:
    """The office or one who did the research writes the summary once every required task's
    findings are in; a returned summary is revised the same way and goes back for review."""
    topic = get(session, Topic, topic_id, for_update=True)
    person = get(session, Person, by)
    ensure_open(topic, "提交调研报告")
    if topic.stage != Stage.PRESTUDY or topic.stage_state == StageState.NOT_STARTED:
        raise Conflict("“商前调研”环节未在进行中，不能提交调研报告")
    if topic.stage_state == StageState.DONE:
        raise Conflict("调研报告已通过审核，“商前调研”环节已完成")
    owners = set(
        session.exec(select(ResearchTask.owner_id).where(ResearchTask.topic_id == topic_id))
    )
    if person.role != Role.ADMINISTRATOR and person.id not in owners:
        raise Forbidden("只有协商办工作人员或本议题的调研责任人可以提交调研报告")
    missing = missing_findings(session, topic_id)
    if missing:
        raise Conflict(
            f"尚有 {len(missing)} 项必做调研任务未提交成果（{missing[0].title} 等），"
            "不能形成调研报告（不调研不协商）"
        )
    summary = summary_of(session, topic_id)
    now = utcnow()
    if summary is None:
        summary = ResearchSummary(
            topic_id=topic_id,
            content=data.content,
            submitted_by_id=person.id,  # type: ignore[arg-type]
        )
        session.add(summary)
    elif summary.accepted_at is not None:
        raise Conflict("调研报告已通过审核，不能再修改")
    else:
        summary.content = data.content
        summary.submitted_by_id = person.id  # type: ignore[assignment]
        summary.submitted_at = now
        summary.returned_at = None
    session.flush()
    audit(session, action="research_summary_submitted", topic_id=topic_id, actor=person)
    queue(
        session,
        event_key=f"topic:{topic_id}:research_summary:{summary.version}",
        recipients=[role_tag(Role.ADMINISTRATOR)],
        template="research_summary_submitted",
        topic_id=topic_id,
        topic=topic,
        author=person.name,
    )
    touch(topic)
    return summary


def review_summary(
    session: Session, topic_id: int, data: SummaryReview, *, by: int | None
) -> ResearchSummary:
    """Accepted: the stage is done and the session may be scheduled. Returned: the author is
    told what is missing."""
    topic = get(session, Topic, topic_id, for_update=True)
    admin = get(session, Person, by)
    if admin.role != Role.ADMINISTRATOR:
        raise Forbidden("只有协商办工作人员可以审核调研报告")
    summary = summary_of(session, topic_id)
    if summary is None:
        raise Conflict("尚未提交调研报告")
    if summary.accepted_at is not None:
        raise Conflict("调研报告已通过审核（可能他人刚刚审核）")
    if summary.returned_at is not None:
        raise Conflict("调研报告已退回修改，待重新提交后再审核")
    note = (data.note or "").strip() or None
    if not data.accepted and note is None:
        raise Invalid("退回调研报告须写明需要补充或修改的内容", field="note")
    now = utcnow()
    summary.reviewed_by_id = admin.id
    summary.review_note = note
    if data.accepted:
        summary.accepted_at = now
    else:
        summary.returned_at = now
        author = get(session, Person, summary.submitted_by_id)
        queue(
            session,
            event_key=f"topic:{topic_id}:research_summary:{summary.version}:returned",
            recipients=[author.tag],
            salutations=addressed(session, author),
            template="research_summary_returned",
            topic_id=topic_id,
            topic=topic,
            note=note,
        )
    audit(
        session,
        action="research_summary_reviewed",
        topic_id=topic_id,
        actor=admin,
        accepted=data.accepted,
        note=note,
    )
    session.flush()
    settle(session, topic)
    return summary
