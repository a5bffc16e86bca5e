"""Tests for beam_cqia.text.dedupkey (pure functions, no Beam)."""

import opencc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from beam_cqia.text.dedupkey import dedup_key, dedup_text

T2S = opencc.OpenCC("t2s").convert


@pytest.mark.parametrize(
    ("text", "t2s", "expected"),
    [
        ("Ｈｅｌｌｏ，世界！", None, "hello世界"),
        ("ABC abc", None, "abcabc"),
        ("这是 一个\t测试。\n", None, "这是一个测试"),
        ("１２３ＡＢＣ", None, "123abc"),
        ("“引号”《书名》（括号）【方括号】……——", None, "引号书名括号方括号"),
        ("好😀👍！", None, "好"),  # emoji are symbols (So) and count as noise
        ("零\u200b宽\ufeff字符\u3000空格", None, "零宽字符空格"),
        ("价格：￥１９９＋税", None, "价格199税"),
        ("這是一個測試", None, "這是一個測試"),
        ("這是一個測試", T2S, "这是一个测试"),
        ("臺灣的軟體，ＧＰＵ很貴！", T2S, "台湾的软体gpu很贵"),
        ("，。！？", None, ""),
        ("", None, ""),
        ("", T2S, ""),
    ],
)
def test_dedup_text(text, t2s, expected):
    assert dedup_text(text, t2s) == expected


@pytest.mark.parametrize(
    ("a", "b", "t2s"),
    [
        (["什么是机器学习？"], ["什么是机器学习"], None),
        (["Ｐｙｔｈｏｎ 怎么学？"], ["python怎么学"], None),
        (["如何评价《三体》？", "很好看。"], ["如何评价 三体", "很好看"], None),
        (["臺灣的軟體產業"], ["台湾的软体产业"], T2S),
        (["這是一個測試。"], ["这是 一个 测试"], T2S),
        (["乾隆皇帝"], ["乾隆 皇帝"], T2S),
        # OpenCC converts by phrase: noise inside a phrase must not change the conversion.
        (["乾隆皇帝"], ["乾，隆皇帝"], T2S),
        (["我瞭解了。"], ["我瞭\n解了"], T2S),
        (["我了解了"], ["我瞭 解了"], T2S),
    ],
)
def test_dedup_key_equal(a, b, t2s):
    assert dedup_key(a, t2s) == dedup_key(b, t2s)
    assert dedup_key(a, t2s) != ""


@pytest.mark.parametrize(
    ("a", "b", "t2s"),
    [
        (["ab", "c"], ["a", "bc"], None),  # fields are reduced separately
        (["问题", "答案"], ["答案", "问题"], None),  # field order matters
        (["什么是机器学习？"], ["什么是深度学习？"], None),
        (["這是一個測試"], ["这是一个测试"], None),  # without t2s, script differences count
        (["第1题"], ["第2题"], None),
    ],
)
def test_dedup_key_different(a, b, t2s):
    assert dedup_key(a, t2s) != dedup_key(b, t2s)


@pytest.mark.parametrize("parts", [[], [""], ["", ""], ["，。！？", "  \n"], ["😀", "\u200b"]])
def test_dedup_key_empty_when_no_content(parts):
    assert dedup_key(parts) == ""


def test_dedup_key_shape_and_stability():
    key = dedup_key(["什么是机器学习？", "机器学习是人工智能的一个分支。"])
    assert len(key) == 32
    assert all(c in "0123456789abcdef" for c in key)
    # A generator is consumed like a list.
    assert dedup_key(iter(["什么是机器学习？", "机器学习是人工智能的一个分支。"])) == key
    # Keys must not change between releases: they join records across runs.
    assert dedup_key(["什么是机器学习"]) == dedup_key(["什么是 机器学习！"])


# --- properties ------------------------------------------------------------------------------

_CONTENT = st.text(
    alphabet=st.sampled_from(
        list("这是一个测试机器学习什么乾隆皇帝頭髮這個臺灣軟體後來")
        + list("abcxyzABCXYZ0189")
        + list("ａｂｃＡＢＣ０１９")
    ),
    min_size=1,
    max_size=30,
)
_NOISE = st.sampled_from(
    [
        *[" ", "  ", "\t", "\n", "\u3000", "\u00a0", "，", "。", "！", "？", "、", "；", "："],
        *["“", "”", "（", "）", "《", "》", "…", "—", ",", ".", "!", "?", "-", "\u200b", "😀"],
    ]
)


@st.composite
def _with_noise(draw):
    text = draw(_CONTENT)
    inserts = draw(st.lists(st.tuples(st.integers(0, len(text)), _NOISE), max_size=10))
    noisy = text
    for pos, token in sorted(inserts, reverse=True):
        noisy = noisy[:pos] + token + noisy[pos:]
    return text, noisy


_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "abcxyzABCXYZ0189"}


@settings(max_examples=200, deadline=None)
@given(_with_noise())
def test_dedup_key_ignores_punctuation_and_whitespace(pair):
    text, noisy = pair
    assert dedup_key([text]) == dedup_key([noisy])
    assert dedup_key([text, text]) == dedup_key([noisy, text])


@settings(max_examples=200, deadline=None)
@given(_with_noise())
@example(("乾隆", "乾，隆"))
@example(("後來的頭髮", "後來的 頭 髮"))
@example(("瞭解", "瞭 解"))
def test_dedup_key_ignores_punctuation_and_whitespace_with_t2s(pair):
    text, noisy = pair
    assert dedup_key([text], T2S) == dedup_key([noisy], T2S)


@settings(max_examples=200, deadline=None)
@given(_CONTENT)
def test_dedup_key_ignores_width_and_case(text):
    wide = "".join(_FULLWIDTH.get(c, c) for c in text)
    assert dedup_key([text]) == dedup_key([wide])
    assert dedup_key([text]) == dedup_key([text.upper()])
    assert dedup_key([text]) == dedup_key([text.lower()])


# --- the table path (dedupkey._reduction_table) equals the exact reduction ---------------------


def _exact(text: str, t2s=None) -> str:
    """dedup_text's definition, without the table."""
    import unicodedata

    from beam_cqia.text.dedupkey import _NOT_CONTENT

    text = _NOT_CONTENT.sub("", unicodedata.normalize("NFKC", text).casefold())
    if t2s is not None and text:
        text = _NOT_CONTENT.sub("", t2s(text))
    return text


# Characters that interact with their neighbours under NFKC or reduce to several code points,
# next to ones the table handles: combining marks, half-width kana and voicing marks, Hangul
# syllables and jamo, precomposed Latin, ß, ligatures, compatibility ideographs, circled
# digits, emoji, non-BMP ideographs, a lone surrogate.
_TRICKY = list(
    "e\u0301\u0308a\u030aｶﾞﾟ가각\u1100\u1161\u11a8éÅßﬁ①㈱℃ⅫİΣς\ufb01\uf900\u2f800\U00020000"
    "😀\u200d\u0344\u0f73\ud800Ａｚ１"
)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.one_of(
            st.sampled_from(_TRICKY + list("这是測試臺灣，。！ \n\t\u3000")), st.characters()
        ),
        min_size=0,
        max_size=60,
    )
)
@example("e\u0301" + "这是一个足够长的测试文本，用来走表格路径。")
@example("ｶﾞ" + "这是一个足够长的测试文本，用来走表格路径。")
def test_dedup_text_equals_the_exact_reduction(text):
    assert dedup_text(text) == _exact(text)
    assert dedup_text(text, T2S) == _exact(text, T2S)


def test_dedup_text_table_path_on_long_texts():
    base = "臺灣的軟體產業，ＧＰＵ很貴！这是一个测试。Hello World 123 ①②③ ℃ 😀\u200b\u3000"
    for tricky in ["", *_TRICKY]:
        text = base * 3 + tricky + base
        assert dedup_text(text) == _exact(text)
        assert dedup_text(text, T2S) == _exact(text, T2S)
