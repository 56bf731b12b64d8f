"""The local disk backend: os.scandir listings, os.replace renames, ns mtimes, symlink rules."""

from __future__ import annotations

import errno
import os
import stat as _stat
from collections.abc import Iterator, Mapping

from .. import log
from ..errors import DirNotFoundError, NoRetryError, PysyncError
from ..hashing import hash_file
from ..names import UnsafeNameError, unsafe_path_reason
from ..units import format_rfc3339
from . import _scan
from .base import Entry, Features

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

__all__ = ["LocalBackend", "Listed", "LINK_SUFFIX", "go_path_error", "kernel_copy"]


class Listed(list):  # type: ignore[type-arg]
    """A folder's entries that come with listing errors of single entries (``errors``:
    ``(path, error)``; rclone's local backend logs and counts those, and lists on)."""

    errors: list[tuple[str, OSError]]


LINK_SUFFIX = _scan.LINK_SUFFIX


class LocalBackend:
    """Files under ``root`` on this machine.

    Symlinks follow rclone's local backend: skipped with a NOTICE by default, followed with
    ``copy_links`` (``-L``), or shown as ``<name>.rclonelink`` files holding the link target
    with ``links`` (``-l``).
    """

    features = Features(name="local", precision_ns=1,
                        hashes=("md5", "sha1", "sha256", "crc32", "xxh3", "xxh128"),
                        can_set_mtime=True, partial_uploads=True, writer_at=True)

    def __init__(self, root: str, *, copy_links: bool = False, links: bool = False,
                 name: str = "local") -> None:
        #: rclone's Fs name: ``local`` for a plain path, else the config section's name
        self.name = name
        self.root = os.path.abspath(os.path.expanduser(root)) if root else os.getcwd()
        self._given_root = _go_clean(root or ".")  # the root as rclone keeps and shows it
        self.copy_links = copy_links
        self.links = links and not copy_links
        self._no_xattrs = False  # set once a write found the filesystem has none

    # ----- naming ---------------------------------------------------------------------

    def describe(self) -> str:
        """rclone's description of the Fs, used as the log subject."""
        shown = "/".join("\uff0e" * len(p) if p in (".", "..") else p
                         for p in self._given_root.split("/"))
        return f"Local file system at {shown}"

    def shown(self, path: str) -> str:
        """``path`` as rclone's local backend names it in errors: under the root as given."""
        return os.path.join(self._given_root, path) if path else self._given_root

    def full(self, path: str) -> str:
        """The absolute OS path of ``path`` (relative to the root).

        Raises UnsafeNameError for an absolute path or one with a ``..`` segment: nothing
        may name a file outside the root (a cheap substring test guards the split).
        """
        if not path:
            return self.root
        if path[0] == "/" or (".." in path and ".." in path.split("/")):
            raise UnsafeNameError(f"refusing path {path!r}: it {unsafe_path_reason(path)} and "
                                  f"would leave the root {self.root!r}", path=path)
        return os.path.join(self.root, path)

    # ----- listing --------------------------------------------------------------------

    def list_dir(self, path: str, *, want_stat: bool = True) -> Iterator[Entry]:
        """The direct children of ``path``; raises DirNotFoundError if it is no directory.

        ``want_stat`` False skips the per-entry stat() when the caller needs names and types
        only (sizes are then -1 and times 0); readdir's entry types are used instead.
        """
        full = self.full(path)
        prefix = path + "/" if path else ""
        try:
            if not _scan.SUPPORTED:
                return self._list(full, prefix, want_stat)
            # through a descriptor: each entry's stat is an fstatat of its name in this
            # folder, not an lstat that walks the whole path from the root again
            dfd = self.open_dir(path)
        except (FileNotFoundError, NotADirectoryError):
            raise DirNotFoundError("directory not found", path=full) from None
        try:
            return self._list(dfd, prefix, want_stat)
        finally:
            os.close(dfd)

    def open_dir(self, path: str) -> int:
        """A read-only descriptor of the folder ``path`` (for ``*at`` calls in it; the
        caller closes it). Raises what ``os.open`` raises."""
        return os.open(self.full(path), _scan.DIR_FLAGS)

    def _list(self, where: int | str, prefix: str, want_stat: bool) -> Iterator[Entry]:
        """list_dir's entries of the folder ``where`` (a descriptor, else a path)."""
        if not want_stat:
            return self._list_names(where, prefix)
        records, notes, err = _scan.scan(where, self.copy_links, self.links)
        entries = self.scanned(prefix, records, notes)
        if err is not None:
            raise err
        return entries  # type: ignore[return-value]  # a list (its errors, if any, kept)

    def scanned(self, prefix: str, records: list[tuple[str, int, int, bool]],
                notes: list[tuple[int, str, str]]) -> list[Entry]:
        """The entries of a folder's :func:`._scan.scan` (``prefix``: the folder's path and
        a slash, or nothing for the root). Its NOTICEs are logged here; its listing errors
        (-L: a link to nothing) come as the list's ``errors``, ``(path, NoRetryError)``,
        for the taker to log and count (rclone's local listing skips them quietly when the
        filters exclude them: :func:`walk.list_dir_filtered`)."""
        errors = self.noted(prefix, notes)
        new = tuple.__new__  # Entry(...) without the named tuple's Python-level __new__
        out: list[Entry] = (
            [new(Entry, r) for r in records] if not prefix else
            [new(Entry, (prefix + n, s, m, d)) for n, s, m, d in records])
        if errors:
            out = Listed(out)
            out.errors = errors
        return out

    def noted(self, prefix: str, notes: list[tuple[int, str, str]]
              ) -> list[tuple[str, OSError]]:
        """A folder's notes (:func:`._scan.scan`): its NOTICEs logged, its listing errors
        returned as ``(path, NoRetryError)`` for the listing's ``errors``."""
        errors: list[tuple[str, OSError]] = []
        for kind, name, message in notes:
            if kind == _scan.NOTICE:
                log.notice(prefix + name, message)
            else:
                shown = self.shown(prefix + name)
                err = NoRetryError(f"symlink: stat {shown}: {message}", path=prefix + name)
                err.stats_only = True  # type: ignore[attr-defined]  # Coordinator._sync_errors
                errors.append((prefix + name, err))
        return errors

    def _list_names(self, where: int | str, prefix: str) -> Iterator[Entry]:
        """list_dir without the per-entry stat: names and readdir's types."""
        out: list[Entry] = []
        errors: list[tuple[str, OSError]] = []
        append = out.append
        new = tuple.__new__
        with os.scandir(where) as it:
            for de in it:
                try:
                    if de.is_symlink():
                        record, note = _scan.link(de, where, self.copy_links, self.links)
                        got = self.scanned(prefix, [record] if record else [],
                                           [note] if note else [])
                        errors.extend(getattr(got, "errors", ()))
                        out.extend(got)
                        continue
                    if de.is_dir(follow_symlinks=False):
                        append(new(Entry, (prefix + de.name, -1, 0, True)))
                    elif de.is_file(follow_symlinks=False):
                        append(new(Entry, (prefix + de.name, -1, 0, False)))
                    else:
                        log.notice(prefix + de.name, _scan.SKIP_SPECIAL)
                except FileNotFoundError:
                    continue  # vanished between readdir and its type's lstat
        if errors:
            out = Listed(out)
            out.errors = errors
        return out  # type: ignore[return-value]

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path`` (symlinks per the link mode) or None."""
        full = self.full(path)
        try:
            st = os.stat(full, follow_symlinks=self.copy_links)
        except (FileNotFoundError, NotADirectoryError):
            if self.links and path.endswith(LINK_SUFFIX):
                try:
                    target = os.readlink(full[: -len(LINK_SUFFIX)])
                    st = os.lstat(full[: -len(LINK_SUFFIX)])
                    return Entry(path, len(os.fsencode(target)), st.st_mtime_ns, False)
                except OSError:
                    return None
            return None
        if _stat.S_ISDIR(st.st_mode):
            return Entry(path, -1, st.st_mtime_ns, True)
        if _stat.S_ISLNK(st.st_mode) and not self.links:
            return None
        return Entry(path, st.st_size, st.st_mtime_ns, False)

    def is_file(self, path: str) -> bool:
        """True when a regular file (or a followed link to one) is at ``path``."""
        try:
            return _stat.S_ISREG(os.stat(self.full(path), follow_symlinks=True).st_mode)
        except OSError:
            return False

    # ----- data -----------------------------------------------------------------------

    def link_target(self, path: str) -> str | None:
        """With ``links``: the target of the symlink shown as ``path`` (a .rclonelink)."""
        if not self.links or not path.endswith(LINK_SUFFIX):
            return None
        real = self.full(path)[: -len(LINK_SUFFIX)]
        if os.path.lexists(self.full(path)) or not os.path.islink(real):
            return None
        return os.readlink(real)

    def write_link(self, path: str, target: str, mtime_ns: int) -> None:
        """With ``links``: create the symlink for ``path`` (a .rclonelink) atomically."""
        real = self.full(path)[: -len(LINK_SUFFIX)]
        os.makedirs(os.path.dirname(real), exist_ok=True)
        tmp = f"{real}.{os.getpid()}.linktmp"
        os.symlink(target, tmp)
        try:
            os.utime(tmp, ns=(mtime_ns, mtime_ns), follow_symlinks=False)
            os.replace(tmp, real)
        except BaseException:
            os.unlink(tmp)
            raise

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        """An unbuffered reader positioned at ``offset`` (a link's target with ``links``)."""
        target = self.link_target(path)
        if target is not None:
            import io
            data = os.fsencode(target)[offset:]
            return io.BytesIO(data)
        fh = open(self.full(path), "rb", buffering=0)
        if offset:
            fh.seek(offset)
        return fh  # type: ignore[return-value]

    def open_write(self, path: str) -> BinaryIO:
        """An unbuffered writer; parent directories are created. A file in the way of a
        parent fails as rclone's MkdirAll does: ``mkdir <that file>: not a directory``;
        another failure reads as Go's ``open <path>: <reason>``."""
        full = self.full(path)
        try:
            try:
                return open(full, "wb", buffering=0)  # type: ignore[return-value]
            except (FileNotFoundError, NotADirectoryError):
                self._make_parents(path.rpartition("/")[0])
            return open(full, "wb", buffering=0)  # type: ignore[return-value]
        except OSError as err:
            if err.errno is None or getattr(err, "go_worded", False):
                raise
            raise go_path_error("open", self.shown(path), err) from None

    def _make_parents(self, parent: str) -> None:
        """Create directory ``parent`` (relative) and its parents; a file in the way fails
        as rclone's MkdirAll does: ``mkdir <that file>: not a directory``."""
        try:
            os.makedirs(self.full(parent), exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            err = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            raise go_path_error("mkdir", self._blocking_file(parent), err) from None

    def _blocking_file(self, path: str) -> str:
        """The first ancestor of ``path`` (or ``path``) that exists and is no directory,
        as Go's MkdirAll names it: one above the root too (``mkdir afile`` for a root
        ``afile/x``); shown as in errors."""
        parts = path.split("/") if path else []
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            if os.path.lexists(self.full(sub)) and not os.path.isdir(self.full(sub)):
                return self.shown(sub)
        shown, full = self.shown(path), self.full(path)
        up = 0
        while full and not os.path.lexists(full):
            parent = os.path.dirname(full)
            if parent == full:
                break
            full, up = parent, up + 1
        if up and os.path.lexists(full) and not os.path.isdir(full):
            head = shown.rstrip("/").rsplit("/", up)
            if len(head) == up + 1 and head[0]:
                return head[0]
        return shown

    def lookup_error(self, path: str) -> PysyncError | None:
        """The error rclone's local NewObject meets looking ``path`` up when a file stands
        where one of its directories should be (``lstat <path>: not a directory``)."""
        try:
            os.lstat(self.full(path))
        except NotADirectoryError:
            return PysyncError(f"lstat {self.shown(path)}: not a directory", path=path)
        except OSError:
            return None
        return None

    def open_write_at(self, path: str, offset: int) -> BinaryIO:
        """An unbuffered writer of the existing file ``path``, cut to ``offset`` bytes and
        positioned there (resuming a partial file)."""
        fh = open(self.full(path), "r+b", buffering=0)
        try:
            fh.truncate(offset)
            fh.seek(offset)
        except BaseException:
            fh.close()
            raise
        return fh  # type: ignore[return-value]

    def rename(self, src: str, dst: str) -> None:
        """Atomically move ``src`` over ``dst``."""
        os.replace(self.full(src), self.full(dst))

    def remove(self, path: str) -> None:
        """Delete the file at ``path``."""
        os.unlink(self.full(path))

    # ----- server-side move (optional, see base.ServerSideMove) ---------------------------

    def same_remote(self, other: object) -> bool:
        """rclone's SameConfig: a plain path is the ``local`` remote, a ``name:`` remote of
        type local is another one, although both reach this machine's disk."""
        return isinstance(other, LocalBackend) and other.name == self.name

    def overlap_root(self) -> tuple[str, str]:
        """This machine's disk and the absolute root (rclone compares the roots as given:
        pysync resolves them, so ``d`` and ``/abs/d`` are seen to be one directory)."""
        return "local", self.root.strip(os.sep).replace(os.sep, "/")

    def move_from(self, other: object, path: str, target: str) -> bool:
        """``os.replace`` of ``other``'s file to ``target`` here, parents created."""
        assert isinstance(other, LocalBackend)
        dst = self.full(target)
        try:  # rclone's local Move looks the target up first: its error is Go's
            os.lstat(dst)
        except FileNotFoundError:
            pass
        except OSError as err:
            raise go_path_error("lstat", self.shown(target), err) from None
        self._make_parents(target.rpartition("/")[0])
        os.replace(other.full(path), dst)
        return True

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents."""
        os.makedirs(self.full(path), exist_ok=True)

    def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``."""
        os.rmdir(self.full(path))

    def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Set atime and mtime of ``path`` to ``mtime_ns`` (as rclone's local backend); a
        failure reads as Go's (``chtimes <path>: no such file or directory``)."""
        try:
            os.utime(self.full(path), ns=(mtime_ns, mtime_ns), follow_symlinks=True)
        except OSError as err:
            if isinstance(err, PysyncError) or err.errno is None:
                raise
            raise go_path_error("chtimes", self.shown(path), err) from None

    def set_mtime_open(self, path: str, fd: int, mtime_ns: int) -> None:
        """``set_mtime`` of the file ``path`` still open as ``fd`` (futimens: no path lookup);
        a subclass that overrides ``set_mtime`` has its own rule, which is called instead."""
        if type(self).set_mtime is not LocalBackend.set_mtime:
            self.set_mtime(path, mtime_ns)
            return
        try:
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        except OSError as err:
            if isinstance(err, PysyncError) or err.errno is None:
                raise
            raise go_path_error("chtimes", self.shown(path), err) from None

    def hash(self, path: str, kind: str) -> str | None:
        """Hash the file at ``path``; None if it cannot be read as a file."""
        if self.links and path.endswith(LINK_SUFFIX) and not os.path.lexists(self.full(path)):
            from ..hashing import new_hasher
            h = new_hasher(kind)
            h.update(os.fsencode(os.readlink(self.full(path)[: -len(LINK_SUFFIX)])))
            return h.hexdigest()
        try:
            return hash_file(self.full(path), kind)
        except IsADirectoryError:
            return None
        except OSError as err:
            if err.errno in (errno.ENOENT,):
                return None
            raise

    def mkdir_metadata(self, path: str, mtime_ns: int,
                       meta: Mapping[str, str] | None = None) -> None:
        """rclone's local MkdirMetadata: make the directory unless something is already
        at ``path`` (a file in the way is taken as it is), then set the time, or with
        ``meta`` (``-M``) write that metadata instead (see ``write_metadata``).

        A file in place of a parent fails as rclone's does (``lstat <path>: not a
        directory``, a PysyncError); a metadata failure is a PysyncError worded as
        rclone's (``failed to set metadata on directory: ...``); other failures raise
        OSError.
        """
        full = self.full(path)
        try:
            os.lstat(full)
        except FileNotFoundError:
            os.makedirs(full, exist_ok=True)
        except NotADirectoryError:
            shown = os.path.join(self._given_root, path) if path else self._given_root
            raise PysyncError(f"lstat {shown}: not a directory", path=path) from None
        if meta is None:
            os.utime(full, ns=(mtime_ns, mtime_ns))
            return
        try:
            self.write_metadata(path, meta)
        except PysyncError as err:
            raise PysyncError(f"failed to set metadata on directory: {err}",
                              path=path) from None

    def write_metadata(self, path: str, meta: Mapping[str, str]) -> None:
        """rclone's local writeMetadata on the file or directory at ``path``: every key
        but the system ones as a ``user.<key>`` extended attribute, then ``atime`` and
        ``mtime`` (either stands for the other when alone), ``uid``/``gid`` (``gid``
        defaults to ``uid``; only with ``uid``), and the permission bits of ``mode``.
        ``btime`` and ``rdev`` cannot be set on Linux and are left.

        A value that does not parse is skipped (a debug line). A filesystem without
        extended attributes disables them for this backend with one ERROR, as rclone's.
        Raises PysyncError with rclone's wording (``failed to change ownership: chown
        <path>: operation not permitted``...; the last failure when several fail, after
        trying them all); the first attribute that fails ends it at once.
        """
        from ..metadata import SYSTEM_KEYS, parse_time

        full = self.full(path)
        link = False
        if self.links and path.endswith(LINK_SUFFIX) and not os.path.lexists(full):
            full, link = full[: -len(LINK_SUFFIX)], True
            path = path[: -len(LINK_SUFFIX)]
        shown = self.shown(path)
        follow = self.copy_links and not link
        if not self._no_xattrs and hasattr(os, "setxattr"):  # none on Windows/macOS Python
            for key, value in meta.items():
                key = key.lower()
                if key in SYSTEM_KEYS:
                    continue
                name = _XATTR_PREFIX + key
                try:
                    os.setxattr(full, name, value.encode("utf-8", "surrogateescape"),
                                follow_symlinks=follow)
                except OSError as err:
                    op = "xattr.Set" if follow else "xattr.LSet"
                    text = f"{op} {shown} {name}: {_reason(err)}"
                    if err.errno in (errno.ENOTSUP, errno.EINVAL, errno.ENODATA):
                        if not self._no_xattrs:
                            self._no_xattrs = True
                            log.error(self.describe(), f"xattrs not supported - disabling: "
                                      f"{text}")
                        break
                    raise PysyncError(f'failed to set xattr key "{name}": {text}',
                                      path=path) from None
        failed: str | None = None

        def number(key: str, base: int) -> int | None:
            value = meta.get(key)
            if value is None:
                return None
            try:
                return int(value, base)
            except ValueError:
                log.debug(path, f"failed to parse metadata {key}: {value!r}: invalid syntax")
                return None

        def when(key: str) -> int | None:
            value = meta.get(key)
            if value is None:
                return None
            ns = parse_time(value)
            if ns is None:
                log.debug(path, f"failed to parse metadata {key}: {value!r}: not RFC 3339")
            return ns

        atime, mtime = when("atime"), when("mtime")
        if atime is not None or mtime is not None:
            a = atime if atime is not None else mtime
            m = mtime if mtime is not None else atime
            try:
                os.utime(full, ns=(a, m), follow_symlinks=not link)  # type: ignore[arg-type]
            except OSError as err:
                op = "lchtimes" if link else "chtimes"
                failed = f"failed to set times: {op} {shown}: {_reason(err)}"
        uid = number("uid", 10)
        if uid is not None and not hasattr(os, "chown"):
            log.debug(path, f"Ignoring request to set ownership {uid} on this OS")
        elif uid is not None:
            gid = number("gid", 10)
            try:
                os.chown(full, uid, uid if gid is None else gid, follow_symlinks=not link)
            except (OSError, OverflowError) as err:
                op = "lchown" if link else "chown"
                failed = f"failed to change ownership: {op} {shown}: {_reason(err)}"
        mode = number("mode", 8)
        if mode is not None and 0 <= mode <= 0xFFFFFFFF:
            perm = mode & 0o777  # never the setuid, setgid and sticky bits
            if link:
                log.debug(path, f"Unable to set mode {_go_file_mode(perm)} on a symlink on "
                          "this OS")
            else:
                try:
                    os.chmod(full, perm)
                except OSError as err:
                    failed = f"failed to change permissions: chmod {shown}: {_reason(err)}"
        if failed is not None:
            raise PysyncError(failed, path=path)

    def metadata(self, path: str) -> dict[str, str] | None:
        """rclone's local metadata of the file at ``path``: ``user.*`` xattrs (prefix
        dropped, keys lower-cased), then ``mode`` (octal), ``uid``, ``gid``, ``rdev`` (hex,
        when set), ``atime``, ``mtime`` and ``btime`` (RFC 3339 in local time).

        Links are not followed unless ``-L``. Raises OSError when the file cannot be read.
        """
        full = self.full(path)
        if self.links and path.endswith(LINK_SUFFIX) and not os.path.lexists(full):
            full = full[: -len(LINK_SUFFIX)]
        follow = self.copy_links
        meta: dict[str, str] = _user_xattrs(full, follow)
        meta.update(_stat_metadata(full, follow))
        return meta

    def close(self) -> None:
        """Nothing to release for local disk."""


# errors of a kernel copy call that mean "not here" (another file system, an old kernel, a
# file system without it), never a failed read or write: the next way is tried (as Go does)
_NO_KERNEL_COPY = frozenset({errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP,
                             errno.ENOTSUP, errno.EPERM, errno.EBADF})
NO_KERNEL_COPY = _NO_KERNEL_COPY  # (for the lean small-file copy, syncengine.smallcopy)
_kernel_ways = {"copy_file_range": hasattr(os, "copy_file_range"),
                "sendfile": hasattr(os, "sendfile") and os.name == "posix"}


def kernel_copy(in_fd: int, out_fd: int, count: int) -> int:
    """Copy up to ``count`` bytes from ``in_fd``'s offset to ``out_fd``'s offset (both
    advance) without the data passing through Python: ``copy_file_range``, else
    ``sendfile``, else one read and write of at most 4 MiB. Returns the bytes copied (0 at
    the end of the source); a failed read or write raises its OSError.

    A way that reports it cannot work here (ENOSYS: never in this process; EXDEV, EINVAL...:
    not for this pair of files) falls through to the next, before a byte is copied.
    """
    if _kernel_ways["copy_file_range"]:
        try:
            return os.copy_file_range(in_fd, out_fd, count)
        except OSError as err:
            if err.errno not in _NO_KERNEL_COPY:
                raise
            if err.errno == errno.ENOSYS:
                _kernel_ways["copy_file_range"] = False
    if _kernel_ways["sendfile"]:
        try:
            return os.sendfile(out_fd, in_fd, None, count)
        except OSError as err:
            if err.errno not in _NO_KERNEL_COPY:
                raise
            if err.errno == errno.ENOSYS:
                _kernel_ways["sendfile"] = False
    data = os.read(in_fd, min(count, 4 * 1024 * 1024))
    view = memoryview(data)
    while view:
        view = view[os.write(out_fd, view):]
    return len(data)


_GO_ERROR_CLASSES: dict[type[OSError], type[OSError]] = {}


def go_path_error(op: str, shown: str, err: OSError) -> OSError:
    """``err`` worded as Go's PathError (``op path: reason``, lower-case reason), of the same
    class and errno (so ``except FileNotFoundError`` and the retry classes still apply)."""
    base = type(err)
    cls = _GO_ERROR_CLASSES.get(base)
    if cls is None:
        cls = type(base.__name__, (base,), {"__str__": lambda self: str(self.strerror),
                                            "__module__": __name__})
        _GO_ERROR_CLASSES[base] = cls
    reason = os.strerror(err.errno) if err.errno is not None else str(err)
    new = cls(err.errno, f"{op} {shown}: {reason[:1].lower() + reason[1:]}")
    new.filename = shown
    new.go_worded = True  # type: ignore[attr-defined]
    return new


def _go_clean(root: str) -> str:
    """The root cleaned lexically like Go's filepath.Clean (not made absolute), as rclone's
    local Fs keeps it; rclone prints ``.``/``..`` segments of it as fullwidth dots."""
    cleaned = os.path.normpath(root)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _reason(err: BaseException) -> str:
    """An OS error's reason as Go words it (lower-case strerror)."""
    if isinstance(err, OSError) and err.errno is not None:
        text = os.strerror(err.errno)
        return text[:1].lower() + text[1:]
    return str(err)


def _go_file_mode(perm: int) -> str:
    """Go's os.FileMode String of permission bits (``-rw-r--r--``)."""
    return "-" + "".join(c if perm & (1 << (8 - i)) else "-" for i, c in enumerate("rwxrwxrwx"))


# The metadata keys rclone's local backend owns; xattrs of these names are not reported.
_SYSTEM_KEYS = frozenset(("mode", "uid", "gid", "rdev", "atime", "mtime", "btime"))
_XATTR_PREFIX = "user."


def _user_xattrs(full: str, follow: bool) -> dict[str, str]:
    if not hasattr(os, "listxattr"):
        return {}  # Python has no xattr calls on this OS: none to report, as rclone's
    try:
        names = os.listxattr(full, follow_symlinks=follow)
    except OSError as err:
        if err.errno in (errno.ENOTSUP, errno.EINVAL, errno.ENODATA):
            return {}  # the filesystem has none: rclone reports no xattrs
        raise
    out: dict[str, str] = {}
    for name in names:
        key = name.lower()
        if not key.startswith(_XATTR_PREFIX):
            continue
        key = key[len(_XATTR_PREFIX):]
        if key in _SYSTEM_KEYS:
            continue
        try:
            value = os.getxattr(full, name, follow_symlinks=follow)
        except OSError as err:
            if err.errno in (errno.ENOTSUP, errno.EINVAL, errno.ENODATA):
                return {}
            raise
        out[key] = value.decode("utf-8", "surrogateescape")
    return out


_AT_FDCWD = -100
_AT_SYMLINK_NOFOLLOW = 0x100
_STATX_WANTED = 0x1 | 0x2 | 0x8 | 0x10 | 0x20 | 0x40 | 0x80 | 0x800  # type..btime
_statx: Any = None  # None: not looked up yet; False: unavailable; else (ctypes, fn, struct)


def _libc_statx() -> Any:
    """``(ctypes, statx, struct statx)`` from the C library, or None; built on first use, so
    that ctypes is imported only when metadata is read."""
    global _statx
    if _statx is None:
        import ctypes

        class Timestamp(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_int64), ("tv_nsec", ctypes.c_uint32),
                        ("reserved", ctypes.c_int32)]

        class Statx(ctypes.Structure):
            _fields_ = [("mask", ctypes.c_uint32), ("blksize", ctypes.c_uint32),
                        ("attributes", ctypes.c_uint64), ("nlink", ctypes.c_uint32),
                        ("uid", ctypes.c_uint32), ("gid", ctypes.c_uint32),
                        ("mode", ctypes.c_uint16), ("spare0", ctypes.c_uint16),
                        ("ino", ctypes.c_uint64), ("size", ctypes.c_uint64),
                        ("blocks", ctypes.c_uint64), ("attributes_mask", ctypes.c_uint64),
                        ("atime", Timestamp), ("btime", Timestamp),
                        ("ctime", Timestamp), ("mtime", Timestamp),
                        ("rdev_major", ctypes.c_uint32), ("rdev_minor", ctypes.c_uint32),
                        ("dev_major", ctypes.c_uint32), ("dev_minor", ctypes.c_uint32),
                        ("spare", ctypes.c_uint64 * 14)]

        try:
            fn = ctypes.CDLL(None, use_errno=True).statx
            fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                           ctypes.POINTER(Statx)]
            fn.restype = ctypes.c_int
            _statx = (ctypes, fn, Statx)
        except (AttributeError, OSError):
            _statx = False
    return _statx or None


def _stat_metadata(full: str, follow: bool) -> dict[str, str]:
    """mode/uid/gid/rdev/atime/mtime/btime as rclone reads them: statx where the C library
    has it (btime included, the epoch when the filesystem keeps none), else stat."""
    found = _libc_statx()
    if found is not None:
        ctypes, fn, statx_type = found
        buf = statx_type()
        flags = 0 if follow else _AT_SYMLINK_NOFOLLOW
        if fn(_AT_FDCWD, os.fsencode(full), flags, _STATX_WANTED, ctypes.byref(buf)) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), full)
        meta = {"mode": f"{buf.mode:o}", "uid": str(buf.uid), "gid": str(buf.gid)}
        if buf.rdev_major or buf.rdev_minor:
            meta["rdev"] = f"{(buf.rdev_major << 32) | buf.rdev_minor:x}"
        for key in ("atime", "mtime", "btime"):
            ts = getattr(buf, key)
            meta[key] = format_rfc3339(ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
        return meta
    st = os.stat(full, follow_symlinks=follow)
    meta = {"mode": f"{st.st_mode:o}", "uid": str(st.st_uid), "gid": str(st.st_gid)}
    if st.st_rdev:
        meta["rdev"] = f"{st.st_rdev:x}"
    meta["atime"] = format_rfc3339(st.st_atime_ns)
    meta["mtime"] = format_rfc3339(st.st_mtime_ns)
    return meta
