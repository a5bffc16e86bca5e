"""ReadCrawl on every format and compression, and on every kind of bad input."""

import bz2
import csv
import gzip
import io
import json

import apache_beam as beam
import opencc
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard
from apache_beam.testing.util import assert_that, equal_to
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from beam_cqia.transforms import ReadCrawl, stage_outputs
from tests.conftest import counters, new_pipeline

ECHO = "tests.echo_adapter.adapt"
ECHO_KEYED = "tests.echo_adapter.adapt_keyed"
S2T = opencc.OpenCC("s2tw").convert

ENTRIES = [
    {"entry_id": "f1", "title": "光合作用", "summary": "植物利用光能把二氧化碳和水合成有机物。"},
    {"entry_id": "f2", "title": "長城", "summary": "長城是中國古代的軍事防禦工程。"},
    {"entry_id": "f3", "title": "潮汐", "summary": "海水在月球和太阳引力作用下的周期性涨落。"},
]


def _jsonl(records, enc="utf-8") -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode(enc) + b"\n" for r in records)


def _titles(docs):
    return docs | "T" >> beam.Map(lambda d: d.title)


@pytest.mark.parametrize(
    ("name", "writer"),
    [
        ("a.jsonl", lambda b: b),
        ("a.jsonl.gz", gzip.compress),
        ("a.jsonl.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("a.jsonl.bz2", bz2.compress),
        ("a.ndjson", lambda b: b),
        ("no-suffix.gz.jsonl", gzip.compress),  # compression found by magic bytes, not the name
    ],
)
def test_jsonl_in_every_compression(tmp_path, name, writer):
    (tmp_path / name).write_bytes(writer(_jsonl(ENTRIES)))
    p = new_pipeline()
    docs = p | ReadCrawl(str(tmp_path / name), source="baike", format="jsonl")
    assert_that(_titles(docs), equal_to(["光合作用", "長城", "潮汐"]))
    p.run().wait_until_finish()


@pytest.mark.parametrize(
    ("name", "data", "options"),
    [
        ("arr.json", json.dumps(ENTRIES, ensure_ascii=False).encode(), {}),
        (
            "wrapped.json",
            json.dumps({"data": {"items": ENTRIES}}).encode(),
            {"json_items": "data.items.item"},
        ),
        ("arr.json.gz", gzip.compress(json.dumps(ENTRIES).encode()), {}),
    ],
)
def test_json_arrays_are_streamed_item_by_item(tmp_path, name, data, options):
    (tmp_path / name).write_bytes(data)
    p = new_pipeline()
    docs = p | ReadCrawl(str(tmp_path / name), source="baike", **options)
    assert_that(
        docs | beam.Map(lambda d: (d.title, d.origin_offset)),
        equal_to([("光合作用", 0), ("長城", 1), ("潮汐", 2)]),
    )
    p.run().wait_until_finish()


def test_single_json_object_file(tmp_path):
    (tmp_path / "one.json").write_bytes(json.dumps(ENTRIES[0], ensure_ascii=False).encode())
    p = new_pipeline()
    docs = p | ReadCrawl(str(tmp_path / "*.json"), source="baike")
    assert_that(_titles(docs), equal_to(["光合作用"]))
    p.run().wait_until_finish()


def _csv_bytes(delimiter: str, enc: str) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter)
    writer.writerow(["entry_id", "title", "summary"])
    for r in ENTRIES:
        writer.writerow(
            [r["entry_id"], r["title"], r["summary"].replace("。", "，\n换行也在字段里。")]
        )
    text = buf.getvalue()
    return (S2T(text) if enc == "big5" else text).encode(enc)


@pytest.mark.parametrize(
    ("name", "delimiter", "enc"),
    [
        ("t.csv", ",", "utf-8"),
        ("t.tsv", "\t", "utf-8"),
        ("gb.csv", ",", "gb18030"),
        ("bom.csv", ",", "utf-8-sig"),
        ("big5.csv", ",", "big5"),
    ],
)
def test_csv_and_tsv_in_chinese_encodings(tmp_path, name, delimiter, enc):
    (tmp_path / name).write_bytes(_csv_bytes(delimiter, enc))
    convert = S2T if enc == "big5" else (lambda t: t)
    suffix = convert("换行也在字段里。")
    p = new_pipeline()
    docs = p | ReadCrawl(str(tmp_path / name), source="baike")
    assert_that(
        docs | beam.Map(lambda d: (d.title, d.body.endswith(suffix))),
        equal_to([(convert(t), True) for t in ("光合作用", "長城", "潮汐")]),
    )
    p.run().wait_until_finish()


def test_parquet(tmp_path):
    pq.write_table(pa.Table.from_pylist(ENTRIES), tmp_path / "t.parquet")
    p = new_pipeline()
    docs = p | ReadCrawl(str(tmp_path / "t.parquet"), source="baike")
    assert_that(
        docs | beam.Map(lambda d: (d.title, d.origin_offset)),
        equal_to([("光合作用", 0), ("長城", 1), ("潮汐", 2)]),
    )
    p.run().wait_until_finish()


def _warc(records) -> bytes:
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    for url, ctype, body in records:
        headers = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
        writer.write_record(
            writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=headers
            )
        )
    return buf.getvalue()


def test_warc_html_responses_and_rejected_other_types(tmp_path):
    page = (
        "<html><head><title>潮汐</title></head><body><p>潮汐是海水的周期性涨落。</p></body></html>"
    )
    (tmp_path / "crawl.warc.gz").write_bytes(
        _warc(
            [
                ("https://example.org/a", "text/html; charset=gbk", page.encode("gbk")),
                ("https://example.org/logo.png", "image/png", b"\x89PNG..."),
            ]
        )
    )
    p = new_pipeline()
    objs = p | "Read" >> ReadCrawl(str(tmp_path / "*.warc.gz"), source=ECHO)
    side = stage_outputs(p, "Read")
    assert_that(
        objs | beam.Map(lambda d: (d.url, "潮汐是海水的周期性涨落" in d.body)),
        equal_to([("https://example.org/a", True)]),
    )
    assert_that(
        side.rejected | beam.Map(lambda r: (r.reason, r.detail)),
        equal_to([("unsupported_content_type", "image/png")]),
        label="rejected",
    )
    p.run().wait_until_finish()


def test_html_files_with_a_lying_charset(tmp_path):
    page = (
        '<html><head><meta charset="gb2312"><title>标题</title></head>'
        "<body><p>正文是UTF-8编码的。</p></body></html>"
    )
    (tmp_path / "lie.html").write_bytes(page.encode("utf-8"))
    (tmp_path / "gbk.htm").write_bytes(page.replace("UTF-8", "GBK").encode("gbk"))
    p = new_pipeline()
    objs = p | ReadCrawl(str(tmp_path / "*.htm*"), source=ECHO)
    assert_that(
        objs | beam.Map(lambda d: (d.meta["encoding"], "正文是" in d.body)),
        equal_to([("utf-8", True), ("gb18030", True)]),
    )
    p.run().wait_until_finish()


def test_text_files_by_file_and_by_line(tmp_path):
    (tmp_path / "a.txt").write_text("第一行\n\n第二行\n", encoding="utf-16")
    p = new_pipeline()
    whole = p | "Whole" >> ReadCrawl(str(tmp_path / "a.txt"), source=ECHO)
    lines = p | "Lines" >> ReadCrawl(
        str(tmp_path / "a.txt"),
        source=ECHO,
        text_unit="line",
        encoding="utf-16",
    )
    assert_that(whole | beam.Map(lambda d: d.body), equal_to(["第一行\n\n第二行\n"]), label="whole")
    assert_that(
        lines | beam.Map(lambda d: d.body.strip()), equal_to(["第一行", "第二行"]), label="lines"
    )
    p.run().wait_until_finish()


def test_large_uncompressed_files_are_split_into_ranges_without_losing_or_repeating(tmp_path):
    records = [
        {"entry_id": f"r{i}", "title": f"标题{i}", "summary": "内容" * (i % 7 + 1)}
        for i in range(500)
    ]
    data = _jsonl(records)
    (tmp_path / "big.jsonl").write_bytes(data)
    p = new_pipeline()
    docs = p | ReadCrawl(str(tmp_path / "big.jsonl"), source="baike", split_bytes=997)
    assert_that(
        docs | beam.Map(lambda d: d.meta["entry_id"]),
        equal_to([r["entry_id"] for r in records]),
    )
    offsets = [0]
    for r in records[:-1]:
        offsets.append(offsets[-1] + len(json.dumps(r, ensure_ascii=False).encode()) + 1)
    assert_that(
        docs | "Offsets" >> beam.Map(lambda d: d.origin_offset), equal_to(offsets), label="offsets"
    )
    p.run().wait_until_finish()


def test_bad_input_becomes_error_records_with_file_and_position(tmp_path):
    good = _jsonl(ENTRIES[:1])
    bad_lines = [
        ("JSONDecodeError", b'{"entry_id": "x", "title": \n'),  # malformed JSON
        ("UndecodableError", b"\x80\xff\x80\xff\x81\xfe\n"),  # no encoding fits
        (
            "RecordTooLargeError",
            json.dumps({"entry_id": "big", "summary": "字" * 5000}).encode() + b"\n",
        ),  # over max_record_bytes
        ("ValueError", b'"just a string"\n'),  # valid JSON, wrong shape
        ("ValueError", b"null\n"),  # an empty record
        ("ValueError", b'{"title": "no id"}\n'),  # a required field missing
    ]
    (tmp_path / "a.jsonl").write_bytes(
        good + b"".join(line for _, line in bad_lines) + _jsonl(ENTRIES[2:])
    )
    expected, offset = [], len(good)
    for kind, line in bad_lines:
        expected.append((kind, f"a.jsonl at byte {offset}"))
        offset += len(line)
    # fixed-width ids: every line of b has the same length
    whole = _jsonl([{**ENTRIES[0], "entry_id": f"g{i:04d}"} for i in range(2000)])
    line_len = len(whole) // 2000
    packed = gzip.compress(whole)
    (tmp_path / "b.jsonl.gz").write_bytes(packed[: len(packed) // 2])

    p = new_pipeline()
    docs = p | "Read" >> ReadCrawl(
        str(tmp_path / "*.jsonl*"), source="baike", max_record_bytes=4000
    )
    side = stage_outputs(p, "Read")
    assert_that(
        side.errors
        | beam.Filter(lambda e: "a.jsonl" in e.msg)
        | beam.Map(lambda e: (e.kind, e.msg.split(": ")[0].rsplit("/", 1)[-1])),
        equal_to(expected),
        label="errors_a",
    )
    assert_that(
        side.errors
        | beam.Filter(lambda e: "b.jsonl.gz" in e.msg)
        | beam.Map(lambda e: (e.kind, "Compressed file ended" in e.msg)),
        equal_to([("UnreadableInputError", True)]),
        label="truncated",
    )

    def every_line_before_the_cut(offsets):
        offsets = sorted(offsets)
        return 0 < len(offsets) < 2000 and offsets == [i * line_len for i in range(len(offsets))]

    assert_that(
        docs
        | "FromB" >> beam.Filter(lambda d: d.origin_file.endswith("b.jsonl.gz"))
        | beam.Map(lambda d: d.origin_offset)
        | beam.combiners.ToList()
        | beam.Map(every_line_before_the_cut),
        equal_to([True]),
        label="b_prefix",
    )
    assert_that(
        docs
        | "FromA" >> beam.Filter(lambda d: d.origin_file.endswith("a.jsonl"))
        | beam.Map(lambda d: d.title),
        equal_to(["光合作用", "潮汐"]),
        label="good_a",
    )
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.ReadCrawl")
    assert c["errors"] == 7 and c["seen"] == c["passed"] + c["errors"]


def test_a_file_that_cannot_be_opened_is_a_failure_unit_not_a_crash(tmp_path):
    from beam_cqia.sources.formats import ReadFailure
    from beam_cqia.transforms.ingest import _ReadUnits

    reader = _ReadUnits("baike", "baike", 1000, None, "file")
    units = list(reader.process((str(tmp_path / "vanished.jsonl"), "jsonl", 0, None)))
    assert len(units) == 1
    assert units[0].offset == -1 and isinstance(units[0].payload, ReadFailure)


def test_json_objects_keyed_by_id_give_one_record_per_value(tmp_path):
    keyed = {e["entry_id"]: {k: v for k, v in e.items() if k != "entry_id"} for e in ENTRIES}
    (tmp_path / "keyed.json").write_bytes(json.dumps({"entries": keyed}).encode())

    p = new_pipeline()
    docs = p | ReadCrawl(str(tmp_path / "keyed.json"), source=ECHO_KEYED, json_items="entries.*")
    assert_that(
        docs | beam.Map(lambda d: (d.url, d.origin_offset)),
        equal_to([("f1", 0), ("f2", 1), ("f3", 2)]),
    )
    p.run().wait_until_finish()


def test_read_from_gcs(gcs_emulator):
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    for name, data in [
        ("crawl/a.jsonl.gz", gzip.compress(_jsonl(ENTRIES[:2]))),
        ("crawl/b.json", json.dumps(ENTRIES[2:], ensure_ascii=False).encode()),
    ]:
        path = f"gs://cqia-test/{name}"
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(data)
    p = new_pipeline()
    docs = p | "Read" >> ReadCrawl("gs://cqia-test/crawl/*", source="baike")
    assert_that(stage_outputs(p, "Read").errors, equal_to([]), label="no_errors")
    assert_that(
        docs | beam.Map(lambda d: (d.title, d.origin_file)),
        equal_to(
            [
                ("光合作用", "gs://cqia-test/crawl/a.jsonl.gz"),
                ("長城", "gs://cqia-test/crawl/a.jsonl.gz"),
                ("潮汐", "gs://cqia-test/crawl/b.json"),
            ]
        ),
    )
    p.run().wait_until_finish()


def test_empty_files_are_rejected_not_skipped(tmp_path):
    (tmp_path / "blank.html").write_bytes(b"  \n")
    (tmp_path / "blank.json").write_bytes(b"")
    (tmp_path / "blank.jsonl").write_bytes(b"\n\n")  # blank lines are not records
    p = new_pipeline()
    docs = p | "Read" >> ReadCrawl(str(tmp_path / "blank.*"), source=ECHO)
    assert_that(docs, equal_to([]))
    assert_that(
        stage_outputs(p, "Read").rejected | beam.Map(lambda r: (r.reason, r.record.count("blank"))),
        equal_to([("empty_file", 1), ("empty_file", 1)]),
        label="rejected",
    )
    p.run().wait_until_finish()
