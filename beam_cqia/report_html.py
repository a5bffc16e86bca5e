"""The run report, ``report.html``: one self-contained page (inline CSS and SVG, no script, no
network) that explains a written output: the stage funnel, subsets and domains, length
histograms, every quality signal's distribution with the thresholds marked, duplicate clusters,
and for each drop reason and error kind a few example records with the rule that fired.

``WriteCqiaParquet`` writes it in its finalize step, next to ``_manifest.json`` and the dataset
card, from figures its combiners computed (:class:`~beam_cqia.transforms._report_stats.
ReportStats`): values are quantized to two significant digits there, so every histogram is
bounded in memory whatever the input size, and re-binned here for display. Examples are the
records with the smallest hash of (seed, id) per reason: the same on every run and runner. Like
the card, the page holds no timestamps and no output path. Pure functions, no Beam.
"""

import bisect
import html
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

REPORT = "report.html"
SIGNIFICANT = 2  # digits values keep in the pipeline's histograms
EXAMPLES = 3  # example records per drop reason and error kind
EXCERPT_CHARS = 240
KEPT = "kept"
# (label, fill) of the funnel's parts
OUT_COLOR, REJECTED_COLOR, ERROR_COLOR = "#2e7d32", "#ef6c00", "#c62828"
PALETTE = (
    "#1565c0",
    "#ef6c00",
    "#6a1b9a",
    "#00838f",
    "#ad1457",
    "#9e9d24",
    "#4e342e",
    "#546e7a",
    "#283593",
    "#d84315",
)
TOP_LABELS = 20


# --- what the pipeline computes (used by the combiners) --------------------------------------


def quantize(value: float) -> float | None:
    """``value`` floored to two significant digits (integers below 100 stay exact); None for
    NaN and infinities. Histograms keyed by these values have at most ~90 keys per decade."""
    if value != value or value in (math.inf, -math.inf):
        return None
    if value == 0:
        return 0.0
    a = abs(value)
    if a < 100 and float(a).is_integer():
        return float(value)
    exponent = math.floor(math.log10(a))
    step = 10.0 ** (exponent - SIGNIFICANT + 1)
    q = round(math.floor(a / step + 1e-9) * step, max(0, SIGNIFICANT - 1 - exponent))
    return q if value > 0 else -q


def add_counts(into: dict[Any, int], other: Mapping[Any, int]) -> dict[Any, int]:
    """Adds ``other``'s counts into ``into`` (returned)."""
    for k, n in other.items():
        into[k] = into.get(k, 0) + n
    return into


def excerpt(values: Mapping[str, Any], fields: Sequence[str] | None = None) -> dict[str, str]:
    """The first characters of a record's main text fields (those present and non-empty)."""
    names = fields or (
        "instruction",
        "input",
        "output",
        "title",
        "question",
        "answer",
        "body",
        "text",
    )
    out = {}
    for name in names:
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            out[name] = cut(value, EXCERPT_CHARS)
        if len(out) == 3:
            break
    return out


def cut(text: str, n: int) -> str:
    """``text`` cut to ``n`` characters, with an ellipsis when cut."""
    return text if len(text) <= n else text[:n] + "…"


# --- binning -----------------------------------------------------------------------------------


class Bin(NamedTuple):
    """One bar of a histogram: values in [lo, hi) (or exactly lo when lo == hi)."""

    lo: float
    hi: float


_LOG_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)


def choose_bins(values: Iterable[float]) -> list[Bin]:
    """Bins for a set of quantized values: one per value when there are few, log-spaced
    (1-1.5-2-3-5-7 per decade, plus a bin for 0) when non-negative values span orders of
    magnitude, otherwise 24 equal widths."""
    vals = sorted(set(values))
    if not vals:
        return []
    if len(vals) <= 16:
        return [Bin(v, v) for v in vals]
    lo, hi = vals[0], vals[-1]
    positive = [v for v in vals if v > 0]
    if lo >= 0 and positive and hi >= 50 and hi / positive[0] >= 20:
        bins = [Bin(0.0, 0.0)] if lo == 0 else []
        decade = 10.0 ** math.floor(math.log10(positive[0]))
        edges: list[float] = []
        while not edges or edges[-1] <= hi:
            edges += [round(decade * s, 10) for s in _LOG_STEPS]
            decade *= 10
        edges = [e for e in edges if e > 0]
        start = max(i for i, e in enumerate(edges) if e <= positive[0])
        stop = next(i for i, e in enumerate(edges) if e > hi)
        bins += [Bin(edges[i], edges[i + 1]) for i in range(start, stop)]
        return bins
    width = (hi - lo) / 24
    return [Bin(lo + i * width, lo + (i + 1) * width) for i in range(24)]


def bin_counts(bins: Sequence[Bin], counts: Mapping[float, int]) -> list[int]:
    """How many of ``counts`` (value → n) fall in each bin (the last bin includes its top)."""
    out = [0] * len(bins)
    if not bins:
        return out
    exact = {b.lo: i for i, b in enumerate(bins) if b.lo == b.hi}
    ranged = [(b.lo, i) for i, b in enumerate(bins) if b.lo != b.hi]
    starts = [lo for lo, _ in ranged]
    for value, n in counts.items():
        if value in exact:
            out[exact[value]] += n
            continue
        j = bisect.bisect_right(starts, value) - 1
        if j < 0:
            j = 0
        out[ranged[j][1]] += n
    return out


def threshold_position(bins: Sequence[Bin], value: float, kind: str) -> float:
    """Where a threshold falls on a histogram's x axis, in bins from the left edge.

    ``kind`` is ``min`` (values >= it pass) or ``max`` (values <= it pass); on bins of exact
    values the line goes between the last failing and first passing value.
    """
    if not bins:
        return 0.0
    if all(b.lo == b.hi for b in bins):
        if kind == "min":
            return float(next((i for i, b in enumerate(bins) if b.lo >= value), len(bins)))
        return float(next((i for i, b in enumerate(bins) if b.lo > value), len(bins)))
    for i, b in enumerate(bins):
        if b.lo == b.hi:
            if value <= b.lo:
                return float(i) if kind == "min" or value < b.lo else i + 1.0
            continue
        if value < b.hi or i == len(bins) - 1:
            if value <= b.lo:
                return float(i)
            return i + min(1.0, (value - b.lo) / (b.hi - b.lo))
    return float(len(bins))


def fmt_num(value: float) -> str:
    """A compact number: ``1,200``, ``0.87``, ``3.5e-05``."""
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}"
    a = abs(value)
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 0.001:
        return f"{value:.3g}"
    return f"{value:.2g}"


def bin_label(b: Bin) -> str:
    return fmt_num(b.lo) if b.lo == b.hi else f"{fmt_num(b.lo)}–{fmt_num(b.hi)}"


# --- SVG ---------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def hbar_chart(
    name: str,
    rows: Sequence[tuple[str, Sequence[tuple[str, int, str]]]],
    note: str = "",
    width: int = 760,
) -> str:
    """Horizontal stacked bars: ``rows`` of ``(label, [(part, n, color)...])``."""
    if not rows:
        return ""
    label_w, bar_h, gap = 190, 18, 6
    plot_w = width - label_w - 120
    top = max(1, max(sum(n for _, n, _ in parts) for _, parts in rows))
    height = len(rows) * (bar_h + gap) + gap
    out = [
        f'<svg class="chart" data-chart="{_e(name)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(name)}">'
    ]
    for i, (label, parts) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        out.append(
            f'<text x="{label_w - 8}" y="{y + bar_h - 4}" text-anchor="end" '
            f'class="lbl">{_e(cut(label, 28))}</text>'
        )
        x = float(label_w)
        total = 0
        for part, n, color in parts:
            total += n
            if n <= 0:
                continue
            w = max(1.0, plot_w * n / top)
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                f'fill="{color}"><title>{_e(label)}: {_e(part)} {n:,}</title></rect>'
            )
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + bar_h - 4}" class="num">{total:,}</text>')
    out.append("</svg>")
    caption = f"<figcaption>{note}</figcaption>" if note else ""
    return f'<figure class="wide">{"".join(out)}{caption}</figure>'


def histogram_chart(
    name: str,
    title: str,
    series: Mapping[str, Mapping[float, int]],
    colors: Mapping[str, str],
    thresholds: Sequence[tuple[str, float, str]] = (),
    width: int = 360,
    height: int = 170,
) -> str:
    """Vertical stacked histogram of several series (value → n), with threshold lines
    ``(kind, value, label)``."""
    bins = choose_bins(v for counts in series.values() for v in counts)
    if not bins:
        return ""
    per_series = {s: bin_counts(bins, counts) for s, counts in series.items()}
    totals = [sum(c[i] for c in per_series.values()) for i in range(len(bins))]
    top = max(1, max(totals))
    left, right, up, down = 44, 8, 18, 34
    plot_w, plot_h = width - left - right, height - up - down
    bw = plot_w / len(bins)
    out = [
        f'<svg class="chart" data-chart="{_e(name)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(title)}">',
        f'<line x1="{left}" y1="{up + plot_h}" x2="{left + plot_w}" y2="{up + plot_h}" '
        'class="axis"/>',
        f'<text x="{left - 4}" y="{up + 8}" text-anchor="end" class="tick">{top:,}</text>',
        f'<text x="{left - 4}" y="{up + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    for i, b in enumerate(bins):
        y = float(up + plot_h)
        for s, counts in per_series.items():
            n = counts[i]
            if not n:
                continue
            h = max(1.0, plot_h * n / top)
            y -= h
            out.append(
                f'<rect class="bar" x="{left + i * bw + 0.5:.1f}" y="{y:.1f}" '
                f'width="{max(1.0, bw - 1):.1f}" height="{h:.1f}" fill="{colors.get(s, "#888")}">'
                f"<title>{_e(bin_label(b))}: {_e(s)} {n:,}</title></rect>"
            )
    ticks = sorted({0, len(bins) // 2, len(bins) - 1})
    for i in ticks:
        anchor = "start" if i == 0 else ("end" if i == len(bins) - 1 else "middle")
        x = left + (i * bw if i == 0 else (i + 1) * bw if i == len(bins) - 1 else (i + 0.5) * bw)
        label = fmt_num(bins[i].lo) if i != len(bins) - 1 else fmt_num(bins[i].hi)
        out.append(
            f'<text x="{x:.1f}" y="{up + plot_h + 14}" text-anchor="{anchor}" '
            f'class="tick">{_e(label)}</text>'
        )
    for j, (kind, value, label) in enumerate(thresholds):
        x = left + bw * threshold_position(bins, value, kind)
        y_label = up - 4 + 0 * j
        out.append(
            f'<line class="threshold" x1="{x:.1f}" y1="{up - 2}" x2="{x:.1f}" '
            f'y2="{up + plot_h}"><title>{_e(label)}</title></line>'
        )
        if j < 2:
            anchor = "end" if x > left + plot_w * 0.6 else "start"
            dx = -3 if anchor == "end" else 3
            out.append(
                f'<text x="{x + dx:.1f}" y="{y_label + 12 * j + 8}" text-anchor="{anchor}" '
                f'class="tlabel">{_e(cut(label, 34))}</text>'
            )
    out.append("</svg>")
    legend = "".join(
        f'<span class="key"><i style="background:{colors.get(s, "#888")}"></i>{_e(s)}</span>'
        for s in series
    )
    return (
        f'<figure class="small"><figcaption><b>{_e(title)}</b> {legend}</figcaption>'
        f"{''.join(out)}</figure>"
    )


# --- the page ----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","Noto Sans SC",
"PingFang SC","Microsoft YaHei",sans-serif;margin:0;color:#1f2328;background:#fff}
header,section,footer{max-width:1180px;margin:0 auto;padding:8px 24px}
header{border-bottom:1px solid #d0d7de}h1{font-size:1.5em;margin:.4em 0}
h2{font-size:1.2em;border-bottom:1px solid #eaeef2;padding-bottom:4px;margin-top:1.4em}
h3{font-size:1em;margin:1em 0 .3em}nav a{margin-right:12px}
table{border-collapse:collapse;font-size:.85em;margin:6px 0 12px}
td,th{border:1px solid #d0d7de;padding:3px 7px;vertical-align:top;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
code{font-size:.85em;background:#f6f8fa;padding:0 3px;border-radius:3px;word-break:break-all}
figure{margin:6px 12px 12px 0}figure.small{display:inline-block;vertical-align:top}
figcaption{font-size:.8em;color:#57606a;margin-bottom:2px}
.key{margin-left:8px;white-space:nowrap}.key i{display:inline-block;width:9px;height:9px;
margin-right:3px;border-radius:2px}
svg .lbl,svg .num{font-size:11px;fill:#1f2328}svg .tick{font-size:9px;fill:#57606a}
svg .axis{stroke:#8c959f;stroke-width:1}svg .threshold{stroke:#d1242f;stroke-width:1.5;
stroke-dasharray:4 2}svg .tlabel{font-size:9px;fill:#d1242f}
.ex{width:100%}.ex td{max-width:520px}.ex .txt{white-space:pre-wrap}
.muted{color:#57606a;font-size:.85em}
.rule{font-size:.9em;margin:2px 0 4px}
"""


def _collect(report: Iterable[tuple[Any, ...]]) -> dict[str, Any]:
    lengths: dict[str, dict[str, dict[float, int]]] = {}
    signals: dict[str, dict[str, dict[float, int]]] = {}
    clusters = {"sizes": {}, "top": [], "count": 0}
    examples: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for item in report:
        kind = item[0]
        if kind == "lengths":
            for fld, by_subset in item[1].items():
                for subset, counts in by_subset.items():
                    add_counts(lengths.setdefault(fld, {}).setdefault(subset, {}), counts)
        elif kind == "signals":
            for sig, by_outcome in item[1].items():
                for outcome, counts in by_outcome.items():
                    add_counts(signals.setdefault(sig, {}).setdefault(outcome, {}), counts)
        elif kind == "clusters":
            add_counts(clusters["sizes"], item[1]["sizes"])
            clusters["top"] = sorted(
                [*clusters["top"], *item[1]["top"]], key=lambda t: (-t[0], t[1])
            )[:10]
            clusters["count"] += item[1]["count"]
        elif kind == "examples":
            examples[(item[1], item[2], item[3])] = sorted(item[4], key=lambda x: x["rank"])
    return {"lengths": lengths, "signals": signals, "clusters": clusters, "examples": examples}


def _thresholds(manifest: Mapping[str, Any]) -> dict[str, list[tuple[str, float, str]]]:
    """Threshold lines per signal from the manifest's FilterByScore entries."""
    out: dict[str, list[tuple[str, float, str]]] = {}
    for s in manifest["stages"].values():
        rules = list(s.get("thresholds", []))
        for source, extra in sorted(s.get("thresholds_by_source", {}).items()):
            rules += [{**r, "sources": [source]} for r in extra if r not in rules]
        for r in rules:
            scope = ",".join([*r.get("sources", []), *r.get("subsets", [])])
            for kind, sym in (("min", "≥"), ("max", "≤")):
                if kind in r:
                    label = f"{r['name']} {sym}{fmt_num(r[kind])}" + (
                        f" ({scope})" if scope else ""
                    )
                    entry = (kind, float(r[kind]), label)
                    if entry not in out.setdefault(r["signal"], []):
                        out[r["signal"]].append(entry)
    return out


def rule_text(rule: Mapping[str, Any]) -> str:
    """A threshold rule in words, e.g. ``chars.answer ≥ 100 (sources: zhihu)``."""
    parts = []
    if "min" in rule:
        parts.append(f"{rule['signal']} ≥ {fmt_num(rule['min'])}")
    if "max" in rule:
        parts.append(f"{rule['signal']} ≤ {fmt_num(rule['max'])}")
    text = " and ".join(parts)
    scope = [f"{k}: {', '.join(rule[k])}" for k in ("sources", "subsets") if rule.get(k)]
    if scope:
        text += f" ({'; '.join(scope)})"
    if rule.get("if_missing"):
        text += f", if missing: {rule['if_missing']}"
    return text


def _rule_for(stage: Mapping[str, Any], reason: str) -> list[str]:
    rules = list(stage.get("thresholds", []))
    for extra in stage.get("thresholds_by_source", {}).values():
        rules += extra
    found = []
    for r in rules:
        names = {r["name"], f"{r['signal']}_below_min", f"{r['signal']}_above_max"}
        names.add(f"{r['signal']}_missing")
        text = rule_text(r)
        if reason in names and text not in found:
            found.append(text)
    return found


def _colors(names: Sequence[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int]) -> str:
    head = "".join(
        f'<th class="{"n" if i in numeric else ""}">{_e(h)}</th>' for i, h in enumerate(header)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"n" if i in numeric else ""}">{c}</td>' for i, c in enumerate(r))
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _funnel(manifest: Mapping[str, Any]) -> str:
    rows, table = [], []
    for name, s in manifest["stages"].items():
        rejected = sum(s.get("rejected", {}).values())
        rows.append(
            (
                name,
                [
                    ("out", s["out"], OUT_COLOR),
                    ("rejected", rejected, REJECTED_COLOR),
                    ("errors", s["errors"], ERROR_COLOR),
                ],
            )
        )
        why = ", ".join(
            f"{_e(r)} {n:,}"
            for r, n in sorted(s.get("rejected", {}).items(), key=lambda kv: -kv[1])
        )
        kinds = ", ".join(f"{_e(k)} {n:,}" for k, n in sorted(s.get("error_kinds", {}).items()))
        out = f"{s['out']:,}" + (f" ({s['emitted']:,} docs)" if "emitted" in s else "")
        table.append(
            [
                _e(name),
                _e(s.get("transform", "")),
                f"{s['in']:,}",
                out,
                f"{rejected:,}",
                f"{s['errors']:,}",
                why,
                kinds,
            ]
        )
    chart = hbar_chart(
        "funnel",
        rows,
        f'<span class="key"><i style="background:{OUT_COLOR}"></i>out</span>'
        f'<span class="key"><i style="background:{REJECTED_COLOR}"></i>rejected</span>'
        f'<span class="key"><i style="background:{ERROR_COLOR}"></i>errors</span> '
        "(bar length: records in; every stage keeps in = out + rejected + errors)",
    )
    header = ["stage", "transform", "in", "out", "rejected", "errors", "rejected by reason"]
    return chart + _table([*header, "errors by kind"], table, numeric=(2, 3, 4, 5))


def _labels_section(manifest: Mapping[str, Any], card_stats: Iterable[tuple[Any, ...]]) -> str:
    subsets: dict[str, int] = {}
    labels: dict[str, Mapping[str, Any]] = {}
    for item in card_stats:
        if item[0] == "subset":
            subsets[item[1]] = subsets.get(item[1], 0) + item[2]
        elif item[0] == "labels":
            labels[item[1]] = item[2]
    parts = []
    if subsets:
        rows = [(s or "(empty)", [("records", n, PALETTE[0])]) for s, n in sorted(subsets.items())]
        parts.append("<h3>Records per subset</h3>" + hbar_chart("subsets", rows))
    for dist, heading in (
        ("domain", "Domains"),
        ("task_type.major", "task_type.major"),
        ("source", "Sources"),
    ):
        if dist not in labels:
            continue
        top = labels[dist]["top"][:TOP_LABELS]
        rows = [(v or "(empty)", [("records", n, PALETTE[3])]) for v, n in top]
        rest = labels[dist]["other_count"] + sum(n for _, n in labels[dist]["top"][TOP_LABELS:])
        note = f"and {rest:,} more labels in other values" if rest else ""
        parts.append(f"<h3>{_e(heading)}</h3>" + hbar_chart(f"labels-{dist}", rows, note))
    if not parts:
        parts.append('<p class="muted">No records were written.</p>')
    return "".join(parts)


def _lengths_section(lengths: Mapping[str, Mapping[str, Mapping[float, int]]]) -> str:
    if not lengths:
        return '<p class="muted">No records were written.</p>'
    order = ["instruction", "input", "output", "question", "answer", "body", "title"]
    fields = sorted(lengths, key=lambda f: (order.index(f) if f in order else 99, f))
    charts = []
    for fld in fields:
        subsets = sorted(lengths[fld])
        charts.append(
            histogram_chart(
                f"length-{fld}",
                f"{fld} (characters)",
                {s or "(empty)": lengths[fld][s] for s in subsets},
                _colors([s or "(empty)" for s in subsets]),
                width=560,
                height=200,
            )
        )
    return "".join(charts) + (
        '<p class="muted">Stacked by subset; lengths above 100 characters are counted in '
        "two-significant-digit steps (e.g. 1,234 as 1,200).</p>"
    )


def _signals_section(
    manifest: Mapping[str, Any], signals: Mapping[str, Mapping[str, Mapping[float, int]]]
) -> str:
    if not signals:
        return '<p class="muted">No record carries signals.</p>'
    thresholds = _thresholds(manifest)
    stage_order = list(manifest["stages"])
    outcomes = sorted(
        {o for by in signals.values() for o in by},
        key=lambda o: (o != KEPT, stage_order.index(o) if o in stage_order else 99, o),
    )
    colors = {KEPT: OUT_COLOR}
    others = [o for o in outcomes if o != KEPT]
    filters = [o for o in others if "thresholds" in manifest["stages"].get(o, {})]
    for o in filters:
        colors[o] = "#d1242f"
    rest = [o for o in others if o not in colors]
    spare = ("#f0883e", "#8250df", "#8c959f", "#bf8700", "#57606a", "#0969da")
    colors.update({o: spare[i % len(spare)] for i, o in enumerate(rest)})

    def group(name: str) -> int:
        if name in thresholds:
            return 0
        if name.startswith(("norm.", "dedup.")):
            return 2
        return 1

    charts = []
    for sig in sorted(signals, key=lambda s: (group(s), s)):
        by = signals[sig]
        series = {(f"rejected by {o}" if o != KEPT else KEPT): by[o] for o in outcomes if o in by}
        named_colors = {(f"rejected by {o}" if o != KEPT else KEPT): c for o, c in colors.items()}
        charts.append(
            histogram_chart(
                f"signal-{sig}",
                sig,
                series,
                named_colors,
                thresholds.get(sig, []),
            )
        )
    return (
        '<p class="muted">Every signal stored on the written records (kept) and on the rejected '
        "ones (by the stage that rejected them), with FilterByScore's thresholds as dashed lines. "
        "Signals with thresholds come first, normalization and dedup counts last.</p>"
        + "".join(charts)
    )


def _dedup_section(clusters: Mapping[str, Any]) -> str:
    if not clusters["count"]:
        return '<p class="muted">No duplicate clusters (no record was rejected as a duplicate).</p>'
    sizes = {float(k): v for k, v in clusters["sizes"].items()}
    chart = histogram_chart(
        "cluster-sizes",
        "records per duplicate cluster (kept + rejected)",
        {"clusters": sizes},
        {"clusters": PALETTE[2]},
        width=560,
        height=200,
    )
    rows = [
        [f"{size:,}", f"<code>{_e(cluster)}</code>", f"<code>{_e(kept)}</code>"]
        for size, cluster, kept in clusters["top"]
    ]
    table = _table(["records", "cluster", "kept id"], rows, numeric=(0,))
    return (
        f"<p>{clusters['count']:,} clusters with duplicates.</p>"
        + chart
        + "<h3>Largest clusters</h3>"
        + table
    )


def _example_rows(examples: Sequence[Mapping[str, Any]], error: bool) -> str:
    rows = []
    for x in examples:
        text = "".join(
            f'<div><span class="muted">{_e(k)}</span> <span class="txt">{_e(v)}</span></div>'
            for k, v in x.get("excerpt", {}).items()
        )
        where = f"<div class='muted'>{_e(x['origin'])}</div>" if x.get("origin") else ""
        ident = f"<code>{_e(x['id'])}</code>{where}"
        if error:
            rows.append([ident, _e(x.get("msg", "")), text])
        else:
            detail = _e(x.get("detail", ""))
            if x.get("kept_id"):
                detail += f"<div class='muted'>kept: <code>{_e(x['kept_id'])}</code></div>"
            rows.append([ident, detail, text])
    header = ["id", "message" if error else "why", "record"]
    return _table(header, rows, numeric=()).replace("<table>", '<table class="ex">', 1)


def _drops_section(manifest: Mapping[str, Any], examples: Mapping[tuple, list]) -> str:
    parts = []
    for stage, s in manifest["stages"].items():
        for reason, n in sorted(s.get("rejected", {}).items(), key=lambda kv: (-kv[1], kv[0])):
            if not n:
                continue
            rules = _rule_for(s, reason)
            rule = (
                "<div class='rule'>rule: " + "; ".join(_e(r) for r in rules) + "</div>"
                if rules
                else f"<div class='rule muted'>rule of {_e(s.get('transform', stage))}; "
                "the examples' detail says what fired</div>"
            )
            shown = examples.get(("rejected", stage, reason), [])
            parts.append(
                f"<h3>{_e(stage)} · {_e(reason)} <span class='muted'>{n:,} records</span></h3>"
                + rule
                + (_example_rows(shown, error=False) if shown else "")
            )
    if not parts:
        return '<p class="muted">No record was rejected.</p>'
    return (
        '<p class="muted">A few records per reason (the same ones on every run). See more with '
        "<code>beam-cqia sample OUT --rejected REASON</code> and follow one with "
        "<code>beam-cqia trace OUT ID</code>.</p>" + "".join(parts)
    )


def _errors_section(manifest: Mapping[str, Any], examples: Mapping[tuple, list]) -> str:
    parts = []
    for stage, s in manifest["stages"].items():
        for kind, n in sorted(s.get("error_kinds", {}).items(), key=lambda kv: (-kv[1], kv[0])):
            shown = examples.get(("errors", stage, kind), [])
            parts.append(
                f"<h3>{_e(stage)} · {_e(kind)} <span class='muted'>{n:,} records</span></h3>"
                + (_example_rows(shown, error=True) if shown else "")
            )
    return "".join(parts) or '<p class="muted">No errors.</p>'


def failure_page(exc: BaseException) -> str:
    """The page written instead when the report cannot be rendered (the data is unaffected)."""
    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><link rel="icon" href="data:,">'
        "<title>beam-cqia run report</title></head><body><h1>beam-cqia run report</h1>"
        f"<p>The report could not be rendered: <code>{_e(repr(exc))}</code>. The data, "
        "<code>_manifest.json</code> and <code>README.md</code> are complete; "
        "<code>beam-cqia report</code> prints the funnel.</p></body></html>\n"
    )


def render_report(
    manifest: Mapping[str, Any],
    card_stats: Iterable[tuple[Any, ...]],
    report: Iterable[tuple[Any, ...]],
    spec: Mapping[str, Any],
) -> str:
    """The run report as one HTML page.

    Args:
        manifest: the output's manifest (with FilterByScore's thresholds in its stage entries).
        card_stats: the dataset card's statistics (subset counts and label distributions).
        report: :class:`~beam_cqia.transforms._report_stats.ReportStats`'s figures.
        spec: the spec info (:func:`beam_cqia.card.spec_info`); only its path and template hash
            are shown (variables name the output directory).
    """
    data = _collect(report)
    outputs = manifest["outputs"]
    summary = ", ".join(
        f"{kind} {outputs[kind]['records']:,}" for kind in ("data", "rejected", "errors")
    )
    spec_line = ""
    if spec.get("path"):
        spec_line = f"spec <code>{_e(spec['path'])}</code>"
        if spec.get("template_sha256"):
            spec_line += f" (sha256 <code>{_e(spec['template_sha256'][:16])}</code>…)"
    versions = ", ".join(f"{k} {v}" for k, v in sorted(manifest.get("versions", {}).items()))
    sections = [
        ("funnel", "Stage funnel", _funnel(manifest)),
        ("labels", "Subsets and domains", _labels_section(manifest, card_stats)),
        ("lengths", "Lengths", _lengths_section(data["lengths"])),
        ("signals", "Quality signals", _signals_section(manifest, data["signals"])),
        ("dedup", "Duplicate clusters", _dedup_section(data["clusters"])),
        ("drops", "Why records were dropped", _drops_section(manifest, data["examples"])),
        ("errors", "Errors", _errors_section(manifest, data["examples"])),
    ]
    nav = "".join(f'<a href="#{key}">{_e(title)}</a>' for key, title, _ in sections)
    body = "".join(
        f'<section id="{key}"><h2>{_e(title)}</h2>{content}</section>'
        for key, title, content in sections
    )
    meta = json.dumps({"format": "beam-cqia-report/1"}, sort_keys=True)
    return (
        "<!doctype html>\n"
        '<html lang="zh-Hans"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="generator" content="{_e(meta)}">'
        '<link rel="icon" href="data:,">'
        "<title>beam-cqia run report</title>"
        f"<style>{_CSS}</style></head><body>"
        f"<header><h1>beam-cqia run report</h1><p>Written: {summary}. "
        f"{spec_line}</p><nav>{nav}</nav></header>"
        f"{body}"
        f'<footer class="muted"><p>{_e(versions)}. Figures computed by the run that wrote this '
        "directory (see <code>_manifest.json</code> and <code>README.md</code> next to this "
        "page).</p></footer>"
        "</body></html>\n"
    )
