"""Near-duplicate and decontamination accuracy on real Chinese data: DedupMinHash (Beam, on
FnApiRunner) against datasketch's MinHashLSH and exact dedup, side by side in one run, and
Decontaminate against planted and natural benchmark contamination.

    python benchmarks/bench_dedup_accuracy.py [--csts-pairs 2000] [--planted-per-kind 40]
                                              [--work /tmp/dir] [--quick]

Everything labelled is built at run time from ../shared/corpora (third-party data, never copied
into the repository); the script exits with a message when that folder is absent. Results go to
``results/dedup_accuracy.md`` (``--quick`` runs a small smoke test and writes nowhere unless
``--out`` is given). Scratch files (the records as JSON lines, the Beam outputs, the n-gram
indexes) go to ``--work`` (a new temporary directory by default).

Near duplicates. Six datasets, each a *candidate universe*: a pair of records is only ever judged
inside one dataset, never across datasets (cross-dataset merges are counted and reported apart).
All methods see the records of all datasets in one run (one input of ~40k records per method),
so a method's clusters are the ones it would form on the mixture.

- ``poetry``: Tang (and some Song) poems of chinese-poetry in four editions (全唐诗, 唐诗三百首,
  蒙学 唐诗三百首, 御定全唐詩), Traditional script with variant characters; text = the lines.
- ``medical``: medical-dialogue-toyhom rows; text = title, question and answer.
- ``ruozhiba``: Tieba threads (title, plus the abstract when it adds words) and floor posts (list
  number removed) against the 240 COIG-CQIA ruozhiba instructions.
- ``logiqa``: logiqa2-zh items (passage, question, options) against COIG-CQIA logi_qa
  instructions: a negative control across the two sets.
- ``planted``: real records (COIG-CQIA outputs and zh-Wikipedia paragraphs of 50-600 characters),
  each paired with ONE edited copy: 5/10/20/30% of its characters substituted, inserted or
  deleted, as single characters or spans of 2-8, or its script (OpenCC s2tw), width and
  punctuation changed.
- ``csts``: paraphrase-pairs-csts pairs (LCQMC, AFQMC, Chinese-STS-B, PAWS-X; sampled): only the
  listed pairs are judged (a *listed* dataset, not a universe).

Gold. One textual rule everywhere: after the exact-dedup reduction (``dedup_text`` with OpenCC
t2s: width, punctuation, whitespace, case and script ignored), two texts are near duplicates when
they are identical, or when the longer has at least ``MIN_EDIT_LEN`` characters and the character
Levenshtein distance is at most ``DECLARED_RATE`` of its length. Planted pairs are labelled by
their declared edit rate instead (<= 20% duplicate, 30% not). Pairs that the rule rejects but
that the data's own structure calls the same item (poems sharing their first line, medical rows
asking the same question) or where one reduced text contains the other (a Tieba thread whose
truncated title precedes the full post) are *ignored* (counted neither way). The rule is
evaluated on every pair that shares a clause of >= 5 characters (blocking) and on every pair any
method predicts (pooling, clusters up to ``POOL_CLUSTER_CAP`` records); other pairs are
non-duplicates.

Methods (same num_perm 128, same thresholds, same LSH bands and rows: both libraries pick them by
the same weighted false positive/negative optimum): ours (DedupMinHash, ngram 3/4/5, threshold
0.7/0.8, verify off/on; clusters from the rejected output's cluster_id and kept_id), datasketch
MinHash + MinHashLSH on character n-grams of (a) the raw text and (b) the same reduced text as
ours (both with the short-text rule: a text shorter than n is one shingle; clusters are the
connected components of its query results), and DedupExact as a floor. Metrics: pairwise
precision, recall and F1 over the pairs the clusters imply, per dataset and summed over datasets;
wall time of each method on the whole input (Beam includes pipeline construction and the
in-process runner; datasketch includes signatures, LSH and union-find).

Decontamination. ``WriteDedupIndex(kind: ngram)`` indexes of CMMLU test, GAOKAO-Bench and
logiqa2-zh questions read by ``ReadCrawl`` with the adapters' ``REAL_DATA`` options, for
n-gram 6, 8 and 10; ``Decontaminate`` at min_overlap 0.3, 0.5 and 0.7 on (a) benchmark items
planted into instruction-like records (options reordered and relettered, relabelled, inline,
a preamble, OpenCC s2tw, an answer explanation appended, and all at once; "stem only" reported
apart) and (b) COIG-CQIA exam, kaoyan, law and logi_qa records, whose real contamination is
judged by character alignment (``item_in_record``: the item's clauses found in the record,
exactly or within 20% edits, must hold half of its stem and half of all its characters), on
every (record, item) pair any setting matched. One Decontaminate stage runs per n at its
loosest min_overlap; the stricter settings are derived from the unrounded share of the best
item (the stage's own rule), and one stricter stage also runs for real to check the derivation.

Checks and noise. The Beam clusters of every verify-off configuration are compared with a
union-find over the same LSH buckets computed in-process with ``beam_cqia.text.minhash``; the
recommended and the current default configurations are rerun (library, no Beam; datasketch)
with other seeds to show how much F1 moves from seed to seed.
"""

import argparse
import collections
import csv
import dataclasses
import itertools
import json
import logging
import os
import platform
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import regex

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results" / "dedup_accuracy.md"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

NUM_PERM = 128
NGRAMS = (3, 4, 5)
THRESHOLDS = (0.7, 0.8)
DECLARED_RATE = 0.2
MIN_EDIT_LEN = 20
POOL_CLUSTER_CAP = 200
EDIT_RATES = (0.05, 0.1, 0.2, 0.3)
EDIT_OPS = ("sub", "ins", "del")
EDIT_GRANS = ("char", "span")
FORMAT_KINDS = ("s2tw", "width+punct", "s2tw+width+punct", "s2tw+sub-char-5%")
DECON_NGRAMS = (6, 8, 10)
DECON_OVERLAPS = (0.3, 0.5, 0.7)
DECON_POOL = (6, 0.2)  # a looser setting that only widens the pool judged by alignment
DECON_CHECK = (8, 0.5)  # a stricter setting also run as its own stage, to check the derivation
DECON_VARIANTS = (
    "verbatim",
    "reordered",
    "relabelled",
    "inline",
    "preamble",
    "s2tw",
    "explained",
    "all",
)
DECON_HARD = ("stem_only",)
SEED = 20240611

Pair = tuple[str, str]
_CLAUSE = regex.compile(r"[\p{P}\p{S}\p{Z}\p{C}\s]+")
_CONTENT = regex.compile(r"[^\p{P}\p{S}\p{Z}\p{C}\s]")
_CJK = regex.compile(r"\p{Han}")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- text rules ---------------------------------------------------------------------------


class Reducer:
    """The exact-dedup reduction (``dedup_text`` with OpenCC t2s), cached per text."""

    def __init__(self) -> None:
        import opencc

        from beam_cqia.text.dedupkey import dedup_text

        self.t2s = opencc.OpenCC("t2s").convert
        self._dedup_text = dedup_text
        self._cache: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        out = self._cache.get(text)
        if out is None:
            out = self._cache[text] = self._dedup_text(text, self.t2s)
        return out


def levenshtein(a: str, b: str) -> int:
    """Character Levenshtein distance (Myers/Hyyrö bit-parallel, Python integers as vectors)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if not m:
        return len(a)
    peq: dict[str, int] = {}
    for i, ch in enumerate(b):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask, high = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in a:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def substring_distance(pattern: str, text: str) -> int:
    """The smallest Levenshtein distance between ``pattern`` and any substring of ``text``
    (Myers' approximate search)."""
    m = len(pattern)
    if not m:
        return 0
    peq: dict[str, int] = {}
    for i, ch in enumerate(pattern):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask, high = (1 << m) - 1, 1 << (m - 1)
    pv, mv, score, best = mask, 0, m, m
    for ch in text:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = (ph << 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
        best = min(best, score)
    return best


def edit_rate(a: str, b: str) -> float:
    """Levenshtein distance over the longer length (1.0 when one text is empty)."""
    longest = max(len(a), len(b))
    if not a or not b:
        return 1.0
    return levenshtein(a, b) / longest


def text_rule(a: str, b: str) -> bool:
    """The gold rule on two reduced texts (module docstring)."""
    if not a or not b:
        return False
    if a == b:
        return True
    longest = max(len(a), len(b))
    if longest < MIN_EDIT_LEN or abs(len(a) - len(b)) > DECLARED_RATE * longest:
        return False
    return levenshtein(a, b) <= DECLARED_RATE * longest


def contained(a: str, b: str) -> bool:
    """One reduced text (of >= MIN_EDIT_LEN / 2 characters) inside the other: a copy carrying
    extra text, e.g. a thread whose truncated title precedes the full post."""
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return len(short) >= MIN_EDIT_LEN // 2 and short in long


def ordered(a: str, b: str) -> Pair:
    return (a, b) if a < b else (b, a)


def clause_pairs(texts: dict[str, str], reduce: Reducer, max_df: int = 30) -> set[Pair]:
    """Pairs of records sharing a clause of >= 5 reduced characters (clauses found in more than
    ``max_df`` records are boilerplate and skipped): the blocking step of the gold."""
    index: dict[str, set[str]] = collections.defaultdict(set)
    for rid, text in texts.items():
        for clause in _CLAUSE.split(text):
            reduced = reduce(clause)
            if len(reduced) >= 5:
                index[reduced].add(rid)
    pairs: set[Pair] = set()
    for ids in index.values():
        if 1 < len(ids) <= max_df:
            pairs.update(itertools.combinations(sorted(ids), 2))
    return pairs


# --- datasets -----------------------------------------------------------------------------


@dataclasses.dataclass
class Dataset:
    name: str
    about: str
    records: dict[str, str]  # id -> compared text
    listed: list[tuple[str, str, str]] | None = None  # (id a, id b, group) of a listed dataset
    declared: dict[Pair, bool] = dataclasses.field(default_factory=dict)
    same_item: set[Pair] = dataclasses.field(default_factory=set)
    pair_group: dict[Pair, str] = dataclasses.field(default_factory=dict)
    source_of: dict[str, str] = dataclasses.field(default_factory=dict)  # record -> sub-source
    # filled by build_gold
    positives: set[Pair] = dataclasses.field(default_factory=set)
    ignored: set[Pair] = dataclasses.field(default_factory=set)
    listed_gold: list[bool] = dataclasses.field(default_factory=list)


def load_poetry(corpora: Path, reduce: Reducer) -> Dataset:
    root = corpora / "chinese-poetry"
    poems: list[tuple[str, str, str, list[str]]] = []  # edition, title, author, lines
    for path in sorted((root / "全唐诗").glob("poet.*.json")):
        edition = "全唐诗" if "tang" in path.name else "全宋诗"
        for r in json.loads(path.read_text(encoding="utf-8")):
            poems.append((edition, r["title"], r["author"], r["paragraphs"]))
    for r in json.loads((root / "全唐诗" / "唐诗三百首.json").read_text(encoding="utf-8")):
        poems.append(("唐诗三百首", r["title"], r["author"], r["paragraphs"]))
    for path in sorted((root / "御定全唐詩" / "json").glob("*.json")):
        for r in json.loads(path.read_text(encoding="utf-8")):
            poems.append(("御定全唐詩", r["title"], r["author"], r["paragraphs"]))
    mengxue = json.loads((root / "蒙学" / "tangshisanbaishou.json").read_text(encoding="utf-8"))
    for group in mengxue["content"]:
        for r in group["content"]:
            title = r["chapter"] + (f" {r['subchapter']}" if r.get("subchapter") else "")
            poems.append(("蒙学唐诗三百首", title, r["author"], r["paragraphs"]))
    records, first_clause = {}, collections.defaultdict(list)
    source_of: dict[str, str] = {}
    editions = collections.Counter()
    for i, (edition, _title, _author, lines) in enumerate(poems):
        rid = f"poetry:{i}"
        text = "\n".join(lines)
        if not reduce(text):
            continue
        records[rid] = text
        source_of[rid] = edition
        editions[edition] += 1
        first = reduce(_CLAUSE.split(text.strip())[0]) if text.strip() else ""
        if len(first) >= 4:
            first_clause[first].append(rid)
    same = set()
    for ids in first_clause.values():
        if 1 < len(ids) <= 30:
            same.update(itertools.combinations(sorted(ids), 2))
    about = ", ".join(f"{k} {v}" for k, v in editions.items())
    return Dataset(
        "poetry",
        f"{len(records)} poems ({about})",
        records,
        same_item=same,
        source_of=source_of,
    )


def load_medical(corpora: Path, reduce: Reducer) -> Dataset:
    path = corpora / "medical-dialogue-toyhom" / "sample_IM_5000-6000.gb18030.csv"
    with path.open(encoding="gb18030", newline="") as fh:
        rows = list(csv.DictReader(fh))
    records, by_ask = {}, collections.defaultdict(list)
    for i, row in enumerate(rows):
        rid = f"medical:{i}"
        records[rid] = "\n".join((row["title"], row["ask"], row["answer"]))
        ask = reduce(row["ask"])
        if len(ask) >= 5:
            by_ask[ask].append(rid)
    same = set()
    for ids in by_ask.values():
        same.update(itertools.combinations(sorted(ids), 2))
    full = collections.Counter(tuple(r.values()) for r in rows)
    exact_rows = sum(c - 1 for c in full.values())
    return Dataset(
        "medical",
        f"{len(records)} rows (title, ask, answer); {exact_rows} rows repeat another exactly",
        records,
        same_item=same,
    )


def load_ruozhiba(corpora: Path, reduce: Reducer) -> Dataset:
    root = corpora / "ruozhiba-tieba"
    records = {}
    threads = json.loads((root / "ruozhiba-title-good.json").read_text(encoding="utf-8"))
    with_abs = 0
    for i, t in enumerate(threads):
        text = t["title"].strip()
        abstract = (t.get("abs") or "").strip()
        if abstract and reduce(abstract) != reduce(text):
            text = f"{text}\n{abstract}"
            with_abs += 1
        records[f"ruozhiba:thread:{i}"] = text
    index_prefix = re.compile(r"^\s*(\d{1,4})(?:\s*[、.．]|\s+)\s*(?=\S)")
    posts = json.loads((root / "ruozhiba-post-annual.json").read_text(encoding="utf-8"))
    for i, p in enumerate(posts):
        records[f"ruozhiba:post:{i}"] = index_prefix.sub("", p["content"].strip())
    cqia = corpora / "coig-cqia" / "ruozhiba" / "ruozhiba_ruozhiba.jsonl"
    n_cqia = 0
    for i, line in enumerate(cqia.read_text(encoding="utf-8").split("\n")):
        if line.strip():
            o = json.loads(line)
            records[f"ruozhiba:cqia:{i}"] = "\n".join(
                x for x in (o["instruction"], o["input"]) if x
            )
            n_cqia += 1
    records = {k: v for k, v in records.items() if reduce(v)}
    return Dataset(
        "ruozhiba",
        f"{len(threads)} Tieba threads ({with_abs} with an abstract that adds words), "
        f"{len(posts)} floor posts, {n_cqia} COIG-CQIA instructions",
        records,
        source_of={k: "CQIA" if ":cqia:" in k else "Tieba" for k in records},
    )


def load_logiqa(corpora: Path, reduce: Reducer) -> Dataset:
    records = {}
    for path in sorted((corpora / "logiqa2-zh").glob("*_zh.txt")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                o = json.loads(line)
                text = "\n".join([o["text"], o["question"], *o["options"]])
                records[f"logiqa:logiqa2:{o['example_id']}"] = text
    n2 = len(records)
    cqia = corpora / "coig-cqia" / "logi_qa" / "logi-qa.jsonl"
    for i, line in enumerate(cqia.read_text(encoding="utf-8").split("\n")):
        if line.strip():
            o = json.loads(line)
            records[f"logiqa:cqia:{i}"] = "\n".join(x for x in (o["instruction"], o["input"]) if x)
    records = {k: v for k, v in records.items() if reduce(v)}
    return Dataset(
        "logiqa",
        f"{n2} logiqa2-zh items (passage, question, options) and {len(records) - n2} COIG-CQIA "
        "logi_qa instructions",
        records,
        source_of={k: "CQIA" if ":cqia:" in k else "logiqa2" for k in records},
    )


def load_csts(corpora: Path, per_source: int, rng: random.Random) -> Dataset:
    root = corpora / "paraphrase-pairs-csts"
    sources = {
        "LCQMC": ["LCQMC/dev.txt", "LCQMC/test.txt"],
        "AFQMC": ["AFQMC/dev.txt"],
        "STS-B": ["Chinese-STS-B/sts-b-dev.txt", "Chinese-STS-B/sts-b-test.txt"],
        "PAWS-X": ["PAWS-X/test_2k.tsv"],
    }
    records: dict[str, str] = {}
    listed: list[tuple[str, str, str]] = []
    totals = {}
    for source, files in sources.items():
        rows = []
        for name in files:
            lines = (root / name).read_text(encoding="utf-8").split("\n")
            if source == "PAWS-X":
                lines = lines[1:]  # header; fields split on tabs (unbalanced quotes in 14 lines)
            for line in lines:
                if not line.strip():
                    continue
                fields = line.split("\t")
                if source == "PAWS-X":
                    fields = fields[1:]
                rows.append((fields[0], fields[1], fields[2].strip()))
        totals[source] = len(rows)
        sample = rows if len(rows) <= per_source else rng.sample(rows, per_source)
        for s1, s2, label in sample:
            k = len(listed)
            paraphrase = int(label) >= 4 if source == "STS-B" else label == "1"
            group = f"{source} {'paraphrase' if paraphrase else 'non-paraphrase'}"
            records[f"csts:{k}:a"], records[f"csts:{k}:b"] = s1, s2
            listed.append((f"csts:{k}:a", f"csts:{k}:b", group))
    about = ", ".join(
        f"{s} {min(n, per_source)} of {n}" if n > per_source else f"{s} {n}"
        for s, n in totals.items()
    )
    return Dataset("csts", f"{len(listed)} listed pairs ({about})", records, listed=listed)


# --- planted edits ------------------------------------------------------------------------


def planted_kinds() -> list[tuple[str, float]]:
    """(kind, declared edit rate) of every planted variant."""
    kinds = [(k, 0.0) for k in FORMAT_KINDS]
    kinds[-1] = (FORMAT_KINDS[-1], 0.05)
    for rate in EDIT_RATES:
        for gran in EDIT_GRANS:
            for op in EDIT_OPS:
                kinds.append((f"{op}-{gran}-{round(rate * 100)}%", rate))
    return kinds


def base_pool(corpora: Path, reduce: Reducer) -> tuple[list[str], list[str]]:
    """Candidate base texts (50-600 characters, mostly Han) from COIG-CQIA outputs and zhwiki."""

    def usable(text: str) -> bool:
        if not 50 <= len(text) <= 600:
            return False
        content = _CONTENT.findall(text)
        return len(reduce(text)) >= 40 and len(_CJK.findall(text)) >= 0.6 * max(1, len(content))

    skip = {"ruozhiba", "logi_qa", "segmentfault"}
    cqia = []
    for path in sorted((corpora / "coig-cqia").glob("*/*.jsonl")):
        if path.parent.name in skip:
            continue
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                text = json.loads(line)["output"].strip()
                if usable(text):
                    cqia.append(text)
    wiki = []
    heading = re.compile(r"^\d+(\.\d+)*\s")
    for path in sorted((corpora / "zhwiki-sample" / "words_txt").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").split("\n")[1:]:
            line = line.strip()
            if line and not heading.match(line) and not line.startswith("*") and usable(line):
                wiki.append(line)
    return cqia, wiki


class Editor:
    """Applies planted edits to real text: only content characters (what the reduction keeps)
    are edited; substituted and inserted characters come from real text (single characters by
    corpus frequency, spans copied from another base)."""

    def __init__(self, rng: random.Random, donors: list[str]):
        import opencc

        self.rng = rng
        self.s2tw = opencc.OpenCC("s2tw").convert
        self.donors = ["".join(_CONTENT.findall(d)) for d in donors]
        self.alphabet = [c for d in self.donors for c in d if _CJK.match(c)]

    def _char(self, not_this: str = "") -> str:
        while True:
            c = self.rng.choice(self.alphabet)
            if c != not_this:
                return c

    def _span(self, length: int) -> str:
        donor = self.rng.choice([d for d in self.donors if len(d) > length] or self.donors)
        start = self.rng.randrange(0, max(1, len(donor) - length))
        return donor[start : start + length]

    def edit(self, text: str, op: str, gran: str, rate: float) -> str:
        chars = list(text)
        pos = [i for i, c in enumerate(chars) if _CONTENT.match(c)]
        n = len(pos)
        budget = max(1, round(rate * n))
        edits: list[tuple[int, int, str]] = []  # (raw index, characters removed, inserted)
        if gran == "char":
            if op == "ins":
                points = [self.rng.randrange(n) for _ in range(budget)]
                edits = [(pos[p], 0, self._char()) for p in points]
            else:
                for p in self.rng.sample(range(n), budget):
                    edits.append((pos[p], 1, "" if op == "del" else self._char(chars[pos[p]])))
        else:
            used: set[int] = set()
            tries = 0
            while budget > 0 and tries < 1000:
                tries += 1
                length = min(self.rng.randint(2, 8), budget)
                start = self.rng.randrange(0, n - length + 1)
                block = set(range(start - 1, start + length + 1))
                if block & used:
                    continue
                used |= block
                budget -= length
                if op == "ins":
                    edits.append((pos[start], 0, self._span(length)))
                else:
                    # a span of content characters; punctuation inside it goes with it
                    first, last = pos[start], pos[start + length - 1]
                    new = "" if op == "del" else self._span(length)
                    edits.append((first, last - first + 1, new))
        for index, removed, inserted in sorted(edits, key=lambda e: e[0], reverse=True):
            chars[index : index + removed] = list(inserted)
        return "".join(chars)

    def width_punct(self, text: str) -> str:
        table = {"，": ", ", "。": ". ", "：": ":", "；": ";", "？": "?", "！": "!"}
        table |= {"（": "(", "）": ")", "、": ",", "“": '"', "”": '"'}
        out = []
        for c in text:
            if c.isascii() and c.isalnum():
                out.append(chr(ord(c) + 0xFEE0))
            elif c in table:
                out.append(table[c] + ("\n" if self.rng.random() < 0.1 else ""))
            else:
                out.append(c)
        return "".join(out)

    def variant(self, text: str, kind: str) -> str:
        if kind == "s2tw":
            return self.s2tw(text)
        if kind == "width+punct":
            return self.width_punct(text)
        if kind == "s2tw+width+punct":
            return self.width_punct(self.s2tw(text))
        if kind == "s2tw+sub-char-5%":
            return self.s2tw(self.edit(text, "sub", "char", 0.05))
        op, gran, rate = kind.split("-")
        return self.edit(text, op, gran, int(rate.rstrip("%")) / 100)


def make_planted(corpora: Path, per_kind: int, rng: random.Random, reduce: Reducer) -> Dataset:
    cqia, wiki = base_pool(corpora, reduce)
    kinds = planted_kinds()
    need = per_kind * len(kinds)
    seen: set[str] = set()
    bases: list[tuple[str, str]] = []
    pools = [("cqia", rng.sample(cqia, len(cqia))), ("wiki", rng.sample(wiki, len(wiki)))]
    for origin, pool in itertools.cycle(pools):
        if len(bases) >= need or not any(p for _, p in pools):
            break
        while pool:
            text = pool.pop()
            if reduce(text) not in seen:
                seen.add(reduce(text))
                bases.append((origin, text))
                break
    editor = Editor(rng, [t for _, t in bases])
    records, declared, group = {}, {}, {}
    rng.shuffle(bases)
    origins = collections.Counter()
    for f, (origin, text) in enumerate(bases):
        kind, rate = kinds[f % len(kinds)]
        base_id, var_id = f"planted:{f}:base", f"planted:{f}:{kind}"
        records[base_id] = text
        records[var_id] = editor.variant(text, kind)
        pair = ordered(base_id, var_id)
        declared[pair] = rate <= DECLARED_RATE
        group[pair] = kind
        origins[origin] += 1
    lengths = sorted(len(t) for _, t in bases)
    return Dataset(
        "planted",
        f"{len(bases)} bases ({origins['cqia']} COIG-CQIA outputs, {origins['wiki']} zhwiki "
        f"paragraphs; median {lengths[len(lengths) // 2]} characters), one edited copy each, "
        f"{per_kind} per kind x {len(kinds)} kinds",
        records,
        declared=declared,
        pair_group=group,
    )


# --- methods ------------------------------------------------------------------------------


@dataclasses.dataclass
class Method:
    name: str
    family: str  # exact, ours, ds-raw, ds-reduced
    ngram: int = 0
    threshold: float = 0.0
    verify: bool = False
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    seconds: float = 0.0
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def _doc(line: str) -> Any:
    from beam_cqia.records import RawDoc

    o = json.loads(line)
    return RawDoc(
        id=o["id"],
        source=o["dataset"],
        subset=o["dataset"],
        url="",
        title="",
        question=o.get("question", ""),
        body=o.get("body", ""),
        answer=o.get("answer", ""),
        meta={},
        fetched_at="",
        origin_file="",
        origin_offset=0,
        signals={},
        lineage=[],
    )


def _rejected_row(r: Any) -> str:
    return json.dumps([r.id, r.cluster_id, r.kept_id, r.detail], ensure_ascii=False)


def _read_rows(prefix: Path) -> list[list[str]]:
    rows = []
    for path in sorted(prefix.parent.glob(prefix.name + "*")):
        rows += [json.loads(x) for x in path.read_text(encoding="utf-8").split("\n") if x]
    return rows


def _counters(result: Any, namespace: str) -> dict[str, int]:
    from apache_beam.metrics.metric import MetricsFilter

    out: dict[str, int] = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]:
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + c.committed
    return out


def run_beam_dedup(method: Method, records_path: Path, work: Path) -> None:
    """Runs DedupMinHash or DedupExact on FnApiRunner; cluster labels from the rejected output."""
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from beam_cqia.records import RawDoc
    from beam_cqia.transforms import DedupExact, DedupMinHash, stage_outputs

    out = work / "beam" / method.name.replace(" ", "_").replace("=", "")
    start = time.perf_counter()
    p = beam.Pipeline(runner=FnApiRunner())
    docs = (
        p
        | "Read" >> beam.io.ReadFromText(str(records_path))
        | "Doc" >> beam.Map(_doc).with_output_types(RawDoc)
    )
    if method.family == "exact":
        _ = docs | "Dedup" >> DedupExact(fields=["body"])
        namespace = "beam_cqia.DedupExact"
    else:
        _ = docs | "Dedup" >> DedupMinHash(
            fields=["body"],
            threshold=method.threshold,
            ngram=method.ngram,
            num_perm=NUM_PERM,
            verify=method.verify,
        )
        namespace = "beam_cqia.DedupMinHash"
    _ = (
        stage_outputs(p, "Dedup").rejected
        | "Rows" >> beam.Map(_rejected_row)
        | "Write" >> beam.io.WriteToText(str(out / "rejected"), file_name_suffix=".jsonl")
    )
    result = p.run()
    result.wait_until_finish()
    method.seconds = time.perf_counter() - start
    method.extra = _counters(result, namespace)
    for rid, cluster, kept, _detail in _read_rows(out / "rejected"):
        method.labels[rid] = cluster
        method.labels[kept] = cluster


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        root = x
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while x != root:
            self.parent[x], x = root, self.parent.get(x, x)
        return root

    def union(self, a: str, b: str) -> None:
        self.parent.setdefault(a, a)
        self.parent.setdefault(b, b)
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def labels(self) -> dict[str, str]:
        return {x: self.find(x) for x in list(self.parent)}


def datasketch_shingles(text: str, ngram: int) -> list[bytes]:
    """Character n-grams; a text shorter than n is one shingle (as ours)."""
    if len(text) < ngram:
        return [text.encode("utf-8")]
    return [g.encode("utf-8") for g in {text[i : i + ngram] for i in range(len(text) - ngram + 1)}]


def run_datasketch(
    methods: list[Method], texts: dict[str, str], reduce: Reducer, sig_seconds: dict
) -> None:
    """datasketch MinHash.bulk + MinHashLSH for the methods of one (family, ngram)."""
    from datasketch import MinHash, MinHashLSH

    family, ngram = methods[0].family, methods[0].ngram
    start = time.perf_counter()
    ids, sets = [], []
    for rid, text in texts.items():
        s = reduce(text) if family == "ds-reduced" else text
        if s:
            ids.append(rid)
            sets.append(datasketch_shingles(s, ngram))
    signatures = MinHash.bulk(sets, num_perm=NUM_PERM)
    signing = time.perf_counter() - start
    sig_seconds[(family, ngram)] = signing
    for method in methods:
        start = time.perf_counter()
        lsh = MinHashLSH(threshold=method.threshold, num_perm=NUM_PERM)
        with lsh.insertion_session() as session:
            for rid, m in zip(ids, signatures, strict=True):
                session.insert(rid, m, check_duplication=False)
        uf = UnionFind()
        for rid, m in zip(ids, signatures, strict=True):
            for other in lsh.query(m):
                if other != rid:
                    uf.union(rid, other)
        method.labels = uf.labels()
        method.seconds = signing + time.perf_counter() - start
        method.extra = {"bands x rows": f"{lsh.b} x {lsh.r}"}


def direct_labels(texts: dict[str, str], reduce: Reducer, ngram: int, threshold: float, seed: int):
    """DedupMinHash without Beam: the library's signatures and band keys for the same reduced
    texts, union-find over the buckets. Used to check that the Beam graph (buckets, star edges,
    large-star/small-star components) loses nothing, and to measure seed-to-seed variation."""
    import numpy as np

    from beam_cqia.text import minhash

    ids = [rid for rid, text in texts.items() if reduce(text)]
    hasher = minhash.MinHasher(NUM_PERM, ngram, seed)
    signatures = hasher.signatures([reduce(texts[rid]) for rid in ids], normalized=True)
    bands, rows = minhash.optimal_bands(threshold, NUM_PERM)
    keys = minhash.band_keys(signatures, bands, rows)
    uf = UnionFind()
    for band in range(bands):
        column = keys[:, band]
        order = np.argsort(column, kind="stable")
        for group in np.split(order, np.flatnonzero(np.diff(column[order])) + 1):
            for other in group[1:]:
                uf.union(ids[group[0]], ids[other])
    return uf.labels()


def partition(labels: dict[str, str]) -> set[frozenset[str]]:
    groups: dict[str, set[str]] = collections.defaultdict(set)
    for rid, label in labels.items():
        groups[label].add(rid)
    return {frozenset(g) for g in groups.values() if len(g) > 1}


def datasketch_seed(
    texts: dict[str, str], reduce: Reducer, ngram: int, threshold: float, seed: int
):
    from datasketch import MinHash, MinHashLSH

    ids = [rid for rid, text in texts.items() if reduce(text)]
    sets = [datasketch_shingles(reduce(texts[rid]), ngram) for rid in ids]
    signatures = MinHash.bulk(sets, num_perm=NUM_PERM, seed=seed)
    lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for rid, m in zip(ids, signatures, strict=True):
            session.insert(rid, m, check_duplication=False)
    uf = UnionFind()
    for rid, m in zip(ids, signatures, strict=True):
        for other in lsh.query(m):
            if other != rid:
                uf.union(rid, other)
    return uf.labels()


def seed_study(
    methods: list[Method], texts: dict[str, str], reduce: Reducer, configs, ours_seeds, ds_seeds
) -> tuple[dict[str, bool], list[Method]]:
    """Beam vs direct (seed 1) for every verify-off config; extra seeds for ``configs``."""
    same = {}
    for m in methods:
        if m.family == "ours" and not m.verify:
            direct = direct_labels(texts, reduce, m.ngram, m.threshold, 1)
            same[m.name] = partition(direct) == partition(m.labels)
    extra = []
    for n, t in configs:
        for seed in ours_seeds:
            m = Method(f"ours (library, no Beam) n={n} t={t} seed={seed}", "seed-ours", n, t)
            m.labels = direct_labels(texts, reduce, n, t, seed)
            extra.append(m)
        for seed in ds_seeds:
            m = Method(f"datasketch reduced n={n} t={t} seed={seed}", "seed-ds", n, t)
            m.labels = datasketch_seed(texts, reduce, n, t, seed)
            extra.append(m)
    return same, extra


def all_methods(quick: bool) -> list[Method]:
    ngrams = (5,) if quick else NGRAMS
    thresholds = (0.8,) if quick else THRESHOLDS
    methods = [Method("exact (DedupExact)", "exact")]
    for n in ngrams:
        for t in thresholds:
            for verify in (False, True):
                name = f"ours n={n} t={t} verify={'on' if verify else 'off'}"
                methods.append(Method(name, "ours", n, t, verify))
    for family, what in (("ds-raw", "raw"), ("ds-reduced", "reduced")):
        for n in ngrams:
            for t in thresholds:
                methods.append(Method(f"datasketch {what} n={n} t={t}", family, n, t))
    return methods


# --- gold and evaluation ------------------------------------------------------------------


def clusters_in(method: Method, ids: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = collections.defaultdict(list)
    for rid in ids:
        label = method.labels.get(rid)
        if label is not None:
            out[label].append(rid)
    return {k: v for k, v in out.items() if len(v) > 1}


def build_gold(ds: Dataset, methods: list[Method], reduce: Reducer) -> dict[str, Any]:
    """Judges the blocked, declared, same-item and pooled pairs of a dataset (module docstring)."""
    if ds.listed is not None:
        ds.listed_gold = [
            text_rule(reduce(ds.records[a]), reduce(ds.records[b])) for a, b, _ in ds.listed
        ]
        return {"judged": len(ds.listed)}
    candidates = clause_pairs(ds.records, reduce) | set(ds.declared) | ds.same_item
    pooled = 0
    for method in methods:
        for members in clusters_in(method, ds.records).values():
            if len(members) <= POOL_CLUSTER_CAP:
                before = len(candidates)
                candidates.update(itertools.combinations(sorted(members), 2))
                pooled += len(candidates) - before
    ds.positives, ds.ignored = set(), set()
    for pair in candidates:
        if pair in ds.declared:
            if ds.declared[pair]:
                ds.positives.add(pair)
            continue
        a, b = reduce(ds.records[pair[0]]), reduce(ds.records[pair[1]])
        if text_rule(a, b):
            ds.positives.add(pair)
        elif pair in ds.same_item or contained(a, b):
            ds.ignored.add(pair)
    return {"judged": len(candidates), "pooled_only": pooled}


@dataclasses.dataclass
class Score:
    predicted: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Score") -> None:
        self.predicted += other.predicted
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def same_cluster(method: Method, a: str, b: str) -> bool:
    la = method.labels.get(a)
    return la is not None and la == method.labels.get(b)


def score(ds: Dataset, method: Method) -> Score:
    if ds.listed is not None:
        s = Score()
        for (a, b, _), gold in zip(ds.listed, ds.listed_gold, strict=True):
            merged = same_cluster(method, a, b)
            s.predicted += merged
            s.tp += merged and gold
            s.fp += merged and not gold
            s.fn += gold and not merged
        return s
    predicted = sum(len(m) * (len(m) - 1) // 2 for m in clusters_in(method, ds.records).values())
    tp = sum(1 for a, b in ds.positives if same_cluster(method, a, b))
    ignored = sum(1 for a, b in ds.ignored if same_cluster(method, a, b))
    return Score(predicted, tp, predicted - tp - ignored, len(ds.positives) - tp)


def cross_dataset_clusters(method: Method, dataset_of: dict[str, str]) -> int:
    members: dict[str, set[str]] = collections.defaultdict(set)
    for rid, label in method.labels.items():
        members[label].add(dataset_of[rid])
    return sum(1 for d in members.values() if len(d) > 1)


# --- decontamination ----------------------------------------------------------------------

_OPTION_LINE = re.compile(r"^\s*([A-H])\.\s(.*)$")
_ANY_LABEL = re.compile(r"^\s*(?:[A-Ha-h]|[（(][A-Ha-h][)）])\s*[.．、:：)）]\s*")


def _item_row(doc: Any, benchmark: str) -> str:
    return json.dumps(
        {"id": doc.id, "benchmark": benchmark, "question": doc.question, "answer": doc.answer},
        ensure_ascii=False,
    )


def build_indexes(corpora: Path, work: Path) -> tuple[dict[str, dict], float]:
    """ReadCrawl (REAL_DATA options) → WriteDedupIndex(kind: ngram) for every n; also writes the
    items (and the CMMLU dev items) as JSON lines."""
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from beam_cqia import sources
    from beam_cqia.transforms import ReadCrawl, WriteDedupIndex

    def entry(source: str, part: str) -> dict[str, Any]:
        return next(e for e in sources.MODULES[source].REAL_DATA if part in e["path"])

    reads = {
        "cmmlu": ("cmmlu", entry("cmmlu", "/test/")),
        "cmmlu_dev": ("cmmlu", entry("cmmlu", "/dev/")),
        "gaokao": ("gaokao", entry("gaokao", "gaokao")),
        "logiqa": ("logiqa", entry("logiqa", "logiqa")),
    }
    start = time.perf_counter()
    p = beam.Pipeline(runner=FnApiRunner())
    for benchmark, (source, e) in reads.items():
        options = {k: v for k, v in e.items() if k not in ("path", "expect", "why", "name")}
        docs = p | f"Read_{benchmark}" >> ReadCrawl(
            str(corpora / e["path"]), source=source, subset=benchmark, **options
        )
        _ = (
            docs
            | f"Rows_{benchmark}" >> beam.Map(_item_row, benchmark)
            | f"Write_{benchmark}"
            >> beam.io.WriteToText(str(work / "items" / benchmark), file_name_suffix=".jsonl")
        )
        if benchmark == "cmmlu_dev":
            continue
        for n in DECON_NGRAMS:
            _ = docs | f"Index_{benchmark}_{n}" >> WriteDedupIndex(
                str(work / "index" / f"{benchmark}-n{n}"),
                kind="ngram",
                fields=["question"],
                ngram=n,
            )
    p.run().wait_until_finish()
    seconds = time.perf_counter() - start
    items = {}
    for path in sorted((work / "items").glob("*.jsonl*")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line:
                o = json.loads(line)
                items[o["id"]] = o
    return items, seconds


def split_item(question: str) -> tuple[str, list[tuple[str, str]]]:
    """The stem and the (letter, text) options of an exam-layout question (options as lines)."""
    lines = question.split("\n")
    options: list[tuple[str, str]] = []
    while lines and _OPTION_LINE.match(lines[-1]):
        m = _OPTION_LINE.match(lines.pop())
        options.insert(0, (m.group(1), m.group(2)))
    return "\n".join(lines), options


def plant(item: dict, variant: str, rng: random.Random, s2tw: Any) -> tuple[str, str]:
    """An instruction-like (question, answer) record containing a benchmark item."""
    stem, options = split_item(item["question"])
    answer = item["answer"]
    letters = "ABCDEFGH"
    texts = [t for _, t in options]
    if variant in ("reordered", "all") and len(texts) > 1:
        order = list(range(len(texts)))
        while order == sorted(order):
            rng.shuffle(order)
        old = [letter for letter, _ in options]
        texts = [texts[i] for i in order]
        mapping = {old[i]: letters[j] for j, i in enumerate(order)}
        answer = "".join(sorted(mapping.get(c, c) for c in answer)) if len(answer) <= 4 else answer
    if variant == "relabelled":
        styles = ["（{}）{}", "{}、{}", "{}：{}", "({}) {}"]
        style = rng.choice(styles)
        opts = [style.format(letters[i], t) for i, t in enumerate(texts)]
    else:
        opts = [f"{letters[i]}. {t}" for i, t in enumerate(texts)]
    if variant in ("inline", "all"):
        opts = ["  ".join(opts)] if opts else []
    if variant == "stem_only":
        opts = []
    head = stem
    if variant in ("preamble", "all"):
        head = (
            rng.choice(["请回答下列问题：", "下面是一道选择题，请选出正确答案。", "题目："]) + stem
        )
    question = "\n".join([head, *opts])
    reply = f"答案：{answer}"
    if variant in ("explained", "all"):
        chosen = [texts[letters.index(c)] for c in answer if c in letters[: len(texts)]]
        why = item.get("analysis") or ""
        if not why and chosen:
            why = f"{'、'.join(chosen)}符合题意，其余选项与题干不符，故选{answer}。"
        reply = f"正确答案是{answer}。\n解析：{why or '略。'}"
    if variant in ("s2tw", "all"):
        question, reply = s2tw(question), s2tw(reply)
    return question, reply


def item_in_record(item_question: str, record_text: str, reduce: Reducer) -> bool:
    """The alignment rule for real contamination: the item's clauses (split at punctuation and
    spaces, option labels removed) are looked up in the reduced record, exactly or, for clauses
    of >= 4 characters, within 20% character edits; the record contains the item when the
    clauses found hold >= 50% of the stem's characters and >= 50% of all the item's characters
    (>= 80% when the item is options only)."""
    target = reduce(record_text)
    grams = {target[i : i + 3] for i in range(len(target) - 2)}
    stem_total = stem_found = all_total = all_found = 0
    for raw in item_question.split("\n"):
        is_option = bool(_ANY_LABEL.match(raw))
        for clause in _CLAUSE.split(_ANY_LABEL.sub("", raw)):
            part = reduce(clause)
            if not part:
                continue
            found = part in target
            if not found and len(part) >= 4:
                limit = int(DECLARED_RATE * len(part))
                positions = len(part) - 2
                surviving = sum(1 for i in range(positions) if part[i : i + 3] in grams)
                # every edit spoils at most 3 of the clause's 3-grams
                if surviving >= positions - 3 * limit:
                    found = substring_distance(part, target) <= limit
            all_total += len(part)
            all_found += len(part) * found
            if not is_option:
                stem_total += len(part)
                stem_found += len(part) * found
    if not all_total:
        return False
    if not stem_total:
        return all_found >= 0.8 * all_total
    return stem_found >= 0.5 * stem_total and all_found >= 0.5 * all_total


def index_paths(work: Path, ngram: int) -> list[str]:
    return [str(work / "index" / f"{b}-n{ngram}") for b in ("cmmlu", "gaokao", "logiqa")]


def exact_shares(
    work: Path, ngram: int, hits: dict[str, str], by_id: dict[str, dict]
) -> dict[str, tuple[str, float]]:
    """The unrounded share of the best item of each rejected record, computed as Decontaminate
    does (same index class, same n-gram hashing, same field joining)."""
    import opencc

    from beam_cqia.transforms.decontam import _NgramIndex, item_hashes

    t2s = opencc.OpenCC("t2s").convert
    index = _NgramIndex(index_paths(work, ngram), 20)
    out = {}
    for rid in hits:
        r = by_id[rid]
        share, item = index.best(item_hashes(r["question"] + "\n" + r["answer"], ngram, t2s))
        out[rid] = (item, share)
    return out


def decontamination(corpora: Path, work: Path, rng: random.Random, reduce: Reducer) -> dict:
    import apache_beam as beam
    import opencc
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from beam_cqia.records import RawDoc
    from beam_cqia.transforms import Decontaminate, stage_outputs

    log("decontamination: reading benchmarks and writing n-gram indexes")
    items, index_seconds = build_indexes(corpora, work)
    by_bench = collections.defaultdict(list)
    for item in items.values():
        by_bench[item["benchmark"]].append(item)
    # analyses for the explained variant (GAOKAO gives them)
    s2tw = opencc.OpenCC("s2tw").convert
    records: list[dict[str, Any]] = []
    planted_n = {"cmmlu": 80, "gaokao": 60, "logiqa": 60}
    for bench, n in planted_n.items():
        pool = sorted(by_bench[bench], key=lambda o: o["id"])
        if bench != "gaokao":
            pool = [o for o in pool if len(split_item(o["question"])[1]) >= 2]
        for item in rng.sample(pool, min(n, len(pool))):
            for variant in DECON_VARIANTS + DECON_HARD:
                question, reply = plant(item, variant, rng, s2tw)
                records.append(
                    {
                        "id": f"planted:{variant}:{item['id']}",
                        "group": f"planted {variant}",
                        "bench": bench,
                        "item": item["id"],
                        "question": question,
                        "answer": reply,
                    }
                )
    negatives = {
        "exam/coig_exam_sampled_clean_v3.jsonl": "CQIA exam",
        "exam/kaoyan.jsonl": "CQIA kaoyan",
        "exam/law_gee_exam_clean_v2.jsonl": "CQIA law",
        "logi_qa/logi-qa.jsonl": "CQIA logi_qa",
    }
    for name, group in negatives.items():
        path = corpora / "coig-cqia" / name
        for i, line in enumerate(path.read_text(encoding="utf-8").split("\n")):
            if line.strip():
                o = json.loads(line)
                records.append(
                    {
                        "id": f"{group}:{i}",
                        "group": group,
                        "question": "\n".join(x for x in (o["instruction"], o["input"]) if x),
                        "answer": o["output"],
                    }
                )
    for item in by_bench["cmmlu_dev"]:
        records.append(
            {
                "id": f"dev:{item['id']}",
                "group": "CMMLU dev",
                "question": item["question"],
                "answer": item["answer"],
            }
        )
    path = work / "decon_records.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps({**r, "dataset": r["group"]}, ensure_ascii=False) + "\n")
    configs = [(n, o) for n in DECON_NGRAMS for o in DECON_OVERLAPS]
    # One stage per n at its loosest min_overlap; the stricter ones are derived from the exact
    # share of the best item (Decontaminate rejects iff that share >= min_overlap), and one real
    # stricter stage checks the derivation.
    base = {n: min(DECON_OVERLAPS) for n in DECON_NGRAMS}
    base[DECON_POOL[0]] = min(base[DECON_POOL[0]], DECON_POOL[1])
    runs = [*base.items(), DECON_CHECK]
    log(f"decontamination: {len(records)} records x {len(runs)} Decontaminate stages")
    start = time.perf_counter()
    p = beam.Pipeline(runner=FnApiRunner())
    docs = (
        p
        | "Read" >> beam.io.ReadFromText(str(path))
        | "Doc" >> beam.Map(_doc).with_output_types(RawDoc)
    )
    for n, overlap in runs:
        label = f"Decon_n{n}_o{round(overlap * 100)}"
        _ = docs | label >> Decontaminate(
            against=index_paths(work, n), fields=["question", "answer"], min_overlap=overlap
        )
        _ = (
            stage_outputs(p, label).rejected
            | f"{label}_rows" >> beam.Map(_rejected_row)
            | f"{label}_write"
            >> beam.io.WriteToText(str(work / "decon" / label), file_name_suffix=".jsonl")
        )
    p.run().wait_until_finish()
    decon_seconds = time.perf_counter() - start
    by_id = {r["id"]: r for r in records}
    stage_hits: dict[tuple[int, float], dict[str, str]] = {}
    for n, overlap in runs:
        rows = _read_rows(work / "decon" / f"Decon_n{n}_o{round(overlap * 100)}")
        stage_hits[(n, overlap)] = {rid: kept for rid, _c, kept, _detail in rows}
    flagged: dict[tuple[int, float], dict[str, tuple[str, float]]] = {}
    for n, loosest in base.items():
        shares = exact_shares(work, n, stage_hits[(n, loosest)], by_id)
        for overlap in sorted({loosest, *DECON_OVERLAPS}):
            flagged[(n, overlap)] = {k: v for k, v in shares.items() if v[1] >= overlap}
    check = set(stage_hits[DECON_CHECK]) == set(flagged[DECON_CHECK])
    # gold: planted records are contaminated by construction; the others by alignment with the
    # item any run matched them to (pooling)
    log("decontamination: judging matched records by alignment")
    by_id = {r["id"]: r for r in records}
    contaminated: dict[str, str] = {}  # record id -> item id
    judged: set[tuple[str, str]] = set()
    for hits in flagged.values():
        for rid, (item_id, _share) in hits.items():
            r = by_id[rid]
            if r["group"].startswith("planted") or (rid, item_id) in judged:
                continue
            judged.add((rid, item_id))
            text = r["question"] + "\n" + r["answer"]
            if item_in_record(items[item_id]["question"], text, reduce):
                contaminated[rid] = item_id
    return {
        "items": items,
        "records": records,
        "flagged": flagged,
        "contaminated": contaminated,
        "judged": len(judged),
        "check": check,
        "configs": configs,
        "index_seconds": index_seconds,
        "decon_seconds": decon_seconds,
    }


def cmmlu_overlap(items: dict[str, dict], reduce: Reducer) -> dict[str, int]:
    """CMMLU dev items whose stem (reduced) is a test item's stem."""
    test_stems = collections.defaultdict(list)
    for o in items.values():
        if o["benchmark"] == "cmmlu":
            test_stems[reduce(split_item(o["question"])[0])].append(o)
    same_stem = same_item = 0
    for o in items.values():
        if o["benchmark"] != "cmmlu_dev":
            continue
        stem, options = split_item(o["question"])
        matches = test_stems.get(reduce(stem), [])
        if matches:
            same_stem += 1
            opts = sorted(reduce(t) for _, t in options)
            if any(
                sorted(reduce(t) for _, t in split_item(m["question"])[1]) == opts for m in matches
            ):
                same_item += 1
    return {"same_stem": same_stem, "same_stem_and_options": same_item}


# --- report -------------------------------------------------------------------------------


def fmt(x: float) -> str:
    return f"{x:.3f}"


def table(header: list[str], rows: list[list[Any]], align: str = "") -> list[str]:
    align = align or "l" + "r" * (len(header) - 1)
    sep = "|".join("-:" if a == "r" else "-" for a in align)
    out = ["| " + " | ".join(header) + " |", f"|{sep}|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def planted_curve(ds: Dataset, methods: list[Method]) -> tuple[list[str], list[list[Any]]]:
    columns: dict[str, list[Pair]] = collections.defaultdict(list)
    for pair, kind in ds.pair_group.items():
        if kind in FORMAT_KINDS:
            columns["format/script" if kind != "s2tw+sub-char-5%" else "s2tw + 5% char"].append(
                pair
            )
        else:
            _op, gran, rate = kind.split("-")
            columns[f"{rate} {gran}"].append(pair)
    order = ["format/script", "s2tw + 5% char"]
    order += [f"{round(r * 100)}% {g}" for r in EDIT_RATES for g in EDIT_GRANS]
    header = ["method", *[f"{c} (n={len(columns[c])})" for c in order]]
    rows = []
    for m in methods:
        cells = []
        for c in order:
            pairs = columns[c]
            merged = sum(1 for a, b in pairs if same_cluster(m, a, b))
            cells.append(f"{merged / len(pairs):.2f}" if pairs else "-")
        rows.append([m.name, *cells])
    return header, rows


def planted_by_op(ds: Dataset, methods: list[Method]) -> tuple[list[str], list[list[Any]]]:
    columns: dict[str, list[Pair]] = collections.defaultdict(list)
    for pair, kind in ds.pair_group.items():
        if kind not in FORMAT_KINDS:
            op, gran, rate = kind.split("-")
            if rate in ("10%", "20%"):
                columns[f"{op} {gran} 10-20%"].append(pair)
    order = [f"{op} {gran} 10-20%" for gran in EDIT_GRANS for op in EDIT_OPS]
    header = ["method", *[f"{c} (n={len(columns[c])})" for c in order]]
    rows = []
    for m in methods:
        row = [m.name]
        for c in order:
            pairs = columns[c]
            merged = sum(1 for a, b in pairs if same_cluster(m, a, b))
            row.append(f"{merged / len(pairs):.2f}" if pairs else "-")
        rows.append(row)
    return header, rows


def csts_breakdown(ds: Dataset, methods: list[Method]) -> tuple[list[str], list[list[Any]]]:
    groups = sorted({g for _, _, g in ds.listed or []})
    n = collections.Counter(g for _, _, g in ds.listed or [])
    gold = collections.Counter(
        g for (_, _, g), y in zip(ds.listed or [], ds.listed_gold, strict=True) if y
    )
    header = ["method", *[f"{g} (n={n[g]}, gold dup {gold[g]})" for g in groups]]
    rows = []
    for m in methods:
        merged = collections.Counter(g for a, b, g in ds.listed or [] if same_cluster(m, a, b))
        rows.append([m.name, *[merged[g] for g in groups]])
    return header, rows


CSTS_BUCKETS = ("identical", "<=20%", "20-40%", ">40%")


def csts_bucket(a: str, b: str) -> str:
    if a == b:
        return "identical"
    rate = edit_rate(a, b)
    return "<=20%" if rate <= 0.2 else "20-40%" if rate <= 0.4 else ">40%"


def csts_by_edit(
    ds: Dataset, methods: list[Method], reduce: Reducer
) -> tuple[list[str], list[list[Any]]]:
    cells = collections.defaultdict(list)
    for a, b, group in ds.listed or []:
        label = "paraphrase" if group.endswith(" paraphrase") else "non-paraphrase"
        cells[(label, csts_bucket(reduce(ds.records[a]), reduce(ds.records[b])))].append((a, b))
    order = [
        (label, bucket) for label in ("paraphrase", "non-paraphrase") for bucket in CSTS_BUCKETS
    ]
    header = ["method", *[f"{lab} {bk} (n={len(cells[(lab, bk)])})" for lab, bk in order]]
    rows = []
    for m in methods:
        row = [m.name]
        for key in order:
            row.append(sum(1 for a, b in cells[key] if same_cluster(m, a, b)))
        rows.append(row)
    return header, rows


def write_report(ctx: dict[str, Any], path: Path | None) -> str:
    methods: list[Method] = ctx["methods"]
    datasets: list[Dataset] = ctx["datasets"]
    scores: dict[tuple[str, str], Score] = ctx["scores"]
    lines = [
        "# Near-duplicate and decontamination accuracy on real data",
        "",
        f"`{ctx['command']}`: {ctx['total']:.0f} s wall in all on {ctx['machine']}.",
        "Corpora: ../shared/corpora (third-party data, read at run time, not in the repository).",
        "Method, data and gold rules: the docstring of `benchmarks/bench_dedup_accuracy.py`; "
        "the essentials are repeated here.",
        "",
    ]
    lines += ctx["findings"]
    lines += [
        "",
        "## Data and gold",
        "",
        f"All {ctx['n_records']:,} records go through every method in one input; pairs are judged "
        "only inside their dataset. Gold near duplicates: identical after the exact-dedup "
        f"reduction (width, punctuation, whitespace, case, OpenCC t2s), or, when the longer text "
        f"has >= {MIN_EDIT_LEN} reduced characters, a character Levenshtein distance of at most "
        f"{DECLARED_RATE:.0%} of its length. Planted pairs are labelled by their declared edit "
        f"rate (<= {DECLARED_RATE:.0%}: duplicate; 30%: not). Pairs the data calls the same item "
        "(poems with the same first line; medical rows with the same question), or where one "
        "reduced text contains the other (a Tieba thread whose truncated title precedes the "
        "full post), that the rule rejects are ignored. The rule is applied to every pair "
        "sharing a clause of >= 5 characters and to every pair a method predicts (clusters of "
        f"<= {POOL_CLUSTER_CAP}); all other pairs count as non-duplicates.",
        "",
    ]
    rows = []
    for ds in datasets:
        info = ctx["gold_info"][ds.name]
        if ds.listed is not None:
            pos = sum(ds.listed_gold)
            rows.append(
                [ds.name, ds.about, len(ds.records), f"{pos} of {len(ds.listed)}", "-", "-"]
            )
        else:
            rows.append(
                [
                    ds.name,
                    ds.about,
                    len(ds.records),
                    len(ds.positives),
                    len(ds.ignored),
                    f"{info['judged']:,}",
                ]
            )
    lines += table(
        ["dataset", "what", "records", "gold duplicate pairs", "ignored", "pairs judged"],
        rows,
        "llrrrr",
    )
    lines += ["", *ctx["data_notes"], ""]
    lines += ["## Summary: F1 per dataset, overall precision/recall/F1, time", ""]
    header = ["method", *[d.name for d in datasets], "P", "R", "F1", "seconds", "cross-dataset"]
    rows = []
    for m in methods:
        total = ctx["overall"][m.name]
        rows.append(
            [
                m.name,
                *[fmt(scores[(d.name, m.name)].f1) for d in datasets],
                fmt(total.precision),
                fmt(total.recall),
                f"**{fmt(total.f1)}**",
                f"{m.seconds:.1f}",
                ctx["cross"][m.name],
            ]
        )
    lines += table(header, rows)
    lines += [
        "",
        "P, R, F1 overall: true/false positive and false negative pairs summed over the six "
        "datasets. seconds: wall time on the whole input "
        f"({ctx['n_records']:,} records; Beam: construction + FnApiRunner; datasketch: "
        "signatures + LSH + union-find). cross-dataset: clusters mixing datasets (their "
        "cross pairs are not scored).",
        "",
    ]
    lines += comparison_lines(ctx)
    lines += [
        "## Across sources",
        "",
        "Predicted pairs (and true ones among them) whose two records come from different "
        "sources of a dataset: poems from two editions, a COIG-CQIA ruozhiba instruction and a "
        "Tieba thread or post, a logiqa2-zh item and a COIG-CQIA logi_qa instruction.",
        "",
        *cross_source_table(datasets, methods),
        "",
    ]
    for ds in datasets:
        lines += [f"## {ds.name}", "", ds.about + ".", ""]
        rows = []
        for m in methods:
            s = scores[(ds.name, m.name)]
            rows.append(
                [m.name, s.predicted, s.tp, s.fp, s.fn, fmt(s.precision), fmt(s.recall), fmt(s.f1)]
            )
        lines += table(["method", "predicted pairs", "TP", "FP", "FN", "P", "R", "F1"], rows)
        lines.append("")
        if ds.name == "planted":
            header, rows = planted_curve(ds, methods)
            lines += [
                "Share of (base, edited copy) pairs merged, by declared edit rate and edit "
                "granularity (substitutions, insertions and deletions pooled; "
                "format/script = s2tw, width+punctuation, both):",
                "",
                *table(header, rows),
                "",
            ]
            header, rows = planted_by_op(ds, methods)
            lines += ["Same, by operation, at 10-20%:", "", *table(header, rows), ""]
        if ds.name == "csts":
            header, rows = csts_by_edit(ds, methods, ctx["reduce"])
            lines += [
                "Listed pairs merged, by label and by the character edit rate between the two "
                "reduced sentences (identical = equal after the reduction). The textual rule "
                f"makes only identical pairs duplicates below {MIN_EDIT_LEN} characters, and "
                "<=20% pairs duplicates from there on:",
                "",
                *table(header, rows),
                "",
            ]
            header, rows = csts_breakdown(ds, methods)
            lines += [
                "Listed pairs merged, by source and label (paraphrase = label 1; STS-B score "
                ">= 4); gold dup = the textual rule:",
                "",
                *table(header, rows),
                "",
            ]
    lines += ctx["decon_lines"]
    lines += ["", f"Load average at the end: {ctx['load_end']}.", ""]
    text = "\n".join(lines)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return text


def decon_report(dc: dict[str, Any], reduce: Reducer) -> tuple[list[str], dict[str, Any]]:
    records = dc["records"]
    contaminated = dc["contaminated"]
    headline = [r for r in records if r["group"].split(" ")[-1] in DECON_VARIANTS]
    planted_groups = [r for r in records if r["group"].startswith("planted")]
    negatives = [r for r in records if not r["group"].startswith(("planted", "CMMLU dev"))]
    evaluated = headline + negatives
    gold = {r["id"]: r["group"].startswith("planted") or r["id"] in contaminated for r in evaluated}
    rows, best = [], None
    info: dict[str, Any] = {"scores": {}, "n_natural": len(contaminated)}
    for n, overlap in dc["configs"]:
        hits = dc["flagged"][(n, overlap)]
        s = Score()
        for r in evaluated:
            hit, g = r["id"] in hits, gold[r["id"]]
            s.predicted += hit
            s.tp += hit and g
            s.fp += hit and not g
            s.fn += g and not hit
        right = sum(1 for r in headline if hits.get(r["id"], ("",))[0] == r["item"])
        planted_hit = sum(1 for r in headline if r["id"] in hits)
        natural_hit = sum(1 for rid in contaminated if rid in hits)
        rows.append(
            [
                f"ngram {n}, min_overlap {overlap}",
                fmt(s.precision),
                fmt(s.recall),
                fmt(s.f1),
                f"{planted_hit}/{len(headline)}",
                f"{right}/{planted_hit}" if planted_hit else "-",
                f"{natural_hit}/{len(contaminated)}",
                s.fp,
            ]
        )
        info["scores"][(n, overlap)] = (s, natural_hit, planted_hit, len(headline))
        if best is None or s.f1 > best[1]:
            best = ((n, overlap), s.f1)
    lines = [
        "## Decontamination",
        "",
        f"Indexes: `ReadCrawl` (adapters' REAL_DATA options) of CMMLU test "
        f"({sum(1 for o in dc['items'].values() if o['benchmark'] == 'cmmlu'):,} items), "
        f"GAOKAO-Bench ({sum(1 for o in dc['items'].values() if o['benchmark'] == 'gaokao'):,}) "
        f"and logiqa2-zh ({sum(1 for o in dc['items'].values() if o['benchmark'] == 'logiqa'):,})"
        f" → `WriteDedupIndex(kind: ngram, fields: [question])` for n = "
        f"{', '.join(map(str, DECON_NGRAMS))} ({dc['index_seconds']:.0f} s, one pipeline). "
        f"`Decontaminate(fields: [question, answer], max_items_per_ngram: 20)` on "
        f"{len(records):,} records, one stage per n at its loosest min_overlap (ngram "
        f"{DECON_POOL[0]} at {DECON_POOL[1]}, which also widens the pool judged below), all in "
        f"one pipeline ({dc['decon_seconds']:.0f} s); the stricter settings keep the records "
        "whose best item's share (recomputed unrounded with the stage's own index and hashing) "
        f"reaches them. A real ngram {DECON_CHECK[0]} / min_overlap {DECON_CHECK[1]} stage in "
        "the same pipeline rejected "
        + ("exactly the derived set." if dc["check"] else "**a different set** than derived.")
        + " Each stage loads its index once per worker.",
        "",
        f"Evaluated: {len(headline)} planted records "
        f"({len(headline) // len(DECON_VARIANTS)} items x "
        f"{len(DECON_VARIANTS)} variants: {', '.join(DECON_VARIANTS)}) and "
        f"{len(negatives):,} COIG-CQIA exam, kaoyan, law and logi_qa records. Gold for the latter "
        "by alignment (a record contains an item when >= 50% of the item's stem characters and "
        ">= 50% of all its characters lie in item lines found in the record within 20% "
        f"character edits), judged on the {dc['judged']:,} (record, item) pairs any stage "
        f"matched (including ngram {DECON_POOL[0]} at min_overlap {DECON_POOL[1]}): "
        f"**{len(contaminated)} of them really contain a benchmark "
        "item** and count as positives.",
        "",
        *table(
            [
                "config",
                "P",
                "R",
                "F1",
                "planted found",
                "right item",
                "natural found",
                "false positives",
            ],
            rows,
        ),
        "",
    ]
    # per variant recall
    header = ["config", *DECON_VARIANTS, *DECON_HARD]
    rows = []
    for n, overlap in dc["configs"]:
        hits = dc["flagged"][(n, overlap)]
        row = [f"ngram {n}, min_overlap {overlap}"]
        for v in DECON_VARIANTS + DECON_HARD:
            group = [r for r in planted_groups if r["group"] == f"planted {v}"]
            row.append(f"{sum(1 for r in group if r['id'] in hits)}/{len(group)}")
        rows.append(row)
    lines += ["Planted records found, by variant (stem only is not in P/R):", ""]
    lines += table(header, rows)
    lines.append("")
    # natural contamination by source and benchmark
    natural = collections.Counter()
    for rid, item_id in contaminated.items():
        group = rid.split(":")[0]
        if group == "dev":
            continue
        natural[(group, dc["items"][item_id]["benchmark"])] += 1
    rows = [[g, b, c] for (g, b), c in sorted(natural.items())]
    lines += ["Real contamination found in the COIG-CQIA negatives (by alignment):", ""]
    lines += table(["COIG-CQIA file", "benchmark", "records"], rows, "llr") if rows else ["none"]
    lines.append("")
    # false positives by group at each config
    groups = sorted({r["group"] for r in negatives})
    header = [
        "config",
        *[f"{g} (n={sum(1 for r in negatives if r['group'] == g)})" for g in groups],
    ]
    rows = []
    for n, overlap in dc["configs"]:
        hits = dc["flagged"][(n, overlap)]
        row = [f"ngram {n}, min_overlap {overlap}"]
        for g in groups:
            row.append(
                sum(
                    1
                    for r in negatives
                    if r["group"] == g and r["id"] in hits and r["id"] not in contaminated
                )
            )
        rows.append(row)
    lines += ["False positives (clean records flagged), by file:", ""]
    lines += table(header, rows)
    lines.append("")
    # examples of false positives at the recommended config
    examples = []
    if best:
        hits = dc["flagged"][best[0]]
        for r in negatives:
            if r["id"] in hits and r["id"] not in contaminated and len(examples) < 5:
                item = dc["items"][hits[r["id"]][0]]
                examples.append(
                    f"- {r['group']} (covers {hits[r['id']][1]:.0%} of {item['benchmark']} item): "
                    f"`{_short(r['question'])}` vs `{_short(item['question'])}`"
                )
    if examples:
        lines += [
            f"False positives at ngram {best[0][0]}, min_overlap {best[0][1]}:",
            "",
            *examples,
        ]
    # CMMLU dev side check
    dev = [r for r in records if r["group"] == "CMMLU dev"]
    dev_rows = []
    for n, overlap in dc["configs"]:
        hits = dc["flagged"][(n, overlap)]
        dev_rows.append(sum(1 for r in dev if r["id"] in hits))
    ov = cmmlu_overlap(dc["items"], reduce)
    dev_true = sum(1 for r in dev if r["id"] in contaminated)
    lines += [
        "",
        f"CMMLU dev against the test index: {ov['same_stem']} of {len(dev)} dev items have the "
        f"stem of a test item ({ov['same_stem_and_options']} also the same options, possibly "
        f"reordered: the same question); by alignment {dev_true} dev items contain a test item; "
        "Decontaminate flags "
        + ", ".join(f"{c} (n{n}/{o})" for (n, o), c in zip(dc["configs"], dev_rows, strict=True))
        + ". Dev items are not in the P/R above.",
    ]
    info["best"] = best
    info["natural"] = natural
    info["dev"] = (ov, dev_true, len(dev))
    return lines, info


def _short(text: str, n: int = 70) -> str:
    flat = text.replace("\n", " / ").replace("`", "'")
    return flat if len(flat) <= n else flat[:n] + "…"


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover
        return "n/a"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csts-pairs", type=int, default=2000, help="pairs sampled per source")
    parser.add_argument("--planted-per-kind", type=int, default=40, help="bases per planted kind")
    parser.add_argument("--work", type=Path, default=None, help="scratch directory")
    parser.add_argument("--quick", action="store_true", help="small smoke test, one config")
    parser.add_argument("--out", type=Path, default=None, help="markdown output path")
    parser.add_argument("--skip-decontam", action="store_true")
    args = parser.parse_args(argv)
    if not CORPORA.is_dir():
        print(
            f"real corpora not found at {CORPORA}: this benchmark needs ../shared/corpora "
            "(third-party data, not in the repository)",
            file=sys.stderr,
        )
        return 2
    logging.getLogger().setLevel(logging.ERROR)
    if args.quick:
        args.csts_pairs = min(args.csts_pairs, 300)
        args.planted_per_kind = min(args.planted_per_kind, 6)
    out_path = args.out if args.out or args.quick else RESULTS
    work = args.work or Path(tempfile.mkdtemp(prefix="bench_dedup_accuracy_"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    load_start = load_average()
    rng = random.Random(SEED)
    reduce = Reducer()

    log("building datasets")
    datasets = [
        load_poetry(CORPORA, reduce),
        load_medical(CORPORA, reduce),
        load_ruozhiba(CORPORA, reduce),
        load_logiqa(CORPORA, reduce),
        make_planted(CORPORA, args.planted_per_kind, rng, reduce),
        load_csts(CORPORA, args.csts_pairs, rng),
    ]
    texts: dict[str, str] = {}
    dataset_of: dict[str, str] = {}
    for ds in datasets:
        for rid, text in ds.records.items():
            texts[rid] = text
            dataset_of[rid] = ds.name
    records_path = work / "records.jsonl"
    with records_path.open("w", encoding="utf-8") as fh:
        for rid, text in texts.items():
            row = {"id": rid, "dataset": dataset_of[rid], "body": text}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    log(f"{len(texts):,} records in {len(datasets)} datasets")

    methods = all_methods(args.quick)
    sig_seconds: dict = {}
    for m in methods:
        if m.family in ("exact", "ours"):
            log(f"running {m.name}")
            run_beam_dedup(m, records_path, work)
            log(f"  {m.seconds:.1f} s, {len(m.labels):,} records in clusters")
    groups = collections.defaultdict(list)
    for m in methods:
        if m.family.startswith("ds-"):
            groups[(m.family, m.ngram)].append(m)
    for (family, n), group in groups.items():
        log(f"running datasketch {family} n={n}")
        run_datasketch(group, texts, reduce, sig_seconds)

    log("checking Beam against the library; other seeds")
    seed_configs = [] if args.quick else [(3, 0.7), (5, 0.8)]
    beam_same, seed_methods = seed_study(
        methods, texts, reduce, seed_configs, range(2, 7), range(2, 5)
    )

    log("judging gold pairs")
    gold_info = {ds.name: build_gold(ds, methods + seed_methods, reduce) for ds in datasets}
    seed_overall = {m.name: overall_f1(m, datasets) for m in seed_methods}
    scores: dict[tuple[str, str], Score] = {}
    overall: dict[str, Score] = {}
    for m in methods:
        total = Score()
        for ds in datasets:
            s = scores[(ds.name, m.name)] = score(ds, m)
            total.add(s)
        overall[m.name] = total
    cross = {m.name: cross_dataset_clusters(m, dataset_of) for m in methods}

    decon_lines: list[str] = []
    decon_info = None
    if not args.skip_decontam:
        dc = decontamination(CORPORA, work, rng, reduce)
        decon_lines, decon_info = decon_report(dc, reduce)

    ctx = {
        "methods": methods,
        "datasets": datasets,
        "scores": scores,
        "overall": overall,
        "cross": cross,
        "gold_info": gold_info,
        "n_records": len(texts),
        "decon_lines": decon_lines,
        "data_notes": data_notes(datasets, reduce),
        "reduce": reduce,
        "beam_same": beam_same,
        "seed_methods": seed_methods,
        "seed_overall": seed_overall,
        "load_end": load_average(),
    }
    ctx["findings"] = findings(ctx, decon_info)
    ctx["total"] = time.perf_counter() - started
    ctx["command"] = "python benchmarks/bench_dedup_accuracy.py" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:])
        if (argv if argv is not None else sys.argv[1:])
        else ""
    )
    ctx["machine"] = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load_start} at start; Python {platform.python_version()}"
    )
    text = write_report(ctx, out_path)
    if out_path is None:
        print(text)
    log(f"done in {ctx['total']:.0f} s" + (f"; wrote {out_path}" if out_path else ""))
    return 0


def data_notes(datasets: list[Dataset], reduce: Reducer) -> list[str]:
    """What the gold holds, per dataset, beyond the counts in the table."""
    out = []
    for ds in datasets:
        if ds.listed is not None:
            continue
        identical = sum(
            1 for a, b in ds.positives if reduce(ds.records[a]) == reduce(ds.records[b])
        )
        rates = sorted(
            edit_rate(reduce(ds.records[a]), reduce(ds.records[b]))
            for a, b in ds.positives
            if (a, b) not in ds.declared and reduce(ds.records[a]) != reduce(ds.records[b])
        )
        line = (
            f"- {ds.name}: {identical} of the {len(ds.positives)} gold pairs are identical after "
        )
        line += "the reduction (what exact dedup can find)"
        if ds.declared:
            declared = sum(1 for p in ds.positives if p in ds.declared)
            line += (
                f"; {declared} are planted (base, copy) pairs and {len(ds.positives) - declared} "
                "join two bases that are themselves near duplicates"
            )
        elif rates:
            line += (
                f"; the {len(rates)} others differ by a median {rates[len(rates) // 2]:.1%} of "
                "their characters"
            )
        if ds.source_of:
            cross = [p for p in ds.positives if ds.source_of[p[0]] != ds.source_of[p[1]]]
            line += f"; {len(cross)} gold pairs join two sources"
        out.append(line + ".")
    return out


CROSS = {
    "poetry": "across editions",
    "ruozhiba": "COIG-CQIA with Tieba",
    "logiqa": "logiqa2-zh with COIG-CQIA (negative control)",
}


def cross_source(ds: Dataset, method: Method) -> tuple[int, int]:
    """Predicted pairs whose records come from two sources of the dataset, and the true ones."""
    predicted = tp = 0
    for members in clusters_in(method, ds.records).values():
        for a, b in itertools.combinations(sorted(members), 2):
            if ds.source_of[a] != ds.source_of[b]:
                predicted += 1
                tp += (a, b) in ds.positives
    return predicted, tp


def cross_source_table(datasets: list[Dataset], methods: list[Method]) -> list[str]:
    chosen = [d for d in datasets if d.name in CROSS]
    header = ["method"]
    for d in chosen:
        gold = sum(1 for p in d.positives if d.source_of[p[0]] != d.source_of[p[1]])
        header.append(f"{d.name}: {CROSS[d.name]} (gold {gold}): predicted / true")
    rows = []
    for m in methods:
        row = [m.name]
        for d in chosen:
            predicted, tp = cross_source(d, m)
            row.append(f"{predicted} / {tp}")
        rows.append(row)
    return table(header, rows)


def overall_f1(method: Method, datasets: list[Dataset]) -> Score:
    total = Score()
    for ds in datasets:
        total.add(score(ds, method))
    return total


def comparison_lines(ctx: dict[str, Any]) -> list[str]:
    """Ours against datasketch, config by config, and the seed study."""
    methods, overall = ctx["methods"], ctx["overall"]
    by = {(m.family, m.ngram, m.threshold, m.verify): m for m in methods}
    rows = []
    for n in sorted({m.ngram for m in methods if m.family == "ours"}):
        for t in sorted({m.threshold for m in methods if m.family == "ours"}):
            off, on = by[("ours", n, t, False)], by[("ours", n, t, True)]
            red, raw = by[("ds-reduced", n, t, False)], by[("ds-raw", n, t, False)]
            f = {k: overall[m.name].f1 for k, m in (("off", off), ("on", on), ("red", red))}
            f["raw"] = overall[raw.name].f1
            rows.append(
                [
                    f"n={n} t={t}",
                    red.extra.get("bands x rows", ""),
                    fmt(f["off"]),
                    fmt(f["on"]),
                    fmt(f["red"]),
                    fmt(f["raw"]),
                    f"{f['off'] - f['red']:+.3f}",
                    f"{f['off'] - f['raw']:+.3f}",
                    "yes" if ctx["beam_same"].get(off.name) else "**no**",
                ]
            )
    lines = [
        "## Ours against datasketch",
        "",
        *table(
            [
                "config",
                "bands x rows",
                "ours verify off",
                "ours verify on",
                "datasketch reduced",
                "datasketch raw",
                "ours off - reduced",
                "ours off - raw",
                "Beam = library",
            ],
            rows,
            "llrrrrrrl",
        ),
        "",
        "Overall F1. Both libraries choose the same bands and rows for a threshold (the weighted "
        "false positive/negative optimum; datasketch's `_optimal_param` gives the same pairs) and "
        "see the same reduced text with the same short-text rule in the reduced column, so the "
        "two differ only by their hash functions: an F1 difference between them is MinHash "
        "sampling noise, not normalization or banding. Beam = library: the clusters of the Beam "
        "run (LSH buckets → star edges → large-star/small-star components in Beam) are exactly "
        "the connected components of a union-find over the LSH buckets computed in-process "
        "from `beam_cqia.text.minhash` with the same seed.",
        "",
    ]
    if ctx["seed_methods"]:
        groups: dict[str, list[float]] = collections.defaultdict(list)
        for m in ctx["seed_methods"]:
            groups[m.name.rsplit(" seed=", 1)[0]].append(ctx["seed_overall"][m.name].f1)
        for m in methods:
            for key in list(groups):
                n, t = key.split(" n=")[1].split(" t=")
                same_config = m.ngram == int(n) and m.threshold == float(t) and not m.verify
                if same_config and (
                    (m.family == "ours" and key.startswith("ours"))
                    or (m.family == "ds-reduced" and key.startswith("datasketch"))
                ):
                    groups[key].insert(0, overall[m.name].f1)  # seed 1: the main run
        rows = []
        for key, values in groups.items():
            mean = sum(values) / len(values)
            sd = (sum((v - mean) ** 2 for v in values) / len(values)) ** 0.5
            rows.append(
                [
                    key,
                    len(values),
                    fmt(mean),
                    fmt(sd),
                    f"{min(values):.3f}-{max(values):.3f}",
                    " ".join(f"{v:.3f}" for v in values),
                ]
            )
        lines += [
            "Seed to seed (overall F1; seed 1 is the main run; ours from the library without "
            "Beam, shown above to give the same clusters; every new pair judged by the same "
            "rule):",
            "",
            *table(["method", "seeds", "mean", "sd", "range", "values"], rows, "lrrrll"),
            "",
        ]
    return lines


def findings(ctx: dict[str, Any], decon: dict[str, Any] | None) -> list[str]:
    """The conclusions, with the numbers of this run."""
    methods, overall, scores = ctx["methods"], ctx["overall"], ctx["scores"]
    datasets = {d.name: d for d in ctx["datasets"]}
    index = {(m.family, m.ngram, m.threshold, m.verify): m for m in methods}
    needed = [("ours", n, t, v) for n in NGRAMS for t in THRESHOLDS for v in (False, True)]
    if any(k not in index for k in needed):
        return ["## Findings", "", "(a full run is needed for the findings)", ""]

    def get(family: str, n: int, t: float, verify: bool = False) -> Method:
        return index[(family, n, t, verify)]

    def f1(m: Method) -> str:
        return fmt(overall[m.name].f1)

    rec, best, default = get("ours", 3, 0.7, True), get("ours", 3, 0.7), get("ours", 5, 0.8)
    planted = datasets["planted"]
    header, rows = planted_curve(planted, [rec, default, get("ds-raw", 3, 0.7)])
    col = {h.split(" (n=")[0]: i for i, h in enumerate(header)}
    medians = {
        name: sorted(len(ctx["reduce"](t)) for t in d.records.values())[len(d.records) // 2]
        for name, d in datasets.items()
    }
    csts = datasets["csts"]
    lcqmc_non = [(a, b) for a, b, g in csts.listed or [] if g == "LCQMC non-paraphrase"]
    far = [
        (a, b)
        for a, b, g in csts.listed or []
        if g.endswith(" paraphrase")
        and csts_bucket(ctx["reduce"](csts.records[a]), ctx["reduce"](csts.records[b])) == ">40%"
    ]
    para = [(a, b) for a, b, g in csts.listed or [] if g.endswith(" paraphrase")]

    def merged(m: Method, pairs: list[Pair]) -> int:
        return sum(1 for a, b in pairs if same_cluster(m, a, b))

    deltas = [
        overall[get("ours", n, t).name].f1 - overall[get("ds-reduced", n, t).name].f1
        for n in NGRAMS
        for t in THRESHOLDS
    ]
    raw_gain = [
        overall[get("ours", n, t).name].f1 - overall[get("ds-raw", n, t).name].f1
        for n in NGRAMS
        for t in THRESHOLDS
    ]
    med = {v: scores[("medical", get("ours", 3, 0.7, v).name)] for v in (False, True)}
    lines = [
        "## Findings and recommendations",
        "",
        "Near duplicates (records here: median reduced length "
        + ", ".join(f"{k} {v}" for k, v in medians.items())
        + " characters):",
        "",
        f"- **Recommended defaults for short Chinese records: ngram 3, threshold 0.7, verify "
        f"on** (overall F1 {f1(rec)}, P {fmt(overall[rec.name].precision)}, R "
        f"{fmt(overall[rec.name].recall)}), against {f1(default)} (P "
        f"{fmt(overall[default.name].precision)}, R {fmt(overall[default.name].recall)}) for "
        f"the current defaults ngram 5, threshold 0.8, verify off. The best F1 of all is "
        f"{best.name} ({f1(best)}), at a lower precision "
        f"({fmt(overall[best.name].precision)}).",
        "- ngram: F1 falls as n grows at every threshold and verify setting (t=0.7, verify on: "
        + ", ".join(f"n={n} {f1(get('ours', n, 0.7, True))}" for n in NGRAMS)
        + "). One changed character spoils n shingles, and natural variation is scattered "
        "single characters: variant characters across poem editions (poetry recall "
        + ", ".join(
            f"n={n} {fmt(scores[('poetry', get('ours', n, 0.7, True).name)].recall)}"
            for n in NGRAMS
        )
        + f"), typos; planted 5% single-character edits are merged "
        f"{rows[0][col['5% char']]} of the time by the recommendation and "
        f"{rows[1][col['5% char']]} by the current defaults.",
        "- threshold: 0.7 beats 0.8 for every n ("
        + ", ".join(
            f"n={n}: {f1(get('ours', n, 0.7))} vs {f1(get('ours', n, 0.8))}" for n in NGRAMS
        )
        + ", verify off). With the 20% edit-rate declaration, 0.8 leaves most 10-20% edits "
        "unmerged; the precision lost at 0.7 is almost all in the very short csts sentences.",
        f"- verify: drops LSH candidates below the threshold. On the medical rows (long, "
        f"boilerplate-heavy answers) it removes all {med[False].fp} false pairs of ngram 3 / "
        f"0.7 ({med[True].fp} left); overall precision "
        f"{fmt(overall[best.name].precision)} → {fmt(overall[rec.name].precision)} for "
        f"{fmt(overall[best.name].f1 - overall[rec.name].f1)} F1, at about the same run time "
        f"({best.seconds:.0f} s vs {rec.seconds:.0f} s here).",
        f"- Short texts (< {MIN_EDIT_LEN} characters) are where any character n-gram method "
        "is weakest: it merges particle-level variants of 6-15 character questions (吗/么, "
        "a trailing 啊/呀, 怎么说/怎么写). The recommendation merges "
        f"{merged(rec, lcqmc_non)} of {len(lcqmc_non)} LCQMC non-paraphrase pairs (current "
        f"defaults {merged(default, lcqmc_non)}). Textually different paraphrases are not "
        f"merged: of the {len(far)} paraphrase pairs (all sources) with > 40% of characters "
        f"edited, the recommendation merges {merged(rec, far)} (all {len(para)} paraphrase "
        f"pairs: {merged(rec, para)} merged, mostly identical or particle-level ones).",
        f"- Ours against datasketch on the same reduced text: within "
        f"{max(abs(d) for d in deltas):.3f} F1 for every config (largest gap "
        f"{min(deltas):+.3f}); over seeds the means are equal within one standard deviation "
        "(table in 'Ours against datasketch'), and the Beam clusters equal the library's "
        "union-find exactly, so the gaps are MinHash sampling noise. Against datasketch out of "
        f"the box (raw text): {min(raw_gain):+.3f} to {max(raw_gain):+.3f} F1, from the "
        "reduction: raw n-grams see width, punctuation and script (s2tw copies merged "
        f"{rows[2][col['format/script']]} by raw n=3 t=0.7, "
        f"{rows[0][col['format/script']]} by ours).",
        f"- Exact dedup (the floor, {f1(index[('exact', 0, 0.0, False)])}) finds only pairs "
        "identical after the reduction. Negative control: no method merges a logiqa2-zh item "
        "with a COIG-CQIA logi_qa instruction.",
    ]
    if decon:
        sc = decon["scores"]
        (bn, bo), _ = decon["best"]
        bs = sc[(bn, bo)][0]
        ds8 = sc.get((8, 0.5))
        nat = decon["natural"]
        total = sum(nat.values())
        ov, dev_true, n_dev = decon["dev"]
        lines += [
            "",
            "Decontamination:",
            "",
            f"- **Recommended: ngram {bn}, min_overlap {bo}** (F1 {fmt(bs.f1)}, P "
            f"{fmt(bs.precision)}, R {fmt(bs.recall)}; {bs.fp} false positives)"
            + (
                f", against ngram 8 / 0.5, the current defaults (F1 {fmt(ds8[0].f1)}, "
                f"{ds8[0].fp} false positives, {ds8[1]} of {decon['n_natural']} real "
                f"contaminations found vs {sc[(bn, bo)][1]})."
                if ds8 and (bn, bo) != (8, 0.5)
                else "."
            )
            + " min_overlap 0.3 flags many clean exam records that share phrasing or options "
            "with an item; 0.7 misses inline options, stem-only copies and copies with "
            "reworded stems.",
            f"- COIG-CQIA itself is contaminated: {total} of its exam, kaoyan, law and logi_qa "
            "records contain a CMMLU test or GAOKAO-Bench item ("
            + ", ".join(f"{g} × {b}: {c}" for (g, b), c in sorted(nat.items()))
            + "); none contains a logiqa2-zh item, as the corpora README says.",
            f"- CMMLU dev and test share questions: {ov['same_stem']} of {n_dev} dev items "
            f"have a test item's stem ({ov['same_stem_and_options']} with the same options); "
            f"{dev_true} dev items contain a test item by the alignment rule.",
            "- What containment cannot see: short items whose n-grams are mostly their options "
            "(false positives where a different question shares the options) and long "
            "material that happens to cover a short item's phrases; see the examples.",
        ]
    return [*lines, ""]


if __name__ == "__main__":
    sys.exit(main())
