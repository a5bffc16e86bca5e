"""``beam-cqia trace OUT ID`` and ``beam-cqia sample OUT`` on the demo output."""

import json

import pytest

from beam_cqia import cli
from beam_cqia.explain import Output, sample


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _pick(out: Output, output_kind: str, **where) -> dict:
    rows = [r for r in out.rows(output_kind) if all(r.get(k) == v for k, v in where.items())]
    assert rows, (output_kind, where)
    return min(rows, key=lambda r: r["id"])


def test_trace_a_kept_duplicate_keeper(demo_run, capsys):
    out = Output(str(demo_run.out))
    keeper = min((r for r in out.rows("data") if r["cluster_id"]), key=lambda r: r["id"])
    dup = next(r for r in out.rows("rejected") if r["kept_id"] == keeper["id"])
    code, text, _ = _cli(capsys, "trace", str(demo_run.out), keeper["id"][:10])
    assert code == 0
    assert text.startswith(f"record {keeper['id']}\noutcome: KEPT, written to data/subset=")
    assert f"duplicate cluster {keeper['cluster_id']}" in text
    assert "origin: Read" in text and "raw input: {" in text  # the input line, read back
    assert "kept, of 2 duplicates" in text and "passed thresholds: " in text
    assert "[ok ] FilterByScore advertising: ad_hits ≤ 0; value 0" in text
    assert "[FAIL]" not in text
    assert f"{dup['id']} (DedupExact: duplicate, cluster {keeper['cluster_id']})" in text


def test_trace_a_record_the_filter_rejected(demo_run, capsys):
    out = Output(str(demo_run.out))
    row = _pick(out, "rejected", stage="FilterByScore", reason="answer_too_short")
    code, text, _ = _cli(capsys, "trace", str(demo_run.out), row["id"])
    assert code == 0
    assert "outcome: REJECTED by FilterByScore: answer_too_short" in text
    assert f"why: {row['detail']}" in text
    assert "history (as it entered FilterByScore):" in text
    fail = next(x for x in text.splitlines() if "[FAIL]" in x)
    assert "answer_too_short: chars.answer ≥ 100 (sources: zhihu); value " in fail
    value = float(fail.rsplit("value ", 1)[1])
    assert value < 100 and value == row["signals"]["chars.answer"]


def test_trace_an_error_and_as_json(demo_run, capsys):
    out = Output(str(demo_run.out))
    row = _pick(out, "errors", kind="JSONDecodeError")
    code, text, _ = _cli(capsys, "trace", str(demo_run.out), row["id"], "--json")
    assert code == 0
    found = json.loads(text)
    assert found["id"] == row["id"] and found["data"] == [] and found["rejected"] == []
    error = found["errors"][0]
    assert error["stage"] == "ReadZhihu" and error["kind"] == "JSONDecodeError"
    assert error["origin"]["file"].endswith(".jsonl") and error["origin"]["offset"] > 0


def test_trace_says_what_it_cannot_find(demo_run, capsys):
    code, _, err = _cli(capsys, "trace", str(demo_run.out), "zz-no-such-id")
    assert code == cli.EXIT_SPEC and "no record with id 'zz-no-such-id'" in err
    code, _, err = _cli(capsys, "trace", str(demo_run.out), "0")
    assert code == cli.EXIT_SPEC and "is the start of" in err
    code, _, err = _cli(capsys, "trace", str(demo_run.out.parent / "nothing"), "0")
    assert code == cli.EXIT_SPEC and "is not a finished beam-cqia output" in err


def test_sample_is_deterministic_and_filters(demo_run, capsys):
    out = Output(str(demo_run.out))
    kind, rows, matching = sample(out, subset="exam", n=3, seed=7)
    assert kind == "data" and matching == 123 and len(rows) == 3
    assert {r["subset"] for r in rows} == {"exam"}
    assert [r["id"] for r in sample(out, subset="exam", n=3, seed=7)[1]] == [r["id"] for r in rows]
    assert [r["id"] for r in sample(out, subset="exam", n=3, seed=8)[1]] != [r["id"] for r in rows]
    code, text, _ = _cli(
        capsys, "sample", str(demo_run.out), "--rejected", "answer_too_short", "-n", "4"
    )
    assert code == 0 and text.startswith("4 of 47 rejected records (seed 0)")
    assert text.count("FilterByScore: answer_too_short") == 4 and "why: chars.answer=" in text
    code, text, _ = _cli(capsys, "sample", str(demo_run.out), "--errors", "--json", "-n", "10")
    rows = [json.loads(line) for line in text.splitlines()]
    assert code == 0 and len(rows) == 3 and all(r["kind"] for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rejected", "no_such_reason"], "no rejected reason 'no_such_reason'; reasons: "),
        (["--errors", "KeyError"], "no error kind 'KeyError'; kinds: JSONDecodeError, ValueError"),
        (["--subset", "nope"], "no subset 'nope'; subsets: baike, exam, zhihu"),
    ],
)
def test_sample_names_what_exists(demo_run, capsys, args, message):
    code, _, err = _cli(capsys, "sample", str(demo_run.out), *args)
    assert code == cli.EXIT_SPEC and message in err
