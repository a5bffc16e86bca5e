"""GAOKAO-Bench: national college-entrance exam questions 2010-2022, with answers and analyses.

Raw shape: each file is one JSON object ``{"keywords": "<file stem>", "example": [...]}``; read it
with ``json_items: example.item`` so that each question is one record (and one rejection or error
of its own)::

    {"year": "2010", "category": "（新课标）", "question": "4. (6 分) ...\\nA. ...\\nB. ...",
     "answer": ["B"] | ["BC"] | ["A", "C", "B"] | "三棱锥、圆锥\\n", "analysis": "解：...",
     "index": 1, "score": 6 | 1.5}

Mapping to RawDoc (the layout of :mod:`beam_cqia.sources.exam`):

- ``question``: the question text as given. Its options are already in it, written as the PDF
  extraction left them (inline ``A．… B．…`` or one per line); splitting them out of text with
  broken lines would be guesswork, so they are kept in place.
- ``answer``: objective files give a list. One element is one question: its letters are the key
  (``["BC"]`` is the multi-select key ``BC``, as Physics writes it). Several elements are the
  sub-questions of one passage (reading, cloze, a group of MCQs): the key is their letters in
  order, joined with ``、`` (``A、C、B``), and ``meta.subquestions`` says how many. Subjective files
  give the answer text (stripped).
- ``body``: the analysis (26 are empty, which is allowed).
- ``meta``: qid (``<file stem>#<index>``), exam (``高考``), paper (``category``: the paper name,
  e.g. ``（新课标Ⅰ）``), year, subject and section from the file name, type, score, subquestions.
  Types: 单项选择题 / 多项选择题 (from the key) for one question, 选择题 for a group, then 填空题
  (Fill-in-the-Blank, dictation, grammar cloze), 改错题 (error correction) and 开放题 (open-ended
  and reading questions answered in prose; COIG-CQIA's kaoyan subset uses 开放题 the same way).

Rejections: ``needs_image`` for questions with a Markdown image (Mathpix crops in 6 questions:
a flow chart, molecule drawings, option images, half of a stem): part of the question is only in
the picture, so the text alone cannot be answered and COIG-CQIA drops images; images in an
analysis are removed and the text kept. ``missing_answer``, ``empty_question``, ``bad_answer_key``
(a key that is not option letters) and ``answer_not_in_options`` (a key letter with no ``X.``
option label in the question).
"""

import re
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources._exam_layout import choice_type, exam_doc, letters_key, number_str
from beam_cqia.sources.base import Origin, Reject, get_str, require_mapping
from beam_cqia.text.ids import doc_id

SOURCE = "gaokao"

REAL_DATA = [
    {
        "path": "gaokao-bench/*/*.json",
        "format": "json",
        "json_items": "example.item",
        "expect": {"errors": 0, "rejected": {"needs_image": 6}},
        "why": {
            "needs_image": "6 questions (5 Chemistry MCQs, 1 Math I MCQ) hold Mathpix image links "
            "for a flow chart, structures, the options or the rest of the stem: not answerable "
            "from the text",
        },
    },
]

# Subject word(s) at the start of a GAOKAO-Bench task name (after the year range).
SUBJECTS = {
    "Political_Science": "政治",
    "Biology": "生物",
    "Chemistry": "化学",
    "Chinese": "语文",
    "English": "英语",
    "Geography": "地理",
    "History": "历史",
    "Math": "数学",
    "Physics": "物理",
}
# Exam-paper sections named by the task name; other tasks get 选择题 (objective) or 非选择题.
SECTIONS = {
    "English_MCQs": "单项填空",
    "Chinese_Lang_and_Usage_MCQs": "语言文字运用",
    "Chinese_Modern_Lit": "现代文阅读",
    "English_Fill_in_Blanks": "完形填空",
    "English_Reading_Comp": "阅读理解",
    "English_Cloze_Test": "七选五",
    "Chinese_Language_Ancient_Poetry_Reading": "古代诗歌阅读",
    "Chinese_Language_Classical_Chinese_Reading": "文言文阅读",
    "Chinese_Language_Famous_Passages_and_Sentences_Dictation": "名篇名句默写",
    "Chinese_Language_Language_and_Writing_Skills_Open-ended_Questions": "语言文字运用",
    "Chinese_Language_Literary_Text_Reading": "文学类文本阅读",
    "Chinese_Language_Practical_Text_Reading": "实用类文本阅读",
    "English_Language_Error_Correction": "短文改错",
    "English_Language_Cloze_Passage": "语法填空",
}
# Subjective tasks whose answers are blanks to fill, or corrections.
_BLANK_MARKERS = ("Fill-in-the-Blank", "Dictation", "Cloze_Passage")
_CORRECTION_MARKERS = ("Error_Correction",)

_YEARS = re.compile(r"^\d{4}(?:-\d{4})?_")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_KEY = re.compile(r"^[A-G]+$")


def task_of(path: str) -> tuple[str, str]:
    """The task name and its Chinese subject from a GAOKAO-Bench file path.

    ``.../2010-2022_Math_I_MCQs.json`` → ``("Math_I_MCQs", "数学")``.

    Raises:
        ValueError: when the file name does not name a known subject.
    """
    name = PurePosixPath(path.replace("\\", "/")).name
    stem = name.rsplit(".", 1)[0] if "." in name else name
    task = _YEARS.sub("", stem)
    for word, subject in SUBJECTS.items():
        if task == word or task.startswith(word + "_"):
            return task, subject
    raise ValueError(
        f"cannot tell the subject of GAOKAO-Bench file {name!r} "
        f"(expected <years>_<subject>_<task>.json, subjects {sorted(SUBJECTS)})"
    )


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one GAOKAO-Bench question into one RawDoc.

    Raises:
        Reject: ``needs_image``, ``empty_question``, ``missing_answer``, ``bad_answer_key`` or
            ``answer_not_in_options`` (see the module docstring).
        ValueError: for a whole file read without ``json_items: example.item``, a file name with
            no known subject, or a question lacking a field or with a wrongly typed one.
    """
    q = require_mapping(obj)
    if "example" in q and "question" not in q:
        raise ValueError("got a whole GAOKAO-Bench file: read it with json_items: example.item")
    task, subject = task_of(origin.file)
    if "index" not in q or isinstance(q["index"], (bool, float)):
        raise ValueError("field 'index' must be the question's integer index in its file")
    stem_name = PurePosixPath(origin.file.replace("\\", "/")).name.rsplit(".", 1)[0]
    qid = f"{stem_name}#{get_str(q, 'index')}"
    question = get_str(q, "question").strip()
    raw_answer = q.get("answer")
    if raw_answer is None:
        raise ValueError("missing field 'answer'")
    if not isinstance(raw_answer, (str, list)):
        raise ValueError(
            f"field 'answer' must be a list or a string, got {type(raw_answer).__name__}"
        )
    if not question:
        raise Reject("empty_question", f"question {qid} has no text")
    if _IMAGE.search(question):
        raise Reject("needs_image", f"question {qid} shows part of itself as an image")
    subquestions = 1
    if isinstance(raw_answer, list):
        keys = []
        for i, element in enumerate(raw_answer):
            if not isinstance(element, str):
                raise ValueError(f"answer[{i}] must be a string, got {type(element).__name__}")
            keys.append(element.strip().upper())
        if not keys or not all(keys):
            raise Reject("missing_answer", f"question {qid} has an empty answer key {raw_answer}")
        bad = [k for k in keys if not _KEY.match(k)]
        if bad:
            raise Reject("bad_answer_key", f"question {qid}: {bad} are not option letters")
        missing = sorted({letter for k in keys for letter in k if not _has_label(question, letter)})
        if missing:
            raise Reject(
                "answer_not_in_options",
                f"question {qid}: answer letters {missing} have no option in the question",
            )
        keys = [letters_key(k) for k in keys]
        subquestions = len(keys)
        answer = "、".join(keys)
        qtype = choice_type(keys[0]) if subquestions == 1 else "选择题"
        section = SECTIONS.get(task, "选择题")
    else:
        answer = raw_answer.strip()
        if not answer:
            raise Reject("missing_answer", f"question {qid} has an empty answer")
        if any(m in task for m in _BLANK_MARKERS):
            qtype = "填空题"
        elif any(m in task for m in _CORRECTION_MARKERS):
            qtype = "改错题"
        else:
            qtype = "开放题"
        section = SECTIONS.get(task, "非选择题")
    body = _IMAGE.sub("", get_str(q, "analysis", required=False)).strip()
    yield exam_doc(
        SOURCE,
        doc_id(SOURCE, qid),
        origin,
        question=question,
        answer=answer,
        body=body,
        meta={
            "qid": qid,
            "exam": "高考",
            "paper": get_str(q, "category", required=False).strip(),
            "year": get_str(q, "year", required=False).strip(),
            "subject": subject,
            "section": section,
            "type": qtype,
            "score": number_str(q.get("score"), "score"),
            "subquestions": str(subquestions),
        },
    )


def _has_label(question: str, letter: str) -> bool:
    # An option label: the letter, not inside a word, then a period, comma-like mark or colon.
    return re.search(rf"(?<![A-Za-z]){letter}\s*[.．、:：]", question) is not None
