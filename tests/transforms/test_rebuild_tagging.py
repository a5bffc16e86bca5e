"""RebuildFromTemplate and TagSchema: records, errors and counters."""

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import NO_COPYRIGHT, NO_METADATA, CqiaRecord, RawDoc, TaskType
from beam_cqia.transforms import RebuildFromTemplate, TagSchema, stage_outputs
from tests.conftest import counters, new_pipeline
from tests.factories import cqia_record, raw_doc

ZHIHU = raw_doc(
    "z1",
    question="怎样才能早睡早起？",
    answer="固定起床时间，睡前一小时不看手机。",
    meta={"qid": "9001", "aid": "z1", "tag": "['睡眠']", "votes": "12"},
    lineage=["ReadZhihu:f@0"],
    signals={"chars.answer": 18.0},
)
EXAM = raw_doc(
    "e1",
    source="exam",
    question="下列属于可再生能源的是\nA. 煤\nB. 太阳能",
    answer="B",
    body="太阳能可以不断再生。",
    meta={"type": "单项选择题", "subject": "地理", "exam": "中考", "year": "2020"},
)
UNMAPPED = raw_doc("u1", source="weibo", question="？", answer="。")
NO_ANSWER = raw_doc("z2", question="没人回答的问题？", answer="")


def test_rebuild_renders_records_and_sends_unrenderable_ones_to_errors():
    p = new_pipeline()
    out = (
        p
        | beam.Create([ZHIHU, EXAM, UNMAPPED, NO_ANSWER]).with_output_types(RawDoc)
        | "Rebuild"
        >> RebuildFromTemplate(templates={"zhihu": "zhihu_qa.v1", "exam": "exam_question.v1"})
    )
    assert_that(
        out
        | beam.Map(
            lambda r: (
                r.id,
                r.template_id.split("#")[0],
                r.instruction if r.source == "zhihu" else bool(r.instruction),
                r.input,
                r.output,
                r.task_type,
                r.domain,
                r.metadata,
                dict(r.signals),
                r.lineage,
            )
        ),
        equal_to(
            [
                (
                    ZHIHU.id,
                    "zhihu_qa.v1",
                    "怎样才能早睡早起？",
                    "",
                    ZHIHU.answer,
                    TaskType(["问答"], ["知乎问答"]),
                    ["通用"],
                    "qid:9001, aid:z1, tag:['睡眠']",
                    {"chars.answer": 18.0},
                    ["ReadZhihu:f@0", "Rebuild:zhihu_qa.v1#1"],
                ),
                (
                    EXAM.id,
                    "exam_question.v1",
                    True,
                    EXAM.question,
                    "太阳能可以不断再生。\n\n故本题选B。",
                    TaskType(["试题"], ["中学考试", "单项选择题"]),
                    ["地理"],
                    "year:2020, exam:中考, type:单项选择题",
                    {},
                    [f"Rebuild:{_exam_template_id()}"],
                ),
            ]
        ),
    )
    assert_that(
        stage_outputs(p, "Rebuild").errors | beam.Map(lambda e: (e.id, e.kind, _msg_key(e.msg))),
        equal_to(
            [
                (UNMAPPED.id, "TemplateError", "no template"),
                (NO_ANSWER.id, "TemplateError", "required field 'answer' is empty"),
            ]
        ),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.RebuildFromTemplate") == {
        "seen": 4,
        "passed": 2,
        "errors": 2,
    }


def _exam_template_id() -> str:
    from beam_cqia import prompts

    template = prompts.TemplateRegistry.from_sources(prompts.load_sources()).get("exam_question.v1")
    return f"exam_question.v1#{template.variant_for(EXAM.id)}"


def _msg_key(msg: str) -> str:
    for key in ("no template", "required field 'answer' is empty"):
        if key in msg:
            return key
    return msg


def test_template_dir_overrides_a_packaged_template(tmp_path):
    (tmp_path / "zhihu_qa.v1.j2").write_text(
        "{#---\ntask_type: {major: [问答], minor: [知乎问答]}\ndomain: [健康]\n---#}\n"
        "{% block instruction_1 %}请回答：{{ question }}{% endblock %}\n"
        "{% block output %}{{ answer }}{% endblock %}\n",
        encoding="utf-8",
    )
    p = new_pipeline()
    out = (
        p
        | beam.Create([ZHIHU]).with_output_types(RawDoc)
        | RebuildFromTemplate(templates={"zhihu": "zhihu_qa.v1"}, template_dir=str(tmp_path))
    )
    assert_that(
        out | beam.Map(lambda r: (r.instruction, r.domain)),
        equal_to([("请回答：怎样才能早睡早起？", ["健康"])]),
    )
    p.run().wait_until_finish()


def test_source_templates_come_before_the_subset_mapping():
    # One subset fed by two sources: a crawl (source zhihu) and published records (instruct).
    published = raw_doc(
        "p1",
        source="instruct",
        question="怎样才能早睡早起？",
        answer="固定起床时间。",
        meta={
            "task_type": '{"major": ["问答"], "minor": ["知乎问答"]}',
            "domain": '["通用"]',
            "metadata": "暂无元数据信息",
            "copyright": "暂无版权及作者信息",
            "answer_from": "human",
            "human_verified": "true",
        },
    )
    p = new_pipeline()
    out = (
        p
        | beam.Create([ZHIHU, published]).with_output_types(RawDoc)
        | RebuildFromTemplate(
            templates={"zhihu": "zhihu_qa.v1"},
            source_templates={"instruct": "cqia_passthrough.v1"},
        )
    )
    assert_that(
        out | beam.Map(lambda r: (r.id, r.template_id.split("#")[0], r.human_verified)),
        equal_to([(ZHIHU.id, "zhihu_qa.v1", False), (published.id, "cqia_passthrough.v1", True)]),
    )
    p.run().wait_until_finish()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"templates": {}}, "templates must map"),
        ({"templates": {"zhihu": "zhihu_qa.v9"}}, "unknown template 'zhihu_qa.v9'"),
        ({"source_templates": {"instruct": "nope.v1"}}, "source_templates: 'instruct' names"),
        ({"templates": None, "source_templates": None}, "templates must map"),
        (
            {"templates": {"zhihu": "zhihu_qa.v1"}, "template_dir": "/nonexistent/dir"},
            "no templates",
        ),
    ],
)
def test_rebuild_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RebuildFromTemplate(**kwargs)


def test_tag_schema_fills_conventions_and_sends_violations_to_errors():
    plain = cqia_record("t1")
    with_values = cqia_record("t2", metadata="qid:1", copyright="作者：某医生", answer_from="llm")
    bad_major = cqia_record("t3", task_type=TaskType(["闲聊"], []))
    empty_output = cqia_record("t4", output="  ")
    no_domain = cqia_record("t5", source="exam", domain=[])
    p = new_pipeline()
    out = (
        p
        | beam.Create([plain, with_values, bad_major, empty_output, no_domain]).with_output_types(
            CqiaRecord
        )
        | "Tag"
        >> TagSchema(
            sources={
                "zhihu": {"answer_from": "human", "human_verified": True},
                "*": {"answer_from": "expert", "domain": ["试题"]},
            }
        )
    )
    assert_that(
        out
        | beam.Map(
            lambda r: (r.id, r.answer_from, r.human_verified, r.metadata, r.copyright, r.domain)
        ),
        equal_to(
            [
                (plain.id, "human", True, NO_METADATA, NO_COPYRIGHT, ["通用"]),
                (with_values.id, "llm", True, "qid:1", "作者：某医生", ["通用"]),
                (no_domain.id, "expert", False, NO_METADATA, NO_COPYRIGHT, ["试题"]),
            ]
        ),
    )
    assert_that(
        stage_outputs(p, "Tag").errors | beam.Map(lambda e: (e.id, e.kind)),
        equal_to(
            [(bad_major.id, "SchemaViolationError"), (empty_output.id, "SchemaViolationError")]
        ),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.TagSchema") == {"seen": 5, "passed": 3, "errors": 2}


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        ({"zhihu": {"answer_from": "crowd"}}, "answer_from must be one of"),
        ({"zhihu": {"human_verified": "yes"}}, "human_verified must be true or false"),
        ({"zhihu": {"domain": []}}, "domain must be a non-empty list"),
        ({"zhihu": {"licence": "cc"}}, r"unknown keys \['licence'\]"),
        ({"zhihu": "human"}, "must be a mapping"),
    ],
)
def test_tag_schema_config_errors(sources, message):
    with pytest.raises(ValueError, match=message):
        TagSchema(sources=sources)
