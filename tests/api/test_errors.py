"""Bad input gets 422/404/409 with a readable reason, and nothing is half-written."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from models.enums import Stage
from models.tables import (
    AuditEvent,
    Opinion,
    Participant,
    Person,
    RectificationItem,
    Suggestion,
    Topic,
)


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def test_create_topic_validation_names_the_field(client, session):
    before = _count(session, Topic)
    r = client.post("/topics", json={"title": "加装电梯", "source": "somewhere"})
    assert r.status_code == 422
    body = r.json()
    assert body["errors"][0]["field"] == "source"
    assert "source" in body["detail"]
    r = client.post("/topics", json={"source": "public"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "title"
    assert _count(session, Topic) == before


def test_unknown_ids_are_404_in_chinese(client, loop):
    r = client.get("/topics/999999")
    assert r.status_code == 404 and r.json()["detail"] == "议题 999999 不存在"
    r = client.post("/items/424242/acknowledge", headers=client.as_(loop.cast.officer))
    assert r.status_code == 404 and "整改事项" in r.json()["detail"]
    r = client.get("/items/424242/plans")
    assert r.status_code == 404 and r.json()["detail"] == "整改事项 424242 不存在"


def test_stage_out_of_order_is_409_with_gate_reason(client, loop, session):
    topic = loop.topic()
    session.commit()
    r = client.post(f"/topics/{topic.id}/stages/{Stage.SESSION.value}")
    assert r.status_code == 409
    assert r.json()["detail"] == "未完成商前调研，不能开展协商（不调研不协商）"
    r = client.post(f"/topics/{topic.id}/stages/subject")
    assert r.status_code == 409 and "审定" in r.json()["detail"]
    r = client.post(f"/topics/{topic.id}/stages/nonsense")
    assert r.status_code == 422


def test_participants_all_or_nothing(client, loop, session):
    topic = loop.topic()
    loop.run_stage(topic, Stage.TOPIC)
    loop.finish(topic, Stage.TOPIC)
    session.commit()
    audits = _count(session, AuditEvent)
    r = client.post(
        f"/topics/{topic.id}/participants",
        json={
            "participants": [
                {"person_id": loop.cast.resident.id, "role": "resident"},
                {"person_id": 98765, "role": "expert"},
            ]
        },
    )
    assert r.status_code == 404
    assert _count(session, Participant) == 0
    assert _count(session, AuditEvent) == audits
    r = client.post(
        f"/topics/{topic.id}/participants",
        json={"participants": [{"person_id": loop.cast.resident.id, "role": "resident"}]},
    )
    assert r.status_code == 201
    r = client.post(
        f"/topics/{topic.id}/participants",
        json={"participants": [{"person_id": loop.cast.resident.id, "role": "resident"}]},
    )
    assert r.status_code == 409 and "已在协商主体名单中" in r.json()["detail"]


def test_conclude_with_foreign_opinion_writes_nothing(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.SESSION, start=True)
    session.commit()
    meeting = client.get(f"/topics/{topic.id}/sessions").json()["data"][0]
    part = client.get(f"/topics/{topic.id}/participants").json()["data"][0]
    r = client.post(
        f"/sessions/{meeting['id']}/opinions",
        json={"opinions": [{"participant_id": part["id"], "content": "同意补贴"}]},
    )
    assert r.status_code == 201
    r = client.post(
        f"/sessions/{meeting['id']}/conclude",
        json={
            "consensus_reached": True,
            "summary": "形成共识",
            "suggestions": [
                {"content": "落实补贴", "opinion_ids": [r.json()["data"][0]["id"]]},
                {"content": "另一条", "opinion_ids": [555555]},
            ],
        },
    )
    assert r.status_code == 422 and r.json()["field"] == "opinion_ids"
    assert _count(session, Suggestion) == 0
    assert client.get(f"/sessions/{meeting['id']}").json()["status"] == "scheduled"
    assert _count(session, Opinion) == 1


def test_consensus_requires_suggestions(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.SESSION, start=True)
    session.commit()
    meeting = client.get(f"/topics/{topic.id}/sessions").json()["data"][0]
    r = client.post(
        f"/sessions/{meeting['id']}/conclude", json={"consensus_reached": True, "summary": "共识"}
    )
    assert r.status_code == 422 and "至少一条意见建议" in r.json()["detail"]


def test_wrong_person_cannot_acknowledge_and_state_is_unchanged(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    session.commit()
    item = client.get(f"/topics/{topic.id}/items").json()["data"][0]
    c = loop.cast
    r = client.post(f"/items/{item['id']}/acknowledge", headers=client.as_(c.resident))
    assert r.status_code == 403 and "无权办理整改事项" in r.json()["detail"]
    # Another department's officer is not told the item exists.
    r = client.post(f"/items/{item['id']}/acknowledge", headers=client.as_(c.other_officer))
    assert r.status_code == 404 and "整改事项" in r.json()["detail"]
    assert client.get(f"/items/{item['id']}").json()["status"] == "transferred"
    r = client.post(f"/items/{item['id']}/acknowledge", headers=client.as_(c.officer))
    assert r.status_code == 200 and r.json()["status"] == "acknowledged"
    assert session.get(RectificationItem, item["id"]).acknowledged_by_id == c.officer.id
    r = client.post(f"/items/{item['id']}/acknowledge", headers=client.as_(c.officer))
    assert r.status_code == 409 and "已签收" in r.json()["detail"]


def test_action_of_a_later_stage_is_refused(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.PRESTUDY, start=True)
    session.commit()
    r = client.post(
        f"/topics/{topic.id}/ratings", json={"score": 5}, headers=client.as_(loop.cast.resident)
    )
    assert r.status_code == 409
    assert "商前调研" in r.json()["detail"] and "评估质效" in r.json()["detail"]


def test_item_deadline_must_be_in_future_and_officer_of_lead_department(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.REPORT, start=True)
    loop.finish(topic, Stage.REPORT)
    session.commit()
    sugg = client.get(f"/topics/{topic.id}/suggestions").json()["data"][0]
    base = {
        "suggestion_id": sugg["id"],
        "title": "落实补贴",
        "lead_department_id": loop.cast.dept_id,
        "officer_id": loop.cast.officer.id,
        "deadline": "2020-01-01",
    }
    r = client.post(f"/topics/{topic.id}/items", json=base)
    assert r.status_code == 422 and r.json()["field"] == "deadline"
    r = client.post(
        f"/topics/{topic.id}/items",
        json={**base, "deadline": "2099-01-01", "officer_id": loop.cast.other_officer.id},
    )
    assert r.status_code == 422 and "不是牵头单位" in r.json()["detail"]
    assert client.get(f"/topics/{topic.id}/items").json() == {"data": [], "count": 0}


def test_reserved_notification_tags_are_refused(client, session):
    client.get("/people")  # signs the administrator in (his record exists from here on)
    before = _count(session, Person)
    for tag in ("person-3", "role-approver", "always"):
        r = client.post("/people", json={"name": "张三", "role": "resident", "tag": tag})
        assert r.status_code == 422 and "系统保留" in r.json()["detail"], tag
    r = client.post("/people", json={"name": "张三", "role": "resident", "tag": "zhangsan"})
    assert r.status_code == 201 and r.json()["tag"] == "zhangsan"
    r = client.post("/people", json={"name": "张三", "role": "resident", "tag": "zhangsan"})
    assert r.status_code == 409 and "已被占用" in r.json()["detail"]
    r = client.post("/people", json={"name": "李四", "role": "officer"})
    assert r.status_code == 422 and r.json()["field"] == "department_id"
    assert _count(session, Person) == before + 1
