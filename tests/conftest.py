"""Shared test fixtures: local runner, counters, golden-file regeneration."""

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.testing.test_pipeline import TestPipeline

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"


def pytest_addoption(parser):
    parser.addoption(
        "--update-goldens",
        action="store_true",
        help="rewrite golden files from the current output instead of comparing",
    )


@pytest.fixture
def update_goldens(request) -> bool:
    return request.config.getoption("--update-goldens")


@pytest.fixture
def corpora() -> Path:
    """The real data folder; skips (visibly) when it is absent."""
    if not CORPORA.is_dir():
        pytest.skip(f"real corpora not found at {CORPORA}; this test needs ../shared/corpora")
    return CORPORA


def new_pipeline() -> beam.Pipeline:
    """A TestPipeline on the in-memory FnApiRunner (DirectRunner would first try to fetch Prism)."""
    return TestPipeline(runner=FnApiRunner(), blocking=False)


def counters(result, namespace: str) -> dict[str, int]:
    """Counter totals of a namespace, summed over steps: {name: value}."""
    out: dict[str, int] = {}
    query = result.metrics().query(MetricsFilter().with_namespace(namespace))
    for c in query["counters"]:
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + c.committed
    return out
