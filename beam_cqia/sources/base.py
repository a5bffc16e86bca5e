"""Shared pieces of source adapters: provenance, rejections, field readers and RawDoc building.

The readers (``get_str``, ``first_str``, ``first_count``, ``tag_list``...) check a field's type
and raise ``ValueError`` naming the field, so that every adapter reports malformed records alike;
:func:`new_doc` fills the RawDoc fields that come from the crawl rather than the record.
"""

import json
import re
from collections.abc import Collection, Mapping
from typing import Any, NamedTuple

from beam_cqia.records import RawDoc


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


def first_str(obj: Mapping[str, Any], *keys: str, required: bool = False) -> str:
    """Reads the first of several alternative field names that holds a non-empty value.

    Crawlers name the same field differently (``question_id``/``qid``/``id``); keys are tried in
    order and the first whose value is not missing, None or "" is read like :func:`get_str`.

    Args:
        obj: the record.
        *keys: the field names, preferred first.
        required: raise when none of the keys is present with a non-None value (a key present
            with "" satisfies it, and gives "").

    Returns:
        The value as a string (numbers converted), or "" when no key holds one.

    Raises:
        ValueError: when the chosen value is not a string or number, or a required field is
            missing (named by the first key).
    """
    for key in keys:
        if obj.get(key) not in (None, ""):
            return get_str(obj, key)
    if required and not any(key in obj and obj[key] is not None for key in keys):
        raise ValueError(f"missing field {keys[0]!r}")
    return ""


def get_str_list(obj: Mapping[str, Any], key: str) -> list[str]:
    """Reads an optional list of strings (missing means empty)."""
    value = obj.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"field {key!r} must be a list of strings")
    return list(value)


def get_list(obj: Mapping[str, Any], key: str, required: bool = False) -> list[Any]:
    """Reads a list field (its items are the caller's to check).

    Args:
        obj: the record.
        key: the field name.
        required: raise when the field is missing or None; otherwise a missing or empty value
            (None, "", {}) means an empty list.

    Raises:
        ValueError: when a required field is missing or the value is not a list.
    """
    value = obj.get(key)
    if required and value is None:
        raise ValueError(f"missing field {key!r}")
    if not required:
        value = value or []
    if not isinstance(value, list):
        raise ValueError(f"field {key!r} must be a list")
    return value


def get_mapping(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """Reads an optional nested JSON object (missing or empty means ``{}``).

    Raises:
        ValueError: when the value is not a JSON object.
    """
    value = obj.get(key) or {}
    if not isinstance(value, Mapping):
        raise ValueError(f"field {key!r} must be a JSON object")
    return value


def tag_list(
    value: Any, field: str, strip: str = "", expected: str = "a list or a string"
) -> list[str]:
    """Reads tags given as ``"a,b"`` (or ``"a，b"``), ``["a", "b"]`` or ``[{"name": "a"}]``.

    Args:
        value: the raw field value; None or "" means no tags.
        field: the field name, for error messages.
        strip: characters removed from both ends of each tag once whitespace is gone (e.g. ``"#"``
            for ``#话题#`` tags); whitespace left inside by that is stripped too.
        expected: how the type error words the accepted types (adapters' messages differ).

    Returns:
        The tags in order, stripped, without empty ones and repeats.

    Raises:
        ValueError: when the value is neither a string nor a list, or an item is not a name.
    """
    if value in (None, ""):
        return []
    if isinstance(value, str):
        items: list[Any] = value.replace("，", ",").split(",")
    elif isinstance(value, list):
        items = value
    else:
        raise ValueError(f"field {field!r} must be {expected}, got {type(value).__name__}")
    tags: list[str] = []
    for item in items:
        name = item.get("name", "") if isinstance(item, Mapping) else item
        if not isinstance(name, str):
            raise ValueError(f"field {field!r} must hold tag names")
        name = name.strip().strip(strip).strip()
        if name and name not in tags:
            tags.append(name)
    return tags


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
    if number is not None and 0 <= number < float("inf"):
        rounded = round(number)
        # "1.2万" is 12000.000000000002 in binary floating point: allow that, not real fractions.
        if abs(number - rounded) < 1e-6 * max(1.0, number):
            return int(rounded)
    raise ValueError(f"{field} must be a count like 523 or '1.2万', got {value!r}")


def first_count(obj: Mapping[str, Any], *keys: str) -> str:
    """Reads the first present count among alternative field names, as a string.

    Keys are tried in order; the first whose value is not missing, None or "" is read with
    :func:`parse_count` (``"1.2万"`` gives ``"12000"``).

    Returns:
        The count as a decimal string, or "" when no key holds a value.

    Raises:
        ValueError: naming the key when its value is not a count.
    """
    for key in keys:
        if obj.get(key) not in (None, ""):
            return str(parse_count(obj[key], key))
    return ""


def id_order(native_id: str) -> tuple[int, int, str]:
    """A sort key for native ids: numeric ids numerically, then the others as text."""
    if native_id.isdigit():
        return (0, int(native_id), native_id)
    return (1, 0, native_id)


def py_list_repr(values: list[str]) -> str:
    """Formats a list the way COIG-CQIA metadata does: ``['声音', '女孩']``."""
    return "[" + ", ".join("'" + v.replace("'", "\\'") + "'" for v in values) + "]"


def json_str(value: Any) -> str:
    """Compact JSON for structured meta values (meta values are strings)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def scalar_meta(obj: Mapping[str, Any], exclude: Collection[str]) -> dict[str, str]:
    """The record's string and number fields (not booleans) as strings, in order, except some.

    Keeps whatever else a third-party record carries (ids, categories, sources) as ``meta``.
    """
    return {
        key: str(value)
        for key, value in obj.items()
        if key not in exclude
        and isinstance(value, (str, int, float))
        and not isinstance(value, bool)
    }


def category_meta(path: list[str]) -> dict[str, str]:
    """The meta keys of a category path (top level first), as the article templates read them.

    ``category`` is the path joined with "/", ``category_top`` and ``category_leaf`` its first and
    last parts ("" for an empty path).
    """
    return {
        "category": "/".join(path),
        "category_top": path[0] if path else "",
        "category_leaf": path[-1] if path else "",
    }


def new_doc(
    source: str,
    origin: Origin,
    doc_id: str,
    *,
    url: str = "",
    title: str = "",
    question: str = "",
    body: str = "",
    answer: str = "",
    meta: Mapping[str, str] | None = None,
    fetched_at: str = "",
) -> RawDoc:
    """A RawDoc with its provenance from ``origin`` and nothing filled by later stages yet.

    Args:
        source: the adapter's ``SOURCE``.
        origin: where the raw record came from; gives ``subset``, ``origin_file``,
            ``origin_offset`` and the default ``fetched_at``.
        doc_id: the document id (see :mod:`beam_cqia.text.ids`).
        url, title, question, body, answer: the text fields (see RawDoc); "" when not given.
        meta: string metadata (copied); ``{}`` when not given.
        fetched_at: the record's own fetch time; "" means ``origin.fetched_at``.

    Returns:
        The RawDoc, with empty ``signals`` and ``lineage``.
    """
    return RawDoc(
        id=doc_id,
        source=source,
        subset=origin.subset,
        url=url,
        title=title,
        question=question,
        body=body,
        answer=answer,
        meta=dict(meta or {}),
        fetched_at=fetched_at or origin.fetched_at,
        origin_file=origin.file,
        origin_offset=origin.offset,
        signals={},
        lineage=[],
    )
