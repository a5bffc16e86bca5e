"""Strict parsers of LLM verdicts: a verdict is exactly what the prompt asked for, or an error.

A judge that answers in prose, adds keys, or gives a score out of range has not given a verdict,
and no default score stands in for one (DESIGN.md §8): the parser raises ``VerdictError`` with
the raw text, and the stage sends the record to ``errors``.
"""

import json
import math
import re
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

# One Markdown code fence around the whole answer (```json ... ```) is the only wrapping allowed:
# it is unambiguous, and many chat models add it even when told not to.
_FENCE = re.compile(r"\A```(?:json|JSON)?[ \t]*\n(.*)\n```\Z", re.S)


class VerdictError(ValueError):
    """A model's answer is not a valid verdict.

    Attributes:
        raw: the answer exactly as the model gave it.
    """

    def __init__(self, problem: str, raw: str):
        super().__init__(f"{problem}; raw response: {raw!r}")
        self.problem = problem
        self.raw = raw


class ScoreVerdict(NamedTuple):
    """A judge's score and its reasons."""

    score: float
    reasons: str


def parse_score_json(text: str, low: float = 0.0, high: float = 10.0) -> ScoreVerdict:
    """Parses ``{"score": <number>, "reasons": "<text>"}`` and nothing else.

    Surrounding whitespace and one enclosing Markdown code fence are allowed; anything else
    around the object, other keys, a missing key, a score that is not a JSON number (strings and
    booleans included) or outside ``[low, high]`` is an error.

    Raises:
        VerdictError: with the raw text.
    """
    if not isinstance(text, str):
        raise VerdictError(f"expected text, got {type(text).__name__}", repr(text))
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body:
        raise VerdictError("empty verdict", text)
    try:
        obj: Any = json.loads(body, parse_constant=_reject_constant)
    except ValueError as exc:
        raise VerdictError(f"not a JSON object ({exc})", text) from None
    if not isinstance(obj, dict):
        raise VerdictError(f"expected a JSON object, got {type(obj).__name__}", text)
    keys = set(obj)
    if keys != {"score", "reasons"}:
        missing = sorted({"score", "reasons"} - keys)
        extra = sorted(keys - {"score", "reasons"})
        raise VerdictError(
            f"expected keys score and reasons (missing {missing}, extra {extra})", text
        )
    score = obj["score"]
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise VerdictError(f"score must be a number, got {score!r}", text)
    if not low <= score <= high:
        raise VerdictError(f"score {score!r} is outside [{low:g}, {high:g}]", text)
    reasons = obj["reasons"]
    if not isinstance(reasons, str):
        raise VerdictError(f"reasons must be a string, got {type(reasons).__name__}", text)
    return ScoreVerdict(float(score), reasons.strip())


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# A good/bad verdict: 【好】 or 【差】 first, then optionally a reason on the same or next lines.
_GOOD_BAD = re.compile(r"\A【(好|差)】[ \t]*(?:[:：，,。][ \t]*)?(.*)\Z", re.S)
_VERDICT_MARK = re.compile(r"【(?:好|差)】")


def parse_good_bad(text: str) -> ScoreVerdict:
    """Parses a good/bad verdict: ``【好】`` or ``【差】`` at the very start, then optionally a
    reason (``【差】指令含义不清。``); 1.0 for good, 0.0 for bad.

    Surrounding whitespace is allowed. A verdict that does not start with the mark, gives both
    marks, or repeats one (``【好】……【差】``, the model changing its mind) is an error: only a
    clear verdict counts (COIG-Kun kept an instruction only when the answer had 【好】 and no
    【差】).

    Raises:
        VerdictError: with the raw text.
    """
    if not isinstance(text, str):
        raise VerdictError(f"expected text, got {type(text).__name__}", repr(text))
    body = text.strip()
    if not body:
        raise VerdictError("empty verdict", text)
    match = _GOOD_BAD.match(body)
    if not match:
        raise VerdictError("expected the verdict to start with 【好】 or 【差】", text)
    marks = _VERDICT_MARK.findall(body)
    if len(marks) != 1:
        raise VerdictError(f"expected one verdict mark, got {len(marks)} ({marks})", text)
    return ScoreVerdict(1.0 if match.group(1) == "好" else 0.0, match.group(2).strip())


# Parsers a prompt can name in its front matter (``parser: score_json``).
PARSERS: Mapping[str, Callable[[str], ScoreVerdict]] = MappingProxyType(
    {"score_json": parse_score_json, "good_bad": parse_good_bad}
)


def get_parser(name: str) -> Callable[[str], ScoreVerdict]:
    """The parser called ``name``.

    Raises:
        ValueError: naming the known parsers.
    """
    try:
        return PARSERS[name]
    except KeyError:
        raise ValueError(f"unknown verdict parser {name!r}; known: {sorted(PARSERS)}") from None
