"""The servers the tests start die with the process that started them.

A fixture stops its server by PID when the test ends; a test run that is itself killed
(SIGTERM from a CI timeout, SIGKILL) never gets there, so each server is also started with
the kernel's parent-death signal (``proctree.die_with_parent``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

_STARTER = """
import sys, time
from pathlib import Path
from backends.sshd import start_sshd
server = start_sshd(Path(sys.argv[1]))
print(server.pid, flush=True)
time.sleep(120)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sshd_dies_when_its_starter_is_killed(tmp_path: Path) -> None:
    starter = subprocess.Popen([sys.executable, "-c", _STARTER, str(tmp_path / "sshd")],
                               cwd=TESTS, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    sshd_pid = 0
    try:
        assert starter.stdout is not None
        sshd_pid = int(starter.stdout.readline())
        assert _alive(sshd_pid)
        starter.send_signal(signal.SIGKILL)
        starter.wait(timeout=30)
        deadline = time.monotonic() + 15
        while _alive(sshd_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(sshd_pid), "sshd outlived the process that started it"
    finally:
        if starter.poll() is None:
            starter.kill()
            starter.wait(timeout=30)
        if starter.stdout is not None:
            starter.stdout.close()
        if sshd_pid and _alive(sshd_pid):
            os.kill(sshd_pid, signal.SIGKILL)
