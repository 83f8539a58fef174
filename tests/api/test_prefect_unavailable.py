"""When Prefect cannot be reached, starting a stage answers 503 and writes nothing."""

from __future__ import annotations

from prefect.settings import PREFECT_API_URL, PREFECT_CLIENT_MAX_RETRIES, temporary_settings
from sqlmodel import select

from models.enums import StageState, TopicStatus
from models.tables import StageRun


def test_stage_start_without_prefect_is_503_and_nothing_written(client, loop, session):
    topic = loop.topic()
    session.commit()
    with temporary_settings(
        {PREFECT_API_URL: "http://127.0.0.1:9/api", PREFECT_CLIENT_MAX_RETRIES: 0}
    ):
        r = client.post(f"/topics/{topic.id}/stages/topic")
        assert r.status_code == 503
        assert "流程引擎（Prefect）暂不可用" in r.json()["detail"]
        r = client.get(f"/topics/{topic.id}/runs")
        assert r.status_code == 503
    assert session.exec(select(StageRun)).all() == []
    session.refresh(topic)
    assert topic.status == TopicStatus.DRAFT and topic.stage_state == StageState.NOT_STARTED
