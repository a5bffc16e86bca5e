"""The dataset card (``README.md``) of a written output: pure functions, no Beam.

``WriteCqiaParquet`` computes the statistics inside the pipeline (combiners over the records, so
they work on every runner without reading the files back) and calls :func:`render_card` in its
finalize step with the manifest, the statistics and the spec the pipeline was built from. The card
holds no timestamps and no output path, and every list in it is sorted, so the same input and spec
give the same bytes.
"""

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

CARD = "README.md"
# Text fields whose lengths the card describes, for whichever of them the record type has.
LENGTH_FIELDS = ("instruction", "output", "question", "body", "answer")
# Label distributions: (name, heading); values are counted once per label of each record.
LABELS = (
    ("task_type.major", "task_type.major"),
    ("task_type.minor", "task_type.minor"),
    ("domain", "domain"),
    ("answer_from", "answer_from"),
    ("human_verified", "human_verified"),
    ("source", "source"),
)
TOP = 30  # rows per label table; the rest is summed into one row
PERCENTILES = (10, 50, 90)
# Variables whose values are never written into a card.
_SECRET = re.compile(r"key|token|secret|password|credential", re.IGNORECASE)


# --- statistics (called from the pipeline's combiners) -------------------------------------------


def label_values(record: Any) -> list[tuple[str, str]]:
    """``(distribution, value)`` pairs of one record, one per label it carries."""
    out: list[tuple[str, str]] = []
    task_type = getattr(record, "task_type", None)
    if task_type is not None:
        out += [("task_type.major", str(v)) for v in task_type.major]
        out += [("task_type.minor", str(v)) for v in task_type.minor]
    out += [("domain", str(v)) for v in getattr(record, "domain", None) or []]
    for name in ("answer_from", "source"):
        if hasattr(record, name):
            out.append((name, str(getattr(record, name))))
    if hasattr(record, "human_verified"):
        out.append(("human_verified", "true" if record.human_verified else "false"))
    return out


def length_summary(histogram: Mapping[int, int]) -> dict[str, Any]:
    """Count, total, min, max and nearest-rank percentiles of a ``{length: count}`` histogram."""
    count = sum(histogram.values())
    summary: dict[str, Any] = {"count": count, "total": 0, "min": 0, "max": 0}
    if not count:
        summary.update({f"p{q}": 0 for q in PERCENTILES})
        return summary
    lengths = sorted(histogram)
    summary.update(total=sum(k * v for k, v in histogram.items()), min=lengths[0], max=lengths[-1])
    ranks = {q: max(1, math.ceil(q / 100 * count)) for q in PERCENTILES}
    seen = 0
    for length in lengths:
        seen += histogram[length]
        for q, rank in ranks.items():
            if f"p{q}" not in summary and seen >= rank:
                summary[f"p{q}"] = length
    return summary


# --- the spec ------------------------------------------------------------------------------------


def spec_info(display_data: Mapping[str, Any]) -> dict[str, Any]:
    """What the card says about the spec, from a pipeline's display data.

    Beam YAML's launcher (``python -m apache_beam.yaml.main``) and ``beam-cqia run`` record the
    rendered spec (``yaml``), its template (``yaml_jinja_template``) and variables
    (``yaml_jinja_variables``); ``beam-cqia`` adds the spec's path (``yaml_pipeline_file``).
    Values of variables named like a secret (key, token, password...) are replaced by ``***``.
    Empty for pipelines built in Python.
    """
    rendered = display_data.get("yaml")
    if not isinstance(rendered, str):
        return {}
    template = display_data.get("yaml_jinja_template")
    try:
        variables = json.loads(display_data.get("yaml_jinja_variables") or "{}") or {}
    except (TypeError, ValueError):
        variables = {}
    info: dict[str, Any] = {
        "sha256": hashlib.sha256(rendered.encode("utf-8")).hexdigest(),
        "variables": {
            str(k): "***" if _SECRET.search(str(k)) else str(v)
            for k, v in sorted(dict(variables).items())
        },
    }
    if isinstance(template, str):
        info["template_sha256"] = hashlib.sha256(template.encode("utf-8")).hexdigest()
        info["text"] = template
    else:
        info["text"] = rendered if not info["variables"] else ""
    path = display_data.get("yaml_pipeline_file")
    if isinstance(path, str) and path:
        info["path"] = path
    return info


# --- rendering -----------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value)).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]], text: tuple[int, ...] = (0,)) -> list[str]:
    """A Markdown table; the columns at indexes ``text`` are text, the others numbers."""
    align = ["---" if i in text else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _share(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def _mean(summary: Mapping[str, Any]) -> str:
    return f"{summary['total'] / summary['count']:.1f}" if summary["count"] else "-"


def render_card(
    manifest: Mapping[str, Any],
    stats: Iterable[tuple[Any, ...]],
    spec: Mapping[str, Any],
    partition_by: list[str],
) -> str:
    """The dataset card of an output, as Markdown.

    Args:
        manifest: the output's manifest (:func:`beam_cqia.transforms.sinks.build_manifest`).
        stats: the pipeline's statistics: ``("subset", name, n)``, ``("length", subset or None,
            field, summary)`` (see :func:`length_summary`) and ``("labels", distribution,
            {"top": [[value, n]...], "other_values": n, "other_count": n})``.
        spec: :func:`spec_info` of the pipeline, empty when there was no spec.
        partition_by: the data's partition keys.
    """
    subsets: dict[str, int] = {}
    lengths: dict[tuple[str | None, str], dict[str, Any]] = {}
    labels: dict[str, dict[str, Any]] = {}
    for item in stats:
        if item[0] == "subset":
            subsets[item[1]] = subsets.get(item[1], 0) + item[2]
        elif item[0] == "length":
            lengths[(item[1], item[2])] = item[3]
        elif item[0] == "labels":
            labels[item[1]] = item[2]
    names = sorted(subsets)
    total = manifest["outputs"]["data"]["records"]
    out = [
        "# Dataset card",
        "",
        "Written by beam-cqia's `WriteCqiaParquet` at the end of the run that built this "
        "directory; every figure below was computed by that run. Records follow the COIG-CQIA "
        "schema (instruction, input, output, task_type, domain, metadata, answer_from, "
        "human_verified, copyright) plus beam-cqia's working fields.",
        "",
        f"**{total:,} records** in {len(names)} subset(s).",
        "",
        "## Subsets",
        "",
    ]
    fields = [f for f in LENGTH_FIELDS if any(key[1] == f for key in lengths)]
    header = ["subset", "records", "share"]
    for f in fields:
        header += [f"{f} {p}" for p in ("p10", "p50", "p90", "mean")]
    rows = []
    for subset in [*names, None]:
        n = subsets.get(subset, 0) if subset is not None else sum(subsets.values())
        row: list[Any] = ["**all**" if subset is None else subset, f"{n:,}", _share(n, total)]
        for f in fields:
            s = lengths.get((subset, f), length_summary({}))
            row += [s["p10"], s["p50"], s["p90"], _mean(s)]
        rows.append(row)
    out += _table(header, rows)
    if fields:
        out += [
            "",
            "Lengths are in characters (Unicode code points): percentiles p10/p50/p90 (nearest "
            "rank) and mean.",
        ]
    for name, heading in LABELS:
        if name not in labels:
            continue
        dist = labels[name]
        rows = [[value or "(empty)", f"{n:,}", _share(n, total)] for value, n in dist["top"]]
        if dist["other_values"]:
            rows.append(
                [f"({dist['other_values']:,} other values)", f"{dist['other_count']:,}", ""]
            )
        out += ["", f"## {heading}", ""]
        out += _table([name, "records", "share"], rows)
    out += [
        "",
        "Shares are of all records; a record with several labels counts once for each.",
        "",
        "## Stage funnel",
        "",
    ]
    rows = []
    for stage, s in manifest["stages"].items():
        rejected = s.get("rejected", {})
        why = ", ".join(f"{r}: {n:,}" for r, n in sorted(rejected.items(), key=lambda kv: -kv[1]))
        errors = ", ".join(f"{k}: {n:,}" for k, n in sorted(s.get("error_kinds", {}).items()))
        rows.append(
            [
                stage,
                s.get("transform", ""),
                f"{s['in']:,}",
                f"{s['out']:,}",
                f"{sum(rejected.values()):,}",
                f"{s['errors']:,}",
                why,
                errors,
            ]
        )
    header = ["stage", "transform", "in", "out", "rejected", "errors"]
    out += _table([*header, "rejected by reason", "errors by kind"], rows, text=(0, 1, 6, 7))
    outputs = manifest["outputs"]
    out += [
        "",
        "Every stage conserves its records: in = out + rejected + errors. Rejected records are in "
        f"`rejected/` ({outputs['rejected']['records']:,}, with the stage, reason and the record "
        f"as JSON) and errors in `errors/` ({outputs['errors']['records']:,}, with the message); "
        "`_manifest.json` lists every file.",
        "",
        "## Spec",
        "",
    ]
    out += _spec_section(spec)
    versions = manifest.get("versions", {})
    out += ["", "## Versions", ""]
    out += [f"- {name} {version}" for name, version in sorted(versions.items())]
    out += ["", "## How to load", ""]
    out += _how_to_load(names, list(partition_by))
    return "\n".join(out).rstrip("\n") + "\n"


def _spec_section(spec: Mapping[str, Any]) -> list[str]:
    if not spec:
        return ["Built by a pipeline written in Python (no Beam YAML spec was recorded)."]
    lines = []
    if "path" in spec:
        lines.append(f"- spec: `{spec['path']}`")
    lines.append(f"- sha256 of the rendered spec: `{spec['sha256']}`")
    if "template_sha256" in spec:
        lines.append(f"- sha256 of the spec template: `{spec['template_sha256']}`")
    for name, value in spec.get("variables", {}).items():
        lines.append(f"- variable `{name}` = `{value}`")
    text = spec.get("text", "")
    if text:
        fence = "````" if "```" in text else "```"
        lines += ["", "<details><summary>spec</summary>", "", f"{fence}yaml", text.rstrip("\n")]
        lines += [fence, "", "</details>"]
    return lines


def _how_to_load(subsets: list[str], partition_by: list[str]) -> list[str]:
    lines = [
        "From this directory (partition columns such as `subset` come back from the folder names):",
        "",
        "```python",
        "import pandas as pd",
        "",
        'df = pd.read_parquet("data")',
    ]
    if partition_by and partition_by[0] == "subset" and subsets:
        one = json.dumps(subsets[0], ensure_ascii=False)
        lines.append(f'one = pd.read_parquet("data", filters=[("subset", "==", {one})])')
    lines += [
        "```",
        "",
        "With Hugging Face `datasets` (its Parquet loader cannot type the `signals` map column, "
        "so go through pandas and leave it out):",
        "",
        "```python",
        "from datasets import Dataset",
        "",
        'ds = Dataset.from_pandas(df.drop(columns=["signals"]), preserve_index=False)',
        "```",
        "",
        "`ExportCqiaJsonl` writes the same records as JSON lines in the published COIG-CQIA "
        'layout (which `datasets.load_dataset("json", ...)` reads with COIG-CQIA\'s features) '
        "and `ExportChat` as chat examples; `ReadCqiaParquet` reads this directory back into a "
        "pipeline and `beam-cqia report <this directory>` prints the stage funnel.",
    ]
    return lines
