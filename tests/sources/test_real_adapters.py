"""Every source adapter on the real corpora it declares: zero unexplained errors or rejections.

Needs ../shared/corpora (third-party data, never copied into the repository); skips, saying so,
when it is absent. Runs the same code as ``benchmarks/real_adapters.py``.
"""

import pytest

from beam_cqia import sources
from benchmarks import real_adapters

# Sources with no public raw corpus: checked on our own fixtures in their unit tests.
NO_REAL_DATA = {"baike", "exam", "segmentfault", "text", "wikihow", "xhs"}


def test_every_adapter_declares_real_data_or_is_known_not_to_have_any():
    declared = {
        name for name, module in sources.MODULES.items() if getattr(module, "REAL_DATA", [])
    }
    assert declared | NO_REAL_DATA == set(sources.ADAPTERS)
    assert not declared & NO_REAL_DATA


@pytest.mark.corpora
def test_every_adapter_on_its_real_corpus(corpora, tmp_path):
    result = real_adapters.run(corpora, tmp_path / "out", real_adapters.entries())
    problems = [f"{e['source']} {e['path']}: {p}" for e in result["entries"] for p in e["problems"]]
    assert problems == []
    docs = sum(e["docs"] for e in result["entries"])
    # every document the adapters emitted went through NormalizeText and came out
    assert result["normalize"]["in"] == result["normalize"]["out"] == docs
