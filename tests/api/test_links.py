"""Every place a message tells a person to act is a real address of the app: a page for what
a person does on a page (printed as a link), the API for the office's actions whose pages do
not exist yet. The addresses come from one table (config/links.py), and no domain text spells
one out by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from sqlmodel import select

from api.app import create_app
from api.pages.render import PageRoute
from config.links import ACTIONS, ADDRESS, action, base_url, ids_of
from models import dispatch
from models.enums import Stage
from models.tables import Notification

ROOT = Path(__file__).resolve().parents[2]
# An API address as a text would spell it out by hand.
HAND_WRITTEN = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[\w\-/{}]*)|https?://")

Routes = list[tuple[str, re.Pattern[str], bool]]


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, also those of the routers the app includes (none has a prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from _api_routes(route.original_router.routes)


def _routes() -> Routes:
    """(method, path pattern, is a page) of every route of the app, API and pages."""
    found = []
    for route in _api_routes(create_app().routes):
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", route.path) + "$")
        found += [(m, pattern, isinstance(route, PageRoute)) for m in route.methods]
    return found


def _resolves(method: str, path: str, routes: Routes, *, page: bool) -> bool:
    return any(m == method and p.match(path) and is_page == page for m, p, is_page in routes)


def test_every_declared_action_is_a_page_or_a_route_of_the_api():
    routes = _routes()
    for name, (method, path) in ACTIONS.items():
        concrete = re.sub(r"\{[^}]+\}", "7", path)
        assert method == "GET", f"{name}: a page is opened, not posted"
        assert _resolves(method, concrete, routes, page=True), f"{name}: {method} {path}"


def test_an_action_prints_as_a_link_to_its_page_and_names_its_record():
    link = action("item.acknowledge", item_id=12)
    assert link == f"{base_url()}/work/items/12"
    assert ids_of(f"办理方式：打开 {link} 签收。") == {"item_id": 12}
    assert ids_of(action("participant.rsvp", participant_id=3)) == {"participant_id": 3}
    # The office's actions have pages too; an API address in a text still names its record.
    assert action("item.reassign", item_id=5) == f"{base_url()}/admin/items/5"
    assert ids_of(action("extension.approve", extension_id=4)) == {"extension_id": 4}
    # A Chinese word right after a link is not part of it.
    assert ADDRESS.search(f"打开 {link}签收").group(0) == link  # type: ignore[union-attr]


def test_the_page_addresses_the_command_line_prints_are_pages_of_the_app(client):  # type: ignore[no-untyped-def]
    from config.links import PROPOSE_PAGE, PUBLIC_TOPIC_PAGE, SIGN_IN_PAGE
    from tests.conftest import ANONYMOUS

    sign_in = client.get(SIGN_IN_PAGE, headers=ANONYMOUS)
    assert sign_in.status_code == 200 and "<h1>登录</h1>" in sign_in.text
    propose = client.get(PROPOSE_PAGE, headers=ANONYMOUS)
    assert propose.status_code == 200 and "<h1>提出议题建议</h1>" in propose.text
    # An unknown topic: the public page's own answer, not the app's bare 404.
    public = client.get(PUBLIC_TOPIC_PAGE.format(topic_id=999999), headers=ANONYMOUS)
    assert public.status_code == 404 and "不存在或尚未公开" in public.text


def test_no_template_or_domain_text_spells_out_an_address():
    texts = [*(ROOT / "models" / "templates").glob("*.txt"), *(ROOT / "models").glob("*.py")]
    texts += [*(ROOT / "tasks").rglob("*.py"), *(ROOT / "tasks" / "templates").glob("*")]
    found = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in texts
        for m in HAND_WRITTEN.finditer(path.read_text(encoding="utf-8"))
    ]
    assert found == []


def test_every_link_in_every_message_of_a_whole_loop_resolves(loop, session):
    """Run a topic through every stage, a weekly dispatch over it, and read what people got:
    every person's action is a link to a page, never an HTTP verb."""
    loop.advance(loop.topic(), to=Stage.ASSESSMENT, start=True)
    other = loop.topic(title="只走到转交的议题")
    loop.advance(other, to=Stage.TRANSFER, start=True)
    dispatch.weekly_dispatch(session)
    session.flush()
    routes = _routes()
    bodies = [n.body for n in session.exec(select(Notification))]
    found = [m for body in bodies for m in ADDRESS.finditer(body)]
    pages = [m.group("path") for m in found if m.group("origin")]
    api = [f"{m.group('method')} {m.group('path')}" for m in found if m.group("method")]
    assert len({path.split("/")[1] for path in pages}) >= 3, pages  # many kinds were sent
    assert all(m.group("origin") == base_url() for m in found if m.group("origin"))
    assert [p for p in pages if not _resolves("GET", p, routes, page=True)] == []
    assert api == []  # no message tells anyone to send an HTTP request
    assert "办理方式：打开 http" in "\n".join(bodies)
