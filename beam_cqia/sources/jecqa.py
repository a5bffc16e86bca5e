"""JEC-QA: multiple-choice questions of China's National Judicial Examination (law exam).

Raw shape: JSON lines (the sample file is named ``*.json``: read it with ``format: jsonl``)::

    {"answer": ["A", "B"], "id": "3_8132", "statement": "……对于此案，下列哪项说法正确?",
     "option_list": {"A": "...", "B": "...", "C": "...", "D": "..."},
     "subject": "行政法与行政诉讼法", "type": "1"}

``subject`` is optional (missing in 3 of the 5 sample records); ``type`` is a string of digits
(kept as ``meta.jec_type``: JEC-QA's own question class, not a question type); an answer given as a
string of letters (``"AB"``) is read like the list.

Mapping to RawDoc (the layout of :mod:`beam_cqia.sources.exam`): ``question`` is the statement
and the lines ``A. ...``; ``answer`` the letters, sorted (``ABCD``); no analysis (``body`` "").
``meta``: qid (``id``), exam (``国家司法考试``), year (""), subject ("" when missing), type
(单项选择题 for one letter, 多项选择题 for several: the exam's multi-answer questions),
jec_type. The ``law_exam.v1`` template labels them like COIG-CQIA's law exam subset (试题 /
法律考研 + type, domain 法律).

Rejections: ``empty_question``, ``missing_answer``, ``missing_options``, ``empty_option``,
``answer_not_in_options``.
Errors: a missing id/statement/option_list/answer or a wrongly typed one.
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources._exam_layout import choice_type, exam_doc, letters_key, with_options
from beam_cqia.sources.base import Origin, Reject, get_str, require_mapping
from beam_cqia.text.ids import doc_id

SOURCE = "jecqa"

REAL_DATA = [
    {"path": "jec-qa-sample/*.json", "format": "jsonl", "expect": {"errors": 0, "rejected": {}}},
]

_LETTER = re.compile(r"^[A-Z]$")


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one JEC-QA question into one RawDoc.

    Raises:
        Reject: ``empty_question``, ``missing_answer``, ``missing_options``, ``empty_option`` or
            ``answer_not_in_options``.
        ValueError: when a field is missing or has the wrong type.
    """
    q = require_mapping(obj)
    qid = get_str(q, "id")
    statement = get_str(q, "statement").strip()
    options = q.get("option_list")
    if not isinstance(options, Mapping) or not all(
        isinstance(k, str) and _LETTER.match(k) and isinstance(v, str) for k, v in options.items()
    ):
        raise ValueError("field 'option_list' must map option letters to strings")
    raw_answer = q.get("answer")
    if raw_answer is None:
        raise ValueError("missing field 'answer'")
    if isinstance(raw_answer, str):
        letters = [c for c in raw_answer.upper() if not c.isspace()]
    elif isinstance(raw_answer, list) and all(isinstance(a, str) for a in raw_answer):
        letters = [a.strip().upper() for a in raw_answer]
    else:
        raise ValueError("field 'answer' must be a list of option letters")
    if not statement:
        raise Reject("empty_question", f"question {qid} has no statement")
    if not [a for a in letters if a]:
        raise Reject("missing_answer", f"question {qid} has no answer key")
    if not options:
        raise Reject("missing_options", f"question {qid} has no options")
    empty = sorted(letter for letter, text in options.items() if not text.strip())
    if empty:
        raise Reject("empty_option", f"question {qid}: options {empty} are empty")
    bad = [a for a in letters if a not in options]
    if bad:
        raise Reject(
            "answer_not_in_options",
            f"question {qid}: answer {bad} not among options {sorted(options)}",
        )
    key = letters_key(letters)
    yield exam_doc(
        SOURCE,
        doc_id(SOURCE, qid),
        origin,
        question=with_options(statement, sorted(options.items())),
        answer=key,
        body="",
        meta={
            "qid": qid,
            "exam": "国家司法考试",
            "year": "",
            "subject": get_str(q, "subject", required=False).strip(),
            "type": choice_type(key),
            "jec_type": get_str(q, "type", required=False).strip(),
        },
    )
