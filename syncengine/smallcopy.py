"""The lean copy of new small local files: a batch of one directory, copied from open to
rename on one thread (a small-file lane thread: one per core, at most --transfers), a
handful of system calls and no per-file bookkeeping.

Why: copying 20,000 new files of 1-64 KiB local to local, the general path
(:meth:`Transferer.copy` through :class:`~syncengine.execute.Copier`) spent ~75 µs of Python
per file (a Transfer with its speed average, three records, interrupt registration under a
condition, two file objects, a dozen calls), two thirds of the run's CPU, while the system
calls themselves (what ``cp -r`` plus a rename and a time stamp cost) took ~40 µs. A batch
is handed over once (not per file); what is left per file is the kernel's work (inode
allocation, the journal: ~90% of the copy's CPU on this VM's ext4), which runs without the
GIL, so batches run side by side on the lane's threads, one per core.

Per file this does what the general path does with the kernel copy, in its order: open the
source and fstat it (its size and time at open are what is copied), create the partial file
``<name>.<crc>.partial`` (rclone's name, :func:`~syncengine.transfer.partial_name`), copy in
the kernel, fstat the source again, set the time on the open descriptor, close, and rename
over the final name; the written size is checked against the size at open. It logs
``Copied (new)`` at INFO, as the general path does, and counts the file transferred when it
is renamed. No space is reserved first (rclone's preallocation, a system call per file that
one small write does not need): a full disk fails the copy here, and the general path then
reserves the space and reports the failure as rclone words it (``preallocate: file too big
for remaining disk space``).

Anything else is left to the general path: an error of any kind, a source that changed or is
not a plain file, a partial name outside the directory, a run being cancelled. The partial
file this path made is removed first, and the file (with the rest of the batch once the run
is stopping) is handed back, to be copied from the start with the general path's retries,
checks, error messages and clean-up. A source that changed during the lean copy is thus read
once more by the general path, which fails it if it is still changing (an open-to-rename
window of a few system calls, as rclone's own retry would see it).

New small files from an SMB share to a local folder take the same way
(:func:`copy_batch_down`): the batch's data is read together on one connection
(``SmbBackend.read_small``, many files' compounds in flight), then each file is written to
its partial file, timed on its descriptor and renamed here, with the same hand-backs.

Interruption (:func:`interrupt.creating`): on the main thread, where SIGINT's handler runs,
each partial file is registered before it is created, so the clean-up removes the one in
hand; elsewhere the batch counts as one creation under way, which the clean-up waits for. A
file is only started while no clean-up has begun. A KeyboardInterrupt (a library caller
without pysync's signal handlers) removes the partial file in hand on its way out; no final
name ever holds a partial copy.
"""

from __future__ import annotations

import os
import sys
from stat import S_ISREG

from . import interrupt, log
from .backends.local import NO_KERNEL_COPY
from .transfer import partial_name_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from .accounting import Stats
    from .actions import Copy
    from .backends.local import LocalBackend
    from .transfer import Transferer

__all__ = ["copy_batch", "copy_batch_down", "lean_down_ok", "lean_ok"]

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
# what open(path, "wb") asks for (mode 0o666 less the umask), without a file object
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def lean_ok(t: Transferer) -> bool:
    """Whether the copies of ``t`` may take the lean path: local to local (pysync's own
    LocalBackend on both sides) with the kernel copy, partial files, and none of the
    options that act per file (metadata, links, no source check, resume, multi-thread
    copies of small files). The caller adds its own conditions (no dry run, no limits, no
    event callback, no debug log)."""
    from .backends.local import LocalBackend

    o = t.opts
    # the backends' own methods are bypassed: not for a subclass with its own rules
    return (type(t.src) is LocalBackend and type(t.dst) is LocalBackend
            and t.kernel_copies and t.partial_ok and not o.metadata and not o.links
            and not o.local_no_check_updated and not o.resume
            and not (o.multi_thread_streams_set and o.multi_thread_streams > 1)
            and hasattr(os, "copy_file_range") and hasattr(os, "sendfile")
            and {os.open, os.rename, os.unlink} <= os.supports_dir_fd
            and os.utime in os.supports_fd)


def lean_down_ok(t: Transferer) -> bool:
    """Whether the copies of ``t`` may take the lean download path: from an SMB share
    (pysync's SmbBackend, whose ``read_small`` reads many small files in one round trip)
    to pysync's LocalBackend, with partial files, nothing to verify by hash, no bandwidth
    limit and none of the options that act per file (as :func:`lean_ok`)."""
    from .backends.local import LocalBackend

    # not imported: the source is no share (an SFTP run does not import the SMB stack here)
    smb = sys.modules.get(f"{__package__}.backends.smb")
    o = t.opts
    return (smb is not None and type(t.src) is smb.SmbBackend and type(t.dst) is LocalBackend
            and t.partial_ok and not t.hash_kind and t.bucket is None
            and not t.server_copies and not o.metadata and not o.links and not o.resume
            and not (o.multi_thread_streams_set and o.multi_thread_streams > 1)
            and {os.open, os.rename, os.unlink} <= os.supports_dir_fd
            and os.utime in os.supports_fd)


def copy_batch(t: Transferer, batch: Sequence[Copy], stats: Stats,
               stop: Callable[[], bool]) -> list[Copy]:
    """Copy the new files ``batch`` (one source directory, one destination directory) the
    lean way; returns those left for the general path, in order (all of them when the
    directories cannot be opened here): every other file was copied and counted.
    ``stop()`` True: the run is ending, start no file."""
    src: LocalBackend = t.src  # type: ignore[assignment]
    dst: LocalBackend = t.dst  # type: ignore[assignment]
    sdir = batch[0].path.rpartition("/")[0]
    ddir = batch[0].dst_path.rpartition("/")[0]
    for a in batch:
        if a.path.rpartition("/")[0] != sdir or a.dst_path.rpartition("/")[0] != ddir:
            return list(batch)
    try:
        sfd = _open_dir(src, sdir, make=False)
    except OSError:
        return list(batch)
    try:
        try:
            dfd = _open_dir(dst, ddir, make=True)
        except OSError:
            return list(batch)
        try:
            return _copy_in(t, batch, stats, stop, sfd, dfd, ddir)
        finally:
            os.close(dfd)
    finally:
        os.close(sfd)


def copy_batch_down(t: Transferer, batch: Sequence[Copy], stats: Stats,
                    stop: Callable[[], bool]) -> list[Copy]:
    """Copy the new small files ``batch`` (one source directory, one destination directory)
    from an SMB share the lean way (see :func:`lean_down_ok`): their data read together
    (``SmbBackend.read_small``), each written to its partial file, given its time and
    renamed on this thread. Returns those left for the general path, in order: a file not
    read whole, or whose size is not the listed one (it changed: the general path reads it
    again and reports), any error. ``stop()`` True: the run is ending, start no file."""
    dst: LocalBackend = t.dst  # type: ignore[assignment]
    ddir = batch[0].dst_path.rpartition("/")[0]
    if any(a.dst_path.rpartition("/")[0] != ddir for a in batch) or stop():
        return list(batch)
    try:
        dfd = _open_dir(dst, ddir, make=True)
    except OSError:
        return list(batch)
    try:
        try:
            datas = t.src.read_small([(a.path, a.size) for a in batch])  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - no connection: the general path retries, reports
            return list(batch)
        return _write_in(t, batch, datas, stats, stop, dfd, ddir)
    finally:
        os.close(dfd)


def _write_in(t: Transferer, batch: Sequence[Copy], datas: Sequence[bytes | None],
              stats: Stats, stop: Callable[[], bool], dfd: int, ddir: str) -> list[Copy]:
    """:func:`copy_batch_down`'s part on the destination: ``datas[i]`` (None: not read) is
    written as ``batch[i]``."""
    def one(i: int, a: Copy, tmp: str, partial: str, live: Any) -> int | None:
        data = datas[i]
        if data is None or len(data) != a.size:
            return None

        def fill(fo: int) -> int:
            view = memoryview(data)
            while view:
                view = view[os.write(fo, view):]
            os.utime(fo, ns=(a.mtime_ns, a.mtime_ns))
            return a.size

        return _land(live, partial, tmp, a.dst_path.rpartition("/")[2], dfd, fill)

    return _each(t, batch, stats, stop, ddir, one)


def _each(t: Transferer, batch: Sequence[Copy], stats: Stats, stop: Callable[[], bool],
          ddir: str, one: Callable[[int, Copy, str, str, Any], int | None]) -> list[Copy]:
    """The batch loop of both lean paths: for each file still to be started (none once the
    run is cancelled, stopping or cleaning up), ``one(i, file, partial file name in the
    destination folder, its path, live creations)`` copies it and returns the bytes read,
    or None to hand it back; a copied file is counted and logged as the general path does.
    Returns the files handed back, in order."""
    suffix = t.opts.partial_suffix
    cancel = t.cancel
    left: list[Copy] = []
    tr = None
    say = log.enabled(log.INFO)
    try:
        block = interrupt.creating(t.dst)
        live = block.__enter__()
    except interrupt.InterruptedRunError:
        return list(batch)  # the run is ending: the general path drops them
    try:
        for i, a in enumerate(batch):
            if cancel.is_set() or stop() or live.closing():
                left.extend(batch[i:])  # the general path drops them as the run ends
                break
            partial = partial_name_for(a.dst_path, a.size, a.mtime_ns, suffix)
            tdir, _, tmp = partial.rpartition("/")
            if tdir != ddir:
                left.append(a)
                continue
            if tr is None:
                tr = stats.start_transfer(a.path, a.size, queued=False)
            else:
                tr.show(a.path, a.size)
            size = one(i, a, tmp, partial, live)
            if size is None:
                left.append(a)
                continue
            stats.file_copied(tr, a.size, size)
            if say:
                log.info(a.path, "Copied (new)" if a.dst_path == a.path
                         else f"Copied (new) to: {a.dst_path}")
    finally:
        block.__exit__(None, None, None)
    if tr is not None:
        tr.discard()
    return left


def _land(live: Any, partial: str, tmp: str, final: str, dfd: int,
          fill: Callable[[int], int]) -> int | None:
    """Create the partial file ``tmp`` in the folder ``dfd`` (registered as ``partial``
    with the run's live creations first), let ``fill(descriptor)`` write it and set its
    time, close it and rename it to ``final``; what ``fill`` returned (the bytes read), or
    None after any error, the partial file removed. A KeyboardInterrupt removes it too on
    its way out: no final name ever holds a partial copy."""
    made = False
    try:
        live.register(partial)
        made = True
        fo = os.open(tmp, _WRITE_FLAGS, 0o666, dir_fd=dfd)
        try:
            size = fill(fo)
        finally:
            os.close(fo)
        os.rename(tmp, final, src_dir_fd=dfd, dst_dir_fd=dfd)
        made = False
        live.release(partial)
        return size
    except Exception:  # noqa: BLE001 - the general path redoes it and reports
        return None
    finally:
        if made:  # removed before the general path writes it (or the run ends)
            _remove(tmp, dfd)
            live.release(partial)


def _open_dir(backend: LocalBackend, path: str, *, make: bool) -> int:
    """A descriptor of the folder ``path``, made first (with its parents, as the general
    path's first write makes them) when ``make`` and it is missing."""
    try:
        return backend.open_dir(path)
    except FileNotFoundError:
        if not make:
            raise
    backend.mkdir(path)
    return backend.open_dir(path)


def _copy_in(t: Transferer, batch: Sequence[Copy], stats: Stats, stop: Callable[[], bool],
             sfd: int, dfd: int, ddir: str) -> list[Copy]:
    cfr: Callable[[int, int, int], int] = os.copy_file_range

    def one(_i: int, a: Copy, tmp: str, partial: str, live: Any) -> int | None:
        try:
            fi = os.open(a.path.rpartition("/")[2], _READ_FLAGS, dir_fd=sfd)
        except OSError:
            return None
        try:
            st = os.fstat(fi)
            size, mtime = st.st_size, st.st_mtime_ns
            if not S_ISREG(st.st_mode):
                return None

            def fill(fo: int) -> int:
                nonlocal cfr
                total = 0
                while True:  # one call asks a byte more: a short count is the end
                    try:
                        n = cfr(fi, fo, size + 1 - total)
                    except OSError as err:
                        if cfr is _sendfile or total or err.errno not in NO_KERNEL_COPY:
                            raise
                        # another file system (EXDEV) or no copy_file_range here:
                        # sendfile for this batch (it fails over to the general path)
                        cfr = _sendfile
                        n = cfr(fi, fo, size + 1 - total)
                    total += n
                    if not n or total >= size:
                        break
                st = os.fstat(fi)
                if total != size or st.st_size != size or st.st_mtime_ns != mtime:
                    raise _Changed
                os.utime(fo, ns=(mtime, mtime))
                return size

            return _land(live, partial, tmp, a.dst_path.rpartition("/")[2], dfd, fill)
        finally:
            os.close(fi)

    return _each(t, batch, stats, stop, ddir, one)


class _Changed(Exception):
    """The source changed during the lean copy (the general path reports it)."""


def _sendfile(in_fd: int, out_fd: int, count: int) -> int:
    """``copy_file_range``'s arguments, for ``sendfile`` (both offsets advance)."""
    return os.sendfile(out_fd, in_fd, None, count)


def _remove(name: str, dfd: int) -> None:
    try:
        os.unlink(name, dir_fd=dfd)
    except OSError:
        pass  # the general path writes the same partial name again, truncating it
