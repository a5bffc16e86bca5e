"""Parquet sink: hive-partitioned data, rejected and error records, and the run manifest."""

import itertools
import json
import logging
import os
import pickle
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows

import beam_cqia
from beam_cqia import card, layout, progress, report_html
from beam_cqia.records import ErrorRecord, Rejected, arrow_row, arrow_schema
from beam_cqia.text.ids import stable_bucket
from beam_cqia.transforms import _packs
from beam_cqia.transforms._files import remove_hidden_temporaries, remove_tree
from beam_cqia.transforms._report_stats import ReportStats
from beam_cqia.transforms._stage import (
    claim_unwritten,
    count_partial,
    ledger_inputs,
    merge_inputs,
    namespace,
    register_sink,
)

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
TEMPORARY = "_temporary"
COMPRESSIONS = ("zstd", "snappy", "gzip", "none")
SIDE_PARTITION_BY = ("subset",)


def _is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) in (None, "file")


def _makedirs_for(path: str) -> None:
    if _is_local(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)


# Records cross the sink's two shuffles (waiting for the partition counts, then grouping by part
# file) pickled and in sealed packs of up to this many: one element per pack instead of per
# record, a pickling instead of a row coding at each step, and half the bytes.
_PACK_RECORDS = 1000


class _PackPartitionFn(_packs.PackFn):
    """Records → ``(partition dir, ([id, ...], sealed pickled records))`` packs of up to
    ``_PACK_RECORDS``."""

    def __init__(self, partition_by: tuple[str, ...], hold: bool):
        super().__init__(hold, max_pack=_PACK_RECORDS)
        self._partition_by = partition_by

    def place(self, record: Any) -> tuple[str, tuple[str, bytes]]:
        keys = self._partition_by
        pdir = layout.partition_dir(keys, [getattr(record, k) for k in keys])
        return pdir, (record.id, pickle.dumps(record, pickle.HIGHEST_PROTOCOL))

    def emit(self, pdir: str, pack: list[tuple[str, bytes]]) -> Any:
        return pdir, _packs.seal_pack(pack)


class _ShardFn(beam.DoFn):
    """A pack of a partition → its records keyed by (partition dir, shard, shard count), the
    shard chosen deterministically from each record's id."""

    def __init__(self, max_records: int):
        self._max = max_records

    def process(self, packed: tuple[str, Any], counts: Mapping[str, int]) -> Any:
        pdir, pack = packed
        shards = layout.shard_count(counts[pdir], self._max)
        if shards == 1:
            yield (pdir, 0, 1), pack
            return
        by_shard: dict[int, list[tuple[str, bytes]]] = {}
        for rid, pickled in _packs.unpack(pack):
            by_shard.setdefault(stable_bucket(rid, shards), []).append((rid, pickled))
        for shard, items in sorted(by_shard.items()):
            yield (pdir, shard, shards), _packs.seal_pack(items)


class _WriteShardFn(beam.DoFn):
    """Writes one part file to a temporary name; the finalize step moves it into place."""

    def __init__(
        self,
        base: str,
        kind: str,
        record_type: type,
        exclude: tuple[str, ...],
        row_group_rows: int,
        compression: str,
        sink: str,
        label: str = "",
    ):
        self._base, self._kind, self._type = base, kind, record_type
        self._exclude, self._rg, self._compression = exclude, row_group_rows, compression
        self._written = Metrics.counter(namespace(sink), "passed") if kind == "data" else None
        self._label = label or sink

    def setup(self) -> None:
        self._schema = arrow_schema(self._type, self._exclude)
        self._progress = progress.tally(self._label, "out") if self._kind == "data" else None

    def process(self, group: tuple[tuple[str, int, int], Iterable[Any]]) -> Any:
        key, packs = group
        # Held pickled (compact) and sorted by id; records are unpickled a row group at a time.
        items = sorted((i for pack in packs for i in _packs.unpack(pack)), key=lambda i: i[0])
        yield self._write(key, (pickle.loads(pickled) for _, pickled in items))

    def write(self, key: tuple[str, int, int], records: Iterable[Any]) -> dict[str, Any]:
        """Writes the records of part file ``key`` (partition dir, shard, shard count)."""
        return self._write(key, sorted(records, key=lambda r: r.id))

    def _write(self, key: tuple[str, int, int], records: Iterator[Any]) -> dict[str, Any]:
        pdir, shard, shards = key
        tmp = FileSystems.join(self._base, TEMPORARY, f"{uuid.uuid4().hex}.parquet")
        n = _write_row_groups(
            tmp,
            self._schema,
            ([arrow_row(r, self._exclude) for r in group] for group in _chunks(records, self._rg)),
            self._compression,
        )
        if self._written is not None:
            self._written.inc(n)
        if self._progress is not None:
            self._progress.n += n
        return {
            "kind": self._kind,
            "partition": pdir,
            "path": layout.part_path(self._kind, pdir, shard, shards),
            "tmp": tmp,
            "records": n,
        }


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def _write_row_groups(
    path: str, schema: pa.Schema, row_groups: Iterable[list[dict[str, Any]]], compression: str
) -> int:
    """Writes each list of rows as one row group (the bytes ``pq.write_table`` gives the rows
    with ``row_group_size`` the groups' size); returns the number of rows."""
    n = 0
    codec = None if compression == "none" else compression
    with (
        FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh,
        pq.ParquetWriter(fh, schema, compression=codec) as writer,
    ):
        for rows in row_groups:
            writer.write_table(pa.Table.from_pylist(rows, schema=schema), row_group_size=len(rows))
            n += len(rows)
        if not n:
            writer.write_table(schema.empty_table())
    return n


class _FinalizeFn(beam.DoFn):
    """Moves part files into place, removes stale ones, writes _manifest.json, README.md,
    report.html and _SUCCESS."""

    def __init__(
        self,
        base: str,
        sink: str,
        stage_order: list[tuple[str, str]],
        schemas: Mapping[str, tuple[type, tuple[str, ...]]],
        partition_by: list[str],
        row_group_rows: int,
        compression: str,
        spec: Mapping[str, Any],
        inputs: list[tuple[str, str]] = (),
        notes: Mapping[str, Mapping[str, Any]] | None = None,
    ):
        self._base, self._sink, self._order = base, sink, stage_order
        self._notes = {k: dict(v) for k, v in (notes or {}).items()}
        self._inputs = [list(i) for i in inputs]
        self._schemas, self._partition_by = dict(schemas), partition_by
        self._rg, self._compression = row_group_rows, compression
        self._spec = dict(spec)

    def process(
        self,
        files: list[dict[str, Any]],
        plans: list[tuple[str, str, int]],
        counts: list[tuple[str, str, str, int]],
        stats: list[tuple[Any, ...]],
        report: list[tuple[Any, ...]] = (),
    ) -> Any:
        base = self._base
        success = FileSystems.join(base, SUCCESS)
        if FileSystems.exists(success):
            FileSystems.delete([success])
        by_path = {f["path"]: f for f in files}
        # Partitions whose records all hashed to some shards still get every -of-N file.
        for kind, pdir, shards in plans:
            for shard in range(shards):
                rel = layout.part_path(kind, pdir, shard, shards)
                if rel not in by_path:
                    tmp = FileSystems.join(base, TEMPORARY, f"{uuid.uuid4().hex}.parquet")
                    record_type, exclude = self._schemas[kind]
                    _write_row_groups(
                        tmp, arrow_schema(record_type, exclude), [], self._compression
                    )
                    by_path[rel] = {
                        "kind": kind,
                        "partition": pdir,
                        "path": rel,
                        "tmp": tmp,
                        "records": 0,
                    }
        finals = sorted(by_path)
        for rel in finals:
            final = FileSystems.join(base, rel)
            _makedirs_for(final)
            FileSystems.rename([by_path[rel]["tmp"]], [final])
        stale = [p for p in _existing_part_files(base) if p not in set(finals)]
        if stale:
            FileSystems.delete([FileSystems.join(base, p) for p in stale])
        remove_tree(FileSystems.join(base, TEMPORARY))
        remove_hidden_temporaries(base, (MANIFEST, card.CARD, report_html.REPORT))

        manifest = build_manifest(
            [by_path[p] for p in finals],
            counts,
            self._order,
            self._sink,
            self._partition_by,
            spec=self._spec,
            inputs=self._inputs,
            notes=self._notes,
        )
        manifest_path = FileSystems.join(base, MANIFEST)
        text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
        _replace_file(base, MANIFEST, text.encode("utf-8"))
        readme = card.render_card(manifest, stats, self._spec, self._partition_by)
        _replace_file(base, card.CARD, readme.encode("utf-8"))
        try:
            page = report_html.render_report(manifest, stats, report, self._spec)
        except Exception as exc:  # the data is in place: a report bug loses nothing
            logging.getLogger(__name__).warning("report.html failed", exc_info=True)
            page = report_html.failure_page(exc)
        _replace_file(base, report_html.REPORT, page.encode("utf-8"))
        with FileSystems.create(success, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(b"")
        yield manifest_path


def _replace_file(base: str, name: str, data: bytes) -> None:
    """Writes ``base/name`` through a temporary name, so readers never see half a file."""
    tmp = FileSystems.join(base, f".{name}.{uuid.uuid4().hex}")
    with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        fh.write(data)
    FileSystems.rename([tmp], [FileSystems.join(base, name)])


class _HistogramFn(beam.CombineFn):
    """``{length: count}`` histograms -> ``card.length_summary`` of their sum (exact, and
    independent of how the runner splits and merges, unlike approximate quantiles)."""

    def create_accumulator(self) -> dict[int, int]:
        return {}

    def add_input(self, acc: dict[int, int], histogram: Mapping[int, int]) -> dict[int, int]:
        return self.merge_accumulators([acc, histogram])

    def merge_accumulators(self, accs: Any) -> dict[int, int]:
        out: dict[int, int] = {}
        for acc in accs:
            for length, n in acc.items():
                out[length] = out.get(length, 0) + n
        return out

    def extract_output(self, acc: dict[int, int]) -> dict[str, Any]:
        return card.length_summary(acc)


class _TopWithRestFn(beam.CombineFn):
    """``(count, value)`` pairs (each value once) -> the ``top`` most frequent, ties by value,
    and the number and total of the others; memory bounded by ``top`` on every worker."""

    def __init__(self, top: int):
        self._top = top

    def create_accumulator(self) -> tuple[list[tuple[int, str]], int, int]:
        return [], 0, 0

    def _trim(self, ranked: list[tuple[int, str]], values: int, count: int) -> Any:
        ranked.sort(key=lambda cv: (-cv[0], cv[1]))
        rest = ranked[self._top :]
        return ranked[: self._top], values + len(rest), count + sum(n for n, _ in rest)

    def add_input(self, acc: Any, item: tuple[int, str]) -> Any:
        ranked, values, count = acc
        return self._trim([*ranked, tuple(item)], values, count)

    def merge_accumulators(self, accs: Any) -> Any:
        ranked: list[tuple[int, str]] = []
        values = count = 0
        for r, v, c in accs:
            ranked += [tuple(x) for x in r]
            values, count = values + v, count + c
        return self._trim(ranked, values, count)

    def extract_output(self, acc: Any) -> dict[str, Any]:
        ranked, values, count = acc
        return {
            "top": [[value, n] for n, value in ranked],
            "other_values": values,
            "other_count": count,
        }


class _CardPartialsFn(beam.DoFn):
    """Records → the card's statistics of each bundle, emitted at its end (nothing per record):
    ``("subset", subset, n)``, ``("length", (subset or None, field), histogram)`` and
    ``("label", (distribution, value), n)``. Summed by ``_CardStats``; counting in the
    producer's step replaces a dozen elements per record through the combiners' shuffles."""

    def __init__(self, fields: tuple[str, ...]):
        self._fields = fields

    def start_bundle(self) -> None:
        self._subsets: dict[str, int] = {}
        self._lengths: dict[tuple[str | None, str], dict[int, int]] = {}
        self._labels: dict[tuple[str, str], int] = {}

    def process(self, record: Any) -> Any:
        subset = str(getattr(record, "subset", ""))
        self._subsets[subset] = self._subsets.get(subset, 0) + 1
        lengths = self._lengths
        for field in self._fields:
            n = len(str(getattr(record, field) or ""))
            for key in ((subset, field), (None, field)):
                histogram = lengths.get(key)
                if histogram is None:
                    histogram = lengths[key] = {}
                histogram[n] = histogram.get(n, 0) + 1
        labels = self._labels
        for kv in card.label_values(record):
            labels[kv] = labels.get(kv, 0) + 1
        return ()

    def finish_bundle(self) -> Any:
        at_end = GlobalWindows.windowed_value_at_end_of_window
        for subset, n in sorted(self._subsets.items()):
            yield at_end(("subset", subset, n))
        for key, histogram in self._lengths.items():
            yield at_end(("length", key, histogram))
        for kv, n in sorted(self._labels.items()):
            yield at_end(("label", kv, n))
        self.start_bundle()


class _CardStats(beam.PTransform):
    """The statistics of the dataset card, computed over the written records:
    ``("subset", name, n)``, ``("length", subset or None, field, summary)`` (None: all subsets)
    and ``("labels", distribution, top values)``."""

    def __init__(self, record_type: type):
        super().__init__()
        self._fields = tuple(f for f in card.LENGTH_FIELDS if f in record_type._fields)

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        partials = records | "Partials" >> beam.ParDo(_CardPartialsFn(self._fields))

        def of_kind(kind: str) -> Any:
            return lambda p: [(p[1], p[2])] if p[0] == kind else []

        subsets = (
            partials
            | "SubsetParts" >> beam.FlatMap(of_kind("subset"))
            | "CountPerSubset" >> beam.CombinePerKey(sum)
            | "TagSubsets" >> beam.MapTuple(lambda subset, n: ("subset", subset, n))
        )
        length_stats = (
            partials
            | "LengthParts" >> beam.FlatMap(of_kind("length"))
            | "LengthHistograms" >> beam.CombinePerKey(_HistogramFn())
            | "TagLengths" >> beam.MapTuple(lambda key, s: ("length", key[0], key[1], s))
        )
        labels = (
            partials
            | "LabelParts" >> beam.FlatMap(of_kind("label"))
            | "CountPerLabel" >> beam.CombinePerKey(sum)
            | "ByDistribution" >> beam.MapTuple(lambda kv, n: (kv[0], (n, kv[1])))
            | "TopLabels" >> beam.CombinePerKey(_TopWithRestFn(card.TOP))
            | "TagLabels" >> beam.MapTuple(lambda dist, top: ("labels", dist, top))
        )
        return (subsets, length_stats, labels) | "FlattenStats" >> beam.Flatten()


def _existing_part_files(base: str) -> list[str]:
    """Relative paths of every part-*.parquet already under base/{data,rejected,errors}."""
    found = []
    for kind in layout.KINDS:
        root = FileSystems.join(base, kind)
        if _is_local(root):
            for dirpath, _, filenames in os.walk(root):
                for name in filenames:
                    if layout.PART_FILE.match(name):
                        found.append(os.path.relpath(os.path.join(dirpath, name), base))
        else:
            for result in FileSystems.match([root + "/**"]):
                for meta in result.metadata_list:
                    name = meta.path.rsplit("/", 1)[-1]
                    if layout.PART_FILE.match(name):
                        found.append(meta.path[len(base.rstrip("/")) + 1 :])
    return sorted(found)


def build_manifest(
    files: list[dict[str, Any]],
    counts: list[tuple[str, str, str, int]],
    stage_order: list[tuple[str, str]],
    sink: str,
    partition_by: list[str],
    spec: Mapping[str, Any] | None = None,
    inputs: list[list[str]] | None = None,
    notes: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Assembles the manifest from written files and the stages' in-pipeline counts, with the
    spec it was built from (path, sha256 of the rendered spec and of its template, variables;
    empty for pipelines built in Python) and the ``[stage, path]`` inputs reading stages read.

    Stages with ``notes`` (FilterByScore's thresholds) get them in their entry.
    The result has no timestamps and sorted lists, so the same input and spec give the same bytes.
    """
    stages: dict[str, dict[str, Any]] = {}
    for name, kind in stage_order:
        stages[name] = {"transform": kind, "in": 0, "out": 0, "rejected": {}, "errors": 0}
    # Counts arrive in whatever order the runner's bundles finished: sorted, keys first seen here
    # (``emitted``, ``error_kinds``) land in the same place of the JSON every run.
    for stage, field, key, n in sorted(counts):
        entry = stages.setdefault(
            stage, {"transform": "", "in": 0, "out": 0, "rejected": {}, "errors": 0}
        )
        if field in ("rejected", "error_kinds"):
            bucket = entry.setdefault(field, {})
            bucket[key] = bucket.get(key, 0) + n
        else:
            entry[field] = entry.get(field, 0) + n
    for name, extra in (notes or {}).items():
        if name in stages:
            stages[name].update({k: v for k, v in sorted(extra.items()) if k not in stages[name]})
    for entry in stages.values():
        entry["rejected"] = dict(sorted(entry["rejected"].items()))
        if "error_kinds" in entry:
            entry["error_kinds"] = dict(sorted(entry["error_kinds"].items()))
    outputs: dict[str, Any] = {}
    for kind in layout.KINDS:
        of_kind = [f for f in files if f["kind"] == kind]
        partitions: dict[str, int] = {}
        for f in of_kind:
            partitions[f["partition"]] = partitions.get(f["partition"], 0) + f["records"]
        outputs[kind] = {
            "records": sum(f["records"] for f in of_kind),
            "partitions": dict(sorted(partitions.items())),
            "files": [{"path": f["path"], "records": f["records"]} for f in of_kind],
        }
    stages[sink]["out"] = outputs["data"]["records"]
    return {
        "format": "beam-cqia-manifest/1",
        "versions": {
            "beam_cqia": beam_cqia.__version__,
            "apache_beam": beam.__version__,
            "pyarrow": pa.__version__,
        },
        "layout": {"partition_by": list(partition_by), "kinds": list(layout.KINDS)},
        "spec": {k: v for k, v in sorted((spec or {}).items()) if k != "text"},
        "inputs": [list(i) for i in inputs or []],
        "stages": stages,
        "outputs": outputs,
    }


def _leaves(pcoll: beam.PCollection) -> list[beam.PCollection]:
    """The PCollections a Flatten was made of (recursively), or the PCollection itself."""
    producer = pcoll.producer
    if producer is not None and isinstance(producer.transform, beam.Flatten):
        out = []
        for p in producer.inputs:
            out.extend(_leaves(p))
        return out
    return [pcoll]


class WriteCqiaParquet(beam.PTransform):
    """Writes records as hive-partitioned Parquet, with the rejected and error records of every
    stage upstream and a manifest of per-stage counts.

    Layout under ``path``: ``data/<k>=<v>/.../part-NNNNN-of-MMMMM.parquet`` (partition columns are
    in the path, not in the files), ``rejected/subset=<s>/...`` and ``errors/subset=<s>/...``
    (with reason, stage and the original record as JSON), ``_manifest.json``, ``README.md``,
    ``report.html`` and ``_SUCCESS``.
    Rejected and error records are collected from every stage applied before this sink, so none
    can be forgotten. Rows within a file are sorted by id and each record's file is chosen from its
    id, so reruns give the same files. Files are written under ``_temporary/`` and moved into place
    only at the end, when files of an earlier run that this run did not produce are removed; a
    failed run leaves the previous output untouched. The manifest is written by the pipeline
    itself (on any runner, also when the launcher does not wait): for every stage ``in``, ``out``,
    ``rejected`` per reason and ``errors``, equal to the Beam counters. After it comes the dataset
    card ``README.md`` (:mod:`beam_cqia.card`): per-subset counts and length percentiles,
    task_type, domain and other label distributions (all computed by combiners in the pipeline),
    the stage funnel, the Beam YAML spec the pipeline was built from (found in the pipeline's
    display data, as Beam YAML's launcher and ``beam-cqia run`` record it), versions and how to
    load the data; it holds no timestamps, so reruns give the same bytes. Then the run report
    ``report.html`` (:mod:`beam_cqia.report_html`, figures from combiners in the pipeline too):
    the funnel, distributions of lengths and signals with the thresholds, duplicate clusters and
    example records of every drop reason and error kind. Counters in
    ``beam_cqia.WriteCqiaParquet``: ``seen`` (records received) and ``passed`` (rows written).

    The input is one PCollection of records, or a mapping of several (of one record type) to
    write together; inputs named ``rejected`` and ``errors`` add side records to write (those of
    the stages before the sink are collected anyway).

    Args:
        path: the output directory (any Beam filesystem path, e.g. ``gs://bucket/cqia/v1``).
        partition_by: record fields that form the hive partitions of the data, e.g.
            ``[subset]`` or ``[subset, source]``; rejected and error records are partitioned by
            subset.
        max_records_per_file: a partition with more records is split into several part files.
        row_group_rows: rows per Parquet row group.
        compression: Parquet compression: zstd, snappy, gzip or none.
    """

    def __init__(
        self,
        path: str,
        partition_by: list[str] | None = None,
        max_records_per_file: int = 100_000,
        row_group_rows: int = 10_000,
        compression: str = "zstd",
    ):
        super().__init__()
        if not path:
            raise ValueError("path must name an output directory")
        partition_by = ["subset"] if partition_by is None else partition_by
        if not isinstance(partition_by, list) or not all(
            isinstance(k, str) and k for k in partition_by
        ):
            raise ValueError(f"partition_by must be a list of field names, got {partition_by!r}")
        if len(set(partition_by)) != len(partition_by):
            raise ValueError(f"partition_by repeats a field: {partition_by}")
        for name, value in (
            ("max_records_per_file", max_records_per_file),
            ("row_group_rows", row_group_rows),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if compression not in COMPRESSIONS:
            raise ValueError(
                f"compression must be one of {list(COMPRESSIONS)}, got {compression!r}"
            )
        self._path = path.rstrip("/") if len(path) > 1 else path
        self._partition_by = tuple(partition_by)
        self._max = max_records_per_file
        self._rg = row_group_rows
        self._compression = compression

    def expand(self, inputs: Any) -> beam.PCollection:
        explicit: dict[str, list[beam.PCollection]] = {"rejected": [], "errors": []}
        if isinstance(inputs, Mapping):
            streams = {k: v for k, v in inputs.items() if k not in ("rejected", "errors")}
            if not streams:
                raise ValueError(
                    "WriteCqiaParquet needs record inputs; 'rejected' and 'errors' are extra"
                )
            records = merge_inputs(streams, self.label)
            for kind in ("rejected", "errors"):
                if kind in inputs:
                    explicit[kind] = _leaves(inputs[kind])
        else:
            records = inputs
        record_type = records.element_type
        if not (isinstance(record_type, type) and hasattr(record_type, "_fields")):
            raise ValueError(
                f"WriteCqiaParquet needs records of a schema'd NamedTuple type (CqiaRecord, "
                f"RawDoc...), got {record_type!r}"
            )
        missing = [k for k in self._partition_by if k not in record_type._fields]
        if missing:
            raise ValueError(f"partition_by {missing} are not fields of {record_type.__name__}")
        sink = self.label
        pipeline = records.pipeline
        stages = claim_unwritten(pipeline)
        side: dict[str, list[beam.PCollection]] = {
            "rejected": [s.rejected for s in stages if s.rejected is not None],
            "errors": [s.errors for s in stages if s.errors is not None],
        }
        for kind in ("rejected", "errors"):
            for pc in explicit[kind]:
                if all(pc is not known for known in side[kind]):
                    side[kind].append(pc)

        register_sink(pipeline, sink, type(self).__name__, records)
        seen = Metrics.counter(namespace(type(self).__name__), "seen")

        def count_seen(record: Any) -> Any:
            seen.inc()
            return record

        records = records | "CountSeen" >> beam.Map(count_seen).with_output_types(record_type)
        kinds = {
            "data": (records, record_type, self._partition_by),
            "rejected": (
                _flatten(pipeline, side["rejected"], "Rejected", Rejected),
                Rejected,
                SIDE_PARTITION_BY,
            ),
            "errors": (
                _flatten(pipeline, side["errors"], "Errors", ErrorRecord),
                ErrorRecord,
                SIDE_PARTITION_BY,
            ),
        }
        written, plans = [], []
        for kind, (pcoll, rtype, keys) in kinds.items():
            label = kind.capitalize()
            packs = pcoll | f"{label}Partition" >> beam.ParDo(
                _PackPartitionFn(keys, pcoll.windowing.is_default())
            )
            counts = (
                packs
                | f"{label}PackSizes" >> beam.MapTuple(lambda pdir, pack: (pdir, len(pack[0])))
                | f"{label}CountPerPartition" >> beam.CombinePerKey(sum)
            )
            sharded = packs | f"{label}Shard" >> beam.ParDo(
                _ShardFn(self._max), counts=beam.pvalue.AsDict(counts)
            )
            written.append(
                sharded
                | f"{label}GroupByShard" >> beam.GroupByKey()
                | f"{label}WriteShards"
                >> beam.ParDo(
                    _WriteShardFn(
                        self._path,
                        kind,
                        rtype,
                        keys,
                        self._rg,
                        self._compression,
                        type(self).__name__,
                        sink,
                    )
                )
            )
            plans.append(
                counts
                | f"{label}Plan"
                >> beam.Map(
                    lambda kv, kind=kind, most=self._max: (
                        kind,
                        kv[0],
                        layout.shard_count(kv[1], most),
                    )
                )
            )
        # Partial counts of every stage, summed once by the manifest (see ``_PartialCountFn``).
        stage_counts = [part for s in stages for part in s.count_parts]
        stage_counts.append(count_partial(records, "CountIn", sink, "in"))
        zeros = [(s.name, f, "", 0) for s in stages for f in s.unkeyed] + [(sink, "in", "", 0)]
        stage_counts.append(pipeline | "ZeroCounts" >> beam.Create(zeros, reshuffle=False))
        stats = records | "CardStats" >> _CardStats(record_type)
        report = (records, kinds["rejected"][0], kinds["errors"][0]) | "ReportStats" >> ReportStats(
            record_type
        )
        order = [(s.name, s.kind) for s in stages] + [(sink, type(self).__name__)]
        inputs = ledger_inputs(pipeline)
        schemas = {kind: (rtype, keys) for kind, (_, rtype, keys) in kinds.items()}
        return (
            written
            | "FlattenFiles" >> beam.Flatten()
            | "ListFiles" >> beam.combiners.ToList()
            | "Finalize"
            >> beam.ParDo(
                _FinalizeFn(
                    self._path,
                    sink,
                    order,
                    schemas,
                    list(self._partition_by),
                    self._rg,
                    self._compression,
                    card.spec_info(pipeline.display_data()),
                    inputs,
                    {s.name: s.notes for s in stages if s.notes},
                ),
                plans=beam.pvalue.AsList(plans | "FlattenPlans" >> beam.Flatten()),
                counts=beam.pvalue.AsList(stage_counts | "FlattenCounts" >> beam.Flatten()),
                stats=beam.pvalue.AsList(stats),
                report=beam.pvalue.AsList(report),
            )
        )


def _flatten(
    pipeline: beam.Pipeline, pcolls: list[beam.PCollection], label: str, element_type: type
) -> beam.PCollection:
    if pcolls:
        out = pcolls | f"Flatten{label}" >> beam.Flatten()
    else:
        out = pipeline | f"No{label}" >> beam.Create([]).with_output_types(element_type)
    out.element_type = element_type
    return out
