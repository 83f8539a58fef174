"""The one CJK face every generated document uses (the bulletin's charts, HTML and PDF, the
report's PDF): Noto Sans CJK SC from the `noto-cjk-sans-otc` package, so a fresh machine gets
it through `uv sync` and nothing is fetched at run time."""

from __future__ import annotations

from pathlib import Path

FONT_FAMILY = "Noto Sans CJK SC"
FONT_FACE = 2  # NotoSansCJK-Regular.ttc: JP, KR, SC, TC, HK, then the Mono faces


def font_path() -> Path:
    import noto_cjk_sans_otc

    return Path(str(noto_cjk_sans_otc.FONT_PATH))
