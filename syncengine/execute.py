"""The executor half of a run: copy the files the planner chose, here or on remote workers.

``Copier`` decides nothing: the coordinator (``engine``) has already compared, admitted
the file against the budgets and ``--dry-run``, and moved a replaced file to its backup. It
copies (with ``--low-level-retries`` on transient errors), accounts the bytes and the
transfer in the run's Stats, tells the event callback, and hands every failure back to the
coordinator, which counts, logs and decides what it means for the run.
"""

from __future__ import annotations

import errno
import threading

from . import interrupt, log
from .backends.base import Entry
from .errors import SourceChangedError
from .events import FAILED, FINISHED, STARTED, TransferEvent
from .interrupt import InterruptedRunError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from .accounting import Stats, Transfer
    from .actions import Copy, Replace
    from .events import EventCallback
    from .executors import Executor
    from .options import SyncOptions
    from .transfer import Transferer

__all__ = ["Copier", "NETWORK_ERRNOS"]

#: errnos of a connection that failed on the way (retried at low level, exit code 5)
NETWORK_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT,
                            errno.ECONNABORTED, errno.ECONNREFUSED, errno.EHOSTUNREACH,
                            errno.ENETUNREACH, errno.EAGAIN})


def transient(err: BaseException) -> bool:
    """True for an error another low-level try may cure (a dropped connection...)."""
    return isinstance(err, (ConnectionError, TimeoutError)) or \
        getattr(err, "errno", None) in NETWORK_ERRNOS


class Copier:
    """Copies files for one attempt: ``copy`` one in this thread, or ``copy_remote`` a
    batch on a remote ``executor`` (Dask); failures go to ``failed(source, error)``."""

    def __init__(self, *, opts: SyncOptions, stats: Stats, transferer: Transferer,
                 cancel: threading.Event, failed: Callable[[Entry, BaseException], None],
                 executor: Executor | None = None, on_event: EventCallback | None = None
                 ) -> None:
        self.opts = opts
        self.stats = stats
        self.transferer = transferer
        self.cancel = cancel
        self.failed = failed
        self.executor = executor
        self.on_event = on_event
        self._lock = threading.Lock()
        self.done = 0  # files copied

    def skips(self, err: BaseException) -> bool:
        """True when ``err`` leaves the file for a later run (--skip-changing) instead of
        failing it: its transfer is discarded, not counted."""
        return self.opts.skip_changing and isinstance(err, SourceChangedError)

    def event(self, kind: str, s: Entry, nbytes: int = 0,
              err: BaseException | None = None) -> None:
        """Tell the caller's event callback, if any (its failures are logged, not raised)."""
        if self.on_event is None:
            return
        try:
            self.on_event(TransferEvent(kind, s.path, s.size, nbytes,
                                        "" if err is None else str(err)))
        except Exception as cb_err:
            log.debug(s.path, f"event callback failed: {cb_err}")

    def _finished(self, s: Entry, tr: Transfer, err: BaseException | None) -> None:
        """End ``tr`` as rclone does (a --skip-changing file is discarded), count a copy."""
        if err is not None and self.skips(err):
            tr.discard()
        else:
            tr.done(err)
        if err is None:
            with self._lock:
                self.done += 1
        self.event(FINISHED if err is None else FAILED, s, tr.bytes, err)

    # ----- in this process -------------------------------------------------------------

    def copy(self, s: Entry, dst_path: str, replacing: bool, old: Entry | None = None) -> None:
        """Copy ``s`` to ``dst_path`` here, retried up to --low-level-retries times on
        transient errors only; a failure goes to ``failed``."""
        tries = max(1, self.opts.low_level_retries)
        # one accounting Transfer for all the tries, as rclone: a retried error is not
        # counted, and the bytes of a failed try are not reported as transferred
        tr = self.stats.start_transfer(s.path, s.size)
        self.event(STARTED, s)
        failure: BaseException | None = None
        try:
            for n in range(1, tries + 1):
                try:
                    self.transferer.copy(s, dst_path, replacing=replacing, tr=tr, old=old)
                    break
                except (ConnectionError, TimeoutError, OSError) as err:
                    if not transient(err) or n == tries or self.cancel.is_set():
                        raise
                    log.debug(s.path, f"Received error: {err} - low level retry {n}/{tries}")
                    tr.restart()
        except BaseException as err:
            failure = err
            if not isinstance(err, Exception):
                raise  # KeyboardInterrupt...: accounted in finally, then on its way
        finally:
            self._finished(s, tr, failure)
        if failure is not None:
            self.failed(s, failure)

    # ----- on remote workers -----------------------------------------------------------

    def _register_partials(self, batch: Sequence[Copy | Replace]) -> list[str]:
        """The partial files the workers will write, registered as this process's own: a
        signal that ends the run removes them here, as it removes those of local copies
        (a worker on this host dies with the run; one elsewhere finds its file gone)."""
        from .resume import MIN_SIZE
        from .transfer import partial_name

        t = self.transferer
        if not t.partial_ok:
            return []
        out: list[str] = []
        try:
            for a in batch:
                if self.opts.resume and a.size >= MIN_SIZE:
                    continue  # --resume keeps it for the next run
                path = partial_name(a.dst_path, a.source, self.opts.partial_suffix)
                interrupt.open_partial(t.dst, path, lambda: None)
                out.append(path)
        except InterruptedRunError:
            for path in out:
                interrupt.release(t.dst, path)
            raise
        return out

    def copy_remote(self, batch: Sequence[Copy | Replace]) -> None:
        """Copy ``batch`` as one task of the remote executor; account, log and report each
        file's outcome here. A lost scheduler fails every file of the batch with its
        (fatal) error."""
        assert self.executor is not None
        from .executors.worker import decode_error

        try:
            partials = self._register_partials(batch)
        except InterruptedRunError as err:  # exiting on a signal: nothing new starts
            for a in batch:
                self.stats.dequeue_transfer(a.size)
                self.failed(a.source, err)
            return
        budget = -1
        o = self.opts
        if o.max_transfer >= 0 and o.cutoff_mode.upper() == "HARD":
            # what is left once the copies under way (on other workers, whose bytes this
            # one cannot see) have read theirs: the file that crosses the limit fails
            budget = max(0, o.max_transfer - self.stats.bytes_with_pending())
        trs = [self.stats.start_transfer(a.path, a.size) for a in batch]
        by_path = {a.path: tr for a, tr in zip(batch, trs, strict=True)}
        lock = threading.Lock()

        def advance(tr: Any, nbytes: int) -> None:
            """The worker has read ``nbytes`` of this file (live reports and the end)."""
            with lock:
                if nbytes > tr.bytes and not tr.finished:
                    tr.add(nbytes - tr.bytes)

        def on_bytes(path: str, nbytes: int) -> None:
            tr = by_path.get(path)
            if tr is not None:
                advance(tr, nbytes)

        for a in batch:
            self.event(STARTED, a.source)
        try:
            outcomes = self.executor.run(batch, on_bytes, budget)
        except Exception as err:  # the scheduler is lost: fatal, the run stops
            for a, tr in zip(batch, trs, strict=True):
                self._finished(a.source, tr, err)
            self.failed(Entry("", -1, 0), err)
            return
        finally:
            for path in partials:
                interrupt.release(self.transferer.dst, path)
        for a, tr, out in zip(batch, trs, outcomes, strict=True):
            if out.skipped:  # the run was cancelled before the worker started it: as a
                tr.discard()  # queued file the thread executor drops, neither done nor failed
                continue
            advance(tr, out.bytes)
            for level, obj, msg in out.logs:  # the worker's log lines, in the run's log
                log.LOGGER.log(level, msg, extra={"object": obj, "fields": {}})
            if out.partials_used:
                self.transferer.partials_used.update(out.partials_used)
            failure = None if out.ok or out.error is None else decode_error(out.error)
            self._finished(a.source, tr, failure)
            if failure is not None:
                self.failed(a.source, failure)
