"""ReadCrawl + NormalizeText on one core: Beam (FnApiRunner, in memory) against a plain Python
loop doing the same work on the same file, side by side in one run.

    python benchmarks/bench_ingest.py [--repeats 3] [--copies 2]

Corpus: the instruction/output texts of the real COIG-CQIA files in ../shared/corpora/coig-cqia
(never copied into the repository), written as encyclopedia-style JSON lines (title = the
instruction, summary = the output) ``--copies`` times with distinct ids, so the ``baike`` adapter
reads them. Without the corpora folder the embedded demo corpus is used, repeated.

Both sides do: read the file line by line, decode (strict UTF-8, else detection), parse JSON, run
the adapter, and normalize every text field (controls, boilerplate, width, OpenCC t2s on lines
with Traditional characters, personal data masked, whitespace). Figures are medians of
``--repeats`` runs, alternating the two sides; MB are 10^6 bytes of the JSONL file. Results go to
``results/ingest.md`` next to this file and are printed.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpora" / "coig-cqia"
RESULTS = Path(__file__).resolve().parent / "results" / "ingest.md"


def build_corpus(path: Path, copies: int) -> tuple[int, str]:
    """Writes the benchmark JSONL; returns (records, description)."""
    texts: list[tuple[str, str]] = []
    if CORPUS.is_dir():
        source = f"COIG-CQIA instruction/output pairs ({CORPUS})"
        for file in sorted(CORPUS.rglob("*.jsonl")):
            for line in file.read_bytes().split(b"\n"):
                if line.strip():
                    obj = json.loads(line)
                    texts.append((obj["instruction"][:200], obj["output"]))
    else:
        source = "embedded demo corpus"
        from beam_cqia.spec import demo_data_dir

        for file in sorted(Path(demo_data_dir()).rglob("*.jsonl")):
            for line in file.read_bytes().split(b"\n"):
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                texts.append((str(obj.get("title", obj.get("qid", ""))), json.dumps(obj)))
        copies *= 20
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for copy in range(copies):
            for i, (title, body) in enumerate(texts):
                record = {"entry_id": f"c{copy}-{i}", "title": title or "无题", "summary": body}
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                n += 1
    return n, source


NORMALIZE = {"opencc": "t2s", "pii": "mask", "urls": "keep", "emoji": "keep"}


def plain_loop(path: Path) -> int:
    """The same work as the pipeline, in a loop."""
    import opencc
    import orjson

    from beam_cqia.sources import baike
    from beam_cqia.sources.base import Origin
    from beam_cqia.text import encoding, normalize
    from beam_cqia.text.script import TraditionalGate

    gate = TraditionalGate(opencc.OpenCC("t2s").convert)
    docs = 0
    with path.open("rb") as fh:
        offset = 0
        for line in fh:
            if line.strip():
                obj = orjson.loads(encoding.decode(line).text)
                for doc in baike.adapt(obj, Origin(str(path), offset, "baike")):
                    for field in ("title", "question", "body", "answer"):
                        value = getattr(doc, field)
                        if value:
                            normalize.normalize(value, gate, pii=NORMALIZE["pii"])
                    for value in doc.meta.values():
                        normalize.normalize(value, gate, True, False, pii_kinds=())
                    docs += 1
            offset += len(line)
    return docs


def beam_pipeline(path: Path, reshuffle: bool) -> int:
    import apache_beam as beam
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from beam_cqia.transforms import NormalizeText, ReadCrawl

    p = beam.Pipeline(runner=FnApiRunner())
    (
        p
        | ReadCrawl(str(path), source="baike", reshuffle=reshuffle, split_bytes=1 << 40)
        | NormalizeText(**NORMALIZE)
    )
    result = p.run()
    result.wait_until_finish()
    query = MetricsFilter().with_namespace("beam_cqia.NormalizeText").with_name("passed")
    return sum(c.committed for c in result.metrics().query(query)["counters"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--copies", type=int, default=2)
    parser.add_argument("--workdir", default=str(REPO / "out" / "bench"))
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    path = work / "ingest_corpus.jsonl"
    records, source = build_corpus(path, args.copies)
    mb = path.stat().st_size / 1e6
    cases = {
        "plain Python loop": lambda: plain_loop(path),
        "Beam ReadCrawl + NormalizeText": lambda: beam_pipeline(path, reshuffle=False),
        "Beam, reshuffle=true (default)": lambda: beam_pipeline(path, reshuffle=True),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    counts: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, fn in cases.items():  # alternate, so background load hits all sides alike
            start = time.process_time()
            counts[name] = fn()
            times[name].append(time.process_time() - start)
    if len(set(counts.values())) != 1:
        print(f"the sides disagree on the number of documents: {counts}", file=sys.stderr)
        return 1
    loop = statistics.median(times["plain Python loop"])
    lines = [
        "# ReadCrawl + NormalizeText: Beam against a plain loop",
        "",
        f"`python benchmarks/bench_ingest.py --repeats {args.repeats} --copies {args.copies}`. "
        f"Corpus: {source}, {records} records, {mb:.1f} MB of JSONL. One core: CPU time of this "
        f"process (FnApiRunner in memory runs in it), median of {args.repeats} alternating runs.",
        "",
        "| pipeline | CPU s | MB/s | docs/s | share of the loop's speed |",
        "|-|-:|-:|-:|-:|",
    ]
    for name in cases:
        t = statistics.median(times[name])
        lines.append(f"| {name} | {t:.2f} | {mb / t:.1f} | {records / t:,.0f} | {loop / t:.0%} |")
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
