"""Strict good/bad verdicts (COIG-Kun's instruction grading): 【好】 or 【差】 first, once."""

import pytest

from beam_cqia.llm import ScoreVerdict, VerdictError, get_parser, parse_good_bad

GOOD = [
    ("【好】", ScoreVerdict(1.0, "")),
    ("【差】", ScoreVerdict(0.0, "")),
    ("【好】指令清楚、完整。", ScoreVerdict(1.0, "指令清楚、完整。")),
    ("【差】：缺少背景信息。", ScoreVerdict(0.0, "缺少背景信息。")),
    ("  【差】\n指令依赖一篇看不到的文章。\n", ScoreVerdict(0.0, "指令依赖一篇看不到的文章。")),
]

BAD = [
    ("我觉得这条指令还可以。", "start with 【好】 or 【差】"),
    ("好", "start with 【好】 or 【差】"),
    ("判断：【好】", "start with 【好】 or 【差】"),
    ("[好] 清楚", "start with 【好】 or 【差】"),
    ("【好】意图清楚。不过【差】，缺少背景。", "expected one verdict mark, got 2"),
    ("【好】【好】", "expected one verdict mark, got 2"),
    ("【一般】", "start with 【好】 or 【差】"),
    ("", "empty verdict"),
]


@pytest.mark.parametrize(("text", "expected"), GOOD)
def test_clear_verdicts(text, expected):
    assert parse_good_bad(text) == expected


@pytest.mark.parametrize(("text", "problem"), BAD)
def test_anything_else_is_an_error_with_the_raw_text(text, problem):
    with pytest.raises(VerdictError, match=problem) as info:
        parse_good_bad(text)
    assert info.value.raw == text


def test_the_parser_is_registered_for_prompts():
    assert get_parser("good_bad") is parse_good_bad
