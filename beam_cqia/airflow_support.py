"""What the Airflow DAG (``pipelines/airflow/cqia_beam.py``) runs, built from its params; no Airflow
import, so it is tested without Airflow.

The DAG runs ``python -m beam_cqia.flex_launcher`` through ``BeamRunPythonPipelineOperator``:
:func:`launcher_options` gives that operator's ``pipeline_options`` and :func:`to_args` the
arguments Airflow's Beam hook turns them into. :func:`run_args` is the same run as a
``beam-cqia run`` command line (for a BashOperator, a shell, or a look at what a DAG run does).

DAG params (all optional but ``spec``):
    spec: packaged spec name (``demo``) or path (local or gs://).
    vars: the spec's Jinja variables, ``{name: value}``. In a value, ``{input_date}`` and
        ``{output_date}`` are the dates below and ``{ds}`` is the run's logical date.
    input_date, output_date: ``YYYY-MM-DD``; empty means the run's logical date. Setting them
        rebuilds an older crawl (``input_date``) into a new release (``output_date``).
    runner: ``FnApiRunner`` (local), ``DataflowRunner``, ``PortableRunner``, ...
    temp_location, sdk_container_image, setup_file: the usual Dataflow options; an image also
        sets ``sdk_location=container``.
    beam_options: any other Beam pipeline options, ``{name: value}``.
    project, region, job_name, wait_until_finished: Dataflow settings the operator itself uses.
"""

import json
import re
from collections.abc import Mapping
from typing import Any

DEFAULT_PARAMS: dict[str, Any] = {
    "spec": "demo",
    "vars": {"output": "out/cqia_beam/{output_date}"},
    "input_date": "",
    "output_date": "",
    "runner": "FnApiRunner",
    "project": "",
    "region": "us-central1",
    "temp_location": "",
    "sdk_container_image": "",
    "setup_file": "",
    "job_name": "beam-cqia",
    "wait_until_finished": True,
    "beam_options": {},
}
# Options the operator passes itself (from `runner` and its Dataflow configuration).
OPERATOR_OPTIONS = ("runner", "project", "region", "job_name")
DATAFLOW_OPTIONS = ("temp_location", "sdk_container_image", "setup_file")


def _with_defaults(params: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**DEFAULT_PARAMS, **{k: v for k, v in params.items() if v is not None}}
    if not merged.get("spec"):
        raise ValueError("the spec param is required (a packaged spec name or a path)")
    return merged


DATE_PLACEHOLDERS = ("{ds}", "{input_date}", "{output_date}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def run_dates(params: Mapping[str, Any], ds: str | None = None) -> dict[str, str | None]:
    """The values of the date placeholders: ``{ds}``, ``{input_date}``, ``{output_date}``.

    Args:
        params: the DAG run's params.
        ds: the run's logical date; ``None`` for a run without one (a manual run in Airflow 3).
    """
    merged = _with_defaults(params)
    dates: dict[str, str | None] = {"{ds}": ds}
    for name in ("input_date", "output_date"):
        value = merged.get(name) or ds
        if value is not None and not _DATE.fullmatch(str(value)):
            raise ValueError(f"the {name} param is a date YYYY-MM-DD, got {value!r}")
        dates["{" + name + "}"] = value
    return dates


def spec_vars(params: Mapping[str, Any], ds: str | None = None) -> dict[str, str]:
    """The spec's variables with the date placeholders filled in.

    Raises:
        ValueError: a value uses a date the run does not have (no logical date and the
            matching ``input_date``/``output_date`` param left empty).
    """
    variables = _with_defaults(params)["vars"] or {}
    if not isinstance(variables, Mapping):
        raise ValueError(f"the vars param is a mapping of name to value, got {variables!r}")
    dates = run_dates(params, ds)
    out = {}
    for name, value in variables.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for placeholder, date in dates.items():
            if placeholder not in text:
                continue
            if date is None:
                raise ValueError(
                    f"the vars value {name}={text!r} uses {placeholder}, but this run has no "
                    "logical date: set the input_date/output_date params"
                )
            text = text.replace(placeholder, date)
        out[str(name)] = text
    return out


def beam_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """Beam pipeline options of a run, apart from those the operator adds itself."""
    merged = _with_defaults(params)
    options: dict[str, Any] = {}
    for name in DATAFLOW_OPTIONS:
        if merged.get(name):
            options[name] = merged[name]
    if merged.get("sdk_container_image"):
        options["sdk_location"] = "container"
    extra = merged.get("beam_options") or {}
    if not isinstance(extra, Mapping):
        raise ValueError(f"the beam_options param is a mapping, got {extra!r}")
    clash = sorted(set(extra) & set(OPERATOR_OPTIONS))
    if clash:
        raise ValueError(f"set {clash} through the DAG params, not beam_options")
    options.update(extra)
    return options


def launcher_options(params: Mapping[str, Any], ds: str | None = None) -> dict[str, Any]:
    """``pipeline_options`` of ``BeamRunPythonPipelineOperator`` running the flex launcher.

    Args:
        params: the DAG run's params (see the module docstring).
        ds: the run's logical date (``{{ ds }}``), substituted for ``{ds}`` in variables.
    """
    variables = spec_vars(params, ds)
    options: dict[str, Any] = {"spec": _with_defaults(params)["spec"]}
    if variables:
        options["vars"] = json.dumps(variables, ensure_ascii=False, sort_keys=True)
    options.update(beam_options(params))
    return options


def dataflow_config(params: Mapping[str, Any]) -> dict[str, Any]:
    """The operator's ``dataflow_config`` (used only when the runner is DataflowRunner)."""
    merged = _with_defaults(params)
    return {
        "job_name": merged["job_name"],
        "project_id": merged["project"] or None,  # None: the connection's project
        "location": merged["region"],
        "wait_until_finished": bool(merged["wait_until_finished"]),
    }


def to_args(options: Mapping[str, Any]) -> list[str]:
    """Pipeline options as command-line arguments, the way Airflow's Beam hook writes them.

    ``True``: a bare ``--name``; ``False``: left out (``use_public_ips=False`` is
    ``--no_use_public_ips``); ``None``: left out; a list: one ``--name=item`` per item; a mapping:
    ``--name=<JSON>``; anything else ``--name=value``.
    """
    args = []
    for name, value in options.items():
        if isinstance(value, bool):
            if value:
                args.append(f"--{name}")
            elif name == "use_public_ips":
                args.append("--no_use_public_ips")
        elif value is None:
            continue
        elif isinstance(value, list | tuple):
            args.extend(f"--{name}={item}" for item in value)
        elif isinstance(value, Mapping):
            args.append(f"--{name}={json.dumps(value)}")
        else:
            args.append(f"--{name}={value}")
    return args


def run_args(params: Mapping[str, Any], ds: str | None = None) -> list[str]:
    """The same run as ``beam-cqia run`` arguments (without the program name).

    On Dataflow the command also gets ``--project``, ``--region`` and ``--job_name`` (as the
    operator adds them) and ``--wait`` when ``wait_until_finished``.
    """
    merged = _with_defaults(params)
    args = ["run", merged["spec"]]
    for name, value in spec_vars(params, ds).items():
        args += ["--var", f"{name}={value}"]
    args += ["--runner", merged["runner"]]
    if merged["runner"].lower().endswith("dataflowrunner"):
        config = dataflow_config(params)
        if config["project_id"]:
            args.append(f"--project={config['project_id']}")
        args += [f"--region={config['location']}", f"--job_name={config['job_name']}"]
        if config["wait_until_finished"]:
            args.append("--wait")
    return args + to_args(beam_options(params))


def task_for(params: Mapping[str, Any]) -> str:
    """The DAG task that runs a run's params: ``run_dataflow`` or ``run_local``."""
    runner = str(_with_defaults(params)["runner"])
    return "run_dataflow" if runner.lower().endswith("dataflowrunner") else "run_local"
