"""robots.txt: fetched once per origin, parsed with Protego (RFC 9309), obeyed (no Beam).

How the answer to ``GET /robots.txt`` is read (after redirects and retries):

- 2xx: the file's rules for our user agent apply (Protego: wildcards, longest match, groups).
- 404 and 410, and other 4xx except 401/403/429: there is no robots.txt, everything is allowed.
- 401 and 403: everything is disallowed (the site keeps its robots.txt from us, a stronger sign
  than RFC 9309's "unavailable"; Python's robotparser reads them the same way).
- 429, 5xx, and no answer at all (network error, timeout, a refused address, too many
  redirects): everything is disallowed. RFC 9309 lets a crawler assume full disallow while the
  file is unreachable; we are conservative and keep that for the whole run (the cache has no
  expiry: a crawl job is short compared with how often sites change their robots.txt).

Only the first 500 KiB of a robots.txt are parsed (RFC 9309's minimum). A Crawl-delay for our
user agent is returned so the fetcher can raise the host's interval.
"""

import threading
from collections.abc import Callable
from typing import NamedTuple

from protego import Protego

from beam_cqia.web.policy import Target

MAX_ROBOTS_BYTES = 500 * 1024


class RobotsResponse(NamedTuple):
    """What fetching a robots.txt gave: a status (None: no HTTP answer), the body, and a note."""

    status: int | None
    body: bytes
    note: str


class RobotsRules:
    """The verdict of one origin's robots.txt for one user agent.

    Args:
        user_agent: our User-Agent string (Protego matches the groups' product tokens in it).
        parser: the parsed robots.txt, or None when the whole origin is allowed or disallowed.
        allow_all: with no parser, whether everything is allowed.
        why: how the verdict came about, e.g. ``robots.txt answered 503``.
    """

    def __init__(
        self, user_agent: str, parser: Protego | None, allow_all: bool = True, why: str = ""
    ):
        self._ua, self._parser, self._allow_all, self.why = user_agent, parser, allow_all, why

    def allowed(self, url: str) -> bool:
        """Whether ``url`` (of this origin) may be fetched."""
        if self._parser is None:
            return self._allow_all
        return self._parser.can_fetch(url, self._ua)

    def crawl_delay(self) -> float | None:
        """The Crawl-delay for our user agent in seconds, or None."""
        if self._parser is None:
            return None
        delay = self._parser.crawl_delay(self._ua)
        return None if delay is None else float(delay)


def rules_from_response(user_agent: str, response: RobotsResponse) -> RobotsRules:
    """Reads a robots.txt answer as described in the module docstring."""
    status = response.status
    if status is None:
        return RobotsRules(
            user_agent, None, False, f"robots.txt unreachable ({response.note}): disallow all"
        )
    if 200 <= status < 300:
        text = response.body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        return RobotsRules(
            user_agent, Protego.parse(text.lstrip("\ufeff")), True, "robots.txt rules"
        )
    if status in (401, 403) or status == 429 or status >= 500 or status < 200:
        return RobotsRules(user_agent, None, False, f"robots.txt answered {status}: disallow all")
    if 400 <= status < 500:
        return RobotsRules(user_agent, None, True, f"robots.txt answered {status}: allow all")
    # 3xx left over: redirects were not followed to the end (the fetcher follows them).
    return RobotsRules(user_agent, None, False, f"robots.txt answered {status}: disallow all")


class RobotsCache:
    """Fetches each origin's robots.txt once and keeps its rules (thread-safe).

    Concurrent callers for the same origin wait for one fetch instead of each fetching.

    Args:
        user_agent: our User-Agent string.
    """

    def __init__(self, user_agent: str):
        self._ua = user_agent
        self._rules: dict[tuple[str, str, int], RobotsRules] = {}
        self._locks: dict[tuple[str, str, int], threading.Lock] = {}
        self._lock = threading.Lock()
        self.fetches = 0

    def rules(
        self, target: Target, fetch: Callable[[Target], RobotsResponse]
    ) -> tuple[RobotsRules, bool]:
        """The rules of ``target``'s origin, and whether they were fetched by this call.

        Args:
            target: any URL of the origin.
            fetch: ``(target of /robots.txt) -> RobotsResponse``, called on a cache miss; it
                must not raise.
        """
        origin = target.origin
        with self._lock:
            cached = self._rules.get(origin)
            if cached is not None:
                return cached, False
            origin_lock = self._locks.setdefault(origin, threading.Lock())
        with origin_lock:
            with self._lock:
                cached = self._rules.get(origin)
            if cached is not None:
                return cached, False
            robots = target._replace(url=target.robots_url, request_target="/robots.txt")
            rules = rules_from_response(self._ua, fetch(robots))
            with self._lock:
                self._rules[origin] = rules
                self.fetches += 1
            return rules, True
