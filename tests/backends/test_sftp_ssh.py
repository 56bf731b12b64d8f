"""The sftp ``ssh`` option (rclone's external ssh): SFTP over an OpenSSH client process,
against the real sshd; host keys always checked."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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


def _auths(server: SshdServer) -> int:
    """How many logins the sshd has accepted so far."""
    return server.log_text().count("Accepted publickey for ")


def _wait_auths(server: SshdServer, want: int) -> int:
    """The login count once it reaches ``want`` (sshd logs a login a moment after it)."""
    deadline = time.monotonic() + 10
    while _auths(server) < want and time.monotonic() < deadline:
        time.sleep(0.05)
    return _auths(server)


def _file(b: SftpBackend, name: str, data: bytes) -> None:
    with b.open_write(name) as fh:
        fh.write(data)


def test_remote_commands_share_one_master_connection(sshd_server: SshdServer,
                                                     tmp_path: Path) -> None:
    """Remote commands (the shell probe, hash commands) run as sessions of one master
    connection of the backend's own: five hashes cost no login of their own (rclone's way,
    one ssh run per command, logs in for each). Their results are the files' hashes; the
    master (an ssh child of ours) ends with the backend, its control folder is removed."""
    import hashlib

    root = tmp_path / "area"
    root.mkdir()
    before = _auths(sshd_server)
    b = SftpBackend(_options(sshd_server, sshd_server.known_hosts), str(root))
    try:
        blobs = [os.urandom(1000 + i) for i in range(5)]
        for i, data in enumerate(blobs):
            _file(b, f"f{i}", data)
        for i, data in enumerate(blobs):
            assert b.hash(f"f{i}", "md5") == hashlib.md5(data).hexdigest()
        master = b._master
        assert master is not None and master.alive()
        assert master.proc.pid in _ssh_children()
        folder = Path(master.folder)
        assert folder.stat().st_mode & 0o777 == 0o700
        # the data connection and the master: two logins for five hashes and the probes
        assert _wait_auths(sshd_server, before + 2) == before + 2
    finally:
        b.close()
    assert _ssh_children() == []
    assert not folder.exists()


def test_own_multiplexing_settings_are_left_alone(sshd_server: SshdServer,
                                                  tmp_path: Path) -> None:
    """An ssh option that sets ControlPath itself: no master of pysync's; each remote
    command is its own ssh run (its own login), as in rclone."""
    import hashlib

    root = tmp_path / "area"
    root.mkdir()
    before = _auths(sshd_server)
    b = SftpBackend(_options(sshd_server, sshd_server.known_hosts, "-o", "ControlPath=none"),
                    str(root))
    try:
        _file(b, "f", b"abc")
        for _ in range(3):
            assert b.hash("f", "md5") == hashlib.md5(b"abc").hexdigest()
        assert b._master is None
        assert _wait_auths(sshd_server, before + 4) >= before + 4  # data + 3 hashes (+ probes)
    finally:
        b.close()
    assert _ssh_children() == []


def test_a_master_that_died_is_replaced(sshd_server: SshdServer, tmp_path: Path) -> None:
    """The master killed between two commands: the next command starts a new one (its
    answer is still right)."""
    import hashlib
    import signal

    root = tmp_path / "area"
    root.mkdir()
    b = SftpBackend(_options(sshd_server, sshd_server.known_hosts), str(root))
    try:
        _file(b, "f", b"xyz")
        assert b.hash("f", "md5") == hashlib.md5(b"xyz").hexdigest()
        first = b._master
        assert first is not None
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(timeout=10)
        assert b.hash("f", "sha1") == hashlib.sha1(b"xyz").hexdigest()
        second = b._master
        assert second is not None and second is not first and second.alive()
        assert not Path(first.folder).exists()
    finally:
        b.close()
    assert _ssh_children() == []


_CRASH = """
import os, sys
from syncengine.backends.sftp import SftpBackend
b = SftpBackend({"type": "sftp", "ssh": sys.argv[1], "known_hosts_file": sys.argv[2]},
                sys.argv[3])
b.hash("f", "md5")
print(b._master.proc.pid, b._master.folder, flush=True)
os._exit(3)  # no close(): a crash
"""


def test_master_ends_when_pysync_is_gone(sshd_server: SshdServer, tmp_path: Path) -> None:
    """A pysync process that dies without closing its backend leaves no master behind: its
    SFTP session sees the end of its input and ssh exits."""
    root = tmp_path / "area"
    root.mkdir()
    (root / "f").write_bytes(b"data")
    res = subprocess.run([sys.executable, "-c", _CRASH, _ssh(sshd_server),
                          str(sshd_server.known_hosts), str(root)], capture_output=True,
                         text=True, timeout=60, cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert res.returncode == 3, res.stderr
    pid_text, folder = res.stdout.split()
    pid = int(pid_text)
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as fh:  # a zombie waits for init: it has ended
            if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                break
        time.sleep(0.05)
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        state = "gone"
    if state not in ("gone", "Z"):
        os.kill(pid, 9)  # stop it anyway: the test fails, nothing is left running
    assert state in ("gone", "Z")
    import shutil

    shutil.rmtree(folder, ignore_errors=True)  # a crash leaves the empty folder (no socket)


def test_more_commands_at_once_than_the_server_allows_sessions(tmp_path: Path) -> None:
    """A server with MaxSessions 3: 12 hashes at once, all right; those beyond what the
    master may carry run on their own ssh (and the master keeps serving)."""
    import hashlib
    from concurrent.futures import ThreadPoolExecutor

    server = _sshd.start_sshd(tmp_path / "sshd", max_sessions=3)
    try:
        root = tmp_path / "area"
        root.mkdir()
        blobs = {f"f{i}": os.urandom(200_000 + i) for i in range(12)}
        for name, data in blobs.items():
            (root / name).write_bytes(data)
        b = SftpBackend(_options(server, server.known_hosts), str(root))
        try:
            assert b.hash("f0", "md5") == hashlib.md5(blobs["f0"]).hexdigest()
            with ThreadPoolExecutor(12) as pool:
                got = dict(zip(blobs, pool.map(lambda n: b.hash(n, "sha1"), blobs),
                               strict=True))
            assert got == {n: hashlib.sha1(d).hexdigest() for n, d in blobs.items()}
            assert b._master is not None and b._master.alive()
        finally:
            b.close()
    finally:
        server.stop()
    assert _ssh_children() == []


def test_shared_commands_log_rclones_debug_lines(sshd_server: SshdServer, tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A command through the master logs rclone's DEBUG lines, as one run alone does."""
    import logging

    root = tmp_path / "area"
    root.mkdir()
    (root / "f").write_bytes(b"abc")
    b = SftpBackend(_options(sshd_server, sshd_server.known_hosts), str(root))
    try:
        with caplog.at_level(logging.DEBUG, logger="syncengine"):
            b.hash("f", "md5")
        assert b._master is not None
    finally:
        b.close()
    text = caplog.text
    assert "Running remote command: md5sum" in text
    assert "Remote command result: 900150983cd24fb0d6963f7d28e17f72" in text
