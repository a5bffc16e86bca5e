"""Text normalization for Chinese crawl data.

Each function returns the new text and how many characters or lines it changed, so a stage can
store what it did on the record (tag, don't hide). Traditional-to-simplified conversion takes the
converter as an argument; OpenCC itself is loaded once per worker by the Beam stage.
"""

import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import regex

from beam_cqia.text import pii as piimod
from beam_cqia.text.script import TraditionalGate

# Line and paragraph separators that must become "\n": \v, \f, NEL, LINE/PARAGRAPH SEPARATOR.
_LINE_BREAKS = regex.compile(r"\r\n|[\r\v\f\x85\u2028\u2029]")
# C0/C1 controls except \t and \n, zero-width and invisible format characters, soft hyphen.
# A zero-width joiner is kept only inside emoji sequences (👨‍👩‍👧), where it is part of the glyph.
_INVISIBLE_CLASS = r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u200b\u200c\u2060\ufeff]"
_INVISIBLE = regex.compile(
    _INVISIBLE_CLASS + r"|(?<!\p{Extended_Pictographic}[\ufe0f\U0001f3fb-\U0001f3ff]?)\u200d"
    r"|\u200d(?!\p{Extended_Pictographic})"
)
_INVISIBLE_CHAR = re.compile(_INVISIBLE_CLASS)
# Horizontal whitespace that is not a plain space (NBSP, en/em spaces, ideographic space...).
_ODD_SPACE = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_SPACE_RUN = re.compile("  +")  # "  " is a literal prefix, which ``re`` finds quickly
_BLANK_LINES = regex.compile(r"\n{3,}")
_FENCE = regex.compile(r"^\s*(```|~~~)")
# Pre-checks in the stdlib ``re``, which scans a plain character class 3-10x faster than
# ``regex`` scans the patterns above (most texts have nothing to clean): each matches whenever
# the pattern it guards could.
_ANY_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2028\u2029\u2060\ufeff]"
)  # _LINE_BREAKS and _INVISIBLE
# Full-width ASCII letters and digits only: NFKC would also turn Chinese ，。！？ into ASCII.
_ANY_FULLWIDTH = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")
_ANY_ODD_SPACE = re.compile("[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
# Every character str.isspace accepts (as str.strip uses) except " " and "\n"; a test checks the
# list against every code point.
_OTHER_SPACES = "\t\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
_OTHER_SPACES += "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
# Whatever normalize_whitespace acts on besides the ends of the text: fences, spaces next to a
# line break or another space, blank-line runs, any other whitespace character. All alternatives
# are literals, so ``re`` skips ahead to their first characters instead of trying every position
# (4-5x faster than the separate checks on text that is already clean).
_WHITESPACE_WORK = re.compile(
    "|".join(re.escape(s) for s in ("```", "~~~", "\n ", " \n", "  ", "\n\n\n", *_OTHER_SPACES))
)
# One scan for the characters that repair_latex_escapes, clean_controls and
# fullwidth_to_halfwidth act on (a union of _ANY_EATEN, _ANY_CONTROL and _ANY_FULLWIDTH).
_SPECIAL = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2028\u2029\u2060\ufeff"
    "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]"
)
_EATEN_CHARS = frozenset("\x07\x08\t\x0b\x0c\r")
_CONTROL_CHARS = frozenset(
    [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))]
    + list("\u00ad\u200b\u200c\u200d\u2028\u2029\u2060\ufeff")
)
_FULLWIDTH_CHARS = frozenset(
    chr(c)
    for low, high in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    for c in range(low, high + 1)
)

# Site chrome that crawlers capture with Q&A and encyclopedia content.
_BOILERPLATE_LINE = regex.compile(
    r"^\s*(?:"
    r"(?:编辑于|发布于|修改于|更新于|创作时间[:：]?)\s*\d{4}[-/年]\d{1,2}[-/月]\d{1,2}.*"
    r"|著作权归作者所有.*"
    r"|本词条缺少.*(?:编辑|完善).*"
    r"|(?:赞同|收藏|喜欢|分享|举报|添加评论|\d+\s*条评论)(?:\s*\d*\s*)"
    r")\s*$",
    regex.MULTILINE,
)
# Every alternative of _BOILERPLATE_LINE contains one of these words (kept in sync by a test).
_BOILERPLATE_HINT = re.compile(
    "编辑于|发布于|修改于|更新于|创作时间|著作权归作者所有|本词条缺少"
    "|赞同|收藏|喜欢|分享|举报|添加评论|条评论"
)
_THANKS_FOR_INVITE = regex.compile(r"\A\s*(?:谢邀|谢谢邀请|感谢邀请)[^\n。！!]{0,40}[。！!]?\s*")


class Normalized(NamedTuple):
    """Result of :func:`normalize`: the text and per-kind change counts."""

    text: str
    t2s_chars: int
    control_chars: int
    fullwidth_chars: int
    boilerplate_lines: int
    urls: int = 0
    pii: dict[str, int] = {}  # noqa: RUF012 - NamedTuple default, never mutated
    emoji: int = 0


# LaTeX commands whose backslash a JSON or C-string decoder took for an escape: "\\frac" written
# unescaped as "\frac" in JSON decodes to a form feed and "rac". Control character → the
# commands that start with its escape letter (COIG-CQIA's Zhihu and exam files: \rightarrow,
# \right, \rceil, \frac, \times, \text, \tilde, \theta, \beta, \begin).
_EATEN_ESCAPES = {
    "\x07": "alpha|approx|angle|ast|aleph",
    "\b": "beta|begin|bar|binom|bf|big|bigg|boldsymbol|bullet|bmod|bot|because",
    "\t": "times|text|textbf|textrm|tilde|theta|tan|tau|top|to|triangle|therefore|tfrac",
    "\v": "vec|varepsilon|varphi|vartheta|vert|vdots|vee",
    "\f": "frac|forall|flat|fbox",
    "\r": "rightarrow|right|rceil|rfloor|rangle|rho|rm",
}
_EATEN = regex.compile(
    "|".join(
        f"{regex.escape(c)}(?=(?:{'|'.join(cmd[1:] for cmd in cmds.split('|'))})(?![A-Za-z]))"
        for c, cmds in _EATEN_ESCAPES.items()
    )
)
_ESCAPE_LETTER = {"\x07": "a", "\b": "b", "\t": "t", "\v": "v", "\f": "f", "\r": "r"}
# A line with LaTeX in it: a $ or a backslash command.
_LATEX_LINE = re.compile(r"\$|\\[A-Za-z]")  # two literal prefixes, which ``re`` skips to


def repair_latex_escapes(text: str) -> tuple[str, int]:
    """Puts back the backslash of LaTeX commands that an escape decoder turned into a control
    character (``"$\\frac{1}{2}$"`` decoded as ``"$<FF>rac{1}{2}$"``).

    A control character (BEL, BS, TAB, VT, FF, CR) is repaired only when the letters after it
    complete a known command (``rac`` after FF, ``imes`` after TAB...) and its line holds other
    LaTeX (a ``$`` or a backslash command), so tabs and line breaks in prose stay what they are.

    Returns:
        The repaired text and the number of characters repaired.
    """
    if not _LATEX_LINE.search(text) or not _ANY_EATEN.search(text):
        return text, 0
    lines = text.split("\n")
    count = 0
    for i, line in enumerate(lines):
        if _LATEX_LINE.search(line) and _EATEN.search(line):
            lines[i], n = _EATEN.subn(lambda m: "\\" + _ESCAPE_LETTER[m.group(0)], line)
            count += n
    return ("\n".join(lines), count) if count else (text, 0)


_ANY_EATEN = re.compile("[\x07\x08\t\x0b\x0c\r]")


def clean_controls(text: str) -> tuple[str, int]:
    """Turns line-separator controls into "\\n" and removes invisible characters.

    Returns:
        The cleaned text and the number of characters changed or removed.
    """
    if not _ANY_CONTROL.search(text):
        return text, 0
    changed = 0
    if _LINE_BREAKS.search(text):
        text, n = _LINE_BREAKS.subn("\n", text)
        changed += n
    if "\u200d" in text:
        text, n = _INVISIBLE.subn("", text)
    else:  # without a zero-width joiner, _INVISIBLE is its character class
        text, n = _INVISIBLE_CHAR.subn("", text)
    return text, changed + n


_NESTED_ITEM = regex.compile(r"^([ \t]+)(?=(?:[-*+]|\d{1,3}[.)])[ \t])")


def _clean_line(line: str) -> str:
    # Indentation is meaningful only for nested Markdown list items; elsewhere (paragraph
    # indentation with U+3000 or spaces) it goes.
    match = _NESTED_ITEM.match(line)
    indent = match.group(1).replace("\t", "    ") if match else ""
    return indent + _SPACE_RUN.sub(" ", _ODD_SPACE.sub(" ", line)).strip()


def normalize_whitespace(text: str) -> str:
    """Normalizes horizontal and vertical whitespace, leaving fenced code blocks intact.

    Outside ``` fences: odd spaces become plain spaces, runs of spaces collapse, lines are
    stripped, except the indentation of nested list items. Everywhere: trailing spaces go,
    3+ newlines become 2, the text is stripped.
    """
    return _normalize_whitespace(text)[0]


def _normalize_whitespace(text: str) -> tuple[str, bool]:
    """:func:`normalize_whitespace`, and whether it only removed whitespace next to a line break
    or at the ends and shortened blank-line runs (no space replaced, collapsed or added)."""
    match = _WHITESPACE_WORK.search(text)
    if match is None:
        # No fence, no whitespace but " " and "\n", no " " next to either, no blank-line run:
        # every step below would leave the text as it is.
        return text.strip(), True
    # Nothing _WHITESPACE_WORK looks for (fences, "\n ", "\t", odd spaces) starts before it.
    start = max(match.start() - 1, 0)
    only_edges = True
    if text.find("```", start) < 0 and text.find("~~~", start) < 0:
        if text.find("\n ", start) >= 0 or text.find("\n\t", start) >= 0:
            text = "\n".join(_clean_line(line) for line in text.split("\n"))
            only_edges = False
        else:
            # One str.replace per distinct character: _ODD_SPACE.sub, at a fraction of the cost.
            for char in set(_ANY_ODD_SPACE.findall(text, start)):
                text = text.replace(char, " ")
                only_edges = False
            if "  " in text:
                text = _SPACE_RUN.sub(" ", text)
                only_edges = False
            # Whitespace next to a line break goes. Where there is none, stripping every line
            # changes only the ends of the text, which the final strip() removes anyway, and
            # splitting costs less than the checks for it.
            if "\n" in text:
                text = "\n".join([line.strip() for line in text.split("\n")])
    else:
        out, in_code = [], False
        for line in text.split("\n"):
            if _FENCE.match(line):
                in_code = not in_code
                out.append(line.strip())
            elif in_code:
                out.append(line.rstrip())
            else:
                out.append(_clean_line(line))
        text = "\n".join(out)
        only_edges = False
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip(), only_edges


def fullwidth_to_halfwidth(text: str) -> tuple[str, int]:
    """Converts full-width ASCII letters and digits to half-width; punctuation is kept.

    Returns:
        The converted text and the number of characters converted.
    """
    found = _ANY_FULLWIDTH.findall(text)
    # One str.replace per distinct character: texts hold few distinct ones, and replace runs
    # at memory speed where a regex substitution calls back per run.
    for char in set(found):
        text = text.replace(char, chr(ord(char) - 0xFEE0))
    return text, len(found)


def strip_boilerplate(text: str) -> tuple[str, int]:
    """Removes site chrome: "谢邀" openers, "编辑于 <date>" lines, copyright footers, UI labels.

    Returns:
        The text without those lines and the number of lines (or openers) removed.
    """
    text, removed, _ = _strip_boilerplate(text)
    return text, removed


def _strip_boilerplate(text: str) -> tuple[str, int, bool]:
    """:func:`strip_boilerplate`, and whether the text held a hint word after the opener went."""
    removed = 0
    if _THANKS_FOR_INVITE.match(text):
        text = _THANKS_FOR_INVITE.sub("", text, count=1)
        removed += 1
    hinted = _BOILERPLATE_HINT.search(text) is not None
    if hinted and _may_be_chrome(text) and _BOILERPLATE_LINE.search(text):
        text, n = _BOILERPLATE_LINE.subn("", text)
        removed += n
    return text, removed, hinted


def _may_be_chrome(text: str) -> bool:
    """False only when _BOILERPLATE_LINE cannot match: every alternative but ``\\d+\\s*条评论``
    starts with a hint word and only whitespace may come before it on its line."""
    for match in _BOILERPLATE_HINT.finditer(text):
        word = match.group()
        if word == "条评论":
            return True
        start = match.start()
        before = text[text.rfind("\n", 0, start) + 1 : start]
        if not before or before.isspace():
            return True
    return False


def count_changed_chars(before: str, after: str) -> int:
    """Counts positions that differ between two strings, plus any length difference."""
    if before == after:
        return 0
    if min(len(before), len(after)) < 64:
        return sum(a != b for a, b in zip(before, after, strict=False)) + abs(
            len(before) - len(after)
        )
    n = min(len(before), len(after))
    a = np.frombuffer(before[:n].encode("utf-32-le", "surrogatepass"), np.uint32)
    b = np.frombuffer(after[:n].encode("utf-32-le", "surrogatepass"), np.uint32)
    return int(np.count_nonzero(a != b)) + abs(len(before) - len(after))


URL_POLICIES = ("keep", "remove", "mask")
EMOJI_POLICIES = ("keep", "remove")
URL_MASK = "[链接]"
_URL = regex.compile(r"(?:https?://|www\.)[^\s，。！？、；：“”‘’（）()<>\[\]]+", regex.IGNORECASE)
_MD_LINK = regex.compile(r"\[([^\]\n]*)\]\((?:https?://|www\.)[^)\s]*\)", regex.IGNORECASE)
# Emoji shown as pictures: default emoji presentation, or any pictograph forced by U+FE0F, with
# modifiers and ZWJ sequences; flags. Text-style symbols such as © and ™ are not touched.
_EMOJI = regex.compile(
    r"(?:\p{Emoji_Presentation}|\p{Extended_Pictographic}\ufe0f)"
    r"(?:\ufe0f|\p{Emoji_Modifier}|\u200d(?:\p{Extended_Pictographic}\ufe0f?))*"
    r"|[\U0001F1E6-\U0001F1FF]{2}|[0-9#*]\ufe0f?\u20e3"
)


def _outside_code(text: str, fn: Callable[[str], tuple[str, int]]) -> tuple[str, int]:
    """Applies ``fn`` to the parts of a Markdown text outside fenced code blocks."""
    if "```" not in text and "~~~" not in text:
        return fn(text)
    parts, chunk, in_code, total = [], [], False, 0
    for line in text.split("\n"):
        if _FENCE.match(line):
            if not in_code and chunk:
                new, n = fn("\n".join(chunk))
                parts.append(new)
                total += n
                chunk = []
            elif in_code:
                parts.append("\n".join(chunk))
                chunk = []
            parts.append(line)
            in_code = not in_code
            continue
        chunk.append(line)
    if chunk:
        if in_code:
            parts.append("\n".join(chunk))
        else:
            new, n = fn("\n".join(chunk))
            parts.append(new)
            total += n
    return "\n".join(parts), total


def handle_urls(text: str, policy: str = "remove") -> tuple[str, int]:
    """Removes or masks URLs outside code blocks; Markdown links keep their text.

    Returns:
        The text and the number of URLs handled (counted under ``keep`` too).
    """
    if policy not in URL_POLICIES:
        raise ValueError(f"unknown URL policy {policy!r}; use one of {list(URL_POLICIES)}")

    def _apply(part: str) -> tuple[str, int]:
        count = 0

        def _link(match: "regex.Match[str]") -> str:
            nonlocal count
            count += 1
            return match.group() if policy == "keep" else match.group(1)

        def _bare(match: "regex.Match[str]") -> str:
            nonlocal count
            count += 1
            return {"keep": match.group(), "remove": "", "mask": URL_MASK}[policy]

        part = _MD_LINK.sub(_link, part) if "](" in part else part
        return _URL.sub(_bare, part), count

    return _outside_code(text, _apply)


def remove_emoji(text: str) -> tuple[str, int]:
    """Removes emoji (outside code blocks); returns the text and how many were removed."""
    return _outside_code(text, lambda part: _EMOJI.subn("", part))


# What personal data needs in printable ASCII without a space or "@": eleven digits in a row, a
# hyphen allowed between two (a mobile number's digits; ID and card numbers have more), or an
# area code's ")" or "-" before seven digits, the first 2-9 (a landline). Hashes and ids often
# hold shorter runs of digits.
_ASCII_PII_HINT = re.compile("[0-9](?:-?[0-9]){10}|[)-][2-9][0-9]{6}")


def is_inert(text: str, t2s: Callable[[str], str] | None = None) -> bool:
    """True when :func:`normalize` with ``urls="keep"`` returns ``text`` as it is and counts
    nothing, whatever its other options: printable ASCII without spaces, "@", eleven chained
    digits or a landline's seven after ")" or "-" (identifiers, counts, hashes, domains) holds no
    control, full-width letter, boilerplate word, emoji, personal data or whitespace to clean,
    and ``t2s`` (a :class:`~beam_cqia.text.script.TraditionalGate`, or any converter that
    returns it as it is) leaves it alone."""
    return (
        isinstance(text, str)
        and text.isascii()
        and text.isprintable()
        and " " not in text
        and "@" not in text
        and (len(text) < 8 or _ASCII_PII_HINT.search(text) is None)
        and (_leaves_ascii(t2s) or t2s(text) == text)
    )


def _leaves_ascii(t2s: Callable[[str], str] | None) -> bool:
    """True when ``t2s`` returns every ASCII text as it is without being asked: None, or a
    Traditional gate none of whose characters is ASCII."""
    return t2s is None or (isinstance(t2s, TraditionalGate) and not t2s.touches_ascii)


def all_inert(texts: list[str], t2s: Callable[[str], str] | None = None) -> bool:
    """True when :func:`is_inert` holds for every text, checked in one scan of the texts joined
    by "|" when ``t2s`` is None or a Traditional gate that touches no ASCII (the joined text has
    a character the texts lack, a printable ASCII one that is no digit, ")", "-", space or "@", so
    it is inert exactly when they all are); any other converter is asked about each text."""
    if not _leaves_ascii(t2s):
        return all(is_inert(text, t2s) for text in texts)
    try:
        joined = "|".join(texts)
    except TypeError:  # a text that is no str is not inert
        return False
    return is_inert(joined)


def normalize(
    text: str,
    t2s: Callable[[str], str] | None = None,
    fullwidth: bool = True,
    boilerplate: bool = True,
    *,
    urls: str = "keep",
    pii: str = "keep",
    pii_kinds: tuple[str, ...] = piimod.KINDS,
    emoji: str = "keep",
) -> Normalized:
    """Runs the whole normalization: controls, boilerplate, width, traditional→simplified, personal
    data, URLs, emoji, spaces.

    Args:
        text: the input text.
        t2s: a traditional-to-simplified converter (e.g. ``OpenCC("t2s").convert``, or a
            :class:`~beam_cqia.text.script.TraditionalGate` around it); None skips it.
        fullwidth: convert full-width letters and digits to half-width.
        boilerplate: strip site chrome (see :func:`strip_boilerplate`).
        urls: ``keep``, ``remove`` or ``mask`` URLs outside code blocks (see :func:`handle_urls`).
        pii: ``keep`` (count only), ``mask`` or ``remove`` personal data (see
            :func:`beam_cqia.text.pii.scrub`).
        pii_kinds: which kinds of personal data to look for.
        emoji: ``keep`` or ``remove`` emoji.

    Returns:
        The normalized text and change counts. ``normalize(normalize(x).text).text`` equals
        ``normalize(x).text`` for the same options.
    """
    if emoji not in EMOJI_POLICIES:
        raise ValueError(f"unknown emoji policy {emoji!r}; use one of {list(EMOJI_POLICIES)}")
    if not isinstance(text, str):
        raise TypeError(f"normalize() takes a str, not {type(text).__name__}")
    if text == "":
        # Every step leaves "" as it is; only the option checks of the steps remain.
        if pii != "keep" and pii_kinds:
            piimod.scrub(text, pii, pii_kinds)
        if urls != "keep":
            handle_urls(text, urls)
        if pii == "keep" and pii_kinds:
            piimod.scrub(text, "keep", pii_kinds)
        return Normalized(text, 0, 0, 0, 0, 0, {}, 0)
    if urls == "keep" and is_inert(text, t2s):
        if pii_kinds:  # the option checks the steps below would make
            piimod.checked_kinds(pii, pii_kinds)
        return Normalized(text, 0, 0, 0, 0, 0, {}, 0)
    # The characters the first three steps act on, found in one scan. The steps before
    # fullwidth_to_halfwidth only remove characters or add "\\", letters and "\n", so what is
    # absent here stays absent until then.
    special = _SPECIAL.findall(text)
    present = frozenset(special)
    repaired = control = 0
    if special:
        if not present.isdisjoint(_EATEN_CHARS):
            text, repaired = repair_latex_escapes(text)
        if not present.isdisjoint(_CONTROL_CHARS):
            text, control = clean_controls(text)
        control += repaired
    removed = 0
    hinted = False
    if boilerplate:
        text, removed, hinted = _strip_boilerplate(text)
    width = 0
    if fullwidth and special and not present.isdisjoint(_FULLWIDTH_CHARS):
        text, width = fullwidth_to_halfwidth(text)
    converted = 0
    if t2s is not None and text:
        simplified = t2s(text)
        converted = count_changed_chars(text, simplified)
        text = simplified
    emoji_count = 0
    found: dict[str, int] = {}
    url_count = 0
    scrub_kinds = None
    if pii != "keep" and isinstance(pii_kinds, tuple | list | set | frozenset) and pii_kinds:
        # Checked once, where the first scrub() would check them (an emoji removal before it
        # cannot fail); a one-shot iterator of kinds still goes to scrub() every round.
        scrub_kinds = piimod.checked_kinds(pii, pii_kinds)
    # Emoji removal, masking, URL removal and whitespace clean-up can each expose what another
    # looks for ("138😀12345678" and "138  1234 5678" are phone numbers once the emoji goes or
    # the spaces collapse; "❤010-62345678️" is an emoji once the number goes): repeat until a
    # round changes nothing. A round that changes something shortens the text, so this ends.
    while True:
        before = text
        if emoji == "remove":
            text, n = remove_emoji(text)
            emoji_count += n
        if scrub_kinds is not None:
            text, new = piimod.scrub_checked(text, pii, scrub_kinds)
        elif pii != "keep" and pii_kinds:
            text, new = piimod.scrub(text, pii, pii_kinds)
        else:
            new = {}
        for kind, n in new.items():
            found[kind] = found.get(kind, 0) + n
        if urls != "keep":
            text, n = handle_urls(text, urls)
            url_count += n
        text, only_edges = _normalize_whitespace(text)
        if text == before or (pii == "keep" and urls == "keep" and emoji == "keep"):
            break
        if only_edges and urls == "keep" and emoji == "keep":
            # The next round would change nothing: scrub() leaves its own output as it is, and
            # removing whitespace next to a line break or at an end joins nothing (the line
            # break stays) and changes no lookaround of a pattern (space and line break are
            # alike to each), so scrub() would find nothing new and the whitespace is clean.
            break
    if pii == "keep" and pii_kinds:  # counted once, on the final text
        found = piimod.scrub(text, "keep", pii_kinds).found
    rewritten = removed or converted or width or found or url_count or emoji_count
    # The first strip removed nothing and found no hint word, and no later step could make one
    # or an opener: width conversion only turns letters and digits into letters and digits,
    # masks are bracketed, whitespace clean-up never joins two words (a space or line break
    # stays between them), and clean_controls already removed the \x1c-\x1f that str.strip
    # takes for whitespace and the boilerplate patterns do not. Only conversion and removing
    # (personal data, URLs, emoji, a Markdown link's target) can join or rewrite words.
    if (
        rewritten
        and not (removed or hinted or converted or url_count or emoji_count)
        and (pii != "remove" or not found)
    ):
        rewritten = False
    if boilerplate and rewritten:
        # Removing one opener can expose the next ("谢邀。谢邀。谢邀"), and conversion or
        # clean-up can turn a line into chrome ("編輯於" → "编辑于"): strip until nothing is
        # left, which keeps idempotence. Each round that strips something shortens the text, so
        # this ends. Text that nothing rewrote was already checked by the first strip.
        while True:
            text, again = strip_boilerplate(text)
            if not again:
                break
            removed += again
            text = normalize_whitespace(text)
    return Normalized(text, converted, control, width, removed, url_count, found, emoji_count)
