"""Noisy web bodies for the fast-path tests of normalize() and the rule signals.

The benchmark corpus (``out/bench_corpus/web-10k``, written by ``benchmarks/bench_perf.py``) when
it was built; otherwise real text from ``../shared/corpora`` (ChineseWebText's raw Common Crawl
documents, COIG-CQIA answers and Traditional-script records) with the same kinds of noise the
benchmark plants: URLs, e-mail addresses, phone numbers, HTML remnants, runs of punctuation, emoji,
full-width letters and digits, invisible and control characters. Seeded, so the same every run.
"""

import json
import random
from itertools import islice
from pathlib import Path

import pytest

from benchmarks.perf import corpus
from tests.conftest import CORPORA

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "out" / "bench_corpus" / "web-10k"


def _real_texts() -> list[str]:
    if not CORPORA.is_dir():
        pytest.skip(
            f"neither the benchmark corpus ({BENCH}) nor the real corpora ({CORPORA}) are here"
        )
    texts = []
    for path in sorted((CORPORA / "chinesewebtext" / "2021-43").glob("*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            texts += [json.loads(line)["raw_content"] for line in lines]
    for folder in ("chinese_traditional", "wiki", "ruozhiba", "segmentfault"):
        for path in sorted((CORPORA / "coig-cqia" / folder).glob("*.jsonl"))[:1]:
            with path.open(encoding="utf-8") as lines:
                texts += [json.loads(line).get("output") or "" for line in islice(lines, 150)]
    return [t for t in texts if t]


def noisy_web_bodies(limit: int) -> list[str]:
    """Up to ``limit`` bodies (see the module docstring); skips only when neither source exists."""
    files = sorted(BENCH.glob("*.jsonl"))
    if files:
        with files[0].open(encoding="utf-8") as lines:
            return [json.loads(line)["raw_content"] for line in islice(lines, limit)]
    rng = random.Random(20261122)
    bodies = []
    kinds = corpus.NOISE_KINDS
    for i, text in enumerate(_real_texts()[:limit]):
        for j in range(1 + i % 3):
            text = corpus.plant_noise(rng, text, kinds[(i + j) % len(kinds)])
        bodies.append(text)
    return bodies
