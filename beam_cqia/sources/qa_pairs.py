"""Short question → answer pairs: 歇后语 (riddle → answer) and plain question/answer records.

An adapter takes no configuration, so the field names are recognised from a fixed list of
shapes (the first whose question and answer keys are both present wins)::

    xiehouyu  {"riddle": "嘴巴抹石灰", "answer": "白说；白吃"}      chinese-xinhua xiehouyu.json
    qa        {"question": "...", "answer": "..."}
    qa        {"q": "...", "a": "..."}

Mapping: ``question`` = the riddle or question, ``answer`` = the answer as given (alternatives
separated by ``；`` and notes in ``（…）`` are kept: they are the source's answer), ``title`` = "".
``meta``: ``kind`` (xiehouyu or qa), ``alternatives`` (number of ``；``-separated answers) and any
other string fields of the record. ``id`` is a content id of question and answer (pairs have no
native id; one riddle may have several answers).

Rejected: ``empty_question``, ``empty_answer``.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import Origin, Reject, get_str, new_doc, require_mapping, scalar_meta
from beam_cqia.text.ids import content_id

SOURCE = "qa_pairs"

REAL_DATA = [
    {"path": "chinese-xinhua/xiehouyu.json", "expect": {"errors": 0, "rejected": {}}},
]

# (kind, question key, answer key), tried in order.
SHAPES = (
    ("xiehouyu", "riddle", "answer"),
    ("qa", "question", "answer"),
    ("qa", "q", "a"),
)
_ALTERNATIVE_SEPARATOR = "；"


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one pair into one RawDoc.

    Raises:
        Reject: ``empty_question`` or ``empty_answer``.
        ValueError: when the record matches no known shape or a field is not a string.
    """
    record = require_mapping(obj)
    shape = next((s for s in SHAPES if s[1] in record and s[2] in record), None)
    if shape is None:
        known = ", ".join(f"{q}/{a}" for _, q, a in SHAPES)
        raise ValueError(f"no question/answer fields ({known}) in keys {sorted(record)}")
    kind, q_key, a_key = shape
    question = get_str(record, q_key, required=False).strip()
    answer = get_str(record, a_key, required=False).strip()
    if not question:
        raise Reject("empty_question", f"{q_key!r} is empty (answer {answer[:20]!r})")
    if not answer:
        raise Reject("empty_answer", f"{a_key!r} is empty for {question[:20]!r}")
    meta = scalar_meta(record, exclude=(q_key, a_key))
    meta.update(
        kind=kind,
        alternatives=str(sum(1 for a in answer.split(_ALTERNATIVE_SEPARATOR) if a.strip())),
    )
    yield new_doc(
        SOURCE,
        origin,
        content_id(SOURCE, question, answer),
        url=get_str(record, "url", required=False),
        question=question,
        answer=answer,
        meta=meta,
    )
