"""Records rebuilt by our templates from real raw corpora, side by side with COIG-CQIA's subsets.

    python benchmarks/bench_rebuild_eval.py [--sample 2000] [--seed 0] [--only douban,exam]
                                            [--template-dir DIR] [--keep DIR]

Our side runs the pipeline stages in one Beam pipeline on FnApiRunner: ReadCrawl (each corpus
with its adapter and the options its ``REAL_DATA`` entry declares) -> a fixed-seed sample per
subset -> NormalizeText (defaults) -> RebuildFromTemplate (the templates of ``TEMPLATES`` below)
-> TagSchema (COIG-CQIA's answer_from/human_verified per source) -> WriteCqiaParquet into a
temporary directory, whose records, rejected records and errors are read back. When a template
sets ``min_output_chars``, a second RebuildFromTemplate + TagSchema on the same documents with
every floor at 0 shows what the floor removed. Their side is the published COIG-CQIA files in
``../shared/corpora/coig-cqia`` (third-party data, read in place, never copied).

Families (ours -> theirs):

- douban: DMR movie profiles through the one-subject recommendation and the synopsis templates,
  and grouped into lists (by genre, decade or region, with ``recommendation_doc``) through the
  list template; DMR reviews through the review template as read and joined with the profiles'
  subject names (the reviews carry only a subject id) -> douban/*recommendation*, *synopsis*,
  *_reviews (the book files have no DMR counterpart: shown for reference).
- exam: GAOKAO-Bench, CMMLU -> exam/coig_exam_sampled_clean_v3 (+ kaoyan for CMMLU); LogiQA 2.0
  -> logi_qa (law_gee shown for reference).
- forum: ruozhiba-tieba thread titles and annual best-of posts -> ruozhiba.
- poetry: chinese-poetry shi (continuation and title-to-poem), ci and classics (诗经, 论语,
  三字经) -> chinese_traditional/poem, whole and split into its continuation rows (续写) and
  the others.

Per dataset: records, rebuild rejections and errors with reasons, unrendered placeholders
(``{{``, ``{%``, ``{#``, ``None`` next to Chinese text or anywhere, each counted only when the
record has more than its source document; empty instruction or output), instruction uniqueness
(distinct instructions / records), instruction, input and output lengths in characters
(p10/p50/p90, mean), records with Traditional-only characters, task_type major/minor, domain,
answer_from and human_verified value sets and their differences per pair. Subsets larger than
``--sample`` are sampled after reading: the documents whose xxh3 hash of (seed, id) is smallest,
so a rerun picks the same ones. Writes ``results/rebuild_eval.md`` and ``results/rebuild_eval.json``
next to this file (not with ``--only``) and prints the tables.
"""

import argparse
import fnmatch
import inspect
import json
import platform
import re
import shlex
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
CQIA = CORPORA / "coig-cqia"
RESULTS_MD = Path(__file__).resolve().parent / "results" / "rebuild_eval.md"
RESULTS_JSON = RESULTS_MD.with_suffix(".json")

# Template per role, as candidates best first: the first that exists is used, a later one is
# marked as a fallback in the results, and a role with none is skipped (and reported). A name
# without ".vN" means its newest version.
TEMPLATES: dict[str, list[str]] = {
    "douban_recommendation": ["douban_recommendation"],
    "douban_recommend_list": ["douban_recommend_list"],
    "douban_synopsis": ["douban_synopsis"],
    "douban_review": ["douban_review"],
    "exam": ["exam_question"],
    "logiqa": ["logiqa_question"],
    "ruozhiba": ["forum_question"],
    "poem": ["poem_continue"],
    "poem_compose": ["poem_compose", "poem_continue"],
}

# TagSchema defaults per source: COIG-CQIA's values for the matching subsets.
TAG_SOURCES = {
    "douban": {"answer_from": "human", "human_verified": False},
    "gaokao": {"answer_from": "human", "human_verified": False},
    "cmmlu": {"answer_from": "human", "human_verified": False},
    "logiqa": {"answer_from": "human", "human_verified": False},
    "forum": {"answer_from": "llm", "human_verified": True},
    "poetry": {"answer_from": "human", "human_verified": True},
}


class Ours(NamedTuple):
    """One of our subsets: what is read, how, with which template, compared with what."""

    family: str
    subset: str  # the template mapping's key too (forum_question keys on "ruozhiba")
    role: str  # key of TEMPLATES
    source: str  # adapter
    paths: tuple[str, ...]  # under ../shared/corpora; read options from the adapter's REAL_DATA
    theirs: str  # key of THEIRS it is compared with
    note: str = ""
    build: str = ""  # "join_subjects" or "recommend_lists": a step between reading and sampling
    pending: str = ""  # RawDoc field that is the instruction, reported when nothing renders


_MOVIES = "douban-dmr/movies.json"
_REVIEWS = "douban-dmr/reviews.json"
_SHI = "chinese-poetry/全唐诗/poet.*.json"
OURS = [
    Ours(
        "douban", "douban_recommendation", role="douban_recommendation", source="douban",
        paths=(_MOVIES,), theirs="douban/recommendation", note="one DMR profile per record",
    ),
    Ours(
        "douban", "douban_recommend_list", role="douban_recommend_list", source="douban",
        paths=(_MOVIES,), theirs="douban/recommendation", build="recommend_lists",
        note="DMR profiles grouped by genre, decade or region into lists of 3-10",
    ),
    Ours(
        "douban", "douban_synopsis", role="douban_synopsis", source="douban", paths=(_MOVIES,),
        theirs="douban/synopsis", note="DMR profiles have no synopsis",
    ),
    Ours(
        "douban", "douban_review", role="douban_review", source="douban", paths=(_REVIEWS,),
        theirs="douban/reviews", note="DMR reviews as read: a subject id, no subject name",
    ),
    Ours(
        "douban", "douban_review_joined", role="douban_review", source="douban",
        paths=(_REVIEWS,), theirs="douban/reviews", build="join_subjects",
        note="subject name and media type joined from movies.json",
    ),
    Ours(
        "exam", "gaokao", role="exam", source="gaokao", paths=("gaokao-bench/*/*.json",),
        theirs="exam/coig_exam",
    ),
    Ours(
        "exam", "cmmlu", role="exam", source="cmmlu",
        paths=("cmmlu/dev/*.csv", "cmmlu/test/*.csv"), theirs="exam/coig_exam+kaoyan",
    ),
    Ours(
        "exam", "logiqa", role="logiqa", source="logiqa", paths=("logiqa2-zh/*_zh.txt",),
        theirs="logi_qa",
    ),
    Ours(
        "forum", "ruozhiba", role="ruozhiba", source="forum",
        paths=("ruozhiba-tieba/ruozhiba-title-good.json", "ruozhiba-tieba/ruozhiba-post-*.json"),
        theirs="ruozhiba", note="thread titles and posts: the crawl has no answers",
        pending="question",
    ),
    Ours(
        "poetry", "poem_shi", role="poem", source="poetry", paths=(_SHI,),
        theirs="chinese_traditional/poem: 续写", note="全唐诗 poet.*: Tang and Song shi",
    ),
    Ours(
        "poetry", "poem_shi_compose", role="poem_compose", source="poetry", paths=(_SHI,),
        theirs="chinese_traditional/poem: other", note="the same sample as poem_shi, title to poem",
    ),
    Ours(
        "poetry", "poem_ci", role="poem", source="poetry",
        paths=("chinese-poetry/宋词/ci.song.0.json",), theirs="chinese_traditional/poem: 续写",
        note="宋词",
    ),
    Ours(
        "poetry", "poem_classic", role="poem", source="poetry",
        paths=(
            "chinese-poetry/诗经/shijing.json",
            "chinese-poetry/论语/lunyu.json",
            "chinese-poetry/蒙学/sanzijing-new.json",
        ),
        theirs="chinese_traditional/poem: 续写", note="诗经, 论语, 三字经",
    ),
]  # fmt: skip


class Theirs(NamedTuple):
    family: str
    files: tuple[str, ...]  # under coig-cqia/, globs allowed
    instruction_has: str = ""  # keep rows whose instruction contains this ...
    keep_if_has: bool = True  # ... or only those that do not


THEIRS: dict[str, Theirs] = {
    "douban/recommendation": Theirs("douban", ("douban/*recommendation*.jsonl",)),
    "douban/synopsis": Theirs("douban", ("douban/*_synopsis_more_prompt.jsonl",)),
    "douban/reviews": Theirs("douban", ("douban/movie_reviews.jsonl", "douban/tv_reviews.jsonl")),
    "douban/book": Theirs("douban", ("douban/book_introduce.jsonl", "douban/book_reviews.jsonl")),
    "exam/coig_exam": Theirs("exam", ("exam/coig_exam_sampled_clean_v3.jsonl",)),
    "exam/coig_exam+kaoyan": Theirs(
        "exam", ("exam/coig_exam_sampled_clean_v3.jsonl", "exam/kaoyan.jsonl")
    ),
    "exam/law_gee": Theirs("exam", ("exam/law_gee_exam_clean_v2.jsonl",)),
    "logi_qa": Theirs("exam", ("logi_qa/logi-qa.jsonl",)),
    "ruozhiba": Theirs("forum", ("ruozhiba/ruozhiba_ruozhiba.jsonl",)),
    "chinese_traditional/poem": Theirs("poetry", ("chinese_traditional/poem.jsonl",)),
    "chinese_traditional/poem: 续写": Theirs(
        "poetry", ("chinese_traditional/poem.jsonl",), instruction_has="续写"
    ),
    "chinese_traditional/poem: other": Theirs(
        "poetry", ("chinese_traditional/poem.jsonl",), instruction_has="续写", keep_if_has=False
    ),
}

_CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
_NONE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])None|None(?=[{_CJK}])")
_JINJA = re.compile(r"\{\{|\{%|\{#")
_TOKENS = ("jinja", "none_near_cjk", "none_any")
REBUILD, TAG = "Rebuild", "Tag"
# Recommendation list lengths, picked per group from its key (COIG-CQIA lists hold 1-10).
_LIST_SIZES = (3, 4, 5, 6, 8, 10, 10)


def tokens(text: str) -> dict[str, int]:
    """Occurrences of what an unrendered or wrongly rendered template leaves behind."""
    return {
        "jinja": len(_JINJA.findall(text)),
        "none_near_cjk": len(_NONE_NEAR_CJK.findall(text)),
        "none_any": text.count("None"),
    }


# ---------------------------------------------------------------- templates and read options


def resolve_templates(template_dir: str | None) -> dict[str, dict[str, Any]]:
    """For each role: the template used (None if none exists), what was wanted, and whether the
    one used is a fallback; with the template's min_output_chars."""
    from beam_cqia import prompts

    sources = prompts.load_sources([template_dir] if template_dir else [])
    out = {}
    for role, candidates in TEMPLATES.items():
        out[role] = {"template": None, "wanted": candidates[0], "fallback": False, "floor": 0}
        for i, wanted in enumerate(candidates):
            found = _newest(wanted, sources)
            if found:
                template = prompts.Template(found, *sources[found])
                floor = getattr(template, "min_output_chars", 0)
                out[role] = {"template": found, "wanted": candidates[0], "fallback": i > 0}
                out[role]["floor"] = floor
                break
    return out


def _newest(name: str, names: Iterable[str]) -> str | None:
    if re.search(r"\.v\d+$", name):
        return name if name in names else None
    versions = [(int(n.rsplit(".v", 1)[1]), n) for n in names if n.rsplit(".v", 1)[0] == name]
    return max(versions)[1] if versions else None


def read_options(source: str, path: str) -> dict[str, Any]:
    """ReadCrawl options for ``path`` from the adapter's REAL_DATA entry matching it (either
    pattern may match the other)."""
    from beam_cqia import sources

    for entry in getattr(sources.MODULES[source], "REAL_DATA", []):
        if fnmatch.fnmatch(path, entry["path"]) or fnmatch.fnmatch(entry["path"], path):
            return {k: v for k, v in entry.items() if k not in {"path", "expect", "why", "name"}}
    raise SystemExit(f"{source} declares no REAL_DATA entry for {path}")


# ---------------------------------------------------------------- our side: steps


def _sample_key(seed: int) -> Any:
    import xxhash

    return lambda doc: xxhash.xxh3_64_intdigest(f"{seed}\x1f{doc.id}".encode())


def _with_subject(doc: Any, subjects: Mapping[str, tuple[str, str]]) -> Any:
    """A DMR review with the name and media type of its subject, when the profiles have it."""
    hit = subjects.get(doc.meta.get("subject_id", ""))
    if doc.title or not hit:
        return doc
    title, media = hit
    meta = {**doc.meta, "media_type": doc.meta.get("media_type") or media}
    return doc._replace(title=title, meta=meta)


def _list_key(doc: Any) -> Iterator[tuple[tuple[str, str, str], Any]]:
    """The criterion a profile is grouped by: its first genre, decade or region (by its id)."""
    from beam_cqia.text.ids import stable_bucket

    meta = doc.meta
    year = meta.get("year", "")
    options = [
        ("genre", meta.get("genres", "").split("/")[0]),
        ("decade", f"{year[:3]}0" if len(year) == 4 and year.isdigit() else ""),
        ("region", meta.get("region", "").split("/")[0]),
    ]
    options = [(kind, value) for kind, value in options if value]
    if options:
        kind, value = options[stable_bucket(doc.id, len(options))]
        yield (meta.get("media_type", ""), kind, value), doc


def _lists(group: tuple[tuple[str, str, str], Iterable[Any]], subset: str) -> Iterator[Any]:
    """Recommendation RawDocs for one group, in lists of a size picked from the group key."""
    from beam_cqia.text.ids import stable_bucket
    from beam_cqia.transforms.rebuild import recommendation_doc

    (media, kind, value), docs = group
    members = sorted(docs, key=lambda d: d.id)
    start, chunk = 0, 0
    while start < len(members):
        size = _LIST_SIZES[stable_bucket(f"{media}/{kind}/{value}/{chunk}", len(_LIST_SIZES))]
        part = members[start : start + size]
        ratings = [float(d.meta.get("rating") or 0) for d in part]
        yield recommendation_doc(
            part,
            **{kind: value},
            high_rated=min(ratings) >= 8.0,
            subset=subset,
        )
        start, chunk = start + size, chunk + 1


def _source_tokens(doc: Any) -> Iterator[str]:
    """The placeholder-like tokens already in a document's text (so records are not blamed)."""
    text = "\n".join([doc.title, doc.question, doc.body, doc.answer, *(doc.meta or {}).values()])
    found = tokens(text)
    if any(found.values()):
        yield json.dumps({"id": doc.id, **found})


def _read_table(folder: Path) -> list[dict[str, Any]]:
    import pyarrow.dataset as ds

    if not folder.exists():
        return []
    return ds.dataset(folder, format="parquet", partitioning="hive").to_table().to_pylist()


def run_ours(
    selected: list[Ours],
    roles: Mapping[str, Mapping[str, Any]],
    work: Path,
    sample: int,
    seed: int,
    template_dir: str | None,
) -> dict[str, Any]:
    """Runs the stages on FnApiRunner; returns the outputs read back per subset."""
    import apache_beam as beam
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    from beam_cqia import report
    from beam_cqia.records import RawDoc
    from beam_cqia.transforms import (
        NormalizeText,
        ReadCrawl,
        RebuildFromTemplate,
        TagSchema,
        WriteCqiaParquet,
    )

    pipeline = beam.Pipeline(runner=FnApiRunner())
    reads: dict[str, list[str]] = {}
    docs = {}
    subjects = None
    for ours in selected:
        parts = []
        for i, path in enumerate(ours.paths):
            label = f"Read_{ours.subset}_{i}"
            reads.setdefault(ours.subset, []).append(label)
            options = read_options(ours.source, path)
            read = ReadCrawl(str(CORPORA / path), source=ours.source, subset=ours.subset, **options)
            parts.append(pipeline | label >> read)
        pc = parts[0] if len(parts) == 1 else parts | f"Merge_{ours.subset}" >> beam.Flatten()
        if ours.build == "join_subjects":
            if subjects is None:
                options = read_options("douban", _MOVIES)
                profiles = ReadCrawl(str(CORPORA / _MOVIES), source="douban", **options)
                subjects = (
                    pipeline
                    | "ReadSubjectsForJoin" >> profiles
                    | "SubjectNames"
                    >> beam.Map(lambda d: (d.meta["subject_id"], (d.title, d.meta["media_type"])))
                )
            pc = pc | f"Join_{ours.subset}" >> beam.Map(_with_subject, beam.pvalue.AsDict(subjects))
        elif ours.build == "recommend_lists":
            pc = (
                pc
                | f"ListKey_{ours.subset}" >> beam.FlatMap(_list_key)
                | f"Group_{ours.subset}" >> beam.GroupByKey()
                | f"Lists_{ours.subset}" >> beam.FlatMap(_lists, ours.subset)
            )
        if sample > 0:
            pc = (
                pc
                | f"Sample_{ours.subset}"
                >> beam.combiners.Top.Smallest(sample, key=_sample_key(seed))
                | f"Unpack_{ours.subset}" >> beam.FlatMap(lambda docs: docs)
            )
        pc.element_type = RawDoc
        docs[ours.subset] = pc
    normalized = docs | "Normalize" >> NormalizeText()
    (
        normalized
        | "SourceTokens" >> beam.FlatMap(_source_tokens)
        | "WriteSourceTokens" >> beam.io.WriteToText(str(work / "tokens" / "part"))
    )
    mapping = {o.subset: roles[o.role]["template"] for o in selected}
    (
        normalized
        | REBUILD >> RebuildFromTemplate(mapping, template_dir=template_dir)
        | TAG >> TagSchema(sources=TAG_SOURCES)
        | "Write" >> WriteCqiaParquet(str(work / "out"), partition_by=["subset"])
    )
    floors = {roles[o.role]["template"] for o in selected if roles[o.role]["floor"]}
    # Templates may set a minimum output length; the same documents without it show its effect.
    no_floor = (
        bool(floors) and "min_output_chars" in inspect.signature(RebuildFromTemplate).parameters
    )
    if no_floor:
        (
            normalized
            | "RebuildNoFloor"
            >> RebuildFromTemplate(
                mapping,
                template_dir=template_dir,
                min_output_chars=dict.fromkeys(sorted(floors), 0),
            )
            | "TagNoFloor" >> TagSchema(sources=TAG_SOURCES)
            | "WriteNoFloor" >> WriteCqiaParquet(str(work / "no_floor"), partition_by=["subset"])
        )
    start = time.perf_counter()
    pipeline.run().wait_until_finish()
    seconds = time.perf_counter() - start

    manifest = report.read_manifest(str(work / "out"))
    data = _read_table(work / "out" / "data")
    rejected = _read_table(work / "out" / "rejected")
    errors = _read_table(work / "out" / "errors")
    unfloored = _read_table(work / "no_floor" / "data") if no_floor else []
    per_subset = {}
    for ours in selected:
        stages = [manifest["stages"][label] for label in reads[ours.subset]]
        mine = [r for r in data if r["subset"] == ours.subset]
        rej = [r for r in rejected if r["subset"] == ours.subset and r["stage"] in (REBUILD, TAG)]
        err = [r for r in errors if r["subset"] == ours.subset and r["stage"] in (REBUILD, TAG)]
        per_subset[ours.subset] = {
            "raw_records": sum(s["in"] for s in stages),
            "docs": sum(s.get("emitted", s["out"]) for s in stages),
            "read_rejected": _sum_counters(s["rejected"] for s in stages),
            "read_errors": sum(s["errors"] for s in stages),
            "into_rebuild": len(mine) + len(rej) + len(err),
            "records": mine,
            "no_floor_records": [r for r in unfloored if r["subset"] == ours.subset],
            "rebuild_rejected": Counter(f"{r['stage']}: {r['reason']}" for r in rej),
            "rebuild_errors": Counter(f"{r['stage']}: {_error_reason(r)}" for r in err),
            "errored_docs": [json.loads(r["element"]) for r in err if r["element"]],
        }
    source_tokens = {}
    for file in (work / "tokens").glob("part*"):
        for line in file.read_text(encoding="utf-8").splitlines():
            found = json.loads(line)
            source_tokens[found.pop("id")] = found
    return {"seconds": seconds, "subsets": per_subset, "source_tokens": source_tokens}


def _sum_counters(items: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for item in items:
        total.update(item)
    return dict(total)


def _error_reason(row: Mapping[str, Any]) -> str:
    """The error's kind and message, without the exception's repr and the variant number."""
    msg = row["msg"].splitlines()[0] if row["msg"] else ""
    wrapped = re.fullmatch(rf"{re.escape(row['kind'])}\((['\"])(.*)\1\)", msg)
    msg = re.sub(r"#\d+", "", wrapped.group(2) if wrapped else msg)
    return f"{row['kind']}: {msg[:120]}"


# ---------------------------------------------------------------- their side


def read_theirs(theirs: Theirs) -> list[dict[str, Any]]:
    rows = []
    for pattern in theirs.files:
        for file in sorted(CQIA.glob(pattern)):
            # U+2028 inside strings (xhs): split on \n only (CQIA-METHOD §0.1).
            for line in file.read_text(encoding="utf-8").split("\n"):
                if line.strip():
                    row = json.loads(line)
                    has = theirs.instruction_has in row["instruction"]
                    if not theirs.instruction_has or has == theirs.keep_if_has:
                        rows.append(row)
    return rows


# ---------------------------------------------------------------- statistics


def traditional_only() -> frozenset[str]:
    """Characters written only in Traditional script (those OpenCC t2s changes, never produces)."""
    import opencc

    from beam_cqia.text.script import traditional_only_chars

    return frozenset(traditional_only_chars(opencc.OpenCC("t2s").convert))


def lengths(values: list[str]) -> dict[str, float] | None:
    """p10/p50/p90 (nearest rank) and mean of the lengths in characters."""
    if not values:
        return None
    n = sorted(len(v) for v in values)

    def pct(p: float) -> int:
        return n[min(len(n) - 1, max(0, round(p * (len(n) - 1))))]

    return {"p10": pct(0.1), "p50": pct(0.5), "p90": pct(0.9), "mean": statistics.fmean(n)}


def stats(
    records: list[Mapping[str, Any]],
    source_tokens: Mapping[str, Mapping[str, int]] | None = None,
    traditional: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """The comparison figures of one dataset (ours or theirs), in the published field names.

    Placeholder-like tokens count against a record only when its text has more of them than its
    source document (``source_tokens`` by id; COIG-CQIA records have no source: all count); the
    others are counted under ``<token>_from_source``.
    """
    n = len(records)
    instructions = [r["instruction"] or "" for r in records]
    outputs = [r["output"] or "" for r in records]
    inputs = [r["input"] or "" for r in records]
    placeholders: Counter[str] = Counter(dict.fromkeys(_TOKENS, 0))
    traditional_left = 0
    for r in records:
        text = "\n".join((r["instruction"] or "", r["input"] or "", r["output"] or ""))
        traditional_left += any(c in traditional for c in text)
        source = (source_tokens or {}).get(r.get("id", ""), {})
        for key, count in tokens(text).items():
            if count > source.get(key, 0):
                placeholders[key] += 1
            elif count:
                placeholders[f"{key}_from_source"] += 1
    placeholders["empty_instruction"] = sum(not i.strip() for i in instructions)
    placeholders["empty_output"] = sum(not o.strip() for o in outputs)
    counts = Counter(instructions)
    top = counts.most_common(1)
    return {
        "records": n,
        "placeholders": dict(placeholders),
        "traditional_left": traditional_left,
        "distinct_instructions": len(counts),
        "uniqueness": len(counts) / n if n else None,
        "top_instruction": {"text": top[0][0][:80], "share": top[0][1] / n} if top else None,
        "instruction_chars": lengths(instructions),
        "input_nonempty": sum(bool(x.strip()) for x in inputs) / n if n else None,
        "input_chars": lengths([x for x in inputs if x.strip()]),
        "output_chars": lengths(outputs),
        "major": sorted({m for r in records for m in r["task_type"]["major"]}),
        "minor": sorted({m for r in records for m in r["task_type"]["minor"]}),
        "minor_combos": Counter(" + ".join(r["task_type"]["minor"]) for r in records).most_common(
            8
        ),
        "domain": sorted({d for r in records for d in r["domain"]}),
        "answer_from": sorted({r["answer_from"] for r in records}),
        "human_verified": sorted({bool(r["human_verified"]) for r in records}),
        "templates": Counter(r["template_id"] for r in records if "template_id" in r).most_common(),
    }


_SETS = ("major", "minor", "domain", "answer_from", "human_verified")


def differences(ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key in _SETS:
        a, b = set(map(str, ours[key])), set(map(str, theirs[key]))
        out[key] = {"same": a == b, "ours_only": sorted(a - b), "theirs_only": sorted(b - a)}
    return out


# ---------------------------------------------------------------- report


def _fmt_len(value: Mapping[str, float] | None) -> str:
    if not value:
        return "—"
    return f"{value['p10']}/{value['p50']}/{value['p90']}, {value['mean']:.0f}"


def _fmt_set(values: list[Any], limit: int = 5) -> str:
    if not values:
        return "∅"
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f" … ({len(values)})" if len(values) > limit else "")


def _pct(part: float, whole: float) -> str:
    return f"{part} ({100 * part / whole:.0f}%)" if whole else str(part)


def _uniq(s: Mapping[str, Any]) -> str:
    if not s["records"]:
        return "—"
    return f"{s['uniqueness']:.3f} ({s['distinct_instructions']}/{s['records']})"


def family_table(family: str, result: Mapping[str, Any]) -> list[str]:
    """The side-by-side table of one family, then per-subset reasons and value-set differences."""
    ours = [o for o in result["ours"].values() if o["family"] == family]
    theirs = {k: v for k, v in result["theirs"].items() if v["family"] == family}
    ts = list(theirs.values())
    columns = [f"ours: {o['subset']}" for o in ours] + [f"CQIA: {k}" for k in theirs]
    rows: dict[str, list[str]] = {}

    def row(label: str, mine: Any, others: Any = None) -> None:
        rows[label] = [mine(o) for o in ours] + [others(t) if others else "" for t in ts]

    def stat(fn: Any) -> Any:
        return lambda x: fn(x["stats"]) if x["stats"]["records"] else "—"

    row("compared with", lambda o: o["theirs"])
    row("template", lambda o: o["template"])
    row(
        "raw records → docs (read rejects)",
        lambda o: (
            f"{o['raw_records']} → {o['docs']}"
            + (f" ({sum(o['read_rejected'].values())})" if o["read_rejected"] else "")
        ),
    )
    row("into rebuild (sampled)", lambda o: str(o["into_rebuild"]))
    row("records", lambda o: str(o["stats"]["records"]), lambda t: str(t["stats"]["records"]))
    row("rebuild rejected", lambda o: _pct(sum(o["rebuild_rejected"].values()), o["into_rebuild"]))
    row("rebuild/tag errors", lambda o: _pct(sum(o["rebuild_errors"].values()), o["into_rebuild"]))
    for key, label in (
        ("jinja", "unrendered {{ {% {#"),
        ("none_near_cjk", "None next to Chinese"),
        ("none_any", "None anywhere"),
        ("empty_instruction", "empty instruction"),
        ("empty_output", "empty output"),
    ):

        def placeholder(s: Mapping[str, Any], key: str = key) -> str:
            source = s["placeholders"].get(f"{key}_from_source", 0)
            return f"{s['placeholders'][key]}" + (f" (+{source} as in source)" if source else "")

        row(label, stat(placeholder), stat(placeholder))
    trad = stat(lambda s: _pct(s["traditional_left"], s["records"]))
    row("records with Traditional-only characters", trad, trad)
    row("instruction uniqueness", stat(_uniq), stat(_uniq))
    top = stat(lambda s: f"{100 * s['top_instruction']['share']:.1f}%")
    row("most frequent instruction share", top, top)
    for key, label in (
        ("instruction_chars", "instruction chars p10/p50/p90, mean"),
        ("input_chars", "input chars (non-empty) p10/p50/p90, mean"),
        ("output_chars", "output chars p10/p50/p90, mean"),
    ):
        fmt = stat(lambda s, k=key: _fmt_len(s[k]))
        row(label, fmt, fmt)
    share = stat(lambda s: f"{100 * s['input_nonempty']:.0f}%")
    row("input non-empty", share, share)
    labels = ("task_type.major", "task_type.minor", "domain", *_SETS[3:])
    for key, label in zip(_SETS, labels, strict=True):
        values = stat(lambda s, k=key: _fmt_set(s[k]))
        row(label, values, values)
    lines = ["| | " + " | ".join(columns) + " |", "|-" + "|-:" * len(columns) + "|"]
    for label, values in rows.items():
        lines.append(f"| {label} | " + " | ".join(v.replace("|", "\\|") for v in values) + " |")
    for o in ours:
        lines += ["", f"**{o['subset']}** ({o['note'] or o['source']}):", ""]
        reasons = [*o["rebuild_rejected"].items(), *o["rebuild_errors"].items()]
        for reason, n in sorted(reasons, key=lambda kv: -kv[1]):
            lines.append(f"- {_pct(n, o['into_rebuild'])} {reason}")
        if o["read_rejected"]:
            read = ", ".join(f"{k} {v}" for k, v in sorted(o["read_rejected"].items()))
            lines.append(f"- before the rebuild, ReadCrawl rejected: {read}")
        if o.get("no_floor"):
            s = o["no_floor"]
            lines.append(
                f"- without min_output_chars: {s['records']} records, output chars "
                f"{_fmt_len(s['output_chars'])}, instruction chars "
                f"{_fmt_len(s['instruction_chars'])}, uniqueness {_uniq(s)}"
            )
        if o.get("pending"):
            p = o["pending"]
            lines.append(
                f"- instructions waiting for an answer: {p['records']}, uniqueness {_uniq(p)}, "
                f"chars {_fmt_len(p['instruction_chars'])}"
            )
        if o["stats"]["records"]:
            combos = "; ".join(f"{c or '∅'} {n}" for c, n in o["stats"]["minor_combos"])
            lines.append(f"- minor combinations: {combos}")
            variants = ", ".join(f"{t} {n}" for t, n in o["stats"]["templates"])
            lines.append(f"- template variants: {variants}")
            same = [key for key in _SETS if o["diff"][key]["same"]]
            if same:
                lines.append(f"- same value sets as CQIA {o['theirs']}: {', '.join(same)}")
            for key in _SETS:
                d = o["diff"][key]
                if not d["same"]:
                    lines.append(
                        f"- {key}: ours only {_fmt_set(d['ours_only'], 12)}; "
                        f"CQIA only {_fmt_set(d['theirs_only'], 12)}"
                    )
    lines.append("")
    for key, t in theirs.items():
        combos = "; ".join(f"{c or '∅'} {n}" for c, n in t["stats"]["minor_combos"])
        lines.append(f"- CQIA {key} minor combinations: {combos}")
    return lines


def to_markdown(result: Mapping[str, Any]) -> str:
    roles = result["templates"]

    def describe(role: str, v: Mapping[str, Any]) -> str:
        if not v["template"]:
            return f"{role} → **missing** (`{v['wanted']}`; its subsets skipped)"
        floor = f", min_output_chars {v['floor']}" if v["floor"] else ""
        fallback = f"; **fallback**, `{v['wanted']}` missing" if v["fallback"] else ""
        return f"{role} → `{v['template']}`{floor}{fallback}"

    lines = [
        "# Template rebuild against COIG-CQIA",
        "",
        f"`{result['command']}` · Python {result['python']} · Apache Beam {result['beam']} · "
        f"FnApiRunner: pipeline {result['seconds']:.0f} s, {result['total_seconds']:.0f} s in all "
        "(shared 2-core machine).",
        "",
        "Ours: ReadCrawl (adapter and REAL_DATA options) → fixed-seed sample → NormalizeText → "
        "RebuildFromTemplate → TagSchema → WriteCqiaParquet, read back. Theirs: the published "
        "COIG-CQIA files in ../shared/corpora/coig-cqia. Third-party data, read in place, not in "
        "the repository.",
        "",
        f"Sampling: subsets with more than {result['sample']} documents are cut to "
        f"{result['sample']} (the smallest xxh3 of seed {result['seed']} and id; 0 = all). "
        "Lengths are in characters, `p10/p50/p90, mean`. Value sets show 5 values and the count; "
        "placeholder counts are records, `(+n as in source)` when the source text has them too. "
        "Traditional-only characters are those OpenCC t2s converts on their own and never "
        "produces; a few are proper Simplified in context (乾坤, 哪吒, 魏徵).",
        "",
        "Templates: " + "; ".join(describe(role, v) for role, v in roles.items()) + ".",
    ]
    if result["skipped"]:
        lines += ["", "Skipped: " + "; ".join(result["skipped"]) + "."]
    for family in result["families"]:
        lines += ["", f"## {family}", "", *family_table(family, result)]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=2000, help="documents per subset; 0 = all")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated families")
    parser.add_argument("--template-dir", default=None, help="extra or replacing *.j2 templates")
    parser.add_argument("--keep", default=None, help="keep the pipeline output in this directory")
    args = parser.parse_args()
    if not CORPORA.is_dir() or not CQIA.is_dir():
        print(
            f"bench_rebuild_eval: the real corpora are not at {CORPORA} (coig-cqia and the raw "
            "corpora are needed); nothing to compare, nothing written.",
            file=sys.stderr,
        )
        return 2
    if args.sample < 0:
        parser.error("--sample must be 0 (all) or positive")
    known = list(dict.fromkeys(o.family for o in OURS))
    only = set(filter(None, args.only.split(",")))
    if only - set(known):
        parser.error(f"unknown families {sorted(only - set(known))}; known: {known}")
    families = [f for f in known if not only or f in only]

    import apache_beam

    started = time.perf_counter()
    roles = resolve_templates(args.template_dir)
    skipped = []
    selected = []
    for o in OURS:
        if o.family not in families:
            continue
        if not roles[o.role]["template"]:
            skipped.append(f"{o.subset} (no template {TEMPLATES[o.role]})")
        elif o.build == "recommend_lists" and not _has_recommendation_doc():
            skipped.append(f"{o.subset} (beam_cqia.transforms.rebuild.recommendation_doc missing)")
        else:
            selected.append(o)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.keep) if args.keep else Path(tmp)
        run = run_ours(selected, roles, work, args.sample, args.seed, args.template_dir)
    traditional = traditional_only()
    theirs = {
        key: {"family": t.family, "files": list(t.files), "filter": t.instruction_has}
        | {"keep_if_has": t.keep_if_has, "stats": stats(read_theirs(t), None, traditional)}
        for key, t in THEIRS.items()
        if t.family in families
    }
    ours = {}
    for o in selected:
        got = run["subsets"][o.subset]
        s = stats(got["records"], run["source_tokens"], traditional)
        role = roles[o.role]
        entry = {
            "family": o.family,
            "subset": o.subset,
            "source": o.source,
            "paths": list(o.paths),
            "note": o.note,
            "theirs": o.theirs,
            "template": role["template"] + (" (fallback)" if role["fallback"] else ""),
            "raw_records": got["raw_records"],
            "docs": got["docs"],
            "read_rejected": got["read_rejected"],
            "read_errors": got["read_errors"],
            "into_rebuild": got["into_rebuild"],
            "rebuild_rejected": dict(got["rebuild_rejected"]),
            "rebuild_errors": dict(got["rebuild_errors"]),
            "stats": s,
            "diff": differences(s, theirs[o.theirs]["stats"]),
        }
        if any(k.endswith("output_too_short") for k in got["rebuild_rejected"]):
            entry["no_floor"] = stats(got["no_floor_records"], run["source_tokens"], traditional)
        if o.pending and not s["records"] and got["errored_docs"]:
            # Nothing rendered: the instructions it would have (forum: the post as asked).
            entry["pending"] = stats(
                [
                    {"instruction": d.get(o.pending, ""), "input": "", "output": ""}
                    | {"task_type": {"major": [], "minor": []}, "domain": []}
                    | {"answer_from": "", "human_verified": False}
                    for d in got["errored_docs"]
                ]
            )
        ours[o.subset] = entry
    command = "python benchmarks/bench_rebuild_eval.py" + "".join(
        f" {shlex.quote(a)}" for a in sys.argv[1:]
    )
    result = {
        "command": command,
        "python": platform.python_version(),
        "beam": apache_beam.__version__,
        "sample": args.sample,
        "seed": args.seed,
        "seconds": run["seconds"],
        "total_seconds": time.perf_counter() - started,
        "families": families,
        "templates": roles,
        "skipped": skipped,
        "ours": ours,
        "theirs": theirs,
    }
    markdown = to_markdown(result)
    print(markdown)
    if not only:
        RESULTS_MD.parent.mkdir(parents=True, exist_ok=True)
        RESULTS_MD.write_text(markdown, encoding="utf-8")
        RESULTS_JSON.write_text(
            json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        print(f"wrote {RESULTS_MD.relative_to(REPO)} and {RESULTS_JSON.name}", file=sys.stderr)
    return 0


def _has_recommendation_doc() -> bool:
    from beam_cqia.transforms import rebuild

    return hasattr(rebuild, "recommendation_doc")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
