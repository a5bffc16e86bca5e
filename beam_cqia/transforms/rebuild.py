"""template-rebuild: RawDocs → CqiaRecords through versioned Jinja2 templates."""

import json
from collections.abc import Mapping, Sequence
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from beam_cqia import prompts
from beam_cqia.lineage import cluster_of
from beam_cqia.records import CqiaRecord, RawDoc, TaskType, format_metadata
from beam_cqia.text.ids import content_id
from beam_cqia.transforms._stage import (
    ERRORS,
    GOOD,
    REJECTED,
    check_error_handling,
    finish_stage,
    merge_inputs,
    namespace,
    rejected,
)

OUTPUT_TOO_SHORT = "output_too_short"

# The profile meta keys a recommendation list carries for each subject.
RECOMMENDATION_KEYS = (
    "title",
    "year",
    "release_date",
    "region",
    "genres",
    "languages",
    "director",
    "writers",
    "cast",
    "rating",
    "imdb",
    "author",
    "publisher",
)
_FORMATS = ("", "markdown", "table", "json")
_SORTS = ("", "asc", "desc", "none")


def recommendation_doc(
    profiles: Sequence[Any],
    genre: str = "",
    decade: str = "",
    region: str = "",
    high_rated: bool = False,
    fmt: str = "",
    fields: Sequence[str] = (),
    sort: str = "",
    subset: str = "douban_recommend",
) -> RawDoc:
    """One RawDoc recommending several Douban subjects, for ``douban_recommend_list.v1``.

    COIG-CQIA's recommendation records list several films or series chosen by genre, decade,
    region or rating; a crawl has one profile per subject, so a grouping step (a Beam
    ``GroupByKey`` on the criteria, then this function per group, or a hand-picked list) builds
    the record. ``meta.subjects`` is a JSON list of the profiles' metas (RECOMMENDATION_KEYS);
    the criteria become the slots of the request. ``fmt``, ``fields`` and ``sort`` fix what the
    template would otherwise choose from the record id. The id hashes the subject ids and the
    criteria, so the same group always gets the same id (and instruction variant).

    Args:
        profiles: Douban profile RawDocs (``source`` douban), all of one ``meta.media_type``.
        genre: the genre they share, e.g. 剧情 ("" if not chosen by genre).
        decade: the decade they share, e.g. 2010.
        region: the region they share, e.g. 美国.
        high_rated: whether they were chosen for a high rating.
        fmt: markdown, table or json ("" lets the template choose).
        fields: profile meta keys to show ("" lets the template choose among those every
            subject has).
        sort: asc, desc or none (by rating; "" lets the template choose).
        subset: the output subset.

    Raises:
        ValueError: for no profiles, mixed media types or an unknown format or sort.
    """
    if not profiles:
        raise ValueError("a recommendation needs at least one profile")
    media = {str((p.meta or {}).get("media_type", "")) for p in profiles}
    if len(media) != 1 or not next(iter(media)):
        raise ValueError(f"profiles must share one media_type, got {sorted(media)}")
    if fmt not in _FORMATS or sort not in _SORTS:
        raise ValueError(f"fmt must be one of {_FORMATS[1:]} and sort one of {_SORTS[1:]}")
    unknown = sorted(set(fields) - set(RECOMMENDATION_KEYS))
    if unknown:
        raise ValueError(f"unknown fields {unknown}; use {list(RECOMMENDATION_KEYS)}")
    subjects = [
        {
            k: str((p.meta or {}).get(k, "") or (p.title if k == "title" else ""))
            for k in RECOMMENDATION_KEYS
        }
        for p in profiles
    ]
    criteria = {
        "genre": genre,
        "decade": decade,
        "region": region,
        "high_rated": "1" if high_rated else "",
        "format": fmt,
        "fields": "/".join(fields),
        "sort": sort,
    }
    ids = sorted(p.id for p in profiles)
    return RawDoc(
        id=content_id("douban", "recommendation", *ids, json.dumps(criteria, sort_keys=True)),
        source="douban",
        subset=subset,
        url="",
        title="",
        question="",
        body="",
        answer="",
        meta={
            "media_type": next(iter(media)),
            "subjects": json.dumps(subjects, ensure_ascii=False),
            "subject_ids": "/".join(str((p.meta or {}).get("subject_id", "")) for p in profiles),
            **{k: v for k, v in criteria.items() if v},
        },
        fetched_at="",
        origin_file="",
        origin_offset=0,
        signals={},
        lineage=[f"recommendation_doc:{len(profiles)}"],
    )


class _RenderFn(beam.DoFn):
    def __init__(
        self,
        stage: str,
        kind: str,
        sources: Mapping[str, tuple[str, str]],
        mapping: Mapping[str, str],
        min_output_chars: Mapping[str, int] | None = None,
        by_source: Mapping[str, str] | None = None,
    ):
        # Template texts travel with the DoFn, so a template_dir on the launcher's disk works on
        # every worker.
        self._stage, self._sources, self._mapping = stage, dict(sources), dict(mapping)
        self._by_source = dict(by_source or {})
        self._min_chars = dict(min_output_chars or {})
        self._seen = Metrics.counter(namespace(kind), "seen")
        self._passed = Metrics.counter(namespace(kind), "passed")
        self._too_short = Metrics.counter(namespace(kind), f"filtered:{OUTPUT_TOO_SHORT}")

    def setup(self) -> None:
        names = {*self._mapping.values(), *self._by_source.values()}
        self._registry = prompts.TemplateRegistry.from_sources(
            {name: self._sources[name] for name in names}
        )

    def process(self, doc: Any) -> Any:
        self._seen.inc()
        name = (
            self._by_source.get(doc.source)
            or self._mapping.get(doc.subset)
            or self._mapping.get(doc.source)
        )
        if name is None:
            raise prompts.TemplateError(
                f"no template for subset {doc.subset!r} or source {doc.source!r}; "
                f"templates are configured for {sorted(self._mapping)}"
                + (f", source_templates for {sorted(self._by_source)}" if self._by_source else "")
            )
        template = self._registry.get(name)
        rendered = template.render(doc)
        floor = self._min_chars.get(name, template.min_output_chars)
        if len(rendered.output) < floor:
            self._too_short.inc()
            yield rejected(
                doc,
                self._stage,
                OUTPUT_TOO_SHORT,
                f"{rendered.template_id}: output has {len(rendered.output)} characters, "
                f"fewer than {floor}",
            )
            return
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
            cluster_id=getattr(doc, "cluster_id", "") or cluster_of(doc.lineage),
            lineage=[*(doc.lineage or []), f"{self._stage}:{rendered.template_id}"],
        )


class RebuildFromTemplate(beam.PTransform):
    """Turns RawDocs into COIG-CQIA records with versioned Jinja2 templates.

    Each record's template is looked up in ``source_templates`` by its source, then in
    ``templates`` by its subset, then by its source. A template's instruction
    variant is chosen from the record id (deterministic) and recorded in ``template_id`` as
    ``<name>#<n>``; task_type, domain and metadata come from the template's front matter.
    ``answer_from``, ``human_verified`` and placeholders are left to TagSchema unless the template
    sets them. Outputs: records (main); rejected, reason ``output_too_short``, for a record whose
    rendered output is shorter than the template's ``min_output_chars`` (the RawDoc is kept in
    the rejected row, the detail names the template id and the lengths); errors for no template,
    a missing or empty required field, a rendering failure (the message starts with the template
    id ``<name>#<n>`` and names the field). Counters in ``beam_cqia.RebuildFromTemplate``:
    ``seen``, ``passed``, ``filtered:output_too_short``, ``errors``.

    Args:
        templates: template name per subset or source, e.g. ``{zhihu: zhihu_qa.v1}``; names are
            those in ``beam_cqia/prompts/rebuild`` or in ``template_dir``.
        source_templates: template name per source, checked before ``templates``: for a subset
            fed by two sources, e.g. ``{instruct: cqia_passthrough.v1}`` beside ``{xhs:
            xhs_post.v1}`` when published records and a crawl both fill subset ``xhs``.
        template_dir: a directory (any Beam filesystem path) of extra ``*.j2`` templates, read
            when the pipeline is built; a file there replaces the packaged one of the same name.
        min_output_chars: per template name, a minimum output length that replaces the
            template's own ``min_output_chars`` (0 turns the check off), e.g.
            ``{chengyu_explain.v1: 60}``.
        error_handling: Beam YAML error handling, e.g. ``{"output": "errors"}``.
    """

    def __init__(
        self,
        templates: Mapping[str, str] | None = None,
        template_dir: str | None = None,
        min_output_chars: Mapping[str, int] | None = None,
        source_templates: Mapping[str, str] | None = None,
        error_handling: Mapping[str, Any] | None = None,
    ):
        super().__init__()
        templates = {} if templates is None else templates
        source_templates = {} if source_templates is None else source_templates
        for config, value in (("templates", templates), ("source_templates", source_templates)):
            if not isinstance(value, Mapping):
                raise ValueError(f"{config} must map names to template names, got {value!r}")
        if not templates and not source_templates:
            raise ValueError("templates must map subsets or sources to template names")
        sources = prompts.load_sources([template_dir] if template_dir else [])
        used = {*templates.values(), *source_templates.values()}
        registry = prompts.TemplateRegistry.from_sources(
            {name: sources[name] for name in used if isinstance(name, str) and name in sources}
        )
        for config, value in (("templates", templates), ("source_templates", source_templates)):
            for key, name in value.items():
                if not isinstance(key, str) or not isinstance(name, str):
                    raise ValueError(
                        f"{config}: {key!r}: {name!r} must map a name to a template name"
                    )
                if name not in sources:
                    raise ValueError(
                        f"{config}: {key!r} names unknown template {name!r}; "
                        f"known: {sorted(sources)}"
                    )
                registry.get(name)
        min_chars = dict(min_output_chars or {})
        for name, value in min_chars.items():
            if name not in used:
                raise ValueError(
                    f"min_output_chars names {name!r}, which no subset or source maps to; "
                    f"templates in use: {sorted(used)}"
                )
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"min_output_chars[{name!r}] must be an integer >= 0: {value!r}")
        check_error_handling(error_handling)
        self._min_chars = min_chars
        self._sources = {name: sources[name] for name in used}
        self._mapping = dict(templates)
        self._by_source = dict(source_templates)
        self._error_handling = error_handling

    def expand(self, inputs: Any) -> Any:
        docs = merge_inputs(inputs, self.label)
        results = docs | "Render" >> beam.ParDo(
            _RenderFn(
                self.label,
                type(self).__name__,
                self._sources,
                self._mapping,
                self._min_chars,
                self._by_source,
            )
        ).with_outputs(REJECTED, main=GOOD).with_exception_handling(
            main_tag=GOOD, dead_letter_tag=ERRORS
        )
        good = results[GOOD]
        good.element_type = CqiaRecord
        return finish_stage(
            self, docs, good, results[REJECTED], results[ERRORS], self._error_handling
        )
