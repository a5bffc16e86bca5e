"""The figures of the run report (``report.html``), computed by combiners inside the pipeline.

Memory is bounded whatever the input size: histograms are keyed by values quantized to two
significant digits (:func:`beam_cqia.report_html.quantize`), duplicate clusters are summarized as
a size histogram and the ten largest, and example records are the few with the smallest hash of
(seed, stage, id) per drop reason or error kind (``Top`` per key). All of it is independent of
how the runner splits and merges, so every runner writes the same page.
"""

import json
from typing import Any

import apache_beam as beam
import xxhash

from beam_cqia import lineage, report_html
from beam_cqia.card import LENGTH_FIELDS


class _ProfileFn(beam.CombineFn):
    """Records → length histograms per (field, subset) and signal histograms per (signal,
    outcome): ``outcome`` is ``kept`` for written records, the rejecting stage for rejected ones.
    One ``add_input`` per record; accumulators are nested dicts of counts."""

    def __init__(self, fields: tuple[str, ...], rejected: bool):
        self._fields, self._rejected = fields, rejected

    def create_accumulator(self) -> tuple[dict, dict]:
        return {}, {}

    def add_input(self, acc: tuple[dict, dict], record: Any) -> tuple[dict, dict]:
        lengths, signals = acc
        quantize = report_html.quantize
        if self._rejected:
            outcome = record.stage
        else:
            outcome = report_html.KEPT
            subset = str(getattr(record, "subset", "") or "")
            for field in self._fields:
                q = quantize(float(len(getattr(record, field) or "")))
                by = lengths.setdefault(field, {}).setdefault(subset, {})
                by[q] = by.get(q, 0) + 1
        for name, value in (getattr(record, "signals", None) or {}).items():
            q = quantize(float(value))
            if q is None:
                continue
            by = signals.setdefault(name, {}).setdefault(outcome, {})
            by[q] = by.get(q, 0) + 1
        return acc

    def merge_accumulators(self, accs: Any) -> tuple[dict, dict]:
        lengths: dict = {}
        signals: dict = {}
        for acc_lengths, acc_signals in accs:
            for target, source in ((lengths, acc_lengths), (signals, acc_signals)):
                for outer, by in source.items():
                    into = target.setdefault(outer, {})
                    for inner, counts in by.items():
                        report_html.add_counts(into.setdefault(inner, {}), counts)
        return lengths, signals

    def extract_output(self, acc: tuple[dict, dict]) -> tuple[dict, dict]:
        return acc


class _ClusterSummaryFn(beam.CombineFn):
    """``(size, cluster, kept id)`` → a size histogram, the ten largest clusters and a count."""

    TOP = 10

    def create_accumulator(self) -> dict[str, Any]:
        return {"sizes": {}, "top": [], "count": 0}

    def add_input(self, acc: dict[str, Any], item: tuple[int, str, str]) -> dict[str, Any]:
        size = item[0]
        acc["sizes"][size] = acc["sizes"].get(size, 0) + 1
        acc["count"] += 1
        acc["top"] = sorted([*acc["top"], list(item)], key=lambda t: (-t[0], t[1]))[: self.TOP]
        return acc

    def merge_accumulators(self, accs: Any) -> dict[str, Any]:
        out = self.create_accumulator()
        for acc in accs:
            report_html.add_counts(out["sizes"], acc["sizes"])
            out["count"] += acc["count"]
            out["top"] = sorted([*out["top"], *acc["top"]], key=lambda t: (-t[0], t[1]))[: self.TOP]
        return out

    def extract_output(self, acc: dict[str, Any]) -> dict[str, Any]:
        return acc


def _rank(seed: int, stage: str, rid: str) -> int:
    return xxhash.xxh64_intdigest(f"{seed}\x1f{stage}\x1f{rid}".encode())


def _rejected_example(rank: int, r: Any) -> dict[str, Any]:
    try:
        values = json.loads(r.record)
    except ValueError:
        values = {}
    if not isinstance(values, dict):
        values = {}
    origin = lineage.origin_of(values.get("lineage"))
    where = ""
    if origin is not None:
        where = f"{origin.file}@{origin.offset}" + (f" {origin.url}" if origin.url else "")
    elif "file" in values and "offset" in values:  # a raw record rejected while reading
        where = f"{values['file']}@{values['offset']}"
    excerpt = report_html.excerpt(values)
    if not excerpt and isinstance(values.get("payload"), str):
        excerpt = {"raw": report_html.cut(values["payload"], report_html.EXCERPT_CHARS)}
    return {
        "rank": rank,
        "id": r.id,
        "detail": report_html.cut(r.detail, 400),
        "reasons": list(r.reasons),
        "kept_id": r.kept_id,
        "origin": where,
        "excerpt": excerpt,
    }


def _error_example(rank: int, e: Any) -> dict[str, Any]:
    try:
        values = json.loads(e.element)
    except ValueError:
        values = None
    excerpt = report_html.excerpt(values) if isinstance(values, dict) else {}
    if not excerpt:
        excerpt = {"element": report_html.cut(e.element, report_html.EXCERPT_CHARS)}
    origin = lineage.origin_of(values.get("lineage")) if isinstance(values, dict) else None
    where = f"{origin.file}@{origin.offset}" if origin else ""
    if not where and isinstance(values, dict) and "file" in values and "offset" in values:
        where = f"{values['file']}@{values['offset']}"  # a raw record that failed to parse
    return {
        "rank": rank,
        "id": e.id,
        "msg": report_html.cut(e.msg, 400),
        "origin": where,
        "excerpt": excerpt,
    }


class ReportStats(beam.PTransform):
    """``(records, rejected, errors)`` → the report's figures as tagged tuples:
    ``("lengths", {field: {subset: {q: n}}})``, ``("signals", {signal: {outcome: {q: n}}})``,
    ``("clusters", summary)`` and ``("examples", "rejected" | "errors", stage, reason or kind,
    [example...])``.

    Args:
        record_type: the written records' type (its text fields get length histograms).
        seed: chooses the example records.
        examples: examples per drop reason and error kind.
    """

    def __init__(self, record_type: type, seed: int = 0, examples: int = report_html.EXAMPLES):
        super().__init__()
        fields = getattr(record_type, "_fields", ())
        self._fields = tuple(f for f in LENGTH_FIELDS if f in fields)
        self._seed, self._n = seed, examples

    def expand(self, pcolls: Any) -> beam.PCollection:
        records, rejected, errors = pcolls
        seed, n = self._seed, self._n

        kept = records | "ProfileKept" >> beam.CombineGlobally(_ProfileFn(self._fields, False))
        dropped = rejected | "ProfileRejected" >> beam.CombineGlobally(_ProfileFn((), True))
        lengths = kept | "TagLengths" >> beam.Map(lambda acc: ("lengths", acc[0]))
        signals = (
            (kept, dropped)
            | "FlattenProfiles" >> beam.Flatten()
            | "TagSignals" >> beam.Map(lambda acc: ("signals", acc[1]))
        )
        clusters = (
            rejected
            | "Duplicates" >> beam.Filter(lambda r: bool(r.cluster_id))
            | "ByCluster" >> beam.Map(lambda r: (r.cluster_id, (1, r.kept_id)))
            | "SizeCluster"
            >> beam.CombinePerKey(
                lambda values: (
                    lambda vs: (sum(v[0] for v in vs), min((v[1] for v in vs), default=""))
                )(list(values))
            )
            | "Sizes" >> beam.MapTuple(lambda cluster, v: (v[0] + 1, cluster, v[1]))
            | "Summarize" >> beam.CombineGlobally(_ClusterSummaryFn())
            | "TagClusters" >> beam.Map(lambda s: ("clusters", s))
        )
        rejected_examples = (
            rejected
            | "RankRejected"
            >> beam.Map(lambda r: ((r.stage, r.reason), (_rank(seed, r.stage, r.id), r.id, r)))
            | "PickRejected"
            >> beam.combiners.Top.PerKey(n, key=lambda v: (v[0], v[1]), reverse=True)
            | "ShowRejected"
            >> beam.MapTuple(
                lambda key, top: (
                    "examples",
                    "rejected",
                    key[0],
                    key[1],
                    [_rejected_example(rank, r) for rank, _, r in top],
                )
            )
        )
        error_examples = (
            errors
            | "RankErrors"
            >> beam.Map(lambda e: ((e.stage, e.kind), (_rank(seed, e.stage, e.id), e.id, e)))
            | "PickErrors" >> beam.combiners.Top.PerKey(n, key=lambda v: (v[0], v[1]), reverse=True)
            | "ShowErrors"
            >> beam.MapTuple(
                lambda key, top: (
                    "examples",
                    "errors",
                    key[0],
                    key[1],
                    [_error_example(rank, e) for rank, _, e in top],
                )
            )
        )
        return (
            lengths,
            signals,
            clusters,
            rejected_examples,
            error_examples,
        ) | "FlattenReport" >> beam.Flatten()
