"""WriteDedupIndex, Decontaminate and DedupExact's indexes."""

import json

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import RawDoc
from beam_cqia.transforms import Decontaminate, DedupExact, WriteDedupIndex, stage_outputs
from tests.conftest import counters, new_pipeline
from tests.factories import raw_doc

BENCH = [
    raw_doc(
        "b1",
        source="cmmlu",
        question="下列关于光合作用的叙述，正确的是\nA. 只在白天进行\n"
        "B. 需要叶绿素参与\nC. 产物只有淀粉\nD. 不需要水",
    ),
    raw_doc(
        "b2",
        source="cmmlu",
        question="我国古代四大发明中，最早用于航海导航的是\nA. 造纸术\n"
        "B. 印刷术\nC. 火药\nD. 指南针",
    ),
]


def _index(tmp_path, kind="ngram", **config):
    path = str(tmp_path / f"{kind}_index")
    p = new_pipeline()
    (
        p
        | beam.Create(BENCH).with_output_types(RawDoc)
        | WriteDedupIndex(path, kind=kind, fields=["question"], **config)
    )
    p.run().wait_until_finish()
    return path


def test_index_meta_lists_kind_params_and_files(tmp_path):
    path = _index(tmp_path, ngram=6)
    meta = json.loads((tmp_path / "ngram_index" / "_index.json").read_text())
    assert meta["kind"] == "ngram" and meta["params"]["ngram"] == 6
    assert meta["files"] and all(f.endswith(".parquet") for f in meta["files"])
    assert meta["rows"] > 20
    assert path.endswith("ngram_index")


def test_decontaminate_drops_records_that_contain_a_benchmark_item(tmp_path):
    index = _index(tmp_path)
    copied = raw_doc(  # options reordered, a preamble added, script changed
        "c1",
        question="请回答：下列關於光合作用的敘述，正確的是\nA. 需要叶绿素参与\nB. 只在白天进行\n"
        "C. 不需要水\nD. 产物只有淀粉",
        answer="A",
    )
    related = raw_doc(
        "c2", question="光合作用需要哪些条件？", answer="需要光照、叶绿素、水和二氧化碳。"
    )
    unrelated = raw_doc("c3", question="长城始建于哪个朝代？", answer="春秋战国时期。")
    p = new_pipeline()
    clean = (
        p
        | beam.Create([copied, related, unrelated]).with_output_types(RawDoc)
        | "Decon" >> Decontaminate(against=[index], fields=["question"])
    )
    assert_that(clean | beam.Map(lambda d: d.id), equal_to([related.id, unrelated.id]))
    assert_that(
        stage_outputs(p, "Decon").rejected
        | beam.Map(lambda r: (r.id, r.reason, r.kept_id, "6-grams" in r.detail)),
        equal_to([(copied.id, "contaminated", BENCH[0].id, True)]),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.Decontaminate")
    assert (c["seen"], c["passed"], c["filtered:contaminated"]) == (3, 2, 1)


def test_decontaminate_against_benchmark_items_read_in_the_same_pipeline(tmp_path):
    copied = raw_doc(
        "c1",
        question="请回答：下列關於光合作用的敘述，正確的是\nA. 需要叶绿素参与\nB. 只在白天进行\n"
        "C. 不需要水\nD. 产物只有淀粉",
        answer="A",
    )
    second = raw_doc("c4", question="我国古代四大发明中，最早用于航海导航的是\nA. 指南针\nB. 火药")
    unrelated = raw_doc("c3", question="长城始建于哪个朝代？", answer="春秋战国时期。")
    p = new_pipeline()
    records = p | "Records" >> beam.Create([copied, second, unrelated]).with_output_types(RawDoc)
    bench_a = p | "BenchA" >> beam.Create(BENCH[:1]).with_output_types(RawDoc)
    bench_b = p | "BenchB" >> beam.Create(BENCH[1:]).with_output_types(RawDoc)
    clean = {"records": records, "a": bench_a, "b": bench_b} | "Decon" >> Decontaminate(
        benchmarks=["a", "b"], benchmark_fields=["question"], fields=["question"]
    )
    assert_that(clean | beam.Map(lambda d: d.id), equal_to([unrelated.id]))
    assert_that(
        stage_outputs(p, "Decon").rejected | beam.Map(lambda r: (r.id, r.reason, r.kept_id)),
        equal_to(
            [(copied.id, "contaminated", BENCH[0].id), (second.id, "contaminated", BENCH[1].id)]
        ),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.Decontaminate")
    # Benchmark items are not records of the stage: only the three records are counted.
    assert (c["seen"], c["passed"], c["filtered:contaminated"]) == (3, 1, 2)


def test_decontaminate_benchmark_inputs_must_be_named_inputs():
    p = new_pipeline()
    records = p | "Records" >> beam.Create(BENCH).with_output_types(RawDoc)
    with pytest.raises(ValueError, match="needs a map input"):
        _ = records | "One" >> Decontaminate(benchmarks=["cmmlu"])
    with pytest.raises(ValueError, match=r"missing \['cmmlu'\]"):
        _ = {"records": records} | "Two" >> Decontaminate(benchmarks=["cmmlu"])
    with pytest.raises(ValueError, match="at least one other input"):
        _ = {"cmmlu": records} | "Three" >> Decontaminate(benchmarks=["cmmlu"])


def test_decontaminate_config_errors(tmp_path):
    exact = _index(tmp_path, kind="exact")
    with pytest.raises(ValueError, match="is a exact index; Decontaminate needs ngram"):
        Decontaminate(against=[exact])
    with pytest.raises(ValueError, match="against must list"):
        Decontaminate(against=[])
    with pytest.raises(ValueError, match="min_overlap"):
        Decontaminate(against=[_index(tmp_path)], min_overlap=0)


def test_dedup_exact_against_an_index_of_a_previous_run(tmp_path):
    index = str(tmp_path / "released")
    first = [raw_doc("e1", answer="固定起床时间。"), raw_doc("e2", answer="睡前别看手机。")]
    p = new_pipeline()
    (
        p
        | beam.Create(first).with_output_types(RawDoc)
        | DedupExact(fields=["answer"], index_out=index)
    )
    p.run().wait_until_finish()

    second = [
        raw_doc("e3", answer="固定起床時間！"),  # seen before, in another script
        raw_doc("e4", answer="白天多运动。"),
        raw_doc("e5", answer="白天多运动"),  # a duplicate inside this run
    ]
    p = new_pipeline()
    kept = (
        p
        | beam.Create(second).with_output_types(RawDoc)
        | "Dedup" >> DedupExact(fields=["answer"], against=[index])
    )
    assert_that(kept | beam.Map(lambda d: d.id), equal_to([second[1].id]))
    assert_that(
        stage_outputs(p, "Dedup").rejected | beam.Map(lambda r: (r.id, r.reason, r.kept_id)),
        equal_to(
            [
                (second[0].id, "duplicate_of_index", first[0].id),
                (second[2].id, "duplicate", second[1].id),
            ]
        ),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.DedupExact")
    assert c["filtered:duplicate_of_index"] == 1 and c["filtered:duplicate"] == 1


def test_an_exact_index_needs_the_same_normalization(tmp_path):
    index = _index(tmp_path, kind="exact")
    with pytest.raises(ValueError, match="opencc: index 't2s', here None"):
        DedupExact(against=[index], opencc=None)
