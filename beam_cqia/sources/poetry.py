"""Classical poems and texts in the chinese-poetry JSON layouts, and poet biographies.

Shapes (told apart by their keys; JSON arrays give one record per item, the 蒙学 files are one
object each)::

    shi      {"title", "author", "paragraphs": [line...], "id"?, "tags"?: [..] | "..",
              "biography"?, "notes"?, "volume"?, "no#"?}      全唐诗, 唐诗三百首, 御定全唐詩, 三字經
    ci       {"rhythmic", "author", "paragraphs", "tags"?}    宋词 (the tune name is the title)
    shijing  {"title", "chapter", "section", "content": [stanza...]}                       诗经
    classic  {"chapter", "paragraphs"}                        论语 (one chapter of sayings)
    nested   {"title", "content": [{"type", "content": [{"chapter", "subchapter", "author",
              "paragraphs"}]}]}                               蒙学/唐詩三百首: one doc per poem
    bio      {"name", "desc", "id"?}                          authors.*.json: poet biographies

Each poem or text becomes one RawDoc: ``title`` (for ci the tune name, for nested collections
the chapter plus subchapter), ``body`` = the lines joined with newlines, ``question`` = the
opening clause (up to the first ，。！？；：; for ``classic`` prose the first paragraph) and
``answer`` = the rest of the text, which is what a continuation template asks for and produces.
``meta``: ``kind`` (shi/ci/shijing/classic/bio), ``author``, ``title``, ``tags`` ("/"-joined),
``lines``, and where present ``rhythmic``, ``chapter``, ``section``, ``collection`` (诗经, or the
nested collection's title), ``type`` (五言絕句...), ``volume``, ``no``, ``biography``,
``emended`` (count of editor-supplied characters). Biographies become article-style docs
(``title`` = name, ``body`` = biography, ``meta.category`` = 诗人) for ``baike_article.v1``.

Editorial markup is converted, not kept: ``[搏]`` (a character supplied by the editors) becomes
``搏``; notes on variant readings, ``(明年 一作：年年)`` or ``(唯 通：惟)``, are removed (also
when they run over two lines); lines that are only an editorial note, ``（以上劉瑛整理）。``, are
dropped. Scripts are left alone (the Tang files are
Traditional); NormalizeText converts them.

Rejected: ``missing_characters`` (``□`` or a ``{臨/手}`` glyph description: a character the
source could not give; a continuation target with holes in it teaches the model to write holes,
and guessing the character would be inventing text), ``fragment`` (a 句 entry, which collects
surviving lines of lost poems, or a text of a single clause: nothing to continue),
``empty_poem`` (no line left) and ``empty_bio``. Inside a nested collection a rejected poem is
skipped and counted in its siblings' ``meta.collection_skipped``; the whole record is rejected
only when no poem is left.
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    category_meta,
    get_str,
    get_str_list,
    new_doc,
    require_mapping,
)
from beam_cqia.text.ids import content_id, doc_id

SOURCE = "poetry"

_WHY_POEMS = {
    "fragment": "句 entries (surviving lines of lost poems) and single-clause texts",
    "missing_characters": "lines with □ or {臨/手} glyph descriptions (characters the source lost)",
    "empty_poem": "存目 entries whose only line is an editor's note (（以上劉瑛整理）。)",
}
REAL_DATA = [
    {
        "path": "chinese-poetry/全唐诗/poet.*.json",
        "expect": {
            "errors": 0,
            "rejected": {"fragment": 127, "missing_characters": 27, "empty_poem": 2},
        },
        "why": _WHY_POEMS,
    },
    {"path": "chinese-poetry/全唐诗/唐诗三百首.json", "expect": {"errors": 0, "rejected": {}}},
    {
        "path": "chinese-poetry/全唐诗/authors.*.json",
        "expect": {"errors": 0, "rejected": {"empty_bio": 1102}},
        "why": {"empty_bio": "poets listed with an empty desc (no biography known)"},
    },
    {
        "path": "chinese-poetry/宋词/*.json",
        "expect": {"errors": 0, "rejected": {"missing_characters": 12, "fragment": 6}},
        "why": _WHY_POEMS,
    },
    {
        "path": "chinese-poetry/御定全唐詩/json/*.json",
        "expect": {"errors": 0, "rejected": {"fragment": 10, "missing_characters": 3}},
        "why": _WHY_POEMS,
    },
    {"path": "chinese-poetry/诗经/shijing.json", "expect": {"errors": 0, "rejected": {}}},
    {"path": "chinese-poetry/论语/lunyu.json", "expect": {"errors": 0, "rejected": {}}},
    {"path": "chinese-poetry/蒙学/*.json", "expect": {"errors": 0, "rejected": {}}},
]

_MISSING = re.compile(r"□|\{[^{}/]+/[^{}]+\}")
_EMENDED = re.compile(r"\[([^\[\]]{1,8})\]")
# Notes on variant readings and characters: "(明年 一作：年年)", "(唯 通：惟)"; in the nested
# 唐詩三百首 a note may run over two lines and mix full- and half-width parentheses.
_VARIANT_NOTE = re.compile(r"[ \t\u3000]*[（(][^（()）]*(?:一作|通)[^（()）]*[）)]")
_NOTE_LINE = re.compile(r"^[（(][^（()）]*[）)][。.]?$")
_CLAUSE_END = re.compile(r"[，。！？；：,!?;:]")
_FRAGMENT_TITLE = re.compile(r"^句(?:\s|$)")


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one poem, text, collection or biography into RawDocs.

    Raises:
        Reject: ``missing_characters``, ``fragment``, ``empty_poem`` or ``empty_bio``.
        ValueError: for an unknown shape or a field of the wrong type.
    """
    record = require_mapping(obj)
    if isinstance(record.get("content"), list) and "chapter" not in record:
        yield from _collection(record, origin)
    elif "desc" in record and "name" in record:
        yield _bio(record, origin)
    elif "rhythmic" in record:
        yield _poem(record, origin, "ci", get_str(record, "rhythmic"), _lines(record, "paragraphs"))
    elif "content" in record and "chapter" in record:
        yield _poem(record, origin, "shijing", get_str(record, "title"), _lines(record, "content"))
    elif "title" in record and "paragraphs" in record:
        yield _poem(record, origin, "shi", get_str(record, "title"), _lines(record, "paragraphs"))
    elif "chapter" in record and "paragraphs" in record:
        yield _poem(
            record, origin, "classic", get_str(record, "chapter"), _lines(record, "paragraphs")
        )
    else:
        raise ValueError(f"unknown poetry record shape with keys {sorted(record)}")


def _lines(record: Mapping[str, Any], key: str) -> list[str]:
    if key not in record:
        raise ValueError(f"missing field {key!r}")
    return get_str_list(record, key)


def _collection(record: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    name = _clean(get_str(record, "title", required=False))
    docs: list[RawDoc] = []
    reasons: list[Reject] = []
    for i, group in enumerate(record["content"]):
        if not isinstance(group, Mapping) or not isinstance(group.get("content"), list):
            raise ValueError(f"content[{i}] must be an object with a 'content' list")
        kind_of_poem = get_str(group, "type", required=False)
        for j, poem in enumerate(group["content"]):
            if not isinstance(poem, Mapping):
                raise ValueError(f"content[{i}].content[{j}] must be a JSON object")
            title = get_str(poem, "chapter")
            sub = get_str(poem, "subchapter", required=False)
            if sub and sub != title:
                title = f"{title}（{sub}）"
            extra = {"collection": name, "type": kind_of_poem}
            try:
                docs.append(
                    _poem(poem, origin, "shi", title, _lines(poem, "paragraphs"), extra=extra)
                )
            except Reject as verdict:
                reasons.append(verdict)
    if not docs:
        if reasons:
            raise Reject(reasons[0].reason, f"no poem left in {name!r}: {reasons[0].detail}")
        raise Reject("empty_poem", f"collection {name!r} holds no poems")
    for doc in docs:
        yield doc._replace(meta={**doc.meta, "collection_skipped": str(len(reasons))})


def _clean(text: str) -> str:
    return _VARIANT_NOTE.sub("", _EMENDED.sub(r"\1", text)).strip()


def _poem(
    record: Mapping[str, Any],
    origin: Origin,
    kind: str,
    raw_title: str,
    raw_lines: list[str],
    extra: Mapping[str, str] | None = None,
) -> RawDoc:
    title = _clean(raw_title)
    author = get_str(record, "author", required=False).strip()
    where = f"{title or '?'} ({author or kind})"
    missing = [m.group(0) for line in [raw_title, *raw_lines] for m in _MISSING.finditer(line)]
    if missing:
        raise Reject("missing_characters", f"{where}: {len(missing)} missing, e.g. {missing[0]}")
    emended = sum(len(_EMENDED.findall(line)) for line in [raw_title, *raw_lines])
    joined = _clean("\n".join(raw_lines))
    lines = [c for c in (line.strip() for line in joined.split("\n")) if c]
    lines = [line for line in lines if not _NOTE_LINE.match(line)]
    if not lines:
        raise Reject("empty_poem", f"{where}: no text")
    if kind == "classic":
        question, answer = lines[0], "\n".join(lines[1:])
    else:
        question, answer = _split_opening("\n".join(lines))
    if _FRAGMENT_TITLE.match(title) or not answer:
        raise Reject("fragment", f"{where}: fragment of a lost poem or a single clause")
    tags = record.get("tags")
    tag_list = [tags] if isinstance(tags, str) else get_str_list(record, "tags")
    meta = {
        "kind": kind,
        "author": author,
        "title": title,
        "tags": "/".join(t.strip() for t in tag_list if t.strip()),
        "lines": str(len(lines)),
        "emended": str(emended),
    }
    if kind == "ci":
        meta["rhythmic"] = title
    if kind == "shijing":
        meta.update(
            collection="诗经",
            chapter=get_str(record, "chapter"),
            section=get_str(record, "section", required=False),
        )
    if kind == "classic":
        meta["chapter"] = title
    for key, name in (("volume", "volume"), ("no#", "no"), ("biography", "biography")):
        value = get_str(record, key, required=False).strip()
        if value:
            meta[name] = value
    notes = [n.strip() for n in get_str_list(record, "notes") if n.strip()]
    if notes:
        meta["notes"] = "/".join(notes)
    meta.update(extra or {})
    body = "\n".join(lines)
    native = get_str(record, "id", required=False)
    return new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, native) if native else content_id(SOURCE, kind, title, author, body),
        title=title,
        question=question,
        body=body,
        answer=answer,
        meta=meta,
    )


def _split_opening(text: str) -> tuple[str, str]:
    """The opening clause without its punctuation, and the rest of the text."""
    match = _CLAUSE_END.search(text)
    if not match:
        return text.strip(), ""
    return text[: match.start()].strip(), text[match.end() :].strip()


def _bio(record: Mapping[str, Any], origin: Origin) -> RawDoc:
    name = _clean(get_str(record, "name"))
    desc = get_str(record, "desc", required=False).strip()
    if not desc:
        raise Reject("empty_bio", f"poet {name!r} has no biography")
    native = get_str(record, "id", required=False)
    return new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, native) if native else content_id(SOURCE, "bio", name, desc),
        title=name,
        body=desc,
        meta={"kind": "bio", "author": name, "title": name, **category_meta(["诗人"])},
    )
