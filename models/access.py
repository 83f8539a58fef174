"""Who may do what: the one declaration of access, by role (function level) and by record
(object level). Routes name a capability; nothing else spells out roles for access.

A record a person may not see answers 404 as if it did not exist, so ids reveal nothing."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models.case import ROLE_NAMES, require_role
from models.enums import Role
from models.errors import Forbidden, NotFound
from models.tables import (
    Evaluation,
    Participant,
    Person,
    RectificationItem,
    ResearchTask,
    Topic,
)

ADMIN, APPROVER, HEAD, OFFICER = (
    Role.ADMINISTRATOR,
    Role.APPROVER,
    Role.DEPARTMENT_HEAD,
    Role.OFFICER,
)
MEMBER, EXPERT, SUPERVISOR, RESIDENT = Role.MEMBER, Role.EXPERT, Role.SUPERVISOR, Role.RESIDENT
EVERYONE = frozenset(Role)
_Merged = aliased(Topic)
STAFF = EVERYONE - {RESIDENT}
# Who sees every topic of the case file (the office, its approvers and supervisors).
SEE_ALL = frozenset({ADMIN, APPROVER, SUPERVISOR})
# Who works on items: within their own department only.
DEPARTMENT_ROLES = frozenset({HEAD, OFFICER})


class Can(StrEnum):
    """A capability a route asks for. The public (no credentials) holds only PROPOSE."""

    PROPOSE = "propose"  # 提出议题（公众也可）
    READ_CASE = "read_case"  # 查看自己可见的议题、事项、会议、报告
    READ_PEOPLE = "read_people"
    MANAGE_PEOPLE = "manage_people"  # 单位、人员、账号
    RUN_LOOP = "run_loop"  # 启动环节、邀请主体、调研任务、协商会、意见、报告修改、事项、改派、裁定、办结评估
    DECIDE = "decide"  # 审定议题、审定成果报告
    REPLY = "reply"  # 回复邀请、提交调研成果（本人）
    WORK_ITEM = "work_item"  # 签收、退回、方案、进展、办结（本单位）
    REVIEW_PLAN = "review_plan"  # 审核整改方案
    RATE = "rate"  # 评价整改成效
    OVERSEE = "oversee"  # 全局指标、通报、调度、日历装载、通知、审计
    READ_CALENDAR = "read_calendar"
    READ_BULLETINS = "read_bulletins"  # 月通报、季评估（各单位工作人员）
    HANDLE_NOTIFICATIONS = "handle_notifications"  # 未送达通知：查看、重发、放弃
    DECIDE_EXTENSION = "decide_extension"  # 审批延期申请
    EXTEND_DEADLINE = "extend_deadline"  # 直接调整整改期限
    RECHECK = "recheck"  # 回头看
    IMPORT_LEDGER = "import_ledger"  # 导入台账（协商办任一单位，单位本单位）
    READ_EVIDENCE = "read_evidence"  # 下载佐证材料（本单位事项、协商办、审定人）
    ASSIGN_EVALUATOR = "assign_evaluator"  # 指派、撤回第三方评估
    SCORE = "score"  # 按评估标准提交第三方评估（受指派的本人）
    SUPERVISE_ITEM = (
        "supervise_item"  # 事项督办页：改派、裁定、方案审核、延期审批、调整期限、回头看
    )


POLICY: dict[Can, frozenset[Role]] = {
    Can.PROPOSE: EVERYONE,
    Can.READ_CASE: EVERYONE,
    Can.READ_PEOPLE: STAFF,
    Can.MANAGE_PEOPLE: frozenset({ADMIN}),
    Can.RUN_LOOP: frozenset({ADMIN}),
    Can.DECIDE: frozenset({APPROVER}),
    Can.REPLY: EVERYONE,
    Can.WORK_ITEM: DEPARTMENT_ROLES,
    Can.REVIEW_PLAN: frozenset({ADMIN, MEMBER, APPROVER}),
    Can.RATE: frozenset({MEMBER, EXPERT, RESIDENT, SUPERVISOR}),
    Can.OVERSEE: frozenset({ADMIN, SUPERVISOR}),
    Can.READ_CALENDAR: EVERYONE,
    Can.READ_BULLETINS: STAFF,
    Can.HANDLE_NOTIFICATIONS: frozenset({ADMIN}),
    Can.DECIDE_EXTENSION: frozenset({ADMIN, APPROVER}),
    Can.EXTEND_DEADLINE: frozenset({ADMIN, APPROVER}),
    Can.RECHECK: frozenset({ADMIN, MEMBER, SUPERVISOR}),
    Can.IMPORT_LEDGER: frozenset({ADMIN}) | DEPARTMENT_ROLES,
    Can.READ_EVIDENCE: frozenset({ADMIN, APPROVER}) | DEPARTMENT_ROLES,
    Can.ASSIGN_EVALUATOR: frozenset({ADMIN}),
    Can.SCORE: frozenset({EXPERT, SUPERVISOR}),
    # Everyone some decision on an item belongs to (the page shows each only its own forms).
    Can.SUPERVISE_ITEM: frozenset({ADMIN, APPROVER, MEMBER, SUPERVISOR}),
}
ACTION_LABELS: dict[Can, str] = {
    Can.PROPOSE: "提出议题",
    Can.READ_CASE: "查看议题",
    Can.READ_PEOPLE: "查看人员名录",
    Can.MANAGE_PEOPLE: "管理单位与人员",
    Can.RUN_LOOP: "推进协商流程",
    Can.DECIDE: "审定",
    Can.REPLY: "回复",
    Can.WORK_ITEM: "办理整改事项",
    Can.REVIEW_PLAN: "审核整改方案",
    Can.RATE: "评价整改成效",
    Can.OVERSEE: "查看与处理全局事务",
    Can.READ_CALENDAR: "查看工作日历",
    Can.READ_BULLETINS: "查看通报",
    Can.HANDLE_NOTIFICATIONS: "处理未送达通知",
    Can.DECIDE_EXTENSION: "审批延期申请",
    Can.EXTEND_DEADLINE: "调整整改期限",
    Can.RECHECK: "开展回头看",
    Can.IMPORT_LEDGER: "导入台账",
    Can.READ_EVIDENCE: "下载佐证材料",
    Can.SUPERVISE_ITEM: "督办整改事项",
    Can.ASSIGN_EVALUATOR: "指派第三方评估",
    Can.SCORE: "提交第三方评估",
}


def check(person: Person, can: Can) -> None:
    """Function-level access: refuse (403) a role the capability does not include."""
    if person.role not in POLICY[can]:
        raise Forbidden(f"您的角色（{ROLE_NAMES[person.role]}）无权{ACTION_LABELS[can]}")


def require(person: Person, can: Can, *, action: str) -> None:
    """The domain's own check of a capability (flows and one-time links call the operations
    without a route): the same POLICY the routes ask, worded for the action refused."""
    require_role(person, *(r for r in ROLE_NAMES if r in POLICY[can]), action=action)


def _hidden(label: str, ident: int) -> NotFound:
    return NotFound(f"{label} {ident} 不存在")


def topic_filter(person: Person):  # type: ignore[no-untyped-def]
    """The WHERE clause of the topics this person may see (None: all of them)."""
    if person.role in SEE_ALL:
        return None
    mine = [
        col(Topic.proposer_id) == person.id,
        # a proposer of a topic merged into this one is one of its proposers (topic_merged)
        col(Topic.id).in_(select(_Merged.merged_into_id).where(_Merged.proposer_id == person.id)),
        col(Topic.id).in_(select(Participant.topic_id).where(Participant.person_id == person.id)),
        col(Topic.id).in_(select(ResearchTask.topic_id).where(ResearchTask.owner_id == person.id)),
    ]
    if person.role in POLICY[Can.SCORE]:  # an evaluator sees the topics he was asked to score
        mine.append(
            col(Topic.id).in_(
                select(Evaluation.topic_id).where(Evaluation.evaluator_id == person.id)
            )
        )
    if person.role in DEPARTMENT_ROLES and person.department_id is not None:
        mine.append(
            col(Topic.id).in_(
                select(RectificationItem.topic_id).where(
                    RectificationItem.lead_department_id == person.department_id
                )
            )
        )
    return or_(*mine)


def may_see_topic(session: Session, person: Person, topic_id: int) -> bool:
    clause = topic_filter(person)
    stmt = select(Topic.id).where(Topic.id == topic_id)
    if clause is not None:
        stmt = stmt.where(clause)
    return session.exec(stmt).first() is not None


def see_topic(session: Session, person: Person, topic_id: int) -> None:
    """Object-level read access to a topic and what it owns: 404 when not visible."""
    if not may_see_topic(session, person, topic_id):
        raise _hidden("议题", topic_id)


def item_filter(person: Person):  # type: ignore[no-untyped-def]
    """The items of a visible topic this person may see: a department's own, or all."""
    if person.role in DEPARTMENT_ROLES:
        return col(RectificationItem.lead_department_id) == person.department_id
    return None


def see_item(session: Session, person: Person, item: RectificationItem) -> None:
    """An officer or head sees only his department's items; others those of visible topics."""
    if person.role in DEPARTMENT_ROLES:
        if item.lead_department_id != person.department_id:
            raise _hidden("整改事项", item.id or 0)
        return
    if not may_see_topic(session, person, item.topic_id):
        raise _hidden("整改事项", item.id or 0)


def own_or_office(person: Person, owner_id: int | None, doing: str) -> None:
    """An answer only its owner gives (an RSVP, research findings); the office may record it
    on the owner's behalf (a reply by phone)."""
    if person.id != owner_id and person.role is not ADMIN:
        raise Forbidden(f"只有本人或协商办可以{doing}")
