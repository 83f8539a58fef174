"""周调度 (weekly dispatch): everything every person owes, in a fixed number of queries.

The follow-up ladder is the only record of escalation state: the dispatch first sweeps it (every
rung due by now is sent or settled, as the follow-up flow would), then one SELECT finds every
open item (and every declined one waiting to be reassigned) with the level each of its ladders
reached, read from their sent rungs — 签收 (`ack_due_at`), 方案 (`plan_due_at`) and 整改期限
(`deadline`, `RectificationItem.level`) — so the digest, the API and the bulletins agree; nothing
is marked on the item. One SELECT finds the department heads. Then one digest per recipient,
grouped overdue → due soon and waiting → in progress, is staged in the outbox under the key
`weekly:<ISO week>`: a late, repeated or overlapping run in the same week adds nothing and sends
nothing twice. The cost does not grow with queries per item: there are none.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from sqlmodel import Session

from config.links import action
from config.settings import get_settings
from config.workdays import WorkCalendar
from models import followup
from models.base import utcnow
from models.calendar import calendar_for
from models.case import (
    department_heads,
    insert_ignoring_duplicates,
    notification_row,
    role_tag,
    salutation,
)
from models.deadlines import WorkdayCounter, format_local, local_today
from models.enums import ItemStatus, Obligation, PlanStatus, Role
from models.obligations import PLAN_STATES, SPECS
from models.tables import (
    LEVEL_DUE_SOON,
    LEVEL_ESCALATED,
    LEVEL_LABELS,
    LEVEL_NONE,
    LEVEL_WARNED,
    Department,
    Notification,
    Person,
    Plan,
    ProgressUpdate,
    RectificationItem,
    Topic,
    rung_level,
)

OPEN_STATUSES = (ItemStatus.TRANSFERRED, ItemStatus.ACKNOWLEDGED, ItemStatus.IN_PROGRESS)

# RectificationItem.level, derived from the item-deadline ladder.
NONE, DUE_SOON, WARNED, ESCALATED = LEVEL_NONE, LEVEL_DUE_SOON, LEVEL_WARNED, LEVEL_ESCALATED

CN_NUMBERS = "一二三四五六七八九十"

# The counts a dispatch reports, as a person reads them.
DISPATCH_LABELS = {
    "open_items": "在办整改事项",
    "attention": "列入摘要的事项",
    "unacknowledged": "待签收",
    "ack_overdue": "其中逾期未签收",
    "plan_missing": "待提交方案",
    "plan_overdue": "其中方案逾期",
    "due_soon": "即将到期",
    "warned": "超期预警",
    "escalated": "督办",
    "in_progress": "正常推进",
    "declined": "已退回待改派",
    "chased": "到期催办阶梯提醒",
    "digests": "摘要消息（一人一份）",
}

# A digest reads overdue first, then what is due soon or waiting, then what is going on.
GROUPS = {"overdue": "已超期", "soon": "即将到期及待办", "ongoing": "正常推进"}


@dataclass(frozen=True)
class SectionKind:
    """One kind of thing owed: its group, heading, how to act, which date is the deadline."""

    group: str  # a key of GROUPS
    heading: str
    how_to_act: str
    deadline_label: str  # "" when the line states no date of its own
    action: str  # per-line action; {id}, {owed_by} and {department} are filled in


def _on_item(name: str) -> str:
    """Where an item action is done, with {id} left to fill in per line."""
    return action(name, item_id="{id}")


ACK, PLAN, ITEM = "签收期限", "方案期限", "整改期限"

# In the order a digest lists them.
SECTIONS: dict[str, SectionKind] = {
    # What an officer owes.
    "escalated": SectionKind(
        "overdue",
        "已提请督办事项（督办）",
        "已报单位负责人、协商办和审定人督办，请立即办结并报送情况",
        ITEM,
        f"办结 {_on_item('item.complete')}",
    ),
    "overdue": SectionKind(
        "overdue",
        "已超期事项（预警）",
        "请立即办结；确需延期的请向协商办申请调整期限，逾期不办将提请督办",
        ITEM,
        f"办结 {_on_item('item.complete')}",
    ),
    "ack_overdue": SectionKind(
        "overdue",
        "逾期未签收事项",
        SPECS[Obligation.ACKNOWLEDGEMENT].digest_how_to_act or "",
        ACK,
        f"签收或退回 {_on_item('item.acknowledge')}",
    ),
    "plan_overdue": SectionKind(
        "overdue",
        "逾期未提交整改方案事项（一问题一方案）",
        SPECS[Obligation.PLAN].digest_how_to_act or "",
        PLAN,
        f"提交方案 {_on_item('item.plan')}",
    ),
    # What a department head owes: getting the department's overdue work done.
    "dept_ack_overdue": SectionKind(
        "overdue",
        "本单位逾期未签收事项",
        "请督促责任人当即签收，或说明理由退回",
        ACK,
        f"督促{{owed_by}}签收 {_on_item('item.acknowledge')}",
    ),
    "dept_plan_overdue": SectionKind(
        "overdue",
        "本单位逾期未提交整改方案事项",
        "请督促责任人当即提交整改方案",
        PLAN,
        f"督促{{owed_by}}提交 {_on_item('item.plan')}",
    ),
    "dept_overdue": SectionKind(
        "overdue",
        "本单位超期未办结事项（预警/督办）",
        "请督促责任人立即办结，并对督办事项报送情况",
        ITEM,
        f"督促{{owed_by}}办结 {_on_item('item.complete')}",
    ),
    # A department without a head: the office stands in.
    "nohead_plan_overdue": SectionKind(
        "overdue",
        "未设单位负责人的逾期未提交方案事项",
        "该单位未登记负责人，请协商办代为督促责任人提交整改方案",
        PLAN,
        f"督促{{department}}{{owed_by}}提交 {_on_item('item.plan')}",
    ),
    "nohead_overdue": SectionKind(
        "overdue",
        "未设单位负责人的超期事项（预警）",
        "该单位未登记负责人，请协商办代为督促责任人办结",
        ITEM,
        f"督促{{department}}{{owed_by}}办结 {_on_item('item.complete')}",
    ),
    # What the office (and, for 督办, the approver) owes.
    "ack_overdue_all": SectionKind(
        "overdue",
        "逾期未签收事项",
        "请督促有关单位签收，必要时改派",
        ACK,
        f"督促{{department}}签收（{_on_item('item.reassign')} 可改派）",
    ),
    "escalated_all": SectionKind(
        "overdue",
        "督办事项（超期且经预警仍未办结）",
        "请督办有关单位限期办结，必要时调整期限或约谈",
        ITEM,
        f"督办{{department}}（调整期限 {_on_item('item.extend')}）",
    ),
    # Due soon, or waiting for the person.
    "due_soon": SectionKind(
        "soon",
        "即将到期事项",
        SPECS[Obligation.ITEM_DEADLINE].digest_how_to_act or "",
        ITEM,
        f"报送进展、办结 {_on_item('item.progress')}",
    ),
    "unacknowledged": SectionKind(
        "soon",
        "待签收整改事项",
        SPECS[Obligation.ACKNOWLEDGEMENT].digest_how_to_act or "",
        ACK,
        f"签收或退回 {_on_item('item.acknowledge')}",
    ),
    "plan_missing": SectionKind(
        "soon",
        "待提交整改方案（一问题一方案）",
        SPECS[Obligation.PLAN].digest_how_to_act or "",
        PLAN,
        f"提交方案 {_on_item('item.plan')}",
    ),
    "arbitrate": SectionKind(
        "soon",
        "多次退回待协商办裁定事项",
        "请裁定牵头单位和责任人；裁定为最终决定，责任单位不得再退回",
        "",
        f"裁定 {_on_item('item.arbitrate')}",
    ),
    "reassign": SectionKind(
        "soon",
        "已退回待改派事项",
        "请重新确定牵头单位和责任人后改派",
        "",
        f"改派 {_on_item('item.reassign')}",
    ),
    # Everything else the officer carries.
    "in_progress": SectionKind(
        "ongoing",
        "正在推进的事项",
        "请按方案推进，定期报送进展",
        ITEM,
        f"报送进展 {_on_item('item.progress')}",
    ),
}

NO_HEAD = {"dept_plan_overdue": "nohead_plan_overdue", "dept_overdue": "nohead_overdue"}


@dataclass
class Digest:
    """Everything one recipient owes this week, section by section."""

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
    """Every open item (and every declined one), with the level each of its ladders reached,
    where it stands on its plan and its latest progress (one SELECT)."""
    item = RectificationItem
    latest_plan = aliased(Plan)
    latest_progress = aliased(ProgressUpdate)
    return (
        select(  # type: ignore[call-overload, misc]
            item.id,
            item.title,
            item.status,
            item.deadline,
            item.ack_due_at,
            item.plan_due_at,
            item.decline_reason,
            item.arbitration_requested_at,
            item.lead_department_id,
            # When the item last had news: progress, else its plan, else 签收, else transfer.
            func.coalesce(
                latest_progress.created_at,
                latest_plan.submitted_at,
                item.acknowledged_at,
                item.transferred_at,
                item.deadline,
            ).label("news_at"),
            item.level.label("level"),  # type: ignore[attr-defined]
            rung_level(Obligation.ACKNOWLEDGEMENT, item.ack_due_at).label("ack_level"),
            rung_level(Obligation.PLAN, item.plan_due_at).label("plan_level"),
            latest_plan.status.label("plan_status"),  # type: ignore[attr-defined]
            latest_progress.created_at.label("progress_at"),  # type: ignore[attr-defined]
            latest_progress.percent.label("progress_percent"),  # type: ignore[attr-defined]
            Topic.title.label("topic_title"),  # type: ignore[attr-defined]
            Department.name.label("department"),  # type: ignore[attr-defined]
            Person.name.label("officer_name"),  # type: ignore[attr-defined]
            Person.tag.label("officer_tag"),  # type: ignore[attr-defined]
        )
        .join(Topic, Topic.id == item.topic_id)
        .join(Department, Department.id == item.lead_department_id)
        .join(Person, Person.id == item.officer_id)
        .outerjoin(
            latest_plan,
            latest_plan.id
            == select(func.max(Plan.id))
            .where(Plan.item_id == item.id)  # type: ignore[arg-type]
            .correlate(item)
            .scalar_subquery(),
        )
        .outerjoin(
            latest_progress,
            latest_progress.id
            == select(func.max(ProgressUpdate.id))
            .where(ProgressUpdate.item_id == item.id)  # type: ignore[arg-type]
            .correlate(item)
            .scalar_subquery(),
        )
        .where(item.status.in_([*OPEN_STATUSES, ItemStatus.DECLINED]))  # type: ignore[attr-defined]
        .order_by(item.deadline, item.id)
    )


def _news(row: Any) -> dt.datetime:
    """Newest information first."""
    return row.news_at  # type: ignore[no-any-return]


class _Lines:
    """Builds digest lines; an item listed in several digests is worded once per run."""

    def __init__(self, calendar: WorkCalendar, today: dt.date, limit: int) -> None:
        self.counter = WorkdayCounter(calendar, today)
        self.limit = limit
        self._when: dict[tuple[str, int], str] = {}
        self._left: dict[dt.datetime, tuple[str, str]] = {}

    def left(self, due: dt.datetime) -> tuple[str, str]:
        """(the deadline as shown, the working days left or past), worded once per instant."""
        if due not in self._left:
            self._left[due] = (format_local(due), self.counter.time_left(due))
        return self._left[due]

    def when(self, key: str, row: Any) -> str:
        cache = (key, row.id)
        if cache not in self._when:
            self._when[cache] = self._word(key, row)
        return self._when[cache]

    def _word(self, key: str, row: Any) -> str:
        kind = SECTIONS[key]
        if key == "arbitrate":
            return f"最近一次退回理由：{row.decline_reason or '未说明'}，请尽快裁定"
        if not kind.deadline_label:
            return f"退回理由：{row.decline_reason or '未说明'}，请尽快改派"
        due = {ACK: row.ack_due_at, PLAN: row.plan_due_at}.get(kind.deadline_label, row.deadline)
        shown, left = self.left(due)
        text = f"{kind.deadline_label} {shown}，{left}"
        if kind.deadline_label == ITEM:
            if row.level >= WARNED:
                text += f"，{LEVEL_LABELS[row.level]}"
            if row.status != ItemStatus.TRANSFERRED:
                text += f"；{PLAN_STATES[row.plan_status]}"
        elif (row.ack_level if kind.deadline_label == ACK else row.plan_level) >= ESCALATED:
            text += "，已提请督办"
        if key == "in_progress":
            text += (
                f"；最新进展 {format_local(row.progress_at)[:11]}，完成 {row.progress_percent}%"
                if row.progress_at
                else "；尚未报送进展"
            )
        return text

    def action(self, kind: SectionKind, row: Any) -> str:
        """What to do next on this line: the section's action, unless the officer's plan is
        missing or was returned — then (re)submitting it comes first."""
        plan = PlanStatus(row.plan_status) if row.plan_status else None
        if (
            kind.deadline_label == ITEM
            and not kind.action.startswith("督")
            and row.status != ItemStatus.TRANSFERRED
            and plan in (None, PlanStatus.RETURNED)
        ):
            verb = "重新提交方案" if plan is PlanStatus.RETURNED else "提交方案"
            return f"{verb} {_on_item('item.plan').format(id=row.id)}"
        return kind.action.format(id=row.id, owed_by=row.officer_name, department=row.department)

    def section(self, number: int, key: str, rows: list[Any]) -> dict[str, Any]:
        kind = SECTIONS[key]
        rows = sorted(rows, key=_news, reverse=True)  # newest information first
        lines = [
            {
                "id": r.id,
                "title": r.title,
                "topic": r.topic_title,
                "department": r.department,
                "owed_by": r.officer_name,
                "when": self.when(key, r),
                "action": self.action(kind, r),
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
            "group": None,  # set on the first section of each group
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
    heads = department_heads(session, {r.lead_department_id for r in rows})

    admin, approver = role_tag(Role.ADMINISTRATOR), role_tag(Role.APPROVER)
    digests: dict[str, Digest] = {}

    def to(tag: str, greeting: Callable[[], str], label: str, intro: str) -> Digest:
        """The recipient's digest, begun the first time they are met."""
        digest = digests.get(tag)
        if digest is None:
            digest = digests[tag] = Digest(greeting(), label, intro)
        return digest

    def office() -> Digest:
        return to(
            admin, partial(salutation, Role.ADMINISTRATOR), "协商办", "全区整改事项中需协商办跟进的"
        )

    counts: Counter[str] = Counter()
    for r in rows:
        status = ItemStatus(r.status)
        if status is ItemStatus.DECLINED:
            # Returned again and again: the office owes a decision, not a reassignment.
            office().add("arbitrate" if r.arbitration_requested_at else "reassign", r)
            counts["declined"] += 1
            continue
        officer = to(
            r.officer_tag,
            partial(salutation, Role.OFFICER, name=r.officer_name, department=r.department),
            r.officer_name,
            "您名下的整改事项",
        )

        def to_heads(kind: str, r: Any = r) -> None:
            """The department head's part; without a head the office stands in (unless it
            hears of the item anyway: overdue acknowledgements and 督办 reach it directly)."""
            dept_heads = heads.get(r.lead_department_id, [])
            for tag, name in dept_heads:
                to(
                    tag,
                    partial(salutation, Role.DEPARTMENT_HEAD, name=name, department=r.department),
                    name,
                    f"{r.department}的整改事项",
                ).add(kind, r)
            if not dept_heads and NO_HEAD.get(kind) and r.level != ESCALATED:
                office().add(NO_HEAD[kind], r)

        listed = False
        if status is ItemStatus.TRANSFERRED:
            counts["unacknowledged"] += 1
            listed = True
            if r.ack_level >= WARNED:  # the ladder's overdue rung went out
                counts["ack_overdue"] += 1
                officer.add("ack_overdue", r)
                to_heads("dept_ack_overdue")
                office().add("ack_overdue_all", r)
            else:
                officer.add("unacknowledged", r)
        if status is ItemStatus.ACKNOWLEDGED and r.plan_due_at is not None:
            counts["plan_missing"] += 1
            listed = True
            if r.plan_level >= WARNED:
                counts["plan_overdue"] += 1
                officer.add("plan_overdue", r)
                to_heads("dept_plan_overdue")
            else:
                officer.add("plan_missing", r)
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
            to(approver, partial(salutation, Role.APPROVER), "审定人", "提请审定人督办的").add(
                "escalated_all", r
            )
        elif not listed:
            officer.add("in_progress", r)
            counts["in_progress"] += 1

    key = week_key(now)
    lines = _Lines(calendar_for(session), local_today(now), settings.digest_lines)
    notes = []
    for tag, digest in digests.items():
        if not digest.sections:
            continue
        ordered = [k for k in SECTIONS if k in digest.sections]
        sections = [lines.section(n, k, digest.sections[k]) for n, k in enumerate(ordered, start=1)]
        groups = []
        for group, label in GROUPS.items():
            keys = [k for k in ordered if SECTIONS[k].group == group]
            if keys:
                ids = {r.id for k in keys for r in digest.sections[k]}
                groups.append({"label": label, "count": len(ids)})
                sections[ordered.index(keys[0])]["group"] = groups[-1]
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
            "groups": groups,
            "sections": sections,
            # the items the message lists (a long section shows its first lines only)
            "item_ids": sorted({line["id"] for sec in sections for line in sec["lines"]}),
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
        **{k: counts[k] for k in DISPATCH_LABELS if k not in ("open_items", "attention")},
        "chased": chased,
        "digests": len(notes),
    }
