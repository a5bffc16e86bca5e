"""A test adapter that keeps whatever the format gives it, to test ReadCrawl's readers alone."""

from beam_cqia.records import RawDoc
from beam_cqia.text.ids import content_id


def adapt(obj, origin):
    body = obj.get("html") or obj.get("text") or ""
    yield RawDoc(
        id=content_id("echo", origin.file, str(origin.offset)),
        source="echo",
        subset=origin.subset,
        url=obj.get("url", ""),
        title="",
        question="",
        body=body,
        answer="",
        meta={"encoding": obj.get("encoding", ""), "date": obj.get("date", "")},
        fetched_at=obj.get("date", ""),
        origin_file=origin.file,
        origin_offset=origin.offset,
        signals={},
        lineage=[],
    )


def adapt_keyed(obj, origin):
    """Echoes a keyed JSON value: its key becomes the url."""
    yield from adapt({"text": obj.get("title", ""), "url": obj["__key__"]}, origin)
