"""Normalization and hashing for exact deduplication.

Two texts get the same key when they differ only in width, punctuation, whitespace, letter case
or traditional/simplified script.
"""

import functools
import unicodedata
from collections.abc import Callable, Iterable

import numpy as np
import regex
import xxhash

_NOT_CONTENT = regex.compile(r"[\p{P}\p{S}\p{Z}\p{C}\s]+")
_NOISE_CHAR = regex.compile(r"[\p{P}\p{S}\p{Z}\p{C}\s]")

# Code points below this get an entry in the reduction table (planes 0-2: every script and CJK
# extension in use); a text with any other code point takes the exact path.
_TABLE_LIMIT = 0x30000
_REMOVED, _EXACT_PATH = -1, -2


@functools.cache
def _reduction_table() -> np.ndarray:
    """What each code point becomes in ``dedup_text`` before t2s: one code point (>= 0),
    ``_REMOVED``, or ``_EXACT_PATH`` when the character can interact with its neighbours.

    NFKC is not character by character in general: combining marks reorder and compose with the
    character before them (e + U+0301 → é, ｶ + ﾞ → ガ). A character whose NFKD holds no
    combining mark (canonical combining class > 0) and no second member of a canonical
    composition (including Hangul jamo) cannot do either, so for texts made only of such
    characters NFKC, casefold and the removal of noise characters all work character by
    character, and one table lookup per character gives exactly ``dedup_text``'s result.
    Characters that reduce to two or more code points take the exact path too. Built once per
    process (0.3-0.7 s).
    """
    second = {0x1161 + i for i in range(21)} | {0x11A8 + i for i in range(27)}  # Hangul V, T
    chars = "".join(chr(cp) for cp in range(1, _TABLE_LIMIT) if not 0xD800 <= cp <= 0xDFFF)
    for char in chars:
        decomposition = unicodedata.decomposition(char)
        if decomposition and not decomposition.startswith("<"):
            parts = decomposition.split()
            if len(parts) == 2:
                second.add(int(parts[1], 16))
    noise = {m.start() for m in _NOISE_CHAR.finditer(chars)}
    # NUL is a starter that nothing composes with, so it keeps the characters' forms apart.
    nfkd = unicodedata.normalize("NFKD", "\0".join(chars)).split("\0")
    folded = unicodedata.normalize("NFKC", "\0".join(chars)).casefold().split("\0")
    combining = unicodedata.combining
    table = np.full(0x110000, _EXACT_PATH, np.int32)
    table[0] = _REMOVED  # a control character, left out of ``chars`` (it is their separator)
    for i, (char, decomposed, fold) in enumerate(zip(chars, nfkd, folded, strict=True)):
        cp = ord(char)
        if decomposed == char:
            if combining(char) or cp in second:
                continue
            if fold == char:
                table[cp] = _REMOVED if i in noise else cp
                continue
        elif any(combining(c) or ord(c) in second for c in decomposed):
            continue
        reduced = _NOT_CONTENT.sub("", fold)
        if not reduced:
            table[cp] = _REMOVED
        elif len(reduced) == 1:
            table[cp] = ord(reduced)
    return table


def _reduce_by_table(text: str) -> str | None:
    """``dedup_text`` before t2s through the table, or None when the text needs the exact path."""
    code_points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), "<u4")
    mapped = _reduction_table()[code_points]
    if mapped.min() == _EXACT_PATH:
        return None
    return mapped[mapped >= 0].astype("<u4").tobytes().decode("utf-32-le")


def dedup_text(text: str, t2s: Callable[[str], str] | None = None) -> str:
    """Reduces a text to what exact dedup compares.

    Args:
        text: the text.
        t2s: a traditional-to-simplified converter; None leaves the script as is.
    """
    # The table gives the same result 5-10x faster (NFKC and a Unicode-property regex over the
    # whole text cost ~70% of exact dedup and MinHash normalization; benchmarks/results/perf.md).
    reduced = _reduce_by_table(text) if len(text) > 16 else None
    if reduced is None:
        reduced = _NOT_CONTENT.sub("", unicodedata.normalize("NFKC", text).casefold())
    text = reduced
    if t2s is not None and text:
        # Convert after removing the noise: OpenCC converts by phrase, so "瞭解" and "瞭 解"
        # would otherwise become "了解" and "瞭解" and get different keys.
        converted = t2s(text)
        # Unchanged text is already reduced; converted text may hold new noise characters.
        text = converted if converted == text else _NOT_CONTENT.sub("", converted)
    return text


def dedup_key(parts: Iterable[str], t2s: Callable[[str], str] | None = None) -> str:
    """Returns the exact-dedup key of several fields, or "" when they hold no content at all.

    Fields are reduced separately and joined with a separator, so ("ab", "c") and ("a", "bc")
    get different keys.
    """
    reduced = [dedup_text(p, t2s) for p in parts]
    if not any(reduced):
        return ""
    return xxhash.xxh3_128_hexdigest("\x1f".join(reduced).encode())
