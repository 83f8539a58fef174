"""`xieshang demo`: one topic through all eight stages, driven only through the HTTP API."""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx

from config.links import PUBLIC_TOPIC_PAGE
from models.enums import Stage

FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
STAGES = [stage.value for stage in Stage]  # the declared stages, in order


class DemoError(RuntimeError):
    pass


# The demo's evidence file: a one-page PDF, as a department would scan its notice.
DEMO_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


class Client:
    """The API as one signed-in person sees it (or the public, without credentials)."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=60, headers=self.headers)

    def signed_in(self, login: str, password: str) -> Client:
        """A client acting as the person with this login (OAuth2 password flow)."""
        answer = self.http.post("/auth/token", data={"username": login, "password": password})
        if answer.status_code != 200:
            raise DemoError(f"{login} 登录失败：{answer.status_code} {answer.text}")
        return Client(self.base_url, answer.json()["access_token"])

    def call(
        self, method: str, path: str, body: Any = None, ok: tuple[int, ...] = (200, 201, 202)
    ) -> Any:
        response = self.http.request(method, path, json=body)
        if response.status_code not in ok:
            raise DemoError(f"{method} {path} → {response.status_code}: {response.text}")
        return response.json()

    def post(self, path: str, body: Any = None) -> Any:
        return self.call("POST", path, body)

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def upload(self, path: str, filename: str, content: bytes, content_type: str) -> Any:
        """A multipart file upload (an evidence file)."""
        response = self.http.post(path, files={"file": (filename, content, content_type)})
        if response.status_code not in (200, 201):
            raise DemoError(f"POST {path} → {response.status_code}: {response.text}")
        return response.json()

    def rows(self, path: str) -> list[Any]:
        """The records of a list answer (`{"data": [...], "count": N}`)."""
        return self.get(path)["data"]


def wait_for_run(client: Client, run_id: str, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = client.get(f"/runs/{run_id}")
        if run["state_type"] in FINAL:
            return run
        time.sleep(0.5)
    raise DemoError(f"流程运行 {run_id} 在 {timeout:.0f} 秒内未结束")


def bootstrap_administrator(suffix: str, database_url: str | None = None) -> tuple[str, str]:
    """The demo's first administrator, written straight into the case file (as `xieshang user
    add` does): somebody must hold the first account before the API lets anyone in."""
    from config.db import engine_for, migrate, session_scope
    from config.settings import get_settings
    from models import accounts, people
    from models.enums import Role

    url = database_url or get_settings().resolved_database_url
    migrate(url)
    login, password = f"demo-admin-{suffix}", secrets.token_urlsafe(12)
    with session_scope(engine_for(url)) as session:
        admin = people.create_person(
            session, people.PersonCreate(name="王敏（协商办）", role=Role.ADMINISTRATOR)
        )
        accounts.set_password(session, admin.id or 0, login, password)
    return login, password


def screen_two_more(
    c: Client,
    proposer: Client,
    member: Client,
    tid: int,
    suffix: str,
    stage: Callable[..., None],
    say: Callable[[str], None],
) -> dict[str, int]:
    """初筛 as the office does it: a proposal hinted as 涉法涉诉 is excluded on that rule, a
    look-alike of the demo's topic is merged into it (the earlier one) and its proposer
    becomes a supporter."""
    litigated = proposer.post(
        "/topics",
        {
            "title": f"邻里宅基地纠纷（示例 {suffix}）",
            "description": "两户因宅基地边界发生纠纷，一方已向区法院起诉。",
            "source": "public",
        },
    )
    stage("topic", litigated["id"])
    hints = c.get(f"/topics/{litigated['id']}/screening")["hints"]
    c.post(
        f"/topics/{litigated['id']}/screening",
        {"decision": "exclude", "rule": "litigation"},
    )
    say(f"  初筛：议题 {litigated['id']} 不予协商（{hints[0]['label']}：{hints[0]['why']}）")
    alike = member.post(
        "/topics",
        {
            "title": f"老旧小区加装电梯协商（示例 {suffix}）的建议",
            "description": "委员调研发现多层住宅加装电梯需求集中。",
            "source": "member",
        },
    )
    stage("topic", alike["id"])
    candidate = c.get(f"/topics/{alike['id']}/screening")["candidates"][0]
    c.post(
        f"/topics/{alike['id']}/screening",
        {"decision": "merge", "merge_into_id": candidate["topic_id"]},
    )
    say(
        f"  初筛：议题 {alike['id']} 与议题 {candidate['topic_id']} 相似度"
        f" {candidate['score']:.0%}，经确认并入该议题"
    )
    return {"excluded": litigated["id"], "merged": alike["id"], "merged_into": tid}


def run_loop(
    base_url: str, say: Callable[[str], None] = print, *, database_url: str | None = None
) -> dict:
    """Drive one topic through the whole loop, each step by the person whose step it is;
    return the summary that --json prints (with the demo's sign-in credentials)."""
    suffix = uuid.uuid4().hex[:6]
    today = dt.date.today()
    admin_login, admin_password = bootstrap_administrator(suffix, database_url)
    c = Client(base_url).signed_in(admin_login, admin_password)
    me = c.get("/auth/me")
    admin = me
    credentials: list[dict[str, str]] = [
        {"name": me["name"], "role": me["role"], "login": admin_login, "password": admin_password}
    ]
    clients: dict[int, Client] = {me["id"]: c}

    def dept(name: str) -> dict:
        found = [d for d in c.rows("/departments?limit=500") if d["name"] == name]
        return found[0] if found else c.post("/departments", {"name": name})

    def person(name: str, role: str, department_id: int | None = None) -> dict:
        created = c.post("/people", {"name": name, "role": role, "department_id": department_id})
        login, password = f"{role}-{created['id']}-{suffix}", secrets.token_urlsafe(12)
        c.call("PUT", f"/people/{created['id']}/account", {"login": login, "password": password})
        credentials.append({"name": name, "role": role, "login": login, "password": password})
        clients[created["id"]] = Client(base_url).signed_in(login, password)
        return created

    def as_(who: dict) -> Client:
        return clients[who["id"]]

    housing = dept("区住房和城乡建设局")
    streets = dept("城南街道办事处")
    approver = person("陈建国（区委）", "approver")
    officer = person("李强（住建局联络员）", "officer", housing["id"])
    person("赵磊（住建局局长）", "department_head", housing["id"])
    street_officer = person("周婷（街道联络员）", "officer", streets["id"])
    resident = person("张桂英（居民代表）", "resident")
    resident2 = person("刘大爷（居民代表）", "resident")
    member = person("孙立（政协委员）", "member")
    expert = person("吴工（规划专家）", "expert")

    topic = as_(resident).post(
        "/topics",
        {
            "title": f"老旧小区加装电梯协商（示例 {suffix}）",
            "description": "城南片区 1990 年代建成的多层住宅无电梯，老年居民上下楼困难，加装电梯涉及费用分摊与低层住户意见。",
            "category": "城市更新",
            "source": "public",
            "urgent": True,
            "important": True,
        },
    )
    tid = topic["id"]
    say(f"议题 {tid}：{topic['title']}")
    stages_out: list[dict] = []

    def stage(name: str, topic_id: int | None = None) -> None:
        started = c.post(f"/topics/{topic_id or tid}/stages/{name}")
        run = wait_for_run(c, started["flow_run_id"])
        if topic_id is None:  # the demo topic's own stages; the others are screening examples
            stages_out.append({"stage": name, "flow_run_id": run["id"], "state": run["state_type"]})
            say(f"  {name:<15} {run['id']}  {run['state_type']}")
        if run["state_type"] != "COMPLETED":
            raise DemoError(f"环节 {name} 的流程运行未成功：{run['state_name']}")

    stage("topic")
    as_(approver).post(f"/topics/{tid}/approve", {"comment": "同意列入年度协商计划"})
    screened = screen_two_more(c, as_(resident2), as_(member), tid, suffix, stage, say)

    parts = c.post(
        f"/topics/{tid}/participants",
        {
            "participants": [
                {"person_id": admin["id"], "role": "organizer"},
                {"person_id": officer["id"], "role": "department"},
                {"person_id": resident["id"], "role": "resident"},
                {"person_id": resident2["id"], "role": "resident"},
                {"person_id": member["id"], "role": "member"},
                {"person_id": expert["id"], "role": "expert"},
            ]
        },
    )["data"]
    stage("subject")
    for p in parts:
        as_({"id": p["person_id"]}).post(f"/participants/{p['id']}/rsvp", {"accept": True})

    research = c.post(
        f"/topics/{tid}/research-tasks",
        {
            "title": "入户走访低层与高层住户意愿",
            "method": "field_visit",
            "owner_id": member["id"],
            "due_date": (today + dt.timedelta(days=10)).isoformat(),
        },
    )
    stage("prestudy")
    as_(member).post(
        f"/research-tasks/{research['id']}/findings",
        {
            "findings": "走访 120 户，78% 支持加装；一楼住户担心采光与噪声，希望获得补偿。",
        },
    )
    # 不调研不协商: the member writes the research summary; the office returns it once for
    # what is missing, then accepts the revision.
    summary = "调研报告：走访 120 户，78% 支持加装电梯；一楼住户担心采光与噪声，希望获得补偿。"
    as_(member).call("PUT", f"/topics/{tid}/research-summary", {"content": summary})
    c.post(
        f"/topics/{tid}/research-summary/review",
        {"accepted": False, "note": "请补充费用测算和低层住户补偿的意见"},
    )
    as_(member).call(
        "PUT",
        f"/topics/{tid}/research-summary",
        {
            "content": summary
            + "费用测算：每部约 60 万元，财政补贴 20 万元；低层住户建议按楼层分摊。"
        },
    )
    c.post(f"/topics/{tid}/research-summary/review", {"accepted": True})

    meeting = c.post(
        f"/topics/{tid}/sessions",
        {
            "form": "on_site",
            "starts_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat(),
            "place": "城南社区议事厅",
        },
    )
    stage("session")
    by_person = {p["person_id"]: p["id"] for p in parts}
    opinions = c.post(
        f"/sessions/{meeting['id']}/opinions",
        {
            "opinions": [
                {
                    "participant_id": by_person[resident["id"]],
                    "content": "希望政府补贴一部分费用，减轻居民负担。",
                    "consensus": True,
                },
                {
                    "participant_id": by_person[resident2["id"]],
                    "content": "一楼住户应按楼层获得合理补偿。",
                    "consensus": True,
                },
                {
                    "participant_id": by_person[officer["id"]],
                    "content": "可适用市级加装电梯补贴政策，审批可并联办理。",
                },
                {
                    "participant_id": by_person[expert["id"]],
                    "content": "建议统一设计方案，减少对采光的影响。",
                },
            ]
        },
    )["data"]
    ids = [o["id"] for o in opinions]
    c.post(
        f"/sessions/{meeting['id']}/conclude",
        {
            "consensus_reached": True,
            "summary": "各方同意按楼层分摊费用并落实财政补贴，统一设计方案。",
            "minutes": (
                "会议纪要：现场协商于社区议事厅举行，住建局、街道、居民代表、政协委员和规划专家"
                "参加。居民代表反映老人上下楼困难，一楼住户担心采光与噪声；住建局介绍补贴政策；"
                "专家建议统一设计方案。各方同意按楼层分摊费用并落实财政补贴。"
            ),
            "suggestions": [
                {"content": "落实加装电梯财政补贴并简化并联审批", "opinion_ids": [ids[0], ids[2]]},
                {
                    "content": "制定按楼层分摊与低层补偿办法，统一设计方案",
                    "opinion_ids": [ids[1], ids[3]],
                },
            ],
        },
    )

    stage("report")
    report = c.get(f"/topics/{tid}/report")
    as_(approver).post(f"/reports/{report['id']}/approve", {"comment": "同意，抓紧落实"})

    suggestions = c.rows(f"/topics/{tid}/suggestions")
    deadline = (today + dt.timedelta(days=45)).isoformat()
    items = [
        c.post(
            f"/topics/{tid}/items",
            {
                "suggestion_id": suggestions[0]["id"],
                "title": "落实加装电梯补贴与并联审批",
                "lead_department_id": housing["id"],
                "co_department_ids": [streets["id"]],
                "officer_id": officer["id"],
                "deadline": deadline,
            },
        ),
        c.post(
            f"/topics/{tid}/items",
            {
                "suggestion_id": suggestions[1]["id"],
                "title": "制定费用分摊与低层补偿办法",
                "lead_department_id": streets["id"],
                "officer_id": street_officer["id"],
                "deadline": deadline,
            },
        ),
    ]
    stage("transfer")
    owners = {items[0]["id"]: officer, items[1]["id"]: street_officer}
    # 退单 without ping-pong: the street returns the compensation item with a coded reason,
    # the office hands it to housing, housing returns it too, and after the second return the
    # office arbitrates (final): the street leads, and signs for it.
    disputed = items[1]["id"]
    as_(street_officer).post(
        f"/items/{disputed}/decline",
        {"code": "not_our_duty", "reason": "补偿标准由住建局制定，应由住建局牵头"},
    )
    c.post(
        f"/items/{disputed}/reassign",
        {"lead_department_id": housing["id"], "officer_id": officer["id"]},
    )
    as_(officer).post(
        f"/items/{disputed}/decline",
        {"code": "shared_duty", "reason": "低层住户补偿需属地逐户协调，应由街道牵头"},
    )
    c.post(
        f"/items/{disputed}/arbitrate",
        {
            "lead_department_id": streets["id"],
            "officer_id": street_officer["id"],
            "co_department_ids": [housing["id"]],
            "note": "补偿协调属属地职责，由城南街道牵头、区住建局配合，裁定为最终决定",
        },
    )
    for item in items:
        as_(owners[item["id"]]).post(f"/items/{item['id']}/acknowledge")

    stage("implementation")
    for item in items:
        owner = owners[item["id"]]["id"]
        officer_client = as_(owners[item["id"]])
        plan = officer_client.post(
            f"/items/{item['id']}/plan",
            {
                "target": "30 日内出台办法并完成首批 3 栋楼加装审批",
                "measures": "联合审批窗口；公示补贴标准；组织居民议事确认分摊方案",
                "deadline": (today + dt.timedelta(days=30)).isoformat(),
                "responsible_id": owner,
            },
        )
        as_(member).post(f"/plans/{plan['id']}/review", {"approved": True, "note": "方案可行"})
        officer_client.post(
            f"/items/{item['id']}/progress", {"note": "办法已起草并征求意见", "percent": 60}
        )
        if item is items[0]:  # 申请延期 before the deadline, approved by the office
            ext = officer_client.post(
                f"/items/{item['id']}/extensions",
                {
                    "deadline": (today + dt.timedelta(days=60)).isoformat(),
                    "reason": "补贴标准须经区政府常务会议审议",
                },
            )
            c.post(f"/extensions/{ext['id']}/approve", {"comment": "同意延期，按新期限督办"})
        officer_client.upload(
            f"/items/{item['id']}/evidence", "印发通知.pdf", DEMO_PDF, "application/pdf"
        )
        officer_client.post(
            f"/items/{item['id']}/complete",
            {
                "summary": "办法已印发，首批 3 栋楼开工",
                "evidence_ref": "城南〔2026〕12号",
                "solved": True,
                "long_term_mechanism": True,
                "long_term_mechanism_ref": "城南〔2026〕12号",
            },
        )

    stage("assessment")
    # 回头看: the first fix held; the second rebounded and goes back to its department as a
    # new item with a fresh ladder, which it signs for and completes before the office closes.
    c.post(
        f"/items/{items[0]['id']}/recheck",
        {"rebound": False, "note": "电梯运行正常，补贴已发放到户"},
    )
    c.post(
        f"/items/{items[1]['id']}/recheck",
        {"rebound": True, "note": "低层住户补偿未落实，居民再次反映"},
    )
    again = next(
        i for i in c.rows(f"/topics/{tid}/items") if i["reopened_from_id"] == items[1]["id"]
    )
    street = as_(street_officer)
    street.post(f"/items/{again['id']}/acknowledge")
    plan = street.post(
        f"/items/{again['id']}/plan",
        {
            "target": "10 个工作日内补偿款发放到户",
            "measures": "逐户核对补偿名单，公示后发放",
            "deadline": (today + dt.timedelta(days=14)).isoformat(),
            "responsible_id": street_officer["id"],
        },
    )
    as_(member).post(f"/plans/{plan['id']}/review", {"approved": True, "note": "同意"})
    street.upload(
        f"/items/{again['id']}/evidence", "补偿发放签收表.pdf", DEMO_PDF, "application/pdf"
    )
    street.post(
        f"/items/{again['id']}/complete",
        {"summary": "补偿款已全部发放到户", "solved": True},
    )
    # A resident confirms the rework (a rating of that item), so it counts as solved.
    as_(resident).post(f"/topics/{tid}/ratings", {"score": 5, "item_id": again["id"]})
    for who, score in ((resident2, 4), (member, 5)):
        as_(who).post(f"/topics/{tid}/ratings", {"score": score})
    # The expert rates as a third party, and the office asks him for an independent
    # evaluation against the rubric (第三方评估), which he scores criterion by criterion.
    as_(expert).post(f"/topics/{tid}/ratings", {"score": 4, "comment": "第三方评估：整改到位"})
    evaluation = c.post(f"/topics/{tid}/evaluations", {"evaluator_id": expert["id"]})
    as_(expert).post(
        f"/evaluations/{evaluation['id']}/submit",
        {
            "scores": {
                "problem_solved": 4,
                "satisfaction": 5,
                "measures": 4,
                "mechanism": 5,
                "timeliness": 2,
            },
            "notes": {"timeliness": "补偿事项经回头看反弹后返工，整体超出原定期限"},
            "comment": "电梯加装与补偿均已落实，形成了长效办法；返工拖长了工期。",
        },
    )
    c.post(f"/topics/{tid}/assessment/close", {"summary": "议题办结，结果向社会公开。"})

    kpis = c.get(f"/topics/{tid}/kpis")
    return {
        "topic_id": tid,
        "title": topic["title"],
        "public_page": PUBLIC_TOPIC_PAGE.format(topic_id=tid),
        "stages": stages_out,
        "screened": screened,
        "kpis": kpis,
        "credentials": credentials,
    }
