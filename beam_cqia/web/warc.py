"""WARC/1.1 writing with warcio: a warcinfo record, then a response and a request record per page.

No Beam and no file system here: ``WarcWriter`` writes to any binary stream and reports the byte
offset of every response record, so an index can point straight at it. Each record is its own
gzip member (warcio's default), so a reader can start decompressing at any such offset.

The response record holds the HTTP status line and headers as received and the body as received
(content-encoding kept). The chunked transfer framing is already removed from the body, so a
``Transfer-Encoding`` header is renamed to ``X-Crawler-Transfer-Encoding``: a reader must not
de-chunk the payload again.
"""

from collections.abc import Mapping
from importlib import metadata
from io import BytesIO
from typing import BinaryIO

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from beam_cqia.web.fetcher import Exchange

WARC_VERSION = "WARC/1.1"


def warcinfo_fields(software: str, user_agent: str, contact: str, **extra: str) -> dict[str, str]:
    """The fields of a crawl's warcinfo record (WARC 1.1, section 6.4)."""
    return {
        "software": f"{software} (warcio/{metadata.version('warcio')})",
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
        "warc-format/warc-1.1/",
        "http-header-user-agent": user_agent,
        "operator": contact,
        "robots": "obey",
        **extra,
    }


class _CountingStream:
    """Counts the bytes written through it (so offsets work on streams without tell())."""

    def __init__(self, out: BinaryIO):
        self._out, self.position = out, 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self.position += len(data)
        return len(data)

    def flush(self) -> None:
        self._out.flush()


class WarcWriter:
    """Writes one gzipped WARC/1.1 file to ``out``, starting with a warcinfo record.

    Args:
        out: a binary stream opened for writing; the caller closes it.
        filename: the final file name, recorded in the warcinfo record.
        info: warcinfo fields, e.g. from ``warcinfo_fields``.
    """

    def __init__(self, out: BinaryIO, filename: str, info: Mapping[str, str]):
        self._out = _CountingStream(out)
        self._writer = WARCWriter(self._out, gzip=True, warc_version=WARC_VERSION)
        self._writer.write_record(self._writer.create_warcinfo_record(filename, dict(info)))
        self.records = 1

    @property
    def position(self) -> int:
        """Bytes written so far (the offset of the next record)."""
        return self._out.position

    def write_exchange(self, exchange: Exchange) -> int:
        """Writes the response and request records of ``exchange``.

        Returns:
            The byte offset of the response record in the file.
        """
        date = datetime_to_iso_date(exchange.started.replace(tzinfo=None), use_micros=True)
        headers = [
            ("X-Crawler-Transfer-Encoding", v) if k.lower() == "transfer-encoding" else (k, v)
            for k, v in exchange.headers
        ]
        status = f"{exchange.status} {exchange.reason}".strip()
        response = self._writer.create_warc_record(
            exchange.url,
            "response",
            payload=BytesIO(exchange.body),
            length=len(exchange.body),
            http_headers=StatusAndHeaders(status, headers, protocol=exchange.http_version),
            warc_headers_dict={"WARC-Date": date, "WARC-IP-Address": exchange.ip},
        )
        request = self._writer.create_warc_record(
            exchange.url,
            "request",
            http_headers=StatusAndHeaders(
                f"GET {exchange.request_target} HTTP/1.1",  # what urllib3 sends
                list(exchange.request_headers),
                is_http_request=True,
            ),
            warc_headers_dict={"WARC-Date": date, "WARC-IP-Address": exchange.ip},
        )
        offset = self._out.position
        self._writer.write_request_response_pair(request, response)
        self.records += 2
        return offset
