"""report.html: written next to the manifest by the sink, self-contained, with every chart the
issue asks for; loaded in a real headless Chromium with no console errors and no request beyond
the file itself, its charts drawn, and a screenshot kept for CI (test-artifacts/report.png)."""

import re

import pytest

from beam_cqia import report, report_html
from beam_cqia.explain import Output
from beam_cqia.report_html import Bin
from tests.conftest import REPO
from tests.observability.cdp import Browser, find_browser

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_HINT = "apt-get install -y chromium (Debian) to run it"


def _page(run) -> str:
    return (run.out / "report.html").read_text(encoding="utf-8")


def test_report_is_self_contained_and_names_no_output_path(demo_run):
    page = _page(demo_run)
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    # nothing is fetched: no external src, stylesheet, font or image
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#|data:)""", page)
    assert "url(" not in page and "@import" not in page
    assert str(demo_run.out) not in page  # reruns elsewhere give the same bytes


def test_report_has_the_funnel_subsets_domains_lengths_signals_and_clusters(demo_run):
    page = _page(demo_run)
    manifest = report.read_manifest(str(demo_run.out))
    charts = set(re.findall(r'data-chart="([^"]+)"', page))
    assert {"funnel", "subsets", "labels-domain", "length-instruction", "length-output"} <= charts
    assert "cluster-sizes" in charts
    data = list(Output(str(demo_run.out)).rows("data", ["signals"]))
    signals = {name for row in data for name in row["signals"]}
    assert {f"signal-{s}" for s in signals} <= charts  # every signal has its histogram
    # each FilterByScore threshold is drawn on its signal's chart
    for rule in manifest["stages"]["FilterByScore"]["thresholds"]:
        chart = page.split(f'data-chart="signal-{rule["signal"]}"', 1)[1].split("</svg>", 1)[0]
        assert f"<title>{rule['name']} " in chart, rule


def test_report_shows_examples_of_every_drop_reason_with_its_rule(demo_run):
    page = _page(demo_run)
    out = Output(str(demo_run.out))
    manifest = out.manifest
    rejected = {
        r["id"]: (r["stage"], r["reason"]) for r in out.rows("rejected", ["id", "stage", "reason"])
    }
    for stage, s in manifest["stages"].items():
        for reason, n in s["rejected"].items():
            heading = f"<h3>{stage} · {reason} <span class='muted'>{n:,} records</span></h3>"
            assert heading in page
            section = page.split(heading, 1)[1].split("<h3>", 1)[0]
            examples = re.findall(r'<tr><td class=""><code>([0-9a-f]{32})</code>', section)
            assert 1 <= len(examples) <= min(n, report_html.EXAMPLES)
            assert all(rejected[i] == (stage, reason) for i in examples)
    assert "rule: chars.answer ≥ 100 (sources: zhihu)" in page
    for stage, s in manifest["stages"].items():
        for kind in s.get("error_kinds", {}):
            assert f"<h3>{stage} · {kind} " in page


def test_quantized_histograms_rebin_and_place_thresholds():
    assert report_html.quantize(1234) == 1200
    assert report_html.quantize(87) == 87
    assert report_html.quantize(0.8681) == 0.86
    assert report_html.quantize(-0.0433) == -0.043
    assert report_html.quantize(float("nan")) is None
    assert report_html.choose_bins([0.0, 1.0]) == [Bin(0.0, 0.0), Bin(1.0, 1.0)]
    log_bins = report_html.choose_bins([0.0, *range(1, 40), 5000.0])
    assert log_bins[0] == Bin(0.0, 0.0) and log_bins[1].lo == 1.0 and log_bins[-1].hi > 5000
    assert report_html.bin_counts(log_bins, {0.0: 2, 1.0: 1, 1.4: 1, 5000.0: 3})[:3] == [2, 2, 0]
    exact = [Bin(0.0, 0.0), Bin(1.0, 1.0), Bin(2.0, 2.0)]
    assert report_html.threshold_position(exact, 0, "max") == 1.0  # between 0 and 1
    assert report_html.threshold_position(exact, 1, "min") == 1.0  # before 1
    linear = [Bin(0.0, 0.5), Bin(0.5, 1.0)]
    assert report_html.threshold_position(linear, 0.75, "min") == pytest.approx(1.5)


JS_CHECK = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')];
  const drawn = charts.filter(svg => {
    const box = svg.getBoundingClientRect();
    const bars = [...svg.querySelectorAll('rect.bar')].filter(b => {
      const r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0; });
    return box.width > 0 && box.height > 0 && bars.length > 0;
  });
  return {charts: charts.length, drawn: drawn.map(s => s.dataset.chart),
          thresholds: [...document.querySelectorAll('line.threshold')]
            .filter(l => l.getBoundingClientRect().height > 0).length,
          sections: [...document.querySelectorAll('section')].map(s => s.id),
          title: document.title};
})()"""


def test_report_renders_in_headless_chromium(demo_run):
    browser = find_browser()
    if browser is None:
        pytest.skip(f"no Chromium found; {CHROMIUM_HINT}")
    pytest.importorskip("websockets", reason="the DevTools client needs websockets (dev extra)")
    page_path = (demo_run.out / "report.html").resolve()
    with Browser(browser) as b:
        page = b.open(page_path.as_uri())
        result = page.evaluate(JS_CHECK)
        shot = ARTIFACTS / "report.png"
        width, height = page.screenshot(shot)
        problems = page.problems()
        requests = page.requests()
    assert problems == []
    assert requests == [page_path.as_uri()]  # the page only: nothing else is fetched
    assert result["title"] == "beam-cqia run report"
    assert result["sections"] == [
        "funnel",
        "labels",
        "lengths",
        "signals",
        "dedup",
        "drops",
        "errors",
    ]
    assert len(result["drawn"]) == result["charts"] >= 30  # every chart has visible bars
    manifest = report.read_manifest(str(demo_run.out))
    assert result["thresholds"] == len(manifest["stages"]["FilterByScore"]["thresholds"])
    assert shot.stat().st_size > 50_000 and height > 3000 and width == 1280
