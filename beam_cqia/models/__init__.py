"""Models that score text: language identification (lid.176) and the fastText quality classifier.

Pure Python, no Beam: ``beam_cqia.transforms`` loads them once per worker through
``apache_beam.utils.shared.Shared`` (the classes here are weak-referenceable) and calls them on
batches. fastText comes with the ``quality`` extra and is imported when a model is built; nothing
here downloads anything at run time (see ``beam_cqia.models.assets`` for where lid.176 comes from).

    lid = LanguageIdentifier()                    # the installed lid.176.ftz, or a given path
    lid.predict(texts)                            # [(lang, prob), ...]
    lid.chinese_scores(texts)                     # [ZhScore(lang, lid_prob, zh_prob, is_zh, ...)]
    model = train(good_texts, bad_texts, "q.bin") # -> QualityModel
    QualityModel("q.bin").score(texts)            # np.ndarray of P(good)
"""

from beam_cqia.models.assets import find_lid_model
from beam_cqia.models.lid import LanguageIdentifier, ZhScore
from beam_cqia.models.quality import QualityModel, train

__all__ = ["LanguageIdentifier", "QualityModel", "ZhScore", "find_lid_model", "train"]
