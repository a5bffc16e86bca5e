"""Traditional/Simplified script: find Traditional-only characters, convert only where they occur.

OpenCC's converters rewrite whatever their dictionaries match, including phrases in text that is
already Simplified. :class:`TraditionalGate` converts only the lines that contain at least one
character used in Traditional script alone (a character the converter changes and never produces),
so Simplified text passes through untouched and mixed documents are converted line by line.
"""

from collections.abc import Callable

import numpy as np

# CJK Unified Ideographs, Extension A, Compatibility Ideographs, Extension B.
CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF), (0x20000, 0x2A6DF))


def traditional_only_chars(convert: Callable[[str], str]) -> str:
    """The characters ``convert`` changes and never outputs (about 4,500 for OpenCC t2s)."""
    changed = {}
    for low, high in CJK_RANGES:
        for cp in range(low, high + 1):
            char = chr(cp)
            out = convert(char)
            if out != char:
                changed[char] = out
    produced = set("".join(changed.values()))
    return "".join(sorted(c for c in changed if c not in produced))


# Texts at least this long are checked with the lookup table, shorter ones with a set.
_TABLE_FROM = 100


class TraditionalGate:
    """Applies a Traditional→Simplified converter only to lines with Traditional-only characters.

    Args:
        convert: the converter, e.g. ``opencc.OpenCC("t2s").convert``.
        chars: the Traditional-only characters; computed from ``convert`` when None (~0.2 s).
    """

    def __init__(self, convert: Callable[[str], str], chars: str | None = None):
        self._convert = convert
        self.chars = traditional_only_chars(convert) if chars is None else chars
        # A set test runs at ~60 MB/s; a regex class of 4,500 characters at ~2 MB/s; a lookup
        # table indexed by the code points of the whole text at ~260 MB/s (measured on COIG-CQIA
        # outputs), but costs a few microseconds per call, so short texts use the set.
        self._set = frozenset(self.chars)
        # Whether any ASCII text could be converted (never, with the computed characters).
        self.touches_ascii = any(c.isascii() for c in self._set)
        self._table = np.zeros(0x110000, np.bool_)
        self._table[[ord(c) for c in self._set]] = True

    def has_traditional(self, text: str) -> bool:
        """True when the text holds at least one Traditional-only character."""
        if len(text) < _TABLE_FROM:
            return not self._set.isdisjoint(text)
        code_points = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        return bool(self._table[code_points].any())

    def __call__(self, text: str) -> str:
        if not self.has_traditional(text):
            return text
        lines = text.split("\n")
        return "\n".join(
            line if self._set.isdisjoint(line) else self._convert(line) for line in lines
        )
