"""Progress of local runs: tallies reach the launcher from in-process and multi_processing
workers, the final counts equal the manifest, log lines are rate-limited, the live table redraws
in place, and the estimate of what is done follows the stages."""

import io
import json
import os
import re
import time

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia import progress, report
from beam_cqia.progress import StageCounts, StageInfo
from beam_cqia.transforms._stage import count_partial, total_counts
from tests.conftest import new_pipeline
from tests.observability.conftest import DATA, DEMO, run_cli

_STAGE = re.compile(r"(\S+) ([\d,]+)>([\d,]+)(?: \(-([\d,]+)\))?")


def _final_counts(stderr: str) -> dict[str, tuple[int, int, int]]:
    """stage → (in, passed on, rejected + errors) from the final progress line."""
    finals = [line for line in stderr.splitlines() if line.startswith("beam-cqia progress (final)")]
    assert len(finals) == 1, stderr[-2000:]
    stages = finals[0].split(" | ", 1)[1]
    out = {}
    for name, n_in, n_on, n_off in _STAGE.findall(stages):
        out[name] = tuple(int(x.replace(",", "") or 0) for x in (n_in, n_on, n_off))
    return out


def _expected(manifest: dict) -> dict[str, tuple[int, int, int]]:
    return {
        name: (
            s["in"],
            s.get("emitted", s["out"]),
            sum(s["rejected"].values()) + s["errors"],
        )
        for name, s in manifest["stages"].items()
    }


def test_final_progress_equals_the_manifest_in_memory(demo_run):
    manifest = report.read_manifest(str(demo_run.out))
    assert _final_counts(demo_run.stderr) == _expected(manifest)
    size = sum(f.stat().st_size for f in DATA.glob("*/*.jsonl"))  # what the spec reads
    assert (
        f"input {progress.format_bytes(size)} of {progress.format_bytes(size)}" in demo_run.stderr
    )


def test_progress_log_lines_are_rate_limited(demo_run):
    lines = [x for x in demo_run.stderr.splitlines() if x.startswith("beam-cqia progress:")]
    ran = re.search(r"beam-cqia: ran for (\d+):(\d+)", demo_run.stderr)
    assert ran, demo_run.stderr[-2000:]
    seconds = int(ran[1]) * 60 + int(ran[2])
    assert 1 <= len(lines) <= seconds / 0.5 + 2
    # the stages show up as they start, with a rate and an estimate once input was read
    assert any("records/s" in x for x in lines)
    assert any(re.search(r"~\d+% done", x) for x in lines)


def test_multi_processing_workers_report_through_the_launcher(tmp_path):
    run = run_cli(
        tmp_path / "out",
        DEMO,
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
        "--progress",
        "log",
        "--progress-interval",
        "1",
    )
    assert run.code == 0, run.stderr[-3000:]
    manifest = report.read_manifest(str(run.out))
    assert _final_counts(run.stderr) == _expected(manifest)


def test_partial_counts_sum_like_count_globally_and_keep_a_tally(monkeypatch, tmp_path):
    monkeypatch.setenv(progress.ENV, str(tmp_path))
    p = new_pipeline()
    some = p | "Some" >> beam.Create(list(range(7)), reshuffle=False)
    none = p | "None" >> beam.Create([]).with_output_types(int)
    parts = [
        count_partial(some, "Some", "S", "in"),
        count_partial(none, "None", "S", "out"),
        count_partial(some, "Parity", "S", "rejected", key=lambda n: "odd" if n % 2 else "even"),
    ]
    totals = total_counts(parts, [("S", "in"), ("S", "out")], "Totals")
    assert_that(
        totals,
        equal_to(
            [
                ("S", "in", "", 7),
                ("S", "out", "", 0),
                ("S", "rejected", "even", 4),
                ("S", "rejected", "odd", 3),
            ]
        ),
    )
    p.run().wait_until_finish()
    progress.flush()
    progress._retire(str(tmp_path))  # stop this test's reporter thread
    tallies = {}
    for f in tmp_path.glob("*.json"):
        for row in json.loads(f.read_text())["counts"]:
            tallies[tuple(row[:3])] = tallies.get(tuple(row[:3]), 0) + row[3]
    assert tallies.get(("S", "in", "")) == 7
    assert tallies.get(("S", "rejected", "odd")) == 3


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _wait_for(predicate, seconds: float = 10.0) -> None:
    end = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_watch_collects_tallies_and_redraws_a_live_table(monkeypatch):
    monkeypatch.setattr(progress, "WRITE_SECONDS", 0.05)
    monkeypatch.setattr(progress, "LIVE_SECONDS", 0.05)
    stages = [StageInfo("Read", "ReadCrawl"), StageInfo("Norm", "NormalizeText", ("Read",))]
    screen = _Tty()
    with progress.Watch(stages, "auto", stream=screen) as watch:
        assert watch.mode == "live"
        directory = os.environ[progress.ENV]
        read_in = progress.tally("Read", "in")
        total = progress.tally("Read", "bytes_total")
        done = progress.tally("Read", "bytes_read")
        units = progress.tally("Read", "units_read")
        norm_in = progress.tally("Norm", "in")
        rejected = progress.tally("Norm", "rejected")
        total.n, done.n, units.n, read_in.n = 1000, 500, 10, 10
        norm_in.n = 5
        rejected.add_key("too_short", 2)
        _wait_for(lambda: watch.lines_written >= 3 and watch.last_frame.counts["Norm"].seen)
        frame = watch.last_frame
    assert frame.counts["Read"].records_in == 10
    assert frame.counts["Norm"].rejected == 2
    # half the bytes gave 10 records: 20 expected in each stage, 15 of 40 seen
    assert frame.fraction == pytest.approx(15 / 40)
    text = screen.getvalue()
    assert "\x1b[" in text and "Norm" in text and "of 1.0 kB" in text
    last = re.sub(r"\x1b\[\d*[A-Za-z]", "", text.rstrip().splitlines()[-1])
    assert last.startswith("beam-cqia: ran for")  # the table was cleared
    assert progress.ENV not in os.environ and not os.path.exists(directory)


def test_log_lines_come_at_most_every_interval(monkeypatch):
    monkeypatch.setattr(progress, "WRITE_SECONDS", 0.05)
    out = io.StringIO()
    with progress.Watch([StageInfo("A", "X")], "log", stream=out, log_seconds=0.3) as watch:
        t = progress.tally("A", "in")
        for _ in range(12):
            t.n += 1
            time.sleep(0.1)
        written = watch.lines_written
    lines = out.getvalue().splitlines()
    assert 2 <= written <= 5  # 1.2 s at one line per 0.3 s
    assert len(lines) == written + 2  # and the final line, and how long it ran
    assert lines[-2].startswith("beam-cqia progress (final)") and "A 12>0" in lines[-2]


def test_estimate_follows_the_stage_graph():
    stages = [
        StageInfo("R1", "ReadCrawl"),
        StageInfo("R2", "ReadCrawl"),
        StageInfo("M", "NormalizeText", ("R1", "R2")),
        StageInfo("F", "FilterByScore", ("M",)),
    ]
    counts = {
        "R1": StageCounts(
            records_in=10,
            records_out=10,
            emitted=20,
            units_read=10,
            bytes_read=100,
            bytes_total=100,
        ),
        "R2": StageCounts(records_in=0, units_read=5, bytes_read=50, bytes_total=100),
        "M": StageCounts(records_in=20, records_out=20),
        "F": StageCounts(records_in=10, records_out=5, rejected=5),
    }
    # R1 expects 10 records, R2 10 (5 read for half its bytes), M 20 from R1 (2 docs per
    # record) and 10 from R2 (nothing left it yet: ratio 1), F all of M's 30.
    assert progress.estimate_fraction(stages, counts) == pytest.approx((10 + 0 + 20 + 10) / 80)
    unknown = [StageInfo("Q", "ReadCqiaParquet")]
    assert progress.estimate_fraction(unknown, {"Q": StageCounts(records_in=5)}) is None


def test_render_shows_each_stage_that_has_started():
    stages = [StageInfo("ReadZhihu", "ReadCrawl"), StageInfo("Dedup", "DedupExact")]
    counts = progress.stage_counts(
        {
            ("ReadZhihu", "in", ""): 44,
            ("ReadZhihu", "out", ""): 41,
            ("ReadZhihu", "emitted", ""): 131,
            ("ReadZhihu", "rejected", "no_answers"): 1,
            ("ReadZhihu", "errors", ""): 2,
            ("ReadZhihu", "bytes_total", ""): 2_000_000,
            ("ReadZhihu", "bytes_read", ""): 1_000_000,
        },
        stages,
    )
    frame = progress.Frame(
        elapsed=75, stages=stages, counts=counts, rates={"ReadZhihu": 12.5}, fraction=0.25
    )
    table = progress.render_table(frame)
    assert table[0] == ("beam-cqia: elapsed 1:15, input 1.0 MB of 2.0 MB, ~25% done, ETA ~3:45")
    assert "Dedup" not in "\n".join(table)
    assert re.search(r"ReadZhihu\s+44\s+41 \(131 docs\)\s+1\s+2\s+12\.5/s", table[2])
    line = progress.render_line(frame)
    assert "ReadZhihu 44>131 (-3)" in line and "12 records/s" in line
