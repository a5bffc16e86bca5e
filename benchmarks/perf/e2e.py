"""The whole pipeline on the benchmark corpus: Beam (FnApiRunner) and a plain Python loop doing
the same work, each run in a fresh process that reports its own CPU time, wall time and memory.

Pipeline (``build_beam``): ReadCrawl (web adapter, CCNet-style JSON lines) → NormalizeText →
DedupExact (body) → DedupMinHash (body; 3-grams, Jaccard 0.7, verified) → ScoreQuality (default
rules, lid.176 language id and the benchmark's fastText quality classifier) → FilterByScore
(default thresholds) → RebuildFromTemplate (web_article.v1) → TagSchema → WriteCqiaParquet
(data, rejected and error Parquet, manifest, dataset card, run report).

The plain loop (``run_loop``) is the ceiling: the same stage code (each stage's DoFn ``setup``
and ``process``, the same text functions and models, the same Parquet writer, card and report
combiners and finalizer) called in a Python loop over in-memory lists, with dictionaries where
Beam shuffles (exact-dedup groups, LSH buckets, union-find instead of large-star/small-star) and
without pickling, coders, bundles, counters or stage-count combiners. Both write an output
directory; ``output_digest`` fingerprints the kept records and the rejections so the two sides
can be checked to agree.

Run as ``python benchmarks/perf/e2e.py --child beam|loop --input GLOB --out DIR [...]``: prints
one ``RESULT {json}`` line with the measurements (work CPU = ``process_time`` around the run
without interpreter start-up and imports; the parent adds the children's rusage for
``multi_processing``).
"""

import argparse
import glob
import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# The beam_cqia to measure: this checkout, or another one (a before/after comparison).
sys.path.insert(0, os.environ.get("BENCH_PERF_CODE", str(REPO)))

BATCH = 256
TEMPLATES = {"web": "web_article.v1"}
TAGS = {"web": {"answer_from": "human", "human_verified": False}}
FIELDS = ["body"]


def one_core() -> None:
    """One thread for rensa (rayon), BLAS and Arrow: call before they are first used."""
    for var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ.setdefault(var, "1")


def stages(quality_model: str) -> dict[str, Any]:
    """The configured stages (the same objects configure both sides)."""
    from beam_cqia.transforms import (
        DedupExact,
        DedupMinHash,
        FilterByScore,
        NormalizeText,
        RebuildFromTemplate,
        ScoreQuality,
        TagSchema,
    )

    return {
        "NormalizeText": NormalizeText(),
        "DedupExact": DedupExact(fields=FIELDS),
        "DedupMinHash": DedupMinHash(fields=FIELDS),
        "ScoreQuality": ScoreQuality(lid=True, quality_model=quality_model, batch_size=BATCH),
        "FilterByScore": FilterByScore(),
        "RebuildFromTemplate": RebuildFromTemplate(templates=TEMPLATES),
        "TagSchema": TagSchema(sources=TAGS),
    }


# --- Beam ---------------------------------------------------------------------------------


def build_beam(p: Any, input_glob: str, out: str, quality_model: str) -> None:
    """Applies the benchmark pipeline to ``p``."""
    from beam_cqia.transforms import ReadCrawl, WriteCqiaParquet

    records = p | "ReadCrawl" >> ReadCrawl(input_glob, source="web", reshuffle=False)
    for name, stage in stages(quality_model).items():
        records = records | name >> stage
    _ = records | "WriteCqiaParquet" >> WriteCqiaParquet(out)


def run_beam(input_glob: str, out: str, quality_model: str, workers: int = 1) -> dict[str, Any]:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.runners.portability.fn_api_runner import FnApiRunner

    # As ``beam-cqia run`` does for local runs; BENCH_FNAPI_MEMORY=0 measures Beam's own runner
    # (and code from before the module existed runs without it).
    if os.environ.get("BENCH_FNAPI_MEMORY", "1") != "0":
        try:
            from beam_cqia import fnapi_memory
        except ImportError:
            pass
        else:
            fnapi_memory.install()
    argv = []
    if workers > 1:
        argv = [f"--direct_num_workers={workers}", "--direct_running_mode=multi_processing"]
    p = beam.Pipeline(runner=FnApiRunner(), options=PipelineOptions(argv))
    build_beam(p, input_glob, out, quality_model)
    p.run().wait_until_finish()
    return {}


# --- the plain loop -----------------------------------------------------------------------


class _Collector:
    """Routes a DoFn's outputs: main, tagged (rejected, errors, ...), windowed values."""

    def __init__(self) -> None:
        self.main: list[Any] = []
        self.tagged: dict[str, list[Any]] = {}

    def take(self, outputs: Iterable[Any] | None) -> None:
        import apache_beam as beam
        from apache_beam.utils.windowed_value import WindowedValue

        for out in outputs or ():
            if isinstance(out, WindowedValue):
                out = out.value
            if isinstance(out, beam.pvalue.TaggedOutput):
                self.tagged.setdefault(out.tag, []).append(out.value)
            else:
                self.main.append(out)


class _Loop:
    """Runs DoFns over lists, catching exceptions per element as Beam's dead letters do."""

    def __init__(self) -> None:
        self.rejected: list[Any] = []
        self.errors: list[Any] = []
        self.counts: list[tuple[str, str, str, int]] = []

    def error(self, element: Any, stage: str, kind: str, exc: BaseException) -> None:
        from beam_cqia.transforms._stage import error_record, format_exception

        self.errors.append(
            error_record(element, stage, type(exc).__name__, repr(exc), format_exception(exc))
        )

    def each(self, fn: Any, elements: Iterable[Any], stage: str) -> _Collector:
        out = _Collector()
        process = fn.process
        for element in elements:
            try:
                out.take(process(element))
            except Exception as exc:
                self.error(element, stage, stage, exc)
        return out

    def finish(self, stage: str, n_in: int, good: list[Any], tagged: _Collector | None) -> None:
        """Counts a stage as ``finish_stage`` does (in, out, rejected per reason, errors)."""
        self.counts.append((stage, "in", "", n_in))
        self.counts.append((stage, "out", "", len(good)))
        from beam_cqia.transforms._stage import error_record

        for element, (exc_type, exc_repr, tb) in tagged.tagged.get("errors", []) if tagged else []:
            kind = getattr(exc_type, "__name__", str(exc_type))
            self.errors.append(error_record(element, stage, kind, exc_repr, "".join(tb)))
        rejected = (tagged.tagged.get("rejected", []) if tagged else []) or []
        self.rejected += rejected
        by_reason: dict[str, int] = {}
        for r in rejected:
            by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
        for reason, n in sorted(by_reason.items()):
            self.counts.append((stage, "rejected", reason, n))
        errors = [e for e in self.errors if e.stage == stage]
        if errors:
            self.counts.append((stage, "errors", "", len(errors)))
            kinds: dict[str, int] = {}
            for e in errors:
                kinds[e.kind] = kinds.get(e.kind, 0) + 1
            for kind, n in sorted(kinds.items()):
                self.counts.append((stage, "error_kinds", kind, n))


def _batches(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def run_loop(input_glob: str, out: str, quality_model: str, workers: int = 1) -> dict[str, Any]:
    """The pipeline as a plain loop over in-memory lists (see the module docstring)."""
    from apache_beam.utils import shared

    from beam_cqia.transforms import components, dedup, ingest, neardup, quality, rebuild, tagging

    loop = _Loop()
    conf = stages(quality_model)

    # ReadCrawl
    files = sorted(glob.glob(input_glob))
    reader = ingest._ReadUnits("web", "web", 64 << 20, None, "file", None, "ReadCrawl", "ReadCrawl")
    adapt = ingest._AdaptFn("ReadCrawl", "ReadCrawl", "web", None)
    reader.setup()
    adapt.setup()
    units = [u for f in files for u in reader.process((f, "jsonl", 0, None))]
    read = loop.each(adapt, units, "ReadCrawl")
    docs = read.main
    loop.counts.append(("ReadCrawl", "in", "", len(units)))
    loop.counts.append(("ReadCrawl", "out", "", len(read.tagged.get("adapted", []))))
    loop.counts.append(("ReadCrawl", "emitted", "", len(docs)))
    loop.rejected += read.tagged.get("rejected", [])

    # NormalizeText
    nt = conf["NormalizeText"]
    fn = ingest._NormalizeFn(
        "NormalizeText",
        "NormalizeText",
        shared.Shared(),
        nt._base,
        nt._by_source,
        nt._fields,
        nt._meta,
    )
    fn.setup()
    normalized = loop.each(fn, docs, "NormalizeText").main
    loop.finish("NormalizeText", len(docs), normalized, None)

    # DedupExact: keys, groups in a dict, the same pick
    de = conf["DedupExact"]
    key_fn = dedup._KeyFn("DedupExact", shared.Shared(), de._opencc, de._fields)
    key_fn.setup()
    keyed = loop.each(key_fn, normalized, "DedupExact")
    groups: dict[str, list[Any]] = {}
    for key, record in keyed.main:
        groups.setdefault(key, []).append(record)
    pick = dedup._PickFn("DedupExact", "DedupExact", de._keep, de._fields, False)
    picked = _Collector()
    for key, members in groups.items():
        if key.startswith(dedup._UNKEYED):
            picked.main += members
        else:
            picked.take(pick.pick_group(key, members))
    exact = picked.main
    loop.finish("DedupExact", len(normalized), exact, picked)

    # DedupMinHash: signatures and LSH packs by the stage's own DoFns, buckets in a dict,
    # exact-Jaccard verification, union-find, the same pick.
    dm = conf["DedupMinHash"]
    norm = neardup._NormalizeFn("DedupMinHash", shared.Shared(), dm._opencc, dm._fields)
    norm.setup()
    texts = loop.each(norm, exact, "DedupMinHash")
    by_id = {rid: (text, record) for rid, text, record in texts.main}
    sign = neardup._SignFn(dm._params, False)
    sign.setup()
    sign.start_bundle()
    packs = _Collector()
    pairs = [(rid, text) for rid, text, _ in texts.main]
    for batch in _batches(pairs, dm._batch):
        packs.take(sign.process(batch))
    packs.take(sign.finish_bundle())
    shards: dict[int, list[Any]] = {}
    for shard, pack in packs.main:
        shards.setdefault(shard, []).append(pack)
    pairs_up_to = dm._pairs_up_to if dm._verify else 1
    edges = {e for item in shards.items() for e in neardup._shard_edges(item, pairs_up_to)}
    if dm._verify:
        from beam_cqia.text import minhash

        edges = {
            (a, b)
            for a, b in edges
            if minhash.jaccard(by_id[a][0], by_id[b][0], dm._ngram) >= dm._threshold
        }
    labels = components.component_labels(sorted(edges))
    clusters: dict[str, list[Any]] = {}
    singles = []
    for rid, (_, record) in by_id.items():
        label = labels.get(rid)
        if label is None:
            singles.append(record)
        else:
            clusters.setdefault(label, []).append(record)
    near_pick = neardup._PickFn("DedupMinHash", "DedupMinHash", dm._keep, dm._fields)
    near = _Collector()
    for label, members in clusters.items():
        near.take(near_pick._pick(label, members))
    near_good = near.main + singles + texts.tagged.get("empty", [])
    loop.finish("DedupMinHash", len(exact), near_good, near)

    # ScoreQuality: rule signals per record, models per batch
    sq = conf["ScoreQuality"]
    handle = shared.Shared()
    score = quality._ScoreFn(
        "ScoreQuality", "ScoreQuality", sq._rules, sq._meta_signals, handle, sq._lexicon, False
    )
    score.setup()
    scored = loop.each(score, near_good, "ScoreQuality").main
    model = quality._ModelFn("ScoreQuality", handle, sq._lid, sq._lid_model, sq._quality_model)
    model.setup()
    modelled = loop.each(model, _batches(scored, sq._batch), "ScoreQuality")
    loop.finish("ScoreQuality", len(near_good), modelled.main, modelled)

    # FilterByScore, RebuildFromTemplate, TagSchema
    fs = conf["FilterByScore"]
    filt = loop.each(
        quality._FilterFn("FilterByScore", "FilterByScore", fs._thresholds, fs._by_source),
        modelled.main,
        "FilterByScore",
    )
    loop.finish("FilterByScore", len(modelled.main), filt.main, filt)
    rb = conf["RebuildFromTemplate"]
    render = rebuild._RenderFn(
        "RebuildFromTemplate",
        "RebuildFromTemplate",
        rb._sources,
        rb._mapping,
        rb._min_chars,
        rb._by_source,
    )
    render.setup()
    rebuilt = loop.each(render, filt.main, "RebuildFromTemplate")
    loop.finish("RebuildFromTemplate", len(filt.main), rebuilt.main, rebuilt)
    ts = conf["TagSchema"]
    tagged = loop.each(
        tagging._TagFn("TagSchema", "TagSchema", ts._defaults), rebuilt.main, "TagSchema"
    )
    loop.finish("TagSchema", len(rebuilt.main), tagged.main, None)
    write_loop(tagged.main, loop, out)
    return {}


def write_loop(records: list[Any], loop: _Loop, out: str) -> None:
    """WriteCqiaParquet's per-record work and finalization, without Beam."""
    from beam_cqia import card, layout
    from beam_cqia.records import CqiaRecord, ErrorRecord, Rejected
    from beam_cqia.text.ids import stable_bucket
    from beam_cqia.transforms import _report_stats as rs
    from beam_cqia.transforms import sinks

    sink = "WriteCqiaParquet"
    w = sinks.WriteCqiaParquet(out)
    files, plans = [], []
    kinds = {
        "data": (records, CqiaRecord, w._partition_by),
        "rejected": (loop.rejected, Rejected, sinks.SIDE_PARTITION_BY),
        "errors": (loop.errors, ErrorRecord, sinks.SIDE_PARTITION_BY),
    }
    for kind, (items, rtype, keys) in kinds.items():
        partitions: dict[str, list[Any]] = {}
        for r in items:
            pdir = layout.partition_dir(keys, [getattr(r, k) for k in keys])
            partitions.setdefault(pdir, []).append(r)
        writer = sinks._WriteShardFn(
            w._path, kind, rtype, keys, w._rg, w._compression, "WriteCqiaParquet"
        )
        writer.setup()
        for pdir, members in partitions.items():
            shards = layout.shard_count(len(members), w._max)
            plans.append((kind, pdir, shards))
            by_shard: dict[int, list[Any]] = {}
            for r in members:
                by_shard.setdefault(stable_bucket(r.id, shards), []).append(r)
            for shard, group in by_shard.items():
                files.append(writer.write((pdir, shard, shards), group))
    counts = [*loop.counts, (sink, "in", "", len(records))]

    # The dataset card's statistics (sinks._CardStats: one bundle's partials are the totals)
    # and the run report's (ReportStats).
    fields = tuple(f for f in card.LENGTH_FIELDS if f in CqiaRecord._fields)
    partials = sinks._CardPartialsFn(fields)
    partials.start_bundle()
    for r in records:
        partials.process(r)
    stats: list[Any] = []
    tops: dict[str, Any] = {}
    top_fn = sinks._TopWithRestFn(card.TOP)
    for kind, key, value in (wv.value for wv in partials.finish_bundle()):
        if kind == "subset":
            stats.append(("subset", key, value))
        elif kind == "length":
            stats.append(("length", key[0], key[1], card.length_summary(value)))
        else:
            dist, label = key
            acc = tops.get(dist) or top_fn.create_accumulator()
            tops[dist] = top_fn.add_input(acc, (value, label))
    stats += [("labels", d, top_fn.extract_output(a)) for d, a in tops.items()]

    kept_fn = rs._ProfileFn(fields, False)
    kept = kept_fn.create_accumulator()
    for r in records:
        kept_fn.add_input(kept, r)
    dropped_fn = rs._ProfileFn((), True)
    dropped = dropped_fn.create_accumulator()
    sizes: dict[str, list[Any]] = {}
    examples: dict[tuple[str, str], list[Any]] = {}
    for r in loop.rejected:
        dropped_fn.add_input(dropped, r)
        if r.cluster_id:
            size = sizes.setdefault(r.cluster_id, [0, r.kept_id])
            size[0] += 1
            size[1] = min(size[1], r.kept_id)
        examples.setdefault((r.stage, r.reason), []).append((rs._rank(0, r.stage, r.id), r.id, r))
    summary_fn = rs._ClusterSummaryFn()
    summary = summary_fn.create_accumulator()
    for cluster, (n, kept_id) in sizes.items():
        summary_fn.add_input(summary, (n + 1, cluster, kept_id))
    report: list[Any] = [("lengths", kept[0]), ("signals", kept[1]), ("signals", dropped[1])]
    report.append(("clusters", summary))
    from beam_cqia import report_html

    for (stage, reason), ranked in examples.items():
        top = sorted(ranked, key=lambda v: (v[0], v[1]))[: report_html.EXAMPLES]
        shown = [rs._rejected_example(rank, r) for rank, _, r in top]
        report.append(("examples", "rejected", stage, reason, shown))
    errors: dict[tuple[str, str], list[Any]] = {}
    for e in loop.errors:
        errors.setdefault((e.stage, e.kind), []).append((rs._rank(0, e.stage, e.id), e.id, e))
    for (stage, kind), ranked in errors.items():
        top = sorted(ranked, key=lambda v: (v[0], v[1]))[: report_html.EXAMPLES]
        shown = [rs._error_example(rank, e) for rank, _, e in top]
        report.append(("examples", "errors", stage, kind, shown))

    order = [(s, s) for s in dict.fromkeys(c[0] for c in loop.counts)] + [(sink, sink)]
    schemas = {k: (t, keys) for k, (_, t, keys) in kinds.items()}
    finalize = sinks._FinalizeFn(
        w._path, sink, order, schemas, list(w._partition_by), w._rg, w._compression, {}
    )
    list(finalize.process(files, plans, counts, stats, report))


# --- outputs ------------------------------------------------------------------------------


def output_digest(out: str) -> dict[str, Any]:
    """Rows and a fingerprint of the written data (id, instruction, output, signals) and of the
    rejections (id, stage, reason, kept id): equal digests = the same kept and dropped records."""
    import pyarrow.parquet as pq
    import xxhash

    result: dict[str, Any] = {}
    for kind, columns in (
        ("data", ["id", "instruction", "output", "signals"]),
        ("rejected", ["id", "stage", "reason", "kept_id"]),
    ):
        paths = sorted(glob.glob(os.path.join(out, kind, "**", "*.parquet"), recursive=True))
        rows: list[str] = []
        for path in paths:
            table = pq.read_table(path, columns=columns)
            for row in table.to_pylist():
                if "signals" in row:
                    row["signals"] = sorted((k, round(v, 6)) for k, v in row["signals"])
                rows.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
        rows.sort()
        result[kind] = len(rows)
        result[f"{kind}_digest"] = xxhash.xxh64_hexdigest("\n".join(rows).encode())
    manifest = Path(out) / "_manifest.json"
    if manifest.is_file():
        stages_ = json.loads(manifest.read_text(encoding="utf-8")).get("stages", {})
        result["stages"] = {
            name: {k: v for k, v in s.items() if k in ("in", "out", "rejected", "errors")}
            for name, s in (stages_.items() if isinstance(stages_, dict) else [])
        }
    return result


# --- child process ------------------------------------------------------------------------


def child(args: argparse.Namespace) -> dict[str, Any]:
    one_core()
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    run: Callable[..., Any] = run_beam if args.child == "beam" else run_loop
    import apache_beam  # noqa: F401 - imports are not the work measured

    import beam_cqia.transforms  # noqa: F401

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    load = os.getloadavg()[0]
    wall, cpu = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    run(args.input, args.out, args.quality_model, args.workers)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    usage = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "side": args.child,
        "workers": args.workers,
        "cpu": cpu,
        "wall": wall,
        "cpu_children": kids.ru_utime + kids.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
        "rss_children_mb": kids.ru_maxrss / 1024,
        "load_start": load,
        "load_end": os.getloadavg()[0],
        "output": output_digest(args.out),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("beam", "loop"), required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quality-model", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--profile", help="write cProfile stats of the run here")
    args = parser.parse_args()
    print("RESULT " + json.dumps(child(args)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
