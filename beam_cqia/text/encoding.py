"""Crawled bytes to text for Chinese data: BOM, strict UTF-8, declared charset, then detection.

:func:`decode` applies these rules in order and says which one decided (``Decoded.method``):

1. ``bom``: a UTF-8, UTF-16 (LE/BE) or UTF-32 (LE/BE) byte-order mark decides; it is stripped.
2. ``utf-8``: bytes that decode as strict UTF-8 are UTF-8, whatever is declared (crawled pages
   declare gb2312 and are UTF-8). Exception: NULs in every other byte are ASCII-heavy UTF-16
   without a BOM, which is valid UTF-8 too (``detected``).
3. ``declared``: the caller's charset (HTTP header, spec) or, for HTML, the ``<meta>``/XML one,
   if the bytes decode strictly with it, unless GB18030, Big5 or UTF-16 reads as clearly better
   Chinese (a windows-1252 label decodes most GB2312 bytes; a big5 label decodes 41% of real
   GB18030 rows, often into plausible-looking hanzi, see _GB_EVIDENCE).
4. ``detected``: candidates are scored on 64 KB from the first non-ASCII byte, the whole is
   decoded with the best one, and with the next plausible one if the best fails later on.
5. ``fallback``: nothing fits, and :class:`UndecodableError` says where the first bad byte is and
   what was tried. We never replace bad bytes with U+FFFD: that would hide corrupt or truncated
   input (callers that cut a file's head should cut it at a character boundary).

Every result satisfies ``data.decode(result.encoding) == result.text``: encodings are Python codec
names (``utf-8-sig``, ``utf-16``, ``utf-32`` for BOM'd data), so ``io.TextIOWrapper`` can stream a
file with them. GB2312 and GBK are read as GB18030 (a byte-compatible superset); Big5 as Big5-HKSCS
(like the WHATWG big5 decoder; it encodes 5,199 of the 5,307 distinct characters of our Tang poems,
cp950 5,019), then cp950 for its few code points HKSCS lacks (the euro sign).

The detection score is hand-written because it is Chinese-specific. GB18030 and Big5 decode the
same bytes without error most of the time and the wrong one still yields real ideographs, so a
candidate is scored by the weighted share of its non-ASCII characters that are plausible in Chinese
text: the frequent hanzi (GB2312 level 1, 3,755 simplified; Big5 level 1, 5,401 traditional), CJK
punctuation and full-width forms weigh 1; the rarer levels and a few symbols (□ ○ ※) 0.3; other
characters 0.1; control, private-use and U+FFFD 0. The tables come from the codecs, so there is no
data file. Measured on ../shared/corpora (5,003 Tang poems encoded as Big5 and as GB18030; 4,072
Song ci and medical texts as GB18030), the right codec wins for every whole text and 16-character
snippet, 99.98-100% of 8-character and 98.2-99.7% of 4-character snippets. charset-normalizer's
best guess on a 600-text sample of the same is right for 98.8% of whole texts, 83% of 16-character
and 41% of 8-character snippets (it proposes cp949, Shift_JIS, johab...), and ~8x slower.

charset-normalizer is used for what it knows and this score does not: when no Chinese reading is
convincing, it proposes the other legacy encodings (cp1252, cp1251, Shift_JIS...). Alphabetic
proposals go first (its chaos measure judges them); Japanese or Korean ones rank after plausible
Chinese readings. Known limits: EUC-KR hangul and EUC-JP kana sit on the same byte rows as frequent
GB2312/Big5 hanzi, so undeclared Korean or EUC-JP Japanese text reads as (nonsense) Chinese (a
declaration of those charsets is honoured); and an input of a few characters cut inside its last
one cannot be told from a complete one in another codec.
"""

import codecs
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from types import MappingProxyType
from typing import Literal, NamedTuple, NoReturn

from charset_normalizer import from_bytes

Method = Literal["bom", "utf-8", "declared", "detected", "fallback"]

# Detection scores this much of the input, from its first non-ASCII byte (pages often open with
# tens of KB of ASCII script and style); the winner then decodes all of it.
DETECT_BYTES = 64 * 1024
# The score reads this many characters of a decoded sample: it is settled long before (whole
# poems of 20-100 characters are all classified right), and it costs ~40 ns a character; the rest
# of the sample is still checked for decoding errors.
_SCORE_CHARS = 16 * 1024
# HTML/XML head searched for a declared charset (WHATWG prescans 1,024 bytes; pages often put
# <meta charset> after long <script> blocks, so we look further).
SNIFF_BYTES = 4096

# A Chinese reading scoring this much decides without charset-normalizer. Correct readings of
# 20-character snippets of real text score >= 0.75 in all but 3 of 26,029 (median 1.0); Big5 bytes
# read as GB18030 score 0.04-0.65 (GB18030 bytes read as Big5: see _GB_EVIDENCE).
_ACCEPT = 0.75
# Below this a reading is not text in that encoding; a reading with fewer than _SHORT non-ASCII
# characters is weak evidence either way and needs only _MIN_SCORE_SHORT (two GB2312 level-2
# hanzi such as 癫痫 score 0.3; control and private-use garbage scores ~0).
_MIN_SCORE = 0.5
_MIN_SCORE_SHORT = 0.25
_SHORT = 8
# A Chinese reading overrides a declaration that decodes only if it scores this much higher.
_OVERRIDE_MARGIN = 0.2
# Except for a Big5 label: GB18030 bytes read as plausible Big5 in 6% of 20-character snippets
# of real text (both codecs put their frequent hanzi on the same byte rows), but Big5 bytes never
# read as plausible GB18030 from 12 characters on (2 of 5,003 poems at 12, none at 20), so a
# plausible GB18030 reading of that many characters overrules a Big5 label.
_GB_EVIDENCE = 12
# charset-normalizer proposals reading as East Asian text need this share of kana or hangul to
# count as Japanese or Korean (GB2312 bytes read as EUC-KR/EUC-JP give mostly hanja/kanji).
_MIN_KANA_HANGUL = 0.2

_GB = "gb18030"
_BIG5 = "big5hkscs"
# Codecs tried, in order, for one declared or detected name.
_FAMILIES: dict[str, tuple[str, ...]] = {_BIG5: (_BIG5, "cp950")}
# UTF-8 is a candidate too: bytes that are UTF-8 except for a cut or corrupt tail must not be read
# as GB18030 mojibake.
_CANDIDATES = ("utf-8", _GB, _BIG5, "utf-16-le", "utf-16-be")
_CHINESE_CODECS = frozenset({_GB, _BIG5, "cp950", "utf-16-le", "utf-16-be"})
_UTF16 = frozenset({"utf-16", "utf-16-le", "utf-16-be"})
_PROPOSER = "charset-normalizer"  # its notes share the dict of codecs tried

# (mark, codec reported: it reads the mark, codec of what follows the mark)
_BOMS = (  # UTF-32 first: its LE mark starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32", "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig", "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16", "utf-16-be"),
)

_ALIASES = {
    label: codec
    for codec, labels in (
        (
            _GB,
            "gb18030 gb-18030 gb2312 gb_2312 gb_2312-80 gb2312-80 gb2312-1980 csgb2312 iso-ir-58"
            " csiso58gb231280 chinese euc-cn euccn x-euc-cn gbk x-gbk cp936 ms936 windows-936 936",
        ),
        (
            _BIG5,
            "big5 big-5 big5-hkscs big5hkscs big5-eten big5-tw cn-big5 csbig5 x-x-big5 x-big5"
            " cp950 ms950 windows-950 950",
        ),
        ("utf-8", "utf8 utf-8 unicode-1-1-utf-8 unicode11utf8 unicode20utf8 x-unicode20utf8"),
        # WHATWG: on the web these labels mean windows-1252.
        (
            "cp1252",
            "ascii us-ascii ansi_x3.4-1968 iso-8859-1 iso8859-1 iso_8859-1 latin1 latin-1 l1 cp819"
            " ibm819 windows-1252 x-cp1252 cp1252",
        ),
        ("utf-16-le", "utf-16 utf16 utf-16le utf16le unicode ucs-2"),
        ("utf-16-be", "utf-16be utf16be unicodefffe"),
    )
    for label in labels.split()
}
# Python codecs that are not charsets a document can be in, or are unsafe to honour.
_NOT_CHARSETS = frozenset(
    {"undefined", "utf-7", "unicode-escape", "raw-unicode-escape", "idna", "punycode"}
)
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))
_NON_ASCII_BYTE = re.compile(rb"[\x80-\xff]")
_NON_ASCII_CHAR = re.compile(r"[^\x00-\x7f]")

_COMMENT = re.compile(rb"<!--.*?(?:-->|\Z)", re.DOTALL)
_XML_DECL = re.compile(rb"\A\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.I)
_META = re.compile(rb"<meta(?=[\s/])([^>]*)>", re.I)
_ATTR = re.compile(rb"([^\s=/>]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+)))?")
_CONTENT_CHARSET = re.compile(rb"charset\s*=\s*[\"']?([^\s;\"']+)", re.I)


def _hanzi(codec: str, leads: range, trails: Iterable[int]) -> frozenset[str]:
    """The CJK unified ideographs a double-byte codec maps a block of code points to."""
    out = set()
    for lead in leads:
        for trail in trails:
            try:
                char = bytes((lead, trail)).decode(codec)
            except UnicodeDecodeError:
                continue
            if "\u4e00" <= char <= "\u9fff":
                out.add(char)
    return frozenset(out)


_BIG5_TRAILS = (*range(0x40, 0x7F), *range(0xA1, 0xFF))
# GB2312 level 1 (B0A1-D7F9) and Big5 level 1 (A440-C67E) hold the frequent hanzi of each script.
_COMMON_HANZI = _hanzi("gb2312", range(0xB0, 0xD8), range(0xA1, 0xFF)) | _hanzi(
    "big5", range(0xA4, 0xC7), _BIG5_TRAILS
)
_RARE_HANZI = (
    _hanzi("gb2312", range(0xD8, 0xF8), range(0xA1, 0xFF))
    | _hanzi("big5", range(0xC9, 0xFA), _BIG5_TRAILS)
) - _COMMON_HANZI
_COMMON_PUNCT = frozenset("\u3000、。〃〈〉《》「」『』【】〔〕—‘’“”…·‧•～￥") | frozenset(
    map(chr, range(0xFF01, 0xFF5F))  # full-width ASCII forms: ，！？（）：；０-９Ａ-Ｚ
)
# Shapes that stand for lost characters in classical texts (□) or mark items in web text.
_COMMON_SYMBOLS = frozenset("□■○●◎◇◆△▲☆★※→←↑↓")
_ASCII_TEXT = frozenset(map(chr, range(0x20, 0x7F))) | frozenset("\t\n\r\f")
# Character classes for str.translate (per-character work in C: the hot path of detection):
# frequent "a" (weight 1), rare "b" (0.3), control/private-use/U+FFFD "z" (0), ASCII text dropped;
# other characters stay as they are and weigh 0.1.
_WEIGHT_CLASSES = MappingProxyType(
    {
        **dict.fromkeys(map(ord, _RARE_HANZI | _COMMON_SYMBOLS), "b"),
        **dict.fromkeys(map(ord, _COMMON_HANZI | _COMMON_PUNCT), "a"),
        **dict.fromkeys((*range(0x20), *range(0x7F, 0xA0), *range(0xE000, 0xF900), 0xFFFD), "z"),
        **dict.fromkeys(map(ord, _ASCII_TEXT)),
    }
)
_CLASS_WEIGHTS = MappingProxyType({"a": 1.0, "b": 0.3, "z": 0.0})
_KANA_HANGUL = re.compile(
    r"[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]"
)


class Decoded(NamedTuple):
    """Result of :func:`decode`.

    Attributes:
        text: the decoded text, without a byte-order mark.
        encoding: the Python codec that turns the input into ``text`` exactly.
        method: the rule that decided: ``bom``, ``utf-8``, ``declared`` or ``detected``
            (``fallback``, rule 5, raises :class:`UndecodableError` instead of returning).
    """

    text: str
    encoding: str
    method: Method


class UndecodableError(ValueError):
    """The bytes are in no encoding we can identify.

    Attributes:
        offset: byte offset of the first byte that is not valid UTF-8 (for a BOM'd input, the
            first byte invalid in the BOM's encoding).
        tried: the codecs tried, in order.
    """

    def __init__(self, message: str, offset: int, tried: tuple[str, ...]):
        super().__init__(message)
        self.offset = offset
        self.tried = tried


def normalize_charset_name(name: str) -> str | None:
    """Maps a charset label to the Python codec we decode it with.

    GB2312, GBK and their aliases become ``gb18030``; Big5 variants (cp950, Big5-HKSCS...)
    ``big5hkscs``; the labels the web means as windows-1252 (``iso-8859-1``, ``ascii``) ``cp1252``;
    ``utf8`` ``utf-8``; other labels Python knows their codec's canonical name.

    Args:
        name: a label as found in an HTTP header, a ``<meta>`` tag or a spec (any case, optionally
            quoted).

    Returns:
        A lower-case Python codec name, or None when the label is unknown or not a charset (e.g.
        ``base64``, ``utf-7``).
    """
    label = name.strip().strip("\"'").strip().lower()
    if not label or not label.isascii() or not label.isprintable():
        return None
    if label in _ALIASES:
        return _ALIASES[label]
    try:
        canonical = codecs.lookup(label).name
        b"a".decode(canonical)  # bytes-to-bytes codecs (hex, zlib...) raise LookupError here
    except (LookupError, ValueError):
        return None
    if canonical in _NOT_CHARSETS:
        return None
    return _ALIASES.get(canonical, canonical)


def sniff_declared_charset(data: bytes) -> str | None:
    """Finds the charset an HTML or XML document declares in its first bytes.

    Looks at an XML declaration at the start, then at ``<meta charset=...>`` and
    ``<meta http-equiv="Content-Type" content="...; charset=...">`` (attributes in any order),
    outside comments, within the first :data:`SNIFF_BYTES` bytes; unknown labels are skipped.

    Args:
        data: the document's bytes (only the head is read).

    Returns:
        The normalized codec name (see :func:`normalize_charset_name`), or None. A UTF-16 label
        found this way means UTF-8, as in the WHATWG prescan: the tag was readable as ASCII.
    """
    head = data[:SNIFF_BYTES]
    labels: list[bytes] = []
    xml = _XML_DECL.match(head)
    if xml:
        labels.append(xml.group(1))
    for meta in _META.finditer(_COMMENT.sub(b"", head)):
        attrs = {
            m.group(1).lower(): m.group(2) or m.group(3) or m.group(4) or b""
            for m in _ATTR.finditer(meta.group(1))
        }
        if attrs.get(b"charset"):
            labels.append(attrs[b"charset"])
        elif attrs.get(b"http-equiv", b"").strip().lower() == b"content-type":
            found = _CONTENT_CHARSET.search(attrs.get(b"content", b""))
            if found:
                labels.append(found.group(1))
    for label in labels:
        name = normalize_charset_name(label.decode("latin-1"))
        if name is not None:
            return "utf-8" if name in _UTF16 else name
    return None


def decode(data: bytes, declared: str | None = None, *, html: bool = False) -> Decoded:
    """Decodes crawled bytes: BOM, strict UTF-8, the declared charset, then detection.

    Args:
        data: the raw bytes.
        declared: a charset label from outside the bytes (HTTP header, spec); unknown labels are
            ignored.
        html: also honour a charset declared in the document's ``<meta>`` or XML declaration
            (after ``declared``).

    Returns:
        The text, the codec (``data.decode(encoding) == text``) and the rule that decided.

    Raises:
        UndecodableError: no rule yields text; the message gives the offset of the first byte that
            is not UTF-8 and each codec tried with where or why it failed.
    """
    if not data:
        return Decoded("", "utf-8", "utf-8")
    for bom, codec, body in _BOMS:
        if data.startswith(bom):
            try:
                return Decoded(data[len(bom) :].decode(body), codec, "bom")
            except UnicodeDecodeError as exc:
                raise UndecodableError(
                    f"undecodable bytes: {codec} byte-order mark, but {_failure(exc, len(bom))}",
                    exc.start + len(bom),
                    (codec,),
                ) from None

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        utf8_error = exc
    else:
        utf16 = _utf16_by_nul_pattern(data) if b"\x00" in data else None
        return utf16 or Decoded(text, "utf-8", "utf-8")

    # codec -> why it was not used; whole-input decoding errors (codecs in either: not retried).
    tried: dict[str, str] = {"utf-8": _failure(utf8_error)}
    errors: dict[str, UnicodeDecodeError] = {"utf-8": utf8_error}
    readings: list[tuple[_Reading, str]] | None = None
    for name in _declared_names(data, declared, html):
        for codec in _FAMILIES.get(name, (name,)):
            if codec in tried:
                continue
            try:
                text = data.decode(codec)
            except UnicodeDecodeError as exc:
                tried[codec] = f"declared, {_failure(exc)}"
                errors[codec] = exc
                continue
            sample = _text_sample(text)
            declared_score = _read(sample).score
            big5 = codec in _FAMILIES[_BIG5]
            if (declared_score >= _ACCEPT and not big5) or not _second_guessable(codec, sample):
                return Decoded(text, codec, "declared")
            readings = _read_candidates(data, tried, errors) if readings is None else readings
            better = [
                alternative
                for reading, alternative in readings
                if reading.score >= _ACCEPT
                and (
                    reading.score > declared_score + _OVERRIDE_MARGIN
                    or (big5 and alternative == _GB and reading.chars >= _GB_EVIDENCE)
                )
            ]
            if not better:
                return Decoded(text, codec, "declared")
            # Another codec reads as clearly better Chinese: if it fails on the whole input (cut or
            # corrupt), the declared reading is still no answer.
            tried[codec] = f"declared, implausible (score {declared_score:.2f})"
            found = _first_whole(data, better, tried, errors)
            if found is not None:
                return found
            return _undecodable(utf8_error, tried)

    readings = _read_candidates(data, tried, errors) if readings is None else readings
    if readings and readings[0][0].score >= _ACCEPT:
        order = [codec for reading, codec in readings if _plausible(reading)]
    else:
        order = _merge_proposals(data, readings, tried)
    found = _first_whole(data, order, tried, errors)
    if found is not None:
        return found
    for reading, codec in readings:
        tried.setdefault(codec, f"implausible (score {reading.score:.2f})")
    return _undecodable(utf8_error, tried)


def _undecodable(utf8_error: UnicodeDecodeError, tried: dict[str, str]) -> NoReturn:
    """Raises UndecodableError with the first non-UTF-8 byte and every codec tried."""
    attempts = "; ".join(f"{codec}: {why}" for codec, why in tried.items())
    raise UndecodableError(
        f"undecodable bytes: first byte that is not UTF-8 at offset {utf8_error.start}; "
        f"tried {attempts}",
        utf8_error.start,
        tuple(codec for codec in tried if codec != _PROPOSER),
    )


class _Reading(NamedTuple):
    """How plausible a decoded text is as Chinese, over its non-ASCII characters."""

    score: float  # weighted share of characters plausible in Chinese text; 1.0 if all ASCII
    chars: int  # non-ASCII characters (and ASCII controls) the score is over


class _Scripts(NamedTuple):
    """Shares of scripts among a decoded text's non-ASCII characters."""

    east_asian: float  # East Asian wide, full-width or half-width characters
    kana_hangul: float  # Japanese kana and Korean hangul
    native_score: float  # _Reading.score with kana and hangul counted as plausible


def _read(text: str) -> _Reading:
    """Scores a decoded text (its first _SCORE_CHARS characters)."""
    classes = text[:_SCORE_CHARS].translate(_WEIGHT_CLASSES)
    total = len(classes)
    if not total:
        return _Reading(1.0, 0)
    frequent, rare, zero = classes.count("a"), classes.count("b"), classes.count("z")
    other = total - frequent - rare - zero
    return _Reading((frequent + 0.3 * rare + 0.1 * other) / total, total)


def _scripts(text: str) -> _Scripts:
    """Profiles the scripts of a decoded text (its first _SCORE_CHARS characters)."""
    total = east_asian = kana_hangul = 0
    weight = 0.0
    for char, count in Counter(text[:_SCORE_CHARS]).items():
        if char in _ASCII_TEXT:
            continue
        total += count
        if _KANA_HANGUL.match(char):
            kana_hangul += count
            weight += count
        else:
            weight += count * _CLASS_WEIGHTS.get(_WEIGHT_CLASSES.get(ord(char), ""), 0.1)
        if unicodedata.east_asian_width(char) in ("W", "F", "H"):
            east_asian += count
    if not total:
        return _Scripts(0.0, 0.0, 1.0)
    return _Scripts(east_asian / total, kana_hangul / total, weight / total)


def _plausible(reading: _Reading) -> bool:
    """Whether a reading is text at all (see _MIN_SCORE)."""
    return reading.score >= (_MIN_SCORE if reading.chars >= _SHORT else _MIN_SCORE_SHORT)


def _failure(exc: UnicodeDecodeError, shift: int = 0) -> str:
    """Where and why a codec failed, in words; ``shift`` is where the decoded bytes start."""
    at = f"fails at byte {exc.start + shift} (0x{exc.object[exc.start]:02x}: {exc.reason})"
    return at + (", data ends inside a character (truncated?)" if _is_cut(exc) else "")


def _is_cut(exc: UnicodeDecodeError) -> bool:
    """Whether a decoding error is an incomplete character at the very end of the input."""
    return exc.end >= len(exc.object) and exc.start >= len(exc.object) - 3


def _second_guessable(codec: str, sample: str) -> bool:
    """Whether detection may override a declared codec that decodes the bytes.

    Yes between the Chinese codecs, and for charsets that read as alphabetic text (a page labelled
    windows-1252 by default); not for a Japanese or Korean charset that reads as East Asian text,
    which our score, built for Chinese, cannot judge.
    """
    return codec in _CHINESE_CODECS or _scripts(sample).east_asian < 0.5


def _declared_names(data: bytes, declared: str | None, html: bool) -> list[str]:
    """Normalized declared charsets, the caller's first, without duplicates or UTF-8."""
    names = [normalize_charset_name(declared) if declared else None]
    if html:
        names.append(sniff_declared_charset(data))
    return [n for n in dict.fromkeys(names) if n is not None and n != "utf-8"]


def _first_whole(
    data: bytes, order: list[str], tried: dict[str, str], errors: dict[str, UnicodeDecodeError]
) -> Decoded | None:
    """Decodes all of ``data`` with the first codec of ``order`` that works.

    Codecs that failed before are not retried. If the data ends inside a character of the first
    codec, the search stops: that reading is right up to a cut, any other would be a guess.
    """
    for rank, codec in enumerate(order):
        for member in _FAMILIES.get(codec, (codec,)):
            error = errors.get(member)
            if error is None and member not in tried:
                try:
                    return Decoded(data.decode(member), member, "detected")
                except UnicodeDecodeError as exc:
                    tried[member] = _failure(exc)
                    errors[member] = error = exc
            if rank == 0 and error is not None and _is_cut(error):
                return None
    return None


def _sample(data: bytes) -> tuple[bytes, int, bool]:
    """The bytes detection scores, their offset, and whether they run to the end of the input.

    DETECT_BYTES from the first non-ASCII byte, rounded down to an even offset (a character
    boundary for UTF-16 too; what precedes is ASCII, complete characters in every other candidate).
    """
    first = _NON_ASCII_BYTE.search(data)
    start = (first.start() if first else 0) & ~1
    return data[start : start + DETECT_BYTES], start, start + DETECT_BYTES >= len(data)


def _text_sample(text: str) -> str:
    """The decoded counterpart of _sample: DETECT_BYTES characters from the first non-ASCII one."""
    first = _NON_ASCII_CHAR.search(text)
    start = first.start() if first else 0
    return text[start : start + DETECT_BYTES]


def _utf16_by_nul_pattern(data: bytes) -> Decoded | None:
    """UTF-16 without BOM for valid-UTF-8 bytes whose NULs sit in every other position."""
    head = data[:DETECT_BYTES]
    pairs = len(head) // 2
    even, odd = head[0::2].count(0), head[1::2].count(0)
    if len(data) % 2 or max(even, odd) < 0.3 * pairs or min(even, odd) > 0.02 * pairs:
        return None
    codec = "utf-16-le" if odd > even else "utf-16-be"
    try:
        text = data.decode(codec)
    except UnicodeDecodeError:
        return None
    if _read(_text_sample(text)).score < _ACCEPT:
        return None
    return Decoded(text, codec, "detected")


def _read_candidates(
    data: bytes, tried: dict[str, str], errors: dict[str, UnicodeDecodeError]
) -> list[tuple[_Reading, str]]:
    """Scores UTF-8, GB18030, Big5 and UTF-16 on a sample of the input (_sample), best first.

    Candidates that fail there are recorded in ``tried`` and left out, except when a short input
    ends inside a character after _SHORT characters or more: that reading is scored on what
    precedes the cut and kept (with its error), so that a truncated input that is clearly UTF-8 is
    reported, not read as GB18030 mojibake. Ties keep the order of _CANDIDATES (GB18030 before
    Big5), complete readings first.
    """
    sample, start, to_end = _sample(data)
    readings = []
    for codec in _CANDIDATES:
        for member in _FAMILIES.get(codec, (codec,)):
            try:
                text = codecs.getincrementaldecoder(member)("strict").decode(sample, to_end)
            except UnicodeDecodeError as exc:
                tried.setdefault(member, _failure(exc, start))
                if to_end and _is_cut(exc):
                    before_cut = _read(sample[: exc.start].decode(member))
                    if before_cut.chars >= _SHORT:
                        errors.setdefault(member, exc)
                        readings.append((before_cut, member, 1))
                        break
                continue
            readings.append((_read(text), member, 0))
            break
    readings.sort(key=lambda item: (-item[0].score, item[2]))
    return [(reading, codec) for reading, codec, _ in readings]


def _merge_proposals(
    data: bytes, readings: list[tuple[_Reading, str]], tried: dict[str, str]
) -> list[str]:
    """Orders charset-normalizer's proposals and our candidates when no reading decides alone.

    First the proposals that read as alphabetic text (cp1252, cp1251...), by charset-normalizer's
    chaos and coherence: those judge them, our score cannot. Then our plausible readings. Then the
    proposals that read as Japanese or Korean (kana or hangul in a fifth of the characters at
    least), by our score with kana and hangul counted as plausible. Chinese goes first among East
    Asian readings because these are Chinese crawls and because EUC-KR, EUC-JP and GB2312 share
    one grid of code points: GB2312 level-2 hanzi (癫痫) read as EUC-KR are common hanja.
    """
    sample, start, _ = _sample(data)
    alphabetic: list[tuple[float, float, bool, str]] = []
    japanese_korean: list[tuple[float, str]] = []
    seen = {codec for _, codec in readings} | set(tried)
    proposed = 0
    for match in from_bytes(sample, enable_fallback=False):
        codec = normalize_charset_name(match.encoding)
        if codec is None or codec in seen:
            continue
        seen.add(codec)
        proposed += 1
        if not _ascii_compatible(codec):  # EBCDIC and the like: not web text
            tried[codec] = "proposed by charset-normalizer, not ASCII-compatible"
            continue
        try:
            scripts = _scripts(codecs.getincrementaldecoder(codec)("strict").decode(sample))
        except UnicodeDecodeError as exc:
            tried[codec] = f"proposed by charset-normalizer, {_failure(exc, start)}"
            continue
        if scripts.east_asian < 0.5:
            # Ties (same chaos and coherence) go to windows-1252, the web's default.
            alphabetic.append((match.chaos, -match.coherence, codec != "cp1252", codec))
        elif scripts.kana_hangul >= _MIN_KANA_HANGUL and scripts.native_score >= _MIN_SCORE:
            japanese_korean.append((scripts.native_score, codec))
        else:
            tried[codec] = "proposed by charset-normalizer, reads as implausible hanzi"
    if not proposed:
        tried[_PROPOSER] = "no other proposal"
    alphabetic.sort(key=lambda item: item[:3])
    japanese_korean.sort(key=lambda item: -item[0])
    return [
        *(codec for *_, codec in alphabetic),
        *(codec for reading, codec in readings if _plausible(reading)),
        *(codec for _, codec in japanese_korean),
    ]


def _ascii_compatible(codec: str) -> bool:
    """Whether a codec reads printable ASCII bytes as themselves."""
    try:
        return _PRINTABLE_ASCII.decode(codec) == _PRINTABLE_ASCII.decode("ascii")
    except UnicodeDecodeError:
        return False
