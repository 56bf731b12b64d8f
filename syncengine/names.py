"""Which entry names from a remote listing pysync accepts, and the error for one it refuses.

A directory listing from a remote (an SFTP or SMB server, an fsspec filesystem) is not
trusted: a broken or hostile server may list ``..``, ``a/../../x``, ``/etc/passwd``, a name
with a NUL, a backslash (a path separator on Windows: refused where the destination reads
it so; SMB encodes it as an ordinary ``＼``, as rclone does) or another control character.
Such a name could make pysync create, overwrite or delete something outside the destination
root, or corrupt the march, so the walker drops it with an error (:func:`unsafe_name_reason`
says why). Names from the local disk are real file names and are never checked.
"""

from __future__ import annotations

from .errors import PysyncError
from .lazyre import LazyPattern

__all__ = ["UnsafeNameError", "refusal", "unsafe_name_reason", "unsafe_path_reason"]

#: a path separator (``/``, ``\``) or a control character (C0, DEL, C1)
_BAD_CHAR = LazyPattern(r"[\x00-\x1f\x7f-\x9f/\\]")
#: what can break a path even on the destination's own listing: ``/``, NUL, ``\``
_PATH_CHAR = LazyPattern(r"[\x00/\\]")
_BAD_NAMES = {"": "is empty", ".": "names the directory itself",
              "..": "names the parent directory"}


class UnsafeNameError(PysyncError, OSError):
    """A listed name or a path that could leave the root it belongs to (never retried)."""

    reference = "unsafe-name"
    retryable = False
    name: str = ""


def unsafe_name_reason(name: str, *, strict: bool = True,
                       backslash_ok: bool = False) -> str | None:
    """Why ``name`` (one listed entry name) is refused, or None when it is safe.

    Refused: the empty name, ``.``, ``..``, and any name holding ``/``, ``\\``, NUL or another
    control character (U+0000-U+001F, U+007F-U+009F). One precompiled regex search per name.

    ``strict`` False (a destination's own listing, whose names pysync only deletes or
    overwrites where they are) refuses only what could leave the directory: the names above,
    ``/``, NUL, and a backslash that would make a ``.`` or ``..`` segment if read as a
    separator, or a name of backslashes only; so names pysync itself wrote (``a\\b``,
    ``y\\``, a newline) do not fail every later run.

    ``backslash_ok`` (a source listing copied to a destination where ``\\`` is an ordinary
    name character: a local POSIX disk, an SFTP server, an SMB share, whose name encoding
    writes it as ``＼``) accepts backslashes, as rclone does; every other refusal stays.
    """
    found = (_BAD_CHAR if strict else _PATH_CHAR).search(name)
    if found is None:
        return _BAD_NAMES.get(name)
    ch = found.group()
    if ch == "\\" and backslash_ok:
        rest = (_BAD_CHAR if strict else _PATH_CHAR).search(name.replace("\\", ""))
        if rest is None:
            return _BAD_NAMES.get(name)
        ch = rest.group()
    elif ch == "\\" and not strict and not any(
            part in (".", "..") for part in name.split("\\")) and name.strip("\\"):
        return None
    if ch == "/":
        return "is an absolute path" if name[0] == "/" else "contains a path separator '/'"
    if ch == "\\":
        return "contains a backslash (a path separator on SMB and Windows)"
    return f"contains the control character {ch!r}"


def unsafe_path_reason(path: str) -> str | None:
    """Why ``path`` (``/``-separated, relative to a backend root) could leave that root: it is
    absolute or has a ``..`` segment; None when it stays inside."""
    if path[:1] == "/":
        return "is an absolute path"
    if ".." in path and ".." in path.split("/"):
        return "has a '..' segment"
    return None


def refusal(dir_path: str, name: str, reason: str) -> UnsafeNameError:
    """The error for a refused listed name, naming it escaped (``repr``) and its directory."""
    where = f" in {dir_path!r}" if dir_path else ""
    err = UnsafeNameError(f"refusing unsafe name {name!r}{where} from the listing: it {reason}",
                          path=dir_path or None)
    err.name = name  # the refused name itself, for callers that must protect its twin
    return err
