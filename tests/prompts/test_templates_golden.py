"""Golden tests of every packaged rebuild template, on RawDoc fixtures we wrote.

``tests/golden/templates/fixtures.json`` holds, per template, RawDocs (without ids: each render
gets an id that selects the variant under test). Every variant of every template is rendered on
every fixture of that template and compared with ``tests/golden/templates/<template>.json``;
``pytest --update-goldens`` rewrites those files. A packaged template without fixtures or golden
file fails, so a new template cannot ship untested.
"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from beam_cqia.prompts import Template, TemplateError, TemplateRegistry, load_sources
from beam_cqia.records import RawDoc

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "templates"
FIXTURES = json.loads((GOLDEN / "fixtures.json").read_text(encoding="utf-8"))
PACKAGED = sorted(load_sources())
REGISTRY = TemplateRegistry.from_sources(load_sources())

# Templates whose instruction is the record's own question or title, as in COIG-CQIA (Zhihu,
# SegmentFault, Ruozhiba, consultations, published records): one variant. Every other template
# rewords its request in at least three ways.
NATIVE_INSTRUCTION = {
    "cqia_passthrough.v1",
    "forum_question.v1",
    "medical_qa.v1",
    "segmentfault_qa.v1",
    "zhihu_qa.v1",
}
# Text that means a slot rendered empty or a placeholder leaked.
LEAKS = re.compile(r"\{\{|\{%|\{#|\bNone\b|《》|“”|「」|（）|\(\)|\[\]|，，|、、|：。|，。")


def fixture_docs(name: str) -> list[tuple[str, RawDoc]]:
    docs = []
    for raw in FIXTURES.get(name, []):
        fields = {
            "id": "",
            "url": "",
            "fetched_at": "",
            "origin_file": "fixtures.json",
            "origin_offset": 0,
            "signals": {},
            "lineage": [],
            **{k: v for k, v in raw.items() if k != "name"},
        }
        docs.append((raw["name"], RawDoc(**fields)))
    return docs


def id_for_variant(template: Template, fixture: str, variant: int) -> str:
    """The first id ``<template>:<fixture>:<k>`` that selects ``variant`` (deterministic)."""
    for k in range(10_000):
        candidate = f"{template.name}:{fixture}:{k}"
        if template.variant_for(candidate) == variant:
            return candidate
    raise AssertionError(f"no id selects variant {variant} of {template.name}")


def render_all(name: str) -> list[dict[str, Any]]:
    template = REGISTRY.get(name)
    rows = []
    for fixture, doc in fixture_docs(name):
        for variant in range(1, len(template.variants) + 1):
            rendered = template.render(doc._replace(id=id_for_variant(template, fixture, variant)))
            rows.append(
                {
                    "fixture": fixture,
                    "template_id": rendered.template_id,
                    "instruction": rendered.instruction,
                    "input": rendered.input,
                    "output": rendered.output,
                    "task_type": {"major": rendered.task_major, "minor": rendered.task_minor},
                    "domain": rendered.domain,
                    "metadata": rendered.metadata,
                    "metadata_keys": rendered.metadata_keys,
                    "copyright": rendered.copyright,
                    "answer_from": rendered.answer_from,
                    "human_verified": rendered.human_verified,
                    "output_chars": len(rendered.output),
                    "min_output_chars": template.min_output_chars,
                }
            )
    return rows


@pytest.mark.parametrize("name", PACKAGED)
def test_template_matches_golden(name, update_goldens):
    assert FIXTURES.get(name), f"{name}: add RawDoc fixtures to {GOLDEN / 'fixtures.json'}"
    rows = render_all(name)
    path = GOLDEN / f"{name}.json"
    text = json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
    if update_goldens:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} is missing: run pytest --update-goldens and review it"
    assert json.loads(path.read_text(encoding="utf-8")) == rows, (
        f"{name} renders differently from {path}; if intended, rerun with --update-goldens"
    )


def test_every_golden_belongs_to_a_packaged_template():
    goldens = {p.stem for p in GOLDEN.glob("*.json")} - {"fixtures"}
    assert goldens == set(PACKAGED)
    assert set(FIXTURES) == set(PACKAGED)


@pytest.mark.parametrize("name", PACKAGED)
def test_every_variant_renders_cleanly(name):
    template = REGISTRY.get(name)
    rows = render_all(name)
    variants = {int(r["template_id"].rsplit("#", 1)[1]) for r in rows}
    assert variants == set(range(1, len(template.variants) + 1))
    for row in rows:
        assert row["template_id"].startswith(f"{name}#")
        for part in ("instruction", "output"):
            assert row[part].strip(), f"{row['template_id']}: empty {part}"
        for part in ("instruction", "input", "output"):
            if name == "cqia_passthrough.v1" and part == "output":
                continue  # published text, reproduced as is
            match = LEAKS.search(row[part])
            assert not match, f"{row['template_id']} {part}: {match.group(0)!r} in {row[part]!r}"
        assert row["task_type"]["major"], row["template_id"]
        assert row["domain"] and all(d.strip() for d in row["domain"]), row["template_id"]
        assert all(m.strip() for m in row["task_type"]["minor"]), row["template_id"]


@pytest.mark.parametrize("name", PACKAGED)
def test_header_declares_labels_requirements_and_variants(name):
    template = REGISTRY.get(name)
    text = template.source.split("---#}", 1)[0]
    assert template.description
    assert re.search(r"^task_type:", text, re.M)
    assert re.search(r"^domain:", text, re.M)
    assert template.requires, f"{name} must list the RawDoc fields it needs in requires"
    assert "COIG-CQIA" in text or "No COIG-CQIA" in text, f"{name}: note the CQIA length figure"
    minimum = 1 if name in NATIVE_INSTRUCTION else 3
    assert len(template.variants) >= minimum, f"{name}: {len(template.variants)} variant(s)"


@pytest.mark.parametrize("name", PACKAGED)
def test_each_required_field_empty_is_a_render_failure(name):
    template = REGISTRY.get(name)
    _, doc = fixture_docs(name)[0]
    for field in template.requires:
        if field.startswith("meta."):
            broken = doc._replace(meta={**doc.meta, field[5:]: " "})
            absent = doc._replace(meta={k: v for k, v in doc.meta.items() if k != field[5:]})
        else:
            broken = doc._replace(**{field: ""})
            absent = None
        for bad in filter(None, (broken, absent)):
            with pytest.raises(TemplateError) as info:
                template.render(bad._replace(id="x"))
            message = str(info.value)
            assert message.startswith(f"{name}#{template.variant_for('x')}: ")
            assert f"required field {field!r} is empty" in message
