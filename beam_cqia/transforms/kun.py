"""COIG-Kun as stages: back-translated instructions, instruction filters, polished answers.

COIG-Kun (CQIA-METHOD.md §5) turns unlabelled text into instruction data in five steps; each is
a stage here, and the LLM ones share JudgeWithLLM's client (``beam_cqia.llm``: concurrency,
batches, retries with backoff and ``Retry-After``, the persistent cache, token accounting):

1. ``BacktranslateInstructions``: the label model writes the instruction a RawDoc's text answers.
   It emits **CqiaRecords** (instruction from the model, output = the raw text,
   ``template_id`` = the prompt id), so every later stage is an ordinary CQIA stage: the filters
   below, ScoreQuality, JudgeWithLLM, FilterByScore, TagSchema, WriteCqiaParquet, with no
   meta key to agree on and no Kun template for RebuildFromTemplate.
2. ``FilterContextDependent``: instructions that point at a text the reader lacks (根据上文,
   这篇文章, 以下材料...) go to ``rejected`` as ``context_dependent``.
3. ``ScoreInstructions``: the model judges the instruction alone as 【好】/【差】. The verdict is
   stored as a signal (1.0/0.0) on every record, kept or rejected; by default a 【差】 goes to
   ``rejected`` as ``instruction_not_good`` in the same stage (a binary verdict has no threshold
   to tune), or, with ``reject: false``, everything passes as with JudgeWithLLM and a FilterByScore
   rule on the signal decides. An answer that is not a clear verdict is an error, never a default.
4. ``PolishAnswers``: the model rewrites the raw text as an answer to the instruction; the answer
   becomes ``output`` (``answer_from: llm``) and the raw text stays in the lineage.
5. ``FilterPolishedAnswers``: banned phrases, too short, opening with the instruction or with a
   repeated unit, referring to a missing context: ``rejected`` with every failing reason.

Every record that enters a stage leaves it once: main output, ``rejected`` or ``errors``.
"""

import abc
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia.lineage import cluster_of, llm_note
from beam_cqia.llm import (
    ChatRequest,
    Completion,
    Failure,
    VerdictError,
    get_parser,
)
from beam_cqia.records import TASK_MAJORS, CqiaRecord, TaskType, format_metadata
from beam_cqia.text import kun
from beam_cqia.transforms._llm_stage import Llm, check_int, llm_settings
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

BACKTRANSLATE_PROMPT = "kun_backtranslate.v1"
SCORE_PROMPT = "kun_score_instruction.v1"
POLISH_PROMPT = "kun_polish.v1"
# Parsers of free-text answers, named in the prompts' front matter (``parser: ...``).
TEXT_PARSERS: Mapping[str, Callable[[str], str]] = {
    "instruction_text": kun.clean_instruction,
    "answer_text": kun.clean_answer,
}
OVERLONG = ("reject", "truncate")


class KunOutputError(ValueError):
    """A model's answer that cannot be used: nothing left once cleaned."""


def _check_str_list(name: str, value: Any, allow_empty: bool = False) -> list[str]:
    if (
        not isinstance(value, list)
        or (not value and not allow_empty)
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise ValueError(f"{name} must be a list of non-empty names, got {value!r}")
    return list(value)


def _field_names(records: beam.PCollection) -> list[str] | None:
    """The field names of the element type when it is known (NamedTuples and YAML rows)."""
    known = getattr(records.element_type, "_fields", None)
    if not known:
        return None
    return [f[0] if isinstance(f, tuple) else f for f in known]


def _require_fields(records: beam.PCollection, fields: list[str], stage: str) -> None:
    names = _field_names(records)
    if names is None:
        return
    missing = sorted(set(fields) - set(names))
    if missing:
        kind = getattr(records.element_type, "__name__", "the input rows")
        raise ValueError(f"{stage}: fields {missing} are not fields of {kind} ({names})")


def _text_of(record: Any, field: str) -> str:
    value = getattr(record, field, None)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"field {field!r} is a {type(value).__name__}, not text")
    return value


# --- the LLM machinery shared by the three model stages -------------------------------------------


class _Outcome:
    """Builders of a record's outcome in a model stage: ``(tag, value)`` pairs."""

    @staticmethod
    def good(record: Any) -> tuple[str, Any]:
        return GOOD, record

    @staticmethod
    def reject(record: Any, reason: str, detail: str) -> tuple[str, Any]:
        return REJECTED, (record, reason, detail)

    @staticmethod
    def error(record: Any, kind: Any, message: str, stack: str = "") -> tuple[str, Any]:
        return ERRORS, (record, (kind, message, [stack] if stack else []))


class _LlmFn(beam.DoFn, abc.ABC):
    """Sends a batch of records to the model with one ``complete_many`` call.

    Subclasses say what to ask (``_prepare``: prompt values, or an outcome without asking) and
    what the answer means (``_finish``). Requests run on the shared client's threads; metrics are
    counted here, on the DoFn's thread (Beam's metrics container is per thread).
    """

    def __init__(
        self,
        stage: str,
        kind: str,
        settings: Mapping[str, Any],
        handle: shared.Shared,
        tag: str,
    ):
        self._stage, self._settings, self._handle, self._tag = stage, dict(settings), handle, tag
        self._ns = ns = namespace(kind)
        self._seen = Metrics.counter(ns, "seen")
        self._passed = Metrics.counter(ns, "passed")
        self._requests = Metrics.counter(ns, "requests")
        self._cache_hits = Metrics.counter(ns, "cache_hits")
        self._prompt_tokens = Metrics.counter(ns, "prompt_tokens")
        self._completion_tokens = Metrics.counter(ns, "completion_tokens")
        self._cost = Metrics.counter(ns, "cost_micros")

    def setup(self) -> None:
        self._llm: Llm = self._handle.acquire(lambda: Llm(self._settings), tag=self._tag)

    @property
    def _where(self) -> str:
        return f"{self._llm.client.config.model} ({self._llm.prompt.name})"

    @abc.abstractmethod
    def _prepare(self, record: Any) -> dict[str, str] | tuple[str, Any]:
        """The prompt values for ``record``, or its outcome when there is nothing to ask."""

    @abc.abstractmethod
    def _finish(self, record: Any, values: Mapping[str, str], answer: Completion) -> Any:
        """The outcome of ``record`` given the model's answer to ``values``."""

    def process(self, batch: list[Any]) -> Any:
        batch = list(batch)
        self._seen.inc(len(batch))
        try:
            outcomes = self._run_batch(batch)
        except Exception as exc:  # noqa: BLE001 - every record of the batch leaves, as an error
            outcomes = [
                _Outcome.error(r, type(exc), repr(exc), format_exception(exc)) for r in batch
            ]
        for tag, value in outcomes:
            if tag == GOOD:
                self._passed.inc()
                yield value
            elif tag == REJECTED:
                record, reason, detail = value
                Metrics.counter(self._ns, f"filtered:{reason}").inc()
                yield rejected(record, self._stage, reason, detail)
            else:
                yield beam.pvalue.TaggedOutput(ERRORS, value)

    def _run_batch(self, batch: list[Any]) -> list[tuple[str, Any]]:
        prompt = self._llm.prompt
        outcomes: list[tuple[str, Any] | None] = [None] * len(batch)
        requests, asked = [], []
        for i, record in enumerate(batch):
            try:
                prepared = self._prepare(record)
                if isinstance(prepared, tuple):
                    outcomes[i] = prepared
                    continue
                messages = prompt.render(prepared)
            except ValueError as exc:  # TemplateError is a ValueError
                outcomes[i] = _Outcome.error(record, type(exc), str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - this record leaves as an error, not the batch
                outcomes[i] = _Outcome.error(record, type(exc), repr(exc), format_exception(exc))
                continue
            requests.append(ChatRequest(messages))
            asked.append((i, prepared))
        results = self._llm.client.complete_many(requests) if requests else []
        for (i, values), result in zip(asked, results, strict=True):
            self._account(result)
            record = batch[i]
            if isinstance(result, Failure):
                outcomes[i] = _Outcome.error(
                    record, result.kind, f"{self._where}: {result.message}"
                )
                continue
            try:
                outcome = self._finish(record, values, result)
                if outcome[0] == REJECTED:  # name the answer that decided it
                    asked_record, reason, detail = outcome[1]
                    outcome = (
                        REJECTED,
                        (asked_record, reason, f"{detail} [{llm_note(result.key)}]"),
                    )
                outcomes[i] = outcome
            except (VerdictError, KunOutputError) as exc:
                outcomes[i] = _Outcome.error(
                    record, type(exc), f"unusable answer from {self._where}: {exc}"
                )
            except Exception as exc:  # noqa: BLE001 - this record leaves as an error, not the batch
                outcomes[i] = _Outcome.error(record, type(exc), repr(exc), format_exception(exc))
        return [o for o in outcomes if o is not None]

    def _account(self, result: Completion | Failure) -> None:
        if result.attempts:
            self._requests.inc(result.attempts)
        if isinstance(result, Completion):
            if result.cached:
                self._cache_hits.inc()
            elif result.usage is not None:
                self._prompt_tokens.inc(result.usage.prompt_tokens)
                self._completion_tokens.inc(result.usage.completion_tokens)
            if result.cost:
                self._cost.inc(round(result.cost * 1_000_000))


def _expand_llm(
    transform: beam.PTransform,
    inputs: Any,
    fn: _LlmFn,
    batch_size: int,
    output_type: Any,
    required: list[str],
    error_handling: Mapping[str, Any] | None,
) -> Any:
    records = merge_inputs(inputs, transform.label)
    _require_fields(records, required, type(transform).__name__)
    results = (
        records
        | "Batch" >> beam.BatchElements(min_batch_size=batch_size, max_batch_size=batch_size)
        | "Ask" >> beam.ParDo(fn).with_outputs(REJECTED, ERRORS, main=GOOD)
    )
    good = results[GOOD]
    good.element_type = output_type or records.element_type
    return finish_stage(
        transform, records, good, results[REJECTED], results[ERRORS], error_handling
    )


def _lineage(record: Any, *notes: str) -> list[str]:
    return [*(getattr(record, "lineage", None) or []), *notes]


# --- 1. back-translation -------------------------------------------------------------------------


class _BacktranslateFn(_LlmFn):
    def _prepare(self, doc: Any) -> dict[str, str] | tuple[str, Any]:
        options = self._settings
        text = ""
        for field in options["text_fields"]:
            text = _text_of(doc, field).strip()
            if text:
                break
        if not text:
            return _Outcome.reject(
                doc, "empty_text", f"no text in {', '.join(options['text_fields'])}"
            )
        if len(text) > options["max_chars"]:
            return _Outcome.reject(
                doc, "text_too_long", f"{len(text)} characters > {options['max_chars']}"
            )
        if len(text) < options["min_chars"]:
            return _Outcome.reject(
                doc, "text_too_short", f"{len(text)} characters < {options['min_chars']}"
            )
        return {"text": text}

    def _finish(self, doc: Any, values: Mapping[str, str], answer: Completion) -> Any:
        options = self._settings
        if answer.finish_reason == "length":
            return _Outcome.reject(
                doc, "instruction_too_long", "the instruction was cut at max_tokens"
            )
        instruction = kun.clean_instruction(answer.content)
        if not instruction:
            raise KunOutputError(f"no instruction left in {answer.content!r}")
        if len(instruction) > options["max_instruction_chars"]:
            return _Outcome.reject(
                doc,
                "instruction_too_long",
                f"{len(instruction)} characters > {options['max_instruction_chars']}",
            )
        meta = getattr(doc, "meta", None) or {}
        prompt = self._llm.prompt.name
        return _Outcome.good(
            CqiaRecord(
                instruction=instruction,
                input="",
                output=values["text"],
                task_type=TaskType(list(options["task_major"]), list(options["task_minor"])),
                domain=list(options["domain"]),
                metadata=format_metadata(meta, options["metadata_keys"]),
                # The output is still the human-written text; PolishAnswers makes it "llm".
                answer_from=options["answer_from"],
                human_verified=False,
                copyright="",
                id=doc.id,
                source=getattr(doc, "source", "") or "",
                subset=getattr(doc, "subset", "") or "",
                template_id=prompt,
                signals=dict(getattr(doc, "signals", None) or {}),
                cluster_id=getattr(doc, "cluster_id", "") or cluster_of(doc.lineage),
                lineage=_lineage(doc, f"{self._stage}:{llm_note(answer.key, prompt)}"),
            )
        )


class BacktranslateInstructions(beam.PTransform):
    """COIG-Kun's label model: writes the instruction a document's text answers.

    Each RawDoc's text (the first non-empty of ``text_fields``) is sent to an OpenAI-compatible
    endpoint with the prompt (default ``kun_backtranslate.v1``: "which self-contained instruction
    would this text answer?"); the model's answer, cleaned (labels such as "指令：", enclosing
    quotes and anything after a long whitespace run removed), becomes the instruction of a
    **CqiaRecord** whose output is the raw text. CqiaRecords compose with every later stage
    (FilterContextDependent, ScoreInstructions, PolishAnswers, FilterPolishedAnswers,
    ScoreQuality, JudgeWithLLM, FilterByScore, TagSchema, WriteCqiaParquet) without a meta key
    to agree on. The record keeps the document's id, source, subset and signals; ``input`` is
    empty; ``template_id`` is the prompt id; ``answer_from`` is ``human`` (the output is still the
    document's text; PolishAnswers makes it ``llm``); task type and domain come from the config;
    ``metadata`` formats the ``metadata_keys`` of the document's meta.

    The client is JudgeWithLLM's: batches, at most ``concurrency`` requests in flight per
    worker, retries of 429/5xx/timeouts with backoff, jitter and ``Retry-After``, a deadline per
    request, temperature 0, and with ``cache`` a persistent cache keyed by (model, messages,
    parameters) so a rerun pays for nothing it already asked (``*.sqlite`` on one machine, a
    directory such as ``gs://bucket/llm-cache/`` shared by distributed workers).

    Outputs: CqiaRecords (main); rejected: ``empty_text``, ``text_too_long`` (COIG-Kun only
    labels texts that fit its 512-token window: longer ones are dropped, not cut, since a cut
    text is a cut answer), ``text_too_short``, ``instruction_too_long`` (longer than
    ``max_instruction_chars``, or cut at ``max_tokens``: the model ran on into an answer);
    errors: failed requests (after retries, with the server's message), answers with no
    instruction left once cleaned. Counters in ``beam_cqia.BacktranslateInstructions``:
    ``seen``, ``passed``, ``filtered:<reason>``, ``errors``, ``requests``, ``cache_hits``,
    ``prompt_tokens``, ``completion_tokens``, ``cost_micros``.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: the model name sent with each request (a label model such as Kun-LabelModel,
            or any instruction-following chat model).
        prompt: the prompt template id (parser ``instruction_text``).
        text_fields: record fields holding the text, the first non-empty one is used.
        min_chars: texts shorter than this are rejected (``text_too_short``).
        max_chars: texts longer than this are rejected (``text_too_long``).
        max_instruction_chars: longer instructions are rejected (``instruction_too_long``).
        task_major: ``task_type.major`` of the records (from the closed COIG-CQIA list).
        task_minor: ``task_type.minor`` of the records.
        domain: ``domain`` of the records.
        answer_from: ``answer_from`` of the records until PolishAnswers rewrites the output.
        metadata_keys: meta keys formatted into ``metadata`` as ``k:v, k:v``.
        api_key_env: name of the environment variable holding the API key (or whose
            ``_FILE`` variant names a file holding it); null for none.
        cache: where answers are kept between runs; null caches nothing.
        concurrency: requests in flight at once per worker process.
        batch_size: records per batch (per ``complete_many`` call).
        max_retries: retries after the first attempt of a request.
        timeout_seconds: time limit of one attempt.
        deadline_seconds: time limit of one request, retries and waits included.
        backoff_seconds: first retry delay, doubled per retry, with jitter.
        max_retry_after_seconds: longest ``Retry-After`` honoured.
        temperature: sampling temperature.
        seed: sent with each request when given.
        max_tokens: longest answer asked for.
        price_prompt_per_1k: price of 1,000 prompt tokens, for ``cost_micros``.
        price_completion_per_1k: price of 1,000 completion tokens.
        template_dir: a directory of extra prompts; a file there replaces the packaged one.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        prompt: str = BACKTRANSLATE_PROMPT,
        text_fields: list[str] | None = None,
        min_chars: int = 20,
        max_chars: int = 2000,
        max_instruction_chars: int = 300,
        task_major: list[str] | None = None,
        task_minor: list[str] | None = None,
        domain: list[str] | None = None,
        answer_from: str = "human",
        metadata_keys: list[str] | None = None,
        api_key_env: str | None = None,
        cache: str | None = None,
        concurrency: int = 8,
        batch_size: int = 32,
        max_retries: int = 4,
        timeout_seconds: float = 60.0,
        deadline_seconds: float = 300.0,
        backoff_seconds: float = 1.0,
        max_retry_after_seconds: float = 60.0,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int | None = 256,
        price_prompt_per_1k: float | None = None,
        price_completion_per_1k: float | None = None,
        template_dir: str | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self._settings, _ = llm_settings(
            type(self).__name__,
            base_url,
            model,
            prompt,
            ("instruction_text",),
            api_key_env,
            cache,
            concurrency,
            batch_size,
            max_retries,
            timeout_seconds,
            deadline_seconds,
            backoff_seconds,
            max_retry_after_seconds,
            temperature,
            seed,
            max_tokens,
            price_prompt_per_1k,
            price_completion_per_1k,
            template_dir,
            error_handling,
        )
        text_fields = _check_str_list(
            "text_fields", ["answer", "body"] if text_fields is None else text_fields
        )
        check_int("min_chars", min_chars, 0)
        check_int("max_chars", max_chars, 1)
        check_int("max_instruction_chars", max_instruction_chars, 1)
        if min_chars > max_chars:
            raise ValueError(f"min_chars {min_chars} > max_chars {max_chars}")
        task_major = _check_str_list("task_major", ["问答"] if task_major is None else task_major)
        bad = [m for m in task_major if m not in TASK_MAJORS]
        if bad:
            raise ValueError(f"task_major {bad} not in the closed list {list(TASK_MAJORS)}")
        task_minor = _check_str_list(
            "task_minor", ["指令回译"] if task_minor is None else task_minor, allow_empty=True
        )
        domain = _check_str_list("domain", ["通用"] if domain is None else domain)
        if answer_from not in ("human", "llm", "expert", ""):
            raise ValueError(f"answer_from must be human, llm, expert or '', got {answer_from!r}")
        metadata_keys = _check_str_list("metadata_keys", metadata_keys or [], allow_empty=True)
        self._settings.update(
            text_fields=text_fields,
            min_chars=min_chars,
            max_chars=max_chars,
            max_instruction_chars=max_instruction_chars,
            task_major=task_major,
            task_minor=task_minor,
            domain=domain,
            answer_from=answer_from,
            metadata_keys=metadata_keys,
        )
        self._error_handling = error_handling
        self._shared_tag = f"{type(self).__name__}-{uuid.uuid4().hex}"

    def expand(self, inputs: Any) -> Any:
        fn = _BacktranslateFn(
            self.label, type(self).__name__, self._settings, shared.Shared(), self._shared_tag
        )
        return _expand_llm(
            self,
            inputs,
            fn,
            self._settings["batch_size"],
            CqiaRecord,
            ["id", *self._settings["text_fields"]],
            self._error_handling,
        )


# --- 2. context-dependent instructions ------------------------------------------------------------


class _ContextFn(beam.DoFn):
    def __init__(self, stage: str, kind: str, field: str, extra: tuple[str, ...]):
        self._stage, self._field, self._extra = stage, field, extra
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._passed = Metrics.counter(self._ns, "passed")

    def process(self, record: Any) -> Any:
        self._seen.inc()
        text = _text_of(record, self._field)
        found = kun.context_references(text) + [p for p in self._extra if p in text]
        if found:
            Metrics.counter(self._ns, "filtered:context_dependent").inc()
            yield rejected(
                record,
                self._stage,
                "context_dependent",
                f"{self._field} refers to " + ", ".join(found),
            )
            return
        self._passed.inc()
        yield record


class FilterContextDependent(beam.PTransform):
    """Rejects instructions that only make sense next to a text the reader does not have.

    A back-translated instruction that says 根据上文, 这篇文章, 以下材料, 本文, 文中, 如图, 你提供的
    or "the text above" points at the document it was written from, which the final record does
    not carry. The rules (``beam_cqia.text.kun.context_references``) name a reference to a text,
    not bare keywords as COIG-Kun's script did: 根据勾股定理, 日本文化 or 如何从文本中提取数字 pass.
    Outputs: records (main), rejected ``context_dependent`` (the detail names the phrases),
    errors (the field is not text). Counters in ``beam_cqia.FilterContextDependent``: ``seen``,
    ``passed``, ``filtered:context_dependent``, ``errors``.

    Args:
        field: the record field holding the instruction.
        extra_phrases: more phrases that mark an instruction as context-dependent (plain
            substrings), e.g. a site's own wording.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        field: str = "instruction",
        extra_phrases: list[str] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if not isinstance(field, str) or not field:
            raise ValueError(f"field must name a record field, got {field!r}")
        self._field = field
        self._extra = kun.check_phrases(extra_phrases, "extra_phrases")
        check_error_handling(error_handling)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        _require_fields(records, [self._field], type(self).__name__)
        results = records | "Filter" >> beam.ParDo(
            _ContextFn(self.label, type(self).__name__, self._field, self._extra)
        ).with_outputs(REJECTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(
            self, records, good, results[REJECTED], results[ERRORS], self._error_handling
        )


# --- 3. instruction scoring -----------------------------------------------------------------------


class _ScoreFn(_LlmFn):
    def setup(self) -> None:
        super().setup()
        self._parse = get_parser(self._llm.prompt.parser)

    def _prepare(self, record: Any) -> dict[str, str] | tuple[str, Any]:
        return {"instruction": _text_of(record, self._settings["field"])}

    def _finish(self, record: Any, values: Mapping[str, str], answer: Completion) -> Any:
        verdict = self._parse(answer.content)
        signal = self._settings["signal"]
        changes: dict[str, Any] = {
            "signals": {**(getattr(record, "signals", None) or {}), signal: verdict.score}
        }
        if hasattr(record, "lineage"):
            changes["lineage"] = _lineage(record, f"{self._stage}:{llm_note(answer.key)}")
        scored = replace_fields(record, **changes)
        if self._settings["reject"] and verdict.score < 1.0:
            reason = verdict.reasons or "no reason given"
            return _Outcome.reject(scored, "instruction_not_good", f"{signal}=0: {reason}")
        return _Outcome.good(scored)


class ScoreInstructions(beam.PTransform):
    """COIG-Kun's instruction grading: the model judges each instruction alone as good or bad.

    The prompt (default ``kun_score_instruction.v1``) shows the model the instruction only,
    never its answer, and asks for 【好】 (clear, complete, self-contained, feasible, fluent;
    strict) or 【差】 (lenient), then a reason. Parsing is strict (``good_bad``): an answer that
    does not start with one mark, or gives both, goes to ``errors`` with the raw text, never to
    a default. The verdict is stored on every record as ``signals[signal]`` (1.0 good, 0.0 bad).
    With ``reject`` (the default) a bad instruction goes to ``rejected`` as
    ``instruction_not_good`` here (the detail holds the model's reason; the rejected record
    keeps the signal, so a written output can be re-thresholded); with ``reject: false`` every
    judged record passes, as with JudgeWithLLM, and ``FilterByScore`` with
    ``{signal: kun.instruction_good, min: 1, name: instruction_not_good}`` drops the bad ones.
    Same client, cache and retries as JudgeWithLLM.

    Outputs: records (main, same type as the input), rejected ``instruction_not_good``, errors
    (unparseable verdicts, failed requests, empty instructions). Counters in
    ``beam_cqia.ScoreInstructions``: ``seen``, ``passed``, ``filtered:instruction_not_good``,
    ``errors``, ``requests``, ``cache_hits``, ``prompt_tokens``, ``completion_tokens``,
    ``cost_micros``.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: the model name sent with each request.
        prompt: the prompt template id (a verdict parser, e.g. ``good_bad``).
        field: the record field holding the instruction.
        signal: name of the signal the verdict is stored under.
        reject: send bad instructions to ``rejected`` here; false leaves it to FilterByScore.
        api_key_env: name of the environment variable holding the API key (or whose
            ``_FILE`` variant names a file holding it); null for none.
        cache: where answers are kept between runs; null caches nothing.
        concurrency: requests in flight at once per worker process.
        batch_size: records per batch (per ``complete_many`` call).
        max_retries: retries after the first attempt of a request.
        timeout_seconds: time limit of one attempt.
        deadline_seconds: time limit of one request, retries and waits included.
        backoff_seconds: first retry delay, doubled per retry, with jitter.
        max_retry_after_seconds: longest ``Retry-After`` honoured.
        temperature: sampling temperature.
        seed: sent with each request when given.
        max_tokens: longest answer asked for.
        price_prompt_per_1k: price of 1,000 prompt tokens, for ``cost_micros``.
        price_completion_per_1k: price of 1,000 completion tokens.
        template_dir: a directory of extra prompts; a file there replaces the packaged one.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        prompt: str = SCORE_PROMPT,
        field: str = "instruction",
        signal: str = "kun.instruction_good",
        reject: bool = True,
        api_key_env: str | None = None,
        cache: str | None = None,
        concurrency: int = 8,
        batch_size: int = 32,
        max_retries: int = 4,
        timeout_seconds: float = 60.0,
        deadline_seconds: float = 300.0,
        backoff_seconds: float = 1.0,
        max_retry_after_seconds: float = 60.0,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int | None = 128,
        price_prompt_per_1k: float | None = None,
        price_completion_per_1k: float | None = None,
        template_dir: str | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        self._settings, chat_prompt = llm_settings(
            type(self).__name__,
            base_url,
            model,
            prompt,
            None,
            api_key_env,
            cache,
            concurrency,
            batch_size,
            max_retries,
            timeout_seconds,
            deadline_seconds,
            backoff_seconds,
            max_retry_after_seconds,
            temperature,
            seed,
            max_tokens,
            price_prompt_per_1k,
            price_completion_per_1k,
            template_dir,
            error_handling,
        )
        if chat_prompt.variables != ["instruction"]:
            raise ValueError(
                f"prompt {prompt}: must use exactly the variable instruction, "
                f"not {chat_prompt.variables}"
            )
        if not isinstance(field, str) or not field:
            raise ValueError(f"field must name a record field, got {field!r}")
        if not isinstance(signal, str) or not signal.strip():
            raise ValueError(f"signal must name a signal, got {signal!r}")
        if not isinstance(reject, bool):
            raise ValueError(f"reject must be true or false, got {reject!r}")
        self._settings.update(field=field, signal=signal, reject=reject)
        self._error_handling = error_handling
        self._shared_tag = f"{type(self).__name__}-{uuid.uuid4().hex}"

    def expand(self, inputs: Any) -> Any:
        fn = _ScoreFn(
            self.label, type(self).__name__, self._settings, shared.Shared(), self._shared_tag
        )
        return _expand_llm(
            self,
            inputs,
            fn,
            self._settings["batch_size"],
            None,
            [self._settings["field"], "signals"],
            self._error_handling,
        )


# --- 4. answer polishing --------------------------------------------------------------------------


class _PolishFn(_LlmFn):
    def _prepare(self, record: Any) -> dict[str, str] | tuple[str, Any]:
        options = self._settings
        text = _text_of(record, options["text_field"]).strip()
        if len(text) > options["max_chars"]:
            if options["overlong"] == "reject":
                return _Outcome.reject(
                    record, "text_too_long", f"{len(text)} characters > {options['max_chars']}"
                )
            text = kun.truncate_text(text, options["max_chars"])
        return {"instruction": _text_of(record, options["instruction_field"]), "text": text}

    def _finish(self, record: Any, values: Mapping[str, str], answer: Completion) -> Any:
        options = self._settings
        if answer.finish_reason == "length":
            return _Outcome.reject(
                record,
                "answer_truncated",
                f"the answer was cut at max_tokens={self._llm.client.config.max_tokens}",
            )
        polished = kun.clean_answer(answer.content)
        if not polished:
            raise KunOutputError(f"no answer left in {answer.content!r}")
        original = _text_of(record, options["text_field"])
        signals = dict(getattr(record, "signals", None) or {})
        signals["kun.original_chars"] = float(len(original))
        signals["kun.polished_chars"] = float(len(polished))
        if len(values["text"]) < len(original.strip()):
            signals["kun.text_truncated"] = 1.0
        notes = [f"{self._stage}:{llm_note(answer.key, self._llm.prompt.name)}"]
        if options["keep_original"]:
            notes.append(f"{self._stage}:original={original}")
        changes: dict[str, Any] = {options["text_field"]: polished, "signals": signals}
        if hasattr(record, "answer_from"):
            changes["answer_from"] = "llm"
        if hasattr(record, "lineage"):
            changes["lineage"] = _lineage(record, *notes)
        return _Outcome.good(replace_fields(record, **changes))


class PolishAnswers(beam.PTransform):
    """COIG-Kun's answer polishing: rewrites each record's raw text as an answer to its
    instruction.

    The prompt (default ``kun_polish.v1``) gives the model the instruction and the raw text
    (the record's ``output``, as BacktranslateInstructions leaves it) and asks for a direct,
    fluent answer that keeps the text's facts, adds none, does not mention the text and does
    not restate the instruction. The answer, cleaned (one enclosing code fence and an "回答："
    label removed), replaces the output, and ``answer_from`` becomes ``llm``. The raw text is
    kept in the lineage (``<stage>:original=<text>``; a working field, never published) unless
    ``keep_original`` is false; signals ``kun.original_chars`` and ``kun.polished_chars`` record
    both lengths. Token budget: ``max_tokens`` bounds the answer, and an answer cut there
    (``finish_reason: length``) is rejected as ``answer_truncated``, never kept half-written.
    Input budget: a text longer than ``max_chars`` is rejected as ``text_too_long`` by default
    (``overlong: reject``: the instruction was written for the whole text, so an answer from
    part of it may be incomplete); ``overlong: truncate`` cuts it at a sentence end within the
    budget instead and sets ``kun.text_truncated``.

    Outputs: records (main, same type as the input), rejected ``text_too_long``,
    ``answer_truncated``, errors (failed requests, empty answers, empty instruction or text).
    Counters in ``beam_cqia.PolishAnswers``: ``seen``, ``passed``, ``filtered:<reason>``,
    ``errors``, ``requests``, ``cache_hits``, ``prompt_tokens``, ``completion_tokens``,
    ``cost_micros``.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``.
        model: the model name sent with each request.
        prompt: the prompt template id (variables ``instruction`` and ``text``, parser
            ``answer_text``).
        instruction_field: the record field holding the instruction.
        text_field: the record field holding the raw text; the answer replaces it.
        max_chars: character budget of the raw text sent to the model.
        overlong: ``reject`` or ``truncate`` texts longer than ``max_chars``.
        keep_original: keep the raw text in the record's lineage.
        api_key_env: name of the environment variable holding the API key (or whose
            ``_FILE`` variant names a file holding it); null for none.
        cache: where answers are kept between runs; null caches nothing.
        concurrency: requests in flight at once per worker process.
        batch_size: records per batch (per ``complete_many`` call).
        max_retries: retries after the first attempt of a request.
        timeout_seconds: time limit of one attempt.
        deadline_seconds: time limit of one request, retries and waits included.
        backoff_seconds: first retry delay, doubled per retry, with jitter.
        max_retry_after_seconds: longest ``Retry-After`` honoured.
        temperature: sampling temperature.
        seed: sent with each request when given.
        max_tokens: token budget of the answer (COIG-Kun generated up to 1,024).
        price_prompt_per_1k: price of 1,000 prompt tokens, for ``cost_micros``.
        price_completion_per_1k: price of 1,000 completion tokens.
        template_dir: a directory of extra prompts; a file there replaces the packaged one.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        prompt: str = POLISH_PROMPT,
        instruction_field: str = "instruction",
        text_field: str = "output",
        max_chars: int = 2000,
        overlong: str = "reject",
        keep_original: bool = True,
        api_key_env: str | None = None,
        cache: str | None = None,
        concurrency: int = 8,
        batch_size: int = 32,
        max_retries: int = 4,
        timeout_seconds: float = 60.0,
        deadline_seconds: float = 300.0,
        backoff_seconds: float = 1.0,
        max_retry_after_seconds: float = 60.0,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int = 1024,
        price_prompt_per_1k: float | None = None,
        price_completion_per_1k: float | None = None,
        template_dir: str | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        check_int("max_tokens", max_tokens, 1)
        self._settings, _ = llm_settings(
            type(self).__name__,
            base_url,
            model,
            prompt,
            ("answer_text",),
            api_key_env,
            cache,
            concurrency,
            batch_size,
            max_retries,
            timeout_seconds,
            deadline_seconds,
            backoff_seconds,
            max_retry_after_seconds,
            temperature,
            seed,
            max_tokens,
            price_prompt_per_1k,
            price_completion_per_1k,
            template_dir,
            error_handling,
        )
        for name, value in (("instruction_field", instruction_field), ("text_field", text_field)):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must name a record field, got {value!r}")
        check_int("max_chars", max_chars, 1)
        if overlong not in OVERLONG:
            raise ValueError(f"overlong must be one of {list(OVERLONG)}, got {overlong!r}")
        if not isinstance(keep_original, bool):
            raise ValueError(f"keep_original must be true or false, got {keep_original!r}")
        self._settings.update(
            instruction_field=instruction_field,
            text_field=text_field,
            max_chars=max_chars,
            overlong=overlong,
            keep_original=keep_original,
        )
        self._error_handling = error_handling
        self._shared_tag = f"{type(self).__name__}-{uuid.uuid4().hex}"

    def expand(self, inputs: Any) -> Any:
        fn = _PolishFn(
            self.label, type(self).__name__, self._settings, shared.Shared(), self._shared_tag
        )
        options = self._settings
        return _expand_llm(
            self,
            inputs,
            fn,
            options["batch_size"],
            None,
            [options["instruction_field"], options["text_field"], "signals"],
            self._error_handling,
        )


# --- 5. the output filter -------------------------------------------------------------------------


class _OutputFilterFn(beam.DoFn):
    def __init__(
        self, stage: str, kind: str, rules: kun.OutputRules, instruction: str, output: str
    ):
        self._stage, self._rules = stage, rules
        self._instruction, self._output = instruction, output
        self._ns = namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._passed = Metrics.counter(self._ns, "passed")

    def process(self, record: Any) -> Any:
        self._seen.inc()
        failures = kun.check_output(
            _text_of(record, self._instruction), _text_of(record, self._output), self._rules
        )
        if not failures:
            self._passed.inc()
            yield record
            return
        reasons = [reason for reason, _ in failures]
        # One filtered: counter per record (the first reason), so the counts add up to the
        # drops; every failed rule is also counted under failed:<reason>.
        Metrics.counter(self._ns, f"filtered:{reasons[0]}").inc()
        for reason in reasons:
            Metrics.counter(self._ns, f"failed:{reason}").inc()
        detail = "; ".join(f"{reason}: {text}" for reason, text in failures)
        yield rejected(record, self._stage, reasons[0], detail, reasons=reasons)


class FilterPolishedAnswers(beam.PTransform):
    """COIG-Kun's output filter: rejects polished answers that show the model, not an answer.

    Rules, in order (``beam_cqia.text.kun.check_output``):

    - ``banned_phrase``: the answer contains a banned phrase (case-insensitive, after NFKC). By
      default: the assistant talking about itself or refusing (作为一个AI, 抱歉, 我无法,
      知识库), presenting its edit (以下是润色, 修改后的回答) or citing its source
      (根据您提供的, 根据原文).
    - ``answer_too_short``: fewer than ``min_chars`` visible characters (COIG-Kun: 20).
    - ``repeats_instruction``: the answer opens by restating the instruction (letters and digits
      compared with difflib at ``repeat_similarity``).
    - ``repeated_opening``: the answer opens with one unit repeated more than
      ``max_opening_repeats`` times (COIG-Kun's catastrophic repetition).
    - ``answer_refers_to_context``: the answer names a text the reader lacks (原文, 上文,
      文中...; ``check_context``).

    A rejected record names every failed rule in ``reasons``; its ``reason`` is the first.
    Outputs: records (main), rejected, errors. Counters in ``beam_cqia.FilterPolishedAnswers``:
    ``seen``, ``passed``, ``filtered:<first reason>``, ``failed:<reason>`` (every failed rule),
    ``errors``.

    Args:
        banned_phrases: the banned phrases; null for the defaults
            (``beam_cqia.text.kun.DEFAULT_BANNED_PHRASES``).
        extra_banned_phrases: phrases banned in addition to ``banned_phrases``.
        min_chars: fewest visible characters an answer may have.
        repeat_similarity: similarity (0-1) of the answer's opening to the instruction from
            which the answer counts as repeating it; above 1 turns the rule off.
        max_opening_repeats: most repetitions of the opening unit allowed.
        check_context: reject answers that refer to a missing text.
        instruction_field: the record field holding the instruction.
        output_field: the record field holding the answer.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        banned_phrases: list[str] | None = None,
        extra_banned_phrases: list[str] | None = None,
        min_chars: int = kun.DEFAULT_MIN_CHARS,
        repeat_similarity: float = kun.DEFAULT_REPEAT_SIMILARITY,
        max_opening_repeats: int = kun.DEFAULT_MAX_OPENING_REPEATS,
        check_context: bool = True,
        instruction_field: str = "instruction",
        output_field: str = "output",
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        banned = (
            kun.DEFAULT_BANNED_PHRASES
            if banned_phrases is None
            else kun.check_phrases(banned_phrases, "banned_phrases")
        )
        banned = (*banned, *kun.check_phrases(extra_banned_phrases, "extra_banned_phrases"))
        check_int("min_chars", min_chars, 0)
        check_int("max_opening_repeats", max_opening_repeats, 1)
        if (
            isinstance(repeat_similarity, bool)
            or not isinstance(repeat_similarity, (int, float))
            or repeat_similarity <= 0
        ):
            raise ValueError(f"repeat_similarity must be a number > 0, got {repeat_similarity!r}")
        if not isinstance(check_context, bool):
            raise ValueError(f"check_context must be true or false, got {check_context!r}")
        for name, value in (
            ("instruction_field", instruction_field),
            ("output_field", output_field),
        ):
            if not isinstance(value, str) or not value:
                raise ValueError(f"{name} must name a record field, got {value!r}")
        self._rules = kun.OutputRules(
            banned=banned,
            min_chars=min_chars,
            repeat_similarity=float(repeat_similarity),
            max_opening_repeats=max_opening_repeats,
            check_context=check_context,
        )
        self._fields = (instruction_field, output_field)
        check_error_handling(error_handling)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        _require_fields(records, list(self._fields), type(self).__name__)
        results = records | "Filter" >> beam.ParDo(
            _OutputFilterFn(self.label, type(self).__name__, self._rules, *self._fields)
        ).with_outputs(REJECTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(
            self, records, good, results[REJECTED], results[ERRORS], self._error_handling
        )
