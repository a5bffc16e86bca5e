"""Existing instruction datasets: alpaca-style records and published COIG-CQIA JSON lines.

Shapes::

    cqia    {"instruction", "input", "output", "task_type": {"major": [..], "minor": [..]},
             "domain": [..], "metadata", "answer_from", "human_verified", "copyright"}
            exactly the nine published COIG-CQIA fields (checked with
            beam_cqia.records.cqia_record_from_published)
    alpaca  {"instruction", "input"?, "output", "system"?, "history"?: [[question, answer]...],
             ...}                                      alpaca, BELLE, firefly-style records

Mapping: ``question`` = instruction, ``body`` = input, ``answer`` = output, ``title`` = "".
``id`` is a content id of instruction, input and output (plus system and history for alpaca):
these records have no native id.

``meta`` for COIG-CQIA records keeps every published label so that the ``cqia_passthrough.v1``
template can rebuild the record:

- ``task_type`` (JSON object), ``domain`` (JSON list), ``answer_from``, ``human_verified``
  (``true``/``false``), ``copyright`` and ``metadata``, verbatim;
- the ``metadata`` string parsed into its keys (``qid``, ``aid``, ``tag``, ``year``, ``score``,
  ``type``: the keys COIG-CQIA uses) when re-joining them as ``k:v, k:v`` in METADATA_KEYS order
  gives the string back exactly, so filters can use e.g. ``meta.year``.

``meta`` for alpaca records: ``system``, ``history`` (JSON list of [question, answer] pairs) and
any other scalar fields; ``shape`` says which shape the record had.

Rejected: ``empty_instruction``, ``empty_output``.
"""

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import CQIA_PUBLISHED_FIELDS, RawDoc, cqia_record_from_published
from beam_cqia.sources.base import Origin, Reject, get_str, new_doc, require_mapping, scalar_meta
from beam_cqia.text.ids import content_id

SOURCE = "instruct"

REAL_DATA = [
    {"path": "coig-cqia/*/*.jsonl", "format": "jsonl", "expect": {"errors": 0, "rejected": {}}},
]

# Keys of COIG-CQIA's metadata strings, in the order its files write them (zhihu: qid, aid, tag;
# kaoyan: year, score; law: year, type).
METADATA_KEYS = ("qid", "aid", "tag", "year", "score", "type")
_METADATA_SPLIT = re.compile(r", (?=(?:" + "|".join(METADATA_KEYS) + r"):)")


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one instruction record into one RawDoc.

    Raises:
        Reject: ``empty_instruction`` or ``empty_output``.
        ValueError: when a required field is missing or has the wrong type.
    """
    record = require_mapping(obj)
    if set(record) == set(CQIA_PUBLISHED_FIELDS):
        yield _cqia(record, origin)
    elif "instruction" in record and "output" in record:
        yield _alpaca(record, origin)
    else:
        raise ValueError(
            f"not an instruction record (instruction/output or the COIG-CQIA fields): "
            f"keys {sorted(record)}"
        )


def _check(instruction: str, output: str) -> None:
    if not instruction.strip():
        raise Reject("empty_instruction", f"output begins {output[:30]!r}")
    if not output.strip():
        raise Reject("empty_output", f"instruction {instruction[:30]!r} has no output")


def _cqia(record: Mapping[str, Any], origin: Origin) -> RawDoc:
    parsed = cqia_record_from_published(record)
    _check(parsed.instruction, parsed.output)
    meta = {
        "shape": "cqia",
        "task_type": json.dumps(record["task_type"], ensure_ascii=False),
        "domain": json.dumps(parsed.domain, ensure_ascii=False),
        "answer_from": parsed.answer_from,
        "human_verified": "true" if parsed.human_verified else "false",
        "copyright": parsed.copyright,
        "metadata": parsed.metadata,
    }
    meta.update(parse_metadata(parsed.metadata))
    return _doc(origin, parsed.instruction, parsed.input, parsed.output, meta, ())


def parse_metadata(metadata: str) -> dict[str, str]:
    """Splits a COIG-CQIA metadata string (``qid:1, aid:2, tag:['a', 'b']``) into its keys.

    Returns {} unless joining the parts back as ``k:v, k:v`` in METADATA_KEYS order gives the
    string exactly (so a template listing METADATA_KEYS reproduces it) and no value is empty.
    """
    parts = {}
    for part in _METADATA_SPLIT.split(metadata):
        key, sep, value = part.partition(":")
        if not sep or key not in METADATA_KEYS or key in parts or not value:
            return {}
        parts[key] = value
    rejoined = ", ".join(f"{k}:{parts[k]}" for k in METADATA_KEYS if k in parts)
    return parts if rejoined == metadata else {}


def _alpaca(record: Mapping[str, Any], origin: Origin) -> RawDoc:
    instruction = get_str(record, "instruction")
    output = get_str(record, "output")
    given = get_str(record, "input", required=False)
    _check(instruction, output)
    history = record.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(turn, list) and len(turn) == 2 and all(isinstance(t, str) for t in turn)
        for turn in history
    ):
        raise ValueError("field 'history' must be a list of [question, answer] string pairs")
    meta = scalar_meta(record, exclude=("instruction", "input", "output", "history"))
    meta["shape"] = "alpaca"
    meta["system"] = get_str(record, "system", required=False)
    if history:
        meta["history"] = json.dumps(history, ensure_ascii=False)
    extra = (meta["system"], meta.get("history", ""))
    return _doc(origin, instruction, given, output, meta, extra)


def _doc(
    origin: Origin,
    instruction: str,
    given: str,
    output: str,
    meta: Mapping[str, str],
    extra: tuple[str, ...],
) -> RawDoc:
    return new_doc(
        SOURCE,
        origin,
        content_id(SOURCE, instruction, given, output, *extra),
        question=instruction,
        body=given,
        answer=output,
        meta=meta,
    )
