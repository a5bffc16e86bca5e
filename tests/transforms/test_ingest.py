"""ReadCrawl and NormalizeText on the in-memory runner: every output and the counters."""

import gzip
import json
import typing

import apache_beam as beam
import opencc
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import RawDoc
from beam_cqia.text.ids import doc_id
from beam_cqia.transforms import NormalizeText, ReadCrawl, stage_outputs
from tests.conftest import counters, new_pipeline
from tests.factories import raw_doc

THREAD = {
    "question_id": "9001",
    "title": "怎样才能早睡早起？",
    "detail": "每天都熬夜，第二天很困。",
    "topics": ["睡眠", "健康"],
    "answers": [
        {"answer_id": "1", "voteup_count": 12, "content": "固定起床时间比固定入睡时间更重要。"},
        {
            "answer_id": "2",
            "voteup_count": "1.2万",
            "content": "睡前一小时放下手机。\u2028亲测有效。",
        },
    ],
}


GB_THREAD = {
    "question_id": "9005",
    "title": "冬天怎样给绿萝浇水？",
    "answers": [
        {"answer_id": "77", "voteup_count": 3, "content": "冬天浇水要见干见湿，宁干勿湿。"}
    ],
}


def _write_jsonl(path, lines: list[bytes], gz: bool = False) -> None:
    data = b"".join(line + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if gz else data)


def _j(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def test_read_crawl_sorts_every_raw_record_into_docs_rejected_or_errors(tmp_path):
    empty = {**THREAD, "question_id": "9002", "answers": []}
    bad_votes = {
        **THREAD,
        "question_id": "9003",
        "answers": [{"answer_id": "9", "voteup_count": "很多"}],
    }
    lines = [
        _j(THREAD),
        b"",
        _j(empty),
        b'{"question_id": "9004", "title": "cut',
        _j(bad_votes),
        # a legacy crawler wrote this line in GB18030: detected and read like the others
        json.dumps(GB_THREAD, ensure_ascii=False).encode("gb18030"),
        b"\x80\xff\x80\xff\x81\xfe",  # in no encoding at all
        _j([1, 2]),
    ]
    _write_jsonl(tmp_path / "a.jsonl", lines[:4])
    _write_jsonl(tmp_path / "b.jsonl.gz", lines[4:], gz=True)

    p = new_pipeline()
    docs = p | "ReadQa" >> ReadCrawl(str(tmp_path / "*.jsonl*"), source="zhihu", subset="qa")
    side = stage_outputs(p, "ReadQa")
    assert_that(
        docs
        | beam.Map(lambda d: (d.id, d.subset, d.meta["votes"], d.meta["answer_rank"], d.answer)),
        equal_to(
            [
                (doc_id("zhihu", "1"), "qa", "12", "2", "固定起床时间比固定入睡时间更重要。"),
                (doc_id("zhihu", "2"), "qa", "12000", "1", "睡前一小时放下手机。\u2028亲测有效。"),
                (doc_id("zhihu", "77"), "qa", "3", "1", "冬天浇水要见干见湿，宁干勿湿。"),
            ]
        ),
    )
    assert_that(
        side.rejected | beam.Map(lambda r: (r.stage, r.reason, r.subset)),
        equal_to([("ReadQa", "no_answers", "qa")]),
        label="rejected",
    )
    assert_that(
        side.errors | beam.Map(lambda e: (e.stage, e.kind, e.subset)),
        equal_to(
            [
                ("ReadQa", "JSONDecodeError", "qa"),
                ("ReadQa", "ValueError", "qa"),
                ("ReadQa", "UndecodableError", "qa"),
                ("ReadQa", "ValueError", "qa"),
            ]
        ),
        label="errors",
    )
    assert_that(
        side.counts,
        equal_to(
            [
                ("ReadQa", "in", "", 7),
                ("ReadQa", "out", "", 2),
                ("ReadQa", "emitted", "", 3),
                ("ReadQa", "rejected", "no_answers", 1),
                ("ReadQa", "errors", "", 4),
                ("ReadQa", "error_kinds", "JSONDecodeError", 1),
                ("ReadQa", "error_kinds", "UndecodableError", 1),
                ("ReadQa", "error_kinds", "ValueError", 2),
            ]
        ),
        label="counts",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.ReadCrawl") == {
        "seen": 7,
        "passed": 2,
        "filtered:no_answers": 1,
        "errors": 4,
    }


def test_read_crawl_records_byte_offsets_and_keeps_u2028_inside_records(tmp_path):
    first = _j({**THREAD, "question_id": "1", "answers": THREAD["answers"][:1]})
    second = _j({**THREAD, "question_id": "2", "answers": THREAD["answers"][1:]})
    _write_jsonl(tmp_path / "t.jsonl", [first, second])
    p = new_pipeline()
    docs = p | ReadCrawl(str(tmp_path / "t.jsonl"), source="zhihu", reshuffle=False)
    assert_that(
        docs
        | beam.Map(lambda d: (d.meta["qid"], d.origin_offset, d.origin_file.endswith("t.jsonl"))),
        equal_to([("1", 0, True), ("2", len(first) + 1, True)]),
    )
    p.run().wait_until_finish()


def test_read_crawl_error_output_for_beam_yaml(tmp_path):
    _write_jsonl(tmp_path / "t.jsonl", [b"{not json"])
    p = new_pipeline()
    out = p | ReadCrawl(str(tmp_path / "t.jsonl"), source="zhihu", error_handling={"output": "bad"})
    assert set(out) == {"good", "bad"}
    assert_that(out["bad"] | beam.Map(lambda e: e.kind), equal_to(["JSONDecodeError"]))
    assert_that(out["good"], equal_to([]), label="good")
    p.run().wait_until_finish()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": "", "source": "zhihu"}, "path"),
        ({"path": "x", "source": "weibo"}, "unknown source adapter 'weibo'"),
        ({"path": "x", "source": "zhihu", "format": "xml"}, "unsupported format 'xml'"),
        ({"path": "x", "source": "zhihu", "error_handling": {"out": "e"}}, "error_handling"),
    ],
)
def test_read_crawl_rejects_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReadCrawl(**kwargs)


def test_normalize_text_cleans_fields_and_records_what_changed():
    doc = raw_doc(
        "n1",
        title="軟體",
        question="這是一個問題\f嗎？",
        answer="谢邀。\n\n第一行\u200b内容ＡＢＣ１２３。\n\n编辑于 2023-05-06 10:21",
        meta={"tag": "['臺灣']", "votes": "3"},
    )
    untouched = raw_doc("n2", question="正常的问题", answer="正常的回答。")
    p = new_pipeline()
    out = (
        p
        | beam.Create([doc, untouched]).with_output_types(RawDoc)
        | "Norm" >> NormalizeText(opencc="t2s")
    )
    assert_that(
        out
        | beam.Map(
            lambda d: (
                d.title,
                d.question,
                d.answer,
                dict(d.meta),
                {k: v for k, v in d.signals.items() if v},
                d.lineage,
            )
        ),
        equal_to(
            [
                (
                    "软体",
                    "这是一个问题\n吗？",
                    "第一行内容ABC123。",
                    {"tag": "['台湾']", "votes": "3"},
                    {
                        "norm.t2s_chars": 7.0,
                        "norm.control_chars": 2.0,
                        "norm.fullwidth_chars": 6.0,
                        "norm.boilerplate_lines": 2.0,
                        "norm.meta_chars": 2.0,
                    },
                    [
                        "Norm:t2s_chars=7,control_chars=2,fullwidth_chars=6,boilerplate_lines=2,"
                        "meta_chars=2"
                    ],
                ),
                ("", "正常的问题", "正常的回答。", {}, {}, ["Norm"]),
            ]
        ),
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.NormalizeText") == {"seen": 2, "passed": 2}


def test_normalize_text_without_opencc_keeps_the_script():
    doc = raw_doc("n3", answer="這是繁體字。")
    p = new_pipeline()
    out = p | beam.Create([doc]).with_output_types(RawDoc) | NormalizeText(opencc=None)
    assert_that(out | beam.Map(lambda d: d.answer), equal_to(["這是繁體字。"]))
    p.run().wait_until_finish()


def test_normalize_text_sends_bad_records_to_errors():
    good = raw_doc("n4", answer="好的回答。")
    broken = raw_doc("n5", answer=12345)  # a crawler stored a number where text belongs
    p = new_pipeline()
    # Built inside a Map typed Any: Create would refuse to encode the broken record itself.
    by_name = {"good": good, "broken": broken}
    out = (
        p
        | beam.Create(["good", "broken"])
        | beam.Map(by_name.get).with_output_types(typing.Any)
        | "Norm" >> NormalizeText()
    )
    errors = stage_outputs(p, "Norm").errors
    assert_that(out | beam.Map(lambda d: d.id), equal_to([good.id]))
    assert_that(
        errors | beam.Map(lambda e: (e.id, e.stage, e.kind)),
        equal_to([(broken.id, "Norm", "TypeError")]),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.NormalizeText") == {"seen": 2, "passed": 1, "errors": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"opencc": "s2t"}, "unsupported opencc config 's2t'"),
        ({"fields": "answer"}, "fields must be a non-empty list"),
        ({"fields": [""]}, "fields must be a non-empty list"),
    ],
)
def test_normalize_text_rejects_bad_config(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NormalizeText(**kwargs)


def test_normalize_text_rejects_fields_the_record_type_lacks():
    p = new_pipeline()
    docs = p | beam.Create([raw_doc("x")]).with_output_types(RawDoc)
    with pytest.raises(ValueError, match=r"\['output'\] are not fields of RawDoc"):
        docs | NormalizeText(fields=["answer", "output"])


def test_ids_of_unparsed_records_do_not_depend_on_where_the_files_are(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        _write_jsonl(tmp_path / folder / "t.jsonl", [b"{broken"])
    p = new_pipeline()
    p | "Read" >> ReadCrawl(str(tmp_path / "*" / "t.jsonl"), source="zhihu")
    errors = stage_outputs(p, "Read").errors
    assert_that(
        errors | beam.Map(lambda e: e.id) | beam.Distinct() | beam.combiners.Count.Globally(),
        equal_to([1]),
    )
    p.run().wait_until_finish()


def test_normalize_text_policies_per_source_and_what_fired():
    zhihu = raw_doc(
        "p1",
        answer="联系我13812345678或 zs@example.com，资料在 https://pan.example.com/s/1 😀👍",
    )
    xhs = raw_doc(
        "p2", source="xhs", answer="今日穿搭分享💄✨ #穿搭 [偷笑R] https://xhs.example.com/x"
    )
    p = new_pipeline()
    out = (
        p
        | beam.Create([zhihu, xhs]).with_output_types(RawDoc)
        | "Norm"
        >> NormalizeText(
            urls="remove",
            pii="mask",
            emoji="remove",
            by_source={"xhs": {"emoji": "keep", "urls": "keep"}},
        )
    )
    assert_that(
        out
        | beam.Map(
            lambda d: (
                d.source,
                d.answer,
                {k: v for k, v in d.signals.items() if v},
                d.lineage[-1],
            )
        ),
        equal_to(
            [
                (
                    "zhihu",
                    "联系我[手机号]或 [邮箱]，资料在",
                    {
                        "norm.urls": 1.0,
                        "norm.emoji": 2.0,
                        "norm.pii.email": 1.0,
                        "norm.pii.mobile": 1.0,
                    },
                    "Norm:urls=1,emoji=2,pii.email=1,pii.mobile=1",
                ),
                ("xhs", "今日穿搭分享💄✨ #穿搭 [偷笑R] https://xhs.example.com/x", {}, "Norm"),
            ]
        ),
    )
    p.run().wait_until_finish()


def test_normalize_text_converts_only_lines_with_traditional_characters():
    # OpenCC t2s run on Simplified text rewrites real words: 覆盖→复盖, the surname 沈→沉.
    simplified = "沈先生给光盘加了一层透明覆盖层。"
    assert opencc.OpenCC("t2s").convert(simplified) != simplified
    mixed = raw_doc("t1", body=f"{simplified}\n這一行是繁體字。\n这一行是简体字。")
    p = new_pipeline()
    out = p | beam.Create([mixed]).with_output_types(RawDoc) | NormalizeText()
    assert_that(
        out | beam.Map(lambda d: (d.body, d.signals["norm.t2s_chars"])),
        equal_to([(f"{simplified}\n这一行是繁体字。\n这一行是简体字。", 2.0)]),
    )
    p.run().wait_until_finish()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"urls": "hide"}, "urls must be one of"),
        ({"pii": "hash"}, "pii must be one of"),
        ({"pii_kinds": ["passport"]}, r"unknown pii_kinds \['passport'\]"),
        ({"emoji": "strip"}, "emoji must be one of"),
        (
            {"by_source": {"xhs": {"emojis": "keep"}}},
            r"by_source.xhs: unknown options \['emojis'\]",
        ),
        ({"by_source": {"tw": {"opencc": "s2t"}}}, "by_source.tw: unsupported opencc config"),
        ({"only_traditional": "yes"}, "only_traditional must be true or false"),
    ],
)
def test_normalize_text_policy_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        NormalizeText(**kwargs)
