"""Per-host gates on a fake clock, and the concurrency limit with real threads."""

import threading
import time

import pytest

from beam_cqia.web.ratelimit import HostGate, HostGates


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


def _starts(gate, clock, n, work=0.0):
    starts = []
    for _ in range(n):
        with gate.slot():
            starts.append(clock.now)
            clock.now += work
    return starts


def test_requests_start_at_least_the_interval_apart():
    clock = FakeClock()
    gate = HostGate(2.0, clock=clock, sleep=clock.sleep)
    starts = _starts(gate, clock, 3, work=0.5)
    assert starts == [100.0, 102.0, 104.0]
    assert clock.sleeps == [1.5, 1.5]


def test_no_wait_when_the_interval_has_passed():
    clock = FakeClock()
    gate = HostGate(1.0, clock=clock, sleep=clock.sleep)
    _starts(gate, clock, 1)
    clock.now += 5
    _starts(gate, clock, 1)
    assert clock.sleeps == []


def test_crawl_delay_raises_but_never_lowers_the_interval():
    clock = FakeClock()
    gate = HostGate(1.0, clock=clock, sleep=clock.sleep)
    gate.raise_interval(3.0)
    gate.raise_interval(0.5)
    assert gate.min_interval == 3.0
    assert _starts(gate, clock, 2) == [100.0, 103.0]


def test_defer_pushes_the_next_start():
    clock = FakeClock()
    gate = HostGate(1.0, clock=clock, sleep=clock.sleep)
    _starts(gate, clock, 1)
    gate.defer(10.0)  # e.g. Retry-After: 10
    assert _starts(gate, clock, 1) == [110.0]


def test_gates_are_per_host():
    clock = FakeClock()
    gates = HostGates(5.0, clock=clock, sleep=clock.sleep)
    assert gates.gate("a.example") is gates.gate("a.example")
    _starts(gates.gate("a.example"), clock, 1)
    _starts(gates.gate("b.example"), clock, 1)
    assert clock.sleeps == []


def test_concurrency_limit_holds_with_threads():
    gate = HostGate(0.0, concurrency=2)
    active, peak, lock = [0], [0], threading.Lock()

    def work():
        with gate.slot():
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.03)
            with lock:
                active[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2


@pytest.mark.parametrize(("interval", "concurrency"), [(-1, 1), (1, 0)])
def test_bad_limits_are_refused(interval, concurrency):
    with pytest.raises(ValueError):
        HostGates(interval, concurrency)
