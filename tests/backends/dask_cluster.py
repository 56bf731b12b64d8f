"""A real Dask cluster on 127.0.0.1 for the Dask executor's tests: one ``dask scheduler`` and
``dask worker`` processes (no nanny, so that a worker's PID is the process that copies and a
SIGKILL loses it for good), started here on a free port and stopped by PID.

The processes run this interpreter (``python -m distributed.cli.dask_scheduler``, the program
behind ``dask scheduler``), with the caller's ``PYTHONPATH`` so workers import the pysync under
test, and with a private ``HOME`` and no ``RCLONE_``/``PYSYNC_``/ssh-agent variables: whatever
a worker needs to reach a remote must come from the run itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .proctree import die_with_parent

__all__ = ["DaskCluster", "start_cluster", "dask_cluster"]

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RCLONE_", "PYSYNC_", "DASK_")) and k != "SSH_AUTH_SOCK"}
    env.update(HOME=str(home), TZ="UTC", LC_ALL="C", PYTHONUNBUFFERED="1")
    return env


@dataclass
class DaskCluster:
    """A scheduler and its workers; ``address`` is what ``--dask-scheduler`` takes."""

    workdir: Path
    address: str
    scheduler: subprocess.Popen[bytes]
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def log(self, name: str) -> str:
        """What ``scheduler`` or ``worker-<i>`` wrote to its stderr so far."""
        try:
            return (self.workdir / f"{name}.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def kill_worker(self, i: int) -> None:
        """SIGKILL worker ``i`` (no clean-up, no goodbye to the scheduler) and reap it."""
        proc = self.workers[i]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop every process by its PID: terminate, wait, kill."""
        for proc in [*self.workers, self.scheduler]:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
        for proc in [*self.workers, self.scheduler]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)


def _spawn(args: list[str], workdir: Path, name: str, env: dict[str, str]
           ) -> subprocess.Popen[bytes]:
    log = open(workdir / f"{name}.log", "wb")  # noqa: SIM115 - the child keeps it
    try:
        return subprocess.Popen([sys.executable, "-m", *args], cwd=workdir, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                preexec_fn=die_with_parent)
    finally:
        log.close()


def _wait_port(proc: subprocess.Popen[bytes], port: int, what: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(0.5)
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {HOST}:{port}")


def _wait_workers(address: str, n: int, deadline: float) -> None:
    from distributed import Client

    with Client(address, timeout="30s", set_as_default=False) as client:
        client.wait_for_workers(n, timeout=max(1.0, deadline - time.monotonic()))


def start_cluster(workdir: Path, *, workers: int = 2, nthreads: int = 2,
                  timeout: float = 90.0) -> DaskCluster:
    """Start a scheduler and ``workers`` workers (``nthreads`` threads each) and wait until
    every worker has joined. The caller stops it (``stop()``)."""
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = _env(home)
    port = _free_port()
    address = f"tcp://{HOST}:{port}"
    deadline = time.monotonic() + timeout
    scheduler = _spawn(["distributed.cli.dask_scheduler", "--host", HOST, "--port", str(port),
                        "--no-dashboard"], workdir, "scheduler", env)
    cluster = DaskCluster(workdir, address, scheduler)
    try:
        _wait_port(scheduler, port, "dask scheduler", deadline)
        for i in range(workers):
            local = workdir / f"worker-{i}"
            local.mkdir(exist_ok=True)
            cluster.workers.append(_spawn(
                ["distributed.cli.dask_worker", address, "--host", HOST, "--nthreads",
                 str(nthreads), "--no-nanny", "--no-dashboard", "--name", f"w{i}",
                 "--local-directory", str(local), "--death-timeout", "60"],
                workdir, f"worker-{i}", env))
        _wait_workers(address, workers, deadline)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A fresh scheduler and 2 workers (2 threads each) for one test, stopped by PID."""
    cluster = start_cluster(tmp_path_factory.mktemp("dask"))
    try:
        yield cluster
    finally:
        cluster.stop()
