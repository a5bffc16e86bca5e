"""DedupMinHash at scale: signature speed per core, then the whole transform on 10k to 1M short
records with planted duplicates, each size in a fresh process (wall, CPU, peak memory, counts).

    python benchmarks/bench_dedup_scale.py [--sizes 10000,30000,100000,300000,1000000]
        [--repeats 3] [--repeat-up-to 100000] [--mp-size 100000] [--sig-repeats 5]
        [--baseline ../base --baseline-sizes 100000,1000000 --baseline-repeats 2]

Records: short texts (20-600 characters, lengths drawn from the real paragraph lengths) built from
real text: the paragraphs of the COIG-CQIA instructions and outputs, the zhwiki sample and the
medical dialogues in ../shared/corpora (never copied into the repository; without that folder,
the demo corpus) are split into clauses, and each record is random clauses of that pool up to its
length (the pool has ~0.5 M clauses, far fewer characters than 1 M records need, so records mix
clauses at random: character and n-gram statistics are real, the discourse is not; two records
share a 5-gram mostly through a shared clause, too little for the threshold). Planted duplicates
at known rates: 5% of the records are exact copies of another record, 10% near copies with 5-15%
of their characters edited (half single characters, half spans of 2-10; 60% substituted, 20%
deleted, 20% inserted), the rest have no copy. Record ids are 16 random hex digits (ids are hashes
in the pipeline, and string order matters to the components) followed by the planted group and
kind, so that every rejection can be checked: a rejected record whose kept id is of the same group
is a planted duplicate found, any other is a false merge.

Records are generated inside the pipeline (``Impulse`` → shard numbers → ``Reshuffle`` →
generating DoFn; never ``beam.Create`` of the data) and go through ``DedupMinHash`` with its
defaults (read from the code and named in the results), on FnApiRunner in memory in one process
(rensa on one thread), and with ``--mp-size`` once more with ``--direct_num_workers=2
--direct_running_mode=multi_processing``. Each run is a fresh subprocess: wall time of
construction and run, CPU time (user + system, the process and its waited-for children), peak RSS
(``ru_maxrss``) of the process (and of its largest child). The same generator with only a counter
after it ("source only") is timed the same way, so that what DedupMinHash itself costs is the
difference. Sizes up to ``--repeat-up-to`` run ``--repeats`` times, alternating source-only and
dedup runs; figures are medians. ``--baseline`` names another checkout (e.g. ``git worktree add
../base HEAD``) whose DedupMinHash runs alternately with this one on the same records, for a
before/after table; a fingerprint of the outputs shows whether both give the same kept records
and clusters. The signature comparison (``bench_minhash.compare_tools``: ours,
the plain per-document numpy loop, datasketch) runs first, on a sample of the same records.
Results go to ``results/dedup_scale.md`` and are printed.
"""

import argparse
import csv
import itertools
import json
import math
import os
import pickle
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results" / "dedup_scale.md"
# The beam_cqia to measure: this checkout, or (runs for --baseline) another one.
sys.path.insert(0, os.environ.get("BENCH_DEDUP_CODE", str(REPO)))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_minhash  # noqa: E402


def _defaults() -> dict[str, Any]:
    """DedupMinHash's defaults in the code measured, and the LSH bands and rows they give."""
    import inspect

    from beam_cqia.text import minhash
    from beam_cqia.transforms.neardup import DedupMinHash

    params = inspect.signature(DedupMinHash.__init__).parameters
    values = {k: params[k].default for k in ("threshold", "ngram", "num_perm", "verify")}
    values["bands"], values["rows"] = minhash.optimal_bands(
        float(values["threshold"]), values["num_perm"], 0.5, 0.5
    )
    return values


DEFAULTS = _defaults()
THRESHOLD = DEFAULTS["threshold"]
NGRAM = DEFAULTS["ngram"]
MIN_CHARS, MAX_CHARS = 20, 600
EXACT_SHARE, NEAR_SHARE = 0.05, 0.10  # of all records
RECORDS_PER_SHARD = 10_000
SEED = 11
# Group kinds, the letter after the group in a record id: no copy, exact copy, near copy whose
# exact Jaccard to its original is >= THRESHOLD ("should be found"), and below it.
SINGLE, EXACT, NEAR_ABOVE, NEAR_BELOW = "s", "x", "n", "m"
_CLAUSE = re.compile(r"[^。！？；，,.!?;\n]+[。！？；，,.!?;]?")


def _corpus_paragraphs() -> tuple[list[str], str]:
    """Paragraphs of the real corpora (or of the demo corpus), and where they come from."""
    paragraphs: list[str] = []
    cqia = CORPORA / "coig-cqia"
    wiki = CORPORA / "zhwiki-sample" / "words_txt"
    medical = CORPORA / "medical-dialogue-toyhom" / "sample_IM_5000-6000.utf8.csv"
    if not cqia.is_dir():
        texts, source = bench_minhash.load_texts()  # its demo-corpus fallback
        return [p for t in texts for p in t.split("\n")], source
    used = []
    for file in sorted(cqia.rglob("*.jsonl")):
        for line in file.read_bytes().split(b"\n"):  # U+2028 sits inside some records
            if line.strip():
                record = json.loads(line)
                for field in ("instruction", "output"):
                    paragraphs += record[field].split("\n")
    used.append("COIG-CQIA instructions and outputs")
    if wiki.is_dir():
        for file in sorted(wiki.glob("*.txt")):
            paragraphs += file.read_text(encoding="utf-8").split("\n")
        used.append("zhwiki-sample")
    if medical.is_file():
        with medical.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                paragraphs += [row["title"], row["ask"], row["answer"]]
        used.append("medical-dialogue-toyhom")
    return paragraphs, " + ".join(used) + f" ({CORPORA})"


def build_pool() -> dict[str, Any]:
    """Clauses to build records from, and the real paragraph lengths to draw record lengths from."""
    paragraphs, source = _corpus_paragraphs()
    kept = sorted({p.strip() for p in paragraphs if MIN_CHARS <= len(p.strip()) <= MAX_CHARS})
    clauses = sorted(
        {c.strip() for p in kept for c in _CLAUSE.findall(p) if 6 <= len(c.strip()) <= 80}
    )
    lengths = sorted(len(p) for p in kept)
    # Replacement characters for edits, drawn with their corpus frequency.
    alphabet = "".join(random.Random(SEED).choices("".join(clauses), k=200_000))
    return {
        "clauses": clauses,
        "lengths": lengths,
        "alphabet": alphabet,
        "source": source,
        "paragraphs": len(kept),
        "clause_chars": sum(map(len, clauses)),
    }


def _edit(rng: random.Random, text: str, alphabet: str) -> str:
    """Edits 5-15% of the characters: half single characters, half spans of 2-10."""
    chars = list(text)
    budget = max(1, round(len(chars) * rng.uniform(0.05, 0.15)))
    while budget > 0 and chars:
        span = 1 if rng.random() < 0.5 else min(budget, rng.randint(2, 10))
        budget -= span
        pos = rng.randrange(len(chars))
        op = rng.random()
        if op < 0.6:
            chars[pos : pos + span] = rng.choices(alphabet, k=span)
        elif op < 0.8 and len(chars) > span:
            del chars[pos : pos + span]
        else:
            chars[pos:pos] = rng.choices(alphabet, k=span)
    return "".join(chars)


def shard_records(pool: dict[str, Any], size: int, shard: int) -> list[tuple[str, str]]:
    """The (id, text) records of one shard of a ``size``-record data set (deterministic)."""
    from beam_cqia.text.minhash import jaccard

    first = shard * RECORDS_PER_SHARD
    count = min(size, first + RECORDS_PER_SHARD) - first
    rng = random.Random(SEED * 1_000_003 + shard)
    clauses, lengths, alphabet = pool["clauses"], pool["lengths"], pool["alphabet"]
    groups = 1 - EXACT_SHARE - NEAR_SHARE  # groups per record
    p_exact, p_near = EXACT_SHARE / groups, NEAR_SHARE / groups
    out: list[tuple[str, str]] = []
    group = 0
    uniform, n_lengths, n_clauses = rng.random, len(lengths), len(clauses)
    while len(out) < count:
        target = lengths[int(uniform() * n_lengths)]
        parts: list[str] = []
        chars = 0
        while chars < target or len(parts) < 2:
            clause = clauses[int(uniform() * n_clauses)]
            parts.append(clause)
            chars += len(clause)
        text = "".join(parts)[:MAX_CHARS]
        roll = rng.random() if len(out) + 1 < count else 1.0
        members = [text]
        kind = SINGLE
        if roll < p_exact:
            kind = EXACT
            members.append(text)
        elif roll < p_exact + p_near:
            copy = _edit(rng, text, alphabet)
            kind = NEAR_ABOVE if jaccard(text, copy, NGRAM) >= THRESHOLD else NEAR_BELOW
            members.append(copy)
        for member, body in enumerate(members):
            out.append((f"{rng.getrandbits(64):016x}.{shard}-{group}{kind}{member}", body))
        group += 1
    return out


def group_of(record_id: str) -> tuple[str, str]:
    """(group, kind) of a record id made by ``shard_records``."""
    tail = record_id.split(".", 1)[1]
    return tail[:-2], tail[-2]


# ---------------------------------------------------------------- one run, in a fresh process


def _digest(*parts: object) -> int:
    """A 32-bit hash of a record's outcome; their sum, a counter, fingerprints a run's output
    (same sum = same kept records and clusters, up to hash collisions)."""
    import xxhash

    return xxhash.xxh32_intdigest("\x1f".join(map(str, parts)).encode())


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Runs one pipeline in this process and returns its measurements."""
    bench_minhash.one_core()
    import apache_beam as beam
    from apache_beam.metrics import Metrics
    from apache_beam.metrics.metric import MetricsFilter
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from beam_cqia.records import RawDoc
    from beam_cqia.transforms import DedupMinHash, stage_outputs

    class GenerateFn(beam.DoFn):
        def __init__(self, pool_path: str, size: int):
            self._pool_path, self._size = pool_path, size
            self._made = Metrics.counter("bench", "generated")
            self._planted = {
                kind: Metrics.counter("bench", f"planted:{kind}")
                for kind in (SINGLE, EXACT, NEAR_ABOVE, NEAR_BELOW)
            }

        def setup(self) -> None:
            with open(self._pool_path, "rb") as fh:
                self._pool = pickle.load(fh)

        def process(self, shard: int) -> Any:
            records = shard_records(self._pool, self._size, shard)
            self._made.inc(len(records))
            for record_id, _ in records:
                if record_id.endswith("0"):
                    self._planted[group_of(record_id)[1]].inc()
            for record_id, text in records:
                yield RawDoc(
                    id=record_id,
                    source="bench",
                    subset="bench",
                    url="",
                    title="",
                    question="",
                    body="",
                    answer=text,
                    meta={},
                    fetched_at="",
                    origin_file="",
                    origin_offset=0,
                    signals={},
                    lineage=[],
                )

    class CountFn(beam.DoFn):
        """Counters only: kept records, clusters, and each rejection checked against its plan."""

        def __init__(self, what: str):
            self._what = what

        def setup(self) -> None:
            self._counters: dict[str, Any] = {}

        def _inc(self, name: str, value: int = 1) -> None:
            if name not in self._counters:
                self._counters[name] = Metrics.counter("bench", name)
            self._counters[name].inc(value)

        def process(self, element: Any) -> None:
            if self._what == "source":
                self._inc("records")
            elif self._what == "kept":
                self._inc("kept")
                size = element.signals.get("dedup.near_cluster_size")
                if size is not None:
                    self._inc("clusters")
                    self._inc("clustered", int(size))
                self._inc("digest:kept", _digest(element.id, element.answer, size))
            elif self._what == "errors":
                self._inc("errors")
            else:
                group, kind = group_of(element.id)
                if group_of(element.kept_id)[0] == group:
                    self._inc(f"found:{kind}")
                else:
                    self._inc("false_merge")
                self._inc("rejected")
                self._inc(
                    "digest:rejected", _digest(element.id, element.kept_id, element.cluster_id)
                )

    argv = []
    if args.workers > 1:
        argv = [f"--direct_num_workers={args.workers}", "--direct_running_mode=multi_processing"]
    shards = -(-args.size // RECORDS_PER_SHARD)
    before = resource.getrusage(resource.RUSAGE_SELF)
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    p = beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions(argv))
    records = (
        p
        | beam.Impulse()
        | "Shards" >> beam.FlatMap(lambda _: range(shards))
        | "Spread" >> beam.Reshuffle()
        | "Generate" >> beam.ParDo(GenerateFn(args.pool, args.size)).with_output_types(RawDoc)
    )
    if args.mode == "source":
        _ = records | "CountSource" >> beam.ParDo(CountFn("source"))
    else:
        kept = records | "Near" >> DedupMinHash(fields=["answer"])
        side = stage_outputs(p, "Near")
        _ = kept | "CountKept" >> beam.ParDo(CountFn("kept"))
        _ = side.rejected | "CountRejected" >> beam.ParDo(CountFn("rejected"))
        _ = side.errors | "CountErrors" >> beam.ParDo(CountFn("errors"))
    result = p.run()
    result.wait_until_finish()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    counts: dict[str, int] = {}
    for namespace in ("bench", "beam_cqia.ConnectedComponents"):
        query = result.metrics().query(MetricsFilter().with_namespace(namespace))
        for c in query["counters"]:
            name = c.key.metric.name
            counts[name] = counts.get(name, 0) + c.committed
    import beam_cqia

    return {
        "code": str(Path(beam_cqia.__file__).resolve().parents[1]),
        "size": args.size,
        "mode": args.mode,
        "workers": args.workers,
        "wall": wall,
        "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
        "cpu_children": children.ru_utime + children.ru_stime,
        "rss_mb": after.ru_maxrss / 1024,
        "rss_start_mb": rss_start / 1024,
        "rss_children_mb": children.ru_maxrss / 1024,
        "counts": counts,
    }


def run_fresh(
    pool_path: str, size: int, mode: str, workers: int = 1, code: str | None = None
) -> dict[str, Any]:
    """One run in a fresh interpreter (peak memory of this run only), of the beam_cqia in
    ``code`` (default: this checkout)."""
    env = dict(os.environ)
    if code:
        env["BENCH_DEDUP_CODE"] = code
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [code, env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        "--pool",
        pool_path,
        "--size",
        str(size),
        "--mode",
        mode,
        "--workers",
        str(workers),
    ]
    load = os.getloadavg()[0]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        sys.stderr.write(done.stderr[-4000:])
        raise RuntimeError(f"run {mode} size={size} workers={workers} failed ({done.returncode})")
    result = json.loads(lines[-1][len("RESULT ") :])
    result["load"] = load
    print(
        f"  {mode:6} size={size:>9,} workers={workers}: wall {result['wall']:7.1f} s, "
        f"cpu {result['cpu'] + result['cpu_children']:7.1f} s, rss {result['rss_mb']:7.0f} MB, "
        f"load {load:.2f}",
        flush=True,
    )
    return result


# ---------------------------------------------------------------------------------- the report


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _cpu(run: dict[str, Any]) -> float:
    return run["cpu"] + run["cpu_children"]


def _digest_of(run: dict[str, Any]) -> str:
    c = run["counts"]
    return f"{(c.get('digest:kept', 0) * 31 + c.get('digest:rejected', 0)) % (1 << 32):08x}"


def signature_section(pool: dict[str, Any], sample_size: int, repeats: int) -> list[str]:
    """bench_minhash's comparison of signers on a sample of the benchmark's own records."""
    import opencc

    from beam_cqia.text.minhash import shingle_text

    t2s = opencc.OpenCC("t2s").convert
    records = [t for shard in range(2) for _, t in shard_records(pool, 20_000, shard)]
    rng = random.Random(1)
    sample = [shingle_text(t, t2s) for t in rng.sample(records, sample_size)]
    load = os.getloadavg()[0]
    table, _ = bench_minhash.compare_tools(sample, repeats, rng, bench_minhash.make_hashers())
    mb = bench_minhash.mb(sample)
    return [
        f"## 1. Signatures per core ({len(sample):,} of these records, {mb:.2f} MB reduced)",
        "",
        "`bench_minhash.compare_tools` on records of this benchmark (reduced with `shingle_text` "
        f"and t2s, not timed; mean {mb * 1e6 / len(sample):,.0f} bytes, "
        f"{statistics.mean(map(len, sample)):,.0f} characters): 128 permutations, character "
        "5-grams, CPU time of one process on one core, median of "
        f"{repeats} rounds with the order rotated; load average {load:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after (CPU/wall below 1 = the process waited for a core). "
        "The long-document and docs-per-call tables are in `minhash_speed.md`.",
        "",
        *table,
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,30000,100000,300000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--repeat-up-to", type=int, default=100_000)
    parser.add_argument("--mp-size", type=int, default=100_000, help="0: no multi_processing row")
    parser.add_argument("--sig-repeats", type=int, default=5)
    parser.add_argument("--sig-sample", type=int, default=2000)
    parser.add_argument("--no-signatures", action="store_true")
    parser.add_argument(
        "--baseline",
        help="a checkout of beam-cqia (e.g. `git worktree add ../base HEAD`) whose DedupMinHash "
        "is run too, alternating with this one, for a before/after table",
    )
    parser.add_argument("--baseline-sizes", default="100000,1000000")
    parser.add_argument("--baseline-repeats", type=int, default=2)
    parser.add_argument(
        "--raw",
        default=str(REPO / "out" / "bench" / "dedup_scale.json"),
        help="where the measurements of every run are kept (JSON)",
    )
    parser.add_argument(
        "--render-from", help="rewrite the results from a --raw file without running anything"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--pool", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("source", "dedup"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print("RESULT " + json.dumps(_child(args)), flush=True)
        return 0

    if args.render_from:
        raw = json.loads(Path(args.render_from).read_text(encoding="utf-8"))
        write_results(raw)
        return 0
    bench_minhash.one_core()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    pool = build_pool()
    raw: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/bench_dedup_scale.py", *sys.argv[1:]]),
        "about": bench_minhash.versions(),
        "sizes": sizes,
        "mp_size": args.mp_size,
        "baseline": args.baseline,
        "pool": {k: v for k, v in pool.items() if k not in ("clauses", "alphabet")},
        "clauses": len(pool["clauses"]),
        "signatures": [],
    }
    if not args.no_signatures:
        raw["signatures"] = signature_section(pool, args.sig_sample, args.sig_repeats)
        print("\n".join(raw["signatures"]), flush=True)

    runs: dict[tuple[int, str, int], list[dict[str, Any]]] = {}
    compared: dict[int, dict[str, list[dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        pool_path = str(Path(tmp) / "pool.pickle")
        with open(pool_path, "wb") as fh:
            pickle.dump({k: pool[k] for k in ("clauses", "lengths", "alphabet")}, fh)
        for size in sizes:
            repeats = args.repeats if size <= args.repeat_up_to else 1
            for _ in range(repeats):  # alternate: background load hits both alike
                for mode in ("source", "dedup"):
                    runs.setdefault((size, mode, 1), []).append(run_fresh(pool_path, size, mode))
        if args.mp_size:
            for mode in ("source", "dedup"):
                runs[(args.mp_size, mode, 2)] = [run_fresh(pool_path, args.mp_size, mode, 2)]
        if args.baseline:
            for size in [int(s) for s in args.baseline_sizes.split(",") if s]:
                pair = compared.setdefault(size, {"before": [], "after": []})
                for _ in range(args.baseline_repeats if size <= args.repeat_up_to else 1):
                    pair["before"].append(run_fresh(pool_path, size, "dedup", code=args.baseline))
                    pair["after"].append(run_fresh(pool_path, size, "dedup"))
    raw["runs"] = [[list(key), value] for key, value in runs.items()]
    raw["compared"] = compared
    raw["load_end"] = os.getloadavg()[0]
    Path(args.raw).parent.mkdir(parents=True, exist_ok=True)
    Path(args.raw).write_text(json.dumps(raw), encoding="utf-8")
    write_results(raw)
    return 0


def write_results(raw: dict[str, Any]) -> None:
    """Writes results/dedup_scale.md from the measurements and prints it."""
    runs = {tuple(key): value for key, value in raw["runs"]}
    lines = ["# DedupMinHash at scale", "", f"`{raw['command']}`. {raw['about']}.", ""]
    if raw["signatures"]:
        lines += [*raw["signatures"], ""]
    lines += report(runs, raw["sizes"], raw["pool"], raw["clauses"], raw["mp_size"])
    if raw["compared"]:
        compared = {int(size): pair for size, pair in raw["compared"].items()}
        lines += baseline_report(compared, raw["baseline"])
    lines += ["", f"Load average at the end: {raw['load_end']:.2f}."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


def report(
    runs: dict[tuple[int, str, int], list[dict[str, Any]]],
    sizes: list[int],
    pool: dict[str, Any],
    clauses: int,
    mp_size: int,
) -> list[str]:
    """The Markdown of the scale runs."""
    lengths = pool["lengths"]
    quantiles = [lengths[int(len(lengths) * q)] for q in (0.1, 0.5, 0.9)]
    lines = [
        "## 2. DedupMinHash end to end",
        "",
        f"Records: built from {pool['source']}: {pool['paragraphs']:,} distinct paragraphs of "
        f"{MIN_CHARS}-{MAX_CHARS} characters give the record lengths (p10/p50/p90 "
        f"{quantiles[0]}/{quantiles[1]}/{quantiles[2]}, mean {statistics.mean(lengths):.0f}) "
        f"and {clauses:,} distinct clauses ({pool['clause_chars'] / 1e6:.1f} M "
        "characters) the text. Planted: 5% exact copies, 10% near copies (5-15% of characters "
        f"edited); near copies are split by the exact Jaccard of their {NGRAM}-grams to the "
        f"original (>= {THRESHOLD}: should be found; below: may be). DedupMinHash defaults: "
        f"threshold {THRESHOLD}, {DEFAULTS['num_perm']} permutations, {DEFAULTS['bands']} bands "
        f"x {DEFAULTS['rows']} rows, {NGRAM}-grams, verify "
        f"{'on' if DEFAULTS['verify'] else 'off'}, t2s, keep longest.",
        "",
        "One fresh process per run, FnApiRunner in memory (workers 1; rensa on one thread) or "
        "`multi_processing` (workers 2). CPU: user + system of the process and its children "
        "(the `multi_processing` workers); on a shared machine CPU time is the figure to compare, "
        "wall time shows the waiting for a core too. Medians over the n runs of each size, "
        "source-only and dedup runs alternating. `DedupMinHash` = dedup run - source-only run "
        "(the generator and its counters). Peak RSS: `ru_maxrss` of the run's process (in the "
        "`multi_processing` row: the launcher + the largest worker). Load: 1-minute load average "
        "when each run started (2 cores; other jobs share the machine).",
        "",
        "| records | workers | n | CPU s source / dedup | DedupMinHash CPU µs/record | wall s "
        "source / dedup | DedupMinHash wall µs/record | CPU/wall (dedup) | peak RSS MB source / "
        "dedup | RSS over source, bytes/record | load |",
        "|-:|-:|-:|-:|-:|-:|-:|-:|-:|-:|-:|",
    ]
    keys = [(s, 1) for s in sizes] + ([(mp_size, 2)] if mp_size else [])
    for size, workers in keys:
        src, ded = runs.get((size, "source", workers)), runs.get((size, "dedup", workers))
        if not src or not ded:
            continue
        src_cpu = statistics.median(map(_cpu, src))
        ded_cpu = statistics.median(map(_cpu, ded))
        src_wall, ded_wall = _median(src, "wall"), _median(ded, "wall")
        src_rss, ded_rss = _median(src, "rss_mb"), _median(ded, "rss_mb")
        if workers > 1:
            src_rss += _median(src, "rss_children_mb")
            ded_rss += _median(ded, "rss_children_mb")
        loads = [r["load"] for r in src + ded]
        lines.append(
            f"| {size:,} | {workers} | {len(ded)} | {src_cpu:.1f} / {ded_cpu:.1f} "
            f"| {(ded_cpu - src_cpu) / size * 1e6:.0f} | {src_wall:.1f} / {ded_wall:.1f} "
            f"| {(ded_wall - src_wall) / size * 1e6:.0f} "
            f"| {statistics.median(_cpu(r) / r['wall'] for r in ded):.2f} "
            f"| {src_rss:,.0f} / {ded_rss:,.0f} | {(ded_rss - src_rss) * 2**20 / size:,.0f} "
            f"| {min(loads):.1f}-{max(loads):.1f} |"
        )
    lines += growth(runs, sizes)
    lines += [
        "",
        "### Counts",
        "",
        "Found: the rejected record's kept id is of its own planted group. False merges: "
        "rejected records kept in favour of a record of another group (the generator's own "
        "accidental near duplicates, or LSH false positives). Output: a fingerprint of the kept "
        "records and the rejections (ids, kept ids, cluster ids), equal in every run of a size.",
        "",
        "| records | planted exact | found | planted near >= thr | found | planted near < thr "
        "| found | false merges | rejected | kept | clusters | star rounds | unconverged edges "
        "| output |",
        "|-:|-:|-:|-:|-:|-:|-:|-:|-:|-:|-:|-:|-:|-|",
    ]
    for size, workers in keys:
        ded = runs.get((size, "dedup", workers))
        if not ded:
            continue
        c = ded[0]["counts"]
        digests = sorted({_digest_of(r) for r in ded})
        planted = {k: c.get(f"planted:{k}", 0) for k in (EXACT, NEAR_ABOVE, NEAR_BELOW)}
        lines.append(
            f"| {size:,}{'' if workers == 1 else ' (mp)'} "
            f"| {planted[EXACT]:,} | {c.get('found:' + EXACT, 0):,} "
            f"| {planted[NEAR_ABOVE]:,} | {c.get('found:' + NEAR_ABOVE, 0):,} "
            f"| {planted[NEAR_BELOW]:,} | {c.get('found:' + NEAR_BELOW, 0):,} "
            f"| {c.get('false_merge', 0):,} | {c.get('rejected', 0):,} | {c.get('kept', 0):,} "
            f"| {c.get('clusters', 0):,} | {c.get('rounds', 0)} | {c.get('unconverged_edges', 0)} "
            f"| {' / '.join(digests)} |"
        )
    return lines


def growth(runs: dict[tuple[int, str, int], list[dict[str, Any]]], sizes: list[int]) -> list[str]:
    """How DedupMinHash's CPU time and memory grow from each in-memory size to the next: the
    exponent k of cost ~ records^k between the two sizes (1 = linear)."""
    points = []
    for size in sizes:
        src, ded = runs.get((size, "source", 1)), runs.get((size, "dedup", 1))
        if src and ded:
            cpu = statistics.median(map(_cpu, ded)) - statistics.median(map(_cpu, src))
            rss = _median(ded, "rss_mb") - _median(src, "rss_mb")
            points.append((size, cpu, rss))
    if len(points) < 2:
        return []
    lines = [
        "",
        "Growth of DedupMinHash (dedup - source) from one size to the next, and from the first "
        "to the last: exponent k of cost ~ records^k (1 = linear; below 1 while the fixed cost "
        "of building and starting the pipeline, about a second, still counts).",
        "",
        "| from | to | CPU s | k (CPU) | RSS over source MB | k (RSS) |",
        "|-:|-:|-:|-:|-:|-:|",
    ]
    spans = list(itertools.pairwise(points))
    if len(points) > 2:
        spans.append((points[0], points[-1]))
    for (n1, c1, r1), (n2, c2, r2) in spans:
        scale = math.log(n2 / n1)
        k_cpu = math.log(c2 / c1) / scale if c1 > 0 < c2 else float("nan")
        k_rss = math.log(r2 / r1) / scale if r1 > 0 < r2 else float("nan")
        lines.append(
            f"| {n1:,} | {n2:,} | {c1:.1f} → {c2:.1f} | {k_cpu:.2f} | {r1:,.0f} → {r2:,.0f} "
            f"| {k_rss:.2f} |"
        )
    return lines


def baseline_report(compared: dict[int, dict[str, list[dict[str, Any]]]], code: str) -> list[str]:
    """Before/after table: the baseline checkout's DedupMinHash against this one."""
    lines = [
        "",
        f"## 3. Before and after (baseline: `{code}`)",
        "",
        "Dedup runs only, alternating baseline and this checkout; medians.",
        "",
        "| records | code | n | CPU s | wall s | peak RSS MB | output | load |",
        "|-:|-|-:|-:|-:|-:|-|-:|",
    ]
    for size, pair in compared.items():
        for label, runs in (("before", pair["before"]), ("after", pair["after"])):
            loads = [r["load"] for r in runs]
            digests = " / ".join(sorted({_digest_of(r) for r in runs}))
            lines.append(
                f"| {size:,} | {label} (`{runs[0]['code']}`) | {len(runs)} "
                f"| {statistics.median(map(_cpu, runs)):.1f} | {_median(runs, 'wall'):.1f} "
                f"| {_median(runs, 'rss_mb'):,.0f} | {digests} "
                f"| {min(loads):.1f}-{max(loads):.1f} |"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
