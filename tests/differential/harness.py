"""Run ``rclone lsf`` and ``pysync lsf`` side by side and compare what they print.

Environment knobs:

``PYSYNC_DIFF_SELF=1``
    Run rclone on *both* sides.  Used to check the harness and the generators: in this
    mode every case must pass (anything else is a bug in the tests, e.g. a time
    boundary that is too close).
``PYSYNC_DIFF_PYSYNC="cmd ..."``
    Override the pysync command (default: ``python -m syncengine``).
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RCLONE = shutil.which("rclone")
SELF_MODE = os.environ.get("PYSYNC_DIFF_SELF", "") not in ("", "0")

# A zone with DST so --format t exercises the local-time conversion; rclone (Go) and
# Python both read /usr/share/zoneinfo.  Go does not understand POSIX TZ strings, so
# fall back to UTC rather than to a TZ the two tools would interpret differently.
TZ_NAME = "Europe/Berlin" if Path("/usr/share/zoneinfo/Europe/Berlin").is_file() else "UTC"

TIMEOUT = 120


def tool_env() -> dict[str, str]:
    """Environment for both tools: no user rclone config, fixed TZ and locale."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    env["RCLONE_CONFIG"] = "/dev/null"  # no config file, and no "config not found" notice
    env["TZ"] = TZ_NAME
    env["LC_ALL"] = "C.UTF-8"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    )
    env.pop("PYTHONWARNINGS", None)
    return env


def rclone_cmd(args: list[str], path: str) -> list[str]:
    assert RCLONE is not None
    return [RCLONE, "lsf", *args, path]


def pysync_cmd(args: list[str], path: str) -> list[str]:
    if SELF_MODE:
        return rclone_cmd(args, path)
    override = os.environ.get("PYSYNC_DIFF_PYSYNC")
    base = shlex.split(override) if override else [sys.executable, "-m", "syncengine"]
    return [*base, "lsf", *args, path]


@dataclass
class Result:
    cmd: list[str]
    rc: int
    stdout: bytes
    stderr: bytes
    seconds: float

    def lines(self) -> list[str]:
        text = self.stdout.decode("utf-8", "surrogateescape")
        if not text:
            return []
        parts = text.split("\n")
        if parts[-1] == "":
            parts.pop()
        return parts


def run_pair(args: list[str], path: str, cwd: Path) -> tuple[Result, Result]:
    """Run rclone and pysync concurrently (two cores, and close together in time)."""
    env = tool_env()
    cmds = [rclone_cmd(args, path), pysync_cmd(args, path)]
    t0 = time.monotonic()
    procs = [
        subprocess.Popen(c, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for c in cmds
    ]
    results = []
    for cmd, proc in zip(cmds, procs, strict=True):
        try:
            out, err = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            err += f"\n[harness] killed after {TIMEOUT}s".encode()
        results.append(Result(cmd, proc.returncode, out, err, time.monotonic() - t0))
    return results[0], results[1]


def fmt_cmd(cmd: list[str]) -> str:
    return f"TZ={TZ_NAME} RCLONE_CONFIG=/dev/null " + shlex.join(cmd)


def _tail(b: bytes, n: int = 1500) -> str:
    s = b.decode("utf-8", "backslashreplace").strip()
    return s if len(s) <= n else "..." + s[-n:]


def _show(lines: list[str], limit: int = 60) -> str:
    out = [f"    {line!r}" for line in lines[:limit]]
    if len(lines) > limit:
        out.append(f"    ... {len(lines) - limit} more")
    return "\n".join(out) if out else "    (none)"


def compare(
    rclone: Result,
    pysync: Result,
    *,
    title: str,
    context: str = "",
) -> str | None:
    """Return None if the two runs agree, else a failure report.

    Agreement: same exit code; and when rclone succeeded, the same multiset of output
    lines (order is not compared: rclone's listing order is not specified).
    """
    problem = None
    only_r: list[str] = []
    only_p: list[str] = []
    if rclone.rc != pysync.rc:
        problem = f"exit codes differ: rclone={rclone.rc} pysync={pysync.rc}"
    if rclone.rc == 0 and pysync.rc == 0:
        cr, cp = Counter(rclone.lines()), Counter(pysync.lines())
        if cr != cp:
            only_r = sorted((cr - cp).elements())
            only_p = sorted((cp - cr).elements())
            problem = (
                f"output differs: {len(only_r)} line(s) only in rclone, "
                f"{len(only_p)} only in pysync (rclone printed {sum(cr.values())})"
            )
    if problem is None:
        return None
    parts = [
        f"{title}: {problem}",
        f"  rclone: {fmt_cmd(rclone.cmd)}",
        f"  pysync: {fmt_cmd(pysync.cmd)}",
    ]
    if SELF_MODE:
        parts.append("  (PYSYNC_DIFF_SELF=1: rclone on both sides - a harness bug or a race)")
    if only_r or only_p:
        parts.append("  only in rclone:\n" + _show(only_r))
        parts.append("  only in pysync:\n" + _show(only_p))
    if rclone.stderr.strip():
        parts.append("  rclone stderr:\n    " + _tail(rclone.stderr).replace("\n", "\n    "))
    if pysync.stderr.strip():
        parts.append("  pysync stderr:\n    " + _tail(pysync.stderr).replace("\n", "\n    "))
    if context:
        parts.append(context)
    return "\n".join(parts)
