"""Tests for the wiki adapter (Markdown and plain-text article files) and its template."""

from pathlib import Path

import pytest

from beam_cqia import prompts
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, wiki
from beam_cqia.text.ids import content_id

ORIGIN = Origin("gs://bucket/wiki/words_md/4242.md", 0, "wiki", "2024-03-01T08:00:00Z")
CORPORA = Path(__file__).resolve().parents[2].parent / "shared" / "corpora"

MARKDOWN = """# 茶叶



茶叶是茶树的叶子经过加工制成的饮品原料。

 中国是茶的故乡。



## 1 历史

相传神农尝百草时发现了茶。



### 1.1 唐代

陆羽著有《茶经》。



### 1.2 宋代



## 2 种类

* 绿茶
* 红茶

:*乌龙茶



## 3 参见

* 咖啡



### 3.1 相关饮品

* 可可



## 4 空章节

分类：饮品｜农产品
"""

PLAIN = """茶叶

茶叶是茶树的叶子经过加工制成的饮品原料。
中国是茶的故乡。

1 历史
相传神农尝百草时发现了茶。

1.1 唐代
陆羽著有《茶经》。

1949 年以后产量大增

1.2 宋代

2 种类
* 绿茶
* 红茶
:*乌龙茶

3 参见
* 咖啡

3.1 相关饮品
* 可可

4 空章节

分类：饮品｜农产品
"""

BODY = """茶叶是茶树的叶子经过加工制成的饮品原料。

中国是茶的故乡。

## 历史

相传神农尝百草时发现了茶。

### 唐代

陆羽著有《茶经》。

## 种类

* 绿茶
* 红茶
  * 乌龙茶"""

META = {
    "title": "茶叶",
    "page_id": "4242",
    "entry_id": "4242",
    "category": "饮品/农产品",
    "category_top": "饮品",
    "category_leaf": "农产品",
    "layout": "markdown",
    "sections": "3",
}


def adapt_one(text: str, path: str = "words/4242.md", **extra: str) -> RawDoc:
    docs = list(wiki.adapt({"text": text, "path": path, "encoding": "utf-8", **extra}, ORIGIN))
    assert len(docs) == 1
    return docs[0]


def test_markdown_article():
    assert adapt_one(MARKDOWN) == RawDoc(
        id=content_id("wiki", MARKDOWN),
        source="wiki",
        subset="wiki",
        url="",
        title="茶叶",
        question="",
        body=BODY,
        answer="",
        meta=META,
        fetched_at="2024-03-01T08:00:00Z",
        origin_file=ORIGIN.file,
        origin_offset=0,
        signals={},
        lineage=[],
    )


def test_plain_text_article_gives_the_same_body():
    doc = adapt_one(PLAIN, "words/4242.txt")
    # "1949 年以后产量大增" looks like a heading but 1949 cannot follow section 1.1.
    assert doc.body == BODY.replace(
        "陆羽著有《茶经》。", "陆羽著有《茶经》。\n\n1949 年以后产量大增"
    )
    assert doc.title == "茶叶"
    assert doc.meta == {**META, "layout": "text"}
    assert doc.id == content_id("wiki", PLAIN)


@pytest.mark.parametrize(
    ("text", "path", "expected_title", "expected_body", "page_id"),
    [
        # No title line (the first line is a sentence): the file name is the title.
        (
            "乌龙茶属于半发酵茶，兼有绿茶和红茶的特点。\n",
            "raw/乌龙茶.txt",
            "乌龙茶",
            "乌龙茶属于半发酵茶，兼有绿茶和红茶的特点。",
            "",
        ),
        # A title line directly followed by text (no blank line), CRLF line ends.
        ("白茶\r\n白茶是轻微发酵的茶。\r\n", "raw/77.txt", "白茶", "白茶是轻微发酵的茶。", "77"),
        # Markdown without "# title": headings still make it Markdown; the file name is the title.
        (
            "普洱茶产于云南。\n\n## 1 产地\n\n云南西双版纳。\n",
            "raw/普洱茶.md",
            "普洱茶",
            "普洱茶产于云南。\n\n## 产地\n\n云南西双版纳。",
            "",
        ),
        # A heading without a name keeps its text but loses the heading line.
        (
            "# 红茶\n\n红茶是全发酵茶。\n\n## 1 \n\n祁门红茶很有名。\n",
            "raw/5.md",
            "红茶",
            "红茶是全发酵茶。\n\n祁门红茶很有名。",
            "5",
        ),
        # A section whose only text is in a subsection stays.
        (
            "# 绿茶\n\n绿茶不发酵。\n\n## 1 名品\n\n### 1.1 龙井\n\n产于杭州。\n",
            "raw/9.md",
            "绿茶",
            "绿茶不发酵。\n\n## 名品\n\n### 龙井\n\n产于杭州。",
            "9",
        ),
    ],
)
def test_titles_and_layout_variants(text, path, expected_title, expected_body, page_id):
    doc = adapt_one(text, path)
    assert doc.title == expected_title
    assert doc.body == expected_body
    assert doc.meta["page_id"] == page_id
    assert doc.meta["category"] == ""


def test_url_and_date_are_kept_when_given():
    doc = adapt_one(
        "# 黑茶\n\n黑茶是后发酵茶。\n", url="https://wiki.example.org/黑茶", date="2024"
    )
    assert doc.url == "https://wiki.example.org/黑茶"
    assert doc.fetched_at == "2024"


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ("# 水仙\n\n水仙可以指：\n\n* 水仙属植物\n* 水仙 (神话)\n", "1.md", "disambiguation"),
        ("# 水仙 (消歧义)\n\n水仙是一个词。\n\n* 植物\n", "1.md", "disambiguation"),
        ("# 中国名茶列表\n\n本表收录名茶。\n\n## 1 绿茶\n\n* 龙井\n", "1.md", "list_page"),
        ("# 茶文化大事年表\n\n按时间排列。\n", "1.md", "list_page"),
        ("# 2024年3月\n\n2024年3月的新闻事件。\n", "1.md", "list_page"),
        ("# 名茶\n\n* 西湖龙井\n* 洞庭碧螺春\n* 黄山毛峰\n", "1.md", "list_page"),
        (
            "# 茶叶\n\n\n\n## 1 参见\n\n* 咖啡\n\n## 2 外部链接\n\n* 茶叶网\n",
            "1.md",
            "empty_article",
        ),
        ("茶叶是一种饮品原料，历史悠久。\n", "raw/123.txt", "no_title"),
    ],
)
def test_rejections(text, path, reason):
    with pytest.raises(Reject) as info:
        adapt_one(text, path)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"path": "a.md"}, "missing field 'text'"),
        ({"text": ["# 茶"], "path": "a.md"}, "field 'text' must be a string"),
        (["# 茶"], "expected a JSON object"),
    ],
)
def test_malformed_records(obj, message):
    with pytest.raises(ValueError, match=message):
        list(wiki.adapt(obj, ORIGIN))


def test_baike_template_renders_wiki_articles():
    template = prompts.TemplateRegistry.from_sources(prompts.packaged_sources()).get(
        "baike_article.v1"
    )
    doc = adapt_one(MARKDOWN)
    rendered = template.render(doc)
    assert "茶叶" in rendered.instruction
    assert rendered.output == BODY
    assert (rendered.task_major, rendered.task_minor) == (["问答"], ["百科问答"])
    assert rendered.domain == ["百科", "饮品"]
    uncategorised = template.render(adapt_one("# 白茶\n\n白茶是轻微发酵的茶。\n"))
    assert uncategorised.domain == ["百科"]


@pytest.mark.corpora
def test_zhwiki_sample_markdown_and_text_give_the_same_articles():
    root = CORPORA / "zhwiki-sample"
    if not root.is_dir():
        pytest.skip(f"real corpora not found at {root}; this test needs ../shared/corpora")
    compared = 0
    for md in sorted((root / "words_md").glob("*.md")):
        txt = root / "words_txt" / f"{md.stem}.txt"
        outcomes = []
        for path in (md, txt):
            try:
                outcomes.append(adapt_one(path.read_text(encoding="utf-8"), path.name))
            except Reject as verdict:
                outcomes.append(verdict.reason)
        if isinstance(outcomes[0], RawDoc):
            assert isinstance(outcomes[1], RawDoc), md.name
            assert (outcomes[0].title, outcomes[0].body) == (outcomes[1].title, outcomes[1].body)
            compared += 1
        else:
            assert outcomes[0] == outcomes[1], md.name
    assert compared == 88
