"""The beam-cqia command: demo from the installed package, validate, run, report."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beam_cqia import cli, spec
from tests.conftest import REPO

DEMO = str(REPO / "pipelines" / "demo.yaml")
VARS = ["--var", "input=/data/in", "--var", "output=/data/out"]


def _spec_variant(tmp_path: Path, old: str, new: str) -> str:
    text = Path(DEMO).read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "spec.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    shutil.copy(REPO / "pipelines" / "providers.yaml", tmp_path / "providers.yaml")
    return str(path)


def test_validate_accepts_the_demo(capsys):
    assert cli.main(["validate", DEMO, *VARS]) == 0
    assert "OK (writes /data/out)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "type: DedupExact",
            "type: DedupExcat",
            "unknown transform type 'DedupExcat'; did you mean 'DedupExact'?",
        ),
        ("keep: most_votes", "keep: most_upvotes", "unknown keep criterion 'most_upvotes'"),
        (
            "strip_boilerplate: true",
            "strip_boilerplat: true",
            "unexpected argument 'strip_boilerplat'",
        ),
        ("min: 100, sources", "min: lots, sources", "min must be a number, got 'lots'"),
        ("zhihu: zhihu_qa.v1", "zhihu: zhihu_qa.v7", "unknown template 'zhihu_qa.v7'"),
        ("input: ScoreQuality", "input: ScoreQualty", "ScoreQualty"),
    ],
)
def test_validate_reports_bad_specs_with_exit_2(tmp_path, capsys, old, new, message):
    path = _spec_variant(tmp_path, old, new)
    assert cli.main(["validate", path, *VARS]) == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert message in err
    assert "line" in err or "did you mean" in err or "ScoreQualty" in err


def test_validate_names_missing_variables(capsys):
    assert cli.main(["validate", DEMO, "--var", "input=/x"]) == cli.EXIT_SPEC
    err = capsys.readouterr().err
    assert "'output' is undefined" in err and "--var output=..." in err


def test_bad_var_syntax(capsys):
    assert cli.main(["validate", DEMO, "--var", "input"]) == cli.EXIT_SPEC
    assert "--var takes name=value" in capsys.readouterr().err


def test_run_and_report(tmp_path, capsys):
    out = tmp_path / "out"
    code = cli.main(
        ["run", DEMO, "--var", f"input={spec.demo_data_dir()}", "--var", f"output={out}"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert f"output: {out}" in printed
    assert "DedupExact" in printed and "duplicate=" in printed
    manifest = json.loads((out / "_manifest.json").read_text())
    assert f"written: data {manifest['outputs']['data']['records']}" in printed
    assert cli.main(["report", str(out)]) == 0
    assert "FilterByScore" in capsys.readouterr().out


def test_report_flags_a_manifest_that_does_not_add_up(tmp_path, capsys):
    manifest = {
        "stages": {"Bad": {"transform": "X", "in": 5, "out": 3, "rejected": {"r": 1}, "errors": 0}},
        "outputs": {},
    }
    (tmp_path / "_manifest.json").write_text(json.dumps(manifest))
    assert cli.main(["report", str(tmp_path)]) == cli.EXIT_CHECK
    assert "in=5 but out+rejected+errors=4" in capsys.readouterr().err


def test_demo_runs_from_the_installed_console_script(tmp_path):
    """`beam-cqia demo OUT` from another directory: spec, providers and corpus come from the
    installed package."""
    exe = Path(sys.executable).with_name("beam-cqia")
    assert exe.exists(), "install the package (pip install -e .[yaml,dev]) to get beam-cqia"
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.run(
        [str(exe), "demo", "built"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "output: " + str(tmp_path / "built") in proc.stdout
    assert "WriteCqiaParquet" in proc.stdout
    assert (tmp_path / "built" / "_SUCCESS").exists()
    assert "COUNT MISMATCH" not in proc.stderr
