"""Douban (豆瓣) movie, TV and book profiles, and reviews.

One adapter for both record kinds, told apart by their keys:

**Profile** (a subject page): the DMR crawler's movie profile ::

    {"movie_name": "公民凯恩 Citizen Kane", "directors": {<celebrity url>: "奥逊·威尔斯"},
     "writers": {...}, "actors": {...}, "genres": [...], "languages": [...],
     "release_times": "1941-09-05", "producing_regions": ["美国"], "movie_duration": "119",
     "average_stars": "8.7"}

or a Douban API-style subject (``id``, ``title``, ``original_title``, ``year``, ``subtype``
movie/tv, ``rating`` {average, numRaters} or a number, ``directors``/``casts``/``writers`` as
names or ``{"name"}`` objects, ``countries``, ``genres``, ``summary``, ``imdb``, ``durations``,
``episodes_count``), or a book (``author``, ``publisher``, ``pubdate``, ``isbn``, ``summary``,
``author_intro``). People fields may be ``{url: name}`` dicts, lists or "A / B" strings.
The RawDoc's body is the synopsis (``summary``/``synopsis``/``intro``; DMR has none, so its
profiles have an empty body and serve the recommendation template, not the synopsis one); title
is the subject's name; meta holds ``subject_id``, ``media_type`` (movie/tv/book), ``title``,
``original_title``, ``year`` (the ``year`` field, else the first year in the release dates),
``release_date``, ``region``, ``genres``, ``languages``, ``director``, ``writers``, ``cast``
(the first 10), ``rating``, ``votes``, ``imdb``, ``duration``, ``episodes`` and, for books,
``author``, ``publisher``, ``isbn``, ``author_intro``; lists are "/"-joined. DMR profiles have no
type field: Douban's TV pages have no 片长 (only 单集片长), which the DMR crawler did not read,
so a DMR profile without ``movie_duration`` is ``tv`` and one with it is ``movie`` — except
that a subject released before 1930, when there was no television, is a film (DMR's three 1895
Lumière shorts have no 片长 either). On DMR this gives 619 films and 361 series and shows.

**Review**: a DMR labelled review ::

    {"user_id", "movie_id": "25779217", "text", "date", "stars": 1-5, "useful": 28,
     "label": 0 (spam) | 1, "user_profile": {"screen_name", "register_time", ...},
     "user_reviews": {"review0": {"movie_id": 26575103, "text", "date", "stars": 4.0,
                                  "useful", "tags"}, ...}}

or a long review (``review_id``, ``subject_id``, ``subject_title``, ``title``, ``content`` HTML,
``rating``, ``useful_count``, ``useless_count``, ``author``, ``created``). question = the review's
title (short reviews have none), answer = its text (HTML converted to Markdown), title = the
subject's name when the record has it; meta holds ``subject_id``, ``review_id``, ``media_type``,
``stars``, ``votes`` (useful), ``useless``, ``spam`` ("1" spam / "0" not / "" unlabelled: DMR's
``label`` is inverted, 0 = spam), ``author``, ``author_registered``, ``user_id``, ``date``,
``tags``. A DMR review's ``user_reviews`` (that user's earlier reviews) all become RawDocs of
their own (meta ``from_user_history`` "1"), including those with empty text and the copy of the
labelled review itself: the quality filter and dedup reject those with a reason. The labelled
review's meta counts them (``user_reviews``, ``user_reviews_empty``). Reviews have no native id
in DMR: a labelled review's id hashes user, subject, date and text; an earlier review's hashes
the user and its position in ``user_reviews``.

**Keyed files**: DMR's movies.json and reviews.json are each one JSON object mapping an id (or
``reviewN``) to a record. ReadCrawl reads them with ``json_items: "*"``, which makes every entry
a record of its own with its key added as ``__key__``; the adapter uses that key as the subject
id of profiles (and names it in a keyless review's rejection). A whole keyed file given to the
adapter is a ValueError: walking it here would let a rejected entry vanish inside an accepted
file.

Rejected: ``no_title`` (a profile with an empty name), ``empty_review`` (a review without text;
earlier reviews nested in one are emitted even when empty, see above).
"""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import (
    Origin,
    Reject,
    first_count,
    first_str,
    new_doc,
    parse_count,
    require_mapping,
)
from beam_cqia.text.html import fragment_to_markdown
from beam_cqia.text.ids import content_id, doc_id

SOURCE = "douban"
CAST_LIMIT = 10

REAL_DATA = [
    {
        "path": "douban-dmr/movies.json",
        "format": "json",
        "json_items": "*",
        "expect": {"errors": 0, "rejected": {}},
        "why": {},
    },
    {
        # 44 labelled reviews, each with its user's earlier reviews (1,583, of which 360 are
        # empty and 44 repeat the labelled review): 1,627 RawDocs; the empty ones and the
        # repeats are left to the quality filter and dedup, which reject them with a reason.
        "path": "douban-dmr/reviews.json",
        "format": "json",
        "json_items": "*",
        "expect": {"errors": 0, "rejected": {}},
        "why": {},
    },
]

_PROFILE_KEYS = frozenset(
    {
        "movie_name",
        "directors",
        "casts",
        "actors",
        "writers",
        "summary",
        "synopsis",
        "intro",
        "isbn",
        "author_intro",
        "release_times",
        "producing_regions",
        "average_stars",
    }
)
_REVIEW_KEYS = frozenset({"review_id", "text", "content", "comment"})
_MEDIA_TYPES = {
    "movie": "movie",
    "film": "movie",
    "电影": "movie",
    "tv": "tv",
    "series": "tv",
    "show": "tv",
    "电视剧": "tv",
    "剧集": "tv",
    "综艺": "tv",
    "book": "book",
    "图书": "book",
    "书": "book",
    "书籍": "book",
}
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d)(?!\d)")
_IMDB = re.compile(r"tt\d{5,}")
_HTML_TAG = re.compile(
    r"</?(?:p|br|div|span|img|h[1-6]|ul|ol|li|pre|b|strong|a|blockquote)\b", re.I
)
_NAME_SPLIT = re.compile(r"\s+/\s+|/")


def adapt(obj: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    """Turns a profile or a review (with its user's earlier reviews) into RawDocs.

    Raises:
        Reject: ``no_title`` or ``empty_review`` (see the module docstring).
        ValueError: when the record is neither a profile nor a review, is a whole file of records
            keyed by id (read it with ``json_items: "*"``), or a field is malformed.
    """
    record = require_mapping(obj)
    key = str(record.get("__key__", ""))
    kind = _kind(record)
    if kind == "review":
        yield from _review(record, origin, key)
    elif kind == "profile":
        yield _profile(record, origin, key)
    elif all(isinstance(v, Mapping) for v in record.values()):
        yield from _keyed_file(record, origin)
    else:
        raise ValueError(f"not a Douban profile or review: keys {sorted(map(str, record))[:12]}")


def _kind(record: Mapping[str, Any]) -> str:
    if _REVIEW_KEYS & set(record):
        return "review"
    if _PROFILE_KEYS & set(record) or ("title" in record and "rating" in record):
        return "profile"
    return ""


def _keyed_file(records: Mapping[str, Any], origin: Origin) -> Iterator[RawDoc]:
    # Reading a whole keyed file as one record would hide per-entry outcomes (a rejected entry
    # would vanish inside an accepted file); each entry must be its own record.
    raise ValueError(
        f"a file of {len(records)} records keyed by id: read it with ReadCrawl json_items: '*' "
        "so that every entry is a record of its own"
    )
    yield  # pragma: no cover - makes this a generator like the other branches


# ---------------------------------------------------------------- profiles


def _profile(p: Mapping[str, Any], origin: Origin, key: str) -> RawDoc:
    native = key or first_str(p, "id", "subject_id", "douban_id")
    if not native:
        raise ValueError("missing field 'id'")
    title = first_str(p, "movie_name", "title", "name", required=True).strip()
    if not title:
        raise Reject("no_title", f"subject {native} has an empty name")
    media = _media_type(p)
    synopsis = _text(first_str(p, "summary", "synopsis", "intro", "description"))
    release = _first_value(p, "release_times", "pubdates", "pubdate", "release_date")
    release_text = _join(_names(release, "release_times")) if release is not None else ""
    year = first_str(p, "year").strip()
    if not year:
        match = _YEAR.search(release_text)
        year = match.group(1) if match else ""
    book = media == "book"
    meta = {
        "subject_id": native,
        "media_type": media,
        "title": title,
        "original_title": first_str(p, "original_title").strip(),
        "year": year,
        "release_date": release_text,
        "region": _join(
            _names(_first_value(p, "producing_regions", "countries", "regions"), "region")
        ),
        "genres": _join(_names(p.get("genres"), "genres")),
        "languages": _join(_names(p.get("languages"), "languages")),
        "director": _join(_names(p.get("directors"), "directors")),
        "writers": _join(_names(p.get("writers"), "writers")),
        "cast": _join(_names(_first_value(p, "actors", "casts", "cast"), "actors")[:CAST_LIMIT]),
        "rating": _rating(_first_value(p, "average_stars", "rating")),
        "votes": _votes(p),
        "imdb": _imdb(first_str(p, "imdb", "imdb_id")),
        "duration": _join(
            _names(_first_value(p, "movie_duration", "durations", "duration"), "duration")
        ),
        "episodes": first_count(p, "episodes_count", "episodes"),
        "author": _join(_names(p.get("author"), "author")) if book else "",
        "publisher": first_str(p, "publisher").strip() if book else "",
        "isbn": first_str(p, "isbn", "isbn13", "isbn10").strip() if book else "",
        "author_intro": _text(first_str(p, "author_intro")) if book else "",
    }
    site = "book" if book else "movie"
    return new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, native),
        url=first_str(p, "url", "alt") or f"https://{site}.douban.com/subject/{native}/",
        title=title,
        body=synopsis,
        meta=meta,
        fetched_at=first_str(p, "fetched_at"),
    )


def _media_type(p: Mapping[str, Any]) -> str:
    for key in ("media_type", "subtype", "type"):
        value = p.get(key)
        if isinstance(value, str) and value.strip():
            kind = _MEDIA_TYPES.get(value.strip().lower())
            if kind is None:
                raise ValueError(f"field {key!r}: unknown media type {value!r}")
            return kind
    if first_count(p, "episodes_count", "episodes") not in ("", "0"):
        return "tv"
    if any(p.get(k) for k in ("isbn", "isbn13", "isbn10", "publisher", "author_intro")):
        return "book"
    if "movie_name" in p:  # DMR: only film pages have a 片长 (see the module docstring)
        year = _YEAR.search(str(p.get("release_times") or ""))
        silent_era = year is not None and int(year.group(1)) < 1930
        return "movie" if p.get("movie_duration") or silent_era else "tv"
    return ""


def _names(value: Any, field: str) -> list[str]:
    """People or labels stored as {url: name}, [name], [{"name"}] or "A / B"."""
    if value is None or value == "":
        return []
    if isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, list):
        items = value
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        items = _NAME_SPLIT.split(str(value))
    else:
        raise ValueError(f"field {field!r} must be names, got {type(value).__name__}")
    names: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            item = item.get("name", "")
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ValueError(f"field {field!r} must hold names, got {type(item).__name__}")
        name = str(item).strip()
        if name and name not in names:
            names.append(name)
    return names


def _join(values: list[str]) -> str:
    return "/".join(values)


def _rating(value: Any) -> str:
    """A 0-10 average as Douban shows it ("8.7"); "" for no rating (0 means too few votes)."""
    if isinstance(value, Mapping):
        value = value.get("average", value.get("value"))
    if value is None or isinstance(value, bool):
        return ""
    try:
        number = float(str(value).strip())
    except ValueError:
        return ""  # "暂无评分" and the like
    if not 0 <= number <= 10:
        raise ValueError(f"rating must be within 0-10, got {value!r}")
    return f"{number:.1f}" if number else ""


def _votes(p: Mapping[str, Any]) -> str:
    rating = p.get("rating")
    if isinstance(rating, Mapping):
        for key in ("numRaters", "num_raters", "count"):
            if rating.get(key) not in (None, ""):
                return str(parse_count(rating[key], f"rating.{key}"))
    return first_count(p, "votes", "rating_count", "ratings_count", "num_raters")


def _imdb(value: str) -> str:
    match = _IMDB.search(value)
    return match.group(0) if match else value.strip()


# ---------------------------------------------------------------- reviews


def _review(r: Mapping[str, Any], origin: Origin, key: str) -> Iterator[RawDoc]:
    user_id = first_str(r, "user_id")
    nested = r.get("user_reviews")
    if nested is not None and not isinstance(nested, Mapping | list):
        raise ValueError("field 'user_reviews' must be an object or a list")
    items = list(nested.values() if isinstance(nested, Mapping) else nested or [])
    doc = _review_doc(r, origin, user_id, key)
    extra: list[RawDoc] = []
    empty = 0
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise ValueError(f"user_reviews[{i}] must be a JSON object")
        try:
            # Earlier reviews are emitted even when empty or a copy of this one: the quality
            # filter and dedup reject them with a reason, instead of the adapter dropping them.
            earlier = _review_doc(item, origin, user_id, f"{user_id}#{i}", from_history=True)
        except ValueError as exc:
            raise ValueError(f"user_reviews[{i}]: {exc}") from None
        empty += not earlier.answer
        extra.append(earlier)
    if items:
        doc = doc._replace(
            meta={**doc.meta, "user_reviews": str(len(items)), "user_reviews_empty": str(empty)}
        )
    yield doc
    yield from extra


def _review_doc(
    r: Mapping[str, Any], origin: Origin, user_id: str, key: str, from_history: bool = False
) -> RawDoc:
    subject_id = first_str(r, "subject_id", "movie_id", "book_id", "item_id")
    text = _text(first_str(r, "text", "content", "comment"))
    review_id = first_str(r, "review_id", "id")
    date = first_str(r, "date", "created", "create_time", "time").strip()
    if not text and not from_history:
        where = f"review {review_id}" if review_id else f"review {key or date} of {subject_id}"
        raise Reject("empty_review", f"{where} has no text")
    profile = r.get("user_profile")
    if profile is not None and not isinstance(profile, Mapping):
        raise ValueError("field 'user_profile' must be a JSON object")
    profile = profile or {}
    author = r.get("author")
    if isinstance(author, Mapping):
        author = author.get("name", "")
    author_name = (
        str(author or "")
        or first_str(profile, "screen_name")
        or first_str(r, "user_name", "nickname")
    )
    meta = {
        "subject_id": subject_id,
        "review_id": review_id,
        "media_type": _media_type_of_review(r),
        "stars": _stars(_first_value(r, "stars", "rating")),
        "votes": first_count(r, "useful", "useful_count", "votes"),
        "useless": first_count(r, "useless", "useless_count"),
        "spam": _spam(r.get("label")),
        "author": author_name.strip(),
        "author_registered": first_str(profile, "register_time"),
        "user_id": user_id,
        "date": date,
        "tags": _join(_names(r.get("tags"), "tags")),
        "from_user_history": "1" if from_history else "",
    }
    url = first_str(r, "url")
    if not url and review_id:
        url = f"https://movie.douban.com/review/{review_id}/"
    return new_doc(
        SOURCE,
        origin,
        doc_id(SOURCE, f"review:{review_id}")
        if review_id
        else content_id(SOURCE, "history", key)
        if from_history
        else content_id(SOURCE, "review", user_id, subject_id, date, text),
        url=url,
        title=first_str(r, "subject_title", "movie_name", "movie_title", "book_title").strip(),
        question=first_str(r, "title").strip(),
        answer=text,
        meta=meta,
        fetched_at=first_str(r, "fetched_at"),
    )


def _media_type_of_review(r: Mapping[str, Any]) -> str:
    for key in ("media_type", "subject_type", "type"):
        value = r.get(key)
        if isinstance(value, str) and value.strip():
            kind = _MEDIA_TYPES.get(value.strip().lower())
            if kind is None:
                raise ValueError(f"field {key!r}: unknown media type {value!r}")
            return kind
    return ""


def _stars(value: Any) -> str:
    """A 1-5 star rating as a whole number ("4"); "" when the review has no rating."""
    if isinstance(value, Mapping):
        value = value.get("value", value.get("stars"))
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        raise ValueError(f"stars must be a number 0-5, got {value!r}")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ValueError(f"stars must be a number 0-5, got {value!r}") from None
    if not 0 <= number <= 5 or number != int(number):
        raise ValueError(f"stars must be a whole number 0-5, got {value!r}")
    return str(int(number)) if number else ""


def _spam(label: Any) -> str:
    if label is None or label == "":
        return ""
    if label in (0, "0"):
        return "1"
    if label in (1, "1"):
        return "0"
    raise ValueError(f"label must be 0 (spam) or 1 (not spam), got {label!r}")


# ---------------------------------------------------------------- helpers


def _first_value(obj: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if obj.get(key) not in (None, ""):
            return obj[key]
    return None


def _text(value: str) -> str:
    if _HTML_TAG.search(value):
        return fragment_to_markdown(value).strip()
    return value.strip()
