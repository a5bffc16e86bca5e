"""Dedup indexes as stages: WriteDedupIndex builds one from any records; Decontaminate drops
records that overlap a benchmark's items (C-Eval, CMMLU, GAOKAO-Bench, LogiQA...)."""

import re
from collections.abc import Callable, Mapping
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia.text import dedupkey, minhash
from beam_cqia.text.signals import text_fields_of
from beam_cqia.transforms import _models, dedup_index
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    REJECTED,
    check_error_handling,
    check_field_names,
    check_fields_exist,
    finish_stage,
    merge_inputs,
    namespace,
    rejected,
)
from beam_cqia.transforms.neardup import DEFAULT_NGRAM as DEFAULT_MINHASH_NGRAM

# Decontamination n-gram length measured best on CMMLU, GAOKAO-Bench and LogiQA items planted
# into records and found in COIG-CQIA (benchmarks/results/dedup_accuracy.md: F1 0.983 at
# min_overlap 0.5, against 0.975 for 8-grams).
DEFAULT_DECONTAM_NGRAM = 6

_OPTION_LABEL = re.compile(
    r"^\s*(?:[A-Ha-h]|[（(][A-Ha-h][)）])\s*[.．、:：)）]?\s+|^\s*[A-Ha-h][.．、:：)）]\s*"
)


def item_hashes(text: str, ngram: int, t2s: Callable[[str], str] | None) -> np.ndarray:
    """Distinct n-gram hashes of an exam-like text, line by line.

    Each line (the stem, each option) is reduced like exact dedup reduces text, with a leading
    option label ("A. ", "B、", "(C)") removed, and gives its own n-grams (a line shorter than
    ``ngram`` is one shingle). No n-gram spans two lines, so reordered options, relabelled
    options or an added preamble line change nothing in the item's other lines.
    """
    segments = [minhash.shingle_text(_OPTION_LABEL.sub("", line), t2s) for line in text.split("\n")]
    sets = minhash.shingle_hash_sets([s for s in segments if s], ngram)
    return np.unique(np.concatenate(sets)) if sets else np.empty(0, np.uint64)


class _IndexRowsFn(beam.DoFn):
    def __init__(self, kind: str, params: Mapping[str, Any], handle: shared.Shared):
        self._kind, self._params, self._handle = kind, dict(params), handle

    def setup(self) -> None:
        self._t2s = _models.converter_or_none(self._handle, self._params["opencc"])
        if self._kind == "minhash":
            p = self._params
            self._hasher = minhash.MinHasher(p["num_perm"], p["ngram"], p["seed"])

    def process(self, record: Any) -> Any:
        fields = self._params["fields"] or text_fields_of(record)
        parts = [getattr(record, f) or "" for f in fields]
        if self._kind == "exact":
            key = dedupkey.dedup_key(parts, self._t2s)
            if key:
                yield {"key": key, "id": record.id}
            return
        if self._kind == "minhash":
            text = minhash.shingle_text("\n".join(parts), self._t2s)
            if text:
                signature = self._hasher.signatures([text], normalized=True)[0]
                yield {"id": record.id, "signature": signature.tobytes()}
            return
        hashes = item_hashes("\n".join(parts), self._params["ngram"], self._t2s)
        for h in hashes:
            yield {"hash": int(h), "item": record.id, "count": int(hashes.size)}


class WriteDedupIndex(beam.PTransform):
    """Writes records as a dedup index that DedupExact, DedupMinHash or Decontaminate can load.

    Build one from a release to dedup the next crawl against it, or from benchmark sets
    (``kind: ngram``) to decontaminate. Records without content are left out. Output: the path
    of the index's ``_index.json``, written once every part file is in place.

    Args:
        path: the index directory (any Beam filesystem path).
        kind: ``exact`` (normalized-content keys), ``minhash`` (signatures) or ``ngram``
            (character n-gram hashes of each item, for overlap decontamination).
        fields: the fields to index; by default every text field of the record type. For
            benchmark questions, the question (stem and options).
        ngram: characters per shingle (``minhash`` and ``ngram``); by default DedupMinHash's
            default (3) for ``minhash`` and 6 for ``ngram``, the best decontamination setting
            measured on CMMLU, GAOKAO-Bench and LogiQA (benchmarks/results/dedup_accuracy.md).
        num_perm: MinHash permutations (``minhash``).
        seed: MinHash seed (``minhash``).
        opencc: OpenCC configuration applied before hashing, or null; must equal the matching
            stage's.
    """

    def __init__(
        self,
        path: str,
        kind: str,
        fields: list[str] | None = None,
        ngram: int | None = None,
        num_perm: int = 128,
        seed: int = 1,
        opencc: str | None = "t2s",
    ):
        super().__init__()
        if ngram is None:
            ngram = DEFAULT_MINHASH_NGRAM if kind == "minhash" else DEFAULT_DECONTAM_NGRAM
        if not path:
            raise ValueError("path must name the index directory")
        if kind not in dedup_index.KINDS:
            raise ValueError(f"kind must be one of {list(dedup_index.KINDS)}, got {kind!r}")
        check_field_names(fields)
        _models.check_opencc_config(opencc)
        for name, value in (("ngram", ngram), ("num_perm", num_perm)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        fields = list(fields or [])
        if kind == "exact":
            self._params = dedup_index.exact_params(fields, opencc)
        elif kind == "minhash":
            # Bands are chosen by the matching stage; 1 x num_perm records the signature size.
            self._params = dedup_index.minhash_params(
                num_perm, ngram, seed, 1, num_perm, opencc, fields
            )
        else:
            self._params = dedup_index.ngram_params(ngram, fields, opencc)
        self._path, self._kind = path, kind

    def expand(self, inputs: Any) -> beam.PCollection:
        records = merge_inputs(inputs, self.label)
        check_fields_exist(records, self._params["fields"])
        rows = records | "IndexRows" >> beam.ParDo(
            _IndexRowsFn(self._kind, self._params, shared.Shared())
        )
        return dedup_index.write_index(rows, self._path, self._kind, self._params, "Index")


def _read_index_rows(paths: list[str]) -> tuple[list[Any], list[Any], list[Any]]:
    """The (hash, item, count) columns of the n-gram indexes at ``paths``, file by file."""
    hashes, items, counts = [], [], []
    for path in paths:
        meta = dedup_index.read_meta(path)
        for name in meta["files"]:
            with FileSystems.open(
                FileSystems.join(path, name), compression_type=CompressionTypes.UNCOMPRESSED
            ) as fh:
                table = pq.read_table(fh)
            hashes.append(table.column("hash").to_numpy())
            items.append(np.asarray(table.column("item").to_pylist(), dtype=object))
            counts.append(table.column("count").to_numpy())
    return hashes, items, counts


class _NgramIndex:
    """A loaded n-gram index: hashes sorted with their item codes (weak-referenceable).

    Built from index files (``paths``) and/or benchmark items hashed in the pipeline
    (``extra``: ``(item id, distinct n-gram hashes)`` pairs).
    """

    def __init__(
        self,
        paths: list[str],
        max_items_per_ngram: int,
        extra: list[tuple[str, np.ndarray]] | None = None,
    ):
        hashes, items, counts = _read_index_rows(paths)
        for item, item_hashes_ in extra or []:
            hashes.append(np.asarray(item_hashes_, np.uint64))
            items.append(np.full(len(item_hashes_), item, dtype=object))
            counts.append(np.full(len(item_hashes_), len(item_hashes_), np.int64))
        hash_all = np.concatenate(hashes) if hashes else np.empty(0, np.uint64)
        item_all = np.concatenate(items) if items else np.empty(0, object)
        count_all = np.concatenate(counts) if counts else np.empty(0, np.int64)
        self.names, codes = np.unique(item_all, return_inverse=True)
        self.totals = np.zeros(self.names.size, np.int64)
        self.totals[codes] = count_all
        # An n-gram shared by many items is boilerplate phrasing ("下列说法正确的是"): skipped.
        _, inverse, per_hash = np.unique(hash_all, return_inverse=True, return_counts=True)
        common = per_hash[inverse] > max_items_per_ngram
        order = np.argsort(hash_all[~common], kind="stable")
        self.hashes = hash_all[~common][order]
        self.codes = codes[~common][order]

    def best(self, query: np.ndarray) -> tuple[float, str]:
        """The item whose n-grams the query covers most: (share of its n-grams, item)."""
        if not query.size or not self.hashes.size:
            return 0.0, ""
        lo = np.searchsorted(self.hashes, query, "left")
        hi = np.searchsorted(self.hashes, query, "right")
        hit = hi > lo
        if not hit.any():
            return 0.0, ""
        spans = [self.codes[a:b] for a, b in zip(lo[hit], hi[hit], strict=True)]
        codes = np.concatenate(spans)
        found = np.bincount(codes, minlength=self.names.size)
        share = found / np.maximum(self.totals, 1)
        best = int(np.argmax(share))
        return float(share[best]), str(self.names[best])


class _DecontaminateFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        handle: shared.Shared,
        paths: list[str],
        params: Mapping[str, Any],
        min_overlap: float,
        max_items: int,
        fields: list[str],
    ):
        self._stage, self._handle, self._paths = stage, handle, paths
        self._params, self._min, self._max_items = dict(params), min_overlap, max_items
        self._fields = fields
        ns = namespace(kind)
        self._seen = Metrics.counter(ns, "seen")
        self._passed = Metrics.counter(ns, "passed")
        self._hit = Metrics.counter(ns, "filtered:contaminated")

    def setup(self) -> None:
        self._t2s = _models.converter_or_none(self._handle, self._params["opencc"])
        paths, max_items = list(self._paths), self._max_items
        self._index = None
        if paths:
            self._index = self._handle.acquire(
                lambda: _NgramIndex(paths, max_items), tag=f"ngram-index:{paths}:{max_items}"
            )

    def process(self, record: Any, benchmark: list[tuple[str, Any]] | None = None) -> Any:
        self._seen.inc()
        if benchmark is not None and not getattr(self, "_with_benchmark", False):
            # Items hashed in this pipeline arrive as a side input, which setup() cannot see:
            # the index is built on the first record and kept for the DoFn's life.
            self._index = _NgramIndex(list(self._paths), self._max_items, benchmark)
            self._with_benchmark = True
        fields = self._fields or text_fields_of(record)
        text = "\n".join(getattr(record, f) or "" for f in fields)
        query = item_hashes(text, self._params["ngram"], self._t2s)
        share, item = self._index.best(query)
        if share >= self._min:
            self._hit.inc()
            yield rejected(
                record,
                self._stage,
                "contaminated",
                f"covers {share:.0%} of the {self._params['ngram']}-grams of benchmark item {item}",
                kept_id=item,
            )
        else:
            self._passed.inc()
            yield record


class _ItemHashesFn(beam.DoFn):
    """A benchmark item as ``(id, distinct n-gram hashes)``; items without text are left out."""

    def __init__(self, params: Mapping[str, Any], fields: list[str], handle: shared.Shared):
        self._params, self._fields, self._handle = dict(params), fields, handle

    def setup(self) -> None:
        self._t2s = _models.converter_or_none(self._handle, self._params["opencc"])

    def process(self, item: Any) -> Any:
        fields = self._fields or text_fields_of(item)
        hashes = item_hashes(
            "\n".join(getattr(item, f) or "" for f in fields), self._params["ngram"], self._t2s
        )
        if hashes.size:
            yield str(item.id), hashes


class Decontaminate(beam.PTransform):
    """Drops records that contain a benchmark item (e.g. a CMMLU or GAOKAO question).

    Exam questions reach training data with small changes: options reordered or relabelled, a
    sentence added, punctuation or script changed. So the rule is containment, not similarity:
    a record is contaminated when it covers at least ``min_overlap`` of some benchmark item's
    distinct character n-grams, however much other text it has; n-grams are taken line by line
    (stem, each option, option labels removed) after the exact-dedup normalization.
    N-grams shared by more than ``max_items_per_ngram`` items are generic exam phrasing and are
    ignored.

    The benchmark items come from n-gram indexes written earlier by ``WriteDedupIndex(kind:
    ngram)`` (``against``), from inputs of this stage (``benchmarks``: a spec gives the stage a
    map input, ``input: {records: Tag, cmmlu: ReadCmmluTest}``, and names the benchmark inputs,
    so one run reads the benchmark sets and decontaminates against them), or both. Items read in
    the pipeline are hashed with the indexes' parameters (6-grams and t2s without indexes) and
    reach the check as a side input; the index is built once per DoFn instance.
    Outputs: clean records (main), rejected (``contaminated``, with the benchmark item as the kept
    id and the overlap in the detail), errors. The manifest counts the records only, not the
    benchmark items. Counters in ``beam_cqia.Decontaminate``: ``seen``, ``passed``,
    ``filtered:contaminated``, ``errors``.

    Args:
        against: n-gram indexes of benchmark sets.
        benchmarks: names of this stage's inputs that hold benchmark items rather than records
            (the other inputs are the records to check).
        benchmark_fields: the fields of the benchmark items to hash (e.g. ``[question]``: stem
            and options); by default every text field of their record type.
        fields: the fields to check; by default every text field of the record type.
        min_overlap: share of an item's n-grams a record must cover to be contaminated.
        max_items_per_ngram: n-grams found in more items than this are ignored.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        against: list[str] | None = None,
        benchmarks: list[str] | None = None,
        benchmark_fields: list[str] | None = None,
        fields: list[str] | None = None,
        min_overlap: float = 0.5,
        max_items_per_ngram: int = 20,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        against = [] if against is None else against
        benchmarks = [] if benchmarks is None else benchmarks
        if not isinstance(against, list) or not all(isinstance(p, str) and p for p in against):
            raise ValueError(f"against must be a list of index paths, got {against!r}")
        if not isinstance(benchmarks, list) or not all(
            isinstance(b, str) and b for b in benchmarks
        ):
            raise ValueError(f"benchmarks must be a list of input names, got {benchmarks!r}")
        if not against and not benchmarks:
            raise ValueError(
                "against must list at least one n-gram index, or benchmarks name the inputs "
                "that hold benchmark items"
            )
        check_field_names(fields)
        check_field_names(benchmark_fields)
        if (
            isinstance(min_overlap, bool)
            or not isinstance(min_overlap, (int, float))
            or not (0 < min_overlap <= 1)
        ):
            raise ValueError(f"min_overlap must be in (0, 1], got {min_overlap!r}")
        check_error_handling(error_handling)
        metas = [dedup_index.read_meta(p) for p in against]
        for path, meta in zip(against, metas, strict=True):
            if meta["kind"] != "ngram":
                raise ValueError(f"{path} is a {meta['kind']} index; Decontaminate needs ngram")
        if metas:
            params = metas[0]["params"]
            for path in against[1:]:
                dedup_index.check_index(path, "ngram", params)
        else:
            params = dedup_index.ngram_params(
                DEFAULT_DECONTAM_NGRAM, list(benchmark_fields or []), "t2s"
            )
        self._params = params
        self._paths = list(against)
        self._benchmarks = list(benchmarks)
        self._benchmark_fields = list(benchmark_fields or [])
        self._fields = list(fields or [])
        self._min, self._max_items = float(min_overlap), max_items_per_ngram
        self._error_handling = error_handling

    def _split_inputs(self, inputs: Any) -> tuple[Any, list[beam.PCollection]]:
        if not self._benchmarks:
            return inputs, []
        if not isinstance(inputs, Mapping):
            raise ValueError(
                f"{self.label}: benchmarks {self._benchmarks} name inputs, so the stage needs a "
                "map input (input: {records: ..., <benchmark>: ...})"
            )
        missing = [b for b in self._benchmarks if b not in inputs]
        records = {k: v for k, v in inputs.items() if k not in self._benchmarks}
        if missing or not records:
            raise ValueError(
                f"{self.label}: inputs are {sorted(inputs)}; benchmarks {self._benchmarks} must "
                f"name some of them{f' (missing {missing})' if missing else ''} and at least one "
                "other input must hold the records"
            )
        return records, [inputs[b] for b in self._benchmarks]

    def expand(self, inputs: Any) -> Any:
        record_inputs, bench_inputs = self._split_inputs(inputs)
        records = merge_inputs(record_inputs, self.label)
        check_fields_exist(records, self._fields)
        side: dict[str, Any] = {}
        if bench_inputs:
            for pcoll in bench_inputs:
                check_fields_exist(pcoll, self._benchmark_fields)
            items = (
                bench_inputs | "MergeBenchmarks" >> beam.Flatten()
                if len(bench_inputs) > 1
                else bench_inputs[0]
            )
            hashed = items | "HashBenchmarks" >> beam.ParDo(
                _ItemHashesFn(self._params, self._benchmark_fields, shared.Shared())
            )
            side["benchmark"] = beam.pvalue.AsList(hashed)
        results = records | "Check" >> beam.ParDo(
            _DecontaminateFn(
                self.label,
                type(self).__name__,
                shared.Shared(),
                self._paths,
                self._params,
                self._min,
                self._max_items,
                self._fields,
            ),
            **side,
        ).with_outputs(REJECTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(
            self, records, good, results[REJECTED], results[ERRORS], self._error_handling
        )
