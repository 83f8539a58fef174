"""zh-CN message templates: one file per event, the first line is the title.

A message is written once, as plain text with structure (one thought per line, a blank line
between paragraphs, `- ` and `1. ` list lines, `一、` section headings, actions printed as
links to the page where one acts, from config.links); each channel renders it its own way (tasks/channels.py). Beside the
text a message carries what a machine reads: the event, the record ids, the deadline and the
link where the recipient acts (the first action it names)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.links import ADDRESS, action, ids_of, url
from config.settings import get_settings

if TYPE_CHECKING:
    from jinja2 import Environment


@lru_cache(maxsize=1)
def _env() -> Environment:
    """The message templates' environment, built at the first message: a stage run that
    queues nothing never pays for importing Jinja (each run is a fresh process)."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    env.globals["action"] = action  # where the recipient acts, from the one table of actions
    return env


# format_local's shape, read back for the machine-readable deadline.
_LOCAL = re.compile(r"(\d{4})年(\d{2})月(\d{2})日 (\d{2}):(\d{2})")
# Context entries that are records: their id goes into the payload as <name>_id.
_RECORDS = ("topic", "item", "plan", "report", "task", "meeting")


@dataclass(frozen=True)
class Message:
    """One rendered event: the text people read and the facts machines read."""

    title: str
    body: str
    link: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def render(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of an event's message."""
    text = _env().get_template(f"{template}.txt").render(**context).strip()
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()


def compose(
    template: str, context: dict[str, Any], *, event_key: str, topic_id: int | None
) -> Message:
    """The message and its payload: event, ids, deadline, link (the first action named)."""
    title, body = render(template, context)
    body = re.sub(r"\n{3,}", "\n\n", body)
    match = ADDRESS.search(body)
    address = match.group(0) if match else None
    # A one-time link, where the message has one, is where the recipient acts.
    link = context.get("one_time_link") or (url(address) if address else None)
    ids: dict[str, Any] = {}
    if topic_id is not None:
        ids["topic_id"] = topic_id
    for key, value in context.items():
        if key.endswith("_id") and isinstance(value, int) and not isinstance(value, bool):
            ids[key] = value
        elif key in _RECORDS and isinstance(getattr(value, "id", None), int):
            ids[f"{key}_id"] = value.id
    if address:
        ids.update(ids_of(address))
    if "item_ids" in context:
        ids["item_ids"] = list(context["item_ids"])
    deadline = context.get("deadline")
    payload = {
        "event": template,
        "event_key": event_key,
        "ids": ids,
        "deadline": _iso(deadline) if isinstance(deadline, str) else None,
        "link": link,
        "action": address,
    }
    return Message(title, body, link, payload)


def _iso(shown: str) -> str | None:
    """'2026年04月22日 23:59' (format_local) as an ISO timestamp with its offset."""
    m = _LOCAL.search(shown)
    if m is None:
        return None
    y, mo, d, hh, mm = (int(g) for g in m.groups())
    return dt.datetime(y, mo, d, hh, mm, tzinfo=get_settings().tz).isoformat()
