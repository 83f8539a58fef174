"""三单联动 through the API: one call returns the topic's whole chain with links both ways, in a
fixed number of queries; the three lists download as XLSX (rows and link columns) and as CSV
(UTF-8 with a BOM, so Excel shows the Chinese)."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import event

from models import assessment, rectification
from models.enums import Stage
from tests.factories import LoopBuilder

ORDER = ["opinion", "suggestion", "item", "plan", "progress", "evidence", "rating", "recheck"]


def full_case(loop: LoopBuilder) -> Any:
    """A topic from its opinions to a re-check: plans, progress with evidence, completion,
    ratings per item and one 回头看."""
    s, c = loop.s, loop.cast
    topic = loop.advance(loop.topic(title="三单联动测试"), to=Stage.IMPLEMENTATION, start=True)
    items = loop.items(topic)
    for n, item in enumerate(items):
        loop.plan(item)
        rectification.report_progress(
            s,
            item.id,
            rectification.ProgressIn(
                note="完成线路更换", percent=60, evidence_ref=f"photo-{n}.jpg"
            ),
            by=item.officer_id,
        )
        loop.complete(item)
    s.flush()
    loop.run_stage(topic, Stage.ASSESSMENT)
    for item in items:
        assessment.rate(
            s, topic.id, assessment.RatingIn(score=5, item_id=item.id), by=c.resident.id
        )
    rectification.recheck(
        s, items[0].id, rectification.RecheckIn(rebound=False, note="复查无反弹"), by=c.admin.id
    )
    s.flush()
    return topic, items


def test_the_chain_links_every_record_both_ways(client, loop):
    topic, _ = full_case(loop)
    r = client.get(f"/topics/{topic.id}/chain")
    assert r.status_code == 200, r.text
    chain = r.json()
    assert all(chain[k] for k in ORDER), {k: len(chain[k]) for k in ORDER}
    nodes = {(k, n["id"]): n for k in ORDER for n in chain[k]}
    for (kind, ident), node in nodes.items():
        for child_kind, ids in node["children"].items():
            for child in ids:
                assert ident in nodes[(child_kind, child)]["parents"][kind], (kind, ident, child)
        for parent_kind, ids in node["parents"].items():
            for parent in ids:
                assert ident in nodes[(parent_kind, parent)]["children"][kind]
    # Walk from the re-check back up to the opinion it came from, and down again.
    recheck = chain["recheck"][0]
    item = nodes[("item", recheck["parents"]["item"][0])]
    suggestion = nodes[("suggestion", item["parents"]["suggestion"][0])]
    assert suggestion["parents"]["opinion"]
    plan = nodes[("plan", item["children"]["plan"][0])]
    progress = nodes[("progress", plan["children"]["progress"][0])]
    assert nodes[("evidence", progress["children"]["evidence"][0])]["detail"]["ref"].startswith(
        "photo-"
    )
    assert item["children"]["rating"] and recheck["parents"]["rating"]
    assert r.json()["item"][0]["detail"]["status_label"] == "已完成"


def test_an_item_a_failed_recheck_reopened_hangs_from_that_recheck(client, loop):
    topic, items = full_case(loop)
    rectification.recheck(
        loop.s,
        items[1].id,
        rectification.RecheckIn(rebound=True, note="又出现积水"),
        by=loop.cast.admin.id,
    )
    loop.s.flush()
    chain = client.get(f"/topics/{topic.id}/chain").json()
    reopened = [n for n in chain["item"] if n["parents"].get("recheck")]
    assert [n["parents"]["recheck"] for n in reopened] == [[items[1].id]]
    recheck = next(n for n in chain["recheck"] if n["id"] == items[1].id)
    assert recheck["children"]["item"] == [reopened[0]["id"]]


def test_the_chain_takes_the_same_queries_for_a_bigger_topic(client, loop, session):
    small, _ = full_case(loop)
    big = loop.advance(loop.topic(title="更大的议题"), to=Stage.IMPLEMENTATION, start=True)
    for item in loop.items(big):
        loop.plan(item)
        for n in range(5):
            rectification.report_progress(
                session,
                item.id,
                rectification.ProgressIn(
                    note=f"第 {n} 次进展", percent=10 * n, evidence_ref=f"e{n}"
                ),
                by=item.officer_id,
            )
    session.flush()

    def queries(topic_id: int) -> int:
        from models import chain

        seen: list[int] = []
        bind = session.get_bind()
        listener = lambda *_: seen.append(1)  # noqa: E731
        event.listen(bind, "before_cursor_execute", listener)
        try:
            chain.chain(session, topic_id)
        finally:
            event.remove(bind, "before_cursor_execute", listener)
        return len(seen)

    assert 0 < queries(small.id) == queries(big.id)


def test_the_three_lists_download_as_xlsx_with_link_columns(client, loop):
    topic, items = full_case(loop)
    r = client.get(f"/topics/{topic.id}/lists.xlsx")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames == ["问题清单", "任务清单", "责任清单"]
    suggestions = list(book["问题清单"].iter_rows(values_only=True))
    assert suggestions[0][:4] == ("建议编号", "议题编号", "建议内容", "来源意见编号")
    header = suggestions[0]
    for row in suggestions[1:]:
        linked = str(row[header.index("转化事项编号")])
        assert any(str(i.id) in linked.split("、") for i in items)
    tasks = list(book["任务清单"].iter_rows(values_only=True))
    header = tasks[0]
    assert len(tasks) == len(items) + 1
    by_id = {row[0]: row for row in tasks[1:]}
    first = by_id[items[0].id]
    assert first[header.index("来源建议编号")] == items[0].suggestion_id
    assert first[header.index("佐证材料")] == "photo-0.jpg"
    assert first[header.index("满意评价数/评价数")] == "1/1"
    assert first[header.index("回头看结果")] == "回头看：未反弹"
    assert first[header.index("状态")] == "已完成"
    duties = list(book["责任清单"].iter_rows(values_only=True))
    header = duties[0]
    assert {row[header.index("牵头单位")] for row in duties[1:]} == {"区住建局", "城南街道"}
    assert {row[header.index("联络员")] for row in duties[1:]} == {"李强", "周婷"}


def test_a_list_downloads_as_csv_with_a_bom_and_dates_in_shanghai(client, loop):
    topic, items = full_case(loop)
    r = client.get(f"/topics/{topic.id}/lists/responsibilities.csv")
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert "filename*=UTF-8''" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][0] == "事项编号" and len(rows) == len(items) + 1
    by_id = {row[0]: row for row in rows[1:]}
    acknowledged = by_id[str(items[0].id)][rows[0].index("签收时间")]
    from config.settings import get_settings

    local = items[0].acknowledged_at.astimezone(get_settings().tz)
    assert acknowledged == local.strftime("%Y-%m-%d %H:%M")  # Asia/Shanghai, not UTC
    assert client.get(f"/topics/{topic.id}/lists/nothing.csv").status_code == 422
    missing = client.get("/topics/999999/chain")
    assert missing.status_code == 404 and "议题" in missing.json()["detail"]
