"""The outbox key in the database, and what administrators do with undelivered messages."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from models.case import queue
from models.enums import NotificationStatus
from models.tables import Notification


def _stage(session, recipients=("person-a", "person-b")) -> list[Notification]:
    queue(
        session,
        event_key="item:1:plan_reviewed",
        recipients=recipients,
        template="plan_reviewed",
        topic_id=None,
        item={"title": "背街小巷照明", "id": 1},
        approved=False,
        note="措施不具体",
    )
    session.flush()
    return list(session.exec(select(Notification).order_by(Notification.id)))


def test_the_key_is_unique_in_the_database_itself(session):
    (row,) = _stage(session, recipients=("person-a",))
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            Notification(
                event_key=row.event_key,
                recipient=row.recipient,
                channel=row.channel,
                template="x",
                title="x",
                body="x",
            )
        )
        session.flush()
    assert len(_stage(session)) == 2  # staging again only adds the new recipient


def test_administrator_lists_undelivered_then_gives_up_or_resends(client, session, loop):
    sent, failed = _stage(session)
    sent_id, failed_id = sent.id, failed.id
    sent.status = NotificationStatus.SENT
    failed.status = NotificationStatus.FAILED
    failed.attempts = 7
    failed.last_error = "json://127.0.0.1/ 连接被拒绝"
    session.commit()  # a savepoint here: each request rolls back what it did not commit

    listed = client.get("/notifications/undelivered").json()["data"]
    assert [(n["id"], n["status"], n["attempts"]) for n in listed] == [(failed_id, "failed", 7)]
    assert listed[0]["last_error"] == "json://127.0.0.1/ 连接被拒绝"

    refused = client.post(
        f"/notifications/{failed_id}/give-up", headers=client.as_(loop.cast.officer)
    )
    assert refused.status_code == 403 and "无权处理未送达通知" in refused.json()["detail"]
    gave_up = client.post(f"/notifications/{failed_id}/give-up")
    assert gave_up.status_code == 200 and gave_up.json()["status"] == "abandoned"
    assert client.get("/notifications/undelivered").json() == {"data": [], "count": 0}

    again = client.post(f"/notifications/{failed_id}/resend").json()
    assert again["status"] == "pending" and again["attempts"] == 0
    conflict = client.post(f"/notifications/{sent_id}/give-up")
    assert conflict.status_code == 409
