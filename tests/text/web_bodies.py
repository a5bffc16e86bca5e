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

from tests.conftest import CORPORA

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "out" / "bench_corpus" / "web-10k"
_EMOJI = ("😀", "👍", "❤️", "🎉", "👨‍👩‍👧", "🇨🇳", "✌🏽")


def _noise(rng: random.Random, text: str, kind: str) -> str:
    cut = rng.randrange(len(text) + 1)
    n = rng.randrange(10**7, 10**8)
    insert = {
        "url": f" https://www.site{n % 997}.com/a/{n}.html ",
        "email": f"联系邮箱：reader{n % 9973}@mail{n % 7}.cn。",
        "phone": f"电话：1{rng.choice('3578')}{n % 10**9:09d}。",
        "html": rng.choice(("<br/>", "&nbsp;", "<p>", "&amp;", "</div>")),
        "punct": rng.choice("！？。…～") * rng.randint(3, 8),
        "emoji": "".join(rng.choice(_EMOJI) for _ in range(rng.randint(1, 3))),
        "fullwidth": "".join(chr(ord(c) + 0xFEE0) for c in f"No{n % 10000}"),
        "invisible": rng.choice(("\u200b", "\ufeff", "\x07", "\u00ad", "\u3000\u3000")),
    }[kind]
    return text[:cut] + insert + text[cut:]


_KINDS = ("url", "email", "phone", "html", "punct", "emoji", "fullwidth", "invisible")


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
    for i, text in enumerate(_real_texts()[:limit]):
        for j in range(1 + i % 3):
            text = _noise(rng, text, _KINDS[(i + j) % len(_KINDS)])
        bodies.append(text)
    return bodies
