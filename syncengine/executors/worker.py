"""The worker side of a transfer: open the backends from their specs, copy a batch of files,
return plain result records (never exceptions, never backends).

Everything here crosses a process (or host) boundary by pickle: ``Location`` (a remote spec
with the config it needs, secrets kept out of its ``repr``), ``Job`` (the run's settings),
the actions of :mod:`syncengine.actions` and ``FileOutcome`` (one per file: bytes, the log
lines the copy wrote, the error as an ``ErrorRecord``). ``decode_error`` rebuilds on the
coordinator an exception of the same class and text, so retry classes, exit codes and log
lines are the ones of a copy made in the coordinator's own process.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading

from ..actions import Copy, Mkdir, Replace, SetMtime
from ..backends.base import Backend
from ..errors import PysyncError
from ..options import SyncOptions
from ..record import field, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..accounting import Stats
    from ..remotes import RcloneConfig
    from ..transfer import Transferer

__all__ = ["Location", "Job", "FileOutcome", "ErrorRecord", "LogLine", "Progress", "run_batch",
           "encode_error", "decode_error", "WorkerLostError", "lost_outcomes", "not_run",
           "WorkAction"]

#: what a worker carries out: copies, time updates, new directories
WorkAction = Copy | Replace | SetMtime | Mkdir

#: variables a worker needs to resolve remotes as the coordinator does
_ENV_PREFIXES = ("RCLONE_", "PYSYNC_")


class WorkerLostError(PysyncError):
    """A worker died (or lost its scheduler) while it copied these files: retryable (exit 5).

    Nothing is under the final name of a file it was writing (partial + rename)."""

    exit_code = 5
    reference = "worker-lost"
    retryable = True


# ----- what travels ------------------------------------------------------------------------


@record(frozen=True, repr=False)
class Location:
    """A remote spec and what it takes to open it in another process or on another host.

    ``sections`` are the config file's (values as in the file: passwords stay obscured),
    ``environ`` the coordinator's ``RCLONE_*``/``PYSYNC_*`` variables; neither is ever
    shown by ``repr`` or ``str`` (dask logs task arguments). Local paths are absolute.
    """

    spec: str
    sections: dict[str, dict[str, str]] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)
    copy_links: bool = False
    links: bool = False

    def __repr__(self) -> str:
        from ..remotes import redact_spec

        return f"Location({redact_spec(self.spec)!r})"

    __str__ = __repr__

    @classmethod
    def capture(cls, spec: str, backend: Backend, *, config_path: str | None = None,
                config: RcloneConfig | None = None, copy_links: bool = False,
                links: bool = False) -> Location:
        """The Location of ``spec``, already opened here as ``backend``: a local path is
        made absolute (workers have their own working directory); ``config`` (else the
        file ``config_path`` or the usual places) and the environment are taken along."""
        from .. import remotes

        if backend.features.name == "local" and getattr(backend, "root", None):
            parsed = remotes.parse_spec(spec)
            if not parsed.name and not parsed.url:
                spec = str(backend.root)  # type: ignore[attr-defined]
        cfg = config if config is not None else remotes.load_config(config_path)
        environ = {k: v for k, v in os.environ.items() if k.startswith(_ENV_PREFIXES)}
        return cls(spec, {k: dict(v) for k, v in cfg.sections.items()}, environ,
                   copy_links, links)

    def open(self) -> Backend:
        """Open the backend here (a worker), from this spec and config only."""
        from .. import remotes

        cfg = remotes.RcloneConfig(None, {k: dict(v) for k, v in self.sections.items()})
        return remotes.open_backend(self.spec, copy_links=self.copy_links, links=self.links,
                                    config=cfg, environ=self.environ)


@record(frozen=True, repr=False)
class Job:
    """One run's settings, shared by its batches: where from, where to, how."""

    run_id: str
    src: Location
    dst: Location
    opts: SyncOptions
    hash_kind: str | None
    log_level: int = 25  # the coordinator's (log.NOTICE by default)
    bwlimit: float = 0.0  # bytes per second for each worker process, 0: off

    def __repr__(self) -> str:
        return f"Job({self.run_id!r}, {self.src!r} -> {self.dst!r})"


@record(frozen=True, slots=True)
class ErrorRecord:
    """An exception as plain data: its class (``module:qualname``), text, errno, retry
    classes, and the two notes the engine reads off a copy's error: ``logged`` (the worker
    already logged it: no ``Failed to copy``) and ``note`` (a line to log after it)."""

    cls: str
    message: str
    errno: int | None = None
    retryable: bool = True
    fatal: bool = False
    logged: bool = False
    note: tuple[str, str] | None = None


#: one log line a worker wrote: (level, object, message)
LogLine = tuple[int, str, str]


@record(frozen=True, slots=True)
class FileOutcome:
    """What became of one action of a batch. ``bytes``: read for it (all tries together);
    ``skipped``: never started (the run was stopped first: see ``not_run``); ``made``: a
    Mkdir made the directory with its time in one step."""

    path: str
    ok: bool
    bytes: int = 0
    error: ErrorRecord | None = None
    logs: tuple[LogLine, ...] = ()
    partials_used: tuple[str, ...] = ()
    skipped: bool = False
    made: bool = False


def not_run(actions: Sequence[WorkAction]) -> list[FileOutcome]:
    """The outcomes of actions never started (the coordinator stopped the run): neither
    done nor failed, as a queued file the thread executor drops."""
    return [FileOutcome(a.path, False, skipped=True) for a in actions]


def encode_error(err: BaseException) -> ErrorRecord:
    """``err`` as an ErrorRecord (its instance-level retry classes included)."""
    cls = type(err)
    note = getattr(err, "partial_note", None)
    return ErrorRecord(f"{cls.__module__}:{cls.__qualname__}", str(err),
                       getattr(err, "errno", None) if isinstance(err, OSError) else None,
                       bool(getattr(err, "retryable", True)), bool(getattr(err, "fatal", False)),
                       bool(getattr(err, "logged", False)),
                       (str(note[0]), str(note[1])) if note is not None else None)


_REMOTE_OS: dict[type, type] = {}


def _os_class(base: type[OSError]) -> type[OSError]:
    """A subclass of ``base`` whose text is the one it had on the worker."""
    sub = _REMOTE_OS.get(base)
    if sub is None:
        sub = type(base.__name__, (base,), {"__str__": lambda self: self._text,
                                            "__module__": base.__module__})
        _REMOTE_OS[base] = sub
    return sub


def _find_class(name: str) -> type | None:
    module, _, qual = name.partition(":")
    if module != "builtins" and module.split(".")[0] != "syncengine":
        return None  # only classes of our own and Python's: never import what a peer names
    try:
        obj: object = importlib.import_module(module)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj if isinstance(obj, type) and issubclass(obj, BaseException) else None


def decode_error(rec: ErrorRecord) -> BaseException:
    """An exception of the recorded class with the recorded text (WorkerError-like
    PysyncError when the class is unknown here); retry classes as recorded."""
    from ..errors import _rebuild

    cls = _find_class(rec.cls)
    err: BaseException
    if cls is not None and issubclass(cls, PysyncError):
        err = _rebuild(cls, rec.message, None)
    elif cls is not None and issubclass(cls, OSError):
        err = _os_class(cls)(rec.errno, rec.message)
        err._text = rec.message  # type: ignore[attr-defined]
    else:
        err = PysyncError(rec.message)
    if isinstance(err, PysyncError):
        if err.retryable != rec.retryable:
            err.retryable = rec.retryable
        if err.fatal != rec.fatal:
            err.fatal = rec.fatal
    if rec.logged and not getattr(err, "logged", False):
        err.logged = True  # type: ignore[union-attr]
    if rec.note is not None:
        err.partial_note = rec.note  # type: ignore[union-attr]
    return err


def lost_outcomes(actions: Sequence[WorkAction], why: str) -> list[FileOutcome]:
    """The outcomes of a batch whose worker was lost: a retryable error for every file."""
    rec = encode_error(WorkerLostError(why))
    return [FileOutcome(a.path, False, error=rec) for a in actions]


# ----- on the worker -----------------------------------------------------------------------


class Progress:
    """Where a running batch is: the file being copied and its bytes so far (read by a
    reporter thread of the executor while ``run_batch`` updates it)."""

    __slots__ = ("path", "_stats", "_base")

    def __init__(self) -> None:
        self.path = ""
        self._stats: Stats | None = None
        self._base = 0

    def start(self, path: str, stats: Stats) -> None:
        """``path`` begins; the bytes ``stats`` counts from now on are its."""
        self._stats = stats
        self._base = stats.get_bytes()
        self.path = path

    def current(self) -> tuple[str, int]:
        """``(path, bytes read for it so far)``; ``("", 0)`` before the first file."""
        stats = self._stats
        if stats is None or not self.path:
            return "", 0
        return self.path, max(0, stats.get_bytes() - self._base)

_tls = threading.local()
_lock = threading.Lock()
_backends: dict[tuple[str, str], Backend] = {}  # (run id, "src"/"dst") -> opened backend
_KEEP_RUNS = 4


class _Capture(logging.Handler):
    """Collects the syncengine records of the current thread's task (worker processes)."""

    def emit(self, record: logging.LogRecord) -> None:
        sink = getattr(_tls, "sink", None)
        if sink is not None:
            sink.append((record.levelno, getattr(record, "object", ""), record.getMessage()))


_capture: _Capture | None = None


def _install_capture(level: int) -> None:
    """Route this process's syncengine log records to the running task's outcome."""
    global _capture
    from ..log import LOGGER

    with _lock:
        if _capture is None:
            for h in list(LOGGER.handlers):
                if not isinstance(h, logging.NullHandler):
                    LOGGER.removeHandler(h)
            _capture = _Capture()
            LOGGER.addHandler(_capture)
            LOGGER.propagate = False  # not into the worker's own log
        if LOGGER.level != level:
            LOGGER.setLevel(level)


def _backend(job: Job, side: str) -> Backend:
    key = (job.run_id, side)
    with _lock:
        b = _backends.get(key)
        if b is not None:
            return b
    loc = job.src if side == "src" else job.dst
    opened = loc.open()
    with _lock:
        b = _backends.setdefault(key, opened)
        runs = list(dict.fromkeys(r for r, _ in _backends))
        stale = [k for k in _backends if k[0] in runs[:-_KEEP_RUNS]]
        closing = [_backends.pop(k) for k in stale]
    if b is not opened:
        opened.close()
    for old in closing:
        old.close()
    return b


def run_batch(job: Job, actions: Sequence[WorkAction], *, capture: bool = True,
              progress: Progress | None = None, budget: int = -1,
              cancel: threading.Event | None = None) -> list[FileOutcome]:
    """Carry out ``actions`` one after the other (copies; time updates and new directories
    as ``execute.set_mtime``/``make_dir`` do them) and say what became of each.

    Opens (and keeps, per run) its own backends from ``job``'s Locations. ``capture``: the
    log lines each copy writes go into its outcome (a worker process) instead of this
    process's log. ``progress`` is kept up to date for a live reporter. ``budget``: the
    bytes this batch may read before ``--max-transfer`` (``--cutoff-mode hard``) stops it, as
    the coordinator reckoned when it sent the batch (-1: no limit). ``cancel`` set: the
    copy under way fails (``transfer cancelled``), the files after it are skipped. Never
    raises for a
    file's failure; a failure to open a backend fails
    every file of the batch with that error.
    """
    from ..accounting import Stats
    from ..transfer import TokenBucket, Transferer

    if capture:
        _install_capture(job.log_level)
    out: list[FileOutcome] = []
    logs: list[LogLine] = []
    _tls.sink = logs if capture else None
    try:
        try:
            src, dst = _backend(job, "src"), _backend(job, "dst")
        except Exception as err:  # counted per file on the coordinator, never swallowed
            rec = encode_error(err)
            return [FileOutcome(a.path, False, error=rec) for a in actions]
        stats = Stats()
        bucket = TokenBucket(job.bwlimit) if job.bwlimit > 0 else None
        from ..record import replace

        # the run's --max-transfer is the coordinator's; here only what is left of it counts
        opts = replace(job.opts, max_transfer=budget)
        transferer = Transferer(src, dst, opts, stats, job.hash_kind, bucket, cancel)
        for action in actions:
            if cancel is not None and cancel.is_set():
                out.extend(not_run([action]))
                continue
            if isinstance(action, (SetMtime, Mkdir)):
                out.append(_apply_one(dst, action, logs))
                logs.clear()
                continue
            before = stats.get_bytes()
            if progress is not None:
                progress.start(action.path, stats)
            failure = _copy_one(transferer, stats, job.opts, action)
            used = tuple(sorted(transferer.partials_used))
            transferer.partials_used.clear()
            out.append(FileOutcome(action.path, failure is None, stats.get_bytes() - before,
                                   None if failure is None else encode_error(failure),
                                   tuple(logs), used))
            logs.clear()
    finally:
        _tls.sink = None
    return out


def _apply_one(dst: Backend, action: SetMtime | Mkdir, logs: list[LogLine]) -> FileOutcome:
    """A time update or a new directory, as the coordinator's own threads carry them out."""
    from ..execute import make_dir, set_mtime

    made = False
    try:
        if isinstance(action, Mkdir):
            made = make_dir(dst, action)
        else:
            set_mtime(dst, action)
    except Exception as err:  # returned as a record, never raised across the boundary
        return FileOutcome(action.path, False, error=encode_error(err), logs=tuple(logs))
    return FileOutcome(action.path, True, logs=tuple(logs), made=made)


def _copy_one(transferer: Transferer, stats: Stats, opts: SyncOptions,
              action: Copy | Replace) -> BaseException | None:
    """One file with the engine's low-level retries (transient network errors only)."""
    from ..execute import transient
    from ..log import debug

    s = action.source
    old = action.old if isinstance(action, Replace) else None
    tries = max(1, opts.low_level_retries)
    tr = stats.start_transfer(s.path, s.size)
    failure: BaseException | None = None
    try:
        for n in range(1, tries + 1):
            try:
                transferer.copy(s, action.dst_path, replacing=old is not None, tr=tr,
                                old=old)
                return None
            except (ConnectionError, TimeoutError, OSError) as err:
                if not transient(err) or n == tries:
                    raise
                debug(s.path, f"Received error: {err} - low level retry {n}/{tries}")
                tr.restart()
    except Exception as err:  # returned as a record, never raised across the boundary
        failure = err
        return err
    finally:
        tr.done(failure)
    return None
