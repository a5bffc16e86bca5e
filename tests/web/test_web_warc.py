"""WARC writing: warcinfo, response and request records, offsets, and read-back with warcio."""

import gzip
import io
from datetime import datetime, timezone

from warcio.archiveiterator import ArchiveIterator

from beam_cqia.web.fetcher import Exchange
from beam_cqia.web.warc import WarcWriter, warcinfo_fields

UA = "beam-cqia/0.1.0 (+https://example.org/crawler)"
PAGE = "<html><body><p>问：什么是WARC？答：网页存档格式。</p></body></html>".encode()


def _exchange(url, body, headers, target="/", status=200, reason="OK"):
    return Exchange(
        url=url,
        ip="203.0.113.7",
        request_target=target,
        request_headers=[("Host", "example.org"), ("User-Agent", UA)],
        status=status,
        reason=reason,
        http_version="HTTP/1.1",
        headers=headers,
        body=body,
        started=datetime(2026, 5, 1, 12, 30, 45, 123456, tzinfo=timezone.utc),
    )


class _Read:
    """A record read in full while the iterator is on it (warcio streams are one-shot)."""

    def __init__(self, record, decode=True):
        self.rec_type, self.rec_headers = record.rec_type, record.rec_headers
        self.http_headers = record.http_headers
        self.body = (record.content_stream() if decode else record.raw_stream).read()


def _records(data, decode=True):
    return [_Read(r, decode) for r in ArchiveIterator(io.BytesIO(data))]


def _write(exchanges):
    out = io.BytesIO()
    writer = WarcWriter(
        out,
        "example.org-abc.warc.gz",
        warcinfo_fields("beam-cqia/0.1.0", UA, "https://example.org/crawler"),
    )
    offsets = [writer.write_exchange(e) for e in exchanges]
    assert writer.position == len(out.getvalue())
    return out.getvalue(), offsets


def test_records_read_back_with_warcio():
    plain = _exchange(
        "http://example.org/a?q=1",
        PAGE,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Set-Cookie", "a=1"),
            ("Set-Cookie", "b=2"),
        ],
        target="/a?q=1",
    )
    data, _ = _write([plain])
    records = _records(data)
    assert [r.rec_type for r in records] == ["warcinfo", "response", "request"]
    info, response, request = records
    assert info.rec_headers.protocol == "WARC/1.1"
    fields = info.body.decode()
    assert f"http-header-user-agent: {UA}" in fields
    assert "software: beam-cqia/0.1.0 (warcio/" in fields
    assert "robots: obey" in fields
    assert info.rec_headers.get_header("WARC-Filename") == "example.org-abc.warc.gz"

    assert response.rec_headers.get_header("WARC-Target-URI") == "http://example.org/a?q=1"
    assert response.rec_headers.get_header("WARC-Date") == "2026-05-01T12:30:45.123456Z"
    assert response.rec_headers.get_header("WARC-IP-Address") == "203.0.113.7"
    assert response.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
    assert response.http_headers.get_statuscode() == "200"
    assert response.http_headers.get_header("Content-Type") == "text/html; charset=utf-8"
    assert [v for k, v in response.http_headers.headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert response.body == PAGE

    assert request.http_headers.protocol == "GET"
    assert request.http_headers.statusline == "/a?q=1 HTTP/1.1"
    assert request.http_headers.get_header("User-Agent") == UA
    assert request.rec_headers.get_header("WARC-Concurrent-To") == response.rec_headers.get_header(
        "WARC-Record-ID"
    )
    assert request.rec_headers.get_header("WARC-Target-URI") == "http://example.org/a?q=1"


def test_offsets_point_at_response_records():
    pages = [
        _exchange(
            f"http://example.org/{i}", f"<p>page {i}</p>".encode(), [("Content-Type", "text/html")]
        )
        for i in range(3)
    ]
    data, offsets = _write(pages)
    for i, offset in enumerate(offsets):
        record = _records(data[offset:])[0]
        assert record.rec_type == "response"
        assert record.rec_headers.get_header("WARC-Target-URI") == f"http://example.org/{i}"
        assert record.body == f"<p>page {i}</p>".encode()
    # each record is its own gzip member: the file is plain multi-member gzip
    assert gzip.decompress(data).startswith(b"WARC/1.1\r\n")


def test_content_encoding_is_kept_and_chunking_header_renamed():
    compressed = gzip.compress(PAGE)
    exchange = _exchange(
        "http://example.org/z",
        compressed,
        [
            ("Content-Type", "text/html"),
            ("Content-Encoding", "gzip"),
            ("Transfer-Encoding", "chunked"),
        ],
    )
    data, _ = _write([exchange])
    response = _records(data, decode=False)[1]
    assert response.http_headers.get_header("Transfer-Encoding") is None
    assert response.http_headers.get_header("X-Crawler-Transfer-Encoding") == "chunked"
    assert response.body == compressed  # the payload as received
    assert _records(data)[1].body == PAGE  # readers decode it
