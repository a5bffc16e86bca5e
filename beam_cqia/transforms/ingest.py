"""crawl-ingest: ReadCrawl (files → RawDocs through a source adapter) and NormalizeText."""

from collections.abc import Mapping
from typing import Any

import apache_beam as beam
import orjson
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia import sources
from beam_cqia.records import RawDoc
from beam_cqia.text import normalize as textnorm
from beam_cqia.text.signals import text_fields_of
from beam_cqia.transforms import _models
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    REJECTED,
    RawLine,
    check_error_handling,
    check_field_names,
    check_fields_exist,
    finish_stage,
    merge_inputs,
    namespace,
    rejected,
    replace_fields,
)

FORMATS = ("jsonl",)
_ADAPTED = "adapted"


class _ReadJsonLines(beam.DoFn):
    """Streams a (possibly compressed) file line by line, keeping each line's byte offset."""

    def __init__(self, source: str, subset: str):
        self._source, self._subset = source, subset

    def process(self, readable: fileio.ReadableFile) -> Any:
        path = readable.metadata.path
        offset = 0
        with readable.open(compression_type=CompressionTypes.AUTO) as fh:
            while True:
                line = fh.readline()
                if not line:
                    break
                # Split on b"\n" only: U+2028 inside JSON strings is data, not a line break.
                if line.strip():
                    yield RawLine(path, offset, line, self._source, self._subset)
                offset += len(line)


class _AdaptFn(beam.DoFn):
    def __init__(self, stage: str, kind: str, source: str):
        self._stage = stage
        self._source = source
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")
        self._kind = kind

    def setup(self) -> None:
        self._adapter = sources.get_adapter(self._source)

    def process(self, line: RawLine) -> Any:
        self._seen.inc()
        text = line.text.decode("utf-8") if isinstance(line.text, bytes) else line.text
        obj = orjson.loads(text)
        origin = sources.Origin(line.file, line.offset, line.subset)
        try:
            docs = list(self._adapter(obj, origin))
        except sources.Reject as verdict:
            Metrics.counter(namespace(self._kind), f"filtered:{verdict.reason}").inc()
            yield rejected(line._replace(text=text), self._stage, verdict.reason, verdict.detail)
            return
        lineage_note = f"{self._stage}:{line.file}@{line.offset}"
        for doc in docs:
            yield doc._replace(lineage=[*doc.lineage, lineage_note])
        self._passed.inc()
        yield beam.pvalue.TaggedOutput(_ADAPTED, 1)


class ReadCrawl(beam.PTransform):
    """Reads crawled records from files and turns them into RawDocs with a source adapter.

    Files are read through Beam's filesystems (local paths, globs, gs://...), streamed line by
    line (compressed files are decompressed by extension). Each raw record becomes zero or more
    RawDocs: a Q&A thread gives one RawDoc per answer. Outputs: the RawDocs (main); rejected raw
    records (the adapter's reason, e.g. ``no_answers``); errors (unparsable JSON, bad encoding,
    records of the wrong shape). Counters in ``beam_cqia.ReadCrawl``: ``seen`` and ``passed``
    count raw records, ``filtered:<reason>`` and ``errors`` the others. In the manifest ``in`` and
    ``out`` count raw records and ``emitted`` the RawDocs.

    Args:
        path: file pattern to read, e.g. ``data/zhihu/*.jsonl.gz`` or ``gs://bucket/crawl/*.jsonl``.
        source: the source adapter, one of ``beam_cqia.sources.ADAPTERS`` (zhihu, baike, exam).
        subset: the output subset (partition) the records belong to; defaults to ``source``.
        format: the file format; ``jsonl`` (one JSON object per line).
        reshuffle: redistribute raw records after reading, so that a few large files are
            processed by many workers.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``: also return the
            errors as that output. Errors are always written by ``WriteCqiaParquet``.
    """

    _yaml_requires_inputs = False

    def __init__(
        self,
        path: str,
        source: str,
        subset: str | None = None,
        format: str = "jsonl",  # noqa: A002 - the YAML config key users expect
        reshuffle: bool = True,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if not path:
            raise ValueError("path must be a non-empty file pattern")
        sources.get_adapter(source)
        if format not in FORMATS:
            raise ValueError(f"unsupported format {format!r}; supported: {list(FORMATS)}")
        check_error_handling(error_handling)
        self._path = path
        self._source = source
        self._subset = subset or source
        self._reshuffle = reshuffle
        self._error_handling = error_handling

    def expand(self, pbegin: beam.pvalue.PBegin) -> Any:
        lines = (
            pbegin
            | "MatchFiles" >> fileio.MatchFiles(self._path)
            | "ReadMatches" >> fileio.ReadMatches()
            | "ReadLines" >> beam.ParDo(_ReadJsonLines(self._source, self._subset))
        )
        if self._reshuffle:
            lines = lines | "Reshuffle" >> beam.Reshuffle()
        results = lines | "Adapt" >> beam.ParDo(
            _AdaptFn(self.label, type(self).__name__, self._source)
        ).with_outputs(REJECTED, _ADAPTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = RawDoc
        return finish_stage(
            self,
            lines,
            good,
            results[REJECTED],
            results[ERRORS],
            self._error_handling,
            input_unit=results[_ADAPTED],
        )


class _NormalizeFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        handle: shared.Shared,
        opencc: str | None,
        fields: list[str] | None,
        fullwidth: bool,
        boilerplate: bool,
        meta: bool,
    ):
        self._stage = stage
        self._meta = meta
        self._handle = handle
        self._opencc = opencc
        self._fields = fields
        self._fullwidth = fullwidth
        self._boilerplate = boilerplate
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")

    def setup(self) -> None:
        self._t2s = _models.converter_or_none(self._handle, self._opencc)

    def process(self, record: Any) -> Any:
        self._seen.inc()
        fields = self._fields or _text_fields(record)
        changes: dict[str, Any] = {}
        totals = dict.fromkeys(
            ("t2s_chars", "control_chars", "fullwidth_chars", "boilerplate_lines", "meta_chars"), 0
        )
        for field in fields:
            value = getattr(record, field)
            if not value:
                continue
            result = textnorm.normalize(value, self._t2s, self._fullwidth, self._boilerplate)
            if result.text != value:
                changes[field] = result.text
            for key in ("t2s_chars", "control_chars", "fullwidth_chars", "boilerplate_lines"):
                totals[key] += getattr(result, key)
        if self._meta and getattr(record, "meta", None):
            meta = {}
            for key, value in record.meta.items():
                new = textnorm.normalize(value, self._t2s, self._fullwidth, False).text
                totals["meta_chars"] += textnorm.count_changed_chars(value, new)
                meta[key] = new
            if meta != dict(record.meta):
                changes["meta"] = meta
        if hasattr(record, "signals"):
            signals = dict(record.signals or {})
            signals.update({f"norm.{k}": float(v) for k, v in totals.items()})
            changes["signals"] = signals
        if hasattr(record, "lineage"):
            note = ",".join(f"{k}={v}" for k, v in totals.items() if v)
            changes["lineage"] = [*record.lineage, f"{self._stage}:{note}" if note else self._stage]
        self._passed.inc()
        yield replace_fields(record, **changes) if changes else record


def _text_fields(record: Any) -> tuple[str, ...]:
    return tuple(f for f in text_fields_of(record) if hasattr(record, f))


class NormalizeText(beam.PTransform):
    """Normalizes the text fields of records and records what changed; drops nothing.

    Steps per field: line-separator controls (\\f, \\v, U+2028...) become newlines and invisible
    characters (other controls, zero-width, BOM) are removed; site chrome is stripped ("谢邀"
    openers, "编辑于 <date>" lines, copyright footers); full-width letters and digits become
    half-width (Chinese punctuation is kept); OpenCC converts to Simplified; whitespace is
    normalized outside code blocks. Change counts are stored as signals ``norm.t2s_chars``,
    ``norm.control_chars``, ``norm.fullwidth_chars``, ``norm.boilerplate_lines`` and
    ``norm.meta_chars``. Outputs: the
    records (main) and errors. Counters in ``beam_cqia.NormalizeText``: ``seen``, ``passed``,
    ``errors``.

    Args:
        opencc: OpenCC configuration to convert to Simplified (``t2s``, ``tw2s``, ``tw2sp``,
            ``hk2s``, ``hk2sp``), or null to keep the script.
        fields: the text fields to normalize; by default every text field of the record type
            (title, question, body, answer for RawDocs; instruction, input, output for records).
        fullwidth: convert full-width letters and digits to half-width.
        strip_boilerplate: remove site chrome lines and openers.
        normalize_meta: also normalize the values of ``meta`` (tags, subjects, categories),
            without boilerplate stripping.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        opencc: str | None = "t2s",
        fields: list[str] | None = None,
        fullwidth: bool = True,
        strip_boilerplate: bool = True,
        normalize_meta: bool = True,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        _models.check_opencc_config(opencc)
        check_field_names(fields)
        check_error_handling(error_handling)
        self._opencc = opencc
        self._fields = fields
        self._fullwidth = fullwidth
        self._boilerplate = strip_boilerplate
        self._meta = normalize_meta
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        check_fields_exist(records, self._fields)
        results = records | "Normalize" >> beam.ParDo(
            _NormalizeFn(
                self.label,
                type(self).__name__,
                shared.Shared(),
                self._opencc,
                self._fields,
                self._fullwidth,
                self._boilerplate,
                self._meta,
            )
        ).with_exception_handling(main_tag=GOOD, dead_letter_tag=ERRORS)
        good, dead = results[GOOD], results[ERRORS]
        good.element_type = records.element_type
        return finish_stage(self, records, good, None, dead, self._error_handling)
