"""Pooled connections for network backends: a LIFO pool with a size cap, checked out per thread.

A :class:`Pool` hands out :class:`Lease` objects. Within one thread, nested checkouts share
the thread's connection (a reference count), so a thread that holds a connection for an open
file can still ``stat`` on it; two threads never hold the same connection at the same time.
When a thread's last lease is released its connection goes back on the pool (last in, first
out, so a few connections stay warm while the oldest ones age out after ``idle_timeout``).

A lease released with ``broken=True`` (or whose ``alive`` check fails) closes its connection
instead of returning it. ``max_idle`` caps the connections kept idle; ``max_open`` (0 means
unlimited) caps the connections open at once, and a checkout then waits for one to come back.
:meth:`Pool.close` closes every idle connection at once and every leased one when it is
released; the pool stays usable and opens new connections on demand afterwards.

The pool knows nothing about what it pools: ``factory`` makes a connection, ``close`` ends
one, ``alive`` tells whether an idle one is still worth handing out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

from ..record import field, record

__all__ = ["Pool", "Lease", "PoolStats"]

T = TypeVar("T")


@record
class PoolStats:
    """Counters of a pool (a snapshot)."""

    created: int = 0
    closed: int = 0
    open: int = 0
    idle: int = 0
    leased: int = 0
    max_open_seen: int = 0


@record(eq=False)
class _Slot(Generic[T]):
    """The connection a thread holds, with the number of its unreleased leases.

    ``done`` once the last lease is released; ``retired`` when the pool was closed while it
    was leased (it is then closed on release rather than pooled).
    """

    conn: T
    refs: int = 1
    broken: bool = False
    retired: bool = False
    done: bool = False


@record(eq=False)
class _Idle(Generic[T]):
    conn: T
    since: float = field(default_factory=time.monotonic)


class Lease(Generic[T]):
    """One checkout of a pooled connection; release it exactly once (idempotent).

    Usable as a context manager: leaving the block releases the lease, as broken when the
    block raised an exception the pool's ``is_broken`` predicate accepts.
    """

    __slots__ = ("_pool", "_slot", "_released")

    def __init__(self, pool: Pool[T], slot: _Slot[T]) -> None:
        self._pool = pool
        self._slot = slot
        self._released = False

    @property
    def conn(self) -> T:
        """The leased connection."""
        return self._slot.conn

    @property
    def released(self) -> bool:
        """True once :meth:`release` has been called."""
        return self._released

    def mark_broken(self) -> None:
        """Close the connection when its last lease is released instead of pooling it."""
        self._slot.broken = True

    def release(self, *, broken: bool = False) -> None:
        """Give the connection back (closing it when ``broken``); later calls do nothing."""
        if self._released:
            return
        self._released = True
        self._pool._release(self._slot, broken)

    def __enter__(self) -> T:
        return self._slot.conn

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release(broken=exc is not None and self._pool.is_broken(exc))


class Pool(Generic[T]):
    """A LIFO pool of connections made by ``factory``; see the module docstring.

    ``factory()`` opens a connection (its exceptions propagate to the caller of
    :meth:`lease`); ``close(conn)`` ends one and must not raise for a dead connection
    (exceptions are swallowed); ``alive(conn)`` is checked before an idle connection is
    handed out; ``is_broken(exc)`` decides whether an exception escaping a ``with lease:``
    block means the connection is unusable.
    """

    def __init__(self, factory: Callable[[], T], *, close: Callable[[T], None],
                 alive: Callable[[T], bool] | None = None,
                 is_broken: Callable[[BaseException], bool] | None = None,
                 max_idle: int = 8, max_open: int = 0, idle_timeout: float = 0.0,
                 wait_timeout: float | None = None) -> None:
        self._factory = factory
        self._close = close
        self._alive = alive
        self._is_broken = is_broken
        self.max_idle = max(0, max_idle)
        self.max_open = max(0, max_open)
        self.idle_timeout = max(0.0, idle_timeout)
        self.wait_timeout = wait_timeout
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[_Idle[T]] = []
        self._local = threading.local()  # .slot: the calling thread's current slot
        self._leased: set[_Slot[T]] = set()  # slots with unreleased leases
        self._open = 0
        self._stats = PoolStats()

    # ----- checkout ---------------------------------------------------------------------

    def is_broken(self, exc: BaseException) -> bool:
        """Whether ``exc`` (escaping a lease block) means the connection must be dropped."""
        return bool(self._is_broken(exc)) if self._is_broken is not None else False

    def lease(self) -> Lease[T]:
        """A lease on this thread's connection, or on a pooled or new one.

        Blocks while ``max_open`` connections are open and none is idle; raises
        TimeoutError after ``wait_timeout`` seconds of that. Exceptions of ``factory``
        propagate.
        """
        deadline = None if self.wait_timeout is None else time.monotonic() + self.wait_timeout
        stale: list[T] = []
        mine: _Slot[T] | None = getattr(self._local, "slot", None)
        try:
            with self._cond:
                if mine is not None and not (mine.broken or mine.retired or mine.done):
                    mine.refs += 1
                    return Lease(self, mine)
                while True:
                    stale.extend(self._prune_locked())
                    while self._idle:
                        item = self._idle.pop()
                        if self._alive is None or self._alive_quiet(item.conn):
                            return self._adopt_locked(item.conn)
                        stale.append(item.conn)
                        self._open -= 1
                    if not self.max_open or self._open < self.max_open:
                        self._open += 1  # reserved; the factory runs outside the lock
                        break
                    wait = None if deadline is None else deadline - time.monotonic()
                    if wait is not None and wait <= 0:
                        raise TimeoutError(
                            f"no pooled connection free after {self.wait_timeout:g}s "
                            f"({self.max_open} open)")
                    self._cond.wait(wait)
        finally:
            self._close_all(stale)
        try:
            conn = self._factory()
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._stats.created += 1
            self._stats.max_open_seen = max(self._stats.max_open_seen, self._open)
            return self._adopt_locked(conn)

    def _adopt_locked(self, conn: T) -> Lease[T]:
        slot = _Slot(conn)
        self._local.slot = slot  # runs in the thread that asked for the lease
        self._leased.add(slot)
        return Lease(self, slot)

    def _alive_quiet(self, conn: T) -> bool:
        try:
            return bool(self._alive(conn)) if self._alive is not None else True
        except Exception:
            return False

    def _prune_locked(self) -> list[T]:
        """Idle connections older than ``idle_timeout`` (taken off the pool)."""
        if not self.idle_timeout or not self._idle:
            return []
        limit = time.monotonic() - self.idle_timeout
        old = [item for item in self._idle if item.since < limit]
        if not old:
            return []
        self._idle = [item for item in self._idle if item.since >= limit]
        self._open -= len(old)
        self._cond.notify(len(old))
        return [item.conn for item in old]

    # ----- release ----------------------------------------------------------------------

    def _release(self, slot: _Slot[T], broken: bool) -> None:
        to_close: list[T] = []
        with self._cond:
            if broken:
                slot.broken = True
            slot.refs -= 1
            if slot.refs > 0:
                return
            slot.done = True
            self._leased.discard(slot)
            if slot.broken or slot.retired or self.max_idle == 0:
                to_close.append(slot.conn)
                self._open -= 1
            else:
                self._idle.append(_Idle(slot.conn))
                while len(self._idle) > self.max_idle:
                    to_close.append(self._idle.pop(0).conn)  # the longest idle goes
                    self._open -= 1
            to_close.extend(self._prune_locked())
            self._cond.notify(max(1, len(to_close)))
        self._close_all(to_close)

    def _close_all(self, conns: list[T]) -> None:
        for conn in conns:
            try:
                self._close(conn)
            except Exception:  # closing a dead connection may fail; nothing to do about it
                pass
            with self._cond:
                self._stats.closed += 1

    # ----- the whole pool ---------------------------------------------------------------

    def close(self) -> int:
        """Close every idle connection now and every leased one on release.

        Returns the number of connections closed now. The pool remains usable.
        """
        with self._cond:
            idle = [item.conn for item in self._idle]
            self._idle.clear()
            self._open -= len(idle)
            for slot in self._leased:
                slot.retired = True  # closed on release; new checkouts get new connections
            self._cond.notify_all()
        self._close_all(idle)
        return len(idle)

    def stats(self) -> PoolStats:
        """A snapshot of the pool's counters."""
        with self._cond:
            s = self._stats
            return PoolStats(created=s.created, closed=s.closed, open=self._open,
                             idle=len(self._idle), leased=len(self._leased),
                             max_open_seen=s.max_open_seen)

    def __len__(self) -> int:
        """Connections currently open (idle plus leased)."""
        with self._cond:
            return self._open
