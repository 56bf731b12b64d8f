"""Run one command and measure its wall time and peak RSS (``wait4`` on that child alone).

The command is started through :mod:`bench._launch`, a minimal Python launcher (built-ins
only, ~8 MiB) that forks, execs the command and reports ``wait4``'s figures for it: on Linux a
child's ``ru_maxrss`` is never below the RSS of the process it was forked from, and the harness
may hold hundreds of MiB; the launcher keeps that floor at ~7 MiB, below either tool's real
peak.  The reported wall time runs from the launcher's fork to the end of its ``wait4``
(``outer_seconds`` in the JSON includes the launcher's own start-up, for reference).

The launcher runs in its own session (process group), so a Ctrl-C in the terminal reaches only the
harness, which then stops the child's whole group and reaps it: nothing is left running.  The
exit is observed through a pidfd (or ``waitid(WNOWAIT)`` polling) *before* the child is reaped,
so leftover grandchildren can still be killed by process group while its id is guaranteed ours.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Measurement", "run_measured"]

TAIL_FAIL = 4000
TAIL_OK = 500
LAUNCHER = str(Path(__file__).resolve().with_name("_launch.py"))
SAMPLE_PERIOD = 0.1  # seconds between two samples of a process tree


@dataclass
class Measurement:
    """The outcome of one timed run."""

    cmd: list[str]
    rc: int | None  # exit code; None when killed by the harness (timeout, interrupt)
    seconds: float
    maxrss_kib: int = 0
    user_s: float = 0.0
    sys_s: float = 0.0
    timed_out: bool = False
    error: str | None = None  # could not start, timeout, interrupted, killed by signal
    outer_seconds: float = 0.0  # as seen by the harness, launcher start-up included
    launcher: bool = True  # False: figures from the harness's own wait4 (RSS floor = harness)
    # sample_tree: the peak of the summed RSS of the command's process tree (its worker
    # processes too; shared pages counted in each), the most processes seen at once, and
    # the CPU seconds its processes had used when last seen (user + sys, per process)
    tree_rss_kib: int = 0
    tree_procs: int = 0
    tree_cpu_s: float = 0.0
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Exit code 0 and nothing went wrong."""
        return self.rc == 0 and self.error is None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (with ``ok`` and ``maxrss_mib`` added)."""
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        data["ok"] = self.ok
        data["seconds"] = round(self.seconds, 4)
        data["outer_seconds"] = round(self.outer_seconds, 4)
        data["maxrss_mib"] = round(self.maxrss_kib / 1024, 1)
        return data


def _exited(pid: int) -> bool:
    """True when ``pid`` has exited (without reaping it)."""
    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    return info is not None and info.si_pid == pid


def _wait_exit(pid: int, deadline: float | None) -> bool:
    """Block until ``pid`` exits (True) or ``deadline`` (monotonic) passes (False); no reaping."""
    pidfd_open = getattr(os, "pidfd_open", None)
    fd = None
    if pidfd_open is not None:
        try:
            fd = pidfd_open(pid)
        except OSError:
            fd = None
    if fd is not None:
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while True:
                if deadline is None:
                    timeout_ms = None
                else:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    timeout_ms = int(left * 1000) + 1
                if poller.poll(timeout_ms):
                    return True
        finally:
            os.close(fd)
    while not _exited(pid):
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(0.002)
    return True


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE_KIB = (os.sysconf("SC_PAGE_SIZE") // 1024) if hasattr(os, "sysconf") else 4


def _descendants(pid: int) -> list[int]:
    """``pid``'s processes below it (``/proc/PID/task/TID/children``), depth first."""
    out: list[int] = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    kids = [int(c) for c in fh.read().split()]
            except (OSError, ValueError):
                continue
            out.extend(kids)
            todo.extend(kids)
    return out


class TreeSampler:
    """Samples the process tree below a pid: summed RSS (peak), process count (peak), and
    each process's CPU seconds as last seen (a process's last tick before it exits, up to
    one sampling period, is missed)."""

    def __init__(self, root: int) -> None:
        self.root = root
        self.peak_rss_kib = 0
        self.peak_procs = 0
        self._cpu: dict[tuple[int, int], float] = {}  # (pid, start time) -> CPU seconds

    def sample(self) -> None:
        """Read the tree once."""
        rss = 0
        pids = _descendants(self.root)
        for pid in pids:
            try:
                with open(f"/proc/{pid}/stat") as fh:
                    fields = fh.read().rpartition(")")[2].split()
                with open(f"/proc/{pid}/statm") as fh:
                    rss += int(fh.read().split()[1]) * _PAGE_KIB
            except (OSError, ValueError, IndexError):
                continue
            # fields from the state on: utime is the 12th, stime 13th, starttime 20th
            cpu = (int(fields[11]) + int(fields[12])) / _TICKS
            self._cpu[(pid, int(fields[19]))] = cpu
        self.peak_rss_kib = max(self.peak_rss_kib, rss)
        self.peak_procs = max(self.peak_procs, len(pids))

    @property
    def cpu_s(self) -> float:
        """CPU seconds of every process seen, as last seen."""
        return round(sum(self._cpu.values()), 3)


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _stop(pid: int) -> None:
    """SIGTERM the child's process group, SIGKILL after 5 s (child not yet reaped)."""
    _killpg(pid, signal.SIGTERM)
    if not _wait_exit(pid, time.monotonic() + 5):
        _killpg(pid, signal.SIGKILL)
        _wait_exit(pid, None)


def _tail(fh: Any, limit: int) -> str:
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    fh.seek(max(0, size - limit))
    return fh.read().decode("utf-8", "replace")


def _read_launch(path: str) -> dict[str, float] | None:
    try:
        with open(path) as fh:
            pairs = [line.split("=", 1) for line in fh.read().splitlines() if "=" in line]
        data = {k: float(v) for k, v in pairs}
    except (OSError, ValueError):
        return None
    need = {"seconds", "status", "maxrss_kib", "user_s", "sys_s"}
    return data if need <= data.keys() else None


def run_measured(cmd: list[str], *, env: dict[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None, timeout: float | None = None,
                 stdout: int | None = subprocess.DEVNULL, launcher: bool = True,
                 sample_tree: bool = False) -> Measurement:
    """Run ``cmd`` to completion and measure it.

    ``sample_tree``: also sample the command's process tree every SAMPLE_PERIOD seconds
    (``tree_*`` figures: the worker processes a run starts are in them).

    With ``launcher`` (the default) the figures are the launcher's ``wait4`` of the command;
    otherwise (or if the launcher reported nothing) the harness's own ``wait4`` of its child.
    ``KeyboardInterrupt`` stops and reaps everything started, then propagates.
    """
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp, \
            tempfile.TemporaryFile() as err:
        result_file = os.path.join(tmp, "result")
        argv = [sys.executable, "-I", "-S", LAUNCHER, result_file, "--", *cmd] \
            if launcher else cmd
        t0 = time.perf_counter()
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=err,
                                    env=env, cwd=cwd, start_new_session=True)
        except OSError as exc:
            return Measurement(cmd=cmd, rc=127, seconds=time.perf_counter() - t0,
                               error=f"could not start: {exc}", launcher=launcher)
        pid = proc.pid
        sampler = TreeSampler(pid) if sample_tree else None
        reaped = False
        error: str | None = None
        timed_out = False
        try:
            deadline = None if timeout is None else time.monotonic() + timeout
            if sampler is not None:
                exited = False
                while not exited:
                    sampler.sample()
                    step = time.monotonic() + SAMPLE_PERIOD
                    exited = _wait_exit(pid, step if deadline is None else min(step, deadline))
                    if not exited and deadline is not None and time.monotonic() >= deadline:
                        break
            else:
                exited = _wait_exit(pid, deadline)
            if not exited:
                timed_out = True
                error = f"timeout after {timeout:g} s"
                _stop(pid)
            outer = time.perf_counter() - t0
            _killpg(pid, signal.SIGKILL)  # stray grandchildren, while the group id is ours
            _, status, usage = os.wait4(pid, 0)
            reaped = True
        finally:
            if not reaped:  # interrupted (Ctrl-C) or an unexpected error: leave nothing behind
                _stop(pid)
                _killpg(pid, signal.SIGKILL)
                try:
                    os.wait4(pid, 0)
                except ChildProcessError:
                    pass
                proc.returncode = -1
        proc.returncode = os.waitstatus_to_exitcode(status)
        inner = _read_launch(result_file) if launcher and not timed_out else None
        if inner is not None:
            status = int(inner["status"])
            m = Measurement(cmd=cmd, rc=os.waitstatus_to_exitcode(status),
                            seconds=inner["seconds"], maxrss_kib=int(inner["maxrss_kib"]),
                            user_s=round(inner["user_s"], 3), sys_s=round(inner["sys_s"], 3))
        else:
            m = Measurement(cmd=cmd, rc=os.waitstatus_to_exitcode(status), seconds=outer,
                            maxrss_kib=int(usage.ru_maxrss), user_s=round(usage.ru_utime, 3),
                            sys_s=round(usage.ru_stime, 3), launcher=False)
        m.outer_seconds = outer
        if sampler is not None:
            m.tree_rss_kib, m.tree_procs = sampler.peak_rss_kib, sampler.peak_procs
            m.tree_cpu_s = sampler.cpu_s
        if timed_out:
            m.rc, m.timed_out, m.error = None, True, error
        elif m.rc is not None and m.rc < 0:
            m.error = f"killed by signal {-m.rc}"
        elif launcher and inner is None and m.rc == 0:
            m.error = "launcher reported no figures"
        m.stderr_tail = _tail(err, TAIL_OK if m.ok else TAIL_FAIL)
        return m
