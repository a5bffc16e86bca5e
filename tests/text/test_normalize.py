"""Tests for beam_cqia.text.normalize (pure functions, no Beam)."""

import os

import opencc
import pytest
import regex
from hypothesis import example, given, settings
from hypothesis import strategies as st

from beam_cqia.text.normalize import (
    Normalized,
    clean_controls,
    count_changed_chars,
    fullwidth_to_halfwidth,
    normalize,
    normalize_whitespace,
    repair_latex_escapes,
    strip_boilerplate,
)

T2S = opencc.OpenCC("t2s").convert

ZHIHU_FOOTER = "著作权归作者所有。商业转载请联系作者获得授权，非商业转载请注明出处。"
BAIKE_NAG = "本词条缺少概述图，补充相关内容使词条更完整，还能快速升级，赶紧来编辑吧！"


# --- clean_controls --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "changed"),
    [
        ("第一页\f第二页", "第一页\n第二页", 1),
        ("表头\v表体", "表头\n表体", 1),
        ("Windows换行\r\n第二行", "Windows换行\n第二行", 1),
        ("旧式换行\r第二行", "旧式换行\n第二行", 1),
        ("行分隔符\u2028下一行", "行分隔符\n下一行", 1),
        ("段分隔符\u2029下一段", "段分隔符\n下一段", 1),
        ("NEL\x85下一行", "NEL\n下一行", 1),
        ("空字符\x00在中间", "空字符在中间", 1),
        ("零\u200b宽\u200c空\u200d格", "零宽空格", 3),
        ("\ufeff带BOM的开头", "带BOM的开头", 1),
        ("软\u00ad连字符和\u2060词连接符", "软连字符和词连接符", 2),
        ("响铃\x07退格\x08删除\x7f", "响铃退格删除", 3),
        ("C1控制符\x9b结束", "C1控制符结束", 1),
        ("保留\t制表符和\n换行", "保留\t制表符和\n换行", 0),
        ("表情😀👍保留，全角标点。", "表情😀👍保留，全角标点。", 0),
        ("這是一個測試", "這是一個測試", 0),
        ("", "", 0),
        ("\f\v\u2028\u2029\x00\u200b\ufeff", "\n\n\n\n", 7),
    ],
)
def test_clean_controls(text, expected, changed):
    assert clean_controls(text) == (expected, changed)


# --- repair_latex_escapes --------------------------------------------------------------------

# "\f", "\r", "\t", "\b", "\v", "\x07" below are the control characters an escape decoder made of
# a LaTeX command's backslash; "\\" is a real backslash.
EATEN_LATEX = [
    # COIG-CQIA's zhihu_expansion: "\frac" decoded as a form feed and "rac".
    ("为什么不记做 $\frac{d^2 y}{d^2 x}$ ？", "为什么不记做 $\\frac{d^2 y}{d^2 x}$ ？", 1),
    ("$\\lim _{n \rightarrow \\infty}$", "$\\lim _{n \\rightarrow \\infty}$", 1),
    (
        "$\\lim _{x \rightarrow 1}\\left(\frac{m}{1-x^m}\right)$",
        "$\\lim _{x \\rightarrow 1}\\left(\\frac{m}{1-x^m}\\right)$",
        3,
    ),
    ("$a\times b$，$\theta$，$\tilde{x}$", "$a\\times b$，$\\theta$，$\\tilde{x}$", 3),
    ("$\beta$ 与 $\begin{cases}x\\end{cases}$", "$\\beta$ 与 $\\begin{cases}x\\end{cases}$", 2),
    ("$\x07lpha + \vec{v}$", "$\\alpha + \\vec{v}$", 2),
    # Not LaTeX: controls in prose, option tabs, letters that complete no command.
    ("第一页\f第二页", "第一页\f第二页", 0),
    ("题目\tA. 对\tB. 错", "题目\tA. 对\tB. 错", 0),
    ("$x$ 和\theory", "$x$ 和\theory", 0),  # "heory" completes no command
    ("没有公式\times", "没有公式\times", 0),  # no LaTeX on the line
    ("Windows 换行 $x$\r\n下一行", "Windows 换行 $x$\r\n下一行", 0),
    ("", "", 0),
]


@pytest.mark.parametrize(("text", "expected", "changed"), EATEN_LATEX)
def test_repair_latex_escapes(text, expected, changed):
    assert repair_latex_escapes(text) == (expected, changed)


def test_normalize_repairs_eaten_latex_escapes_before_cleaning_controls():
    damaged = "求极限 $\\lim _{x \rightarrow 0} \frac{\\sin x}{x}$\f下一页"
    out = normalize(damaged)
    assert out.text == "求极限 $\\lim _{x \\rightarrow 0} \\frac{\\sin x}{x}$\n下一页"
    assert out.control_chars == 3  # two commands repaired, one page break
    assert normalize(out.text).text == out.text


# --- fullwidth_to_halfwidth ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected", "converted"),
    [
        ("１２３ＡＢＣ，。", "123ABC，。", 6),
        ("ｈｅｌｌｏ　ｗｏｒｌｄ！", "hello　world！", 10),
        ("价格：￥１９９．００元", "价格：￥199．00元", 5),
        ("第２０２３届ＧＰＴ大会（北京）", "第2023届GPT大会（北京）", 7),
        ("全角问号？感叹号！句号。逗号，保留", "全角问号？感叹号！句号。逗号，保留", 0),
        ("ａｚＡＺ０９", "azAZ09", 6),
        ("半角abc123不变", "半角abc123不变", 0),
        ("", "", 0),
    ],
)
def test_fullwidth_to_halfwidth(text, expected, converted):
    assert fullwidth_to_halfwidth(text) == (expected, converted)


# --- strip_boilerplate -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_removed", "kept", "gone"),
    [
        ("谢邀。\n我来回答这个问题。", 1, "我来回答这个问题。", "谢邀"),
        ("谢邀，人在美国，刚下飞机。\n先说结论：可以。", 1, "先说结论：可以。", "刚下飞机"),
        ("感谢邀请！正文从这里开始。", 1, "正文从这里开始。", "感谢邀请"),
        ("  谢谢邀请\n正文", 1, "正文", "谢谢邀请"),
        ("正文第一段。\n编辑于 2023-05-06 10:21", 1, "正文第一段。", "编辑于"),
        ("正文。\n发布于 2021/3/4 08:00 · IP 属地北京", 1, "正文。", "发布于"),
        ("正文。\n更新于 2022年5月6日", 1, "正文。", "更新于"),
        ("正文。\n创作时间：2020-01-02 12:00:00", 1, "正文。", "创作时间"),
        ("正文。\n" + ZHIHU_FOOTER, 1, "正文。", "著作权"),
        (BAIKE_NAG + "\n高血压是一种常见病。", 1, "高血压是一种常见病。", "本词条"),
        ("回答。\n赞同 523\n12 条评论\n收藏\n分享\n举报\n添加评论", 6, "回答。", "赞同"),
    ],
)
def test_strip_boilerplate_removes_site_chrome(text, expected_removed, kept, gone):
    out, removed = strip_boilerplate(text)
    assert removed == expected_removed
    assert kept in out
    assert gone not in out


@pytest.mark.parametrize(
    "text",
    [
        "我想说谢邀这种开头没有必要。",  # opener only counts at the very start
        "赞同这个观点，但是有补充。",  # "赞同" followed by prose is content, not a vote button
        "我编辑于昨天的那篇文章被删了。",  # not at line start, and no date
        "关于著作权，请参考相关法律。",
        "",
    ],
)
def test_strip_boilerplate_keeps_content(text):
    assert strip_boilerplate(text) == (text, 0)


# --- normalize_whitespace --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  多个   空格  ", "多个 空格"),
        ("全角\u3000空格和\u00a0不换行空格", "全角 空格和 不换行空格"),
        ("制表\t\t符", "制表 符"),
        ("第一段\n\n\n\n\n第二段", "第一段\n\n第二段"),
        ("行尾空格   \n  行首空格", "行尾空格\n行首空格"),
        ("\n\n  \n", ""),
        ("", ""),
        (
            "示例代码：\n```python\n    def 你好():\n        return  '世界'   \n```\n"
            "  说明  文字  ",
            "示例代码：\n```python\n    def 你好():\n        return  '世界'\n```\n说明 文字",
        ),
        (
            "~~~\n\tif x:\n\t\treturn\u30001\n~~~\n尾巴\u3000\u3000文字",
            "~~~\n\tif x:\n\t\treturn\u30001\n~~~\n尾巴 文字",
        ),
        # An unclosed fence keeps the rest of the text verbatim (except trailing spaces).
        ("说明：\n  ```\n  a    b  ", "说明：\n```\n  a    b"),
        # ``` in the middle of a line is not a fence.
        ("行内 ```代码```   很    多空格", "行内 ```代码``` 很 多空格"),
    ],
)
def test_normalize_whitespace(text, expected):
    assert normalize_whitespace(text) == expected


# --- count_changed_chars ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("", "", 0),
        ("这是测试", "这是测试", 0),
        ("這是一個測試", "这是一个测试", 4),
        ("臺灣", "台湾", 2),
        ("abc", "ab", 1),
        ("a", "xyz", 3),
        ("軟體", "", 2),
    ],
)
def test_count_changed_chars(before, after, expected):
    assert count_changed_chars(before, after) == expected


# --- normalize -------------------------------------------------------------------------------

ZHIHU_ANSWER = (
    "谢邀。\n\n"
    "\u3000\u3000这个问题要从两方面看：\n\n\n\n"
    "第一，ＧＰＵ的算力在２０２３年翻了一倍；\n"
    "第二，显存    仍然是瓶颈。\n"
    "编辑于 2023-05-06 10:21\n"
    f"{ZHIHU_FOOTER}\n"
    "赞同 523\n"
    "12 条评论"
)


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        (
            ZHIHU_ANSWER,
            {},
            Normalized(
                "这个问题要从两方面看：\n\n"
                "第一，GPU的算力在2023年翻了一倍；\n第二，显存 仍然是瓶颈。",
                0,
                0,
                7,
                5,
            ),
        ),
        (
            "這是一個測試。臺灣的軟體產業很發達！",
            {"t2s": T2S},
            Normalized("这是一个测试。台湾的软体产业很发达！", 12, 0, 0, 0),
        ),
        (
            "這是一個測試。臺灣的軟體產業很發達！",
            {},
            Normalized("這是一個測試。臺灣的軟體產業很發達！", 0, 0, 0, 0),
        ),
        (
            "第一行\f第二行\u2028第三行\x00\u200b\ufeff",
            {},
            Normalized("第一行\n第二行\n第三行", 0, 5, 0, 0),
        ),
        ("１２３ＡＢＣ，。！？", {}, Normalized("123ABC，。！？", 0, 0, 6, 0)),
        (
            "１２３ＡＢＣ，。！？",
            {"fullwidth": False},
            Normalized("１２３ＡＢＣ，。！？", 0, 0, 0, 0),
        ),
        (
            "谢邀。\n正文。\n编辑于 2023-05-06 10:21",
            {"boilerplate": False},
            Normalized("谢邀。\n正文。\n编辑于 2023-05-06 10:21", 0, 0, 0, 0),
        ),
        ("太好了😂😂👍，谢谢分享！", {}, Normalized("太好了😂😂👍，谢谢分享！", 0, 0, 0, 0)),
        # Removing one opener can expose the next; all of them go in one call.
        ("谢邀。\n谢邀！\n谢邀\n正文。", {}, Normalized("正文。", 0, 0, 0, 3)),
        ("编辑于 2023-05-06 10:21\n谢邀\n谢邀\n正文。", {}, Normalized("正文。", 0, 0, 0, 3)),
        ("", {}, Normalized("", 0, 0, 0, 0)),
        ("", {"t2s": T2S}, Normalized("", 0, 0, 0, 0)),
        (" \u3000\t\n\n\f\u200b ", {}, Normalized("", 0, 2, 0, 0)),
        # A traditional chrome line only becomes recognizable after t2s: the second pass gets it.
        (
            "正文內容。\n編輯於 2023-05-06 10:21",
            {"t2s": T2S},
            Normalized("正文内容。", 4, 0, 0, 1),
        ),
        (
            "```python\n    def f():\n        return 1\n```\n谢邀这种话    不在开头。",
            {},
            Normalized(
                "```python\n    def f():\n        return 1\n```\n谢邀这种话 不在开头。", 0, 0, 0, 0
            ),
        ),
    ],
)
def test_normalize_table(text, kwargs, expected):
    assert normalize(text, **kwargs) == expected


def test_normalize_very_long_text():
    paragraph = "这是一个很长的段落，用来测试性能。\u3000\u3000Ｔｅｓｔ１２３\n\n\n"
    text = paragraph * 20_000  # ~700k characters
    result = normalize(text)
    expected_para = "这是一个很长的段落，用来测试性能。 Test123"
    assert result.text == "\n\n".join([expected_para] * 20_000)
    assert result.fullwidth_chars == 7 * 20_000
    assert result.boilerplate_lines == 0


# --- properties ------------------------------------------------------------------------------

_TOKENS = [
    "谢邀",
    "谢邀。",
    "谢谢邀请！",
    "感谢邀请",
    "謝邀",
    "编辑于 2023-05-06 10:21",
    "編輯於 2023-05-06",
    "发布于 2021/3/4",
    ZHIHU_FOOTER,
    "赞同 12",
    "3 条评论",
    "收藏",
    "\n",
    "\n\n\n",
    " ",
    "  ",
    "\u3000",
    "\t",
    "\u00a0",
    "\f",
    "\v",
    "\r\n",
    "\u2028",
    "\u2029",
    "\x00",
    "\u200b",
    "\ufeff",
    "```",
    "~~~",
    "    ",
    "１２３",
    "ＡＢＣ",
    "，。！？",
    "這是一個測試",
    "臺灣",
    "軟體",
    "乾隆",
    "正文",
    "😀",
    "def f():",
]
_messy_text = st.lists(st.one_of(st.sampled_from(_TOKENS), st.text(max_size=4)), max_size=30).map(
    "".join
)

_LEFTOVER_CONTROLS = regex.compile(
    r"[\r\v\f\x85\u2028\u2029\x00-\x08\x0e-\x1f\x7f-\x84\x86-\x9f\u00ad\u200b\u200c\u2060\ufeff]"
    # a zero-width joiner is allowed only between emoji (👨‍👩‍👧)
    r"|(?<!\p{Extended_Pictographic}[\ufe0f\U0001f3fb-\U0001f3ff]?)\u200d"
    r"|\u200d(?!\p{Extended_Pictographic})"
)


@pytest.mark.parametrize(
    ("text", "expected", "removed"),
    [
        ("一家人👨\u200d👩\u200d👧出游", "一家人👨\u200d👩\u200d👧出游", 0),
        ("彩虹旗🏳\ufe0f\u200d🌈", "彩虹旗🏳\ufe0f\u200d🌈", 0),
        ("中\u200d文", "中文", 1),
        ("点赞👍\u200d", "点赞👍", 1),
        ("\u200d👍", "👍", 1),
    ],
)
def test_zero_width_joiner_survives_only_inside_emoji_sequences(text, expected, removed):
    assert clean_controls(text) == (expected, removed)


@settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 200)), deadline=None)
@given(_messy_text)
@example("谢邀\n谢邀\n谢邀")
@example("编辑于 2023-05-06 10:21\n谢邀\n谢邀")
@example("谢邀。谢邀。谢邀")
def test_normalize_is_idempotent_without_t2s(text):
    once = normalize(text).text
    assert normalize(once).text == once


@settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 200)), deadline=None)
@given(_messy_text)
@example("謝邀\n謝邀\n谢邀")
@example("編輯於 2023-05-06\n謝邀\n謝邀")
def test_normalize_is_idempotent_with_opencc_t2s(text):
    once = normalize(text, t2s=T2S).text
    assert normalize(once, t2s=T2S).text == once


@settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 200)), deadline=None)
@given(_messy_text)
def test_normalize_output_is_clean(text):
    out = normalize(text).text
    assert not _LEFTOVER_CONTROLS.search(out)
    assert "\n\n\n" not in out
    assert out == out.strip()
    assert not regex.search(r"[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]", out)


@settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 200)), deadline=None)
@given(st.text(max_size=60))
def test_clean_controls_count_accounts_for_every_change(text):
    # Single line breaks become "\n" (one more newline each), "\r\n" becomes "\n" (one
    # character shorter) and invisible characters are dropped (one character shorter each).
    out, changed = clean_controls(text)
    shorter = len(text) - len(out)
    more_newlines = out.count("\n") - text.count("\n")
    assert changed == shorter + more_newlines
    assert (changed == 0) == (out == text)
    assert not _LEFTOVER_CONTROLS.search(out)


_GATE = None


def _gate():
    global _GATE
    if _GATE is None:
        from beam_cqia.text.script import TraditionalGate

        _GATE = TraditionalGate(opencc.OpenCC("t2s").convert)
    return _GATE


_RICH_TOKENS = [
    *_TOKENS,
    "13812345678",
    "zs@example.com",
    "https://a.example.com/x?q=1",
    "[文档](https://b.example.org)",
    "😀",
    "👨\u200d👩\u200d👧",
    "❤️",
    "編輯於 2023-05-06",
    "谢邀。",
    "\n```python\nx = 'https://keep.me'  # 😀\n```\n",
    "覆盖层",
    "ＡＢＣ１２３",
]


@settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 200)), deadline=None)
@given(
    st.lists(st.sampled_from(_RICH_TOKENS), max_size=25).map("".join),
    st.sampled_from(["keep", "remove", "mask"]),
    st.sampled_from(["keep", "remove", "mask"]),
    st.sampled_from(["keep", "remove"]),
)
def test_normalize_with_every_option_is_idempotent(text, urls, pii, emoji):
    options = {"urls": urls, "pii": pii, "emoji": emoji}
    once = normalize(text, _gate(), **options)
    twice = normalize(once.text, _gate(), **options)
    assert twice.text == once.text
    if pii != "keep":
        assert twice.pii == {}
    if urls != "keep":
        assert twice.urls == 0
    if emoji == "remove":
        assert twice.emoji == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- 水果\n  - 苹果\n  - 香蕉\n- 蔬菜", "- 水果\n  - 苹果\n  - 香蕉\n- 蔬菜"),
        ("1. 准备\n   1. 洗菜\n\t2. 切菜", "1. 准备\n   1. 洗菜\n    2. 切菜"),
        ("　　首行缩进的段落。\n   不是列表的缩进", "首行缩进的段落。\n不是列表的缩进"),
    ],
)
def test_nested_list_indentation_survives(text, expected):
    assert normalize_whitespace(text) == expected
    assert normalize(text).text == expected


def test_boilerplate_hint_covers_every_alternative():
    """strip_boilerplate searches _BOILERPLATE_LINE only in texts where _BOILERPLATE_HINT finds a
    word: every run of Chinese in the pattern must hold a hint word, or come after one in its
    alternative (编辑/完善 after 本词条缺少, 年/月 in dates)."""
    import re

    from beam_cqia.text import normalize as n

    after_a_hint = {"编辑", "完善", "年", "月"}
    for run in re.findall(r"[\u4e00-\u9fff]+", n._BOILERPLATE_LINE.pattern):
        assert run in after_a_hint or n._BOILERPLATE_HINT.search(run), run


@pytest.mark.parametrize(
    "text",
    [
        "  a  b\u3000c \n d\t\n\n\n\ne\u2028f\x1c \n",
        "第一行 \n第二行\n 第三行\n\n\n第四行",
        " 只有一行 ",
        "\u00a0\u00a0缩进\u3000",
        "ｆｕｌｌ　ｗｉｄｔｈ　１２３",
        "编辑于 2023-01-02\n正文",
        "正文\n赞同 12\n",
    ],
)
def test_fast_paths_equal_the_full_passes(text):
    """The pre-checks of clean_controls, fullwidth_to_halfwidth, strip_boilerplate and
    normalize_whitespace skip work only where the full passes would change nothing."""
    from beam_cqia.text import normalize as n

    def full_whitespace(t: str) -> str:
        t = n._SPACE_RUN.sub(" ", n._ODD_SPACE.sub(" ", t))
        t = "\n".join(line.strip() for line in t.split("\n"))
        return n._BLANK_LINES.sub("\n\n", t).strip()

    if "\n " not in text and "\n\t" not in text:
        assert n.normalize_whitespace(text) == full_whitespace(text)
    assert n.clean_controls(text) == (
        n._INVISIBLE.sub("", n._LINE_BREAKS.sub("\n", text)),
        len(n._LINE_BREAKS.findall(text))
        + len(n._INVISIBLE.findall(n._LINE_BREAKS.sub("\n", text))),
    )


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list(" \t\n\u3000\u00a0\u2028\x1c\x85\u200bab中文１"))))
def test_whitespace_fast_path_property(text):
    from beam_cqia.text import normalize as n

    if "\n " in text or "\n\t" in text or "```" in text:
        return
    t = n._SPACE_RUN.sub(" ", n._ODD_SPACE.sub(" ", text))
    t = "\n".join(line.strip() for line in t.split("\n"))
    assert n.normalize_whitespace(text) == n._BLANK_LINES.sub("\n\n", t).strip()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("臺灣" * 40, "台湾" * 40),
        ("a" * 70, "a" * 69 + "b"),
        ("x" * 100, "x" * 120),
        ("ab" * 40, ""),
    ],
)
def test_count_changed_chars_long_texts(before, after):
    from beam_cqia.text.normalize import count_changed_chars

    expected = sum(a != b for a, b in zip(before, after, strict=False)) + abs(
        len(before) - len(after)
    )
    assert count_changed_chars(before, after) == expected
