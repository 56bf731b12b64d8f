"""Keep glibc from handing ~1 MiB I/O buffers back to the kernel after every use.

paramiko and smbprotocol allocate a fresh buffer per message; above glibc's default mmap
threshold each one is mmap'ed, zero-filled by page faults, and unmapped again, which costs
more system time than the copy itself. A 32 MiB threshold (128 MiB trim) keeps them on the
heap for reuse. Only the console script asks for it (it is process-wide; a library user's
process is left alone), and only when an argument has a colon, as every remote, URL and
connection string does; it is done when the first file is queued for transfer, so that a
run that transfers nothing (a no-op sync) does not import ctypes (~3 ms). Anything but
glibc: nothing happens.
"""

from __future__ import annotations

import sys

__all__ = ["wanted", "tune_once"]

#: set by the console script; cleared when done
wanted = False


def tune_once() -> None:
    """Raise glibc's mmap and trim thresholds, once, if the console script asked for it."""
    global wanted
    if not wanted:
        return
    wanted = False
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 32 * 1024 * 1024)
    mallopt(m_trim_threshold, 128 * 1024 * 1024)
