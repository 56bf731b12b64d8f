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
