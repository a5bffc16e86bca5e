"""Tests for beam_cqia.layout (pure functions, no Beam)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beam_cqia.layout import (
    EMPTY,
    MAX_SEGMENT_BYTES,
    PART_FILE,
    part_name,
    partition_dir,
    safe_value,
    shard_count,
)

_SAFE_CHARS = re.compile(r"^[\w\-.~\u00b7]+$")
_ESCAPE = re.compile(r"_([0-9a-f]{2})")


def decode(segment: str) -> str:
    """Inverts safe_value for segments that were not cut (proves the encoding injective)."""
    if segment == EMPTY:
        return ""
    out = bytearray()
    i = 0
    while i < len(segment):
        m = _ESCAPE.match(segment, i)
        if m:
            out.append(int(m.group(1), 16))
            i = m.end()
        else:
            out += segment[i].encode("utf-8")
            i += 1
    return out.decode("utf-8")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("zhihu", "zhihu"),
        ("通用", "通用"),
        ("臺灣", "臺灣"),
        ("知乎·精选", "知乎·精选"),
        ("v1.2-beta~3", "v1.2-beta~3"),
        ("医学/内科", "医学_2f内科"),
        ("../../etc", ".._2f.._2fetc"),
        ("a b", "a_20b"),
        ("k=v", "k_3dv"),
        ("中文，标点", "中文_ef_bc_8c标点"),
        ("😀", "_f0_9f_98_80"),
        ("\x00", "_00"),
        (".", "_2e"),
        ("..", "_2e_2e"),
        ("...", "..."),
        ("", EMPTY),
        (None, EMPTY),
        (EMPTY, "_5f_5fempty_5f_5f"),
        ("x_2f", "x_5f2f"),  # a literal "_xx" cannot pass for an escape
        ("_ab", "_5fab"),
        ("snake_case", "snake_5fcase"),  # "_ca" looks like an escape too
        ("_AB", "_AB"),  # escapes are lowercase hex only
        ("a_", "a_"),
        ("x_0", "x_0"),
        (2023, "2023"),
        (True, "True"),
    ],
)
def test_safe_value_table(value, expected):
    assert safe_value(value) == expected
    if value is not None:
        assert decode(expected) == str(value)


def test_safe_value_cuts_long_values_with_a_hash():
    long_a = "长" * 100  # 300 bytes
    long_b = "长" * 99 + "短"
    seg_a, seg_b = safe_value(long_a), safe_value(long_b)
    assert len(seg_a.encode("utf-8")) <= MAX_SEGMENT_BYTES
    assert re.fullmatch(r"长{37}-[0-9a-f]{16}", seg_a)
    assert seg_a != seg_b  # same cut prefix, different hash
    assert safe_value(long_a) == seg_a  # deterministic


def test_safe_value_cut_never_splits_a_character():
    # 1 + 300 bytes; the cut at 111 bytes falls inside the 37th "长", which is dropped whole.
    seg = safe_value("a" + "长" * 100)
    assert re.fullmatch(r"a长{36}-[0-9a-f]{16}", seg)
    # Escaped emoji (12 bytes each) keep 37 escapes (111 bytes); the hash keeps them unique.
    seg = safe_value("😀" * 100)
    assert re.fullmatch(r"(?:_[0-9a-f]{2}){37}-[0-9a-f]{16}", seg)
    assert len(seg.encode("utf-8")) <= MAX_SEGMENT_BYTES
    assert safe_value("😀" * 101) != seg


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=200), st.integers(), st.none()))
def test_safe_value_is_a_single_safe_segment(value):
    seg = safe_value(value)
    assert seg
    assert "/" not in seg
    assert "\\" not in seg
    assert seg not in (".", "..")
    assert len(seg.encode("utf-8")) <= MAX_SEGMENT_BYTES
    assert _SAFE_CHARS.match(seg)


# Short values: at most 8 characters of at most 4 UTF-8 bytes, escaped to at most 96 bytes, so
# never cut; decoding them back proves the encoding is injective.
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=8))
def test_safe_value_round_trips_short_values(value):
    assert decode(safe_value(value)) == value


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(max_size=8),
            st.text(alphabet="_0123456789abcdefABCDEF./ ", max_size=8),
            st.sampled_from(["", EMPTY, ".", "..", "_2e", "_2e_2e", "_5f_5fempty_5f_5f"]),
        ),
        unique=True,
        max_size=20,
    )
)
def test_safe_value_is_injective_on_short_values(values):
    segments = [safe_value(v) for v in values]
    assert len(set(segments)) == len(values)


# --- partition_dir, part_name, shard_count ---------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "values", "expected"),
    [
        (["subset"], ["zhihu"], "subset=zhihu"),
        (["subset", "domain"], ["zhihu", "通用"], "subset=zhihu/domain=通用"),
        (("subset", "domain"), ("baike", "医学/内科"), "subset=baike/domain=医学_2f内科"),
        (["subset", "domain"], ["exam", ""], "subset=exam/domain=__empty__"),
        (["year"], [2023], "year=2023"),
        (["domain"], [".."], "domain=_2e_2e"),
        ([], [], ""),
    ],
)
def test_partition_dir(keys, values, expected):
    result = partition_dir(keys, values)
    assert result == expected
    assert result.count("/") == max(len(keys) - 1, 0)


@pytest.mark.parametrize(("keys", "values"), [(["subset"], []), (["a", "b"], ["x"]), ([], ["x"])])
def test_partition_dir_needs_one_value_per_key(keys, values):
    with pytest.raises(ValueError, match="one value per partition key"):
        partition_dir(keys, values)


@pytest.mark.parametrize(
    ("shard", "shards", "expected"),
    [
        (0, 1, "part-00000-of-00001.parquet"),
        (3, 8, "part-00003-of-00008.parquet"),
        (99999, 100000, "part-99999-of-100000.parquet"),
    ],
)
def test_part_name(shard, shards, expected):
    assert part_name(shard, shards) == expected


def test_part_file_pattern():
    assert PART_FILE.match(part_name(3, 8))
    assert not PART_FILE.match("part-3-of-8.parquet")
    assert not PART_FILE.match("part-00003-of-00008.parquet.tmp")
    assert not PART_FILE.match("_SUCCESS")


@pytest.mark.parametrize(("shard", "shards"), [(8, 8), (-1, 8), (0, 0), (5, 3)])
def test_part_name_rejects_out_of_range(shard, shards):
    with pytest.raises(ValueError, match="out of range"):
        part_name(shard, shards)


@pytest.mark.parametrize(
    ("records", "per_file", "expected"),
    [(0, 100, 1), (1, 100, 1), (100, 100, 1), (101, 100, 2), (250, 100, 3), (7, 1, 7)],
)
def test_shard_count(records, per_file, expected):
    assert shard_count(records, per_file) == expected


@pytest.mark.parametrize("per_file", [0, -5])
def test_shard_count_rejects_non_positive(per_file):
    with pytest.raises(ValueError, match="positive"):
        shard_count(10, per_file)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**7), st.integers(1, 10**5))
def test_shard_count_is_the_smallest_that_fits(records, per_file):
    n = shard_count(records, per_file)
    assert n >= 1
    assert n * per_file >= records
    assert n == 1 or (n - 1) * per_file < records
