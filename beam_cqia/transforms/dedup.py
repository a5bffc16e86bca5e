"""dedup: exact duplicates over a normalization that ignores width, punctuation, case and script."""

import pickle
from collections.abc import Iterable, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia.lineage import kept_note
from beam_cqia.text import dedupkey
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

# Records without content travel through the GroupByKey under this prefix and their id (a hex
# key never starts with it): the stage then has one main output and no Flatten to merge, which
# on FnApiRunner would encode and decode every record once more.
_UNKEYED = "unkeyed:"


class _KeyFn(beam.DoFn):
    """Record → ``(dedup key, record)``."""

    def __init__(self, kind: str, handle: shared.Shared, opencc: str | None, fields: list[str]):
        self._handle, self._opencc, self._fields = handle, opencc, fields
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")

    def setup(self) -> None:
        self._t2s = _models.converter_or_none(self._handle, self._opencc)

    def process(self, record: Any) -> Any:
        self._seen.inc()
        fields = self._fields or text_fields_of(record)
        key = dedupkey.dedup_key((getattr(record, f) or "" for f in fields), self._t2s)
        if not key:
            # Nothing to compare: records without content are not duplicates of each other; the
            # quality filter decides about them.
            self._passed.inc()
            key = _UNKEYED + (getattr(record, "id", "") or "")
        yield key, record


class _PickFn(beam.DoFn):
    """One shard of keyed records and index marks → for each key, the kept record and the
    rejected duplicates.

    Keys are counted first; a record whose key is unique leaves as it streams past, only the
    records of keys with several records (or an index mark) are held.
    """

    def __init__(
        self, stage: str, kind: str, keep: tuple[str, ...], fields: list[str], index: bool
    ):
        self._stage, self._keep, self._fields, self._index = stage, keep, fields, index
        self._ns = namespace(kind)
        self._passed = Metrics.counter(self._ns, "passed")

    def process(self, shard: tuple[int, Iterable[Any]]) -> Any:
        _, packs = shard
        marks: dict[str, list[str]] = {}
        sizes: dict[str, int] = {}
        for tag, pack in packs:
            if tag == "mark":
                for key, mark in pack:
                    marks.setdefault(key, []).append(mark)
            else:
                for key in _packs.pack_keys(pack):
                    sizes[key] = sizes.get(key, 0) + 1
        groups: dict[str, list[Any]] = {}
        for key, pickled in _packs.items(packs, "record"):
            if key.startswith(_UNKEYED):
                yield pickle.loads(pickled)  # counted as passed when keyed
            elif sizes[key] == 1 and key not in marks:
                yield from self.pick_group(key, [pickle.loads(pickled)])
            else:
                groups.setdefault(key, []).append(pickle.loads(pickled))
        for key, members in groups.items():
            yield from self.pick_group(key, members, marks.get(key, ()))

    def pick_group(self, key: str, members: list[Any], marks: Iterable[str] = ()) -> Any:
        """The outputs of one key's records (``marks``: the ids an index holds for the key)."""
        marks = sorted(marks)
        try:
            if marks:
                outputs = [
                    rejected(
                        r,
                        self._stage,
                        "duplicate_of_index",
                        f"same normalized content as {marks[0]} in an index",
                        kept_id=marks[0],
                    )
                    for r in members
                ]
            else:
                outputs = list(self._pick(key, members))
        except Exception as exc:  # noqa: BLE001 - every member must leave as an error
            # One bad group must not turn N inputs into one dead letter: each member is one.
            info = (type(exc), repr(exc), [format_exception(exc)])
            for record in members:
                yield beam.pvalue.TaggedOutput(ERRORS, (record, info))
            return
        for output in outputs:
            if isinstance(output, beam.pvalue.TaggedOutput):
                Metrics.counter(self._ns, f"filtered:{output.value.reason}").inc()
            else:
                self._passed.inc()
                if self._index:
                    yield beam.pvalue.TaggedOutput("index", {"key": key, "id": output.id})
            yield output

    def _pick(self, key: str, members: list[Any]) -> Any:
        members = sorted(members, key=_keep.sort_key(self._keep, self._fields))
        keeper = members[0]
        changes: dict[str, Any] = {}
        if hasattr(keeper, "signals"):
            changes["signals"] = {
                **(keeper.signals or {}),
                "dedup.exact_group_size": float(len(members)),
            }
        cluster = f"exact:{key}" if len(members) > 1 else ""
        if hasattr(keeper, "cluster_id") and cluster:
            changes["cluster_id"] = cluster
        if hasattr(keeper, "lineage"):
            note = f"{self._stage}:{kept_note(len(members), cluster)}" if cluster else self._stage
            changes["lineage"] = [*keeper.lineage, note]
        yield replace_fields(keeper, **changes) if changes else keeper
        for dup in members[1:]:
            yield rejected(
                dup,
                self._stage,
                "duplicate",
                f"same normalized content as {keeper.id} (group of {len(members)})",
                kept_id=keeper.id,
                cluster_id=cluster,
            )


class DedupExact(beam.PTransform):
    """Removes exact duplicates, comparing fields after a normalization that ignores width,
    punctuation, whitespace, letter case and traditional/simplified script.

    Records whose fields hold no content at all pass through untouched (they are not duplicates of
    each other). In each group of duplicates one record is kept by the ``keep`` rule and the others
    go to ``rejected`` with reason ``duplicate``, the cluster id and the kept id; the kept record
    gets the signal ``dedup.exact_group_size``. With ``index_out`` the kept keys are written as
    an index; with ``against``, records whose key an index holds are rejected
    (``duplicate_of_index``): a new crawl deduplicated against everything released before.
    Outputs: kept records (main), rejected, errors. Counters in ``beam_cqia.DedupExact``:
    ``seen``, ``passed``, ``filtered:duplicate``, ``filtered:duplicate_of_index``, ``errors``.

    Args:
        fields: the fields to compare, e.g. ``[answer, body]`` (output only) or
            ``[question, answer]``; by default every text field of the record type.
        opencc: OpenCC configuration applied before comparing, or null to compare scripts as is.
        keep: which record of a group survives: a criterion or a list applied in order, the
            smallest id breaking the last tie: ``longest``/``shortest`` (characters in the
            compared fields, or ``longest:<field>``), ``max:<signal>``/``min:<signal>`` (a stored
            quality signal), ``max:meta.<key>`` (e.g. ``max:meta.votes``), ``most_votes``,
            ``smallest_id``. Default: longest, then smallest id.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        fields: list[str] | None = None,
        opencc: str | None = "t2s",
        keep: str | list[str] = "longest",
        index_out: str | None = None,
        against: list[str] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        check_field_names(fields)
        _models.check_opencc_config(opencc)
        check_error_handling(error_handling)
        self._fields = list(fields or [])
        self._opencc = opencc
        self._keep = _keep.parse_keep(keep)
        self._params = dedup_index.exact_params(self._fields, opencc)
        self._index_out = index_out
        self._against = [dedup_index.check_index(p, "exact", self._params) for p in against or []]
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        kind = type(self).__name__
        element_type = records.element_type
        check_fields_exist(records, self._fields)
        keyed = records | "Key" >> beam.ParDo(
            _KeyFn(kind, shared.Shared(), self._opencc, self._fields)
        ).with_exception_handling(dead_letter_tag=ERRORS)
        # Keyed records (pickled: bytes cost almost nothing to move through a shuffle, a record
        # costs a coding at each step) and index marks cross it in packs per shard of the key.
        grouped_input = _packs.pack_by_shard(keyed[GOOD], "PackKeyed", "record", pickled=True)
        if self._against:
            marks = [
                _packs.pack_by_shard(
                    dedup_index.read_rows(records.pipeline, path, f"Against{i}")
                    | f"Against{i}Marks" >> beam.Map(lambda r: (r["key"], r["id"])),
                    f"PackAgainst{i}",
                    "mark",
                )
                for i, path in enumerate(self._against)
            ]
            grouped_input = [grouped_input, *marks] | "WithIndex" >> beam.Flatten()
        picked = (
            grouped_input
            | "GroupByKey" >> beam.GroupByKey()
            | "Pick"
            >> beam.ParDo(
                _PickFn(self.label, kind, self._keep, self._fields, bool(self._index_out))
            ).with_outputs(REJECTED, ERRORS, "index", main=GOOD)
        )
        if self._index_out:
            dedup_index.write_index(
                picked["index"], self._index_out, "exact", self._params, "Index"
            )
        good = picked[GOOD]
        good.element_type = element_type
        dead = (keyed[ERRORS], picked[ERRORS]) | "MergeErrors" >> beam.Flatten()
        return finish_stage(self, records, good, picked[REJECTED], dead, self._error_handling)
