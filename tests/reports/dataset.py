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

Returns (退单, item_bounce), counted for the department that returned the item:
  城南街道 returned a4 on 10-06 (a4 now lies with 区住建局); 区交通局 returned c4 on 09-02
  → October: bounces 1 (城南街道, T1); transfers = transferred in the window + returned, so
    城南街道 0 + 1 = 1 (退回率 100 %), T1 2 + 1 = 3 (33.3 %), T2 1 + 0 (0 %), all 3 + 1 = 4 (25 %)
  → as of 11-01: bounces 2; T1 1 / (9 + 1) = 10 %, all 2 / (20 + 2) = 9.1 %
Rating requests (评价邀请, follow-ups of the rating obligation) of T1 to four residents:
  居民甲 asked 10-10, gave the topic-level rating (10-15): answered
  居民乙 asked 10-10, never rated
  居民丙 asked 10-10, rated only in November (a1's 1 on 11-03): not answered in October
  居民丁 asked 09-20 (before October), rated a1 5 on 10-12
  → October T1: asked 3, answered 1 (评价参与率 33.3 %); as of 11-01: asked 4, answered 2 (50 %)
Extension ledger: b3 was transferred with the deadline 10-20; on 10-15 the office approved
  moving it to 11-30, so b3 (completed 10-31) is on time against the current deadline and late
  against the original one → 获批延期 1 (城南街道, T1, all); 按原定期限按时 城南街道 2 / 3,
  T1 3 / 7 in October.
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

from models.enums import (
    Adoption,
    DeclineCode,
    ExtensionDecision,
    FollowUpStatus,
    ItemStatus,
    Obligation,
    Role,
    SessionForm,
    TopicSource,
)
from models.tables import (
    ConsultationSession,
    Department,
    Evaluation,
    FollowUp,
    ItemBounce,
    ItemExtension,
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
    office: dict[Role, Person] = {}
    for role in (Role.ADMINISTRATOR, Role.APPROVER):
        office[role] = Person(name=f"测试{role.value}", role=role, tag=f"p-{role.value}")
        session.add(office[role])
    residents: dict[str, int] = {}
    for n, name in enumerate(("居民甲", "居民乙", "居民丙", "居民丁")):
        resident = Person(name=name, role=Role.RESIDENT, tag=f"p-resident{n}")
        session.add(resident)
        session.flush()
        residents[name] = resident.id  # type: ignore[assignment]
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
    item(
        "b3",
        "b",
        "T1",
        deadline(11, 30),
        completed=at(10, 31, 23, 30),
        solved=True,
        original_deadline=deadline(10, 20),
    )
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
    for item_name, score, when, by in (
        ("a1", 5, at(10, 12), "居民丁"),
        ("a1", 4, at(10, 13), None),
        ("a2", 2, at(10, 28), None),
        ("a1", 1, at(11, 3), "居民丙"),
    ):
        session.add(
            Rating(
                topic_id=t1,
                item_id=ds.items[item_name],
                score=score,
                satisfied=score >= 4,
                created_at=when,
                person_id=residents[by] if by else None,
            )
        )
    session.add(
        Rating(
            topic_id=t1,
            score=4,
            satisfied=True,
            created_at=at(10, 15),
            person_id=residents["居民甲"],
        )
    )
    admin = office[Role.ADMINISTRATOR].id
    for name, asked in (
        ("居民甲", at(10, 10)),
        ("居民乙", at(10, 10)),
        ("居民丙", at(10, 10)),
        ("居民丁", at(9, 20)),
    ):
        session.add(
            FollowUp(
                topic_id=t1,
                obligation=Obligation.RATING,
                subject_id=t1,
                owed_by_id=residents[name],
                deadline=asked + dt.timedelta(days=10),
                due_at=asked + dt.timedelta(days=10),
                status=FollowUpStatus.CLOSED,  # the assessment is over: nobody is chased
                outcome="评估已办结",
                created_at=asked,
            )
        )
    for item_name, dept, when in (("a4", "b", at(10, 6)), ("c4", "c", at(9, 2))):
        session.add(
            ItemBounce(
                item_id=ds.items[item_name],
                department_id=ds.departments[dept],
                code=DeclineCode.NOT_OUR_DUTY,
                reason="非本单位职责",
                by_id=officers[dept],
                at=when,
            )
        )
    session.add(
        ItemExtension(
            item_id=ds.items["b3"],
            old_deadline=deadline(10, 20),
            requested_deadline=deadline(11, 30),
            reason="施工需避开汛期",
            requested_by_id=officers["b"],
            requested_at=at(10, 14),
            decision=ExtensionDecision.APPROVED,
            decided_by_id=admin,
            decided_at=at(10, 15),
        )
    )
    # 第三方评估: two experts score 老旧小区加装电梯 in October (82 and 75) and one scored it in
    # September (70); 背街小巷环境整治's evaluation is assigned but not yet submitted.
    experts = []
    for n, name in enumerate(("评估专家甲", "评估专家乙")):
        expert = Person(name=name, role=Role.EXPERT, tag=f"p-expert{n}")
        session.add(expert)
        session.flush()
        experts.append(expert.id)
    t2 = ds.topics["T2"]
    for topic_id, evaluator, overall, submitted in (
        (t1, experts[0], 82, at(10, 20)),
        (t1, experts[1], 75, at(10, 22)),
        (t1, experts[1], 70, at(9, 25)),
        (t2, experts[0], None, None),
    ):
        session.add(
            Evaluation(
                topic_id=topic_id,
                evaluator_id=evaluator,
                assigned_by_id=admin,
                assigned_at=at(9, 1),
                due_at=at(11, 30),
                overall=overall,
                submitted_at=submitted,
                comment="按评估细则逐项评分" if submitted else None,
            )
        )
    session.flush()
    return ds


# --- October's golden numbers, worked out by hand from the records above -----------------
# Every count and rate the bulletin's tables show for October [10-01, 11-01), per department,
# per topic and over all. The bulletin's data, its files (XLSX, PDF, HTML), the API and the
# CLI are all checked against these. None: nothing to measure (an empty denominator).

OCTOBER_DEPARTMENTS: dict[str, dict[str, int | float | None]] = {
    "城南街道": {
        "items": 3,  # b1 b2 b3 (b4 declined)
        "items_due": 3,
        "items_completed": 3,
        "items_overdue": 0,
        "extensions_approved": 1,  # b3 moved 10-20 → 11-30 on 10-15
        "bounces": 1,  # returned a4 on 10-06
        "completion_rate": 1.0,  # 3 / 3
        "on_time_rate": 1.0,  # 3 / 3
        "on_time_rate_original": 0.6667,  # 2 / 3: b3 was late against 10-20
        "problem_solved_rate": 0.3333,  # b1 (re-check held) / 3 due
        "long_term_mechanism_rate": 0.0,  # 0 / 3
        "satisfaction_rate": None,  # nobody rated its items
        "mean_score": None,
        "rebound_rate": 0.0,  # b1 held: 0 / 1
        "response_rate": None,  # nothing transferred to it in October
        "bounce_rate": 1.0,  # 1 / (0 transferred + 1 returned)
    },
    "区卫健委": {
        "items": 4,
        "items_due": 4,
        "items_completed": 3,
        "items_overdue": 1,  # g4
        "extensions_approved": 0,
        "bounces": 0,
        "completion_rate": 0.75,  # 3 / 4
        "on_time_rate": 0.75,  # 3 / (3 + g4)
        "on_time_rate_original": 0.75,
        "problem_solved_rate": 0.0,
        "long_term_mechanism_rate": 0.0,
        "satisfaction_rate": None,
        "mean_score": None,
        "rebound_rate": None,
        "response_rate": None,
        "bounce_rate": None,  # 0 / 0
    },
    "区交通局": {
        "items": 4,
        "items_due": 4,
        "items_completed": 3,
        "items_overdue": 1,  # c4
        "extensions_approved": 0,
        "bounces": 0,  # its return of c4 was on 09-02
        "completion_rate": 0.75,
        "on_time_rate": 0.25,  # c1 / (3 + c4)
        "on_time_rate_original": 0.25,
        "problem_solved_rate": 0.0,
        "long_term_mechanism_rate": 0.0,
        "satisfaction_rate": None,
        "mean_score": None,
        "rebound_rate": None,
        "response_rate": None,
        "bounce_rate": None,
    },
    "区住建局": {
        "items": 5,  # a1 a2 a3 a4 a6
        "items_due": 4,  # a1 a2 a3 a6
        "items_completed": 2,
        "items_overdue": 2,  # a3 a6
        "extensions_approved": 0,
        "bounces": 0,
        "completion_rate": 0.5,  # 2 / 4
        "on_time_rate": 0.25,  # a1 / (2 + 2)
        "on_time_rate_original": 0.25,
        "problem_solved_rate": 0.25,  # a1 (rated satisfied) / 4
        "long_term_mechanism_rate": 0.5,  # a1 / 2
        "satisfaction_rate": 0.6667,  # 5 and 4 of 5, 4, 2
        "mean_score": 3.67,  # 11 / 3
        "rebound_rate": 1.0,  # a5 / a5
        "response_rate": 0.5,  # a4 on time, a6 late
        "bounce_rate": 0.0,  # 0 / (a4 a6 transferred)
    },
    "区市场监管局": {
        "items": 1,  # e1
        "items_due": 0,
        "items_completed": 0,
        "items_overdue": 0,
        "extensions_approved": 0,
        "bounces": 0,
        "completion_rate": None,
        "on_time_rate": None,
        "on_time_rate_original": None,
        "problem_solved_rate": None,
        "long_term_mechanism_rate": None,
        "satisfaction_rate": None,
        "mean_score": None,
        "rebound_rate": None,
        "response_rate": 1.0,  # e1 acknowledged 10-21, due 10-23
        "bounce_rate": 0.0,  # 0 / 1
    },
    "区水务局": {
        "items": 1,
        "items_due": 1,
        "items_completed": 1,
        "items_overdue": 0,
        "extensions_approved": 0,
        "bounces": 0,
        "completion_rate": 1.0,
        "on_time_rate": 1.0,
        "on_time_rate_original": 1.0,
        "problem_solved_rate": 0.0,
        "long_term_mechanism_rate": 0.0,
        "satisfaction_rate": None,
        "mean_score": None,
        "rebound_rate": None,
        "response_rate": None,
        "bounce_rate": None,
    },
}

OCTOBER_TOPICS: dict[str, dict[str, int | float | None]] = {
    "老旧小区加装电梯": {
        "items": 8,  # a1 a2 a3 a4 a6 b1 b2 b3
        "items_due": 7,  # all but a4
        "items_completed": 5,  # a1 a2 b1 b2 b3
        "items_overdue": 2,  # a3 a6
        "extensions_approved": 1,  # b3
        "bounces": 1,  # a4
        "completion_rate": 0.7143,  # 5 / 7
        "on_time_rate": 0.5714,  # a1 b1 b2 b3 / (5 + 2)
        "on_time_rate_original": 0.4286,  # a1 b1 b2 / 7
        "problem_solved_rate": 0.2857,  # a1 b1 / 7
        "adoption_rate": 0.75,  # 3 adopted / 4 decided
        "long_term_mechanism_rate": 0.2,  # a1 / 5
        "satisfaction_rate": 0.75,  # 5, 4, 4 of 5, 4, 2, 4
        "mean_score": 3.75,
        "rating_response_rate": 0.3333,  # 居民甲 of 甲乙丙 asked in October
        "rebound_rate": 0.5,  # a5 of a5 b1
        "response_rate": 0.5,  # a4 of a4 a6
        "bounce_rate": 0.3333,  # 1 / (2 transferred + 1 returned)
        "evaluation_score": 78.5,  # (82 + 75) / 2; September's 70 is outside October
    },
    "背街小巷环境整治": {
        "items": 10,  # c1-c4 g1-g4 d1 e1
        "items_due": 9,  # all but e1
        "items_completed": 7,
        "items_overdue": 2,  # c4 g4
        "extensions_approved": 0,
        "bounces": 0,  # c4's return was in September
        "completion_rate": 0.7778,  # 7 / 9
        "on_time_rate": 0.5556,  # c1 g1 g2 g3 d1 / (7 + 2)
        "on_time_rate_original": 0.5556,
        "problem_solved_rate": 0.0,
        "adoption_rate": 1.0,  # 1 / 1
        "long_term_mechanism_rate": 0.0,
        "satisfaction_rate": None,
        "mean_score": None,
        "rating_response_rate": None,  # nobody asked
        "rebound_rate": None,
        "response_rate": 1.0,  # e1
        "bounce_rate": 0.0,  # 0 / e1
        "evaluation_score": None,  # assigned, not yet submitted
    },
}

OCTOBER_OVERALL: dict[str, int | float | None] = {
    "items": 18,
    "items_due": 16,
    "items_completed": 12,
    "items_overdue": 4,  # a3 a6 c4 g4
    "extensions_approved": 1,
    "bounces": 1,
    "completion_rate": 0.75,  # 12 / 16
    "on_time_rate": 0.5625,  # 9 / (12 + 4)
    "on_time_rate_original": 0.5,  # 8 / 16 (b3 late against its original deadline)
    "problem_solved_rate": 0.125,  # a1 b1 / 16
    "adoption_rate": 0.8,  # 4 / 5
    "long_term_mechanism_rate": 0.0833,  # 1 / 12
    "satisfaction_rate": 0.75,  # 3 / 4
    "mean_score": 3.75,
    "rating_response_rate": 0.3333,  # 1 / 3
    "rebound_rate": 0.5,  # 1 / 2
    "response_rate": 0.6667,  # a4 e1 of a4 a6 e1
    "bounce_rate": 0.25,  # 1 / (3 + 1)
    "evaluation_score": 78.5,  # (82 + 75) / 2
    "ratings": 4,
    "rating_requests": 3,
    "transfers": 4,
}
