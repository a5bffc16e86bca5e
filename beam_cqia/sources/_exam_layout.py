"""The RawDoc layout shared by the exam-bank adapters (exam, gaokao, cmmlu, logiqa, jecqa).

All of them give ``question`` = the stem followed by one ``"A. ..."`` line per option, ``answer`` =
the answer key (option letters in order for choice questions, the answer text otherwise),
``body`` = the analysis, and ``meta`` with at least qid, exam, year, subject and type, so one
family of templates (``exam_question.v1``, ``law_exam.v1``, ``logiqa_question.v1``) renders them and
ends the output with a normalized answer sentence ("故本题选B" / "因此答案为：…").

Not an adapter (no ``SOURCE``): the leading underscore keeps it out of adapter discovery.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import Origin, new_doc

# Question types whose answer is a set of option letters (the templates end these with "故本题选X").
CHOICE_TYPES = ("单项选择题", "多项选择题", "选择题")


def with_options(stem: str, options: Iterable[tuple[str, str]]) -> str:
    """The stem followed by one ``"A. text"`` line per (letter, text) option, texts stripped."""
    return "\n".join([stem, *(f"{letter}. {text.strip()}" for letter, text in options)])


def choice_type(key: str) -> str:
    """单项选择题 for a one-letter answer key, 多项选择题 for several letters."""
    return "单项选择题" if len(key) == 1 else "多项选择题"


def letters_key(letters: Iterable[str]) -> str:
    """An answer key from option letters: unique, sorted, joined (``["C", "A"]`` → ``"AC"``)."""
    return "".join(sorted(set(letters)))


def number_str(value: Any, field: str) -> str:
    """A score or count as text: ``6`` → ``"6"``, ``1.5`` → ``"1.5"``, ``6.0`` → ``"6"``.

    Missing (None) is ``""``; numeric strings are kept as they are.

    Raises:
        ValueError: naming the field when the value is not a number.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        raise ValueError(f"field {field!r} must be a number, got bool")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            float(text)
        except ValueError:
            raise ValueError(f"field {field!r} must be a number, got {value!r}") from None
        return text
    raise ValueError(f"field {field!r} must be a number, got {type(value).__name__}")


def exam_doc(
    source: str,
    doc_id: str,
    origin: Origin,
    *,
    question: str,
    answer: str,
    body: str,
    meta: Mapping[str, str],
    url: str = "",
    fetched_at: str = "",
) -> RawDoc:
    """A RawDoc in the exam layout (no title; provenance from ``origin``)."""
    return new_doc(
        source,
        origin,
        doc_id,
        url=url,
        question=question,
        body=body,
        answer=answer,
        meta=meta,
        fetched_at=fetched_at,
    )
