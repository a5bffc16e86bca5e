"""The fast paths of normalize() and pii.scrub() against the computation they replaced.

The reference below is the code before the fast paths (one scan per pre-check, regex
substitutions for width folding and whitespace, a search before every PII substitution, the
ten-digit pre-check, every boilerplate strip re-run): every public function must return exactly
what it returns, on adversarial Unicode and on the benchmark's web bodies.
"""

import os
import re
import sys
from collections.abc import Callable

import opencc
import pytest
import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st

from beam_cqia.text import normalize as norm
from beam_cqia.text import pii
from tests.text.test_pii import CARD, ID, ID2, VISA
from tests.text.web_bodies import noisy_web_bodies

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", 300))

# --- the reference: the code before the fast paths -------------------------------------------

_R_LINE_BREAKS = regex.compile(r"\r\n|[\r\v\f\x85\u2028\u2029]")
_R_INVISIBLE = regex.compile(
    r"[\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u200b\u200c\u2060\ufeff]"
    r"|(?<!\p{Extended_Pictographic}[\ufe0f\U0001f3fb-\U0001f3ff]?)\u200d"
    r"|\u200d(?!\p{Extended_Pictographic})"
)
_R_ANY_CONTROL = regex.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200d\u2028\u2029\u2060\ufeff]"
)
_R_ODD_SPACE = regex.compile(r"[\t\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]")
_R_SPACE_RUN = regex.compile(r" {2,}")
_R_BLANK_LINES = regex.compile(r"\n{3,}")
_R_FENCE = regex.compile(r"^\s*(```|~~~)")
_R_NESTED_ITEM = regex.compile(r"^([ \t]+)(?=(?:[-*+]|\d{1,3}[.)])[ \t])")
_R_LINE_EDGE_SPACE = re.compile(r"[^\S\n]\n|\n[^\S\n]")  # str.isspace, as str.strip
_R_FULLWIDTH_RUN = regex.compile(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]+")
_R_FULLWIDTH_TABLE = {cp: cp - 0xFEE0 for cp in range(0xFF10, 0xFF5B)}
_R_BOILERPLATE_LINE = regex.compile(
    r"^\s*(?:"
    r"(?:编辑于|发布于|修改于|更新于|创作时间[:：]?)\s*\d{4}[-/年]\d{1,2}[-/月]\d{1,2}.*"
    r"|著作权归作者所有.*"
    r"|本词条缺少.*(?:编辑|完善).*"
    r"|(?:赞同|收藏|喜欢|分享|举报|添加评论|\d+\s*条评论)(?:\s*\d*\s*)"
    r")\s*$",
    regex.MULTILINE,
)
_R_THANKS = regex.compile(r"\A\s*(?:谢邀|谢谢邀请|感谢邀请)[^\n。！!]{0,40}[。！!]?\s*")
_R_LATEX_LINE = regex.compile(r"\$|\\[A-Za-z]")
_R_TEN_DIGITS = regex.compile(r"\d(?:\D*+\d){9}")
_R_DETECTORS = {
    "id_card": (
        regex.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])"),
        pii.valid_id_number,
    ),
    "bank_card": (regex.compile(r"(?<![0-9])(?:\d[ -]?){15,18}\d(?![0-9])"), pii._card),
    "mobile": (
        regex.compile(r"(?<![0-9])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9])"),
        None,
    ),
    "landline": (
        regex.compile(
            r"(?<![0-9])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}-)[ ]?[2-9]\d{6,7}(?:-\d{1,5})?"
            r"(?![0-9])"
        ),
        None,
    ),
    "email": (
        regex.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+"
            r"(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
        ),
        None,
    ),
}
_R_DIGIT_KINDS = {"id_card", "bank_card", "mobile", "landline"}


def ref_repair_latex_escapes(text: str) -> tuple[str, int]:
    if not regex.search("[\x07\x08\t\x0b\x0c\r]", text) or not _R_LATEX_LINE.search(text):
        return text, 0
    lines = text.split("\n")
    count = 0
    for i, line in enumerate(lines):
        if _R_LATEX_LINE.search(line) and norm._EATEN.search(line):
            lines[i], n = norm._EATEN.subn(lambda m: "\\" + norm._ESCAPE_LETTER[m.group(0)], line)
            count += n
    return ("\n".join(lines), count) if count else (text, 0)


def ref_clean_controls(text: str) -> tuple[str, int]:
    if not _R_ANY_CONTROL.search(text):
        return text, 0
    changed = 0
    if _R_LINE_BREAKS.search(text):
        text, n = _R_LINE_BREAKS.subn("\n", text)
        changed += n
    if _R_INVISIBLE.search(text):
        text, n = _R_INVISIBLE.subn("", text)
        changed += n
    return text, changed


def _ref_clean_line(line: str) -> str:
    match = _R_NESTED_ITEM.match(line)
    indent = match.group(1).replace("\t", "    ") if match else ""
    return indent + _R_SPACE_RUN.sub(" ", _R_ODD_SPACE.sub(" ", line)).strip()


def ref_normalize_whitespace(text: str) -> str:
    if "```" not in text and "~~~" not in text:
        if "\n " in text or "\n\t" in text:
            text = "\n".join(_ref_clean_line(line) for line in text.split("\n"))
        else:
            text = _R_SPACE_RUN.sub(" ", _R_ODD_SPACE.sub(" ", text))
            if _R_LINE_EDGE_SPACE.search(text):
                text = "\n".join(line.strip() for line in text.split("\n"))
    else:
        out, in_code = [], False
        for line in text.split("\n"):
            if _R_FENCE.match(line):
                in_code = not in_code
                out.append(line.strip())
            elif in_code:
                out.append(line.rstrip())
            else:
                out.append(_ref_clean_line(line))
        text = "\n".join(out)
    return _R_BLANK_LINES.sub("\n\n", text).strip()


def ref_fullwidth_to_halfwidth(text: str) -> tuple[str, int]:
    count = 0

    def _convert(match: "regex.Match[str]") -> str:
        nonlocal count
        count += len(match.group())
        return match.group().translate(_R_FULLWIDTH_TABLE)

    return _R_FULLWIDTH_RUN.sub(_convert, text), count


def ref_strip_boilerplate(text: str) -> tuple[str, int]:
    removed = 0
    if _R_THANKS.match(text):
        text = _R_THANKS.sub("", text, count=1)
        removed += 1
    text, n = _R_BOILERPLATE_LINE.subn("", text)
    return text, removed + n


def _ref_scrub_pass(text: str, policy: str, wanted: set[str]) -> tuple[str, dict[str, int]]:
    found: dict[str, int] = {}
    for kind in pii.KINDS:
        if kind not in wanted:
            continue
        pattern, check = _R_DETECTORS[kind]
        if not pattern.search(text):
            continue
        count = 0

        def _replace(match: "regex.Match[str]", kind: str = kind, check=check) -> str:
            nonlocal count
            if check is not None and not check(match.group()):
                return match.group()
            count += 1
            if policy == "keep":
                return match.group()
            return pii.MASKS[kind] if policy == "mask" else ""

        text = pattern.sub(_replace, text)
        if count:
            found[kind] = count
    return text, found


def ref_scrub(text: str, policy: str = "mask", kinds=pii.KINDS) -> tuple[str, dict[str, int]]:
    if policy not in pii.POLICIES:
        raise ValueError(policy)
    wanted = set(kinds)
    if wanted - set(pii.KINDS):
        raise ValueError(kinds)
    if "@" not in text:
        wanted.discard("email")
    if wanted & _R_DIGIT_KINDS and not _R_TEN_DIGITS.search(text):
        wanted -= _R_DIGIT_KINDS
    found: dict[str, int] = {}
    if not wanted:
        return text, found
    while True:
        text, new = _ref_scrub_pass(text, policy, wanted)
        for kind, n in new.items():
            found[kind] = found.get(kind, 0) + n
        if not new or policy == "keep":
            break
    return text, found


def ref_normalize(
    text: str,
    t2s: Callable[[str], str] | None = None,
    fullwidth: bool = True,
    boilerplate: bool = True,
    *,
    urls: str = "keep",
    pii: str = "keep",
    pii_kinds: tuple[str, ...] = pii.KINDS,
    emoji: str = "keep",
) -> norm.Normalized:
    if emoji not in norm.EMOJI_POLICIES:
        raise ValueError(emoji)
    text, repaired = ref_repair_latex_escapes(text)
    text, control = ref_clean_controls(text)
    control += repaired
    removed = 0
    if boilerplate:
        text, removed = ref_strip_boilerplate(text)
    width = 0
    if fullwidth:
        text, width = ref_fullwidth_to_halfwidth(text)
    converted = 0
    if t2s is not None and text:
        simplified = t2s(text)
        converted = norm.count_changed_chars(text, simplified)
        text = simplified
    emoji_count, url_count, found = 0, 0, {}
    while True:
        before = text
        if emoji == "remove":
            text, n = norm.remove_emoji(text)
            emoji_count += n
        if pii != "keep" and pii_kinds:
            text, new = ref_scrub(text, pii, pii_kinds)
            for kind, n in new.items():
                found[kind] = found.get(kind, 0) + n
        if urls != "keep":
            text, n = norm.handle_urls(text, urls)
            url_count += n
        text = ref_normalize_whitespace(text)
        if text == before or (pii == "keep" and urls == "keep" and emoji == "keep"):
            break
    if pii == "keep" and pii_kinds:
        found = ref_scrub(text, "keep", pii_kinds)[1]
    if boilerplate and (removed or converted or width or found or url_count or emoji_count):
        while True:
            text, again = ref_strip_boilerplate(text)
            if not again:
                break
            removed += again
            text = ref_normalize_whitespace(text)
    return norm.Normalized(text, converted, control, width, removed, url_count, found, emoji_count)


# --- adversarial text ------------------------------------------------------------------------

_CHARS = [
    *"aZ09xX-+()（）@._%[]/:$\\*#`~ ，。！？：；、“”",
    *"中文臺灣編輯於谢邀赞同收藏条评论本词缺少著作权归作者所有更新",
    "\n",
    "\t",
    "\r",
    "\x0b",
    "\x0c",
    "\x07",
    "\x08",
    "\x00",
    "\x1c",
    "\x1f",
    "\x7f",
    "\x85",
    "\x9b",
    "\xa0",
    "\u1680",
    "\u2002",
    "\u200a",
    "\u202f",
    "\u205f",
    "\u3000",
    "\u2028",
    "\u2029",
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u00ad",
    "\u0301",
    "\u0308",
    "\u20dd",
    "\ufe0f",
    "\ufe0e",
    "\u20e3",  # combining marks, selectors
    "😀",
    "❤",
    "☺",
    "👍",
    "🏻",
    "🇨",
    "🇳",
    "©",
    "™",  # emoji, modifiers, flags, text symbols
    "０",
    "９",
    "Ａ",
    "ｚ",
    "＠",
    "［",
    "＿",
    "｀",  # full-width: letters, digits, punctuation
    "٣",
    "७",
    "௫",
    "𝟎",
    "\U0001d7d9",
    "\U00011f50",
    "\U0001e4f5",  # non-ASCII digits
    "\ud800",
    "\udfff",
    "\udbff",  # lone surrogates
]
_PII_LIKE = [
    "13812345678",
    "138 1234 5678",
    "138-1234-5678",
    "+86 13812345678",
    "0086-13912345678",
    "86 138 1234 5678",
    "138  1234 5678",
    "138\u30001234\u30005678",
    "1 3 8 1 2 3 4 5 6 7 8",
    ID,
    ID.lower(),
    ID2,
    CARD,
    VISA,
    f"{VISA[:4]} {VISA[4:8]} {VISA[8:12]} {VISA[12:]}",
    "-".join(CARD[i : i + 4] for i in range(0, 19, 4)),
    f"{ID}13812345678",
    f"{ID2}{ID2}",
    "010-62345678",
    "010- 62345678",
    "(010)62345678",
    "(010)6234567",
    "（021） 5234567",
    "（0755）83456789",
    "0755-8345678-123",
    "123(010)62345678 4567",
    "2024年5月6日",
    "12345",
    "1234567",
    "١٢٣٤٥٦٧٨٩٠١",
    "a.b@example.com",
    "13812345678@example.com",
    "138 a@b.cn12345678",
    "x@y",
    "@@",
    "zs@mail.example.cn.",
    "😀13812345678",
    "138😀12345678",
    "❤010-62345678\ufe0f",
    "1\ufe0f\u20e3",
]
_STRUCTURE = [
    "谢邀",
    "谢邀。",
    "謝邀",
    "感谢邀请！",
    "编辑于 2023-05-06 10:21",
    "編輯於 2023-05-06",
    "发布于 2021/3/4",
    "创作时间：2022年1月2日",
    "著作权归作者所有。",
    "本词条缺少概述图，赶紧来编辑吧",
    "赞同 12",
    "3 条评论",
    "收藏",
    "\n收藏\n",
    "喜欢 ",
    "\u3000分享",
    "```",
    "\n```python\n",
    "~~~",
    "\n  - 项",
    "\n\t1. 项",
    "\n   2) 项",
    "    ",
    "\n\n\n",
    " \n ",
    "\r\n",
    "$\x0crac{1}{2}$",
    "$a\times b$",
    "\x08eta",
    "\\alpha",
    "https://a.example.com/x?q=1",
    "www.example.org",
    "[文档](https://b.example.org)",
    "👨\u200d👩\u200d👧",
    "🏳\ufe0f\u200d🌈",
    "❤️",
    "👍🏻",
    "🇨🇳",
    "#\ufe0f\u20e3",
    "ＡＢＣ１２３",
    "這是一個測試",
    "軟體",
    "乾隆",
]
_TOKEN = st.one_of(
    st.sampled_from(_PII_LIKE),
    st.sampled_from(_STRUCTURE),
    st.text(alphabet=st.sampled_from(_CHARS), max_size=6),
)
adversarial = st.lists(_TOKEN, max_size=24).map("".join)
pii_heavy = st.lists(
    st.one_of(
        st.sampled_from(_PII_LIKE),
        st.text(alphabet=st.sampled_from([*"0123456789 -()（）@.a+", "\u3000", "中", "\n"])),
    ),
    max_size=12,
).map("".join)

# ASCII identifiers, counts, hashes, domains, URLs, e-mails, digit runs, fences: what meta values
# hold, and the edges of the inert fast path (a space, an "@", an eleventh chained digit, an area
# code before seven digits, a control).
_ASCII_TOKEN = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127), max_size=8),
    st.text(alphabet=st.sampled_from([*"0123456789-()"]), min_size=1, max_size=14),
    st.sampled_from(
        [
            "sha1:370d4b78af",
            "bbs87.example.cn",
            "https://a.cn/x",
            "a@b.cn",
            "```",
            "~~~",
            "\\t",
            "(010)",
            "0755-",
            "+86",
            "0086",
            "13812345678",
        ]
    ),
)
ascii_text = st.lists(_ASCII_TOKEN, max_size=6).map("".join)

_T2S = opencc.OpenCC("t2s").convert
_GATE = None


def _gate() -> Callable[[str], str]:
    global _GATE
    if _GATE is None:
        from beam_cqia.text.script import TraditionalGate

        _GATE = TraditionalGate(_T2S)
    return _GATE


def _odd_t2s(text: str) -> str:
    """A converter that adds what the steps before it removed: controls, odd spaces, width."""
    return text.replace("於", "于\u3000").replace("臺", "台\x1c").replace("灣", "湾Ｚ\x0c")


_CONVERTERS = {"none": None, "opencc": _T2S, "gate": "gate", "odd": _odd_t2s}
_KIND_SETS = [pii.KINDS, (), ("mobile",), ("email", "landline"), ("id_card", "bank_card")]


# --- properties ------------------------------------------------------------------------------


def _outcome(fn: Callable, *args, **kwargs) -> tuple:
    """The result, or the exception (OpenCC's converter refuses lone surrogates, for one)."""
    try:
        return ("returned", fn(*args, **kwargs))
    except Exception as exc:
        return ("raised", type(exc), str(exc))


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.one_of(adversarial, ascii_text),
    st.sampled_from(sorted(_CONVERTERS)),
    st.booleans(),
    st.booleans(),
    st.sampled_from(norm.URL_POLICIES),
    st.sampled_from(pii.POLICIES),
    st.sampled_from(_KIND_SETS),
    st.sampled_from(norm.EMOJI_POLICIES),
)
@example("谢邀\n谢邀", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("赞13812345678同", "none", True, True, "keep", "remove", pii.KINDS, "keep")
@example("赞[同](https://a.cn)", "none", True, True, "mask", "mask", pii.KINDS, "keep")
@example("编辑于 2023-05-06\n谢邀。正文", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("臺 ０1\n\n\n", "odd", True, True, "keep", "mask", pii.KINDS, "keep")
@example("\x1c谢邀 13812345678", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("123(010)62345678 4567", "none", True, True, "keep", "remove", pii.KINDS, "keep")
@example("編輯於 2023-05-06\n正文１", "opencc", True, True, "keep", "mask", pii.KINDS, "keep")
@example("$\x0crac{1}{2}$ 正文", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("号码138  1234 5678", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("号码138\u30001234\u30005678", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("```\n```\n138  1234 5678", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("\n  - 138\u30001234 5678", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("❤010-62345678\ufe0f", "none", True, True, "keep", "remove", pii.KINDS, "remove")
@example("[a](https://x.cn)@b.cn", "none", True, True, "remove", "remove", pii.KINDS, "keep")
@example("406", "gate", True, True, "keep", "mask", pii.KINDS, "keep")
@example("123456", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("1234567", "none", True, True, "keep", "keep", pii.KINDS, "keep")
@example("138-1234-5678", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("```", "none", True, True, "keep", "mask", pii.KINDS, "keep")
@example("https://a.cn/x", "none", True, True, "remove", "mask", pii.KINDS, "keep")
def test_normalize_equals_the_reference(
    text, converter, fullwidth, boilerplate, urls, pii_policy, kinds, emoji
):
    t2s = _gate() if converter == "gate" else _CONVERTERS[converter]
    options = {"urls": urls, "pii": pii_policy, "pii_kinds": kinds, "emoji": emoji}
    args = (text, t2s, fullwidth, boilerplate)
    result = _outcome(norm.normalize, *args, **options)
    assert result == _outcome(ref_normalize, *args, **options)
    if urls == "keep" and norm.is_inert(text, t2s):  # the short way, taken or not
        assert result == ("returned", norm.Normalized(text, 0, 0, 0, 0, 0, {}, 0))


@settings(max_examples=EXAMPLES, deadline=None)
@given(pii_heavy, st.sampled_from(pii.POLICIES), st.sampled_from(_KIND_SETS))
@example(f"{ID}13812345678", "mask", pii.KINDS)
@example("123(010)62345678 4567", "remove", pii.KINDS)
@example("12a@b.cn34567 13812345678", "remove", pii.KINDS)
@example("1 2 3 4 5 6 7", "mask", ("landline",))
@example("请拨(010)6234567", "mask", ("landline",))
@example("138 a@b.cn12345678", "remove", pii.KINDS)
@example("138 a@b.cn1234 c@d.cn5678", "remove", pii.KINDS)  # no chain of 7 until they go
def test_scrub_equals_the_reference(text, policy, kinds):
    assert tuple(pii.scrub(text, policy, kinds)) == ref_scrub(text, policy, kinds)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(adversarial, pii_heavy), st.sampled_from(pii.POLICIES))
def test_scrub_equals_the_reference_on_any_text(text, policy):
    assert tuple(pii.scrub(text, policy)) == ref_scrub(text, policy)


@settings(max_examples=EXAMPLES, deadline=None)
@given(adversarial)
@example("a \n b\u3000\n\n\n c  d\n")
@example(" a\nb ")
@example("x\x1c\ny")
@example("$\x0crac{1}{2}$ 与 \\alpha\timesb\n纯文本\tx")
def test_steps_equal_the_reference(text):
    assert norm.normalize_whitespace(text) == ref_normalize_whitespace(text)
    assert norm.fullwidth_to_halfwidth(text) == ref_fullwidth_to_halfwidth(text)
    assert norm.clean_controls(text) == ref_clean_controls(text)
    assert norm.repair_latex_escapes(text) == ref_repair_latex_escapes(text)
    assert norm.strip_boilerplate(text) == ref_strip_boilerplate(text)


_DIGIT = regex.compile(r"\d")


def _chains(text: str) -> list[int]:
    """Digit counts of the maximal runs of digits with at most one space or hyphen between two."""
    counts, digits, after_separator = [0], 0, False
    for char in text:
        if _DIGIT.match(char):
            digits, after_separator = digits + 1, False
        elif char in " -" and digits and not after_separator:
            after_separator = True
        else:
            counts.append(digits)
            digits, after_separator = 0, False
    counts.append(digits)
    return counts


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.one_of(pii_heavy, adversarial))
@example("1-2 3-4 5-6 7")
@example("123 -4567890")
@example("1234567--8")
def test_longest_chain_is_the_longest_maximal_chain(text):
    longest = max(_chains(text))
    assert pii._longest_chain(text) == (longest if longest >= 7 else 0)


@pytest.mark.parametrize("kind", sorted(pii._MIN_CHAIN))
@settings(max_examples=EXAMPLES, deadline=None)
@given(text=pii_heavy)
def test_every_digit_match_lies_in_a_long_enough_chain(kind, text):
    pattern, _ = pii._DETECTORS[kind]
    for match in pattern.finditer(text):
        assert max(_chains(match.group())) >= pii._MIN_CHAIN[kind], match.group()


@pytest.mark.parametrize(
    ("text", "inert"),
    [
        ("406", True),
        ("sha1:370d4b78af48ba0ade43b303f62ac6d2480a1573", True),
        ("bbs87.example.cn", True),
        ("123456", True),
        ("12-34-56", True),
        ("1234567", True),  # a landline's digits, without an area code
        ("123-4567", True),
        ("1234567890", True),
        ("1-2-3-4-5-6-7-8-9-0", True),
        ("sha1:9f1234567890a", True),
        ("12345678901", False),  # a mobile number's length
        ("1-2-3-4-5-6-7-8-9-0-1", False),
        ("a13812345678b", False),
        ("010-2345678", False),
        ("(010)2345678", False),
        ("x-2345678", False),
        ("x)2345678", False),
        ("x-1234567", True),  # a landline starts with 2-9
        ("x-234567", True),
        ("a@b.cn", False),
        ("a b", False),
        ("a\\tb", True),  # a backslash and a t
        ("a\tb", False),
        ("a\x1cb", False),
        ("中文", False),
        ("ＡＢ", False),
        ("", True),
    ],
)
def test_is_inert_marks_what_no_step_can_change(text, inert):
    assert norm.is_inert(text, _gate()) is inert
    if inert:
        for pii_policy in pii.POLICIES:
            assert ref_normalize(text, _T2S, pii=pii_policy, emoji="remove") == norm.Normalized(
                text, 0, 0, 0, 0, 0, {}, 0
            )


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.one_of(ascii_text, adversarial), max_size=6), st.sampled_from(["gate", "none"]))
@example(["123456", "7890123"], "gate")  # 13 digits, but in two values
@example(["x-", "2345678"], "none")
@example(["abc)", "2345678", "406"], "gate")
def test_all_inert_is_every_text_inert(texts, converter):
    t2s = _gate() if converter == "gate" else None
    assert norm.all_inert(texts, t2s) is all(norm.is_inert(text, t2s) for text in texts)


def test_all_inert_asks_another_converter_about_each_text_and_refuses_non_str():
    from beam_cqia.text.script import TraditionalGate

    upper = TraditionalGate(str.upper, chars="abc")
    assert norm.all_inert(["xyz", "ABC"], upper) and not norm.all_inert(["xyz", "abc"], upper)
    assert norm.all_inert(["X", "Y"], str.upper) and not norm.all_inert(["X", "y"], str.upper)
    assert not norm.all_inert(["406", 406]) and not norm.all_inert([None])


def test_dofn_names_a_meta_value_that_is_no_str():
    from tests.factories import raw_doc

    with pytest.raises(TypeError, match="not int"):
        list(_dofn().process(raw_doc("1", meta={"digest": "abc", "votes": 406}, body="正文")))


def test_is_inert_asks_a_converter_that_could_touch_ascii():
    from beam_cqia.text.script import TraditionalGate

    assert not _gate().touches_ascii
    upper = TraditionalGate(str.upper, chars="abc")
    assert upper.touches_ascii
    assert not norm.is_inert("abc", upper) and norm.is_inert("xyz", upper)
    assert not norm.is_inert("abc", str.upper) and norm.is_inert("ABC", str.upper)
    assert norm.normalize("abc", upper).text == "ABC"


def test_inert_text_still_checks_the_options():
    with pytest.raises(ValueError, match="unknown PII kinds"):
        norm.normalize("406", pii="mask", pii_kinds=("phone",))
    with pytest.raises(ValueError, match="unknown PII policy"):
        norm.normalize("406", pii="bogus")
    with pytest.raises(ValueError, match="emoji"):
        norm.normalize("406", emoji="bogus")
    assert norm.normalize("406", pii="bogus", pii_kinds=()).text == "406"


# --- the tables the fast paths rely on -------------------------------------------------------


_EVERY_CHAR = "".join(map(chr, range(sys.maxunicode + 1)))


def _matching(pattern, limit: int = sys.maxunicode + 1) -> set[str]:
    return set(pattern.findall(_EVERY_CHAR[:limit]))


def test_character_tables_match_the_patterns_they_stand_for():
    assert _matching(norm._ANY_EATEN) == norm._EATEN_CHARS
    assert _matching(norm._ANY_CONTROL) == norm._CONTROL_CHARS
    assert _matching(norm._ANY_FULLWIDTH) == norm._FULLWIDTH_CHARS
    assert _matching(norm._SPECIAL) == norm._EATEN_CHARS | norm._CONTROL_CHARS | set(
        norm._FULLWIDTH_CHARS
    )
    # the whole Unicode range for whitespace: str.strip is what it stands for
    spaces = {c for c in _EVERY_CHAR if c.isspace()}
    assert set(norm._OTHER_SPACES) == spaces - {" ", "\n"}
    assert len(norm._OTHER_SPACES) == len(set(norm._OTHER_SPACES))
    assert _matching(norm._ANY_ODD_SPACE) <= set(norm._OTHER_SPACES)
    # _may_be_chrome tests str.isspace for the patterns' \s, and the final boilerplate strip is
    # skipped on the ground that only \x1c-\x1f (removed by clean_controls) tell them apart
    regex_spaces = _matching(regex.compile(r"\s"))
    assert spaces - regex_spaces == set("\x1c\x1d\x1e\x1f") and regex_spaces <= spaces
    assert set("\x1c\x1d\x1e\x1f") <= norm._CONTROL_CHARS
    assert not norm.clean_controls("\x1c\x1d\x1e\x1f")[0]


def test_boilerplate_words_never_overlap_and_masks_hold_none():
    """_may_be_chrome looks at each hint word finditer reports, and the final strip is skipped
    on the grounds that a mask can neither hold nor complete a hint word."""
    words = norm._BOILERPLATE_HINT.pattern.split("|")
    for a in words:
        for b in words:
            if a != b:
                assert a not in b
                assert not any(a.endswith(b[:i]) for i in range(1, len(b)))
    for mask in [*pii.MASKS.values(), norm.URL_MASK]:
        assert mask[0] == "[" and mask[-1] == "]"
        assert not norm._BOILERPLATE_HINT.search(mask) and not norm._THANKS_FOR_INVITE.search(mask)


@pytest.mark.parametrize("urls", norm.URL_POLICIES)
@pytest.mark.parametrize("pii_policy", pii.POLICIES)
@pytest.mark.parametrize("kinds", _KIND_SETS)
@pytest.mark.parametrize("emoji", norm.EMOJI_POLICIES)
def test_empty_text_takes_the_short_way_with_the_same_result(urls, pii_policy, kinds, emoji):
    # NormalizeText's DoFn skips empty meta values on this ground.
    options = {"urls": urls, "pii": pii_policy, "pii_kinds": kinds, "emoji": emoji}
    result = norm.normalize("", _T2S, True, True, **options)
    assert result == ref_normalize("", _T2S, True, True, **options)
    assert result == norm.Normalized("", 0, 0, 0, 0, 0, {}, 0)


@pytest.mark.parametrize(
    "options",
    [
        {"urls": "bogus"},
        {"pii": "bogus"},
        {"pii": "mask", "pii_kinds": ("phone",)},
        {"pii": "keep", "pii_kinds": ("phone",)},
        {"emoji": "bogus"},
    ],
)
@pytest.mark.parametrize("text", ["", "正文"])
def test_bad_options_fail_as_before(options, text):
    with pytest.raises(ValueError) as reference:
        ref_normalize(text, **options)
    with pytest.raises(ValueError) as ours:
        norm.normalize(text, **options)
    assert type(ours.value) is type(reference.value)


def test_pii_options_skip_checks_exactly_as_before():
    # pii="bogus" with no kinds never reaches scrub(), before and now
    assert norm.normalize("", pii="bogus", pii_kinds=()) == ref_normalize(
        "", pii="bogus", pii_kinds=()
    )
    assert norm.normalize("正文", pii="bogus", pii_kinds=()) == ref_normalize(
        "正文", pii="bogus", pii_kinds=()
    )


# --- the benchmark's web bodies --------------------------------------------------------------


def _bench_bodies(limit: int) -> list[str]:
    return noisy_web_bodies(limit)


@pytest.mark.parametrize(
    "options",
    [
        {"pii": "mask"},  # NormalizeText's defaults, as bench_perf.py times them
        {"pii": "keep"},
        {"pii": "remove", "urls": "remove", "emoji": "remove"},
        {"pii": "mask", "urls": "mask", "pii_kinds": ("mobile", "landline")},
    ],
    ids=["mask", "keep", "remove-all", "mask-urls"],
)
def test_benchmark_bodies_equal_the_reference(options):
    bodies = _bench_bodies(int(os.environ.get("FASTPATH_BODIES", 600)))
    gate = _gate()
    differ = [
        i
        for i, body in enumerate(bodies)
        if norm.normalize(body, gate, **options) != ref_normalize(body, gate, **options)
    ]
    assert differ == [], f"{len(differ)} of {len(bodies)} bodies differ, first {differ[:5]}"
    # the bodies exercise the fast paths: noise of every planted kind is there
    joined = "".join(bodies)
    assert norm._ANY_FULLWIDTH.search(joined) and norm._ANY_CONTROL.search(joined)
    assert pii._CHAIN.search(joined) and "@" in joined


# --- NormalizeText's DoFn --------------------------------------------------------------------

_DOFN = None


def _dofn():
    global _DOFN
    if _DOFN is None:
        from apache_beam.utils import shared

        from beam_cqia.transforms import NormalizeText, ingest

        stage = NormalizeText()
        _DOFN = ingest._NormalizeFn(
            "N", "NormalizeText", shared.Shared(), stage._base, {}, None, True
        )
        _DOFN.setup()
    return _DOFN


@settings(max_examples=int(EXAMPLES / 3), deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["tag", "uid", "qid", "votes", "author", "digest"]),
        st.one_of(st.just(""), adversarial, ascii_text),
        max_size=6,
    )
)
@example({"tag": "", "uid": "13812345678", "author": "臺灣 13812345678"})
@example({"votes": "406", "digest": "sha1:370d4b78af", "tag": "13812345678", "qid": "a@b.cn"})
@example({"digest": "sha1:9f1234567890a", "votes": "406", "tag": "(010)2345678"})
@example({"digest": "sha1:9f1234567890a", "votes": "406"})
def test_dofn_normalizes_meta_values_as_before(meta):
    """The DoFn no longer calls normalize() on empty meta values: the record comes out as when
    every value went through the reference."""
    from tests.factories import raw_doc

    fn = _dofn()
    t2s = fn._converters[("t2s", True)]
    record = raw_doc("1", meta=meta, body="正文")
    outcomes = {
        key: _outcome(
            ref_normalize,
            value,
            t2s,
            True,
            False,
            pii="mask",
            pii_kinds=() if key.lower().endswith("id") else pii.KINDS,
        )
        for key, value in meta.items()
    }
    raised = [o for o in outcomes.values() if o[0] == "raised"]
    if raised:  # the first value the reference fails on (a lone surrogate for OpenCC)
        with pytest.raises(raised[0][1]):
            list(fn.process(record))
        return
    results = {key: o[1] for key, o in outcomes.items()}
    (out,) = fn.process(record)
    changed = sum(norm.count_changed_chars(v, results[k].text) for k, v in meta.items())
    assert dict(out.meta) == ({k: r.text for k, r in results.items()} if changed else meta)
    assert out.signals.get("norm.meta_chars") == (changed if meta else None)
    found: dict[str, int] = {}
    for result in results.values():
        for kind, n in result.pii.items():
            found[kind] = found.get(kind, 0) + n
    assert {k: v for k, v in out.signals.items() if k.startswith("norm.pii.")} == {
        f"norm.pii.{k}": float(v) for k, v in found.items()
    }
