"""DedupExact: groups across width, punctuation, case and script; keep rules; every output."""

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import RawDoc
from beam_cqia.transforms import DedupExact, stage_outputs
from tests.conftest import counters, new_pipeline
from tests.factories import cqia_record, raw_doc

ANSWER = "固定起床时间比固定入睡时间更重要，坚持两周就能形成习惯。"


def _run(docs, **config):
    p = new_pipeline()
    kept = p | beam.Create(docs).with_output_types(RawDoc) | "Dedup" >> DedupExact(**config)
    return p, kept, stage_outputs(p, "Dedup")


def test_variants_of_one_answer_form_one_group_and_the_rest_is_rejected():
    docs = [
        raw_doc("a", answer=ANSWER, meta={"votes": "3"}),
        # traditional script, full-width letters, extra spaces and different punctuation
        raw_doc(
            "b",
            answer="固定起床時間比固定入睡時間更重要 坚持两周就能形成习惯!!",
            meta={"votes": "50"},
        ),
        raw_doc("c", answer=ANSWER + "\n", meta={"votes": "7"}),
        raw_doc("d", answer="完全不同的另一个回答。", meta={"votes": "1"}),
        raw_doc("e", answer="", question="只有问题没有回答"),  # compared fields empty
        raw_doc("f", answer="", body="。。。"),  # no content at all: not a duplicate of anything
        raw_doc("g", answer="", body="  "),
    ]
    p, kept, side = _run(docs, fields=["answer", "body"], keep="most_votes")
    ids = {d.id: name for d, name in zip(docs, "abcdefg", strict=False)}
    assert_that(
        kept | beam.Map(lambda d: (ids[d.id], d.signals.get("dedup.exact_group_size"))),
        equal_to([("b", 3.0), ("d", 1.0), ("e", None), ("f", None), ("g", None)]),
    )
    assert_that(
        side.rejected | beam.Map(lambda r: (ids[r.id], r.reason, ids[r.kept_id], r.stage)),
        equal_to([("a", "duplicate", "b", "Dedup"), ("c", "duplicate", "b", "Dedup")]),
        label="rejected",
    )
    assert_that(side.errors, equal_to([]), label="errors")
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.DedupExact") == {
        "seen": 7,
        "passed": 5,
        "filtered:duplicate": 2,
    }


@pytest.mark.parametrize(
    ("keep", "winner"),
    [("longest", "long"), ("smallest_id", "min_id"), ("most_votes", "voted")],
)
def test_keep_rules_are_deterministic(keep, winner):
    docs = {
        "long": raw_doc("x1", answer="同一个回答。", body="附注", meta={"votes": "1"}),
        "voted": raw_doc("x2", answer="同一个回答！", meta={"votes": "99"}),
        "plain": raw_doc("x3", answer="同一个回答", meta={"votes": "2"}),
    }
    docs["min_id"] = min(docs.values(), key=lambda d: d.id)
    expected = docs[winner].id
    p, kept, _ = _run(list({d.id: d for d in docs.values()}.values()), fields=["answer"], keep=keep)
    if keep == "longest":
        # fields=[answer] only: "同一个回答。" and "同一个回答！" are equally long; smallest id wins
        tied = [docs["long"], docs["voted"]]
        expected = min(tied, key=lambda d: d.id).id
    assert_that(kept | beam.Map(lambda d: d.id), equal_to([expected]))
    p.run().wait_until_finish()


def test_without_opencc_scripts_stay_distinct():
    docs = [raw_doc("t1", answer="這是測試"), raw_doc("t2", answer="这是测试")]
    p, kept, side = _run(docs, opencc=None)
    assert_that(kept | beam.Map(lambda d: d.id), equal_to([d.id for d in docs]))
    assert_that(side.rejected, equal_to([]), label="rejected")
    p.run().wait_until_finish()


def test_dedup_on_cqia_records_sets_cluster_id():
    a = cqia_record("r1")
    b = cqia_record("r2", output=a.output.replace("，", ","))
    p = new_pipeline()
    kept = p | beam.Create([a, b]) | "Dedup" >> DedupExact(fields=["instruction", "output"])
    winner = min((a, b), key=lambda r: r.id)
    assert_that(
        kept | beam.Map(lambda r: (r.id, r.cluster_id.startswith("exact:"))),
        equal_to([(winner.id, True)]),
    )
    p.run().wait_until_finish()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fields": []}, "fields must be a non-empty list"),
        ({"keep": "newest"}, "unknown keep criterion 'newest'"),
        ({"opencc": "t2x"}, "unsupported opencc config"),
    ],
)
def test_bad_config_fails_at_construction(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DedupExact(**kwargs)


def test_keep_criteria_apply_in_order_and_missing_signals_rank_last():
    docs = {
        "a": raw_doc("k1", answer="同一个回答。", signals={"quality": 0.9}, meta={"votes": "1"}),
        "b": raw_doc("k2", answer="同一个回答。。", signals={"quality": 0.9}, meta={"votes": "50"}),
        "c": raw_doc("k3", answer="同一个回答!", meta={"votes": "99"}),  # no quality signal
    }
    names = {d.id: k for k, d in docs.items()}
    cases = {
        ("max:quality", "max:meta.votes"): "b",
        ("max:quality", "min:meta.votes"): "a",
        ("max:meta.votes",): "c",
        ("min:quality",): "a" if docs["a"].id < docs["b"].id else "b",
    }
    p = new_pipeline()
    source = p | beam.Create(list(docs.values())).with_output_types(RawDoc)
    for i, (keep, winner) in enumerate(cases.items()):
        kept = source | f"Dedup{i}" >> DedupExact(fields=["answer"], keep=list(keep))
        assert_that(
            kept | f"Name{i}" >> beam.Map(lambda d: names[d.id]), equal_to([winner]), label=f"k{i}"
        )
    p.run().wait_until_finish()


@pytest.mark.parametrize("keep", [[], ["max:"], ["newest"], "longest:"])
def test_keep_rule_errors(keep):
    with pytest.raises(ValueError, match="keep"):
        DedupExact(keep=keep)


def test_question_level_dedup_keeps_one_answer_per_question():
    question = "怎样才能早睡早起？"
    docs = [
        raw_doc("q1", question=question, answer="固定起床时间。", meta={"votes": "120"}),
        raw_doc("q2", question="怎样才能早睡早起?", answer="睡前别看手机。", meta={"votes": "30"}),
        raw_doc("q3", question="怎樣才能早睡早起", answer="白天多运动。", meta={"votes": "300"}),
        raw_doc("q4", question="为什么天空是蓝色的？", answer="瑞利散射。", meta={"votes": "5"}),
    ]
    p, kept, side = _run(docs, fields=["question"], keep="most_votes")
    assert_that(kept | beam.Map(lambda d: d.answer), equal_to(["白天多运动。", "瑞利散射。"]))
    assert_that(
        side.rejected | beam.Map(lambda r: (r.reason, r.kept_id)),
        equal_to([("duplicate", docs[2].id), ("duplicate", docs[2].id)]),
        label="rejected",
    )
    p.run().wait_until_finish()
