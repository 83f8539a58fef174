"""议题总览 and the office's topic page (models/board.py), on SQLite and PostgreSQL: the board
says what each topic waits for and who on it is late, in a number of queries that does not
grow with the number of topics; the topic page names the gate's reason and opens only the
forms the rules allow now."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event
from sqlmodel import Session

from models import board
from models.base import utcnow
from models.enums import Stage, StageState

# Titles far enough apart that screening merges none of them as near-duplicates.
TITLES = ["背街小巷路灯维修", "社区食堂建设", "河道保洁长效机制", "校园周边交通安全"]


def _statements(session: Session, run) -> int:  # type: ignore[no-untyped-def]
    """How many SQL statements `run` sends."""
    seen: list[str] = []
    bind = session.get_bind()

    def count(*args: object) -> None:
        seen.append(str(args[2]))

    event.listen(bind, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(bind, "before_cursor_execute", count)
    return len(seen)


def _topics(loop, n: int, start: int = 0) -> None:  # type: ignore[no-untyped-def]
    for i in range(start, start + n):
        loop.topic(title=f"第{i}号议题：小区公共设施维护")


def test_the_board_takes_the_same_queries_for_30_topics_as_for_300(loop, session):  # type: ignore[no-untyped-def]
    waiting = loop.topic(title=TITLES[0])
    loop.run_stage(waiting, Stage.TOPIC)  # awaiting approval: an obligation with a deadline
    loop.advance(loop.topic(title=TITLES[1]), to=Stage.SUBJECT, start=True)  # RSVPs owed
    _topics(loop, 28)
    session.flush()
    later = utcnow() + dt.timedelta(days=60)  # every deadline passed: everyone owing is late
    few = _statements(session, lambda: board.board(session, now=later, page_size=50))
    _topics(loop, 270, start=28)
    session.flush()
    found: list[board.BoardPage] = []
    many = _statements(session, lambda: found.append(board.board(session, now=later, page_size=50)))
    assert many == few <= 4
    page = found[0]
    assert page.count == 300 and page.pages == 6 and len(page.lines) == 50
    assert sum(s.count for s in page.stages) == 300
    # Stage order: the topics in 明确主体 come after those still in 确定议题.
    assert [s.label for s in page.stages] == [s.label for s in Stage]


def test_the_board_says_what_each_topic_waits_for_and_who_is_late(loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    approval = loop.topic(title=TITLES[0])
    loop.run_stage(approval, Stage.TOPIC)
    invited = loop.advance(loop.topic(title=TITLES[1]), to=Stage.SUBJECT, start=True)
    draft = loop.topic(title=TITLES[2])
    session.flush()

    now = board.board(session)
    lines = {line.id: line for line in now.lines}
    assert lines[draft.id].waiting == "等待协商办启动“确定议题”环节"
    assert lines[approval.id].waiting == "等待：审定议题（1 项）"
    assert lines[invited.id].waiting == "等待：回复协商邀请（3 项）"
    assert all(not line.late for line in now.lines) and now.late_count == 0

    later = board.board(session, now=utcnow() + dt.timedelta(days=60))
    late = {line.id: line.late for line in later.lines}
    assert late[draft.id] == []
    assert late[approval.id] == ["审定人（审定议题）"]
    assert f"{c.resident.name}（回复协商邀请）" in late[invited.id]
    assert later.late_count == 2

    only_late = board.board(session, late_only=True, now=utcnow() + dt.timedelta(days=60))
    assert {line.id for line in only_late.lines} == {approval.id, invited.id}
    in_subject = board.board(session, stage=Stage.SUBJECT)
    assert [line.id for line in in_subject.lines] == [invited.id]


def test_the_topic_page_names_the_gate_and_opens_only_the_forms_allowed_now(loop, session):  # type: ignore[no-untyped-def]
    topic = loop.topic(title=TITLES[3])
    loop.run_stage(topic, Stage.TOPIC)
    loop.finish(topic, Stage.TOPIC)  # approved: 明确主体 may be prepared, not yet started
    view = board.topic_board(session, topic.id)
    assert view.next_stage == Stage.SUBJECT
    assert view.next_blocked == "尚未确定协商主体，请先添加参加人员"
    assert view.open == {"participants"}
    subject, prestudy = view.timeline[1], view.timeline[2]
    assert subject.state == StageState.NOT_STARTED and subject.blocked == view.next_blocked
    assert prestudy.blocked == "协商主体尚未确定（邀请回复未齐或缺少群众代表），不能开展商前调研"

    later = loop.advance(loop.topic(title=TITLES[0]), to=Stage.TRANSFER)  # items prepared
    view = board.topic_board(session, later.id)
    assert view.next_stage == Stage.TRANSFER and view.next_blocked is None
    assert len(view.items) == 2 and view.item_choices == []  # every adopted one has its item
    assert all(i.time_left.startswith("还剩") for i in view.items)
    assert "items" not in view.open and "report" not in view.open
