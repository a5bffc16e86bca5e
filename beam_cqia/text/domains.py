"""Domain mapping: exam subjects, hospital departments, encyclopedia categories and keyword rules
to COIG-CQIA ``domain`` values. Pure functions, no Beam.

The mapping is data (``domains.yaml`` next to this module, or a file of the same shape given by
path)::

    mapper = DomainMapper.from_file()                 # the packaged mapping
    mapper.map_values(["高中物理"]).domains            # ["物理"] (rule "subject:高中物理")
    mapper.map_values(["消化科"]).domains              # ["医疗", "消化科"]
    mapper.map_text("求函数的导数，并求其最小值").rule  # "keyword:数学[函数,导数,最小值]"

Lookups are exact after :func:`normalize_key` (case, spaces, hyphens), so the result never
depends on dictionary order; keyword rules count distinct keywords per domain (leftmost-longest,
non-overlapping matches, so 心理学 is one hit and not also 心理) and place a record only when one
domain has at least ``keyword_min_hits`` of them and strictly more than any other domain.
Hand-written rather than a library because the vocabulary (COIG-CQIA's domain values, Chinese
exam subjects) is the point.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import ahocorasick_rs
import yaml

PACKAGED_MAPPING = "domains.yaml"
MEDICAL = "医疗"
_MAX_RULE_HITS = 5
_ASCII_WORD = re.compile(r"[0-9a-z_]")


class DomainMatch(NamedTuple):
    """What the mapper decided for one record.

    Attributes:
        domains: the domain values, in order, without repeats; empty when nothing matched.
        rule: which rule fired: ``subject:<name>``, ``department:<name>``, ``category:<name>``
            (joined with ``+`` when several values matched), ``keyword:<domain>[<hits>]``, or
            ``""`` when nothing matched.
        confidence: 1.0 for a table hit; for keywords the winner's share of all keyword hits.
    """

    domains: list[str]
    rule: str
    confidence: float


NO_MATCH = DomainMatch([], "", 0.0)


def normalize_key(name: str) -> str:
    """The lookup key of a subject, department or category: trimmed, lower-case, with spaces and
    hyphens as ``_`` (``High-School Physics`` -> ``high_school_physics``)."""
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def unique(values: Iterable[str]) -> list[str]:
    """The values in order, without repeats."""
    out: list[str] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where} must be a list of non-empty strings, got {value!r}")
    return [v.strip() for v in value]


class DomainMapper:
    """Maps subject names and texts to COIG-CQIA domain values (see the module docstring).

    Args:
        mapping: the parsed mapping (the shape of ``domains.yaml``): ``subjects`` and
            ``categories`` (name -> list of domains), ``departments`` (list of names, each
            mapped to ``[医疗, <name>]``), ``keywords`` (domain -> list of keywords),
            ``keyword_min_hits``, ``keyword_max_chars`` and ``level_prefixes``.

    Raises:
        ValueError: naming the section and the bad value.
    """

    def __init__(self, mapping: Mapping[str, Any]):
        if not isinstance(mapping, Mapping):
            raise ValueError("a domain mapping must be a mapping (the shape of domains.yaml)")
        known = {"version", "subjects", "departments", "categories", "keywords"}
        known |= {"keyword_min_hits", "keyword_max_chars", "level_prefixes"}
        unknown = sorted(set(mapping) - known)
        if unknown:
            raise ValueError(f"domain mapping: unknown keys {unknown}; allowed {sorted(known)}")
        self._table: dict[str, tuple[str, list[str]]] = {}
        for section, kind in (("subjects", "subject"), ("categories", "category")):
            entries = mapping.get(section) or {}
            if not isinstance(entries, Mapping):
                raise ValueError(f"domain mapping: {section} must map names to domain lists")
            for name, domains in entries.items():
                values = _str_list(domains, f"domain mapping: {section}.{name}")
                self._add(str(name), kind, values)
        departments = _str_list(mapping.get("departments") or [], "domain mapping: departments")
        for name in departments:
            self._add(name, "department", [MEDICAL, name])
        self.level_prefixes = tuple(
            _str_list(mapping.get("level_prefixes") or [], "domain mapping: level_prefixes")
        )
        self.min_hits = mapping.get("keyword_min_hits", 2)
        self.max_chars = mapping.get("keyword_max_chars", 3000)
        for key, value in (
            ("keyword_min_hits", self.min_hits),
            ("keyword_max_chars", self.max_chars),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"domain mapping: {key} must be a positive integer, got {value!r}")
        keywords = mapping.get("keywords") or {}
        if not isinstance(keywords, Mapping):
            raise ValueError("domain mapping: keywords must map domains to keyword lists")
        self.keyword_domains: list[str] = []
        by_pattern: dict[str, list[int]] = {}
        for domain, words in keywords.items():
            index = len(self.keyword_domains)
            self.keyword_domains.append(str(domain))
            for word in _str_list(words, f"domain mapping: keywords.{domain}"):
                owners = by_pattern.setdefault(word.lower(), [])
                if index not in owners:
                    owners.append(index)
        self._patterns = sorted(by_pattern)
        self._owners = [by_pattern[p] for p in self._patterns]
        self._automaton = (
            ahocorasick_rs.AhoCorasick(
                self._patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest
            )
            if self._patterns
            else None
        )

    def _add(self, name: str, kind: str, domains: list[str]) -> None:
        key = normalize_key(name)
        if not key:
            raise ValueError(f"domain mapping: empty {kind} name")
        previous = self._table.get(key)
        if previous is not None and previous[1] != domains:
            raise ValueError(
                f"domain mapping: {name!r} maps to {previous[1]} and to {domains} "
                f"({previous[0]} and {kind})"
            )
        self._table[key] = (kind, domains)

    @classmethod
    def from_file(cls, path: str | Path | None = None) -> "DomainMapper":
        """A mapper from a YAML or JSON file (JSON is YAML); the packaged mapping when None.

        Raises:
            OSError: the file cannot be read.
            ValueError: the file is not a valid mapping.
        """
        return cls(load_mapping(path))

    @property
    def names(self) -> list[str]:
        """Every subject, department and category key the mapper knows (normalized, sorted)."""
        return sorted(self._table)

    def lookup(self, name: str) -> tuple[str, list[str]] | None:
        """``(kind, domains)`` of a subject, department or category name, or None.

        An unknown name that starts with a school-level prefix (高中, 初中, 大学...) is looked up
        again without it, so 初中物理 gives 物理.
        """
        key = normalize_key(name)
        hit = self._table.get(key)
        if hit is None:
            for prefix in self.level_prefixes:
                if key.startswith(prefix) and len(key) > len(prefix):
                    hit = self._table.get(key[len(prefix) :])
                    if hit is not None:
                        break
        return hit

    def map_values(self, values: Sequence[str], keep_unknown: bool = False) -> DomainMatch:
        """Maps a record's own subject-like values (its domain list, an exam subject, a
        department) through the tables: each known value gives its domains in its place.

        Args:
            values: the names to look up.
            keep_unknown: keep the values the tables do not know, in their place (for a record
                whose domain mixes known and free-form values).

        Returns:
            The mapped domains, or :data:`NO_MATCH` when no value is known.
        """
        domains: list[str] = []
        rules: list[str] = []
        for value in values:
            if not isinstance(value, str) or not value.strip():
                continue
            hit = self.lookup(value)
            if hit is not None:
                domains += hit[1]
                rules.append(f"{hit[0]}:{value.strip()}")
            elif keep_unknown:
                domains.append(value)
        if not rules:
            return NO_MATCH
        return DomainMatch(unique(domains), "+".join(unique(rules)), 1.0)

    def keyword_hits(self, text: str) -> dict[str, list[str]]:
        """The distinct keywords found in the first ``keyword_max_chars`` characters of a text,
        per domain, in order of first appearance (domains in mapping order)."""
        if self._automaton is None or not text:
            return {}
        lowered = text[: self.max_chars].lower()
        found: dict[int, list[str]] = {}
        for pattern_index, start, end in self._automaton.find_matches_as_indexes(lowered):
            word = self._patterns[pattern_index]
            if _ASCII_WORD.match(word[0]) and start > 0 and _ASCII_WORD.match(lowered[start - 1]):
                continue  # an ASCII keyword inside a longer word ("git" in "digital")
            if _ASCII_WORD.match(word[-1]) and _ASCII_WORD.match(lowered[end : end + 1] or " "):
                continue
            for owner in self._owners[pattern_index]:
                hits = found.setdefault(owner, [])
                if word not in hits:
                    hits.append(word)
        return {self.keyword_domains[i]: found[i] for i in sorted(found)}

    def map_text(self, text: str) -> DomainMatch:
        """Keyword rules: the domain with the most distinct keywords, when it has at least
        ``keyword_min_hits`` and strictly more than every other domain; else :data:`NO_MATCH`."""
        hits = self.keyword_hits(text)
        if not hits:
            return NO_MATCH
        counts = sorted((len(words) for words in hits.values()), reverse=True)
        best = counts[0]
        if best < self.min_hits or (len(counts) > 1 and counts[1] == best):
            return NO_MATCH
        domain = next(d for d, words in hits.items() if len(words) == best)
        shown = ",".join(hits[domain][:_MAX_RULE_HITS])
        return DomainMatch([domain], f"keyword:{domain}[{shown}]", best / sum(counts))

    def map_record(self, values: Sequence[str], *texts: str) -> DomainMatch:
        """Tables first (``values``: the record's subject-like values), then keyword rules over
        the texts (instruction, input, output), joined by newlines."""
        match = self.map_values(values)
        if match.domains:
            return match
        return self.map_text("\n".join(t for t in texts if t))


def load_mapping(path: str | Path | None = None) -> dict[str, Any]:
    """Reads a domain mapping (YAML or JSON); the packaged ``domains.yaml`` when ``path`` is None.

    Raises:
        OSError: the file cannot be read.
        ValueError: the file is not YAML or does not hold a mapping.
    """
    if path is None:
        text = resources.files(__package__).joinpath(PACKAGED_MAPPING).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return parse_mapping(text, str(path or PACKAGED_MAPPING))


def parse_mapping(text: str, where: str = "mapping") -> dict[str, Any]:
    """Parses the text of a domain mapping file.

    Raises:
        ValueError: not YAML, or not a mapping at the top level.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: not YAML/JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a domain mapping must be a mapping at the top level")
    return data
