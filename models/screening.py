"""初筛: the system's suggestions for a proposal and the office's recorded decision on them.

The proposer's own answers (涉诉、信访 …) and the words of the proposal are hints, not verdicts:
each rule below says what hints at it, every hint is shown with why, and only an administrator
excludes a topic or merges it into another. A decision against the suggestion (admitting a
hinted topic, excluding on a rule nothing hinted at, merging into a topic that was not
suggested) needs a written justification. Suggestions and decision are one row
(ScreeningDecision) and both are in the audit trail.

Near-duplicates: the character bigrams of a topic's title and the start of its description are
stored once (TopicGram); the candidates for a new proposal are the earlier open topics sharing
the most bigrams with it, found by one grouped query on that index, then scored by the overlap
of their bigram sets (the description counts when it is long enough to say something). Chinese has no spaces, so characters,
not words, are the unit: '加装电梯' and '电梯加装' share most bigrams."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from models.access import Can, require
from models.base import Body, utcnow
from models.case import (
    addressed,
    audit,
    close_follow_ups,
    get,
    queue,
    request_approval,
    touch,
)
from models.enums import (
    Obligation,
    Role,
    ScreeningOutcome,
    ScreeningRule,
    StageState,
    TopicStatus,
)
from models.errors import Conflict, Invalid
from models.tables import Person, ScreeningDecision, Topic, TopicGram, TopicSupporter


@dataclass(frozen=True)
class RuleSpec:
    """One 'no consultation' rule: its name, the proposer's answer that claims it, and the
    words and categories of a proposal that hint at it."""

    rule: ScreeningRule
    label: str
    reason: str  # what the proposer is told when the topic is excluded on this rule
    # The proposal's field that holds the proposer's answer, and the value that claims the rule.
    field: str
    claimed_when: bool
    claim: str  # the proposer's answer, as the hint names it
    matter: str  # the matters the rule covers, as the proposal form explains and asks it
    keywords: tuple[str, ...]
    categories: tuple[str, ...] = ()

    def claimed(self, topic: Topic) -> bool:
        return bool(getattr(topic, self.field)) is self.claimed_when


RULES: dict[ScreeningRule, RuleSpec] = {
    r.rule: r
    for r in (
        RuleSpec(
            ScreeningRule.LITIGATION,
            "涉法涉诉不协商",
            "涉法涉诉事项不纳入协商（涉法涉诉不协商）",
            "in_litigation",
            True,
            "提出人申报“已进入诉讼或仲裁”",
            "已进入诉讼、仲裁等法律程序的事项",
            ("诉讼", "起诉", "法院", "判决", "仲裁", "上诉", "打官司", "立案"),
            ("司法", "诉讼"),
        ),
        RuleSpec(
            ScreeningRule.PETITION,
            "纳入信访不协商",
            "已纳入信访程序的事项不纳入协商（纳入信访不协商）",
            "in_petition",
            True,
            "提出人申报“已纳入信访程序”",
            "已纳入信访程序的事项",
            ("信访", "上访", "信访件", "信访局"),
            ("信访",),
        ),
        RuleSpec(
            ScreeningRule.NOT_GENERAL,
            "不具代表性不协商",
            "事项不具普遍性和代表性（不具代表性不协商）",
            "of_general_concern",
            False,
            "提出人申报“仅涉及个人或个别家庭”",
            "仅涉及个人或个别家庭、不具普遍性的事项",
            ("我家", "本人家", "个人纠纷", "私人", "邻居家"),
        ),
        RuleSpec(
            ScreeningRule.POLICY_EXPLICIT,
            "已有明确规定不协商",
            "党委政府已有明确规定的事项无需协商",
            "policy_explicit",
            True,
            "提出人申报“已有明确政策规定”",
            "党委政府已有明确规定、按规定办理即可的事项",
            ("已有明确规定", "明文规定", "政策已明确", "按规定执行"),
        ),
    )
}

# How alike two proposals must be to be suggested as the same (the administrator decides).
SUGGEST_SCORE = 0.45
CANDIDATES = 5  # shown to the administrator, best first
PREFILTER = 50  # topics scored after the grouped query
DESCRIPTION_CHARS = 300  # of the description, indexed beside the whole title
DESCRIPTION_MIN = 20  # bigrams a description needs before it counts as evidence
JUSTIFICATION_MIN = 5

_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)


def _normal(text: str) -> str:
    """Full-width to half-width, lower case, punctuation and spaces dropped."""
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text).lower())


def bigrams(text: str) -> set[str]:
    """Character bigrams of a text ({'加装', '装电', '电梯'} for '加装电梯'); one character
    counts as itself."""
    t = _normal(text)
    if len(t) < 2:
        return {t} if t else set()
    return {t[i : i + 2] for i in range(len(t) - 1)}


def _topic_grams(topic: Topic) -> tuple[set[str], set[str]]:
    return bigrams(topic.title), bigrams(topic.description[:DESCRIPTION_CHARS])


def index_topic(session: Session, topic: Topic) -> None:
    """Store the topic's bigrams (in the same transaction as the topic)."""
    title, description = _topic_grams(topic)
    session.execute(delete(TopicGram).where(col(TopicGram.topic_id) == topic.id))
    session.add_all(TopicGram(topic_id=topic.id, gram=g) for g in sorted(title | description))  # type: ignore[arg-type]
    session.flush()


def _overlap(a: set[str], b: set[str]) -> float:
    """Jaccard overlap; two empty sets say nothing (0)."""
    return len(a & b) / len(a | b) if a and b else 0.0


def similarity(title: tuple[set[str], set[str]], other: tuple[set[str], set[str]]) -> float:
    """The titles' overlap, or — when both descriptions say enough to compare — the mean of
    title and description overlap if that is higher: the same long account under another
    title is the same proposal; a short shared phrase is not."""
    t = _overlap(title[0], other[0])
    if len(title[1]) < DESCRIPTION_MIN or len(other[1]) < DESCRIPTION_MIN:
        return t
    return max(t, (t + _overlap(title[1], other[1])) / 2)


OPEN_FOR_MERGING = (
    TopicStatus.AWAITING_SCREENING,
    TopicStatus.AWAITING_APPROVAL,
    TopicStatus.IN_PROGRESS,
)


def near_duplicates(session: Session, topic: Topic) -> list[dict[str, object]]:
    """Earlier open topics that say the same thing, best first, with their scores: one grouped
    query over the bigram index picks the few worth scoring, one more reads their bigrams."""
    mine = _topic_grams(topic)
    grams = sorted(mine[0] | mine[1])
    if not grams:
        return []
    shared = func.count().label("shared")
    rows = session.execute(
        select(TopicGram.topic_id, shared)
        .join(Topic, col(Topic.id) == TopicGram.topic_id)
        .where(
            col(TopicGram.gram).in_(grams),
            col(TopicGram.topic_id) < topic.id,
            col(Topic.status).in_(OPEN_FOR_MERGING),
        )
        .group_by(col(TopicGram.topic_id))
        .having(shared >= max(2, len(mine[0]) // 3))
        .order_by(shared.desc(), col(TopicGram.topic_id))
        .limit(PREFILTER)
    ).all()
    ids = [r[0] for r in rows]
    if not ids:
        return []
    others = {t.id: t for t in session.exec(select(Topic).where(col(Topic.id).in_(ids)))}
    scored = []
    for tid in ids:
        other = others[tid]
        score = similarity(mine, _topic_grams(other))
        if score >= SUGGEST_SCORE:
            scored.append({"topic_id": tid, "title": other.title, "score": round(score, 2)})
    scored.sort(key=lambda c: (-float(c["score"]), int(c["topic_id"])))  # type: ignore[arg-type]
    return scored[:CANDIDATES]


def hints(topic: Topic) -> list[dict[str, str]]:
    """Every rule the proposal hints at, each with why: the proposer's answer, a word of the
    text, its category."""
    text = f"{topic.title}\n{topic.description}"
    found: list[dict[str, str]] = []
    for spec in RULES.values():
        why: list[str] = []
        if spec.claimed(topic):
            why.append(spec.claim)
        words = [w for w in spec.keywords if w in text]
        if words:
            why.append("文字中出现" + "、".join(f"“{w}”" for w in words))
        if topic.category and any(c in topic.category for c in spec.categories):
            why.append(f"类别为“{topic.category}”")
        if why:
            found.append({"rule": spec.rule.value, "label": spec.label, "why": "；".join(why)})
    return found


class ScreeningIn(Body):
    """Request body: the office's screening decision."""

    decision: Literal["admit", "exclude", "merge"]
    rule: ScreeningRule | None = None
    merge_into_id: int | None = Field(default=None, ge=1)
    justification: str = Field(default="", max_length=1000)


def suggest(session: Session, topic: Topic) -> ScreeningDecision:
    """Record what the system suggests (once per topic: a retried run finds it)."""
    found = session.exec(
        select(ScreeningDecision).where(ScreeningDecision.topic_id == topic.id)
    ).first()
    if found is not None:
        return found
    row = ScreeningDecision(
        topic_id=topic.id,  # type: ignore[arg-type]
        hints=hints(topic),
        candidates=near_duplicates(session, topic),
    )
    session.add(row)
    session.flush()
    return row


def admit_without_hints(row: ScreeningDecision, now: dt.datetime) -> None:
    """Nothing hinted and nothing alike: the system admits it, and says so on the record."""
    row.outcome = ScreeningOutcome.ADMITTED
    row.justification = "未发现不予协商的情形，也未发现近似议题"
    row.decided_at = now


def admit_emergency(row: ScreeningDecision, now: dt.datetime) -> None:
    """应急快速通道: work starts at once; the hints stay on record for the office."""
    row.outcome = ScreeningOutcome.ADMITTED
    row.justification = "应急议题快速通道：先行办理，限期转入常规协商流程" + (
        "；初筛提示留待协商办核查" if row.hints or row.candidates else ""
    )
    row.decided_at = now


def ask_the_office(
    session: Session, topic: Topic, row: ScreeningDecision, *, working_days: int, now: dt.datetime
) -> None:
    """Hints or look-alikes: the office decides, within N working days, and is chased."""
    topic.status = TopicStatus.AWAITING_SCREENING
    request_approval(
        session,
        obligation=Obligation.SCREENING,
        subject_id=topic.id,  # type: ignore[arg-type]
        topic_id=topic.id,  # type: ignore[arg-type]
        working_days=working_days,
        event_key=f"topic:{topic.id}:screening_request",
        template="screening_request",
        now=now,
        to=Role.ADMINISTRATOR,
        topic=topic,
        hints=row.hints,
        candidates=row.candidates,
    )


def decision_of(session: Session, topic_id: int) -> ScreeningDecision:
    found = session.exec(
        select(ScreeningDecision).where(ScreeningDecision.topic_id == topic_id)
    ).first()
    if found is None:
        raise Conflict("议题尚未完成系统初筛，请稍后再试")
    return found


def decide(
    session: Session,
    topic_id: int,
    data: ScreeningIn,
    *,
    by: int | None,
    admit: Callable[[Topic], None],
) -> Topic:
    """The office's decision on a hinted proposal: admit (then it goes for approval through
    `admit`), exclude on a rule, or merge into an earlier topic. Two administrators at once:
    the second finds it decided and is told so."""
    topic = get(session, Topic, topic_id, for_update=True)
    admin = get(session, Person, by)
    require(admin, Can.RUN_LOOP, action="确认议题初筛")
    if topic.status != TopicStatus.AWAITING_SCREENING:
        raise Conflict(_not_waiting(topic))
    row = decision_of(session, topic_id)
    hinted = {h["rule"] for h in row.hints}
    suggested_ids = {int(c["topic_id"]) for c in row.candidates}
    justification = data.justification.strip()
    now = utcnow()
    target: Topic | None = None
    if data.decision == "exclude":
        if data.rule is None:
            raise Invalid("请选择不予协商的依据", field="rule")
        overridden = data.rule.value not in hinted
    elif data.decision == "merge":
        if data.merge_into_id is None:
            raise Invalid("请选择要并入的议题", field="merge_into_id")
        target = _merge_target(session, topic, data.merge_into_id)
        overridden = target.id not in suggested_ids
    else:
        overridden = bool(hinted)
    if overridden and len(justification) < JUSTIFICATION_MIN:
        raise Invalid(
            f"该决定与系统初筛建议不一致，请写明理由（不少于 {JUSTIFICATION_MIN} 个字）",
            field="justification",
        )
    row.outcome = {
        "admit": ScreeningOutcome.ADMITTED,
        "exclude": ScreeningOutcome.EXCLUDED,
        "merge": ScreeningOutcome.MERGED,
    }[data.decision]
    row.rule = data.rule.value if data.decision == "exclude" and data.rule else None
    row.merged_into_id = target.id if target else None
    row.overridden = overridden
    row.justification = justification or None
    row.decided_by_id = admin.id
    row.decided_at = now
    close_follow_ups(
        session, obligation=Obligation.SCREENING, subject_ids=[topic_id], outcome="已确认初筛"
    )
    audit(
        session,
        action="topic_screening_decided",
        topic_id=topic_id,
        actor=admin,
        decision=row.outcome.value,
        rule=row.rule,
        merged_into=row.merged_into_id,
        overridden=overridden,
        justification=row.justification,
        hinted=sorted(hinted),
        suggested=sorted(suggested_ids),
    )
    if data.decision == "exclude":
        assert data.rule is not None
        exclude(session, topic, data.rule, justification or None, now=now)
    elif target is not None:
        merge(session, topic, target, now=now)
    else:
        admit(topic)
    touch(topic)
    return topic


def _not_waiting(topic: Topic) -> str:
    if topic.status == TopicStatus.DRAFT:
        return "议题尚未完成系统初筛，请稍后再试"
    return "议题已完成初筛，不能重复决定（可能他人刚刚确认）"


def _merge_target(session: Session, topic: Topic, target_id: int) -> Topic:
    """Always into the earlier topic, and only into one still open."""
    if target_id == topic.id:
        raise Invalid("不能并入议题本身", field="merge_into_id")
    target = get(session, Topic, target_id, for_update=True)
    if (target.created_at, target.id) > (topic.created_at, topic.id):  # type: ignore[operator]
        raise Conflict(
            f"只能并入更早提出的议题：议题“{target.title}”（{target.id}）晚于本议题提出，"
            f"应将其并入本议题"
        )
    if target.status not in (TopicStatus.AWAITING_APPROVAL, TopicStatus.IN_PROGRESS):
        raise Conflict(f"议题“{target.title}”（{target.id}）不在办理中，不能并入")
    return target


def exclude(
    session: Session,
    topic: Topic,
    rule: ScreeningRule,
    justification: str | None,
    *,
    now: dt.datetime,
) -> None:
    """不予协商: the topic closes with the rule's reason, and the proposer hears it."""
    topic.status = TopicStatus.SCREENED_OUT
    topic.status_reason = RULES[rule].reason + (f"。{justification}" if justification else "")
    topic.closed_at = now
    topic.stage_state = StageState.DONE
    if topic.proposer_id is not None:
        proposer = get(session, Person, topic.proposer_id)
        queue(
            session,
            event_key=f"topic:{topic.id}:screened",
            recipients=[proposer.tag],
            salutations=addressed(session, proposer),
            template="topic_screened",
            topic_id=topic.id,
            topic=topic,
        )


def merge(session: Session, topic: Topic, target: Topic, *, now: dt.datetime) -> None:
    """并入更早的议题: the merged topic's stage closes; its proposer and supporters become
    supporters of the earlier topic and are told where to follow it."""
    topic.status = TopicStatus.MERGED
    topic.merged_into_id = target.id
    topic.status_reason = f"与议题“{target.title}”（{target.id}）内容相近，已并入该议题统一协商"
    topic.closed_at = now
    topic.stage_state = StageState.DONE
    people = _supporters_of(session, topic)
    already = set(
        session.exec(select(TopicSupporter.person_id).where(TopicSupporter.topic_id == target.id))
    )
    for person_id in people:
        if person_id != target.proposer_id and person_id not in already:
            session.add(
                TopicSupporter(topic_id=target.id, person_id=person_id, from_topic_id=topic.id)  # type: ignore[arg-type]
            )
            already.add(person_id)
    session.flush()
    for person in session.exec(select(Person).where(col(Person.id).in_(people))):
        queue(
            session,
            event_key=f"topic:{topic.id}:merged:{person.id}",
            recipients=[person.tag],
            salutations=addressed(session, person),
            template="topic_merged",
            topic_id=target.id,
            topic=topic,
            target=target,
        )


def _supporters_of(session: Session, topic: Topic) -> list[int]:
    """The proposer and everyone already merged into this topic, in order."""
    ids: list[int] = [topic.proposer_id] if topic.proposer_id is not None else []
    ids += [
        pid
        for pid in session.exec(
            select(TopicSupporter.person_id)
            .where(TopicSupporter.topic_id == topic.id)
            .order_by(col(TopicSupporter.id))
        )
        if pid not in ids
    ]
    return ids


def supporters(session: Session, topic_id: int) -> list[int]:
    """Who else proposed this topic (merged duplicates), as person ids."""
    return list(
        session.exec(
            select(TopicSupporter.person_id)
            .where(TopicSupporter.topic_id == topic_id)
            .order_by(col(TopicSupporter.id))
        )
    )


class ScreeningPublic(BaseModel):
    """A topic's screening as the office reads it: the suggestions and the decision."""

    topic_id: int
    status: TopicStatus
    hints: list[dict[str, str]]
    candidates: list[dict[str, Any]]
    outcome: ScreeningOutcome | None
    rule: str | None
    merged_into_id: int | None
    overridden: bool
    justification: str | None
    decided_by_id: int | None
    decided_at: dt.datetime | None
    supporters: list[int]


def view(session: Session, topic_id: int) -> ScreeningPublic:
    topic = get(session, Topic, topic_id)
    row = decision_of(session, topic_id)
    return ScreeningPublic(
        topic_id=topic_id,
        status=topic.status,
        hints=row.hints,
        candidates=row.candidates,
        outcome=row.outcome,
        rule=row.rule,
        merged_into_id=row.merged_into_id,
        overridden=row.overridden,
        justification=row.justification,
        decided_by_id=row.decided_by_id,
        decided_at=row.decided_at,
        supporters=supporters(session, topic_id),
    )


def claims(rules: Iterable[ScreeningRule]) -> dict[str, bool]:
    """The proposal's answers for the rules its proposer says apply (the proposal form's
    ticks), every other answer at its 'does not apply' value."""
    ticked = set(rules)
    return {
        spec.field: spec.claimed_when if spec.rule in ticked else not spec.claimed_when
        for spec in RULES.values()
    }


def rule_choices() -> Iterable[tuple[str, str]]:
    return ((spec.rule.value, spec.label) for spec in RULES.values())
