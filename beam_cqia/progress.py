"""Live progress of local runs: workers keep tallies, the launcher watches them.

Beam's metrics are the counts that matter (the manifest equals them, and Dataflow shows them in
its job UI), but no local runner can be asked for them while it runs: FnApiRunner reports them at
the end, and ``multi_processing`` workers are other processes. So the stages also keep plain
integer tallies, and a run that someone watches collects them through the file system:

- worker side (every process that runs our stages): :func:`tally` gives a DoFn or CombineFn a
  :class:`Tally`, one per instance, so one thread updates it and the hot path is one attribute
  increment, with no lock and nothing shared. When the environment variable :data:`ENV` names a
  directory, the tally is also registered with the process's reporter: one daemon thread that
  every :data:`WRITE_SECONDS` sums the process's tallies and replaces ``<dir>/<pid>-<nonce>.json``
  with them. Without the variable (Dataflow, tests) nothing is registered and no thread starts.
- launcher side: :class:`Watch` creates the directory, sets :data:`ENV` for the run (in-memory
  workers read it in the launcher's process, ``multi_processing`` workers inherit it), sums the
  files of every process, and shows a live table on a terminal or one log line every few seconds
  otherwise, with rates and an estimated time left when the input's size is known.

Tally fields are the manifest's (``in``, ``out``, ``emitted``, ``rejected`` by reason, ``errors``,
``error_kinds`` by kind) plus what readers add: ``bytes_total`` (sizes of the matched files),
``bytes_read`` and ``units_read`` (raw records read, before parsing).
"""

import atexit
import contextlib
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

ENV = "BEAM_CQIA_PROGRESS"
WRITE_SECONDS = 0.5  # how often a worker process writes its tallies
LIVE_SECONDS = 0.5  # how often the live table is redrawn
LOG_SECONDS = 5.0  # default interval between log lines when no terminal watches
RATE_WINDOW_SECONDS = 5.0
MODES = ("auto", "live", "log", "off")

Key = tuple[str, str, str]  # (stage, field, key); key is "" for unkeyed fields


# --- worker side ---------------------------------------------------------------------------------


class Tally:
    """A count kept by one DoFn or CombineFn instance (so updated by one thread at a time).

    ``n`` counts unkeyed events; :meth:`add_key` counts per key (reasons, error kinds).
    """

    __slots__ = ("field", "keyed", "n", "stage")

    def __init__(self, stage: str, field: str):
        self.stage, self.field = stage, field
        self.n = 0
        self.keyed: dict[str, int] = {}

    def add_key(self, key: str, n: int = 1) -> None:
        keyed = self.keyed
        keyed[key] = keyed.get(key, 0) + n


class _Reporter:
    """Writes the sums of one process's tallies to ``<directory>/<pid>-<nonce>.json``."""

    def __init__(self, directory: str, interval: float):
        self.directory, self.interval = directory, interval
        self.path = os.path.join(directory, f"{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
        self._tallies: list[Tally] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="beam-cqia-progress", daemon=True)
        self._thread.start()
        # Worker processes end normally when the runner is done with them: their last counts
        # reach the launcher before it reads the files a last time.
        atexit.register(self.write)

    def register(self, tally: Tally) -> None:
        with self._lock:
            self._tallies.append(tally)

    def totals(self) -> dict[Key, int]:
        with self._lock:
            tallies = list(self._tallies)
        out: dict[Key, int] = {}
        for t in tallies:
            if t.n:
                key = (t.stage, t.field, "")
                out[key] = out.get(key, 0) + t.n
            # dict() copies in one step under the GIL, safe while the owner adds keys
            for name, n in dict(t.keyed).items():
                key = (t.stage, t.field, name)
                out[key] = out.get(key, 0) + n
        return out

    def write(self) -> bool:
        """Replaces this process's file; False once the directory is gone (the run is over)."""
        if self._stopped.is_set() or not os.path.isdir(self.directory):
            return False
        rows = [[*k, n] for k, n in sorted(self.totals().items())]
        tmp = f"{self.path}.{uuid.uuid4().hex[:6]}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                json.dump({"pid": os.getpid(), "counts": rows}, fh, ensure_ascii=False)
            os.replace(tmp, self.path)
        except OSError:
            return os.path.isdir(self.directory)
        return True

    def stop(self) -> None:
        """Writes no more (the launcher is about to remove the directory)."""
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stopped.wait(self.interval):
            if not self.write():
                with _REPORTERS_LOCK:
                    if _REPORTERS.get(self.directory) is self:
                        del _REPORTERS[self.directory]
                return


# One reporter per process and progress directory: progress, like logging, is a property of the
# process, shared by every DoFn instance in it. Guarded by a lock; entries go when the run ends.
_REPORTERS: dict[str, _Reporter] = {}
_REPORTERS_LOCK = threading.Lock()


def _reporter() -> _Reporter | None:
    directory = os.environ.get(ENV)
    if not directory:
        return None
    with _REPORTERS_LOCK:
        reporter = _REPORTERS.get(directory)
        if reporter is None:
            if not os.path.isdir(directory):
                return None
            reporter = _REPORTERS[directory] = _Reporter(directory, WRITE_SECONDS)
        return reporter


def tally(stage: str, field: str) -> Tally:
    """A new tally for a DoFn/CombineFn instance; call it in ``setup`` (on the worker).

    Registered with this process's reporter when a run is watched (:data:`ENV` is set).
    """
    t = Tally(stage, field)
    reporter = _reporter()
    if reporter is not None:
        reporter.register(t)
    return t


def flush() -> None:
    """Writes this process's tallies now (the launcher calls it for in-process workers)."""
    with _REPORTERS_LOCK:
        reporters = list(_REPORTERS.values())
    for reporter in reporters:
        reporter.write()


def _retire(directory: str) -> None:
    """Stops this process's reporter of ``directory``, so nothing writes there any more."""
    with _REPORTERS_LOCK:
        reporter = _REPORTERS.pop(directory, None)
    if reporter is not None:
        reporter.stop()


# --- launcher side -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageInfo:
    """A stage as the launcher shows it: its name, transform and the stages that feed it."""

    name: str
    kind: str
    upstream: tuple[str, ...] = ()


def stages_of(pipeline: Any) -> list[StageInfo]:
    """The stages and sinks of a built pipeline (from its ledger), in the order applied."""
    from beam_cqia.transforms._stage import ledger_sinks, ledger_stages

    out = [StageInfo(s.name, s.kind, tuple(s.upstream)) for s in ledger_stages(pipeline)]
    out += [StageInfo(name, kind, tuple(up)) for name, kind, up in ledger_sinks(pipeline)]
    return out


def read_totals(directory: str) -> dict[Key, int]:
    """Sums the tallies every process wrote to ``directory`` (unreadable files are skipped)."""
    out: dict[Key, int] = {}
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return out
    for name in names:
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                rows = json.load(fh)["counts"]
        except (OSError, ValueError, KeyError):
            continue  # replaced while we read it: the next round reads it
        for stage, fld, key, n in rows:
            k = (stage, fld, key)
            out[k] = out.get(k, 0) + int(n)
    return out


@dataclass
class StageCounts:
    """One stage's counts so far."""

    records_in: int = 0
    records_out: int = 0
    emitted: int | None = None
    rejected: int = 0
    errors: int = 0
    units_read: int = 0
    bytes_read: int = 0
    bytes_total: int = 0
    seen: bool = False  # any count at all

    @property
    def passed_on(self) -> int:
        """What the next stage receives: documents for readers, records otherwise."""
        return self.records_out if self.emitted is None else self.emitted

    @property
    def done(self) -> int:
        """Records that have left the stage, on any of its three outputs."""
        return self.records_out + self.rejected + self.errors


def stage_counts(totals: Mapping[Key, int], stages: Sequence[StageInfo]) -> dict[str, StageCounts]:
    """Per-stage counts from summed tallies; stages that tallies name but ``stages`` lacks are
    added at the end."""
    out = {s.name: StageCounts() for s in stages}
    for (stage, fld, _key), n in totals.items():
        c = out.setdefault(stage, StageCounts())
        c.seen = c.seen or n > 0
        if fld == "in":
            c.records_in += n
        elif fld == "out":
            c.records_out += n
        elif fld == "emitted":
            c.emitted = (c.emitted or 0) + n
        elif fld == "rejected":
            c.rejected += n
        elif fld == "errors":
            c.errors += n
        elif fld in ("units_read", "bytes_read", "bytes_total"):
            setattr(c, fld, getattr(c, fld) + n)
    return out


def estimate_fraction(
    stages: Sequence[StageInfo], counts: Mapping[str, StageCounts]
) -> float | None:
    """The part of the run done, in [0, 1], or None when the input's size is unknown.

    Each stage is expected to receive what its upstream stages pass on: their expected input
    times the share they passed so far (1 until something left them). A stage without upstream
    stages reads files, and its expected input is extrapolated from the raw records read per
    byte of the matched files. The fraction is records received over records expected, summed
    over stages (every stage weighs the same: a rough estimate, not a promise).
    """
    expected: dict[str, float] = {}
    for s in stages:
        c = counts.get(s.name, StageCounts())
        ups = [u for u in s.upstream if u in expected]
        if not ups:
            if c.bytes_total <= 0:
                return None
            if c.bytes_read <= 0:
                return 0.0
            share = min(1.0, c.bytes_read / c.bytes_total)
            expected[s.name] = max(float(c.records_in), c.units_read / share)
            continue
        total = 0.0
        for u in ups:
            uc = counts.get(u, StageCounts())
            ratio = uc.passed_on / uc.done if uc.done else 1.0
            total += expected[u] * ratio
        expected[s.name] = max(total, float(c.records_in))
    want = sum(expected.values())
    if want <= 0:
        return None
    got = sum(min(float(counts[s.name].records_in), expected[s.name]) for s in stages)
    return min(1.0, got / want)


def format_duration(seconds: float) -> str:
    """``m:ss`` or ``h:mm:ss``."""
    seconds = max(0, round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def format_bytes(n: float) -> str:
    """A byte count with a binary-ish unit, e.g. ``12.3 MB``."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"  # pragma: no cover - the loop returns


def _rate(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}/s"
    return f"{value:.1f}/s" if value else "-"


@dataclass
class Frame:
    """What one redraw shows (the renderers are pure functions of it)."""

    elapsed: float
    stages: list[StageInfo]
    counts: dict[str, StageCounts]
    rates: dict[str, float] = field(default_factory=dict)  # records in per second, per stage
    fraction: float | None = None

    @property
    def bytes(self) -> tuple[int, int]:
        read = sum(c.bytes_read for c in self.counts.values())
        total = sum(c.bytes_total for c in self.counts.values())
        return read, total

    @property
    def eta(self) -> float | None:
        f = self.fraction
        if f is None or f <= 0.01 or f >= 1.0:
            return None
        return self.elapsed * (1 - f) / f

    def headline(self) -> str:
        parts = [f"elapsed {format_duration(self.elapsed)}"]
        read, total = self.bytes
        if total:
            parts.append(f"input {format_bytes(read)} of {format_bytes(total)}")
        if self.fraction is not None:
            parts.append(f"~{100 * self.fraction:.0f}% done")
        eta = self.eta
        if eta is not None:
            parts.append(f"ETA ~{format_duration(eta)}")
        return ", ".join(parts)


def render_table(frame: Frame) -> list[str]:
    """The live display: a headline and one row per stage that has seen records."""
    header = ("stage", "in", "out", "rejected", "errors", "rate")
    rows = [header]
    for s in frame.stages:
        c = frame.counts.get(s.name)
        if c is None or not c.seen:
            continue
        out = f"{c.records_out:,}" + (f" ({c.emitted:,} docs)" if c.emitted is not None else "")
        rows.append(
            (
                s.name,
                f"{c.records_in:,}",
                out,
                f"{c.rejected:,}",
                f"{c.errors:,}",
                _rate(frame.rates.get(s.name, 0.0)),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = [f"beam-cqia: {frame.headline()}"]
    for r in rows:
        cells = [r[0].ljust(widths[0])] + [r[i].rjust(widths[i]) for i in range(1, len(r))]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def render_line(frame: Frame, final: bool = False) -> str:
    """One log line: the headline, then ``stage in>out`` for every stage that has seen records
    (what it passed on; ``(-n)`` left it as rejected or errors). ``final``: the last line."""
    parts = []
    for s in frame.stages:
        c = frame.counts.get(s.name)
        if c is None or not c.seen:
            continue
        part = f"{s.name} {c.records_in:,}>{c.passed_on:,}"
        if c.rejected or c.errors:
            part += f" (-{c.rejected + c.errors:,})"
        parts.append(part)
    rate = sum(frame.rates.values())
    tail = f" | {rate:,.0f} records/s" if rate and not final else ""
    head = "beam-cqia progress (final)" if final else "beam-cqia progress"
    return f"{head}: {frame.headline()} | {' '.join(parts) or 'starting'}{tail}"


class Watch:
    """Watches a local run: ``with Watch(stages, "live"): result = pipeline.run()``.

    Args:
        stages: the pipeline's stages (:func:`stages_of`).
        mode: ``live`` (redrawn table, for a terminal), ``log`` (a line every ``log_seconds``),
            ``auto`` (live when ``stream`` is a terminal) or ``off``.
        stream: where to write (default stderr).
        log_seconds: interval between log lines (at least 0.1 s).
    """

    def __init__(
        self,
        stages: Sequence[StageInfo],
        mode: str = "auto",
        stream: TextIO | None = None,
        log_seconds: float = LOG_SECONDS,
    ):
        if mode not in MODES:
            raise ValueError(f"progress mode must be one of {list(MODES)}, got {mode!r}")
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            isatty = getattr(self.stream, "isatty", None)
            mode = "live" if isatty is not None and isatty() else "log"
        self.mode = mode
        self.stages = list(stages)
        self.log_seconds = max(0.1, float(log_seconds))
        self.directory: str | None = None
        self.lines_written = 0  # log lines, or redraws of the live table
        self.last_frame: Frame | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._history: deque[tuple[float, dict[str, int]]] = deque()
        self._drawn = 0  # lines of the live table now on screen
        self._started = 0.0
        self._saved_env: str | None = None

    def __enter__(self) -> "Watch":
        if self.mode == "off":
            return self
        self.directory = tempfile.mkdtemp(prefix="beam-cqia-progress-")
        self._saved_env = os.environ.get(ENV)
        os.environ[ENV] = self.directory
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name="beam-cqia-watch", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.mode == "off":
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        flush()  # tallies of in-process workers, as they are at the end
        frame = self.frame()
        if self.mode == "live":
            self._clear()
        else:
            self._write(render_line(frame, final=True) + "\n")
        self._write(
            f"beam-cqia: ran for {format_duration(frame.elapsed)}"
            + (f", read {format_bytes(frame.bytes[1])}" if frame.bytes[1] else "")
            + "\n"
        )
        if self._saved_env is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = self._saved_env
        directory, self.directory = self.directory, None
        if directory:
            _retire(directory)
            _remove_dir(directory)

    def frame(self) -> Frame:
        """The current counts as a :class:`Frame` (also kept as ``last_frame``)."""
        now = time.monotonic()
        totals = read_totals(self.directory) if self.directory else {}
        counts = stage_counts(totals, self.stages)
        stages = self.stages + [
            StageInfo(name, "") for name in counts if name not in {s.name for s in self.stages}
        ]
        ins = {name: c.records_in for name, c in counts.items()}
        self._history.append((now, ins))
        while len(self._history) > 2 and now - self._history[0][0] > RATE_WINDOW_SECONDS:
            self._history.popleft()
        then, before = self._history[0]
        dt = now - then
        rates = {n: (v - before.get(n, 0)) / dt for n, v in ins.items()} if dt > 0 else {}
        frame = Frame(
            elapsed=now - self._started,
            stages=stages,
            counts=counts,
            rates={n: r for n, r in rates.items() if r > 0},
            fraction=estimate_fraction(self.stages, counts),
        )
        self.last_frame = frame
        return frame

    def _loop(self) -> None:
        interval = LIVE_SECONDS if self.mode == "live" else self.log_seconds
        while not self._stop.wait(interval):
            frame = self.frame()
            if self.mode == "live":
                self._draw(render_table(frame))
            else:
                self._write(render_line(frame) + "\n")
            self.lines_written += 1

    def _draw(self, lines: list[str]) -> None:
        text = f"\x1b[{self._drawn}F" if self._drawn else ""
        text += "".join(f"\x1b[2K{line}\n" for line in lines)
        extra = self._drawn - len(lines)
        if extra > 0:  # the table shrank: blank what is left of the old one
            text += "\x1b[2K\n" * extra + f"\x1b[{extra}F"
        self._drawn = len(lines)
        self._write(text)

    def _clear(self) -> None:
        if self._drawn:
            self._write(f"\x1b[{self._drawn}F" + "\x1b[2K\n" * self._drawn + f"\x1b[{self._drawn}F")
            self._drawn = 0

    def _write(self, text: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed or broken stream: stay quiet
            self.stream.write(text)
            self.stream.flush()


def _remove_dir(directory: str) -> None:
    for name in os.listdir(directory):
        with contextlib.suppress(OSError):
            os.remove(os.path.join(directory, name))
    with contextlib.suppress(OSError):
        os.rmdir(directory)
