"""Tests for beam_cqia.records: published-format round trips, metadata, Arrow schemas, JSON."""

import copy
import itertools
import json
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pytest

from beam_cqia.records import (
    CQIA_PUBLISHED_FIELDS,
    NO_COPYRIGHT,
    CqiaRecord,
    RawDoc,
    TaskType,
    arrow_row,
    arrow_schema,
    cqia_record_from_published,
    format_metadata,
    published_dict,
    record_json,
    to_jsonable,
)

CORPORA = Path(__file__).resolve().parents[1] / ".." / "shared" / "corpora" / "coig-cqia"

PUBLISHED = {
    "instruction": "如何零基础入门机器学习？\n文科生，数学一般，想转行做算法。",
    "input": "",
    "output": (
        "先补线性代数和概率论，再跟一门公开课做项目。\n\n```python\n    import numpy as np\n```"
    ),
    "task_type": {"major": ["问答"], "minor": ["知乎问答"]},
    "domain": ["通用"],
    "metadata": "qid:100200300, aid:400500600, tag:['机器学习', '入门']",
    "answer_from": "human",
    "human_verified": True,
    "copyright": NO_COPYRIGHT,
}

EXAM_PUBLISHED = {
    "instruction": "下面是一道生物单项选择题，请给出答案和解析。",
    "input": (
        "下列关于细胞结构的叙述，正确的是（  ）\n"
        "A. 核糖体具有单层膜结构\n"
        "B. 线粒体是有氧呼吸的主要场所"
    ),
    "output": "线粒体是有氧呼吸的主要场所。\n\n故本题选B。",
    "task_type": {"major": ["试题"], "minor": ["中学考试", "单项选择题"]},
    "domain": ["生物"],
    "metadata": "year:2020, type:单项选择题",
    "answer_from": "",
    "human_verified": False,
    "copyright": "暂无版权及作者信息",
}


def record(**working) -> CqiaRecord:
    return cqia_record_from_published(PUBLISHED, **working)


# --- published round trip --------------------------------------------------------------------


@pytest.mark.parametrize("obj", [PUBLISHED, EXAM_PUBLISHED])
def test_round_trip(obj):
    rec = cqia_record_from_published(obj)
    assert rec.task_type == TaskType(obj["task_type"]["major"], obj["task_type"]["minor"])
    assert (rec.id, rec.source, rec.subset, rec.template_id, rec.cluster_id) == ("",) * 5
    assert rec.signals == {}
    assert rec.lineage == []
    out = published_dict(rec)
    assert out == obj
    assert tuple(out) == CQIA_PUBLISHED_FIELDS


def test_round_trip_keeps_working_fields_out_of_published_dict():
    rec = record(
        id="abc",
        source="zhihu",
        subset="zhihu",
        template_id="zhihu_qa.v1#1",
        signals={"cjk_ratio": 0.92},
        cluster_id="c-7",
        lineage=["ingest", "normalize: t2s_chars=3"],
    )
    assert rec.id == "abc"
    assert rec.signals == {"cjk_ratio": 0.92}
    assert rec.lineage == ["ingest", "normalize: t2s_chars=3"]
    assert published_dict(rec) == PUBLISHED


def test_published_dict_uses_published_order_whatever_the_input_order():
    shuffled = dict(reversed(list(PUBLISHED.items())))
    assert tuple(published_dict(cqia_record_from_published(shuffled))) == CQIA_PUBLISHED_FIELDS


def test_record_does_not_alias_input_lists():
    obj = copy.deepcopy(PUBLISHED)
    rec = cqia_record_from_published(obj)
    obj["domain"].append("被修改")
    obj["task_type"]["minor"].append("被修改")
    assert rec.domain == ["通用"]
    assert rec.task_type.minor == ["知乎问答"]


def _without(key):
    obj = copy.deepcopy(PUBLISHED)
    del obj[key]
    return obj


def _with(**changes):
    obj = copy.deepcopy(PUBLISHED)
    obj.update(changes)
    return obj


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (_without("copyright"), r"missing \['copyright'\]"),
        (_without("task_type"), r"missing \['task_type'\]"),
        (_with(id="x1"), r"unexpected \['id'\]"),
        (_with(source="zhihu"), r"unexpected \['source'\]"),
        ({}, "not a COIG-CQIA record"),
        (_with(instruction=123), "instruction must be a string, got int"),
        (_with(output=None), "output must be a string, got NoneType"),
        (_with(metadata={"qid": "1"}), "metadata must be a string, got dict"),
        (_with(answer_from=None), "answer_from must be a string"),
        (_with(copyright=["暂无"]), "copyright must be a string"),
        (_with(human_verified="true"), "human_verified must be a bool"),
        (_with(human_verified=1), "human_verified must be a bool"),
        (_with(task_type=["问答"]), "task_type must be"),
        (_with(task_type={"major": ["问答"]}), "task_type must be"),
        (_with(task_type={"major": ["问答"], "minor": [], "extra": []}), "task_type must be"),
        (_with(task_type={"major": "问答", "minor": []}), "task_type.major must be a list"),
        (_with(task_type={"major": ["问答"], "minor": [1]}), "task_type.minor must be a list"),
        (_with(domain="通用"), "domain must be a list of strings"),
        (_with(domain=["通用", None]), "domain must be a list of strings"),
    ],
)
def test_cqia_record_from_published_rejects(obj, message):
    with pytest.raises(ValueError, match=message):
        cqia_record_from_published(obj)


# --- format_metadata -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("meta", "keys", "expected"),
    [
        (
            {"qid": "100200300", "aid": "400500600", "tag": "['机器学习', '入门']"},
            ["qid", "aid", "tag"],
            "qid:100200300, aid:400500600, tag:['机器学习', '入门']",
        ),
        (
            {"year": "2020", "type": "单项选择题", "exam": ""},
            ["year", "exam", "type"],
            "year:2020, type:单项选择题",
        ),
        ({"type": "填空题", "year": "2021"}, ["year", "type"], "year:2021, type:填空题"),
        ({"votes": "523"}, ["qid"], ""),
        ({}, ["qid", "aid"], ""),
        ({"qid": "1"}, [], ""),
    ],
)
def test_format_metadata(meta, keys, expected):
    assert format_metadata(meta, keys) == expected


# --- Arrow -----------------------------------------------------------------------------------


def test_arrow_schema_of_cqia_record():
    schema = arrow_schema(CqiaRecord)
    assert schema.names == list(CqiaRecord._fields)
    assert schema.field("task_type").type == pa.struct(
        [pa.field("major", pa.list_(pa.string())), pa.field("minor", pa.list_(pa.string()))]
    )
    assert pa.types.is_map(schema.field("signals").type)
    assert schema.field("signals").type == pa.map_(pa.string(), pa.float64())
    assert schema.field("domain").type == pa.list_(pa.string())
    assert schema.field("lineage").type == pa.list_(pa.string())
    assert schema.field("human_verified").type == pa.bool_()
    assert schema.field("instruction").type == pa.string()


def test_arrow_schema_excludes_fields():
    schema = arrow_schema(CqiaRecord, exclude=("signals", "lineage", "cluster_id"))
    assert "signals" not in schema.names
    assert "lineage" not in schema.names
    assert "cluster_id" not in schema.names
    assert len(schema) == len(CqiaRecord._fields) - 3


def test_arrow_schema_of_raw_doc():
    schema = arrow_schema(RawDoc)
    assert schema.field("origin_offset").type == pa.int64()
    assert schema.field("meta").type == pa.map_(pa.string(), pa.string())
    assert schema.field("signals").type == pa.map_(pa.string(), pa.float64())


def test_arrow_row_builds_a_table():
    rec = record(
        id="abc",
        source="zhihu",
        subset="zhihu",
        template_id="zhihu_qa.v1#1",
        signals={"cjk_ratio": 0.92, "chars.output": 57.0},
        lineage=["ingest"],
    )
    schema = arrow_schema(CqiaRecord)
    row = arrow_row(rec)
    assert row["task_type"] == {"major": ["问答"], "minor": ["知乎问答"]}
    assert row["signals"] == {"cjk_ratio": 0.92, "chars.output": 57.0}
    table = pa.Table.from_pylist(
        [row, arrow_row(cqia_record_from_published(EXAM_PUBLISHED))], schema=schema
    )
    assert table.num_rows == 2
    assert table.schema == schema
    first = table.to_pylist()[0]
    assert first["instruction"] == PUBLISHED["instruction"]
    assert first["output"].endswith("```python\n    import numpy as np\n```")
    assert first["task_type"] == {"major": ["问答"], "minor": ["知乎问答"]}
    assert dict(first["signals"]) == {"cjk_ratio": 0.92, "chars.output": 57.0}
    assert first["human_verified"] is True
    assert table.column("task_type").to_pylist()[1]["minor"] == ["中学考试", "单项选择题"]


def test_arrow_row_with_exclude_matches_schema_with_exclude():
    exclude = ("signals", "lineage")
    row = arrow_row(record(), exclude=exclude)
    assert set(row) == set(CqiaRecord._fields) - set(exclude)
    table = pa.Table.from_pylist([row], schema=arrow_schema(CqiaRecord, exclude=exclude))
    assert table.column("domain").to_pylist() == [["通用"]]


def test_arrow_row_accepts_beam_rows_and_tuples():
    row = arrow_row(beam.Row(id="x", major=("问答",), nested=TaskType(["问答"], ["知乎问答"])))
    assert row == {
        "id": "x",
        "major": ["问答"],
        "nested": {"major": ["问答"], "minor": ["知乎问答"]},
    }


# --- JSON ------------------------------------------------------------------------------------


def test_to_jsonable():
    rec = record(signals={"cjk_ratio": 0.5}, lineage=["ingest"])
    out = to_jsonable(rec)
    assert out["task_type"] == {"major": ["问答"], "minor": ["知乎问答"]}
    assert out["signals"] == {"cjk_ratio": 0.5}
    assert json.loads(json.dumps(out)) == out
    assert to_jsonable(("a", b"\xe4\xb8\xad", {1: (2,)})) == ["a", "中", {"1": [2]}]
    assert to_jsonable(b"\xff\x00") == {"base64": "/wA="}  # undecodable bytes kept exactly
    assert to_jsonable(beam.Row(a=1, b=("x",))) == {"a": 1, "b": ["x"]}


def test_record_json_is_sorted_compact_and_keeps_chinese():
    rec = record(id="abc")
    text = record_json(rec)
    assert "如何零基础入门机器学习" in text  # not \\u-escaped
    parsed = json.loads(text)
    assert list(parsed) == sorted(parsed)
    assert parsed["task_type"] == {"major": ["问答"], "minor": ["知乎问答"]}
    assert parsed["id"] == "abc"
    assert record_json(rec) == text
    assert record_json({"b": {1, 2}, "a": 1}).startswith('{"a": 1, "b": "{')  # repr fallback


# --- real data -------------------------------------------------------------------------------


def _first_lines(path: Path, n: int) -> list[bytes]:
    # Binary iteration splits on b"\n" only: xhs.jsonl has U+2028 inside JSON strings, which
    # str.splitlines() would treat as a line break.
    with path.open("rb") as fh:
        lines = (line.rstrip(b"\r\n") for line in fh)
        return list(itertools.islice((line for line in lines if line.strip()), n))


@pytest.mark.corpora
def test_real_coig_cqia_rows_fit_the_record_type():
    root = CORPORA.resolve()
    if not root.is_dir():
        pytest.skip(
            f"real corpora not found at {root}; this test needs ../shared/corpora/coig-cqia"
        )
    files = sorted(root.rglob("*.jsonl"))
    assert files, f"no *.jsonl files under {root}"
    checked = 0
    for path in files:
        lines = _first_lines(path, 5)
        assert lines, f"{path} has no records"
        for i, line in enumerate(lines):
            obj = json.loads(line.decode("utf-8"))
            where = f"{path.relative_to(root)} line {i + 1}"
            try:
                rec = cqia_record_from_published(obj)
            except ValueError as exc:
                pytest.fail(f"{where}: {exc}")
            assert published_dict(rec) == {k: obj[k] for k in CQIA_PUBLISHED_FIELDS}, where
            checked += 1
    assert checked >= len(files)
