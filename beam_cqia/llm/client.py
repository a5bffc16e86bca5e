"""A client for OpenAI-compatible chat-completion endpoints (vLLM, SGLang, Ollama's /v1, hosted).

No Beam here, and no vendor SDK: one ``POST {base_url}/chat/completions`` per request over
urllib3, which is already a dependency. What the client adds to a plain POST:

- a concurrency limit: requests run on a thread pool of ``concurrency`` threads, so at most that
  many are in flight however many threads call ``complete_many`` (one client serves a worker
  process);
- retries of 408, 409, 429, 5xx, timeouts and connection errors, with exponential backoff and
  jitter (50-100 % of the doubled delay), waiting at least a ``Retry-After`` (seconds or HTTP
  date; capped at ``max_retry_after_seconds``);
- a time limit per attempt (``timeout_seconds``: connect, headers and body) and a total deadline
  per request (``deadline_seconds``: attempts and waits together); a wait that would pass the
  deadline ends the request at once;
- strict parsing: a 200 without ``choices``, a message or a string ``content`` is a failure with
  the raw body, never an empty answer;
- a persistent cache (``beam_cqia.llm.cache``) consulted before and filled after each request;
  identical requests in one ``complete_many`` call are sent once;
- token and cost accounting from each response's ``usage``;
- deterministic requests: temperature 0 unless configured, ``seed`` sent when given.

The API key is read when the client is made, from the environment variable ``api_key_env`` names
or, when that is unset, from the file named by ``<api_key_env>_FILE`` (the convention of Docker
and Kubernetes secrets mounted as files); it lives only in the request headers: it is never part
of a config, a cache entry, a message, a log line or a ``repr``.
"""

import concurrent.futures
import dataclasses
import json
import logging
import math
import os
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

import urllib3
from urllib3 import exceptions as u3exc

import beam_cqia
from beam_cqia.llm.cache import ResponseCache, request_key
from beam_cqia.web.fetcher import parse_retry_after

_LOG = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
ROLES = ("system", "user", "assistant")
# Body fields the client owns: a request may not set them through params.
RESERVED_PARAMS = frozenset({"model", "messages", "stream", "n"})
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CHUNK = 64 * 1024
_RAW_LIMIT = 4000  # characters of a raw body kept in failure messages


@dataclasses.dataclass(frozen=True)
class ClientConfig:
    """Where to send requests and how. Primitives only, so it pickles and prints safely.

    Args:
        base_url: the API root, e.g. ``http://localhost:8000/v1`` (vLLM, SGLang),
            ``http://localhost:11434/v1`` (Ollama) or ``https://api.openai.com/v1``.
        model: the model name sent with every request.
        api_key_env: name of the environment variable holding the API key (sent as
            ``Authorization: Bearer``), or whose ``_FILE`` variant names a file holding it;
            None sends no key (local servers).
        concurrency: requests in flight at once per client.
        max_retries: retries after the first attempt.
        timeout_seconds: time limit of one attempt (connect, headers and body).
        deadline_seconds: time limit of one request, attempts and waits included.
        backoff_seconds: first retry delay; doubled per retry, with 50-100 % jitter.
        max_backoff_seconds: cap of the computed backoff.
        max_retry_after_seconds: cap of a server's ``Retry-After``.
        temperature: sampling temperature (0: as deterministic as the server allows).
        seed: sent as ``seed`` when given (servers that support it then sample reproducibly).
        max_tokens: sent as ``max_tokens`` when given.
        params: other body parameters sent with every request (``top_p``, ``stop``, ...).
        price_prompt_per_1k: price of 1,000 prompt tokens, for cost accounting.
        price_completion_per_1k: price of 1,000 completion tokens.
    """

    base_url: str
    model: str
    api_key_env: str | None = None
    concurrency: int = 8
    max_retries: int = 4
    timeout_seconds: float = 60.0
    deadline_seconds: float = 300.0
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 30.0
    max_retry_after_seconds: float = 60.0
    temperature: float = 0.0
    seed: int | None = None
    max_tokens: int | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    price_prompt_per_1k: float | None = None
    price_completion_per_1k: float | None = None

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.base_url) if isinstance(self.base_url, str) else None
        if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError(
                f"base_url must be an http(s) URL such as http://localhost:8000/v1, "
                f"got {self.base_url!r}"
            )
        if parsed.query or parsed.fragment:
            raise ValueError(f"base_url must not have a query or fragment, got {self.base_url!r}")
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"model must name a model, got {self.model!r}")
        if self.api_key_env is not None and (
            not isinstance(self.api_key_env, str) or not _ENV_NAME.match(self.api_key_env)
        ):
            raise ValueError(
                "api_key_env must be the NAME of an environment variable (e.g. OPENAI_API_KEY), "
                "not the key itself"
            )
        _check_number("concurrency", self.concurrency, integer=True, minimum=1)
        _check_number("max_retries", self.max_retries, integer=True, minimum=0)
        for name in ("timeout_seconds", "deadline_seconds"):
            _check_number(name, getattr(self, name), positive=True)
        for name in ("backoff_seconds", "max_backoff_seconds", "max_retry_after_seconds"):
            _check_number(name, getattr(self, name), minimum=0)
        _check_number("temperature", self.temperature, minimum=0)
        if self.seed is not None:
            _check_number("seed", self.seed, integer=True)
        if self.max_tokens is not None:
            _check_number("max_tokens", self.max_tokens, integer=True, minimum=1)
        for name in ("price_prompt_per_1k", "price_completion_per_1k"):
            if getattr(self, name) is not None:
                _check_number(name, getattr(self, name), minimum=0)
        if not isinstance(self.params, Mapping) or not all(isinstance(k, str) for k in self.params):
            raise ValueError(f"params must be a mapping of body fields, got {self.params!r}")
        _check_params(self.params, "params")
        try:
            json.dumps(dict(self.params), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"params must be JSON values: {exc}") from None

    @property
    def endpoint(self) -> str:
        """The URL requests are sent to."""
        return self.base_url.rstrip("/") + "/chat/completions"


def _check_number(
    name: str,
    value: Any,
    integer: bool = False,
    minimum: float | None = None,
    positive: bool = False,
) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")


def _check_params(params: Mapping[str, Any], where: str) -> None:
    reserved = sorted(set(params) & RESERVED_PARAMS)
    if reserved:
        raise ValueError(f"{where} must not set {reserved}: the client sets them")


class ChatRequest(NamedTuple):
    """One chat completion to ask for.

    Attributes:
        messages: ``[{"role": "system" | "user" | "assistant", "content": str}, ...]``.
        params: body parameters for this request, over the client's (e.g. ``max_tokens``).
    """

    messages: Sequence[Mapping[str, str]]
    params: Mapping[str, Any] | None = None


class Usage(NamedTuple):
    """Tokens a response reports in ``usage``."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class Completion(NamedTuple):
    """A well-formed answer.

    Attributes:
        content: ``choices[0].message.content``, as sent.
        finish_reason: ``choices[0].finish_reason`` (``stop``, ``length``...; "" if absent).
        usage: the response's token counts; None when the server reports none.
        cached: True when the answer came from the cache (or from an identical request of the
            same call): nothing was paid for it now.
        attempts: HTTP requests made for it now (0 when cached).
        response_id: the response's ``id``.
        model: the model the server says answered.
        cost: what this answer cost now, from the configured prices (0 when cached).
        key: the request's cache key.
    """

    content: str
    finish_reason: str
    usage: Usage | None
    cached: bool
    attempts: int
    response_id: str
    model: str
    cost: float
    key: str


class Failure(NamedTuple):
    """No answer: after retries, at the deadline, or at once for permanent errors.

    Attributes:
        kind: ``HTTPError`` (with ``status``), ``Timeout``, ``ConnectionError``, ``Deadline``,
            ``BadResponse`` (a 200 that is not a chat completion), ``TLSError`` or ``CacheError``.
        message: what went wrong, with the server's error message or the raw body.
        attempts: HTTP requests made.
        status: the last HTTP status (0 when there was no answer).
        body: the last response body as text (truncated), "" when there was none.
        key: the request's cache key.
    """

    kind: str
    message: str
    attempts: int
    status: int = 0
    body: str = ""
    key: str = ""


Result = Completion | Failure


class Totals(NamedTuple):
    """What a client has done since it was made."""

    calls: int  # requests asked for
    cache_hits: int  # answered from the cache or by an identical request of the same call
    requests: int  # HTTP requests sent, retries included
    retries: int
    failures: int
    prompt_tokens: int  # paid now (cache hits excluded)
    completion_tokens: int
    cost: float


class _Accounts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = dict.fromkeys(Totals._fields, 0)
        self._values["cost"] = 0.0

    def add(self, **amounts: float) -> None:
        with self._lock:
            for name, amount in amounts.items():
                self._values[name] += amount

    def totals(self) -> Totals:
        with self._lock:
            return Totals(**self._values)


class BadResponseError(ValueError):
    """A 200 response that is not a well-formed chat completion."""


class ParsedResponse(NamedTuple):
    content: str
    finish_reason: str
    usage: Usage | None
    response_id: str
    model: str


def parse_completion(data: bytes | str) -> ParsedResponse:
    """Parses a chat-completion response body strictly.

    Raises:
        BadResponseError: when the body is not JSON, has no ``choices``, the first choice has
            no ``message`` or its ``content`` is not a non-empty string, or ``usage`` is present
            but malformed.
    """
    try:
        obj = json.loads(data)
    except ValueError as exc:
        raise BadResponseError(f"response is not JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise BadResponseError(f"response is a JSON {type(obj).__name__}, not an object")
    if obj.get("error"):
        raise BadResponseError(f"response carries an error: {_error_text(obj['error'])}")
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices:
        raise BadResponseError("response has no choices")
    choice = choices[0]
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        raise BadResponseError("choices[0] has no message")
    message = choice["message"]
    content = message.get("content")
    if not isinstance(content, str):
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal:
            raise BadResponseError(f"the model refused: {refusal}")
        raise BadResponseError(f"choices[0].message.content is {type(content).__name__}")
    if not content.strip():
        raise BadResponseError("choices[0].message.content is empty")
    finish = choice.get("finish_reason")
    if finish is not None and not isinstance(finish, str):
        raise BadResponseError(f"choices[0].finish_reason is {type(finish).__name__}")
    usage = None
    raw_usage = obj.get("usage")
    if raw_usage is not None:
        usage = _parse_usage(raw_usage)
    response_id, model = obj.get("id", ""), obj.get("model", "")
    return ParsedResponse(
        content,
        finish or "",
        usage,
        response_id if isinstance(response_id, str) else str(response_id),
        model if isinstance(model, str) else str(model),
    )


def _parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        raise BadResponseError(f"usage is {type(raw).__name__}, not an object")
    counts = {}
    for name in ("prompt_tokens", "completion_tokens"):
        value = raw.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadResponseError(f"usage.{name} is {value!r}, not a token count")
        counts[name] = value
    total = raw.get("total_tokens", counts["prompt_tokens"] + counts["completion_tokens"])
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise BadResponseError(f"usage.total_tokens is {total!r}, not a token count")
    return Usage(counts["prompt_tokens"], counts["completion_tokens"], total)


def _error_text(error: Any) -> str:
    """The message of an OpenAI-style ``error`` object (``{"message", "type", "code"}``)."""
    if isinstance(error, dict):
        parts = [str(error[k]) for k in ("type", "code") if error.get(k) not in (None, "")]
        message = str(error.get("message", "")) or json.dumps(error, ensure_ascii=False)
        return f"{message} ({', '.join(parts)})" if parts else message
    return str(error)


def describe_http_error(status: int, body: str) -> str:
    """``HTTP 429: <server message> (type, code)``, or the start of the raw body."""
    text = ""
    try:
        obj = json.loads(body) if body else None
    except ValueError:
        obj = None
    if isinstance(obj, dict) and obj.get("error"):
        text = _error_text(obj["error"])
    elif body:
        text = body[:500]
    return f"HTTP {status}: {text}" if text else f"HTTP {status}"


class _TransientError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _PermanentError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _Answer(NamedTuple):
    status: int
    retry_after: str | None
    body: bytes


def _certifi_bundle() -> str | None:
    try:
        import certifi
    except ImportError:  # urllib3 uses the system's CA store instead
        return None
    return certifi.where()


def _api_key(name: str, environ: Mapping[str, str]) -> str:
    """The key in ``$name``, else in the file ``$name_FILE`` names; the errors never show it.

    Raises:
        ValueError: when neither gives a non-empty key.
    """
    key = environ.get(name, "").strip()
    if key:
        return key
    path = environ.get(f"{name}_FILE", "").strip()
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                key = fh.read().strip()
        except OSError as exc:
            raise ValueError(
                f"cannot read the API key file {name}_FILE={path!r}: {exc.strerror}"
            ) from None
        if key:
            return key
        raise ValueError(f"the API key file {name}_FILE={path!r} is empty")
    raise ValueError(
        f"environment variable {name} (api_key_env) is not set or empty, nor is {name}_FILE"
    )


class ChatClient:
    """Sends chat completions with the rules in the module docstring; thread-safe.

    Args:
        config: endpoint, model, limits and default parameters.
        cache: where answers are kept between runs; None caches nothing.
        environ: the environment the API key is read from (``os.environ`` by default).
        clock: monotonic clock in seconds (injectable for tests).
        sleep: waits between attempts (injectable for tests).
        rng: uniform [0, 1) numbers for jitter (injectable for tests).

    Raises:
        ValueError: when ``config.api_key_env`` is set but the variable is missing or empty.
    """

    def __init__(
        self,
        config: ClientConfig,
        cache: ResponseCache | None = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ):
        self.config = config
        self.cache = cache
        self._clock, self._sleep, self._rng = clock, sleep, rng
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"beam-cqia/{beam_cqia.__version__}",
        }
        if config.api_key_env:
            key = _api_key(config.api_key_env, os.environ if environ is None else environ)
            headers["Authorization"] = f"Bearer {key}"
        self._headers = headers
        self._http = urllib3.PoolManager(
            num_pools=4,
            maxsize=config.concurrency,
            retries=False,
            ca_certs=_certifi_bundle(),
        )
        self._pool = concurrent.futures.ThreadPoolExecutor(
            config.concurrency, thread_name_prefix="beam-cqia-llm"
        )
        self._accounts = _Accounts()

    def __repr__(self) -> str:
        return f"ChatClient(endpoint={self.config.endpoint!r}, model={self.config.model!r})"

    def close(self) -> None:
        """Waits for running requests, then closes connections and the cache."""
        self._pool.shutdown(wait=True)
        self._http.clear()
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> "ChatClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def totals(self) -> Totals:
        """Calls, cache hits, HTTP requests, tokens and cost so far."""
        return self._accounts.totals()

    def body(self, request: ChatRequest | Sequence[Mapping[str, str]]) -> dict[str, Any]:
        """The JSON body sent for ``request`` (also what its cache key is made of).

        Raises:
            ValueError: for malformed messages or params.
        """
        if not isinstance(request, ChatRequest):
            request = ChatRequest(request)
        messages = request.messages
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence) or not messages:
            raise ValueError("messages must be a non-empty list of {role, content} mappings")
        clean = []
        for i, message in enumerate(messages):
            if not isinstance(message, Mapping) or set(message) != {"role", "content"}:
                raise ValueError(f"messages[{i}] must be a {{role, content}} mapping")
            if message["role"] not in ROLES or not isinstance(message["content"], str):
                raise ValueError(
                    f"messages[{i}]: role must be one of {list(ROLES)} and content a string"
                )
            clean.append({"role": message["role"], "content": message["content"]})
        config = self.config
        body: dict[str, Any] = {
            "model": config.model,
            "messages": clean,
            "temperature": config.temperature,
        }
        if config.seed is not None:
            body["seed"] = config.seed
        if config.max_tokens is not None:
            body["max_tokens"] = config.max_tokens
        body.update(config.params)
        if request.params:
            _check_params(request.params, "request params")
            body.update(request.params)
        return body

    def complete(self, request: ChatRequest | Sequence[Mapping[str, str]]) -> Result:
        """Asks for one completion; never raises for network, server or cache problems."""
        return self.complete_many([request])[0]

    def complete_many(
        self, requests: Sequence[ChatRequest | Sequence[Mapping[str, str]]]
    ) -> list[Result]:
        """Asks for many completions at once; results are in the order of ``requests``.

        Requests run concurrently on the client's pool (at most ``concurrency`` in flight for
        the whole client). Identical requests are sent once. Never raises for network, server
        or cache problems: those are ``Failure`` results.

        Raises:
            ValueError: for malformed requests (before anything is sent).
        """
        bodies = [self.body(r) for r in requests]
        keys = [request_key(b) for b in bodies]
        self._accounts.add(calls=len(bodies))
        first: dict[str, concurrent.futures.Future] = {}
        for key, body in zip(keys, bodies, strict=True):
            if key not in first:
                first[key] = self._pool.submit(self._run, body, key)
        results: list[Result] = []
        seen: set[str] = set()
        for key in keys:
            result = first[key].result()
            if key in seen:  # an identical request of this call: answered by the first
                if isinstance(result, Completion):
                    result = result._replace(cached=True, attempts=0, cost=0.0)
                    self._accounts.add(cache_hits=1)
                else:
                    result = result._replace(attempts=0)
                    self._accounts.add(failures=1)
            seen.add(key)
            results.append(result)
        return results

    def _run(self, body: dict[str, Any], key: str) -> Result:
        """One request: the cache, then attempts until an answer, a permanent error or the
        deadline. Runs on a pool thread; never raises."""
        try:
            return self._run_unsafe(body, key)
        except Exception as exc:  # noqa: BLE001 - a result per request, whatever happens
            _LOG.exception("LLM request failed unexpectedly")
            self._accounts.add(failures=1)
            return Failure(type(exc).__name__, f"unexpected error: {exc!r}", 0, key=key)

    def _run_unsafe(self, body: dict[str, Any], key: str) -> Result:
        config = self.config
        deadline = self._clock() + config.deadline_seconds
        if self.cache is not None:
            try:
                entry = self.cache.get(key)
            except Exception as exc:  # noqa: BLE001 - any store's failure; paying again is worse
                self._accounts.add(failures=1)
                return Failure("CacheError", f"reading the cache failed: {exc!r}", 0, key=key)
            hit = _from_entry(entry, key) if entry is not None else None
            if hit is not None:
                self._accounts.add(cache_hits=1)
                return hit
        payload = json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        attempt = 0
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                self._accounts.add(failures=1)
                return Failure(
                    "Deadline",
                    f"no time left of the deadline of {config.deadline_seconds:g} s",
                    attempt,
                    key=key,
                )
            attempt += 1
            self._accounts.add(requests=1)
            retry_after: float | None = None
            status, text = 0, ""
            try:
                answer = self._post(payload, min(config.timeout_seconds, remaining))
            except _TransientError as exc:
                kind, problem = exc.kind, str(exc)
            except _PermanentError as exc:
                self._accounts.add(failures=1)
                return Failure(exc.kind, str(exc), attempt, key=key)
            else:
                status = answer.status
                text = answer.body.decode("utf-8", errors="replace")
                if status == 200:
                    return self._accept(body, key, answer.body, text, attempt)
                kind, problem = "HTTPError", describe_http_error(status, text)
                if status not in RETRY_STATUSES:
                    self._accounts.add(failures=1)
                    return Failure(kind, problem, attempt, status, text[:_RAW_LIMIT], key)
                retry_after = parse_retry_after(answer.retry_after, datetime.now(timezone.utc))
            tries = f"attempt {attempt} of {config.max_retries + 1}"
            if attempt > config.max_retries:
                self._accounts.add(failures=1)
                return Failure(
                    kind, f"{problem} ({tries})", attempt, status, text[:_RAW_LIMIT], key
                )
            delay = min(config.max_backoff_seconds, config.backoff_seconds * 2 ** (attempt - 1))
            delay *= 0.5 + 0.5 * self._rng()
            if retry_after is not None:
                delay = max(delay, min(retry_after, config.max_retry_after_seconds))
            left = deadline - self._clock()
            if delay >= left:
                self._accounts.add(failures=1)
                return Failure(
                    "Deadline",
                    f"{problem} ({tries}); the next attempt in {delay:.3g} s would pass the "
                    f"deadline of {config.deadline_seconds:g} s ({max(left, 0):.3g} s left)",
                    attempt,
                    status,
                    text[:_RAW_LIMIT],
                    key,
                )
            _LOG.debug("LLM request: %s; retrying in %.2f s", problem, delay)
            self._accounts.add(retries=1)
            self._sleep(delay)

    def _accept(
        self, body: dict[str, Any], key: str, data: bytes, text: str, attempt: int
    ) -> Result:
        try:
            parsed = parse_completion(data)
        except BadResponseError as exc:
            self._accounts.add(failures=1)
            return Failure(
                "BadResponse",
                f"{exc}; raw response: {text[:_RAW_LIMIT]}",
                attempt,
                200,
                text[:_RAW_LIMIT],
                key,
            )
        usage = parsed.usage
        cost = self._cost(usage)
        self._accounts.add(
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            cost=cost,
        )
        if self.cache is not None:
            entry = {
                "request": body,
                "response": {
                    "id": parsed.response_id,
                    "model": parsed.model,
                    "content": parsed.content,
                    "finish_reason": parsed.finish_reason,
                    "usage": usage._asdict() if usage else None,
                },
                "stored_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            }
            try:
                self.cache.put(key, entry)
            except Exception:  # noqa: BLE001 - the answer is paid for: return it anyway
                _LOG.warning("could not store an LLM answer in the cache", exc_info=True)
        return Completion(
            parsed.content,
            parsed.finish_reason,
            usage,
            False,
            attempt,
            parsed.response_id,
            parsed.model,
            cost,
            key,
        )

    def _cost(self, usage: Usage | None) -> float:
        if usage is None:
            return 0.0
        config = self.config
        return (
            usage.prompt_tokens * (config.price_prompt_per_1k or 0.0)
            + usage.completion_tokens * (config.price_completion_per_1k or 0.0)
        ) / 1000

    def _post(self, payload: bytes, budget: float) -> _Answer:
        """One POST with a total time limit of ``budget`` seconds.

        Raises:
            _TransientError: timeouts and connection errors (retried).
            _PermanentError: TLS errors and oversized answers (not retried).
        """
        if budget <= 0:
            raise _TransientError("Timeout", "no time left for an attempt")
        end = self._clock() + budget
        try:
            response = self._http.urlopen(
                "POST",
                self.config.endpoint,
                body=payload,
                headers=self._headers,
                redirect=False,
                retries=False,
                preload_content=False,
                timeout=urllib3.Timeout(total=budget),
            )
        except u3exc.NewConnectionError as exc:
            raise _TransientError("ConnectionError", f"cannot connect: {exc}") from exc
        except (u3exc.TimeoutError, TimeoutError) as exc:
            raise _TransientError("Timeout", f"no answer within {budget:.3g} s") from exc
        except u3exc.SSLError as exc:
            raise _PermanentError("TLSError", f"TLS failed: {exc}") from exc
        except (u3exc.HTTPError, OSError) as exc:
            raise _TransientError("ConnectionError", str(exc)) from exc
        try:
            body = self._read(response, end, budget)
        finally:
            response.release_conn()
        return _Answer(response.status, response.headers.get("Retry-After"), body)

    def _read(self, response: Any, end: float, budget: float) -> bytes:
        chunks, size = [], 0
        try:
            while True:
                remaining = end - self._clock()
                if remaining <= 0:
                    response.close()
                    raise _TransientError("Timeout", f"body not complete within {budget:.3g} s")
                sock = getattr(response.connection, "sock", None)
                if sock is not None:
                    sock.settimeout(remaining)
                chunk = response.read1(_CHUNK)
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    response.close()
                    raise _PermanentError(
                        "BadResponse", f"response over {MAX_RESPONSE_BYTES} bytes"
                    )
                chunks.append(chunk)
        except (u3exc.TimeoutError, TimeoutError) as exc:
            response.close()
            raise _TransientError("Timeout", f"body not complete within {budget:.3g} s") from exc
        except (u3exc.HTTPError, OSError) as exc:
            response.close()
            raise _TransientError("ConnectionError", f"reading the answer failed: {exc}") from exc


def _from_entry(entry: Mapping[str, Any], key: str) -> Completion | None:
    """A Completion from a cache entry; None (a miss) when the entry is not well formed."""
    response = entry.get("response")
    if not isinstance(response, dict):
        return None
    content = response.get("content")
    if not isinstance(content, str) or not content.strip():
        return None
    usage = None
    if response.get("usage") is not None:
        try:
            usage = _parse_usage(response["usage"])
        except BadResponseError:
            return None
    return Completion(
        content,
        str(response.get("finish_reason") or ""),
        usage,
        True,
        0,
        str(response.get("id") or ""),
        str(response.get("model") or ""),
        0.0,
        key,
    )
