"""FnApiRunner with a stage's data moved in chunks: local runs hold a fraction of the copies.

Beam's FnApiRunner (what DirectRunner runs batch pipelines on) runs each fused stage as one
bundle on an in-process worker. In Beam 2.77 it copies a stage's data several times over:

- a grouped input (a GroupByKey's output) is encoded into one stream of the whole input;
- that stream goes into the in-memory data channel in one write: the channel's buffer, the bytes
  taken from it and the message made of them each copy the whole input again;
- a channel keeps every message, inputs and outputs alike, until its reader has read the last.

A stage reading 2.5 GB of shuffled records thus held 7-10 GB at its peak (the 1M-document
benchmark). :func:`install` replaces three functions so that grouped inputs are encoded in chunks
of about :data:`CHUNK_BYTES`, each chunk is dropped once the channel holds it as a message of its
own, and a message is dropped from the channel as soon as it is read. The runner computes the
same thing: the same elements in the same order, in the same bundles; only the number of
messages they travel in changes. Once a channel has been read to its end (a worker's input, the
runner's copy of a bundle's output) glibc's ``malloc_trim`` hands the freed chunks back to the
system, and so it does every :data:`TRIM_BYTES` while a grouped input is encoded and sent:
otherwise the allocator keeps the freed memory in its heaps, the encoded input and the table it
was made from add up, and each stage starts from the last one's high-water mark (1.31 against
0.8 GB between the late stages at 100k documents).

It is installed for local runs by ``beam-cqia run`` and by the benchmarks, and only on the Beam
versions it was written against (:data:`TESTED_BEAM`); on another version it leaves Beam as it is
and says so.
"""

import ctypes
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import apache_beam as beam

_LOG = logging.getLogger(__name__)

# The Beam versions whose FnApiRunner internals these replacements were read against.
TESTED_BEAM = ("2.77.0",)
# A grouped input's stream is cut after the key that takes it past this size (the data channel
# sends a message once its buffer passes 10 MB).
CHUNK_BYTES = 8 << 20

_originals: dict[str, Any] = {}


def _find_malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL(None).malloc_trim  # glibc; musl and macOS have none
    except (OSError, AttributeError):
        return None


_malloc_trim = _find_malloc_trim()
# While a grouped input is encoded and sent, the heap's free memory is handed back every this
# many bytes: the table's values freed as chunks are made, the chunks freed as messages are.
TRIM_BYTES = 256 << 20
_moved = 0


def _trim_after(n: int) -> None:
    """Counts ``n`` bytes moved; past ``TRIM_BYTES`` since the last trim, trims the heap."""
    global _moved
    _moved += n
    if _moved >= TRIM_BYTES:
        _moved = 0
        if _malloc_trim is not None:
            _malloc_trim(0)


class _Streams(list):
    """A part of a grouped input: its streams. Sending them to the worker empties the list (each
    stream is dropped once the channel holds its copy); a part is sent once, and reading it
    again is an error rather than an empty input."""

    sent = False


def _grouping_partition(self: Any, n: int) -> list[list[bytes]]:
    """``GroupingBuffer.partition``: the same keys to the same parts, in the same order, each part
    as a list of streams cut at key boundaries; the table is emptied as it is encoded."""
    from apache_beam.coders.coder_impl import create_OutputStream
    from apache_beam.transforms import trigger
    from apache_beam.transforms.window import GlobalWindow, GlobalWindows
    from apache_beam.utils import windowed_value

    if self._grouped_output:
        if any(getattr(part, "sent", False) for part in self._grouped_output):
            raise RuntimeError("this grouped input was sent to a worker and is no longer held")
        return self._grouped_output
    if self._windowing.is_default():
        in_global_window = GlobalWindows.windowed_value(
            None,
            timestamp=GlobalWindow().max_timestamp(),
            pane_info=windowed_value.PaneInfo(
                is_first=True,
                is_last=True,
                timing=windowed_value.PaneInfoTiming.ON_TIME,
                index=0,
                nonspeculative_index=0,
            ),
        ).with_value

        def windowed_key_values(key: Any, values: list[Any]) -> list[Any]:
            return [in_global_window((key, values))]

    else:
        windowed_key_values = trigger.create_trigger_driver(
            self._windowing, True
        ).process_entire_key
    coder_impl = self._post_grouped_coder.get_impl()
    key_coder_impl = self._key_coder.get_impl()
    parts: list[list[bytes]] = [_Streams() for _ in range(n)]
    streams = [create_OutputStream() for _ in range(n)]
    table = self._table
    for index, encoded_key in enumerate(list(table)):
        values = table.pop(encoded_key)
        stream = streams[index % n]
        for kvs in windowed_key_values(key_coder_impl.decode(encoded_key), values):
            coder_impl.encode_to_stream(kvs, stream, True)
        if stream.size() >= CHUNK_BYTES:
            parts[index % n].append(stream.get())
            streams[index % n] = create_OutputStream()
            _trim_after(CHUNK_BYTES)
    for part, stream in zip(parts, streams, strict=True):
        if stream.size() or not part:
            part.append(stream.get())
    self._grouped_output = parts
    return parts


def _send_input_to_worker(
    self: Any, process_bundle_id: str, read_transform_id: str, byte_streams: Iterable[bytes]
) -> None:
    """``BundleManager._send_input_to_worker``: a message per ~10 MB of streams (each holds whole
    elements), not one message of all of them; a grouped input's streams are dropped as sent."""
    from apache_beam.runners.portability.fn_api_runner.execution import GroupingBuffer

    data_out = self._worker_handler.data_conn.output_stream(process_bundle_id, read_transform_id)
    # One worker gets the buffer itself (iterating it reads all its parts), several a part each.
    if isinstance(byte_streams, GroupingBuffer):
        parts = byte_streams.partition(1)
    else:
        parts = [byte_streams]
    if all(isinstance(part, _Streams) for part in parts):
        for part in parts:
            part.sent = True
            part.reverse()
            while part:
                stream = part.pop()
                data_out.write(stream)
                data_out.maybe_flush()
                _trim_after(len(stream))
    else:
        for byte_stream in byte_streams or []:
            data_out.write(byte_stream)
            data_out.maybe_flush()
    data_out.close()


def _input_elements(
    self: Any, instruction_id: str, unused_expected_inputs: Any, abort_callback: Any = None
) -> Iterator[Any]:
    """``InMemoryDataChannel.input_elements``: yields the same messages, each taken out of the
    channel as it is read instead of all of them after the last; then frees the heap's free
    memory."""
    from apache_beam.portability.api import beam_fn_api_pb2

    other_inputs = []
    pending = self._inputs
    while pending:
        element = pending.pop(0)
        if element.instruction_id != instruction_id:
            other_inputs.append(element)
        elif isinstance(element, beam_fn_api_pb2.Elements.Timers):
            if not element.is_last:
                yield element
        elif isinstance(element, beam_fn_api_pb2.Elements.Data) and (
            element.data or element.is_last
        ):
            yield element
    self._inputs = other_inputs
    if _malloc_trim is not None:
        _malloc_trim(0)


def _targets() -> dict[str, tuple[Any, str, Any]]:
    from apache_beam.runners.portability.fn_api_runner import execution, fn_runner
    from apache_beam.runners.worker import data_plane

    return {
        "GroupingBuffer.partition": (execution.GroupingBuffer, "partition", _grouping_partition),
        "BundleManager._send_input_to_worker": (
            fn_runner.BundleManager,
            "_send_input_to_worker",
            _send_input_to_worker,
        ),
        "InMemoryDataChannel.input_elements": (
            data_plane.InMemoryDataChannel,
            "input_elements",
            _input_elements,
        ),
    }


def installed() -> bool:
    """Whether :func:`install` has replaced the runner's functions in this process."""
    return bool(_originals)


def install() -> bool:
    """Replaces the three FnApiRunner functions (once per process; idempotent).

    Returns:
        True when they are replaced, False when this Beam version is not one of ``TESTED_BEAM``
        (a warning says the run keeps Beam's own, which hold more memory).
    """
    if _originals:
        return True
    if beam.__version__ not in TESTED_BEAM:
        _LOG.warning(
            "beam-cqia: FnApiRunner memory patch not applied: written for Beam %s, this is %s "
            "(local runs hold several copies of each stage's input)",
            "/".join(TESTED_BEAM),
            beam.__version__,
        )
        return False
    for name, (owner, attribute, replacement) in _targets().items():
        _originals[name] = getattr(owner, attribute)
        setattr(owner, attribute, replacement)
    return True


def uninstall() -> None:
    """Puts Beam's own functions back."""
    for name, (owner, attribute, _replacement) in _targets().items():
        if name in _originals:
            setattr(owner, attribute, _originals.pop(name))
