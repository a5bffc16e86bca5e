"""Training data and evaluation for the quality classifier: documents from files, a held-out split,
AUC and accuracy. Used by ``beam-cqia train-quality`` and the benchmark.
"""

import glob
import gzip
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import xxhash

from beam_cqia.models.quality import DEFAULT_MAX_CHARS, QualityModel, train

DEFAULT_FIELDS = ("output", "text", "content", "raw_content")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")


def expand(patterns: Sequence[str]) -> list[str]:
    """Files matched by glob patterns (``**`` allowed), sorted and without repeats.

    Raises:
        FileNotFoundError: a pattern matches no file.
    """
    files: list[str] = []
    for pattern in patterns:
        matched = sorted(p for p in glob.glob(pattern, recursive=True) if os.path.isfile(p))
        if not matched:
            raise FileNotFoundError(f"no file matches {pattern!r}")
        files += [p for p in matched if p not in files]
    return files


def _open_text(path: str) -> Any:
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")


def iter_documents(path: str, fields: Sequence[str] = DEFAULT_FIELDS) -> Iterator[str]:
    """The documents of one file: JSONL (``.jsonl``/``.ndjson``, optionally ``.gz``) gives the first
    of ``fields`` present as a non-empty string in each record; any other file gives one document
    per non-blank line.

    Raises:
        ValueError: a JSONL line that is not a JSON object.
    """
    is_jsonl = path.endswith(JSONL_SUFFIXES)
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            if not is_jsonl:
                yield line.rstrip("\r\n")
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: a JSON line must be an object")
            for field in fields:
                value = record.get(field)
                if isinstance(value, str) and value.strip():
                    yield value
                    break


def read_documents(
    patterns: Sequence[str], fields: Sequence[str] = DEFAULT_FIELDS
) -> tuple[list[str], list[str]]:
    """All documents of the files matched by ``patterns``, and the list of files.

    Raises:
        FileNotFoundError: a pattern matches nothing.
        ValueError: the files hold no document (e.g. none of ``fields`` in a JSONL file).
    """
    files = expand(patterns)
    docs = [doc for path in files for doc in iter_documents(path, fields)]
    if not docs:
        raise ValueError(f"no documents in {files} (JSONL fields tried: {list(fields)})")
    return docs, files


def in_holdout(text: str, fraction: float, seed: int = 0) -> bool:
    """Whether a text belongs to the held-out part: decided by a hash of the text, so that
    duplicates fall on the same side and the split does not depend on input order."""
    return xxhash.xxh3_64_intdigest(text.encode("utf-8"), seed) % 1_000_000 < fraction * 1_000_000


def split_holdout(
    texts: Sequence[str], fraction: float, seed: int = 0
) -> tuple[list[str], list[str]]:
    """(train, held out) by :func:`in_holdout`."""
    train_part: list[str] = []
    held: list[str] = []
    for text in texts:
        (held if in_holdout(text, fraction, seed) else train_part).append(text)
    return train_part, held


def roc_auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U, ties counted half); NaN without both classes."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(len(s))
    # Average ranks over runs of equal scores.
    starts = np.flatnonzero(np.r_[True, sorted_s[1:] != sorted_s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def accuracy(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, threshold: float = 0.5
) -> float:
    """Share of texts on the right side of ``threshold`` (positive when score >= threshold)."""
    y = np.asarray(labels, dtype=bool)
    if len(y) == 0:
        return float("nan")
    return float(((np.asarray(scores) >= threshold) == y).mean())


class TrainReport(NamedTuple):
    """What :func:`train_and_evaluate` did and measured."""

    model: QualityModel
    n_train_pos: int
    n_train_neg: int
    n_test_pos: int
    n_test_neg: int
    train_seconds: float
    auc: float
    accuracy: float
    pos_scores: np.ndarray
    neg_scores: np.ndarray


def train_and_evaluate(
    pos_texts: Sequence[str],
    neg_texts: Sequence[str],
    out_path: str | os.PathLike[str],
    holdout: float = 0.2,
    split_seed: int = 0,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    **params: Any,
) -> TrainReport:
    """Splits both classes by :func:`in_holdout`, trains on the rest, scores the held-out texts.

    Args:
        pos_texts: good texts.
        neg_texts: bad texts.
        out_path: where the model is saved.
        holdout: the held-out fraction (0 trains on everything and measures nothing).
        split_seed: seed of the split hash.
        max_chars: characters read per text.
        **params: fastText parameters for :func:`beam_cqia.models.quality.train`.
    """
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout!r}")
    pos_train, pos_test = split_holdout(pos_texts, holdout, split_seed)
    neg_train, neg_test = split_holdout(neg_texts, holdout, split_seed)
    start = time.perf_counter()
    model = train(pos_train, neg_train, out_path, max_chars=max_chars, **params)
    seconds = time.perf_counter() - start
    pos_scores, neg_scores = model.score(pos_test), model.score(neg_test)
    labels = np.r_[np.ones(len(pos_scores)), np.zeros(len(neg_scores))]
    scores = np.r_[pos_scores, neg_scores]
    return TrainReport(
        model=model,
        n_train_pos=len(pos_train),
        n_train_neg=len(neg_train),
        n_test_pos=len(pos_test),
        n_test_neg=len(neg_test),
        train_seconds=seconds,
        auc=roc_auc(labels, scores),
        accuracy=accuracy(labels, scores),
        pos_scores=pos_scores,
        neg_scores=neg_scores,
    )


def model_size(path: str | os.PathLike[str]) -> int:
    """Bytes of a saved model."""
    return Path(path).stat().st_size
