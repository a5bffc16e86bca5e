"""Main-content extraction on real Chinese web pages: trafilatura against resiliparse.

    python benchmarks/html_extraction.py [--repeats 3] [--out benchmarks/results/html_extraction.md]

Pages: ../shared/corpora/news-html-gne (66 saved news, WeChat and forum pages; never copied into
the repository). Gold: the 20 pages that GeneralNewsExtractor's ``result.txt`` covers; it is GNE's
own output, so the scores measure agreement with a good news extractor, not with human annotation.

Quality: precision, recall and F1 over the multiset of character bigrams of the extracted text
against the reference content, after NFKC, case folding and removal of everything that is not a
letter or digit (whitespace, punctuation, symbols, Markdown markup). Bigrams rather than single
characters, because a bag of Chinese characters overlaps heavily between any two news pages;
the single-character F1 is reported too. Titles are scored the same way against the reference.

Speed: every configuration runs on every one of the 66 pages (decoded to ``str`` beforehand),
in the same process, pinned to one core, the configurations one after the other on each page,
after one untimed pass (the one that is scored). Time is CPU time of the process
(``time.process_time``), so that other jobs on a shared machine do not count as extraction time;
the figure is the median of ``--repeats`` rounds, in pages/s and MB/s of UTF-8 input. Times
include the title: trafilatura rows parse once, take the title from trafilatura's title
heuristics and pass the tree to ``trafilatura.extract``; resiliparse rows read ``HTMLTree.title``.
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
CORPUS = CORPORA / "news-html-gne"
RESULTS = REPO / "benchmarks" / "results" / "html_extraction.md"

_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_REF_BLOCK = re.compile(r">{5,}(\S+?)>{5,}\s*\n(.*?)\n<{5,}", re.S)
_NOT_CONTENT = re.compile(r"[^\w]|_", re.UNICODE)


class Page(NamedTuple):
    """One HTML page of the corpus, with its reference when GNE's result.txt has one."""

    path: str
    html: str
    ref_title: str | None
    ref_text: str | None


class Score(NamedTuple):
    """Precision, recall and F1 of one extraction."""

    p: float
    r: float
    f1: float


def decode_html(data: bytes) -> str:
    """Decodes page bytes: strict UTF-8 first, then the declared charset, then GB18030.

    Pages saved by browsers keep ``charset=gb2312`` in their ``<meta>`` after re-encoding to UTF-8,
    so the declaration is only trusted when the bytes are not valid UTF-8.
    """
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    match = _CHARSET.search(data[:4096])
    if match:
        try:
            return data.decode(match.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return data.decode("gb18030", errors="replace")


def load_references(corpus: Path = CORPUS) -> dict[str, dict[str, str]]:
    """Reads GNE's result.txt: {relative page path: {"title", "content", ...}}."""
    text = (corpus / "result.txt").read_text(encoding="utf-8")
    return {path: json.loads(body) for path, body in _REF_BLOCK.findall(text)}


def load_pages(corpus: Path = CORPUS) -> list[Page]:
    """All pages of the corpus, sorted by path, decoded, with references where they exist."""
    refs = load_references(corpus)
    pages = []
    for file in sorted(corpus.rglob("*.html")):
        rel = file.relative_to(corpus).as_posix()
        data = file.read_bytes()
        ref = refs.get(rel)
        pages.append(
            Page(
                path=rel,
                html=decode_html(data),
                ref_title=ref["title"] if ref else None,
                ref_text=ref["content"] if ref else None,
            )
        )
    return pages


def content_chars(text: str) -> str:
    """Letters and digits only (Han characters included), NFKC-normalized and case-folded."""
    return _NOT_CONTENT.sub("", unicodedata.normalize("NFKC", text).casefold())


def overlap_score(pred: str, ref: str, n: int = 2) -> Score:
    """Multiset precision/recall/F1 of character n-grams (n=1: bag of characters)."""
    a, b = content_chars(pred), content_chars(ref)
    pa = Counter(a[i : i + n] for i in range(len(a) - n + 1))
    pb = Counter(b[i : i + n] for i in range(len(b) - n + 1))
    common = sum((pa & pb).values())
    if not common:
        return Score(0.0, 0.0, 0.0)
    p, r = common / sum(pa.values()), common / sum(pb.values())
    return Score(p, r, 2 * p * r / (p + r))


# ---------------------------------------------------------------- extractors under test


def _trafilatura(**kwargs) -> Callable[[str], tuple[str, str]]:
    import trafilatura
    from trafilatura.metadata import extract_title

    def run(html: str) -> tuple[str, str]:
        tree = trafilatura.load_html(html)
        if tree is None:
            return "", ""
        return extract_title(tree) or "", trafilatura.extract(tree, **kwargs) or ""

    return run


def _trafilatura_precision_first(share: float = 0.5, **kwargs) -> Callable[[str], tuple[str, str]]:
    """favor_precision, unless it kept less than ``share`` of what the balanced mode keeps."""
    import trafilatura
    from trafilatura.metadata import extract_title

    def run(html: str) -> tuple[str, str]:
        tree = trafilatura.load_html(html)
        if tree is None:
            return "", ""
        precise = trafilatura.extract(tree, favor_precision=True, **kwargs) or ""
        balanced = trafilatura.extract(tree, **kwargs) or ""
        keep = len(content_chars(precise)) >= share * len(content_chars(balanced))
        return extract_title(tree) or "", precise if keep else balanced

    return run


def _trafilatura_metadata() -> Callable[[str], tuple[str, str]]:
    """The documented way to get a title: full metadata (date, author...) plus text."""
    import trafilatura

    def run(html: str) -> tuple[str, str]:
        doc = trafilatura.bare_extraction(html, with_metadata=True)
        return ("", "") if doc is None else (doc.title or "", doc.text or "")

    return run


def _resiliparse(**kwargs) -> Callable[[str], tuple[str, str]]:
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.html import HTMLTree

    def run(html: str) -> tuple[str, str]:
        tree = HTMLTree.parse(html)
        text = extract_plain_text(tree, **kwargs)
        return tree.title or "", text

    return run


def _extract_main() -> Callable[[str], tuple[str, str]]:
    from beam_cqia.text.html import extract_main

    def run(html: str) -> tuple[str, str]:
        out = extract_main(html)
        return out.title, out.text

    return run


def configurations() -> dict[str, Callable[[str], tuple[str, str]]]:
    """Name -> function(html) -> (title, text). Titles only where the configuration gives one."""
    md = {"output_format": "markdown", "include_formatting": True}
    nc = {"include_comments": False}
    configs = {
        "trafilatura default": _trafilatura(),
        "trafilatura fast (no fallback)": _trafilatura(fast=True),
        "trafilatura favor_precision": _trafilatura(favor_precision=True),
        "trafilatura favor_recall": _trafilatura(favor_recall=True),
        "trafilatura markdown (include_formatting)": _trafilatura(**md),
        "trafilatura no comments": _trafilatura(**nc),
        "trafilatura no comments, fast": _trafilatura(fast=True, **nc),
        "trafilatura no comments, favor_precision": _trafilatura(favor_precision=True, **nc),
        "trafilatura no comments, markdown": _trafilatura(**nc, **md),
        "trafilatura no comments, markdown, favor_recall": _trafilatura(
            favor_recall=True, **nc, **md
        ),
        "trafilatura no comments, markdown, fast": _trafilatura(fast=True, **nc, **md),
        "trafilatura no comments, markdown, precision→default": _trafilatura_precision_first(
            **nc, **md
        ),
        "trafilatura bare_extraction with_metadata": _trafilatura_metadata(),
        "resiliparse main_content": _resiliparse(main_content=True),
        "resiliparse main_content, no alt texts": _resiliparse(main_content=True, alt_texts=False),
        "resiliparse main_content, no comments": _resiliparse(main_content=True, comments=False),
        "resiliparse whole page (no main_content)": _resiliparse(main_content=False),
    }
    configs["beam_cqia extract_main (chosen)"] = _extract_main()
    return configs


# ---------------------------------------------------------------- measurement


class Row(NamedTuple):
    """One line of the results table."""

    name: str
    p: float
    r: float
    f1: float
    share_090: float
    f1_chars: float
    title_f1: float | None
    empty: int
    pages_s: float
    mb_s: float


def _pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def measure(pages: list[Page], repeats: int) -> tuple[list[Row], dict[str, dict[str, float]]]:
    """Scores every configuration on the referenced pages, then times it on all pages.

    Returns:
        The table rows, and the bigram F1 of every configuration on every referenced page.
    """
    configs = configurations()
    scored = [p for p in pages if p.ref_text is not None]
    rows, by_page = [], {}
    outputs: dict[str, list[tuple[str, str]]] = {}
    for name, fn in configs.items():  # also the warm-up: imports, caches, lazy compilation
        outputs[name] = [fn(page.html) for page in pages]
    timings: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(repeats):
        spent = dict.fromkeys(configs, 0.0)
        for page in pages:  # side by side: every tool on the same page, one after the other
            for name, fn in configs.items():
                start = time.process_time()
                fn(page.html)
                spent[name] += time.process_time() - start
        for name, seconds in spent.items():
            timings[name].append(seconds)
    mb = sum(len(p.html.encode("utf-8")) for p in pages) / 1e6
    for name in configs:
        bigram, chars, titles = [], [], []
        for page, (title, text) in zip(pages, outputs[name], strict=True):
            if page.ref_text is None:
                continue
            bigram.append(overlap_score(text, page.ref_text))
            chars.append(overlap_score(text, page.ref_text, n=1))
            if title:
                titles.append(overlap_score(title, page.ref_title or "").f1)
        by_page[name] = {p.path: s.f1 for p, s in zip(scored, bigram, strict=True)}
        seconds = statistics.median(timings[name])
        rows.append(
            Row(
                name=name,
                p=statistics.fmean(s.p for s in bigram),
                r=statistics.fmean(s.r for s in bigram),
                f1=statistics.fmean(s.f1 for s in bigram),
                share_090=sum(s.f1 >= 0.9 for s in bigram) / len(scored),
                f1_chars=statistics.fmean(s.f1 for s in chars),
                title_f1=statistics.fmean(titles) if len(titles) == len(scored) else None,
                empty=sum(not text.strip() for _, text in outputs[name]),
                pages_s=len(pages) / seconds,
                mb_s=mb / seconds,
            )
        )
    return rows, by_page


def precision_first_sweep(pages: list[Page], shares: tuple[float, ...]) -> dict[float, float]:
    """Mean bigram F1 of "favor_precision unless it keeps < share of balanced", per share."""
    import trafilatura

    kwargs = {"include_comments": False, "output_format": "markdown", "include_formatting": True}
    pairs = []
    for page in pages:
        if page.ref_text is None:
            continue
        tree = trafilatura.load_html(page.html)
        precise = trafilatura.extract(tree, favor_precision=True, **kwargs) or ""
        balanced = trafilatura.extract(tree, **kwargs) or ""
        pairs.append((page.ref_text, precise, balanced))
    sweep = {}
    for share in shares:
        f1s = []
        for ref, precise, balanced in pairs:
            keep = len(content_chars(precise)) >= share * len(content_chars(balanced))
            f1s.append(overlap_score(precise if keep else balanced, ref).f1)
        sweep[share] = statistics.fmean(f1s)
    return sweep


DETAIL = [
    "trafilatura no comments, markdown",
    "trafilatura no comments, favor_precision",
    "trafilatura no comments, markdown, precision→default",
    "resiliparse main_content",
    "beam_cqia extract_main (chosen)",
]


def _versions() -> str:
    names = ["trafilatura", "resiliparse", "lxml", "markdownify", "beautifulsoup4"]
    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def render(
    rows: list[Row],
    pages: list[Page],
    pinned: str,
    repeats: int,
    by_page: dict[str, dict[str, float]],
    sweep: dict[float, float],
) -> str:
    """The Markdown report."""
    n_ref = sum(p.ref_text is not None for p in pages)
    mb = sum(len(p.html.encode("utf-8")) for p in pages) / 1e6
    lines = [
        "# Main-content extraction on real Chinese pages",
        "",
        f"- Date: {datetime.date.today().isoformat()}; machine: 2 cores, timing on one core "
        f"({pinned}); Python {platform.python_version()} on {platform.machine()}.",
        f"- Packages: {_versions()}.",
        f"- Pages: news-html-gne, {len(pages)} pages ({mb:.1f} MB as UTF-8) for speed; "
        f"{n_ref} pages with a GNE reference for quality.",
        "- P/R/F1: means over pages of character-bigram precision/recall/F1 after removing "
        "whitespace, punctuation and markup; F1 chars: the same over single characters; "
        "title F1: bigram F1 of the title (trafilatura rows: `trafilatura.metadata.extract_title` "
        "on the same tree, except the with_metadata row; resiliparse rows: `HTMLTree.title`); "
        f"empty: pages (of {len(pages)}) with no text; speed (title included): CPU time on one "
        f"core, median of {repeats} rounds after a warm-up pass, all configurations side by "
        "side in one process (each page through every configuration in turn).",
        "- `trafilatura default` keeps comment sections (include_comments=True); the reference "
        "has none.",
        "- Reference = GeneralNewsExtractor's own output (approximate gold, not human labels).",
        "- Regenerate: `.venv/bin/python benchmarks/html_extraction.py`.",
        "",
        "| tool / config | mean P | mean R | mean F1 | F1 >= 0.9 | F1 chars | title F1 | empty "
        "| pages/s | MB/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        title = f"{r.title_f1:.3f}" if r.title_f1 is not None else ""
        lines.append(
            f"| {r.name} | {r.p:.3f} | {r.r:.3f} | {r.f1:.3f} | {r.share_090:.0%} "
            f"| {r.f1_chars:.3f} | {title} | {r.empty} | {r.pages_s:.1f} | {r.mb_s:.2f} |"
        )
    sweep_text = ", ".join(f"{share:.1f}: {f1:.3f}" for share, f1 in sweep.items())
    lines += [
        "",
        "precision→default = favor_precision, replaced by the balanced output when it keeps less "
        "than half as many characters (two extractions per page). Its mean F1 swings with that "
        f"share: {sweep_text}.",
        "",
        "Per page (bigram F1):",
        "",
        "| page | " + " | ".join(DETAIL) + " |",
        "|---|" + "---:|" * len(DETAIL),
    ]
    for path in by_page[DETAIL[0]]:
        lines.append(f"| {path} | " + " | ".join(f"{by_page[n][path]:.3f}" for n in DETAIL) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if not (CORPUS / "result.txt").is_file():
        print(
            f"corpus not found: {CORPUS} (this benchmark reads the real pages in "
            "../shared/corpora/news-html-gne next to the repository; nothing to measure)",
            file=sys.stderr,
        )
        return 2
    pinned = _pin_to_one_core()
    pages = load_pages()
    rows, by_page = measure(pages, args.repeats)
    sweep = precision_first_sweep(pages, (0.2, 0.3, 0.4, 0.5, 0.6))
    report = render(rows, pages, pinned, args.repeats, by_page, sweep)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report, encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
