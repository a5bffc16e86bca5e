"""pipelines/demo.yaml end to end on FnApiRunner: golden output, conservation, counters."""

import hashlib
import itertools
import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from beam_cqia import report, spec
from beam_cqia.layout import KINDS
from tests.conftest import REPO

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "demo"
DEMO_SPEC = REPO / "pipelines" / "demo.yaml"
# Tracebacks name files and lines of this checkout: compared elsewhere, not in goldens.
VOLATILE = {"stack"}


def _portable(value, replacements):
    if isinstance(value, str):
        for old, new in replacements:
            value = value.replace(old, new)
        return value
    if isinstance(value, dict):
        return {k: _portable(v, replacements) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_portable(v, replacements) for v in value]
    return value


def _rows(out: Path, kind: str, replacements) -> list[dict]:
    root = out / kind
    if not root.exists():
        return []
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    rows = []
    for row in table.to_pylist():
        if "signals" in row:  # Arrow maps read back as pairs
            row["signals"] = dict(sorted(row["signals"]))
        for field in ("record", "element"):
            if field in row:
                row[field] = json.loads(row[field])
        rows.append(_portable(row, replacements))
    return sorted(rows, key=lambda r: (r["id"], r.get("stage", "")))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    data = Path(spec.demo_data_dir())
    pipeline, _parsed = spec.build(
        str(DEMO_SPEC), {"input": str(data), "output": str(out)}, ["--runner=FnApiRunner"]
    )
    result = pipeline.run()
    result.wait_until_finish()
    replacements = [(str(data.resolve()), "<input>"), (str(data), "<input>")]
    return out, result, replacements


def test_every_stage_conserves_records(demo_run):
    out, _, _ = demo_run
    manifest = report.read_manifest(str(out))
    assert list(manifest["stages"]) == [
        "ReadZhihu",
        "ReadBaike",
        "ReadExam",
        "NormalizeText",
        "DedupExact",
        "ScoreQuality",
        "FilterByScore",
        "RebuildFromTemplate",
        "TagSchema",
        "WriteCqiaParquet",
    ]
    for name, s in manifest["stages"].items():
        assert s["in"] == s["out"] + sum(s["rejected"].values()) + s["errors"], name
    stages = manifest["stages"]
    # what each stage emits is what the next receives
    emitted = sum(stages[r]["emitted"] for r in ("ReadZhihu", "ReadBaike", "ReadExam"))
    assert stages["NormalizeText"]["in"] == emitted
    chain = list(stages)[3:]
    for before, after in itertools.pairwise(chain):
        assert stages[after]["in"] == stages[before]["out"], (before, after)
    # and what was written is what the stages say
    outputs = manifest["outputs"]
    assert outputs["data"]["records"] == stages["TagSchema"]["out"]
    assert outputs["rejected"]["records"] == sum(
        sum(s["rejected"].values()) for s in stages.values()
    )
    assert outputs["errors"]["records"] == sum(s["errors"] for s in stages.values())


def test_manifest_equals_beam_counters(demo_run):
    out, result, _ = demo_run
    manifest = report.read_manifest(str(out))
    counters = result.metrics().query()["counters"]
    assert report.metric_mismatches(counters, manifest) == []
    by_stage = report.metrics_by_stage(counters, manifest)
    assert by_stage["FilterByScore"]["rejected"] == manifest["stages"]["FilterByScore"]["rejected"]
    assert by_stage["DedupExact"]["in"] > 0


def test_demo_exercises_every_kind_of_outcome(demo_run):
    out, _, _ = demo_run
    stages = report.read_manifest(str(out))["stages"]
    assert stages["DedupExact"]["rejected"]["duplicate"] >= 4
    assert stages["ReadZhihu"]["errors"] >= 2 and stages["ReadZhihu"]["rejected"]["no_answers"] == 1
    assert len(stages["FilterByScore"]["rejected"]) >= 4
    assert stages["NormalizeText"]["in"] >= 250


@pytest.mark.parametrize("kind", KINDS)
def test_output_matches_golden(demo_run, kind, update_goldens):
    out, _, replacements = demo_run
    rows = _rows(out, kind, replacements)
    golden = GOLDEN / f"{kind}.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    if update_goldens:
        golden.write_text(text, encoding="utf-8")
        pytest.skip(f"rewrote {golden}")
    assert golden.exists(), f"{golden} missing: run pytest --update-goldens"
    expected = golden.read_text(encoding="utf-8").splitlines()
    got = text.splitlines()
    assert len(got) == len(expected), f"{kind}: {len(got)} rows, golden has {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected, strict=False)):
        assert g == e, f"{kind} row {i} differs from golden (id {json.loads(e)['id']})"


def test_manifest_names_the_spec_and_the_inputs(demo_run):
    out, _, replacements = demo_run
    manifest = report.read_manifest(str(out))
    rendered = DEMO_SPEC.read_text(encoding="utf-8")
    assert manifest["spec"]["path"] == str(DEMO_SPEC)
    assert manifest["spec"]["variables"] == {"input": str(spec.demo_data_dir()), "output": str(out)}
    assert len(manifest["spec"]["sha256"]) == 64
    template = hashlib.sha256(rendered.encode("utf-8")).hexdigest()
    assert manifest["spec"]["template_sha256"] == template
    assert _portable(manifest["inputs"], replacements) == [
        ["ReadZhihu", "<input>/zhihu/*.jsonl"],
        ["ReadBaike", "<input>/baike/*.jsonl"],
        ["ReadExam", "<input>/exam/*.jsonl"],
    ]


def test_manifest_matches_golden(demo_run, update_goldens):
    out, _, _ = demo_run
    manifest = report.read_manifest(str(out))
    for volatile in ("versions", "spec", "inputs"):  # checked in the test above
        manifest.pop(volatile)
    golden = GOLDEN / "manifest.json"
    text = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    if update_goldens:
        golden.write_text(text, encoding="utf-8")
        pytest.skip(f"rewrote {golden}")
    assert json.loads(golden.read_text(encoding="utf-8")) == json.loads(text)


def test_published_fields_are_complete(demo_run):
    out, _, replacements = demo_run
    for row in _rows(out, "data", replacements):
        assert row["instruction"] and row["output"]
        assert row["metadata"] and row["copyright"]
        assert row["answer_from"] == "human" and row["human_verified"] is False
        assert row["task_type"]["major"][0] in ("问答", "试题")
        assert row["template_id"].split("#")[0] in (
            "zhihu_qa.v1",
            "baike_article.v1",
            "exam_question.v1",
        )
