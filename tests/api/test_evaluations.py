"""第三方评估 over HTTP: the rubric, the office's assignment and withdrawal, the evaluator's one
submission and the topic's evaluations, with the status codes and the zh-CN reasons a person
reads; the assessment refuses to close while an evaluation is outstanding."""

from __future__ import annotations

from sqlmodel import select

from models import people, rubric
from models.enums import Role, Stage
from models.tables import AuditEvent, Evaluation

SCORES = {c.key: 4 for c in rubric.CRITERIA}


def _topic(loop, session):  # type: ignore[no-untyped-def]
    topic = loop.advance(loop.topic(), to=Stage.ASSESSMENT, start=True)
    session.commit()
    return topic


def test_the_rubric_is_one_declaration_read_by_the_api(client, loop):
    got = client.get("/rubric", headers=client.as_(loop.cast.expert))
    assert got.status_code == 200
    body = got.json()
    assert [c["label"] for c in body["criteria"]] == [c.label for c in rubric.CRITERIA]
    assert sum(c["weight"] for c in body["criteria"]) == 100
    assert (body["scale_min"], body["scale_max"], body["full_marks"]) == (0, 5, 100)
    assert [b["label"] for b in body["bands"]] == ["优秀", "良好", "一般", "较差"]


def test_assign_submit_once_and_list(client, loop, session):
    c = loop.cast
    topic = _topic(loop, session)
    r = client.post(f"/topics/{topic.id}/evaluations", json={"evaluator_id": c.expert.id})
    assert r.status_code == 201, r.text
    e = r.json()
    assert (e["evaluator"], e["status"], e["status_label"], e["overall"]) == (
        "吴工",
        "pending",
        "待提交",
        None,
    )
    again = client.post(f"/topics/{topic.id}/evaluations", json={"evaluator_id": c.expert.id})
    assert (
        again.status_code == 409
        and again.json()["detail"] == "吴工已受指派评估本议题，不能重复指派"
    )
    member = client.post(f"/topics/{topic.id}/evaluations", json={"evaluator_id": c.member.id})
    assert member.status_code == 422 and "只能指派专家或监督员" in member.json()["detail"]

    url = f"/evaluations/{e['id']}/submit"
    stranger = people.create_person(session, people.PersonCreate(name="郑专家", role=Role.EXPERT))
    session.commit()
    body = {"scores": SCORES, "comment": "措施落实到位"}
    r = client.post(url, json=body, headers=client.as_(stranger))
    assert r.status_code == 403 and "未受指派" in r.json()["detail"]
    missing = {k: v for k, v in SCORES.items() if k != "mechanism"}
    r = client.post(url, json={**body, "scores": missing}, headers=client.as_(c.expert))
    assert r.status_code == 422 and r.json()["detail"] == "请为“长效机制建立”评分（0–5 分）"
    r = client.post(
        url, json={**body, "scores": {**SCORES, "timeliness": 9}}, headers=client.as_(c.expert)
    )
    assert (
        r.status_code == 422 and r.json()["detail"] == "“工作时效”的评分应为 0–5 的整数，不能是 9"
    )
    r = client.post(url, json={**body, "comment": "  "}, headers=client.as_(c.expert))
    assert r.status_code == 422 and "总体评价意见" in r.json()["detail"]

    r = client.post(url, json=body, headers=client.as_(c.expert))
    assert r.status_code == 200, r.text
    assert (r.json()["overall"], r.json()["band"], r.json()["status"]) == (80, "良好", "submitted")
    r = client.post(url, json=body, headers=client.as_(c.expert))
    assert r.status_code == 409 and "不能再次提交" in r.json()["detail"]

    # The expert sees the topic he scores; the topic's evaluations list it with its score.
    listed = client.get(f"/topics/{topic.id}/evaluations", headers=client.as_(c.expert))
    assert listed.status_code == 200 and listed.json()["count"] == 1
    assert listed.json()["data"][0]["scores"] == SCORES
    chain = client.get(f"/topics/{topic.id}/chain").json()
    assert [n["summary"] for n in chain["evaluation"]] == ["吴工第三方评估：80 分（良好）"]
    assert client.get(f"/topics/{topic.id}/kpis").json()["evaluation_score"] == 80.0
    assert session.exec(select(Evaluation)).one().overall == 80


def test_closing_names_who_is_still_to_score_until_withdrawn(client, loop, session):
    c = loop.cast
    topic = _topic(loop, session)
    e = client.post(f"/topics/{topic.id}/evaluations", json={"evaluator_id": c.expert.id}).json()
    r = client.post(
        f"/topics/{topic.id}/ratings", json={"score": 5}, headers=client.as_(c.resident)
    )
    assert r.status_code == 201
    close = client.post(f"/topics/{topic.id}/assessment/close", json={"summary": "评估办结"})
    assert close.status_code == 409
    assert close.json()["detail"].startswith(
        "尚有 1 份第三方评估未提交（待吴工评分），不能办结评估"
    )
    blank = client.post(f"/evaluations/{e['id']}/withdraw", json={"reason": " "})
    assert blank.status_code == 422
    r = client.post(f"/evaluations/{e['id']}/withdraw", json={"reason": "专家因病无法评估"})
    assert r.status_code == 200 and r.json()["status_label"] == "已撤回"
    assert r.json()["withdraw_reason"] == "专家因病无法评估"
    r = client.post(f"/evaluations/{e['id']}/withdraw", json={"reason": "再撤一次"})
    assert r.status_code == 409
    close = client.post(f"/topics/{topic.id}/assessment/close", json={"summary": "评估办结"})
    assert close.status_code == 201, close.text
    session.expire_all()
    (audit,) = session.exec(select(AuditEvent).where(AuditEvent.action == "evaluator_withdrawn"))
    assert audit.actor_id == c.admin.id and audit.detail["reason"] == "专家因病无法评估"
