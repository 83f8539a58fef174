"""Generated case files for the benchmarks: a district (10k), a city (100k) or a province (1M
rectification items), deterministic, bulk-loaded, on SQLite or PostgreSQL.

One place seeds every benchmark (weekly dispatch, API reads, …). The schema is the project's
own (config.db.migrate, the Alembic migrations), never a hand-written DDL. Topics scale with
the size (one per 100 items: 10,000 at 1M), 100 departments with a head and officers each;
names, titles and places are composed from word lists; dates run across 2024–2026; topics
stand in every stage and state, items in every status, with the ladders' rungs already sent
(so a sweep at `NOW` has nothing due) and the next rung open.

    uv run python bench/generate.py --size 100k                 # SQLite in a temp dir
    uv run python bench/generate.py --size 1m --postgres --keep # a PostgreSQL database kept

Rows go in with executemany (SQLite) or COPY (PostgreSQL) in batches of 10,000 items, with a
progress bar. Databases are created in a temporary directory or as a new PostgreSQL database
(`xs_bench_…`, next to XS_BENCH_PG_URL) and dropped at the end unless kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 6, 1, 9, 0, tzinfo=SH).astimezone(dt.UTC)  # a Monday, 09:00
FIRST_DAY = dt.datetime(2024, 1, 2, 9, 0, tzinfo=SH).astimezone(dt.UTC)
BATCH = 10_000
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"

SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000}

# --- word lists ---------------------------------------------------------------------------
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀英华慧建国志红平刚桂兰玉霞文辉鹏飞斌宇浩凯春梅晨海波丹宁亮婷雪琳欣怡佳俊峰晓燕德荣昊天子涵思远嘉琪雨桐"
DISTRICTS = [
    "城关区", "高新区", "经开区", "滨江区", "临港区", "东城区", "西城区", "南湖区", "北山区", "新城区",
]  # fmt: skip
BUREAUS = [
    "住房和城乡建设局", "交通运输局", "生态环境局", "教育局", "卫生健康局", "民政局",
    "人力资源和社会保障局", "自然资源和规划局", "水利局", "农业农村局", "市场监督管理局",
    "城市管理局", "应急管理局", "文化和旅游局", "商务局", "财政局", "发展和改革局", "司法局",
    "退役军人事务局", "数据资源局",
]  # fmt: skip
PLACES = [
    "幸福路社区", "滨江新村", "老城片区", "火车站周边", "实验小学周边", "人民医院周边", "工业园区",
    "农贸市场", "和平里小区", "东湖街道", "青石镇", "南门村", "文化广场", "城北安置小区",
    "高铁新城", "解放路商圈", "翠苑小区", "河西老街", "桃源村", "长安路",
]  # fmt: skip
PROBLEMS = [
    "老旧小区加装电梯", "停车难", "垃圾分类设施不足", "上下学交通拥堵", "雨污分流改造",
    "养老服务设施不足", "夜间施工噪声扰民", "农村饮水安全", "背街小巷路灯不亮", "菜市场环境脏乱",
    "公交线路覆盖不足", "社区卫生服务站缺医少药", "电动自行车充电难", "内涝积水", "物业管理纠纷",
    "口袋公园建设", "油烟扰民", "婴幼儿托育服务", "道路破损", "河道黑臭",
]  # fmt: skip
MEASURES = [
    "制定专项整治方案", "开展联合执法检查", "完成设施改造", "增设公共停车泊位", "建立长效管理机制",
    "落实资金保障", "开展入户走访并公示结果", "完善监督考核办法", "修订管理制度", "增加巡查频次",
    "实施管网改造", "新建便民服务点",
]  # fmt: skip
CATEGORIES = ["城市建设", "民生保障", "生态环境", "社会治理", "教育卫生", "乡村振兴"]


@dataclass(frozen=True)
class Mix:
    """How items are spread over their statuses (the rest: in progress)."""

    draft: float = 0.02
    transferred: float = 0.08
    declined: float = 0.01
    acknowledged: float = 0.10
    completed: float = 0.30

    def status(self, roll: float) -> str:
        edges = [
            (self.draft, "draft"),
            (self.transferred, "transferred"),
            (self.declined, "declined"),
            (self.acknowledged, "acknowledged"),
            (self.completed, "completed"),
        ]
        total = 0.0
        for share, status in edges:
            total += share
            if roll < total:
                return status
        return "in_progress"


# Every status, the province's picture: some drafts, a third done.
FULL_MIX = Mix()
# Only open work, as a district has it mid-year (what the weekly dispatch benchmark seeds).
OPEN_MIX = Mix(draft=0.0, transferred=0.08, declined=0.005, acknowledged=0.115, completed=0.0)

# Stages a topic can stand in, with the state and status that go with it; items belong to the
# topics from 转交 on. (stage, stage_state, status, share)
TOPIC_STATES: list[tuple[str, str, str, float]] = [
    ("topic", "not_started", "draft", 0.01),
    ("topic", "waiting", "awaiting_approval", 0.02),
    ("topic", "done", "rejected", 0.01),
    ("topic", "done", "screened_out", 0.01),
    ("topic", "done", "merged", 0.005),
    ("subject", "waiting", "in_progress", 0.02),
    ("prestudy", "waiting", "in_progress", 0.02),
    ("session", "waiting", "in_progress", 0.02),
    ("report", "waiting", "in_progress", 0.02),
    ("transfer", "running", "in_progress", 0.02),
    ("transfer", "waiting", "in_progress", 0.08),
    ("implementation", "waiting", "in_progress", 0.55),
    ("assessment", "waiting", "in_progress", 0.10),
    ("assessment", "done", "closed", 0.115),
]
WITH_ITEMS = {"transfer", "implementation", "assessment"}

# Rungs already sent, by calendar days from the deadline (stands in for working days).
SENT_RUNGS = [(-3, "due_soon"), (0, "due"), (1, "overdue"), (2, "escalate_head"), (3, "escalate_admin")]  # fmt: skip
ACK_RUNGS = [(0, "due"), (1, "overdue"), (1, "escalate_head"), (2, "escalate_admin")]
PLAN_RUNGS = [(-1, "due_soon"), (1, "overdue"), (2, "escalate_head")]


@dataclass
class Shape:
    """What to generate: the size and the spread."""

    items: int
    topics: int | None = None  # default: one per 100 items (at least 20)
    departments: int = 100
    officers_per_dept: int = 10
    mix: Mix = field(default_factory=Mix)
    now: dt.datetime = NOW
    seed: int = 42
    # Item deadline rungs left open though due at `now` (the follow-up sweep's work): the
    # first `due` open items with a past rung keep their latest past rung open, not sent.
    due: int = 0

    @property
    def topic_count(self) -> int:
        return self.topics or max(20, self.items // 100)


@dataclass
class Generated:
    """Who is who in the generated file, for the benchmarks that sign in or pick rows."""

    admin_id: int
    approver_id: int
    heads: dict[int, int]  # department → head
    officers: dict[int, list[int]]  # department → officers
    item_topics: list[int]  # topics that have items
    counts: dict[str, int]
    seconds: float


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))


def department_name(d: int) -> str:
    """Unique for the first 200 (ten districts × twenty bureaus), numbered beyond."""
    base = DISTRICTS[(d - 1) % len(DISTRICTS)] + BUREAUS[((d - 1) // len(DISTRICTS)) % len(BUREAUS)]
    return base if d <= len(DISTRICTS) * len(BUREAUS) else f"{base}（{d}）"


def at_random(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    span = max(1, int((end - start).total_seconds()))
    return start + dt.timedelta(seconds=rng.randrange(span))


def progress(total: int, label: str, enabled: bool) -> Callable[[int], None]:
    """A rich progress bar (rich comes with Prefect), or nothing when disabled."""
    if not enabled:
        return lambda _n: None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    )
    bar.start()
    task = bar.add_task(label, total=total)

    def advance(n: int) -> None:
        bar.advance(task, n)
        if bar.tasks[0].completed >= total:
            bar.stop()

    return advance


class Loader:
    """Bulk insert: executemany through SQLAlchemy Core (SQLite), COPY (PostgreSQL). Values
    go through each column's own type (enums, JSON, naive-UTC timestamps) either way."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.counts: dict[str, int] = {}

    def __call__(self, table: Any, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        self.counts[table.name] = self.counts.get(table.name, 0) + len(rows)
        given: set[str] = set().union(*rows)
        if not self.pg:  # one statement for the batch: every row names the same columns
            from sqlalchemy import insert

            blank = dict.fromkeys(given)
            self.conn.execute(insert(table), [blank | r for r in rows])
            return
        cols = [c for c in table.columns if c.name in given or c.default is not None]
        dialect = self.conn.dialect
        procs = []
        for c in cols:
            proc = c.type._cached_bind_processor(dialect)
            default = (
                c.default.arg if c.default is not None and not callable(c.default.arg) else None
            )
            procs.append((c.name, proc, default, c.default))
        raw = self.conn.connection.driver_connection
        names = ", ".join(f'"{c.name}"' for c in cols)
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for r in rows:
                out = []
                for name, proc, default, col_default in procs:
                    if name in r:
                        v = r[name]
                    elif col_default is not None and callable(col_default.arg):
                        v = col_default.arg(None)
                    else:
                        v = default
                    if proc is not None and v is not None:
                        v = proc(v)
                    if isinstance(v, dict | list):
                        v = json.dumps(v, ensure_ascii=False)
                    elif hasattr(v, "obj") and type(v).__name__ in ("Json", "Jsonb"):
                        v = json.dumps(v.obj, ensure_ascii=False)
                    out.append(v)
                copy.write_row(out)


def generate(engine: Any, shape: Shape, *, show_progress: bool = True) -> Generated:
    """Fill an empty, migrated database with `shape`'s case file (deterministic by seed)."""
    from models.tables import (
        ConsultationSession,
        Department,
        FollowUp,
        Person,
        Plan,
        ProgressUpdate,
        RectificationItem,
        Suggestion,
        Topic,
    )

    t0 = time.perf_counter()
    rng = random.Random(shape.seed)
    now = shape.now
    people: list[dict[str, Any]] = [
        {"id": 1, "name": person_name(rng), "role": "administrator", "tag": "role-admin-person"},
        {"id": 2, "name": person_name(rng), "role": "approver", "tag": "approver-person"},
    ]
    heads: dict[int, int] = {}
    officers: dict[int, list[int]] = {}
    for d in range(1, shape.departments + 1):
        if d % 10 != 0:  # every tenth department has no head registered
            heads[d] = len(people) + 1
            people.append(
                {
                    "id": heads[d],
                    "name": person_name(rng),
                    "role": "department_head",
                    "department_id": d,
                    "tag": f"head-{d}",
                }
            )
        for _ in range(shape.officers_per_dept):
            pid = len(people) + 1
            people.append(
                {
                    "id": pid,
                    "name": person_name(rng),
                    "role": "officer",
                    "department_id": d,
                    "tag": f"officer-{pid}",
                }
            )
            officers.setdefault(d, []).append(pid)

    topics: list[dict[str, Any]] = []
    item_topics: list[int] = []
    weights = [w for *_, w in TOPIC_STATES]
    for t in range(1, shape.topic_count + 1):
        stage, state, status, _w = rng.choices(TOPIC_STATES, weights)[0]
        created = at_random(
            rng, FIRST_DAY, now - dt.timedelta(days=150 if stage in WITH_ITEMS else 10)
        )
        place, problem = rng.choice(PLACES), rng.choice(PROBLEMS)
        approved = status in ("in_progress", "closed")
        topics.append(
            {
                "id": t,
                "title": f"关于{rng.choice(DISTRICTS)}{place}{problem}问题的协商",
                "description": f"群众反映{place}{problem}，影响日常生活，希望有关部门协商解决。",
                "category": rng.choice(CATEGORIES),
                "source": rng.choice(
                    ["party_government", "public", "member", "online", "emergency"]
                ),
                "urgent": rng.random() < 0.1,
                "important": rng.random() < 0.5,
                "emergency": False,
                "in_litigation": False,
                "in_petition": rng.random() < 0.03,
                "of_general_concern": True,
                "policy_explicit": False,
                "stage": stage,
                "stage_state": state,
                "status": status,
                "approved_at": created + dt.timedelta(days=3) if approved else None,
                "approved_by_id": 2 if approved else None,
                "closed_at": now - dt.timedelta(days=rng.randint(1, 60))
                if status == "closed"
                else None,
                "created_at": created,
                "updated_at": created + dt.timedelta(days=5),
            }
        )
        if stage in WITH_ITEMS and not (stage == "transfer" and state == "running"):
            item_topics.append(t)
    if not item_topics:
        item_topics = [topics[-1]["id"]]

    with engine.begin() as conn:
        load = Loader(conn)
        load(Department.__table__, [
            {"id": d, "name": department_name(d), "tag": f"dept-{d}"}
            for d in range(1, shape.departments + 1)
        ])  # fmt: skip
        load(Person.__table__, [{"department_id": None} | p for p in people])
        load(Topic.__table__, topics)
        load(ConsultationSession.__table__, [
            {
                "id": t["id"], "topic_id": t["id"], "round": 1,
                "form": rng.choice(["thematic", "deliberation", "online", "written", "on_site"]),
                "starts_at": t["created_at"] + dt.timedelta(days=40), "status": "concluded",
                "consensus_reached": True,
            }
            for t in topics if t["id"] in set(item_topics)
        ])  # fmt: skip
        advance = progress(shape.items, f"{shape.items:,} 条整改事项", show_progress)
        created_of = {t["id"]: t["created_at"] for t in topics}
        due_left = [shape.due]
        for start in range(0, shape.items, BATCH):
            batch = _item_batch(
                rng,
                start,
                min(start + BATCH, shape.items),
                shape,
                item_topics,
                created_of,
                officers,
                due_left,
            )
            load(Suggestion.__table__, batch["suggestion"])
            load(RectificationItem.__table__, batch["item"])
            load(Plan.__table__, batch["plan"])
            load(ProgressUpdate.__table__, batch["progress"])
            load(FollowUp.__table__, batch["follow_up"])
            advance(len(batch["item"]))
        if load.pg:  # ids were given: move the sequences past them
            for table in (
                Department,
                Person,
                Topic,
                ConsultationSession,
                Suggestion,
                RectificationItem,
            ):
                name = table.__table__.name
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "
                    f'(SELECT MAX(id) FROM "{name}"))'
                )
    with engine.connect() as conn:  # fresh statistics for the planner, as a DBA would
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return Generated(
        admin_id=1,
        approver_id=2,
        heads=heads,
        officers=officers,
        item_topics=item_topics,
        counts=load.counts,
        seconds=time.perf_counter() - t0,
    )


def _item_batch(
    rng: random.Random,
    start: int,
    end: int,
    shape: Shape,
    item_topics: list[int],
    created_of: dict[int, dt.datetime],
    officers: dict[int, list[int]],
    due_left: list[int] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Items start+1 … end with their suggestions, plans, progress and ladder rows;
    `due_left[0]` item deadline rungs are still left due (and counted down)."""
    due_left = due_left if due_left is not None else [0]
    now = shape.now
    out: dict[str, list[dict[str, Any]]] = {
        k: [] for k in ("suggestion", "item", "plan", "progress", "follow_up")
    }

    def rungs(
        topic: int,
        n: int,
        owner: int,
        obligation: str,
        due: dt.datetime,
        ladder: Any,
        chase: bool = False,
    ) -> None:
        """Every rung already past as sent; the next one open (nothing due at `now`). With
        `chase`, the latest past rung stays open instead: due, for the sweep to handle."""
        late = (now - due).days
        past = [offset for offset, _step in ladder if offset <= late]
        if chase and past and due_left[0] > 0:
            due_left[0] -= 1
            late = past[-2] if len(past) > 1 else min(past) - 1
        for offset, step in ladder:
            sent = offset <= late
            out["follow_up"].append(
                {
                    "topic_id": topic,
                    "obligation": obligation,
                    "subject_id": n,
                    "owed_by_id": owner,
                    "step": step,
                    "deadline": due,
                    "due_at": due + dt.timedelta(days=offset),
                    "rung_offset": offset,
                    "provisional": False,
                    "status": "sent" if sent else "open",
                    "outcome": "已提醒/督办" if sent else None,
                    "processed_at": due + dt.timedelta(days=offset) if sent else None,
                    "created_at": due - dt.timedelta(days=30),
                }
            )
            if not sent:
                return

    for n in range(start + 1, end + 1):
        topic = rng.choice(item_topics)
        dept = rng.randint(1, shape.departments)
        officer = rng.choice(officers[dept])
        status = shape.mix.status(rng.random())
        transferred = created_of[topic] + dt.timedelta(days=rng.randint(50, 90))
        if status in ("transferred", "declined", "acknowledged", "in_progress"):
            # open work is recent: deadlines from 40 days past to 200 ahead
            deadline = now + dt.timedelta(days=rng.randint(-40, 200), hours=rng.randint(0, 23))
            transferred = min(transferred, now - dt.timedelta(days=rng.randint(20, 120)))
        else:
            deadline = transferred + dt.timedelta(
                days=rng.randint(30, 240), hours=rng.randint(0, 23)
            )
        place = rng.choice(PLACES)
        row: dict[str, Any] = {
            "id": n,
            "topic_id": topic,
            "suggestion_id": n,
            "title": f"{place}{rng.choice(MEASURES)}（{n}）",
            "lead_department_id": dept,
            "co_department_ids": [],
            "officer_id": officer,
            "deadline": deadline,
            "deadline_provisional": False,
            "transferred_at": None if status == "draft" else transferred,
            "status": status,
            "ack_due_at": None,
            "plan_due_at": None,
            "decline_reason": None,
        }
        if status == "transferred":
            row["ack_due_at"] = now + dt.timedelta(days=rng.randint(-10, 5))
        elif status == "declined":
            row["decline_reason"] = "非本单位职责"
        elif status == "acknowledged":
            row["acknowledged_at"] = transferred + dt.timedelta(days=2)
            row["plan_due_at"] = now + dt.timedelta(days=rng.randint(-15, 7))
        elif status in ("in_progress", "completed"):
            row["acknowledged_at"] = transferred + dt.timedelta(days=2)
            row["plan_due_at"] = transferred + dt.timedelta(days=10)
        if status == "completed":
            done = min(now, deadline + dt.timedelta(days=rng.randint(-60, 20)))
            row |= {
                "completed_at": max(done, transferred + dt.timedelta(days=12)),
                "completion_summary": "已按方案完成整改，群众反映问题得到解决。",
                "solved": rng.random() < 0.85,
                "long_term_mechanism": rng.random() < 0.6,
                "progress_percent": 100,
            }
        if status not in ("draft", "declined", "completed"):
            rungs(topic, n, officer, "item_deadline", deadline, SENT_RUNGS, chase=True)
        if status == "transferred":
            rungs(topic, n, officer, "acknowledgement", row["ack_due_at"], ACK_RUNGS)
        if status == "acknowledged":
            rungs(topic, n, officer, "plan", row["plan_due_at"], PLAN_RUNGS)
        if status in ("in_progress", "completed"):  # one plan each; half report progress
            out["plan"].append(
                {
                    "item_id": n,
                    "version": 1,
                    "target": "按期完成整改，群众满意",
                    "measures": rng.choice(MEASURES),
                    "deadline": deadline,
                    "responsible_id": officer,
                    "status": "approved"
                    if status == "completed"
                    else rng.choice(["submitted", "approved", "approved", "returned"]),
                    "submitted_at": transferred + dt.timedelta(days=7),
                }
            )
            if status == "completed" or rng.random() < 0.5:
                out["progress"].append(
                    {
                        "item_id": n,
                        "by_id": officer,
                        "note": "按计划推进，已完成阶段性任务",
                        "percent": 100 if status == "completed" else rng.randint(10, 90),
                        "created_at": min(
                            now, transferred + dt.timedelta(days=rng.randint(15, 60))
                        ),
                    }
                )
        out["item"].append(row)
        out["suggestion"].append(
            {
                "id": n,
                "topic_id": topic,
                "session_id": topic,
                "content": f"建议{place}{rng.choice(MEASURES)}",
                "opinion_ids": [],
                "adoption": "adopted",
            }
        )
    return out


def pg_admin_url() -> str:
    """The PostgreSQL server to create benchmark databases on (never its own database)."""
    url = os.environ.get("XS_BENCH_PG_URL", PG_DEFAULT)
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def bench_database(postgres: bool, *, keep: bool = False) -> Iterator[tuple[str, Path]]:
    """A fresh, migrated database (url) and a work directory; both removed afterwards."""
    from sqlalchemy import create_engine, text

    from config.db import engine_for, migrate

    work = Path(tempfile.mkdtemp(prefix="xs-bench-"))
    admin = None
    name = f"xs_bench_{uuid.uuid4().hex[:8]}"
    if postgres:
        admin_url = pg_admin_url()
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    else:
        url = f"sqlite:///{work / 'bench.db'}"
    try:
        migrate(url)
        yield url, work
    finally:
        engine_for(url).dispose()
        engine_for.cache_clear()
        if keep:
            print(f"临时数据库保留在 {url}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if admin is not None:
            admin.dispose()


def cache_dir() -> Path:
    """Where kept case files live between benchmark runs (XS_BENCH_CACHE)."""
    path = Path(os.environ.get("XS_BENCH_CACHE", Path(tempfile.gettempdir()) / "xs-bench-cache"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_database(
    shape: Shape, postgres: bool, *, name: str, show_progress: bool = True
) -> tuple[str, Generated]:
    """A generated case file kept for reuse: generating 1M items takes minutes, every
    benchmark of a run (and the next run) reads the same one. `name` says which shape it is;
    the sidecar JSON (written last) says it is complete. `drop_cached` removes them all."""
    from sqlalchemy import create_engine, text

    from config.db import engine_for, migrate

    key = f"{name}-{'postgres' if postgres else 'sqlite'}"
    meta = cache_dir() / f"{key}.json"
    if meta.exists():
        saved = json.loads(meta.read_text())
        made = Generated(**saved["generated"])
        made.heads = {int(k): v for k, v in made.heads.items()}
        made.officers = {int(k): v for k, v in made.officers.items()}
        return saved["url"], made
    if postgres:
        admin_url = pg_admin_url()
        db = f"xs_bench_cache_{name}".replace("-", "_")
        url = admin_url.rsplit("/", 1)[0] + f"/{db}"
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{db}"'))
        admin.dispose()
    else:
        path = cache_dir() / f"{key}.db"
        for leftover in cache_dir().glob(f"{key}.db*"):
            leftover.unlink()
        url = f"sqlite:///{path}"
    migrate(url)
    made = generate(engine_for(url), shape, show_progress=show_progress)
    meta.write_text(json.dumps({"url": url, "generated": made.__dict__}, ensure_ascii=False))
    return url, made


def case_file(size: str, postgres: bool, *, show_progress: bool = True) -> tuple[str, Generated]:
    """The benchmarks' shared case file at a size: every status, and 1 % of the items with a
    due deadline rung (10,000 at 1M) for the sweep; generated once and kept."""
    items = SIZES[size]
    shape = Shape(items=items, due=items // 100)
    return cached_database(
        shape, postgres, name=f"{size}-due{shape.due}", show_progress=show_progress
    )


def drop_cached() -> list[str]:
    """Remove every kept case file (SQLite files and xs_bench_cache_* databases)."""
    from sqlalchemy import create_engine, text

    gone = []
    for meta in cache_dir().glob("*.json"):
        url = json.loads(meta.read_text())["url"]
        if url.startswith("postgresql"):
            admin = create_engine(pg_admin_url(), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                db = url.rsplit("/", 1)[1]
                conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
            admin.dispose()
        meta.unlink()
        gone.append(url)
    for leftover in cache_dir().glob("*.db*"):
        leftover.unlink()
    return gone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="10k")
    parser.add_argument("--postgres", action="store_true", help="XS_BENCH_PG_URL 指向的 PostgreSQL")
    parser.add_argument("--keep", action="store_true", help="保留生成的数据库")
    parser.add_argument("--due", type=int, default=0, help="到期未处理的整改期限提醒条数")
    parser.add_argument("--drop-cached", action="store_true", help="删除缓存的生成数据库")
    args = parser.parse_args()
    if args.drop_cached:
        print(json.dumps({"dropped": drop_cached()}))
        return
    with bench_database(args.postgres, keep=args.keep) as (url, _work):
        from config.db import engine_for

        made = generate(engine_for(url), Shape(items=SIZES[args.size], due=args.due))
        print(json.dumps({"url": url, "seconds": round(made.seconds, 1), "rows": made.counts}))


if __name__ == "__main__":
    main()
