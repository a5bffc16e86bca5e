"""LogiQA 2.0 (Chinese): logical-reasoning multiple-choice questions from civil-service exams.

Raw shape: JSON lines (the files are named ``*.txt``: read them with ``format: jsonl``)::

    {"example_id": 12713, "answer": 3, "text": "调查发现养宠物的人往往更健康、更乐观。",
     "question": "由此，可以推断出以下哪项？",
     "options": ["A.养宠物会让人……", "B．……", "C,……", "D ……"]}

Mapping to RawDoc (the layout of :mod:`beam_cqia.sources.exam`): ``question`` is the passage, the
question and the lines ``A. ...`` to ``D. ...``; ``answer`` the letter of the option at index
``answer``; no analysis (``body`` ""). ``meta``: qid (``example_id``), exam ("": mostly
civil-service items, some translated from English tests), year (""), subject (``逻辑推理``),
type (单项选择题) and ``answer_option``, the text of the right option, so the output can name it.

Option labels are inconsistent in the real data ("A." 1703×, none 1028×, "A．", "A,", "A、", "A ",
full-width "Ｂ.", a label lost to a bare ".", labels out of order like ``["A．F", "C．J", "B. G"]``)
and some options really start with a letter (``["A收留了…", "A失踪后…"]``, ``["A, B, C", "A, B,
D"]``). A record counts as labelled when at least three options carry a label with their own
position's letter, or three or more carry labels with distinct letters; only then labels are
removed: any letter with a separator, a bare letter or a lone "." only where the letter is the
option's own (or missing). The answer is an index, so options are relettered by position.

Rejections: ``empty_option`` (4 records, 6 empty strings: machine-translated items whose passage
is also garbled, e.g. "空气污染、犯罪,  . Y   ,"; three of them key an empty option as the
answer. Their shape is right, so they are rejected, not errors), ``empty_question`` (no passage
and no question) and ``answer_out_of_range``. A wrong type (answer not an integer, options not a
list of strings) is an error.
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources._exam_layout import exam_doc, with_options
from beam_cqia.sources.base import Origin, Reject, get_str, require_mapping
from beam_cqia.text.ids import doc_id

SOURCE = "logiqa"

REAL_DATA = [
    {
        "path": "logiqa2-zh/*_zh.txt",
        "format": "jsonl",
        "expect": {"errors": 0, "rejected": {"empty_option": 4}},
        "why": {
            "empty_option": "4 machine-translated items (dev 11214, 13917, 14346; test 14133) have "
            "empty options and garbled passages; 3 key an empty option as the answer",
        },
    },
]

LETTERS = "ABCDEFGH"
_FULLWIDTH = str.maketrans("ＡＢＣＤＥＦＧＨ", "ABCDEFGH")
# A label: a letter then a separator (period, comma, enumeration comma, colon) or whitespace.
_SEPARATED = re.compile(r"^\s*([A-HＡ-Ｈ])\s*(?:[.．、,，:：]|\s)\s*")
# A bare label: the letter directly followed by a CJK character (label without separator).
_BARE = re.compile(r"^\s*([A-HＡ-Ｈ])(?=[\u4e00-\u9fff])")
_LOST = re.compile(r"^\s*[.．](?=\S)")


def strip_labels(options: list[str]) -> list[str]:
    """Options without their "A."-style labels, when the record is labelled (module docstring)."""
    found = []
    for option in options:
        match = _SEPARATED.match(option) or _BARE.match(option)
        found.append(match.group(1).translate(_FULLWIDTH) if match else None)
    own = sum(1 for i, letter in enumerate(found) if letter == LETTERS[i])
    labelled = [letter for letter in found if letter]
    if own < 3 and not (len(labelled) >= 3 and len(set(labelled)) == len(labelled)):
        return [option.strip() for option in options]
    out = []
    for i, option in enumerate(options):
        text = option
        separated = _SEPARATED.match(option)
        bare = _BARE.match(option)
        if separated:
            text = option[separated.end() :]
        elif bare and bare.group(1).translate(_FULLWIDTH) == LETTERS[i]:
            text = option[bare.end() :]
        elif _LOST.match(option):
            text = _LOST.sub("", option)
        # A label that is the whole option ("A", "A   .") is the content, not a label.
        out.append(text.strip() if text.strip(" .．") else option.strip())
    return out


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one LogiQA question into one RawDoc.

    Raises:
        Reject: ``empty_question``, ``empty_option`` or ``answer_out_of_range``.
        ValueError: when a field is missing or has the wrong type.
    """
    q = require_mapping(obj)
    qid = get_str(q, "example_id")
    passage = get_str(q, "text", required=False).strip()
    ask = get_str(q, "question", required=False).strip()
    options = q.get("options")
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise ValueError("field 'options' must be a list of strings")
    if not 2 <= len(options) <= len(LETTERS):
        raise ValueError(
            f"field 'options' must hold 2 to {len(LETTERS)} options, got {len(options)}"
        )
    answer_index = q.get("answer")
    if isinstance(answer_index, bool) or not isinstance(answer_index, int):
        raise ValueError(f"field 'answer' must be an integer index, got {answer_index!r}")
    if not passage and not ask:
        raise Reject("empty_question", f"question {qid} has neither passage nor question")
    empty = [LETTERS[i] for i, option in enumerate(options) if not option.strip()]
    if empty:
        raise Reject("empty_option", f"question {qid}: options {empty} are empty")
    if not 0 <= answer_index < len(options):
        raise Reject(
            "answer_out_of_range", f"question {qid}: answer {answer_index} of {len(options)}"
        )
    texts = strip_labels(options)
    letter = LETTERS[answer_index]
    stem = "\n".join(part for part in (passage, ask) if part)
    yield exam_doc(
        SOURCE,
        doc_id(SOURCE, qid),
        origin,
        question=with_options(stem, zip(LETTERS, texts, strict=False)),
        answer=letter,
        body="",
        meta={
            "qid": qid,
            "exam": "",
            "year": "",
            "subject": "逻辑推理",
            "type": "单项选择题",
            "answer_option": texts[answer_index],
        },
    )
