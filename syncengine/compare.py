"""rclone's decision ladder for a source file and its destination twin → Decision."""

from __future__ import annotations

import threading
from collections.abc import Callable

from . import log
from .backends.base import Backend, Entry
from .options import SyncOptions
from .record import record

__all__ = ["Decision", "Comparer", "run_hash_kind", "SKIP", "COPY", "SET_MTIME",
           "MTIME_NOT_SUPPORTED", "common_hash", "format_go_duration_ns"]

SKIP = "skip"
COPY = "copy"
SET_MTIME = "set_mtime"
MTIME_NOT_SUPPORTED = -1
#: rclone's DEBUG line for a source file with no destination twin
NOT_FOUND = "Need to transfer - File not found at Destination"

# pysync prefers its native xxh3 (fast, GIL-free on large slices), then xxh128, then SHA-1
# before MD5 (OpenSSL's SHA-1 uses the CPU's SHA instructions: ~3x MD5's speed on the client,
# and a server's sha1sum is as fast as its md5sum), then rclone's order.
_HASH_PREFERENCE = ("xxh3", "xxh128", "sha1", "md5", "sha256", "crc32")


@record(frozen=True, slots=True)
class Decision:
    """What to do with a pair: ``skip``, ``copy`` or ``set_mtime`` (identical contents)."""

    action: str
    reason: str = ""


def common_hash(src: Backend, dst: Backend) -> str | None:
    """The hash both backends offer, by pysync's preference, or None."""
    both = set(src.features.hashes) & set(dst.features.hashes)
    for kind in _HASH_PREFERENCE:
        if kind in both:
            return kind
    return None


def modify_window(src: Backend, dst: Backend, window_ns: int) -> int:
    """max(--modify-window, both precisions), or MTIME_NOT_SUPPORTED."""
    if not src.features.can_set_mtime and src.features.precision_ns <= 0:
        return MTIME_NOT_SUPPORTED
    if not dst.features.can_set_mtime:
        return MTIME_NOT_SUPPORTED
    return max(window_ns, src.features.precision_ns, dst.features.precision_ns)


def format_go_duration_ns(ns: int) -> str:
    """A duration printed like Go's time.Duration.String() (``0s``, ``1ns``, ``1.5s``)."""
    from .units import format_go_duration

    return format_go_duration(ns)


_SAME_TIME = Decision(SKIP, "size and modification time the same")


def run_hash_kind(src: Backend, dst: Backend, opts: SyncOptions) -> str | None:
    """The hash a run compares and verifies with: the two sides' common one, none with
    --ignore-checksum (unless --checksum)."""
    return None if opts.ignore_checksum and not opts.checksum else common_hash(src, dst)


class Comparer:
    """Runs rclone's ``NeedTransfer``/``equal`` for one copy or sync.

    ``src_hash(path, kind)`` / ``dst_hash(path, kind)`` return a hex digest or None; they
    are called only when the ladder needs hashes.
    """

    def __init__(self, src: Backend, dst: Backend, opts: SyncOptions,
                 src_hash: Callable[[str, str], str | None] | None = None,
                 dst_hash: Callable[[str, str], str | None] | None = None) -> None:
        self.opts = opts
        self.window = modify_window(src, dst, opts.modify_window)
        self.hash_kind = run_hash_kind(src, dst, opts)
        self._src_hash = src_hash or src.hash
        self._dst_hash = dst_hash or dst.hash
        self._src_name = src.describe()
        self._dst_name = dst.describe()
        self._warned = threading.Event()

    # ----- hashes -------------------------------------------------------------------

    def hashes_equal(self, src: Entry, dst: Entry) -> tuple[bool, str | None]:
        """(equal, kind): kind None means no usable hash (then ``equal`` is True)."""
        kind = self.hash_kind
        if kind is None:
            return True, None
        sh = self._src_hash(src.path, kind)
        if not sh:
            log.debug(src.path, "Src hash empty - aborting Dst hash check")
            return True, None
        dh = self._dst_hash(dst.path, kind)
        if not dh:
            log.debug(dst.path, "Dst hash empty - aborting Src hash check")
            return True, None
        if sh != dh:
            log.debug(src.path, f"{kind} = {sh} ({self._src_name})")
            log.debug(dst.path, f"{kind} = {dh} ({self._dst_name})")
            return False, kind
        log.debug(src.path, f"{kind} = {sh} OK")
        return True, kind

    # ----- the ladder ---------------------------------------------------------------

    def size_differs(self, src: Entry, dst: Entry) -> bool:
        """rclone's sizeDiffers: unknown sizes and --ignore-size never differ."""
        if self.opts.ignore_size or src.size < 0 or dst.size < 0:
            return False
        if src.size == dst.size:
            log.debug(dst.path, "size = %d OK", dst.size)
            return False
        log.debug(src.path, f"size = {src.size} ({self._src_name})")
        log.debug(dst.path, f"size = {dst.size} ({self._dst_name})")
        return True

    def equal(self, src: Entry, dst: Entry, *, size_only: bool | None = None,
              force_mtime_match: bool = False) -> Decision:
        """rclone's ``equal``: SKIP, COPY, or SET_MTIME when only the time differs."""
        o = self.opts
        size_only = o.size_only if size_only is None else size_only
        if self.size_differs(src, dst):
            log.debug(src.path, "Sizes differ")
            return Decision(COPY, "sizes differ")
        if size_only:
            log.debug(src.path, "Sizes identical")
            return Decision(SKIP, "sizes identical")
        if o.checksum:
            same, kind = self.hashes_equal(src, dst)
            if not same:
                log.debug(src.path, f"{kind} differ")
                return Decision(COPY, f"{kind} differ")
            if kind is None:
                if self.hash_kind is None and not self._warned.is_set():
                    self._warned.set()
                    log.notice(self._dst_name, "--checksum is in use but the source and "
                               "destination have no hashes in common; falling back to "
                               "--size-only")
                log.debug(src.path, "Size of src and dst objects identical")
            else:
                log.debug(src.path, f"Size and {kind} of src and dst objects identical")
            return Decision(SKIP, "checksums identical")
        if not force_mtime_match:
            window = self.window
            if window == MTIME_NOT_SUPPORTED:
                log.debug(src.path, "Sizes identical")
                return Decision(SKIP, "sizes identical")
            dt = dst.mtime_ns - src.mtime_ns
            debug = log.debug_enabled()
            if -window < dt < window:
                if debug:
                    log.debug(src.path, "Size and modification time the same (differ by "
                              f"{format_go_duration_ns(dt)}, within tolerance "
                              f"{format_go_duration_ns(window)})")
                return _SAME_TIME
            if debug:
                log.debug(src.path, f"Modification times differ by {format_go_duration_ns(dt)}")
        same, kind = self.hashes_equal(src, dst)
        if not same:
            log.debug(src.path, f"{kind} differ")
            return Decision(COPY, f"{kind} differ")
        if kind is None and not o.refresh_times:
            return Decision(COPY, "no common hash")
        if not o.no_update_modtime:
            return Decision(SET_MTIME, "contents identical")
        return Decision(SKIP, "contents identical")

    def fast_skip(self) -> Callable[[Entry, Entry], bool] | None:
        """A predicate that is True for a pair the ladder would skip from sizes and times
        alone, with nothing to log; None when the flags (or DEBUG logging) need the full
        ladder for every pair. Used to decide unchanged files in bulk in the march."""
        o = self.opts
        if (o.ignore_existing or o.ignore_times or o.update or o.checksum or o.ignore_size
                or self.window == MTIME_NOT_SUPPORTED or log.debug_enabled()):
            return None
        if o.size_only:
            return lambda s, d: s.size == d.size and s.size >= 0
        window = self.window

        def same(s: Entry, d: Entry) -> bool:
            return s.size == d.size and s.size >= 0 and -window < d.mtime_ns - s.mtime_ns < window

        return same

    def needs_io(self, src: Entry, dst: Entry) -> bool:
        """True when deciding this pair may need hashes (so it belongs on a checker thread);
        False when ``need_transfer`` decides from sizes and times alone."""
        o = self.opts
        if o.ignore_existing or o.ignore_times:
            return False
        same_size = o.ignore_size or src.size < 0 or dst.size < 0 or src.size == dst.size
        if not same_size or o.size_only:
            return False
        if o.checksum or o.update:
            return True
        window = self.window
        if window == MTIME_NOT_SUPPORTED:
            return False
        return not (-window < dst.mtime_ns - src.mtime_ns < window)

    def need_transfer(self, src: Entry, dst: Entry | None) -> Decision:
        """rclone's ``NeedTransfer`` for a source file and its destination twin (or None)."""
        o = self.opts
        if dst is None:
            log.debug(src.path, NOT_FOUND)
            return Decision(COPY, "not found at destination")
        if o.ignore_existing:
            log.debug(src.path, "Destination exists, skipping")
            return Decision(SKIP, "destination exists")
        if o.ignore_times:
            log.debug(src.path, "Transferring unconditionally as --ignore-times is in use")
            return Decision(COPY, "ignore times")
        if o.update:
            window = self.window if self.window != MTIME_NOT_SUPPORTED else 1_000_000_000
            dt = dst.mtime_ns - src.mtime_ns
            if dt >= window:
                log.debug(src.path, "Destination is newer than source, skipping")
                return Decision(SKIP, "destination is newer")
            if dt <= -window:
                d = self.equal(src, dst, force_mtime_match=True)
                if d.action != COPY:
                    log.debug(src.path, "Unchanged skipping")
                return d
            d = self.equal(src, dst, size_only=not o.checksum)
            win = format_go_duration_ns(window)
            if d.action != COPY:
                log.debug(src.path, f"Destination mod time is within {win} of source and files "
                          "identical, skipping")
                return d
            log.debug(src.path, f"Destination mod time is within {win} of source but files "
                      "differ, transferring")
            return d
        d = self.equal(src, dst)
        if d.action == SKIP and log.debug_enabled():
            log.debug(src.path, "Unchanged skipping")
        return d
