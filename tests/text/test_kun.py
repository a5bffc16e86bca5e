"""COIG-Kun's text rules (beam_cqia.text.kun): context references, cleaning, the output filter."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beam_cqia.text import kun

# Instructions that point at a text the reader does not have, and the phrase that gives it away.
CONTEXT_DEPENDENT = [
    ("根据上文，作者对城市化持什么态度？", "根据上文"),
    ("请总结这篇文章的主要内容。", "这篇文章"),
    ("请概括这篇文章的主旨", "这篇文章"),
    ("阅读以下材料，回答后面的问题。", "阅读以下"),
    ("本文主要讲了什么？", "本文"),
    ("总结一下本章的要点", "本章"),
    ("阅读本文后，谈谈你的看法", "阅读本文"),
    ("文中提到的三个原因分别是什么？", "文中"),
    ("作者在原文中是怎样评价他的？", "原文"),
    ("这首诗表达了作者怎样的情感？", "这首诗"),
    ("根据您提供的信息，给出一些建议。", "根据您提供的"),
    ("给定的文本中出现了哪些人名？", "给定的文本"),
    ("如图所示，求阴影部分的面积。", "如图"),
    ("上述方法有哪些不足？", "上述"),
    ("结合材料分析经济增长放缓的原因。", "结合材料"),
    ("这段代码为什么会报错？", "这段代码"),
    ("请把这段话翻译成英文。", "这段话"),
    ("下面的文章讲述了一个什么故事？", "下面的文章"),
    ("请根据以下内容拟一个标题。", "根据以下"),
    ("根据上下文推断“鲜衣怒马”的意思。", "根据上下文"),
    ("该段材料说明了什么道理？", "该段材料"),
    ("從這篇文章中可以看出什麼？", "這篇文章"),
    ("Summarize the text above in one sentence.", "the text above"),
    ("What is the main idea of the following passage?", "following passage"),
]

# Self-contained instructions that merely contain the characters of a reference.
SELF_CONTAINED = [
    "为什么天空是蓝色的？",
    "根据勾股定理，直角三角形的斜边怎么求？",
    "如何写好一篇议论文？",
    "日本文化有哪些特点？",
    "如何用正则表达式从文本中提取数字？",
    "介绍一下基本信息表的填写方法。",
    "怎样提高阅读文章的速度？",
    "基于内容的推荐算法是什么？",
    "Python 的上下文管理器怎么写？",
    "什么是操作系统的上下文切换？",
    "如何在 Excel 表格中按条件求和？",
    "请分享一下你的学习经验。",
    "企业安全文化建设包括哪些内容？",
    "如何还原文件的历史版本？",
    "如何向客户清楚地提供信息？",
    "列举三种常见的数据结构。",
    "地图上的比例尺怎么计算？",
    "样本数据应该如何清洗？",
    "请写一首关于春天的诗。",
    "网上文章的版权归谁？",
    "请介绍一下《红楼梦》这本书。",
    "彼此信任在婚姻中有多重要？",
    "基本章程一般包括哪些条款？",
    "How do I center the text in CSS?",
    "How can I resize the image without losing quality?",
    "",
]


@pytest.mark.parametrize(("instruction", "phrase"), CONTEXT_DEPENDENT)
def test_context_dependent_instructions_are_found(instruction, phrase):
    found = kun.context_references(instruction)
    assert kun.is_context_dependent(instruction)
    assert any(phrase in f or f in phrase for f in found), found


@pytest.mark.parametrize("instruction", SELF_CONTAINED)
def test_self_contained_instructions_pass(instruction):
    assert kun.context_references(instruction) == []
    assert not kun.is_context_dependent(instruction)


def test_every_reference_is_reported_once():
    found = kun.context_references("根据上文和下面的表格，总结这篇文章。再看这篇文章。")
    assert found[0] == "根据上文"
    assert "这篇文章" in found and found.count("这篇文章") == 1
    assert "下面的表格" in found


@given(st.text(max_size=200))
def test_references_are_substrings_of_the_instruction(text):
    for phrase in kun.context_references(text):
        assert phrase and phrase in text


@pytest.mark.parametrize(
    ("answer", "instruction"),
    [
        ("如何泡一壶好喝的绿茶？", "如何泡一壶好喝的绿茶？"),
        ("  指令：如何泡一壶好喝的绿茶？\n", "如何泡一壶好喝的绿茶？"),
        ("**问题**：如何泡一壶好喝的绿茶？", "如何泡一壶好喝的绿茶？"),
        ("“如何泡一壶好喝的绿茶？”", "如何泡一壶好喝的绿茶？"),
        ("「介绍一下西湖」", "介绍一下西湖"),
        ("介绍一下西湖。     西湖位于杭州，是著名景区。", "介绍一下西湖。"),
        ("介绍一下西湖\n介绍一下西湖\n介绍一下西湖", "介绍一下西湖"),
        ("第一行\n第二行", "第一行\n第二行"),
        ("“他说“好”了吗”", "“他说“好”了吗”"),
        ("指令：", ""),
        ("   ", ""),
    ],
)
def test_label_model_answers_are_cleaned(answer, instruction):
    assert kun.clean_instruction(answer) == instruction


@pytest.mark.parametrize(
    ("answer", "output"),
    [
        ("绿茶宜用八十度左右的水冲泡。", "绿茶宜用八十度左右的水冲泡。"),
        ("回答：绿茶宜用八十度左右的水。", "绿茶宜用八十度左右的水。"),
        ("```\n第一步，烧水。\n第二步，温杯。\n```", "第一步，烧水。\n第二步，温杯。"),
        ("```python\nprint(1)\n```\n解释：打印 1。", "```python\nprint(1)\n```\n解释：打印 1。"),
        ("答：", ""),
    ],
)
def test_polished_answers_are_cleaned(answer, output):
    assert kun.clean_answer(answer) == output


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("作为一个AI语言模型，我无法回答这个问题。", ["作为一个AI", "AI语言模型", "我无法"]),
        ("作为一个ＡＩ，我认为……", ["作为一个AI"]),
        ("很抱歉，这个问题我回答不了。", ["抱歉"]),
        ("以下是润色后的回答：绿茶宜用温水。", ["以下是润色", "润色后的"]),
        ("根据您提供的信息，西湖在杭州。", ["根据您提供的"]),
        ("As an AI, I cannot browse.", ["as an ai"]),
        ("西湖位于杭州西部，三面环山。", []),
        ("作为杭州的名片，西湖吸引了大量游客。", []),
    ],
)
def test_banned_phrases(text, found):
    assert kun.banned_phrases(text) == found


@pytest.mark.parametrize(
    ("instruction", "output", "repeats"),
    [
        ("如何泡一壶好喝的绿茶？", "如何泡一壶好喝的绿茶？首先要选好茶叶……", True),
        ("如何泡一壶好喝的绿茶？", "问题：如何泡一壶好喝的绿茶\n回答：先温杯……", True),
        ("如何泡一壶好喝的绿茶？", "如何泡一壶好喝的绿茶呢？要点如下……", True),
        ("如何泡一壶好喝的绿茶？", "泡绿茶时，水温控制在八十度左右最好。", False),
        ("如何泡一壶好喝的绿茶？", "如何", False),
        ("你好", "你好，我是老师。", False),  # instructions this short are never "repeated"
        ("Explain TCP slow start.", "explain tcp slow start: the sender begins...", True),
    ],
)
def test_an_answer_opening_with_the_instruction_is_found(instruction, output, repeats):
    assert kun.repeats_instruction(instruction, output) is repeats


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("哈哈哈哈哈哈哈，太好笑了", 7),
        ("你好你好你好，请问", 3),
        ("好的 好的 好的 好的 好的 好的 我来回答", 6),
        ("西湖位于杭州", 1),
        ("", 1),
        ("啊", 1),
    ],
)
def test_opening_repeats(text, count):
    assert kun.opening_repeats(text) == count


GOOD_ANSWER = "泡绿茶宜用八十度左右的水，先温杯，再投茶，最后沿杯壁注水，一两分钟后即可品饮。"


@pytest.mark.parametrize(
    ("instruction", "output", "reasons"),
    [
        ("如何泡一壶好喝的绿茶？", GOOD_ANSWER, []),
        ("如何泡一壶好喝的绿茶？", "抱歉，我无法回答。", ["banned_phrase", "answer_too_short"]),
        ("如何泡一壶好喝的绿茶？", "用温水泡。", ["answer_too_short"]),
        ("如何泡一壶好喝的绿茶？", "如何泡一壶好喝的绿茶？" + GOOD_ANSWER, ["repeats_instruction"]),
        ("如何泡绿茶？", "好好好好好好好好好好好好" + GOOD_ANSWER, ["repeated_opening"]),
        (
            "如何泡绿茶？",
            "原文中提到，" + GOOD_ANSWER,
            ["banned_phrase", "answer_refers_to_context"],
        ),
        ("如何泡绿茶？", "文中介绍了，" + GOOD_ANSWER, ["answer_refers_to_context"]),
    ],
)
def test_check_output_names_every_failed_rule(instruction, output, reasons):
    failures = kun.check_output(instruction, output)
    assert [reason for reason, _ in failures] == reasons
    assert all(detail for _, detail in failures)


def test_output_rules_are_configurable():
    rules = kun.OutputRules(
        banned=("绿茶",), min_chars=0, repeat_similarity=2.0, check_context=False
    )
    assert kun.check_output("如何泡绿茶？", "如何泡绿茶？文中说：温水。", rules) == [
        ("banned_phrase", "contains 绿茶")
    ]
    assert kun.check_output("问", "短", kun.OutputRules(min_chars=2))[0][0] == "answer_too_short"


@given(st.text(max_size=80), st.text(max_size=300))
def test_check_output_only_gives_known_reasons(instruction, output):
    reasons = [reason for reason, _ in kun.check_output(instruction, output)]
    assert set(reasons) <= set(kun.OUTPUT_REASONS)
    assert reasons == sorted(reasons, key=kun.OUTPUT_REASONS.index)


@pytest.mark.parametrize(
    ("text", "budget", "expected"),
    [
        ("短文本。", 10, "短文本。"),
        ("第一句话很长很长。第二句话也很长。第三句", 18, "第一句话很长很长。第二句话也很长。"),
        ("一二三四五六七八九十。", 5, "一二三四五"),
        ("第一段。\n第二段内容很多很多很多", 12, "第一段。\n第二段内容很多"),
    ],
)
def test_truncate_text_cuts_at_a_sentence_end_in_the_budget(text, budget, expected):
    cut = kun.truncate_text(text, budget)
    assert cut == expected and len(cut) <= budget


def test_phrase_lists_are_checked():
    assert kun.check_phrases(None, "x") == ()
    assert kun.check_phrases([" 抱歉 "], "x") == ("抱歉",)
    for bad in ("抱歉", ["抱歉", ""], [1]):
        with pytest.raises(ValueError, match="x must be a list of non-empty phrases"):
            kun.check_phrases(bad, "x")
