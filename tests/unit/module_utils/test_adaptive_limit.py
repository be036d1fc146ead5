"""The adaptive bound on requests in flight (pure, threads only)."""

from __future__ import annotations

import threading
import time

from ansible_collections.m365ops.remediation.plugins.module_utils.transport import AdaptiveLimit


def test_halves_once_per_wave_and_grows_back():
    limit = AdaptiveLimit(start=8, maximum=8, grow_after=2)
    epochs = [limit.acquire() for dummy in range(8)]
    for epoch in epochs:
        limit.release(epoch, throttled=True)
    assert limit.limit == 4  # one wave of 429s halves once
    for dummy in range(4):
        limit.release(limit.acquire(), throttled=False)
    assert limit.limit == 6
    for dummy in range(20):
        limit.release(limit.acquire(), throttled=False)
    assert limit.limit == 8  # never past the maximum


def test_never_below_one_and_bounds_in_flight():
    limit = AdaptiveLimit(start=2, maximum=4)
    for dummy in range(5):
        limit.release(limit.acquire(), throttled=True)
    assert limit.limit == 1
    peak = []
    active = [0]
    lock = threading.Lock()

    def work():
        epoch = limit.acquire()
        with lock:
            active[0] += 1
            peak.append(active[0])
        time.sleep(0.01)
        with lock:
            active[0] -= 1
        limit.release(epoch, throttled=False)

    threads = [threading.Thread(target=work) for dummy in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(peak) <= 2  # started at 1, may have grown by one after the successes
