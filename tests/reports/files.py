"""Read a bulletin's tables back from its files as a person's program would: XLSX cells with
openpyxl, the PDF's table cells with pypdf (each cell is one text run; a row is the runs on one
baseline, in reading order), the HTML's tables and overview with the standard parser. Values
come back keyed by the column's heading, so a test compares whole rows: a dropped or an extra
column fails as surely as a wrong number."""

from __future__ import annotations

import io
from collections import defaultdict
from html.parser import HTMLParser
from typing import Any

from models import kpis

Golden = dict[str, Any]


def shown(key: str, value: Any) -> str:
    """A golden value as the PDF and the HTML print it: rates in percent to one place, the
    third-party score in points to one place, the mean score as it is, nothing as a dash."""
    if value is None:
        return "—"
    if key == "evaluation_score":
        return f"{value:.1f} 分"
    if key in kpis.KPIS:
        return f"{value * 100:.1f}%"
    return str(value)


def by_label(golden: Golden, *, text: bool = False) -> dict[str, Any]:
    """A golden row keyed by the labels the files head their columns with."""
    return {kpis.LABELS[k]: shown(k, v) if text else v for k, v in golden.items()}


# --- XLSX ----------------------------------------------------------------------------------


def xlsx_table(content: bytes, sheet: str) -> dict[str, dict[str, Any]]:
    """A sheet whose first row heads its columns and whose first column names its rows."""
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(content))[sheet]
    rows = list(ws.iter_rows(values_only=True))
    header = rows[0]
    return {r[0]: dict(zip(header[1:], r[1:], strict=True)) for r in rows[1:]}


def xlsx_overview(content: bytes) -> dict[str, tuple[Any, ...]]:
    """The 概览 sheet: label → the cells beside it (value, and the note where there is one)."""
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(content))["概览"]
    return {
        r[0]: tuple(c for c in r[1:] if c is not None)
        for r in ws.iter_rows(values_only=True)
        if r[0]
    }


# --- PDF -----------------------------------------------------------------------------------


def pdf_lines(content: bytes) -> list[list[str]]:
    """Every page's text runs grouped by baseline, top to bottom, each line left to right."""
    from pypdf import PdfReader

    lines: list[list[str]] = []
    for page in PdfReader(io.BytesIO(content)).pages:
        runs: dict[float, list[tuple[float, str]]] = defaultdict(list)

        def visit(text: str, _cm: Any, tm: Any, _font: Any, _size: Any, runs: Any = runs) -> None:
            # fpdf2's two-byte encoding comes back with a NUL before each character.
            clean = text.replace("\x00", "").strip()
            if clean:
                runs[round(tm[5], 1)].append((tm[4], clean))

        page.extract_text(visitor_text=visit)
        lines += [[t for _, t in sorted(cells)] for _, cells in sorted(runs.items(), reverse=True)]
    return lines


def pdf_text(content: bytes) -> str:
    return "".join("".join(line) for line in pdf_lines(content)).replace(" ", "")


def pdf_table(content: bytes, first: str) -> dict[str, dict[str, str]]:
    """The rows of every table whose heading row starts with `first`, by name: heading →
    cell. A table split into column groups (or over pages) repeats the name column and its
    heading row; the parts are joined."""
    rows: dict[str, dict[str, str]] = {}
    header: list[str] | None = None
    for cells in pdf_lines(content):
        if cells[0] == first and len(cells) > 1:
            header = cells
        elif header is not None and len(cells) == len(header):
            rows.setdefault(cells[0], {}).update(zip(header[1:], cells[1:], strict=True))
        else:
            header = None
    return rows


def pdf_pairs(content: bytes) -> dict[str, str]:
    """Label-value pairs side by side on a line (the overview's grid): lines whose every
    other cell is a label and whose cells between are not (a table's heading row is all
    labels)."""
    names = set(kpis.LABELS.values())
    found: dict[str, str] = {}
    for cells in pdf_lines(content):
        labels, values = cells[::2], cells[1::2]
        if all(c in names for c in labels) and not any(c in names for c in values):
            found.update(zip(labels, values, strict=False))
    return found


# --- HTML ----------------------------------------------------------------------------------


class _Tables(HTMLParser):
    """Every <table> as rows of cell texts, and the overview's <dt>/<dd> pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.pairs: dict[str, str] = {}
        self._cell: list[str] | None = None
        self._dt: str | None = None

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th", "dt", "dd"):
            self._cell = []

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._cell is None:
            return
        text = "".join(self._cell).strip()
        if tag in ("td", "th"):
            self.tables[-1][-1].append(text)
        elif tag == "dt":
            self._dt = text
        elif tag == "dd" and self._dt is not None:
            self.pairs[self._dt] = text
        self._cell = None


def html_tables(html: str) -> tuple[list[dict[str, dict[str, str]]], dict[str, str]]:
    """Each table by row name (heading → cell), and the overview's label → value."""
    parser = _Tables()
    parser.feed(html)
    tables = [
        {r[0]: dict(zip(t[0][1:], r[1:], strict=True)) for r in t[1:]} for t in parser.tables if t
    ]
    return tables, parser.pairs
