"""How every generated PDF sets its text (fpdf2 over the one CJK face of models.fonts): the
font registered once per document, a paragraph and a heading. The bulletin (tasks/render.py)
and a report version's document (models/report_document.py) both write with these, so the two
never drift apart in how Chinese text wraps or how a heading keeps off the foot of a page."""

from __future__ import annotations

from typing import TYPE_CHECKING

from models.fonts import FONT_FACE, FONT_FAMILY, font_path

if TYPE_CHECKING:
    from fpdf import FPDF

Color = tuple[int, int, int]
BLACK: Color = (0, 0, 0)
HEADING_COLOR: Color = (120, 20, 20)


def prepare(pdf: FPDF, *, title: str) -> None:
    """Register the CJK face (embedded as a subset, so any reader shows the text) and the
    metadata every document carries; `{nb}` in a header or footer becomes the page count."""
    pdf.add_font(FONT_FAMILY, "", str(font_path()), collection_font_number=FONT_FACE)
    pdf.set_title(title)
    pdf.set_author("协商 Xieshang")
    pdf.set_lang("zh-CN")
    pdf.set_creator("xieshang")
    pdf.alias_nb_pages()


def text(pdf: FPDF, line: str, *, size: float, h: float, color: Color = BLACK) -> None:
    """A paragraph across the page, wrapped at any character (Chinese has no spaces)."""
    from fpdf.enums import WrapMode, XPos, YPos

    pdf.set_font(FONT_FAMILY, size=size)
    pdf.set_text_color(*color)
    pdf.multi_cell(0, h, line, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*BLACK)


def heading(pdf: FPDF, line: str, *, size: float = 14, keep: float = 25) -> None:
    """A heading in the documents' red, on a new page when less than `keep` mm are left, so
    it never stands alone at the foot of one."""
    if pdf.will_page_break(keep):
        pdf.add_page()
    pdf.ln(3)
    text(pdf, line, size=size, h=9, color=HEADING_COLOR)
