"""dedup: exact duplicates over a normalization that ignores width, punctuation, case and script."""

from collections.abc import Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia.text import dedupkey
from beam_cqia.text.signals import text_fields_of
from beam_cqia.transforms import _keep, _models
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

_UNKEYED = "unkeyed"


class _KeyFn(beam.DoFn):
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
            yield beam.pvalue.TaggedOutput(_UNKEYED, record)
        else:
            yield key, record


class _PickFn(beam.DoFn):
    def __init__(self, stage: str, kind: str, keep: tuple[str, ...], fields: list[str]):
        self._stage, self._keep, self._fields = stage, keep, fields
        self._passed = Metrics.counter(namespace(kind), "passed")
        self._dups = Metrics.counter(namespace(kind), "filtered:duplicate")

    def process(self, group: tuple[str, Any]) -> Any:
        key, records = group
        members = list(records)
        try:
            outputs = list(self._pick(key, members))
        except Exception as exc:  # noqa: BLE001 - every member must leave as an error
            # One bad group must not turn N inputs into one dead letter: each member is one.
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

    def _pick(self, key: str, members: list[Any]) -> Any:
        members = sorted(members, key=_keep.sort_key(self._keep, self._fields))
        keeper = members[0]
        changes: dict[str, Any] = {}
        if hasattr(keeper, "signals"):
            changes["signals"] = {
                **(keeper.signals or {}),
                "dedup.exact_group_size": float(len(members)),
            }
        if hasattr(keeper, "cluster_id") and len(members) > 1:
            changes["cluster_id"] = f"exact:{key}"
        if hasattr(keeper, "lineage"):
            note = f"{self._stage}:kept_of={len(members)}" if len(members) > 1 else self._stage
            changes["lineage"] = [*keeper.lineage, note]
        yield replace_fields(keeper, **changes) if changes else keeper
        for dup in members[1:]:
            yield rejected(
                dup,
                self._stage,
                "duplicate",
                f"same normalized content as {keeper.id} (group of {len(members)}, key {key})",
                kept_id=keeper.id,
            )


class DedupExact(beam.PTransform):
    """Removes exact duplicates, comparing fields after a normalization that ignores width,
    punctuation, whitespace, letter case and traditional/simplified script.

    Records whose fields hold no content at all pass through untouched (they are not duplicates of
    each other). In each group of duplicates one record is kept by the ``keep`` rule and the others
    go to ``rejected`` with reason ``duplicate`` and the kept id; the kept record gets the signal
    ``dedup.exact_group_size``. Outputs: kept records (main), rejected, errors. Counters in
    ``beam_cqia.DedupExact``: ``seen``, ``passed``, ``filtered:duplicate``, ``errors``.

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
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        check_field_names(fields)
        _models.check_opencc_config(opencc)
        check_error_handling(error_handling)
        self._fields = list(fields or [])
        self._opencc = opencc
        self._keep = _keep.parse_keep(keep)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        kind = type(self).__name__
        element_type = records.element_type
        check_fields_exist(records, self._fields)
        keyed = records | "Key" >> beam.ParDo(
            _KeyFn(kind, shared.Shared(), self._opencc, self._fields)
        ).with_outputs(_UNKEYED, main="keyed").with_exception_handling(
            main_tag="keyed", dead_letter_tag=ERRORS
        )
        picked = (
            keyed["keyed"]
            | "GroupByKey" >> beam.GroupByKey()
            | "Pick"
            >> beam.ParDo(_PickFn(self.label, kind, self._keep, self._fields)).with_outputs(
                REJECTED, ERRORS, main=GOOD
            )
        )
        good = (picked[GOOD], keyed[_UNKEYED]) | "Merge" >> beam.Flatten()
        good.element_type = element_type
        dead = (keyed[ERRORS], picked[ERRORS]) | "MergeErrors" >> beam.Flatten()
        return finish_stage(self, records, good, picked[REJECTED], dead, self._error_handling)
