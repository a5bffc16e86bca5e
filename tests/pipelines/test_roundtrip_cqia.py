"""Round trip on the real COIG-CQIA files: every published record read with the ``instruct``
adapter, rebuilt with ``cqia_passthrough.v1`` (nothing filtered), written with WriteCqiaParquet and
ExportCqiaJsonl, must come back field by field (and, in the JSON lines, byte for byte).

Differences the comparison tolerates, all of layout or encoding, none of content:

1. Files: a folder's files (``zhihu/zhihu_expansion.jsonl``, ``zhihu/zhihu_score8.0-8.5...``)
   come out as one file per subset, ``zhihu/zhihu.jsonl``, its lines sorted by record id rather
   than in file order. So each folder is compared as a multiset of records (9 records appear
   twice in the published files; with no dedup stage they are written twice too).
2. Escapes: ExportCqiaJsonl writes U+2028, U+2029 and U+0085 inside strings as ``\\u2028``-style
   escapes so that no line reader splits a record; two published xhs lines hold a raw U+2028.
   Those two lines differ in bytes and parse to the same values; every other line is
   byte-identical to the published one.
3. Parquet holds the published fields and beam-cqia's working fields (id, source, template_id,
   signals...); only the published fields are compared, and ``subset`` comes from the partition.

No stage normalizes text here (no NormalizeText; the template keeps whitespace), key order is the
published order in every file (checked), and nothing else is tolerated.
"""

import collections
import json
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from beam_cqia.records import CQIA_PUBLISHED_FIELDS
from beam_cqia.transforms import (
    ExportCqiaJsonl,
    ReadCrawl,
    RebuildFromTemplate,
    TagSchema,
    WriteCqiaParquet,
)
from tests.conftest import CORPORA, new_pipeline

PUBLISHED_RECORDS = 17971
_ESCAPES = {"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"}


def _published_lines(root: Path) -> dict[str, list[bytes]]:
    """Every non-empty line of every published file, by folder (split on b"\\n" only)."""
    out: dict[str, list[bytes]] = {}
    for path in sorted(root.glob("*/*.jsonl")):
        lines = [line for line in path.read_bytes().split(b"\n") if line.strip()]
        out.setdefault(path.parent.name, []).extend(lines)
    return out


def _escaped(line: bytes) -> bytes:
    text = line.decode("utf-8")
    for raw, escape in _ESCAPES.items():
        text = text.replace(raw, escape)
    return text.encode("utf-8")


def _canonical(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True)


@pytest.fixture(scope="module")
def roundtrip(tmp_path_factory):
    root = CORPORA / "coig-cqia"
    if not root.is_dir():
        pytest.skip(f"real corpora not found at {root}; this test needs ../shared/corpora")
    out = tmp_path_factory.mktemp("roundtrip")
    folders = sorted(p.name for p in root.iterdir() if p.is_dir())
    p = new_pipeline()
    reads = {
        folder: p
        | f"Read_{folder}"
        >> ReadCrawl(str(root / folder / "*.jsonl"), source="instruct", subset=folder)
        for folder in folders
    }
    records = (
        reads
        | "Rebuild" >> RebuildFromTemplate(templates={"instruct": "cqia_passthrough.v1"})
        | "Tag" >> TagSchema()
    )
    _ = records | "Parquet" >> WriteCqiaParquet(str(out / "parquet"))
    _ = records | "Jsonl" >> ExportCqiaJsonl(str(out / "jsonl"))
    p.run().wait_until_finish()
    return root, out, _published_lines(root)


@pytest.mark.corpora
def test_every_record_passes_every_stage(roundtrip):
    _, out, published = roundtrip
    manifest = json.loads((out / "parquet" / "_manifest.json").read_text())
    assert sum(len(lines) for lines in published.values()) == PUBLISHED_RECORDS
    for name, stage in manifest["stages"].items():
        assert stage["rejected"] == {} and stage["errors"] == 0, (name, stage)
    assert manifest["outputs"]["data"]["records"] == PUBLISHED_RECORDS
    assert manifest["outputs"]["data"]["partitions"] == {
        f"subset={folder}": len(lines) for folder, lines in published.items()
    }
    card = (out / "parquet" / "README.md").read_text(encoding="utf-8")
    assert f"**{PUBLISHED_RECORDS:,} records** in {len(published)} subset(s)." in card


@pytest.mark.corpora
def test_jsonl_export_is_the_published_lines(roundtrip):
    _, out, published = roundtrip
    exported_files = sorted(p.relative_to(out / "jsonl").as_posix() for p in out.glob("jsonl/*/*"))
    assert exported_files == [f"{folder}/{folder}.jsonl" for folder in sorted(published)]
    escaped_lines = []
    for folder, lines in published.items():
        ours = (out / "jsonl" / folder / f"{folder}.jsonl").read_bytes()
        assert ours.endswith(b"\n")
        ours_lines = ours[:-1].split(b"\n")
        # Difference 1: a multiset per folder, not the files' order.
        assert collections.Counter(ours_lines) == collections.Counter(map(_escaped, lines)), folder
        escaped_lines += [(folder, line) for line in lines if _escaped(line) != line]
        # Field by field (and key order) against the published objects.
        theirs = collections.Counter(_canonical(json.loads(line)) for line in lines)
        mine = [json.loads(line) for line in ours_lines]
        assert collections.Counter(map(_canonical, mine)) == theirs, folder
        assert all(list(obj) == list(CQIA_PUBLISHED_FIELDS) for obj in mine), folder
    # Difference 2: exactly the two xhs lines with a raw U+2028, escaped.
    assert [folder for folder, _ in escaped_lines] == ["xhs", "xhs"]
    assert all(b"\xe2\x80\xa8" in line for _, line in escaped_lines)


@pytest.mark.corpora
def test_parquet_holds_the_published_records(roundtrip):
    _, out, published = roundtrip
    table = ds.dataset(out / "parquet" / "data", format="parquet", partitioning="hive").to_table()
    by_subset: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for row in table.to_pylist():
        # Difference 3: only the published fields; subset comes from the partition.
        by_subset[row["subset"]][_canonical({k: row[k] for k in CQIA_PUBLISHED_FIELDS})] += 1
        assert row["source"] == "instruct" and row["template_id"].startswith("cqia_passthrough.v1")
    for folder, lines in published.items():
        theirs = collections.Counter(_canonical(json.loads(line)) for line in lines)
        assert by_subset[folder] == theirs, folder
    assert set(by_subset) == set(published)
