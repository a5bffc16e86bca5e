"""web-fetch: FetchUrls fetches seed URLs politely and writes what it fetched as WARC files.

The politeness rules live in ``beam_cqia.web`` (address policy, robots.txt, per-host limits,
retries, caps); this module wires them into a stage: URLs are keyed by host and grouped, and each
host's URLs are fetched by one task, which writes one WARC file. The grouping is what makes the
per-host limits hold on any runner: one host is never crawled by two workers at once (only a
redirect into a host that another task is crawling can exceed its limits, see
``beam_cqia.web.ratelimit``).
"""

import concurrent.futures
import threading
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import apache_beam as beam
import xxhash
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.transforms.window import GlobalWindows
from apache_beam.utils import shared

import beam_cqia
from beam_cqia.layout import safe_value
from beam_cqia.records import FetchedPage, record_json
from beam_cqia.text.ids import content_id
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
from beam_cqia.web import policy as webpolicy
from beam_cqia.web.fetcher import (
    Failed,
    FetchConfig,
    Fetched,
    Fetcher,
    Refused,
    user_agent_string,
)
from beam_cqia.web.ratelimit import HostGates
from beam_cqia.web.robots import RobotsCache
from beam_cqia.web.warc import WarcWriter, warcinfo_fields

DEFAULT_USER_AGENT = f"beam-cqia/{beam_cqia.__version__}"
WARC_SUFFIX = ".warc.gz"


def url_id(url: str) -> str:
    """The id of a URL in FetchUrls' outputs: good, rejected and errors alike (it is the id
    ``error_record`` gives the URL as a dead-letter element)."""
    return content_id("element", record_json(url))


def _url_of(element: Any) -> Any:
    """The URL in an input element: a string, or a row with a ``url`` or ``line`` field."""
    if isinstance(element, bytes):
        return element.decode("utf-8", errors="replace").strip()
    if isinstance(element, str):
        return element.strip()
    for field in ("url", "line"):
        value = getattr(element, field, None)
        if isinstance(value, str):
            return value.strip()
    return element


def _reject(element: Any, stage: str, reason: str, detail: str, kept: str = "") -> Any:
    tagged = rejected(element, stage, reason, detail, kept_id=url_id(kept) if kept else "")
    rid = content_id("element", tagged.value.record)  # == url_id(element) for a URL string
    return beam.pvalue.TaggedOutput(REJECTED, tagged.value._replace(id=rid))


class _ReadSeedsFn(beam.DoFn):
    """Yields the URLs of a seed list: one per line; blank lines and ``#`` comments skipped."""

    def process(self, readable: fileio.ReadableFile) -> Any:
        with readable.open(compression_type=CompressionTypes.AUTO) as fh:
            for raw in fh:
                line = raw.decode("utf-8", errors="replace").strip().lstrip("\ufeff")
                if line and not line.startswith("#"):
                    yield line


class _KeyByHostFn(beam.DoFn):
    def __init__(self, stage: str, kind: str):
        self._stage, self._ns = stage, namespace(kind)
        self._seen = Metrics.counter(self._ns, "seen")
        self._invalid = Metrics.counter(self._ns, "filtered:invalid_url")

    def process(self, element: Any) -> Any:
        self._seen.inc()
        url = _url_of(element)
        try:
            host = webpolicy.host_key(url)
        except webpolicy.InvalidUrlError as exc:
            self._invalid.inc()
            yield _reject(url, self._stage, "invalid_url", str(exc))
            return
        yield host, url


class _Env:
    """What every fetching thread of a worker process shares: host limits, robots.txt, policy."""

    def __init__(self, settings: Mapping[str, Any]):
        self.config = FetchConfig(**settings["config"])
        self.policy = webpolicy.AddressPolicy(settings["allow_private"], settings["allow_networks"])
        self.gates = HostGates(self.config.min_interval_seconds, self.config.per_host_concurrency)
        self.robots = RobotsCache(self.config.user_agent)
        self.settings = settings


class _HostDone(NamedTuple):
    """What one host's task produced, handed from its thread to the DoFn's thread."""

    outputs: list[tuple[str, Any]]  # (GOOD | REJECTED | ERRORS, payload)
    requests: int


def warc_name(host: str, urls: Iterable[str]) -> str:
    """The WARC file name of one host's task: the same for the same host and URL set."""
    digest = xxhash.xxh3_64_hexdigest("\n".join([host, *sorted(set(urls))]).encode("utf-8"))
    return f"{safe_value(host)}-{digest}{WARC_SUFFIX}"


def _crawl_host(env: _Env, stage: str, host: str, urls: list[str]) -> _HostDone:
    """Fetches one host's URLs and writes its WARC file; never raises (runs in a thread)."""
    try:
        return _crawl_host_unsafe(env, stage, host, urls)
    except Exception as exc:  # noqa: BLE001 - every URL must leave, as an error if need be
        info = (type(exc), repr(exc), [format_exception(exc)])
        return _HostDone([(ERRORS, (url, info)) for url in urls], 0)


def _crawl_host_unsafe(env: _Env, stage: str, host: str, urls: list[str]) -> _HostDone:
    outputs: list[tuple[str, Any]] = []
    unique: dict[str, str] = {}
    for url in sorted(urls):  # sorted: which of two equal URLs is kept does not vary
        key = webpolicy.parse_url(url).url
        if key in unique:
            kept = unique[key]
            tagged = _reject(url, stage, "duplicate_url", f"same URL as {kept}", kept)
            outputs.append((REJECTED, tagged.value))
        else:
            unique[key] = url
    todo = list(unique.values())
    final = FileSystems.join(env.settings["output"], warc_name(host, todo))
    writer = _LazyWarc(final, env)

    def fetch_one(fetcher: Fetcher, url: str) -> tuple[tuple[str, Any], int]:
        outcome = fetcher.fetch(url)
        if isinstance(outcome, Fetched):
            # Only the small FetchedPage is kept: the body is in the WARC file now.
            return (GOOD, _page(outcome, final, writer.write(outcome))), outcome.requests
        if isinstance(outcome, Refused):
            tagged = _reject(url, stage, outcome.reason, outcome.detail)
            return (REJECTED, tagged.value), outcome.requests
        assert isinstance(outcome, Failed)
        return (ERRORS, (url, (outcome.kind, outcome.message, []))), outcome.requests

    with Fetcher(env.config, env.policy, env.gates, env.robots) as fetcher:
        try:
            concurrency = env.config.per_host_concurrency
            if concurrency > 1 and len(todo) > 1:
                with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
                    done = list(pool.map(lambda u: fetch_one(fetcher, u), todo))
            else:
                done = [fetch_one(fetcher, url) for url in todo]
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    outputs.extend(output for output, _ in done)
    return _HostDone(outputs, sum(requests for _, requests in done))


def _page(fetched: Fetched, warc_path: str, offset: int) -> FetchedPage:
    exchange = fetched.exchange
    return FetchedPage(
        id=url_id(fetched.url),
        url=fetched.url,
        final_url=fetched.final_url,
        status=exchange.status,
        content_type=exchange.header("Content-Type") or "",
        warc_path=warc_path,
        warc_offset=offset,
        bytes=len(exchange.body),
        fetched_at=exchange.started.isoformat(),
    )


class _LazyWarc:
    """One host's WARC file: opened under a temporary name at the first page, renamed at the
    end; nothing is written for a host without pages. Thread-safe."""

    def __init__(self, final: str, env: _Env):
        directory, name = FileSystems.split(final)
        self._tmp = FileSystems.join(directory, f".{name}.{uuid.uuid4().hex}.tmp")
        self._final, self._name, self._env = final, name, env
        self._fh: Any = None
        self._warc: WarcWriter | None = None
        self._lock = threading.Lock()

    def write(self, page: Fetched) -> int:
        with self._lock:
            if self._warc is None:
                self._fh = FileSystems.create(
                    self._tmp,
                    mime_type="application/warc",
                    compression_type=CompressionTypes.UNCOMPRESSED,
                )
                settings = self._env.settings
                info = warcinfo_fields(
                    DEFAULT_USER_AGENT,
                    self._env.config.user_agent,
                    settings["contact"],
                    description="beam-cqia FetchUrls: one host's pages",
                )
                self._warc = WarcWriter(self._fh, self._name, info)
            return self._warc.write_exchange(page.exchange)

    def commit(self) -> None:
        if self._fh is None:
            return
        self._fh.close()
        self._fh = None
        if FileSystems.exists(self._final):
            FileSystems.delete([self._final])
        FileSystems.rename([self._tmp], [self._final])

    def abort(self) -> None:
        try:
            if self._fh is not None:
                self._fh.close()
            if FileSystems.exists(self._tmp):
                FileSystems.delete([self._tmp])
        except Exception:  # noqa: BLE001 - best effort: the error is reported already
            pass


class _FetchHostsFn(beam.DoFn):
    """Fetches each host's URLs in a task of its own; up to ``parallel_hosts`` tasks at a time.

    Tasks run on a thread pool so that hosts proceed in parallel within a bundle (politeness
    keeps each host slow; parallelism across hosts is what makes a crawl fast). Results are
    emitted as tasks finish, the rest at the end of the bundle. Metrics are only counted on the
    DoFn's own thread (Beam's metrics container is per thread).
    """

    def __init__(
        self,
        stage: str,
        kind: str,
        settings: Mapping[str, Any],
        handle: shared.Shared,
        tag: str,
        parallel_hosts: int,
    ):
        self._stage, self._settings, self._handle = stage, dict(settings), handle
        self._tag, self._parallel = tag, parallel_hosts
        ns = namespace(kind)
        self._passed = Metrics.counter(ns, "passed")
        self._requests = Metrics.counter(ns, "requests")
        self._hosts = Metrics.counter(ns, "hosts")
        self._ns = ns

    def setup(self) -> None:
        self._env = self._handle.acquire(lambda: _Env(self._settings), tag=self._tag)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            self._parallel, thread_name_prefix="beam-cqia-fetch"
        )

    def start_bundle(self) -> None:
        self._pending: list[concurrent.futures.Future] = []

    def process(self, group: tuple[str, Iterable[str]]) -> Any:
        host, urls = group
        self._hosts.inc()
        self._pending.append(
            self._pool.submit(_crawl_host, self._env, self._stage, host, list(urls))
        )
        if len(self._pending) >= self._parallel:
            concurrent.futures.wait(self._pending, return_when=concurrent.futures.FIRST_COMPLETED)
        done = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        for future in done:
            yield from self._emit(future.result(), windowed=False)

    def finish_bundle(self) -> Any:
        pending, self._pending = self._pending, []
        for future in pending:
            yield from self._emit(future.result(), windowed=True)

    def teardown(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)

    def _emit(self, done: _HostDone, windowed: bool) -> Any:
        self._requests.inc(done.requests)
        for tag, payload in done.outputs:
            if tag == GOOD:
                self._passed.inc()
            elif tag == REJECTED:
                Metrics.counter(self._ns, f"filtered:{payload.reason}").inc()
            value = GlobalWindows.windowed_value(payload) if windowed else payload
            yield value if tag == GOOD else beam.pvalue.TaggedOutput(tag, value)


def _number(name: str, value: Any, integer: bool = False) -> None:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise ValueError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")


class FetchUrls(beam.PTransform):
    """Fetches URLs politely and writes the pages to gzipped WARC/1.1 files for ReadCrawl.

    A source when ``seeds`` is given (seed lists: one URL per line, blank lines and ``#``
    comments skipped, any Beam file system, globs allowed), otherwise applied to a PCollection
    of URL strings (or rows with a ``url`` or ``line`` field, as Beam YAML's ReadFromText gives).
    URLs are grouped by host name (the ports of one host share its limits); each host's URLs are
    fetched by one task that keeps a minimum interval between request starts, at most
    ``per_host_concurrency`` requests in flight, obeys robots.txt (404: all allowed; 401, 403,
    429, 5xx or unreachable: all disallowed) and its Crawl-delay, retries connection errors,
    timeouts, 429 and 5xx with exponential backoff, jitter and Retry-After, and refuses
    loopback, private, link-local, multicast and reserved addresses (every redirect hop too).
    Each task writes one WARC file ``<output>/<host>-<hash of its URLs>.warc.gz`` (warcinfo,
    then response and request records), under a temporary name renamed at the end; hosts with
    no page write no file. See ``beam_cqia.web`` for the rules in detail.

    Outputs: one ``FetchedPage`` per page (main: where its response record is); rejected:
    ``invalid_url``, ``duplicate_url`` (equal after normalization: scheme and host case,
    default port, fragment), ``blocked_address``, ``robots_disallowed``, ``too_large``,
    ``not_html``, ``http_<status>`` (final 4xx and other non-2xx answers), ``bad_redirect``,
    ``too_many_redirects``; errors: network failures, timeouts, 429 and 5xx after retries (the
    URL is the error's element). Counters in ``beam_cqia.FetchUrls``: ``seen``, ``passed``,
    ``filtered:<reason>``, ``errors``, ``hosts`` (host tasks) and ``requests`` (HTTP requests,
    robots.txt and retries included). Needs the global window (batch pipelines).

    Args:
        output: directory of the WARC files (any Beam file system path).
        contact: a URL (or ``mailto:``) where site owners can reach the crawl's operator; it
            is put in the User-Agent and the warcinfo records.
        seeds: file pattern of seed lists; omit it to fetch the URLs of the input instead.
        user_agent: product token of the User-Agent, which becomes
            ``<user_agent> (+<contact>)``; robots.txt groups are matched against it.
        min_interval_seconds: seconds between the starts of two requests to one host (raised
            by a longer robots.txt Crawl-delay).
        per_host_concurrency: requests to one host in flight at once.
        parallel_hosts: hosts fetched at once by one worker thread.
        max_bytes: largest body accepted (bytes as received); larger pages are rejected as
            ``too_large``, never truncated.
        timeout_seconds: total time limit of one request (connect, headers and body).
        retries: retries after the first attempt.
        backoff_seconds: first retry delay; doubled per retry, with 50-100 % jitter.
        max_retry_after_seconds: longest Retry-After waited for; a longer one ends the retries.
        max_redirects: redirect hops followed per URL.
        max_crawl_delay_seconds: longest robots.txt Crawl-delay honoured; URLs of hosts asking
            for more are rejected as ``robots_disallowed``.
        allow_private: also fetch loopback, private and other non-public addresses (for an
            intranet or tests).
        allow_networks: networks (CIDR) allowed even without ``allow_private``.
        html_only: reject 2xx answers whose Content-Type is not HTML (``not_html``), without
            downloading their body.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    _yaml_requires_inputs = False

    def __init__(
        self,
        output: str,
        contact: str,
        seeds: str | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
        min_interval_seconds: float = 1.0,
        per_host_concurrency: int = 1,
        parallel_hosts: int = 8,
        max_bytes: int = 10 * 1024 * 1024,
        timeout_seconds: float = 30.0,
        retries: int = 3,
        backoff_seconds: float = 1.0,
        max_retry_after_seconds: float = 120.0,
        max_redirects: int = 5,
        max_crawl_delay_seconds: float = 60.0,
        allow_private: bool = False,
        allow_networks: list[str] | None = None,
        html_only: bool = False,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if not isinstance(output, str) or not output:
            raise ValueError(f"output must name a directory for the WARC files, got {output!r}")
        if seeds is not None and (not isinstance(seeds, str) or not seeds):
            raise ValueError(f"seeds must be a file pattern, got {seeds!r}")
        _check_contact(contact)
        if not isinstance(user_agent, str) or not user_agent.strip() or "(" in user_agent:
            raise ValueError(
                f"user_agent must be a product token like 'beam-cqia/0.1', got {user_agent!r}"
            )
        _number("parallel_hosts", parallel_hosts, integer=True)
        if parallel_hosts < 1:
            raise ValueError(f"parallel_hosts must be >= 1, got {parallel_hosts}")
        for name, value in (("allow_private", allow_private), ("html_only", html_only)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false, got {value!r}")
        if allow_networks is not None and not isinstance(allow_networks, list):
            raise ValueError(
                f"allow_networks must be a list of CIDR strings, got {allow_networks!r}"
            )
        webpolicy.parse_networks(list(allow_networks or []))
        check_error_handling(error_handling)
        config = {
            "user_agent": user_agent_string(user_agent.strip(), contact),
            "timeout_seconds": timeout_seconds,
            "max_bytes": max_bytes,
            "retries": retries,
            "backoff_seconds": backoff_seconds,
            "max_retry_after_seconds": max_retry_after_seconds,
            "max_redirects": max_redirects,
            "min_interval_seconds": min_interval_seconds,
            "per_host_concurrency": per_host_concurrency,
            "max_crawl_delay_seconds": max_crawl_delay_seconds,
            "html_only": html_only,
        }
        FetchConfig(**config)  # validates every limit now, naming the bad one
        self._settings = {
            "config": config,
            "output": output.rstrip("/") if len(output) > 1 else output,
            "contact": contact,
            "allow_private": allow_private,
            "allow_networks": list(allow_networks or []),
        }
        self._seeds = seeds
        self._parallel = parallel_hosts
        self._error_handling = error_handling
        # Workers share host limits and robots.txt per process and per transform instance.
        self._shared_tag = f"FetchUrls-{uuid.uuid4().hex}"

    def expand(self, inputs: Any) -> Any:
        if isinstance(inputs, beam.pvalue.PBegin):
            if self._seeds is None:
                raise ValueError(
                    f"{self.label}: give seeds (a file pattern) or apply it to URLs; it has neither"
                )
            urls = (
                inputs
                | "MatchSeeds" >> fileio.MatchFiles(self._seeds)
                | "ReadSeedFiles" >> fileio.ReadMatches()
                | "ReadSeeds" >> beam.ParDo(_ReadSeedsFn())
            )
        else:
            if self._seeds is not None:
                raise ValueError(
                    f"{self.label}: has an input and seeds {self._seeds!r}; give one of them"
                )
            urls = merge_inputs(inputs, self.label)
        if not isinstance(urls.windowing.windowfn, GlobalWindows):
            raise ValueError(f"{self.label}: needs the global window (a batch pipeline)")
        kind = type(self).__name__
        keyed = urls | "KeyByHost" >> beam.ParDo(_KeyByHostFn(self.label, kind)).with_outputs(
            REJECTED, main="keyed"
        ).with_exception_handling(main_tag="keyed", dead_letter_tag=ERRORS)
        fetched = (
            keyed["keyed"]
            | "GroupByHost" >> beam.GroupByKey()
            | "FetchHosts"
            >> beam.ParDo(
                _FetchHostsFn(
                    self.label,
                    kind,
                    self._settings,
                    shared.Shared(),
                    self._shared_tag,
                    self._parallel,
                )
            ).with_outputs(REJECTED, ERRORS, main=GOOD)
        )
        good = fetched[GOOD]
        good.element_type = FetchedPage
        rejected_pc = (keyed[REJECTED], fetched[REJECTED]) | "MergeRejected" >> beam.Flatten()
        dead = (keyed[ERRORS], fetched[ERRORS]) | "MergeErrors" >> beam.Flatten()
        return finish_stage(self, urls, good, rejected_pc, dead, self._error_handling)


def _check_contact(contact: Any) -> None:
    if not isinstance(contact, str) or not contact.strip():
        raise ValueError(
            "contact must be a URL or mailto: address where site owners can reach the operator"
        )
    if any(c.isspace() or c in "()" for c in contact):
        raise ValueError(f"contact must be one URL without spaces or parentheses, got {contact!r}")
    if not contact.startswith(("http://", "https://", "mailto:")):
        raise ValueError(f"contact must start with https://, http:// or mailto:, got {contact!r}")
