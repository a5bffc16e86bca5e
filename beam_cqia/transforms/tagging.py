"""schema-tag: fill COIG-CQIA conventions per source and send schema violations to errors."""

from collections.abc import Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_cqia.records import ANSWER_FROM, NO_COPYRIGHT, NO_METADATA, TASK_MAJORS, TaskType
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    check_error_handling,
    finish_stage,
    merge_inputs,
    namespace,
    replace_fields,
)

_SOURCE_KEYS = {"answer_from", "human_verified", "copyright", "domain"}
FALLBACK = "*"


class SchemaViolationError(ValueError):
    """A record that does not satisfy the COIG-CQIA schema conventions."""


def parse_source_defaults(sources: Any) -> dict[str, dict[str, Any]]:
    """Validates TagSchema's ``sources`` config.

    Raises:
        ValueError: naming the source and the bad key or value.
    """
    if sources is None:
        return {}
    if not isinstance(sources, Mapping):
        raise ValueError("sources must map source names (or '*') to defaults")
    parsed = {}
    for name, conf in sources.items():
        if not isinstance(conf, Mapping):
            raise ValueError(f"sources.{name} must be a mapping")
        unknown = sorted(set(conf) - _SOURCE_KEYS)
        if unknown:
            raise ValueError(
                f"sources.{name}: unknown keys {unknown}; allowed {sorted(_SOURCE_KEYS)}"
            )
        if "answer_from" in conf and conf["answer_from"] not in ANSWER_FROM:
            raise ValueError(
                f"sources.{name}.answer_from must be one of {list(ANSWER_FROM)}, "
                f"got {conf['answer_from']!r}"
            )
        if "human_verified" in conf and not isinstance(conf["human_verified"], bool):
            raise ValueError(f"sources.{name}.human_verified must be true or false")
        if "copyright" in conf and not isinstance(conf["copyright"], str):
            raise ValueError(f"sources.{name}.copyright must be a string")
        if "domain" in conf and (
            not isinstance(conf["domain"], list)
            or not conf["domain"]
            or not all(isinstance(d, str) and d for d in conf["domain"])
        ):
            raise ValueError(f"sources.{name}.domain must be a non-empty list of strings")
        parsed[str(name)] = dict(conf)
    return parsed


def tag_record(record: Any, defaults: Mapping[str, Mapping[str, Any]]) -> Any:
    """Applies source defaults and placeholders, then checks the schema conventions.

    Raises:
        SchemaViolationError: naming the field and the problem.
    """
    conf = defaults.get(record.source) or defaults.get(FALLBACK) or {}
    domain = list(record.domain) or list(conf.get("domain", []))
    changes = {
        "answer_from": record.answer_from or conf.get("answer_from", ""),
        "human_verified": bool(record.human_verified or conf.get("human_verified", False)),
        "copyright": record.copyright or conf.get("copyright", "") or NO_COPYRIGHT,
        "metadata": record.metadata or NO_METADATA,
        "domain": domain,
        "task_type": TaskType(list(record.task_type.major), list(record.task_type.minor)),
    }
    if not record.instruction.strip():
        raise SchemaViolationError("instruction is empty")
    if not record.output.strip():
        raise SchemaViolationError("output is empty")
    majors = changes["task_type"].major
    if not majors:
        raise SchemaViolationError("task_type.major is empty")
    bad = [m for m in majors if m not in TASK_MAJORS]
    if bad:
        raise SchemaViolationError(f"task_type.major {bad} not in the closed list {TASK_MAJORS}")
    if not all(isinstance(m, str) and m.strip() for m in changes["task_type"].minor):
        raise SchemaViolationError("task_type.minor holds an empty value")
    if not domain or not all(isinstance(d, str) and d.strip() for d in domain):
        raise SchemaViolationError(f"domain must be non-empty strings, got {domain}")
    if changes["answer_from"] not in ANSWER_FROM:
        raise SchemaViolationError(f"answer_from {changes['answer_from']!r} not in {ANSWER_FROM}")
    return replace_fields(record, **changes)


class _TagFn(beam.DoFn):
    def __init__(self, stage: str, kind: str, defaults: Mapping[str, Mapping[str, Any]]):
        self._stage, self._defaults = stage, dict(defaults)
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")

    def process(self, record: Any) -> Any:
        self._seen.inc()
        tagged = tag_record(record, self._defaults)
        tagged = replace_fields(tagged, lineage=[*tagged.lineage, self._stage])
        self._passed.inc()
        yield tagged


class TagSchema(beam.PTransform):
    """Fills COIG-CQIA schema conventions and sends records that violate the schema to errors.

    Per source, ``answer_from``, ``human_verified``, ``copyright`` and a fallback ``domain`` come
    from the spec; unknown ``metadata`` and ``copyright`` get COIG-CQIA's placeholders
    (暂无元数据信息, 暂无版权及作者信息). A record is a violation when its instruction or output
    is empty, its task_type.major is not in the closed list, a minor or domain value is empty,
    it has no domain, or answer_from is not human/llm/expert/"". Outputs: records (main) and
    errors. Counters in ``beam_cqia.TagSchema``: ``seen``, ``passed``, ``errors``.

    Args:
        sources: defaults per source name (``*`` for any other), each with any of
            ``answer_from``, ``human_verified``, ``copyright``, ``domain``.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        sources: Mapping[str, Mapping[str, Any]] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self._defaults = parse_source_defaults(sources)
        check_error_handling(error_handling)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        results = records | "Tag" >> beam.ParDo(
            _TagFn(self.label, type(self).__name__, self._defaults)
        ).with_exception_handling(main_tag=GOOD, dead_letter_tag=ERRORS)
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(self, records, good, None, results[ERRORS], self._error_handling)
