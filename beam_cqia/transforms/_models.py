"""Per-worker model and dictionary loading through ``apache_beam.utils.shared.Shared``.

A handle is created at graph-build time and passed to the DoFn; ``setup`` acquires the object, so
all DoFn instances of one worker process share one copy (OpenCC dictionaries, later fastText).
"""

from collections.abc import Callable

from apache_beam.utils import shared

# OpenCC configurations that convert to Simplified Chinese.
OPENCC_TO_SIMPLIFIED = ("t2s", "tw2s", "tw2sp", "hk2s", "hk2sp")


class _Converter:
    """Weak-referenceable wrapper: ``Shared`` cannot hold a bare OpenCC object."""

    def __init__(self, config: str):
        import opencc  # loaded on the worker

        self.config = config
        self.convert: Callable[[str], str] = opencc.OpenCC(config).convert
        self._gate: Callable[[str], str] | None = None

    def gated(self) -> Callable[[str], str]:
        """The converter restricted to lines with Traditional-only characters (built once)."""
        if self._gate is None:
            from beam_cqia.text.script import TraditionalGate

            self._gate = TraditionalGate(self.convert)
        return self._gate


def check_opencc_config(config: str | None) -> None:
    """Raises ValueError for an OpenCC configuration we do not support."""
    if config is not None and config not in OPENCC_TO_SIMPLIFIED:
        raise ValueError(
            f"unsupported opencc config {config!r}; use one of {list(OPENCC_TO_SIMPLIFIED)} or null"
        )


def acquire_converter(handle: shared.Shared, config: str) -> _Converter:
    """Returns this worker's converter for ``config``, loading it on first use."""
    return handle.acquire(lambda: _Converter(config), tag=f"opencc:{config}")


def converter_or_none(handle: shared.Shared, config: str | None) -> Callable[[str], str] | None:
    """This worker's ``convert`` function for ``config``, or None when no conversion is asked."""
    return acquire_converter(handle, config).convert if config else None
