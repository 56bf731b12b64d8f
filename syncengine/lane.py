"""The small-file lane: threads (one by default) that run batches of work, handed over per
batch (not per file) with a bounded backlog and no future per task."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

__all__ = ["Lane"]


class Lane:
    """``workers`` threads (one by default) taking whole batches (callables) in order.

    Built for the new small files of a local copy: a batch is copied from open to rename by
    one thread, so the files of a batch cost no hand-off between threads and the copies do
    not fight each other for the GIL at every system call (which a pool of threads copying
    small files does: about a hundred futex calls per file). Big files stay on the pool.
    With more than one worker, batches run side by side (each still on one thread): what a
    small-file copy costs is mostly the kernel's (inode allocation, the journal), which runs
    without the GIL on as many cores as there are workers.

    ``submit`` waits while ``backlog`` batches are queued (the march cannot run far ahead:
    memory stays bounded); once full, the submitter is woken when half the backlog has been
    taken, not at every batch. The thread starts with the first batch. An exception raised by
    a batch is kept and raised again by ``wait`` (the batches after it still run).
    """

    def __init__(self, name: str = "lane", backlog: int = 64, workers: int = 1) -> None:
        self._name = name
        self._workers = max(1, workers)
        self._backlog = max(1, backlog)
        self._low = self._backlog // 2
        self._jobs: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._running = 0  # batches being run
        self._closed = False
        self._error: BaseException | None = None
        self._threads: list[threading.Thread] = []
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
            threads = self._threads
            if len(threads) < self._workers and len(self._jobs) > len(threads) - self._running:
                # no idle worker for this batch: start one more (up to ``workers``)
                name = self._name if not threads else f"{self._name}-{len(threads)}"
                thread = threading.Thread(target=self._run, name=name, daemon=True)
                threads.append(thread)
                thread.start()
            elif self._running < len(threads):
                self._cond.notify_all()  # a worker is idle: wake it

    def _run(self) -> None:
        cond = self._cond
        jobs = self._jobs
        while True:
            with cond:
                if not jobs and not self._closed:
                    cond.notify_all()  # idle now: a ``wait`` may return (once, not per wake-up)
                    while not jobs and not self._closed:
                        cond.wait()
                if not jobs:
                    return
                fn = jobs.popleft()
                self._running += 1
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
                    self._running -= 1

    def wait(self) -> None:
        """Return when every batch submitted so far has run; raise the first batch error."""
        with self._cond:
            while (self._jobs or self._running) and \
                    any(thread.is_alive() for thread in self._threads):
                self._cond.wait()
            err, self._error = self._error, None
        if err is not None:
            raise err

    def shutdown(self) -> None:
        """Stop the threads after the batches they run; queued batches are dropped."""
        with self._cond:
            self._closed = True
            self._jobs.clear()
            self._cond.notify_all()
            threads = list(self._threads)
        for thread in threads:
            thread.join()
