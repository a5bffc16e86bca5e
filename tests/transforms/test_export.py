"""ExportCqiaJsonl, ExportChat and SampleSubsets: layout, bytes, reruns, sampling, chat formats."""

import json
import os
import typing

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import CQIA_PUBLISHED_FIELDS, CqiaRecord, TaskType
from beam_cqia.transforms import (
    ExportChat,
    ExportCqiaJsonl,
    SampleSubsets,
    WriteCqiaParquet,
    stage_outputs,
)
from beam_cqia.transforms.export import json_line
from tests.conftest import CORPORA, counters, gcs_objects, new_pipeline
from tests.factories import cqia_record

REAL_FILE = CORPORA / "coig-cqia" / "ruozhiba" / "ruozhiba_ruozhiba.jsonl"


def _files(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs
    )


def _run(records, transform):
    p = new_pipeline()
    paths = p | beam.Create(records).with_output_types(CqiaRecord) | "Export" >> transform
    result = p.run()
    result.wait_until_finish()
    return result, paths


def _lines(path) -> list[dict]:
    # Split on b"\n" only, as a JSON-lines reader does.
    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line]


def _records() -> list[CqiaRecord]:
    return [cqia_record(f"z{i}", output=f"回答{i}") for i in range(5)] + [
        cqia_record(f"e{i}", source="exam", input=f"题目{i}", output=f"答案{i}") for i in range(3)
    ]


# --- ExportCqiaJsonl ---------------------------------------------------------------------------


def test_published_layout_field_order_and_sorting(tmp_path):
    out = tmp_path / "out"
    p = new_pipeline()
    paths = (
        p
        | beam.Create(_records()).with_output_types(CqiaRecord)
        | "Export" >> ExportCqiaJsonl(str(out))
    )
    assert_that(paths, equal_to([str(out / "exam/exam.jsonl"), str(out / "zhihu/zhihu.jsonl")]))
    result = p.run()
    result.wait_until_finish()

    assert _files(out) == ["_SUCCESS", "_manifest.json", "exam/exam.jsonl", "zhihu/zhihu.jsonl"]
    zhihu = _lines(out / "zhihu/zhihu.jsonl")
    assert len(zhihu) == 5
    assert all(list(obj) == list(CQIA_PUBLISHED_FIELDS) for obj in zhihu)
    assert list(zhihu[0]["task_type"]) == ["major", "minor"]
    by_id = {r.id: r for r in _records()}
    ids = sorted(r.id for r in _records() if r.subset == "zhihu")
    assert [obj["output"] for obj in zhihu] == [by_id[i].output for i in ids]
    # Written as the published files are: ensure_ascii=False, default separators.
    first = (out / "zhihu/zhihu.jsonl").read_text(encoding="utf-8").split("\n")[0]
    assert first.startswith('{"instruction": "为什么天空是蓝色的？", "input": "", ')
    manifest = json.loads((out / "_manifest.json").read_text())
    assert manifest["records"] == 8
    assert manifest["files"] == [
        {"path": "exam/exam.jsonl", "records": 3},
        {"path": "zhihu/zhihu.jsonl", "records": 5},
    ]
    assert counters(result, "beam_cqia.ExportCqiaJsonl") == {"seen": 8, "passed": 8}


def test_line_breaks_inside_strings_are_escaped(tmp_path):
    nasty = "第一段\u2028第二段\u2029第三段\f第四段\x85第五段\v\x1c\r\n完"
    records = [
        cqia_record("a", output=nasty, instruction="问\u2028题"),
        cqia_record("b", metadata="k:v\u2029"),
    ]
    out = tmp_path / "out"
    _run(records, ExportCqiaJsonl(str(out)))
    data = (out / "zhihu/zhihu.jsonl").read_bytes()
    text = data.decode("utf-8")
    for raw in ("\u2028", "\u2029", "\f", "\x85", "\v", "\x1c", "\r"):
        assert raw not in text, repr(raw)
    assert "\\u2028" in text and "\\f" in text and "\\u0085" in text
    assert len(text.splitlines()) == 2  # str.splitlines splits on all of the above
    parsed = {obj["metadata"]: obj for obj in map(json.loads, text.splitlines())}
    assert parsed[""]["output"] == nasty and parsed[""]["instruction"] == "问\u2028题"
    assert "k:v\u2029" in parsed
    assert json_line({"x": "\u2028"}) == '{"x": "\\u2028"}'


def test_two_runs_give_identical_bytes(tmp_path):
    records = _records() + [cqia_record(f"s{i}", subset="zhihu") for i in range(20)]
    for shards in (None, 3):
        runs = []
        for n, order in enumerate((records, list(reversed(records)))):
            out = tmp_path / f"run{shards}-{n}"
            _run(order, ExportCqiaJsonl(str(out), num_shards=shards))
            runs.append({f: (out / f).read_bytes() for f in _files(out)})
        assert runs[0] == runs[1]
    assert sorted(runs[0]) == [
        "_SUCCESS",
        "_manifest.json",
        *(f"exam/part-0000{i}-of-00003.jsonl" for i in range(3)),
        *(f"zhihu/part-0000{i}-of-00003.jsonl" for i in range(3)),
    ]
    total = sum(len(_lines(tmp_path / "run3-0" / f)) for f in runs[0] if f.endswith(".jsonl"))
    assert total == len(records)


def test_empty_shards_are_written(tmp_path):
    out = tmp_path / "out"
    _run([cqia_record("only")], ExportCqiaJsonl(str(out), num_shards=4))
    files = [f for f in _files(out) if f.endswith(".jsonl")]
    assert files == [f"zhihu/part-0000{i}-of-00004.jsonl" for i in range(4)]
    assert sum(len(_lines(out / f)) for f in files) == 1


def test_rerun_removes_stale_and_half_files(tmp_path):
    out = tmp_path / "out"
    _run(_records(), ExportCqiaJsonl(str(out)))
    (out / "_temporary").mkdir()
    (out / "_temporary" / "half.jsonl").write_text('{"instruction": "半')
    (out / "notes").mkdir()
    (out / "notes" / "readme.txt").write_text("kept: not a .jsonl file")
    _run([cqia_record("z0"), cqia_record("z1")], ExportCqiaJsonl(str(out)))
    assert _files(out) == ["_SUCCESS", "_manifest.json", "notes/readme.txt", "zhihu/zhihu.jsonl"]
    assert len(_lines(out / "zhihu/zhihu.jsonl")) == 2


def test_failed_run_leaves_previous_output(tmp_path):
    out = tmp_path / "out"
    _run(_records(), ExportCqiaJsonl(str(out)))
    before = {f: (out / f).read_bytes() for f in _files(out)}
    broken = beam.Row(id="x", subset="zhihu", instruction="问", input="", output="答")
    p = new_pipeline()
    _ = (
        p
        | beam.Create([cqia_record("z9"), broken]).with_output_types(typing.Any)
        | ExportCqiaJsonl(str(out))
    )
    with pytest.raises(Exception, match="task_type"):
        p.run().wait_until_finish()
    after = {f: (out / f).read_bytes() for f in _files(out) if not f.startswith("_temporary")}
    assert after == before


def test_hostile_subset_names_stay_inside(tmp_path):
    out = tmp_path / "a" / "out"
    records = [
        cqia_record("1", subset=".."),
        cqia_record("2", subset="../../escape"),
        cqia_record("3", subset=""),
        cqia_record("4", subset="a/b"),
        cqia_record("5", subset="."),
    ]
    _run(records, ExportCqiaJsonl(str(out)))
    assert _files(tmp_path) == [
        f"a/out/{f}"
        for f in [
            ".._2f.._2fescape/.._2f.._2fescape.jsonl",
            "_2e/_2e.jsonl",
            "_2e_2e/_2e_2e.jsonl",
            "_SUCCESS",
            "__empty__/__empty__.jsonl",
            "_manifest.json",
            "a_2fb/a_2fb.jsonl",
        ]
    ]
    # A rerun without them removes their files too (encoded names may start with "_" or ".").
    _run([cqia_record("6", subset="zhihu")], ExportCqiaJsonl(str(out)))
    assert [f for f in _files(out) if f.endswith(".jsonl")] == ["zhihu/zhihu.jsonl"]
    assert sorted(os.listdir(out)) == ["_SUCCESS", "_manifest.json", "zhihu"]


def test_custom_file_name(tmp_path):
    out = tmp_path / "out"
    _run(_records(), ExportCqiaJsonl(str(out), file_name="{subset}_clean.jsonl"))
    assert [f for f in _files(out) if f.endswith(".jsonl")] == [
        "exam/exam_clean.jsonl",
        "zhihu/zhihu_clean.jsonl",
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"path": ""}, "path must name"),
        ({"path": "o", "file_name": "../x.jsonl"}, "file_name must be one file name"),
        ({"path": "o", "file_name": "a/{subset}.jsonl"}, "file_name must be one file name"),
        ({"path": "o", "file_name": "{subset}.json"}, "ending in .jsonl"),
        ({"path": "o", "file_name": "_x.jsonl"}, "file_name must be one file name"),
        ({"path": "o", "file_name": "{name}.jsonl"}, "placeholder"),
        ({"path": "o", "num_shards": 0}, "num_shards"),
        ({"path": "o", "num_shards": True}, "num_shards"),
    ],
)
def test_export_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ExportCqiaJsonl(**kwargs)


def test_sits_beside_write_cqia_parquet(tmp_path):
    p = new_pipeline()
    records = p | beam.Create(_records()).with_output_types(CqiaRecord)
    _ = records | "Sample" >> SampleSubsets(quotas={"zhihu": 2})
    sampled = stage_outputs(p, "Sample").good
    _ = sampled | "Jsonl" >> ExportCqiaJsonl(str(tmp_path / "jsonl"))
    _ = sampled | "Parquet" >> WriteCqiaParquet(str(tmp_path / "parquet"))
    p.run().wait_until_finish()
    manifest = json.loads((tmp_path / "parquet" / "_manifest.json").read_text())
    assert manifest["stages"]["Sample"]["rejected"] == {"not_sampled": 3}
    assert manifest["outputs"]["rejected"]["records"] == 3
    assert len(_lines(tmp_path / "jsonl/zhihu/zhihu.jsonl")) == 2


# --- Hugging Face datasets and the real files --------------------------------------------------


def _hf_load(path, cache):
    datasets = pytest.importorskip("datasets")
    return datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(cache))


def test_hf_datasets_loads_the_export(tmp_path):
    datasets = pytest.importorskip("datasets")
    out = tmp_path / "out"
    records = [cqia_record("a", output="x\u2028y"), cqia_record("b", human_verified=True)]
    _run(records, ExportCqiaJsonl(str(out)))
    ds = _hf_load(out / "zhihu/zhihu.jsonl", tmp_path / "cache")
    assert ds.column_names == list(CQIA_PUBLISHED_FIELDS)
    strings = datasets.Value("string")
    assert ds.features["task_type"]["major"] == datasets.List(strings)
    assert ds.features["domain"] == datasets.List(strings)
    assert ds.features["human_verified"] == datasets.Value("bool")
    assert ds.num_rows == 2 and "x\u2028y" in ds["output"]


@pytest.mark.corpora
def test_export_matches_a_real_coig_cqia_file(tmp_path):
    if not REAL_FILE.is_file():
        pytest.skip(f"real corpora not found at {REAL_FILE}; this test needs ../shared/corpora")
    real_first = json.loads(REAL_FILE.read_bytes().split(b"\n", 1)[0])
    out = tmp_path / "out"
    records = [
        cqia_record(
            "a",
            subset="ruozhiba",
            task_type=TaskType(["问答"], ["逻辑问答", "隐喻理解"]),
            metadata="暂无元数据信息",
            answer_from="llm",
            human_verified=True,
            copyright="暂无版权及作者信息",
        )
    ]
    _run(records, ExportCqiaJsonl(str(out)))
    ours_bytes = (out / "ruozhiba/ruozhiba.jsonl").read_bytes()
    ours = json.loads(ours_bytes)
    assert list(ours) == list(real_first)
    assert list(ours["task_type"]) == list(real_first["task_type"])
    # The same serialization as the published files (key order, separators, raw Chinese).
    assert ours_bytes.decode("utf-8").rstrip("\n") == json.dumps(ours, ensure_ascii=False)
    pytest.importorskip("datasets")
    real = _hf_load(REAL_FILE, tmp_path / "cache-real")
    mine = _hf_load(out / "ruozhiba/ruozhiba.jsonl", tmp_path / "cache-ours")
    assert mine.features == real.features
    assert mine.column_names == real.column_names


# --- SampleSubsets -----------------------------------------------------------------------------


def _sample_records() -> list[CqiaRecord]:
    return (
        [cqia_record(f"z{i}") for i in range(10)]
        + [cqia_record(f"e{i}", source="exam") for i in range(2)]
        + [cqia_record(f"x{i}", source="xhs") for i in range(4)]
        + [cqia_record(f"w{i}", source="wiki") for i in range(200)]
        + [cqia_record(f"d{i}", source="douban") for i in range(7)]
    )


# FnApiRunner runs in this process and pickles module-level functions by reference, so what
# _collect appends is visible here after the run.
_COLLECTED: dict[str, list] = {}


def _collect(item, key: str) -> None:
    _COLLECTED.setdefault(key, []).append(item)


def _sample(records, **config):
    _COLLECTED.clear()
    p = new_pipeline()
    good = (
        p | beam.Create(records).with_output_types(CqiaRecord) | "Sample" >> SampleSubsets(**config)
    )
    _ = good | "Kept" >> beam.Map(lambda r: (r.subset, r.id)) | "K" >> beam.Map(_collect, "kept")
    _ = (
        stage_outputs(p, "Sample").rejected
        | "Dropped" >> beam.Map(lambda r: (r.subset, r.id, r.reason, r.stage))
        | "D" >> beam.Map(_collect, "dropped")
    )
    result = p.run()
    result.wait_until_finish()
    return result, sorted(_COLLECTED.get("kept", [])), sorted(_COLLECTED.get("dropped", []))


CONFIG = {
    "quotas": {"zhihu": 3, "exam": 5, "xhs": 0},
    "fractions": {"wiki": 0.5},
    "default_fraction": 1.0,
    "seed": 7,
}


def test_sampling_quotas_fractions_conservation_and_counters():
    records = _sample_records()
    result, kept, dropped = _sample(records, **CONFIG)
    per_subset: dict[str, int] = {}
    for subset, _ in kept:
        per_subset[subset] = per_subset.get(subset, 0) + 1
    assert per_subset["zhihu"] == 3  # quota
    assert per_subset["exam"] == 2  # fewer records than the quota: all kept
    assert "xhs" not in per_subset  # quota 0
    assert per_subset["douban"] == 7  # default_fraction 1.0
    assert 70 <= per_subset["wiki"] <= 130  # about half of 200
    # Conservation: every input leaves exactly once, kept or rejected.
    assert sorted([(s, i) for s, i in kept] + [(s, i) for s, i, _, _ in dropped]) == sorted(
        (r.subset, r.id) for r in records
    )
    assert {(reason, stage) for _, _, reason, stage in dropped} == {("not_sampled", "Sample")}
    assert counters(result, "beam_cqia.SampleSubsets") == {
        "seen": len(records),
        "passed": len(kept),
        "filtered:not_sampled": len(dropped),
    }


def test_sampling_is_deterministic_by_seed_and_nested():
    records = _sample_records()
    _, first, _ = _sample(records, **CONFIG)
    _, again, _ = _sample(list(reversed(records)), **CONFIG)
    assert first == again
    _, other, _ = _sample(records, **{**CONFIG, "seed": 8})
    assert other != first
    # The 3 zhihu records of the quota are its 3 lowest-ranked, so quota 5 contains them.
    _, bigger, _ = _sample(records, **{**CONFIG, "quotas": {"zhihu": 5}})
    assert {k for k in first if k[0] == "zhihu"} < {k for k in bigger if k[0] == "zhihu"}


def test_sampling_default_fraction_zero_rejects_the_rest():
    _, kept, dropped = _sample(_sample_records(), quotas={"exam": 1}, default_fraction=0.0)
    assert [s for s, _ in kept] == ["exam"]
    assert len(dropped) == len(_sample_records()) - 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"quotas": {"a": -1}}, "quotas.a must be a non-negative integer"),
        ({"quotas": {"a": 1.5}}, "quotas.a"),
        ({"fractions": {"a": 1.5}}, "fractions.a must be a number in"),
        ({"default_fraction": -0.1}, "default_fraction"),
        ({"quotas": {"a": 1}, "fractions": {"a": 0.5}}, "both a quota and a fraction"),
        ({"seed": "x"}, "seed must be an integer"),
    ],
)
def test_sampling_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SampleSubsets(**kwargs)


# --- ExportChat --------------------------------------------------------------------------------


def _chat(tmp_path, **config) -> list[dict]:
    out = tmp_path / config.get("format", "messages")
    records = [
        cqia_record("a", instruction="翻译成文言文：", input="我很高兴", output="吾甚喜"),
        cqia_record("b", instruction="为什么？", input="", output="因为。"),
    ]
    _run(records, ExportChat(str(out), **config))
    assert _files(out) == ["_SUCCESS", "_manifest.json", "zhihu/zhihu.jsonl"]
    rows = _lines(out / "zhihu/zhihu.jsonl")
    ids = [cqia_record("a").id, cqia_record("b").id]
    return rows if ids == sorted(ids) else list(reversed(rows))  # rows sorted by id: a, b


def test_chat_messages(tmp_path):
    a, b = _chat(tmp_path, format="messages", system="你是一个乐于助人的助手。")
    assert a == {
        "messages": [
            {"role": "system", "content": "你是一个乐于助人的助手。"},
            {"role": "user", "content": "翻译成文言文：\n我很高兴"},
            {"role": "assistant", "content": "吾甚喜"},
        ]
    }
    assert [m["role"] for m in b["messages"]] == ["system", "user", "assistant"]
    assert b["messages"][1]["content"] == "为什么？"


def test_chat_messages_without_system(tmp_path):
    a, _ = _chat(tmp_path, format="messages")
    assert [m["role"] for m in a["messages"]] == ["user", "assistant"]


def test_chat_sharegpt(tmp_path):
    a, b = _chat(tmp_path, format="sharegpt", system="系统")
    assert a == {
        "conversations": [
            {"from": "human", "value": "翻译成文言文：\n我很高兴"},
            {"from": "gpt", "value": "吾甚喜"},
        ],
        "system": "系统",
    }
    assert list(b) == ["conversations", "system"]


def test_chat_alpaca(tmp_path):
    a, b = _chat(tmp_path, format="alpaca")
    assert a == {"instruction": "翻译成文言文：", "input": "我很高兴", "output": "吾甚喜"}
    assert b == {"instruction": "为什么？", "input": "", "output": "因为。"}


def test_chat_config_errors():
    with pytest.raises(ValueError, match="format must be one of"):
        ExportChat("o", format="chatml")
    with pytest.raises(ValueError, match="system must be a string"):
        ExportChat("o", system=3)


# --- object stores -----------------------------------------------------------------------------


def test_exports_on_gcs(gcs_emulator, tmp_path):
    base = "gs://cqia-test/release"
    records = [*_records(), cqia_record("u", subset="", output="无子集\u2028记录")]
    _run(records, ExportCqiaJsonl(f"{base}/jsonl"))
    _run(records, ExportChat(f"{base}/chat", format="sharegpt"))
    files = gcs_objects(base)
    assert sorted(files) == [
        *(
            f"{kind}/{f}"
            for kind in ("chat", "jsonl")
            for f in (
                "_SUCCESS",
                "__empty__/__empty__.jsonl",
                "_manifest.json",
                "exam/exam.jsonl",
                "zhihu/zhihu.jsonl",
            )
        )
    ]
    # The same bytes as a local export.
    _run(records, ExportCqiaJsonl(str(tmp_path / "jsonl")))
    for rel in ("__empty__/__empty__.jsonl", "exam/exam.jsonl", "zhihu/zhihu.jsonl"):
        assert files[f"jsonl/{rel}"] == (tmp_path / "jsonl" / rel).read_bytes(), rel
    zhihu = [json.loads(line) for line in files["jsonl/zhihu/zhihu.jsonl"].split(b"\n") if line]
    assert len(zhihu) == 5 and all(list(o) == list(CQIA_PUBLISHED_FIELDS) for o in zhihu)
    assert json.loads(files["jsonl/__empty__/__empty__.jsonl"])["output"] == "无子集\u2028记录"
    chat = json.loads(files["chat/exam/exam.jsonl"].split(b"\n")[0])
    assert [turn["from"] for turn in chat["conversations"]] == ["human", "gpt"]
    assert json.loads(files["jsonl/_manifest.json"])["records"] == len(records)

    # A rerun removes the files of subsets it no longer has (also "_"-prefixed ones) and the
    # temporary objects a failed run left (a prefix, not a directory, on an object store).
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.create(f"{base}/jsonl/_temporary/half.jsonl") as fh:
        fh.write(b'{"instruction": "\xe5\x8d')
    _run([cqia_record("z0"), cqia_record("z1")], ExportCqiaJsonl(f"{base}/jsonl", num_shards=2))
    again = gcs_objects(f"{base}/jsonl")
    assert sorted(again) == [
        "_SUCCESS",
        "_manifest.json",
        "zhihu/part-00000-of-00002.jsonl",
        "zhihu/part-00001-of-00002.jsonl",
    ]
    assert sum(len(_lines_of(again[f])) for f in again if f.endswith(".jsonl")) == 2
    assert json.loads(again["_manifest.json"])["records"] == 2
    assert sorted(gcs_objects(f"{base}/chat")) == sorted(f[5:] for f in files if f[:5] == "chat/")


def _lines_of(data: bytes) -> list[dict]:
    return [json.loads(line) for line in data.split(b"\n") if line]
