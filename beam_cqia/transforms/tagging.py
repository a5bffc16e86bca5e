"""schema-tag: fill COIG-CQIA conventions per source and send schema violations to errors."""

from collections.abc import Mapping
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia.records import ANSWER_FROM, NO_COPYRIGHT, NO_METADATA, TASK_MAJORS, TaskType
from beam_cqia.text import domains as textdomains
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    check_error_handling,
    finish_stage,
    format_exception,
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


DOMAIN_MODES = ("fill", "add", "replace")
_DOMAIN_KEYS = {"mapper", "mapping", "model", "model_min_prob", "mode", "batch_size"}
CONFIDENCE_SIGNAL = "domain.confidence"


class DomainOptions(NamedTuple):
    """TagSchema's parsed ``domains`` config (see :func:`parse_domain_options`)."""

    mapper: bool
    mapping: Mapping[str, Any] | None  # parsed mapping file; None: the packaged one
    mapping_path: str | None
    model: str | None
    min_prob: float
    mode: str
    batch_size: int


def _read_mapping(path: str) -> dict[str, Any]:
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        text = fh.read().decode("utf-8")
    return textdomains.parse_mapping(text, path)


def parse_domain_options(domains: Any) -> DomainOptions | None:
    """Validates TagSchema's ``domains`` config; None (or an empty mapping) turns mapping off.

    The mapping file is read and checked here, at graph-build time.

    Raises:
        ValueError: naming the bad key or value.
    """
    if domains is None or domains == {}:
        return None
    if not isinstance(domains, Mapping):
        raise ValueError(f"domains must be a mapping with keys {sorted(_DOMAIN_KEYS)}")
    unknown = sorted(set(domains) - _DOMAIN_KEYS)
    if unknown:
        raise ValueError(f"domains: unknown keys {unknown}; allowed {sorted(_DOMAIN_KEYS)}")
    mapper = domains.get("mapper", True)
    if not isinstance(mapper, bool):
        raise ValueError(f"domains.mapper must be true or false, got {mapper!r}")
    mode = domains.get("mode", "fill")
    if mode not in DOMAIN_MODES:
        raise ValueError(f"domains.mode must be one of {list(DOMAIN_MODES)}, got {mode!r}")
    min_prob = domains.get("model_min_prob", 0.5)
    if (
        isinstance(min_prob, bool)
        or not isinstance(min_prob, (int, float))
        or not 0.0 <= min_prob <= 1.0
    ):
        raise ValueError(f"domains.model_min_prob must be in [0, 1], got {min_prob!r}")
    batch_size = domains.get("batch_size", 256)
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"domains.batch_size must be a positive integer, got {batch_size!r}")
    mapping_path = domains.get("mapping")
    mapping = None
    if mapping_path is not None:
        if not mapper:
            raise ValueError("domains.mapping is given but domains.mapper is false")
        if not isinstance(mapping_path, str) or not FileSystems.exists(mapping_path):
            raise ValueError(f"domains.mapping {mapping_path!r} does not exist")
        try:
            mapping = _read_mapping(mapping_path)
            textdomains.DomainMapper(mapping)
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"domains.mapping {mapping_path!r}: {exc}") from None
    model = domains.get("model")
    if model is not None:
        if not isinstance(model, str) or not FileSystems.exists(model):
            raise ValueError(f"domains.model {model!r} does not exist")
        from beam_cqia.models._fasttext import import_fasttext

        try:
            import_fasttext()
        except ImportError as exc:
            raise ValueError(f"domains.model needs fastText: {exc}") from None
    if not mapper and model is None:
        raise ValueError("domains: the mapper is off and no model is given; nothing would run")
    return DomainOptions(
        mapper, mapping, mapping_path, model, float(min_prob), mode, int(batch_size)
    )


class _DomainTools:
    """This worker's domain mapper and model (weak-referenceable, for ``Shared``)."""

    def __init__(self, options: DomainOptions):
        self.mapper = None
        if options.mapper:
            if options.mapping is None:
                self.mapper = textdomains.DomainMapper.from_file()
            else:
                self.mapper = textdomains.DomainMapper(options.mapping)
        self.model = None
        if options.model:
            from beam_cqia.models.domain import DomainModel
            from beam_cqia.transforms.quality import _local_copy

            self.model = DomainModel(_local_copy(options.model))


def place_domain(
    record: Any,
    defaults: Mapping[str, Mapping[str, Any]],
    options: DomainOptions,
    mapper: textdomains.DomainMapper | None,
) -> tuple[bool, textdomains.DomainMatch]:
    """Whether a record may get mapped domains (by ``options.mode``) and what the mapper says.

    In ``fill`` mode only a record whose domain is empty or its source's fallback ``domain`` is
    eligible; in ``add`` and ``replace`` modes every record is. The mapper reads the record's
    own domain values first (subjects, departments, categories), then keyword rules over
    instruction, input and output.
    """
    conf = defaults.get(record.source) or defaults.get(FALLBACK) or {}
    current = list(record.domain or [])
    if options.mode == "fill" and current and current != list(conf.get("domain", [])):
        return False, textdomains.NO_MATCH
    if mapper is None:
        return True, textdomains.NO_MATCH
    return True, mapper.map_record(current, record.instruction, record.input, record.output)


def apply_domain(
    record: Any,
    match: textdomains.DomainMatch,
    mode: str,
    stage: str,
    mapper: textdomains.DomainMapper | None = None,
) -> Any:
    """The record with ``match``'s domains applied by ``mode``, the rule in ``lineage``
    (``<stage>:domain=<rule>``) and ``signals["domain.confidence"]``; unchanged without domains.

    ``fill`` sets the matched domains, ``add`` appends them to the record's own, ``replace``
    sets them but, for a table match, keeps the record's values the tables do not know.
    """
    if not match.domains:
        return record
    current = list(record.domain or [])
    if mode == "add":
        domain = textdomains.unique([*current, *match.domains])
    elif (
        mode == "replace"
        and mapper is not None
        and not match.rule.startswith(("keyword:", "model:"))
    ):
        domain = mapper.map_values(current, keep_unknown=True).domains
    else:
        domain = list(match.domains)
    return replace_fields(
        record,
        domain=domain,
        signals={**(record.signals or {}), CONFIDENCE_SIGNAL: float(match.confidence)},
        lineage=[*record.lineage, f"{stage}:domain={match.rule}"],
    )


class _DomainFn(beam.DoFn):
    """Batched domain placement: mapper per record, then one model call for the records the
    mapper could not place. A batch that fails is placed again record by record, so one bad
    record is one error."""

    def __init__(
        self,
        stage: str,
        kind: str,
        defaults: Mapping[str, Mapping[str, Any]],
        options: DomainOptions,
        handle: shared.Shared,
    ):
        self._stage, self._defaults, self._options, self._handle = (
            stage,
            dict(defaults),
            options,
            handle,
        )
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._counters: dict[str, Any] = {}

    def setup(self) -> None:
        options = self._options
        self._tools = self._handle.acquire(
            lambda: _DomainTools(options),
            tag=f"domains:{options.mapper}:{options.mapping_path}:{options.model}",
        )

    def _count(self, name: str) -> None:
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Metrics.counter(self._ns, f"domain:{name}")
        counter.inc()

    def _place(self, records: list[Any]) -> list[Any]:
        mapper, model = self._tools.mapper, self._tools.model
        placed = [place_domain(r, self._defaults, self._options, mapper) for r in records]
        matches = [match for _, match in placed]
        if model is not None:
            from beam_cqia.models.domain import record_text

            todo = [i for i, (ok, match) in enumerate(placed) if ok and not match.domains]
            texts = [
                record_text(records[i].instruction, records[i].input, records[i].output)
                for i in todo
            ]
            for i, best in zip(todo, model.predict(texts), strict=True):
                if best and best[0][1] >= self._options.min_prob:
                    domain, prob = best[0]
                    matches[i] = textdomains.DomainMatch(
                        [domain], f"model:{domain}@{prob:.2f}", prob
                    )
        out = []
        for record, (eligible, _), match in zip(records, placed, matches, strict=True):
            if eligible:
                self._count(match.rule.split(":", 1)[0] if match.domains else "unplaced")
            out.append(apply_domain(record, match, self._options.mode, self._stage, mapper))
        return out

    def process(self, batch: list[Any]) -> Any:
        for _ in batch:
            self._seen.inc()
        try:
            placed = self._place(batch)
        except Exception:  # noqa: BLE001 - find the record(s) that fail, one by one
            placed = []
            for record in batch:
                try:
                    placed += self._place([record])
                except Exception as exc:  # noqa: BLE001 - this record is the error
                    info = (type(exc), repr(exc), [format_exception(exc)])
                    yield beam.pvalue.TaggedOutput(ERRORS, (record, info))
        yield from placed


class _TagFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        defaults: Mapping[str, Mapping[str, Any]],
        count_seen: bool = True,
    ):
        self._stage, self._defaults, self._count_seen = stage, dict(defaults), count_seen
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")

    def process(self, record: Any) -> Any:
        if self._count_seen:  # else the domain step counted it
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
    it has no domain, or answer_from is not human/llm/expert/"".

    With ``domains``, records also get domains from ``beam_cqia.text.domains`` before the
    defaults apply: the record's own domain values are looked up as exam subjects (CMMLU's and
    GAOKAO's, Chinese or English ids: 高中物理 and ``high_school_physics`` give 物理), hospital
    departments (消化科 gives 医疗 + 消化科) and encyclopedia categories; a record with none is
    placed by keyword rules over instruction, input and output, and, with a ``model``, the
    records still unplaced by a fastText domain classifier (``beam-cqia train-domain``) loaded
    once per worker and called on batches. A placed record gets ``signals["domain.confidence"]``
    (1.0 for a table hit, the winning share of keyword hits, or the model's probability) and
    the rule that fired in ``lineage`` (``TagSchema:domain=subject:高中物理``,
    ``...=keyword:数学[导数,函数]``, ``...=model:法律@0.93``). Deterministic: the same record
    and mapping always give the same domains.

    Outputs: records (main) and errors. Counters in ``beam_cqia.TagSchema``: ``seen``,
    ``passed``, ``errors``; with ``domains`` also ``domain:<kind>`` per placed record (kind
    ``subject``, ``department``, ``category``, ``keyword``, ``model``) and ``domain:unplaced``.

    Args:
        sources: defaults per source name (``*`` for any other), each with any of
            ``answer_from``, ``human_verified``, ``copyright``, ``domain``.
        domains: domain mapping, off when omitted. Keys: ``mapper`` (subject tables and
            keyword rules, default true); ``mapping`` (a YAML/JSON file replacing the packaged
            ``beam_cqia/text/domains.yaml``, any Beam filesystem path); ``model`` (a fastText
            model from ``beam-cqia train-domain``); ``model_min_prob`` (the model's lowest
            accepted probability, default 0.5); ``mode``: ``fill`` (default: only records whose
            domain is empty or their source's fallback ``domain`` get mapped domains),
            ``add`` (mapped domains are appended to every record's own) or ``replace``
            (mapped domains replace the record's; values the tables do not know are kept);
            ``batch_size`` (records per model call, default 256).
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        sources: Mapping[str, Mapping[str, Any]] | None = None,
        domains: Mapping[str, Any] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self._defaults = parse_source_defaults(sources)
        self._domains = parse_domain_options(domains)
        check_error_handling(error_handling)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        kind = type(self).__name__
        source, dead = records, []
        if self._domains is not None:
            placed = (
                records
                | "BatchDomains" >> beam.BatchElements(max_batch_size=self._domains.batch_size)
                | "Domains"
                >> beam.ParDo(
                    _DomainFn(self.label, kind, self._defaults, self._domains, shared.Shared())
                ).with_outputs(ERRORS, main=GOOD)
            )
            source = placed[GOOD]
            source.element_type = records.element_type
            dead.append(placed[ERRORS])
        results = source | "Tag" >> beam.ParDo(
            _TagFn(self.label, kind, self._defaults, count_seen=self._domains is None)
        ).with_exception_handling(main_tag=GOOD, dead_letter_tag=ERRORS)
        good = results[GOOD]
        good.element_type = records.element_type
        errors = results[ERRORS]
        if dead:
            errors = (*dead, errors) | "MergeErrors" >> beam.Flatten()
        return finish_stage(self, records, good, None, errors, self._error_handling)
