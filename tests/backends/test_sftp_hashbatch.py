"""Small files' hashes from shared commands (``sha1sum a b c``), against the real sshd."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

import pytest

from syncengine.backends.sftp import SftpBackend

from . import sshd as _sshd
from .sshd import SshdServer, private_home

sshd_server = _sshd.sshd_server


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_home(tmp_path, monkeypatch)


def _files(root: Path) -> dict[str, bytes]:
    """Names a shell and the hash programs must take literally, and their data."""
    names = ["plain.txt", "two words.dat", "quote'in.txt", "new\nline.txt", "back\\slash",
             "$(echo no).txt", "ünï cödé", "*glob?", "-dash.txt"]
    out = {}
    for i, name in enumerate(names):
        data = os.urandom(1000 + i) if i % 2 else b""
        (root / name).write_bytes(data)
        out[name] = data
    return out


def _commands(b: SftpBackend) -> list[str]:
    """From now on, each remote command ``b`` runs."""
    seen: list[str] = []
    real = b._run

    def run(cmd: str, **kw: object) -> tuple[bytes, bytes, int]:
        seen.append(cmd)
        return real(cmd, **kw)  # type: ignore[arg-type]

    b._run = run  # type: ignore[method-assign]
    return seen


def _ask_together(b: SftpBackend, names: list[str], sizes: dict[str, int]
                  ) -> dict[str, str | None]:
    """``hash_sized`` of every name from its own thread, all started at once."""
    got: dict[str, str | None] = {}
    start = threading.Barrier(len(names))

    def ask(name: str) -> None:
        start.wait()
        got[name] = b.hash_sized(name, "sha1", sizes.get(name, 0))

    threads = [threading.Thread(target=ask, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return got


@pytest.mark.parametrize("command", ["sha1sum", "openssl dgst -sha1 -r"])
def test_shared_commands_answer_each_file(sshd_server: SshdServer, tmp_path: Path,
                                          command: str) -> None:
    """Many concurrent requests: fewer commands than files, every hash right (odd names
    included), a missing file and a directory answer None as ``hash`` does."""
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "a dir").mkdir()
    files = _files(remote)
    b = SftpBackend(sshd_server.options(shell_type="unix", sha1sum_command=command),
                    str(remote))
    try:
        assert b.hash("plain.txt", "sha1") == hashlib.sha1(files["plain.txt"]).hexdigest()
        seen = _commands(b)
        names = [*files, "gone.txt", "a dir"]
        sizes = {n: len(d) for n, d in files.items()}
        got = _ask_together(b, names * 3, sizes)  # each name asked three times at once
        for name, data in files.items():
            assert got[name] == hashlib.sha1(data).hexdigest(), name
        assert got["gone.txt"] is None and got["a dir"] is None
        assert len(seen) < len(names) * 3, seen
        assert any(cmd.count(" '") + cmd.count(" /") > 2 for cmd in seen), seen
    finally:
        b.close()


def test_large_files_keep_a_command_each(sshd_server: SshdServer, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A file above ``SMALL`` (or of unknown size) is hashed by a command of its own, as
    ``hash`` does, also when others are asked for at the same time."""
    from syncengine.backends.sftp import hashbatch

    monkeypatch.setattr(hashbatch, "SMALL", 500)
    remote = tmp_path / "remote"
    remote.mkdir()
    data = {f"big{i}.dat": os.urandom(2000) for i in range(6)}
    for name, body in data.items():
        (remote / name).write_bytes(body)
    b = SftpBackend(sshd_server.options(shell_type="unix", sha1sum_command="sha1sum"),
                    str(remote))
    try:
        b.hash("big0.dat", "sha1")  # the probe
        seen = _commands(b)
        got = _ask_together(b, list(data), {n: len(d) for n, d in data.items()})
        assert got == {n: hashlib.sha1(d).hexdigest() for n, d in data.items()}
        assert len(seen) == len(data) and all(cmd.count("big") == 1 for cmd in seen), seen
    finally:
        b.close()


def test_openssl_found_first_and_a_set_command_kept(sshd_server: SshdServer,
                                                    tmp_path: Path) -> None:
    """Without a sha1sum_command the probe takes OpenSSL's ``dgst -sha1 -r`` (the server
    has it); a configured ``sha1sum_command`` (as rclone saves it) is used as it is."""
    remote = tmp_path / "remote"
    remote.mkdir()
    (remote / "f").write_bytes(b"data")
    want = hashlib.sha1(b"data").hexdigest()
    for extra, command in (({}, "openssl dgst -sha1 -r"),
                           ({"sha1sum_command": "sha1sum"}, "sha1sum")):
        b = SftpBackend(sshd_server.options(**extra), str(remote))
        try:
            seen = _commands(b)
            assert b.hash("f", "sha1") == want
            assert b._hash_cmds["sha1"] == command
            assert seen[-1].startswith(command + " ")
        finally:
            b.close()


def test_copy_checks_wait_together_for_shared_commands(sshd_server: SshdServer,
                                                       tmp_path: Path) -> None:
    """A copy of many small files with one transfer: the written files' checks wait on
    their own threads (as many as one command takes files), so the server's commands each
    hash several files, where one check per transfer made it a command per file; every
    file lands whole with its time."""
    from syncengine import api
    from syncengine.backends.sftp import hashbatch

    src = tmp_path / "src"
    src.mkdir()
    n = 40
    for i in range(n):
        (src / f"f{i:02d}.txt").write_bytes(os.urandom(1000 + i))
    remote = tmp_path / "remote"
    remote.mkdir()
    b = SftpBackend(sshd_server.options(), str(remote))
    try:
        assert b.hash_batch("sha1") == hashbatch.MAX_FILES
        seen = _commands(b)
        result = api.copy(str(src), b, transfers=1)
        assert result.exit_code == 0
    finally:
        b.close()
    hashes = [c for c in seen if "sha1" in c]
    assert len(hashes) < n * 3 // 4, hashes  # a command per file before
    for i in range(n):
        name = f"f{i:02d}.txt"
        assert (remote / name).read_bytes() == (src / name).read_bytes()
        assert (remote / name).stat().st_mtime_ns // 10**9 == \
            (src / name).stat().st_mtime_ns // 10**9


def test_a_command_per_file_keeps_one_check_per_transfer(sshd_server: SshdServer,
                                                         tmp_path: Path) -> None:
    """A hash command that cannot take several files (not one of the known programs):
    one written file waits per transfer, as before."""
    from syncengine.backends.local import LocalBackend
    from syncengine.options import SyncOptions
    from syncengine.transfer import Transferer

    remote = tmp_path / "remote"
    remote.mkdir()
    for command, width, want in (("sha1sum", 4, 32), ("/usr/bin/env sha1sum", 4, 4),
                                 ("sha1sum", 40, 40)):
        b = SftpBackend(sshd_server.options(sha1sum_command=command,
                                            md5sum_command="none"), str(remote))
        try:
            t = Transferer(LocalBackend(str(tmp_path)), b, SyncOptions(), None, "sha1")
            assert t.landings(width) == want, (command, width)
        finally:
            b.close()
