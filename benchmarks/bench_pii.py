"""Personal data on real corpora: what NormalizeText masks, per kind, and what is left.

    python benchmarks/bench_pii.py [--only zhihu,medical]

Reads every adapter's ``REAL_DATA`` under ``../shared/corpora`` with ReadCrawl's own DoFns (in
process, no runner), normalizes every document with NormalizeText's DoFn and its default policy
(``pii: mask``, all kinds, text fields and non-identifier meta values), and counts per corpus:

- masked items per kind (``norm.pii.<kind>`` signals): email, id_card, bank_card, mobile, landline;
- near misses kept on purpose: 18-character numbers whose ID checksum or birth date fails, and
  16-19 digit numbers failing the card prefix or Luhn check (exam answers, statistics, ids);
- leaks: what independent detectors (not beam_cqia.text.pii) still find in the normalized
  text: mobile numbers (optionally split by one space or hyphen per group), checksum-valid ID
  numbers, e-mail addresses. This should be 0 everywhere.

Counts only: no text from the corpora is written. Results: ``benchmarks/results/pii.md``.
"""

import argparse
import glob
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results" / "pii.md"
KINDS = ("email", "id_card", "bank_card", "mobile", "landline")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9](?:[ \-\u00a0]?[0-9]{4}){2}(?![0-9])")
ID_LIKE = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{16}[0-9Xx](?![0-9A-Za-z])")
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]*@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
    r"\.[A-Za-z]{2,}"
)
LONG_DIGITS = re.compile(r"(?<![0-9])[0-9]{16,19}(?![0-9])")


def _checksum_ok(number: str) -> bool:
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17].upper()


def leaks(text: str) -> Counter[str]:
    """What the independent detectors find: mobile, id_card, email."""
    found: Counter[str] = Counter()
    found["mobile"] += len(MOBILE.findall(text))
    found["email"] += len(EMAIL.findall(text))
    found["id_card"] += sum(_checksum_ok(c) for c in ID_LIKE.findall(text))
    return +found


def near_misses(text: str) -> Counter[str]:
    """Long numbers the masker looked at and kept (checksums or dates do not fit)."""
    from beam_cqia.text import pii

    found: Counter[str] = Counter()
    for candidate in ID_LIKE.findall(text):
        if not pii.valid_id_number(candidate):
            found["id_like_kept"] += 1
    for digits in LONG_DIGITS.findall(text):
        if len(digits) != 18 and not pii._card(digits):
            found["card_like_kept"] += 1
    return +found


def _docs(entry: dict[str, Any]):
    """Every RawDoc of one REAL_DATA entry, read and adapted like ReadCrawl does."""
    from apache_beam.io.filesystem import FileMetadata

    from beam_cqia.sources import formats
    from beam_cqia.transforms.ingest import _AdaptFn, _PlanReads, _ReadUnits

    fmt = entry.get("format", "auto")
    planner = _PlanReads(fmt, 1 << 62, entry.get("text_unit", "file"))
    reader = _ReadUnits(
        entry["source"],
        entry["source"],
        formats.DEFAULT_MAX_RECORD_BYTES,
        entry.get("json_items"),
        entry.get("text_unit", "file"),
        entry.get("encoding"),
    )
    adapt = _AdaptFn("Read", "ReadCrawl", entry["source"], entry.get("encoding"))
    for fn in (planner, reader, adapt):
        fn.setup()
    for path in sorted(glob.glob(str(CORPORA / entry["path"]))):
        size = Path(path).stat().st_size
        for plan in planner.process(FileMetadata(path, size)):
            for unit in reader.process(plan):
                try:
                    outputs = list(adapt.process(unit))
                except ValueError:
                    continue  # errors are the adapters' business (real_adapters.md)
                yield from (o for o in outputs if hasattr(o, "meta") and hasattr(o, "body"))


def run(only: set[str]) -> list[dict[str, Any]]:
    from apache_beam.utils import shared

    from beam_cqia import sources
    from beam_cqia.transforms.ingest import NormalizeText, _NormalizeFn

    normalize = _NormalizeFn(
        "Normalize", "NormalizeText", shared.Shared(), NormalizeText()._base, {}, None, True
    )
    normalize.setup()
    rows = []
    for source, module in sources.MODULES.items():
        if only and source not in only:
            continue
        for entry in getattr(module, "REAL_DATA", []):
            entry = {**entry, "source": source}
            start = time.perf_counter()
            masked: Counter[str] = Counter()
            missed: Counter[str] = Counter()
            kept: Counter[str] = Counter()
            docs = chars = 0
            for doc in _docs(entry):
                docs += 1
                raw = "\n".join([doc.title, doc.question, doc.body, doc.answer])
                chars += len(raw)
                kept += near_misses(raw)
                (done,) = normalize.process(doc)
                for kind in KINDS:
                    masked[kind] += int(done.signals.get(f"norm.pii.{kind}", 0))
                text = "\n".join([done.title, done.question, done.body, done.answer])
                meta = "\n".join(v for k, v in done.meta.items() if not k.lower().endswith("id"))
                missed += leaks(text + "\n" + meta)
            rows.append(
                {
                    "corpus": entry["path"],
                    "source": source,
                    "docs": docs,
                    "chars": chars,
                    "masked": dict(masked),
                    "kept": dict(kept),
                    "leaks": dict(missed),
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )
            print(json.dumps(rows[-1], ensure_ascii=False), flush=True)
    return rows


def write_report(rows: list[dict[str, Any]], path: Path) -> None:
    total = Counter()
    for row in rows:
        total.update(row["masked"])
    leaked = sum(sum(r["leaks"].values()) for r in rows)
    lines = [
        "# Personal data on real corpora",
        "",
        "`python benchmarks/bench_pii.py`: every adapter's `REAL_DATA` read with ReadCrawl's",
        "DoFns and normalized with NormalizeText's default policy (mask every kind, in the text",
        "fields and in meta values other than identifiers). *Masked*: items replaced, from the",
        "`norm.pii.<kind>` signals. *Kept*: 18-character ID-like numbers whose checksum or birth",
        "date fails, 16-19 digit numbers failing the card prefix or Luhn check (left as they are:",
        "exam answers, statistics, ids). *Leaks*: what independent detectors (mobile numbers with",
        "at most one space or hyphen between groups, checksum-valid ID numbers, e-mail addresses)",
        "still find in the normalized text and meta. Counts only; no corpus text is quoted.",
        "",
        f"**Masked in total**: {', '.join(f'{k} {total[k]:,}' for k in KINDS)}. "
        f"**Leaks left: {leaked}.**",
        "",
        "| corpus | adapter | docs | chars | " + " | ".join(KINDS) + " | kept | leaks |",
        "|-|-|-|-|" + "-|" * len(KINDS) + "-|-|",
    ]
    for r in rows:
        kept = ", ".join(f"{k} {v}" for k, v in sorted(r["kept"].items())) or "0"
        leak = ", ".join(f"{k} {v}" for k, v in sorted(r["leaks"].items())) or "0"
        counts = " | ".join(f"{r['masked'].get(k, 0):,}" for k in KINDS)
        lines.append(
            f"| `{r['corpus']}` | {r['source']} | {r['docs']:,} | {r['chars']:,} | {counts} | "
            f"{kept} | {leak} |"
        )
    lines += [
        "",
        "Looked at by hand: in COIG-CQIA, `segmentfault` (sample data in code: `phone` and",
        "`email` fields, an author address in a package.json), `finance_coig_pc` (a newsletter's",
        "contact address) and `book_reviews` (submission addresses of calls for papers); in the",
        "news pages, site footers (newsroom e-mail, complaint hotlines); in ChineseWebText, sales",
        "numbers in spam pages. Not personal data, masked anyway: an 11-digit figure in a GAOKAO",
        "history table, a sample address in a CMMLU question about e-mail addresses, an 11-digit",
        "image file name in a SegmentFault question. The two Zhihu entries with 0 documents are",
        "rejected whole by the adapter (see real_adapters.md).",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated adapter names")
    parser.add_argument("--report", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not CORPORA.is_dir():
        sys.exit(f"real corpora not found at {CORPORA}; this benchmark needs ../shared/corpora")
    sys.path.insert(0, str(REPO))
    rows = run(set(filter(None, args.only.split(","))))
    write_report(rows, args.report)


if __name__ == "__main__":
    main()
