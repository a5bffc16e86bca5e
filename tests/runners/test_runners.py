"""The demo spec, and a real-data recipe (pipelines/logic.yaml on a sample of LogiQA 2.0, with
MinHash dedup), give byte-identical output on FnApiRunner in memory, on FnApiRunner with
multi_processing workers, and on PortableRunner against Beam's Python job service with LOOPBACK
workers (the path Flink's job server uses), and the CLI reports the runs the same way. The job
service is started and stopped here. The recipe's input is the first lines of
../shared/corpora/logiqa2-zh/dev_zh.txt, written to a temporary folder (never into the
repository); those tests skip, saying so, when the corpora are absent."""

import contextlib
import difflib
import filecmp
import io
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from beam_cqia import cli
from tests.conftest import CORPORA, REPO

DEMO = REPO / "pipelines" / "demo.yaml"
DATA = REPO / "beam_cqia" / "demo" / "data"
LOGIC = REPO / "pipelines" / "logic.yaml"
LOGIC_SAMPLE_LINES = 60
MULTI_PROCESSING = ("--direct_num_workers=2", "--direct_running_mode=multi_processing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def job_endpoint(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("job_service") / "job_service.log"
    with open(log, "wb") as out:
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "apache_beam.runners.portability.local_job_service_main",
                f"--port={port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if service.poll() is not None:
                pytest.fail(f"job service exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("job service did not listen within 60 s")
                time.sleep(0.2)
        yield f"localhost:{port}"
    finally:
        service.terminate()
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()


def _run(out: Path, *options: str, spec: Path = DEMO, data: Path = DATA) -> Path:
    # Same absolute paths for every runner: records name their input files.
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = cli.main(
            ["run", str(spec), "--var", f"input={data}", "--var", f"output={out}", *options]
        )
    assert code == 0
    # What the CLI reports after the run: the output, the funnel and the counters' check.
    report = printed.getvalue()
    report = report[report.index("\noutput: ") :].replace(str(out), "OUT")
    (out.parent / "cli_report.txt").write_text(report, encoding="utf-8")
    return out


def _cli_report(out: Path) -> str:
    return (out.parent / "cli_report.txt").read_text(encoding="utf-8")


def _files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _text_diff(a: Path, b: Path) -> str:
    lines_a = a.read_text(encoding="utf-8").splitlines()
    lines_b = b.read_text(encoding="utf-8").splitlines()
    return "\n".join(difflib.unified_diff(lines_a, lines_b, str(a), str(b), lineterm="", n=1))


def _assert_identical(a: Path, b: Path) -> None:
    files = _files(a)
    assert files == _files(b)
    assert any(f.endswith(".parquet") for f in files)
    data = [f for f in files if f not in ("README.md", "_manifest.json")]
    _, mismatch, errors = filecmp.cmpfiles(a, b, data, shallow=False)
    assert not mismatch and not errors, f"differ: {mismatch + errors}: " + "".join(
        _text_diff(a / f, b / f) for f in mismatch if not f.endswith(".parquet")
    )
    # The dataset card names the spec's variables (so the output directory) and hashes the
    # rendered spec (which holds it).
    assert _card(a) == _card(b)
    assert _manifest(a) == _manifest(b)
    # Every runner's counters reached the CLI (PortableRunner's as committed values only) and
    # agreed with the manifest, and the CLI printed the same report.
    assert "counters: Beam's agree with the manifest on all" in _cli_report(b)
    assert _cli_report(a) == _cli_report(b)


def _manifest(out: Path) -> dict:
    text = (out / "_manifest.json").read_text(encoding="utf-8").replace(str(out), "OUT")
    manifest = json.loads(text)
    assert manifest["spec"].pop("sha256")  # of the rendered spec, which names the output
    return manifest


def _card(out: Path) -> list[str]:
    text = (out / "README.md").read_text(encoding="utf-8").replace(str(out), "OUT")
    return [line for line in text.splitlines() if "of the rendered spec" not in line]


@pytest.fixture(scope="module")
def in_memory(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("mem") / "out")


def test_multi_processing_gives_the_same_bytes(in_memory, tmp_path):
    out = _run(tmp_path / "out", *MULTI_PROCESSING)
    _assert_identical(in_memory, out)


def _portable(job_endpoint: str) -> tuple[str, ...]:
    """PortableRunner against the test's job service, with workers in this process."""
    return (
        "--runner",
        "PortableRunner",
        f"--job_endpoint={job_endpoint}",
        "--environment_type=LOOPBACK",
    )


def test_portable_runner_with_loopback_workers_gives_the_same_bytes(
    in_memory, job_endpoint, tmp_path
):
    out = _run(
        tmp_path / "out",
        *_portable(job_endpoint),
    )
    _assert_identical(in_memory, out)


@pytest.fixture(scope="module")
def logic_sample(tmp_path_factory) -> Path:
    """A folder laid out like ../shared/corpora with the first lines of LogiQA 2.0's dev split."""
    if not CORPORA.is_dir():
        pytest.skip(f"real corpora not found at {CORPORA}; this test needs ../shared/corpora")
    root = tmp_path_factory.mktemp("logic_sample")
    src = CORPORA / "logiqa2-zh" / "dev_zh.txt"
    lines = [line for line in src.read_bytes().split(b"\n") if line.strip()]
    (root / "logiqa2-zh").mkdir()
    (root / "logiqa2-zh" / "dev_zh.txt").write_bytes(b"\n".join(lines[:LOGIC_SAMPLE_LINES]) + b"\n")
    return root


@pytest.fixture(scope="module")
def logic_in_memory(tmp_path_factory, logic_sample):
    out = _run(tmp_path_factory.mktemp("logic_mem") / "out", spec=LOGIC, data=logic_sample)
    manifest = json.loads((out / "_manifest.json").read_text(encoding="utf-8"))
    # The sample really goes through the recipe: records read, rebuilt and written.
    assert manifest["stages"]["ReadLogiqaDev"]["in"] == LOGIC_SAMPLE_LINES
    assert manifest["stages"]["TagRecords"]["out"] > LOGIC_SAMPLE_LINES // 2
    return out


@pytest.mark.corpora
def test_real_recipe_on_multi_processing_gives_the_same_bytes(
    logic_in_memory, logic_sample, tmp_path
):
    out = _run(tmp_path / "out", *MULTI_PROCESSING, spec=LOGIC, data=logic_sample)
    _assert_identical(logic_in_memory, out)


@pytest.mark.corpora
def test_real_recipe_on_portable_runner_gives_the_same_bytes(
    logic_in_memory, logic_sample, job_endpoint, tmp_path
):
    out = _run(
        tmp_path / "out",
        *_portable(job_endpoint),
        spec=LOGIC,
        data=logic_sample,
    )
    _assert_identical(logic_in_memory, out)
