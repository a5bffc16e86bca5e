"""FetchUrls on FnApiRunner against HTTP servers on loopback addresses (no internet)."""

import gzip
import itertools
import json
from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import BeamAssertException, assert_that, equal_to
from warcio.archiveiterator import ArchiveIterator

from beam_cqia import report, spec
from beam_cqia.records import FetchedPage
from beam_cqia.transforms import FetchUrls, WriteCqiaParquet, stage_outputs
from beam_cqia.transforms.fetch import url_id, warc_name
from tests.conftest import REPO, counters, new_pipeline
from tests.web.httpserver import Reply, TestServer, html, redirect

CONTACT = "https://example.org/beam-cqia-tests"
NS = "beam_cqia.FetchUrls"
SLACK = 0.04  # server-side arrival times carry some scheduling noise
FAST = {
    "contact": CONTACT,
    "allow_private": True,
    "min_interval_seconds": 0.05,
    "backoff_seconds": 0.02,
    "timeout_seconds": 0.5,
    "retries": 2,
}


def _warc_responses(path: str) -> dict[str, bytes]:
    """Target URI -> payload of every response record in a WARC file."""
    out = {}
    with open(path, "rb") as fh:
        for record in ArchiveIterator(fh):
            if record.rec_type == "response":
                uri = record.rec_headers.get_header("WARC-Target-URI")
                out[uri] = record.content_stream().read()
    return out


def _record_at(path: str, offset: int) -> tuple[str, str, bytes]:
    with open(path, "rb") as fh:
        fh.seek(offset)
        record = next(iter(ArchiveIterator(fh)))
        return (
            record.rec_type,
            record.rec_headers.get_header("WARC-Target-URI"),
            record.content_stream().read(),
        )


def _ledger_totals(name: str, expected: dict[str, int]):
    """A matcher for a stage's ledger counts: totals per field equal ``expected``, and
    in == out + rejected + errors."""

    def check(counts):
        totals = {"in": 0, "out": 0, "rejected": 0, "errors": 0}
        for stage, field, _key, n in counts:
            assert stage == name
            if field in totals:
                totals[field] += n
        conserved = totals["in"] == totals["out"] + totals["rejected"] + totals["errors"]
        if totals != expected or not conserved:
            raise BeamAssertException(f"ledger counts {totals}, expected {expected}")

    return check


def _seconds_apart(times: list[float]) -> float:
    return min(b - a for a, b in itertools.pairwise(times))


def test_fetch_urls_every_url_leaves_once_and_pages_are_in_the_warc(tmp_path):
    out = str(tmp_path / "warc")
    with TestServer() as server:
        u = server.url
        server.routes.update(
            {
                "/robots.txt": Reply(200, b"User-agent: *\nDisallow: /private\n"),
                "/a": html("<p>第一页</p>"),
                "/b": html("<p>第二页</p>"),
                "/old": redirect(u("/moved", name="localhost"), 301),
                "/moved": html("<p>搬家了</p>"),
                "/flaky": [Reply(503), Reply(503), html("<p>third time</p>")],
                "/big": Reply(200, b"x" * 10_000, close_delimited=True),
                "/slow": html("<p>too late</p>", delay=1.2),
            }
        )
        served = {
            u("/a"): "<p>第一页</p>".encode(),
            u("/b"): "<p>第二页</p>".encode(),
            u("/moved", name="localhost"): "<p>搬家了</p>".encode(),
            u("/flaky"): b"<p>third time</p>",
        }
        top = u("/a").replace("http://", "HTTP://") + "#top"
        urls = [
            u("/a"),
            u("/b"),
            u("/a"),  # exact duplicate
            top,  # the same URL after normalization; sorts first, so it is the one kept
            u("/old"),
            u("/flaky"),
            u("/missing"),
            u("/big"),
            u("/slow"),
            u("/private/page"),
            "ftp://example.org/file.txt",
            "http:///no-host",
            "not a url at all",
        ]
        p = new_pipeline()
        pages = p | beam.Create(urls) | "Fetch" >> FetchUrls(output=out, max_bytes=2000, **FAST)
        stage = stage_outputs(p, "Fetch")

        def check_pages(found):
            for page in found:
                rec_type, uri, payload = _record_at(page.warc_path, page.warc_offset)
                if (rec_type, uri, payload) != ("response", page.final_url, served[uri]):
                    raise BeamAssertException(f"bad record at {page}: {rec_type} {uri}")

        assert_that(
            pages | beam.Map(lambda r: (r.url, r.final_url, r.status, r.bytes, r.id)),
            equal_to(
                [
                    (top, u("/a"), 200, len(served[u("/a")]), url_id(top)),
                    (u("/b"), u("/b"), 200, len(served[u("/b")]), url_id(u("/b"))),
                    (
                        u("/old"),
                        u("/moved", name="localhost"),
                        200,
                        len(served[u("/moved", name="localhost")]),
                        url_id(u("/old")),
                    ),
                    (u("/flaky"), u("/flaky"), 200, 17, url_id(u("/flaky"))),
                ]
            ),
        )
        assert_that(pages, check_pages, label="offsets")
        assert_that(
            stage.rejected | beam.Map(lambda r: (json.loads(r.record), r.reason, r.stage)),
            equal_to(
                [
                    (u("/a"), "duplicate_url", "Fetch"),
                    (u("/a"), "duplicate_url", "Fetch"),
                    (u("/missing"), "http_404", "Fetch"),
                    (u("/big"), "too_large", "Fetch"),
                    (u("/private/page"), "robots_disallowed", "Fetch"),
                    ("ftp://example.org/file.txt", "invalid_url", "Fetch"),
                    ("http:///no-host", "invalid_url", "Fetch"),
                    ("not a url at all", "invalid_url", "Fetch"),
                ]
            ),
            label="rejected",
        )
        assert_that(
            stage.rejected
            | beam.Filter(lambda r: r.reason == "duplicate_url")
            | beam.Map(lambda r: (r.id == url_id(json.loads(r.record)), r.kept_id)),
            equal_to([(True, url_id(top))] * 2),
            label="duplicate_ids",
        )
        slow = u("/slow")  # a plain string: lambdas must not capture the server
        assert_that(
            stage.errors
            | beam.Map(lambda e: (e.kind, json.loads(e.element), slow in e.msg, e.stage, e.id)),
            equal_to([("Timeout", slow, True, "Fetch", url_id(slow))]),
            label="errors",
        )
        # the same numbers as the counters below: seen, passed, filtered:*, errors
        ledger = {"in": 13, "out": 4, "rejected": 8, "errors": 1}
        assert_that(stage.counts, _ledger_totals("Fetch", ledger), label="ledger")
        result = p.run()
        result.wait_until_finish()
        paths = server.paths()

    assert counters(result, NS) == {
        "seen": 13,
        "passed": 4,
        "filtered:invalid_url": 3,
        "filtered:duplicate_url": 2,
        "filtered:http_404": 1,
        "filtered:too_large": 1,
        "filtered:robots_disallowed": 1,
        "errors": 1,
        "hosts": 1,  # 127.0.0.1; localhost is only reached through a redirect
        "requests": 14,
    }
    found = counters(result, NS)
    assert found["seen"] == ledger["in"] and found["passed"] == ledger["out"]
    assert sum(v for k, v in found.items() if k.startswith("filtered:")) == ledger["rejected"]
    assert found["errors"] == ledger["errors"]
    assert "/private/page" not in paths
    assert paths.count("/a") == 1  # duplicates are not fetched twice
    assert paths.count("/flaky") == 3
    assert paths.count("/missing") == 1  # a 404 is not retried
    assert paths.count("/slow") == 3
    assert paths.count("/robots.txt") == 2  # once per host name (127.0.0.1, localhost)

    files = sorted(p.name for p in Path(out).iterdir())
    assert len(files) == 1 and files[0].startswith("127.0.0.1-") and files[0].endswith(".warc.gz")
    assert _warc_responses(str(Path(out) / files[0])) == served


def test_hosts_proceed_in_parallel_each_at_its_own_pace(tmp_path):
    interval = 0.25
    with TestServer() as server:
        server.routes["/robots.txt"] = Reply(404)
        for i in range(3):
            server.routes[f"/p{i}"] = html(f"<p>{i}</p>")
        urls = [server.url(f"/p{i}", name=n) for n in ("127.0.0.1", "localhost") for i in range(3)]
        p = new_pipeline()
        pages = (
            p
            | beam.Create(urls)
            | FetchUrls(output=str(tmp_path), **{**FAST, "min_interval_seconds": interval})
        )
        assert_that(pages | beam.Map(lambda r: r.url), equal_to(urls))
        result = p.run()
        result.wait_until_finish()
        log = list(server.log)

    by_host: dict[str, list[float]] = {}
    for entry in log:
        by_host.setdefault(entry.headers["Host"].split(":")[0], []).append(entry.at)
    assert sorted(by_host) == ["127.0.0.1", "localhost"]
    for times in by_host.values():
        assert len(times) == 4  # robots.txt and three pages
        assert _seconds_apart(times) >= interval - SLACK
    a, b = by_host.values()
    assert max(a[0], b[0]) < min(a[-1], b[-1])  # the two hosts' crawls overlap in time
    # one host after the other would need at least 7 intervals from first to last request
    assert max(a[-1], b[-1]) - min(a[0], b[0]) < 7 * interval
    assert counters(result, NS)["hosts"] == 2
    assert sorted(f.name.split("-")[0] for f in tmp_path.iterdir()) == ["127.0.0.1", "localhost"]


def test_seed_files_are_a_source_and_the_index_is_written(tmp_path):
    with TestServer() as server:
        server.routes["/robots.txt"] = Reply(404)
        server.routes["/zh"] = html("<p>中文页面</p>")
        server.routes["/gz"] = Reply(
            200,
            gzip.compress("<p>压缩</p>".encode()),
            [("Content-Type", "text/html"), ("Content-Encoding", "gzip")],
        )
        seeds = tmp_path / "seeds"
        seeds.mkdir()
        (seeds / "part-1.txt").write_text(
            f"# first list\n\n{server.url('/zh')}\n   \n{server.url('/gz')}\n", encoding="utf-8"
        )
        (seeds / "part-2.txt").write_text(
            f"\ufeff# second list, with a repeat\n{server.url('/zh')}\nftp://x/y\n",
            encoding="utf-8",
        )
        (seeds / "notes.md").write_text("not a seed list\n", encoding="utf-8")
        p = new_pipeline()
        pages = p | "Fetch" >> FetchUrls(
            seeds=str(seeds / "part-*.txt"), output=str(tmp_path / "warc"), **FAST
        )
        assert_that(
            pages | beam.Map(lambda r: (r.url, r.content_type)),
            equal_to(
                [(server.url("/zh"), "text/html; charset=utf-8"), (server.url("/gz"), "text/html")]
            ),
        )
        pages | WriteCqiaParquet(str(tmp_path / "index"), partition_by=["status"])
        result = p.run()
        result.wait_until_finish()

    manifest = report.read_manifest(str(tmp_path / "index"))
    fetch = manifest["stages"]["Fetch"]
    assert (fetch["in"], fetch["out"], fetch["errors"]) == (4, 2, 0)
    assert fetch["rejected"] == {"duplicate_url": 1, "invalid_url": 1}
    assert manifest["outputs"]["data"]["partitions"] == {"status=200": 2}
    assert not report.conservation_problems(manifest)
    assert counters(result, NS)["seen"] == 4
    (warc,) = (tmp_path / "warc").iterdir()
    with open(warc, "rb") as fh:
        bodies = {
            r.rec_headers.get_header("WARC-Target-URI"): r.content_stream().read()
            for r in ArchiveIterator(fh)
            if r.rec_type == "response"
        }
    assert bodies == {
        server.url("/zh"): "<p>中文页面</p>".encode(),
        server.url("/gz"): "<p>压缩</p>".encode(),  # warcio decodes the stored gzip payload
    }


def test_private_addresses_are_blocked_before_any_request(tmp_path):
    with TestServer("127.0.0.2") as allowed, TestServer("127.0.0.1") as private:
        allowed.routes["/robots.txt"] = Reply(404)
        allowed.routes["/ok"] = html("<p>ok</p>")
        allowed.routes["/jump"] = redirect(private.url("/inside"))
        private.routes["/inside"] = html("<p>secret</p>")
        urls = [
            private.url("/inside"),
            private.url("/inside", name="localhost"),
            allowed.url("/ok"),
            allowed.url("/jump"),
        ]
        p = new_pipeline()
        outputs = (
            p
            | beam.Create(urls)
            | "Fetch"
            >> FetchUrls(
                output=str(tmp_path),
                contact=CONTACT,
                allow_networks=["127.0.0.2/32"],  # stands for a public address
                min_interval_seconds=0.01,
                error_handling={"output": "errors"},
            )
        )
        assert_that(outputs["good"] | beam.Map(lambda r: r.url), equal_to([allowed.url("/ok")]))
        assert_that(outputs["errors"], equal_to([]), label="errors")
        assert_that(
            stage_outputs(p, "Fetch").rejected
            | beam.Map(lambda r: (json.loads(r.record), r.reason)),
            equal_to(
                [
                    (private.url("/inside"), "blocked_address"),
                    (private.url("/inside", name="localhost"), "blocked_address"),
                    (allowed.url("/jump"), "blocked_address"),
                ]
            ),
            label="rejected",
        )
        p.run().wait_until_finish()
        assert private.log == []
        assert sorted(allowed.paths()) == ["/jump", "/ok", "/robots.txt"]


def test_rows_from_beam_yaml_are_read_by_their_line_or_url_field(tmp_path):
    p = new_pipeline()
    lines = p | "Lines" >> beam.Create([beam.Row(line=" http://127.0.0.1:9/a ")])
    rows = p | "Rows" >> beam.Create([beam.Row(url="http://[::1]/")])
    lines | "FetchLines" >> FetchUrls(output=str(tmp_path), contact=CONTACT)
    rows | "FetchRows" >> FetchUrls(output=str(tmp_path), contact=CONTACT)
    for name, url in (("FetchLines", "http://127.0.0.1:9/a"), ("FetchRows", "http://[::1]/")):
        assert_that(
            stage_outputs(p, name).rejected
            | f"{name}Reasons" >> beam.Map(lambda r: (r.record, r.reason)),
            equal_to([(json.dumps(url), "blocked_address")]),
            label=f"{name}Rejected",
        )
    p.run().wait_until_finish()
    assert list(tmp_path.iterdir()) == []  # no page, no WARC file


def test_warc_names_are_deterministic():
    a = warc_name("example.org", ["http://example.org/2", "http://example.org/1"])
    assert a == warc_name("example.org", ["http://example.org/1", "http://example.org/2"])
    assert a != warc_name("example.org", ["http://example.org/1"])
    assert a.startswith("example.org-") and a.endswith(".warc.gz")
    assert warc_name("::1", []).startswith("_3a_3a1-")


def test_the_example_spec_builds():
    parsed = spec.check(
        str(REPO / "pipelines" / "fetch.yaml"), {"seeds": "seeds/*.txt", "output": "out/crawl"}
    )
    assert spec.sink_paths(parsed) == ["out/crawl/index"]


def test_seeds_or_input_not_both_nor_neither(tmp_path):
    p = new_pipeline()
    urls = p | beam.Create(["http://example.org/"])
    with pytest.raises(ValueError, match="give one of them"):
        urls | "Both" >> FetchUrls(output=str(tmp_path), contact=CONTACT, seeds="s.txt")
    with pytest.raises(ValueError, match="give seeds"):
        p | "Neither" >> FetchUrls(output=str(tmp_path), contact=CONTACT)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"output": ""}, "output must name a directory"),
        ({"contact": ""}, "contact must be a URL"),
        ({"contact": "call me maybe"}, "without spaces"),
        ({"contact": "ops@example.org"}, "must start with https://"),
        ({"user_agent": "bot (x)"}, "product token"),
        ({"seeds": ""}, "seeds must be a file pattern"),
        ({"min_interval_seconds": -1}, "min_interval_seconds must be >= 0"),
        ({"per_host_concurrency": 0}, "per_host_concurrency must be >= 1"),
        ({"parallel_hosts": 0}, "parallel_hosts must be >= 1"),
        ({"max_bytes": 0}, "max_bytes must be > 0"),
        ({"timeout_seconds": "30"}, "timeout_seconds must be a number"),
        ({"retries": 1.5}, "retries must be an integer"),
        ({"allow_private": "yes"}, "allow_private must be true or false"),
        ({"allow_networks": "10.0.0.0/8"}, "allow_networks must be a list"),
        ({"allow_networks": ["10.0.0"]}, "is not a network"),
        ({"error_handling": {"out": "e"}}, "error_handling must be a mapping"),
    ],
)
def test_config_errors_name_the_bad_value(config, message):
    with pytest.raises(ValueError, match=message):
        FetchUrls(**{"output": "out", "contact": CONTACT, **config})


def test_fetched_page_is_a_schema_type():
    coder = beam.coders.registry.get_coder(FetchedPage)
    page = FetchedPage("i", "u", "f", 200, "text/html", "w.warc.gz", 10, 5, "2026-01-01T00:00:00")
    assert isinstance(coder, beam.coders.RowCoder)
    assert coder.decode(coder.encode(page)) == page


def test_a_failed_warc_write_turns_the_hosts_urls_into_errors(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the output directory should be\n")
    with TestServer() as server:
        server.routes["/robots.txt"] = Reply(404)
        server.routes["/page"] = html("<p>fetched but not written</p>")
        urls = [server.url("/page"), server.url("/gone"), server.url("/page")]
        p = new_pipeline()
        pages = p | beam.Create(urls) | "Fetch" >> FetchUrls(output=str(blocker / "warc"), **FAST)
        stage = stage_outputs(p, "Fetch")
        assert_that(pages, equal_to([]))
        assert_that(
            stage.errors | beam.Map(lambda e: json.loads(e.element)),
            equal_to(urls),  # every URL of the host, the duplicate and the 404 included
            label="errors",
        )
        assert_that(stage.rejected, equal_to([]), label="rejected")
        ledger = {"in": 3, "out": 0, "rejected": 0, "errors": 3}
        assert_that(stage.counts, _ledger_totals("Fetch", ledger), label="ledger")
        result = p.run()
        result.wait_until_finish()
    assert counters(result, NS)["errors"] == 3
    assert list(tmp_path.iterdir()) == [blocker]
