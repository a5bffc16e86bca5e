"""beam_cqia.fnapi_memory: FnApiRunner's stage data in chunks gives the same results."""

import logging
import re
from pathlib import Path
from types import SimpleNamespace

import apache_beam as beam
import pytest
from apache_beam import coders
from apache_beam.coders.coder_impl import create_InputStream
from apache_beam.coders.coders import WindowedValueCoder
from apache_beam.portability.api import beam_fn_api_pb2
from apache_beam.runners.portability.fn_api_runner import FnApiRunner
from apache_beam.runners.portability.fn_api_runner.execution import GroupingBuffer
from apache_beam.runners.worker.data_plane import InMemoryDataChannel
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import core, window

from beam_cqia import fnapi_memory

REPO = Path(__file__).resolve().parents[2]
KV = coders.TupleCoder([coders.StrUtf8Coder(), coders.BytesCoder()])
GROUPED = coders.TupleCoder([coders.StrUtf8Coder(), coders.IterableCoder(coders.BytesCoder())])


@pytest.fixture
def beam_own():
    """Beam's own functions for the test, whatever the session installed; restored after."""
    was = fnapi_memory.installed()
    fnapi_memory.uninstall()
    yield
    if was:
        fnapi_memory.install()


def _filled_buffer(windowing: core.Windowing, pairs: list[tuple[str, bytes]]) -> GroupingBuffer:
    window_coder = windowing.windowfn.get_window_coder()
    pre, post = WindowedValueCoder(KV, window_coder), WindowedValueCoder(GROUPED, window_coder)
    buffer = GroupingBuffer(pre, post, windowing)
    impl = pre.get_impl()
    for start in range(0, len(pairs), 7):  # several appends, as a worker's messages arrive
        stream = beam.coders.coder_impl.create_OutputStream()
        for key, value in pairs[start : start + 7]:
            ts = len(value)  # timestamps spread the values over the fixed windows
            win = windowing.windowfn.assign(window.WindowFn.AssignContext(ts))
            impl.encode_to_stream(
                beam.utils.windowed_value.WindowedValue((key, value), ts, win), stream, True
            )
        buffer.append(stream.get())
    return buffer


def _decoded(buffer: GroupingBuffer, parts: list[list[bytes]]) -> list[list[tuple]]:
    impl = buffer._post_grouped_coder.get_impl()
    out = []
    for part in parts:
        decoded = []
        for chunk in part:
            stream = create_InputStream(chunk)
            while stream.size() > 0:  # every chunk holds whole elements
                wv = impl.decode_from_stream(stream, True)
                decoded.append((wv.value[0], list(wv.value[1]), wv.windows))
        out.append(decoded)
    return out


PAIRS = [(f"k{i % 37:02d}", bytes([i % 251]) * (50 + i % 300)) for i in range(600)]


@pytest.mark.parametrize(
    "windowing",
    [core.Windowing(window.GlobalWindows()), core.Windowing(window.FixedWindows(100))],
    ids=["global", "fixed"],
)
@pytest.mark.parametrize("parts", [1, 3])
def test_grouped_input_is_cut_into_chunks_of_the_same_elements(windowing, parts, monkeypatch):
    reference = _filled_buffer(windowing, PAIRS)
    beam_partition = fnapi_memory._originals.get("GroupingBuffer.partition")
    expected = _decoded(reference, (beam_partition or GroupingBuffer.partition)(reference, parts))

    monkeypatch.setattr(fnapi_memory, "CHUNK_BYTES", 2000)
    chunked = _filled_buffer(windowing, PAIRS)
    got = fnapi_memory._grouping_partition(chunked, parts)

    assert _decoded(chunked, got) == expected
    assert all(len(part) > 3 for part in got)  # the 37 keys' ~100 KB in chunks of ~2 KB
    assert not chunked._table  # emptied as it was encoded
    assert fnapi_memory._grouping_partition(chunked, parts) is got  # partitioned once


def test_a_grouped_input_is_dropped_as_it_is_sent_and_cannot_be_read_again(monkeypatch):
    monkeypatch.setattr(fnapi_memory, "CHUNK_BYTES", 2000)
    buffer = _filled_buffer(core.Windowing(window.GlobalWindows()), PAIRS)
    expected = b"".join(fnapi_memory._grouping_partition(buffer, 1)[0])
    manager, channel = _handler_with_channel()
    fnapi_memory._send_input_to_worker(manager, "b1", "read", buffer)  # as one worker gets it

    assert b"".join(m.data for m in channel.inverse()._inputs) == expected
    (part,) = buffer._grouped_output
    assert part == [] and part.sent
    with pytest.raises(RuntimeError, match="no longer held"):
        list(buffer)  # as a runner re-reading its input (a channel split) would


def test_parts_sent_to_several_workers_are_dropped_each(monkeypatch):
    monkeypatch.setattr(fnapi_memory, "CHUNK_BYTES", 2000)
    buffer = _filled_buffer(core.Windowing(window.GlobalWindows()), PAIRS)
    parts = fnapi_memory._grouping_partition(buffer, 2)
    for part in parts:
        expected = b"".join(part)
        manager, channel = _handler_with_channel()
        fnapi_memory._send_input_to_worker(manager, "b1", "read", part)
        assert b"".join(m.data for m in channel.inverse()._inputs) == expected
        assert part == [] and part.sent


def test_a_pipeline_run_drops_every_grouped_input_it_sends(monkeypatch):
    """Through the runner's own calls: each GroupByKey's buffer ends the run sent and empty."""
    buffers = []
    init = GroupingBuffer.__init__

    def recording_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        buffers.append(self)

    monkeypatch.setattr(GroupingBuffer, "__init__", recording_init)
    _grouping_pipeline_result(256, monkeypatch)
    assert len(buffers) >= 2  # the two GroupByKeys (and assert_that's own)
    for buffer in buffers:
        assert buffer._grouped_output and all(p.sent and not p for p in buffer._grouped_output)


def test_an_empty_grouped_input_is_one_empty_stream_per_part():
    buffer = _filled_buffer(core.Windowing(window.GlobalWindows()), [])
    assert fnapi_memory._grouping_partition(buffer, 2) == [[b""], [b""]]


def _handler_with_channel() -> tuple[SimpleNamespace, InMemoryDataChannel]:
    channel = InMemoryDataChannel()
    return SimpleNamespace(_worker_handler=SimpleNamespace(data_conn=channel)), channel


def test_streams_are_sent_as_several_messages_that_keep_them_whole(beam_own):
    streams = [bytes([i]) * (6 << 20) for i in range(4)]
    manager, channel = _handler_with_channel()
    fnapi_memory._send_input_to_worker(manager, "b1", "read", streams)

    messages = [m for m in channel.inverse()._inputs if m.data]
    assert b"".join(m.data for m in messages) == b"".join(streams)
    assert len(messages) == 2  # flushed once past 10 MB: two streams per message
    assert all(len(m.data) == 12 << 20 for m in messages)


def test_beam_sends_the_same_streams_as_one_message(beam_own):
    """What the replacement changes: Beam's own function sends the input in one message."""
    from apache_beam.runners.portability.fn_api_runner.fn_runner import BundleManager

    streams = [bytes([i]) * (6 << 20) for i in range(4)]
    manager, channel = _handler_with_channel()
    BundleManager._send_input_to_worker(manager, "b1", "read", streams)
    assert len([m for m in channel.inverse()._inputs if m.data]) == 1


def test_read_messages_leave_the_channel_as_they_are_read(monkeypatch):
    trims = []
    monkeypatch.setattr(fnapi_memory, "_malloc_trim", trims.append)
    channel = InMemoryDataChannel()

    def data(instruction: str, payload: bytes, last: bool = False):
        return beam_fn_api_pb2.Elements.Data(
            instruction_id=instruction, transform_id="t", data=payload, is_last=last
        )

    channel._inputs = [data("a", b"1"), data("b", b"x"), data("a", b"2"), data("a", b"", True)]
    reader = fnapi_memory._input_elements(channel, "a", None)
    assert next(reader).data == b"1"
    assert [m.data for m in channel._inputs] == [b"x", b"2", b""]  # the first is gone
    assert not trims  # not while reading
    assert [m.data for m in reader] == [b"2", b""]
    assert [m.data for m in channel._inputs] == [b"x"]  # the other bundle's message stays
    assert trims == [0]  # the heap's free memory handed back once the channel is read


def test_the_heap_is_trimmed_while_a_grouped_input_is_encoded_and_sent(monkeypatch):
    trims = []
    monkeypatch.setattr(fnapi_memory, "_malloc_trim", trims.append)
    monkeypatch.setattr(fnapi_memory, "CHUNK_BYTES", 2000)
    monkeypatch.setattr(fnapi_memory, "TRIM_BYTES", 10_000)
    monkeypatch.setattr(fnapi_memory, "_moved", 0)
    buffer = _filled_buffer(core.Windowing(window.GlobalWindows()), PAIRS)
    chunks = len(fnapi_memory._grouping_partition(buffer, 1)[0])
    encoded = len(trims)
    assert encoded >= chunks * 2000 // 10_000 - 1 > 0  # ~every 5 chunks of 2 KB
    manager, _channel = _handler_with_channel()
    fnapi_memory._send_input_to_worker(manager, "b1", "read", buffer)
    assert len(trims) > encoded  # and as they are sent


def test_glibc_malloc_trim_is_found():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip(f"malloc_trim is glibc's; this libc is {platform.libc_ver()}")
    assert fnapi_memory._malloc_trim is not None
    assert fnapi_memory._malloc_trim(0) in (0, 1)


def _grouping_pipeline_result(chunk_bytes: int, monkeypatch) -> None:
    monkeypatch.setattr(fnapi_memory, "CHUNK_BYTES", chunk_bytes)
    words = [f"w{i % 50}" for i in range(5000)]
    with beam.Pipeline(runner=FnApiRunner()) as p:
        grouped = (
            p
            | beam.Create(list(enumerate(words)))
            | beam.Map(lambda iw: window.TimestampedValue((iw[1], "x" * 40), iw[0]))
            | beam.WindowInto(window.FixedWindows(1000))
            | beam.GroupByKey()
            | beam.MapTuple(lambda word, values: (word, len(list(values))))
            | "Global" >> beam.WindowInto(window.GlobalWindows())
            | "Regroup" >> beam.GroupByKey()
            | beam.MapTuple(lambda word, counts: (word, sorted(counts)))
        )
        # 5 windows of 1000 positions; each word appears 20 times in each
        assert_that(grouped, equal_to([(f"w{i}", [20] * 5) for i in range(50)]))


def test_a_pipeline_grouping_in_windows_gives_the_same_result_installed(monkeypatch):
    assert fnapi_memory.install()
    _grouping_pipeline_result(256, monkeypatch)  # every key in its own chunk


def test_a_pipeline_grouping_in_windows_gives_the_result_with_beam_own(beam_own, monkeypatch):
    _grouping_pipeline_result(256, monkeypatch)


def test_install_is_idempotent_and_uninstall_restores(beam_own):
    from apache_beam.runners.portability.fn_api_runner.fn_runner import BundleManager

    beam_send = BundleManager._send_input_to_worker
    assert fnapi_memory.install() and fnapi_memory.install()
    assert GroupingBuffer.partition is fnapi_memory._grouping_partition
    assert BundleManager._send_input_to_worker is fnapi_memory._send_input_to_worker
    assert InMemoryDataChannel.input_elements is fnapi_memory._input_elements
    fnapi_memory.uninstall()
    assert BundleManager._send_input_to_worker is beam_send
    assert not fnapi_memory.installed()


def test_another_beam_version_is_left_alone_with_a_warning(beam_own, monkeypatch, caplog):
    monkeypatch.setattr(beam, "__version__", "9.99.0")
    with caplog.at_level(logging.WARNING):
        assert not fnapi_memory.install()
    assert not fnapi_memory.installed()
    assert "not applied" in caplog.text and "9.99.0" in caplog.text


def test_the_pinned_beam_is_a_tested_version():
    pinned = re.search(r'BEAM = "([^"]+)"', (REPO / "setup.py").read_text())[1]
    assert pinned in fnapi_memory.TESTED_BEAM
    assert beam.__version__ in fnapi_memory.TESTED_BEAM
