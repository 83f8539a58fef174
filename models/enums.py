"""Vocabulary of the consultation loop; values are stable English, labels are zh-CN."""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    TOPIC = "topic"
    SUBJECT = "subject"
    PRESTUDY = "prestudy"
    SESSION = "session"
    REPORT = "report"
    TRANSFER = "transfer"
    IMPLEMENTATION = "implementation"
    ASSESSMENT = "assessment"

    @property
    def label(self) -> str:
        return STAGE_LABELS[self]

    @property
    def index(self) -> int:  # type: ignore[override]
        return STAGE_ORDER.index(self)


STAGE_ORDER: list[Stage] = list(Stage)
STAGE_LABELS = {
    Stage.TOPIC: "确定议题",
    Stage.SUBJECT: "明确主体",
    Stage.PRESTUDY: "商前调研",
    Stage.SESSION: "开展协商",
    Stage.REPORT: "报送成果",
    Stage.TRANSFER: "转交办理",
    Stage.IMPLEMENTATION: "落实整改",
    Stage.ASSESSMENT: "评估质效",
}


class StageState(StrEnum):
    NOT_STARTED = "not_started"  # the stage may be started once its gate holds
    RUNNING = "running"  # its flow run is doing the automatic work
    WAITING = "waiting"  # waiting for people; their actions finish the stage
    DONE = "done"


class TopicStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_SCREENING = "awaiting_screening"  # 初筛有提示，待协商办确认
    AWAITING_APPROVAL = "awaiting_approval"
    IN_PROGRESS = "in_progress"  # approved, moving through the loop
    SCREENED_OUT = "screened_out"
    REJECTED = "rejected"
    MERGED = "merged"
    CLOSED = "closed"


class TopicSource(StrEnum):
    PARTY_GOVERNMENT = "party_government"  # 党政点题
    PUBLIC = "public"  # 群众出题
    MEMBER = "member"  # 委员荐题
    ONLINE = "online"  # 网络征题
    EMERGENCY = "emergency"  # 突发/应急


SOURCE_LABELS = {
    TopicSource.PARTY_GOVERNMENT: "党政点题",
    TopicSource.PUBLIC: "群众出题",
    TopicSource.MEMBER: "委员荐题",
    TopicSource.ONLINE: "网络征题",
    TopicSource.EMERGENCY: "应急议题",
}


class Role(StrEnum):
    ADMINISTRATOR = "administrator"
    APPROVER = "approver"
    DEPARTMENT_HEAD = "department_head"
    OFFICER = "officer"
    MEMBER = "member"
    RESIDENT = "resident"
    EXPERT = "expert"
    SUPERVISOR = "supervisor"


class ParticipantRole(StrEnum):
    ORGANIZER = "organizer"  # 组织方（党委政府）
    DEPARTMENT = "department"  # 执行部门
    RESIDENT = "resident"  # 群众、利益相关方
    EXPERT = "expert"
    MEMBER = "member"  # 政协委员
    SUPERVISOR = "supervisor"  # 媒体、群众、纪检监督


PARTICIPANT_ROLE_LABELS = {
    ParticipantRole.ORGANIZER: "党委政府（组织方）",
    ParticipantRole.DEPARTMENT: "职能部门",
    ParticipantRole.RESIDENT: "群众和利益相关方",
    ParticipantRole.EXPERT: "专家",
    ParticipantRole.MEMBER: "政协委员",
    ParticipantRole.SUPERVISOR: "监督方",
}


class Rsvp(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class ResearchMethod(StrEnum):
    FIELD_VISIT = "field_visit"
    FORUM = "forum"
    QUESTIONNAIRE = "questionnaire"
    POLICY_REVIEW = "policy_review"


class SessionForm(StrEnum):
    THEMATIC = "thematic"  # 专题协商会
    DELIBERATION = "deliberation"  # 民主恳谈会
    ONLINE = "online"  # 网络协商
    WRITTEN = "written"  # 书面协商
    ON_SITE = "on_site"  # 院坝/社区议事厅/现场


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    CONCLUDED = "concluded"


class Adoption(StrEnum):
    PENDING = "pending"
    ADOPTED = "adopted"
    NOT_ADOPTED = "not_adopted"


class ReportStatus(StrEnum):
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


class VersionDecision(StrEnum):
    """How one submitted version of a report ended: each version ends at most once."""

    RETURNED = "returned"  # 退回修改 with the approver's comment
    APPROVED = "approved"  # 审定通过
    SUPERSEDED = "superseded"  # the office revised it before any decision (已被新版本取代)


class ItemStatus(StrEnum):
    DRAFT = "draft"
    TRANSFERRED = "transferred"
    DECLINED = "declined"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class DeclineCode(StrEnum):
    """Why a department returns an item (退单理由): a fixed list, so bounces can be counted and
    the office can see at a glance whether a return is a dispute about who is responsible."""

    NOT_OUR_DUTY = "not_our_duty"  # 非本单位职责
    SHARED_DUTY = "shared_duty"  # 职责交叉，需明确牵头单位
    HIGHER_LEVEL = "higher_level"  # 属上级或垂直管理部门事权
    UNCLEAR = "unclear"  # 事项表述不清，无法办理
    HANDLED_ELSEWHERE = "handled_elsewhere"  # 已通过其他渠道办理
    OTHER = "other"  # 其他

    @property
    def label(self) -> str:
        return DECLINE_CODE_LABELS[self]


DECLINE_CODE_LABELS = {
    DeclineCode.NOT_OUR_DUTY: "非本单位职责",
    DeclineCode.SHARED_DUTY: "职责交叉，需协商办明确牵头单位",
    DeclineCode.HIGHER_LEVEL: "属上级或垂直管理部门事权",
    DeclineCode.UNCLEAR: "事项表述不清，无法确定办理内容",
    DeclineCode.HANDLED_ELSEWHERE: "已通过其他渠道办理（信访、12345 等）",
    DeclineCode.OTHER: "其他",
}


class ExtensionDecision(StrEnum):
    """Where a request for more time (延期申请) stands in the extension ledger."""

    PENDING = "pending"  # 待审批
    APPROVED = "approved"  # 已批准
    REFUSED = "refused"  # 不予批准


EXTENSION_DECISION_LABELS = {
    ExtensionDecision.PENDING: "待审批",
    ExtensionDecision.APPROVED: "已批准",
    ExtensionDecision.REFUSED: "不予批准",
}


class PlanStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    RETURNED = "returned"


class RaterKind(StrEnum):
    RESIDENT = "resident"
    STAKEHOLDER = "stakeholder"
    MEMBER = "member"
    THIRD_PARTY = "third_party"


class Obligation(StrEnum):
    """What a follow-up row chases."""

    TOPIC_APPROVAL = "topic_approval"
    RSVP = "rsvp"
    RESEARCH = "research"
    REPORT_APPROVAL = "report_approval"
    ACKNOWLEDGEMENT = "acknowledgement"
    PLAN = "plan"
    ITEM_DEADLINE = "item_deadline"
    RECHECK = "recheck"
    RATING = "rating"
    ARBITRATION = "arbitration"  # 协商办裁定反复退回的事项
    SCREENING = "screening"  # 协商办确认初筛提示（排除或合并）
    EMERGENCY_CONVERSION = "emergency_conversion"  # 应急议题限期转入常规协商流程
    EXTENSION = "extension"  # 协商办审批责任单位的延期申请
    EVALUATION = "evaluation"  # 受指派的专家、监督员提交第三方评估


class FollowUpStep(StrEnum):
    DUE_SOON = "due_soon"
    DUE = "due"
    OVERDUE = "overdue"  # 预警
    ESCALATE_HEAD = "escalate_head"  # 督办：单位负责人
    ESCALATE_ADMIN = "escalate_admin"  # 督办：协商办与审定人


class FollowUpStatus(StrEnum):
    OPEN = "open"
    SENT = "sent"  # outstanding at its time: the reminder/escalation was queued
    NOTHING_TO_DO = "nothing_to_do"  # came due but the obligation was already met
    CLOSED = "closed"  # closed early by the action that met the obligation


class NotificationStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    NO_CHANNEL = "no_channel"  # no Apprise service carries the recipient's tag
    UNKNOWN = "unknown"  # the process died mid-send: not resent automatically (at most once)
    ABANDONED = "abandoned"  # an administrator gave up on it


# How the office reads a message's delivery state (未送达通知 page, CLI).
NOTIFICATION_STATUS_LABELS = {
    NotificationStatus.PENDING: "待发送",
    NotificationStatus.SENDING: "发送中",
    NotificationStatus.SENT: "已送达",
    NotificationStatus.FAILED: "发送失败（将自动重试）",
    NotificationStatus.NO_CHANNEL: "无通知渠道",
    NotificationStatus.UNKNOWN: "发送中断，结果未知",
    NotificationStatus.ABANDONED: "已放弃",
}


class ScreeningRule(StrEnum):
    """The field's four reasons not to consult a topic (四不协商)."""

    LITIGATION = "litigation"  # 涉法涉诉
    PETITION = "petition"  # 纳入信访
    NOT_GENERAL = "not_general"  # 不具普遍性
    POLICY_EXPLICIT = "policy_explicit"  # 已有明确规定


class ScreeningOutcome(StrEnum):
    ADMITTED = "admitted"
    EXCLUDED = "excluded"
    MERGED = "merged"


# How a person reads these values, on every page, list and document (declared once here).
RSVP_LABELS = {Rsvp.PENDING: "待回复", Rsvp.ACCEPTED: "已接受邀请", Rsvp.DECLINED: "已谢绝"}
ADOPTION_LABELS = {
    Adoption.PENDING: "待审定",
    Adoption.ADOPTED: "采纳",
    Adoption.NOT_ADOPTED: "未采纳",
}
PLAN_STATUS_LABELS = {
    PlanStatus.SUBMITTED: "待审核",
    PlanStatus.APPROVED: "审核通过",
    PlanStatus.RETURNED: "退回修改",
}
