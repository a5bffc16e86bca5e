"""LLM calls for the pipeline's LLM stages, without Beam (DESIGN.md §8).

- ``client``: ``ChatClient`` for OpenAI-compatible chat-completion endpoints (vLLM, SGLang,
  Ollama's ``/v1``, hosted APIs): concurrency limit, ``complete_many`` batches, retries with
  backoff, jitter and ``Retry-After``, per-attempt timeouts and a per-request deadline, strict
  response parsing, token and cost accounting.
- ``cache``: persistent answer caches keyed by (model, messages, parameters): SQLite on one
  machine, a directory of content-addressed JSON files anywhere (``gs://`` on Dataflow).
- ``verdict``: strict parsers of judge verdicts; a bad verdict raises, it never defaults.

Example::

    config = ClientConfig(base_url="http://localhost:8000/v1", model="Qwen2.5-7B-Instruct")
    with ChatClient(config, cache=open_cache("out/llm-cache.sqlite")) as client:
        results = client.complete_many([[{"role": "user", "content": "你好"}]])
"""

from beam_cqia.llm.cache import (
    DirectoryCache,
    FileStore,
    LocalFiles,
    ResponseCache,
    SqliteCache,
    is_sqlite_path,
    open_cache,
    request_key,
)
from beam_cqia.llm.client import (
    BadResponseError,
    ChatClient,
    ChatRequest,
    ClientConfig,
    Completion,
    Failure,
    Result,
    Totals,
    Usage,
    parse_completion,
)
from beam_cqia.llm.verdict import (
    PARSERS,
    ScoreVerdict,
    VerdictError,
    get_parser,
    parse_good_bad,
    parse_score_json,
)

__all__ = [
    "PARSERS",
    "BadResponseError",
    "ChatClient",
    "ChatRequest",
    "ClientConfig",
    "Completion",
    "DirectoryCache",
    "Failure",
    "FileStore",
    "LocalFiles",
    "ResponseCache",
    "Result",
    "ScoreVerdict",
    "SqliteCache",
    "Totals",
    "Usage",
    "VerdictError",
    "get_parser",
    "is_sqlite_path",
    "open_cache",
    "parse_completion",
    "parse_good_bad",
    "parse_score_json",
    "request_key",
]
