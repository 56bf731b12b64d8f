"""Loopback SFTP and SMB servers for the remote rows, and the rclone.conf both tools use.

One private OpenSSH ``sshd`` and one private Samba ``smbd`` per benchmark run (each only when a
selected row needs it), both on 127.0.0.1, started with the test suite's machinery
(``tests/backends/sshd.py``, ``tests/backends/smbd.py``) under one folder of the work dir and
stopped by PID at the end (also on Ctrl-C or an error).  That folder also holds:

``rclone.conf``
    section ``benchsftp`` (key authentication, host key checked against a private
    ``known_hosts``) and section ``benchsmb`` (the share's user and rclone-obscured password);
    both tools get it with ``--config``.  The sftp section also holds what rclone saves there
    itself on its first connection (``shell_type = unix``, ``md5sum_command = md5sum``,
    ``sha1sum_command = sha1sum``), so that every run of either tool starts from the same file;
``home/``
    an empty ``HOME`` for both tools (no ``~/.ssh`` of the caller, no ssh-agent), so neither
    prompts nor picks up other keys.

The sshd serves this machine's file system (``benchsftp:/abs/path``); the smbd serves the
folder ``smbd/share`` as share ``pysync`` (``benchsmb:pysync/rel/path``).  When that folder's
path is too long for smbd's unix sockets, smbd lives in a short temporary folder instead
(``/tmp/bench-smbd-*``), removed by :meth:`Servers.stop` as well.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["REMOTE_KINDS", "SFTP_REMOTE", "SFTP_SSH_REMOTE", "SMB_REMOTE", "ServerError",
           "Servers",
           "start_servers"]

REPO_ROOT = Path(__file__).resolve().parents[1]
REMOTE_KINDS = ("sftp", "smb")
SFTP_REMOTE = "benchsftp"
#: The same sshd through the OpenSSH client (the sftp backend's ``ssh`` option, both tools).
SFTP_SSH_REMOTE = "benchsftpssh"
#: The cipher of the external ssh client (the one both tools' own SSH code prefers).
SSH_CIPHER = "aes128-gcm@openssh.com"
SMB_REMOTE = "benchsmb"
#: What rclone writes into an sftp section on its first connection to a POSIX server.
SFTP_DETECTED = {"shell_type": "unix", "md5sum_command": "md5sum", "sha1sum_command": "sha1sum"}
#: smbd puts unix sockets (``<lock dir>/msg.sock/<pid>``...) under its folder: a socket path
#: must fit in 108 bytes, so a longer folder is replaced by a short temporary one.
SMBD_MAX_BASE = 72


class ServerError(RuntimeError):
    """A loopback server could not be started."""


def _server_modules() -> tuple[Any, Any]:
    """``backends.sshd`` and ``backends.smbd`` from ``tests/`` (imported as the tools do)."""
    tests = str(REPO_ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from backends import smbd, sshd  # type: ignore[import-not-found]

    return sshd, smbd


@dataclass
class Servers:
    """The running servers of one benchmark run and the files both tools need."""

    base: Path  # everything below is in here; removed by stop()
    conf: Path  # the rclone.conf both tools get with --config
    home: Path  # the HOME both tools run with on the remote rows
    sshd: Any = None  # backends.sshd.SshdServer when started
    smbd: Any = None  # backends.smbd.SmbdServer when started
    pids: dict[str, int] = field(default_factory=dict)
    extra_dirs: list[Path] = field(default_factory=list)  # also removed by stop()

    def env(self, base_env: dict[str, str]) -> dict[str, str]:
        """``base_env`` with the private HOME and without an ssh-agent or ssh/rclone vars."""
        env = {k: v for k, v in base_env.items()
               if k != "SSH_AUTH_SOCK" and not k.startswith(("RCLONE_", "PYSYNC_"))}
        env["HOME"] = str(self.home)
        env["RCLONE_CONFIG"] = str(self.conf)  # --config is passed as well
        return env

    def config_args(self) -> list[str]:
        """``--config FILE`` for either tool."""
        return ["--config", str(self.conf)]

    def remote_path(self, kind: str, disk: Path, *, external_ssh: bool = False) -> str:
        """How both tools spell the local path ``disk`` through server ``kind``.

        For smb, ``disk`` must be inside the share folder.
        """
        if kind == "sftp":
            if self.sshd is None:
                raise ServerError("sshd is not running")
            return f"{SFTP_SSH_REMOTE if external_ssh else SFTP_REMOTE}:{disk}"
        if kind == "smb":
            if self.smbd is None:
                raise ServerError("smbd is not running")
            rel = Path(disk).relative_to(self.smbd.share_path).as_posix()
            return f"{SMB_REMOTE}:{self.smbd.share}" + ("" if rel == "." else f"/{rel}")
        raise ValueError(f"unknown remote kind {kind!r}")

    def area(self, kind: str) -> Path:
        """A folder on this machine that server ``kind`` reaches (for destinations/sources)."""
        if kind == "smb":
            if self.smbd is None:
                raise ServerError("smbd is not running")
            return Path(self.smbd.share_path)
        return self.base / "sftp-area"

    def running(self) -> dict[str, bool]:
        """Which servers are still up."""
        out = {}
        if self.sshd is not None:
            out["sftp"] = self.sshd.running()
        if self.smbd is not None:
            out["smb"] = self.smbd.proc is not None and self.smbd.proc.poll() is None
        return out

    def stop(self) -> None:
        """Stop the servers by PID (TERM, wait, KILL) and remove the folder."""
        errors = []
        for server in (self.sshd, self.smbd):
            if server is None:
                continue
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - stop the other one regardless
                errors.append(exc)
        self.sshd = self.smbd = None
        for d in (self.base, *self.extra_dirs):
            shutil.rmtree(d, ignore_errors=True)
        if errors:
            raise errors[0]


def _sftp_section(sshd: Any) -> str:
    return sshd.section(SFTP_REMOTE, **SFTP_DETECTED)


def _sftp_ssh_section(sshd: Any) -> str:
    """The sshd through the OpenSSH client: key, known_hosts and cipher on its command line
    (``-F none``: no ssh config), ``known_hosts_file`` for pysync's forced host key check."""
    ssh = (f"ssh -F none -p {sshd.port} -i {sshd.client_key} -o IdentitiesOnly=yes "
           f"-o UserKnownHostsFile={sshd.known_hosts} -o StrictHostKeyChecking=yes "
           f"-c {SSH_CIPHER} {sshd.user}@{sshd.host}")
    return sshd.section(SFTP_SSH_REMOTE, ssh=ssh, **SFTP_DETECTED)


def start_servers(workdir: Path, kinds: set[str] | frozenset[str],
                  log: Callable[[str], None] = lambda s: None) -> Servers:
    """Start the servers of ``kinds`` (``sftp``, ``smb``) in a new folder under ``workdir``
    and write the rclone.conf; raise :class:`ServerError` (nothing left running) when one
    cannot start."""
    unknown = set(kinds) - set(REMOTE_KINDS)
    if unknown:
        raise ValueError(f"unknown remote kinds {sorted(unknown)}")
    workdir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="servers-", dir=workdir))
    servers = Servers(base=base, conf=base / "rclone.conf", home=base / "home")
    servers.home.mkdir()
    sections: list[str] = []
    try:
        sshd_mod, smbd_mod = _server_modules()
        if "sftp" in kinds:
            try:
                servers.sshd = sshd_mod.start_sshd(base / "sshd")
            except sshd_mod.SshdError as exc:
                raise ServerError(f"sshd: {exc}") from exc
            servers.pids["sshd"] = servers.sshd.pid
            servers.area("sftp").mkdir()
            sections.append(_sftp_section(servers.sshd))
            sections.append(_sftp_ssh_section(servers.sshd))
            log(f"sshd (pid {servers.sshd.pid}) on {servers.sshd.host}:{servers.sshd.port}")
        if "smb" in kinds:
            from syncengine.backends.sftp import obscure  # rclone's obscure, rclone-readable

            smbd_base = base / "smbd"
            if len(str(smbd_base)) > SMBD_MAX_BASE:
                smbd_base = Path(tempfile.mkdtemp(prefix="bench-smbd-"))
                servers.extra_dirs.append(smbd_base)
            smbd = smbd_mod.SmbdServer(smbd_base)
            servers.smbd = smbd
            try:
                smbd.start()
            except smbd_mod.SmbdError as exc:
                raise ServerError(f"smbd: {exc}") from exc
            assert smbd.proc is not None
            servers.pids["smbd"] = smbd.proc.pid
            sections.append(smbd.rclone_section(SMB_REMOTE, obscure(smbd.password)))
            log(f"smbd (pid {smbd.proc.pid}) on {smbd.host}:{smbd.port}, share "
                f"{smbd.share} = {smbd.share_path}")
        servers.conf.write_text("\n".join(sections))
        servers.conf.chmod(0o600)
    except BaseException:
        with contextlib.suppress(Exception):
            servers.stop()
        raise
    return servers


def stage_tree(src: Path, dst: Path) -> None:
    """Put a copy of ``src`` at ``dst`` (hard links where possible: instant, same times)."""
    def link_or_copy(a: str, b: str) -> None:
        try:
            os.link(a, b)
        except OSError:
            shutil.copy2(a, b)

    if dst.exists():
        shutil.rmtree(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, dst, copy_function=link_or_copy, symlinks=True)
