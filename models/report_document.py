"""The documents of one version of a report (协商成果报告, 第 N 版): DOCX and PDF, in zh-CN.

Built on download, not stored: a document is a pure function of its version row (the row holds
the title, content, topic name and lists as submitted, and its decision once made) and of the
names of who submitted and decided, so the same version always gives byte-identical files
(fixed creation dates, fixed ZIP timestamps) and a later revision can never change an earlier
version's document. Building both takes a few tens of milliseconds, much less than keeping,
checking and backing up a second copy of what the database already holds; unlike an evidence
file, nothing here came from outside and could be lost.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from typing import Any

from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from models import access
from models import pdf as pdf_text
from models.case import get
from models.deadlines import format_local
from models.enums import VersionDecision
from models.fonts import FONT_FAMILY
from models.report import AUTOMATIC, DECISION_LABELS, version
from models.tables import Person, Report, ReportVersion

DOCUMENT_TITLE = "协商成果报告"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a ZIP entry can carry: the same for every file


class DocumentKind(StrEnum):
    DOCX = "docx"
    PDF = "pdf"


CONTENT_TYPES = {
    DocumentKind.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    DocumentKind.PDF: "application/pdf",
}


@dataclass(frozen=True)
class Document:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Sheet:
    """What both formats print, in order: one place decides the wording of a version."""

    heading: str
    subtitle: str
    facts: list[tuple[str, str]]
    notice: tuple[str, str] | None  # (label, text): the return comment or the approval comment
    body: list[tuple[int, str]]  # (level, line): 1 and 2 headings, 0 a paragraph
    suggestions: list[str]
    opinions: list[str]
    created: dt.datetime


def _adoption(entry: dict[str, Any]) -> str:
    if "adopted" not in entry:
        return ""
    label = "采纳" if entry["adopted"] else "不采纳"
    return f"（{label}：{entry['note']}）" if entry.get("note") else f"（{label}）"


def _body(content: str) -> list[tuple[int, str]]:
    """The report's text, its '# ' and '## ' lines as headings; empty lines dropped."""
    lines: list[tuple[int, str]] = []
    for raw in content.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("## "):
            lines.append((2, line[3:].strip()))
        elif line.startswith("# "):
            lines.append((1, line[2:].strip()))
        else:
            lines.append((0, line))
    return lines


def sheet(v: ReportVersion, topic_id: int, submitted_by: str, decided_by: str | None) -> Sheet:
    """The wording of one version's document."""
    facts = [
        ("议题", f"{v.topic_title}（议题 {topic_id}）"),
        ("版本", f"第 {v.number} 版"),
        ("状态", DECISION_LABELS[v.decision]),
        ("报送日期", format_local(v.submitted_at)),
        ("报送人", submitted_by),
    ]
    if v.decision in (VersionDecision.RETURNED, VersionDecision.APPROVED) and v.decided_at:
        verb = "退回" if v.decision == VersionDecision.RETURNED else "审定"
        facts.append((f"{verb}日期", format_local(v.decided_at)))
        facts.append((f"{verb}人", decided_by or ""))
    elif v.decision == VersionDecision.SUPERSEDED and v.decided_at:
        facts.append(("取代日期", format_local(v.decided_at)))
    notice = None
    if v.decision == VersionDecision.RETURNED:
        notice = ("退回意见", v.decision_comment or "")
    elif v.decision == VersionDecision.APPROVED and v.decision_comment:
        notice = ("审定意见", v.decision_comment)
    return Sheet(
        heading=DOCUMENT_TITLE,
        subtitle=v.title,
        facts=facts,
        notice=notice,
        body=[line for line in _body(v.content) if line != (1, v.title)],  # no title twice
        suggestions=[f"{s['content']}{_adoption(s)}" for s in v.suggestions],
        opinions=[f"{o['speaker']}：{o['content']}" for o in v.opinions],
        created=v.submitted_at,
    )


def filename(topic_id: int, number: int, kind: DocumentKind) -> str:
    return f"{DOCUMENT_TITLE}-议题{topic_id}-第{number}版.{kind.value}"


def document(
    session: Session, report_id: int, number: int, kind: DocumentKind, reader: Person
) -> Document:
    """One version's document for a reader of the report (404 for a topic he may not see or a
    version that does not exist)."""
    report = get(session, Report, report_id)
    access.see_topic(session, reader, report.topic_id)
    v = version(session, report_id, number)
    submitter, decider = aliased(Person), aliased(Person)
    names = session.exec(
        select(submitter.name, decider.name)  # type: ignore[call-overload]
        .select_from(ReportVersion)
        .outerjoin(submitter, col(submitter.id) == col(ReportVersion.submitted_by_id))
        .outerjoin(decider, col(decider.id) == col(ReportVersion.decided_by_id))
        .where(ReportVersion.id == v.id)
    ).one()
    content = sheet(v, report.topic_id, names[0] or AUTOMATIC, names[1])
    data = build_docx(content) if kind == DocumentKind.DOCX else build_pdf(content)
    return Document(filename(report.topic_id, number, kind), CONTENT_TYPES[kind], data)


# --- DOCX ---------------------------------------------------------------------------------


def build_docx(s: Sheet) -> bytes:
    """A Word document in the CJK face (set for East Asian text too, which Word reads apart)."""
    from docx import Document as Docx
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Docx()
    for style_name in ("Normal", "Title", "Heading 1", "Heading 2", "List Number"):
        style = doc.styles[style_name]
        style.font.name = FONT_FAMILY  # type: ignore[attr-defined]
        fonts = style.element.get_or_add_rPr().get_or_add_rFonts()  # type: ignore[attr-defined]
        fonts.set(qn("w:eastAsia"), FONT_FAMILY)
    doc.styles["Normal"].font.size = Pt(11)  # type: ignore[attr-defined]
    props = doc.core_properties
    props.title = f"{s.heading}：{s.subtitle}"
    props.author = "协商 Xieshang"
    props.last_modified_by = "协商 Xieshang"
    props.language = "zh-CN"
    props.created = props.modified = s.created.astimezone(dt.UTC).replace(tzinfo=None)
    props.revision = 1

    doc.add_heading(s.heading, level=0)
    doc.add_paragraph(s.subtitle)
    for label, value in s.facts:
        p = doc.add_paragraph()
        p.add_run(f"{label}：").bold = True
        p.add_run(value)
    if s.notice:
        p = doc.add_paragraph()
        p.add_run(f"{s.notice[0]}：").bold = True
        p.add_run(s.notice[1])
    doc.add_heading("报告正文", level=1)
    for level, line in s.body:
        if level:
            doc.add_heading(line, level=level + 1 if level == 1 else 2)
        else:
            doc.add_paragraph(line)
    doc.add_heading("协商意见建议清单", level=1)
    for i, text in enumerate(s.suggestions, 1):
        doc.add_paragraph(f"{i}. {text}")
    if not s.suggestions:
        doc.add_paragraph("（无）")
    doc.add_heading("共识意见", level=1)
    for i, text in enumerate(s.opinions, 1):
        doc.add_paragraph(f"{i}. {text}")
    if not s.opinions:
        doc.add_paragraph("（无）")
    buf = io.BytesIO()
    doc.save(buf)
    return _fixed_zip(buf.getvalue())


def _fixed_zip(data: bytes) -> bytes:
    """The same entries with one fixed timestamp: python-docx stamps each with the clock."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=ZIP_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


# --- PDF ----------------------------------------------------------------------------------


def build_pdf(s: Sheet) -> bytes:
    """A4 portrait; the CJK face is embedded (subset) so any PDF reader shows the text."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    class Report(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(FONT_FAMILY, size=8)
            self.set_text_color(120, 120, 120)
            self.cell(0, 5, f"{s.subtitle}　第 {self.page_no()} 页 / 共 {{nb}} 页", align="C")

    pdf = Report(orientation="P", unit="mm", format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=18)
    pdf_text.prepare(pdf, title=f"{s.heading}：{s.subtitle}")
    pdf.set_creation_date(s.created.astimezone(dt.UTC))
    pdf.add_page()
    text = partial(pdf_text.text, pdf, size=11, h=7)
    heading = partial(pdf_text.heading, pdf)

    pdf.set_font(FONT_FAMILY, size=22)
    pdf.cell(0, 14, s.heading, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    text(s.subtitle, size=13, h=8)
    pdf.ln(2)
    for label, value in s.facts:
        text(f"{label}：{value}", size=10.5, h=6.5)
    if s.notice:
        pdf.ln(2)
        text(f"{s.notice[0]}：{s.notice[1]}", size=11, color=(180, 30, 30))
    heading("报告正文")
    for level, line in s.body:
        if level:
            heading(line, size=13 if level == 1 else 12)
        else:
            text(line)
    heading("协商意见建议清单")
    for i, line in enumerate(s.suggestions, 1):
        text(f"{i}. {line}")
    if not s.suggestions:
        text("（无）")
    heading("共识意见")
    for i, line in enumerate(s.opinions, 1):
        text(f"{i}. {line}")
    if not s.opinions:
        text("（无）")
    return bytes(pdf.output())
