"""The executor half of a run: carry out the copies, time updates and new directories the
planner chose, here or on remote workers.

``Copier`` decides nothing: the coordinator has already compared, admitted the file against
the budgets and ``--dry-run``, and moved a replaced file to its backup. It copies (with
``--low-level-retries`` on transient errors), accounts the bytes and the transfer in the
run's Stats, tells the event callback, and hands every failure back to the coordinator,
which counts, logs and decides what it means for the run. ``set_mtime`` and ``make_dir``
are the other two actions an executor carries out (``Copier.apply``: in this thread, or as
a task on a worker, which runs the same functions).
"""

from __future__ import annotations

import errno
import threading
from functools import partial

from . import interrupt, log
from .backends.base import Entry
from .errors import PysyncError, SourceChangedError
from .events import FAILED, FINISHED, STARTED, TransferEvent
from .interrupt import InterruptedRunError
from .transfer import Landing

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from .accounting import Stats, Transfer
    from .actions import Copy, Mkdir, Replace, SetMtime
    from .backends.base import Backend
    from .events import EventCallback
    from .executors import Executor
    from .options import SyncOptions
    from .pools import Pool
    from .transfer import Transferer

__all__ = ["Copier", "NETWORK_ERRNOS", "set_mtime", "make_dir"]

#: errnos of a connection that failed on the way (retried at low level, exit code 5)
NETWORK_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ETIMEDOUT,
                            errno.ECONNABORTED, errno.ECONNREFUSED, errno.EHOSTUNREACH,
                            errno.ENETUNREACH, errno.EAGAIN})


def transient(err: BaseException) -> bool:
    """True for an error another low-level try may cure (a dropped connection...)."""
    return isinstance(err, (ConnectionError, TimeoutError)) or \
        getattr(err, "errno", None) in NETWORK_ERRNOS


def set_mtime(dst: Backend, action: SetMtime) -> None:
    """Give the destination file the source's time (same contents); raises OSError."""
    dst.set_mtime(action.dst_path, action.mtime_ns)
    log.info(action.path, "Updated modification time in destination")


def make_dir(dst: Backend, action: Mkdir) -> bool:
    """Make the (empty source) directory ``action.path``, with its time ``mtime_ns`` when
    not 0, as rclone's Mkdir/MkdirMetadata log it. True: made with its time in one step
    (the local backend's MkdirMetadata); False: made (and timed apart, if asked). Raises
    the OSError or PysyncError that failed it (logged here only at debug level)."""
    path, mtime_ns = action.path, action.mtime_ns
    mkdir_metadata = getattr(dst, "mkdir_metadata", None)
    if mkdir_metadata is not None and mtime_ns > 0:
        # rclone's MkdirMetadata: whatever is at the path (even a file) is taken for the
        # new directory and gets its time; its failures are counted, not logged
        mkdir_metadata(path, mtime_ns)
        from .listing import format_time

        stamp = format_time(mtime_ns, "RFC3339Nano")
        log.info(path, f"Made directory with metadata (mtime={stamp})")
        return True
    # a backend without rclone's MkdirMetadata (sftp, smb, fsspec): rclone's Mkdir says
    # "Making directory"; with a time (MkdirModTime), DirSetModTime sets it and
    # "Made directory with modification time <Go time>" follows; no directory object
    # is returned, so the delayed time is set "(using DirSetModTime)" too
    try:
        log.info(path, "Making directory")
        dst.mkdir(path)
    except OSError as err:
        # rclone's Mkdir counts its error (a file in the way too: sftp's "is a file not
        # a directory", smb's "not a directory") and logs nothing; no delayed time
        log.debug(path, f"Failed to make directory: {err}")
        raise
    if mtime_ns > 0:
        from .units import format_go_time

        failed: OSError | None = None
        try:
            dst.set_mtime(path, mtime_ns)
        except OSError as err:
            failed = err
        log.info(path, f"Made directory with modification time {format_go_time(mtime_ns)}")
        if failed is not None:
            raise failed
    return False


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
        #: where copies hand their server-side check and rename (see :meth:`copy`); the
        #: coordinator sets it for a run whose transfers are made in this process
        self.landings: Pool | None = None

    def skips(self, err: BaseException) -> bool:
        """True when ``err`` leaves the file for a later run (--skip-changing) instead of
        failing it: its transfer is discarded, not counted."""
        return self.opts.skip_changing and isinstance(err, SourceChangedError)

    def count_done(self, n: int) -> None:
        """Count ``n`` files copied elsewhere (the lean small-file path)."""
        with self._lock:
            self.done += n

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
        transient errors only; a failure goes to ``failed``.

        With a ``landings`` pool, a copy whose check waits for a server's hash (SFTP) hands
        that check and its rename to the pool once the data is written, and this thread
        is free for the next file's data (the file is accounted and reported when landed).
        """
        # one accounting Transfer for all the tries, as rclone: a retried error is not
        # counted, and the bytes of a failed try are not reported as transferred
        tr = self.stats.start_transfer(s.path, s.size)
        self.event(STARTED, s)
        self._tries(s, dst_path, replacing, old, tr, 1, self.landings is not None)

    def _tries(self, s: Entry, dst_path: str, replacing: bool, old: Entry | None,
               tr: Transfer, first: int, defer: bool) -> None:
        """Tries ``first``.. of :meth:`copy`; ends ``tr`` unless a landing was handed on."""
        tries = max(1, self.opts.low_level_retries)
        failure: BaseException | None = None
        handed = False
        try:
            for n in range(first, tries + 1):
                try:
                    out = self.transferer.copy(s, dst_path, replacing=replacing, tr=tr,
                                               old=old, defer=defer)
                    if isinstance(out, Landing):
                        assert self.landings is not None
                        self.landings.submit(partial(self._land, out, s, dst_path, replacing,
                                                     old, tr, n))
                        handed = True
                    break
                except (ConnectionError, TimeoutError, OSError) as err:
                    if not self._retry(s, err, n, tries, tr):
                        raise
        except BaseException as err:
            failure = err
            if not isinstance(err, Exception):
                raise  # KeyboardInterrupt...: accounted in finally, then on its way
        finally:
            if not handed:
                self._finished(s, tr, failure)
        if failure is not None:
            self.failed(s, failure)

    def _retry(self, s: Entry, err: BaseException, n: int, tries: int, tr: Transfer) -> bool:
        """Whether try ``n`` of ``tries``, failed with ``err``, is tried again (logged)."""
        if not transient(err) or n == tries or self.cancel.is_set():
            return False
        log.debug(s.path, f"Received error: {err} - low level retry {n}/{tries}")
        tr.restart()
        return True

    def _land(self, landing: Landing, s: Entry, dst_path: str, replacing: bool,
              old: Entry | None, tr: Transfer, n: int) -> None:
        """On the landings pool: check and rename the file try ``n`` wrote; a transient
        failure tries again from the start, here (nothing handed on then)."""
        failure: BaseException | None = None
        try:
            landing.land()
        except (ConnectionError, TimeoutError, OSError) as err:
            if self._retry(s, err, n, max(1, self.opts.low_level_retries), tr):
                self._tries(s, dst_path, replacing, old, tr, n + 1, False)
                return
            failure = err
        except BaseException as err:
            failure = err
            if not isinstance(err, Exception):
                self._finished(s, tr, failure)
                raise
        self._finished(s, tr, failure)
        if failure is not None:
            self.failed(s, failure)

    def apply(self, action: SetMtime | Mkdir) -> tuple[bool, BaseException | None] | None:
        """Carry out a time update or a new directory, in this thread or as a task of the
        remote executor: ``(made with its time, error or None)``; None when the task was
        never run (the run was stopped first). A lost scheduler is the (fatal) error."""
        from .actions import Mkdir

        dst = self.transferer.dst
        if self.executor is None:
            try:
                if isinstance(action, Mkdir):
                    return make_dir(dst, action), None
            except (OSError, PysyncError) as err:
                return False, err
            try:
                set_mtime(dst, action)
            except OSError as err:
                return False, err
            return False, None
        from .executors.worker import decode_error

        try:
            out = self.executor.run([action])[0]
        except Exception as err:  # the scheduler is lost: fatal, the run stops
            return False, err
        if out.skipped:
            return None
        for level, obj, msg in out.logs:  # the worker's log lines, in the run's log
            log.emit(level, obj, msg)
        return out.made, None if out.ok or out.error is None else decode_error(out.error)

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
                log.emit(level, obj, msg)
            if out.partials_used:
                self.transferer.partials_used.update(out.partials_used)
            failure = None if out.ok or out.error is None else decode_error(out.error)
            self._finished(a.source, tr, failure)
            if failure is not None:
                self.failed(a.source, failure)
