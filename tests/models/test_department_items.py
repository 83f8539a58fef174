"""本单位事项 as a query: a department's items only, the overdue ones by the bulletin's rule,
one SELECT per page (its counts included) whatever the department's size."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event

from models import department_items
from models.enums import Stage


def test_the_department_list_is_one_select_whatever_its_size(loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
    session.flush()
    statements: list[str] = []
    bind = session.get_bind()

    def count(*args: object) -> None:
        if "app_meta" not in str(args[2]):  # the calendar's version, read once per transaction
            statements.append(str(args[2]))

    event.listen(bind, "before_cursor_execute", count)
    try:
        mine = department_items.department_items(session, c.head)
        assert len(statements) == 1
        assert mine.count == 1 and mine.overdue_count == 0 and mine.lines[0].may_open
        assert department_items.department_items(session, c.other_officer).count == 1
        for title in ("社区食堂", "口袋公园", "学校门口接送拥堵"):
            loop.advance(loop.topic(title=title), to=Stage.TRANSFER, start=True)
        session.flush()
        statements.clear()
        more = department_items.department_items(session, c.officer, page_size=2)
        assert len(statements) == 1 and more.count == 4 and more.pages == 2
        statements.clear()
        overdue = department_items.department_items(
            session, c.head, overdue_only=True, now=dt.datetime.now(dt.UTC) + dt.timedelta(days=90)
        )
        assert len(statements) == 1 and overdue.count == 4 == overdue.overdue_count
    finally:
        event.remove(bind, "before_cursor_execute", count)
