"""Xiaohongshu (小红书) notes: a post's title and body, in the platform's own style.

No public raw crawl of XHS exists; the shapes below are what common XHS crawlers write (detected
from the keys):

1. **Flat note** (one JSON object per note, counts as display strings)::

       {"note_id": "64f1c2a3000000001f03a1b2", "type": "normal" | "video", "title", "desc",
        "time": 1693561200000 (ms), "last_update_time", "user_id", "nickname", "ip_location",
        "liked_count": "1.2万", "collected_count", "comment_count", "share_count",
        "tag_list": "护肤,好物分享" (or a list), "note_url", "source_keyword"}

2. **Note card** (the web API's ``note_card``, also inside feed items ``{"id", "note_card"}``)::

       {"note_id", "type", "title", "desc", "time", "ip_location",
        "user": {"user_id", "nickname"},
        "interact_info": {"liked_count", "collected_count", "comment_count", "share_count"},
        "tag_list": [{"name", "type"}]}

Mapping: title = the note title (COIG-CQIA's templates wrap it into the instruction); answer =
``desc`` exactly as posted: emoji, XHS emoji codes (``[偷笑R]``), ``#tags`` (``#旅行[话题]#``) and
line breaks are the style being learned and are kept (only surrounding whitespace goes). meta:
``note_id``, ``type``, ``likes``, ``collects``, ``comments``, ``shares`` (numbers, "1.2万" read as
12000), ``author`` (nickname), ``user_id``, ``time`` (ISO 8601 UTC), ``ip_location``, ``tags``
("/"-joined) and ``keyword`` (the search that found it).

Rejected: ``no_title`` (the templates need the title) and ``empty_post`` (no body text).
"""

from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    first_count,
    first_str,
    get_mapping,
    get_str,
    new_doc,
    require_mapping,
    tag_list,
)
from beam_cqia.text.ids import doc_id

SOURCE = "xhs"
NOTE_TYPES = ("normal", "video")
_COUNTS = (
    ("likes", "liked_count"),
    ("collects", "collected_count"),
    ("comments", "comment_count"),
    ("shares", "share_count"),
)


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one note into one RawDoc.

    Raises:
        Reject: ``no_title`` or ``empty_post``.
        ValueError: when the note id, title or body is missing or a field is malformed.
    """
    record = require_mapping(obj)
    note = record.get("note_card", record)
    if not isinstance(note, Mapping):
        raise ValueError("field 'note_card' must be a JSON object")
    note_id = get_str(note, "note_id", required=False) or get_str(record, "id", required=False)
    if not note_id:
        raise ValueError("missing field 'note_id'")
    if "title" not in note and "display_title" not in note:
        raise ValueError("missing field 'title'")
    title = first_str(note, "title", "display_title").strip()
    if "desc" not in note:
        raise ValueError("missing field 'desc'")
    desc = get_str(note, "desc", required=False).strip()
    note_type = get_str(note, "type", required=False).strip().lower()
    if note_type and note_type not in NOTE_TYPES:
        raise ValueError(f"field 'type' must be one of {list(NOTE_TYPES)}, got {note_type!r}")
    if not title:
        raise Reject("no_title", f"note {note_id} has no title")
    if not desc:
        raise Reject("empty_post", f"note {note_id} has no text")
    user = get_mapping(note, "user")
    interact = get_mapping(note, "interact_info")
    meta = {
        "note_id": note_id,
        "type": note_type,
        **{name: first_count(interact if key in interact else note, key) for name, key in _COUNTS},
        "author": (
            get_str(user, "nickname", required=False) or get_str(note, "nickname", required=False)
        ).strip(),
        "user_id": get_str(user, "user_id", required=False)
        or get_str(note, "user_id", required=False),
        "time": _time(note.get("time")),
        "ip_location": get_str(note, "ip_location", required=False).strip(),
        "tags": "/".join(
            tag_list(
                note.get("tag_list", note.get("tags")),
                "tag_list",
                strip="#",
                expected="a string or a list",
            )
        ),
        "keyword": get_str(note, "source_keyword", required=False).strip(),
    }
    yield new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, note_id),
        url=get_str(note, "note_url", required=False)
        or f"https://www.xiaohongshu.com/explore/{note_id}",
        title=title,
        answer=desc,
        meta=meta,
        fetched_at=_time(note.get("last_modify_ts")),
    )


def _time(value: Any) -> str:
    """Epoch milliseconds (or seconds) as ISO 8601 UTC; strings are kept as they are."""
    if value in (None, ""):
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"a time must be an epoch number or a string, got {type(value).__name__}")
    if isinstance(value, str):
        if not value.strip().isdigit():
            return value.strip()
        value = int(value.strip())
    seconds = value / 1000 if value > 10**11 else value
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # past year 9999, or NaN
        raise ValueError(f"time {value!r} is out of range") from None
