"""Lineage: every output, rejected and error record of the demo says where it came from (file and
position, URL when the source has one) and what happened to it (normalization counts, dedup
cluster and kept id, the thresholds it passed or failed, the template)."""

import json
from pathlib import Path

from beam_cqia import lineage
from beam_cqia.explain import Output
from tests.observability.conftest import DATA


def _within_demo_data(path: str) -> bool:
    return Path(path).resolve().is_relative_to(DATA.resolve()) and Path(path).is_file()


def test_notes_are_written_and_read_back():
    note = lineage.origin_note("ReadZhihu", "/d/a b.jsonl", 120, "https://x.example/q?a=1")
    assert note == "ReadZhihu:/d/a b.jsonl@120 url=https://x.example/q?a=1"
    assert lineage.parse_origin(note) == lineage.Origin(
        "ReadZhihu", "/d/a b.jsonl", 120, "https://x.example/q?a=1"
    )
    assert lineage.parse_origin("NormalizeText:urls=1") is None
    entries = [
        note,
        "NormalizeText:t2s_chars=3,urls=1",
        f"DedupExact:{lineage.kept_note(3, 'exact:ab')}",
        "TagSchema:domain=keyword:历史[清朝,鸦片战争]",
        f"Judge:{lineage.llm_note('f' * 64)}",
        f"Polish:{lineage.llm_note('0' * 64, 'kun_polish.v1')}",
        "Polish:original=a,llm=" + "1" * 64,  # raw text, not a request
    ]
    assert lineage.origin_of(entries).offset == 120
    assert lineage.cluster_of(entries) == "exact:ab"
    assert lineage.note_fields("domain=keyword:历史[清朝,鸦片战争]") == {
        "domain": "keyword:历史[清朝,鸦片战争]"
    }
    assert lineage.note_fields("zhihu_qa.v1#2") == {}
    assert lineage.llm_keys(entries) == [("Judge", "f" * 64), ("Polish", "0" * 64)]


def test_every_written_record_names_its_origin_and_history(demo_run):
    out = Output(str(demo_run.out))
    rows = list(out.rows("data"))
    assert len(rows) == out.manifest["outputs"]["data"]["records"]
    chain = [  # the stages after the readers, before the sink
        name
        for name, s in out.manifest["stages"].items()
        if s["transform"] not in ("ReadCrawl", "WriteCqiaParquet")
    ]
    assert len(chain) == 6
    for row in rows:
        origin = lineage.origin_of(row["lineage"])
        assert origin is not None and _within_demo_data(origin.file), row["id"]
        assert origin.offset >= 0, row["id"]
        # the crawled sources have URLs; the exam bank's items have none
        assert origin.url.startswith("https://") == (row["source"] != "exam"), row["id"]
        assert [lineage.split(e)[0] for e in row["lineage"]] == [origin.stage, *chain]
        notes = dict(lineage.split(e) for e in row["lineage"])
        assert notes["RebuildFromTemplate"] == row["template_id"]
        passed = lineage.note_fields(notes["FilterByScore"])["passed"].split(",")
        assert "advertising" in passed and "link_farm" in passed
        assert ("answer_too_short" in passed) == (row["source"] == "zhihu")


def test_kept_duplicates_carry_their_cluster_and_the_dropped_ones_name_them(demo_run):
    out = Output(str(demo_run.out))
    kept = {r["id"]: r for r in out.rows("data")}
    dups = [r for r in out.rows("rejected") if r["reason"] == "duplicate"]
    assert len(dups) == out.manifest["stages"]["DedupExact"]["rejected"]["duplicate"]
    clustered = 0
    for dup in dups:
        assert dup["cluster_id"].startswith("exact:") and dup["kept_id"] != dup["id"]
        keeper = kept.get(dup["kept_id"])
        if keeper is None:  # kept by dedup, dropped by a later stage
            continue
        clustered += 1
        assert keeper["cluster_id"] == dup["cluster_id"]
        assert lineage.cluster_of(keeper["lineage"]) == dup["cluster_id"]
    assert clustered >= 4


def test_rejected_and_error_records_say_where_they_were_read(demo_run):
    out = Output(str(demo_run.out))
    for row in out.rows("rejected"):
        record = json.loads(row["record"])
        origin = lineage.origin_of(record.get("lineage"))
        where = origin.file if origin else record["file"]  # a raw record rejected while reading
        assert _within_demo_data(where), row["id"]
        if row["stage"] == "FilterByScore":
            assert row["reasons"][0] == row["reason"]
            failures = row["detail"].split("; ")  # each failing value against its threshold
            assert len(failures) == len(row["reasons"])
            assert all(" < " in f or " > " in f for f in failures)
            assert set(row["signals"]) >= {"chars.answer", "url_count"}
    errors = list(out.rows("errors"))
    assert errors
    for row in errors:
        element = json.loads(row["element"])
        where = element.get("file") or lineage.origin_of(element.get("lineage")).file
        assert _within_demo_data(where) and where in row["msg"] + row["element"]
