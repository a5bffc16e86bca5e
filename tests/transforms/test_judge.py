"""JudgeWithLLM on FnApiRunner against a scripted OpenAI-compatible server on loopback."""

import pickle
import re

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.lineage import llm_keys
from beam_cqia.llm.cache import request_key
from beam_cqia.records import CqiaRecord, RawDoc
from beam_cqia.transforms import JudgeWithLLM, stage_outputs
from tests.conftest import counters, new_pipeline
from tests.factories import cqia_record, raw_doc
from tests.llm.fake_openai import FakeOpenAI

NS = "beam_cqia.JudgeWithLLM"


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def judge(server: FakeOpenAI, **settings) -> JudgeWithLLM:
    settings.setdefault("backoff_seconds", 0.01)
    return JudgeWithLLM(base_url=server.base_url, model="judge-7b", **settings)


RECORDS = [
    cqia_record("j1", output="大气分子对短波长的蓝光散射更强，所以天空是蓝色的。#score=9"),
    cqia_record("j2", output="因为瑞利散射。#score=8.5"),
    cqia_record("j3", instruction="翻译成英文", input="你好", output="Hello. #score=6"),
    cqia_record("j4", output="天空本来就是蓝的。#malformed"),
    cqia_record("j5", output="   "),
]
NAMES = {r.id: f"j{i + 1}" for i, r in enumerate(RECORDS)}


def _key_hidden(entry: str) -> str:
    return re.sub(r"llm=[0-9a-f]{64}$", "llm=<key>", entry)


def run_judge(server: FakeOpenAI, cache: str, keys: set[str] | None = None):
    p = new_pipeline()
    scored = (
        p
        | beam.Create(RECORDS).with_output_types(CqiaRecord)
        | "Judge" >> judge(server, cache=cache, batch_size=2, concurrency=2)
    )
    errors = stage_outputs(p, "Judge").errors
    assert_that(
        scored
        | beam.Map(lambda r: (NAMES[r.id], dict(r.signals), [_key_hidden(e) for e in r.lineage])),
        equal_to(
            [
                ("j1", {"llm.score": 9.0}, ["Judge:llm=<key>"]),
                ("j2", {"llm.score": 8.5}, ["Judge:llm=<key>"]),
                ("j3", {"llm.score": 6.0}, ["Judge:llm=<key>"]),
            ]
        ),
        label="scored",
    )
    if keys is not None:  # the lineage names the cache keys of the requests that scored them

        def named_requests(found: list[str]) -> None:
            assert len(found) == 3 and set(found) <= keys, (found, keys)

        assert_that(
            scored | beam.FlatMap(lambda r: [k for _, k in llm_keys(r.lineage)]),
            named_requests,
            label="keys",
        )
    assert_that(
        errors | beam.Map(lambda e: (NAMES[e.id], e.stage, e.kind, e.msg)),
        equal_to(
            [
                (
                    "j4",
                    "Judge",
                    "VerdictError",
                    "unparseable verdict from judge-7b (judge_cqia.v1): not a JSON object "
                    "(Expecting value: line 1 column 1 (char 0)); "
                    "raw response: '这个回答还不错，我给 8 分。'",
                ),
                (
                    "j5",
                    "Judge",
                    "TemplateError",
                    "judge_cqia.v1: required variable 'output' is empty",
                ),
            ]
        ),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    return counters(result, NS)


def test_scores_are_stored_as_signals_and_a_rerun_is_answered_by_the_cache(server, tmp_path):
    # A directory cache goes through Beam's FileSystems (gs:// on Dataflow); SQLite caches are
    # covered with the client in tests/llm.
    cache = str(tmp_path / "llm-cache")
    first = run_judge(server, cache)
    calls = server.completions()
    assert len(calls) == 4  # the empty output never leaves the worker
    assert all(c.body["model"] == "judge-7b" and c.body["temperature"] == 0.0 for c in calls)
    assert all(c.body["max_tokens"] == 512 for c in calls)
    assert {c.body["messages"][0]["role"] for c in calls} == {"system"}
    prompt_tokens = sum(len(m["content"]) for c in calls for m in c.body["messages"])
    assert first.pop("completion_tokens") > 0
    assert first == {
        "seen": 5,
        "passed": 3,
        "errors": 2,
        "requests": 4,
        "prompt_tokens": prompt_tokens,
    }
    assert server.max_in_flight <= 2

    server.reset()
    keys = {request_key(c.body) for c in calls}
    again = run_judge(server, cache, keys)  # the same scores and errors, asserted inside
    assert server.completions() == []
    assert again == {"seen": 5, "passed": 3, "errors": 2, "cache_hits": 4}
    assert {p.stem for p in (tmp_path / "llm-cache").rglob("*.json")} == keys
    assert not list((tmp_path / "llm-cache").rglob(".tmp-*"))


def test_rawdocs_use_question_and_answer_and_fields_can_be_remapped(server, tmp_path):
    docs = [
        raw_doc("r1", question="如何学好数学？", answer="多做题，勤总结。#score=8"),
        raw_doc(
            "r2", source="baike", title="长城", body="长城是中国古代的军事防御工程。#score=9.5"
        ),
    ]
    p = new_pipeline()
    created = p | beam.Create(docs).with_output_types(RawDoc)
    qa = created | "Filter" >> beam.Filter(lambda d: d.source == "zhihu")
    wiki = created | "Wiki" >> beam.Filter(lambda d: d.source == "baike")
    qa_scored = qa | "JudgeQA" >> judge(server, signal="llm.judge_v1")
    wiki_scored = wiki | "JudgeWiki" >> judge(
        server, fields={"instruction": "title", "output": "body"}
    )
    assert_that(
        qa_scored | beam.Map(lambda d: dict(d.signals)),
        equal_to([{"llm.judge_v1": 8.0}]),
        label="qa",
    )
    assert_that(
        wiki_scored | beam.Map(lambda d: (d.title, dict(d.signals))),
        equal_to([("长城", {"llm.score": 9.5})]),
        label="wiki",
    )
    p.run().wait_until_finish()
    texts = sorted(c.user_text for c in server.completions())
    assert len(texts) == 2
    assert "【指令】\n如何学好数学？\n【回答】\n多做题，勤总结。#score=8" in texts[0] + texts[1]
    assert "【指令】\n长城\n【回答】\n长城是中国古代的军事防御工程。" in texts[0] + texts[1]
    assert all("【输入】" not in t for t in texts)


def test_failed_requests_go_to_errors_with_the_servers_message(server):
    records = [
        cqia_record("f1", output="总是失败 #status=503"),
        cqia_record("f2", output="正常回答 #score=7.5"),
    ]
    names = {r.id: n for r, n in zip(records, ("f1", "f2"), strict=True)}
    p = new_pipeline()
    out = (
        p
        | beam.Create(records).with_output_types(CqiaRecord)
        | "Judge" >> judge(server, max_retries=2, error_handling={"output": "errors"})
    )
    assert set(out) == {"good", "errors"}
    assert_that(out["good"] | beam.Map(lambda r: names[r.id]), equal_to(["f2"]), label="good")
    assert_that(
        out["errors"]
        | beam.Map(
            lambda e: (names[e.id], e.kind, "overloaded or not ready" in e.msg, "3 of 3" in e.msg)
        ),
        equal_to([("f1", "HTTPError", True, True)]),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, NS)["requests"] == 4  # three for f1, one for f2


def test_the_api_key_is_read_on_the_worker_and_never_pickled(monkeypatch):
    key = "sk-judge-secret-42"
    monkeypatch.setenv("CQIA_JUDGE_KEY", key)
    with FakeOpenAI(api_key=key) as srv:
        transform = judge(srv, api_key_env="CQIA_JUDGE_KEY")
        assert key.encode() not in pickle.dumps(transform)
        p = new_pipeline()
        out = (
            p
            | beam.Create([cqia_record("k1", output="好 #score=8")]).with_output_types(CqiaRecord)
            | "Judge" >> transform
        )
        assert_that(out | beam.Map(lambda r: r.signals["llm.score"]), equal_to([8.0]))
        p.run().wait_until_finish()
        [call] = srv.completions()
    assert call.headers["Authorization"] == f"Bearer {key}"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_url": "ftp://example.org/v1"}, "base_url must be an http"),
        ({"prompt": "judge_cqia.v9"}, "unknown LLM prompt 'judge_cqia.v9'"),
        ({"fields": {"answer": "output"}}, "'answer' is not a variable of prompt"),
        ({"fields": {"output": ""}}, "must name a record field"),
        ({"concurrency": 0}, "concurrency must be >= 1"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"cache": "gs://bucket/llm.sqlite"}, "SQLite caches must be local files"),
        ({"api_key_env": "sk-abc123"}, "NAME of an environment variable"),
        ({"signal": ""}, "signal must name a signal"),
        ({"error_handling": {"out": "x"}}, "error_handling"),
    ],
)
def test_config_errors_are_raised_when_the_pipeline_is_built(settings, message):
    values = {"base_url": "http://127.0.0.1:9/v1", "model": "judge-7b", **settings}
    with pytest.raises(ValueError, match=message):
        JudgeWithLLM(**values)


def test_fields_must_exist_on_the_record_type(server):
    p = new_pipeline()
    docs = p | beam.Create([raw_doc("x1")]).with_output_types(RawDoc)
    with pytest.raises(ValueError, match=r"fields \['output'\] are not fields of RawDoc"):
        _ = docs | judge(server, fields={"output": "output"})


def test_rows_without_signals_are_refused_when_the_pipeline_is_built(server):
    p = new_pipeline()
    rows = p | beam.Create([beam.Row(instruction="问", input="", output="答")])
    with pytest.raises(ValueError, match="no signals field to store the score in"):
        _ = rows | judge(server)


def test_the_directory_cache_works_on_gcs(gcs_emulator, server):
    from beam_cqia.llm import ChatClient, ClientConfig, DirectoryCache
    from beam_cqia.transforms._llm_stage import BeamFiles

    config = ClientConfig(base_url=server.base_url, model="judge-7b")
    request = [{"role": "user", "content": "缓存在 GCS 上 #score=9"}]
    store = BeamFiles()
    cache = DirectoryCache("gs://cqia-test/llm-cache/", store)
    with ChatClient(config, cache) as client:
        assert not client.complete(request).cached
    with ChatClient(config, DirectoryCache("gs://cqia-test/llm-cache", store)) as client:
        again = client.complete(request)
    assert again.cached and len(server.completions()) == 1
    assert cache.path_of(again.key).startswith(f"gs://cqia-test/llm-cache/{again.key[:2]}/")
    assert store.read("gs://cqia-test/llm-cache/00/missing.json") is None
