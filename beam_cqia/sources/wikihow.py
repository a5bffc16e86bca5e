"""wikiHow-style how-to articles: a "如何……" title, an introduction, steps, tips and warnings.

There is no public raw dump in the project, so this is the JSON our crawler writes, one article
per line::

    {"article_id": "2003751", "url": "https://zh.wikihow.com/制作酸奶", "title": "如何制作酸奶",
     "category": ["美食与休闲", "饮品"], "intro": "自制酸奶既便宜又健康……",
     "method_kind": "方法" | "部分",
     "methods": [{"title": "用酸奶机制作",
                  "steps": [{"headline": "把牛奶加热到85°C。", "text": "加热能杀死杂菌……",
                             "substeps": ["用温度计测量。", "……"]},
                            "也可以直接写成一句话的步骤。"]}],
     "steps": [...],                  # instead of "methods" when the article has one method
     "things_needed": ["牛奶", "……"], "tips": ["……"], "warnings": ["……"],
     "views": "1.2万", "updated": "2024-01-05", "fetched_at": "2024-03-01T08:00:00Z"}

Text fields may hold inline HTML as wikiHow renders it (``<b>``, ``<a>``, ``<ul>``); it is
converted with :func:`beam_cqia.text.html.fragment_to_markdown`.

Mapping: ``title`` = the title; ``question`` = the title as asked ("如何制作酸奶？": a closing ？
is added when the title has no closing punctuation); ``body`` = the introduction, then the steps
as a numbered Markdown list (``1. **headline** text``, sub-steps as indented ``-`` items), one
``## 方法1：…`` / ``## 第1部分：…`` section per method when there are several (or one titled
method), then ``## 你需要准备``, ``## 小提示`` and ``## 警告`` lists. ``meta``: ``article_id``,
``category`` ("/"-joined), ``category_top``, ``category_leaf``, ``task`` (the title without its
如何/怎样/怎么 opening, for instructions such as "我想制作酸奶"), ``methods``, ``steps``, ``tips``,
``warnings`` (counts), ``views`` (a count), ``updated``.

Rejected: ``no_title`` (empty title), ``no_steps`` (no step with text).
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    category_meta,
    first_count,
    get_str,
    get_str_list,
    new_doc,
    require_mapping,
)
from beam_cqia.text.html import fragment_to_markdown
from beam_cqia.text.ids import content_id, doc_id

SOURCE = "wikihow"

_HTML_TAG = re.compile(r"<[A-Za-z/][^<>]*>")
_HOWTO_OPENING = re.compile(r"^(?:如何|怎样|怎么样|怎么)\s*")
_CLOSING_PUNCTUATION = re.compile(r"[？?。！!]$")
_LIST_SECTIONS = (("things_needed", "你需要准备"), ("tips", "小提示"), ("warnings", "警告"))


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one article into one RawDoc.

    Raises:
        Reject: ``no_title`` or ``no_steps``.
        ValueError: when a required field is missing or has the wrong type.
    """
    article = require_mapping(obj)
    title = _text(get_str(article, "title")).strip()
    url = get_str(article, "url", required=False)
    native = get_str(article, "article_id", required=False) or url
    if not title:
        raise Reject("no_title", f"article {native or '?'} has an empty title")
    methods = _methods(article)
    steps_total = sum(len(steps) for _, steps in methods)
    if not steps_total:
        raise Reject("no_steps", f"{title}: no step has text")
    kind = get_str(article, "method_kind", required=False).strip() or "方法"
    blocks = []
    intro = _text(get_str(article, "intro", required=False)).strip()
    if intro:
        blocks.append(intro)
    titled = len(methods) > 1 or bool(methods[0][0])
    for n, (method_title, steps) in enumerate(methods, start=1):
        if titled:
            label = f"第{n}部分" if kind == "部分" else f"{kind}{n}"
            blocks.append(f"## {label}：{method_title}" if method_title else f"## {label}")
        blocks.append("\n".join(steps))
    counts = {}
    for key, heading in _LIST_SECTIONS:
        items = [_text(i).strip() for i in get_str_list(article, key)]
        items = [i for i in items if i]
        counts[key] = len(items)
        if items:
            blocks.append(
                f"## {heading}\n\n" + "\n".join(f"- {_continued(i, '  ')}" for i in items)
            )
    category = [c.strip() for c in _category(article) if c.strip()]
    yield new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, native) if native else content_id(SOURCE, title, intro),
        url=url,
        title=title,
        question=title if _CLOSING_PUNCTUATION.search(title) else f"{title}？",
        body="\n\n".join(blocks),
        meta={
            "article_id": get_str(article, "article_id", required=False),
            **category_meta(category),
            "task": _HOWTO_OPENING.sub("", title).rstrip("？?") or title,
            "methods": str(len(methods)),
            "steps": str(steps_total),
            "tips": str(counts["tips"]),
            "warnings": str(counts["warnings"]),
            "views": first_count(article, "views"),
            "updated": get_str(article, "updated", required=False),
        },
        fetched_at=get_str(article, "fetched_at", required=False),
    )


def _text(value: str) -> str:
    """Inline HTML to Markdown; plain text unchanged."""
    return fragment_to_markdown(value) if _HTML_TAG.search(value) else value


def _continued(text: str, indent: str) -> str:
    """A list item's text: its later lines indented to continue the item, blank lines dropped."""
    return f"\n{indent}".join(line.rstrip() for line in text.split("\n") if line.strip())


def _category(article: Mapping[str, Any]) -> list[str]:
    value = article.get("category")
    if isinstance(value, str):
        return value.split("/")
    return get_str_list(article, "category")


def _methods(article: Mapping[str, Any]) -> list[tuple[str, list[str]]]:
    """The methods as (title, rendered numbered steps); methods without steps are dropped."""
    if "methods" in article:
        raw = article["methods"]
        if not isinstance(raw, list):
            raise ValueError("field 'methods' must be a list")
    elif "steps" in article:
        raw = [{"title": "", "steps": article["steps"]}]
    else:
        raise ValueError("missing field 'methods' (or 'steps')")
    methods = []
    for i, method in enumerate(raw):
        if not isinstance(method, Mapping):
            raise ValueError(f"methods[{i}] must be a JSON object")
        steps = method.get("steps") or []
        if not isinstance(steps, list):
            raise ValueError(f"methods[{i}].steps must be a list")
        rendered = []
        for j, step in enumerate(steps):
            line = _step(step, f"methods[{i}].steps[{j}]")
            if line:
                rendered.append(f"{len(rendered) + 1}. {line}")
        if rendered:
            methods.append((_text(get_str(method, "title", required=False)).strip(), rendered))
    return methods or [("", [])]


def _step(step: Any, where: str) -> str:
    if isinstance(step, str):
        return _continued(_text(step).strip(), "   ")
    if not isinstance(step, Mapping):
        raise ValueError(f"{where} must be a string or a JSON object")
    headline = _text(get_str(step, "headline", required=False)).strip()
    text = _text(get_str(step, "text", required=False)).strip()
    substeps = [_text(s).strip() for s in get_str_list(step, "substeps")]
    first = " ".join(p for p in (f"**{headline}**" if headline else "", text) if p)
    if not first:
        return ""
    lines = [_continued(first, "   ")]
    lines += [f"   - {_continued(s, '     ')}" for s in substeps if s]
    return "\n".join(lines)
