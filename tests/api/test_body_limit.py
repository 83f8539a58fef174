"""An oversized request is refused whole (413, zh-CN) before the API reads it into memory."""

from __future__ import annotations

import json

from sqlmodel import func, select

from models.tables import Topic
from tests.conftest import ANONYMOUS


def _topics(session) -> int:  # type: ignore[no-untyped-def]
    return session.exec(select(func.count()).select_from(Topic)).one()


def test_a_body_over_the_limit_is_refused_and_nothing_is_written(client, session):
    before = _topics(session)
    big = {"title": "夜市噪声扰民", "source": "public", "description": "吵" * 600_000}
    r = client.post("/topics", json=big, headers=ANONYMOUS)
    assert r.status_code == 413
    assert r.json()["detail"] == "请求体过大：不能超过 1024 KB，本次未做任何修改"

    def chunks():  # no Content-Length: counted as it arrives
        yield '{"title": "夜市噪声扰民", "source": "public", "description": "'.encode()
        for _ in range(40):
            yield b"x" * 32_768
        yield b'"}'

    r = client.post(
        "/topics", content=chunks(), headers={**ANONYMOUS, "Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert _topics(session) == before
    ok = {"title": "夜市噪声扰民", "source": "public", "description": "吵" * 1000}
    r = client.post(
        "/topics", content=json.dumps(ok), headers={**ANONYMOUS, "Content-Type": "application/json"}
    )
    assert r.status_code == 201


def test_a_browsers_oversized_form_post_gets_a_page_not_json(client, session):
    """The same refusal, for a form a person sent: an HTML page in zh-CN he can read."""
    before = _topics(session)
    r = client.post(
        "/p/propose",
        content=b"title=" + b"x" * (1100 * 1024),
        headers={
            **ANONYMOUS,
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "text/html,application/xhtml+xml",
        },
    )
    assert r.status_code == 413 and r.headers["content-type"].startswith("text/html")
    assert "提交的内容过大：不能超过 1024 KB，本次未做任何修改" in r.text
    assert _topics(session) == before
