"""What a person owes (我的待办): the open obligations of the follow-up ladders addressed to him,
by name or by his role, most urgent first, in one SELECT per page.

An obligation is owed while one of its rungs is open or was sent and the owed thing is still
not done (`fulfilled_condition`): after the last rung of a ladder has fired, the officer still
owes the 签收, and the page must still show it."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from config.links import ADDRESS
from models.base import PAGE_SIZE, page_count, utcnow
from models.calendar import calendar_for
from models.deadlines import WorkdayCounter, format_local, local_today
from models.enums import FollowUpStatus, Obligation, Role, TopicStatus
from models.obligations import DEFAULT_OWNER_ROLE, ITEM_OBLIGATIONS, SPECS, fulfilled_condition
from models.tables import (
    LEVEL_LABELS,
    LEVEL_NONE,
    RUNG_LEVELS,
    FollowUp,
    Person,
    RectificationItem,
    ResearchTask,
    Topic,
)

# Topics anyone may follow on the public progress page.
PUBLIC_STATUSES = (TopicStatus.IN_PROGRESS, TopicStatus.CLOSED)
# What a department person owes on an item and does on the item's page (签收, 方案, 整改期限).
ITEM_PAGE_OBLIGATIONS = (Obligation.ACKNOWLEDGEMENT, Obligation.PLAN, Obligation.ITEM_DEADLINE)
_PRINTED_ADDRESS = re.compile(r"[（(][^（()）]*" + ADDRESS.pattern + r"[^（()）]*[）)]")


@dataclass(frozen=True)
class WorkLine:
    """One thing a person owes, as the my-work page shows it."""

    obligation: Obligation
    label: str
    how_to_act: str
    topic_id: int
    topic_title: str
    topic_public: bool  # its public progress page exists
    subject_id: int
    subject_title: str | None  # the item or research task, where the obligation is about one
    item_id: int | None  # the item whose page is where the person acts on this obligation
    deadline: dt.datetime
    deadline_text: str
    time_left: str
    overdue: bool
    provisional: bool  # the deadline or a reminder of it rests on an estimated calendar (暂估)
    level: int
    level_label: str


@dataclass(frozen=True)
class WorkPage:
    lines: list[WorkLine]
    count: int
    page: int
    pages: int


def how_to_act(obligation: Obligation) -> str:
    """The obligation's 'how to act' for a person on a page: without the HTTP address that
    messages still print."""
    spec = SPECS[obligation]
    text = spec.digest_how_to_act or spec.how_to_act
    return _PRINTED_ADDRESS.sub("", text)


def _owed_by(person: Person) -> sa.ColumnElement[bool]:
    """Rows owed by this person by name, or by his role where no single person owes them."""
    by_role = [o for o, role in DEFAULT_OWNER_ROLE.items() if role == Role(person.role)]
    clause: sa.ColumnElement[bool] = col(FollowUp.owed_by_id) == person.id
    if by_role:
        clause = sa.or_(
            clause,
            sa.and_(col(FollowUp.owed_by_id).is_(None), col(FollowUp.obligation).in_(by_role)),
        )
    return clause


def my_work(
    session: Session,
    person: Person,
    *,
    page: int = 1,
    now: dt.datetime | None = None,
    page_size: int = PAGE_SIZE,
) -> WorkPage:
    """One page of what the person owes, the earliest deadline first (overdue ones on top)."""
    now = now or utcnow()
    page = max(page, 1)
    # Aliases: the fulfilment conditions correlate to follow_up only, never to these joins.
    topic = aliased(Topic)
    item = aliased(RectificationItem)
    task = aliased(ResearchTask)
    rung = sa.case(
        *(
            (sa.and_(col(FollowUp.status) == FollowUpStatus.SENT, col(FollowUp.step) == s), lvl)
            for s, lvl in RUNG_LEVELS.items()
        ),
        else_=LEVEL_NONE,
    )
    provisional = sa.case((col(FollowUp.provisional).is_(True), 1), else_=0)
    keys = (
        col(FollowUp.obligation),
        col(FollowUp.subject_id),
        col(FollowUp.topic_id),
        col(FollowUp.deadline),
        col(topic.title),
        col(topic.status),
        col(item.title),
        col(task.title),
    )
    stmt = (
        sa.select(
            *keys,
            sa.func.max(provisional),
            sa.func.max(rung),
            sa.func.count().over(),
        )
        .select_from(FollowUp)
        .join(topic, col(topic.id) == col(FollowUp.topic_id))
        .outerjoin(
            item,
            sa.and_(
                col(FollowUp.obligation).in_(ITEM_OBLIGATIONS),
                col(item.id) == col(FollowUp.subject_id),
            ),
        )
        .outerjoin(
            task,
            sa.and_(
                col(FollowUp.obligation) == Obligation.RESEARCH,
                col(task.id) == col(FollowUp.subject_id),
            ),
        )
        .where(
            col(FollowUp.status).in_([FollowUpStatus.OPEN, FollowUpStatus.SENT]),
            _owed_by(person),
            sa.not_(fulfilled_condition()),
        )
        .group_by(*keys)
        .order_by(col(FollowUp.deadline), col(FollowUp.obligation), col(FollowUp.subject_id))
        .limit(page_size)
        .offset((page - 1) * page_size)
    )
    rows = session.execute(stmt).all()
    counter = WorkdayCounter(calendar_for(session), local_today(now))
    lines = []
    count = 0
    for (
        obligation,
        subject_id,
        topic_id,
        deadline,
        topic_title,
        topic_status,
        item_title,
        task_title,
        estimated,
        level,
        total,
    ) in rows:
        obligation = Obligation(obligation)
        count = total
        lines.append(
            WorkLine(
                obligation=obligation,
                label=SPECS[obligation].label,
                how_to_act=how_to_act(obligation),
                topic_id=topic_id,
                topic_title=topic_title,
                topic_public=TopicStatus(topic_status) in PUBLIC_STATUSES,
                subject_id=subject_id,
                subject_title=item_title or task_title,
                item_id=subject_id if obligation in ITEM_PAGE_OBLIGATIONS else None,
                deadline=deadline,
                deadline_text=format_local(deadline),
                time_left=counter.time_left(deadline),
                overdue=now > deadline,
                provisional=bool(estimated),
                level=int(level),
                level_label=LEVEL_LABELS[int(level)],
            )
        )
    if not rows and page > 1:
        # Past the last page: the count is still wanted for the pager.
        return WorkPage([], _count(session, person), page, 0)
    pages = page_count(count, page_size)
    return WorkPage(lines, count, page, pages)


def _count(session: Session, person: Person) -> int:
    grouped = (
        sa.select(col(FollowUp.obligation), col(FollowUp.subject_id), col(FollowUp.deadline))
        .where(
            col(FollowUp.status).in_([FollowUpStatus.OPEN, FollowUpStatus.SENT]),
            _owed_by(person),
            sa.not_(fulfilled_condition()),
        )
        .group_by(col(FollowUp.obligation), col(FollowUp.subject_id), col(FollowUp.deadline))
        .subquery()
    )
    return int(session.execute(sa.select(sa.func.count()).select_from(grouped)).scalar_one())
