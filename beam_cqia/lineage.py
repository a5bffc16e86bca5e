"""Lineage notes: what a record's ``lineage`` entries say, written and read in one place.

Every stage that touches a record appends one entry, ``<stage>`` or ``<stage>:<note>``:

- readers: ``ReadZhihu:<file>@<offset>`` and `` url=<url>`` when the source had one (the offset
  is a byte offset, or the line, row or item for CSV, Parquet and JSON arrays);
- NormalizeText: the counts of what it changed, ``NormalizeText:t2s_chars=3,urls=1``;
- dedup stages, on the record they keep: ``DedupExact:kept_of=2,cluster=exact:<hash>``;
- FilterByScore, on records that pass: ``FilterByScore:passed=<rule>,<rule>...`` (the rules that
  applied to the record; rejected records carry the failed ones and their values instead);
- RebuildFromTemplate: the template and variant, ``RebuildFromTemplate:zhihu_qa.v1#2``;
- LLM stages: the request's cache key, ``JudgeWithLLM:llm=<sha256>`` (the cached answer is
  ``<cache>/<key[:2]>/<key>.json`` in a directory cache);
- TagSchema: the domain rule that fired, ``TagSchema:domain=keyword:历史[...]``.

Pure functions, no Beam.
"""

import re
from typing import NamedTuple

_ORIGIN = re.compile(r"^(?P<file>.*)@(?P<offset>-?\d+)$")
_URL_SEP = " url="
LLM_KEY = "llm"
_LLM = re.compile(rf"(?:^|,){LLM_KEY}=([0-9a-f]+)(?:,|$)")


class Origin(NamedTuple):
    """Where a record was read: the reading stage, file, position and the source's URL."""

    stage: str
    file: str
    offset: int
    url: str


def origin_note(stage: str, file: str, offset: int, url: str = "") -> str:
    """The lineage entry of a record read from ``file`` at ``offset``."""
    return f"{stage}:{file}@{offset}" + (f"{_URL_SEP}{url}" if url else "")


def split(entry: str) -> tuple[str, str]:
    """``(stage, note)`` of an entry; the note is "" for a bare stage name."""
    stage, _, note = entry.partition(":")
    return stage, note


def parse_origin(entry: str) -> Origin | None:
    """The origin an entry names, or None when it is not a reader's entry."""
    stage, note = split(entry)
    where, _, url = note.partition(_URL_SEP)
    match = _ORIGIN.match(where)
    if not match:
        return None
    return Origin(stage, match["file"], int(match["offset"]), url)


def origin_of(lineage: list[str] | tuple[str, ...] | None) -> Origin | None:
    """The first origin in a lineage (the record's raw input), or None."""
    for entry in lineage or ():
        origin = parse_origin(entry)
        if origin is not None:
            return origin
    return None


def note_fields(note: str) -> dict[str, str]:
    """``k=v,k=v`` notes as a dict (a part without ``=`` belongs to the value before it, so
    values may hold commas); {} when the note is not of that form. ``original=`` (the raw text
    an LLM stage replaced) takes the whole note."""
    if note.startswith("original="):
        return {"original": note[len("original=") :]}
    out: dict[str, str] = {}
    last = None
    for part in note.split(","):
        key, sep, value = part.partition("=")
        if sep and key and " " not in key:
            out[key] = value
            last = key
        elif last is not None:
            out[last] += "," + part
        else:
            return {}
    return out


def kept_note(kept_of: int, cluster: str) -> str:
    """The note of the record a dedup stage keeps from a group of ``kept_of``."""
    return f"kept_of={kept_of},cluster={cluster}"


def cluster_of(lineage: list[str] | tuple[str, ...] | None) -> str:
    """The duplicate cluster the record was kept for (the last dedup stage's), or ""."""
    for entry in reversed(list(lineage or ())):
        cluster = note_fields(split(entry)[1]).get("cluster")
        if cluster:
            return cluster
    return ""


def llm_note(key: str, *extra: str) -> str:
    """The note of an LLM stage: what else it records, then the request's cache key."""
    return ",".join([*extra, f"{LLM_KEY}={key}"])


def llm_keys(lineage: list[str] | tuple[str, ...] | None) -> list[tuple[str, str]]:
    """``(stage, cache key)`` of every LLM request the record went through, in order."""
    out = []
    for entry in lineage or ():
        stage, note = split(entry)
        match = _LLM.search(note)
        if match and not note.startswith("original="):
            out.append((stage, match[1]))
    return out
