"""Normalization and hashing for exact deduplication.

Two texts get the same key when they differ only in width, punctuation, whitespace, letter case
or traditional/simplified script.
"""

import unicodedata
from collections.abc import Callable, Iterable

import regex
import xxhash

_NOT_CONTENT = regex.compile(r"[\p{P}\p{S}\p{Z}\p{C}\s]+")


def dedup_text(text: str, t2s: Callable[[str], str] | None = None) -> str:
    """Reduces a text to what exact dedup compares.

    Args:
        text: the text.
        t2s: a traditional-to-simplified converter; None leaves the script as is.
    """
    text = _NOT_CONTENT.sub("", unicodedata.normalize("NFKC", text).casefold())
    if t2s is not None and text:
        # Convert after removing the noise: OpenCC converts by phrase, so "瞭解" and "瞭 解"
        # would otherwise become "了解" and "瞭解" and get different keys.
        text = _NOT_CONTENT.sub("", t2s(text))
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
