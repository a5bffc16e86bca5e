"""``beam-cqia diff OUT_A OUT_B``: the demo against the demo with two thresholds changed
(Zhihu answers need 150 characters instead of 100; up to 5 links instead of 2)."""

import json
import os

from beam_cqia import cli, progress, rundiff
from beam_cqia.explain import Output


def test_diff_of_a_threshold_change(demo_run, demo_run_b):
    a, b = Output(str(demo_run.out)), Output(str(demo_run_b.out))
    d = rundiff.diff(a, b)
    assert {(t["rule"], t["a"], t["b"]) for t in d["thresholds"]} == {
        (
            "answer_too_short",
            "chars.answer ≥ 100 (sources: zhihu)",
            "chars.answer ≥ 200 (sources: zhihu)",
        ),
        (
            "article_too_short",
            "chars.body ≥ 150 (sources: baike)",
            "chars.body ≥ 50 (sources: baike)",
        ),
        ("link_farm", "url_count ≤ 2", "url_count ≤ 10"),
    }
    subsets = d["subsets"]
    for name, s in subsets.items():
        assert s["b"] == s["a"] + s["added"] - s["removed"], name
        assert s["changed"] == 0  # same inputs, same templates: kept records are identical
    data_a = {r["id"]: r["subset"] for r in a.rows("data", ["id"])}
    data_b = {r["id"]: r["subset"] for r in b.rows("data", ["id"])}
    removed, added = data_a.keys() - data_b.keys(), data_b.keys() - data_a.keys()
    # longer Zhihu answers needed: only Zhihu records left, all for that rule
    assert subsets["zhihu"]["removed"] == len(removed) > 0
    assert d["removed_went_to"] == {"rejected FilterByScore: answer_too_short": len(removed)}
    # shorter articles allowed: only encyclopedia records came, from that rule
    assert subsets["baike"]["added"] == len(added) > 0
    assert {data_b[i] for i in added} == {"baike"}
    assert d["added_came_from"] == {"rejected FilterByScore: article_too_short": len(added)}
    funnel = {f["stage"]: f for f in d["funnel"]}
    assert funnel["NormalizeText"]["in"][0] == funnel["NormalizeText"]["in"][1]
    moved = funnel["FilterByScore"]["reasons"]
    assert moved["answer_too_short"][1] - moved["answer_too_short"][0] == len(removed)
    # of the articles the filter now lets through, those not added were dropped downstream
    later = sum(
        f["rejected"][1] - f["rejected"][0]
        for f in d["funnel"]
        if f["stage"] not in ("FilterByScore", "WriteCqiaParquet")
    )
    assert moved["article_too_short"][0] - moved["article_too_short"][1] == len(added) + later
    # the link farm is still dropped: by its next failing rule
    assert moved["link_farm"] == [1, 0] and moved["not_chinese"] == [0, 1]
    assert set(d["examples"]["removed"]) <= removed and set(d["examples"]["added"]) <= added


def test_diff_of_a_run_with_itself_is_empty(demo_run):
    a = Output(str(demo_run.out))
    d = rundiff.diff(a, a)
    assert d["thresholds"] == [] and d["removed_went_to"] == {} and d["added_came_from"] == {}
    assert all(not f["reasons"] for f in d["funnel"])
    total = d["subsets"][rundiff.ALL]
    assert total["added"] == total["removed"] == total["changed"] == 0
    assert total["a"] == total["b"] == a.manifest["outputs"]["data"]["records"]


def test_diff_cli_text_and_json(demo_run, demo_run_b, capsys):
    code = cli.main(["diff", str(demo_run.out), str(demo_run_b.out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "thresholds that differ:" in text
    assert (
        "FilterByScore answer_too_short: chars.answer ≥ 100 (sources: zhihu) → chars.answer" in text
    )
    assert "where the removed records are in B:" in text and "funnel (A → B):" in text
    assert "examples (beam-cqia trace OUT ID):" in text
    code = cli.main(["diff", str(demo_run.out), str(demo_run_b.out), "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["funnel"]


def test_progress_off_prints_nothing_and_leaves_no_environment(demo_run_b):
    assert "beam-cqia progress" not in demo_run_b.stderr and "ran for" not in demo_run_b.stderr
    assert progress.ENV not in os.environ
