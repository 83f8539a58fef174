"""The office's page of one item, over HTTP (no browser): reassign a returned item, arbitrate
one returned again and again, review the plan, decide an extension, move the deadline and
record the re-check — each a plain form post calling the API's operation, a refusal beside
its field with what was typed kept and nothing written, and the links in the office's
messages leading to it."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlparse

from sqlmodel import Session, select

from config.links import action
from models import extensions, rectification
from models.enums import DeclineCode, ExtensionDecision, ItemStatus, PlanStatus, Stage
from models.tables import Notification, Plan, RectificationItem
from tests.conftest import ANONYMOUS
from tests.pages.conftest import sign_in_client


class Office:
    """The office's administrator in a browser-like client: signed in, posting forms."""

    def __init__(self, client, session: Session, person) -> None:  # type: ignore[no-untyped-def]
        self.csrf = sign_in_client(client, session, person, "office-wang")
        self.client = client

    def get(self, path: str, **kw):  # type: ignore[no-untyped-def]
        return self.client.get(path, headers=ANONYMOUS, **kw)

    def post(self, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
        return self.client.post(
            path, data={**data, "csrf_token": self.csrf}, headers=ANONYMOUS, follow_redirects=False
        )

    def after(self, r) -> str:  # type: ignore[no-untyped-def]
        """The page the decision redirected to, with its one-time message."""
        assert r.status_code == 303, r.text
        return self.get(r.headers["location"]).text


def _decline(session: Session, item: RectificationItem, by: int, reason: str) -> None:
    rectification.decline(
        session,
        item.id,  # type: ignore[arg-type]
        rectification.DeclineIn(code=DeclineCode.NOT_OUR_DUTY, reason=reason),
        by=by,
    )
    session.commit()


def _refresh(session: Session, row):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(type(row), row.id)


def test_a_returned_item_is_reassigned_and_then_arbitrated_from_its_page(client, loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    topic = loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
    item = loop.items(topic)[1]  # 城南街道's (周婷)
    _decline(session, item, c.other_officer.id, "道路养护属区住建局职责")
    office = Office(client, session, c.admin)

    shown = office.get(f"/admin/items/{item.id}")
    assert shown.status_code == 200
    assert "道路养护属区住建局职责" in shown.text and "非本单位职责" in shown.text  # 退回记录
    assert f'action="/admin/items/{item.id}/reassign"' in shown.text
    assert "/arbitrate" not in shown.text  # one return: reassigned, not arbitrated

    refused = office.post(f"/admin/items/{item.id}/reassign", {"officer_id": ""})
    assert refused.status_code == 422 and 'id="e-officer_id">请选择新的责任人' in refused.text
    assert _refresh(session, item).status == ItemStatus.DECLINED

    done = office.post(f"/admin/items/{item.id}/reassign", {"officer_id": str(c.officer.id)})
    assert "已改派，新的牵头单位将收到签收通知。" in office.after(done)
    moved = _refresh(session, item)
    assert moved.status == ItemStatus.TRANSFERRED and moved.officer_id == c.officer.id
    assert moved.lead_department_id == c.dept_id  # the officer's department leads it

    # 区住建局 returns it too: the second return goes to the office to decide, finally.
    _decline(session, moved, c.officer.id, "涉及街道管辖的公共区域")
    shown = office.get(f"/admin/items/{item.id}")
    assert "裁定牵头单位" in shown.text and "/reassign" not in shown.text
    no_note = office.post(
        f"/admin/items/{item.id}/arbitrate", {"officer_id": str(c.other_officer.id), "note": ""}
    )
    assert no_note.status_code == 422 and "请填写裁定意见" in no_note.text
    assert f'<option value="{c.other_officer.id}" selected' in no_note.text  # the choice stays
    decided = office.post(
        f"/admin/items/{item.id}/arbitrate",
        {"officer_id": str(c.other_officer.id), "note": "依据区政府职责分工文件，由街道牵头"},
    )
    assert "已裁定牵头单位" in office.after(decided)
    final = _refresh(session, item)
    assert final.arbitrated_at is not None and final.lead_department_id == c.other_dept_id


def test_the_plan_and_an_extension_are_decided_on_the_items_page(client, loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
    item = loop.items(topic)[0]
    loop.plan(item)
    plan = session.exec(select(Plan).where(Plan.item_id == item.id)).one()
    wanted = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=200)
    line = extensions.request(
        session,
        item.id,  # type: ignore[arg-type]
        extensions.ExtensionRequestIn(deadline=wanted, reason="施工季节受限，需顺延"),
        by=item.officer_id,
    )
    session.commit()
    office = Office(client, session, c.admin)

    # The addresses in the office's messages lead to this page, at the form.
    for name, ids, anchor in (
        ("plan.review", {"plan_id": plan.id}, "#review_plan"),
        ("extension.approve", {"extension_id": line.id}, "#decide_extension"),
    ):
        opened = office.get(urlparse(action(name, **ids)).path, follow_redirects=False)
        assert opened.status_code == 303
        assert opened.headers["location"] == f"/admin/items/{item.id}{anchor}"

    returned = office.post(
        f"/admin/items/{item.id}/plan-review",
        {"plan_id": str(plan.id), "decision": "return", "note": ""},
    )
    assert returned.status_code == 422 and "退回修改须写明意见" in returned.text
    assert _refresh(session, plan).status == PlanStatus.SUBMITTED
    approved = office.post(
        f"/admin/items/{item.id}/plan-review", {"plan_id": str(plan.id), "decision": "approve"}
    )
    assert "方案已审核通过。" in office.after(approved)
    assert _refresh(session, plan).status == PlanStatus.APPROVED

    refusal = office.post(
        f"/admin/items/{item.id}/extension-decision",
        {"extension_id": str(line.id), "decision": "refuse", "comment": ""},
    )
    assert refusal.status_code == 422 and 'id="e-comment"' in refusal.text
    assert _refresh(session, line).decision == ExtensionDecision.PENDING
    before = _refresh(session, item).deadline
    granted = office.post(
        f"/admin/items/{item.id}/extension-decision",
        {"extension_id": str(line.id), "decision": "approve", "comment": "同意"},
    )
    page = office.after(granted)
    assert "已批准延期，整改期限已调整。" in page and "已批准" in page
    after = _refresh(session, item)
    assert after.deadline > before and after.deadline.date() >= wanted - dt.timedelta(days=1)

    # A colleague's stale form for the same request: refused, nothing changes, and the
    # decision form is gone from the page that says why.
    stale = office.post(
        f"/admin/items/{item.id}/extension-decision",
        {"extension_id": str(line.id), "decision": "refuse", "comment": "不同意延期"},
    )
    assert stale.status_code == 409 and 'class="form-error"' in stale.text
    assert "/extension-decision" not in stale.text
    assert _refresh(session, line).decision == ExtensionDecision.APPROVED


def test_the_recheck_is_recorded_on_the_items_page(client, loop, session):  # type: ignore[no-untyped-def]
    c = loop.cast
    topic = loop.advance(loop.topic(), to=Stage.IMPLEMENTATION, start=True)
    item = loop.items(topic)[0]
    loop.plan(item)
    loop.complete(item)
    session.commit()
    office = Office(client, session, c.admin)
    shown = office.get(f"/admin/items/{item.id}")
    assert "回头看" in shown.text and "现场照片.png" in shown.text  # the evidence is listed

    unsure = office.post(f"/admin/items/{item.id}/recheck", {"rebound": "", "note": "已到现场"})
    assert unsure.status_code == 422 and "请选择回头看结论" in unsure.text
    assert "已到现场" in unsure.text  # what was typed stays
    done = office.post(
        f"/admin/items/{item.id}/recheck", {"rebound": "yes", "note": "路面再次出现坑洼"}
    )
    page = office.after(done)
    assert "回头看发现反弹" in page and "/recheck" not in page
    assert _refresh(session, item).rebound is True
    again = session.exec(
        select(RectificationItem).where(RectificationItem.reopened_from_id == item.id)
    ).one()
    assert f'href="/admin/items/{again.id}"' in page  # the rework, one click away
    rework = office.get(f"/admin/items/{again.id}").text
    assert "回头看反弹 · 重新交办" in rework and "待签收" in rework
    told = session.exec(select(Notification).where(Notification.template == "rebound")).all()
    assert {n.recipient for n in told} >= {"role-administrator"} and len(told) >= 2


def test_only_the_office_opens_an_items_office_page(client, loop, session):  # type: ignore[no-untyped-def]
    topic = loop.advance(loop.topic(), to=Stage.TRANSFER, start=True)
    item = loop.items(topic)[0]
    sign_in_client(client, session, loop.cast.officer, "officer-li")
    refused = client.get(f"/admin/items/{item.id}", headers=ANONYMOUS)
    assert refused.status_code == 403 and "协商办工作人员" in refused.text
    assert re.search(r"<h1>\S+</h1>", refused.text)
