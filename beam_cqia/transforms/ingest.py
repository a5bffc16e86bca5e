"""crawl-ingest: ReadCrawl (files → RawDocs through a source adapter) and NormalizeText."""

import contextlib
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia import lineage, progress, sources
from beam_cqia.records import RawDoc
from beam_cqia.sources import compression, formats
from beam_cqia.text import encoding as textencoding
from beam_cqia.text import normalize as textnorm
from beam_cqia.text import pii as _pii
from beam_cqia.text.signals import text_fields_of
from beam_cqia.transforms import _models
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    REJECTED,
    RawUnit,
    check_error_handling,
    check_field_names,
    check_fields_exist,
    detail_namespace,
    finish_stage,
    merge_inputs,
    namespace,
    register_input,
    rejected,
    replace_fields,
)

_ADAPTED = "adapted"


class _PlanReads(beam.DoFn):
    """Splits each matched file into byte ranges (uncompressed line files) or one read."""

    def __init__(
        self,
        fmt: str,
        split_bytes: int,
        text_unit: str,
        stage: str = "",
        kind: str = "",
        declared_encoding: str | None = None,
    ):
        self._fmt, self._split, self._text_unit = fmt, split_bytes, text_unit
        self._wide = formats.declared_wide(declared_encoding)  # never split UTF-16/32 files
        self._stage = stage
        self._bytes_total = Metrics.counter(detail_namespace(kind or "ReadCrawl"), "bytes_total")

    def setup(self) -> None:
        self._tally = progress.tally(self._stage, "bytes_total")

    def process(self, meta: Any) -> Any:
        path, size = meta.path, meta.size_in_bytes
        self._tally.n += size
        self._bytes_total.inc(size)
        fmt = formats.format_of(path) if self._fmt == "auto" else self._fmt
        line_based = fmt == "jsonl" or (fmt == "text" and self._text_unit == "line")
        if line_based and size > self._split and not self._wide and not _compressed(path):
            for start in range(0, size, self._split):
                yield path, fmt, start, min(start + self._split, size)
        else:
            yield path, fmt, 0, None


def _compressed(path: str) -> bool:
    """Compressed or UTF-16/32: either way byte ranges cannot be read independently."""
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        head = fh.read(8)
    return compression.detect(path, head) is not None or head.startswith(
        (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
    )


# Progress of reading is reported every this many raw records (and at the end of each read).
_PROGRESS_EVERY = 256


class _ReadUnits(beam.DoFn):
    """Streams one file (or byte range) into raw units; never holds a whole file in memory.

    Reports the raw records read and the bytes consumed of the (possibly compressed) file to
    progress tallies and to counters ``units_read`` and ``bytes_read``, in steps.
    """

    def __init__(
        self,
        source: str,
        subset: str,
        max_record_bytes: int,
        json_items: str | None,
        text_unit: str,
        declared_encoding: str | None = None,
        stage: str = "",
        kind: str = "",
    ):
        self._source, self._subset = source, subset
        self._cap, self._items, self._text_unit = max_record_bytes, json_items, text_unit
        self._encoding = declared_encoding
        self._stage = stage
        ns = detail_namespace(kind or "ReadCrawl")
        self._units_counter = Metrics.counter(ns, "units_read")
        self._bytes_counter = Metrics.counter(ns, "bytes_read")

    def setup(self) -> None:
        self._units = progress.tally(self._stage, "units_read")
        self._bytes = progress.tally(self._stage, "bytes_read")

    def _report(self, units: int, consumed: int) -> None:
        self._units.n += units
        self._bytes.n += consumed
        self._units_counter.inc(units)
        self._bytes_counter.inc(consumed)

    def process(self, plan: tuple[str, str, int, int | None]) -> Any:
        path, fmt, start, end = plan
        try:
            raw = FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)
        except Exception as exc:  # noqa: BLE001 - an unopenable file is an error record, not a crash
            yield RawUnit(
                path,
                -1,
                formats.ReadFailure(type(exc).__name__, str(exc)),
                self._source,
                self._subset,
                fmt,
            )
            return
        with raw:
            stream = raw if start else formats.open_stream(raw, path, fmt)
            units = formats.read_units(
                stream,
                fmt,
                max_record_bytes=self._cap,
                json_items=self._items,
                text_unit=self._text_unit,
                start=start,
                end=end,
                declared_encoding=self._encoding,
            )
            limit = None if end is None else end - start
            reported = pending = 0
            for unit in units:
                pending += 1
                if pending == _PROGRESS_EVERY:
                    consumed = _consumed(raw, start, limit)
                    self._report(pending, consumed - reported)
                    reported, pending = consumed, 0
                yield RawUnit(path, unit.offset, unit.payload, self._source, self._subset, fmt)
            if limit is None:  # the whole file was read, whatever the reader's position
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    raw.seek(0, os.SEEK_END)
            consumed = limit if limit is not None else _consumed(raw, start, None)
            self._report(pending, max(0, consumed - reported))


def _consumed(raw: Any, start: int, limit: int | None) -> int:
    """Bytes of a read's range consumed so far, from the raw (undecoded) file's position."""
    try:
        done = raw.tell() - start
    except (OSError, ValueError, AttributeError):
        return 0
    return max(0, done if limit is None else min(done, limit))


class _AdaptFn(beam.DoFn):
    def __init__(self, stage: str, kind: str, source: str, declared_encoding: str | None):
        self._stage = stage
        self._source = source
        self._encoding = declared_encoding
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._passed = Metrics.counter(self._ns, "passed")
        self._emitted = Metrics.counter(detail_namespace(kind), "emitted")

    def setup(self) -> None:
        self._adapter = sources.get_adapter(self._source)

    def process(self, unit: RawUnit) -> Any:
        self._seen.inc()
        origin = sources.Origin(unit.file, unit.offset, unit.subset)
        try:
            obj = formats.parse(unit.payload, unit.format, unit.file, self._encoding)
            docs = list(self._adapter(obj, origin))
        except (sources.Reject, formats.Skip) as verdict:
            Metrics.counter(self._ns, f"filtered:{verdict.reason}").inc()
            yield rejected(unit, self._stage, verdict.reason, verdict.detail)
            return
        for doc in docs:
            note = lineage.origin_note(self._stage, unit.file, unit.offset, doc.url)
            yield doc._replace(lineage=[*doc.lineage, note])
        self._passed.inc()
        self._emitted.inc(len(docs))
        yield beam.pvalue.TaggedOutput(_ADAPTED, 1)


class ReadCrawl(beam.PTransform):
    """Reads crawled records from files and turns them into RawDocs with a source adapter.

    Files are read through Beam's filesystems (local paths, globs, gs://...) and streamed, never
    loaded whole: JSON lines, JSON arrays (streamed item by item) or single JSON objects, CSV and
    TSV, Parquet, WARC (HTML and text responses), HTML files and text files; gzip, zstd, bzip2
    and xz are decompressed by their magic bytes, and a truncated stream is reported, not
    ignored. Large uncompressed line files are split into byte ranges read in parallel. Text is
    decoded by ``beam_cqia.text.encoding`` (BOM, strict UTF-8, the declared or sniffed charset,
    then detection), so GB18030, Big5 and UTF-16 files work and lying HTML charsets do not hurt.

    Each raw record becomes zero or more RawDocs: a Q&A thread gives one RawDoc per answer.
    Outputs: the RawDocs (main); rejected raw records (the adapter's reason, e.g. ``no_answers``;
    ``unsupported_content_type`` for non-text WARC responses); errors, each naming the file and
    the byte offset, line, row or item (malformed JSON, undecodable bytes, records over
    ``max_record_bytes``, truncated files, records of the wrong shape). Counters in
    ``beam_cqia.ReadCrawl``: ``seen`` and ``passed`` count raw records, ``filtered:<reason>`` and
    ``errors`` the others; in ``beam_cqia.ReadCrawl.detail``: ``emitted`` (RawDocs),
    ``units_read``, ``bytes_read`` and ``bytes_total`` (sizes of the matched files; live progress
    and its estimate of the time left use them), ``error_kind:<Kind>``. In the manifest ``in`` and
    ``out`` count raw records and ``emitted`` the RawDocs.

    Args:
        path: file pattern to read, e.g. ``data/zhihu/*.jsonl.gz`` or ``gs://bucket/crawl/*.warc.gz``.
        source: the source adapter (see ``beam_cqia.sources.ADAPTERS``), e.g. zhihu, exam, wiki.
        subset: the output subset (partition) the records belong to; defaults to ``source``.
        format: ``auto`` (from each file's name), ``jsonl``, ``json``, ``csv``, ``tsv``,
            ``parquet``, ``warc``, ``html`` or ``text``.
        encoding: the files' declared text encoding (e.g. ``gb18030``); by default detected. A
            declaration that the bytes contradict is overruled (strict UTF-8 wins).
        max_record_bytes: records larger than this go to errors without being held in memory.
        json_items: for JSON files, the ijson path of the records, e.g. ``data.item``, or ``*``
            (``data.*``) for the values of an object keyed by id; by default a top-level array's
            items, or the whole file as one record.
        text_unit: for text files, ``file`` (one record per file) or ``line``.
        split_bytes: uncompressed line files larger than this are read as several ranges.
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
        format: str = "auto",  # noqa: A002 - the YAML config key users expect
        encoding: str | None = None,
        max_record_bytes: int = formats.DEFAULT_MAX_RECORD_BYTES,
        json_items: str | None = None,
        text_unit: str = "file",
        split_bytes: int = 64 << 20,
        reshuffle: bool = True,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if not path:
            raise ValueError("path must be a non-empty file pattern")
        sources.get_adapter(source)
        if format not in formats.FORMATS:
            raise ValueError(f"unsupported format {format!r}; supported: {list(formats.FORMATS)}")
        if encoding is not None and textencoding.normalize_charset_name(encoding) is None:
            raise ValueError(f"unknown encoding {encoding!r}")
        for name, value in (("max_record_bytes", max_record_bytes), ("split_bytes", split_bytes)):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if text_unit not in formats.TEXT_UNITS:
            raise ValueError(f"text_unit must be one of {list(formats.TEXT_UNITS)}")
        check_error_handling(error_handling)
        self._path = path
        self._source = source
        self._subset = subset or source
        self._format = format
        self._encoding = encoding
        self._cap = max_record_bytes
        self._items = json_items
        self._text_unit = text_unit
        self._split = split_bytes
        self._reshuffle = reshuffle
        self._error_handling = error_handling

    def expand(self, pbegin: beam.pvalue.PBegin) -> Any:
        register_input(pbegin.pipeline, self.label, self._path)
        units = (
            pbegin
            | "MatchFiles" >> fileio.MatchFiles(self._path)
            | "PlanReads"
            >> beam.ParDo(
                _PlanReads(
                    self._format,
                    self._split,
                    self._text_unit,
                    self.label,
                    type(self).__name__,
                    self._encoding,
                )
            )
            | "SpreadReads" >> beam.Reshuffle()
            | "ReadUnits"
            >> beam.ParDo(
                _ReadUnits(
                    self._source,
                    self._subset,
                    self._cap,
                    self._items,
                    self._text_unit,
                    self._encoding,
                    self.label,
                    type(self).__name__,
                )
            )
        )
        if self._reshuffle:
            units = units | "Reshuffle" >> beam.Reshuffle()
        results = units | "Adapt" >> beam.ParDo(
            _AdaptFn(self.label, type(self).__name__, self._source, self._encoding)
        ).with_outputs(REJECTED, _ADAPTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = RawDoc
        return finish_stage(
            self,
            units,
            good,
            results[REJECTED],
            results[ERRORS],
            self._error_handling,
            input_unit=results[_ADAPTED],
        )


class NormalizePolicy(NamedTuple):
    """What NormalizeText does to one record (the spec's options, or a source's overrides)."""

    opencc: str | None
    only_traditional: bool
    fullwidth: bool
    strip_boilerplate: bool
    urls: str
    pii: str
    pii_kinds: tuple[str, ...]
    emoji: str


_POLICY_KEYS = set(NormalizePolicy._fields)


def _check_policy(policy: NormalizePolicy, where: str) -> None:
    try:
        _models.check_opencc_config(policy.opencc)
        if policy.urls not in textnorm.URL_POLICIES:
            raise ValueError(f"urls must be one of {list(textnorm.URL_POLICIES)}")
        if policy.pii not in _pii.POLICIES:
            raise ValueError(f"pii must be one of {list(_pii.POLICIES)}")
        unknown = sorted(set(policy.pii_kinds) - set(_pii.KINDS))
        if unknown:
            raise ValueError(f"unknown pii_kinds {unknown}; known: {list(_pii.KINDS)}")
        if policy.emoji not in textnorm.EMOJI_POLICIES:
            raise ValueError(f"emoji must be one of {list(textnorm.EMOJI_POLICIES)}")
        for name in ("only_traditional", "fullwidth", "strip_boilerplate"):
            if not isinstance(getattr(policy, name), bool):
                raise ValueError(f"{name} must be true or false")
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def parse_by_source(
    base: NormalizePolicy, by_source: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, NormalizePolicy]:
    """Per-source policies: ``base`` with each source's overrides applied and validated."""
    out: dict[str, NormalizePolicy] = {}
    for source, overrides in (by_source or {}).items():
        if not isinstance(overrides, Mapping):
            raise ValueError(f"by_source.{source} must be a mapping of options")
        unknown = sorted(set(overrides) - _POLICY_KEYS)
        if unknown:
            raise ValueError(
                f"by_source.{source}: unknown options {unknown}; allowed: {sorted(_POLICY_KEYS)}"
            )
        values = dict(overrides)
        if "pii_kinds" in values:
            values["pii_kinds"] = tuple(values["pii_kinds"])
        policy = base._replace(**values)
        _check_policy(policy, f"by_source.{source}")
        out[str(source)] = policy
    return out


_TOTALS = ("t2s_chars", "control_chars", "fullwidth_chars", "boilerplate_lines", "urls", "emoji")


class _NormalizeFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        handle: shared.Shared,
        base: NormalizePolicy,
        by_source: Mapping[str, NormalizePolicy],
        fields: list[str] | None,
        meta: bool,
    ):
        self._stage, self._handle = stage, handle
        self._base, self._by_source = base, dict(by_source)
        self._fields, self._meta = fields, meta
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")

    def setup(self) -> None:
        self._converters: dict[tuple[str, bool], Any] = {}
        for policy in (self._base, *self._by_source.values()):
            if policy.opencc:
                converter = _models.acquire_converter(self._handle, policy.opencc)
                self._converters[(policy.opencc, policy.only_traditional)] = (
                    converter.gated() if policy.only_traditional else converter.convert
                )

    def process(self, record: Any) -> Any:
        self._seen.inc()
        policy = self._by_source.get(getattr(record, "source", None), self._base)
        t2s = self._converters.get((policy.opencc, policy.only_traditional))
        changes: dict[str, Any] = {}
        # The counts of _TOTALS, in its order (Normalized's fields 1-5 and 7).
        t2s_chars = control = width = lines = urls = emoji = 0
        found: dict[str, int] = {}
        for field in self._fields or _text_fields(record):
            value = getattr(record, field)
            if not value:
                continue
            text, n_t2s, n_control, n_width, n_lines, n_urls, pii, n_emoji = textnorm.normalize(
                value,
                t2s,
                policy.fullwidth,
                policy.strip_boilerplate,
                urls=policy.urls,
                pii=policy.pii,
                pii_kinds=policy.pii_kinds,
                emoji=policy.emoji,
            )
            if text != value:
                changes[field] = text
            t2s_chars += n_t2s
            control += n_control
            width += n_width
            lines += n_lines
            urls += n_urls
            emoji += n_emoji
            for kind, n in pii.items():
                found[kind] = found.get(kind, 0) + n
        totals = dict(zip(_TOTALS, (t2s_chars, control, width, lines, urls, emoji), strict=True))
        meta = getattr(record, "meta", None) if self._meta else None
        if meta:
            totals["meta_chars"] = self._normalize_meta(meta, policy, t2s, changes, found)
        if found:
            totals.update({f"pii.{k}": v for k, v in sorted(found.items())})
        if hasattr(record, "signals"):
            signals = dict(record.signals or {})
            for key, value in totals.items():
                signals[_SIGNAL_NAMES.get(key) or f"norm.{key}"] = float(value)
            changes["signals"] = signals
        if hasattr(record, "lineage"):
            note = ",".join(f"{k}={v}" for k, v in totals.items() if v)
            changes["lineage"] = [*record.lineage, f"{self._stage}:{note}" if note else self._stage]
        self._passed.inc()
        yield replace_fields(record, **changes) if changes else record

    @staticmethod
    def _normalize_meta(
        meta: Mapping[str, str],
        policy: NormalizePolicy,
        t2s: Any,
        changes: dict[str, Any],
        found: dict[str, int],
    ) -> int:
        """Normalizes the meta values (``changes["meta"]`` when one changed, personal data added
        to ``found``); returns the number of characters changed."""
        values = [value for value in meta.values() if value != ""]
        # Most meta values are ids, counts, hashes and domains, which normalize() returns as they
        # are with nothing counted (its options were checked at construction): one check for all.
        if not values or textnorm.all_inert(values, t2s):
            return 0
        new: dict[str, str] | None = None
        changed = 0
        for key, value in meta.items():
            if value == "" or textnorm.is_inert(value, t2s):
                continue
            # Templates put meta values (tags, authors, categories) in instructions, outputs and
            # ``metadata``: personal data there is masked too, except in identifiers, which it
            # would corrupt (an 11-digit id is not a phone number).
            kinds = () if key.lower().endswith("id") else policy.pii_kinds
            result = textnorm.normalize(
                value, t2s, policy.fullwidth, False, pii=policy.pii, pii_kinds=kinds
            )
            for kind, n in result.pii.items():
                found[kind] = found.get(kind, 0) + n
            if result.text != value:
                changed += textnorm.count_changed_chars(value, result.text)
                if new is None:
                    new = dict(meta)
                new[key] = result.text
        if new is not None:
            changes["meta"] = new
        return changed


_SIGNAL_NAMES = {key: f"norm.{key}" for key in (*_TOTALS, "meta_chars")}
_FIELDS_OF: dict[type, tuple[str, ...]] = {}


def _text_fields(record: Any) -> tuple[str, ...]:
    """The text fields a record has (cached per NamedTuple type; a Row is looked at each time)."""
    kind = type(record)
    fields = _FIELDS_OF.get(kind)
    if fields is None:
        fields = tuple(f for f in text_fields_of(record) if hasattr(record, f))
        if hasattr(kind, "_fields"):
            _FIELDS_OF[kind] = fields
    return fields


class NormalizeText(beam.PTransform):
    """Normalizes the text fields of records and records what changed; drops nothing.

    Steps per field: line-separator controls (\\f, \\v, U+2028...) become newlines and invisible
    characters (other controls, zero-width, BOM) are removed; site chrome is stripped ("谢邀"
    openers, "编辑于 <date>" lines, copyright footers); full-width letters and digits become
    half-width (Chinese punctuation is kept); OpenCC converts to Simplified, by default only the
    lines that contain Traditional-only characters; personal data (mobile and landline numbers,
    ID numbers with a valid checksum, e-mails, bank cards passing Luhn) is masked, removed or
    counted; URLs and emoji are kept or removed (outside code blocks); whitespace is normalized
    outside code blocks. Every change is counted on the record as a signal (``norm.t2s_chars``,
    ``norm.control_chars``, ``norm.fullwidth_chars``, ``norm.boilerplate_lines``, ``norm.urls``,
    ``norm.emoji``, ``norm.pii.<kind>``, ``norm.meta_chars``) and named in its lineage.
    Normalizing twice changes nothing more. Outputs: the records (main) and errors. Counters in
    ``beam_cqia.NormalizeText``: ``seen``, ``passed``, ``errors``.

    Args:
        opencc: OpenCC profile to convert to Simplified (``t2s``, ``tw2s``, ``tw2sp``, ``hk2s``,
            ``hk2sp``), or null to keep the script.
        only_traditional: convert only lines that contain Traditional-only characters, so text
            that is already Simplified is never rewritten by phrase dictionaries.
        fields: the text fields to normalize; by default every text field of the record type
            (title, question, body, answer for RawDocs; instruction, input, output for records).
        fullwidth: convert full-width letters and digits to half-width.
        strip_boilerplate: remove site chrome lines and openers.
        normalize_meta: also normalize the values of ``meta`` (tags, subjects, categories),
            without boilerplate stripping; personal data is handled as in the text fields,
            except in identifiers (keys ending in ``id``).
        urls: ``keep``, ``remove`` or ``mask`` (``[链接]``) URLs; Markdown links keep their text.
        pii: ``mask`` (``[手机号]``, ``[身份证号]``...), ``remove`` or ``keep`` (count only).
        pii_kinds: kinds of personal data to look for: ``id_card``, ``bank_card``, ``mobile``,
            ``landline``, ``email`` (all by default).
        emoji: ``keep`` or ``remove`` emoji.
        by_source: per-source overrides of the options above, e.g.
            ``{xhs: {emoji: keep}, taiwan_forum: {opencc: tw2sp}}``.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        opencc: str | None = "t2s",
        only_traditional: bool = True,
        fields: list[str] | None = None,
        fullwidth: bool = True,
        strip_boilerplate: bool = True,
        normalize_meta: bool = True,
        urls: str = "keep",
        pii: str = "mask",
        pii_kinds: list[str] | None = None,
        emoji: str = "keep",
        by_source: Mapping[str, Mapping[str, Any]] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        check_field_names(fields)
        self._base = NormalizePolicy(
            opencc=opencc,
            only_traditional=only_traditional,
            fullwidth=fullwidth,
            strip_boilerplate=strip_boilerplate,
            urls=urls,
            pii=pii,
            pii_kinds=tuple(_pii.KINDS if pii_kinds is None else pii_kinds),
            emoji=emoji,
        )
        _check_policy(self._base, "NormalizeText")
        self._by_source = parse_by_source(self._base, by_source)
        check_error_handling(error_handling)
        self._fields = fields
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
                self._base,
                self._by_source,
                self._fields,
                self._meta,
            )
        ).with_exception_handling(main_tag=GOOD, dead_letter_tag=ERRORS)
        good, dead = results[GOOD], results[ERRORS]
        good.element_type = records.element_type
        return finish_stage(self, records, good, None, dead, self._error_handling)
