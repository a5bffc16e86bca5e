"""pipelines/refilter.yaml: thresholds re-applied to a finished output without rescoring."""

import json

import pyarrow.dataset as ds

from beam_cqia import cli, report
from tests.conftest import REPO


def test_refilter_recovers_records_with_looser_thresholds(tmp_path):
    demo = tmp_path / "demo"
    assert cli.main(["demo", str(demo)]) == 0
    before = report.read_manifest(str(demo))
    refiltered = tmp_path / "refiltered"
    code = cli.main(
        [
            "run",
            str(REPO / "pipelines" / "refilter.yaml"),
            "--var",
            f"previous={demo}",
            "--var",
            f"output={refiltered}",
        ]
    )
    assert code == 0
    after = report.read_manifest(str(refiltered))
    stages = after["stages"]
    kept_before = before["outputs"]["data"]["records"]
    # every kept record was read back, and the rejected ones of FilterByScore only
    assert stages["ReadKept"]["in"] == kept_before
    assert stages["ReadFiltered"]["in"] == sum(
        before["stages"]["FilterByScore"]["rejected"].values()
    )
    assert stages["ReadFiltered"]["errors"] == 0 and stages["ReadKept"]["errors"] == 0
    recovered = stages["TagSchema"]["out"]
    assert recovered > 0  # answers of 30-99 characters with enough votes come back
    assert after["outputs"]["data"]["records"] == stages["RefilterKept"]["out"] + recovered
    # the recovered records are complete CQIA records, rebuilt from the stored RawDocs
    data = ds.dataset(refiltered / "data", format="parquet", partitioning="hive").to_table()
    rows = [
        r
        for r in data.to_pylist()
        if r["signals"]
        and dict(r["signals"]).get("chars.answer", 0) < 100
        and r["subset"] == "zhihu"
    ]
    assert rows and all(
        r["instruction"] and r["output"] and r["answer_from"] == "human" for r in rows
    )
    assert len(rows) == recovered
    assert all(dict(r["signals"])["chars.answer"] >= 30 for r in rows)
    manifest_text = json.dumps(after)
    assert "ScoreQuality" not in manifest_text  # nothing was rescored


def test_reading_back_checks_the_output_when_built_or_when_run(tmp_path):
    import apache_beam as beam
    import pytest

    from beam_cqia.transforms import ReadCqiaParquet, ReadRejected

    demo = tmp_path / "demo"
    assert cli.main(["demo", str(demo)]) == 0
    # an existing output with no such stage: reported while the pipeline is built
    pipeline = beam.Pipeline()
    with pytest.raises(ValueError, match="has no stage 'FilterByScor'"):
        _ = pipeline | ReadRejected(str(demo), stage="FilterByScor")
    # an output that does not exist yet builds (a spec can be validated before the run that
    # writes it), and fails when run, naming the missing manifest
    pipeline = beam.Pipeline()
    _ = pipeline | ReadCqiaParquet(str(tmp_path / "not-yet"))
    with pytest.raises(Exception, match="is not a finished beam-cqia output"):
        pipeline.run().wait_until_finish()
