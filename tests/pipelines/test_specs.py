"""Every spec in pipelines/ builds (beam-cqia validate's check) with its variables filled in."""

from pathlib import Path

import pytest

from beam_cqia import spec
from tests.conftest import REPO

# Variables that are not paths get a sample value of their kind.
SAMPLES = {
    "contact": "mailto:crawler@example.org",
    "base_url": "http://127.0.0.1:9/v1",
    "model": "kun-test-7b",
}
# The family recipes are cqia_full.yaml's reads and stages, one family at a time:
# tests/pipelines/test_recipes.py checks they are identical to cqia_full's, which builds here, so
# only one family (logic, also run on every runner in tests/runners) is built on its own; building
# all thirteen costs a minute of CPU and checks nothing more.
FAMILY_RECIPES = {f"{p.stem}.yaml" for p in (REPO / "pipelines" / "families").glob("*.yaml")} - {
    "logic.yaml"
}
SPECS = sorted(
    p
    for p in (REPO / "pipelines").glob("*.yaml")
    if p.name != "providers.yaml" and p.name not in FAMILY_RECIPES
)


def _variables(path: Path) -> set[str]:
    return spec.spec_variables(str(path))  # with the files it includes


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.name)
def test_spec_builds(path, tmp_path):
    variables = {name: SAMPLES.get(name, str(tmp_path / name)) for name in _variables(path)}
    parsed = spec.check(str(path), variables)
    assert spec.sink_paths(parsed), f"{path.name} writes nothing with WriteCqiaParquet"


def test_every_transform_in_the_provider_listing_is_exported():
    import yaml

    from beam_cqia import transforms

    listing = yaml.safe_load((REPO / "pipelines" / "providers.yaml").read_text())
    names = listing[0]["transforms"]
    for name, fqn in names.items():
        assert fqn == f"beam_cqia.transforms.{name}"
        assert getattr(transforms, name).__doc__, name
    assert set(names) == {n for n in transforms.__all__ if n[0].isupper() and n != "StageOutputs"}
