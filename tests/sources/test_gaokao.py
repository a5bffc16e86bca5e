"""Tests for the GAOKAO-Bench adapter (beam_cqia.sources.gaokao) and exam_question.v1 on it."""

import copy

import pytest

from beam_cqia.prompts import TemplateRegistry, load_sources
from beam_cqia.records import RawDoc, format_metadata
from beam_cqia.sources import Origin, Reject, gaokao
from beam_cqia.text.ids import doc_id

OBJ_FILE = "/data/gaokao-bench/Objective_Questions/2010-2022_Biology_MCQs.json"
SUBJ_FILE = "gs://bucket/gaokao/Subjective_Questions/2010-2022_Math_I_Fill-in-the-Blank.json"
ORIGIN = Origin(OBJ_FILE, 7, "gaokao", "2024-03-01T08:00:00Z")

MCQ = {
    "year": "2019",
    "category": "（全国卷Ⅰ）",
    "question": (
        "3．（6分）下列关于光合作用的叙述，正确的是（　　）\n"
        "A．光反应在叶绿体基质中进行   B．暗反应需要光反应提供ATP和NADPH\n"
        "C．光合作用的全部反应只在白天进行\nD．植物只能吸收绿光\n"
    ),
    "answer": ["B"],
    "analysis": "解：光反应在类囊体薄膜上进行，A错误；……D错误。\n故选：B。\n",
    "index": 7,
    "score": 6,
}


def adapt(obj, origin=ORIGIN):
    return list(gaokao.adapt(obj, origin))


def with_changes(base, **changes):
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def in_file(name: str) -> Origin:
    return ORIGIN._replace(file=f"/data/gaokao-bench/Objective_Questions/{name}")


# --- shapes ----------------------------------------------------------------------------------


def test_single_choice_question():
    (doc,) = adapt(MCQ)
    qid = "2010-2022_Biology_MCQs#7"
    assert doc == RawDoc(
        id=doc_id("gaokao", qid),
        source="gaokao",
        subset="gaokao",
        url="",
        title="",
        question=MCQ["question"].strip(),
        body="解：光反应在类囊体薄膜上进行，A错误；……D错误。\n故选：B。",
        answer="B",
        meta={
            "qid": qid,
            "exam": "高考",
            "paper": "（全国卷Ⅰ）",
            "year": "2019",
            "subject": "生物",
            "section": "选择题",
            "type": "单项选择题",
            "score": "6",
            "subquestions": "1",
        },
        fetched_at="2024-03-01T08:00:00Z",
        origin_file=OBJ_FILE,
        origin_offset=7,
        signals={},
        lineage=[],
    )


def test_multi_select_key_in_one_element_is_sorted():
    q = with_changes(MCQ, answer=[" cb "])  # Physics writes multi-select keys as ["BC"]
    (doc,) = adapt(q, in_file("2010-2022_Physics_MCQs.json"))
    assert doc.answer == "BC"
    assert doc.meta["type"] == "多项选择题"
    assert doc.meta["subject"] == "物理"
    assert doc.meta["qid"] == "2010-2022_Physics_MCQs#7"


def test_group_of_sub_questions():
    q = with_changes(
        MCQ,
        question="阅读下面的文字，完成各题。\n（1）……\nA．甲 B．乙\n（2）……\nA．丙 B．丁 C．戊\n",
        answer=["A", "C", "B"],
        score=9,
    )
    (doc,) = adapt(q, in_file("2010-2022_Chinese_Modern_Lit.json"))
    assert doc.answer == "A、C、B"
    assert doc.meta["type"] == "选择题"
    assert doc.meta["section"] == "现代文阅读"
    assert doc.meta["subject"] == "语文"
    assert doc.meta["subquestions"] == "3"


def test_seven_choose_five_letters_up_to_g():
    q = with_changes(
        MCQ,
        question="短文……\nA. one\nB. two\nC. three\nD. four\nE. five\nF. six\nG. seven",
        answer=["G", "F", "A", "D", "E"],
    )
    (doc,) = adapt(q, in_file("2012-2022_English_Cloze_Test.json"))
    assert (doc.answer, doc.meta["section"], doc.meta["subject"]) == (
        "G、F、A、D、E",
        "七选五",
        "英语",
    )


@pytest.mark.parametrize(
    ("file_name", "answer", "qtype", "section", "subject"),
    [
        ("2010-2022_Math_I_Fill-in-the-Blank.json", "3\n", "填空题", "非选择题", "数学"),
        (
            "2010-2022_Math_II_Open-ended_Questions.json",
            "解：（1）……",
            "开放题",
            "非选择题",
            "数学",
        ),
        (
            "2010-2022_Political_Science_Open-ended_Questions.json",
            "①……",
            "开放题",
            "非选择题",
            "政治",
        ),
        (
            "2010-2022_Chinese_Language_Famous_Passages_and_Sentences_Dictation.json",
            "（1）落霞与孤鹜齐飞",
            "填空题",
            "名篇名句默写",
            "语文",
        ),
        (
            "2010-2022_Chinese_Language_Classical_Chinese_Reading.json",
            "（1）C（2）……",
            "开放题",
            "文言文阅读",
            "语文",
        ),
        (
            "2012-2022_English_Language_Error_Correction.json",
            "去掉 of",
            "改错题",
            "短文改错",
            "英语",
        ),
        ("2014-2022_English_Language_Cloze_Passage.json", "1. was", "填空题", "语法填空", "英语"),
        ("2010-2022_Geography_Open-ended_Questions.json", "地势低平", "开放题", "非选择题", "地理"),
    ],
)
def test_subjective_questions(file_name, answer, qtype, section, subject):
    q = with_changes(MCQ, question="14．（5分）已知……，则 $x=$______．", answer=answer)
    origin = ORIGIN._replace(file=f"/data/gaokao-bench/Subjective_Questions/{file_name}")
    (doc,) = adapt(q, origin)
    assert doc.answer == answer.strip()
    assert (doc.meta["type"], doc.meta["section"], doc.meta["subject"]) == (qtype, section, subject)
    assert doc.meta["subquestions"] == "1"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"score": 1.5}, {"score": "1.5"}),
        ({"score": 2.0}, {"score": "2"}),
        ({"score": "10"}, {"score": "10"}),
        ({"score": ...}, {"score": ""}),
        ({"year": 2021}, {"year": "2021"}),
        ({"category": ...}, {"paper": ""}),
        ({"index": "12"}, {"qid": "2010-2022_Biology_MCQs#12"}),
    ],
)
def test_meta_variants(changes, expected):
    (doc,) = adapt(with_changes(MCQ, **changes))
    assert {k: doc.meta[k] for k in expected} == expected


def test_images_in_the_analysis_are_dropped_and_empty_analysis_is_allowed():
    analysis = "如图所示：\n![](https://cdn.mathpix.com/cropped/x.jpg?height=60)\n故选：B。"
    (doc,) = adapt(with_changes(MCQ, analysis=analysis))
    assert doc.body == "如图所示：\n\n故选：B。"
    (doc,) = adapt(with_changes(MCQ, analysis=""))
    assert doc.body == ""
    (doc,) = adapt(with_changes(MCQ, analysis=...))
    assert doc.body == ""


def test_windows_paths_and_files_without_year_range():
    origin = ORIGIN._replace(file="C:\\data\\Objective_Questions\\History_MCQs.json")
    (doc,) = adapt(MCQ, origin)
    assert doc.meta["subject"] == "历史"
    assert doc.meta["qid"] == "History_MCQs#7"


@pytest.mark.parametrize(
    ("path", "task", "subject"),
    [
        ("a/2010-2022_Math_II_MCQs.json", "Math_II_MCQs", "数学"),
        ("2010-2022_Political_Science_MCQs.json", "Political_Science_MCQs", "政治"),
        ("x/2023_Chemistry_MCQs.json", "Chemistry_MCQs", "化学"),
        (
            "x/2010-2022_Chinese_Language_Literary_Text_Reading.json",
            "Chinese_Language_Literary_Text_Reading",
            "语文",
        ),
    ],
)
def test_task_of(path, task, subject):
    assert gaokao.task_of(path) == (task, subject)


# --- rejections ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (
            {"question": "如图，……\n![](https://cdn.mathpix.com/cropped/a.jpg?h=1)\nA．1 B．2"},
            "needs_image",
        ),
        ({"question": "  \n"}, "empty_question"),
        ({"question": "", "answer": []}, "empty_question"),  # the question is checked first
        ({"answer": []}, "missing_answer"),
        ({"answer": [""]}, "missing_answer"),
        ({"answer": ["A", " "]}, "missing_answer"),
        ({"answer": "  \n"}, "missing_answer"),
        ({"answer": ["无"]}, "bad_answer_key"),
        ({"answer": ["A1"]}, "bad_answer_key"),
        ({"answer": ["E"]}, "answer_not_in_options"),
        ({"answer": ["BE"]}, "answer_not_in_options"),
    ],
)
def test_rejects(changes, reason):
    with pytest.raises(Reject) as info:
        adapt(with_changes(MCQ, **changes))
    assert info.value.reason == reason
    assert "2010-2022_Biology_MCQs#7" in info.value.detail


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "origin", "message"),
    [
        ({"keywords": "2010-2022_Biology_MCQs", "example": [MCQ]}, ORIGIN, "json_items: example"),
        (MCQ, ORIGIN._replace(file="/data/2010-2022_Music_MCQs.json"), "cannot tell the subject"),
        (MCQ, ORIGIN._replace(file="/data/questions.json"), "cannot tell the subject"),
        (with_changes(MCQ, index=...), ORIGIN, "'index' must be the question's integer index"),
        (with_changes(MCQ, index=7.0), ORIGIN, "'index' must be"),
        (with_changes(MCQ, index=True), ORIGIN, "'index' must be"),
        (with_changes(MCQ, question=...), ORIGIN, "missing field 'question'"),
        (with_changes(MCQ, question=["题"]), ORIGIN, "'question' must be a string"),
        (with_changes(MCQ, answer=...), ORIGIN, "missing field 'answer'"),
        (with_changes(MCQ, answer={"1": "B"}), ORIGIN, "'answer' must be a list or a string"),
        (with_changes(MCQ, answer=["B", 3]), ORIGIN, r"answer\[1\] must be a string"),
        (with_changes(MCQ, score="六分"), ORIGIN, "'score' must be a number"),
        (with_changes(MCQ, score=True), ORIGIN, "'score' must be a number"),
        (with_changes(MCQ, score=[6]), ORIGIN, "'score' must be a number"),
        (with_changes(MCQ, analysis={"text": "解"}), ORIGIN, "'analysis' must be a string"),
        (["不是对象"], ORIGIN, "expected a JSON object"),
    ],
)
def test_malformed_records_raise_value_error(obj, origin, message):
    with pytest.raises(ValueError, match=message):
        adapt(obj, origin)


# --- template --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template():
    return TemplateRegistry.from_sources(load_sources()).get("exam_question.v1")


def with_variant(template, doc, variant):
    doc_id_ = next(f"g-{i}" for i in range(1000) if template.variant_for(f"g-{i}") == variant)
    return doc._replace(id=doc_id_)


@pytest.mark.parametrize(
    ("variant", "instruction"),
    [
        (1, "请根据题目内容选择符合要求的选项。"),
        (2, "阅读下面的生物题目，选出正确答案并说明理由。"),
        (3, "下面是一道生物单项选择题，请给出答案和解析。"),
        (4, "请分析各个选项，选出唯一正确的一项。"),
    ],
)
def test_renders_a_single_choice_question(template, variant, instruction):
    (doc,) = adapt(MCQ)
    rendered = template.render(with_variant(template, doc, variant))
    assert rendered.instruction == instruction
    assert rendered.input == doc.question
    assert rendered.output == doc.body + "\n\n故本题选B。"
    assert rendered.task_major == ["试题"]
    assert rendered.task_minor == ["中学考试", "单项选择题"]
    assert rendered.domain == ["生物"]
    assert format_metadata(doc.meta, rendered.metadata_keys) == (
        "year:2019, exam:高考, type:单项选择题, score:6"
    )


@pytest.mark.parametrize(
    ("variant", "instruction"),
    [
        (1, "阅读下面的材料，完成各小题，分别选出符合要求的选项。"),
        (2, "阅读下面的语文材料，依次回答各小题并说明理由。"),
        (3, "下面是一道语文选择题，请给出答案和解析。"),
        (4, "下面的材料后有3道小题，请逐题分析后作答。"),
    ],
)
def test_renders_a_group_of_choice_questions(template, variant, instruction):
    q = with_changes(MCQ, answer=["A", "C", "B"], question="阅读……\nA．甲 B．乙 C．丙")
    (doc,) = adapt(q, in_file("2010-2022_Chinese_Modern_Lit.json"))
    rendered = template.render(with_variant(template, doc, variant))
    assert rendered.instruction == instruction
    assert rendered.output.endswith("\n\n故本题依次选A、C、B。")
    assert rendered.task_minor == ["中学考试", "选择题"]


@pytest.mark.parametrize(
    ("variant", "instruction"),
    [
        (1, "请根据题目内容作答。"),
        (2, "阅读下面的数学题目，写出答案。"),
        (3, "下面是一道数学开放题，请给出答案。"),
        (4, "请解答下面的题目。"),
    ],
)
def test_renders_an_open_question_without_analysis(template, variant, instruction):
    q = with_changes(MCQ, question="17．（12分）求……", answer="解：（1）……\n", analysis="")
    origin = ORIGIN._replace(
        file="/d/Subjective_Questions/2010-2022_Math_I_Open-ended_Questions.json"
    )
    (doc,) = adapt(q, origin)
    rendered = template.render(with_variant(template, doc, variant))
    assert rendered.instruction == instruction
    assert rendered.output == "因此答案为：解：（1）……"
    assert rendered.task_minor == ["中学考试", "开放题"]
    assert rendered.domain == ["数学"]
