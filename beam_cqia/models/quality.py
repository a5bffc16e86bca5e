"""A trainable fastText quality classifier on character n-grams (Chinese has no spaces).

A text becomes its characters separated by spaces (whitespace dropped), and fastText learns on
characters plus hashed character bigrams (``wordNgrams=2``). Among the configurations measured on
real data (``benchmarks/results/quality_model.md``: character uni-/bi-/trigrams, ASCII words kept
whole, subword n-grams of Han runs, dimensions, epochs, buckets), that one had the best held-out
AUC for its cost; jieba words would be 25-100x slower to tokenise (``PERF-NOTES``).

    model = train(good_texts, junk_texts, "quality.bin")     # returns a QualityModel
    QualityModel("quality.bin").score(texts)                   # P(positive) per text, batched

:class:`QualityModel` is weak-referenceable, so ``apache_beam.utils.shared.Shared`` can hold one per
worker.
"""

import os
import random
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from beam_cqia.models._fasttext import import_fasttext

POS_LABEL = "__label__pos"
NEG_LABEL = "__label__neg"
# Characters a model reads per text, at training and scoring alike (cost grows with length; the
# head of a document says most about its quality).
DEFAULT_MAX_CHARS = 2000
DEFAULT_PARAMS: dict[str, Any] = {
    "wordNgrams": 2,
    "dim": 16,
    "epoch": 10,
    "lr": 0.1,  # 0.5 diverges ("Encountered NaN") on character tokens (PERF-NOTES)
    "minCount": 1,
    "bucket": 500_000,  # model size = (vocabulary + bucket) x dim x 4 bytes: 32 MB
    "loss": "softmax",
    "thread": 12,  # >= MIN_THREADS, see below
    "seed": 1,
    "verbose": 0,
}
# fastText >= 0.9.3 (and the fasttext-numpy2 builds of it) allocates matrices without zeroing them
# (AlignedVector, upstream commit b733943) and its random initialisation writes `thread` blocks of
# a tenth of the input matrix each: with fewer than 11 threads part of the matrix stays
# uninitialised memory, and training diverges ("Encountered NaN") or learns from garbage (seen
# here with thread=1 on small matrices). With 11+ threads every block is written. Training is then
# Hogwild on that many threads, so two runs differ slightly (held-out AUC within 0.0001 measured).
MIN_THREADS = 11
FASTTEXT_PARAMS = frozenset(
    {
        *("lr", "dim", "ws", "epoch", "minCount", "minCountLabel", "minn", "maxn", "neg"),
        *("wordNgrams", "loss", "bucket", "thread", "lrUpdateRate", "t", "verbose"),
        *("pretrainedVectors", "seed"),
    }
)


def tokenize(text: str, max_chars: int | None = DEFAULT_MAX_CHARS) -> str:
    """The fastText input line of a text: the non-space characters among its first ``max_chars``,
    separated by spaces (ASCII words too: as accurate as keeping them whole, 2.4x faster)."""
    if max_chars is not None:
        text = text[:max_chars]
    return " ".join("".join(text.split()))


def _check_params(params: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - FASTTEXT_PARAMS)
    if unknown:
        raise ValueError(
            f"unknown fastText parameter(s) {unknown}; use fastText's names: "
            f"{sorted(FASTTEXT_PARAMS)}"
        )
    args = {**DEFAULT_PARAMS, **params}
    if int(args["thread"]) < MIN_THREADS:
        raise ValueError(
            f"thread={args['thread']}: fastText 0.9.3+ leaves part of the input matrix "
            f"uninitialised with fewer than {MIN_THREADS} threads; use thread >= {MIN_THREADS}"
        )
    return args


def _write_training_file(
    path: Path, pos_texts: Iterable[str], neg_texts: Iterable[str], seed: int, max_chars: int | None
) -> tuple[int, int]:
    lines = []
    counts = [0, 0]
    for label, texts, k in ((POS_LABEL, pos_texts, 0), (NEG_LABEL, neg_texts, 1)):
        for text in texts:
            tokens = tokenize(text, max_chars)
            if tokens:
                lines.append(f"{label} {tokens}\n")
                counts[k] += 1
    # fastText learns in file order: shuffle so that no class comes in one block.
    random.Random(seed).shuffle(lines)
    path.write_text("".join(lines), encoding="utf-8")
    return counts[0], counts[1]


def train(
    pos_texts: Iterable[str],
    neg_texts: Iterable[str],
    out_path: str | os.PathLike[str],
    max_chars: int | None = DEFAULT_MAX_CHARS,
    **params: Any,
) -> "QualityModel":
    """Trains a binary fastText classifier (positive = good text) and saves it to ``out_path``.

    Args:
        pos_texts: good texts.
        neg_texts: bad texts.
        out_path: where to write the model (fastText ``.bin``).
        max_chars: characters read per text (keep the same when scoring; ``QualityModel`` uses
            the default).
        **params: fastText ``train_supervised`` arguments by their fastText names (``epoch``,
            ``lr``, ``dim``, ``wordNgrams``, ``minn``, ``maxn``, ``bucket``, ``thread``, ``seed``
            ...), overriding ``DEFAULT_PARAMS``. ``thread`` must be at least ``MIN_THREADS``.

    Returns:
        The trained model, loaded from ``out_path``.

    Raises:
        ValueError: an unknown parameter, too few threads, or a class without any non-blank text.
        RuntimeError: training diverged.
    """
    fasttext = import_fasttext()
    args = _check_params(params)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="beam-cqia-train-") as tmp:
        data = Path(tmp) / "train.txt"
        n_pos, n_neg = _write_training_file(
            data, pos_texts, neg_texts, int(args["seed"]), max_chars
        )
        if not n_pos or not n_neg:
            raise ValueError(f"need positive and negative texts, got {n_pos} and {n_neg}")
        try:
            model = fasttext.train_supervised(input=str(data), **args)
        except RuntimeError as exc:  # "Encountered NaN": training diverged
            raise RuntimeError(f"fastText training failed ({exc}); try a lower lr") from exc
    model.save_model(str(out))
    return QualityModel(out, max_chars=max_chars)


class QualityModel:
    """A trained quality classifier: ``score`` gives the probability of the positive label.

    Args:
        path: a model written by :func:`train` (labels ``__label__pos`` and ``__label__neg``).
        max_chars: characters read per text; the value used at training.

    Raises:
        ValueError: the model does not have exactly these two labels.
    """

    def __init__(
        self, path: str | os.PathLike[str], max_chars: int | None = DEFAULT_MAX_CHARS
    ) -> None:
        fasttext = import_fasttext()
        if not Path(path).is_file():
            raise FileNotFoundError(f"quality model {str(path)!r} does not exist")
        self.path = str(path)
        self.max_chars = max_chars
        self._model = fasttext.load_model(self.path)
        labels = set(self._model.labels)
        if labels != {POS_LABEL, NEG_LABEL}:
            raise ValueError(
                f"{self.path} has labels {sorted(labels)}, not {POS_LABEL} and {NEG_LABEL}"
            )

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """P(positive) of each text, float64 in [0, 1], one batched prediction.

        A text without any character gets the model's prior (0.5 for a model without bias).
        """
        if not texts:
            return np.zeros(0)
        lines = [tokenize(t, self.max_chars) for t in texts]
        # One predict(list) per batch (fastText 0.9.3's predict(str) also fails under numpy 2).
        labels, probs = self._model.predict(lines, k=2)
        out = np.empty(len(lines))
        for i, (labs, ps) in enumerate(zip(labels, probs, strict=True)):
            pos = labs.index(POS_LABEL) if POS_LABEL in labs else -1
            out[i] = ps[pos] if pos >= 0 else 1.0 - ps[0]
        return np.clip(out, 0.0, 1.0)
