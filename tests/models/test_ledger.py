"""台账导入 row decisions, on SQLite and PostgreSQL: create / update / unchanged / rejected with
row, column and a zh-CN reason; importing the same file again changes nothing; an import never
deletes; rows in = created + updated + unchanged + rejected; a fixed number of queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from sqlalchemy import event, func
from sqlmodel import Session, select

from models import ledger
from models.enums import FollowUpStatus, ItemStatus, Obligation, Stage
from models.errors import Invalid
from models.tables import (
    FollowUp,
    LedgerImport,
    LedgerImportStatus,
    Notification,
    Person,
    ProgressUpdate,
    RectificationItem,
)
from tests.factories import LoopBuilder

HEADER = [c.value for c in ledger.Column]
FUTURE = (dt.date.today() + dt.timedelta(days=60)).isoformat()


def sheet(*rows: dict[str, Any]) -> bytes:
    """A department's CSV as Excel writes it (UTF-8 with BOM), header in the first row."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in rows:
        writer.writerow([row.get(h, "") for h in HEADER])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def case(loop: LoopBuilder) -> dict[str, Any]:
    """A topic in implementation: item 1 (区住建局) has a plan and is 整改中, item 2 belongs to
    城南街道."""
    topic = loop.advance(loop.topic(title="台账导入测试"), to=Stage.IMPLEMENTATION, start=True)
    mine, theirs = loop.items(topic)
    loop.plan(mine)
    loop.s.flush()
    suggestion = mine.suggestion_id
    return {"topic": topic, "mine": mine, "theirs": theirs, "suggestion": suggestion}


def new_row(c: dict[str, Any], external: str, **extra: Any) -> dict[str, Any]:
    return {
        "外部编号": external,
        "议题编号": c["topic"].id,
        "建议编号": c["suggestion"],
        "事项": "楼道照明线路更换",
        "责任单位": "区住建局",
        "期限": FUTURE,
        **extra,
    }


def decisions(session: Session, loop: LoopBuilder, content: bytes) -> ledger.Tally:
    return ledger.dry_run(session, loop.cast.dept_id, content, "csv")


def apply(
    session: Session,
    loop: LoopBuilder,
    content: bytes,
    name: str = "台账.csv",
    by: Person | None = None,
) -> LedgerImport:
    """Upload (dry run), then apply batch by batch as the flow's task does, then finish."""
    row, _ = ledger.upload(
        session,
        department_id=loop.cast.dept_id,
        filename=name,
        content=content,
        by=by or loop.cast.officer,
    )
    session.flush()
    assert ledger.begin(session, row.id) is not None
    for _ in ledger.apply_file(session, row.id):
        session.flush()
    return ledger.finish(session, row.id)


def by_row(tally: ledger.Tally) -> dict[int, ledger.Decision]:
    return {d.row: d for d in tally.decisions}


def test_each_row_gets_its_decision_with_row_column_and_reason(session, loop):
    c = case(loop)
    items_before = session.exec(select(func.count(RectificationItem.id))).one()
    content = sheet(
        new_row(c, "JT-1", 进度="10", 进展情况="已进场勘察"),  # row 2: create
        {  # row 3: binds the existing item and reports progress
            "外部编号": "JT-2",
            "事项编号": c["mine"].id,
            "责任单位": "区住建局",
            "进度": "50%",
            "进展情况": "完成一半线路",
        },
        {"外部编号": "JT-3", "事项编号": c["theirs"].id, "责任单位": "区住建局"},  # row 4
        new_row(c, "JT-4", 期限="2026-13-45"),  # row 5: not a date
        new_row(c, "JT-5", 进度="120", 进展情况="超额"),  # row 6: not a percent
        new_row(c, "JT-6", 责任单位="不存在局"),  # row 7: unknown department
        new_row(c, "JT-1"),  # row 8: listed twice
        new_row(c, "JT-7", 责任单位="城南街道"),  # row 9: another department's row
        new_row(c, "JT-8", 建议编号=""),  # row 10: create without its suggestion
    )
    tally = decisions(session, loop, content)
    got = by_row(tally)

    assert got[2].action is ledger.Action.CREATE
    assert got[3].action is ledger.Action.UPDATE and got[3].item_id == c["mine"].id
    rejected = {
        r: (d.column, d.reason) for r, d in got.items() if d.action is ledger.Action.REJECTED
    }
    assert rejected == {
        4: ("事项编号", f"本单位没有事项 {c['theirs'].id}"),
        5: ("期限", "不是日期（应为 2026-12-31）"),
        6: ("进度", "不是 0–100 的整数百分比（应为 60 或 60%）"),
        7: ("责任单位", "没有名为“不存在局”的单位"),
        8: ("外部编号", "与第 2 行重复"),
        9: ("责任单位", "不是本单位（区住建局）的事项，请由“城南街道”导入"),
        10: ("建议编号", "新建事项时不能为空"),
    }
    assert got[5].public()["message"] == "第 5 行“期限”列：不是日期（应为 2026-12-31）"
    counts = tally.counts
    assert tally.rows == 9
    assert tally.rows == sum(counts.values())
    assert (counts[ledger.Action.CREATE], counts[ledger.Action.UPDATE]) == (1, 1)
    assert counts[ledger.Action.REJECTED] == 7
    # A dry run writes nothing.
    assert session.exec(select(func.count(RectificationItem.id))).one() == items_before
    assert session.get(RectificationItem, c["mine"].id).external_id is None


def test_applying_creates_and_updates_and_the_same_file_again_changes_nothing(session, loop):
    c = case(loop)
    content = sheet(
        new_row(c, "JT-1", 进度="10", 进展情况="已进场勘察"),
        {
            "外部编号": "JT-2",
            "事项编号": c["mine"].id,
            "责任单位": "区住建局",
            "进度": "50",
            "进展情况": "完成一半线路",
        },
        new_row(c, "JT-9", 期限="不是日期"),
    )
    done = apply(session, loop, content)
    assert (done.created, done.updated, done.unchanged, done.rejected) == (1, 1, 0, 1)
    assert done.rows_done == done.rows_total == 3
    assert done.status is LedgerImportStatus.DONE
    assert done.errors[0]["message"] == "第 4 行“期限”列：不是日期（应为 2026-12-31）"

    created = session.exec(
        select(RectificationItem).where(RectificationItem.external_id == "JT-1")
    ).one()
    assert created.lead_department_id == loop.cast.dept_id and created.title == "楼道照明线路更换"
    assert created.officer_id == loop.cast.officer.id and created.progress_percent == 10
    session.refresh(c["mine"])
    assert c["mine"].external_id == "JT-2" and c["mine"].progress_percent == 50
    progress_rows = session.exec(select(func.count(ProgressUpdate.id))).one()
    items = session.exec(select(func.count(RectificationItem.id))).one()

    again = decisions(session, loop, content)
    assert again.counts[ledger.Action.UNCHANGED] == 2
    assert again.counts[ledger.Action.CREATE] == again.counts[ledger.Action.UPDATE] == 0
    second = apply(session, loop, content, name="再次导入.csv")
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)
    assert session.exec(select(func.count(ProgressUpdate.id))).one() == progress_rows
    assert session.exec(select(func.count(RectificationItem.id))).one() == items


def test_an_import_never_deletes_what_the_sheet_leaves_out(session, loop):
    c = case(loop)
    apply(
        session,
        loop,
        sheet(
            {
                "外部编号": "JT-2",
                "事项编号": c["mine"].id,
                "责任单位": "区住建局",
                "进度": "30",
                "进展情况": "第一批材料到场",
            }
        ),
    )
    before = {i.id: (i.title, i.status) for i in session.exec(select(RectificationItem)).all()}
    notes = session.exec(select(ProgressUpdate.note)).all()
    # The next sheet lists only a new item: everything else stays as it was.
    apply(session, loop, sheet(new_row(c, "JT-10")))
    after = {i.id: (i.title, i.status) for i in session.exec(select(RectificationItem)).all()}
    assert set(before) < set(after) and all(after[k] == v for k, v in before.items())
    assert set(notes) <= set(session.exec(select(ProgressUpdate.note)).all())
    session.refresh(c["mine"])
    assert c["mine"].external_id == "JT-2" and c["mine"].progress_percent == 30


def test_a_deadline_or_a_finished_item_is_not_changed_through_a_sheet(session, loop):
    c = case(loop)
    apply(
        session, loop, sheet({"外部编号": "JT-2", "事项编号": c["mine"].id, "责任单位": "区住建局"})
    )
    theirs_row = {"外部编号": "JT-2", "责任单位": "区住建局", "期限": FUTURE}
    got = by_row(decisions(session, loop, sheet(theirs_row)))[2]
    assert got.action is ledger.Action.REJECTED and got.column == "期限"
    assert "延期须提出延期申请" in got.reason
    # An item not yet 整改中 takes no progress.
    draft = by_row(
        decisions(
            session,
            loop,
            sheet(new_row(c, "JT-11"), {"外部编号": "JT-12", "事项编号": c["theirs"].id}),
        )
    )
    assert draft[2].action is ledger.Action.CREATE
    apply(session, loop, sheet(new_row(c, "JT-11")))
    refused = by_row(
        decisions(
            session,
            loop,
            sheet({"外部编号": "JT-11", "责任单位": "区住建局", "进度": "40", "进展情况": "开工"}),
        )
    )[2]
    assert (refused.action, refused.column) == (ledger.Action.REJECTED, "进度")
    # Signed for by the import, it takes progress once it is under way (its plan first).
    assert refused.reason == "事项当前为“已签收”，只有整改中的事项可以报送进展"


def imported(session: Session, external: str) -> RectificationItem:
    return session.exec(
        select(RectificationItem).where(RectificationItem.external_id == external)
    ).one()


def owed(session: Session, item_id: int) -> dict[Obligation, int]:
    """Open follow-ups of an item, by obligation."""
    rows = session.exec(
        select(FollowUp.obligation).where(
            FollowUp.subject_id == item_id,
            FollowUp.status == FollowUpStatus.OPEN,
            FollowUp.obligation.in_(  # type: ignore[attr-defined]
                [Obligation.ACKNOWLEDGEMENT, Obligation.PLAN, Obligation.ITEM_DEADLINE]
            ),
        )
    ).all()
    return {o: rows.count(o) for o in set(rows)}


def test_a_departments_own_import_after_the_transfer_stage_is_its_signature(session, loop):
    """Issue 9 point 10 / DOMAIN.md step 6: the department's own ledger is its 签收; its
    items then owe their plan and deadline ladder, count in the KPIs and take progress."""
    from models import kpis

    c = case(loop)  # the topic is in implementation: its transfer stage is done
    counted = kpis.compute(session, kpis.Window.as_of(dt.datetime.now(dt.UTC)))["items"]
    content = sheet(
        new_row(c, "JT-20", 进度="10", 进展情况="已进场勘察"), new_row(c, "JT-21", 责任人="赵磊")
    )
    labels = [d.public()["action_label"] for d in decisions(session, loop, content).decisions]
    assert labels == ["新建（签收）", "新建（签收）"]
    done = apply(session, loop, content)
    under_way, signed = imported(session, "JT-20"), imported(session, "JT-21")
    assert under_way.status is ItemStatus.IN_PROGRESS and signed.status is ItemStatus.ACKNOWLEDGED
    for item in (under_way, signed):
        assert item.acknowledged_at == done.applied_at == item.transferred_at
        assert item.acknowledged_by_id == loop.cast.officer.id
        assert item.original_deadline == item.deadline and item.plan_due_at is not None
        # What a signed item owes in implementation: its plan and the deadline ladder.
        assert set(owed(session, item.id)) == {Obligation.PLAN, Obligation.ITEM_DEADLINE}
    assert signed.officer_id == loop.cast.head.id
    # One of the department's items in every KPI ...
    now = kpis.Window.as_of(dt.datetime.now(dt.UTC))
    assert kpis.compute(session, now)["items"] == counted + 2
    # ... and its next progress row is taken.
    again = by_row(
        decisions(
            session,
            loop,
            sheet({"外部编号": "JT-20", "责任单位": "区住建局", "进度": "40", "进展情况": "开工"}),
        )
    )[2]
    assert again.action is ledger.Action.UPDATE


def test_an_office_import_transfers_the_items_with_one_message_per_officer(session, loop):
    from config.settings import get_settings
    from models.deadlines import working_days_after

    c = case(loop)
    admin = loop.cast.admin
    content = sheet(
        new_row(c, "BG-1"),
        new_row(c, "BG-2", 事项="背街小巷路灯维修"),
        new_row(c, "BG-3", 责任人="赵磊"),
    )
    tally = ledger.dry_run(session, loop.cast.dept_id, content, "csv", by=admin)
    assert [d.public()["action_label"] for d in tally.decisions] == ["新建（转交）"] * 3
    before = session.exec(select(func.count(Notification.id))).one()
    done = apply(session, loop, content, by=admin)
    assert done.created == 3
    due = working_days_after(session, done.applied_at, get_settings().ack_working_days).at
    items = [imported(session, e) for e in ("BG-1", "BG-2", "BG-3")]
    for item in items:
        assert item.status is ItemStatus.TRANSFERRED and item.acknowledged_at is None
        assert item.transferred_at == done.applied_at and item.ack_due_at == due
        assert set(owed(session, item.id)) == {Obligation.ACKNOWLEDGEMENT}
    messages = session.exec(
        select(Notification).where(Notification.template == "ledger_transfer")
    ).all()
    assert session.exec(select(func.count(Notification.id))).one() == before + 2
    by_tag = {m.recipient: m for m in messages}
    assert set(by_tag) == {loop.cast.officer.tag, loop.cast.head.tag}
    officer = by_tag[loop.cast.officer.tag]
    assert "请签收 2 项整改事项" in officer.title
    assert "楼道照明线路更换" in officer.body and "背街小巷路灯维修" in officer.body
    assert f"/work/items/{items[0].id}" in officer.body
    # The department signs for one in implementation; it then owes its plan at once.
    from models import rectification

    signed = rectification.acknowledge(session, items[0].id, by=loop.cast.officer.id)
    assert signed.status is ItemStatus.ACKNOWLEDGED and signed.plan_due_at is not None
    assert set(owed(session, signed.id)) == {Obligation.PLAN, Obligation.ITEM_DEADLINE}


def test_re_importing_the_same_file_writes_no_second_follow_up_or_message(session, loop):
    c = case(loop)
    content = sheet(new_row(c, "RE-1"), new_row(c, "RE-2", 进度="20", 进展情况="已招标"))

    def written() -> tuple[int, int, int, int]:
        return tuple(  # type: ignore[return-value]
            session.exec(select(func.count(m.id))).one()  # type: ignore[arg-type]
            for m in (RectificationItem, FollowUp, Notification, ProgressUpdate)
        )

    before = written()
    apply(session, loop, content, by=loop.cast.admin)
    first = written()
    # The first import wrote the items, their 签收 rungs and the officer's one message ...
    assert first[0] == before[0] + 2 and first[1] > before[1] and first[2] == before[2] + 1
    second = apply(session, loop, content, name="再次导入.csv", by=loop.cast.admin)
    # ... and the same file again, by the office or by the department, writes nothing more.
    assert (second.created, second.unchanged) == (0, 2)
    assert written() == first
    apply(session, loop, content, name="本单位再导入.csv")
    assert written() == first


def test_before_the_transfer_stage_an_import_waits_for_it(session, loop):
    topic = loop.advance(loop.topic(title="台账导入（未转交）"), to=Stage.TRANSFER)
    suggestion = loop.items(topic)[0].suggestion_id
    c = {"topic": topic, "suggestion": suggestion}
    content = sheet(new_row(c, "DR-1"))
    assert [d.public()["action_label"] for d in decisions(session, loop, content).decisions] == [
        "新建（待转交）"
    ]
    apply(session, loop, content)
    item = imported(session, "DR-1")
    assert item.status is ItemStatus.DRAFT and item.transferred_at is None
    assert owed(session, item.id) == {}
    loop.run_stage(topic, Stage.TRANSFER)  # the stage transfers it with the others
    session.refresh(item)
    assert item.status is ItemStatus.TRANSFERRED and item.ack_due_at is not None


def test_xlsx_with_date_cells_and_a_sheet_without_its_header(session, loop):
    from openpyxl import Workbook

    c = case(loop)
    book = Workbook()
    ws = book.active
    ws.append(HEADER)
    row = new_row(c, "JT-20")
    row["期限"] = dt.datetime.combine(dt.date.today() + dt.timedelta(days=30), dt.time())
    row["进度"] = 20
    row["进展情况"] = "已招标"
    ws.append([row.get(h) for h in HEADER])
    out = io.BytesIO()
    book.save(out)
    tally = ledger.dry_run(session, loop.cast.dept_id, out.getvalue(), "xlsx")
    assert [d.action for d in tally.decisions] == [ledger.Action.CREATE]

    with pytest.raises(Invalid, match="缺少“外部编号”列"):
        ledger.dry_run(session, loop.cast.dept_id, "事项,责任单位\n修路,区住建局\n".encode(), "csv")
    with pytest.raises(Invalid, match=r"\.xlsx 或 \.csv"):
        ledger.file_format("台账.xls")


def test_deciding_a_batch_takes_the_same_queries_for_ten_rows_as_for_five_hundred(session, loop):
    c = case(loop)

    def statements(n: int) -> int:
        content = sheet(*(new_row(c, f"Q-{n}-{i}", 进度="5", 进展情况="启动") for i in range(n)))
        seen: list[str] = []
        engine = session.get_bind()

        def count(*_: Any) -> None:
            seen.append("q")

        event.listen(engine, "before_cursor_execute", count)
        try:
            tally = decisions(session, loop, content)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert tally.counts[ledger.Action.CREATE] == n
        return len(seen)

    few = statements(10)
    assert 0 < few == statements(500)


def test_progress_is_counted_batch_by_batch_while_applying(session, loop, monkeypatch):
    c = case(loop)
    monkeypatch.setattr(ledger, "BATCH", 2)
    content = sheet(*(new_row(c, f"P-{i}") for i in range(5)))
    row, _ = ledger.upload(
        session,
        department_id=loop.cast.dept_id,
        filename="p.csv",
        content=content,
        by=loop.cast.officer,
    )
    ledger.begin(session, row.id)
    seen = [(r.rows_done, r.rows_total) for r in ledger.apply_file(session, row.id)]
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert ledger.finish(session, row.id).created == 5
