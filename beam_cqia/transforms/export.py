"""JSON-lines exports (the published COIG-CQIA layout, chat formats) and per-subset sampling.

The exports are terminal sinks written beside ``WriteCqiaParquet``: they write files and return
the paths they wrote. They take no part in the ledger (they never reject a record, and the
rejected and error records of the stages before them stay for ``WriteCqiaParquet`` to collect);
a record that cannot be serialized fails the run, which then leaves no file behind.
``SampleSubsets`` is an ordinary stage: what it does not sample goes to ``rejected``.
"""

import contextlib
import json
import os
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import apache_beam as beam
import xxhash
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics

from beam_cqia import layout
from beam_cqia.records import published_dict
from beam_cqia.text.ids import stable_bucket
from beam_cqia.transforms._files import remove_hidden_temporaries, remove_tree
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    REJECTED,
    check_error_handling,
    finish_stage,
    merge_inputs,
    namespace,
    rejected,
)

MANIFEST = "_manifest.json"
SUCCESS = "_SUCCESS"
TEMPORARY = "_temporary"
SUFFIX = ".jsonl"
CHAT_FORMATS = ("messages", "sharegpt", "alpaca")

# Characters that JSON leaves raw (with ensure_ascii=False) but that str.splitlines() and
# JavaScript-era line readers treat as line breaks; escaped so a record is always one line.
# Control characters (\f, \v, \x1c-\x1f, \r) are escaped by json.dumps itself.
_LINE_BREAKS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def json_line(obj: Any) -> str:
    """One JSON line as COIG-CQIA writes them (``ensure_ascii=False``, default separators), with
    every character a line-based reader could split on escaped (``\\u2028``, ``\\u2029``,
    ``\\u0085``; ``json`` already escapes ``\\f`` and the other control characters)."""
    return json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKS)


def _is_local(path: str) -> bool:
    return FileSystems.get_scheme(path) in (None, "file")


def _check_file_name(file_name: str) -> None:
    try:
        sample = file_name.format(subset="x")
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"file_name may only use the placeholder {{subset}}, got {file_name!r}"
        ) from exc
    if (
        not isinstance(file_name, str)
        or "/" in sample
        or "\\" in sample
        or sample[:1] in (".", "_")
        or not sample.endswith(SUFFIX)
        or sample == SUFFIX
    ):
        raise ValueError(
            f"file_name must be one file name ending in {SUFFIX}, not starting with '.' or '_' "
            f"and without '/', got {file_name!r}"
        )


def _check_shards(num_shards: int | None) -> None:
    if num_shards is not None and (
        isinstance(num_shards, bool) or not isinstance(num_shards, int) or num_shards <= 0
    ):
        raise ValueError(f"num_shards must be a positive integer or None, got {num_shards!r}")


def _relative_path(subset_dir: str, file_name: str, shard: int, shards: int | None) -> str:
    if shards is None:
        return f"{subset_dir}/{file_name.format(subset=subset_dir)}"
    return f"{subset_dir}/part-{shard:05d}-of-{shards:05d}{SUFFIX}"


class _KeyFn(beam.DoFn):
    """Keys each record's JSON line by (subset dir, shard), the shard chosen from its id."""

    def __init__(self, to_obj: Callable[[Any], Any], shards: int | None, kind: str):
        self._to_obj, self._shards = to_obj, shards
        self._seen = Metrics.counter(namespace(kind), "seen")

    def process(self, record: Any) -> Any:
        self._seen.inc()
        rid = str(getattr(record, "id", "") or "")
        subset_dir = layout.safe_value(getattr(record, "subset", ""))
        shard = stable_bucket(rid, self._shards) if self._shards else 0
        yield (subset_dir, shard), (rid, json_line(self._to_obj(record)))


def _write_lines(path: str, lines: list[str]) -> None:
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        fh.write("".join(line + "\n" for line in lines).encode("utf-8"))


class _WriteFileFn(beam.DoFn):
    """Writes one file's lines, sorted by id (then line), to a temporary name."""

    def __init__(self, base: str, file_name: str, shards: int | None, kind: str):
        self._base, self._file_name, self._shards = base, file_name, shards
        self._passed = Metrics.counter(namespace(kind), "passed")

    def process(self, group: tuple[tuple[str, int], Any]) -> Any:
        (subset_dir, shard), items = group
        lines = [line for _, line in sorted(items)]
        tmp = FileSystems.join(self._base, TEMPORARY, f"{uuid.uuid4().hex}{SUFFIX}")
        _write_lines(tmp, lines)
        self._passed.inc(len(lines))
        yield {
            "path": _relative_path(subset_dir, self._file_name, shard, self._shards),
            "subset_dir": subset_dir,
            "tmp": tmp,
            "records": len(lines),
        }


class _FinalizeFn(beam.DoFn):
    """Moves files into place, removes stale ones, writes _manifest.json and _SUCCESS."""

    def __init__(self, base: str, file_name: str, shards: int | None, kind: str):
        self._base, self._file_name, self._shards, self._kind = base, file_name, shards, kind

    def process(self, files: list[dict[str, Any]]) -> Any:
        base = self._base
        success = FileSystems.join(base, SUCCESS)
        if FileSystems.exists(success):
            FileSystems.delete([success])
        by_path = {f["path"]: f for f in files}
        # Every subset gets all its -of-N shards, also those no record hashed to.
        for subset_dir in sorted({f["subset_dir"] for f in files}):
            for shard in range(self._shards or 1):
                rel = _relative_path(subset_dir, self._file_name, shard, self._shards)
                if rel not in by_path:
                    tmp = FileSystems.join(base, TEMPORARY, f"{uuid.uuid4().hex}{SUFFIX}")
                    _write_lines(tmp, [])
                    by_path[rel] = {"path": rel, "subset_dir": subset_dir, "tmp": tmp, "records": 0}
        finals = sorted(by_path)
        for rel in finals:
            final = FileSystems.join(base, rel)
            if _is_local(final):
                os.makedirs(os.path.dirname(final), exist_ok=True)
            FileSystems.rename([by_path[rel]["tmp"]], [final])
        stale = [p for p in _existing_files(base) if p not in set(finals)]
        if stale:
            FileSystems.delete([FileSystems.join(base, p) for p in stale])
            if _is_local(base):  # object stores have no empty directories to leave behind
                for folder in sorted({p.split("/")[0] for p in stale}):
                    with contextlib.suppress(OSError):  # not empty: it holds other files
                        os.rmdir(os.path.join(base, folder))
        remove_tree(FileSystems.join(base, TEMPORARY))
        remove_hidden_temporaries(base, (MANIFEST,))
        manifest = {
            "format": "beam-cqia-export/1",
            "transform": self._kind,
            "records": sum(by_path[p]["records"] for p in finals),
            "files": [{"path": p, "records": by_path[p]["records"]} for p in finals],
        }
        tmp = FileSystems.join(base, f".{MANIFEST}.{uuid.uuid4().hex}")
        with FileSystems.create(tmp, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(json.dumps(manifest, ensure_ascii=False, indent=2).encode("utf-8") + b"\n")
        FileSystems.rename([tmp], [FileSystems.join(base, MANIFEST)])
        with FileSystems.create(success, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(b"")
        yield from (FileSystems.join(base, p) for p in finals)


def _existing_files(base: str) -> list[str]:
    """Relative paths of every ``<dir>/<name>.jsonl`` already under base (one level deep)."""
    found = []
    if _is_local(base):
        if os.path.isdir(base):
            for entry in sorted(os.listdir(base)):
                folder = os.path.join(base, entry)
                # Encoded subset names may start with "_" or "." (__empty__, _2e, .._2f..).
                if entry == TEMPORARY or not os.path.isdir(folder):
                    continue
                for name in os.listdir(folder):
                    if name.endswith(SUFFIX) and os.path.isfile(os.path.join(folder, name)):
                        found.append(f"{entry}/{name}")
    else:
        prefix = base.rstrip("/") + "/"
        for result in FileSystems.match([f"{prefix}*/*{SUFFIX}"]):
            for meta in result.metadata_list:
                rel = meta.path[len(prefix) :]
                if rel.count("/") == 1 and not rel.startswith(f"{TEMPORARY}/"):
                    found.append(rel)
    return sorted(found)


class _WriteJsonl(beam.PTransform):
    """The writer both exports share: GroupByKey per file, temporary files, one finalize step."""

    def __init__(
        self,
        path: str,
        to_obj: Callable[[Any], Any],
        file_name: str,
        num_shards: int | None,
        kind: str,
    ):
        super().__init__()
        self._path, self._to_obj, self._file_name = path, to_obj, file_name
        self._shards, self._kind = num_shards, kind

    def expand(self, records: beam.PCollection) -> beam.PCollection:
        return (
            records
            | "KeyByFile" >> beam.ParDo(_KeyFn(self._to_obj, self._shards, self._kind))
            | "GroupByFile" >> beam.GroupByKey()
            | "WriteFiles"
            >> beam.ParDo(_WriteFileFn(self._path, self._file_name, self._shards, self._kind))
            | "ListFiles" >> beam.combiners.ToList()
            | "Finalize"
            >> beam.ParDo(_FinalizeFn(self._path, self._file_name, self._shards, self._kind))
        )


def _normalize_path(path: str) -> str:
    if not isinstance(path, str) or not path:
        raise ValueError("path must name an output directory")
    return path.rstrip("/") if len(path) > 1 else path


class ExportCqiaJsonl(beam.PTransform):
    """Writes records as JSON lines in the published COIG-CQIA layout, ``<path>/<subset>/<file>``.

    Each line holds the published COIG-CQIA fields only, in the published order (instruction,
    input, output, task_type, domain, metadata, answer_from, human_verified, copyright), written
    as the published files are (``ensure_ascii=False``, default separators), except that U+2028,
    U+2029 and U+0085 inside strings are written as ``\\u2028``-style escapes so that line-based
    readers never split a record (the published xhs file has them raw; both parse to the same
    values). Subset names become directory names through the partition encoding of
    :mod:`beam_cqia.layout` (``..``, ``/`` and empty names cannot leave ``path``). Lines are
    sorted by id within a file and a record's shard is chosen from its id, so reruns give the
    same bytes. Files are written under ``<path>/_temporary/`` and moved into place at the end,
    when ``*.jsonl`` files one level below ``path`` that this run did not write are removed (the
    directory belongs to the export); ``_manifest.json`` lists the files and their record counts,
    and ``_SUCCESS`` marks a finished run. A terminal sink: returns the paths of the files it
    wrote and takes no part in the ledger (``WriteCqiaParquet`` still collects the rejected and
    error records of the stages before it). Counters in ``beam_cqia.ExportCqiaJsonl``: ``seen``
    (records received) and ``passed`` (lines written).

    Args:
        path: the output directory (any Beam filesystem path).
        file_name: the file name within each subset directory; ``{subset}`` is replaced by the
            (encoded) subset name. Must end in ``.jsonl``. Ignored when ``num_shards`` is set.
        num_shards: when set, each subset is written as exactly this many files
            ``part-NNNNN-of-MMMMM.jsonl``, a record's file chosen from a hash of its id.
    """

    def __init__(self, path: str, file_name: str = "{subset}.jsonl", num_shards: int | None = None):
        super().__init__()
        self._path = _normalize_path(path)
        _check_file_name(file_name)
        _check_shards(num_shards)
        self._file_name, self._shards = file_name, num_shards

    def expand(self, inputs: Any) -> beam.PCollection:
        records = merge_inputs(inputs, self.label)
        return records | "Write" >> _WriteJsonl(
            self._path, published_dict, self._file_name, self._shards, type(self).__name__
        )


class _ChatFormatter:
    """Turns a record into one training example of a chat format (picklable for workers)."""

    def __init__(self, fmt: str, system: str | None):
        self._fmt, self._system = fmt, system

    def __call__(self, record: Any) -> dict[str, Any]:
        instruction, extra = str(record.instruction), str(record.input or "")
        output = str(record.output)
        if self._fmt == "alpaca":
            obj: dict[str, Any] = {"instruction": instruction, "input": extra, "output": output}
            if self._system is not None:
                obj["system"] = self._system
            return obj
        prompt = f"{instruction}\n{extra}" if extra else instruction
        if self._fmt == "messages":
            messages = [{"role": "system", "content": self._system}] if self._system else []
            messages += [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": output},
            ]
            return {"messages": messages}
        obj = {
            "conversations": [
                {"from": "human", "value": prompt},
                {"from": "gpt", "value": output},
            ]
        }
        if self._system is not None:
            obj["system"] = self._system
        return obj


class ExportChat(beam.PTransform):
    """Writes records as training-ready chat JSON lines, ``<path>/<subset>/<file>``.

    Formats: ``messages`` (OpenAI: ``{"messages": [system?, user, assistant]}``), ``sharegpt``
    (``{"conversations": [{"from": "human", ...}, {"from": "gpt", ...}], "system"?}``) and
    ``alpaca`` (``{"instruction", "input", "output", "system"?}``). For ``messages`` and
    ``sharegpt`` the user turn is the instruction, then a newline and the input when the input is
    not empty. Written exactly as :class:`ExportCqiaJsonl` writes (same layout, sorting by id,
    escaping, temporary files, stale-file removal, ``_manifest.json``, ``_SUCCESS``): use another
    ``path`` than the CQIA export, e.g. ``<out>/chat``. A terminal sink: returns the paths it
    wrote. Counters in ``beam_cqia.ExportChat``: ``seen`` and ``passed`` (lines written).

    Args:
        path: the output directory (any Beam filesystem path).
        format: ``messages``, ``sharegpt`` or ``alpaca``.
        system: a system prompt to add to every example; none when None.
        file_name: the file name within each subset directory; ``{subset}`` is replaced by the
            (encoded) subset name. Must end in ``.jsonl``. Ignored when ``num_shards`` is set.
        num_shards: when set, each subset is written as exactly this many files
            ``part-NNNNN-of-MMMMM.jsonl``, a record's file chosen from a hash of its id.
    """

    def __init__(
        self,
        path: str,
        format: str = "messages",  # noqa: A002 - the config key Beam YAML users write
        system: str | None = None,
        file_name: str = "{subset}.jsonl",
        num_shards: int | None = None,
    ):
        super().__init__()
        self._path = _normalize_path(path)
        if format not in CHAT_FORMATS:
            raise ValueError(f"format must be one of {list(CHAT_FORMATS)}, got {format!r}")
        if system is not None and not isinstance(system, str):
            raise ValueError(f"system must be a string or None, got {system!r}")
        _check_file_name(file_name)
        _check_shards(num_shards)
        self._format, self._system = format, system
        self._file_name, self._shards = file_name, num_shards

    def expand(self, inputs: Any) -> beam.PCollection:
        records = merge_inputs(inputs, self.label)
        return records | "Write" >> _WriteJsonl(
            self._path,
            _ChatFormatter(self._format, self._system),
            self._file_name,
            self._shards,
            type(self).__name__,
        )


_HASH_SPACE = 1 << 64


def sample_rank(seed: int, record_id: str) -> tuple[int, str]:
    """A record's place in the sampling order of ``seed``: a 64-bit hash, then the id."""
    return xxhash.xxh3_64_intdigest(f"{seed}\x1f{record_id}".encode()), record_id


def _fraction_cut(fraction: float) -> int:
    return min(_HASH_SPACE, int(fraction * _HASH_SPACE))


class _SampleFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        seed: int,
        quotas: Mapping[str, int],
        fractions: Mapping[str, float],
        default_fraction: float,
    ):
        self._stage, self._seed = stage, seed
        self._quotas, self._fractions = dict(quotas), dict(fractions)
        self._default = default_fraction
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._passed = Metrics.counter(self._ns, "passed")
        self._dropped = Metrics.counter(self._ns, "filtered:not_sampled")

    def process(self, record: Any, cutoffs: Mapping[str, Any]) -> Any:
        self._seen.inc()
        subset = record.subset
        rank = sample_rank(self._seed, str(record.id))
        if subset in self._quotas:
            n = self._quotas[subset]
            cut = cutoffs.get(subset)
            keep = n > 0 and (cut is None or rank <= tuple(cut))
            detail = f"not among the {n} sampled of subset {subset!r} (seed {self._seed})"
        else:
            fraction = self._fractions.get(subset, self._default)
            keep = rank[0] < _fraction_cut(fraction)
            detail = f"outside fraction {fraction} of subset {subset!r} (seed {self._seed})"
        if keep:
            self._passed.inc()
            yield record
        else:
            self._dropped.inc()
            yield rejected(record, self._stage, "not_sampled", detail)


def _cutoff(kv: tuple[str, list[tuple[int, str]]], quotas: Mapping[str, int]) -> Any:
    subset, smallest = kv
    n = quotas[subset]
    ranks = sorted(smallest)
    # None: the subset has no more records than its quota, so all are kept.
    return subset, (ranks[n - 1] if len(ranks) > n else None)


class SampleSubsets(beam.PTransform):
    """Samples records per subset, as COIG-CQIA's CQIA-Subset does, deterministically by seed.

    Every record gets a rank from a hash of the seed and its id (no random state, so the same
    seed gives the same sample on every runner and run). A subset with a quota keeps its ``n``
    lowest-ranked records (all of them when it has no more); a subset with a fraction, and every
    other subset with ``default_fraction``, keeps each record whose hash falls in that fraction of
    the hash space (about that share; samples of one seed are nested as quotas and fractions
    grow). Ids are assumed unique (they are after dedup); equal ids share one fate. Outputs:
    sampled records (main), rejected (reason ``not_sampled``), errors (e.g. a record without
    ``subset``). Counters in ``beam_cqia.SampleSubsets``: ``seen``, ``passed``,
    ``filtered:not_sampled``, ``errors``.

    Args:
        quotas: how many records to keep per subset, ``{subset: n}``.
        fractions: the share of records to keep per subset, ``{subset: f}`` with f in [0, 1].
        default_fraction: the share to keep of subsets in neither mapping (1.0 keeps them all).
        seed: the sampling seed; another seed gives another sample.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        quotas: Mapping[str, int] | None = None,
        fractions: Mapping[str, float] | None = None,
        default_fraction: float = 1.0,
        seed: int = 0,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        quotas, fractions = dict(quotas or {}), dict(fractions or {})
        for subset, n in quotas.items():
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise ValueError(f"quotas.{subset} must be a non-negative integer, got {n!r}")
        checks = [(f"fractions.{s}", f) for s, f in fractions.items()]
        for name, f in [*checks, ("default_fraction", default_fraction)]:
            if isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 <= f <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {f!r}")
        both = sorted(set(quotas) & set(fractions))
        if both:
            raise ValueError(f"subsets {both} have both a quota and a fraction")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        check_error_handling(error_handling)
        self._quotas = quotas
        self._fractions = {s: float(f) for s, f in fractions.items()}
        self._default, self._seed = float(default_fraction), seed
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        quotas, seed = self._quotas, self._seed
        positive = {s for s, n in quotas.items() if n > 0}
        cutoffs = (
            records
            | "InQuota" >> beam.Filter(lambda r: getattr(r, "subset", None) in positive)
            | "Rank" >> beam.Map(lambda r: (r.subset, sample_rank(seed, str(r.id))))
            # One more than the largest quota, so a subset over its quota is seen to be over it.
            | "Smallest" >> beam.combiners.Top.SmallestPerKey(max([0, *quotas.values()]) + 1)
            | "Cutoff" >> beam.Map(_cutoff, quotas)
        )
        results = records | "Sample" >> beam.ParDo(
            _SampleFn(
                self.label,
                type(self).__name__,
                seed,
                quotas,
                self._fractions,
                self._default,
            ),
            cutoffs=beam.pvalue.AsDict(cutoffs),
        ).with_outputs(REJECTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(
            self, records, good, results[REJECTED], results[ERRORS], self._error_handling
        )
