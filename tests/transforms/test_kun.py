"""COIG-Kun stages on FnApiRunner against a scripted OpenAI-compatible server on loopback.

The fake server's ``kun_responder`` answers each Kun prompt from markers in our own Chinese
texts: ``#ins=...#`` is the instruction the label model writes, ``@bad``/``@garbled`` steer the
instruction grade, ``#ans=...#`` is the polished answer (see tests/llm/fake_openai.py).
"""

import json
import re

import apache_beam as beam
import pyarrow.dataset as ds
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia import cli, report
from beam_cqia.prompts import load_chat_prompt
from beam_cqia.records import CqiaRecord, RawDoc
from beam_cqia.transforms import (
    BacktranslateInstructions,
    FilterByScore,
    FilterContextDependent,
    FilterPolishedAnswers,
    PolishAnswers,
    ScoreInstructions,
    ledger_stages,
    stage_outputs,
)
from tests.conftest import REPO, counters, new_pipeline
from tests.factories import cqia_record, raw_doc
from tests.llm.fake_openai import FakeOpenAI, kun_responder, overloaded, rate_limited

MODEL = "kun-label-7b"
TEA = (
    "泡绿茶宜用八十度左右的水：先温杯，再投茶，沿杯壁注水，静置一两分钟后即可品饮，茶汤清亮不苦涩。"
)
MELON = (
    "挑西瓜先看纹路，纹路清晰、间距宽的通常更熟；"
    "再拍一拍，声音清脆的水分足，底部发黄的是晒足了太阳的。"
)


@pytest.fixture
def server():
    with FakeOpenAI() as srv:
        srv.responder = kun_responder
        yield srv


def llm(server: FakeOpenAI, **settings) -> dict:
    return {"base_url": server.base_url, "model": MODEL, "backoff_seconds": 0.01, **settings}


def doc(name: str, body: str) -> RawDoc:
    return raw_doc(name, source="text", body=body, meta={"file": "kun.txt"})


# name -> (raw text, what happens to it)
DOCS = {
    "tea": (f"{TEA}#ins=如何泡一壶好喝的绿茶？# #ans={TEA}#", "kept"),
    "plain": ("西湖位于杭州城西，三面环山，湖中有白堤和苏堤，是著名的风景名胜区。", "kept"),
    "context": (f"{MELON}#ins=请总结这篇文章的主要观点。#", "context_dependent"),
    "badins": (f"{MELON}#ins=随便说点什么@bad#", "instruction_not_good"),
    "garbled": (f"{MELON}#ins=介绍一下挑西瓜@garbled#", "VerdictError"),
    "banned": (
        f"{MELON}#ins=怎样挑西瓜？# #ans=作为一个AI语言模型，我认为{MELON}#",
        "banned_phrase",
    ),
    "echo": (
        f"{MELON}#ins=怎样挑选一个又甜又熟的西瓜？# #ans=怎样挑选一个又甜又熟的西瓜？{MELON}#",
        "repeats_instruction",
    ),
    "short": (f"{MELON}#ins=怎样挑西瓜呢？# #ans=看纹路。#", "answer_too_short"),
    "cutans": (f"{MELON}#ins=挑西瓜有什么诀窍？# #polish=length#", "answer_truncated"),
    "cutins": (f"{MELON}#ins=length#", "instruction_too_long"),
    "empty": ("", "empty_text"),
    "tiny": ("太短了。", "text_too_short"),
    "long": ("很长的文字。" * 100, "text_too_long"),
}
RECORDS = [doc(name, body) for name, (body, _) in DOCS.items()]
NAMES = {d.id: name for d, name in zip(RECORDS, DOCS, strict=True)}


def kun_chain(server: FakeOpenAI, cache: str | None = None, **overrides) -> tuple:
    p = new_pipeline()
    out = (
        p
        | beam.Create(RECORDS).with_output_types(RawDoc)
        | "Backtranslate"
        >> BacktranslateInstructions(
            **llm(server, cache=cache, batch_size=4, concurrency=2, max_chars=300)
        )
        | "Context" >> FilterContextDependent()
        | "Score" >> ScoreInstructions(**llm(server, cache=cache, batch_size=4))
        | "Polish" >> PolishAnswers(**llm(server, cache=cache, batch_size=3))
        | "Output" >> FilterPolishedAnswers()
    )
    return p, out


_KEY = re.compile(r"llm=[0-9a-f]{64}")


def _ids(pcoll, label):
    return pcoll | label >> beam.Map(lambda r: r.id)


def run_chain(server: FakeOpenAI, cache: str | None = None) -> dict:
    p, out = kun_chain(server, cache)
    stages = ledger_stages(p)
    assert [s.name for s in stages] == ["Backtranslate", "Context", "Score", "Polish", "Output"]
    # conservation: every input id exactly once across the output, rejected and errors
    parts = [_ids(out, "OutIds")]
    for s in stages:
        parts.append(_ids(s.rejected, f"Rej{s.name}"))
        parts.append(_ids(s.errors, f"Err{s.name}"))
    assert_that(
        parts | "AllIds" >> beam.Flatten(),
        equal_to([d.id for d in RECORDS]),
        label="conservation",
    )
    assert_that(
        out
        | beam.Map(lambda r: (NAMES[r.id], r.instruction, r.output, r.answer_from, r.template_id)),
        equal_to(
            [
                ("tea", "如何泡一壶好喝的绿茶？", TEA, "llm", "kun_backtranslate.v1"),
                (
                    "plain",
                    "请介绍一下西湖位于杭州城西，三",
                    DOCS["plain"][0],
                    "llm",
                    "kun_backtranslate.v1",
                ),
            ]
        ),
        label="kept",
    )
    assert_that(
        out
        | "Signals"
        >> beam.Map(
            # the lineage names each LLM request by its cache key (hidden here: a sha256)
            lambda r: (NAMES[r.id], dict(r.signals), [_KEY.sub("llm=<key>", e) for e in r.lineage])
        ),
        equal_to(
            [
                (
                    "tea",
                    {
                        "kun.instruction_good": 1.0,
                        "kun.original_chars": float(len(DOCS["tea"][0])),
                        "kun.polished_chars": float(len(TEA)),
                    },
                    [
                        "Backtranslate:kun_backtranslate.v1,llm=<key>",
                        "Score:llm=<key>",
                        "Polish:kun_polish.v1,llm=<key>",
                        f"Polish:original={DOCS['tea'][0]}",
                    ],
                ),
                (
                    "plain",
                    {
                        "kun.instruction_good": 1.0,
                        "kun.original_chars": float(len(DOCS["plain"][0])),
                        "kun.polished_chars": float(len(DOCS["plain"][0])),
                    },
                    [
                        "Backtranslate:kun_backtranslate.v1,llm=<key>",
                        "Score:llm=<key>",
                        "Polish:kun_polish.v1,llm=<key>",
                        f"Polish:original={DOCS['plain'][0]}",
                    ],
                ),
            ]
        ),
        label="signals",
    )
    assert_that(
        [s.rejected for s in stages]
        | "Rejected" >> beam.Flatten()
        | beam.Map(lambda r: (NAMES[r.id], r.stage, r.reason)),
        equal_to(
            [
                ("context", "Context", "context_dependent"),
                ("badins", "Score", "instruction_not_good"),
                ("banned", "Output", "banned_phrase"),
                ("echo", "Output", "repeats_instruction"),
                ("short", "Output", "answer_too_short"),
                ("cutans", "Polish", "answer_truncated"),
                ("cutins", "Backtranslate", "instruction_too_long"),
                ("empty", "Backtranslate", "empty_text"),
                ("tiny", "Backtranslate", "text_too_short"),
                ("long", "Backtranslate", "text_too_long"),
            ]
        ),
        label="rejected",
    )
    assert_that(
        [s.errors for s in stages]
        | "Errors" >> beam.Flatten()
        | beam.Map(lambda e: (NAMES[e.id], e.stage, e.kind, "我觉得这条指令还可以" in e.msg)),
        equal_to([("garbled", "Score", "VerdictError", True)]),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    return {
        name: counters(result, f"beam_cqia.{kind}")
        for name, kind in (
            ("bt", "BacktranslateInstructions"),
            ("ctx", "FilterContextDependent"),
            ("score", "ScoreInstructions"),
            ("polish", "PolishAnswers"),
            ("out", "FilterPolishedAnswers"),
        )
    }


def _without_tokens(values: dict) -> dict:
    return {k: v for k, v in values.items() if not k.endswith("_tokens")}


def test_the_kun_chain_end_to_end_and_a_rerun_from_the_cache(server, tmp_path):
    cache = str(tmp_path / "llm-cache")
    first = run_chain(server, cache)
    calls = server.completions()
    # 10 of 13 texts to label (3 rejected before asking), 8 instructions, 6 answers to polish
    assert len(calls) == 10 + 8 + 6
    assert all(c.body["model"] == MODEL and c.body["temperature"] == 0.0 for c in calls)
    assert sorted({c.body["max_tokens"] for c in calls}) == [128, 256, 1024]
    assert first["bt"]["prompt_tokens"] > 0 and first["polish"]["completion_tokens"] > 0
    assert _without_tokens(first["bt"]) == {
        "seen": 13,
        "passed": 9,
        "requests": 10,
        "filtered:instruction_too_long": 1,
        "filtered:empty_text": 1,
        "filtered:text_too_short": 1,
        "filtered:text_too_long": 1,
    }
    assert first["ctx"] == {"seen": 9, "passed": 8, "filtered:context_dependent": 1}
    assert _without_tokens(first["score"]) == {
        "seen": 8,
        "passed": 6,
        "requests": 8,
        "errors": 1,
        "filtered:instruction_not_good": 1,
    }
    assert _without_tokens(first["polish"]) == {
        "seen": 6,
        "passed": 5,
        "requests": 6,
        "filtered:answer_truncated": 1,
    }
    assert first["out"] == {
        "seen": 5,
        "passed": 2,
        "filtered:banned_phrase": 1,
        "filtered:repeats_instruction": 1,
        "filtered:answer_too_short": 1,
        "failed:banned_phrase": 1,
        "failed:repeats_instruction": 1,
        "failed:answer_too_short": 1,
    }

    server.reset()
    again = run_chain(server, cache)  # the same records, rejections and errors, asserted inside
    assert server.completions() == []
    assert again["bt"]["cache_hits"] == 10 and "requests" not in again["bt"]
    assert again["score"]["cache_hits"] == 8 and again["polish"]["cache_hits"] == 6
    assert not any(k.endswith("_tokens") for c in again.values() for k in c)


def test_prompts_carry_the_text_and_the_instruction(server):
    p = new_pipeline()
    _ = (
        p
        | beam.Create([doc("tea", DOCS["tea"][0])]).with_output_types(RawDoc)
        | BacktranslateInstructions(**llm(server))
        | ScoreInstructions(**llm(server))
        | PolishAnswers(**llm(server))
    )
    p.run().wait_until_finish()
    label, grade, polish = (c.body["messages"] for c in server.completions())
    assert label[0]["role"] == "system" and "反推" in label[0]["content"]
    assert f"<<<文字开始>>>\n{DOCS['tea'][0]}\n<<<文字结束>>>" in label[1]["content"]
    assert "<<<指令开始>>>\n如何泡一壶好喝的绿茶？\n<<<指令结束>>>" in grade[1]["content"]
    assert TEA not in grade[1]["content"]  # the grader never sees the answer
    assert "【用户指令】\n如何泡一壶好喝的绿茶？" in polish[1]["content"]
    assert f"<<<参考开始>>>\n{DOCS['tea'][0]}\n<<<参考结束>>>" in polish[1]["content"]


def test_429_and_500_are_retried(server):
    server.queue(rate_limited("0"), overloaded(500))
    docs = [doc("tea", DOCS["tea"][0]), doc("plain", DOCS["plain"][0])]
    p = new_pipeline()
    out = (
        p
        | beam.Create(docs).with_output_types(RawDoc)
        | "Backtranslate" >> BacktranslateInstructions(**llm(server, max_retries=2))
    )
    assert_that(out | beam.Map(lambda r: r.id), equal_to([d.id for d in docs]))
    result = p.run()
    result.wait_until_finish()
    statuses = len(server.completions())
    assert statuses == 4  # two answers after a 429 and a 500
    values = counters(result, "beam_cqia.BacktranslateInstructions")
    assert values["requests"] == 4 and values["passed"] == 2 and "errors" not in values


def test_requests_failing_after_retries_go_to_errors(server):
    records = [
        cqia_record("down", instruction="如何挑西瓜？@503"),
        cqia_record("fine", instruction="如何挑西瓜？"),
    ]
    names = {r.id: n for r, n in zip(records, ("down", "fine"), strict=True)}
    p = new_pipeline()
    out = (
        p
        | beam.Create(records).with_output_types(CqiaRecord)
        | "Score"
        >> ScoreInstructions(**llm(server, max_retries=1), error_handling={"output": "errors"})
    )
    assert set(out) == {"good", "errors"}
    assert_that(out["good"] | beam.Map(lambda r: names[r.id]), equal_to(["fine"]), label="good")
    assert_that(
        out["errors"] | beam.Map(lambda e: (names[e.id], e.kind, "2 of 2" in e.msg)),
        equal_to([("down", "HTTPError", True)]),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.ScoreInstructions")["requests"] == 3


def test_a_verdict_with_both_marks_is_an_error_never_a_default(server):
    record = cqia_record("both", instruction="介绍一下西湖@both")
    p = new_pipeline()
    _ = (
        p
        | beam.Create([record]).with_output_types(CqiaRecord)
        | "Score" >> ScoreInstructions(**llm(server))
    )
    errors = stage_outputs(p, "Score").errors
    assert_that(
        errors | beam.Map(lambda e: (e.kind, "expected one verdict mark, got 2" in e.msg)),
        equal_to([("VerdictError", True)]),
    )
    p.run().wait_until_finish()


def test_without_reject_the_verdict_is_a_signal_for_filter_by_score(server):
    records = [
        cqia_record("good", instruction="如何挑西瓜？"),
        cqia_record("bad", instruction="随便说点@bad"),
    ]
    names = {r.id: n for r, n in zip(records, ("good", "bad"), strict=True)}
    p = new_pipeline()
    scored = (
        p
        | beam.Create(records).with_output_types(CqiaRecord)
        | "Score" >> ScoreInstructions(**llm(server), reject=False)
    )
    assert_that(
        scored | beam.Map(lambda r: (names[r.id], r.signals["kun.instruction_good"])),
        equal_to([("good", 1.0), ("bad", 0.0)]),
        label="scored",
    )
    kept = scored | "Filter" >> FilterByScore(
        rules=[{"signal": "kun.instruction_good", "min": 1, "name": "instruction_not_good"}]
    )
    assert_that(kept | "Kept" >> beam.Map(lambda r: names[r.id]), equal_to(["good"]), label="k")
    assert_that(
        stage_outputs(p, "Filter").rejected
        | beam.Map(lambda r: (names[r.id], r.reason, r.signals["kun.instruction_good"])),
        equal_to([("bad", "instruction_not_good", 0.0)]),
        label="rejected",
    )
    p.run().wait_until_finish()


def test_overlong_texts_can_be_truncated_instead_of_rejected(server):
    long_text = "第一句讲西湖的位置。" * 10 + "最后一句讲苏堤。"
    record = cqia_record("long", instruction="介绍一下西湖。", output=long_text)
    p = new_pipeline()
    out = (
        p
        | beam.Create([record]).with_output_types(CqiaRecord)
        | PolishAnswers(**llm(server), max_chars=45, overlong="truncate", keep_original=False)
    )
    assert_that(
        out | beam.Map(lambda r: (r.output, r.signals["kun.text_truncated"], len(r.lineage))),
        equal_to([("第一句讲西湖的位置。" * 4, 1.0, 1)]),
    )
    p.run().wait_until_finish()


def test_the_context_filter_tags_and_does_not_delete():
    records = [
        cqia_record("ctx", instruction="根据上文，作者的观点是什么？"),
        cqia_record("own", instruction="为什么天空是蓝色的？"),
        cqia_record("extra", instruction="参见附录三，列出全部条目。"),
    ]
    names = {r.id: n for r, n in zip(records, ("ctx", "own", "extra"), strict=True)}
    p = new_pipeline()
    out = (
        p
        | beam.Create(records).with_output_types(CqiaRecord)
        | "Context" >> FilterContextDependent(extra_phrases=["参见附录"])
    )
    assert_that(out | beam.Map(lambda r: names[r.id]), equal_to(["own"]), label="kept")
    assert_that(
        stage_outputs(p, "Context").rejected
        | beam.Map(lambda r: (names[r.id], r.reason, r.detail, json.loads(r.record)["id"])),
        equal_to(
            [
                ("ctx", "context_dependent", "instruction refers to 根据上文", records[0].id),
                ("extra", "context_dependent", "instruction refers to 参见附录", records[2].id),
            ]
        ),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.FilterContextDependent") == {
        "seen": 3,
        "passed": 1,
        "filtered:context_dependent": 2,
    }


def test_the_output_filter_names_every_failed_rule():
    records = [
        cqia_record("multi", instruction="如何泡茶？", output="抱歉，我无法回答。"),
        cqia_record("rep", instruction="如何泡茶？", output="好好好好好好好好" + TEA),
        cqia_record("fine", instruction="如何泡茶？", output=TEA),
    ]
    names = {r.id: n for r, n in zip(records, ("multi", "rep", "fine"), strict=True)}
    p = new_pipeline()
    out = (
        p
        | beam.Create(records).with_output_types(CqiaRecord)
        | "Output" >> FilterPolishedAnswers(extra_banned_phrases=["绿茶汤"])
    )
    assert_that(out | beam.Map(lambda r: names[r.id]), equal_to(["fine"]), label="kept")
    assert_that(
        stage_outputs(p, "Output").rejected
        | beam.Map(lambda r: (names[r.id], r.reason, r.reasons)),
        equal_to(
            [
                ("multi", "banned_phrase", ["banned_phrase", "answer_too_short"]),
                ("rep", "repeated_opening", ["repeated_opening"]),
            ]
        ),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    values = counters(result, "beam_cqia.FilterPolishedAnswers")
    assert values["filtered:banned_phrase"] == 1 and values["failed:answer_too_short"] == 1


def test_a_template_dir_overrides_a_packaged_prompt(server, tmp_path):
    (tmp_path / "kun_backtranslate.v1.j2").write_text(
        "{#---\nvariables: [text]\nrequires: [text]\nparser: instruction_text\n---#}\n"
        "{% block user %}给这段话配一个问题：\n<<<文字开始>>>\n{{ text }}\n<<<文字结束>>>"
        "{% endblock %}",
        encoding="utf-8",
    )
    p = new_pipeline()
    _ = (
        p
        | beam.Create([doc("tea", DOCS["tea"][0])]).with_output_types(RawDoc)
        | BacktranslateInstructions(**llm(server), template_dir=str(tmp_path))
    )
    p.run().wait_until_finish()
    [call] = server.completions()
    assert [m["role"] for m in call.body["messages"]] == ["user"]
    assert call.body["messages"][0]["content"].startswith("给这段话配一个问题：")


def test_the_packaged_prompts_parse_and_render():
    for name, variables, parser in (
        ("kun_backtranslate.v1", ["text"], "instruction_text"),
        ("kun_score_instruction.v1", ["instruction"], "good_bad"),
        ("kun_polish.v1", ["instruction", "text"], "answer_text"),
    ):
        prompt = load_chat_prompt(name)
        assert (prompt.variables, prompt.requires, prompt.parser) == (variables, variables, parser)
        messages = prompt.render(dict.fromkeys(variables, "西湖"))
        assert [m["role"] for m in messages] == ["system", "user"]


@pytest.mark.parametrize(
    ("transform", "settings", "message"),
    [
        (BacktranslateInstructions, {"prompt": "judge_cqia.v1"}, "reads answers with parser"),
        (BacktranslateInstructions, {"prompt": "kun_backtranslate.v9"}, "unknown LLM prompt"),
        (BacktranslateInstructions, {"task_major": ["闲聊"]}, "not in the closed list"),
        (BacktranslateInstructions, {"min_chars": 50, "max_chars": 10}, "min_chars 50 > max"),
        (BacktranslateInstructions, {"text_fields": []}, "text_fields must be a list"),
        (BacktranslateInstructions, {"answer_from": "gpt"}, "answer_from must be"),
        (BacktranslateInstructions, {"concurrency": 0}, "concurrency must be >= 1"),
        (ScoreInstructions, {"prompt": "kun_polish.v1"}, "unknown verdict parser 'answer_text'"),
        (ScoreInstructions, {"prompt": "judge_cqia.v1"}, "exactly the variable instruction"),
        (ScoreInstructions, {"reject": "yes"}, "reject must be true or false"),
        (ScoreInstructions, {"cache": "gs://b/c.sqlite"}, "SQLite caches must be local"),
        (PolishAnswers, {"overlong": "cut"}, "overlong must be one of"),
        (PolishAnswers, {"max_tokens": 0}, "max_tokens must be an integer >= 1"),
        (PolishAnswers, {"batch_size": 0}, "batch_size must be an integer >= 1"),
        (PolishAnswers, {"error_handling": {"out": "x"}}, "error_handling"),
    ],
)
def test_config_errors_are_raised_when_the_pipeline_is_built(transform, settings, message):
    values = {"base_url": "http://127.0.0.1:9/v1", "model": MODEL, **settings}
    with pytest.raises(ValueError, match=message):
        transform(**values)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"banned_phrases": "抱歉"}, "banned_phrases must be a list"),
        ({"min_chars": -1}, "min_chars must be an integer >= 0"),
        ({"repeat_similarity": 0}, "repeat_similarity must be a number > 0"),
        ({"output_field": ""}, "output_field must name a record field"),
    ],
)
def test_output_filter_config_errors(settings, message):
    with pytest.raises(ValueError, match=message):
        FilterPolishedAnswers(**settings)


def test_fields_must_exist_on_the_record_type(server):
    p = new_pipeline()
    docs = p | beam.Create([doc("tea", TEA)]).with_output_types(RawDoc)
    with pytest.raises(ValueError, match=r"fields \['instruction'\] are not fields of RawDoc"):
        _ = docs | FilterContextDependent()
    with pytest.raises(ValueError, match=r"fields \['output'\] are not fields of RawDoc"):
        _ = docs | "Bt" >> BacktranslateInstructions(**llm(server), text_fields=["output"])


# --- pipelines/kun.yaml through the CLI -----------------------------------------------------------

CORPUS = [
    f"{TEA}#ins=如何泡一壶好喝的绿茶？# #ans={TEA}#",
    f"{TEA}#ins=如何泡一壶好喝的绿茶？# #ans={TEA}#",  # an exact duplicate
    "西湖位于杭州城西，三面环山，湖中有白堤和苏堤，是著名的风景名胜区。",
    f"{MELON}#ins=请总结这篇文章的主要观点。#",
    f"{MELON}#ins=随便说点什么@bad#",
    f"{MELON}#ins=怎样挑西瓜？# #ans=很抱歉，我无法回答这个问题，{MELON}#",
    "太短了。",
]


def test_the_kun_spec_runs_through_the_cli(server, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "part-1.txt").write_text("\n".join(CORPUS[:4]) + "\n", encoding="utf-8")
    (corpus / "part-2.txt").write_text("\n".join(CORPUS[4:]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    argv = [
        "run",
        str(REPO / "pipelines" / "kun.yaml"),
        "--var",
        f"input={corpus}/*.txt",
        "--var",
        f"output={out}",
        "--var",
        f"base_url={server.base_url}",
        "--var",
        f"model={MODEL}",
    ]
    assert cli.main(argv) == 0
    manifest = report.read_manifest(str(out))
    assert report.conservation_problems(manifest) == []
    stages = manifest["stages"]
    assert stages["ReadCrawl"]["out"] == 7
    assert stages["DedupExact"]["rejected"] == {"duplicate": 1}
    assert stages["BacktranslateInstructions"]["rejected"] == {"text_too_short": 1}
    assert stages["FilterContextDependent"]["rejected"] == {"context_dependent": 1}
    assert stages["ScoreInstructions"]["rejected"] == {"instruction_not_good": 1}
    assert stages["FilterPolishedAnswers"]["rejected"] == {"banned_phrase": 1}
    assert stages["TagSchema"]["out"] == 2
    data = ds.dataset(out / "data", format="parquet", partitioning="hive").to_table().to_pylist()
    assert sorted(r["instruction"] for r in data) == [
        "如何泡一壶好喝的绿茶？",
        "请介绍一下西湖位于杭州城西，三",
    ]
    assert all(r["answer_from"] == "llm" and r["domain"] == ["通用"] for r in data)
    assert all(r["task_type"] == {"major": ["问答"], "minor": ["指令回译"]} for r in data)
    tea = next(r for r in data if r["instruction"].startswith("如何泡"))
    assert tea["output"] == TEA and tea["template_id"] == "kun_backtranslate.v1"
    requests = len(server.completions())
    assert requests == 5 + 4 + 3
    assert (tmp_path / "out-llm-cache").is_dir()

    server.reset()
    assert cli.main([*argv[:5], f"output={tmp_path / 'again'}", *argv[6:]]) == 0
    assert len(server.completions()) == requests  # a new cache: asked again

    server.reset()
    rerun = tmp_path / "out"
    assert cli.main(argv) == 0  # the same output: every answer from its cache
    assert server.completions() == []
    assert report.read_manifest(str(rerun))["stages"]["TagSchema"]["out"] == 2
