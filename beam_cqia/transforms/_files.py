"""File-system helpers the sinks share (through Beam's FileSystems, local or object store)."""

from collections.abc import Iterable

from apache_beam.io.filesystems import FileSystems


def is_local(path: str) -> bool:
    """Whether ``path`` is on the local file system (no scheme or ``file://``)."""
    return FileSystems.get_scheme(path) in (None, "file")


def remove_tree(path: str) -> None:
    """Removes a directory and everything under it, if present.

    Object stores have no directories, only objects named under a prefix: ``exists`` on the
    prefix is False even when objects are under it, so those are listed and deleted one by one
    (e.g. the half-written files of a failed run under ``_temporary/``).
    """
    if is_local(path):
        if FileSystems.exists(path):
            FileSystems.delete([path])
        return
    found = [m.path for r in FileSystems.match([path.rstrip("/") + "/**"]) for m in r.metadata_list]
    if found:
        FileSystems.delete(found)


def remove_hidden_temporaries(base: str, names: Iterable[str]) -> None:
    """Removes the ``.<name>.<hex>`` files that a run killed while replacing ``base/<name>``
    (the manifest, the dataset card) left behind; nothing reads them, but they are litter."""
    patterns = [FileSystems.join(base, f".{name}.*") for name in names]
    found = [m.path for r in FileSystems.match(patterns) for m in r.metadata_list]
    if found:
        FileSystems.delete(found)
