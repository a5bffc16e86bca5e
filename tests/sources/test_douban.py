"""Tests for the douban adapter (profiles, reviews, keyed-file entries) and its three templates.

The records are written for the test, in the shapes of the DMR crawler and of Douban API-style
subjects; the titles and people are invented. Entries of DMR's keyed files are given the way
ReadCrawl's ``json_items: "*"`` hands them over: one record each, with its key as ``__key__``.
"""

import copy
import re

import pytest

from beam_cqia.prompts import TemplateError, TemplateRegistry, load_sources
from beam_cqia.records import RawDoc
from beam_cqia.sources import Origin, Reject, douban
from beam_cqia.text.ids import content_id, doc_id

ORIGIN = Origin("/crawl/douban/movies.json", 0, "douban", "2024-05-01T00:00:00Z")

DMR_MOVIE = {
    "movie_name": "山海之间 Between Mountains",
    "directors": {"https://movie.douban.com/celebrity/1000001": "林一舟"},
    "writers": {
        "https://movie.douban.com/celebrity/1000001": "林一舟",
        "https://movie.douban.com//subject_search?search_text=%E5%91%A8": "周小禾，陈默",
    },
    "actors": {
        "https://movie.douban.com/celebrity/1000002": "赵青",
        "https://movie.douban.com/celebrity/1000003": "钱朗",
        "https://movie.douban.com//subject_search?search_text=x": "孙悦",
    },
    "genres": ["剧情", "家庭"],
    "languages": ["汉语普通话", "粤语"],
    "release_times": "2019-09-06",
    "producing_regions": ["中国香港", "中国大陆"],
    "movie_duration": "118",
    "average_stars": "7.1",
}
DMR_SERIES = {
    "movie_name": "小城往事",
    "directors": {"https://movie.douban.com/celebrity/1000009": "吴桐"},
    "actors": {"https://movie.douban.com/celebrity/1000010": "郑好"},
    "genres": ["剧情", "动画"],
    "languages": ["汉语普通话"],
    "release_times": "1992-05(中国大陆)",
    "producing_regions": ["中国大陆"],
}
DMR_MOVIE_ENTRY = {"__key__": "26900001", **DMR_MOVIE}  # as ReadCrawl json_items: "*" gives it

DMR_MOVIE_DOC = RawDoc(
    id=doc_id("douban", "26900001"),
    source="douban",
    subset="douban",
    url="https://movie.douban.com/subject/26900001/",
    title="山海之间 Between Mountains",
    question="",
    body="",
    answer="",
    meta={
        "subject_id": "26900001",
        "media_type": "movie",
        "title": "山海之间 Between Mountains",
        "original_title": "",
        "year": "2019",
        "release_date": "2019-09-06",
        "region": "中国香港/中国大陆",
        "genres": "剧情/家庭",
        "languages": "汉语普通话/粤语",
        "director": "林一舟",
        "writers": "林一舟/周小禾，陈默",
        "cast": "赵青/钱朗/孙悦",
        "rating": "7.1",
        "votes": "",
        "imdb": "",
        "duration": "118",
        "episodes": "",
        "author": "",
        "publisher": "",
        "isbn": "",
        "author_intro": "",
    },
    fetched_at="2024-05-01T00:00:00Z",
    origin_file="/crawl/douban/movies.json",
    origin_offset=0,
    signals={},
    lineage=[],
)

API_SUBJECT = {
    "id": "1300001",
    "title": " 雾港 ",
    "original_title": "Harbor in Fog",
    "year": 2003,
    "subtype": "movie",
    "alt": "https://movie.douban.com/subject/1300001/",
    "rating": {"average": 9.1, "numRaters": "12.5万", "max": 10},
    "directors": [{"name": "高远", "id": "1"}],
    "writers": ["高远", "许言"],
    "casts": [{"name": f"演员{i}"} for i in range(1, 13)],
    "countries": ["中国台湾"],
    "genres": ["剧情", "悬疑"],
    "languages": "汉语普通话 / 闽南语",
    "pubdates": ["2003-10-01(中国台湾)", "2004-02-14(中国大陆)"],
    "durations": ["126分钟"],
    "imdb": "https://www.imdb.com/title/tt0300001/",
    "summary": (
        "  港口小镇连续三夜起雾，码头工人阿海在雾里捡到一只旧皮箱。\n"
        "　　他没想到，皮箱的主人会在第四天找上门来……  "
    ),
}


def adapt_all(obj, origin=ORIGIN):
    return list(douban.adapt(obj, origin))


def with_changes(base, **changes):
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


# --- profiles ----------------------------------------------------------------------------------


def test_dmr_profiles_keyed_by_id():
    assert adapt_all(DMR_MOVIE_ENTRY) == [DMR_MOVIE_DOC]  # the key is the subject id
    (series,) = adapt_all({"__key__": "26900002", **DMR_SERIES})
    assert series.id == doc_id("douban", "26900002")
    assert series.url == "https://movie.douban.com/subject/26900002/"
    assert series.meta["subject_id"] == "26900002"
    assert series.meta["media_type"] == "tv"  # DMR: no 片长 on a TV page
    assert series.meta["year"] == "1992"  # from a truncated release date
    assert series.meta["writers"] == ""
    assert series.meta["rating"] == ""
    assert series.meta["duration"] == ""
    (short,) = adapt_all({"__key__": "1", **with_changes(DMR_SERIES, release_times="1895-12-28")})
    assert short.meta["media_type"] == "movie"  # no television before 1930


def test_api_subject():
    (doc,) = adapt_all(API_SUBJECT)
    assert doc == RawDoc(
        id=doc_id("douban", "1300001"),
        source="douban",
        subset="douban",
        url="https://movie.douban.com/subject/1300001/",
        title="雾港",
        question="",
        body=(
            "港口小镇连续三夜起雾，码头工人阿海在雾里捡到一只旧皮箱。\n"
            "　　他没想到，皮箱的主人会在第四天找上门来……"
        ),
        answer="",
        meta={
            "subject_id": "1300001",
            "media_type": "movie",
            "title": "雾港",
            "original_title": "Harbor in Fog",
            "year": "2003",
            "release_date": "2003-10-01(中国台湾)/2004-02-14(中国大陆)",
            "region": "中国台湾",
            "genres": "剧情/悬疑",
            "languages": "汉语普通话/闽南语",
            "director": "高远",
            "writers": "高远/许言",
            "cast": "/".join(f"演员{i}" for i in range(1, 11)),  # the first CAST_LIMIT
            "rating": "9.1",
            "votes": "125000",
            "imdb": "tt0300001",
            "duration": "126分钟",
            "episodes": "",
            "author": "",
            "publisher": "",
            "isbn": "",
            "author_intro": "",
        },
        fetched_at="2024-05-01T00:00:00Z",
        origin_file=ORIGIN.file,
        origin_offset=0,
        signals={},
        lineage=[],
    )


@pytest.mark.parametrize(
    ("changes", "media_type"),
    [
        ({"subtype": "tv"}, "tv"),
        ({"subtype": "电视剧"}, "tv"),
        ({"subtype": ..., "episodes_count": "24"}, "tv"),
        ({"subtype": ..., "episodes_count": 0}, ""),
        ({"subtype": ...}, ""),
        ({"subtype": " Movie "}, "movie"),
    ],
)
def test_media_type(changes, media_type):
    (doc,) = adapt_all(with_changes(API_SUBJECT, **changes))
    assert doc.meta["media_type"] == media_type


def test_book_profile():
    book = {
        "id": "3500001",
        "title": "纸上灯塔",
        "author": ["沈青禾"],
        "publisher": "海风出版社",
        "pubdate": "2018-3",
        "isbn13": "9787500000001",
        "rating": "8.4",
        "votes": 2310,
        "summary": "<p>一座灯塔的三代守塔人。</p><p>一本写给等待的人的书。</p>",
        "author_intro": "沈青禾，海岛长大的小说作者。",
    }
    (doc,) = adapt_all(book)
    assert doc.url == "https://book.douban.com/subject/3500001/"
    assert doc.body == "一座灯塔的三代守塔人。\n\n一本写给等待的人的书。"
    meta = doc.meta
    assert (meta["media_type"], meta["year"], meta["rating"], meta["votes"]) == (
        "book",
        "2018",
        "8.4",
        "2310",
    )
    assert (meta["author"], meta["publisher"], meta["isbn"]) == (
        "沈青禾",
        "海风出版社",
        "9787500000001",
    )
    assert meta["author_intro"] == "沈青禾，海岛长大的小说作者。"


@pytest.mark.parametrize(
    ("rating", "expected"),
    [("8", "8.0"), (7.25, "7.2"), ("0", ""), (0, ""), ("暂无评分", ""), ({"average": 6}, "6.0")],
)
def test_rating_formats(rating, expected):
    (doc,) = adapt_all(with_changes(API_SUBJECT, rating=rating))
    assert doc.meta["rating"] == expected


def test_profile_rejected_without_a_name():
    with pytest.raises(Reject) as info:
        adapt_all(with_changes(API_SUBJECT, title="  "))
    assert info.value.reason == "no_title"
    assert "1300001" in info.value.detail


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (with_changes(API_SUBJECT, id=...), "missing field 'id'"),
        (with_changes(API_SUBJECT, title=...), "missing field 'movie_name'"),
        (with_changes(API_SUBJECT, title=["雾港"]), "'title' must be a string"),
        (with_changes(API_SUBJECT, subtype="podcast"), "unknown media type 'podcast'"),
        (with_changes(API_SUBJECT, directors=True), "'directors' must be names"),
        (with_changes(API_SUBJECT, casts=[["演员"]]), "'actors' must hold names"),
        (with_changes(API_SUBJECT, rating="11"), "rating must be within 0-10"),
        (with_changes(API_SUBJECT, episodes_count="很多"), "episodes_count must be a count"),
        ({"foo": 1}, r"not a Douban profile or review: keys \['foo'\]"),
    ],
)
def test_malformed_profiles_raise_value_error(record, message):
    with pytest.raises(ValueError, match=message):
        adapt_all(record)


# --- reviews -----------------------------------------------------------------------------------

DMR_REVIEW = {
    "user_id": "0f" * 16,
    "movie_id": "26900001",
    "text": "节奏慢了点，但结尾很动人，值得一看！",
    "date": "2021-03-31 22:11:01",
    "stars": 5,
    "useful": 28,
    "label": 0,
    "user_profile": {"screen_name": "豆友1234", "register_time": "2021-02-18", "follow_count": 0},
    "user_reviews": {
        "review0": {
            "movie_id": 26900001,
            "text": "节奏慢了点，但结尾很动人，值得一看！",
            "date": "2021-03-31",
            "stars": 5.0,
            "useful": 28,
            "tags": "",
        },
        "review1": {
            "movie_id": 26900005,
            "text": "笑点密集，全家都爱看。",
            "date": "2021-03-27",
            "stars": 4.0,
            "useful": 1,
            "tags": "2019 中国大陆",
        },
        "review2": {"movie_id": 26900006, "text": "", "date": "2021-03-20", "stars": 3.0},
    },
}


def earlier_review(i, subject_id, answer, stars, votes, date, tags=""):
    """The RawDoc of DMR_REVIEW's i-th earlier review."""
    user = "0f" * 16
    return RawDoc(
        id=content_id("douban", "history", f"{user}#{i}"),
        source="douban",
        subset="douban",
        url="",
        title="",
        question="",
        body="",
        answer=answer,
        meta={
            "subject_id": subject_id,
            "review_id": "",
            "media_type": "",
            "stars": stars,
            "votes": votes,
            "useless": "",
            "spam": "",
            "author": "",
            "author_registered": "",
            "user_id": user,
            "date": date,
            "tags": tags,
            "from_user_history": "1",
        },
        fetched_at="2024-05-01T00:00:00Z",
        origin_file=ORIGIN.file,
        origin_offset=0,
        signals={},
        lineage=[],
    )


def test_dmr_review_with_earlier_reviews():
    labelled, *earlier = adapt_all(DMR_REVIEW)
    user = "0f" * 16
    assert labelled == RawDoc(
        id=content_id(
            "douban", "review", user, "26900001", "2021-03-31 22:11:01", DMR_REVIEW["text"]
        ),
        source="douban",
        subset="douban",
        url="",
        title="",
        question="",
        body="",
        answer="节奏慢了点，但结尾很动人，值得一看！",
        meta={
            "subject_id": "26900001",
            "review_id": "",
            "media_type": "",
            "stars": "5",
            "votes": "28",
            "useless": "",
            "spam": "1",  # DMR: label 0 means spam
            "author": "豆友1234",
            "author_registered": "2021-02-18",
            "user_id": user,
            "date": "2021-03-31 22:11:01",
            "tags": "",
            "from_user_history": "",
            "user_reviews": "3",
            "user_reviews_empty": "1",
        },
        fetched_at="2024-05-01T00:00:00Z",
        origin_file=ORIGIN.file,
        origin_offset=0,
        signals={},
        lineage=[],
    )
    # Every earlier review is emitted, the copy of the labelled one (review0) and the empty one
    # (review2) included: the quality filter and dedup reject those with a reason.
    assert earlier == [
        earlier_review(
            0, "26900001", "节奏慢了点，但结尾很动人，值得一看！", "5", "28", "2021-03-31"
        ),
        earlier_review(
            1, "26900005", "笑点密集，全家都爱看。", "4", "1", "2021-03-27", "2019 中国大陆"
        ),
        earlier_review(2, "26900006", "", "3", "", "2021-03-20"),
    ]
    assert len({d.id for d in [labelled, *earlier]}) == 4


def test_dmr_review_file_entries_and_not_spam_label():
    first = adapt_all({"__key__": "review0", **DMR_REVIEW})
    assert first == adapt_all(DMR_REVIEW)  # "reviewN" is a position, not an id: ids ignore it
    assert [d.answer for d in first] == [
        DMR_REVIEW["text"],
        DMR_REVIEW["text"],
        "笑点密集，全家都爱看。",
        "",
    ]
    second = with_changes(DMR_REVIEW, label=1, user_reviews=..., text="一般般。", stars="2")
    (doc,) = adapt_all({"__key__": "review1", **second})
    assert doc.answer == "一般般。"
    assert doc.meta["spam"] == "0"
    assert doc.meta["stars"] == "2"
    assert "user_reviews" not in doc.meta


LONG_REVIEW = {
    "review_id": "15000001",
    "subject_id": "1300001",
    "subject_title": "雾港",
    "subject_type": "movie",
    "title": " 雾散之后 ",
    "content": "<p>第一次看是在<b>高中</b>。</p><p>再看时，才懂阿海的沉默。</p>",
    "rating": {"value": 4, "max": 5},
    "useful_count": "1,024",
    "useless_count": 12,
    "author": {"name": "看海的人"},
    "created": "2020-01-02 03:04:05",
}


def test_long_review():
    (doc,) = adapt_all(LONG_REVIEW)
    assert doc == RawDoc(
        id=doc_id("douban", "review:15000001"),
        source="douban",
        subset="douban",
        url="https://movie.douban.com/review/15000001/",
        title="雾港",
        question="雾散之后",
        body="",
        answer="第一次看是在**高中**。\n\n再看时，才懂阿海的沉默。",
        meta={
            "subject_id": "1300001",
            "review_id": "15000001",
            "media_type": "movie",
            "stars": "4",
            "votes": "1024",
            "useless": "12",
            "spam": "",
            "author": "看海的人",
            "author_registered": "",
            "user_id": "",
            "date": "2020-01-02 03:04:05",
            "tags": "",
            "from_user_history": "",
        },
        fetched_at="2024-05-01T00:00:00Z",
        origin_file=ORIGIN.file,
        origin_offset=0,
        signals={},
        lineage=[],
    )


def test_review_rejected_without_text():
    with pytest.raises(Reject) as info:
        adapt_all(with_changes(LONG_REVIEW, content="  "))
    assert info.value.reason == "empty_review"
    assert "15000001" in info.value.detail


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (with_changes(LONG_REVIEW, rating=4.5), "stars must be a whole number 0-5"),
        (with_changes(LONG_REVIEW, rating=7), "stars must be a whole number 0-5"),
        (with_changes(LONG_REVIEW, rating="很好"), "stars must be a number 0-5"),
        (with_changes(LONG_REVIEW, rating=True), "stars must be a number 0-5"),
        (with_changes(LONG_REVIEW, useful_count=-1), "useful_count must be a count"),
        (with_changes(LONG_REVIEW, subject_type="podcast"), "unknown media type"),
        (with_changes(DMR_REVIEW, label=2), "label must be 0 .spam. or 1"),
        (with_changes(DMR_REVIEW, user_reviews="无"), "'user_reviews' must be an object"),
        (with_changes(DMR_REVIEW, user_reviews=["无"]), r"user_reviews\[0\] must be a JSON"),
        (
            with_changes(DMR_REVIEW, user_reviews=[{"text": "好", "stars": 9}]),
            r"user_reviews\[0\]: stars must be",
        ),
        (with_changes(DMR_REVIEW, user_profile="豆友"), "'user_profile' must be a JSON object"),
    ],
)
def test_malformed_reviews_raise_value_error(record, message):
    with pytest.raises(ValueError, match=message):
        adapt_all(record)


# --- keyed files -------------------------------------------------------------------------------


def test_keyed_file_entries_are_rejected_one_by_one():
    # Each entry is its own record, so a rejected one is reported, not hidden by its neighbours.
    with pytest.raises(Reject) as info:
        adapt_all({"__key__": "1", **with_changes(API_SUBJECT, title="")})
    assert info.value.reason == "no_title"
    assert info.value.detail == "subject 1 has an empty name"  # the key is the subject id
    assert adapt_all(DMR_MOVIE_ENTRY) == [DMR_MOVIE_DOC]
    with pytest.raises(Reject) as info:
        adapt_all({"__key__": "review3", **with_changes(DMR_REVIEW, text="  ")})
    assert info.value.reason == "empty_review"
    assert info.value.detail == "review review3 of 26900001 has no text"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (
            {"__key__": "2", "foo": "bar"},
            r"not a Douban profile or review: keys \['__key__', 'foo'\]",
        ),
        (
            {"__key__": "1", **with_changes(DMR_MOVIE, average_stars="99")},
            r"rating must be within 0-10, got '99'",
        ),
    ],
)
def test_malformed_keyed_file_entries_raise_value_error(record, message):
    with pytest.raises(ValueError, match=message):
        adapt_all(record)


@pytest.mark.parametrize(
    ("record", "count"),
    [
        ({"26900001": DMR_MOVIE, "26900002": DMR_SERIES}, 2),
        ({"review0": DMR_REVIEW}, 1),
        ({"1": with_changes(API_SUBJECT, title=""), "26900001": DMR_MOVIE}, 2),
        ({}, 0),
    ],
)
def test_whole_keyed_file_raises_value_error(record, count):
    message = (
        f"a file of {count} records keyed by id: read it with ReadCrawl json_items: '*' "
        "so that every entry is a record of its own"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        adapt_all(record)


# --- templates ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def registry() -> TemplateRegistry:
    return TemplateRegistry.from_sources(load_sources())


def all_variants(template, doc):
    """Renders a doc with every instruction variant (ids chosen to hit each one)."""
    out = {}
    for n in range(500):
        candidate = doc._replace(id=f"{doc.id}-{n}")
        variant = template.variant_for(candidate.id)
        if variant not in out:
            out[variant] = template.render(candidate)
        if len(out) == len(template.variants):
            break
    return [out[k] for k in sorted(out)]


def test_synopsis_template(registry):
    template = registry.get("douban_synopsis.v1")
    (doc,) = adapt_all(API_SUBJECT)
    rendered = all_variants(template, doc)
    assert len(rendered) == 8
    assert len({r.instruction for r in rendered}) == 8
    for r in rendered:
        assert "《雾港》" in r.instruction
        assert r.output == doc.body
        assert (r.task_major, r.task_minor, r.domain) == (["豆瓣"], ["故事概要", "电影"], ["电影"])
        assert r.metadata_keys == []
    assert rendered[0].instruction == (
        "给《雾港》配一段简介：说清楚故事发生在什么背景下、主角是谁、由谁出演，留个悬念收尾，别把结局说出来。"
    )


@pytest.mark.parametrize(
    ("changes", "minor", "domain", "word"),
    [
        ({"subtype": "tv", "genres": ["动画", "奇幻"]}, ["故事概要", "动画电视剧"], ["电视剧"], ""),
        ({"genres": ["动画"]}, ["故事概要", "动画电影"], ["电影"], ""),
        ({"subtype": "tv", "genres": ["纪录片"]}, ["故事概要", "纪录片"], ["电视剧"], ""),
        ({"subtype": "book"}, ["图书介绍"], ["图书"], "书"),
    ],
)
def test_synopsis_template_labels(registry, changes, minor, domain, word):
    (doc,) = adapt_all(with_changes(API_SUBJECT, **changes))
    for r in all_variants(registry.get("douban_synopsis.v1"), doc):
        assert (r.task_minor, r.domain) == (minor, domain)
        assert word in r.instruction
        if word == "书":
            assert "演员" not in r.instruction


def test_synopsis_template_needs_a_synopsis(registry):
    (doc,) = adapt_all(DMR_MOVIE_ENTRY)
    with pytest.raises(TemplateError, match="required field 'body' is empty"):
        registry.get("douban_synopsis.v1").render(doc)


def test_review_template(registry):
    template = registry.get("douban_review.v1")
    (doc,) = adapt_all(with_changes(LONG_REVIEW, content="<p>" + "好看" * 200 + "</p>"))
    rendered = all_variants(template, doc)
    assert [r.instruction for r in rendered] == [
        "为《雾港》写一篇以“雾散之后”为题的豆瓣影评，约400字。",
        "请为《雾港》写一篇以“雾散之后”为题目的影评，字数约400字。",
        "我喜欢《雾港》这部电影，请以“雾散之后”为题帮我写一篇影评。",
        "能帮我写一篇《雾港》的影评吗？题目就叫“雾散之后”。",
    ]
    for r in rendered:
        assert r.output == "## 雾散之后\n\n" + "好看" * 200
        assert (r.task_major, r.task_minor, r.domain) == (["豆瓣"], ["影评", "电影"], ["电影"])


def test_review_template_untitled_tv_review(registry):
    template = registry.get("douban_review.v1")
    (doc,) = adapt_all(with_changes(LONG_REVIEW, title=..., subject_type="tv", content="还行。"))
    rendered = all_variants(template, doc)
    assert [r.instruction for r in rendered] == [
        "请为《雾港》写一篇剧评。",
        "能帮我写一篇《雾港》的剧评吗？",
        "我喜欢《雾港》这部剧，请帮我写一篇剧评。",
        "请为《雾港》写一篇简短的剧评。",
    ]
    assert {r.output for r in rendered} == {"还行。"}
    assert rendered[0].task_minor == ["剧评", "电视剧"]


def test_review_template_needs_the_subject_name(registry):
    labelled, *_ = adapt_all(DMR_REVIEW)  # DMR reviews carry only the subject id
    with pytest.raises(TemplateError, match="required field 'title' is empty"):
        registry.get("douban_review.v1").render(labelled)


def test_recommendation_template(registry):
    template = registry.get("douban_recommendation.v1")
    (doc,) = adapt_all(DMR_MOVIE_ENTRY)
    rendered = all_variants(template, doc)
    assert [r.instruction for r in rendered] == [
        "我喜欢剧情电影，你能帮我推荐一部吗？",
        "帮我推荐一部2010年代的中国香港电影，并告诉我导演、主演和豆瓣评分。",
        "推荐一部剧情电影，用Markdown列出，附上导演、主演和豆瓣评分。",
        "有没有好看的中国香港剧情电影推荐？请附上上映年份和主演。",
    ]
    expected = (
        "当然可以，以下是为您推荐的电影信息：\n\n"
        "```\n"
        "1. **《山海之间 Between Mountains》**\n"
        "- 年份：2019\n"
        "- 地区：中国香港，中国大陆\n"
        "- 类型：剧情，家庭\n"
        "- 导演：林一舟\n"
        "- 主演：赵青，钱朗，孙悦\n"
        "- 豆瓣评分：7.1\n"
        "```"
    )
    for r in rendered:
        assert r.output == expected
        assert (r.task_major, r.task_minor, r.domain) == (["豆瓣"], ["电影推荐"], ["电影"])


def test_recommendation_template_high_rated_series(registry):
    (doc,) = adapt_all(with_changes(API_SUBJECT, subtype="tv", rating="9.0"))
    rendered = all_variants(registry.get("douban_recommendation.v1"), doc)
    assert rendered[2].instruction.startswith("推荐一部豆瓣高分剧情电视剧")
    assert rendered[0].output.startswith("当然可以，以下是为您推荐的电视剧信息：")
    assert "- 主演：演员1，演员2，演员3，演员4\n" in rendered[0].output
    assert rendered[0].task_minor == ["电视剧推荐"]


# --- real data (../shared/corpora) -------------------------------------------------------------


@pytest.mark.corpora
def test_dmr_files(corpora, registry):
    import json
    from collections import Counter

    def read_keyed(name):
        """Entries of a keyed file as ReadCrawl json_items: "*" gives them, adapted one by one."""
        data = json.loads((corpora / "douban-dmr" / name).read_text(encoding="utf-8"))
        docs = [d for key, value in data.items() for d in adapt_all({"__key__": key, **value})]
        return data, docs

    movies, profiles = read_keyed("movies.json")
    assert len(profiles) == len(movies) == 980
    assert [d.id for d in profiles] == [doc_id("douban", key) for key in movies]
    assert Counter(d.meta["media_type"] for d in profiles) == {"movie": 619, "tv": 361}
    assert all(d.meta["year"] for d in profiles)
    assert all("http" not in d.meta["cast"] for d in profiles)  # names, not celebrity URLs
    template = registry.get("douban_recommendation.v1")
    assert all(template.render(d).output.startswith("当然可以") for d in profiles)
    reviews, docs = read_keyed("reviews.json")
    labelled = [d for d in docs if not d.meta["from_user_history"]]
    earlier = [d for d in docs if d.meta["from_user_history"]]
    assert len(reviews) == len(labelled) == 44
    assert Counter(d.meta["spam"] for d in labelled) == {"1": 22, "0": 22}
    # All 1,583 earlier reviews are emitted, the 360 without text and the 44 copies of the
    # labelled reviews included (the quality filter and dedup reject those).
    assert len(docs) == 44 + 1583 == 1627
    assert len(earlier) == sum(int(d.meta["user_reviews"]) for d in labelled) == 1583
    assert sum(not d.answer for d in docs) == 360
    assert sum(int(d.meta["user_reviews_empty"]) for d in labelled) == 360
    copies = {(d.meta["user_id"], d.meta["subject_id"], d.answer) for d in labelled}
    assert sum((d.meta["user_id"], d.meta["subject_id"], d.answer) in copies for d in earlier) == 44
    assert len({d.id for d in docs}) == len(docs)
