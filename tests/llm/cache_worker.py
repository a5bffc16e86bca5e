"""A worker process for the cache concurrency tests (importable by spawned processes)."""

from beam_cqia.llm.cache import open_cache, request_key


def entry_for(i: int) -> dict:
    return {"request": {"i": i}, "response": {"content": f"答案{i}", "usage": None}}


def fill(spec: str, worker: int, count: int) -> int:
    """Writes entries 0..count-1 (the same keys as every other worker) and reads them back;
    returns how many read back intact."""
    cache = open_cache(spec)
    ok = 0
    try:
        for i in range(count):
            key = request_key({"i": (i + worker * 7) % count})
            cache.put(key, entry_for((i + worker * 7) % count))
        for i in range(count):
            got = cache.get(request_key({"i": i}))
            ok += got is not None and got["response"]["content"] == f"答案{i}"
    finally:
        cache.close()
    return ok
