"""Run reports: the stage funnel from a manifest, and its agreement with Beam's counters."""

import json
from collections.abc import Iterable, Mapping
from typing import Any


def read_manifest(output_dir: str) -> dict[str, Any]:
    """Reads ``<output_dir>/_manifest.json`` from any Beam filesystem."""
    from apache_beam.io.filesystems import FileSystems

    path = FileSystems.join(output_dir, "_manifest.json")
    with FileSystems.open(path) as fh:
        return json.loads(fh.read().decode("utf-8"))


def format_funnel(manifest: Mapping[str, Any]) -> str:
    """The per-stage funnel as a text table: in, out, rejected by reason, errors by kind."""
    header = ("stage", "transform", "in", "out", "rejected", "errors", "why")
    rows = [header]
    for name, s in manifest["stages"].items():
        rejected = s.get("rejected", {})
        why = [f"{reason}={n}" for reason, n in sorted(rejected.items(), key=lambda kv: -kv[1])]
        why += [f"{kind}!={n}" for kind, n in sorted(s.get("error_kinds", {}).items())]
        out = str(s["out"]) + (f" ({s['emitted']} docs)" if "emitted" in s else "")
        rows.append(
            (
                name,
                s.get("transform", ""),
                str(s["in"]),
                out,
                str(sum(rejected.values())),
                str(s["errors"]),
                ", ".join(why),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [r[i].rjust(widths[i]) for i in range(2, len(header) - 1)]
        lines.append("  ".join([*cells, r[-1]]).rstrip())
    lines.insert(1, "-" * len(lines[0]))
    outputs = manifest.get("outputs", {})
    summary = ", ".join(
        f"{kind} {outputs[kind]['records']}"
        for kind in ("data", "rejected", "errors")
        if kind in outputs
    )
    return "\n".join(lines) + (f"\nwritten: {summary}" if summary else "")


def conservation_problems(manifest: Mapping[str, Any]) -> list[str]:
    """Stages where ``in != out + rejected + errors`` (should be empty)."""
    problems = []
    for name, s in manifest["stages"].items():
        total = s["out"] + sum(s.get("rejected", {}).values()) + s["errors"]
        if s["in"] != total:
            problems.append(f"{name}: in={s['in']} but out+rejected+errors={total}")
    return problems


def metrics_by_stage(
    counters: Iterable[Any], manifest: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Sums ``beam_cqia.<Transform>`` (and ``.detail``) counters per stage of the manifest.

    A counter belongs to a stage when its namespace is the stage's transform and the stage name
    is a component of the counter's step path.

    Args:
        counters: Beam ``MetricResult`` counters (``result.metrics().query()["counters"]``).
        manifest: the run's manifest.
    """
    out: dict[str, dict[str, Any]] = {}
    counters = list(counters)
    for name, s in manifest["stages"].items():
        namespace = f"beam_cqia.{s.get('transform', '')}"
        namespaces = (namespace, f"{namespace}.detail")
        entry: dict[str, Any] = {"in": 0, "out": 0, "rejected": {}, "errors": 0}
        for c in counters:
            if c.key.metric.namespace not in namespaces or name not in c.key.step.split("/"):
                continue
            value = c.committed if c.committed is not None else c.attempted
            if value is None:
                continue
            metric = c.key.metric.name
            if metric == "seen":
                entry["in"] += value
            elif metric == "passed":
                entry["out"] += value
            elif metric == "errors":
                entry["errors"] += value
            elif metric == "emitted":
                entry["emitted"] = entry.get("emitted", 0) + value
            elif metric.startswith("filtered:"):
                reason = metric.split(":", 1)[1]
                entry["rejected"][reason] = entry["rejected"].get(reason, 0) + value
            elif metric.startswith("error_kind:"):
                kinds = entry.setdefault("error_kinds", {})
                kind = metric.split(":", 1)[1]
                kinds[kind] = kinds.get(kind, 0) + value
        out[name] = entry
    return out


def funnel_from_metrics(counters: Iterable[Any], manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest's funnel with every stage's counts taken from Beam's counters instead.

    Works with committed values (PortableRunner reports only those) or attempted ones. Stages
    whose transform counts no ``emitted`` keep the manifest's value; the written outputs are the
    manifest's. Print it with :func:`format_funnel`.
    """
    stages = {}
    for name, m in metrics_by_stage(counters, manifest).items():
        s = manifest["stages"][name]
        entry: dict[str, Any] = {
            "transform": s.get("transform", ""),
            "in": m["in"],
            "out": m["out"],
            "rejected": dict(sorted((k, v) for k, v in m["rejected"].items() if v)),
            "errors": m["errors"],
        }
        if "emitted" in s:
            entry["emitted"] = m.get("emitted", s["emitted"])
        if m.get("error_kinds"):
            entry["error_kinds"] = dict(sorted(m["error_kinds"].items()))
        stages[name] = entry
    return {**manifest, "stages": stages}


def metric_mismatches(counters: Iterable[Any], manifest: Mapping[str, Any]) -> list[str]:
    """Where the manifest's counts and Beam's counters disagree (should be empty)."""
    problems = []
    for name, m in metrics_by_stage(counters, manifest).items():
        s = manifest["stages"][name]
        expected = {
            "in": s["in"],
            "out": s["out"],
            "errors": s["errors"],
            "rejected": {k: v for k, v in s.get("rejected", {}).items() if v},
        }
        got = {
            "in": m["in"],
            "out": m["out"],
            "errors": m["errors"],
            "rejected": {k: v for k, v in m["rejected"].items() if v},
        }
        # Counted by newer transforms only: compared when the counters have them.
        if "emitted" in m and "emitted" in s:
            expected["emitted"], got["emitted"] = s["emitted"], m["emitted"]
        if m.get("error_kinds"):
            expected["error_kinds"] = dict(s.get("error_kinds", {}))
            got["error_kinds"] = dict(m["error_kinds"])
        if expected != got:
            problems.append(f"{name}: manifest {expected} != counters {got}")
    return problems
