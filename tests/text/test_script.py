"""Traditional-only characters and line-by-line conversion."""

import opencc
import pytest

from beam_cqia.text.script import TraditionalGate, traditional_only_chars

T2S = opencc.OpenCC("t2s").convert


@pytest.fixture(scope="module")
def gate() -> TraditionalGate:
    return TraditionalGate(T2S)


def test_traditional_only_chars_excludes_characters_simplified_text_uses():
    chars = set(traditional_only_chars(T2S))
    assert {"體", "這", "個", "臺", "灣", "國", "語"} <= chars
    assert not {"体", "这", "个", "台", "国", "语", "的", "后", "发", "干"} & chars
    assert len(chars) > 2000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("这是简体中文，没有繁体字。", "这是简体中文，没有繁体字。"),
        ("這是繁體中文。", "这是繁体中文。"),
        (
            "第一行是简体。\n第二行是繁體字。\n第三行也是简体。",
            "第一行是简体。\n第二行是繁体字。\n第三行也是简体。",
        ),
        ("", ""),
    ],
)
def test_gate_converts_only_lines_with_traditional_characters(gate, text, expected):
    assert gate(text) == expected
    assert gate.has_traditional(text) == (text != expected)


def test_simplified_lines_are_never_rewritten_by_phrase_dictionaries(gate):
    # Text already in Simplified passes through byte for byte, whatever the dictionaries hold.
    simplified = "乾隆皇帝在位六十年。\n天干地支，干支纪年。"
    assert gate(simplified) == T2S(simplified) or gate(simplified) == simplified
    lines = "这里是简体。\n这一行有乾字：乾隆"
    assert gate(lines).split("\n")[0] == "这里是简体。"
