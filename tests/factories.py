"""Builds case records by the same operations the API and the flows use (no shortcuts into
tables), so a test can start from any point of the loop."""

from __future__ import annotations

import datetime as dt
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
        """The people's part of a stage, done the ordinary way."""
        c = self.cast
        tid = topic.id
        s = self.s
        if stage is Stage.TOPIC:
            topics.approve(s, tid, topics.Decision(), by=c.approver.id)
        elif stage is Stage.SUBJECT:
            for p in s.exec(select(Participant).where(Participant.topic_id == tid)):
                subject.reply(s, p.id, subject.RsvpIn(accept=True))
        elif stage is Stage.PRESTUDY:
            from models.tables import ResearchTask

            for t in s.exec(select(ResearchTask).where(ResearchTask.topic_id == tid)):
                prestudy.submit_findings(
                    s, t.id, prestudy.FindingsIn(findings="走访 120 户，多数支持"), by=c.member.id
                )
        elif stage is Stage.SESSION:
            meeting = s.exec(
                select(consultation.ConsultationSession).where(
                    consultation.ConsultationSession.topic_id == tid
                )
            ).all()[-1]
            part = s.exec(
                select(Participant).where(
                    Participant.topic_id == tid, Participant.person_id == c.resident.id
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
                    suggestions=[
                        consultation.SuggestionIn(content="落实补贴", opinion_ids=[ops[0].id]),
                        consultation.SuggestionIn(content="简化审批", opinion_ids=[ops[0].id]),
                    ],
                ),
            )
        elif stage is Stage.REPORT:
            report = s.exec(select(Report).where(Report.topic_id == tid)).one()
            reports.approve(s, report.id, reports.ReportApproval(), by=c.approver.id)
        elif stage is Stage.TRANSFER:
            for item in self.items(topic):
                rectification.acknowledge(s, item.id, by=item.officer_id)
        elif stage is Stage.IMPLEMENTATION:
            for item in self.items(topic):
                self.plan(item)
                rectification.complete(
                    s, item.id, rectification.CompletionIn(summary="已完成"), by=item.officer_id
                )
        elif stage is Stage.ASSESSMENT:
            assessment.rate(s, tid, assessment.RatingIn(score=5), by=c.resident.id)
            assessment.close(s, tid, assessment.AssessmentClose(summary="办结"), by=c.admin.id)
        s.flush()

    def prepare(self, topic: Topic, stage: Stage) -> None:
        """What must exist before a stage may start (participants, tasks, a session, items)."""
        c = self.cast
        s = self.s
        if stage is Stage.SUBJECT:
            subject.add_participants(
                s,
                topic.id,
                subject.ParticipantsAdd(
                    participants=[
                        subject.ParticipantIn(person_id=c.admin.id, role=ParticipantRole.ORGANIZER),
                        subject.ParticipantIn(
                            person_id=c.resident.id, role=ParticipantRole.RESIDENT
                        ),
                        subject.ParticipantIn(person_id=c.member.id, role=ParticipantRole.MEMBER),
                    ]
                ),
            )
        elif stage is Stage.PRESTUDY:
            prestudy.create_task(
                s,
                topic.id,
                prestudy.ResearchTaskCreate(
                    title="入户走访",
                    method=ResearchMethod.FIELD_VISIT,
                    owner_id=c.member.id,
                    due_date=self.today + dt.timedelta(days=10),
                ),
            )
        elif stage is Stage.SESSION:
            consultation.schedule_session(
                s,
                topic.id,
                consultation.SessionCreate(
                    form=SessionForm.ON_SITE,
                    starts_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=2),
                    place="社区议事厅",
                ),
            )
        elif stage is Stage.TRANSFER:
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
        s.flush()

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
