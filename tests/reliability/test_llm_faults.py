"""An LLM endpoint that fails: 500s and 429s (with Retry-After) that pass, a 503 that does not,
a 200 whose body is not JSON, an unparseable verdict, answers slower than the timeout. Every
record still leaves JudgeWithLLM exactly once (scored or an error), and a rerun against a healthy
server pays only for requests that failed: nothing is scored twice."""

import re
import threading
from collections import Counter
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from beam_cqia import report
from beam_cqia.records import CqiaRecord
from beam_cqia.transforms import JudgeWithLLM, WriteCqiaParquet
from tests.factories import cqia_record
from tests.llm.fake_openai import Call, FakeOpenAI, Reply, overloaded, rate_limited, verdict

# id -> what the server does with it on the first run (the second run is healthy throughout).
PLAN = {
    "ok1": "ok",
    "ok2": "ok",
    "ok3": "ok",
    "flaky500": "500-then-ok",
    "flaky502": "500-then-ok",
    "limited": "429-then-ok",
    "down": "503-always",
    "garbage": "not-json",
    "prose": "unparseable",
    "slow": "too-slow",
}
FAILS = {"down", "garbage", "prose", "slow"}
_ID = re.compile(r"#id=(\w+)#")


class Script:
    """The server's behaviour per record id, and every attempt it saw."""

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.healthy = False
        self._lock = threading.Lock()

    def __call__(self, call: Call) -> Reply:
        rid = _ID.search(call.user_text).group(1)
        with self._lock:
            self.attempts[rid] += 1
            first = self.attempts[rid] == 1
        behaviour = "ok" if self.healthy else PLAN[rid]
        if behaviour == "500-then-ok" and first:
            return overloaded(500 if rid == "flaky500" else 502)
        if behaviour == "429-then-ok" and first:
            return rate_limited("1")
        if behaviour == "503-always":
            return overloaded(503)
        if behaviour == "not-json":
            return Reply(body=b"<html><body>502 Bad Gateway</body></html>")
        if behaviour == "unparseable":
            return Reply(content="这个回答还可以，给八分吧。")
        if behaviour == "too-slow":
            return verdict(6, delay=1.5)
        return verdict(8)


def records() -> list[CqiaRecord]:
    return [cqia_record(rid, output=f"因为瑞利散射，蓝光散射更强。#id={rid}#") for rid in PLAN]


def run(server: FakeOpenAI, cache: Path, out: Path) -> dict:
    with beam.Pipeline(runner=FnApiRunner()) as p:
        (
            p
            | beam.Create(records()).with_output_types(CqiaRecord)
            | "Judge"
            >> JudgeWithLLM(
                base_url=server.base_url,
                model="judge-7b",
                cache=str(cache),
                batch_size=4,
                concurrency=4,
                max_retries=2,
                backoff_seconds=0.01,
                timeout_seconds=0.5,
                deadline_seconds=10,
            )
            | "Write" >> WriteCqiaParquet(str(out))
        )
    names = {r.id: r.output.split("#id=")[1].rstrip("#") for r in records()}
    found: dict[str, list[str]] = {}
    for kind in ("data", "errors"):
        if (out / kind).exists():
            for row in ds.dataset(out / kind, format="parquet").to_table().to_pylist():
                found.setdefault(names[row["id"]], []).append(kind)
    manifest = report.read_manifest(str(out))
    judge = manifest["stages"]["Judge"]
    assert judge["in"] == judge["out"] + judge["errors"] == len(PLAN)
    return found


def test_llm_failures_keep_every_record_once_and_a_rerun_pays_only_for_failures(tmp_path):
    script = Script()
    with FakeOpenAI() as server:
        server.responder = script
        first = run(server, tmp_path / "cache", tmp_path / "out1")
        assert {rid: len(kinds) for rid, kinds in first.items()} == dict.fromkeys(PLAN, 1)
        assert {rid for rid, kinds in first.items() if kinds == ["errors"]} == FAILS
        assert script.attempts["down"] == 3  # the first attempt and max_retries=2
        assert script.attempts["flaky500"] == script.attempts["limited"] == 2

        script.healthy = True
        before = Counter(script.attempts)
        second = run(server, tmp_path / "cache", tmp_path / "out2")
        # The unparseable verdict was a complete answer: it is cached like any answer (the same
        # request at temperature 0 would get it again), so the record stays an error, unpaid.
        assert second == {rid: ["errors" if rid == "prose" else "data"] for rid in PLAN}
        paid = {rid: script.attempts[rid] - before[rid] for rid in PLAN}
        retried = FAILS - {"prose"}
        assert paid == {rid: (1 if rid in retried else 0) for rid in PLAN}  # cache hits are free
