"""Near-duplicate removal: character n-gram MinHash, LSH banding, connected components in Beam.

Shape of the graph (every step is ordinary Beam and scales with the data):

1. ``Normalize``: each record's compared fields reduced as exact dedup reduces them (width,
   punctuation, whitespace, case, script); per record, with errors caught.
2. ``Sign``: batches of texts → MinHash signatures (vectorized, ``beam_cqia.text.minhash``) →
   one (band, key) entry per LSH band, packed per shard of the key space.
3. ``Buckets``: GroupByKey on the shard, then the entries of a shard sorted by (band, key) give
   its buckets; each bucket links its members to its smallest id (a star has the same connected
   components as the clique, with k-1 edges instead of k²/2), or, with ``verify``, pairs all
   members of buckets up to ``verify_pairs_up_to``.
4. ``ConnectedComponents``: iterated large-star/small-star, never all edges on one worker.
5. ``Clusters``: records joined with their component label (packed per shard of the id); each
   component keeps one record by the keep rule, the others go to ``rejected`` with the cluster id
   and the kept id. With ``verify``, each component's candidate edges travel with its records and
   are checked there by exact Jaccard of the records' shingle sets; the clusters are the
   components of the confirmed edges. Confirmed edges are a subset of the candidates, so each of
   their components lies inside one candidate component: the result is the same as verifying
   every edge first and clustering after, without sending every text through two more shuffles.
"""

import pickle
from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils import shared

from beam_cqia.lineage import kept_note
from beam_cqia.text import minhash
from beam_cqia.text.signals import text_fields_of
from beam_cqia.transforms import _keep, _models, _packs, dedup_index
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    REJECTED,
    check_error_handling,
    check_field_names,
    check_fields_exist,
    finish_stage,
    format_exception,
    merge_inputs,
    namespace,
    rejected,
    replace_fields,
)
from beam_cqia.transforms.components import ConnectedComponents, MinDisjointSets

# Keys of records that go through the label join and the cluster GroupByKey untouched (ids and
# component labels are hex and never start with these): records not compared (no content, or a
# skipped subset), and records in no component. Routing them through the shuffles that records
# take anyway leaves the stage one main output, instead of a Flatten that FnApiRunner pays for
# with one more encoding and decoding of every record.
_EMPTY = "empty:"
_SINGLE = "single:"
_CHUNK = 512  # records in no component travel to Pick in sealed chunks of this many
# Shingle sets a verifying Pick holds at once (a 1,000-character text's set takes ~60 KB). Edges
# are checked in order of their first end, so once the cache is cleared a star's centre is
# computed once more, not once per edge.
_HELD_SETS = 256


def _shingle_text(record: Any, fields: list[str], t2s: Any) -> str:
    """The text a record is compared by: its compared fields joined, reduced."""
    parts = [getattr(record, f) or "" for f in fields or text_fields_of(record)]
    return minhash.shingle_text("\n".join(parts), t2s)


class _NormalizeFn(beam.DoFn):
    """(id, shingle text, record); records without content get key ``empty:<id>`` and no text."""

    def __init__(
        self,
        kind: str,
        handle: shared.Shared,
        opencc: str | None,
        fields: list[str],
        skip_subsets: frozenset[str] = frozenset(),
    ):
        self._handle, self._opencc, self._fields = handle, opencc, fields
        self._skip = skip_subsets
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")

    def setup(self) -> None:
        self._t2s = _models.converter_or_none(self._handle, self._opencc)

    def process(self, record: Any) -> Any:
        self._seen.inc()
        if self._skip and getattr(record, "subset", None) in self._skip:
            self._passed.inc()  # not compared, by configuration
            yield _EMPTY + record.id, "", record
            return
        text = _shingle_text(record, self._fields, self._t2s)
        if not text:
            self._passed.inc()  # nothing to compare: not a duplicate of anything
            yield _EMPTY + record.id, "", record
        else:
            yield record.id, text, record


# Defaults measured on real short Chinese records (benchmarks/results/dedup_accuracy.md): 3-grams
# at Jaccard 0.7 with verification gave F1 0.844 (P 0.938) against 0.728 for 5-grams at 0.8.
DEFAULT_NGRAM = 3

# LSH band entries are shuffled in packs: one element per (flush, shard) instead of one per
# (record, band), so a shuffle's per-element cost is paid once per ~250 entries when a bundle
# holds enough records (FnApiRunner: 9 M entries of 1 M records in 36 k elements; benchmarks/
# results/dedup_scale.md). A bucket, i.e. a (band, key), always falls in the shard its key picks;
# a shard holds about records x bands / _BUCKET_SHARDS entries (9,000 for a million records).
_BUCKET_SHARDS = 1024
_FLUSH_ENTRIES = 1 << 18  # band entries a signing DoFn holds before it emits them


class _SignFn(beam.DoFn):
    """Batches of (id, text) → packs of band entries per shard, and signatures when an index
    needs them.

    With ``hold`` (default windowing) entries are held across the batches of a bundle and emitted
    when ``_FLUSH_ENTRIES`` are reached and at the end of the bundle; otherwise each batch's
    entries leave with the batch (and its window).
    """

    def __init__(self, params: Mapping[str, Any], keep_sigs: bool, hold: bool = True):
        self._params, self._keep_sigs, self._hold = dict(params), keep_sigs, hold
        self._bands, self._rows = params["bands"], params["rows"]

    def setup(self) -> None:
        p = self._params
        self._hasher = minhash.MinHasher(p["num_perm"], p["ngram"], p["seed"])
        if self._hasher.scheme != p["scheme"]:
            # A worker without rensa (or another version) would make signatures that do not
            # match those of the launcher's environment or of an index.
            raise RuntimeError(
                f"this worker computes {self._hasher.scheme}, the pipeline was built for "
                f"{p['scheme']}: install the same beam-cqia dependencies on workers"
            )

    def start_bundle(self) -> None:
        self._ids: list[str] = []
        self._keys: list[np.ndarray] = []

    def process(self, batch: list[tuple[str, str]]) -> Any:
        ids = [i for i, _ in batch]
        sigs = self._hasher.signatures([t for _, t in batch], normalized=True)
        self._ids += ids
        self._keys.append(minhash.band_keys(sigs, self._bands, self._rows))
        if self._keep_sigs:
            for row, doc_id in enumerate(ids):
                yield beam.pvalue.TaggedOutput("sigs", (doc_id, sigs[row].tobytes()))
        if not self._hold or len(self._ids) * self._bands >= _FLUSH_ENTRIES:
            yield from self._flush()

    def finish_bundle(self) -> Any:
        for pack in self._flush():
            yield GlobalWindows.windowed_value_at_end_of_window(pack)

    def _flush(self) -> Any:
        """(shard, (ids, bands, keys)) for every shard that has entries; empties the buffer."""
        if not self._ids:
            return
        ids, keys = self._ids, np.concatenate(self._keys).ravel()  # entry = row * bands + band
        self._ids, self._keys = [], []
        shards = (keys % np.uint64(_BUCKET_SHARDS)).astype(np.intp)
        order = np.argsort(shards, kind="stable")
        counts = np.bincount(shards, minlength=_BUCKET_SHARDS)
        ends = np.cumsum(counts).tolist()
        for shard in np.flatnonzero(counts).tolist():
            entries = order[ends[shard] - counts[shard] : ends[shard]]
            rows, bands = np.divmod(entries, self._bands)
            yield shard, ([ids[r] for r in rows.tolist()], bands.astype(np.uint8), keys[entries])


def _shard_edges(
    shard: tuple[int, Iterable[tuple[list[str], np.ndarray, np.ndarray]]], pairs_up_to: int
) -> Any:
    """Edges of the LSH buckets of one shard: its entries sorted by (band, key), each run of
    equal (band, key) a bucket, linked by ``_bucket_edges``."""
    _, packs = shard
    ids: list[str] = []
    bands, keys = [], []
    for pack_ids, pack_bands, pack_keys in packs:
        ids += pack_ids
        bands.append(pack_bands)
        keys.append(pack_keys)
    if len(ids) < 2:
        return
    band, key = np.concatenate(bands), np.concatenate(keys)
    order = np.lexsort((key, band))
    band, key = band[order], key[order]
    bounds = np.flatnonzero((band[1:] != band[:-1]) | (key[1:] != key[:-1])) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(ids)]))
    shared = ends - starts > 1  # most entries are alone in their bucket: no Python for them
    for lo, hi in zip(starts[shared].tolist(), ends[shared].tolist(), strict=True):
        yield from _bucket_edges((None, [ids[i] for i in order[lo:hi].tolist()]), pairs_up_to)


def _bucket_edges(bucket: tuple[Any, Iterable[str]], pairs_up_to: int) -> Any:
    """Edges of one LSH bucket: a star from its smallest id, or all pairs for verification."""
    _, members = bucket
    ids = sorted(set(members))
    if len(ids) < 2:
        return
    if len(ids) <= pairs_up_to:
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                yield a, b
    else:
        for b in ids[1:]:
            yield ids[0], b


class _PickFn(beam.DoFn):
    """One component: keep one record by the keep rule, reject the others with the kept id.

    With ``verify`` the component's candidate edges come with its records: each is checked by
    exact Jaccard of its ends' shingle sets, and each component of the confirmed edges is a
    cluster (labelled by its smallest id); records in no confirmed edge pass as they are.
    """

    def __init__(
        self,
        stage: str,
        kind: str,
        keep: tuple[str, ...],
        fields: list[str],
        verify: Mapping[str, Any] | None = None,
        handle: shared.Shared | None = None,
    ):
        self._stage, self._keep, self._fields = stage, keep, fields
        self._verify, self._handle = verify, handle
        self._passed = Metrics.counter(namespace(kind), "passed")
        self._dups = Metrics.counter(namespace(kind), "filtered:near_duplicate")
        self._checked = Metrics.counter(namespace(kind), "pairs_checked")
        self._confirmed = Metrics.counter(namespace(kind), "pairs_confirmed")

    def setup(self) -> None:
        if self._verify is not None:
            self._t2s = _models.converter_or_none(self._handle, self._verify["opencc"])

    def process(self, component: tuple[str, Iterable[Any]]) -> Any:
        label, values = component
        if label.startswith((_SINGLE, _EMPTY)):  # chunks of records in no component
            counted = label.startswith(_EMPTY)  # when normalized
            for chunk in values:
                for record in _packs.unseal(chunk):
                    if not counted:
                        self._passed.inc()
                    yield pickle.loads(record)
            return
        members, edges, ghosts = [], [], []
        for value in values:  # pickled records; with verify, edges and ghosts (see _RouteFn)
            if isinstance(value, bytes):
                members.append(pickle.loads(value))
            elif value[0] == "edge":
                edges.append((value[1], value[2]))
            else:
                ghosts.append(pickle.loads(value[1]))
        try:
            if self._verify is None:
                clusters, alone = [(label, members)], []
            else:
                clusters, alone = self._verified_clusters(members, edges, ghosts)
            outputs = [out for lab, group in clusters for out in self._pick(lab, group)]
        except Exception as exc:  # noqa: BLE001 - every member must leave as an error
            info = (type(exc), repr(exc), [format_exception(exc)])
            for record in members:
                yield beam.pvalue.TaggedOutput(ERRORS, (record, info))
            return
        for output in outputs:
            if isinstance(output, beam.pvalue.TaggedOutput):
                self._dups.inc()
            else:
                self._passed.inc()
            yield output
        for record in alone:
            self._passed.inc()
            yield record

    def _verified_clusters(
        self, members: list[Any], edges: list[tuple[str, str]], ghosts: list[Any]
    ) -> tuple[list[tuple[str, list[Any]]], list[Any]]:
        """``([(label, records)], records in no confirmed edge)``: the components of the edges
        whose ends' exact Jaccard reaches the threshold, labelled by their smallest id. Ghosts
        (records an index match rejected) link and label as before, but are not output."""
        ngram, threshold = self._verify["ngram"], self._verify["threshold"]
        # A repeated id is compared by the text of its record that the keep rule puts first.
        first: dict[str, Any] = {}
        for record in sorted([*members, *ghosts], key=_keep.sort_key(self._keep, self._fields)):
            first.setdefault(record.id, record)
        sets: dict[str, set[str]] = {}

        def shingles(node: str) -> set[str]:
            if node not in sets:
                if len(sets) >= _HELD_SETS:  # a huge component: bounded memory, some recomputing
                    sets.clear()
                text = _shingle_text(first[node], self._fields, self._t2s)
                sets[node] = minhash.shingles(text, ngram)
            return sets[node]

        confirmed = MinDisjointSets()
        for a, b in sorted(set(edges)):
            if a not in first or b not in first:
                continue
            self._checked.inc()
            if minhash.set_jaccard(shingles(a), shingles(b)) >= threshold:
                self._confirmed.inc()
                confirmed.union(a, b)
        labels = confirmed.labels()
        groups: dict[str, list[Any]] = {}
        alone = []
        for record in members:
            group = labels.get(record.id)
            if group is None:
                alone.append(record)
            else:
                groups.setdefault(group, []).append(record)
        return sorted(groups.items()), alone

    def _pick(self, label: str, members: list[Any]) -> Any:
        members = sorted(members, key=_keep.sort_key(self._keep, self._fields))
        keeper = members[0]
        cluster = f"minhash:{label}"
        changes: dict[str, Any] = {}
        if hasattr(keeper, "signals"):
            changes["signals"] = {
                **(keeper.signals or {}),
                "dedup.near_cluster_size": float(len(members)),
            }
        if hasattr(keeper, "cluster_id"):
            changes["cluster_id"] = cluster
        if hasattr(keeper, "lineage"):
            changes["lineage"] = [
                *keeper.lineage,
                f"{self._stage}:{kept_note(len(members), cluster)}",
            ]
        yield replace_fields(keeper, **changes)
        for dup in members[1:]:
            yield rejected(
                dup,
                self._stage,
                "near_duplicate",
                f"near duplicate of {keeper.id} (cluster of {len(members)})",
                kept_id=keeper.id,
                cluster_id=cluster,
            )


class _RouteFn(beam.DoFn):
    """One shard of records, component labels, index matches and candidate edges (keyed by
    their first end) → records matched to an index are rejected; the others go on to
    ``Clusters`` under their component label, or, in sealed chunks, under
    ``single:<shard>:<n>`` (in no component) or ``empty:<shard>:<n>`` (not compared); each edge
    goes to its component's label as ``("edge", a, b)``, and with ``verify`` a rejected record
    that has a label goes there too, as ``("ghost", pickled record)``: its edges still count.

    Labels, matches and edges (few) are held; the shard's records stream past them. Records
    travel pickled from ``PackRecords`` to here and on to ``Pick``.
    """

    def __init__(self, stage: str, kind: str, verify: bool = False):
        self._stage, self._verify = stage, verify
        self._of_index = Metrics.counter(namespace(kind), "filtered:near_duplicate_of_index")

    def process(self, shard: tuple[int, Iterable[Any]]) -> Any:
        number, packs = shard
        labels = dict(_packs.items(packs, "label"))
        for node, (a, b) in _packs.items(packs, "edge"):
            yield labels[node], ("edge", a, b)
        matches: dict[str, tuple[float, str]] = {}
        for node, match in _packs.items(packs, "match"):
            matches.setdefault(node, tuple(match))
        alone: dict[str, list[bytes]] = {_SINGLE: [], _EMPTY: []}
        chunks = {_SINGLE: 0, _EMPTY: 0}
        for key, pickled in _packs.items(packs, "record"):
            if key in matches:
                similarity, old_id = matches[key]
                self._of_index.inc()
                yield rejected(
                    pickle.loads(pickled),
                    self._stage,
                    "near_duplicate_of_index",
                    f"similar ({similarity:.2f}) to {old_id} in an index",
                    kept_id=old_id,
                )
                if self._verify and key in labels:
                    yield labels[key], ("ghost", pickled)
            elif key in labels:
                yield labels[key], pickled
            else:
                prefix = _EMPTY if key.startswith(_EMPTY) else _SINGLE
                alone[prefix].append(pickled)
                if len(alone[prefix]) >= _CHUNK:
                    yield f"{prefix}{number}:{chunks[prefix]}", _packs.seal(alone[prefix])
                    alone[prefix], chunks[prefix] = [], chunks[prefix] + 1
        for prefix, chunk in alone.items():
            if chunk:
                yield f"{prefix}{number}:{chunks[prefix]}", _packs.seal(chunk)


class DedupMinHash(beam.PTransform):
    """Removes near duplicates with character n-gram MinHash and LSH, clustering in Beam.

    Texts are compared after the normalization exact dedup uses (width, punctuation, whitespace,
    case and, with ``opencc``, script differences do not count), as sets of character n-grams; a
    text shorter than ``ngram`` is one shingle, so distinct short texts are never merged and
    identical ones always are. Signatures are computed on batches with vectorized code. LSH bands
    and rows are derived from ``threshold`` by minimizing the weighted false-positive and
    false-negative probabilities (or given). Candidates from shared buckets are optionally
    verified by exact Jaccard. Duplicate clusters are the connected components of the candidate
    graph, computed inside Beam (iterated large-star/small-star with an exact fallback), so no
    worker holds all edges. Each cluster keeps one record by the ``keep`` rule; the others go to
    ``rejected`` with reason ``near_duplicate``, the cluster id and the kept id. Kept records of
    clusters get the signal ``dedup.near_cluster_size``. Records with no content pass untouched.

    With ``index_out`` the kept records' signatures are written as an index a later run can load
    with ``against``: records similar to an indexed one go to ``rejected`` with reason
    ``near_duplicate_of_index`` (dedup of a new crawl against everything released before).

    Outputs: kept records (main), rejected, errors. Counters in ``beam_cqia.DedupMinHash``:
    ``seen``, ``passed``, ``filtered:near_duplicate``, ``filtered:near_duplicate_of_index``,
    ``errors``, ``pairs_checked`` and ``pairs_confirmed`` (with ``verify``).

    Args:
        fields: the fields to compare (joined); by default every text field of the record type.
        threshold: the Jaccard similarity at which two records are duplicates.
        ngram: characters per shingle.
        num_perm: MinHash permutations.
        bands: LSH bands; with ``rows``, overrides the choice derived from ``threshold``.
        rows: LSH rows per band.
        fp_weight: weight of false positives when choosing bands and rows.
        fn_weight: weight of false negatives when choosing bands and rows.
        seed: MinHash seed (indexes are only comparable with the same seed and parameters).
        opencc: OpenCC configuration applied before shingling, or null.
        verify: check candidate pairs by exact Jaccard before linking them.
        verify_pairs_up_to: buckets up to this size are verified pair by pair; larger buckets
            are linked as a star from their smallest id (documented trade-off: a huge bucket is
            almost always copies of one text).
        keep: which record of a cluster survives (see DedupExact's ``keep``).
        max_rounds: large-star/small-star rounds unrolled before the exact fallback.
        batch_size: texts per signature batch.
        index_out: write the kept records' signatures here as a dedup index.
        against: dedup indexes (written by ``index_out``) to drop matches of.
        skip_subsets: subsets whose records pass through without being compared, e.g. task
            data whose long instructions repeat by design (COIG-PC tasks: two records that differ
            only in a short input text are no copies).
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        fields: list[str] | None = None,
        threshold: float = 0.7,
        ngram: int = DEFAULT_NGRAM,
        num_perm: int = 128,
        bands: int | None = None,
        rows: int | None = None,
        fp_weight: float = 0.5,
        fn_weight: float = 0.5,
        seed: int = 1,
        opencc: str | None = "t2s",
        verify: bool = True,
        verify_pairs_up_to: int = 64,
        keep: str | list[str] = "longest",
        max_rounds: int = 12,
        batch_size: int = 256,
        index_out: str | None = None,
        against: list[str] | None = None,
        skip_subsets: list[str] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        check_field_names(fields)
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or not (0 < threshold <= 1)
        ):
            raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
        for name, value, low in (
            ("ngram", ngram, 1),
            ("num_perm", num_perm, 2),
            ("max_rounds", max_rounds, 1),
            ("batch_size", batch_size, 1),
            ("verify_pairs_up_to", verify_pairs_up_to, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if (bands is None) != (rows is None):
            raise ValueError("give both bands and rows, or neither")
        if bands is None:
            bands, rows = minhash.optimal_bands(float(threshold), num_perm, fp_weight, fn_weight)
        elif bands < 1 or rows < 1 or bands * rows > num_perm:
            raise ValueError(f"bands x rows must be at most num_perm={num_perm}")
        _models.check_opencc_config(opencc)
        check_error_handling(error_handling)
        self._fields = list(fields or [])
        self._threshold = float(threshold)
        self._ngram, self._num_perm, self._seed = ngram, num_perm, seed
        self._bands, self._rows = bands, rows
        self._opencc = opencc
        self._verify, self._pairs_up_to = verify, verify_pairs_up_to
        self._keep = _keep.parse_keep(keep)
        self._max_rounds, self._batch = max_rounds, batch_size
        self._index_out = index_out
        self._params = dedup_index.minhash_params(
            num_perm, ngram, seed, bands, rows, opencc, self._fields
        )
        self._against = [dedup_index.check_index(p, "minhash", self._params) for p in against or []]
        if skip_subsets is not None and (
            not isinstance(skip_subsets, list) or not all(isinstance(s, str) for s in skip_subsets)
        ):
            raise ValueError(f"skip_subsets must be a list of subset names, got {skip_subsets!r}")
        self._skip_subsets = frozenset(skip_subsets or [])
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        check_fields_exist(records, self._fields)
        kind = type(self).__name__
        element_type = records.element_type
        handle = shared.Shared()  # the converter, loaded once per worker for both steps
        normalized = records | "Normalize" >> beam.ParDo(
            _NormalizeFn(kind, handle, self._opencc, self._fields, self._skip_subsets)
        ).with_exception_handling(dead_letter_tag=ERRORS)
        texts = normalized[GOOD] | "IdText" >> beam.FlatMap(
            lambda t: [(t[0], t[1])] if t[1] else []
        )
        by_id = normalized[GOOD] | "IdRecord" >> beam.Map(lambda t: (t[0], t[2]))
        keep_sigs = bool(self._index_out or self._against)
        signed = (
            texts
            | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=self._batch)
            | "Sign"
            >> beam.ParDo(
                _SignFn(self._params, keep_sigs, hold=texts.windowing.is_default())
            ).with_outputs("sigs", main="bands")
        )
        pairs_up_to = self._pairs_up_to if self._verify else 1
        edges = (
            signed["bands"]
            | "Buckets" >> beam.GroupByKey()
            | "BucketEdges" >> beam.FlatMap(_shard_edges, pairs_up_to)
            | "DistinctEdges" >> beam.Distinct()
        )
        labels = edges | "Components" >> ConnectedComponents(self._max_rounds)
        to_join = [
            _packs.pack_by_shard(by_id, "PackRecords", "record", pickled=True),
            _packs.pack_by_shard(labels, "PackLabels", "label"),
        ]
        if self._against:
            matches = dedup_index.match_minhash(
                signed["sigs"], self._against, self._params, self._threshold
            )
            to_join.append(_packs.pack_by_shard(matches, "PackIndexMatches", "match"))
        verify = None
        if self._verify:
            # Candidate edges go to their component's records (see the module docstring).
            keyed_edges = edges | "KeyEdges" >> beam.Map(lambda e: (e[0], e))
            to_join.append(_packs.pack_by_shard(keyed_edges, "PackEdges", "edge"))
            verify = {"ngram": self._ngram, "threshold": self._threshold, "opencc": self._opencc}
        routed = (
            to_join
            | "FlattenLabels" >> beam.Flatten()
            | "JoinLabels" >> beam.GroupByKey()
            | "Route"
            >> beam.ParDo(_RouteFn(self.label, kind, bool(self._verify))).with_outputs(
                REJECTED, main="routed"
            )
        )
        picked = (
            routed["routed"]
            | "Clusters" >> beam.GroupByKey()
            | "Pick"
            >> beam.ParDo(
                _PickFn(self.label, kind, self._keep, self._fields, verify, handle)
            ).with_outputs(REJECTED, ERRORS, main=GOOD)
        )
        good = picked[GOOD]
        good.element_type = element_type
        if self._index_out:
            dedup_index.write_minhash_index(good, signed["sigs"], self._index_out, self._params)
        rejects = (picked[REJECTED], routed[REJECTED]) | "MergeRejected" >> beam.Flatten()
        dead = (normalized[ERRORS], picked[ERRORS]) | "MergeErrors" >> beam.Flatten()
        return finish_stage(self, records, good, rejects, dead, self._error_handling)
