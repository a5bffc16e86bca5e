"""quality-score: ScoreQuality stores signals on records; FilterByScore applies thresholds.

Scores are kept on the record (``signals``) and thresholds are a separate step, so a team can
change thresholds and rerun the filter without recomputing scores, and every rejection names the
rule that fired.
"""

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia.text import signals as textsignals
from beam_cqia.transforms import _models
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
    replace_fields,
)

DEFAULT_META_SIGNALS = ("votes", "answer_rank")


# ScoreQuality's rules unless a spec lists its own: every rule that runs at tens of MB/s.
# The n-gram repetition rules (top_ngram_frac, dup_ngram_frac) cost ~10x more; ask for them.
DEFAULT_RULES = (
    *textsignals.DEFAULT_RULES,
    "trad_ratio",
    "special_char_ratio",
    "url_density",
    "sentence_end_ratio",
    "truncated",
    "dup_para_frac",
    "boilerplate_hits",
    "assistant_hits",
    "pinyin_inserts",
)


class _Context:
    """Weak-referenceable holder of the signal context (``Shared`` needs one)."""

    def __init__(self, rules: tuple[str, ...], lexicon: bytes | None, t2s: Any):
        self.value = textsignals.make_context(rules, sensitive=lexicon, t2s=t2s)


class _ScoreFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        rules: tuple[str, ...],
        meta_signals: tuple[str, ...],
        handle: shared.Shared,
        lexicon: bytes | None,
        last: bool = True,
    ):
        self._stage, self._rules, self._meta_signals = stage, rules, meta_signals
        self._handle, self._lexicon, self._last = handle, lexicon, last
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._passed = Metrics.counter(self._ns, "passed")
        self._dists: dict[str, Any] = {}

    def setup(self) -> None:
        rules, lexicon = self._rules, self._lexicon
        t2s = _models.converter_or_none(self._handle, "t2s") if "trad_ratio" in rules else None
        self._context = self._handle.acquire(
            lambda: _Context(rules, lexicon, t2s), tag=f"signals:{sorted(rules)}"
        ).value

    def process(self, record: Any) -> Any:
        self._seen.inc()
        values = textsignals.compute(record, self._rules, self._context)
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
        if self._last:  # otherwise the model step counts the record when it is done
            self._passed.inc()
        yield replace_fields(record, **changes)


class _Models:
    """This worker's language identifier and quality classifier (weak-referenceable)."""

    def __init__(self, lid: bool, lid_model: str | None, quality_model: str | None):
        from beam_cqia.models.lid import LanguageIdentifier
        from beam_cqia.models.quality import QualityModel

        self.lid = LanguageIdentifier(_local_copy(lid_model)) if lid else None
        self.quality = QualityModel(_local_copy(quality_model)) if quality_model else None


def _local_copy(path: str | None) -> str | None:
    """fastText reads local files only: a model on another filesystem is copied once."""
    if path is None or FileSystems.get_scheme(path) in (None, "file"):
        return path
    import tempfile

    with (
        tempfile.NamedTemporaryFile(suffix="-" + path.rsplit("/", 1)[-1], delete=False) as local,
        FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh,
    ):
        while chunk := fh.read(1 << 24):
            local.write(chunk)
    return local.name


class _ModelFn(beam.DoFn):
    """Batched model signals: lid.* (language) and quality.fasttext (the trained classifier).

    A batch that fails is scored again record by record, so one bad record is one error.
    """

    def __init__(
        self,
        kind: str,
        handle: shared.Shared,
        lid: bool,
        lid_model: str | None,
        quality_model: str | None,
    ):
        self._handle, self._lid, self._lid_model = handle, lid, lid_model
        self._quality_model = quality_model
        self._passed = Metrics.counter(namespace(kind), "passed")

    def setup(self) -> None:
        lid, lid_model, quality_model = self._lid, self._lid_model, self._quality_model
        self._models = self._handle.acquire(
            lambda: _Models(lid, lid_model, quality_model),
            tag=f"models:{lid}:{lid_model}:{quality_model}",
        )

    def _signals(self, records: list[Any]) -> list[dict[str, float]]:
        texts = [textsignals.content_of(r) for r in records]
        out: list[dict[str, float]] = [{} for _ in records]
        if self._models.lid is not None:
            for values, score in zip(out, self._models.lid.chinese_scores(texts), strict=True):
                values.update(score.signals())
        if self._models.quality is not None:
            for values, score in zip(out, self._models.quality.score(texts), strict=True):
                values["quality.fasttext"] = float(score)
        return out

    def process(self, batch: list[Any]) -> Any:
        try:
            scored = list(zip(batch, self._signals(batch), strict=True))
        except Exception:  # noqa: BLE001 - find the record(s) that fail, one by one
            scored = []
            for record in batch:
                try:
                    scored.append((record, self._signals([record])[0]))
                except Exception as exc:  # noqa: BLE001 - this record is the error
                    info = (type(exc), repr(exc), [format_exception(exc)])
                    yield beam.pvalue.TaggedOutput(ERRORS, (record, info))
        for record, values in scored:
            self._passed.inc()
            yield replace_fields(record, signals={**(record.signals or {}), **values})


class ScoreQuality(beam.PTransform):
    """Computes quality signals and stores them on each record's ``signals``; drops nothing.

    Rule signals work on characters (Chinese has no spaces; see ``beam_cqia.text.signals`` for
    each definition): ``chars`` gives ``chars.<field>`` for every text field; the others are
    computed on the answer-side text (answer and body, or output): CJK, Traditional-character,
    punctuation, special-character and emoji ratios, URL count and density, sentence-end ratio,
    truncated ending, duplicate lines and paragraphs, top character and n-gram fractions and
    duplicate n-gram fractions (Gopher-style, on characters), site boilerplate, advertising,
    AI-assistant phrases and sensitive-word hits (per category) from a lexicon the spec names.
    Source signals such as votes are read from the record's ``meta``. Outputs: the scored records
    (main) and errors. Counters in ``beam_cqia.ScoreQuality``: ``seen``, ``passed``, ``errors``,
    and a distribution ``signal:<name>`` (value x 1000) per signal.

    Args:
        rules: rule signals to compute (``beam_cqia.text.signals.RULES``); by default every rule
            except the slower n-gram ones (``top_ngram_frac``, ``dup_ngram_frac``), plus
            ``sensitive_hits`` when ``sensitive_words`` is given.
        extra_rules: rules to compute besides ``rules`` (or the defaults), e.g. ``[cut_off,
            top_ngram_frac]``: a spec adds a rule without listing the defaults.
        meta_signals: numeric ``meta`` keys to store as signals when present (default ``votes``,
            ``answer_rank``).
        sensitive_words: a word list (one word per line, optionally ``category<TAB>word``; any
            Beam filesystem path), read when the pipeline is built; enables ``sensitive_hits``.
        lid: identify the language with fastText lid.176 (found where ``python -m
            beam_cqia.models fetch`` put it, or at ``lid_model``) plus a script rule for
            classical and Traditional Chinese, stored as ``lid.zh``, ``lid.zh_prob``,
            ``lid.prob``, ``lid.han_ratio``, ``lid.traditional_ratio``...
        lid_model: a lid.176 .bin/.ftz of your own (any Beam filesystem path).
        quality_model: a classifier trained with ``beam-cqia train-quality``; its probability
            of "good" is stored as ``quality.fasttext``.
        batch_size: records per model call.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        rules: list[str] | None = None,
        extra_rules: list[str] | None = None,
        meta_signals: list[str] | None = None,
        sensitive_words: str | None = None,
        lid: bool = False,
        lid_model: str | None = None,
        quality_model: str | None = None,
        batch_size: int = 256,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if lid_model and not lid:
            raise ValueError("lid_model is given but lid is false")
        for name, path in (("lid_model", lid_model), ("quality_model", quality_model)):
            if path and not FileSystems.exists(path):
                raise ValueError(f"{name} {path!r} does not exist")
        if lid and not lid_model:
            from beam_cqia.models.assets import find_lid_model

            try:
                find_lid_model()
            except FileNotFoundError as exc:
                raise ValueError(str(exc)) from None
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self._lid, self._lid_model, self._quality_model = lid, lid_model, quality_model
        self._batch = batch_size
        if rules is None:
            rules = [*DEFAULT_RULES, *(["sensitive_hits"] if sensitive_words else [])]
        for name, value in (("rules", rules), ("extra_rules", extra_rules or [])):
            if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
                raise ValueError(f"{name} must be a list of rule names, got {value!r}")
        rules = [*rules, *(r for r in extra_rules or [] if r not in rules)]
        unknown = sorted(set(rules) - set(textsignals.RULES))
        if unknown:
            raise ValueError(f"unknown rules {unknown}; known: {list(textsignals.RULES)}")
        if "sensitive_hits" in rules and not sensitive_words:
            raise ValueError("rule sensitive_hits needs sensitive_words (a word-list file)")
        self._lexicon = None
        if sensitive_words:
            try:
                with FileSystems.open(
                    sensitive_words, compression_type=CompressionTypes.UNCOMPRESSED
                ) as fh:
                    self._lexicon = fh.read()
                textsignals.load_lexicon(self._lexicon)
            except Exception as exc:  # noqa: BLE001 - any failure is a bad config value
                raise ValueError(
                    f"cannot read sensitive_words {sensitive_words!r}: {exc}"
                ) from None
        meta_signals = list(DEFAULT_META_SIGNALS) if meta_signals is None else meta_signals
        if not isinstance(meta_signals, list) or not all(isinstance(m, str) for m in meta_signals):
            raise ValueError(f"meta_signals must be a list of meta keys, got {meta_signals!r}")
        check_error_handling(error_handling)
        self._rules = tuple(rules)
        self._meta_signals = tuple(meta_signals)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        kind = type(self).__name__
        handle = shared.Shared()
        with_models = bool(self._lid or self._quality_model)
        results = records | "Score" >> beam.ParDo(
            _ScoreFn(
                self.label,
                kind,
                self._rules,
                self._meta_signals,
                handle,
                self._lexicon,
                last=not with_models,
            )
        ).with_exception_handling(main_tag=GOOD, dead_letter_tag=ERRORS)
        good, dead = results[GOOD], results[ERRORS]
        if with_models:
            modelled = (
                good
                | "Batch" >> beam.BatchElements(min_batch_size=8, max_batch_size=self._batch)
                | "Models"
                >> beam.ParDo(
                    _ModelFn(kind, handle, self._lid, self._lid_model, self._quality_model)
                ).with_outputs(ERRORS, main=GOOD)
            )
            good = modelled[GOOD]
            dead = (dead, modelled[ERRORS]) | "MergeErrors" >> beam.Flatten()
        good.element_type = records.element_type
        return finish_stage(self, records, good, None, dead, self._error_handling)


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

    @property
    def label(self) -> str:
        """The rule's name, or its signal when it has none."""
        return self.name or self.signal

    def describe(self) -> dict[str, Any]:
        """The rule as JSON-able values (for the manifest and the run report)."""
        out: dict[str, Any] = {"name": self.label, "signal": self.signal}
        out.update({k: getattr(self, k) for k in ("min", "max") if getattr(self, k) is not None})
        out.update({k: list(getattr(self, k)) for k in ("sources", "subsets") if getattr(self, k)})
        if self.if_missing != "error":
            out["if_missing"] = self.if_missing
        return out


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


def verdict(record: Any, thresholds: tuple[Threshold, ...]) -> tuple[list[str], str] | None:
    """Returns ``(reasons, detail)`` for the failed thresholds, in rule order, or None if all
    pass.

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
    return [reason for reason, _ in failures], "; ".join(detail for _, detail in failures)


class _FilterFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        thresholds: tuple[Threshold, ...],
        by_source: Mapping[str, tuple[Threshold, ...]],
    ):
        self._stage, self._thresholds, self._by_source = stage, thresholds, dict(by_source)
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._passed = Metrics.counter(self._ns, "passed")

    def process(self, record: Any) -> Any:
        self._seen.inc()
        rules = self._by_source.get(getattr(record, "source", None), self._thresholds)
        result = verdict(record, rules)
        if result is None:
            self._passed.inc()
            if hasattr(record, "lineage"):
                checked = ",".join(r.label for r in rules if r.applies_to(record))
                note = f"{self._stage}:passed={checked}" if checked else self._stage
                record = replace_fields(record, lineage=[*(record.lineage or []), note])
            yield record
        else:
            reasons, detail = result
            # One counter per record (the first reason), so the counts add up to the drops;
            # every failed rule is also counted under failed:<reason>.
            Metrics.counter(self._ns, f"filtered:{reasons[0]}").inc()
            for reason in reasons:
                Metrics.counter(self._ns, f"failed:{reason}").inc()
            yield rejected(record, self._stage, reasons[0], detail, reasons=reasons)


# FilterByScore's rules unless a spec lists its own, calibrated on real data by
# benchmarks/bench_quality_calibration.py (results/quality_calibration.md): every file of
# human-verified COIG-CQIA records ("CQIA" below, 6,974 records in 18 files) keeps >= 97% of them,
# against labelled junk: ChineseWebText's dirty pages, douban-dmr spam reviews, cold-offensive
# offensive comments. They read what ScoreQuality's default rules compute on RawDocs (the answer
# side is answer + body), so they belong before RebuildFromTemplate (the signals stay on the
# records, so written output can be refiltered). Rules that apply everywhere are the ones
# COIG-CQIA's own data shows; length, script and sentence-end rules are scoped to the sources
# whose data calls for them. None reads sensitive_hits: with ChineseWebText's word list, every
# threshold that rejects more junk rejects more good text (42% of a COIG-CQIA file source-wide,
# 6 of 10 clean web pages on web text only). No repetition rule either: top_char_frac rejected
# no junk the others keep, and it is 1.0 on a one-letter answer key ("B"). Counts: records
# failing the rule (and those failing only it, which removing it would let through).
DEFAULT_THRESHOLDS: list[dict[str, Any]] = [
    # Advertising and contact harvesting (加微信, 优惠码, 点击下方链接...). CQIA: 4 (4), ads quoted
    # in finance passages and 2 Zhihu answers; other COIG-CQIA: 11 (11); junk: 3 (0).
    {"signal": "ad_hits", "max": 0, "name": "advertising"},
    # Site chrome left in the text (责任编辑, 转载请注明, 记得点赞关注, END markers...). CQIA:
    # 5 (5); other COIG-CQIA: 30 (30), mostly xhs self-promotion; dirty pages: 1 (1), a news
    # page's 责任编辑 line; ChineseWebText cleared1 (unlabelled CCNet pages): 5 of 100.
    {"signal": "boilerplate_hits", "max": 0, "name": "site_boilerplate"},
    # AI-assistant boilerplate (作为一个AI语言模型，我..., 抱歉，我无法...), as COIG-Kun's output
    # filter. CQIA: 24 (24), 22 of them among CValues' 906 answers (2.4%, the most any file
    # loses); junk: 0. Kept for LLM-written answers, which the junk sets do not contain.
    {"signal": "assistant_hits", "max": 0, "name": "assistant_phrases"},
    # Spun copies of web articles: toneless pinyin bracketed after characters (烟(yan)台市(shi)).
    # COIG-CQIA: at most 4 in any record (a Zhihu answer explaining pinyin abbreviations), none
    # rejected; the ChineseWebText dirty page of this kind has 36; clean pages, cleared1 and
    # zhwiki (whose English glosses, 劳动力（labour）, are no pinyin syllables) 0.
    {"signal": "pinyin_inserts", "max": 5, "name": "spun_content"},
    # Long-form answer sources. COIG-CQIA's own length filter: its Zhihu, Xiaohongshu and Douban
    # outputs are >= 280, >= 282 and >= 200 characters; 150 leaves room for normalization and
    # for shorter genuine answers. douban-dmr spam: 22 of 22 (22), and 21 of 22 genuine reviews:
    # it rejects short reviews, spam or not. Douban profiles have no answer and fail it: filter
    # records that wait for a template to write their output (recommendations) after
    # RebuildFromTemplate. Passes records scored as CqiaRecords (no chars.answer).
    {
        "signal": "chars.answer",
        "min": 150,
        "sources": ["zhihu", "xhs", "douban"],
        "if_missing": "pass",
        "name": "answer_too_short",
    },
    # Web pages and plain-text documents (text in the body): ChineseWebText's own rule drops a
    # document under 200 characters. cold-offensive read as text documents (one comment each):
    # 5,318 of 5,318 (2,811), non-offensive ones alike; clean web pages: 1 (0); zhwiki-sample
    # articles: 4 (4), disambiguation pages and stubs.
    {
        "signal": "chars.body",
        "min": 200,
        "sources": ["web", "text"],
        "if_missing": "pass",
        "name": "document_too_short",
    },
    # Web and text documents mostly not in Chinese (code, English tables). COIG-CQIA keeps English
    # and formula-only Zhihu answers, so it is no source-wide rule; its encyclopedia articles are
    # <= 1.3% below 0.4 per file. Dirty: 3 (3); clean: 0; zhwiki: 5 (2), lists and timelines
    # (0.5 would also drop articles full of Latin names; ChineseWebText's 0.3 keeps C code).
    {"signal": "cjk_ratio", "min": 0.4, "sources": ["web", "text"], "name": "not_chinese"},
    # Web and text documents that are mostly lists, menus or headlines: under half of their prose
    # lines end a sentence. COIG-CQIA's encyclopedia articles: 3% below 0.5, 9% below 0.7. Dirty:
    # 2 (2); clean: 2 (0), one-line pages; zhwiki: 6 (3); cleared1: 40 (11).
    {"signal": "sentence_end_ratio", "min": 0.5, "sources": ["web", "text"], "name": "not_prose"},
    # Web and text documents ending mid-sentence (a cut page, trailing navigation). Dirty: 2 (2);
    # clean: 2 (0); cleared1: 62 (32); zhwiki: 14 (14), pages ending on a heading whose section
    # the sample stripped. Not for COIG-CQIA's sources: 8% of its Zhihu answers end unpunctuated.
    {"signal": "truncated", "max": 0, "sources": ["web", "text"], "name": "truncated"},
]


class FilterByScore(beam.PTransform):
    """Applies thresholds to stored signals; records that fail go to ``rejected`` with a reason.

    Rules are checked in order; a rejected record names every failed rule in ``reasons`` (its
    ``reason`` is the first: by default ``<signal>_below_min`` or ``<signal>_above_max``), and the
    detail lists every failure with its value. Records keep their signals in the written data and
    rejected Parquet, so thresholds can be changed and re-applied to a written output without
    rescoring (``pipelines/refilter.yaml``). Outputs: passing records (main), rejected, errors
    (e.g. a required signal was never computed). Counters in ``beam_cqia.FilterByScore``:
    ``seen``, ``passed``, ``filtered:<first reason>`` (they add up to the drops),
    ``failed:<reason>`` (every failed rule), ``errors``.

    Args:
        rules: thresholds, each ``{signal, min, max, sources, subsets, if_missing, name}``:
            ``signal`` names a stored signal (e.g. ``chars.answer``, ``votes``); ``min``/``max``
            bound it (inclusive); ``sources``/``subsets`` limit the rule to those records;
            ``if_missing`` says what to do when the signal is absent (``error``, ``reject`` or
            ``pass``; default ``error``); ``name`` overrides the reason. None (the default)
            means :data:`DEFAULT_THRESHOLDS`, calibrated on real data for signals of
            ScoreQuality's default rules (``benchmarks/results/quality_calibration.md``).
        by_source: per-source overrides, ``{source: [rules]}``: for records of that source, its
            rules replace the general rules on the same signals and add to the others (e.g.
            SegmentFault answers need fewer characters than Zhihu answers).
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        rules: list[Mapping[str, Any]] | None = None,
        by_source: Mapping[str, list[Mapping[str, Any]]] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self._thresholds = parse_thresholds(list(DEFAULT_THRESHOLDS) if rules is None else rules)
        if by_source is not None and not isinstance(by_source, Mapping):
            raise ValueError("by_source must map source names to lists of rules")
        self._by_source: dict[str, tuple[Threshold, ...]] = {}
        for source, overrides in (by_source or {}).items():
            try:
                parsed = parse_thresholds(overrides)
            except ValueError as exc:
                raise ValueError(f"by_source.{source}: {exc}") from None
            replaced = {r.signal for r in parsed}
            self._by_source[str(source)] = (
                *(r for r in self._thresholds if r.signal not in replaced),
                *parsed,
            )
        check_error_handling(error_handling)
        self._error_handling = error_handling

    def report_notes(self) -> dict[str, Any]:
        """The thresholds, for the manifest and the run report (``finish_stage`` asks)."""
        notes: dict[str, Any] = {"thresholds": [r.describe() for r in self._thresholds]}
        if self._by_source:
            notes["thresholds_by_source"] = {
                source: [r.describe() for r in rules]
                for source, rules in sorted(self._by_source.items())
            }
        return notes

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        results = records | "Filter" >> beam.ParDo(
            _FilterFn(self.label, type(self).__name__, self._thresholds, self._by_source)
        ).with_outputs(REJECTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(
            self, records, good, results[REJECTED], results[ERRORS], self._error_handling
        )
