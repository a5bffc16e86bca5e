"""Per-text counts of letters by script (Han, Traditional-only Han, kana, Hangul, other), batched.

Hand-written because the language-id fallback needs them for every document: one numpy lookup over
the code points of a whole batch (``PERF-NOTES``: batch numpy beats per-document regex scans) with a
table built once per worker from the ``regex`` module's Unicode script properties.
"""

from collections.abc import Iterable, Sequence

import numpy as np
import regex

# Columns of the count matrix.
OTHER, HAN, HAN_TRAD, KANA, HANGUL, LETTER = range(6)
N_CLASSES = 6
# Planes 0-3 hold every script we tell apart (Han extensions B-H are in planes 2-3); code points
# above count as non-letters (emoji, symbols, rare historic scripts).
TABLE_SIZE = 0x40000
# Kana proper. U+30FB (・) and U+30FC (ー) are left out: Chinese uses the middle dot in foreign
# names (威廉・莎士比亚), so it is no sign of Japanese.
_KANA = regex.compile(r"[\u3041-\u309F\u30A0-\u30FA\u30FD-\u30FF\u31F0-\u31FF\uFF66-\uFF9D]")
_HAN = regex.compile(r"\p{Han}")
_HANGUL = regex.compile(r"\p{Hangul}")
_LETTER = regex.compile(r"\p{L}")


def build_table(traditional_only: Iterable[str] = ()) -> np.ndarray:
    """The class of every code point below ``TABLE_SIZE`` (uint8), one extra slot for the rest.

    Args:
        traditional_only: characters to mark ``HAN_TRAD`` (e.g. from
            ``beam_cqia.text.script.traditional_only_chars``); other Han characters are ``HAN``.
    """
    table = np.zeros(TABLE_SIZE + 1, np.uint8)
    chars = "".join(chr(cp) for cp in range(TABLE_SIZE) if not 0xD800 <= cp < 0xE000)
    # Later assignments win: letters, then the specific scripts.
    for pattern, cls in ((_LETTER, LETTER), (_HANGUL, HANGUL), (_KANA, KANA), (_HAN, HAN)):
        cps = np.fromiter((ord(m) for m in pattern.findall(chars)), np.int64)
        table[cps] = cls
    trad = np.fromiter((ord(c) for c in traditional_only if ord(c) < TABLE_SIZE), np.int64)
    table[trad[table[trad] == HAN]] = HAN_TRAD
    return table


def script_counts(texts: Sequence[str], table: np.ndarray) -> np.ndarray:
    """Counts characters per class for each text: an int64 array of shape (len(texts), 6)."""
    n = len(texts)
    if n == 0:
        return np.zeros((0, N_CLASSES), np.int64)
    cps = np.frombuffer("".join(texts).encode("utf-32-le"), np.uint32)
    lens = np.fromiter(map(len, texts), np.int64, n)
    classes = table[np.minimum(cps, TABLE_SIZE)].astype(np.int64)
    ids = np.repeat(np.arange(n, dtype=np.int64) * N_CLASSES, lens)
    return np.bincount(ids + classes, minlength=n * N_CLASSES).reshape(n, N_CLASSES)
