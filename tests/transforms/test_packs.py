"""Shuffles in packs (DedupExact, DedupMinHash's joins, the sink): whatever the pack sizes and
flushes, and in windows where nothing is held across elements, the outputs are the same."""

import collections
import pickle
import random
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pytest
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import window

from beam_cqia.records import CqiaRecord
from beam_cqia.text.ids import stable_bucket
from beam_cqia.transforms import (
    DedupExact,
    DedupMinHash,
    WriteCqiaParquet,
    _packs,
    neardup,
    sinks,
    stage_outputs,
)
from tests.conftest import new_pipeline
from tests.factories import cqia_record

SENTENCES = [
    "黄河发源于青藏高原巴颜喀拉山脉，流经九个省区，最后注入渤海。",
    "豆腐的做法是先把黄豆泡软磨成浆，煮开后点入卤水或石膏，使蛋白质凝固成块。",
    "学习编程最好的办法是动手写小项目，遇到问题再查文档，逐步积累经验。",
    "跑步前要充分热身，活动脚踝和膝盖，跑后再做拉伸，可以减少运动损伤。",
    "唐诗宋词是中国古典文学的高峰，李白杜甫苏轼辛弃疾都留下了大量名篇。",
    "春节前后人们大扫除、贴春联、吃团圆饭，长辈还会给孩子发压岁钱。",
]


def _corpus() -> list[CqiaRecord]:
    """Records over two subsets with exact copies, near copies and unrelated texts."""
    rng = random.Random(7)
    records = []
    for i in range(60):
        picked = rng.sample(SENTENCES, 3)
        text = "".join(picked)
        if i % 5 == 1:  # an exact copy of the previous text (after normalization)
            text = records[-1].output.replace("，", ",")
        elif i % 5 == 2:  # a near copy of an earlier text
            text = records[-2].output[:-4] + "真的。"
        subset = "zhihu" if i % 3 else "baike"
        records.append(cqia_record(f"p{i}", source=subset, output=text, subset=subset))
    return records


def _run(out: str, near: bool = True) -> None:
    p = new_pipeline()
    kept = p | beam.Create(_corpus()).with_output_types(CqiaRecord)
    kept = kept | "Exact" >> DedupExact(fields=["output"])
    if near:
        kept = kept | "Near" >> DedupMinHash(fields=["output"], threshold=0.6)
    _ = kept | "Write" >> WriteCqiaParquet(out, max_records_per_file=7)
    p.run().wait_until_finish()


def _row(record, reason=None) -> tuple:
    return record.id, reason, record.cluster_id, sorted((record.signals or {}).items())


def _read(out) -> dict[str, list[tuple]]:
    got = {}
    for kind in ("data", "rejected"):
        table = ds.dataset(str(out / kind), format="parquet", partitioning="hive").to_table()
        rows = table.to_pylist()
        got[kind] = sorted(
            (r["id"], r.get("reason"), r["cluster_id"], sorted(r["signals"] or [])) for r in rows
        )
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("part-*.parquet"))
    got["files"] = files
    return got


def test_small_packs_and_flushes_give_the_same_outputs(tmp_path, monkeypatch):
    _run(str(tmp_path / "default"))
    monkeypatch.setattr(_packs, "FLUSH_ITEMS", 3)
    monkeypatch.setattr(neardup, "_CHUNK", 2)
    monkeypatch.setattr(sinks, "_PACK_RECORDS", 2)
    _run(str(tmp_path / "small"))
    default, small = _read(tmp_path / "default"), _read(tmp_path / "small")
    assert small == default
    reasons = collections.Counter(r[1] for r in default["rejected"])
    assert reasons["duplicate"] >= 5 and reasons["near_duplicate"] >= 5  # not a trivial case
    assert len(default["data"]) + len(default["rejected"]) == 60
    # several part files in a partition
    assert any(not f.endswith("-of-00001.parquet") for f in default["files"])


def test_windowed_input_packs_per_element_and_gives_the_same_outputs(tmp_path):
    # DedupExact in windows (DedupMinHash's connected components need the global window).
    _run(str(tmp_path / "global"), near=False)
    want = _read(tmp_path / "global")
    p = new_pipeline()
    kept = (
        p
        | beam.Create(_corpus()).with_output_types(CqiaRecord)
        | beam.Map(lambda r: window.TimestampedValue(r, 5)).with_output_types(CqiaRecord)
        | beam.WindowInto(window.FixedWindows(60))
        | "Exact" >> DedupExact(fields=["output"])
    )
    rejected = [stage_outputs(p, "Exact").rejected]
    assert_that(kept | "Kept" >> beam.Map(_row), equal_to(want["data"]), label="data")
    assert_that(
        rejected | beam.Flatten() | "Rejected" >> beam.Map(lambda r: _row(r, r.reason)),
        equal_to(want["rejected"]),
        label="rejected",
    )
    p.run().wait_until_finish()


@pytest.mark.parametrize("hold", [True, False])
def test_pack_by_shard_emits_every_item_once_in_its_shard(monkeypatch, hold):
    monkeypatch.setattr(_packs, "FLUSH_ITEMS", 10)
    fn = _packs.PackByShardFn("t", hold, shards=8, pickled=True)
    fn.start_bundle()
    items = [(f"k{i % 17}", {"n": i}) for i in range(100)]
    out = [o for item in items for o in fn.process(item)]
    out += [wv.value for wv in fn.finish_bundle()]
    seen = []
    for shard, (tag, pack) in out:
        assert tag == "t" and pack
        assert isinstance(pack[1], bytes)  # sealed
        assert all(stable_bucket(k, 8) == shard for k in _packs.pack_keys(pack))
        seen += [(k, pickle.loads(v)["n"]) for k, v in _packs.unpack(pack)]
    assert sorted(seen) == sorted((k, v["n"]) for k, v in items)
    if hold:
        assert len(out) < 100  # items shared packs
    else:
        assert len(out) == 100  # one pack per item, in its element's window
    assert list(_packs.items([s[1] for s in out], "other")) == []


def test_sealed_packs_round_trip_and_take_less_room():
    records = _corpus()
    pack = [(r.id, pickle.dumps(r, pickle.HIGHEST_PROTOCOL)) for r in records]
    sealed = _packs.seal_pack(pack)
    assert _packs.pack_keys(sealed) == [r.id for r in records]
    assert list(_packs.unpack(sealed)) == pack
    assert [pickle.loads(v) for _, v in _packs.unpack(sealed)] == records
    # repeated sentences: the pack shrinks far below its pickled size
    assert len(sealed[1]) < 0.5 * sum(len(v) for _, v in pack)
    # plain (unsealed) packs read the same way
    assert list(_packs.unpack(pack)) == pack and _packs.pack_keys(pack) == sealed[0]
    assert _packs.unseal(_packs.seal([])) == []


def test_part_writer_streams_row_groups_with_pq_write_table_bytes(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from beam_cqia.records import arrow_row, arrow_schema

    records = _corpus()
    exclude = ("subset",)
    writer = sinks._WriteShardFn(str(tmp_path), "data", CqiaRecord, exclude, 7, "zstd", "Write")
    writer.setup()
    # two sealed packs, out of id order, as the GroupByKey hands them to the writer
    shuffled = random.Random(3).sample(records, len(records))
    packs = [
        _packs.seal_pack([(r.id, pickle.dumps(r)) for r in shuffled[:25]]),
        _packs.seal_pack([(r.id, pickle.dumps(r)) for r in shuffled[25:]]),
    ]
    (written,) = writer.process((("subset=zhihu", 0, 1), packs))
    assert written["records"] == len(records)
    got = pq.ParquetFile(written["tmp"])
    assert got.metadata.num_row_groups == -(-len(records) // 7)
    assert got.read().column("id").to_pylist() == sorted(r.id for r in records)
    # the same bytes as writing the whole sorted table at once
    rows = sorted((arrow_row(r, exclude) for r in records), key=lambda r: r["id"])
    whole = tmp_path / "whole.parquet"
    table = pa.Table.from_pylist(rows, schema=arrow_schema(CqiaRecord, exclude))
    pq.write_table(table, whole, row_group_size=7, compression="zstd")
    assert Path(written["tmp"]).read_bytes() == whole.read_bytes()
    # no records: a file with the schema and no rows
    (empty,) = writer.process((("subset=zhihu", 1, 2), []))
    assert empty["records"] == 0 and pq.read_table(empty["tmp"]).num_rows == 0
