"""URL parsing and the address policy (no network: resolvers are fakes or IP literals)."""

import ipaddress

import pytest

from beam_cqia.web.policy import (
    AddressPolicy,
    BlockedAddressError,
    InvalidUrlError,
    ResolveError,
    blocked_reason,
    host_key,
    parse_url,
)


@pytest.mark.parametrize(
    ("url", "normalized", "host", "port", "target"),
    [
        ("http://Example.COM/a?b=1#frag", "http://example.com/a?b=1", "example.com", 80, "/a?b=1"),
        ("HTTPS://example.com:443", "https://example.com/", "example.com", 443, "/"),
        ("http://example.com:8080/x", "http://example.com:8080/x", "example.com", 8080, "/x"),
        ("http://[::1]:81/", "http://[::1]:81/", "::1", 81, "/"),
        (
            "http://例子.测试/路径",
            "http://xn--fsqu00a.xn--0zwm56d/%E8%B7%AF%E5%BE%84",
            None,
            80,
            None,
        ),
        ("http://example.com/a%20b", "http://example.com/a%20b", "example.com", 80, "/a%20b"),
    ],
)
def test_parse_url_normalizes(url, normalized, host, port, target):
    parsed = parse_url(url)
    assert parsed.url == normalized
    assert parsed.port == port
    if host:
        assert parsed.host == host
    if target:
        assert parsed.request_target == target


def test_target_helpers():
    target = parse_url("https://Example.com:8443/a/b?c")
    assert target.origin == ("https", "example.com", 8443)
    assert target.host_header == "example.com:8443"
    assert target.robots_url == "https://example.com:8443/robots.txt"
    assert parse_url("http://[::1]/").host_header == "[::1]"
    assert host_key("http://A.example.com:81/x") == "a.example.com"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/file", "scheme must be http or https"),
        ("mailto:someone@example.com", "scheme must be http or https"),
        ("garbage", "scheme must be http or https"),
        ("http:///path-only", "no host"),
        ("http://", "no host"),
        ("http://exa mple.com/", "whitespace"),
        ("http://example.com/\x00", "control characters"),
        ("", "empty"),
        ("http://example.com:99999/", "(?i)port"),
        ("http://example.com:abc/", "(?i)port"),
        ("http://user:secret@example.com/", "credentials"),
        ("http://bad..name/", "not a valid name"),
        ("http://exa$mple.com/", "not a valid name"),
        ("http://[::1/", "Invalid IPv6"),
    ],
)
def test_parse_url_rejects(url, message):
    with pytest.raises(InvalidUrlError, match=message):
        parse_url(url)


def test_parse_url_rejects_non_strings():
    with pytest.raises(InvalidUrlError, match="not a string"):
        parse_url(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("100.64.0.1", "not globally routable"),  # carrier-grade NAT
        ("192.0.2.1", "private"),  # documentation range
        ("::ffff:10.0.0.1", "private (inside IPv6 ::ffff:a00:1)"),
        ("::ffff:127.0.0.1", "loopback (inside IPv6"),
        ("2002:a00:1::1", "private (inside IPv6"),  # 6to4 of 10.0.0.1
    ],
)
def test_blocked_reason_names_the_kind_of_address(address, reason):
    assert blocked_reason(ipaddress.ip_address(address)).startswith(reason)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"])
def test_public_addresses_pass(address):
    assert blocked_reason(ipaddress.ip_address(address)) is None


def _fake_resolver(table):
    calls = []

    def resolve(host, port):
        calls.append((host, port))
        if host not in table:
            raise ResolveError(f"cannot resolve {host!r}", permanent=True)
        return table[host]

    resolve.calls = calls
    return resolve


def test_a_public_looking_name_that_resolves_to_loopback_is_blocked():
    resolver = _fake_resolver({"www.example.com": ["127.0.0.1"]})
    policy = AddressPolicy(resolver=resolver)
    with pytest.raises(
        BlockedAddressError, match=r"www\.example\.com resolves to 127\.0\.0\.1: loopback"
    ):
        policy.addresses(parse_url("http://www.example.com/"))
    assert resolver.calls == [("www.example.com", 80)]


def test_one_refused_address_refuses_the_host():
    resolver = _fake_resolver({"mixed.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(BlockedAddressError, match=r"10\.0\.0\.5: private"):
        AddressPolicy(resolver=resolver).addresses(parse_url("http://mixed.example/"))


def test_ip_literals_are_checked_without_resolving():
    resolver = _fake_resolver({})
    policy = AddressPolicy(resolver=resolver)
    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1 is a loopback address"):
        policy.addresses(parse_url("http://127.0.0.1:8080/"))
    with pytest.raises(BlockedAddressError, match="private"):
        policy.addresses(parse_url("http://[::ffff:192.168.0.1]/"))
    assert policy.addresses(parse_url("http://8.8.8.8/")) == ["8.8.8.8"]
    assert resolver.calls == []


def test_allow_private_and_allow_networks():
    resolver = _fake_resolver({"intranet.local": ["10.1.2.3"], "box": ["127.0.0.2"]})
    assert AddressPolicy(allow_private=True, resolver=resolver).addresses(
        parse_url("http://intranet.local/")
    ) == ["10.1.2.3"]
    policy = AddressPolicy(allow_networks=["10.1.2.0/24"], resolver=resolver)
    assert policy.addresses(parse_url("http://intranet.local/")) == ["10.1.2.3"]
    with pytest.raises(BlockedAddressError):
        policy.addresses(parse_url("http://box/"))
    with pytest.raises(ValueError, match=r"'10\.1\.2' is not a network"):
        AddressPolicy(allow_networks=["10.1.2"])


def test_resolution_failures_surface():
    policy = AddressPolicy(resolver=_fake_resolver({}))
    with pytest.raises(ResolveError) as info:
        policy.addresses(parse_url("http://no-such-host.invalid/"))
    assert info.value.permanent
