"""Where a person acts: every action a message or digest points to, by name, in one table.

Messages are rendered in the domain layer (models), which may name an action but never an
address; this table turns the name into the address a person uses. Today that is the HTTP
API; when pages exist, they change here and nowhere else. tests/api/test_links.py checks
that every entry is a real route of the app."""

from __future__ import annotations

import re

from config.settings import get_settings

ACTIONS: dict[str, tuple[str, str]] = {
    "topic.approve": ("POST", "/topics/{topic_id}/approve"),
    "topic.reject": ("POST", "/topics/{topic_id}/reject"),
    "topic.screen": ("POST", "/topics/{topic_id}/screening"),
    "topic.rate": ("POST", "/topics/{topic_id}/ratings"),
    "participant.rsvp": ("POST", "/participants/{participant_id}/rsvp"),
    "research.findings": ("POST", "/research-tasks/{task_id}/findings"),
    "research.summary": ("PUT", "/topics/{topic_id}/research-summary"),
    "research.review": ("POST", "/topics/{topic_id}/research-summary/review"),
    "report.approve": ("POST", "/reports/{report_id}/approve"),
    "report.return": ("POST", "/reports/{report_id}/return"),
    # The office edits a report on its topic's page (this address takes it there).
    "report.update": ("GET", "/admin/reports/{report_id}"),
    "item.acknowledge": ("POST", "/items/{item_id}/acknowledge"),
    "item.decline": ("POST", "/items/{item_id}/decline"),
    "item.reassign": ("POST", "/items/{item_id}/reassign"),
    "item.arbitrate": ("POST", "/items/{item_id}/arbitrate"),
    "item.plan": ("POST", "/items/{item_id}/plan"),
    "item.progress": ("POST", "/items/{item_id}/progress"),
    "item.complete": ("POST", "/items/{item_id}/complete"),
    "item.extend": ("POST", "/items/{item_id}/extend"),
    "item.extensions": ("POST", "/items/{item_id}/extensions"),
    "item.evidence": ("POST", "/items/{item_id}/evidence"),
    "extension.approve": ("POST", "/extensions/{extension_id}/approve"),
    "extension.refuse": ("POST", "/extensions/{extension_id}/refuse"),
    "item.recheck": ("POST", "/items/{item_id}/recheck"),
    "plan.review": ("POST", "/plans/{plan_id}/review"),
    "topic.participants": ("GET", "/admin/topics/{topic_id}"),
    "topic.items": ("GET", "/admin/topics/{topic_id}"),
    # Where a person reads a record when a message asks for no action on it.
    "topic.view": ("GET", "/topics/{topic_id}"),
    "item.view": ("GET", "/items/{item_id}"),
}

# An action as a message prints it: 'POST /items/12/acknowledge'.
ADDRESS = re.compile(r"\b(GET|POST|PUT|PATCH|DELETE) (/[\w\-/]*)")


def action(name: str, **ids: object) -> str:
    """'POST /items/12/acknowledge' for action('item.acknowledge', item_id=12). An id given as
    a placeholder string ('{id}') stays one, for texts that are filled in later."""
    method, path = ACTIONS[name]
    return f"{method} {path.format(**ids)}"


# Where a one-time link (models.action_links) is opened: it needs no sign-in.
ONE_TIME = "/act/{token}"


def one_time_url(token: str) -> str:
    return base_url() + ONE_TIME.format(token=token)


# Pages a person opens by address rather than from a message: where to sign in, and a topic's
# public progress (no account needed). `xieshang up` and the demo print them.
SIGN_IN_PAGE = "/login"
PUBLIC_TOPIC_PAGE = "/p/topics/{topic_id}"


def sign_in_url() -> str:
    return base_url() + SIGN_IN_PAGE


def public_topic_url(topic_id: int) -> str:
    return base_url() + PUBLIC_TOPIC_PAGE.format(topic_id=topic_id)


def base_url() -> str:
    """Where people reach the platform (XS_PUBLIC_URL, else the API address)."""
    s = get_settings()
    return (s.public_url or f"http://{s.api_host}:{s.api_port}").rstrip("/")


def url(address: str) -> str:
    """The link for a printed action ('POST /items/12/plan' -> 'http://…/items/12/plan')."""
    match = ADDRESS.search(address)
    return base_url() + (match.group(2) if match else address)


def _pattern(method: str, path: str) -> tuple[str, re.Pattern[str]]:
    return method, re.compile(
        "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>\\d+)", re.escape(path)) + "$"
    )


_PATTERNS = [_pattern(method, path) for method, path in ACTIONS.values() if "{" in path]


def ids_of(address: str) -> dict[str, int]:
    """The record ids an address names ({'item_id': 12} for an item's plan address)."""
    match = ADDRESS.search(address)
    if match is None:
        return {}
    method, path = match.groups()
    for m, pattern in _PATTERNS:
        found = pattern.match(path)
        if m == method and found:
            return {k: int(v) for k, v in found.groupdict().items()}
    return {}
