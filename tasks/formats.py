"""One message, rendered per channel: plain text, Markdown and HTML from the same structured text.

The text is what models/messages writes: lines, blank lines between paragraphs, `- ` and `1. `
list lines, `一、` section headings, actions printed as by their method and path. Apprise's own
conversions join lines and drop link targets, so each channel gets its body ready-made and is
told its format (email: HTML, whose plain part Apprise derives line by line from it;
DingTalk: Markdown; the text-only robots: plain text; JSON webhooks: plain text plus fields).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from config.links import ADDRESS, url

HEADING = re.compile(r"^[一二三四五六七八九十]+、")
NUMBERED = re.compile(r"^\d+\. ")
LINK_LABEL = "去办理"
LINK_LINE = "办理入口："


@dataclass(frozen=True)
class Block:
    """A paragraph (lines kept apart), a list, or a section heading."""

    kind: str  # "para" | "list" | "heading"
    lines: tuple[str, ...]


def blocks(body: str) -> list[Block]:
    """Split the structured text into blocks; a blank line ends one."""
    out: list[Block] = []
    current: list[str] = []
    kind = "para"

    def close() -> None:
        nonlocal current
        if current:
            out.append(Block(kind, tuple(current)))
        current = []

    for raw in body.splitlines():
        line = raw.strip()
        if not line:
            close()
            continue
        if HEADING.match(line):
            close()
            out.append(Block("heading", (line,)))
            continue
        line_kind = "list" if line.startswith("- ") or NUMBERED.match(line) else "para"
        if line_kind != kind:
            close()
            kind = line_kind
        current.append(line)
    close()
    return out


def plain(body: str, link: str | None) -> str:
    """Plain text: the lines as written, the link on its own line at the end."""
    text = "\n\n".join("\n".join(b.lines) for b in blocks(body))
    return f"{text}\n\n{LINK_LINE}{link}" if link else text


def markdown(body: str, link: str | None) -> str:
    """Markdown as DingTalk renders it: hard line breaks, bold headings, actions as links."""

    def escape(text: str) -> str:
        return re.sub(r"([\\`*_\[\]])", r"\\\1", text)

    def inline(line: str) -> str:
        """Markdown's characters escaped, each address a link (its target as it is: a token's
        `_` must not become `\\_`)."""
        out, at = [], 0
        for m in ADDRESS.finditer(line):
            out += [escape(line[at : m.start()]), f"[{escape(m.group(0))}]({url(m.group(0))})"]
            at = m.end()
        return "".join([*out, escape(line[at:])])

    parts = []
    for b in blocks(body):
        if b.kind == "heading":
            parts.append(f"**{inline(b.lines[0])}**")
        elif b.kind == "list":
            parts.append("\n".join(inline(line) for line in b.lines))
        else:
            parts.append("  \n".join(inline(line) for line in b.lines))
    if link:
        parts.append(f"[{LINK_LABEL}]({link})")
    return "\n\n".join(parts)


BUTTON = (
    "display:inline-block;padding:8px 20px;background:#b71c1c;color:#ffffff;"
    "text-decoration:none;border-radius:4px;font-weight:bold"
)


def as_html(title: str, body: str, link: str | None) -> str:
    """An e-mail body: a paragraph per block, a line per line, a button to where one acts.
    Lists keep their numbers as text, so the plain part Apprise derives keeps them too."""

    def inline(line: str) -> str:
        escaped = html.escape(line, quote=False)
        return ADDRESS.sub(
            lambda m: f'<a href="{html.escape(url(m.group(0)))}">{m.group(0)}</a>', escaped
        )

    parts = [f'<h3 style="margin:0 0 12px">{html.escape(title)}</h3>']
    for b in blocks(body):
        if b.kind == "heading":
            parts.append(f'<p style="margin:16px 0 4px"><strong>{inline(b.lines[0])}</strong></p>')
        elif b.kind == "list":
            parts.append(
                "".join(f'<div style="margin:2px 0 2px 1em">{inline(x)}</div>' for x in b.lines)
            )
        else:
            parts.append('<p style="margin:8px 0">' + "<br>".join(map(inline, b.lines)) + "</p>")
    if link:
        href = html.escape(link)
        parts.append(
            f'<p style="margin:20px 0 8px"><a href="{href}" style="{BUTTON}">{LINK_LABEL}</a></p>'
        )
        parts.append(
            f'<p style="color:#666666;font-size:12px">{LINK_LINE}<a href="{href}">{href}</a></p>'
        )
    inner = "\n".join(parts)
    return (
        "<div style=\"font-family:'PingFang SC','Microsoft YaHei',sans-serif;"
        f'font-size:14px;line-height:1.7;color:#222222">\n{inner}\n</div>'
    )
