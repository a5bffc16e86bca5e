"""Shuffles in packs: many small ``(key, value)`` elements travel as one element per shard.

A runner pays a fixed cost per element at every shuffle (FnApiRunner: decoding into its grouping
table, re-encoding for the reader, a DoFn call; ~20 µs, as much as moving a 3 KB text). Joins by
record id (DedupMinHash's verification and label joins) send one small element per record
through a GroupByKey; sent as packs keyed by ``stable_bucket(key, shards)`` instead, the same
data crosses the shuffle in ~``shards`` elements per bundle and the join is done per shard, in
the DoFn that reads it. A shard's group holds about ``elements / shards`` items (for the default
1024 shards, 100 k for 100 M records): readers keep only the small side of a join in memory and
stream the large one.
"""

import pickle
from collections.abc import Callable, Iterable
from typing import Any

import apache_beam as beam
import zstandard
from apache_beam.transforms.window import GlobalWindows

from beam_cqia.text.ids import stable_bucket

SHARDS = 1024
# Items a packing DoFn holds before it emits its packs; with 3 KB texts about 100 MB.
FLUSH_ITEMS = 1 << 15
# zstd level of sealed packs. A pack of a few dozen pickled records shrinks to about 0.47 of its
# size at ~400 MB/s (one record alone only to 0.7: the pack gives the compressor context), which
# halves what a runner holds for a shuffle (FnApiRunner keeps it all in memory) or sends.
_ZSTD_LEVEL = 1


def seal(values: list[bytes]) -> bytes:
    """Pickled values → one compressed blob (``unseal`` reverses it)."""
    data = pickle.dumps(values, pickle.HIGHEST_PROTOCOL)
    return zstandard.ZstdCompressor(level=_ZSTD_LEVEL).compress(data)


def unseal(blob: bytes) -> list[bytes]:
    """The pickled values of a ``seal``ed blob."""
    return pickle.loads(zstandard.ZstdDecompressor().decompress(blob))


def seal_pack(pack: list[tuple[Any, bytes]]) -> tuple[list[Any], bytes]:
    """A pack of ``(key, pickled value)`` items → ``(keys, sealed values)``: readers see the
    keys without decompressing."""
    return [key for key, _ in pack], seal([value for _, value in pack])


def unpack(pack: list[tuple[Any, Any]] | tuple[list[Any], bytes]) -> Iterable[tuple[Any, Any]]:
    """The ``(key, value)`` items of a pack, sealed (a tuple) or plain (a list)."""
    if isinstance(pack, tuple):
        keys, blob = pack
        return zip(keys, unseal(blob), strict=True)
    return pack


def pack_keys(pack: list[tuple[Any, Any]] | tuple[list[Any], bytes]) -> list[Any]:
    """The keys of a pack's items, in order, without unsealing it."""
    return pack[0] if isinstance(pack, tuple) else [key for key, _ in pack]


class PackFn(beam.DoFn):
    """Elements → ``(pack key, [item, ...])`` packs; subclasses say where each element goes
    (``place``) and what a pack looks like on the way out (``emit``).

    With ``hold`` (the input is in the global window) items are held across the bundle and
    emitted every ``FLUSH_ITEMS`` items, when a pack reaches ``max_pack`` and at the end of the
    bundle; otherwise every item is its own pack and keeps its element's window.
    """

    # ``(pack key, item)`` of an element; every subclass defines it.
    place: Callable[[Any], tuple[Any, Any]]

    def __init__(self, hold: bool, max_pack: int | None = None):
        self._hold, self._max_pack = hold, max_pack

    def emit(self, key: Any, pack: list[Any]) -> Any:
        return key, pack

    def start_bundle(self) -> None:
        self._packs: dict[Any, list[Any]] = {}
        self._held = 0

    def process(self, element: Any) -> Any:
        key, item = self.place(element)
        if not self._hold:
            yield self.emit(key, [item])
            return
        pack = self._packs.setdefault(key, [])
        pack.append(item)
        self._held += 1
        if self._max_pack and len(pack) >= self._max_pack:
            del self._packs[key]
            self._held -= len(pack)
            yield self.emit(key, pack)
        elif self._held >= FLUSH_ITEMS:
            yield from self._flush()

    def finish_bundle(self) -> Any:
        for pack in self._flush():
            yield GlobalWindows.windowed_value_at_end_of_window(pack)

    def _flush(self) -> Any:
        packs, self._packs, self._held = self._packs, {}, 0
        for key in sorted(packs):
            yield self.emit(key, packs[key])


class PackByShardFn(PackFn):
    """``(key, value)`` → ``(shard, (tag, [(key, value), ...]))``, the shard chosen by the key.

    Args:
        tag: names the packs' side of a join (readers tell their inputs apart by it).
        hold: pack across the bundle (only for the global window).
        shards: the number of shards.
        pickled: pickle the values and seal the packs (records: bytes cost almost nothing to
            move through a shuffle, a record costs a coding at each step; sealed, they take
            half the room). Readers get the pickled values from ``items`` and unpickle them.
    """

    def __init__(self, tag: str, hold: bool, shards: int = SHARDS, pickled: bool = False):
        super().__init__(hold)
        self._tag, self._shards, self._pickled = tag, shards, pickled

    def place(self, item: tuple[Any, Any]) -> tuple[int, tuple[Any, Any]]:
        shard = stable_bucket(str(item[0]), self._shards)
        if self._pickled:
            item = item[0], pickle.dumps(item[1], pickle.HIGHEST_PROTOCOL)
        return shard, item

    def emit(self, shard: int, pack: list[Any]) -> Any:
        return shard, (self._tag, seal_pack(pack) if self._pickled else pack)


def pack_by_shard(
    pcoll: beam.PCollection, label: str, tag: str, shards: int = SHARDS, pickled: bool = False
) -> beam.PCollection:
    """``pcoll`` of ``(key, value)`` as packs per shard (see ``PackByShardFn``)."""
    hold = pcoll.windowing.is_default()
    return pcoll | label >> beam.ParDo(PackByShardFn(tag, hold, shards, pickled))


def items(packs: Iterable[tuple[str, list[tuple[Any, Any]]]], tag: str) -> Iterable[Any]:
    """The ``(key, value)`` items of the packs tagged ``tag`` in a shard's group."""
    for pack_tag, pack in packs:
        if pack_tag == tag:
            yield from unpack(pack)
