"""Machinery every stage shares: outputs, counters, dead letters and the per-pipeline ledger.

Every stage splits its input into ``good`` (the main output), ``rejected`` (expected drops, with a
reason) and ``errors`` (exceptions, as :class:`~beam_cqia.records.ErrorRecord`). The main output is
what the stage returns, so stages chain with ``|`` in Python and in a Beam YAML ``chain``. The
rejected and errors outputs, and in-pipeline counts of every output, are registered in a ledger
kept on the pipeline object; ``WriteCqiaParquet`` collects them from there, writes them next to the
data and puts the counts in ``_manifest.json``. No spec can forget to wire a rejected output, so
nothing is dropped silently. The graph that results is ordinary Beam (Flatten, Combine, side
inputs) and runs on every runner.
"""

import dataclasses
import traceback
from collections.abc import Mapping
from typing import Any, NamedTuple

import apache_beam as beam
import xxhash
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

from beam_cqia import progress
from beam_cqia.records import ErrorRecord, Rejected, record_json
from beam_cqia.text.ids import content_id

GOOD, REJECTED, ERRORS = "good", "rejected", "errors"
_LEDGER_ATTR = "_beam_cqia_ledger"


def namespace(kind: str) -> str:
    """The metrics namespace of a stage class: ``beam_cqia.<ClassName>``."""
    return f"beam_cqia.{kind}"


def detail_namespace(kind: str) -> str:
    """The namespace of a stage's finer counters, ``beam_cqia.<ClassName>.detail``: errors by
    kind (``error_kind:<Kind>``), documents emitted per raw record read (``emitted``), input read
    (``units_read``, ``bytes_read``, ``bytes_total``). Apart from the main namespace, whose
    counters (seen, passed, filtered:<reason>, errors) add up to the funnel."""
    return f"{namespace(kind)}.detail"


@dataclasses.dataclass
class StageOutputs:
    """What a stage produced, as registered in the pipeline's ledger."""

    name: str  # the stage's step name (its label), the key in the manifest
    full_label: str  # the full Beam step path, used to match metrics
    kind: str  # the transform class name
    good: beam.PCollection
    rejected: beam.PCollection | None
    errors: beam.PCollection | None
    count_parts: list[beam.PCollection]  # partial (stage, field, key, n) counts, to be summed
    unkeyed: tuple[str, ...] = ("in", "out")  # the fields counted without a key (0 if empty)
    claimed: bool = False
    upstream: list[str] = dataclasses.field(default_factory=list)  # stages feeding this one
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)  # for the run report

    @property
    def counts(self) -> beam.PCollection:
        """This stage's counts summed: one ``(stage, field, key, n)`` per key (built on first
        use; sinks sum the partial counts of all stages at once instead)."""
        if self._totals is None:
            zeros = [(self.name, f) for f in self.unkeyed]
            self._totals = total_counts(self.count_parts, zeros, f"Totals[{self.name}]")
        return self._totals

    _totals: Any = dataclasses.field(default=None, repr=False, compare=False)


class _Ledger:
    def __init__(self) -> None:
        self.stages: list[StageOutputs] = []
        self.inputs: list[tuple[str, str]] = []  # (stage, path or pattern) the pipeline reads
        self.sinks: list[tuple[str, str, list[str]]] = []  # (name, transform, upstream stages)

    def names(self) -> set[str]:
        return {s.name for s in self.stages}


def _ledger(pipeline: beam.Pipeline) -> _Ledger:
    ledger = getattr(pipeline, _LEDGER_ATTR, None)
    if ledger is None:
        ledger = _Ledger()
        setattr(pipeline, _LEDGER_ATTR, ledger)
    return ledger


def register_input(pipeline: beam.Pipeline, stage: str, path: str) -> None:
    """Records a path or pattern a reading stage reads, for the manifest's ``inputs``."""
    _ledger(pipeline).inputs.append((stage, path))


def ledger_inputs(pipeline: beam.Pipeline) -> list[tuple[str, str]]:
    """The (stage, path) pairs registered by reading stages, in the order they were applied."""
    return list(_ledger(pipeline).inputs)


def register_sink(pipeline: beam.Pipeline, name: str, kind: str, records: beam.PCollection) -> None:
    """Records a sink that writes ``records``, so progress shows it after the stages feeding it."""
    ledger = _ledger(pipeline)
    ledger.sinks.append((name, kind, upstream_stages(ledger, records)))


def ledger_sinks(pipeline: beam.Pipeline) -> list[tuple[str, str, list[str]]]:
    """The (name, transform, upstream stages) of every registered sink."""
    return [(n, k, list(u)) for n, k, u in _ledger(pipeline).sinks]


def upstream_stages(ledger: _Ledger, pcoll: beam.PCollection) -> list[str]:
    """The registered stages whose main output reaches ``pcoll`` without passing another stage
    (walking back through producers: merges, Beam YAML built-ins...), in ledger order."""
    goods = {id(s.good): s.name for s in ledger.stages}
    found: set[str] = set()
    seen: set[int] = set()
    todo: list[Any] = [pcoll]
    while todo:
        p = todo.pop()
        if id(p) in seen:
            continue
        seen.add(id(p))
        if id(p) in goods:
            found.add(goods[id(p)])
            continue
        producer = getattr(p, "producer", None)
        if producer is not None:
            todo.extend(producer.main_inputs.values())
    return [s.name for s in ledger.stages if s.name in found]


def ledger_stages(pipeline: beam.Pipeline) -> list[StageOutputs]:
    """All stages registered so far in ``pipeline``, in the order they were applied."""
    return list(_ledger(pipeline).stages)


def stage_outputs(pipeline: beam.Pipeline, name: str) -> StageOutputs:
    """Returns the outputs of the stage with step name ``name`` (e.g. to test its rejected output).

    Raises:
        KeyError: listing the registered stage names when ``name`` is not one of them.
    """
    for stage in _ledger(pipeline).stages:
        if stage.name == name or stage.full_label == name:
            return stage
    raise KeyError(f"no stage named {name!r}; stages: {[s.name for s in _ledger(pipeline).stages]}")


def claim_unwritten(pipeline: beam.Pipeline) -> list[StageOutputs]:
    """Returns the stages whose side outputs no sink has taken yet, and marks them taken."""
    stages = [s for s in _ledger(pipeline).stages if not s.claimed]
    for s in stages:
        s.claimed = True
    return stages


def replace_fields(record: Any, **changes: Any) -> Any:
    """Returns a copy of a NamedTuple record or ``beam.Row`` with some fields changed."""
    if hasattr(record, "_replace"):
        return record._replace(**changes)
    values = record.as_dict() if isinstance(record, beam.Row) else dict(record)
    values.update(changes)
    return beam.Row(**values)


def rejected(
    record: Any,
    stage: str,
    reason: str,
    detail: str = "",
    kept_id: str = "",
    cluster_id: str = "",
    reasons: list[str] | None = None,
) -> beam.pvalue.TaggedOutput:
    """Builds the tagged ``rejected`` output for ``record`` (``reasons`` defaults to [reason])."""
    rid = getattr(record, "id", "") or ""
    if isinstance(record, RawUnit):
        rid = raw_unit_id(record)
    return beam.pvalue.TaggedOutput(
        REJECTED,
        Rejected(
            id=rid,
            stage=stage,
            reason=reason,
            reasons=list(reasons) if reasons else [reason],
            detail=detail,
            kept_id=kept_id,
            cluster_id=cluster_id,
            source=getattr(record, "source", "") or "",
            subset=getattr(record, "subset", "") or "",
            signals=dict(getattr(record, "signals", None) or {}),
            record=record_json(record),
        ),
    )


class _ToErrorRecord(beam.DoFn):
    """Turns Beam's dead-letter tuples into ErrorRecords and counts them."""

    def __init__(self, stage: str, kind: str):
        self._stage, self._detail = stage, detail_namespace(kind)
        self._errors = Metrics.counter(namespace(kind), "errors")

    def process(self, dead_letter: tuple) -> Any:
        element, (exc_type, exc_repr, tb) = dead_letter
        self._errors.inc()
        kind = getattr(exc_type, "__name__", str(exc_type))
        # by kind too, so the funnel read from Beam's metrics has the manifest's error kinds
        Metrics.counter(self._detail, f"error_kind:{kind}").inc()
        yield error_record(element, self._stage, kind, exc_repr, "".join(tb))


def _position(unit: "RawUnit") -> str:
    if unit.offset < 0:
        return "file level"
    if unit.format in ("jsonl", "text", "html"):
        return f"byte {unit.offset}"
    if unit.format in ("csv", "tsv"):
        return f"line {unit.offset}"
    if unit.format == "warc":
        return f"record at byte {unit.offset}"
    return f"{'item' if unit.format == 'json' else 'row'} {unit.offset}"


def error_record(element: Any, stage: str, kind: str, msg: str, stack: str = "") -> ErrorRecord:
    """Builds an ErrorRecord for any element: a record, a raw line or anything else."""
    if isinstance(element, RawUnit):
        from beam_cqia.sources.formats import describe

        element_json = record_json({**element._asdict(), "payload": describe(element.payload)})
        rid = raw_unit_id(element)
        source, subset = element.source, element.subset
        msg = f"{element.file} at {_position(element)}: {msg}"
    else:
        element_json = record_json(element)
        rid = getattr(element, "id", "") or content_id("element", element_json)
        source = getattr(element, "source", "") or ""
        subset = getattr(element, "subset", "") or ""
    return ErrorRecord(
        id=rid,
        stage=stage,
        kind=kind,
        msg=msg,
        stack=stack,
        element=element_json,
        source=source,
        subset=subset,
    )


def raw_unit_id(unit: "RawUnit") -> str:
    """The id of an unparsed raw record: a hash of its source, file name and content, the same
    on every machine (directories differ between machines, so they are not part of it)."""
    from beam_cqia.sources.formats import nested_too_deep

    payload = unit.payload
    if isinstance(payload, bytes):
        data = payload.rstrip(b"\r\n")
    elif isinstance(payload, (dict, list)) and nested_too_deep(payload):
        data = f"\x1fnested too deep\x1f{unit.file.rsplit('/', 1)[-1]}\x1f{unit.offset}".encode()
    else:
        data = record_json(payload).encode("utf-8")
        if not isinstance(payload, dict):  # Oversize/ReadFailure: position is all we have
            data += f"\x1f{unit.file.rsplit('/', 1)[-1]}\x1f{unit.offset}".encode()
    return xxhash.xxh3_128_hexdigest(unit.source.encode("utf-8") + b"\x1f" + data)


class RawUnit(NamedTuple):
    """A raw record before parsing: where it is, its payload, the source/subset it is read as.

    Not a schema type: it never leaves ReadCrawl except inside a Rejected or ErrorRecord.
    """

    file: str
    offset: int
    payload: Any
    source: str
    subset: str
    format: str


def format_exception(exc: BaseException) -> str:
    """The traceback of ``exc`` as one string."""
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class _PartialCountFn(beam.DoFn):
    """Counts a PCollection where it is produced: ``(stage, field, key, n)`` per key at the end
    of each bundle, nothing per element.

    The sums of these partial counts are the ledger's counts. Counting in the producer's fused
    step, with one small element per bundle, replaces a combiner per counted PCollection: each
    Combine is a shuffle and stages of its own on every runner (two more for the default value
    of ``CombineGlobally``), which in a 9-stage pipeline made ~100 of its ~150 FnApiRunner
    stages. A failed bundle's output is discarded with the bundle, so counts stay exact.
    """

    def __init__(self, stage: str, field: str, key: Any = None):
        self._stage, self._field, self._key = stage, field, key

    def setup(self) -> None:
        self._tally = progress.tally(self._stage, self._field)

    def start_bundle(self) -> None:
        self._n: dict[str, int] = {}

    def process(self, element: Any) -> Any:
        key = "" if self._key is None else str(self._key(element))
        n = self._n
        n[key] = n.get(key, 0) + 1
        if self._key is None:
            self._tally.n += 1
        else:
            self._tally.add_key(key)
        return ()

    def finish_bundle(self) -> Any:
        for key, n in sorted(self._n.items()):
            yield GlobalWindows.windowed_value_at_end_of_window((self._stage, self._field, key, n))
        self._n = {}


def count_partial(
    pcoll: beam.PCollection, label: str, stage: str, field: str, key: Any = None
) -> beam.PCollection:
    """Partial counts of ``pcoll``, per ``key(element)`` if given (summed by whoever reads
    them: see ``_PartialCountFn``)."""
    if not pcoll.windowing.is_default():
        pcoll = pcoll | f"Rewindow{label}" >> beam.WindowInto(GlobalWindows())
    return pcoll | f"Count{label}" >> beam.ParDo(_PartialCountFn(stage, field, key))


def total_counts(
    parts: list[beam.PCollection], zeros: list[tuple[str, str]], label: str
) -> beam.PCollection:
    """Sums partial counts into one ``(stage, field, key, n)`` per key, with a 0 for each
    ``(stage, field)`` of ``zeros`` that counted nothing (as ``Count.Globally`` gives)."""
    pipeline = parts[0].pipeline
    zeros = pipeline | f"{label}Zeros" >> beam.Create(
        [(s, f, "", 0) for s, f in zeros], reshuffle=False
    )
    return (
        [*parts, zeros]
        | f"{label}Flatten" >> beam.Flatten()
        | f"{label}Key" >> beam.Map(lambda c: ((c[0], c[1], c[2]), c[3]))
        | f"{label}Sum" >> beam.CombinePerKey(sum)
        | f"{label}Unkey" >> beam.MapTuple(lambda k, n: (*k, n))
    )


def finish_stage(
    transform: beam.PTransform,
    inputs: beam.PCollection,
    good: beam.PCollection,
    rejected_pc: beam.PCollection | None,
    dead_letters: beam.PCollection | None,
    error_handling: Mapping[str, Any] | None,
    input_unit: beam.PCollection | None = None,
) -> Any:
    """Registers a stage's outputs in the ledger and returns what the stage should return.

    Args:
        transform: the stage (its label and class name name the stage).
        inputs: the stage's input, counted as ``in`` unless ``input_unit`` is given.
        good: the main output, counted as ``out`` (``emitted`` too when ``input_unit`` is given).
        rejected_pc: Rejected records, counted per reason; None if the stage never rejects.
        dead_letters: Beam dead-letter tuples from ``with_exception_handling``; None if none.
        error_handling: the Beam YAML ``error_handling`` config; with ``{"output": name}`` the
            errors are also returned as output ``name`` next to ``good``.
        input_unit: for stages whose output unit differs from their input unit (ReadCrawl reads
            raw records and emits documents), a PCollection with one element per input record
            that produced output; it is counted as ``out`` and ``good`` as ``emitted``.

    Returns:
        ``good``, or ``{"good": good, name: errors}`` when ``error_handling`` names an output.
    """
    pipeline = good.pipeline
    ledger = _ledger(pipeline)
    name = transform.label
    full_label = pipeline._current_transform().full_label  # noqa: SLF001 - no public accessor
    if name in ledger.names():
        name = full_label
    kind = type(transform).__name__

    errors = None
    if dead_letters is not None:
        errors = dead_letters | "ToErrorRecords" >> beam.ParDo(_ToErrorRecord(name, kind))
        errors.element_type = ErrorRecord

    parts = [count_partial(inputs, "In", name, "in")]
    if input_unit is not None:
        parts.append(count_partial(input_unit, "Out", name, "out"))
        parts.append(count_partial(good, "Emitted", name, "emitted"))
    else:
        parts.append(count_partial(good, "Out", name, "out"))
    if rejected_pc is not None:
        parts.append(
            count_partial(rejected_pc, "Rejected", name, "rejected", key=lambda r: r.reason)
        )
    if errors is not None:
        parts.append(count_partial(errors, "Errors", name, "errors"))
        parts.append(count_partial(errors, "ErrorKinds", name, "error_kinds", key=lambda e: e.kind))

    notes = getattr(transform, "report_notes", None)
    ledger.stages.append(
        StageOutputs(
            name,
            full_label,
            kind,
            good,
            rejected_pc,
            errors,
            parts,
            unkeyed=tuple(
                ["in", "out"]
                + (["emitted"] if input_unit is not None else [])
                + (["errors"] if errors is not None else [])
            ),
            upstream=upstream_stages(ledger, inputs),
            notes=dict(notes()) if callable(notes) else {},
        )
    )
    if error_handling:
        output = error_handling.get("output") if isinstance(error_handling, Mapping) else None
        if not output:
            raise ValueError(f"error_handling must name an output, got {error_handling!r}")
        return {GOOD: good, output: errors}
    return good


def check_error_handling(error_handling: Mapping[str, Any] | None) -> None:
    """Validates a Beam YAML ``error_handling`` config at graph-build time."""
    if error_handling is None:
        return
    if not isinstance(error_handling, Mapping) or not isinstance(error_handling.get("output"), str):
        raise ValueError(
            f"error_handling must be a mapping with an 'output' name, got {error_handling!r}"
        )
    unknown = set(error_handling) - {"output"}
    if unknown:
        raise ValueError(f"unsupported error_handling keys {sorted(unknown)}; only 'output'")


def merge_inputs(inputs: Any, stage: str) -> beam.PCollection:
    """Returns a stage's input as one PCollection; a mapping of inputs is flattened.

    Beam YAML hands a transform a mapping when the spec gives ``input: {a: A, b: B}``. Beam
    YAML's own Flatten re-types rows into a merged schema (and, in Beam 2.77, turns map fields
    into lists of keys), so merging same-typed sources happens here and keeps the record type.

    Raises:
        ValueError: when the inputs have different element types.
    """
    if isinstance(inputs, beam.PCollection):
        return inputs
    if not isinstance(inputs, Mapping) or not inputs:
        raise ValueError(f"{stage}: expected a PCollection or a mapping of PCollections")
    pcolls = [inputs[k] for k in sorted(inputs)]
    types = {p.element_type for p in pcolls}
    if len(types) != 1:
        names = sorted(getattr(t, "__name__", str(t)) for t in types)
        raise ValueError(f"{stage}: inputs {sorted(inputs)} have different record types {names}")
    merged = pcolls | "MergeInputs" >> beam.Flatten()
    merged.element_type = types.pop()
    return merged


def check_field_names(fields: Any, allow_none: bool = True) -> None:
    """Validates a ``fields`` config: a non-empty list of non-empty names (or None)."""
    if fields is None and allow_none:
        return
    if (
        not isinstance(fields, list)
        or not fields
        or not all(isinstance(f, str) and f for f in fields)
    ):
        raise ValueError(f"fields must be a non-empty list of field names, got {fields!r}")


def check_fields_exist(records: beam.PCollection, fields: list[str] | None) -> None:
    """Fails at graph-build time when the element type is known and lacks a configured field."""
    element_type = records.element_type
    known = getattr(element_type, "_fields", None)
    if known and fields:
        # NamedTuples list names; Beam YAML's row types list (name, type) pairs.
        names = [f if isinstance(f, str) else f[0] for f in known]
        missing = [f for f in fields if f not in names]
        if missing:
            type_name = getattr(element_type, "__name__", "the input rows")
            raise ValueError(f"fields {missing} are not fields of {type_name} ({names})")
