"""A real OpenSSH ``sshd`` on 127.0.0.1 for the sftp backend tests (and ``tools/sshd_server.py``).

``SshdServer`` generates a host key and client keys with ``ssh-keygen`` in a private folder,
writes an ``sshd_config`` there (its own ``PidFile`` and ``AuthorizedKeysFile``,
``PermitRootLogin yes``, ``StrictModes no``, ``UsePAM no``, ``Subsystem sftp internal-sftp``,
``SetEnv SHLVL=1`` so that remote commands skip the user's ``~/.bashrc``),
starts ``sshd -D -e -f <config>`` as the current user (root in CI) on a free loopback port,
waits for its banner, writes a ``known_hosts`` file holding its host key, and stops it by PID
(terminate, wait, kill). No system file is changed, except that the privilege separation
folder ``/run/sshd`` is created when it is missing and sshd runs as root (what the service
unit does on boot). No password is ever set: password authentication is exercised only as
a failing attempt the server logs.

A missing ``sshd``/``ssh-keygen`` is an installation bug (``tools/install-system-deps.sh``):
the fixture fails loudly, it never skips.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .proctree import die_with_parent

__all__ = ["SshdServer", "SshdError", "SshAgent", "sshd_server", "ssh_agent", "find_binary",
           "start_sshd", "HOST", "KEY_PASSPHRASE"]

HOST = "127.0.0.1"
#: The passphrase of the encrypted client keys (a throwaway test secret).
KEY_PASSPHRASE = "s3cret-Passphrase-4-tests"
_SEARCH = ("/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin", "/usr/local/bin")


class SshdError(RuntimeError):
    """sshd could not be found, configured or started."""


def find_binary(name: str) -> str:
    """The absolute path of an OpenSSH program; SshdError when it is not installed."""
    for d in _SEARCH:
        cand = os.path.join(d, name)
        if os.access(cand, os.X_OK):
            return cand
    found = shutil.which(name)
    if found:
        return os.path.abspath(found)
    raise SshdError(f"{name} not found: install OpenSSH with tools/install-system-deps.sh "
                    "(the sftp tests need a real sshd and never skip)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _sshd_version(sshd: str) -> tuple[int, int]:
    res = subprocess.run([sshd, "-V"], capture_output=True, text=True, timeout=30)
    m = re.search(r"OpenSSH_(\d+)\.(\d+)", res.stdout + res.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _keygen(path: Path, kind: str, passphrase: str = "", pem: bool = False) -> None:
    # The passphrase is a throwaway test value; ssh-keygen only takes it as an argument.
    args = [find_binary("ssh-keygen"), "-q", "-t", kind, "-N", passphrase, "-C", "pysync-test",
            "-f", str(path)]
    if pem:
        args[2:2] = ["-m", "PEM"]
    if kind == "rsa":
        args[2:2] = ["-b", "2048"]
    subprocess.run(args, check=True, capture_output=True, timeout=120)


@dataclass
class SshdServer:
    """One running sshd and the files a client needs to reach it."""

    workdir: Path
    port: int
    user: str
    proc: subprocess.Popen[bytes]
    host_key_line: str  # "<type> <base64>" of the server's host key
    known_hosts: Path  # a known_hosts file with that key for [127.0.0.1]:port
    client_key: Path  # unencrypted ed25519 key (authorized)
    pem_key: Path  # PEM (old format) RSA key encrypted with KEY_PASSPHRASE (authorized)
    openssh_key: Path  # new-format ed25519 key encrypted with KEY_PASSPHRASE (authorized)
    log_path: Path
    host: str = HOST
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        """The PID of the sshd process."""
        return self.proc.pid

    @property
    def host_id(self) -> str:
        """How known_hosts names this server: ``[127.0.0.1]:port``."""
        return f"[{self.host}]:{self.port}"

    def options(self, **extra: str | None) -> dict[str, str]:
        """rclone options (a config section as a dict) for key authentication."""
        opts = {"type": "sftp", "host": self.host, "port": str(self.port), "user": self.user,
                "key_file": str(self.client_key), "known_hosts_file": str(self.known_hosts),
                "ssh_config_file": "none"}
        opts.update(extra)
        return {k: v for k, v in opts.items() if v is not None}

    def section(self, name: str = "sftptest", **extra: str | None) -> str:
        """An rclone.conf section for :meth:`options`."""
        lines = [f"[{name}]"] + [f"{k} = {v}" for k, v in self.options(**extra).items()]
        return "\n".join(lines) + "\n"

    def log_text(self) -> str:
        """What sshd logged so far (``-e``: to its stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def running(self) -> bool:
        """True while sshd has not exited."""
        return self.proc.poll() is None

    def stop(self) -> None:
        """Stop sshd by its PID: SIGTERM, wait, SIGKILL if it lingers."""
        if self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def _config_text(d: Path, port: int, version: tuple[int, int], max_sessions: int,
                 sftp_flags: str = "") -> str:
    lines = [
        f"Port {port}",
        f"ListenAddress {HOST}",
        f"HostKey {d / 'ssh_host_ed25519_key'}",
        f"PidFile {d / 'sshd.pid'}",
        f"AuthorizedKeysFile {d / 'authorized_keys'}",
        "PermitRootLogin yes",
        "StrictModes no",
        "UsePAM no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication yes",
        "PermitEmptyPasswords no",
        "KbdInteractiveAuthentication no",
        "HostbasedAuthentication no",
        "UseDNS no",
        "PrintMotd no",
        "PrintLastLog no",
        "X11Forwarding no",
        "AllowTcpForwarding no",
        "MaxStartups 200",
        f"MaxSessions {max_sessions}",
        "MaxAuthTries 20",
        "LogLevel VERBOSE",
        f"Subsystem sftp internal-sftp {sftp_flags}".rstrip(),
        # bash run by sshd sources ~/.bashrc when SHLVL < 2; the test user's may be slow
        # (pyenv...), and every hash command would pay for it
        "SetEnv SHLVL=1",
    ]
    if version >= (9, 8):
        lines.append("PerSourcePenalties no")  # failed logins must not lock 127.0.0.1 out
    return "\n".join(lines) + "\n"


def _wait_banner(proc: subprocess.Popen[bytes], port: int, log_path: Path,
                 timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SshdError(f"sshd exited with status {proc.returncode}:\n"
                            f"{log_path.read_text(errors='replace')}")
        try:
            with socket.create_connection((HOST, port), timeout=2) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise SshdError(f"sshd did not answer on {HOST}:{port} within {timeout:g}s:\n"
                    f"{log_path.read_text(errors='replace')}")


def start_sshd(workdir: Path | None = None, *, port: int = 0,
               max_sessions: int = 64, sftp_flags: str = "") -> SshdServer:
    """Generate keys and config under ``workdir`` (a new temporary folder by default) and
    start sshd on ``port`` (a free one by default), allowing ``max_sessions`` sessions per
    connection; ``sftp_flags`` are the SFTP server's (``internal-sftp``'s, e.g. ``-P
    fsetstat`` to refuse a request). Raises SshdError when it can't."""
    sshd = find_binary("sshd")
    find_binary("ssh-keygen")
    d = Path(workdir or tempfile.mkdtemp(prefix="pysync-sshd-"))
    d.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0 and not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    host_key = d / "ssh_host_ed25519_key"
    if not host_key.exists():
        _keygen(host_key, "ed25519")
    keys = {"client_ed25519": ("ed25519", "", False),
            "client_rsa_pem": ("rsa", KEY_PASSPHRASE, True),
            "client_ed25519_enc": ("ed25519", KEY_PASSPHRASE, False)}
    for name, (kind, pw, pem) in keys.items():
        if not (d / name).exists():
            _keygen(d / name, kind, pw, pem)
    (d / "authorized_keys").write_text("".join(
        (d / f"{name}.pub").read_text() for name in keys))
    host_line = " ".join(Path(str(host_key) + ".pub").read_text().split()[:2])
    version = _sshd_version(sshd)
    user = pwd.getpwuid(os.geteuid()).pw_name
    attempts = 1 if port else 5
    last: SshdError | None = None
    for _ in range(attempts):
        p = port or _free_port()
        (d / "sshd_config").write_text(_config_text(d, p, version, max_sessions, sftp_flags))
        log_path = d / "sshd.log"
        with open(log_path, "wb") as log_fh:
            proc = subprocess.Popen([sshd, "-D", "-e", "-f", str(d / "sshd_config")],
                                    stdin=subprocess.DEVNULL, stdout=log_fh,
                                    stderr=subprocess.STDOUT, start_new_session=True,
                                    preexec_fn=die_with_parent)
        try:
            _wait_banner(proc, p, log_path)
        except SshdError as err:
            last = err
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
            continue
        known_hosts = d / "known_hosts"
        known_hosts.write_text(f"[{HOST}]:{p} {host_line}\n")
        return SshdServer(workdir=d, port=p, user=user, proc=proc, host_key_line=host_line,
                          known_hosts=known_hosts, client_key=d / "client_ed25519",
                          pem_key=d / "client_rsa_pem", openssh_key=d / "client_ed25519_enc",
                          log_path=log_path)
    raise last or SshdError("sshd did not start")


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshdServer]:
    """A running sshd for the whole session (per xdist worker); fails if sshd is missing."""
    try:
        server = start_sshd(tmp_path_factory.mktemp("sshd"))
    except SshdError as err:
        pytest.fail(str(err), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class SshAgent:
    """A private ssh-agent: its socket and process."""

    sock: Path
    proc: subprocess.Popen[bytes]

    def add(self, key: Path) -> None:
        """Load an unencrypted private key into the agent."""
        env = {**os.environ, "SSH_AUTH_SOCK": str(self.sock)}
        subprocess.run([find_binary("ssh-add"), "-q", str(key)], env=env, check=True,
                       capture_output=True, timeout=30)

    def stop(self) -> None:
        """Stop the agent by its PID."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def ssh_agent(tmp_path: Path) -> Iterator[SshAgent]:
    """A fresh ssh-agent (foreground, ``-D``) listening on a socket under ``tmp_path``."""
    sock = Path(tempfile.mkdtemp(prefix="agent-", dir="/tmp")) / "agent.sock"  # short path
    proc = subprocess.Popen([find_binary("ssh-agent"), "-D", "-a", str(sock)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=die_with_parent)
    agent = SshAgent(sock, proc)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ssh-agent did not start", pytrace=False)
            time.sleep(0.02)
        yield agent
    finally:
        agent.stop()
        with contextlib.suppress(OSError):
            sock.unlink()
            sock.parent.rmdir()


def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 prefixes: tuple[str, ...] = ("RCLONE_SFTP_", "PYSYNC_SFTP_")) -> Path:
    """An empty HOME under ``tmp_path`` (no ~/.ssh of the caller), no ssh-agent, and no
    environment variable starting with one of ``prefixes``; returns the new HOME."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    for var in list(os.environ):
        if var.startswith(prefixes):
            monkeypatch.delenv(var)
    return home
