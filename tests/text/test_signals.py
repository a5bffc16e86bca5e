"""Tests for beam_cqia.text.signals (pure functions, no Beam)."""

import dataclasses
import json
import math
import pickle
from collections import defaultdict
from pathlib import Path

import opencc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from beam_cqia.records import CqiaRecord, RawDoc, TaskType
from beam_cqia.text import signals
from beam_cqia.text.signals import (
    Lexicon,
    SignalContext,
    ad_hits,
    answer_of,
    assistant_hits,
    boilerplate_hits,
    char_len,
    check_rules,
    cjk_ratio,
    compute,
    compute_text,
    content_of,
    cut_off,
    dup_line_frac,
    dup_ngram_frac,
    dup_para_frac,
    emoji_ratio,
    load_lexicon,
    make_context,
    ngram_repetition,
    numeric_meta,
    punct_ratio,
    sensitive_hits,
    sentence_end_ratio,
    special_char_ratio,
    text_fields_of,
    top_char_frac,
    top_ngram_frac,
    trad_ratio,
    traditional_chars,
    truncated,
    url_count,
    url_density,
)

T2S = opencc.OpenCC("t2s").convert


@pytest.fixture(scope="module")
def trad() -> frozenset[str]:
    return traditional_chars(T2S)


# A small lexicon written for these tests: word<TAB>category, one uncategorized word.
SMALL_LEXICON = "赌博\t赌博\n六合彩\t赌博\n彩票站\t其他\n毒品\t毒品\nAV\t色情\n脏话\n"


def raw_doc(**fields) -> RawDoc:
    base = {
        "id": "d1",
        "source": "zhihu",
        "subset": "zhihu",
        "url": "https://www.zhihu.com/question/1/answer/2",
        "title": "如何学习机器学习？",
        "question": "如何学习机器学习？\n零基础，想转行。",
        "body": "",
        "answer": "先学线性代数，再学概率论。",
        "meta": {"votes": "523"},
        "fetched_at": "",
        "origin_file": "zhihu.jsonl",
        "origin_offset": 0,
        "signals": {},
        "lineage": [],
    }
    base.update(fields)
    return RawDoc(**base)


def cqia(**fields) -> CqiaRecord:
    base = {
        "instruction": "请介绍一下高血压。",
        "input": "",
        "output": "高血压是以体循环动脉压增高为主要特征的临床综合征。",
        "task_type": TaskType(["问答"], ["百科问答"]),
        "domain": ["百科", "医学"],
        "metadata": "entry_id:bk-1",
        "answer_from": "human",
        "human_verified": False,
        "copyright": "暂无版权及作者信息",
        "id": "c1",
        "source": "baike",
        "subset": "baike",
        "template_id": "baike_article.v1#1",
        "signals": {},
        "cluster_id": "",
        "lineage": [],
    }
    base.update(fields)
    return CqiaRecord(**base)


@pytest.mark.parametrize(
    ("fn", "text", "expected"),
    [
        (char_len, "中文😀", 3.0),
        (char_len, "", 0.0),
        (cjk_ratio, "这是中文", 1.0),
        (cjk_ratio, "這是繁體", 1.0),
        (cjk_ratio, "abc中文", 2 / 5),
        (cjk_ratio, "中 文\n\t中\u3000文", 1.0),  # whitespace (incl. ideographic space) excluded
        (cjk_ratio, "中文，。", 0.5),
        (cjk_ratio, "😀中", 0.5),
        (cjk_ratio, "", 0.0),
        (cjk_ratio, "   \n", 0.0),
        (punct_ratio, "你好，世界！", 2 / 6),
        (punct_ratio, "。。。", 1.0),
        (punct_ratio, "a-b", 1 / 3),
        (punct_ratio, "￥100", 0.0),  # currency signs are symbols, not punctuation
        (punct_ratio, "“引号”《书名》", 4 / 8),
        (punct_ratio, "", 0.0),
        (special_char_ratio, "价格￥100元", 1 / 7),
        (special_char_ratio, "a+b=c", 2 / 5),
        (special_char_ratio, "~好的～", 2 / 4),  # tildes are math symbols in Unicode
        (special_char_ratio, "x\x01y", 1 / 3),  # a control character
        (special_char_ratio, "\ue000私用区", 1 / 4),  # private use
        (special_char_ratio, "😀★", 1 / 2),  # the star is special, the emoji is not
        (special_char_ratio, "👍🏻赞", 0.0),  # skin-tone modifier belongs to the emoji
        (special_char_ratio, "🇨🇳中国", 0.0),  # flags are emoji
        (special_char_ratio, "©2023年", 0.0),  # © is a pictograph (emoji_ratio counts it)
        (special_char_ratio, "你好，世界！“引号”【括号】", 0.0),
        (special_char_ratio, "①②③ 一二三 123 abc", 0.0),  # numbers and letters
        (special_char_ratio, "", 0.0),
        (dup_line_frac, "顶\n顶\n顶", 2 / 3),
        (dup_line_frac, "第一行\n第二行", 0.0),
        (dup_line_frac, "甲乙\n\n甲乙\n丙", 2 / 5),
        (dup_line_frac, "  重复  \n重复", 0.5),
        (dup_line_frac, "", 0.0),
        (dup_line_frac, "\n\n  \n", 0.0),
        (dup_para_frac, "第一段。\n\n第一段。", 0.5),
        (dup_para_frac, "甲\n乙\n\n甲\n乙\n\n丙", 3 / 7),  # the second "甲\n乙" (3 characters)
        (dup_para_frac, "第一行\n第一行", 0.0),  # one paragraph: repeated lines are not paragraphs
        (dup_para_frac, "段落。\n  \n段落。\n\n\n段落。", 2 / 3),  # blank lines may hold spaces
        (dup_para_frac, "", 0.0),
        (top_char_frac, "顶顶顶", 1.0),
        (top_char_frac, "哈哈哈哈哈哈好", 6 / 7),
        (top_char_frac, "a b", 0.5),
        (top_char_frac, "", 0.0),
        (url_count, "访问 https://www.zhihu.com/question/123，或者www.baidu.com。", 2.0),
        (url_count, "链接：http://example.com/a?b=1（官网）", 1.0),
        (url_count, "HTTPS://EXAMPLE.COM/路径", 1.0),
        (url_count, "没有链接，只有中文。", 0.0),
        (url_density, "链接：https://www.zhihu.com/question/1 和 www.baidu.com", 2000 / 51),
        (url_density, "没有链接。", 0.0),
        (url_density, "", 0.0),
        (emoji_ratio, "😀😀", 1.0),
        (emoji_ratio, "好😀", 0.5),
        (emoji_ratio, "太好了 😂😂👍", 3 / 6),
        (emoji_ratio, "没有表情。", 0.0),
        (emoji_ratio, "", 0.0),
    ],
)
def test_signal_values(fn, text, expected):
    result = fn(text)
    assert isinstance(result, float)
    assert result == pytest.approx(expected)


def test_dup_line_frac_on_long_spam():
    spam = "\n".join(["顶顶顶，楼主好人！"] * 1000)
    assert dup_line_frac(spam) == pytest.approx(999 / 1000)
    assert top_char_frac(spam) == pytest.approx(3 / 9)


# --- traditional characters --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("這是繁體中文", 2 / 6),  # 這 體 are Traditional-only; 是 繁 中 文 are shared
        ("这是简体中文", 0.0),
        ("臺灣abc台湾", 2 / 4),  # letters do not count
        ("國語，說話。", 1.0),
        ("人民，中国", 0.0),  # characters both scripts share
        ("abc 123！", 0.0),
        ("", 0.0),
    ],
)
def test_trad_ratio(trad, text, expected):
    assert trad_ratio(text, trad) == pytest.approx(expected)


def test_traditional_chars_is_a_frozen_set_of_han_characters(trad):
    assert isinstance(trad, frozenset)
    assert {"體", "這", "國", "灣"} <= trad
    assert not {"体", "这", "国", "后", "的"} & trad
    assert all(signals._HAN.match(c) for c in trad)


# --- sentence ends and truncation --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("第一句。\n第二句！\n第三句？", 1.0),
        ("第一句。\n没有句号\n第三句…", 2 / 3),
        ("他说：“走吧”\n「好」\n『嗯』", 1.0),  # closing quotes end a sentence
        ("见下图（图1）\n参考《红楼梦》", 1.0),  # closing brackets count too
        ("步骤如下：\n先这样；\n再那样，\n最后", 2 / 4),  # clause ends yes, ，and words no
        ("好开心～\n太棒了~\n冲鸭😀\n爱了❤️\n哈哈[偷笑R]", 1.0),  # casual ends, emoji, codes
        ("English sentence.\n中文句子．", 1.0),
        ("**注意多喝水。**\n*斜体结尾。*", 1.0),  # emphasis markers are skipped
        ("> 引用的一句话。\n> 没有结尾", 0.5),  # quotes are prose after the marker
        ("故本题选择：B\n因此答案为：A、C", 1.0),  # exam answer keys
        ("公式 $x^2$\n详见 https://example.com/a", 1.0),  # inline math, trailing URL
        ("首页\n新闻\n体育\n娱乐\n联系我们", 0.0),  # navigation chrome
        ("这是一段被硬换行的文字，\n在句子中间断开了，\n直到这里。", 1 / 3),
        # Structure is not prose: list items, headings, code, tables, rules, tags...
        ("## 标题\n- 列表项\n1. 第一\n2、第二\n（一）其一\n①圆圈", 1.0),
        ("**总结**\n正文。", 1.0),  # a bold-only line is a heading
        ("代码如下：\n```python\nx = 1\nprint(x)\n```\n说明。", 1.0),
        ("| 名称 | 数量 |\n|---|---|\n| 苹果 | 3 |\n结论。", 1.0),
        ("正文。\n\n---\n\n* * *", 1.0),
        ("$$\nx = 1\n$$\n因此成立。", 1.0),
        ("#旅行#美食\n#周末去哪儿[话题]#", 1.0),
        ("瘦腿 | 筷子腿 | 漫画腿\n穿搭/通勤/显瘦", 1.0),
        ("“勇敢地做自己。”\n——杨超越", 1.0),
        ("![图片](https://a.cn/1.png)\nhttps://example.com", 1.0),
        ("", 1.0),
        ("\n  \n", 1.0),
    ],
)
def test_sentence_end_ratio(text, expected):
    assert sentence_end_ratio(text) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("这是一个完整的回答。", 0.0),
        ("这是一个完整的回答！", 0.0),
        ("真的吗？", 0.0),
        ("未完待续……", 0.0),
        ("他说：“明天见。”", 0.0),
        ("推荐阅读《红楼梦》", 0.0),  # closing bracket
        ('{"TITLE":"德尔塔寻求竞标协议"}', 0.0),  # structured output
        ("今天好开心😀", 0.0),
        ("爱了❤️", 0.0),
        ("步骤4️⃣", 0.0),  # keycap emoji
        ("快点动手试试吧 [飞吻R][飞吻R]", 0.0),
        ("研究表明了这一点。[2,3]", 0.0),  # citation
        ("故本题选择：B", 0.0),
        ("因此答案为：A、C", 0.0),
        ("总计：$$2+2=4$$", 0.0),
        ("来自 https://developer.mozilla.org", 0.0),
        ("好的~", 0.0),
        ("**加粗的结尾。**", 0.0),
        # The end of a block.
        ("代码：\n```js\nlet a = 1;\n```", 0.0),
        ("| a | b |\n|---|---|\n| 1 | 2 |", 0.0),
        ("$$\nx^2\n$$", 0.0),
        ("正文。\n#减肥#瘦身#", 0.0),
        ("正文。\n瘦腿 | 筷子腿 | 漫画腿", 0.0),
        ("“做自己。”\n——杨超越", 0.0),
        ("正文。\n— END —", 0.0),
        ("正文。\n\n* * *", 0.0),
        # A list ends: fine unless the item needs a continuation.
        ("清单：\n- 苹果\n- 香蕉", 0.0),
        ("步骤：\n1、准备材料\n2、开始烹饪；", 0.0),
        ("清单：\n- 苹果，", 1.0),
        ("清单：\n1. 第一步：", 1.0),
        # Mid-sentence.
        ("这是一个被截断的回答，因为", 1.0),
        ("这是一个被截断的回答，", 1.0),
        ("列举如下、", 1.0),
        ("相关资料如下：", 1.0),  # promises more
        ("先这样；", 1.0),  # stops mid-enumeration
        ("书名是《红楼", 1.0),
        ("代码：\n```python\ndef f():\n    return", 1.0),  # inside an open fence
        ("公式：\n$$\nx = ", 1.0),  # inside an open $$ block
        ("正文。\n\n## 参考文献", 1.0),  # a heading whose section is missing
        ("海报：", 1.0),
        ("", 0.0),
        ("   \n\n", 0.0),
    ],
)
def test_truncated(text, expected):
    assert truncated(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Endings COIG-CQIA uses by style: whole texts, whatever truncated() says of some.
        ("这是一个回答。", 0.0),
        ("这个回答没有句号但说完了", 0.0),  # casual (8% of COIG-CQIA's Zhihu answers)
        ("步骤：\n1、准备材料\n2、开始烹饪；", 0.0),  # a list ending on ；
        ("可：大约；", 0.0),
        ("因此答案为ABCD", 0.0),
        ("正文。\n\n## 25、远离“成功学”。", 0.0),
        ("正文。\n\n**不妨去查下**", 0.0),
        ("书名是《红楼梦》", 0.0),
        ("代码：\n```js\nlet a = 1;\n```", 0.0),
        ("正文。\n爱了", 0.0),  # two characters: a closing exclamation, not a stray one
        ("好", 0.0),  # a one-character answer on its own
        ("", 0.0),
        ("  \n", 0.0),
        # Cut off or left open.
        ("临之，风辄引去，", 1.0),
        ("他会选择杀掉几个？（", 1.0),
        ("这样做的优点如下：", 1.0),
        ("基本压力传感器的调节电路:", 1.0),
        ("列举如下、", 1.0),
        ("清单：\n- 苹果，", 1.0),
        ("## 参考“", 1.0),
        ("正文。\n\n# ——高鼎《村居", 1.0),
        ("都能获得成功。\n大", 1.0),
        ("代码：\n```python\ndef f():\n    return", 1.0),  # inside an open fence
        ("公式：\n$$\nx = ", 1.0),
    ],
)
def test_cut_off(text, expected):
    assert cut_off(text) == expected


def test_zhihu_inline_display_math_does_not_open_a_block():
    text = "$$300K$$ 这个温度下，水分子 $$1s$$ 走了很远。\n\n一掬水，几秒钟就做到了呀。"
    assert truncated(text) == 0.0
    assert sentence_end_ratio(text) == 1.0


# --- n-gram repetition -------------------------------------------------------------------------


def _reference_ngrams(text: str, top_ns, dup_ns) -> tuple[dict, dict]:
    """The definitions, spelled out with dicts and sets."""
    visible = "".join(text.split())
    size = len(visible)
    positions = {}
    for n in {*top_ns, *dup_ns}:
        occ = defaultdict(list)
        for i in range(size - n + 1):
            occ[visible[i : i + n]].append(i)
        positions[n] = occ

    def covered(starts, n):
        return len({p + k for p in starts for k in range(n)})

    tops = {}
    for n in top_ns:
        occ = positions[n]
        if not occ:
            tops[n] = 0.0
            continue
        most = max(len(v) for v in occ.values())
        tops[n] = max(covered(v, n) for v in occ.values() if len(v) == most) / size
    dups = {}
    for n in dup_ns:
        starts = [p for v in positions[n].values() if len(v) > 1 for p in v]
        dups[n] = covered(starts, n) / size if size else 0.0
    return tops, dups


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("哈哈哈哈", 2, 1.0),  # overlapping occurrences cover 4 characters, not 6
        ("哈哈哈哈好", 2, 4 / 5),
        ("我爱你我爱你", 2, 4 / 6),  # 我爱 and 爱你 twice each, each covering 4
        ("我爱你我爱你", 3, 6 / 6),
        ("我爱你我爱你", 4, 4 / 6),  # every 4-gram once: any covers 4
        ("今天天气很好", 2, 2 / 6),  # all distinct: one 2-gram covers 2
        ("顶 顶\n顶 顶", 3, 1.0),  # whitespace removed first
        ("一二", 3, 0.0),  # shorter than n
        ("", 2, 0.0),
    ],
)
def test_top_ngram_frac(text, n, expected):
    assert top_ngram_frac(text, n) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "n", "expected"),
    [
        ("床前明月光，疑是地上霜。", 5, 0.0),
        ("床前明月光床前明月光", 5, 1.0),
        ("床前明月光床前明月光", 6, 0.0),
        ("床前明月光，疑是地上霜。床前明月光！", 5, 10 / 18),
        ("床前明月光，疑是地上霜。床前明月光！", 6, 0.0),
        ("哈哈哈哈哈哈", 5, 1.0),  # two overlapping occurrences cover all six
        ("哈哈哈哈哈哈", 6, 0.0),
        ("abcdeXabcdeYabcde", 5, 15 / 17),
        ("四个字儿", 5, 0.0),
        ("", 5, 0.0),
    ],
)
def test_dup_ngram_frac(text, n, expected):
    assert dup_ngram_frac(text, n) == pytest.approx(expected)


def test_ngram_repetition_returns_every_n_asked_for():
    tops, dups = ngram_repetition("床前明月光床前明月光")
    assert list(tops) == [2, 3, 4]
    assert list(dups) == [5, 6, 7, 8, 9, 10]
    assert dups == {5: 1.0, 6: 0.0, 7: 0.0, 8: 0.0, 9: 0.0, 10: 0.0}


def test_ngram_repetition_rejects_n_below_two():
    with pytest.raises(ValueError, match="n-gram sizes"):
        ngram_repetition("文本", (1,), ())


def test_ngram_repetition_on_long_repetitive_text():
    spam = "顶顶顶，楼主好人！\n" * 300
    tops, dups = ngram_repetition(spam)
    assert dups == dict.fromkeys(range(5, 11), 1.0)
    assert tops[2] == pytest.approx(_reference_ngrams(spam, (2,), ())[0][2])


def test_ngram_repetition_handles_astral_characters_and_lone_surrogates():
    text = "𠀀𠀁𠀂𠀀𠀁𠀂😀😀\ud800\ud800"
    tops, dups = ngram_repetition(text, (2, 3), (5,))
    assert (tops, dups) == _reference_ngrams(text, (2, 3), (5,))


_small_alphabet = st.text(alphabet=st.sampled_from(list("哈好的了。 \n啊ab")), max_size=60)


@settings(max_examples=300, deadline=None)
@given(_small_alphabet)
@example("")
@example("哈")
@example("哈哈哈哈哈哈哈哈哈哈哈哈")
def test_ngram_repetition_matches_the_definition(text):
    tops, dups = ngram_repetition(text, (2, 3, 4), (5, 6, 7, 8, 9, 10))
    ref_tops, ref_dups = _reference_ngrams(text, (2, 3, 4), (5, 6, 7, 8, 9, 10))
    assert tops == pytest.approx(ref_tops)
    assert dups == pytest.approx(ref_dups)


@settings(max_examples=200, deadline=None)
@given(_small_alphabet)
def test_dup_ngram_frac_never_grows_with_n(text):
    _, dups = ngram_repetition(text, (), range(2, 12))
    values = [dups[n] for n in range(2, 12)]
    assert values == sorted(values, reverse=True)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("这是一个测试文本，。！")), min_size=10, max_size=40))
def test_a_text_said_twice_is_all_duplicate(text):
    _, dups = ngram_repetition(text + "\n" + text)
    assert all(v == 1.0 for v in dups.values())


@settings(max_examples=100, deadline=None)
@given(_small_alphabet, st.sampled_from([" ", "\n", "\t", "\u3000", "\n\n"]))
def test_ngram_signals_ignore_whitespace(text, space):
    spaced = space.join(text)
    assert ngram_repetition(spaced) == ngram_repetition(text)


# --- phrase counts -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("谢邀。我来回答一下。", 1),
        ("谢谢邀请，这个问题我来说说。", 1),
        ("感谢 @张三 的邀请。\n正文。", 1),
        ("正文。\n编辑于 2023-01-02 12:00", 1),
        ("正文。编辑于 2021年5月3日", 1),
        ("发布于 昨天 10:24", 1),
        ("发布时间：2021.04.17\n如何保持冰箱清洁", 1),
        ("IP 属地：北京", 1),
        ("著作权归作者所有。商业转载请联系作者获得授权，非商业转载请注明出处。", 3),
        ("转载请注明出处！", 1),
        ("未经许可，严禁转载。", 1),  # one phrase, one hit
        ("严禁转载", 1),
        ("本文首发于微信公众号“某某”。", 1),
        ("首发于知乎专栏。", 1),
        ("原文链接：https://example.com", 1),
        ("点击左下角阅读原文", 1),
        ("喜欢的话记得点赞关注哦", 1),
        ("欢迎关注我，和我交流", 1),
        ("点赞关注不迷路", 1),
        ("一键三连！", 1),
        ("关注我的公众号获取更多", 1),
        ("1.2 万人赞同了该回答", 1),
        ("展开阅读全文", 1),
        ("赞同 1.2 万 · 收藏 · 分享", 1),
        ("赞同 523\n添加评论", 2),
        ("收藏 100", 1),
        ("来源：知乎\n链接：https://www.zhihu.com/question/1", 2),
        ("版权声明：本文为原创文章，版权归作者所有。", 2),
        ("责任编辑：陈驰", 1),
        ("（部分图片源自网络，如有侵权，请联系删除）", 2),
        ("图片来自网络，侵删", 2),
        ("如有侵权请联系作者进行删除。", 1),
        ("本词条缺少概述图", 1),
        ("正文。\n— END —", 1),
        ("正文。\n-end-", 1),
        ("正文。\nEND", 1),
        # Ordinary text that mentions the words.
        ("我来分享一下我的经验：先编辑文档，再发布。", 0),
        ("这本书值得收藏，推荐给喜欢历史的朋友。", 0),
        ("这首诗写于1930年5月12日，发表于次年。", 0),
        ("老师要求关注细节，不要粗心。", 0),
        ("他一直关注我的成长。", 0),
        ("如何关注公众号？打开微信搜索即可。", 0),
        ("抵押物未经同意不得转让，除非第三人代为清偿。", 0),
        ("请阅读原文，回答下列问题。", 0),
        ("这个回答获得了上千个赞同和收藏。", 0),
        ("喜欢喜欢", 0),  # a reader's cheer, not a UI row
        ("分享", 0),
        ("来源于生活，高于生活。", 0),
        ("```lua\nif x then\n  y()\nend\n```", 0),
        ("感谢邀请我参加婚礼的朋友们", 0),
        ("谢谢你的邀请函设计，很好看。", 0),
        ("", 0),
    ],
)
def test_boilerplate_hits(text, expected):
    assert boilerplate_hits(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("加我微信领取资料", 2),
        ("vx: abc12345", 1),
        ("QQ: 12345678", 1),
        ("微信号：wxid_abc123", 1),
        ("微信abc12345咨询", 1),
        ("交流群：123456789", 1),
        ("私信我领取", 1),
        ("优惠券限时免费", 2),
        ("名额有限，点击链接报名", 2),
        ("淘宝搜索店铺名", 1),
        ("扫码关注公众号", 1),
        ("长按识别二维码", 1),
        ("关注后免费领取全套资料", 1),
        ("评论区留言领取学习资料", 1),
        ("加我微信 xxx 领取免费资料，名额有限，先到先得！", 3),
        ("结算时输入优惠码「2P2018」", 1),
        ("领优惠券再下单", 1),
        ("有需要的朋友点击下方链接试用", 1),
        ("诚招代理，咨询热线：13800000000", 2),
        ("添加客服了解详情", 1),
        # Ordinary text.
        ("正常的回答，没有广告。", 0),
        ("我的微信很少用", 0),
        ("微信（WeChat）是腾讯的产品。", 0),
        ("微信 WeChat 支持小程序。", 0),
        ("用 wxPython 或 wxWidgets 写界面。", 0),
        ("wx.request({url: 'a'})", 0),
        ("当有代金券或者优惠券等减少金额时，可以在前端算。", 0),
        ("天猫用户重复购买预测、O2O优惠券预测", 0),
        ("携带身份证到窗口领取申请资料。", 0),
        ("段位名额有限，想抢到就得让自己变强。", 0),
        ("在手机上点击下方的“我的”按钮。", 0),
        ("他让我加油，我很感动。", 0),
        ("QQ音乐和网易云音乐哪个好？", 0),
        ("", 0),
    ],
)
def test_ad_hits(text, expected):
    assert ad_hits(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("作为一个AI语言模型，我没有个人观点。", 2),  # two phrases
        ("作为一个虚拟AI助手，我无法进行现实中的物理行动。", 1),
        ("作为人工智能数字人,我强烈反对任何形式的歧视。", 1),
        ("作为一个ai，我应该遵守法律。", 1),
        ("作为AI我认为这样不对。", 1),
        ("我是一个人工智能助手，很高兴为您服务。", 1),
        ("我是由OpenAI开发的语言模型。", 1),  # one phrase, one hit
        ("这个模型由OpenAI开发。", 1),
        ("我只是一个AI。", 1),
        ("很抱歉，我无法回答这个问题。", 1),
        ("抱歉，我不能提供有关暴力的指导。", 1),
        ("我不能提供有关暴力的指导。", 1),
        ("很抱歉，作为一个人工智能，我不能判断。", 1),
        ("我无法访问互联网。", 1),
        ("截至我的知识截止日期，该政策仍然有效。", 1),
        ("根据我的训练数据，答案是否定的。", 1),
        ("我没有个人情感和意识。", 1),
        ("我不具备联网的能力。", 1),
        ("As an AI language model, I cannot do that.", 1),
        # Ordinary text: 作为/根据/抱歉/人工智能 in their everyday sense.
        ("作为一名医生，我建议你多休息。", 0),
        ("作为人工智能专业的学生，我觉得这门课很有用。", 0),
        ("BERT作为一种语言模型，在很多任务上表现很好。", 0),
        ("作为大型语言模型，ChatGPT能写代码。", 0),
        ("根据我的经验，这样做更好。", 0),
        ("根据题意，答案为B。", 0),
        ("抱歉，我来晚了。", 0),
        ("对不起，我不会再这样了。", 0),
        ("我很抱歉听到这个消息。", 0),
        ("人工智能是未来的发展方向。", 0),
        ("我是人工智能专业的研究生。", 0),
        ("大家好，我是王爷，七年虚拟货币玩家。", 0),
        ("我无法获取他的联系方式。", 0),
        ("我对他没有感情了。", 0),
        ("我没有身体不适。", 0),
        ("", 0),
    ],
)
def test_assistant_hits(text, expected):
    assert assistant_hits(text) == expected


# --- lexicons ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_lexicon() -> Lexicon:
    return load_lexicon(SMALL_LEXICON)


def test_load_lexicon_word_category(small_lexicon):
    assert len(small_lexicon) == 6
    assert small_lexicon.categories == ("赌博", "其他", "毒品", "色情")
    assert small_lexicon.words["六合彩"] == ("赌博",)
    assert small_lexicon.words["av"] == ("色情",)  # stored lower-cased
    assert small_lexicon.words["脏话"] == ()


@pytest.mark.parametrize(
    ("text", "expected_total", "expected_per"),
    [
        ("他沉迷赌博，还买六合彩。", 2, {"赌博": 2, "其他": 0, "毒品": 0, "色情": 0}),
        ("远离毒品，远离赌博。", 2, {"赌博": 1, "其他": 0, "毒品": 1, "色情": 0}),
        ("楼下新开了彩票站", 1, {"赌博": 0, "其他": 1, "毒品": 0, "色情": 0}),
        ("不要说脏话", 1, {"赌博": 0, "其他": 0, "毒品": 0, "色情": 0}),  # no category
        ("AV 和 av 和 Av", 3, {"赌博": 0, "其他": 0, "毒品": 0, "色情": 3}),  # case-insensitive
        ("我用java写代码，avatar也行，AV8不算", 0, {"赌博": 0, "其他": 0, "毒品": 0, "色情": 0}),
        ("看了AV。", 1, {"赌博": 0, "其他": 0, "毒品": 0, "色情": 1}),  # Han neighbours are fine
        ("这是一段正常的文字。", 0, {"赌博": 0, "其他": 0, "毒品": 0, "色情": 0}),
        ("", 0, {"赌博": 0, "其他": 0, "毒品": 0, "色情": 0}),
    ],
)
def test_lexicon_count(small_lexicon, text, expected_total, expected_per):
    assert small_lexicon.count(text) == (expected_total, expected_per)


def test_lexicon_matches_leftmost_longest_without_overlap():
    lexicon = load_lexicon("六合\n六合彩\n合彩票\n彩票\n")
    # 六合彩 (longest at the leftmost start) wins; 合彩票 overlaps it; then 彩票 is not reached
    # inside 六合彩, but the second 彩票 is.
    assert lexicon.matches("六合彩票，彩票") == [(0, "六合彩"), (5, "彩票")]


def test_sensitive_hits_names_every_category(small_lexicon):
    assert sensitive_hits("赌博和毒品", small_lexicon) == {
        "sensitive_hits": 2.0,
        "sensitive.赌博": 1.0,
        "sensitive.其他": 0.0,
        "sensitive.毒品": 1.0,
        "sensitive.色情": 0.0,
    }


@pytest.mark.parametrize(
    ("source", "layout", "words"),
    [
        ("赌博\t赌博\n毒品\t毒品\n", "auto", {"赌博": ("赌博",), "毒品": ("毒品",)}),
        # auto: the column with fewer distinct values holds the categories
        (
            "政治\t甲\n政治\t乙\n其他\t丙\n",
            "auto",
            {"甲": ("政治",), "乙": ("政治",), "丙": ("其他",)},
        ),
        (
            "甲\t政治\n乙\t政治\n丙\t其他\n",
            "auto",
            {"甲": ("政治",), "乙": ("政治",), "丙": ("其他",)},
        ),
        ("政治\t甲\n", "category_word", {"甲": ("政治",)}),
        ("甲\t政治\n", "word_category", {"甲": ("政治",)}),
        ("甲\t政治\n甲\t其他\n甲\t政治\n", "word_category", {"甲": ("政治", "其他")}),
        ("\ufeff# 注释\n\n 甲 \n乙\r\n", "auto", {"甲": (), "乙": ()}),  # BOM, comment, CRLF
        ("甲\n", "auto", {"甲": ()}),  # one word: a trailing newline makes it text
        ("甲\t政治\n乙\n", "auto", {"甲": ("政治",), "乙": ()}),
        ("ABC\nabc\n", "auto", {"abc": ()}),  # case-folded duplicates merge
        (b"\xe7\x94\xb2\t\xe6\x94\xbf\xe6\xb2\xbb\n", "auto", {"甲": ("政治",)}),  # UTF-8 bytes
    ],
)
def test_load_lexicon_layouts(source, layout, words):
    assert dict(load_lexicon(source, layout=layout).words) == words


def test_load_lexicon_from_paths(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text(SMALL_LEXICON, encoding="utf-8")
    assert load_lexicon(path).words == load_lexicon(SMALL_LEXICON).words
    assert load_lexicon(str(path)).words == load_lexicon(SMALL_LEXICON).words
    with pytest.raises(FileNotFoundError):
        load_lexicon(str(tmp_path / "missing.txt"))


@pytest.mark.parametrize(
    ("source", "layout", "match"),
    [
        ("甲\t政治\t多余\n", "auto", "line 1"),
        ("甲\n\t政治\n", "auto", "line 2"),
        ("甲\t\n", "auto", "line 1"),
        ("甲\n", "category", "unknown lexicon layout"),
    ],
)
def test_load_lexicon_rejects_bad_input(source, layout, match):
    with pytest.raises(ValueError, match=match):
        load_lexicon(source, layout=layout)


def test_empty_lexicon_matches_nothing():
    lexicon = load_lexicon("# nothing yet\n")
    assert len(lexicon) == 0
    assert lexicon.categories == ()
    assert lexicon.count("任何文字") == (0, {})
    assert sensitive_hits("任何文字", lexicon) == {"sensitive_hits": 0.0}


def test_lexicon_is_read_only_and_picklable(small_lexicon):
    with pytest.raises(TypeError):
        small_lexicon.words["新词"] = ("其他",)  # type: ignore[index]
    with pytest.raises(AttributeError):
        small_lexicon.categories = ()  # type: ignore[misc]
    copy = pickle.loads(pickle.dumps(small_lexicon))
    assert copy.words == small_lexicon.words
    assert copy.count("赌博六合彩") == small_lexicon.count("赌博六合彩")


def _reference_matches(text: str, words: set[str]) -> list[tuple[int, str]]:
    """Leftmost-longest, non-overlapping, then the ASCII-boundary filter."""
    ascii_word = set("abcdefghijklmnopqrstuvwxyz0123456789")
    text = text.lower()
    found, i = [], 0
    while i < len(text):
        best = max((w for w in words if text.startswith(w, i)), key=len, default=None)
        if best is None:
            i += 1
            continue
        end = i + len(best)
        ok_start = best[0] not in ascii_word or i == 0 or text[i - 1] not in ascii_word
        ok_end = best[-1] not in ascii_word or end == len(text) or text[end] not in ascii_word
        if ok_start and ok_end:
            found.append((i, best))
        i = end
    return found


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.text(alphabet="赌博彩票ab", min_size=1, max_size=3), min_size=1, max_size=6),
    st.text(alphabet="赌博彩票abAB 。", max_size=40),
)
def test_lexicon_matches_follow_the_definition(words, text):
    lexicon = load_lexicon("".join(f"{w}\n" for w in words))
    assert lexicon.matches(text) == _reference_matches(text, {w.lower() for w in words})


# --- context, rules and compute ----------------------------------------------------------------


def test_make_context_builds_only_what_the_rules_need(small_lexicon):
    assert make_context(["cjk_ratio", "chars"]) == SignalContext()
    ctx = make_context(["sensitive_hits"], sensitive=SMALL_LEXICON)
    assert ctx.trad_chars is None
    assert ctx.sensitive is not None and ctx.sensitive.words == small_lexicon.words
    assert make_context(["sensitive_hits"], sensitive=small_lexicon).sensitive is small_lexicon
    with pytest.raises(ValueError, match="sensitive_hits"):
        make_context(["sensitive_hits"])


def test_make_context_trad_chars_with_a_given_converter(trad):
    ctx = make_context(["trad_ratio"], t2s=T2S)
    assert ctx.trad_chars == trad
    assert ctx.sensitive is None


def test_signal_context_is_frozen(trad):
    ctx = SignalContext(trad_chars=trad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.trad_chars = frozenset()  # type: ignore[misc]


@pytest.fixture(scope="module")
def full_context(trad) -> SignalContext:
    return SignalContext(trad_chars=trad, sensitive=load_lexicon(SMALL_LEXICON))


def test_text_fields_of():
    assert text_fields_of(raw_doc()) == ("title", "question", "body", "answer")
    assert text_fields_of(cqia()) == ("instruction", "input", "output")


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (raw_doc(answer="答案。", body="正文。"), "答案。\n正文。"),
        (raw_doc(answer="只有答案。", body=""), "只有答案。"),
        (raw_doc(answer="", body="只有正文。"), "只有正文。"),
        (raw_doc(answer="", body=""), "如何学习机器学习？\n零基础，想转行。"),
        (raw_doc(answer="", body="", question=""), "如何学习机器学习？"),
        (cqia(output="输出。"), "输出。"),
        (cqia(output=""), "请介绍一下高血压。"),
    ],
)
def test_content_of(record, expected):
    assert content_of(record) == expected


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        # A published exam record read back: its input (the question) ends with a blank to
        # fill, its output is whole. cut_off judges the output.
        (raw_doc(answer="故本题选B。", body="填空：________答："), 0.0),
        (raw_doc(answer="临之，风辄引去，", body="出处是什么？"), 1.0),
        (raw_doc(answer="", body="文章写到一半，"), 1.0),  # an article: its body
        (raw_doc(answer="  ", body="完整的文章。"), 0.0),
        (cqia(output="说完了。", input="题目："), 0.0),
        (cqia(output="没说完，"), 1.0),
    ],
)
def test_cut_off_is_computed_on_the_answer_alone(record, expected):
    assert compute(record, ["cut_off", "truncated"])["cut_off"] == expected


def test_compute_on_raw_doc():
    doc = raw_doc(answer="先学数学，再学编程。", body="")
    out = compute(doc, ["chars", "cjk_ratio", "punct_ratio", "url_count"])
    assert out == {
        "chars.title": float(len(doc.title)),
        "chars.question": float(len(doc.question)),
        "chars.body": 0.0,
        "chars.answer": 10.0,
        "cjk_ratio": pytest.approx(8 / 10),
        "punct_ratio": pytest.approx(2 / 10),
        "url_count": 0.0,
    }


def test_compute_on_cqia_record_uses_output():
    rec = cqia(output="顶\n顶\n顶", input="补充")
    out = compute(rec, ("chars", "dup_line_frac", "top_char_frac"))
    assert out == {
        "chars.instruction": 9.0,
        "chars.input": 2.0,
        "chars.output": 5.0,
        "dup_line_frac": pytest.approx(2 / 3),
        "top_char_frac": 1.0,
    }


def test_compute_without_chars_has_no_length_signals():
    out = compute(raw_doc(), ["emoji_ratio"])
    assert list(out) == ["emoji_ratio"]


def test_compute_rejects_unknown_rule():
    with pytest.raises(ValueError, match="perplexity"):
        compute(raw_doc(), ["cjk_ratio", "perplexity"])


@pytest.mark.parametrize(
    ("rules", "context", "match"),
    [
        (["trad_ratio"], None, "trad_ratio .needs SignalContext.trad_chars"),
        (["sensitive_hits"], None, "sensitive_hits .needs SignalContext.sensitive"),
        (["cjk_ratio", "sensitive_hits"], SignalContext(trad_chars=frozenset("體")), "sensitive"),
    ],
)
def test_compute_rejects_context_rules_without_their_context(rules, context, match):
    with pytest.raises(ValueError, match=match):
        compute(raw_doc(), rules, context)
    with pytest.raises(ValueError, match="make_context"):
        check_rules(rules, context)


def test_rules_are_all_computable(full_context):
    out = compute(
        raw_doc(answer="這是一個回答。加我微信领取资料。"), list(signals.RULES), full_context
    )
    expected = {
        *(f"chars.{f}" for f in signals.RAW_TEXT_FIELDS),
        *signals.CONTENT_RULES,
        *(f"top_ngram_frac.{n}" for n in (2, 3, 4)),
        *(f"dup_ngram_frac.{n}" for n in range(5, 11)),
        "trad_ratio",
        "sensitive_hits",
        *(f"sensitive.{c}" for c in full_context.sensitive.categories),
    }
    assert set(out) == expected
    assert out["trad_ratio"] == pytest.approx(2 / 14)  # 這 and 個 among 14 Han characters
    assert out["ad_hits"] == 2.0


def test_rule_tables_are_consistent():
    assert len(set(signals.RULES)) == len(signals.RULES)
    assert set(signals.DEFAULT_RULES) <= set(signals.RULES)
    assert not set(signals.DEFAULT_RULES) & set(signals.CONTEXT_RULES)
    for rule, attribute in signals.CONTEXT_RULES.items():
        assert rule in signals.RULES
        assert attribute in {f.name for f in dataclasses.fields(SignalContext)}


def test_default_rules_keep_the_signals_scores_had_before_the_context():
    out = compute(raw_doc(), list(signals.DEFAULT_RULES))
    assert set(out) == {
        *(f"chars.{f}" for f in signals.RAW_TEXT_FIELDS),
        "cjk_ratio",
        "punct_ratio",
        "dup_line_frac",
        "top_char_frac",
        "url_count",
        "emoji_ratio",
        "ad_hits",
    }


def test_compute_text_equals_compute_on_the_content(full_context):
    doc = raw_doc(answer="谢邀。\n作为一个AI语言模型，我无法回答。\n\n谢邀。", body="正文，")
    # Ending rules (cut_off) read the answer alone, the others answer and body.
    rules = [r for r in signals.RULES if r != "chars" and r not in signals.ENDING_RULES]
    assert compute_text(content_of(doc), rules, full_context) == compute(doc, rules, full_context)
    ending = sorted(signals.ENDING_RULES)
    assert compute_text(answer_of(doc), ending) == compute(doc, ending) == {"cut_off": 0.0}
    assert compute_text(content_of(doc), ending) == {"cut_off": 1.0}


def test_compute_shares_one_ngram_pass_between_both_ngram_rules():
    text = "床前明月光，疑是地上霜。床前明月光！"
    both = compute_text(text, ["top_ngram_frac", "dup_ngram_frac"])
    tops, dups = ngram_repetition(text)
    assert both == {
        **{f"top_ngram_frac.{n}": v for n, v in tops.items()},
        **{f"dup_ngram_frac.{n}": v for n, v in dups.items()},
    }
    assert compute_text(text, ["dup_ngram_frac"]) == {
        f"dup_ngram_frac.{n}": v for n, v in dups.items()
    }


@pytest.mark.parametrize(
    ("meta", "key", "expected"),
    [
        ({"votes": "523"}, "votes", 523.0),
        ({"votes": "1e3"}, "votes", 1000.0),
        ({"answer_rank": "1"}, "answer_rank", 1.0),
        ({"votes": "很多"}, "votes", None),
        ({"votes": ""}, "votes", None),
        ({"votes": "523"}, "comments", None),
        ({}, "votes", None),
        (None, "votes", None),
    ],
)
def test_numeric_meta(meta, key, expected):
    assert numeric_meta(meta, key) == expected


# --- properties ------------------------------------------------------------------------------

_RATIOS = [
    cjk_ratio,
    punct_ratio,
    special_char_ratio,
    dup_line_frac,
    dup_para_frac,
    top_char_frac,
    emoji_ratio,
    sentence_end_ratio,
]
_COUNTS = [url_count, ad_hits, boilerplate_hits, assistant_hits, char_len]
_SNIPPETS = [
    "\n\n",
    "```",
    "$$",
    "1. ",
    "- ",
    "## ",
    "谢邀",
    "编辑于 2023-01-01",
    "加微信",
    "作为AI，我",
]
_chinese_ish = st.lists(
    st.sampled_from(
        [
            *"这是一个测试這個臺灣軟體，。！？、；：“”（）《》 \n\t\u3000abcABC123😀👍🎉…—#-*|$`>",
            *_SNIPPETS,
        ]
    ),
    max_size=60,
).map("".join)
_any_text = st.one_of(st.text(max_size=80), _chinese_ish)


@settings(max_examples=300, deadline=None)
@given(_any_text)
def test_ratio_signals_stay_in_unit_interval(text):
    for fn in _RATIOS:
        value = fn(text)
        assert 0.0 <= value <= 1.0, (fn.__name__, value)
        assert not math.isnan(value)
    tops, dups = ngram_repetition(text)
    assert all(0.0 <= v <= 1.0 for v in (*tops.values(), *dups.values()))


@settings(max_examples=300, deadline=None)
@given(_any_text)
def test_count_signals_are_non_negative_whole_numbers(text):
    for fn in _COUNTS:
        value = fn(text)
        assert value >= 0
        assert value == int(value)
    assert char_len(text) == len(text)
    assert truncated(text) in (0.0, 1.0)
    assert url_density(text) >= 0.0


@settings(max_examples=200, deadline=None)
@given(_any_text)
def test_trad_ratio_in_unit_interval_and_zero_after_t2s(trad, text):
    value = trad_ratio(text, trad)
    assert 0.0 <= value <= 1.0
    assert trad_ratio(T2S(text), trad) == 0.0


@settings(max_examples=200, deadline=None)
@given(_any_text)
def test_line_signals_ignore_surrounding_blank_lines_and_trailing_spaces(text):
    padded = "\n\n" + "\n".join(line + "  " for line in text.split("\n")) + "\n \n"
    assert sentence_end_ratio(padded) == sentence_end_ratio(text)
    assert truncated(padded) == truncated(text)
    assert dup_line_frac(padded) == dup_line_frac(text)


@settings(max_examples=200, deadline=None)
@given(_any_text)
def test_compute_text_is_deterministic_and_complete(full_context, text):
    rules = [r for r in signals.RULES if r != "chars"]
    first = compute_text(text, rules, full_context)
    assert first == compute_text(text, rules, full_context)
    assert all(isinstance(v, float) and not math.isnan(v) for v in first.values())


# --- real data (../shared/corpora) -------------------------------------------------------------


def _cqia_records(corpora: Path) -> list[tuple[str, dict]]:
    root = corpora / "coig-cqia"
    if not root.is_dir():
        pytest.skip(f"COIG-CQIA files not found at {root}")
    out = []
    for file in sorted(root.rglob("*.jsonl")):
        # xhs.jsonl holds U+2028 inside strings: split on \n only.
        for line in file.read_bytes().split(b"\n"):
            if line.strip():
                out.append((file.relative_to(root).parts[0], json.loads(line)))
    return out


@pytest.mark.corpora
def test_chinesewebtext_sensitive_list_loads_in_its_category_word_layout(corpora):
    path = corpora / "chinesewebtext" / "sensitive_words" / "dict.txt"
    if not path.is_file():
        pytest.skip(f"sensitive-word list not found at {path}")
    lexicon = load_lexicon(path)
    assert set(lexicon.categories) == {
        "色情",
        "政治",
        "其他",
        "暴恐",
        "社会",
        "反动",
        "毒品",
        "赌博",
    }
    assert len(lexicon) > 1400
    # Words are taken from the file, never written here: each is found in a sentence around it.
    for category in lexicon.categories:
        word = next(w for w, cats in lexicon.words.items() if cats == (category,))
        total, per = lexicon.count(f"这句话里有{word}这个词。")
        assert total >= 1 and per[category] >= 1, (category, word)
    assert lexicon.count("我用java写代码，也用javascript和avro。")[0] == 0


@pytest.mark.corpora
def test_assistant_phrases_fire_only_on_llm_answers_in_coig_cqia(corpora):
    by_origin = defaultdict(int)
    for _folder, rec in _cqia_records(corpora):
        by_origin[rec["answer_from"] or "unknown"] += assistant_hits(rec["output"]) > 0
    assert by_origin["human"] == 0
    assert by_origin["llm"] >= 15  # CValues and Ruozhiba answers written by GPT


@pytest.mark.corpora
def test_signals_on_real_outputs(corpora, full_context):
    records = _cqia_records(corpora)[::20]
    rules = [r for r in signals.RULES if r != "chars"]
    for _folder, rec in records:
        out = compute_text(rec["output"], rules, full_context)
        for name, value in out.items():
            assert value >= 0, name
            if name.endswith(("ratio", "frac")) or "_frac." in name:
                assert value <= 1.0, name
    # The vectorized n-gram pass equals the definition on real text.
    for _folder, rec in records[:150]:
        text = rec["output"]
        tops, dups = ngram_repetition(text)
        ref_tops, ref_dups = _reference_ngrams(text, (2, 3, 4), range(5, 11))
        assert tops == pytest.approx(ref_tops)
        assert dups == pytest.approx(ref_dups)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("第(di)二十(shi)一届(jie)烟台市中小学机器人竞赛(sai)", 4),  # spun copy of a news page
        ("莱（lai）州（zhou）一中", 2),  # full-width brackets too
        ("“长(zhǎng)大”的长读第三声。", 0),  # a tone-marked gloss is an annotation, not spam
        ("已知函数f(x)=2x，求f(1)的值。", 0),  # ASCII before the bracket
        ("调用print(msg)输出", 0),
        ("方程(x)有解", 0),  # x is no syllable
        ("眼（a）是什么", 1),  # one accidental match stays far below the rule's bound of 5
        ("劳动力（labour）市场（market）", 0),  # English glosses in encyclopedias
        ("", 0),
    ],
)
def test_pinyin_inserts(text, expected):
    assert signals.pinyin_inserts(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "顶" * 300,
        "这是一个测试。" * 50,
        "ab\n" * 200 + "😀" * 120,
        "中" * 100 + "文" * 101 + " " * 50,
    ],
)
def test_top_char_frac_long_texts_equal_counter(text):
    from collections import Counter

    visible = "".join(text.split())
    expected = Counter(visible).most_common(1)[0][1] / len(visible)
    assert signals.top_char_frac(text) == pytest.approx(expected)
