"""Forum posts whose title is the question: Baidu Tieba threads such as 弱智吧, and similar boards.

Shapes (detected from the keys):

1. **Thread title** (a board's thread list, e.g. Tieba's 精品 list)::

       {"title": "...", "abs": "first lines of the opening post" | null,
        "href": "/p/8309725102?fr=good", "lz": "<original poster>", "n_reply": "905"}

   Generic names are read too: ``tid``/``thread_id``/``id``, ``url``, ``content``/``body`` for
   the opening post, ``author``, ``reply_num``/``replies``, ``created``, ``forum``.

2. **Floor post** (one reply inside a thread, e.g. the annual best-of threads)::

       {"author": "...", "content": "151、...", "l_num": 2, "ctime": "2018-12-24 00:02"}

   The post itself is the question; a leading list number ("151、", "365.", "123 ") that the
   collecting thread added is removed and kept in meta ``list_index``.

RawDoc: question = the title (or the floor post); body = the opening post's text when it says more
than the title (Tieba's ``abs`` repeats the title for a quarter of threads, and is sometimes
blank); answer = "" unless the record carries one. The raw crawl has no answers: in COIG-CQIA's
Ruozhiba subset the titles are instructions and the answers were written by GPT-4 and checked by
hand, so these RawDocs are instructions waiting for an answer. An answering stage (or an annotated
file with ``answer`` and ``answer_from`` fields, which are read here) fills ``answer``; only then
does the ``forum_question`` template apply (it requires an answer). meta: ``tid``, ``author``,
``replies``, ``floor``, ``created``, ``forum``, ``list_index``, ``answer_from``.

Ids: ``tieba:<tid>`` from a Tieba href, else the thread id or URL; floor posts have no id, so
theirs hashes author, time and text.

Rejected: ``empty_title`` (a title, or floor post, that is empty or only punctuation, symbols or
emoji: nothing to ask).
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

import regex

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    first_count,
    first_str,
    get_str,
    new_doc,
    require_mapping,
)
from beam_cqia.text.ids import content_id, doc_id

SOURCE = "forum"

REAL_DATA = [
    {
        "path": "ruozhiba-tieba/ruozhiba-title-good.json",
        "format": "json",
        "expect": {"errors": 0, "rejected": {}},
        "why": {},
    },
    {
        "path": "ruozhiba-tieba/ruozhiba-post-annual.json",
        "format": "json",
        "expect": {"errors": 0, "rejected": {}},
        "why": {},
    },
]

_WORD = regex.compile(r"[\p{L}\p{N}]")
_TIEBA_HREF = re.compile(r"(?:tieba\.baidu\.com)?/p/(\d+)")
_LIST_INDEX = re.compile(r"^\s*(\d{1,4})(?:\s*[、.．]|\s+)\s*(?=\S)")


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one thread title or floor post into one RawDoc.

    Raises:
        Reject: ``empty_title``.
        ValueError: when the record has neither a title nor a post text, or a field is malformed.
    """
    post = require_mapping(obj)
    if "title" in post:
        yield _thread(post, origin)
    elif "content" in post:
        yield _floor(post, origin)
    else:
        raise ValueError("missing field 'title' (or 'content' for a floor post)")


def _thread(post: Mapping[str, Any], origin: Origin) -> RawDoc:
    title = get_str(post, "title").strip()
    href = first_str(post, "href", "url")
    tieba = _TIEBA_HREF.search(href) if "/p/" in href else None
    tid = tieba.group(1) if tieba else first_str(post, "tid", "thread_id", "id")
    if tieba:
        native, url = f"tieba:{tid}", f"https://tieba.baidu.com/p/{tid}"
    else:
        native, url = tid or href, href
    if not _WORD.search(title):
        raise Reject("empty_title", f"thread {native or '?'}: title {title!r} has no words")
    opening = first_str(post, "abs", "content", "body").strip()
    meta = {
        "tid": tid,
        "author": first_str(post, "lz", "author").strip(),
        "replies": first_count(post, "n_reply", "reply_num", "replies", "reply_count"),
        "floor": "",
        "created": first_str(post, "created", "ctime", "time").strip(),
        "forum": first_str(post, "forum", "kw").strip(),
        "list_index": "",
        "answer_from": first_str(post, "answer_from").strip(),
    }
    return new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, native) if native else content_id(SOURCE, title, opening),
        url=url,
        title=title,
        question=title,
        body=opening if opening and opening != title else "",
        answer=first_str(post, "answer").strip(),
        meta=meta,
        fetched_at=first_str(post, "fetched_at"),
    )


def _floor(post: Mapping[str, Any], origin: Origin) -> RawDoc:
    content = get_str(post, "content").strip()
    author = first_str(post, "author").strip()
    created = first_str(post, "ctime", "created", "time").strip()
    match = _LIST_INDEX.match(content)
    text = content[match.end() :].strip() if match else content
    if not _WORD.search(text):
        raise Reject(
            "empty_title", f"post of {author or '?'} at {created}: {content!r} has no words"
        )
    meta = {
        "tid": first_str(post, "tid", "thread_id"),
        "author": author,
        "replies": first_count(post, "n_reply", "reply_num", "replies", "reply_count"),
        "floor": first_count(post, "l_num", "floor"),
        "created": created,
        "forum": first_str(post, "forum", "kw").strip(),
        "list_index": match.group(1) if match else "",
        "answer_from": first_str(post, "answer_from").strip(),
    }
    return new_doc(
        SOURCE,
        origin,
        content_id(SOURCE, "floor", author, created, content),
        url=first_str(post, "url"),
        question=text,
        answer=first_str(post, "answer").strip(),
        meta=meta,
        fetched_at=first_str(post, "fetched_at"),
    )
