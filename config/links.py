"""Where a person acts: every action a message or digest points to, by name, in one table.

Messages are rendered in the domain layer (models), which may name an action but never an
address; this table turns the name into the address a person uses. An action a person does
on a page is the page's address (GET): a message prints it as a link,
'http://…/work/items/12', and the person opens it, signed in (or through his one-time link,
`ONE_TIME`). Every action has its page; an entry may still name an API address
('POST /items/12/reassign'), which a message prints as method and path.
tests/api/test_links.py checks that every entry is a real route (a page or the API) of the
app."""

from __future__ import annotations

import re

from config.settings import get_settings

# Where the signed-in pages of a member, expert or resident live (api/pages/member.py).
MY_TOPICS = "/my/topics"

ACTIONS: dict[str, tuple[str, str]] = {
    "topic.approve": ("GET", "/approvals/topics/{topic_id}"),
    "topic.reject": ("GET", "/approvals/topics/{topic_id}"),
    "topic.screen": ("GET", "/admin/topics/{topic_id}"),
    "topic.rate": ("GET", MY_TOPICS + "/{topic_id}/rate"),
    "participant.rsvp": ("GET", "/my/invitations/{participant_id}"),
    "research.findings": ("GET", "/my/research/{task_id}"),
    "research.summary": ("GET", MY_TOPICS + "/{topic_id}"),
    "research.review": ("GET", "/admin/topics/{topic_id}"),
    "report.approve": ("GET", "/approvals/reports/{report_id}"),
    "report.return": ("GET", "/approvals/reports/{report_id}"),
    # The office edits a report on its topic's page (this address takes it there).
    "report.update": ("GET", "/admin/reports/{report_id}"),
    "item.acknowledge": ("GET", "/work/items/{item_id}"),
    "item.decline": ("GET", "/work/items/{item_id}"),
    "item.reassign": ("GET", "/admin/items/{item_id}"),
    "item.arbitrate": ("GET", "/admin/items/{item_id}"),
    "item.plan": ("GET", "/work/items/{item_id}"),
    "item.progress": ("GET", "/work/items/{item_id}"),
    "item.complete": ("GET", "/work/items/{item_id}"),
    "item.extend": ("GET", "/admin/items/{item_id}"),
    "item.extensions": ("GET", "/work/items/{item_id}"),
    "item.evidence": ("GET", "/work/items/{item_id}"),
    "extension.approve": ("GET", "/admin/extensions/{extension_id}"),
    "extension.refuse": ("GET", "/admin/extensions/{extension_id}"),
    "item.recheck": ("GET", "/admin/items/{item_id}"),
    "plan.review": ("GET", "/admin/plans/{plan_id}"),
    "topic.participants": ("GET", "/admin/topics/{topic_id}"),
    "topic.items": ("GET", "/admin/topics/{topic_id}"),
    # The evaluator scores a topic on his own page (api/pages/evaluations.py).
    "evaluation.submit": ("GET", "/my/evaluations/{evaluation_id}"),
    # Where a person reads a record when a message asks for no action on it.
    "topic.view": ("GET", MY_TOPICS + "/{topic_id}"),
    "item.view": ("GET", "/work/items/{item_id}"),
}

# An action as a message prints it: a page's link 'http://…/work/items/12' (group `path` is
# '/work/items/12'), or an API address 'POST /items/12/reassign' (`method` and `path`). The
# path is ASCII only (a one-time link's token included), so a Chinese word right after a
# link is not taken into it.
ADDRESS = re.compile(
    r"(?:(?<![\w/])(?P<origin>https?://[A-Za-z0-9.\-:\[\]]+)|\b(?P<method>GET|POST|PUT|PATCH|DELETE) )"
    r"(?P<path>/[A-Za-z0-9_.~%\-/]*)"
)


def action(name: str, **ids: object) -> str:
    """Where the person does it: 'http://…/work/items/12' for action('item.acknowledge',
    item_id=12) (a page), 'POST /items/12/reassign' for an API action. An id given as a
    placeholder string ('{id}') stays one, for texts that are filled in later."""
    method, path = ACTIONS[name]
    address = path.format(**ids)
    return base_url() + address if method == "GET" else f"{method} {address}"


# Where a one-time link (models.action_links) is opened: it needs no sign-in.
ONE_TIME = "/act/{token}"


def one_time_url(token: str) -> str:
    return base_url() + ONE_TIME.format(token=token)


# Pages a person opens by address rather than from a message: where to sign in, and a topic's
# public progress (no account needed). `xieshang up` and the demo print them.
SIGN_IN_PAGE = "/login"
PUBLIC_TOPIC_PAGE = "/p/topics/{topic_id}"
# Where a resident proposes a topic without an account (api/pages/propose.py).
PROPOSE_PAGE = "/p/propose"


def sign_in_url() -> str:
    return base_url() + SIGN_IN_PAGE


def public_topic_url(topic_id: int) -> str:
    return base_url() + PUBLIC_TOPIC_PAGE.format(topic_id=topic_id)


def propose_url() -> str:
    return base_url() + PROPOSE_PAGE


def base_url() -> str:
    """Where people reach the platform (XS_PUBLIC_URL, else the API address)."""
    s = get_settings()
    return (s.public_url or f"http://{s.api_host}:{s.api_port}").rstrip("/")


def url(address: str) -> str:
    """The link for a printed action: a page's link as printed, an API address on the
    platform ('POST /items/12/reassign' -> 'http://…/items/12/reassign')."""
    match = ADDRESS.search(address)
    if match is None:
        return base_url() + address
    return (match.group("origin") or base_url()) + match.group("path")


def _pattern(method: str, path: str) -> tuple[str, re.Pattern[str]]:
    return method, re.compile(
        "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>\\d+)", re.escape(path)) + "$"
    )


_PATTERNS = [_pattern(method, path) for method, path in ACTIONS.values() if "{" in path]


def ids_of(address: str) -> dict[str, int]:
    """The record ids an address names ({'item_id': 12} for an item's page)."""
    match = ADDRESS.search(address)
    if match is None:
        return {}
    method, path = match.group("method") or "GET", match.group("path")
    for m, pattern in _PATTERNS:
        found = pattern.match(path)
        if m == method and found:
            return {k: int(v) for k, v in found.groupdict().items()}
    return {}
