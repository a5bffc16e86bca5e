"""Tests for the poetry adapter (chinese-poetry layouts, poet bios) and poem_continue.v1."""

import pytest

from beam_cqia import prompts
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, poetry
from beam_cqia.text.ids import content_id, doc_id

ORIGIN = Origin("raw/poet.tang.0.json", 7, "poetry", "2024-03-01T08:00:00Z")
REGISTRY = prompts.TemplateRegistry.from_sources(prompts.packaged_sources())

SHI = {
    "author": "山中客",
    "paragraphs": [
        "春[山]雨後綠，溪水繞村流。(溪水 一作：清溪)",
        "明月照柴門，閒雲伴客愁。(閒 通：閑)",
    ],
    "title": "山居 其一",
    "id": "0b8a1c52-1111-4e7a-9b4b-000000000001",
    "tags": ["山水", "田园"],
}


def adapt_all(obj: object) -> list[RawDoc]:
    return list(poetry.adapt(obj, ORIGIN))


def adapt_one(obj: object) -> RawDoc:
    docs = adapt_all(obj)
    assert len(docs) == 1
    return docs[0]


def test_shi_with_editorial_markup():
    assert adapt_one(SHI) == RawDoc(
        id=doc_id("poetry", "0b8a1c52-1111-4e7a-9b4b-000000000001"),
        source="poetry",
        subset="poetry",
        url="",
        title="山居 其一",
        question="春山雨後綠",
        body="春山雨後綠，溪水繞村流。\n明月照柴門，閒雲伴客愁。",
        answer="溪水繞村流。\n明月照柴門，閒雲伴客愁。",
        meta={
            "kind": "shi",
            "author": "山中客",
            "title": "山居 其一",
            "tags": "山水/田园",
            "lines": "2",
            "emended": "1",
        },
        fetched_at="2024-03-01T08:00:00Z",
        origin_file="raw/poet.tang.0.json",
        origin_offset=7,
        signals={},
        lineage=[],
    )


def test_variant_note_over_two_lines_is_removed():
    obj = {
        **SHI,
        "paragraphs": [
            "春山雨後綠，溪水繞村流。(溪水",
            "一作：清溪\n）",
            "明月照柴門，閒雲伴客愁。",
        ],
    }
    assert adapt_one(obj).body == "春山雨後綠，溪水繞村流。\n明月照柴門，閒雲伴客愁。"


def test_ci_uses_the_tune_name_as_title():
    obj = {
        "author": "江上人",
        "paragraphs": ["细雨湿衣看不见。", "闲花落地听无声。"],
        "rhythmic": "浣溪沙",
        "tags": ["婉约"],
    }
    doc = adapt_one(obj)
    body = "细雨湿衣看不见。\n闲花落地听无声。"
    assert doc.id == content_id("poetry", "ci", "浣溪沙", "江上人", body)
    assert (doc.title, doc.question, doc.body, doc.answer) == (
        "浣溪沙",
        "细雨湿衣看不见",
        body,
        "闲花落地听无声。",
    )
    assert doc.meta == {
        "kind": "ci",
        "author": "江上人",
        "title": "浣溪沙",
        "tags": "婉约",
        "lines": "2",
        "emended": "0",
        "rhythmic": "浣溪沙",
    }


def test_shijing():
    obj = {
        "title": "采薇",
        "chapter": "小雅",
        "section": "鹿鸣之什",
        "content": ["采薇采薇，薇亦作止。", "曰归曰归，岁亦莫止。"],
    }
    doc = adapt_one(obj)
    assert (doc.title, doc.question) == ("采薇", "采薇采薇")
    assert doc.answer == "薇亦作止。\n曰归曰归，岁亦莫止。"
    assert doc.meta == {
        "kind": "shijing",
        "author": "",
        "title": "采薇",
        "tags": "",
        "lines": "2",
        "emended": "0",
        "collection": "诗经",
        "chapter": "小雅",
        "section": "鹿鸣之什",
    }


def test_classic_prose_continues_by_paragraph():
    obj = {"chapter": "为学篇", "paragraphs": ["师曰：“学而不思则罔。”", "又曰：“温故而知新。”"]}
    doc = adapt_one(obj)
    assert (doc.title, doc.question, doc.answer) == (
        "为学篇",
        "师曰：“学而不思则罔。”",
        "又曰：“温故而知新。”",
    )
    assert doc.meta["kind"] == "classic"
    assert doc.meta["chapter"] == "为学篇"


def test_edition_fields_and_string_tags():
    obj = {
        "title": "山行",
        "author": "某甲",
        "biography": "某甲，字乙，山中人。",
        "paragraphs": ["遠上寒山石徑斜，白雲深處有人家。"],
        "notes": [""],
        "volume": "卷一",
        "no#": 3,
        "tags": "新版",
    }
    meta = adapt_one(obj).meta
    assert meta["volume"] == "卷一"
    assert meta["no"] == "3"
    assert meta["biography"] == "某甲，字乙，山中人。"
    assert meta["tags"] == "新版"
    assert "notes" not in meta
    noted = adapt_one({**obj, "notes": ["一作寒山", " "]}).meta
    assert noted["notes"] == "一作寒山"


NESTED = {
    "title": "詩選",
    "content": [
        {
            "type": "五言絕句",
            "content": [
                {
                    "chapter": "江雪",
                    "subchapter": None,
                    "author": "甲",
                    "paragraphs": ["千山鳥飛絕，萬徑人蹤滅。"],
                },
                {
                    "chapter": "春曉",
                    "subchapter": "春曉 / 春眠",
                    "author": "乙",
                    "paragraphs": ["春眠不覺曉，處處聞啼鳥。"],
                },
                {
                    "chapter": "殘篇",
                    "subchapter": None,
                    "author": "丙",
                    "paragraphs": ["□□不覺曉。"],
                },
            ],
        },
        {"type": "七言絕句", "content": []},
    ],
}


def test_nested_collection_gives_one_doc_per_poem_and_counts_skipped():
    docs = adapt_all(NESTED)
    assert [d.title for d in docs] == ["江雪", "春曉（春曉 / 春眠）"]
    assert docs[0].meta == {
        "kind": "shi",
        "author": "甲",
        "title": "江雪",
        "tags": "",
        "lines": "1",
        "emended": "0",
        "collection": "詩選",
        "type": "五言絕句",
        "collection_skipped": "1",
    }
    assert len({d.id for d in docs}) == 2


def test_nested_collection_with_no_poem_left_is_rejected():
    group = {"type": "五言絕句", "content": [NESTED["content"][0]["content"][2]]}
    with pytest.raises(Reject) as info:
        adapt_all({"title": "詩選", "content": [group]})
    assert info.value.reason == "missing_characters"
    with pytest.raises(Reject) as info:
        adapt_all({"title": "詩選", "content": []})
    assert info.value.reason == "empty_poem"


def test_poet_biography():
    doc = adapt_one({"name": "山中客", "desc": "山中客，隱居不仕，工詩。", "id": "p-1"})
    assert doc == RawDoc(
        id=doc_id("poetry", "p-1"),
        source="poetry",
        subset="poetry",
        url="",
        title="山中客",
        question="",
        body="山中客，隱居不仕，工詩。",
        answer="",
        meta={
            "kind": "bio",
            "author": "山中客",
            "title": "山中客",
            "category": "诗人",
            "category_top": "诗人",
            "category_leaf": "诗人",
        },
        fetched_at="2024-03-01T08:00:00Z",
        origin_file="raw/poet.tang.0.json",
        origin_offset=7,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({**SHI, "paragraphs": ["春山□後綠，溪水繞村流。"]}, "missing_characters"),
        ({**SHI, "paragraphs": ["春山{雨/水}綠，溪水繞村流。"]}, "missing_characters"),
        ({**SHI, "title": "□題"}, "missing_characters"),
        ({**SHI, "title": "句  其二"}, "fragment"),
        ({**SHI, "title": "句"}, "fragment"),
        ({**SHI, "paragraphs": ["春山雨後綠。"]}, "fragment"),
        ({**SHI, "paragraphs": ["（以上某某整理）。"]}, "empty_poem"),
        ({**SHI, "paragraphs": []}, "empty_poem"),
        ({"name": "無名氏", "desc": "", "id": "p-2"}, "empty_bio"),
    ],
)
def test_rejections(obj, reason):
    with pytest.raises(Reject) as info:
        adapt_all(obj)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"author": "甲", "lines": ["春"]}, "unknown poetry record shape"),
        ({**SHI, "paragraphs": "春山雨後綠"}, "field 'paragraphs' must be a list of strings"),
        ({**SHI, "title": ["山居"]}, "field 'title' must be a string"),
        ({"rhythmic": "浣溪沙", "author": "甲"}, "missing field 'paragraphs'"),
        ({"title": "詩選", "content": ["江雪"]}, r"content\[0\] must be an object"),
        (
            {"title": "詩選", "content": [{"type": "絕句", "content": ["江雪"]}]},
            r"content\[0\]\.content\[0\] must be a JSON object",
        ),
        (
            {"title": "詩選", "content": [{"content": [{"author": "甲", "paragraphs": ["春"]}]}]},
            "missing field 'chapter'",
        ),
        ({**SHI, "notes": "無"}, "field 'notes' must be a list of strings"),
    ],
)
def test_malformed_records(obj, message):
    with pytest.raises(ValueError, match=message):
        adapt_all(obj)


def with_variant(template: prompts.Template, doc: RawDoc, variant: int) -> RawDoc:
    found = next(f"doc-{i}" for i in range(1000) if template.variant_for(f"doc-{i}") == variant)
    return doc._replace(id=found)


@pytest.mark.parametrize(
    ("obj", "instructions"),
    [
        (
            SHI,
            {
                1: "春山雨後綠\n模仿山中客，续写古诗：",
                2: "模仿山中客的风格，续写古诗：\n春山雨後綠",
                3: "春山雨後綠\n模仿山中客，续写一首古诗：",
                4: "以“春山雨後綠”开头，模仿山中客的风格，把这首古诗续写完整。",
            },
        ),
        (
            {
                "author": "江上人",
                "paragraphs": ["细雨湿衣看不见，闲花落地听无声。"],
                "rhythmic": "浣溪沙",
            },
            {
                1: "细雨湿衣看不见\n模仿江上人，续写诗词：",
                2: "模仿江上人的风格，续写诗词：\n细雨湿衣看不见",
                3: "细雨湿衣看不见\n模仿江上人，续写一首词：",
                4: "以“细雨湿衣看不见”开头，模仿江上人的风格，把这首词续写完整。",
            },
        ),
        (
            {
                "title": "采薇",
                "chapter": "小雅",
                "section": "鹿鸣之什",
                "content": ["采薇采薇，薇亦作止。"],
            },
            {
                1: "采薇采薇\n续写《诗经》中的这首诗：",
                2: "续写《诗经》中的这首诗：\n采薇采薇",
                3: "采薇采薇\n续写一首诗经体的诗：",
                4: "以“采薇采薇”开头，把这首诗续写完整。",
            },
        ),
        (
            {"chapter": "为学篇", "paragraphs": ["师曰：“学而不思则罔。”", "又曰：“温故而知新。”"]},
            {
                1: "师曰：“学而不思则罔。”\n续写古文：",
                2: "续写古文：\n师曰：“学而不思则罔。”",
                3: "师曰：“学而不思则罔。”\n续写一段古文：",
                4: "以“师曰：“学而不思则罔。””开头，把这段古文续写完整。",
            },
        ),
    ],
)
@pytest.mark.parametrize("variant", [1, 2, 3, 4])
def test_poem_continue_template(obj, instructions, variant):
    template = REGISTRY.get("poem_continue.v1")
    doc = with_variant(template, adapt_one(obj), variant)
    rendered = template.render(doc)
    assert rendered == prompts.Rendered(
        template_id=f"poem_continue.v1#{variant}",
        instruction=instructions[variant],
        input="",
        output=doc.answer,
        task_major=["文本生成"],
        task_minor=["古诗续写"],
        domain=["中国传统文化", "古诗词"],
        metadata_keys=[],
        copyright="",
    )


def test_baike_template_renders_poet_bios():
    doc = adapt_one({"name": "山中客", "desc": "山中客，隱居不仕，工詩。", "id": "p-1"})
    rendered = REGISTRY.get("baike_article.v1").render(doc)
    assert "山中客" in rendered.instruction
    assert rendered.output == "山中客，隱居不仕，工詩。"
    assert rendered.domain == ["百科", "诗人"]
