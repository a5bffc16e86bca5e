"""Hostile values and configs: partition values and ids cannot write outside the output root,
templates cannot reach Python internals, the fetcher refuses private targets (also after DNS
changes its answer and after redirects), and API keys never appear in outputs or logs."""

import inspect
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import apache_beam as beam
import pyarrow.dataset as ds
import pytest
from apache_beam.runners.portability.fn_api_runner import FnApiRunner

from beam_cqia import cli, layout, prompts
from beam_cqia.records import CqiaRecord, RawDoc
from beam_cqia.transforms import (
    ExportCqiaJsonl,
    FetchUrls,
    RebuildFromTemplate,
    WriteCqiaParquet,
)
from beam_cqia.web.fetcher import FetchConfig, Fetched, Fetcher, Refused, user_agent_string
from beam_cqia.web.policy import AddressPolicy
from tests.conftest import REPO
from tests.factories import cqia_record, raw_doc
from tests.llm.fake_openai import FakeOpenAI
from tests.web.httpserver import Reply, TestServer, html, redirect

# ------------------------------------------------------------------ partition values and ids

HOSTILE = [
    "../../etc",
    "..",
    ".",
    "",
    "/abs/path",
    "a/b",
    "a\\b",
    "nul\x00byte",
    "line\nbreak",
    "C:\\Windows",
    "~root",
    "_2f",  # looks like an escape
    "__empty__",  # the empty value's name
    "subset=evil",
    "长" * 300,  # over any file-name limit
    "..%2f..%2f",
    "\u202eexe.txt",  # right-to-left override
]


def test_hostile_partition_values_and_ids_stay_inside_the_output_root(tmp_path):
    root = tmp_path / "root"
    out = root / "out"
    records = [
        cqia_record(f"r{i}", source="zhihu")._replace(
            subset=value, id=f"../../id/{i}\x00/" + value[:10]
        )
        for i, value in enumerate(HOSTILE)
    ]
    with beam.Pipeline(runner=FnApiRunner()) as p:
        docs = p | beam.Create(records).with_output_types(CqiaRecord)
        docs | "Write" >> WriteCqiaParquet(str(out), partition_by=["subset", "source"])
        docs | "Export" >> ExportCqiaJsonl(str(out / "jsonl"))

    # Nothing outside the output directory, nothing but regular files and directories in it.
    everything = sorted(tmp_path.rglob("*"))
    assert all(p == root or out in (p, *p.parents) for p in everything)
    assert not any(p.is_symlink() for p in everything)
    # Each hostile value is one directory level, and decodes back to the value (long ones are
    # cut and hashed, so they stay distinct but cannot be decoded).
    segments = {p.name for p in (out / "data").iterdir()}
    assert len(segments) == len(HOSTILE)
    for segment in segments:
        assert segment.startswith("subset=") and len(segment.encode()) <= 140
        assert "/" not in segment and "\x00" not in segment and segment not in (".", "..")
    decoded = {layout.decode_value(s[len("subset=") :]) for s in segments}
    assert decoded >= {v for v in HOSTILE if len(v.encode()) < 100}
    # Ids are data, never path parts; every record is read back with its id and subset.
    table = ds.dataset(out / "data", format="parquet").to_table()
    assert sorted(table.column("id").to_pylist()) == sorted(r.id for r in records)
    exported = list((out / "jsonl").rglob("*.jsonl"))
    assert len(exported) == len(HOSTILE)
    assert sum(len(p.read_text(encoding="utf-8").splitlines()) for p in exported) == len(HOSTILE)


# --------------------------------------------------------------------------- template sandbox

_FRONT = """{#---
description: a template that tries to leave the sandbox.
task_type: {major: [问答], minor: [测试]}
domain: [通用]
---#}
"""
EVIL = {
    "evil_globals.v1": "{{ cycler.__init__.__globals__.os.system('touch PWNED') }}",
    "evil_mro.v1": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "evil_format.v1": "{{ '{0.__class__.__init__.__globals__}'.format(title) }}",
    "evil_attr.v1": "{{ meta.__class__.__base__.__subclasses__() }}",
    "evil_import.v1": "{% import 'os' as os %}{{ os }}",
}


def _template(name: str, instruction: str) -> str:
    return (
        _FRONT
        + f"{{% block instruction_1 %}}{instruction}{{% endblock %}}\n"
        + "{% block output %}{{ answer }}{% endblock %}\n"
    )


def test_templates_cannot_reach_python_internals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where 'touch PWNED' would land
    folder = tmp_path / "templates"
    folder.mkdir()
    for name, body in EVIL.items():
        (folder / f"{name}.j2").write_text(_template(name, body), encoding="utf-8")
    (folder / "plain_qa.v1.j2").write_text(_template("plain", "{{ title }}"), encoding="utf-8")
    subsets = [*EVIL, "plain_qa.v1"]
    docs = [
        raw_doc(f"d{i}", source="zhihu", subset=f"s{i}", title="标题", answer="一个回答。")
        for i in range(len(subsets))
    ]
    # A record whose text is template syntax is data: it is copied, never evaluated.
    sneaky = "{{ 7*7 }}{% for x in ().__class__.__base__.__subclasses__() %}{{ x }}{% endfor %}"
    docs.append(raw_doc("d-data", source="zhihu", subset="s-data", title=sneaky, answer="回答。"))
    mapping = {f"s{i}": name for i, name in enumerate(subsets)} | {"s-data": "plain_qa.v1"}
    out = tmp_path / "out"
    with beam.Pipeline(runner=FnApiRunner()) as p:
        (
            p
            | beam.Create(docs).with_output_types(RawDoc)
            | "Rebuild" >> RebuildFromTemplate(templates=mapping, template_dir=str(folder))
            | WriteCqiaParquet(str(out))
        )
    assert not (tmp_path / "PWNED").exists()
    errors = ds.dataset(out / "errors", format="parquet", partitioning="hive").to_table()
    errors = errors.to_pylist()
    assert sorted(e["subset"] for e in errors) == sorted(f"s{i}" for i in range(len(EVIL)))
    assert {(e["stage"], e["kind"]) for e in errors} == {("Rebuild", "TemplateError")}
    reasons = {e["subset"]: e["msg"] for e in errors}
    for i, name in enumerate(EVIL):  # named, with the sandbox's reason
        assert name in reasons[f"s{i}"]
        assert "is unsafe" in reasons[f"s{i}"] or "no loader" in reasons[f"s{i}"], reasons
    data = ds.dataset(out / "data", format="parquet", partitioning="hive").to_table().to_pylist()
    by_subset = {r["subset"]: r["instruction"] for r in data}
    assert by_subset == {f"s{len(EVIL)}": "标题", "s-data": sneaky}


def test_llm_prompts_cannot_reach_python_internals():
    source = (
        "{#---\ndescription: evil\nvariables: [instruction]\nparser: score_json\n---#}\n"
        "{% block user %}{{ instruction.__class__.__mro__[1].__subclasses__() }}{% endblock %}\n"
    )
    prompt = prompts.ChatPrompt("evil_prompt.v1", source)
    with pytest.raises(Exception) as failure:
        prompt.render({"instruction": "x"})
    assert "unsafe" in str(failure.value) or type(failure.value).__name__ == "SecurityError"


# ------------------------------------------------------------------------------ URL fetcher

UA = user_agent_string("beam-cqia/0.1.0", "https://example.org/crawler")
FAST = {"min_interval_seconds": 0.0, "backoff_seconds": 0.02, "timeout_seconds": 2.0}


def test_private_targets_are_refused_by_default():
    assert inspect.signature(FetchUrls).parameters["allow_private"].default is False
    assert AddressPolicy().allow_private is False
    with TestServer() as server, Fetcher(FetchConfig(user_agent=UA, **FAST), AddressPolicy()) as f:
        server.routes["/a"] = html("<p>secret</p>")
        outcome = f.fetch(server.url("/a"))
        assert isinstance(outcome, Refused) and outcome.reason == "blocked_address"
        assert server.log == []


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False


@pytest.mark.parametrize("honest_answers", [1, 2, 3])
def test_dns_rebinding_cannot_reach_a_private_address(honest_answers):
    """The name resolves to an allowed address (127.0.0.2 stands for a public one) for the
    first ``honest_answers`` lookups, then to a private one (127.0.0.1, same port). Whenever
    the answer changes, the fetcher connects to the address it checked or refuses: the private
    server never sees a request."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"secret")

        def log_message(self, *args) -> None:
            pass

    with TestServer("127.0.0.2") as public:
        public.routes["/robots.txt"] = Reply(404)
        public.routes["/page"] = html("<p>public page</p>")
        public.routes["/to-metadata"] = redirect("http://169.254.169.254/latest/meta-data/")
        private = _Recorder(("127.0.0.1", public.port), Handler)
        threading.Thread(target=private.serve_forever, daemon=True).start()
        calls: list[str] = []

        def rebinding(host: str, port: int) -> list[str]:
            calls.append(host)
            return ["127.0.0.2"] if len(calls) <= honest_answers else ["127.0.0.1"]

        policy = AddressPolicy(allow_networks=["127.0.0.2/32"], resolver=rebinding)
        try:
            with Fetcher(FetchConfig(user_agent=UA, **FAST), policy) as f:
                page = f.fetch(f"http://rebind.test:{public.port}/page")
                metadata = f.fetch(public.url("/to-metadata"))
        finally:
            private.shutdown()
            private.server_close()
    assert seen == []
    assert calls, "the resolver was never asked"
    if isinstance(page, Fetched):  # connected to the checked address...
        assert page.exchange.ip == "127.0.0.2" and page.exchange.body == b"<p>public page</p>"
    else:  # ...or saw the private answer (for the page or its robots.txt) and refused
        assert page.reason in ("blocked_address", "robots_disallowed"), page
        assert "127.0.0.1: loopback" in page.detail
    assert metadata.reason == "blocked_address" and "link-local" in metadata.detail


# ------------------------------------------------------------------------------------ secrets

SPEC = """
pipeline:
  transforms:
    - {type: ReadCrawl, name: ReadZhihu, config: {path: "{{ input }}/zhihu/*.jsonl", source: zhihu}}
    - {type: NormalizeText, input: ReadZhihu}
    - {type: RebuildFromTemplate, input: NormalizeText, config: {templates: {zhihu: zhihu_qa.v1}}}
    - type: JudgeWithLLM
      input: RebuildFromTemplate
      config:
        base_url: "{{ base_url }}"
        model: judge-7b
        api_key_env: CQIA_SECRET_TEST_KEY
        cache: "{{ output }}-cache"
        max_retries: 1
        backoff_seconds: 0.01
    - {type: WriteCqiaParquet, input: JudgeWithLLM, config: {path: "{{ output }}"}}
"""
KEY = "sk-cqia-Zq8v3XkT0pLr5mWn2bYc7aHd"
KEY_FROM_FILE = "sk-cqia-file-Fw9Jt4Qe6Ru1Ys3Uo8Ip"


def _files_holding(root: Path, secrets: tuple[str, ...]) -> list[str]:
    hits = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            hits += [f"{path}: {s[:10]}..." for s in secrets if s.encode() in data]
    return hits


def test_api_keys_never_reach_outputs_caches_reports_or_logs(tmp_path, monkeypatch, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    spec = tmp_path / "judge.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    data = REPO / "beam_cqia" / "demo" / "data"
    out = tmp_path / "out"
    monkeypatch.setenv("CQIA_SECRET_TEST_KEY", KEY)
    with FakeOpenAI(api_key=KEY) as server:  # the server checks the key: it was sent
        args = ["run", str(spec), "--var", f"input={data}", "--var", f"output={out}"]
        assert cli.main([*args, "--var", f"base_url={server.base_url}"]) == 0
        sent = {c.headers.get("Authorization") for c in server.completions()}
    assert sent == {f"Bearer {KEY}"}
    scored = ds.dataset(out / "data", format="parquet").to_table().to_pylist()
    assert scored and all("llm.score" in dict(r["signals"]) for r in scored)
    # Outputs (Parquet, manifest, dataset card, report page) and the request cache.
    assert (out / "_manifest.json").exists() and (tmp_path / "out-cache").is_dir()
    assert _files_holding(tmp_path, (KEY,)) == []
    captured = capfd.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "JudgeWithLLM" in logs  # the funnel and the logs were captured
    assert KEY not in logs


def test_api_keys_from_a_secret_file_stay_out_of_failures_and_logs(tmp_path, caplog):
    from beam_cqia.llm import ChatClient, ClientConfig

    caplog.set_level(logging.DEBUG)
    key_file = tmp_path / "secret"
    key_file.write_text(KEY_FROM_FILE + "\n")
    config = ClientConfig(
        base_url="http://127.0.0.1:9/v1", model="judge-7b", api_key_env="CQIA_SECRET_TEST_KEY"
    )
    with FakeOpenAI(api_key="sk-the-right-one") as server:
        client = ChatClient(
            ClientConfig(**{**config.__dict__, "base_url": server.base_url, "max_retries": 0}),
            environ={"CQIA_SECRET_TEST_KEY_FILE": str(key_file)},
        )
        try:
            failure = client.complete([{"role": "user", "content": "你好"}])
        finally:
            client.close()
        sent = {c.headers.get("Authorization") for c in server.completions()}
    assert sent == {f"Bearer {KEY_FROM_FILE}"}  # read from the file, stripped
    assert failure.kind == "HTTPError" and failure.status == 401
    shown = " ".join([repr(failure), repr(client), repr(config), caplog.text])
    assert KEY_FROM_FILE not in shown
    with pytest.raises(ValueError, match="CQIA_SECRET_TEST_KEY_FILE") as missing:
        ChatClient(config, environ={"CQIA_SECRET_TEST_KEY_FILE": str(tmp_path / "nope")})
    assert KEY_FROM_FILE not in str(missing.value)
