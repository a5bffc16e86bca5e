"""Tests for the xhs adapter and the xhs_post template, on notes written for the test."""

import copy

import pytest

from beam_cqia.prompts import TemplateRegistry, load_sources
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, xhs
from beam_cqia.text.ids import doc_id

ORIGIN = Origin("/crawl/xhs/notes.jsonl", 1024, "xhs", "2024-06-01T00:00:00Z")

DESC = (
    "姐妹们！这款面霜我已经空瓶三次了[偷笑R][偷笑R]\n"
    "✨质地：像奶油一样化开，一点都不油\n"
    "💧保湿：早上起来脸还是软软的\n"
    "👉适合干皮、混干皮\n"
    "#护肤[话题]# #好物分享[话题]# #空瓶记[话题]#"
)

FLAT_NOTE = {
    "note_id": "64f1c2a3000000001f03a1b2",
    "type": "normal",
    "title": " 空瓶三次的面霜，干皮闭眼入🔥 ",
    "desc": DESC + "\n",
    "video_url": "",
    "time": 1693561200000,
    "last_update_time": 1693564800000,
    "user_id": "5f00aa0000000000010000ab",
    "nickname": "小鹿爱护肤",
    "avatar": "https://sns-avatar.example/a.jpg",
    "liked_count": "1.2万",
    "collected_count": "3k",
    "comment_count": "88",
    "share_count": "10万+",
    "ip_location": "上海",
    "image_list": "https://sns-img.example/1.jpg,https://sns-img.example/2.jpg",
    "tag_list": "护肤,好物分享，空瓶记",
    "last_modify_ts": 1717200000000,
    "note_url": "https://www.xiaohongshu.com/explore/64f1c2a3000000001f03a1b2",
    "source_keyword": "面霜推荐",
}

FLAT_DOC = RawDoc(
    id=doc_id("xhs", "64f1c2a3000000001f03a1b2"),
    source="xhs",
    subset="xhs",
    url="https://www.xiaohongshu.com/explore/64f1c2a3000000001f03a1b2",
    title="空瓶三次的面霜，干皮闭眼入🔥",
    question="",
    body="",
    answer=DESC,  # emoji, [偷笑R] codes, #tags and line breaks all kept
    meta={
        "note_id": "64f1c2a3000000001f03a1b2",
        "type": "normal",
        "likes": "12000",
        "collects": "3000",
        "comments": "88",
        "shares": "100000",
        "author": "小鹿爱护肤",
        "user_id": "5f00aa0000000000010000ab",
        "time": "2023-09-01T09:40:00Z",
        "ip_location": "上海",
        "tags": "护肤/好物分享/空瓶记",
        "keyword": "面霜推荐",
    },
    fetched_at="2024-06-01T00:00:00Z",
    origin_file="/crawl/xhs/notes.jsonl",
    origin_offset=1024,
    signals={},
    lineage=[],
)

NOTE_CARD = {
    "id": "6500aa000000000012345678",
    "model_type": "note",
    "note_card": {
        "note_id": "6500aa000000000012345678",
        "type": "video",
        "title": "5分钟学会编发[哇R]",
        "desc": "手残党也能学会的三股辫😍 #编发教程[话题]#",
        "time": 1700000000,
        "ip_location": "广东",
        "user": {"user_id": "u-77", "nickname": "发型师阿May"},
        "interact_info": {
            "liked_count": "2345",
            "collected_count": "1,024",
            "comment_count": "0",
            "share_count": 7,
        },
        "tag_list": [{"id": "1", "name": "编发教程", "type": "topic"}, {"name": "#发型#"}],
    },
}


def adapt_all(obj, origin=ORIGIN):
    return list(xhs.adapt(obj, origin))


def with_changes(base, **changes):
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


def test_flat_note():
    assert adapt_all(FLAT_NOTE) == [FLAT_DOC]


def test_note_card():
    (doc,) = adapt_all(NOTE_CARD)
    assert doc.id == doc_id("xhs", "6500aa000000000012345678")
    assert doc.url == "https://www.xiaohongshu.com/explore/6500aa000000000012345678"
    assert doc.title == "5分钟学会编发[哇R]"
    assert doc.answer == "手残党也能学会的三股辫😍 #编发教程[话题]#"
    assert doc.fetched_at == ORIGIN.fetched_at
    assert doc.meta == {
        "note_id": "6500aa000000000012345678",
        "type": "video",
        "likes": "2345",
        "collects": "1024",
        "comments": "0",
        "shares": "7",
        "author": "发型师阿May",
        "user_id": "u-77",
        "time": "2023-11-14T22:13:20Z",
        "ip_location": "广东",
        "tags": "编发教程/发型",
        "keyword": "",
    }


def test_minimal_note_and_id_from_the_feed_item():
    note = {"id": "abc", "note_card": {"display_title": "标题", "desc": "正文"}}
    (doc,) = adapt_all(note)
    assert doc.id == doc_id("xhs", "abc")
    assert (doc.title, doc.answer) == ("标题", "正文")
    assert doc.meta["likes"] == "" and doc.meta["type"] == "" and doc.meta["tags"] == ""


def test_time_strings():
    (doc,) = adapt_all(with_changes(FLAT_NOTE, time="1693561200000"))
    assert doc.meta["time"] == "2023-09-01T09:40:00Z"
    (doc,) = adapt_all(with_changes(FLAT_NOTE, time="2023-09-01 17:40"))
    assert doc.meta["time"] == "2023-09-01 17:40"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"title": ""}, "no_title"),
        ({"title": "  "}, "no_title"),
        ({"desc": "\n \n"}, "empty_post"),
        ({"desc": None}, "empty_post"),
    ],
)
def test_rejects(changes, reason):
    with pytest.raises(Reject) as info:
        adapt_all(with_changes(FLAT_NOTE, **changes))
    assert info.value.reason == reason
    assert "64f1c2a3000000001f03a1b2" in info.value.detail


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (with_changes(FLAT_NOTE, note_id=...), "missing field 'note_id'"),
        (with_changes(FLAT_NOTE, title=...), "missing field 'title'"),
        (with_changes(FLAT_NOTE, desc=...), "missing field 'desc'"),
        (with_changes(FLAT_NOTE, type="live"), "'type' must be one of"),
        (with_changes(FLAT_NOTE, liked_count="很多"), "liked_count must be a count"),
        (with_changes(FLAT_NOTE, tag_list=3), "'tag_list' must be a string or a list"),
        (with_changes(FLAT_NOTE, tag_list=[1]), "'tag_list' must hold tag names"),
        (with_changes(FLAT_NOTE, time=[1]), "a time must be an epoch number"),
        (with_changes(FLAT_NOTE, title={"text": "标题"}), "'title' must be a string"),
        (with_changes(FLAT_NOTE, user="小鹿"), "'user' must be a JSON object"),
        (with_changes(FLAT_NOTE, interact_info=[1]), "'interact_info' must be a JSON object"),
        ({"id": "x", "note_card": "笔记"}, "'note_card' must be a JSON object"),
        (["不是对象"], "expected a JSON object"),
    ],
)
def test_malformed_notes_raise_value_error(record, message):
    with pytest.raises(ValueError, match=message):
        adapt_all(record)


def test_xhs_post_template():
    template = TemplateRegistry.from_sources(load_sources()).get("xhs_post.v1")
    assert len(template.variants) == 3
    seen = {}
    for n in range(100):
        doc = FLAT_DOC._replace(id=f"note-{n}")
        rendered = template.render(doc)
        seen[rendered.template_id] = rendered
        assert rendered.output == DESC
        assert (rendered.task_major, rendered.task_minor, rendered.domain) == (
            ["文本生成"],
            ["小红书风格文本"],
            ["社交媒体"],
        )
        assert rendered.metadata_keys == []
    assert {k: v.instruction for k, v in seen.items()} == {
        "xhs_post.v1#1": "以“空瓶三次的面霜，干皮闭眼入🔥”为标题，写一篇小红书笔记。",
        "xhs_post.v1#2": "假设你是小红书上的分享博主，请围绕“空瓶三次的面霜，干皮闭眼入🔥”"
        "写一篇带表情和话题标签的笔记。",
        "xhs_post.v1#3": "帮我写一条小红书风格的分享，题目定为“空瓶三次的面霜，干皮闭眼入🔥”。",
    }
