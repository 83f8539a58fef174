"""The item page's forms over HTTP (no browser): a refused form writes nothing and says why
beside the field, keeping what was typed; a person outside the department is refused, naming
who may."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import select

from models import accounts
from models.deadlines import local_today
from models.enums import Stage
from models.tables import Plan
from tests.conftest import ANONYMOUS
from tests.pages.conftest import PASSWORD


def test_an_item_form_that_is_refused_writes_nothing_and_says_why(client, loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
    item = next(i for i in loop.items(topic) if i.officer_id == c.officer.id)
    accounts.set_password(session, c.officer.id, "liqiang", PASSWORD)
    session.commit()
    signed = client.post(
        "/login",
        data={"login": "liqiang", "password": PASSWORD, "next": "/work"},
        headers=ANONYMOUS,
        follow_redirects=False,
    )
    assert signed.status_code == 303
    address = f"/work/items/{item.id}/plan"
    plan = {
        "target": "按期完成",
        "measures": "联合审批，每周调度",
        "deadline": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
        "responsible_id": str(c.officer.id),
        "csrf_token": client.cookies["xs_csrf"],
    }

    def post(data: dict[str, str], to: str = address) -> Any:
        return client.post(to, data=data, headers=ANONYMOUS, follow_redirects=False)

    def plans() -> int:
        return len(session.exec(select(Plan).where(Plan.item_id == item.id)).all())

    assert post({**plan, "csrf_token": "x" * 40}).status_code == 403
    after_item = (local_today(item.deadline) + dt.timedelta(days=1)).isoformat()
    late = post({**plan, "deadline": after_item})
    assert late.status_code == 422 and 'id="e-deadline"' in late.text
    assert "不能晚于事项整改期限" in late.text and "联合审批，每周调度</textarea>" in late.text
    stranger = post({**plan, "responsible_id": str(c.other_officer.id)})
    assert stranger.status_code == 422 and "请从牵头单位的人员中选择责任人" in stranger.text
    returned = post(
        {"code": "other", "reason": "不归我们管", "csrf_token": plan["csrf_token"]},
        f"/work/items/{item.id}/decline",
    )
    assert returned.status_code == 409 and "不能退回整改事项" in returned.text
    assert plans() == 0

    ok = post(plan)
    assert ok.status_code == 303 and ok.headers["location"] == f"/work/items/{item.id}"
    assert plans() == 1
    again = post(plan)  # a second version must say why the plan changes
    assert again.status_code == 422 and 'id="e-adjust_reason"' in again.text
    assert plans() == 1

    accounts.set_password(session, c.admin.id, "wangmin", PASSWORD)
    session.commit()
    client.cookies.clear()
    client.post("/login", data={"login": "wangmin", "password": PASSWORD}, headers=ANONYMOUS)
    refused = client.get(f"/work/items/{item.id}", headers=ANONYMOUS)
    assert refused.status_code == 403 and "区住建局负责人" in refused.text
    listing = client.get("/work/items", headers=ANONYMOUS)
    assert listing.status_code == 403 and "可办理的是" in listing.text
