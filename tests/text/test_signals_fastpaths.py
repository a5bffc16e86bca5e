"""The fast paths of beam_cqia.text.signals return exactly what the plain computations return.

The module counts character classes with one lookup table, skips a phrase regex when none of
its anchors (literals every match contains) is in the text, and shares line walking between
rules. Here every public signal is compared, with ``==`` on the float, against the computation
it replaced (kept below as ``_ref_*``, written with the module's own regexes) on adversarial
generated text, on text assembled from the pieces of the phrase regexes, and on real data.
"""

import functools
import json
import random
import re
import re._constants as sc
import re._parser as sre_parser
from collections import Counter
from collections.abc import Callable

import numpy as np
import opencc
import pytest
import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st

from beam_cqia.text import signals
from beam_cqia.transforms import quality
from tests.text.web_bodies import noisy_web_bodies

T2S = opencc.OpenCC("t2s").convert


@pytest.fixture(scope="module")
def trad() -> frozenset[str]:
    return signals.traditional_chars(T2S)


# --- the plain computations (what the module computed before its fast paths) ------------------


def _ref_visible_len(text: str) -> int:
    return len(text) - sum(map(len, signals._SPACE_RUN.findall(text)))


def _ref_han_len(text: str) -> int:
    return sum(map(len, signals._HAN_RUN.findall(text)))


def _ref_cjk_ratio(text: str) -> float:
    visible = _ref_visible_len(text)
    return _ref_han_len(text) / visible if visible else 0.0


def _ref_trad_ratio(text: str, trad_chars: frozenset[str]) -> float:
    han = _ref_han_len(text)
    if not han:
        return 0.0
    trad = sum(text.count(c) for c in trad_chars.intersection(text))
    return min(1.0, trad / han)


def _ref_punct_ratio(text: str) -> float:
    visible = _ref_visible_len(text)
    return len(signals._PUNCT.findall(text)) / visible if visible else 0.0


def _ref_special_char_ratio(text: str) -> float:
    visible = _ref_visible_len(text)
    if not visible:
        return 0.0
    return sum(len(run) for run in signals._SPECIAL.findall(text)) / visible


def _ref_emoji_ratio(text: str) -> float:
    visible = _ref_visible_len(text)
    return len(signals._EMOJI.findall(text)) / visible if visible else 0.0


def _ref_top_char_frac(text: str) -> float:
    visible = signals._SPACE_RUN.sub("", text)
    if not visible:
        return 0.0
    return Counter(visible).most_common(1)[0][1] / len(visible)


def _ref_url_count(text: str) -> float:
    return float(len(signals._URL.findall(text)))


def _ref_url_density(text: str) -> float:
    return 1000.0 * len(signals._URL.findall(text)) / len(text) if text else 0.0


def _ref_boilerplate_hits(text: str) -> float:
    return float(len(signals._BOILERPLATE.findall(text)))


def _ref_ad_hits(text: str) -> float:
    return float(len(signals._AD.findall(text)))


def _ref_assistant_hits(text: str) -> float:
    return float(len(signals._ASSISTANT.findall(text)))


def _ref_pinyin_inserts(text: str) -> float:
    return float(len(signals._PINYIN_INSERT.findall(text)))


_REF_FENCE = regex.compile(r"^(?:```|~~~)")


def _ref_line_end(line: str) -> int:
    tail = line.rstrip(signals._EMPHASIS)
    if not tail:
        return signals._OPEN
    last = tail[-1]
    if last in signals._SENTENCE_END or last in signals._CLOSERS or last == "$":
        return signals._TERMINAL
    if last in signals._CLAUSE_END:
        return signals._CLAUSE
    if (
        signals._EMOJI_TAIL.search(tail)
        or signals._KEYCAP_TAIL.search(tail)
        or signals._ANSWER_KEY.search(tail)
        or signals._TRAILING_URL.search(tail)
    ):
        return signals._TERMINAL
    return signals._OPEN


def _ref_walk_lines(text: str) -> list[tuple[int, str]]:
    s = signals
    out: list[tuple[int, str]] = []
    in_code = in_math = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if in_code or _REF_FENCE.match(line):
            if _REF_FENCE.match(line):
                in_code = not in_code
            out.append((s._BLOCK, line))
            continue
        dollars = line.count("$$") if "$$" in line else 0
        if in_math:
            in_math = dollars % 2 == 0
            out.append((s._BLOCK, line))
            continue
        if dollars % 2:
            in_math = True
            if line.startswith("$$"):
                out.append((s._BLOCK, line))
                continue
        elif dollars and s._DISPLAY_MATH.match(line):
            out.append((s._BLOCK, line))
            continue
        out.append((s._TEXT, line))
    if in_code:
        out.append((s._CODE_OPEN, ""))
    elif in_math:
        out.append((s._MATH_OPEN, ""))
    return out


def _ref_classify(line: str) -> tuple[int, str]:
    s = signals
    while line.startswith(">"):
        line = line[1:].lstrip()
    if not line:
        return s._BLOCK, line
    first = line[0]
    if first == "#":
        if s._HEADING.match(line):
            return s._HEAD, line
        if s._HASHTAGS.match(line):
            return s._BLOCK, line
    if (
        first == "|"
        or (first in s._RULE_FIRST and s._RULE_LINE.match(line))
        or (first in s._DASHES and s._ATTRIBUTION.match(line))
        or (first in s._LINK_FIRST and s._LINK_ONLY.match(line))
        or (("|" in line or "/" in line or "｜" in line) and s._TAG_ROW.match(line))
    ):
        return s._BLOCK, line
    if s._LIST_ITEM.match(line):
        return s._LIST, line
    if line.startswith("**") and len(line) > 4 and line.endswith("**") and "**" not in line[2:-2]:
        return (s._PROSE if _ref_line_end(line) == s._TERMINAL else s._HEAD), line
    return s._PROSE, line


def _ref_sentence_end_ratio(text: str) -> float:
    total = ended = 0
    for kind, raw in _ref_walk_lines(text):
        if kind == signals._TEXT:
            kind, line = _ref_classify(raw)
            if kind == signals._PROSE:
                total += 1
                ended += _ref_line_end(line) != signals._OPEN
    return ended / total if total else 1.0


def _ref_truncated(text: str) -> float:
    s = signals
    lines = _ref_walk_lines(text)
    if not lines:
        return 0.0
    kind, line = lines[-1]
    if kind == s._TEXT:
        kind, line = _ref_classify(line)
    if kind in (s._CODE_OPEN, s._MATH_OPEN, s._HEAD):
        return 1.0
    if kind == s._BLOCK:
        return 0.0
    if kind == s._LIST:
        tail = line.rstrip(s._EMPHASIS)[-1:]
        return 1.0 if tail and tail in s._NEEDS_MORE else 0.0
    return 0.0 if _ref_line_end(line) == s._TERMINAL else 1.0


def _ref_cut_off(text: str) -> float:
    s = signals
    lines = _ref_walk_lines(text)
    if not lines:
        return 0.0
    kind, line = lines[-1]
    if kind in (s._CODE_OPEN, s._MATH_OPEN):
        return 1.0
    if kind == s._BLOCK:
        return 0.0
    tail = line.rstrip(s._EMPHASIS)
    if not tail:
        return 0.0
    if tail[-1] in s._CONTINUES or tail.rfind("《") > tail.rfind("》"):
        return 1.0
    return 1.0 if len(lines) > 1 and s._LONE_HAN.match(tail) else 0.0


_REF_RULES = {
    "cjk_ratio": _ref_cjk_ratio,
    "punct_ratio": _ref_punct_ratio,
    "dup_line_frac": signals.dup_line_frac,  # unchanged
    "top_char_frac": _ref_top_char_frac,
    "url_count": _ref_url_count,
    "emoji_ratio": _ref_emoji_ratio,
    "ad_hits": _ref_ad_hits,
    "special_char_ratio": _ref_special_char_ratio,
    "url_density": _ref_url_density,
    "sentence_end_ratio": _ref_sentence_end_ratio,
    "truncated": _ref_truncated,
    "dup_para_frac": signals.dup_para_frac,  # unchanged
    "boilerplate_hits": _ref_boilerplate_hits,
    "assistant_hits": _ref_assistant_hits,
    "pinyin_inserts": _ref_pinyin_inserts,
    "cut_off": _ref_cut_off,
}
_PHRASE_RULES = ("boilerplate_hits", "ad_hits", "assistant_hits", "pinyin_inserts", "url_count")


def _ref_compute_text(text: str, rules: list[str], trad_chars: frozenset[str]) -> dict[str, float]:
    out = {}
    for rule in rules:
        if rule == "trad_ratio":
            out[rule] = _ref_trad_ratio(text, trad_chars)
        else:
            out[rule] = _REF_RULES[rule](text)
    return out


def _assert_all_equal(text: str, trad_chars: frozenset[str]) -> None:
    """Every content rule, alone and all at once through compute_text, equals its reference."""
    rules = [*signals.CONTENT_RULES, "trad_ratio"]
    expected = _ref_compute_text(text, rules, trad_chars)
    for rule, fn in signals.CONTENT_RULES.items():
        assert fn(text) == expected[rule], (rule, text)
    assert signals.trad_ratio(text, trad_chars) == expected["trad_ratio"], text
    context = signals.SignalContext(trad_chars=trad_chars)
    assert signals.compute_text(text, rules, context) == expected, text


# --- generated text ------------------------------------------------------------------------------

_PHRASE_PATTERNS = (
    signals._BOILERPLATE,
    signals._AD,
    signals._ASSISTANT,
    signals._URL,
    signals._PINYIN_INSERT,
)


def _fragments() -> list[str]:
    """Pieces of the phrase regexes (their literals, whole and split), and what goes around
    them: separators, dates, counts, IDs, case variants, characters that are tricky for
    ``IGNORECASE`` and for line starts."""
    pieces: set[str] = set()
    for pattern in _PHRASE_PATTERNS:
        for run in regex.findall(r"[\p{Han}]+|[A-Za-z]+", pattern.pattern):
            pieces.update({run, run[:1], run[-1:], run[: len(run) // 2], run[len(run) // 2 :]})
    pieces.update(w for pairs in signals._PHRASE_ANCHORS.values() for w, _ in pairs)
    pieces.update(
        [
            *"\n\n\n \t\u3000\r\u2028\x85\x0b>：:，,。！？!?、~—-=*·•|+#$",
            *'()（）[]【】「“"0123456789',
            *"İıſKßabcxyzABCXYZ这是一个的了很好臺灣",
            "2023-01-01",
            "2023年5月1日",
            "3 天前",
            "1.2万",
            "12 条评论",
            "abc12345",
            "wx_id_88",
            "123456",
            "https://a.cn/x",
            "www.Example.com",
            "END",
            "End",
            "eNd",
            "GPT-4",
            "ChatGPT",
            "OpenAI",
            "as an AI",
            "AS AN Aİ",
            "zhong",
            "yan",
            "lai",
            "(yan)",
            "（shi）",
            "(zhuang)",
            "(abc)",
            "烟(",
            "zhǎng",
            "😀",
            "\ud800",
        ]
    )
    return sorted(pieces)


FRAGMENTS = _fragments()
_from_fragments = st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join)
_any_text = st.one_of(
    st.text(max_size=120),
    st.text(st.characters(codec="utf-8"), max_size=60),
    _from_fragments,
)


@settings(max_examples=600, deadline=None)
@given(_any_text)
@example("谢邀\ud800 加我微信")  # a lone surrogate: the anchors are not searched, every regex runs
@example("x\r谢谢邀请\u2028 赞同 12\n")  # ^ is only the text start or after \n
@example("ip\u3000\n 属地：北京")  # whitespace between ip and 属地 crosses a line
@example("烟(yan)台(abcdefg)市（ｚ）")
@example("作为一个İA AI语言模型，我")
@example("----END----\n  end\n\t— End —")
@example("顶" * 300 + " \n" + "😀" * 120)
def test_every_signal_equals_the_plain_computation(trad, text):
    _assert_all_equal(text, trad)


def test_fragment_texts_exercise_every_phrase_rule_and_agree(trad):
    """Many texts assembled from the phrase regexes' pieces: every phrase rule fires on a good
    share of them (so the comparison is not vacuous) and equals the plain count on all."""
    rng = random.Random(20261122)
    fired: Counter[str] = Counter()
    refs = {rule: _REF_RULES[rule] for rule in _PHRASE_RULES}
    for _ in range(6000):
        text = "".join(rng.choices(FRAGMENTS, k=rng.randint(1, 25)))
        for rule, ref in refs.items():
            expected = ref(text)
            assert signals.CONTENT_RULES[rule](text) == expected, (rule, text)
            fired[rule] += expected > 0
    assert min(fired.values()) >= 50, fired


def _positives() -> list[str]:
    """One text per alternative of the phrase regexes (or close variants)."""
    return [
        # boilerplate
        "谢邀。",
        "  > 谢谢大家的邀请~",
        "最后编辑于 2023-01-01",
        "发布于3 天前",
        "IP 属地：上海",
        "著作权归作者所有。商业转载请联系作者获得授权，非商业转载请注明出处。",
        "转载请注明出处。严禁转载",
        "未经作者授权，禁止任何形式的转载",
        "本文首发于知乎",
        "首发于公众号",
        "原文链接：x",
        "点击阅读原文\n 阅读原文 ",
        "记得一下关注！别忘了点赞",
        "关注我不迷路，一键三连",
        "关注我的微信公众号",
        "关注公众号「x」",
        "1.2万 人赞同了该回答",
        "展开阅读全文 ∨\n 12 条评论",
        "赞同 1.2万 · 收藏 · 分享",
        "\t喜欢 32",
        "举报",
        "来源：知乎\n链接：https://x.cn",
        "版权声明：本文为博主原创文章",
        "责任编辑：张三",
        "图片来源于网络，如有侵权请联系删除",
        "配图源互联网 侵删",
        "本词条由",
        "——END——\n全文完\n  end",
        # ads
        "加我 微信",
        "微信：abc_12345 v信号 wx123456",
        "VX: hello123",
        "QQ群：123456789 交流群 12345",
        "私信我领取",
        "关注后台领取免费资料",
        "领取免费课程",
        "送优惠券 优惠券链接 折扣码",
        "扫码关注 长按识别二维码",
        "名额有限，先到先得",
        "限时特价 点击下方链接 点击蓝字",
        "淘宝店铺 淘口令",
        "诚招代理 咨询热线：400",
        "加客服 添加小助手",
        # assistant
        "作为一个AI语言模型，我",
        "作为人工智能助手，我",
        "我是一个由OpenAI开发的大型语言模型。",
        "我只是虚拟助手，",
        "很抱歉，我无法回答",
        "我不能提供",
        "截至我的知识截止日期",
        "我的训练数据",
        "我没有个人观点",
        "我不具备联网能力",
        "由 OpenAI 训练",
        "GPT-4训练的模型",
        "As an AI language model",
        # URLs and pinyin
        "见https://example.com/a 和 WWW.example.cn",
        "烟(yan)台市（shi）",
    ]


_SPELLING_CANDIDATES = "İıſ\u212aß"


@functools.cache
def _spellings(char: str) -> list[str]:
    """What ``(?i)char`` matches among a few candidates, sorted."""
    options = {char.lower(), char.upper(), *_SPELLING_CANDIDATES}
    return sorted(c for c in options if regex.fullmatch(f"(?i){char}", c))


def _sampler(pattern: "regex.Pattern[str]") -> Callable[[random.Random], str]:
    """Draws random strings shaped by the pattern: every alternative, repeat count and, under
    IGNORECASE, every spelling of a letter is chosen at random. A lookahead adds what it looks
    for; other lookarounds are left out, so a string may not match: callers keep the strings
    the pattern really finds."""
    tree = sre_parser.parse(pattern.pattern.replace(r"\p{Han}", "[\u4e00-\u9fff]"))
    ignore_case = bool(pattern.flags & regex.IGNORECASE)
    pools = {
        sc.CATEGORY_DIGIT: "0123456789",
        sc.CATEGORY_SPACE: " \t\n\u3000",
        sc.CATEGORY_NOT_SPACE: "x中1。",
        sc.CATEGORY_WORD: "a中1_",
    }
    repeats = (sc.MAX_REPEAT, sc.MIN_REPEAT, sc.POSSESSIVE_REPEAT)

    def pick(rng: random.Random, items: list) -> str:
        if items and items[0][0] is sc.NEGATE:
            return rng.choice("x中1。 ,")
        kind, value = rng.choice(items)
        if kind is sc.LITERAL:
            return chr(value)
        if kind is sc.RANGE:
            return chr(rng.randint(*value))
        return rng.choice(pools.get(value, "x"))

    def walk(rng: random.Random, nodes, fold: bool) -> str:
        out = []
        for op, value in nodes:
            if op is sc.LITERAL:
                char = chr(value)
                fold_it = fold and char.isascii() and char.isalpha()
                out.append(rng.choice(_spellings(char)) if fold_it else char)
            elif op is sc.NOT_LITERAL or op is sc.ANY:
                out.append(rng.choice("x中1。 "))
            elif op is sc.IN:
                out.append(pick(rng, value))
            elif op is sc.BRANCH:
                out.append(walk(rng, rng.choice(value[1]), fold))
            elif op is sc.SUBPATTERN:
                _group, add, delete, sub = value
                out.append(walk(rng, sub, (fold or bool(add & re.I)) and not delete & re.I))
            elif op in repeats:
                low, high, sub = value
                count = rng.randint(low, min(high, low + 3))
                out.extend(walk(rng, sub, fold) for _ in range(count))
            elif op is sc.AT and value in (sc.AT_BEGINNING, sc.AT_END):
                out.append(rng.choice(["", "\n"]))
            elif op is sc.ASSERT and value[0] == 1:  # a lookahead: what should follow
                out.append(walk(rng, value[1], fold))
            # Lookbehinds, negative lookarounds, word boundaries: nothing (the filter decides).
        return "".join(out)

    return lambda rng: walk(rng, tree, ignore_case)


# Rule -> its regex and how many strings to sample from it (more for more alternatives).
_SAMPLED = {
    "boilerplate_hits": (signals._BOILERPLATE, 20000),
    "ad_hits": (signals._AD, 10000),
    "assistant_hits": (signals._ASSISTANT, 30000),
    "url_count": (signals._URL, 400),
    "pinyin_inserts": (signals._PINYIN_INSERT, 3000),
}


def _sampled_positives() -> list[tuple[str, str]]:
    """(rule, text): strings each phrase regex finds, sampled from the regex itself."""
    rng = random.Random(11)
    out = []
    for rule, (pattern, count) in _SAMPLED.items():
        draw = _sampler(pattern)
        for _ in range(count):
            text = draw(rng)
            if pattern.search(text):
                out.append((rule, text))
    return out


def test_strings_sampled_from_the_phrase_regexes_agree():
    """Every alternative of every phrase regex, in every branch and spelling the sampler picks,
    alone and with text around it; every regex gives many matching samples."""
    samples = _sampled_positives()
    per_rule = Counter(rule for rule, _ in samples)
    assert min(per_rule.values()) >= 250, per_rule
    for rule, text in samples:
        for wrapped in (text, f"前文。\n{text}后文"):
            assert signals.CONTENT_RULES[rule](wrapped) == _REF_RULES[rule](wrapped), wrapped
    # All rules at once on a sample of them (the anchors of one rule must not hide another's).
    for _rule, text in samples[::10]:
        assert signals.compute_text(text, _PHRASE_RULES) == {
            r: _REF_RULES[r](text) for r in _PHRASE_RULES
        }


@pytest.mark.parametrize("text", _positives())
def test_phrase_positives(text):
    """Each text matches its regex; the fast count equals the regex count, in context too."""
    refs = [_REF_RULES[rule](text) for rule in _PHRASE_RULES]
    assert any(refs), text
    for rule, expected in zip(_PHRASE_RULES, refs, strict=True):
        assert signals.CONTENT_RULES[rule](text) == expected, rule
        for wrapped in (f"前文。\n{text}\n后文", f"x{text}", f"\n\n  {text}  \n"):
            assert signals.CONTENT_RULES[rule](wrapped) == _REF_RULES[rule](wrapped), rule


# --- the pieces the fast paths are built from ----------------------------------------------------


def test_char_table_agrees_with_the_regexes():
    """Code points sampled from every plane, plus the ranges where the classes live."""
    table = signals._char_table()
    rng = random.Random(7)
    code_points = [
        *range(0x3000),
        *range(0xD7F0, 0xE010),
        *range(0xFE00, 0x10000),
        *range(0x1F000, 0x1FB00),
        *rng.sample(range(0x110000), 20000),
    ]
    classes = [
        (signals._SPACE_BIT, signals._SPACE_RUN),
        (signals._HAN_BIT, signals._HAN),
        (signals._PUNCT_BIT, signals._PUNCT),
        (signals._SPECIAL_BIT, signals._SPECIAL),
        (signals._EMOJI_BIT, signals._EMOJI),
        (signals._EMOJI_TAIL_BIT, signals._EMOJI_TAIL_LAST),
    ]
    for cp in code_points:
        char = chr(cp)
        for bit, pattern in classes:
            assert bool(table[cp] & bit) == bool(pattern.fullmatch(char)), (hex(cp), bit)
        assert signals._char_bits(char) == table[cp]
    assert table.size == 0x110000


def test_trad_table_counts_exactly_the_members(trad):
    odd = frozenset({"這", "a", "ab", "", "\ud800", 7})  # non-Han, multi-char, empty, non-str
    for chars in (trad, odd, frozenset()):
        for text in ("這個abab\ud800", "這" * 5 + "这", "", "a b", "臺灣 7 ab"):
            assert signals.trad_ratio(text, chars) == _ref_trad_ratio(text, chars)
    table = signals._char_table(trad)
    assert table is signals._char_table(frozenset(trad))  # equal sets share one table
    assert not (signals._char_table() & signals._TRAD_BIT).any()
    assert (table[[ord(c) for c in trad]] & signals._TRAD_BIT).all()


def test_a_plain_set_of_trad_chars_works_too(trad):
    text = "這是一個測試，臺灣。"
    assert signals.trad_ratio(text, set(trad)) == _ref_trad_ratio(text, trad)  # type: ignore[arg-type]


def _letters_used_by_anchors() -> set[str]:
    return {
        c.lower()
        for pairs in signals._PHRASE_ANCHORS.values()
        for word, _ in pairs
        for c in word
        if c.isascii() and c.isalpha()
    }


def test_case_variants_cover_what_ignorecase_matches():
    """For every letter in an anchor, the spellings regex.IGNORECASE accepts are listed."""
    every = np.arange(0x110000, dtype=np.uint32).tobytes().decode("utf-32-le", "surrogatepass")
    for letter in sorted(_letters_used_by_anchors()):
        # The pattern may spell the letter in either case, and the two accept different sets.
        accepted = set(regex.findall(f"(?i:{letter})|(?i:{letter.upper()})", every))
        assert accepted == set(signals._case_variants(letter)), letter


def test_anchors_of_case_insensitive_words_list_every_spelling():
    words = {w for pairs in signals._PHRASE_ANCHORS.values() for w, _ in pairs}
    for word in (
        "微信",
        "Vx",
        "wX",
        "Qq",
        "q群",
        "V信",
        "WWW.",
        "eNd",
        "OpenAİ",
        "gPt",
        "As aN aİ",
    ):
        assert word in words, word


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *"答案选：AH)）(（、和 .:/wW😀\u20e3\ufe0f\u200d#*1\U0001f1e8\U0001f3fb",
                "https://",
                "www.",
            ]
        ),
        max_size=12,
    ).map("".join)
)
@example("故本题选择：B")
@example("见 www.a.cn")
@example("好的👍🏻")
@example("1\ufe0f\u20e3")
def test_line_end_pre_checks(line):
    assert signals._line_end(line) == _ref_line_end(line)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["```", "~~~", " ```py", "$$", "x", "\n", "  \n", "# h"])).map("".join)
)
def test_walk_lines_fences(text):
    assert signals._walk_lines(text) == _ref_walk_lines(text)


def test_every_content_rule_has_a_fast_form():
    assert set(signals._FACT_RULES) == set(signals.CONTENT_RULES)


# --- real data ------------------------------------------------------------------------------------


def _bench_bodies(limit: int) -> list[str]:
    return noisy_web_bodies(limit)


def test_default_rules_on_benchmark_bodies(trad):
    rules = [r for r in quality.DEFAULT_RULES if r != "chars"]
    context = signals.SignalContext(trad_chars=trad)
    for text in _bench_bodies(1500):
        assert signals.compute_text(text, rules, context) == _ref_compute_text(text, rules, trad)


@pytest.mark.corpora
def test_every_signal_on_real_records(corpora, trad):
    texts = []
    for path in sorted((corpora / "coig-cqia").rglob("*.jsonl")):
        for line in path.read_bytes().split(b"\n")[::7]:
            if line.strip():
                record = json.loads(line)
                texts += [record["output"], record["instruction"]]
    web = corpora / "chinesewebtext" / "2021-43" / "cleared1.jsonl"
    if web.is_file():
        texts += [json.loads(line)["raw_content"] for line in web.read_text().splitlines()]
    if not texts:
        pytest.skip(f"no COIG-CQIA or ChineseWebText files under {corpora}")
    rules = [*signals.CONTENT_RULES, "trad_ratio"]
    context = signals.SignalContext(trad_chars=trad)
    for text in texts:
        assert signals.compute_text(text, rules, context) == _ref_compute_text(text, rules, trad)
