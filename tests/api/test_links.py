"""Every place a message tells a person to act is a real route of the app: the addresses come
from one table (config/links.py), and no domain text spells one out by hand."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sqlmodel import select
from starlette.routing import Match

from api.app import create_app
from config.links import ACTIONS
from models import dispatch
from models.enums import Stage
from models.tables import Notification

ROOT = Path(__file__).resolve().parents[2]
ADDRESS = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[\w\-/{}]*)")


def _routes() -> list[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of every route the app documents."""
    routes = []
    for path, operations in create_app().openapi()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        routes += [(method.upper(), pattern) for method in operations]
    return routes


def _resolves(method: str, path: str, routes: list[tuple[str, re.Pattern[str]]]) -> bool:
    return any(m == method and p.match(path) for m, p in routes) or _is_page(method, path)


@lru_cache
def _app():  # type: ignore[no-untyped-def]
    return create_app()


def _is_page(method: str, path: str) -> bool:
    """A page the app serves (pages stay outside the OpenAPI, so the schema cannot say)."""
    scope = {"type": "http", "path": path, "method": method, "root_path": "", "headers": []}
    return any(route.matches(scope)[0] == Match.FULL for route in _app().routes)


def test_every_declared_action_is_a_route_of_the_app():
    routes = _routes()
    for name, (method, path) in ACTIONS.items():
        concrete = re.sub(r"\{[^}]+\}", "7", path)
        assert _resolves(method, concrete, routes), f"{name}: {method} {path}"


def test_the_page_addresses_the_command_line_prints_are_pages_of_the_app(client):  # type: ignore[no-untyped-def]
    from config.links import PUBLIC_TOPIC_PAGE, SIGN_IN_PAGE
    from tests.conftest import ANONYMOUS

    sign_in = client.get(SIGN_IN_PAGE, headers=ANONYMOUS)
    assert sign_in.status_code == 200 and "<h1>登录</h1>" in sign_in.text
    # An unknown topic: the public page's own answer, not the app's bare 404.
    public = client.get(PUBLIC_TOPIC_PAGE.format(topic_id=999999), headers=ANONYMOUS)
    assert public.status_code == 404 and "不存在或尚未公开" in public.text


def test_no_template_or_domain_text_spells_out_an_address():
    texts = [*(ROOT / "models" / "templates").glob("*.txt"), *(ROOT / "models").glob("*.py")]
    texts += [*(ROOT / "tasks").rglob("*.py"), *(ROOT / "tasks" / "templates").glob("*")]
    found = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in texts
        for m in ADDRESS.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_every_link_in_every_message_of_a_whole_loop_resolves(loop, session):
    """Run a topic through every stage, a weekly dispatch over it, and read what people got."""
    loop.advance(loop.topic(), to=Stage.ASSESSMENT, start=True)
    other = loop.topic(title="只走到转交的议题")
    loop.advance(other, to=Stage.TRANSFER, start=True)
    dispatch.weekly_dispatch(session)
    session.flush()
    routes = _routes()
    bodies = [n.body for n in session.exec(select(Notification))]
    links = [(m.group(1), m.group(2)) for body in bodies for m in ADDRESS.finditer(body)]
    assert len({path.split("/")[1] for _, path in links}) >= 5, links  # many kinds were sent
    assert all("{" not in path for _, path in links), links  # every id filled in
    unresolved = [f"{m} {p}" for m, p in links if not _resolves(m, p, routes)]
    assert unresolved == []
