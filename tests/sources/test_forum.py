"""Tests for the forum adapter and the forum_question template, on posts written for the test."""

import copy

import pytest

from beam_cqia.prompts import TemplateError, TemplateRegistry, load_sources
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, forum
from beam_cqia.text.ids import content_id, doc_id

ORIGIN = Origin("/crawl/tieba/titles.json", 7, "ruozhiba", "2023-05-01T00:00:00Z")

TIEBA_TITLE = {
    "title": " 我把闹钟调快了十分钟，为什么还是迟到了十分钟？ ",
    "abs": "我把闹钟调快了十分钟，为什么还是迟到了十分钟？后来发现我也调快了自己。",
    "href": "/p/9000000001?fr=good",
    "lz": "早起困难户",
    "n_reply": "182",
}

TIEBA_DOC = RawDoc(
    id=doc_id("forum", "tieba:9000000001"),
    source="forum",
    subset="ruozhiba",
    url="https://tieba.baidu.com/p/9000000001",
    title="我把闹钟调快了十分钟，为什么还是迟到了十分钟？",
    question="我把闹钟调快了十分钟，为什么还是迟到了十分钟？",
    body="我把闹钟调快了十分钟，为什么还是迟到了十分钟？后来发现我也调快了自己。",
    answer="",
    meta={
        "tid": "9000000001",
        "author": "早起困难户",
        "replies": "182",
        "floor": "",
        "created": "",
        "forum": "",
        "list_index": "",
        "answer_from": "",
    },
    fetched_at="2023-05-01T00:00:00Z",
    origin_file="/crawl/tieba/titles.json",
    origin_offset=7,
    signals={},
    lineage=[],
)

FLOOR_POST = {
    "author": "年度评委",
    "content": "151、为了节约用电，我把电表倒着装了。",
    "l_num": 2,
    "ctime": "2018-12-24 00:02",
}


def adapt_all(obj, origin=ORIGIN):
    return list(forum.adapt(obj, origin))


def with_changes(base, **changes):
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def test_tieba_thread_title():
    assert adapt_all(TIEBA_TITLE) == [TIEBA_DOC]


@pytest.mark.parametrize(
    ("abs_text", "body"),
    [
        (None, ""),
        (" ", ""),
        ("我把闹钟调快了十分钟，为什么还是迟到了十分钟？", ""),  # repeats the title
        ("补充：是手机闹钟。", "补充：是手机闹钟。"),
    ],
)
def test_opening_post_kept_only_when_it_adds_something(abs_text, body):
    (doc,) = adapt_all(with_changes(TIEBA_TITLE, abs=abs_text))
    assert doc.body == body


def test_generic_thread_with_an_answer():
    post = {
        "tid": "t-88",
        "url": "https://bbs.example.com/t/88",
        "title": "为什么海水是咸的，而海带是淡的？",
        "content": "在海里泡那么久都不咸。",
        "author": "好奇宝宝",
        "reply_num": 12,
        "created": "2022-06-01 12:00",
        "forum": "弱智吧",
        "answer": " 海带表面的盐分冲洗后就淡了；它细胞里的盐浓度受自身调节。 ",
        "answer_from": "llm",
    }
    (doc,) = adapt_all(post)
    assert doc.id == doc_id("forum", "t-88")
    assert doc.url == "https://bbs.example.com/t/88"
    assert doc.body == "在海里泡那么久都不咸。"
    assert doc.answer == "海带表面的盐分冲洗后就淡了；它细胞里的盐浓度受自身调节。"
    assert doc.meta == {
        "tid": "t-88",
        "author": "好奇宝宝",
        "replies": "12",
        "floor": "",
        "created": "2022-06-01 12:00",
        "forum": "弱智吧",
        "list_index": "",
        "answer_from": "llm",
    }


def test_thread_without_id_or_url_hashes_its_content():
    (doc,) = adapt_all({"title": "鱼会口渴吗？", "body": "一直在水里。"})
    assert doc.id == content_id("forum", "鱼会口渴吗？", "一直在水里。")
    assert doc.url == ""


def test_floor_post():
    (doc,) = adapt_all(FLOOR_POST)
    assert doc == RawDoc(
        id=content_id(
            "forum",
            "floor",
            "年度评委",
            "2018-12-24 00:02",
            "151、为了节约用电，我把电表倒着装了。",
        ),
        source="forum",
        subset="ruozhiba",
        url="",
        title="",
        question="为了节约用电，我把电表倒着装了。",
        body="",
        answer="",
        meta={
            "tid": "",
            "author": "年度评委",
            "replies": "",
            "floor": "2",
            "created": "2018-12-24 00:02",
            "forum": "",
            "list_index": "151",
            "answer_from": "",
        },
        fetched_at="2023-05-01T00:00:00Z",
        origin_file="/crawl/tieba/titles.json",
        origin_offset=7,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("content", "question", "index"),
    [
        ("365.冰箱里的灯是不是一直亮着？", "冰箱里的灯是不是一直亮着？", "365"),
        ("123 我把c盘改名叫d盘了", "我把c盘改名叫d盘了", "123"),
        ("172.80块和1000日元哪个贵？", "80块和1000日元哪个贵？", "172"),
        ("2012年的日历还能用吗？", "2012年的日历还能用吗？", ""),
        ("为什么是151，因为三贴同分。", "为什么是151，因为三贴同分。", ""),
    ],
)
def test_floor_post_list_numbers(content, question, index):
    (doc,) = adapt_all(with_changes(FLOOR_POST, content=content))
    assert doc.question == question
    assert doc.meta["list_index"] == index


@pytest.mark.parametrize(
    "record",
    [
        with_changes(TIEBA_TITLE, title=""),
        with_changes(TIEBA_TITLE, title="  "),
        with_changes(TIEBA_TITLE, title="？？？！"),
        with_changes(TIEBA_TITLE, title="🤔🤔😂"),
        with_changes(TIEBA_TITLE, title="【】……"),
        with_changes(FLOOR_POST, content="151、！！！"),
        with_changes(FLOOR_POST, content="   "),
    ],
)
def test_rejects_titles_without_words(record):
    with pytest.raises(Reject) as info:
        adapt_all(record)
    assert info.value.reason == "empty_title"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"author": "某人", "n_reply": "3"}, "missing field 'title' .or 'content'"),
        (with_changes(TIEBA_TITLE, title=None), "missing field 'title'"),
        (with_changes(TIEBA_TITLE, title=["标题"]), "'title' must be a string"),
        (with_changes(TIEBA_TITLE, n_reply="很多"), "n_reply must be a count"),
        (with_changes(TIEBA_TITLE, abs={"text": "摘要"}), "'abs' must be a string"),
        (with_changes(FLOOR_POST, l_num=True), "l_num must be a count"),
        (with_changes(FLOOR_POST, content=None), "missing field 'content'"),
        ("帖子", "expected a JSON object"),
    ],
)
def test_malformed_posts_raise_value_error(record, message):
    with pytest.raises(ValueError, match=message):
        adapt_all(record)


@pytest.fixture(scope="module")
def template():
    return TemplateRegistry.from_sources(load_sources()).get("forum_question.v1")


def test_forum_template_with_an_answer(template):
    doc = TIEBA_DOC._replace(answer="闹钟调快不改变出门时间，你只是提前十分钟知道自己会迟到。")
    rendered = template.render(doc)
    assert rendered.template_id == "forum_question.v1#1"
    assert rendered.instruction == "我把闹钟调快了十分钟，为什么还是迟到了十分钟？"
    assert rendered.output == "闹钟调快不改变出门时间，你只是提前十分钟知道自己会迟到。"
    assert (rendered.task_major, rendered.task_minor, rendered.domain) == (
        ["问答"],
        ["逻辑问答", "隐喻理解"],
        ["通用"],
    )
    other = doc._replace(subset="forum")
    assert template.render(other).task_minor == ["论坛问答"]
    board = other._replace(meta={**other.meta, "forum": "弱智吧"})
    assert template.render(board).task_minor == ["逻辑问答", "隐喻理解"]


def test_forum_template_needs_an_answer(template):
    with pytest.raises(TemplateError, match="required field 'answer' is empty"):
        template.render(TIEBA_DOC)


@pytest.mark.corpora
def test_ruozhiba_files(corpora):
    import json

    folder = corpora / "ruozhiba-tieba"
    titles = json.loads((folder / "ruozhiba-title-good.json").read_text(encoding="utf-8"))
    docs = [doc for record in titles for doc in adapt_all(record)]
    assert len(docs) == len(titles) == 2597
    assert len({d.id for d in docs}) == 2597
    assert all(d.url.startswith("https://tieba.baidu.com/p/") for d in docs)
    assert all(d.meta["replies"].isdigit() for d in docs)
    posts = json.loads((folder / "ruozhiba-post-annual.json").read_text(encoding="utf-8"))
    floor = [doc for record in posts for doc in adapt_all(record)]
    assert len(floor) == len(posts) == 1361
    assert sum(1 for d in floor if d.meta["list_index"]) == 1359
