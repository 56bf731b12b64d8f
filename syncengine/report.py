"""The report files of copy, sync and copyto (rclone's sync logger): ``--combined``,
``--missing-on-dst``, ``--missing-on-src``, ``--match``, ``--differ``, ``--error`` and
``--dest-after``.

The engine calls :meth:`SyncReport.log` once per decision, as rclone's march and checkers
call its LoggerFn: ``+`` a source entry missing on the destination, ``-`` a destination
entry missing on the source, ``=`` a pair found identical, ``*`` a pair found different,
``!`` an error on a file. Files write ``path\\n`` (the destination's spelling when there is
a destination file), ``--combined`` writes ``<sigil> path\\n``, and ``--dest-after`` writes
an ``lsf`` line (by the report's format flags) for the entry that should be on the
destination after the run (rclone's WinningSide). Lines are written as decisions are made,
from several threads: their order is not fixed (rclone's is not either).
"""

from __future__ import annotations

import sys
import threading

from .backends.base import Backend, Entry
from .options import ListOptions, ReportFlags, SyncOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO

__all__ = ["SyncReport", "MISSING_ON_SRC", "MISSING_ON_DST", "MATCH", "DIFFER", "ERROR"]

MISSING_ON_SRC = "-"
MISSING_ON_DST = "+"
MATCH = "="
DIFFER = "*"
ERROR = "!"

#: sigil -> the ReportFlags field of its own file
_FILES = {MISSING_ON_SRC: "missing_on_src", MISSING_ON_DST: "missing_on_dst", MATCH: "match",
          DIFFER: "differ", ERROR: "error"}


class SyncReport:
    """Open report files and write decisions to them; use as a context manager (closes
    the files). ``-`` as a path is standard output. A report with no path set writes
    nothing (``active`` is False)."""

    def __init__(self, flags: ReportFlags, opts: SyncOptions, *, deleting: bool) -> None:
        self.flags = flags
        self.opts = opts
        #: rclone's DeleteModeOff: copy keeps destination-only files (dest-after lists them)
        self.delete_mode_off = not deleting
        self.active = flags.any_set()
        self._lock = threading.Lock()
        self._streams: dict[str, TextIO] = {}
        self._own: list[TextIO] = []
        self._line: dict[str, Callable[[Entry], str | None]] = {}
        self._backends: dict[str, Backend] = {}

    # ----- set-up ---------------------------------------------------------------------

    def open(self) -> SyncReport:
        """Create (truncate) every report file asked for; OSError if one cannot be."""
        paths = {name: getattr(self.flags, name) for name in
                 ("combined", "dest_after", *_FILES.values())}
        for name, path in paths.items():
            if not path:
                continue
            if path == "-":
                self._streams[name] = sys.stdout
                continue
            fh = open(path, "w", encoding="utf-8", errors="surrogateescape", newline="")
            self._own.append(fh)
            self._streams[name] = fh
        return self

    def close(self) -> None:
        """Flush standard output and close the report files."""
        for fh in self._streams.values():
            fh.flush()
        for fh in self._own:
            fh.close()
        self._own.clear()

    def __enter__(self) -> SyncReport:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def set_backends(self, src: Backend, dst: Backend) -> None:
        """The two sides, for ``--dest-after`` lines (hashes are read from the winner's)."""
        self._backends = {"src": src, "dst": dst}
        if "dest_after" not in self._streams:
            return
        from .hashing import canonical
        from .listing import entry_formatter

        f = self.flags
        lopts = ListOptions(format=f.format, separator=f.separator, dir_slash=f.dir_slash,
                            absolute=f.absolute, csv=f.csv, time_format=f.timeformat,
                            hash=f.hash, files_only=f.files_only, dirs_only=f.dirs_only)
        kind = f.hash
        if "h" in f.format:
            try:
                kind = canonical(f.hash)
            except ValueError:
                kind = f.hash
        self._line = {side: entry_formatter(b, lopts, kind, dir_size=True) for side, b in
                      self._backends.items()}

    # ----- logging --------------------------------------------------------------------

    def log(self, sigil: str, src: Entry | None, dst: Entry | None, *,
            is_dir: bool = False, failed: bool = False) -> None:
        """Record one decision (rclone's LoggerFn). ``is_dir``: a directory decision
        (rclone's fs.ErrorIsDir; only ``--dest-after`` without ``--files-only`` shows
        it). ``failed``: the error cut the run short (``--max-duration``)."""
        if not self.active:
            return
        with self._lock:
            if is_dir:
                if not self.flags.files_only and "dest_after" in self._streams:
                    self._dest_after(sigil, src, dst, is_dir=True)
                return
            src_file = src is not None and not src.is_dir
            dst_file = dst is not None and not dst.is_dir
            if not src_file and not dst_file:
                return
            name = src.path if src_file and not dst_file else dst.path  # type: ignore[union-attr]
            own = self._streams.get(_FILES.get(sigil, ""))
            if own is not None:
                own.write(name + "\n")
            combined = self._streams.get("combined")
            if combined is not None:
                combined.write(f"{sigil} {name}\n")
            if "dest_after" in self._streams:
                self._dest_after(sigil, src if src_file else None, dst if dst_file else None)

    def _dest_after(self, sigil: str, src: Entry | None, dst: Entry | None, *,
                    is_dir: bool = False) -> None:
        side = self.winner(sigil, src, dst, is_dir=is_dir)
        if side is None:
            return
        entry = src if side == "src" else dst
        assert entry is not None
        if entry.is_dir and "s" in self.flags.format:
            entry = entry._replace(size=_dir_size(self._backends.get(side), entry.path))
        line = self._line[side](entry) if side in self._line else entry.path
        if line is not None:
            # rclone's --csv dest-after lines come out empty (its CSV writer is never
            # flushed into the line): the same here, so that the files stay identical
            self._streams["dest_after"].write(("" if self.flags.csv else line) + "\n")

    def winner(self, sigil: str, src: Entry | None, dst: Entry | None, *,
               is_dir: bool = False) -> str | None:
        """Which side's entry should be on the destination after the run: ``"src"``,
        ``"dst"`` or None (rclone's WinningSide)."""
        o = self.opts
        dry = o.dry_run
        if is_dir:
            if sigil == MISSING_ON_SRC:
                return "dst" if (self.delete_mode_off or dry) and dst is not None else None
            if sigil == MISSING_ON_DST and dry:
                return None
            if dry and dst is not None:
                return "dst"
            return "src" if src is not None else None
        if sigil == MISSING_ON_SRC:
            return "dst" if self.delete_mode_off or dry else None
        if sigil in (MATCH, DIFFER, MISSING_ON_DST):
            if sigil == MISSING_ON_DST and dry:
                return None
            side = "src"
            if sigil == MATCH and (o.size_only or o.checksum or o.ignore_size or o.update
                                   or o.no_update_modtime):
                side = "dst"
            if o.ignore_times:
                side = "src"
            if sigil in (MATCH, DIFFER) and (o.ignore_existing or o.immutable):
                side = "dst"
            if dry:
                side = "dst"
            return side if (src if side == "src" else dst) is not None else None
        if sigil == ERROR:
            if dst is not None:
                return "dst"
            return "src" if src is not None else None
        return None


def _dir_size(backend: Backend | None, path: str) -> int:
    """A directory's size as rclone's backend reports it: the local file system's st_size
    (4096 on ext4); -1 where pysync has no such number."""
    full = getattr(backend, "full", None)
    if full is None:
        return -1
    import os

    try:
        return os.stat(full(path)).st_size
    except OSError:
        return -1
