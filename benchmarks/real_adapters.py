"""Every source adapter on the real corpora it declares (``REAL_DATA``), through ReadCrawl and
NormalizeText on FnApiRunner, with the outcome of every record counted.

    python benchmarks/real_adapters.py [--out out/real_adapters] [--only zhihu,douban]

An adapter module declares entries like::

    REAL_DATA = [
        {"path": "douban-dmr/movies.json", "json_items": "item",
         "expect": {"errors": 0, "rejected": {"no_synopsis": 12}},
         "why": {"no_synopsis": "profiles crawled before the synopsis was published"}},
    ]

``path`` is relative to ``../shared/corpora`` (never copied into the repository); the other keys
except ``expect`` and ``why`` are ReadCrawl options. ``expect`` pins the numbers of errors (0 when
absent) and, if given, of rejected records per reason; every error or rejection that is expected
must be explained in ``why``. Writes ``results/real_adapters.md`` (next to this file) and a JSON
copy under ``--out``.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results" / "real_adapters.md"
_NOT_READ_OPTIONS = {"expect", "why", "name"}


def entries(only: set[str] | None = None) -> list[dict[str, Any]]:
    """The REAL_DATA entries of every adapter module, with ``source`` and a stage name."""
    from beam_cqia import sources

    out = []
    for name, module in sources.MODULES.items():
        if only and name not in only:
            continue
        for i, entry in enumerate(getattr(module, "REAL_DATA", [])):
            stage = f"{name}_{i}"
            out.append({**entry, "source": name, "stage": stage})
    return out


def run(corpora: Path, out_dir: Path, selected: list[dict[str, Any]]) -> dict[str, Any]:
    """Runs the selected entries in one pipeline; returns per-entry outcomes."""
    import apache_beam as beam
    import pyarrow.dataset as ds
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from beam_cqia import report
    from beam_cqia.transforms import NormalizeText, ReadCrawl, WriteCqiaParquet

    pipeline = beam.Pipeline(runner=FnApiRunner())
    docs = {}
    for entry in selected:
        options = {k: v for k, v in entry.items() if k not in _NOT_READ_OPTIONS | {"stage", "path"}}
        options.setdefault("subset", entry["stage"])
        docs[entry["stage"]] = pipeline | entry["stage"] >> ReadCrawl(
            str(corpora / entry["path"]), **options
        )
    (
        docs
        | "Normalize" >> NormalizeText(pii="keep")
        | "Write" >> WriteCqiaParquet(str(out_dir), partition_by=["subset"])
    )
    start = time.perf_counter()
    pipeline.run().wait_until_finish()
    seconds = time.perf_counter() - start
    manifest = report.read_manifest(str(out_dir))
    errors: dict[str, list[dict[str, Any]]] = {}
    if (out_dir / "errors").exists():
        for row in ds.dataset(out_dir / "errors", format="parquet").to_table().to_pylist():
            errors.setdefault(row["stage"], []).append(row)
    results = []
    for entry in selected:
        stage = manifest["stages"][entry["stage"]]
        found = {
            "errors": stage["errors"],
            "rejected": stage["rejected"],
        }
        expect = entry.get("expect", {})
        problems = []
        if found["errors"] != expect.get("errors", 0):
            problems.append(f"{found['errors']} errors, expected {expect.get('errors', 0)}")
        if "rejected" in expect and found["rejected"] != expect["rejected"]:
            problems.append(f"rejected {found['rejected']}, expected {expect['rejected']}")
        unexplained = [
            k
            for k in [*found["rejected"], *(["errors"] if found["errors"] else [])]
            if k not in entry.get("why", {})
        ]
        if unexplained and (found["errors"] or "rejected" in expect):
            problems.append(f"no explanation for {unexplained}")
        results.append(
            {
                "source": entry["source"],
                "path": entry["path"],
                "raw_records": stage["in"],
                "adapted": stage["out"],
                "docs": stage.get("emitted", 0),
                "rejected": found["rejected"],
                "errors": found["errors"],
                "error_examples": [
                    f"{e['kind']}: {e['msg'][:160]}" for e in errors.get(entry["stage"], [])[:3]
                ],
                "why": entry.get("why", {}),
                "problems": problems,
            }
        )
    return {"seconds": seconds, "entries": results, "normalize": manifest["stages"]["Normalize"]}


def to_markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Source adapters on real corpora",
        "",
        "`python benchmarks/real_adapters.py`: every adapter's REAL_DATA read by ReadCrawl and "
        "normalized by NormalizeText on FnApiRunner, in one pipeline "
        f"({result['seconds']:.1f} s on 2 cores). Corpora: ../shared/corpora (third-party data, "
        "not in the repository).",
        "",
        "| source | path | raw records | adapted | docs | rejected | errors | explained as |",
        "|-|-|-:|-:|-:|-|-:|-|",
    ]
    for e in result["entries"]:
        rejected = ", ".join(f"{k} {v}" for k, v in e["rejected"].items()) or "0"
        why = "; ".join(f"{k}: {v}" for k, v in e["why"].items())
        lines.append(
            f"| {e['source']} | {e['path']} | {e['raw_records']} | {e['adapted']} | {e['docs']} "
            f"| {rejected} | {e['errors']} | {why} |"
        )
    problems = [
        f"- {e['source']} {e['path']}: {p}" for e in result["entries"] for p in e["problems"]
    ]
    lines += ["", "Unexplained outcomes: " + ("none." if not problems else ""), *problems]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "out" / "real_adapters"))
    parser.add_argument("--only", default="", help="comma-separated adapter names")
    args = parser.parse_args()
    if not CORPORA.is_dir():
        print(f"real corpora not found at {CORPORA}", file=sys.stderr)
        return 2
    selected = entries(set(filter(None, args.only.split(","))) or None)
    with tempfile.TemporaryDirectory() as tmp:
        result = run(CORPORA, Path(tmp) / "out", selected)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "real_adapters.json").write_text(json.dumps(result, ensure_ascii=False, indent=2))
    markdown = to_markdown(result)
    if not args.only:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(markdown, encoding="utf-8")
    print(markdown)
    return 1 if any(e["problems"] for e in result["entries"]) else 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
