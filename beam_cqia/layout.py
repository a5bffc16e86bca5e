"""Output layout: hive partition directories and part-file names (pure functions, no Beam).

Partition values come from data (subset names, domains), so they are made safe before they become
path segments: no value can climb out of the output directory (``..``), add a level (``/``), be
empty, or be too long for a file system, and two different values never map to the same segment.
"""

import re

import xxhash

_UNSAFE = re.compile(r"[^\w\-.~\u00b7]|_(?=[0-9a-f]{2})", re.UNICODE)
MAX_SEGMENT_BYTES = 128
EMPTY = "__empty__"
KINDS = ("data", "rejected", "errors")


def safe_value(value: object) -> str:
    """Encodes a partition value as a path segment, injectively and reversibly (but for hashing).

    Letters (any script), digits, ``-``, ``.``, ``~`` and ``·`` stay; every other character,
    and ``_`` when followed by two hex digits, becomes ``_xx`` per UTF-8 byte (``/`` → ``_2f``).
    ``.`` and ``..`` alone are encoded, empty becomes ``__empty__``, and a segment over 128 bytes is
    cut and suffixed with a hash of the whole value.
    """
    text = "" if value is None else str(value)
    if text == "":
        return EMPTY
    if text == EMPTY:
        return "_5f_5fempty_5f_5f"

    def _escape(match: re.Match[str]) -> str:
        return "".join(f"_{b:02x}" for b in match.group().encode("utf-8"))

    safe = _UNSAFE.sub(_escape, text)
    if safe in (".", ".."):
        safe = safe.replace(".", "_2e")
    if len(safe.encode("utf-8")) > MAX_SEGMENT_BYTES:
        digest = xxhash.xxh3_64_hexdigest(text.encode("utf-8"))
        cut = safe.encode("utf-8")[: MAX_SEGMENT_BYTES - 17].decode("utf-8", errors="ignore")
        safe = f"{cut}-{digest}"
    return safe


def partition_dir(
    keys: list[str] | tuple[str, ...], values: list[object] | tuple[object, ...]
) -> str:
    """``subset=zhihu/domain=通用`` for the given partition keys and values."""
    if len(keys) != len(values):
        raise ValueError("one value per partition key")
    return "/".join(f"{k}={safe_value(v)}" for k, v in zip(keys, values, strict=False))


def part_name(shard: int, shards: int) -> str:
    """``part-00003-of-00008.parquet``."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} out of range for {shards} shards")
    return f"part-{shard:05d}-of-{shards:05d}.parquet"


def part_path(kind: str, partition: str, shard: int, shards: int) -> str:
    """``data/subset=zhihu/part-00000-of-00001.parquet``; no partition level when unpartitioned."""
    return "/".join(p for p in (kind, partition, part_name(shard, shards)) if p)


def shard_count(records: int, max_records_per_file: int) -> int:
    """How many files a partition with ``records`` rows is split into (at least one)."""
    if max_records_per_file <= 0:
        raise ValueError("max_records_per_file must be positive")
    return max(1, -(-records // max_records_per_file))


PART_FILE = re.compile(r"^part-\d{5}-of-\d{5}\.parquet$")


_ESCAPE = re.compile(r"(?:_[0-9a-f]{2})+")


def decode_value(segment: str) -> str:
    """The partition value a path segment encodes (:func:`safe_value` inverted; a value that
    was cut and hashed for length cannot be recovered and comes back as its segment)."""
    if segment == EMPTY:
        return ""

    def _unescape(match: re.Match[str]) -> str:
        data = bytes(int(match.group()[i + 1 : i + 3], 16) for i in range(0, len(match.group()), 3))
        return data.decode("utf-8", errors="surrogateescape")

    return _ESCAPE.sub(_unescape, segment)
