"""The real-data recipes: per-family recipes and cqia_full.yaml share their stages, cqia_full.yaml
builds every family end to end from a small sample of ../shared/corpora, and cqia_reclean.yaml
finds COIG-CQIA's known defects.

Real third-party data is read from ../shared/corpora (never copied into the repository): the
end-to-end tests write a small sample of it into a temporary folder with the corpora's layout
(:func:`write_sample`) and skip, saying so, when the folder is absent. Every recipe also builds in
tests/pipelines/test_specs.py (what ``beam-cqia validate`` checks).
"""

import csv
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.dataset as ds
import pytest

from beam_cqia import report, spec
from beam_cqia.records import CQIA_PUBLISHED_FIELDS
from tests.conftest import REPO

PIPELINES = REPO / "pipelines"
FAMILIES = sorted(p.stem for p in (PIPELINES / "families").glob("*.yaml") if p.stem != "stages")
SHARED = (
    "NormalizeRecords",
    "DedupRecords",
    "NearDedupRecords",
    "ScoreRecords",
    "FilterRecords",
    "RebuildRecords",
    "TagRecords",
)
# The subsets a sample of every folder must give (wikihow has no data in the corpora).
SUBSETS = {
    "zhihu",
    "douban",
    "xhs",
    "segmentfault",
    "wiki",
    "exam",
    "logi_qa",
    "human_value",
    "chinese_traditional",
    "finance",
    "medical",
    "ruozhiba",
}


def _transforms(path: Path, variables: dict[str, str]) -> dict[str, dict[str, Any]]:
    from apache_beam.yaml.yaml_transform import SafeLineLoader

    _, parsed = spec.load(str(path), variables)
    out = {}
    for t in SafeLineLoader.strip_metadata(parsed)["pipeline"]["transforms"]:
        name = t.get("name", t["type"])
        assert name not in out, f"{path.name}: two transforms named {name}"
        out[name] = t
    return out


def _inputs(transform: dict[str, Any]) -> list[str]:
    value = transform.get("input", [])
    if isinstance(value, dict):
        return list(value.values())
    return [value] if isinstance(value, str) else list(value)


def test_family_recipes_and_cqia_full_share_reads_and_stages():
    variables = {"input": "IN", "output": "OUT"}
    full = _transforms(PIPELINES / "cqia_full.yaml", variables)
    consumed = {i for t in full.values() for i in _inputs(t)}
    sinks = {"WriteCqiaParquet", "ExportCqiaJsonl"}
    # Nothing is read and dropped on the floor: every transform's output goes somewhere.
    assert sorted(n for n in full if n not in consumed and n not in sinks) == []
    for family in FAMILIES:
        recipe_path = PIPELINES / f"{family}.yaml"
        assert recipe_path.is_file(), f"pipelines/families/{family}.yaml has no recipe"
        recipe = _transforms(recipe_path, variables)
        for name in SHARED:  # the shared stages, configured identically
            assert {**recipe[name], "input": None} == {**full[name], "input": None}, name
        fragment = _transforms_of_fragment(family)
        for name in fragment:  # the family's own transforms, identical in both
            assert recipe[name] == full[name], (family, name)
        # The recipe's extra reads are crawls the shared corpora do not have.
        extra = set(recipe) - set(full) - sinks
        assert all(recipe[n]["type"] == "ReadCrawl" for n in extra), (family, extra)
        assert set(_inputs(recipe["NormalizeRecords"])) - extra <= set(
            _inputs(full["NormalizeRecords"])
        )
        assert not [n for n in recipe if n not in consumed and n not in sinks and n not in extra]


def test_variables_of_included_files_are_asked_for():
    # logic.yaml names only `output` itself; `input` is used by the files it includes.
    assert spec.spec_variables(str(PIPELINES / "logic.yaml")) == {"input", "output"}
    # `configs` is optional (tested with `is defined`), `reads` set by the spec itself.
    assert spec.spec_variables(str(PIPELINES / "cqia_reclean.yaml")) == {"input", "output"}
    with pytest.raises(spec.SpecError, match=r"pass --var input=\.\.\."):
        spec.render(str(PIPELINES / "logic.yaml"), {"output": "out"})


def _transforms_of_fragment(family: str) -> list[str]:
    import yaml

    text = (PIPELINES / "families" / f"{family}.yaml").read_text(encoding="utf-8")
    return [t["name"] for t in yaml.safe_load("transforms:\n" + text)["transforms"]]


# --- a sample of the real corpora ----------------------------------------------------------------


def _head_lines(src: Path, dst: Path, n: int) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    lines = [line for line in src.read_bytes().split(b"\n") if line.strip()][:n]
    dst.write_bytes(b"\n".join(lines) + b"\n")


def _json_items(src: Path, dst: Path, n: int, key: str | None = None) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(src.read_text(encoding="utf-8"))
    if key:
        data = {**data, key: data[key][:n]}
    elif isinstance(data, dict):
        data = dict(list(data.items())[:n])
    else:
        data = data[:n]
    dst.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _csv_rows(src: Path, dst: Path, n: int, encoding: str = "utf-8") -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    rows = list(csv.reader(io.StringIO(src.read_bytes().decode(encoding))))[: n + 1]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    dst.write_bytes(buffer.getvalue().encode(encoding))


def write_sample(corpora: Path, dst: Path, n: int = 12) -> Path:
    """A small copy of every corpora folder a family reads, in the same layout (temporary use
    only: the data is third-party). ``n`` is roughly the records per file."""
    c, d = corpora, dst
    zhihu = "zhihu-api-fixtures/real-api/answer-detail.json"  # one answer: copied whole
    (d / zhihu).parent.mkdir(parents=True)
    (d / zhihu).write_bytes((c / zhihu).read_bytes())
    _json_items(c / "douban-dmr/movies.json", d / "douban-dmr/movies.json", 4 * n)
    _json_items(c / "douban-dmr/reviews.json", d / "douban-dmr/reviews.json", 2)
    for folder in ("xhs", "segmentfault", "human_value", "finance", "ruozhiba"):
        for path in sorted((c / "coig-cqia" / folder).glob("*.jsonl")):
            _head_lines(path, d / "coig-cqia" / folder / path.name, n)
    for name in ("115.md", "291.md", "356.md"):
        _head_lines(c / "zhwiki-sample/words_md" / name, d / "zhwiki-sample/words_md" / name, 10**6)
    for name in ("2010-2022_Biology_MCQs.json", "2010-2022_History_MCQs.json"):
        sub = "Objective_Questions"
        _json_items(c / "gaokao-bench" / sub / name, d / "gaokao-bench" / sub / name, n, "example")
    for split in ("dev", "test"):
        for subject in ("agronomy", "chinese_history"):
            _csv_rows(c / f"cmmlu/{split}/{subject}.csv", d / f"cmmlu/{split}/{subject}.csv", n)
        _head_lines(c / f"logiqa2-zh/{split}_zh.txt", d / f"logiqa2-zh/{split}_zh.txt", n)
    _head_lines(c / "jec-qa-sample/small_data.json", d / "jec-qa-sample/small_data.json", n)
    _json_items(
        c / "chinese-poetry/全唐诗/poet.tang.0.json",
        d / "chinese-poetry/全唐诗/poet.tang.0.json",
        2 * n,
    )
    _json_items(
        c / "chinese-poetry/宋词/ci.song.0.json", d / "chinese-poetry/宋词/ci.song.0.json", n
    )
    _json_items(c / "chinese-xinhua/xiehouyu.json", d / "chinese-xinhua/xiehouyu.json", n)
    medical = "medical-dialogue-toyhom/sample_IM_5000-6000.gb18030.csv"
    _csv_rows(c / medical, d / medical, 2 * n, encoding="gb18030")
    text = "IM_neike.gb18030.txt"
    blocks = (c / "medical-dialogue-toyhom" / text).read_bytes().decode("gb18030").split("\n\n")
    (d / "medical-dialogue-toyhom" / text).write_bytes(
        "\n\n".join(b for b in blocks if b.strip())[: 20 * 200]
        .rsplit("\n\n", 1)[0]
        .encode("gb18030")
    )
    _json_items(
        c / "ruozhiba-tieba/ruozhiba-title-good.json",
        d / "ruozhiba-tieba/ruozhiba-title-good.json",
        n,
    )
    return dst


def _run(spec_path: Path, variables: dict[str, str], capsys) -> str:
    from beam_cqia import cli

    status = cli.main(["run", str(spec_path), *(f"--var={k}={v}" for k, v in variables.items())])
    printed = capsys.readouterr()
    assert status == 0, printed.out[-3000:] + printed.err[-3000:]
    return printed.out


def _signature(record: dict[str, Any]) -> tuple:
    return (
        tuple(record),
        tuple(type(v).__name__ for v in record.values()),
        tuple(record["task_type"]),
        tuple(type(v).__name__ for v in record["task_type"].values()),
    )


@pytest.mark.corpora
def test_cqia_full_builds_every_family_from_a_sample(corpora, tmp_path, capsys):
    sample = write_sample(corpora, tmp_path / "corpora")
    out = tmp_path / "out"
    printed = _run(PIPELINES / "cqia_full.yaml", {"input": sample, "output": out}, capsys)
    manifest = report.read_manifest(str(out))
    # The CLI checked the counts against Beam's counters; the manifest adds up on its own too.
    assert "COUNT MISMATCH" not in printed
    assert report.conservation_problems(manifest) == []
    for name, stage in manifest["stages"].items():
        rejected = sum(stage.get("rejected", {}).values())
        assert stage["in"] == stage["out"] + rejected + stage["errors"], name
        assert stage["errors"] == 0, (name, stage)
    table = ds.dataset(out / "data", format="parquet", partitioning="hive").to_table()
    subsets = set(table.column("subset").to_pylist())
    assert subsets >= SUBSETS, f"missing subsets {sorted(SUBSETS - subsets)}"
    # Decontamination: no item of the sampled benchmark sets is left in the exam and logic data.
    kept_sources = {
        (s, src)
        for s, src in zip(
            table.column("subset").to_pylist(), table.column("source").to_pylist(), strict=True
        )
    }
    assert ("exam", "gaokao") not in kept_sources
    contaminated = manifest["stages"]["DecontaminateBenchmarks"]["rejected"]["contaminated"]
    assert contaminated >= 3 * 12  # the sampled GAOKAO, CMMLU test and LogiQA test items
    # Schema identity with COIG-CQIA: the exported lines have the published keys, order and types.
    reference = json.loads(
        (corpora / "coig-cqia/ruozhiba/ruozhiba_ruozhiba.jsonl").read_bytes().split(b"\n")[0]
    )
    assert tuple(reference) == CQIA_PUBLISHED_FIELDS
    exported = [
        json.loads(line)
        for path in (out / "jsonl").glob("*/*.jsonl")
        for line in path.read_bytes().split(b"\n")
        if line.strip()
    ]
    assert len(exported) == table.num_rows
    assert {_signature(r) for r in exported} == {_signature(reference)}
    assert {p.parent.name for p in (out / "jsonl").glob("*/*.jsonl")} == subsets


@pytest.mark.corpora
def test_cqia_reclean_finds_the_known_defects(corpora, tmp_path, capsys):
    src, cqia = corpora / "coig-cqia", tmp_path / "coig-cqia"

    def lines(rel: str, numbers: list[int]) -> None:
        data = (src / rel).read_bytes().split(b"\n")
        (cqia / rel).parent.mkdir(parents=True, exist_ok=True)
        with (cqia / rel).open("ab") as fh:
            fh.write(b"\n".join(data[i - 1] for i in numbers) + b"\n")

    lines("zhihu/zhihu_expansion.jsonl", list(range(75, 102)))  # \frac eaten: \f in 8
    lines("ruozhiba/ruozhiba_ruozhiba.jsonl", list(range(1, 16)))  # line 11: 作为一个虚拟AI助手
    lines("chinese_traditional/chengyu.jsonl", list(range(1, 112)))  # one cut off mid-clause
    lines("segmentfault/segmentfault_upvote5_clean.jsonl", [130, 131, 132])  # 130 == 132
    out = tmp_path / "out"
    configs = "zhihu,ruozhiba,chinese_traditional,segmentfault"
    _run(
        PIPELINES / "cqia_reclean.yaml",
        {"input": cqia, "output": out, "configs": configs},
        capsys,
    )

    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import cqia_reclean_report
    finally:
        sys.path.pop(0)
    pub = cqia_reclean_report.published(cqia)
    kept, rejected, manifest = cqia_reclean_report.read_output(out)
    assert report.conservation_problems(manifest) == []
    found = {
        d["defect"].split(" (")[0]: d
        for d in cqia_reclean_report.analyse(pub, kept, rejected)["defects"]
    }
    formfeed = found["\\f in Zhihu instructions"]
    assert formfeed["published"] == formfeed["found"] == 8
    eaten = found["LaTeX commands eaten by escape decoding, any field"]
    assert eaten["found"] == eaten["published"] > formfeed["published"]
    repaired = [kept[p["id"]]["instruction"] for p in pub if "\f" in p["record"]["instruction"]]
    assert len(repaired) == 8
    assert all("\\frac" in text and "\f" not in text for text in repaired)
    assert found["assistant phrases in Ruozhiba answers"]["found"] == 1
    assert found["exact duplicates"]["published"] == found["exact duplicates"]["found"] == 1
    cut = {r["id"] for r in rejected if r["reason"] == "cut_off"}
    by_line = {(p["file"], p["line"]): p["id"] for p in pub}
    chengyu_cut = [
        p["id"]
        for p in pub
        if p["file"].startswith("chinese_traditional") and p["record"]["output"].endswith("，")
    ]
    assert chengyu_cut and set(chengyu_cut) <= cut
    assert by_line[("ruozhiba/ruozhiba_ruozhiba.jsonl", 11)] not in kept
