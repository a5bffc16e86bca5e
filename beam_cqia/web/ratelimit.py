"""Per-host politeness: a minimum interval between request starts and a concurrency limit.

Thread-safe; one ``HostGates`` is shared by every fetching thread of a worker process, so a host
reached through redirects from several hosts is still limited there. Workers do not coordinate
with each other: each host's URLs are fetched by one worker (they are grouped by host), and only
redirects into a host that another worker is crawling at the same time can exceed its limits.
"""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator


class HostGate:
    """The limits of one host.

    Args:
        min_interval: seconds between the starts of two requests to the host.
        concurrency: requests to the host in flight at once.
        clock: monotonic clock in seconds (injectable for tests).
        sleep: sleep function (injectable for tests).
    """

    def __init__(
        self,
        min_interval: float,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if min_interval < 0:
            raise ValueError(f"min_interval must be >= 0, got {min_interval!r}")
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency!r}")
        self._interval = float(min_interval)
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._next = float("-inf")  # earliest start of the next request
        self._clock, self._sleep = clock, sleep

    @property
    def min_interval(self) -> float:
        """The interval in force (raised by a robots.txt Crawl-delay)."""
        return self._interval

    def raise_interval(self, seconds: float) -> None:
        """Raises the interval to ``seconds`` if that is longer (e.g. for a Crawl-delay)."""
        with self._lock:
            self._interval = max(self._interval, float(seconds))

    def defer(self, seconds: float) -> None:
        """Makes the next request to the host wait ``seconds`` from now (backoff, Retry-After)."""
        with self._lock:
            self._next = max(self._next, self._clock() + seconds)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Waits for a free slot and the host's next start time; hold it during the request."""
        with self._slots:
            with self._lock:
                now = self._clock()
                start = max(now, self._next)
                self._next = start + self._interval
            if start > now:
                self._sleep(start - now)
            yield


class HostGates:
    """A thread-safe registry of ``HostGate``s keyed by host, created on first use.

    Args:
        min_interval: the default interval of every host.
        concurrency: the concurrency limit of every host.
        clock: monotonic clock in seconds (injectable for tests).
        sleep: sleep function (injectable for tests).
    """

    def __init__(
        self,
        min_interval: float,
        concurrency: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._args = (min_interval, concurrency, clock, sleep)
        HostGate(*self._args)  # validates the arguments now
        self._gates: dict[str, HostGate] = {}
        self._lock = threading.Lock()

    def gate(self, host: str) -> HostGate:
        """The gate of ``host``."""
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = HostGate(*self._args)
            return gate
