"""The fetcher against real HTTP servers on loopback addresses (no internet).

Loopback servers need ``allow_private=True``; the tests of the address policy show that without
it nothing reaches them.
"""

import concurrent.futures
import gzip
import itertools
import time
from datetime import datetime, timedelta, timezone

import pytest

from beam_cqia.web.fetcher import (
    Failed,
    FetchConfig,
    Fetched,
    Fetcher,
    Refused,
    is_html,
    parse_retry_after,
    user_agent_string,
)
from beam_cqia.web.policy import AddressPolicy
from tests.web.httpserver import Reply, TestServer, html, redirect

# Server-side arrival times carry a few ms of scheduling noise on top of the client's spacing.
SLACK = 0.04
UA = user_agent_string("beam-cqia/0.1.0", "https://example.org/crawler")
FAST = {"min_interval_seconds": 0.0, "backoff_seconds": 0.02, "timeout_seconds": 2.0}


def fetcher(allow_private=True, allow_networks=(), **overrides):
    config = FetchConfig(user_agent=UA, **{**FAST, **overrides})
    return Fetcher(config, AddressPolicy(allow_private, allow_networks))


@pytest.fixture
def server():
    with TestServer() as s:
        s.routes["/robots.txt"] = Reply(404)
        yield s


def test_fetches_a_page_with_our_user_agent(server):
    server.routes["/a"] = html("<p>你好</p>")
    with fetcher() as f:
        outcome = f.fetch(server.url("/a"))
    assert isinstance(outcome, Fetched)
    assert outcome.exchange.body == "<p>你好</p>".encode()
    assert outcome.exchange.status == 200
    assert outcome.exchange.ip == "127.0.0.1"
    assert outcome.final_url == outcome.url == server.url("/a")
    assert (outcome.attempts, outcome.redirects, outcome.requests) == (1, 0, 2)
    assert server.paths() == ["/robots.txt", "/a"]
    assert {e.headers["User-Agent"] for e in server.log} == {UA}
    assert server.log[1].headers["Host"] == f"127.0.0.1:{server.port}"


def test_robots_disallowed_path_is_never_requested(server):
    server.routes["/robots.txt"] = Reply(
        200, b"User-agent: beam-cqia\nDisallow: /private\n\nUser-agent: *\nDisallow: /\n"
    )
    server.routes["/public"] = html("ok")
    with fetcher() as f:
        refused = f.fetch(server.url("/private/page"))
        fetched = f.fetch(server.url("/public"))
    assert isinstance(refused, Refused) and refused.reason == "robots_disallowed"
    assert isinstance(fetched, Fetched)
    assert server.paths() == ["/robots.txt", "/public"]  # robots.txt once, no /private


def test_robots_404_allows_everything(server):
    server.routes["/x"] = html("x")
    with fetcher() as f:
        assert isinstance(f.fetch(server.url("/x")), Fetched)


@pytest.mark.parametrize("status", [500, 503, 403])
def test_robots_error_disallows_the_host(server, status):
    server.routes["/robots.txt"] = Reply(status)
    server.routes["/x"] = html("x")
    with fetcher(retries=1) as f:
        outcome = f.fetch(server.url("/x"))
        again = f.fetch(server.url("/y"))
    assert outcome.reason == again.reason == "robots_disallowed"
    assert f"answered {status}" in outcome.detail
    robots_requests = 2 if status >= 500 else 1  # 5xx is retried before giving up
    assert server.paths() == ["/robots.txt"] * robots_requests


def test_unreachable_robots_disallows():
    with TestServer() as s:
        url = s.url("/x")
    with fetcher(retries=0) as f:  # the server is gone: connection refused
        outcome = f.fetch(url)
    assert outcome.reason == "robots_disallowed"
    assert "unreachable" in outcome.detail


def test_crawl_delay_longer_than_the_interval_is_honoured(server):
    server.routes["/robots.txt"] = Reply(200, b"User-agent: *\nCrawl-delay: 0.2\n")
    for i in range(3):
        server.routes[f"/p{i}"] = html(str(i))
    with fetcher(min_interval_seconds=0.01) as f:
        assert all(isinstance(f.fetch(server.url(f"/p{i}")), Fetched) for i in range(3))
    times = server.times("/p")
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.2 - SLACK


def test_crawl_delay_over_the_maximum_refuses(server):
    server.routes["/robots.txt"] = Reply(200, b"User-agent: *\nCrawl-delay: 600\n")
    with fetcher(max_crawl_delay_seconds=30) as f:
        outcome = f.fetch(server.url("/x"))
    assert outcome.reason == "robots_disallowed" and "Crawl-delay 600" in outcome.detail
    assert server.paths() == ["/robots.txt"]


def test_requests_to_one_host_keep_the_interval(server):
    for i in range(4):
        server.routes[f"/p{i}"] = html(str(i))
    with fetcher(min_interval_seconds=0.1) as f:
        for i in range(4):
            assert isinstance(f.fetch(server.url(f"/p{i}")), Fetched)
    times = server.times("/")  # robots.txt counts too
    assert len(times) == 5
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.1 - SLACK


def test_503_twice_then_200_is_fetched_on_the_third_attempt(server):
    server.routes["/flaky"] = [Reply(503), Reply(503), html("finally")]
    with fetcher(retries=3) as f:
        outcome = f.fetch(server.url("/flaky"))
    assert isinstance(outcome, Fetched)
    assert outcome.attempts == 3
    assert outcome.exchange.body == b"finally"
    assert server.paths().count("/flaky") == 3


def test_429_waits_for_retry_after(server):
    server.routes["/busy"] = [Reply(429, headers=[("Retry-After", "1")]), html("ok")]
    with fetcher(retries=2) as f:
        outcome = f.fetch(server.url("/busy"))
    assert isinstance(outcome, Fetched) and outcome.attempts == 2
    first, second = server.times("/busy")
    assert second - first >= 1 - SLACK


def test_retry_after_over_the_cap_ends_the_retries(server):
    server.routes["/busy"] = Reply(503, headers=[("Retry-After", "3600")])
    started = time.monotonic()
    with fetcher(retries=5, max_retry_after_seconds=5) as f:
        outcome = f.fetch(server.url("/busy"))
    assert isinstance(outcome, Failed) and outcome.kind == "HTTPError"
    assert "Retry-After 3600 s exceeds" in outcome.message
    assert time.monotonic() - started < 1
    assert server.paths().count("/busy") == 1


def test_5xx_after_all_retries_is_an_error(server):
    server.routes["/down"] = Reply(502)
    with fetcher(retries=2) as f:
        outcome = f.fetch(server.url("/down"))
    assert isinstance(outcome, Failed)
    assert outcome.kind == "HTTPError"
    assert "HTTP 502" in outcome.message and "attempt 3 of 3" in outcome.message
    assert server.url("/down") in outcome.message
    assert server.paths().count("/down") == 3


def test_404_is_rejected_without_retries(server):
    with fetcher(retries=3) as f:
        outcome = f.fetch(server.url("/missing"))
    assert isinstance(outcome, Refused)
    assert (outcome.reason, outcome.status) == ("http_404", 404)
    assert server.paths().count("/missing") == 1


def test_too_large_bodies_are_rejected_not_truncated(server):
    server.routes["/streamed"] = Reply(200, b"x" * 50_000, close_delimited=True)
    server.routes["/declared"] = Reply(200, b"y" * 50_000)
    server.routes["/fits"] = Reply(200, b"z" * 1000)
    with fetcher(max_bytes=1000) as f:
        streamed = f.fetch(server.url("/streamed"))
        declared = f.fetch(server.url("/declared"))
        fits = f.fetch(server.url("/fits"))
    assert streamed.reason == "too_large" and "body over max_bytes 1000" in streamed.detail
    assert declared.reason == "too_large" and "Content-Length 50000" in declared.detail
    assert isinstance(fits, Fetched) and len(fits.exchange.body) == 1000


def test_slow_server_times_out_after_retries(server):
    server.routes["/slow"] = html("late", delay=0.6)
    started = time.monotonic()
    with fetcher(timeout_seconds=0.2, retries=1) as f:
        outcome = f.fetch(server.url("/slow"))
    assert isinstance(outcome, Failed) and outcome.kind == "Timeout"
    assert server.url("/slow") in outcome.message
    assert "attempt 2 of 2" in outcome.message
    assert server.paths().count("/slow") == 2
    assert time.monotonic() - started < 1.1  # not waiting for the server's 2 x 0.6 s


def test_a_dripping_body_hits_the_total_time_limit(server):
    # Every chunk arrives well within the timeout, but the whole body would take 2 s.
    server.routes["/drip"] = Reply(200, b"d" * 40, drip=0.05)
    started = time.monotonic()
    with fetcher(timeout_seconds=0.3, retries=0) as f:
        outcome = f.fetch(server.url("/drip"))
    assert isinstance(outcome, Failed) and outcome.kind == "Timeout"
    assert "body not complete within 0.3 s" in outcome.message
    assert time.monotonic() - started < 1.5


def test_redirects_are_followed_to_another_host(server):
    server.routes["/old"] = redirect(server.url("/new", name="localhost"), 301)
    server.routes["/new"] = html("moved here")
    with fetcher() as f:
        outcome = f.fetch(server.url("/old"))
    assert isinstance(outcome, Fetched)
    assert outcome.final_url == server.url("/new", name="localhost")
    assert outcome.redirects == 1
    assert outcome.exchange.body == b"moved here"
    # robots.txt is read for each host name (origin) the redirect visits
    assert [(e.path, e.headers["Host"].split(":")[0]) for e in server.log] == [
        ("/robots.txt", "127.0.0.1"),
        ("/old", "127.0.0.1"),
        ("/robots.txt", "localhost"),
        ("/new", "localhost"),
    ]


def test_relative_redirects_and_their_limit(server):
    server.routes["/loop"] = redirect("/loop")
    server.routes["/to-ftp"] = redirect("ftp://example.com/file")
    server.routes["/no-location"] = Reply(302)
    with fetcher(max_redirects=3) as f:
        loop = f.fetch(server.url("/loop"))
        ftp = f.fetch(server.url("/to-ftp"))
        bare = f.fetch(server.url("/no-location"))
    assert loop.reason == "too_many_redirects"
    assert server.paths().count("/loop") == 4
    assert ftp.reason == "bad_redirect"
    assert bare.reason == "http_302"


def test_loopback_is_blocked_without_any_request(server):
    server.routes["/a"] = html("a")
    with fetcher(allow_private=False) as f:
        literal = f.fetch(server.url("/a"))
        name = f.fetch(server.url("/a", name="localhost"))
    assert literal.reason == name.reason == "blocked_address"
    assert "loopback" in literal.detail
    assert "localhost resolves to 127.0.0.1" in name.detail
    assert server.log == []


def test_redirect_from_an_allowed_host_to_a_private_address_is_blocked():
    # 127.0.0.2 stands for an allowed address (allow_networks); 127.0.0.1 for a private one.
    with TestServer("127.0.0.2") as allowed, TestServer("127.0.0.1") as private:
        allowed.routes["/robots.txt"] = Reply(404)
        allowed.routes["/go"] = redirect(private.url("/secret"))
        allowed.routes["/go-by-name"] = redirect(private.url("/secret", name="localhost"))
        allowed.routes["/ok"] = html("fine")
        with fetcher(allow_private=False, allow_networks=["127.0.0.2/32"]) as f:
            ok = f.fetch(allowed.url("/ok"))
            by_address = f.fetch(allowed.url("/go"))
            by_name = f.fetch(allowed.url("/go-by-name"))
        assert isinstance(ok, Fetched)
        assert by_address.reason == by_name.reason == "blocked_address"
        assert private.url("/secret") in by_address.detail
        assert private.log == []


def test_invalid_urls_are_rejected():
    with fetcher() as f:
        for url in ("ftp://example.com/x", "http:///nohost", "garbage", "http://a b/"):
            outcome = f.fetch(url)
            assert (outcome.reason, outcome.requests) == ("invalid_url", 0), url


def test_html_only_rejects_other_types_before_the_body(server):
    server.routes["/doc.pdf"] = Reply(200, b"%PDF" * 10, [("Content-Type", "application/pdf")])
    server.routes["/page"] = html("<p>page</p>")
    with fetcher(html_only=True) as f:
        pdf = f.fetch(server.url("/doc.pdf"))
        page = f.fetch(server.url("/page"))
    assert pdf.reason == "not_html" and "application/pdf" in pdf.detail
    assert isinstance(page, Fetched)


def test_bodies_are_kept_as_received(server):
    packed = gzip.compress("<p>压缩的页面</p>".encode())
    server.routes["/gz"] = Reply(
        200, packed, [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]
    )
    with fetcher() as f:
        outcome = f.fetch(server.url("/gz"))
    assert outcome.exchange.body == packed
    assert outcome.exchange.header("content-encoding") == "gzip"
    assert server.log[-1].headers["Accept-Encoding"] == "gzip, deflate"


def test_per_host_concurrency_allows_parallel_requests(server):
    for i in range(4):
        server.routes[f"/s{i}"] = html(str(i), delay=0.3)
    with fetcher(per_host_concurrency=2) as f:
        f.fetch(server.url("/warm-up-robots"))
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            outcomes = list(pool.map(f.fetch, [server.url(f"/s{i}") for i in range(4)]))
        elapsed = time.monotonic() - started
    assert all(isinstance(o, Fetched) for o in outcomes)
    assert 0.55 < elapsed < 1.15  # two at a time: two rounds of 0.3 s, not one and not four


def test_parse_retry_after():
    now = datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("120", now) == 120
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now) == 90
    assert parse_retry_after("Wed, 01 Jan 2020 00:00:00 GMT", now) == 0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_is_html():
    assert is_html("text/html; charset=utf-8")
    assert is_html("application/xhtml+xml")
    assert not is_html("application/pdf")
    assert not is_html(None)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"user_agent": ""}, "user_agent must be a non-empty string"),
        ({"user_agent": "bot\r\nX-Evil: 1"}, "one line"),
        ({"timeout_seconds": 0}, "timeout_seconds must be > 0"),
        ({"max_bytes": 1.5}, "max_bytes must be an integer"),
        ({"retries": -1}, "retries must be >= 0"),
        ({"per_host_concurrency": 0}, "per_host_concurrency must be >= 1"),
        ({"min_interval_seconds": "1"}, "min_interval_seconds must be a number"),
        ({"html_only": True, "retries": True}, "retries must be an integer"),
    ],
)
def test_config_is_validated(overrides, message):
    with pytest.raises(ValueError, match=message):
        FetchConfig(**{"user_agent": UA, **overrides})


def _self_signed(tmp_path, name):
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


def test_https_connects_to_the_checked_address_and_verifies_the_name(tmp_path):
    import ssl

    cert, key = _self_signed(tmp_path, "localhost")
    with TestServer() as server:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.wrap_tls(context)
        server.routes["/robots.txt"] = Reply(404)
        server.routes["/s"] = html("<p>secure</p>")
        url = f"https://localhost:{server.port}/s"
        config = FetchConfig(user_agent=UA, **{**FAST, "retries": 0})
        trusted = Fetcher(config, AddressPolicy(allow_private=True), ca_certs=cert)
        ok = trusted.fetch(url)
        by_ip = trusted.fetch(f"https://127.0.0.1:{server.port}/s")
        untrusted = Fetcher(config, AddressPolicy(allow_private=True)).fetch(url)
    assert isinstance(ok, Fetched) and ok.exchange.body == b"<p>secure</p>"
    assert ok.exchange.ip == "127.0.0.1"
    # The certificate names localhost, not 127.0.0.1; an unknown CA is refused too. Both fail
    # at robots.txt already, which then disallows the host.
    assert by_ip.reason == "robots_disallowed" and "doesn't match" in by_ip.detail
    assert (
        untrusted.reason == "robots_disallowed" and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail
    )
