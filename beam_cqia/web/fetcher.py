"""A polite HTTP fetcher: address policy, robots.txt, per-host limits, retries, size and time caps.

No Beam here. One ``Fetcher`` serves one task (e.g. one host's URLs) and owns its connections;
the per-host limits (``HostGates``) and the robots.txt cache (``RobotsCache``) are meant to be
shared by every fetcher of a process, so that all threads respect one host's limits together.

What ``Fetcher.fetch`` does with a URL:

1. parses it (``invalid_url``), resolves the host and checks every address (``blocked_address``);
2. reads the origin's robots.txt once (see ``robots``) and obeys it (``robots_disallowed``); a
   Crawl-delay longer than the interval raises the host's interval, one longer than
   ``max_crawl_delay_seconds`` refuses the URL rather than stalling the crawl;
3. waits for the host's gate (minimum interval between request starts, concurrency limit), then
   sends one GET to an address checked in step 1 (never to a fresh DNS answer, so DNS rebinding
   cannot reach a refused address; TLS still verifies the certificate for the host name);
4. retries connection errors, timeouts, 429 and 5xx with exponential backoff and jitter, waiting
   at least a ``Retry-After`` (seconds or HTTP date); a ``Retry-After`` over
   ``max_retry_after_seconds`` ends the retries instead of being shortened;
5. follows redirects itself, up to ``max_redirects`` hops, running steps 1-4 for every hop;
6. streams the body under a total time limit per request and a size cap: a body over
   ``max_bytes`` (declared or counted) is refused as ``too_large``, never truncated.

The body is kept as received (content-encoding not decoded, chunked framing removed), which is
what a WARC response record holds; ``max_bytes`` counts those bytes. Names that do not exist are
errors without retries; other resolver failures are retried.
"""

import dataclasses
import email.utils
import random
import threading
import time
import urllib.parse
from collections.abc import Callable
from datetime import datetime, timezone
from typing import NamedTuple

import urllib3
from urllib3 import exceptions as u3exc

from beam_cqia.web.policy import (
    AddressPolicy,
    BlockedAddressError,
    InvalidUrlError,
    ResolveError,
    Target,
    parse_url,
)
from beam_cqia.web.ratelimit import HostGates
from beam_cqia.web.robots import MAX_ROBOTS_BYTES, RobotsCache, RobotsResponse

HTML_TYPES = ("text/html", "application/xhtml+xml")
_CHUNK = 64 * 1024
_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


@dataclasses.dataclass(frozen=True)
class FetchConfig:
    """How politely and how far to fetch.

    Args:
        user_agent: the full User-Agent header, e.g. from ``user_agent_string``.
        timeout_seconds: total time limit of one request (connect, headers and body).
        max_bytes: largest body accepted; larger pages are refused as ``too_large``.
        retries: retries after the first attempt, for connection errors, timeouts, 429 and 5xx.
        backoff_seconds: first backoff; doubled per retry, with jitter (50-100 %).
        max_backoff_seconds: cap of the computed backoff.
        max_retry_after_seconds: longest ``Retry-After`` waited for; longer ends the retries.
        max_redirects: redirect hops followed.
        min_interval_seconds: seconds between the starts of two requests to one host.
        per_host_concurrency: requests to one host in flight at once.
        max_crawl_delay_seconds: longest robots.txt Crawl-delay honoured; URLs of a host asking
            for more are refused as ``robots_disallowed``.
        html_only: refuse 2xx answers whose Content-Type is not HTML (``not_html``) before
            reading their body.
    """

    user_agent: str
    timeout_seconds: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    retries: int = 3
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    max_retry_after_seconds: float = 120.0
    max_redirects: int = 5
    min_interval_seconds: float = 1.0
    per_host_concurrency: int = 1
    max_crawl_delay_seconds: float = 60.0
    html_only: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.user_agent, str) or not self.user_agent.strip():
            raise ValueError("user_agent must be a non-empty string")
        if any(c in self.user_agent for c in "\r\n\0"):
            raise ValueError(f"user_agent must be one line, got {self.user_agent!r}")
        positive = ("timeout_seconds", "max_bytes")
        non_negative = (
            "retries",
            "backoff_seconds",
            "max_backoff_seconds",
            "max_retry_after_seconds",
            "max_redirects",
            "min_interval_seconds",
            "max_crawl_delay_seconds",
        )
        ints = ("max_bytes", "retries", "max_redirects", "per_host_concurrency")
        for name in (*positive, *non_negative, "per_host_concurrency"):
            value = getattr(self, name)
            kinds = (int,) if name in ints else (int, float)
            if isinstance(value, bool) or not isinstance(value, kinds) or value != value:
                kind = "an integer" if name in ints else "a number"
                raise ValueError(f"{name} must be {kind}, got {value!r}")
            if name in positive and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value!r}")
        if self.per_host_concurrency < 1:
            raise ValueError(f"per_host_concurrency must be >= 1, got {self.per_host_concurrency}")


def user_agent_string(product: str, contact: str) -> str:
    """``beam-cqia/0.1.0 (+https://example.org/crawler)``: a product token and a contact."""
    return f"{product} (+{contact})"


class Exchange(NamedTuple):
    """One HTTP request and its response, as sent and received."""

    url: str  # the normalized URL requested
    ip: str  # the address connected to
    request_target: str
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    http_version: str  # e.g. "HTTP/1.1"
    headers: list[tuple[str, str]]
    body: bytes  # as received: content-encoding kept, chunked framing removed
    started: datetime  # UTC

    def header(self, name: str) -> str | None:
        """The first response header called ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


class Fetched(NamedTuple):
    """A page fetched: the URL asked for, where it ended, and the final exchange."""

    url: str
    final_url: str
    exchange: Exchange
    attempts: int  # requests for the final hop (1 without retries)
    redirects: int
    requests: int  # every HTTP request this fetch made (robots.txt, retries, redirects)


class Refused(NamedTuple):
    """An expected drop (``invalid_url``, ``blocked_address``, ``robots_disallowed``,
    ``too_large``, ``not_html``, ``http_<status>``, ``too_many_redirects``, ``bad_redirect``)."""

    url: str
    reason: str
    detail: str
    requests: int
    status: int = 0  # the HTTP status when the refusal is an HTTP answer


class Failed(NamedTuple):
    """A failure after retries: network errors, timeouts, 429 and 5xx (``kind`` names it)."""

    url: str
    kind: str  # Timeout, ConnectionError, DNSError, TLSError, HTTPError
    message: str
    requests: int
    status: int = 0  # the last HTTP status for HTTPError


Outcome = Fetched | Refused | Failed


class _TransientError(Exception):
    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class _EndError(Exception):
    """Ends a fetch with an outcome (a refusal or a permanent failure)."""

    def __init__(self, reason: str, detail: str, failure: bool = False, status: int = 0):
        super().__init__(detail)
        self.reason, self.detail, self.failure, self.status = reason, detail, failure, status


class _Tally:
    """Requests made by one ``fetch`` call (used by one thread only)."""

    def __init__(self) -> None:
        self.requests = 0


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - now).total_seconds())


def is_html(content_type: str | None) -> bool:
    """Whether a Content-Type header names an HTML document."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() in HTML_TYPES


def _certifi_bundle() -> str | None:
    try:
        import certifi
    except ImportError:  # the system's CA store is used instead
        return None
    return certifi.where()


class Fetcher:
    """Fetches URLs one at a time per call; thread-safe (calls may run in parallel).

    Args:
        config: limits and identity.
        policy: which addresses may be fetched.
        gates: per-host limits shared by the process; a private set by default.
        robots: robots.txt cache shared by the process; a private one by default.
        clock: monotonic clock in seconds (injectable for tests).
        now: current UTC time (injectable for tests).
        rng: uniform [0, 1) random numbers for jitter (injectable for tests).
        ca_certs: CA bundle (PEM file) that HTTPS certificates must chain to; certifi's
            bundle if installed, else the system's.
    """

    def __init__(
        self,
        config: FetchConfig,
        policy: AddressPolicy,
        gates: HostGates | None = None,
        robots: RobotsCache | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        rng: Callable[[], float] = random.random,
        ca_certs: str | None = None,
    ):
        self.config, self.policy = config, policy
        self.gates = gates or HostGates(config.min_interval_seconds, config.per_host_concurrency)
        self.robots = robots or RobotsCache(config.user_agent)
        self._clock, self._now, self._rng = clock, now, rng
        self._pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
        self._pools_lock = threading.Lock()
        self._ca_certs = ca_certs or _certifi_bundle()

    def close(self) -> None:
        """Closes this fetcher's connections."""
        with self._pools_lock:
            pools, self._pools = self._pools, {}
        for pool in pools.values():
            pool.close()

    def __enter__(self) -> "Fetcher":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch(self, url: str) -> Outcome:
        """Fetches ``url`` following the module's rules; never raises for network problems."""
        tally = _Tally()
        try:
            target = parse_url(url)
        except InvalidUrlError as exc:
            return Refused(url, "invalid_url", str(exc), 0)
        result = self._follow(target, tally, robots_file=False)
        return result._replace(url=url, requests=tally.requests)

    def _follow(self, target: Target, tally: _Tally, robots_file: bool) -> Outcome:
        first = target.url
        for hop in range(self.config.max_redirects + 1):
            try:
                addresses = self._admit(target, tally, robots_file)
                exchange, attempts = self._get(target, addresses, tally, robots_file)
            except _EndError as end:
                if end.failure:
                    return Failed(first, end.reason, f"{target.url}: {end.detail}", 0, end.status)
                return Refused(first, end.reason, f"{target.url}: {end.detail}", 0, end.status)
            status = exchange.status
            if status in (301, 302, 303, 307, 308):
                location = exchange.header("Location")
                if not location:
                    detail = f"{target.url}: redirect without Location"
                    return Refused(first, f"http_{status}", detail, 0, status)
                try:
                    target = parse_url(urllib.parse.urljoin(target.url, location.strip()))
                except InvalidUrlError as exc:
                    return Refused(first, "bad_redirect", f"{target.url} -> {exc}", 0, status)
                continue
            if 200 <= status < 300:
                return Fetched(first, target.url, exchange, attempts, hop, 0)
            return Refused(
                first, f"http_{status}", f"{target.url}: HTTP {status} {exchange.reason}", 0, status
            )
        return Refused(
            first, "too_many_redirects", f"more than {self.config.max_redirects} redirects", 0
        )

    def _admit(self, target: Target, tally: _Tally, robots_file: bool) -> list[str]:
        """Checks the addresses and robots.txt of a hop; returns the addresses to connect to."""
        try:
            addresses = self.policy.addresses(target)
        except BlockedAddressError as exc:
            raise _EndError("blocked_address", str(exc)) from exc
        except ResolveError as exc:
            if exc.permanent:
                raise _EndError("DNSError", str(exc), failure=True) from exc
            addresses = []  # resolved again, with retries, in _get
        if robots_file:
            return addresses
        rules, _fetched = self.robots.rules(target, lambda t: self._fetch_robots(t, tally))
        if not rules.allowed(target.url):
            raise _EndError("robots_disallowed", f"disallowed by {rules.why}")
        delay = rules.crawl_delay()
        if delay is not None:
            if delay > self.config.max_crawl_delay_seconds:
                raise _EndError(
                    "robots_disallowed",
                    f"Crawl-delay {delay:g} s exceeds max_crawl_delay_seconds "
                    f"{self.config.max_crawl_delay_seconds:g}",
                )
            self.gates.gate(target.host).raise_interval(delay)
        return addresses

    def _fetch_robots(self, target: Target, tally: _Tally) -> RobotsResponse:
        result = self._follow(target, tally, robots_file=True)
        if isinstance(result, Fetched):
            return RobotsResponse(result.exchange.status, result.exchange.body, "")
        note = result.detail if isinstance(result, Refused) else f"{result.kind}: {result.message}"
        # A status: a 4xx refusal, or 429/5xx after retries; none: no HTTP answer at all.
        return RobotsResponse(result.status or None, b"", note)

    def _get(
        self, target: Target, addresses: list[str], tally: _Tally, robots_file: bool
    ) -> tuple[Exchange, int]:
        """One hop with retries; returns the last exchange and the attempts made.

        Raises:
            _EndError: for refusals (too large, not HTML) and failures after retries.
        """
        config = self.config
        gate = self.gates.gate(target.host)
        attempt = 0
        while True:
            attempt += 1
            retry_after = None
            status = 0
            with gate.slot():
                try:
                    if not addresses:
                        addresses = self._resolve_again(target)
                    tally.requests += 1
                    exchange = self._exchange(target, addresses, robots_file)
                except _TransientError as exc:
                    kind, problem = exc.kind, str(exc)
                else:
                    status = exchange.status
                    if status != 429 and status < 500:
                        return exchange, attempt
                    kind, problem = "HTTPError", f"HTTP {status} {exchange.reason}"
                    retry_after = parse_retry_after(exchange.header("Retry-After"), self._now())
            tries = f"attempt {attempt} of {config.retries + 1}"
            if attempt > config.retries:
                raise _EndError(kind, f"{problem} ({tries})", failure=True, status=status)
            delay = min(config.max_backoff_seconds, config.backoff_seconds * 2 ** (attempt - 1))
            delay *= 0.5 + 0.5 * self._rng()
            if retry_after is not None:
                if retry_after > config.max_retry_after_seconds:
                    raise _EndError(
                        kind,
                        f"{problem}; Retry-After {retry_after:g} s exceeds "
                        f"max_retry_after_seconds {config.max_retry_after_seconds:g} ({tries})",
                        failure=True,
                        status=status,
                    )
                delay = max(delay, retry_after)
            gate.defer(delay)

    def _resolve_again(self, target: Target) -> list[str]:
        try:
            return self.policy.addresses(target)
        except BlockedAddressError as exc:
            raise _EndError("blocked_address", str(exc)) from exc
        except ResolveError as exc:
            if exc.permanent:
                raise _EndError("DNSError", str(exc), failure=True) from exc
            raise _TransientError("DNSError", str(exc)) from exc

    def _pool(self, target: Target, ip: str) -> urllib3.HTTPConnectionPool:
        key = (target.scheme, ip, target.port, target.host)
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = self._new_pool(target, ip)
            return pool

    def _new_pool(self, target: Target, ip: str) -> urllib3.HTTPConnectionPool:
        # Connects to ``ip`` (checked by the policy); TLS verifies the certificate for the name.
        size = self.config.per_host_concurrency
        if target.scheme == "https":
            return urllib3.HTTPSConnectionPool(
                ip,
                target.port,
                maxsize=size,
                retries=False,
                cert_reqs="CERT_REQUIRED",
                ca_certs=self._ca_certs,
                server_hostname=target.host,
                assert_hostname=target.host,
            )
        return urllib3.HTTPConnectionPool(ip, target.port, maxsize=size, retries=False)

    def _exchange(self, target: Target, addresses: list[str], robots_file: bool) -> Exchange:
        """Sends one GET to the first address that accepts a connection and reads the answer.

        Raises:
            _TransientError: connection errors and timeouts.
            _EndError: too large, not HTML, TLS errors.
        """
        config = self.config
        deadline = self._clock() + config.timeout_seconds
        headers = [
            ("Host", target.host_header),
            ("User-Agent", config.user_agent),
            ("Accept", "text/plain,*/*;q=0.8" if robots_file else _ACCEPT),
            ("Accept-Encoding", "gzip, deflate"),
        ]
        failures = []
        response = None
        started, answered = self._now(), ""
        for ip in addresses:
            remaining = deadline - self._clock()
            if remaining <= 0:
                break
            started = self._now()
            try:
                response = self._pool(target, ip).urlopen(
                    "GET",
                    target.request_target,
                    headers=dict(headers),
                    redirect=False,
                    retries=False,
                    assert_same_host=False,
                    preload_content=False,
                    decode_content=False,
                    timeout=urllib3.Timeout(total=remaining),
                )
                answered = ip
                break
            except (u3exc.NewConnectionError, u3exc.ConnectTimeoutError) as exc:
                failures.append(f"{ip}: {exc}")
            except u3exc.SSLError as exc:
                raise _EndError("TLSError", f"TLS failed with {ip}: {exc}", failure=True) from exc
            except (u3exc.ReadTimeoutError, TimeoutError) as exc:
                raise _TransientError(
                    "Timeout", f"no answer within {config.timeout_seconds:g} s from {ip}"
                ) from exc
            except (u3exc.ProtocolError, u3exc.HTTPError, OSError) as exc:
                raise _TransientError("ConnectionError", f"{ip}: {exc}") from exc
        if response is None:
            if not failures:
                raise _TransientError(
                    "Timeout", f"no connection within {config.timeout_seconds:g} s"
                )
            raise _TransientError("ConnectionError", "cannot connect: " + "; ".join(failures))
        try:
            body = self._read_body(response, deadline, target, robots_file)
        finally:
            response.release_conn()
        return Exchange(
            url=target.url,
            ip=answered,
            request_target=target.request_target,
            request_headers=headers,
            status=response.status,
            reason=response.reason or "",
            http_version="HTTP/1.0" if response.version == 10 else "HTTP/1.1",
            headers=list(response.headers.items()),
            body=body,
            started=started,
        )

    def _read_body(
        self, response: urllib3.BaseHTTPResponse, deadline: float, target: Target, robots: bool
    ) -> bytes:
        config = self.config
        status = response.status
        if not 200 <= status < 300:
            response.close()  # error and redirect bodies are not kept
            return b""
        limit = MAX_ROBOTS_BYTES if robots else config.max_bytes
        if config.html_only and not robots:
            content_type = response.headers.get("Content-Type")
            if not is_html(content_type):
                response.close()
                raise _EndError("not_html", f"Content-Type {content_type!r} is not HTML")
        declared = response.headers.get("Content-Length", "")
        if not robots and declared.strip().isdigit() and int(declared) > limit:
            response.close()
            raise _EndError("too_large", f"Content-Length {declared} > max_bytes {limit}")
        chunks, size = [], 0
        try:
            while True:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    response.close()
                    raise _TransientError(
                        "Timeout",
                        f"body not complete within {config.timeout_seconds:g} s "
                        f"({size} bytes read)",
                    )
                sock = getattr(response.connection, "sock", None)
                if sock is not None:
                    sock.settimeout(remaining)
                chunk = response.read1(_CHUNK, decode_content=False)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    response.close()
                    if robots:  # RFC 9309: parse at least the first 500 KiB, ignore the rest
                        chunks.append(chunk)
                        break
                    raise _EndError("too_large", f"body over max_bytes {limit}")
                chunks.append(chunk)
        except (u3exc.ReadTimeoutError, TimeoutError) as exc:
            response.close()
            raise _TransientError(
                "Timeout", f"body not complete within {config.timeout_seconds:g} s"
            ) from exc
        except (u3exc.ProtocolError, u3exc.HTTPError, OSError) as exc:
            response.close()
            raise _TransientError("ConnectionError", f"reading the body failed: {exc}") from exc
        return b"".join(chunks)
