"""ScoreQuality stores signals; FilterByScore applies thresholds with reasons."""

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import RawDoc
from beam_cqia.transforms import FilterByScore, ScoreQuality, stage_outputs
from tests.conftest import counters, new_pipeline
from tests.factories import raw_doc


def test_score_quality_stores_rule_and_source_signals_and_drops_nothing():
    doc = raw_doc(
        "s1",
        question="怎么学Python？",
        answer="先学基础语法，再做小项目。加我微信abc12345领取免费资料！",
        meta={"votes": "1.5", "answer_rank": "2", "author": "某人"},
    )
    empty = raw_doc("s2")
    p = new_pipeline()
    out = p | beam.Create([doc, empty]).with_output_types(RawDoc) | "Score" >> ScoreQuality()
    assert_that(
        out
        | beam.Map(
            lambda d: (
                d.signals["chars.question"],
                d.signals["chars.answer"],
                d.signals["ad_hits"] >= 1,
                d.signals.get("votes"),
                d.signals.get("answer_rank"),
                0 < d.signals["cjk_ratio"] <= 1,
                d.lineage,
            )
        ),
        equal_to(
            [
                (10.0, 32.0, True, 1.5, 2.0, True, ["Score"]),
                (0.0, 0.0, False, None, None, False, ["Score"]),
            ]
        ),
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.ScoreQuality") == {"seen": 2, "passed": 2}
    dists = result.metrics().query()["distributions"]
    chars = [d for d in dists if d.key.metric.name == "signal:chars.answer"]
    assert chars and chars[0].committed.max == 32000


def test_score_quality_subset_of_rules():
    p = new_pipeline()
    out = (
        p
        | beam.Create([raw_doc("s3", answer="好")]).with_output_types(RawDoc)
        | ScoreQuality(rules=["chars"], meta_signals=[])
    )
    assert_that(
        out | beam.Map(lambda d: sorted(d.signals)),
        equal_to([["chars.answer", "chars.body", "chars.question", "chars.title"]]),
    )
    p.run().wait_until_finish()


RULES = [
    {"signal": "chars.answer", "min": 10, "sources": ["zhihu"], "name": "answer_too_short"},
    {"signal": "votes", "min": 5, "sources": ["zhihu"], "if_missing": "reject"},
    {"signal": "ad_hits", "max": 0},
    {"signal": "chars.body", "min": 3, "sources": ["baike"]},
]


def _scored(native_id, source="zhihu", **signals):
    return raw_doc(native_id, source=source, signals=signals)


def test_filter_by_score_rejects_with_the_first_failed_rule_and_lists_all():
    docs = {
        "ok": _scored("f1", **{"chars.answer": 50.0, "votes": 10.0, "ad_hits": 0.0}),
        "short": _scored("f2", **{"chars.answer": 5.0, "votes": 1.0, "ad_hits": 2.0}),
        "novotes": _scored("f3", **{"chars.answer": 50.0, "ad_hits": 0.0}),
        "ad": _scored("f4", **{"chars.answer": 50.0, "votes": 10.0, "ad_hits": 1.0}),
        # zhihu rules do not apply to baike; the body rule does
        "baike": _scored("f5", source="baike", **{"chars.body": 2.0, "ad_hits": 0.0}),
        "edge": _scored("f6", **{"chars.answer": 10.0, "votes": 5.0, "ad_hits": 0.0}),
    }
    names = {d.id: k for k, d in docs.items()}
    p = new_pipeline()
    kept = (
        p
        | beam.Create(list(docs.values())).with_output_types(RawDoc)
        | "Filter" >> FilterByScore(rules=RULES)
    )
    side = stage_outputs(p, "Filter")
    assert_that(kept | beam.Map(lambda d: names[d.id]), equal_to(["ok", "edge"]))
    assert_that(
        side.rejected | beam.Map(lambda r: (names[r.id], r.reason, r.detail)),
        equal_to(
            [
                ("short", "answer_too_short", "chars.answer=5 < 10; votes=1 < 5; ad_hits=2 > 0"),
                ("novotes", "votes_missing", "votes missing"),
                ("ad", "ad_hits_above_max", "ad_hits=1 > 0"),
                ("baike", "chars.body_below_min", "chars.body=2 < 3"),
            ]
        ),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.FilterByScore") == {
        "seen": 6,
        "passed": 2,
        "filtered:answer_too_short": 1,
        "filtered:votes_missing": 1,
        "filtered:ad_hits_above_max": 1,
        "filtered:chars.body_below_min": 1,
    }


def test_missing_signal_is_an_error_by_default_and_can_pass():
    doc = _scored("m1", **{"chars.answer": 50.0})
    p = new_pipeline()
    docs = p | beam.Create([doc]).with_output_types(RawDoc)
    strict = docs | "Strict" >> FilterByScore(rules=[{"signal": "votes", "min": 1}])
    lenient = docs | "Lenient" >> FilterByScore(
        rules=[{"signal": "votes", "min": 1, "if_missing": "pass"}]
    )
    assert_that(strict, equal_to([]), label="strict")
    assert_that(
        stage_outputs(p, "Strict").errors | beam.Map(lambda e: (e.kind, "votes" in e.msg)),
        equal_to([("KeyError", True)]),
        label="strict_errors",
    )
    assert_that(lenient | beam.Map(lambda d: d.id), equal_to([doc.id]), label="lenient")
    p.run().wait_until_finish()


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([], "non-empty list"),
        ([{"signal": "x"}], "give min, max or both"),
        ([{"signal": "x", "min": "5"}], "min must be a number"),
        ([{"signal": "x", "min": 5, "max": 1}], "min 5.0 > max 1.0"),
        ([{"signal": "x", "min": 1, "sourcse": ["a"]}], r"unknown keys \['sourcse'\]"),
        ([{"signal": "x", "min": 1, "if_missing": "ignore"}], "if_missing must be one of"),
        ([{"signal": "x", "min": 1, "name": "too short"}], "name must be a word"),
        (["chars.answer"], "must be a mapping"),
    ],
)
def test_filter_config_errors_name_the_rule(rules, message):
    with pytest.raises(ValueError, match=message):
        FilterByScore(rules=rules)


def test_score_quality_rejects_unknown_rules():
    with pytest.raises(ValueError, match=r"unknown rules \['perplexity'\]"):
        ScoreQuality(rules=["chars", "perplexity"])
