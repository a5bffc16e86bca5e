"""Explaining a written output record by record: ``beam-cqia trace`` and ``beam-cqia sample``
(and the reading ``beam-cqia diff`` shares, :mod:`beam_cqia.rundiff`).

An output is read through the files its ``_manifest.json`` lists, on any Beam filesystem, with
pyarrow. Rows within a part file are sorted by id, so looking an id up reads only the row groups
whose id statistics can hold it. A record's history is its ``lineage`` (:mod:`beam_cqia.lineage`),
its signals against the thresholds the manifest records, and where it left the pipeline: data,
rejected (stage, reasons, detail, the id kept instead) or errors (stage, kind, message).
"""

import json
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import xxhash

from beam_cqia import layout, lineage
from beam_cqia.report_html import cut, fmt_num, rule_text

KINDS = layout.KINDS  # data, rejected, errors
TEXT_FIELDS = ("instruction", "input", "output", "title", "question", "answer", "body", "text")
WIDTH = 100
_LLM_PART = re.compile(rf"(?:^|,){lineage.LLM_KEY}=[0-9a-f]+")


class ExplainError(ValueError):
    """A missing output, an unknown id, an ambiguous prefix: the message says which."""


def _partition_values(rel_path: str) -> dict[str, str]:
    parts = rel_path.split("/")[1:-1]
    return {k: layout.decode_value(v) for k, _, v in (p.partition("=") for p in parts if "=" in p)}


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    for key in ("signals", "meta"):
        value = row.get(key)
        if isinstance(value, list):  # Arrow maps read back as lists of pairs
            row[key] = dict(value)
    return row


class Output:
    """A finished output directory, read through its manifest.

    Args:
        path: the output directory (local or any Beam filesystem URL).
    """

    def __init__(self, path: str):
        from apache_beam.io.filesystems import FileSystems

        self.path = path.rstrip("/") if len(path) > 1 else path
        target = FileSystems.join(self.path, "_manifest.json")
        try:
            with FileSystems.open(target) as fh:
                self.manifest: dict[str, Any] = json.loads(fh.read().decode("utf-8"))
        except Exception as exc:  # noqa: BLE001 - any failure means: not a finished output
            raise ExplainError(f"{path} is not a finished beam-cqia output ({exc})") from None

    def files(self, kind: str) -> list[str]:
        """Relative paths of the part files of ``data``, ``rejected`` or ``errors``."""
        return [f["path"] for f in self.manifest["outputs"].get(kind, {}).get("files", [])]

    def _open(self, rel_path: str) -> Any:
        import pyarrow.parquet as pq
        from apache_beam.io.filesystem import CompressionTypes
        from apache_beam.io.filesystems import FileSystems

        fh = FileSystems.open(
            FileSystems.join(self.path, rel_path), compression_type=CompressionTypes.UNCOMPRESSED
        )
        return fh, pq.ParquetFile(fh)

    def rows(
        self,
        kind: str,
        columns: Sequence[str] | None = None,
        id_range: tuple[str, str] | None = None,
        where: Callable[[dict[str, Any]], bool] | None = None,
        files: Sequence[str] | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Rows of one kind with their partition values (e.g. ``subset``).

        Args:
            kind: ``data``, ``rejected`` or ``errors``.
            columns: the columns to read (partition values are always added); all by default.
            id_range: ``(low, high)``: only ids in it, reading only the row groups that can
                hold one.
            where: a filter on the rows (with partition values).
            files: only these part files.
        """
        for rel in files if files is not None else self.files(kind):
            parts = _partition_values(rel)
            fh, pf = self._open(rel)
            with fh:
                names = pf.schema_arrow.names
                cols = None if columns is None else [c for c in columns if c in names]
                groups = range(pf.metadata.num_row_groups)
                leaf = _leaf_index(pf, "id")
                if id_range is not None and leaf is not None:
                    groups = [g for g in groups if _may_hold(pf, g, leaf, id_range)]
                for g in groups:
                    for row in pf.read_row_group(g, columns=cols).to_pylist():
                        if id_range is not None and not id_range[0] <= row["id"] <= id_range[1]:
                            continue
                        row = _plain({**row, **{k: v for k, v in parts.items() if k not in row}})
                        row["_file"] = rel
                        if where is None or where(row):
                            yield row


def _leaf_index(pf: Any, path: str) -> int | None:
    """The index of a top-level column among the Parquet leaf columns (nested ones have many)."""
    md = pf.metadata
    if md.num_row_groups == 0:
        return None
    group = md.row_group(0)
    return next((j for j in range(md.num_columns) if group.column(j).path_in_schema == path), None)


def _may_hold(pf: Any, group: int, column: int, id_range: tuple[str, str]) -> bool:
    stats = pf.metadata.row_group(group).column(column).statistics
    if stats is None or not stats.has_min_max:
        return True
    return not (stats.max < id_range[0] or stats.min > id_range[1])


def _prefix_range(prefix: str) -> tuple[str, str]:
    return prefix, prefix + "\U0010ffff"


def find(out: Output, rid: str) -> dict[str, list[dict[str, Any]]]:
    """The rows of ``out`` whose id is ``rid``, or starts with it when no id equals it.

    Raises:
        ExplainError: when nothing matches, or a prefix matches several ids.
    """
    found = {kind: list(out.rows(kind, id_range=_prefix_range(rid))) for kind in KINDS}
    ids = sorted({r["id"] for rows in found.values() for r in rows})
    if not ids:
        raise ExplainError(f"no record with id {rid!r} (or starting with it) in {out.path}")
    if rid in ids:
        ids = [rid]
    elif len(ids) > 1:
        shown = ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")
        raise ExplainError(f"{rid!r} is the start of {len(ids)} ids: {shown}")
    return {kind: [r for r in rows if r["id"] == ids[0]] for kind, rows in found.items()}


def duplicates_of(out: Output, rid: str) -> list[dict[str, Any]]:
    """Rejected rows that name ``rid`` as the record kept instead of them."""
    columns = ["id", "stage", "reason", "kept_id", "cluster_id"]
    return sorted(
        out.rows("rejected", columns=columns, where=lambda r: r.get("kept_id") == rid),
        key=lambda r: r["id"],
    )


def thresholds(manifest: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(stage, rule)`` of every FilterByScore rule the manifest records."""
    out = []
    for stage, s in manifest["stages"].items():
        out += [(stage, r) for r in s.get("thresholds", [])]
        for source, rules in sorted(s.get("thresholds_by_source", {}).items()):
            out += [(stage, {**r, "sources": [source]}) for r in rules]
    return out


def _applies(rule: Mapping[str, Any], source: str, subset: str) -> bool:
    if rule.get("sources") and source not in rule["sources"]:
        return False
    return not (rule.get("subsets") and subset not in rule["subsets"])


def rule_checks(
    manifest: Mapping[str, Any], signals: Mapping[str, float], source: str, subset: str
) -> list[dict[str, Any]]:
    """Each threshold that applies to a record: its signal value and whether it passes."""
    checks = []
    for stage, rule in thresholds(manifest):
        if not _applies(rule, source, subset):
            continue
        value = signals.get(rule["signal"])
        ok = value is not None
        if value is not None:
            ok = ("min" not in rule or value >= rule["min"]) and (
                "max" not in rule or value <= rule["max"]
            )
        checks.append(
            {
                "stage": stage,
                "rule": rule["name"],
                "text": rule_text(rule),
                "value": value,
                "ok": ok,
            }
        )
    return checks


def _describe_step(stage: str, note: str) -> str:
    if not note:
        return "passed through"
    origin = lineage.parse_origin(f"{stage}:{note}")
    if origin is not None:
        where = f"position {origin.offset}" if origin.offset >= 0 else "file level"
        return f"read from {origin.file} ({where})" + (f", url {origin.url}" if origin.url else "")
    fields = lineage.note_fields(note)
    if "original" in fields:
        return f"replaced the text; original: {cut(fields['original'], 120)!r}"
    if "kept_of" in fields:
        return f"kept, of {fields['kept_of']} duplicates (cluster {fields.get('cluster', '?')})"
    if "passed" in fields:
        return f"passed thresholds: {fields['passed'].replace(',', ', ')}"
    keys = lineage.llm_keys([f"{stage}:{note}"])
    rest = _LLM_PART.sub("", note) if keys else note
    parts = [rest] if rest else []
    parts += [f"LLM request, cache key {key}" for _, key in keys]
    return "; ".join(parts)


def _history(entries: Sequence[str]) -> list[str]:
    lines = []
    width = max([len(lineage.split(e)[0]) for e in entries] or [0])
    for i, entry in enumerate(entries, 1):
        stage, note = lineage.split(entry)
        lines.append(f"  {i:>2}. {stage.ljust(width)}  {_describe_step(stage, note)}")
    return lines


def _text_block(values: Mapping[str, Any], full: bool, limit: int = 400) -> list[str]:
    lines = []
    for name in TEXT_FIELDS:
        value = values.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        text = value if full else cut(value, limit)
        body = textwrap.indent(text.rstrip("\n"), "      ")
        lines.append(f"  {name}:")
        lines.append(body)
    return lines


def _signal_lines(checks: Sequence[Mapping[str, Any]], signals: Mapping[str, float]) -> list[str]:
    lines = []
    for c in checks:
        mark = "ok " if c["ok"] else "FAIL"
        value = "missing" if c["value"] is None else fmt_num(c["value"])
        lines.append(f"  [{mark}] {c['stage']} {c['rule']}: {c['text']}; value {value}")
    shown = {c["text"].split(" ")[0] for c in checks}
    rest = [f"{k}={fmt_num(v)}" for k, v in sorted(signals.items()) if k not in shown]
    if rest:
        lines += textwrap.wrap(
            "  other signals: " + ", ".join(rest), WIDTH, subsequent_indent="    "
        )
    return lines


def trace(out: Output, rid: str) -> dict[str, Any]:
    """Everything the output says about one record (see :func:`format_trace`)."""
    found = find(out, rid)
    rid = next(r["id"] for rows in found.values() for r in rows)
    result: dict[str, Any] = {"id": rid, "data": [], "rejected": [], "errors": []}
    for row in found["data"]:
        signals = dict(row.get("signals") or {})
        result["data"].append(
            {
                "file": row["_file"],
                "subset": row.get("subset", ""),
                "source": row.get("source", ""),
                "template_id": row.get("template_id", ""),
                "cluster_id": row.get("cluster_id", ""),
                "lineage": list(row.get("lineage") or []),
                "origin": _origin_dict(row.get("lineage")),
                "llm_keys": lineage.llm_keys(row.get("lineage")),
                "checks": rule_checks(
                    out.manifest, signals, row.get("source", ""), row.get("subset", "")
                ),
                "signals": signals,
                "record": {k: v for k, v in row.items() if not k.startswith("_")},
            }
        )
    for row in found["rejected"]:
        try:
            record = json.loads(row["record"])
        except ValueError:
            record = {}
        record = record if isinstance(record, dict) else {}
        signals = dict(row.get("signals") or {})
        entries = list(record.get("lineage") or [])
        origin = _origin_dict(entries)
        if origin is None and "file" in record and "offset" in record:  # rejected while reading
            origin = {
                "stage": row["stage"],
                "file": record["file"],
                "offset": record["offset"],
                "url": "",
            }
        result["rejected"].append(
            {
                "file": row["_file"],
                "stage": row["stage"],
                "reason": row["reason"],
                "reasons": list(row.get("reasons") or []),
                "detail": row.get("detail", ""),
                "kept_id": row.get("kept_id", ""),
                "cluster_id": row.get("cluster_id", ""),
                "subset": row.get("subset", ""),
                "source": row.get("source", ""),
                "lineage": entries,
                "origin": origin,
                "llm_keys": lineage.llm_keys(entries),
                "checks": rule_checks(
                    out.manifest, signals, row.get("source", ""), row.get("subset", "")
                ),
                "signals": signals,
                "record": record,
            }
        )
    for row in found["errors"]:
        try:
            element = json.loads(row["element"])
        except ValueError:
            element = row["element"]
        entries = list(element.get("lineage") or []) if isinstance(element, dict) else []
        origin = _origin_dict(entries)
        if origin is None and isinstance(element, dict) and "file" in element:
            # a raw record that failed to parse: where it was read
            offset = element.get("offset", -1)
            origin = {"stage": row["stage"], "file": element["file"], "offset": offset, "url": ""}
        result["errors"].append(
            {
                "file": row["_file"],
                "stage": row["stage"],
                "kind": row["kind"],
                "msg": row["msg"],
                "subset": row.get("subset", ""),
                "lineage": entries,
                "origin": origin,
                "element": element,
            }
        )
    result["duplicates"] = [
        {k: d[k] for k in ("id", "stage", "reason", "cluster_id")} for d in duplicates_of(out, rid)
    ]
    return result


def _origin_dict(entries: Any) -> dict[str, Any] | None:
    origin = lineage.origin_of(list(entries or []))
    return None if origin is None else origin._asdict()


def _raw_line(origin: Mapping[str, Any] | None) -> str | None:
    """The raw input line a record came from, for plain JSON-lines files that can be read."""
    if not origin or origin.get("offset", -1) < 0:
        return None
    path = str(origin["file"])
    if not path.endswith((".jsonl", ".ndjson")):
        return None
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    try:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as fh:
            fh.seek(int(origin["offset"]))
            line = fh.readline(1 << 20)
    except Exception:  # noqa: BLE001 - the input may be gone or elsewhere: then it is not shown
        return None
    return line.decode("utf-8", errors="replace").rstrip("\r\n")


def format_trace(t: Mapping[str, Any], out_path: str = "OUT") -> str:
    """A trace as text for the terminal."""
    lines = [f"record {t['id']}"]
    for d in t["data"]:
        lines.append(f"outcome: KEPT, written to {d['file']}")
        lines.append(
            f"  subset {d['subset']}, source {d['source']}, template {d['template_id'] or '-'}"
            + (f", duplicate cluster {d['cluster_id']}" if d["cluster_id"] else "")
        )
        lines += _origin_lines(d["origin"])
        lines.append("history:")
        lines += _history(d["lineage"])
        lines.append("signals against the thresholds:")
        lines += _signal_lines(d["checks"], d["signals"])
        lines.append("record:")
        lines += _text_block(d["record"], full=False)
        rec = d["record"]
        if "task_type" in rec:
            tt = rec["task_type"] or {}
            lines.append(
                f"  task_type {tt.get('major')} / {tt.get('minor')}, domain {rec.get('domain')}, "
                f"answer_from {rec.get('answer_from')!r}"
            )
    for r in t["rejected"]:
        also = [x for x in r["reasons"] if x != r["reason"]]
        lines.append(
            f"outcome: REJECTED by {r['stage']}: {r['reason']}"
            + (f" (also failed: {', '.join(also)})" if also else "")
        )
        if r["detail"]:
            lines.append(f"  why: {r['detail']}")
        if r["kept_id"]:
            lines.append(
                f"  kept instead: {r['kept_id']} (cluster {r['cluster_id'] or '-'}); "
                f"beam-cqia trace {out_path} {r['kept_id']}"
            )
        lines += _origin_lines(r["origin"])
        lines.append(f"history (as it entered {r['stage']}):")
        lines += _history(r["lineage"]) or ["   (read, not parsed)"]
        if r["checks"]:
            lines.append("signals against the thresholds:")
            lines += _signal_lines(r["checks"], r["signals"])
        lines.append("record:")
        block = _text_block(r["record"], full=False)
        if not block and isinstance(r["record"].get("payload"), str):
            block = ["  raw: " + cut(r["record"]["payload"], 400)]
        lines += block
    for e in t["errors"]:
        lines.append(f"outcome: ERROR in {e['stage']}: {e['kind']}")
        lines += textwrap.wrap(f"  message: {e['msg']}", WIDTH, subsequent_indent="    ")
        lines += _origin_lines(e["origin"])
        if e["lineage"]:
            lines.append("history (as it entered the stage):")
            lines += _history(e["lineage"])
        element = e["element"]
        if isinstance(element, dict):
            lines.append("element:")
            lines += _text_block(element, full=False) or [
                "  " + cut(json.dumps(element, ensure_ascii=False), 400)
            ]
        else:
            lines.append(f"element: {cut(str(element), 400)}")
    if t["duplicates"]:
        lines.append(f"duplicates dropped in favour of this record: {len(t['duplicates'])}")
        for d in t["duplicates"][:10]:
            lines.append(f"  {d['id']} ({d['stage']}: {d['reason']}, cluster {d['cluster_id']})")
    return "\n".join(lines)


def _origin_lines(origin: Mapping[str, Any] | None) -> list[str]:
    if not origin:
        return ["origin: unknown (the record was made inside the pipeline)"]
    lines = [
        f"origin: {origin['stage']} read {origin['file']} at {origin['offset']}"
        + (f", url {origin['url']}" if origin.get("url") else "")
    ]
    raw = _raw_line(origin)
    if raw is not None:
        lines.append(f"  raw input: {cut(raw, 300)}")
    return lines


def trace_command(path: str, rid: str, as_json: bool = False) -> int:
    """``beam-cqia trace OUT ID``."""
    out = Output(path)
    t = trace(out, rid)
    if as_json:
        print(json.dumps(t, ensure_ascii=False, indent=2, sort_keys=True, default=str))
    else:
        print(format_trace(t, path))
    return 0


# --- sample --------------------------------------------------------------------------------------


def rank(seed: int, rid: str) -> int:
    """The sampling order of an id: the same on every machine and run."""
    return xxhash.xxh64_intdigest(f"{seed}\x1f{rid}".encode())


def sample(
    out: Output,
    subset: str | None = None,
    rejected: str | None = None,
    errors: str | None = None,
    n: int = 5,
    seed: int = 0,
) -> tuple[str, list[dict[str, Any]], int]:
    """``(kind, rows, matching)``: ``n`` rows of data (or rejected rows of a reason, ``stage:
    reason`` or any with "", or errors of a kind or any), chosen by a hash of seed and id.

    Raises:
        ExplainError: for a reason or kind the output does not have.
    """
    if n < 1:
        raise ExplainError("-n must be at least 1")
    kind, key_columns = "data", ["id"]
    stage = reason = kind_wanted = ""
    if rejected is not None:
        kind, key_columns = "rejected", ["id", "stage", "reason"]
        stage, _, reason = rejected.rpartition(":")
        known = {(s, r) for s, e in out.manifest["stages"].items() for r in e.get("rejected", {})}
        if reason and not any(r == reason and (not stage or s == stage) for s, r in known):
            names = sorted({f"{s}:{r}" for s, r in known})
            raise ExplainError(f"no rejected reason {rejected!r}; reasons: {', '.join(names)}")
    elif errors is not None:
        kind, key_columns, kind_wanted = "errors", ["id", "stage", "kind"], errors
        known_kinds = {k for e in out.manifest["stages"].values() for k in e.get("error_kinds", {})}
        if errors and errors not in known_kinds:
            raise ExplainError(f"no error kind {errors!r}; kinds: {', '.join(sorted(known_kinds))}")
    if subset is not None:
        subsets = {_partition_values(p).get("subset") for k in KINDS for p in out.files(k)}
        if subset not in subsets - {None}:
            names = ", ".join(sorted(str(x) for x in subsets - {None}))
            raise ExplainError(f"no subset {subset!r}; subsets: {names}")

    def want(r: dict[str, Any]) -> bool:
        return (
            (subset is None or r.get("subset") == subset)
            and (not reason or r.get("reason") == reason)
            and (not stage or r.get("stage") == stage)
            and (not kind_wanted or r.get("kind") == kind_wanted)
        )

    keys = [
        (rank(seed, r["id"]), r["id"], r["_file"]) for r in out.rows(kind, key_columns, where=want)
    ]
    chosen = sorted(keys)[:n]
    rows: list[dict[str, Any]] = []
    for _, rid, rel in chosen:
        rows += [r for r in out.rows(kind, id_range=(rid, rid), files=[rel]) if want(r)][:1]
    return kind, rows, len(keys)


def format_row(kind: str, row: Mapping[str, Any], full: bool = False) -> list[str]:
    """One sampled row as text."""
    lines = []
    if kind == "data":
        tt = row.get("task_type") or {}
        lines.append(
            f"{row['id']}  subset {row.get('subset', '')}  template {row.get('template_id', '-')}"
        )
        if tt:
            lines.append(
                f"  task_type {tt.get('major')} / {tt.get('minor')}  domain {row.get('domain')}"
            )
        lines += _text_block(row, full, limit=600)
        origin = lineage.origin_of(row.get("lineage"))
        if origin is not None:
            lines.append(f"  origin: {origin.file} at {origin.offset}")
    elif kind == "rejected":
        lines.append(
            f"{row['id']}  subset {row.get('subset', '')}  {row['stage']}: {row['reason']}"
        )
        if row.get("detail"):
            lines.append(f"  why: {row['detail']}")
        if row.get("kept_id"):
            lines.append(f"  kept instead: {row['kept_id']}")
        try:
            record = json.loads(row["record"])
        except ValueError:
            record = {}
        if isinstance(record, dict):
            lines += _text_block(record, full, limit=400)
            if not any(isinstance(record.get(f), str) for f in TEXT_FIELDS):
                lines.append("  raw: " + cut(str(record.get("payload", "")), 400))
    else:
        lines.append(f"{row['id']}  subset {row.get('subset', '')}  {row['stage']}: {row['kind']}")
        lines += textwrap.wrap(f"  message: {row['msg']}", WIDTH, subsequent_indent="    ")
        lines.append("  element: " + (row["element"] if full else cut(row["element"], 300)))
    return lines


def sample_command(
    path: str,
    subset: str | None = None,
    rejected: str | None = None,
    errors: str | None = None,
    n: int = 5,
    seed: int = 0,
    full: bool = False,
    as_json: bool = False,
) -> int:
    """``beam-cqia sample OUT``."""
    out = Output(path)
    kind, rows, matching = sample(out, subset, rejected, errors, n, seed)
    if as_json:
        for row in rows:
            clean = {k: v for k, v in row.items() if not k.startswith("_")}
            print(json.dumps(clean, ensure_ascii=False, sort_keys=True, default=str))
        return 0
    what = {"data": "records", "rejected": "rejected records", "errors": "error records"}[kind]
    print(f"{len(rows)} of {matching:,} {what} (seed {seed}); trace one: beam-cqia trace {path} ID")
    for i, row in enumerate(rows, 1):
        print(f"\n── {i}/{len(rows)} " + "─" * 40)
        print("\n".join(format_row(kind, row, full)))
    return 0


def diff_command(a: str, b: str, examples: int = 5, as_json: bool = False) -> int:
    """``beam-cqia diff OUT_A OUT_B`` (see :mod:`beam_cqia.rundiff`)."""
    from beam_cqia import rundiff

    result = rundiff.diff(Output(a), Output(b), examples=examples)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        print(rundiff.format_diff(result))
    return 0
