"""Tests for the LogiQA adapter (beam_cqia.sources.logiqa) and logiqa_question.v1."""

import copy

import pytest

from beam_cqia.prompts import TemplateRegistry, load_sources
from beam_cqia.records import RawDoc, format_metadata
from beam_cqia.sources import Origin, Reject, logiqa
from beam_cqia.text.ids import doc_id

FILE = "/data/logiqa2-zh/dev_zh.txt"
ORIGIN = Origin(FILE, 2048, "logiqa", "")

QUESTION = {
    "example_id": 4242,
    "answer": 2,
    "text": " 某小区所有养猫的住户都安装了纱窗，老周家没有安装纱窗。 ",
    "question": "由此可以推出以下哪项？ ",
    "options": ["A.老周家养了猫", "B．老周家养了狗", "C,老周家没有养猫", "D 老周家安装了防盗窗"],
}


def adapt(obj, origin=ORIGIN):
    return list(logiqa.adapt(obj, origin))


def with_changes(**changes):
    obj = copy.deepcopy(QUESTION)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def test_happy_path():
    (doc,) = adapt(QUESTION)
    assert doc == RawDoc(
        id=doc_id("logiqa", "4242"),
        source="logiqa",
        subset="logiqa",
        url="",
        title="",
        question=(
            "某小区所有养猫的住户都安装了纱窗，老周家没有安装纱窗。\n"
            "由此可以推出以下哪项？\n"
            "A. 老周家养了猫\n"
            "B. 老周家养了狗\n"
            "C. 老周家没有养猫\n"
            "D. 老周家安装了防盗窗"
        ),
        body="",
        answer="C",
        meta={
            "qid": "4242",
            "exam": "",
            "year": "",
            "subject": "逻辑推理",
            "type": "单项选择题",
            "answer_option": "老周家没有养猫",
        },
        fetched_at="",
        origin_file=FILE,
        origin_offset=2048,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # no labels at all
        (["甲", "乙", "丙", "丁"], ["甲", "乙", "丙", "丁"]),
        # labels with every separator seen, full-width letters, surrounding spaces
        (["A、甲", " Ｂ.乙 ", "C：丙", "D.  丁"], ["甲", "乙", "丙", "丁"]),
        # one label without separator among labelled options; a label lost to a bare "."
        (["A.甲", "B乙", ".丙", "D.丁"], ["甲", "乙", "丙", "丁"]),
        # labels directly followed by the text in every option
        (["A小张", "B小李", "C小王", "D小赵"], ["小张", "小李", "小王", "小赵"]),
        # labels out of order: the answer is an index, so options are relettered by position
        (["A．F", "C．J", "B. G", "D. N"], ["F", "J", "G", "N"]),
        # the first option lost its label
        (
            ["网络作品受法律保护", "B.网络侵权难界定", "C.网站可任意转帖", "D.稿酬不好计算"],
            ["网络作品受法律保护", "网络侵权难界定", "网站可任意转帖", "稿酬不好计算"],
        ),
        # options that really start with a letter are not labels
        (
            ["A收留了走失的孩子", "A失踪后由B托管财产", "A看到有人打B", "A的邻居B家着火"],
            ["A收留了走失的孩子", "A失踪后由B托管财产", "A看到有人打B", "A的邻居B家着火"],
        ),
        (
            ["A, B, C", "A, B, D", "A, B, F", "C, D , F"],
            ["A, B, C", "A, B, D", "A, B, F", "C, D , F"],
        ),
        (
            ["B 比 A 高。", "B 比 A 矮。", "F 比 C 高。", "F 比 A 高。"],
            ["B 比 A 高。", "B 比 A 矮。", "F 比 C 高。", "F 比 A 高。"],
        ),
        # letters that are the whole option (people called A, B...) stay
        (["A", "B", "C", "D"], ["A", "B", "C", "D"]),
        (["A.", "B.", "C.", "D."], ["A.", "B.", "C.", "D."]),
        # a label in front of content that starts with a letter: only the label goes
        (
            ["A.A是罪犯", "B.A,B都是罪犯", "C.C是罪犯", "D.D是罪犯"],
            ["A是罪犯", "A,B都是罪犯", "C是罪犯", "D是罪犯"],
        ),
    ],
)
def test_strip_labels(options, expected):
    assert logiqa.strip_labels(options) == expected


def test_question_without_passage_or_without_question():
    (doc,) = adapt(with_changes(text="  "))
    assert doc.question.startswith("由此可以推出以下哪项？\nA. ")
    (doc,) = adapt(with_changes(question=...))
    assert doc.question.startswith("某小区所有养猫的住户都安装了纱窗，老周家没有安装纱窗。\nA. ")


def test_answer_index_zero_and_string_id():
    (doc,) = adapt(with_changes(answer=0, example_id="dev-7"))
    assert (doc.answer, doc.meta["answer_option"], doc.id) == (
        "A",
        "老周家养了猫",
        doc_id("logiqa", "dev-7"),
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"text": "", "question": " "}, "empty_question"),
        ({"options": ["老周家养了猫", "", "", "老周家装了纱窗"]}, "empty_option"),
        ({"options": ["  ", "乙", "丙", "丁"], "answer": 1}, "empty_option"),
        ({"answer": 4}, "answer_out_of_range"),
        ({"answer": -1}, "answer_out_of_range"),
    ],
)
def test_rejects(changes, reason):
    with pytest.raises(Reject) as info:
        adapt(with_changes(**changes))
    assert info.value.reason == reason
    assert "4242" in info.value.detail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"example_id": ...}, "missing field 'example_id'"),
        ({"options": ...}, "'options' must be a list of strings"),
        ({"options": "A.甲 B.乙"}, "'options' must be a list of strings"),
        ({"options": ["甲", 2, "丙", "丁"]}, "'options' must be a list of strings"),
        ({"options": ["甲"]}, "'options' must hold 2 to 8 options, got 1"),
        ({"answer": ...}, "'answer' must be an integer index"),
        ({"answer": "2"}, "'answer' must be an integer index"),
        ({"answer": True}, "'answer' must be an integer index"),
        ({"answer": 2.0}, "'answer' must be an integer index"),
        ({"text": ["段落"]}, "'text' must be a string"),
    ],
)
def test_malformed_records_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        adapt(with_changes(**changes))


# --- template --------------------------------------------------------------------------------

QUESTION_TEXT = (
    "某小区所有养猫的住户都安装了纱窗，老周家没有安装纱窗。\n由此可以推出以下哪项？\n"
    "A. 老周家养了猫\nB. 老周家养了狗\nC. 老周家没有养猫\nD. 老周家安装了防盗窗"
)
INSTRUCTIONS = {
    1: QUESTION_TEXT,
    2: "请阅读下面的材料，进行逻辑推理，选出正确答案。\n\n" + QUESTION_TEXT,
    3: QUESTION_TEXT + "\n\n请根据上述材料进行推理，从选项中选出最恰当的一项。",
    4: "下面是一道逻辑推理题，请分析题干中的条件后作答：\n" + QUESTION_TEXT,
}


@pytest.fixture(scope="module")
def template():
    return TemplateRegistry.from_sources(load_sources()).get("logiqa_question.v1")


@pytest.mark.parametrize("variant", [1, 2, 3, 4])
def test_renders_like_cqia_logi_qa(template, variant):
    (doc,) = adapt(QUESTION)
    doc = doc._replace(
        id=next(f"l-{i}" for i in range(999) if template.variant_for(f"l-{i}") == variant)
    )
    rendered = template.render(doc)
    assert rendered.template_id == f"logiqa_question.v1#{variant}"
    assert rendered.instruction == INSTRUCTIONS[variant]
    assert rendered.input == ""
    assert rendered.output == "正确的选项是C：老周家没有养猫\n\n故本题选C。"
    assert (rendered.task_major, rendered.task_minor, rendered.domain) == (
        ["问答"],
        ["逻辑推理"],
        ["逻辑推理"],
    )
    assert format_metadata(doc.meta, rendered.metadata_keys) == ""  # -> 暂无元数据信息


def test_template_keeps_an_analysis_when_there_is_one(template):
    (doc,) = adapt(QUESTION)
    doc = doc._replace(body="养猫的住户都装了纱窗，老周家没装，所以老周家没有养猫。")
    assert template.render(doc).output == (
        "养猫的住户都装了纱窗，老周家没装，所以老周家没有养猫。\n\n"
        "正确的选项是C：老周家没有养猫\n\n故本题选C。"
    )
