"""Shared test fixtures: local runner, counters, golden-file regeneration."""

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite golden files from the current output instead of comparing",
    )


@pytest.fixture
def update_goldens(request) -> bool:
    return request.config.getoption("--update-goldens")


@pytest.fixture
def corpora() -> Path:
    """The real data folder; skips (visibly) when it is absent."""
    if not CORPORA.is_dir():
        pytest.skip(f"real corpora not found at {CORPORA}; this test needs ../shared/corpora")
    return CORPORA


@pytest.fixture(scope="session", autouse=True)
def fnapi_in_chunks():
    """Pipelines in tests run on FnApiRunner as ``beam-cqia run`` runs them locally: with
    ``beam_cqia.fnapi_memory`` installed, here with small chunks so grouped inputs are cut."""
    from beam_cqia import fnapi_memory

    saved = fnapi_memory.CHUNK_BYTES
    fnapi_memory.CHUNK_BYTES = 64 << 10
    assert fnapi_memory.install()
    yield
    fnapi_memory.CHUNK_BYTES = saved


def new_pipeline() -> beam.Pipeline:
    """A TestPipeline on the in-memory FnApiRunner (DirectRunner would first try to fetch Prism)."""
    return TestPipeline(runner=FnApiRunner(), blocking=False)


def counters(result, namespace: str) -> dict[str, int]:
    """Counter totals of a namespace, summed over steps: {name: value}."""
    out: dict[str, int] = {}
    query = result.metrics().query(MetricsFilter().with_namespace(namespace))
    for c in query["counters"]:
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + c.committed
    return out


def gcs_objects(prefix: str) -> dict[str, bytes]:
    """Every object under ``prefix`` (a gs:// folder), by its path relative to the prefix."""
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    out = {}
    for meta in FileSystems.match([f"{prefix}/**"])[0].metadata_list:
        with FileSystems.open(meta.path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            out[meta.path[len(prefix) + 1 :]] = fh.read()
    return out


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory):
    """A real GCS emulator (gcp-storage-emulator) on loopback, with bucket ``cqia-test``.

    Sets STORAGE_EMULATOR_HOST for this process and skips Beam's credential probe (five retried
    ADC lookups, ~23 s per process without credentials): Beam then uses an anonymous client, which
    honours the emulator address. Nothing leaves the machine.
    """
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    exe = shutil.which("gcp-storage-emulator") or str(
        Path(sys.executable).with_name("gcp-storage-emulator")
    )
    if not Path(exe).exists():
        pytest.fail("gcp-storage-emulator is not installed (pip install -e .[dev])")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("gcs") / "emulator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                exe,
                "start",
                "--host=127.0.0.1",
                f"--port={port}",
                "--default-bucket=cqia-test",
                "--in-memory",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    host = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{host}/storage/v1/b", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail(f"GCS emulator did not start: {log.read_text()[-2000:]}")
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = host
    from apache_beam.internal.gcp import auth

    saved = (auth._Credentials._credentials_init, auth._Credentials._credentials)
    auth._Credentials._credentials_init, auth._Credentials._credentials = True, None
    try:
        yield host
    finally:
        auth._Credentials._credentials_init, auth._Credentials._credentials = saved
        if old is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = old
        proc.terminate()
        proc.wait(timeout=10)
