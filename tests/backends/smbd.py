"""A real Samba ``smbd`` on 127.0.0.1 for the SMB backend tests (and ``tools/smbd_server.py``).

``SmbdServer`` writes a private ``smb.conf`` (every Samba directory and the ``tdbsam`` passdb
under one temporary folder), adds a Samba password for an existing unix account (the current
user: root in CI; no system user is ever created), starts ``smbd`` in the foreground in its
own process group on a free loopback port, waits until the port accepts connections and stops
the whole group by PID at the end.

A missing ``smbd``/``smbpasswd`` is an installation bug (``tools/install-system-deps.sh``):
the fixture fails loudly, it never skips.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .proctree import child_pids, die_with_parent

__all__ = ["SmbdServer", "SmbdError", "running_smbd", "smbd_server", "find_binary"]

HOST = "127.0.0.1"
SHARE = "pysync"
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class SmbdError(RuntimeError):
    """smbd could not be installed, configured or started."""


def find_binary(name: str) -> str:
    """The absolute path of a Samba program; SmbdError when it is not installed."""
    found = shutil.which(name)
    if found:
        return found
    for d in _SBIN:
        cand = os.path.join(d, name)
        if os.access(cand, os.X_OK):
            return cand
    raise SmbdError(f"{name} not found: install Samba with tools/install-system-deps.sh "
                    "(the SMB tests need a real smbd and never skip)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _conf_text(base: Path, port: int, user: str, share: str, signing: str = "default") -> str:
    d = {k: base / k for k in ("private", "lock", "state", "cache", "pid", "ncalrpc", "binddns",
                               "log")}
    return f"""\
[global]
    server role = standalone server
    workgroup = WORKGROUP
    netbios name = PYSYNCTEST
    smb ports = {port}
    bind interfaces only = yes
    interfaces = {HOST}
    disable netbios = yes
    server min protocol = SMB2
    server signing = {signing}
    private dir = {d['private']}
    lock directory = {d['lock']}
    state directory = {d['state']}
    cache directory = {d['cache']}
    pid directory = {d['pid']}
    ncalrpc dir = {d['ncalrpc']}
    binddns dir = {d['binddns']}
    log file = {d['log']}/log.%m
    max log size = 0
    log level = 1
    passdb backend = tdbsam:{d['private']}/passdb.tdb
    map to guest = never
    restrict anonymous = 2
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    show add printer wizard = no
    usershare path =
    usershare max shares = 0
    host msdfs = no
    kernel change notify = no

[{share}]
    path = {base / 'share'}
    read only = no
    browseable = yes
    valid users = {user}
    create mask = 0644
    directory mask = 0755
"""


class SmbdServer:
    """One private ``smbd`` serving share ``share`` from ``<base>/share`` on 127.0.0.1.

    ``base`` is created when missing (a fresh temporary folder when None; removed again by
    :meth:`stop` in that case). ``signing`` is smb.conf's ``server signing`` (``default``:
    offered, not required; ``mandatory``: every message of a session must be signed). Use
    as a context manager or call :meth:`start`/:meth:`stop`.
    """

    def __init__(self, base: str | os.PathLike[str] | None = None, *, share: str = SHARE,
                 user: str | None = None, password: str | None = None,
                 port: int | None = None, signing: str = "default") -> None:
        self._own_base = base is None
        self.base = Path(base if base is not None else tempfile.mkdtemp(prefix="pysync-smbd-"))
        self.host = HOST
        self.share = share
        self.user = user or pwd.getpwuid(os.getuid()).pw_name
        self.password = password or "Pw-" + secrets.token_urlsafe(12)
        self.port = port or 0
        self.signing = signing
        self.conf = self.base / "smb.conf"
        self.proc: subprocess.Popen[bytes] | None = None

    # ----- paths ----------------------------------------------------------------------

    @property
    def share_path(self) -> Path:
        """The folder on this machine that the share serves."""
        return self.base / "share"

    @property
    def log_path(self) -> Path:
        """smbd's stdout/stderr (its debug output) for post-mortems."""
        return self.base / "smbd.out"

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines smbd printed (never contains the password)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    # ----- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> SmbdServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 20.0) -> SmbdServer:
        """Configure, add the Samba user, start smbd and wait for its port (SmbdError)."""
        smbd = find_binary("smbd")
        smbpasswd = find_binary("smbpasswd")
        if os.geteuid() != 0:
            raise SmbdError("smbd must run as root to serve files (CI runs the tests as root)")
        for sub in ("private", "lock", "state", "cache", "pid", "ncalrpc", "binddns", "log",
                    "share"):
            (self.base / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(self.base / "private", 0o700)
        explicit_port = bool(self.port)
        last = ""
        for _attempt in range(3):
            if not explicit_port:
                self.port = _free_port()
            self.conf.write_text(_conf_text(self.base, self.port, self.user, self.share,
                                            self.signing))
            self._add_user(smbpasswd)
            try:
                self._launch(smbd, timeout)
                return self
            except SmbdError as err:
                last = str(err)
                self.stop(keep_base=True)
                if explicit_port:
                    break
        raise SmbdError(last)

    def _add_user(self, smbpasswd: str) -> None:
        res = subprocess.run(
            [smbpasswd, "-c", str(self.conf), "-a", "-s", self.user],
            input=f"{self.password}\n{self.password}\n".encode(), capture_output=True,
            timeout=30, check=False)
        if res.returncode != 0:
            out = (res.stdout + res.stderr).decode(errors="replace").replace(self.password,
                                                                              "***")
            raise SmbdError(f"smbpasswd -a {self.user} failed ({res.returncode}): {out}")

    def _launch(self, smbd: str, timeout: float) -> None:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [smbd, "--foreground", "--no-process-group", "--debug-stdout",
                 "-s", str(self.conf)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent)  # our own process group: stopped as a whole
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SmbdError(f"smbd exited with {self.proc.returncode} on port {self.port}:"
                                f"\n{self.log_tail()}")
            with contextlib.suppress(OSError), \
                    socket.create_connection((self.host, self.port), timeout=0.5):
                return
            time.sleep(0.05)
        raise SmbdError(f"smbd did not listen on {self.host}:{self.port} within {timeout}s:"
                        f"\n{self.log_tail()}")

    def stop(self, *, keep_base: bool = False) -> None:
        """Stop smbd's process group (TERM, wait, KILL) and remove a temporary base."""
        proc, self.proc = self.proc, None
        if proc is not None:
            pgid = proc.pid  # start_new_session: the group id is smbd's PID
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
            # forked children of smbd (one per client connection) share the group; they
            # notice their parent's exit within a second or two: do not wait for that long
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pgid, signal.SIGKILL)
        if self._own_base and not keep_base:
            shutil.rmtree(self.base, ignore_errors=True)

    def client_pids(self) -> list[int]:
        """PIDs of the smbd children serving client connections (one per connection)."""
        if self.proc is None:
            return []
        return child_pids(self.proc.pid,
                          lambda comm: comm.startswith("smbd") and comm != "smbd-notifyd")

    def kill_client_connections(self) -> int:
        """SIGKILL every connection-serving child (clients see their connection drop)."""
        pids = self.client_pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return len(pids)

    # ----- client configuration -------------------------------------------------------

    def options(self, obscured_pass: str) -> dict[str, str]:
        """rclone config options for this server (``pass`` already obscured)."""
        return {"type": "smb", "host": self.host, "port": str(self.port), "user": self.user,
                "pass": obscured_pass}

    def rclone_section(self, name: str, obscured_pass: str) -> str:
        """A ready-to-paste ``[name]`` rclone.conf section for this server."""
        body = "".join(f"{k} = {v}\n" for k, v in self.options(obscured_pass).items())
        return f"[{name}]\n{body}"


def running_smbd(base: Path, **options: str) -> Iterator[SmbdServer]:
    """Start a private smbd in ``base``, yield it, stop it by PID; a failed start fails the
    test (a missing server binary is an install bug, not a skip)."""
    server = SmbdServer(base, **options)
    try:
        server.start()
    except SmbdError as err:
        server.stop()
        pytest.fail(str(err), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def smbd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SmbdServer]:
    """A running private smbd for the whole test module (stopped by PID afterwards)."""
    yield from running_smbd(tmp_path_factory.mktemp("smbd"))
