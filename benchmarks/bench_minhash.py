"""MinHash signature speed on one core: beam_cqia.text.minhash against a plain per-document
numpy loop and datasketch, side by side in one run, on real Chinese text.

    python benchmarks/bench_minhash.py [--repeats 5] [--sample 2000]

Corpus: the ``output`` texts of the real COIG-CQIA files in ../shared/corpora/coig-cqia (never
copied into the repository); without that folder, snippets recombined from the sentences of the
embedded demo corpus. Every tool gets the same texts after the same reduction
(``shingle_text`` with OpenCC t2s, not timed: exact dedup computes it anyway) and computes 128
permutations over character 5-grams, short texts as one shingle.

Timing: CPU time of this process (so other load on a shared machine slows nothing down but our
own work, and a tool that used a second thread would show it in the CPU/wall column), each tool
repeated until a measurement lasts >= 0.2 s, medians of ``--repeats`` rounds with the order of the
tools rotated every round. MB = 10^6 bytes of UTF-8 of the reduced texts. Accuracy: mean absolute
error of the estimated against the exact Jaccard similarity on pairs of a corpus text and a copy
with 5% of its characters edited. Results go to ``results/minhash_speed.md`` and are printed.
"""

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

if TYPE_CHECKING:
    from beam_cqia.text.minhash import MinHasher

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results" / "minhash_speed.md"
NUM_PERM = 128
NGRAM = 5
SEED = 1

Signer = Callable[[list[str]], np.ndarray]
K = TypeVar("K", bound=Hashable)


def load_texts() -> tuple[list[str], str]:
    """Returns the raw benchmark texts and a description of where they come from."""
    cqia = CORPORA / "coig-cqia"
    if cqia.is_dir():
        texts = []
        files = sorted(cqia.rglob("*.jsonl"))
        for file in files:
            for line in file.read_bytes().split(b"\n"):
                if line.strip():
                    texts.append(json.loads(line)["output"])
        return texts, f"COIG-CQIA `output` texts ({len(files)} files in {cqia})"
    from beam_cqia.spec import demo_data_dir

    sentences: list[str] = []

    def collect(value: object) -> None:
        if isinstance(value, str):
            for part in value.replace("！", "。").replace("？", "。").split("。"):
                if len(part) >= 8:
                    sentences.append(part + "。")
        elif isinstance(value, dict):
            for v in value.values():
                collect(v)
        elif isinstance(value, list):
            for v in value:
                collect(v)

    for file in sorted(Path(demo_data_dir()).rglob("*.jsonl")):
        for line in file.read_bytes().split(b"\n"):
            try:
                collect(json.loads(line))
            except ValueError:
                continue
    rng = random.Random(0)
    texts = ["".join(rng.choices(sentences, k=rng.randint(1, 12))) for _ in range(6000)]
    return (
        texts,
        f"6,000 snippets of 1-12 sentences recombined from the demo corpus ({CORPORA} absent)",
    )


def plain_numpy_loop(a: np.ndarray, b: np.ndarray) -> Signer:
    """The straightforward vectorized loop without rensa: one document at a time, numpy for its
    shingle hashes (same hash as ours) and a (permutations x shingles) affine matrix."""
    u64 = np.uint64
    offset, prime = u64(0xCBF29CE484222325), u64(0x100000001B3)
    m1, m2 = u64(0xBF58476D1CE4E5B9), u64(0x94D049BB133111EB)
    even = (np.arange(NUM_PERM) % 2 == 0)[:, None]

    def mix(h: np.ndarray) -> np.ndarray:
        h ^= h >> u64(30)
        h *= m1
        h ^= h >> u64(27)
        h *= m2
        h ^= h >> u64(31)
        return h

    def one(text: str) -> np.ndarray:
        cp = np.frombuffer(text.encode("utf-32-le"), np.uint32).astype(u64)
        n = min(NGRAM, cp.size)
        count = cp.size - n + 1
        h = np.full(count, offset, u64)
        for k in range(n):
            h ^= cp[k : k + count]
            h *= prime
        h = mix(h)
        x = np.where(even, h.astype(np.uint32), (h >> u64(32)).astype(np.uint32))
        return (x * a[:, None] + b[:, None]).min(axis=1)

    def sign(texts: list[str]) -> np.ndarray:
        out = np.full((len(texts), NUM_PERM), 0xFFFFFFFF, np.uint32)
        for i, text in enumerate(texts):
            if text:
                out[i] = one(text)
        return out

    return sign


def shingle_bytes(text: str) -> list[bytes]:
    """Character 5-grams as UTF-8 bytes, a short text as one shingle (datasketch's input)."""
    if len(text) < NGRAM:
        return [text.encode()] if text else []
    return [text[i : i + NGRAM].encode() for i in range(len(text) - NGRAM + 1)]


def datasketch_update_batch(texts: list[str]) -> np.ndarray:
    from datasketch import MinHash

    out = np.empty((len(texts), NUM_PERM), np.uint32)
    for i, text in enumerate(texts):
        m = MinHash(num_perm=NUM_PERM, seed=SEED)
        m.update_batch(shingle_bytes(text))
        out[i] = m.digest()
    return out


def datasketch_bulk(texts: list[str]) -> np.ndarray:
    from datasketch import MinHash

    sketches = MinHash.bulk([shingle_bytes(t) for t in texts], num_perm=NUM_PERM, seed=SEED)
    return np.array([m.digest() for m in sketches], np.uint32)


def batched(sign: Callable[..., np.ndarray], size: int) -> Signer:
    def run(texts: list[str]) -> np.ndarray:
        return np.vstack([sign(texts[i : i + size]) for i in range(0, len(texts), size)])

    return run


def edit(rng: random.Random, text: str, share: float, alphabet: str) -> str:
    chars = list(text)
    for _ in range(max(1, round(len(chars) * share))):
        pos = rng.randrange(len(chars))
        op = rng.random()
        if op < 0.6:
            chars[pos] = rng.choice(alphabet)
        elif op < 0.8 and len(chars) > 1:
            del chars[pos]
        else:
            chars.insert(pos, rng.choice(alphabet))
    return "".join(chars)


def mean_abs_error(sign: Signer, pairs: list[tuple[str, str]], exact: np.ndarray) -> float:
    from beam_cqia.text.minhash import estimated_jaccard

    sigs = sign([t for pair in pairs for t in pair])
    est = np.array([estimated_jaccard(sigs[2 * i], sigs[2 * i + 1]) for i in range(len(pairs))])
    return float(np.abs(est - exact).mean())


def measure(
    tools: dict[K, Signer], texts: list[str], repeats: int, min_seconds: float = 0.2
) -> dict[K, tuple[float, float]]:
    """Median CPU seconds per pass over ``texts`` and CPU/wall ratio, per tool."""
    reps: dict[K, int] = {}
    for name, sign in tools.items():  # warm-up, and enough passes per measurement
        start = time.process_time()
        sign(texts)
        reps[name] = max(1, math.ceil(min_seconds / max(time.process_time() - start, 1e-6)))
    cpu: dict[K, list[float]] = {name: [] for name in tools}
    ratio: dict[K, list[float]] = {name: [] for name in tools}
    names = list(tools)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:  # rotate: background load hits all alike
            wall, start = time.perf_counter(), time.process_time()
            for _ in range(reps[name]):
                tools[name](texts)
            used = time.process_time() - start
            cpu[name].append(used / reps[name])
            ratio[name].append(used / (time.perf_counter() - wall))
    return {n: (statistics.median(cpu[n]), statistics.median(ratio[n])) for n in names}


def versions() -> str:
    """The machine and the package versions, for the results header."""
    from importlib.metadata import PackageNotFoundError, version

    import beam_cqia.text.minhash as mh

    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    found = {}
    for package in ("rensa", "datasketch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    if mh.rensa is not None:
        found["rensa"] += f" (RMinHash algorithm {mh.rensa.RMinHash.ALGORITHM_VERSION})"
    return (
        f"{model}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
        f"Python {platform.python_version()}, numpy {np.__version__}, rensa {found['rensa']}, "
        f"datasketch {found['datasketch']}"
    )


def make_hashers() -> dict[str, "MinHasher"]:
    """Our two paths by name: the rensa kernel (when importable) and the numpy fallback."""
    import beam_cqia.text.minhash as mh
    from beam_cqia.text.minhash import MinHasher

    hashers = {"numpy fallback": MinHasher(NUM_PERM, NGRAM, SEED, backend="numpy")}
    if mh.rensa is not None:
        hashers = {"rensa kernel": MinHasher(NUM_PERM, NGRAM, SEED, backend="rensa"), **hashers}
    return hashers


def ours(hasher: "MinHasher", size: int) -> Signer:
    """Our signatures of already reduced texts, ``size`` docs per call."""
    return batched(lambda docs: hasher.signatures(docs, normalized=True), size)


def signature_tools(hashers: dict[str, "MinHasher"], check: list[str]) -> dict[str, Signer]:
    """Every signer of the comparison by its table label: ours (both paths, several docs per
    call), the plain per-document numpy loop and datasketch (when installed).

    Raises:
        RuntimeError: the plain loop disagrees with our numpy backend on ``check``.
    """
    try:
        import datasketch
    except ImportError:
        datasketch = None
    numpy_hasher = hashers["numpy fallback"]
    plain = plain_numpy_loop(numpy_hasher._a, numpy_hasher._b)
    if not (plain(check) == numpy_hasher.signatures(check, normalized=True)).all():
        raise RuntimeError("the plain loop disagrees with the numpy backend")
    tools: dict[str, Signer] = {}
    if "rensa kernel" in hashers:
        tools["ours, rensa kernel, 64 docs/call"] = ours(hashers["rensa kernel"], 64)
        tools["ours, rensa kernel, 512 docs/call"] = ours(hashers["rensa kernel"], 512)
        tools["ours, rensa kernel, 1 doc/call (a per-element Map)"] = ours(
            hashers["rensa kernel"], 1
        )
    tools["ours, numpy fallback, 512 docs/call"] = ours(numpy_hasher, 512)
    tools["plain numpy loop, 1 doc at a time (no rensa)"] = plain
    if datasketch is not None:
        tools["datasketch `MinHash.update_batch` per doc"] = datasketch_update_batch
        tools["datasketch `MinHash.bulk`"] = datasketch_bulk
    return tools


def compare_tools(
    sample: list[str], repeats: int, rng: random.Random, hashers: dict[str, "MinHasher"]
) -> tuple[list[str], dict[str, tuple[float, float, float]]]:
    """Times every signer of ``signature_tools`` on ``sample`` (reduced texts) and measures its
    accuracy on edited copies (made with ``rng``).

    Returns:
        the Markdown lines of the comparison (explanation and table), and per tool
        (CPU seconds per pass over ``sample``, CPU/wall, MAE).
    """
    from beam_cqia.text.minhash import _shingle_set

    tools = signature_tools(hashers, sample[:300])
    alphabet = "".join(sorted({c for t in sample for c in t}))
    pairs = [(t, edit(rng, t, 0.05, alphabet)) for t in sample if len(t) >= 60][:300]
    shingles = [(_shingle_set(a, NGRAM), _shingle_set(b, NGRAM)) for a, b in pairs]
    exact = np.array([len(a & b) / len(a | b) for a, b in shingles])
    mae = {name: mean_abs_error(sign, pairs, exact) for name, sign in tools.items()}

    timed = measure(tools, sample, repeats)
    sample_mb = mb(sample)
    fastest = min(t for t, _ in timed.values())
    lines = [
        f"Ratio: speed / fastest. MAE: mean |estimated - exact Jaccard| over {len(pairs)} pairs "
        "(a sampled doc of >= 60 characters and a copy with 5% of its characters edited; exact "
        f"Jaccard median {np.median(exact):.2f}).",
        "",
        "| tool | MB/s | docs/s | ratio | CPU/wall | MAE |",
        "|-|-:|-:|-:|-:|-:|",
    ]
    for name, (t, ratio) in timed.items():
        lines.append(
            f"| {name} | {sample_mb / t:,.1f} | {len(sample) / t:,.0f} | {fastest / t:.3f} "
            f"| {ratio:.2f} | {mae[name]:.4f} |"
        )
    return lines, {name: (t, ratio, mae[name]) for name, (t, ratio) in timed.items()}


def mb(docs: list[str]) -> float:
    """Megabytes (10^6 bytes) of UTF-8."""
    return sum(len(t.encode()) for t in docs) / 1e6


def one_core() -> None:
    """Keeps rensa (rayon) and BLAS on one thread: call before their first use."""
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2000, help="docs in the all-tools table")
    args = parser.parse_args()
    one_core()  # rensa's rayon pool is built on first use, after this
    import opencc

    from beam_cqia.text.minhash import shingle_text

    about = versions()
    raw, source = load_texts()
    t2s = opencc.OpenCC("t2s").convert
    texts = [shingle_text(t, t2s) for t in raw]
    rng = random.Random(1)
    sample = rng.sample(texts, min(args.sample, len(texts)))
    hashers = make_hashers()
    try:
        table, _ = compare_tools(sample, args.repeats, rng, hashers)
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    lines = [
        "# MinHash signatures: speed per core",
        "",
        f"`python benchmarks/bench_minhash.py --repeats {args.repeats} --sample {args.sample}`. "
        f"{about}.",
        "",
        f"Corpus: {source}: {len(texts):,} docs, {mb(raw):.1f} MB raw, {mb(texts):.1f} MB after "
        f"`shingle_text` with t2s (mean {mb(texts) * 1e6 / len(texts):,.0f} bytes, "
        f"{statistics.mean(map(len, texts)):,.0f} characters per doc). 128 permutations, "
        "character 5-grams, short texts one shingle. CPU time, median of the rounds; "
        "MB = 10^6 bytes of reduced UTF-8 (the input of the signatures; reduction not timed).",
        "",
        f"## All tools on the same {len(sample):,} docs ({mb(sample):.2f} MB)",
        "",
        *table,
    ]

    lines += [
        "",
        "## Ours on the whole corpus, by docs per call and document length",
        "",
        "| texts | path | docs/call | mean bytes/doc | MB/s | docs/s | CPU/wall |",
        "|-|-|-:|-:|-:|-:|-:|",
    ]
    joined = ["".join(texts[i : i + 3]) for i in range(0, len(texts), 3)]
    for label, docs in {"corpus as is": texts, "3 docs joined per doc": joined}.items():
        runs = {
            (path, size): ours(hashers[path], size) for path in hashers for size in (64, 256, 512)
        }
        res = measure(runs, docs, max(3, args.repeats // 2 + 1))
        size_mb = mb(docs)
        for (path, size), (t, ratio) in res.items():
            lines.append(
                f"| {label} | {path} | {size} | {size_mb * 1e6 / len(docs):,.0f} "
                f"| {size_mb / t:,.1f} | {len(docs) / t:,.0f} | {ratio:.2f} |"
            )
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.2f}."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
