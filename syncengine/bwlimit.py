"""``--bwlimit`` as rclone's ``accounting.TokenBucket`` applies it.

A limit is a pair ``TX:RX`` (one value: both). rclone keeps up to three buckets:

- *transport Tx*: bytes sent on a network connection (here: file data written to a
  destination that is not local);
- *transport Rx*: bytes received on one (file data read from a source that is not local);
- *accounting*: every byte a transfer reads, at the larger of the two rates, but only when
  both are set. So ``--bwlimit 1M:off`` leaves a local-to-local copy unlimited, as rclone.

A timetable (``08:00,512k 18:00,off``) is looked at when the run starts (``Starting
bandwidth limiter at ... Byte/s``) and then once a minute (``Scheduled bandwidth change``
NOTICE lines). SIGUSR2 toggles the limit off and on again (``Bandwidth limit disabled by
user (now off)``), as in rclone on Unix; only a run with ``--bwlimit`` catches it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from . import log
from .errors import UsageError
from .transfer import TokenBucket
from .units import bwlimit_at, format_size, parse_bwlimit

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime  # imported when a limiter is made (a run with --bwlimit)
    from typing import Any

__all__ = ["BwLimiter", "format_pair", "parse_limiter"]

Pair = tuple[int, int]
TICK = 60.0  # seconds between two looks at the timetable (rclone: time.Minute)


def format_pair(pair: Pair) -> str:
    """rclone's ``BwPair.String()``: ``1Mi``, or ``1Mi:100Ki`` when the two differ."""
    tx, rx = pair
    return format_size(tx) if tx == rx else f"{format_size(tx)}:{format_size(rx)}"


def _is_set(pair: Pair) -> bool:
    return pair[0] > 0 or pair[1] > 0


class _Buckets:
    """The buckets of one pair: (accounting, tx, rx), each None when unlimited."""

    __slots__ = ("accounting", "rx", "tx")

    def __init__(self, pair: Pair) -> None:
        tx, rx = pair
        self.tx = TokenBucket(tx) if tx > 0 else None
        self.rx = TokenBucket(rx) if rx > 0 else None
        self.accounting = TokenBucket(max(tx, rx)) if tx > 0 and rx > 0 else None

    def rate(self, rx: bool, tx: bool) -> float:
        """The strictest rate that applies to a transfer (0: none)."""
        rates = [b.rate for b, on in ((self.accounting, True), (self.rx, rx), (self.tx, tx))
                 if on and b is not None]
        return float(min(rates)) if rates else 0.0


_OFF = _Buckets((-1, -1))


class _Taker:
    """What a Transferer meters its bytes with: ``take(n)`` on the limiter's current
    buckets for one direction."""

    __slots__ = ("_limiter", "_rx", "_tx")

    def __init__(self, limiter: BwLimiter, rx: bool, tx: bool) -> None:
        self._limiter, self._rx, self._tx = limiter, rx, tx

    @property
    def rate(self) -> float:
        """The rate in force for this direction now (0: unlimited)."""
        return self._limiter.current.rate(self._rx, self._tx)

    def take(self, n: int) -> None:
        """Account ``n`` bytes, sleeping as the buckets in force require."""
        b = self._limiter.current
        if b.accounting is not None:
            b.accounting.take(n)
        if self._rx and b.rx is not None:
            b.rx.take(n)
        if self._tx and b.tx is not None:
            b.tx.take(n)


class BwLimiter:
    """The run's bandwidth limiter (see the module docstring). ``clock``: local time now."""

    def __init__(self, slots: list[tuple[int, int, Pair]],
                 clock: Callable[[], datetime.datetime] | None = None) -> None:
        if clock is None:
            import datetime

            clock = datetime.datetime.now
        self.slots = slots
        self._clock = clock
        self._lock = threading.Lock()
        self.pair: Pair = bwlimit_at(slots, clock())
        self.current = _Buckets(self.pair) if _is_set(self.pair) else _OFF
        self._toggled: _Buckets | None = None  # the buckets SIGUSR2 put aside
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._old_handler: Any = None

    def start(self) -> None:
        """rclone's StartTokenBucket and StartTokenTicker: log the limit in force, follow
        the timetable while the run lasts, toggle on SIGUSR2."""
        if _is_set(self.pair):
            log.info(None, f"Starting bandwidth limiter at {format_pair(self.pair)} Byte/s")
        if len(self.slots) > 1:
            self._ticker = threading.Thread(target=self._tick_loop, name="bwlimit",
                                            daemon=True)
            self._ticker.start()
        usr2 = getattr(signal, "SIGUSR2", None)
        if usr2 is not None and threading.current_thread() is threading.main_thread():
            try:
                self._old_handler = signal.signal(usr2, self._on_usr2)
            except (ValueError, OSError):
                self._old_handler = None

    def stop(self) -> None:
        """Stop following the timetable and give SIGUSR2 back."""
        self._stop.set()
        if self._old_handler is not None:
            try:
                signal.signal(signal.SIGUSR2, self._old_handler)
            except (ValueError, OSError):
                pass
            self._old_handler = None

    def for_transfer(self, src_remote: bool, dst_remote: bool) -> _Taker | None:
        """The meter of transfers from ``src`` to ``dst``; None when no bucket can ever
        apply to them (so a copy without a limit keeps its fast paths)."""
        pairs = [self.pair] + [p for _, _, p in self.slots]
        can = any(tx > 0 and rx > 0 or rx > 0 and src_remote or tx > 0 and dst_remote
                  for tx, rx in pairs)
        return _Taker(self, src_remote, dst_remote) if can else None

    # ----- the timetable and SIGUSR2 ------------------------------------------------------

    def _tick_loop(self) -> None:
        while not self._stop.wait(TICK):
            self.tick()

    def tick(self) -> None:
        """Look at the timetable once (rclone's ticker body)."""
        now = bwlimit_at(self.slots, self._clock())
        with self._lock:
            if now == self.pair:
                return
            self.pair = now
            new = _Buckets(now) if _is_set(now) else _OFF
            if self._toggled is not None:  # toggled off: the change waits for the toggle
                self._toggled = new
                if _is_set(now):
                    log.notice(None, "Scheduled bandwidth change. Limit will be set to "
                               f"{format_pair(now)} Byte/s when toggled on again.")
                else:
                    log.notice(None, "Scheduled bandwidth change. Bandwidth limits disabled")
                return
            self.current = new
        if _is_set(now):
            log.notice(None, f"Scheduled bandwidth change. Limit set to {format_pair(now)} "
                       "Byte/s")
        else:
            log.notice(None, "Scheduled bandwidth change. Bandwidth limits disabled")

    def toggle(self) -> None:
        """SIGUSR2: limits off until the next toggle, then the ones in force again (nothing
        while the timetable sets no limit)."""
        with self._lock:
            if not _is_set(self.pair):
                log.debug(None, "SIGUSR2 received but no bandwidth limit configured right "
                          "now, ignoring")
                return
            if self._toggled is None:
                self._toggled, self.current = self.current, _OFF
                state, limit = "disabled", "off"
            else:
                self.current, self._toggled = self._toggled, None
                state, limit = "enabled", format_pair(self.pair)
        log.notice(None, f"Bandwidth limit {state} by user (now {limit})")

    def _on_usr2(self, signum: int, frame: Any) -> None:
        threading.Thread(target=self.toggle, name="bwlimit-toggle", daemon=True).start()


def parse_limiter(text: str) -> BwLimiter | None:
    """The limiter of a ``--bwlimit`` value; None for ``off`` (or empty). Raises rclone's
    ``invalid argument`` UsageError for a bad value."""
    if not text or text.lower() == "off":
        return None
    try:
        slots = parse_bwlimit(text)
    except UsageError as err:
        raise UsageError(f'invalid argument "{text}" for "--bwlimit" flag: {err}') from None
    if all(not _is_set(p) for _, _, p in slots):
        return None
    return BwLimiter(slots)
