"""Backend definitions only: the Entry record, the Features of a backend, the Backend protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, NamedTuple, Protocol, runtime_checkable

from ..record import field, record

__all__ = ["Entry", "Features", "Backend"]


class Entry(NamedTuple):
    """One listed item. ``path`` is relative to the backend root, ``/``-separated, no leading
    slash. ``size`` is -1 when unknown (and for directories); ``mtime_ns`` is Unix ns.

    A named tuple: immutable, and cheap to build by the million in listings."""

    path: str
    size: int
    mtime_ns: int
    is_dir: bool = False

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


@runtime_checkable
class Backend(Protocol):
    """The small contract every backend fulfils. Paths are relative to the backend root."""

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
