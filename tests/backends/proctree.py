"""The direct children of a process, read from /proc (tests stop what they start by PID)."""

from __future__ import annotations

import os
from collections.abc import Callable


def child_pids(parent: int, comm_ok: Callable[[str], bool]) -> list[int]:
    """PIDs of ``parent``'s direct children whose command name (``comm``) ``comm_ok`` takes."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as fh:
                comm = fh.read().strip()
        except OSError:
            continue
        if int(fields[1]) == parent and comm_ok(comm):
            out.append(int(entry))
    return out


def die_with_parent() -> None:
    """``preexec_fn`` for a server a test starts: the kernel sends it SIGTERM when the
    process that started it ends (Linux PR_SET_PDEATHSIG), so a test run that is itself
    killed (SIGTERM, SIGKILL) leaves no server behind, even though the fixture that would
    stop it by its PID never runs."""
    import ctypes
    import signal

    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
