"""How robots.txt answers are read, and the per-origin cache."""

import threading
import time

import pytest

from beam_cqia.web.policy import parse_url
from beam_cqia.web.robots import (
    MAX_ROBOTS_BYTES,
    RobotsCache,
    RobotsResponse,
    rules_from_response,
)

UA = "beam-cqia/0.1.0 (+https://example.org/crawler)"
ROBOTS = b"""# a comment
User-agent: beam-cqia
Disallow: /private/
Allow: /private/open
Disallow: /*.pdf$
Crawl-delay: 2.5

User-agent: *
Disallow: /
"""


def test_rules_of_our_group_apply():
    rules = rules_from_response(UA, RobotsResponse(200, ROBOTS, ""))
    assert rules.allowed("http://a.example/")
    assert not rules.allowed("http://a.example/private/x")
    assert rules.allowed("http://a.example/private/open")  # longest match wins
    assert not rules.allowed("http://a.example/doc.pdf")
    assert rules.allowed("http://a.example/doc.pdf?x=1")
    assert rules.crawl_delay() == 2.5


def test_other_agents_fall_back_to_the_star_group():
    rules = rules_from_response("OtherBot/1.0", RobotsResponse(200, ROBOTS, ""))
    assert not rules.allowed("http://a.example/")
    assert rules.crawl_delay() is None


@pytest.mark.parametrize(
    ("status", "allowed"),
    [
        (404, True),
        (410, True),
        (400, True),
        (401, False),
        (403, False),
        (429, False),
        (500, False),
        (503, False),
        (None, False),  # unreachable
    ],
)
def test_status_without_rules(status, allowed):
    rules = rules_from_response(UA, RobotsResponse(status, b"", "connection refused"))
    assert rules.allowed("http://a.example/page") is allowed
    assert rules.crawl_delay() is None
    assert ("allow all" if allowed else "disallow all") in rules.why


def test_empty_robots_allows_everything_and_bom_is_ignored():
    assert rules_from_response(UA, RobotsResponse(200, b"", "")).allowed("http://a/x")
    bom = "\ufeffUser-agent: *\nDisallow: /x\n".encode()
    assert not rules_from_response(UA, RobotsResponse(200, bom, "")).allowed("http://a/x")


def test_only_the_first_500_kib_are_read():
    padding = b"# " + b"x" * MAX_ROBOTS_BYTES + b"\n"
    body = b"User-agent: *\n" + padding + b"Disallow: /\n"
    assert rules_from_response(UA, RobotsResponse(200, body, "")).allowed("http://a/x")


def test_cache_fetches_each_origin_once_even_under_concurrency():
    fetched = []

    def fetch(target):
        fetched.append(target.url)
        time.sleep(0.05)
        return RobotsResponse(200, b"User-agent: *\nDisallow: /no\n", "")

    cache = RobotsCache(UA)
    results = []

    def ask():
        results.append(cache.rules(parse_url("http://a.example/page"), fetch))

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fetched == ["http://a.example/robots.txt"]
    assert sum(1 for _, was_fetched in results if was_fetched) == 1
    rules, was_fetched = cache.rules(parse_url("http://a.example/no"), fetch)
    assert not was_fetched and not rules.allowed("http://a.example/no")
    # another port or scheme is another origin
    cache.rules(parse_url("https://a.example/"), fetch)
    cache.rules(parse_url("http://a.example:8080/"), fetch)
    assert fetched[1:] == ["https://a.example/robots.txt", "http://a.example:8080/robots.txt"]
    assert cache.fetches == 3
