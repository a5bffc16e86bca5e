"""Tests for the source adapters (beam_cqia.sources: zhihu, baike, exam, base helpers)."""

import copy

import pytest

from beam_cqia.records import RawDoc
from beam_cqia.sources import ADAPTERS, Origin, Reject, baike, exam, get_adapter, zhihu
from beam_cqia.sources.base import get_str, get_str_list, json_str, parse_count, py_list_repr
from beam_cqia.text.ids import doc_id

ORIGIN = Origin("gs://bucket/raw/part-0001.jsonl", 4096, "zhihu", "2024-03-01T08:00:00Z")

ZHIHU_THREAD = {
    "question_id": 538174133,  # crawlers store ids as numbers or strings
    "url": "https://www.zhihu.com/question/538174133/",
    "title": " 为什么有些女孩子的声音特别好听？ ",
    "detail": "  平时听到一些女生说话声音很温柔，想知道是天生的还是后天练出来的。\n",
    "topics": ["声音", "女孩"],
    "answers": [
        {
            "answer_id": "2664700002",
            "author": "路人乙",
            "voteup_count": "523",
            "comment_count": "3k",
            "created_time": "2022-08-03 09:00",
            "content": "天生的成分更大。😀",
        },
        {
            "answer_id": "2664703842",
            "author": "声乐老师小王",
            "voteup_count": "1.2万",
            "comment_count": "1,234",
            "created_time": "2022-08-01 21:15",
            "content": "  谢邀。声音好听一半靠天赋，一半靠练习：\n\n1. 气息\n2. 共鸣  ",
        },
        {
            "answer_id": "2664700001",
            "author": "路人甲",
            "voteup_count": 523,
            "comment_count": 12,
            "content": "後天練習也很重要。",
        },
    ],
}

BAIKE_ENTRY = {
    "entry_id": "bk-10086",
    "url": "https://baike.example.com/item/高血压",
    "title": " 高血压 ",
    "category": ["医学", "心血管内科", "高血压"],
    "summary": " 高血压是以体循环动脉压增高为主要特征的临床综合征。 ",
    "sections": [
        {"heading": "病因", "text": "遗传因素、环境因素（高盐饮食、精神紧张）等。"},
        {"heading": "", "text": "没有小标题的段落。"},
        {"heading": "空段落", "text": "   "},
        {"heading": " 治疗 ", "text": "\n改善生活方式，必要时药物治疗。\n"},
    ],
    "updated": "2023-05-06",
}

EXAM_QUESTION = {
    "qid": "gk-2020-bio-07",
    "url": "https://exam.example.com/q/gk-2020-bio-07",
    "exam": "2020年全国高考",
    "year": 2020,
    "subject": "生物",
    "type": "单项选择题",
    "stem": " 下列关于细胞结构的叙述，正确的是（  ） ",
    "options": {
        "C": "中心体只存在于动物细胞中",
        "A": "核糖体具有单层膜结构",
        "D": " 叶绿体是所有植物细胞都有的细胞器 ",
        "B": "线粒体是有氧呼吸的主要场所",
    },
    "answer": " B ",
    "analysis": " 线粒体是有氧呼吸的主要场所，故B正确。 ",
}


def adapt_all(name, obj, origin=ORIGIN):
    return list(get_adapter(name)(obj, origin))


def with_changes(base, **changes):
    obj = copy.deepcopy(base)
    for key, value in changes.items():
        if value is ...:
            obj.pop(key, None)
        else:
            obj[key] = value
    return obj


# --- registry --------------------------------------------------------------------------------


def test_registry():
    assert set(ADAPTERS) == {
        "baike",
        "cmmlu",
        "douban",
        "exam",
        "forum",
        "gaokao",
        "instruct",
        "jecqa",
        "logiqa",
        "medical",
        "poetry",
        "qa_pairs",
        "segmentfault",
        "text",
        "web",
        "wiki",
        "wikihow",
        "xhs",
        "zhihu",
    }
    assert get_adapter("zhihu") is zhihu.adapt
    assert get_adapter("baike") is baike.adapt
    assert get_adapter("exam") is exam.adapt


def test_unknown_adapter_names_known_ones():
    with pytest.raises(ValueError, match=r"unknown source adapter 'weibo'.*\['baike', 'cmmlu'"):
        get_adapter("weibo")


def test_adapters_by_dotted_path():
    assert get_adapter("beam_cqia.sources.zhihu.adapt") is zhihu.adapt
    with pytest.raises(ValueError, match=r"cannot import source adapter 'no\.such\.module'"):
        get_adapter("no.such.module")
    with pytest.raises(ValueError, match="is not callable"):
        get_adapter("beam_cqia.sources.zhihu.SOURCE")


# --- zhihu -----------------------------------------------------------------------------------


def test_zhihu_happy_path():
    docs = adapt_all("zhihu", ZHIHU_THREAD)
    assert [d.meta["aid"] for d in docs] == ["2664700002", "2664703842", "2664700001"]
    assert all(isinstance(d, RawDoc) for d in docs)
    top = docs[1]
    assert top == RawDoc(
        id=doc_id("zhihu", "2664703842"),
        source="zhihu",
        subset="zhihu",
        url="https://www.zhihu.com/question/538174133/answer/2664703842",
        title="为什么有些女孩子的声音特别好听？",
        question=(
            "为什么有些女孩子的声音特别好听？\n"
            "平时听到一些女生说话声音很温柔，想知道是天生的还是后天练出来的。"
        ),
        body="",
        answer="  谢邀。声音好听一半靠天赋，一半靠练习：\n\n1. 气息\n2. 共鸣  ",
        meta={
            "qid": "538174133",
            "aid": "2664703842",
            "tag": "['声音', '女孩']",
            "votes": "12000",
            "comments": "1234",
            "answer_rank": "1",
            "answers_in_thread": "3",
            "author": "声乐老师小王",
            "created": "2022-08-01 21:15",
        },
        fetched_at="2024-03-01T08:00:00Z",
        origin_file="gs://bucket/raw/part-0001.jsonl",
        origin_offset=4096,
        signals={},
        lineage=[],
    )


def test_zhihu_ranks_by_votes_then_answer_id():
    docs = adapt_all("zhihu", ZHIHU_THREAD)
    ranks = {d.meta["aid"]: d.meta["answer_rank"] for d in docs}
    # 12000 votes first; the two 523-vote answers tie and are ordered by answer id.
    assert ranks == {"2664703842": "1", "2664700001": "2", "2664700002": "3"}
    assert {d.meta["aid"]: d.meta["votes"] for d in docs} == {
        "2664703842": "12000",
        "2664700001": "523",
        "2664700002": "523",
    }
    assert {d.meta["aid"]: d.meta["comments"] for d in docs} == {
        "2664703842": "1234",
        "2664700001": "12",
        "2664700002": "3000",
    }


def test_zhihu_breaks_vote_ties_by_numeric_answer_id():
    thread = with_changes(
        ZHIHU_THREAD,
        answers=[
            {"answer_id": "10", "voteup_count": 5, "content": "第十个回答。"},
            {"answer_id": "9", "voteup_count": 5, "content": "第九个回答。"},
        ],
    )
    ranks = {d.meta["aid"]: d.meta["answer_rank"] for d in adapt_all("zhihu", thread)}
    assert ranks == {"9": "1", "10": "2"}  # as numbers, not "10" < "9" as text


def test_zhihu_ranks_and_ids_do_not_depend_on_answer_order():
    forward = adapt_all("zhihu", ZHIHU_THREAD)
    reversed_thread = with_changes(ZHIHU_THREAD, answers=ZHIHU_THREAD["answers"][::-1])
    backward = adapt_all("zhihu", reversed_thread)
    assert sorted(forward) == sorted(backward)
    assert adapt_all("zhihu", ZHIHU_THREAD) == forward  # same input, same output


def test_zhihu_question_without_detail_and_default_url():
    thread = with_changes(ZHIHU_THREAD, detail=..., url=..., topics=...)
    doc = adapt_all("zhihu", thread)[0]
    assert doc.question == "为什么有些女孩子的声音特别好听？"
    assert doc.url == "https://www.zhihu.com/question/538174133/answer/2664700002"
    assert doc.meta["tag"] == "[]"


def test_zhihu_defaults_missing_counts_and_prefers_record_fetched_at():
    thread = with_changes(
        ZHIHU_THREAD,
        fetched_at="2024-01-01T00:00:00Z",
        answers=[{"answer_id": 42, "content": "只有内容的回答。"}],
    )
    (doc,) = adapt_all("zhihu", thread)
    assert doc.id == doc_id("zhihu", "42")
    assert doc.fetched_at == "2024-01-01T00:00:00Z"
    assert doc.meta["votes"] == "0"
    assert doc.meta["comments"] == "0"
    assert doc.meta["author"] == ""
    assert doc.meta["answer_rank"] == "1"
    assert doc.meta["answers_in_thread"] == "1"


def test_zhihu_rejects_thread_without_answers():
    with pytest.raises(Reject) as info:
        adapt_all("zhihu", with_changes(ZHIHU_THREAD, answers=[]))
    assert info.value.reason == "no_answers"
    assert "538174133" in info.value.detail
    assert str(info.value).startswith("no_answers: ")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"question_id": ...}, "missing field 'question_id'"),
        ({"title": ...}, "missing field 'title'"),
        ({"title": None}, "missing field 'title'"),
        ({"answers": ...}, "missing field 'answers'"),
        ({"answers": {"a": 1}}, "'answers' must be a list"),
        ({"answers": ["不是对象"]}, r"answers\[0\] must be a JSON object"),
        ({"answers": [{"content": "缺少 answer_id"}]}, "missing field 'answer_id'"),
        ({"answers": [{"answer_id": "1", "voteup_count": "很多"}]}, r"answers\[0\]\.voteup_count"),
        ({"answers": [{"answer_id": "1", "voteup_count": True}]}, r"answers\[0\]\.voteup_count"),
        ({"answers": [{"answer_id": "1", "comment_count": "若干"}]}, "comment_count"),
        ({"answers": [{"answer_id": ["1"]}]}, "'answer_id' must be a string"),
        ({"title": ["为什么"]}, "'title' must be a string, got list"),
        ({"question_id": True}, "'question_id' must be a string, got bool"),
        ({"topics": "声音"}, "'topics' must be a list of strings"),
        ({"topics": ["声音", 3]}, "'topics' must be a list of strings"),
    ],
)
def test_zhihu_malformed_threads_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        adapt_all("zhihu", with_changes(ZHIHU_THREAD, **changes))


@pytest.mark.parametrize("name", ["zhihu", "baike", "exam"])
@pytest.mark.parametrize("obj", [["不是", "对象"], "字符串", None, 42])
def test_adapters_require_json_objects(name, obj):
    with pytest.raises(ValueError, match="expected a JSON object"):
        adapt_all(name, obj)


def test_reject_is_not_a_value_error():
    # Stages tell expected drops (Reject) from errors (ValueError) by type.
    assert not issubclass(Reject, ValueError)
    assert Reject("no_answers").detail == ""
    assert str(Reject("no_answers")) == "no_answers"


# --- baike -----------------------------------------------------------------------------------

BAIKE_BODY = (
    "高血压是以体循环动脉压增高为主要特征的临床综合征。\n\n"
    "## 病因\n\n遗传因素、环境因素（高盐饮食、精神紧张）等。\n\n"
    "没有小标题的段落。\n\n"
    "## 治疗\n\n改善生活方式，必要时药物治疗。"
)


def test_baike_happy_path():
    origin = ORIGIN._replace(subset="baike", fetched_at="")
    (doc,) = adapt_all("baike", BAIKE_ENTRY, origin)
    assert doc == RawDoc(
        id=doc_id("baike", "bk-10086"),
        source="baike",
        subset="baike",
        url="https://baike.example.com/item/高血压",
        title="高血压",
        question="",
        body=BAIKE_BODY,
        answer="",
        meta={
            "entry_id": "bk-10086",
            "category": "医学/心血管内科/高血压",
            "category_top": "医学",
            "category_leaf": "高血压",
            "updated": "2023-05-06",
        },
        fetched_at="",
        origin_file=ORIGIN.file,
        origin_offset=ORIGIN.offset,
        signals={},
        lineage=[],
    )


def test_baike_without_summary_or_category():
    entry = with_changes(BAIKE_ENTRY, summary=..., category=..., updated=..., url=...)
    (doc,) = adapt_all("baike", entry)
    assert doc.body.startswith("## 病因\n\n遗传因素")
    assert doc.meta == {
        "entry_id": "bk-10086",
        "category": "",
        "category_top": "",
        "category_leaf": "",
        "updated": "",
    }
    assert doc.url == ""


def test_baike_summary_only():
    entry = with_changes(BAIKE_ENTRY, sections=..., fetched_at="2023-12-31")
    (doc,) = adapt_all("baike", entry)
    assert doc.body == "高血压是以体循环动脉压增高为主要特征的临床综合征。"
    assert doc.fetched_at == "2023-12-31"


@pytest.mark.parametrize(
    "changes",
    [
        {"summary": "", "sections": []},
        {"summary": "   ", "sections": ...},
        {"summary": ..., "sections": [{"heading": "只有标题", "text": ""}, {"heading": "空"}]},
        {"summary": None, "sections": None},
    ],
)
def test_baike_rejects_empty_entries(changes):
    with pytest.raises(Reject) as info:
        adapt_all("baike", with_changes(BAIKE_ENTRY, **changes))
    assert info.value.reason == "empty_entry"
    assert "bk-10086" in info.value.detail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entry_id": ...}, "missing field 'entry_id'"),
        ({"title": ...}, "missing field 'title'"),
        ({"title": {"zh": "高血压"}}, "'title' must be a string, got dict"),
        ({"sections": {"病因": "遗传"}}, "'sections' must be a list"),
        ({"sections": ["病因：遗传"]}, r"sections\[0\] must be a JSON object"),
        ({"sections": [{"heading": "病因", "text": ["遗传"]}]}, "'text' must be a string"),
        ({"category": "医学"}, "'category' must be a list of strings"),
        ({"category": ["医学", 1]}, "'category' must be a list of strings"),
        ({"summary": False}, "'summary' must be a string, got bool"),
    ],
)
def test_baike_malformed_entries_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        adapt_all("baike", with_changes(BAIKE_ENTRY, **changes))


# --- exam ------------------------------------------------------------------------------------


def test_exam_happy_path():
    origin = ORIGIN._replace(subset="exam")
    (doc,) = adapt_all("exam", EXAM_QUESTION, origin)
    assert doc == RawDoc(
        id=doc_id("exam", "gk-2020-bio-07"),
        source="exam",
        subset="exam",
        url="https://exam.example.com/q/gk-2020-bio-07",
        title="",
        question=(
            "下列关于细胞结构的叙述，正确的是（  ）\n"
            "A. 核糖体具有单层膜结构\n"
            "B. 线粒体是有氧呼吸的主要场所\n"
            "C. 中心体只存在于动物细胞中\n"
            "D. 叶绿体是所有植物细胞都有的细胞器"
        ),
        body="线粒体是有氧呼吸的主要场所，故B正确。",
        answer="B",
        meta={
            "qid": "gk-2020-bio-07",
            "exam": "2020年全国高考",
            "year": "2020",
            "subject": "生物",
            "type": "单项选择题",
        },
        fetched_at="2024-03-01T08:00:00Z",
        origin_file=ORIGIN.file,
        origin_offset=ORIGIN.offset,
        signals={},
        lineage=[],
    )


def test_exam_multiple_choice_answer():
    q = with_changes(EXAM_QUESTION, type="多项选择题", answer="ABD")
    (doc,) = adapt_all("exam", q)
    assert doc.answer == "ABD"
    assert doc.meta["type"] == "多项选择题"


def test_exam_fill_in_blank_without_options():
    q = with_changes(
        EXAM_QUESTION,
        type="填空题",
        stem="细胞中的“能量工厂”是______。",
        options=...,
        answer="线粒体",
        analysis=...,
        year=...,
    )
    (doc,) = adapt_all("exam", q)
    assert doc.question == "细胞中的“能量工厂”是______。"
    assert doc.answer == "线粒体"
    assert doc.body == ""
    assert doc.meta["year"] == ""


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"stem": "   "}, "empty_stem"),
        ({"stem": "", "answer": ""}, "empty_stem"),  # the stem is checked first
        ({"answer": ""}, "missing_answer"),
        ({"answer": ...}, "missing_answer"),
        ({"answer": "  "}, "missing_answer"),
        ({"answer": "E"}, "answer_not_in_options"),
        ({"answer": "A、B"}, "answer_not_in_options"),
        ({"type": "填空题", "answer": "线粒体"}, "answer_not_in_options"),  # options given
        ({"options": {}}, "missing_options"),
        ({"options": ...}, "missing_options"),
        ({"type": "选择题", "options": None}, "missing_options"),
    ],
)
def test_exam_rejects(changes, reason):
    with pytest.raises(Reject) as info:
        adapt_all("exam", with_changes(EXAM_QUESTION, **changes))
    assert info.value.reason == reason
    assert "gk-2020-bio-07" in info.value.detail


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"qid": ...}, "missing field 'qid'"),
        ({"stem": ...}, "missing field 'stem'"),
        ({"type": ...}, "missing field 'type'"),
        ({"stem": {"text": "题干"}}, "'stem' must be a string, got dict"),
        ({"options": ["核糖体", "线粒体"]}, "'options' must map option letters to strings"),
        ({"options": {"A": 1, "B": 2}}, "'options' must map option letters to strings"),
        ({"answer": ["B"]}, "'answer' must be a string, got list"),
    ],
)
def test_exam_malformed_questions_raise_value_error(changes, message):
    with pytest.raises(ValueError, match=message):
        adapt_all("exam", with_changes(EXAM_QUESTION, **changes))


# --- base helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (523, 523),
        ("523", 523),
        ("1,234", 1234),
        ("1.2万", 12000),
        ("3k", 3000),
        ("3K", 3000),
        ("2千", 2000),
        ("1.5w", 15000),
        ("10万+", 100000),
        (" 999+ ", 999),
        ("0", 0),
        (0, 0),
        (12.0, 12),
    ],
)
def test_parse_count(value, expected):
    result = parse_count(value, "voteup_count")
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "value",
    [True, False, "很多", 1.5, "2.5", -5, -1.0, None, "", "1.2亿", "-3", "3 k k", [1], {"n": 1}],
)
def test_parse_count_rejects(value):
    with pytest.raises(ValueError, match=r"^voteup_count must be a count"):
        parse_count(value, "voteup_count")


@pytest.mark.parametrize(
    ("obj", "key", "required", "expected"),
    [
        ({"qid": "gk-1"}, "qid", True, "gk-1"),
        ({"qid": 538174133}, "qid", True, "538174133"),
        ({"score": 8.5}, "score", True, "8.5"),
        ({}, "url", False, ""),
        ({"url": None}, "url", False, ""),
        ({"title": "臺灣"}, "title", False, "臺灣"),
    ],
)
def test_get_str(obj, key, required, expected):
    assert get_str(obj, key, required) == expected


@pytest.mark.parametrize(
    ("obj", "message"),
    [({}, "missing field 'k'"), ({"k": None}, "missing field 'k'"), ({"k": True}, "got bool")],
)
def test_get_str_errors(obj, message):
    with pytest.raises(ValueError, match=message):
        get_str(obj, "k")


def test_get_str_list():
    assert get_str_list({"topics": ["声音", "女孩"]}, "topics") == ["声音", "女孩"]
    assert get_str_list({}, "topics") == []
    assert get_str_list({"topics": None}, "topics") == []
    with pytest.raises(ValueError, match="list of strings"):
        get_str_list({"topics": ("声音",)}, "topics")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["声音", "女孩"], "['声音', '女孩']"),
        ([], "[]"),
        (["it's"], "['it\\'s']"),
        (["臺灣"], "['臺灣']"),
    ],
)
def test_py_list_repr(values, expected):
    assert py_list_repr(values) == expected


def test_json_str_is_compact_sorted_and_keeps_chinese():
    assert json_str({"b": 1, "a": "中文"}) == '{"a": "中文", "b": 1}'
    assert json_str(["臺灣", 2]) == '["臺灣", 2]'
