"""DedupMinHash: clusters, keep rule, short texts, verification, indexes; every output."""

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import RawDoc
from beam_cqia.transforms import DedupMinHash, stage_outputs
from tests.conftest import counters, new_pipeline
from tests.factories import raw_doc

BASE = (
    "光合作用是绿色植物利用光能，把二氧化碳和水合成储存能量的有机物，并释放出氧气的过程。"
    "它为地球上几乎所有生命提供了能量来源，也维持着大气中氧气和二氧化碳的平衡。"
)
NEAR = BASE.replace("几乎所有", "绝大多数")  # a small edit
TRAD = (
    "光合作用是綠色植物利用光能，把二氧化碳和水合成儲存能量的有機物，並釋放出氧氣的過程。"
    + BASE[42:]
)
OTHER = "长城是中国古代的军事防御工程，东起山海关，西至嘉峪关，绵延上万里，是世界文化遗产之一。"


def _run(docs, **config):
    p = new_pipeline()
    kept = p | beam.Create(docs).with_output_types(RawDoc) | "Near" >> DedupMinHash(**config)
    return p, kept, stage_outputs(p, "Near")


def test_near_duplicates_cluster_and_one_is_kept():
    docs = {
        "base": raw_doc("n1", body=BASE, signals={"quality": 0.5}),
        "near": raw_doc("n2", body=NEAR, signals={"quality": 0.9}),
        "trad": raw_doc("n3", body=TRAD, signals={"quality": 0.1}),
        "other": raw_doc("n4", body=OTHER),
        "empty": raw_doc("n5", body="。。。"),
        "empty2": raw_doc("n6", body=""),
    }
    names = {d.id: k for k, d in docs.items()}
    p, kept, side = _run(list(docs.values()), fields=["body"], threshold=0.6, keep="max:quality")
    assert_that(
        kept | beam.Map(lambda d: (names[d.id], d.signals.get("dedup.near_cluster_size"))),
        equal_to([("near", 3.0), ("other", None), ("empty", None), ("empty2", None)]),
    )
    assert_that(
        side.rejected
        | beam.Map(
            lambda r: (names[r.id], r.reason, names[r.kept_id], r.cluster_id.startswith("minhash:"))
        ),
        equal_to(
            [("base", "near_duplicate", "near", True), ("trad", "near_duplicate", "near", True)]
        ),
        label="rejected",
    )
    assert_that(side.errors, equal_to([]), label="errors")
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.DedupMinHash")
    assert (c["seen"], c["passed"], c["filtered:near_duplicate"]) == (6, 4, 2)


def test_skip_subsets_pass_through_uncompared():
    docs = {
        "task1": raw_doc("k1", body=BASE, subset="finance"),
        "task2": raw_doc("k2", body=NEAR, subset="finance"),  # same template, other input
        "post1": raw_doc("k3", body=BASE, subset="xhs"),
        "post2": raw_doc("k4", body=NEAR, subset="xhs"),
    }
    names = {d.id: k for k, d in docs.items()}
    p, kept, side = _run(list(docs.values()), fields=["body"], skip_subsets=["finance"])
    # Equal lengths: the smaller id of the two posts stays.
    first, second = sorted(["post1", "post2"], key=lambda k: docs[k].id)
    assert_that(kept | beam.Map(lambda d: names[d.id]), equal_to(["task1", "task2", first]))
    assert_that(
        side.rejected | beam.Map(lambda r: (names[r.id], names[r.kept_id])),
        equal_to([(second, first)]),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.DedupMinHash")
    assert (c["seen"], c["passed"], c["filtered:near_duplicate"]) == (4, 3, 1)


def test_short_texts_distinct_unless_identical():
    answers = ["猫", "狗", "猫", "谢谢", "谢谢！"]  # shorter than the 5-gram
    docs = [raw_doc(f"s{i}", answer=t) for i, t in enumerate(answers)]
    p, kept, side = _run(docs, fields=["answer"], threshold=0.8, ngram=5)
    # longest wins ("谢谢！" over "谢谢"), then the smallest id between the two identical 猫
    assert_that(kept | beam.Map(lambda d: d.answer), equal_to(["猫", "狗", "谢谢！"]))
    assert_that(
        side.rejected | beam.Map(lambda r: r.reason),
        equal_to(["near_duplicate", "near_duplicate"]),
        label="rejected",
    )
    p.run().wait_until_finish()


def test_verification_drops_false_candidates():
    # 64 bands of 2 rows make pairs with Jaccard 0.3 candidates with probability 1 - 0.91**64;
    # exact Jaccard then refuses what the 0.8 threshold does not allow.
    x = raw_doc("v1", body=BASE)
    y = raw_doc("v2", body=BASE + OTHER)
    p = new_pipeline()
    docs = p | beam.Create([x, y]).with_output_types(RawDoc)
    loose = docs | "Loose" >> DedupMinHash(
        fields=["body"], threshold=0.8, bands=64, rows=2, verify=False
    )
    checked = docs | "Checked" >> DedupMinHash(
        fields=["body"], threshold=0.8, bands=64, rows=2, verify=True
    )
    assert_that(loose | beam.Map(lambda d: d.id), equal_to([y.id]), label="loose")  # longest
    assert_that(checked | beam.Map(lambda d: d.id), equal_to([x.id, y.id]), label="checked")
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.DedupMinHash")
    assert c["pairs_checked"] == 1 and "pairs_confirmed" not in c


def test_index_out_then_against_drops_what_was_released(tmp_path):
    released = [raw_doc("r1", body=BASE), raw_doc("r2", body=OTHER)]
    index = str(tmp_path / "index")
    p = new_pipeline()
    (
        p
        | beam.Create(released).with_output_types(RawDoc)
        | DedupMinHash(fields=["body"], threshold=0.7, index_out=index)
    )
    p.run().wait_until_finish()

    crawl = [
        raw_doc("c1", body=NEAR),
        raw_doc("c2", body=TRAD),
        raw_doc("c3", body="全新的内容。" * 9),
    ]
    p = new_pipeline()
    kept = (
        p
        | beam.Create(crawl).with_output_types(RawDoc)
        | "Near" >> DedupMinHash(fields=["body"], threshold=0.7, against=[index])
    )
    assert_that(kept | beam.Map(lambda d: d.id), equal_to([crawl[2].id]))
    assert_that(
        stage_outputs(p, "Near").rejected | beam.Map(lambda r: (r.reason, r.kept_id)),
        equal_to([("near_duplicate_of_index", released[0].id)] * 2),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.DedupMinHash")["filtered:near_duplicate_of_index"] == 2


def test_an_index_built_with_other_parameters_is_refused(tmp_path):
    index = str(tmp_path / "index")
    p = new_pipeline()
    (
        p
        | beam.Create([raw_doc("r1", body=BASE)]).with_output_types(RawDoc)
        | DedupMinHash(fields=["body"], index_out=index, ngram=3)
    )
    p.run().wait_until_finish()
    with pytest.raises(ValueError, match="other parameters: scheme"):
        DedupMinHash(fields=["body"], against=[index], ngram=5)
    with pytest.raises(ValueError, match="is not a dedup index"):
        DedupMinHash(against=[str(tmp_path / "nothing")])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threshold": 0}, "threshold must be in"),
        ({"threshold": 1.5}, "threshold must be in"),
        ({"ngram": 0}, "ngram must be an integer"),
        ({"bands": 4}, "give both bands and rows"),
        ({"bands": 20, "rows": 20}, "at most num_perm=128"),
        ({"keep": ["max:"]}, "unknown keep criterion"),
        ({"opencc": "s2t"}, "unsupported opencc"),
        ({"skip_subsets": "finance"}, "skip_subsets must be a list"),
    ],
)
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DedupMinHash(**kwargs)


@pytest.mark.parametrize("hold", [True, False])
@pytest.mark.parametrize("pairs_up_to", [1, 4])
def test_packed_band_entries_give_the_buckets_of_band_keys(monkeypatch, hold, pairs_up_to):
    # The signing step ships band entries packed per shard; the buckets found in the shards must
    # be exactly the (band, key) groups of the band keys, whatever the packing and flushing.
    import collections
    import random

    import numpy as np

    from beam_cqia.text import minhash
    from beam_cqia.transforms import dedup_index, neardup

    monkeypatch.setattr(neardup, "_FLUSH_ENTRIES", 40)  # several flushes per bundle
    monkeypatch.setattr(neardup, "_BUCKET_SHARDS", 8)
    rng = np.random.default_rng(3)
    n, bands, rows = 300, 6, 2
    sigs = rng.integers(0, 3, size=(n, 128), dtype=np.uint32)  # few values: many buckets
    sigs[50:60] = sigs[0]  # a large bucket in every band
    ids = [f"{random.Random(i).getrandbits(32):08x}" for i in range(n)]
    ids[7] = ids[8]  # a repeated id counts once per bucket

    class FakeHasher:
        def signatures(self, texts, normalized):
            return sigs[[int(t) for t in texts]]

    params = dedup_index.minhash_params(128, 5, 1, bands, rows, None, [])
    fn = neardup._SignFn(params, keep_sigs=False, hold=hold)
    fn._hasher = FakeHasher()
    fn.start_bundle()
    packs = []
    for start in range(0, n, 25):
        packs += fn.process([(ids[i], str(i)) for i in range(start, min(n, start + 25))])
    packs += [wv.value for wv in fn.finish_bundle()]
    by_shard = collections.defaultdict(list)
    for shard, pack in packs:
        by_shard[shard].append(pack)
    got = sorted(
        edge
        for shard, shard_packs in by_shard.items()
        for edge in neardup._shard_edges((shard, shard_packs), pairs_up_to)
    )

    keys = minhash.band_keys(sigs, bands, rows)
    buckets = collections.defaultdict(list)
    for row in range(n):
        for band in range(bands):
            buckets[band, int(keys[row, band])].append(ids[row])
    want = sorted(
        edge for bucket in buckets.items() for edge in neardup._bucket_edges(bucket, pairs_up_to)
    )
    assert got == want
    assert len(want) > n  # the case is not trivial
