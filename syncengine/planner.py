"""The planner: list both trees, march them in lock-step, compare, and decide (the actions).

The planner changes nothing itself, with two exceptions rclone also makes during its march:
``--fix-case`` renames a destination name to the source's spelling and ``--track-renames``
moves destination files onto their new names (after the march), both server-side moves done
in line. It reads the directories (remote ones ahead of the
march, on threads), pairs source and destination entries, compares files (on the checker
pool when that takes I/O) and hands each decision as a typed action
(:mod:`syncengine.actions`) to its sink, the coordinator: copies and replacements (new small
files of a directory as one batch), time updates, deletions during the march
(``--delete-during``/``--delete-before``), directories to make and directory times to set
at once. What is decided only at the end of the march it keeps: the files ``--delete-after``
deletes (``deletions``), the directory times set last (``dir_times``) and the directories
removed last (``dirs_to_remove``).
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterator
from functools import partial

from . import actions, interactive, log, resume
from .backends.base import Backend, Entry, can_move
from .compare import COPY, NOT_FOUND, SET_MTIME, Comparer
from .deleter import move_between
from .errors import DirNotFoundError, NoRetryError, PysyncError
from .filter import Filter
from .march import go_equal_fold, name_key, pair_entries, sort_key
from .names import UnsafeNameError
from .options import SyncOptions
from .record import replace
from .report import DIFFER, MATCH, MISSING_ON_DST, MISSING_ON_SRC, SyncReport
from .report import ERROR as REPORT_ERROR
from .transfer import partial_name
from .transform import NameTransform
from .units import format_size_short
from .walk import list_dir_filtered

TYPE_CHECKING = False
if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor
    from typing import Any, Protocol

    from .accounting import Stats
    from .backends.scanahead import ScanHelper
    from .pools import Pool
else:
    Protocol = object

__all__ = ["Planner", "Sink", "rename_strategy", "READ_AHEAD", "SMALL_FILE", "BATCH",
           "LEAN_BATCH", "LEAN_DOWN_BATCH"]

READ_AHEAD = 16  # remote directories listed ahead of the march
#: local entries listed in line before a helper process walks a local destination's rest
#: (``PYSYNC_SCAN_AHEAD_AFTER``: another number; 0 from the start, -1 never)
SCAN_AHEAD_AFTER = 4096
FORESEE = 64  # at most this many listings read ahead (those foreseen included)
SMALL_FILE = 256 * 1024  # new files below this size are sent in batches of BATCH
BATCH = 8
LEAN_BATCH = 64  # ... when the batch is copied the lean way (smallcopy): one hand-off each
LEAN_DOWN_BATCH = 32  # ... when read from an SMB share in one round trip (copy_batch_down)

#: a queued directory: (source dir, destination dir, listed on source, on destination, depth)
_Dir = tuple[str, str, bool, bool, int]


def _scan_ahead_after() -> int:
    """:data:`SCAN_AHEAD_AFTER`, or the number ``PYSYNC_SCAN_AHEAD_AFTER`` gives."""
    try:
        return int(os.environ.get("PYSYNC_SCAN_AHEAD_AFTER", ""))
    except ValueError:
        return SCAN_AHEAD_AFTER


def _raw_listing(backend: Backend, path: str) -> list[Entry] | OSError:
    """``backend``'s listing of ``path`` as it answered, or the error it raised."""
    try:
        return list(backend.list_dir(path))
    except OSError as err:
        return err


def _plain_name(name: str) -> bool:
    """A name worth listing ahead: one path element (the march refuses the others)."""
    return name not in ("", ".", "..") and "/" not in name and "\\" not in name


class _Prelisted:
    """``backend`` whose listing of ``path`` was read ahead: ``list_dir(path)`` hands that
    answer back (or raises its error) once; anything else goes to ``backend``."""

    def __init__(self, backend: Backend, path: str, done: list[Entry] | OSError) -> None:
        self._backend = backend
        self._path = path
        self._done: list[Entry] | OSError | None = done

    def list_dir(self, path: str, want_stat: bool = True) -> Iterator[Entry]:
        done, self._done = self._done, None
        if path != self._path or done is None:
            return self._backend.list_dir(path, want_stat)  # type: ignore[call-arg]
        if isinstance(done, OSError):
            raise done
        return done  # type: ignore[return-value]  # as is: a march.Listing stays one

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


class _Pending(Protocol):
    """A listing read ahead: a listing thread's Future, or a backend's listing sent from
    the march's thread (``list_ahead``, e.g. :class:`smb.ListingAhead`)."""

    def done(self) -> bool: ...

    def exception(self) -> BaseException | None: ...

    def result(self) -> Any: ...

    def cancel(self) -> bool: ...


class Sink(Protocol):
    """Where the planner's decisions go (the coordinator). Called from the march thread and
    the checker threads."""

    def put(self, action: actions.Action) -> None:
        """Carry out (or queue) a Copy, Replace, SetMtime, Delete or SetDirTime."""
        ...

    def put_batch(self, batch: list[actions.Copy]) -> None:
        """Queue new small files of one directory, copied one after the other."""
        ...

    def make_dir(self, action: actions.Mkdir) -> bool | None:
        """Make a directory now: True made with its time, False made without (or not
        made: --dry-run), None failed (a counted error)."""
        ...

    def remove_partial(self, path: str, what: str) -> None:
        """Remove a stale partial file of an earlier run (--resume)."""
        ...


class Planner:
    """The decisions of one attempt of a copy or sync: ``march`` walks both trees."""

    def __init__(self, *, sync: bool, src: Backend, dst: Backend, filt: Filter,
                 opts: SyncOptions, stats: Stats, comparer: Comparer, sink: Sink,
                 error: Callable[..., None], cancel: threading.Event,
                 stopping: threading.Event, set_dir_times: bool, partials: bool,
                 report: SyncReport | None = None, compare_dest: tuple[Backend, ...] = (),
                 plan_only: bool = False) -> None:
        self.src = src
        self.dst = dst
        self.filt = filt
        self.opts = opts
        self.stats = stats
        self.comparer = comparer
        self.sink = sink
        self.error = error
        self.cancel = cancel
        self.stopping = stopping
        self.sync = sync
        self.deleting = sync  # False in --delete-before's copy pass, as rclone's
        self.delete_mode = ("before" if opts.delete_before else
                            "during" if opts.delete_during else "after")
        self.set_dir_times = set_dir_times
        self._lock = threading.Lock()
        # --resume: partial files (and manifests) of earlier runs kept for this one
        self.ours = resume.ours_pattern(opts.partial_suffix) if (
            opts.resume and partials) else None
        self.kept_partials: set[str] = set()
        # remote listings are read ahead (a round trip each): sent from the march's thread
        # where the backend can (``list_ahead``), else on threads made when first needed;
        # local ones are faster read in line than handed between threads under the GIL
        self._remote = src.features.name != "local" or dst.features.name != "local"
        self._readahead: ThreadPoolExecutor | None = None
        self._listings: dict[tuple[str, str], _Pending] = {}
        # a big local tree: once the march listed SCAN_AHEAD_AFTER local entries in line, a
        # helper process walks the rest of a local destination (backends.scanahead)
        self._local_listed = 0
        self._helper: ScanHelper | None = None
        self._helper_tried = False
        self.scan_ahead_after = _scan_ahead_after()
        # listings read ahead for subdirectories the march has not queued yet: which
        # ones each queued directory's listing foresaw, and the listings already looked at
        self._foreseen: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self._looked: set[tuple[str, str]] = set()
        self.to_delete: list[actions.Delete] = []  # --delete-after's, in march order
        self.dirs_to_remove: list[str] = []
        self.dir_items: list[tuple[str, int, bool]] = []  # (path, src mtime, existed on dst)
        self.modified_dirs: set[str] = set()
        # -M: directories found on both sides; rclone's march hands them on wrapped, so
        # they get only their source's time as metadata (new ones get all of it)
        self.matched_dirs: set[str] = set()
        self.dir_sources: dict[str, str] = {}  # new directory -> its source, where they differ
        self.dir_meta = False  # -M between backends with directory metadata (coordinator)
        self.src_empty_dirs: set[str] = set()
        # destination directories known only by name (--list-cutoff's on-disk sort)
        self.bare_dirs: set[str] = set()
        self.dir_window = max(opts.modify_window, dst.features.precision_ns,
                              src.features.precision_ns)
        self.normalize = not opts.no_unicode_normalization
        # --ignore-case-sync: names pair whatever their case, as on a case-insensitive disk
        self.fold = dst.features.case_insensitive or opts.ignore_case_sync
        # --fix-case: a destination name spelt otherwise than its source twin is renamed
        self.fix_case = opts.fix_case and not opts.immutable and not plan_only
        self.sort_key = sort_key(self.normalize, self.fold)
        # --name-transform: a source name is matched (and written) as transformed
        self.xform = NameTransform(opts.name_transform, error=self._xform_error) \
            if opts.name_transform else None
        self.src_sort_key = self.sort_key if self.xform is None else sort_key(
            self.normalize, self.fold, self.xform.name)
        # a remote source's backslash name is refused only where the destination takes a
        # backslash for a separator (a local or fsspec disk on Windows); rclone copies it
        # verbatim, and on SMB the name encoding writes it as an ordinary "＼" (so an SMB
        # destination's own "\" names, listed from "＼", are ordinary names too)
        self.backslash_ok = os.sep == "/" or dst.features.name in ("smb", "sftp")
        self.include_all_dst = sync and filt.opts.delete_excluded
        self.max_depth = filt.opts.max_depth
        self.batch_size = BATCH  # new small files per batch (the coordinator may say more)
        # the report files (--combined & co.): None when none was asked for
        self.report = report if report is not None and report.active else None
        # --track-renames: source-only files wait here for a destination-only twin
        self.tracking = False
        self.strategy: frozenset[str] = frozenset()
        self.rename_check: list[Entry] = []
        # --compare-dest: a file equal to its twin in one of these is not copied
        nocmp = replace(opts, ignore_existing=False, ignore_times=False, update=False)
        self.compare_dest = [(b, Comparer(src, b, nocmp)) for b in compare_dest]
        # --no-traverse (copy) and --no-check-dest (copy): the destination is not listed
        self.dst_listed = sync or not (opts.no_traverse or opts.no_check_dest)

    def close(self) -> None:
        """Stop the read-ahead threads and helper processes."""
        self._stop_helper()
        if self._readahead is not None:
            self._readahead.shutdown(wait=True, cancel_futures=True)
        for pending in self._listings.values():  # answers on their way: taken off unheard
            pending.cancel()
        self._listings.clear()
        self._foreseen.clear()

    def _stop_helper(self) -> None:
        if self._helper is not None:
            self._helper.close()
        self._helper = None
        self._helper_tried = False
        self._local_listed = 0

    def _start_helper(self, stack: list[_Dir]) -> None:
        """The local tree is big: a helper process walks the rest of a local destination,
        the directories queued on ``stack`` and below, in the march's order, while this
        thread lists the source and decides (measured: noop-sync-small 0.80x -> 0.63x
        rclone; a helper for the source as well was slower on two cores, 0.69x).

        Only where the march enters every directory the helper walks, as it found them:
        the destination listed, no filter (or --delete-excluded, without --max-depth), no
        -L or --fix-case, not --delete-before's deletion pass (the caller checks). Copy
        does not enter destination-only directories: their listings are held, and past
        :data:`scanahead.HOLD` the helper stops."""
        from .backends.scanahead import ScanHelper

        self._helper_tried = True
        unfiltered = not self.filt.active or (self.include_all_dst and self.max_depth <= 0)
        # not with -L: a followed link may lead to a folder the march changes before it
        # gets there through the link (read ahead, it would be listed as it was: the copy
        # made twice); nor with --fix-case: the march renames destination folders
        if self.dst.features.name == "local" and unfiltered and self.dst_listed and \
                not getattr(self.dst, "copy_links", False) and not self.fix_case:
            starts = [(item[1], item[4]) for item in reversed(stack) if item[3]]
            key = self.sort_key if not self.fold else None
            if starts:  # else nothing of the destination is left to list (a new copy)
                self._helper = ScanHelper.start(self.dst,  # type: ignore[arg-type]
                                                starts, self.max_depth, key)

    # ----- listings ----------------------------------------------------------------------

    def _list(self, backend: Backend, path: str, side: str, include_all: bool,
              lister: Backend | None = None) -> tuple[list[Entry], set[str]]:
        """The filtered listing of ``path`` and the name keys of the entries refused for
        their names (a source's refused entry keeps its destination twin out of this
        directory's deletions: --delete-during/before delete as they go). ``lister``
        lists in ``backend``'s place (a listing read ahead, :class:`_Prelisted`)."""
        refused: set[str] = set()

        def on_unsafe(where: str, err: UnsafeNameError) -> None:
            self.error(where, err)  # counted: sync deletes nothing afterwards
            if side == "source":
                refused.add(name_key(err.name, self.normalize, self.fold))

        try:
            entries = list_dir_filtered(lister or backend, self.filt, path,
                                        include_all=include_all,
                                        on_unsafe=on_unsafe, strict_names=side == "source",
                                        sort_key=self.src_sort_key if side == "source"
                                        else self.sort_key,
                                        backslash_ok=self.backslash_ok and (
                                            side == "source" or backend.features.name == "smb"),
                                        on_listed=self.stats.listed,
                                        on_entry_error=self.error)
        except DirNotFoundError:
            if side == "source" or path:
                raise
            return [], refused
        if 0 < self.opts.list_cutoff <= len(entries):
            entries = self._sorted_on_disk(backend, entries)
        return entries, refused

    def _sorted_on_disk(self, backend: Backend, entries: list[Entry]) -> list[Entry]:
        """--list-cutoff: a directory of that many entries is sorted on disk by rclone,
        which says so, and then knows its subdirectories without their times (they read
        as --default-time). pysync sorts in memory, but tells and times alike."""
        log.notice(backend.describe(), "Switching to on disk sorting as more than "
                   f"{self.opts.list_cutoff} entries in one directory detected")
        if not any(e.is_dir for e in entries):
            return entries
        import time

        from .units import parse_duration

        default = time.time_ns() - parse_duration(self.opts.default_time)
        if abs(default - round(default, -9)) < 10_000_000:  # a date, not a duration
            default = round(default, -9)
        for i, e in enumerate(entries):  # in place: the sorted listing keeps its keys
            if e.is_dir:
                entries[i] = e._replace(mtime_ns=default)
                if backend is self.dst:
                    self.bare_dirs.add(e.path)
        return entries

    def _fetch(self, side: str, path: str) -> tuple[list[Entry], set[str]]:
        """The listing of ``path`` on ``side``: the one read ahead if any (its exception,
        if listing failed, is raised here as it would have been), else read now."""
        future = self._listings.pop((side, path), None)
        backend, include_all = (self.src, False) if side == "source" else \
            (self.dst, self.include_all_dst)
        if future is None:
            if self._helper is not None and side == "destination":
                done = self._helper.take(path)
                if done is not None:
                    return self._list(backend, path, side, include_all,
                                      _Prelisted(backend, path, done))
            listed = self._list(backend, path, side, include_all)
            if backend.features.name == "local":
                self._local_listed += len(listed[0])
            return listed
        self._looked.discard((side, path))
        done = future.result()
        if isinstance(done, tuple):
            return done  # type: ignore[no-any-return]
        # a foreseen listing is the backend's answer only: filtered here, as in line
        return self._list(backend, path, side, include_all, _Prelisted(backend, path, done))

    def _list_failed(self, side: str, path: str, err: OSError) -> None:
        """A listing of ``side`` failed: counted, and logged in rclone's march's words
        (the root's against the remote itself, as rclone logs it)."""
        if path:
            self.error(path, err, log_it=f"error reading {side} directory: {err}")
            return
        backend = self.src if side == "source" else self.dst
        log.error(backend.describe(), f"error reading {side} root directory: {err}")
        self.error(path, err)

    def _read_ahead(self, stack: list[_Dir]) -> None:
        """Start listing the remote directories the march will take next (top of the
        stack). A local side is listed when the march gets to it, on the march's thread:
        handed to the listing threads it waited for the GIL behind the remote listings
        (an SMB no-op sync of 81 directories: march 40 ms -> 32 ms median)."""
        window = stack[-READ_AHEAD:]
        for spath, dpath, in_src, in_dst, _depth in window:
            for side, path, wanted, backend, include_all in (
                    ("source", spath, in_src, self.src, False),
                    ("destination", dpath, in_dst and self.dst_listed, self.dst,
                     self.include_all_dst)):
                if wanted and (side, path) not in self._listings and \
                        backend.features.name != "local":
                    self._listings[(side, path)] = self._sent_ahead(backend, path) or \
                        self._threads().submit(self._list, backend, path, side, include_all)
        for item in reversed(window):  # the march's next directory first
            if len(self._listings) >= FORESEE:
                break
            self._foresee(item)

    def _threads(self) -> ThreadPoolExecutor:
        """The listing threads, made at the first listing handed to them (an SMB share's
        are all sent from the march's thread: no threads, nor their import)."""
        if self._readahead is None:
            from concurrent.futures import ThreadPoolExecutor

            self._readahead = ThreadPoolExecutor(
                max_workers=max(1, min(8, self.opts.checkers)), thread_name_prefix="list")
        return self._readahead

    @staticmethod
    def _sent_ahead(backend: Backend, path: str) -> _Pending | None:
        """The listing of ``path`` sent from this thread by a backend that can
        (``list_ahead``: an SMB share's compound, its answers on their way), shaped as a
        listing thread's future of :func:`_raw_listing`; None: hand it to a thread."""
        ahead = getattr(backend, "list_ahead", None)
        return None if ahead is None else ahead(path)

    def _foresee(self, item: _Dir) -> None:
        """Start listing the subdirectories of a queued directory whose remote listing is
        in: the march queues them only when it gets to that directory, and a tree of
        many small folders would otherwise be listed a few round trips at a time.

        A foreseen listing is the backend's answer only (no filter, log line or count
        until the march takes it, :meth:`_fetch`), and is dropped unheard when the march
        does not enter that subdirectory (:meth:`_drop_unforeseen`)."""
        spath, dpath, in_src, in_dst, depth = item
        if 0 < self.max_depth <= depth:
            return  # its subdirectories are not entered
        filt = self.filt if self.filt.active else None
        for side, path, wanted, backend, include_all in (
                ("source", spath, in_src, self.src, False),
                ("destination", dpath, in_dst and self.dst_listed, self.dst,
                 self.include_all_dst)):
            key = (side, path)
            future = self._listings.get(key)
            if not wanted or future is None or not future.done() or key in self._looked:
                continue
            self._looked.add(key)
            if future.exception() is not None:
                continue
            done = future.result()
            entries = done[0] if isinstance(done, tuple) else done
            if isinstance(entries, OSError):
                continue  # the march meets the error when it takes the listing
            prefix = f"{path}/" if path else ""
            for e in entries:
                if not e.is_dir or not e.path.startswith(prefix) or \
                        not _plain_name(e.path[len(prefix):]) or \
                        (filt is not None and not include_all and not filt.include_dir(e.path)):
                    continue
                child = (side, e.path)
                if child in self._listings:
                    continue
                if len(self._listings) >= FORESEE:
                    return
                self._listings[child] = self._sent_ahead(backend, e.path) or \
                    self._threads().submit(_raw_listing, backend, e.path)
                self._foreseen.setdefault((spath, dpath), []).append(child)

    def _drop_unforeseen(self, spath: str, dpath: str, children: list[_Dir]) -> None:
        """The march queued ``children`` of this directory: listings foreseen for any
        other subdirectory are dropped (not needed: copy's destination-only folders,
        excluded ones, a failed listing on the other side)."""
        foreseen = self._foreseen.pop((spath, dpath), None)
        if not foreseen:
            return
        wanted = {("source", c[0]) for c in children if c[2]}
        wanted.update(("destination", c[1]) for c in children if c[3] and self.dst_listed)
        for key in foreseen:
            if key not in wanted:
                future = self._listings.pop(key, None)
                if future is not None:
                    future.cancel()

    # ----- the march ---------------------------------------------------------------------

    def march(self, *, checkers: Pool, deletes_only: bool = False) -> None:
        """Walk both trees directory by directory and decide for each pair.

        A directory is listed at its own path on each side: names are matched after NFC
        normalisation, so the destination may spell a directory differently.
        ``deletes_only``: rclone's --delete-before pass (deletions and directory times).
        """
        stack: list[_Dir] = [("", "", True, True, 1)]
        if self.filt.single_file and not deletes_only and self._target_blocked():
            return
        fast_skip = self.comparer.fast_skip()
        self._listings.clear()
        self._foreseen.clear()
        self._looked.clear()
        try:
            self._march(stack, checkers, deletes_only, fast_skip)
        finally:
            self._stop_helper()
            for pending in self._listings.values():  # not taken (stopped early)
                pending.cancel()
            self._listings.clear()

    def _march(self, stack: list[_Dir], checkers: Pool, deletes_only: bool,
               fast_skip: Callable[[Entry, Entry], bool] | None) -> None:
        while stack:
            if self.cancel.is_set() or self.stopping.is_set():
                return
            if self._local_listed >= self.scan_ahead_after >= 0 and \
                    not self._helper_tried and not deletes_only:
                self._start_helper(stack)
            if self._remote:
                self._read_ahead(stack)
            spath, dpath, in_src, in_dst, depth = stack.pop()
            refused: set[str] = set()
            enter = True
            src_failed = False  # the source's listing failed (its error said)
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
                    src_failed = True
                    if self.sync and self.delete_mode != "after":
                        log.error(None, "WARNING: the source root does not exist, yet "
                                  f"--delete-{self.delete_mode} deletes the destination "
                                  "root's files as rclone does - check the source path")
            except OSError as err:
                self._list_failed("source", spath, err)
                # rclone's march matches the destination's listing against the source's
                # before it reports the source's error: the destination's entries are
                # destination-only (reported, their duplicates noted, files deleted by
                # --delete-during/--delete-before, s94002-c1), and nothing below is
                # listed (processJob returns no jobs)
                src_entries, src_failed, in_src, enter = [], True, False, False
                if self.sync and self.delete_mode != "after" and in_dst and self.dst_listed:
                    log.error(spath or None, "WARNING: the source directory could not be "
                              f"read, yet --delete-{self.delete_mode} deletes the "
                              "destination's files in it as rclone does - check the source")
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
                    if not src_failed:  # after the source's error rclone says nothing
                        self._list_failed("destination", dpath, err)
                    # rclone's march matches the source's entries as new (files copied,
                    # folders made) but gives up what is below them (processJob returns
                    # no jobs on a listing error) (s81010-c1)
                    in_dst = enter = False
            if not spath and self.filt.single_target:
                self._march_renamed_file(src_entries, dst_entries)
                return
            if refused and dst_entries:
                dst_entries = [e for e in dst_entries
                               if name_key(e.name, self.normalize, self.fold) not in refused]
            if self.ours is not None and dst_entries:
                dst_entries = self._set_aside_partials(dst_entries, src_entries, dpath)
            deeper = (self.max_depth <= 0 or depth < self.max_depth) and enter
            if in_src and not deletes_only:
                self._track_empty_src_dirs(spath, src_entries)
            children: list[_Dir] = []
            unchanged = 0
            small: list[Entry] = []  # new small files of this directory, sent in batches
            report = self.report
            for s, d in self._pair(src_entries, dst_entries):
                if report is not None and (not deletes_only or s is None):
                    self._report_pair(s, d)
                if s is not None and s.is_dir:
                    # rclone: an existing directory keeps its destination spelling, new
                    # files and directories take the source's (src.Remote())
                    target = d.path if d is not None else self.dst_path(s)
                    if not deletes_only:
                        self._dir_pair(s, d, target)
                    elif d is not None:  # rclone's delete pass fixes matched dirs' times too
                        self._dir_time_now(s, d, target)
                    if self.fix_case and d is not None and s.path != d.path:
                        # in both passes: rclone's Match renames a directory in the
                        # --delete-before pass as well (s94009-c1)
                        self._fix_dir_case(d.path, s.path)
                    # a directory at the depth limit is handled, not entered; the
                    # --delete-before pass enters only directories on both sides (rclone's
                    # SrcOnly does not recurse in that pass)
                    if deeper and (d is not None or not deletes_only):
                        children.append((s.path, target, True, d is not None, depth + 1))
                elif s is not None:
                    if deletes_only:
                        continue
                    if d is None:
                        if self.tracking:
                            self.rename_check.append(s)
                            continue
                        if self.compare_dest and self._in_compare_dest(s, None, s.path):
                            continue
                        log.debug(s.path, NOT_FOUND)
                        if 0 <= s.size < SMALL_FILE and not self.opts.interactive:
                            small.append(s)
                            if len(small) == self.batch_size:
                                self._batch(small)
                                small = []
                        else:
                            self._transfer(s, None, self.dst_path(s))
                    elif fast_skip is not None and (not self.fix_case or s.path == d.path) \
                            and fast_skip(s, d):
                        unchanged += 1  # the common case of a re-run: decided in bulk
                        if report is not None:
                            report.log(MATCH, s, d)
                    elif self.comparer.needs_io(s, d):
                        checkers.submit(partial(self.check, s, d))
                    else:
                        self.check(s, d)
                elif d is not None and self.deleting:
                    if d.is_dir:
                        self.dirs_to_remove.append(d.path)
                        if deeper or (self.include_all_dst and enter):
                            children.append(("", d.path, False, True, depth + 1))
                    elif self.delete_mode == "after":
                        if not deletes_only:
                            self.to_delete.append(actions.Delete(d.path, d.size, d.mtime_ns))
                    elif self.delete_mode == "during" or deletes_only:
                        self.sink.put(actions.Delete(d.path, d.size, d.mtime_ns))
                elif d is not None and d.is_dir and report is not None and not deletes_only \
                        and enter:
                    # copy with a report: rclone lists destination-only directories too,
                    # so that every file is in the report
                    children.append(("", d.path, False, True, depth + 1))
            if small:
                self._batch(small)
            if unchanged:
                self.stats.add_checks(unchanged)
            if self._foreseen:
                self._drop_unforeseen(spath, dpath, children)
            stack.extend(reversed(children))

    def _pair(self, src: list[Entry], dst: list[Entry]
              ) -> Iterator[tuple[Entry | None, Entry | None]]:
        return pair_entries(src, dst, normalize=self.normalize, fold=self.fold,
                            dst_only=self.deleting or self.report is not None,
                            xform=self.xform.name if self.xform is not None else None)

    def dst_path(self, s: Entry) -> str:
        """Where a new source entry goes: its path, transformed by --name-transform."""
        return s.path if self.xform is None else self.xform.path(s.path, s.is_dir)

    def _xform_error(self, path: str, err: BaseException, message: str) -> None:
        self.error(path, err, log_it=message)

    def can_track(self, strategy: frozenset[str]) -> bool:
        """rclone's reasons to ignore --track-renames (each an ERROR, not counted)."""
        return can_track_renames(self.dst, self.comparer.hash_kind, strategy, self.sync)

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

    def track_renames(self) -> None:
        """--track-renames: move each destination-only file that matches a source-only one
        to the source's name (server-side); copy the source files left over."""
        log.info(self.dst.describe(), "Making map for --track-renames")
        sizes = {s.size for s in self.rename_check}
        by_id: dict[str, list[Entry]] = {}
        for d in (a.entry for a in self.to_delete):
            if d.size in sizes:
                # a checking transfer ("renaming") in rclone's makeRenameMap
                with self.stats.checking(d.path, "renaming"):
                    key = self._rename_id(self.dst, d)
                if key:
                    by_id.setdefault(key, []).append(d)
        log.info(self.dst.describe(), "Finished making map for --track-renames")
        renamed: set[str] = set()
        for s in self.rename_check:
            key = self._rename_id(self.src, s)
            d = self._pop_rename(by_id.get(key, []), s) if key else None
            if d is None or not self._rename(d, s):
                log.debug(s.path, NOT_FOUND)
                # rclone's renamer hands it to the transfers without marking its folder
                # modified (sync.go pairRenamer): its time is not set at the end for it
                self.sink.put(actions.copy_action(s, None, self.dst_path(s)))
                continue
            renamed.add(d.path)
        if renamed:
            self.to_delete = [a for a in self.to_delete if a.path not in renamed]
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

    def _move_file(self, d: Entry, new: str) -> bool:
        """Move destination file ``d`` to ``new`` on the server (rclone's operations.Move,
        a dry-run notice under --dry-run); False when the server cannot, errors raised.
        Counted as rclone's Move counts it: a checking transfer ("moving")."""
        with self.stats.checking(d.path, "moving"):
            return self._move_file_checked(d, new)

    def _move_file_checked(self, d: Entry, new: str) -> bool:
        flag = interactive.skip(self.opts, d.path, f"move to {new}")
        if flag:
            log.notice(d.path, f"Skipped move to {new} as {flag} is set (size "
                       f"{format_size_short(d.size)})")
            self.stats.renamed()  # rclone's move() counts a skipped one as renamed
            return True
        try:
            if new != d.path and (name_key(new) == name_key(d.path) or (
                    self.dst.features.case_insensitive and go_equal_fold(new, d.path))):
                # rclone's needsMoveCaseInsensitive: names that differ only in their
                # Unicode form (or case, where the remote ignores it) move through a
                # temporary name, each step a move of its own (MoveCaseInsensitive)
                moved = self._move_via_tmp(d, new)
            else:
                moved = move_between(self.dst, d.path, self.dst, new)
        except Exception as err:  # rclone's Move: logged and counted where it fails
            self.error(d.path, err, log_it=f"Couldn't move: {err}")
            err.counted = True  # type: ignore[attr-defined]
            raise
        if not moved:
            return False
        self.stats.server_side_move(max(d.size, 0), checking=True)
        self.stats.renamed()
        log.info(d.path, f"Moved (server-side) to: {new}")
        return True

    def _move_via_tmp(self, d: Entry, new: str) -> bool:
        """Move ``d`` to ``new`` through ``<new>-rclone-move-<8 random>``: two server-side
        moves, each logged and accounted as a transfer (rclone's MoveTransfer)."""
        tmp = _tmp_move_name(new)
        if self.dst.stat(tmp) is not None:
            raise OSError(errno.EEXIST, "found an already existing file with a randomly "
                          "generated name. Try the operation again")
        size = max(d.size, 0)
        for a, b in ((d.path, tmp), (tmp, new)):
            tr = self.stats.start_transfer(a, size)
            try:
                moved = move_between(self.dst, a, self.dst, b)
            except BaseException as err:
                tr.done(err)
                raise
            if not moved:
                tr.discard()
                return False
            self.stats.server_side_move(size)
            self.stats.renamed()
            tr.done()
            log.info(a, f"Moved (server-side) to: {b}")
        return True

    def _rename(self, d: Entry, s: Entry) -> bool:
        """--track-renames: move destination file ``d`` to ``s``'s name."""
        try:
            if not self._move_file(d, s.path):
                return False
        except Exception as err:
            log.debug(s.path, f"Failed to rename to {d.path!r}: {err}")
            return False
        log.info(s.path, f'Renamed from "{d.path}"')
        return True

    def _in_compare_dest(self, s: Entry, d: Entry | None, path: str) -> bool:
        """--compare-dest: ``s`` equals the file at ``path`` in one of the compare
        directories (rclone's compareDest: size, time or hash, no time update).
        --copy-dest (the same directories): that file is copied to the destination instead
        of ``s`` (rclone's copyDest); ``d`` is the destination file it replaces.

        ``path`` is the destination file's name where there is one (rclone looks the file
        up by ``dst.Remote()``, before --fix-case renames it), the source's otherwise."""
        copy_dest = bool(self.opts.copy_dest)
        for backend, comparer in self.compare_dest:
            try:
                c = backend.stat(path)
            except OSError as err:
                self.error(s.path, err, log_it=f"Failed to check --compare-dest: {err}")
                return False
            if c is None or c.is_dir:
                continue
            if comparer.equal(s, c).action == COPY:
                if copy_dest:
                    log.debug(s.path, "Destination not found in --copy-dest")
                continue
            if not copy_dest:
                log.debug(s.path, "Destination found in --compare-dest, skipping")
                return True
            if d is not None and self.opts.immutable:
                # never replaced (rclone's run refuses these files as modified
                # immutables too, s24026-c0)
                return False
            if d is not None:  # rclone: copied unless the destination equals the source
                same = self.comparer.equal(s, d)
                if same.action == SET_MTIME:
                    self.sink.put(actions.SetMtime(s.path, d.path, s.size, s.mtime_ns,
                                                   same.reason))
                if same.action != COPY:
                    log.debug(s.path, "Unchanged skipping")
                    return True
            return self.sink.copy_dest(s, d, backend, c)
        return False

    def _fix_file_case(self, s: Entry, d: Entry) -> Entry:
        """--fix-case: move the destination file to the source's spelling (rclone's
        operations.Move, then 'Fixed case by renaming to'); the entry as it now is."""
        try:
            if not self._move_file(d, s.path):
                raise OSError(errno.EXDEV, "can't move")
        except Exception as err:
            what = f"Error while attempting to rename to {s.path}: {err}"
            if getattr(err, "counted", False):
                log.error(d.path, what)
            else:
                self.error(d.path, err, log_it=what)
            return d
        log.info(d.path, f"Fixed case by renaming to: {s.path}")
        return d._replace(path=s.path)

    def _fix_dir_case(self, old: str, new: str) -> None:
        """--fix-case: rename a destination directory to the source's spelling through a
        temporary name (rclone's DirMoveCaseInsensitive). As in rclone, the march goes on
        listing the old name."""
        tmp = _tmp_move_name(new)
        if self.opts.dry_run:
            log.notice(old, "Skipped dirMove as --dry-run is set")
            log.notice(tmp, "Skipped dirMove as --dry-run is set")
            log.info(old, f"Fixed case by renaming to: {new}")
            self.stats.renamed(2)  # rclone's DirMove counts a skipped one too
            return
        try:
            self.dst.rename(old, tmp)
            self.stats.renamed()  # each DirMove that worked (rclone)
            self.dst.rename(tmp, new)
            self.stats.renamed()
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
            # rclone looks the source's own name up, even under --name-transform (where
            # the twin found then pairs only if the transform leaves the name as it is)
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

    def _target_blocked(self) -> bool:
        """A one-file copy whose destination path runs through a file: rclone's lookup
        of the destination file fails first (``lstat afile/x/a: not a directory``),
        a counted error of the run, with no line of its own."""
        check = getattr(self.dst, "lookup_error", None)
        if check is None:
            return False
        err = check(self.filt.single_target or self.filt.single_file)
        if err is None:
            return False
        self.error("", err)
        return True

    def _march_renamed_file(self, src_entries: list[Entry], dst_entries: list[Entry]
                            ) -> None:
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
            log.debug(s.path, NOT_FOUND)
            self._transfer(s, None, target)
        else:
            self.check(s, d)

    def _set_aside_partials(self, dst_entries: list[Entry], src_entries: list[Entry],
                            dpath: str) -> list[Entry]:
        """--resume: take the partial files and manifests out of a destination listing
        (they are not files of the tree); keep those a source file of this very version
        may resume from, have the others removed (orphans of earlier runs or versions)."""
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
                self.sink.remove_partial(e.path, "stale partial file of an earlier run")
        out = set(ours)
        return [e for e in dst_entries if e not in out]

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

    # ----- files -------------------------------------------------------------------------

    def check(self, s: Entry, d: Entry) -> None:
        """Compare a source file with its destination twin and decide (a copy, a time
        update, or nothing); an error is counted against the file."""
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
            # rclone's pairChecker: --compare-dest/--copy-dest look the file up by the
            # destination's name (a copy-dest copy lands there), then --fix-case renames it
            # (s35049-c2)
            if decision.action == COPY and self.compare_dest and \
                    self._in_compare_dest(s, d, d.path):
                if self.fix_case and s.path != d.path:
                    self._fix_file_case(s, d)
                return
            if self.fix_case and s.path != d.path:
                d = self._fix_file_case(s, d)
            if decision.action == COPY:
                if self.opts.immutable:
                    err = NoRetryError("immutable file modified")
                    self.error(d.path, err, log_it="Source and destination exist but do not "
                               f"match: {err}")
                    return
                # rclone's Copy transforms the replaced file's name once more
                self._transfer(s, d, d.path if self.xform is None else
                               self.xform.path(d.path, False), decision.reason)
            elif decision.action == SET_MTIME:
                self.sink.put(actions.SetMtime(s.path, d.path, s.size, s.mtime_ns,
                                               decision.reason))
        except Exception as err:  # counted per file, never swallowed
            if self.report is not None:
                self.report.log(REPORT_ERROR, s, d)
            self.error(s.path, err, log_it=f"Failed to check: {err}" if not isinstance(
                err, PysyncError) else str(err))
        finally:
            self.stats.end_check(s.path)

    def _transfer(self, s: Entry, d: Entry | None, dst_path: str, reason: str = "") -> None:
        self.mark_modified(dst_path.rpartition("/")[0])
        self.sink.put(actions.copy_action(s, d, dst_path, reason))

    def _batch(self, batch: list[Entry]) -> None:
        """New small files of one directory, copied one after the other by one worker: the
        per-file cost of the pool (task, future, wake-ups) is paid once per batch."""
        self.mark_modified(self.dst_path(batch[0]).rpartition("/")[0])
        self.sink.put_batch([actions.Copy(s.path, self.dst_path(s), s.size, s.mtime_ns)
                             for s in batch])

    # ----- directories -------------------------------------------------------------------

    def mark_modified(self, path: str) -> None:
        """The contents of destination directory ``path`` change: its time is set last."""
        with self._lock:
            self.modified_dirs.add(path)

    def _dirs_equal(self, s: Entry, d: Entry | None) -> bool:
        """rclone's DirsEqual for a source directory and its destination twin."""
        o = self.opts
        if d is None:
            return False
        if o.size_only or o.immutable or o.ignore_existing or not (
                self.set_dir_times or self.dir_meta):
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
        if d is not None and self.opts.metadata:
            self.matched_dirs.add(target)
        elif self.opts.metadata and target != s.path:  # --name-transform: -M reads the
            self.dir_sources[target] = s.path  # new directory's metadata at its source
        if d is None:
            if self.opts.create_empty_src_dirs:
                made = self.sink.make_dir(actions.Mkdir(target, s.mtime_ns))
            self.mark_modified(target)
            if made is None:
                return  # rclone queues no delayed time for a directory it failed to make
        elif self._dir_time_now(s, d, target):
            if self.opts.dry_run:
                # rclone's SetDirModTime returns no directory under --dry-run, so the delayed
                # item it queues names the root: it is logged as the Fs, if the root changed
                self.dir_items.append(("", s.mtime_ns, False))
                return
        if self.set_dir_times and s.mtime_ns > 0:  # 0: the source does not know the time
            self.dir_items.append((target, s.mtime_ns, d is not None or bool(made)))

    def _dir_time_now(self, s: Entry, d: Entry, target: str) -> bool:
        """Set an existing destination directory's time at once when it differs (rclone's
        copyDirMetadata, also run by the --delete-before pass); True when it did."""
        if self._dirs_equal(s, d) or s.mtime_ns <= 0:
            return False
        # -M --create-empty-src-dirs: rclone's march copies the directory's metadata (its
        # time too) even under --no-update-dir-modtime
        if not self.set_dir_times and not (self.dir_meta and self.opts.create_empty_src_dirs):
            return False
        self.sink.put(actions.SetDirTime(target, s.mtime_ns, existed=True))
        return True

    def dir_times(self, create_empty: bool) -> list[actions.SetDirTime]:
        """The delayed directory times, in the order they are set: of directories whose
        contents changed, deepest first, each marking its parent as changed too (rclone's
        delayed directory modtimes). Source directories with no file below them are left
        out unless ``create_empty`` (--create-empty-src-dirs)."""
        if not self.set_dir_times:
            return []
        by_level: dict[int, list[tuple[str, int, bool]]] = {}
        for item in self.dir_items:
            by_level.setdefault(item[0].count("/") + 1 if item[0] else 0, []).append(item)
        out: list[actions.SetDirTime] = []
        for level in sorted(by_level, reverse=True):
            for path, mtime, existed in by_level[level]:
                if path not in self.modified_dirs:
                    continue
                if not create_empty and path in self.src_empty_dirs:
                    continue
                self.modified_dirs.add(path.rpartition("/")[0])
                out.append(actions.SetDirTime(path, mtime, existed=existed,
                                              reason="contents changed"))
        return out


def can_track_renames(dst: Backend, hash_kind: str | None, strategy: frozenset[str],
                      sync: bool) -> bool:
    """Whether --track-renames can work (rclone's checks, in its order); when not, rclone's
    ERROR ``Ignoring --track-renames as ...`` is logged (not counted as an error)."""
    why = None
    if not can_move(dst):
        why = "the destination does not support server-side move or copy"
    elif "hash" in strategy and hash_kind is None:
        why = "the source and destination do not have a common hash"
    elif not sync:
        why = "it doesn't work with copy or move, only sync"
    if why is not None:
        log.error(dst.describe(), f"Ignoring --track-renames as {why}")
        return False
    return True


def rename_strategy(text: str) -> frozenset[str]:
    """--track-renames-strategy as rclone parses it (``size`` is always used)."""
    got = set()
    for part in text.split(",") if text else ():
        if part not in ("hash", "modtime", "leaf", "size"):
            raise PysyncError(f'unknown track renames strategy "{part}"')
        got.add(part)
    return frozenset(got)


def _tmp_move_name(new: str) -> str:
    """rclone's temporary name for a move that only changes a name's case or Unicode form:
    ``<new>-rclone-move-<8 of random.String's letters>``."""
    import secrets

    letters = "abcdefghijklmnopqrstuvwxyz0123456789"  # rclone's random.String
    return f"{new}-rclone-move-{''.join(secrets.choice(letters) for _ in range(8))}"
