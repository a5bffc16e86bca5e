"""Tests for beam_cqia.text.ids (pure functions, no Beam)."""

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_cqia.text.ids import content_id, doc_id, stable_bucket

HEX32 = re.compile(r"^[0-9a-f]{32}$")


# Pinned values: ids and buckets join records across runs and machines, so they must never
# change with a library upgrade or a refactor.
@pytest.mark.parametrize(
    ("fn", "args", "expected"),
    [
        (doc_id, ("zhihu", "2664703842"), "414bc0093535c70e500b1ab9491224b7"),
        (
            content_id,
            ("baike", "高血压", "高血压是一种常见病。"),
            "50246e66d0510d888fd5e5e4a02fee14",
        ),
        (stable_bucket, ("zhihu\x1f2664703842", 8), 4),
        (stable_bucket, ("通用", 1000), 779),
    ],
)
def test_pinned_values(fn, args, expected):
    assert fn(*args) == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("zhihu", "123"), ("zhihu", "124")),
        (("zhihu", "123"), ("baike", "123")),
        (("ab", "c"), ("a", "bc")),  # the separator keeps source and id apart
        (("exam", "gk-2020-生物-07"), ("exam", "gk-2020-生物-7")),
    ],
)
def test_doc_id_distinguishes(a, b):
    assert doc_id(*a) != doc_id(*b)


@pytest.mark.parametrize(
    ("source", "native_id"),
    [("zhihu", "2664703842"), ("baike", "高血压"), ("exam", "臺灣-軟體-01")],
)
def test_doc_id_is_stable_hex(source, native_id):
    first = doc_id(source, native_id)
    assert HEX32.match(first)
    assert doc_id(source, native_id) == first


def test_doc_id_rejects_empty_native_id():
    with pytest.raises(ValueError, match="content_id"):
        doc_id("zhihu", "")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("xhs", "标题", "正文"), ("xhs", "标题正文")),
        (("xhs", "标题", "正文"), ("xhs", "正文", "标题")),
        (("xhs", "标题"), ("douban", "标题")),
        (("xhs",), ("xhs", "")),
    ],
)
def test_content_id_distinguishes(a, b):
    assert content_id(*a) != content_id(*b)
    assert HEX32.match(content_id(*a))


@pytest.mark.parametrize("buckets", [0, -1, -100])
def test_stable_bucket_rejects_non_positive(buckets):
    with pytest.raises(ValueError, match="positive"):
        stable_bucket("key", buckets)


def test_stable_bucket_spreads_keys():
    counts = Counter(stable_bucket(f"record-{i}", 8) for i in range(8000))
    assert set(counts) == set(range(8))
    assert min(counts.values()) > 800  # ~1000 each


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=50), st.integers(min_value=1, max_value=10_000))
def test_stable_bucket_in_range_and_deterministic(key, buckets):
    bucket = stable_bucket(key, buckets)
    assert 0 <= bucket < buckets
    assert stable_bucket(key, buckets) == bucket
    assert stable_bucket(key, 1) == 0
