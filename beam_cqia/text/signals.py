"""Rule-based quality signals for Chinese text.

Chinese has no spaces between words, so every signal here works on characters and lines, not
whitespace tokens. Each signal is a pure function of a string; :data:`RULES` names the rules a
spec can ask for and how they turn a record's fields into named float signals.
"""

from collections import Counter
from collections.abc import Callable, Mapping

import regex

_HAN = regex.compile(r"\p{Han}")
_PUNCT = regex.compile(r"\p{P}")
_SPACE = regex.compile(r"\s")
_URL = regex.compile(r"(?:https?://|www\.)[^\s，。！？、；：“”‘’（）()<>]+", regex.IGNORECASE)
_EMOJI = regex.compile(r"\p{Extended_Pictographic}")
# Advertising and contact-harvesting phrases common on Chinese Q&A sites.
_AD = regex.compile(
    r"加(?:我|个)?\s*(?:微信|vx|v信|wx|q群|qq|扣扣)"
    r"|(?:微信|vx|v信|wx|qq)\s*[:：]?\s*[a-z0-9_-]{5,}"
    r"|私信(?:我)?(?:领取|获取|免费)"
    r"|(?:免费)?领取.{0,8}(?:资料|福利|优惠|课程)"
    r"|优惠券|扫码(?:关注|领取|添加)|名额有限|限时(?:免费|优惠)|点击(?:链接|下方)"
    r"|(?:淘宝|天猫|拼多多)(?:店铺|搜索)",
    regex.IGNORECASE,
)


def char_len(text: str) -> float:
    """Number of characters (Chinese text is measured in characters, not words)."""
    return float(len(text))


def cjk_ratio(text: str) -> float:
    """Fraction of non-whitespace characters that are Han ideographs; 0 for empty text."""
    visible = len(text) - len(_SPACE.findall(text))
    return len(_HAN.findall(text)) / visible if visible else 0.0


def punct_ratio(text: str) -> float:
    """Fraction of non-whitespace characters that are punctuation; 0 for empty text."""
    visible = len(text) - len(_SPACE.findall(text))
    return len(_PUNCT.findall(text)) / visible if visible else 0.0


def dup_line_frac(text: str) -> float:
    """Fraction of characters in non-empty lines that repeat an earlier line (Gopher-style)."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    total = sum(len(line) for line in lines)
    if not total:
        return 0.0
    seen: set[str] = set()
    dup = 0
    for line in lines:
        if line in seen:
            dup += len(line)
        else:
            seen.add(line)
    return dup / total


def top_char_frac(text: str) -> float:
    """Fraction of non-whitespace characters taken by the most frequent one ("顶顶顶" → 1.0)."""
    visible = _SPACE.sub("", text)
    if not visible:
        return 0.0
    return Counter(visible).most_common(1)[0][1] / len(visible)


def url_count(text: str) -> float:
    """Number of URLs in the text."""
    return float(len(_URL.findall(text)))


def emoji_ratio(text: str) -> float:
    """Fraction of non-whitespace characters that are emoji pictographs; 0 for empty text."""
    visible = len(text) - len(_SPACE.findall(text))
    return len(_EMOJI.findall(text)) / visible if visible else 0.0


def ad_hits(text: str) -> float:
    """Number of advertising or contact-harvesting phrases (加微信, 私信领取, 优惠券...)."""
    return float(len(_AD.findall(text)))


# Rules computed over a record's main content (see :func:`content_of`).
CONTENT_RULES: Mapping[str, Callable[[str], float]] = {
    "cjk_ratio": cjk_ratio,
    "punct_ratio": punct_ratio,
    "dup_line_frac": dup_line_frac,
    "top_char_frac": top_char_frac,
    "url_count": url_count,
    "emoji_ratio": emoji_ratio,
    "ad_hits": ad_hits,
}
# "chars" gives one signal per text field: chars.<field>.
RULES = ("chars", *CONTENT_RULES)

RAW_TEXT_FIELDS = ("title", "question", "body", "answer")
CQIA_TEXT_FIELDS = ("instruction", "input", "output")


def text_fields_of(record: object) -> tuple[str, ...]:
    """The text fields of a RawDoc (or RawDoc-shaped row) or of a CqiaRecord-shaped row."""
    if hasattr(record, "instruction"):
        return CQIA_TEXT_FIELDS
    return RAW_TEXT_FIELDS


def content_of(record: object) -> str:
    """The text a reader receives as the answer: answer and body (RawDoc) or output (CQIA).

    Falls back to the question (or instruction) when there is no answer-side text, so a record
    is never scored on nothing when it has text.
    """
    if hasattr(record, "instruction"):
        parts = [record.output]  # type: ignore[attr-defined]
        fallback = record.instruction  # type: ignore[attr-defined]
    else:
        parts = [record.answer, record.body]  # type: ignore[attr-defined]
        fallback = record.question or record.title  # type: ignore[attr-defined]
    text = "\n".join(p for p in parts if p)
    return text or fallback


def compute(record: object, rules: tuple[str, ...] | list[str]) -> dict[str, float]:
    """Computes the named rules on a record and returns ``{signal_name: value}``.

    Raises:
        ValueError: when a rule name is unknown.
    """
    unknown = [r for r in rules if r not in RULES]
    if unknown:
        raise ValueError(f"unknown rules {unknown}; known: {list(RULES)}")
    out: dict[str, float] = {}
    if "chars" in rules:
        for field in text_fields_of(record):
            out[f"chars.{field}"] = char_len(getattr(record, field) or "")
    content = None
    for rule in rules:
        fn = CONTENT_RULES.get(rule)
        if fn is not None:
            if content is None:
                content = content_of(record)
            out[rule] = fn(content)
    return out


def numeric_meta(meta: Mapping[str, str], key: str) -> float | None:
    """Reads a numeric source signal (votes, rank...) from a record's meta; None if absent."""
    value = meta.get(key) if meta else None
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return None
