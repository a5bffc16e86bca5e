"""``beam-cqia diff OUT_A OUT_B``: what changed between two runs, to judge a change (a threshold,
a template, a new crawl) before releasing it.

Records are matched by id (ids are content hashes of source and native id, so the same item has
the same id in both runs). Per subset: records added, removed, and changed (any written field
differs, apart from signals and lineage, which name input paths; signal changes are counted on
their own). For every record that left the data, where it went in the other run (rejected by
which stage and reason, an error, or absent from the input). Per stage, the funnel of both runs
and what moved, and the thresholds that differ. Reads only ids and hashes of rows into memory.
"""

from collections import Counter
from collections.abc import Mapping
from typing import Any

import xxhash

from beam_cqia.explain import Output
from beam_cqia.records import record_json
from beam_cqia.report_html import rule_text

IGNORED = {"signals", "lineage", "_file"}
ALL = "(all)"


def _data_index(out: Output) -> dict[str, tuple[str, int, int]]:
    """id → (subset, hash of the written fields, hash of the signals)."""
    index = {}
    for row in out.rows("data"):
        content = {k: v for k, v in row.items() if k not in IGNORED}
        signals = sorted((row.get("signals") or {}).items())
        index[row["id"]] = (
            str(row.get("subset", "")),
            xxhash.xxh64_intdigest(record_json(content).encode("utf-8")),
            xxhash.xxh64_intdigest(repr(signals).encode("utf-8")),
        )
    return index


def _where_index(out: Output) -> dict[str, str]:
    """id → ``rejected <stage>: <reason>`` or ``error <stage>: <kind>``."""
    where: dict[str, str] = {}
    for row in out.rows("rejected", ["id", "stage", "reason"]):
        where.setdefault(row["id"], f"rejected {row['stage']}: {row['reason']}")
    for row in out.rows("errors", ["id", "stage", "kind"]):
        where.setdefault(row["id"], f"error {row['stage']}: {row['kind']}")
    return where


def _rules(manifest: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    out = {}
    for stage, s in manifest["stages"].items():
        for r in s.get("thresholds", []):
            out[(stage, r["name"] + "@" + ",".join(r.get("sources", [])))] = rule_text(r)
        for source, rules in s.get("thresholds_by_source", {}).items():
            for r in rules:
                out[(stage, f"{r['name']}@by_source:{source}")] = rule_text(r)
    return out


def diff(a: Output, b: Output, examples: int = 5) -> dict[str, Any]:
    """The comparison of two outputs as JSON-able values (see :func:`format_diff`)."""
    data_a, data_b = _data_index(a), _data_index(b)
    where_a, where_b = _where_index(a), _where_index(b)
    subsets = sorted({v[0] for v in data_a.values()} | {v[0] for v in data_b.values()})
    per_subset: dict[str, dict[str, Any]] = {
        s: {"a": 0, "b": 0, "added": 0, "removed": 0, "changed": 0, "signals_changed": 0}
        for s in [*subsets, ALL]
    }
    added, removed, changed = [], [], []
    went: Counter[str] = Counter()
    came: Counter[str] = Counter()
    for subset, _, _ in data_a.values():
        per_subset[subset]["a"] += 1
    for subset, _, _ in data_b.values():
        per_subset[subset]["b"] += 1
    for rid in sorted(data_b.keys() - data_a.keys()):
        per_subset[data_b[rid][0]]["added"] += 1
        added.append(rid)
        came[where_a.get(rid, "not in A's input")] += 1
    for rid in sorted(data_a.keys() - data_b.keys()):
        per_subset[data_a[rid][0]]["removed"] += 1
        removed.append(rid)
        went[where_b.get(rid, "not in B's input")] += 1
    for rid in sorted(data_a.keys() & data_b.keys()):
        (sa, ca, ga), (sb, cb, gb) = data_a[rid], data_b[rid]
        if sa != sb or ca != cb:
            per_subset[sb]["changed"] += 1
            changed.append(rid)
        elif ga != gb:
            per_subset[sb]["signals_changed"] += 1
    total = per_subset[ALL]
    for name in subsets:
        for key, value in per_subset[name].items():
            total[key] += value

    stages_a, stages_b = a.manifest["stages"], b.manifest["stages"]
    names = [*stages_a, *[n for n in stages_b if n not in stages_a]]
    funnel = []
    for name in names:
        sa, sb = stages_a.get(name), stages_b.get(name)
        row: dict[str, Any] = {
            "stage": name,
            "only_in": "A" if sb is None else "B" if sa is None else "",
        }
        for key in ("in", "out", "errors"):
            row[key] = [sa[key] if sa else None, sb[key] if sb else None]
        rej_a = (sa or {}).get("rejected", {})
        rej_b = (sb or {}).get("rejected", {})
        row["rejected"] = [sum(rej_a.values()) if sa else None, sum(rej_b.values()) if sb else None]
        row["reasons"] = {
            r: [rej_a.get(r, 0), rej_b.get(r, 0)]
            for r in sorted(rej_a.keys() | rej_b.keys())
            if rej_a.get(r, 0) != rej_b.get(r, 0)
        }
        funnel.append(row)

    rules_a, rules_b = _rules(a.manifest), _rules(b.manifest)
    thresholds = [
        {
            "stage": stage,
            "rule": key.split("@", 1)[0],
            "a": rules_a.get((stage, key)),
            "b": rules_b.get((stage, key)),
        }
        for stage, key in sorted(rules_a.keys() | rules_b.keys())
        if rules_a.get((stage, key)) != rules_b.get((stage, key))
    ]
    spec_a, spec_b = a.manifest.get("spec", {}), b.manifest.get("spec", {})
    return {
        "a": a.path,
        "b": b.path,
        "spec": {
            "same_template": spec_a.get("template_sha256") == spec_b.get("template_sha256"),
            "a": spec_a.get("path", ""),
            "b": spec_b.get("path", ""),
        },
        "subsets": per_subset,
        "removed_went_to": dict(went.most_common()),
        "added_came_from": dict(came.most_common()),
        "funnel": funnel,
        "thresholds": thresholds,
        "examples": {
            "added": added[:examples],
            "removed": removed[:examples],
            "changed": changed[:examples],
        },
    }


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def _pair(values: list[Any]) -> str:
    a, b = values
    if a == b:
        return _num(a)
    delta = f" ({b - a:+,})" if a is not None and b is not None else ""
    return f"{_num(a)} → {_num(b)}{delta}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(r) - 1)]
        lines.append("  ".join([*cells, r[-1]]).rstrip() if len(r) > 1 else r[0])
    lines.insert(1, "-" * max(len(x) for x in lines))
    return lines


def format_diff(d: Mapping[str, Any]) -> str:
    """A comparison as text for the terminal."""
    lines = [f"A: {d['a']}", f"B: {d['b']}"]
    spec = d["spec"]
    if spec["a"] != spec["b"] or not spec["same_template"]:
        same = "same" if spec["same_template"] else "different"
        lines.append(f"spec: {spec['a'] or '-'} vs {spec['b'] or '-'} ({same} template text)")
    if d["thresholds"]:
        lines += ["", "thresholds that differ:"]
        for t in d["thresholds"]:
            lines.append(f"  {t['stage']} {t['rule']}: {t['a'] or '(none)'} → {t['b'] or '(none)'}")
    lines += ["", "records per subset:"]
    rows = []
    for name, s in d["subsets"].items():
        rows.append(
            [
                name,
                f"{s['a']:,}",
                f"{s['b']:,}",
                f"+{s['added']:,}",
                f"-{s['removed']:,}",
                f"{s['changed']:,}",
                f"{s['signals_changed']:,}",
                "",
            ]
        )
    header = ["subset", "A", "B", "added", "removed", "changed", "signals only", ""]
    lines += _table(header, rows)
    if d["removed_went_to"]:
        lines += ["", "where the removed records are in B:"]
        lines += [f"  {n:>7,}  {w}" for w, n in d["removed_went_to"].items()]
    if d["added_came_from"]:
        lines += ["", "where the added records were in A:"]
        lines += [f"  {n:>7,}  {w}" for w, n in d["added_came_from"].items()]
    lines += ["", "funnel (A → B):"]
    rows = []
    for f in d["funnel"]:
        moved = ", ".join(f"{r} {_pair(v)}" for r, v in f["reasons"].items())
        if f["only_in"]:
            moved = f"only in {f['only_in']}" + (f"; {moved}" if moved else "")
        rows.append(
            [
                f["stage"],
                _pair(f["in"]),
                _pair(f["out"]),
                _pair(f["rejected"]),
                _pair(f["errors"]),
                moved,
            ]
        )
    lines += _table(["stage", "in", "out", "rejected", "errors", "reasons that moved"], rows)
    ex = d["examples"]
    if any(ex.values()):
        lines += ["", "examples (beam-cqia trace OUT ID):"]
        for key in ("added", "removed", "changed"):
            if ex[key]:
                lines.append(f"  {key}: {' '.join(ex[key])}")
    return "\n".join(lines)
