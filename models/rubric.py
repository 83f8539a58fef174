"""The rubric a third-party evaluator (专家、第三方评估机构) scores a topic's outcome by, declared
once: its criteria with their zh-CN labels, guidance and weights, the score scale, the overall
score (the weighted sum, out of 100) and its band. Pages, the API, the messages and the KPI
read it from here."""

from __future__ import annotations

from dataclasses import dataclass

SCALE_MIN, SCALE_MAX = 0, 5  # each criterion is scored 0–5 (whole points)
LOW_SCORE = 2  # a criterion scored this or lower needs its own written reason
FULL_MARKS = 100  # the overall score is out of 100


@dataclass(frozen=True)
class Criterion:
    key: str
    label: str
    guidance: str  # what the evaluator looks at, shown beside the score
    weight: int  # share of the overall score (the weights sum to FULL_MARKS)


CRITERIA: tuple[Criterion, ...] = (
    Criterion(
        "problem_solved",
        "问题解决程度",
        "协商议定的问题是否真正解决，群众反映的症结是否消除；回头看有无反弹。",
        25,
    ),
    Criterion(  # named apart from the satisfaction KPI, whose label only models/kpis.py spells
        "satisfaction",
        "群众满意与参与",
        "群众和利益相关方是否充分参与协商和评价，满意度评价是否认可整改成效。",
        20,
    ),
    Criterion(
        "measures",
        "整改措施落实",
        "整改方案所列措施是否逐项落实，进展和办结是否有佐证材料支撑。",
        20,
    ),
    Criterion(
        "mechanism",
        "长效机制建立",
        "是否形成制度、规范或常态化工作机制，防止同类问题再次发生。",
        20,
    ),
    Criterion(
        "timeliness",
        "工作时效",
        "签收、方案、办结是否按期完成，有无无故延期或反复退回。",
        15,
    ),
)
BY_KEY: dict[str, Criterion] = {c.key: c for c in CRITERIA}

assert sum(c.weight for c in CRITERIA) == FULL_MARKS, "the weights sum to 100"
# Whole weights per scale point keep the overall score a whole number.
assert all(c.weight % SCALE_MAX == 0 for c in CRITERIA), "each weight a multiple of the scale"

# (lowest overall score of the band, band), best first.
BANDS: tuple[tuple[int, str], ...] = ((90, "优秀"), (75, "良好"), (60, "一般"), (0, "较差"))


def overall(scores: dict[str, int]) -> int:
    """The weighted sum out of 100: a criterion at full scale adds its whole weight."""
    return sum(scores[c.key] * c.weight // SCALE_MAX for c in CRITERIA)


def band(score: int | None) -> str | None:
    """优秀 / 良好 / 一般 / 较差 for an overall score (None before it is scored)."""
    if score is None:
        return None
    return next(name for floor, name in BANDS if score >= floor)


def scale_text() -> str:
    return f"{SCALE_MIN}–{SCALE_MAX} 分"


def band_text() -> str:
    """The bands as a person reads them: 优秀（90 分及以上）、良好（75–89 分）…"""
    parts = []
    upper: int | None = None
    for floor, name in BANDS:
        span = f"{floor} 分及以上" if upper is None else f"{floor}–{upper - 1} 分"
        parts.append(f"{name}（{span}）")
        upper = floor
    return "、".join(parts)
