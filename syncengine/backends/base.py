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

__all__ = ["Entry", "Features", "Backend", "is_backend"]


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


_BACKEND_METHODS = tuple(name for name, value in vars(Backend).items()
                         if callable(value) and not name.startswith("_"))


def is_backend(obj: object) -> bool:
    """True when ``obj`` has ``features`` and every method of :class:`Backend`: the check
    ``isinstance`` makes for a runtime-checkable Protocol."""
    return hasattr(obj, "features") and all(callable(getattr(obj, name, None))
                                            for name in _BACKEND_METHODS)
