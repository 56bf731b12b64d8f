"""The sftp ``ssh`` option (rclone's external ssh): SFTP over an OpenSSH client process,
against the real sshd; host keys always checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from syncengine.backends.sftp import HostKeyError, SftpBackend, SftpOptions
from syncengine.errors import ConfigError

from . import sshd as _sshd
from .proctree import child_pids
from .sshd import SshdServer, private_home

sshd_server = _sshd.sshd_server  # the session-scoped sshd fixture
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty HOME (no ~/.ssh of the caller), no agent, no RCLONE_/PYSYNC_ variables."""
    private_home(tmp_path, monkeypatch, ("RCLONE_", "PYSYNC_"))


def _ssh(server: SshdServer, *extra: str) -> str:
    """The ``ssh`` option for ``server``: key authentication, no ssh config."""
    words = ["ssh", "-F", "none", "-p", str(server.port), "-i", str(server.client_key),
             "-o", "IdentitiesOnly=yes", *extra, f"{server.user}@{server.host}"]
    return " ".join(words)


def _options(server: SshdServer, known_hosts: Path | str, *extra: str) -> dict[str, str]:
    return {"type": "sftp", "ssh": _ssh(server, *extra), "known_hosts_file": str(known_hosts)}


def _ssh_children() -> list[int]:
    """PIDs of this process's ssh children."""
    return child_pids(os.getpid(), lambda comm: comm == "ssh")


def test_copy_through_the_ssh_program(sshd_server: SshdServer, tmp_path: Path) -> None:
    """Write, list, read back, hash (a remote command through its own ssh run) and rename
    through ``ssh ... -s sftp``; closing the backend ends the ssh processes."""
    root = tmp_path / "area"
    root.mkdir()
    b = SftpBackend(_options(sshd_server, sshd_server.known_hosts), str(root))
    try:
        assert _ssh_children()  # the SFTP session is an ssh process of ours
        data = os.urandom(3 * 1024 * 1024 + 11)
        with b.open_write("d/f.bin.partial") as fh:
            fh.write(data)
        b.rename("d/f.bin.partial", "d/f.bin")
        assert [(e.name, e.size) for e in b.list_dir("d")] == [("f.bin", len(data))]
        with b.open_read("d/f.bin") as fh:
            assert fh.read() == data
        import hashlib

        assert b.hash("d/f.bin", "md5") == hashlib.md5(data).hexdigest()
        assert (root / "d" / "f.bin").read_bytes() == data
    finally:
        b.close()
    assert _ssh_children() == []


def test_cli_copy_through_the_ssh_program(sshd_server: SshdServer, tmp_path: Path) -> None:
    """``pysync copy`` with a config whose remote has only the ``ssh`` option (no host)."""
    conf = tmp_path / "rclone.conf"
    conf.write_text("[ext]\ntype = sftp\n"
                    f"ssh = {_ssh(sshd_server)}\nknown_hosts_file = {sshd_server.known_hosts}\n")
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.bin").write_bytes(os.urandom(2 * 1024 * 1024 + 1))
    (src / "sub" / "b.txt").write_bytes(b"bee")
    dst = tmp_path / "dst"
    res = subprocess.run([sys.executable, "-m", "syncengine", "copy", "--config", str(conf),
                          str(src), f"ext:{dst}"], capture_output=True, text=True, timeout=120,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 0, res.stderr
    assert (dst / "a.bin").read_bytes() == (src / "a.bin").read_bytes()
    assert (dst / "sub" / "b.txt").read_bytes() == b"bee"


@pytest.mark.parametrize("extra", [(), ("-o", "StrictHostKeyChecking=no")])
def test_unknown_host_key_is_refused(sshd_server: SshdServer, tmp_path: Path,
                                     extra: tuple[str, ...]) -> None:
    """A known_hosts without the server's key: HostKeyError (exit 7) with ssh's reason,
    even when the ssh option itself says StrictHostKeyChecking=no; the file stays empty."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostKeyError) as info:
        SftpBackend(_options(sshd_server, empty, *extra), "/")
    assert "Host key verification failed" in str(info.value)
    assert info.value.exit_code == 7
    assert empty.read_text() == ""
    assert _ssh_children() == []


def test_cli_unknown_host_key_is_one_clear_line(sshd_server: SshdServer, tmp_path: Path
                                                ) -> None:
    """Through the CLI: exit code 7 and ssh's reason, no traceback."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    conf = tmp_path / "rclone.conf"
    conf.write_text(f"[ext]\ntype = sftp\nssh = {_ssh(sshd_server)}\nknown_hosts_file = {empty}\n")
    res = subprocess.run([sys.executable, "-m", "syncengine", "lsf", "--config", str(conf),
                          f"ext:{tmp_path}"], capture_output=True, text=True, timeout=60,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 7, res.stderr
    assert "Host key verification failed" in res.stderr
    assert "Traceback" not in res.stderr


def test_ssh_option_from_the_environment_and_quoting() -> None:
    """RCLONE_SFTP_SSH sets it for every sftp remote; words are split as rclone's
    SpaceSepList does ("double quotes" keep spaces)."""
    o = SftpOptions.from_mapping({"type": "sftp"}, environ={
        "RCLONE_SFTP_SSH": 'ssh -o "ProxyCommand=nc %h %p" user@example.com'})
    assert o.ssh == ("ssh", "-o", "ProxyCommand=nc %h %p", "user@example.com")


def test_ssh_option_refuses_known_hosts_none() -> None:
    """Host key checking cannot be switched off through the ssh transport."""
    with pytest.raises(ConfigError, match="known_hosts_file = none"):
        SftpOptions.from_mapping({"type": "sftp", "ssh": "ssh host", "known_hosts_file": "none"})


def test_missing_ssh_program_is_a_config_error(tmp_path: Path) -> None:
    """An ssh program that does not exist: ConfigError naming it."""
    with pytest.raises(ConfigError, match="no-such-ssh"):
        SftpBackend({"type": "sftp", "ssh": str(tmp_path / "no-such-ssh") + " host"}, "/")
