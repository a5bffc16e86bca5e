"""Conservation under injected faults: every input record ends up exactly once in data, rejected
or errors, and failed or repeated work leaves no duplicate records or files.

Each input carries a unique marker (``〔R0007〕``) in its title, so it can be found in a data row
(the instruction), a rejected row (the record's JSON) or an error row (the element's JSON)."""

import json
import pickle
import subprocess
import sys
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pytest
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from beam_cqia import report
from beam_cqia.transforms import (
    DedupExact,
    FilterByScore,
    NormalizeText,
    ReadCrawl,
    RebuildFromTemplate,
    ScoreQuality,
    TagSchema,
    WriteCqiaParquet,
    _packs,
    ingest,
    quality,
    rebuild,
    sinks,
    tagging,
)
from tests.conftest import REPO
from tests.reliability import faults

N, DUPLICATES, SHORT = 40, 3, 3
FAIL_IN_ADAPTER = {4, 31}


def build(p: beam.Pipeline, input_glob: str, out: str, kill: tuple[str, str] | None = None) -> None:
    """ReadCrawl → NormalizeText → DedupExact → ScoreQuality → FilterByScore →
    RebuildFromTemplate → TagSchema → WriteCqiaParquet, optionally with a KillOnce step."""
    docs = p | "Read" >> ReadCrawl(input_glob, source="tests.reliability.faults.flaky_baike")
    if kill is not None:
        docs = docs | "Kill" >> beam.ParDo(faults.KillOnce(*kill)).with_output_types(
            docs.element_type
        )
    (
        docs
        | "Normalize" >> NormalizeText()
        | "Dedup" >> DedupExact(fields=["body"])
        | "Score" >> ScoreQuality()
        | "Filter"
        >> FilterByScore(rules=[{"signal": "chars.body", "min": 50, "name": "body_too_short"}])
        | "Rebuild" >> RebuildFromTemplate(templates={"baike": "baike_article.v1"})
        | "Tag" >> TagSchema()
        | "Write" >> WriteCqiaParquet(out)
    )


def build_short(p: beam.Pipeline, input_glob: str, out: str, kill: tuple | None = None) -> None:
    """ReadCrawl → (KillOnce) → NormalizeText → WriteCqiaParquet: the kill tests need no more."""
    docs = p | "Read" >> ReadCrawl(input_glob, source="tests.reliability.faults.flaky_baike")
    if kill is not None:
        docs = docs | "Kill" >> beam.ParDo(faults.KillOnce(*kill)).with_output_types(
            docs.element_type
        )
    docs | "Normalize" >> NormalizeText() | "Write" >> WriteCqiaParquet(out)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory) -> tuple[Path, dict[str, bytes]]:
    """The input, and the files of an undisturbed short run on it."""
    root = tmp_path_factory.mktemp("short")
    inputs = write_input(root / "in")
    with beam.Pipeline(runner=FnApiRunner()) as p:
        build_short(p, str(inputs / "*.jsonl"), str(root / "clean"))
    return inputs, files(root / "clean")


def write_input(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "entries.jsonl").write_bytes(
        faults.baike_lines(N, FAIL_IN_ADAPTER, DUPLICATES, SHORT)
    )
    return folder


def rows(out: Path, kind: str) -> list[dict]:
    if not (out / kind).exists():
        return []
    return ds.dataset(out / kind, format="parquet", partitioning="hive").to_table().to_pylist()


def where_is_every_input(out: Path) -> dict[str, list[tuple[str, str]]]:
    """marker -> [(kind, stage or ""), ...] over every data, rejected and error row."""
    found: dict[str, list[tuple[str, str]]] = {}
    for row in rows(out, "data"):
        for m in set(faults.markers_in(row["instruction"])):
            found.setdefault(m, []).append(("data", ""))
    for row in rows(out, "rejected"):
        for m in set(faults.markers_in(row["record"])):
            found.setdefault(m, []).append(("rejected", row["stage"]))
    for row in rows(out, "errors"):
        for m in set(faults.markers_in(row["element"])):
            found.setdefault(m, []).append((f"errors:{row['kind']}", row["stage"]))
    return found


def all_markers() -> set[str]:
    total = N + DUPLICATES + SHORT
    return {faults.marker(i, i in FAIL_IN_ADAPTER)[1:-1] for i in range(total)}


def assert_balanced(out: Path) -> dict:
    manifest = report.read_manifest(str(out))
    for name, stage in manifest["stages"].items():
        if stage["transform"] == "WriteCqiaParquet":
            continue
        assert stage["in"] == stage["out"] + sum(stage["rejected"].values()) + stage["errors"], name
    return manifest


def files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_exceptions_on_chosen_records_leave_every_record_once(tmp_path, monkeypatch):
    injected = {
        "Normalize": faults.fail_on(monkeypatch, ingest._NormalizeFn, {"〔R0007〕": RuntimeError}),
        "Score": faults.fail_on(monkeypatch, quality._ScoreFn, {"〔R0010〕": KeyError}),
        "Filter": faults.fail_on(monkeypatch, quality._FilterFn, {"〔R0015〕": ZeroDivisionError}),
        "Rebuild": faults.fail_on(monkeypatch, rebuild._RenderFn, {"〔R0020〕": TypeError}),
        "Tag": faults.fail_on(monkeypatch, tagging._TagFn, {"〔R0025〕": MemoryError}),
    }
    inputs = write_input(tmp_path / "in")
    out = tmp_path / "out"
    with beam.Pipeline(runner=FnApiRunner()) as p:
        build(p, str(inputs / "*.jsonl"), str(out))

    found = where_is_every_input(out)
    assert set(found) == all_markers()
    assert {m: len(places) for m, places in found.items() if len(places) != 1} == {}
    expected_errors = {m[1:-1]: stage for stage, ms in injected.items() for m in ms}
    expected_errors.update({f"X{i:04d}": "Read" for i in FAIL_IN_ADAPTER})
    errors = {m: places[0][1] for m, places in found.items() if places[0][0].startswith("errors")}
    assert errors == expected_errors
    kinds = Counter(places[0][0] for places in found.values())
    assert kinds["rejected"] == DUPLICATES + SHORT
    assert kinds["data"] == len(all_markers()) - DUPLICATES - SHORT - len(expected_errors)
    manifest = assert_balanced(out)
    assert manifest["outputs"]["errors"]["records"] == len(expected_errors)


def test_a_retried_write_bundle_leaves_one_file_per_shard(tmp_path):
    """A runner that retries a bundle runs _WriteShardFn twice on the same group and commits the
    output of one attempt; the other attempt's file is litter under _temporary/. Finalizing must
    give exactly one part file with each record once, and no litter."""
    from beam_cqia.records import CqiaRecord, ErrorRecord, Rejected
    from tests.factories import cqia_record

    out = tmp_path / "out"
    records = [cqia_record(f"r{i}", source="baike") for i in range(5)]
    records = [r._replace(subset="baike") for r in records]
    write = sinks._WriteShardFn(str(out), "data", CqiaRecord, ("subset",), 100, "zstd", "Write")
    write.setup()
    # What the GroupByKey hands the writer: sealed packs of pickled records.
    packs = [
        _packs.seal_pack([(r.id, pickle.dumps(r)) for r in records[:2]]),
        _packs.seal_pack([(r.id, pickle.dumps(r)) for r in records[2:]]),
    ]
    group = (("subset=baike", 0, 1), packs)
    first = list(write.process(group))  # the attempt whose bundle failed later
    second = list(write.process(group))  # the retry, committed
    assert first[0]["path"] == second[0]["path"] and first[0]["tmp"] != second[0]["tmp"]
    finalize = sinks._FinalizeFn(
        str(out),
        "Write",
        [("Write", "WriteCqiaParquet")],
        {
            "data": (CqiaRecord, ("subset",)),
            "rejected": (Rejected, ("subset",)),
            "errors": (ErrorRecord, ("subset",)),
        },
        ["subset"],
        100,
        "zstd",
        {},
    )
    list(finalize.process(second, [("data", "subset=baike", 1)], [], []))
    written = sorted(files(out))
    assert [f for f in written if f.endswith(".parquet")] == [
        "data/subset=baike/part-00000-of-00001.parquet"
    ]
    assert "_SUCCESS" in written and not any(f.startswith(("_temporary", ".")) for f in written)
    data = rows(out, "data")
    assert sorted(r["id"] for r in data) == sorted(r.id for r in records)
    assert not (out / "_temporary").exists()


def test_litter_of_failed_runs_is_removed_and_never_duplicates(tmp_path, short_run):
    """Temporary part files (whole or cut) of a failed attempt, a stale part file of an earlier
    layout and a half-replaced manifest are all gone after the next run; the output equals a
    run into an empty directory."""
    inputs, expected = short_run
    littered = tmp_path / "littered"
    part = next(p for p in expected if p.startswith("data/"))
    (littered / "_temporary").mkdir(parents=True)
    (littered / "_temporary" / "0123abcd.parquet").write_bytes(expected[part])  # whole
    (littered / "_temporary" / "4567cdef.parquet").write_bytes(expected[part][:100])  # cut
    (littered / "data" / "subset=baike").mkdir(parents=True)
    (littered / "data" / "subset=baike" / "part-00001-of-00002.parquet").write_bytes(b"PAR1")
    (littered / "._manifest.json.89abcdef").write_text("{")
    with beam.Pipeline(runner=FnApiRunner()) as p:
        build_short(p, str(inputs / "*.jsonl"), str(littered))
    assert files(littered).keys() == expected.keys()
    for name, data in expected.items():
        if name.endswith(".parquet"):
            assert files(littered)[name] == data, name


_KILL_DURING_WRITE = """
import os, sys
import apache_beam as beam
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from beam_cqia.transforms import sinks
from tests.reliability.test_faults import build_short

real = sinks._write_row_groups
written = []

def dying(path, *args):
    n = real(path, *args)
    written.append(path)
    if len(written) == 2:  # two part files written to _temporary/, then the process dies
        os._exit(9)
    return n

sinks._write_row_groups = dying
with beam.Pipeline(runner=FnApiRunner()) as p:
    build_short(p, sys.argv[1], sys.argv[2])
"""


def test_a_run_killed_while_writing_leaves_the_previous_output_and_a_rerun_is_exact(
    tmp_path, short_run
):
    inputs, expected = short_run
    out = tmp_path / "out"
    # A previous release in the output directory, with a partition this input no longer has.
    previous = {**expected, "data/subset=old/part-00000-of-00001.parquet": b"PAR1 old"}
    for name, data in previous.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)

    killed = subprocess.run(
        [sys.executable, "-c", _KILL_DURING_WRITE, str(inputs / "*.jsonl"), str(out)],
        cwd=REPO,
        capture_output=True,
        timeout=300,
    )
    assert killed.returncode == 9, killed.stderr.decode()[-2000:]
    after_kill = files(out)
    litter = sorted(set(after_kill) - set(previous))
    assert len(litter) == 2 and all(p.startswith("_temporary/") for p in litter), litter
    assert {k: v for k, v in after_kill.items() if k in previous} == previous  # untouched

    with beam.Pipeline(runner=FnApiRunner()) as p:
        build_short(p, str(inputs / "*.jsonl"), str(out))
    rerun = files(out)
    assert rerun.keys() == expected.keys()
    assert {k: v for k, v in rerun.items() if k.endswith(".parquet")} == {
        k: v for k, v in expected.items() if k.endswith(".parquet")
    }
    assert_balanced(out)


def test_a_worker_killed_mid_bundle_fails_the_run_and_a_rerun_is_exact(
    tmp_path, monkeypatch, short_run
):
    """FnApiRunner with multi_processing workers does not retry a bundle whose worker died: the
    run fails ("Channel closed prematurely"). Nothing is written but temporary files, and a
    rerun (the worker survives this time) gives exactly the output of an undisturbed run."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the workers import tests.reliability.faults
    inputs, expected = short_run
    out = tmp_path / "out"
    options = PipelineOptions(["--direct_num_workers=2", "--direct_running_mode=multi_processing"])
    kill = ("〔R0012〕", str(tmp_path / "killed"))
    with (
        pytest.raises(Exception) as failure,
        beam.Pipeline(runner=FnApiRunner(), options=options) as p,
    ):
        build_short(p, str(inputs / "*.jsonl"), str(out), kill=kill)
    assert (tmp_path / "killed").exists(), "the worker was not killed"
    assert "Channel closed" in str(failure.value) or "worker" in str(failure.value).lower()
    assert not any(k.endswith(".parquet") and not k.startswith("_temporary") for k in files(out))

    with beam.Pipeline(runner=FnApiRunner()) as p:  # any runner: the point is the rerun
        build_short(p, str(inputs / "*.jsonl"), str(out), kill=kill)
    rerun = files(out)
    assert rerun.keys() == expected.keys()
    assert {k: v for k, v in rerun.items() if k.endswith(".parquet")} == {
        k: v for k, v in expected.items() if k.endswith(".parquet")
    }
    assert (
        json.loads(rerun["_manifest.json"])["outputs"]
        == json.loads(expected["_manifest.json"])["outputs"]
    )
