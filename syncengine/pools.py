"""The thread pools of a run: a bounded-backlog pool whose ``wait`` joins all submitted work."""

from __future__ import annotations

import threading
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["Pool"]


class Pool:
    """A thread pool with a bounded backlog; ``wait`` joins everything submitted so far.

    ``submit`` blocks while ``backlog`` tasks are queued or running (the march cannot run
    far ahead of the copies); an exception raised by a task is raised again by ``wait``."""

    def __init__(self, workers: int, name: str, backlog: int) -> None:
        self._workers = max(1, workers)
        self._name = name
        # made on the first task: a run with nothing to copy (a no-op sync) does not import
        # concurrent.futures (and through it logging, a tenth of its start-up)
        self._ex: ThreadPoolExecutor | None = None
        self._sem = threading.BoundedSemaphore(backlog)
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._shut = False

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the pool (waits for room in the backlog first)."""
        self._sem.acquire()

        def run() -> None:
            try:
                fn()
            finally:
                self._sem.release()

        fut = (self._ex or self._executor()).submit(run)
        with self._lock:
            self._pending.add(fut)
        fut.add_done_callback(self._done)

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._ex is None:
                if self._shut:
                    raise RuntimeError("cannot schedule new futures after shutdown")
                from concurrent.futures import ThreadPoolExecutor

                self._ex = ThreadPoolExecutor(max_workers=self._workers,
                                              thread_name_prefix=self._name)
            return self._ex

    def _done(self, fut: Future[None]) -> None:
        with self._lock:
            self._pending.discard(fut)

    def wait(self) -> None:
        """Return when everything submitted so far (and what it submitted) has run."""
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for fut in pending:
                fut.result()

    def shutdown(self, drop: bool = True) -> None:
        """Stop the threads once the running tasks end; tasks not yet started are dropped
        (``drop=False``: run first)."""
        with self._lock:
            ex, self._shut = self._ex, True
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=drop)
