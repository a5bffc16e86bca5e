"""Shared pieces of source adapters: provenance, rejections and field checks."""

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple


class Origin(NamedTuple):
    """Where a raw record came from, and the defaults its RawDocs get."""

    file: str
    offset: int
    subset: str
    fetched_at: str = ""


class Reject(Exception):  # noqa: N818 - it is a verdict, not an error condition
    """Raised by an adapter for a well-formed record that must not become data.

    Args:
        reason: machine-readable reason, e.g. ``"no_answers"``.
        detail: human-readable explanation.
    """

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def require_mapping(obj: Any) -> Mapping[str, Any]:
    """Checks that a raw record is a JSON object."""
    if not isinstance(obj, Mapping):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    return obj


def get_str(obj: Mapping[str, Any], key: str, required: bool = True) -> str:
    """Reads a string field; numbers are accepted and converted (crawlers store ids as either).

    Raises:
        ValueError: when a required field is missing or the value is not a string or number.
    """
    if key not in obj or obj[key] is None:
        if required:
            raise ValueError(f"missing field {key!r}")
        return ""
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"field {key!r} must be a string, got {type(value).__name__}")
    return str(value)


def get_str_list(obj: Mapping[str, Any], key: str) -> list[str]:
    """Reads an optional list of strings (missing means empty)."""
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"field {key!r} must be a list of strings")
    return list(value)


_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([万千kKwW]?)\s*\+?\s*$")
_SCALE = {"": 1, "千": 1_000, "k": 1_000, "K": 1_000, "万": 10_000, "w": 10_000, "W": 10_000}


def parse_count(value: Any, field: str) -> int:
    """Reads a vote or comment count as crawlers store it: 523, "523", "1,234", "1.2万", "3k".

    A count is a whole, non-negative number once its unit is applied ("1.2万" is 12000; "2.5" is
    not a count).

    Raises:
        ValueError: naming the field when the value is not a count.
    """
    number: float | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        match = _COUNT.match(value.replace(",", ""))
        if match:
            number = float(match.group(1)) * _SCALE[match.group(2)]
    if number is not None and number >= 0:
        rounded = round(number)
        # "1.2万" is 12000.000000000002 in binary floating point: allow that, not real fractions.
        if abs(number - rounded) < 1e-6 * max(1.0, number):
            return int(rounded)
    raise ValueError(f"{field} must be a count like 523 or '1.2万', got {value!r}")


def py_list_repr(values: list[str]) -> str:
    """Formats a list the way COIG-CQIA metadata does: ``['声音', '女孩']``."""
    return "[" + ", ".join("'" + v.replace("'", "\\'") + "'" for v in values) + "]"


def json_str(value: Any) -> str:
    """Compact JSON for structured meta values (meta values are strings)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
