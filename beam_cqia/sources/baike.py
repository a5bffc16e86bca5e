"""Encyclopedia-style entries (baike pages, medical and agricultural encyclopedias).

Raw shape::

    {"entry_id", "url", "title", "category": [top, sub...], "summary",
     "sections": [{"heading", "text"}, ...], "updated"}

The body is the summary followed by each section as a Markdown ``## heading`` block, which is how
COIG-CQIA's encyclopedia outputs are laid out.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    category_meta,
    get_list,
    get_str,
    get_str_list,
    new_doc,
    require_mapping,
)
from beam_cqia.text.ids import doc_id

SOURCE = "baike"


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one entry into one RawDoc.

    Raises:
        Reject: ``empty_entry`` when the entry has neither summary nor section text.
        ValueError: when a required field is missing or malformed.
    """
    entry = require_mapping(obj)
    entry_id = get_str(entry, "entry_id")
    title = get_str(entry, "title").strip()
    category = get_str_list(entry, "category")
    summary = get_str(entry, "summary", required=False).strip()
    sections = get_list(entry, "sections")
    blocks = [summary] if summary else []
    for i, section in enumerate(sections):
        if not isinstance(section, Mapping):
            raise ValueError(f"sections[{i}] must be a JSON object")
        heading = get_str(section, "heading", required=False).strip()
        text = get_str(section, "text", required=False).strip()
        if text:
            blocks.append(f"## {heading}\n\n{text}" if heading else text)
    if not blocks:
        raise Reject("empty_entry", f"entry {entry_id} has no text")
    yield new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, entry_id),
        url=get_str(entry, "url", required=False),
        title=title,
        body="\n\n".join(blocks),
        meta={
            "entry_id": entry_id,
            **category_meta(category),
            "updated": get_str(entry, "updated", required=False),
        },
        fetched_at=get_str(entry, "fetched_at", required=False),
    )
