"""RebuildFromTemplate: output_too_short rejections, render failures in errors, recommendations."""

import json

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.prompts import TemplateError, TemplateRegistry, load_sources
from beam_cqia.records import RawDoc
from beam_cqia.transforms import RebuildFromTemplate, stage_outputs
from beam_cqia.transforms.rebuild import recommendation_doc
from tests.conftest import counters, new_pipeline
from tests.factories import raw_doc

SYNOPSIS = "一座海岛上的灯塔看守收到一封没有署名的信，信里写着只有他知道的往事。" * 6
FILM = {"media_type": "movie", "genres": "剧情/悬疑"}
LONG = raw_doc("s1", source="douban", title="灯塔之冬", body=SYNOPSIS, meta=FILM)
SHORT = raw_doc("s2", source="douban", title="纸鸢", body="一部关于风筝的电影。", meta=FILM)
NO_BODY = raw_doc("s3", source="douban", title="无简介", body="", meta=FILM)
NO_GENRES = raw_doc(
    "s4", source="douban", title="缺字段", body=SYNOPSIS, meta={"media_type": "movie"}
)


def test_short_outputs_are_rejected_and_failures_are_errors():
    p = new_pipeline()
    out = (
        p
        | beam.Create([LONG, SHORT, NO_BODY, NO_GENRES]).with_output_types(RawDoc)
        | "Rebuild" >> RebuildFromTemplate(templates={"douban": "douban_synopsis.v1"})
    )
    assert_that(out | beam.Map(lambda r: r.id), equal_to([LONG.id]))
    stage = stage_outputs(p, "Rebuild")
    assert_that(
        stage.rejected
        | beam.Map(lambda r: (r.id, r.reason, r.stage, "fewer than 200" in r.detail)),
        equal_to([(SHORT.id, "output_too_short", "Rebuild", True)]),
        label="rejected",
    )
    registry = TemplateRegistry.from_sources(load_sources())
    synopsis = registry.get("douban_synopsis.v1")
    assert_that(
        stage.errors | beam.Map(lambda e: (e.id, e.kind, e.msg)),
        equal_to(
            [
                (
                    NO_BODY.id,
                    "TemplateError",
                    repr(
                        TemplateError(
                            f"douban_synopsis.v1#{synopsis.variant_for(NO_BODY.id)}: "
                            "required field 'body' is empty"
                        )
                    ),
                ),
                (
                    NO_GENRES.id,
                    "TemplateError",
                    repr(
                        TemplateError(
                            f"douban_synopsis.v1#{synopsis.variant_for(NO_GENRES.id)}: "
                            "UndefinedError: missing field 'meta.genres'"
                        )
                    ),
                ),
            ]
        ),
        label="errors",
    )
    result = p.run()
    result.wait_until_finish()
    assert counters(result, "beam_cqia.RebuildFromTemplate") == {
        "seen": 4,
        "passed": 1,
        "filtered:output_too_short": 1,
        "errors": 2,
    }


def test_error_names_template_variant_and_missing_field():
    # douban_synopsis.v1 reads meta.genres for films; a profile without that key cannot render.
    doc = NO_GENRES._replace(meta={"media_type": "movie"})
    template = TemplateRegistry.from_sources(load_sources()).get("douban_synopsis.v1")
    p = new_pipeline()
    _ = (
        p
        | beam.Create([doc]).with_output_types(RawDoc)
        | "Rebuild" >> RebuildFromTemplate(templates={"douban": "douban_synopsis.v1"})
    )
    assert_that(
        stage_outputs(p, "Rebuild").errors | beam.Map(lambda e: e.msg),
        equal_to(
            [
                repr(
                    TemplateError(
                        f"douban_synopsis.v1#{template.variant_for(doc.id)}: UndefinedError: "
                        "missing field 'meta.genres'"
                    )
                )
            ]
        ),
    )
    p.run().wait_until_finish()


def test_min_output_chars_override():
    p = new_pipeline()
    out = (
        p
        | beam.Create([LONG, SHORT]).with_output_types(RawDoc)
        | "Rebuild"
        >> RebuildFromTemplate(
            templates={"douban": "douban_synopsis.v1"},
            min_output_chars={"douban_synopsis.v1": 0},
        )
    )
    assert_that(out | beam.Map(lambda r: r.id), equal_to([LONG.id, SHORT.id]))
    p.run().wait_until_finish()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_output_chars": {"zhihu_qa.v1": 10}}, "no subset or source maps to"),
        ({"min_output_chars": {"douban_synopsis.v1": -1}}, "must be an integer >= 0"),
        ({"min_output_chars": {"douban_synopsis.v1": True}}, "must be an integer >= 0"),
    ],
)
def test_min_output_chars_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        RebuildFromTemplate(templates={"douban": "douban_synopsis.v1"}, **kwargs)


def profile(n: int, rating: str, media: str = "movie", **meta) -> RawDoc:
    return raw_doc(
        f"p{n}",
        source="douban",
        title=f"影片{n}",
        meta={
            "media_type": media,
            "subject_id": str(n),
            "title": f"影片{n}",
            "rating": rating,
            "director": f"导演{n}",
            **meta,
        },
    )


def test_recommendation_doc_and_list_template():
    doc = recommendation_doc(
        [profile(1, "7.5"), profile(2, "9.2"), profile(3, "8.0")],
        decade="1990",
        fmt="markdown",
        fields=["director", "rating"],
        sort="desc",
    )
    reordered = recommendation_doc(
        [profile(3, "8.0"), profile(1, "7.5"), profile(2, "9.2")],
        decade="1990",
        fmt="markdown",
        fields=["director", "rating"],
        sort="desc",
    )
    assert reordered.id == doc.id  # the id does not depend on the order of the profiles
    assert doc.meta["subject_ids"] == "1/2/3"
    assert [s["title"] for s in json.loads(doc.meta["subjects"])] == ["影片1", "影片2", "影片3"]
    rendered = TemplateRegistry.from_sources(load_sources()).get("douban_recommend_list.v1")
    rendered = rendered.render(doc)
    assert "1990年代电影" in rendered.instruction
    assert "3部" in rendered.instruction
    assert "按豆瓣评分从高到低排序" in rendered.instruction
    assert (
        rendered.output.index("《影片2》")
        < rendered.output.index("《影片3》")
        < rendered.output.index("《影片1》")
    )
    assert "- 导演：导演2\n- 豆瓣评分：9.2" in rendered.output
    assert (rendered.task_major, rendered.task_minor, rendered.domain) == (
        ["豆瓣"],
        ["电影推荐"],
        ["电影"],
    )


@pytest.mark.parametrize(
    ("profiles", "kwargs", "message"),
    [
        ([], {}, "at least one profile"),
        ([profile(1, "8"), profile(2, "8", media="tv")], {}, "share one media_type"),
        ([profile(1, "8")], {"fmt": "xml"}, "fmt must be one of"),
        ([profile(1, "8")], {"fields": ["budget"]}, "unknown fields"),
    ],
)
def test_recommendation_doc_errors(profiles, kwargs, message):
    with pytest.raises(ValueError, match=message):
        recommendation_doc(profiles, **kwargs)
