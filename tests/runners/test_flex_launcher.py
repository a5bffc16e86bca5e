"""The Flex Template launcher (``python -m beam_cqia.flex_launcher``): parameters, a local run of
the demo, a Dataflow template build that returns without waiting, and agreement with
``dataflow/metadata.json``, ``dataflow/main.py`` and ``dataflow/Dockerfile.flex``."""

import json
import re
import runpy
from pathlib import Path

import pytest

from beam_cqia import flex_launcher, spec
from tests.conftest import REPO

DATAFLOW = REPO / "dataflow"


def test_parameters_split_from_beam_options():
    path, variables, beam_args, wait = flex_launcher.parse_args(
        [
            "--spec=demo",
            '--vars={"output": "gs://b/out", "n": 3}',
            "--var",
            "output=gs://b/other",
            "--labels=airflow-version=v3-3-2",
            "--project=p",
        ]
    )
    assert path == spec.packaged_spec("demo")
    # The demo named so reads the embedded corpus; --var overrides --vars; JSON values as text.
    assert variables == {"input": spec.demo_data_dir(), "output": "gs://b/other", "n": "3"}
    assert beam_args == [
        "--runner",
        "DataflowRunner",
        "--labels=airflow-version=v3-3-2",
        "--project=p",
    ]
    assert wait is None


@pytest.mark.parametrize(
    ("argv", "variables", "wait"),
    [
        (["--vars", "input=gs://a,output=gs://b"], {"input": "gs://a", "output": "gs://b"}, None),
        (["--vars", "", "--wait"], {}, True),
        (["--wait=false"], {}, False),
        (["--wait", "true"], {}, True),
    ],
)
def test_vars_and_wait_forms(argv, variables, wait, tmp_path):
    own = tmp_path / "own.yaml"
    own.write_text("pipeline: {}\n", encoding="utf-8")
    path, got, beam_args, got_wait = flex_launcher.parse_args(
        ["--spec", str(own), "--runner=FnApiRunner", *argv]
    )
    assert (path, got, got_wait) == (str(own), variables, wait)
    assert beam_args == ["--runner=FnApiRunner"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--spec=demo", "--vars={bad json"], "not valid JSON"),
        (["--spec=demo", '--vars=["a"]'], "takes a JSON object"),
        (["--spec=demo", "--vars=noequals"], "--var takes name=value"),
        (["--spec=demo", "--wait=maybe"], "--wait takes true or false"),
        (["--spec=no_such_spec"], "no packaged spec named 'no_such_spec'"),
    ],
)
def test_bad_parameters_exit_2_with_a_message(argv, message, capsys):
    assert flex_launcher.main(argv) == 2
    assert message in capsys.readouterr().err


def test_runs_the_demo_locally_to_the_end(tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["--spec=demo", f'--vars={{"output": "{out}"}}', "--runner=FnApiRunner"]
    assert flex_launcher.main(argv) == 0
    assert (out / "_manifest.json").is_file() and (out / "_SUCCESS").is_file()
    assert "COUNT MISMATCH" not in capsys.readouterr().err


def test_dataflow_template_returns_without_waiting(gcs_emulator, offline, tmp_path, capsys):
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(
        "pipeline:\n  type: chain\n  transforms:\n"
        "    - {type: Create, config: {elements: ['{{ greeting }}']}}\n"
        "    - {type: LogForTesting}\n",
        encoding="utf-8",
    )
    template = tmp_path / "template.json"
    argv = [
        f"--spec={tiny}",
        "--vars=greeting=你好",
        "--project=demo-proj",
        "--region=europe-west4",
        "--temp_location=gs://cqia-test/temp",
        "--sdk_container_image=example.com/beam-cqia:0.1.0",
        "--sdk_location=container",
        f"--template_location={template}",
    ]
    assert flex_launcher.main(argv) == 0  # DataflowRunner by default
    assert "nothing ran" in capsys.readouterr().out
    job = json.loads(template.read_text(encoding="utf-8"))
    options = job["environment"]["sdkPipelineOptions"]["options"]
    assert (options["runner"], options["project"]) == ("DataflowRunner", "demo-proj")
    assert offline == []


def test_a_dataflow_submission_is_not_waited_for(
    gcs_emulator, offline, fake_submission, tmp_path, capsys
):
    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(
        "pipeline:\n  type: chain\n  transforms:\n    - {type: Create, config: {elements: [1]}}\n",
        encoding="utf-8",
    )
    argv = [
        f"--spec={tiny}",
        "--project=demo-proj",
        "--region=europe-west4",
        "--temp_location=gs://cqia-test/temp",
        "--sdk_location=container",
    ]
    assert flex_launcher.main(argv) == 0
    assert (fake_submission["submitted"], fake_submission["waited"]) == (1, 0)
    assert "console: https://console.cloud.google.com/dataflow/jobs/europe-west4/" in (
        capsys.readouterr().out
    )
    assert offline == []


def test_metadata_parameters_are_what_the_launcher_accepts():
    metadata = json.loads((DATAFLOW / "metadata.json").read_text(encoding="utf-8"))
    accepted = flex_launcher.launcher_parameters()
    declared = {p["name"]: p for p in metadata["parameters"]}
    # `var` is the repeatable command-line form; a template parameter has one value: `vars`.
    assert set(declared) == set(accepted) - {"var"}
    for name, param in declared.items():
        assert param["isOptional"] is not accepted[name]["required"], name
        assert param["label"] and param["helpText"], name
        for regex in param.get("regexes", []):
            re.compile(regex)
    assert re.fullmatch(declared["wait"]["regexes"][0], "false")
    # Every other parameter Dataflow passes (project, region, job_name, staging and temp
    # locations, sdk_container_image, labels...) goes to Beam.
    _, _, beam_args, _ = flex_launcher.parse_args(["--spec=demo", "--job_name=j", "--labels=a=b"])
    assert beam_args[-2:] == ["--job_name=j", "--labels=a=b"]


def test_flex_image_runs_the_launcher_from_the_template_file():
    dockerfile = (DATAFLOW / "Dockerfile.flex").read_text(encoding="utf-8")
    assert "ENV FLEX_TEMPLATE_PYTHON_PY_FILE=/template/main.py" in dockerfile
    assert "COPY dataflow/main.py /template/main.py" in dockerfile
    assert "/opt/google/dataflow/python_template_launcher" in dockerfile
    beam = re.search(r'BEAM = "([^"]+)"', (REPO / "setup.py").read_text(encoding="utf-8"))[1]
    assert f"ARG BEAM_VERSION={beam}" in dockerfile
    assert "apache/beam_python3.11_sdk:${BEAM_VERSION}" in dockerfile
    # The template file is a thin shim over the packaged launcher.
    main = runpy.run_path(str(DATAFLOW / "main.py"), run_name="not_main")
    assert main["main"] is flex_launcher.main
    assert Path(DATAFLOW / "main.py").read_text(encoding="utf-8").count("\n") < 15


def test_worker_image_matches_setup_py_and_installs_models():
    # No Docker engine here: the worker image is checked as text against setup.py's pin and the
    # Python this project runs on (a Beam or Python mismatch between launcher and workers breaks
    # pickled DoFns on Dataflow and Flink).
    import sys

    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    beam = re.search(r'BEAM = "([^"]+)"', (REPO / "setup.py").read_text(encoding="utf-8"))[1]
    base = re.search(r"^FROM apache/beam_python(\d)\.(\d+)_sdk:(\S+)$", dockerfile, re.M)
    assert base, "the worker image must build on apache/beam_pythonX.Y_sdk"
    assert base[3] == beam
    assert (int(base[1]), int(base[2])) == sys.version_info[:2]
    assert not re.search(r"^ENTRYPOINT", dockerfile, re.M)  # Beam's boot binary stays
    assert "python -m beam_cqia.models fetch" in dockerfile  # lid.176 baked in, no runtime fetch
    assert ".[gcp,yaml,quality]" in dockerfile
