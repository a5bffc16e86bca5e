"""Zhihu-style Q&A threads: one question with several answers and vote counts.

Raw shape (one JSON object per thread)::

    {"question_id", "url", "title", "detail", "topics": [...],
     "answers": [{"answer_id", "author", "voteup_count", "comment_count", "created_time",
                  "content"}, ...]}

Each answer becomes one RawDoc (COIG-CQIA keeps one answer per instruction). The question is the
title plus the description, as in COIG-CQIA's Zhihu subset. Answers are ranked by votes within the
thread (rank 1 = most votes), so a spec can keep only top answers.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    get_str,
    get_str_list,
    parse_count,
    py_list_repr,
)
from beam_cqia.sources.base import require_mapping as _require_mapping
from beam_cqia.text.ids import doc_id

SOURCE = "zhihu"


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one thread into one RawDoc per answer.

    Raises:
        Reject: ``no_answers`` when the thread has no answer.
        ValueError: when the thread or an answer lacks a required field.
    """
    thread = _require_mapping(obj)
    qid = get_str(thread, "question_id")
    title = get_str(thread, "title").strip()
    detail = get_str(thread, "detail", required=False).strip()
    topics = get_str_list(thread, "topics")
    url = get_str(thread, "url", required=False) or f"https://www.zhihu.com/question/{qid}"
    answers = thread.get("answers")
    if answers is None:
        raise ValueError("missing field 'answers'")
    if not isinstance(answers, list):
        raise ValueError("field 'answers' must be a list")
    if not answers:
        raise Reject("no_answers", f"question {qid} has no answers")

    parsed = []
    for i, answer in enumerate(answers):
        if not isinstance(answer, Mapping):
            raise ValueError(f"answers[{i}] must be a JSON object")
        votes = parse_count(answer.get("voteup_count", 0), f"answers[{i}].voteup_count")
        parsed.append((answer, get_str(answer, "answer_id"), votes))
    # Rank by votes, ties by answer id (numerically when numeric): the same thread always gives
    # the same ranks.
    ranked = sorted(parsed, key=lambda a: (-a[2], _id_order(a[1])))
    rank_of = {aid: rank for rank, (_, aid, _) in enumerate(ranked, start=1)}

    question = f"{title}\n{detail}" if detail else title
    for answer, aid, votes in parsed:
        meta = {
            "qid": qid,
            "aid": aid,
            "tag": py_list_repr(topics),
            "votes": str(votes),
            "comments": str(parse_count(answer.get("comment_count", 0), "comment_count")),
            "answer_rank": str(rank_of[aid]),
            "answers_in_thread": str(len(parsed)),
            "author": get_str(answer, "author", required=False),
            "created": get_str(answer, "created_time", required=False),
        }
        yield RawDoc(
            id=doc_id(SOURCE, aid),
            source=SOURCE,
            subset=origin.subset,
            url=f"{url.rstrip('/')}/answer/{aid}",
            title=title,
            question=question,
            body="",
            answer=get_str(answer, "content", required=False),
            meta=meta,
            fetched_at=get_str(thread, "fetched_at", required=False) or origin.fetched_at,
            origin_file=origin.file,
            origin_offset=origin.offset,
            signals={},
            lineage=[],
        )


def _id_order(answer_id: str) -> tuple[int, int, str]:
    if answer_id.isdigit():
        return (0, int(answer_id), answer_id)
    return (1, 0, answer_id)
