"""Source adapters: one module per source family, each turning a parsed raw record into RawDocs.

An adapter module defines ``SOURCE`` (its name in specs) and ``adapt(obj, origin)``, a generator of
RawDocs. Adapters know nothing of Beam. They raise :class:`~beam_cqia.sources.base.Reject` for
records that are well-formed but unusable (an expected drop, with a reason) and ``ValueError``
for records that do not have the shape the adapter expects (an error). Modules in this package
are found automatically, so adding a source is adding one module; a spec may also name an adapter
outside the package by its dotted path (``mypackage.adapters.forum``).

A module may also declare ``REAL_DATA``: the real corpora (under ``../shared/corpora``) it is
checked against by ``benchmarks/real_adapters.py`` and the ``corpora`` tests.
"""

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from beam_cqia.records import RawDoc
from beam_cqia.sources.base import Origin, Reject

Adapter = Callable[[Mapping[str, Any], Origin], Iterator[RawDoc]]
_NOT_ADAPTERS = {"base", "formats", "compression"}


def _discover() -> dict[str, Any]:
    modules = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_") or info.name in _NOT_ADAPTERS:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        if hasattr(module, "SOURCE") and hasattr(module, "adapt"):
            if module.SOURCE in modules:
                raise ImportError(f"two adapter modules declare SOURCE = {module.SOURCE!r}")
            modules[module.SOURCE] = module
    return dict(sorted(modules.items()))


MODULES: Mapping[str, Any] = _discover()
ADAPTERS: Mapping[str, Adapter] = {name: module.adapt for name, module in MODULES.items()}


def get_adapter(name: str) -> Adapter:
    """Returns the adapter registered under ``name``, or the callable at a dotted path.

    Raises:
        ValueError: naming the known adapters when ``name`` is neither.
    """
    if name in ADAPTERS:
        return ADAPTERS[name]
    if "." in name:
        module_name, _, attr = name.rpartition(".")
        try:
            adapter = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot import source adapter {name!r}: {exc}") from None
        if not callable(adapter):
            raise ValueError(f"source adapter {name!r} is not callable")
        return adapter
    raise ValueError(f"unknown source adapter {name!r}; known: {sorted(ADAPTERS)}")


__all__ = ["ADAPTERS", "MODULES", "Adapter", "Origin", "Reject", "get_adapter"]
