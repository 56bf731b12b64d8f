"""Thread-safe run statistics and their rendering exactly as rclone v1.75 prints them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType

from .errors import MaxDeleteError, PysyncError
from .record import record
from .units import (
    SECOND,
    format_bytes,
    format_duration_readable,
    format_elapsed_ns,
    format_go_duration,
    format_rate,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "AVERAGE_PERIOD",
    "GLOBAL_STATS_GROUP",
    "STATS_FILE_NAME_LENGTH",
    "CheckStat",
    "Stats",
    "StatsSnapshot",
    "Transfer",
    "TransferStat",
    "classify_error",
    "eta_seconds",
    "eta_string",
    "format_stats_block",
    "format_stats_one_line",
    "format_transfer_line",
    "percent",
    "progress_lines",
    "shorten_name",
    "stats_json",
]

STATS_FILE_NAME_LENGTH = 45  # --stats-file-name-length default
AVERAGE_PERIOD = 16  # ticks (seconds) of rclone's exponentially weighted averages
GLOBAL_STATS_GROUP = "global_stats"  # the group of the command line's stats

_INT64_MAX = (1 << 63) - 1
_ETA_MAX_SECONDS = _INT64_MAX // SECOND  # rclone's etaMaxSeconds
_TICK = 1.0  # seconds between two ticks of rclone's average loops
_COUNTED = "_pysync_counted"  # marker set on an exception once Stats.error has counted it


# --------------------------------------------------------------------------------------
# Small rclone formulas
# --------------------------------------------------------------------------------------


def percent(a: int, b: int) -> str:
    """rclone's ``percent``: ``a/b`` rounded half up (``"50%"``), ``"-"`` if a<0 or b<=0."""
    if a < 0 or b <= 0:
        return "-"
    return f"{int(float(a) * 100 / float(b) + 0.5)}%"


def eta_seconds(done: int, total: int, rate: float) -> int | None:
    """rclone's ``eta``: whole seconds left at ``rate`` bytes/s, or None when unknown
    (no total, nothing known, done past total); huge values saturate at ~292 years."""
    if total <= 0 or done < 0 or rate <= 0:
        return None
    remaining = total - done
    if remaining < 0:
        return None
    q = remaining / rate
    if q != q or q >= 9223372036854775808.0:  # Go's int64() overflows to a negative value
        return _ETA_MAX_SECONDS
    return min(int(q), _ETA_MAX_SECONDS)


def eta_string(done: int, total: int, rate: float) -> str:
    """rclone's ``etaString`` for the ``ETA`` field: ``ShortReadableString`` of the ETA
    (``1m40s``, ``1d2h23m``, ``0s``), ``-`` when unknown or saturated."""
    secs = eta_seconds(done, total, rate)
    if secs is None or secs >= _ETA_MAX_SECONDS:
        return "-"
    return format_duration_readable(secs * SECOND, 3)


def shorten_name(name: str, size: int) -> str:
    """rclone's ``shortenName``: at most ``size`` characters, the middle replaced by ``…``
    (``abcdef`` at 5 is ``ab…ef``); untouched if ``size <= 0`` or it already fits."""
    if size <= 0 or len(name) <= size:
        return name
    # Go's []rune() turns undecodable bytes (surrogate escapes here) into U+FFFD.
    name = "".join("\ufffd" if "\udc80" <= c <= "\udcff" else c for c in name)
    size -= 1  # the ellipsis
    suffix_len = size // 2
    prefix_len = size - suffix_len
    return name[:prefix_len] + "…" + name[len(name) - suffix_len:]


def _pad(text: str, width: int) -> str:
    """Go's ``%*s``: right-aligned in ``width`` characters, left-aligned if negative."""
    if width < 0:
        return f"{text:<{-width}}"
    return f"{text:>{width}}"


def classify_error(err: BaseException) -> str:
    """The retry class rclone's ``Stats.Error`` gives an error: ``"fatal"``, ``"retry"``
    or ``"no-retry"``. Only ``PysyncError``s carry ``fatal``/``retryable``; anything else
    (``OSError``...) is retryable. The ``raise ... from`` chain is searched like Go's
    wrapped errors: one fatal link makes it fatal, one non-retryable link no-retry."""
    fatal = no_retry = False
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, PysyncError):
            fatal = fatal or bool(e.fatal)
            no_retry = no_retry or not e.retryable
        e = e.__cause__
    if fatal:
        return "fatal"
    if _retry_after(err) is not None:
        return "retry"
    return "no-retry" if no_retry else "retry"


def _retry_after(err: BaseException) -> float | None:
    """A ``retry_after`` (epoch seconds) carried by the error or its ``__cause__`` chain."""
    seen: set[int] = set()
    e: BaseException | None = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        value = getattr(e, "retry_after", None)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
        e = e.__cause__
    return None


# --------------------------------------------------------------------------------------
# Exponentially weighted averages, ticked lazily
# --------------------------------------------------------------------------------------


class _Ewma:
    """rclone's once-a-second moving average (``averageLoop``), evaluated lazily.

    rclone ticks a goroutine every second: ``avg = bytes since last tick / elapsed`` then
    ``speed = (avg + speed*(period-1)) / period`` with ``period`` growing to 16. Here the
    ticks that fell due are applied whenever ``advance`` runs (snapshots, transfer start
    and end), the bytes since the previous evaluation spread evenly over that interval.
    ``base`` is the byte counter's value at the last tick, so counting stays outside.
    """

    __slots__ = ("speed", "period", "running", "last_tick", "next_tick", "base")

    def __init__(self) -> None:
        self.speed = 0.0
        self.period = 0
        self.running = False
        self.last_tick = 0.0
        self.next_tick = 0.0
        self.base = 0.0

    def start(self, now: float) -> None:
        """Start ticking (rclone keeps speed, period and the bytes of a stopped loop)."""
        if not self.running:
            self.running = True
            self.last_tick = now
            self.next_tick = now + _TICK

    def stop(self, now: float, counter: int) -> None:
        """Apply the ticks due by ``now``, then stop ticking."""
        self.advance(now, counter)
        self.running = False

    def advance(self, now: float, counter: int) -> None:
        """Apply every tick due by ``now``; ``counter`` is the running byte count."""
        if not self.running or now < self.next_tick:
            return
        ticks = int((now - self.next_tick) // _TICK) + 1
        last = self.next_tick + (ticks - 1) * _TICK
        interval = now - self.last_tick
        rate = (counter - self.base) / interval if interval > 0 else 0.0
        n = ticks
        while n and self.period < AVERAGE_PERIOD:
            self.period += 1
            self.speed = (rate + self.speed * (self.period - 1)) / self.period
            n -= 1
        if n:  # steady state: closed form of n identical ticks
            keep = (AVERAGE_PERIOD - 1) / AVERAGE_PERIOD
            self.speed = rate + (self.speed - rate) * keep**n
        self.base = counter - rate * (now - last)
        self.last_tick = last
        self.next_tick = last + _TICK


# --------------------------------------------------------------------------------------
# Snapshots
# --------------------------------------------------------------------------------------


@record(frozen=True)
class TransferStat:
    """One active transfer at snapshot time (an entry of rclone's ``transferring``)."""

    name: str
    size: int  # -1 if unknown
    bytes: int = 0
    speed: float = 0.0  # average over the whole transfer, bytes/s
    speed_avg: float = 0.0  # current speed (moving average), bytes/s
    started: float = 0.0  # clock time
    src_fs: str | None = None
    dst_fs: str | None = None

    @property
    def percentage(self) -> int:
        """Percent done, truncated as rclone does; 0 when the size is unknown."""
        if self.size > 0:
            return int(100 * float(self.bytes) / float(self.size))
        return 0

    @property
    def eta(self) -> int | None:
        """Whole seconds left at the current speed, None if unknown."""
        return eta_seconds(self.bytes, self.size, self.speed_avg)


@record(frozen=True)
class CheckStat:
    """One active check at snapshot time (an entry of rclone's ``checking``)."""

    name: str
    what: str = ""  # "" shows as "checking"; rclone also uses "deleting", "hashing"...
    started: float = 0.0


@record(frozen=True)
class StatsSnapshot:
    """Immutable copy of every counter of a ``Stats`` at one instant.

    Field meanings follow rclone's ``StatsInfo``; totals are computed as rclone computes
    them (queued + done + in progress). Construct one directly to format known counts.
    """

    bytes: int = 0
    total_bytes: int = 0
    speed: float = 0.0  # bytes/s, rclone's moving average of all transfers
    errors: int = 0
    last_error: str | None = None
    fatal_error: bool = False
    retry_error: bool = False
    checks: int = 0
    total_checks: int = 0
    transfers: int = 0
    total_transfers: int = 0
    listed: int = 0
    renames: int = 0
    deletes: int = 0
    deletes_size: int = 0
    deleted_dirs: int = 0
    skipped_changing: int = 0  # pysync's --skip-changing: files left for a later run
    server_side_copies: int = 0
    server_side_copy_bytes: int = 0
    server_side_moves: int = 0
    server_side_move_bytes: int = 0
    check_queue: int = 0
    transfer_queue: int = 0
    transfer_time: float = 0.0  # seconds during which at least one transfer/check ran
    elapsed_ns: int = 0  # since the stats were created or reset
    transferring: tuple[TransferStat, ...] = ()
    checking: tuple[CheckStat, ...] = ()
    group: str = GLOBAL_STATS_GROUP

    @property
    def elapsed(self) -> float:
        """Elapsed time in seconds."""
        return self.elapsed_ns / 1e9

    @property
    def eta(self) -> int | None:
        """Whole seconds left for the bytes known so far at ``speed``, None if unknown."""
        return eta_seconds(self.bytes, self.total_bytes, self.speed)

    @property
    def errored(self) -> bool:
        """True if any error was counted (rclone's ``Errored``)."""
        return self.errors != 0


# --------------------------------------------------------------------------------------
# Live counters
# --------------------------------------------------------------------------------------


class _Count(int):
    """An int that may also be called: ``stats.errors`` and ``stats.errors()`` agree."""

    __slots__ = ()

    def __call__(self) -> int:
        return int(self)


class Transfer:
    """One file being transferred; made by ``Stats.start_transfer``.

    ``add(n)`` after every chunk (cheap: one lock, two integer additions), then exactly
    one ``done(error)``; later ``done`` calls are ignored. Usable as a context manager
    that calls ``done`` with the exception leaving the block (which still propagates).
    """

    __slots__ = ("_stats", "_lock", "name", "size", "started", "src_fs", "dst_fs",
                 "_bytes", "_ewma", "_finished")

    def __init__(self, stats: Stats, name: str, size: int, started: float,
                 src_fs: str | None, dst_fs: str | None) -> None:
        self._stats = stats
        self._lock = stats._lock
        self.name = name
        self.size = size
        self.started = started
        self.src_fs = src_fs
        self.dst_fs = dst_fs
        self._bytes = 0
        self._ewma = _Ewma()
        self._ewma.start(started)
        self._finished = False

    def add(self, nbytes: int) -> None:
        """Account ``nbytes`` more bytes read for this transfer (and the run)."""
        with self._lock:
            self._bytes += nbytes
            self._stats._bytes += nbytes

    @property
    def bytes(self) -> int:
        """Bytes accounted to this transfer so far."""
        return self._bytes

    @property
    def finished(self) -> bool:
        """True once ``done`` has been called."""
        return self._finished

    def restart(self) -> None:
        """Start this file's byte count again (a low-level retry re-reads it); the run's
        bytes are kept, as rclone's ``UpdateReader`` does."""
        with self._lock:
            self._bytes = 0
            self._ewma.base = 0.0

    def show(self, name: str, size: int) -> None:
        """Stand for the next file ``name`` of ``size`` bytes (a batch of small files
        accounted with :meth:`Stats.file_copied` shows its file in hand)."""
        with self._lock:
            self.name = name
            self.size = size
            self._bytes = 0

    def done(self, error: BaseException | None = None) -> None:
        """End the transfer: counts ``error`` (once) or, without one, a completed transfer."""
        self._stats._finish_transfer(self, error)

    def discard(self) -> None:
        """End the transfer counting neither an error nor a completed transfer (a file
        deliberately left for a later run); its bytes stay in the run's total."""
        self._stats._finish_transfer(self, None, counted=False)

    def __enter__(self) -> Transfer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.done(exc)

    def __repr__(self) -> str:
        return f"<Transfer {self.name!r} {self._bytes}/{self.size}>"


class Stats:
    """Thread-safe counters for one run, rclone's ``StatsInfo``.

    Errors are reset between whole-run attempts (``reset_errors``) while bytes, checks,
    transfers and listings accumulate, as in rclone. ``clock`` returns seconds (monotonic).
    Totals follow rclone: ``total = queued + done + in progress``; queue work with
    ``add_total_transfer``/``add_total_check`` and ``start_transfer``/``start_check`` move
    one item from the queue to in-progress. A failed transfer leaves the totals.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 group: str = GLOBAL_STATS_GROUP) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.group = group
        self._transferring: dict[Transfer, None] = {}
        self._checking: dict[str, list[CheckStat]] = {}
        self._check_queue = 0
        self._check_queue_size = 0
        self._transfer_queue = 0
        self._transfer_queue_size = 0
        self._zero(clock())

    def _zero(self, now: float) -> None:
        """Reset every counter (rclone's ``ResetCounters`` plus the start time)."""
        self._start = now
        self._bytes = 0
        self._bytes_no_network = 0  # server-side bytes: counted but not in the speed
        self._checks = 0
        self._transfers = 0
        self._listed = 0
        self._renames = 0
        self._deletes = 0
        self._deletes_size = 0
        self._deleted_dirs = 0
        self._skipped_changing = 0
        self._ssc = 0
        self._ssc_bytes = 0
        self._ssm = 0
        self._ssm_bytes = 0
        self._old_ranges: list[tuple[float, float]] = []
        self._old_duration = 0.0
        running = getattr(self, "_avg", None) is not None and self._avg.running
        self._avg = _Ewma()
        if running:
            self._avg.start(now)
        self._zero_errors()

    def _zero_errors(self) -> None:
        self._errors = 0
        self._last_error: BaseException | None = None
        self._fatal_error = False
        self._retry_error = False
        self._retry_after = 0.0

    # ----- listing and checks ----------------------------------------------------------

    def listed(self, n: int) -> None:
        """Count ``n`` directory entries listed (``Listed N``)."""
        with self._lock:
            self._listed += n

    def add_total_check(self, count: int = 1) -> None:
        """Queue ``count`` checks (negative to drop queued ones): they count in the totals."""
        with self._lock:
            self._check_queue = max(0, self._check_queue + count)

    def set_check_queue(self, n: int, size: int = 0) -> None:
        """Set the number of queued checks outright (rclone's ``SetCheckQueue``)."""
        with self._lock:
            self._check_queue = max(0, n)
            self._check_queue_size = max(0, size)

    def start_check(self, name: str, what: str = "", *, queued: bool = True) -> None:
        """A check of ``name`` begins (shown under ``Checking:``); ``what`` replaces the
        word ``checking`` (rclone uses ``deleting``, ``hashing``...). With ``queued`` one
        queued check, if any, becomes this one."""
        with self._lock:
            now = self._clock()
            if queued and self._check_queue > 0:
                self._check_queue -= 1
            self._checking.setdefault(name, []).append(CheckStat(name, what, now))

    @contextmanager
    def checking(self, name: str, what: str = "") -> Iterator[None]:
        """One check of ``name`` (not a queued one) around the ``with`` body, as rclone's
        checking transfers (``moving``, ``deleting``, ``renaming``); an error raised in the
        body is the caller's to count."""
        self.start_check(name, what, queued=False)
        try:
            yield
        finally:
            self.end_check(name)

    def end_check(self, name: str, error: BaseException | None = None) -> None:
        """A check of ``name`` ended: always counts one check; ``error`` is counted too."""
        with self._lock:
            now = self._clock()
            if error is not None:
                self._count_error(error)
            items = self._checking.get(name)
            if items:
                item = items.pop(0)
                if not items:
                    del self._checking[name]
                self._retire_range(item.started, now)
            self._checks += 1

    def skipped_changing(self) -> None:
        """Count a file left out because it changed while being copied (--skip-changing)."""
        with self._lock:
            self._skipped_changing += 1

    def forget_checks(self) -> None:
        """Drop the checks and listed entries counted so far: rclone's CopyFile (a source
        naming one file) neither lists nor counts a check, so its stats have no Checks line."""
        with self._lock:
            self._checks = 0
            self._listed = 0

    def add_checks(self, n: int) -> None:
        """Count ``n`` checks decided at once without I/O (unchanged files found by the
        march): they count like ``start_check``/``end_check`` pairs, in a single step."""
        with self._lock:
            self._checks += n

    # ----- transfers ---------------------------------------------------------------------

    def add_total_transfer(self, size: int, count: int = 1) -> None:
        """Queue ``count`` transfers of ``size`` bytes in all (unknown sizes count as 0):
        the totals of ``x / y`` grow as work is queued, as in rclone. A negative ``count``
        drops queued transfers of ``size`` bytes instead (see ``dequeue_transfer``)."""
        delta = max(size, 0) if count >= 0 else -max(size, 0)
        with self._lock:
            self._transfer_queue = max(0, self._transfer_queue + count)
            self._transfer_queue_size = max(0, self._transfer_queue_size + delta)

    def dequeue_transfer(self, size: int) -> None:
        """Drop one queued transfer of ``size`` bytes that will not be started."""
        self.add_total_transfer(size, -1)

    def set_transfer_queue(self, n: int, size: int) -> None:
        """Set the queued transfers outright (rclone's ``SetTransferQueue``); callers that
        use it should pass ``queued=False`` to ``start_transfer``."""
        with self._lock:
            self._transfer_queue = max(0, n)
            self._transfer_queue_size = max(0, size)

    def start_transfer(self, name: str, size: int, *, queued: bool = True,
                       src_fs: str | None = None, dst_fs: str | None = None) -> Transfer:
        """A transfer of ``name`` (``size`` bytes, -1 if unknown) begins; returns its
        ``Transfer``. With ``queued`` one queued transfer, if any, becomes this one.
        ``src_fs``/``dst_fs`` only appear in ``stats_json``."""
        with self._lock:
            now = self._clock()
            if queued:
                self._take_queued(size)
            tr = Transfer(self, name, size, now, src_fs, dst_fs)
            self._transferring[tr] = None
            self._avg.start(now)
        return tr

    def file_copied(self, tr: Transfer, size: int, nbytes: int) -> None:
        """One queued file of ``size`` bytes (as listed) was copied, ``nbytes`` read, under
        the batch's transfer ``tr`` (see :meth:`Transfer.show`): dequeued and counted as a
        completed transfer, as ``start_transfer``, ``add`` and ``done`` would count it."""
        with self._lock:
            self._take_queued(size)
            tr._bytes = nbytes
            self._bytes += nbytes
            self._transfers += 1

    def _take_queued(self, size: int) -> None:
        """One queued transfer of ``size`` bytes, if any, starts (lock held)."""
        if self._transfer_queue > 0:
            self._transfer_queue -= 1
            self._transfer_queue_size = max(0, self._transfer_queue_size - max(size, 0))

    def transfer_done(self, tr: Transfer, error: BaseException | None = None) -> None:
        """Same as ``tr.done(error)``."""
        self._finish_transfer(tr, error)

    def _finish_transfer(self, tr: Transfer, error: BaseException | None, *,
                         counted: bool = True) -> None:
        with self._lock:
            if tr._finished:
                return
            tr._finished = True
            now = self._clock()
            if error is not None:
                self._count_error(error)
            if tr in self._transferring:
                del self._transferring[tr]
                if error is None and counted:
                    self._transfers += 1
            self._retire_range(tr.started, now)
            if not self._transferring and not self._checking:
                self._avg.stop(now, self._bytes - self._bytes_no_network)

    def dry_run_transfer(self, name: str, size: int) -> None:
        """Account a transfer skipped by ``--dry-run`` as rclone does: a completed transfer
        of ``size`` bytes."""
        tr = self.start_transfer(name, size)
        tr.add(max(size, 0))
        tr.done(None)

    def add_bytes(self, n: int, *, network: bool = True) -> None:
        """Count ``n`` transferred bytes not tied to a ``Transfer``; ``network=False`` keeps
        them out of the speed (rclone's ``BytesNoNetwork``)."""
        with self._lock:
            self._bytes += n
            if not network:
                self._bytes_no_network += n

    def server_side_copy(self, size: int, *, checking: bool = False) -> None:
        """Count a server-side copy of ``size`` bytes; its bytes count as transferred (not
        in the speed) unless done inside a check. Do not also ``add()`` them."""
        with self._lock:
            self._ssc += 1
            self._ssc_bytes += size
            if not checking:
                self._bytes += size
                self._bytes_no_network += size

    def server_side_move(self, size: int, *, checking: bool = False) -> None:
        """Count a server-side move of ``size`` bytes; ``checking=True`` for the moves of
        ``--track-renames``, whose bytes rclone does not count as transferred."""
        with self._lock:
            self._ssm += 1
            self._ssm_bytes += size
            if not checking:
                self._bytes += size
                self._bytes_no_network += size

    # ----- deletes and renames -------------------------------------------------------------

    def deleted(self, size: int, *, max_delete: int = -1, max_delete_size: int = -1) -> None:
        """Count a deleted file of ``size`` bytes (``Deleted: ... (freed)``). Given limits
        (``--max-delete``, ``--max-delete-size``; -1 is off) are checked atomically: over
        them nothing is counted and ``MaxDeleteError`` is raised, as rclone's
        ``DeleteFile`` does."""
        size = max(size, 0)
        with self._lock:
            if max_delete >= 0 and self._deletes + 1 > max_delete:
                raise MaxDeleteError("--max-delete threshold reached")
            if max_delete_size >= 0 and self._deletes_size + size > max_delete_size:
                raise MaxDeleteError("--max-delete-size threshold reached")
            self._deletes += 1
            self._deletes_size += size

    def deleted_dir(self, n: int = 1) -> None:
        """Count ``n`` removed directories."""
        with self._lock:
            self._deleted_dirs += n

    def renamed(self, n: int = 1) -> None:
        """Count ``n`` renames (``--track-renames``)."""
        with self._lock:
            self._renames += n

    # ----- errors --------------------------------------------------------------------------

    def error(self, err: BaseException | None) -> bool:
        """Count ``err`` once (an exception already counted is ignored, as rclone's
        ``IsCounted``), remember it as the last error and record its retry class (see
        ``classify_error``). Returns True if it was counted now."""
        if err is None:
            return False
        with self._lock:
            return self._count_error(err)

    def _count_error(self, err: BaseException) -> bool:
        if getattr(err, _COUNTED, False):
            return False
        try:
            setattr(err, _COUNTED, True)
        except (AttributeError, TypeError):
            pass
        self._errors += 1
        self._last_error = err
        kind = classify_error(err)
        if kind == "fatal":
            self._fatal_error = True
        elif kind == "retry":
            self._retry_error = True
            when = _retry_after(err)
            if when is not None and when > self._retry_after:
                self._retry_after = when
        return True

    def reset_errors(self) -> None:
        """Forget errors, last error and retry classes before another attempt."""
        with self._lock:
            self._zero_errors()

    def reset_counters(self) -> None:
        """Reset every counter and the start time (rclone's ``ResetCounters``)."""
        with self._lock:
            self._zero(self._clock())

    @property
    def errors(self) -> int:
        """Errors counted in this attempt (also callable: ``stats.errors()``)."""
        return _Count(self._errors)

    @property
    def errored(self) -> bool:
        """True if any error was counted (rclone's ``Errored``)."""
        return self._errors != 0

    @property
    def fatal(self) -> bool:
        """True if a fatal error was counted (rclone's ``HadFatalError``)."""
        return self._fatal_error

    @property
    def retryable(self) -> bool:
        """True if at least one retryable error was counted (rclone's ``HadRetryError``)."""
        return self._retry_error

    @property
    def should_retry(self) -> bool:
        """rclone's decision to run another attempt: errors, none fatal, one retryable."""
        with self._lock:
            return self._errors != 0 and not self._fatal_error and self._retry_error

    @property
    def retry_after(self) -> float | None:
        """The latest ``retry_after`` (epoch seconds) of the counted errors, if any."""
        return self._retry_after or None

    @property
    def last_error(self) -> BaseException | None:
        """The last error counted, None after ``reset_errors``."""
        return self._last_error

    # ----- reading -----------------------------------------------------------------------

    @property
    def transfers(self) -> int:
        """Completed transfers (also callable: ``stats.transfers()``)."""
        return _Count(self._transfers)

    @property
    def checks(self) -> int:
        """Completed checks."""
        return self._checks

    @property
    def deletes(self) -> int:
        """Deleted files."""
        return self._deletes

    def get_bytes(self) -> int:
        """Bytes transferred so far (rclone's ``GetBytes``, used for ``--max-transfer``)."""
        return self._bytes

    def bytes_total(self) -> int:
        """Same as ``get_bytes``."""
        return self._bytes

    def bytes_with_pending(self) -> int:
        """Bytes so far plus what the active transfers still have to read
        (rclone's ``GetBytesWithPending``, used by ``--cutoff-mode cautious``)."""
        with self._lock:
            pending = sum(t.size - t._bytes for t in self._transferring
                          if t._bytes < t.size)
            return self._bytes + pending

    def elapsed(self) -> float:
        """Seconds since the stats were created or reset."""
        return self._clock() - self._start

    def _retire_range(self, start: float, end: float) -> None:
        """Move a finished transfer's time range into the merged history (lock held)."""
        self._old_ranges = _merge([*self._old_ranges, (start, end)])
        cutoff = end
        for t in self._transferring:
            cutoff = min(cutoff, t.started)
        for items in self._checking.values():
            for c in items:
                cutoff = min(cutoff, c.started)
        kept = []
        for r in self._old_ranges:
            if cutoff < r[0] or cutoff < r[1]:
                kept.append(r)
            else:
                self._old_duration += r[1] - r[0]
        self._old_ranges = kept

    def snapshot(self) -> StatsSnapshot:
        """An immutable copy of every counter, with rclone's totals, speeds and ETA."""
        with self._lock:
            now = self._clock()
            self._avg.advance(now, self._bytes - self._bytes_no_network)
            active = sorted(self._transferring, key=lambda t: (t.started, t.name))
            transferring = []
            done_bytes = size_bytes = 0
            for t in active:
                t._ewma.advance(now, t._bytes)
                b = t._bytes
                if t.size >= 0 and b >= 0:
                    done_bytes += b
                    size_bytes += t.size
                if b:
                    span = now - t.started
                    speed = b / span if span > 0 else 0.0
                    current = t._ewma.speed
                else:
                    speed = current = 0.0
                transferring.append(TransferStat(t.name, t.size, b, speed, current,
                                                 t.started, t.src_fs, t.dst_fs))
            checking = sorted((c for items in self._checking.values() for c in items),
                              key=lambda c: (c.started, c.name))
            ranges = list(self._old_ranges)
            ranges.extend((t.started, now) for t in active)
            ranges.extend((c.started, now) for c in checking)
            transfer_time = self._old_duration + sum(e - s for s, e in _merge(ranges))
            last = self._last_error
            return StatsSnapshot(
                bytes=self._bytes,
                total_bytes=self._transfer_queue_size + self._bytes + size_bytes - done_bytes,
                speed=self._avg.speed,
                errors=self._errors,
                last_error=None if last is None else str(last),
                fatal_error=self._fatal_error,
                retry_error=self._retry_error,
                checks=self._checks,
                total_checks=self._check_queue + self._checks + len(checking),
                transfers=self._transfers,
                total_transfers=self._transfer_queue + self._transfers + len(active),
                listed=self._listed,
                renames=self._renames,
                deletes=self._deletes,
                deletes_size=self._deletes_size,
                deleted_dirs=self._deleted_dirs,
                skipped_changing=self._skipped_changing,
                server_side_copies=self._ssc,
                server_side_copy_bytes=self._ssc_bytes,
                server_side_moves=self._ssm,
                server_side_move_bytes=self._ssm_bytes,
                check_queue=self._check_queue,
                transfer_queue=self._transfer_queue,
                transfer_time=transfer_time,
                elapsed_ns=max(0, round((now - self._start) * 1e9)),
                transferring=tuple(transferring),
                checking=tuple(checking),
                group=self.group,
            )

    def __str__(self) -> str:
        return format_stats_block(self.snapshot())


def _merge(ranges: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of time ranges as sorted, non-overlapping ranges (touching ones joined)."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


# --------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------


def _transferred_fields(s: StatsSnapshot, bits: bool) -> str:
    return (f"{format_bytes(s.bytes):>13} / {format_bytes(s.total_bytes)}, "
            f"{percent(s.bytes, s.total_bytes)}, {format_rate(s.speed, bits=bits)}, "
            f"ETA {eta_string(s.bytes, s.total_bytes, s.speed)}")


def format_transfer_line(t: TransferStat, *, bits: bool = False,
                         file_name_length: int = STATS_FILE_NAME_LENGTH) -> str:
    """One ``Transferring:`` entry without the `` * `` prefix, rclone's ``Account.String``:
    ``<name right-aligned, middle elided>:<pct:3>% / <size>, <current speed>, <eta>``
    where the ETA is Go's duration (``1m5s``, ``0s``) or ``-``."""
    secs = t.eta
    etas = "-" if secs is None else format_go_duration(secs * SECOND)
    return (f"{_pad(shorten_name(t.name, file_name_length), file_name_length)}:"
            f"{t.percentage:3d}% / {format_bytes(t.size)}, "
            f"{format_rate(t.speed_avg, bits=bits)}, {etas}")


def format_stats_block(s: StatsSnapshot, *, bits: bool = False,
                       file_name_length: int = STATS_FILE_NAME_LENGTH) -> str:
    """rclone's multi-line ``StatsInfo.String()``, leading and trailing newline included.

    Only non-zero lines appear (``Errors:``, ``Checks:``, ``Deleted:``, ``Renamed:``,
    ``Transferred:`` counts, server-side lines), then ``Elapsed time:`` and the
    ``Checking:``/``Transferring:`` lists. ``bits`` is ``--stats-unit bits``.
    """
    out = ["\nTransferred:   \t", _transferred_fields(s, bits), "\n"]
    if s.errors != 0:
        if s.fatal_error:
            detail = " (fatal error encountered)"
        elif s.retry_error:
            detail = " (retrying may help)"
        else:
            detail = " (no need to retry)"
        out.append(f"Errors:        {s.errors:10d}{detail}\n")
    if s.checks != 0 or s.total_checks != 0 or s.listed != 0:
        out.append(f"Checks:        {s.checks:10d} / {s.total_checks}, "
                   f"{percent(s.checks, s.total_checks)}, Listed {s.listed}\n")
    if s.deletes != 0 or s.deleted_dirs != 0:
        out.append(f"Deleted:       {s.deletes:10d} (files), {s.deleted_dirs} (dirs), "
                   f"{format_bytes(s.deletes_size)} (freed)\n")
    if s.renames != 0:
        out.append(f"Renamed:       {s.renames:10d}\n")
    if s.skipped_changing != 0:
        out.append(f"Skipped:       {s.skipped_changing:10d} (changing, left for a later run)\n")
    if s.transfers != 0 or s.total_transfers != 0:
        out.append(f"Transferred:   {s.transfers:10d} / {s.total_transfers}, "
                   f"{percent(s.transfers, s.total_transfers)}\n")
    if s.server_side_copies != 0 or s.server_side_copy_bytes != 0:
        out.append(f"Server Side Copies:{s.server_side_copies:6d} @ "
                   f"{format_bytes(s.server_side_copy_bytes)}\n")
    if s.server_side_moves != 0 or s.server_side_move_bytes != 0:
        out.append(f"Server Side Moves:{s.server_side_moves:7d} @ "
                   f"{format_bytes(s.server_side_move_bytes)}\n")
    out.append(f"Elapsed time:  {format_elapsed_ns(s.elapsed_ns)[:-1]:>10}s\n")
    if s.checking:
        busy = {t.name for t in s.transferring}
        lines = [" * " + _pad(shorten_name(c.name, file_name_length), file_name_length)
                 + ": " + (c.what or "checking") for c in s.checking if c.name not in busy]
        out.append("Checking:\n" + "\n".join(lines) + "\n")
    if s.transferring:
        lines = [" * " + format_transfer_line(t, bits=bits, file_name_length=file_name_length)
                 for t in s.transferring]
        out.append("Transferring:\n" + "\n".join(lines) + "\n")
    return "".join(out)


def format_stats_one_line(s: StatsSnapshot, *, bits: bool = False,
                          date_prefix: str = "") -> str:
    """rclone's ``--stats-one-line`` form, e.g. ``     1.015 MiB / 1.717 MiB, 59%, 0 B/s,
    ETA - (xfr#3/6)``; the ``(xfr#…, chk#…)`` part only while work is queued.
    ``date_prefix`` is the formatted ``--stats-one-line-date`` prefix with its separator."""
    parts = []
    if s.total_transfers > 0 and s.transfer_queue > 0:
        parts.append(f"xfr#{s.transfers}/{s.total_transfers}")
    if s.total_checks > 0 and s.check_queue > 0:
        parts.append(f"chk#{s.checks}/{s.total_checks}")
    tail = f" ({', '.join(parts)})" if parts else ""
    return date_prefix + _transferred_fields(s, bits) + tail


def progress_lines(s: StatsSnapshot, width: int = 80, *, bits: bool = False,
                   file_name_length: int = STATS_FILE_NAME_LENGTH) -> list[str]:
    """The lines ``--progress`` redraws (``cmd/progress.go``): the stats block trimmed of
    surrounding white space, each line cut to ``width`` bytes as rclone cuts them."""
    text = format_stats_block(s, bits=bits, file_name_length=file_name_length).strip()
    lines = []
    for line in text.split("\n"):
        raw = line.encode("utf-8", "surrogateescape")
        if len(raw) > width:
            line = raw[:max(width, 0)].decode("utf-8", "surrogateescape")
        lines.append(line)
    return lines


def stats_json(s: StatsSnapshot, *, short: bool = False) -> dict[str, Any]:
    """rclone's ``core/stats`` (and ``--use-json-log`` ``stats``) object, keys sorted.

    ``eta`` is whole seconds or None; ``checking``/``transferring`` only when something
    is active (never with ``short``); ``lastError`` only when errors were counted.
    """
    out: dict[str, Any] = {
        "bytes": s.bytes,
        "checks": s.checks,
        "deletedDirs": s.deleted_dirs,
        "deletes": s.deletes,
        "elapsedTime": s.elapsed_ns / 1e9,
        "errors": s.errors,
        "eta": s.eta,
        "fatalError": s.fatal_error,
        "listed": s.listed,
        "renames": s.renames,
        "retryError": s.retry_error,
        "serverSideCopies": s.server_side_copies,
        "serverSideCopyBytes": s.server_side_copy_bytes,
        "serverSideMoveBytes": s.server_side_move_bytes,
        "serverSideMoves": s.server_side_moves,
        "speed": s.speed,
        "totalBytes": s.total_bytes,
        "totalChecks": s.total_checks,
        "totalTransfers": s.total_transfers,
        "transferTime": s.transfer_time,
        "transfers": s.transfers,
    }
    if s.skipped_changing > 0:  # pysync's own field, only when --skip-changing skipped files
        out["skippedChanging"] = s.skipped_changing
    if s.errors > 0:
        out["lastError"] = s.last_error if s.last_error is not None else ""
    if not short and s.checking:
        out["checking"] = [c.name for c in s.checking]
    if not short and s.transferring:
        items = []
        for t in s.transferring:
            item: dict[str, Any] = {
                "bytes": t.bytes,
                "eta": t.eta,
                "group": s.group,
                "name": t.name,
                "percentage": t.percentage,
                "size": t.size,
                "speed": t.speed,
                "speedAvg": t.speed_avg,
            }
            if t.dst_fs is not None:
                item["dstFs"] = t.dst_fs
            if t.src_fs is not None:
                item["srcFs"] = t.src_fs
            items.append(dict(sorted(item.items())))
        out["transferring"] = items
    return dict(sorted(out.items()))
