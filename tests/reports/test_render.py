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


def _pdf_pages(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    return [
        "".join(ch for ch in page.extract_text() if ch not in "\x00 \n")
        for page in PdfReader(io.BytesIO(pdf)).pages
    ]


@pytest.fixture(scope="module")
def interim(sqlite_url: str) -> Iterator[dict]:
    """October as of 2026-10-20 10:00 (an interim report) and its files."""
    import datetime as dt

    moment = dt.datetime(2026, 10, 20, 2, 0, tzinfo=dt.UTC)
    period = bulletin.choose_period(BulletinKind.MONTHLY, "2026-10", interim=True, now=moment)
    with engine_for(sqlite_url).connect() as conn:
        tx = conn.begin()
        with Session(bind=conn) as s:
            build(s)
            data = bulletin.compute(s, period)
        tx.rollback()
    charts = render.build_charts(data)
    yield {
        "data": data,
        "pdf": render.build_pdf(data, charts),
        "xlsx": render.build_xlsx(data),
        "html": render.build_html(data, charts, embed_font=False),
    }


MARK = "中期，截至2026年10月20日10:00"


def test_interim_pdf_says_so_on_every_page(interim):
    pages = _pdf_pages(interim["pdf"])
    assert len(pages) > 1
    for n, page in enumerate(pages, start=1):
        assert f"2026年10月整改工作月通报（{MARK}）" in page, n  # the running header
    first = pages[0]
    assert "尚未结束，本通报为中期情况，数字统计到生成时刻" in first
    assert "统计期间：2026-10-01至2026-10-20" in first
    assert "截至生成时逾期未办结事项（共2项）" in "".join(pages)
    assert "期末" not in "".join(pages)


def test_final_pdf_names_itself_on_every_page_without_a_mark(monthly):
    pages = _pdf_pages(monthly["pdf"])
    assert all("2026年10月整改工作月通报" in p for p in pages)
    assert not any("中期" in p for p in pages)


def test_interim_xlsx_carries_the_mark(interim):
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(interim["xlsx"]))
    overview = wb["概览"]
    assert overview["A1"].value == "2026年10月整改工作月通报（中期，截至2026年10月20日 10:00）"
    assert overview["A3"].value == "报告性质"
    assert str(overview["B3"].value).startswith(
        "中期，截至2026年10月20日 10:00：2026年10月尚未结束"
    )
    labels = [row[0].value for row in overview.iter_rows(min_row=4)]
    assert "截至生成时逾期未办结" in labels and "期末逾期未办结" not in labels
    for ws in wb.worksheets:  # printed: every page of every sheet
        assert "中期，截至2026年10月20日 10:00" in (ws.oddHeader.center.text or ""), ws.title
    assert wb.properties.title == overview["A1"].value
    overdue = wb["逾期清单"]
    assert [c.value for c in overdue[1]][6] == "截至生成时逾期天数"
    assert [(r[1].value, r[6].value) for r in overdue.iter_rows(min_row=2)] == [
        ("整改事项c4", 22),
        ("整改事项a3", 5),
    ]


def test_final_xlsx_says_it_is_final(monthly):
    from openpyxl import load_workbook

    overview = load_workbook(io.BytesIO(monthly["xlsx"]))["概览"]
    assert (overview["A3"].value, overview["B3"].value) == ("报告性质", "正式通报（统计到期末）")


def test_interim_html_banner(interim):
    html = interim["html"]
    assert "<title>2026年10月整改工作月通报（中期，截至2026年10月20日 10:00）</title>" in html
    assert '<p class="interim">中期，截至2026年10月20日 10:00：2026年10月尚未结束' in html
    assert "截至生成时逾期未办结事项（共 2 项）" in html


def test_charts_have_no_stray_labels_and_one_cjk_face(monkeypatch, monthly):
    """Every text of every chart (titles, ticks, legend, bar numbers) in Noto Sans CJK SC from
    the package, and no lone "%" label under the axis running into the legend."""
    from matplotlib import font_manager
    from matplotlib.text import Text

    drawn: list = []
    monkeypatch.setattr(render, "_png", lambda fig: drawn.append(fig) or PNG)
    # Whatever else in the process changed matplotlib's global font, the charts keep theirs.
    monkeypatch.setitem(render._pyplot().rcParams, "font.family", ["DejaVu Sans"])
    quarterly = _data_for_charts(monthly)
    for data in (monthly["data"], quarterly):
        render.build_charts(data)
    assert len(drawn) == 5
    package_face = [f for f in font_manager.fontManager.ttflist if f.name == render.FONT_FAMILY]
    assert [(f.fname, f.index) for f in package_face] == [
        (str(render.font_path()), render.FONT_FACE)
    ]
    for fig in drawn:
        fig.canvas.draw()
        texts = [t for t in fig.findobj(Text) if t.get_text().strip()]
        assert texts
        assert "%" not in [t.get_text().strip() for t in texts]
        for t in texts:
            prop = t.get_fontproperties()
            assert prop.get_family() == [render.FONT_FAMILY], t.get_text()
            found = font_manager.findfont(prop, fallback_to_default=False)
            assert found == str(render.font_path()), t.get_text()
        bar_numbers = [t.get_text() for t in texts if t.get_text().endswith("%")]
        if fig.axes and fig.axes[0].get_title().endswith("整改完成率与按时完成率"):
            assert "100%" in bar_numbers and "75%" in bar_numbers
        render._pyplot().close(fig)


def _data_for_charts(monthly: dict) -> dict:
    """October's data with a one-month trend attached, to draw the quarterly chart too."""
    o = monthly["data"]["overall"]
    point = {k: o[k] for k in bulletin.TREND_KEYS}
    return {**monthly["data"], "trend": {"months": ["10月"], "overall": [point], "departments": []}}
