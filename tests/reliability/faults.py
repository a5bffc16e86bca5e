"""Fault injection for the reliability tests (test-only; importable by worker processes).

- :func:`fail_on`: replaces a stage DoFn's ``process`` so that records carrying a marker raise a
  chosen exception (in-process runners only: it patches the class).
- :func:`flaky_baike`: the ``baike`` adapter, raising for records whose title carries ``〔X`` (an
  adapter named by dotted path, so it works in worker processes too).
- :class:`KillOnce`: a DoFn that ends its worker process (``os._exit``) at a chosen record, the
  first time only (a marker file remembers that it happened).
- :func:`baike_lines`: baike raw records, each with a unique marker ``〔R0001〕`` in its title,
  the way to follow every input through data, rejected and errors.
"""

import json
import os
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import apache_beam as beam

from beam_cqia.sources import baike

MARKER = re.compile(r"〔([RX]\d{4})〕")


def marker(i: int, fail: bool = False) -> str:
    return f"〔{'X' if fail else 'R'}{i:04d}〕"


def markers_in(text: str) -> list[str]:
    """The input markers found in a text (a record, a rejected record's JSON...)."""
    return MARKER.findall(text or "")


_SECTIONS = (
    "这是一个用于可靠性测试的词条，正文足够长，能够通过质量阈值的检查。它描述了一件普通的事物，"
    "包括它的来历、用途和一些常见的误解。人们在日常生活中经常接触到它，却很少认真了解它的细节。"
)


def baike_lines(n: int, fail: set[int] = frozenset(), duplicates: int = 0, short: int = 0) -> bytes:
    """``n`` baike entries (JSON lines), record ``i`` titled with :func:`marker`; the last
    ``duplicates`` repeat the body of the first ones (DedupExact rejects them) and ``short`` more
    have a body too short for FilterByScore."""
    lines = []
    for i in range(n + duplicates + short):
        body_of = i - n if n <= i < n + duplicates else i
        summary = f"第{body_of}号词条。" + _SECTIONS
        if i >= n + duplicates:
            summary = f"短{i}。"
        entry = {
            "entry_id": f"rel-{i:04d}",
            "url": f"https://baike.example.org/item/rel-{i:04d}",
            "title": f"测试词条{marker(i, i in fail)}",
            "category": ["测试"],
            "summary": summary,
            "sections": [] if i >= n + duplicates else [{"heading": "详情", "text": _SECTIONS}],
        }
        lines.append(json.dumps(entry, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode("utf-8")


def flaky_baike(obj: Mapping[str, Any], origin: Any) -> Iterator[Any]:
    """The baike adapter, failing with a RuntimeError for titles marked ``〔X...〕``."""
    if "〔X" in str(obj.get("title", "")):
        raise RuntimeError(f"injected adapter failure for {obj.get('title')}")
    yield from baike.adapt(obj, origin)


def _text_of(element: Any) -> str:
    return str(getattr(element, "title", "") or getattr(element, "instruction", "") or "")


def fail_on(monkeypatch: Any, dofn_cls: type, fail: Mapping[str, type[BaseException]]) -> list[str]:
    """Makes ``dofn_cls.process(self, element)`` raise ``fail[marker]`` for elements whose title
    (RawDoc) or instruction (CqiaRecord) holds the marker; returns the markers, for checks."""
    original: Callable = dofn_cls.process

    def process(self, element):  # the wrapped DoFns take one argument
        text = _text_of(element)
        for mark, exc in fail.items():
            if mark in text:
                raise exc(f"injected into {dofn_cls.__name__} for {mark}")
        return original(self, element)

    monkeypatch.setattr(dofn_cls, "process", process)
    return list(fail)


class KillOnce(beam.DoFn):
    """Passes elements through; at the element whose text holds ``at``, ends the worker process
    without any clean-up, once (``marker_file`` records that it did)."""

    def __init__(self, at: str, marker_file: str):
        self._at, self._marker = at, marker_file

    def process(self, element: Any) -> Iterator[Any]:
        if self._at in _text_of(element) and not os.path.exists(self._marker):
            with open(self._marker, "w") as fh:
                fh.write(str(os.getpid()))
            os._exit(17)
        yield element
