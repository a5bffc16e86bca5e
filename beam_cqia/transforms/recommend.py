"""Douban profiles grouped into recommendation lists for ``douban_recommend_list.v1``."""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_cqia.records import RawDoc
from beam_cqia.text.ids import stable_bucket
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    REJECTED,
    check_error_handling,
    finish_stage,
    format_exception,
    merge_inputs,
    namespace,
    rejected,
)
from beam_cqia.transforms.rebuild import recommendation_doc

CRITERIA = ("genre", "decade", "region")
_MEMBERS = "members"


def grouping_key(doc: Any, criteria: Sequence[str]) -> tuple[str, str, str] | None:
    """The list a profile joins: (media type, criterion, value), or None when it has no value
    for any of ``criteria``. Among the criteria it has, one is chosen by its id, so profiles
    spread over genre, decade and region lists the same way in every run."""
    meta = doc.meta or {}
    media = str(meta.get("media_type", "") or "")
    if not media:
        return None
    year = str(meta.get("year", "") or "")
    values = {
        "genre": str(meta.get("genres", "") or "").split("/")[0].strip(),
        "decade": f"{year[:3]}0" if len(year) == 4 and year.isdigit() else "",
        "region": str(meta.get("region", "") or "").split("/")[0].strip(),
    }
    options = [(kind, values[kind]) for kind in criteria if values[kind]]
    if not options:
        return None
    kind, value = options[stable_bucket(doc.id, len(options))]
    return media, kind, value


class _KeyFn(beam.DoFn):
    def __init__(self, stage: str, kind: str, criteria: Sequence[str]):
        self._stage, self._criteria = stage, tuple(criteria)
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._no_key = Metrics.counter(namespace(kind), "filtered:no_grouping_value")

    def process(self, doc: Any) -> Any:
        self._seen.inc()
        key = grouping_key(doc, self._criteria)
        if key is None:
            self._no_key.inc()
            yield rejected(
                doc,
                self._stage,
                "no_grouping_value",
                f"no media_type or no value for {list(self._criteria)}",
            )
            return
        yield "/".join(key), doc


class _ListsFn(beam.DoFn):
    """One group → lists of sizes chosen from the group key; a remainder shorter than
    ``min_size`` is rejected (``group_too_small``)."""

    def __init__(
        self,
        stage: str,
        kind: str,
        sizes: Sequence[int],
        min_size: int,
        high_rated: float,
        subset: str,
    ):
        self._stage, self._sizes, self._min = stage, list(sizes), min_size
        self._high, self._subset = high_rated, subset
        self._passed = Metrics.counter(namespace(kind), "passed")
        self._lists = Metrics.counter(namespace(kind), "lists")
        self._small = Metrics.counter(namespace(kind), "filtered:group_too_small")

    def process(self, group: tuple[str, Iterable[Any]]) -> Any:
        key, docs = group
        members = sorted(docs, key=lambda d: d.id)
        try:
            outputs = list(self._lists_of(key, members))
        except Exception as exc:  # noqa: BLE001 - every member must leave as an error
            info = (type(exc), repr(exc), [format_exception(exc)])
            for doc in members:
                yield beam.pvalue.TaggedOutput(ERRORS, (doc, info))
            return
        yield from outputs

    def _lists_of(self, key: str, members: list[Any]) -> Any:
        media, kind, value = key.split("/", 2)
        start, chunk = 0, 0
        while start < len(members):
            size = self._sizes[stable_bucket(f"{key}/{chunk}", len(self._sizes))]
            part = members[start : start + size]
            start, chunk = start + size, chunk + 1
            if len(part) < self._min:
                for doc in part:
                    self._small.inc()
                    yield rejected(
                        doc,
                        self._stage,
                        "group_too_small",
                        f"{len(part)} {media} profiles left for {kind}={value}, "
                        f"fewer than {self._min}",
                    )
                continue
            ratings = [_rating(d) for d in part]
            yield recommendation_doc(
                part,
                **{kind: value},
                high_rated=self._high > 0 and min(ratings) >= self._high,
                subset=self._subset,
            )
            self._lists.inc()
            for doc in part:
                self._passed.inc()
                yield beam.pvalue.TaggedOutput(_MEMBERS, doc.id)


def _rating(doc: Any) -> float:
    try:
        return float((doc.meta or {}).get("rating") or 0)
    except ValueError:
        return 0.0


class GroupRecommendations(beam.PTransform):
    """Groups Douban profiles into recommendation lists, one RawDoc per list, for the
    ``douban_recommend_list.v1`` template (COIG-CQIA's slot-filled recommendation records).

    Each profile joins one list: among its genre (first listed), decade and region, one criterion
    is chosen by its id; profiles of one media type sharing that value are grouped, sorted by id
    and cut into lists whose sizes are chosen from ``sizes`` by the group key. The list's
    ``meta.subjects`` holds the profiles; the criterion fills the request (推荐几部2000年代的美国
    电影...), and ``high_rated`` marks lists whose every subject reaches that rating.

    In the manifest ``in`` and ``out`` count profiles and ``emitted`` lists. Profiles with no
    value for any criterion are rejected as ``no_grouping_value``; a group's remainder shorter
    than ``min_size`` as ``group_too_small``. Counters in ``beam_cqia.GroupRecommendations``:
    ``seen``, ``passed``, ``lists``, ``filtered:<reason>``, ``errors``.

    Args:
        by: criteria to group by, any of ``genre``, ``decade``, ``region``.
        sizes: list sizes to choose from (each at least ``min_size``).
        min_size: the fewest subjects a list may have.
        high_rated: rating (0-10) every subject must reach for a list to be called high rated;
            0 never.
        subset: the subset of the lists.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        by: list[str] | None = None,
        sizes: list[int] | None = None,
        min_size: int = 3,
        high_rated: float = 8.0,
        subset: str = "douban_recommend",
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        by = list(CRITERIA if by is None else by)
        sizes = [3, 5, 8, 10] if sizes is None else list(sizes)
        unknown = [c for c in by if c not in CRITERIA]
        if not by or unknown:
            raise ValueError(f"by must list some of {list(CRITERIA)}, got {by!r}")
        if isinstance(min_size, bool) or not isinstance(min_size, int) or min_size < 1:
            raise ValueError(f"min_size must be a positive integer, got {min_size!r}")
        if not sizes or any(
            isinstance(s, bool) or not isinstance(s, int) or s < min_size for s in sizes
        ):
            raise ValueError(f"sizes must be integers of at least min_size={min_size}: {sizes!r}")
        if isinstance(high_rated, bool) or not isinstance(high_rated, (int, float)):
            raise ValueError(f"high_rated must be a number, got {high_rated!r}")
        if not subset:
            raise ValueError("subset must not be empty")
        check_error_handling(error_handling)
        self._by, self._sizes, self._min = by, sizes, min_size
        self._high, self._subset = float(high_rated), subset
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        docs = merge_inputs(inputs, self.label)
        kind = type(self).__name__
        keyed = docs | "Key" >> beam.ParDo(_KeyFn(self.label, kind, self._by)).with_outputs(
            REJECTED, main=GOOD
        )
        lists = (
            keyed[GOOD]
            | "Group" >> beam.GroupByKey()
            | "Lists"
            >> beam.ParDo(
                _ListsFn(self.label, kind, self._sizes, self._min, self._high, self._subset)
            ).with_outputs(REJECTED, ERRORS, _MEMBERS, main=GOOD)
        )
        good = lists[GOOD]
        good.element_type = RawDoc
        rejects = (keyed[REJECTED], lists[REJECTED]) | "MergeRejected" >> beam.Flatten()
        return finish_stage(
            self,
            docs,
            good,
            rejects,
            lists[ERRORS],
            self._error_handling,
            input_unit=lists[_MEMBERS],
        )
