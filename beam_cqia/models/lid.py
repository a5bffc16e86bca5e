"""Language identification with fastText lid.176 plus a script rule for classical Chinese.

lid.176 recognises modern Chinese well but calls classical and Traditional texts Japanese, Wu,
Cantonese or Korean (about 3 Tang poems in 10, more than half of single couplets;
``benchmarks/results/lid.md``). A text whose
letters are almost all Han characters and that holds no kana or Hangul is Chinese whatever the
model says, so :meth:`LanguageIdentifier.chinese_scores` accepts it by that rule and records which
rule decided.

Use one :class:`LanguageIdentifier` per worker (it is weak-referenceable, so
``apache_beam.utils.shared.Shared`` can hold it) and call it on batches of texts.
"""

import os
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from beam_cqia.models import _script
from beam_cqia.models._fasttext import import_fasttext
from beam_cqia.models.assets import find_lid_model

LABEL_PREFIX = "__label__"
# How many lid.176 labels to read per text (enough to find the probability of "zh").
TOP_K = 5
DEFAULT_MIN_HAN_RATIO = 0.9
# Measured (benchmarks/results/lid.md): >= 97.5% of Traditional poems (first lines alone too)
# and <= 0.7% of Simplified texts have at least 5% Traditional-only characters among their Han.
DEFAULT_TRADITIONAL_RATIO = 0.05
# lid.176's cost grows with length; its decision on the first 1,000 characters equalled the
# whole-text one on every measured document (benchmarks/results/lid.md).
DEFAULT_MAX_CHARS = 1000

RULE_LID = "lid"  # lid.176's top label decided (zh or not)
RULE_SCRIPT = "script"  # lid.176 said another language; the script rule made it Chinese
RULE_EMPTY = "empty"  # no letters at all: not Chinese


class ZhScore(NamedTuple):
    """The Chinese decision for one text.

    Attributes:
        lang: lid.176's top label without ``__label__`` (``zh``, ``ja``, ``wuu`` ...); ``""`` for a
            blank text.
        lid_prob: lid.176's probability of ``lang``.
        zh_prob: lid.176's probability of ``zh`` (0.0 when not among its top labels).
        is_zh: the decision: lid.176 says ``zh``, or the script rule holds.
        rule: which rule decided: ``lid``, ``script`` or ``empty``.
        han_ratio: Han characters / letters (letters = Unicode category L plus Han).
        kana: kana characters (hiragana, katakana; not ・ and ー).
        hangul: Hangul characters.
        traditional_ratio: Traditional-only characters / Han characters (-1.0 when the identifier
            was built without Traditional detection).
        traditional: a Chinese text written in Traditional characters (``traditional_ratio`` at
            least the identifier's ``traditional_threshold``).
    """

    lang: str
    lid_prob: float
    zh_prob: float
    is_zh: bool
    rule: str
    han_ratio: float
    kana: int
    hangul: int
    traditional_ratio: float
    traditional: bool

    def signals(self, prefix: str = "lid.") -> dict[str, float]:
        """The numeric signals of this decision, e.g. for a record's ``signals`` map."""
        out = {
            f"{prefix}zh": float(self.is_zh),
            f"{prefix}zh_prob": self.zh_prob,
            f"{prefix}prob": self.lid_prob,
            f"{prefix}han_ratio": self.han_ratio,
            f"{prefix}by_script": float(self.rule == RULE_SCRIPT),
        }
        if self.traditional_ratio >= 0:
            out[f"{prefix}traditional_ratio"] = self.traditional_ratio
            out[f"{prefix}traditional"] = float(self.traditional)
        return out


def _one_line(text: str) -> str:
    # fastText reads one line per prediction; it rejects "\n" and splits words on whitespace.
    return " ".join(text.split())


class LanguageIdentifier:
    """fastText lid.176 on batches, with the script rule for Chinese.

    Args:
        model_path: a ``lid.176.bin``/``.ftz``; by default the packaged lid.176.ftz (see
            ``beam_cqia.models.assets.find_lid_model``). Nothing is downloaded.
        min_han_ratio: the script rule's share of Han characters among letters.
        traditional: compute ``traditional_ratio`` (builds OpenCC's Traditional-only character
            set once, about 0.2 s).
        traditional_threshold: the ``traditional_ratio`` from which a Chinese text counts as
            Traditional.
        max_chars: lid.176 reads at most this many leading characters of a text (its cost grows
            with length); None reads everything. The script counts always read the whole text.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        min_han_ratio: float = DEFAULT_MIN_HAN_RATIO,
        traditional: bool = True,
        traditional_threshold: float = DEFAULT_TRADITIONAL_RATIO,
        max_chars: int | None = DEFAULT_MAX_CHARS,
    ):
        if not 0.0 < min_han_ratio <= 1.0:
            raise ValueError(f"min_han_ratio must be in (0, 1], got {min_han_ratio!r}")
        if max_chars is not None and max_chars < 1:
            raise ValueError(f"max_chars must be positive or None, got {max_chars!r}")
        self.model_path = str(find_lid_model(model_path))
        self.max_chars = max_chars
        self.min_han_ratio = min_han_ratio
        self.traditional = traditional
        self.traditional_threshold = traditional_threshold
        fasttext = import_fasttext()
        self._model = fasttext.load_model(self.model_path)
        trad_chars = ""
        if traditional:
            import opencc

            from beam_cqia.text.script import traditional_only_chars

            trad_chars = traditional_only_chars(opencc.OpenCC("t2s").convert)
        self._table = _script.build_table(trad_chars)

    def predict_top(self, texts: Sequence[str], k: int = TOP_K) -> list[list[tuple[str, float]]]:
        """The top ``k`` (language, probability) pairs of each text; ``[]`` for a blank text."""
        cut = self.max_chars
        lines = [_one_line(t if cut is None else t[:cut]) for t in texts]
        todo = [i for i, line in enumerate(lines) if line]
        out: list[list[tuple[str, float]]] = [[] for _ in lines]
        if todo:
            # One predict(list) per batch (fastText 0.9.3's predict(str) also fails under numpy 2).
            labels, probs = self._model.predict([lines[i] for i in todo], k=k)
            for i, labs, ps in zip(todo, labels, probs, strict=True):
                # Softmax outputs can exceed 1 by float rounding (1.00001): clip.
                out[i] = [
                    (lab[len(LABEL_PREFIX) :], min(float(p), 1.0))
                    for lab, p in zip(labs, ps, strict=True)
                ]
        return out

    def predict(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """lid.176's top (language, probability) of each text; ``("", 0.0)`` for a blank text."""
        return [top[0] if top else ("", 0.0) for top in self.predict_top(texts, k=1)]

    def chinese_scores(self, texts: Sequence[str]) -> list[ZhScore]:
        """Decides for each text whether it is Chinese (see :class:`ZhScore`)."""
        tops = self.predict_top(texts)
        counts = _script.script_counts(texts, self._table)
        han = counts[:, _script.HAN] + counts[:, _script.HAN_TRAD]
        letters = han + counts[:, [_script.KANA, _script.HANGUL, _script.LETTER]].sum(axis=1)
        han_ratio = np.divide(han, letters, out=np.zeros(len(texts)), where=letters > 0)
        trad_ratio = np.divide(
            counts[:, _script.HAN_TRAD], han, out=np.zeros(len(texts)), where=han > 0
        )
        script_zh = (
            (han > 0)
            & (han_ratio >= self.min_han_ratio)
            & (counts[:, _script.KANA] == 0)
            & (counts[:, _script.HANGUL] == 0)
        )
        out = []
        for i, top in enumerate(tops):
            lang, prob = top[0] if top else ("", 0.0)
            zh_prob = next((p for lab, p in top if lab == "zh"), 0.0)
            if letters[i] == 0:
                is_zh, rule = False, RULE_EMPTY
            elif lang == "zh":
                is_zh, rule = True, RULE_LID
            elif script_zh[i]:
                is_zh, rule = True, RULE_SCRIPT
            else:
                is_zh, rule = False, RULE_LID
            out.append(
                ZhScore(
                    lang=lang,
                    lid_prob=prob,
                    zh_prob=zh_prob,
                    is_zh=is_zh,
                    rule=rule,
                    han_ratio=float(han_ratio[i]),
                    kana=int(counts[i, _script.KANA]),
                    hangul=int(counts[i, _script.HANGUL]),
                    traditional_ratio=float(trad_ratio[i]) if self.traditional else -1.0,
                    traditional=bool(
                        is_zh and self.traditional and trad_ratio[i] >= self.traditional_threshold
                    ),
                )
            )
        return out
