"""The small-file lane: one thread that runs batches of work one after the other, handed
over per batch (not per file) with a bounded backlog and no future per task."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

__all__ = ["Lane"]


class Lane:
    """One worker thread taking whole batches (callables) in order.

    Built for the new small files of a local copy: a batch is copied from open to rename by
    this one thread, so the files of a batch cost no hand-off between threads and the copies
    do not fight each other for the GIL at every system call (which a pool of threads copying
    small files does: about a hundred futex calls per file). Big files stay on the pool.

    ``submit`` waits while ``backlog`` batches are queued (the march cannot run far ahead:
    memory stays bounded); once full, the submitter is woken when half the backlog has been
    taken, not at every batch. The thread starts with the first batch. An exception raised by
    a batch is kept and raised again by ``wait`` (the batches after it still run).
    """

    def __init__(self, name: str = "lane", backlog: int = 64) -> None:
        self._name = name
        self._backlog = max(1, backlog)
        self._low = self._backlog // 2
        self._jobs: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._running = False  # a batch is being run
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._full = False  # a submitter waits for room

    def submit(self, fn: Callable[[], None]) -> None:
        """Queue the batch ``fn`` (waits for room first). Dropped after ``shutdown``."""
        with self._cond:
            while len(self._jobs) >= self._backlog and not self._closed:
                self._full = True
                self._cond.wait()
            if self._closed:
                return
            self._jobs.append(fn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif len(self._jobs) == 1 and not self._running:
                self._cond.notify_all()  # the worker is idle: wake it

    def _run(self) -> None:
        cond = self._cond
        jobs = self._jobs
        while True:
            with cond:
                while not jobs and not self._closed:
                    cond.notify_all()  # idle: a ``wait`` may return
                    cond.wait()
                if not jobs:
                    return
                fn = jobs.popleft()
                self._running = True
                if self._full and len(jobs) <= self._low:
                    self._full = False
                    cond.notify_all()  # room for the submitter
            try:
                fn()
            except BaseException as err:  # kept for wait(); the lane goes on
                with cond:
                    if self._error is None:
                        self._error = err
            finally:
                with cond:
                    self._running = False

    def wait(self) -> None:
        """Return when every batch submitted so far has run; raise the first batch error."""
        with self._cond:
            while (self._jobs or self._running) and self._thread is not None \
                    and self._thread.is_alive():
                self._cond.wait()
            err, self._error = self._error, None
        if err is not None:
            raise err

    def shutdown(self) -> None:
        """Stop the thread after the batch it runs; queued batches are dropped."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
