"""GroupRecommendations: Douban profiles grouped into lists that douban_recommend_list renders."""

import json

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from beam_cqia.records import RawDoc
from beam_cqia.transforms import GroupRecommendations, RebuildFromTemplate, stage_outputs
from beam_cqia.transforms.recommend import grouping_key
from tests.conftest import counters, new_pipeline
from tests.factories import raw_doc


def profile(i: int, genres: str = "剧情", region: str = "", year: str = "", **meta) -> RawDoc:
    return raw_doc(
        f"p{i}",
        source="douban",
        title=f"片名{i}",
        meta={
            "media_type": "movie",
            "genres": genres,
            "region": region,
            "year": year,
            "rating": "8.5",
            "directors": f"导演{i}",
            **meta,
        },
    )


def test_grouping_key_picks_one_criterion_by_id():
    doc = profile(1, genres="喜剧/爱情", region="中国香港/中国大陆", year="1994")
    keys = {
        grouping_key(doc._replace(id=f"x{i}"), ["genre", "decade", "region"]) for i in range(40)
    }
    assert keys == {
        ("movie", "genre", "喜剧"),
        ("movie", "decade", "1990"),
        ("movie", "region", "中国香港"),
    }
    assert grouping_key(doc, ["genre"]) == ("movie", "genre", "喜剧")
    assert grouping_key(profile(2, genres=""), ["genre", "decade"]) is None
    assert grouping_key(doc._replace(meta={**doc.meta, "media_type": ""}), ["genre"]) is None


def test_profiles_become_lists_and_every_profile_is_accounted_for():
    dramas = [profile(i) for i in range(7)]  # one genre: lists of 3, remainder 1 rejected
    lonely = profile(99, genres="")  # no value for the criterion
    p = new_pipeline()
    lists = (
        p
        | beam.Create([*dramas, lonely]).with_output_types(RawDoc)
        | "Group" >> GroupRecommendations(by=["genre"], sizes=[3], high_rated=8.0)
    )
    subjects = lists | beam.Map(lambda d: tuple(s["title"] for s in json.loads(d.meta["subjects"])))
    expected = sorted(d.id for d in dramas)
    titles = {d.id: d.title for d in dramas}
    assert_that(
        subjects,
        equal_to([tuple(titles[i] for i in expected[:3]), tuple(titles[i] for i in expected[3:6])]),
    )
    rebuilt = lists | "Rebuild" >> RebuildFromTemplate(
        templates={"douban_recommend": "douban_recommend_list.v1"}, min_output_chars={}
    )
    assert_that(
        rebuilt | beam.Map(lambda r: ("剧情" in r.instruction, "高分" in r.instruction, r.domain)),
        equal_to([(True, True, ["电影"])] * 2),
        label="rebuilt",
    )
    assert_that(
        stage_outputs(p, "Group").rejected | beam.Map(lambda r: (r.id, r.reason)),
        equal_to([(lonely.id, "no_grouping_value"), (expected[6], "group_too_small")]),
        label="rejected",
    )
    result = p.run()
    result.wait_until_finish()
    c = counters(result, "beam_cqia.GroupRecommendations")
    assert (c["seen"], c["passed"], c["lists"]) == (8, 6, 2)
    assert c["filtered:no_grouping_value"] == 1 and c["filtered:group_too_small"] == 1


def test_lists_are_the_same_in_every_run(tmp_path):
    rows = [("剧情", "美国", "1999"), ("喜剧", "法国", "2004"), ("剧情", "美国", "2001")] * 6
    docs = [profile(i, genres=g, region=r, year=y) for i, (g, r, y) in enumerate(rows)]

    def run(order, name):
        p = new_pipeline()
        (
            p
            | beam.Create(order).with_output_types(RawDoc)
            | GroupRecommendations(sizes=[3, 5], min_size=3)
            | beam.Map(lambda d: json.dumps([d.id, d.meta["subjects"]], ensure_ascii=False))
            | beam.io.WriteToText(str(tmp_path / name), shard_name_template="")
        )
        p.run().wait_until_finish()
        return sorted((tmp_path / name).read_text(encoding="utf-8").splitlines())

    first = run(docs, "a")
    assert len(first) >= 3
    assert first == run(list(reversed(docs)), "b")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": ["year"]}, "by must list some of"),
        ({"by": []}, "by must list some of"),
        ({"sizes": [2], "min_size": 3}, "sizes must be integers of at least"),
        ({"min_size": 0}, "min_size must be a positive integer"),
        ({"high_rated": "high"}, "high_rated must be a number"),
    ],
)
def test_bad_config_is_refused_when_built(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GroupRecommendations(**kwargs)
