"""The local disk backend: os.scandir listings, os.replace renames, ns mtimes, symlink rules."""

from __future__ import annotations

import errno
import os
import stat as _stat
from collections.abc import Iterator
from typing import BinaryIO

from .. import log
from ..errors import DirNotFoundError
from ..hashing import hash_file
from .base import Entry, Features

__all__ = ["LocalBackend", "LINK_SUFFIX"]

LINK_SUFFIX = ".rclonelink"


class LocalBackend:
    """Files under ``root`` on this machine.

    Symlinks follow rclone's local backend: skipped with a NOTICE by default, followed with
    ``copy_links`` (``-L``), or shown as ``<name>.rclonelink`` files holding the link target
    with ``links`` (``-l``).
    """

    features = Features(name="local", precision_ns=1,
                        hashes=("md5", "sha1", "sha256", "crc32", "xxh3", "xxh128"),
                        can_set_mtime=True, partial_uploads=True, writer_at=True)

    def __init__(self, root: str, *, copy_links: bool = False, links: bool = False) -> None:
        self.root = os.path.abspath(os.path.expanduser(root)) if root else os.getcwd()
        self.copy_links = copy_links
        self.links = links and not copy_links

    # ----- naming ---------------------------------------------------------------------

    def describe(self) -> str:
        """rclone's description of the Fs, used as the log subject."""
        return f"Local file system at {self.root}"

    def full(self, path: str) -> str:
        """The absolute OS path of ``path`` (relative to the root)."""
        return os.path.join(self.root, path) if path else self.root

    # ----- listing --------------------------------------------------------------------

    def list_dir(self, path: str, *, want_stat: bool = True) -> Iterator[Entry]:
        """The direct children of ``path``; raises DirNotFoundError if it is no directory.

        ``want_stat`` False skips the per-entry stat() when the caller needs names and types
        only (sizes are then -1 and times 0); readdir's entry types are used instead.
        """
        full = self.full(path)
        prefix = path + "/" if path else ""
        try:
            it = os.scandir(full)
        except FileNotFoundError:
            raise DirNotFoundError("directory not found", path=full) from None
        except NotADirectoryError:
            raise DirNotFoundError("directory not found", path=full) from None
        with it:
            for de in it:
                name = de.name
                try:
                    if de.is_symlink():
                        entry = self._link_entry(de, prefix + name)
                        if entry is not None:
                            yield entry
                        continue
                    if not want_stat:
                        if de.is_dir(follow_symlinks=False):
                            yield Entry(prefix + name, -1, 0, True)
                        elif de.is_file(follow_symlinks=False):
                            yield Entry(prefix + name, -1, 0, False)
                        else:
                            log.notice(prefix + name, "Can't transfer non file/directory")
                        continue
                    st = de.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # vanished between readdir and stat: skipped silently
                mode = st.st_mode
                if _stat.S_ISDIR(mode):
                    yield Entry(prefix + name, -1, st.st_mtime_ns, True)
                elif _stat.S_ISREG(mode):
                    yield Entry(prefix + name, st.st_size, st.st_mtime_ns, False)
                else:
                    log.notice(prefix + name, "Can't transfer non file/directory")

    def _link_entry(self, de: os.DirEntry[str], rel: str) -> Entry | None:
        if self.copy_links:
            try:
                st = de.stat(follow_symlinks=True)
            except FileNotFoundError:
                log.error(rel, "Failed to stat: broken symlink")
                return None
            if _stat.S_ISDIR(st.st_mode):
                return Entry(rel, -1, st.st_mtime_ns, True)
            return Entry(rel, st.st_size, st.st_mtime_ns, False)
        if self.links:
            st = de.stat(follow_symlinks=False)
            target = os.readlink(de.path)
            return Entry(rel + LINK_SUFFIX, len(os.fsencode(target)), st.st_mtime_ns, False)
        log.notice(rel, "Can't follow symlink without -L/--copy-links")
        return None

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
        """An unbuffered writer; parent directories are created."""
        full = self.full(path)
        try:
            return open(full, "wb", buffering=0)  # type: ignore[return-value]
        except FileNotFoundError:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            return open(full, "wb", buffering=0)  # type: ignore[return-value]

    def rename(self, src: str, dst: str) -> None:
        """Atomically move ``src`` over ``dst``."""
        os.replace(self.full(src), self.full(dst))

    def remove(self, path: str) -> None:
        """Delete the file at ``path``."""
        os.unlink(self.full(path))

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents."""
        os.makedirs(self.full(path), exist_ok=True)

    def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``."""
        os.rmdir(self.full(path))

    def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Set atime and mtime of ``path`` to ``mtime_ns`` (as rclone's local backend)."""
        os.utime(self.full(path), ns=(mtime_ns, mtime_ns), follow_symlinks=True)

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

    def close(self) -> None:
        """Nothing to release for local disk."""
