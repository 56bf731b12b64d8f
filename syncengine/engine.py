"""Copy and sync runs: the set-up checks, rclone's whole-run retries, and the result.

Each attempt is a :class:`~syncengine.coordinator.Coordinator`: its Planner lists, marches
and compares the trees into actions, which the coordinator admits and hands to the
executor (this process's threads, or Dask workers), with the Deleter for deletions. This
module checks the set-up before any attempt (flag clashes, overlapping remotes, the backup
directory), runs the attempts ``--retries`` allows, and turns the last one into a
RunResult with rclone's exit code; ``plan_run`` is the planner alone (``syncengine.plan``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from . import log
from .accounting import Stats
from .backends.base import Backend, can_move
from .bwlimit import parse_limiter
from .compare import common_hash, run_hash_kind
from .coordinator import Coordinator, FileError
from .deleter import ERROR_NO_MOVE
from .errors import (
    EXIT_SKIPPED_CHANGING,
    ConfigError,
    DirNotFoundError,
    FatalError,
    NoTransferError,
    PysyncError,
    UsageError,
)
from .execute import NETWORK_ERRNOS
from .filter import Filter
from .options import CUTOFF_MODES, SyncOptions
from .ordering import parse_order_by
from .record import field, record
from .report import SyncReport

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .actions import Action
    from .events import EventCallback
    from .executors import Executor
    from .executors.worker import Location

__all__ = ["FileError", "RunResult", "run_copy", "plan_run", "exit_code_for", "refuse_run"]


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
    if isinstance(err, OSError) and err.errno in NETWORK_ERRNOS:
        return 5
    return 1


def check_global_options(opts: SyncOptions) -> None:
    """The checks rclone makes when it loads its global options, before it opens anything
    (so before the notice that a local folder shadows a remote of that name): ConfigError
    with rclone's ``Failed to initialise global options`` message (or its fatal flag
    check of the delete modes)."""
    if sum((opts.delete_before, opts.delete_during, opts.delete_after)) > 1:
        raise ConfigError("Only one of --delete-before, --delete-during or --delete-after "
                          "can be used.")
    why = None
    if len(opts.partial_suffix) > 16:
        why = ("--partial-suffix: Expecting suffix length not greater than 16 but got "
               f"{len(opts.partial_suffix)}")
    elif opts.compare_dest and opts.copy_dest:
        why = "can't use --compare-dest with --copy-dest"
    if why is not None:
        raise ConfigError('Failed to initialise global options: failed to reload "main" '
                          f"options: {why}")


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


def _job(src: Backend, dst: Backend, opts: SyncOptions, locations: tuple[Location, Location],
         meter: Any = None) -> Any:
    """The settings every worker batch of this run carries (``meter``: the --bwlimit meter
    of this run's transfers, whose rate now each worker process keeps to on its own)."""
    import uuid

    from .executors.worker import Job

    kind = None if opts.ignore_checksum else common_hash(src, dst)
    rate = meter.rate if meter is not None else 0.0
    return Job(uuid.uuid4().hex[:12], locations[0], locations[1], opts, kind,
               log.effective_level(), rate)


def _before_backup_dir(mode: str, src: Backend, dst: Backend, opts: SyncOptions) -> None:
    """What rclone's newSyncCopyMove logs before it refuses a --backup-dir (which a run's
    Coordinator would log later): --check-first's line, sync's --no-traverse line, and why
    --track-renames is ignored. A bad --track-renames-strategy or --no-check-dest with sync,
    which rclone refuses before, is left to the refusal of the backup dir."""
    from .planner import can_track_renames, rename_strategy

    if opts.check_first:
        log.info(dst.describe(), "Running all checks before starting transfers")
    if mode == "sync" and opts.no_traverse:
        log.error(None, "Ignoring --no-traverse with sync")
    if opts.track_renames:
        try:
            strategy = rename_strategy(opts.track_renames_strategy)
        except PysyncError:
            return
        can_track_renames(dst, run_hash_kind(src, dst, opts), strategy, mode == "sync")


def _remote(backend: Backend) -> bool:
    """The backend reaches its files over the network (--bwlimit's transport buckets)."""
    return backend.features.name != "local"


def _run_copy(mode: str, src: Backend, dst: Backend, filt: Filter, opts: SyncOptions, *,
              stats: Stats | None, backup: Backend | None, report_failure: bool = True,
              executor: Executor | None = None,
              locations: tuple[Location, Location] | None = None,
              on_event: EventCallback | None = None,
              report: SyncReport | None = None,
              compare_dest: tuple[Backend, ...] = ()) -> RunResult:
    if mode not in ("copy", "sync"):
        raise UsageError(f"unknown mode {mode!r}")
    check_global_options(opts)
    if opts.cutoff_mode.upper() not in CUTOFF_MODES:
        raise UsageError(f'invalid argument "{opts.cutoff_mode}" for "--cutoff-mode" flag: '
                         "invalid choice from: " + ", ".join(CUTOFF_MODES))
    stats = stats or Stats()
    from .metadata import parse_mapper, parse_metadata_set

    parse_metadata_set(opts.metadata_set)  # rclone refuses a bad pair even without -M
    parse_mapper(opts.metadata_mapper)
    try:
        parse_order_by(opts.order_by)
        if mode == "sync" and opts.track_renames and opts.delete_before:
            raise FatalError("can't use --delete-before with --track-renames")
        _check_copy_dest(dst, opts, compare_dest)
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
            _before_backup_dir(mode, src, dst, opts)
            return refuse_run(mode, stats, err)
    if mode == "sync" and filt.uses_age and not filt.opts.delete_excluded:
        log.notice(None, "WARNING: sync with --min-age/--max-age: a source file excluded by age "
                   "(e.g. changed recently) counts as absent, so its older destination copy "
                   "WILL BE DELETED - this matches rclone; prefer copy for live data")
    limiter = parse_limiter(opts.bwlimit)
    bucket = limiter.for_transfer(_remote(src), _remote(dst)) if limiter is not None else None
    if executor is not None and locations is not None:
        executor.start(_job(src, dst, opts, locations, bucket))
    deadline = time.monotonic() + opts.max_duration / 1e9 if opts.max_duration > 0 else None
    retries = max(1, opts.retries)
    attempt_no = 0
    result_errors: list[FileError] = []
    skipped: list[str] = []
    transfers = deletes = 0
    last: Coordinator | None = None
    if limiter is not None:
        limiter.start()
    try:
        for attempt_no in range(1, retries + 1):
            attempt = Coordinator(mode=mode, src=src, dst=dst, filt=filt, opts=opts, stats=stats,
                                  backup=backup, deadline=deadline, bucket=bucket,
                                  executor=executor, on_event=on_event, report=report,
                                  compare_dest=compare_dest)
            last = attempt
            attempt.run()
            _count_returned_again(attempt.errors, stats)
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
    finally:
        if limiter is not None:
            limiter.stop()
    assert last is not None
    if filt.single_file:
        stats.forget_checks()
    final_err: BaseException | None = None
    if result_errors:
        # rclone's sync returns the last fatal error it processed (its fatalErr is
        # overwritten by each): "failed to delete N files" after the --max-transfer
        # cancel that came first, say, decides the exit code (7)
        final_err = _pick_error(result_errors)
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


def _check_copy_dest(dst: Backend, opts: SyncOptions, compare_dest: tuple[Backend, ...]
                     ) -> None:
    """rclone's GetCopyDest: --copy-dest on the destination's remote, one that copies
    server-side (FatalError otherwise)."""
    if (opts.compare_dest or opts.copy_dest) and not compare_dest:
        raise UsageError("--compare-dest/--copy-dest need their directories opened: pass "
                         "compare_dest")
    if not opts.copy_dest:
        return
    if not any(_same_config(dst, b) for b in compare_dest):
        raise FatalError("parameter to --copy-dest has to be on the same remote as "
                         "destination")
    if not all(b.features.server_side_copy for b in compare_dest):
        raise FatalError("can't use --copy-dest on a remote which doesn't support "
                         "server side copy")


def plan_run(mode: str, src: Backend, dst: Backend, filt: Filter, opts: SyncOptions,
             sink: Callable[[Action], None], *, stop: threading.Event | None = None,
             compare_dest: tuple[Backend, ...] = ()) -> RunResult:
    """The planner alone: list, filter, march and compare as a ``--dry-run`` ``mode`` run
    does and hand every action to ``sink`` (from the march and checker threads) instead of
    carrying it out. Deletions come after every copy, as ``--delete-after`` orders them.
    ``stop`` set: stop early. Nothing is changed on either side. ``compare_dest``: the
    opened --compare-dest/--copy-dest directories (a file found equal there is not
    copied, or is a Copy/Replace from there)."""
    if mode not in ("copy", "sync"):
        raise UsageError(f"unknown mode {mode!r}")
    from .record import replace

    _check_copy_dest(dst, opts, compare_dest)
    popts = replace(opts, dry_run=True, retries=1)
    stats = Stats()
    attempt = Coordinator(mode=mode, src=src, dst=dst, filt=filt, opts=popts, stats=stats,
                          backup=None, deadline=None, bucket=None, sink=sink, cancel=stop,
                          compare_dest=compare_dest)
    try:
        attempt.run()
    except DirNotFoundError as missing:
        attempt.errors.append(FileError("", missing))
    final = _pick_error(attempt.errors) if attempt.errors else None
    return RunResult(stats=stats.snapshot(), errors=list(attempt.errors), error=final,
                     exit_code=exit_code_for(final))


def _count_returned_again(errors: list[FileError], stats: Stats) -> None:
    """rclone's command counts the error its sync returned unless it was counted already.
    Most were (wrapped by CountError where they were logged); one that was returned as it
    came (``counted_again``: a transfer refused by a spent --max-transfer budget, counted
    only by the transfer's end) is counted once more, and is then the last error."""
    if not errors:
        return
    returned = _pick_error(errors)
    if not getattr(returned, "counted_again", False):
        return
    again = type(returned)(str(returned))  # a new one: not marked counted
    again.fatal = returned.fatal  # type: ignore[attr-defined]
    errors.append(FileError("", again))
    stats.error(again)


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
