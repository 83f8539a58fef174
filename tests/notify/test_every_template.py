"""Every message template, produced by the real operations of a whole loop (with the ladder
swept as time passes, a weekly dispatch, an extension, a reassignment, an arbitration, a
rebound and a third-party evaluation), delivered by e-mail and by JSON webhook to the local receivers, and read there: the
lines arrive as lines, the link where the person acts is there, the Chinese text is intact.

Set XS_RECEIVER_LOG=<file> to keep what the receivers got, for reading."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

from apprise.plugins.email import NotifyEmail
from sqlmodel import Session, select

from config.db import engine_for
from config.links import base_url
from models import dispatch, extensions, followup, ledger, prestudy, rectification, screening
from models import evaluation as evaluations
from models import report as reports
from models import topic as topics
from models.enums import DeclineCode, ScreeningRule, Stage, TopicSource
from models.tables import Notification, RectificationItem, Report, ResearchTask
from tasks.notify import deliver_notifications
from tests.factories import LoopBuilder
from tests.receivers import HttpReceiver, SmtpReceiver, use_apprise_config, write_apprise_yaml

SH = ZoneInfo("Asia/Shanghai")
TEMPLATES = Path(__file__).resolve().parents[2] / "models" / "templates"
NOT_MESSAGES = {"report", "bulletin"}  # a document; the bulletins' own announcement


def _walk(session: Session, time_machine) -> None:  # type: ignore[no-untyped-def]
    """A topic through every stage, time passing between them so the ladders fire."""
    loop = LoopBuilder(session)
    now = dt.datetime(2026, 3, 2, 10, tzinfo=SH)

    def at(t: dt.datetime) -> None:
        time_machine.move_to(t, tick=False)
        loop.today = t.date()

    def later(days: int) -> None:
        nonlocal now
        now += dt.timedelta(days=days)
        at(now)
        followup.sweep(session, now=now)
        session.flush()

    at(now)
    c = loop.cast
    screened = loop.topic(title="邻里宅基地诉讼", in_litigation=True)
    loop.run_stage(screened, Stage.TOPIC)  # waits for the office's screening: reminded
    emergency = loop.topic(title="暴雨致地下通道积水", source=TopicSource.EMERGENCY)
    loop.run_stage(emergency, Stage.TOPIC)  # chased into the regular loop
    refused = loop.topic(title="修建商业步行街")
    loop.run_stage(refused, Stage.TOPIC)
    topics.reject(session, refused.id, topics.Rejection(reason="不属协商范围"), by=c.approver.id)

    topic = loop.topic(title="老旧小区加装电梯")
    for stage in (Stage.TOPIC, Stage.SUBJECT, Stage.PRESTUDY, Stage.SESSION):
        loop.prepare(topic, stage)
        loop.run_stage(topic, stage)
        later(14)
        if stage is Stage.PRESTUDY:  # the summary returned once, then accepted
            for task in session.exec(select(ResearchTask).where(ResearchTask.topic_id == topic.id)):
                prestudy.submit_findings(
                    session, task.id, prestudy.FindingsIn(findings="走访 120 户"), by=c.member.id
                )
            prestudy.submit_summary(
                session,
                topic.id,
                prestudy.SummaryIn(content="调研报告：走访 120 户，多数住户支持加装电梯。"),
                by=c.member.id,
            )
            prestudy.review_summary(
                session,
                topic.id,
                prestudy.SummaryReview(accepted=False, note="请补充低层住户的意见"),
                by=c.admin.id,
            )
            loop.accept_summary(topic)
        else:
            loop.finish(topic, stage)
        if stage is Stage.TOPIC:
            topics.decide_screening(
                session,
                screened.id,
                screening.ScreeningIn(decision="exclude", rule=ScreeningRule.LITIGATION),
                by=c.admin.id,
            )
            duplicate = loop.topic(title="老旧小区加装电梯问题", proposer_id=c.resident2.id)
            loop.run_stage(duplicate, Stage.TOPIC)
            topics.decide_screening(
                session,
                duplicate.id,
                screening.ScreeningIn(decision="merge", merge_into_id=topic.id),
                by=c.admin.id,
            )
    loop.run_stage(topic, Stage.REPORT)
    report = session.exec(select(Report).where(Report.topic_id == topic.id)).one()
    reports.return_report(
        session, report.id, reports.ReportReturn(reason="补充调研数据"), by=c.approver.id
    )
    reports.revise(
        session, report.id, reports.ReportUpdate(content=report.content + "\n补充。"), by=c.admin.id
    )
    loop.finish(topic, Stage.REPORT)

    loop.prepare(topic, Stage.TRANSFER)
    loop.run_stage(topic, Stage.TRANSFER)
    first, second = loop.items(topic)
    rectification.decline(
        session,
        second.id,
        rectification.DeclineIn(code=DeclineCode.NOT_OUR_DUTY, reason="属区住建局职责"),
        by=c.other_officer.id,
    )
    rectification.reassign(
        session,
        second.id,
        rectification.ReassignIn(
            lead_department_id=c.dept_id,
            officer_id=c.officer.id,
            deadline=loop.today + dt.timedelta(days=50),
        ),
        by=c.admin.id,
    )
    # 区住建局 returns it too: the second return sends it to the office, which is reminded
    # and escalated before it decides (finally) who leads.
    rectification.decline(
        session,
        second.id,
        rectification.DeclineIn(code=DeclineCode.SHARED_DUTY, reason="涉及街道管辖的公共区域"),
        by=c.officer.id,
    )
    later(2)
    rectification.arbitrate(
        session,
        second.id,
        rectification.ArbitrateIn(
            lead_department_id=c.dept_id,
            officer_id=c.officer.id,
            co_department_ids=[c.other_dept_id],
            note="加装电梯属住建职责，由区住建局牵头、城南街道配合",
        ),
        by=c.admin.id,
    )
    later(8)  # 签收 overdue, escalated
    loop.finish(topic, Stage.TRANSFER)

    loop.run_stage(topic, Stage.IMPLEMENTATION)
    # The office imports a department's 台账 on its behalf: its officers are asked to sign.
    imported = _office_import(session, loop, topic)
    for item in imported:
        rectification.acknowledge(session, item.id, by=item.officer_id)
    later(9)  # 方案 overdue
    for item in (first, second, *imported):
        rectification.submit_plan(
            session,
            item.id,
            rectification.PlanIn(
                target="年内完成加装",
                measures="统一招标\n分批施工",
                deadline=item.deadline.astimezone(SH).date(),
                responsible_id=item.officer_id,
            ),
            by=item.officer_id,
        )
    plans = {p.item_id: p for p in session.exec(select(rectification.Plan))}
    rectification.review_plan(
        session, plans[first.id].id, rectification.PlanReview(approved=True), by=c.admin.id
    )
    rectification.review_plan(
        session,
        plans[second.id].id,
        rectification.PlanReview(approved=False, note="措施不具体"),
        by=c.member.id,
    )
    # The first item's department asks for more time; the office refuses (the deadline stays).
    asked = extensions.request(
        session,
        first.id,
        extensions.ExtensionRequestIn(
            deadline=first.deadline.astimezone(SH).date() + dt.timedelta(days=20),
            reason="设备到货延迟",
        ),
        by=c.officer.id,
    )
    extensions.refuse(
        session, asked.id, extensions.ExtensionRefusalIn(comment="可调配现有设备"), by=c.admin.id
    )
    later(40)  # the first item past its deadline: due soon, due, 预警, 督办
    rectification.extend(
        session,
        second.id,
        rectification.ExtendIn(deadline=loop.today + dt.timedelta(days=30), reason="等待管线迁改"),
        by=c.admin.id,
    )
    at(dispatch_day := now + dt.timedelta(days=(7 - now.weekday()) % 7 or 7))
    dispatch.weekly_dispatch(session, now=dispatch_day.replace(hour=9))
    now = dispatch_day
    for item in (first, second, *imported):
        loop.complete(item, rectification.CompletionIn(summary="加装完成 12 部"))
    later(35)  # 回头看 due
    rectification.recheck(
        session, first.id, rectification.RecheckIn(rebound=True, note="电梯停运"), by=c.admin.id
    )
    loop.run_stage(topic, Stage.ASSESSMENT)
    # The office asks the expert for a third-party evaluation; he is reminded before it is due.
    evaluations.assign(
        session, topic.id, evaluations.AssignIn(evaluator_id=c.expert.id), by=c.admin.id
    )
    later(10)  # the residents' ratings are due
    later(5)  # the evaluation is due soon, then due
    session.flush()


def _office_import(session: Session, loop: LoopBuilder, topic) -> list[RectificationItem]:  # type: ignore[no-untyped-def]
    from tests.models.test_ledger import new_row, sheet

    suggestion = loop.items(topic)[0].suggestion_id
    c = {"topic": topic, "suggestion": suggestion}
    row, _ = ledger.upload(
        session,
        department_id=loop.cast.dept_id,
        filename="区住建局台账.csv",
        content=sheet(new_row(c, "JT-1"), new_row(c, "JT-2", 事项="电梯井道施工围挡")),
        by=loop.cast.admin,
    )
    ledger.begin(session, row.id)
    for _ in ledger.apply_file(session, row.id):
        session.flush()
    ledger.finish(session, row.id)
    return list(
        session.exec(
            select(RectificationItem).where(RectificationItem.external_id.in_(["JT-1", "JT-2"]))  # type: ignore[union-attr]
        )
    )


def test_every_template_reads_correctly_by_email_and_webhook(
    committed_db, tmp_path, monkeypatch, time_machine
):
    with Session(engine_for(committed_db)) as s:
        _walk(s, time_machine)
        s.commit()
        rows = list(s.exec(select(Notification)))
        tags = {n.recipient for n in rows}
    made = {n.template for n in rows}
    wanted = {p.stem for p in TEMPLATES.glob("*.txt")} - NOT_MESSAGES
    assert wanted <= made, f"no message of {sorted(wanted - made)}"
    # A line whose plan was returned asks for the plan again, not for progress on it.
    digest = next(n for n in rows if n.template == "weekly_digest" and "尚未重新提交" in n.body)
    returned = next(line for line in digest.body.splitlines() if "尚未重新提交" in line)
    assert "办理：重新提交方案" in returned and "/work/items/" in returned

    # Apprise waits 5.5 s between two sends to one service (measured on the wall clock):
    # a test need not.
    monkeypatch.setattr(NotifyEmail, "request_rate_per_sec", 0)
    with SmtpReceiver() as smtp, HttpReceiver() as hook:
        routes = {}
        for tag in tags:  # every recipient by mail and by webhook
            routes[smtp.url(f"{tag}@example.cn")] = [tag]
            routes[hook.url(tag)] = [tag]
        use_apprise_config(monkeypatch, write_apprise_yaml(tmp_path / "apprise.yml", routes))
        time_machine.move_to(dt.datetime(2026, 12, 1, 10, tzinfo=SH), tick=True)
        assert set(deliver_notifications.fn(limit=1000)) == {"sent"}
        mails, hooks = list(smtp.messages), list(hook.log)

    assert len(mails) == len(hooks) == len(rows)

    def mail_of(n: Notification) -> dict:
        """The e-mail of this row: same recipient, same subject, this row's lines."""
        lines = [line.strip() for line in n.body.splitlines() if line.strip()]
        for m in mails:
            got = [line.strip() for line in m["body"].splitlines()]
            mine = m["to"] == [f"{n.recipient}@example.cn"] and m["subject"] == n.title
            if mine and all(line in got for line in lines):  # each line a line: no run-on
                return m
        raise AssertionError(f"{n.template}: no e-mail with the lines of {n.body!r}")

    def hook_of(n: Notification) -> dict:
        (data,) = [
            h.data for h in hooks if h.path == n.recipient and h.data["event_key"] == n.event_key
        ]
        return data

    for n in rows:
        lines = [line.strip() for line in n.body.splitlines() if line.strip()]
        link = n.payload["link"]
        assert link and link.startswith(base_url()), (n.template, "where to act")
        mail = mail_of(n)
        assert f"办理入口：{link}" in mail["body"] and "<" not in mail["body"], n.template
        assert f'href="{link}"' in mail["html"] and "去办理" in mail["html"], n.template
        html = mail["html"]  # a line, a list line or a paragraph per line of the message
        assert html.count("<br>") + html.count("<div") + html.count("<p") >= len(lines), n.template
        data = hook_of(n)
        assert data["event"] == n.template and data["link"] == link
        assert data["text"].splitlines()[0] == lines[0] and data["message"] == data["text"]
        assert "\ufffd" not in data["text"] + mail["body"] + mail["subject"]

    if os.environ.get("XS_RECEIVER_LOG"):
        with open(os.environ["XS_RECEIVER_LOG"], "w", encoding="utf-8") as out:
            for n in sorted(rows, key=lambda r: r.template):
                mail, data = mail_of(n), hook_of(n)
                out.write(f"===== {n.template} → {n.recipient}\n--- e-mail: {mail['subject']}\n")
                out.write(mail["body"] + "\n--- e-mail HTML part\n" + mail["html"] + "\n")
                out.write("--- webhook JSON\n" + json.dumps(data, ensure_ascii=False, indent=1))
                out.write("\n\n")
