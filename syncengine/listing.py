"""The listing commands: ``lsf``, ``ls`` and ``size`` with rclone's output formats."""

from __future__ import annotations

import time
from collections.abc import Callable

from . import log
from .backends.base import Backend, Entry
from .errors import DirNotFoundError, PysyncError
from .filter import Filter
from .options import ListOptions
from .units import format_rfc3339
from .walk import walk

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

__all__ = ["lsf", "entry_formatter", "ls", "size", "format_time", "count_suffix"]

_FORMAT_LETTERS = "pstmhiotTeM"


def format_time(mtime_ns: int, layout: str = "") -> str:
    """Local time as rclone prints it by default (``2006-01-02 15:04:05``) or by a Go layout
    name (``RFC3339``, ``RFC3339Nano``, ``unix``, ``unixnano``, ``max``)."""
    sec = mtime_ns // 1_000_000_000
    if not layout or layout == "2006-01-02 15:04:05":
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sec))
    name = layout.lower()
    if name == "unix":
        return str(sec)
    if name == "unixnano":
        return str(mtime_ns)
    fraction = {"rfc3339": "none", "rfc3339nano": "nano", "max": "max"}.get(name)
    if fraction is not None:
        return format_rfc3339(mtime_ns, fraction)
    raise PysyncError(f"unsupported --time-format {layout!r}")


def _mime(name: str) -> str:
    import mimetypes  # lsf's m format only

    mtype, _ = mimetypes.guess_type(name, strict=False)
    if not mtype:
        return "application/octet-stream"
    if mtype.startswith("text/") or mtype in ("application/javascript",):
        return mtype + "; charset=utf-8"
    return mtype


def _csv_field(text: str, sep: str) -> str:
    """Quote a field as Go's encoding/csv writer does."""
    if text == "":
        return text
    if text == "\\." or sep in text or '"' in text or "\r" in text or "\n" in text \
            or text[0] in " \t":
        return '"' + text.replace('"', '""') + '"'
    return text


def _root_error(backend: Backend, err: OSError) -> PysyncError:
    if isinstance(err, DirNotFoundError):
        return err
    return PysyncError(f"error listing: {err}")


def _walk_all(backend: Backend, filt: Filter, max_depth: int,
              visit: Callable[[Entry], None], *, want_stat: bool = True
              ) -> tuple[int, BaseException | None]:
    """Walk and call ``visit`` for every entry; return the number of listing errors and
    the last one."""
    errors = 0
    last: BaseException | None = None

    def on_error(path: str, err: BaseException) -> None:
        nonlocal errors, last
        errors += 1
        last = err
        log.error(path, f"error listing: {err}")

    def on_unsafe(path: str, err: BaseException) -> None:  # logged already: counted here
        nonlocal errors, last
        errors += 1
        last = err

    try:
        for _, entries in walk(backend, filt, max_depth=max_depth, on_error=on_error,
                               want_stat=want_stat, on_unsafe=on_unsafe):
            for e in entries:
                visit(e)
    except OSError as err:
        log.error(None, f"error listing: {getattr(err, 'message', None) or err}")
        raise _root_error(backend, err) from None
    return errors, last


def entry_formatter(backend: Backend, opts: ListOptions, hash_kind: str, *,
                    dir_size: bool = False) -> Callable[[Entry], str | None]:
    """One entry as an ``lsf`` line (no newline) by ``opts`` (format, separator, csv,
    slash, absolute, time format, files/dirs only: None for an entry left out); hashes of
    ``hash_kind`` (canonical name) are read from ``backend``. ``dir_size``: a directory's
    ``s`` is its entry's size (rclone's sync reports), not lsf's -1."""
    fmt = opts.format
    sep = "," if opts.csv and opts.separator == ";" else opts.separator

    def line(e: Entry) -> str | None:
        if (opts.files_only and e.is_dir) or (opts.dirs_only and not e.is_dir):
            return None
        parts: list[str] = []
        for ch in fmt:
            if ch == "p":
                text = e.path + ("/" if e.is_dir and opts.dir_slash else "")
                parts.append("/" + text if opts.absolute else text)
            elif ch == "s":
                parts.append(str(e.size if not e.is_dir or dir_size else -1))
            elif ch == "t":
                parts.append(format_time(e.mtime_ns, opts.time_format))
            elif ch == "h":
                parts.append("" if e.is_dir else (backend.hash(e.path, hash_kind) or ""))
            elif ch == "m":
                parts.append("inode/directory" if e.is_dir else _mime(e.name))
            else:
                parts.append("")
        if opts.csv:
            parts = [_csv_field(p, sep) for p in parts]
        return sep.join(parts)

    return line


def lsf(backend: Backend, filt: Filter, opts: ListOptions, *, max_depth: int,
        out: TextIO) -> int:
    """Print one line per entry as ``rclone lsf``; returns the exit code."""
    fmt = opts.format
    for ch in fmt:
        if ch not in _FORMAT_LETTERS:
            raise PysyncError(f"unknown format character '{ch}'")
    hash_kind = opts.hash
    if "h" in fmt:
        from .hashing import canonical
        try:
            hash_kind = canonical(opts.hash)
        except ValueError as err:
            raise PysyncError(str(err)) from None
    line = entry_formatter(backend, opts, hash_kind)
    write = out.write

    def visit(e: Entry) -> None:
        text = line(e)
        if text is not None:
            write(text + "\n")

    local = getattr(backend, "features", None) is not None and backend.features.name == "local"
    want_stat = not local or any(ch in fmt for ch in "st")
    errors, last = _walk_all(backend, filt, max_depth, visit, want_stat=want_stat)
    out.flush()
    if errors and getattr(last, "stats_only", False):
        # rclone: a local entry's listing error (-L's link to nothing) is the run's error
        log.notice(None, f"Failed to lsf: {last}" if errors == 1 else
                   f"Failed to lsf with {errors} errors: last error was: {last}")
        return getattr(last, "exit_code", 1)
    if errors:
        log.notice(None, f"Failed to lsf with {errors} errors: last error was: error listing")
        return 1
    return 0


def ls(backend: Backend, filt: Filter, *, max_depth: int, out: TextIO) -> int:
    """Print ``%9d path`` for every file, recursively, as ``rclone ls``."""
    write = out.write

    def visit(e: Entry) -> None:
        if not e.is_dir:
            write(f"{e.size:9d} {e.path}\n")

    errors, _ = _walk_all(backend, filt, max_depth, visit)
    out.flush()
    return 1 if errors else 0


def count_suffix(n: int) -> str:
    """rclone's CountSuffix: decimal ``k M G T P E`` with 3 decimals (``1.500k``)."""
    if n < 1000:
        return str(n)
    value = float(n)
    for suffix in "kMGTPE":
        value /= 1000
        if value < 1000 or suffix == "E":
            text = f"{value:.3f}"
            return (text.rstrip("0").rstrip(".") if float(text).is_integer() else text) + suffix
    return str(n)


def size(backend: Backend, filt: Filter, *, max_depth: int, as_json: bool, spec: str,
         out: TextIO) -> int:
    """Print the object count and total size as ``rclone size``."""
    from .units import format_bytes

    count = total = sizeless = 0

    def visit(e: Entry) -> None:
        nonlocal count, total, sizeless
        if e.is_dir:
            return
        count += 1
        if e.size >= 0:
            total += e.size
        else:
            sizeless += 1

    errors, _ = _walk_all(backend, filt, max_depth, visit)
    if as_json:
        import json

        out.write(json.dumps({"count": count, "bytes": total, "sizeless": sizeless},
                             separators=(",", ":")) + "\n")
    else:
        suffix = count_suffix(count)
        out.write(f"Total objects: {suffix}\n" if suffix == str(count)
                  else f"Total objects: {suffix} ({count})\n")
        out.write(f"Total size: {format_bytes(total)} ({total} Byte)\n")
    out.flush()
    return 1 if errors else 0
