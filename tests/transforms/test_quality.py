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


def test_score_quality_extra_rules_add_to_the_defaults():
    from beam_cqia.transforms.quality import DEFAULT_RULES

    p = new_pipeline()
    docs = [raw_doc("s4", answer="临之，风辄引去，"), raw_doc("s5", answer="说完了。")]
    out = (
        p
        | beam.Create(docs).with_output_types(RawDoc)
        | ScoreQuality(extra_rules=["cut_off", "truncated"], meta_signals=[])
    )
    default_signals = {"truncated", "ad_hits", "cjk_ratio", "chars.answer"}
    assert default_signals <= {s for r in DEFAULT_RULES for s in (r, f"{r}.answer")}
    assert_that(
        out | beam.Map(lambda d: (d.id, d.signals["cut_off"], default_signals <= set(d.signals))),
        equal_to([(docs[0].id, 1.0, True), (docs[1].id, 0.0, True)]),
    )
    p.run().wait_until_finish()
    with pytest.raises(ValueError, match="extra_rules must be a list"):
        ScoreQuality(extra_rules="cut_off")
    with pytest.raises(ValueError, match=r"unknown rules \['nope'\]"):
        ScoreQuality(extra_rules=["nope"])


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
        side.rejected | beam.Map(lambda r: (names[r.id], r.reason, r.detail, len(r.reasons))),
        equal_to(
            [
                ("short", "answer_too_short", "chars.answer=5 < 10; votes=1 < 5; ad_hits=2 > 0", 3),
                ("novotes", "votes_missing", "votes missing", 1),
                ("ad", "ad_hits_above_max", "ad_hits=1 > 0", 1),
                ("baike", "chars.body_below_min", "chars.body=2 < 3", 1),
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
        "failed:answer_too_short": 1,
        "failed:votes_below_min": 1,
        "failed:ad_hits_above_max": 2,
        "failed:votes_missing": 1,
        "failed:chars.body_below_min": 1,
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


def test_per_source_overrides_replace_rules_on_the_same_signal():
    rules = [{"signal": "chars.answer", "min": 100}, {"signal": "ad_hits", "max": 0}]
    by_source = {
        "segmentfault": [{"signal": "chars.answer", "min": 20}, {"signal": "votes", "min": 5}]
    }
    docs = {
        "zhihu_short": _scored("o1", **{"chars.answer": 50.0, "ad_hits": 0.0}),
        "sf_short_ok": _scored(
            "o2", source="segmentfault", **{"chars.answer": 50.0, "ad_hits": 0.0, "votes": 6.0}
        ),
        "sf_ad": _scored(
            "o3", source="segmentfault", **{"chars.answer": 50.0, "ad_hits": 1.0, "votes": 9.0}
        ),
        "sf_few_votes": _scored(
            "o4", source="segmentfault", **{"chars.answer": 50.0, "ad_hits": 0.0, "votes": 1.0}
        ),
    }
    names = {d.id: k for k, d in docs.items()}
    p = new_pipeline()
    kept = (
        p
        | beam.Create(list(docs.values())).with_output_types(RawDoc)
        | "Filter" >> FilterByScore(rules=rules, by_source=by_source)
    )
    assert_that(kept | beam.Map(lambda d: names[d.id]), equal_to(["sf_short_ok"]))
    assert_that(
        stage_outputs(p, "Filter").rejected | beam.Map(lambda r: (names[r.id], r.reasons)),
        equal_to(
            [
                ("zhihu_short", ["chars.answer_below_min"]),
                ("sf_ad", ["ad_hits_above_max"]),
                ("sf_few_votes", ["votes_below_min"]),
            ]
        ),
        label="rejected",
    )
    p.run().wait_until_finish()


def test_by_source_errors_name_the_source():
    with pytest.raises(ValueError, match=r"by_source\.zhihu: rules\[0\] \(votes\): give min"):
        FilterByScore(rules=[{"signal": "x", "min": 1}], by_source={"zhihu": [{"signal": "votes"}]})


def test_score_quality_with_a_sensitive_word_list_and_traditional_ratio(tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("赌博\t违法\n代开发票\t广告\n", encoding="utf-8")
    doc = raw_doc("w1", answer="網上賭博和代开发票都是违法的，请远离赌博。")
    p = new_pipeline()
    out = (
        p | beam.Create([doc]).with_output_types(RawDoc) | ScoreQuality(sensitive_words=str(words))
    )
    assert_that(
        out
        | beam.Map(
            lambda d: (
                d.signals["sensitive_hits"],
                d.signals["sensitive.违法"],
                d.signals["sensitive.广告"],
                d.signals["trad_ratio"] > 0,
                "top_ngram_frac.2" in d.signals,  # slower rules are opt-in
            )
        ),
        equal_to([(2.0, 1.0, 1.0, True, False)]),
    )
    p.run().wait_until_finish()


def test_sensitive_hits_needs_a_word_list(tmp_path):
    with pytest.raises(ValueError, match="needs sensitive_words"):
        ScoreQuality(rules=["chars", "sensitive_hits"])
    with pytest.raises(ValueError, match="cannot read sensitive_words"):
        ScoreQuality(sensitive_words=str(tmp_path / "missing.txt"))


def test_score_quality_with_language_id_and_a_trained_quality_model(tmp_path):
    from beam_cqia.models.quality import train

    good = [
        f"光合作用是绿色植物利用光能合成有机物的过程，它为地球生命提供能量。第{i}段。"
        for i in range(60)
    ]
    bad = [f"加微信领取优惠券哈哈哈哈{i}！！！" for i in range(60)]
    model = tmp_path / "quality.bin"
    train(good, bad, str(model), epoch=5)
    poem = raw_doc("m1", answer="床前明月光，疑是地上霜。舉頭望明月，低頭思故鄉。")
    english = raw_doc("m2", answer="The quick brown fox jumps over the lazy dog.")
    fine = raw_doc("m3", answer=good[0])
    spam = raw_doc("m4", answer=bad[0])
    p = new_pipeline()
    out = (
        p
        | beam.Create([poem, english, fine, spam]).with_output_types(RawDoc)
        | ScoreQuality(rules=["chars"], lid=True, quality_model=str(model))
    )
    by_id = out | beam.Map(lambda d: (d.id, dict(d.signals)))
    assert_that(
        by_id
        | beam.Map(
            lambda kv: (
                kv[0],
                kv[1]["lid.zh"],
                # the classifier is only judged on the kinds of text it was trained on
                kv[1]["quality.fasttext"] > 0.5 if kv[0] in (fine.id, spam.id) else None,
            )
        ),
        equal_to(
            [
                (poem.id, 1.0, None),  # classical, Traditional: Chinese by the script rule
                (english.id, 0.0, None),
                (fine.id, 1.0, True),
                (spam.id, 1.0, False),
            ]
        ),
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.ScoreQuality") == {"seen": 4, "passed": 4}


def test_model_options_are_checked_when_the_pipeline_is_built(tmp_path):
    with pytest.raises(ValueError, match=r"quality_model .* does not exist"):
        ScoreQuality(quality_model=str(tmp_path / "none.bin"))
    with pytest.raises(ValueError, match="lid_model is given but lid is false"):
        ScoreQuality(lid_model=str(tmp_path / "lid.ftz"))


# --- default thresholds (DEFAULT_THRESHOLDS) --------------------------------------------------

_PROSE = (
    "学编程最重要的是动手。先用一两周把基础语法过一遍，变量、循环、函数和常用的数据结构都要亲手"
    "敲一遍代码，不要只看书。然后给自己找一个小项目，比如整理手机里的照片、统计每个月的开销，遇到"
    "不会的地方再去查文档。项目做完以后回头看自己的代码，想一想哪里可以写得更清楚、哪里重复了，"
    "再动手改一遍，这样进步最快。贵在坚持，多写多练。"
)
_ARTICLE = (
    "大熊猫是中国特有的哺乳动物，主要生活在四川、陕西和甘肃的山区。\n"
    "它们以竹子为主要食物，每天要花十几个小时进食，偶尔也吃小型动物。\n"
    "成年大熊猫体长约一米半，体重可达一百多公斤，毛色黑白相间，十分醒目。\n"
    "由于栖息地破碎和繁殖率低，大熊猫曾一度濒临灭绝。\n"
    "经过几十年的保护，野生大熊猫的数量已经稳步回升，保护等级也从濒危调整为易危。\n"
    "如今，人们在多个自然保护区之间修建了生态走廊，让分散的种群可以相互往来。\n"
    "科研人员还通过红外相机和粪便样本，持续监测它们的数量和健康状况。"
)
_HEADLINES = "\n".join(
    [
        "我县召开二〇二一年安全生产工作会议",
        "市领导到我县调研乡村振兴工作情况",
        "第十二届农民丰收节文艺汇演圆满落幕",
        "县人民医院开展义诊进社区志愿服务活动",
        "全县中小学秋季开学安全检查工作部署",
        "关于开展冬季森林防火专项整治的通知",
        "我县举办第三届职业技能大赛暨表彰大会",
        "县委理论学习中心组召开专题学习会议",
        "全县招商引资重点项目集中签约仪式举行",
        "关于公布县级非物质文化遗产名录的通知",
        "县市场监管局开展食品安全专项检查行动",
    ]
)
_ENGLISH = (
    "Welcome to our online store. We sell quality products at low prices every day. Free "
    "shipping on all orders over fifty dollars. Sign up for our newsletter to get the latest "
    "deals and news. Contact our support team if you have any questions."
)
# name -> (document, the first reason it is rejected for, or None when it passes)
_DEFAULT_CASES = {
    "zhihu_answer": (raw_doc("d1", question="怎么学Python？", answer=_PROSE), None),
    "exam_key_only": (raw_doc("d2", source="logiqa", question="以下哪项为真？", answer="B"), None),
    "exam_with_analysis": (
        raw_doc("d3", source="exam", answer="B", body="解析：A项错误，D项与题意不符，故选B。"),
        None,
    ),
    "one_word_label": (
        raw_doc("d4", source="instruct", question="判断情感：股价大涨。", answer="积极"),
        None,
    ),
    "web_article": (raw_doc("d5", source="web", title="大熊猫", body=_ARTICLE), None),
    "ad": (
        raw_doc("d6", question="怎么学？", answer=_PROSE + "想要资料的加我微信abc12345领取！"),
        "advertising",
    ),
    "boilerplate": (
        raw_doc("d7", question="怎么学？", answer=_PROSE + "\n转载请注明出处。"),
        "site_boilerplate",
    ),
    "assistant": (
        raw_doc(
            "d8",
            source="instruct",
            question="我头疼该吃什么药？",
            answer="作为一个AI语言模型，我无法提供医疗建议，请咨询专业医生。",
        ),
        "assistant_phrases",
    ),
    "short_review": (
        raw_doc("d9", source="douban", answer="还可以吧，都是新人演员，多点鼓励吧。"),
        "answer_too_short",
    ),
    "comment_as_text": (
        raw_doc("d10", source="text", body="这种人就是欠骂，懂的都懂"),
        "document_too_short",
    ),
    "english_page": (raw_doc("d11", source="web", body=_ENGLISH), "not_chinese"),
    "headline_list": (raw_doc("d12", source="web", body=_HEADLINES), "not_prose"),
    "cut_page": (
        raw_doc("d13", source="web", body=_ARTICLE + "\n近年来，保护区还建立了生态走廊，而且"),
        "truncated",
    ),
}


def test_default_thresholds_parse_and_are_named():
    from beam_cqia.transforms.quality import DEFAULT_THRESHOLDS, parse_thresholds

    parsed = parse_thresholds(DEFAULT_THRESHOLDS)
    assert len(parsed) == len(DEFAULT_THRESHOLDS)
    names = [t.name for t in parsed]
    assert all(names) and len(set(names)) == len(names)
    # Every signal they read is computed by ScoreQuality's default rules.
    from beam_cqia.transforms.quality import DEFAULT_RULES

    assert {t.signal.split(".")[0] for t in parsed} <= set(DEFAULT_RULES)


def test_filter_by_score_defaults_reject_junk_and_keep_good_records():
    docs = {name: doc for name, (doc, _) in _DEFAULT_CASES.items()}
    names = {d.id: k for k, d in docs.items()}
    p = new_pipeline()
    kept = (
        p
        | beam.Create(list(docs.values())).with_output_types(RawDoc)
        | ScoreQuality()
        | "Filter" >> FilterByScore()
    )
    assert_that(
        kept | beam.Map(lambda d: names[d.id]),
        equal_to([k for k, (_, reason) in _DEFAULT_CASES.items() if reason is None]),
    )
    assert_that(
        stage_outputs(p, "Filter").rejected | beam.Map(lambda r: (names[r.id], r.reason)),
        equal_to([(k, reason) for k, (_, reason) in _DEFAULT_CASES.items() if reason]),
        label="rejected",
    )
    p.run().wait_until_finish()


@pytest.mark.corpora
def test_default_thresholds_on_real_data(corpora):
    """The calibration of benchmarks/bench_quality_calibration.py, on a subsample: every
    human-verified COIG-CQIA record (the bar is per file) and every record of the small junk
    sets, every 10th record of cold-offensive and of the other COIG-CQIA files."""
    from benchmarks import bench_quality_calibration as bench

    cal = bench.calibrate(bench.load(corpora, engine="direct", stride=10, lexicon=False))
    bars = cal.bars()
    hv_files = [k for k in bars if k.startswith("COIG-CQIA ")]
    assert len(hv_files) == 18
    assert {k: share for k, (share, ok) in bars.items() if k in hv_files and not ok} == {}
    assert bars[bench.DMR_SPAM][0] >= bench.JUNK_BAR
    assert bars[bench.COLD_OFF][0] >= bench.JUNK_BAR
    # 9 of the 10 ChineseWebText dirty pages (the spun news page by spun_content); the web-novel
    # excerpt passes every rule that does not also reject good text
    # (results/quality_calibration.md).
    assert bars[bench.CWT_DIRTY][0] == pytest.approx(0.9)
    assert bars[bench.CWT_DIRTY][1]  # the bar (90%) is met
    # Short comments are rejected for their length, not for being offensive.
    assert cal.by_set[bench.COLD_OFF_ANSWER].share(bench.COLD_OFF_ANSWER) < 0.05
