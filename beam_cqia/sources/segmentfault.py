"""SegmentFault (思否) programming Q&A: a question with code, its answers, votes and tags.

No public raw crawl exists; the shape is what a question-page crawler writes (one JSON object per
question; SegmentFault ids are 16-digit strings, 1010… for questions and 1020… for answers)::

    {"question_id": "1010000041234567", "url", "title", "content": "<p>...</p><pre>...</pre>",
     "tags": ["javascript", "vue.js"], "votes": 3, "views": 1520, "author", "created",
     "answers": [{"answer_id", "content", "votes": 12, "accepted": true, "author", "created"},
                 ...]}

Also accepted: ``id``/``qid`` for the question id, ``body`` for ``content``, ``tags`` as a
comma-separated string or ``[{"name"}]``, ``is_accepted`` for ``accepted``, ``vote_count`` or
``score`` for ``votes``; counts may be strings, and votes may be negative.

Each answer with text becomes one RawDoc (like Zhihu threads): question = the title, then the
question body converted from HTML to Markdown (code as fenced blocks) — COIG-CQIA's SegmentFault
instructions are title plus body; answer = the answer's Markdown. Answers are ranked with the
accepted one first, then by votes, then by id. meta: ``qid``, ``aid``, ``tags`` ("/"-joined, the
site's tags that COIG-CQIA used as ``domain``), ``votes``, ``accepted`` ("1"/"0"),
``answer_rank``, ``answers_in_thread``, ``question_votes``, ``views``, ``author``, ``created``.
Answers whose content is empty are not emitted (``answers_in_thread`` still counts them).

Rejected: ``no_answers`` (no answers), ``empty_answers`` (every answer is empty), ``empty_title``.
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    first_count,
    first_str,
    get_list,
    get_str,
    id_order,
    new_doc,
    parse_count,
    require_mapping,
    tag_list,
)
from beam_cqia.text.html import fragment_to_markdown
from beam_cqia.text.ids import doc_id

SOURCE = "segmentfault"
_HTML_TAG = re.compile(
    r"</?(?:p|br|div|span|img|h[1-6]|ul|ol|li|pre|code|b|strong|em|i|a|blockquote|table)\b",
    re.I,
)
_SIGNED = re.compile(r"^\s*-\s*\d+\s*$")


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one question page into one RawDoc per non-empty answer.

    Raises:
        Reject: ``empty_title``, ``no_answers`` or ``empty_answers``.
        ValueError: when a required field is missing or malformed.
    """
    page = require_mapping(obj)
    qid = first_str(page, "question_id", "qid", "id")
    if not qid:
        raise ValueError("missing field 'question_id'")
    title = get_str(page, "title").strip()
    body = _markdown(first_str(page, "content", "body"))
    tags = tag_list(page.get("tags"), "tags")
    url = get_str(page, "url", required=False) or f"https://segmentfault.com/q/{qid}"
    answers = get_list(page, "answers", required=True)
    if not title:
        raise Reject("empty_title", f"question {qid} has an empty title")
    if not answers:
        raise Reject("no_answers", f"question {qid} has no answers")

    parsed = []
    for i, answer in enumerate(answers):
        if not isinstance(answer, Mapping):
            raise ValueError(f"answers[{i}] must be a JSON object")
        aid = first_str(answer, "answer_id", "aid", "id")
        if not aid:
            raise ValueError(f"answers[{i}]: missing field 'answer_id'")
        votes = _votes(answer, f"answers[{i}]")
        accepted = _flag(answer, f"answers[{i}]")
        text = _markdown(first_str(answer, "content", "body"))
        parsed.append((answer, aid, votes, accepted, text))
    ranked = sorted(parsed, key=lambda a: (not a[3], -a[2], id_order(a[1])))
    rank_of = {a[1]: rank for rank, a in enumerate(ranked, start=1)}
    if not any(text for *_, text in parsed):
        raise Reject("empty_answers", f"question {qid}: all {len(parsed)} answers are empty")

    question = f"{title}\n{body}" if body else title
    for answer, aid, votes, accepted, text in parsed:
        if not text:
            continue
        meta = {
            "qid": qid,
            "aid": aid,
            "tags": "/".join(tags),
            "votes": str(votes),
            "accepted": "1" if accepted else "0",
            "answer_rank": str(rank_of[aid]),
            "answers_in_thread": str(len(parsed)),
            "question_votes": str(_votes(page, "question")) if _has_votes(page) else "",
            "views": first_count(page, "views", "view_count"),
            "author": first_str(answer, "author", "user").strip(),
            "created": first_str(answer, "created", "created_at", "time").strip(),
        }
        yield new_doc(
            SOURCE,
            origin,
            doc_id(SOURCE, aid),
            url=get_str(answer, "url", required=False) or f"{url.rstrip('/')}/a/{aid}",
            title=title,
            question=question,
            answer=text,
            meta=meta,
            fetched_at=get_str(page, "fetched_at", required=False),
        )


def _markdown(text: str) -> str:
    if _HTML_TAG.search(text):
        return fragment_to_markdown(text).strip()
    return text.strip()


_VOTE_KEYS = ("votes", "vote_count", "score")


def _has_votes(obj: Mapping[str, Any]) -> bool:
    return any(obj.get(k) not in (None, "") for k in _VOTE_KEYS)


def _votes(obj: Mapping[str, Any], where: str) -> int:
    """Net votes: SegmentFault shows negative totals for down-voted posts."""
    for key in _VOTE_KEYS:
        value = obj.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            return value
        if isinstance(value, str) and _SIGNED.match(value):
            return int(value.replace(" ", ""))
        return parse_count(value, f"{where}.{key}")
    return 0


def _flag(answer: Mapping[str, Any], where: str) -> bool:
    for key in ("accepted", "is_accepted"):
        value = answer.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, bool):
            return value
        if value in (0, 1, "0", "1", "true", "false"):
            return value in (1, "1", "true")
        raise ValueError(f"{where}.{key} must be true or false, got {value!r}")
    return False
