"""A fixed case file for October 2026 whose KPIs are worked out by hand below.

Rows are inserted directly (not through the operations) so every timestamp is exact.
Times are local Asia/Shanghai; the period is [2026-10-01 00:00, 2026-11-01 00:00).

Department 区住建局 (topic T1)
  a1 transferred 09-01, deadline 10-10, completed 10-08: on time, solved, long-term
  a2 transferred 09-01, deadline 10-20, completed 10-25: late, solved
  a3 transferred 09-01, deadline 10-15, open: overdue 16 days at the end
  a4 transferred 10-05, ack due 10-08, acknowledged 10-07; deadline 12-31: open, not due
  a5 transferred 08-01, deadline 09-20, completed 09-25 (before the period: not counted),
     re-checked 10-26 and rebounded
  a6 transferred 10-03, ack due 10-06, acknowledged 10-09 (late); deadline 10-30,
     completed 11-01 00:10 (after the period): overdue 1 day at the end
  a7 draft, never transferred: not counted
  → items 5, due 4 (a1 a2 a3 a6), completed 2, on time 1, solved 1 (a1: recorded solved and
    rated satisfied; a2's only rating is a 2), long-term 1, overdue 2,
    transferred 2, acknowledged on time 1, re-checked 1, rebound 1
    ratings in October on a1 (5, 4) and a2 (2); one on a1 in November (1) is not counted
Department 城南街道 (topic T1)
  b1 deadline 10-05 completed 10-04 solved, re-checked 10-20 and held (no rebound);
  b2 deadline 10-12 completed 10-12 14:00 (on time: a deadline is the whole day) not solved;
  b3 deadline 11-30 completed 10-31 23:30 (early, and still October);
  b4 declined (退回待改派), deadline 10-10: not counted
  → items 3, due 3, completed 3, on time 3, solved 1 (b1, whose 回头看 held; b3 is recorded
    solved but unconfirmed), re-checked 1, rebound 0
Department 区交通局 (topic T2)
  c1-c3 deadline 10-10 completed 10-09, 10-12, 10-15; c4 deadline 09-28 open
  → due 4, completed 3, on time 1, overdue 1 (33 days)
Department 区卫健委 (topic T2)
  g1-g3 deadline 10-20 completed 10-18; g4 deadline 10-25 open
  → due 4, completed 3, on time 3, overdue 1 (6 days)
Department 区水务局 (topic T2): d1 deadline 10-10 completed 10-09 → 1 due, 100 %, one lucky item
Department 区市场监管局 (topic T2): e1 transferred 10-20, ack due 10-23, acknowledged 10-21,
  deadline 12-31 → items 1, due 0, transferred 1, acknowledged on time 1
Department 区教育局 (topic T2): f1 completed 09-10 → nothing in October, not listed
Topic T1 also has one topic-level rating in October (4).
Suggestions (no decision time: they count in every window): T1 has 5, adopted 3, not
adopted 1, pending 1 → decided 4, adopted 3; T2 has 1, adopted.

On-time rate = on time / (completed + open past the deadline at the end) — an open overdue
item is not on time. October per department: 区住建局 1 / (2 + 2 overdue a3 a6) = 25 %,
城南街道 3 / 3, 区交通局 1 / (3 + 1) = 25 %, 区卫健委 3 / (3 + 1) = 75 %, 区水务局 1 / 1.

Ranking with at least 3 items due: 城南街道 100 %, 区卫健委 75 % (on time 75 %),
区交通局 75 % (on time 25 %), 区住建局 50 % → 红榜 (target 80 % met, nothing overdue) 城南街道;
黑榜 (below the target or overdue, worst first) 区住建局, 区交通局, 区卫健委.
区水务局 (1 item) and 区市场监管局 (0) are not ranked.

Interim, as of 2026-10-20 10:00: overdue are c4 (22 days) and a3 (5 days) only — c2 and c3
were done by then, g1-g4 and a2 fall due on 10-20 at 23:59:59 or later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlmodel import Session

from models.enums import Adoption, ItemStatus, Role, SessionForm, TopicSource
from models.tables import (
    ConsultationSession,
    Department,
    Person,
    Rating,
    RectificationItem,
    Suggestion,
    Topic,
)

TZ = ZoneInfo("Asia/Shanghai")


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ)


def deadline(month: int, day: int) -> dt.datetime:
    return dt.datetime(2026, month, day, 23, 59, 59, tzinfo=TZ)


@dataclass
class Dataset:
    departments: dict[str, int] = field(default_factory=dict)
    topics: dict[str, int] = field(default_factory=dict)
    items: dict[str, int] = field(default_factory=dict)


DEPARTMENTS = {
    "a": "区住建局",
    "b": "城南街道",
    "c": "区交通局",
    "g": "区卫健委",
    "d": "区水务局",
    "e": "区市场监管局",
    "f": "区教育局",
}


def build(session: Session) -> Dataset:
    ds = Dataset()
    officers: dict[str, int] = {}
    for key, name in DEPARTMENTS.items():
        dept = Department(name=name, tag=f"dept-t{key}")
        session.add(dept)
        session.flush()
        ds.departments[key] = dept.id  # type: ignore[assignment]
        person = Person(
            name=f"{name}联络员", role=Role.OFFICER, department_id=dept.id, tag=f"p-t{key}"
        )
        session.add(person)
        session.flush()
        officers[key] = person.id  # type: ignore[assignment]
    for role in (Role.ADMINISTRATOR, Role.APPROVER):
        session.add(Person(name=f"测试{role.value}", role=role, tag=f"p-{role.value}"))
    suggestions: dict[str, int] = {}
    for key, title in (("T1", "老旧小区加装电梯"), ("T2", "背街小巷环境整治")):
        topic = Topic(title=title, source=TopicSource.PARTY_GOVERNMENT)
        session.add(topic)
        session.flush()
        meeting = ConsultationSession(
            topic_id=topic.id, form=SessionForm.THEMATIC, starts_at=at(7, 1)
        )  # type: ignore[arg-type]
        session.add(meeting)
        session.flush()
        sugg = Suggestion(
            topic_id=topic.id,  # type: ignore[arg-type]
            session_id=meeting.id,  # type: ignore[arg-type]
            content="建议",
            adoption=Adoption.ADOPTED,
        )
        session.add(sugg)
        extra = [Adoption.ADOPTED, Adoption.ADOPTED, Adoption.NOT_ADOPTED, Adoption.PENDING]
        for adoption in extra if key == "T1" else []:
            session.add(
                Suggestion(
                    topic_id=topic.id,  # type: ignore[arg-type]
                    session_id=meeting.id,  # type: ignore[arg-type]
                    content="其他建议",
                    adoption=adoption,
                )
            )
        session.flush()
        ds.topics[key] = topic.id  # type: ignore[assignment]
        suggestions[key] = sugg.id  # type: ignore[assignment]

    def item(
        name: str,
        dept: str,
        topic: str,
        due: dt.datetime,
        *,
        transferred: dt.datetime | None = at(9, 1),
        ack_due: dt.datetime | None = None,
        acknowledged: dt.datetime | None = None,
        completed: dt.datetime | None = None,
        status: ItemStatus | None = None,
        **extra: object,
    ) -> None:
        if transferred is not None:
            ack_due = ack_due or transferred + dt.timedelta(days=3)
            acknowledged = acknowledged or transferred + dt.timedelta(days=1)
        row = RectificationItem(
            topic_id=ds.topics[topic],
            suggestion_id=suggestions[topic],
            title=f"整改事项{name}",
            lead_department_id=ds.departments[dept],
            officer_id=officers[dept],
            deadline=due,
            status=status or (ItemStatus.COMPLETED if completed else ItemStatus.IN_PROGRESS),
            transferred_at=transferred,
            ack_due_at=ack_due,
            acknowledged_at=acknowledged,
            completed_at=completed,
            **extra,
        )
        session.add(row)
        session.flush()
        ds.items[name] = row.id  # type: ignore[assignment]

    item(
        "a1",
        "a",
        "T1",
        deadline(10, 10),
        completed=at(10, 8),
        solved=True,
        long_term_mechanism=True,
    )
    item(
        "a2",
        "a",
        "T1",
        deadline(10, 20),
        completed=at(10, 25),
        solved=True,
        long_term_mechanism=False,
    )
    item("a3", "a", "T1", deadline(10, 15))
    item(
        "a4",
        "a",
        "T1",
        deadline(12, 31),
        transferred=at(10, 5),
        ack_due=deadline(10, 8),
        acknowledged=at(10, 7),
    )
    item(
        "a5",
        "a",
        "T1",
        deadline(9, 20),
        transferred=at(8, 1),
        completed=at(9, 25),
        solved=True,
        rechecked_at=at(10, 26),
        rebound=True,
    )
    item(
        "a6",
        "a",
        "T1",
        deadline(10, 30),
        transferred=at(10, 3),
        ack_due=deadline(10, 6),
        acknowledged=at(10, 9),
        completed=at(11, 1, 0, 10),
    )
    item("a7", "a", "T1", deadline(10, 10), status=ItemStatus.DRAFT, transferred=None)

    item(
        "b1",
        "b",
        "T1",
        deadline(10, 5),
        completed=at(10, 4),
        solved=True,
        rechecked_at=at(10, 20),
        rebound=False,
    )
    item("b2", "b", "T1", deadline(10, 12), completed=at(10, 12, 14), solved=False)
    item("b3", "b", "T1", deadline(11, 30), completed=at(10, 31, 23, 30), solved=True)
    item("b4", "b", "T1", deadline(10, 10), status=ItemStatus.DECLINED)

    item("c1", "c", "T2", deadline(10, 10), completed=at(10, 9))
    item("c2", "c", "T2", deadline(10, 10), completed=at(10, 12))
    item("c3", "c", "T2", deadline(10, 10), completed=at(10, 15))
    item("c4", "c", "T2", deadline(9, 28))

    for n in (1, 2, 3):
        item(f"g{n}", "g", "T2", deadline(10, 20), completed=at(10, 18))
    item("g4", "g", "T2", deadline(10, 25))

    item("d1", "d", "T2", deadline(10, 10), completed=at(10, 9))
    item("e1", "e", "T2", deadline(12, 31), transferred=at(10, 20))
    item("f1", "f", "T2", deadline(9, 15), completed=at(9, 10))

    t1 = ds.topics["T1"]
    for item_name, score, when in (
        ("a1", 5, at(10, 12)),
        ("a1", 4, at(10, 13)),
        ("a2", 2, at(10, 28)),
        ("a1", 1, at(11, 3)),
    ):
        session.add(
            Rating(
                topic_id=t1,
                item_id=ds.items[item_name],
                score=score,
                satisfied=score >= 4,
                created_at=when,
            )
        )
    session.add(Rating(topic_id=t1, score=4, satisfied=True, created_at=at(10, 15)))
    session.flush()
    return ds
