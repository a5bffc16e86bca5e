"""The demo spec end to end on gs://: inputs read from and Parquet written to a GCS emulator on
loopback (tests/conftest.py `gcs_emulator`), equal to the same run on local disk; a rerun leaves
no stale or half-written objects."""

import io
import json

import pyarrow.parquet as pq
from apache_beam.io.filesystems import FileSystems

from beam_cqia import cli, spec
from tests.conftest import REPO, gcs_objects

DEMO = REPO / "pipelines" / "demo.yaml"


def _upload(local_dir, prefix: str) -> None:
    for path in sorted(local_dir.rglob("*")):
        if path.is_file():
            rel = path.relative_to(local_dir).as_posix()
            with FileSystems.create(f"{prefix}/{rel}") as fh:
                fh.write(path.read_bytes())


def _rows(table, input_dir: str) -> str:
    return json.dumps(table.to_pylist(), ensure_ascii=False, default=str).replace(input_dir, "IN")


def _run(input_dir: str, output: str) -> None:
    args = ["run", str(DEMO), "--var", f"input={input_dir}", "--var", f"output={output}"]
    assert cli.main(args) == 0


def test_demo_reads_and_writes_gcs_like_local_disk(gcs_emulator, tmp_path):
    from pathlib import Path

    data = Path(spec.demo_data_dir())
    bucket = "gs://cqia-test/demo-e2e"
    _upload(data, f"{bucket}/input")
    _run(f"{bucket}/input", f"{bucket}/out")
    remote = gcs_objects(f"{bucket}/out")
    assert "_SUCCESS" in remote and "README.md" in remote

    # The same inputs from local disk give the same Parquet bytes and the same counts.
    local = tmp_path / "out"
    _run(str(data), str(local))
    parquet = sorted(f for f in remote if f.endswith(".parquet"))
    assert parquet == sorted(p.relative_to(local).as_posix() for p in local.rglob("*.parquet"))
    for rel in parquet:
        # Records name their input file (lineage, error messages): the same apart from its path.
        got = _rows(pq.read_table(io.BytesIO(remote[rel])), f"{bucket}/input")
        want = _rows(pq.read_table(local / rel), str(data))
        assert got == want, rel
    manifest = json.loads(remote["_manifest.json"])
    local_manifest = json.loads((local / "_manifest.json").read_text(encoding="utf-8"))
    assert manifest["stages"] == local_manifest["stages"]
    assert manifest["outputs"] == local_manifest["outputs"]
    assert next(i[1] for i in manifest["inputs"]).startswith(f"{bucket}/input/")

    # A failed earlier run's temporary objects and files of partitions that no longer exist are
    # removed by the next run; the data stay the same.
    for stale in ("_temporary/half.parquet", "data/subset=gone/part-00000-of-00001.parquet"):
        with FileSystems.create(f"{bucket}/out/{stale}") as fh:
            fh.write(b"PAR1")
    _run(f"{bucket}/input", f"{bucket}/out")
    again = gcs_objects(f"{bucket}/out")
    assert sorted(again) == sorted(remote)
    assert all(again[f] == remote[f] for f in parquet)
    rows = pq.read_table(
        FileSystems.open(f"{bucket}/out/data/subset=zhihu/part-00000-of-00001.parquet")
    ).num_rows
    assert rows == manifest["outputs"]["data"]["partitions"]["subset=zhihu"]
