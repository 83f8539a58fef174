"""Builds case records by the same operations the API and the flows use (no shortcuts into
tables), so a test can start from any point of the loop."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, select

from models import assessment, consultation, prestudy, rectification, stages, subject
from models import people as ppl
from models import report as reports
from models import topic as topics
from models.enums import ParticipantRole, ResearchMethod, Role, SessionForm, Stage, TopicSource
from models.tables import Participant, Person, RectificationItem, Report, Suggestion, Topic


@dataclass
class Cast:
    admin: Person
    approver: Person
    officer: Person
    head: Person
    other_officer: Person
    resident: Person
    resident2: Person
    member: Person
    expert: Person
    dept_id: int
    other_dept_id: int
    extra: dict[str, Any] = field(default_factory=dict)


class LoopBuilder:
    def __init__(self, session: Session) -> None:
        self.s = session
        self._cast: Cast | None = None
        self.today = dt.date.today()

    @property
    def cast(self) -> Cast:
        if self._cast is None:
            s = self.s
            d1 = ppl.create_department(s, ppl.DepartmentCreate(name="区住建局"))
            d2 = ppl.create_department(s, ppl.DepartmentCreate(name="城南街道"))

            def p(name: str, role: Role, dept: int | None = None) -> Person:
                return ppl.create_person(
                    s, ppl.PersonCreate(name=name, role=role, department_id=dept)
                )

            self._cast = Cast(
                admin=p("王敏", Role.ADMINISTRATOR),
                approver=p("陈建国", Role.APPROVER),
                officer=p("李强", Role.OFFICER, d1.id),
                head=p("赵磊", Role.DEPARTMENT_HEAD, d1.id),
                other_officer=p("周婷", Role.OFFICER, d2.id),
                resident=p("张桂英", Role.RESIDENT),
                resident2=p("刘大爷", Role.RESIDENT),
                member=p("孙立", Role.MEMBER),
                expert=p("吴工", Role.EXPERT),
                dept_id=d1.id,  # type: ignore[arg-type]
                other_dept_id=d2.id,  # type: ignore[arg-type]
            )
        return self._cast

    def topic(self, **overrides: Any) -> Topic:
        data = {
            "title": "老旧小区加装电梯",
            "description": "多层住宅无电梯，老人上下楼难",
            "source": TopicSource.PUBLIC,
            "urgent": True,
            "important": True,
        }
        proposer = overrides.pop("proposer_id", self.cast.resident.id)
        data.update(overrides)
        return topics.create_topic(self.s, topics.TopicCreate(**data), by=proposer)

    def run_stage(self, topic: Topic, stage: Stage) -> None:
        """What the stage's flow run does, without Prefect: begin, automatic work, settle."""
        stages.begin(self.s, topic, stage)
        stages.SPECS[stage].automatic_work()(self.s, topic.id)
        stages.settle(self.s, topic, after_flow=True)
        self.s.flush()

    def finish(self, topic: Topic, stage: Stage) -> None:
        """The people's part of a stage, done the ordinary way (one entry of FINISH per stage)."""
        FINISH[_entry(FINISH, stage, "FINISH")](self, topic)
        self.s.flush()

    def prepare(self, topic: Topic, stage: Stage) -> None:
        """What must exist before a stage may start (participants, tasks, a session, items);
        one entry of PREPARE per stage."""
        PREPARE[_entry(PREPARE, stage, "PREPARE")](self, topic)
        self.s.flush()

    # -- the people's part of each stage (FINISH) --------------------------------------------

    def _finish_topic(self, topic: Topic) -> None:
        topics.approve(self.s, topic.id, topics.Decision(), by=self.cast.approver.id)

    def _finish_subject(self, topic: Topic) -> None:
        s = self.s
        for p in s.exec(select(Participant).where(Participant.topic_id == topic.id)):
            subject.reply(s, p.id, subject.RsvpIn(accept=True))

    def _finish_prestudy(self, topic: Topic) -> None:
        from models.tables import ResearchTask

        s = self.s
        for t in s.exec(select(ResearchTask).where(ResearchTask.topic_id == topic.id)):
            prestudy.submit_findings(
                s,
                t.id,
                prestudy.FindingsIn(findings="走访 120 户，多数支持"),
                by=self.cast.member.id,
            )
        self.accept_summary(topic)

    def accept_summary(self, topic: Topic) -> None:
        """The research summary, written by the office and accepted (不调研不协商)."""
        prestudy.submit_summary(
            self.s,
            topic.id,
            prestudy.SummaryIn(
                content="调研报告：走访 120 户，多数住户支持加装电梯，低层住户关心补偿。"
            ),
            by=self.cast.admin.id,
        )
        prestudy.review_summary(
            self.s, topic.id, prestudy.SummaryReview(accepted=True), by=self.cast.admin.id
        )

    def _finish_session(self, topic: Topic) -> None:
        s = self.s
        tid = topic.id
        meeting = s.exec(
            select(consultation.ConsultationSession).where(
                consultation.ConsultationSession.topic_id == tid
            )
        ).all()[-1]
        part = s.exec(
            select(Participant).where(
                Participant.topic_id == tid, Participant.person_id == self.cast.resident.id
            )
        ).one()
        ops = consultation.record_opinions(
            s,
            meeting.id,
            consultation.OpinionsAdd(
                opinions=[
                    consultation.OpinionIn(
                        participant_id=part.id, content="希望补贴", consensus=True
                    )
                ]
            ),
        )
        consultation.conclude(
            s,
            meeting.id,
            consultation.Conclusion(
                consensus_reached=True,
                summary="同意补贴",
                minutes="会议纪要：居民代表、住建局、政协委员参加，一致同意补贴并简化审批。",
                suggestions=[
                    consultation.SuggestionIn(content="落实补贴", opinion_ids=[ops[0].id]),
                    consultation.SuggestionIn(content="简化审批", opinion_ids=[ops[0].id]),
                ],
            ),
        )

    def _finish_report(self, topic: Topic) -> None:
        report = self.s.exec(select(Report).where(Report.topic_id == topic.id)).one()
        reports.approve(self.s, report.id, reports.ReportApproval(), by=self.cast.approver.id)

    def _finish_transfer(self, topic: Topic) -> None:
        for item in self.items(topic):
            rectification.acknowledge(self.s, item.id, by=item.officer_id)

    def _finish_implementation(self, topic: Topic) -> None:
        for item in self.items(topic):
            self.plan(item)
            rectification.complete(
                self.s, item.id, rectification.CompletionIn(summary="已完成"), by=item.officer_id
            )

    def _finish_assessment(self, topic: Topic) -> None:
        c = self.cast
        assessment.rate(self.s, topic.id, assessment.RatingIn(score=5), by=c.resident.id)
        assessment.close(
            self.s, topic.id, assessment.AssessmentClose(summary="办结"), by=c.admin.id
        )

    # -- what each stage needs before it starts (PREPARE) ------------------------------------

    def _nothing_to_prepare(self, topic: Topic) -> None:
        """The stage's gate needs nothing beyond what the stages before it left behind."""

    def _prepare_subject(self, topic: Topic) -> None:
        c = self.cast
        subject.add_participants(
            self.s,
            topic.id,
            subject.ParticipantsAdd(
                participants=[
                    subject.ParticipantIn(person_id=c.admin.id, role=ParticipantRole.ORGANIZER),
                    subject.ParticipantIn(person_id=c.resident.id, role=ParticipantRole.RESIDENT),
                    subject.ParticipantIn(person_id=c.member.id, role=ParticipantRole.MEMBER),
                ]
            ),
        )

    def _prepare_prestudy(self, topic: Topic) -> None:
        prestudy.create_task(
            self.s,
            topic.id,
            prestudy.ResearchTaskCreate(
                title="入户走访",
                method=ResearchMethod.FIELD_VISIT,
                owner_id=self.cast.member.id,
                due_date=self.today + dt.timedelta(days=10),
            ),
        )

    def _prepare_session(self, topic: Topic) -> None:
        consultation.schedule_session(
            self.s,
            topic.id,
            consultation.SessionCreate(
                form=SessionForm.ON_SITE,
                starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
                place="社区议事厅",
            ),
        )

    def _prepare_transfer(self, topic: Topic) -> None:
        c = self.cast
        s = self.s
        sugg = s.exec(select(Suggestion).where(Suggestion.topic_id == topic.id)).all()
        for i, sg in enumerate(sugg):
            officer = c.officer if i % 2 == 0 else c.other_officer
            rectification.create_item(
                s,
                topic.id,
                rectification.ItemCreate(
                    suggestion_id=sg.id,
                    title=f"事项{i + 1}：{sg.content}",
                    lead_department_id=officer.department_id,
                    officer_id=officer.id,
                    deadline=self.today + dt.timedelta(days=40),
                ),
            )

    def advance(self, topic: Topic, *, to: Stage, start: bool = False) -> Topic:
        """Finish every stage before `to`; optionally start `to` as its flow would."""
        for stage in Stage:
            if stage is to:
                self.prepare(topic, stage)
                if start:
                    self.run_stage(topic, stage)
                return topic
            self.prepare(topic, stage)
            self.run_stage(topic, stage)
            self.finish(topic, stage)
        return topic

    def items(self, topic: Topic) -> list[RectificationItem]:
        return list(
            self.s.exec(
                select(RectificationItem)
                .where(RectificationItem.topic_id == topic.id)
                .order_by(RectificationItem.id)
            )
        )

    def plan(self, item: RectificationItem) -> None:
        rectification.submit_plan(
            self.s,
            item.id,
            rectification.PlanIn(
                target="按期完成",
                measures="联合审批",
                deadline=self.today + dt.timedelta(days=30),
                responsible_id=item.officer_id,
            ),
            by=item.officer_id,
        )


StagePart = Callable[[LoopBuilder, Topic], None]

# One entry per stage of models/stages.py SPECS: a new stage without one fails
# test_every_stage_has_a_factory_entry (and any use of it here) with its name and table.
FINISH: dict[Stage, StagePart] = {
    Stage.TOPIC: LoopBuilder._finish_topic,
    Stage.SUBJECT: LoopBuilder._finish_subject,
    Stage.PRESTUDY: LoopBuilder._finish_prestudy,
    Stage.SESSION: LoopBuilder._finish_session,
    Stage.REPORT: LoopBuilder._finish_report,
    Stage.TRANSFER: LoopBuilder._finish_transfer,
    Stage.IMPLEMENTATION: LoopBuilder._finish_implementation,
    Stage.ASSESSMENT: LoopBuilder._finish_assessment,
}

PREPARE: dict[Stage, StagePart] = {
    Stage.TOPIC: LoopBuilder._nothing_to_prepare,
    Stage.SUBJECT: LoopBuilder._prepare_subject,
    Stage.PRESTUDY: LoopBuilder._prepare_prestudy,
    Stage.SESSION: LoopBuilder._prepare_session,
    Stage.REPORT: LoopBuilder._nothing_to_prepare,
    Stage.TRANSFER: LoopBuilder._prepare_transfer,
    Stage.IMPLEMENTATION: LoopBuilder._nothing_to_prepare,
    Stage.ASSESSMENT: LoopBuilder._nothing_to_prepare,
}


def missing_entries() -> dict[str, list[Stage]]:
    """The stages of SPECS that a factory table has no entry for, by table name."""
    return {
        name: [stage for stage in stages.SPECS if stage not in table]
        for name, table in (("FINISH", FINISH), ("PREPARE", PREPARE))
        if any(stage not in table for stage in stages.SPECS)
    }


def _entry(table: dict[Stage, StagePart], stage: Stage, name: str) -> Stage:
    if stage not in table:
        raise KeyError(
            f"tests/factories.py {name} has no entry for stage {stage.value!r}: "
            f"add one (use LoopBuilder._nothing_to_prepare if the stage needs nothing)"
        )
    return stage


def bearer(session: Session, person: Person) -> dict[str, str]:
    """Request headers that sign in as this person (an account is made if he has none)."""
    from api.auth import issue_token
    from models.tables import Account

    if session.get(Account, person.id) is None:
        # An account nobody can sign in to with a password; its tokens are what tests use.
        valid_from = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        session.add(
            Account(
                person_id=person.id,
                login=f"test-{person.id}",
                password_hash="!",
                tokens_valid_from=valid_from,
            )
        )
        session.commit()  # in a test's transaction a savepoint: requests' rollbacks keep it
    token, _ = issue_token(person)
    return {"Authorization": f"Bearer {token}"}


def administrator_headers(url: str | None = None) -> dict[str, str]:
    """Sign-in headers of a new administrator, committed to the case file the settings (or
    `url`) name: for tests that run the app on a real database rather than the test's session."""
    from config.db import engine_for, session_scope
    from config.settings import get_settings

    engine = engine_for(url or get_settings().resolved_database_url)
    with session_scope(engine) as s:
        admin = ppl.create_person(s, ppl.PersonCreate(name="值班管理员", role=Role.ADMINISTRATOR))
        return bearer(s, admin)


def stack_client(database_url: str, api_url: str, person_id: int | None = None) -> Any:
    """A client of a running stack acting as this person (a new administrator if none),
    whose sign-in account is written to the stack's own case file."""
    from config.db import engine_for, session_scope
    from runtime.demo import Client

    with session_scope(engine_for(database_url)) as s:
        if person_id is None:
            person = ppl.create_person(
                s, ppl.PersonCreate(name="值班管理员", role=Role.ADMINISTRATOR)
            )
        else:
            person = s.get(Person, person_id)
            assert person is not None
        token = bearer(s, person)["Authorization"].removeprefix("Bearer ")
    return Client(api_url, token)
