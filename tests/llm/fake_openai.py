"""A small OpenAI-compatible chat-completions server on loopback, scripted per test.

It speaks the wire format real servers (OpenAI, vLLM, SGLang, Ollama's /v1) speak:
``POST /v1/chat/completions`` with a JSON body; answers ``{id, object: "chat.completion",
created, model, choices: [{index, message: {role, content}, finish_reason}], usage}``; errors as
``{"error": {"message", "type", "code"}}`` with their HTTP status (400 bad body, 401 bad key,
404 unknown path, 405 wrong method, 429 with ``Retry-After``, 5xx).

What it answers: replies queued with ``queue(...)`` first, in order; then ``responder(call)``,
by default ``judge_responder``, which reads markers in the last user message:
``#score=8.5`` -> the verdict ``{"score": 8.5, ...}``; ``#malformed`` -> prose instead of JSON;
``#status=503`` -> that error, every time; ``#slow=0.5`` -> the verdict after a delay; no
marker -> score 7. Every request is logged (arrival time, headers, parsed body), and the
largest number of requests in flight at once is kept, so tests can prove what was sent, when,
and how many at a time.
"""

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PATH = "/v1/chat/completions"


@dataclass
class Reply:
    """One scripted answer.

    Attributes:
        status: HTTP status.
        content: for a 200, the assistant message content.
        error: for an error status, ``(message, type, code)``.
        body: raw body sent instead of a generated one (malformed responses).
        headers: extra headers, e.g. ``[("Retry-After", "1")]``.
        delay: seconds to wait before answering.
        usage: ``(prompt_tokens, completion_tokens)``; None counts characters; False omits it.
        finish_reason: of the choice.
    """

    status: int = 200
    content: str | None = None
    error: tuple[str, str, Any] | None = None
    body: bytes | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    delay: float = 0.0
    usage: Any = None
    finish_reason: str = "stop"


def verdict(score: float, reasons: str = "回答准确、完整，条理清楚。", **kwargs: Any) -> Reply:
    """A 200 whose content is a judge verdict."""
    content = json.dumps({"score": score, "reasons": reasons}, ensure_ascii=False)
    return Reply(content=content, **kwargs)


def error(
    status: int, message: str, type_: str, code: Any = None, retry_after: str | None = None
) -> Reply:
    """An OpenAI-style error answer."""
    headers = [("Retry-After", retry_after)] if retry_after is not None else []
    return Reply(status=status, error=(message, type_, code), headers=headers)


def rate_limited(retry_after: str | None = "1") -> Reply:
    """429 as OpenAI sends it."""
    return error(
        429,
        "Rate limit reached for requests per min. Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
        retry_after,
    )


def overloaded(status: int = 503) -> Reply:
    """A 5xx answer."""
    return error(status, "The server is overloaded or not ready yet.", "server_error", None)


@dataclass
class Call:
    """A request the server received."""

    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]
    body: Any  # the parsed JSON body (None when it was not JSON)

    @property
    def user_text(self) -> str:
        """The content of the last user message ("" when there is none)."""
        messages = (self.body or {}).get("messages") or []
        users = [m.get("content", "") for m in messages if m.get("role") == "user"]
        return users[-1] if users else ""


_SCORE = re.compile(r"#score=([0-9.]+)")
_STATUS = re.compile(r"#status=([0-9]{3})")
_SLOW = re.compile(r"#slow=([0-9.]+)")


def judge_responder(call: Call) -> Reply:
    """Answers as a judge, steered by markers in the user message (see the module docstring)."""
    text = call.user_text
    status = _STATUS.search(text)
    if status:
        code = int(status.group(1))
        return overloaded(code) if code >= 500 else rate_limited("0")
    if "#malformed" in text:
        return Reply(content="这个回答还不错，我给 8 分。")
    delay = float(m.group(1)) if (m := _SLOW.search(text)) else 0.0
    score = float(m.group(1)) if (m := _SCORE.search(text)) else 7.0
    return verdict(score, delay=delay)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.server.owner.handle(self, Call(time.monotonic(), self.path, dict(self.headers), body))

    def do_GET(self) -> None:
        call = Call(time.monotonic(), self.path, dict(self.headers), None)
        self.server.owner.log_call(call)
        self.server.owner.send(
            self, error(405, "Method not allowed", "invalid_request_error"), call
        )

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: "FakeOpenAI"


class FakeOpenAI:
    """The server; use as a context manager. ``base_url`` is what a client is given.

    Args:
        api_key: when set, requests must carry ``Authorization: Bearer <api_key>``.
    """

    def __init__(self, api_key: str | None = None):
        self.api_key = api_key
        self.calls: list[Call] = []
        self.responder: Callable[[Call], Reply] = judge_responder
        self.max_in_flight = 0
        self._queue: list[Reply] = []
        self._in_flight = 0
        self._ids = 0
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = self._server.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def queue(self, *replies: Reply) -> None:
        """Replies for the next requests, in order (then the responder answers again)."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forgets the log and the in-flight maximum."""
        with self._lock:
            self.calls.clear()
            self.max_in_flight = 0

    def completions(self) -> list[Call]:
        """Requests to the chat-completions path, in arrival order."""
        with self._lock:
            return [c for c in self.calls if c.path == PATH]

    def log_call(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def handle(self, handler: BaseHTTPRequestHandler, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            reply = self._reply_for(call)
            if reply.delay:
                time.sleep(reply.delay)
            self.send(handler, reply, call)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _reply_for(self, call: Call) -> Reply:
        if call.path != PATH:
            return error(404, f"Unknown request URL: POST {call.path}", "invalid_request_error")
        if self.api_key is not None:
            auth = call.headers.get("Authorization", "")
            if auth != f"Bearer {self.api_key}":
                return error(
                    401,
                    "Incorrect API key provided.",
                    "invalid_request_error",
                    "invalid_api_key",
                )
        body = call.body
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("model"), str)
            or not isinstance(body.get("messages"), list)
            or not body["messages"]
        ):
            return error(400, "'messages' and 'model' are required", "invalid_request_error", None)
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
        return self.responder(call)

    def send(self, handler: BaseHTTPRequestHandler, reply: Reply, call: Call) -> None:
        if reply.body is not None:
            data = reply.body
        elif reply.status != 200 or reply.error is not None:
            message, type_, code = reply.error or ("error", "server_error", None)
            data = json.dumps({"error": {"message": message, "type": type_, "code": code}}).encode()
        else:
            data = json.dumps(self._completion(reply, call), ensure_ascii=False).encode("utf-8")
        try:
            handler.send_response(reply.status)
            handler.send_header("Content-Type", "application/json")
            for name, value in reply.headers:
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeouts)
            handler.close_connection = True

    def _completion(self, reply: Reply, call: Call) -> dict[str, Any]:
        with self._lock:
            self._ids += 1
            number = self._ids
        content = reply.content if reply.content is not None else ""
        messages = call.body["messages"]
        obj: dict[str, Any] = {
            "id": f"chatcmpl-fake{number:06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
        }
        if reply.usage is not False:
            if reply.usage is None:
                prompt = sum(len(str(m.get("content", ""))) for m in messages)
                completion = len(content)
            else:
                prompt, completion = reply.usage
            obj["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        return obj


# --- COIG-Kun stages (beam_cqia.transforms.kun) --------------------------------------------------

_KUN_TEXT = re.compile(r"<<<文字开始>>>\n(.*)\n<<<文字结束>>>", re.S)
_KUN_INSTRUCTION = re.compile(r"<<<指令开始>>>\n(.*)\n<<<指令结束>>>", re.S)
_KUN_REFERENCE = re.compile(r"<<<参考开始>>>\n(.*)\n<<<参考结束>>>", re.S)
_KUN_INS = re.compile(r"#ins=([^#]*)#")
_KUN_ANS = re.compile(r"#ans=([^#]*)#")
_KUN_MARKERS = re.compile(r"#(?:ins|ans|polish)=[^#]*#")


def kun_responder(call: Call) -> Reply:
    """Answers the three COIG-Kun prompts, steered by markers; other prompts as a judge.

    - back-translation (the text between <<<文字开始>>> and <<<文字结束>>>): ``#ins=<text>#`` ->
      that instruction; ``#ins=length#`` -> a cut answer (``finish_reason: length``); no
      marker -> "请介绍一下" and the text's first ten characters.
    - instruction grading (<<<指令开始>>>): ``@bad`` -> 【差】 with a reason; ``@garbled`` ->
      prose without a mark; ``@both`` -> both marks; ``@503`` -> HTTP 503 every time; otherwise
      【好】.
    - polishing (<<<参考开始>>>): ``#ans=<text>#`` -> that answer; ``#polish=length#`` -> a cut
      answer; otherwise the reference without markers.
    """
    text = call.user_text
    if m := _KUN_TEXT.search(text):
        raw = m.group(1)
        ins = _KUN_INS.search(raw)
        if ins and ins.group(1) == "length":
            return Reply(content="请详细介绍一下这个话题，并且", finish_reason="length")
        if ins:
            return Reply(content=ins.group(1))
        return Reply(content="请介绍一下" + _KUN_MARKERS.sub("", raw).strip()[:10])
    if m := _KUN_INSTRUCTION.search(text):
        instruction = m.group(1)
        if "@503" in instruction:
            return overloaded(503)
        if "@garbled" in instruction:
            return Reply(content="我觉得这条指令还可以，应该能用。")
        if "@both" in instruction:
            return Reply(content="【好】意图清楚。不过【差】，缺少背景。")
        if "@bad" in instruction:
            return Reply(content="【差】指令含义模糊，无法确定用户要什么。")
        return Reply(content="【好】指令清楚、完整，可以独立回答。")
    if m := _KUN_REFERENCE.search(text):
        reference = m.group(1)
        if "#polish=length#" in reference:
            return Reply(content="第一，", finish_reason="length")
        if ans := _KUN_ANS.search(reference):
            return Reply(content=ans.group(1))
        return Reply(content=_KUN_MARKERS.sub("", reference).strip())
    return judge_responder(call)
