"""A Backend over any fsspec filesystem: info dicts normalised at the boundary, memory:// mtimes."""

from __future__ import annotations

import email.utils
import errno
import io
import os
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, BinaryIO

import fsspec
from fsspec.spec import AbstractFileSystem

from .. import log
from ..errors import DirNotFoundError
from ..hashing import canonical
from .base import Entry, Features

__all__ = ["FsspecBackend", "MTIME_KEYS", "MODTIME_NOT_SUPPORTED_NS", "mtime_to_ns",
           "normalise_info"]

#: Info-dict keys that may carry a modification time, in order of preference.
MTIME_KEYS = ("mtime", "LastModified", "last_modified", "created", "modified", "time", "updated")

#: rclone's ``fs.ModTimeNotSupported`` precision (100 years) for backends without mtimes.
MODTIME_NOT_SUPPORTED_NS = 100 * 365 * 24 * 3600 * 1_000_000_000

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ISO_FRACTION = re.compile(r"^(.*T\d\d:\d\d:\d\d)[.,](\d+)(.*)$")

# Protocols whose info dicts carry a modification time (others: guessed from the class).
_REPORTS_MTIME = frozenset({"memory", "file", "local", "sftp", "ssh", "smb", "ftp", "s3", "s3a",
                            "gcs", "gs", "abfs", "az", "adl", "webhdfs", "hdfs", "arrow_hdfs",
                            "dbfs", "oci", "oss", "webdav", "dropbox", "box"})
# Object stores whose directories only exist through their contents.
_IMPLIED_DIRS = frozenset({"s3", "s3a", "gcs", "gs", "abfs", "az", "adl", "oci", "oss", "http",
                           "https"})
# Filesystems whose ``mv`` refuses to replace an existing target.
_MV_NO_REPLACE = frozenset({"smb", "ftp"})
# Filesystems whose info dict carries an MD5 (s3: single-part ETag; gcs: md5Hash; azure).
_MD5_PROTOCOLS = frozenset({"s3", "s3a", "gcs", "gs", "abfs", "az"})
# Filesystems where a partially uploaded file is visible under its final name.
_NO_PARTIAL = frozenset({"s3", "s3a", "gcs", "gs", "abfs", "az", "oci", "oss"})

# Mutations FsspecBackend makes directly on a MemoryFileSystem store (shared by default).
_MEMORY_LOCK = threading.Lock()


# ----- normalisation at the boundary ---------------------------------------------------------


def _seconds_to_ns(value: Decimal) -> int:
    """Seconds, or a larger unit guessed from the magnitude (ms, us, ns), to integer ns."""
    mag = abs(value)
    if mag < Decimal(10) ** 11:
        scale = 1_000_000_000
    elif mag < Decimal(10) ** 14:
        scale = 1_000_000  # milliseconds (hdfs, webhdfs)
    elif mag < Decimal(10) ** 17:
        scale = 1_000  # microseconds
    else:
        scale = 1
    return int((value * scale).to_integral_value())


def _datetime_to_ns(dt: datetime, extra_ns: int = 0) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return (dt - _EPOCH) // timedelta(microseconds=1) * 1000 + extra_ns


def _parse_time_string(text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return _seconds_to_ns(Decimal(text))
    except InvalidOperation:
        pass
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    extra_ns = 0
    m = _ISO_FRACTION.match(iso)
    if m:  # keep up to 9 fractional digits, which fromisoformat would refuse or truncate
        digits = (m.group(2) + "000000000")[:9]
        iso = m.group(1) + m.group(3)
        extra_ns = int(digits)
    try:
        return _datetime_to_ns(datetime.fromisoformat(iso), extra_ns)
    except ValueError:
        pass
    try:
        return _datetime_to_ns(email.utils.parsedate_to_datetime(text))  # HTTP Last-Modified
    except (TypeError, ValueError, IndexError):
        return None


def mtime_to_ns(value: object) -> int | None:
    """A time as float/int seconds (or ms/us/ns by magnitude), datetime or ISO/HTTP string, to
    Unix ns; None when ``value`` is not a recognisable time.

    Floats go through their shortest ``repr`` so that a microsecond time stored as a float
    (``datetime.timestamp()``) comes back exact.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _datetime_to_ns(value)
    if isinstance(value, int):
        return _seconds_to_ns(Decimal(value))
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return None
        return _seconds_to_ns(Decimal(repr(value)))
    if isinstance(value, (str, bytes)):
        text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
        return _parse_time_string(text)
    return None


def _info_mtime(info: Mapping[str, Any]) -> int | None:
    for key in MTIME_KEYS:
        if key in info:
            ns = mtime_to_ns(info[key])
            if ns is not None:
                return ns
    return None


def normalise_info(info: Mapping[str, Any]) -> tuple[str, int, int | None]:
    """``(type, size, mtime_ns)`` from an fsspec info dict.

    ``type`` is ``file``, ``directory`` or ``other``; size is -1 for directories and unknown
    sizes; mtime_ns is None when the dict carries no time.
    """
    kind = str(info.get("type", "file")).lower()
    if kind in ("dir", "directory", "folder", "bucket", "prefix"):
        kind = "directory"
    elif kind != "file":
        kind = "other"
    size = info.get("size")
    if kind == "directory" or not isinstance(size, int) or isinstance(size, bool):
        size = -1
    return kind, size, _info_mtime(info)


def _md5_from_info(info: Mapping[str, Any], protocol: str) -> str | None:
    """An MD5 the filesystem already reported in ``info``, as lowercase hex, or None."""
    import base64
    import binascii

    def _hex(v: object) -> str | None:
        if isinstance(v, (bytes, bytearray)):
            return bytes(v).hex() if len(v) == 16 else None
        if isinstance(v, str):
            s = v.strip().strip('"').lower()
            if re.fullmatch(r"[0-9a-f]{32}", s):
                return s
            try:
                raw = base64.b64decode(v, validate=True)
            except (binascii.Error, ValueError):
                return None
            return raw.hex() if len(raw) == 16 else None
        return None

    for key in ("md5", "MD5", "md5Hash", "content_md5"):
        if key in info and (h := _hex(info[key])):
            return h
    settings = info.get("content_settings")
    if settings is not None:
        md5 = settings.get("content_md5") if isinstance(settings, Mapping) else getattr(
            settings, "content_md5", None)
        if h := _hex(md5):
            return h
    if protocol in ("s3", "s3a"):  # a single-part upload's ETag is its MD5
        etag = info.get("ETag", info.get("etag"))
        if isinstance(etag, str):
            s = etag.strip().strip('"').lower()
            if re.fullmatch(r"[0-9a-f]{32}", s):
                return s
    return None


# ----- the backend ---------------------------------------------------------------------------


def _protocol_of(fs: AbstractFileSystem) -> str:
    proto = fs.protocol
    return proto if isinstance(proto, str) else proto[0]


class FsspecBackend:
    """Files under ``root`` of an fsspec filesystem.

    ``fs`` is a filesystem instance, or a protocol name: then a fresh instance is made with
    ``fsspec.filesystem(protocol, skip_instance_cache=True, **storage_options)`` so that no
    other object shares it. ``root`` is a path in that filesystem (a URL of its protocol is
    accepted too).

    Thread safety: one backend may be used from several threads when its filesystem is
    (local, memory, and the async-based object stores are); the mutations this class makes
    itself on a memory store are serialised by a module lock. The ``memory`` store is
    process-wide by fsspec's design (pass ``global_store=False`` to isolate one backend).

    Memory filesystems: ``info()`` reports only the ``created`` datetime of a MemoryFile, so
    ``set_mtime`` stores the time there (and in ``modified``): 1 us precision, no hashes.
    ``rename`` moves the MemoryFile object, keeping its time; ``open_read`` gives a private
    copy so concurrent readers never share a cursor.
    """

    features: Features

    def __init__(self, fs: AbstractFileSystem | str, root: str = "", *,
                 storage_options: Mapping[str, Any] | None = None,
                 description: str | None = None) -> None:
        if isinstance(fs, str):
            fs = fsspec.filesystem(fs, skip_instance_cache=True, **dict(storage_options or {}))
        elif storage_options:
            raise TypeError("storage_options only apply when fs is a protocol name")
        self.fs: AbstractFileSystem = fs
        self.protocol = _protocol_of(fs)
        path = fs._strip_protocol(root) if root else ""
        if len(path) > 1:
            path = path.rstrip("/")
        self.path: str = path
        #: The location as a URL that :func:`syncengine.remotes.open_backend` accepts.
        self.root: str = fs.unstrip_protocol(path)
        self._description = description
        self._is_memory = _is_memory_fs(fs)
        self._is_local = _is_local_fs(fs)
        self._mv_replaces = self.protocol not in _MV_NO_REPLACE
        self._mv_is_copy = type(fs).mv is AbstractFileSystem.mv and not self._is_memory
        self._implied_dirs = self.protocol in _IMPLIED_DIRS
        self.features = self._detect_features()

    # ----- features -------------------------------------------------------------------

    def _detect_features(self) -> Features:
        fs, proto = self.fs, self.protocol
        if self._is_memory:
            reports = True
            probe = _memory_file_class()()
            setter = hasattr(probe, "created")
            precision = 1_000  # datetime: microseconds
        elif self._is_local:
            reports, setter, precision = True, True, 1_000  # info() mtime is a float
        else:
            reports = proto in _REPORTS_MTIME or type(fs).modified is not \
                AbstractFileSystem.modified
            setter = _sftp_client(fs) is not None
            precision = 1_000_000_000
        if not reports:
            setter, precision = False, MODTIME_NOT_SUPPORTED_NS
        return Features(
            name=proto,
            precision_ns=precision,
            hashes=("md5",) if proto in _MD5_PROTOCOLS else (),
            can_set_mtime=setter,
            partial_uploads=proto not in _NO_PARTIAL,
            writer_at=False,
            server_side_copy=False,
            case_insensitive=proto == "smb",
            extra={"protocol": proto, "reports_mtime": reports,
                   "mv_replaces": self._mv_replaces, "implied_dirs": self._implied_dirs},
        )

    # ----- naming ---------------------------------------------------------------------

    def describe(self) -> str:
        """How this Fs is named in logs, e.g. ``memory://root`` or ``s3://bucket/dir``."""
        if self._description is not None:
            return self._description
        if self._is_memory:
            return f"memory://{self.path.lstrip('/')}"
        return self.root

    def __repr__(self) -> str:
        return f"FsspecBackend({self.describe()!r})"

    def full(self, path: str) -> str:
        """The filesystem path of ``path`` (relative to the root)."""
        if not path:
            return self.path
        base = self.path.rstrip("/")
        if base:
            return f"{base}/{path}"
        return f"{self.fs.root_marker}{path}"

    def _rel_join(self, path: str, name: str) -> str:
        return f"{path}/{name}" if path else name

    # ----- listing --------------------------------------------------------------------

    def list_dir(self, path: str) -> Iterator[Entry]:
        """The direct children of ``path``; raises DirNotFoundError if it is no directory."""
        full = self.full(path)
        try:
            infos = self.fs.ls(full, detail=True)
        except (FileNotFoundError, NotADirectoryError):
            raise DirNotFoundError("directory not found", path=full) from None
        own = full.rstrip("/")
        children: list[tuple[str, Mapping[str, Any]]] = []
        for info in infos:
            name = self.fs._strip_protocol(str(info.get("name", ""))).rstrip("/")
            if name == own or not name:
                if str(info.get("type")) != "directory":
                    # ls() of a file lists the file itself
                    raise DirNotFoundError("directory not found", path=full)
                continue  # some stores list the directory itself
            children.append((name.rpartition("/")[2], info))
        for leaf, info in children:
            rel = self._rel_join(path, leaf)
            kind, size, mtime = normalise_info(info)
            if kind == "directory":
                yield Entry(rel, -1, mtime or 0, True)
            elif kind == "file":
                yield Entry(rel, size, mtime or 0, False)
            elif info.get("islink"):
                log.notice(rel, "Can't follow symlink without -L/--copy-links")
            else:
                log.notice(rel, "Can't transfer non file/directory")

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path`` or None."""
        full = self.full(path)
        if self._is_memory:
            mf = self.fs.store.get(full)
            if mf is not None:
                return Entry(path, mf.size, mtime_to_ns(getattr(mf, "created", None)) or 0)
        try:
            info = self.fs.info(full)
        except (FileNotFoundError, NotADirectoryError):
            return None
        kind, size, mtime = normalise_info(info)
        if kind == "directory":
            return Entry(path, -1, mtime or 0, True)
        if kind == "file":
            return Entry(path, size, mtime or 0, False)
        return None

    def is_file(self, path: str) -> bool:
        """True when a file is at ``path``."""
        try:
            return bool(self.fs.isfile(self.full(path)))
        except OSError:
            return False

    # ----- data -----------------------------------------------------------------------

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        """A binary reader positioned at ``offset``."""
        full = self.full(path)
        if self._is_memory:
            data = self.fs.cat_file(full)
            fh = io.BytesIO(data)
            if offset:
                fh.seek(offset)
            return fh
        fh2 = self.fs.open(full, "rb")
        if offset:
            fh2.seek(offset)
        return fh2  # type: ignore[no-any-return]

    def open_write(self, path: str) -> BinaryIO:
        """A binary writer that truncates or creates ``path``; parents are created."""
        full = self.full(path)
        if self._is_memory:
            self._ensure_parent(full)
            return self.fs.open(full, "wb")  # type: ignore[no-any-return]
        try:
            return self.fs.open(full, "wb")  # type: ignore[no-any-return]
        except FileNotFoundError:
            self._ensure_parent(full)
            return self.fs.open(full, "wb")  # type: ignore[no-any-return]

    def _ensure_parent(self, full: str) -> None:
        parent = self.fs._parent(full)
        if parent and parent.rstrip("/") and parent != full:
            try:
                self.fs.makedirs(parent, exist_ok=True)
            except FileExistsError:
                pass

    def rename(self, src: str, dst: str) -> None:
        """Move file ``src`` over ``dst``, replacing it and keeping its modification time."""
        self._rename_from(self, src, dst)

    def _rename_from(self, owner: FsspecBackend, src: str, dst: str) -> None:
        """Move ``owner``'s file ``src`` over ``dst`` here (one filesystem), keeping its
        modification time where ``mv`` is a copy."""
        fsrc, fdst = owner.full(src), self.full(dst)
        if self._is_memory:
            self._memory_rename(fsrc, fdst)
            return
        before = owner.stat(src) if self._mv_is_copy and self.features.can_set_mtime else None
        if not self._mv_replaces and self.fs.exists(fdst):
            self.fs.rm_file(fdst)
        try:
            self.fs.mv(fsrc, fdst)
        except FileNotFoundError:
            raise
        except OSError:
            # a filesystem that refused to replace: remove the target and try once more
            if not self.fs.isfile(fdst):
                raise
            self.fs.rm_file(fdst)
            self.fs.mv(fsrc, fdst)
        if before is not None and before.mtime_ns:
            self.set_mtime(dst, before.mtime_ns)

    # ----- server-side move (optional, see base.ServerSideMove) ---------------------------

    def same_remote(self, other: object) -> bool:
        """The same filesystem: one instance, or one class with the same options."""
        if not isinstance(other, FsspecBackend):
            return False
        return other.fs is self.fs or (type(other.fs) is type(self.fs) and
                                       other.fs.storage_options == self.fs.storage_options)

    def overlap_root(self) -> tuple[str, str]:
        """The filesystem (class and options) and the root path on it."""
        return (f"fsspec:{type(self.fs).__name__}:{sorted(self.fs.storage_options.items())!r}",
                self.path.strip("/"))

    def move_from(self, other: object, path: str, target: str) -> bool:
        """``fs.mv`` of ``other``'s file to ``target`` here, parents made first."""
        assert isinstance(other, FsspecBackend)
        self._ensure_parent(self.full(target))
        self._rename_from(other, path, target)
        return True

    def _memory_rename(self, fsrc: str, fdst: str) -> None:
        fs = self.fs
        with _MEMORY_LOCK:
            mf = fs.store.get(fsrc)
            if mf is None:
                if fs.isdir(fsrc):
                    raise IsADirectoryError(errno.EISDIR, "Is a directory", fsrc)
                raise FileNotFoundError(errno.ENOENT, "No such file", fsrc)
            if fdst in fs.pseudo_dirs or (fdst not in fs.store and fs.isdir(fdst)):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", fdst)
            self._ensure_parent(fdst)
            del fs.store[fsrc]
            mf.path = fdst
            fs.store[fdst] = mf

    def remove(self, path: str) -> None:
        """Delete the file at ``path``."""
        full = self.full(path)
        try:
            self.fs.rm_file(full)
        except FileNotFoundError:
            if self.fs.isdir(full):
                raise IsADirectoryError(errno.EISDIR, "Is a directory", full) from None
            raise

    def mkdir(self, path: str) -> None:
        """Create ``path`` and its parents; fine if it exists as a directory."""
        full = self.full(path)
        try:
            self.fs.mkdir(full, create_parents=True)
        except FileExistsError:
            if not self.fs.isdir(full):
                raise

    def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``."""
        full = self.full(path)
        try:
            self.fs.rmdir(full)
        except FileNotFoundError:
            if self.fs.isdir(full):  # only implied by its contents
                raise OSError(errno.ENOTEMPTY, "Directory not empty", full) from None
            if self._implied_dirs:
                return  # an object store's directory vanishes with its last object
            raise

    def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Set the modification time of ``path`` (when ``features.can_set_mtime``)."""
        full = self.full(path)
        if self._is_memory:
            with _MEMORY_LOCK:
                mf = self.fs.store.get(full)
                if mf is None:
                    if self.fs.isdir(full):
                        return  # memory directories carry no times
                    raise FileNotFoundError(errno.ENOENT, "No such file", full)
                dt = _EPOCH + timedelta(microseconds=mtime_ns // 1000)
                mf.created = dt
                mf.modified = dt
            return
        if self._is_local:
            os.utime(full, ns=(mtime_ns, mtime_ns))
            return
        client = _sftp_client(self.fs)
        if client is not None:
            secs = mtime_ns / 1e9
            client.utime(full, (secs, secs))
            return
        raise NotImplementedError(f"{self.describe()}: can't set modification times")

    def hash(self, path: str, kind: str) -> str | None:
        """The MD5 the filesystem reports for ``path``, or None (other kinds: always None).

        fsspec's ``checksum()`` is a token of the info dict, not an MD5, so only an MD5 found
        in ``info()`` counts; nothing is read to compute one.
        """
        try:
            if canonical(kind) != "md5" or "md5" not in self.features.hashes:
                return None
        except ValueError:
            return None
        try:
            info = self.fs.info(self.full(path))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if normalise_info(info)[0] != "file":
            return None
        return _md5_from_info(info, self.protocol)

    def close(self) -> None:
        """Drop cached listings and close the filesystem's connection where it has one."""
        try:
            self.fs.invalidate_cache()
        except Exception:  # best effort: some filesystems keep no cache
            pass
        closer = getattr(self.fs, "close", None)
        if callable(closer):
            closer()


# ----- filesystem kinds ----------------------------------------------------------------------


def _memory_file_class() -> type:
    from fsspec.implementations.memory import MemoryFile

    return MemoryFile


def _is_memory_fs(fs: AbstractFileSystem) -> bool:
    from fsspec.implementations.memory import MemoryFileSystem

    return isinstance(fs, MemoryFileSystem) and isinstance(getattr(fs, "store", None), dict)


def _is_local_fs(fs: AbstractFileSystem) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


def _sftp_client(fs: AbstractFileSystem) -> Any:
    """The paramiko SFTP client of an fsspec SFTPFileSystem (it has ``utime``), else None."""
    if _protocol_of(fs) not in ("sftp", "ssh"):
        return None
    client = getattr(fs, "ftp", None)
    return client if callable(getattr(client, "utime", None)) else None
