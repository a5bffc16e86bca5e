"""Tests for the prompt-template registry (beam_cqia.prompts) and the packaged templates."""

import re
from collections import Counter

import jinja2
import pytest
from jinja2.exceptions import SecurityError

from beam_cqia.prompts import (
    NAME_PATTERN,
    Rendered,
    Template,
    TemplateError,
    TemplateRegistry,
    filled,
    load_sources,
    markdown_sections,
    packaged_sources,
)
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, get_adapter

PACKAGED = (
    "baike_article.v1",
    "chengyu_explain.v1",
    "classical_translate.v1",
    "cqia_passthrough.v1",
    "douban_author_intro.v1",
    "douban_book_intro.v1",
    "douban_recommend_list.v1",
    "douban_recommendation.v1",
    "douban_review.v1",
    "douban_synopsis.v1",
    "exam_question.v1",
    "finance_term.v1",
    "forum_question.v1",
    "law_exam.v1",
    "logiqa_question.v1",
    "medical_encyclopedia.v1",
    "medical_qa.v1",
    "medical_section.v1",
    "poem_compose.v1",
    "poem_continue.v1",
    "segmentfault_qa.v1",
    "web_article.v1",
    "wikihow_howto.v1",
    "xhs_post.v1",
    "xiehouyu.v1",
    "zhihu_qa.v1",
)
TEMPLATE_ID = re.compile(r"^(?P<name>[a-z0-9]+(?:_[a-z0-9]+)*\.v[1-9][0-9]*)#(?P<n>[1-9][0-9]*)$")


def one(adapter: str, obj: dict, subset: str) -> RawDoc:
    return next(get_adapter(adapter)(obj, Origin("raw.jsonl", 0, subset)))


ZHIHU_DOC = one(
    "zhihu",
    {
        "question_id": "100200300",
        "title": "如何零基础入门机器学习？",
        "detail": "文科生，数学一般，想转行做算法。",
        "topics": ["机器学习", "入门"],
        "answers": [
            {
                "answer_id": "400500600",
                "voteup_count": "2.3k",
                "content": "先补线性代数和概率论，再跟一门公开课做项目。\n\n```python\n"
                "    import numpy as np\n```",
            }
        ],
    },
    "zhihu",
)
BAIKE_DOC = one(
    "baike",
    {
        "entry_id": "bk-10086",
        "title": "高血压",
        "category": ["医学", "心血管内科"],
        "summary": "高血压是以体循环动脉压增高为主要特征的临床综合征。",
        "sections": [{"heading": "治疗", "text": "改善生活方式，必要时药物治疗。"}],
    },
    "baike",
)
EXAM_DOC = one(
    "exam",
    {
        "qid": "gk-2020-bio-07",
        "year": 2020,
        "exam": "2020年全国高考",
        "subject": "生物",
        "type": "单项选择题",
        "stem": "下列关于细胞结构的叙述，正确的是（  ）",
        "options": {"A": "核糖体具有单层膜结构", "B": "线粒体是有氧呼吸的主要场所"},
        "answer": "B",
        "analysis": "线粒体是有氧呼吸的主要场所。",
    },
    "exam",
)

BAIKE_INSTRUCTIONS = {
    1: "请介绍一下高血压。",
    2: "高血压是什么？请详细说明。",
    3: "能否用通俗易懂的语言讲讲“高血压”？",
    4: "关于高血压，你能告诉我哪些知识？",
    5: "我想了解高血压，请从基本概念讲起，条理清楚地介绍。",
    6: "写一段关于“高血压”的百科式介绍。",
}
EXAM_CHOICE_INSTRUCTIONS = {
    1: "请根据题目内容选择符合要求的选项。",
    2: "阅读下面的生物题目，选出正确答案并说明理由。",
    3: "下面是一道生物单项选择题，请给出答案和解析。",
    4: "请分析各个选项，选出唯一正确的一项。",
}
# Without an analysis the instructions do not ask for reasons.
EXAM_CHOICE_BARE_INSTRUCTIONS = {
    **EXAM_CHOICE_INSTRUCTIONS,
    2: "阅读下面的生物题目，选出正确答案。",
    3: "下面是一道生物单项选择题，请给出答案。",
}
EXAM_BLANK_INSTRUCTIONS = {
    1: "请根据题目内容填写正确答案。",
    2: "阅读下面的生物题目，完成填空并说明理由。",
    3: "下面是一道生物填空题，请给出答案和解析。",
    4: "请解答下面的题目。",
}


@pytest.fixture(scope="module")
def registry() -> TemplateRegistry:
    return TemplateRegistry.from_sources(load_sources())


def header(extra: str = "") -> str:
    return "{#---\ntask_type: {major: [问答], minor: [测试]}\n" + extra + "---#}\n"


OUTPUT = "{% block output %}{{ answer }}{% endblock %}\n"


# --- packaged templates ----------------------------------------------------------------------


def test_packaged_templates_are_listed(registry):
    sources = packaged_sources()
    assert tuple(sorted(sources)) == PACKAGED
    assert registry.names() == list(PACKAGED)
    for name, (text, origin) in sources.items():
        assert NAME_PATTERN.match(name)
        assert origin == f"rebuild/{name}.j2"
        assert text.startswith("{#---\n")


@pytest.mark.parametrize("name", PACKAGED)
def test_packaged_templates_parse(name):
    text, origin = packaged_sources()[name]
    template = Template(name, text, origin)
    assert template.name == name
    assert template.description
    assert template.variants == [f"instruction_{i}" for i in range(1, len(template.variants) + 1)]


@pytest.mark.parametrize(
    ("name", "doc"),
    [("zhihu_qa.v1", ZHIHU_DOC), ("baike_article.v1", BAIKE_DOC), ("exam_question.v1", EXAM_DOC)],
)
def test_every_packaged_template_renders(registry, name, doc):
    rendered = registry.get(name).render(doc)
    assert isinstance(rendered, Rendered)
    match = TEMPLATE_ID.match(rendered.template_id)
    assert match
    assert match.group("name") == name
    assert 1 <= int(match.group("n")) <= len(registry.get(name).variants)
    assert rendered.instruction
    assert rendered.output
    assert rendered.task_major
    assert rendered.domain


def test_zhihu_render(registry):
    rendered = registry.get("zhihu_qa.v1").render(ZHIHU_DOC)
    assert rendered == Rendered(
        template_id="zhihu_qa.v1#1",
        instruction="如何零基础入门机器学习？\n文科生，数学一般，想转行做算法。",
        input="",
        output=ZHIHU_DOC.answer,
        task_major=["问答"],
        task_minor=["知乎问答"],
        domain=["通用"],
        metadata_keys=["qid", "aid", "tag"],
        copyright="",
    )
    # A fenced code block in the answer keeps its indentation.
    assert "\n    import numpy as np\n" in rendered.output


def test_baike_render(registry):
    template = registry.get("baike_article.v1")
    rendered = template.render(BAIKE_DOC)
    variant = template.variant_for(BAIKE_DOC.id)
    assert rendered.template_id == f"baike_article.v1#{variant}"
    assert rendered.instruction == BAIKE_INSTRUCTIONS[variant]
    assert rendered.input == ""
    assert rendered.output == BAIKE_DOC.body
    assert rendered.output.endswith("## 治疗\n\n改善生活方式，必要时药物治疗。")
    assert rendered.task_major == ["问答"]
    assert rendered.task_minor == ["百科问答"]
    assert rendered.domain == ["百科", "医学"]  # "{{ meta.category_top }}" is rendered
    assert rendered.metadata_keys == ["entry_id", "category"]


def test_baike_domain_drops_empty_rendered_strings(registry):
    doc = BAIKE_DOC._replace(meta={**BAIKE_DOC.meta, "category_top": ""})
    assert registry.get("baike_article.v1").render(doc).domain == ["百科"]


@pytest.mark.parametrize("variant", [1, 2, 3, 4, 5, 6])
def test_baike_every_variant_text(registry, variant):
    template = registry.get("baike_article.v1")
    doc_id = next(f"doc-{i}" for i in range(1000) if template.variant_for(f"doc-{i}") == variant)
    rendered = template.render(BAIKE_DOC._replace(id=doc_id))
    assert rendered.template_id == f"baike_article.v1#{variant}"
    assert rendered.instruction == BAIKE_INSTRUCTIONS[variant]


@pytest.mark.parametrize("variant", [1, 2, 3, 4])
@pytest.mark.parametrize(
    ("qtype", "body", "expected_instructions", "expected_output"),
    [
        (
            "单项选择题",
            "线粒体是有氧呼吸的主要场所。",
            EXAM_CHOICE_INSTRUCTIONS,
            "线粒体是有氧呼吸的主要场所。\n\n故本题选B。",
        ),
        ("单项选择题", "", EXAM_CHOICE_BARE_INSTRUCTIONS, "故本题选B。"),
        (
            "填空题",
            "线粒体是有氧呼吸的主要场所。",
            EXAM_BLANK_INSTRUCTIONS,
            "线粒体是有氧呼吸的主要场所。\n\n因此答案为：B",
        ),
    ],
)
def test_exam_render(registry, variant, qtype, body, expected_instructions, expected_output):
    template = registry.get("exam_question.v1")
    doc_id = next(f"q-{i}" for i in range(1000) if template.variant_for(f"q-{i}") == variant)
    doc = EXAM_DOC._replace(id=doc_id, body=body, meta={**EXAM_DOC.meta, "type": qtype})
    rendered = template.render(doc)
    assert rendered.template_id == f"exam_question.v1#{variant}"
    assert rendered.instruction == expected_instructions[variant]
    assert rendered.input == (
        "下列关于细胞结构的叙述，正确的是（  ）\n"
        "A. 核糖体具有单层膜结构\n"
        "B. 线粒体是有氧呼吸的主要场所"
    )
    assert rendered.output == expected_output
    assert rendered.task_major == ["试题"]
    assert rendered.task_minor == ["中学考试", qtype]
    assert rendered.domain == ["生物"]
    assert rendered.metadata_keys == ["year", "exam", "type", "score"]


# --- variant choice --------------------------------------------------------------------------


def test_variant_is_deterministic(registry):
    template = registry.get("baike_article.v1")
    fresh = Template("baike_article.v1", packaged_sources()["baike_article.v1"][0])
    for i in range(50):
        doc = BAIKE_DOC._replace(id=f"doc-{i}")
        assert template.render(doc) == template.render(doc) == fresh.render(doc)
        assert template.variant_for(doc.id) == fresh.variant_for(doc.id)


def test_variants_spread_over_many_ids(registry):
    template = registry.get("baike_article.v1")
    counts = Counter(template.variant_for(f"doc-{i}") for i in range(600))
    assert set(counts) == {1, 2, 3, 4, 5, 6}
    assert min(counts.values()) >= 50  # ~100 each
    counts = Counter(registry.get("exam_question.v1").variant_for(f"q-{i}") for i in range(400))
    assert set(counts) == {1, 2, 3, 4}


def test_single_variant_template_always_picks_one(registry):
    template = registry.get("zhihu_qa.v1")
    assert {template.variant_for(f"doc-{i}") for i in range(100)} == {1}


# --- rendering errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "doc", "field"),
    [
        ("baike_article.v1", BAIKE_DOC._replace(body=""), "body"),
        ("baike_article.v1", BAIKE_DOC._replace(title="  \n"), "title"),
        ("zhihu_qa.v1", ZHIHU_DOC._replace(answer=""), "answer"),
        (
            "exam_question.v1",
            EXAM_DOC._replace(meta={**EXAM_DOC.meta, "subject": ""}),
            "meta.subject",
        ),
        ("exam_question.v1", EXAM_DOC._replace(meta={"type": "单项选择题"}), "meta.subject"),
    ],
)
def test_required_field_empty(registry, name, doc, field):
    with pytest.raises(TemplateError, match=rf"required field '{re.escape(field)}' is empty"):
        registry.get(name).render(doc)


@pytest.mark.parametrize(
    "body",
    [
        "{% block instruction_1 %}{{ nonexistent }}{% endblock %}",
        "{% block instruction_1 %}{{ meta.no_such_key }}{% endblock %}",
        "{% block instruction_1 %}{{ title }}{% endblock %}{% block input %}{{ qustion }}"
        "{% endblock %}",
    ],
)
def test_strict_undefined(body):
    template = Template("strict_test.v1", header() + body + OUTPUT)
    with pytest.raises(TemplateError, match="UndefinedError") as info:
        template.render(ZHIHU_DOC)
    assert isinstance(info.value.__cause__, jinja2.UndefinedError)


def test_strict_undefined_in_front_matter_strings():
    template = Template(
        "strict_test.v1",
        header('domain: ["{{ meta.missing }}"]\n')
        + "{% block instruction_1 %}{{ title }}{% endblock %}"
        + OUTPUT,
    )
    with pytest.raises(TemplateError, match="UndefinedError"):
        template.render(ZHIHU_DOC)


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "title.__class__",
        "meta.__init__.__globals__",
        "''.__class__.__mro__[1].__subclasses__()",
    ],
)
def test_sandbox_blocks_dunder_access(expression):
    template = Template(
        "evil_test.v1",
        header() + "{% block instruction_1 %}{{ " + expression + " }}{% endblock %}" + OUTPUT,
    )
    with pytest.raises(TemplateError, match="SecurityError") as info:
        template.render(ZHIHU_DOC)
    assert isinstance(info.value.__cause__, SecurityError)


def test_template_error_is_value_error():
    assert issubclass(TemplateError, ValueError)


# --- malformed templates ---------------------------------------------------------------------

GOOD_BODY = "{% block instruction_1 %}{{ question }}{% endblock %}\n" + OUTPUT


@pytest.mark.parametrize(
    ("name", "source", "message"),
    [
        ("Zhihu_QA.v1", header() + GOOD_BODY, "template names look like"),
        ("zhihu_qa", header() + GOOD_BODY, "template names look like"),
        ("zhihu_qa.v0", header() + GOOD_BODY, "template names look like"),
        ("zhihu-qa.v1", header() + GOOD_BODY, "template names look like"),
        ("知乎.v1", header() + GOOD_BODY, "template names look like"),
        ("zhihu_qa.v1", GOOD_BODY, "must start with a"),
        ("zhihu_qa.v1", "{# task_type: {major: [问答]} #}\n" + GOOD_BODY, "must start with a"),
        (
            "zhihu_qa.v1",
            header() + "{% block instruction_1 %}{{ question }}{% endblock %}",
            "defines no output block",
        ),
        ("zhihu_qa.v1", header() + OUTPUT, "defines no instruction_1 block"),
        (
            "zhihu_qa.v1",
            header() + "{% block instruction_2 %}问{% endblock %}" + OUTPUT,
            "numbered 1..N",
        ),
        (
            "zhihu_qa.v1",
            header()
            + "{% block instruction_1 %}问{% endblock %}{% block instruction_3 %}问{% endblock %}"
            + OUTPUT,
            "numbered 1..N",
        ),
        (
            "zhihu_qa.v1",
            header() + GOOD_BODY + "{% block footer %}页脚{% endblock %}",
            r"unknown blocks \['footer'\]",
        ),
        (
            "zhihu_qa.v1",
            header("author: 张三\n") + GOOD_BODY,
            r"unknown front matter keys \['author'\]",
        ),
        (
            "zhihu_qa.v1",
            "{#---\ntask_type: {major: [问答, minor: [测试]\n---#}\n" + GOOD_BODY,
            "bad YAML front matter",
        ),
        ("zhihu_qa.v1", "{#---\n- 问答\n- 测试\n---#}\n" + GOOD_BODY, "must be a mapping"),
        ("zhihu_qa.v1", "{#---\ndescription: 无任务类型\n---#}\n" + GOOD_BODY, "task_type must be"),
        (
            "zhihu_qa.v1",
            "{#---\ntask_type: {major: 问答, minor: [测试]}\n---#}\n" + GOOD_BODY,
            "task_type must be",
        ),
        (
            "zhihu_qa.v1",
            "{#---\ntask_type: {major: [问答]}\n---#}\n" + GOOD_BODY,
            "task_type must be",
        ),
        ("zhihu_qa.v1", header("domain: 通用\n") + GOOD_BODY, "domain must be a list of strings"),
        ("zhihu_qa.v1", header("requires: [content]\n") + GOOD_BODY, "requires names 'content'"),
        ("zhihu_qa.v1", header("metadata: [1, 2]\n") + GOOD_BODY, "metadata must be a list"),
        (
            "zhihu_qa.v1",
            header() + "{% block instruction_1 %}{{ question }{% endblock %}" + OUTPUT,
            "line",
        ),
        (
            "zhihu_qa.v1",
            header('domain: ["{{ meta.subject "]\n') + GOOD_BODY,
            "line",
        ),
    ],
)
def test_malformed_templates(name, source, message):
    with pytest.raises(TemplateError, match=message):
        Template(name, source, origin="")


def test_error_names_origin():
    with pytest.raises(TemplateError, match=r"^/tmp/mine/zhihu_qa\.v1\.j2: defines no output"):
        Template(
            "zhihu_qa.v1",
            header() + "{% block instruction_1 %}问{% endblock %}",
            "/tmp/mine/zhihu_qa.v1.j2",
        )


def test_requires_meta_keys_are_allowed():
    template = Template("meta_test.v1", header("requires: [meta.qid, answer]\n") + GOOD_BODY)
    assert template.requires == ["meta.qid", "answer"]
    assert template.render(ZHIHU_DOC).instruction == ZHIHU_DOC.question


def test_copyright_is_rendered():
    template = Template(
        "copyright_test.v1", header('copyright: "来源：知乎问题{{ meta.qid }}"\n') + GOOD_BODY
    )
    assert template.render(ZHIHU_DOC).copyright == "来源：知乎问题100200300"


# --- registry and user directories -----------------------------------------------------------


def test_registry_unknown_name(registry):
    with pytest.raises(TemplateError, match=r"unknown template 'weibo_post\.v1'.*baike_article"):
        registry.get("weibo_post.v1")


OVERRIDE = (
    "{#---\ndescription: 用户覆盖的知乎模板\ntask_type: {major: [问答], minor: [知乎问答]}\n"
    "domain: [通用]\nrequires: [question, answer]\n---#}\n"
    "{% block instruction_1 %}请回答：{{ title }}{% endblock %}\n"
    "{% block output %}{{ answer }}{% endblock %}\n"
)


@pytest.mark.parametrize("subdir", ["", "rebuild"])
def test_user_directory_overrides_packaged_template(tmp_path, subdir):
    folder = tmp_path / subdir if subdir else tmp_path
    folder.mkdir(exist_ok=True)
    (folder / "zhihu_qa.v1.j2").write_text(OVERRIDE, encoding="utf-8")
    (folder / "xhs_note.v1.j2").write_text(
        header() + "{% block instruction_1 %}{{ title }}{% endblock %}" + OUTPUT, encoding="utf-8"
    )
    sources = load_sources([str(tmp_path)])
    assert set(sources) == {*PACKAGED, "xhs_note.v1"}
    text, origin = sources["zhihu_qa.v1"]
    assert text == OVERRIDE
    assert origin == str(folder / "zhihu_qa.v1.j2")
    assert sources["baike_article.v1"] == packaged_sources()["baike_article.v1"]
    rendered = TemplateRegistry.from_sources(sources).get("zhihu_qa.v1").render(ZHIHU_DOC)
    assert rendered.instruction == "请回答：如何零基础入门机器学习？"
    assert rendered.metadata_keys == []


def test_later_directories_win(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "zhihu_qa.v1.j2").write_text(OVERRIDE, encoding="utf-8")
    (second / "zhihu_qa.v1.j2").write_text(OVERRIDE.replace("请回答", "回答"), encoding="utf-8")
    sources = load_sources([str(first), str(second)])
    assert "{{ title }}" in sources["zhihu_qa.v1"][0]
    assert "请回答" not in sources["zhihu_qa.v1"][0]


def test_empty_directory_is_an_error(tmp_path):
    (tmp_path / "notes.txt").write_text("不是模板", encoding="utf-8")
    with pytest.raises(TemplateError, match="no templates"):
        load_sources([str(tmp_path)])


def test_malformed_user_template_fails_registry(tmp_path):
    (tmp_path / "zhihu_qa.v1.j2").write_text(header() + "没有块", encoding="utf-8")
    sources = load_sources([str(tmp_path)])
    with pytest.raises(TemplateError, match=re.escape(str(tmp_path / "zhihu_qa.v1.j2"))):
        TemplateRegistry.from_sources(sources)


# --- labels rendered from JSON, verbatim metadata, answer_from, human_verified, strip ---------

LABELLED = RawDoc(
    id="labelled",
    source="instruct",
    subset="instruct",
    url="",
    title="",
    question="  问题前后有空格  ",
    body="",
    answer="回答。\n",
    meta={
        "task_type": '{"major": ["问答"], "minor": ["百科问答", "茶学"]}',
        "domain": '["百科", "茶"]',
        "metadata": "来源：某站；整理：某人",
        "answer_from": "llm",
        "human_verified": "true",
    },
    fetched_at="",
    origin_file="",
    origin_offset=0,
    signals={},
    lineage=[],
)
JSON_FRONT = (
    "{#---\n"
    'task_type: "{{ meta.task_type }}"\n'
    'domain: "{{ meta.domain }}"\n'
    'metadata: "{{ meta.metadata }}"\n'
    'answer_from: "{{ meta.answer_from }}"\n'
    'human_verified: "{{ meta.human_verified }}"\n'
    "strip: false\n"
    "---#}\n"
)


def test_labels_from_json_verbatim_metadata_and_unstripped_blocks():
    template = Template("relabel_test.v1", JSON_FRONT + GOOD_BODY)
    rendered = template.render(LABELLED)
    assert (rendered.task_major, rendered.task_minor) == (["问答"], ["百科问答", "茶学"])
    assert rendered.domain == ["百科", "茶"]
    assert rendered.metadata == "来源：某站；整理：某人"
    assert (rendered.answer_from, rendered.human_verified) == ("llm", True)
    assert (rendered.instruction, rendered.output) == ("  问题前后有空格  ", "回答。\n")


def test_without_those_keys_tag_schema_decides():
    rendered = Template("plain_test.v1", header() + GOOD_BODY).render(LABELLED)
    assert (rendered.metadata, rendered.answer_from, rendered.human_verified) == (None, None, None)
    assert rendered.instruction == "问题前后有空格"  # stripped by default


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        ({"task_type": "not json"}, "task_type did not render as JSON"),
        ({"task_type": '{"major": ["问答"]}'}, r"task_type did not render as \{major, minor\}"),
        ({"domain": '"百科"'}, "domain must be a JSON list of strings"),
        ({"human_verified": "yes"}, "human_verified rendered 'yes'"),
    ],
)
def test_bad_rendered_labels_are_template_errors(meta, message):
    doc = LABELLED._replace(meta={**LABELLED.meta, **meta})
    with pytest.raises(TemplateError, match=message):
        Template("relabel_test.v1", JSON_FRONT + GOOD_BODY).render(doc)


@pytest.mark.parametrize(
    ("front", "message"),
    [
        ("task_type: 问答\n", "task_type must be a list of strings, or a Jinja string"),
        ("task_type: {major: [问答], minor: []}\nstrip: maybe\n", "strip must be true or false"),
        ("task_type: {major: [问答], minor: []}\nanswer_from: [human]\n", "answer_from must be"),
    ],
)
def test_bad_front_matter_for_the_new_keys(front, message):
    with pytest.raises(TemplateError, match=message):
        Template("bad_test.v1", "{#---\n" + front + "---#}\n" + GOOD_BODY)


# --- names in user directories, min_output_chars, let, helpers, missing fields ----------------


@pytest.mark.parametrize(
    "filename", ["Zhihu_QA.v1.j2", "zhihu-qa.v1.j2", "zhihu_qa.j2", "知乎.v1.j2"]
)
def test_user_directory_file_with_a_bad_name_fails_on_load(tmp_path, filename):
    (tmp_path / filename).write_text(OVERRIDE, encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        load_sources([str(tmp_path)])
    message = str(info.value)
    assert message.startswith(str(tmp_path / filename))
    assert "template names look like <source>_<task>.vN" in message
    assert "douban_synopsis.v1" in message  # an example of a good name


def test_user_directory_adds_and_overrides_without_code(tmp_path):
    (tmp_path / "weibo_post.v1.j2").write_text(
        header("requires: [title]\nmin_output_chars: 5\n")
        + "{% block instruction_1 %}以“{{ title }}”为题发一条微博{% endblock %}"
        + "{% block output %}{{ answer }}{% endblock %}",
        encoding="utf-8",
    )
    registry = TemplateRegistry.from_sources(load_sources([str(tmp_path)]))
    template = registry.get("weibo_post.v1")
    assert template.min_output_chars == 5
    assert template.render(ZHIHU_DOC._replace(title="早睡")).instruction == "以“早睡”为题发一条微博"
    assert "zhihu_qa.v1" in registry.names()


@pytest.mark.parametrize("value", ["-1", "'200'", "1.5", "true"])
def test_min_output_chars_must_be_a_whole_number(value):
    with pytest.raises(TemplateError, match="min_output_chars must be a whole number"):
        Template("bad_test.v1", header(f"min_output_chars: {value}\n") + GOOD_BODY)


def test_min_output_chars_defaults_to_zero():
    assert Template("plain_test.v1", header() + GOOD_BODY).min_output_chars == 0


def test_let_values_reach_every_block_and_front_matter():
    template = Template(
        "let_test.v1",
        header(
            'domain: ["{{ topic }}"]\n'
            "let:\n"
            "  topic: \"pick(['睡眠', '饮食', '运动'], 'topic')\"\n"
            "  ask: \"'关于' ~ topic ~ '的问题'\"\n"
        )
        + "{% block instruction_1 %}{{ ask }}{% endblock %}"
        + "{% block instruction_2 %}请回答{{ ask }}{% endblock %}"
        + "{% block output %}{{ topic }}：{{ answer }}{% endblock %}",
    )
    for i in range(20):
        rendered = template.render(ZHIHU_DOC._replace(id=f"let-{i}"))
        topic = rendered.domain[0]
        assert topic in ("睡眠", "饮食", "运动")
        assert rendered.instruction.endswith(f"关于{topic}的问题")
        assert rendered.output.startswith(f"{topic}：")
        assert template.render(ZHIHU_DOC._replace(id=f"let-{i}")) == rendered
    topics = {template.render(ZHIHU_DOC._replace(id=f"let-{i}")).domain[0] for i in range(60)}
    assert topics == {"睡眠", "饮食", "运动"}


@pytest.mark.parametrize(
    ("let", "message"),
    [
        ("let: [a]\n", "let must map lower-case names"),
        ('let:\n  Topic: "1"\n', "let must map lower-case names"),
        ('let:\n  title: "1"\n', r"let must not redefine \['title'\]"),
        ('let:\n  variant: "1"\n', r"let must not redefine \['variant'\]"),
        ('let:\n  a: "1 +"\n', "line"),
    ],
)
def test_bad_let(let, message):
    with pytest.raises(TemplateError, match=message):
        Template("let_test.v1", header(let) + GOOD_BODY)


def test_markdown_sections():
    text = "导语。\n\n## 病因\n\n遗传。\n\n### 细分\n\n更细。\n\n## 空节\n\n## 治疗\n\n休息。"
    assert markdown_sections(text) == [
        {"heading": "", "text": "导语。"},
        {"heading": "病因", "text": "遗传。\n\n### 细分\n\n更细。"},
        {"heading": "治疗", "text": "休息。"},
    ]
    assert markdown_sections("") == []


def test_filled_keeps_keys_every_item_has():
    items = [{"a": "1", "b": "", "c": "x"}, {"a": "2", "c": "y"}]
    assert filled(items, ["c", "a", "b", "d"]) == ["c", "a"]
    assert filled([], ["a"]) == []


def test_pick_on_empty_sequence_is_a_template_error():
    template = Template(
        "pick_test.v1", header() + "{% block instruction_1 %}{{ pick([]) }}{% endblock %}" + OUTPUT
    )
    with pytest.raises(TemplateError, match=r"^pick_test\.v1#1: pick\(\) got an empty sequence"):
        template.render(ZHIHU_DOC)


@pytest.mark.parametrize(
    ("expression", "field"),
    [("meta.no_such_key", "meta.no_such_key"), ("nonexistent", "nonexistent")],
)
def test_missing_field_is_named_with_the_template_id(expression, field):
    template = Template(
        "strict_test.v1",
        header() + "{% block instruction_1 %}{{ " + expression + " }}{% endblock %}" + OUTPUT,
    )
    with pytest.raises(TemplateError) as info:
        template.render(ZHIHU_DOC)
    assert str(info.value) == f"strict_test.v1#1: UndefinedError: missing field {field!r}"


@pytest.mark.parametrize("block", ["instruction_1", "output"])
def test_a_block_that_renders_empty_is_a_render_failure(block):
    blocks = {"instruction_1": "{{ question }}", "output": "{{ answer }}", block: "{{ body }}"}
    template = Template(
        "empty_test.v1",
        header() + "".join(f"{{% block {b} %}}{t}{{% endblock %}}" for b, t in blocks.items()),
    )
    what = "output" if block == "output" else "instruction"
    with pytest.raises(TemplateError, match=rf"^empty_test\.v1#1: the {what} rendered empty"):
        template.render(ZHIHU_DOC._replace(body="  "))
