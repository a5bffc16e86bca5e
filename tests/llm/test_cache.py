"""Answer caches: keys, both stores, and safety with many threads and processes."""

import concurrent.futures
import multiprocessing

import pytest

from beam_cqia.llm import DirectoryCache, SqliteCache, open_cache, request_key
from tests.llm.cache_worker import entry_for, fill

BODY = {
    "model": "judge-7b",
    "messages": [{"role": "user", "content": "为什么天空是蓝色的？"}],
    "temperature": 0.0,
}


def test_request_key_is_canonical_and_covers_model_messages_and_parameters():
    key = request_key(BODY)
    assert len(key) == 64 and key == request_key(dict(reversed(list(BODY.items()))))
    assert request_key({**BODY, "model": "judge-14b"}) != key
    assert request_key({**BODY, "temperature": 0.7}) != key
    assert request_key({**BODY, "seed": 1}) != key
    other = {**BODY, "messages": [{"role": "user", "content": "为什么天空是蓝色的?"}]}
    assert request_key(other) != key


def test_open_cache_picks_the_store_by_suffix(tmp_path):
    assert isinstance(open_cache(str(tmp_path / "a.sqlite")), SqliteCache)
    assert isinstance(open_cache(str(tmp_path / "a.db")), SqliteCache)
    assert isinstance(open_cache(str(tmp_path / "answers")), DirectoryCache)
    with pytest.raises(ValueError, match="must be local files"):
        SqliteCache("gs://bucket/cache.sqlite")


@pytest.mark.parametrize("name", ["c.sqlite", "dir"])
def test_entries_round_trip_and_damaged_ones_are_misses(tmp_path, name):
    cache = open_cache(str(tmp_path / name))
    key = request_key(BODY)
    assert cache.get(key) is None
    cache.put(key, entry_for(1))
    assert cache.get(key)["response"]["content"] == "答案1"
    if isinstance(cache, DirectoryCache):
        path = tmp_path / name / key[:2] / f"{key}.json"
        assert path.is_file()
        path.write_text('{"response": ', encoding="utf-8")  # torn by hand: never by the cache
        assert cache.get(key) is None
        cache.put(key, entry_for(2))
        other = request_key({**BODY, "seed": 3})
        (tmp_path / name / other[:2]).mkdir(exist_ok=True)
        (tmp_path / name / other[:2] / f"{other}.json").write_bytes(path.read_bytes())
        assert cache.get(other) is None  # an entry stored under another key is not trusted
        assert not list((tmp_path / name).rglob(".tmp-*"))
    cache.close()


@pytest.mark.parametrize("name", ["c.sqlite", "dir"])
def test_many_threads_share_one_cache(tmp_path, name):
    cache = open_cache(str(tmp_path / name))
    keys = [request_key({"i": i}) for i in range(40)]

    def work(worker: int) -> int:
        for i in range(40):
            j = (i + worker * 5) % 40
            cache.put(keys[j], entry_for(j))
        return sum(cache.get(keys[i])["response"]["content"] == f"答案{i}" for i in range(40))

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert list(pool.map(work, range(8))) == [40] * 8
    if isinstance(cache, SqliteCache):
        assert len(cache) == 40
    cache.close()


@pytest.mark.parametrize("name", ["c.sqlite", "dir"])
def test_many_processes_share_one_cache(tmp_path, name):
    spec = str(tmp_path / name)
    context = multiprocessing.get_context("spawn")
    with context.Pool(3) as pool:
        counts = pool.starmap(fill, [(spec, worker, 60) for worker in range(3)])
    assert counts == [60, 60, 60]
    cache = open_cache(spec)
    assert all(
        cache.get(request_key({"i": i})) == {**entry_for(i), "key": request_key({"i": i})}
        for i in range(60)
    )
    if isinstance(cache, SqliteCache):
        assert len(cache) == 60
    cache.close()
