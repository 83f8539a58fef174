"""台账导入: a department's spreadsheet of items and progress, checked row by row, then applied.

Pure domain code (no Prefect): reading the sheet, validating each row, deciding per row
create / update / unchanged / rejected, and applying one batch with set-based statements —
a fixed number of queries per batch, never one per row. An import never deletes anything:
it creates items the department lists under a new external id, records new progress for the
items it already has, and leaves everything else as it is. Rows are matched on the item's
external id (外部编号, unique per department), so importing the same file again changes nothing.

A new item reaches its department as the topic's stage allows (`Handover`): before the
transfer stage it waits as 待转交 for that stage; after, the department's own import is its
签收 (the item owes its plan and deadline ladder once the implementation has started), and the
office's import on its behalf transfers it, the 签收 clock running from the import and each
officer told once of all his items.

The sheet (first worksheet of an XLSX, or a CSV in UTF-8 / GB18030, header in the first row):

| 列 | 必填 | 说明 |
|---|---|---|
| 外部编号 | 是 | 本单位台账中的编号，单位内唯一；再次导入时据此对应事项 |
| 事项编号 | 否 | 系统中的事项编号（任务清单导出中有）；首次导入已有事项时填写，以把外部编号对应上 |
| 议题编号 | 新建时 | 事项所属议题的编号 |
| 建议编号 | 新建时 | 事项由哪条被采纳的建议转化而来 |
| 事项 | 新建时 | 事项名称（已有事项不按此修改） |
| 责任单位 | 是 | 单位全称，须为导入的单位本身 |
| 责任人 | 否 | 本单位联络员或负责人姓名；新建时留空则为本单位第一位联络员 |
| 期限 | 新建时 | 整改期限，如 2026-12-31；已有事项须与系统一致（延期须另行申请） |
| 进度 | 否 | 0–100 的整数百分比，如 60 或 60% |
| 进展情况 | 报送进度时 | 本次进展的文字说明 |
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import computed_field
from sqlmodel import Session, select

from config.settings import get_settings
from models.access import Can, require
from models.base import Page, utcnow
from models.case import audit, get, ladder_rows, queue
from models.deadlines import Deadline, end_of_day, format_local, local_today, working_days_after
from models.enums import Adoption, ItemStatus, Obligation, Role, Stage, TopicStatus
from models.errors import Conflict, Forbidden, Invalid, NotFound
from models.rectification import ITEM_STATUS_LABELS
from models.stages import is_done, under_way
from models.tables import (
    Department,
    FollowUp,
    LedgerImport,
    LedgerImportRecord,
    LedgerImportStatus,
    Person,
    ProgressUpdate,
    RectificationItem,
    Suggestion,
    Topic,
)

# Core handles on the two tables a batch writes: set-based statements, no ORM object per row.
_ITEM: Any = RectificationItem.__table__  # type: ignore[attr-defined]
_PROGRESS: Any = ProgressUpdate.__table__  # type: ignore[attr-defined]
_FOLLOW_UP: Any = FollowUp.__table__  # type: ignore[attr-defined]
BATCH = 1000  # rows decided and applied together: one set of prefetch queries per batch


class Column(StrEnum):
    """The sheet's columns, by their zh-CN headers (the order of the template)."""

    EXTERNAL_ID = "外部编号"
    ITEM_ID = "事项编号"
    TOPIC_ID = "议题编号"
    SUGGESTION_ID = "建议编号"
    TITLE = "事项"
    DEPARTMENT = "责任单位"
    OFFICER = "责任人"
    DEADLINE = "期限"
    PERCENT = "进度"
    NOTE = "进展情况"


REQUIRED_HEADERS = (Column.EXTERNAL_ID, Column.DEPARTMENT)
HELP = {
    Column.EXTERNAL_ID: "必填：本单位台账编号，单位内唯一",
    Column.ITEM_ID: "选填：系统事项编号，首次对应已有事项时填写",
    Column.TOPIC_ID: "新建时必填：议题编号",
    Column.SUGGESTION_ID: "新建时必填：被采纳建议的编号",
    Column.TITLE: "新建时必填：事项名称",
    Column.DEPARTMENT: "必填：责任单位全称",
    Column.OFFICER: "选填：联络员或负责人姓名",
    Column.DEADLINE: "新建时必填：如 2026-12-31",
    Column.PERCENT: "选填：0–100，如 60 或 60%",
    Column.NOTE: "报送进度时必填：进展说明",
}
EXAMPLE = {
    Column.EXTERNAL_ID: "JT-2026-001",
    Column.ITEM_ID: "",
    Column.TOPIC_ID: "1",
    Column.SUGGESTION_ID: "1",
    Column.TITLE: "修复老旧小区楼道照明",
    Column.DEPARTMENT: "住房和城乡建设局",
    Column.OFFICER: "",
    Column.DEADLINE: "2026-12-31",
    Column.PERCENT: "60",
    Column.NOTE: "已完成 3 个小区的线路更换",
}
MAX_LENGTHS = {Column.EXTERNAL_ID: 64, Column.TITLE: 200, Column.NOTE: 5000, Column.OFFICER: 50}


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"


ACTION_LABELS = {
    Action.CREATE: "新建",
    Action.UPDATE: "更新",
    Action.UNCHANGED: "无变化",
    Action.REJECTED: "拒绝",
}


class Handover(StrEnum):
    """How a new item reaches its department. Before the topic's transfer stage it waits as
    待转交 for that stage to transfer it; once the stage has started, the department's own
    import is its 签收 (the ledger is its own), and the office's import on its behalf transfers
    the item to it with the 签收 clock running from the import."""

    DRAFT = "draft"
    ACKNOWLEDGE = "acknowledge"
    TRANSFER = "transfer"


CREATE_LABELS = {
    Handover.DRAFT: "新建（待转交）",
    Handover.ACKNOWLEDGE: "新建（签收）",
    Handover.TRANSFER: "新建（转交）",
}
STATUS_LABELS = {
    LedgerImportStatus.CHECKED: "已试导入，待确认",
    LedgerImportStatus.QUEUED: "已提交，排队中",
    LedgerImportStatus.RUNNING: "导入中",
    LedgerImportStatus.DONE: "已完成",
    LedgerImportStatus.FAILED: "导入失败",
}
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


# --- reading the sheet ----------------------------------------------------------------------


@dataclass
class RawRow:
    """One line of the sheet as read: its row number in the sheet and its cells by header."""

    row: int
    cells: dict[Column, Any]


def file_format(filename: str) -> str:
    """csv or xlsx, from the file name; anything else is refused before it is stored."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".csv"):
        return suffix[1:]
    raise Invalid("只接受 .xlsx 或 .csv 格式的台账（可下载导入模板）", field="file")


def _headers(values: Sequence[Any]) -> dict[int, Column]:
    known = {c.value: c for c in Column}
    found: dict[int, Column] = {}
    for index, value in enumerate(values):
        name = str(value).strip() if value is not None else ""
        if name in known:
            found[index] = known[name]
    missing = [c.value for c in REQUIRED_HEADERS if c not in found.values()]
    if missing:
        columns = "、".join(f"“{m}”" for m in missing)
        raise Invalid(
            f"第 1 行（表头）缺少{columns}列；请使用导入模板（台账导入模板.xlsx）",
            field="file",
        )
    return found


def _blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def read_rows(content: bytes, fmt: str) -> Iterator[RawRow]:
    """The data rows of the sheet, blank lines skipped; a sheet without the required header
    columns is refused as a whole (422)."""
    lines: Iterable[Sequence[Any]] = _csv_lines(content) if fmt == "csv" else _xlsx_lines(content)
    iterator = iter(lines)
    header = next(iterator, None)
    if header is None:
        raise Invalid("台账是空的：第 1 行应为表头", field="file")
    columns = _headers(header)
    for number, values in enumerate(iterator, start=2):
        if _blank(values):
            continue
        cells = {col: values[i] if i < len(values) else None for i, col in columns.items()}
        yield RawRow(row=number, cells=cells)


def _csv_lines(content: bytes) -> Iterator[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = content.decode("gb18030")  # what Excel writes for CSV on a zh-CN Windows
        except UnicodeDecodeError:
            raise Invalid("CSV 文件不是 UTF-8 或 GB18030 编码", field="file") from None
    yield from csv.reader(io.StringIO(text))


def _xlsx_lines(content: bytes) -> Iterator[tuple[Any, ...]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a file that is not a workbook
        raise Invalid("无法读取该 XLSX 文件：不是有效的 Excel 工作簿", field="file") from None
    try:
        sheet = book.worksheets[0]
        yield from sheet.iter_rows(values_only=True)
    finally:
        book.close()


# --- validating one row ---------------------------------------------------------------------


@dataclass
class Problem:
    row: int
    column: str
    reason: str

    @property
    def message(self) -> str:
        return f"第 {self.row} 行“{self.column}”列：{self.reason}"


@dataclass
class LedgerRow:
    """A row whose cells have the right types (not yet checked against the case file)."""

    row: int
    external_id: str
    item_id: int | None
    topic_id: int | None
    suggestion_id: int | None
    title: str | None
    department: str
    officer: str | None
    deadline: dt.date | None
    percent: int | None
    note: str | None


class _Bad(Exception):
    def __init__(self, column: Column, reason: str) -> None:
        self.column, self.reason = column, reason


def _text(raw: RawRow, column: Column) -> str | None:
    value = raw.cells.get(column)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        return None
    limit = MAX_LENGTHS.get(column)
    if limit is not None and len(text) > limit:
        raise _Bad(column, f"不能超过 {limit} 个字")
    return text


def _whole(raw: RawRow, column: Column) -> int | None:
    value = raw.cells.get(column)
    if isinstance(value, bool):
        raise _Bad(column, "不是编号（应为正整数，如 12）")
    if isinstance(value, int | float) and float(value).is_integer() and value >= 1:
        return int(value)
    text = _text(raw, column)
    if text is None:
        return None
    if text.isdigit() and 1 <= int(text) <= 2**31 - 1:
        return int(text)
    raise _Bad(column, "不是编号（应为正整数，如 12）")


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")


def _date(raw: RawRow, column: Column) -> dt.date | None:
    value = raw.cells.get(column)
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(raw, column)
    if text is None:
        return None
    match = _DATE.match(text.split(" ")[0] if " " in text and ":" in text else text)
    if match:
        try:
            return dt.date(*(int(g) for g in match.groups()))
        except ValueError:
            pass
    raise _Bad(column, "不是日期（应为 2026-12-31）")


def _percent(raw: RawRow, column: Column) -> int | None:
    value = raw.cells.get(column)
    number: float | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        text = _text(raw, column)
        if text is None:
            return None
        try:
            number = float(text.removesuffix("%").removesuffix("％").strip())
        except ValueError:
            number = None
    if number is None or not number.is_integer() or not 0 <= number <= 100:
        raise _Bad(column, "不是 0–100 的整数百分比（应为 60 或 60%）")
    return int(number)


def validate(raw: RawRow) -> LedgerRow | Problem:
    """Types and required cells of one row; the first problem found is the row's reason."""
    try:
        external_id = _text(raw, Column.EXTERNAL_ID)
        if external_id is None:
            raise _Bad(Column.EXTERNAL_ID, "不能为空（本单位台账编号）")
        department = _text(raw, Column.DEPARTMENT)
        if department is None:
            raise _Bad(Column.DEPARTMENT, "不能为空（责任单位全称）")
        row = LedgerRow(
            row=raw.row,
            external_id=external_id,
            item_id=_whole(raw, Column.ITEM_ID),
            topic_id=_whole(raw, Column.TOPIC_ID),
            suggestion_id=_whole(raw, Column.SUGGESTION_ID),
            title=_text(raw, Column.TITLE),
            department=department,
            officer=_text(raw, Column.OFFICER),
            deadline=_date(raw, Column.DEADLINE),
            percent=_percent(raw, Column.PERCENT),
            note=_text(raw, Column.NOTE),
        )
    except _Bad as bad:
        return Problem(raw.row, bad.column.value, bad.reason)
    if row.note is not None and len(row.note) < 2:
        return Problem(raw.row, Column.NOTE.value, "至少 2 个字")
    if row.title is not None and len(row.title) < 2:
        return Problem(raw.row, Column.TITLE.value, "至少 2 个字")
    return row


# --- deciding each row ----------------------------------------------------------------------


@dataclass
class Decision:
    """What importing one row does (or why it is refused)."""

    row: int
    external_id: str | None
    action: Action
    item_id: int | None = None
    column: str | None = None
    reason: str | None = None
    # What applying it writes (not shown): the new item, the binding, the progress.
    new_item: dict[str, Any] | None = None
    bind_external: bool = False
    percent: int | None = None
    note: str | None = None
    handover: Handover = Handover.DRAFT
    ask_plan: bool = False  # the topic's implementation has started: the plan is owed now

    @property
    def label(self) -> str:
        if self.action is Action.CREATE:
            return CREATE_LABELS[self.handover]
        return ACTION_LABELS[self.action]

    def public(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "external_id": self.external_id,
            "action": self.action.value,
            "action_label": self.label,
            "item_id": self.item_id,
            "column": self.column,
            "reason": self.reason,
            "message": Problem(self.row, self.column, self.reason).message
            if self.action is Action.REJECTED and self.column and self.reason
            else None,
        }


def _rejected(row: int, external_id: str | None, column: Column | str, reason: str) -> Decision:
    return Decision(row, external_id, Action.REJECTED, column=str(column), reason=reason)


@dataclass
class Importer:
    """The department importing and the people who may be named as 责任人."""

    id: int
    name: str
    officers: dict[str, int]  # name → person id (officers and heads of the department)
    default_officer: int | None
    known_departments: set[str] = field(default_factory=set)
    by_office: bool = False  # the office imports on the department's behalf


def department_context(
    session: Session, department_id: int, *, by: Person | None = None
) -> Importer:
    """Two queries, once per import: the department with its people, and every department name.
    `by` is who imports: the office (on the department's behalf) or its own staff."""
    department = get(session, Department, department_id)
    people = session.exec(
        select(Person)
        .where(
            Person.department_id == department_id,
            Person.role.in_([Role.OFFICER, Role.DEPARTMENT_HEAD]),  # type: ignore[attr-defined]
        )
        .order_by(Person.role.desc(), Person.id)  # type: ignore[attr-defined, arg-type]
    ).all()
    officers = {p.name: p.id for p in people if p.id is not None}
    default = next((p.id for p in people if p.role == Role.OFFICER), None)
    names = set(session.exec(select(Department.name)).all())
    return Importer(
        department.id,  # type: ignore[arg-type]
        department.name,
        officers,
        default,
        names,
        by_office=by is not None and by.role == Role.ADMINISTRATOR,
    )


@dataclass
class _Known:
    item_id: int
    external_id: str | None
    department_id: int
    status: ItemStatus
    deadline: dt.datetime
    percent: int | None
    note: str | None = None


def _prefetch(
    session: Session, dept: Importer, rows: list[LedgerRow]
) -> tuple[dict[str, _Known], dict[int, _Known], dict[int, Topic], dict[int, Suggestion]]:
    """Everything a batch needs, in five queries whatever its size."""
    externals = {r.external_id for r in rows}
    item_ids = {r.item_id for r in rows if r.item_id is not None}
    item = _ITEM.c
    cols = (
        item.id,
        item.external_id,
        item.lead_department_id,
        item.status,
        item.deadline,
        item.progress_percent,
    )
    found: list[Any] = []
    if externals:
        found += session.execute(
            sa.select(*cols).where(
                item.lead_department_id == dept.id, item.external_id.in_(externals)
            )
        ).all()
    if item_ids:
        found += session.execute(sa.select(*cols).where(item.id.in_(item_ids))).all()
    known = {r[0]: _Known(*r) for r in found}
    if known:
        progress = _PROGRESS.c
        latest = (
            sa.select(progress.item_id, sa.func.max(progress.id).label("last"))
            .where(progress.item_id.in_(list(known)))
            .group_by(progress.item_id)
            .subquery()
        )
        notes = session.execute(
            sa.select(progress.item_id, progress.note).join(latest, progress.id == latest.c.last)
        ).all()
        for item_id, note in notes:
            known[item_id].note = note
    by_external = {
        k.external_id: k
        for k in known.values()
        if k.external_id is not None and k.department_id == dept.id
    }
    topic_ids = {r.topic_id for r in rows if r.topic_id is not None}
    suggestion_ids = {r.suggestion_id for r in rows if r.suggestion_id is not None}
    topics = (
        {t.id: t for t in session.exec(select(Topic).where(Topic.id.in_(topic_ids))).all()}  # type: ignore[union-attr, misc]
        if topic_ids
        else {}
    )
    suggestions = (
        {
            s.id: s
            for s in session.exec(
                select(Suggestion).where(Suggestion.id.in_(suggestion_ids))  # type: ignore[union-attr]
            ).all()
        }
        if suggestion_ids
        else {}
    )
    return by_external, known, topics, suggestions  # type: ignore[return-value]


def _decide_existing(row: LedgerRow, known: _Known, bind: bool) -> Decision:
    if row.deadline is not None and local_today(known.deadline) != row.deadline:
        current = local_today(known.deadline).isoformat()
        return _rejected(
            row.row,
            row.external_id,
            Column.DEADLINE,
            f"与系统中的整改期限 {current} 不一致；延期须提出延期申请，不能通过导入修改",
        )
    new_percent = row.percent is not None and row.percent != known.percent
    new_note = row.note is not None and row.note != known.note
    if not (new_percent or new_note or bind):
        return Decision(row.row, row.external_id, Action.UNCHANGED, item_id=known.item_id)
    if new_percent or new_note:
        if known.status != ItemStatus.IN_PROGRESS:
            return _rejected(
                row.row,
                row.external_id,
                Column.PERCENT if new_percent else Column.NOTE,
                f"事项当前为“{ITEM_STATUS_LABELS[known.status]}”，只有整改中的事项可以报送进展",
            )
        if row.note is None:
            return _rejected(row.row, row.external_id, Column.NOTE, "报送进度时须填写进展情况")
        percent = row.percent if row.percent is not None else known.percent
        if percent is None:
            return _rejected(row.row, row.external_id, Column.PERCENT, "报送进展时须填写进度")
        return Decision(
            row.row,
            row.external_id,
            Action.UPDATE,
            item_id=known.item_id,
            bind_external=bind,
            percent=percent,
            note=row.note,
        )
    return Decision(
        row.row, row.external_id, Action.UPDATE, item_id=known.item_id, bind_external=True
    )


def _decide_new(
    row: LedgerRow,
    dept: Importer,
    topics: dict[int, Topic],
    suggestions: dict[int, Suggestion],
    today: dt.date,
) -> Decision:
    for column, value in (
        (Column.TOPIC_ID, row.topic_id),
        (Column.SUGGESTION_ID, row.suggestion_id),
        (Column.TITLE, row.title),
        (Column.DEADLINE, row.deadline),
    ):
        if value is None:
            return _rejected(row.row, row.external_id, column, "新建事项时不能为空")
    topic = topics.get(row.topic_id)  # type: ignore[arg-type]
    if topic is None:
        return _rejected(row.row, row.external_id, Column.TOPIC_ID, f"议题 {row.topic_id} 不存在")
    if topic.status != TopicStatus.IN_PROGRESS:
        return _rejected(
            row.row,
            row.external_id,
            Column.TOPIC_ID,
            f"议题 {row.topic_id} 不在办理中，不能增加事项",
        )
    suggestion = suggestions.get(row.suggestion_id)  # type: ignore[arg-type]
    if suggestion is None or suggestion.topic_id != topic.id:
        return _rejected(
            row.row,
            row.external_id,
            Column.SUGGESTION_ID,
            f"建议 {row.suggestion_id} 不存在或不属于议题 {row.topic_id}",
        )
    if suggestion.adoption != Adoption.ADOPTED:
        return _rejected(
            row.row, row.external_id, Column.SUGGESTION_ID, "只有被采纳的建议才能转化为整改事项"
        )
    if row.deadline <= today:  # type: ignore[operator]
        return _rejected(row.row, row.external_id, Column.DEADLINE, "整改期限须晚于今天")
    if row.officer is not None:
        officer = dept.officers.get(row.officer)
        if officer is None:
            return _rejected(
                row.row,
                row.external_id,
                Column.OFFICER,
                f"{row.officer} 不是本单位的联络员或负责人",
            )
    elif dept.default_officer is None:
        return _rejected(row.row, row.external_id, Column.OFFICER, "本单位没有联络员，请填写责任人")
    else:
        officer = dept.default_officer
    if row.percent is not None and row.note is None:
        return _rejected(row.row, row.external_id, Column.NOTE, "报送进度时须填写进展情况")
    handover = handover_for(topic, by_office=dept.by_office)
    return Decision(
        row.row,
        row.external_id,
        Action.CREATE,
        new_item={
            "topic_id": topic.id,
            "suggestion_id": suggestion.id,
            "title": row.title,
            "officer_id": officer,
            "deadline": end_of_day(row.deadline),  # type: ignore[arg-type]
        },
        percent=row.percent,
        note=row.note,
        handover=handover,
        ask_plan=handover is Handover.ACKNOWLEDGE and implementing(topic),
    )


def handover_for(topic: Topic, *, by_office: bool) -> Handover:
    """Draft until the topic's transfer stage starts (that stage transfers it); after, the
    office's import transfers the item and the department's own import signs for it."""
    if not (under_way(topic, Stage.TRANSFER) or is_done(topic, Stage.TRANSFER)):
        return Handover.DRAFT
    return Handover.TRANSFER if by_office else Handover.ACKNOWLEDGE


def implementing(topic: Topic) -> bool:
    """The implementation has started: a signed item owes its plan and its deadline ladder
    now (before, `rectification.start_implementation` asks for them)."""
    return under_way(topic, Stage.IMPLEMENTATION) or is_done(topic, Stage.IMPLEMENTATION)


def decide_batch(
    session: Session,
    dept: Importer,
    raws: Sequence[RawRow],
    seen: dict[str, int],
    *,
    today: dt.date | None = None,
) -> list[Decision]:
    """Decide every row of a batch with a fixed number of queries. `seen` (external id → first
    row) carries over between batches, so a number listed twice in a file is refused."""
    today = today or local_today(utcnow())
    checked: list[LedgerRow | Decision] = []
    for raw in raws:
        result = validate(raw)
        if isinstance(result, Problem):
            external = raw.cells.get(Column.EXTERNAL_ID)
            checked.append(
                _rejected(
                    result.row, str(external) if external else None, result.column, result.reason
                )
            )
            continue
        if result.department != dept.name:
            reason = (
                f"不是本单位（{dept.name}）的事项，请由“{result.department}”导入"
                if result.department in dept.known_departments
                else f"没有名为“{result.department}”的单位"
            )
            checked.append(_rejected(result.row, result.external_id, Column.DEPARTMENT, reason))
            continue
        first = seen.setdefault(result.external_id, result.row)
        if first != result.row:
            checked.append(
                _rejected(
                    result.row, result.external_id, Column.EXTERNAL_ID, f"与第 {first} 行重复"
                )
            )
            continue
        checked.append(result)
    rows = [r for r in checked if isinstance(r, LedgerRow)]
    by_external, by_id, topics, suggestions = _prefetch(session, dept, rows)
    decisions: list[Decision] = []
    for entry in checked:
        if isinstance(entry, Decision):
            decisions.append(entry)
            continue
        row = entry
        known = by_external.get(row.external_id)
        if row.item_id is not None:
            named = by_id.get(row.item_id)
            if named is None or named.department_id != dept.id:
                decisions.append(
                    _rejected(
                        row.row, row.external_id, Column.ITEM_ID, f"本单位没有事项 {row.item_id}"
                    )
                )
                continue
            if known is not None and known.item_id != named.item_id:
                decisions.append(
                    _rejected(
                        row.row,
                        row.external_id,
                        Column.ITEM_ID,
                        f"外部编号 {row.external_id} 已对应事项 {known.item_id}",
                    )
                )
                continue
            if named.external_id not in (None, row.external_id):
                decisions.append(
                    _rejected(
                        row.row,
                        row.external_id,
                        Column.ITEM_ID,
                        f"事项 {row.item_id} 已对应外部编号 {named.external_id}",
                    )
                )
                continue
            decisions.append(_decide_existing(row, named, bind=named.external_id is None))
        elif known is not None:
            decisions.append(_decide_existing(row, known, bind=False))
        else:
            decisions.append(_decide_new(row, dept, topics, suggestions, today))
    return decisions


def batches(rows: Iterable[RawRow], size: int | None = None) -> Iterator[list[RawRow]]:
    size = size or BATCH
    chunk: list[RawRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass
class Tally:
    """Rows in = created + updated + unchanged + rejected."""

    rows: int = 0
    counts: dict[Action, int] = field(default_factory=lambda: dict.fromkeys(Action, 0))
    decisions: list[Decision] = field(default_factory=list)

    def add(self, decisions: Sequence[Decision], *, raws: int) -> None:
        self.rows += raws
        for d in decisions:
            self.counts[d.action] += 1
        self.decisions.extend(decisions)
        assert self.rows == sum(self.counts.values()), "每一行都须有且仅有一个结果"

    def errors(self) -> list[dict[str, Any]]:
        return [d.public() for d in self.decisions if d.action is Action.REJECTED]


def dry_run(
    session: Session, department_id: int, content: bytes, fmt: str, *, by: Person | None = None
) -> Tally:
    """Every row's decision, writing nothing; `by` (the importer) decides how new items are
    handed over (see `Handover`), and each row's label says which."""
    dept = department_context(session, department_id, by=by)
    tally, seen = Tally(), {}  # type: ignore[var-annotated]
    for chunk in batches(read_rows(content, fmt)):
        tally.add(decide_batch(session, dept, chunk, seen), raws=len(chunk))
    return tally


# --- applying -------------------------------------------------------------------------------


def apply_batch(
    session: Session,
    dept: Importer,
    decisions: Sequence[Decision],
    *,
    by_id: int,
    import_id: int,
    now: dt.datetime | None = None,
) -> dict[Action, int]:
    """Write one batch's decisions set-based: one INSERT of the new items, one INSERT of the
    follow-ups they owe, one UPDATE of the bound external ids and progress, one INSERT of the
    progress rows, one audit event per topic. Nothing is deleted. Never commits.

    `now` is the import's apply time: when its signed items were signed for and its
    transferred items' 签收 clock started (the same for every batch of one import)."""
    now = now or utcnow()
    item = _ITEM
    creates = [d for d in decisions if d.action is Action.CREATE]
    if creates:
        handed = _Handed(session, now)
        values = [handed.item_values(d, dept=dept, by_id=by_id) for d in creates]
        session.execute(sa.insert(item), values)
        ids = dict(
            session.execute(
                sa.select(item.c.external_id, item.c.id).where(
                    item.c.lead_department_id == dept.id,
                    item.c.external_id.in_([d.external_id for d in creates]),
                )
            ).all()
        )
        for d in creates:
            d.item_id = ids[d.external_id]
        handed.insert_follow_ups(creates)
    updates = [d for d in decisions if d.action is Action.UPDATE]
    binds = [d for d in updates if d.bind_external]
    if binds:
        session.execute(
            sa.update(item)
            .where(item.c.id == sa.bindparam("b_id"))
            .values(external_id=sa.bindparam("b_external"), version=item.c.version + 1),
            [{"b_id": d.item_id, "b_external": d.external_id} for d in binds],
        )
    progressed = [d for d in updates if d.note is not None]
    if progressed:
        session.execute(
            sa.update(item)
            .where(item.c.id == sa.bindparam("b_id"))
            .values(progress_percent=sa.bindparam("b_percent"), version=item.c.version + 1),
            [{"b_id": d.item_id, "b_percent": d.percent} for d in progressed],
        )
    with_progress = [d for d in (*creates, *progressed) if d.note is not None]
    if with_progress:
        session.execute(
            sa.insert(_PROGRESS),
            [
                {
                    "item_id": d.item_id,
                    "by_id": by_id,
                    "note": d.note,
                    "percent": d.percent,
                    "evidence_ref": None,
                    "created_at": now,
                }
                for d in with_progress
            ],
        )
    if creates or updates:
        _audit_batch(session, creates, updates, import_id)
    counts = dict.fromkeys(Action, 0)
    for d in decisions:
        counts[d.action] += 1
    return counts


def _audit_batch(
    session: Session, creates: list[Decision], updates: list[Decision], import_id: int
) -> None:
    item = _ITEM.c
    topics: dict[int, int] = dict(
        session.execute(  # type: ignore[arg-type]
            sa.select(item.id, item.topic_id).where(
                item.id.in_([d.item_id for d in (*creates, *updates)])
            )
        ).all()
    )
    by_topic: dict[int, dict[str, list[int]]] = {}
    for kind, rows in (("created", creates), ("updated", updates)):
        for d in rows:
            item_id = int(d.item_id or 0)
            by_topic.setdefault(topics[item_id], {"created": [], "updated": []})[kind].append(
                item_id
            )
    handovers = {topics[int(d.item_id or 0)]: d.handover.value for d in creates}
    for topic_id, ids in sorted(by_topic.items()):
        audit(
            session,
            action="ledger_imported",
            topic_id=topic_id,
            import_id=import_id,
            created=ids["created"],
            updated=ids["updated"],
            handover=handovers.get(topic_id),
        )


class _Handed:
    """What new items owe once handed to their department, counted once per batch: a signed
    item its plan and its deadline ladder (once the implementation has started), a transferred
    one its 签收. Rows are column values for one INSERT, the rungs of one deadline counted once
    (ten thousand items share a handful of deadlines)."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        settings = get_settings()
        self.session, self.now = session, now
        self.ack_due = working_days_after(session, now, settings.ack_working_days)
        self.plan_due = working_days_after(session, now, settings.plan_working_days)
        self._rungs: dict[tuple[Obligation, Deadline], list[dict[str, Any]]] = {}
        self._owed: list[tuple[Decision, list[tuple[Obligation, Deadline]]]] = []

    def _ladder(self, obligation: Obligation, deadline: Deadline) -> list[dict[str, Any]]:
        key = (obligation, deadline)
        if key not in self._rungs:
            self._rungs[key] = ladder_rows(
                self.session,
                obligation=obligation,
                subject_id=0,
                topic_id=0,
                owed_by_id=None,
                deadline=deadline,
                now=self.now,
            )
        return self._rungs[key]

    def item_values(self, d: Decision, *, dept: Importer, by_id: int) -> dict[str, Any]:
        """The new item's columns, as the handover leaves it."""
        new = d.new_item or {}
        values: dict[str, Any] = {
            **new,
            "lead_department_id": dept.id,
            "co_department_ids": [],
            "external_id": d.external_id,
            "status": ItemStatus.DRAFT,
            "deadline_provisional": False,
            "progress_percent": d.percent,
            "version": 1,
        }
        if d.handover is Handover.DRAFT:
            return values
        deadline: dt.datetime = new["deadline"]
        values |= {
            "transferred_at": self.now,
            "original_deadline": deadline,
            "ack_due_at": self.ack_due.at,
        }
        owed: list[tuple[Obligation, Deadline]] = []
        if d.handover is Handover.TRANSFER:
            values["status"] = ItemStatus.TRANSFERRED
            owed.append((Obligation.ACKNOWLEDGEMENT, self.ack_due))
        else:
            # A row with progress is an item under way (整改中); without, a signed one (已签收).
            values |= {
                "status": ItemStatus.IN_PROGRESS if d.note is not None else ItemStatus.ACKNOWLEDGED,
                "acknowledged_at": self.now,
                "acknowledged_by_id": by_id,
            }
            if d.ask_plan:
                plan_due = self.plan_due
                if plan_due.at > deadline:  # never later than the item (as _ask_for_plan)
                    plan_due = Deadline(deadline, provisional=False)
                values["plan_due_at"] = plan_due.at
                owed += [
                    (Obligation.PLAN, plan_due),
                    (Obligation.ITEM_DEADLINE, Deadline(deadline, provisional=False)),
                ]
        rungs = [r for obligation, due in owed for r in self._ladder(obligation, due)]
        values["deadline_provisional"] = any(r["provisional"] for r in rungs)
        self._owed.append((d, owed))
        return values

    def insert_follow_ups(self, creates: Sequence[Decision]) -> None:
        """One INSERT of every rung the batch's handed items owe (after their ids are known)."""
        topic_of = {id(d): (d.new_item or {})["topic_id"] for d in creates}
        rows = [
            rung
            | {
                "subject_id": d.item_id,
                "topic_id": topic_of[id(d)],
                "owed_by_id": (d.new_item or {})["officer_id"],
            }
            for d, owed in self._owed
            for key in owed
            for rung in self._rungs[key]
        ]
        if rows:
            self.session.execute(sa.insert(_FOLLOW_UP), rows)


# --- the import record ----------------------------------------------------------------------


class LedgerImportPublic(LedgerImportRecord):
    id: int

    @computed_field(description="导入状态（中文）")  # type: ignore[prop-decorator]
    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @computed_field(description="进度：已处理行数 / 总行数")  # type: ignore[prop-decorator]
    @property
    def progress_label(self) -> str:
        return f"已处理 {self.rows_done} / {self.rows_total} 行"


class LedgerImportsPublic(Page[LedgerImportPublic]):
    """Uploaded ledgers, newest first."""


class DryRunPublic(LedgerImportPublic):
    """The dry run: the import's counts and every row's decision."""

    rows: list[dict[str, Any]]


def imports_dir() -> Path:
    return get_settings().data_dir / "imports"


def check_import_role(person: Person) -> None:
    """Only the office and departments' officers and heads import ledgers at all."""
    require(person, Can.IMPORT_LEDGER, action="导入台账")


def check_importer(session: Session, person: Person, department_id: int) -> None:
    """The office imports for any department; a department's officer or head for his own."""
    get(session, Department, department_id)
    if person.role == Role.ADMINISTRATOR:
        return
    if (
        person.role in (Role.OFFICER, Role.DEPARTMENT_HEAD)
        and person.department_id == department_id
    ):
        return
    raise Forbidden(f"{person.name} 无权导入该单位的台账：须为协商办工作人员或本单位联络员、负责人")


def upload(
    session: Session,
    *,
    department_id: int,
    filename: str,
    content: bytes,
    by: Person,
) -> tuple[LedgerImport, Tally]:
    """Check the file (a dry run: nothing but the import row is written), keep it under the
    data directory and stage its import row with the dry run's counts. Never commits."""
    check_importer(session, by, department_id)
    fmt = file_format(filename)
    tally = dry_run(session, department_id, content, fmt, by=by)
    if tally.rows == 0:
        raise Invalid("台账中没有数据行", field="file")
    digest = hashlib.sha256(content).hexdigest()
    stored = f"{utcnow():%Y%m%dT%H%M%S}-{digest[:16]}.{fmt}"
    directory = imports_dir()
    directory.mkdir(parents=True, exist_ok=True)
    (directory / stored).write_bytes(content)
    row = LedgerImport(
        department_id=department_id,
        filename=Path(filename).name[:200],
        file_format=fmt,
        sha256=digest,
        stored_name=stored,
        rows_total=tally.rows,
        created=tally.counts[Action.CREATE],
        updated=tally.counts[Action.UPDATE],
        unchanged=tally.counts[Action.UNCHANGED],
        rejected=tally.counts[Action.REJECTED],
        errors=tally.errors(),
        created_by_id=by.id,
    )
    session.add(row)
    session.flush()
    return row, tally


def read_import(session: Session, import_id: int) -> LedgerImport:
    try:
        return get(session, LedgerImport, import_id)
    except NotFound:
        raise NotFound(f"台账导入 {import_id} 不存在") from None


def queue_apply(session: Session, import_id: int, *, by: Person) -> LedgerImport:
    """Mark a checked import as queued (the route then starts its flow run). Never commits."""
    row = get(session, LedgerImport, import_id, for_update=True)
    check_importer(session, by, row.department_id)
    if row.status not in (LedgerImportStatus.CHECKED, LedgerImportStatus.FAILED):
        raise Conflict(f"该台账导入当前为“{STATUS_LABELS[row.status]}”，不能再次导入")
    row.status = LedgerImportStatus.QUEUED
    # Kept from a failed attempt: its applied batches were signed or transferred at that time.
    row.applied_at = row.applied_at or utcnow()
    row.failure = None
    return row


def stored_content(row: LedgerImport) -> bytes:
    path = imports_dir() / row.stored_name
    if not path.exists():
        raise NotFound(f"台账导入 {row.id} 的文件已不存在（{row.stored_name}）")
    return path.read_bytes()


def begin(session: Session, import_id: int) -> LedgerImport | None:
    """Start applying: None if the import is gone or already done (a retry does nothing)."""
    row = session.get(LedgerImport, import_id)
    if row is None or row.status is LedgerImportStatus.DONE:
        return None
    row.status = LedgerImportStatus.RUNNING
    row.failure = None
    if row.applied_at is None:  # fixed once: the time its items are signed for or transferred
        row.applied_at = utcnow()
    return row


def _reset(row: LedgerImport) -> None:
    """Counts start again with each attempt: they tell what this attempt did (a retry finds
    the rows an earlier attempt applied unchanged)."""
    row.rows_done = 0
    row.created = row.updated = row.unchanged = row.rejected = 0
    row.errors = []


def record_batch(
    session: Session, import_id: int, counts: dict[Action, int], errors: list[dict]
) -> None:
    """Add one applied batch to the import row: the progress count people watch."""
    row = get(session, LedgerImport, import_id)
    row.rows_done += sum(counts.values())
    row.created += counts[Action.CREATE]
    row.updated += counts[Action.UPDATE]
    row.unchanged += counts[Action.UNCHANGED]
    row.rejected += counts[Action.REJECTED]
    row.errors = [*row.errors, *errors]


def finish(session: Session, import_id: int) -> LedgerImport:
    """Close the import; its counts must add up to the rows read."""
    row = get(session, LedgerImport, import_id)
    total = row.created + row.updated + row.unchanged + row.rejected
    if total != row.rows_done or row.rows_done != row.rows_total:
        raise Conflict(
            f"导入计数不符：读入 {row.rows_total} 行，处理 {row.rows_done} 行，"
            f"新建、更新、无变化、拒绝合计 {total} 行"
        )
    row.status = LedgerImportStatus.DONE
    row.finished_at = utcnow()
    _tell_transferred(session, row)
    audit(
        session,
        action="ledger_import_finished",
        topic_id=None,
        import_id=import_id,
        department_id=row.department_id,
        created=row.created,
        updated=row.updated,
        unchanged=row.unchanged,
        rejected=row.rejected,
    )
    return row


def _tell_transferred(session: Session, row: LedgerImport) -> None:
    """One message per officer listing the items the office's import transferred to him
    (not one per item), asking for their 签收. The items are found by their transfer, which is
    the import's apply time; the key makes a rerun of the close send nothing again."""
    if row.applied_at is None:
        return
    item = _ITEM.c
    found = session.execute(
        sa.select(
            item.id, item.officer_id, item.title, item.deadline, item.topic_id, item.ack_due_at
        )
        .where(
            item.lead_department_id == row.department_id,
            item.status == ItemStatus.TRANSFERRED,
            item.transferred_at == row.applied_at,
            item.external_id.is_not(None),
        )
        .order_by(item.officer_id, item.id)
    ).all()
    if not found:
        return
    by_officer: dict[int, list[Any]] = {}
    for line in found:
        by_officer.setdefault(line.officer_id, []).append(line)
    department = get(session, Department, row.department_id)
    due = found[0].ack_due_at  # every item of one import shares its 签收 deadline
    people = {
        p.id: p
        for p in session.exec(
            select(Person).where(Person.id.in_(list(by_officer)))  # type: ignore[union-attr]
        ).all()
    }
    for officer_id, lines in sorted(by_officer.items()):
        officer = people[officer_id]
        queue(
            session,
            event_key=f"ledger_import:{row.id}:transfer:{officer_id}",
            recipients=[officer.tag],
            template="ledger_transfer",
            topic_id=lines[0].topic_id if len({ln.topic_id for ln in lines}) == 1 else None,
            salutation=f"{department.name}、{officer.name}",
            department=department.name,
            filename=row.filename,
            count=len(lines),
            items=[
                {"id": ln.id, "title": ln.title, "deadline": format_local(ln.deadline)}
                for ln in lines[:LISTED]
            ],
            more=max(0, len(lines) - LISTED),
            ack_deadline=format_local(due),
        )


LISTED = 20  # items a transfer message lists by name; the rest are counted


def fail(session: Session, import_id: int, reason: str) -> None:
    row = session.get(LedgerImport, import_id)
    if row is not None:
        row.status = LedgerImportStatus.FAILED
        row.failure = reason[:1000]


def apply_file(session: Session, import_id: int) -> Iterator[LedgerImport]:
    """Apply a stored import batch by batch; yields after each batch is staged so the caller
    (a task) commits it and the progress count shows. Re-deciding at apply time keeps the
    result true to the case file as it is now, not as it was at the dry run."""
    row = get(session, LedgerImport, import_id)
    by_id = row.created_by_id
    if by_id is None:
        raise Conflict("台账导入没有记录导入人")
    dept = department_context(session, row.department_id, by=get(session, Person, by_id))
    content = stored_content(row)
    _reset(row)
    seen: dict[str, int] = {}
    now = row.applied_at or utcnow()
    for chunk in batches(read_rows(content, row.file_format)):
        decisions = decide_batch(session, dept, chunk, seen)
        counts = apply_batch(session, dept, decisions, by_id=by_id, import_id=import_id, now=now)
        record_batch(
            session,
            import_id,
            counts,
            [d.public() for d in decisions if d.action is Action.REJECTED],
        )
        yield row


# --- the template ---------------------------------------------------------------------------


def template_xlsx() -> bytes:
    """The import template: the header row, one example line and a sheet explaining each column."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "台账"
    sheet.append([c.value for c in Column])
    sheet.append([EXAMPLE[c] for c in Column])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for index, column in enumerate(Column, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, len(HELP[column]) + 4)
    notes = book.create_sheet("填写说明")
    notes.append(["列", "说明"])
    for column in Column:
        notes.append([column.value, HELP[column]])
    notes.append([])
    notes.append(
        ["规则", "按“外部编号”对应事项，重复导入同一文件不做任何修改；导入从不删除任何记录。"]
    )
    notes.append(
        ["", "已有事项只接受“进度”“进展情况”；期限与系统不一致的行将被拒绝（延期须申请）。"]
    )
    notes.append(
        [
            "",
            "议题尚未进入转交办理环节时，新建事项为“待转交”，由转交环节交办；"
            "已进入该环节后，本单位导入即视为签收（填写进展的为“整改中”），"
            "协商办代为导入的则转交本单位签收。",
        ]
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
