"""Stateful property test of the consultation loop: hypothesis drives one topic through any
sequence of people's actions and stage-flow steps (the model operations the API routes and the
flows' tasks call, on a real SQLite session), and after every step checks that

- the topic's status, stage and stage state are a combination the loop allows;
- no stage starts unless the previous one is done and its gate holds, none is skipped, and a
  stage is done only when nothing is owed any more;
- a refused action raises a domain refusal (models/errors.py) and has staged nothing;
- the counts the KPIs report stay consistent (solved ≤ completed ≤ due ≤ all …).

Every action goes through the helpers below: they are the only place that says who acts and how
(the acting person is passed as `by`, as the routes take it from the credentials)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import text
from sqlmodel import Session, select

from config.db import engine_for
from models import (
    assessment,
    consultation,
    evidence,
    kpis,
    prestudy,
    rectification,
    screening,
    stages,
    subject,
)
from models import report as reports
from models import topic as topics
from models.enums import (
    STAGE_ORDER,
    DeclineCode,
    ItemStatus,
    ParticipantRole,
    ResearchMethod,
    ScreeningRule,
    SessionForm,
    Stage,
    StageState,
    TopicStatus,
)
from models.errors import DomainError
from models.tables import (
    ConsultationSession,
    Opinion,
    Participant,
    Plan,
    RectificationItem,
    Report,
    ResearchTask,
    Suggestion,
    Topic,
)
from tests.factories import Cast, LoopBuilder, tiny_png

TODAY = dt.date.today()

# --- How people act: the only functions that name the acting person. -----------------------


def approve_topic(s: Session, topic_id: int, actor: int) -> None:
    topics.approve(s, topic_id, topics.Decision(), by=actor)


def reject_topic(s: Session, topic_id: int, actor: int) -> None:
    topics.reject(s, topic_id, topics.Rejection(reason="不属于协商范围"), by=actor)


def rsvp(s: Session, participant_id: int, accept: bool) -> None:
    subject.reply(s, participant_id, subject.RsvpIn(accept=accept))


def submit_findings(s: Session, task_id: int, actor: int) -> None:
    prestudy.submit_findings(s, task_id, prestudy.FindingsIn(findings="走访 120 户"), by=actor)


def approve_report(s: Session, report_id: int, actor: int, adopt: bool) -> None:
    reports.approve(s, report_id, reports.ReportApproval(adopt_all_others=adopt), by=actor)


def return_report(s: Session, report_id: int, actor: int) -> None:
    reports.return_report(s, report_id, reports.ReportReturn(reason="请补充调研"), by=actor)


def acknowledge(s: Session, item_id: int, actor: int) -> None:
    rectification.acknowledge(s, item_id, by=actor)


def decline(s: Session, item_id: int, actor: int) -> None:
    rectification.decline(
        s,
        item_id,
        rectification.DeclineIn(code=DeclineCode.NOT_OUR_DUTY, reason="不属本单位职责"),
        by=actor,
    )


def reassign(s: Session, item_id: int, actor: int, officer: Any) -> None:
    data = rectification.ReassignIn(lead_department_id=officer.department_id, officer_id=officer.id)
    rectification.reassign(s, item_id, data, by=actor)


def submit_plan(s: Session, item_id: int, actor: int) -> None:
    data = rectification.PlanIn(
        target="按期完成",
        measures="联合审批",
        deadline=TODAY + dt.timedelta(days=30),
        responsible_id=actor,
    )
    rectification.submit_plan(s, item_id, data, by=actor)


def review_plan(s: Session, plan_id: int, actor: int, approved: bool) -> None:
    rectification.review_plan(s, plan_id, rectification.PlanReview(approved=approved), by=actor)


def report_progress(s: Session, item_id: int, actor: int, percent: int) -> None:
    data = rectification.ProgressIn(note="完成方案设计", percent=percent)
    rectification.report_progress(s, item_id, data, by=actor)


def complete(s: Session, item_id: int, actor: int, solved: bool) -> None:
    item = s.get(RectificationItem, item_id)
    if item is not None and item.status == ItemStatus.IN_PROGRESS:  # 办结 needs its evidence
        evidence.store(
            s, item_id, filename="照片.png", data=tiny_png(item_id), progress_id=None, by=actor
        )
    data = rectification.CompletionIn(summary="已完成", solved=solved)
    rectification.complete(s, item_id, data, by=actor)


def recheck(s: Session, item_id: int, actor: int, rebound: bool) -> None:
    rectification.recheck(
        s, item_id, rectification.RecheckIn(rebound=rebound, note="回访群众"), by=actor
    )


def rate(s: Session, topic_id: int, rater: int, score: int) -> None:
    assessment.rate(s, topic_id, assessment.RatingIn(score=score), by=rater)


def close_assessment(s: Session, topic_id: int, actor: int) -> None:
    assessment.close(s, topic_id, assessment.AssessmentClose(summary="办结"), by=actor)


# --- What the stage flows do (flows/stages.py through tasks/case.py). ------------------------


def flow_begin(s: Session, topic: Topic, stage: Stage) -> None:
    stages.begin(s, topic, stage)


def flow_work_and_settle(s: Session, topic: Topic, stage: Stage) -> None:
    stages.SPECS[stage].automatic_work()(s, topic.id)
    stages.settle(s, topic, after_flow=True)


# --------------------------------------------------------------------------------------------

ROLES = ["admin", "approver", "officer", "head", "other_officer", "resident", "member", "expert"]
STATE_ORDER = list(StageState)
# Rows an action may touch; a refusal must leave every one of them as it was.
SNAPSHOT_TABLES = [
    "topic",
    "participant",
    "research_task",
    "consultation_session",
    "opinion",
    "suggestion",
    "report",
    "rectification_item",
    "plan",
    "progress_update",
    "rating",
    "assessment",
    "stage_run",
    "follow_up",
    "notification",
    "audit_event",
]
# Where the loop may stand for each status of the topic.
ALLOWED: dict[TopicStatus, Callable[[Stage, StageState], bool]] = {
    TopicStatus.DRAFT: lambda st_, ss: (
        st_ is Stage.TOPIC and ss in (StageState.NOT_STARTED, StageState.RUNNING)
    ),
    TopicStatus.AWAITING_SCREENING: lambda st_, ss: (
        st_ is Stage.TOPIC and ss in (StageState.RUNNING, StageState.WAITING)
    ),
    TopicStatus.AWAITING_APPROVAL: lambda st_, ss: (
        st_ is Stage.TOPIC and ss in (StageState.RUNNING, StageState.WAITING)
    ),
    TopicStatus.SCREENED_OUT: lambda st_, ss: st_ is Stage.TOPIC and ss is StageState.DONE,
    TopicStatus.MERGED: lambda st_, ss: st_ is Stage.TOPIC and ss is StageState.DONE,
    TopicStatus.REJECTED: lambda st_, ss: st_ is Stage.TOPIC and ss is StageState.WAITING,
    TopicStatus.IN_PROGRESS: lambda st_, ss: st_ is not Stage.TOPIC or ss is StageState.DONE,
    TopicStatus.CLOSED: lambda st_, ss: st_ is Stage.ASSESSMENT and ss is StageState.DONE,
}
# Counts that can never exceed another (smaller, larger).
BOUNDED = [
    ("items_solved", "items_completed"),
    ("items_long_term", "items_completed"),
    ("items_on_time", "items_completed"),
    ("items_completed", "items_due"),
    ("items_due", "items"),
    ("items_overdue", "items_on_time_base"),
    ("items_acknowledged_on_time", "items_transferred"),
    ("items_rebound", "items_rechecked"),
    ("suggestions_adopted", "suggestions_decided"),
    ("ratings_satisfied", "ratings"),
]


class LoopMachine(RuleBasedStateMachine):
    """One topic, one case file; every rule is one business action or one flow step."""

    url: ClassVar[str] = ""
    reached: ClassVar[
        dict[str, int]
    ] = {}  # across runs: how far the loop got, how often each outcome

    def __init__(self) -> None:
        super().__init__()
        self.conn = engine_for(self.url).connect()
        self.outer = self.conn.begin()
        self.s = Session(bind=self.conn, join_transaction_mode="create_savepoint")
        self.loop = LoopBuilder(self.s)
        self.cast: Cast = self.loop.cast
        self.topic = self.loop.topic()
        self.s.flush()
        self.refusals = 0
        self.accepted = 0

    def teardown(self) -> None:
        seen = type(self).reached
        place = f"{self.topic.stage.value}:{self.topic.stage_state.value}"
        seen[place] = seen.get(place, 0) + 1
        seen["refused"] = seen.get("refused", 0) + self.refusals
        seen["accepted"] = seen.get("accepted", 0) + self.accepted
        self.s.close()
        self.outer.rollback()
        self.conn.close()

    # --- the harness ------------------------------------------------------------------------

    def person(self, role: str) -> Any:
        return getattr(self.cast, role)

    def rows(self, model: Any, **where: Any) -> list[Any]:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return list(self.s.exec(stmt.order_by(model.id)))

    def snapshot(self) -> dict[str, list[tuple]]:
        self.s.flush()
        return {
            t: [tuple(r) for r in self.s.execute(text(f"SELECT * FROM {t} ORDER BY id"))]
            for t in SNAPSHOT_TABLES
        }

    def gates(self) -> dict[Stage, bool]:
        """Before a step: which stages would the rules let start now."""
        open_ = {}
        for stage in STAGE_ORDER:
            try:
                stages.check_can_start(self.s, self.topic, stage)
                open_[stage] = True
            except DomainError:
                open_[stage] = False
        return open_

    def act(self, action: Callable[[], Any]) -> None:
        """Run one action in a savepoint. A refusal must be a domain error and must have staged
        nothing; anything else escaping is a bug in the loop."""
        before = self.snapshot()
        where = (self.topic.stage, self.topic.stage_state)
        could_start = self.gates()
        savepoint = self.s.begin_nested()
        try:
            action()
            self.s.flush()
        except DomainError as refusal:
            assert refusal.message, "a refusal names its reason"
            assert refusal.status_code in (403, 404, 409, 422), refusal
            after = self.snapshot()
            savepoint.rollback()
            for table in SNAPSHOT_TABLES:
                assert after[table] == before[table], f"refused, yet {table} changed: {refusal}"
            self.refusals += 1
            self.s.refresh(self.topic)
            return
        savepoint.commit()
        self.accepted += 1
        self.s.refresh(self.topic)
        self.check_step(where, could_start)

    def check_step(self, where: tuple[Stage, StageState], could_start: dict[Stage, bool]) -> None:
        """The step moved the loop forward along the stage order only, through its gates."""
        (stage0, state0), stage1, state1 = where, self.topic.stage, self.topic.stage_state
        assert stage1.index >= stage0.index, f"{stage0}→{stage1}: the loop went back"
        if stage1.index > stage0.index:
            assert stage1.index == stage0.index + 1, f"{stage0}→{stage1}: a stage was skipped"
            assert state0 is StageState.DONE, f"{stage1} started while {stage0} was {state0}"
            assert could_start[stage1], f"{stage1} started although its gate refused"
        else:
            assert STATE_ORDER.index(state1) >= STATE_ORDER.index(state0), (
                f"{stage1}: {state0}→{state1} went back"
            )
            if state0 is StageState.NOT_STARTED and state1 is not StageState.NOT_STARTED:
                assert could_start[stage1], f"{stage1} started although its gate refused"
        if state1 is StageState.DONE and (stage1, state1) != (stage0, state0):
            assert stages.completion_reason(self.s, self.topic) is None

    # --- flow steps -------------------------------------------------------------------------

    @rule(stage=st.sampled_from(STAGE_ORDER))
    def run_stage(self, stage: Stage) -> None:
        """A stage's flow run from start to end (begin, automatic work, settle)."""
        self.act(lambda: flow_begin(self.s, self.topic, stage))
        if self.topic.stage is stage and self.topic.stage_state is StageState.RUNNING:
            self.act(lambda: flow_work_and_settle(self.s, self.topic, stage))

    @rule(stage=st.sampled_from(STAGE_ORDER))
    def crashed_run(self, stage: Stage) -> None:
        """A run killed after it began: the stage stays running until a run takes it up."""
        self.act(lambda: flow_begin(self.s, self.topic, stage))

    @rule()
    def rerun(self) -> None:
        """A replacement run of a stage left running."""
        if self.topic.stage_state is StageState.RUNNING:
            self.act(lambda: flow_work_and_settle(self.s, self.topic, self.topic.stage))

    @rule()
    def next_step(self) -> None:
        """What a diligent office and its people would do next (so runs get deep)."""
        t = self.topic
        if t.stage_state in (StageState.NOT_STARTED, StageState.DONE):
            if t.stage_state is StageState.NOT_STARTED:
                target = t.stage
            elif t.stage is Stage.ASSESSMENT:
                return
            else:
                target = STAGE_ORDER[t.stage.index + 1]
            if target in (Stage.SUBJECT, Stage.PRESTUDY, Stage.SESSION, Stage.TRANSFER):
                self.prepare(target)
            self.run_stage(target)
        elif t.stage_state is StageState.RUNNING:
            self.rerun()
        elif t.stage is Stage.TOPIC and t.status is TopicStatus.AWAITING_SCREENING:
            self.screen_topic("admit")
        elif t.stage is Stage.TOPIC:
            self.decide_topic("approver", True)
        elif t.stage is Stage.SUBJECT:
            self.everyone_accepts(True)
        elif t.stage is Stage.PRESTUDY:
            self.findings(True)
            self.research_summary("admin", True)
        elif t.stage is Stage.SESSION:
            self.hold_session(True, 2)
        elif t.stage is Stage.REPORT:
            self.decide_report("approver", True, True)
        elif t.stage is Stage.TRANSFER:
            self.officers_do_their_part("ack")
        elif t.stage is Stage.IMPLEMENTATION:
            self.officers_do_their_part("plan")
            self.officers_do_their_part("complete")
        else:
            self.rate_outcome("resident", 5)
            self.close("admin")

    # --- what must exist before a stage (the office prepares it) ----------------------------

    @rule(stage=st.sampled_from([Stage.SUBJECT, Stage.PRESTUDY, Stage.SESSION, Stage.TRANSFER]))
    def prepare(self, stage: Stage) -> None:
        self.act(lambda: self.loop.prepare(self.topic, stage))

    @rule(role=st.sampled_from([ParticipantRole.EXPERT, ParticipantRole.RESIDENT]))
    def add_participant(self, role: ParticipantRole) -> None:
        who = self.cast.expert if role is ParticipantRole.EXPERT else self.cast.resident2
        data = subject.ParticipantsAdd(
            participants=[subject.ParticipantIn(person_id=who.id, role=role)]
        )
        self.act(lambda: subject.add_participants(self.s, self.topic.id, data))

    @rule()
    def add_research_task(self) -> None:
        data = prestudy.ResearchTaskCreate(
            title="政策梳理",
            method=ResearchMethod.POLICY_REVIEW,
            owner_id=self.cast.expert.id,
            due_date=TODAY + dt.timedelta(days=5),
        )
        self.act(lambda: prestudy.create_task(self.s, self.topic.id, data))

    @rule()
    def schedule_session(self) -> None:
        data = consultation.SessionCreate(
            form=SessionForm.ONLINE,  # its window open now: opinions may come in
            starts_at=dt.datetime.now(dt.UTC),
            ends_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=3),
        )
        self.act(lambda: consultation.schedule_session(self.s, self.topic.id, data))

    # --- people's actions -------------------------------------------------------------------

    @rule(decision=st.sampled_from(["admit", "exclude"]))
    def screen_topic(self, decision: str) -> None:
        """The office decides on a hinted proposal (a look-alike of an earlier example's)."""
        data = screening.ScreeningIn(
            decision=decision,  # type: ignore[arg-type]
            rule=ScreeningRule.NOT_GENERAL if decision == "exclude" else None,
            justification="经核实，群众普遍关注，予以受理",
        )
        admin = self.cast.admin.id
        self.act(lambda: topics.decide_screening(self.s, self.topic.id, data, by=admin))

    @rule(role=st.sampled_from(["approver", "admin", "resident"]), approve=st.booleans())
    def decide_topic(self, role: str, approve: bool) -> None:
        decide = approve_topic if approve else reject_topic
        self.act(lambda: decide(self.s, self.topic.id, self.person(role).id))

    @rule(accept=st.booleans(), data=st.data())
    def reply(self, accept: bool, data: st.DataObject) -> None:
        people = self.rows(Participant, topic_id=self.topic.id)
        if people:
            p = data.draw(st.sampled_from(people))
            self.act(lambda: rsvp(self.s, p.id, accept))

    @rule(all_accept=st.just(True))
    def everyone_accepts(self, all_accept: bool) -> None:
        for p in self.rows(Participant, topic_id=self.topic.id):
            self.act(lambda p=p: rsvp(self.s, p.id, all_accept))

    @rule(owner=st.booleans())
    def findings(self, owner: bool) -> None:
        for task in self.rows(ResearchTask, topic_id=self.topic.id):
            actor = task.owner_id if owner else self.cast.resident.id
            self.act(lambda t=task, a=actor: submit_findings(self.s, t.id, a))

    @rule(author=st.sampled_from(["member", "admin", "resident"]), accept=st.booleans())
    def research_summary(self, author: str, accept: bool) -> None:
        """The summary written (by a task owner, the office, or one who may not) and reviewed."""
        content = prestudy.SummaryIn(content="调研报告：走访 120 户，多数住户支持加装电梯。")
        review = prestudy.SummaryReview(accepted=accept, note=None if accept else "请补充意见")
        by = self.person(author).id
        self.act(lambda: prestudy.submit_summary(self.s, self.topic.id, content, by=by))
        admin = self.cast.admin.id
        self.act(lambda: prestudy.review_summary(self.s, self.topic.id, review, by=admin))

    @rule(consensus=st.booleans(), suggestions=st.integers(1, 2))
    def hold_session(self, consensus: bool, suggestions: int) -> None:
        """Opinions of the participants present, then the round's conclusion."""
        rounds = self.rows(ConsultationSession, topic_id=self.topic.id)
        if not rounds:
            return
        meeting = rounds[-1]
        present = self.rows(Participant, topic_id=self.topic.id)
        if present:
            said = consultation.OpinionsAdd(
                opinions=[consultation.OpinionIn(participant_id=present[0].id, content="希望补贴")]
            )
            self.act(lambda: consultation.record_opinions(self.s, meeting.id, said))
        opinion_ids = [o.id for o in self.rows(Opinion, session_id=meeting.id)]
        conclusion = consultation.Conclusion(
            consensus_reached=consensus,
            summary="形成共识" if consensus else "分歧较大，再议",
            minutes="会议纪要：各方代表发言，意见已记录在案。",
            suggestions=[
                consultation.SuggestionIn(content=f"建议{i + 1}", opinion_ids=opinion_ids or [1])
                for i in range(suggestions)
            ],
        )
        self.act(lambda: consultation.conclude(self.s, meeting.id, conclusion))

    @rule(role=st.sampled_from(["approver", "admin"]), approve=st.booleans(), adopt=st.booleans())
    def decide_report(self, role: str, approve: bool, adopt: bool) -> None:
        who = self.person(role).id
        for report in self.rows(Report, topic_id=self.topic.id):
            if approve:
                self.act(lambda r=report: approve_report(self.s, r.id, who, adopt))
            else:
                self.act(lambda r=report: return_report(self.s, r.id, who))

    @rule(role=st.sampled_from(["officer", "other_officer", "head", "resident"]), act=st.data())
    def handle_item(self, role: str, act: st.DataObject) -> None:
        """One person's action on one item: 签收, decline, plan, progress, completion."""
        items = self.rows(RectificationItem, topic_id=self.topic.id)
        if not items:
            return
        item = act.draw(st.sampled_from(items))
        who = self.person(role).id
        kind = act.draw(st.sampled_from(["ack", "decline", "plan", "progress", "complete"]))
        action: Callable[[], None] = {
            "ack": lambda: acknowledge(self.s, item.id, who),
            "decline": lambda: decline(self.s, item.id, who),
            "plan": lambda: submit_plan(self.s, item.id, who),
            "progress": lambda: report_progress(
                self.s, item.id, who, act.draw(st.integers(0, 100))
            ),
            "complete": lambda: complete(self.s, item.id, who, act.draw(st.booleans())),
        }[kind]
        self.act(action)

    @rule(kind=st.sampled_from(["ack", "plan", "complete"]))
    def officers_do_their_part(self, kind: str) -> None:
        """Every item's own officer acts (what moves transfer and implementation forward)."""
        for item in self.rows(RectificationItem, topic_id=self.topic.id):
            step = {"ack": acknowledge, "plan": submit_plan}.get(kind)
            if step is not None:
                self.act(lambda i=item, f=step: f(self.s, i.id, i.officer_id))
            else:
                self.act(lambda i=item: complete(self.s, i.id, i.officer_id, True))

    @rule(role=st.sampled_from(["admin", "resident"]))
    def reassign_item(self, role: str) -> None:
        for item in self.rows(RectificationItem, topic_id=self.topic.id):
            other = (
                self.cast.other_officer
                if item.officer_id == self.cast.officer.id
                else self.cast.officer
            )
            self.act(lambda i=item, o=other: reassign(self.s, i.id, self.person(role).id, o))

    @rule(role=st.sampled_from(["member", "officer"]), approved=st.booleans())
    def review_plans(self, role: str, approved: bool) -> None:
        who = self.person(role).id
        for item in self.rows(RectificationItem, topic_id=self.topic.id):
            for plan in self.rows(Plan, item_id=item.id):
                self.act(lambda p=plan: review_plan(self.s, p.id, who, approved))

    @rule(role=st.sampled_from(["member", "admin", "resident"]), rebound=st.booleans())
    def recheck_items(self, role: str, rebound: bool) -> None:
        who = self.person(role).id
        for item in self.rows(RectificationItem, topic_id=self.topic.id):
            self.act(lambda i=item: recheck(self.s, i.id, who, rebound))

    @rule(role=st.sampled_from(["resident", "member", "expert"]), score=st.integers(1, 5))
    def rate_outcome(self, role: str, score: int) -> None:
        self.act(lambda: rate(self.s, self.topic.id, self.person(role).id, score))

    @rule(role=st.sampled_from(["admin", "resident"]))
    def close(self, role: str) -> None:
        self.act(lambda: close_assessment(self.s, self.topic.id, self.person(role).id))

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def a_valid_place_in_the_loop(self) -> None:
        t = self.topic
        assert ALLOWED[t.status](t.stage, t.stage_state), (t.status, t.stage, t.stage_state)
        for stage in STAGE_ORDER[: t.stage.index]:
            assert stages.is_done(t, stage)
        if t.stage_state is not StageState.NOT_STARTED and t.stage is not Stage.TOPIC:
            assert t.status in (TopicStatus.IN_PROGRESS, TopicStatus.CLOSED)

    @invariant()
    def suggestions_and_items_point_back(self) -> None:
        suggestions = {s.id: s for s in self.rows(Suggestion, topic_id=self.topic.id)}
        for item in self.rows(RectificationItem, topic_id=self.topic.id):
            assert item.suggestion_id in suggestions, "an item without its suggestion"

    @invariant()
    def kpis_are_consistent(self) -> None:
        counts = assessment.kpis(self.s, topic_id=self.topic.id)
        for small, large in BOUNDED:
            assert 0 <= counts[small] <= counts[large], (small, large, counts)
        for key, kpi in kpis.KPIS.items():
            den, num = counts[kpi.denominator], counts[kpi.numerator]
            if den == 0:
                assert counts[key] is None, (key, counts)
            else:
                assert 0 <= num <= den and counts[key] == pytest.approx(num / den), (key, counts)


def test_no_sequence_of_actions_breaks_the_loop(db_url: str) -> None:
    """On SQLite and PostgreSQL; every example runs in a transaction rolled back at its end."""
    LoopMachine.url = db_url
    LoopMachine.reached = {}
    run_state_machine_as_test(
        LoopMachine,
        settings=settings(
            max_examples=int(os.environ.get("XS_MACHINE_EXAMPLES", "20")),
            stateful_step_count=100,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    # The runs must get deep into the loop, or the invariants were checked on nothing.
    reached = LoopMachine.reached
    print(reached)
    deepest = max(Stage(k.split(":")[0]).index for k in reached if ":" in k)
    assert deepest >= Stage.IMPLEMENTATION.index, reached
    assert reached["refused"] and reached["accepted"], reached
