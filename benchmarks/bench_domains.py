"""Domain placement (TagSchema ``domains``) on real data: the fastText domain classifier and the
keyword/subject mapper of ``beam_cqia.text.domains``.

    python benchmarks/bench_domains.py

Data from ../shared/corpora (never copied into the repository):

1. Model: every COIG-CQIA file (39), label = first domain (``beam-cqia train-domain``'s default),
   domains with fewer than 50 records dropped, 20% held out by a hash of the text; held-out
   accuracy overall and per domain, the most frequent confusions. Trained twice, with all
   records and without the 通用 records (what a model for TagSchema's fill mode would use: 通用
   is the placeholder it is asked to replace).
2. Mapper, subject tables: every CMMLU subject (67, English id and Chinese name) and GAOKAO-Bench
   subject maps to a domain; the share of COIG-CQIA exam records (coig exam, kaoyan, law GEE)
   whose own domain value the tables map to itself (the vocabulary is COIG-CQIA's).
3. Mapper, keyword rules (what places records without a subject): on COIG-CQIA exam records
   against their domain, and on CMMLU test questions and GAOKAO-Bench questions against the
   domain their subject maps to (subjects whose domain has keyword rules): share placed, precision
   of what was placed, accuracy (placed and right, over all). Also how often the rules place
   COIG-CQIA records whose domain is not a subject at all (zhihu 通用, xhs, douban...), i.e. what
   ``mode: add`` would add there.
4. Model on exam questions: the model of 1 (all records) on GAOKAO-Bench questions whose subject
   domain is one of its labels (cross-dataset).

Results go to ``results/domains.md`` and are printed.
"""

import csv
import json
import platform
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS = Path(__file__).resolve().parent / "results" / "domains.md"
MIN_EXAMPLES = 50
EXAM_FILES = ("coig_exam_sampled_clean_v3", "kaoyan", "law_gee_exam_clean_v2")

from beam_cqia.models import domain as domain_model  # noqa: E402
from beam_cqia.sources import gaokao  # noqa: E402
from beam_cqia.sources.cmmlu import SUBJECTS as CMMLU_SUBJECTS  # noqa: E402
from beam_cqia.text.domains import DomainMapper  # noqa: E402


def _cqia_files() -> list[Path]:
    return sorted((CORPORA / "coig-cqia").rglob("*.jsonl"))


def _cqia_records(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as handle:  # iterates on \n only (xhs has U+2028)
        for line in handle:
            if line.strip():
                yield json.loads(line)


def _cmmlu() -> Iterator[tuple[str, str]]:
    """(subject id, question text with options) of the CMMLU test split."""
    for path in sorted((CORPORA / "cmmlu" / "test").glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                options = "\n".join(f"{k}. {row.get(k, '')}" for k in "ABCD")
                yield path.stem, f"{row.get('Question', '')}\n{options}"


def _gaokao() -> Iterator[tuple[str, str]]:
    """(Chinese subject, question + analysis) of every GAOKAO-Bench question."""
    for path in sorted((CORPORA / "gaokao-bench").rglob("*.json")):
        _, subject = gaokao.task_of(str(path))
        for q in json.loads(path.read_text(encoding="utf-8"))["example"]:
            yield subject, f"{q.get('question', '')}\n{q.get('analysis', '')}"


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("-" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _pct(n: int, d: int) -> str:
    return f"{100 * n / d:.1f}%" if d else "-"


def bench_model(out: list[str], tmp: Path) -> domain_model.DomainModel:
    """Part 1; returns the model trained on all records."""
    examples, files = domain_model.read_labelled([str(p) for p in _cqia_files()])
    counts = Counter(d[0] for _, d in examples)
    kept = [(t, d) for t, d in examples if counts[d[0]] >= MIN_EXAMPLES]
    out += [
        "## 1. fastText domain classifier on COIG-CQIA (held-out 20%)",
        "",
        f"{len(examples):,} records from {len(files)} files; {len(kept):,} in the "
        f"{sum(1 for n in counts.values() if n >= MIN_EXAMPLES)} first-domains with at least "
        f"{MIN_EXAMPLES} records. Label = first domain; character tokens + bigrams, dim 16, "
        "epoch 10 (the quality classifier's) and 25 (train-domain's default).",
        "",
    ]
    models = {}
    summary = []
    for name, data in (("all", kept), ("without 通用", [e for e in kept if e[1][0] != "通用"])):
        for epoch in (10, 25):
            report = domain_model.train_and_evaluate(
                data, tmp / f"domain-{len(models)}.bin", holdout=0.2, epoch=epoch
            )
            models[(name, epoch)] = report
            summary.append(
                [
                    name,
                    epoch,
                    f"{report.n_train:,}",
                    f"{report.n_test:,}",
                    f"{report.train_seconds:.1f}",
                    f"{report.accuracy:.3f}",
                ]
            )
    out += _table(["records", "epoch", "train", "held out", "train s", "accuracy"], summary)
    best = models[("without 通用", 25)]
    out += ["", "Per domain (without 通用, epoch 25):", ""]
    rows = [
        [d, seen, f"{right / seen:.3f}"]
        for d, (seen, right) in sorted(best.per_domain.items(), key=lambda kv: -kv[1][0])
    ]
    out += _table(["domain (first)", "held out", "accuracy"], rows)
    out += ["", "Most frequent confusions (gold -> predicted):", ""]
    out += _table(
        ["gold", "predicted", "n"], [[g, p, n] for (g, p), n in best.confusions.most_common(10)]
    )
    out.append("")
    return models[("all", 25)].model


def bench_tables(out: list[str], mapper: DomainMapper) -> None:
    """Part 2."""
    names = [*CMMLU_SUBJECTS, *CMMLU_SUBJECTS.values(), *gaokao.SUBJECTS, *gaokao.SUBJECTS.values()]
    unknown = [n for n in names if mapper.lookup(n) is None]
    targets = Counter(tuple(mapper.lookup(en)[1]) for en in CMMLU_SUBJECTS)
    out += [
        "## 2. Subject tables",
        "",
        f"CMMLU subjects (id and Chinese name) and GAOKAO subjects known: "
        f"{len(names) - len(unknown)}/{len(names)}"
        + (f" (unknown: {unknown})" if unknown else "")
        + ". CMMLU's 67 subjects fall into "
        + ", ".join(f"{'+'.join(t)} {n}" for t, n in targets.most_common())
        + ".",
        "",
    ]
    rows = []
    for stem in EXAM_FILES:
        records = list(_cqia_records(next(p for p in _cqia_files() if p.stem == stem)))
        same = sum(mapper.map_values(r["domain"]).domains == r["domain"] for r in records)
        values = sorted({d for r in records for d in r["domain"]})
        rows.append([stem, len(records), _pct(same, len(records)), "、".join(values)])
    out += _table(["COIG-CQIA exam file", "records", "domain maps to itself", "values"], rows)
    out.append("")


def _keyword_rows(pairs: list[tuple[str, str]], mapper: DomainMapper) -> list[list[object]]:
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, placed, right
    wrong: dict[str, Counter] = defaultdict(Counter)
    for gold, text in pairs:
        match = mapper.map_text(text)
        s = stats[gold]
        s[0] += 1
        if match.domains:
            s[1] += 1
            s[2] += match.domains[0] == gold
            if match.domains[0] != gold:
                wrong[gold][match.domains[0]] += 1
    rows = []
    total = [0, 0, 0]
    for gold, (n, placed, right) in sorted(stats.items(), key=lambda kv: -kv[1][0]):
        total = [total[0] + n, total[1] + placed, total[2] + right]
        top = ", ".join(f"{d} {c}" for d, c in wrong[gold].most_common(3))
        rows.append([gold, n, _pct(placed, n), _pct(right, placed), _pct(right, n), top])
    rows.append(["**all**", total[0], _pct(total[1], total[0]), _pct(total[2], total[1]),
                 _pct(total[2], total[0]), ""])  # fmt: skip
    return rows


def bench_keywords(out: list[str], mapper: DomainMapper) -> list[tuple[str, str]]:
    """Part 3; returns the GAOKAO (gold, text) pairs."""
    header = ["gold domain", "records", "placed", "precision", "accuracy", "wrong as"]
    keyword_domains = set(mapper.keyword_domains)
    exam = []
    for stem in EXAM_FILES:
        path = next(p for p in _cqia_files() if p.stem == stem)
        for r in _cqia_records(path):
            if r["domain"][0] in keyword_domains:
                exam.append(
                    (r["domain"][0], "\n".join((r["instruction"], r["input"], r["output"])))
                )
    cmmlu = [
        (mapper.lookup(sid)[1][0], text)
        for sid, text in _cmmlu()
        if mapper.lookup(sid)[1][0] in keyword_domains
    ]
    gk = [(mapper.lookup(s)[1][0], text) for s, text in _gaokao()]
    gk = [(g, t) for g, t in gk if g in keyword_domains]
    out += [
        "## 3. Keyword rules",
        "",
        f"{len(keyword_domains)} domains with keyword rules, at least {mapper.min_hits} distinct "
        "keywords and a strict winner to place a record. placed = share of records placed; "
        "precision = right among placed; accuracy = right among all.",
        "",
        "### COIG-CQIA exam records (instruction + input + output) against their domain",
        "",
        *_table(header, _keyword_rows(exam, mapper)),
        "",
        "### CMMLU test questions (question + options) against their subject's domain",
        "",
        *_table(header, _keyword_rows(cmmlu, mapper)),
        "",
        "### GAOKAO-Bench questions (question + analysis) against their subject's domain",
        "",
        *_table(header, _keyword_rows(gk, mapper)),
        "",
        "### COIG-CQIA records whose domain is not a subject: what the rules would add",
        "",
    ]
    rows = []
    for stem in ("zhihu_score8.0-8.5_clean_v3", "xhs", "ruozhiba_ruozhiba",
                 "movie_synopsis_more_prompt", "bkmy_symptom", "finance_coig_pc",
                 "segmentfault_upvote5_clean", "100poison"):  # fmt: skip
        path = next(p for p in _cqia_files() if p.stem == stem)
        records = list(_cqia_records(path))
        placed = Counter()
        for r in records:
            match = mapper.map_text("\n".join((r["instruction"], r["input"], r["output"])))
            if match.domains:
                placed[match.domains[0]] += 1
        top = ", ".join(f"{d} {n}" for d, n in placed.most_common(4))
        domain = "、".join(records[0]["domain"])
        rows.append([stem, domain, len(records), _pct(sum(placed.values()), len(records)), top])
    out += _table(["file", "domain (first record)", "records", "placed", "most placed as"], rows)
    out.append("")
    return gk


def bench_model_on_gaokao(
    out: list[str], model: domain_model.DomainModel, gk: list[tuple[str, str]]
) -> None:
    """Part 4."""
    labels = set(model.domains)
    pairs = [(g, t) for g, t in gk if g in labels]
    predictions = model.predict([t for _, t in pairs])
    stats: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, right, right at p >= 0.5
    for (gold, _), best in zip(pairs, predictions, strict=True):
        s = stats[gold]
        s[0] += 1
        s[1] += best[0][0] == gold
        s[2] += best[0][0] == gold and best[0][1] >= 0.5
    rows = [
        [g, n, _pct(r, n), _pct(r5, n)]
        for g, (n, r, r5) in sorted(stats.items(), key=lambda kv: -kv[1][0])
    ]
    n_all = sum(s[0] for s in stats.values())
    rows.append(["**all**", n_all, _pct(sum(s[1] for s in stats.values()), n_all),
                 _pct(sum(s[2] for s in stats.values()), n_all)])  # fmt: skip
    out += [
        "## 4. The COIG-CQIA model (all records, epoch 25) on GAOKAO-Bench questions",
        "",
        "Questions whose subject's domain is one of the model's labels; accuracy of the top "
        "domain, and right with probability >= 0.5 (TagSchema's default model_min_prob).",
        "",
        *_table(["gold domain", "questions", "accuracy", "right, p >= 0.5"], rows),
        "",
    ]


def main() -> int:
    if not (CORPORA / "coig-cqia").is_dir():
        print(f"no corpora at {CORPORA}: nothing to measure")
        return 0
    start = time.perf_counter()
    mapper = DomainMapper.from_file()
    out = [
        "# Domain placement on real data",
        "",
        "`python benchmarks/bench_domains.py`: the fastText domain classifier "
        "(`beam-cqia train-domain`) and the packaged keyword/subject mapping "
        f"(`beam_cqia/text/domains.yaml`). Python {platform.python_version()}, "
        "shared 2-core machine.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="bench-domains-") as tmp:
        model = bench_model(out, Path(tmp))
        bench_tables(out, mapper)
        gk = bench_keywords(out, mapper)
        bench_model_on_gaokao(out, model, gk)
    out.append(f"Total run time {time.perf_counter() - start:.0f} s.")
    text = "\n".join(out) + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
