"""Tests for beam_cqia.text.signals (pure functions, no Beam)."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_cqia.records import CqiaRecord, RawDoc, TaskType
from beam_cqia.text import signals
from beam_cqia.text.signals import (
    ad_hits,
    char_len,
    cjk_ratio,
    compute,
    content_of,
    dup_line_frac,
    emoji_ratio,
    numeric_meta,
    punct_ratio,
    text_fields_of,
    top_char_frac,
    url_count,
)


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
        (dup_line_frac, "顶\n顶\n顶", 2 / 3),
        (dup_line_frac, "第一行\n第二行", 0.0),
        (dup_line_frac, "甲乙\n\n甲乙\n丙", 2 / 5),
        (dup_line_frac, "  重复  \n重复", 0.5),
        (dup_line_frac, "", 0.0),
        (dup_line_frac, "\n\n  \n", 0.0),
        (top_char_frac, "顶顶顶", 1.0),
        (top_char_frac, "哈哈哈哈哈哈好", 6 / 7),
        (top_char_frac, "a b", 0.5),
        (top_char_frac, "", 0.0),
        (url_count, "访问 https://www.zhihu.com/question/123，或者www.baidu.com。", 2.0),
        (url_count, "链接：http://example.com/a?b=1（官网）", 1.0),
        (url_count, "HTTPS://EXAMPLE.COM/路径", 1.0),
        (url_count, "没有链接，只有中文。", 0.0),
        (emoji_ratio, "😀😀", 1.0),
        (emoji_ratio, "好😀", 0.5),
        (emoji_ratio, "太好了 😂😂👍", 3 / 6),
        (emoji_ratio, "没有表情。", 0.0),
        (emoji_ratio, "", 0.0),
        (ad_hits, "加我微信领取资料", 2.0),
        (ad_hits, "vx: abc12345", 1.0),
        (ad_hits, "QQ: 12345678", 1.0),
        (ad_hits, "私信我领取", 1.0),
        (ad_hits, "优惠券限时免费", 2.0),
        (ad_hits, "名额有限，点击链接报名", 2.0),
        (ad_hits, "淘宝搜索店铺名", 1.0),
        (ad_hits, "扫码关注公众号", 1.0),
        (ad_hits, "正常的回答，没有广告。", 0.0),
        (ad_hits, "我的微信很少用", 0.0),
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


# --- record-level helpers --------------------------------------------------------------------


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


def test_rules_are_all_computable():
    out = compute(raw_doc(), list(signals.RULES))
    assert set(signals.CONTENT_RULES) <= set(out)
    assert {k for k in out if k.startswith("chars.")} == {
        f"chars.{f}" for f in signals.RAW_TEXT_FIELDS
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

_RATIOS = [cjk_ratio, punct_ratio, dup_line_frac, top_char_frac, emoji_ratio]
_chinese_ish = st.text(
    alphabet=st.sampled_from(
        list("这是一个测试這個臺灣軟體，。！？、；：“”（）《》 \n\t\u3000abcABC123😀👍🎉…—")
    ),
    max_size=80,
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=80), _chinese_ish))
def test_ratio_signals_stay_in_unit_interval(text):
    for fn in _RATIOS:
        value = fn(text)
        assert 0.0 <= value <= 1.0, (fn.__name__, value)
        assert not math.isnan(value)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=80), _chinese_ish))
def test_count_signals_are_non_negative_whole_numbers(text):
    for fn in (url_count, ad_hits, char_len):
        value = fn(text)
        assert value >= 0
        assert value == int(value)
    assert char_len(text) == len(text)
