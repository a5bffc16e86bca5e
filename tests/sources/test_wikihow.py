"""Tests for the wikihow adapter (how-to articles in our crawler's JSON) and wikihow_howto.v1."""

import pytest

from beam_cqia import prompts
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, wikihow
from beam_cqia.text.ids import content_id, doc_id

ORIGIN = Origin("raw/wikihow-0001.jsonl", 512, "wikihow", "2024-03-01T08:00:00Z")
REGISTRY = prompts.TemplateRegistry.from_sources(prompts.packaged_sources())

ARTICLE = {
    "article_id": "2003751",
    "url": "https://zh.wikihow.com/制作酸奶",
    "title": "如何制作酸奶",
    "category": ["美食与休闲", "饮品"],
    "intro": "自制酸奶既便宜又健康。<b>只需要牛奶和菌种</b>。",
    "method_kind": "方法",
    "methods": [
        {
            "title": "用酸奶机制作",
            "steps": [
                {
                    "headline": "把牛奶加热到85°C。",
                    "text": "加热能杀死杂菌。",
                    "substeps": ["用<a href='/温度计'>温度计</a>测量。", "不要煮沸。", " "],
                },
                "把牛奶冷却到43°C。",
                {"headline": "", "text": ""},
            ],
        },
        {
            "title": "用电饭煲制作",
            "steps": [
                {"text": "<p>把菌种拌进牛奶。</p><ul><li>搅拌均匀</li><li>盖上盖子</li></ul>"}
            ],
        },
        {"title": "空方法", "steps": []},
    ],
    "things_needed": ["牛奶", "酸奶菌种"],
    "tips": ["第一次做可以用市售酸奶当菌种。", ""],
    "warnings": ["发酵时间过长会变酸。"],
    "views": "1.2万",
    "updated": "2024-01-05",
    "fetched_at": "2024-02-02T02:00:00Z",
}

BODY = """自制酸奶既便宜又健康。**只需要牛奶和菌种**。

## 方法1：用酸奶机制作

1. **把牛奶加热到85°C。** 加热能杀死杂菌。
   - 用温度计测量。
   - 不要煮沸。
2. 把牛奶冷却到43°C。

## 方法2：用电饭煲制作

1. 把菌种拌进牛奶。
   - 搅拌均匀
   - 盖上盖子

## 你需要准备

- 牛奶
- 酸奶菌种

## 小提示

- 第一次做可以用市售酸奶当菌种。

## 警告

- 发酵时间过长会变酸。"""


def adapt_one(obj: object) -> RawDoc:
    docs = list(wikihow.adapt(obj, ORIGIN))
    assert len(docs) == 1
    return docs[0]


def test_article_with_methods():
    assert adapt_one(ARTICLE) == RawDoc(
        id=doc_id("wikihow", "2003751"),
        source="wikihow",
        subset="wikihow",
        url="https://zh.wikihow.com/制作酸奶",
        title="如何制作酸奶",
        question="如何制作酸奶？",
        body=BODY,
        answer="",
        meta={
            "article_id": "2003751",
            "category": "美食与休闲/饮品",
            "category_top": "美食与休闲",
            "category_leaf": "饮品",
            "task": "制作酸奶",
            "methods": "2",
            "steps": "3",
            "tips": "1",
            "warnings": "1",
            "views": "12000",
            "updated": "2024-01-05",
        },
        fetched_at="2024-02-02T02:00:00Z",
        origin_file="raw/wikihow-0001.jsonl",
        origin_offset=512,
        signals={},
        lineage=[],
    )


def test_flat_steps_without_methods():
    obj = {
        "title": "怎样泡一杯绿茶？",
        "category": "美食与休闲/茶",
        "steps": ["烧水到80°C。", "放入茶叶。\n\n等待两分钟。"],
    }
    doc = adapt_one(obj)
    assert doc.id == content_id("wikihow", "怎样泡一杯绿茶？", "")
    assert doc.question == "怎样泡一杯绿茶？"
    assert doc.body == "1. 烧水到80°C。\n2. 放入茶叶。\n   等待两分钟。"
    assert doc.meta["task"] == "泡一杯绿茶"
    assert doc.meta["category_top"] == "美食与休闲"
    assert (doc.meta["views"], doc.meta["tips"], doc.meta["article_id"]) == ("", "0", "")
    assert doc.fetched_at == "2024-03-01T08:00:00Z"


def test_parts_and_a_single_titled_method():
    obj = {
        "url": "https://zh.wikihow.com/种茶",
        "title": "种茶",
        "method_kind": "部分",
        "methods": [{"title": "选地", "steps": ["选择酸性土壤。"]}],
    }
    doc = adapt_one(obj)
    assert doc.id == doc_id("wikihow", "https://zh.wikihow.com/种茶")
    assert doc.question == "种茶？"
    assert doc.body == "## 第1部分：选地\n\n1. 选择酸性土壤。"
    assert doc.meta["task"] == "种茶"
    several = adapt_one({**obj, "methods": [*obj["methods"], {"steps": ["浇水。"]}]})
    assert several.body.endswith("## 第2部分\n\n1. 浇水。")


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({**ARTICLE, "title": "  "}, "no_title"),
        ({**ARTICLE, "methods": []}, "no_steps"),
        ({**ARTICLE, "methods": [{"title": "空", "steps": [{"headline": " "}]}]}, "no_steps"),
        ({"title": "如何喝茶", "steps": []}, "no_steps"),
    ],
)
def test_rejections(obj, reason):
    with pytest.raises(Reject) as info:
        adapt_one(obj)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"steps": ["烧水。"]}, "missing field 'title'"),
        ({"title": "如何喝茶"}, "missing field 'methods'"),
        ({**ARTICLE, "methods": {"title": "x"}}, "field 'methods' must be a list"),
        ({**ARTICLE, "methods": ["烧水。"]}, r"methods\[0\] must be a JSON object"),
        ({**ARTICLE, "methods": [{"steps": "烧水。"}]}, r"methods\[0\]\.steps must be a list"),
        ({**ARTICLE, "methods": [{"steps": [3]}]}, r"methods\[0\]\.steps\[0\] must be a string"),
        (
            {**ARTICLE, "methods": [{"steps": [{"text": "烧水。", "substeps": "搅拌"}]}]},
            "field 'substeps' must be a list of strings",
        ),
        ({**ARTICLE, "tips": "多喝水"}, "field 'tips' must be a list of strings"),
        ({**ARTICLE, "category": 7}, "field 'category' must be a list of strings"),
        ({**ARTICLE, "views": "很多"}, "views must be a count"),
    ],
)
def test_malformed_records(obj, message):
    with pytest.raises(ValueError, match=message):
        adapt_one(obj)


@pytest.mark.parametrize(
    ("variant", "instruction"),
    [
        (1, "如何制作酸奶？"),
        (2, "如何制作酸奶？请分步骤详细说明。"),
        (3, "我想制作酸奶，应该怎么做？请给出具体步骤和注意事项。"),
        (4, "请写一份关于“制作酸奶”的操作指南，按步骤说明。"),
    ],
)
def test_wikihow_template(variant, instruction):
    template = REGISTRY.get("wikihow_howto.v1")
    found = next(f"doc-{i}" for i in range(1000) if template.variant_for(f"doc-{i}") == variant)
    doc = adapt_one(ARTICLE)._replace(id=found)
    assert template.render(doc) == prompts.Rendered(
        template_id=f"wikihow_howto.v1#{variant}",
        instruction=instruction,
        input="",
        output=BODY,
        task_major=["问答"],
        task_minor=["百科问答"],
        domain=["百科", "美食与休闲"],
        metadata_keys=[],
        copyright="",
    )
