"""DedupMinHash: clusters, keep rule, short texts, verification, indexes; every output."""

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to
from hypothesis import given, settings
from hypothesis import strategies as st

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


# --- verification inside the clusters --------------------------------------------------------

_VARIANTS = [BASE, NEAR, TRAD, OTHER, OTHER[:30] + BASE[:30], BASE[:40], "猫" * 12]


def _pick_fn(threshold: float = 0.6, ngram: int = 3):
    from apache_beam.utils import shared

    from beam_cqia.transforms import _keep, neardup

    verify = {"ngram": ngram, "threshold": threshold, "opencc": "t2s"}
    fn = neardup._PickFn(
        "Near", "DedupMinHash", _keep.parse_keep("longest"), ["body"], verify, shared.Shared()
    )
    fn.setup()
    return fn


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(range(len(_VARIANTS))), min_size=1, max_size=7),
    st.data(),
    st.sampled_from([0.3, 0.6, 0.9]),
)
def test_verified_clusters_are_the_components_of_the_confirmed_edges(variants, data, threshold):
    """What verifying every candidate edge first and clustering after gave (the reference:
    exact connected components of the confirmed edges), computed inside one candidate
    component; ghosts (index matches) link and label, but are not output."""
    import opencc

    from beam_cqia.text import minhash
    from beam_cqia.transforms.components import component_labels

    records = [raw_doc(f"v{i}", body=_VARIANTS[v]) for i, v in enumerate(variants)]
    ids = [r.id for r in records]
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :]]
    edges = data.draw(st.lists(st.sampled_from(pairs), unique=True)) if pairs else []
    ghost_ids = set(data.draw(st.sets(st.sampled_from(ids), max_size=2)))
    members = [r for r in records if r.id not in ghost_ids]
    ghosts = [r for r in records if r.id in ghost_ids]
    from beam_cqia.transforms import neardup

    fn = _pick_fn(threshold)
    clusters, alone = fn._verified_clusters(members, edges, ghosts)
    held, neardup._HELD_SETS = neardup._HELD_SETS, 1  # the cache of a huge component
    try:
        assert fn._verified_clusters(members, edges, ghosts) == (clusters, alone)
    finally:
        neardup._HELD_SETS = held

    by_id = {r.id: r.body for r in records}
    t2s = opencc.OpenCC("t2s").convert
    texts = {i: minhash.shingle_text(by_id[i], t2s) for i in ids}
    confirmed = [(a, b) for a, b in edges if minhash.jaccard(texts[a], texts[b], 3) >= threshold]
    labels = component_labels(confirmed)
    expected: dict[str, list[str]] = {}
    for record in members:
        if record.id in labels:
            expected.setdefault(labels[record.id], []).append(record.id)
    assert {label: sorted(r.id for r in group) for label, group in clusters} == {
        label: sorted(group) for label, group in expected.items()
    }
    assert sorted(r.id for r in alone) == sorted(r.id for r in members if r.id not in labels)


def test_verification_splits_a_candidate_component():
    # 64 bands of 2 rows link everything that shares a few shingles: the half-and-half record
    # joins both pairs into one candidate component, which exact Jaccard splits into two
    # clusters and a record left alone.
    docs = [
        raw_doc("s1", body=BASE),
        raw_doc("s2", body=NEAR),  # as long as BASE: the smaller id is kept
        raw_doc("s3", body=OTHER),
        raw_doc("s4", body=OTHER + "是的"),  # the longest of its pair
        raw_doc("s5", body=OTHER[:30] + BASE[:30]),
    ]
    first = min(docs[0].id, docs[1].id)
    second = docs[1].id if first == docs[0].id else docs[0].id
    p, kept, side = _run(docs, fields=["body"], threshold=0.8, bands=64, rows=2)
    assert_that(
        kept | beam.Map(lambda d: (d.id, d.signals.get("dedup.near_cluster_size"))),
        equal_to([(first, 2.0), (docs[3].id, 2.0), (docs[4].id, None)]),
    )
    assert_that(
        side.rejected | beam.Map(lambda r: (r.id, r.kept_id, r.cluster_id)),
        equal_to(
            [
                (second, first, f"minhash:{first}"),
                (docs[2].id, docs[3].id, f"minhash:{min(docs[2].id, docs[3].id)}"),
            ]
        ),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.DedupMinHash")
    # both pairs, and at least one candidate edge from the mixed record to each pair
    assert c["pairs_confirmed"] == 2 and c["pairs_checked"] >= 4


def _segments(*indexes: int) -> str:
    """Text made of 20-character blocks of distinct characters: Jaccard by shared blocks."""
    return "".join(chr(0x4E00 + 20 * i + k) for i in indexes for k in range(20))


def test_a_record_matched_to_an_index_still_links_its_cluster(tmp_path):
    # A record rejected by an index match linked its neighbours when every candidate edge was
    # verified before clustering (its text was compared with theirs); it still does, as a
    # ghost: g2 and g3 are each near g1 and not near each other or the indexed text.
    from beam_cqia.text import minhash

    old = raw_doc("old", body=_segments(0, 1, 2, 3, 10))
    crawl = [
        raw_doc("g1", body=_segments(0, 1, 2, 3, 4, 5)),
        raw_doc("g2", body=_segments(2, 3, 4, 5, 11)),
        raw_doc("g3", body=_segments(0, 1, 4, 5, 12)),
    ]
    g1, g2, g3 = crawl

    def sim(a, b):
        return minhash.jaccard(a.body, b.body, 3)

    assert min(sim(old, g1), sim(g1, g2), sim(g1, g3)) > 0.5
    assert max(sim(old, g2), sim(old, g3), sim(g2, g3)) < 0.3
    index = str(tmp_path / "index")
    config = {"fields": ["body"], "threshold": 0.45, "ngram": 3, "bands": 64, "rows": 2}
    p = new_pipeline()
    p | beam.Create([old]).with_output_types(RawDoc) | DedupMinHash(**config, index_out=index)
    p.run().wait_until_finish()

    p, kept, side = _run(crawl, **config, against=[index])
    keeper, other = sorted([g2, g3], key=lambda d: d.id)  # as long: the smaller id is kept
    label = f"minhash:{min(d.id for d in crawl)}"
    assert_that(
        kept | beam.Map(lambda d: (d.id, d.signals.get("dedup.near_cluster_size"))),
        equal_to([(keeper.id, 2.0)]),
    )
    assert_that(
        side.rejected | beam.Map(lambda r: (r.id, r.reason, r.kept_id, r.cluster_id)),
        equal_to(
            [
                (g1.id, "near_duplicate_of_index", old.id, ""),
                (other.id, "near_duplicate", keeper.id, label),
            ]
        ),
        label="rejected",
    )
    p.run().wait_until_finish()
