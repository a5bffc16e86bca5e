"""TagSchema domain placement: subject tables, keyword rules, the fastText model, modes."""

import json
import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import CqiaRecord
from beam_cqia.transforms import TagSchema, stage_outputs
from beam_cqia.transforms.tagging import CONFIDENCE_SIGNAL
from tests.conftest import counters, new_pipeline
from tests.factories import cqia_record

SOURCES = {"*": {"answer_from": "human", "domain": ["通用"]}}

PHYSICS_EXAM = cqia_record("p1", source="cmmlu", domain=["高中物理"])
DEPARTMENT = cqia_record("m1", source="medical", domain=["医疗", "消化科"])
HISTORY_QA = cqia_record(
    "h1",
    instruction="洋务运动为什么没有让清朝富强？",
    output="鸦片战争之后清朝开始学习西方技术，但洋务运动没有改变封建制度。",
)
NOTHING = cqia_record("n1", instruction="你好呀", output="你好，有什么可以帮你？")
NO_DOMAIN = cqia_record("d1", source="exam", domain=[])
FREE_FORM = cqia_record("f1", source="segmentfault", domain=["javascript"])
RECORDS = [PHYSICS_EXAM, DEPARTMENT, HISTORY_QA, NOTHING, NO_DOMAIN, FREE_FORM]


def _run(records, **config):
    p = new_pipeline()
    out = (
        p
        | beam.Create(records).with_output_types(CqiaRecord)
        | "Tag" >> TagSchema(sources=SOURCES, **config)
    )
    return p, out


def _view(r):
    return (r.id, r.domain, r.signals.get(CONFIDENCE_SIGNAL), r.lineage)


def test_fill_places_only_records_with_an_empty_or_fallback_domain():
    p, out = _run(RECORDS, domains={"mode": "fill"})
    assert_that(
        out | beam.Map(_view),
        equal_to(
            [
                (PHYSICS_EXAM.id, ["高中物理"], None, ["Tag"]),
                (DEPARTMENT.id, ["医疗", "消化科"], None, ["Tag"]),
                (
                    HISTORY_QA.id,
                    ["历史"],
                    1.0,
                    ["Tag:domain=keyword:历史[洋务运动,清朝,鸦片战争,封建]", "Tag"],
                ),
                (NOTHING.id, ["通用"], None, ["Tag"]),
                (NO_DOMAIN.id, ["通用"], None, ["Tag"]),  # no keyword: the fallback
                (FREE_FORM.id, ["javascript"], None, ["Tag"]),
            ]
        ),
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.TagSchema") == {
        "seen": 6,
        "passed": 6,
        "domain:keyword": 1,
        "domain:unplaced": 2,
    }


def test_add_appends_and_replace_canonicalizes():
    p, out = _run(RECORDS, domains={"mode": "add"})
    assert_that(
        out | beam.Map(lambda r: (r.id, r.domain)),
        equal_to(
            [
                (PHYSICS_EXAM.id, ["高中物理", "物理"]),
                (DEPARTMENT.id, ["医疗", "消化科"]),
                (HISTORY_QA.id, ["通用", "历史"]),
                (NOTHING.id, ["通用"]),
                (NO_DOMAIN.id, ["通用"]),
                (FREE_FORM.id, ["javascript"]),
            ]
        ),
    )
    p.run().wait_until_finish()
    p, out = _run(RECORDS, domains={"mode": "replace"})
    assert_that(
        out | beam.Map(_view),
        equal_to(
            [
                (PHYSICS_EXAM.id, ["物理"], 1.0, ["Tag:domain=subject:高中物理", "Tag"]),
                (
                    DEPARTMENT.id,
                    ["医疗", "消化科"],
                    1.0,
                    ["Tag:domain=subject:医疗+department:消化科", "Tag"],
                ),
                (
                    HISTORY_QA.id,
                    ["历史"],
                    1.0,
                    ["Tag:domain=keyword:历史[洋务运动,清朝,鸦片战争,封建]", "Tag"],
                ),
                (NOTHING.id, ["通用"], None, ["Tag"]),
                (NO_DOMAIN.id, ["通用"], None, ["Tag"]),
                (FREE_FORM.id, ["javascript"], None, ["Tag"]),
            ]
        ),
    )
    p.run().wait_until_finish()


def test_default_is_unchanged_and_a_mapping_file_replaces_the_packaged_one(tmp_path):
    p, out = _run(RECORDS)
    assert_that(
        out | beam.Map(lambda r: (r.id, r.domain, r.lineage)),
        equal_to([(r.id, r.domain or ["通用"], ["Tag"]) for r in RECORDS]),
    )
    p.run().wait_until_finish()
    mapping = tmp_path / "mine.yaml"
    mapping.write_text("subjects:\n  高中物理: [理科]\nkeywords: {问候: [你好, 帮你]}\n", "utf-8")
    p, out = _run(RECORDS, domains={"mode": "replace", "mapping": str(mapping)})
    assert_that(
        out | beam.Map(lambda r: (r.id, r.domain)),
        equal_to(
            [
                (PHYSICS_EXAM.id, ["理科"]),
                (DEPARTMENT.id, ["医疗", "消化科"]),
                (HISTORY_QA.id, ["通用"]),
                (NOTHING.id, ["问候"]),
                (NO_DOMAIN.id, ["通用"]),
                (FREE_FORM.id, ["javascript"]),
            ]
        ),
    )
    p.run().wait_until_finish()


# Fixtures for a tiny domain model: sentences we write from two small vocabularies.
_FOOD = [
    "红烧肉",
    "糖醋排骨",
    "清蒸鱼",
    "炒青菜",
    "蛋炒饭",
    "火锅",
    "饺子",
    "面条",
    "酱油",
    "小火慢炖",
    "出锅",
    "调味",
    "口感",
    "香甜",
]
_TRAVEL = [
    "机票",
    "酒店",
    "行李",
    "景点",
    "导游",
    "签证",
    "高铁",
    "自驾",
    "路线",
    "门票",
    "民宿",
    "海边",
    "古镇",
    "拍照",
]


def _sentences(words: list[str], n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["，".join(rng.sample(words, 5)) + "。" for _ in range(n)]


@pytest.fixture(scope="module")
def domain_model(tmp_path_factory) -> str:
    pytest.importorskip("fasttext")
    from beam_cqia.models import domain

    records = tmp_path_factory.mktemp("domain") / "labelled.jsonl"
    lines = []
    for label, words in (("美食", _FOOD), ("旅行", _TRAVEL)):
        for i, text in enumerate(_sentences(words, 150, seed=len(label))):
            record = {"instruction": f"问题{i}", "input": "", "output": text, "domain": [label]}
            lines.append(json.dumps(record, ensure_ascii=False))
    records.write_text("\n".join(lines) + "\n", encoding="utf-8")
    examples, _ = domain.read_labelled([str(records)])
    report = domain.train_and_evaluate(
        examples, records.parent / "domain.bin", holdout=0.2, epoch=20
    )
    assert report.accuracy >= 0.95
    assert sorted(report.per_domain) == ["旅行", "美食"]
    assert report.model.domains == ["旅行", "美食"]
    return str(records.parent / "domain.bin")


def test_the_model_places_what_the_mapper_cannot(domain_model):
    food = cqia_record("m-food", instruction="怎么做？", output="红烧肉要小火慢炖，出锅前调味。")
    trip = cqia_record("m-trip", instruction="去哪玩？", output="先订机票和酒店，再看景点门票。")
    records = [PHYSICS_EXAM, HISTORY_QA, food, trip]
    for _ in range(2):  # the same model and records give the same domains
        p, out = _run(records, domains={"mode": "fill", "model": domain_model})
        assert_that(
            out
            | beam.Map(
                lambda r: (
                    r.id,
                    r.domain,
                    r.lineage[0].rsplit("@", 1)[0] if len(r.lineage) > 1 else "",
                    r.signals.get(CONFIDENCE_SIGNAL, 0.0) >= 0.5,
                )
            ),
            equal_to(
                [
                    (PHYSICS_EXAM.id, ["高中物理"], "", False),
                    (
                        HISTORY_QA.id,
                        ["历史"],
                        "Tag:domain=keyword:历史[洋务运动,清朝,鸦片战争,封建]",
                        True,
                    ),
                    (food.id, ["美食"], "Tag:domain=model:美食", True),
                    (trip.id, ["旅行"], "Tag:domain=model:旅行", True),
                ]
            ),
        )
        result = p.run()
        result.wait_until_finish()
        assert counters(result, "beam_cqia.TagSchema") == {
            "seen": 4,
            "passed": 4,
            "domain:keyword": 1,
            "domain:model": 2,
        }


def test_model_only_and_min_prob(domain_model):
    food = cqia_record("m-food", instruction="怎么做？", output="红烧肉要小火慢炖，出锅前调味。")
    p, out = _run(
        [food, HISTORY_QA], domains={"mapper": False, "model": domain_model, "model_min_prob": 0.0}
    )
    # Without the mapper every eligible record goes to the model, which knows two domains only.
    assert_that(
        out | beam.Map(lambda r: (r.id, r.domain[0] in ("美食", "旅行"))),
        equal_to([(food.id, True), (HISTORY_QA.id, True)]),
    )
    p.run().wait_until_finish()
    p, out = _run([food], domains={"model": domain_model, "model_min_prob": 1.0})
    assert_that(out | beam.Map(lambda r: r.domain), equal_to([["通用"]]))  # never sure enough
    p.run().wait_until_finish()


def test_schema_violations_still_go_to_errors_with_domains():
    empty = cqia_record("e1", output=" ")
    p, _ = _run([HISTORY_QA, empty], domains={"mode": "fill"})
    assert_that(
        stage_outputs(p, "Tag").errors | beam.Map(lambda e: (e.id, e.kind)),
        equal_to([(empty.id, "SchemaViolationError")]),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.TagSchema") == {
        "seen": 2,
        "passed": 1,
        "errors": 1,
        "domain:keyword": 1,
        "domain:unplaced": 1,
    }


@pytest.mark.parametrize(
    ("domains", "message"),
    [
        ("fill", "domains must be a mapping"),
        ({"modes": "fill"}, r"unknown keys \['modes'\]"),
        ({"mode": "merge"}, "domains.mode must be one of"),
        ({"mapper": "yes"}, "domains.mapper must be true or false"),
        ({"model_min_prob": 1.5}, r"model_min_prob must be in \[0, 1\]"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"mapping": "/nonexistent/domains.yaml"}, "does not exist"),
        ({"model": "/nonexistent/domain.bin"}, "domains.model '/nonexistent/domain.bin' does not"),
        ({"mapper": False}, "nothing would run"),
    ],
)
def test_domain_config_errors(domains, message):
    with pytest.raises(ValueError, match=message):
        TagSchema(domains=domains)


def test_a_bad_mapping_file_fails_at_construction(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("subjects: {数学: 数学}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.yaml.*subjects\.数学 must be a list"):
        TagSchema(domains={"mapping": str(bad)})
    with pytest.raises(ValueError, match="mapper is false"):
        TagSchema(domains={"mapper": False, "mapping": str(bad)})


def test_train_domain_cli_reports_held_out_accuracy(domain_model, tmp_path, capsys):
    from beam_cqia import cli

    records = str(domain_model).replace("domain.bin", "labelled.jsonl")
    out = tmp_path / "cli.bin"
    code = cli.main(["train-domain", "--records", records, "--out", str(out), "--epochs", "20"])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert out.is_file()
    assert "records: 300 from 1 file(s), 2 domains" in printed
    assert "held out" in printed and "美食" in printed
    assert cli.main(["train-domain", "--records", str(tmp_path / "none*.jsonl"), "--out", "x"]) == 2
