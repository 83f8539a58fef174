"""Every endpoint × every role (and no credentials): who gets in, who is refused (403), who is
asked to sign in (401); then, per record, who is told it does not exist (404).

The table below is written out by hand from the access rules a consultation office works by; it
is not derived from models.access, so a change to the policy that the table does not share
fails here. A new route fails too until it is entered in the table."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel import select

from models import people
from models.enums import Role, Stage
from models.tables import (
    ConsultationSession,
    Department,
    Notification,
    Participant,
    Person,
    Plan,
    Report,
    ResearchTask,
)
from tests.conftest import ANONYMOUS

PUBLIC = "public"
ALL = {r.value for r in Role}
STAFF = ALL - {"resident"}
ADMIN = {"administrator"}
OVERSEERS = {"administrator", "supervisor"}
IMPORTERS = {"administrator", "officer", "department_head"}  # 台账: the office and departments

# (method, path) → who may call it (function level). PUBLIC: also without credentials.
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("GET", "/health"): {PUBLIC} | ALL,
    ("GET", "/act/{token}"): {PUBLIC} | ALL,
    ("POST", "/act/{token}"): {PUBLIC} | ALL,
    ("POST", "/action-links/{link_id}/revoke"): ADMIN,
    ("GET", "/ready"): {PUBLIC} | ALL,
    ("POST", "/auth/token"): {PUBLIC} | ALL,
    ("POST", "/auth/sign-in"): {PUBLIC} | ALL,
    ("POST", "/auth/sign-out"): ALL,
    ("GET", "/auth/me"): ALL,
    ("POST", "/departments"): ADMIN,
    ("GET", "/departments"): ALL,
    ("POST", "/people"): ADMIN,
    ("GET", "/people"): STAFF,
    ("GET", "/people/{person_id}"): STAFF,
    ("PUT", "/people/{person_id}/account"): ADMIN,
    ("POST", "/topics"): {PUBLIC} | ALL,
    ("GET", "/topics"): ALL,
    ("GET", "/topics/{topic_id}"): ALL,
    ("POST", "/topics/{topic_id}/approve"): {"approver"},
    ("POST", "/topics/{topic_id}/reject"): {"approver"},
    ("GET", "/topics/{topic_id}/screening"): ADMIN,
    ("POST", "/topics/{topic_id}/screening"): ADMIN,
    ("GET", "/topics/{topic_id}/research-summary"): ALL,
    ("PUT", "/topics/{topic_id}/research-summary"): ALL,
    ("POST", "/topics/{topic_id}/research-summary/review"): ADMIN,
    ("GET", "/topics/{topic_id}/stages"): ALL,
    ("POST", "/topics/{topic_id}/stages/{stage}"): ADMIN,
    ("GET", "/topics/{topic_id}/runs"): ADMIN,
    ("GET", "/topics/{topic_id}/participants"): ALL,
    ("POST", "/topics/{topic_id}/participants"): ADMIN,
    ("GET", "/topics/{topic_id}/research-tasks"): ALL,
    ("POST", "/topics/{topic_id}/research-tasks"): ADMIN,
    ("GET", "/topics/{topic_id}/sessions"): ALL,
    ("POST", "/topics/{topic_id}/sessions"): ADMIN,
    ("GET", "/topics/{topic_id}/suggestions"): ALL,
    ("GET", "/topics/{topic_id}/report"): ALL,
    ("GET", "/topics/{topic_id}/items"): ALL,
    ("POST", "/topics/{topic_id}/items"): ADMIN,
    ("GET", "/topics/{topic_id}/ratings"): ALL,
    ("POST", "/topics/{topic_id}/ratings"): {"member", "expert", "resident", "supervisor"},
    ("POST", "/topics/{topic_id}/assessment/close"): ADMIN,
    ("GET", "/topics/{topic_id}/assessment"): ALL,
    ("GET", "/topics/{topic_id}/kpis"): ALL,
    # 第三方评估: the office assigns and withdraws, the assigned expert or supervisor scores
    ("GET", "/rubric"): ALL,
    ("GET", "/topics/{topic_id}/evaluations"): ALL,
    ("POST", "/topics/{topic_id}/evaluations"): ADMIN,
    ("POST", "/evaluations/{evaluation_id}/submit"): {"expert", "supervisor"},
    ("POST", "/evaluations/{evaluation_id}/withdraw"): ADMIN,
    ("GET", "/topics/{topic_id}/audit"): OVERSEERS,
    ("POST", "/participants/{participant_id}/rsvp"): ALL,
    ("POST", "/participants/{participant_id}/replace"): ADMIN,
    ("POST", "/research-tasks/{task_id}/findings"): ALL,
    ("GET", "/sessions/{session_id}"): ALL,
    ("GET", "/sessions/{session_id}/opinions"): ALL,
    ("POST", "/sessions/{session_id}/opinions"): ADMIN,
    ("POST", "/sessions/{session_id}/conclude"): ADMIN,
    ("GET", "/reports/{report_id}"): ALL,
    ("GET", "/reports/{report_id}/versions"): ALL,
    ("GET", "/reports/{report_id}/versions/{number}.{kind}"): ALL,
    ("PUT", "/reports/{report_id}"): ADMIN,
    ("POST", "/reports/{report_id}/approve"): {"approver"},
    ("POST", "/reports/{report_id}/return"): {"approver"},
    ("GET", "/items/{item_id}"): ALL,
    ("POST", "/items/{item_id}/acknowledge"): {"officer", "department_head"},
    ("POST", "/items/{item_id}/decline"): {"officer", "department_head"},
    ("POST", "/items/{item_id}/reassign"): ADMIN,
    ("POST", "/items/{item_id}/arbitrate"): ADMIN,
    ("GET", "/items/{item_id}/bounces"): ALL,
    # a deadline is set by the office or its approver; the 回头看 is also the members' and
    # supervisors' (民主监督)
    ("POST", "/items/{item_id}/extend"): {"administrator", "approver"},
    ("POST", "/items/{item_id}/extensions"): {"officer", "department_head"},
    ("GET", "/items/{item_id}/extensions"): ALL,
    ("POST", "/extensions/{extension_id}/approve"): {"administrator", "approver"},
    ("POST", "/extensions/{extension_id}/refuse"): {"administrator", "approver"},
    ("POST", "/items/{item_id}/evidence"): {"officer", "department_head"},
    ("GET", "/items/{item_id}/evidence"): ALL,
    ("GET", "/evidence/{evidence_id}"): {"administrator", "approver", "officer", "department_head"},
    ("GET", "/items/{item_id}/plans"): ALL,
    ("POST", "/items/{item_id}/plan"): {"officer", "department_head"},
    ("POST", "/plans/{plan_id}/review"): {"administrator", "member", "approver"},
    ("GET", "/items/{item_id}/progress"): ALL,
    ("POST", "/items/{item_id}/progress"): {"officer", "department_head"},
    ("POST", "/items/{item_id}/complete"): {"officer", "department_head"},
    ("POST", "/items/{item_id}/recheck"): {"administrator", "member", "supervisor"},
    ("GET", "/notifications/undelivered"): ADMIN,
    ("POST", "/notifications/{notification_id}/resend"): ADMIN,
    ("POST", "/notifications/{notification_id}/give-up"): ADMIN,
    ("POST", "/follow-ups/sweep"): ADMIN,
    ("GET", "/kpis"): OVERSEERS,
    ("GET", "/kpis/departments"): OVERSEERS,
    ("GET", "/kpis/{key}/records"): OVERSEERS,
    ("GET", "/runs/{flow_run_id}"): OVERSEERS,
    ("POST", "/dispatch/weekly"): ADMIN,
    ("GET", "/calendar/working-days"): ALL,
    ("GET", "/calendar/deadlines"): OVERSEERS,
    ("GET", "/calendar/{year}"): ALL,
    ("PUT", "/calendar/{year}"): ADMIN,
    ("POST", "/bulletins/monthly"): ADMIN,
    ("POST", "/bulletins/quarterly"): ADMIN,
    ("GET", "/bulletins"): STAFF,
    ("GET", "/bulletins/{bulletin_id}"): STAFF,
    ("GET", "/bulletins/{bulletin_id}/files/{fmt}"): STAFF,
    ("GET", "/topics/{topic_id}/chain"): ALL,
    ("GET", "/topics/{topic_id}/lists.xlsx"): ALL,
    ("GET", "/topics/{topic_id}/lists/{name}.csv"): ALL,
    ("GET", "/imports/template.xlsx"): ALL,
    ("POST", "/imports"): IMPORTERS,
    ("GET", "/imports"): IMPORTERS,
    ("GET", "/imports/{import_id}"): IMPORTERS,
    ("POST", "/imports/{import_id}/apply"): IMPORTERS,
}


def _routes(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Every operation the application serves, as its OpenAPI document lists them."""
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


@pytest.fixture
def case(loop, session):  # type: ignore[no-untyped-def]
    """A topic in rectification with every kind of record, and one person per role."""
    topic = loop.topic()
    loop.advance(topic, to=Stage.IMPLEMENTATION, start=True)
    c = loop.cast
    item = loop.items(topic)[0]
    loop.plan(item)
    supervisor = people.create_person(
        session, people.PersonCreate(name="钱监督", role=Role.SUPERVISOR)
    )
    dept3 = session.exec(select(Department).where(Department.id == c.other_dept_id)).one()
    session.flush()
    ids = {
        "topic_id": topic.id,
        "person_id": c.resident.id,
        "participant_id": session.exec(
            select(Participant.id).where(Participant.person_id == c.resident.id)
        ).first(),
        "task_id": session.exec(select(ResearchTask.id)).first(),
        "session_id": session.exec(select(ConsultationSession.id)).first(),
        "report_id": session.exec(select(Report.id)).first(),
        "item_id": item.id,
        "plan_id": session.exec(select(Plan.id).where(Plan.item_id == item.id)).first(),
        "notification_id": session.exec(select(Notification.id)).first() or 1,
        "flow_run_id": str(uuid.uuid4()),
        "stage": "topic",
        "year": 2027,
        "bulletin_id": 1,
        "fmt": "html",
        "token": "x" * 40,
        "link_id": 1,
        "name": "items",
        "import_id": 1,
        "extension_id": 1,
        "evaluation_id": 1,
        "evidence_id": 1,
        "key": "completion_rate",
        "number": 1,
        "kind": "pdf",
    }
    session.commit()
    roles = {
        "administrator": c.admin,
        "approver": c.approver,
        "department_head": c.head,
        "officer": c.officer,
        "member": c.member,
        "expert": c.expert,
        "supervisor": supervisor,
        "resident": c.resident,
    }
    return {"ids": ids, "roles": roles, "topic": topic, "item": item, "cast": c, "dept3": dept3}


def test_every_route_is_in_the_table(client):
    assert _routes(client.app) == set(EXPECTED)


def test_every_endpoint_for_every_role_and_without_credentials(client, case):
    """Bodies are empty, so a caller let through gets a 422 (or acts, where the action has no
    body); the point is who is stopped before that, and how."""
    headers = {name: client.as_(person) for name, person in case["roles"].items()}
    headers[PUBLIC] = ANONYMOUS
    wrong = []
    for (method, template), allowed in sorted(EXPECTED.items()):
        path = template.format(**case["ids"])
        for who, h in headers.items():
            body = {} if method in ("POST", "PUT") else None
            status = client.request(method, path, json=body, headers=h).status_code
            if who in allowed:
                ok = status not in (401, 403)
            else:
                ok = status == (401 if who == PUBLIC else 403)
            if not ok:
                wrong.append((method, template, who, status))
    assert wrong == []


def test_records_someone_may_not_see_are_404_not_403(client, case, session):
    c, topic, item = case["cast"], case["topic"], case["item"]
    outsider = people.create_person(session, people.PersonCreate(name="路人甲", role=Role.RESIDENT))
    stranger_member = people.create_person(
        session, people.PersonCreate(name="钱委员", role=Role.MEMBER)
    )
    third = people.create_department(session, people.DepartmentCreate(name="区水务局"))
    third_officer = people.create_person(
        session,
        people.PersonCreate(name="吴联络员", role=Role.OFFICER, department_id=third.id),
    )
    session.commit()
    as_ = client.as_

    # The topic: its participants, its departments and the office see it; others are told
    # it does not exist, exactly as for an id that is not there.
    for person in (c.resident, c.member, c.officer, c.head, c.other_officer, c.approver):
        assert client.get(f"/topics/{topic.id}", headers=as_(person)).status_code == 200
    for person in (outsider, stranger_member, third_officer, c.expert):
        r = client.get(f"/topics/{topic.id}", headers=as_(person))
        assert r.status_code == 404 and r.json()["detail"] == f"议题 {topic.id} 不存在"
        r = client.get(f"/topics/{topic.id}/items", headers=as_(person))
        assert r.status_code == 404
    listed = client.get("/topics", headers=as_(outsider)).json()
    assert listed == {"data": [], "count": 0}
    assert client.get("/topics", headers=as_(c.resident)).json()["count"] == 1

    # Items: a department sees and changes only its own.
    own = {
        i["id"]
        for i in client.get(f"/topics/{topic.id}/items", headers=as_(c.officer)).json()["data"]
    }
    theirs = {
        i["id"]
        for i in client.get(f"/topics/{topic.id}/items", headers=as_(c.other_officer)).json()[
            "data"
        ]
    }
    assert own and theirs and not own & theirs
    assert item.id in own
    everyone = client.get(f"/topics/{topic.id}/items").json()["count"]
    assert everyone == len(own) + len(theirs)
    r = client.get(f"/items/{item.id}", headers=as_(c.other_officer))
    assert r.status_code == 404 and r.json()["detail"] == f"整改事项 {item.id} 不存在"
    body = {"note": "已完成现场勘查", "percent": 20}
    r = client.post(f"/items/{item.id}/progress", json=body, headers=as_(c.other_officer))
    assert r.status_code == 404
    assert client.get(f"/items/{item.id}/progress").json()["count"] == 0
    r = client.post(f"/items/{item.id}/progress", json=body, headers=as_(c.head))
    assert r.status_code == 201, r.text
    assert client.get(f"/items/{item.id}", headers=as_(c.resident)).status_code == 200
    assert client.get(f"/items/{item.id}", headers=as_(outsider)).status_code == 404

    # An answer only its owner gives: another participant is refused, the owner is not.
    participant = session.exec(
        select(Participant).where(Participant.person_id == c.resident.id)
    ).first()
    task = session.exec(select(ResearchTask)).first()
    r = client.post(
        f"/research-tasks/{task.id}/findings",
        json={"findings": "替别人交的调研成果"},
        headers=as_(c.resident),
    )
    assert r.status_code == 403 and "只有本人或协商办" in r.json()["detail"]
    r = client.post(
        f"/participants/{participant.id}/rsvp", json={"accept": True}, headers=as_(c.member)
    )
    assert r.status_code == 403


def test_a_rating_is_the_raters_own_and_only_once(client, loop, session):
    topic = loop.topic()
    loop.advance(topic, to=Stage.ASSESSMENT, start=True)
    session.commit()
    c = loop.cast
    r = client.post(
        f"/topics/{topic.id}/ratings", json={"score": 1}, headers=client.as_(c.resident)
    )
    assert r.status_code == 201
    assert r.json()["person_id"] == c.resident.id and r.json()["rater_kind"] == "stakeholder"
    again = client.post(
        f"/topics/{topic.id}/ratings", json={"score": 1}, headers=client.as_(c.resident)
    )
    assert again.status_code == 409 and "已对该议题" in again.json()["detail"]
    # Nobody rates in another's name, and the kind of rater is not the rater's to choose.
    for extra in ({"person_id": c.resident2.id}, {"rater_kind": "third_party"}):
        r = client.post(
            f"/topics/{topic.id}/ratings",
            json={"score": 5, **extra},
            headers=client.as_(c.resident2),
        )
        assert r.status_code == 422
    r = client.post(f"/topics/{topic.id}/ratings", json={"score": 4}, headers=client.as_(c.expert))
    assert r.status_code == 201 and r.json()["rater_kind"] == "third_party"
    anonymous = client.post(f"/topics/{topic.id}/ratings", json={"score": 1}, headers=ANONYMOUS)
    assert anonymous.status_code == 401
    assert client.get(f"/topics/{topic.id}/ratings").json()["count"] == 2
    assert session.exec(select(Person).where(Person.id == c.resident.id)).one()
