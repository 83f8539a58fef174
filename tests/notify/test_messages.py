"""Every event's zh-CN message says what is owed, by whom, by when and how to act."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from config.links import ADDRESS
from models.case import addressed, salutation
from models.enums import Obligation, PlanStatus, Role
from models.messages import render
from models.obligations import unmet
from models.tables import Department, Person

TOPIC = NS(id=7, title="老旧小区加装电梯", description="", emergency=False)
ITEM = NS(id=12, title="落实加装电梯补贴", completion_summary="补贴已发放")
DEADLINE = "2026年02月24日 23:59"
CHASE = {
    "salutation": "区住建局、李强",
    "remaining": "已超期 2 个工作日",
    "state": "逾期未签收整改事项",
    "owed_by": "李强",
    "topic_title": TOPIC.title,
    "item_title": ITEM.title,
    "department": "区住建局",
    "deadline": DEADLINE,
    "overdue": True,
    "provisional": False,
    "obligation": "签收整改事项",
    "how_to_act": "请在协商平台签收或说明理由退回（打开 http://127.0.0.1:8000/work/items/12）",
}
DIGEST_LINE = {
    "title": ITEM.title,
    "topic": TOPIC.title,
    "department": "区住建局",
    "owed_by": "李强",
    "when": f"整改期限 {DEADLINE}，已超期 2 个工作日，预警",
    "action": "办结 http://127.0.0.1:8000/work/items/12",
}

# event -> (template, context, who owes it, what is owed)
EVENTS = {
    "invitation": (
        "invitation",
        {
            "topic": TOPIC,
            "person": NS(name="张桂英"),
            "salutation": "尊敬的张桂英",
            "participant_id": 3,
            "deadline": DEADLINE,
            "provisional": False,
        },
        "张桂英",
        "回复是否参加",
    ),
    "rsvp_reminder": (
        "rsvp_reminder",
        CHASE | {"owed_by": "张桂英", "salutation": "尊敬的张桂英"},
        "张桂英",
        "回复",
    ),
    "research_due": (
        "research_due",
        CHASE | {"owed_by": "孙立", "salutation": "孙立委员"},
        "孙立",
        "调研成果",
    ),
    "session_notice": (
        "session_notice",
        {
            "topic": TOPIC,
            "meeting": NS(round=1, place="社区议事厅"),
            "form": "现场协商",
            "starts": DEADLINE,
            "ends": "",
        },
        "各位协商主体",
        "参加",
    ),
    "transfer": (
        "transfer",
        {
            "topic": TOPIC,
            "item": ITEM,
            "officer": NS(name="李强"),
            "department": "区住建局",
            "co_departments": "城南街道",
            "ack_deadline": DEADLINE,
            "deadline": "2026年03月24日 23:59",
            "provisional": False,
        },
        "李强",
        "签收",
    ),
    "ack_overdue": ("ack_overdue", CHASE, "李强", "签收"),
    "plan_due": ("plan_due", CHASE | {"obligation": "提交整改方案"}, "李强", "整改方案"),
    "item_due_soon": ("item_due_soon", CHASE | {"overdue": False}, "李强", "到期"),
    "overdue_warning": (
        "overdue_warning",
        CHASE | {"state": unmet(Obligation.ITEM_DEADLINE, overdue=True, plan_status="approved")},
        "李强",
        "已过整改期限仍未完成整改事项，整改方案已审核通过，尚未申请办结",
    ),
    "escalation": (
        "escalation",
        CHASE | {"salutation": "区住建局负责同志（赵磊）"},
        "区住建局负责同志（赵磊）",
        "逾期未签收整改事项",
    ),
    "recheck_request": ("recheck_request", CHASE | {"salutation": "协商办同志"}, "协商办", "复查"),
    "rating_request": (
        "rating_request",
        {
            "topic": TOPIC,
            "person": NS(name="刘大爷"),
            "salutation": "尊敬的刘大爷",
            "items": [ITEM],
            "deadline": DEADLINE,
            "provisional": False,
        },
        "刘大爷",
        "评价整改成效",
    ),
    "weekly_digest": (
        "weekly_digest",
        {
            "week_label": "2026年第9周",
            "recipient_label": "·李强",
            "salutation": "区住建局、李强",
            "as_of": "2026年02月23日 09:00",
            "intro": "您名下的整改事项",
            "total": 1,
            "escalated": 0,
            "groups": [{"label": "已超期", "count": 1}],
            "sections": [
                {
                    "number": "一",
                    "heading": "已超期事项（预警）",
                    "how_to_act": "请立即办结",
                    "count": 1,
                    "lines": [DIGEST_LINE],
                    "more": 0,
                    "group": {"label": "已超期", "count": 1},
                }
            ],
        },
        "李强",
        "已超期事项",
    ),
}


@pytest.mark.parametrize("event", sorted(EVENTS))
def test_message_says_what_by_whom_by_when_and_how(event):
    template, context, who, what = EVENTS[event]
    title, body = render(template, context)
    assert title.startswith("【") and "\n" not in title
    text = title + body
    assert who in text, "by whom"
    assert what in text, "what is owed"
    assert DEADLINE in body, "by when"
    assert ADDRESS.search(body), "how to act: where the person acts"
    assert "{{" not in text and "None" not in text


def test_every_event_of_the_issue_has_a_template():
    from pathlib import Path

    import models.messages

    have = {p.stem for p in (Path(models.messages.__file__).parent / "templates").glob("*.txt")}
    assert set(EVENTS) <= have


def test_what_is_overdue_is_named_from_the_obligations_own_state():
    assert unmet(Obligation.ACKNOWLEDGEMENT, overdue=True) == "逾期未签收整改事项"
    assert unmet(Obligation.PLAN, overdue=True) == "逾期未提交整改方案"
    item = Obligation.ITEM_DEADLINE
    assert unmet(item, overdue=True) == "已过整改期限仍未完成整改事项，尚未提交整改方案"
    assert "未通过审核" in unmet(item, overdue=True, plan_status=PlanStatus.RETURNED)
    assert "尚待审核" in unmet(item, overdue=True, plan_status=PlanStatus.SUBMITTED)
    title, body = render("escalation", CHASE | {"salutation": "协商办同志"})
    assert body.startswith("协商办同志：") and "至今未办理" not in body
    assert "领导同志" not in title + body


# How each kind of reader is addressed, with and without a name (and department).
SALUTATIONS = {
    Role.ADMINISTRATOR: ("协商办王芳同志", "协商办同志"),
    Role.APPROVER: ("王芳同志", "审定人同志"),
    Role.DEPARTMENT_HEAD: ("区住建局负责同志（王芳）", "区住建局负责同志"),
    Role.OFFICER: ("区住建局、王芳", "责任单位联络员"),
    Role.MEMBER: ("王芳委员", "各位委员"),
    Role.RESIDENT: ("尊敬的王芳", "尊敬的群众代表"),
    Role.EXPERT: ("王芳专家", "各位专家"),
    Role.SUPERVISOR: ("王芳同志", "监督员同志"),
}


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_every_role_is_addressed_as_its_own(role):
    named, unnamed = SALUTATIONS[role]
    department = "区住建局" if role in (Role.DEPARTMENT_HEAD, Role.OFFICER) else None
    assert salutation(role, name="王芳", department=department) == named
    anonymous = salutation(role, department=department if role is Role.DEPARTMENT_HEAD else None)
    assert anonymous == unnamed
    title, body = render("escalation", CHASE | {"salutation": named})
    assert body.startswith(f"{named}：") and "领导同志" not in title + body


def test_a_reader_is_addressed_from_the_case_file(session):
    dept = Department(name="城南街道", tag="dept-salute")
    session.add(dept)
    session.flush()
    head = Person(name="赵磊", role=Role.DEPARTMENT_HEAD, department_id=dept.id, tag="p-salute")
    resident = Person(name="刘大爷", role=Role.RESIDENT, tag="p-salute-r")
    session.add_all([head, resident])
    session.flush()
    assert addressed(session, head, resident) == {
        "p-salute": "城南街道负责同志（赵磊）",
        "p-salute-r": "尊敬的刘大爷",
    }
