"""The Airflow DAG ``pipelines/airflow/cqia_beam.py``.

``beam_cqia.airflow_support`` (no Airflow import) turns DAG params into the options of
``BeamRunPythonPipelineOperator`` and into the equivalent ``beam-cqia run`` arguments; those
mappings are tested here directly. Airflow itself runs in its own virtual environment (its pins
differ from ours): the ``airflow_python`` fixture builds one with uv from ``AIRFLOW_PINS`` (reused
while the pins stay the same), or takes ``CQIA_AIRFLOW_PYTHON``. In it, the DAG is parsed, the
local task runs the demo end to end with ``airflow dags test``, and the Dataflow task is executed
up to the subprocess it would start, whose command line is checked.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from beam_cqia import airflow_support, cli, flex_launcher, report, spec
from tests.conftest import REPO

DAGS = REPO / "pipelines" / "airflow"
DATAFLOW_PARAMS = {
    "spec": "gs://b/specs/zhihu.yaml",
    "vars": {"input": "gs://b/crawl/{ds}", "output": "gs://b/cqia/{ds}", "min_votes": 5},
    "runner": "DataflowRunner",
    "project": "demo-proj",
    "region": "europe-west4",
    "temp_location": "gs://b/temp",
    "sdk_container_image": "europe-docker.pkg.dev/demo-proj/cqia/beam-cqia:0.1.0",
    "job_name": "cqia-zhihu",
    "wait_until_finished": True,
    "beam_options": {"max_num_workers": 20, "experiments": ["shuffle_mode=service"]},
}


def test_run_args_of_the_default_params():
    args = airflow_support.run_args({}, "2025-01-02")
    assert args == [
        "run",
        "demo",
        "--var",
        "output=out/cqia_beam/2025-01-02",
        "--runner",
        "FnApiRunner",
    ]


def test_run_args_on_dataflow():
    args = airflow_support.run_args(DATAFLOW_PARAMS, "2025-01-02")
    assert shlex.join(["beam-cqia", *args]) == (
        "beam-cqia run gs://b/specs/zhihu.yaml --var input=gs://b/crawl/2025-01-02 "
        "--var output=gs://b/cqia/2025-01-02 --var min_votes=5 --runner DataflowRunner "
        "--project=demo-proj --region=europe-west4 --job_name=cqia-zhihu --wait "
        "--temp_location=gs://b/temp "
        "--sdk_container_image=europe-docker.pkg.dev/demo-proj/cqia/beam-cqia:0.1.0 "
        "--sdk_location=container --max_num_workers=20 --experiments=shuffle_mode=service"
    )


def test_operator_options_and_dataflow_config():
    options = airflow_support.launcher_options(DATAFLOW_PARAMS, "2025-01-02")
    assert options == {
        "spec": "gs://b/specs/zhihu.yaml",
        "vars": json.dumps(
            {
                "input": "gs://b/crawl/2025-01-02",
                "min_votes": "5",
                "output": "gs://b/cqia/2025-01-02",
            }
        ),
        "temp_location": "gs://b/temp",
        "sdk_container_image": DATAFLOW_PARAMS["sdk_container_image"],
        "sdk_location": "container",
        "max_num_workers": 20,
        "experiments": ["shuffle_mode=service"],
    }
    assert airflow_support.dataflow_config(DATAFLOW_PARAMS) == {
        "job_name": "cqia-zhihu",
        "project_id": "demo-proj",
        "location": "europe-west4",
        "wait_until_finished": True,
    }
    assert airflow_support.dataflow_config({})["project_id"] is None  # the connection's project


def test_input_and_output_dates():
    params = {
        "spec": "zhihu",
        "vars": {"input": "gs://b/crawl/{input_date}/*", "output": "gs://b/cqia/{output_date}"},
    }
    assert airflow_support.spec_vars(params, "2025-01-02") == {
        "input": "gs://b/crawl/2025-01-02/*",
        "output": "gs://b/cqia/2025-01-02",
    }
    rebuild = {**params, "input_date": "2024-12-30", "output_date": "2025-02-01"}
    assert airflow_support.spec_vars(rebuild, "2025-01-02") == {
        "input": "gs://b/crawl/2024-12-30/*",
        "output": "gs://b/cqia/2025-02-01",
    }
    # No logical date (a manual run in Airflow 3): the dates must be given, never left as text.
    assert airflow_support.spec_vars(rebuild) == airflow_support.spec_vars(rebuild, "2025-01-02")
    with pytest.raises(ValueError, match=r"uses \{input_date\}, but this run has no logical date"):
        airflow_support.spec_vars({**params, "output_date": "2025-02-01"})
    with pytest.raises(ValueError, match="no logical date"):
        airflow_support.launcher_options(DATAFLOW_PARAMS)  # {ds}
    with pytest.raises(ValueError, match="input_date param is a date YYYY-MM-DD"):
        airflow_support.spec_vars({**params, "input_date": "yesterday"}, "2025-01-02")


def test_task_for():
    assert airflow_support.task_for({}) == "run_local"
    assert airflow_support.task_for({"runner": "PortableRunner"}) == "run_local"
    assert airflow_support.task_for(DATAFLOW_PARAMS) == "run_dataflow"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"spec": ""}, "spec param is required"),
        ({"vars": ["a=b"]}, "vars param is a mapping"),
        ({"beam_options": {"project": "p"}}, "through the DAG params"),
    ],
)
def test_bad_params(params, message):
    with pytest.raises(ValueError, match=message):
        airflow_support.run_args(params, "2025-01-02")


@pytest.mark.parametrize("params", [{}, DATAFLOW_PARAMS], ids=["default", "dataflow"])
def test_the_operator_runs_what_beam_cqia_run_would(params):
    """The flex launcher, given the operator's arguments, reads the same spec, variables and
    Beam options as ``beam-cqia run`` given :func:`airflow_support.run_args`."""
    ds = "2025-01-02"
    # What the operator adds itself: the runner; on Dataflow project, region and job name.
    operator_args = [f"--runner={ {**airflow_support.DEFAULT_PARAMS, **params}['runner'] }"]
    if params.get("runner") == "DataflowRunner":
        config = airflow_support.dataflow_config(params)
        operator_args += [
            f"--project={config['project_id']}",
            f"--region={config['location']}",
            f"--job_name={config['job_name']}",
        ]
    launcher_argv = airflow_support.to_args(airflow_support.launcher_options(params, ds))
    path, variables, beam_args, _wait = flex_launcher.parse_args(launcher_argv + operator_args)

    cli_args, cli_beam_args = cli._parser().parse_known_args(airflow_support.run_args(params, ds))
    cli_path, cli_vars = spec.resolve(cli_args.spec, spec.parse_vars(cli_args.var))
    assert (path, variables) == (cli_path, cli_vars)

    def normalized(args: list[str]) -> list[str]:
        joined = " ".join(args).replace("--runner ", "--runner=").split()
        return sorted(joined)

    assert normalized(beam_args) == normalized(cli_beam_args)


TO_ARGS_SAMPLE = {
    "a": "x",
    "flag": True,
    "unset": None,
    "off": False,
    "use_public_ips": False,
    "many": ["1", "2"],
    "n": 3,
    "m": {"k": "v"},
}


def test_to_args_follows_airflows_conventions():
    assert airflow_support.to_args(TO_ARGS_SAMPLE) == [
        "--a=x",
        "--flag",
        "--no_use_public_ips",
        "--many=1",
        "--many=2",
        "--n=3",
        '--m={"k": "v"}',
    ]


# Airflow 3.3 with the providers it was checked with; uv builds the environment in seconds.
AIRFLOW_PINS = (
    "apache-airflow==3.3.2",
    "apache-airflow-providers-apache-beam==6.3.1",
    "apache-airflow-providers-google==21.0.0",
)
AIRFLOW_VENV = REPO / ".cache" / "airflow-venv"


@pytest.fixture(scope="module")
def airflow_python() -> str:
    """The python of an environment with Airflow and the Beam and Google providers."""
    if os.environ.get("CQIA_AIRFLOW_PYTHON"):
        return os.environ["CQIA_AIRFLOW_PYTHON"]
    python = AIRFLOW_VENV / "bin" / "python"
    stamp = AIRFLOW_VENV / "pins.txt"
    wanted = "\n".join((sys.version.split()[0], *AIRFLOW_PINS))
    if stamp.exists() and stamp.read_text() == wanted and python.exists():
        return str(python)
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv (in the dev extra) builds Airflow's environment: pip install -e '.[dev]'"
    for cmd in (
        [uv, "venv", "--quiet", "--clear", "--python", sys.executable, str(AIRFLOW_VENV)],
        [uv, "pip", "install", "--quiet", "--python", str(python), *AIRFLOW_PINS],
    ):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, f"{cmd[:3]} failed:\n{proc.stderr[-3000:]}"
    stamp.write_text(wanted)
    return str(python)


def _airflow_env(home: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(REPO),  # beam_cqia.airflow_support, which the DAG imports
        "CQIA_PYTHON": sys.executable,  # the pipeline runs in the project's environment
        "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": json.dumps(
            {"conn_type": "google_cloud_platform", "extra": {"project": "conn-proj"}}
        ),
    }


# Runs in Airflow's interpreter: parses the DAG, and executes the Dataflow task with the Beam
# subprocess and the Dataflow API replaced, reporting the command line it would have run.
AIRFLOW_SCRIPT = """
import json, sys
from unittest import mock
from airflow.dag_processing.dagbag import DagBag
from airflow.providers.apache.beam.hooks import beam as beam_hooks
from airflow.providers.google.cloud.hooks.dataflow import DataflowHook
from airflow.providers.google.cloud.links.dataflow import DataflowJobLink

dags, run_params = sys.argv[1], json.loads(sys.argv[2])
bag = DagBag(dag_folder=dags)
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}}
dag = bag.dags["cqia_beam"]
out["schedule"] = str(dag.schedule)
out["tasks"] = sorted(t.task_id for t in dag.tasks)
out["downstream"] = sorted(dag.get_task("choose_runner").downstream_task_ids)
out["params"] = sorted(dag.params)
task = dag.get_task("run_dataflow")
params = {**{k: dag.params[k] for k in dag.params}, **run_params}
ctx = {"ti": mock.MagicMock(), "params": params, "ds": "2025-01-02", "ds_nodash": "20250102"}
task.render_template_fields(ctx, jinja_env=dag.get_template_env())
commands = []

def run_beam_command(cmd, log, process_line_callback=None, **kwargs):
    commands.append(cmd)
    process_line_callback("INFO apache_beam.runners.dataflow: Created job with id: [2025-01-02_7]")

with mock.patch.object(beam_hooks, "run_beam_command", run_beam_command), mock.patch.object(
    DataflowHook, "wait_for_done"
) as wait, mock.patch.object(DataflowJobLink, "persist"):
    out["returned"] = task.execute(ctx)
out["commands"] = commands
out["waited"] = {k: v for k, v in wait.call_args.kwargs.items() if k != "job_name"}
out["job_name"] = wait.call_args.kwargs["job_name"]
print(json.dumps(out))
"""


def _in_airflow(python: str, home: Path, run_params: dict) -> dict:
    proc = subprocess.run(
        [python, "-c", AIRFLOW_SCRIPT, str(DAGS), json.dumps(run_params)],
        capture_output=True,
        text=True,
        env=_airflow_env(home),
        cwd=home,  # not the repository
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_dataflow_task_command(airflow_python, tmp_path):
    """The DAG parses, and its Dataflow task launches exactly what ``beam-cqia run`` would.

    (With no ``project`` param the provider takes the GCP connection's, through credentials that
    do not exist offline: that path is the provider's, not tested here.)"""
    params = {**DATAFLOW_PARAMS, "input_date": "2024-12-31"}
    params["vars"] = {**params["vars"], "input": "gs://b/crawl/{input_date}"}
    got = _in_airflow(airflow_python, tmp_path, params)
    assert got["import_errors"] == {}
    assert got["schedule"] == "@daily"
    assert got["tasks"] == ["choose_runner", "run_dataflow", "run_local"]
    assert got["downstream"] == ["run_dataflow", "run_local"]
    assert {"input_date", "output_date", "spec", "vars"} <= set(got["params"])

    assert got["returned"] == {"dataflow_job_id": "2025-01-02_7"}
    [cmd] = got["commands"]
    assert cmd[:4] == [sys.executable, "-m", "beam_cqia.flex_launcher", "--runner=DataflowRunner"]
    # The job name gets a per-run suffix; the operator waits on the job it launched.
    assert got["job_name"].startswith("cqia-zhihu-")
    assert got["waited"] == {
        "location": "europe-west4",
        "job_id": "2025-01-02_7",
        "project_id": "demo-proj",
    }
    path, variables, beam_args, wait = flex_launcher.parse_args(cmd[3:])
    assert variables == {
        "input": "gs://b/crawl/2024-12-31",
        "output": "gs://b/cqia/2025-01-02",
        "min_votes": "5",
    }
    assert path == "gs://b/specs/zhihu.yaml"
    assert wait is None  # the launcher returns at submission; the operator follows the job
    expected = airflow_support.run_args(params, "2025-01-02")
    expected = [a.replace("--runner ", "--runner=") for a in expected]
    cli_args, cli_beam = cli._parser().parse_known_args(expected)
    assert (path, variables) == spec.resolve(cli_args.spec, spec.parse_vars(cli_args.var))
    cli_beam = [a for a in cli_beam if not a.startswith("--job_name=")]
    launched = [a for a in beam_args if not a.startswith(("--job_name=", "--labels="))]
    assert sorted(" ".join(launched).replace("--runner ", "--runner=").split()) == sorted(
        " ".join(cli_beam).replace("--runner ", "--runner=").split()
    )
    assert "--labels=airflow-version=v3-3-2" in beam_args


def test_airflow_dags_test_builds_the_demo(airflow_python, tmp_path):
    """``airflow dags test`` on the daily DAG: the branch picks the local task, which builds the
    demo on FnApiRunner into the output named by the run's date."""
    home = tmp_path / "home"
    home.mkdir()
    airflow = str(Path(airflow_python).parent / "airflow")
    env = _airflow_env(home)
    migrate = subprocess.run(
        [airflow, "db", "migrate"], capture_output=True, text=True, env=env, cwd=home, timeout=300
    )
    assert migrate.returncode == 0, migrate.stderr[-3000:]
    conf = {"vars": {"output": str(tmp_path / "out" / "{output_date}")}}
    run = subprocess.run(
        [airflow, "dags", "test", "cqia_beam", "2025-01-02", "-c", json.dumps(conf)],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=600,
    )
    log = run.stdout + run.stderr
    assert run.returncode == 0, log[-4000:]
    assert "Skipping tasks [('run_dataflow', -1)]" in log
    assert "state=success" in log
    manifest = report.read_manifest(str(tmp_path / "out" / "2025-01-02"))
    golden = json.loads((REPO / "tests" / "golden" / "demo" / "manifest.json").read_text())
    assert manifest["stages"] == golden["stages"]
    assert manifest["spec"]["variables"]["output"] == str(tmp_path / "out" / "2025-01-02")
