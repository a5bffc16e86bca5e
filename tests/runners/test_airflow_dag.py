"""The Airflow DAG ``airflow/dags/cqia_beam.py``.

Always: ``beam_cqia.airflow_support`` (no Airflow import) turns DAG params into the options of
``BeamRunPythonPipelineOperator`` and into the equivalent ``beam-cqia run`` arguments, and the
flex launcher reads those options as the same run. When Airflow with the Beam and Google providers
is importable (it is not in the project's environment: it pulls a large dependency set; see
BEAM-NOTES §6 for a separate environment), the DAG is also parsed by Airflow's DagBag and its
templates rendered.
"""

import json
import os
import shlex
import subprocess
import sys

import pytest

from beam_cqia import airflow_support, cli, flex_launcher, spec
from tests.conftest import REPO

DAGS = REPO / "airflow" / "dags"
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
    # No logical date (a manual run in Airflow 3): {ds} stays as written.
    assert "{ds}" in airflow_support.launcher_options(DATAFLOW_PARAMS)["vars"]


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
        airflow_support.run_args(params)


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


# Runs in Airflow's interpreter with a throwaway AIRFLOW_HOME, so that importing Airflow here
# neither writes ~/airflow nor needs a database. Exit 77: Airflow or a provider is missing.
AIRFLOW_SCRIPT = """
import json, sys
try:
    from airflow.providers.apache.beam.hooks.beam import beam_options_to_args
    import airflow.providers.google  # noqa: F401
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:
        from airflow.models.dagbag import DagBag
except ImportError as exc:
    print(exc)
    sys.exit(77)
dags, params, sample = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
bag = DagBag(dag_folder=dags)
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()},
       "to_args": beam_options_to_args(sample)}
dag = bag.dags.get("cqia_beam")
if dag is not None:
    task = dag.get_task("run_spec")
    env = dag.get_template_env()
    ctx = {"params": params, "ds": "2025-01-02"}
    out["py"] = [task.py_file, task.py_options]
    out["pipeline_options"] = task.render_template(task.pipeline_options, ctx, env)
    out["runner"] = task.render_template(task.runner, ctx, env)
    out["dataflow_config"] = task.render_template(task.dataflow_config, ctx, env)
    out["manual_run"] = task.render_template(task.pipeline_options, {"params": params}, env)
print(json.dumps(out))
"""


def test_dag_parses_and_renders_in_airflow(tmp_path):
    """Set CQIA_AIRFLOW_PYTHON to the python of an environment with apache-airflow,
    apache-airflow-providers-apache-beam and -google to run this from the project's environment."""
    python = os.environ.get("CQIA_AIRFLOW_PYTHON", sys.executable)
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": str(REPO),  # beam_cqia.airflow_support, which the DAG imports
    }
    proc = subprocess.run(
        [
            python,
            "-c",
            AIRFLOW_SCRIPT,
            str(DAGS),
            json.dumps(DATAFLOW_PARAMS),
            json.dumps(TO_ARGS_SAMPLE),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # not the repository: its airflow/ folder is no package
        timeout=300,
    )
    if proc.returncode == 77:
        pytest.skip(
            f"Airflow is not importable by {python} ({proc.stdout.strip()}): it is kept out of "
            "the dev extra (large dependency set); set CQIA_AIRFLOW_PYTHON to the python of an "
            "environment with apache-airflow and its apache-beam and google providers"
        )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["import_errors"] == {}
    assert got["to_args"] == airflow_support.to_args(TO_ARGS_SAMPLE)
    assert got["py"] == ["beam_cqia.flex_launcher", ["-m"]]
    # render_template_as_native_obj: the options are the dict airflow_support builds.
    assert got["pipeline_options"] == airflow_support.launcher_options(
        DATAFLOW_PARAMS, "2025-01-02"
    )
    assert got["runner"] == "DataflowRunner"
    assert got["dataflow_config"] == airflow_support.dataflow_config(DATAFLOW_PARAMS)
    assert got["manual_run"] == airflow_support.launcher_options(DATAFLOW_PARAMS)
