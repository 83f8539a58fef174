"""Benchmark: API reads under 8 concurrent clients, against a bare FastAPI app serving the same
bodies on the same server settings.

The real app (`api.app:create_app`, uvicorn with the settings `xieshang serve` uses; reads need
no Prefect runner, so none is started) serves a generated case file. Each endpoint's answer is
captured once and a bare FastAPI app, on the same uvicorn settings and the same routes (sync
handlers, as the real ones), returns exactly those bytes: the floor of framework, server and
client. A separate client process (wrk when installed, else an httpx async client) drives 8
connections; runs interleave real and bare, endpoint by endpoint, and alternate which goes
first. Each figure is the median of the runs with its spread (min–max).

    uv run python bench/run.py                       # SQLite, 100k items
    uv run python bench/run.py --postgres --size 1m  # PostgreSQL (XS_BENCH_PG_URL)

Writes bench/results/api_reads-<date>[-postgres][-<label>].json. Goals: throughput ≥ 0.5× the
bare app, p99 ≤ 3× the bare p99. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
GOAL_THROUGHPUT = 0.5  # at least this share of the bare app's requests per second
GOAL_P99 = 3.0  # at most this multiple of the bare app's p99


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"服务进程已退出（{proc.returncode}）：{url}")
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"服务未能在 {timeout:.0f} 秒内启动：{url}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def uvicorn_cmd(app: str, port: int, *extra: str) -> list[str]:
    """The same uvicorn settings for both apps: one process, the defaults `serve` uses."""
    return [
        sys.executable,
        *extra,
        "-m",
        "uvicorn",
        app,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]


# --- the bare app -------------------------------------------------------------------------


def bare_app() -> Any:
    """Routes at the real paths returning the captured bytes (XS_BENCH_BODIES: a JSON file)."""
    from fastapi import FastAPI, Response

    captured = json.loads(Path(os.environ["XS_BENCH_BODIES"]).read_text(encoding="utf-8"))
    app = FastAPI()
    for route, (media_type, b64) in captured.items():
        body = base64.b64decode(b64)

        def endpoint(body: bytes = body, media_type: str = media_type) -> Response:
            return Response(content=body, media_type=media_type)

        # the route's own path shape ({topic_id} and all), so routing costs the same
        app.add_api_route(route, endpoint, methods=["GET"])
    return app


# --- the load clients ---------------------------------------------------------------------

_UNIT = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNIT[m.group(2)]


def load_wrk(url: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, float]:
    cmd = ["wrk", "-t2", f"-c{clients}", f"-d{seconds:g}s", "--latency", "--timeout", "30s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _seconds(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _seconds(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    if rps == 0:  # not one answer within the window: the latency is at least the window
        p50 = p99 = seconds
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50": p50,
        "p99": p99,
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(0) if errors else "",  # type: ignore[dict-item]
    }


def load_httpx(url: str, headers: dict[str, str], clients: int, seconds: float) -> dict[str, Any]:
    """The same measure without wrk: a client process of its own, 8 async connections."""
    code = f"""
import asyncio, json, time, httpx
async def main():
    lat, bad = [], 0
    async with httpx.AsyncClient(headers={headers!r}, limits=httpx.Limits(max_connections={clients})) as c:
        end = time.perf_counter() + {seconds}
        async def worker():
            nonlocal bad
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                r = await c.get({url!r})
                lat.append(time.perf_counter() - t0)
                bad += r.status_code >= 400
        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range({clients})])
        took = time.perf_counter() - t0
    lat.sort()
    print(json.dumps({{"rps": len(lat) / took, "p50": lat[len(lat) // 2],
                      "p99": lat[int(len(lat) * 0.99)], "non_2xx": bad}}))
asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


# --- the benchmark ------------------------------------------------------------------------


def sign_in_headers(session: Any, person_id: int, *, cookie: bool) -> dict[str, str]:
    """A bearer token (API) or the pages' session cookie for a generated person, through the
    app's own token issuing: an account nobody can sign in to with a password."""
    from api.auth import SESSION_COOKIE, issue_token
    from models.tables import Account, Person

    if session.get(Account, person_id) is None:
        session.add(
            Account(
                person_id=person_id,
                login=f"bench-{person_id}",
                password_hash="!",
                tokens_valid_from=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            )
        )
        session.flush()
    person = session.get(Person, person_id)
    token, _ = issue_token(person)
    if cookie:
        return {"Cookie": f"{SESSION_COOKIE}={token}"}
    return {"Authorization": f"Bearer {token}"}


def endpoints(url: str, made: Any) -> list[dict[str, Any]]:
    """What people read most: a topic, the topic list, a topic's item list (paged), a
    department's overdue items (filtered, paged) and my work."""
    from sqlalchemy import func, select
    from sqlmodel import Session

    from config.db import engine_for
    from models.tables import FollowUp, RectificationItem

    engine = engine_for(url)
    with Session(engine) as s:
        topic = s.execute(  # the topic with the most items: the heaviest list
            select(RectificationItem.topic_id)
            .group_by(RectificationItem.topic_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        officer = s.execute(  # the officer who owes the most
            select(FollowUp.owed_by_id)
            .where(FollowUp.status.in_(["open", "sent"]))  # type: ignore[attr-defined]
            .group_by(FollowUp.owed_by_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        dept = s.execute(
            select(RectificationItem.lead_department_id)
            .where(RectificationItem.lead_department_id.in_(list(made.heads)))  # type: ignore[attr-defined]
            .group_by(RectificationItem.lead_department_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
        admin = sign_in_headers(s, made.admin_id, cookie=False)
        me = sign_in_headers(s, officer, cookie=True)
        head = sign_in_headers(s, made.heads[dept], cookie=True)
        s.commit()
    return [
        {"name": "topic", "route": "/topics/{topic_id}", "path": f"/topics/{topic}", "h": admin},
        {
            "name": "topics (50 rows)",
            "route": "/topics",
            "path": "/topics?status=in_progress&limit=50&offset=50",
            "h": admin,
        },
        {
            "name": "topic items (50, page 2)",
            "route": "/topics/{topic_id}/items",
            "path": f"/topics/{topic}/items?limit=50&offset=50",
            "h": admin,
        },
        {
            "name": "department items (overdue, page 2)",
            "route": "/work/items",
            "path": "/work/items?view=overdue&page_no=2",
            "h": head,
        },
        {"name": "my work", "route": "/work", "path": "/work", "h": me},
    ]


def summarize(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["10k", "100k", "1m"], default="100k")
    parser.add_argument("--postgres", action="store_true", help="XS_BENCH_PG_URL 指向的 PostgreSQL")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4.0, help="每次测量的时长")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--label", default="", help="结果文件名的后缀（如 before）")
    parser.add_argument("--keep", action="store_true", help="保留生成的数据库")
    parser.add_argument(
        "--before",
        metavar="COMMIT",
        help="同时测量该提交的应用（同一数据、同一轮次交替），用于修复前后对比",
    )
    args = parser.parse_args()

    from bench.generate import SIZES, Shape, bench_database, generate
    from config.db import engine_for
    from config.settings import get_settings

    load = load_wrk if shutil.which("wrk") else load_httpx
    with bench_database(args.postgres, keep=args.keep) as (url, work):
        env = os.environ | {
            "XS_DATABASE_URL": url,
            "XS_DATA_DIR": str(work / "data"),
            "XS_SECRET_KEY": secrets.token_hex(32),
            "XS_TOKEN_MINUTES": "600",
            "PREFECT_API_URL": "http://127.0.0.1:9/api",  # reads never call Prefect
        }
        os.environ.update(env)
        get_settings.cache_clear()
        made = generate(engine_for(url), Shape(items=SIZES[args.size]))
        eps = endpoints(url, made)

        import httpx

        real_port, bare_port, before_port = free_port(), free_port(), free_port()
        real = subprocess.Popen(uvicorn_cmd("api.app:create_app", real_port), cwd=ROOT, env=env)
        bare = before = None
        sides = {"app": f"http://127.0.0.1:{real_port}", "bare": f"http://127.0.0.1:{bare_port}"}
        if args.before:  # the same app as of that commit, from an exported copy of its tree
            tree = work / "before"
            tree.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.before], cwd=ROOT, capture_output=True, check=True
            ).stdout
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
            before = subprocess.Popen(
                uvicorn_cmd("api.app:create_app", before_port), cwd=tree, env=env
            )
            sides["before"] = f"http://127.0.0.1:{before_port}"
        try:
            base = sides["app"]
            wait_up(f"{base}/health", real)
            captured = {}
            for ep in eps:
                r = httpx.get(base + ep["path"], headers=ep["h"], timeout=60)
                if r.status_code != 200:
                    raise SystemExit(f"{ep['path']}: {r.status_code} {r.text[:300]}")
                ep["bytes"] = len(r.content)
                captured[ep["route"]] = [
                    r.headers["content-type"],
                    base64.b64encode(r.content).decode(),
                ]
            bodies = work / "bodies.json"
            bodies.write_text(json.dumps(captured), encoding="utf-8")
            bare = subprocess.Popen(
                uvicorn_cmd("bench.run:bare_app", bare_port),
                cwd=ROOT,
                env=env | {"XS_BENCH_BODIES": str(bodies)},
            )
            bare_base = sides["bare"]
            wait_up(f"{bare_base}/docs", bare)
            for ep in eps:  # the same bytes from both
                same = httpx.get(bare_base + ep["path"], headers=ep["h"]).content
                assert len(same) == ep["bytes"], ep["path"]

            if before is not None:
                wait_up(f"{sides['before']}/health", before)
            samples: dict[str, dict[str, list[dict[str, Any]]]] = {
                ep["name"]: {side: [] for side in sides} for ep in eps
            }
            for ep in eps:  # warm every server (caches, the planner, the thread pool)
                for b in sides.values():
                    load(b + ep["path"], ep["h"], args.clients, 1)
            for run in range(args.runs):
                for ep in eps:
                    order = list(sides.items())
                    k = run % len(order)  # each side goes first in turn
                    for side, b in order[k:] + order[:k]:
                        got = load(b + ep["path"], ep["h"], args.clients, args.seconds)
                        samples[ep["name"]][side].append(got)
                        print(
                            f"run {run + 1} {ep['name']:<36} {side:<4} "
                            f"{got['rps']:8.0f}/s  p99 {got['p99'] * 1000:8.1f} ms",
                            flush=True,
                        )
        finally:
            for proc in (real, bare, before):
                if proc is not None:
                    stop(proc)

    figures = []
    for ep in eps:
        s = samples[ep["name"]]
        app_rps = summarize([x["rps"] for x in s["app"]])
        bare_rps = summarize([x["rps"] for x in s["bare"]])
        app_p99 = summarize([x["p99"] for x in s["app"]])
        bare_p99 = summarize([x["p99"] for x in s["bare"]])
        ratio = app_rps["median"] / bare_rps["median"]
        p99_ratio = app_p99["median"] / bare_p99["median"]
        then: dict[str, Any] = {}
        if "before" in s:
            b_rps = summarize([x["rps"] for x in s["before"]])
            b_p99 = summarize([x["p99"] for x in s["before"]])
            then = {
                "before_rps": b_rps,
                "before_p99_s": b_p99,
                "before_throughput_ratio": round(b_rps["median"] / bare_rps["median"], 3),
                "before_p99_ratio": round(b_p99["median"] / bare_p99["median"], 2),
            }
        figures.append(
            {
                "endpoint": ep["name"],
                "path": ep["path"],
                "body_bytes": ep["bytes"],
                "app_rps": app_rps,
                "bare_rps": bare_rps,
                "throughput_ratio": round(ratio, 3),
                "app_p99_s": app_p99,
                "bare_p99_s": bare_p99,
                "p99_ratio": round(p99_ratio, 2),
                "goal_met": ratio >= GOAL_THROUGHPUT and p99_ratio <= GOAL_P99,
                **then,
                "errors": sum(x.get("non_2xx", 0) for runs in s.values() for x in runs),
                "runs": s,
            }
        )
    result = {
        "benchmark": "api_reads",
        "backend": "postgresql" if args.postgres else "sqlite",
        "label": args.label,
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "items": SIZES[args.size],
        "rows": made.counts,
        "seed_seconds": round(made.seconds, 1),
        "client": load.__name__.removeprefix("load_"),
        "clients": args.clients,
        "runs": args.runs,
        "seconds_per_run": args.seconds,
        "before": args.before,
        "goals": {"throughput_ratio_at_least": GOAL_THROUGHPUT, "p99_ratio_at_most": GOAL_P99},
        "figures": figures,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.date.today().isoformat()
    suffix = ("-postgres" if args.postgres else "") + (f"-{args.label}" if args.label else "")
    out = RESULTS / f"api_reads-{stamp}{suffix}.json"
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"\n{result['backend']}, {result['items']:,} items, {args.clients} clients")
    print(
        "| endpoint | app req/s | bare req/s | ratio (goal ≥ 0.5) | app p99 | bare p99 | p99 ratio (goal ≤ 3) |"
    )
    print("|---|---|---|---|---|---|---|")
    for f in figures:
        a, b, ap, bp = f["app_rps"], f["bare_rps"], f["app_p99_s"], f["bare_p99_s"]
        print(
            f"| {f['endpoint']} | {a['median']:.0f} ({a['min']:.0f}–{a['max']:.0f}) "
            f"| {b['median']:.0f} ({b['min']:.0f}–{b['max']:.0f}) | {f['throughput_ratio']:.2f}× "
            f"| {ap['median'] * 1000:.0f} ms ({ap['min'] * 1000:.0f}–{ap['max'] * 1000:.0f}) "
            f"| {bp['median'] * 1000:.0f} ms | {f['p99_ratio']:.1f}× |"
        )
        if "before_rps" in f:
            br, bq = f["before_rps"], f["before_p99_s"]
            print(
                f"|   before ({args.before}) | {br['median']:.0f} ({br['min']:.0f}–{br['max']:.0f}) "
                f"| | {f['before_throughput_ratio']:.2f}× | {bq['median'] * 1000:.0f} ms "
                f"({bq['min'] * 1000:.0f}–{bq['max'] * 1000:.0f}) | | {f['before_p99_ratio']:.1f}× |"
            )
    print(f"→ {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
