"""The thread pools of a run: a bounded-backlog pool whose ``wait`` joins all submitted work."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["Pool"]


class Pool:
    """A thread pool with a bounded backlog; ``wait`` joins everything submitted so far.

    ``submit`` blocks while ``backlog`` tasks are queued or running (the march cannot run
    far ahead of the copies); an exception raised by a task is raised again by ``wait``."""

    def __init__(self, workers: int, name: str, backlog: int) -> None:
        self._ex = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self._sem = threading.BoundedSemaphore(backlog)
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the pool (waits for room in the backlog first)."""
        self._sem.acquire()

        def run() -> None:
            try:
                fn()
            finally:
                self._sem.release()

        fut = self._ex.submit(run)
        with self._lock:
            self._pending.add(fut)
        fut.add_done_callback(self._done)

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
        self._ex.shutdown(wait=True, cancel_futures=drop)
