"""What every LLM stage (JudgeWithLLM, the COIG-Kun stages) shares: checking the client, cache
and prompt settings when the pipeline is built, the per-worker client, and the cache's file store on
Beam's filesystems."""

from collections.abc import Mapping
from typing import Any

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from beam_cqia import prompts
from beam_cqia.llm import ChatClient, ClientConfig, get_parser, is_sqlite_path, open_cache
from beam_cqia.llm.cache import temporary_name
from beam_cqia.transforms._stage import check_error_handling


def check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class BeamFiles:
    """The cache's FileStore on Beam's FileSystems (local paths, gs://, s3://, ...).

    Local files are written under a temporary name and renamed into place; object stores make
    an object visible only when its upload completes, so they are written directly.
    """

    def read(self, path: str) -> bytes | None:
        try:
            with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
                return fh.read()
        except Exception:  # each file system raises its own "not found"; re-raised below
            if not FileSystems.exists(path):
                return None
            raise

    def write(self, path: str, data: bytes) -> None:
        local = FileSystems.get_scheme(path) in (None, "file")
        target = temporary_name(path) if local else path
        with FileSystems.create(target, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.write(data)
        if local:
            FileSystems.rename([target], [path])

    def join(self, base: str, *parts: str) -> str:
        return FileSystems.join(base, *parts)


class Llm:
    """What a worker process shares between DoFn instances of one stage: the client (threads,
    connections, cache) and the parsed prompt. A class, so ``Shared`` can hold it."""

    def __init__(self, settings: Mapping[str, Any]):
        cache = open_cache(settings["cache"], BeamFiles()) if settings["cache"] else None
        self.client = ChatClient(settings["client"], cache)
        name, text, origin = settings["prompt"]
        self.prompt = prompts.ChatPrompt(name, text, origin)


def llm_settings(
    kind: str,
    base_url: str,
    model: str,
    prompt: str,
    parsers: tuple[str, ...] | None,
    api_key_env: str | None,
    cache: str | None,
    concurrency: int,
    batch_size: int,
    max_retries: int,
    timeout_seconds: float,
    deadline_seconds: float,
    backoff_seconds: float,
    max_retry_after_seconds: float,
    temperature: float,
    seed: int | None,
    max_tokens: int | None,
    price_prompt_per_1k: float | None,
    price_completion_per_1k: float | None,
    template_dir: str | None,
    error_handling: Mapping[str, Any] | None,
) -> tuple[dict[str, Any], prompts.ChatPrompt]:
    """Validates the settings every model stage shares and loads the prompt.

    ``parsers`` lists the parser names the stage understands (None: any verdict parser).
    """
    config = ClientConfig(
        base_url=base_url,
        model=model,
        api_key_env=api_key_env,
        concurrency=concurrency,
        max_retries=max_retries,
        timeout_seconds=timeout_seconds,
        deadline_seconds=deadline_seconds,
        backoff_seconds=backoff_seconds,
        max_retry_after_seconds=max_retry_after_seconds,
        temperature=temperature,
        seed=seed,
        max_tokens=max_tokens,
        price_prompt_per_1k=price_prompt_per_1k,
        price_completion_per_1k=price_completion_per_1k,
    )  # validates every client setting now, naming the bad one
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"prompt must be a prompt template id, got {prompt!r}")
    chat_prompt = prompts.load_chat_prompt(prompt, template_dir)
    if parsers is None:
        try:
            get_parser(chat_prompt.parser)
        except ValueError as exc:
            raise ValueError(f"prompt {prompt}: {exc}") from None
    elif chat_prompt.parser not in parsers:
        raise ValueError(
            f"prompt {prompt}: {kind} reads answers with parser {list(parsers)}, but the prompt "
            f"names {chat_prompt.parser!r}"
        )
    if cache is not None:
        if not isinstance(cache, str) or not cache.strip():
            raise ValueError(f"cache must be a path, got {cache!r}")
        if is_sqlite_path(cache) and "://" in cache:
            raise ValueError(
                f"cache {cache!r}: SQLite caches must be local files; use a directory "
                "(e.g. gs://bucket/llm-cache/) for a cache shared by workers"
            )
    check_int("batch_size", batch_size, 1)
    check_error_handling(error_handling)
    settings = {
        "client": config,
        "cache": cache,
        # The prompt's text travels with the DoFn: a template_dir on the launcher's disk works
        # on every worker.
        "prompt": (chat_prompt.name, chat_prompt.source, chat_prompt.origin),
        "batch_size": batch_size,
    }
    return settings, chat_prompt
