"""Planning and coordination of copy and sync: march, comparisons, admission (budgets,
--dry-run, backups), deletions, directory times, retries; execute.Copier copies the files."""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from . import interrupt, log, resume
from .accounting import Stats
from .backends.base import Backend, Entry, can_move
from .compare import COPY, SET_MTIME, Comparer, common_hash
from .errors import (
    EXIT_SKIPPED_CHANGING,
    ConfigError,
    DirNotFoundError,
    FatalError,
    MaxDeleteError,
    MaxDurationError,
    MaxTransferError,
    NoRetryError,
    NoTransferError,
    PysyncError,
    SourceChangedError,
    UsageError,
)
from .execute import NETWORK_ERRNOS, Copier
from .filter import Filter
from .listing import format_time
from .march import name_key, pair_entries, sort_key
from .names import UnsafeNameError
from .options import CUTOFF_MODES, SyncOptions
from .ordering import parse_order_by
from .record import field, record, replace
from .report import DIFFER, MATCH, MISSING_ON_DST, MISSING_ON_SRC, SyncReport
from .report import ERROR as REPORT_ERROR
from .transfer import TokenBucket, Transferer, backup_path, partial_name
from .units import format_go_time, format_size_short
from .walk import list_dir_filtered

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .actions import Action, Copy, Replace
    from .events import EventCallback
    from .executors import Executor
    from .executors.worker import Location

__all__ = ["FileError", "RunResult", "run_copy", "plan_run", "exit_code_for", "refuse_run"]

ERROR_NOT_DELETING = "not deleting files as there were IO errors"
ERROR_NOT_DELETING_DIRS = "not deleting directories as there were IO errors"
ERROR_NO_MOVE = "can't use --backup-dir on a remote which doesn't support server-side move or copy"
_NETWORK_ERRNOS = NETWORK_ERRNOS


@record(frozen=True)
class FileError:
    """One error of a run: the path it concerns ("" for the run) and the exception."""

    path: str
    error: BaseException

    def __str__(self) -> str:
        return f"{self.path}: {self.error}" if self.path else str(self.error)


@record
class RunResult:
    """What a copy or sync did: final stats, every counted error, and rclone's exit code."""

    stats: Any
    errors: list[FileError] = field(default_factory=list)
    error: BaseException | None = None
    exit_code: int = 0
    attempts: int = 1
    transfers: int = 0
    deletes: int = 0
    skipped_changing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the run ended without an error."""
        return self.error is None


def exit_code_for(err: BaseException | None) -> int:
    """rclone's exit code for the error that ended a run (0 for None)."""
    if err is None:
        return 0
    if isinstance(err, PysyncError):
        return err.exit_code
    if isinstance(err, OSError) and err.errno in _NETWORK_ERRNOS:
        return 5
    return 1


_READ_AHEAD = 16  # remote directories listed ahead of the march
_SMALL_FILE = 256 * 1024  # new files below this size are sent in batches of _BATCH
_BATCH = 8


class _Pool:
    """A thread pool with a bounded backlog; ``wait`` joins everything submitted so far."""

    def __init__(self, workers: int, name: str, backlog: int) -> None:
        self._ex = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix=name)
        self._sem = threading.BoundedSemaphore(backlog)
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], None]) -> None:
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
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            for fut in pending:
                fut.result()

    def shutdown(self) -> None:
        self._ex.shutdown(wait=True, cancel_futures=True)


class _Attempt:
    """One attempt of a copy or sync (``--retries`` runs several)."""

    def __init__(self, *, mode: str, src: Backend, dst: Backend, filt: Filter,
                 opts: SyncOptions, stats: Stats, backup: Backend | None,
                 deadline: float | None, bucket: TokenBucket | None,
                 executor: Executor | None = None, on_event: EventCallback | None = None,
                 sink: Callable[[Action], None] | None = None,
                 report: SyncReport | None = None,
                 compare_dest: tuple[Backend, ...] = ()) -> None:
        self.mode = mode
        self.sync = mode == "sync"
        self.deleting = self.sync  # False in --delete-before's copy pass, as rclone's
        self.src = src
        self.dst = dst
        self.filt = filt
        self.opts = opts
        self.stats = stats
        self.backup = backup
        self.deadline = deadline
        self.errors: list[FileError] = []
        self.skipped_changing: list[str] = []
        self._lock = threading.Lock()
        self.cancel = threading.Event()
        self.fatal: BaseException | None = None
        self.delete_mode = ("before" if opts.delete_before else
                            "during" if opts.delete_during else "after")
        kind = common_hash(src, dst)
        self.comparer = Comparer(src, dst, opts)
        self.transferer = Transferer(src, dst, opts, stats, kind if not opts.ignore_checksum
                                     else None, bucket, self.cancel)
        self.to_delete: list[Entry] = []
        self.dirs_to_remove: list[str] = []
        # --resume: partial files (and manifests) of earlier runs kept for this one
        self.ours = resume.ours_pattern(opts.partial_suffix) if (
            opts.resume and self.transferer.partial_ok) else None
        self.kept_partials: set[str] = set()
        # remote listings are read ahead on threads (a round trip each); local ones are
        # faster read in line than handed between threads under the GIL
        remote = src.features.name != "local" or dst.features.name != "local"
        self._readahead = ThreadPoolExecutor(max_workers=max(1, min(8, opts.checkers)),
                                             thread_name_prefix="list") if remote else None
        self._listings: dict[tuple[str, str], Future[tuple[list[Entry], set[str]]]] = {}
        self.dir_items: list[tuple[str, int, bool]] = []  # (path, src mtime, existed on dst)
        self.modified_dirs: set[str] = set()
        self.dir_time_errors: list[tuple[str, BaseException]] = []  # of the delayed directory times
        self.src_empty_dirs: set[str] = set()
        # rclone sets no directory time where its backend cannot (smb: "dir_set_mtime")
        self.set_dir_times = (not opts.no_update_dir_modtime and dst.features.can_set_mtime
                              and dst.features.extra.get("dir_set_mtime", True) is not False)
        self.dir_window = max(opts.modify_window, dst.features.precision_ns,
                              src.features.precision_ns)
        self.deletes = 0
        self.transfers = 0
        self.normalize = not opts.no_unicode_normalization
        # --ignore-case-sync: names pair whatever their case, as on a case-insensitive disk
        self.fold = dst.features.case_insensitive or opts.ignore_case_sync
        # --fix-case: a destination name spelt otherwise than its source twin is renamed
        self.fix_case = opts.fix_case and not opts.immutable and sink is None
        self.sort_key = sort_key(self.normalize, self.fold)
        self.dir_objects = getattr(dst, "mkdir_metadata", None) is not None
        # a remote source's backslash name is refused only where the destination takes a
        # backslash for a separator (a local or fsspec disk on Windows); rclone copies it
        # verbatim, and on SMB the name encoding writes it as an ordinary "＼" (so an SMB
        # destination's own "\" names, listed from "＼", are ordinary names too)
        self.backslash_ok = os.sep == "/" or dst.features.name in ("smb", "sftp")
        self.include_all_dst = self.sync and filt.opts.delete_excluded
        self.max_depth = filt.opts.max_depth
        self.deleted_count = 0  # for --max-delete, counted before the dry-run check
        self.deleted_size = 0  # for --max-delete-size, likewise
        # failed deletions: rclone tries every one, then ends with one "failed to delete N
        # files" error (fatal, cancelling the run, if one of them was)
        self.delete_errors = 0
        self.delete_fatal = 0
        self.deletes_over = False
        # --max-transfer with --cutoff-mode soft/cautious: rclone stops the march and starts
        # no new transfer (those running finish), once, with a NOTICE
        self.stopping = threading.Event()
        # remote executor: batches go to its workers; None: this process copies
        self.executor = executor if executor is not None and executor.remote else None
        self.copier = Copier(opts=opts, stats=stats, transferer=self.transferer,
                             cancel=self.cancel, failed=self._copy_failed,
                             executor=self.executor, on_event=on_event)
        # plan(): the actions are handed to ``sink`` instead of being carried out
        self.sink = sink
        # the report files (--combined & co.): None when none was asked for
        self.report = report if report is not None and report.active else None
        # --check-first: the transfers the checks decide wait here until all checks are
        # done, then start in --order-by's order
        self.deferred: list[tuple[Entry, Entry | None, str]] | None = (
            [] if opts.check_first and sink is None else None)
        self.order = parse_order_by(opts.order_by)
        # --track-renames: source-only files wait here for a destination-only twin
        self.tracking = False
        self.rename_check: list[Entry] = []
        # --compare-dest: a file equal to its twin in one of these is not copied
        nocmp = replace(opts, ignore_existing=False, ignore_times=False, update=False)
        self.compare_dest = [(b, Comparer(src, b, nocmp)) for b in compare_dest]
        # --no-traverse (copy) and --no-check-dest (copy): the destination is not listed
        self.dst_listed = self.sync or not (opts.no_traverse or opts.no_check_dest)
        if sink is not None:
            self.set_dir_times = False  # directory times are the coordinator's, not actions

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

    # ----- march -------------------------------------------------------------------------

    def _list(self, backend: Backend, path: str, side: str, include_all: bool
              ) -> tuple[list[Entry], set[str]]:
        """The filtered listing of ``path`` and the name keys of the entries refused for
        their names (a source's refused entry keeps its destination twin out of this
        directory's deletions: --delete-during/before delete as they go)."""
        refused: set[str] = set()

        def on_unsafe(where: str, err: UnsafeNameError) -> None:
            self.error(where, err)  # counted: sync deletes nothing afterwards
            if side == "source":
                refused.add(name_key(err.name, self.normalize, self.fold))

        try:
            entries = list_dir_filtered(backend, self.filt, path, include_all=include_all,
                                        on_unsafe=on_unsafe, strict_names=side == "source",
                                        sort_key=self.sort_key,
                                        backslash_ok=self.backslash_ok and (
                                            side == "source" or backend.features.name == "smb"))
        except DirNotFoundError:
            if side == "source" or path:
                raise
            return [], refused
        self.stats.listed(len(entries))
        return entries, refused

    def _fetch(self, side: str, path: str) -> tuple[list[Entry], set[str]]:
        """The listing of ``path`` on ``side``: the one read ahead if any (its exception,
        if listing failed, is raised here as it would have been), else read now."""
        future = self._listings.pop((side, path), None)
        if future is not None:
            return future.result()
        if side == "source":
            return self._list(self.src, path, side, False)
        return self._list(self.dst, path, side, self.include_all_dst)

    def _read_ahead(self, stack: list[tuple[str, str, bool, bool, int]]) -> None:
        """Start listing the directories the march will take next (top of the stack)."""
        assert self._readahead is not None
        for spath, dpath, in_src, in_dst, _depth in stack[-_READ_AHEAD:]:
            for side, path, wanted, backend, include_all in (
                    ("source", spath, in_src, self.src, False),
                    ("destination", dpath, in_dst and self.dst_listed, self.dst,
                     self.include_all_dst)):
                if wanted and (side, path) not in self._listings:
                    self._listings[(side, path)] = self._readahead.submit(
                        self._list, backend, path, side, include_all)

    def march(self, *, transfers: _Pool, checkers: _Pool, deletes_only: bool = False) -> None:
        """Walk both trees directory by directory and dispatch each pair.

        A directory is listed at its own path on each side: names are matched after NFC
        normalisation, so the destination may spell a directory differently.
        """
        # (source dir, destination dir, listed on source, listed on destination, depth)
        stack: list[tuple[str, str, bool, bool, int]] = [("", "", True, True, 1)]
        fast_skip = self.comparer.fast_skip()
        self._listings.clear()
        while stack:
            if self.cancel.is_set() or self.stopping.is_set():
                return
            if self._readahead is not None:
                self._read_ahead(stack)
            spath, dpath, in_src, in_dst, depth = stack.pop()
            refused: set[str] = set()
            enter = True
            try:
                src_entries, refused = self._fetch("source", spath) if in_src else ([], refused)
            except DirNotFoundError as err:
                src_entries = []
                if not spath:
                    # rclone: counted (retryable), and the destination's root entries are
                    # still taken as destination-only (deleted by --delete-during/before);
                    # nothing below them is listed
                    log.error(self.src.describe(),
                              f"error reading source root directory: {err}")
                    self.error("", err)
                    in_src = enter = False
                    if self.sync and self.delete_mode != "after":
                        log.error(None, "WARNING: the source root does not exist, yet "
                                  f"--delete-{self.delete_mode} deletes the destination "
                                  "root's files as rclone does - check the source path")
            except OSError as err:
                self.error(spath, err, log_it=f"error reading source directory: {err}")
                continue
            dst_entries: list[Entry] = []
            if not self.dst_listed:
                # --no-traverse: each source file's twin looked up by name; --no-check-dest:
                # nothing (every file is new); directories are new either way (rclone)
                if self.opts.no_traverse and not self.opts.no_check_dest:
                    dst_entries = self._stat_twins(dpath, src_entries)
            elif in_dst:
                try:
                    dst_entries = self._fetch("destination", dpath)[0]
                except DirNotFoundError:
                    dst_entries = []
                except OSError as err:
                    self.error(dpath, err,
                               log_it=f"error reading destination directory: {err}")
                    in_dst = False
            if not spath and self.filt.single_target:
                self._march_renamed_file(transfers, src_entries, dst_entries)
                return
            if refused and dst_entries:
                dst_entries = [e for e in dst_entries
                               if name_key(e.name, self.normalize, self.fold) not in refused]
            if self.ours is not None and dst_entries:
                dst_entries = self._set_aside_partials(dst_entries, src_entries, dpath)
            deeper = (self.max_depth <= 0 or depth < self.max_depth) and enter
            if in_src and not deletes_only:
                self._track_empty_src_dirs(spath, src_entries)
            children: list[tuple[str, str, bool, bool, int]] = []
            unchanged = 0
            small: list[Entry] = []  # new small files of this directory, sent in batches
            for s, d in self._pair(src_entries, dst_entries):
                report = self.report
                if report is not None and (not deletes_only or s is None):
                    self._report_pair(s, d)
                if s is not None and s.is_dir:
                    # rclone: an existing directory keeps its destination spelling, new
                    # files and directories take the source's (src.Remote())
                    target = d.path if d is not None else s.path
                    if not deletes_only:
                        self._dir_pair(s, d, target)
                        if self.fix_case and d is not None and s.path != d.path:
                            self._fix_dir_case(d.path, s.path)
                    elif d is not None:  # rclone's delete pass fixes matched dirs' times too
                        self._dir_time_now(s, d, target)
                    if deeper:  # a directory at the depth limit is handled, not entered
                        children.append((s.path, target, True, d is not None, depth + 1))
                elif s is not None:
                    if deletes_only:
                        continue
                    if d is None:
                        if self.tracking:
                            self.rename_check.append(s)
                            continue
                        if self.compare_dest and self._in_compare_dest(s, s.path):
                            continue
                        if 0 <= s.size < _SMALL_FILE:
                            small.append(s)
                            if len(small) == _BATCH:
                                self._queue_batch(transfers, small)
                                small = []
                        else:
                            self._queue_transfer(transfers, s, None, s.path)
                    elif fast_skip is not None and (not self.fix_case or s.path == d.path) \
                            and fast_skip(s, d):
                        unchanged += 1  # the common case of a re-run: decided in bulk
                        if report is not None:
                            report.log(MATCH, s, d)
                    elif self.comparer.needs_io(s, d):
                        checkers.submit(lambda s=s, d=d: self._check(transfers, s, d))
                    else:
                        self._check(transfers, s, d)
                elif d is not None and self.deleting:
                    if d.is_dir:
                        self.dirs_to_remove.append(d.path)
                        if deeper or self.include_all_dst:
                            children.append(("", d.path, False, True, depth + 1))
                    elif self.delete_mode == "after":
                        if not deletes_only:
                            self.to_delete.append(d)
                    elif self.delete_mode == "during" or deletes_only:
                        checkers.submit(lambda d=d: self._delete(d))
                elif d is not None and d.is_dir and report is not None and not deletes_only:
                    # copy with a report: rclone lists destination-only directories too,
                    # so that every file is in the report
                    children.append(("", d.path, False, True, depth + 1))
            if small:
                self._queue_batch(transfers, small)
            if unchanged:
                self.stats.add_checks(unchanged)
            stack.extend(reversed(children))

    def _can_track(self, strategy: frozenset[str]) -> bool:
        """rclone's reasons to ignore --track-renames (each an ERROR, not counted)."""
        why = None
        if not can_move(self.dst):
            why = "the destination does not support server-side move or copy"
        elif "hash" in strategy and self.comparer.hash_kind is None:
            why = "the source and destination do not have a common hash"
        elif not self.sync:
            why = "it doesn't work with copy or move, only sync"
        if why is not None:
            log.error(self.dst.describe(), f"Ignoring --track-renames as {why}")
            return False
        return True

    def _rename_id(self, backend: Backend, e: Entry) -> str:
        """rclone's renameID: the size, then the hash and/or the leaf name as the strategy
        asks ("" when a hash is wanted but none can be had)."""
        parts = [str(e.size)]
        if "hash" in self.strategy:
            kind = self.comparer.hash_kind
            try:
                h = backend.hash(e.path, kind) if kind else None
            except OSError:
                h = None
            if not h:
                return ""
            parts.append(h)
        if "leaf" in self.strategy:
            parts.append(e.name)
        return ",".join(parts)

    def track_renames(self, transfers: _Pool, checkers: _Pool) -> None:
        """--track-renames: move each destination-only file that matches a source-only one
        to the source's name (server-side); copy the source files left over."""
        log.info(self.dst.describe(), "Making map for --track-renames")
        sizes = {s.size for s in self.rename_check}
        by_id: dict[str, list[Entry]] = {}
        for d in self.to_delete:
            if d.size in sizes:
                key = self._rename_id(self.dst, d)
                if key:
                    by_id.setdefault(key, []).append(d)
        log.info(self.dst.describe(), "Finished making map for --track-renames")
        renamed: set[str] = set()
        for s in self.rename_check:
            key = self._rename_id(self.src, s)
            d = self._pop_rename(by_id.get(key, []), s) if key else None
            if d is None or not self._rename(d, s):
                self._queue_transfer(transfers, s, None, s.path)
                continue
            renamed.add(d.path)
        if renamed:
            self.to_delete = [d for d in self.to_delete if d.path not in renamed]
        self.rename_check = []

    def _pop_rename(self, candidates: list[Entry], s: Entry) -> Entry | None:
        if not candidates:
            return None
        i = 0
        if "modtime" in self.strategy:
            window = self.comparer.window
            i = next((j for j, d in enumerate(candidates)
                      if abs(d.mtime_ns - s.mtime_ns) < window), -1)
            if i < 0:
                return None
        return candidates.pop(i)

    def _rename(self, d: Entry, s: Entry) -> bool:
        """Move destination file ``d`` to ``s``'s name (rclone's operations.Move)."""
        if self.opts.dry_run:
            log.notice(d.path, f"Skipped move to {s.path} as --dry-run is set (size "
                       f"{format_size_short(d.size)})")
        else:
            try:
                if not _move_between(self.dst, d.path, self.dst, s.path):
                    return False
            except Exception as err:
                log.debug(s.path, f"Failed to rename to {d.path!r}: {err}")
                return False
            self.stats.server_side_move(max(d.size, 0), checking=True)
            self.stats.renamed()
            log.info(d.path, f"Moved (server-side) to: {s.path}")
        log.info(s.path, f'Renamed from "{d.path}"')
        return True

    def _in_compare_dest(self, s: Entry, path: str) -> bool:
        """--compare-dest: ``s`` equals the file at ``path`` in one of the compare
        directories (rclone's compareDest: size, time or hash, no time update)."""
        for backend, comparer in self.compare_dest:
            try:
                c = backend.stat(path)
            except OSError as err:
                self.error(s.path, err, log_it=f"Failed to check --compare-dest: {err}")
                return False
            if c is None or c.is_dir:
                continue
            if comparer.equal(s, c).action != COPY:
                log.debug(s.path, "Destination found in --compare-dest, skipping")
                return True
        return False

    def _fix_file_case(self, s: Entry, d: Entry) -> Entry:
        """--fix-case: move the destination file to the source's spelling (rclone's
        operations.Move, then 'Fixed case by renaming to'); the entry as it now is."""
        if self.opts.dry_run:
            log.notice(d.path, f"Skipped move to {s.path} as --dry-run is set (size "
                       f"{format_size_short(d.size)})")
            log.info(d.path, f"Fixed case by renaming to: {s.path}")
            return d._replace(path=s.path)
        try:
            moved = _move_between(self.dst, d.path, self.dst, s.path)
            if not moved:
                raise OSError(errno.EXDEV, "can't move")
        except Exception as err:
            self.error(d.path, err, log_it=f"Error while attempting to rename to {s.path}: "
                       f"{err}")
            return d
        self.stats.server_side_move(max(d.size, 0), checking=True)
        self.stats.renamed()
        log.info(d.path, f"Moved (server-side) to: {s.path}")
        log.info(d.path, f"Fixed case by renaming to: {s.path}")
        return d._replace(path=s.path)

    def _fix_dir_case(self, old: str, new: str) -> None:
        """--fix-case: rename a destination directory to the source's spelling through a
        temporary name (rclone's DirMoveCaseInsensitive). As in rclone, the march goes on
        listing the old name."""
        import secrets

        letters = "abcdefghijklmnopqrstuvwxyz0123456789"  # rclone's random.String
        tmp = f"{new}-rclone-move-{''.join(secrets.choice(letters) for _ in range(8))}"
        if self.opts.dry_run:
            log.notice(old, "Skipped dirMove as --dry-run is set")
            log.notice(tmp, "Skipped dirMove as --dry-run is set")
            log.info(old, f"Fixed case by renaming to: {new}")
            return
        try:
            self.dst.rename(old, tmp)
            self.dst.rename(tmp, new)
        except OSError as err:
            self.error(old, err, log_it=f"Error while attempting to rename to {new}: {err}")
            return
        log.info(old, f"Fixed case by renaming to: {new}")

    def _stat_twins(self, dpath: str, src_entries: list[Entry]) -> list[Entry]:
        """--no-traverse: the destination files named as the source files of this
        directory, found one by one (rclone's NewObject), never listed."""
        found = []
        for e in src_entries:
            if e.is_dir:
                continue
            path = f"{dpath}/{e.name}" if dpath else e.name
            try:
                d = self.dst.stat(path)
            except OSError:
                d = None
            if d is not None and not d.is_dir:
                found.append(d if d.path == path else d._replace(path=path))
        return found

    def _report_pair(self, s: Entry | None, d: Entry | None) -> None:
        """What the march alone decides, for the report files (rclone's SrcOnly, DstOnly
        and directory Match); pairs of files are reported by their check."""
        assert self.report is not None
        if s is not None and d is None:
            self.report.log(MISSING_ON_DST, s, None, is_dir=s.is_dir)
        elif s is None and d is not None:
            self.report.log(MISSING_ON_SRC, None, d, is_dir=d.is_dir)
        elif s is not None and d is not None and s.is_dir and d.is_dir:
            self.report.log(MATCH, s, d, is_dir=True)
        elif s is not None and d is not None and s.is_dir != d.is_dir:
            self.report.log(REPORT_ERROR, s if not s.is_dir else None,
                            d if not d.is_dir else None)

    def _march_renamed_file(self, transfers: _Pool, src_entries: list[Entry],
                            dst_entries: list[Entry]) -> None:
        """copyto of one file: the source file against the destination entry of the new
        name (rclone's CopyFile(fdst, fsrc, dstFileName, srcFileName))."""
        target = self.filt.single_target
        s = next((e for e in src_entries if e.path == self.filt.single_file), None)
        if s is None or s.is_dir:
            return
        d = next((e for e in dst_entries if e.path == target), None)
        if d is None:  # the listing leaves directories out: a directory of that name?
            try:
                d = self.dst.stat(target)
            except OSError:
                d = None
        if d is not None and d.is_dir:
            self.error(target, PysyncError("is a directory not a file"))
        elif d is None:
            if self.report is not None:
                self.report.log(MISSING_ON_DST, s, None)
            self._queue_transfer(transfers, s, None, target)
        else:
            self._check(transfers, s, d)

    def _set_aside_partials(self, dst_entries: list[Entry], src_entries: list[Entry],
                            dpath: str) -> list[Entry]:
        """--resume: take the partial files and manifests out of a destination listing
        (they are not files of the tree); keep those a source file of this very version
        may resume from, remove the others (orphans of earlier runs or source versions)."""
        assert self.ours is not None
        search = self.ours.search
        ours = [e for e in dst_entries if not e.is_dir and search(e.name)]
        if not ours:
            return dst_entries
        suffix = self.opts.partial_suffix
        wanted: set[str] = set()
        for s in src_entries:
            if not s.is_dir and s.size >= resume.MIN_SIZE:
                p = partial_name(f"{dpath}/{s.name}" if dpath else s.name, s, suffix)
                wanted.update((p, resume.manifest_path(p)))
        for e in ours:
            if e.path in wanted:
                self.kept_partials.add(e.path)
            else:
                self._remove_partial(e.path, "stale partial file of an earlier run")
        out = set(ours)
        return [e for e in dst_entries if e not in out]

    def _remove_partial(self, path: str, what: str) -> None:
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
        used = self.transferer.partials_used
        for path in sorted(self.kept_partials):
            base = path[: -len(resume.MANIFEST_SUFFIX)] if path.endswith(
                resume.MANIFEST_SUFFIX) else path
            if base not in used and self.dst.stat(path) is not None:
                self._remove_partial(path, "unused partial file of an earlier run")

    def _track_empty_src_dirs(self, spath: str, src_entries: list[Entry]) -> None:
        """rclone's srcEmptyDirs: every source directory is potentially empty until a file
        turns up anywhere below it (with --create-empty-src-dirs, a subdirectory is enough
        for its direct parent). Only such directories skip their delayed time."""
        empty = self.src_empty_dirs
        has_file = has_dir = False
        for e in src_entries:
            if e.is_dir:
                empty.add(e.path)
                has_dir = True
            else:
                has_file = True
        if has_file:
            path = spath
            while path:
                empty.discard(path)
                path = path.rpartition("/")[0]
        elif has_dir and self.opts.create_empty_src_dirs:
            empty.discard(spath)

    def _pair(self, src: list[Entry], dst: list[Entry]
              ) -> Iterator[tuple[Entry | None, Entry | None]]:
        return pair_entries(src, dst, normalize=self.normalize, fold=self.fold,
                            dst_only=self.deleting or self.report is not None)

    # ----- files -------------------------------------------------------------------------

    def _check(self, transfers: _Pool, s: Entry, d: Entry) -> None:
        if self.cancel.is_set() or self.stopping.is_set():
            return
        self.stats.start_check(s.path)
        try:
            decision = self.comparer.need_transfer(s, d)
            if self.report is not None:
                self.report.log(DIFFER if decision.action == COPY else MATCH, s, d)
            if decision.action == SET_MTIME and self.opts.immutable and not self.opts.dry_run:
                # rclone's Equal: same size and hash, other time: logged (not counted), and
                # the files count as different, which --immutable refuses below
                log.error(d.path, "Timestamp mismatch between immutable objects")
                decision = replace(decision, action=COPY)
            if self.fix_case and s.path != d.path:
                d = self._fix_file_case(s, d)
            if decision.action == COPY and self.compare_dest and \
                    self._in_compare_dest(s, d.path):
                return
            if decision.action == COPY:
                if self.opts.immutable:
                    err = NoRetryError("immutable file modified")
                    self.error(d.path, err, log_it="Source and destination exist but do not "
                               f"match: {err}")
                    return
                self._queue_transfer(transfers, s, d, d.path, decision.reason)
            elif decision.action == SET_MTIME:
                self._set_mtime(s, d, decision.reason)
        except Exception as err:  # counted per file, never swallowed
            if self.report is not None:
                self.report.log(REPORT_ERROR, s, d)
            self.error(s.path, err, log_it=f"Failed to check: {err}" if not isinstance(
                err, PysyncError) else str(err))
        finally:
            self.stats.end_check(s.path)

    def _set_mtime(self, s: Entry, d: Entry, reason: str = "") -> None:
        if self.sink is not None:
            from . import actions

            self.sink(actions.SetMtime(s.path, d.path, s.size, s.mtime_ns, reason))
            return
        if self.opts.dry_run:
            log.notice(s.path, "Skipped update modification time as --dry-run is set (size "
                       f"{format_size_short(s.size)})")
            return
        try:
            self.dst.set_mtime(d.path, s.mtime_ns)
        except OSError as err:
            self.error(d.path, err, log_it=f"Failed to set modification time: {err}")
            return
        log.info(s.path, "Updated modification time in destination")

    def _queue_transfer(self, transfers: _Pool, s: Entry, d: Entry | None, dst_path: str,
                        reason: str = "") -> None:
        if self.sink is not None:
            from . import actions

            self.sink(actions.copy_action(s, d, dst_path, reason))
            return
        self.stats.add_total_transfer(s.size)
        self._mark_modified(dst_path.rpartition("/")[0])
        if self.deferred is not None:
            with self._lock:
                self.deferred.append((s, d, dst_path))
            return
        self._submit_transfer(transfers, s, d, dst_path)

    def _submit_transfer(self, transfers: _Pool, s: Entry, d: Entry | None, dst_path: str
                         ) -> None:
        if self.executor is not None:
            transfers.submit(lambda: self._transfer_remote([(s, d, dst_path)]))
            return
        transfers.submit(lambda: self._transfer(s, d, dst_path))

    def start_deferred(self, transfers: _Pool) -> None:
        """--check-first: the checks are over; start the transfers they decided, in
        --order-by's order (as rclone's transfer workers take them from its heap)."""
        assert self.deferred is not None
        log.info(self.dst.describe(), "Checks finished, now starting transfers")
        items, self.deferred = self.deferred, []
        if self.order is not None:
            items = self.order.arrange(items, lambda it: it[0], self.opts.transfers)
        for s, d, dst_path in items:
            self._submit_transfer(transfers, s, d, dst_path)

    def _queue_batch(self, transfers: _Pool, batch: list[Entry]) -> None:
        """New small files of one directory, copied one after the other by one worker: the
        per-file cost of the pool (task, future, wake-ups) is paid once per batch."""
        if self.sink is not None:
            from . import actions

            for s in batch:
                self.sink(actions.copy_action(s, None, s.path))
            return
        self.stats.add_total_transfer(sum(e.size for e in batch), count=len(batch))
        self._mark_modified(batch[0].path.rpartition("/")[0])
        if self.deferred is not None:
            with self._lock:
                self.deferred.extend((s, None, s.path) for s in batch)
            return
        if self.executor is not None and self.opts.max_transfer < 0:  # one task for the batch
            items: list[tuple[Entry, Entry | None, str]] = [(s, None, s.path) for s in batch]
            transfers.submit(lambda: self._transfer_remote(items))
            return
        if self.executor is not None:  # --max-transfer: each file admitted when it starts
            for s in batch:
                transfers.submit(lambda s=s: self._transfer_remote([(s, None, s.path)]))
            return

        def run() -> None:
            for s in batch:
                self._transfer(s, None, s.path)

        transfers.submit(run)

    def _transfer(self, s: Entry, d: Entry | None, dst_path: str) -> None:
        admitted = self._admit(s, d, dst_path)
        if admitted is None:
            return
        replacing, dst_path, old = admitted
        self.copier.copy(s, dst_path, replacing, old)

    def _admit(self, s: Entry, d: Entry | None, dst_path: str
               ) -> tuple[bool, str, Entry | None] | None:
        """The coordinator's part before a copy: cancellation, --max-duration, --dry-run,
        the --max-transfer budget, and the backup of the file being replaced. Returns
        ``(replacing, destination path, old entry)``, or None when the file is not to be
        copied (all said and counted here)."""
        if self.cancel.is_set() or self.stopping.is_set():
            self.stats.dequeue_transfer(s.size)
            return None
        o = self.opts
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.stats.dequeue_transfer(s.size)
            self.error(s.path, MaxDurationError("max transfer duration reached as set by "
                                                "--max-duration"))
            return None
        if o.dry_run:  # rclone: a dry run skips the copy before any budget check
            if d is not None and (self.backup is not None or o.suffix):
                self._move_to_backup(d, deleting=False)
            log.notice(s.path, "Skipped copy as --dry-run is set (size "
                       f"{format_size_short(s.size)})")
            self.stats.dry_run_transfer(s.path, s.size)
            with self._lock:
                self.transfers += 1
            return None
        if o.max_transfer >= 0:
            mode = o.cutoff_mode.upper()
            so_far = (self.stats.bytes_with_pending() + s.size if mode == "CAUTIOUS"
                      else self.stats.bytes_total())
            if so_far >= o.max_transfer:
                err: BaseException = MaxTransferError(
                    "max transfer limit reached as set by --max-transfer")
                self.stats.dequeue_transfer(s.size)
                if mode == "HARD":
                    self.error(s.path, err, log_it=f"Failed to copy: {err}")
                    return None
                # graceful (rclone's no-retry error): counted, not logged per file; the
                # first one stops the march and every transfer not yet started
                err.fatal = False
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
        if d is not None and (self.backup is not None or o.suffix):
            try:
                self._move_to_backup(d, deleting=False)
            except Exception as err:  # logged where it happened (rclone: no "Failed to copy")
                self.stats.dequeue_transfer(s.size)
                self.error(d.path, err)
                return None
            replacing = False
            dst_path = s.path  # the old name moved away: the copy takes the source's
        return replacing, dst_path, d if replacing else None

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

    def _transfer_remote(self, items: list[tuple[Entry, Entry | None, str]]) -> None:
        """Admit ``items`` (source, replaced destination entry, destination path) and copy
        those admitted as one batch on the remote executor."""
        from . import actions

        batch: list[Copy | Replace] = []
        for s, d, dst_path in items:
            admitted = self._admit(s, d, dst_path)
            if admitted is not None:
                batch.append(actions.copy_action(s, admitted[2], admitted[1]))
        if batch:
            self.copier.copy_remote(batch)

    # ----- deletions ---------------------------------------------------------------------

    def _count_delete(self, size: int = 0) -> None:
        """Count a deletion against --max-delete and --max-delete-size (rclone's
        StatsInfo.DeleteFile: over either limit, MaxDeleteError and the size is not
        counted)."""
        limit = self.opts.max_delete_size
        with self._lock:
            self.deleted_count += 1
            over = self.opts.max_delete >= 0 and self.deleted_count > self.opts.max_delete
            too_big = not over and limit >= 0 and self.deleted_size + max(size, 0) > limit
            if too_big:
                self.deleted_count -= 1
            elif not over:
                self.deleted_size += max(size, 0)
        if over:
            raise MaxDeleteError("--max-delete threshold reached")
        if too_big:
            raise MaxDeleteError("--max-delete-size threshold reached")

    def _delete(self, d: Entry) -> None:
        if self.cancel.is_set():
            return
        self.stats.start_check(d.path)
        try:
            try:
                self._count_delete(d.size)
            except MaxDeleteError as err:
                # counted now; the run is cancelled when deleting is over, with "failed
                # to delete N files" (rclone: every deletion is still tried)
                self.error(d.path, err, cancel=False)
                log.error(d.path, f"Got fatal error on delete: {err}")
                with self._lock:
                    self.delete_errors += 1
                    self.delete_fatal += 1
                return
            self._warn_if_source_excluded(d)
            self._delete_checked(d)
        finally:
            self.stats.end_check(d.path)

    def finish_deletes(self) -> None:
        """Deleting is over: rclone's one error for all the failed deletions (fatal, so
        cancelling the run, if any of them was)."""
        with self._lock:
            if self.deletes_over:
                return
            self.deletes_over = True
            failed, fatal = self.delete_errors, self.delete_fatal
        if failed:
            text = f"failed to delete {failed} files"
            self.error("", FatalError(text) if fatal else PysyncError(text))

    def _delete_checked(self, d: Entry) -> None:
        if self.sink is not None:
            from . import actions

            self.sink(actions.Delete(d.path, d.size))
            return
        if self.opts.dry_run:
            if self.backup is not None or self.opts.suffix:
                self._move_to_backup(d, deleting=True)
            else:
                log.notice(d.path, "Skipped delete as --dry-run is set (size "
                           f"{format_size_short(d.size)})")
            self.stats.deleted(d.size)
            return
        if self.backup is not None or self.opts.suffix:
            try:
                self._move_to_backup(d, deleting=True)
            except Exception as err:  # OSError, MaxDeleteError, a refused name...
                if self.report is not None:
                    self.report.log(REPORT_ERROR, None, d)
                self.error(d.path, err, log_it=f"Couldn't move into backup dir: {err}")
                with self._lock:
                    self.delete_errors += 1
                    self.delete_fatal += bool(getattr(err, "fatal", False))
                return
        else:
            try:
                self.dst.remove(d.path)
            except OSError as err:
                if self.report is not None:
                    self.report.log(REPORT_ERROR, None, d)
                self.error(d.path, err, log_it=f"Couldn't delete: {err}")
                with self._lock:
                    self.delete_errors += 1
                return
            log.info(d.path, "Deleted")
        self.stats.deleted(d.size)
        with self._lock:
            self.deletes += 1

    def _warn_if_source_excluded(self, d: Entry) -> None:
        """Loud warning where rclone deletes the destination copy of a filtered source file."""
        if not self.filt.active or self.filt.files is not None or self.include_all_dst:
            return  # nothing filtered, or --delete-excluded asked for exactly this
        try:
            s = self.src.stat(d.path)
        except OSError:
            return
        if s is not None and not s.is_dir:
            log.error(d.path, "WARNING: deleting the destination copy although the source "
                      "file exists: the source file is excluded by the filters (e.g. "
                      "--min-age/--max-age/--max-size) and sync treats it as absent - this "
                      "is rclone's behaviour; use copy, or --delete-excluded consciously")

    def _move_to_backup(self, d: Entry, *, deleting: bool) -> None:
        """Move the destination file away (``--backup-dir``/``--suffix``) as rclone's
        MoveBackupDir does and logs it: a checking transfer ("moving") and a rename."""
        self.stats.start_check(d.path, "moving", queued=False)
        try:
            self._move_to_backup_checked(d, deleting)
        finally:
            self.stats.end_check(d.path)  # the error is counted by the caller

    def _move_to_backup_checked(self, d: Entry, deleting: bool) -> None:
        o = self.opts
        target = backup_path(d.path, o.suffix, o.suffix_keep_extension)
        if o.dry_run:
            if deleting:
                what = "move into backup dir"
            else:
                what = f"move to {target}" if target != d.path else "move"
            log.notice(d.path, f"Skipped {what} as --dry-run is set (size "
                       f"{format_size_short(d.size)})")
            return
        into = self.backup if self.backup is not None else self.dst
        old = into.stat(target)
        if old is not None and not old.is_dir:
            # rclone's Move first deletes the file it would replace (an earlier backup):
            # a delete like any other, counted against --max-delete and logged
            self._count_delete(old.size)
            try:
                into.remove(target)
            except OSError as err:
                log.error(target, f"Couldn't delete: {err}")
                raise
            log.info(target, "Deleted")
            self.stats.deleted(old.size)
        try:
            if self.backup is None and not can_move(self.dst):
                self.dst.rename(d.path, target)
                moved = True
            elif self.backup is None:  # --suffix alone: a move within the destination,
                # parents created as rclone's Move does (--suffix a/b makes "<name>a/")
                moved = _move_between(self.dst, d.path, self.dst, target)
            else:
                moved = _move_between(self.dst, d.path, self.backup, target)
        except Exception as err:
            log.error(d.path, f"Couldn't move: {err}")
            raise
        if moved:  # a checking transfer in rclone: its bytes are not transferred ones
            self.stats.server_side_move(max(d.size, 0), checking=True)
            self.stats.renamed()
            log.info(d.path, "Moved (server-side)" + (f" to: {target}" if target != d.path
                                                       else ""))
        else:
            self._copy_then_delete(d, into, target)
        if deleting:
            log.info(d.path, "Moved into backup dir")

    def _copy_then_delete(self, d: Entry, into: Backend, target: str) -> None:
        """rclone's Move where the server cannot move (fs.ErrorCantMove, e.g. SMB across
        shares): copy the file to the backup through the backends (a transfer), then
        delete it (a delete, counted against --max-delete)."""
        log.debug(d.path, "Can't move, switching to copy")
        tr = self.stats.start_transfer(d.path, d.size, queued=False)
        failure: BaseException | None = None
        try:
            with self.dst.open_read(d.path) as reader, into.open_write(target) as writer:
                while chunk := reader.read(1 << 20):
                    writer.write(chunk)
                    tr.add(len(chunk))
            if into.features.can_set_mtime and d.mtime_ns > 0:
                into.set_mtime(target, d.mtime_ns)
            got = into.stat(target)
            if got is None or (d.size >= 0 and got.size != d.size):
                raise OSError(errno.EIO, f"backup copy of {d.path} is incomplete")
        except BaseException as err:
            failure = err
            raise
        finally:
            tr.done(failure)
        log.info(d.path, "Copied (new)" + (f" to: {target}" if target != d.path else ""))
        self._count_delete(d.size)
        self.stats.start_check(d.path, "deleting", queued=False)
        try:
            self.dst.remove(d.path)
        finally:
            self.stats.end_check(d.path)
        log.info(d.path, "Deleted")
        self.stats.deleted(d.size)
        self.stats.renamed()

    def delete_after(self, checkers: _Pool) -> None:
        """rclone's --delete-after: only when no error has been counted (the refusal is
        logged, whether or not anything was to be deleted, and not counted again)."""
        if self.stats.errors() and not self.opts.ignore_errors:
            log.error(self.dst.describe(), ERROR_NOT_DELETING)
            return
        if not self.to_delete:
            return
        for d in self.to_delete:
            checkers.submit(lambda d=d: self._delete(d))
        checkers.wait()
        self.finish_deletes()

    # ----- directories -------------------------------------------------------------------

    def _make_dir(self, path: str, mtime_ns: int = 0) -> bool | None:
        """Create an (empty source) directory, with its time where the backend keeps it.

        True: made with its time; False: not made, or made without a time; None: failed
        with a counted error."""
        if self.sink is not None:
            from . import actions

            self.sink(actions.Mkdir(path, mtime_ns))
            return False
        if self.opts.dry_run:
            log.notice(path, "Skipped make directory as --dry-run is set")
            return False
        mkdir_metadata = getattr(self.dst, "mkdir_metadata", None)
        if mkdir_metadata is not None and mtime_ns > 0 and self.set_dir_times:
            # rclone's MkdirMetadata: whatever is at the path (even a file) is taken for the
            # new directory and gets its time; its failures are counted, not logged
            try:
                mkdir_metadata(path, mtime_ns)
            except (OSError, PysyncError) as err:
                self.error(path, err)
                return None
            stamp = format_time(mtime_ns, "RFC3339Nano")
            log.info(path, f"Made directory with metadata (mtime={stamp})")
            return True
        # a backend without rclone's MkdirMetadata (sftp, smb, fsspec): rclone's Mkdir says
        # "Making directory"; with a time (MkdirModTime), DirSetModTime sets it and
        # "Made directory with modification time <Go time>" follows; no directory object
        # is returned, so the delayed time is set "(using DirSetModTime)" too
        try:
            log.info(path, "Making directory")
            self.dst.mkdir(path)
            if mtime_ns > 0 and self.set_dir_times:
                failed: OSError | None = None
                try:
                    self.dst.set_mtime(path, mtime_ns)
                except OSError as err:
                    failed = err
                log.info(path, f"Made directory with modification time "
                         f"{format_go_time(mtime_ns)}")
                if failed is not None:
                    self.error(path, failed)
                    return None
            return False
        except OSError as err:
            # rclone's Mkdir counts its error (a file in the way too: sftp's "is a file not
            # a directory", smb's "not a directory") and logs nothing; no delayed time
            log.debug(path, f"Failed to make directory: {err}")
            self.error(path, err)
            return None

    def remove_dirs(self) -> None:
        """Remove destination-only directories, deepest first, if empty; failures are quiet.
        After a counted error nothing is removed and rclone's refusal is logged."""
        if self.stats.errors() and not self.opts.ignore_errors:
            log.error(self.dst.describe(), ERROR_NOT_DELETING_DIRS)
            return
        if not self.dirs_to_remove:
            return
        for path in sorted(self.dirs_to_remove, key=lambda p: (-p.count("/"), p)):
            if self.sink is not None:
                from . import actions

                self.sink(actions.Rmdir(path))
                continue
            if self.opts.dry_run:
                log.notice(path, "Skipped remove directory as --dry-run is set")
                continue
            log.info(path, "Removing directory")
            try:
                self.dst.rmdir(path)
                self.stats.deleted_dir()
            except OSError as err:
                log.debug(path, f"Failed to Rmdir: {err}")

    def _mark_modified(self, path: str) -> None:
        with self._lock:
            self.modified_dirs.add(path)

    def _dirs_equal(self, s: Entry, d: Entry | None) -> bool:
        """rclone's DirsEqual for a source directory and its destination twin."""
        o = self.opts
        if d is None:
            return False
        if o.size_only or o.immutable or o.ignore_existing or not self.set_dir_times:
            return True
        if o.ignore_times:
            return False
        dt = d.mtime_ns - s.mtime_ns
        if -self.dir_window < dt < self.dir_window:
            return True
        return bool(o.update and dt >= self.dir_window)

    def _dir_pair(self, s: Entry, d: Entry | None, target: str) -> None:
        """A source directory met in the march: make it, fix its time, remember it.

        ``target`` is the destination path (the existing destination spelling if any)."""
        made: bool | None = False
        if d is None:
            if self.opts.create_empty_src_dirs:
                made = self._make_dir(target, s.mtime_ns)
            self._mark_modified(target)
            if made is None:
                return  # rclone queues no delayed time for a directory it failed to make
        elif self._dir_time_now(s, d, target):
            if self.opts.dry_run:
                # rclone's SetDirModTime returns no directory under --dry-run, so the delayed
                # item it queues names the root: it is logged as the Fs, if the root changed
                self.dir_items.append(("", s.mtime_ns, False))
                return
        if self.set_dir_times and s.mtime_ns > 0:  # 0: the source does not know the time
            self.dir_items.append((target, s.mtime_ns, d is not None or made))

    def _dir_time_now(self, s: Entry, d: Entry, target: str) -> bool:
        """Set an existing destination directory's time at once when it differs (rclone's
        copyDirMetadata, also run by the --delete-before pass); True when it did."""
        if self._dirs_equal(s, d) or not self.set_dir_times or s.mtime_ns <= 0:
            return False
        self._set_dir_time(target, s.mtime_ns, existed=True)
        return True

    def _set_dir_time(self, path: str, mtime_ns: int, *, existed: bool) -> None:
        if self.opts.dry_run:
            size = _dir_size(self.dst, path) if existed else -1
            log.notice(path or self.dst.describe(),
                       "Skipped set directory modification time as --dry-run is set"
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
        how = "SetModTime" if existed and self.dir_objects else "DirSetModTime"
        log.info(path, f"Set directory modification time (using {how})")

    def fix_dir_times(self) -> None:
        """Set the times of directories whose contents changed, deepest first, marking each
        parent as changed too (rclone's delayed directory modtimes); the root is never set."""
        if not self.set_dir_times:
            return
        by_level: dict[int, list[tuple[str, int, bool]]] = {}
        for item in self.dir_items:
            by_level.setdefault(item[0].count("/") + 1 if item[0] else 0, []).append(item)
        for level in sorted(by_level, reverse=True):
            for path, mtime, existed in by_level[level]:
                if path not in self.modified_dirs:
                    continue
                if not self.opts.create_empty_src_dirs and path in self.src_empty_dirs:
                    continue
                self.modified_dirs.add(path.rpartition("/")[0])
                self._set_dir_time(path, mtime, existed=existed)
        errs = self.dir_time_errors
        if errs:  # rclone's errcount summary, counted once more as the pass's own error
            last_path, last = errs[-1]
            text = "failed to set directory modtime: " + (
                f"{len(errs)} errors: last error: {last}" if len(errs) > 1 else str(last))
            self.error(last_path or self.dst.describe(), PysyncError(text))

    # ----- the whole attempt -------------------------------------------------------------

    def run(self) -> None:
        """Run the attempt; errors are counted in ``self.errors``, fatal ones also raised."""
        o = self.opts
        width = o.transfers
        if self.executor is not None and o.max_transfer < 0:
            # one thread waits for each batch on the workers; with --max-transfer only
            # --transfers at once, so that the budget admits files as the threads do
            width = max(2, min(256, 2 * self.executor.slots()))
        transfers = _Pool(width, "transfer", max(16, width * 4))
        checkers = _Pool(o.checkers, "checker", max(64, o.checkers * 8))
        first = self.deferred is not None
        if self.sync and o.no_check_dest:  # rclone: refused by every attempt (exit 1)
            self.error("", PysyncError("can't use --no-check-dest with sync: use copy "
                                       "instead"))
            return
        if self.sync and o.no_traverse:
            log.error(None, "Ignoring --no-traverse with sync")
        try:
            strategy = _rename_strategy(o.track_renames_strategy)
        except PysyncError as err:  # rclone: refused by every attempt
            self.error("", err)
            return
        if o.track_renames and self.sink is None:
            self.tracking = self._can_track(strategy)
            self.strategy = strategy
            if self.tracking:
                self.delete_mode = "after"  # rclone: renames need delete-after
        try:
            if self.sync and self.delete_mode == "before":
                if first:
                    log.info(self.dst.describe(), "Running all checks before starting "
                             "transfers")
                self.march(transfers=transfers, checkers=checkers, deletes_only=True)
                checkers.wait()
                if first:
                    log.info(self.dst.describe(), "Checks finished, now starting transfers")
                self.finish_deletes()
                self.remove_dirs()  # rclone's delete pass ends by removing empty dirs
                self.dirs_to_remove = []
                # then a copy pass (rclone's DeleteModeOff): nothing more is deleted or
                # removed, and none at all after an error of the delete pass
                self.deleting = False
                if self.errors:
                    return  # rclone: a delete pass that failed ends the attempt
            if first:
                log.info(self.dst.describe(), "Running all checks before starting transfers")
            self.march(transfers=transfers, checkers=checkers)
            checkers.wait()
            if self.tracking and not self.cancel.is_set():
                self.track_renames(transfers, checkers)
            if first and not self.cancel.is_set():
                self.start_deferred(transfers)
            transfers.wait()
            checkers.wait()
            if self.deleting and self.delete_mode == "during":
                self.finish_deletes()
            if self.deleting and self.delete_mode == "after":
                self.delete_after(checkers)  # logs its refusal after any error
            if self.kept_partials and self.fatal is None:
                self.drop_unused_partials()
            if self.fatal is None:  # rclone: directory times first, then empty dirs go
                self.fix_dir_times()
            if self.deleting:
                self.remove_dirs()  # logs its refusal after any error
        finally:
            if self.fatal is not None:
                self.cancel.set()
            transfers.shutdown()
            checkers.shutdown()
            self.transfers += self.copier.done
            if self._readahead is not None:
                self._readahead.shutdown(wait=True, cancel_futures=True)
                self._listings.clear()


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


def _rename_strategy(text: str) -> frozenset[str]:
    """--track-renames-strategy as rclone parses it (``size`` is always used)."""
    got = set()
    for part in text.split(",") if text else ():
        if part not in ("hash", "modtime", "leaf", "size"):
            raise PysyncError(f'unknown track renames strategy "{part}"')
        got.add(part)
    return frozenset(got)


def _move_between(a: Backend, path: str, b: Backend, target: str) -> bool:
    """Move ``path`` of backend ``a`` to ``target`` of backend ``b`` (the same remote) on the
    server, through the backends only; False when the server cannot (SMB across shares)."""
    if not can_move(b):  # refused at set-up (_backup_dir): never reached in a run
        raise FatalError(ERROR_NO_MOVE)
    return b.move_from(a, path, target)  # type: ignore[attr-defined]


def _same_config(a: Backend, b: Backend) -> bool:
    """rclone's SameConfig: the same remote (config entry)."""
    return a is b or (can_move(a) and a.same_remote(b))  # type: ignore[attr-defined]


def _overlap_key(b: Backend) -> str | None:
    """rclone's fixRoot, prefixed with the storage: ``storage/root/`` (``storage/`` for the
    top); None when the backend cannot say where it is (no overlap is assumed)."""
    if not can_move(b):
        return None
    storage, root = b.overlap_root()  # type: ignore[attr-defined]
    root = str(root).strip("/")
    return f"{storage}/{root}/" if root else f"{storage}/"


def _dir_included(outer: Backend, rel: str, filt: Filter) -> bool:
    """rclone's filterCheck: is directory ``rel`` of ``outer`` walked by the filters
    (directory rules, files-from, --exclude-if-present markers)?"""
    rel = rel.strip("/")
    for marker in filt.exclude_files:
        try:
            if outer.stat(f"{rel}/{marker}" if rel else marker) is not None:
                return False
        except OSError as err:
            log.error(outer.describe(), "Failed to discover whether directory is included: "
                      f"{err}")
            return True
    return filt.include_dir(rel)


def _overlapping(fdst: Backend, fsrc: Backend, filt: Filter) -> bool:
    """rclone's OverlappingFilterCheck: one root inside the other on the same storage,
    unless the filters exclude the inner one. (rclone compares roots only for the same
    config entry and as typed; pysync compares where they physically are, so that no alias
    or relative path lets a backup land in the source or the destination.)"""
    a, b = _overlap_key(fdst), _overlap_key(fsrc)
    if a is None or b is None:
        return False
    if a == b:
        return True
    if a.startswith(b):
        return _dir_included(fsrc, a[len(b):], filt)
    if b.startswith(a):
        return _dir_included(fdst, b[len(a):], filt)
    return False


def _backup_dir(src: Backend, dst: Backend, backup: Backend | None, filt: Filter,
                opts: SyncOptions) -> None:
    """rclone's BackupDir set-up checks for ``--backup-dir``/``--suffix`` (copy and sync),
    made before anything is transferred; raises FatalError with rclone's message. For a
    single-file source (rclone's CopyFile) only equal roots are refused, and only without
    --suffix, and the message says so."""
    if backup is None:
        return  # --suffix alone: the destination renames its own files
    prefix = "creating Fs for --backup-dir failed: " if filt.single_file else ""
    if not _same_config(dst, backup):
        raise FatalError(f"{prefix}parameter to --backup-dir has to be on the same remote as "
                         "destination")
    if not filt.single_file:
        if _overlapping(backup, dst, filt):
            raise FatalError("destination and parameter to --backup-dir mustn't overlap")
        if _overlapping(backup, src, filt):
            raise FatalError("source and parameter to --backup-dir mustn't overlap")
    elif not opts.suffix:
        key = _overlap_key(backup)
        if key is not None and key == _overlap_key(dst):
            raise FatalError(f"{prefix}destination and parameter to --backup-dir mustn't be "
                             "the same")
        if key is not None and key == _overlap_key(src):
            raise FatalError(f"{prefix}source and parameter to --backup-dir mustn't be the "
                             "same")
    if not can_move(backup):
        raise FatalError(prefix + ERROR_NO_MOVE)


def refuse_run(mode: str, stats: Stats, err: FatalError) -> RunResult:
    """A run refused at set-up: logged and counted as rclone does (exit 7)."""
    stats.error(err)
    log.error(None, "Fatal error received - not attempting retries")
    log.notice(None, f"Failed to {mode}: {err}")
    return RunResult(stats=stats.snapshot(), errors=[FileError("", err)], error=err,
                     exit_code=err.exit_code)


def run_copy(mode: str, src: Backend, dst: Backend, filt: Filter, opts: SyncOptions, *,
             stats: Stats | None = None, backup: Backend | None = None,
             report_failure: bool = True, executor: Executor | None = None,
             locations: tuple[Location, Location] | None = None,
             on_event: EventCallback | None = None,
             report: SyncReport | None = None,
             compare_dest: tuple[Backend, ...] = ()) -> RunResult:
    """Run ``copy`` or ``sync`` with rclone's whole-run retries; never raises for per-file
    errors (they are in the result); raises UsageError/FatalError for refused set-ups.

    ``report_failure=False`` leaves the closing ``Failed to <mode>: ...`` NOTICE to the
    caller (the CLI logs it after the final stats block, where rclone does: see
    ``failure_message``).

    ``executor``: who copies (default: this process's threads). A remote one (Dask) needs
    ``locations``, how its workers open the source and destination; it is started here and
    closed when the run ends (a lost scheduler is a fatal error of the run). ``on_event``
    gets a TransferEvent for every file started, finished or failed. ``report``: the
    report files (``--combined`` & co.) every decision is written to. ``compare_dest``:
    the opened ``--compare-dest`` directories.
    """
    if executor is not None and executor.remote:
        if locations is None:
            raise UsageError("a remote executor needs the locations its workers open")
        try:
            return _run_copy(mode, src, dst, filt, opts, stats=stats, backup=backup,
                             report_failure=report_failure, executor=executor,
                             locations=locations, on_event=on_event, report=report,
                             compare_dest=compare_dest)
        finally:
            executor.close()
    return _run_copy(mode, src, dst, filt, opts, stats=stats, backup=backup,
                     report_failure=report_failure, on_event=on_event, report=report,
                     compare_dest=compare_dest)


def _job(src: Backend, dst: Backend, opts: SyncOptions, locations: tuple[Location, Location]
         ) -> Any:
    """The settings every worker batch of this run carries."""
    import uuid

    from .executors.worker import Job

    kind = None if opts.ignore_checksum else common_hash(src, dst)
    rate = 0.0
    bucket = _bucket(opts.bwlimit)
    if bucket is not None:
        rate = bucket.rate
    return Job(uuid.uuid4().hex[:12], locations[0], locations[1], opts, kind,
               log.LOGGER.getEffectiveLevel(), rate)


def _run_copy(mode: str, src: Backend, dst: Backend, filt: Filter, opts: SyncOptions, *,
              stats: Stats | None, backup: Backend | None, report_failure: bool = True,
              executor: Executor | None = None,
              locations: tuple[Location, Location] | None = None,
              on_event: EventCallback | None = None,
              report: SyncReport | None = None,
              compare_dest: tuple[Backend, ...] = ()) -> RunResult:
    if mode not in ("copy", "sync"):
        raise UsageError(f"unknown mode {mode!r}")
    if sum((opts.delete_before, opts.delete_during, opts.delete_after)) > 1:
        raise ConfigError("Only one of --delete-before, --delete-during or --delete-after "
                          "can be used.")
    if len(opts.partial_suffix) > 16:
        raise ConfigError('Failed to initialise global options: failed to reload "main" '
                          "options: --partial-suffix: Expecting suffix length not greater "
                          f"than 16 but got {len(opts.partial_suffix)}")
    if opts.cutoff_mode.upper() not in CUTOFF_MODES:
        raise UsageError(f'invalid argument "{opts.cutoff_mode}" for "--cutoff-mode" flag: '
                         "invalid choice from: " + ", ".join(CUTOFF_MODES))
    stats = stats or Stats()
    from .errors import NotSupportedError

    for name, flag in (("metadata", "--metadata"), ("interactive", "--interactive"),
                       ("name_transform", "--name-transform")):
        if getattr(opts, name):  # the CLI refuses them first; library callers here
            raise NotSupportedError(f"{flag} is not supported yet")
    if opts.compare_dest and not compare_dest:
        raise UsageError("--compare-dest needs its directories opened: pass compare_dest")
    if opts.compare_dest and opts.copy_dest:
        raise ConfigError('Failed to initialise global options: failed to reload "main" '
                          "options: can't use --compare-dest with --copy-dest")
    try:
        parse_order_by(opts.order_by)
        if mode == "sync" and opts.track_renames and opts.delete_before:
            raise FatalError("can't use --delete-before with --track-renames")
        if opts.copy_dest and not dst.features.server_side_copy:
            raise FatalError("can't use --copy-dest on a remote which doesn't support server "
                             "side copy")
        if opts.copy_dest:
            from .errors import NotSupportedError

            raise NotSupportedError("--copy-dest is not supported yet")
    except FatalError as err:
        if opts.check_first:
            log.info(dst.describe(), "Running all checks before starting transfers")
        return setup_failed(mode, stats, err, report_failure=report_failure)
    src_root, dst_root = getattr(src, "root", None), getattr(dst, "root", None)
    same = src_root is not None and src_root == dst_root and type(src) is type(dst) and \
        src.describe() == dst.describe()
    if same and mode == "copy":
        log.error(None, "Nothing to do as source and destination are the same")
        return RunResult(stats=stats.snapshot())
    if mode == "sync" and _overlapping(dst, src, filt):
        return refuse_run(mode, stats, FatalError(
            "can't sync or move files on overlapping remotes (try excluding the destination "
            "with a filter rule)"))
    if backup is not None or opts.suffix:
        try:
            _backup_dir(src, dst, backup, filt, opts)
        except FatalError as err:
            return refuse_run(mode, stats, err)
    if mode == "sync" and filt.uses_age and not filt.opts.delete_excluded:
        log.notice(None, "WARNING: sync with --min-age/--max-age: a source file excluded by age "
                   "(e.g. changed recently) counts as absent, so its older destination copy "
                   "WILL BE DELETED - this matches rclone; prefer copy for live data")
    bucket = _bucket(opts.bwlimit)
    if executor is not None and locations is not None:
        executor.start(_job(src, dst, opts, locations))
    deadline = time.monotonic() + opts.max_duration / 1e9 if opts.max_duration > 0 else None
    retries = max(1, opts.retries)
    attempt_no = 0
    result_errors: list[FileError] = []
    skipped: list[str] = []
    transfers = deletes = 0
    last: _Attempt | None = None
    for attempt_no in range(1, retries + 1):
        attempt = _Attempt(mode=mode, src=src, dst=dst, filt=filt, opts=opts, stats=stats,
                           backup=backup, deadline=deadline, bucket=bucket,
                           executor=executor, on_event=on_event, report=report,
                           compare_dest=compare_dest)
        last = attempt
        attempt.run()
        transfers += attempt.transfers
        deletes += attempt.deletes
        result_errors = attempt.errors
        skipped = attempt.skipped_changing
        if not attempt.errors:
            if attempt_no > 1:
                log.error(None, f"Attempt {attempt_no}/{retries} succeeded")
            break
        last_err = attempt.errors[-1].error
        if attempt.fatal is not None or any(getattr(e.error, "fatal", False)
                                            for e in attempt.errors):
            log.error(None, "Fatal error received - not attempting retries")
            break
        if not any(getattr(e.error, "retryable", True) for e in attempt.errors):
            log.error(None, "Can't retry any of the errors - not attempting retries")
            break
        # rclone logs this after the last attempt too
        log.error(None, f"Attempt {attempt_no}/{retries} failed with "
                  f"{len(attempt.errors)} errors and: {last_err}")
        if attempt_no < retries:
            stats.reset_errors()
            if opts.retries_sleep > 0:
                time.sleep(opts.retries_sleep / 1e9)
    assert last is not None
    if filt.single_file:
        stats.forget_checks()
    final_err: BaseException | None = None
    if result_errors:
        final_err = last.fatal or _pick_error(result_errors)
    # rclone's CopyFile (the source names one file) never says so
    if final_err is None and stats.transfers() == 0 and not filt.single_file:
        log.info(None, "There was nothing to transfer")
    if final_err is None and opts.error_on_no_transfer and stats.transfers() == 0:
        final_err = NoTransferError("no files transferred")
    code = exit_code_for(final_err)
    if skipped and opts.skip_changing:
        log.notice(None, f"{len(skipped)} file{'s' if len(skipped) != 1 else ''} changed "
                   "while being copied and left for a later run (--skip-changing): "
                   + ", ".join(skipped[:10]) + (", ..." if len(skipped) > 10 else ""))
        if final_err is None:
            code = EXIT_SKIPPED_CHANGING
    result = RunResult(stats=stats.snapshot(), errors=list(result_errors), error=final_err,
                       exit_code=code, attempts=attempt_no, transfers=transfers,
                       deletes=deletes, skipped_changing=list(skipped))
    message = failure_message(mode, result)
    if message and report_failure:
        log.notice(None, message)
    return result


def setup_failed(mode: str, stats: Stats, err: FatalError, *, report_failure: bool = False
                 ) -> RunResult:
    """A run that fails while it is set up (a bad --order-by, --compare-dest that cannot
    be opened): counted and logged as rclone's fatal error; its closing NOTICE is logged
    once, here only with ``report_failure``."""
    stats.error(err)
    log.error(None, "Fatal error received - not attempting retries")
    if report_failure:
        log.notice(None, f"Failed to {mode}: {err}")
    return RunResult(stats=stats.snapshot(), errors=[FileError("", err)], error=err,
                     exit_code=err.exit_code)


def failure_message(mode: str, result: RunResult) -> str | None:
    """rclone's closing NOTICE for a failed run (``Failed to sync with 2 errors: last
    error was: ...``), or None when the run did not fail."""
    if result.error is None or isinstance(result.error, NoTransferError):
        return None  # (rclone exits 9 for --error-on-no-transfer without a word)
    n = len(result.errors)
    if n > 1:
        return f"Failed to {mode} with {n} errors: last error was: {result.error}"
    return f"Failed to {mode}: {result.error}"


def plan_run(mode: str, src: Backend, dst: Backend, filt: Filter, opts: SyncOptions,
             sink: Callable[[Action], None], *, stop: threading.Event | None = None
             ) -> RunResult:
    """The planner alone: list, filter, march and compare as a ``--dry-run`` ``mode`` run
    does and hand every action to ``sink`` (from the march and checker threads) instead of
    carrying it out. Deletions come after every copy, as ``--delete-after`` orders them.
    ``stop`` set: stop early. Nothing is changed on either side."""
    if mode not in ("copy", "sync"):
        raise UsageError(f"unknown mode {mode!r}")
    from .record import replace

    popts = replace(opts, dry_run=True, retries=1)
    stats = Stats()
    attempt = _Attempt(mode=mode, src=src, dst=dst, filt=filt, opts=popts, stats=stats,
                       backup=None, deadline=None, bucket=None, sink=sink)
    if stop is not None:
        attempt.cancel = stop
    try:
        attempt.run()
    except DirNotFoundError as missing:
        attempt.errors.append(FileError("", missing))
    final = attempt.fatal or (_pick_error(attempt.errors) if attempt.errors else None)
    return RunResult(stats=stats.snapshot(), errors=list(attempt.errors), error=final,
                     exit_code=exit_code_for(final))


def _pick_error(errors: list[FileError]) -> BaseException:
    """The error that decides the exit code, in rclone's order of precedence: the last
    fatal error, else the last ordinary (retryable) one, else the last no-retry one (a
    graceful --max-transfer stop among them)."""
    for wanted in (lambda e: getattr(e, "fatal", False),
                   lambda e: getattr(e, "retryable", True)):
        for e in reversed(errors):
            if wanted(e.error):
                return e.error
    return errors[-1].error


def _bucket(text: str) -> TokenBucket | None:
    """The token bucket of ``--bwlimit``: the (upload) rate its timetable sets now."""
    if not text or text.lower() == "off":
        return None
    import datetime

    from .units import bwlimit_at, parse_bwlimit

    try:
        slots = parse_bwlimit(text)
    except UsageError as err:
        raise UsageError(f'invalid argument "{text}" for "--bwlimit" flag: {err}') from None
    rate = bwlimit_at(slots, datetime.datetime.now())[0]
    return TokenBucket(rate) if rate > 0 else None
