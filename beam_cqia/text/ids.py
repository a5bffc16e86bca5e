"""Stable record ids from content hashes (xxh3-128, hex)."""

import xxhash

_SEP = "\x1f"


def doc_id(source: str, native_id: str) -> str:
    """Returns the id of a crawled item from its source family and the site's own id."""
    if not native_id:
        raise ValueError("native_id must be non-empty; use content_id for items without one")
    return xxhash.xxh3_128_hexdigest(f"{source}{_SEP}{native_id}".encode())


def content_id(source: str, *parts: str) -> str:
    """Returns an id from the item's content, for sources without a native id."""
    return xxhash.xxh3_128_hexdigest(_SEP.join((source, *parts)).encode())


def stable_bucket(key: str, buckets: int) -> int:
    """Maps a key to one of ``buckets`` buckets, the same on every machine and run."""
    if buckets <= 0:
        raise ValueError(f"buckets must be positive, got {buckets}")
    return xxhash.xxh3_64_intdigest(key.encode()) % buckets
