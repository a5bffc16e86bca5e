"""Polite web fetching for seed URL lists, written as WARC files (no Beam in this package).

``policy`` decides which URLs and addresses may be fetched, ``robots`` reads robots.txt,
``ratelimit`` keeps per-host intervals and concurrency, ``fetcher`` does the HTTP work with
retries and caps, and ``warc`` writes what was fetched. ``beam_cqia.transforms.fetch.FetchUrls``
wires them into a pipeline stage.
"""
