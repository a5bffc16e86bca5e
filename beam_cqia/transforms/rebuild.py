"""template-rebuild: RawDocs → CqiaRecords through versioned Jinja2 templates."""

from collections.abc import Mapping
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_cqia import prompts
from beam_cqia.records import CqiaRecord, TaskType, format_metadata
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    check_error_handling,
    finish_stage,
    merge_inputs,
    namespace,
)


class _RenderFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        sources: Mapping[str, tuple[str, str]],
        mapping: Mapping[str, str],
    ):
        # Template texts travel with the DoFn, so a template_dir on the launcher's disk works on
        # every worker.
        self._stage, self._sources, self._mapping = stage, dict(sources), dict(mapping)
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")

    def setup(self) -> None:
        self._registry = prompts.TemplateRegistry.from_sources(
            {name: self._sources[name] for name in set(self._mapping.values())}
        )

    def process(self, doc: Any) -> Any:
        self._seen.inc()
        name = self._mapping.get(doc.subset) or self._mapping.get(doc.source)
        if name is None:
            raise prompts.TemplateError(
                f"no template for subset {doc.subset!r} or source {doc.source!r}; "
                f"templates are configured for {sorted(self._mapping)}"
            )
        rendered = self._registry.get(name).render(doc)
        self._passed.inc()
        yield CqiaRecord(
            instruction=rendered.instruction,
            input=rendered.input,
            output=rendered.output,
            task_type=TaskType(rendered.task_major, rendered.task_minor),
            domain=rendered.domain,
            metadata=rendered.metadata
            if rendered.metadata is not None
            else format_metadata(doc.meta or {}, rendered.metadata_keys),
            answer_from=rendered.answer_from or "",
            human_verified=bool(rendered.human_verified),
            copyright=rendered.copyright,
            id=doc.id,
            source=doc.source,
            subset=doc.subset,
            template_id=rendered.template_id,
            signals=dict(doc.signals or {}),
            cluster_id="",
            lineage=[*(doc.lineage or []), f"{self._stage}:{rendered.template_id}"],
        )


class RebuildFromTemplate(beam.PTransform):
    """Turns RawDocs into COIG-CQIA records with versioned Jinja2 templates.

    Each record's template is looked up by its subset, then its source. A template's instruction
    variant is chosen from the record id (deterministic) and recorded in ``template_id`` as
    ``<name>#<n>``; task_type, domain and metadata come from the template's front matter.
    ``answer_from``, ``human_verified`` and placeholders are left to TagSchema. Outputs: records
    (main) and errors (no template, an empty required field, a rendering failure). Counters in
    ``beam_cqia.RebuildFromTemplate``: ``seen``, ``passed``, ``errors``.

    Args:
        templates: template name per subset or source, e.g. ``{zhihu: zhihu_qa.v1}``; names are
            those in ``beam_cqia/prompts/rebuild`` or in ``template_dir``.
        template_dir: a directory (any Beam filesystem path) of extra ``*.j2`` templates, read
            when the pipeline is built; a file there replaces the packaged one of the same name.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        templates: Mapping[str, str],
        template_dir: str | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        if not isinstance(templates, Mapping) or not templates:
            raise ValueError("templates must map subsets or sources to template names")
        for key, name in templates.items():
            if not isinstance(key, str) or not isinstance(name, str):
                raise ValueError(f"templates: {key!r}: {name!r} must map a name to a template name")
        sources = prompts.load_sources([template_dir] if template_dir else [])
        registry = prompts.TemplateRegistry.from_sources(
            {name: sources[name] for name in set(templates.values()) if name in sources}
        )
        for key, name in templates.items():
            if name not in sources:
                raise ValueError(
                    f"templates: {key!r} names unknown template {name!r}; known: {sorted(sources)}"
                )
            registry.get(name)
        check_error_handling(error_handling)
        self._sources = {name: sources[name] for name in set(templates.values())}
        self._mapping = dict(templates)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        docs = merge_inputs(inputs, self.label)
        results = docs | "Render" >> beam.ParDo(
            _RenderFn(self.label, type(self).__name__, self._sources, self._mapping)
        ).with_exception_handling(main_tag=GOOD, dead_letter_tag=ERRORS)
        good = results[GOOD]
        good.element_type = CqiaRecord
        return finish_stage(self, docs, good, None, results[ERRORS], self._error_handling)
