"""Tests for beam_cqia.text.minhash (pure functions, no Beam)."""

import math
import os
import random
import subprocess
import sys

import numpy as np
import opencc
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from beam_cqia.text import minhash
from beam_cqia.text.dedupkey import dedup_text
from beam_cqia.text.minhash import (
    EMPTY_SIGNATURE_VALUE,
    MinHasher,
    band_keys,
    estimated_jaccard,
    jaccard,
    optimal_bands,
    shingle_text,
)

T2S = opencc.OpenCC("t2s").convert
HAS_RENSA = minhash.rensa is not None
BACKENDS = [
    pytest.param("rensa", marks=pytest.mark.skipif(not HAS_RENSA, reason="rensa not installed")),
    "numpy",
]
_HASHERS = {b: MinHasher(backend=b) for b in ("rensa", "numpy") if b == "numpy" or HAS_RENSA}

SENTENCES = [
    "机器学习是人工智能的一个分支，研究计算机怎样从数据中学习规律。",
    "今天早上下了一场大雨，路上的行人都撑着伞匆匆赶路。",
    "这道数学题需要先画出函数图像，再根据单调性求出最小值。",
    "中国的四大发明包括造纸术、印刷术、火药和指南针。",
    "如果你想学好编程，最重要的是每天坚持写一点代码。",
    "长江是中国最长的河流，全长约六千三百公里，流经十一个省级行政区。",
    "周末我们去公园野餐，孩子们在草地上放风筝玩得很开心。",
    "医生建议感冒的时候多喝温水，注意休息，不要熬夜。",
    "这家餐厅的红烧肉做得特别地道，肥而不腻，入口即化。",
    "请问从北京到上海坐高铁大概需要几个小时？",
    "答：光合作用是绿色植物利用光能把二氧化碳和水转化成有机物的过程。",
    "根据合同法的规定，当事人应当按照约定全面履行自己的义务。",
    "他每天晚上都会读半个小时的书，已经坚持了整整三年。",
    "春节是中国最重要的传统节日，家家户户都要贴春联、吃团圆饭。",
    "这款手机的电池续航很好，但是拍照效果一般，屏幕也有点小。",
    "考研复习的时候一定要制定合理的计划，不能临时抱佛脚。",
    "小明把一个苹果分成四份，他吃了其中的一份，还剩下几份？",
    "秋天到了，树叶一片片地落下来，像一只只金色的蝴蝶。",
    "在数据库中建立索引可以加快查询速度，但会增加写入的开销。",
    "我们应该尊重每一个人的选择，不要把自己的想法强加给别人。",
]
CHARS = "".join(sorted(set("".join(SENTENCES)) - set("，。、？：")))


def hasher(backend: str) -> MinHasher:
    return _HASHERS[backend]


# --- shingle text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "t2s"),
    [
        ("Ｈｅｌｌｏ，世界！", None),
        ("這是一個測試。", T2S),
        ("  机器 学习\t是什么？\n", None),
        ("", None),
    ],
)
def test_shingle_text_is_the_exact_dedup_reduction(text, t2s):
    assert shingle_text(text, t2s) == dedup_text(text, t2s)


# --- variants get identical signatures -------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    ("a", "b", "t2s"),
    [
        ("什么是机器学习？", "什么是机器学习", None),  # punctuation
        ("什么是 机器\t学习\n", "什么是机器学习", None),  # whitespace
        ("Ｐｙｔｈｏｎ３怎么学？", "python3怎么学", None),  # full width and case
        ("PYTHON 入门教程", "python入门教程", None),  # case
        ("“引号”《书名》（括号）好书", "引号书名括号好书", None),
        ("这是一个关于机器学习的问题。", "這是一個關於機器學習的問題！", T2S),  # script
        ("臺灣的軟體產業發展很快", "台湾的软体产业发展很快", T2S),
        ("他每天晚上都会读书", "他每天晚上都會讀書", T2S),
    ],
)
def test_variants_get_identical_signatures(backend, a, b, t2s):
    h = MinHasher(backend=backend, t2s=t2s)
    sigs = h.signatures([a, b])
    assert (sigs[0] == sigs[1]).all()
    assert estimated_jaccard(sigs[0], sigs[1]) == 1.0
    assert jaccard(a, b, t2s=t2s) == 1.0


def test_without_t2s_script_variants_differ():
    sigs = hasher("numpy").signatures(["這是一個關於機器學習的問題", "这是一个关于机器学习的问题"])
    assert estimated_jaccard(sigs[0], sigs[1]) < 0.5


_CONTENT = st.text(
    alphabet=st.sampled_from([*CHARS[:40], *"abcxyzABCXYZ0189", *"ａｂＸＹ０９"]),
    min_size=1,
    max_size=40,
)
_NOISE = st.sampled_from(
    [
        *[" ", "\t", "\n", "\u3000", "\u00a0", "，", "。", "！", "？", "、", "；", "“", "”"],
        *["（", "）", "《", "》", "…", "—", ",", ".", "!", "?", "-", "\u200b", "😀"],
    ]
)
_FULLWIDTH = {c: chr(ord(c) + 0xFEE0) for c in "abcxyzABCXYZ0189"}


@st.composite
def _variant(draw):
    text = draw(_CONTENT)
    noisy = "".join(_FULLWIDTH.get(c, c) if draw(st.booleans()) else c for c in text)
    if draw(st.booleans()):
        noisy = noisy.upper()
    inserts = draw(st.lists(st.tuples(st.integers(0, len(noisy)), _NOISE), max_size=10))
    for pos, token in sorted(inserts, reverse=True):
        noisy = noisy[:pos] + token + noisy[pos:]
    return text, noisy


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=150, deadline=None)
@given(pair=_variant())
@example(pair=("ＡＩ", "ai"))
@example(pair=("学习", "学，习"))
def test_noise_width_and_case_variants_get_identical_signatures(backend, pair):
    text, noisy = pair
    sigs, empty = hasher(backend).signatures_with_mask([text, noisy])
    assert (sigs[0] == sigs[1]).all()
    assert bool(empty[0]) is bool(empty[1]) is (shingle_text(text) == "")


# --- short and empty texts -------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_texts_are_one_shingle(backend):
    sigs, empty = hasher(backend).signatures_with_mask(["猫", "狗", "猫"])
    assert not empty.any()
    assert (sigs[0] == sigs[2]).all()
    assert estimated_jaccard(sigs[0], sigs[1]) < 0.05
    assert (sigs != EMPTY_SIGNATURE_VALUE).all()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("ngram", [2, 3, 5, 7])
def test_short_texts_of_every_length_are_distinct_and_stable(backend, ngram):
    h = MinHasher(ngram=ngram, backend=backend)
    texts = [CHARS[i : i + length] for length in range(1, ngram) for i in range(0, 30, 3)]
    texts += ["猫狗"[: ngram - 1]]  # characters from outside the sentences
    sigs, empty = h.signatures_with_mask(texts)
    assert not empty.any()
    distinct = {bytes(row) for row in sigs}
    assert len(distinct) == len(set(texts))
    again = h.signatures(list(reversed(texts)))[::-1]
    assert (again == sigs).all()
    for a in texts[:5]:
        for b in texts[:5]:
            assert jaccard(a, b, ngram) == (1.0 if a == b else 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_short_text_is_not_similar_to_a_longer_text_containing_it(backend):
    sigs = hasher(backend).signatures(["学习", "学习机器学习"])
    assert jaccard("学习", "学习机器学习") == 0.0
    assert estimated_jaccard(sigs[0], sigs[1]) < 0.05


@pytest.mark.parametrize("backend", BACKENDS)
def test_text_of_exactly_ngram_chars_is_its_only_shingle(backend):
    sigs = hasher(backend).signatures(["机器学习好", "机器学习好！", "机器学习"])
    assert (sigs[0] == sigs[1]).all()
    assert estimated_jaccard(sigs[0], sigs[2]) < 0.05


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_texts_are_flagged_and_never_similar(backend):
    texts = ["", "，。！？", " \n\t\u3000", "😀", "猫", "机器学习是什么"]
    sigs, empty = hasher(backend).signatures_with_mask(texts)
    assert empty.tolist() == [True, True, True, True, False, False]
    assert (sigs[empty] == EMPTY_SIGNATURE_VALUE).all()
    assert (sigs[~empty] != EMPTY_SIGNATURE_VALUE).any(axis=1).all()
    assert estimated_jaccard(sigs[0], sigs[1]) == 0.0
    assert estimated_jaccard(sigs[0], sigs[4]) == 0.0
    assert jaccard("", "") == 0.0
    assert jaccard("，。", "！") == 0.0
    assert jaccard("", "猫") == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_no_texts(backend):
    sigs, empty = hasher(backend).signatures_with_mask([])
    assert sigs.shape == (0, 128)
    assert sigs.dtype == np.uint32
    assert empty.shape == (0,)
    assert hasher(backend).signatures(["", ""]).shape == (2, 128)


# --- determinism -----------------------------------------------------------------------------


def _corpus(rng: random.Random, n: int) -> list[str]:
    texts = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.1:
            texts.append(rng.choice(["", "，", "猫", "学习", "机器学", "Ａｂ"]))
        else:
            texts.append("".join(rng.choices(SENTENCES, k=rng.randint(1, 6))))
    return texts


@pytest.mark.parametrize("backend", BACKENDS)
def test_signatures_do_not_depend_on_batch_or_position(backend, monkeypatch):
    rng = random.Random(7)
    texts = _corpus(rng, 120)
    whole = MinHasher(backend=backend).signatures(texts)
    other_instance = MinHasher(backend=backend).signatures(texts)
    assert (whole == other_instance).all()
    one_by_one = np.vstack([hasher(backend).signatures([t]) for t in texts])
    assert (whole == one_by_one).all()
    order = list(range(len(texts)))
    rng.shuffle(order)
    shuffled = hasher(backend).signatures([texts[i] for i in order])
    assert (shuffled == whole[order]).all()
    # Internal chunks of a few characters: every text alone or with a few neighbours.
    monkeypatch.setattr(minhash, "_CHUNK_CHARS", 50)
    assert (MinHasher(backend=backend).signatures(texts) == whole).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([*SENTENCES, "", "猫", "狗叫", "，。"]), max_size=12), st.data())
def test_any_split_into_batches_gives_the_same_signatures(texts, data):
    for h in _HASHERS.values():
        whole = h.signatures(texts)
        cut = data.draw(st.integers(0, len(texts)))
        parts = np.vstack([h.signatures(texts[:cut]), h.signatures(texts[cut:])])
        assert (parts == whole).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_lone_surrogates_and_nul_in_normalized_input(backend):
    texts = ["\ud800猫狗猫狗猫", "猫狗\x00猫狗猫", "猫狗猫狗猫"]
    sigs = hasher(backend).signatures(texts, normalized=True)
    assert len({bytes(row) for row in sigs}) == 3
    assert (hasher(backend).signatures(texts[:1], normalized=True) == sigs[:1]).all()


def test_normalized_flag_skips_only_the_reduction():
    h = hasher("numpy")
    raw = ["什么是 机器学习？", "Ｐｙｔｈｏｎ"]
    assert (
        h.signatures(raw) == h.signatures([shingle_text(t) for t in raw], normalized=True)
    ).all()


_GOLDEN_TEXT = "机器学习是人工智能的一个分支，研究计算机怎样从数据中学习。"


def test_numpy_signatures_are_stable_across_releases():
    # Stored indexes compare against new signatures: these values must never change.
    sigs = MinHasher(backend="numpy").signatures([_GOLDEN_TEXT, "猫"])
    assert sigs[0, :6].tolist() == [411875337, 32020023, 178736295, 87083577, 16955772, 237630875]
    assert sigs[1, :4].tolist() == [4077837250, 504924358, 3458504784, 4244069548]


@pytest.mark.skipif(not HAS_RENSA, reason="rensa not installed")
def test_rensa_signatures_are_stable_for_its_algorithm_version():
    version = minhash.rensa.RMinHash.ALGORITHM_VERSION
    h = MinHasher(backend="rensa")
    assert f"rensa-rminhash{version}/" in h.scheme
    if version != 2:
        pytest.skip(f"golden values are for rensa ALGORITHM_VERSION 2, not {version}")
    sigs = h.signatures([_GOLDEN_TEXT, "猫"])
    assert sigs[0, :6].tolist() == [
        2270806445,
        309899690,
        3312780480,
        3234468702,
        1693215281,
        3280409284,
    ]
    assert sigs[1, :4].tolist() == [3503698583, 3888662845, 3683925746, 3341845637]


_CHILD = """
import sys
from beam_cqia.text.minhash import MinHasher, band_keys
h = MinHasher(backend=sys.argv[1])
sigs = h.signatures(sys.argv[2:])
sys.stdout.write(sigs.tobytes().hex() + " " + band_keys(sigs, 16, 8).tobytes().hex())
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_signatures_are_the_same_in_other_processes(backend):
    texts = [_GOLDEN_TEXT, "猫", "", SENTENCES[3] * 3]
    sigs = hasher(backend).signatures(texts)
    expected = sigs.tobytes().hex() + " " + band_keys(sigs, 16, 8).tobytes().hex()
    for hash_seed in ("1", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, backend, *texts],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout == expected


def test_seed_and_parameters_change_signatures_and_scheme():
    base = MinHasher(backend="numpy")
    text = [_GOLDEN_TEXT]
    for other in (
        MinHasher(seed=2, backend="numpy"),
        MinHasher(ngram=4, backend="numpy"),
    ):
        assert other.scheme != base.scheme
        assert (other.signatures(text) != base.signatures(text)).any()
    assert MinHasher(num_perm=64, backend="numpy").signatures(text).shape == (1, 64)
    if HAS_RENSA:
        assert MinHasher(backend="rensa").scheme != base.scheme


def test_backend_selection(monkeypatch):
    assert MinHasher().backend == ("rensa" if HAS_RENSA else "numpy")
    monkeypatch.setattr(minhash, "rensa", None)
    assert MinHasher().backend == "numpy"
    with pytest.raises(ImportError, match="rensa"):
        MinHasher(backend="rensa")


@pytest.mark.parametrize(
    "kwargs",
    [{"num_perm": 0}, {"ngram": 0}, {"seed": -1}, {"seed": 1 << 64}, {"backend": "gpu"}],
)
def test_invalid_parameters(kwargs):
    with pytest.raises(ValueError):
        MinHasher(**kwargs)


# --- estimates match exact Jaccard -----------------------------------------------------------


def _edit(rng: random.Random, text: str, edits: int) -> str:
    chars = list(text)
    for _ in range(edits):
        pos = rng.randrange(len(chars))
        op = rng.random()
        if op < 0.6:
            chars[pos] = rng.choice(CHARS)
        elif op < 0.8:
            del chars[pos]
        else:
            chars.insert(pos, rng.choice(CHARS))
    return "".join(chars)


@pytest.mark.parametrize("backend", BACKENDS)
def test_estimates_are_within_three_standard_errors_of_exact_jaccard(backend):
    rng = random.Random(2024)
    pairs = []
    for i in range(400):
        doc = "".join(rng.sample(SENTENCES, k=rng.randint(2, 6)))
        if i % 4 == 3:  # unrelated pair
            other = "".join(rng.choices(CHARS, k=rng.randint(20, 200)))
        else:  # near duplicate with a few edited characters
            other = _edit(rng, doc, rng.randint(1, 12))
        pairs.append((doc, other))
    h = MinHasher(backend=backend)
    sigs = h.signatures([t for pair in pairs for t in pair])
    k = h.num_perm
    exact = np.array([jaccard(a, b) for a, b in pairs])
    est = np.array([estimated_jaccard(sigs[2 * i], sigs[2 * i + 1]) for i in range(len(pairs))])
    se = np.sqrt(exact * (1 - exact) / k)
    diff = est - exact
    # The pairs span the range: unrelated (about 0), edited (0.3-0.99).
    assert exact[3::4].max() < 0.05
    assert exact.max() > 0.9 and np.median(exact) < 0.8
    # Binomial with k draws: 99.7% within 3 SE (plus one draw for discreteness), none beyond 5.
    within = np.abs(diff) <= 3 * se + 1 / k
    assert within.mean() >= 0.99, diff[~within]
    assert (np.abs(diff) <= 5 * se + 1 / k).all()
    # No bias: the mean error is within 3 SE of its own standard error.
    assert abs(diff.mean()) <= 3 * math.sqrt((se**2).sum()) / len(pairs) + 1e-3
    assert np.abs(diff).mean() < 0.03


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.sampled_from([*CHARS[:12], "，", " "]), max_size=30))
def test_estimated_jaccard_of_identical_is_one(text):
    for h in _HASHERS.values():
        sigs, empty = h.signatures_with_mask([text, text + "。"])
        assert estimated_jaccard(sigs[0], sigs[1]) == (0.0 if empty[0] else 1.0)


_JTEXT = st.text(alphabet=st.sampled_from([*CHARS[:10], "，", "Ａ", "a"]), max_size=25)


@settings(max_examples=200, deadline=None)
@given(_JTEXT, _JTEXT, st.integers(1, 6))
def test_jaccard_is_symmetric_and_in_range(a, b, ngram):
    j = jaccard(a, b, ngram)
    assert j == jaccard(b, a, ngram)
    assert 0.0 <= j <= 1.0
    if shingle_text(a):
        assert jaccard(a, a, ngram) == 1.0


@pytest.mark.parametrize(
    ("a", "b", "ngram", "expected"),
    [
        ("一二三四五六", "一二三四五六", 5, 1.0),
        ("一二三四五六", "一二三四五七", 5, 1 / 3),  # {12345, 23456} vs {12345, 23457}
        ("一二三", "一二三四", 2, 2 / 3),
        ("一二", "一二三", 3, 0.0),  # short text: the whole text is the shingle
        ("一，二！", "一二", 2, 1.0),
    ],
)
def test_jaccard_table(a, b, ngram, expected):
    assert jaccard(a, b, ngram) == pytest.approx(expected)


def test_estimated_jaccard_rejects_mismatched_signatures():
    with pytest.raises(ValueError):
        estimated_jaccard(np.zeros(4, np.uint32), np.zeros(8, np.uint32))


# --- optimal bands ---------------------------------------------------------------------------


@pytest.mark.parametrize("num_perm", [64, 128, 256])
def test_optimal_bands_matches_datasketch(num_perm):
    lsh = pytest.importorskip("datasketch.lsh")
    for threshold in np.round(np.arange(0.5, 0.91, 0.05), 2):
        for weights in ((0.5, 0.5), (0.3, 0.7)):
            expected = lsh._optimal_param(threshold, num_perm, *weights)
            assert optimal_bands(threshold, num_perm, *weights) == expected, (threshold, weights)


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.1, 16), (0.7, 128), (0.95, 512)])
def test_optimal_bands_fit_and_centre_on_the_threshold(threshold, num_perm):
    b, r = optimal_bands(threshold, num_perm)
    assert 1 <= b * r <= num_perm
    assert abs((1 / b) ** (1 / r) - threshold) < 0.15


@pytest.mark.parametrize(
    "args", [(0.0, 128), (1.0, 128), (0.5, 0), (0.5, 128, -1.0, 1.0), (0.5, 128, 0.0, 0.0)]
)
def test_optimal_bands_rejects_bad_arguments(args):
    with pytest.raises(ValueError):
        optimal_bands(*args)


# --- band keys -------------------------------------------------------------------------------


@pytest.mark.parametrize(("bands", "rows"), [(128, 1), (64, 2), (42, 3), (32, 4), (25, 5), (16, 8)])
def test_band_keys_equal_iff_band_rows_equal(bands, rows):
    rng = np.random.default_rng(bands)
    base = rng.integers(0, 1 << 32, size=(40, 128), dtype=np.uint32)
    sigs = base.copy()
    # Rows 20..39 copy some bands of rows 0..19; a few differ from them in one value only.
    share = rng.random((20, bands)) < 0.5
    for i in range(20):
        for j in np.flatnonzero(share[i]):
            sigs[20 + i, j * rows : (j + 1) * rows] = sigs[i, j * rows : (j + 1) * rows]
            if rng.random() < 0.2:
                sigs[20 + i, j * rows + rng.integers(rows)] ^= np.uint32(1 << rng.integers(32))
    keys = band_keys(sigs, bands, rows)
    assert keys.shape == (40, bands)
    assert keys.dtype == np.uint64
    parts = sigs[:, : bands * rows].reshape(40, bands, rows)
    for j in range(bands):
        for a in range(40):
            same = (parts[:, j] == parts[a, j]).all(axis=1)
            assert ((keys[:, j] == keys[a, j]) == same).all()


@pytest.mark.parametrize(("bands", "rows"), [(128, 1), (64, 2), (32, 4), (21, 6)])
def test_band_keys_differ_across_band_indexes(bands, rows):
    sigs = np.full((3, 128), 12345, np.uint32)
    sigs[1] = EMPTY_SIGNATURE_VALUE
    sigs[2] = 0
    keys = band_keys(sigs, bands, rows)
    for row in keys:
        assert len(set(row.tolist())) == bands
    assert len(set(keys.ravel().tolist())) == keys.size


def test_band_keys_are_stable_across_releases():
    sig = np.arange(16, dtype=np.uint32).reshape(1, 16) * np.uint32(2654435761)
    assert band_keys(sig, 4, 4).tolist() == [
        [5431358313385828253, 17110841770950325642, 947724886595895986, 12502864957627625728]
    ]
    assert band_keys(sig, 8, 2)[0, :2].tolist() == [7983365767968924789, 11112832657883610854]


def test_band_keys_of_real_signatures_find_near_duplicates():
    h = hasher("numpy")
    doc = "".join(SENTENCES[:5])
    sigs = h.signatures([doc, doc.replace("规律", "规则"), SENTENCES[6] * 2])
    b, r = optimal_bands(0.7, h.num_perm)
    keys = band_keys(sigs, b, r)
    assert (keys[0] == keys[1]).any()
    assert not (keys[0] == keys[2]).any()


@pytest.mark.parametrize(
    ("sigs", "bands", "rows"),
    [
        (np.zeros((2, 16), np.uint32), 4, 5),
        (np.zeros((2, 16), np.uint32), 0, 4),
        (np.zeros((2, 16), np.uint64), 4, 4),
        (np.zeros(16, np.uint32), 4, 4),
    ],
)
def test_band_keys_reject_bad_arguments(sigs, bands, rows):
    with pytest.raises(ValueError):
        band_keys(sigs, bands, rows)
