"""ChatClient against a scripted OpenAI-compatible server on loopback."""

import email.utils
import itertools
import json
import socket
import time

import pytest

from beam_cqia.llm import (
    ChatClient,
    ChatRequest,
    ClientConfig,
    Completion,
    Failure,
    open_cache,
    parse_completion,
)
from beam_cqia.llm.client import BadResponseError
from tests.llm.fake_openai import FakeOpenAI, Reply, error, overloaded, rate_limited, verdict

KEY = "sk-test-0123456789abcdef"


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        yield srv


def make(server: FakeOpenAI, cache=None, environ=None, **settings) -> ChatClient:
    settings.setdefault("backoff_seconds", 0.01)
    config = ClientConfig(base_url=server.base_url, model="judge-7b", **settings)
    return ChatClient(config, cache, environ=environ)


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "你是评审员。"}, {"role": "user", "content": text}]


def test_sends_the_wire_format_and_parses_the_answer():
    with FakeOpenAI(api_key=KEY) as srv:
        client = make(srv, environ={"CQIA_LLM_KEY": KEY}, api_key_env="CQIA_LLM_KEY", seed=42)
        result = client.complete(ChatRequest(ask("请评分 #score=8.5"), {"max_tokens": 64}))
        client.close()
        [call] = srv.completions()
    assert isinstance(result, Completion), result
    assert json.loads(result.content) == {"score": 8.5, "reasons": "回答准确、完整，条理清楚。"}
    assert (result.finish_reason, result.cached, result.attempts) == ("stop", False, 1)
    assert result.response_id.startswith("chatcmpl-") and result.model == "judge-7b"
    assert result.usage.completion_tokens == len(result.content)
    assert call.body == {
        "model": "judge-7b",
        "messages": ask("请评分 #score=8.5"),
        "temperature": 0.0,
        "seed": 42,
        "max_tokens": 64,
    }
    assert call.headers["Authorization"] == f"Bearer {KEY}"
    assert call.headers["Content-Type"] == "application/json"
    assert call.headers["User-Agent"].startswith("beam-cqia/")
    assert KEY not in repr(client) and KEY not in repr(client.config)


def test_the_api_key_comes_only_from_the_named_environment_variable(server):
    with pytest.raises(ValueError, match="CQIA_MISSING_KEY") as info:
        make(server, environ={}, api_key_env="CQIA_MISSING_KEY")
    assert "not set" in str(info.value)
    with pytest.raises(ValueError, match="NAME of an environment variable"):
        make(server, api_key_env=KEY[:3] + "-" + KEY[3:])


def test_a_wrong_key_is_a_failure_that_is_not_retried():
    with FakeOpenAI(api_key=KEY) as srv:
        client = make(srv, environ={"K": "sk-wrong"}, api_key_env="K", max_retries=3)
        result = client.complete(ask("你好"))
        assert len(srv.completions()) == 1
    assert isinstance(result, Failure)
    assert (result.kind, result.status, result.attempts) == ("HTTPError", 401, 1)
    assert "Incorrect API key provided." in result.message and "invalid_api_key" in result.message
    assert "sk-wrong" not in result.message


def test_complete_many_keeps_order_and_never_exceeds_the_concurrency_limit(server):
    client = make(server, concurrency=3)
    # Later requests answer sooner, so completion order differs from request order.
    requests = [ask(f"第{i}条 #score={i % 11} #slow={0.02 * (12 - i):.2f}") for i in range(12)]
    results = client.complete_many(requests)
    assert [json.loads(r.content)["score"] for r in results] == [i % 11 for i in range(12)]
    assert server.max_in_flight == 3
    assert len(server.completions()) == 12
    totals = client.totals()
    assert (totals.calls, totals.requests, totals.cache_hits, totals.failures) == (12, 12, 0, 0)


def test_several_threads_share_one_concurrency_limit(server):
    import concurrent.futures

    client = make(server, concurrency=2)
    batches = [[ask(f"线程{t}-{i} #slow=0.05") for i in range(3)] for t in range(4)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(client.complete_many, batches))
    assert all(isinstance(r, Completion) for batch in results for r in batch)
    assert server.max_in_flight == 2


def test_retry_after_in_seconds_is_waited_for(server):
    server.queue(rate_limited("1"), verdict(9))
    client = make(server)
    result = client.complete(ask("限流"))
    first, second = server.completions()
    assert isinstance(result, Completion) and result.attempts == 2
    assert 1.0 <= second.at - first.at < 1.6
    assert client.totals().retries == 1


def test_retry_after_is_capped_and_read_as_an_http_date_too(server):
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    server.queue(rate_limited("30"), rate_limited(later), verdict(9))
    client = make(server, max_retry_after_seconds=0.3)
    result = client.complete(ask("限流"))
    times = [c.at for c in server.completions()]
    assert isinstance(result, Completion) and result.attempts == 3
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Each wait is the cap; a date not understood would give the 10 ms backoff instead.
    assert all(0.3 <= gap < 0.8 for gap in gaps), gaps


def test_5xx_are_retried_with_exponential_backoff(server):
    server.queue(overloaded(500), overloaded(503), error(502, "Bad gateway", "server_error"))
    server.queue(verdict(8))
    config = ClientConfig(
        base_url=server.base_url, model="judge-7b", backoff_seconds=0.05, max_retries=3
    )
    client = ChatClient(config, rng=lambda: 1.0)  # no jitter: waits are 0.05, 0.1, 0.2
    result = client.complete(ask("重试"))
    times = [c.at for c in server.completions()]
    assert isinstance(result, Completion) and result.attempts == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    for gap, wait in zip(gaps, (0.05, 0.1, 0.2), strict=True):
        assert wait <= gap < wait + 0.25, gaps


def test_exhausted_retries_fail_with_the_servers_message(server):
    client = make(server, max_retries=2)
    result = client.complete(ask("总是失败 #status=503"))
    assert isinstance(result, Failure)
    assert (result.kind, result.status, result.attempts) == ("HTTPError", 503, 3)
    assert "The server is overloaded or not ready yet." in result.message
    assert "attempt 3 of 3" in result.message
    assert len(server.completions()) == 3
    assert client.totals().failures == 1


def test_client_errors_are_not_retried(server):
    server.queue(
        error(
            400,
            "This model's maximum context length is 4096 tokens.",
            "invalid_request_error",
            "context_length_exceeded",
        )
    )
    result = make(server, max_retries=3).complete(ask("太长"))
    assert isinstance(result, Failure)
    assert (result.kind, result.status, result.attempts) == ("HTTPError", 400, 1)
    assert "maximum context length" in result.message
    assert "context_length_exceeded" in result.message


def test_timeouts_are_retried_then_fail(server):
    client = make(server, timeout_seconds=0.2, max_retries=1)
    started = time.monotonic()
    result = client.complete(ask("很慢 #slow=1.0"))
    elapsed = time.monotonic() - started
    assert isinstance(result, Failure)
    assert (result.kind, result.attempts) == ("Timeout", 2)
    assert elapsed < 0.9
    assert len(server.completions()) == 2


def test_the_deadline_bounds_a_request_with_its_retries(server):
    client = make(server, timeout_seconds=0.3, deadline_seconds=0.5, max_retries=10)
    started = time.monotonic()
    result = client.complete(ask("很慢 #slow=1.0"))
    elapsed = time.monotonic() - started
    assert isinstance(result, Failure) and result.kind in ("Deadline", "Timeout")
    assert result.kind == "Deadline", result
    assert elapsed < 0.8
    assert result.attempts == 2  # 0.3 s, then the 0.2 s left


def test_a_retry_after_beyond_the_deadline_ends_the_request_at_once(server):
    server.queue(rate_limited("5"))
    client = make(server, deadline_seconds=2.0, max_retry_after_seconds=60)
    started = time.monotonic()
    result = client.complete(ask("限流"))
    assert time.monotonic() - started < 0.5
    assert isinstance(result, Failure) and result.kind == "Deadline"
    assert "would pass the deadline" in result.message and result.attempts == 1


def test_connection_errors_are_retried():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    config = ClientConfig(
        base_url=f"http://127.0.0.1:{port}/v1", model="m", backoff_seconds=0.01, max_retries=2
    )
    result = ChatClient(config).complete(ask("有人吗"))
    assert isinstance(result, Failure)
    assert (result.kind, result.attempts) == ("ConnectionError", 3)


MALFORMED = [
    (b"<html>502 Bad Gateway</html>", "not JSON"),
    (b'["chat.completion"]', "JSON list, not an object"),
    (b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": []}', "no choices"),
    (b'{"id": "chatcmpl-1", "object": "chat.completion"}', "no choices"),
    (b'{"choices": [{"index": 0, "finish_reason": "stop"}]}', "has no message"),
    (
        b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": null}}]}',
        "content is NoneType",
    ),
    (
        b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "  "}}]}',
        "content is empty",
    ),
    (
        '{"choices": [{"index": 0, "message": {"role": "assistant", "content": null, '
        '"refusal": "抱歉，我无法评审。"}}]}'.encode(),
        "the model refused",
    ),
    (
        b'{"choices": [{"index": 0, "message": {"role": "assistant", "content": "{}"}}], '
        b'"usage": {"prompt_tokens": "12", "completion_tokens": 3}}',
        "usage.prompt_tokens",
    ),
    (b'{"error": {"message": "upstream failed", "type": "server_error"}}', "upstream failed"),
]


@pytest.mark.parametrize(("body", "problem"), MALFORMED, ids=[p for _, p in MALFORMED])
def test_malformed_responses_are_failures_with_the_raw_body(server, body, problem):
    server.queue(Reply(body=body))
    result = make(server, max_retries=3).complete(ask("解析"))
    assert isinstance(result, Failure)
    assert (result.kind, result.status, result.attempts) == ("BadResponse", 200, 1)
    assert problem in result.message
    assert body.decode("utf-8") in result.message
    assert result.body == body.decode("utf-8")


def test_parse_completion_rejects_bad_finish_reason_and_usage_types():
    good = {"choices": [{"message": {"role": "assistant", "content": "好"}}]}
    assert parse_completion(json.dumps(good)).content == "好"
    bad = {"choices": [{"message": {"content": "好"}, "finish_reason": 3}]}
    with pytest.raises(BadResponseError, match="finish_reason"):
        parse_completion(json.dumps(bad))
    with pytest.raises(BadResponseError, match="usage is list"):
        parse_completion(json.dumps({**good, "usage": []}))


def test_tokens_and_cost_are_accounted(server):
    server.queue(verdict(8, usage=(1200, 30)), verdict(9, usage=(800, 20)))
    client = make(server, price_prompt_per_1k=0.5, price_completion_per_1k=2.0, concurrency=1)
    first, second = client.complete_many([ask("一"), ask("二")])
    assert first.cost == pytest.approx((1200 * 0.5 + 30 * 2.0) / 1000)
    assert second.usage.prompt_tokens == 800
    totals = client.totals()
    assert (totals.prompt_tokens, totals.completion_tokens) == (2000, 50)
    assert totals.cost == pytest.approx((2000 * 0.5 + 50 * 2.0) / 1000)


def test_a_response_without_usage_counts_no_tokens(server):
    server.queue(verdict(8, usage=False))
    client = make(server)
    result = client.complete(ask("无用量"))
    assert isinstance(result, Completion) and result.usage is None
    assert client.totals().prompt_tokens == 0


def test_identical_requests_in_one_call_are_sent_once(server):
    client = make(server)
    results = client.complete_many([ask("同一条 #score=9"), ask("另一条"), ask("同一条 #score=9")])
    assert len(server.completions()) == 2
    assert [r.cached for r in results] == [False, False, True]
    assert results[0].content == results[2].content
    assert client.totals().cache_hits == 1


@pytest.mark.parametrize("kind", ["cache.sqlite", "cache-dir"])
def test_a_rerun_with_the_cache_sends_no_request(server, tmp_path, kind):
    spec = str(tmp_path / kind)
    requests = [ask(f"第{i}条 #score={i}") for i in range(5)]
    with make(server, cache=open_cache(spec)) as client:
        first = client.complete_many(requests)
        assert client.totals().prompt_tokens > 0
    assert len(server.completions()) == 5
    server.reset()
    with make(server, cache=open_cache(spec)) as client:
        again = client.complete_many(requests)
        totals = client.totals()
    assert server.completions() == []
    assert [r.content for r in again] == [r.content for r in first]
    assert all(r.cached and r.attempts == 0 and r.cost == 0 for r in again)
    assert [r.usage for r in again] == [r.usage for r in first]
    assert (totals.requests, totals.cache_hits, totals.prompt_tokens) == (0, 5, 0)
    # Another seed, temperature or model is another request.
    with make(server, cache=open_cache(spec), seed=7) as client:
        assert not client.complete(requests[0]).cached
    with make(server, cache=open_cache(spec), temperature=0.7) as client:
        assert not client.complete(requests[0]).cached
    assert len(server.completions()) == 2


def test_failures_are_not_cached(server, tmp_path):
    spec = str(tmp_path / "cache.sqlite")
    server.queue(overloaded(503))
    with make(server, cache=open_cache(spec), max_retries=0) as client:
        assert isinstance(client.complete(ask("失败一次")), Failure)
    with make(server, cache=open_cache(spec), max_retries=0) as client:
        assert isinstance(client.complete(ask("失败一次")), Completion)
    assert len(server.completions()) == 2


def test_the_key_is_not_written_to_the_cache(tmp_path):
    with FakeOpenAI(api_key=KEY) as srv:
        cache = open_cache(str(tmp_path / "dir"))
        with make(srv, cache=cache, environ={"K": KEY}, api_key_env="K") as client:
            assert isinstance(client.complete(ask("密钥")), Completion)
    [entry] = list((tmp_path / "dir").rglob("*.json"))
    text = entry.read_text(encoding="utf-8")
    assert KEY not in text and "密钥" in text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"base_url": "localhost:8000/v1"}, "base_url must be an http"),
        ({"model": " "}, "model must name a model"),
        ({"concurrency": 0}, "concurrency must be >= 1"),
        ({"max_retries": 1.5}, "max_retries must be an integer"),
        ({"timeout_seconds": 0}, "timeout_seconds must be > 0"),
        ({"temperature": float("nan")}, "temperature must be a number"),
        ({"params": {"stream": True}}, r"must not set \['stream'\]"),
    ],
)
def test_config_errors_name_the_setting(settings, message):
    values = {"base_url": "http://127.0.0.1:9/v1", "model": "m", **settings}
    with pytest.raises(ValueError, match=message):
        ClientConfig(**values)


def test_malformed_messages_are_refused_before_sending(server):
    client = make(server)
    with pytest.raises(ValueError, match="non-empty list"):
        client.complete_many([[]])
    with pytest.raises(ValueError, match="role must be one of"):
        client.complete([{"role": "robot", "content": "hi"}])
    with pytest.raises(ValueError, match="must not set"):
        client.complete(ChatRequest(ask("x"), {"model": "other"}))
    assert server.completions() == []
