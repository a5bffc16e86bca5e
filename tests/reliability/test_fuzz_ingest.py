"""Fuzzing the ingest path: every source adapter behind ReadCrawl's readers, then NormalizeText.

Inputs are real records (``../shared/corpora``, through each adapter's ``REAL_DATA``) and our own
fixtures, mutated by :mod:`tests.reliability.fuzzlib`; the contract checked is in its docstring
(no exception escapes a reader, only ValueError-family errors from adapters, every raw record
accounted for once, every output encodable, NormalizeText never raises). A longer hunt:
``CQIA_FUZZ_PROFILE=long`` or ``python benchmarks/fuzz.py --minutes N``.
"""

import contextlib
import io
import json
import os
import time
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from hypothesis import given
from hypothesis import strategies as st

from beam_cqia import report
from beam_cqia.transforms import NormalizeText, ReadCrawl, WriteCqiaParquet
from tests.reliability import fuzzlib

# Op names repeated by weight, so hypothesis draws structural mutations more often.
OP_NAMES = [n for n in sorted(fuzzlib.OPS) for _ in range(fuzzlib.OP_WEIGHTS.get(n, 1))]
# An input this slow is a finding too (a quadratic path a hostile record could trigger).
SLOW_SECONDS = 30.0


def _ops() -> st.SearchStrategy:
    return st.lists(
        st.tuples(st.sampled_from(OP_NAMES), st.integers(0, 2**32 - 1)), min_size=0, max_size=5
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def _check(case: fuzzlib.Case, workdir: Path) -> None:
    # warcio prints warnings about malformed records on stderr; they are expected here.
    with contextlib.redirect_stderr(io.StringIO()):
        start = time.perf_counter()
        outcome = fuzzlib.run_ingest(case, workdir)
        seconds = time.perf_counter() - start
    assert not outcome.crashes, (case.describe(), [c.detail[-3000:] for c in outcome.crashes])
    assert seconds < SLOW_SECONDS, (case.describe(), f"{seconds:.1f} s")


@pytest.fixture(scope="module")
def real_corpora() -> Path:
    """../shared/corpora, or a visible skip (module scope: hypothesis reuses it across inputs)."""
    if not fuzzlib.CORPORA.is_dir():
        pytest.skip(f"real corpora not found at {fuzzlib.CORPORA}; needs ../shared/corpora")
    return fuzzlib.CORPORA


_BUILTIN = st.deferred(lambda: st.sampled_from(fuzzlib.builtin_seeds()))
_CORPUS = st.deferred(lambda: st.sampled_from(fuzzlib.corpus_seeds()))


@fuzzlib.fuzz_settings(150)
@given(seed=_BUILTIN, ops=_ops())
def test_adapters_on_mutated_fixtures_never_crash(seed, ops, workdir):
    _check(fuzzlib.mutate(seed, ops), workdir)


@pytest.mark.corpora
@fuzzlib.fuzz_settings(350)
@given(seed=_CORPUS, ops=_ops())
def test_adapters_on_mutated_real_corpora_never_crash(real_corpora, seed, ops, workdir):
    _check(fuzzlib.mutate(seed, ops), workdir)


def test_every_adapter_is_fuzzed():
    seeds = fuzzlib.all_seeds()
    direct = {s.source for s in seeds}
    # Adapters without a seed of their own still get every other adapter's inputs ("adapter" op).
    assert {"zhihu", "baike", "exam", "xhs", "segmentfault", "wikihow", "web", "text"} <= direct
    assert "adapter" in fuzzlib.OPS


def _parquet(rows: list[dict]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buffer)
    return buffer.getvalue()


def test_known_crashers_stay_fixed(workdir):
    """Inputs the fuzzer found, each a crash before its fix (see benchmarks/results/fuzz.md)."""
    from tests.sources.test_zhihu import API_ANSWER

    deep = b'{"a":' * 5000 + b"1" + b"}" * 5000
    cases = [
        # ijson builds values of any depth: building the error record recursed until
        # RecursionError, which would have failed the pipeline (not a dead letter).
        ("zhihu", ".json", {"format": "json"}, b"[" + deep + b"]"),
        ("douban", ".json", {"format": "json", "json_items": "*"}, b'{"k": ' + deep + b"}"),
        # An epoch time past year 9999 raised OSError/OverflowError instead of ValueError.
        (
            "zhihu",
            ".jsonl",
            {},
            json.dumps({**API_ANSWER, "created_time": 1e20}).encode() + b"\n",
        ),
        # An infinite vote count (Parquet floats can be inf) raised OverflowError in round().
        (
            "zhihu",
            ".parquet",
            {},
            _parquet(
                [
                    {
                        "question_id": "1",
                        "title": "问题",
                        "answers": [
                            {"answer_id": "2", "voteup_count": float("inf"), "content": "答"}
                        ],
                    }
                ]
            ),
        ),
        # A declared UTF-16 line file was split into byte ranges that cut characters apart.
        (
            "text",
            ".txt",
            {"format": "text", "text_unit": "line", "split_bytes": 3, "encoding": "utf-16-le"},
            "第一行\n第二行\n".encode("utf-16-le"),
        ),
    ]
    for source, suffix, options, data in cases:
        _check(fuzzlib.Case(source, suffix, options, data, "regression"), workdir)


def test_mutated_files_through_a_real_pipeline_lose_nothing(tmp_path):
    """Mutated files of several adapters through ReadCrawl, NormalizeText and the Parquet sink on
    FnApiRunner: the run succeeds and the manifest accounts for every raw record."""
    import random

    rng = random.Random(12)
    wanted = ("demo:zhihu", "demo:baike", "fixture:web-page", "fixture:xhs")
    seeds = [s for s in fuzzlib.builtin_seeds() if s.name.startswith(wanted)]
    # Byte-level and structural mutations only: the files keep their adapter and format.
    names = ["flip", "delete", "duplicate", "insert", "truncate", "tree", "recode", "compress"]
    groups: dict[str, list[fuzzlib.Case]] = {}
    for seed in seeds[:4]:
        for _ in range(5):
            ops = [(rng.choice(names), rng.randrange(2**32)) for _ in range(rng.randint(1, 3))]
            case = fuzzlib.mutate(seed, ops)
            groups.setdefault(f"{case.source}{case.suffix}", []).append(case)
    expected_units = 0
    with contextlib.redirect_stderr(io.StringIO()):
        for key, cases in groups.items():
            folder = tmp_path / "in" / key.replace(".", "_")
            folder.mkdir(parents=True)
            for i, case in enumerate(cases):
                (folder / f"f{i}{case.suffix}").write_bytes(case.data)
                expected_units += fuzzlib.run_ingest(case, tmp_path).units
    pipeline = beam.Pipeline(runner=FnApiRunner())
    docs = {
        key: pipeline
        | f"Read_{key}"
        >> ReadCrawl(str(tmp_path / "in" / key.replace(".", "_") / "*"), source=cases[0].source)
        for key, cases in groups.items()
    }
    out = tmp_path / "out"
    docs | NormalizeText() | WriteCqiaParquet(str(out))
    with contextlib.redirect_stderr(io.StringIO()):
        pipeline.run().wait_until_finish()
    manifest = report.read_manifest(str(out))
    reads = [s for name, s in manifest["stages"].items() if name.startswith("Read_")]
    seen = sum(s["in"] for s in reads)
    assert seen == expected_units
    assert seen == sum(s["out"] + sum(s["rejected"].values()) + s["errors"] for s in reads)
    written = {
        kind: ds.dataset(out / kind, format="parquet").count_rows() if (out / kind).exists() else 0
        for kind in ("data", "rejected", "errors")
    }
    assert written["data"] == sum(s.get("emitted", s["out"]) for s in reads)
    assert written["rejected"] + written["errors"] == seen - sum(s["out"] for s in reads)
    assert not (out / "_temporary").exists()
    assert os.path.exists(out / "_SUCCESS")
