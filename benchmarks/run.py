"""Throughput of the per-record text functions and of the demo pipeline.

    python benchmarks/run.py [--repeats 5] [--out out/bench]

Texts: the outputs of the real COIG-CQIA files in ../shared/corpora/coig-cqia when that folder
exists (never copied into the repository), else the embedded demo corpus. Each function runs in a
plain Python loop on one core; figures are medians of ``--repeats`` runs, in MB/s of UTF-8 input.
The demo pipeline is timed end to end on FnApiRunner (start-up included). Results are written as
Markdown and JSON.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "coig-cqia"


def load_texts(limit: int = 20_000) -> tuple[list[str], str]:
    texts: list[str] = []
    if CORPUS.is_dir():
        for path in sorted(CORPUS.rglob("*.jsonl")):
            for line in path.read_bytes().split(b"\n"):  # U+2028 sits inside some records
                if line.strip():
                    obj = json.loads(line)
                    texts.append(obj["instruction"] + "\n" + obj["output"])
            if len(texts) >= limit:
                break
        return texts[:limit], f"COIG-CQIA outputs ({CORPUS})"
    from beam_cqia.spec import demo_data_dir

    for path in sorted(Path(demo_data_dir()).rglob("*.jsonl")):
        for line in path.read_bytes().split(b"\n"):
            try:
                texts.append(json.dumps(json.loads(line), ensure_ascii=False))
            except ValueError:
                continue
    return texts, "embedded demo corpus"


def timed(fn, texts, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        for t in texts:
            fn(t)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "out" / "bench"))
    args = parser.parse_args()

    import opencc

    from beam_cqia.text import dedupkey, normalize, signals
    from tests.factories import raw_doc

    texts, source = load_texts()
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    t2s = opencc.OpenCC("t2s").convert
    docs = [raw_doc(str(i), answer=t) for i, t in enumerate(texts)]
    doc_iter = iter(docs)
    cases = {
        "normalize (t2s, width, controls, boilerplate)": lambda t: normalize.normalize(t, t2s),
        "normalize without t2s": lambda t: normalize.normalize(t),
        "opencc t2s alone (reference)": t2s,
        "dedup_key (NFKC, casefold, t2s, strip punct.)": lambda t: dedupkey.dedup_key([t], t2s),
        "signals.compute (all rules)": lambda t: signals.compute(
            next(doc_iter), signals.DEFAULT_RULES
        ),
    }
    rows = []
    for name, fn in cases.items():
        doc_iter = iter(docs * (args.repeats + 1))
        seconds = timed(fn, texts, args.repeats)
        rows.append(
            {"case": name, "seconds": seconds, "MB/s": mb / seconds, "docs/s": len(texts) / seconds}
        )

    from beam_cqia import cli

    demo_runs = []
    for _ in range(min(args.repeats, 3)):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            with open(os.devnull, "w") as devnull:
                stdout, sys.stdout = sys.stdout, devnull
                try:
                    code = cli.main(["demo", os.path.join(tmp, "demo")])
                finally:
                    sys.stdout = stdout
            demo_runs.append(time.perf_counter() - start)
            assert code == 0
    result = {
        "texts": source,
        "documents": len(texts),
        "megabytes": round(mb, 2),
        "repeats": args.repeats,
        "functions": rows,
        "demo_pipeline_seconds_median": statistics.median(demo_runs),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    lines = [
        f"Texts: {source}: {len(texts)} documents, {mb:.1f} MB; median of {args.repeats} runs, "
        "one core, plain loop.",
        "",
        "| function | MB/s | docs/s |",
        "|-|-:|-:|",
        *[f"| {r['case']} | {r['MB/s']:.1f} | {r['docs/s']:,.0f} |" for r in rows],
        "",
        f"Demo pipeline end to end (FnApiRunner, start-up included): "
        f"{result['demo_pipeline_seconds_median']:.1f} s (median of {len(demo_runs)}).",
    ]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
