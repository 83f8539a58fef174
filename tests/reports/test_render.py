"""The rendered files open and carry the Chinese text: XLSX through openpyxl, PDF through
pypdf (with the CJK font embedded), HTML with its own font subset, charts as PNG."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from sqlmodel import Session

from config.db import engine_for
from models import bulletin
from models.bulletin import BulletinKind
from tasks import render
from tests.reports.dataset import DEPARTMENTS, build

PNG = b"\x89PNG\r\n\x1a\n"


def _data(url: str, period: str, kind: BulletinKind) -> dict:
    with engine_for(url).connect() as conn:
        tx = conn.begin()
        with Session(bind=conn) as s:
            build(s)
            data = bulletin.compute(s, bulletin.parse_period(kind, period))
        tx.rollback()
    return data


@pytest.fixture(scope="module")
def monthly(sqlite_url: str) -> Iterator[dict]:
    """October's data and its files, rendered once for the module (the fonts take seconds)."""
    data = _data(sqlite_url, "2026-10", BulletinKind.MONTHLY)
    charts = render.build_charts(data)
    yield {
        "data": data,
        "charts": charts,
        "pdf": render.build_pdf(data, charts),
        "xlsx": render.build_xlsx(data),
        "html": render.build_html(data, charts),
    }


def test_font_face_is_simplified_chinese():
    from fontTools.ttLib import TTFont

    font = TTFont(str(render.font_path()), fontNumber=render.FONT_FACE, lazy=True)
    assert font["name"].getDebugName(1) == render.FONT_FAMILY


def test_charts_are_png(monthly):
    assert set(monthly["charts"]) == {"completion", "overdue"}
    assert all(png.startswith(PNG) for png in monthly["charts"].values())


def test_xlsx_opens_with_chinese_sheets_and_names(monthly):
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(monthly["xlsx"]))
    assert wb.sheetnames == ["概览", "单位指标", "红黑榜", "逾期清单", "议题指标"]
    ws = wb["单位指标"]
    names = [c.value for c in ws["A"][1:]]
    assert set(names) == set(DEPARTMENTS.values()) - {"区教育局"}
    header = [c.value for c in ws[1]]
    rate_col = header.index("整改完成率")
    first = ws[2]
    assert first[0].value == "城南街道" and first[rate_col].value == 1.0
    assert first[rate_col].number_format == "0.0%"
    boards = {r[2].value: r[0].value for r in wb["红黑榜"].iter_rows(min_row=2)}
    assert boards["城南街道"] == "红榜" and boards["区住建局"] == "黑榜"
    assert boards["区水务局"] == "样本不足，未排名"
    assert wb["逾期清单"].max_row == 1 + 4
    assert wb["概览"]["A1"].value == "2026年10月整改工作月通报"


def test_pdf_has_chinese_text_and_embeds_the_font(monthly):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(monthly["pdf"]))
    # pypdf reads fpdf2's embedded two-byte encoding CMap one byte at a time: drop the NULs.
    raw = "".join(p.extract_text() for p in reader.pages)
    text = "".join(ch for ch in raw if ch not in "\x00 \n")
    for expected in (
        "2026年10月整改工作月通报",
        "红榜",
        "黑榜",
        "城南街道",
        "区住建局",
        "整改事项c4",
    ):
        assert expected in text, expected
    fonts = reader.pages[0]["/Resources"]["/Font"]
    embedded = []
    for ref in fonts.values():
        font = ref.get_object()
        for desc in font.get("/DescendantFonts", []):
            descriptor = desc.get_object()["/FontDescriptor"].get_object()
            if any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")):
                embedded.append(str(font["/BaseFont"]))
    assert embedded and all("NotoSansCJKSC" in name for name in embedded)
    assert reader.metadata.title == "2026年10月整改工作月通报"


def test_html_is_self_contained(monthly):
    html = monthly["html"]
    assert '<html lang="zh-CN">' in html and "2026年10月整改工作月通报" in html
    assert "@font-face" in html and "data:font/woff;base64," in html
    assert html.count("data:image/png;base64,") == 2
    assert "区住建局" in html and "整改事项c4" in html


def test_quarterly_files_show_the_trend(sqlite_url):
    data = _data(sqlite_url, "2026Q4", BulletinKind.QUARTERLY)
    charts = render.build_charts(data)
    assert set(charts) == {"completion", "overdue", "trend"}
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(render.build_xlsx(data)))
    ws = wb["月度趋势"]
    header = [c.value for c in ws[1]]
    assert header[:3] == ["类别", "名称", "10月应办结"]
    assert ws["A2"].value == "全区" and ws["F2"].value == 0.75
    html = render.build_html(data, charts, embed_font=False)
    assert "月度趋势（各单位）" in html and "2026年第四季度整改工作季度评估" in html
