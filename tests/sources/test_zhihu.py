"""Tests for the zhihu adapter's API, list-item and answer-page shapes (threads: test_adapters.py).

Every record here is written for the test (our own text, shaped like Zhihu's API v4 objects).
"""

import copy

import pytest

from beam_cqia.prompts import TemplateRegistry, load_sources
from beam_cqia.records import RawDoc, format_metadata
from beam_cqia.sources import Origin, Reject, zhihu
from beam_cqia.text.ids import content_id, doc_id

ORIGIN = Origin("gs://crawl/zhihu/answers-0001.json", 0, "zhihu", "2025-09-01T00:00:00Z")

ANSWER_HTML = (
    '<p data-pid="a1">先说结论：<b>可以</b>，但要注意内存。</p>'
    '<figure data-size="normal"><img src="https://pic1.zhimg.com/v2-abc_720w.jpg" '
    'class="origin_image"/><figcaption>示意图</figcaption></figure>'
    '<p data-pid="a2">复杂度是 <img eeimg="1" '
    'src="https://www.zhihu.com/equation?tex=O%28n%5E2%29" alt="O(n^2)"/>，示例如下：</p>'
    '<div class="highlight"><pre><code class="language-python"><span class="k">for</span> '
    '<span class="n">i</span> in range(3):\n    print(i)</code></pre></div>'
    '<hr/><p data-pid="a3">以上。</p>'
)
ANSWER_MD = (
    "先说结论：**可以**，但要注意内存。\n\n"
    "复杂度是 $O(n^2)$，示例如下：\n\n"
    "```python\nfor i in range(3):\n    print(i)\n```\n\n"
    "---\n\n"
    "以上。"
)

API_ANSWER = {
    "id": "1936700000000000001",
    "type": "answer",
    "answer_type": "normal",
    "url": "https://www.zhihu.com/api/v4/answers/1936700000000000001",
    "content": ANSWER_HTML,
    "excerpt": "先说结论：可以，但要注意内存。",
    "voteup_count": 233,
    "comment_count": 17,
    "thanks_count": 5,
    "created_time": 1754546015,
    "updated_time": 1754560634,
    "author": {
        "id": "p-001",
        "name": "算法小白",
        "badge_v2": {"title": "编程话题下的优秀答主"},
    },
    "reaction": {"statistics": {"up_vote_count": 233, "favorites": 88}},
    "question": {
        "id": "1924000000000000002",
        "type": "question",
        "title": "Python 的列表推导式能嵌套几层？",
        "detail": "<p>问题描述：<b>能否</b>并发写入？</p>",
        "topics": [{"id": "1", "name": "Python"}, {"id": "2", "name": "编程"}],
    },
}

API_DOC = RawDoc(
    id=doc_id("zhihu", "1936700000000000001"),
    source="zhihu",
    subset="zhihu",
    url="https://www.zhihu.com/question/1924000000000000002/answer/1936700000000000001",
    title="Python 的列表推导式能嵌套几层？",
    question="Python 的列表推导式能嵌套几层？\n问题描述：**能否**并发写入？",
    body="",
    answer=ANSWER_MD,
    meta={
        "qid": "1924000000000000002",
        "aid": "1936700000000000001",
        "tag": "['Python', '编程']",
        "votes": "233",
        "comments": "17",
        "favorites": "88",
        "thanks": "5",
        "author": "算法小白",
        "author_badge": "编程话题下的优秀答主",
        "created": "2025-08-07T05:53:35Z",
        "updated": "2025-08-07T09:57:14Z",
    },
    fetched_at="2025-09-01T00:00:00Z",
    origin_file="gs://crawl/zhihu/answers-0001.json",
    origin_offset=0,
    signals={},
    lineage=[],
)


def search_result(**object_changes):
    obj = {
        "id": "1936700000000000001",
        "type": "answer",
        "title": "",
        "content": "<p>第一段<em>重点</em></p><p>第二段</p>",
        "excerpt": "第一段<em>重点</em>",
        "voteup_count": "1.2万",
        "comment_count": 3,
        "favorites_count": 40,
        "created_time": 1754546015,
        "question": {
            "id": "1924000000000000002",
            "type": "question",
            "name": "如何评价<em>Kotlin</em>？",
        },
        "author": {"name": "<em>匿名</em>用户"},
    }
    obj.update(object_changes)
    return {"type": "search_result", "highlight": {"title": "x"}, "object": obj, "index": 1}


def adapt_all(obj, origin=ORIGIN):
    return list(zhihu.adapt(obj, origin))


def with_changes(base, **changes):
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


# --- API answers --------------------------------------------------------------------------------


def test_api_answer():
    assert adapt_all(API_ANSWER) == [API_DOC]


def test_api_answer_minimal_fields_default():
    answer = {
        "id": 42,
        "type": "answer",
        "content": "<p>只有内容。</p>",
        "question": {"title": " 只有标题？ "},
    }
    (doc,) = adapt_all(answer)
    assert doc.id == doc_id("zhihu", "42")
    assert doc.url == "https://www.zhihu.com/answer/42"
    assert doc.question == "只有标题？"
    assert doc.answer == "只有内容。"
    assert doc.meta == {
        "qid": "",
        "aid": "42",
        "tag": "[]",
        "votes": "0",
        "comments": "0",
        "favorites": "",
        "thanks": "",
        "author": "",
        "author_badge": "",
        "created": "",
        "updated": "",
    }


def test_api_answer_plain_detail_and_millisecond_times():
    answer = with_changes(API_ANSWER, created_time=1754546015000, updated_time="2025-08-08")
    answer["question"]["detail"] = "  纯文本描述  "
    (doc,) = adapt_all(answer)
    assert doc.question == "Python 的列表推导式能嵌套几层？\n纯文本描述"
    assert doc.meta["created"] == "2025-08-07T05:53:35Z"
    assert doc.meta["updated"] == "2025-08-08"


def test_search_result_strips_highlights():
    (doc,) = adapt_all(search_result())
    assert doc.title == "如何评价Kotlin？"
    assert doc.question == "如何评价Kotlin？"
    assert doc.answer == "第一段重点\n\n第二段"  # <em> is a search highlight, not emphasis
    assert doc.meta["votes"] == "12000"
    assert doc.meta["favorites"] == "40"
    assert doc.meta["author"] == "匿名用户"
    assert doc.id == API_DOC.id  # the same answer found by search has the same id


def test_search_result_prefers_the_plain_object_title():
    (doc,) = adapt_all(search_result(title="如何评价 Kotlin？"))
    assert doc.title == "如何评价 Kotlin？"


def test_feed_item_answer():
    item = {
        "id": "3_1786865954680083299_1786858762221_4",
        "type": "feed",
        "verb": "MEMBER_VOTEUP_ANSWER",
        "target": copy.deepcopy(API_ANSWER),
    }
    assert adapt_all(item) == [API_DOC]


@pytest.mark.parametrize(
    ("record", "reason", "detail"),
    [
        (
            {"type": "feed", "verb": "MEMBER_VOTEUP_ARTICLE", "target": {"type": "article"}},
            "not_an_answer",
            "'article'",
        ),
        (search_result(type="people"), "not_an_answer", "'people'"),
        (
            {"type": "search_result", "object": {"type": "topic", "name": "<em>Kotlin</em>"}},
            "not_an_answer",
            "'topic'",
        ),
        (
            {"id": "11253652875", "type": "comment", "content": "<p>赞同</p>"},
            "not_an_answer",
            "'comment'",
        ),
        ({"id": "2071001987873871220", "type": "pin", "content": []}, "not_an_answer", "'pin'"),
        (
            {"date": "20250816", "stories": [{"title": "今日话题", "id": 1}]},
            "not_an_answer",
            "20250816",
        ),
        (
            {
                "id": "1919415961875870742",
                "type": "ComponentCard",
                "extra": {"content_type": "answer"},
            },
            "excerpt_only",
            "1919415961875870742",
        ),
        (
            {"type": "ComponentCard", "extra": {"content_type": "article"}},
            "not_an_answer",
            "ComponentCard",
        ),
        (with_changes(API_ANSWER, content=...), "excerpt_only", "1936700000000000001"),
        (with_changes(API_ANSWER, content=""), "excerpt_only", "1936700000000000001"),
        (with_changes(API_ANSWER, content=None, excerpt=""), "empty_answer", "no content"),
        (
            with_changes(API_ANSWER, content='<p><img src="https://pic1.zhimg.com/x.jpg"/></p>'),
            "empty_answer",
            "once converted",
        ),
    ],
)
def test_api_rejects(record, reason, detail):
    with pytest.raises(Reject) as info:
        adapt_all(record)
    assert info.value.reason == reason
    assert detail in info.value.detail


def _without_question_title():
    answer = copy.deepcopy(API_ANSWER)
    answer["question"] = {"id": "1"}
    return answer


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"paging": {"is_end": True}, "data": [search_result()]}, "json_items='data.item'"),
        ({"latex": "x^2", "sources": []}, r"not a Zhihu thread, answer.*\['latex', 'sources'\]"),
        ({"type": ""}, "not a Zhihu thread"),
        (with_changes(API_ANSWER, id=...), "missing field 'id'"),
        (with_changes(API_ANSWER, question=...), "missing field 'question'"),
        (with_changes(API_ANSWER, question="标题"), "'question' must be a JSON object"),
        (_without_question_title(), r"missing field 'question\.title'"),
        (with_changes(API_ANSWER, content=["<p>段落</p>"]), "'content' must be a string"),
        (with_changes(API_ANSWER, voteup_count="很多"), "voteup_count must be a count"),
        (with_changes(API_ANSWER, created_time=[1]), "a time must be epoch seconds"),
        ({"type": "search_result", "object": "答案"}, "'object' must be a JSON object"),
        ({"type": "feed"}, "missing field 'target'"),
    ],
)
def test_api_malformed_records_raise_value_error(record, message):
    with pytest.raises(ValueError, match=message):
        adapt_all(record)


def test_topics_must_be_a_list_of_topics():
    answer = copy.deepcopy(API_ANSWER)
    answer["question"]["topics"] = "Python"
    with pytest.raises(ValueError, match=r"'question\.topics' must be a list"):
        adapt_all(answer)
    answer["question"]["topics"] = [3]
    with pytest.raises(ValueError, match=r"question\.topics\[0\]"):
        adapt_all(answer)
    answer["question"]["topics"] = ["Python", {"name": "<em>编程</em>"}]
    assert adapt_all(answer)[0].meta["tag"] == "['Python', '编程']"


# --- threads with HTML content --------------------------------------------------------------------


def test_thread_html_content_is_converted_plain_text_kept():
    thread = {
        "question_id": "1",
        "title": "标题？",
        "answers": [
            {"answer_id": "11", "content": ANSWER_HTML},
            {"answer_id": "12", "content": "纯文本 a < b 的回答\n\n第二段"},
        ],
    }
    html_doc, plain_doc = adapt_all(thread)
    assert html_doc.answer == ANSWER_MD
    assert plain_doc.answer == "纯文本 a < b 的回答\n\n第二段"


# --- answer pages ---------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head><meta charset="utf-8">
<title>(3 封私信) Python 的列表推导式能嵌套几层？ - 知乎</title></head>
<body>
<div class="QuestionHeader">
  <div class="QuestionHeader-topics"><div class="Tag QuestionTopic">Python</div>
  <div class="Tag QuestionTopic">编程</div></div>
  <h1 class="QuestionHeader-title">Python 的列表推导式能嵌套几层？</h1>
  <div class="QuestionRichText"><span class="RichText">问题描述：<b>能否</b>并发写入？</span></div>
</div>
<div class="List-item"><div class="ContentItem AnswerItem"
  data-zop='{"authorName":"算法小白","itemId":1936700000000000001,
  "title":"Python 的列表推导式能嵌套几层？","type":"answer"}'>
  <meta itemprop="upvoteCount" content="233"><meta itemprop="commentCount" content="17">
  <meta itemprop="dateCreated" content="2025-08-07T05:53:35.000Z">
  <div class="RichContent"><div class="RichContent-inner"><span class="RichText ztext">ANSWER</span>
  </div></div>
</div></div>
<div class="Footer">关于知乎</div>
</body></html>
""".replace("ANSWER", ANSWER_HTML)


def html_record(html, url="", path="/crawl/page.html", date=""):
    return {"html": html, "url": url, "path": path, "date": date, "encoding": "utf-8"}


def test_answer_page():
    url = "https://www.zhihu.com/question/1924000000000000002/answer/1936700000000000001"
    (doc,) = adapt_all(html_record(PAGE, url=url, date="2025-09-02T10:00:00Z"))
    assert doc == RawDoc(
        id=doc_id("zhihu", "1936700000000000001"),
        source="zhihu",
        subset="zhihu",
        url=url,
        title="Python 的列表推导式能嵌套几层？",
        question="Python 的列表推导式能嵌套几层？\n问题描述：**能否**并发写入？",
        body="",
        answer=ANSWER_MD,
        meta={
            "qid": "1924000000000000002",
            "aid": "1936700000000000001",
            "tag": "['Python', '编程']",
            "votes": "233",
            "comments": "17",
            "author": "算法小白",
            "created": "2025-08-07T05:53:35.000Z",
            "updated": "",
        },
        fetched_at="2025-09-02T10:00:00Z",
        origin_file=ORIGIN.file,
        origin_offset=0,
        signals={},
        lineage=[],
    )


def test_answer_page_title_from_html_title_and_id_from_file_name():
    html = (
        "<html><head><title>猫为什么怕黄瓜？ - 知乎</title></head><body>"
        '<article class="RichContent-inner"><p>因为像蛇。</p></article></body></html>'
    )
    (doc,) = adapt_all(html_record(html, path="/saved/zhihu_answer_2035600000000000009.html"))
    assert doc.question == "猫为什么怕黄瓜？"
    assert doc.answer == "因为像蛇。"
    assert doc.id == doc_id("zhihu", "2035600000000000009")
    assert doc.url == ""
    assert doc.fetched_at == ORIGIN.fetched_at


def test_answer_page_without_any_id_hashes_its_content():
    html = (
        '<?xml version="1.0" encoding="utf-8"?><html><head><title>猫为什么怕黄瓜？ - 知乎</title>'
        "</head><body><p>因为像蛇。</p></body></html>"
    )
    (doc,) = adapt_all(html_record(html, path="/saved/page.html"))
    assert doc.id == content_id("zhihu", "猫为什么怕黄瓜？", "因为像蛇。")
    assert doc.meta["aid"] == ""


@pytest.mark.parametrize(
    ("html", "path", "reason", "detail"),
    [
        (
            '<p data-pid="x">只有回答正文，没有问题。</p>',
            "/a/zhihu_answer_77_content.html",
            "no_question",
            "answer 77",
        ),
        (
            "<html><head><title>Zhihu Answer Content</title></head><body><article "
            'class="RichContent-inner"><p>正文</p></article></body></html>',
            "/a/x.html",
            "no_question",
            "page /a/x.html",
        ),
        (
            '<html><body><h1 class="QuestionHeader-title">问题？</h1>'
            '<div class="RichContent-inner"><img src="https://pic1.zhimg.com/a.jpg"/></div></body></html>',
            "/a/y.html",
            "empty_answer",
            "page /a/y.html",
        ),
    ],
)
def test_answer_page_rejects(html, path, reason, detail):
    with pytest.raises(Reject) as info:
        adapt_all(html_record(html, path=path))
    assert info.value.reason == reason
    assert detail in info.value.detail


# --- template ------------------------------------------------------------------------------------


def test_zhihu_template_renders_api_answer_with_cqia_metadata():
    template = TemplateRegistry.from_sources(load_sources()).get("zhihu_qa.v1")
    rendered = template.render(API_DOC)
    assert rendered.instruction == API_DOC.question
    assert rendered.output == ANSWER_MD
    assert (rendered.task_major, rendered.task_minor, rendered.domain) == (
        ["问答"],
        ["知乎问答"],
        ["通用"],
    )
    assert format_metadata(API_DOC.meta, rendered.metadata_keys) == (
        "qid:1924000000000000002, aid:1936700000000000001, tag:['Python', '编程']"
    )


# --- real fixtures (../shared/corpora) ------------------------------------------------------------


def _outcome(record):
    try:
        return list(zhihu.adapt(record, ORIGIN))
    except Reject as verdict:
        return verdict.reason


@pytest.mark.corpora
def test_real_api_fixtures(corpora):
    import json

    base = corpora / "zhihu-api-fixtures"
    detail = json.loads((base / "real-api" / "answer-detail.json").read_text(encoding="utf-8"))
    (doc,) = _outcome(detail)
    assert doc.question == "如何评价kotlin？"
    assert "```kotlin\n" in doc.answer and "<p" not in doc.answer and "<span" not in doc.answer
    assert doc.meta["votes"] == "101" and doc.meta["tag"] == "['Kotlin']"
    search = json.loads((base / "search" / "search-general-sanitized.json").read_text("utf-8"))
    (found,) = _outcome(search["data"][0])
    assert found.id == doc.id and found.question == doc.question
    outcomes = {
        path.name: _outcome(json.loads(path.read_text(encoding="utf-8")))
        for path in (base / "real-api").glob("*.json")
        if path.name not in ("answer-detail.json", "moments-feed-items.json")
    }
    assert outcomes == {
        "comment.json": "not_an_answer",
        "daily-stories.json": "not_an_answer",
        "mobile-home-card.json": "excerpt_only",
        "notification-timeline-item.json": "not_an_answer",
        "pin-target.json": "not_an_answer",
    }


@pytest.mark.corpora
def test_real_answer_html_fixtures_convert_formulas_then_lack_a_question(corpora):
    for path in sorted((corpora / "zhihu-api-fixtures").glob("*.html")):
        html = path.read_text(encoding="utf-8")
        with pytest.raises(Reject) as info:
            adapt_all(html_record(html, path=str(path)))
        assert info.value.reason == "no_question"
        chars = int(info.value.detail.rsplit("(", 1)[1].split(" ")[0])
        assert chars > 4000  # the body was found and converted before the question was missed
