"""Decompressing readers that notice truncated input.

Beam's own decompressing reader stops quietly at the end of a truncated gzip stream, which would
lose the rest of a file without a trace. These wrappers raise ``EOFError`` instead, so the reader
can report the truncation (file and offset) as an error record.
"""

import bz2
import gzip
import io
import lzma
from typing import BinaryIO

import zstandard

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
_BY_SUFFIX = {".gz": "gzip", ".zst": "zstd", ".zstd": "zstd", ".bz2": "bzip2", ".xz": "xz"}
CHUNK = 1 << 20


def detect(path: str, head: bytes) -> str | None:
    """The compression of a file from its magic bytes (the suffix only breaks ties)."""
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


def strip_suffix(path: str) -> str:
    """The path without a compression suffix (``a.jsonl.gz`` → ``a.jsonl``)."""
    for suffix in _BY_SUFFIX:
        if path.endswith(suffix):
            return path[: -len(suffix)]
    return path


class _ZstdReader(io.RawIOBase):
    """Multi-frame zstd decompression that raises EOFError when the last frame is incomplete."""

    def __init__(self, raw: BinaryIO):
        self._raw = raw
        self._dctx = zstandard.ZstdDecompressor()
        self._obj = self._dctx.decompressobj()
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            chunk = self._raw.read(CHUNK)
            if not chunk:
                self._done = True
                if not self._obj.eof and self._started:
                    raise EOFError("zstd stream ended before the end of its last frame")
                break
            self._started = True
            out = []
            while chunk:
                out.append(self._obj.decompress(chunk))
                if self._obj.eof:
                    chunk = self._obj.unused_data
                    self._obj = self._dctx.decompressobj()
                    self._started = bool(chunk)
                else:
                    chunk = b""
            self._pending = b"".join(out)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    _started = False


def open_decompressed(raw: BinaryIO, compression: str | None) -> BinaryIO:
    """Wraps a raw binary stream in a decompressor that raises EOFError on truncation."""
    if compression is None:
        return raw
    if compression == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if compression == "bzip2":
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if compression == "xz":
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if compression == "zstd":
        return io.BufferedReader(_ZstdReader(raw), buffer_size=CHUNK)
    raise ValueError(f"unknown compression {compression!r}")
