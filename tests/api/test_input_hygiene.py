"""Input a person or a script could send by mistake (or on purpose) is refused with the field's
name and a zh-CN reason, before it reaches the database: empty text, loose types, unknown fields,
numbers no backend can store."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

from models.enums import Stage
from models.tables import ProgressUpdate, RectificationItem, Topic

TOO_BIG = 2**63  # one more than any backend's largest id


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _refused(r, field: str) -> str:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["errors"][0]["field"] == field, body
    return body["detail"]


@pytest.mark.parametrize("title", ["     ", " \t\n\u3000 ", "\u3000\u3000"])
def test_blank_titles_are_refused(client, session, title):
    before = _count(session, Topic)
    detail = _refused(client.post("/topics", json={"title": title, "source": "public"}), "title")
    assert "不能为空" in detail
    assert _count(session, Topic) == before


def test_text_is_stored_without_surrounding_blanks(client):
    r = client.post("/topics", json={"title": "\u3000 加装电梯 \n", "source": "public"})
    assert r.status_code == 201 and r.json()["title"] == "加装电梯"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"urgent": "yes"}, "urgent"),
        ({"urgent": 1}, "urgent"),
        ({"important": "true"}, "important"),
        ({"proposer_id": "3"}, "proposer_id"),
        ({"proposer_id": True}, "proposer_id"),
        ({"proposer_id": TOO_BIG}, "proposer_id"),
        ({"proposer_id": 0}, "proposer_id"),
    ],
)
def test_loose_types_and_impossible_ids_are_refused(client, session, body, field):
    before = _count(session, Topic)
    _refused(client.post("/topics", json={"title": "加装电梯", "source": "public", **body}), field)
    assert _count(session, Topic) == before


@pytest.mark.parametrize("field", ["status", "stage", "approved_by_id", "id"])
def test_fields_the_loop_sets_cannot_be_sent(client, session, field):
    """No mass assignment: a proposer cannot declare the topic approved or pick its id."""
    before = _count(session, Topic)
    r = client.post("/topics", json={"title": "加装电梯", "source": "public", field: "approved"})
    assert "不是可填写的字段" in _refused(r, field)
    assert _count(session, Topic) == before


@pytest.mark.parametrize(
    "path",
    [
        f"/topics/{TOO_BIG}",
        f"/items/{TOO_BIG}",
        f"/topics/{TOO_BIG}/items",
        "/topics?offset=99999999999999999999",
        "/people?limit=100000",
        "/topics/0",
    ],
)
def test_out_of_range_numbers_in_paths_and_queries_are_422(client, path):
    r = client.get(path)
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_progress_percent_must_be_a_number_not_a_flag(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.IMPLEMENTATION, start=True)
    session.commit()
    item = session.exec(
        select(RectificationItem).where(RectificationItem.topic_id == topic.id)
    ).first()
    before = _count(session, ProgressUpdate)
    officer = client.as_(loop.cast.officer)
    body = {"note": "已完成方案设计", "percent": True}
    _refused(client.post(f"/items/{item.id}/progress", json=body, headers=officer), "percent")
    body = {"note": "   ", "percent": 30}
    _refused(client.post(f"/items/{item.id}/progress", json=body, headers=officer), "note")
    # Nobody acts in another's name: the acting person comes from the credentials only.
    body = {"by": item.officer_id, "note": "已完成方案设计", "percent": 30}
    _refused(client.post(f"/items/{item.id}/progress", json=body, headers=officer), "by")
    assert _count(session, ProgressUpdate) == before


def test_bodies_that_are_not_json_or_not_utf8_are_refused_in_chinese(client):
    headers = {"content-type": "application/json"}
    r = client.post(
        "/topics", content=b'{"title": "\xff\xfe", "source": "public"}', headers=headers
    )
    assert r.status_code in (400, 422), r.text
    assert "UTF-8" in r.json()["detail"] or "JSON" in r.json()["detail"]
    r = client.post("/topics", content='{"title": "加装电梯", "source": '.encode(), headers=headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "body"
    assert "JSON" in r.json()["detail"]


def test_wrong_method_and_unknown_address_answer_in_chinese(client):
    r = client.delete("/topics")
    assert r.status_code == 405 and r.json()["detail"] == "该地址不支持此请求方法"
    r = client.get("/no-such-page")
    assert r.status_code == 404 and r.json()["detail"] == "未找到该地址"


def test_openapi_documents_the_error_shape_the_api_answers_with(client):
    schema = client.get("/openapi.json").json()
    answer = schema["paths"]["/topics"]["post"]["responses"]["422"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error = client.post("/topics", json={"source": "public"}).json()
    assert set(error) <= set(schema["components"]["schemas"]["ErrorOut"]["properties"])


def _to_session_stage(loop, session):
    """A topic whose session stage is being prepared (its previous stages done)."""
    topic = loop.topic()
    loop.advance(topic, to=Stage.PRESTUDY, start=True)
    loop.finish(topic, Stage.PRESTUDY)
    session.commit()
    return topic


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {"form": "thematic", "starts_at": "2020-05-01T09:00:00+08:00", "place": "议事厅"},
            "starts_at",
            "不能早于现在",
        ),
        (
            {"form": "thematic", "starts_at": "2031-05-01T09:00:00", "place": "议事厅"},
            "starts_at",
            "时区",
        ),
        ({"form": "online", "starts_at": "2031-05-01T09:00:00+08:00"}, "ends_at", "结束时间"),
        (
            {
                "form": "thematic",
                "starts_at": "2031-05-01T09:00:00+08:00",
                "ends_at": "2031-05-01T08:00:00+08:00",
                "place": "议事厅",
            },
            "ends_at",
            "晚于开始",
        ),
        ({"form": "thematic", "starts_at": "2031-05-01T09:00:00+08:00"}, "place", "地点"),
    ],
)
def test_session_rules_name_the_field_at_fault(client, loop, session, body, field, reason):
    topic = _to_session_stage(loop, session)
    r = client.post(f"/topics/{topic.id}/sessions", json=body)
    assert reason in _refused(r, field)
    assert client.get(f"/topics/{topic.id}/sessions").json()["count"] == 0


def test_a_consensus_without_suggestions_names_the_suggestions(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.SESSION, start=True)
    session.commit()
    meeting = client.get(f"/topics/{topic.id}/sessions").json()["data"][0]
    r = client.post(
        f"/sessions/{meeting['id']}/conclude",
        json={"consensus_reached": True, "summary": "形成共识", "suggestions": []},
    )
    assert "至少一条意见建议" in _refused(r, "suggestions")


def test_a_plan_or_an_extension_in_the_past_is_refused(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.IMPLEMENTATION, start=True)
    session.commit()
    item = loop.items(topic)[0]
    officer = client.as_(loop.cast.officer)
    client.post(f"/items/{item.id}/acknowledge", headers=officer)
    past = "2020-01-10"
    plan = {
        "target": "按期完成",
        "measures": "逐项落实",
        "deadline": past,
        "responsible_id": item.officer_id,
    }
    r = client.post(f"/items/{item.id}/plan", json=plan, headers=officer)
    assert "不能早于今天" in _refused(r, "deadline")
    r = client.post(f"/items/{item.id}/extend", json={"deadline": past, "reason": "天气原因"})
    assert "须晚于今天" in _refused(r, "deadline")
    assert client.get(f"/items/{item.id}/plans").json()["count"] == 0


def test_a_bulletin_action_read_with_get_is_405_not_a_bad_id(client):
    """`/bulletins/monthly` is an action (POST); reading it is the wrong method, not an id."""
    r = client.get("/bulletins/monthly")
    assert r.status_code == 405 and r.json()["detail"] == "该地址不支持此请求方法"
    assert client.get("/bulletins/424242").status_code == 404


def test_the_longest_reason_a_decision_takes_is_kept_whole(client, loop, session):
    """A reason as long as the request allows is stored, not cut and not refused by the
    database (PostgreSQL enforces a column's length; SQLite does not)."""
    c = loop.cast
    long_reason = "理由" * 500  # 1000 characters, the most a rejection or a return takes
    topic = loop.topic(title="老旧小区屋面防水")
    loop.run_stage(topic, Stage.TOPIC)
    session.commit()
    approver = client.as_(c.approver)
    r = client.post(f"/topics/{topic.id}/reject", json={"reason": long_reason}, headers=approver)
    assert r.status_code == 200, r.text
    assert client.get(f"/topics/{topic.id}").json()["status_reason"] == long_reason

    other = loop.advance(loop.topic(title="背街小巷路灯"), to=Stage.REPORT, start=True)
    session.commit()
    report = client.get(f"/topics/{other.id}/report").json()
    r = client.post(
        f"/reports/{report['id']}/return", json={"reason": long_reason}, headers=approver
    )
    assert r.status_code == 200, r.text
    assert r.json()["return_reason"] == long_reason
