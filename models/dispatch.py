"""周调度 (weekly dispatch): everything every person owes, in a fixed number of queries.

The follow-up ladder is the only record of escalation state: the dispatch first sweeps it (every
rung due by now is sent or settled, as the follow-up flow would), then one SELECT finds every
open item that needs attention (unacknowledged, plan missing, due soon, overdue, declined and
waiting to be reassigned) with its level read from the sent rungs of its ladder
(`RectificationItem.level`: 即将到期 / 预警 / 督办); nothing is marked on the item. One SELECT
finds the department heads. Then one digest per recipient is staged in the outbox under the key
`weekly:<ISO week>`, so a second run in the same week adds nothing and sends nothing twice.
The cost does not grow with queries per item: there are none.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlmodel import Session

from config.links import action
from config.settings import get_settings
from models import followup
from models.base import utcnow
from models.case import insert_ignoring_duplicates, notification_row, role_tag
from models.deadlines import format_local, local_today
from models.enums import ItemStatus, Obligation, Role
from models.obligations import SPECS
from models.tables import (
    LEVEL_DUE_SOON,
    LEVEL_ESCALATED,
    LEVEL_LABELS,
    LEVEL_NONE,
    LEVEL_WARNED,
    Department,
    Notification,
    Person,
    RectificationItem,
    Topic,
)

OPEN_STATUSES = (ItemStatus.TRANSFERRED, ItemStatus.ACKNOWLEDGED, ItemStatus.IN_PROGRESS)

# RectificationItem.level, derived from the item-deadline ladder.
NONE, DUE_SOON, WARNED, ESCALATED = LEVEL_NONE, LEVEL_DUE_SOON, LEVEL_WARNED, LEVEL_ESCALATED

CN_NUMBERS = "一二三四五六七八九十"

# The counts a dispatch reports, as a person reads them.
DISPATCH_LABELS = {
    "open_items": "在办整改事项",
    "attention": "需提醒/督办的事项",
    "unacknowledged": "待签收",
    "ack_overdue": "其中逾期未签收",
    "plan_missing": "待提交方案",
    "plan_overdue": "其中方案逾期",
    "due_soon": "即将到期",
    "warned": "超期预警",
    "escalated": "督办",
    "declined": "已退回待改派",
    "chased": "到期催办阶梯提醒",
    "digests": "摘要消息（一人一份）",
}


@dataclass(frozen=True)
class SectionKind:
    """One kind of thing owed: its heading, how to act, which date is the deadline."""

    heading: str
    how_to_act: str
    deadline_label: str  # "" when the line states no date of its own
    action: str  # per-line action; {id}, {owed_by} and {department} are filled in


def _on_item(name: str) -> str:
    """Where an item action is done, with {id} left to fill in per line."""
    return action(name, item_id="{id}")


SECTIONS: dict[str, SectionKind] = {
    # What an officer owes.
    "unacknowledged": SectionKind(
        "待签收整改事项",
        SPECS[Obligation.ACKNOWLEDGEMENT].digest_how_to_act or "",
        "签收期限",
        f"签收 {_on_item('item.acknowledge')}（退回 {_on_item('item.decline')}）",
    ),
    "plan_missing": SectionKind(
        "待提交整改方案（一问题一方案）",
        SPECS[Obligation.PLAN].digest_how_to_act or "",
        "方案期限",
        f"提交方案 {_on_item('item.plan')}",
    ),
    "due_soon": SectionKind(
        "即将到期事项",
        SPECS[Obligation.ITEM_DEADLINE].digest_how_to_act or "",
        "整改期限",
        f"报送进展 {_on_item('item.progress')}，办结 {_on_item('item.complete')}",
    ),
    "overdue": SectionKind(
        "已超期事项（预警）",
        "请立即办结；确需延期的请向协商办申请调整期限，逾期不办将提请督办",
        "整改期限",
        f"办结 {_on_item('item.complete')}",
    ),
    "escalated": SectionKind(
        "已提请督办事项（督办）",
        "已报单位负责人、协商办和审定人督办，请立即办结并报送情况",
        "整改期限",
        f"办结 {_on_item('item.complete')}",
    ),
    # What a department head owes: getting the department's overdue work done.
    "dept_ack_overdue": SectionKind(
        "本单位逾期未签收事项",
        "请督促责任人当即签收，或说明理由退回",
        "签收期限",
        f"督促{{owed_by}}签收 {_on_item('item.acknowledge')}",
    ),
    "dept_plan_overdue": SectionKind(
        "本单位逾期未提交整改方案事项",
        "请督促责任人当即提交整改方案",
        "方案期限",
        f"督促{{owed_by}}提交 {_on_item('item.plan')}",
    ),
    "dept_overdue": SectionKind(
        "本单位超期未办结事项（预警/督办）",
        "请督促责任人立即办结，并对督办事项报送情况",
        "整改期限",
        f"督促{{owed_by}}办结 {_on_item('item.complete')}",
    ),
    # A department without a head: the office stands in.
    "nohead_plan_overdue": SectionKind(
        "未设单位负责人的逾期未提交方案事项",
        "该单位未登记负责人，请协商办代为督促责任人提交整改方案",
        "方案期限",
        f"督促{{department}}{{owed_by}}提交 {_on_item('item.plan')}",
    ),
    "nohead_overdue": SectionKind(
        "未设单位负责人的超期事项（预警）",
        "该单位未登记负责人，请协商办代为督促责任人办结",
        "整改期限",
        f"督促{{department}}{{owed_by}}办结 {_on_item('item.complete')}",
    ),
    # What the office (and, for 督办, the approver) owes.
    "reassign": SectionKind(
        "已退回待改派事项",
        "请重新确定牵头单位和责任人后改派",
        "",
        f"改派 {_on_item('item.reassign')}",
    ),
    "ack_overdue_all": SectionKind(
        "逾期未签收事项",
        "请督促有关单位签收，必要时改派",
        "签收期限",
        f"督促{{department}}签收（{_on_item('item.reassign')} 可改派）",
    ),
    "escalated_all": SectionKind(
        "督办事项（超期且经预警仍未办结）",
        "请督办有关单位限期办结，必要时调整期限或约谈",
        "整改期限",
        f"督办{{department}}（调整期限 {_on_item('item.extend')}）",
    ),
}


NO_HEAD = {"dept_plan_overdue": "nohead_plan_overdue", "dept_overdue": "nohead_overdue"}


@dataclass
class Digest:
    """Everything one recipient owes this week, section by section (rows in deadline order)."""

    salutation: str
    label: str
    intro: str
    sections: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, kind: str, row: Any) -> None:
        self.sections.setdefault(kind, []).append(row)


def week_key(now: dt.datetime) -> str:
    year, week, _ = local_today(now).isocalendar()
    return f"weekly:{year}-W{week:02d}"


def week_label(now: dt.datetime) -> str:
    year, week, _ = local_today(now).isocalendar()
    return f"{year}年第{week}周"


def week_start(now: dt.datetime) -> dt.datetime:
    """Monday 00:00 local of the current ISO week, as UTC."""
    today = local_today(now)
    monday = today - dt.timedelta(days=today.weekday())
    return dt.datetime.combine(monday, dt.time(0, 0), tzinfo=get_settings().tz).astimezone(dt.UTC)


def attention_query() -> Any:
    """Every item somebody owes something on, with what the digests need (one SELECT)."""
    item = RectificationItem
    level = item.level  # type: ignore[attr-defined]
    return (
        select(  # type: ignore[call-overload]
            item.id,
            item.title,
            item.status,
            item.deadline,
            item.ack_due_at,
            item.plan_due_at,
            item.decline_reason,
            item.lead_department_id,
            level.label("level"),
            Topic.title.label("topic_title"),  # type: ignore[attr-defined]
            Department.name.label("department"),  # type: ignore[attr-defined]
            Person.name.label("officer_name"),  # type: ignore[attr-defined]
            Person.tag.label("officer_tag"),  # type: ignore[attr-defined]
        )
        .join(Topic, Topic.id == item.topic_id)
        .join(Department, Department.id == item.lead_department_id)
        .join(Person, Person.id == item.officer_id)
        .where(
            or_(
                item.status.in_([ItemStatus.TRANSFERRED, ItemStatus.DECLINED]),  # type: ignore[attr-defined]
                and_(item.status == ItemStatus.ACKNOWLEDGED, item.plan_due_at.is_not(None)),  # type: ignore[arg-type, union-attr]
                and_(item.status.in_(OPEN_STATUSES), level >= DUE_SOON),  # type: ignore[attr-defined]
            )
        )
        .order_by(item.deadline, item.id)
    )


def _heads(session: Session, department_ids: set[int]) -> dict[int, list[tuple[str, str]]]:
    rows = session.execute(
        select(Person.department_id, Person.tag, Person.name).where(  # type: ignore[call-overload]
            Person.role == Role.DEPARTMENT_HEAD,
            Person.department_id.in_(sorted(department_ids)),  # type: ignore[union-attr]
        )
    ).all()
    heads: dict[int, list[tuple[str, str]]] = {}
    for dept_id, tag, name in rows:
        heads.setdefault(dept_id, []).append((tag, name))
    return heads


class _Lines:
    """Builds digest lines; an item listed in several digests is worded once per run."""

    def __init__(self, today: dt.date, limit: int) -> None:
        self.today = today
        self.limit = limit
        self._when: dict[tuple[str, int], str] = {}
        self._local: dict[dt.datetime, tuple[dt.date, str]] = {}

    def local(self, when: dt.datetime) -> tuple[dt.date, str]:
        if when not in self._local:
            self._local[when] = (local_today(when), format_local(when))
        return self._local[when]

    def when(self, kind: SectionKind, row: Any) -> str:
        key = (kind.deadline_label, row.id)
        if key not in self._when:
            self._when[key] = self._word(kind, row)
        return self._when[key]

    def _word(self, kind: SectionKind, row: Any) -> str:
        if not kind.deadline_label:
            return f"退回理由：{row.decline_reason or '未说明'}，请尽快改派"
        due = {"签收期限": row.ack_due_at, "方案期限": row.plan_due_at}.get(
            kind.deadline_label, row.deadline
        )
        day, shown = self.local(due)
        days = (day - self.today).days
        state = (
            f"已超期 {-days} 天" if days < 0 else ("今天到期" if days == 0 else f"还剩 {days} 天")
        )
        level = (
            f"，{LEVEL_LABELS[row.level]}"
            if row.level >= WARNED and kind.deadline_label == "整改期限"
            else ""
        )
        return f"{kind.deadline_label} {shown}，{state}{level}"

    def section(self, number: int, key: str, rows: list[Any]) -> dict[str, Any]:
        kind = SECTIONS[key]
        lines = [
            {
                "title": r.title,
                "topic": r.topic_title,
                "department": r.department,
                "owed_by": r.officer_name,
                "when": self.when(kind, r),
                "action": kind.action.format(
                    id=r.id, owed_by=r.officer_name, department=r.department
                ),
            }
            for r in rows[: self.limit]
        ]
        return {
            "number": CN_NUMBERS[number - 1] if number <= len(CN_NUMBERS) else str(number),
            "heading": kind.heading,
            "how_to_act": kind.how_to_act,
            "count": len(rows),
            "lines": lines,
            "more": max(len(rows) - self.limit, 0),
        }


def weekly_dispatch(session: Session, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Bring the ladder up to date and stage one digest per recipient; return the counts."""
    settings = get_settings()
    now = now or utcnow()
    chased = followup.sweep(session, now=now)["chased"]
    item = RectificationItem

    open_items = session.execute(
        select(func.count()).select_from(item).where(item.status.in_(OPEN_STATUSES))  # type: ignore[attr-defined]
    ).scalar_one()
    rows = session.execute(attention_query()).all()
    heads = _heads(session, {r.lead_department_id for r in rows})

    admin, approver = role_tag(Role.ADMINISTRATOR), role_tag(Role.APPROVER)
    digests: dict[str, Digest] = {}

    def to(tag: str, salutation: str, label: str, intro: str) -> Digest:
        return digests.setdefault(tag, Digest(salutation, label, intro))

    def office() -> Digest:
        return to(admin, "协商办", "协商办", "全区整改事项中需协商办跟进的")

    counts: Counter[str] = Counter()
    for r in rows:
        status = ItemStatus(r.status)
        if status is ItemStatus.DECLINED:
            office().add("reassign", r)
            counts["declined"] += 1
            continue
        officer = to(
            r.officer_tag, f"{r.department}、{r.officer_name}", r.officer_name, "您名下的整改事项"
        )

        def to_heads(kind: str, r: Any = r) -> None:
            """The department head's part; without a head the office stands in (unless it
            hears of the item anyway: overdue acknowledgements and 督办 reach it directly)."""
            dept_heads = heads.get(r.lead_department_id, [])
            for tag, name in dept_heads:
                to(tag, f"{r.department}负责同志（{name}）", name, f"{r.department}的整改事项").add(
                    kind, r
                )
            if not dept_heads and NO_HEAD.get(kind) and r.level != ESCALATED:
                office().add(NO_HEAD[kind], r)

        if status is ItemStatus.TRANSFERRED:
            officer.add("unacknowledged", r)
            counts["unacknowledged"] += 1
            if r.ack_due_at is not None and r.ack_due_at < now:
                counts["ack_overdue"] += 1
                to_heads("dept_ack_overdue")
                office().add("ack_overdue_all", r)
        if status is ItemStatus.ACKNOWLEDGED and r.plan_due_at is not None:
            officer.add("plan_missing", r)
            counts["plan_missing"] += 1
            if r.plan_due_at < now:
                counts["plan_overdue"] += 1
                to_heads("dept_plan_overdue")
        if r.level == DUE_SOON:
            officer.add("due_soon", r)
            counts["due_soon"] += 1
        elif r.level == WARNED:
            officer.add("overdue", r)
            counts["warned"] += 1
            to_heads("dept_overdue")
        elif r.level == ESCALATED:
            officer.add("escalated", r)
            counts["escalated"] += 1
            to_heads("dept_overdue")
            office().add("escalated_all", r)
            to(approver, "审定人", "审定人", "提请审定人督办的").add("escalated_all", r)

    key = week_key(now)
    lines = _Lines(local_today(now), settings.digest_lines)
    notes = []
    for tag, digest in digests.items():
        if not digest.sections:
            continue
        ordered = [k for k in SECTIONS if k in digest.sections]
        sections = [lines.section(n, k, digest.sections[k]) for n, k in enumerate(ordered, start=1)]
        context = {
            "week_label": week_label(now),
            "recipient_label": f"·{digest.label}",
            "salutation": digest.salutation,
            "as_of": format_local(now),
            "intro": digest.intro,
            "total": len({r.id for rs in digest.sections.values() for r in rs}),
            "escalated": len(
                {
                    r.id
                    for k in ("escalated", "escalated_all", "dept_overdue")
                    for r in digest.sections.get(k, [])
                    if r.level == ESCALATED
                }
            ),
            "sections": sections,
        }
        notes.append(
            notification_row(
                event_key=key,
                recipient=tag,
                template="weekly_digest",
                context=context,
                topic_id=None,
            )
        )
    for start in range(0, len(notes), 1000):
        insert_ignoring_duplicates(session, Notification, notes[start : start + 1000])
    return {
        "week": key.removeprefix("weekly:"),
        "open_items": open_items,
        "attention": len(rows),
        "unacknowledged": counts["unacknowledged"],
        "ack_overdue": counts["ack_overdue"],
        "plan_missing": counts["plan_missing"],
        "plan_overdue": counts["plan_overdue"],
        "due_soon": counts["due_soon"],
        "warned": counts["warned"],
        "escalated": counts["escalated"],
        "declined": counts["declined"],
        "chased": chased,
        "digests": len(notes),
    }
