"""Tests for the shared exam-bank layout helpers (beam_cqia.sources._exam_layout)."""

import pytest

from beam_cqia.sources import Origin, exam
from beam_cqia.sources._exam_layout import (
    CHOICE_TYPES,
    choice_type,
    exam_doc,
    letters_key,
    number_str,
    with_options,
)


def test_with_options():
    assert with_options("题干", [("A", " 甲 "), ("B", "乙")]) == "题干\nA. 甲\nB. 乙"
    assert with_options("只有题干", []) == "只有题干"


@pytest.mark.parametrize(
    ("key", "expected"), [("B", "单项选择题"), ("AC", "多项选择题"), ("ABCD", "多项选择题")]
)
def test_choice_type(key, expected):
    assert choice_type(key) == expected
    assert expected in CHOICE_TYPES


@pytest.mark.parametrize(
    ("letters", "expected"), [(["C", "A"], "AC"), ("DBD", "BD"), ([], ""), (["B"], "B")]
)
def test_letters_key(letters, expected):
    assert letters_key(letters) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(6, "6"), (1.5, "1.5"), (2.0, "2"), (" 10 ", "10"), ("0.5", "0.5"), (None, ""), (0, "0")],
)
def test_number_str(value, expected):
    assert number_str(value, "score") == expected


@pytest.mark.parametrize("value", [True, "六分", "", [6], {"v": 6}])
def test_number_str_rejects_non_numbers(value):
    with pytest.raises(ValueError, match="field 'score' must be a number"):
        number_str(value, "score")


def test_exam_doc_takes_provenance_from_origin():
    origin = Origin("f.jsonl", 9, "exam_sub", "2024-01-01")
    doc = exam_doc("exam", "id1", origin, question="q", answer="A", body="", meta={"qid": "1"})
    assert (doc.subset, doc.origin_file, doc.origin_offset, doc.fetched_at) == (
        "exam_sub",
        "f.jsonl",
        9,
        "2024-01-01",
    )
    assert (doc.title, doc.url, doc.signals, doc.lineage) == ("", "", {}, [])
    later = exam_doc(
        "exam", "id1", origin, question="q", answer="A", body="", meta={}, fetched_at="2024-05-05"
    )
    assert later.fetched_at == "2024-05-05"


def test_exam_adapter_still_exports_choice_types():
    assert exam.CHOICE_TYPES == CHOICE_TYPES
