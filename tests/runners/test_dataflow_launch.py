"""The Dataflow launch path through ``beam-cqia run``, offline up to the API call.

With ``--template_location`` Beam's DataflowRunner validates the options, builds our sdist from
``setup.py``, uploads it with the pipeline proto to the staging location (a GCS emulator on
loopback, tests/conftest.py ``gcs_emulator``) and writes the job as a classic template to a local
file instead of submitting it: the tests read that JSON and the staged sdist back. A real
submission is checked with the API call replaced: the CLI prints the job id and console URL and
does not wait unless asked. The ``offline`` guard (tests/runners/conftest.py) records any
attempt to leave loopback or to look up credentials.
"""

import io
import json
import tarfile
from pathlib import Path

import pytest
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.options.pipeline_options import PipelineOptions

from beam_cqia import cli, launch, spec
from tests.conftest import REPO
from tests.runners.conftest import JOB_ID

DEMO = REPO / "pipelines" / "demo.yaml"
BUCKET = "gs://cqia-test"
IMAGE = "europe-docker.pkg.dev/demo-proj/cqia/beam-cqia:0.1.0"


def _spec_with_options(tmp_path: Path) -> Path:
    """The demo spec with an ``options:`` block (the copy includes the packaged providers)."""
    text = DEMO.read_text(encoding="utf-8").replace(
        "- include: providers.yaml", f"- include: {spec.providers_file()}"
    )
    path = tmp_path / "demo_with_options.yaml"
    path.write_text(text + "options:\n  max_num_workers: 4\n  disk_size_gb: 50\n", "utf-8")
    return path


def _args(spec_path: Path, *extra: str) -> list[str]:
    return [
        "run",
        str(spec_path),
        "--var",
        f"input={BUCKET}/launch/input",
        "--var",
        f"output={BUCKET}/launch/out",
        "--runner",
        "DataflowRunner",
        "--project",
        "demo-proj",
        "--region",
        "europe-west4",
        "--temp_location",
        f"{BUCKET}/temp",
        "--setup_file",
        "./setup.py",
        *extra,
    ]


def _read_staged(location: str) -> bytes:
    # The job names staged files as storage.googleapis.com/<bucket>/<object>.
    assert location.startswith("storage.googleapis.com/cqia-test/temp/"), location
    path = "gs://" + location.removeprefix("storage.googleapis.com/")
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
        return fh.read()


def test_template_launch_stages_the_package_and_records_the_options(
    gcs_emulator, offline, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(REPO)  # --setup_file ./setup.py, as a user types it
    template = tmp_path / "template.json"
    argv = _args(
        _spec_with_options(tmp_path),
        "--sdk_container_image",
        IMAGE,
        "--sdk_location",
        "container",
        "--template_location",
        str(template),
    )
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert f"template written to {template}" in out and "nothing ran" in out
    assert "output:" not in out  # no manifest was looked for

    job = json.loads(template.read_text(encoding="utf-8"))
    env = job["environment"]
    pool = env["workerPools"][0]
    assert pool["sdkHarnessContainerImages"][0]["containerImage"] == IMAGE
    assert "use_runner_v2" in env["experiments"]

    options = env["sdkPipelineOptions"]["options"]
    assert options["project"] == "demo-proj"
    assert options["region"] == "europe-west4"
    assert options["temp_location"].startswith(f"{BUCKET}/temp/")
    assert options["runner"] == "DataflowRunner"
    assert options["sdk_container_image"] == IMAGE
    assert options["sdk_location"] == "container"
    # From the spec's options: block.
    assert options["max_num_workers"] == 4
    assert options["disk_size_gb"] == 50

    staged = {p["name"]: p["location"] for p in pool["packages"]}
    assert "workflow.tar.gz" in staged
    assert not any(
        name.startswith("apache_beam") or name == "dataflow_python_sdk.tar" for name in staged
    )  # the SDK comes with the container image
    with tarfile.open(fileobj=io.BytesIO(_read_staged(staged["workflow.tar.gz"]))) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    root = Path(REPO)

    def packaged(pattern: str) -> set[str]:
        found = {p.relative_to(root).as_posix() for p in root.glob(pattern)}
        assert found, pattern
        return found

    for pattern in (
        "beam_cqia/prompts/rebuild/*.j2",
        "beam_cqia/prompts/llm/*.j2",
        "beam_cqia/demo/data/*/*.jsonl",
        "beam_cqia/text/*.yaml",
    ):
        assert packaged(pattern) <= names, sorted(packaged(pattern) - names)
    assert "beam_cqia/transforms/sinks.py" in names and "setup.py" in names
    # The pipeline itself travels as the proto: the spec was rendered here, on the launcher.
    assert options["pipelineUrl"].startswith(f"{BUCKET}/temp/")
    assert _read_staged(options["pipelineUrl"].replace("gs://", "storage.googleapis.com/"))
    assert offline == []


def test_dataflow_submission_prints_job_and_console_url_without_waiting(
    gcs_emulator, offline, fake_submission, monkeypatch, capsys
):
    monkeypatch.chdir(REPO)
    assert cli.main(_args(DEMO, "--sdk_container_image", IMAGE, "--sdk_location", "container")) == 0
    out = capsys.readouterr().out
    assert fake_submission == {**fake_submission, "submitted": 1, "waited": 0}
    assert f"submitted Dataflow job {JOB_ID}" in out
    assert launch.console_url("demo-proj", "europe-west4", JOB_ID) in out
    assert (
        "https://console.cloud.google.com/dataflow/jobs/europe-west4/"
        f"{JOB_ID}?project=demo-proj" in out
    )
    assert offline == []


def test_dataflow_submission_waits_when_asked(
    gcs_emulator, offline, fake_submission, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(REPO)
    tiny = tmp_path / "tiny.yaml"  # quicker to build than the demo; waiting is the point here
    tiny.write_text(
        "pipeline:\n  type: chain\n  transforms:\n"
        "    - {type: Create, config: {elements: ['{{ input }}', '{{ output }}']}}\n"
        "    - {type: LogForTesting}\n",
        encoding="utf-8",
    )
    argv = _args(tiny, "--sdk_container_image", IMAGE, "--sdk_location", "container", "--wait")
    assert cli.main(argv) == cli.EXIT_RUN  # the fake job ends FAILED
    assert fake_submission["waited"] == 1
    assert "ended in state FAILED" in capsys.readouterr().err
    assert offline == []


@pytest.mark.parametrize(
    ("argv", "wait", "runs", "remote", "waits"),
    [
        ([], None, True, False, True),
        (["--runner", "FnApiRunner"], False, True, False, False),
        (["--runner", "DataflowRunner"], None, True, True, False),
        (["--runner", "apache_beam.runners.dataflow.DataflowRunner"], None, True, True, False),
        (["--runner", "dataflowrunner"], True, True, True, True),
        (["--runner", "DataflowRunner", "--template_location", "t.json"], True, False, True, False),
        (["--runner", "FnApiRunner", "--template_location", "t.json"], None, True, False, True),
    ],
)
def test_launch_mode(argv, wait, runs, remote, waits):
    mode = launch.launch_mode(spec.pipeline_options({}, argv))
    assert (mode.runs, mode.remote, launch.should_wait(mode, wait)) == (runs, remote, waits)


def test_wait_and_no_wait_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        cli.main(["run", str(DEMO), "--wait", "--no-wait"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_describe_submission_of_a_template():
    options = PipelineOptions(
        ["--runner=DataflowRunner", "--template_location=t.json", "--temp_location=gs://b/t"]
    )
    (line,) = launch.describe_submission(None, options)
    assert line.startswith("template written to t.json") and "gs://b/t" in line
