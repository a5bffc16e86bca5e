"""Record types that flow between stages.

Every type is a ``typing.NamedTuple`` registered with ``RowCoder`` so that PCollections carry Beam
schemas (Beam YAML can chain our transforms with its built-ins, and Parquet schemas follow from the
types). Do not add ``from __future__ import annotations`` here: postponed annotations turn schema
fields into opaque types.
"""

import base64
import json
import typing
from collections.abc import Mapping
from typing import Any, NamedTuple

import apache_beam as beam
import pyarrow as pa

# Placeholders COIG-CQIA uses when a value is unknown (CQIA-METHOD.md §2 and §3).
NO_METADATA = "暂无元数据信息"
NO_COPYRIGHT = "暂无版权及作者信息"

# Closed list of task_type.major values (CQIA-METHOD.md §3); minors are free-form.
TASK_MAJORS = (
    "问答",
    "知识问答",
    "文本生成",
    "豆瓣",
    "试题",
    "摘要",
    "信息抽取",
    "语义分析",
    "文本风格迁移",
    "自然语言推理",
    "分类",
    "意图检测",
)
ANSWER_FROM = ("human", "llm", "expert", "")

# The fields of a published COIG-CQIA JSON line, in the published order.
CQIA_PUBLISHED_FIELDS = (
    "instruction",
    "input",
    "output",
    "task_type",
    "domain",
    "metadata",
    "answer_from",
    "human_verified",
    "copyright",
)


class RawDoc(NamedTuple):
    """One crawled item after source adaptation: a Q&A answer, an article, an exam question."""

    id: str  # stable content hash of source + native id
    source: str  # adapter family, e.g. "zhihu"
    subset: str  # output partition, e.g. "zhihu"
    url: str
    title: str
    question: str  # the question as asked (title + description, exam stem + options)
    body: str  # article body, exam analysis
    answer: str  # answer text, exam answer key
    meta: Mapping[str, str]  # votes, tags, year...; values are strings
    fetched_at: str
    origin_file: str
    origin_offset: int  # byte offset of the raw record in origin_file
    signals: Mapping[str, float]  # quality and normalization signals, filled by later stages
    lineage: list[str]  # stages that touched the record, with notes


class TaskType(NamedTuple):
    """COIG-CQIA ``task_type``: a major from a closed list and free-form minors."""

    major: list[str]
    minor: list[str]


class CqiaRecord(NamedTuple):
    """A COIG-CQIA record: the published fields exactly, then our working fields."""

    instruction: str
    input: str
    output: str
    task_type: TaskType
    domain: list[str]
    metadata: str
    answer_from: str
    human_verified: bool
    copyright: str
    id: str
    source: str
    subset: str
    template_id: str
    signals: Mapping[str, float]
    cluster_id: str
    lineage: list[str]


class Rejected(NamedTuple):
    """An expected drop: the record, the stage that dropped it and why."""

    id: str
    stage: str
    reason: str  # machine-readable, also the counter name suffix (filtered:<reason>)
    reasons: list[str]  # every rule that failed (FilterByScore); [reason] elsewhere
    detail: str  # human-readable explanation, e.g. "chars.answer=12 < 50"
    kept_id: str  # for duplicates, the id kept instead; "" otherwise
    cluster_id: str  # for duplicates, the duplicate cluster; "" otherwise
    source: str
    subset: str
    signals: Mapping[str, float]  # the record's signals, so thresholds can be re-applied
    record: str  # the full record as JSON, so nothing is lost


class ErrorRecord(NamedTuple):
    """A dead letter: an input a stage could not process (a superset of YAML's error rows)."""

    id: str
    stage: str
    kind: str  # exception class name
    msg: str
    stack: str
    element: str  # the input element as JSON (or the raw text when it never parsed)
    source: str
    subset: str


for _type in (RawDoc, TaskType, CqiaRecord, Rejected, ErrorRecord):
    beam.coders.registry.register_coder(_type, beam.coders.RowCoder)


def to_jsonable(value: Any) -> Any:
    """Converts records (NamedTuples, beam.Rows, mappings) into plain JSON-able Python values."""
    if hasattr(value, "_asdict"):
        return {k: to_jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, beam.Row):
        return {k: to_jsonable(v) for k, v in value.as_dict().items()}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:  # keep undecodable input exactly, so nothing is lost
            return {"base64": base64.b64encode(value).decode("ascii")}
    return value


def record_json(value: Any) -> str:
    """Serializes a record to a compact, key-ordered JSON string (stable across runs)."""
    return json.dumps(to_jsonable(value), ensure_ascii=False, sort_keys=True, default=repr)


def published_dict(record: CqiaRecord) -> dict[str, Any]:
    """Returns the record as a COIG-CQIA JSON object: published fields only, published order."""
    return {
        "instruction": record.instruction,
        "input": record.input,
        "output": record.output,
        "task_type": {
            "major": list(record.task_type.major),
            "minor": list(record.task_type.minor),
        },
        "domain": list(record.domain),
        "metadata": record.metadata,
        "answer_from": record.answer_from,
        "human_verified": bool(record.human_verified),
        "copyright": record.copyright,
    }


def cqia_record_from_published(obj: Mapping[str, Any], **working: Any) -> CqiaRecord:
    """Builds a CqiaRecord from a published COIG-CQIA JSON object, checking every field's type.

    Args:
        obj: one parsed line of a COIG-CQIA jsonl file.
        **working: values for the working fields (id, source, ...); defaults are empty.

    Raises:
        ValueError: naming the first field that is missing, extra or of the wrong type.
    """
    missing = [f for f in CQIA_PUBLISHED_FIELDS if f not in obj]
    extra = [f for f in obj if f not in CQIA_PUBLISHED_FIELDS]
    if missing or extra:
        raise ValueError(f"not a COIG-CQIA record: missing {missing}, unexpected {extra}")
    for name in ("instruction", "input", "output", "metadata", "answer_from", "copyright"):
        if not isinstance(obj[name], str):
            raise ValueError(f"{name} must be a string, got {type(obj[name]).__name__}")
    if not isinstance(obj["human_verified"], bool):
        raise ValueError("human_verified must be a bool")
    task_type = obj["task_type"]
    if not isinstance(task_type, Mapping) or set(task_type) != {"major", "minor"}:
        raise ValueError(f"task_type must be {{major, minor}}, got {task_type!r}")
    for part in ("major", "minor"):
        if not _is_str_list(task_type[part]):
            raise ValueError(f"task_type.{part} must be a list of strings")
    if not _is_str_list(obj["domain"]):
        raise ValueError("domain must be a list of strings")
    return CqiaRecord(
        instruction=obj["instruction"],
        input=obj["input"],
        output=obj["output"],
        task_type=TaskType(list(task_type["major"]), list(task_type["minor"])),
        domain=list(obj["domain"]),
        metadata=obj["metadata"],
        answer_from=obj["answer_from"],
        human_verified=obj["human_verified"],
        copyright=obj["copyright"],
        id=working.get("id", ""),
        source=working.get("source", ""),
        subset=working.get("subset", ""),
        template_id=working.get("template_id", ""),
        signals=dict(working.get("signals", {})),
        cluster_id=working.get("cluster_id", ""),
        lineage=list(working.get("lineage", [])),
    )


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def format_metadata(meta: Mapping[str, str], keys: list[str]) -> str:
    """Formats meta values the way COIG-CQIA's ``metadata`` does: ``"k:v, k:v"``.

    Keys that are absent or empty are skipped; "" when nothing is left (the placeholder is
    applied by TagSchema).
    """
    return ", ".join(f"{k}:{meta[k]}" for k in keys if meta.get(k))


def _arrow_type(tp: Any) -> pa.DataType:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Union:
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _arrow_type(non_none[0])
    if tp is str:
        return pa.string()
    if tp is bool:
        return pa.bool_()
    if tp is int:
        return pa.int64()
    if tp is float:
        return pa.float64()
    if origin in (list, typing.List):  # noqa: UP006 - matching annotations, not writing them
        return pa.list_(_arrow_type(args[0]))
    if origin in (dict, Mapping, typing.Mapping, typing.Dict):  # noqa: UP006
        return pa.map_(_arrow_type(args[0]), _arrow_type(args[1]))
    if isinstance(tp, type) and issubclass(tp, tuple) and hasattr(tp, "__annotations__"):
        return pa.struct(
            [pa.field(n, _arrow_type(t)) for n, t in typing.get_type_hints(tp).items()]
        )
    raise TypeError(f"no Arrow type for {tp!r}")


def arrow_schema(record_type: type, exclude: tuple[str, ...] = ()) -> pa.Schema:
    """The Arrow schema of a record NamedTuple type, without the ``exclude`` fields."""
    hints = typing.get_type_hints(record_type)
    return pa.schema(
        [pa.field(name, _arrow_type(tp)) for name, tp in hints.items() if name not in exclude]
    )


def arrow_row(record: Any, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """A record as a dict Arrow accepts (structs as dicts, maps as dicts), minus ``exclude``."""
    values = record._asdict() if hasattr(record, "_asdict") else record.as_dict()
    return {k: _arrow_value(v) for k, v in values.items() if k not in exclude}


def _arrow_value(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {k: _arrow_value(v) for k, v in value._asdict().items()}
    if isinstance(value, beam.Row):
        return {k: _arrow_value(v) for k, v in value.as_dict().items()}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


class FetchedPage(NamedTuple):
    """A page FetchUrls fetched and wrote to a WARC file: where to find its response record."""

    id: str  # stable hash of url, as the ids of FetchUrls' rejected and error records
    url: str  # the URL as given
    final_url: str  # the URL of the answer, after redirects (normalized)
    status: int  # HTTP status of the final answer (2xx)
    content_type: str  # the Content-Type header, "" when absent
    warc_path: str  # the WARC file holding the response record
    warc_offset: int  # byte offset of the response record (a gzip member) in warc_path
    bytes: int  # body size as received (before any content decoding)
    fetched_at: str  # when the final request was sent, ISO 8601 UTC


beam.coders.registry.register_coder(FetchedPage, beam.coders.RowCoder)
