"""Fast pages (issue 10, point 10): each main page sends as many SQL statements on a case file
of 10,000 rectification items, across 600 topics and 50 departments, as on a case file of a
handful: no page reads its rows one by one (N+1), and every list is paged.

One SQLite case file for the module: a few topics walked through the loop with the models'
operations (the small set, counted first), then copies of their rows bulk-inserted with
SQLAlchemy Core (items, their open obligations, topics awaiting approval, invitations,
undelivered messages) and the same pages counted again, over HTTP through the real app."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlmodel import Session, col, select

from api.pages import admin
from config.db import engine_for, migrate, session_scope
from models.enums import FollowUpStatus, NotificationStatus, Stage, TopicStatus
from models.tables import (
    Department,
    FollowUp,
    Notification,
    Participant,
    Person,
    RectificationItem,
    Topic,
)
from tests.conftest import ANONYMOUS
from tests.factories import LoopBuilder
from tests.pages.conftest import sign_in_client

ITEMS = 10_000
TOPICS = 500
AWAITING = 100
DEPARTMENTS = 50
UNDELIVERED = 2_000
LOGINS = {
    "admin": "wangmin",
    "officer": "liqiang",
    "head": "zhaolei",
    "approver": "chenjg",
    "member": "sunli",
}


class Case:
    """The module's case file, the app on it, and the records whose pages are counted."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = engine_for(url)
        self.ids: dict[str, int] = {}
        self.people: dict[str, int] = {}

    @contextmanager
    def session(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s:
            yield s

    def client(self) -> TestClient:
        from api.app import create_app
        from api.deps import get_session, get_unit_of_work

        app = create_app()

        def _session() -> Iterator[Session]:
            with Session(self.engine, expire_on_commit=False) as s:
                try:
                    yield s
                finally:
                    s.rollback()

        app.dependency_overrides[get_session] = _session
        app.dependency_overrides[get_unit_of_work] = lambda: partial(session_scope, self.engine)
        return TestClient(app)

    def pages(self) -> dict[str, tuple[str, str]]:
        """Each counted page: who opens it, and its address."""
        i = self.ids
        return {
            "议题总览": ("admin", "/admin"),
            "议题总览（超期）": ("admin", "/admin?view=late"),
            "议题页（协商办）": ("admin", f"/admin/topics/{i['transfer']}"),
            "我的待办（联络员）": ("officer", "/work"),
            "我的待办（协商办）": ("admin", "/work"),
            "本单位事项": ("officer", "/work/items"),
            "本单位事项（负责人）": ("head", "/work/items"),
            "事项页（联络员）": ("officer", f"/work/items/{i['item']}"),
            "待审定": ("approver", "/approvals"),
            "审定议题页": ("approver", f"/approvals/topics/{i['awaiting']}"),
            "我参与的议题": ("member", "/my/topics"),
            "议题页（委员）": ("member", f"/my/topics/{i['transfer']}"),
            "事项页（协商办）": ("admin", f"/admin/items/{i['item']}"),
            "公开进展": ("anyone", f"/p/topics/{i['transfer']}"),
            "未送达通知": ("admin", "/admin/notifications"),
        }


def _small(s: Session, case: Case) -> None:
    """A topic in 落实整改, one awaiting 签收, one awaiting 审定; some messages undelivered."""
    loop = LoopBuilder(s)
    implementing = loop.advance(loop.topic(title="背街小巷路灯维修"), to=Stage.IMPLEMENTATION)
    loop.run_stage(implementing, Stage.IMPLEMENTATION)
    transfer = loop.advance(loop.topic(title="社区食堂建设"), to=Stage.TRANSFER, start=True)
    awaiting = loop.topic(title="河道保洁长效机制")
    loop.run_stage(awaiting, Stage.TOPIC)
    s.flush()
    s.execute(
        sa.update(Notification)
        .where(col(Notification.id) % 2 == 0)
        .values(status=NotificationStatus.FAILED, attempts=3, last_error="连接超时")
    )
    item = loop.items(transfer)[0]
    assert item.officer_id == loop.cast.officer.id
    case.ids.update(
        implementing=implementing.id, transfer=transfer.id, item=item.id, awaiting=awaiting.id
    )  # type: ignore[arg-type]
    c = loop.cast
    case.people.update(
        admin=c.admin.id,
        officer=c.officer.id,
        head=c.head.id,
        approver=c.approver.id,
        member=c.member.id,
        dept=c.dept_id,
    )  # type: ignore[arg-type]


def _rows(s: Session, table: sa.Table, where: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in s.execute(sa.select(table).where(where))]


def _next_id(s: Session, table: sa.Table) -> int:
    return int(s.execute(sa.select(sa.func.coalesce(sa.func.max(table.c.id), 0))).scalar_one()) + 1


def _bulk(s: Session, case: Case) -> None:
    """Copies of the small set's rows: 500 topics in 落实整改 and 100 awaiting 审定, 10,000
    items over them (the counted topic and department among them), each item's open
    obligations, the member invited to every topic, 2,000 undelivered messages."""
    topic_t, item_t = Topic.__table__, RectificationItem.__table__  # type: ignore[attr-defined]
    follow_t, part_t = FollowUp.__table__, Participant.__table__  # type: ignore[attr-defined]
    dept_t, person_t = Department.__table__, Person.__table__  # type: ignore[attr-defined]
    note_t = Notification.__table__  # type: ignore[attr-defined]
    ids, people = case.ids, case.people

    first_dept = _next_id(s, dept_t)
    dept = _rows(s, dept_t, dept_t.c.id == people["dept"])[0]
    s.execute(
        sa.insert(dept_t),
        [
            {**dept, "id": first_dept + n, "name": f"第{n}责任单位", "tag": f"bulk-dept-{n}"}
            for n in range(DEPARTMENTS)
        ],
    )
    first_person = _next_id(s, person_t)
    officer = _rows(s, person_t, person_t.c.id == people["officer"])[0]
    s.execute(
        sa.insert(person_t),
        [
            {
                **officer,
                "id": first_person + n,
                "name": f"联络员{n}",
                "tag": f"bulk-officer-{n}",
                "department_id": first_dept + n,
            }
            for n in range(DEPARTMENTS)
        ],
    )
    officers = [(people["dept"], people["officer"])] + [
        (first_dept + n, first_person + n) for n in range(DEPARTMENTS)
    ]

    first_topic = _next_id(s, topic_t)
    implementing = _rows(s, topic_t, topic_t.c.id == ids["implementing"])[0]
    awaiting = s.execute(
        sa.select(topic_t).where(topic_t.c.status == TopicStatus.AWAITING_APPROVAL)
    ).first()
    assert awaiting is not None
    new_topics = [
        {**implementing, "id": first_topic + n, "title": f"第{n}号议题：小区公共设施维护"}
        for n in range(TOPICS)
    ] + [
        {**awaiting._mapping, "id": first_topic + TOPICS + n, "title": f"第{n}号待审定议题"}
        for n in range(AWAITING)
    ]
    s.execute(sa.insert(topic_t), new_topics)
    topic_ids = [first_topic + n for n in range(TOPICS)] + [ids["transfer"], ids["implementing"]]

    templates = _rows(s, item_t, item_t.c.topic_id.in_([ids["transfer"], ids["implementing"]]))
    first_item = _next_id(s, item_t)
    owed = {
        t["id"]: _rows(
            s,
            follow_t,
            (follow_t.c.subject_id == t["id"])
            & (follow_t.c.status == FollowUpStatus.OPEN)
            & (follow_t.c.topic_id == t["topic_id"]),
        )
        for t in templates
    }
    topic_cycle, dept_cycle = itertools.cycle(topic_ids), itertools.cycle(officers)
    items, follow_ups = [], []
    for n in range(ITEMS):
        template = templates[n % len(templates)]
        topic_id, (dept, officer_id) = next(topic_cycle), next(dept_cycle)
        item_id = first_item + n
        items.append(
            {
                **template,
                "id": item_id,
                "topic_id": topic_id,
                "title": f"整改事项{n}：{template['title']}",
                "lead_department_id": dept,
                "officer_id": officer_id,
                "external_id": None,
            }
        )
        for row in owed[template["id"]]:
            follow_ups.append(
                {
                    **{k: v for k, v in row.items() if k != "id"},
                    "subject_id": item_id,
                    "topic_id": topic_id,
                    "owed_by_id": officer_id if row["owed_by_id"] else None,
                }
            )
    s.execute(sa.insert(item_t), items)
    s.execute(sa.insert(follow_t), follow_ups)
    approval = _rows(s, follow_t, follow_t.c.topic_id == awaiting.id)
    s.execute(
        sa.insert(follow_t),
        [
            {**{k: v for k, v in row.items() if k != "id"}, "topic_id": t, "subject_id": t}
            for t in range(first_topic + TOPICS, first_topic + TOPICS + AWAITING)
            for row in approval
        ],
    )
    invited = _rows(
        s,
        part_t,
        (part_t.c.topic_id == ids["transfer"]) & (part_t.c.person_id == people["member"]),
    )[0]
    s.execute(
        sa.insert(part_t),
        [
            {**{k: v for k, v in invited.items() if k != "id"}, "topic_id": t}
            for t in range(first_topic, first_topic + TOPICS)
        ],
    )
    failed = s.execute(
        sa.select(note_t).where(note_t.c.status == NotificationStatus.FAILED)
    ).first()
    assert failed is not None
    s.execute(
        sa.insert(note_t),
        [
            {
                **{k: v for k, v in failed._mapping.items() if k != "id"},
                "event_key": f"bulk:{n}",
                "topic_id": topic_ids[n % len(topic_ids)],
            }
            for n in range(UNDELIVERED)
        ],
    )


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Case]:
    url = f"sqlite:///{tmp_path_factory.mktemp('queries') / 'case.db'}"
    migrate(url)
    found = Case(url)
    with found.session() as s:
        _small(s, found)
        s.commit()
    yield found
    found.engine.dispose()


def _clients(case: Case) -> dict[str, TestClient]:
    """A client per person, signed in with the form (once: a password hash costs time), and
    one without an account."""
    clients: dict[str, TestClient] = {}
    with case.session() as s:
        for who, login in LOGINS.items():
            client = case.client()
            person = s.get(Person, case.people[who])
            assert person is not None
            sign_in_client(client, s, person, login)
            clients[who] = client
    clients["anyone"] = case.client()
    return clients


def _count(case: Case, clients: dict[str, TestClient]) -> tuple[dict[str, int], dict[str, str]]:
    """Each page's SQL statements and text, opened by its person."""
    counts: dict[str, int] = {}
    texts: dict[str, str] = {}
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(case.engine, "before_cursor_execute", count)
    try:
        for name, (who, address) in case.pages().items():
            seen.clear()
            r = clients[who].get(address, headers=ANONYMOUS)
            assert r.status_code == 200, f"{name} {address}: {r.status_code}\n{r.text[:2000]}"
            counts[name] = len(seen)
            texts[name] = r.text
    finally:
        event.remove(case.engine, "before_cursor_execute", count)
    return counts, texts


# The lists among the pages: on the large case file each has more than one page.
LISTS = (
    "议题总览",
    "我的待办（联络员）",
    "本单位事项",
    "本单位事项（负责人）",
    "待审定",
    "我参与的议题",
    "未送达通知",
)


def test_no_page_reads_more_often_with_10000_items_than_with_a_few(
    case: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The office's topic page asks Prefect for the topic's runs (no Prefect here): not long.
    monkeypatch.setattr(admin, "RUNS_WITHIN_SECONDS", 0.2)
    clients = _clients(case)
    few, _ = _count(case, clients)
    with case.session() as s:
        _bulk(s, case)
        s.commit()
        assert (
            s.execute(sa.select(sa.func.count()).select_from(RectificationItem)).scalar_one()
            > ITEMS
        )
        mine = s.exec(
            select(sa.func.count()).where(RectificationItem.officer_id == case.people["officer"])
        ).one()
        assert mine > 100  # the officer's own lists grew too
    many, shown = _count(case, clients)
    for client in clients.values():
        client.close()
    assert [name for name in LISTS if "下一页" not in shown[name]] == []
    assert shown["公开进展"].count('class="item') > 10  # the counted topic's items grew too
    # Not one statement more (a page may send one less once a cache is warm).
    grown = {name: (few[name], many[name]) for name in few if many[name] > few[name]}
    assert grown == {}, f"页面的 SQL 语句数随数据量增长（少量 → 一万项）：{grown}"
