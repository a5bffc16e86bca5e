"""Tests for the text adapter (plain text files and lines)."""

import pytest

from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, text
from beam_cqia.text.ids import content_id

ORIGIN = Origin("raw/notes.txt", 40, "notes", "2024-03-01T08:00:00Z")


def test_file_or_line_becomes_body():
    obj = {
        "text": "  茶叶是茶树的叶子。\n\n可以泡水饮用。 \n",
        "path": "raw/notes.txt",
        "encoding": "utf-8-sig",
    }
    assert list(text.adapt(obj, ORIGIN)) == [
        RawDoc(
            id=content_id("text", "茶叶是茶树的叶子。\n\n可以泡水饮用。"),
            source="text",
            subset="notes",
            url="",
            title="",
            question="",
            body="茶叶是茶树的叶子。\n\n可以泡水饮用。",
            answer="",
            meta={"encoding": "utf-8-sig", "file": "notes.txt"},
            fetched_at="2024-03-01T08:00:00Z",
            origin_file="raw/notes.txt",
            origin_offset=40,
            signals={},
            lineage=[],
        )
    ]


def test_same_text_same_id_and_optional_fields():
    a = next(text.adapt({"text": "一行文字\n"}, ORIGIN))
    b = next(text.adapt({"text": "一行文字", "path": "C:\\data\\b.txt", "url": "u"}, ORIGIN))
    assert a.id == b.id
    assert a.meta == {"encoding": "", "file": ""}
    assert (b.meta["file"], b.url) == ("b.txt", "u")


def test_whitespace_only_is_rejected():
    with pytest.raises(Reject) as info:
        list(text.adapt({"text": " \u3000\n\t", "path": "a.txt"}, ORIGIN))
    assert info.value.reason == "empty_text"


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"path": "a.txt"}, "missing field 'text'"),
        ({"text": {"body": "x"}}, "field 'text' must be a string"),
        ("文字", "expected a JSON object"),
    ],
)
def test_malformed_records(obj, message):
    with pytest.raises(ValueError, match=message):
        list(text.adapt(obj, ORIGIN))
