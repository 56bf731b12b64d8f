"""Issue #5: the server dies in the middle of a transfer.

A dedicated sshd (``sshd.start_sshd``) or smbd (``smbd.SmbdServer``) per test, started under
``tmp_path``: it is killed with SIGKILL (the listener and every process it forked for the
connections, found through ``/proc``, all of them started by this test) while pysync uploads a
file slowed down by ``--bwlimit``. pysync must then end with a non-zero exit code and plain
log lines (no traceback), and no file may sit under its final name with torn content: only
``<name>.<8 hex>.partial`` may be left on the dead server, as with rclone. With the server
back on the same port, a rerun completes and the destination equals the source byte for byte
(the rerun reuses the partial name, rclone's CRC of path and fingerprint, so nothing is left
over). The same for a download, where the failed partial file is removed from the local disk.

The real rclone goes through the same kill with ``--retries 1 --low-level-retries 1`` (with
its defaults, its sftp pacer keeps retrying the refused connections for many minutes), and so
does pysync: their exit codes must agree. rclone's (cmd/cmd.go ``resolveExitCode``) is 5 when
``fserrors.ShouldRetry`` accepts the last error (SMB: the connection's ``EOF``), else 1 (sftp:
pkg/sftp's ``connection lost`` is no syscall error and matches none of rclone's retriable
error strings). With the default three attempts the last error is the refused connection of
the third one, ECONNREFUSED: 5 for both tools.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .smbd import SmbdServer
from .sshd import SshdServer, start_sshd

BIG = "big.dat"
BIG_SIZE = 40 * 1024 * 1024
BWLIMIT = "6M"  # the upload of BIG takes more than 6 s: plenty of time to kill the server
KILL_AT = 6 * 1024 * 1024  # bytes of BIG's partial file on the server before the kill
WAIT_LIMIT = 60.0  # a safety net for a broken run, never a timing assertion
LOG_LINE = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (ERROR|NOTICE|INFO|WARNING) ?: ")
PARTIAL = re.compile(r"^(?P<name>.+)\.[0-9a-f]{8}\.partial$")
#: Both tools' options when their exit codes are compared (see the module docstring).
FAST_FAIL = ["--retries", "1", "--low-level-retries", "1"]


# ----- processes -------------------------------------------------------------------------------


def _children() -> dict[int, list[int]]:
    """Parent PID -> child PIDs of every process now running."""
    out: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        out.setdefault(ppid, []).append(int(entry))
    return out


def descendants(pid: int) -> list[int]:
    """Every process forked (directly or not) by ``pid``, which is not included."""
    kids = _children()
    out: list[int] = []
    todo = list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def kill_tree(proc: subprocess.Popen[bytes]) -> list[int]:
    """SIGKILL a server started by this test and every process it forked; returns their PIDs.

    The server is stopped (SIGSTOP) first so that it forks nothing while its tree is read.
    """
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGSTOP)
    tree = descendants(proc.pid)
    for pid in [proc.pid, *tree]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    return tree


def wait_gone(pids: list[int]) -> None:
    """Wait until the killed processes are gone (init reaps the orphans)."""
    deadline = time.monotonic() + WAIT_LIMIT
    for pid in pids:
        while os.path.exists(f"/proc/{pid}") and _state(pid) not in ("Z", "X", ""):
            assert time.monotonic() < deadline, f"process {pid} survived SIGKILL"
            time.sleep(0.02)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


# ----- the servers -----------------------------------------------------------------------------


class SftpTarget:
    """A private sshd for one test; ``dst:`` is a folder under ``tmp_path`` through it."""

    kind = "sftp"

    def __init__(self, tmp_path: Path) -> None:
        self.server: SshdServer = start_sshd(tmp_path / "sshd")
        self.disk = tmp_path / "sftp-root"
        self.disk.mkdir()
        self.conf = tmp_path / "rclone.conf"
        self.conf.write_text(self.server.section("dst"))
        self.conf.chmod(0o600)

    def remote(self, name: str) -> str:
        """``dst:`` spelling of test folder ``name``."""
        return f"dst:{self.disk / name}"

    def on_disk(self, name: str) -> Path:
        """Where test folder ``name`` is on this machine."""
        return self.disk / name

    def kill(self) -> None:
        """SIGKILL the listener and every session process it forked."""
        wait_gone(kill_tree(self.server.proc))

    def restart(self) -> None:
        """A new sshd with the same keys and config on the same port."""
        self.server = start_sshd(self.server.workdir, port=self.server.port)

    def stop(self) -> None:
        """Stop the sshd (and what it forked) by PID."""
        tree = descendants(self.server.pid) if self.server.running() else []
        self.server.stop()
        for pid in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class SmbTarget:
    """A private smbd for one test; ``dst:`` is a folder of its share."""

    kind = "smb"

    def __init__(self, tmp_path: Path) -> None:
        self.server = SmbdServer(tmp_path / "smbd").start()
        self.conf = tmp_path / "rclone.conf"
        res = subprocess.run(["rclone", "obscure", "-"], input=self.server.password,
                             capture_output=True, text=True, timeout=30, check=True)
        self.conf.write_text(self.server.rclone_section("dst", res.stdout.strip()))
        self.conf.chmod(0o600)

    def remote(self, name: str) -> str:
        """``dst:`` spelling of test folder ``name``."""
        return f"dst:{self.server.share}/{name}"

    def on_disk(self, name: str) -> Path:
        """Where test folder ``name`` is on this machine."""
        return self.server.share_path / name

    def kill(self) -> None:
        """SIGKILL smbd and every process it forked (one per connection, helpers)."""
        assert self.server.proc is not None
        wait_gone(kill_tree(self.server.proc))
        self.server.stop(keep_base=True)  # forgets the dead process (and its empty group)

    def restart(self) -> None:
        """smbd again, same config and port."""
        self.server.start()

    def stop(self) -> None:
        """Stop smbd's process group by its PID."""
        self.server.stop(keep_base=True)


Target = SftpTarget | SmbTarget


@pytest.fixture(params=["sftp", "smb"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    """A dedicated server for the test, stopped by PID afterwards whatever happened."""
    t: Target = SftpTarget(tmp_path) if request.param == "sftp" else SmbTarget(tmp_path)
    try:
        yield t
    finally:
        t.stop()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A private HOME for both tools."""
    h = tmp_path / "home"
    h.mkdir()
    return h


# ----- helpers ---------------------------------------------------------------------------------


def tool_env(home: Path) -> dict[str, str]:
    """No user config, no ssh-agent, no RCLONE_/PYSYNC_ variables; a private HOME."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RCLONE_", "PYSYNC_")) and k != "SSH_AUTH_SOCK"}
    env.update(HOME=str(home), TZ="UTC", LC_ALL="C")
    return env


def tool_cmd(tool: str) -> list[str]:
    """How to start the real rclone or pysync."""
    return ["rclone"] if tool == "rclone" else [sys.executable, "-m", "syncengine"]


def make_source(root: Path) -> dict[str, bytes]:
    """A big file and a few small ones; returns the tree."""
    rng = random.Random(11)
    files = {BIG: rng.randbytes(BIG_SIZE)}
    # all in the root: no directory time is set after the failure, so that the error the
    # exit code comes from is the upload's (for both tools)
    files.update({f"small{i}.txt": rng.randbytes(100 + 37 * i) for i in range(6)})
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, ns=(1_600_000_000 * 10**9,) * 2)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its content."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def assert_nothing_torn(dst: Path, files: dict[str, bytes]) -> list[str]:
    """Each file at the destination is a source file with its full content, or a partial
    file of one (``<name>.<8 hex>.partial``); returns the partial files."""
    partials = []
    for rel, data in read_tree(dst).items():
        m = PARTIAL.match(rel)
        if m:
            assert m.group("name") in files, rel
            partials.append(rel)
        else:
            assert rel in files, f"unexpected file {rel} at the destination"
            assert data == files[rel], f"{rel} is torn: {len(data)} of {len(files[rel])} bytes"
    return partials


def ready_to_kill(dst: Path, files: dict[str, bytes]) -> bool:
    """BIG's partial file holds KILL_AT bytes or more (the small files may or may not be
    done by then: the workers send them in any order; none may be torn either way)."""
    sizes = {}
    with contextlib.suppress(OSError), os.scandir(dst) as entries:
        for entry in entries:
            sizes[entry.name] = entry.stat().st_size
    big = [size for name, size in sizes.items()
           if PARTIAL.match(name) and name.startswith(BIG + ".")]
    return bool(big) and big[0] >= KILL_AT


def interrupted_copy(target: Target, tool: str, args: list[str], dst: Path,
                     files: dict[str, bytes], home: Path, log: Path) -> tuple[int, str]:
    """``tool copy args`` with the server killed once BIG is partly written to ``dst`` (the
    destination folder on this machine); returns (exit code, stderr)."""
    with open(log, "wb") as err:
        proc = subprocess.Popen([*tool_cmd(tool), "copy", *args, "--bwlimit", BWLIMIT],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, env=tool_env(home))
    try:
        deadline = time.monotonic() + WAIT_LIMIT
        while not ready_to_kill(dst, files):
            assert proc.poll() is None, f"{tool} ended early:\n{log.read_text()}"
            assert time.monotonic() < deadline, f"{tool} did not start the transfer"
            time.sleep(0.01)
        assert proc.poll() is None
        target.kill()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
    return code, log.read_text(errors="replace")


def kill_and_recover(target: Target, tool: str, tmp_path: Path, home: Path,
                     extra: list[str], *, upload: bool = True) -> tuple[int, str]:
    """The whole story for ``tool``: interrupted copy (local to remote when ``upload``, else
    remote to local), checks, restart, rerun, checks."""
    if upload:
        src = tmp_path / "src"
        files = read_tree(src) if src.exists() else make_source(src)
        src_arg, dst_arg = str(src), target.remote(f"dst-{tool}")
        dst = target.on_disk(f"dst-{tool}")
    else:
        origin = target.on_disk("origin")  # written here, served by the server
        files = read_tree(origin) if origin.exists() else make_source(origin)
        dst = tmp_path / f"back-{tool}"
        src_arg, dst_arg = target.remote("origin"), str(dst)
    args = [src_arg, dst_arg, "--config", str(target.conf), *extra]
    code, stderr = interrupted_copy(target, tool, args, dst, files, home,
                                    tmp_path / f"{tool}.log")
    assert code != 0, f"{tool} succeeded although its server was killed:\n{stderr}"
    # the torn copy is only under a partial name; the small files made it whole
    partials = assert_nothing_torn(dst, files)
    assert not (dst / BIG).exists()
    if upload:  # the dead server keeps it
        assert [p for p in partials if p.startswith(BIG)], f"{tool}: no partial file of {BIG}"
    else:  # removed from the local disk as the copy failed (rclone's removeFailedPartialCopy)
        assert partials == [], partials
    target.restart()
    res = subprocess.run([*tool_cmd(tool), "copy", src_arg, dst_arg, "--config",
                          str(target.conf)], capture_output=True, text=True, timeout=120,
                         env=tool_env(home), stdin=subprocess.DEVNULL)
    assert res.returncode == 0, f"{tool} rerun: {res.stderr}"
    # the rerun wrote the same partial name again and renamed it: nothing is left over
    assert read_tree(dst) == files
    return code, stderr


def assert_clean_failure(code: int, stderr: str) -> None:
    """pysync's default three attempts failed: exit 5, plain log lines, one final notice."""
    # the third attempt's refused connection is the last error: rclone's ShouldRetry accepts
    # ECONNREFUSED (fs/fserrors/retriable_errors.go), so its exit code would be 5 too
    assert code == 5, stderr
    assert "Attempt 2/3 failed" in stderr, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert lines and all(LOG_LINE.match(line) for line in lines), stderr
    final = [line for line in lines if " NOTICE: Failed to copy" in line]
    assert len(final) == 1, stderr
    assert re.search(r"connect|connection|lost|refused", final[0], re.I), final[0]
    assert lines[-1] == final[0]


# ----- the tests -------------------------------------------------------------------------------


def test_server_killed_mid_upload(target: Target, tmp_path: Path, home: Path) -> None:
    """pysync with its default retries: a clean failure, nothing torn, the rerun completes."""
    code, stderr = kill_and_recover(target, "pysync", tmp_path, home, [])
    assert_clean_failure(code, stderr)
    res = subprocess.run([*tool_cmd("pysync"), "check", str(tmp_path / "src"),
                          target.remote("dst-pysync"), "--config", str(target.conf)],
                         capture_output=True, text=True, timeout=120, env=tool_env(home))
    assert res.returncode == 0 and "0 differences found" in res.stderr, res.stderr


def test_server_killed_mid_download(target: Target, tmp_path: Path, home: Path) -> None:
    """The other way round: the local destination keeps no part of BIG at all."""
    code, stderr = kill_and_recover(target, "pysync", tmp_path, home, [], upload=False)
    assert_clean_failure(code, stderr)


def test_exit_code_matches_rclone(target: Target, tmp_path: Path, home: Path) -> None:
    """rclone and pysync through the same kill: both recover, with the same exit code."""
    codes = {}
    for tool in ("rclone", "pysync"):
        codes[tool], stderr = kill_and_recover(target, tool, tmp_path, home, FAST_FAIL)
        assert "Traceback" not in stderr
        assert all(LOG_LINE.match(line) for line in stderr.splitlines() if line.strip()), \
            stderr
    assert codes["pysync"] == codes["rclone"], codes
    assert codes["rclone"] == {"sftp": 1, "smb": 5}[target.kind]  # see the module docstring
