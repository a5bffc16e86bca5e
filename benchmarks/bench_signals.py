"""Rule-signal speed on real Chinese text: each rule of beam_cqia.text.signals alone, compute()
with all rules, the sensitive-word matcher against alternatives, and the n-gram pass against a
plain dict version; plus how often the phrase signals fire, per source.

    python benchmarks/bench_signals.py [--repeats 5] [--sample 2000]

Corpus: the ``output`` texts of the real COIG-CQIA files in ../shared/corpora/coig-cqia (never
copied into the repository); "typical" texts are those of 300-3,000 characters (``--sample`` of
them, evenly spaced). Without that folder: snippets recombined from the demo corpus. Lexicon: the
ChineseWebText sensitive-word list (../shared/corpora/chinesewebtext/sensitive_words/dict.txt)
when present, else 1,500 character bigrams and trigrams of the corpus (said in the output).

Timing: CPU time of this process (other load on a shared machine slows nothing down but our own
work), each case repeated until a measurement lasts >= 0.2 s, medians of ``--repeats`` rounds with
the order of the cases rotated every round. MB = 10^6 bytes of UTF-8 of the texts. Results go to
``results/signals_speed.md`` and are printed.
"""

import argparse
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import regex

from beam_cqia.text import signals

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results" / "signals_speed.md"
TARGET_MBS = 5.0


class Output(NamedTuple):
    """A CqiaRecord-shaped row: what compute() reads."""

    instruction: str
    input: str
    output: str


def load_corpus() -> tuple[list[tuple[str, Output]], str]:
    """(source folder, record) pairs and a description of where they come from."""
    root = CORPORA / "coig-cqia"
    if root.is_dir():
        rows = []
        files = sorted(root.rglob("*.jsonl"))
        for file in files:
            for line in file.read_bytes().split(b"\n"):  # xhs.jsonl has U+2028 in strings
                if line.strip():
                    rec = json.loads(line)
                    folder = file.relative_to(root).parts[0]
                    rows.append((folder, Output(rec["instruction"], rec["input"], rec["output"])))
        return rows, f"COIG-CQIA records ({len(files)} files in {root})"
    from beam_cqia.spec import demo_data_dir

    sentences: list[str] = []
    for file in sorted(Path(demo_data_dir()).rglob("*.jsonl")):
        for line in file.read_bytes().split(b"\n"):
            try:
                value = json.loads(line)
            except ValueError:
                continue
            stack = [value]
            while stack:
                item = stack.pop()
                if isinstance(item, str) and len(item) >= 8:
                    sentences.extend(s + "。" for s in re.split(r"[。！？]", item) if len(s) >= 8)
                elif isinstance(item, dict):
                    stack.extend(item.values())
                elif isinstance(item, list):
                    stack.extend(item)
    rng = random.Random(0)
    rows = [
        ("demo", Output("", "", "\n".join(rng.choices(sentences, k=rng.randint(2, 30)))))
        for _ in range(6000)
    ]
    return rows, "snippets recombined from the demo corpus (../shared/corpora not found)"


def load_lexicon_source(texts: list[str]) -> tuple[object, str]:
    """The sensitive lexicon's source and a description."""
    path = CORPORA / "chinesewebtext" / "sensitive_words" / "dict.txt"
    if path.is_file():
        return path, f"ChineseWebText sensitive-word list ({path})"
    grams: Counter[str] = Counter()
    for text in texts[:2000]:
        for n in (2, 3):
            grams.update(text[i : i + n] for i in range(0, len(text) - n, 7))
    words = [g for g, _ in grams.most_common(3000) if regex.fullmatch(r"\p{Han}+", g)][:1500]
    cats = ("甲", "乙", "丙")
    text = "".join(f"{w}\t{cats[i % 3]}\n" for i, w in enumerate(words))
    return text, "1,500 frequent character bigrams/trigrams of the corpus (real list not found)"


def measure(
    cases: dict[str, Callable[[], object]], repeats: int, min_seconds: float = 0.2
) -> dict[str, float]:
    """Median CPU seconds of one call of each case."""
    reps: dict[str, int] = {}
    for name, run in cases.items():  # warm-up, and enough calls per measurement
        start = time.process_time()
        run()
        reps[name] = max(1, math.ceil(min_seconds / max(time.process_time() - start, 1e-6)))
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:  # rotate: background load hits all alike
            start = time.process_time()
            for _ in range(reps[name]):
                cases[name]()
            cpu[name].append((time.process_time() - start) / reps[name])
    return {name: statistics.median(cpu[name]) for name in names}


def over(fn: Callable[[str], object], texts: list[str]) -> Callable[[], None]:
    def run() -> None:
        for text in texts:
            fn(text)

    return run


def versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    found = {}
    for package in ("regex", "ahocorasick-rs", "pyahocorasick", "opencc"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "absent"
    return (
        f"{model}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; "
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        + ", ".join(f"{k} {v}" for k, v in found.items())
    )


def reference_ngrams(text: str) -> tuple[dict[int, float], dict[int, float]]:
    """The n-gram fractions with dicts and sets (the definition, for the speed comparison)."""
    visible = "".join(text.split())
    size = len(visible)
    tops, dups = {}, {}
    for n in (*signals.TOP_NGRAM_NS, *signals.DUP_NGRAM_NS):
        occ: dict[str, list[int]] = defaultdict(list)
        for i in range(size - n + 1):
            occ[visible[i : i + n]].append(i)
        if n in signals.TOP_NGRAM_NS:
            most = max((len(v) for v in occ.values()), default=0)
            best = max(
                (len({p + k for p in v for k in range(n)}) for v in occ.values() if len(v) == most),
                default=0,
            )
            tops[n] = best / size if size else 0.0
        else:
            starts = [p for v in occ.values() if len(v) > 1 for p in v]
            dups[n] = len({p + k for p in starts for k in range(n)}) / size if size else 0.0
    return tops, dups


def matchers(source: object) -> dict[str, Callable[[str], object]]:
    """The sensitive-word matcher and alternatives on the same words."""
    lexicon = signals.load_lexicon(source)  # type: ignore[arg-type]
    words = sorted(lexicon.words, key=len, reverse=True)
    import ahocorasick_rs

    raw = ahocorasick_rs.AhoCorasick(words, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
    out: dict[str, Callable[[str], object]] = {
        "ours: Lexicon.count (ahocorasick_rs, case fold, ASCII word boundaries)": lexicon.count,
        "ahocorasick_rs leftmost-longest, bare": raw.find_matches_as_indexes,
    }
    try:
        import ahocorasick

        automaton = ahocorasick.Automaton()
        for word in words:
            automaton.add_word(word, len(word))
        automaton.make_automaton()
        out["pyahocorasick iter_long, bare"] = lambda t: list(automaton.iter_long(t))
    except ImportError:
        pass
    alternation = "|".join(map(re.escape, words))
    out["re: one alternation, longest first"] = re.compile(alternation).findall
    out["regex: one alternation, longest first"] = regex.compile(alternation).findall
    return out


def table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("-:" if a == "r" else "-" for a in align) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sample", type=int, default=2000, help="typical texts per measurement")
    args = parser.parse_args()

    header = versions()
    corpus, corpus_desc = load_corpus()
    outputs = [rec.output for _, rec in corpus]
    typical_all = [t for t in outputs if 300 <= len(t) <= 3000]
    step = max(1, len(typical_all) // args.sample)
    typical = typical_all[::step][: args.sample]

    def megabytes(texts: list[str]) -> float:
        return sum(len(t.encode("utf-8")) for t in texts) / 1e6

    mb_typ, mb_all = megabytes(typical), megabytes(outputs)
    print(header, file=sys.stderr)
    print(f"{corpus_desc}: {len(outputs):,} texts, {mb_all:.1f} MB", file=sys.stderr)

    # --- context ------------------------------------------------------------------------------
    lex_source, lex_desc = load_lexicon_source(outputs)
    start = time.process_time()
    trad = signals.traditional_chars()
    trad_seconds = time.process_time() - start
    start = time.process_time()
    lexicon = signals.load_lexicon(lex_source)  # type: ignore[arg-type]
    lex_seconds = time.process_time() - start
    context = signals.SignalContext(trad_chars=trad, sensitive=lexicon)

    # --- each rule alone, on typical texts ------------------------------------------------------
    content_rules = [r for r in signals.RULES if r != "chars"]
    cases = {
        rule: over(lambda t, r=rule: signals.compute_text(t, [r], context), typical)
        for rule in content_rules
    }
    records_typ = [Output("问题", "", t) for t in typical]
    cases["chars"] = lambda: [signals.compute(r, ["chars"]) for r in records_typ]
    print(f"each rule alone on {len(typical):,} typical texts ...", file=sys.stderr)
    per_rule = measure(cases, args.repeats)

    # --- compute() with all rules -------------------------------------------------------------
    all_records = [rec for _, rec in corpus]
    compute_cases = {
        ("typical", "all rules"): lambda: [
            signals.compute(r, signals.RULES, context) for r in records_typ
        ],
        ("typical", "DEFAULT_RULES"): lambda: [
            signals.compute(r, signals.DEFAULT_RULES) for r in records_typ
        ],
        ("whole corpus", "all rules"): lambda: [
            signals.compute(r, signals.RULES, context) for r in all_records
        ],
        ("whole corpus", "DEFAULT_RULES"): lambda: [
            signals.compute(r, signals.DEFAULT_RULES) for r in all_records
        ],
    }
    print("compute() ...", file=sys.stderr)
    compute_secs = measure(
        {" / ".join(k): v for k, v in compute_cases.items()}, max(1, args.repeats // 2)
    )

    # --- lexicon matchers -----------------------------------------------------------------------
    print("lexicon matchers ...", file=sys.stderr)
    lex_cases = matchers(lex_source)
    lex_secs = measure({k: over(fn, typical) for k, fn in lex_cases.items()}, args.repeats)
    lex_matches = sum(lexicon.count(t)[0] for t in typical)

    # --- n-gram pass against the dict version ---------------------------------------------------
    small = typical[: max(50, len(typical) // 10)]
    print(f"n-gram pass on {len(small)} texts ...", file=sys.stderr)
    ngram_secs = measure(
        {
            "ours: ngram_repetition (numpy, exact)": over(signals.ngram_repetition, small),
            "dicts and sets, same definition": over(reference_ngrams, small),
        },
        max(1, args.repeats // 2),
    )

    # --- how often the phrase signals fire ------------------------------------------------------
    by_source: dict[str, list[Output]] = defaultdict(list)
    for folder, rec in corpus:
        by_source[folder].append(rec)
    web = CORPORA / "chinesewebtext" / "2021-43" / "cleared1.jsonl"
    if web.is_file():
        by_source["(web) ChineseWebText raw CC docs"] = [
            Output("", "", json.loads(line)["raw_content"])
            for line in web.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    rate_rows = []
    for folder, recs in by_source.items():
        texts = [r.output for r in recs]
        fired = {
            name: sum(fn(t) > 0 for t in texts) / len(texts) * 1000
            for name, fn in (
                ("boilerplate", signals.boilerplate_hits),
                ("ad", signals.ad_hits),
                ("assistant", signals.assistant_hits),
            )
        }
        rate_rows.append(
            [
                folder,
                f"{len(texts):,}",
                *(f"{fired[k]:.1f}" for k in ("boilerplate", "ad", "assistant")),
                f"{statistics.mean(signals.truncated(t) for t in texts):.3f}",
                f"{statistics.mean(signals.sentence_end_ratio(t) for t in texts):.3f}",
                f"{statistics.mean(signals.trad_ratio(t, trad) for t in texts):.3f}",
            ]
        )

    # --- report -----------------------------------------------------------------------------------
    lines = [
        "# Rule signals: speed per core",
        "",
        f"`python benchmarks/bench_signals.py --repeats {args.repeats} --sample {args.sample}`. "
        f"{header}.",
        "",
        f"Corpus: {corpus_desc}: {len(outputs):,} `output` texts, {mb_all:.1f} MB. Typical texts: "
        f"{len(typical):,} of the {len(typical_all):,} with 300-3,000 characters, evenly spaced "
        f"({mb_typ:.2f} MB, mean {mb_typ * 1e6 / len(typical):,.0f} bytes). CPU time, median of "
        "the rounds; MB = 10^6 bytes of UTF-8.",
        "",
        f"Context, built once per process: `traditional_chars()` (OpenCC t2s) "
        f"{trad_seconds:.2f} s, {len(trad):,} characters; `load_lexicon` {lex_seconds * 1000:.0f} "
        f"ms, {len(lexicon):,} words in {len(lexicon.categories)} categories ({lex_desc}).",
        "",
        "## Each rule alone",
        "",
        f"`compute_text(text, [rule], context)` on the typical texts; target {TARGET_MBS:g} MB/s.",
        "",
    ]
    rows = []
    for rule, secs in sorted(per_rule.items(), key=lambda kv: kv[1]):
        speed = mb_typ / secs
        rows.append(
            [
                f"`{rule}`",
                f"{speed:.1f}",
                f"{len(typical) / secs:,.0f}",
                f"{secs / len(typical) * 1e6:.0f}",
                "yes" if speed >= TARGET_MBS else "**no**",
            ]
        )
    lines += table(["rule", "MB/s", "docs/s", "µs/doc", f">= {TARGET_MBS:g}"], rows, "lrrrr")
    lines += [
        "",
        "`top_ngram_frac` and `dup_ngram_frac` share one pass when asked for together.",
        "",
        "## compute() on records",
        "",
    ]
    rows = []
    for (texts_name, rules_name), _ in compute_cases.items():
        secs = compute_secs[f"{texts_name} / {rules_name}"]
        n, mb = (len(typical), mb_typ) if texts_name == "typical" else (len(outputs), mb_all)
        rows.append(
            [
                texts_name,
                rules_name,
                f"{mb / secs:.2f}",
                f"{n / secs:,.0f}",
                f"{secs / n * 1e6:,.0f}",
            ]
        )
    lines += table(["texts", "rules", "MB/s", "docs/s", "µs/doc"], rows, "llrrr")
    n_signals = len(signals.compute(records_typ[0], signals.RULES, context))
    lines += [
        "",
        f"All rules = {len(signals.RULES)} rules, {n_signals} signals per record. MB counts "
        "the `output` texts only (the fields `chars` measures are "
        "not timed separately).",
        "",
        f"## Sensitive-word matching ({len(lexicon):,} words, {lex_matches:,} matches in the "
        "typical texts)",
        "",
    ]
    fastest = min(lex_secs.values())
    rows = [
        [name, f"{mb_typ / secs:.1f}", f"{fastest / secs:.3f}"]
        for name, secs in sorted(lex_secs.items(), key=lambda kv: kv[1])
    ]
    lines += table(["matcher", "MB/s", "ratio"], rows, "lrr")
    if "pyahocorasick iter_long, bare" not in lex_secs:
        lines += ["", "pyahocorasick is not installed: `pip install pyahocorasick` to compare."]
    lines += ["", f"## n-gram repetition ({len(small)} typical texts, n = 2..10)", ""]
    mb_small = megabytes(small)
    rows = [
        [name, f"{mb_small / secs:.2f}", f"{secs / len(small) * 1e6:,.0f}"]
        for name, secs in ngram_secs.items()
    ]
    lines += table(["implementation", "MB/s", "µs/doc"], rows, "lrr")
    lines += [
        "",
        "## How often the phrase signals fire",
        "",
        "Docs with at least one hit per 1,000 docs, mean `truncated`, `sentence_end_ratio` and "
        "`trad_ratio`. COIG-CQIA outputs were cleaned and reviewed, so hits there are either "
        "phrases the release kept (xhs self-promotion, LLM answers in human_value and ruozhiba) or "
        "false positives worth a look; the raw web documents show what the signals are for.",
        "",
    ]
    lines += table(
        [
            "source",
            "docs",
            "boilerplate ‰",
            "ad ‰",
            "assistant ‰",
            "truncated",
            "sentence end",
            "trad",
        ],
        rate_rows,
        "lrrrrrrr",
    )
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.2f}."]
    text = "\n".join(lines) + "\n"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
