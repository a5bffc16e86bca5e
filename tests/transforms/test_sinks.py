"""WriteCqiaParquet: layout, side outputs, manifest, sharding, reruns, hostile partition values."""

import hashlib
import json
import os

import apache_beam as beam
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from beam_cqia.card import length_summary
from beam_cqia.records import CqiaRecord, RawDoc, TaskType
from beam_cqia.transforms import FilterByScore, TagSchema, WriteCqiaParquet
from tests.conftest import counters, new_pipeline
from tests.factories import cqia_record, raw_doc


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
        "README.md",
        "_SUCCESS",
        "_manifest.json",
        "data/subset=exam/part-00000-of-00001.parquet",
        "data/subset=zhihu/part-00000-of-00001.parquet",
        "errors/subset=zhihu/part-00000-of-00001.parquet",
        "rejected/subset=zhihu/part-00000-of-00001.parquet",
        "report.html",
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
            "thresholds": [{"name": "score", "signal": "score", "min": 2.0}],
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
        "README.md",
        "_SUCCESS",
        "_manifest.json",
        "data/subset=zhihu/part-00000-of-00001.parquet",
        "report.html",
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
    assert _files(out) == ["README.md", "_SUCCESS", "_manifest.json", "report.html"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "No records were written." in page and "No record was rejected." in page
    assert "**0 records** in 0 subset(s)." in (out / "README.md").read_text(encoding="utf-8")
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


# --- the dataset card (README.md) ---------------------------------------------------------------


def _card_records() -> list[CqiaRecord]:
    records = [
        cqia_record(
            f"z{i}",
            instruction="问" * (i + 1),
            output="答" * (10 * (i + 1)),
            signals={"score": 1.0},
        )
        for i in range(10)
    ]
    records += [
        cqia_record(
            f"e{i}",
            source="exam",
            instruction="题" * 5,
            output="解" * 100,
            task_type=TaskType(["试题"], ["考研", "选择题"]),
            domain=["数学", f"专题{i:02d}"],
            answer_from="expert",
            human_verified=True,
            signals={"score": 1.0},
        )
        for i in range(40)
    ]
    return records


def _table_row(card: str, first_cell: str) -> list[str]:
    for line in card.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row {first_cell!r} in the card")


def test_dataset_card_statistics_funnel_and_loading(tmp_path):
    out = tmp_path / "out"
    low = cqia_record("low", signals={"score": -1.0})
    p = new_pipeline()
    (
        p
        | beam.Create([*_card_records(), low]).with_output_types(CqiaRecord)
        | "Filter" >> FilterByScore(rules=[{"signal": "score", "min": 0}])
        | "Write" >> WriteCqiaParquet(str(out))
    )
    p.run().wait_until_finish()
    card = (out / "README.md").read_text(encoding="utf-8")
    manifest = json.loads((out / "_manifest.json").read_text())

    assert "**50 records** in 2 subset(s)." in card
    # zhihu: instruction lengths 1..10, outputs 10..100 (nearest-rank percentiles).
    header = _table_row(card, "subset")
    percentiles = [f"instruction p{q}" for q in (10, 50, 90)]
    assert header[:7] == ["subset", "records", "share", *percentiles, "instruction mean"]
    assert _table_row(card, "zhihu") == [
        "zhihu", "10", "20.0%", "1", "5", "9", "5.5", "10", "50", "90", "55.0"
    ]  # fmt: skip
    assert _table_row(card, "exam")[:7] == ["exam", "40", "80.0%", "5", "5", "5", "5.0"]
    assert _table_row(card, "**all**")[:3] == ["**all**", "50", "100.0%"]
    # Label distributions: shares of all records; long tails summed into one row.
    assert _table_row(card, "试题") == ["试题", "40", "80.0%"]
    assert _table_row(card, "选择题") == ["选择题", "40", "80.0%"]
    assert _table_row(card, "数学") == ["数学", "40", "80.0%"]
    # 42 domains (数学, 通用, 专题00..39): the top 30, then the other 12 in one row.
    assert _table_row(card, "(12 other values)") == ["(12 other values)", "12", ""]
    assert _table_row(card, "expert") == ["expert", "40", "80.0%"]
    assert _table_row(card, "(empty)") == ["(empty)", "10", "20.0%"]  # answer_from ""
    assert _table_row(card, "true") == ["true", "40", "80.0%"]
    # The funnel is the manifest's.
    assert manifest["stages"]["Filter"]["in"] == 51
    assert _table_row(card, "Filter") == [
        "Filter", "FilterByScore", "51", "50", "1", "0", "score_below_min: 1", ""
    ]  # fmt: skip
    assert _table_row(card, "Write")[:4] == ["Write", "WriteCqiaParquet", "50", "50"]
    assert "no Beam YAML spec was recorded" in card
    assert f"- beam_cqia {manifest['versions']['beam_cqia']}" in card
    assert 'pd.read_parquet("data")' in card
    assert 'Dataset.from_pandas(df.drop(columns=["signals"])' in card


def test_dataset_card_snippets_load_the_data(tmp_path, monkeypatch):
    out = tmp_path / "out"
    _write(_card_records(), out)
    pd = pytest.importorskip("pandas")
    monkeypatch.chdir(out)  # the card's snippets run from the output directory
    df = pd.read_parquet("data")
    assert sorted(df["subset"].astype(str).value_counts().items()) == [("exam", 40), ("zhihu", 10)]
    one = pd.read_parquet("data", filters=[("subset", "==", "exam")])
    assert len(one) == 40
    card = (out / "README.md").read_text(encoding="utf-8")
    assert """filters=[("subset", "==", "exam")]""" in card
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_pandas(df.drop(columns=["signals"]), preserve_index=False)
    assert ds.num_rows == 50
    assert sorted(ds.features) == sorted(c for c in df.columns if c != "signals")
    exam = ds.filter(lambda row: row["subset"] == "exam")
    assert exam[0]["task_type"]["minor"] == ["考研", "选择题"]


def test_dataset_card_records_the_spec_from_display_data(tmp_path):
    template = "pipeline:\n  transforms: []  # {{ output }} {{ api_key }}\n"
    rendered = "pipeline:\n  transforms: []  # /out sk-123\n"
    display = {
        "yaml": rendered,
        "yaml_jinja_template": template,
        "yaml_jinja_variables": json.dumps({"output": "/out", "api_key": "sk-123"}),
        "yaml_pipeline_file": "pipelines/x.yaml",
    }
    out = tmp_path / "out"
    p = beam.Pipeline(runner=FnApiRunner(), display_data=display)
    (
        p
        | beam.Create([cqia_record("s")]).with_output_types(CqiaRecord)
        | "Write" >> WriteCqiaParquet(str(out))
    )
    p.run().wait_until_finish()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "- spec: `pipelines/x.yaml`" in card
    assert f"sha256 of the rendered spec: `{hashlib.sha256(rendered.encode()).hexdigest()}`" in card
    assert f"sha256 of the spec template: `{hashlib.sha256(template.encode()).hexdigest()}`" in card
    assert "- variable `output` = `/out`" in card
    assert "- variable `api_key` = `***`" in card
    assert "sk-123" not in card  # the template is shown, never the rendered secret
    assert "```yaml\n" + template in card


def test_dataset_card_unpartitioned_and_raw_docs(tmp_path):
    out = tmp_path / "out"
    p = new_pipeline()
    docs = [raw_doc(f"r{i}", question="问题" * i, answer="回答" * i) for i in range(1, 4)]
    (
        p
        | beam.Create(docs).with_output_types(RawDoc)
        | "Write" >> WriteCqiaParquet(str(out), partition_by=[])
    )
    p.run().wait_until_finish()
    card = (out / "README.md").read_text(encoding="utf-8")
    assert _table_row(card, "zhihu")[:3] == ["zhihu", "3", "100.0%"]
    assert "question p50" in card and "answer p90" in card and "instruction p50" not in card
    assert "## task_type.major" not in card and "## source" in card
    assert "filters=" not in card  # no subset partitions to filter on


def test_length_summary_nearest_rank():
    assert length_summary({}) == {
        "count": 0, "total": 0, "min": 0, "max": 0, "p10": 0, "p50": 0, "p90": 0
    }  # fmt: skip
    s = length_summary({3: 1})
    assert (s["p10"], s["p50"], s["p90"], s["total"]) == (3, 3, 3, 3)
    s = length_summary({1: 9, 100: 1})
    assert (s["p10"], s["p50"], s["p90"], s["max"]) == (1, 1, 1, 100)
    s = length_summary({1: 8, 100: 2})
    assert (s["p90"], s["count"], s["total"]) == (100, 10, 208)
