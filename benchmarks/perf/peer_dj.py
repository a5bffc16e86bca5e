"""Data-Juicer's closest recipe to the beam-cqia benchmark pipeline, run inside Data-Juicer's own
virtual environment by ``bench_perf.py`` (never imported by beam_cqia).

    <dj-venv>/bin/python benchmarks/perf/peer_dj.py --input DIR --out DIR --lid-model FILE

Recipe (py-data-juicer 1.6.1, one process, ``np: 1``), on the CCNet-style ``raw_content`` field:
chinese_convert_mapper (t2s, OpenCC), clean_email_mapper, clean_links_mapper,
whitespace_normalization_mapper, punctuation_normalization_mapper, document_deduplicator
(lowercased, non-characters ignored), document_minhash_deduplicator (character 3-grams, 128
permutations, Jaccard 0.7, the same as DedupMinHash's defaults), text_length_filter (>= 200
characters), language_id_score_filter (zh, fastText lid.176: the .ftz beam-cqia ships, placed
where Data-Juicer looks for ``lid.176.bin``, since nothing can be downloaded here),
special_characters_filter, character_repetition_filter. Left out: flagged_words_filter (it
downloads its word list at run time; beam-cqia's sensitive_hits is not in the benchmark either);
Data-Juicer has no trainable fastText quality classifier op and no template rebuild or Parquet
sink (it writes JSON lines); those beam-cqia stages have no counterpart here.

Prints one ``RESULT {json}`` line: CPU (``process_time`` of the run, plus children) and wall time
of ``Executor.run()`` (imports and the model copy not included), peak RSS, documents in and out.
"""

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

RECIPE = [
    {"chinese_convert_mapper": {"mode": "t2s"}},
    {"clean_email_mapper": {}},
    {"clean_links_mapper": {}},
    {"whitespace_normalization_mapper": {}},
    {"punctuation_normalization_mapper": {}},
    {"document_deduplicator": {"lowercase": True, "ignore_non_character": True}},
    {
        "document_minhash_deduplicator": {
            "tokenization": "character",
            "window_size": 3,
            "num_permutations": 128,
            "jaccard_threshold": 0.7,
        }
    },
    {"text_length_filter": {"min_len": 200}},
    {"language_id_score_filter": {"lang": "zh", "min_score": 0.5}},
    {"special_characters_filter": {"min_ratio": 0.0, "max_ratio": 0.25}},
    {"character_repetition_filter": {"rep_len": 10, "min_ratio": 0.0, "max_ratio": 0.5}},
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="a directory of JSON-lines files")
    parser.add_argument("--out", required=True)
    parser.add_argument("--lid-model", required=True)
    parser.add_argument("--ops", help="comma-separated op names to keep (default: all)")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    cache = Path(args.out) / "dj_cache"
    models = cache / "models"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.lid_model, models / "lid.176.bin")  # fastText reads .ftz under any name
    os.environ["DATA_JUICER_CACHE_HOME"] = str(cache)
    os.environ["DATA_JUICER_MODELS_CACHE"] = str(models)
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from data_juicer.config import init_configs
    from data_juicer.core import DefaultExecutor

    recipe = RECIPE
    if args.ops:
        keep = set(args.ops.split(","))
        recipe = [op for op in RECIPE if next(iter(op)) in keep]
    files = sorted(str(p.resolve()) for p in Path(args.input).glob("*.jsonl"))
    config = {
        "project_name": "beam-cqia-bench",
        "dataset_path": " ".join(files),
        "export_path": str(Path(args.out) / "result.jsonl"),
        "np": 1,
        "text_keys": "raw_content",
        "use_cache": False,
        "open_tracer": False,
        "process": recipe,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        json.dump(config, fh)  # JSON is YAML
    cfg = init_configs(["--config", fh.name])
    executor = DefaultExecutor(cfg)
    wall, cpu = time.perf_counter(), time.process_time()
    dataset = executor.run()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    rows_in = sum(Path(f).read_bytes().count(b"\n") for f in files)
    result = {
        "cpu": cpu,
        "cpu_children": kids.ru_utime + kids.ru_stime,
        "wall": wall,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "docs_in": rows_in,
        "docs_out": len(dataset) if dataset is not None else None,
        "ops": [next(iter(op)) for op in recipe],
    }
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
