"""One file transfer: partial name, streamed copy with on-the-fly hash, change detection,
verification, mtime, atomic rename; plus rclone's backup-dir moves and the bandwidth limit."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import sys
import threading
import time
import zlib
from collections.abc import Callable

from . import directio, gomime, interrupt, log, metadata, resume
from .backends.base import Backend, Entry, can_server_copy
from .backends.local import kernel_copy
from .errors import MaxTransferError, PysyncError, RetryableError, SourceChangedError
from .hashing import new_hasher
from .options import SyncOptions
from .record import record
from .units import format_go_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Protocol, TypeVar

    from .accounting import Transfer

    class Meter(Protocol):
        """What a transfer meters the bytes it moves with (``--bwlimit``): a TokenBucket, or
        the run's limiter for one direction (``bwlimit.BwLimiter.for_transfer``)."""

        def take(self, n: int) -> None:
            """Account ``n`` bytes, sleeping as the limit requires."""

    _T = TypeVar("_T")

__all__ = ["Transferer", "partial_name", "partial_name_for", "go_time_utc", "TokenBucket",
           "backup_path", "CorruptedError", "SourceOpenError", "DestWriteError", "preallocate"]

CHUNK = 4 * 1024 * 1024
METER_SLICE = 64 * 1024  # bytes a --bwlimit bucket reserves at a time (TokenBucket)
_KERNEL_CHUNK = 32 * 1024 * 1024  # bytes per kernel copy call between source checks
# errors of a kernel copy that are the destination's (worded as a write error)
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_tls = threading.local()


def _buffer(size: int) -> memoryview:
    """A per-thread reusable buffer of at least ``size`` bytes (at most CHUNK)."""
    want = CHUNK if size < 0 or size >= CHUNK else max(65536, 1 << (size + 1).bit_length())
    buf: bytearray | None = getattr(_tls, "buf", None)
    if buf is None or len(buf) < want:
        buf = bytearray(want)
        _tls.buf = buf
    return memoryview(buf)[: min(len(buf), CHUNK)]


class CorruptedError(RetryableError):
    """``corrupted on transfer``: the written file does not match the source."""

    reference = "corrupted-on-transfer"
    exit_code = 1


# errors Go's os.Lstat reports (rclone's local backend lstat()s a source before opening it)
_LSTAT_ERRNOS = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.ENAMETOOLONG})


class SourceOpenError(OSError):
    """The source file could not be opened (unreadable, vanished since the listing...).

    Keeps the errno of the underlying error (so retry classes and exit codes are unchanged)
    and reads like rclone: ``failed to open source object: open <path>: permission denied``
    (``lstat <path>: no such file or directory`` for a file that vanished).
    """

    def __str__(self) -> str:
        return f"failed to open source object: {self.strerror}"

    @classmethod
    def wrap(cls, err: OSError, *, local: bool) -> SourceOpenError:
        """The SourceOpenError for ``err``, the error of opening a source file."""
        if local and err.errno is not None and err.filename is not None:
            reason = os.strerror(err.errno)
            reason = reason[:1].lower() + reason[1:]
            verb = "lstat" if err.errno in _LSTAT_ERRNOS else "open"
            text = f"{verb} {os.fsdecode(err.filename)}: {reason}"
        else:
            text = str(err)
        new = cls(err.errno, text)
        new.filename = err.filename
        return new


class DestWriteError(OSError):
    """Writing the destination failed; reads like rclone (Go's error text, no ``[Errno]``):
    ``write <path>: no space left on device``, or rclone's disk-full error of preallocation
    ``preallocate: file too big for remaining disk space``. Keeps the errno."""

    def __str__(self) -> str:
        return str(self.strerror)

    @classmethod
    def wrap(cls, err: OSError, path: str) -> DestWriteError:
        """The DestWriteError for ``err``, the error of writing the local file ``path``."""
        reason = os.strerror(err.errno) if err.errno is not None else str(err)
        new = cls(err.errno, f"write {path}: {reason[:1].lower() + reason[1:]}")
        new.filename = path
        return new


class PartialRenameError(OSError):
    """Renaming a finished partial file over its final name failed. Already logged (rclone's
    ``<partial>: partial file rename failed: ...``, never ``Failed to copy``); reads as the
    destination's error: on a local disk rclone's Move says ``can't move object -
    incompatible remotes`` for anything but a missing file or a refused permission."""

    logged = True

    def __str__(self) -> str:
        return str(self.strerror)

    @classmethod
    def wrap(cls, err: OSError, local: tuple[str, str] | None) -> PartialRenameError:
        """The error for ``err``; ``local``: the partial's and the target's shown paths on
        a local destination (None for a remote one, whose error text is kept)."""
        if local is None:
            text = str(err)
        elif err.errno in (errno.ENOENT, errno.EACCES, errno.EPERM):
            reason = os.strerror(err.errno)
            text = f"rename {local[0]} {local[1]}: {reason[:1].lower() + reason[1:]}"
        else:
            text = "can't move object - incompatible remotes"
        new = cls(err.errno, text)
        new.filename = err.filename
        return new


DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_PUNCH_HOLE = 0x01, 0x02
# rclone's order (lib/file/preallocate_unix.go): KEEP_SIZE, then KEEP_SIZE|PUNCH_HOLE for ZFS
_FALLOC_FLAGS = (_FALLOC_FL_KEEP_SIZE, _FALLOC_FL_KEEP_SIZE | _FALLOC_FL_PUNCH_HOLE)
_falloc: dict[str, Any] = {}  # "fn": libc's fallocate or None, "index": flags, "errno"
_falloc_lock = threading.Lock()  # rclone serialises preallocations (preAllocateMu)


def preallocate(fd: int, size: int) -> None:
    """Reserve ``size`` bytes for the file ``fd`` without changing its size, as rclone's
    local backend does before a write (Linux ``fallocate(FALLOC_FL_KEEP_SIZE)``).

    A full disk raises DestWriteError(ENOSPC, ``preallocate: file too big for remaining
    disk space``) before a byte is written; any other failure is ignored (rclone logs it at
    DEBUG), and a file system without fallocate disables preallocation, as in rclone.
    """
    if size <= 0 or not sys.platform.startswith("linux"):
        return
    with _falloc_lock:
        if "fn" not in _falloc:
            _load_fallocate()
        fn = _falloc["fn"]
        while fn is not None and _falloc["index"] < len(_FALLOC_FLAGS):
            if fn(fd, _FALLOC_FLAGS[_falloc["index"]], 0, size) == 0:
                return
            err = _falloc["errno"]()
            if err == errno.EOPNOTSUPP:
                _falloc["index"] += 1  # try the next combination; past the last: disabled
                continue
            if err in DISK_FULL_ERRNOS:
                raise DestWriteError(err, "preallocate: file too big for remaining disk space")
            if err != errno.EINTR:
                return


def _load_fallocate() -> None:
    """Find libc's ``fallocate64`` (64-bit offsets on every ABI); ctypes is imported only
    when a first file is written."""
    import ctypes

    _falloc.update(fn=None, index=0, errno=ctypes.get_errno)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = getattr(libc, "fallocate64", None) or libc.fallocate
    except (OSError, AttributeError):
        return
    fn.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
    fn.restype = ctypes.c_int
    _falloc["fn"] = fn


def go_time_utc(ns: int) -> str:
    """A time printed like Go's ``time.Time.String()`` in UTC (rclone's fingerprints)."""
    sec, frac = divmod(ns, 1_000_000_000)
    # strftime: one C call for the six fields (a partial name is built per file); int64
    # nanoseconds span the years 1677-2262, four digits as Go prints them
    head = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec))
    if frac:
        return f"{head}.{frac:09d}".rstrip("0") + " +0000 UTC"
    return head + " +0000 UTC"


def partial_name(dst_path: str, src: Entry, suffix: str) -> str:
    """``<dst path>.<8 hex>.partial`` with rclone's CRC-32 of path + source fingerprint.

    A basename longer than 100 bytes is shortened first so the final length is unchanged.
    """
    return partial_name_for(dst_path, src.size, src.mtime_ns, suffix)


def partial_name_for(dst_path: str, size: int, mtime_ns: int, suffix: str) -> str:
    """:func:`partial_name` of a source of ``size`` bytes modified at ``mtime_ns``."""
    fingerprint = f"{size},{go_time_utc(mtime_ns)}"
    crc = zlib.crc32((dst_path + fingerprint).encode("utf-8", "surrogateescape"))
    tail = f".{crc:08x}{suffix}"
    base = dst_path.rpartition("/")[2]
    if len(base.encode("utf-8", "surrogateescape")) > 100:
        raw = dst_path.encode("utf-8", "surrogateescape")
        raw = raw[: max(0, len(raw) - len(tail.encode()))]
        dst_path = raw.decode("utf-8", "ignore")
    return dst_path + tail


def backup_path(path: str, suffix: str, keep_extension: bool) -> str:
    """The name a file is moved to by ``--backup-dir``/``--suffix``.

    ``keep_extension`` (``--suffix-keep-extension``): the suffix goes before the last
    extension and every further one with a MIME type (:mod:`.gomime`), as rclone's
    SuffixName does it with Go's ``path.Ext``: ``a.tar.gz`` -> ``a.bak.tar.gz``,
    ``.ignore`` -> ``.bak.ignore``.
    """
    if not suffix:
        return path
    if not keep_extension:
        return path + suffix
    head, slash, base = path.rpartition("/")
    exts = ""
    first = True
    while True:
        stem, dot, ext = base.rpartition(".")
        if not dot:
            break
        ext = "." + ext
        if not first and not gomime.has_type(ext):
            break
        base, exts, first = stem, ext + exts, False
    return head + slash + base + suffix + exts


class TokenBucket:
    """A bandwidth limiter shared by every transfer (bytes per second); ``rate`` <= 0 means
    off.

    Each caller reserves its bytes at the end of the queue and sleeps until then. A large
    ``take`` (a 4 MiB chunk) reserves :data:`METER_SLICE` bytes at a time, so concurrent
    transfers interleave as under rclone, which meters every read of its 32 KiB buffers: a
    small file copied beside a big one waits for one slice, not for the big one's chunk."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self.rate = rate
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self._next = clock()

    def take(self, n: int) -> None:
        """Account ``n`` bytes, sleeping as needed to keep to the rate."""
        while n > 0:
            rate = self.rate  # a timetable may change it between two slices
            if rate <= 0:
                return
            part = min(n, METER_SLICE)
            n -= part
            with self._lock:
                now = self._clock()
                start = max(self._next, now)
                self._next = start + part / rate
                wait = start - now
            if wait > 0:
                self._sleep(wait)


@record
class TransferResult:
    """What one transfer produced."""

    size: int
    hash_kind: str | None
    hash_value: str | None


@record
class _Done:
    """A copy whose data is written to ``tmp``: what landing it needs."""

    src: Entry
    tmp: str
    final: str
    size: int
    digest: str | None
    written: int
    tr: Any
    own: bool
    multi: bool
    replacing: bool


class Landing:
    """A copy whose data is written, its check and rename still to come (see
    ``Transferer.copy(defer=True)``). ``land()`` runs them once, in any thread."""

    __slots__ = ("_t", "_d")

    def __init__(self, transferer: Transferer, done: _Done) -> None:
        self._t = transferer
        self._d = done

    def land(self) -> TransferResult:
        """Check the written file and rename it (cleaned up and raised on failure, as
        ``Transferer.copy``)."""
        t, d = self._t, self._d
        err: BaseException | None = None
        try:
            t._land(d)
        except BaseException as e:
            err = e
            t._copy_failed(e, d.tmp, d.size)
            raise
        finally:
            t._end(d.tmp, d.final, d.own, d.tr, err)
        return t._landed(d)


class Transferer:
    """Copies single files from ``src`` to ``dst`` following rclone's transfer rules.

    ``stats`` is an ``accounting.Stats``; ``hash_kind`` the hash computed on the fly (and
    compared with the destination's where the destination computes its own).
    """

    def __init__(self, src: Backend, dst: Backend, opts: SyncOptions, stats: Any,
                 hash_kind: str | None, bucket: Meter | None = None,
                 cancel: threading.Event | None = None) -> None:
        self.src = src
        self.dst = dst
        self.opts = opts
        self.stats = stats
        self.hash_kind = hash_kind
        self.bucket = bucket
        self.cancel = cancel or threading.Event()
        self.partial_ok = dst.features.partial_uploads and not opts.inplace
        self._max = opts.max_transfer
        self._src_local = src.features.name == "local"
        self._dst_local = dst.features.name == "local"
        self._can_resume = (opts.resume and self.partial_ok
                            and hasattr(dst, "open_write_at"))
        # local to local: the kernel copies the data (no hash: what the kernel copies was
        # never in Python, and rclone's local hashes compare the bytes read with the same
        # bytes written); not with a bandwidth limit, which meters every chunk
        self._kernel_pair = (self._src_local and self._dst_local and bucket is None
                             and hasattr(dst, "set_mtime_open"))
        self.partials_used: set[str] = set()  # partial names resumable transfers wrote
        # -M: a destination that keeps metadata (local) gets the source's on each copy
        self._metadata = opts.metadata and metadata.writes(dst)
        # rclone's serverSideCopy: the same remote, and the destination copies on the server
        # (sftp with copy_is_hardlink: a hard link)
        self.server_copies = can_server_copy(src, dst)

    @property
    def kernel_copies(self) -> bool:
        """True when plain files are copied by the kernel (local to local, no bandwidth
        limit): a small file then costs a handful of system calls and no Python I/O."""
        return self._kernel_pair

    # ----- the copy ---------------------------------------------------------------------

    def copy(self, src: Entry, dst_path: str, *, replacing: bool,
             tr: Transfer | None = None, old: Entry | None = None,
             defer: bool = False) -> TransferResult | Landing:
        """Copy ``src`` to ``dst_path``; the old destination stays intact until the rename.

        Raises SourceChangedError when the source changes while being read, CorruptedError
        when verification fails, MaxTransferError at ``--max-transfer``, or the OSError of
        a failed read/write. Never leaves a partial file behind on failure.

        ``tr``: the caller's accounting Transfer (kept over low-level retries, as rclone
        keeps one per file); the caller ends it. Without one the copy starts and ends its
        own. ``old``: the destination file being replaced (--append-verify looks at it).

        ``defer``: when the written file's check needs a hash computed by a server (an SFTP
        side runs its hash command after the data), return a :class:`Landing` once the
        data is written instead of waiting for it: its ``land()`` checks, renames and
        returns the result (or raises as this would have), so that the caller's thread can
        move the next file's data meanwhile.
        """
        opts = self.opts
        if getattr(self.dst, "links", False) and dst_path.endswith(".rclonelink"):
            return self._copy_link(src, dst_path, replacing=replacing, tr=tr)
        if self.server_copies:  # rclone tries it first, whatever the flags
            copied = self._server_copy(src, dst_path, tr)
            if copied is not None:
                return copied
        if old is not None and self._can_append(old, src):
            appended = self._append(src, old, dst_path, tr)
            if appended is not None:
                return appended
        final = dst_path
        tmp = partial_name(dst_path, src, opts.partial_suffix) if self.partial_ok else dst_path
        reader = self._open_source(src)
        multi = False
        landing: Landing | None = None
        try:
            size, mtime_ns = self._stat_open(reader, src)
            own = tr is None
            if tr is None:
                tr = self.stats.start_transfer(src.path, size)
            else:
                tr.size = size
            err: BaseException | None = None
            try:
                timed = False  # the partial got its time while open
                if self._multi_ok(size):
                    digest, written = self._multi(reader, tmp, size, mtime_ns, tr)
                    multi = True
                elif self._kernel_ok(reader, size):
                    digest, written = None, self._kernel(reader, tmp, size, mtime_ns, tr)
                    timed = True
                else:
                    digest, written, timed = self._stream(reader, src, tmp, size, mtime_ns, tr)
                if not timed:
                    self.dst.set_mtime(tmp, mtime_ns)
                if self._metadata:
                    self._write_metadata(src, tmp, tmp, multi)
                done = _Done(src, tmp, final, size, digest, written, tr, own, multi, replacing)
                if defer and self._server_hashes(digest):
                    landing = Landing(self, done)
                else:
                    self._land(done)
            except BaseException as e:
                err = e
                self._copy_failed(e, tmp, size)
                raise
            finally:
                if landing is None:
                    self._end(tmp, final, own, tr, err)
        finally:
            reader.close()
        if landing is not None:
            return landing
        return self._landed(done)

    def _server_copy(self, src: Entry, dst_path: str, tr: Transfer | None
                     ) -> TransferResult | None:
        """rclone's server-side copy: ``src`` copied on the server to its partial name (a
        hard link on an sftp remote with ``copy_is_hardlink``), verified (sizes, and the
        server's hashes of both), renamed; ``Copied (server-side copy)``. None, having
        changed nothing, when the server cannot copy it (the data is then copied)."""
        tmp = partial_name(dst_path, src, self.opts.partial_suffix) if self.partial_ok \
            else dst_path
        size = src.size
        own = tr is None
        if tr is None:
            tr = self.stats.start_transfer(src.path, size)
        try:
            linked = self._open_partial(tmp, lambda: self.dst.copy_from(  # type: ignore
                self.src, src.path, tmp))
        except BaseException as e:
            if tmp != dst_path:  # rclone removes a failed partial, never an --inplace target
                note = self._remove_failed(tmp)
                if note is not None:
                    log.info(tmp, note)
            self._end(tmp, dst_path, own, tr, e)
            raise
        if not linked:  # nothing made: the data is copied instead
            log.debug(src.path, "Can't copy - the server does not link files")
            self.server_copies = False
            if tmp != dst_path:
                interrupt.release(self.dst, tmp)
            if own:
                tr.discard()
            return None
        err: BaseException | None = None
        try:
            self._land(_Done(src, tmp, dst_path, size, None, -1, tr, own, False, False))
        except BaseException as e:
            err = e
            self._copy_failed(e, tmp, size)
            raise
        finally:
            self._end(tmp, dst_path, own, tr, err)
        self.stats.server_side_copy(max(size, 0))
        if log.enabled(log.INFO):
            what = "Copied (server-side copy)"
            log.info(src.path, what if dst_path == src.path else f"{what} to: {dst_path}")
        return TransferResult(size, self.hash_kind, None)

    def _land(self, d: _Done) -> None:
        """The written partial ``d.tmp`` checked (size, hashes) and renamed to its name."""
        self._verify(d.src, d.tmp, d.size, d.digest, d.written)
        tmp, final = d.tmp, d.final
        if tmp != final:
            if self._metadata and self.opts.metadata_mapper:
                self._remap_partial(tmp)
            try:
                self.dst.rename(tmp, final)
            except OSError as e:
                shown = getattr(self.dst, "shown", None) if self._dst_local else None
                failed = PartialRenameError.wrap(
                    e, (shown(tmp), shown(final)) if shown is not None else None)
                log.error(tmp, f"partial file rename failed: {failed}")
                raise failed from e
            log.debug(tmp, "renamed to: %s", final)
        if self._resumable(d.size):
            resume.remove_manifest(self.dst, tmp)

    def _copy_failed(self, e: BaseException, tmp: str, size: int) -> None:
        """Clean up after the copy to ``tmp`` failed with ``e`` (the caller raises it)."""
        # --resume keeps the partial, unless it is wrong or the disk is full: a full
        # disk is removed from, as rclone does, not left full for retries, other files
        # and other programs (the rerun needs the space of the whole file anyway)
        if self._resumable(size) and not isinstance(
                e, (SourceChangedError, CorruptedError)) and not _disk_full(e):
            log.info(tmp, "Keeping partial file for --resume")
        elif getattr(e, "partially_written", False):
            self._remove_partially_written(tmp, e)
            if self._resumable(size):
                resume.remove_manifest(self.dst, tmp)
        elif not self.partial_ok and getattr(e, "target_unopened", False):
            pass  # --inplace: the destination file could not be opened; rclone leaves it
        else:
            note = self._remove_failed(tmp)
            if note is not None:  # logged after the copy's own error, as rclone
                try:
                    e.partial_note = (tmp, note)  # type: ignore[attr-defined]
                except AttributeError:
                    log.info(tmp, note)
            if self._resumable(size):
                resume.remove_manifest(self.dst, tmp)

    def _end(self, tmp: str, final: str, own: bool, tr: Transfer,
             err: BaseException | None) -> None:
        """The copy to ``tmp`` is over: its partial no longer this run's, its own transfer
        ended."""
        if tmp != final:
            interrupt.release(self.dst, tmp)
        if own:
            tr.done(err)

    def _landed(self, d: _Done) -> TransferResult:
        """Log the copy as rclone does; its result."""
        if log.enabled(log.INFO):
            what = "Copied (replaced existing)" if d.replacing else "Copied (new)"
            if d.multi:
                what = "Multi-thread " + what
            if d.final != d.src.path:  # e.g. the destination keeps its NFD name
                what += f" to: {d.final}"
            log.info(d.src.path, what)
        return TransferResult(d.size, self.hash_kind, d.digest)

    @property
    def may_defer(self) -> bool:
        """Whether ``copy(defer=True)`` may hand a check on: some side's hash comes from a
        backend that is not local."""
        return bool(self.hash_kind) and not self.opts.ignore_checksum \
            and not (self._src_local and self._dst_local)

    def landings(self, width: int) -> int:
        """How many written files may wait at once for their check and rename with
        ``width`` transfers: one per transfer, or as many as a server's hash command
        takes files where a non-local side hashes several files per command (those
        waiting meanwhile share the next command: ``hash_batch``)."""
        batch = 1
        for side, local in ((self.src, self._src_local), (self.dst, self._dst_local)):
            ask = getattr(side, "hash_batch", None)
            if not local and ask is not None and self.hash_kind:
                batch = max(batch, int(ask(self.hash_kind)))
        return max(width, batch)

    def _server_hashes(self, digest: str | None) -> bool:
        """Whether checking the written file asks a server for a hash (an SFTP side's hash
        command): :meth:`_check_written` would call :meth:`_side_hash` for a side that is
        not local."""
        return self.may_defer and not (digest is None and (self._src_local or self._dst_local))

    def _write_metadata(self, src: Entry, tmp: str, dst_path: str, multi: bool) -> None:
        """-M: write the source's metadata (with --metadata-set and the mapper's say) on
        the written file ``tmp``, after its data and time, as rclone's local Update does.
        Raises MetadataError worded as rclone's; the copy then fails."""
        meta = metadata.file_metadata(self.opts, self.src, self.dst, src, dst_path)
        if meta is None:
            return
        try:
            self.dst.write_metadata(tmp, meta)  # type: ignore[attr-defined]
        except PysyncError as err:
            what = "multi-thread copy: failed to set metadata" if multi else \
                "failed to set metadata"
            raise metadata.MetadataError(f"{what}: {err}", path=src.path) from None

    def _remap_partial(self, tmp: str) -> None:
        """--metadata-mapper before the rename: rclone's local Move of the partial file
        reads the partial's own metadata, merges --metadata-set and runs the mapper on it
        again (told the partial's name and the destination as the source), and that answer
        is what the file keeps. A failure is rclone's ``partial file rename failed: move:
        ...`` (logged here; the copy fails)."""
        entry = self.dst.stat(tmp)
        try:
            if entry is None:
                raise OSError(errno.ENOENT, f"{tmp}: no such file or directory")
            try:
                meta = metadata.merge(self.dst.metadata(tmp),  # type: ignore[attr-defined]
                                      metadata.parse_metadata_set(self.opts.metadata_set))
                meta = metadata.run_mapper(metadata.parse_mapper(self.opts.metadata_mapper),
                                           self.dst, self.dst, entry, tmp, meta)
            except (OSError, PysyncError) as err:
                raise metadata.MetadataError(f"move: failed to read metadata: {err}") from None
            if meta:
                try:
                    self.dst.write_metadata(tmp, meta)  # type: ignore[attr-defined]
                except PysyncError as err:
                    raise metadata.MetadataError(f"move: failed to set metadata: {err}"
                                                 ) from None
        except (OSError, PysyncError) as err:
            log.error(tmp, f"partial file rename failed: {err}")
            failed = metadata.MetadataError(str(err), path=tmp)
            failed.logged = True  # type: ignore[attr-defined]
            raise failed from None

    def _can_append(self, old: Entry, src: Entry) -> bool:
        """--append-verify may apply: a smaller destination file that can be reopened."""
        return (self.opts.append_verify and self.partial_ok and not old.is_dir
                and 0 < old.size < src.size and hasattr(self.dst, "open_write_at"))

    def _append(self, src: Entry, old: Entry, final: str, tr: Transfer | None
                ) -> TransferResult | None:
        """--append-verify: when the destination file is exactly the start of the grown
        source, move it aside under the partial name, append the rest, check the whole
        file and rename it back; None when it is no such prefix (copy whole instead).

        The final name never holds a torn file: it holds the old version until it is moved
        aside, then nothing, then the complete new one; a failure puts the old one back.
        """
        reader = self._open_source(src)
        try:
            size, mtime_ns = self._stat_open(reader, src)
            if not 0 < old.size < size:
                return None
            hasher = new_hasher(self.hash_kind) if self.hash_kind else None
            rh = resume_hasher()
            if not _read_prefix(reader, old.size, rh, hasher):  # into both hashes
                return None
            self._check_source(reader, size, mtime_ns)
            theirs = self.dst.hash(final, "xxh3")
            if theirs is None:
                with self.dst.open_read(final) as fh:
                    theirs = _hash_prefix(fh, old.size, resume_hasher())
            if theirs != rh.hexdigest():
                log.debug(src.path, "--append-verify: destination is not a prefix of the source")
                return None
            tmp = partial_name(final, src, self.opts.partial_suffix)
            own = tr is None
            if tr is None:
                tr = self.stats.start_transfer(src.path, size - old.size)
            else:
                tr.size = size - old.size
            err: BaseException | None = None
            self.dst.rename(final, tmp)
            try:
                digest, written, timed = self._stream(reader, src, tmp, size, mtime_ns, tr,
                                                      start=(old.size, hasher, rh))
                if not timed:
                    self.dst.set_mtime(tmp, mtime_ns)
                if self._metadata:
                    self._write_metadata(src, tmp, tmp, False)
                self._verify(src, tmp, size, digest, written)
                self.dst.rename(tmp, final)
            except BaseException as e:
                err = e
                self._put_back(tmp, final, old)
                raise
            finally:
                if own:
                    tr.done(err)
        finally:
            reader.close()
        log.info(src.path, f"Copied (replaced existing): appended {size - old.size} bytes to "
                 "the verified destination")
        return TransferResult(size, self.hash_kind, digest)

    def _put_back(self, tmp: str, final: str, old: Entry) -> None:
        """Undo a failed append: the old version, as it was, under its final name."""
        try:
            with self.dst.open_write_at(tmp, old.size):  # type: ignore[attr-defined]
                pass
            self.dst.set_mtime(tmp, old.mtime_ns)
            self.dst.rename(tmp, final)
            log.info(final, "Put the destination file back after a failed append")
        except OSError as e:
            log.error(final, f"Failed to put the destination file back from {tmp}: {e}")

    def _copy_link(self, src: Entry, dst_path: str, *, replacing: bool,
                   tr: Transfer | None) -> TransferResult:
        """``-l/--links``: a .rclonelink file becomes a symlink on a local destination."""
        with self.src.open_read(src.path) as reader:
            data = reader.read()
        own = tr is None
        if tr is None:
            tr = self.stats.start_transfer(src.path, len(data))
        try:
            self.dst.write_link(dst_path, os.fsdecode(data), src.mtime_ns)  # type: ignore[attr-defined]
            if self._metadata:  # the link's own owner and times (lchown, lutimes)
                self._write_metadata(src, dst_path, dst_path, False)
            tr.add(len(data))
        except BaseException as e:
            if own:
                tr.done(e)
            raise
        if own:
            tr.done(None)
        log.info(src.path, "Copied (replaced existing)" if replacing else "Copied (new)")
        return TransferResult(len(data), None, None)

    def _open_source(self, src: Entry) -> BinaryIO:
        """Open the source for reading. A local file system's plain OSError is re-raised as
        SourceOpenError (same errno, rclone's ``failed to open source object: ...`` text);
        other errors keep their class (retry classes, exit codes)."""
        try:
            whole = getattr(self.src, "open_whole", None)  # a small file in one round trip
            if whole is not None:
                return whole(src.path, src.size)  # type: ignore[no-any-return]
            return self.src.open_read(src.path)
        except OSError as err:
            if not self._src_local or isinstance(
                    err, (PysyncError, SourceOpenError, ConnectionError, TimeoutError)):
                raise
            raise SourceOpenError.wrap(err, local=True) from err

    def _write_error(self, err: OSError, tmp: str) -> OSError:
        """A local destination's plain write error as rclone words it (``write <path>: no
        space left on device``); other errors unchanged."""
        if not self._dst_local or err.errno is None or isinstance(
                err, (PysyncError, DestWriteError)):
            return err
        full = getattr(self.dst, "full", None)
        return DestWriteError.wrap(err, full(tmp) if full is not None else tmp)

    def _open_partial(self, tmp: str, opener: Callable[[], _T], size: int = -1) -> _T:
        """Create the file ``tmp`` with ``opener``; a partial name is registered so that a
        SIGINT/SIGTERM removes it (an --inplace target is left, as rclone does, and so is a
        partial kept for --resume)."""
        try:
            if not self.partial_ok or self._resumable(size):
                return opener()
            return interrupt.open_partial(self.dst, tmp, opener)
        except BaseException as err:  # nothing of this copy's is there to remove
            with contextlib.suppress(AttributeError):
                err.target_unopened = True  # type: ignore[attr-defined]
            raise

    def _resumable(self, size: int) -> bool:
        """True when a transfer of ``size`` bytes keeps its partial file for --resume."""
        return self._can_resume and size >= resume.MIN_SIZE

    def _resume_from(self, reader: BinaryIO, src: Entry, tmp: str, size: int, mtime_ns: int,
                     hasher: Any, rh: Any) -> int:
        """Where to continue a transfer whose partial file an earlier run left (0: start
        afresh). The source's prefix is read into ``hasher`` and ``rh``; when it does not
        match, the caller's reader and hashers are no longer usable (returns -1)."""
        m = resume.read_manifest(self.dst, tmp)
        if m is None or not m.matches(src.path, size, mtime_ns):
            return 0
        got = self.dst.stat(tmp)
        if got is None or got.size < m.done:
            return 0
        with self.dst.open_read(tmp) as fh:  # the partial's prefix must be what was recorded
            if _hash_prefix(fh, m.done, resume_hasher()) != m.prefix:
                log.info(tmp, "Partial file does not match its resume manifest: starting again")
                return 0
        complete = _read_prefix(reader, m.done, rh, hasher)
        self._check_source(reader, size, mtime_ns)
        if not complete or rh.hexdigest() != m.prefix:
            log.info(tmp, "Source does not match the partial file: starting again")
            return -1
        log.info(src.path, f"Resuming transfer at {m.done} bytes (partial file of an earlier "
                 "run verified)")
        return m.done

    def _checkpoint(self, writer: Any, tmp: str, src: Entry, size: int, mtime_ns: int,
                    done: int, rh: Any) -> None:
        """Record that ``done`` leading bytes of the partial file are complete."""
        flush = getattr(writer, "flush", None)
        if flush is not None:
            flush()
        try:
            resume.write_manifest(self.dst, tmp, resume.Manifest(
                src.path, size, mtime_ns, done, rh.hexdigest()))
        except OSError as err:
            log.debug(tmp, f"Failed to write resume manifest: {err}")

    def _stat_open(self, reader: BinaryIO, src: Entry) -> tuple[int, int]:
        """Size and mtime at open (rclone re-stats the source when it opens it)."""
        if self._src_local and hasattr(reader, "fileno") and not _is_memory(reader):
            st = os.fstat(reader.fileno())
            return st.st_size, st.st_mtime_ns
        return src.size, src.mtime_ns

    def _check_source(self, reader: BinaryIO, size: int, mtime_ns: int) -> None:
        if not self._src_local or self.opts.local_no_check_updated or _is_memory(reader):
            return
        st = os.fstat(reader.fileno())
        if st.st_size != size:
            raise SourceChangedError(
                f"can't copy - source file is being updated (size changed from {size} to "
                f"{st.st_size})")
        if st.st_mtime_ns != mtime_ns:
            raise SourceChangedError(
                "can't copy - source file is being updated (mod time changed from "
                f"{format_go_time(mtime_ns)} to {format_go_time(st.st_mtime_ns)})")

    def _stream(self, reader: BinaryIO, src: Entry, tmp: str, size: int, mtime_ns: int,
                tr: Any, start: tuple[int, Any, Any] | None = None
                ) -> tuple[str | None, int, bool]:
        """Copy the data; returns (hash of what was read, size of what was written or -1,
        whether the written file has its time ``mtime_ns`` already: a remote writer that
        sets it in its close, see ``time_at_close``).

        ``start``: ``(n, hasher, xxh3)`` when ``tmp`` already holds the first ``n`` bytes,
        verified, which ``reader`` has been read past and both hashes have seen
        (--append-verify); only the rest is written and the whole file is checked.
        """
        hasher = new_hasher(self.hash_kind) if self.hash_kind else None
        limit = size if self.opts.local_no_check_updated else -1
        rh = resume_hasher() if self._resumable(size) else None  # xxh3 of what is written
        checkpoints = rh is not None
        done = 0
        if start is not None:
            done, hasher, rh = start
        elif rh is not None:
            self.partials_used.add(tmp)
            done = self._resume_from(reader, src, tmp, size, mtime_ns, hasher, rh)
            if done <= 0:
                if done < 0:  # the source's prefix differs: read it again from the start
                    reader.seek(0)
                    hasher = new_hasher(self.hash_kind) if self.hash_kind else None
                rh, done = resume_hasher(), 0
        view = _buffer(size)
        chunk_size = len(view)
        readinto = reader.readinto
        check = self._check_source
        total = done
        next_checkpoint = done + resume.CHECKPOINT
        hard_max = self._max if self._max >= 0 and self.opts.cutoff_mode.upper() == "HARD" \
            else -1
        if done:
            writer = self.dst.open_write_at(tmp, done)  # type: ignore[attr-defined]
        else:
            # a small file sent whole at close, where the backend can (SMB: one round trip)
            whole = getattr(self.dst, "open_write_whole", None) \
                if self.partial_ok and rh is None else None
            if whole is not None:
                writer = self._open_partial(
                    tmp, lambda: whole(tmp, size, interrupt.late_creation), size)
            else:
                writer = self._open_partial(tmp, lambda: self.dst.open_write(tmp), size)
        written = -1
        time_at_close: Any = None  # a remote writer's, once the data is all written
        sink: Any = None  # directio.DirectSink, or a remote writer's sink
        try:
            if self._dst_local and size > 0 and hasattr(writer, "fileno"):
                preallocate(writer.fileno(), size)  # a full disk fails here, as in rclone
                if rh is None and not done and not self.opts.local_no_direct_io:
                    sink = directio.open_sink(writer.fileno(), size)
            elif rh is None and not done and hasattr(writer, "sink"):
                sink = writer.sink(size)  # a remote writer's own buffers: no copy per block
            write = writer.write
            # nothing to hash and a local source: a remote writer that can sends the data
            # from the page cache itself (sendfile), it never enters this process
            send_file = getattr(writer, "send_file", None) \
                if hasher is None and rh is None and sink is None and self._src_local \
                and type(reader) is io.FileIO else None
        except BaseException:
            writer.close()
            raise
        try:
            while True:
                if self.cancel.is_set():
                    raise PysyncError("transfer cancelled")
                if sink is not None:  # read straight into the direct writer's buffer
                    view = sink.space()
                    chunk_size = len(view)
                want = chunk_size if limit < 0 else min(chunk_size, limit - total)
                if want <= 0:
                    break
                if send_file is not None:  # a remote writer's: no hash, no resume here
                    # no more than the size: what a file that grew holds beyond it is seen
                    # by the checks (fstat), not sent
                    want = min(want, size - total) if size >= 0 else want
                    if want <= 0:
                        break
                    n = send_file(reader, total, want)
                    if not n:
                        break
                    check(reader, size, mtime_ns)
                else:
                    n = readinto(view[:want])
                    if not n:
                        break
                    check(reader, size, mtime_ns)
                    chunk = view[:n]
                    if hasher is not None:
                        hasher.update(chunk)
                    try:
                        if sink is not None:
                            sink.commit(n)
                        else:
                            w = write(chunk)
                            if w is not None and w < n:
                                mv = chunk[w:]
                                while mv:
                                    w = write(mv) or 0
                                    mv = mv[w:]
                    except OSError as e:
                        raise self._write_error(e, tmp) from e
                total += n
                tr.add(n)
                if rh is not None:
                    rh.update(chunk)
                    if checkpoints and total >= next_checkpoint:
                        self._checkpoint(writer, tmp, src, size, mtime_ns, total, rh)
                        next_checkpoint = total + resume.CHECKPOINT
                if self.bucket is not None:
                    self.bucket.take(n)
                if hard_max >= 0 and self.stats.bytes_total() > hard_max:
                    raise MaxTransferError("max transfer limit reached as set by --max-transfer")
            check(reader, size, mtime_ns)
            if sink is not None:
                try:
                    sink.finish()
                except OSError as e:
                    raise self._write_error(e, tmp) from e
            fileno = getattr(writer, "fileno", None)
            if fileno is not None and self._dst_local:
                written = os.fstat(fileno()).st_size
            time_at_close = getattr(writer, "time_at_close", None)
            if time_at_close is not None:
                time_at_close(mtime_ns)
        except Exception as e:
            # rclone's local Update: an error while the data is written (a read, a write, a
            # source change, the hard --max-transfer cut) removes the partial itself
            if self._dst_local and not isinstance(e, interrupt.InterruptedRunError):
                try:
                    e.partially_written = True  # type: ignore[attr-defined]
                except AttributeError:
                    pass
            raise
        finally:
            writer.close()
        timed = time_at_close is not None
        if timed:
            written = writer.closed_size  # type: ignore[attr-defined]
        if done and rh is not None and total == size:
            # a resumed file is checked whole: the kept prefix and the new tail together
            other = self.dst.hash(tmp, "xxh3")
            if other and other != rh.hexdigest():
                raise CorruptedError(f"corrupted on transfer: resumed file {tmp} does not hash "
                                     "like its source")
        if total != size and limit < 0 and self._src_local and not _is_memory(reader):
            raise SourceChangedError(
                f"can't copy - source file is being updated (size changed from {size} to "
                f"{total})")
        return (hasher.hexdigest() if hasher is not None else None), written, timed

    def _kernel_ok(self, reader: BinaryIO, size: int) -> bool:
        """The kernel copy applies: local to local, a plain file (not a link's text, not a
        wrapped reader), no partial file kept for --resume."""
        return (self._kernel_pair and type(reader) is io.FileIO
                and not self._resumable(size))

    def _kernel(self, reader: BinaryIO, tmp: str, size: int, mtime_ns: int, tr: Any) -> int:
        """Copy a local file to the local partial ``tmp`` in the kernel (copy_file_range,
        else sendfile, else read/write) and set its time on the open descriptor; returns the
        bytes written. The same checks as ``_stream``: cancel, source change (fstat after
        each chunk and at the end), the hard --max-transfer cut, a full disk."""
        limit = size if self.opts.local_no_check_updated else -1
        hard_max = self._max if self._max >= 0 and self.opts.cutoff_mode.upper() == "HARD" \
            else -1
        writer = self._open_partial(tmp, lambda: self.dst.open_write(tmp), size)
        total = 0
        try:
            out_fd = writer.fileno()
            try:
                if size > 0:
                    preallocate(out_fd, size)  # a full disk fails here, as in rclone
                in_fd = reader.fileno()
                check = self._check_source
                cancel = self.cancel
                # a small file is asked for in one call (one byte more than expected: a
                # short count at the expected size is its end, which the last check confirms)
                first = size + 1 if 0 <= size < _KERNEL_CHUNK else _KERNEL_CHUNK
                want = first if limit < 0 else min(first, limit)
                while want > 0:
                    if cancel.is_set():
                        raise PysyncError("transfer cancelled")
                    try:
                        n = kernel_copy(in_fd, out_fd, want)
                    except OSError as e:
                        if e.errno in _WRITE_ERRNOS:
                            raise self._write_error(e, tmp) from e
                        raise
                    if not n:
                        break
                    total += n
                    tr.add(n)
                    if hard_max >= 0 and self.stats.bytes_total() > hard_max:
                        raise MaxTransferError(
                            "max transfer limit reached as set by --max-transfer")
                    if n < want and total >= size:
                        break  # the end (or the source grew: the check below says so)
                    check(reader, size, mtime_ns)
                    want = _KERNEL_CHUNK if limit < 0 else min(_KERNEL_CHUNK, limit - total)
                check(reader, size, mtime_ns)
                if total != size and limit < 0:
                    raise SourceChangedError(
                        f"can't copy - source file is being updated (size changed from {size} "
                        f"to {total})")
            except Exception as e:
                # as _stream: an error while the data is written removes the partial itself
                if not isinstance(e, interrupt.InterruptedRunError):
                    try:
                        e.partially_written = True  # type: ignore[attr-defined]
                    except AttributeError:
                        pass
                raise
            self.dst.set_mtime_open(tmp, out_fd, mtime_ns)  # type: ignore[attr-defined]
        finally:
            writer.close()
        return total

    def _multi_ok(self, size: int) -> bool:
        """rclone's rule: several streams for big files when the destination takes positional
        writes; local to local only when --multi-thread-streams was given explicitly."""
        o = self.opts
        if o.multi_thread_streams <= 1 or size <= 0 or size < o.multi_thread_cutoff:
            return False
        if not (self._src_local and self._dst_local and self.dst.features.writer_at):
            return False
        return o.multi_thread_streams_set

    def _multi(self, reader: BinaryIO, tmp: str, size: int, mtime_ns: int, tr: Any
               ) -> tuple[str | None, int]:
        """Copy with several threads, each reading and writing its own 64 MiB chunks at
        their own offsets (pread/pwrite release the GIL). Local destination only."""
        from concurrent.futures import ThreadPoolExecutor

        part = 64 * 1024 * 1024
        chunks = [(off, min(part, size - off)) for off in range(0, size, part)]
        streams = min(self.opts.multi_thread_streams, len(chunks))
        in_fd = reader.fileno()
        full = self.dst.full(tmp)  # type: ignore[attr-defined]

        def create() -> int:
            try:
                return os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(full), exist_ok=True)
                return os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)

        out_fd = self._open_partial(tmp, create)
        lock = threading.Lock()
        failed = threading.Event()
        next_chunk = iter(chunks)

        def worker() -> None:
            view = _buffer(-1)
            while not failed.is_set() and not self.cancel.is_set():
                with lock:
                    item = next(next_chunk, None)
                if item is None:
                    return
                off, length = item
                end = off + length
                while off < end:
                    n = os.preadv(in_fd, [view[: min(len(view), end - off)]], off)
                    if n <= 0:
                        raise SourceChangedError(
                            "can't copy - source file is being updated (size changed from "
                            f"{size} to {off})")
                    self._check_source(reader, size, mtime_ns)
                    mv = view[:n]
                    pos = off
                    while mv:
                        w = os.pwrite(out_fd, mv, pos)
                        mv, pos = mv[w:], pos + w
                    off += n
                    tr.add(n)
                    if self.bucket is not None:
                        self.bucket.take(n)

        try:
            with ThreadPoolExecutor(max_workers=streams, thread_name_prefix="stream") as ex:
                futures = [ex.submit(worker) for _ in range(streams)]
                for fut in futures:
                    try:
                        fut.result()
                    except BaseException:
                        failed.set()
                        raise
            if self.cancel.is_set():
                raise PysyncError("transfer cancelled")
            self._check_source(reader, size, mtime_ns)
            written = os.fstat(out_fd).st_size
        finally:
            os.close(out_fd)
        return None, written

    def _verify(self, src: Entry, tmp: str, size: int, digest: str | None, written: int
                ) -> None:
        """:meth:`_check_written`; a mismatch is logged as rclone logs it, on the written
        (partial) file and not as ``Failed to copy``, before the partial is removed."""
        try:
            self._check_written(src, tmp, size, digest, written)
        except CorruptedError as err:
            log.error(tmp, str(err))
            err.logged = True  # type: ignore[attr-defined]
            raise

    def _check_written(self, src: Entry, tmp: str, size: int, digest: str | None,
                       written: int) -> None:
        """Size and hash of the written file, as rclone's copy verifies them.

        ``written`` is the size fstat() reported for the written file (-1: stat it now).
        The hashes compared are rclone's (``checkHashes``): the source's and the written
        file's, each from its own backend (an SFTP side runs its hash command, after the
        copy, on the server); a local side's is ``digest``, the hash of the bytes this copy
        read and wrote. A side without that hash (an empty one) makes the check pass.
        """
        opts = self.opts
        got_size = written
        if got_size < 0:
            got = self.dst.stat(tmp)
            if got is None:
                raise CorruptedError(
                    f"corrupted on transfer: destination {tmp} missing after write")
            got_size = got.size
        if not opts.ignore_size and size >= 0 and got_size >= 0 and got_size != size:
            raise CorruptedError(
                f"corrupted on transfer: sizes differ src({self.src.describe()}) {size} vs "
                f"dst({self.dst.describe()}) {got_size}")
        kind = self.hash_kind
        if not self._server_hashes(digest):
            return  # no hash, or local to local: both sides would be the same digest
        src_sum = digest if self._src_local else \
            self._side_hash("src", self.src, src.path, size)
        dst_sum = digest if self._dst_local else self._side_hash("dst", self.dst, tmp, size)
        if src_sum == "" or dst_sum == "":
            return
        if src_sum is not None and src_sum == dst_sum:
            log.debug(src.path, f"{kind} = {src_sum} OK")
            return
        if src_sum is not None and dst_sum is not None:
            log.debug(src.path, f"{kind} = {src_sum} ({self.src.describe()})")
            log.debug(tmp, f"{kind} = {dst_sum} ({self.dst.describe()})")
        raise CorruptedError(
            f'corrupted on transfer: {kind} hashes differ src({self.src.describe()}) '
            f'"{src_sum or ""}" vs dst({self.dst.describe()}) "{dst_sum or ""}"')

    def _side_hash(self, side: str, backend: Backend, path: str, size: int) -> str | None:
        """``backend``'s hash of ``path`` ("" when it has none); None, logged and counted
        as rclone's ``Failed to calculate src hash`` error, when computing it failed.
        ``size``: the file's (a backend with ``hash_sized`` may hash small files together)."""
        assert self.hash_kind is not None
        sized = getattr(backend, "hash_sized", None)
        try:
            if sized is not None:
                return sized(path, self.hash_kind, size) or ""
            return backend.hash(path, self.hash_kind) or ""
        except OSError as err:
            self.stats.error(err)
            log.error(path, f"Failed to calculate {side} hash: {err}")
            return None

    def _remove_partially_written(self, tmp: str, err: BaseException) -> None:
        """A local partial file cut short while written: removed with rclone's local
        backend's NOTICE (its copy code then finds nothing left to remove)."""
        log.notice(tmp, f"Removing partially written file on error: {err}")
        try:
            self.dst.remove(tmp)
        except FileNotFoundError:
            pass
        except OSError as e:
            log.error(tmp, f"Failed to remove partially written file: {e}")

    def _remove_failed(self, tmp: str) -> str | None:
        """Remove the partial file of a failed copy, if there is one. Returns rclone's
        ``Failed to remove failed partial copy`` note when a local partial's path cannot be
        looked up (a file in the way of its directory), for the caller to log."""
        try:
            if self.dst.stat(tmp) is not None:
                log.info(tmp, "Removing failed copy")
                self.dst.remove(tmp)
            elif self._dst_local and self.partial_ok:  # rclone: for a partial name only
                return _lstat_note(self.dst, tmp)
        except OSError as e:  # rclone: INFO, the copy's own error is what counts
            log.info(tmp, f"Failed to remove failed copy: {e}")
        return None


def _lstat_note(dst: Backend, tmp: str) -> str | None:
    """rclone's note when looking a failed local partial up fails for another reason than
    its absence (Go's IsNotExist is ENOENT only): ``lstat <path>: not a directory``."""
    full, shown = getattr(dst, "full", None), getattr(dst, "shown", None)
    if full is None or shown is None:
        return None
    try:
        os.lstat(full(tmp))
    except FileNotFoundError:
        return None
    except OSError as err:
        reason = os.strerror(err.errno) if err.errno is not None else str(err)
        return (f"Failed to remove failed partial copy: lstat {shown(tmp)}: "
                f"{reason[:1].lower() + reason[1:]}")
    return None


def _disk_full(err: BaseException) -> bool:
    """True for a full disk or an exhausted quota (ENOSPC, EDQUOT)."""
    return isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS


def resume_hasher() -> Any:
    """The hash --resume manifests record (xxh3: fast, and always available)."""
    return new_hasher("xxh3")


def _read_prefix(fh: BinaryIO, n: int, *hashers: Any) -> bool:
    """Read the first ``n`` bytes of ``fh`` into every hasher given (None ones skipped);
    False when ``fh`` ends sooner. Uses this thread's transfer buffer."""
    hashers = tuple(h for h in hashers if h is not None)
    view = _buffer(min(n, CHUNK))
    left = n
    while left > 0:
        got = fh.readinto(view[:min(left, len(view))])
        if not got:
            return False
        for h in hashers:
            h.update(view[:got])
        left -= got
    return True


def _hash_prefix(fh: BinaryIO, n: int, hasher: Any) -> str:
    """The hex digest of the first ``n`` bytes read from ``fh`` ("" if it is shorter)."""
    return hasher.hexdigest() if _read_prefix(fh, n, hasher) else ""


def _is_memory(reader: object) -> bool:
    return isinstance(reader, io.BytesIO)
