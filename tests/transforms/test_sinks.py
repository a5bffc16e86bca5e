"""WriteCqiaParquet: layout, side outputs, manifest, sharding, reruns, hostile partition values."""

import json
import os

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from beam_cqia.records import CqiaRecord
from beam_cqia.transforms import FilterByScore, TagSchema, WriteCqiaParquet
from tests.conftest import counters, new_pipeline
from tests.factories import cqia_record


def _files(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


def _write(records, out, **config):
    p = new_pipeline()
    (
        p
        | beam.Create(records).with_output_types(CqiaRecord)
        | "Write" >> WriteCqiaParquet(str(out), **config)
    )
    result = p.run()
    result.wait_until_finish()
    return result


def test_layout_side_outputs_and_manifest(tmp_path):
    records = [cqia_record(f"z{i}", signals={"score": float(i)}) for i in range(4)] + [
        cqia_record(f"e{i}", source="exam", signals={"score": 9.0}) for i in range(3)
    ]
    broken = cqia_record(
        "bad", task_type=cqia_record("x").task_type._replace(major=["闲聊"]), signals={"score": 9.0}
    )
    out = tmp_path / "out"
    p = new_pipeline()
    (
        p
        | beam.Create([*records, broken]).with_output_types(CqiaRecord)
        | "Filter" >> FilterByScore(rules=[{"signal": "score", "min": 2}])
        | "Tag" >> TagSchema(sources={"*": {"answer_from": "human"}})
        | "Write" >> WriteCqiaParquet(str(out))
    )
    result = p.run()
    result.wait_until_finish()

    assert _files(out) == [
        "_SUCCESS",
        "_manifest.json",
        "data/subset=exam/part-00000-of-00001.parquet",
        "data/subset=zhihu/part-00000-of-00001.parquet",
        "errors/subset=zhihu/part-00000-of-00001.parquet",
        "rejected/subset=zhihu/part-00000-of-00001.parquet",
    ]
    zhihu = pq.read_table(out / "data/subset=zhihu/part-00000-of-00001.parquet")
    assert "subset" not in zhihu.column_names  # it is in the path (hive style)
    ids = zhihu.column("id").to_pylist()
    assert ids == sorted(ids) and len(ids) == 2
    data = ds.dataset(out / "data", format="parquet", partitioning="hive").to_table()
    assert sorted(data.column("subset").to_pylist()) == ["exam"] * 3 + ["zhihu"] * 2
    row = data.to_pylist()[0]
    assert row["answer_from"] == "human" and row["task_type"]["major"] == ["问答"]

    rejected = pq.read_table(out / "rejected/subset=zhihu/part-00000-of-00001.parquet").to_pylist()
    assert sorted(r["reason"] for r in rejected) == ["score_below_min", "score_below_min"]
    assert all(json.loads(r["record"])["source"] == "zhihu" for r in rejected)
    errors = pq.read_table(out / "errors/subset=zhihu/part-00000-of-00001.parquet").to_pylist()
    assert [(e["id"], e["stage"], e["kind"]) for e in errors] == [
        (broken.id, "Tag", "SchemaViolationError")
    ]
    assert json.loads(errors[0]["element"])["task_type"]["major"] == ["闲聊"]

    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["stages"] == {
        "Filter": {
            "transform": "FilterByScore",
            "in": 8,
            "out": 6,
            "rejected": {"score_below_min": 2},
            "errors": 0,
        },
        "Tag": {
            "transform": "TagSchema",
            "in": 6,
            "out": 5,
            "rejected": {},
            "errors": 1,
            "error_kinds": {"SchemaViolationError": 1},
        },
        "Write": {"transform": "WriteCqiaParquet", "in": 5, "out": 5, "rejected": {}, "errors": 0},
    }
    assert manifest["outputs"]["data"]["partitions"] == {"subset=exam": 3, "subset=zhihu": 2}
    assert manifest["outputs"]["rejected"]["records"] == 2
    assert manifest["outputs"]["errors"]["files"] == [
        {"path": "errors/subset=zhihu/part-00000-of-00001.parquet", "records": 1}
    ]
    assert counters(result, "beam_cqia.WriteCqiaParquet") == {"seen": 5, "passed": 5}


def test_sharding_reruns_and_stale_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "NOTES.txt").write_text("kept: not ours")
    records = [cqia_record(f"r{i}") for i in range(7)]
    _write(records, out, max_records_per_file=3)
    first = _files(out)
    assert [f for f in first if f.startswith("data/")] == [
        f"data/subset=zhihu/part-0000{i}-of-00003.parquet" for i in range(3)
    ]
    tables = [pq.read_table(out / f) for f in first if f.startswith("data/")]
    assert sum(t.num_rows for t in tables) == 7  # every -of-N file exists, even an empty one
    manifest = json.loads((out / "_manifest.json").read_text())
    assert sum(f["records"] for f in manifest["outputs"]["data"]["files"]) == 7

    _write(records[:2], out, max_records_per_file=100)
    assert _files(out) == [
        "NOTES.txt",
        "_SUCCESS",
        "_manifest.json",
        "data/subset=zhihu/part-00000-of-00001.parquet",
    ]
    assert pq.read_table(out / "data/subset=zhihu/part-00000-of-00001.parquet").num_rows == 2


def test_reruns_are_byte_identical(tmp_path):
    records = [cqia_record(f"d{i}", source=("zhihu", "exam")[i % 2]) for i in range(20)]
    a, b = tmp_path / "a", tmp_path / "b"
    _write(records, a, max_records_per_file=4)
    _write(list(reversed(records)), b, max_records_per_file=4)
    assert _files(a) == _files(b)
    for rel in _files(a):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_hostile_partition_values_stay_inside_and_apart(tmp_path):
    subsets = ["..", "a/b", "", "x" * 300, "a_2fb", "通用 问答"]
    records = [cqia_record(f"h{i}", subset=s) for i, s in enumerate(subsets)]
    out = tmp_path / "out"
    _write(records, out)
    data_files = [f for f in _files(out) if f.startswith("data/")]
    assert len(data_files) == len(subsets)  # no two values share a directory
    for rel in data_files:
        real = os.path.realpath(out / rel)
        assert real.startswith(os.path.realpath(out / "data") + os.sep)
        segment = rel.split("/")[1]
        assert segment.startswith("subset=") and len(segment.encode()) <= 128 + len("subset=")
    assert not any(p.name == ".." for p in (tmp_path).iterdir())


def test_empty_input_still_finishes_the_output(tmp_path):
    out = tmp_path / "out"
    _write([], out)
    assert _files(out) == ["_SUCCESS", "_manifest.json"]
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["stages"]["Write"]["in"] == 0
    assert manifest["outputs"]["data"]["records"] == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"path": ""}, "path must name"),
        ({"path": "o", "partition_by": "subset"}, "partition_by must be a list"),
        ({"path": "o", "partition_by": ["subset", "subset"]}, "repeats"),
        ({"path": "o", "max_records_per_file": 0}, "max_records_per_file must be a positive"),
        ({"path": "o", "row_group_rows": True}, "row_group_rows must be a positive"),
        ({"path": "o", "compression": "lz4x"}, "compression must be one of"),
    ],
)
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        WriteCqiaParquet(**kwargs)


def test_partition_by_must_name_record_fields(tmp_path):
    p = new_pipeline()
    records = p | beam.Create([cqia_record("p")]).with_output_types(CqiaRecord)
    with pytest.raises(ValueError, match=r"partition_by \['language'\] are not fields"):
        records | WriteCqiaParquet(str(tmp_path), partition_by=["subset", "language"])


def test_unpartitioned_output_and_rerun(tmp_path):
    out = tmp_path / "out"
    for _ in range(2):  # the rerun must not delete what it just wrote
        _write([cqia_record(f"u{i}") for i in range(5)], out, partition_by=[])
        assert [f for f in _files(out) if f.startswith("data")] == [
            "data/part-00000-of-00001.parquet"
        ]
        assert pq.read_table(out / "data/part-00000-of-00001.parquet").num_rows == 5
