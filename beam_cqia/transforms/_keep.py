"""Keep rules: which record of a group of duplicates survives (deterministic, configurable).

A rule is a list of criteria applied in order, each breaking the ties of the previous ones; the
smallest id always breaks the last tie, so the choice never depends on input order:

- ``longest`` / ``shortest``: characters in the compared fields; ``longest:<field>`` for one field;
- ``max:<signal>`` / ``min:<signal>``: a stored quality signal (records without it rank last);
- ``max:meta.<key>`` / ``min:meta.<key>``: a numeric meta value, e.g. ``max:meta.votes``;
- ``most_votes``: ``max:meta.votes`` then ``longest``;
- ``smallest_id``.
"""

import math
from collections.abc import Callable, Sequence
from typing import Any

from beam_cqia.text.signals import numeric_meta, text_fields_of

SIMPLE = ("longest", "shortest", "smallest_id", "most_votes")
DEFAULT = ("longest", "smallest_id")


def parse_keep(keep: Any) -> tuple[str, ...]:
    """Validates a keep rule (a criterion or a list of them) and returns it as a tuple.

    Raises:
        ValueError: naming the bad criterion.
    """
    criteria = [keep] if isinstance(keep, str) else keep
    if not isinstance(criteria, (list, tuple)) or not criteria:
        raise ValueError(f"keep must be a criterion or a list of them, got {keep!r}")
    for c in criteria:
        if not isinstance(c, str):
            raise ValueError(f"keep criteria are strings, got {c!r}")
        if c in SIMPLE:
            continue
        kind, _, name = c.partition(":")
        if kind in ("max", "min", "longest", "shortest") and name:
            continue
        raise ValueError(
            f"unknown keep criterion {c!r}; use {list(SIMPLE)}, longest:<field>, "
            "max:<signal>, min:<signal>, max:meta.<key> or min:meta.<key>"
        )
    expanded: list[str] = []
    for c in criteria:
        expanded.extend(("max:meta.votes", "longest") if c == "most_votes" else (c,))
    return tuple(expanded)


def _value(record: Any, name: str) -> float | None:
    if name.startswith("meta."):
        return numeric_meta(getattr(record, "meta", None) or {}, name[5:])
    value = (getattr(record, "signals", None) or {}).get(name)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def sort_key(criteria: Sequence[str], fields: Sequence[str] = ()) -> Callable[[Any], tuple]:
    """A key function: the record that sorts first is kept."""

    def length(record: Any, only: str = "") -> int:
        names = [only] if only else (fields or text_fields_of(record))
        return sum(len(getattr(record, f, "") or "") for f in names)

    def key(record: Any) -> tuple:
        parts: list[Any] = []
        for c in criteria:
            kind, _, name = c.partition(":")
            if c == "smallest_id":
                parts.append(record.id)
            elif kind == "longest":
                parts.append(-length(record, name))
            elif kind == "shortest":
                parts.append(length(record, name))
            else:
                value = _value(record, name)
                # (missing?, ordered value): records without the value rank after all others
                parts.append(
                    (value is None, 0.0 if value is None else (-value if kind == "max" else value))
                )
        parts.append(record.id)
        return tuple(parts)

    return key
