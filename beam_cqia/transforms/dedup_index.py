"""Dedup indexes: what one run keeps, stored so later runs (and decontamination) can match it.

An index is a directory of Parquet files and ``_index.json``, which names the kind, the
parameters the keys depend on and the files (reads use that list, never a glob, so an index
rewritten with fewer shards cannot pick up stale files):

- ``exact``: ``key`` (DedupExact's normalized-content hash) and ``id``;
- ``minhash``: ``id`` and ``signature`` (MinHash values as bytes; bands are derived at match time);
- ``ngram``: ``hash`` (a character n-gram of an item's text), ``item`` and ``count`` (the item's
  distinct n-grams), for n-gram overlap decontamination against benchmark sets.

An index is only usable with the same normalization and hashing: ``check_index`` compares the
parameters when a pipeline is built and refuses a mismatch with the differences named.
"""

import json
from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_cqia.text import minhash

INDEX_META = "_index.json"
KINDS = ("exact", "minhash", "ngram")
FORMAT = "beam-cqia-dedup-index/1"
_SCHEMAS = {
    "exact": pa.schema([("key", pa.string()), ("id", pa.string())]),
    "minhash": pa.schema([("id", pa.string()), ("signature", pa.binary())]),
    "ngram": pa.schema([("hash", pa.uint64()), ("item", pa.string()), ("count", pa.int64())]),
}
# Parameters that must agree between an index and the run matching against it.
_MUST_MATCH = {
    "exact": ("opencc",),
    "minhash": ("scheme", "opencc"),
    "ngram": ("ngram", "opencc"),
}


def exact_params(fields: list[str], opencc: str | None) -> dict[str, Any]:
    return {"fields": list(fields), "opencc": opencc}


def minhash_params(
    num_perm: int,
    ngram: int,
    seed: int,
    bands: int,
    rows: int,
    opencc: str | None,
    fields: list[str],
) -> dict[str, Any]:
    scheme = minhash.MinHasher(num_perm, ngram, seed).scheme
    return {
        "scheme": scheme,
        "num_perm": num_perm,
        "ngram": ngram,
        "seed": seed,
        "bands": bands,
        "rows": rows,
        "opencc": opencc,
        "fields": list(fields),
    }


def ngram_params(ngram: int, fields: list[str], opencc: str | None) -> dict[str, Any]:
    return {"ngram": ngram, "fields": list(fields), "opencc": opencc}


def read_meta(path: str) -> dict[str, Any]:
    """Reads an index's ``_index.json``.

    Raises:
        ValueError: when the path holds no index.
    """
    meta_path = FileSystems.join(path, INDEX_META)
    try:
        with FileSystems.open(meta_path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            meta = json.loads(fh.read().decode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - any failure means: not an index
        raise ValueError(f"{path} is not a dedup index (cannot read {INDEX_META}: {exc})") from None
    if meta.get("format") != FORMAT or meta.get("kind") not in KINDS:
        raise ValueError(f"{meta_path} is not a {FORMAT} file")
    return meta


def check_index(path: str, kind: str, params: Mapping[str, Any]) -> str:
    """Checks, when the pipeline is built, that an index can be matched against; returns path.

    Raises:
        ValueError: naming the kind or the parameters that differ.
    """
    meta = read_meta(path)
    if meta["kind"] != kind:
        raise ValueError(f"{path} is a {meta['kind']} index; this stage needs a {kind} index")
    differ = [
        f"{k}: index {meta['params'].get(k)!r}, here {params.get(k)!r}"
        for k in _MUST_MATCH[kind]
        if meta["params"].get(k) != params.get(k)
    ]
    if differ:
        raise ValueError(f"{path} was built with other parameters: {'; '.join(differ)}")
    return path


class _WriteMetaFn(beam.DoFn):
    def __init__(self, path: str, kind: str, params: Mapping[str, Any]):
        self._path, self._kind, self._params = path, kind, dict(params)

    def process(self, files: list[str], rows: int) -> Any:
        meta = {
            "format": FORMAT,
            "kind": self._kind,
            "params": self._params,
            "rows": rows,
            "files": sorted(f.rsplit("/", 1)[-1] for f in files),
        }
        target = FileSystems.join(self._path, INDEX_META)
        with FileSystems.create(target, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8"))
        yield target


def write_index(
    rows: beam.PCollection, path: str, kind: str, params: Mapping[str, Any], label: str
) -> beam.PCollection:
    """Writes rows (dicts in the kind's schema) as an index at ``path``; returns the meta path."""
    files = rows | f"{label}Write" >> beam.io.WriteToParquet(
        FileSystems.join(path, "part"),
        _SCHEMAS[kind],
        file_name_suffix=".parquet",
        codec="zstd",
    )
    count = rows | f"{label}Count" >> beam.combiners.Count.Globally()
    return (
        files
        | f"{label}ListFiles" >> beam.combiners.ToList()
        | f"{label}Meta"
        >> beam.ParDo(_WriteMetaFn(path, kind, params), rows=beam.pvalue.AsSingleton(count))
    )


def read_rows(pipeline: beam.Pipeline, path: str, label: str) -> beam.PCollection:
    """The rows of an index as dicts, from the files its meta lists."""
    meta = read_meta(path)
    files = [FileSystems.join(path, f) for f in meta["files"]]
    return (
        pipeline
        | f"{label}Files" >> beam.Create(files)
        | f"{label}Read" >> beam.io.ReadAllFromParquet()
    )


# --- MinHash indexes -----------------------------------------------------------------------


def write_minhash_index(
    kept: beam.PCollection, sigs: beam.PCollection, path: str, params: Mapping[str, Any]
) -> beam.PCollection:
    """Writes the signatures of the kept records (sigs: (id, signature bytes))."""

    def rows(joined: tuple[str, Mapping[str, list]]) -> Any:
        doc_id, groups = joined
        if groups["kept"] and groups["sig"]:
            yield {"id": doc_id, "signature": groups["sig"][0]}

    kept_ids = kept | "IndexKeptIds" >> beam.Map(lambda r: (r.id, 1))
    joined = {"kept": kept_ids, "sig": sigs} | "IndexJoin" >> beam.CoGroupByKey()
    return write_index(joined | "IndexRows" >> beam.FlatMap(rows), path, "minhash", params, "Index")


def _band_entries(
    item: tuple[str, bytes], bands: int, rows: int, tag: str
) -> Iterable[tuple[tuple[int, int], tuple[str, str, bytes]]]:
    doc_id, sig = item
    # int64 view: Beam codes ints as signed 64-bit
    keys = minhash.band_keys(np.frombuffer(sig, np.uint32)[None, :], bands, rows)[0].view(np.int64)
    for band in range(bands):
        yield (band, int(keys[band])), (tag, doc_id, sig)


def _best_index_match(
    bucket: tuple[Any, Iterable[tuple[str, str, bytes]]], threshold: float
) -> Iterable[tuple[str, tuple[float, str]]]:
    _, entries = bucket
    new = [(i, s) for tag, i, s in entries if tag == "new"]
    old = [(i, s) for tag, i, s in entries if tag == "old"]
    for new_id, new_sig in new:
        a = np.frombuffer(new_sig, np.uint32)
        best = max(
            ((minhash.estimated_jaccard(a, np.frombuffer(s, np.uint32)), i) for i, s in old),
            default=None,
        )
        if best is not None and best[0] >= threshold:
            yield new_id, best


def match_minhash(
    sigs: beam.PCollection,
    paths: list[str],
    params: Mapping[str, Any],
    threshold: float,
) -> beam.PCollection:
    """(new id, (estimated Jaccard, indexed id)): the best index match of each similar record."""
    pipeline = sigs.pipeline
    bands, rows = params["bands"], params["rows"]
    parts = [sigs | "IndexNewBands" >> beam.FlatMap(_band_entries, bands, rows, "new")]
    for i, path in enumerate(paths):
        old = read_rows(pipeline, path, f"Against{i}") | f"Against{i}Sigs" >> beam.Map(
            lambda r: (r["id"], r["signature"])
        )
        parts.append(old | f"Against{i}Bands" >> beam.FlatMap(_band_entries, bands, rows, "old"))
    return (
        parts
        | "IndexFlattenBands" >> beam.Flatten()
        | "IndexBuckets" >> beam.GroupByKey()
        | "IndexCandidates" >> beam.FlatMap(_best_index_match, threshold)
        | "IndexBest" >> beam.CombinePerKey(max)
    )
