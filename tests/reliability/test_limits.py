"""Small versions of the limits in README "Limits" (measured at full size by
benchmarks/bench_limits.py): a record over max_record_bytes is skipped without being held in
memory, a file of many tiny records is streamed, and deeply nested HTML is handled."""

import json
import tracemalloc
from pathlib import Path

import apache_beam as beam
from apache_beam.io.filesystem import FileMetadata
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from beam_cqia import report
from beam_cqia.transforms import NormalizeText, ReadCrawl, WriteCqiaParquet
from beam_cqia.transforms.ingest import _PlanReads, _ReadUnits

LINE = "绿萝喜欢温暖湿润的环境，怕强光直射，冬天减少浇水。"
MB = 1 << 20


def _write_lines(path: Path, n: int, huge_bytes: int = 0) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps({"text": f"{LINE}第{i}条。"}, ensure_ascii=False) + "\n")
        if huge_bytes:
            fh.write('{"text": "' + "长" * (huge_bytes // 3) + '"}\n')


def _read_peak(path: Path, cap: int, fmt: str = "jsonl") -> tuple[list[str], int]:
    """Reads a file with ReadCrawl's reader DoFns; returns the kinds of the units in order, run
    length encoded (["bytes x3", "Oversize x1"]), and the peak of Python allocations while
    reading (tracemalloc)."""
    planner = _PlanReads(fmt, 1 << 62, "file")
    reader = _ReadUnits("text", "text", cap, None, "file")
    for fn in (planner, reader):
        fn.setup()
    runs: list[list] = []
    tracemalloc.start()
    try:
        for plan in planner.process(FileMetadata(str(path), path.stat().st_size)):
            for unit in reader.process(plan):  # each unit is passed on, as by a runner
                kind = type(unit.payload).__name__
                if runs and runs[-1][0] == kind:
                    runs[-1][1] += 1
                else:
                    runs.append([kind, 1])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return [f"{kind} x{n}" for kind, n in runs], peak


def test_a_record_over_the_cap_is_skipped_without_being_held(tmp_path):
    path = tmp_path / "huge.jsonl"
    _write_lines(path, 3, huge_bytes=60 * MB)
    units, peak = _read_peak(path, cap=1 * MB)
    assert units == ["bytes x3", "Oversize x1"]
    # One cap's worth and a 1 MB skipping buffer or two, never the line.
    assert peak < 6 * MB, f"{peak / MB:.1f} MB held for a 60 MB line with a 1 MB cap"


def test_a_json_array_item_over_the_cap_is_an_error_and_quick(tmp_path):
    """ijson builds items whole (and took 32 s for a 24 MB string with its default reads): an
    item over the cap is dropped as Oversize, and building it stays linear."""
    import time

    path = tmp_path / "items.json"
    path.write_text(
        '[{"text": "短"}, {"text": "' + "长" * (8 * MB) + '"}, {"text": "短"}]', encoding="utf-8"
    )
    start = time.perf_counter()
    units, _ = _read_peak(path, cap=4 * MB, fmt="json")
    assert units == ["dict x1", "Oversize x1", "dict x1"]
    assert time.perf_counter() - start < 10


def test_many_tiny_records_are_streamed(tmp_path):
    path = tmp_path / "tiny.jsonl"
    _write_lines(path, 100_000)
    units, peak = _read_peak(path, cap=16 * MB)
    assert units == ["bytes x100000"]
    # The file is 7 MB; the reader holds a line and its 1 MB read buffer at a time.
    assert peak < 1 * MB, f"{peak / MB:.1f} MB held while streaming a {path.stat().st_size} B file"


def test_limits_end_to_end(tmp_path):
    """20,000 tiny records and one 20 MB record (over the default 16 MB cap) in one file, and a
    page nested 20,000 <div>s deep: every record is accounted for, the huge one as an error."""
    _write_lines(tmp_path / "lines.jsonl", 20_000, huge_bytes=20 * MB)
    page = "<div>" * 20_000 + f"<p>{LINE * 4}</p>" + "</div>" * 20_000
    (tmp_path / "deep.html").write_text(f"<html><body>{page}</body></html>", encoding="utf-8")
    out = tmp_path / "out"
    with beam.Pipeline(runner=FnApiRunner()) as p:
        lines = p | "Lines" >> ReadCrawl(str(tmp_path / "lines.jsonl"), source="text")
        pages = p | "Pages" >> ReadCrawl(str(tmp_path / "deep.html"), source="web")
        {"lines": lines, "pages": pages} | NormalizeText() | WriteCqiaParquet(str(out))
    stages = report.read_manifest(str(out))["stages"]
    assert (stages["Lines"]["in"], stages["Lines"]["out"]) == (20_001, 20_000)
    assert stages["Lines"]["error_kinds"] == {"RecordTooLargeError": 1}
    assert (stages["Pages"]["in"], stages["Pages"]["out"], stages["Pages"]["errors"]) == (1, 1, 0)
    assert stages["WriteCqiaParquet"]["out"] == 20_001
