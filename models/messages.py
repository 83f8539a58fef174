"""zh-CN message templates: one file per event, the first line is the title."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from config.links import action

_env = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    undefined=StrictUndefined,
    keep_trailing_newline=False,
    trim_blocks=True,
    lstrip_blocks=True,
    autoescape=False,
)
_env.globals["action"] = action  # where the recipient acts, from the one table of actions


def render(template: str, context: dict[str, Any]) -> tuple[str, str]:
    """(title, body) of an event's message."""
    text = _env.get_template(f"{template}.txt").render(**context).strip()
    title, _, body = text.partition("\n")
    return title.strip(), body.strip()
