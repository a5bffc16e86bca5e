"""A timed fuzzing run over the ingest path and the text functions (the long form of
``tests/reliability/test_fuzz_*.py``).

    python benchmarks/fuzz.py --minutes 12 [--seed 1] [--out out/fuzz]

Mutates real records (``../shared/corpora`` through every adapter's ``REAL_DATA``, plus the demo
corpus and our adapter fixtures) with ``tests/reliability/fuzzlib.py`` and checks each input
against its contracts: readers never raise, adapters fail only with ValueError-family errors,
every raw record leaves exactly once, outputs encode with their RowCoders, NormalizeText never
raises and is idempotent, the encoding detector raises only UndecodableError and returns a codec
that gives the text back, the HTML extractors never raise. An input running over
``--timeout`` seconds counts as a crash (a hang or a quadratic path). Crashing inputs are saved
under ``--out/crashes`` (one per cause) and the run is summarized in
``benchmarks/results/fuzz.md``.
"""

import argparse
import collections
import contextlib
import hashlib
import io
import json
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
RESULTS = Path(__file__).resolve().parent / "results" / "fuzz.md"

# Crashes found and fixed in the product code: where, what, the fix, how it was found (kept in the
# report; the inputs are regression tests in tests/reliability/test_fuzz_*.py).
FIXED = [
    (
        "error records, adapters",
        "RecursionError building the error record of a JSON item nested ~5,000 levels (ijson "
        "builds any depth; records are walked recursively): the dead-letter step itself raised, "
        "so the pipeline would have failed",
        "JSON deeper than 128 levels is an error (`NestedTooDeepError`); its error record "
        "keeps the file and item position instead of the value",
        "exploratory loop (ingest)",
    ),
    (
        "xhs, zhihu adapters",
        "OverflowError/OSError from `datetime.fromtimestamp` on epoch times past year 9999",
        "raised as ValueError (`time ... is out of range`)",
        "exploratory loop (ingest)",
    ),
    (
        "vote and comment counts (all adapters)",
        "OverflowError from `round(inf)` on an infinite count (Parquet floats)",
        "infinity is not a count: ValueError",
        "reading the code next to the previous fix; confirmed with a Parquet input",
    ),
    (
        "ReadCrawl byte ranges",
        "a line file with a declared UTF-16/32 encoding larger than `split_bytes` was split "
        "into byte ranges; ranges after the first were read as UTF-8 bytes, cutting characters "
        "and duplicating or garbling records",
        "files with a declared UTF-16/32 encoding are read whole, like BOM'd ones",
        "exploratory loop (ranges check)",
    ),
    (
        "NormalizeText",
        "not idempotent, and a phone number could survive masking: removing an emoji or "
        "collapsing spaces joined the parts of a URL or a number (`www😀.example.org`, "
        "`138  1234 5678`); removing a number joined ❤ and U+FE0F into an emoji",
        "emoji, personal data, URLs and whitespace are handled in rounds until one changes nothing",
        "hypothesis test; the second case by the 12-minute run after the first fix",
    ),
    (
        "HTML main content (web adapter)",
        "resiliparse's main-content mode is quadratic in nesting depth: 20,000 nested `<div>`s "
        "took 35 s, 100,000 about 15 minutes by extrapolation (a hostile page stalls a worker)",
        "pages nested deeper than 256 levels go to the plain-text dump (100,000 levels: 0.4 s)",
        "exploratory loop (slow-input report)",
    ),
    (
        "HTML answers to Markdown (zhihu, segmentfault)",
        "`<code><pre>...</pre></code>` gave a code span wrapped around a fenced block, with runs "
        "of blank lines outside any fence",
        "a `<code>` holding a `<pre>` is the block alone",
        "the HTML property test in tests/text, while checking the fixes",
    ),
]

WEIGHTS = {"ingest": 6, "decode": 2, "html": 1, "normalize": 2}


class _Timeout(BaseException):  # BaseException: not swallowed by the code under test
    pass


def _alarm(signum: int, frame: Any) -> None:
    raise _Timeout()


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=6).hexdigest()


def run(minutes: float, seed: int, out: Path, timeout: int) -> dict[str, Any]:
    from tests.reliability import fuzzlib

    rng = random.Random(seed)
    seeds = fuzzlib.all_seeds()
    texts = fuzzlib.text_seeds(seeds)
    pages = [t for t in texts if "<" in t] or ["<p>x</p>"]
    workdir = Path(tempfile.mkdtemp(prefix="cqia-fuzz-"))
    crash_dir = out / "crashes"
    crash_dir.mkdir(parents=True, exist_ok=True)
    tried: collections.Counter[str] = collections.Counter()
    outcomes: collections.Counter[str] = collections.Counter()
    crashes: dict[tuple, dict[str, Any]] = {}
    slowest: list[tuple[float, str, str]] = []
    signal.signal(signal.SIGALRM, _alarm)
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    deadline = time.monotonic() + minutes * 60
    while time.monotonic() < deadline:
        target = rng.choices(names, weights)[0]
        found: list[fuzzlib.Crash] = []
        if target == "ingest":
            case = fuzzlib.mutate(rng.choice(seeds), fuzzlib.random_ops(rng))
            description, payload = case.describe(), case.data
            call = lambda case=case: fuzzlib.run_ingest(case, workdir)  # noqa: E731
        elif target == "decode":
            text = fuzzlib.mutate_text(rng.choice(texts), rng, rng.randint(0, 12))
            data = text.encode(rng.choice(["utf-8", *fuzzlib.CHARSETS]), errors="replace")
            data = data[: len(data) - rng.randint(0, 8)]
            declared, html = rng.choice(fuzzlib.DECLARED), rng.random() < 0.5
            description, payload = {"declared": declared, "html": html}, data
            call = lambda d=data, c=declared, h=html: fuzzlib.check_decode(d, c, h)  # noqa: E731
        elif target == "html":
            depth = rng.choice([0, 0, 0, 50, 300, 5000, 50_000])
            tag = rng.choice(["div", "font", "li", "table", "b", "span"])
            closed = rng.random() < 0.5
            text = fuzzlib.mutate_text(rng.choice(pages), rng, rng.randint(0, 12))
            page = f"<{tag}>" * depth + text + (f"</{tag}>" * depth if closed else "")
            description, payload = {"depth": depth, "tag": tag}, page.encode("utf-8", "replace")
            call = lambda page=page: fuzzlib.check_html(page)  # noqa: E731
        else:
            text = fuzzlib.mutate_text(rng.choice(texts), rng, rng.randint(0, 12))
            description, payload = {}, text.encode("utf-8", "surrogatepass")
            call = lambda text=text: fuzzlib.check_normalize(text)  # noqa: E731
        tried[target] += 1
        start = time.perf_counter()
        signal.alarm(timeout)
        try:
            with contextlib.redirect_stderr(io.StringIO()):
                result = call()
        except _Timeout:
            found = [fuzzlib.Crash(target, "timeout", f"over {timeout} s")]
        else:
            if isinstance(result, fuzzlib.Outcome):
                found = result.crashes
                outcomes["raw records"] += result.units
                outcomes["documents"] += result.docs
                outcomes["rejected"] += result.rejected
                for kind, n in result.errors.items():
                    outcomes[f"error:{kind}"] += n
            else:
                found = result
        finally:
            signal.alarm(0)
        seconds = time.perf_counter() - start
        slowest = sorted([*slowest, (seconds, target, json.dumps(description, default=str))])[-5:]
        for crash in found:
            sig = crash.signature()
            entry = crashes.setdefault(
                sig, {"target": crash.target, "kind": crash.kind, "count": 0, "where": sig[2]}
            )
            entry["count"] += 1
            if entry["count"] == 1:
                name = f"{crash.target.replace(':', '-')}-{crash.kind}-{_digest(payload)}"
                (crash_dir / f"{name}.bin").write_bytes(payload)
                (crash_dir / f"{name}.json").write_text(
                    json.dumps(
                        {"input": description, "detail": crash.detail}, ensure_ascii=False, indent=1
                    ),
                    encoding="utf-8",
                )
                entry["saved"] = f"{name}.bin"
                print(f"crash: {crash.target} {crash.kind} at {sig[2]}", flush=True)
    return {
        "minutes": minutes,
        "seed": seed,
        "seeds": len(seeds),
        "corpus_seeds": sum(s.name.startswith("corpora:") for s in seeds),
        "tried": dict(tried),
        "outcomes": dict(outcomes),
        "crashes": list(crashes.values()),
        "slowest": [{"seconds": round(s, 2), "target": t, "input": d} for s, t, d in slowest[::-1]],
    }


def write_report(runs: list[dict[str, Any]], path: Path) -> None:
    summary = runs[-1]
    lines = [
        "# Fuzzing",
        "",
        "`python benchmarks/fuzz.py --minutes N` (contracts in `tests/reliability/fuzzlib.py`; the",
        "bounded CI version is `tests/reliability/test_fuzz_*.py`, 15-35 s depending on the load,",
        "or 50x more examples with `CQIA_FUZZ_PROFILE=long`).",
        "",
        "## Crashes found and fixed",
        "",
        "Exploratory loops of the same harness (about 46,000 ingest inputs) ran before the timed",
        "runs below; each crashing input is a regression test now",
        "(`tests/reliability/test_fuzz_ingest.py`, `test_fuzz_text.py`).",
        "",
        "| where | crash | fix | found by |",
        "|-|-|-|-|",
        *(f"| {w} | {c} | {f} | {b} |" for w, c, f, b in FIXED),
        "",
        "## Timed runs",
        "",
        "| minutes | seed | inputs tried | crashes |",
        "|-|-|-|-|",
        *(
            f"| {r['minutes']} | {r['seed']} | {sum(r['tried'].values()):,} | "
            + (", ".join(f"{c['target']} {c['kind']} x{c['count']}" for c in r["crashes"]) or "0")
            + " |"
            for r in runs
        ),
        "",
        "## Last timed run",
        "",
        f"{summary['minutes']} minutes, seed {summary['seed']}, {summary['seeds']} seed inputs "
        f"({summary['corpus_seeds']} from ../shared/corpora), on a shared 2-core machine.",
        "",
        "| target | inputs tried |",
        "|-|-|",
        *(f"| {t} | {n:,} |" for t, n in sorted(summary["tried"].items())),
        f"| **total** | **{sum(summary['tried'].values()):,}** |",
        "",
        "What the ingest inputs produced (every raw record left exactly once):",
        "",
        "| outcome | count |",
        "|-|-|",
        *(f"| {k} | {v:,} |" for k, v in sorted(summary["outcomes"].items())),
        "",
    ]
    if summary["crashes"]:
        lines += [
            "Crashes (inputs saved under `--out/crashes`):",
            "",
            "| target | kind | count | where |",
        ]
        lines += ["|-|-|-|-|"]
        lines += [
            f"| {c['target']} | {c['kind']} | {c['count']} | `{c['where']}` |"
            for c in summary["crashes"]
        ]
    else:
        lines.append("**No crash** in this run.")
    lines += ["", "Slowest inputs:", "", "| seconds | target | input |", "|-|-|-|"]
    lines += [
        f"| {s['seconds']} | {s['target']} | `{s['input'][:150]}` |" for s in summary["slowest"]
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "out" / "fuzz")
    parser.add_argument("--timeout", type=int, default=60, help="seconds before an input is a hang")
    parser.add_argument("--report", type=Path, default=RESULTS)
    args = parser.parse_args()
    summary = run(args.minutes, args.seed, args.out, args.timeout)
    args.out.mkdir(parents=True, exist_ok=True)
    # Every run is kept (the report lists them all): crashes found, fixed, then runs without.
    history = args.out / "runs.json"
    runs = json.loads(history.read_text()) if history.exists() else []
    runs.append(summary)
    history.write_text(json.dumps(runs, indent=1, ensure_ascii=False))
    write_report(runs, args.report)
    print(json.dumps({k: summary[k] for k in ("tried", "crashes")}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
