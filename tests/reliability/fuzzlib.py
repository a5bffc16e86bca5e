"""Fuzzing harness for the ingest path and the text functions (test-only, no runner).

Shared by ``tests/reliability/test_fuzz_*.py`` (hypothesis, bounded for CI) and
``benchmarks/fuzz.py`` (a timed mutation loop). Inputs are real records (``../shared/corpora``,
through each adapter's ``REAL_DATA``; the demo corpus and our adapter test fixtures when the
corpora are absent) cut to a few records, then mutated: byte flips, truncation, spliced spans,
charset swaps and lying declarations, compression (then truncation), deep nesting, JSON values of
the wrong type, a wrong adapter, a tiny record cap, tiny read ranges.

:func:`run_ingest` drives the real DoFns of ``ReadCrawl`` and ``NormalizeText`` in process, the
way the runner does, and checks the contract the pipeline relies on:

- reading a file never raises (a broken file ends with a ``ReadFailure`` unit);
- every raw record leaves the adapter exactly once: as RawDocs (at least one), as a rejection, or
  as an error; an error is *clean* when its exception is a ``ValueError`` (the adapters' documented
  failure: malformed JSON, undecodable bytes, oversize, wrong shape); any other exception
  (TypeError, KeyError, RecursionError...) is a bug that the dead-letter output would only hide;
- every output (RawDoc, Rejected, ErrorRecord) encodes with its RowCoder;
- NormalizeText never raises on what an adapter produced;
- line files read as many small byte ranges give exactly the records read whole.

Each check returns a list of :class:`Crash` (empty when all is well) instead of raising, so the
timed driver can keep going and the tests can show every failure at once.

Hypothesis profiles: ``CQIA_FUZZ_PROFILE=ci`` (the default) keeps every fuzz test to a few
seconds, derandomized so that CI sees the same inputs on every run; ``CQIA_FUZZ_PROFILE=long``
draws 50x more examples, randomly. :func:`fuzz_settings` is applied per test rather than loaded
globally, so the hypothesis tests elsewhere in the suite keep their own settings.
"""

import bz2
import dataclasses
import glob
import gzip
import json
import lzma
import os
import random
import time
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import apache_beam as beam
import zstandard
from apache_beam.io.filesystem import FileMetadata
from apache_beam.utils import shared
from hypothesis import HealthCheck, settings

from beam_cqia import sources
from beam_cqia.records import ErrorRecord, RawDoc, Rejected
from beam_cqia.sources import formats
from beam_cqia.text import encoding as textencoding
from beam_cqia.text import html as texthtml
from beam_cqia.text import normalize as textnorm
from beam_cqia.transforms._stage import REJECTED, error_record, format_exception
from beam_cqia.transforms.ingest import (
    NormalizeText,
    _AdaptFn,
    _NormalizeFn,
    _PlanReads,
    _ReadUnits,
)

REPO = Path(__file__).resolve().parents[2]
CORPORA = REPO.parent / "shared" / "corpora"
DEMO = REPO / "beam_cqia" / "demo" / "data"
SUFFIX = {"jsonl": ".jsonl", "json": ".json", "csv": ".csv", "html": ".html", "text": ".txt"}
# Records kept from each seed file: enough to have a shape, few enough to stay fast.
SEED_RECORDS = 3
SEED_MAX_BYTES = 256 * 1024


@dataclasses.dataclass(frozen=True)
class Seed:
    """A real input, cut small: file bytes and the ReadCrawl options it is read with."""

    name: str
    source: str
    suffix: str
    options: dict[str, Any]
    data: bytes

    def __repr__(self) -> str:  # hypothesis prints failing examples: the name says it all
        return f"Seed({self.name!r})"


@dataclasses.dataclass(frozen=True)
class Case:
    """One fuzz input: a (mutated) seed."""

    source: str
    suffix: str
    options: dict[str, Any]
    data: bytes
    origin: str  # the seed name and the mutations applied

    def __repr__(self) -> str:
        return f"Case({self.origin!r}, {self.source!r}, {self.options!r}, {len(self.data)} bytes)"

    def describe(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "suffix": self.suffix,
            "options": self.options,
            "origin": self.origin,
            "bytes": len(self.data),
        }


@dataclasses.dataclass(frozen=True)
class Crash:
    """A broken contract: which target, what kind, and the traceback or message."""

    target: str
    kind: str
    detail: str

    def signature(self) -> tuple[str, str, str]:
        """Groups crashes by cause: target, kind and the innermost frame of the traceback."""
        frames = [line for line in self.detail.splitlines() if line.strip().startswith("File ")]
        return self.target, self.kind, frames[-1].strip() if frames else self.detail[:120]


FUZZ_PROFILE = os.environ.get("CQIA_FUZZ_PROFILE", "ci")
if FUZZ_PROFILE not in ("ci", "long"):
    raise ValueError(f"CQIA_FUZZ_PROFILE must be ci or long, got {FUZZ_PROFILE!r}")


def fuzz_settings(examples: int) -> settings:
    """Hypothesis settings drawing ``examples`` inputs in CI (50x with the long profile)."""
    return settings(
        max_examples=examples * (50 if FUZZ_PROFILE == "long" else 1),
        deadline=None,  # 2 shared cores: wall-clock deadlines would be flaky
        derandomize=FUZZ_PROFILE == "ci",
        database=None,  # no .hypothesis/ directory in the repository
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------------------------------- seeds


def _cut(data: bytes, fmt: str, json_items: str | None) -> bytes:
    """A few records of a real file, in the file's own bytes where possible."""
    if fmt in ("jsonl", "csv") or (fmt == "text" and len(data) > SEED_MAX_BYTES):
        lines = data.split(b"\n")
        keep = lines[: SEED_RECORDS + (1 if fmt == "csv" else 0)]
        if len(lines) > 2 * SEED_RECORDS:
            keep.append(lines[len(lines) // 2])
        return b"\n".join(keep) + b"\n"
    if fmt == "json" and len(data) > 32 * 1024:
        try:
            obj = json.loads(data)
        except ValueError:
            return data[:SEED_MAX_BYTES]
        if isinstance(obj, list):
            obj = obj[:SEED_RECORDS]
        elif json_items == "*" and isinstance(obj, dict):
            obj = dict(list(obj.items())[:SEED_RECORDS])
        elif json_items and json_items.endswith(".item") and isinstance(obj, dict):
            key = json_items.split(".")[0]
            if isinstance(obj.get(key), list):
                obj = {**obj, key: obj[key][:SEED_RECORDS]}
        return json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8")
    return data[:SEED_MAX_BYTES] if fmt != "html" else data


def corpus_seeds(corpora: Path = CORPORA, files_per_entry: int = 3) -> list[Seed]:
    """Seeds from every adapter's REAL_DATA: a few files of each entry, a few records of each."""
    seeds = []
    for source, module in sources.MODULES.items():
        for entry in getattr(module, "REAL_DATA", []):
            paths = sorted(glob.glob(str(corpora / entry["path"])), key=os.path.getsize)
            if not paths:
                continue
            picks = sorted({paths[0], paths[len(paths) // 2], paths[-1]})[:files_per_entry]
            options = {k: v for k, v in entry.items() if k in ("format", "json_items", "text_unit")}
            for path in picks:
                fmt = options.get("format") or formats.format_of(path)
                if fmt == "html" and os.path.getsize(path) > 2 * SEED_MAX_BYTES:
                    continue  # the largest pages only slow the loop down
                data = _cut(Path(path).read_bytes(), fmt, options.get("json_items"))
                rel = os.path.relpath(path, corpora)
                seeds.append(Seed(f"corpora:{rel}", source, SUFFIX[fmt], options, data))
    return seeds


_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>绿萝怎么养</title></head>
<body><div class="nav"><a href="/">首页</a> | <a href="/home">家居</a></div>
<article><h1>绿萝怎么养</h1><p>绿萝喜欢温暖湿润的环境，怕强光直射。放在明亮的散射光下，叶片会更绿。</p>
<p>浇水要见干见湿：盆土表面干了再浇，一次浇透。冬天减少浇水，防止烂根。</p>
<ul><li>每月施一次稀薄的液肥。</li><li>叶片发黄时，检查是否浇水过多。</li></ul>
<pre><code class="language-python">print("绿萝")</code></pre></article>
<footer>版权所有 © 2024 联系我们：13812345678</footer></body></html>
"""


def builtin_seeds() -> list[Seed]:
    """Seeds that need no corpora: the demo corpus and our adapter test fixtures."""
    from tests.sources import test_adapters, test_segmentfault, test_wikihow, test_xhs, test_zhihu

    seeds = []
    for source in ("zhihu", "baike", "exam"):
        for path in sorted((DEMO / source).glob("*.jsonl")):
            data = _cut(path.read_bytes(), "jsonl", None)
            seeds.append(Seed(f"demo:{source}/{path.name}", source, ".jsonl", {}, data))
    objects = {
        "xhs": [test_xhs.FLAT_NOTE, test_xhs.NOTE_CARD],
        "segmentfault": [test_segmentfault.PAGE],
        "wikihow": [test_wikihow.ARTICLE],
        "zhihu": [test_zhihu.API_ANSWER, test_adapters.ZHIHU_THREAD],
        "baike": [test_adapters.BAIKE_ENTRY],
        "exam": [test_adapters.EXAM_QUESTION],
        "instruct": [
            {
                "instruction": "绿萝叶子发黄是什么原因？",
                "input": "",
                "output": "多半是浇水过多或光照不足，先检查盆土是否长期潮湿。",
                "task_type": {"major": ["问答"], "minor": ["生活问答"]},
                "domain": ["生活"],
                "metadata": "暂无元数据信息",
                "answer_from": "human",
                "human_verified": False,
                "copyright": "暂无版权及作者信息",
            }
        ],
    }
    for source, objs in objects.items():
        data = b"".join(json.dumps(o, ensure_ascii=False).encode() + b"\n" for o in objs)
        seeds.append(Seed(f"fixture:{source}", source, ".jsonl", {}, data))
    seeds.append(Seed("fixture:web-page", "web", ".html", {"format": "html"}, _PAGE.encode()))
    text = "绿萝喜欢温暖湿润的环境。\n\n浇水要见干见湿，冬天减少浇水。\n"
    seeds.append(Seed("fixture:text", "text", ".txt", {"format": "text"}, text.encode()))
    seeds.append(
        Seed(
            "fixture:text-lines",
            "text",
            ".txt",
            {"format": "text", "text_unit": "line"},
            text.encode(),
        )
    )
    return seeds


def all_seeds() -> list[Seed]:
    """Corpus seeds when ../shared/corpora is present, then the built-in ones."""
    return (corpus_seeds() if CORPORA.is_dir() else []) + builtin_seeds()


# ------------------------------------------------------------------------------------ mutations

TOKENS = [
    b"\x00",
    b"\xff",
    b"\x80",
    b"\xc0\xaf",
    b"\xe4\xb8",  # a cut UTF-8 character
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\x1f\x8b",
    b"\x28\xb5\x2f\xfd",
    b'"',
    b"\\",
    b"\\u",
    b"\\ud800",
    b"\\udfff",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"NaN",
    b"1e999",
    b"-0",
    b"\n",
    b"\r",
    b"\r\n",
    b"\u2028".decode("unicode_escape").encode(),
    b"<",
    b">",
    b"</div>",
    b"<div>",
    b"<!--",
    b"<![CDATA[",
    b"<script>",
    b"<meta charset=big5>",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b"&#0;",
    b"&#xD800;",
    b"&nbsp;",
    "𠀀🀄️👨‍👩‍👧".encode(),
    "臺灣電腦".encode("big5"),
    "中文".encode("gb18030"),
    "，。".encode("utf-16-le"),
    b"13812345678",
    b"110101199003070011",
    b"a@b.co",
]
CHARSETS = ["gb18030", "big5hkscs", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "cp1252"]
DECLARED = [None, "gb2312", "big5", "utf-16", "utf-8", "latin-1", "shift_jis", "utf-32", "euc-kr"]


def _span(data: bytes, rng: random.Random) -> tuple[int, int]:
    if not data:
        return 0, 0
    start = rng.randrange(len(data))
    return start, min(len(data), start + rng.randint(1, 64))


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["null", "bool", "int", "float", "str", "bigstr", "list", "dict", "deep"]
    kind = rng.choice(kinds if depth < 3 else kinds[:5])
    if kind == "null":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, -1, 1, 2**31, -(2**63), 2**64, 10**30])
    if kind == "float":
        return rng.choice([0.5, -1.5, 1e308, -1e-308, 1.2e4])
    if kind == "str":
        return rng.choice(["", " ", "1.2万", "很多", "abc", "\u3000", "<p>x</p>", "谢邀", "\ufeff"])
    if kind == "bigstr":
        return "长" * rng.randint(1, 20000)
    if kind == "list":
        return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if kind == "dict":
        keys = ["id", "title", "content", "answers", "name", "text", "data", "0"]
        return {rng.choice(keys): _json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    value: Any = "x"
    for _ in range(rng.randint(50, 3000)):
        value = [value] if rng.random() < 0.5 else {"a": value}
    return value


def _nodes(obj: Any, path: tuple = ()) -> Iterable[tuple]:
    yield path
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield from _nodes(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _nodes(value, (*path, i))


def _get(obj: Any, path: tuple) -> Any:
    for key in path:
        obj = obj[key]
    return obj


def mutate_tree(obj: Any, rng: random.Random) -> Any:
    """One structural mutation of a parsed JSON value (the value is copied, not changed)."""
    obj = json.loads(json.dumps(obj))
    paths = list(_nodes(obj))
    path = rng.choice(paths)
    op = rng.choice(["replace", "replace", "delete", "add", "wrap", "stringify", "empty"])
    if not path:
        return _json_value(rng) if op == "replace" else obj
    parent, key = _get(obj, path[:-1]), path[-1]
    value = parent[key]
    if op == "replace":
        parent[key] = _json_value(rng)
    elif op == "delete":
        del parent[key]
    elif op == "add" and isinstance(parent, dict):
        parent[rng.choice(["id", "answers", "content", "__key__", "html", "text", "extra"])] = (
            _json_value(rng)
        )
    elif op == "wrap":
        parent[key] = [value]
    elif op == "stringify":
        parent[key] = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else 0
    elif op == "empty":
        parent[key] = type(value)() if isinstance(value, (list, dict, str)) else None
    return obj


def _tree_op(case: Case, rng: random.Random) -> Case:
    fmt = case.options.get("format") or formats.format_of("x" + case.suffix)
    try:
        if fmt == "jsonl":
            lines = case.data.split(b"\n")
            candidates = [i for i, line in enumerate(lines) if line.strip()]
            if not candidates:
                return case
            i = rng.choice(candidates)
            lines[i] = json.dumps(
                mutate_tree(json.loads(lines[i]), rng), ensure_ascii=False
            ).encode()
            return dataclasses.replace(case, data=b"\n".join(lines))
        if fmt == "json":
            obj = mutate_tree(json.loads(case.data), rng)
            return dataclasses.replace(case, data=json.dumps(obj, ensure_ascii=False).encode())
    except (ValueError, RecursionError):
        return case
    if fmt in ("csv", "tsv"):
        lines = case.data.split(b"\n")
        i = rng.randrange(len(lines))
        cells = lines[i].split(b",")
        j = rng.randrange(len(cells))
        cells[j] = rng.choice([b"", b'"', b'"a""b"', b'"x\ny"', "很多".encode(), b",,", b"\xff"])
        lines[i] = b",".join(cells)
        return dataclasses.replace(case, data=b"\n".join(lines))
    return case


def _recode(case: Case, rng: random.Random) -> Case:
    try:
        text = case.data.decode("utf-8")
    except UnicodeDecodeError:
        return case
    charset = rng.choice(CHARSETS)
    data = text.encode(charset, errors="replace" if rng.random() < 0.5 else "ignore")
    if charset.startswith("utf-16-") and rng.random() < 0.5:
        data = (b"\xff\xfe" if charset.endswith("le") else b"\xfe\xff") + data
    options = case.options
    if rng.random() < 0.3:
        options = {**options, "encoding": rng.choice(DECLARED)}
    return dataclasses.replace(case, data=data, options=options)


def _compress(case: Case, rng: random.Random) -> Case:
    kind = rng.choice(["gzip", "zstd", "bz2", "xz"])
    packed = {
        "gzip": gzip.compress,
        "zstd": zstandard.ZstdCompressor().compress,
        "bz2": bz2.compress,
        "xz": lzma.compress,
    }[kind](case.data)
    if rng.random() < 0.5:
        packed = packed[: rng.randint(0, len(packed))]
    return dataclasses.replace(case, data=packed)


def _nest(case: Case, rng: random.Random) -> Case:
    depth = rng.choice([10, 300, 1000, 5000, 20000])
    if case.suffix in (".html", ".txt"):
        tag = rng.choice([b"div", b"font", b"table", b"b", b"li", b"span"])
        closing = rng.random() < 0.5
        data = b"<" + tag + b">"
        data = data * depth + case.data + ((b"</" + tag + b">") * depth if closing else b"")
        return dataclasses.replace(case, data=data)
    line = b"[" * depth + b"1" + b"]" * depth
    if rng.random() < 0.5:
        line = b'{"a":' * depth + b"1" + b"}" * depth
    return dataclasses.replace(case, data=case.data.rstrip(b"\n") + b"\n" + line + b"\n")


def _to_parquet(case: Case, rng: random.Random) -> Case:
    """JSON lines as a Parquet file (typed columns; some numbers become inf or NaN)."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    if case.suffix != ".jsonl":
        return case
    rows = []
    for line in case.data.split(b"\n"):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(row, dict) and row:
            rows.append(row)
    if rng.random() < 0.5:
        for row in rows:
            for key, value in row.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    row[key] = rng.choice([float("inf"), float("nan"), -float("inf"), 1e300])
    buffer = io.BytesIO()
    try:
        pq.write_table(pa.Table.from_pylist(rows), buffer)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return case
    options = {k: v for k, v in case.options.items() if k != "format"}
    return dataclasses.replace(case, suffix=".parquet", options=options, data=buffer.getvalue())


def _to_warc(case: Case, rng: random.Random) -> Case:
    """The bytes as the body of a WARC response (gzipped records, a charset header or not)."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=rng.random() < 0.7)
    content_type = rng.choice(
        ["text/html", "text/html; charset=gbk", "text/plain", "application/pdf", ""]
    )
    status = rng.choice(["200 OK", "200 OK", "301 Moved", "404 Not Found"])
    headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
    record = writer.create_warc_record(
        "http://example.com/" + str(rng.randrange(1000)),
        "response",
        payload=io.BytesIO(case.data),
        http_headers=headers,
    )
    writer.write_record(record)
    return dataclasses.replace(
        case, source="web", suffix=".warc.gz", options={}, data=buffer.getvalue()
    )


def _byte_op(name: str) -> Callable[[Case, random.Random], Case]:
    def op(case: Case, rng: random.Random) -> Case:
        data = bytearray(case.data)
        if name == "flip" and data:
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(data))
                data[i] ^= 1 << rng.randrange(8)
        elif name == "delete":
            start, end = _span(case.data, rng)
            del data[start:end]
        elif name == "duplicate":
            start, end = _span(case.data, rng)
            data[end:end] = data[start:end]
        elif name == "insert":
            at = rng.randint(0, len(data))
            data[at:at] = rng.choice(TOKENS) * rng.choice([1, 1, 2, 100])
        elif name == "truncate" and data:
            del data[rng.randrange(len(data)) :]
        return dataclasses.replace(case, data=bytes(data))

    return op


def _option_op(name: str) -> Callable[[Case, random.Random], Case]:
    def op(case: Case, rng: random.Random) -> Case:
        options = dict(case.options)
        if name == "cap":
            options["max_record_bytes"] = rng.choice([1, 16, 100, 1000, 4096])
        elif name == "declare":
            options["encoding"] = rng.choice(DECLARED)
        elif name == "split":
            options["split_bytes"] = rng.choice([1, 2, 7, 64, 333, 4096])
        elif name == "adapter":
            return dataclasses.replace(case, source=rng.choice(sorted(sources.ADAPTERS)))
        elif name == "format":
            fmt = rng.choice(["jsonl", "json", "csv", "tsv", "html", "text", "warc", "parquet"])
            options["format"] = fmt
            if fmt == "text" and rng.random() < 0.5:
                options["text_unit"] = "line"
        return dataclasses.replace(case, options=options)

    return op


OPS: dict[str, Callable[[Case, random.Random], Case]] = {
    "flip": _byte_op("flip"),
    "delete": _byte_op("delete"),
    "duplicate": _byte_op("duplicate"),
    "insert": _byte_op("insert"),
    "truncate": _byte_op("truncate"),
    "tree": _tree_op,
    "recode": _recode,
    "compress": _compress,
    "nest": _nest,
    "parquet": _to_parquet,
    "warc": _to_warc,
    "cap": _option_op("cap"),
    "declare": _option_op("declare"),
    "split": _option_op("split"),
    "adapter": _option_op("adapter"),
    "format": _option_op("format"),
}
# Structure-aware mutations are drawn more often: byte flips mostly make JSON unparseable, which
# tests the parser and not the adapters.
OP_WEIGHTS = {"tree": 6, "flip": 2, "insert": 2, "recode": 2}


def mutate(seed: Seed, ops: list[tuple[str, int]]) -> Case:
    """Applies ``ops`` (name, random seed) to a seed, in order."""
    case = Case(seed.source, seed.suffix, dict(seed.options), seed.data, seed.name)
    for name, op_seed in ops:
        case = OPS[name](case, random.Random(op_seed))
    applied = "+".join(name for name, _ in ops) or "as is"
    return dataclasses.replace(case, origin=f"{seed.name} [{applied}]")


def random_ops(rng: random.Random) -> list[tuple[str, int]]:
    """A random, usually short, list of mutations (structural ones weighted up)."""
    names = sorted(OPS)
    weights = [OP_WEIGHTS.get(n, 1) for n in names]
    count = rng.choice([0, 1, 1, 1, 2, 2, 3, 5])
    return [(rng.choices(names, weights)[0], rng.randrange(2**32)) for _ in range(count)]


# -------------------------------------------------------------------------------------- targets

_CODERS = {t: beam.coders.registry.get_coder(t) for t in (RawDoc, Rejected, ErrorRecord)}
_NORMALIZE_BASE = NormalizeText()._base  # the default policy: t2s, PII masked


def _encodes(value: Any, record_type: type) -> str | None:
    coder = _CODERS[record_type]
    try:
        back = coder.decode(coder.encode(value))
    except Exception:
        return traceback.format_exc()
    if record_type is RawDoc and back != value:
        return f"RowCoder round trip changed the record: {value!r} -> {back!r}"
    return None


class _Workers:
    """DoFn instances set up once per process (OpenCC loading is the slow part)."""

    def __init__(self) -> None:
        self._adapters: dict[tuple[str, str | None], _AdaptFn] = {}
        self.normalize = _NormalizeFn(
            "Normalize", "NormalizeText", shared.Shared(), _NORMALIZE_BASE, {}, None, True
        )
        self.normalize.setup()

    def adapter(self, source: str, declared: str | None) -> _AdaptFn:
        key = (source, declared)
        if key not in self._adapters:
            fn = _AdaptFn("Fuzz", "ReadCrawl", source, declared)
            fn.setup()
            self._adapters[key] = fn
        return self._adapters[key]


_WORKERS: _Workers | None = None


def _workers() -> _Workers:
    global _WORKERS
    if _WORKERS is None:
        _WORKERS = _Workers()
    return _WORKERS


@dataclasses.dataclass
class Outcome:
    """What one case produced, and every broken contract."""

    units: int = 0
    docs: int = 0
    rejected: int = 0
    errors: dict[str, int] = dataclasses.field(default_factory=dict)
    crashes: list[Crash] = dataclasses.field(default_factory=list)


def _read(case: Case, path: str, split: int) -> list[Any]:
    options = case.options
    fmt = options.get("format", "auto")
    text_unit = options.get("text_unit", "file")
    planner = _PlanReads(fmt, split, text_unit, declared_encoding=options.get("encoding"))
    reader = _ReadUnits(
        case.source,
        "fuzz",
        options.get("max_record_bytes", formats.DEFAULT_MAX_RECORD_BYTES),
        options.get("json_items"),
        text_unit,
        options.get("encoding"),
    )
    for fn in (planner, reader):
        fn.setup()
    plans = list(planner.process(FileMetadata(path, len(case.data))))
    return [unit for plan in plans for unit in reader.process(plan)]


def _unit_key(unit: Any) -> tuple:
    payload = unit.payload
    if isinstance(payload, bytes):
        return unit.offset, payload
    return unit.offset, type(payload).__name__


def run_ingest(case: Case, workdir: Path) -> Outcome:
    """Reads one case like ReadCrawl and normalizes its documents like NormalizeText."""
    out = Outcome()
    path = str(workdir / f"input{case.suffix}")
    Path(path).write_bytes(case.data)
    split = case.options.get("split_bytes", 64 << 20)
    try:
        units = _read(case, path, split)
    except Exception:
        out.crashes.append(Crash("read", "exception", traceback.format_exc()))
        return out
    out.units = len(units)
    fmt = case.options.get("format", "auto")
    line_based = fmt == "jsonl" or (fmt == "text" and case.options.get("text_unit") == "line")
    if split < len(case.data) and line_based:
        try:
            whole = _read(case, path, 1 << 62)
        except Exception:
            whole = None  # reported by the split read if it matters
        if whole is not None and [_unit_key(u) for u in whole] != [_unit_key(u) for u in units]:
            compressed = [_unit_key(u) for u in whole][:3]
            if units or whole:
                out.crashes.append(
                    Crash(
                        "read",
                        "ranges",
                        f"split_bytes={split} gave {len(units)} units, whole read {len(whole)}: "
                        f"{[_unit_key(u) for u in units][:3]} vs {compressed}",
                    )
                )
    workers = _workers()
    adapt = workers.adapter(case.source, case.options.get("encoding"))
    for unit in units:
        try:
            outputs = list(adapt.process(unit))
        except Exception as exc:
            kind = type(exc).__name__
            out.errors[kind] = out.errors.get(kind, 0) + 1
            if not isinstance(exc, ValueError):
                out.crashes.append(Crash(f"adapt:{case.source}", kind, format_exception(exc)))
            try:
                record = error_record(unit, "Fuzz", kind, repr(exc), format_exception(exc))
            except Exception:
                out.crashes.append(Crash("error_record", "exception", traceback.format_exc()))
                continue
            problem = _encodes(record, ErrorRecord)
            if problem:
                out.crashes.append(Crash("error_record", "encode", problem))
            continue
        docs = [o for o in outputs if isinstance(o, RawDoc)]
        tagged = [o for o in outputs if isinstance(o, beam.pvalue.TaggedOutput)]
        rejections = [t.value for t in tagged if t.tag == REJECTED]
        for rejection in rejections:
            out.rejected += 1
            problem = _encodes(rejection, Rejected)
            if problem:
                out.crashes.append(Crash("rejected", "encode", problem))
        if not rejections and not docs:
            out.crashes.append(
                Crash(f"adapt:{case.source}", "silent_drop", f"no output for {unit.offset}")
            )
        for doc in docs:
            out.docs += 1
            problem = _encodes(doc, RawDoc)
            if problem:
                out.crashes.append(Crash(f"adapt:{case.source}", "encode", problem))
                continue
            try:
                normalized = list(workers.normalize.process(doc))
            except Exception:
                out.crashes.append(Crash("normalize", "exception", traceback.format_exc()))
                continue
            for record in normalized:
                problem = _encodes(record, RawDoc)
                if problem:
                    out.crashes.append(Crash("normalize", "encode", problem))
    return out


def check_decode(data: bytes, declared: str | None, html: bool) -> list[Crash]:
    """encoding.decode: only UndecodableError, and ``data.decode(encoding) == text``."""
    try:
        decoded = textencoding.decode(data, declared, html=html)
    except textencoding.UndecodableError:
        return []
    except Exception:
        return [Crash("decode", "exception", traceback.format_exc())]
    try:
        same = data.decode(decoded.encoding) == decoded.text
    except Exception:
        same = False
    if not same:
        return [Crash("decode", "invariant", f"{decoded.encoding} does not give the text back")]
    return []


def check_html(text: str) -> list[Crash]:
    """extract_main and fragment_to_markdown accept any string and never raise."""
    crashes = []
    try:
        extracted = texthtml.extract_main(text)
        if not all(isinstance(v, str) for v in extracted):
            crashes.append(Crash("extract_main", "type", repr(extracted)[:500]))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        crashes.append(Crash("extract_main", type(exc).__name__, traceback.format_exc()))
    try:
        markdown = texthtml.fragment_to_markdown(text)
        if not isinstance(markdown, str):
            crashes.append(Crash("fragment_to_markdown", "type", repr(markdown)[:500]))
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        crashes.append(Crash("fragment_to_markdown", type(exc).__name__, traceback.format_exc()))
    return crashes


_POLICIES = [
    {},
    {"urls": "remove", "pii": "remove", "emoji": "remove"},
    {"urls": "mask", "pii": "keep"},
]


def check_normalize(text: str, with_t2s: bool = True) -> list[Crash]:
    """textnorm.normalize never raises and is idempotent, under several policies."""
    t2s = _workers().normalize._converters.get(("t2s", True)) if with_t2s else None
    crashes = []
    for policy in _POLICIES:
        try:
            once = textnorm.normalize(text, t2s, True, True, **policy)
            twice = textnorm.normalize(once.text, t2s, True, True, **policy)
        except Exception:
            crashes.append(Crash("normalize", "exception", traceback.format_exc()))
            continue
        if twice.text != once.text:
            crashes.append(
                Crash(
                    "normalize",
                    "not_idempotent",
                    f"policy {policy}: {text[:200]!r} -> {once.text[:200]!r} "
                    f"-> {twice.text[:200]!r}",
                )
            )
    return crashes


# ---------------------------------------------------------------------------------- text inputs

TEXT_TOKENS = [
    "\x00",
    "\x0b",
    "\x0c",
    "\r",
    "\r\n",
    "\x85",
    "\u2028",
    "\u2029",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\u00ad",
    "\u3000",
    "\xa0",
    "\t",
    "  ",
    "\n\n\n",
    "```",
    "```python\n",
    "~~~",
    "- ",
    "1. ",
    "谢邀，",
    "编辑于 2024-01-02",
    "著作权归作者所有。",
    "ＡＢＣ１２３",
    "臺灣電腦軟體",
    "👨‍👩‍👧",
    "❤️",
    "🏻",
    "\U0001f3fb\u200d",
    "e\u0301",
    "http://example.com/a?b=c",
    "[链接](http://a.b)",
    "www.example.org",
    "13812345678",
    "+86 138 1234 5678",
    "(010)62345678",
    "010-62345678-123",
    "110101199003070011",
    "6222020200112233445",
    "user.name+tag@example.com.cn",
    "<p>",
    "</p>",
    "<br>",
    "&amp;",
    "$$x^2$$",
]


def mutate_text(text: str, rng: random.Random, steps: int) -> str:
    """Character-level mutations of a string: tokens inserted, spans cut or doubled."""
    chars = list(text)
    for _ in range(steps):
        op = rng.choice(["insert", "insert", "delete", "duplicate", "random"])
        at = rng.randint(0, len(chars))
        if op == "insert":
            chars[at:at] = list(rng.choice(TEXT_TOKENS))
        elif op == "delete" and chars:
            del chars[at : at + rng.randint(1, 20)]
        elif op == "duplicate" and chars:
            chars[at:at] = chars[at : at + rng.randint(1, 40)]
        elif op == "random":
            chars[at:at] = [
                chr(rng.choice([rng.randint(0, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]))
            ]
    return "".join(chars)


def text_seeds(seeds: list[Seed], limit: int = 200_000) -> list[str]:
    """Decoded text of the seeds (JSON string values, pages, files), for the text targets."""
    texts = []
    for seed in seeds:
        try:
            data = seed.data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if seed.suffix in (".html", ".txt", ".csv"):
            texts.append(data[:limit])
            continue
        for line in data.splitlines()[:3] if seed.suffix == ".jsonl" else [data]:
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            strings = [s for s in _strings(obj) if len(s) > 20]
            texts.extend(strings[:3])
    return texts


def _strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from _strings(value)
    elif isinstance(obj, list):
        for value in obj:
            yield from _strings(value)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Calls ``fn`` and returns its result and the seconds it took."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start
