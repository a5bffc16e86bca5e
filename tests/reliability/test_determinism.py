"""Same spec, same input → the same bytes. tests/runners/test_runners.py compares the demo across
runners; this adds what it does not cover: a spec with every order-sensitive stage (exact and
near dedup, connected components, sampling, the JSON-lines export) run twice, the second time in
another process with another PYTHONHASHSEED (set and dict order, hash() salts) and with
multi_processing workers, compared file by file: Parquet, JSON lines, manifests and cards."""

import os
import subprocess
import sys
from pathlib import Path

from beam_cqia import cli
from tests.conftest import REPO

SPEC = """
pipeline:
  transforms:
    - {type: ReadCrawl, name: ReadZhihu, config: {path: "{{ input }}/zhihu/*.jsonl", source: zhihu}}
    - {type: ReadCrawl, name: ReadBaike, config: {path: "{{ input }}/baike/*.jsonl", source: baike}}
    - {type: ReadCrawl, name: ReadExam, config: {path: "{{ input }}/exam/*.jsonl", source: exam}}
    - type: NormalizeText
      input: {zhihu: ReadZhihu, baike: ReadBaike, exam: ReadExam}
    - {type: DedupExact, input: NormalizeText, config: {fields: [answer, body], keep: most_votes}}
    - {type: DedupMinHash, input: DedupExact, config: {fields: [answer, body], threshold: 0.5}}
    - {type: ScoreQuality, input: DedupMinHash}
    - type: RebuildFromTemplate
      input: ScoreQuality
      config:
        templates: {zhihu: zhihu_qa.v1, baike: baike_article.v1, exam: exam_question.v1}
    - {type: TagSchema, input: RebuildFromTemplate}
    - {type: SampleSubsets, input: TagSchema, config: {fractions: {zhihu: 0.5}, seed: 3}}
    - type: WriteCqiaParquet
      input: SampleSubsets
      config: {path: "{{ output }}", partition_by: [subset], max_records_per_file: 40}
    - {type: ExportCqiaJsonl, input: SampleSubsets, config: {path: "{{ output }}/jsonl"}}
"""
DATA = REPO / "beam_cqia" / "demo" / "data"


def _args(spec: Path, out: Path) -> list[str]:
    return ["run", str(spec), "--var", f"input={DATA}", "--var", f"output={out}"]


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_two_runs_in_different_processes_give_the_same_bytes(tmp_path):
    spec = tmp_path / "determinism.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    # The output path is written into the manifest and card (the spec's variables): both runs
    # use the same one, one after the other.
    out = tmp_path / "out"
    assert cli.main(_args(spec, out)) == 0
    first = _files(out)
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(REPO)}
    second_run = subprocess.run(
        [
            sys.executable,
            "-m",
            "beam_cqia.cli",
            *_args(spec, out),
            "--direct_num_workers=2",
            "--direct_running_mode=multi_processing",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        timeout=600,
    )
    assert second_run.returncode == 0, second_run.stderr.decode()[-3000:]
    second = _files(out)
    assert sorted(first) == sorted(second)
    parquet = [f for f in first if f.endswith(".parquet")]
    assert len(parquet) > 5 and any(f.startswith("rejected/") for f in parquet)
    assert any(f.startswith("jsonl/") for f in first)
    different = [f for f in first if first[f] != second[f]]
    assert different == [], _diff(first, second, different)


def _diff(first: dict[str, bytes], second: dict[str, bytes], names: list[str]) -> str:
    """The first differing lines of each text file (Parquet files are only named)."""
    import difflib

    out = []
    for name in names:
        if name.endswith(".parquet"):
            out.append(f"{name}: Parquet bytes differ")
            continue
        a = first[name].decode("utf-8", "replace").splitlines()
        b = second[name].decode("utf-8", "replace").splitlines()
        out.extend(list(difflib.unified_diff(a, b, name, name, lineterm="", n=0))[:12])
    return "\n".join(out)
