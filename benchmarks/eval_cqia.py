"""A built dataset side by side with the published COIG-CQIA files, in one table.

    python benchmarks/eval_cqia.py --ours out/cqia [--reclean out/cqia-reclean]
        [--cqia ../shared/corpora/coig-cqia] [--corpora ../shared/corpora] [--no-write]

``--ours`` is an output of ``pipelines/cqia_full.yaml`` (read from its ``jsonl/`` export, the
published layout); ``--reclean`` optionally adds a column for an output of
``pipelines/cqia_reclean.yaml`` (COIG-CQIA re-cleaned by our filters). The published side is every
``<subset>/*.jsonl`` under ``--cqia``, split on ``\\n`` only (xhs.jsonl holds U+2028 inside
strings). Measured on each side, overall and per subset:

- schema: the records whose keys are the nine published fields in the published order, with the
  published value types (str; task_type {major: [str], minor: [str]}; domain [str]; bool);
- records per subset;
- instruction and output lengths in characters (p10/p50/p90, mean);
- task_type.major, task_type.minor and domain value sets (size, and how many of ours COIG-CQIA
  also has);
- instruction uniqueness (distinct instructions / records) and exact duplicates (records whose
  instruction, input and output repeat another's);
- placeholders (metadata 暂无元数据信息, copyright 暂无版权及作者信息) and site boilerplate, ads
  and assistant phrases in instruction or output (``beam_cqia.text.signals``), outputs cut off
  (``cut_off``);
- overlap with benchmark sets (decontamination): records that contain at least half of the
  distinct 6-grams of a GAOKAO-Bench, CMMLU test or LogiQA 2.0 test question (stem and options,
  line by line: the rule and index of ``Decontaminate``), per set.

Prints the table and writes ``results/cqia_eval.md`` and ``results/cqia_eval.json`` next to this
file (unless ``--no-write``), with the run's funnel (its manifest) and, given ``--run-log``, the
wall time, CPU time and peak memory ``/usr/bin/time -v`` reported for it:

    /usr/bin/time -v beam-cqia run pipelines/cqia_full.yaml --var input=../shared/corpora \
        --var output=out/cqia 2> out/cqia.time
    python benchmarks/eval_cqia.py --ours out/cqia --run-log out/cqia.time

Third-party data is read in place, never copied.
"""

import argparse
import collections
import json
import statistics
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from beam_cqia.records import CQIA_PUBLISHED_FIELDS, NO_COPYRIGHT, NO_METADATA

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
RESULTS_MD = Path(__file__).resolve().parent / "results" / "cqia_eval.md"
RESULTS_JSON = RESULTS_MD.with_suffix(".json")

MIN_OVERLAP = 0.5  # Decontaminate's default

# Benchmark sets: (name, adapter, glob under corpora, read options), as the adapters' REAL_DATA.
BENCHMARKS = (
    ("GAOKAO-Bench", "gaokao", "gaokao-bench/*/*.json", {"format": "json", "json_items": "example.item"}),  # noqa: E501
    ("CMMLU test", "cmmlu", "cmmlu/test/*.csv", {"format": "csv"}),
    ("LogiQA 2.0 test", "logiqa", "logiqa2-zh/test_zh.txt", {"format": "jsonl"}),
)  # fmt: skip


# --- reading ---------------------------------------------------------------------------------


def read_jsonl_tree(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Records of ``<root>/<subset>/*.jsonl`` by subset (lines split on b"\\n" only)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(root.glob("*/*.jsonl")):
        for line in path.read_bytes().split(b"\n"):
            if line.strip():
                out.setdefault(path.parent.name, []).append(json.loads(line))
    return out


def read_ours(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """A beam-cqia output in the published layout (its ExportCqiaJsonl files under jsonl/)."""
    jsonl = out_dir / "jsonl"
    if not jsonl.is_dir():
        raise SystemExit(f"{jsonl} not found: run a spec with ExportCqiaJsonl into <output>/jsonl")
    return read_jsonl_tree(jsonl)


def republished_share(out_dir: Path) -> dict[str, float]:
    """Per subset, the share of records that are COIG-CQIA's own, re-cleaned (source instruct)."""
    import pyarrow.dataset as ds

    rows = (
        ds.dataset(out_dir / "data", format="parquet", partitioning="hive")
        .to_table(columns=["subset", "source"])
        .to_pylist()
    )
    total, instruct = collections.Counter(), collections.Counter()
    for r in rows:
        total[r["subset"]] += 1
        instruct[r["subset"]] += r["source"] == "instruct"
    return {s: instruct[s] / n for s, n in total.items()}


def benchmark_items(corpora: Path) -> dict[str, list[tuple[str, str]]]:
    """(id, question) of every benchmark item, by set, read with our adapters (no Beam)."""
    from beam_cqia import sources
    from beam_cqia.sources import formats

    out: dict[str, list[tuple[str, str]]] = {}
    for name, source, pattern, options in BENCHMARKS:
        adapter = sources.get_adapter(source)
        items = out.setdefault(name, [])
        for path in sorted(corpora.glob(pattern)):
            fmt = options["format"]
            with path.open("rb") as raw:
                stream = formats.open_stream(raw, str(path), fmt)
                units = list(formats.read_units(stream, fmt, json_items=options.get("json_items")))
            for unit in units:
                origin = sources.Origin(str(path), unit.offset, source)
                try:
                    docs = list(adapter(formats.parse(unit.payload, fmt, str(path)), origin))
                except (sources.Reject, formats.Skip):
                    continue
                items.extend((d.id, d.question) for d in docs if d.question)
    return out


# --- measures --------------------------------------------------------------------------------


def type_signature(record: Mapping[str, Any]) -> str:
    """The published schema of one record: ``ok`` or what differs."""
    keys = tuple(record)
    if keys != CQIA_PUBLISHED_FIELDS:
        return f"keys {list(keys)}"
    tt = record["task_type"]
    checks = {
        "str fields": all(
            isinstance(record[k], str)
            for k in ("instruction", "input", "output", "metadata", "answer_from", "copyright")
        ),
        "task_type": isinstance(tt, dict)
        and tuple(tt) == ("major", "minor")
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in tt.values()),
        "domain": isinstance(record["domain"], list)
        and all(isinstance(x, str) for x in record["domain"]),
        "human_verified": isinstance(record["human_verified"], bool),
    }
    bad = [k for k, ok in checks.items() if not ok]
    return "ok" if not bad else "types " + ",".join(bad)


def quantiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    values = sorted(values)

    def q(p: float) -> int:
        return values[min(len(values) - 1, int(p * (len(values) - 1) + 0.5))]

    return {"p10": q(0.1), "p50": q(0.5), "p90": q(0.9), "mean": statistics.fmean(values)}


class Overlap:
    """Benchmark items as Decontaminate's n-gram index, one per set."""

    def __init__(self, items: Mapping[str, list[tuple[str, str]]]):
        import opencc

        from beam_cqia.transforms.decontam import DEFAULT_DECONTAM_NGRAM, _NgramIndex, item_hashes

        self._t2s = opencc.OpenCC("t2s").convert
        self._n, self._hash = DEFAULT_DECONTAM_NGRAM, item_hashes
        self.sizes = {name: len(v) for name, v in items.items()}
        self.indexes = {
            name: _NgramIndex([], 20, [(i, item_hashes(q, self._n, self._t2s)) for i, q in pairs])
            for name, pairs in items.items()
        }

    def hits(self, text: str) -> dict[str, str]:
        """{set: item id} for every set the text contains an item of."""
        query = self._hash(text, self._n, self._t2s)
        out = {}
        for name, index in self.indexes.items():
            share, item = index.best(query)
            if share >= MIN_OVERLAP:
                out[name] = item
        return out


def measure(
    records_by_subset: Mapping[str, list[dict[str, Any]]],
    overlap: Overlap | None,
    reference: Mapping[str, set[str]] | None = None,
) -> dict[str, Any]:
    """Every measure of one side; ``reference`` holds COIG-CQIA's value sets (for "shared")."""
    from beam_cqia.text import signals

    def side(records: list[dict[str, Any]]) -> dict[str, Any]:
        n = len(records)
        schema = collections.Counter(type_signature(r) for r in records)
        instructions = [r.get("instruction", "") for r in records]
        triples = collections.Counter(
            (r.get("instruction"), r.get("input"), r.get("output")) for r in records
        )
        majors = {m for r in records for m in r["task_type"]["major"]}
        minors = {m for r in records for m in r["task_type"]["minor"]}
        domains = {d for r in records for d in r["domain"]}
        flags = collections.Counter()
        for r in records:
            both = f"{r['instruction']}\n{r['output']}"
            flags["metadata_placeholder"] += r["metadata"] == NO_METADATA
            flags["copyright_placeholder"] += r["copyright"] == NO_COPYRIGHT
            flags["any_placeholder"] += (
                r["metadata"] == NO_METADATA or r["copyright"] == NO_COPYRIGHT
            )
            flags["boilerplate"] += signals.boilerplate_hits(both) > 0
            flags["ads"] += signals.ad_hits(both) > 0
            flags["assistant"] += signals.assistant_hits(r["output"]) > 0
            flags["cut_off"] += signals.cut_off(r["output"]) > 0
            flags["control_chars"] += any(
                c in both for c in "\f\v\x00\x1b\u2028\u2029\x85\u200b\ufeff"
            )
        out = {
            "records": n,
            "schema_ok": schema.get("ok", 0),
            "schema_problems": {k: v for k, v in schema.items() if k != "ok"},
            "instruction_chars": quantiles([len(x) for x in instructions]),
            "output_chars": quantiles([len(r.get("output", "")) for r in records]),
            "input_nonempty": sum(1 for r in records if r.get("input")),
            "instruction_unique": len(set(instructions)),
            "exact_duplicates": sum(c - 1 for c in triples.values() if c > 1),
            "majors": sorted(majors),
            "minors": sorted(minors),
            "domains": sorted(domains),
            "flags": dict(flags),
        }
        if reference is not None:
            out["shared"] = {
                "majors": len(majors & reference["majors"]),
                "minors": len(minors & reference["minors"]),
                "domains": len(domains & reference["domains"]),
            }
        if overlap is not None:
            per_set: collections.Counter = collections.Counter()
            items: dict[str, set[str]] = collections.defaultdict(set)
            for r in records:
                for name, item in overlap.hits(
                    "\n".join((r["instruction"], r["input"], r["output"]))
                ).items():
                    per_set[name] += 1
                    items[name].add(item)
            out["benchmark_overlap"] = {
                name: {"records": per_set.get(name, 0), "items": len(items.get(name, ()))}
                for name in overlap.indexes
            }
        return out

    everything = [r for rs in records_by_subset.values() for r in rs]
    return {
        "all": side(everything),
        "subsets": {s: side(rs) for s, rs in sorted(records_by_subset.items())},
    }


# --- the table ---------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return f"{part:,} ({100 * part / whole:.1f}%)" if whole else "0"


def _q(q: Mapping[str, float]) -> str:
    return f"{q['p10']}/{q['p50']}/{q['p90']}, {q['mean']:.0f}" if q else "—"


def _values(values: list[str], shared: int | None, limit: int = 8) -> str:
    head = ", ".join(values[:limit]) + (f" … ({len(values)})" if len(values) > limit else "")
    tail = f"; {shared} shared with COIG-CQIA" if shared is not None else ""
    return f"{head}{tail}" if values else "—"


def rows(sides: Mapping[str, Mapping[str, Any]], sets: list[str]) -> list[list[str]]:
    """The side-by-side table: one row per measure, one column per side."""
    names = list(sides)
    out: list[list[str]] = []

    def add(label: str, fn: Any) -> None:
        out.append([label, *(fn(sides[n]["all"]) for n in names)])

    add("records", lambda s: f"{s['records']:,}")
    add(
        "schema = published (9 fields, order, types)",
        lambda s: (
            _pct(s["schema_ok"], s["records"])
            + ("" if not s["schema_problems"] else f"; {s['schema_problems']}")
        ),
    )
    add("subsets", lambda s: "")
    subsets = sorted({k for n in names for k in sides[n]["subsets"]})
    for subset in subsets:
        cells = []
        for n in names:
            sub = sides[n]["subsets"].get(subset)
            share = sides[n].get("republished", {}).get(subset, 0.0)
            note = f" ({share:.0%} COIG-CQIA's own, re-cleaned)" if share else ""
            cells.append(f"{sub['records']:,}{note}" if sub else "—")
        out.append([f"  records: {subset}", *cells])
    add("instruction chars p10/p50/p90, mean", lambda s: _q(s["instruction_chars"]))
    add("output chars p10/p50/p90, mean", lambda s: _q(s["output_chars"]))
    for subset in subsets:
        out.append(
            [
                f"  output chars: {subset}",
                *(
                    _q(sides[n]["subsets"][subset]["output_chars"])
                    if subset in sides[n]["subsets"]
                    else "—"
                    for n in names
                ),
            ]
        )
    add("input non-empty", lambda s: _pct(s["input_nonempty"], s["records"]))
    add(
        "task_type.major",
        lambda s: _values(s["majors"], s.get("shared", {}).get("majors"), 12),
    )
    add(
        "task_type.minor (distinct)",
        lambda s: (
            f"{len(s['minors'])}"
            + (f" ({s['shared']['minors']} shared with COIG-CQIA)" if "shared" in s else "")
        ),
    )
    add(
        "domain (distinct)",
        lambda s: (
            f"{len(s['domains'])}"
            + (f" ({s['shared']['domains']} shared with COIG-CQIA)" if "shared" in s else "")
        ),
    )
    add(
        "instruction uniqueness",
        lambda s: (
            f"{s['instruction_unique'] / s['records']:.3f} "
            f"({s['instruction_unique']:,}/{s['records']:,})"
            if s["records"]
            else "—"
        ),
    )
    for subset in subsets:
        cells = []
        for n in names:
            sub = sides[n]["subsets"].get(subset)
            ok = sub is not None and sub["records"]
            cells.append(f"{sub['instruction_unique'] / sub['records']:.3f}" if ok else "—")
        out.append([f"  instruction uniqueness: {subset}", *cells])
    add("exact duplicate records", lambda s: _pct(s["exact_duplicates"], s["records"]))
    labels = {
        "any_placeholder": "placeholder metadata or copyright",
        "metadata_placeholder": "  metadata 暂无元数据信息",
        "copyright_placeholder": "  copyright 暂无版权及作者信息",
        "boilerplate": "site boilerplate (instruction or output)",
        "ads": "advertising (instruction or output)",
        "assistant": "assistant phrases (output)",
        "cut_off": "output cut off (cut_off)",
        "control_chars": "control/invisible characters (\\f, U+2028...)",
    }
    for key, label in labels.items():
        add(label, lambda s, key=key: _pct(s["flags"].get(key, 0), s["records"]))
    for name in sets:
        add(
            f"contains a {name} item (records; items)",
            lambda s, name=name: (
                f"{_pct(s['benchmark_overlap'][name]['records'], s['records'])}; "
                f"{s['benchmark_overlap'][name]['items']:,}"
            ),
        )
    return out


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|-" + "|-:" * (len(header) - 1) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in body]
    return "\n".join(lines)


def plain_table(header: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r) for r in [header, ["-" * w for w in widths], *body])


_TIME_FIELDS = {
    "Elapsed (wall clock) time (h:mm:ss or m:ss)": "wall",
    "User time (seconds)": "user_s",
    "System time (seconds)": "system_s",
    "Percent of CPU this job got": "cpu_percent",
    "Maximum resident set size (kbytes)": "max_rss_kb",
    "Exit status": "exit_status",
}


def read_time_log(path: Path) -> dict[str, str]:
    """The figures of a ``/usr/bin/time -v`` report (other lines of the file are ignored)."""
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.strip().rpartition(": ")
        if sep and key in _TIME_FIELDS:
            out[_TIME_FIELDS[key]] = value.strip()
    return out


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ours", required=True, help="an output of pipelines/cqia_full.yaml")
    parser.add_argument("--reclean", help="an output of pipelines/cqia_reclean.yaml")
    parser.add_argument("--cqia", default=str(CORPORA / "coig-cqia"))
    parser.add_argument("--corpora", default=str(CORPORA), help="where the benchmark sets are")
    parser.add_argument("--run-log", help="the /usr/bin/time -v report of the --ours run")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(list(argv) if argv is not None else None)
    started = time.perf_counter()
    cqia_dir, corpora = Path(args.cqia), Path(args.corpora)
    if not cqia_dir.is_dir():
        print(f"COIG-CQIA files not found at {cqia_dir}", file=sys.stderr)
        return 2
    published = read_jsonl_tree(cqia_dir)
    data = {"ours": read_ours(Path(args.ours))}
    if args.reclean:
        data["COIG-CQIA re-cleaned"] = read_ours(Path(args.reclean))
    data["COIG-CQIA"] = published
    overlap = Overlap(benchmark_items(corpora)) if corpora.is_dir() else None
    theirs = measure(published, overlap)
    reference = {k: set(theirs["all"][k]) for k in ("majors", "minors", "domains")}
    sides = {
        name: theirs if name == "COIG-CQIA" else measure(records, overlap, reference)
        for name, records in data.items()
    }
    sides["ours"]["republished"] = republished_share(Path(args.ours))
    sets = list(overlap.indexes) if overlap else []
    header = ["measure", *sides]
    body = rows(sides, sets)
    seconds = time.perf_counter() - started
    print(plain_table(header, body))
    if args.no_write:
        return 0
    note = (
        f"`python benchmarks/eval_cqia.py --ours {args.ours}"
        + (f" --reclean {args.reclean}" if args.reclean else "")
        + f"` ({seconds:.0f} s). COIG-CQIA: the {theirs['all']['records']:,} published records in "
        "../shared/corpora/coig-cqia (39 files; third-party data, read in place). Benchmark "
        "items: "
        + (
            ", ".join(f"{n} {overlap.sizes[n]:,}" for n in sets)
            if overlap
            else "(corpora not found)"
        )
        + f"; a record contains an item when it covers >= {MIN_OVERLAP:.0%} of the item's "
        "distinct 6-grams (Decontaminate's rule). Lengths are characters."
    )
    from beam_cqia import report

    manifest = report.read_manifest(args.ours)
    timing = read_time_log(Path(args.run_log)) if args.run_log else {}
    run = ""
    if timing:
        rss = int(timing.get("max_rss_kb", "0")) / 1024
        run = (
            f"\n\n## The run\n\n`/usr/bin/time -v beam-cqia run pipelines/cqia_full.yaml "
            f"--var input=../shared/corpora --var output={args.ours}` on FnApiRunner: "
            f"{timing.get('wall')} wall, {timing.get('user_s')} s user + "
            f"{timing.get('system_s')} s system CPU ({timing.get('cpu_percent')} of one core), "
            f"peak RSS {rss:,.0f} MB, exit status {timing.get('exit_status')}. The machine has 2 "
            "cores shared with other jobs (load average 4-7 during the run), so the wall time is "
            "an upper bound; the CPU time is the figure to compare."
        )
    funnel = "\n\n## Funnel of the run\n\n```\n" + report.format_funnel(manifest) + "\n```"
    RESULTS_MD.write_text(
        "# Built dataset vs COIG-CQIA\n\n"
        + note
        + "\n\n"
        + markdown_table(header, body)
        + run
        + funnel
        + "\n",
        encoding="utf-8",
    )
    RESULTS_JSON.write_text(
        json.dumps(
            {
                "seconds": seconds,
                "run": timing,
                "benchmark_items": overlap.sizes if overlap else {},
                "sides": sides,
            },
            ensure_ascii=False,
            indent=1,
            sort_keys=True,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"\nwrote {RESULTS_MD} and {RESULTS_JSON.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
