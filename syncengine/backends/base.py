"""Backend definitions only: the Entry record, the Features of a backend, the Backend protocol."""

from __future__ import annotations

from collections import namedtuple

from ..record import field, record

TYPE_CHECKING = False  # typing is not imported at run time: start-up stays lean
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO, NamedTuple, Protocol

    class _EntryFields(NamedTuple):
        path: str
        size: int
        mtime_ns: int
        is_dir: bool = False
else:
    _EntryFields = namedtuple("Entry", ("path", "size", "mtime_ns", "is_dir"), defaults=(False,))
    Protocol = object

__all__ = ["Entry", "Features", "Backend", "ServerSideMove", "is_backend", "can_move"]


class Entry(_EntryFields):
    """One listed item. ``path`` is relative to the backend root, ``/``-separated, no leading
    slash. ``size`` is -1 when unknown (and for directories); ``mtime_ns`` is Unix ns;
    ``is_dir`` defaults to False.

    A named tuple: immutable, and cheap to build by the million in listings."""

    __slots__ = ()

    @property
    def name(self) -> str:
        """The last path segment."""
        return self.path.rpartition("/")[2]


@record(frozen=True, slots=True)
class Features:
    """What a backend can do; detected once when it is opened."""

    name: str = "fsspec"
    precision_ns: int = 1_000_000_000
    hashes: tuple[str, ...] = ()
    can_set_mtime: bool = True
    partial_uploads: bool = True
    writer_at: bool = False
    server_side_copy: bool = False
    case_insensitive: bool = False
    extra: dict[str, object] = field(default_factory=dict)


class Backend(Protocol):
    """The small contract every backend fulfils. Paths are relative to the backend root.

    A ``typing.Protocol`` for type checkers (backends match it by shape, none inherits it);
    at run time a plain class, so that ``typing`` need not be imported."""

    features: Features

    def describe(self) -> str:
        """How rclone names this Fs in logs, e.g. ``Local file system at /abs/path``."""
        ...

    def list_dir(self, path: str) -> Iterator[Entry]:
        """The direct children of directory ``path`` ("" is the root), in any order.

        Raises DirNotFoundError when ``path`` is not a directory.
        """
        ...

    def stat(self, path: str) -> Entry | None:
        """The entry at ``path``, or None when nothing is there."""
        ...

    def open_read(self, path: str, offset: int = 0) -> BinaryIO:
        """A binary reader positioned at ``offset``."""
        ...

    def open_write(self, path: str) -> BinaryIO:
        """A binary writer that truncates/creates ``path`` (parents created)."""
        ...

    def rename(self, src: str, dst: str) -> None:
        """Move ``src`` over ``dst``, replacing it."""
        ...

    def remove(self, path: str) -> None:
        """Delete the file at ``path``."""
        ...

    def mkdir(self, path: str) -> None:
        """Create directory ``path`` and its parents; fine if it exists."""
        ...

    def rmdir(self, path: str) -> None:
        """Remove the empty directory ``path``."""
        ...

    def set_mtime(self, path: str, mtime_ns: int) -> None:
        """Set the modification time of ``path``."""
        ...

    def hash(self, path: str, kind: str) -> str | None:
        """The ``kind`` hash of ``path`` as lowercase hex, or None when not available."""
        ...

    def close(self) -> None:
        """Release connections and handles."""
        ...


class ServerSideMove(Protocol):
    """The optional server-side move of a backend (rclone's ``Fs.Move``), which
    ``--backup-dir`` and ``--suffix`` need. A backend that has it defines both methods; one
    without it is refused for ``--backup-dir`` at set-up, before anything is transferred.

    The engine never moves a file by itself: every backup move goes through these methods,
    so it only ever touches the filesystem the backends stand for (a move on an SFTP remote
    is a rename on the server, never on the disk of the machine running pysync).
    """

    def same_remote(self, other: object) -> bool:
        """True when ``other`` is the same remote as this backend (rclone's ``SameConfig``:
        the same config entry, hence the same server and credentials). Only then may the
        two be a destination and its ``--backup-dir``."""
        ...

    def overlap_root(self) -> tuple[str, str]:
        """Where the root physically is: the storage (``local``, ``sftp://host:port``...)
        and the root as a ``/``-separated path on it, without leading or trailing ``/``
        (rclone's ``fixRoot``; lowercase where the storage ignores case). Two backends
        overlap when the storage is the same and one path contains the other, whatever
        remote names they were opened through (stricter than rclone, which compares the
        roots only for the same config entry)."""
        ...

    def move_from(self, other: object, path: str, target: str) -> bool:
        """Move file ``path`` of backend ``other`` (the same remote) to ``target`` under this
        backend's root on the server: parents are created, an existing file at ``target`` is
        replaced. Returns False, having changed nothing, when the server cannot move between
        these two roots (an SMB rename across shares); the caller then copies and deletes,
        as rclone does on ``fs.ErrorCantMove``."""
        ...


class ServerSideCopy(Protocol):
    """The optional server-side copy of a backend (rclone's ``Fs.Copy``), offered when its
    ``features.server_side_copy`` is True (an sftp remote with ``copy_is_hardlink``: the
    copy is a hard link). Used between two backends of the same remote (rclone's
    ``SameConfig``) for the copies themselves and for ``--copy-dest``."""

    def copy_from(self, other: object, path: str, target: str) -> bool:
        """Copy file ``path`` of backend ``other`` (the same remote) to ``target`` under this
        backend's root on the server, its parents created; ``target`` must not exist.
        Returns False, having changed nothing, when the server cannot (rclone's
        ``fs.ErrorCantCopy``: the caller copies the data itself)."""
        ...


def can_server_copy(src: object, dst: object) -> bool:
    """True when ``dst`` copies files of ``src`` on the server (rclone's serverSideCopy
    test: ``dst`` has Copy and both are the same config entry)."""
    features = getattr(dst, "features", None)
    return (features is not None and features.server_side_copy and can_move(dst)
            and callable(getattr(dst, "copy_from", None))
            and dst.same_remote(src))  # type: ignore[attr-defined]


_BACKEND_METHODS = tuple(name for name, value in vars(Backend).items()
                         if callable(value) and not name.startswith("_"))


def is_backend(obj: object) -> bool:
    """True when ``obj`` has ``features`` and every method of :class:`Backend`: the check
    ``isinstance`` makes for a runtime-checkable Protocol."""
    return hasattr(obj, "features") and all(callable(getattr(obj, name, None))
                                            for name in _BACKEND_METHODS)


def can_move(obj: object) -> bool:
    """True when ``obj`` has the optional :class:`ServerSideMove` methods."""
    return all(callable(getattr(obj, name, None))
               for name in ("same_remote", "overlap_root", "move_from"))
