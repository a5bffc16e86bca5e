"""Tests for the JEC-QA adapter (beam_cqia.sources.jecqa) and law_exam.v1."""

import copy

import pytest

from beam_cqia.prompts import TemplateRegistry, load_sources
from beam_cqia.records import RawDoc, format_metadata
from beam_cqia.sources import Origin, Reject, jecqa
from beam_cqia.text.ids import doc_id

FILE = "/data/jec-qa/small_data.json"
ORIGIN = Origin(FILE, 512, "jecqa", "2024-03-01T08:00:00Z")

QUESTION = {
    "answer": ["C", "A"],
    "id": "2_1357",
    "option_list": {
        "B": "乙的行为构成诈骗罪",
        "A": " 甲的行为构成盗窃罪 ",
        "D": "甲乙构成共同犯罪",
        "C": "乙的行为构成掩饰、隐瞒犯罪所得罪",
    },
    "statement": (
        " 甲趁邻居外出，从其家中窃得笔记本电脑一台，交给知情的乙代为销售。"
        "关于本案，下列哪些说法是正确的? "
    ),
    "subject": "刑法",
    "type": "1",
}


def adapt(obj, origin=ORIGIN):
    return list(jecqa.adapt(obj, origin))


def with_changes(**changes):
    obj = copy.deepcopy(QUESTION)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def test_happy_path_multi_answer():
    (doc,) = adapt(QUESTION)
    assert doc == RawDoc(
        id=doc_id("jecqa", "2_1357"),
        source="jecqa",
        subset="jecqa",
        url="",
        title="",
        question=(
            "甲趁邻居外出，从其家中窃得笔记本电脑一台，交给知情的乙代为销售。"
            "关于本案，下列哪些说法是正确的?\n"
            "A. 甲的行为构成盗窃罪\n"
            "B. 乙的行为构成诈骗罪\n"
            "C. 乙的行为构成掩饰、隐瞒犯罪所得罪\n"
            "D. 甲乙构成共同犯罪"
        ),
        body="",
        answer="AC",
        meta={
            "qid": "2_1357",
            "exam": "国家司法考试",
            "year": "",
            "subject": "刑法",
            "type": "多项选择题",
            "jec_type": "1",
        },
        fetched_at="2024-03-01T08:00:00Z",
        origin_file=FILE,
        origin_offset=512,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("changes", "answer", "qtype", "subject", "jec_type"),
    [
        ({"answer": ["C"]}, "C", "单项选择题", "刑法", "1"),
        ({"answer": ["D", "A", "C", "B"]}, "ABCD", "多项选择题", "刑法", "1"),
        ({"answer": ["a", "a"]}, "A", "单项选择题", "刑法", "1"),  # case and repeats
        ({"answer": "CA"}, "AC", "多项选择题", "刑法", "1"),  # a string of letters
        ({"subject": ...}, "AC", "多项选择题", "", "1"),  # subject is optional
        ({"subject": None, "type": 0}, "AC", "多项选择题", "", "0"),
        ({"type": ...}, "AC", "多项选择题", "刑法", ""),
    ],
)
def test_variants(changes, answer, qtype, subject, jec_type):
    (doc,) = adapt(with_changes(**changes))
    assert doc.answer == answer
    assert (doc.meta["type"], doc.meta["subject"], doc.meta["jec_type"]) == (
        qtype,
        subject,
        jec_type,
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"statement": "   "}, "empty_question"),
        ({"answer": []}, "missing_answer"),
        ({"answer": [""]}, "missing_answer"),
        ({"answer": " "}, "missing_answer"),
        ({"option_list": {}}, "missing_options"),
        ({"option_list": {"A": "甲", "B": " ", "C": "丙", "D": "丁"}}, "empty_option"),
        ({"answer": ["E"]}, "answer_not_in_options"),
        ({"answer": ["A", "B", "X"]}, "answer_not_in_options"),
        ({"answer": ["AB"]}, "answer_not_in_options"),  # list elements are single letters
    ],
)
def test_rejects(changes, reason):
    with pytest.raises(Reject) as info:
        adapt(with_changes(**changes))
    assert info.value.reason == reason
    assert "2_1357" in info.value.detail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": ...}, "missing field 'id'"),
        ({"statement": ...}, "missing field 'statement'"),
        ({"option_list": ...}, "'option_list' must map option letters to strings"),
        ({"option_list": ["甲", "乙"]}, "'option_list' must map option letters to strings"),
        ({"option_list": {"A": "甲", "B": 2}}, "'option_list' must map option letters to strings"),
        ({"option_list": {"甲": "一", "乙": "二"}}, "'option_list' must map option letters"),
        ({"answer": ...}, "missing field 'answer'"),
        ({"answer": [1, 2]}, "'answer' must be a list of option letters"),
        ({"answer": {"A": True}}, "'answer' must be a list of option letters"),
        ({"subject": ["刑法"]}, "'subject' must be a string"),
    ],
)
def test_malformed_records_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        adapt(with_changes(**changes))


# --- template --------------------------------------------------------------------------------

QUESTION_TEXT = (
    "甲趁邻居外出，从其家中窃得笔记本电脑一台，交给知情的乙代为销售。关于本案，下列哪些说法是正确的?\n"
    "A. 甲的行为构成盗窃罪\nB. 乙的行为构成诈骗罪\n"
    "C. 乙的行为构成掩饰、隐瞒犯罪所得罪\nD. 甲乙构成共同犯罪"
)


@pytest.fixture(scope="module")
def template():
    return TemplateRegistry.from_sources(load_sources()).get("law_exam.v1")


def with_variant(template, doc, variant):
    return doc._replace(
        id=next(f"j-{i}" for i in range(999) if template.variant_for(f"j-{i}") == variant)
    )


@pytest.mark.parametrize(
    ("variant", "instruction"),
    [
        (1, QUESTION_TEXT),
        (
            2,
            "下面是一道法律考试的多项选择题，正确选项不止一个，请选出全部正确选项。\n\n"
            + QUESTION_TEXT,
        ),
        (3, QUESTION_TEXT + "\n\n（本题为多选题，请写出所有正确选项。）"),
    ],
)
def test_renders_like_cqia_law_exam(template, variant, instruction):
    (doc,) = adapt(QUESTION)
    rendered = template.render(with_variant(template, doc, variant))
    assert rendered.instruction == instruction
    assert rendered.input == ""
    assert rendered.output == "故本题选AC。"
    assert rendered.task_major == ["试题"]
    assert rendered.task_minor == ["法律考研", "多项选择题"]
    assert rendered.domain == ["法律"]
    assert format_metadata(doc.meta, rendered.metadata_keys) == "subject:刑法"


@pytest.mark.parametrize(
    ("variant", "instruction_part"),
    [
        (2, "下面是一道法律考试的单项选择题，请选出正确选项并说明理由。\n\n"),
        (3, "\n\n（本题只有一个正确选项。）"),
    ],
)
def test_single_choice_with_analysis(template, variant, instruction_part):
    (doc,) = adapt(with_changes(answer=["C"]))
    doc = doc._replace(body="乙明知是盗窃所得仍代为销售，构成掩饰、隐瞒犯罪所得罪。")
    rendered = template.render(with_variant(template, doc, variant))
    assert instruction_part in rendered.instruction
    assert (
        rendered.output == "乙明知是盗窃所得仍代为销售，构成掩饰、隐瞒犯罪所得罪。\n\n故本题选C。"
    )
    assert rendered.task_minor == ["法律考研", "单项选择题"]


def test_non_choice_law_question_ends_with_answer_sentence(template):
    (doc,) = adapt(QUESTION)
    doc = doc._replace(
        answer="构成盗窃罪", meta={**doc.meta, "type": "简答题", "level": "司法考试"}
    )
    rendered = template.render(with_variant(template, doc, 2))
    assert rendered.instruction.startswith("下面是一道法律考试题，请作答。\n\n")
    assert rendered.output == "因此答案为：构成盗窃罪"
    assert rendered.task_minor == ["司法考试", "简答题"]
