"""What the file system under a test's folder can do (shared by the direct-I/O tests)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def takes_direct_io(folder: Path) -> bool:
    """Whether ``folder``'s file system accepts O_DIRECT on a file open for writing."""
    probe = folder / ".probe"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_DIRECT)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)
        os.unlink(probe)
