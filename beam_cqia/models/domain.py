"""A trainable fastText domain classifier on character n-grams, for records the keyword/subject
mapper (``beam_cqia.text.domains``) cannot place.

It reuses the quality classifier's recipe (``beam_cqia.models.quality``: a text is its characters
separated by spaces, fastText adds hashed character bigrams) with one label per domain::

    report = train_and_evaluate(examples, "domain.bin")      # examples: (text, [domains])
    DomainModel("domain.bin").predict(texts)                   # [(domain, probability)], batched

Labelled records are COIG-CQIA JSON lines: the text is instruction, input and output (see
:func:`record_text`), the label the first domain (``label="first"``) or every domain
(``label="all"``, one-vs-all loss). :class:`DomainModel` is weak-referenceable, so
``apache_beam.utils.shared.Shared`` can hold one per worker.
"""

import json
import os
import random
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from beam_cqia.models._fasttext import import_fasttext
from beam_cqia.models.quality import DEFAULT_MAX_CHARS, _check_params, tokenize
from beam_cqia.models.training import _open_text, expand, in_holdout

LABEL_PREFIX = "__label__"
LABEL_MODES = ("first", "all")
# More epochs than the quality classifier: on COIG-CQIA's domains held-out accuracy rose from
# 0.69 (10 epochs) to 0.85 (25), at under 10 s of training (benchmarks/results/domains.md).
DEFAULT_EPOCH = 25


def record_text(instruction: str, input_text: str = "", output: str = "") -> str:
    """The text a domain model reads: instruction, input and output joined by newlines."""
    return "\n".join(t for t in (instruction, input_text, output) if t)


def label_of(domain: str) -> str:
    """The fastText label of a domain value (whitespace, which fastText splits on, becomes _)."""
    return LABEL_PREFIX + "_".join(domain.split())


def domain_of(label: str) -> str:
    """The domain value of a fastText label."""
    return label[len(LABEL_PREFIX) :] if label.startswith(LABEL_PREFIX) else label


def iter_labelled(
    path: str, label: str = "first", exclude: Sequence[str] = ()
) -> Iterator[tuple[str, list[str]]]:
    """``(text, domains)`` of each COIG-CQIA-style JSON line of a file (``instruction``,
    ``input``, ``output``, ``domain``); records without text or without a domain left after
    ``exclude`` are skipped. The file is read line by line on ``\\n`` only (COIG-CQIA's xhs file
    holds U+2028 inside strings).

    Raises:
        ValueError: a line that is not a JSON object, or an unknown label mode.
    """
    if label not in LABEL_MODES:
        raise ValueError(f"label must be one of {list(LABEL_MODES)}, got {label!r}")
    with _open_text(path) as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not JSON ({exc})") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: a JSON line must be an object")
            domains = record.get("domain")
            if isinstance(domains, str):
                domains = [domains]
            if not isinstance(domains, list):
                continue
            domains = [d for d in domains if isinstance(d, str) and d.strip() and d not in exclude]
            text = record_text(
                *(str(record.get(k) or "") for k in ("instruction", "input", "output"))
            )
            if domains and text.strip():
                yield text, domains[:1] if label == "first" else domains


def read_labelled(
    patterns: Sequence[str], label: str = "first", exclude: Sequence[str] = ()
) -> tuple[list[tuple[str, list[str]]], list[str]]:
    """All labelled examples of the files matched by ``patterns``, and the list of files.

    Raises:
        FileNotFoundError: a pattern matches nothing.
        ValueError: the files hold no labelled record.
    """
    files = expand(patterns)
    examples = [ex for path in files for ex in iter_labelled(path, label, exclude)]
    if not examples:
        raise ValueError(f"no records with text and a domain in {files}")
    return examples, files


def train(
    examples: Iterable[tuple[str, Sequence[str]]],
    out_path: str | os.PathLike[str],
    max_chars: int | None = DEFAULT_MAX_CHARS,
    multi_label: bool = False,
    **params: Any,
) -> "DomainModel":
    """Trains a fastText domain classifier and saves it to ``out_path``.

    Args:
        examples: ``(text, domains)`` pairs; with ``multi_label`` false only the first domain of
            each counts.
        out_path: where to write the model (fastText ``.bin``).
        max_chars: characters read per text (keep the same when predicting).
        multi_label: every domain of a text is a label (one-vs-all loss).
        **params: fastText ``train_supervised`` arguments by their fastText names, overriding
            ``beam_cqia.models.quality.DEFAULT_PARAMS`` and :data:`DEFAULT_EPOCH` (``thread``
            at least 11).

    Returns:
        The trained model, loaded from ``out_path``.

    Raises:
        ValueError: an unknown parameter, too few threads, or fewer than two labels.
        RuntimeError: training diverged.
    """
    fasttext = import_fasttext()
    params = {"epoch": DEFAULT_EPOCH, **params}
    if multi_label:
        params = {"loss": "ova", **params}
    args = _check_params(params)
    lines = []
    labels: set[str] = set()
    for text, domains in examples:
        tokens = tokenize(text, max_chars)
        chosen = [label_of(d) for d in (domains if multi_label else domains[:1])]
        if tokens and chosen:
            labels.update(chosen)
            lines.append(f"{' '.join(chosen)} {tokens}\n")
    if len(labels) < 2:
        raise ValueError(f"need at least two domains to train on, got {sorted(labels)}")
    # fastText learns in file order: shuffle so that no domain comes in one block.
    random.Random(int(args["seed"])).shuffle(lines)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="beam-cqia-train-domain-") as tmp:
        data = Path(tmp) / "train.txt"
        data.write_text("".join(lines), encoding="utf-8")
        try:
            model = fasttext.train_supervised(input=str(data), **args)
        except RuntimeError as exc:  # "Encountered NaN": training diverged
            raise RuntimeError(f"fastText training failed ({exc}); try a lower lr") from exc
    model.save_model(str(out))
    return DomainModel(out, max_chars=max_chars)


class DomainModel:
    """A trained domain classifier: ``predict`` gives the best domains and their probabilities.

    Args:
        path: a model written by :func:`train`.
        max_chars: characters read per text; the value used at training.

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the model has fewer than two labels.
    """

    def __init__(
        self, path: str | os.PathLike[str], max_chars: int | None = DEFAULT_MAX_CHARS
    ) -> None:
        fasttext = import_fasttext()
        if not Path(path).is_file():
            raise FileNotFoundError(f"domain model {str(path)!r} does not exist")
        self.path = str(path)
        self.max_chars = max_chars
        self._model = fasttext.load_model(self.path)
        self.domains = sorted(domain_of(label) for label in self._model.labels)
        if len(self.domains) < 2:
            raise ValueError(f"{self.path} has labels {self.domains}, not a domain model")

    def predict(self, texts: Sequence[str], k: int = 1) -> list[list[tuple[str, float]]]:
        """The ``k`` most likely domains of each text with their probabilities, best first, in
        one batched call (ties in probability broken by domain name, so results are stable)."""
        if not texts:
            return []
        lines = [tokenize(t, self.max_chars) for t in texts]
        # One predict(list) per batch (fastText 0.9.3's predict(str) also fails under numpy 2).
        labels, probs = self._model.predict(lines, k=k)
        out = []
        for labs, ps in zip(labels, probs, strict=True):
            pairs = [
                (domain_of(lab), min(1.0, max(0.0, float(p))))
                for lab, p in zip(labs, ps, strict=True)
            ]
            out.append(sorted(pairs, key=lambda pair: (-pair[1], pair[0])))
        return out


class DomainReport(NamedTuple):
    """What :func:`train_and_evaluate` did and measured (accuracy of the top domain against the
    example's domains: a hit when the top prediction is one of them)."""

    model: DomainModel
    n_train: int
    n_test: int
    train_seconds: float
    accuracy: float
    per_domain: dict[str, tuple[int, int]]  # first gold domain -> (held out, right)
    confusions: Counter  # (gold first domain, predicted) -> count, wrong predictions only


def train_and_evaluate(
    examples: Sequence[tuple[str, Sequence[str]]],
    out_path: str | os.PathLike[str],
    holdout: float = 0.2,
    split_seed: int = 0,
    max_chars: int | None = DEFAULT_MAX_CHARS,
    multi_label: bool = False,
    **params: Any,
) -> DomainReport:
    """Splits the examples by :func:`beam_cqia.models.training.in_holdout` (a hash of the text),
    trains on the rest and measures the held-out part.

    Args:
        examples: ``(text, domains)`` pairs.
        out_path: where the model is saved.
        holdout: the held-out fraction (0 trains on everything and measures nothing).
        split_seed: seed of the split hash.
        max_chars: characters read per text.
        multi_label: train one-vs-all on every domain of a text.
        **params: fastText parameters for :func:`train`.
    """
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout!r}")
    train_part, test_part = [], []
    for example in examples:
        (test_part if in_holdout(example[0], holdout, split_seed) else train_part).append(example)
    start = time.perf_counter()
    model = train(train_part, out_path, max_chars, multi_label, **params)
    seconds = time.perf_counter() - start
    per_domain: dict[str, tuple[int, int]] = {}
    confusions: Counter = Counter()
    right_total = 0
    predictions = model.predict([text for text, _ in test_part])
    for (_, gold), best in zip(test_part, predictions, strict=True):
        predicted = best[0][0] if best else ""
        right = predicted in gold
        right_total += right
        seen, ok = per_domain.get(gold[0], (0, 0))
        per_domain[gold[0]] = (seen + 1, ok + right)
        if not right:
            confusions[(gold[0], predicted)] += 1
    return DomainReport(
        model=model,
        n_train=len(train_part),
        n_test=len(test_part),
        train_seconds=seconds,
        accuracy=right_total / len(test_part) if test_part else float("nan"),
        per_domain=per_domain,
        confusions=confusions,
    )
