"""Wiki and encyclopedia articles stored as Markdown or plain-text files, one article per file.

ReadCrawl with ``format: text`` (``text_unit: file``) hands the adapter ``{"text", "path",
"encoding"}``. Two layouts are recognised from the text itself:

Markdown (``# title``, numbered ``##``/``###`` headings, ``* `` list items, blank lines between
paragraphs)::

    # 数学

    数学是研究数量、结构以及空间等概念的一门学科……

    ## 1 词源

    西方语言中“数学”一词源自古希腊语……

    ### 1.1 汉字表示

Plain text (title on the first line, then one paragraph per line; headings survive as numbered
lines after a blank line, e.g. ``1 词源`` or ``6.2.1 数量``)::

    数学

    数学是研究数量、结构以及空间等概念的一门学科……

    1 词源
    西方语言中“数学”一词源自古希腊语……

Mapping to RawDoc:

- ``title``: the ``# `` heading (Markdown) or the first line when it reads like a title (at most
  60 characters, no closing sentence punctuation; plain text); else the file name, unless the
  name is a bare page id.
- ``body``: the lead followed by each section as a Markdown heading (``## 词源``, ``### 汉字表示``;
  the section numbers are dropped, levels are kept; plain-text headings get ``#`` marks from
  their numbering depth), paragraphs separated by blank lines, list items on their own lines.
  Reference sections (参见, 参考文献, 外部链接, 注释, 延伸阅读...) are dropped with their
  subsections: they are link lists, not text an answer could use. Sections with nothing under
  them (tables and templates stripped by the extractor) are dropped; a section whose only text
  is in its subsections stays. Leftover wiki indentation (``:*``, ``::*``) becomes nested list
  items.
- ``meta``: ``title``; ``page_id`` and ``entry_id`` (the file name when it is a number);
  ``category``, ``category_top`` and ``category_leaf`` from a closing ``分类：A｜B`` line (removed
  from the body) when there is one, else empty; ``layout`` (``markdown`` or ``text``);
  ``sections`` (headings kept). The keys match the ``baike`` adapter's, so the
  ``baike_article.v1`` template renders these documents.
- ``id``: a content id of the file's text (the same page in both layouts gives two ids).
- ``url`` and ``fetched_at``: the record's ``url`` and ``date`` when it has them (WARC
  text responses), else "" and the crawl default.

Rejected: ``disambiguation`` (消歧义 in the title, or a first paragraph ending in 可以指：,
可能指： and the like), ``list_page`` (titles ending in 列表/年表/大事记/索引/一览, date pages such
as 2003年7月, or LIST_SHARE of the body's characters in list items), ``empty_article``
(nothing left after dropping empty and reference sections) and ``no_title`` (no heading, no
title line and a file name that is only a page id).
"""

import re
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import Origin, Reject, category_meta, get_str, new_doc, require_mapping
from beam_cqia.text.ids import content_id

SOURCE = "wiki"

_WHY_WIKI = {
    "disambiguation": "设计模式 and 人物 are disambiguation pages (lead ends in 可以指：)",
    "list_page": "操作系统列表, 语言列表, 年表列表, 世界政区索引, five 年表 chronologies and the "
    "date page 2003年7月",
}
REAL_DATA = [
    {
        "path": "zhwiki-sample/words_md/*.md",
        "format": "text",
        "expect": {"errors": 0, "rejected": {"disambiguation": 2, "list_page": 10}},
        "why": _WHY_WIKI,
    },
    {
        "path": "zhwiki-sample/words_txt/*.txt",
        "format": "text",
        "expect": {"errors": 0, "rejected": {"disambiguation": 2, "list_page": 10}},
        "why": _WHY_WIKI,
    },
]

# Headings of sections that hold references and links rather than article text (zhwiki uses
# both 连结 and 链接; 引用/来源 are the subsections of 参考文献).
REFERENCE_SECTIONS = frozenset(
    {
        "参见", "参看", "参考", "参考文献", "参考资料", "参考来源", "参考书目", "参考网址",
        "研究书目", "外部连结", "外部链接", "外部連結", "延伸阅读", "扩展阅读", "进一步阅读",
        "注释", "注记", "注解", "脚注", "引用", "来源", "相关条目", "相关链接",
    }
)  # fmt: skip

_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_SECTION_NUMBER = re.compile(r"^\d+(?:\.\d+)*\.?(?:[ \t]+|$)")
_TEXT_HEADING = re.compile(r"^(\d+(?:\.\d+)*) (.*)$")
_LIST_ITEM = re.compile(r"^\s*(?:[*+-]|\d+[.)])\s")
_WIKI_INDENT_ITEM = re.compile(r"^(:+)\s*\*\s*")
_WIKI_INDENT = re.compile(r"^:+\s*")
_CATEGORY_LINE = re.compile(r"^(?:页面分类|分类|Categories|Category)\s*[:：]\s*(.+)$")
_CATEGORY_SPLIT = re.compile(r"\s*[|｜]\s*")
_DISAMBIGUATION_LEAD = re.compile(r"(?:可以|可能|亦可|也可|还可|或可|可)(?:是)?指[：:]?$")
_LIST_TITLE = re.compile(r"(?:列表|年表|大事年表|大事记|索引|一览表?)$")
_DATE_TITLE = re.compile(r"^(?:公元前)?\d{1,4}年(?:\d{1,2}月(?:\d{1,2}日)?)?$")
_TITLE_END = re.compile(r"[。！？；.!?;]$")
# A body with at least this share of its characters in list items is a list, not an article.
# On zhwiki-sample (reference sections dropped) list and disambiguation pages reach 0.84-1.0;
# the most list-heavy real article, 千纪, is at 0.72.
LIST_SHARE = 0.8
# Plain-text title lines are short; a long first line is the first paragraph of an untitled file.
_MAX_TITLE_CHARS = 60
_MAX_HEADING_CHARS = 40


class _Section(NamedTuple):
    level: int  # 2 for "##"
    heading: str  # without its number; "" for an unnamed heading
    blocks: list[str]  # paragraphs and list blocks


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns one article file into one RawDoc.

    Raises:
        Reject: ``disambiguation``, ``list_page``, ``empty_article`` or ``no_title``.
        ValueError: when ``text`` is missing or not a string.
    """
    record = require_mapping(obj)
    raw = get_str(record, "text")
    path = get_str(record, "path", required=False)
    stem = PurePosixPath(path.replace("\\", "/")).stem if path else ""
    page_id = stem if stem.isdigit() else ""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    lines, categories = _pop_categories(text.split("\n"))
    if any(_MD_HEADING.match(line) for line in lines):
        layout = "markdown"
        title, lead, sections = _parse_markdown(lines)
    else:
        layout = "text"
        title, lead, sections = _parse_text(lines)
    title = title or ("" if page_id else stem.strip())
    if not title:
        raise Reject("no_title", f"{path or 'file'}: no heading, title line or file name")
    sections = _drop_empty(_drop_references(sections))
    body = _render(lead, sections)
    _check_article(title, lead, body)
    yield new_doc(
        SOURCE,
        origin,
        content_id(SOURCE, raw),
        url=get_str(record, "url", required=False),
        title=title,
        body=body,
        meta={
            "title": title,
            "page_id": page_id,
            "entry_id": page_id,
            **category_meta(categories),
            "layout": layout,
            "sections": str(sum(1 for s in sections if s.heading)),
        },
        fetched_at=get_str(record, "date", required=False),
    )


def _pop_categories(lines: list[str]) -> tuple[list[str], list[str]]:
    """Removes a closing category line (as saved pages have) and returns its categories."""
    end = len(lines)
    while end and not lines[end - 1].strip():
        end -= 1
    if end:
        match = _CATEGORY_LINE.match(lines[end - 1].strip())
        if match:
            found = [c for c in _CATEGORY_SPLIT.split(match.group(1).strip()) if c]
            return lines[: end - 1], found
    return lines, []


def _parse_markdown(lines: list[str]) -> tuple[str, list[str], list[_Section]]:
    title = ""
    lead: list[str] = []
    sections: list[_Section] = []
    current = lead
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            current.append("\n".join(paragraph))
            paragraph.clear()

    for line in lines:
        heading = _MD_HEADING.match(line)
        if heading:
            flush()
            level, text = len(heading.group(1)), heading.group(2).strip()
            if level == 1 and not title and not sections and not lead:
                title = text
                continue
            sections.append(_Section(max(level, 2), _SECTION_NUMBER.sub("", text, 1), []))
            current = sections[-1].blocks
        elif not line.strip():
            flush()
        else:
            paragraph.append(_clean_line(line))
    flush()
    return title, lead, sections


def _parse_text(lines: list[str]) -> tuple[str, list[str], list[_Section]]:
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    title = ""
    if start < len(lines):
        first = lines[start].strip()
        if len(first) <= _MAX_TITLE_CHARS and not _TITLE_END.search(first):
            title = first
            start += 1
    lead: list[str] = []
    sections: list[_Section] = []
    current = lead
    number: tuple[int, ...] = ()
    items: list[str] = []

    def flush_items() -> None:
        if items:
            current.append("\n".join(items))
            items.clear()

    previous_blank = True
    for line in lines[start:]:
        if not line.strip():
            flush_items()
            previous_blank = True
            continue
        heading = _TEXT_HEADING.match(line)
        if previous_blank and heading and _heading_like(heading.group(2)):
            candidate = tuple(int(n) for n in heading.group(1).split("."))
            if _follows(number, candidate):
                flush_items()
                number = candidate
                text = heading.group(2).strip()
                sections.append(_Section(len(candidate) + 1, text, []))
                current = sections[-1].blocks
                previous_blank = False
                continue
        previous_blank = False
        cleaned = _clean_line(line)
        if _LIST_ITEM.match(cleaned):
            items.append(cleaned)
        else:
            flush_items()
            current.append(cleaned)
    flush_items()
    return title, lead, sections


def _heading_like(text: str) -> bool:
    text = text.strip()
    return len(text) <= _MAX_HEADING_CHARS and not _TITLE_END.search(text)


def _follows(previous: tuple[int, ...], candidate: tuple[int, ...]) -> bool:
    """Whether a section number can come next: 1 first; after 6.2 only 6.2.1, 6.3 or 7."""
    if not previous:
        return candidate == (1,)
    if candidate == (*previous, 1):
        return True
    depth = len(candidate)
    return (
        depth <= len(previous)
        and candidate[:-1] == previous[: depth - 1]
        and candidate[-1] == previous[depth - 1] + 1
    )


def _clean_line(line: str) -> str:
    """Converts leftover wiki indentation (``::*x`` is a nested list item, ``:x`` a paragraph)
    and strips the indentation of lines that are not list items."""
    line = line.rstrip()
    item = _WIKI_INDENT_ITEM.match(line)
    if item:
        return "  " * len(item.group(1)) + "* " + line[item.end() :]
    line = _WIKI_INDENT.sub("", line)
    return line if _LIST_ITEM.match(line) else line.lstrip()


def _drop_references(sections: list[_Section]) -> list[_Section]:
    kept: list[_Section] = []
    dropping_below = 0  # level of the reference section being skipped; 0 when none
    for section in sections:
        if dropping_below and section.level > dropping_below:
            continue
        dropping_below = 0
        if section.heading in REFERENCE_SECTIONS:
            dropping_below = section.level
            continue
        kept.append(section)
    return kept


def _drop_empty(sections: list[_Section]) -> list[_Section]:
    """Drops sections with no text of their own and no kept subsection."""
    keep = [False] * len(sections)
    for i in range(len(sections) - 1, -1, -1):
        if any(b.strip() for b in sections[i].blocks):
            keep[i] = True
            continue
        j = i + 1
        while j < len(sections) and sections[j].level > sections[i].level:
            if keep[j]:
                keep[i] = True
                break
            j += 1
    return [s for s, k in zip(sections, keep, strict=True) if k]


def _render(lead: list[str], sections: list[_Section]) -> str:
    blocks: list[str] = []

    def add(block: str) -> None:
        # Items of one list separated by blank lines (a "loose" list) become one block.
        if blocks and _is_list(blocks[-1]) and _is_list(block):
            blocks[-1] += "\n" + block
        else:
            blocks.append(block)

    for block in lead:
        if block.strip():
            add(block)
    for section in sections:
        if section.heading:
            blocks.append(f"{'#' * section.level} {section.heading}")
        for block in section.blocks:
            if block.strip():
                add(block)
    return "\n\n".join(blocks)


def _is_list(block: str) -> bool:
    return all(_LIST_ITEM.match(line) for line in block.split("\n"))


def _check_article(title: str, lead: list[str], body: str) -> None:
    if not body.strip():
        raise Reject("empty_article", f"{title}: no text once empty and reference sections go")
    first = next((b for b in lead if b.strip()), "")
    if "消歧义" in title or (first and _DISAMBIGUATION_LEAD.search(first.strip())):
        raise Reject("disambiguation", f"{title}: disambiguation page")
    if _LIST_TITLE.search(title):
        raise Reject("list_page", f"{title}: list or chronology title")
    if _DATE_TITLE.match(title):
        raise Reject("list_page", f"{title}: date page")
    text_lines = [line for line in body.split("\n") if line.strip() and not line.startswith("#")]
    total = sum(len(line.strip()) for line in text_lines)
    listed = sum(len(line.strip()) for line in text_lines if _LIST_ITEM.match(line))
    if total and listed / total >= LIST_SHARE:
        raise Reject("list_page", f"{title}: {listed}/{total} characters are list items")
