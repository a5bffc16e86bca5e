"""Persistent caches of chat completions, keyed by what was asked, so a rerun never pays twice.

The key is a SHA-256 of the canonical JSON of the request body: model, messages and every
parameter (temperature, seed, max_tokens, ...). The endpoint is not part of it: the same model
served by vLLM or by a hosted API answers the same question. Only well-formed completions are
stored; failures are not, so a rerun retries them.

Two stores, both safe with many threads and worker processes:

- ``SqliteCache``: one SQLite file on a local disk (WAL journal, busy timeout, one connection per
  thread, ``INSERT OR IGNORE``). For one machine: local runs, several threads or
  ``--direct_running_mode=multi_processing``. Not on NFS or object stores, whose locks SQLite
  cannot trust, and not on distributed runners, whose workers do not share a disk.
- ``DirectoryCache``: one content-addressed JSON file per key, ``<root>/<k[:2]>/<k>.json``. Every
  writer of a key writes a complete answer to that key, so concurrent writers need no lock: a
  reader sees no file or a whole one. Locally files are written under a temporary name and
  renamed (atomic on POSIX); on object stores (``gs://``) an object becomes visible only when its
  upload completes. This is the cache to use on Dataflow: a ``gs://bucket/llm-cache/`` directory,
  shared by every worker and every later run. The file system is pluggable (``FileStore``), so
  this module needs no Beam; ``beam_cqia.transforms.judge`` plugs in Beam's ``FileSystems``.
"""

import contextlib
import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Protocol

KEY_VERSION = 1  # bump when the meaning of a cached entry changes; old entries then miss
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


def request_key(body: Mapping[str, Any]) -> str:
    """The cache key of a request body: hex SHA-256 of its canonical JSON (sorted keys)."""
    canonical = json.dumps(
        {"v": KEY_VERSION, "body": body},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        allow_nan=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache(Protocol):
    """What the client needs of a cache. Implementations must be thread-safe."""

    def get(self, key: str) -> dict[str, Any] | None:
        """The entry stored under ``key``, or None."""

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        """Stores ``entry`` under ``key`` (an existing entry may be kept or replaced)."""

    def close(self) -> None:
        """Releases connections and handles."""


def _decode(key: str, data: bytes | str) -> dict[str, Any] | None:
    """An entry from its stored text; None when it is not a complete entry for ``key``."""
    try:
        entry = json.loads(data)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("key") != key:
        return None
    return entry


def _encode(key: str, entry: Mapping[str, Any]) -> str:
    return json.dumps({**entry, "key": key}, ensure_ascii=False, sort_keys=True)


class SqliteCache:
    """A cache in one local SQLite file; thread- and process-safe on one machine.

    Args:
        path: the database file; its directory is created if needed.
        busy_timeout_seconds: how long a writer waits for another's lock before failing.
    """

    def __init__(self, path: str, busy_timeout_seconds: float = 60.0):
        if "://" in path:
            raise ValueError(
                f"SQLite caches must be local files, got {path!r}; on distributed runners use a "
                "directory cache such as gs://bucket/llm-cache/"
            )
        self.path = path
        self._busy_ms = int(busy_timeout_seconds * 1000)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._connection()  # creates the file and table now, so a bad path fails early

    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # One connection per thread: sqlite3 connections must not be shared between threads.
            conn = sqlite3.connect(self.path, timeout=self._busy_ms / 1000, isolation_level=None)
            conn.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS completions ("
                "key TEXT PRIMARY KEY, entry TEXT NOT NULL, stored_at REAL NOT NULL)"
            )
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def get(self, key: str) -> dict[str, Any] | None:
        row = (
            self._connection()
            .execute("SELECT entry FROM completions WHERE key = ?", (key,))
            .fetchone()
        )
        return None if row is None else _decode(key, row[0])

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        self._connection().execute(
            "INSERT OR IGNORE INTO completions (key, entry, stored_at) VALUES (?, ?, ?)",
            (key, _encode(key, entry), time.time()),
        )

    def __len__(self) -> int:
        return self._connection().execute("SELECT COUNT(*) FROM completions").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()


class FileStore(Protocol):
    """The file operations a DirectoryCache needs (local disk, or Beam's FileSystems)."""

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist (other failures raise)."""

    def write(self, path: str, data: bytes) -> None:
        """Writes the whole file so that readers never see part of it."""

    def join(self, base: str, *parts: str) -> str:
        """Joins path components."""


class LocalFiles:
    """FileStore on the local disk: write to a temporary file, then rename over the target."""

    def read(self, path: str) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None

    def write(self, path: str, data: bytes) -> None:
        directory = os.path.dirname(path)
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def join(self, base: str, *parts: str) -> str:
        return os.path.join(base, *parts)


class DirectoryCache:
    """A cache of one JSON file per key under ``root``; safe with any number of writers.

    Args:
        root: the directory (for ``LocalFiles``, a local path; with a Beam store, any Beam
            file system path such as ``gs://bucket/llm-cache``).
        store: the file operations; the local disk by default.
    """

    def __init__(self, root: str, store: FileStore | None = None):
        if not root:
            raise ValueError("a directory cache needs a root directory")
        self.root = root.rstrip("/") if len(root) > 1 else root
        self._store = store or LocalFiles()

    def path_of(self, key: str) -> str:
        """Where the entry of ``key`` lives."""
        return self._store.join(self.root, key[:2], f"{key}.json")

    def get(self, key: str) -> dict[str, Any] | None:
        data = self._store.read(self.path_of(key))
        return None if data is None else _decode(key, data)

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        self._store.write(self.path_of(key), _encode(key, entry).encode("utf-8"))

    def close(self) -> None:
        pass


def is_sqlite_path(spec: str) -> bool:
    """Whether a cache spec names a SQLite file (by its suffix) rather than a directory."""
    return spec.lower().endswith(SQLITE_SUFFIXES)


def open_cache(spec: str, store: FileStore | None = None) -> ResponseCache:
    """Opens the cache a spec names: ``*.sqlite``/``*.sqlite3``/``*.db`` is a SQLite file, any
    other path a directory of JSON files (through ``store``; the local disk by default)."""
    if is_sqlite_path(spec):
        return SqliteCache(spec)
    return DirectoryCache(spec, store)


def temporary_name(path: str) -> str:
    """A sibling name for writing ``path`` before renaming it into place."""
    head, _, tail = path.rpartition("/")
    return f"{head}/.tmp-{uuid.uuid4().hex}-{tail}" if head else f".tmp-{uuid.uuid4().hex}-{tail}"
