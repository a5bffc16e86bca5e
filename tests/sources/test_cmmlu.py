"""Tests for the CMMLU adapter (beam_cqia.sources.cmmlu) and its exam_question.v1 rendering."""

import pytest

from beam_cqia.prompts import TemplateRegistry, load_sources
from beam_cqia.records import RawDoc, format_metadata
from beam_cqia.sources import Origin, Reject, cmmlu
from beam_cqia.text.ids import doc_id

FILE = "/data/cmmlu/test/high_school_biology.csv"
ORIGIN = Origin(FILE, 12, "cmmlu", "2024-03-01T08:00:00Z")

ROW = {  # CSV rows arrive as dicts of strings; the unnamed first column is the row index
    "": "10",
    "Question": " 下列细胞器中，具有双层膜结构的是（ ） ",
    "A": "核糖体",
    "B": " 线粒体 ",
    "C": "中心体",
    "D": "高尔基体",
    "Answer": "B",
}


def adapt(obj, origin=ORIGIN):
    return list(cmmlu.adapt(obj, origin))


def test_happy_path():
    (doc,) = adapt(ROW)
    assert doc == RawDoc(
        id=doc_id("cmmlu", "test/high_school_biology/10"),
        source="cmmlu",
        subset="cmmlu",
        url="",
        title="",
        question=(
            "下列细胞器中，具有双层膜结构的是（ ）\nA. 核糖体\nB. 线粒体\nC. 中心体\nD. 高尔基体"
        ),
        body="",
        answer="B",
        meta={
            "qid": "test/high_school_biology/10",
            "exam": "",
            "year": "",
            "subject": "高中生物",
            "subject_en": "high_school_biology",
            "split": "test",
            "type": "单项选择题",
            "level": "中学考试",
        },
        fetched_at="2024-03-01T08:00:00Z",
        origin_file=FILE,
        origin_offset=12,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("path", "split", "english", "chinese", "level"),
    [
        ("/c/dev/agronomy.csv", "dev", "agronomy", "农学", ""),
        (
            "gs://b/cmmlu/test/chinese_civil_service_exam.csv",
            "test",
            "chinese_civil_service_exam",
            "中国公务员考试",
            "",
        ),
        (
            "test/traditional_chinese_medicine.csv",
            "test",
            "traditional_chinese_medicine",
            "中医中药",
            "",
        ),
        ("x/test/high_school_politics.csv", "test", "high_school_politics", "高中政治", "中学考试"),
    ],
)
def test_subject_from_file_name(path, split, english, chinese, level):
    (doc,) = adapt(ROW, ORIGIN._replace(file=path))
    assert (doc.meta["split"], doc.meta["subject_en"], doc.meta["subject"]) == (
        split,
        english,
        chinese,
    )
    assert doc.meta["level"] == level
    assert doc.meta["qid"] == f"{split}/{english}/10"


def test_all_67_subjects_are_mapped():
    assert len(cmmlu.SUBJECTS) == 67
    assert all(name and not name.isascii() for name in cmmlu.SUBJECTS.values())


def test_row_without_index_column_uses_its_position_and_lower_case_answer():
    row = {k: v for k, v in ROW.items() if k != ""} | {"Answer": " b "}
    (doc,) = adapt(row)
    assert doc.meta["qid"] == "test/high_school_biology/12"
    assert doc.answer == "B"


def test_latex_and_commas_are_kept():
    row = ROW | {"Question": "设 $f(x)=x^2$，则 $f'(1)=$（ ）", "A": "1, 2", "Answer": "A"}
    (doc,) = adapt(row)
    assert doc.question.startswith("设 $f(x)=x^2$，则 $f'(1)=$（ ）\nA. 1, 2\n")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Question": "  "}, "empty_question"),
        ({"C": ""}, "empty_option"),
        ({"A": " ", "D": ""}, "empty_option"),
        ({"Answer": "E"}, "answer_not_in_options"),
        ({"Answer": "AB"}, "answer_not_in_options"),
        ({"Answer": ""}, "answer_not_in_options"),
    ],
)
def test_rejects(changes, reason):
    with pytest.raises(Reject) as info:
        adapt(ROW | changes)
    assert info.value.reason == reason
    assert "test/high_school_biology/10" in info.value.detail


@pytest.mark.parametrize(
    ("obj", "file", "message"),
    [
        ({k: v for k, v in ROW.items() if k != "Question"}, FILE, "missing field 'Question'"),
        ({k: v for k, v in ROW.items() if k != "D"}, FILE, "missing field 'D'"),
        ({k: v for k, v in ROW.items() if k != "Answer"}, FILE, "missing field 'Answer'"),
        (ROW, "/data/cmmlu/test/cooking.csv", "'cooking.csv' is not a CMMLU subject"),
        ("0,题目,A,B,C,D,A", FILE, "expected a JSON object"),
    ],
)
def test_malformed_rows_raise_value_error(obj, file, message):
    with pytest.raises(ValueError, match=message):
        adapt(obj, ORIGIN._replace(file=file))


# --- template --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template():
    return TemplateRegistry.from_sources(load_sources()).get("exam_question.v1")


@pytest.mark.parametrize(
    ("variant", "instruction"),
    [
        (1, "请根据题目内容选择符合要求的选项。"),
        (2, "阅读下面的农学题目，选出正确答案。"),  # no analysis: no "说明理由"
        (3, "下面是一道农学单项选择题，请给出答案。"),
        (4, "请分析各个选项，选出唯一正确的一项。"),
    ],
)
def test_renders_without_analysis(template, variant, instruction):
    (doc,) = adapt(ROW, ORIGIN._replace(file="/c/test/agronomy.csv"))
    doc = doc._replace(
        id=next(f"c-{i}" for i in range(999) if template.variant_for(f"c-{i}") == variant)
    )
    rendered = template.render(doc)
    assert rendered.instruction == instruction
    assert rendered.input == doc.question
    assert rendered.output == "故本题选B。"
    assert rendered.task_major == ["试题"]
    assert rendered.task_minor == ["单项选择题"]  # level "" drops 中学考试
    assert rendered.domain == ["农学"]
    assert format_metadata(doc.meta, rendered.metadata_keys) == "type:单项选择题"


def test_high_school_subjects_are_labelled_as_school_exams(template):
    (doc,) = adapt(ROW)
    rendered = template.render(doc)
    assert rendered.task_minor == ["中学考试", "单项选择题"]
    assert rendered.domain == ["高中生物"]
