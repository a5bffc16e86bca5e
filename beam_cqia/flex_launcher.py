"""Launcher of a spec with flat named parameters: the Flex Template's and Airflow's entry point.

    python -m beam_cqia.flex_launcher --spec demo --vars '{"input": "gs://...", "output": "..."}'
        [--var k=v ...] [--wait] [Beam pipeline options ...]

Flex Templates and Airflow's ``BeamRunPythonPipelineOperator`` pass every parameter as one
``--name=value`` option, so the spec's variables come as one ``--vars`` value (a JSON object, or
``k=v`` pairs separated by commas); ``--var k=v`` adds or overrides one, as in ``beam-cqia run``.
Every other option goes to Beam unchanged (``--runner``, ``--project``, ``--labels`` that Airflow
adds, ...). The runner defaults to DataflowRunner, and the launcher returns once the job is
submitted (or the template written) without waiting for it to finish, as a Flex Template
launcher must. Local runners (``--runner FnApiRunner``) run to the end and have their outputs
checked like ``beam-cqia run``.

``dataflow/metadata.json`` declares the same parameters (tests/runners/test_flex_launcher.py
checks that they agree).
"""

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from beam_cqia.spec import SpecError

DEFAULT_RUNNER = "DataflowRunner"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m beam_cqia.flex_launcher",
        description="Run a beam-cqia spec with flat parameters (Flex Template, Airflow).",
        allow_abbrev=False,
    )
    parser.add_argument(
        "--spec",
        required=True,
        help="a packaged spec name (demo, release, ...) or a spec path (local or gs://); "
        "the demo named so reads the embedded corpus unless --vars sets input",
    )
    parser.add_argument(
        "--vars",
        default="",
        help='the spec\'s Jinja variables: a JSON object ({"input": "gs://..."}) or k=v,k2=v2',
    )
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="one more variable, overriding --vars (repeatable)",
    )
    parser.add_argument(
        "--wait",
        nargs="?",
        const="true",
        default=None,
        help="true (or bare --wait): block until the job ends and check its outputs; "
        "default: wait for local runners only",
    )
    return parser


def parse_vars_param(value: str) -> dict[str, str]:
    """Parses ``--vars``: a JSON object, or ``k=v`` pairs separated by commas; ``""`` is none.

    Non-string JSON values are passed as their JSON text (``3``, ``true``, ``["a"]``).

    Raises:
        SpecError: for JSON that is not an object, or a pair without ``=``.
    """
    from beam_cqia import spec

    value = value.strip()
    if not value:
        return {}
    if value.startswith(("{", "[")):
        try:
            loaded = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SpecError(f"--vars is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise SpecError("--vars takes a JSON object")
        return {
            str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in loaded.items()
        }
    return spec.parse_vars(item for item in value.split(",") if item.strip())


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise SpecError(f"--wait takes true or false, got {value!r}")


def _has_runner(beam_args: Sequence[str]) -> bool:
    return any(a == "--runner" or a.startswith("--runner=") for a in beam_args)


def parse_args(argv: Sequence[str]) -> tuple[str, dict[str, str], list[str], bool | None]:
    """Splits launcher arguments into ``(spec path, variables, Beam arguments, wait)``.

    ``wait`` is None (the runner's default) unless ``--wait`` was given.

    Raises:
        SpecError: for a bad ``--vars``, ``--var`` or ``--wait`` value or an unknown spec name.
    """
    from beam_cqia import spec

    args, beam_args = _parser().parse_known_args(list(argv))
    variables = parse_vars_param(args.vars)
    variables.update(spec.parse_vars(args.var))
    if not _has_runner(beam_args):
        beam_args = ["--runner", DEFAULT_RUNNER, *beam_args]
    wait = None if args.wait is None else _parse_bool(args.wait)
    path, variables = spec.resolve(args.spec, variables)
    return path, variables, beam_args, wait


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the launcher; returns the exit status of ``beam-cqia run``."""
    from beam_cqia import cli

    # INFO: Beam's "Created job with id: [...]" is what Airflow's BeamHook reads the job id from,
    # and Flex Template launcher logs show up in the Dataflow console.
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        path, variables, beam_args, wait = parse_args(sys.argv[1:] if argv is None else argv)
        return cli.run_spec(path, variables, beam_args, wait=wait)
    except SpecError as exc:
        print(f"beam-cqia: {exc}", file=sys.stderr)
        return cli.EXIT_SPEC


def launcher_parameters() -> dict[str, Any]:
    """The launcher's own parameters: ``{name: {"required": bool, "help": str}}``."""
    out = {}
    for action in _parser()._actions:  # noqa: SLF001 - argparse exposes no public listing
        if action.option_strings and action.dest != "help":
            out[action.dest] = {"required": action.required, "help": action.help}
    return out


if __name__ == "__main__":
    sys.exit(main())
