"""Two demo runs shared by the observability tests, built once per test session (also across
pytest-xdist workers): the demo spec as it ships, with progress log lines, and the same spec with
two thresholds changed (for diff)."""

import contextlib
import fcntl
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest

from beam_cqia import cli, spec
from tests.conftest import REPO

DEMO = REPO / "pipelines" / "demo.yaml"
DATA = Path(spec.demo_data_dir())
# The second run: Zhihu answers need 200 characters instead of 100, encyclopedia articles 50
# instead of 150, and up to 10 links pass.
CHANGES = (
    ("{signal: chars.answer, min: 100,", "{signal: chars.answer, min: 200,"),
    (
        "{signal: chars.body, min: 150, sources: [baike]",
        "{signal: chars.body, min: 50, sources: [baike]",
    ),
    ("{signal: url_count, max: 2,", "{signal: url_count, max: 10,"),
    # the copy lives elsewhere; beam-cqia run adds our providers anyway
    ("providers:\n  - include: providers.yaml\n", ""),
)


@dataclass
class Run:
    out: Path
    code: int
    stdout: str
    stderr: str


def run_cli(out: Path, spec_path: Path, *options: str) -> Run:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(
            ["run", str(spec_path), "--var", f"input={DATA}", "--var", f"output={out}", *options]
        )
    return Run(out, code, stdout.getvalue(), stderr.getvalue())


def _shared(tmp_path_factory, name: str, build) -> Run:
    """Builds ``name`` once per session: xdist workers share the session's temporary root and
    take turns with a lock; the first one builds, the others read what it printed."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    root = root / "observability"
    root.mkdir(parents=True, exist_ok=True)
    done = root / f"{name}.json"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                run = build(root / name)
                assert run.code == 0, run.stderr[-3000:]
                done.write_text(json.dumps({**asdict(run), "out": str(run.out)}), "utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    saved = json.loads(done.read_text("utf-8"))
    return Run(**{**saved, "out": Path(saved["out"])})


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Run:
    def build(root: Path) -> Run:
        return run_cli(root / "out", DEMO, "--progress", "log", "--progress-interval", "0.5")

    return _shared(tmp_path_factory, "demo", build)


@pytest.fixture(scope="session")
def demo_run_b(tmp_path_factory) -> Run:
    def build(root: Path) -> Run:
        root.mkdir(parents=True, exist_ok=True)
        text = DEMO.read_text(encoding="utf-8")
        for old, new in CHANGES:
            assert old in text, old
            text = text.replace(old, new)
        changed = root / "demo_changed.yaml"
        changed.write_text(text, encoding="utf-8")
        return run_cli(root / "out", changed, "--progress", "off")

    return _shared(tmp_path_factory, "demo_changed", build)
