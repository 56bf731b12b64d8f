"""``--bwlimit`` as rclone's accounting.TokenBucket: which buckets meter which transfer, the
timetable followed while the run lasts, and SIGUSR2's toggle (syncengine/bwlimit.py)."""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest

from syncengine.bwlimit import BwLimiter, format_pair, parse_limiter
from syncengine.units import parse_bwlimit
from tests.logcapture import captured_log

M, K = 1024 * 1024, 1024
SAT_0914 = dt.datetime(2026, 12, 5, 9, 14)  # a Saturday


def _lines(buf: object) -> list[str]:
    return [line.split(" : ", 1)[1] if " : " in line else line.split(": ", 1)[1]
            for line in buf.getvalue().splitlines()]  # type: ignore[attr-defined]


@pytest.mark.parametrize(("pair", "text"), [((M, M), "1Mi"), ((M, 100 * K), "1Mi:100Ki"),
                                            ((M, -1), "1Mi:off"), ((-1, 512 * K), "off:512Ki")])
def test_pair_shown_as_rclone(pair: tuple[int, int], text: str) -> None:
    assert format_pair(pair) == text


@pytest.mark.parametrize(("value", "src_remote", "dst_remote", "rate"), [
    ("1M", False, False, M),  # both set: the accounting bucket meters every copy
    ("1M:off", False, False, None),  # Tx only: a local copy is not limited (rclone)
    ("1M:off", False, True, M),  # an upload is (transport Tx)
    ("1M:off", True, False, None),  # a download is not
    ("off:100k", True, False, 100 * K),  # transport Rx: downloads only
    ("1M:100k", True, False, 100 * K),  # accounting 1M and Rx 100k: the stricter
    ("1M:100k", False, True, M),  # accounting 1M and Tx 1M
    ("1M:100k", False, False, M),  # accounting only
    ("2M:100k", True, True, 100 * K),  # remote to remote: Rx, Tx and accounting
])
def test_buckets_per_direction(value: str, src_remote: bool, dst_remote: bool,
                               rate: int | None) -> None:
    limiter = parse_limiter(value)
    assert limiter is not None
    meter = limiter.for_transfer(src_remote, dst_remote)
    if rate is None:
        assert meter is None
    else:
        assert meter is not None and meter.rate == rate


def test_off_is_no_limiter() -> None:
    assert parse_limiter("off") is None
    assert parse_limiter("off:off") is None


class _Clock:
    def __init__(self, when: dt.datetime) -> None:
        self.when = when

    def __call__(self) -> dt.datetime:
        return self.when


def test_timetable_followed_with_rclones_lines() -> None:
    clock = _Clock(SAT_0914)
    limiter = BwLimiter(parse_bwlimit("08:00,512k 12:00,10M 18:00,off"), clock)
    with captured_log() as buf:
        limiter.start()
        try:
            meter = limiter.for_transfer(False, True)
            assert meter is not None and meter.rate == 512 * K
            limiter.tick()  # nothing changed
            clock.when = SAT_0914.replace(hour=12, minute=1)
            limiter.tick()
            assert meter.rate == 10 * M
            clock.when = SAT_0914.replace(hour=18)
            limiter.tick()
            assert meter.rate == 0
        finally:
            limiter.stop()
    assert _lines(buf) == ["Starting bandwidth limiter at 512Ki Byte/s",
                           "Scheduled bandwidth change. Limit set to 10Mi Byte/s",
                           "Scheduled bandwidth change. Bandwidth limits disabled"]


def test_toggle_off_and_on_with_a_change_in_between() -> None:
    clock = _Clock(SAT_0914)
    limiter = BwLimiter(parse_bwlimit("08:00,1M 12:00,2M"), clock)
    meter = limiter.for_transfer(True, False)
    assert meter is not None
    with captured_log() as buf:
        limiter.toggle()
        assert meter.rate == 0
        clock.when = SAT_0914.replace(hour=13)
        limiter.tick()  # the change waits for the toggle
        assert meter.rate == 0
        limiter.toggle()
        assert meter.rate == 2 * M
    assert _lines(buf) == [
        "Bandwidth limit disabled by user (now off)",
        "Scheduled bandwidth change. Limit will be set to 2Mi Byte/s when toggled on again.",
        "Bandwidth limit enabled by user (now 2Mi)"]


def test_sigusr2_toggles_a_running_limiter() -> None:
    limiter = parse_limiter("1M")
    assert limiter is not None
    meter = limiter.for_transfer(False, False)
    assert meter is not None
    limiter.start()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        deadline = time.monotonic() + 10
        while meter.rate and time.monotonic() < deadline:
            time.sleep(0.01)
        assert meter.rate == 0
    finally:
        limiter.stop()
    assert signal.getsignal(signal.SIGUSR2) in (signal.SIG_DFL, None)


def test_the_meter_sleeps_to_the_rate() -> None:
    """A lower bound only (a busy machine can be slower, never faster than the limit)."""
    limiter = parse_limiter("1M")
    assert limiter is not None
    meter = limiter.for_transfer(False, False)
    assert meter is not None
    start = time.monotonic()
    for _ in range(5):
        meter.take(100 * K)
    assert time.monotonic() - start >= 0.35


def test_a_big_take_lets_a_small_one_through() -> None:
    """A 4 MiB chunk reserves the bucket a slice at a time: a small file metered while the
    big one is paying waits for a slice or two, not for the whole chunk (rclone meters each
    32 KiB read, so a small file beside a big one is not held up). A fake clock and sleep:
    the threads are stepped by hand, nothing here is timed."""
    import threading

    from syncengine.transfer import METER_SLICE, TokenBucket

    rate = 6 * M
    now = [0.0]
    big_sleeping = threading.Event()
    release = threading.Event()
    waits: dict[str, list[float]] = {"big": [], "small": []}

    def sleep(seconds: float) -> None:
        who = threading.current_thread().name
        waits[who].append(seconds)
        if who == "big" and len(waits["big"]) == 1:
            big_sleeping.set()  # the big take is paying its second slice: let small in
            release.wait(10)
        now[0] += 0 if who == "big" else seconds

    bucket = TokenBucket(rate, clock=lambda: now[0], sleep=sleep)
    big = threading.Thread(target=bucket.take, args=(4 * M,), name="big")
    big.start()
    assert big_sleeping.wait(10)
    small = threading.Thread(target=bucket.take, args=(100,), name="small")
    small.start()
    small.join(10)
    release.set()
    big.join(10)
    assert not small.is_alive() and not big.is_alive()
    assert waits["small"] == [pytest.approx(2 * METER_SLICE / rate)]
    # the big one still pays for all of its bytes, a slice at a time
    assert bucket._next == pytest.approx((4 * M + 100) / rate)
    assert len(waits["big"]) == 4 * M // METER_SLICE - 1
