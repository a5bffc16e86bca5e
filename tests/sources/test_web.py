"""Tests for the web adapter (HTML pages, WARC responses, CCNet documents) and web_article.v1."""

import pytest

from beam_cqia import prompts
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, web
from beam_cqia.text.html import extract_main
from beam_cqia.text.ids import content_id, doc_id

ORIGIN = Origin("raw/crawl-00001.warc.gz", 1024, "news", "2024-03-01T08:00:00Z")
REGISTRY = prompts.TemplateRegistry.from_sources(prompts.packaged_sources())

PARAGRAPHS = [
    "本报讯（记者 李明）3月12日，城东区第一届植树节活动在滨河公园举行，来自社区的三百多名居民"
    "和志愿者一起种下了两千多棵银杏和香樟。",
    "区园林局负责人介绍，今年全区计划新增绿地四十公顷，并将在六月底前完成十二个口袋公园的建设，"
    "让居民出门五百米就能见到绿色。",
    "参加活动的市民王女士说：“带孩子来种一棵树，比在家看手机有意义多了。”",
]
ARTICLE = (
    "<!doctype html><html><head><meta charset='utf-8'><title>城东区举办植树节活动_新闻频道</title>"
    "</head><body><nav><a href='/'>首页</a> | <a href='/news'>新闻</a></nav><article>"
    "<h1>城东区举办植树节活动</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article><footer>版权所有 © 城东新闻网</footer></body></html>"
)
NAV_ONLY = (
    "<html><head><title>城东新闻网</title></head><body><ul><li><a href='/a'>首页</a></li>"
    "<li><a href='/b'>本地新闻</a></li><li><a href='/c'>联系我们</a></li></ul></body></html>"
)
CCNET = {
    "url": "https://news.example.cn/2022/0514/123.html",
    "date_download": "2022-05-19T09:45:36Z",
    "digest": "sha1:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
    "length": 120,
    "nlines": 2,
    "source_domain": "news.example.cn",
    "title": " 城东区举办植树节活动 ",
    "raw_content": "城东区举办植树节活动\n三百多名居民种下两千多棵树。\u0005\n",
    "cc_segment": "crawl-data/CC-MAIN-2022-21/segments/1/wet/x.warc.wet.gz",
    "original_nlines": 30,
    "original_length": 900,
    "line_ids": [3, 7],
    "language": "zh",
    "language_score": 0.97,
    "perplexity": 1706.7,
    "bucket": "middle",
}


def adapt_one(obj: object) -> RawDoc:
    docs = list(web.adapt(obj, ORIGIN))
    assert len(docs) == 1
    return docs[0]


def test_html_file():
    obj = {"html": ARTICLE, "url": "", "path": "pages/1.html", "date": "", "encoding": "utf-8"}
    extracted = extract_main(ARTICLE)
    assert adapt_one(obj) == RawDoc(
        id=content_id("web", "", ARTICLE),
        source="web",
        subset="news",
        url="",
        title=extracted.title,
        question="",
        body=extracted.text,
        answer="",
        meta={"domain": "", "encoding": "utf-8", "extraction": extracted.method, "status": ""},
        fetched_at="2024-03-01T08:00:00Z",
        origin_file="raw/crawl-00001.warc.gz",
        origin_offset=1024,
        signals={},
        lineage=[],
    )
    assert extracted.title == "城东区举办植树节活动"
    assert all(p in extracted.text for p in PARAGRAPHS)
    assert "版权所有" not in extracted.text


def test_warc_response():
    obj = {
        "html": ARTICLE,
        "url": "https://news.example.cn/a/1.html",
        "path": "c.warc.gz",
        "date": "2024-03-02T10:00:00Z",
        "status": 200,
        "encoding": "gb18030",
    }
    doc = adapt_one(obj)
    assert doc.id == content_id("web", "https://news.example.cn/a/1.html", ARTICLE)
    assert doc.url == "https://news.example.cn/a/1.html"
    assert doc.fetched_at == "2024-03-02T10:00:00Z"
    assert doc.meta["domain"] == "news.example.cn"
    assert doc.meta["status"] == "200"
    assert doc.meta["encoding"] == "gb18030"


def test_warc_plain_text_response():
    obj = {
        "text": "  城东区举办植树节活动。\n",
        "url": "https://news.example.cn/a.txt",
        "path": "c.warc.gz",
        "date": "2024-03-02T10:00:00Z",
        "status": "200",
        "encoding": "utf-8",
    }
    doc = adapt_one(obj)
    assert (doc.title, doc.body, doc.url) == ("", "城东区举办植树节活动。", obj["url"])
    assert doc.id == content_id("web", obj["url"], obj["text"])
    assert doc.meta == {"domain": "news.example.cn", "encoding": "utf-8", "status": "200"}


def test_ccnet_document():
    assert adapt_one(CCNET) == RawDoc(
        id=doc_id("web", "sha1:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        source="web",
        subset="news",
        url="https://news.example.cn/2022/0514/123.html",
        title="城东区举办植树节活动",
        question="",
        body="城东区举办植树节活动\n三百多名居民种下两千多棵树。\u0005",
        answer="",
        meta={
            "domain": "news.example.cn",
            "digest": "sha1:ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
            "language": "zh",
            "language_score": "0.97",
            "perplexity": "1706.7",
            "bucket": "middle",
            "cc_segment": "crawl-data/CC-MAIN-2022-21/segments/1/wet/x.warc.wet.gz",
            "nlines": "2",
            "length": "120",
            "original_length": "900",
        },
        fetched_at="2022-05-19T09:45:36Z",
        origin_file="raw/crawl-00001.warc.gz",
        origin_offset=1024,
        signals={},
        lineage=[],
    )


def test_ccnet_without_digest_uses_a_content_id():
    obj = {"url": "https://x.example.cn/1", "raw_content": "正文。"}
    doc = adapt_one(obj)
    assert doc.id == content_id("web", "https://x.example.cn/1", "正文。")
    assert doc.meta["domain"] == "x.example.cn"
    assert doc.fetched_at == "2024-03-01T08:00:00Z"


def test_text_document_with_info():
    obj = {
        "text": "潜艇伏击区是指利用潜艇隐蔽待机的海域。",
        "info": {"url": "http://a.example/1", "title": "潜艇伏击区", "source_domain": "a.example"},
    }
    doc = adapt_one(obj)
    assert (doc.title, doc.url, doc.body) == ("潜艇伏击区", "http://a.example/1", obj["text"])
    assert doc.meta == {"domain": "a.example", "encoding": "", "status": ""}


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ({"html": ARTICLE, "url": "https://a.example/x", "status": 404}, "http_status"),
        ({"html": ARTICLE, "url": "https://a.example/x", "status": "301"}, "http_status"),
        ({"text": "正文", "url": "https://a.example/x", "status": 500}, "http_status"),
        ({"html": NAV_ONLY, "url": "", "path": "list.html"}, "no_main_content"),
        ({"html": "", "url": "", "path": "empty.html"}, "no_main_content"),
        ({"html": "只是一句话，不是网页。", "url": ""}, "no_main_content"),
        ({"text": " \n ", "url": "https://a.example/x"}, "empty_text"),
        ({**CCNET, "raw_content": "\n"}, "empty_text"),
    ],
)
def test_rejections(obj, reason):
    with pytest.raises(Reject) as info:
        adapt_one(obj)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"url": "https://a.example/x", "body": "正文"}, "no html, text or raw_content"),
        ({"html": ["<p>正文</p>"], "url": ""}, "field 'html' must be a string"),
        ({"html": ARTICLE, "status": [200]}, "field 'status' must be an HTTP status code"),
        ({"text": "正文", "info": "http://a.example"}, "field 'info' must be a JSON object"),
        ({**CCNET, "raw_content": None}, "missing field 'raw_content'"),
    ],
)
def test_malformed_records(obj, message):
    with pytest.raises(ValueError, match=message):
        adapt_one(obj)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 0),
        ("首页\n新闻\n联系我们", 0),
        ("这是一个没有句号但是足够长的新闻标题啊啊啊啊", 0),  # a headline: no sentence end
        ("短句。", 0),  # a sentence, but under 20 characters
        ("区园林局负责人介绍，今年全区计划新增绿地四十公顷。", 25),
        ("The park opened on Monday and drew many visitors. ", 49),
    ],
)
def test_prose_chars(text, expected):
    assert web.prose_chars(text) == expected


def test_web_article_template():
    template = REGISTRY.get("web_article.v1")
    doc = adapt_one({"html": ARTICLE, "url": "", "path": "1.html"})
    rendered = template.render(doc)
    assert rendered.instruction in {
        "请以“城东区举办植树节活动”为题，写一篇文章。",
        "写一篇题为《城东区举办植树节活动》的文章。",
        "以“城东区举办植树节活动”为标题，撰写一篇内容翔实、条理清楚的文章。",
    }
    assert rendered.output == doc.body
    assert (rendered.task_major, rendered.task_minor, rendered.domain) == (
        ["文本生成"],
        ["文章写作"],
        ["通用"],
    )


def test_warc_records_as_read_crawl_parses_them():
    """The payloads formats.read_units/parse make of a real WARC file reach the adapter as-is."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from beam_cqia.sources import formats

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=True)
    pages = [
        (
            "https://news.example.cn/a/1.html",
            "200 OK",
            "text/html; charset=gbk",
            ARTICLE.replace("charset='utf-8'", "charset='gbk'").replace("©", "").encode("gbk"),
        ),
        ("https://news.example.cn/a/2.html", "404 Not Found", "text/html", NAV_ONLY.encode()),
        ("https://news.example.cn/logo.png", "200 OK", "image/png", b"\x89PNG\r\n"),
    ]
    for url, status, content_type, payload in pages:
        headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                url, "response", payload=io.BytesIO(payload), http_headers=headers
            )
        )
    buffer.seek(0)
    outcomes = []
    for unit in formats.read_units(buffer, "warc"):
        try:
            obj = formats.parse(unit.payload, "warc", "crawl.warc.gz")
            outcomes.append(adapt_one(obj))
        except (Reject, formats.Skip) as verdict:
            outcomes.append(verdict.reason)
    assert outcomes[1:] == ["http_status", "unsupported_content_type"]
    doc = outcomes[0]
    assert doc.url == "https://news.example.cn/a/1.html"
    assert doc.title == "城东区举办植树节活动"
    assert all(p in doc.body for p in PARAGRAPHS)
    assert (doc.meta["status"], doc.meta["encoding"]) == ("200", "gb18030")
    assert doc.fetched_at.startswith("20")
