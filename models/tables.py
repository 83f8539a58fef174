"""Every table of the case file. Foreign keys name tables, so modules never import each other."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import StrictBool, StrictInt
from sqlalchemy.orm import column_property
from sqlmodel import JSON, Column, Field, SQLModel

from models.base import MAX_ID, Id, RowVersioned, UTCDateTime, Versioned, enum_type, utcnow
from models.enums import (
    Adoption,
    DeclineCode,
    ExtensionDecision,
    FollowUpStatus,
    FollowUpStep,
    ItemStatus,
    NotificationStatus,
    Obligation,
    ParticipantRole,
    PlanStatus,
    RaterKind,
    ReportStatus,
    ResearchMethod,
    Role,
    Rsvp,
    ScreeningOutcome,
    SessionForm,
    SessionStatus,
    Stage,
    StageState,
    TopicSource,
    TopicStatus,
    VersionDecision,
)


def _ts(*, nullable: bool = True, index: bool = False, default_now: bool = False) -> Any:
    """A UTC timestamp column; one that may not be empty and has no default is required."""
    if default_now or nullable:
        return Field(
            default_factory=utcnow if default_now else lambda: None,
            sa_type=UTCDateTime(),
            nullable=nullable,
            index=index,
        )
    return Field(sa_type=UTCDateTime(), nullable=False, index=index)


def _ref(table_column: str, **kwargs: Any) -> Any:
    """A reference a person gives in a request: a whole number in the id range (no "3", no
    true, nothing SQLite cannot store), then a foreign key."""
    return Field(foreign_key=table_column, ge=1, le=MAX_ID, schema_extra={"strict": True}, **kwargs)


def _enum(cls: Any, default: Any, *, index: bool = False) -> Any:
    return Field(default=default, sa_type=enum_type(cls), nullable=False, index=index)


class AppMeta(SQLModel, table=True):
    """Key/value facts about this installation (its id keeps Prefect idempotency keys unique)."""

    __tablename__ = "app_meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=255)


# Each entity is one family: `XBase` holds what a person supplies (the request body derives from
# it), `XRecord` adds what the loop records and shows, the table adds its id and what is never
# shown, and `XPublic` (in the entity's module) is the record as the API answers it. No field is
# declared twice; the constraints on a field are stated where it is declared.


class DepartmentBase(SQLModel):
    name: str = Field(min_length=1, max_length=100, unique=True)


class Department(DepartmentBase, Versioned, table=True):
    __tablename__ = "department"
    id: int | None = Field(default=None, primary_key=True)
    tag: str = Field(max_length=64, unique=True)


class PersonBase(SQLModel):
    name: str = Field(min_length=1, max_length=50)
    role: Role = Field(sa_type=enum_type(Role), nullable=False, index=True)
    department_id: int | None = _ref("department.id", default=None, index=True)


class PersonContact(SQLModel):
    """How to reach a person: given when the person is registered, never shown in lists."""

    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=200)


class Person(PersonBase, PersonContact, Versioned, table=True):
    __tablename__ = "person"
    id: int | None = Field(default=None, primary_key=True)
    tag: str = Field(max_length=64, unique=True)


class TopicBase(SQLModel):
    title: str = Field(min_length=2, max_length=200)
    description: str = Field(default="", max_length=5000, sa_type=sa.Text)
    category: str = Field(default="", max_length=50)
    source: TopicSource = Field(sa_type=enum_type(TopicSource), nullable=False)
    urgent: StrictBool = False
    important: StrictBool = False
    emergency: StrictBool = False
    # Screening facts (涉法涉诉 / 纳入信访 / 普遍关注 / 政策已明确).
    in_litigation: StrictBool = False
    in_petition: StrictBool = False
    of_general_concern: StrictBool = True
    policy_explicit: StrictBool = False


class TopicRecord(TopicBase, Versioned):
    # Who proposed it: the signed-in person, never a field of the request (none for the public).
    proposer_id: int | None = Field(default=None, foreign_key="person.id")
    stage: Stage = _enum(Stage, Stage.TOPIC)
    stage_state: StageState = _enum(StageState, StageState.NOT_STARTED)
    status: TopicStatus = _enum(TopicStatus, TopicStatus.DRAFT, index=True)
    # A rule's reason with the office's justification (up to 1000), or an approver's reason.
    status_reason: str | None = Field(default=None, max_length=1200)
    merged_into_id: int | None = Field(default=None, foreign_key="topic.id")
    approved_at: dt.datetime | None = _ts()
    closed_at: dt.datetime | None = _ts()
    created_at: dt.datetime = _ts(nullable=False, default_now=True)
    updated_at: dt.datetime = _ts(nullable=False, default_now=True)


class Topic(TopicRecord, table=True):
    __tablename__ = "topic"
    id: int | None = Field(default=None, primary_key=True)
    approved_by_id: int | None = Field(default=None, foreign_key="person.id")


class ScreeningDecision(SQLModel, table=True):
    """初筛: what the system suggested for a proposal (rules hinted by its text and the
    proposer's own answers, near-duplicates with their scores) and what the office decided —
    by whom, why, and whether it overrode the suggestion. One per topic."""

    __tablename__ = "screening_decision"
    id: int | None = Field(default=None, primary_key=True)
    topic_id: int = Field(foreign_key="topic.id", unique=True)
    # [{"rule": "litigation", "why": "描述中出现“起诉”"}, …]
    hints: list[dict[str, str]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # [{"topic_id": 3, "title": "…", "score": 0.91}, …], best first
    candidates: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    outcome: ScreeningOutcome | None = Field(
        default=None, sa_type=enum_type(ScreeningOutcome), nullable=True
    )
    rule: str | None = Field(default=None, max_length=32)
    merged_into_id: int | None = Field(default=None, foreign_key="topic.id")
    overridden: bool = False
    justification: str | None = Field(default=None, max_length=1000)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")  # None: the system
    decided_at: dt.datetime | None = _ts()
    created_at: dt.datetime = _ts(nullable=False, default_now=True)


class TopicGram(SQLModel, table=True):
    """The character n-grams of a topic's title and description: the index that finds
    near-duplicate candidates in one query instead of comparing against every open topic."""

    __tablename__ = "topic_gram"
    __table_args__ = (sa.Index("ix_topic_gram_gram_topic", "gram", "topic_id"),)
    topic_id: int = Field(foreign_key="topic.id", primary_key=True)
    gram: str = Field(max_length=8, primary_key=True)


class TopicSupporter(SQLModel, table=True):
    """Someone who proposed the same thing: kept when a duplicate is merged into a topic, so
    every proposer follows the one topic and hears its outcome."""

    __tablename__ = "topic_supporter"
    __table_args__ = (sa.UniqueConstraint("topic_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)
    topic_id: int = Field(foreign_key="topic.id", index=True)
    person_id: int = Field(foreign_key="person.id")
    from_topic_id: int = Field(foreign_key="topic.id")
    created_at: dt.datetime = _ts(nullable=False, default_now=True)


class StageRun(SQLModel, table=True):
    """Which Prefect flow run carried a stage of a topic (one per topic and stage)."""

    __tablename__ = "stage_run"
    __table_args__ = (sa.UniqueConstraint("topic_id", "stage"),)
    id: int | None = Field(default=None, primary_key=True)
    topic_id: int = Field(foreign_key="topic.id", index=True)
    stage: Stage = _enum(Stage, Stage.TOPIC)
    flow_run_id: str = Field(max_length=36)
    started_at: dt.datetime = _ts(nullable=False, default_now=True)
    finished_at: dt.datetime | None = _ts()


class ParticipantBase(SQLModel):
    person_id: int = _ref("person.id")
    role: ParticipantRole = Field(sa_type=enum_type(ParticipantRole), nullable=False)


class ParticipantRecord(ParticipantBase, Versioned):
    topic_id: int = Field(foreign_key="topic.id", index=True)
    rsvp: Rsvp = _enum(Rsvp, Rsvp.PENDING)
    rsvp_note: str | None = Field(default=None, max_length=500)
    invited_at: dt.datetime | None = _ts()
    rsvp_due_at: dt.datetime | None = _ts()
    rsvp_at: dt.datetime | None = _ts()
    # The participant who declined and whom this one replaces (替补).
    replaces_id: int | None = Field(default=None, foreign_key="participant.id")


class Participant(ParticipantRecord, table=True):
    __tablename__ = "participant"
    __table_args__ = (sa.UniqueConstraint("topic_id", "person_id"),)
    id: int | None = Field(default=None, primary_key=True)


class ResearchTaskBase(SQLModel):
    title: str = Field(min_length=2, max_length=200)
    method: ResearchMethod = Field(sa_type=enum_type(ResearchMethod), nullable=False)
    owner_id: int = _ref("person.id")
    # A required task must have its findings in before the summary (不调研不协商); an optional
    # one (a supplementary questionnaire, say) informs it but does not hold the stage.
    required: StrictBool = True


class ResearchTaskRecord(ResearchTaskBase, Versioned):
    topic_id: int = Field(foreign_key="topic.id", index=True)
    due_at: dt.datetime = _ts(nullable=False)
    findings: str | None = Field(default=None, sa_type=sa.Text)
    submitted_at: dt.datetime | None = _ts()


class ResearchTask(ResearchTaskRecord, table=True):
    __tablename__ = "research_task"
    id: int | None = Field(default=None, primary_key=True)


class ResearchSummaryRecord(Versioned):
    """调研报告: what the research found, as one account the session starts from; the office
    accepts it or returns it with a note, and only an accepted one opens the session."""

    topic_id: int = Field(foreign_key="topic.id", unique=True)
    content: str = Field(sa_type=sa.Text)
    submitted_by_id: int = Field(foreign_key="person.id")
    submitted_at: dt.datetime = _ts(nullable=False, default_now=True)
    accepted_at: dt.datetime | None = _ts()
    reviewed_by_id: int | None = Field(default=None, foreign_key="person.id")
    returned_at: dt.datetime | None = _ts()
    review_note: str | None = Field(default=None, max_length=1000)


class ResearchSummary(ResearchSummaryRecord, table=True):
    __tablename__ = "research_summary"
    id: int | None = Field(default=None, primary_key=True)


class SessionBase(SQLModel):
    form: SessionForm = Field(sa_type=enum_type(SessionForm), nullable=False)
    starts_at: dt.datetime = _ts(nullable=False)
    ends_at: dt.datetime | None = _ts()
    place: str | None = Field(default=None, max_length=200)


class SessionRecord(SessionBase, Versioned):
    topic_id: int = Field(foreign_key="topic.id", index=True)
    round: int = 1
    status: SessionStatus = _enum(SessionStatus, SessionStatus.SCHEDULED)
    consensus_reached: bool = False
    consensus_summary: str | None = Field(default=None, sa_type=sa.Text)
    # 会议纪要: who spoke, what was said, what was agreed — kept with the round.
    minutes: str | None = Field(default=None, sa_type=sa.Text)
    concluded_at: dt.datetime | None = _ts()


class ConsultationSession(SessionRecord, table=True):
    __tablename__ = "consultation_session"
    __table_args__ = (sa.UniqueConstraint("topic_id", "round"),)
    id: int | None = Field(default=None, primary_key=True)


class OpinionBase(SQLModel):
    participant_id: int = _ref("participant.id")
    content: str = Field(min_length=2, max_length=5000, sa_type=sa.Text)
    consensus: StrictBool = False


class OpinionRecord(OpinionBase):
    session_id: int = Field(foreign_key="consultation_session.id", index=True)


class Opinion(OpinionRecord, table=True):
    __tablename__ = "opinion"
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = _ts(nullable=False, default_now=True)


class SuggestionBase(SQLModel):
    """One entry of the 协商意见建议清单; points back to the opinions it came from."""

    content: str = Field(min_length=2, max_length=2000, sa_type=sa.Text)
    opinion_ids: list[Id] = Field(
        default_factory=list, min_length=1, sa_column=Column(JSON, nullable=False)
    )


class SuggestionRecord(SuggestionBase, Versioned):
    topic_id: int = Field(foreign_key="topic.id", index=True)
    session_id: int = Field(foreign_key="consultation_session.id")
    adoption: Adoption = _enum(Adoption, Adoption.PENDING)
    adoption_note: str | None = Field(default=None, max_length=500)


class Suggestion(SuggestionRecord, table=True):
    __tablename__ = "suggestion"
    id: int | None = Field(default=None, primary_key=True)


class ReportBase(SQLModel):
    title: str = Field(min_length=2, max_length=200)
    content: str = Field(min_length=10, max_length=100000, sa_type=sa.Text)


class ReportRecord(ReportBase, Versioned):
    topic_id: int = Field(foreign_key="topic.id", unique=True)
    status: ReportStatus = _enum(ReportStatus, ReportStatus.SUBMITTED)
    submitted_at: dt.datetime = _ts(nullable=False, default_now=True)
    return_reason: str | None = Field(default=None, max_length=1000)  # as ReportReturn takes it
    approved_by_id: int | None = Field(default=None, foreign_key="person.id")
    approved_at: dt.datetime | None = _ts()
    current_version: int = Field(
        default=1,
        nullable=False,
        sa_column_kwargs={"server_default": "1"},
        description="当前报送的是第几版（每次报送、重新报送加一；各版见 /reports/{id}/versions）",
    )


class Report(ReportRecord, table=True):
    __tablename__ = "report"
    id: int | None = Field(default=None, primary_key=True)


class ReportVersionRecord(SQLModel):
    """One submission of a report as it was sent (第 N 版): written once, never edited; only its
    decision is filled in, once (returned with a comment, approved, or superseded by the next)."""

    report_id: int = Field(foreign_key="report.id", index=True)
    number: int = Field(ge=1)
    topic_title: str = Field(max_length=200, description="报送时的议题名称")
    title: str = Field(max_length=200)
    content: str = Field(sa_type=sa.Text)
    # The 协商意见建议清单 as it stood at submission: [{"id", "content"}]; at approval each
    # entry gains its adoption ("adopted": bool, "note").
    suggestions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The consensus opinions (共识意见) the suggestions came from: [{"id", "speaker", "content"}].
    opinions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    submitted_at: dt.datetime = _ts(nullable=False, default_now=True)
    submitted_by_id: int | None = Field(default=None, foreign_key="person.id")
    decision: VersionDecision | None = Field(
        default=None, sa_type=enum_type(VersionDecision), nullable=True
    )
    decision_comment: str | None = Field(default=None, max_length=1000)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: dt.datetime | None = _ts()


class ReportVersion(ReportVersionRecord, table=True):
    __tablename__ = "report_version"
    __table_args__ = (sa.UniqueConstraint("report_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)


class ItemBase(SQLModel):
    """One line of the 工作责任清单: a single lead department owns it."""

    suggestion_id: int = _ref("suggestion.id", index=True)
    title: str = Field(min_length=2, max_length=200)
    lead_department_id: int = _ref("department.id", index=True)
    co_department_ids: list[Id] = Field(
        default_factory=list, max_length=20, sa_column=Column(JSON, nullable=False)
    )
    officer_id: int = _ref("person.id", index=True)


class ItemRecord(ItemBase, Versioned):
    topic_id: int = Field(foreign_key="topic.id", index=True)
    deadline: dt.datetime = _ts(nullable=False, index=True)
    # The deadline the item was transferred with, never changed afterwards: the on-time rate is
    # reported against it beside the current one (extensions are in item_extension).
    original_deadline: dt.datetime | None = _ts()
    deadline_provisional: bool = Field(
        default=False,
        description="签收、方案期限或整改期限的提醒时点按法定节假日规则暂估（官方放假安排尚未导入）",
    )
    status: ItemStatus = _enum(ItemStatus, ItemStatus.DRAFT, index=True)
    transferred_at: dt.datetime | None = _ts()
    ack_due_at: dt.datetime | None = _ts()
    acknowledged_at: dt.datetime | None = _ts()
    decline_reason: str | None = Field(default=None, max_length=500)
    # Repeated returns go to the office (协商办) to decide who leads; its decision is final.
    arbitration_requested_at: dt.datetime | None = _ts()
    arbitrated_at: dt.datetime | None = _ts()
    arbitration_note: str | None = Field(default=None, max_length=500)
    plan_due_at: dt.datetime | None = _ts()
    completed_at: dt.datetime | None = _ts()
    completion_summary: str | None = Field(default=None, sa_type=sa.Text)
    solved: bool | None = None
    long_term_mechanism: bool | None = None
    long_term_mechanism_ref: str | None = Field(
        default=None, max_length=200, description="长效机制的文件名称或文号（形成长效机制时必填）"
    )
    recheck_due_at: dt.datetime | None = _ts()
    rechecked_at: dt.datetime | None = _ts()
    rebound: bool | None = None
    # A 回头看 that found the problem back reopens it as a new item for the same department
    # (with its own 签收, plan and deadline ladder); this names the item it reopens.
    reopened_from_id: int | None = Field(
        default=None,
        foreign_key="rectification_item.id",
        index=True,
        description="回头看发现反弹后重新交办时，被重新交办的原事项",
    )
    progress_percent: int | None = Field(
        default=None, description="最近一次报送的整改进度（%），尚未报送时为空"
    )
    # `level` (正常 / 即将到期 / 预警 / 督办) is read from its ladder: see item_level below.
    external_id: str | None = Field(
        default=None,
        max_length=64,
        description="责任单位台账中的编号（外部编号），同一单位内唯一；导入台账时据此对应事项",
    )


class RectificationItem(ItemRecord, table=True):
    __tablename__ = "rectification_item"
    # A department's own ledger number names one item of that department (台账导入 matches on it).
    __table_args__ = (
        sa.UniqueConstraint(
            "lead_department_id", "external_id", name="uq_rectification_item_department_external"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    acknowledged_by_id: int | None = Field(default=None, foreign_key="person.id")
    arbitrated_by_id: int | None = Field(default=None, foreign_key="person.id")


class LedgerImportStatus(StrEnum):
    """Where an uploaded 台账 stands: checked (dry run), queued, applying, done or failed."""

    CHECKED = "checked"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class LedgerImportRecord(SQLModel):
    """One uploaded 台账 of a department: what the dry run found and how far applying it got.
    The file itself lives under the data directory (`stored_name`), never in the database."""

    department_id: int = Field(foreign_key="department.id", index=True)
    filename: str = Field(max_length=200)
    file_format: str = Field(max_length=8)  # csv | xlsx
    sha256: str = Field(max_length=64)
    status: LedgerImportStatus = _enum(LedgerImportStatus, LedgerImportStatus.CHECKED)
    rows_total: int = 0
    rows_done: int = Field(default=0, description="已处理的行数（导入进行中时随之增加）")
    # The dry run's decisions, then (after applying) what the import did: rows in = the four.
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    errors: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    flow_run_id: str | None = Field(default=None, max_length=36)
    failure: str | None = Field(default=None, max_length=1000)
    created_at: dt.datetime = _ts(nullable=False, default_now=True)
    applied_at: dt.datetime | None = _ts()
    finished_at: dt.datetime | None = _ts()


class LedgerImport(LedgerImportRecord, table=True):
    __tablename__ = "ledger_import"
    id: int | None = Field(default=None, primary_key=True)
    stored_name: str = Field(max_length=200)
    created_by_id: int | None = Field(default=None, foreign_key="person.id")


class ItemBounceRecord(SQLModel):
    """One return of an item by a department (退单), with its coded reason: the record that
    counts bounces per item and per department and sends repeated ones to arbitration."""

    item_id: int = Field(foreign_key="rectification_item.id", index=True)
    department_id: int = Field(foreign_key="department.id", index=True)
    code: DeclineCode = _enum(DeclineCode, DeclineCode.OTHER)
    reason: str = Field(max_length=500)
    by_id: int = Field(foreign_key="person.id")
    at: dt.datetime = _ts(nullable=False, default_now=True, index=True)


class ItemBounce(ItemBounceRecord, table=True):
    __tablename__ = "item_bounce"
    id: int | None = Field(default=None, primary_key=True)


class ItemExtensionRecord(SQLModel):
    """One line of the extension ledger (延期台账): a department's request for more time and the
    office's decision on it. The office's own change of a deadline is a line too (`direct`,
    requested and approved in one action), so no item deadline moves without a line here."""

    item_id: int = Field(foreign_key="rectification_item.id", index=True)
    old_deadline: dt.datetime = _ts(nullable=False)
    requested_deadline: dt.datetime = _ts(nullable=False)
    reason: str = Field(max_length=500)
    requested_by_id: int = Field(foreign_key="person.id")
    requested_at: dt.datetime = _ts(nullable=False, default_now=True)
    decision: ExtensionDecision = _enum(ExtensionDecision, ExtensionDecision.PENDING, index=True)
    decided_by_id: int | None = Field(default=None, foreign_key="person.id")
    decided_at: dt.datetime | None = _ts(index=True)
    comment: str | None = Field(default=None, max_length=500)
    direct: bool = Field(default=False, description="协商办直接调整期限（申请与批准为同一操作）")


class ItemExtension(ItemExtensionRecord, RowVersioned, table=True):
    __tablename__ = "item_extension"
    id: int | None = Field(default=None, primary_key=True)


class PlanBase(SQLModel):
    """一问题一方案; a new version replaces the current one when the plan is adjusted."""

    target: str = Field(min_length=2, max_length=5000, sa_type=sa.Text)
    measures: str = Field(min_length=2, max_length=10000, sa_type=sa.Text)
    responsible_id: int = _ref("person.id")
    adjust_reason: str | None = Field(default=None, max_length=500)


class PlanRecord(PlanBase, RowVersioned):
    item_id: int = Field(foreign_key="rectification_item.id", index=True)
    version: int = 1
    deadline: dt.datetime = _ts(nullable=False)
    status: PlanStatus = _enum(PlanStatus, PlanStatus.SUBMITTED)
    review_note: str | None = Field(default=None, max_length=500)


class Plan(PlanRecord, table=True):
    __tablename__ = "plan"
    __table_args__ = (sa.UniqueConstraint("item_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    reviewed_by_id: int | None = Field(default=None, foreign_key="person.id")
    submitted_at: dt.datetime = _ts(nullable=False, default_now=True)


class ProgressBase(SQLModel):
    note: str = Field(min_length=2, max_length=5000, sa_type=sa.Text)
    percent: StrictInt = Field(ge=0, le=100)
    evidence_ref: str | None = Field(default=None, max_length=500)


class ProgressRecord(ProgressBase):
    item_id: int = Field(foreign_key="rectification_item.id", index=True)
    by_id: int = Field(foreign_key="person.id")
    created_at: dt.datetime = _ts(nullable=False, default_now=True)


class ProgressUpdate(ProgressRecord, table=True):
    __tablename__ = "progress_update"
    id: int | None = Field(default=None, primary_key=True)


class EvidenceFileRecord(SQLModel):
    """A file that proves progress or completion (佐证材料), kept outside the database under
    the data directory by its SHA-256 (models/evidence.py); the row is what the case file holds."""

    item_id: int = Field(foreign_key="rectification_item.id", index=True)
    progress_id: int | None = Field(default=None, foreign_key="progress_update.id", index=True)
    completion: bool = Field(default=False, description="办结时提交的佐证材料")
    filename: str = Field(max_length=200)
    kind: str = Field(max_length=16)  # the sniffed type: jpg, png, pdf, docx, xlsx
    content_type: str = Field(max_length=100)
    size: int
    sha256: str = Field(max_length=64, index=True)
    uploaded_by_id: int = Field(foreign_key="person.id")
    uploaded_at: dt.datetime = _ts(nullable=False, default_now=True)


class EvidenceFile(EvidenceFileRecord, table=True):
    __tablename__ = "evidence_file"
    id: int | None = Field(default=None, primary_key=True)


class RatingBase(SQLModel):
    """One satisfaction rating (1–5) of the outcome."""

    item_id: int | None = _ref("rectification_item.id", default=None, index=True)
    score: StrictInt = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)


class RatingRecord(RatingBase):
    # The rater is the signed-in person (or the one a rating link was made for); the kind of
    # rater follows from his role and whether he took part.
    person_id: int | None = Field(default=None, foreign_key="person.id")
    rater_kind: RaterKind = _enum(RaterKind, RaterKind.RESIDENT)
    topic_id: int = Field(foreign_key="topic.id", index=True)
    satisfied: bool


class Rating(RatingRecord, table=True):
    __tablename__ = "rating"
    id: int | None = Field(default=None, primary_key=True)
    created_at: dt.datetime = _ts(nullable=False, default_now=True)


class AssessmentBase(SQLModel):
    """The result list of a topic, closed by the office and disclosed publicly."""

    summary: str = Field(min_length=2, max_length=10000, sa_type=sa.Text)
    public: StrictBool = True


class AssessmentRecord(AssessmentBase):
    topic_id: int = Field(foreign_key="topic.id", unique=True)
    kpis: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    closed_at: dt.datetime = _ts(nullable=False, default_now=True)


class Assessment(AssessmentRecord, table=True):
    __tablename__ = "assessment"
    id: int | None = Field(default=None, primary_key=True)
    closed_by_id: int = Field(foreign_key="person.id")


class EvaluationRecord(SQLModel):
    """第三方评估: the office assigns an expert or supervisor to score a topic's outcome against
    the rubric (models.rubric); he submits once, and it is final. An assignment the office
    withdraws keeps its reason. The overall score is derived from the scores (rubric.overall)
    when they are submitted and stored beside them."""

    topic_id: int = Field(foreign_key="topic.id", index=True)
    evaluator_id: int = Field(foreign_key="person.id", index=True)
    assigned_by_id: int = Field(foreign_key="person.id")
    assigned_at: dt.datetime = _ts(nullable=False, default_now=True)
    due_at: dt.datetime = _ts(nullable=False)
    # {criterion key: score}, {criterion key: reason for a low score}
    scores: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    notes: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    comment: str | None = Field(default=None, max_length=2000, sa_type=sa.Text)
    overall: int | None = None
    submitted_at: dt.datetime | None = _ts(index=True)
    withdrawn_at: dt.datetime | None = _ts()
    withdrawn_by_id: int | None = Field(default=None, foreign_key="person.id")
    withdraw_reason: str | None = Field(default=None, max_length=500)


class Evaluation(EvaluationRecord, table=True):
    __tablename__ = "evaluation"
    id: int | None = Field(default=None, primary_key=True)


class FollowUp(SQLModel, table=True):
    """A deadline as data: what is owed, by whom, due when, which rung of the ladder."""

    __tablename__ = "follow_up"
    __table_args__ = (
        sa.Index("ix_follow_up_status_due", "status", "due_at"),
        sa.Index("ix_follow_up_subject", "obligation", "subject_id"),
        # 我的待办: what one person owes, open first, by deadline.
        sa.Index("ix_follow_up_owed_by", "owed_by_id", "status", "deadline"),
    )
    id: int | None = Field(default=None, primary_key=True)
    topic_id: int = Field(foreign_key="topic.id", index=True)
    obligation: Obligation = _enum(Obligation, Obligation.RSVP)
    subject_id: int
    owed_by_id: int | None = Field(default=None, foreign_key="person.id")
    step: FollowUpStep = _enum(FollowUpStep, FollowUpStep.DUE)
    deadline: dt.datetime = _ts(nullable=False)
    due_at: dt.datetime = _ts(nullable=False)
    # How the rung was counted: `rung_offset` working days from the deadline, and (for deadlines
    # given in working days) `working_days` after the local date `counted_from`.
    rung_offset: int = 0
    counted_from: dt.date | None = None
    working_days: int | None = None
    provisional: bool = False
    status: FollowUpStatus = _enum(FollowUpStatus, FollowUpStatus.OPEN)
    outcome: str | None = Field(default=None, max_length=200)
    processed_at: dt.datetime | None = _ts()
    created_at: dt.datetime = _ts(nullable=False, default_now=True)


class NotificationRecord(SQLModel):
    event_key: str = Field(max_length=200)
    recipient: str = Field(max_length=64)
    channel: str = Field(default="apprise", max_length=32)
    template: str = Field(max_length=64)
    title: str = Field(max_length=200)
    body: str = Field(sa_type=sa.Text)
    topic_id: int | None = Field(default=None, foreign_key="topic.id", index=True)
    # What a machine reads beside the text: event, record ids, deadline, link (models/messages).
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: NotificationStatus = _enum(NotificationStatus, NotificationStatus.PENDING)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=1000)
    created_at: dt.datetime = _ts(nullable=False, default_now=True)
    next_attempt_at: dt.datetime | None = _ts()
    sent_at: dt.datetime | None = _ts()


class Notification(NotificationRecord, table=True):
    """Outbox row: written with the change, delivered later, never twice per key."""

    __tablename__ = "notification"
    __table_args__ = (
        sa.UniqueConstraint("event_key", "recipient", "channel", name="uq_notification_key"),
        sa.Index("ix_notification_status", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    # Apprise services that already accepted this message: a retry skips them.
    delivered_services: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    claimed_at: dt.datetime | None = _ts()


class AuditRecord(SQLModel):
    """Who did what, in which role, when, and each changed field before → after."""

    topic_id: int | None = Field(default=None, foreign_key="topic.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="person.id")
    actor: str = Field(default="system", max_length=100)
    actor_role: str | None = Field(default=None, max_length=32)
    action: str = Field(max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    changes: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    at: dt.datetime = _ts(nullable=False, default_now=True)
    # The hash chain (models/audit.py): position, the previous event's hash, this one's.
    seq: int | None = Field(default=None, unique=True)
    prev_hash: str | None = Field(default=None, max_length=64)
    hash: str | None = Field(default=None, max_length=64)


class AuditEvent(AuditRecord, table=True):
    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)


class HolidaySchedule(SQLModel, table=True):
    """One day of a year's official schedule, loaded by an administrator (放假/调休上班)."""

    __tablename__ = "holiday_schedule"
    __table_args__ = (sa.UniqueConstraint("day"),)
    id: int | None = Field(default=None, primary_key=True)
    year: int = Field(index=True)
    day: dt.date
    working: bool  # True: an adjusted working day (调休上班); False: a holiday
    name: str = Field(default="", max_length=50)
    loaded_at: dt.datetime = _ts(nullable=False, default_now=True)


class BulletinRecord(SQLModel):
    """The period a bulletin covers and when it was made, as stored and as shown."""

    period_start: dt.date
    period_end: dt.date
    interim: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    as_of: dt.datetime | None = _ts()  # the moment an interim report (中期) counts to
    generated_at: dt.datetime = _ts(nullable=False, default_now=True)


class Bulletin(BulletinRecord, table=True):
    """A generated monthly bulletin (月通报) or quarterly review (季评估) and its files."""

    __tablename__ = "bulletin"
    # An interim report (中期, counted to as_of) has its own row: it never replaces the final one.
    __table_args__ = (
        sa.UniqueConstraint("kind", "period_start", "interim", name="uq_bulletin_kind_period"),
    )
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # monthly | quarterly
    files: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class IdempotencyRecord(SQLModel, table=True):
    """A person's action sent with an Idempotency-Key, and the answer it got: a retry with the
    same key gets this answer again instead of acting twice (api/idempotency.py)."""

    __tablename__ = "idempotency_record"
    __table_args__ = (
        sa.UniqueConstraint("caller", "key", name="uq_idempotency_caller_key"),
        sa.Index("ix_idempotency_record_expires_at", "expires_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    caller: str = Field(max_length=64)  # SHA-256 of the credential the request presented
    key: str = Field(max_length=128)
    method: str = Field(max_length=8)
    path: str = Field(max_length=2000)
    request_hash: str = Field(max_length=64)  # SHA-256 of method, path, query and body
    status_code: int | None = None  # None while the first request is still being handled
    headers: list[list[str]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    body: bytes | None = Field(default=None, sa_type=sa.LargeBinary)
    created_at: dt.datetime = _ts(nullable=False, default_now=True)
    expires_at: dt.datetime = _ts(nullable=False)


# Read-only: is the participant's reply deadline (or a reminder of it) estimated by rule because
# the official schedule of its year is not loaded yet? Computed in the same SELECT, no column.
Participant.rsvp_due_provisional = column_property(  # type: ignore[attr-defined]
    sa.exists()
    .where(
        FollowUp.obligation == Obligation.RSVP,  # type: ignore[arg-type]
        FollowUp.subject_id == Participant.id,  # type: ignore[arg-type]
        FollowUp.deadline == Participant.rsvp_due_at,  # type: ignore[arg-type]
        FollowUp.status == FollowUpStatus.OPEN,  # type: ignore[arg-type]
        FollowUp.provisional.is_(True),  # type: ignore[attr-defined]
    )
    .correlate_except(FollowUp)
)


# An item's escalation level is the highest rung of its item-deadline ladder (for its current
# deadline) that was sent: the ladder is the only record of escalation state.
LEVEL_NONE, LEVEL_DUE_SOON, LEVEL_WARNED, LEVEL_ESCALATED = 0, 1, 2, 3
LEVEL_LABELS = {
    LEVEL_NONE: "正常",
    LEVEL_DUE_SOON: "即将到期",
    LEVEL_WARNED: "预警",
    LEVEL_ESCALATED: "督办",
}
RUNG_LEVELS = {
    FollowUpStep.DUE_SOON: LEVEL_DUE_SOON,
    FollowUpStep.DUE: LEVEL_DUE_SOON,
    FollowUpStep.OVERDUE: LEVEL_WARNED,
    FollowUpStep.ESCALATE_HEAD: LEVEL_ESCALATED,
    FollowUpStep.ESCALATE_ADMIN: LEVEL_ESCALATED,
}


def rung_level(obligation: Obligation, deadline: Any, as_of: dt.datetime | None = None) -> Any:
    """The highest rung of an item's `obligation` ladder sent for its current `deadline` (the
    item's column holding that date), as one correlated scalar subquery over follow_up:
    0 正常, 1 即将到期 (due_soon/due sent), 2 预警 (overdue sent), 3 督办 (an escalation sent).
    With `as_of`, only rungs sent by then count."""
    rung = sa.case(
        *((FollowUp.step == step, level) for step, level in RUNG_LEVELS.items()),  # type: ignore[arg-type]
        else_=LEVEL_NONE,
    )
    query = sa.select(sa.func.coalesce(sa.func.max(rung), LEVEL_NONE)).where(
        FollowUp.obligation == obligation,  # type: ignore[arg-type]
        FollowUp.subject_id == RectificationItem.id,  # type: ignore[arg-type]
        FollowUp.deadline == deadline,  # type: ignore[arg-type]
        FollowUp.status == FollowUpStatus.SENT,  # type: ignore[arg-type]
    )
    if as_of is not None:
        query = query.where(FollowUp.processed_at <= as_of)  # type: ignore[arg-type, operator]
    return query.correlate_except(FollowUp).scalar_subquery()


def item_level(as_of: dt.datetime | None = None) -> Any:
    """The level of each RectificationItem: the rung its item-deadline ladder reached."""
    return rung_level(Obligation.ITEM_DEADLINE, RectificationItem.deadline, as_of)


# Read-only, computed in the same SELECT as the item: never stored, never marked.
RectificationItem.level = column_property(item_level())  # type: ignore[attr-defined]
# How many times departments returned the item (退单次数), from its bounce rows.
RectificationItem.bounce_count = column_property(  # type: ignore[attr-defined]
    sa.select(sa.func.count(ItemBounce.id))  # type: ignore[arg-type]
    .where(ItemBounce.item_id == RectificationItem.id)  # type: ignore[arg-type]
    .correlate_except(ItemBounce)
    .scalar_subquery()
)


class AccountRecord(SQLModel):
    """What the office may see of an account: whose it is, its login, whether it is locked."""

    person_id: int = Field(foreign_key="person.id", primary_key=True)
    login: str = Field(max_length=64, unique=True)
    locked_until: dt.datetime | None = _ts()


class Account(AccountRecord, table=True):
    """How a person signs in: a login name and an argon2 password hash (never shown)."""

    __tablename__ = "account"
    password_hash: str = Field(max_length=255)
    failed_sign_ins: int = Field(default=0)
    # Tokens issued before this moment are no longer honoured (password changed, signed out).
    tokens_valid_from: dt.datetime = _ts(nullable=False, default_now=True)
    created_at: dt.datetime = _ts(nullable=False, default_now=True)


class ApiKey(SQLModel, table=True):
    """A machine client's key, acting as one person; only its SHA-256 is stored."""

    __tablename__ = "api_key"
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=64, unique=True)
    created_at: dt.datetime = _ts(nullable=False, default_now=True)
    last_used_at: dt.datetime | None = _ts()
    revoked_at: dt.datetime | None = _ts()


class ActionLink(SQLModel, table=True):
    """A one-time link: one action on one record for one person, expiring, single use,
    revocable. The link carries a signed token naming this row and its nonce."""

    __tablename__ = "action_link"
    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    action: str = Field(max_length=32)
    subject_id: int
    nonce: str = Field(max_length=32, unique=True)
    created_at: dt.datetime = _ts(nullable=False, default_now=True)
    expires_at: dt.datetime = _ts(nullable=False)
    used_at: dt.datetime | None = _ts()
    revoked_at: dt.datetime | None = _ts()
