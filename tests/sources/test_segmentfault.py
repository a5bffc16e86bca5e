"""Tests for the segmentfault adapter and the segmentfault_qa template, on pages written here."""

import copy

import pytest

from beam_cqia.prompts import TemplateError, TemplateRegistry, load_sources
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, segmentfault
from beam_cqia.text.ids import doc_id

ORIGIN = Origin("/crawl/sf/questions.jsonl", 2048, "segmentfault", "2024-07-01T00:00:00Z")

QUESTION_MD = (
    "Promise.all 如何限制并发数？\n"
    "用 `Promise.all` 并发请求时，怎么限制并发数？\n\n"
    "```javascript\nconst urls = [a, b, c];\nPromise.all(urls.map(fetch));\n```\n\n"
    "求思路。"
)
ACCEPTED_MD = (
    "可以写一个简单的队列：\n\n"
    "```\nasync function limit(tasks, n) {\n  // 每次最多 n 个\n}\n```\n\n"
    "- 方法一：自己实现\n"
    "- 方法二：用 **p-limit**"
)

PAGE = {
    "question_id": "1010000041234567",
    "url": "https://segmentfault.com/q/1010000041234567",
    "title": " Promise.all 如何限制并发数？ ",
    "content": (
        "<p>用 <code>Promise.all</code> 并发请求时，怎么限制并发数？</p>"
        '<pre><code class="lang-javascript">const urls = [a, b, c];\n'
        "Promise.all(urls.map(fetch));</code></pre><p>求思路。</p>"
    ),
    "tags": ["javascript", "promise", "javascript"],
    "votes": "3",
    "views": "1.5k",
    "author": "前端新人",
    "created": "2022-03-01 10:00",
    "answers": [
        {
            "answer_id": "1020000041234570",
            "content": "<p>直接用现成的库吧。</p>",
            "votes": 12,
            "accepted": False,
            "author": "路过",
            "created": "2022-03-01 11:00",
        },
        {
            "answer_id": "1020000041234568",
            "content": (
                "<p>可以写一个简单的队列：</p><pre><code>async function limit(tasks, n) {\n"
                "  // 每次最多 n 个\n}</code></pre><ul><li>方法一：自己实现</li>"
                "<li>方法二：用 <strong>p-limit</strong></li></ul>"
            ),
            "votes": 8,
            "accepted": True,
            "author": "老司机",
            "created": "2022-03-01 10:30",
        },
        {"answer_id": "1020000041234569", "content": "  ", "votes": 0},
        {"answer_id": "1020000041234571", "content": "顶。", "votes": "-2", "is_accepted": 0},
    ],
}


def adapt_all(obj, origin=ORIGIN):
    return list(segmentfault.adapt(obj, origin))


def with_changes(base, **changes):
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def test_one_doc_per_answer_with_text():
    docs = adapt_all(PAGE)
    assert [d.meta["aid"] for d in docs] == [
        "1020000041234570",
        "1020000041234568",
        "1020000041234571",
    ]  # the empty answer is not emitted
    assert docs[1] == RawDoc(
        id=doc_id("segmentfault", "1020000041234568"),
        source="segmentfault",
        subset="segmentfault",
        url="https://segmentfault.com/q/1010000041234567/a/1020000041234568",
        title="Promise.all 如何限制并发数？",
        question=QUESTION_MD,
        body="",
        answer=ACCEPTED_MD,
        meta={
            "qid": "1010000041234567",
            "aid": "1020000041234568",
            "tags": "javascript/promise",
            "votes": "8",
            "accepted": "1",
            "answer_rank": "1",
            "answers_in_thread": "4",
            "question_votes": "3",
            "views": "1500",
            "author": "老司机",
            "created": "2022-03-01 10:30",
        },
        fetched_at="2024-07-01T00:00:00Z",
        origin_file="/crawl/sf/questions.jsonl",
        origin_offset=2048,
        signals={},
        lineage=[],
    )


def test_ranks_accepted_first_then_votes_and_keeps_negative_votes():
    docs = adapt_all(PAGE)
    ranks = {d.meta["aid"]: (d.meta["answer_rank"], d.meta["votes"]) for d in docs}
    assert ranks == {
        "1020000041234568": ("1", "8"),  # accepted
        "1020000041234570": ("2", "12"),
        "1020000041234571": ("4", "-2"),  # below the empty 0-vote answer (rank 3)
    }
    assert docs[0].answer == "直接用现成的库吧。"
    assert docs[2].answer == "顶。"  # plain text is kept as it is
    assert docs[2].meta["accepted"] == "0"


def test_alternative_field_names_and_defaults():
    page = {
        "id": 1010000000000001,
        "title": "Go 的 map 为什么不能并发写？",
        "body": "如题。",
        "tags": "go，并发, map",
        "answers": [{"id": "1020000000000002", "body": "<p>因为没有加锁。</p>", "score": "5"}],
    }
    (doc,) = adapt_all(page)
    assert doc.question == "Go 的 map 为什么不能并发写？\n如题。"
    assert doc.url == "https://segmentfault.com/q/1010000000000001/a/1020000000000002"
    assert doc.meta["tags"] == "go/并发/map"
    assert doc.meta["votes"] == "5"
    assert doc.meta["accepted"] == "0"
    assert doc.meta["question_votes"] == "" and doc.meta["views"] == ""
    (doc,) = adapt_all(with_changes(page, tags=[{"name": "golang"}]))
    assert doc.meta["tags"] == "golang"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"answers": []}, "no_answers"),
        ({"answers": [{"answer_id": "1", "content": "<p> </p>"}]}, "empty_answers"),
        ({"title": "  "}, "empty_title"),
    ],
)
def test_rejects(changes, reason):
    with pytest.raises(Reject) as info:
        adapt_all(with_changes(PAGE, **changes))
    assert info.value.reason == reason
    assert "1010000041234567" in info.value.detail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"question_id": ...}, "missing field 'question_id'"),
        ({"title": ...}, "missing field 'title'"),
        ({"answers": ...}, "missing field 'answers'"),
        ({"answers": {"a": 1}}, "'answers' must be a list"),
        ({"answers": ["好"]}, r"answers\[0\] must be a JSON object"),
        ({"answers": [{"content": "好"}]}, r"answers\[0\]: missing field 'answer_id'"),
        ({"answers": [{"answer_id": "1", "votes": "很多"}]}, r"answers\[0\]\.votes must be"),
        ({"answers": [{"answer_id": "1", "accepted": "是"}]}, r"answers\[0\]\.accepted must be"),
        ({"tags": 3}, "'tags' must be a list or a string"),
        ({"tags": [3]}, "'tags' must hold tag names"),
        ({"views": "很多"}, "views must be a count"),
        ({"content": ["段落"]}, "'content' must be a string"),
    ],
)
def test_malformed_pages_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        adapt_all(with_changes(PAGE, **changes))


def test_segmentfault_template_takes_domain_from_tags():
    registry = TemplateRegistry.from_sources(load_sources())
    template = registry.get("segmentfault_qa.v1")
    doc = adapt_all(PAGE)[1]
    rendered = template.render(doc)
    assert rendered.template_id == "segmentfault_qa.v1#1"
    assert rendered.instruction == QUESTION_MD
    assert rendered.output == ACCEPTED_MD
    assert (rendered.task_major, rendered.task_minor) == (["问答"], ["代码问答"])
    assert rendered.domain == ["javascript", "promise"]
    assert rendered.metadata_keys == []
    many = doc._replace(meta={**doc.meta, "tags": "a/b/c/d/e/f"})
    assert template.render(many).domain == ["a", "b", "c", "d", "e"]
    assert template.render(doc._replace(meta={**doc.meta, "tags": ""})).domain == []
    with pytest.raises(TemplateError, match="required field 'answer'"):
        template.render(doc._replace(answer=""))
