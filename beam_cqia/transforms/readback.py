"""Reading a written output back: its records, or the records one stage rejected.

With these, a finished run can be re-filtered with new thresholds without rescoring
(``pipelines/refilter.yaml``): kept records come back with their signals, and the records a
stage rejected come back exactly as they entered it (the ``record`` column holds them as JSON).
The files read are the ones the output's ``_manifest.json`` lists, never a glob.
"""

import contextlib
import json
from collections.abc import Mapping
from typing import Any

import apache_beam as beam
import pyarrow.parquet as pq
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from beam_cqia import layout
from beam_cqia.records import CqiaRecord, RawDoc, TaskType
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    check_error_handling,
    finish_stage,
    namespace,
    register_input,
)

RECORD_TYPES = {"cqia": CqiaRecord, "raw": RawDoc}


class _NotFinishedError(ValueError):
    """The directory has no readable ``_manifest.json``."""


def _manifest(path: str) -> dict[str, Any]:
    target = FileSystems.join(path, "_manifest.json")
    try:
        with FileSystems.open(target, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            return json.loads(fh.read().decode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - any failure means: not a finished output
        message = f"{path} is not a finished beam-cqia output ({target}: {exc})"
        raise _NotFinishedError(message) from None


def _files(manifest: Mapping[str, Any], path: str, kind: str, stage: str | None) -> list[str]:
    """The files of one output kind (``data``, ``rejected``) the manifest lists.

    Raises:
        ValueError: when ``stage`` is not a stage of that output.
    """
    if stage is not None and stage not in manifest["stages"]:
        raise ValueError(f"{path} has no stage {stage!r}; stages: {list(manifest['stages'])}")
    return [f["path"] for f in manifest["outputs"][kind]["files"]]


def record_from_dict(values: Mapping[str, Any], record_type: type) -> Any:
    """Rebuilds a RawDoc or CqiaRecord from a Parquet row or a record's JSON.

    Raises:
        ValueError: naming the fields that are missing or unexpected.
    """
    fields = record_type._fields
    missing = [f for f in fields if f not in values]
    extra = [f for f in values if f not in fields]
    if missing or extra:
        raise ValueError(f"not a {record_type.__name__}: missing {missing}, unexpected {extra}")
    row = dict(values)
    for key in ("meta", "signals"):
        if key in row and not isinstance(row[key], Mapping):
            row[key] = dict(row[key] or [])  # Arrow maps read back as lists of pairs
    if record_type is CqiaRecord:
        task_type = row["task_type"]
        row["task_type"] = TaskType(list(task_type["major"]), list(task_type["minor"]))
        row["domain"] = list(row["domain"])
    row["lineage"] = list(row["lineage"])
    return record_type(**row)


class _ReadFileFn(beam.DoFn):
    """Reads one Parquet file of an output; yields its rows with the partition values."""

    def __init__(self, base: str):
        self._base = base

    def process(self, rel_path: str) -> Any:
        parts = {
            key: layout.decode_value(value)
            for key, _, value in (s.partition("=") for s in rel_path.split("/")[1:-1] if "=" in s)
        }
        with FileSystems.open(
            FileSystems.join(self._base, rel_path), compression_type=CompressionTypes.UNCOMPRESSED
        ) as fh:
            table = pq.read_table(fh)
        for row in table.to_pylist():
            yield {**row, **{k: v for k, v in parts.items() if k not in row}}


class _ToRecordFn(beam.DoFn):
    def __init__(self, kind: str, record_type: type, stage: str | None):
        self._type, self._stage = record_type, stage
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")

    def process(self, row: Mapping[str, Any]) -> Any:
        if self._stage is not None:
            if row["stage"] != self._stage:
                return  # rejected by another stage: stays rejected, not an input here
            values = json.loads(row["record"])
        else:
            values = row
        self._seen.inc()
        record = record_from_dict(values, self._type)
        self._passed.inc()
        yield record


class _ReadBack(beam.PTransform):
    _yaml_requires_inputs = False

    def __init__(self, path: str, kind: str, record_type: str, stage: str | None, error_handling):
        super().__init__()
        if not path:
            raise ValueError("path must name a finished output directory")
        if record_type not in RECORD_TYPES:
            raise ValueError(f"record_type must be one of {sorted(RECORD_TYPES)}")
        check_error_handling(error_handling)
        self._path, self._kind, self._stage = path, kind, stage
        self._type = RECORD_TYPES[record_type]
        self._error_handling = error_handling

    def expand(self, pbegin: beam.pvalue.PBegin) -> Any:
        # When the output exists already, a wrong stage is reported while the pipeline is built;
        # otherwise (validating a spec before the run that writes its input) the manifest is read
        # when the pipeline runs, with the same checks.
        register_input(pbegin.pipeline, self.label, self._path)
        with contextlib.suppress(_NotFinishedError):
            _files(_manifest(self._path), self._path, self._kind, self._stage)
        # Schema'd rows are merged back into records below; the partition columns come from the
        # paths.
        rows = (
            pbegin
            | "Start" >> beam.Impulse()
            | "Files"
            >> beam.FlatMap(
                lambda _, p=self._path, k=self._kind, s=self._stage: _files(_manifest(p), p, k, s)
            )
            | "Spread" >> beam.Reshuffle()
            | "ReadFiles" >> beam.ParDo(_ReadFileFn(self._path))
        )
        results = rows | "ToRecords" >> beam.ParDo(
            _ToRecordFn(type(self).__name__, self._type, self._stage)
        ).with_exception_handling(main_tag=GOOD, dead_letter_tag=ERRORS)
        good = results[GOOD]
        good.element_type = self._type
        if self._stage is not None:
            inputs = rows | "OfStage" >> beam.Filter(lambda r, s=self._stage: r["stage"] == s)
        else:
            inputs = rows
        return finish_stage(self, inputs, good, None, results[ERRORS], self._error_handling)


class ReadCqiaParquet(_ReadBack):
    """Reads the records of a written output back (the files its manifest lists).

    Partition values (e.g. ``subset``) come back from the directory names and signals from
    their column, so the records can be filtered again, re-tagged or exported. Outputs: the
    records (main) and errors (rows that do not fit the record type). Counters in
    ``beam_cqia.ReadCqiaParquet``: ``seen``, ``passed``, ``errors``.

    Args:
        path: the output directory (with ``_manifest.json``).
        record_type: ``cqia`` (CqiaRecord) or ``raw`` (RawDoc), the type the data holds.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        path: str,
        record_type: str = "cqia",
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__(path, "data", record_type, None, error_handling)


class ReadRejected(_ReadBack):
    """Reads back, exactly as they entered it, the records one stage of a written output
    rejected (e.g. to re-apply looser thresholds after FilterByScore without rescoring).

    Outputs: the records (main) and errors (rows whose record does not fit the type). Counters
    in ``beam_cqia.ReadRejected``: ``seen``, ``passed``, ``errors``.

    Args:
        path: the output directory (with ``_manifest.json``).
        stage: the step name whose rejected records to read, e.g. ``FilterByScore``.
        record_type: ``raw`` (RawDoc) or ``cqia`` (CqiaRecord), the type that stage received.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        path: str,
        stage: str,
        record_type: str = "raw",
        error_handling: Mapping[str, Any] | None = None,
    ):
        if not stage:
            raise ValueError("stage must name a step of the output's manifest")
        super().__init__(path, "rejected", record_type, stage, error_handling)
