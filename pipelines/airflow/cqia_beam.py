"""Airflow DAG ``cqia_beam``: builds a beam-cqia spec every day, locally or on Dataflow.

Each daily run builds ``spec`` with its ``vars``; in a value, ``{input_date}``/``{output_date}``
(params, default: the run's logical date) and ``{ds}`` are filled in (``beam_cqia.airflow_support``
documents the params). ``choose_runner`` then runs one of two tasks:

* ``run_local``: ``BeamRunPythonPipelineOperator`` on ``params.runner`` (FnApiRunner, the
  default; DirectRunner; PortableRunner with ``beam_options`` for a Flink job server).
* ``run_dataflow`` (``runner: DataflowRunner``): the same operator with a
  ``DataflowConfiguration``: Airflow adds ``--project --region --job_name``, follows the job (id
  in XCom, console link), waits for it when ``wait_until_finished`` and cancels it if the task is
  killed. The project comes from the ``project`` param or the GCP connection.

Both run ``python -m beam_cqia.flex_launcher`` (the Flex Template's entry point, which never
blocks on a Dataflow job) with the interpreter in ``CQIA_PYTHON`` (default ``python3``), an
environment where beam-cqia is installed. Airflow's own environment needs this package importable
(``pip install --no-deps beam-cqia`` or ``PYTHONPATH``) and the providers apache-beam and google
(the Beam operators refuse to load without the latter, even for local runners)::

    airflow dags test cqia_beam 2025-01-02 -c '{"vars": {"output": "out/{output_date}"}}'
    airflow dags trigger cqia_beam --conf '{"spec": "gs://b/specs/zhihu.yaml",
        "vars": {"input": "gs://b/crawl/{input_date}/*.jsonl", "output": "gs://b/cqia/{output_date}"},
        "runner": "DataflowRunner", "region": "europe-west4", "temp_location": "gs://b/temp",
        "sdk_container_image": "REGION-docker.pkg.dev/p/r/beam-cqia:0.1.0"}'
"""

import os
from datetime import datetime

from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator
from airflow.providers.google.cloud.operators.dataflow import (
    CheckJobRunning,
    DataflowConfiguration,
)

from beam_cqia import airflow_support

try:  # Airflow 3
    from airflow.sdk import DAG, Param, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task
    from airflow.models.param import Param

DEFAULTS = airflow_support.DEFAULT_PARAMS
LAUNCHER = {"py_file": "beam_cqia.flex_launcher", "py_options": ["-m"]}
DATE = r"^(\d{4}-\d{2}-\d{2})?$"


class _DataflowConfiguration(DataflowConfiguration):
    # The provider templates only job_name and location; the project and the wait are params too.
    template_fields = (*DataflowConfiguration.template_fields, "project_id", "wait_until_finished")


with DAG(
    dag_id="cqia_beam",
    description="Build a COIG-CQIA-style dataset with a beam-cqia spec, daily",
    schedule="@daily",
    start_date=datetime(2025, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["beam-cqia"],
    # The options below render to the dicts airflow_support builds, not to their text.
    render_template_as_native_obj=True,
    user_defined_macros={
        "cqia_options": airflow_support.launcher_options,
        "cqia_dataflow": airflow_support.dataflow_config,
    },
    params={
        "spec": Param(DEFAULTS["spec"], type="string", description="packaged name or path"),
        "vars": Param(
            DEFAULTS["vars"],
            type="object",
            description="{name: value}; {input_date}, {output_date} and {ds} are filled in",
        ),
        "input_date": Param(
            DEFAULTS["input_date"], type="string", pattern=DATE, description="empty: the run's"
        ),
        "output_date": Param(
            DEFAULTS["output_date"], type="string", pattern=DATE, description="empty: the run's"
        ),
        "runner": Param(
            DEFAULTS["runner"],
            type="string",
            enum=["FnApiRunner", "DirectRunner", "PortableRunner", "DataflowRunner"],
        ),
        "project": Param(DEFAULTS["project"], type="string", description="empty: connection's"),
        "region": Param(DEFAULTS["region"], type="string"),
        "temp_location": Param(DEFAULTS["temp_location"], type="string"),
        "sdk_container_image": Param(DEFAULTS["sdk_container_image"], type="string"),
        "setup_file": Param(DEFAULTS["setup_file"], type="string"),
        "job_name": Param(DEFAULTS["job_name"], type="string", pattern="^[a-z]([-a-z0-9]*)$"),
        "wait_until_finished": Param(DEFAULTS["wait_until_finished"], type="boolean"),
        "beam_options": Param(DEFAULTS["beam_options"], type="object"),
    },
) as dag:

    @task.branch(task_id="choose_runner")
    def choose_runner(params=None) -> str:
        return airflow_support.task_for(params)

    run_local = BeamRunPythonPipelineOperator(
        task_id="run_local",
        **LAUNCHER,
        py_interpreter=os.environ.get("CQIA_PYTHON", "python3"),
        runner="{{ params.runner }}",
        pipeline_options="{{ cqia_options(params, ds | default(none)) }}",
    )
    run_dataflow = BeamRunPythonPipelineOperator(
        task_id="run_dataflow",
        **LAUNCHER,
        py_interpreter=os.environ.get("CQIA_PYTHON", "python3"),
        runner="DataflowRunner",
        pipeline_options="{{ cqia_options(params, ds | default(none)) }}",
        dataflow_config=_DataflowConfiguration(
            job_name="{{ cqia_dataflow(params).job_name }}",
            project_id="{{ cqia_dataflow(params).project_id }}",
            location="{{ cqia_dataflow(params).location }}",
            wait_until_finished="{{ cqia_dataflow(params).wait_until_finished }}",
            # A daily job of the same name may still be running: launch regardless, Dataflow
            # names are suffixed per run.
            check_if_running=CheckJobRunning.IgnoreJob,
        ),
    )
    choose_runner() >> [run_local, run_dataflow]
