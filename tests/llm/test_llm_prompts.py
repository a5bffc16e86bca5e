"""LLM prompts (beam_cqia/prompts/llm): the packaged judge prompt and ChatPrompt's rules."""

import pytest

from beam_cqia.llm import get_parser
from beam_cqia.prompts import ChatPrompt, TemplateError, load_chat_prompt, load_sources

PAIR = {
    "instruction": "如何在家做番茄炒蛋？",
    "input": "",
    "output": "先把鸡蛋打散炒熟盛出，再炒番茄出汁，最后倒回鸡蛋翻炒、加盐调味即可。",
}


def test_the_judge_prompt_is_packaged_with_a_known_parser():
    assert "judge_cqia.v1" in load_sources(kind="llm")
    prompt = load_chat_prompt("judge_cqia.v1")
    assert prompt.variables == ["instruction", "input", "output"]
    assert prompt.requires == ["instruction", "output"]
    get_parser(prompt.parser)


def test_the_judge_prompt_renders_the_rubric_and_the_pair():
    system, user = load_chat_prompt("judge_cqia.v1").render(PAIR)
    assert system["role"] == "system" and "只输出一个 JSON 对象" in system["content"]
    assert user["role"] == "user"
    text = user["content"]
    for criterion in ("正确性", "有用性", "完整性", "清晰性", "无害性"):
        assert criterion in text
    assert "满分 10 分" in text and '{"score": 分数, "reasons":' in text
    assert f"【指令】\n{PAIR['instruction']}\n【回答】\n{PAIR['output']}\n<<<数据结束>>>" in text
    assert "【输入】" not in text


def test_the_input_section_appears_only_with_an_input():
    values = {**PAIR, "instruction": "把下面的句子翻译成英文。", "input": "今天天气很好。"}
    text = load_chat_prompt("judge_cqia.v1").render(values)[1]["content"]
    assert "【输入】\n今天天气很好。\n【回答】" in text


def test_variables_are_checked_when_rendering():
    prompt = load_chat_prompt("judge_cqia.v1")
    with pytest.raises(TemplateError, match=r"missing variables \['input'\]"):
        prompt.render({"instruction": "问", "output": "答"})
    with pytest.raises(TemplateError, match=r"unknown \['title'\]"):
        prompt.render({**PAIR, "title": "标题"})
    with pytest.raises(TemplateError, match="required variable 'output' is empty"):
        prompt.render({**PAIR, "output": "  "})


HEADER = "{#---\nvariables: [instruction, output]\nparser: score_json\n---#}\n"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{% block user %}{{ output }}{% endblock %}", "must start with"),
        (HEADER + "{% block system %}你好{% endblock %}", "defines no user block"),
        (HEADER + "{% block user %}x{% endblock %}{% block extra %}{% endblock %}", "unknown"),
        ("{#---\nparser: score_json\n---#}\n{% block user %}x{% endblock %}", "variables must"),
        (
            "{#---\nvariables: [a]\nrequires: [b]\nparser: p\n---#}\n"
            "{% block user %}{% endblock %}",
            "requires must list some of",
        ),
        ("{#---\nvariables: [a]\n---#}\n{% block user %}x{% endblock %}", "parser must name"),
        ("{#---\nvariables: [a]\nparser: p\nmodel: gpt\n---#}\n", r"unknown front matter"),
        (HEADER + "{% block user %}{{ output }{% endblock %}", "line 5: unexpected"),
    ],
)
def test_malformed_prompts_are_refused(source, message):
    with pytest.raises(TemplateError, match=message):
        ChatPrompt("judge_test.v1", source)


def test_rendering_is_sandboxed_and_strict():
    prompt = ChatPrompt(
        "judge_test.v1", HEADER + "{% block user %}{{ output.__class__.__mro__ }}{% endblock %}"
    )
    with pytest.raises(TemplateError):
        prompt.render({"instruction": "问", "output": "答"})
    typo = ChatPrompt("judge_test.v1", HEADER + "{% block user %}{{ outptu }}{% endblock %}")
    with pytest.raises(TemplateError, match="outptu"):
        typo.render({"instruction": "问", "output": "答"})


def test_a_template_dir_adds_and_overrides_prompts(tmp_path):
    (tmp_path / "llm").mkdir()
    (tmp_path / "llm" / "judge_cqia.v1.j2").write_text(
        HEADER + "{% block user %}评分：{{ instruction }} / {{ output }}{% endblock %}",
        encoding="utf-8",
    )
    prompt = load_chat_prompt("judge_cqia.v1", str(tmp_path))
    assert prompt.render({"instruction": "问", "output": "答"}) == [
        {"role": "user", "content": "评分：问 / 答"}
    ]
    with pytest.raises(TemplateError, match=r"unknown LLM prompt 'judge_cqia\.v9'"):
        load_chat_prompt("judge_cqia.v9")
