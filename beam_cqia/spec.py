"""Beam YAML specs: render, check and run them, with beam-cqia's transforms always available.

The CLI's engine. A spec is plain Beam YAML; this module adds three things: our provider listing is
injected when a spec does not include it, Jinja variables come from ``--var k=v`` with clear errors
for missing ones, and local runs default to FnApiRunner (DirectRunner first tries to download the
Prism binary).
"""

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

import jinja2
import yaml

DEFAULT_LOCAL_RUNNER = "FnApiRunner"
OUR_SINKS = ("WriteCqiaParquet",)


class SpecError(ValueError):
    """A spec that cannot be rendered, parsed or built; the message says where and why."""


def pipelines_dir() -> str:
    """The directory of the packaged specs (``pipelines/`` in a checkout)."""
    return str(resources.files("beam_cqia.pipelines"))


def providers_file() -> str:
    """The packaged Beam YAML provider listing of our transforms."""
    return str(resources.files("beam_cqia.pipelines") / "providers.yaml")


def packaged_spec(name: str) -> str:
    """The path of a packaged spec, e.g. ``demo`` → ``.../beam_cqia/pipelines/demo.yaml``."""
    path = resources.files("beam_cqia.pipelines") / f"{name}.yaml"
    if not path.is_file():
        raise SpecError(f"no packaged spec named {name!r}")
    return str(path)


def demo_data_dir() -> str:
    """The embedded demo corpus."""
    return str(resources.files("beam_cqia") / "demo" / "data")


def parse_vars(items: Iterable[str]) -> dict[str, str]:
    """Parses ``k=v`` strings into Jinja variables.

    Raises:
        SpecError: for an item without ``=`` or with an empty name.
    """
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise SpecError(f"--var takes name=value, got {item!r}")
        out[name.strip()] = value
    return out


def read_text(path: str) -> str:
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path) as fh:
            return fh.read().decode("utf-8")
    except Exception as exc:
        raise SpecError(f"cannot read spec {path}: {exc}") from exc


def render(path: str, variables: Mapping[str, str]) -> str:
    """Renders a spec through Jinja (as Beam YAML does), with strict undefined variables.

    Raises:
        SpecError: naming a variable the spec uses and ``variables`` lacks, or a Jinja error.
    """
    from apache_beam.io.filesystems import FileSystems
    from apache_beam.yaml import yaml_transform

    template = read_text(path)
    try:
        return yaml_transform.expand_jinja(template, dict(variables), [FileSystems.split(path)[0]])
    except jinja2.UndefinedError as exc:
        missing = sorted(spec_variables(path) - set(variables))
        hint = " ".join(f"--var {m}=..." for m in missing) or "the variable"
        raise SpecError(f"{path}: {exc.message}; pass {hint}") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise SpecError(f"{path}:{exc.lineno}: Jinja syntax error: {exc.message}") from exc


def spec_variables(path: str) -> set[str]:
    """The variables a spec needs from ``--var``, including those of the files it includes
    (``{% include 'families/x.yaml' %}``, found next to the spec as Beam YAML finds them).

    Variables the spec sets itself (``{% set %}``) or only tests with ``is defined`` (optional,
    with a default in the spec) are not needed; ``datetime`` is Beam YAML's own.
    """
    from apache_beam.io.filesystems import FileSystems

    return _needed(read_text(path), FileSystems.split(path)[0], set())


def _needed(source: str, directory: str, seen: set[str]) -> set[str]:
    from apache_beam.io.filesystems import FileSystems
    from jinja2 import meta, nodes

    try:
        ast = jinja2.Environment().parse(source)
    except jinja2.TemplateSyntaxError:
        return set()
    needed = set(meta.find_undeclared_variables(ast))
    for name in meta.find_referenced_templates(ast):
        if name is None or name in seen:
            continue
        seen.add(name)
        try:
            included = read_text(FileSystems.join(directory, name))
        except SpecError:
            continue  # rendering reports the missing file
        needed |= _needed(included, directory, seen)
    assigned = {
        n.target.name
        for n in ast.find_all((nodes.Assign, nodes.AssignBlock))
        if isinstance(n.target, nodes.Name)
    }
    optional = {
        t.node.name
        for t in ast.find_all(nodes.Test)
        if t.name == "defined" and isinstance(t.node, nodes.Name)
    }
    return needed - assigned - optional - {"datetime"}


def parse(rendered: str, path: str) -> dict[str, Any]:
    """Parses a rendered spec, keeping line numbers for error messages."""
    from apache_beam.yaml import yaml_transform

    try:
        spec = yaml.load(rendered, Loader=yaml_transform.SafeLineLoader)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(spec, Mapping) or "pipeline" not in spec:
        raise SpecError(f"{path}: a spec is a mapping with a 'pipeline' key")
    return spec


def load(path: str, variables: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Renders and parses a spec: ``(rendered text, spec)``."""
    rendered = render(path, variables)
    return rendered, parse(rendered, path)


def _our_providers() -> dict[str, list[Any]]:
    from apache_beam.yaml import yaml_provider

    return yaml_provider.merge_providers(yaml_provider.load_providers(providers_file()))


def expand(pipeline: Any, spec: Mapping[str, Any], path: str) -> Any:
    """Expands a parsed spec into ``pipeline``, adding our transforms where the spec lacks them.

    Raises:
        SpecError: with Beam YAML's message (it names the transform and line), plus a suggestion
            for a misspelt transform type.
    """
    from apache_beam.yaml import yaml_provider, yaml_transform

    declared = yaml_provider.merge_providers(
        yaml_provider.parse_providers(path, spec.get("providers", []))
    )
    extra = {k: v for k, v in _our_providers().items() if k not in declared}
    try:
        return yaml_transform.expand_pipeline(
            pipeline, spec, providers=extra, validate_schema="generic", pipeline_path=path
        )
    except Exception as exc:
        raise SpecError(_explain(exc, spec, path)) from exc


def _explain(exc: Exception, spec: Mapping[str, Any], path: str) -> str:
    message = str(exc)
    ref = re.search(r"Unknown transform at line (\d+): (\S+)", message)
    if ref:
        names = _transform_names(spec.get("pipeline", {}))
        close = difflib.get_close_matches(ref.group(2).split(".")[0], names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; transforms are {sorted(names)}"
        return f"{path}:{ref.group(1)}: input {ref.group(2)!r} names no transform of the spec{hint}"
    arg = re.search(r"(\w+)\.__init__\(\) got an unexpected argument '(\w+)'", message)
    if arg:
        params = _config_keys(arg.group(1))
        close = difflib.get_close_matches(arg.group(2), params, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{path}: {message}\n{hint}{arg.group(1)} takes: {', '.join(params)}"
    known = sorted(set(_our_providers()) | set(_standard_types()))
    for t in _transform_types(spec.get("pipeline", {})):
        if t not in known and t not in ("chain", "composite"):
            close = difflib.get_close_matches(t, known, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            return f"{path}: unknown transform type {t!r}{hint}\n{message}"
    return f"{path}: {message}"


def _config_keys(transform: str) -> list[str]:
    import inspect

    from beam_cqia import transforms

    cls = getattr(transforms, transform, None)
    if cls is None:
        return []
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def _transform_names(node: Any) -> list[str]:
    out = []
    if isinstance(node, Mapping):
        if isinstance(node.get("type"), str) and node["type"] not in ("chain", "composite"):
            out.append(str(node.get("name", node["type"])))
        for key in ("transforms", "source", "sink", "extra_transforms"):
            if key in node:
                out.extend(_transform_names(node[key]))
    elif isinstance(node, list):
        for item in node:
            out.extend(_transform_names(item))
    return out


def _standard_types() -> list[str]:
    from apache_beam.yaml import yaml_provider

    return list(yaml_provider.standard_providers())


def _transform_types(node: Any) -> list[str]:
    out = []
    if isinstance(node, Mapping):
        if "type" in node and isinstance(node["type"], str):
            out.append(node["type"])
        for key in ("transforms", "source", "sink", "extra_transforms"):
            if key in node:
                out.extend(_transform_types(node[key]))
    elif isinstance(node, list):
        for item in node:
            out.extend(_transform_types(item))
    return out


def sink_paths(spec: Mapping[str, Any]) -> list[str]:
    """Output directories of the spec's WriteCqiaParquet sinks (where manifests appear)."""
    out = []

    def visit(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") in OUR_SINKS and isinstance(node.get("config"), Mapping):
                path = node["config"].get("path")
                if isinstance(path, str):
                    out.append(path)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(spec.get("pipeline", {}))
    return out


def pipeline_options(spec: Mapping[str, Any], beam_args: list[str]) -> Any:
    """Pipeline options from the spec's ``options`` and the command line (FnApiRunner default)."""
    from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions
    from apache_beam.yaml import yaml_transform

    options = PipelineOptions(
        beam_args,
        pickle_library="cloudpickle",
        **yaml_transform.SafeLineLoader.strip_metadata(spec.get("options", {})),
    )
    standard = options.view_as(StandardOptions)
    if not standard.runner:
        standard.runner = DEFAULT_LOCAL_RUNNER
    return options


def check(path: str, variables: Mapping[str, str], beam_args: list[str] | None = None) -> dict:
    """Builds a spec's pipeline graph without running it; returns the parsed spec.

    Catches missing variables, YAML errors, unknown transform types, unknown or bad config values
    (our transforms validate their config when constructed) and wiring errors.

    Raises:
        SpecError: describing the first problem found.
    """
    import apache_beam as beam

    _rendered, spec = load(path, variables)
    options = pipeline_options(spec, list(beam_args or []))
    pipeline = beam.Pipeline(options=options)
    expand(pipeline, spec, path)
    return spec


def build(path: str, variables: Mapping[str, str], beam_args: list[str]) -> tuple[Any, dict]:
    """Returns ``(pipeline, spec)`` ready to run."""
    import apache_beam as beam

    rendered, spec = load(path, variables)
    options = pipeline_options(spec, beam_args)
    # As Beam YAML's launcher records them, plus the spec's path; WriteCqiaParquet's dataset card
    # reads them back.
    display = {
        "yaml": rendered,
        "yaml_jinja_template": read_text(path),
        "yaml_jinja_variables": json.dumps(dict(variables), ensure_ascii=False, sort_keys=True),
        "yaml_pipeline_file": path,
    }
    pipeline = beam.Pipeline(options=options, display_data=display)
    expand(pipeline, spec, path)
    return pipeline, spec


def resolve(name_or_path: str, variables: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """A spec argument as ``(path, variables)``: a bare name (``demo``) is a packaged spec.

    The packaged demo, named so, reads the embedded corpus unless ``input`` is given (as
    ``beam-cqia demo`` does).

    Raises:
        SpecError: for a bare name that is neither a file nor a packaged spec.
    """
    import os

    out = dict(variables)
    bare = "/" not in name_or_path and not name_or_path.endswith((".yaml", ".yml"))
    if not bare or os.path.exists(name_or_path):
        return name_or_path, out
    if name_or_path == "demo":
        out.setdefault("input", demo_data_dir())
    return packaged_spec(name_or_path), out
