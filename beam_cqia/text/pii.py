"""Personal data in Chinese text: detection and masking (no Beam).

Kinds: mainland mobile numbers, landline numbers written with an area code, 18-digit resident ID
numbers (GB 11643 checksum and a plausible birth date), e-mail addresses and bank card numbers
(16–19 digits, a known issuer prefix and a valid Luhn checksum). Checksums keep long numbers in
exam answers and statistics from being taken for IDs or cards.
"""

import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

import regex

KINDS = ("email", "id_card", "bank_card", "mobile", "landline")
POLICIES = ("mask", "remove", "keep")
MASKS = {
    "id_card": "[身份证号]",
    "bank_card": "[银行卡号]",
    "mobile": "[手机号]",
    "landline": "[电话]",
    "email": "[邮箱]",
}

_ID = regex.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])")
_CARD = regex.compile(r"(?<![0-9])(?:\d[ -]?){15,18}\d(?![0-9])")
_MOBILE = regex.compile(r"(?<![0-9])(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9])")
_LANDLINE = regex.compile(
    r"(?<![0-9])(?:\(0\d{2,3}\)|（0\d{2,3}）|0\d{2,3}-)[ ]?[2-9]\d{6,7}(?:-\d{1,5})?(?![0-9])"
)
_EMAIL = regex.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# An e-mail needs an "@", and a match of every other kind lies in a chain of digits with at most
# one space or hyphen between two of them, a chain of at least this many digits (a landline's
# [2-9]\d{6,7}, a mobile's 11 digits, a card's 16, an ID's 17 in a row). Most texts have no chain
# of 7 digits, and one scan for the chains costs a fraction of the four searches.
_MIN_CHAIN = {"id_card": 17, "bank_card": 16, "mobile": 11, "landline": 7}
_CHAIN = regex.compile(r"\d(?:[ -]?\d){6,}")
_DIGIT_KINDS = frozenset(_MIN_CHAIN)
_SHORTEST_CHAIN = min(_MIN_CHAIN.values())
_KIND_SET = frozenset(KINDS)
# A landline's area code ends with ")", "）" or "-", then an optional space and [2-9].
_LANDLINE_HINT = re.compile("[)）-] ?[2-9]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_CARD_PREFIXES = ("62", "4", "51", "52", "53", "54", "55", "34", "37", "35", "60", "65", "9")


def valid_id_number(number: str) -> bool:
    """True for an 18-character resident ID with a valid checksum and birth date."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    year, month, day = int(number[6:10]), int(number[10:12]), int(number[12:14])
    if not (1900 <= year <= 2099 and 1 <= month <= 12 and 1 <= day <= 31):
        return False
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum of a digit string."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: str) -> bool:
    digits = match.replace(" ", "").replace("-", "")
    # ``regex``'s \d knows digits of a newer Unicode than int() does (Kawi, U+11F50...): a number
    # holding one is no card, where luhn_ok would raise.
    return (
        16 <= len(digits) <= 19
        and digits.startswith(_CARD_PREFIXES)
        and digits.isdecimal()
        and luhn_ok(digits)
    )


_DETECTORS: dict[str, tuple[regex.Pattern, Callable[[str], bool] | None]] = {
    "id_card": (_ID, valid_id_number),
    "bank_card": (_CARD, _card),
    "mobile": (_MOBILE, None),
    "landline": (_LANDLINE, None),
    "email": (_EMAIL, None),
}


class PiiResult(NamedTuple):
    """The text after the policy, and how many items of each kind were found."""

    text: str
    found: dict[str, int]


def _longest_chain(text: str) -> int:
    """The digits in the longest chain of 7 or more (see _CHAIN), or 0 when there is none."""
    first = _CHAIN.search(text)  # a search is faster than a finditer that finds nothing
    if first is None:
        return 0
    longest = 0
    # _CHAIN is greedy and a chain of fewer than 7 digits never matches, so each match is a
    # whole chain.
    for match in _CHAIN.finditer(text, first.start()):
        chain = match.group()
        longest = max(longest, len(chain) - chain.count(" ") - chain.count("-"))
    return longest


def _scrub_pass(
    text: str, policy: str, wanted: set[str], longest: int = -1
) -> tuple[str, dict[str, int]]:
    found: dict[str, int] = {}
    for kind in KINDS:
        if kind not in wanted:
            continue
        need = _MIN_CHAIN.get(kind)
        if need is not None:
            if longest < 0:  # unknown, or the text changed since it was measured
                longest = _longest_chain(text)
            if longest < need or (kind == "landline" and not _LANDLINE_HINT.search(text)):
                continue
        pattern, check = _DETECTORS[kind]
        count = 0  # a substitution that finds nothing costs what a search does

        def _replace(match: "regex.Match[str]", kind: str = kind, check=check) -> str:
            nonlocal count
            if check is not None and not check(match.group()):
                return match.group()
            count += 1
            if policy == "keep":
                return match.group()
            return MASKS[kind] if policy == "mask" else ""

        text = pattern.sub(_replace, text)
        if count:
            found[kind] = count
            if policy != "keep":
                # Removing an item can join the chains on either side ("138 a@b.cn1234").
                longest = -1
    return text, found


def scrub(text: str, policy: str = "mask", kinds: Iterable[str] = KINDS) -> PiiResult:
    """Finds personal data and masks, removes or only counts it.

    Args:
        text: the text.
        policy: ``mask`` (replace with a placeholder such as ``[手机号]``), ``remove`` or ``keep``
            (count only).
        kinds: which kinds to look for. They are checked in the order of :data:`KINDS`: e-mails
            first (a local part may be a phone number), then ID and card numbers before phone
            numbers, so a long number is never read as a shorter one.

    Raises:
        ValueError: for an unknown policy or kind.
    """
    return PiiResult(*scrub_checked(text, policy, checked_kinds(policy, kinds)))


def checked_kinds(policy: str, kinds: Iterable[str]) -> frozenset[str]:
    """The kinds as a set, after checking them and the policy as :func:`scrub` does.

    Raises:
        ValueError: for an unknown policy or kind.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown PII policy {policy!r}; use one of {list(POLICIES)}")
    wanted = frozenset(kinds)
    if not wanted <= _KIND_SET:
        unknown = wanted - _KIND_SET
        raise ValueError(f"unknown PII kinds {sorted(unknown)}; known: {list(KINDS)}")
    return wanted


def scrub_checked(text: str, policy: str, kinds: frozenset[str]) -> tuple[str, dict[str, int]]:
    """:func:`scrub` with a policy and kinds that :func:`checked_kinds` returned, as a tuple (for
    callers that scrub many texts with the same options)."""
    found: dict[str, int] = {}
    if not text:
        return text, found
    wanted = set(kinds)
    if "@" not in text:
        wanted.discard("email")  # masks hold no "@", so no pass can make one appear
    longest = -1
    if "email" not in wanted and not wanted.isdisjoint(_DIGIT_KINDS):
        # Only a digit kind could change the text, and none matches without a chain.
        longest = _longest_chain(text)
        if longest < _SHORTEST_CHAIN:
            return text, found
    elif not wanted:
        return text, found
    # Masking one item can expose another ("<ID>13812345678": the ID is only delimited once the
    # phone number is masked), so passes repeat until one finds nothing; each pass that finds
    # something removes digits, so this ends, and a second scrub finds nothing (idempotence).
    while True:
        text, new = _scrub_pass(text, policy, wanted, longest)
        longest = -1
        for kind, n in new.items():
            found[kind] = found.get(kind, 0) + n
        if not new or policy == "keep":
            break
    return text, found
