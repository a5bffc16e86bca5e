"""Airflow DAG ``cqia_beam``: runs a beam-cqia spec with variables, locally or on Dataflow.

Trigger it with params (see ``beam_cqia.airflow_support``), e.g.::

    airflow dags trigger cqia_beam --conf '{"spec": "demo", "vars": {"output": "out/{ds}"}}'
    airflow dags trigger cqia_beam --conf '{"spec": "gs://b/specs/zhihu.yaml",
        "vars": {"input": "gs://b/crawl", "output": "gs://b/cqia/{ds}"},
        "runner": "DataflowRunner", "project": "p", "region": "europe-west4",
        "temp_location": "gs://b/temp",
        "sdk_container_image": "REGION-docker.pkg.dev/p/r/beam-cqia:0.1.0"}'

The task is a ``BeamRunPythonPipelineOperator`` running ``python -m beam_cqia.flex_launcher``
(the Flex Template's entry point) with ``CQIA_PYTHON`` (default ``python3``), an environment where
beam-cqia is installed: Airflow's own environment only needs this package importable (e.g.
``pip install --no-deps beam-cqia``) plus apache-airflow-providers-apache-beam and -google (the
Beam operators refuse to load without the Google provider, even for local runners). On Dataflow
the operator adds ``--project --region --job_name``, follows the job (its id goes to XCom, the
task links to the console) and cancels it when the task is killed; the launcher itself never
blocks on the job.
"""

import os
from datetime import datetime

from airflow.providers.apache.beam.operators.beam import BeamRunPythonPipelineOperator

from beam_cqia import airflow_support

try:  # Airflow 3
    from airflow.sdk import DAG, Param
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.models.param import Param

DEFAULTS = airflow_support.DEFAULT_PARAMS

with DAG(
    dag_id="cqia_beam",
    description="Build a COIG-CQIA-style dataset with a beam-cqia spec",
    schedule=None,
    start_date=datetime(2025, 1, 1),
    catchup=False,
    tags=["beam-cqia"],
    # pipeline_options below renders to the dict airflow_support builds, not to its text.
    render_template_as_native_obj=True,
    user_defined_macros={
        "cqia_options": airflow_support.launcher_options,
        "cqia_dataflow": airflow_support.dataflow_config,
    },
    params={
        "spec": Param(DEFAULTS["spec"], type="string", description="packaged name or path"),
        "vars": Param(DEFAULTS["vars"], type="object", description="{name: value}; {ds}: date"),
        "runner": Param(
            DEFAULTS["runner"],
            type="string",
            enum=["FnApiRunner", "DirectRunner", "DataflowRunner", "PortableRunner"],
        ),
        "project": Param(DEFAULTS["project"], type="string", description="Dataflow project"),
        "region": Param(DEFAULTS["region"], type="string"),
        "temp_location": Param(DEFAULTS["temp_location"], type="string"),
        "sdk_container_image": Param(DEFAULTS["sdk_container_image"], type="string"),
        "setup_file": Param(DEFAULTS["setup_file"], type="string"),
        "job_name": Param(DEFAULTS["job_name"], type="string", pattern="^[a-z]([-a-z0-9]*)$"),
        "wait_until_finished": Param(DEFAULTS["wait_until_finished"], type="boolean"),
        "beam_options": Param(DEFAULTS["beam_options"], type="object"),
    },
) as dag:
    BeamRunPythonPipelineOperator(
        task_id="run_spec",
        py_file="beam_cqia.flex_launcher",
        py_options=["-m"],
        py_interpreter=os.environ.get("CQIA_PYTHON", "python3"),
        runner="{{ params.runner }}",
        pipeline_options="{{ cqia_options(params, ds | default(none)) }}",
        dataflow_config="{{ cqia_dataflow(params) }}",
    )
