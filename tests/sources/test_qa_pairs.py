"""Tests for the qa_pairs adapter (歇后语 and question/answer records) and xiehouyu.v1."""

import pytest

from beam_cqia import prompts
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, qa_pairs
from beam_cqia.text.ids import content_id

ORIGIN = Origin("raw/xiehouyu.json", 12, "xiehouyu", "2024-03-01T08:00:00Z")
REGISTRY = prompts.TemplateRegistry.from_sources(prompts.packaged_sources())


def adapt_one(obj: object) -> RawDoc:
    docs = list(qa_pairs.adapt(obj, ORIGIN))
    assert len(docs) == 1
    return docs[0]


def test_xiehouyu():
    assert adapt_one({"riddle": " 竹篮打水 ", "answer": "一场空；白费力气（比喻徒劳）"}) == RawDoc(
        id=content_id("qa_pairs", "竹篮打水", "一场空；白费力气（比喻徒劳）"),
        source="qa_pairs",
        subset="xiehouyu",
        url="",
        title="",
        question="竹篮打水",
        body="",
        answer="一场空；白费力气（比喻徒劳）",
        meta={"kind": "xiehouyu", "alternatives": "2"},
        fetched_at="2024-03-01T08:00:00Z",
        origin_file="raw/xiehouyu.json",
        origin_offset=12,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("obj", "question", "answer", "meta"),
    [
        (
            {
                "question": "茶起源于哪个国家？",
                "answer": "中国。",
                "source": "茶学问答",
                "level": 2,
            },
            "茶起源于哪个国家？",
            "中国。",
            {"source": "茶学问答", "level": "2", "kind": "qa", "alternatives": "1"},
        ),
        (
            {"q": "一年有几个节气？", "a": "二十四个", "url": "https://qa.example.com/7"},
            "一年有几个节气？",
            "二十四个",
            {"url": "https://qa.example.com/7", "kind": "qa", "alternatives": "1"},
        ),
        # riddle/answer wins over question/answer; non-scalar extras stay out of meta.
        (
            {"riddle": "外甥打灯笼", "answer": "照旧（舅）", "question": "?", "tags": ["谐音"]},
            "外甥打灯笼",
            "照旧（舅）",
            {"question": "?", "kind": "xiehouyu", "alternatives": "1"},
        ),
    ],
)
def test_known_shapes(obj, question, answer, meta):
    doc = adapt_one(obj)
    assert (doc.question, doc.answer, dict(doc.meta)) == (question, answer, meta)
    assert doc.id == content_id("qa_pairs", question, answer)


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"riddle": "  ", "answer": "一场空"}, "empty_question"),
        ({"riddle": "竹篮打水", "answer": ""}, "empty_answer"),
        ({"q": "一年有几个节气？", "a": None}, "empty_answer"),
    ],
)
def test_rejections(obj, reason):
    with pytest.raises(Reject) as info:
        adapt_one(obj)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"riddle": "竹篮打水", "reply": "一场空"}, "no question/answer fields"),
        ({"riddle": ["竹篮打水"], "answer": "一场空"}, "field 'riddle' must be a string"),
        ("竹篮打水——一场空", "expected a JSON object"),
    ],
)
def test_malformed_records(obj, message):
    with pytest.raises(ValueError, match=message):
        adapt_one(obj)


@pytest.mark.parametrize(
    ("variant", "instruction"),
    [
        (1, "竹篮打水——\n歇后语补全："),
        (2, "“竹篮打水”是一句歇后语的前半句，后半句是什么？"),
        (3, "请说出歇后语“竹篮打水”的后半句。"),
        (4, "竹篮打水\n这个歇后语的后半句是："),
    ],
)
def test_xiehouyu_template(variant, instruction):
    template = REGISTRY.get("xiehouyu.v1")
    found = next(f"doc-{i}" for i in range(1000) if template.variant_for(f"doc-{i}") == variant)
    doc = adapt_one({"riddle": "竹篮打水", "answer": "一场空"})._replace(id=found)
    assert template.render(doc) == prompts.Rendered(
        template_id=f"xiehouyu.v1#{variant}",
        instruction=instruction,
        input="",
        output="竹篮打水——一场空",
        task_major=["文本生成"],
        task_minor=["歇后语"],
        domain=["中国传统文化", "歇后语"],
        metadata_keys=[],
        copyright="",
    )
