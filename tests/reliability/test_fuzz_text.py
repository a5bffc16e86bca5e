"""Fuzzing the text functions behind ingest: the encoding detector, the HTML extractors and
NormalizeText's normalization, on mutated real text (``../shared/corpora`` when present, our
fixtures otherwise) and on arbitrary input. See tests/reliability/fuzzlib.py for the contracts."""

import random

from hypothesis import given
from hypothesis import strategies as st

from tests.reliability import fuzzlib

_TEXTS = st.deferred(lambda: st.sampled_from(fuzzlib.text_seeds(fuzzlib.all_seeds())))
_HTML = st.deferred(
    lambda: st.sampled_from(
        [t for t in fuzzlib.text_seeds(fuzzlib.all_seeds()) if "<" in t] or ["<p>x</p>"]
    )
)


def _mutated(texts: st.SearchStrategy) -> st.SearchStrategy:
    return st.builds(
        lambda text, seed, steps: fuzzlib.mutate_text(text, random.Random(seed), steps),
        texts,
        st.integers(0, 2**32 - 1),
        st.integers(0, 12),
    )


def _assert_none(crashes: list[fuzzlib.Crash]) -> None:
    assert not crashes, [(c.target, c.kind, c.detail[-2000:]) for c in crashes]


@fuzzlib.fuzz_settings(200)
@given(
    text=_mutated(_TEXTS),
    charset=st.sampled_from(["utf-8", *fuzzlib.CHARSETS]),
    declared=st.sampled_from(fuzzlib.DECLARED),
    html=st.booleans(),
    cut=st.integers(0, 8),
)
def test_decode_of_recoded_mutated_text(text, charset, declared, html, cut):
    data = text.encode(charset, errors="replace")
    _assert_none(fuzzlib.check_decode(data[: len(data) - cut], declared, html))


@fuzzlib.fuzz_settings(150)
@given(
    data=st.binary(max_size=2000), declared=st.sampled_from(fuzzlib.DECLARED), html=st.booleans()
)
def test_decode_of_arbitrary_bytes(data, declared, html):
    _assert_none(fuzzlib.check_decode(data, declared, html))


@fuzzlib.fuzz_settings(60)
@given(
    text=_mutated(_HTML),
    depth=st.sampled_from([0, 0, 50, 2000]),
    tag=st.sampled_from(["div", "font", "li", "table", "b"]),
    closed=st.booleans(),
)
def test_html_extractors_on_mutated_pages(text, depth, tag, closed):
    page = f"<{tag}>" * depth + text + (f"</{tag}>" * depth if closed else "")
    _assert_none(fuzzlib.check_html(page))


@fuzzlib.fuzz_settings(60)
@given(text=st.text(max_size=500))
def test_html_extractors_on_arbitrary_text(text):
    _assert_none(fuzzlib.check_html(text))


@fuzzlib.fuzz_settings(120)
@given(text=_mutated(_TEXTS))
def test_normalize_on_mutated_real_text(text):
    _assert_none(fuzzlib.check_normalize(text))


@fuzzlib.fuzz_settings(100)
@given(text=st.text(st.characters(exclude_categories=["Cs"]), max_size=300))
def test_normalize_on_arbitrary_text(text):
    _assert_none(fuzzlib.check_normalize(text))


def test_normalize_inputs_found_by_fuzzing_stay_idempotent():
    found = [
        # Removing the emoji joined "www" and ".example.org" into a URL the next pass removed.
        "53www👨\u200d👩\u200d👧.example.org23ae94(010)6234\xa05678353c007225d",
        # Removing the landline number joined ❤ and U+FE0F into an emoji.
        "https://ba编辑于 2024-k\U000d31ee.❤010-62345678-123\ufe0fcom/i戽tem/高血压",
    ]
    for text in found:
        _assert_none(fuzzlib.check_normalize(text))
    # And personal data split by what another step removes is still masked.
    from beam_cqia.text.normalize import normalize

    assert normalize("电话138😀12345678", emoji="remove", pii="mask").text == "电话[手机号]"
    assert normalize("电话138\xa01234\xa05678", pii="mask").text == "电话[手机号]"


def test_a_pre_inside_code_is_one_fenced_block():
    from beam_cqia.text.html import fragment_to_markdown

    assert fragment_to_markdown("<code><pre><p>;<p>;") == "```\n;\n\n\n\n;\n```"
    assert fragment_to_markdown("<p>用 <code>x = 1</code> 赋值</p>") == "用 `x = 1` 赋值"


def test_deep_pages_are_extracted_in_linear_time():
    """100,000 nested <div>s would take resiliparse's main-content mode ~15 minutes (quadratic:
    20,000 took 35 s); such pages now go to the plain dump."""
    import time

    from beam_cqia.text import html

    page = (
        "<div>" * 100_000
        + "<p>一段足够长的正文，说明这个页面仍然有内容可取。</p>"
        + "</div>" * 100_000
    )
    start = time.perf_counter()
    extracted = html.extract_main(page)
    assert time.perf_counter() - start < 10
    assert "一段足够长的正文" in extracted.text and extracted.method == "plain"
