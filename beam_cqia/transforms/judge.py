"""llm-judge: JudgeWithLLM scores instruction/answer pairs with an LLM and stores the score.

The judge only scores (like ScoreQuality): the score becomes a signal on the record, and
FilterByScore applies the threshold (COIG-CQIA kept Zhihu answers GPT-4 scored 8 or more, e.g.
``{signal: llm.score, min: 8}``). The LLM client and its cache live in ``beam_cqia.llm``; this
module batches records, renders the prompt, calls the client once per batch and parses verdicts
strictly: a record whose verdict cannot be parsed, or whose request failed after retries, goes to
``errors`` with the model's raw answer or the server's message, never to a default score.
"""

import uuid
from collections.abc import Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.utils import shared

from beam_cqia.lineage import llm_note
from beam_cqia.llm import ChatRequest, Completion, Failure, VerdictError, get_parser
from beam_cqia.transforms._llm_stage import Llm, llm_settings
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    finish_stage,
    format_exception,
    merge_inputs,
    namespace,
    replace_fields,
)

DEFAULT_PROMPT = "judge_cqia.v1"
# Prompt variable -> record field, by record kind; None reads as "" (RawDoc has no input).
CQIA_FIELDS: Mapping[str, str | None] = {
    "instruction": "instruction",
    "input": "input",
    "output": "output",
}
RAWDOC_FIELDS: Mapping[str, str | None] = {
    "instruction": "question",
    "input": None,
    "output": "answer",
}
_MISSING = object()


def _check_input_type(records: beam.PCollection, fields: Mapping[str, str]) -> None:
    """Fails at graph-build time when the element type is known and lacks a mapped field or
    the ``signals`` map the score is stored in.

    Knows both NamedTuple record types and Beam YAML's row types (whose ``_fields`` are
    ``(name, type)`` pairs).
    """
    element_type = records.element_type
    known = getattr(element_type, "_fields", None)
    if not known:
        return
    names = [f[0] if isinstance(f, tuple) else f for f in known]
    kind = getattr(element_type, "__name__", "the input rows")
    missing = sorted(f for f in set(fields.values()) if f not in names)
    if missing:
        raise ValueError(f"fields {missing} are not fields of {kind} ({names})")
    if "signals" not in names:
        raise ValueError(
            f"{kind}: no signals field to store the score in ({names}); judge RawDoc or "
            "CqiaRecord records, or rows with a signals map"
        )


class _JudgeFn(beam.DoFn):
    """Judges a batch of records with one ``complete_many`` call.

    Requests run on the shared client's threads; metrics are counted here, on the DoFn's
    thread (Beam's metrics container is per thread).
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
        self._signal = settings["signal"]
        self._fields: Mapping[str, str] = dict(settings["fields"])
        ns = namespace(kind)
        self._seen = Metrics.counter(ns, "seen")
        self._passed = Metrics.counter(ns, "passed")
        self._requests = Metrics.counter(ns, "requests")
        self._cache_hits = Metrics.counter(ns, "cache_hits")
        self._prompt_tokens = Metrics.counter(ns, "prompt_tokens")
        self._completion_tokens = Metrics.counter(ns, "completion_tokens")
        self._cost = Metrics.counter(ns, "cost_micros")
        self._scores = Metrics.distribution(ns, f"signal:{self._signal}")

    def setup(self) -> None:
        self._judge: Llm = self._handle.acquire(lambda: Llm(self._settings), tag=self._tag)
        self._parse = get_parser(self._judge.prompt.parser)

    def process(self, batch: list[Any]) -> Any:
        batch = list(batch)
        self._seen.inc(len(batch))
        try:
            outputs = self._judge_batch(batch)
        except Exception as exc:  # noqa: BLE001 - every record of the batch leaves, as an error
            info = (type(exc), repr(exc), [format_exception(exc)])
            outputs = [(ERRORS, (record, info)) for record in batch]
        for tag, value in outputs:
            if tag == GOOD:
                self._passed.inc()
                yield value
            else:
                yield beam.pvalue.TaggedOutput(ERRORS, value)

    def _values(self, record: Any, variables: list[str]) -> dict[str, str]:
        defaults = CQIA_FIELDS if hasattr(record, "instruction") else RAWDOC_FIELDS
        values = {}
        for variable in variables:
            field = self._fields.get(variable, defaults.get(variable, variable))
            if field is None:
                values[variable] = ""
                continue
            value = getattr(record, field, _MISSING)
            if value is _MISSING:
                raise ValueError(f"the record has no field {field!r} (prompt variable {variable})")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise ValueError(
                    f"field {field!r} (prompt variable {variable}) is a "
                    f"{type(value).__name__}, not text"
                )
            values[variable] = value
        return values

    def _judge_batch(self, batch: list[Any]) -> list[tuple[str, Any]]:
        judge = self._judge
        prompt = judge.prompt
        outputs: list[tuple[str, Any] | None] = [None] * len(batch)
        requests, positions = [], []
        for i, record in enumerate(batch):
            try:
                messages = prompt.render(self._values(record, prompt.variables))
            except ValueError as exc:  # TemplateError is a ValueError
                outputs[i] = (ERRORS, (record, (type(exc), str(exc), [])))
                continue
            requests.append(ChatRequest(messages))
            positions.append(i)
        results = judge.client.complete_many(requests) if requests else []
        for i, result in zip(positions, results, strict=True):
            self._account(result)
            try:
                outputs[i] = self._outcome(batch[i], result)
            except Exception as exc:  # noqa: BLE001 - this record leaves as an error, not the batch
                outputs[i] = (ERRORS, (batch[i], (type(exc), repr(exc), [format_exception(exc)])))
        return [o for o in outputs if o is not None]

    def _outcome(self, record: Any, result: Completion | Failure) -> tuple[str, Any]:
        """The output for one record: scored, or an error with the server's or model's text."""
        judge = self._judge
        where = f"{judge.client.config.model} ({judge.prompt.name})"
        if isinstance(result, Failure):
            return ERRORS, (record, (result.kind, f"{where}: {result.message}", []))
        try:
            verdict = self._parse(result.content)
        except VerdictError as exc:
            return ERRORS, (record, (type(exc), f"unparseable verdict from {where}: {exc}", []))
        signals = {**(getattr(record, "signals", None) or {}), self._signal: verdict.score}
        changes: dict[str, Any] = {"signals": signals}
        if hasattr(record, "lineage"):
            changes["lineage"] = [*(record.lineage or []), f"{self._stage}:{llm_note(result.key)}"]
        scored = replace_fields(record, **changes)
        self._scores.update(round(verdict.score * 1000))
        return GOOD, scored

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


class JudgeWithLLM(beam.PTransform):
    """Scores instruction/answer pairs with an LLM judge and stores the score as a signal.

    Records are batched (``batch_size``) and each batch is sent at once to an OpenAI-compatible
    chat-completions endpoint (vLLM, SGLang, Ollama's ``/v1``, hosted APIs) by a client shared
    by the worker process: at most ``concurrency`` requests in flight per worker, retries of
    429/5xx/timeouts/connection errors with exponential backoff, jitter and ``Retry-After``, a
    deadline per request, temperature 0 and an optional seed. The prompt (a versioned template
    in ``beam_cqia/prompts/llm``, default ``judge_cqia.v1``: the CQIA 10-point rubric) renders
    the record's instruction, input and output; the verdict must be exactly
    ``{"score": <0-10>, "reasons": "..."}``. The score is stored in ``signals[signal]``; the
    reasons stay in the cache entry. Nothing is dropped here: threshold with FilterByScore.

    With ``cache``, answers are kept by (model, messages, parameters), so a rerun pays for no
    request it already made. ``*.sqlite``/``*.sqlite3``/``*.db`` is a SQLite file on the local
    disk (one machine: local runs, multi-processing); any other path is a directory of one
    JSON file per answer on any Beam file system, which every worker of a distributed runner
    shares: use ``gs://bucket/llm-cache/`` on Dataflow.

    The API key is read on each worker from the environment variable ``api_key_env`` names, or
    from the file that ``<api_key_env>_FILE`` names (a mounted secret); on Dataflow, set either
    in the SDK container image. It is never part of the pipeline's options, specs, outputs or
    logs.

    Outputs: the scored records (main, same type as the input) and errors: an unparseable
    verdict (with the raw answer), a request failed after retries or at its deadline (with
    the server's message), a malformed response, a missing or empty instruction/output field.
    Counters in ``beam_cqia.JudgeWithLLM``: ``seen``, ``passed``, ``errors``, ``requests`` (HTTP
    requests, retries included), ``cache_hits``, ``prompt_tokens`` and ``completion_tokens``
    (paid in this run; cache hits excluded), ``cost_micros`` (with prices: cost x 10^6), and a
    distribution ``signal:<signal>`` (score x 1000).

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1``; requests go to
            ``<base_url>/chat/completions``.
        model: the model name sent with each request.
        prompt: the prompt template id, e.g. ``judge_cqia.v1``.
        api_key_env: name of the environment variable holding the API key; null for servers
            that need none.
        cache: where answers are kept between runs (see above); null caches nothing.
        concurrency: requests in flight at once per worker process.
        batch_size: records per batch (per ``complete_many`` call).
        max_retries: retries after the first attempt of a request.
        timeout_seconds: time limit of one attempt.
        deadline_seconds: time limit of one request, retries and waits included.
        backoff_seconds: first retry delay, doubled per retry, with jitter.
        max_retry_after_seconds: longest ``Retry-After`` honoured (longer ones are shortened).
        signal: name of the signal the score is stored under.
        fields: prompt variable -> record field, e.g. ``{instruction: title, output: body}``;
            unnamed variables read ``instruction``/``input``/``output`` from records that have
            an ``instruction`` field (CqiaRecord) and ``question``/(none)/``answer`` from others
            (RawDoc).
        temperature: sampling temperature.
        seed: sent with each request when given, for servers that sample reproducibly.
        max_tokens: longest answer asked for.
        price_prompt_per_1k: price of 1,000 prompt tokens, for ``cost_micros``.
        price_completion_per_1k: price of 1,000 completion tokens.
        template_dir: a directory (any Beam filesystem path) of extra prompts, read when the
            pipeline is built; a file there replaces the packaged one of the same name.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        prompt: str = DEFAULT_PROMPT,
        api_key_env: str | None = None,
        cache: str | None = None,
        concurrency: int = 8,
        batch_size: int = 32,
        max_retries: int = 4,
        timeout_seconds: float = 60.0,
        deadline_seconds: float = 300.0,
        backoff_seconds: float = 1.0,
        max_retry_after_seconds: float = 60.0,
        signal: str = "llm.score",
        fields: Mapping[str, str] | None = None,
        temperature: float = 0.0,
        seed: int | None = None,
        max_tokens: int | None = 512,
        price_prompt_per_1k: float | None = None,
        price_completion_per_1k: float | None = None,
        template_dir: str | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        settings, chat_prompt = llm_settings(
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
        if not isinstance(signal, str) or not signal.strip():
            raise ValueError(f"signal must name a signal, got {signal!r}")
        fields = dict(fields or {})
        for variable, field in fields.items():
            if variable not in chat_prompt.variables:
                raise ValueError(
                    f"fields: {variable!r} is not a variable of prompt {prompt} "
                    f"({chat_prompt.variables})"
                )
            if not isinstance(field, str) or not field:
                raise ValueError(f"fields: {variable!r} must name a record field, got {field!r}")
        self._settings = {**settings, "signal": signal, "fields": fields}
        self._batch_size = batch_size
        self._error_handling = error_handling
        # One client (threads, connections, cache) per worker process and transform instance.
        self._shared_tag = f"JudgeWithLLM-{uuid.uuid4().hex}"

    def expand(self, inputs: Any) -> Any:
        records = merge_inputs(inputs, self.label)
        _check_input_type(records, self._settings["fields"])
        results = (
            records
            | "Batch"
            >> beam.BatchElements(min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            | "Judge"
            >> beam.ParDo(
                _JudgeFn(
                    self.label,
                    type(self).__name__,
                    self._settings,
                    shared.Shared(),
                    self._shared_tag,
                )
            ).with_outputs(ERRORS, main=GOOD)
        )
        good = results[GOOD]
        good.element_type = records.element_type
        return finish_stage(self, records, good, None, results[ERRORS], self._error_handling)
