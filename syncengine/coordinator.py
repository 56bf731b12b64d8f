"""The coordinator of one attempt: takes the planner's actions, admits them, hands the copies
to the executor, and keeps what needs the whole run's view (errors, budgets, deletions,
directory times).

    Planner ──actions──► Coordinator ──copies──► Copier (this process's threads, or an
                          │                      executor's workers)
                          ├── Deleter (deletions, --max-delete, backups)
                          └── directory times, empty directories, retries' error list

Admission is where ``--dry-run``, ``--max-duration``, ``--max-transfer`` and the backup of
a file being replaced are decided, at the moment a copy would start. Deletions wait for the
delete mode: during the march, in a pass before it, or (the default) after every transfer
reported, and never after an error (rclone's "not deleting files as there were IO errors").
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import partial

from . import interactive, interrupt, log, malloc, metadata, smallcopy
from .accounting import Stats
from .actions import Action, Copy, Delete, Mkdir, Replace, SetDirTime, SetMtime, copy_action
from .backends.base import Backend, Entry
from .compare import Comparer, common_hash
from .deleter import Deleter
from .errors import MaxDurationError, MaxTransferError, PysyncError, SourceChangedError
from .execute import Copier
from .filter import Filter
from .lane import Lane
from .options import SyncOptions
from .ordering import parse_order_by
from .planner import LEAN_BATCH, LEAN_DOWN_BATCH, Planner, rename_strategy
from .pools import Pool
from .record import record, replace
from .report import ERROR as REPORT_ERROR
from .report import SyncReport
from .transfer import Transferer
from .units import format_size_short

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .events import EventCallback
    from .executors import Executor
    from .transfer import Meter

__all__ = ["Coordinator", "FileError", "ERROR_NOT_DELETING", "ERROR_NOT_DELETING_DIRS"]

ERROR_NOT_DELETING = "not deleting files as there were IO errors"
ERROR_NOT_DELETING_DIRS = "not deleting directories as there were IO errors"


@record(frozen=True)
class FileError:
    """One error of a run: the path it concerns ("" for the run) and the exception."""

    path: str
    error: BaseException

    def __str__(self) -> str:
        return f"{self.path}: {self.error}" if self.path else str(self.error)


class Coordinator:
    """One attempt of a copy or sync (``--retries`` runs several): ``run`` it, then read
    ``errors``, ``fatal``, ``transfers``, ``deletes`` and ``skipped_changing``.

    ``sink`` (plan mode, with --dry-run options): every action is handed to it instead of
    being carried out, and directory times are left out."""

    def __init__(self, *, mode: str, src: Backend, dst: Backend, filt: Filter,
                 opts: SyncOptions, stats: Stats, backup: Backend | None,
                 deadline: float | None, bucket: Meter | None,
                 executor: Executor | None = None, on_event: EventCallback | None = None,
                 sink: Callable[[Action], None] | None = None,
                 cancel: threading.Event | None = None, report: SyncReport | None = None,
                 compare_dest: tuple[Backend, ...] = ()) -> None:
        self.mode = mode
        self.sync = mode == "sync"
        self.src = src
        self.dst = dst
        self.opts = opts
        self.stats = stats
        self.backup = backup
        self.deadline = deadline
        self.errors: list[FileError] = []
        self.skipped_changing: list[str] = []
        self._lock = threading.Lock()
        self.cancel = cancel if cancel is not None else threading.Event()
        self.fatal: BaseException | None = None
        self.delete_mode = ("before" if opts.delete_before else
                            "during" if opts.delete_during else "after")
        kind = common_hash(src, dst)
        self.transferer = Transferer(src, dst, opts, stats, kind if not opts.ignore_checksum
                                     else None, bucket, self.cancel)
        # rclone sets no directory time where its backend cannot (smb: "dir_set_mtime")
        self.set_dir_times = (not opts.no_update_dir_modtime and dst.features.can_set_mtime
                              and dst.features.extra.get("dir_set_mtime", True) is not False)
        # plan(): the actions are handed to ``sink`` instead of being carried out
        self.sink = sink
        if sink is not None:
            self.set_dir_times = False  # directory times are the coordinator's, not actions
        self.dir_time_errors: list[tuple[str, BaseException]] = []
        # --copy-dest: a copier from each copy-dest directory (made when first needed)
        self._cd_copiers: dict[int, Copier] = {}
        self._cd_failure = threading.local()
        self.transfers = 0
        self.dir_objects = getattr(dst, "mkdir_metadata", None) is not None
        # -M between two backends with directory metadata (local): directories get the
        # source's metadata where they would get its time (rclone's setDirMetadata)
        self.dir_meta = (opts.metadata and metadata.reads(src) and metadata.writes(dst)
                         and self.dir_objects)
        # --max-transfer with --cutoff-mode soft/cautious: rclone stops the march and starts
        # no new transfer (those running finish), once, with a NOTICE
        self.stopping = threading.Event()
        # remote executor: batches go to its workers; None: this process copies
        self.executor = executor if executor is not None and executor.remote else None
        self.copier = Copier(opts=opts, stats=stats, transferer=self.transferer,
                             cancel=self.cancel, failed=self._copy_failed,
                             executor=self.executor, on_event=on_event)
        self.planner = Planner(sync=self.sync, src=src, dst=dst, filt=filt, opts=opts,
                               stats=stats, comparer=Comparer(src, dst, opts), sink=self,
                               error=self.error, cancel=self.cancel, stopping=self.stopping,
                               set_dir_times=self.set_dir_times,
                               partials=self.transferer.partial_ok, report=report,
                               compare_dest=compare_dest, plan_only=sink is not None)
        self.planner.dir_meta = self.dir_meta
        self.report = self.planner.report
        self.deleter = Deleter(src=src, dst=dst, backup=backup, filt=filt, opts=opts,
                               stats=stats, error=self.error, cancel=self.cancel,
                               include_all_dst=self.planner.include_all_dst, sink=sink,
                               report=self.planner.report)
        # --check-first: the transfers the checks decide wait here until all checks are
        # done, then start in --order-by's order
        self.deferred: list[Copy | Replace] | None = (
            [] if opts.check_first and sink is None else None)
        self.order = parse_order_by(opts.order_by)
        self._transfers: Pool | None = None
        self._lane: Lane | None = None
        self._lean = False  # new small files are copied the lean way (smallcopy)
        self._lean_down = False  # ... or, from an SMB share, its lean download
        self._checkers: Pool | None = None

    @property
    def deletes(self) -> int:
        """Files deleted (or moved to the backup) by this attempt."""
        return self.deleter.deletes

    # ----- errors ------------------------------------------------------------------------

    def error(self, path: str, err: BaseException, *, log_it: str | None = None,
              cancel: bool = True) -> None:
        """Count an error against the run, log it, and stop everything if it is fatal
        (``cancel=False``: count a fatal error now, stop the run later)."""
        if log_it is not None:
            log.error(path or None, log_it)
        with self._lock:
            self.errors.append(FileError(path, err))
        self.stats.error(err)
        if cancel and getattr(err, "fatal", False) and self.fatal is None:
            self.fatal = err
            log.error(None, f"Cancelling sync due to fatal error: {err}")
            self.cancel.set()
            if self.executor is not None:
                self.executor.stop()  # batches queued on the workers copy nothing

    def _sync_errors(self) -> bool:
        """Errors that rclone's sync itself returns (its processError's); not those only
        counted in its statistics (``stats_only``: a local listing's error of one entry,
        -L's link to nothing), after which rclone's sync goes on as if none had been."""
        return any(not getattr(e.error, "stats_only", False) for e in self.errors)

    # ----- the planner's sink ------------------------------------------------------------

    def put(self, action: Action) -> None:
        """Take one action of the planner: queue a copy or a deletion, set a time now."""
        if isinstance(action, Delete):  # checked (--max-delete...) even in plan mode
            assert self._checkers is not None
            self._checkers.submit(lambda: self.deleter.delete(action))
        elif self.sink is not None:
            self.sink(action)
        elif isinstance(action, (Copy, Replace)):
            malloc.tune_once()
            self._queue_transfer(action)
        elif isinstance(action, SetMtime):
            self._set_mtime(action)
        elif isinstance(action, SetDirTime):
            # rclone's march copies a directory's metadata only with --create-empty-src-dirs
            self._set_dir_time(action.path, action.mtime_ns, existed=action.existed,
                               meta=self.dir_meta and self.opts.create_empty_src_dirs)
        else:
            raise TypeError(f"the coordinator does not take {action!r} here")

    def put_batch(self, batch: list[Copy]) -> None:
        """New small files of one directory: one task copies them one after the other, the
        lean way when it applies (:mod:`smallcopy`, on a small-file lane thread), else (and
        for the files the lean way hands back) through the general path."""
        if self.sink is not None:
            for a in batch:
                self.sink(a)
            return
        assert self._transfers is not None
        malloc.tune_once()
        transfers = self._transfers
        self.stats.add_total_transfer(sum(a.size for a in batch), count=len(batch))
        if self.deferred is not None:
            with self._lock:
                self.deferred.extend(batch)
            return
        if self.executor is not None and self.opts.max_transfer < 0:  # one task for the batch
            transfers.submit(lambda: self._transfer_remote(batch))
            return
        if self.executor is not None:  # --max-transfer: each file admitted when it starts
            for a in batch:
                transfers.submit(partial(self._transfer_remote, [a]))
            return

        if self._lean:
            assert self._lane is not None
            self._lane.submit(partial(self._lean_batch, batch))
            return
        if self._lean_down:  # from an SMB share: the batch's files read in one round trip
            assert self._lane is not None
            self._lane.submit(partial(self._lean_batch, batch, True))
            return

        def run() -> None:
            for a in batch:
                self._transfer(a)

        # local to local: the small-file lane, one thread from open to rename per batch
        (self._lane if self._lane is not None else transfers).submit(run)

    def _lean_batch(self, batch: list[Copy], down: bool = False) -> None:
        """A batch copied the lean way on a lane thread (:mod:`smallcopy`: ``copy_batch``,
        or ``copy_batch_down`` from an SMB share); the files it hands back take the general
        path, on the same thread, one after the other."""
        how = smallcopy.copy_batch_down if down else smallcopy.copy_batch
        rest = how(self.transferer, batch, self.stats, self.stopping.is_set)
        if len(rest) < len(batch):
            self.copier.count_done(len(batch) - len(rest))
        for a in rest:
            self._transfer(a)

    def _queue_transfer(self, action: Copy | Replace) -> None:
        self.stats.add_total_transfer(action.size)
        if self.deferred is not None:
            with self._lock:
                self.deferred.append(action)
            return
        self._submit_transfer(action)

    def _submit_transfer(self, action: Copy | Replace) -> None:
        assert self._transfers is not None
        if self.executor is not None:
            self._transfers.submit(lambda: self._transfer_remote([action]))
            return
        self._transfers.submit(lambda: self._transfer(action))

    def start_deferred(self) -> None:
        """--check-first: the checks are over; start the transfers they decided, in
        --order-by's order (as rclone's transfer workers take them from its heap)."""
        assert self.deferred is not None
        log.info(self.dst.describe(), "Checks finished, now starting transfers")
        items, self.deferred = self.deferred, []
        if self.order is not None:
            items = self.order.arrange(items, lambda a: a.source, self.opts.transfers)
        for a in items:
            self._submit_transfer(a)

    # ----- admission and copies ----------------------------------------------------------

    def _transfer(self, action: Copy | Replace) -> None:
        admitted = self._admit(action)
        if admitted is None:
            return
        replacing, dst_path, old = admitted
        self.copier.copy(action.source, dst_path, replacing, old)

    def _admit(self, action: Copy | Replace) -> tuple[bool, str, Entry | None] | None:
        """The coordinator's part before a copy: cancellation, --max-duration, --dry-run,
        the --max-transfer budget, and the backup of the file being replaced. Returns
        ``(replacing, destination path, old entry)``, or None when the file is not to be
        copied (all said and counted here)."""
        s = action.source
        d = action.old if isinstance(action, Replace) else None
        dst_path = action.dst_path
        if self.cancel.is_set() or self.stopping.is_set():
            self.stats.dequeue_transfer(s.size)
            return None
        o = self.opts
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stats.dequeue_transfer(s.size)
            self.error(s.path, MaxDurationError("max transfer duration reached as set by "
                                                "--max-duration"))
            return None
        backing_up = d is not None and (self.backup is not None or bool(o.suffix))
        moved = False
        if backing_up and o.interactive and not o.dry_run:
            # rclone moves the old file away (its own question) before it asks to copy
            if not self._backup_old(s, d):  # type: ignore[arg-type]
                return None
            moved = True
        flag = interactive.skip(o, s.path, "copy")
        if flag:  # rclone: a dry run skips the copy before any budget check
            if o.dry_run and d is not None and (self.backup is not None or o.suffix):
                self.deleter.move_to_backup(d, deleting=False)
            self._skipped_copy(s, flag)
            return None
        if o.max_transfer >= 0:
            mode = o.cutoff_mode.upper()
            so_far = (self.stats.bytes_with_pending() + s.size if mode == "CAUTIOUS"
                      else self.stats.bytes_total())
            if so_far >= o.max_transfer:
                # rclone's Copy begins the transfer, finds the budget spent (checkLimits)
                # and returns the error as it is: no "Failed to copy" line, counted when
                # the transfer ends, and once more at the end of the attempt if it is the
                # one the sync returns (rclone's cmd counts an uncounted returned error)
                err = MaxTransferError("max transfer limit reached as set by --max-transfer")
                err.counted_again = True
                if mode != "HARD":  # graceful: rclone's no-retry error
                    err.fatal = False
                self.stats.start_transfer(s.path, s.size).done(err)
                if mode == "HARD":
                    self.error(s.path, err)
                    return None
                # graceful: the first one stops the march and every transfer not yet
                # started
                self.error(s.path, err)
                with self._lock:
                    first = not self.stopping.is_set()
                    self.stopping.set()
                if first:
                    log.notice(None, f"{err} - stopping transfers")
                    if self.executor is not None:
                        self.executor.stop(running=False)  # queued batches start nothing
                return None
        replacing = d is not None
        if backing_up:
            if not moved and not self._backup_old(s, d):  # type: ignore[arg-type]
                return None
            replacing = False
            dst_path = s.path  # the old name moved away: the copy takes the source's
        return replacing, dst_path, d if replacing else None

    def _skipped_copy(self, s: Entry, flag: str) -> None:
        """rclone's SkipDestructive for a copy (--dry-run, -i's no): logged and accounted
        as the transfer it would have been."""
        log.notice(s.path, f"Skipped copy as {flag} is set (size {format_size_short(s.size)})")
        self.stats.dry_run_transfer(s.path, s.size)
        with self._lock:
            self.transfers += 1

    def _backup_old(self, s: Entry, d: Entry) -> bool:
        """Move the file a copy replaces to the backup (--backup-dir/--suffix); False
        when that failed (counted; the copy is not made)."""
        try:
            self.deleter.move_to_backup(d, deleting=False)
        except Exception as err:  # logged where it happened (rclone: no "Failed to copy")
            self.stats.dequeue_transfer(s.size)
            self.error(d.path, err)
            return False
        return True

    def copy_dest(self, s: Entry, d: Entry | None, backend: Backend, c: Entry) -> bool:
        """--copy-dest: ``c`` in copy-dest ``backend`` equals the source file ``s``; copy it
        to the destination (rclone's copyDest: the file ``d`` it replaces first moved to
        the backup, then ``operations.Copy``, server-side where the remote can). True when
        ``s`` needs no transfer any more; False when copying failed (logged and counted,
        with rclone's ``Destination found in --copy-dest, error copying``), and ``s`` is
        then copied as usual."""
        o = self.opts
        if self.sink is not None:  # plan(): the copy it would make, from the copy-dest file
            self.sink(copy_action(s, d, c.path))
            return True
        if d is not None and (self.backup is not None or bool(o.suffix)):
            try:  # (a dry run logs the move it skips)
                self.deleter.move_to_backup(d, deleting=False)
            except Exception as err:
                self.error(d.path, err)
                return False
            d = None
        flag = interactive.skip(o, c.path, "copy")
        if flag:
            self._skipped_copy(c, flag)
        else:
            copier = self._copy_dest_copier(backend)
            self._cd_failure.err = None
            self.stats.add_total_transfer(c.size)
            copier.copy(c, c.path, d is not None, d)
            if self._cd_failure.err is not None:
                log.error(s.path, "Destination found in --copy-dest, error copying")
                return False
            with self._lock:
                self.transfers += 1
        log.debug(s.path, "Destination found in --copy-dest, using server-side copy")
        return True

    def _copy_dest_copier(self, backend: Backend) -> Copier:
        """The copier from copy-dest ``backend`` to the destination (made once)."""
        with self._lock:
            copier = self._cd_copiers.get(id(backend))
            if copier is None:
                o = self.opts
                kind = common_hash(backend, self.dst)
                transferer = Transferer(backend, self.dst, o, self.stats,
                                        kind if not o.ignore_checksum else None,
                                        cancel=self.cancel)
                copier = Copier(opts=o, stats=self.stats, transferer=transferer,
                                cancel=self.cancel, failed=self._copy_dest_failed,
                                on_event=self.copier.on_event)
                self._cd_copiers[id(backend)] = copier
        return copier

    def _copy_dest_failed(self, c: Entry, err: BaseException) -> None:
        self._cd_failure.err = err  # for copy_dest(), in this thread
        self._copy_failed(c, err)

    def _copy_failed(self, s: Entry, err: BaseException) -> None:
        """Count (or, with --skip-changing, excuse) the failed copy of ``s`` and log it."""
        if isinstance(err, SourceChangedError):
            with self._lock:
                self.skipped_changing.append(s.path)
        if self.copier.skips(err):
            # --skip-changing: a live file is left for a later run, not an error
            self.stats.skipped_changing()
            log.notice(s.path, f"Skipped copy: {err} (--skip-changing: left for a later run)")
            return
        if isinstance(err, interrupt.InterruptedRunError):
            # the process is exiting on a signal: rclone says nothing of the transfers it
            # cuts short, so neither do we (the error still counts)
            self.error(s.path, err)
            return
        if self.report is not None:
            self.report.log(REPORT_ERROR, s, None)
        self.error(s.path, err, log_it=None if getattr(err, "logged", False)
                   else f"Failed to copy: {err}")
        note = getattr(err, "partial_note", None)
        if note is not None:
            log.info(*note)

    def _transfer_remote(self, items: list[Copy] | list[Copy | Replace]) -> None:
        """Admit ``items`` and copy those admitted as one batch on the remote executor."""
        batch: list[Copy | Replace] = []
        for a in items:
            admitted = self._admit(a)
            if admitted is not None:
                batch.append(copy_action(a.source, admitted[2], admitted[1]))
        if batch:
            self.copier.copy_remote(batch)

    # ----- time updates and directories --------------------------------------------------

    def _set_mtime(self, a: SetMtime) -> None:
        flag = interactive.skip(self.opts, a.path, "update modification time")
        if flag:
            log.notice(a.path, f"Skipped update modification time as {flag} is set (size "
                       f"{format_size_short(a.size)})")
            return
        done = self.copier.apply(a)
        if done is not None and done[1] is not None:
            err = done[1]
            self.error(a.dst_path, err, log_it=f"Failed to set modification time: {err}")

    def make_dir(self, action: Mkdir) -> bool | None:
        """Create an (empty source) directory, with its time where the backend keeps it
        (through the executor).

        True: made with its time; False: not made, or made without a time; None: failed
        with a counted error (or never run: the run was stopped)."""
        if self.sink is not None:
            self.sink(action)
            return False
        if self.dir_meta and action.mtime_ns:  # rclone's CopyDirMetadata of a new dir
            return self._copy_dir_metadata(action.path, action.mtime_ns, existed=False)
        flag = interactive.skip(self.opts, action.path, "make directory")
        if not flag and action.mtime_ns and self.set_dir_times:
            # rclone's MkdirModTime asks, then the MkdirMetadata or Mkdir it calls again
            flag = interactive.skip(self.opts, action.path, "make directory")
        if flag:
            log.notice(action.path, f"Skipped make directory as {flag} is set")
            return False
        if not self.set_dir_times and action.mtime_ns:
            action = replace(action, mtime_ns=0)  # made without a time
        done = self.copier.apply(action)
        if done is None:
            return None
        made, err = done
        if err is not None:
            self.error(action.path, err)  # rclone counts it and logs nothing more
            return None
        return made

    def _copy_dir_metadata(self, path: str, mtime_ns: int, *, existed: bool) -> bool | None:
        """-M: give the destination directory ``path`` its source's metadata, making it
        first when it does not exist (rclone's CopyDirMetadata). True when done; None when
        it failed (a counted error, no line of its own, as rclone's march)."""
        if self._skip_dir_metadata(path, existed):
            return False
        try:
            self._write_dir_metadata(path, mtime_ns, existed)
        except (OSError, PysyncError) as err:
            self.error(path, err)
            return None
        return True

    def _skip_dir_metadata(self, path: str, existed: bool) -> bool:
        """--dry-run, or -i answered no: rclone's notice, True."""
        flag = interactive.skip(self.opts, path or self.dst.describe(),
                                "update directory metadata")
        if not flag:
            return False
        size = _dir_size(self.dst, path) if existed else -1
        log.notice(path or self.dst.describe(),
                   f"Skipped update directory metadata as {flag} is set"
                   + (f" (size {format_size_short(size)})" if size >= 0 else ""))
        return True

    def _write_dir_metadata(self, path: str, mtime_ns: int, existed: bool) -> None:
        """Read the source directory's metadata and write it on ``path`` (made if need be);
        raises the OSError or PysyncError (worded as rclone's) that failed it."""
        source = self.planner.dir_sources.get(path, path)
        meta = metadata.dir_metadata(self.opts, self.src, self.dst,
                                     Entry(source, -1, mtime_ns, True),
                                     read=path not in self.planner.matched_dirs)
        if existed:
            try:
                self.dst.write_metadata(path, meta)  # type: ignore[attr-defined]
            except PysyncError as err:
                raise PysyncError(f"SetMetadata failed on Directory: {err}",
                                  path=path) from None
        else:
            self.dst.mkdir_metadata(path, mtime_ns, meta)  # type: ignore[attr-defined]
        log.info(path, "Updated directory metadata")

    def _set_dir_time(self, path: str, mtime_ns: int, *, existed: bool,
                      meta: bool = False) -> None:
        if meta and (path or self.opts.dry_run):  # the root only in a dry run's notice
            if self._skip_dir_metadata(path, existed):
                return
            try:
                self._write_dir_metadata(path, mtime_ns, existed)
            except (OSError, PysyncError) as err:
                self.error(path, err, log_it="Failed to update directory timestamp or "
                           f"metadata: {err}")
                with self._lock:
                    self.dir_time_errors.append((path, err))
            return
        flag = interactive.skip(self.opts, path or self.dst.describe(),
                                "set directory modification time")
        if flag:
            size = _dir_size(self.dst, path) if existed else -1
            log.notice(path or self.dst.describe(),
                       f"Skipped set directory modification time as {flag} is set"
                       + (f" (size {format_size_short(size)})" if size >= 0 else ""))
            return
        try:  # like rclone's DirSetModTime this also touches a file that is in the way
            self.dst.set_mtime(path, mtime_ns)
        except OSError as err:
            # a directory a file kept from being made (below it, or deleted as the file of
            # that name) is rclone's counted error too: the run fails or is retried
            self.error(path, err, log_it="Failed to update directory timestamp or metadata: "
                       f"{err}")
            with self._lock:
                self.dir_time_errors.append((path, err))
            return
        # rclone's directory objects have SetModTime on the local backend only (the one
        # with MkdirMetadata); elsewhere the Fs's DirSetModTime sets the time
        how = "SetModTime" if existed and self.dir_objects and \
            path not in self.planner.bare_dirs else "DirSetModTime"
        log.info(path, f"Set directory modification time (using {how})")

    def fix_dir_times(self) -> None:
        """Set the delayed directory times the planner worked out (deepest first; the root
        only under --dry-run, as rclone's Fs); their failures end in one summary error."""
        for a in self.planner.dir_times(self.opts.create_empty_src_dirs):
            self._set_dir_time(a.path, a.mtime_ns, existed=a.existed, meta=self.dir_meta)
        errs = self.dir_time_errors
        if errs:  # rclone's errcount summary, counted once more as the pass's own error
            last_path, last = errs[-1]
            text = "failed to set directory modtime: " + (
                f"{len(errs)} errors: last error: {last}" if len(errs) > 1 else str(last))
            self.error(last_path or self.dst.describe(), PysyncError(text))

    def remove_dirs(self) -> None:
        """Remove destination-only directories, deepest first, if empty; failures are quiet.
        After a counted error nothing is removed and rclone's refusal is logged."""
        if self.stats.errors() and not self.opts.ignore_errors:
            log.error(self.dst.describe(), ERROR_NOT_DELETING_DIRS)
            return
        dirs = self.planner.dirs_to_remove
        if not dirs:
            return
        from .actions import Rmdir

        for path in sorted(dirs, key=lambda p: (-p.count("/"), p)):
            if self.sink is not None:
                self.sink(Rmdir(path))
                continue
            # rclone's TryRmdir counts the directory before it tries (a dry run's, a
            # skipped one's and a non-empty one's too: s93026-c1)
            self.stats.deleted_dir()
            flag = interactive.skip(self.opts, path, "remove directory")
            if flag:
                log.notice(path, f"Skipped remove directory as {flag} is set")
                continue
            log.info(path, "Removing directory")
            try:
                self.dst.rmdir(path)
            except OSError as err:
                log.debug(path, f"Failed to Rmdir: {err}")

    # ----- --resume's partial files ------------------------------------------------------

    def remove_partial(self, path: str, what: str) -> None:
        """Remove a partial file of an earlier run (a failure is only a debug line)."""
        if self.opts.dry_run:
            log.notice(path, f"Skipped delete of {what} as --dry-run is set")
            return
        try:
            self.dst.remove(path)
            log.info(path, f"Removed {what}")
        except OSError as err:
            log.debug(path, f"Failed to remove {what}: {err}")

    def drop_unused_partials(self) -> None:
        """--resume: kept partial files that no transfer of this run took up are stale."""
        from . import resume

        used = self.transferer.partials_used
        for path in sorted(self.planner.kept_partials):
            base = path[: -len(resume.MANIFEST_SUFFIX)] if path.endswith(
                resume.MANIFEST_SUFFIX) else path
            if base not in used and self.dst.stat(path) is not None:
                self.remove_partial(path, "unused partial file of an earlier run")

    # ----- deletions ---------------------------------------------------------------------

    def delete_after(self, checkers: Pool) -> None:
        """rclone's --delete-after: only when no error has been counted (the refusal is
        logged, whether or not anything was to be deleted, and not counted again)."""
        if self.stats.errors() and not self.opts.ignore_errors:
            log.error(self.dst.describe(), ERROR_NOT_DELETING)
            if not self._sync_errors():  # rclone's deleteFiles: its refusal is its error
                self.error("", PysyncError(ERROR_NOT_DELETING))
            return
        if not self.planner.to_delete:
            return
        for a in self.planner.to_delete:
            checkers.submit(partial(self.deleter.delete, a))
        checkers.wait()
        self.deleter.finish()

    # ----- the whole attempt -------------------------------------------------------------

    def _announce(self, check_first: bool) -> None:
        """rclone's first INFO lines of a pass: ``--check-first``'s, then ``--max-duration``'s
        deadline (local time, as Go's ``2006/01/02 15:04:05``)."""
        if check_first:
            log.info(self.dst.describe(), "Running all checks before starting transfers")
        if self.deadline is not None:
            end = time.time() + (self.deadline - time.monotonic())
            log.info(self.dst.describe(), f"Transfer session {self.opts.cutoff_mode.upper()} "
                     f"deadline: {time.strftime('%Y/%m/%d %H:%M:%S', time.localtime(end))}")

    def run(self) -> None:
        """Run the attempt; errors are counted in ``self.errors``, fatal ones also raised."""
        o = self.opts
        planner = self.planner
        first = self.deferred is not None
        self._announce(first)  # rclone's newSyncCopyMove says these before its refusals
        if self.sync and o.no_traverse:
            log.error(None, "Ignoring --no-traverse with sync")
        try:
            strategy = rename_strategy(o.track_renames_strategy)
        except PysyncError as err:  # rclone: refused by every attempt
            self.error("", err)
            return
        if o.no_check_dest and (self.sync or o.immutable):
            # rclone (newSyncCopyMove): refused by every attempt (exit 1); its check for
            # --backup-dir comes before it sets its backup dir, and so never refuses
            self.error("", PysyncError(
                "can't use --no-check-dest with sync: use copy instead" if self.sync
                else "can't use --no-check-dest with --immutable"))
            return
        if o.track_renames and self.sink is None:
            planner.tracking = planner.can_track(strategy)
            planner.strategy = strategy
            if planner.tracking:
                # rclone: renames need delete-after
                self.delete_mode = planner.delete_mode = "after"
        width = o.transfers
        if self.executor is not None and o.max_transfer < 0:
            # one thread waits for each batch on the workers; with --max-transfer only
            # --transfers at once, so that the budget admits files as the threads do
            width = max(2, min(256, 2 * self.executor.slots()))
        transfers = self._transfers = Pool(width, "transfer", max(16, width * 4))
        checkers = self._checkers = Pool(o.checkers, "checker", max(64, o.checkers * 8))
        if self.executor is None and self.sink is None and self.transferer.kernel_copies \
                and not o.interactive:  # -i: questions in the march's order
            # new small files of a local copy: batches on one thread, no hand-off per file
            # and no GIL fight between copying threads at every system call
            # ... copied the lean way when nothing is to be done per file but the copy
            self._lean = (smallcopy.lean_ok(self.transferer) and not o.dry_run
                          and o.max_transfer < 0 and self.deadline is None
                          and self.copier.on_event is None and not log.debug_enabled())
            # the lean copies' cost is the kernel's (inode allocation, the journal), run
            # without the GIL: one lane thread per core, at most --transfers
            workers = min(o.transfers, os.cpu_count() or 1) if self._lean else 1
            self._lane = Lane("small-files", backlog=64, workers=workers)
            if self._lean:
                planner.batch_size = LEAN_BATCH
        elif self.executor is None and self.sink is None and not o.interactive:
            # new small files from an SMB share: a batch's files read together on one
            # connection, then written, timed and renamed on the same lane thread
            self._lean_down = (smallcopy.lean_down_ok(self.transferer) and not o.dry_run
                               and o.max_transfer < 0 and self.deadline is None
                               and self.copier.on_event is None and not log.debug_enabled())
            if self._lean_down:
                planner.batch_size = LEAN_DOWN_BATCH
                # --transfers batches side by side, each on its own connection: the
                # files' creation on the local disk (the kernel's work) runs in parallel
                self._lane = Lane("small-downloads", backlog=64, workers=o.transfers)
        landings = None
        if self.executor is None and self.sink is None and self.transferer.may_defer:
            # copies checked by a server's hash hand the check and rename on: the transfer
            # threads move the next files' data meanwhile (one check waits per transfer,
            # or as many as one of the server's hash commands takes files)
            landing = self.transferer.landings(width)
            landings = self.copier.landings = Pool(landing, "landing", landing)
        try:
            if self.sync and self.delete_mode == "before":
                planner.march(checkers=checkers, deletes_only=True)
                checkers.wait()
                if first:
                    log.info(self.dst.describe(), "Checks finished, now starting transfers")
                self.deleter.finish()
                self.remove_dirs()  # rclone's delete pass ends by removing empty dirs
                planner.dirs_to_remove = []
                # then a copy pass (rclone's DeleteModeOff): nothing more is deleted or
                # removed, and none at all after an error of the delete pass
                planner.deleting = False
                if self._sync_errors():
                    return  # rclone: a delete pass that failed ends the attempt
                self._announce(first)  # rclone: the copy pass is a syncCopyMove of its own
            planner.march(checkers=checkers)
            log.debug(self.dst.describe(), "Waiting for checks to finish")  # rclone's lines
            checkers.wait()
            if planner.tracking and not self.cancel.is_set():
                planner.track_renames()
            if first and not self.cancel.is_set():
                self.start_deferred()
            log.debug(self.dst.describe(), "Waiting for transfers to finish")
            transfers.wait()
            if landings is not None:
                landings.wait()
            if self._lane is not None:
                self._lane.wait()
            checkers.wait()
            if planner.deleting and self.delete_mode == "during":
                self.deleter.finish()
            if planner.deleting and self.delete_mode == "after":
                self.delete_after(checkers)  # logs its refusal after any error
            if planner.kept_partials and self.fatal is None:
                self.drop_unused_partials()
            if self.fatal is None:  # rclone: directory times first, then empty dirs go
                self.fix_dir_times()
            if planner.deleting:
                self.remove_dirs()  # logs its refusal after any error
        finally:
            if self.fatal is not None:
                self.cancel.set()
            transfers.shutdown()
            if landings is not None:  # written files are checked and renamed, not dropped
                landings.shutdown(drop=False)
                self.copier.landings = None
            if self._lane is not None:
                self._lane.shutdown()
            checkers.shutdown()
            self.transfers += self.copier.done
            planner.close()


def _dir_size(backend: Backend, path: str) -> int:
    """The size a directory reports (rclone shows it in dry-run notices), or -1."""
    import os

    full = getattr(backend, "full", None)
    if full is None or backend.features.name != "local":
        return -1
    try:
        return os.stat(full(path)).st_size
    except OSError:
        return -1
