"""``--resume``: the manifest kept beside the partial file of a large transfer.

A resumable transfer writes ``<name>.<8 hex>.partial`` as usual (the hex is a CRC of the
destination path and the source's size and modification time, so the same source version
always gets the same partial name) and, every ``CHECKPOINT`` bytes, a small JSON manifest
``<partial>.resume`` saying how many leading bytes of the partial file are complete and the
xxh3 of exactly those bytes. The next run trusts none of it blindly: the source must still
have the recorded size and time, the partial's first ``done`` bytes must hash to the recorded
value, and so must the source's; only then are those bytes kept and the rest sent.
"""

from __future__ import annotations

import re

from . import log
from .backends.base import Backend
from .record import asdict, record

__all__ = ["Manifest", "CHECKPOINT", "MIN_SIZE", "MANIFEST_SUFFIX", "manifest_path",
           "read_manifest", "write_manifest", "remove_manifest", "ours_pattern"]

CHECKPOINT = 16 * 1024 * 1024  #: bytes between manifest updates
MIN_SIZE = 16 * 1024 * 1024  #: smaller files are not worth resuming: they start again
MANIFEST_SUFFIX = ".resume"
_VERSION = 1


@record(frozen=True)
class Manifest:
    """What a resumable partial file holds: ``done`` leading bytes of the source ``src``
    (of ``size`` bytes, modified at ``mtime_ns``) whose xxh3 is ``prefix``."""

    src: str
    size: int
    mtime_ns: int
    done: int
    prefix: str

    def matches(self, src: str, size: int, mtime_ns: int) -> bool:
        """True when this manifest was written for this very source version."""
        return (self.src, self.size, self.mtime_ns) == (src, size, mtime_ns) \
            and 0 < self.done <= size


def manifest_path(partial: str) -> str:
    """Where the manifest of the partial file ``partial`` lives."""
    return partial + MANIFEST_SUFFIX


def read_manifest(dst: Backend, partial: str) -> Manifest | None:
    """The manifest of ``partial``, or None when there is none or it cannot be trusted."""
    path = manifest_path(partial)
    try:
        if dst.stat(path) is None:
            return None
        with dst.open_read(path) as fh:
            import json

            data = json.loads(fh.read(64 * 1024))
        if data.pop("v", None) != _VERSION:
            return None
        return Manifest(**data)
    except (OSError, ValueError, TypeError) as err:
        log.debug(path, f"Ignoring unreadable resume manifest: {err}")
        return None


def write_manifest(dst: Backend, partial: str, manifest: Manifest) -> None:
    """Write the manifest of ``partial`` (to a temporary name, then renamed over)."""
    path = manifest_path(partial)
    tmp = path + ".tmp"
    import json

    data = json.dumps({"v": _VERSION, **asdict(manifest)}).encode()
    with dst.open_write(tmp) as fh:
        fh.write(data)
    dst.rename(tmp, path)


def remove_manifest(dst: Backend, partial: str) -> None:
    """Remove the manifest of ``partial`` if there is one (failures are only logged)."""
    path = manifest_path(partial)
    try:
        if dst.stat(path) is not None:
            dst.remove(path)
    except OSError as err:
        log.debug(path, f"Failed to remove resume manifest: {err}")


def ours_pattern(partial_suffix: str) -> re.Pattern[str]:
    """Names of the files ``--resume`` keeps: partial files and their manifests."""
    return re.compile(r"\.[0-9a-f]{8}" + re.escape(partial_suffix)
                      + "(?:" + re.escape(MANIFEST_SUFFIX) + r"(?:\.tmp)?)?\Z")
