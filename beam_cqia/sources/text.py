"""Plain text: one document per file, or one per line.

ReadCrawl with ``format: text`` gives ``{"text", "path", "encoding"}`` for each file
(``text_unit: file``) or each non-blank line (``text_unit: line``). The text, stripped of
surrounding whitespace, is the ``body``; ``title`` is empty (a title line cannot be told from a
first sentence in arbitrary text; use the ``wiki`` adapter for titled articles). ``meta``:
``encoding`` (as decoded) and ``file`` (the file name). ``id`` is a content id of the text, so
the same text read twice gets the same id.

Rejected: ``empty_text`` (only whitespace).
"""

from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import Origin, Reject, get_str, new_doc, require_mapping
from beam_cqia.text.ids import content_id

SOURCE = "text"


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one text file or line into one RawDoc.

    Raises:
        Reject: ``empty_text``.
        ValueError: when ``text`` is missing or not a string.
    """
    record = require_mapping(obj)
    text = get_str(record, "text").strip()
    path = get_str(record, "path", required=False)
    if not text:
        raise Reject("empty_text", f"{path or 'record'} holds only whitespace")
    yield new_doc(
        SOURCE,
        origin,
        content_id(SOURCE, text),
        url=get_str(record, "url", required=False),
        body=text,
        meta={
            "encoding": get_str(record, "encoding", required=False),
            "file": PurePosixPath(path.replace("\\", "/")).name if path else "",
        },
    )
