"""Source adapters: one per source family, each turning a parsed raw record into RawDocs.

Adapters know nothing of Beam. They raise :class:`~beam_cqia.sources.base.Reject` for records
that are well-formed but unusable (an expected drop, with a reason) and ``ValueError`` for records
that do not have the shape the adapter expects (an error).
"""

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources import baike, exam, zhihu
from beam_cqia.sources.base import Origin, Reject

Adapter = Callable[[Mapping[str, Any], Origin], Iterator[RawDoc]]

ADAPTERS: Mapping[str, Adapter] = {
    "zhihu": zhihu.adapt,
    "baike": baike.adapt,
    "exam": exam.adapt,
}


def get_adapter(name: str) -> Adapter:
    """Returns the adapter registered under ``name``.

    Raises:
        ValueError: naming the known adapters when ``name`` is not one of them.
    """
    try:
        return ADAPTERS[name]
    except KeyError:
        raise ValueError(f"unknown source adapter {name!r}; known: {sorted(ADAPTERS)}") from None


__all__ = ["ADAPTERS", "Adapter", "Origin", "Reject", "get_adapter"]
