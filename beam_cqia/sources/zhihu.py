"""Zhihu answers: crawled Q&A threads, Zhihu API answer objects, and saved answer pages.

Shapes (detected from the keys):

1. **Thread** (a crawler's own layout, one JSON object per question)::

       {"question_id", "url", "title", "detail", "topics": [...],
        "answers": [{"answer_id", "author", "voteup_count", "comment_count", "created_time",
                     "content"}, ...]}

   Each answer becomes one RawDoc (COIG-CQIA keeps one answer per instruction). Answers are
   ranked by votes within the thread (rank 1 = most votes), so a spec can keep only top answers.
   ``content`` may be plain text (kept as is) or HTML (converted as below).

2. **API answer** (``/api/v4/answers/<id>``, and the answers inside the list payloads below)::

       {"type": "answer", "id": "1936787046304842491", "content": "<p>...</p>",
        "question": {"id", "title", "detail", "topics": [{"name"}, ...]},
        "voteup_count", "comment_count", "thanks_count", "author": {"name", "badge_v2": {"title"}},
        "reaction": {"statistics": {"favorites", ...}}, "created_time", "updated_time"}

3. **List payloads**: read with ReadCrawl ``json_items="data.item"`` so that each item is one
   record. A search result ``{"type": "search_result", "object": {...}}`` holds the answer under
   ``object``, with ``<em>`` highlights in ``question.name`` (stripped; ``object.title`` is the
   plain title when present). A feed item ``{"type": "feed", "target": {...}}`` holds it under
   ``target``. A whole payload read as one record (``{"paging", "data": [...]}``) is an error that
   says to set ``json_items``.

4. **Answer page** (ReadCrawl ``format="html"``: ``{"html", "url", "path", ...}``): a saved
   answer page or a bare answer fragment. The answer body is the first ``RichContent-inner`` /
   ``RichText`` element, else the whole fragment; the question title comes from the page's
   ``QuestionHeader-title``, the answer item's ``data-zop`` JSON, or a ``<title>`` ending in
   " - 知乎"; ids from ``data-zop``, the URL (``/question/<qid>/answer/<aid>``) or the file name
   (``answer_<aid>``); votes and dates from the ``itemprop`` metadata Zhihu pages carry.

Mapping: question = title plus description (COIG-CQIA's instruction); answer = the body, HTML
converted by :func:`beam_cqia.text.html.fragment_to_markdown` (formulas as ``$...$``, code as
fences, images dropped); meta keeps ``qid``, ``aid`` and the topic ``tag`` list that COIG-CQIA's
metadata holds (``qid:..., aid:..., tag:[...]``), plus votes, comments, author and dates for
filters (API shapes add favorites, thanks and the author's badge, e.g. "优秀答主"). Epoch times
become ISO 8601 UTC.

Rejected: ``not_an_answer`` (a Zhihu object of another type: article, pin, comment, people,
topic, daily stories, notification...), ``excerpt_only`` (an answer card or object that carries
only a truncated summary), ``empty_answer`` (no text once converted), ``no_question`` (an answer
page that does not say what was asked), ``no_answers`` (a thread without answers).
"""

import json
import re
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from html import unescape
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    first_count,
    get_list,
    get_str,
    get_str_list,
    id_order,
    new_doc,
    parse_count,
    py_list_repr,
)
from beam_cqia.sources.base import require_mapping as _require_mapping
from beam_cqia.text.html import fragment_to_markdown
from beam_cqia.text.ids import content_id, doc_id

SOURCE = "zhihu"

REAL_DATA = [
    {
        "path": "zhihu-api-fixtures/real-api/*.json",
        "format": "json",
        "expect": {
            "errors": 0,
            "rejected": {"not_an_answer": 5, "excerpt_only": 1},
        },
        "why": {
            "not_an_answer": "comment, pin (想法), daily stories, notification and the article in "
            "the moments feed: Zhihu objects that are not answers",
            "excerpt_only": "mobile-home-card is a feed card with the answer's title and a "
            "truncated summary, not its content",
        },
    },
    {
        "path": "zhihu-api-fixtures/search/*.json",
        "format": "json",
        "json_items": "data.item",
        "expect": {"errors": 0, "rejected": {"not_an_answer": 2}},
        "why": {"not_an_answer": "search-people and search-topic results: a person and a topic"},
    },
    {
        "path": "zhihu-api-fixtures/search-badge-*.json",
        "format": "json",
        "json_items": "data.item",
        "expect": {"errors": 0, "rejected": {"not_an_answer": 3}},
        "why": {
            "not_an_answer": "general search with author badges: two people and one article "
            "(the fixtures were captured for badge rendering, not answers)",
        },
    },
    {
        "path": "zhihu-api-fixtures/*.html",
        "format": "html",
        "expect": {"errors": 0, "rejected": {"no_question": 2}},
        "why": {
            "no_question": "both files are saved answer bodies only (a standalone article "
            "element and a bare fragment): the question they answer is not in them",
        },
    },
]

# Tags whose presence makes a field HTML rather than plain text with the odd "<" in it.
_HTML_TAG = re.compile(
    r"</?(?:p|br|div|span|img|h[1-6]|ul|ol|li|pre|code|b|strong|em|i|a|figure|blockquote|hr|"
    r"table|sup|section|article)\b[^<>]*>",
    re.I,
)
_ANY_TAG = re.compile(r"<[^<>]+>")
_HIGHLIGHT = re.compile(r"</?em\b[^<>]*>", re.I)
_ANSWER_IN_URL = re.compile(r"/answers?/(\d+)")
_QUESTION_IN_URL = re.compile(r"/questions?/(\d+)")
_ANSWER_IN_PATH = re.compile(r"answer[_-](\d+)", re.I)
_ZHIHU_TITLE = re.compile(r"^(?:\([^()]*\)\s*)?(.+?)\s*-\s*知乎\s*$")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Zhihu API object types that are not answers; anything with another "type" is rejected too.
_CONTAINER_TYPES = ("answer", "feed", "search_result")


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one thread, API answer, list item or answer page into RawDocs (one per answer).

    Raises:
        Reject: ``not_an_answer``, ``excerpt_only``, ``empty_answer``, ``no_question`` or
            ``no_answers`` (see the module docstring).
        ValueError: when the record has none of the shapes or lacks a required field.
    """
    record = _require_mapping(obj)
    if "answers" in record or "question_id" in record:
        yield from _thread(record, origin)
    elif isinstance(record.get("html"), str):
        yield _page(record, origin)
    elif "paging" in record and isinstance(record.get("data"), list):
        raise ValueError(
            "a Zhihu list payload ({paging, data}) was read as one record; "
            "read it with json_items='data.item' so that each item is a record"
        )
    else:
        yield _api_object(record, origin)


# ---------------------------------------------------------------- threads (crawler layout)


def _thread(thread: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    qid = get_str(thread, "question_id")
    title = get_str(thread, "title").strip()
    detail = get_str(thread, "detail", required=False).strip()
    topics = get_str_list(thread, "topics")
    url = get_str(thread, "url", required=False) or f"https://www.zhihu.com/question/{qid}"
    answers = get_list(thread, "answers", required=True)
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
    ranked = sorted(parsed, key=lambda a: (-a[2], id_order(a[1])))
    rank_of = {aid: rank for rank, (_, aid, _) in enumerate(ranked, start=1)}

    question = f"{title}\n{detail}" if detail else title
    for answer, aid, votes in parsed:
        content = get_str(answer, "content", required=False)
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
        yield new_doc(
            SOURCE,
            origin,
            doc_id(SOURCE, aid),
            url=f"{url.rstrip('/')}/answer/{aid}",
            title=title,
            question=question,
            answer=_markdown(content) if _HTML_TAG.search(content) else content,
            meta=meta,
            fetched_at=get_str(thread, "fetched_at", required=False),
        )


# ---------------------------------------------------------------- API objects


def _api_object(record: Mapping[str, Any], origin: Origin) -> RawDoc:
    kind = record.get("type")
    if kind == "search_result":
        inner = _mapping(record, "object")
        if inner.get("type") != "answer":
            raise Reject("not_an_answer", f"search result of type {_type_name(inner)}")
        return _answer(inner, origin, highlighted=True)
    if kind == "feed":
        inner = _mapping(record, "target")
        if inner.get("type") != "answer":
            raise Reject(
                "not_an_answer", f"feed item ({record.get('verb')}) on {_type_name(inner)}"
            )
        return _answer(inner, origin, highlighted=False)
    if kind == "answer":
        return _answer(record, origin, highlighted=False)
    if kind == "ComponentCard" and _card_content_type(record) == "answer":
        raise Reject("excerpt_only", f"home-feed card {record.get('id')}: title and summary only")
    if isinstance(kind, str) and kind:
        raise Reject("not_an_answer", f"Zhihu object of type {kind!r}")
    if isinstance(record.get("stories"), list) and "date" in record:
        raise Reject("not_an_answer", f"Zhihu Daily story list of {record.get('date')}")
    raise ValueError(
        "not a Zhihu thread, answer, list item or answer page: "
        f"keys {sorted(map(str, record))[:12]}"
    )


def _answer(answer: Mapping[str, Any], origin: Origin, highlighted: bool) -> RawDoc:
    aid = get_str(answer, "id")
    question = _mapping(answer, "question")
    qid = get_str(question, "id", required=False)
    title = get_str(answer, "title", required=False) if highlighted else ""
    title = _plain(title or get_str(question, "title", required=False))
    title = title or _plain(get_str(question, "name", required=False))
    if not title:
        raise ValueError("missing field 'question.title'")
    detail = get_str(question, "detail", required=False)
    detail = _markdown(detail) if _HTML_TAG.search(detail) else detail.strip()
    content = answer.get("content")
    if content is None or (isinstance(content, str) and not content.strip()):
        if get_str(answer, "excerpt", required=False).strip():
            raise Reject("excerpt_only", f"answer {aid} carries only its excerpt")
        raise Reject("empty_answer", f"answer {aid} has no content")
    if not isinstance(content, str):
        raise ValueError(f"field 'content' must be a string, got {type(content).__name__}")
    if highlighted:
        content = _HIGHLIGHT.sub("", content)
    text = _markdown(content)
    if not text:
        raise Reject("empty_answer", f"answer {aid} has no text once converted")
    stats = answer.get("reaction", {}).get("statistics") if _is_map(answer.get("reaction")) else {}
    stats = stats if _is_map(stats) else {}
    author = answer.get("author") if _is_map(answer.get("author")) else {}
    badge = author.get("badge_v2") if _is_map(author.get("badge_v2")) else {}
    favorites = answer.get("favorites_count", stats.get("favorites", ""))
    meta = {
        "qid": qid,
        "aid": aid,
        "tag": py_list_repr(_topic_names(question)),
        "votes": str(parse_count(answer.get("voteup_count", 0), "voteup_count")),
        "comments": str(parse_count(answer.get("comment_count", 0), "comment_count")),
        "favorites": "" if favorites in ("", None) else str(parse_count(favorites, "favorites")),
        "thanks": first_count(answer, "thanks_count"),
        "author": _plain(get_str(author, "name", required=False)),
        "author_badge": get_str(badge, "title", required=False),
        "created": _time(answer.get("created_time")),
        "updated": _time(answer.get("updated_time")),
    }
    url = f"https://www.zhihu.com/question/{qid}/answer/{aid}" if qid else ""
    return new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, aid),
        url=url or f"https://www.zhihu.com/answer/{aid}",
        title=title,
        question=f"{title}\n{detail}" if detail else title,
        answer=text,
        meta=meta,
    )


def _topic_names(question: Mapping[str, Any]) -> list[str]:
    topics = question.get("topics") or []
    if not isinstance(topics, list):
        raise ValueError("field 'question.topics' must be a list")
    names = []
    for i, topic in enumerate(topics):
        if isinstance(topic, str):
            names.append(_plain(topic))
        elif _is_map(topic):
            names.append(_plain(get_str(topic, "name", required=False)))
        else:
            raise ValueError(f"question.topics[{i}] must be a topic object or a name")
    return [n for n in names if n]


def _card_content_type(card: Mapping[str, Any]) -> str:
    extra = card.get("extra")
    return str(extra.get("content_type", "")).lower() if _is_map(extra) else ""


def _type_name(obj: Mapping[str, Any]) -> str:
    return repr(obj.get("type") or "unknown")


# ---------------------------------------------------------------- answer pages (HTML)


def _page(page: Mapping[str, Any], origin: Origin) -> RawDoc:
    import lxml.html

    url = get_str(page, "url", required=False)
    path = get_str(page, "path", required=False)
    source = _XML_DECLARATION.sub("", page["html"])
    try:
        root = lxml.html.document_fromstring(source)
    except Exception as exc:  # noqa: BLE001 - lxml raises several types for unparsable input
        raise ValueError(f"unparsable answer page: {type(exc).__name__}: {exc}") from None
    zop = _zop(root)
    item = _first(root, "//*[contains(@class, 'AnswerItem')]")
    scope = item if item is not None else root
    body = _first(
        scope,
        ".//*[contains(concat(' ', normalize-space(@class), ' '), ' RichContent-inner ')]",
        ".//*[@itemprop='text']",
        ".//*[contains(concat(' ', normalize-space(@class), ' '), ' RichText ')]",
    )
    if body is None:
        found = root.find("body")
        body = found if found is not None else root
    text = _markdown(lxml.html.tostring(body, encoding="unicode"))
    aid = (
        str(zop.get("itemId") or "")
        or _search(_ANSWER_IN_URL, url)
        or _search(_ANSWER_IN_PATH, path.rsplit("/", 1)[-1])
    )
    title = _one_line(_text_of(_first(root, "//*[contains(@class, 'QuestionHeader-title')]")))
    title = title or _one_line(str(zop.get("title") or ""))
    if not title:
        match = _ZHIHU_TITLE.match(_one_line(_text_of(_first(root, "//title"))))
        title = match.group(1) if match else ""
    where = f"answer {aid}" if aid else f"page {path or url}"
    if not text:
        raise Reject("empty_answer", f"{where} has no answer text")
    if not title:
        raise Reject("no_question", f"{where} ({len(text)} chars) does not name its question")
    detail_el = _first(root, "//*[contains(@class, 'QuestionRichText')]")
    detail = (
        _markdown(lxml.html.tostring(detail_el, encoding="unicode"))
        if detail_el is not None
        else ""
    )
    qid = _search(_QUESTION_IN_URL, url)
    meta = {
        "qid": qid,
        "aid": aid,
        "tag": py_list_repr(_page_topics(root)),
        "votes": _itemprop_count(scope, "upvoteCount"),
        "comments": _itemprop_count(scope, "commentCount"),
        "author": str(zop.get("authorName") or "") or _itemprop(scope, "author", "name"),
        "created": _itemprop(scope, "", "dateCreated"),
        "updated": _itemprop(scope, "", "dateModified"),
    }
    if not url and aid:
        url = f"https://www.zhihu.com/question/{qid}/answer/{aid}" if qid else ""
    return new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, aid) if aid else content_id(SOURCE, title, text),
        url=url,
        title=title,
        question=f"{title}\n{detail}" if detail else title,
        answer=text,
        meta=meta,
        fetched_at=_time(page.get("date")),
    )


def _first(root: Any, *xpaths: str) -> Any:
    for xpath in xpaths:
        found = root.xpath(xpath)
        if found:
            return found[0]
    return None


def _text_of(element: Any) -> str:
    return "" if element is None else element.text_content()


def _zop(root: Any) -> dict[str, Any]:
    """The ``data-zop`` JSON of the answer item (authorName, itemId, title, type), if any."""
    for raw in root.xpath("//*[@data-zop]/@data-zop"):
        try:
            zop = json.loads(raw)
        except ValueError:
            continue
        if isinstance(zop, dict) and zop.get("type", "answer") == "answer":
            return zop
    return {}


def _page_topics(root: Any) -> list[str]:
    names = root.xpath("//*[contains(@class, 'QuestionHeader-topics')]//*[contains(@class, 'Tag')]")
    seen: list[str] = []
    for element in names:
        name = _one_line(element.text_content())
        if name and name not in seen:
            seen.append(name)
    return seen


def _itemprop(scope: Any, within: str, prop: str) -> str:
    prefix = f".//*[@itemprop='{within}']" if within else ""
    found = scope.xpath(f"{prefix}//meta[@itemprop='{prop}']/@content")
    return str(found[0]).strip() if found else ""


def _itemprop_count(scope: Any, prop: str) -> str:
    value = _itemprop(scope, "", prop)
    return str(parse_count(value, prop)) if value else ""


def _search(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text or "")
    return match.group(1) if match else ""


# ---------------------------------------------------------------- helpers


def _mapping(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    if value is None:
        raise ValueError(f"missing field {key!r}")
    if not _is_map(value):
        raise ValueError(f"field {key!r} must be a JSON object, got {type(value).__name__}")
    return value


def _is_map(value: Any) -> bool:
    return isinstance(value, Mapping)


def _markdown(html: str) -> str:
    return fragment_to_markdown(html).strip()


def _plain(text: str) -> str:
    """Text of a short HTML-ish string (a highlighted title): tags dropped, entities decoded."""
    return _one_line(unescape(_ANY_TAG.sub("", text or "")))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _time(value: Any) -> str:
    """Epoch seconds (or milliseconds) as ISO 8601 UTC; strings are kept as they are."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"a time must be epoch seconds or a string, got {type(value).__name__}")
    if isinstance(value, str):
        return value.strip()
    seconds = value / 1000 if value > 10**11 else value
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # past year 9999, or NaN
        raise ValueError(f"time {value!r} is out of range") from None
