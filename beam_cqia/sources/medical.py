"""Medical Q&A (patient question, doctor's answer) and medical encyclopedia pages.

Three raw shapes, told apart by their keys:

1. Consultation CSV rows (Toyhom's Chinese medical dialogue data; the files are GB18030, which
   ReadCrawl detects, or UTF-8)::

       {"department": "心血管科", "title": "高血压患者能吃党参吗？",
        "ask": "我有高血压……您好高血压可以吃党参吗？", "answer": "高血压病人可以口服党参的。……"}

   ``question`` = title, a newline and the ask (just the ask when it starts with the title, just
   the title when the ask is the placeholder "无"); ``answer`` = the doctor's answer; ``title`` =
   the title; ``meta.department``. HTML entities in the text (``&ldquo;``, ``&gt;``) are decoded.
   The id hashes department, title, ask and answer: the rows have no id of their own, so the 378
   rows that repeat another exactly share its id and are left to the dedup stages.

2. The same data as a text file (``format: text``; Toyhom's ``<dept>/<科>.txt``): blocks
   ``title,ask\\nanswer`` separated by blank lines, the first line split at its first comma, one
   RawDoc per block. The department comes from the file name's folder code (:data:`DEPARTMENTS`,
   e.g. ``IM_neike.gb18030.txt`` → 内科). The whole file is one raw record, so a malformed block
   (no answer line) is an error for the file, naming the block.

3. Encyclopedia pages of diseases and symptoms, as our crawler writes them (baikemy-style)::

       {"page_id": "bkmy-3021", "url": "https://...", "name": "高血压", "kind": "disease",
        "department": ["心血管内科"] | "心血管内科", "aliases": ["原发性高血压"],
        "sections": [{"heading": "概述", "text": "..."}, {"heading": "病因", "html": "<p>...</p>"},
                     {"heading": "症状", "text": "..."}, ...],
        "updated": "2023-05-06", "fetched_at": "2024-03-01T08:00:00Z"}

   ``body`` = the overview sections (概述, 简介, 疾病概述, 症状概述 or no heading) as the opening
   paragraphs, then every other section as ``## <name>的<heading>`` (``## 高血压的病因``), the
   layout of COIG-CQIA's bkmy outputs; a section's ``html`` is converted to Markdown.
   ``title`` = name; ``meta``: page_id, category (病症 for ``kind`` symptom, 疾病 for disease),
   department and aliases ("/"-joined), sections (the headings), updated.

One source, two tasks: give the Q&A files and the encyclopedia pages different subsets in
ReadCrawl and map them to ``medical_qa.v1`` and ``medical_encyclopedia.v1`` in
RebuildFromTemplate (templates are looked up by subset first).

Rejections: ``empty_question`` and ``missing_answer`` (Q&A), ``empty_page`` (no section text).
"""

import html
import re
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    get_list,
    get_str,
    get_str_list,
    new_doc,
    require_mapping,
)
from beam_cqia.text.html import fragment_to_markdown
from beam_cqia.text.ids import content_id, doc_id

SOURCE = "medical"

REAL_DATA = [
    {
        # GB18030 without a declaration: ReadCrawl's detection reads it (see the survey).
        "path": "medical-dialogue-toyhom/*.gb18030.csv",
        "format": "csv",
        "expect": {"errors": 0, "rejected": {}},
    },
    {
        "path": "medical-dialogue-toyhom/*.utf8.csv",
        "format": "csv",
        "expect": {"errors": 0, "rejected": {}},
    },
    {
        "path": "medical-dialogue-toyhom/*.txt",
        "format": "text",
        "expect": {"errors": 0, "rejected": {}},
    },
]

# Folder codes of Toyhom's data (Data_数据/<code>_<科>/) and their departments.
DEPARTMENTS = {
    "Andriatria": "男科",
    "IM": "内科",
    "OAGD": "妇产科",
    "Oncology": "肿瘤科",
    "Pediatric": "儿科",
    "Surgical": "外科",
}
# Section headings whose text opens the page without a heading of its own.
OVERVIEW_HEADINGS = ("", "概述", "简介", "疾病概述", "症状概述", "概况")
CATEGORIES = {"symptom": "病症", "病症": "病症", "症状": "病症", "disease": "疾病", "疾病": "疾病"}
_ASK_PLACEHOLDERS = ("无", "无。", "暂无")
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_BLOCK_SEPARATOR = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns a consultation row, a consultation text file or an encyclopedia page into RawDocs.

    Raises:
        Reject: ``empty_question``, ``missing_answer`` or ``empty_page``.
        ValueError: for a record of none of the three shapes, a missing or wrongly typed field,
            or a malformed block in a text file.
    """
    record = require_mapping(obj)
    if "sections" in record or "page_id" in record:
        yield _page(record, origin)
    elif "text" in record and "path" in record:
        yield from _text_file(record, origin)
    elif "answer" in record or "ask" in record:
        yield _consultation(
            get_str(record, "department", required=False),
            get_str(record, "title"),
            get_str(record, "ask"),
            get_str(record, "answer"),
            origin,
            where="row",
        )
    else:
        raise ValueError(
            f"unknown medical record with keys {sorted(record)[:8]}: expected a consultation row "
            "(department, title, ask, answer), a text file or a page (page_id, name, sections)"
        )


def unescape(text: str) -> str:
    """Decodes complete HTML entities (``&ldquo;``, ``&gt;``, ``&#12290;``) and nothing else."""
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), text) if "&" in text else text


def _consultation(
    department: str, title: str, ask: str, answer: str, origin: Origin, where: str
) -> RawDoc:
    department, title = department.strip(), unescape(title).strip()
    ask, answer = unescape(ask).strip(), unescape(answer).strip()
    if ask in _ASK_PLACEHOLDERS:
        ask = ""
    if not title and not ask:
        raise Reject("empty_question", f"{where} has neither title nor ask")
    if not answer:
        raise Reject("missing_answer", f"{where} has no answer: {title[:30]!r}")
    if not ask or ask == title:
        question = title
    elif not title or ask.startswith(title):
        question = ask
    else:
        question = f"{title}\n{ask}"
    return new_doc(
        SOURCE,
        origin,
        content_id(SOURCE, department, title, ask, answer),
        title=title,
        question=question,
        answer=answer,
        meta={"department": department},
    )


def department_of(path: str) -> str:
    """The department a Toyhom file name's folder code stands for ("" when unknown)."""
    code = PurePosixPath(path.replace("\\", "/")).name.split("_", 1)[0]
    return DEPARTMENTS.get(code, "")


def _text_file(record: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    text = get_str(record, "text")
    department = department_of(get_str(record, "path", required=False) or origin.file)
    blocks = [b.strip("\n") for b in _BLOCK_SEPARATOR.split(text.replace("\r\n", "\n"))]
    docs = []
    for number, block in enumerate((b for b in blocks if b.strip()), start=1):
        first, _, answer = block.partition("\n")
        if not answer.strip():
            raise ValueError(f"block {number} has no answer line after {first[:30]!r}")
        title, _, ask = first.partition(",")
        docs.append(_consultation(department, title, ask, answer, origin, where=f"block {number}"))
    if not docs:
        raise Reject("empty_question", "the text file holds no question blocks")
    yield from docs


def _page(record: Mapping[str, Any], origin: Origin) -> RawDoc:
    page_id = get_str(record, "page_id")
    name = get_str(record, "name").strip()
    if not name:
        raise ValueError(f"page {page_id}: field 'name' is empty")
    kind = get_str(record, "kind", required=False).strip()
    if kind and kind not in CATEGORIES:
        raise ValueError(f"page {page_id}: kind must be one of {sorted(CATEGORIES)}, got {kind!r}")
    departments = _str_or_list(record, "department")
    sections = get_list(record, "sections")
    overview, rest, headings = [], [], []
    for i, section in enumerate(sections):
        if not isinstance(section, Mapping):
            raise ValueError(f"sections[{i}] must be a JSON object")
        heading = get_str(section, "heading", required=False).strip()
        if "html" in section and section["html"] is not None:
            text = fragment_to_markdown(get_str(section, "html"))
        else:
            text = get_str(section, "text", required=False)
        text = text.strip()
        if not text:
            continue
        headings.append(heading)
        if heading in OVERVIEW_HEADINGS:
            overview.append(text)
        else:
            title = heading if heading.startswith(name) else f"{name}的{heading}"
            rest.append(f"## {title}\n\n{text}")
    if not overview and not rest:
        raise Reject("empty_page", f"page {page_id} ({name}) has no section text")
    return new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, page_id),
        url=get_str(record, "url", required=False),
        title=name,
        body="\n\n".join(overview + rest),
        meta={
            "page_id": page_id,
            "category": CATEGORIES.get(kind, ""),
            "department": "/".join(departments),
            "aliases": "/".join(_str_or_list(record, "aliases")),
            "sections": "/".join(h for h in headings if h),
            "updated": get_str(record, "updated", required=False),
        },
        fetched_at=get_str(record, "fetched_at", required=False),
    )


def _str_or_list(record: Mapping[str, Any], key: str) -> list[str]:
    value = record.get(key)
    if isinstance(value, str):
        return [value.strip()] if value.strip() else []
    return [v.strip() for v in get_str_list(record, key) if v.strip()]
