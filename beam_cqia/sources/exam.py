"""Exam-bank questions in our own crawl shape: stem, lettered options, answer key and analysis.

Raw shape::

    {"qid", "exam", "year", "subject", "type", "stem", "options": {"A": ...}, "answer",
     "analysis"}

The question is the stem followed by one line per option ("A. ..."); the answer key and the
analysis stay separate so templates can end the output with a normalized answer sentence, as
COIG-CQIA's exam subsets do ("故本题选B"). The real banks (gaokao, cmmlu, logiqa, jecqa) give the
same layout through :mod:`beam_cqia.sources._exam_layout`.

Rejections: ``empty_stem``, ``missing_answer``, ``missing_options`` (a choice type without
options) and ``answer_not_in_options``.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources._exam_layout import CHOICE_TYPES, exam_doc, with_options
from beam_cqia.sources.base import Origin, Reject, get_str, require_mapping
from beam_cqia.text.ids import doc_id

SOURCE = "exam"
__all__ = ["CHOICE_TYPES", "SOURCE", "adapt"]


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one question into one RawDoc.

    Raises:
        Reject: ``empty_stem``, ``missing_answer``, ``missing_options`` or
            ``answer_not_in_options`` for questions that cannot be answered as given.
        ValueError: when a required field is missing or malformed.
    """
    q = require_mapping(obj)
    qid = get_str(q, "qid")
    stem = get_str(q, "stem").strip()
    qtype = get_str(q, "type")
    answer = get_str(q, "answer", required=False).strip()
    options = q.get("options") or {}
    if not isinstance(options, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in options.items()
    ):
        raise ValueError("field 'options' must map option letters to strings")
    if not stem:
        raise Reject("empty_stem", f"question {qid} has an empty stem")
    if not answer:
        raise Reject("missing_answer", f"question {qid} has no answer key")
    if qtype in CHOICE_TYPES or options:
        if not options:
            raise Reject("missing_options", f"{qtype} {qid} has no options")
        bad = [letter for letter in answer if letter not in options]
        if bad:
            raise Reject(
                "answer_not_in_options",
                f"question {qid}: answer {answer!r} not among options {sorted(options)}",
            )
    yield exam_doc(
        SOURCE,
        doc_id(SOURCE, qid),
        origin,
        question=with_options(stem, sorted(options.items())),
        answer=answer,
        body=get_str(q, "analysis", required=False).strip(),
        meta={
            "qid": qid,
            "exam": get_str(q, "exam", required=False),
            "year": get_str(q, "year", required=False),
            "subject": get_str(q, "subject", required=False),
            "type": qtype,
        },
        url=get_str(q, "url", required=False),
        fetched_at=get_str(q, "fetched_at", required=False),
    )
