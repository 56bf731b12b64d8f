"""Deletions on the destination: files a sync deletes, ``--max-delete``, backup-dir moves.

The coordinator decides when deleting is allowed (never after an error, unless
--ignore-errors); the Deleter carries each Delete out as rclone does and logs it: a plain
delete, or a move into ``--backup-dir``/to ``--suffix`` (also used for a file about to be
replaced), counting every delete against ``--max-delete``. Failures are counted with the
coordinator's ``error`` and summed up by ``finish`` in rclone's one closing error.
"""

from __future__ import annotations

import threading

from . import interactive, log
from .actions import Action, Delete
from .backends.base import Backend, Entry, can_move
from .errors import FatalError, MaxDeleteError, PysyncError
from .filter import Filter
from .options import SyncOptions
from .report import ERROR as REPORT_ERROR
from .report import SyncReport
from .transfer import backup_path
from .units import format_size_short

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .accounting import Stats

__all__ = ["Deleter", "ERROR_NO_MOVE", "move_between"]

ERROR_NO_MOVE = "can't use --backup-dir on a remote which doesn't support server-side move or copy"


class Deleter:
    """The deletions of one attempt (safe to call from several checker threads).

    ``sink`` (plan mode): a checked Delete is handed to it instead of being carried out.
    """

    def __init__(self, *, src: Backend, dst: Backend, backup: Backend | None, filt: Filter,
                 opts: SyncOptions, stats: Stats, error: Callable[..., None],
                 cancel: threading.Event, include_all_dst: bool,
                 sink: Callable[[Action], None] | None = None,
                 report: SyncReport | None = None) -> None:
        self.src = src
        self.dst = dst
        self.backup = backup
        self.filt = filt
        self.opts = opts
        self.stats = stats
        self.error = error
        self.cancel = cancel
        self.include_all_dst = include_all_dst
        self.sink = sink
        self.report = report  # the report files: a failed deletion is an error line
        self._lock = threading.Lock()
        self.deletes = 0  # files deleted (or moved to the backup)
        self.deleted_count = 0  # for --max-delete, counted before the dry-run check
        self.deleted_size = 0  # for --max-delete-size, likewise
        # failed deletions: rclone tries every one, then ends with one "failed to delete N
        # files" error (fatal, cancelling the run, if one of them was)
        self.delete_errors = 0
        self.delete_fatal = 0
        self.over = False

    def count(self, size: int = 0) -> None:
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

    def delete(self, action: Delete) -> None:
        """Delete (or back up) the destination file of ``action``; failures are counted."""
        if self.cancel.is_set():
            return
        d = action.entry
        self.stats.start_check(d.path)
        try:
            try:
                self.count(d.size)
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
            self._delete_checked(action, d)
        finally:
            self.stats.end_check(d.path)

    def finish(self) -> None:
        """Deleting is over: rclone's one error for all the failed deletions (fatal, so
        cancelling the run, if any of them was)."""
        with self._lock:
            if self.over:
                return
            self.over = True
            failed, fatal = self.delete_errors, self.delete_fatal
        if failed:
            text = f"failed to delete {failed} files"
            self.error("", FatalError(text) if fatal else PysyncError(text))

    def _delete_checked(self, action: Delete, d: Entry) -> None:
        if self.sink is not None:
            self.sink(action)
            return
        backing_up = self.backup is not None or bool(self.opts.suffix)
        flag = interactive.skip(self.opts, d.path,
                                "move into backup dir" if backing_up else "delete")
        if flag:
            if backing_up and self.opts.dry_run:
                self.move_to_backup(d, deleting=True)
            else:
                what = "move into backup dir" if backing_up else "delete"
                log.notice(d.path, f"Skipped {what} as {flag} is set (size "
                           f"{format_size_short(d.size)})")
            self.stats.deleted(d.size)
            return
        if self.backup is not None or self.opts.suffix:
            try:
                self.move_to_backup(d, deleting=True)
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

    # ----- backups -----------------------------------------------------------------------

    def move_to_backup(self, d: Entry, *, deleting: bool) -> None:
        """Move the destination file away (``--backup-dir``/``--suffix``) as rclone's
        MoveBackupDir does and logs it: a checking transfer ("moving") and a rename.
        Raises what failed (logged here; the caller counts it)."""
        if deleting and self.opts.dry_run:
            # rclone's DeleteFileWithBackupDir skips before MoveBackupDir: no "moving"
            # check besides the "deleting" one (s93026-c1)
            self._move_to_backup_checked(d, deleting)
            return
        with self.stats.checking(d.path, "moving"):  # the error is counted by the caller
            self._move_to_backup_checked(d, deleting)

    def _move_to_backup_checked(self, d: Entry, deleting: bool) -> None:
        o = self.opts
        target = backup_path(d.path, o.suffix, o.suffix_keep_extension)
        if deleting and o.dry_run:
            what = "move into backup dir"
        else:
            what = f"move to {target}" if target != d.path else "move"
        flag = interactive.skip(o, d.path, what)
        if flag:
            log.notice(d.path, f"Skipped {what} as {flag} is set (size "
                       f"{format_size_short(d.size)})")
            if not deleting:  # rclone's Move counts a skipped move as a rename
                self.stats.renamed()
            return
        into = self.backup if self.backup is not None else self.dst
        old = into.stat(target)
        if old is not None and not old.is_dir:
            # rclone's Move first deletes the file it would replace (an earlier backup):
            # a delete like any other (DeleteFile), counted against --max-delete, logged,
            # and a checking transfer of its own ("deleting": one more check)
            with self.stats.checking(target, "deleting"):
                self.count(old.size)
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
                moved = move_between(self.dst, d.path, self.dst, target)
            else:
                moved = move_between(self.dst, d.path, self.backup, target)
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
        shares): copy the file to the backup through the backends (a transfer with a
        partial file, verified, so a cut copy never lies under a backup name nor replaces
        an older backup), then delete it (a delete, counted against --max-delete)."""
        log.debug(d.path, "Can't move, switching to copy")
        from .compare import common_hash
        from .transfer import Transferer

        kind = None if self.opts.ignore_checksum else common_hash(self.dst, into)
        copier = Transferer(self.dst, into, self.opts, self.stats, kind, cancel=self.cancel)
        tr = self.stats.start_transfer(d.path, d.size, queued=False)
        failure: BaseException | None = None
        try:  # a partial file renamed when whole and verified, as every copy
            copier.copy(d, target, replacing=False, tr=tr)
        except BaseException as err:
            failure = err
            raise
        finally:
            tr.done(failure)
        self.count(d.size)
        with self.stats.checking(d.path, "deleting"):
            self.dst.remove(d.path)
        log.info(d.path, "Deleted")
        self.stats.deleted(d.size)
        self.stats.renamed()


def move_between(a: Backend, path: str, b: Backend, target: str) -> bool:
    """Move ``path`` of backend ``a`` to ``target`` of backend ``b`` (the same remote) on the
    server, through the backends only; False when the server cannot (SMB across shares)."""
    if not can_move(b):  # refused at set-up (engine's backup-dir checks): never reached
        raise FatalError(ERROR_NO_MOVE)
    return b.move_from(a, path, target)  # type: ignore[attr-defined]
