"""Where a person acts: every action a message or digest points to, by name, in one table.

Messages are rendered in the domain layer (models), which may name an action but never an
address; this table turns the name into the address a person uses. Today that is the HTTP
API; when pages exist, they change here and nowhere else. tests/api/test_links.py checks
that every entry is a real route of the app."""

from __future__ import annotations

ACTIONS: dict[str, tuple[str, str]] = {
    "topic.approve": ("POST", "/topics/{topic_id}/approve"),
    "topic.reject": ("POST", "/topics/{topic_id}/reject"),
    "topic.rate": ("POST", "/topics/{topic_id}/ratings"),
    "participant.rsvp": ("POST", "/participants/{participant_id}/rsvp"),
    "research.findings": ("POST", "/research-tasks/{task_id}/findings"),
    "report.approve": ("POST", "/reports/{report_id}/approve"),
    "report.return": ("POST", "/reports/{report_id}/return"),
    "report.update": ("PUT", "/reports/{report_id}"),
    "item.acknowledge": ("POST", "/items/{item_id}/acknowledge"),
    "item.decline": ("POST", "/items/{item_id}/decline"),
    "item.reassign": ("POST", "/items/{item_id}/reassign"),
    "item.plan": ("POST", "/items/{item_id}/plan"),
    "item.progress": ("POST", "/items/{item_id}/progress"),
    "item.complete": ("POST", "/items/{item_id}/complete"),
    "item.extend": ("POST", "/items/{item_id}/extend"),
    "item.recheck": ("POST", "/items/{item_id}/recheck"),
    "plan.review": ("POST", "/plans/{plan_id}/review"),
}


def action(name: str, **ids: object) -> str:
    """'POST /items/12/acknowledge' for action('item.acknowledge', item_id=12). An id given as
    a placeholder string ('{id}') stays one, for texts that are filled in later."""
    method, path = ACTIONS[name]
    return f"{method} {path.format(**ids)}"
