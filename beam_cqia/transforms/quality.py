"""quality-score: ScoreQuality stores signals on records; FilterByScore applies thresholds.

Scores are kept on the record (``signals``) and thresholds are a separate step, so a team can
change thresholds and rerun the filter without recomputing scores, and every rejection names the
rule that fired.
"""

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_cqia.text import signals as textsignals
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    REJECTED,
    check_error_handling,
    finish_stage,
    merge_inputs,
    namespace,
    rejected,
    replace_fields,
)

DEFAULT_META_SIGNALS = ("votes", "answer_rank")


class _ScoreFn(beam.DoFn):
    def __init__(
        self, stage: str, kind: str, rules: tuple[str, ...], meta_signals: tuple[str, ...]
    ):
        self._stage, self._rules, self._meta_signals = stage, rules, meta_signals
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._passed = Metrics.counter(self._ns, "passed")
        self._dists: dict[str, Any] = {}

    def process(self, record: Any) -> Any:
        self._seen.inc()
        values = textsignals.compute(record, self._rules)
        meta = getattr(record, "meta", None) or {}
        for key in self._meta_signals:
            value = textsignals.numeric_meta(meta, key)
            if value is not None:
                values[key] = value
        for name, value in values.items():
            dist = self._dists.get(name)
            if dist is None:
                dist = self._dists[name] = Metrics.distribution(self._ns, f"signal:{name}")
            dist.update(round(value * 1000))
        merged = {**(getattr(record, "signals", None) or {}), **values}
        changes: dict[str, Any] = {"signals": merged}
        if hasattr(record, "lineage"):
            changes["lineage"] = [*record.lineage, self._stage]
        self._passed.inc()
        yield replace_fields(record, **changes)


class ScoreQuality(beam.PTransform):
    """Computes quality signals and stores them on each record's ``signals``; drops nothing.

    Rule signals work on characters (Chinese has no spaces): ``chars`` gives ``chars.<field>`` for
    every text field; ``cjk_ratio``, ``punct_ratio``, ``dup_line_frac``, ``top_char_frac``,
    ``url_count``, ``emoji_ratio`` and ``ad_hits`` are computed on the answer-side text (answer and
    body, or output). Source signals such as votes are read from the record's ``meta``. Outputs:
    the scored records (main) and errors. Counters in ``beam_cqia.ScoreQuality``: ``seen``,
    ``passed``, ``errors``, and a distribution ``signal:<name>`` (value x 1000) per signal.

    Args:
        rules: rule signals to compute (see ``beam_cqia.text.signals.RULES``); all by default.
        meta_signals: numeric ``meta`` keys to store as signals when present (default ``votes``,
            ``answer_rank``).
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        rules: list[str] | None = None,
        meta_signals: list[str] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        rules = list(textsignals.RULES) if rules is None else rules
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise ValueError(f"rules must be a list of rule names, got {rules!r}")
        unknown = sorted(set(rules) - set(textsignals.RULES))
        if unknown:
            raise ValueError(f"unknown rules {unknown}; known: {list(textsignals.RULES)}")
        meta_signals = list(DEFAULT_META_SIGNALS) if meta_signals is None else meta_signals
        if not isinstance(meta_signals, list) or not all(isinstance(m, str) for m in meta_signals):
            raise ValueError(f"meta_signals must be a list of meta keys, got {meta_signals!r}")
        check_error_handling(error_handling)
        self._rules = tuple(rules)
        self._meta_signals = tuple(meta_signals)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        results = records | "Score" >> beam.ParDo(
            _ScoreFn(self.label, type(self).__name__, self._rules, self._meta_signals)
        ).with_exception_handling(main_tag=GOOD, dead_letter_tag=ERRORS)
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(self, records, good, None, results[ERRORS], self._error_handling)


IF_MISSING = ("error", "reject", "pass")


class Threshold(NamedTuple):
    """One threshold rule of FilterByScore (parsed from the spec)."""

    signal: str
    min: float | None
    max: float | None
    sources: tuple[str, ...]
    subsets: tuple[str, ...]
    if_missing: str
    name: str

    def applies_to(self, record: Any) -> bool:
        if self.sources and getattr(record, "source", None) not in self.sources:
            return False
        return not (self.subsets and getattr(record, "subset", None) not in self.subsets)


def parse_thresholds(rules: Any) -> tuple[Threshold, ...]:
    """Parses and validates FilterByScore's ``rules`` config.

    Raises:
        ValueError: naming the rule and the bad key or value.
    """
    if not isinstance(rules, list) or not rules:
        raise ValueError("rules must be a non-empty list of {signal, min, max, ...} mappings")
    allowed = {"signal", "min", "max", "sources", "subsets", "if_missing", "name"}
    parsed = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            raise ValueError(f"rules[{i}] must be a mapping, got {rule!r}")
        unknown = sorted(set(rule) - allowed)
        if unknown:
            raise ValueError(f"rules[{i}]: unknown keys {unknown}; allowed: {sorted(allowed)}")
        signal = rule.get("signal")
        if not isinstance(signal, str) or not signal:
            raise ValueError(f"rules[{i}]: 'signal' must be a signal name, got {signal!r}")
        bounds = {}
        for key in ("min", "max"):
            value = rule.get(key)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)
            ):
                raise ValueError(f"rules[{i}] ({signal}): {key} must be a number, got {value!r}")
            bounds[key] = None if value is None else float(value)
        if bounds["min"] is None and bounds["max"] is None:
            raise ValueError(f"rules[{i}] ({signal}): give min, max or both")
        if (
            bounds["min"] is not None
            and bounds["max"] is not None
            and bounds["min"] > bounds["max"]
        ):
            raise ValueError(f"rules[{i}] ({signal}): min {bounds['min']} > max {bounds['max']}")
        lists = {}
        for key in ("sources", "subsets"):
            value = rule.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError(f"rules[{i}] ({signal}): {key} must be a list of names")
            lists[key] = tuple(value)
        if_missing = rule.get("if_missing", "error")
        if if_missing not in IF_MISSING:
            raise ValueError(
                f"rules[{i}] ({signal}): if_missing must be one of {list(IF_MISSING)}, "
                f"got {if_missing!r}"
            )
        name = rule.get("name") or ""
        if not isinstance(name, str) or any(c.isspace() for c in name):
            raise ValueError(f"rules[{i}] ({signal}): name must be a word without spaces")
        parsed.append(
            Threshold(
                signal,
                bounds["min"],
                bounds["max"],
                lists["sources"],
                lists["subsets"],
                if_missing,
                name,
            )
        )
    return tuple(parsed)


def verdict(record: Any, thresholds: tuple[Threshold, ...]) -> tuple[str, str] | None:
    """Returns ``(reason, detail)`` for the first failed threshold, or None if all pass.

    Raises:
        KeyError: when a rule with ``if_missing: error`` applies and the signal is absent.
    """
    signals = getattr(record, "signals", None) or {}
    failures: list[tuple[str, str]] = []
    for rule in thresholds:
        if not rule.applies_to(record):
            continue
        value = signals.get(rule.signal)
        if value is None:
            if rule.if_missing == "error":
                raise KeyError(
                    f"signal {rule.signal!r} is missing on record {getattr(record, 'id', '?')}; "
                    "compute it with ScoreQuality or set if_missing"
                )
            if rule.if_missing == "reject":
                failures.append((rule.name or f"{rule.signal}_missing", f"{rule.signal} missing"))
            continue
        if rule.min is not None and value < rule.min:
            failures.append(
                (rule.name or f"{rule.signal}_below_min", f"{rule.signal}={value:g} < {rule.min:g}")
            )
        elif rule.max is not None and value > rule.max:
            failures.append(
                (rule.name or f"{rule.signal}_above_max", f"{rule.signal}={value:g} > {rule.max:g}")
            )
    if not failures:
        return None
    return failures[0][0], "; ".join(detail for _, detail in failures)


class _FilterFn(beam.DoFn):
    def __init__(self, stage: str, kind: str, thresholds: tuple[Threshold, ...]):
        self._stage, self._thresholds = stage, thresholds
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._passed = Metrics.counter(self._ns, "passed")

    def process(self, record: Any) -> Any:
        self._seen.inc()
        result = verdict(record, self._thresholds)
        if result is None:
            self._passed.inc()
            yield record
        else:
            reason, detail = result
            Metrics.counter(self._ns, f"filtered:{reason}").inc()
            yield rejected(record, self._stage, reason, detail)


class FilterByScore(beam.PTransform):
    """Applies thresholds to stored signals; records that fail go to ``rejected`` with a reason.

    Rules are checked in order; the reason is the first failed rule's name (by default
    ``<signal>_below_min`` or ``<signal>_above_max``), and the detail lists every failed rule with
    its value. Outputs: passing records (main), rejected, errors (e.g. a required signal was never
    computed). Counters in ``beam_cqia.FilterByScore``: ``seen``, ``passed``,
    ``filtered:<reason>``, ``errors``.

    Args:
        rules: thresholds, each ``{signal, min, max, sources, subsets, if_missing, name}``:
            ``signal`` names a stored signal (e.g. ``chars.answer``, ``votes``); ``min``/``max``
            bound it (inclusive); ``sources``/``subsets`` limit the rule to those records;
            ``if_missing`` says what to do when the signal is absent (``error``, ``reject`` or
            ``pass``; default ``error``); ``name`` overrides the reason.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        rules: list[Mapping[str, Any]],
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self._thresholds = parse_thresholds(rules)
        check_error_handling(error_handling)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        results = records | "Filter" >> beam.ParDo(
            _FilterFn(self.label, type(self).__name__, self._thresholds)
        ).with_outputs(REJECTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(
            self, records, good, results[REJECTED], results[ERRORS], self._error_handling
        )
