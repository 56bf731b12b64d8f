"""The actions a copy or sync decides on: small, frozen, picklable records (the plan).

The planner (listing, filters, march, compare) turns two trees into a stream of these; an
executor carries out the transfers and time updates, and the coordinator the deletions and
directory removals. Every action carries what a worker needs and nothing more (relative
paths, the source's size and modification time, the destination file it replaces) and the
reason rclone would give for it. ``syncengine.plan()`` yields them for Python users: what
``--dry-run`` would do.

    Action
    ├── Copy        a source file with no destination twin (rclone: ``Copied (new)``)
    ├── Replace     a source file whose twin differs (``Copied (replaced existing)``)
    ├── SetMtime    same contents, only the time differs (``Updated modification time``)
    ├── Delete      a destination-only file (sync)
    ├── Mkdir       an (empty) source directory the destination lacks
    ├── SetDirTime  a destination directory given its source's time (now, or at the end)
    └── Rmdir       a destination-only directory, removed at the end if empty (sync)
"""

from __future__ import annotations

from .backends.base import Entry
from .record import record

__all__ = ["Action", "Copy", "Replace", "SetMtime", "Delete", "Mkdir", "SetDirTime", "Rmdir",
           "copy_action", "ACTION_KINDS"]


@record(frozen=True, slots=True)
class Action:
    """Base of the actions: ``path`` is the source path (the destination's for deletions)."""

    path: str

    kind = "action"

    def __str__(self) -> str:
        return f"{self.kind} {self.path}"


@record(frozen=True, slots=True)
class Copy(Action):
    """Copy a new file: ``dst_path`` is where it goes (usually ``path``); ``size`` and
    ``mtime_ns`` are the source's as listed, so a change since then is detected."""

    dst_path: str
    size: int
    mtime_ns: int
    reason: str = "new"

    kind = "copy"

    @property
    def source(self) -> Entry:
        """The source entry as the planner listed it."""
        return Entry(self.path, self.size, self.mtime_ns)


@record(frozen=True, slots=True)
class Replace(Action):
    """Copy a file over its differing destination twin (``old_size``/``old_mtime_ns``; the
    old file stays intact until the new one is renamed over it)."""

    dst_path: str
    size: int
    mtime_ns: int
    old_size: int
    old_mtime_ns: int
    reason: str = ""

    kind = "replace"

    @property
    def source(self) -> Entry:
        """The source entry as the planner listed it."""
        return Entry(self.path, self.size, self.mtime_ns)

    @property
    def old(self) -> Entry:
        """The destination file being replaced."""
        return Entry(self.dst_path, self.old_size, self.old_mtime_ns)


@record(frozen=True, slots=True)
class SetMtime(Action):
    """Give the destination file ``dst_path`` the source's time (contents are the same)."""

    dst_path: str
    size: int
    mtime_ns: int
    reason: str = ""

    kind = "set-mtime"


@record(frozen=True, slots=True)
class Delete(Action):
    """Delete the destination-only file ``path`` (sync; after every transfer succeeded).
    ``size`` and ``mtime_ns`` are the file's as listed (a backup copy keeps the time)."""

    size: int
    mtime_ns: int = 0
    reason: str = "not in source"

    @property
    def entry(self) -> Entry:
        """The destination file as the planner listed it."""
        return Entry(self.path, self.size, self.mtime_ns)

    kind = "delete"


@record(frozen=True, slots=True)
class Mkdir(Action):
    """Make the destination directory ``path`` (``mtime_ns`` 0: no time to give it)."""

    mtime_ns: int = 0
    reason: str = "new directory"

    kind = "mkdir"


@record(frozen=True, slots=True)
class SetDirTime(Action):
    """Give the destination directory ``path`` the source directory's time: at once when
    it differs (rclone's copyDirMetadata), or at the end of the run when its contents
    changed (``reason`` "contents changed"). ``existed``: the directory was there before
    the run (or made with its time), which only changes how the update is logged."""

    mtime_ns: int
    existed: bool = True
    reason: str = "time differs"

    kind = "set-dir-time"


@record(frozen=True, slots=True)
class Rmdir(Action):
    """Remove the destination-only directory ``path`` if it is empty at the end (sync)."""

    reason: str = "not in source"

    kind = "rmdir"


ACTION_KINDS = {cls.kind: cls for cls in (Copy, Replace, SetMtime, Delete, Mkdir, SetDirTime,
                                          Rmdir)}


def copy_action(src: Entry, old: Entry | None, dst_path: str, reason: str = "") -> Copy | Replace:
    """The Copy (no ``old``) or Replace action for source ``src`` written to ``dst_path``."""
    if old is None:
        return Copy(src.path, dst_path, src.size, src.mtime_ns, reason or "new")
    return Replace(src.path, dst_path, src.size, src.mtime_ns, old.size, old.mtime_ns,
                   reason)
