"""One-time links as their people use them: an officer signs for an item from the message,
a resident rates without an account; a link works once, for one person, until it expires."""

from __future__ import annotations

import datetime as dt
import re

from sqlmodel import select

from models import action_links
from models.enums import Stage
from models.tables import ActionLink, Notification, RectificationItem
from tests.conftest import ANONYMOUS


def _token(notification: Notification) -> str:
    link = notification.payload["link"]
    assert "/act/" in link and link in notification.body
    return link.rsplit("/act/", 1)[1]


def test_an_officer_signs_for_an_item_from_the_message_once(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    session.commit()
    c = loop.cast
    item = loop.items(topic)[0]
    message = session.exec(
        select(Notification).where(
            Notification.template == "transfer", Notification.recipient == c.officer.tag
        )
    ).first()
    assert "一键签收（无需登录，仅限本人使用一次）" in message.body
    token = _token(message)
    # The department's copy carries no personal link.
    dept_copy = session.exec(
        select(Notification).where(
            Notification.template == "transfer", Notification.recipient != c.officer.tag
        )
    ).first()
    assert "/act/" not in dept_copy.body

    seen = client.get(f"/act/{token}", headers=ANONYMOUS)
    assert seen.status_code == 200
    assert seen.json()["label"] == "签收整改事项" and seen.json()["person"] == c.officer.name
    assert session.get(RectificationItem, item.id).status == "transferred"  # reading did not act

    done = client.post(f"/act/{token}", headers=ANONYMOUS)
    assert done.status_code == 200, done.text
    assert done.json()["message"] == "已签收，请于期限内报送整改方案"
    session.expire_all()
    acknowledged = session.get(RectificationItem, item.id)
    assert acknowledged.status == "acknowledged" and acknowledged.acknowledged_by_id == c.officer.id

    again = client.post(f"/act/{token}", headers=ANONYMOUS)
    assert again.status_code == 409 and "只能使用一次" in again.json()["detail"]
    altered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    r = client.post(f"/act/{altered}", headers=ANONYMOUS)
    assert r.status_code == 404 and "被改动过" in r.json()["detail"]


def test_a_refused_action_leaves_the_link_usable(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    item = loop.items(topic)[0]
    link, token = action_links.issue(session, loop.cast.officer.id, "item.acknowledge", item.id)
    from models import rectification

    rectification.acknowledge(session, item.id, by=loop.cast.officer.id)  # signed already
    session.commit()
    r = client.post(f"/act/{token}", headers=ANONYMOUS)
    assert r.status_code == 409 and "不能签收" in r.json()["detail"]
    session.expire_all()
    assert session.get(ActionLink, link.id).used_at is None


def test_links_expire_and_can_be_revoked(client, loop, session, time_machine):
    time_machine.move_to(dt.datetime(2026, 12, 2, 9, tzinfo=dt.UTC), tick=False)
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    item = loop.items(topic)[0]
    link, token = action_links.issue(session, loop.cast.officer.id, "item.acknowledge", item.id)
    session.commit()
    assert (
        action_links.issue(session, loop.cast.officer.id, "item.acknowledge", item.id)[1] == token
    )

    r = client.post(f"/action-links/{link.id}/revoke")
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    r = client.post(f"/act/{token}", headers=ANONYMOUS)
    assert r.status_code == 410 and "已被撤销" in r.json()["detail"]

    _, fresh = action_links.issue(session, loop.cast.officer.id, "item.acknowledge", item.id)
    session.commit()
    assert fresh != token
    time_machine.move_to(dt.datetime(2026, 12, 17, 9, tzinfo=dt.UTC), tick=False)
    r = client.get(f"/act/{fresh}", headers=ANONYMOUS)
    assert r.status_code == 410 and "过期" in r.json()["detail"]
    revoke = client.post(f"/action-links/{link.id}/revoke", headers=client.as_(loop.cast.officer))
    assert revoke.status_code == 403


def test_a_resident_rates_through_the_link_without_an_account(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.ASSESSMENT, start=True)
    session.commit()
    c = loop.cast
    message = session.exec(
        select(Notification).where(
            Notification.template == "rating_request", Notification.recipient == c.resident.tag
        )
    ).first()
    token = _token(message)
    r = client.post(f"/act/{token}", json={"score": 9}, headers=ANONYMOUS)
    assert r.status_code == 422 and r.json()["field"] == "score"
    r = client.post(f"/act/{token}", json={}, headers=ANONYMOUS)
    assert r.status_code == 422 and "1–5 分" in r.json()["detail"]
    r = client.post(f"/act/{token}", json={"score": 4, "comment": "电梯装好了"}, headers=ANONYMOUS)
    assert r.status_code == 200, r.text
    ratings = client.get(f"/topics/{topic.id}/ratings").json()["data"]
    assert [(x["person_id"], x["score"]) for x in ratings] == [(c.resident.id, 4)]
    assert client.post(f"/act/{token}", json={"score": 1}, headers=ANONYMOUS).status_code == 409


def test_a_browser_gets_the_links_page_and_a_post_from_elsewhere_uses_nothing(
    client, loop, session
):
    """One address, two answers: the page for a browser, JSON for an API client. The page's
    form carries a nonce only a page rendered here holds; a post without it, or one a browser
    marks as sent from another site, does not use the link."""
    topic = loop.topic()
    loop.advance(topic, to=Stage.TRANSFER, start=True)
    item = loop.items(topic)[0]
    link, token = action_links.issue(session, loop.cast.officer.id, "item.acknowledge", item.id)
    session.commit()
    browser = {**ANONYMOUS, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    page = client.get(f"/act/{token}", headers=browser)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<h1>签收整改事项</h1>" in page.text and item.title in page.text
    nonce = re.search(r'name="form_nonce" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    api = client.get(f"/act/{token}", headers={**ANONYMOUS, "Accept": "application/json"})
    assert api.status_code == 200 and api.json()["label"] == "签收整改事项"

    forged = client.post(f"/act/{token}", data={"form_nonce": "1.x"}, headers=ANONYMOUS)
    assert forged.status_code == 403 and "再次提交" in forged.text
    cross = client.post(
        f"/act/{token}",
        data={"form_nonce": nonce},
        headers={**ANONYMOUS, "Sec-Fetch-Site": "cross-site"},
    )
    assert cross.status_code == 403 and "从通知里的链接打开本页" in cross.text
    session.expire_all()
    assert session.get(ActionLink, link.id).used_at is None
    assert session.get(RectificationItem, item.id).status == "transferred"

    done = client.post(f"/act/{token}", data={"form_nonce": nonce}, headers=ANONYMOUS)
    assert done.status_code == 200 and "已签收，请于期限内报送整改方案" in done.text
    again = client.get(f"/act/{token}", headers=browser)
    assert (
        again.status_code == 409 and "只能使用一次" in again.text and "<h1>链接已使用" in again.text
    )
