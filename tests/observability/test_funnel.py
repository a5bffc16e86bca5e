"""The funnel printed after a run is read from Beam's counters and equals the manifest, with
committed values only (PortableRunner) as with attempted ones (FnApiRunner fills both)."""

import copy

import pytest
from apache_beam.metrics.execution import MetricKey, MetricResult
from apache_beam.metrics.metricbase import MetricName

from beam_cqia import report


def _counters(manifest: dict, committed: bool, attempted: bool) -> list[MetricResult]:
    """Beam counters as the stages count them, from a manifest."""
    out = []

    def add(stage: str, kind: str, name: str, value: int, detail: bool = False) -> None:
        ns = f"beam_cqia.{kind}" + (".detail" if detail else "")
        key = MetricKey(f"{stage}/Step", MetricName(ns, name))
        out.append(MetricResult(key, value if committed else None, value if attempted else None))

    for stage, s in manifest["stages"].items():
        kind = s["transform"]
        add(stage, kind, "seen", s["in"])
        add(stage, kind, "passed", s["out"])
        if s["errors"]:
            add(stage, kind, "errors", s["errors"])
        if "emitted" in s:
            add(stage, kind, "emitted", s["emitted"], detail=True)
        for reason, n in s["rejected"].items():
            add(stage, kind, f"filtered:{reason}", n)
        for error_kind, n in s.get("error_kinds", {}).items():
            add(stage, kind, f"error_kind:{error_kind}", n, detail=True)
    return out


@pytest.mark.parametrize(
    ("committed", "attempted"), [(True, True), (True, False), (False, True)], ids=str
)
def test_funnel_from_counters_equals_the_manifest(demo_run, committed, attempted):
    manifest = report.read_manifest(str(demo_run.out))
    counters = _counters(manifest, committed, attempted)
    funnel = report.funnel_from_metrics(counters, manifest)
    for name, s in manifest["stages"].items():
        got = funnel["stages"][name]
        for key in ("in", "out", "errors", "rejected"):
            assert got[key] == s[key], (name, key)
        assert got.get("emitted") == s.get("emitted")
        assert got.get("error_kinds", {}) == s.get("error_kinds", {})
    assert report.format_funnel(funnel) == report.format_funnel(manifest)
    assert report.metric_mismatches(counters, manifest) == []


def test_a_counter_that_disagrees_is_reported(demo_run):
    manifest = report.read_manifest(str(demo_run.out))
    wrong = copy.deepcopy(manifest)
    wrong["stages"]["ReadZhihu"]["error_kinds"]["ValueError"] += 1
    wrong["stages"]["FilterByScore"]["rejected"]["answer_too_short"] -= 1
    problems = report.metric_mismatches(_counters(wrong, True, True), manifest)
    assert len(problems) == 2
    assert problems[0].startswith("ReadZhihu:") and "error_kinds" in problems[0]
    assert problems[1].startswith("FilterByScore:")


def test_the_cli_prints_the_counters_funnel_and_the_report(demo_run):
    out = demo_run.stdout
    manifest = report.read_manifest(str(demo_run.out))
    assert report.format_funnel(manifest) in out
    stages = len(manifest["stages"])
    assert f"counters: Beam's agree with the manifest on all {stages} stages" in out
    assert f"report: {demo_run.out}/report.html" in out
    assert (demo_run.out / "report.html").is_file()
    assert "COUNT MISMATCH" not in demo_run.stderr
