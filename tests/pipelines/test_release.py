"""pipelines/release.yaml with the CLI on a demo output: sample, Parquet + card, JSONL, chat."""

import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from beam_cqia import cli
from beam_cqia.records import CQIA_PUBLISHED_FIELDS
from tests.conftest import REPO

RELEASE = str(REPO / "pipelines" / "release.yaml")
QUOTAS = {"zhihu": 50, "baike": 60, "exam": 60}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().split(b"\n") if line]


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("release")
    demo, out = root / "demo", root / "release"
    assert cli.main(["demo", str(demo)]) == 0
    args = ["run", RELEASE, "--var", f"previous={demo}", "--var", f"output={out}"]
    assert cli.main(args) == 0
    return demo, out


def test_release_samples_the_quotas_and_accounts_for_the_rest(release):
    demo, out = release
    before = json.loads((demo / "_manifest.json").read_text())["outputs"]["data"]["partitions"]
    manifest = json.loads((out / "_manifest.json").read_text())
    stages = manifest["stages"]
    assert list(stages) == ["ReadCqiaParquet", "SampleSubsets", "WriteCqiaParquet"]
    assert stages["ReadCqiaParquet"]["out"] == sum(before.values())
    kept = {f"subset={s}": min(n, before[f"subset={s}"]) for s, n in QUOTAS.items()}
    assert manifest["outputs"]["data"]["partitions"] == kept
    assert stages["SampleSubsets"]["rejected"] == {
        "not_sampled": sum(before.values()) - sum(kept.values())
    }
    assert (
        manifest["outputs"]["rejected"]["records"]
        == stages["SampleSubsets"]["rejected"]["not_sampled"]
    )


def test_release_exports_match_the_parquet(release):
    _, out = release
    table = ds.dataset(out / "data", format="parquet", partitioning="hive").to_table()
    parquet: dict[str, list[dict]] = {}
    for row in sorted(table.to_pylist(), key=lambda r: r["id"]):
        parquet.setdefault(row["subset"], []).append(row)
    for subset, rows in parquet.items():
        published = _lines(out / "jsonl" / subset / f"{subset}.jsonl")
        assert published == [{k: r[k] for k in CQIA_PUBLISHED_FIELDS} for r in rows], subset
        chat = _lines(out / "chat" / subset / f"{subset}.jsonl")
        assert [c["messages"][-1]["content"] for c in chat] == [r["output"] for r in rows]
        assert all([m["role"] for m in c["messages"]] == ["user", "assistant"] for c in chat)
    for kind in ("jsonl", "chat"):
        export = json.loads((out / kind / "_manifest.json").read_text())
        assert export["records"] == table.num_rows
        assert (out / kind / "_SUCCESS").exists()


def test_release_card_names_the_spec_and_the_sample(release):
    _, out = release
    card = (out / "README.md").read_text(encoding="utf-8")
    assert f"- spec: `{RELEASE}`" in card
    assert "type: SampleSubsets" in card and "quotas: {zhihu: 50" in card
    assert "| SampleSubsets | SampleSubsets |" in card and "not_sampled:" in card
    assert "**170 records** in 3 subset(s)." in card
