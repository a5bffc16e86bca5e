"""Crawl file formats: streaming readers that split files into raw records (no Beam).

A reader takes a binary stream and yields :class:`Unit`s: one raw record each, with its position
(byte offset for line-based files, row or item index for tables and JSON arrays, record offset for
WARC). Parsing a unit into the object an adapter receives is a separate, cheap step
(:func:`parse`), so a bad record becomes one error and the rest of the file goes on. Problems with
the file itself (a truncated gzip, an unreadable Parquet footer) end the file with a
:class:`ReadFailure` unit that says where. Records larger than a cap are never held in memory:
the reader skips them and yields an :class:`Oversize` unit instead.
"""

import codecs
import csv
import io
import itertools
from collections.abc import Iterator
from typing import Any, BinaryIO, NamedTuple

import orjson

from beam_cqia.sources import compression as _compression
from beam_cqia.text import encoding

# Parsed JSON nesting deeper than this is an error: crawl records nest a few levels, while records,
# error records and coders walk values recursively (Python's default stack allows ~1,000 frames;
# orjson alone would accept 1,024 levels and ijson any depth).
MAX_JSON_DEPTH = 128
FORMATS = ("auto", "jsonl", "json", "csv", "tsv", "parquet", "warc", "html", "text")
LINE_FORMATS = ("jsonl", "text")
TEXT_UNITS = ("file", "line")
DEFAULT_MAX_RECORD_BYTES = 16 << 20
_BY_SUFFIX = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".warc": "warc",
    ".arc": "warc",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".txt": "text",
    ".md": "text",
}
_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain")


class Oversize(NamedTuple):
    """A record larger than the cap: skipped without being read into memory."""

    size: int
    cap: int


class ReadFailure(NamedTuple):
    """The file could not be read past this point (truncated, corrupt)."""

    kind: str
    message: str


class Skipped(NamedTuple):
    """A record the format holds but that is not text (e.g. an image in a WARC): rejected."""

    reason: str
    detail: str


class _FailedAt(Exception):  # noqa: N818 - internal carrier, never escapes read_units
    """Carries the position at which reading a file failed."""

    def __init__(self, offset: int, error: BaseException):
        super().__init__(str(error))
        self.offset, self.error = offset, error


class Unit(NamedTuple):
    """One raw record: its position in the (decompressed) file and its payload."""

    offset: int
    payload: Any  # bytes, dict, Oversize, ReadFailure or Skipped


class NestedTooDeepError(ValueError):
    """A JSON record nests more than ``MAX_JSON_DEPTH`` levels."""


def nested_too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a parsed JSON value nests more than ``limit`` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
    return False


def _check_depth(value: Any) -> Any:
    if isinstance(value, (dict, list)) and nested_too_deep(value):
        raise NestedTooDeepError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    return value


class RecordTooLargeError(ValueError):
    """A record exceeds ``max_record_bytes``."""


class UnreadableInputError(ValueError):
    """A file cannot be read past some point: truncated compression, a corrupt container."""


def format_of(path: str) -> str:
    """The format a path's name implies (compression suffixes ignored).

    Raises:
        ValueError: when the name does not imply a format.
    """
    name = _compression.strip_suffix(path.lower())
    if name.endswith(".warc.gz"):
        return "warc"
    for suffix, fmt in _BY_SUFFIX.items():
        if name.endswith(suffix):
            return fmt
    raise ValueError(f"cannot tell the format of {path!r} from its name; set format explicitly")


def open_stream(raw: BinaryIO, path: str, fmt: str) -> BinaryIO:
    """Wraps a raw file in the right decompressor (WARC and Parquet decompress themselves)."""
    if fmt in ("warc", "parquet"):
        return raw
    head = raw.read(8)
    raw.seek(0)
    return _compression.open_decompressed(raw, _compression.detect(path, head))


def read_units(
    stream: BinaryIO,
    fmt: str,
    *,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    json_items: str | None = None,
    text_unit: str = "file",
    start: int = 0,
    end: int | None = None,
    declared_encoding: str | None = None,
) -> Iterator[Unit]:
    """Yields the raw records of one (already decompressed) stream.

    Args:
        stream: the file, as a binary stream positioned at its start.
        fmt: one of FORMATS except ``auto``.
        max_record_bytes: records larger than this become Oversize units.
        json_items: for ``json``, the ijson prefix of the items (e.g. ``data.item``), or
            ``*`` / ``<prefix>.*`` for the values of an object keyed by id (each value is a
            record, with its key as ``__key__``); by default a top-level array gives its items
            and a top-level object is one record.
        text_unit: for ``text``, ``file`` (one record per file) or ``line``.
        start: for line formats on uncompressed files, the byte range to read: records that
            start in [start, end) (a record straddling ``start`` belongs to the previous range).
        end: see ``start``; None reads to the end.
        declared_encoding: the files' declared encoding; UTF-16 and UTF-32 line files (by BOM
            or declaration) are transcoded to UTF-8 before lines are split, and their offsets
            are positions in that transcoding.
    """
    try:
        if fmt == "jsonl" or (fmt == "text" and text_unit == "line"):
            wide = _wide_encoding(stream, declared_encoding) if not start else None
            if wide:
                stream = io.BufferedReader(_Utf8Transcoder(stream, wide), buffer_size=1 << 20)
            yield from _lines(stream, max_record_bytes, start, end)
        elif fmt == "json":
            yield from _json(stream, max_record_bytes, json_items)
        elif fmt in ("csv", "tsv"):
            yield from _csv(stream, "," if fmt == "csv" else "\t", max_record_bytes)
        elif fmt == "parquet":
            yield from _parquet(stream)
        elif fmt == "warc":
            yield from _warc(stream, max_record_bytes)
        elif fmt in ("html", "text"):
            data = stream.read(max_record_bytes + 1)
            if len(data) > max_record_bytes:
                yield Unit(0, Oversize(len(data) + _drain(stream), max_record_bytes))
            elif data.strip():
                yield Unit(0, data)
            else:  # a page or text file with nothing in it is a record, and an empty one
                yield Unit(0, Skipped("empty_file", f"{len(data)} bytes of whitespace"))
        else:
            raise ValueError(f"unknown format {fmt!r}")
    except _FailedAt as failed:
        yield Unit(failed.offset, ReadFailure(type(failed.error).__name__, str(failed.error)))
    except Exception as exc:  # noqa: BLE001 - any failure of the file itself must become a record
        # The file is broken here; what was read before stands, the rest is reported.
        yield Unit(-1, ReadFailure(type(exc).__name__, str(exc)))


_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32"),
    (b"\x00\x00\xfe\xff", "utf-32"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def declared_wide(declared: str | None) -> bool:
    """Whether a declared encoding is UTF-16/32, whose files cannot be split at b"\\n" bytes."""
    return (declared or "").lower().replace("_", "-").startswith(("utf-16", "utf-32"))


def _wide_encoding(stream: BinaryIO, declared: str | None) -> str | None:
    """UTF-16/32 (where b"\\n" is not a line break) from a BOM or the declaration, else None."""
    if hasattr(stream, "peek"):
        head = stream.peek(4)[:4]
    elif stream.seekable():
        head = stream.read(4)
        stream.seek(0)
    else:
        head = b""
    for bom, name in _WIDE_BOMS:
        if head.startswith(bom):
            return name
    name = (declared or "").lower().replace("_", "-")
    return name if name.startswith(("utf-16", "utf-32")) else None


class _Utf8Transcoder(io.RawIOBase):
    """Reads a UTF-16/32 stream as UTF-8 bytes, incrementally."""

    def __init__(self, raw: BinaryIO, source_encoding: str):
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(source_encoding)(errors="strict")
        self._pending = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._eof:
            chunk = self._raw.read(1 << 20)
            self._eof = not chunk
            self._pending = self._decoder.decode(chunk, final=self._eof).encode("utf-8")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _drain(stream: BinaryIO) -> int:
    total = 0
    while chunk := stream.read(1 << 20):
        total += len(chunk)
    return total


def _lines(stream: BinaryIO, cap: int, start: int, end: int | None) -> Iterator[Unit]:
    offset = 0
    if start:
        stream.seek(start - 1)
        offset = start - 1
        # The record that straddles `start` belongs to the previous range: skip to after it.
        skipped = _read_line(stream, cap)
        offset += skipped[1]
    while end is None or offset < end:
        try:
            line, size, complete = _read_line(stream, cap)
        except (EOFError, OSError, ValueError) as exc:
            raise _FailedAt(offset, exc) from exc
        if not size:
            return
        if not complete and size > cap:
            yield Unit(offset, Oversize(size, cap))
        elif line.strip():
            # Split on b"\n" only: U+2028 inside a JSON string is data, not a line break.
            yield Unit(offset, line)
        offset += size


def _read_line(stream: BinaryIO, cap: int) -> tuple[bytes, int, bool]:
    """Reads one line; past ``cap`` bytes the rest is counted and discarded, not kept."""
    line = stream.readline(cap + 1)
    size = len(line)
    if size <= cap or line.endswith(b"\n"):
        return line, size, True
    while True:
        more = stream.readline(1 << 20)
        size += len(more)
        if not more or more.endswith(b"\n"):
            return b"", size, False


def _json(stream: BinaryIO, cap: int, items: str | None) -> Iterator[Unit]:
    import ijson

    head = stream.read(1 << 16)
    first = head.lstrip()[:1]
    stream.seek(0)
    if items is None and first != b"[":
        data = stream.read(cap + 1)
        if len(data) > cap:
            yield Unit(0, Oversize(len(data) + _drain(stream), cap))
        elif data.strip():
            yield Unit(0, data)  # one object: parsed (and its errors reported) by parse()
        else:
            yield Unit(0, Skipped("empty_file", f"{len(data)} bytes of whitespace"))
        return
    index = 0
    counting = _CountingReader(stream)
    used = 0

    def sized(value: Any) -> Any:
        # ijson builds every item whole: an item that certainly took more than ``cap`` bytes of
        # input (reads go by _JSON_BUFFER) is dropped as Oversize before it goes further.
        nonlocal used
        size, used = counting.count - used, counting.count
        counting.mark = counting.count
        return Oversize(size, cap) if size > cap + _JSON_BUFFER else value

    try:
        if items is not None and (items == "*" or items.endswith(".*")):
            # Records keyed by id ({"1291": {...}, ...}): each value is a record; its key is kept.
            prefix = items[:-2] if items.endswith(".*") else ""
            for key, value in ijson.kvitems(
                counting, prefix, use_float=True, buf_size=_JSON_BUFFER
            ):
                record = value if isinstance(value, dict) else {"value": value}
                yield Unit(index, sized({"__key__": key, **record}))
                index += 1
            return
        for item in ijson.items(counting, items or "item", use_float=True, buf_size=_JSON_BUFFER):
            yield Unit(index, sized(item))
            index += 1
    except Exception as exc:  # ijson raises its own exception types
        raise _FailedAt(index, exc) from exc


# ijson's C backend re-reads a token that spans reads once per read, so its time grows with the
# square of a token's length (a 24 MB string: 32 s with 64 KB reads; 200 MB: ~40 min extrapolated).
# Reads of 1 MB that grow with the item being parsed keep it linear (96 MB: 1.7 s).
_JSON_BUFFER = 1 << 20


class _CountingReader:
    """The stream ijson reads: counts the bytes read, and reads as much as the current item has
    taken so far (``mark`` is where it started), so a long token needs few reads."""

    def __init__(self, stream: BinaryIO):
        self._stream, self.count, self.mark = stream, 0, 0

    def read(self, size: int = -1) -> bytes:
        if size > 0:
            size = max(size, self.count - self.mark)
        data = self._stream.read(size)
        self.count += len(data)
        return data


def _csv(stream: BinaryIO, delimiter: str, cap: int) -> Iterator[Unit]:
    head = stream.read(1 << 16)
    stream.seek(0)
    charset = encoding.decode(_cut_to_char_boundary(head)).encoding
    text = io.TextIOWrapper(stream, encoding=charset, errors="strict", newline="")
    csv.field_size_limit(cap)
    reader = csv.reader(text, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip().lstrip("\ufeff") for h in header]
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield Unit(
                line, {"__row__": row, "__error__": f"{len(row)} fields, header has {len(header)}"}
            )
        else:
            yield Unit(line, dict(zip(header, row, strict=True)))


def _cut_to_char_boundary(head: bytes) -> bytes:
    # A 64 KB prefix may end inside a multi-byte character; drop up to 3 trailing bytes.
    for cut in range(4):
        candidate = head[: len(head) - cut] if cut else head
        try:
            candidate.decode("utf-8")
            return candidate
        except UnicodeDecodeError:
            continue
    return head


def _parquet(stream: BinaryIO) -> Iterator[Unit]:
    import pyarrow.parquet as pq

    index = itertools.count()
    for batch in pq.ParquetFile(stream).iter_batches(batch_size=1024):
        for row in batch.to_pylist():
            yield Unit(next(index), row)


def _warc(stream: BinaryIO, cap: int) -> Iterator[Unit]:
    from warcio.archiveiterator import ArchiveIterator

    records = ArchiveIterator(stream)
    for record in records:
        if record.rec_type not in ("response", "resource", "conversion"):
            continue
        http = record.http_headers
        content_type = (http.get_header("Content-Type") if http else None) or (
            record.rec_headers.get_header("Content-Type") or ""
        )
        # Read the body before asking for the offset: warcio's get_record_offset() reads on to
        # the end of the record, after which the content stream is empty.
        body = record.content_stream().read(cap + 1)
        size = len(body) + (_drain(record.content_stream()) if len(body) > cap else 0)
        offset = records.get_record_offset()
        if not any(t in content_type.lower() for t in _HTML_TYPES):
            yield Unit(offset, Skipped("unsupported_content_type", content_type or "none"))
        elif size > cap:
            yield Unit(offset, Oversize(size, cap))
        else:
            yield Unit(
                offset,
                {
                    "url": record.rec_headers.get_header("WARC-Target-URI") or "",
                    "date": record.rec_headers.get_header("WARC-Date") or "",
                    "status": int(http.get_statuscode()) if http and http.get_statuscode() else 0,
                    "content_type": content_type,
                    "body": body,
                },
            )


def charset_of(content_type: str) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


class Skip(Exception):  # noqa: N818 - a verdict, like sources.Reject
    """Raised by :func:`parse` for a Skipped unit."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def parse(payload: Any, fmt: str, path: str, declared_encoding: str | None = None) -> Any:
    """Turns a unit's payload into what a source adapter receives.

    JSON lines become objects; HTML pages and WARC responses become ``{"html", "url", "path",
    "date", "encoding"}``; text becomes ``{"text", "path", "encoding"}``; table rows stay dicts.

    Raises:
        RecordTooLargeError: for an Oversize unit.
        UnreadableInputError: for a ReadFailure unit.
        Skip: for a Skipped unit (the caller rejects it with the reason).
        encoding.UndecodableError: when the bytes are in no encoding we can identify.
        NestedTooDeepError: for JSON nested more than MAX_JSON_DEPTH levels.
        ValueError: for malformed JSON or a CSV row with the wrong number of fields.
    """
    if isinstance(payload, Oversize):
        raise RecordTooLargeError(
            f"record of {payload.size} bytes exceeds max_record_bytes={payload.cap}"
        )
    if isinstance(payload, ReadFailure):
        raise UnreadableInputError(f"cannot read further ({payload.kind}: {payload.message})")
    if isinstance(payload, Skipped):
        raise Skip(payload.reason, payload.detail)
    if fmt == "jsonl" or (fmt == "json" and isinstance(payload, bytes)):
        text = encoding.decode(payload, declared_encoding).text
        obj = orjson.loads(text)
        # Counting brackets is cheap; only a record with many of them is walked.
        if payload.count(b"[") + payload.count(b"{") > MAX_JSON_DEPTH:
            _check_depth(obj)
        return obj
    if fmt == "json":  # an item streamed by ijson, which nests to any depth
        return _check_depth(payload)
    if fmt in ("csv", "tsv"):
        if "__error__" in payload:
            raise ValueError(f"malformed row: {payload['__error__']}: {payload['__row__'][:5]}")
        return payload
    if fmt == "text":
        decoded = encoding.decode(payload, declared_encoding)
        return {"text": decoded.text, "path": path, "encoding": decoded.encoding}
    if fmt == "html":
        decoded = encoding.decode(payload, declared_encoding, html=True)
        return {
            "html": decoded.text,
            "url": "",
            "path": path,
            "date": "",
            "encoding": decoded.encoding,
        }
    if fmt == "warc":
        declared = declared_encoding or charset_of(payload["content_type"])
        is_html = "html" in payload["content_type"].lower()
        decoded = encoding.decode(payload["body"], declared, html=is_html)
        key = "html" if is_html else "text"
        return {
            key: decoded.text,
            "url": payload["url"],
            "path": path,
            "date": payload["date"],
            "status": payload["status"],
            "encoding": decoded.encoding,
        }
    return payload


def describe(payload: Any) -> Any:
    """A JSON-able view of a payload for error records (bytes stay exact, as text or base64)."""
    if isinstance(payload, (Oversize, ReadFailure, Skipped)):
        return {type(payload).__name__: payload._asdict()}
    if isinstance(payload, (dict, list)) and nested_too_deep(payload):
        return {"NestedTooDeep": {"max_depth": MAX_JSON_DEPTH}}  # its position says where it is
    if isinstance(payload, dict):
        return {k: v for k, v in payload.items() if k != "body"} | (
            {"body_bytes": len(payload["body"])} if "body" in payload else {}
        )
    return payload
