"""A local tree's folders listed ahead of the march by a helper process.

A local listing is a readdir and one fstatat per entry, plus a few microseconds of Python
per entry: on a tree of many small files (20,000 files, ~150 ms per side here) a no-op sync
spends most of its time there, on one core. Listing threads do not help: they hand the GIL
to each other around every stat call. A helper process does: it walks the folders the march
will take (:mod:`._scan` in a bare interpreter, no imports of its own), in the march's
order, while the march pairs and decides on the other core, and hands each listing over as
one ``marshal`` frame.

The listings are the same: the helper runs the local backend's own :func:`._scan.scan`, and
its notes (a symlink skipped, a special file) are logged when the march takes the listing,
where listing in line logs them. A folder the helper does not bring (it could not start,
reads names in another encoding, died, or walked another way than the march) is listed in
this process: nothing depends on the helper. Listings the march has not taken yet are held
up to a bound (:data:`HOLD`); past it the helper is stopped.
"""

from __future__ import annotations

import marshal
import os
import sys

from ..errors import DirNotFoundError
from ..march import Listing
from . import _scan
from .base import Entry
from .local import Listed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..march import SortKey
    from .local import LocalBackend

__all__ = ["ScanHelper", "HOLD"]

#: listings held for the march at most (entries): a march that goes another way than the
#: helper (it skips a folder the helper walked) stops the helper past this
HOLD = 65536

_Frame = tuple  # (path, records, notes, error, keys): see _scan.walk


class ScanHelper:
    """The helper process walking ``backend``'s folders below the given starts."""

    def __init__(self, backend: LocalBackend, pid: int, to_helper: int, from_helper: int,
                 key: SortKey | None = None) -> None:
        self.backend = backend
        self.key = key
        self.pid: int | None = pid
        self._to = to_helper
        self._from = from_helper
        self._in = bytearray()  # what the helper wrote that is not parsed yet
        self._held: dict[str, _Frame] = {}
        self._held_entries = 0
        self._greeted = False  # its first frame (the filesystem encoding) is in
        self.finished = False  # its last frame is in
        self.dead = False

    @classmethod
    def start(cls, backend: LocalBackend, starts: Iterable[tuple[str, int]],
              max_depth: int, key: SortKey | None) -> ScanHelper | None:
        """A helper that walks ``starts`` (``(path, march depth)``, in this order) of
        ``backend``, or None where none can run (no ``posix_spawn``, no listing through
        descriptors, no Python interpreter to run it with). ``key``: the march's sort key
        of this side, if the helper can sort by it (no case folding, no name transform):
        the listings then come sorted, as ``march.Listing``."""
        exe = sys.executable
        if not (_scan.SUPPORTED and hasattr(os, "posix_spawn") and exe
                and not getattr(sys, "frozen", False)
                and os.path.basename(exe).startswith("python")):
            return None
        args = [exe, "-I", "-S"]
        if sys.flags.utf8_mode:
            args += ["-X", "utf8"]
        args += [_scan.__file__, backend.root, "1" if backend.copy_links else "0",
                 "1" if backend.links else "0", str(max_depth), "0" if key is None else "1",
                 "1" if key is None or key.normalize else "0"]
        request = b"".join(b"%d\t%s\0" % (depth, os.fsencode(path)) for path, depth in starts)
        req_r, req_w = _above_stdio(*os.pipe())
        resp_r, resp_w = _above_stdio(*os.pipe())
        try:
            # its own process group: a terminal's Ctrl-C is this process's to handle; the
            # helper ends when its input closes (this process closed it, or ended)
            pid = os.posix_spawn(exe, args, os.environ, file_actions=[
                (os.POSIX_SPAWN_DUP2, req_r, 0), (os.POSIX_SPAWN_DUP2, resp_w, 1),
                (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0)], setpgroup=0)
        except OSError:
            for fd in (req_r, req_w, resp_r, resp_w):
                os.close(fd)
            return None
        os.close(req_r)
        os.close(resp_w)
        helper = cls(backend, pid, req_w, resp_r, key)
        try:
            _scan.write_all(req_w, request + b"\0")
        except OSError:
            helper.close()
            return None
        return helper

    def take(self, path: str) -> list[Entry] | OSError | None:
        """The listing of ``path`` (its notes logged now, as listing in line logs them),
        the error that ended it, or None: the helper does not bring it (list in line)."""
        frame = self._held.pop(path, None)
        if frame is None:
            frame = self._wait_for(path)
            if frame is None:
                return None
        else:
            self._held_entries -= len(frame[1])
        _path, records, notes, error, keys = frame
        prefix = path + "/" if path else ""
        # the notes as in line: NOTICEs logged now, listing errors handed on with the list
        errors = self.backend.noted(prefix, notes)
        new = tuple.__new__  # Entry(...) without the named tuple's Python-level __new__
        if error is None:
            if keys is None:
                listing = Listed([new(Entry, r) for r in records])
            else:
                listing = Listing([new(Entry, r) for r in records])
                listing.keys = keys
                listing.key_of = self.key
            if errors:
                listing.errors = errors
            return listing
        opened, errno, strerror, filename = error
        err = OSError(errno, strerror, filename)
        if not opened and isinstance(err, (FileNotFoundError, NotADirectoryError)):
            return DirNotFoundError("directory not found", path=self.backend.full(path))
        return err

    def _wait_for(self, path: str) -> _Frame | None:
        """Read the helper's frames until ``path``'s; the others are held."""
        while not self.dead and not self.finished:
            frame = self._next_frame()
            if frame is None:
                continue
            if frame[0] == path:
                return frame
            self._held[frame[0]] = frame
            self._held_entries += len(frame[1])
            if self._held_entries > HOLD:  # the march went another way
                self.close()
        return None

    def _next_frame(self) -> _Frame | None:
        """The next frame (waiting for it); None after the greeting, at the end, or when
        the helper failed (then it is stopped)."""
        buf = self._in
        try:
            while len(buf) < 4 or len(buf) - 4 < int.from_bytes(buf[:4], "little"):
                chunk = os.read(self._from, 1 << 16)
                if not chunk:
                    raise EOFError
                buf += chunk
            size = int.from_bytes(buf[:4], "little")
            frame = marshal.loads(buf[4:4 + size])
            del buf[:4 + size]
        except (OSError, EOFError, ValueError):
            self.close()
            return None
        if not self._greeted:
            self._greeted = True
            if tuple(frame) != (sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()):
                self.close()  # names would read otherwise than in line
            return None
        if frame is None:
            self.finished = True
        return frame  # type: ignore[no-any-return]

    def close(self) -> None:
        """Stop the helper (by its PID) and reap it; what it holds is dropped."""
        self._held.clear()
        self._held_entries = 0
        if self.dead:
            return
        self.dead = True
        for fd in (self._to, self._from):
            try:
                os.close(fd)
            except OSError:
                pass
        pid, self.pid = self.pid, None
        if pid is not None:
            try:
                os.kill(pid, 9)  # SIGKILL: it only reads, and may be deep in a big folder
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def _above_stdio(*fds: int) -> tuple[int, ...]:
    """``fds`` moved to numbers above 2 where they are not (this process was started with
    its standard input, output or error closed): the helper's 0 and 1 are made from them,
    and a pipe end on 0-2 would be overwritten, or kept close-on-exec, on the way."""
    if min(fds) > 2:
        return fds
    import fcntl

    moved = []
    for fd in fds:
        if fd <= 2:
            high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            os.close(fd)
            fd = high
        moved.append(fd)
    return tuple(moved)
