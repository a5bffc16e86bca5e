"""Strict verdict parsing: exactly {"score", "reasons"}, or an error carrying the raw text."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beam_cqia.llm import ScoreVerdict, VerdictError, get_parser, parse_score_json

GOOD = [
    ('{"score": 8.5, "reasons": "回答准确完整。"}', ScoreVerdict(8.5, "回答准确完整。")),
    ('{"reasons": "离题。", "score": 2}', ScoreVerdict(2.0, "离题。")),
    ('\n  {"score": 10, "reasons": ""}  \n', ScoreVerdict(10.0, "")),
    ('{"score": 0, "reasons": "有害"}', ScoreVerdict(0.0, "有害")),
    ('```json\n{"score": 9, "reasons": "很好"}\n```', ScoreVerdict(9.0, "很好")),
    ('```\n{"score": 7.5, "reasons": "一般"}\n```', ScoreVerdict(7.5, "一般")),
]

BAD = [
    ("这个回答还不错，我给 8 分。", "not a JSON object"),
    ('评分：{"score": 8, "reasons": "好"}', "not a JSON object"),
    ('{"score": 8, "reasons": "好"} 以上是我的评分。', "not a JSON object"),
    ('{"score": 8, "reasons": "好"}{"score": 9, "reasons": "好"}', "not a JSON object"),
    ('{"score": 8}', r"missing \['reasons'\]"),
    ('{"score": 8, "reasons": "好", "confidence": 0.9}', r"extra \['confidence'\]"),
    ('{"score": "8", "reasons": "好"}', "score must be a number"),
    ('{"score": true, "reasons": "好"}', "score must be a number"),
    ('{"score": NaN, "reasons": "好"}', "not a JSON object"),
    ('{"score": 11, "reasons": "好"}', r"outside \[0, 10\]"),
    ('{"score": -0.5, "reasons": "好"}', r"outside \[0, 10\]"),
    ('{"score": 8, "reasons": ["好"]}', "reasons must be a string"),
    ('[{"score": 8, "reasons": "好"}]', "expected a JSON object"),
    ("", "empty verdict"),
    ("```json\n```", "not a JSON object"),
    ('好的：\n```json\n{"score": 8, "reasons": "好"}\n```', "not a JSON object"),
]


@pytest.mark.parametrize(("text", "expected"), GOOD)
def test_valid_verdicts(text, expected):
    assert parse_score_json(text) == expected


@pytest.mark.parametrize(("text", "problem"), BAD)
def test_anything_else_is_an_error_with_the_raw_text(text, problem):
    with pytest.raises(VerdictError, match=problem) as info:
        parse_score_json(text)
    assert info.value.raw == text
    assert repr(text) in str(info.value)


@given(st.floats(min_value=0, max_value=10, allow_nan=False))
def test_every_score_in_range_round_trips(score):
    text = f'{{"score": {score!r}, "reasons": "理由"}}'
    assert parse_score_json(text).score == score


def test_parsers_are_looked_up_by_name():
    assert get_parser("score_json") is parse_score_json
    with pytest.raises(ValueError, match="unknown verdict parser 'yes_no'"):
        get_parser("yes_no")
