"""The sftp backend against a real OpenSSH sshd on 127.0.0.1 (see ``sshd.py``), and its pool.

The server runs on this machine, so what the backend does is checked on the local disk too.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import hmac
import os
import pwd
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncengine.backends.base import is_backend
from syncengine.backends.pool import Pool
from syncengine.backends.sftp import (
    HostKeyError,
    SftpBackend,
    SftpOptions,
    obscure,
    open_remote,
    reveal,
)
from syncengine.errors import ConfigError, DirNotFoundError
from syncengine.record import replace
from tests.logcapture import captured_log

from . import sshd as _sshd
from .sshd import KEY_PASSPHRASE, SshAgent, SshdServer, private_home

sshd_server = _sshd.sshd_server  # the session-scoped sshd fixture
ssh_agent = _sshd.ssh_agent  # a private ssh-agent per test

OLD_NS = 1_600_000_000 * 10**9


# ----- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real ~/.ssh, nor talks to an ssh-agent of the caller."""
    return private_home(tmp_path, monkeypatch)


def sshd_log_since(server: SshdServer, offset: int) -> str:
    """What sshd logged after ``offset`` characters (give it a moment to flush)."""
    time.sleep(0.2)
    return server.log_text()[offset:]


def pysync(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env["HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "syncengine", *args], capture_output=True,
                          text=True, timeout=120, env=env)


def write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.utime(p, ns=(OLD_NS, OLD_NS))


def read_tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def ed25519_line() -> str:
    """A fresh, unrelated ed25519 public key as ``ssh-ed25519 <base64>``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pub = Ed25519PrivateKey.generate().public_key()
    return pub.public_bytes(serialization.Encoding.OpenSSH,
                            serialization.PublicFormat.OpenSSH).decode()


@pytest.fixture(scope="module")
def remote_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sftp-remote")


@pytest.fixture(scope="module")
def shared(sshd_server: SshdServer, remote_dir: Path) -> Iterator[SftpBackend]:
    """One backend for the conformance tests (module-scoped: hash detection runs once)."""
    b = SftpBackend(sshd_server.options(), str(remote_dir))
    try:
        yield b
    finally:
        b.close()


# ----- obscure / reveal ------------------------------------------------------------------------


def test_reveal_matches_rclone() -> None:
    clear = "pa:ss wörd/ü+="
    res = subprocess.run(["rclone", "obscure", clear], capture_output=True, text=True,
                         check=True, timeout=60)
    assert reveal(res.stdout.strip()) == clear
    mine = obscure(clear)
    assert mine != obscure(clear)  # random IV
    assert reveal(mine) == clear
    back = subprocess.run(["rclone", "reveal", "--", mine], capture_output=True, text=True,
                          check=True, timeout=60)
    assert back.stdout.strip() == clear
    for bad in ("not obscured!", "c2hvcnQ", ""):
        with pytest.raises(ValueError) as info:
            reveal(bad)
        assert "is it obscured?" in str(info.value)
        if bad:
            assert bad not in str(info.value)


def test_options_parse_and_errors() -> None:
    o = SftpOptions.from_mapping({"host": "h", "port": "2222", "set_modtime": "false",
                                  "chunk_size": "64k", "concurrency": "8",
                                  "idle_timeout": "5s", "hashes": "md5,sha256",
                                  "pass": obscure("pw")}, environ={})
    assert (o.host, o.port, o.set_modtime, o.chunk_size, o.concurrency) == \
        ("h", 2222, False, 65536, 8)
    assert o.idle_timeout == 5.0 and o.hashes == ("md5", "sha256")
    assert o.password.get() == "pw" and "pw" not in repr(o)
    env = SftpOptions.from_mapping({"host": "h"},
                                   environ={"RCLONE_SFTP_ACCEPT_NEW_HOST_KEY": "true"})
    assert env.accept_new_host_key
    with pytest.raises(ConfigError, match="as bool"):
        SftpOptions.from_mapping({"host": "h", "set_modtime": "maybe"}, environ={})
    with pytest.raises(ConfigError, match="is it obscured") as info:
        SftpOptions.from_mapping({"host": "h", "pass": "plain-text-password"}, environ={})
    assert "plain-text-password" not in str(info.value)
    with pytest.raises(ConfigError, match="not supported"):
        SftpOptions.from_mapping({"host": "h", "socks_proxy": "127.0.0.1:1080"}, environ={})
    with pytest.raises(ConfigError, match="needs a host"):
        SftpBackend({"user": "x"})


# ----- the Backend contract --------------------------------------------------------------------


def test_conformance_listing_and_data(shared: SftpBackend, remote_dir: Path) -> None:
    b = shared
    assert is_backend(b)
    assert b.describe() == f"sftp://{b.user}@127.0.0.1:{b.port}/{remote_dir}"  # //abs/path
    assert b.stat("") is not None and b.stat("").is_dir
    b.mkdir("c/d/e")
    b.mkdir("c/d")  # exists: fine
    assert (remote_dir / "c/d/e").is_dir()
    data = os.urandom(3 * 1024 * 1024 + 12345)
    w = b.open_write("c/new/deep/blob.bin")  # parents are created
    view = memoryview(data)
    for i in range(0, len(data), 1_000_000):
        assert w.write(view[i:i + 1_000_000]) == len(view[i:i + 1_000_000])
    w.close()
    assert (remote_dir / "c/new/deep/blob.bin").read_bytes() == data
    r = b.open_read("c/new/deep/blob.bin")
    assert r.read() == data
    r.close()
    for offset in (1, 32768, 261121, len(data) - 5, len(data), len(data) + 10):
        with b.open_read("c/new/deep/blob.bin", offset) as r:
            assert r.read() == data[offset:], offset
    with b.open_read("c/new/deep/blob.bin") as r:  # small reads through readinto
        buf = bytearray(7777)
        got = bytearray()
        while n := r.readinto(buf):
            got += buf[:n]
        assert bytes(got) == data
    w = b.open_write("c/empty")
    w.close()
    with b.open_read("c/empty") as r:
        assert r.read() == b""
    e = b.stat("c/new/deep/blob.bin")
    assert e is not None and e.size == len(data) and not e.is_dir
    assert e.mtime_ns % 1_000_000_000 == 0
    names = {x.path: x for x in b.list_dir("c")}
    assert set(names) == {"c/d", "c/new", "c/empty"}
    assert names["c/d"].is_dir and names["c/d"].size == -1 and names["c/empty"].size == 0
    assert [x.path for x in b.list_dir("c/new/deep")] == ["c/new/deep/blob.bin"]
    assert b.stat("c/missing") is None
    with pytest.raises(DirNotFoundError):
        b.list_dir("c/missing")
    with pytest.raises(DirNotFoundError):
        b.list_dir("c/empty")  # a file
    with pytest.raises(FileNotFoundError):
        b.open_read("c/missing")


def test_conformance_changes(shared: SftpBackend, remote_dir: Path) -> None:
    b = shared
    for name, text in (("a.txt", b"old"), ("b.txt", b"new content")):
        with b.open_write(f"r/{name}") as w:
            w.write(text)
    b.rename("r/b.txt", "r/a.txt")  # replaces
    assert (remote_dir / "r/a.txt").read_bytes() == b"new content"
    assert b.stat("r/b.txt") is None
    b.rename("r/a.txt", "r/sub/moved.txt")  # missing parent is created
    assert (remote_dir / "r/sub/moved.txt").read_bytes() == b"new content"
    with pytest.raises(FileNotFoundError):
        b.rename("r/nothing", "r/x")
    b.set_mtime("r/sub/moved.txt", OLD_NS + 987_654_321)
    assert b.stat("r/sub/moved.txt").mtime_ns == OLD_NS
    assert os.stat(remote_dir / "r/sub/moved.txt").st_mtime_ns == OLD_NS
    with pytest.raises(OSError) as info:
        b.rmdir("r/sub")
    assert info.value.errno == errno.ENOTEMPTY
    with pytest.raises(IsADirectoryError):
        b.remove("r/sub")
    b.remove("r/sub/moved.txt")
    with pytest.raises(FileNotFoundError):
        b.remove("r/sub/moved.txt")
    b.rmdir("r/sub")
    assert not (remote_dir / "r/sub").exists()
    with pytest.raises(FileNotFoundError):
        b.rmdir("r/sub")
    (remote_dir / "r/file").write_bytes(b"x")
    with pytest.raises(NotADirectoryError):
        b.mkdir("r/file")


def test_hashes_and_features(shared: SftpBackend, remote_dir: Path) -> None:
    b = shared
    f = b.features
    assert f.name == "sftp" and f.precision_ns == 1_000_000_000 and f.can_set_mtime
    assert f.hashes[:2] == ("md5", "sha1") and not f.writer_at
    # an awkward name: spaces, quotes and a command substitution that must not run
    name = "h/it's a \"$(touch PWNED)\" `touch PWNED2` file;.txt"
    data = b"hash me\n" * 1000
    write_tree(remote_dir, {name: data})
    assert b.hash(name, "md5") == hashlib.md5(data).hexdigest()
    assert b.hash(name, "SHA-1") == hashlib.sha1(data).hexdigest()
    assert b.hash(name, "sha256") is None  # not detected by default
    assert b.hash("h/missing", "md5") is None
    assert b.hash("h", "md5") is None  # a directory
    login_dir = Path(pwd.getpwnam(b.user).pw_dir)  # where the remote shell runs
    for where in (remote_dir, remote_dir / "h", login_dir):
        assert not list(where.glob("PWNED*"))


def test_links_and_odd_names(shared: SftpBackend, remote_dir: Path) -> None:
    b = shared
    write_tree(remote_dir, {"l/target.txt": b"12345"})
    os.symlink("target.txt", remote_dir / "l/link.txt")
    os.symlink("nowhere", remote_dir / "l/broken")
    raw = os.fsencode(remote_dir / "l") + b"/caf\xe9"  # not UTF-8
    with open(raw, "wb") as fh:
        fh.write(b"latin-1 name")
    entries = {e.path: e for e in b.list_dir("l")}
    assert entries["l/link.txt"].size == 5  # followed, as rclone does
    assert "l/broken" not in entries
    odd = "l/caf\udce9"
    assert odd in entries and entries[odd].size == 12
    with b.open_read(odd) as r:
        assert r.read() == b"latin-1 name"
    skip = SftpBackend(replace(b.opts, skip_links=True), str(remote_dir))
    try:
        assert "l/link.txt" not in {e.path for e in skip.list_dir("l")}
    finally:
        skip.close()


def test_options_change_behaviour(sshd_server: SshdServer, remote_dir: Path) -> None:
    b = SftpBackend(sshd_server.options(disable_hashcheck="true", set_modtime="false",
                                        chunk_size="1k", concurrency="3"), str(remote_dir))
    try:
        assert b.features.hashes == () and not b.features.can_set_mtime
        assert b.features.extra["chunk_size"] == 1024
        data = os.urandom(100_000)
        with b.open_write("opt/x.bin") as w:
            w.write(data)
        with b.open_read("opt/x.bin", 999) as r:
            assert r.read() == data[999:]
        before = b.stat("opt/x.bin").mtime_ns
        b.set_mtime("opt/x.bin", OLD_NS)  # a no-op
        assert b.stat("opt/x.bin").mtime_ns == before
        assert b.hash("opt/x.bin", "md5") is None
    finally:
        b.close()


def test_errors_read_as_rclones_sftp_backend(shared: SftpBackend, remote_dir: Path) -> None:
    """Errors worded as rclone's sftp backend words them (Put/Move mkParentDir, mkdir,
    SetModTime, Move Rename), of the usual OSError classes, never the server's path."""
    b = shared
    write_tree(remote_dir, {"werr/file": b"x"})
    in_the_way = "mkdir dirExists failed: is a file not a directory"
    cases = [
        (lambda: b.open_write("werr/file/sub/new"), NotADirectoryError,
         f"Put mkParentDir failed: {in_the_way}"),
        (lambda: b.mkdir("werr/file"), NotADirectoryError, in_the_way),
        (lambda: b.mkdir("werr/file/sub"), NotADirectoryError, in_the_way),
        (lambda: b.set_mtime("werr/missing", OLD_NS), FileNotFoundError,
         "SetModTime failed: file does not exist"),
        (lambda: b.rename("werr/missing", "werr/other"), FileNotFoundError,
         "Move Rename failed: file does not exist"),
        (lambda: b.rename("werr/file", "werr/file/sub/x"), NotADirectoryError,
         f"Move mkParentDir failed: {in_the_way}"),
    ]
    for call, cls, text in cases:
        with pytest.raises(cls) as info:
            call()
        assert str(info.value) == text
        assert str(remote_dir) not in str(info.value)
    assert (remote_dir / "werr/file").read_bytes() == b"x"


def test_cli_file_in_the_way_of_an_empty_dir_is_a_counted_error(
        sshd_server: SshdServer, tmp_path: Path, _isolated_home: Path) -> None:
    """--create-empty-src-dirs onto SFTP where a file has the directory's name: rclone's
    Mkdir fails (counted, not logged), nothing is made and the file keeps its time."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "X").mkdir(parents=True)
    os.utime(src / "X", ns=(OLD_NS + 10**12, OLD_NS + 10**12))
    write_tree(dst, {"X": b"file"})
    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("box"))
    res = pysync("copy", str(src), f"box:{dst}", "--config", str(conf), "-v",
                 "--create-empty-src-dirs", "--retries", "1", home=_isolated_home)
    assert res.returncode == 1, res.stderr
    assert "X: Making directory" in res.stderr
    assert "Set directory modification time" not in res.stderr
    assert "Failed to copy: mkdir dirExists failed: is a file not a directory" in res.stderr
    assert (dst / "X").read_bytes() == b"file"
    assert os.stat(dst / "X").st_mtime_ns == OLD_NS


def test_write_errors_surface_and_rename_fallback(sshd_server: SshdServer, shared: SftpBackend,
                                                  remote_dir: Path) -> None:
    dev = SftpBackend(sshd_server.options(disable_hashcheck="true"), "/dev")
    try:
        w = dev.open_write("full")  # every write fails with ENOSPC on the server
        with pytest.raises(OSError) as info:
            w.write(b"x" * 3_000_000)
            w.close()
        w.close()
        assert info.value.errno == errno.EIO and "Failure" in str(info.value)
        assert dev.stat("").is_dir  # the connection is still fine
    finally:
        dev.close()
    b = shared
    b._posix_rename = False  # as against a server without posix-rename@openssh.com
    try:
        write_tree(remote_dir, {"pr/a": b"a", "pr/b": b"b"})
        b.rename("pr/b", "pr/a")
        assert (remote_dir / "pr/a").read_bytes() == b"b" and not (remote_dir / "pr/b").exists()
    finally:
        b._posix_rename = True


def test_dropped_connection_is_transient(shared: SftpBackend) -> None:
    b = shared
    with b.open_write("drop/x.bin") as w:
        w.write(os.urandom(2_000_000))
    r = b.open_read("drop/x.bin")
    r.read(10)
    r._lease.conn.transport.sock.shutdown(2)  # type: ignore[attr-defined]  # the line dies
    with pytest.raises(OSError) as info:
        while r.read(1 << 20):
            pass
    assert info.value.errno == errno.ECONNRESET
    r.close()
    assert b.stat("drop/x.bin") is not None  # a fresh connection takes over


# ----- host keys -------------------------------------------------------------------------------


def test_unknown_key_refused_before_credentials(sshd_server: SshdServer, tmp_path: Path
                                                ) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    offset = len(sshd_server.log_text())
    with pytest.raises(HostKeyError) as info:
        SftpBackend(sshd_server.options(known_hosts_file=str(empty), **{"pass": obscure("x")}))
    msg = str(info.value)
    assert f"host key for {sshd_server.host_id} is not in known_hosts" in msg
    assert "SHA256:" in msg and "accept_new_host_key" in msg and str(empty) in msg
    assert isinstance(info.value, ConfigError) and info.value.exit_code == 7
    logged = sshd_log_since(sshd_server, offset)
    assert "Accepted" not in logged and "Failed" not in logged  # nothing was offered


def test_changed_and_revoked_keys_refused(sshd_server: SshdServer, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts"
    kh.write_text(f"{sshd_server.host_id} {ed25519_line()}\n")
    for accept in ("false", "true"):
        with pytest.raises(HostKeyError, match="has CHANGED"):
            SftpBackend(sshd_server.options(known_hosts_file=str(kh),
                                            accept_new_host_key=accept))
    assert kh.read_text().count("\n") == 1
    kh.write_text(f"{sshd_server.host_id} {sshd_server.host_key_line}\n"
                  f"@revoked * {sshd_server.host_key_line}\n")
    with pytest.raises(HostKeyError, match="REVOKED"):
        SftpBackend(sshd_server.options(known_hosts_file=str(kh)))


def test_hashed_and_default_known_hosts_and_ssh_config(sshd_server: SshdServer,
                                                       _isolated_home: Path) -> None:
    ssh_dir = _isolated_home / ".ssh"
    ssh_dir.mkdir()
    salt = os.urandom(20)
    digest = hmac.new(salt, sshd_server.host_id.encode(), hashlib.sha1).digest()
    hashed = f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"
    (ssh_dir / "known_hosts").write_text(f"# comment\nother.example {ed25519_line()}\n"
                                         f"{hashed} {sshd_server.host_key_line}\n")
    (ssh_dir / "config").write_text(
        f"Host mybox\n  HostName {sshd_server.host}\n  Port {sshd_server.port}\n"
        f"  User {sshd_server.user}\n  IdentityFile {sshd_server.client_key}\n")
    b = SftpBackend({"host": "mybox"}, "")  # everything else from ~/.ssh
    try:
        assert b.describe() == f"sftp://{sshd_server.user}@mybox:{sshd_server.port}/"
        assert b.stat("") is not None
    finally:
        b.close()


def test_ssh_config_match_exec(sshd_server: SshdServer, _isolated_home: Path,
                               tmp_path: Path) -> None:
    """paramiko is imported without invoke (syncengine.backends.sftp._paramiko); a config
    whose ``Match exec`` paramiko runs through invoke still applies: the exec that fails
    keeps its block out, the one that succeeds maps the alias to the real server. Run as
    the CLI with no standard input, as a user runs it (invoke forwards stdin)."""
    ssh_dir = _isolated_home / ".ssh"
    ssh_dir.mkdir()
    (ssh_dir / "known_hosts").write_text(f"{sshd_server.host_id} {sshd_server.host_key_line}\n")
    marker = tmp_path / "exec-ran"
    (ssh_dir / "config").write_text(
        "Match host execbox exec \"false\"\n  HostName 192.0.2.1\n  Port 9\n"
        f"Match host execbox exec \"touch {marker}\"\n  HostName {sshd_server.host}\n"
        f"  Port {sshd_server.port}\n  User {sshd_server.user}\n"
        f"  IdentityFile {sshd_server.client_key}\n")
    served = tmp_path / "served"
    write_tree(served, {"a.txt": b"via match exec\n"})
    conf = tmp_path / "rclone.conf"
    conf.write_text("[box]\ntype = sftp\nhost = execbox\n")
    env = {k: v for k, v in os.environ.items() if k != "SSH_AUTH_SOCK"}
    env["HOME"] = str(_isolated_home)
    res = subprocess.run([sys.executable, "-m", "syncengine", "lsf", f"box:{served}",
                          "--config", str(conf)], capture_output=True, text=True,
                         timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "a.txt\n"
    assert marker.exists()  # the exec ran (through invoke, imported when needed)


def test_paramiko_imported_without_invoke() -> None:
    """A fresh interpreter: importing the sftp backend leaves invoke out, and a later
    ``import invoke`` (the caller's own) still works."""
    code = ("import sys; import syncengine.backends.sftp, paramiko.config as c; "
            "print('invoke' in sys.modules, c.invoke is None); import invoke; "
            "print(sys.modules['invoke'] is invoke)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert res.stdout.split() == ["False", "True", "True"]


def test_paramiko_imported_without_importlib_metadata() -> None:
    """paramiko reads its version through importlib.metadata at import: the backend answers
    it without importing that module; the version is the installed one, and an import of
    importlib.metadata afterwards (and paramiko's own reference) is the real module."""
    code = ("import sys; import syncengine.backends.sftp, paramiko; "
            "print('importlib.metadata' in sys.modules); v = paramiko.__version__; "
            "import importlib.metadata as m; print(v == m.version('paramiko'), "
            "type(m).__name__, paramiko.metadata.PackageNotFoundError is "
            "m.PackageNotFoundError)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert res.stdout.split() == ["False", "True", "module", "True"]


def test_sftp_copy_imports_no_smb_stack(sshd_server: SshdServer, tmp_path: Path) -> None:
    """A copy to an SFTP server (whose new small files pass the lean-download check) does
    not import the SMB backend and its authentication stack, nor importlib.metadata."""
    src = tmp_path / "src"
    write_tree(src, {"a.txt": b"one\n", "d/b.txt": b"two\n"})
    dst = tmp_path / "served"
    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("box"))
    code = ("import sys; from syncengine.cli import main; "
            f"code = main(['copy', {str(src)!r}, 'box:{dst}', '--config', {str(conf)!r}]); "
            "print(code, [m for m in ('syncengine.backends.smb', 'smbprotocol', "
            "'importlib.metadata') if m in sys.modules])")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "0 []", res.stderr
    assert (dst / "d" / "b.txt").read_bytes() == b"two\n"
    back = subprocess.run([sys.executable, "-c", code.replace(
        f"'copy', {str(src)!r}, 'box:{dst}'", f"'copy', 'box:{dst}', {str(tmp_path / 'back')!r}")],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert back.returncode == 0, back.stderr
    assert back.stdout.strip() == "0 []", back.stderr
    assert (tmp_path / "back" / "a.txt").read_bytes() == b"one\n"


def test_accept_new_host_key(sshd_server: SshdServer, tmp_path: Path) -> None:
    kh = tmp_path / "new" / "known_hosts"
    bad_key = tmp_path / "unauthorized"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(bad_key)],
                   check=True, timeout=60)
    with pytest.raises(ConfigError, match="unable to authenticate"):
        SftpBackend(sshd_server.options(known_hosts_file=str(kh), key_file=str(bad_key),
                                        accept_new_host_key="true"))
    assert not kh.exists() or kh.read_text() == ""  # never pinned on a failed login
    with captured_log() as out:
        b = SftpBackend(sshd_server.options(known_hosts_file=str(kh),
                                            accept_new_host_key="true"))
        b.close()
    line = kh.read_text()
    assert line == f"{sshd_server.host_id} {sshd_server.host_key_line}\n"
    assert stat.S_IMODE(kh.stat().st_mode) == 0o600
    assert "Added ED25519 host key SHA256:" in out.getvalue()
    b = SftpBackend(sshd_server.options(known_hosts_file=str(kh)))  # now known
    b.close()
    assert kh.read_text() == line


def test_known_hosts_none_and_pinned(sshd_server: SshdServer) -> None:
    with captured_log() as out:
        SftpBackend(sshd_server.options(known_hosts_file="none")).close()
    assert "No host key validation" in out.getvalue()
    opts = sshd_server.options(host_keys=sshd_server.host_key_line)
    del opts["known_hosts_file"]
    SftpBackend(opts).close()
    opts["host_keys"] = ed25519_line()
    with pytest.raises(HostKeyError, match="CHANGED"):
        SftpBackend(opts)


def test_cli_unknown_host_key_exit_code(sshd_server: SshdServer, tmp_path: Path,
                                        _isolated_home: Path) -> None:
    empty = tmp_path / "kh"
    empty.write_text("")
    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("box", known_hosts_file=str(empty)))
    res = pysync("lsf", "box:" + str(tmp_path), "--config", str(conf), home=_isolated_home)
    assert res.returncode == 7, res.stderr
    assert 'Failed to create file system for "box:' in res.stderr
    assert "is not in known_hosts" in res.stderr and "Traceback" not in res.stderr


# ----- authentication --------------------------------------------------------------------------


def test_encrypted_keys_and_key_pem(sshd_server: SshdServer) -> None:
    secret = obscure(KEY_PASSPHRASE)
    for key in (sshd_server.pem_key, sshd_server.openssh_key):
        SftpBackend(sshd_server.options(key_file=str(key), key_file_pass=secret)).close()
    pem = sshd_server.client_key.read_text().replace("\n", "\\n")
    opts = sshd_server.options(key_pem=pem)
    del opts["key_file"]
    SftpBackend(opts).close()
    with pytest.raises(ConfigError, match="encrypted - set key_file_pass"):
        SftpBackend(sshd_server.options(key_file=str(sshd_server.pem_key)))
    with pytest.raises(ConfigError, match="wrong passphrase") as info:
        SftpBackend(sshd_server.options(key_file=str(sshd_server.openssh_key),
                                        key_file_pass=obscure("not-it-" + KEY_PASSPHRASE)))
    assert KEY_PASSPHRASE not in str(info.value)


def test_agent_auth(sshd_server: SshdServer, ssh_agent: SshAgent,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    ssh_agent.add(sshd_server.client_key)
    monkeypatch.setenv("SSH_AUTH_SOCK", str(ssh_agent.sock))
    opts = sshd_server.options()
    del opts["key_file"]
    offset = len(sshd_server.log_text())
    SftpBackend(opts).close()
    assert "Accepted publickey" in sshd_log_since(sshd_server, offset)
    # key_use_agent + key_file: only the agent key matching key_file.pub is offered
    SftpBackend(sshd_server.options(key_use_agent="true")).close()


def test_password_attempt_never_leaks(sshd_server: SshdServer) -> None:
    password = "Very-Secret-Pw-1234"
    opts = sshd_server.options(**{"pass": obscure(password)})
    del opts["key_file"]
    offset = len(sshd_server.log_text())
    with captured_log() as out, pytest.raises(ConfigError) as info:
        SftpBackend(opts)
    assert "password" in str(info.value) and "unable to authenticate" in str(info.value)
    assert password not in str(info.value) and password not in out.getvalue()
    assert opts["pass"] not in str(info.value) and opts["pass"] not in out.getvalue()
    assert f"Failed password for {sshd_server.user}" in sshd_log_since(sshd_server, offset)


def test_no_auth_method(sshd_server: SshdServer) -> None:
    opts = sshd_server.options()
    del opts["key_file"]
    with pytest.raises(ConfigError, match="no key, password or ssh-agent key"):
        SftpBackend(opts)


# ----- parallel use ----------------------------------------------------------------------------


def test_threads_use_separate_connections(shared: SftpBackend, remote_dir: Path) -> None:
    b = shared
    blobs = {f"par/f{i}.bin": os.urandom(200_000 + i) for i in range(8)}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(name: str, data: bytes) -> None:
        try:
            barrier.wait()
            with b.open_write(name) as w:
                w.write(data)
            with b.open_read(name) as r:
                assert r.read() == data
            assert b.hash(name, "md5") == hashlib.md5(data).hexdigest()
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=item) for item in blobs.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert b._pool.stats().max_open_seen >= 4
    assert read_tree(remote_dir / "par") == {k[4:]: v for k, v in blobs.items()}


# ----- the CLI ---------------------------------------------------------------------------------


def test_cli_copy_sync_check_round_trip(sshd_server: SshdServer, tmp_path: Path,
                                        _isolated_home: Path) -> None:
    src, back, dst = tmp_path / "src", tmp_path / "back", tmp_path / "dst"
    files = {f"dir{i % 3}/file {i}.bin": os.urandom(1000 * i) for i in range(16)}
    files.update({"empty.txt": b"", "it's \"quoted\".txt": b"q", "deep/a/b/c.txt": b"c"})
    write_tree(src, files)
    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("box"))
    remote = f"box:{dst}"
    offset = len(sshd_server.log_text())
    res = pysync("copy", str(src), remote, "--config", str(conf), "--transfers", "8",
                 home=_isolated_home)
    assert res.returncode == 0, res.stderr
    assert read_tree(dst) == files
    assert all(os.stat(dst / k).st_mtime_ns == OLD_NS for k in files)
    logins = sshd_log_since(sshd_server, offset).count("Accepted publickey")
    assert logins >= 3, f"expected several connections, sshd saw {logins}"
    res = pysync("check", str(src), remote, "--config", str(conf), home=_isolated_home)
    assert res.returncode == 0 and "0 differences found" in res.stderr, res.stderr
    # change the source, sync, check again
    (src / "dir0/file 0.bin").write_bytes(b"changed")
    (src / "dir1/file 1.bin").unlink()
    write_tree(src, {"added/new.txt": b"new"})
    res = pysync("sync", str(src), remote, "--config", str(conf), home=_isolated_home)
    assert res.returncode == 0, res.stderr
    assert read_tree(dst) == read_tree(src)
    res = pysync("check", str(src), remote, "--config", str(conf), home=_isolated_home)
    assert res.returncode == 0 and "0 differences found" in res.stderr, res.stderr
    rc = subprocess.run(["rclone", "check", str(src), remote, "--config", str(conf)],
                        capture_output=True, text=True, timeout=120,
                        env={**os.environ, "HOME": str(_isolated_home)})
    assert rc.returncode == 0, rc.stderr
    # and back down
    res = pysync("copy", remote, str(back), "--config", str(conf), home=_isolated_home)
    assert res.returncode == 0, res.stderr
    assert read_tree(back) == read_tree(src)
    res = pysync("check", remote, str(back), "--config", str(conf), home=_isolated_home)
    assert res.returncode == 0 and "0 differences found" in res.stderr, res.stderr


def test_cli_secrets_stay_out_of_debug_logs(sshd_server: SshdServer, tmp_path: Path,
                                            _isolated_home: Path) -> None:
    src = tmp_path / "src"
    write_tree(src, {"a.txt": b"a", "b/c.txt": b"c"})
    password = "Another-Secret-Pw-987"
    secrets_ = {"pass": obscure(password), "key_file_pass": obscure(KEY_PASSPHRASE)}
    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("box", key_file=str(sshd_server.pem_key), **secrets_))
    res = pysync("copy", str(src), f"box:{tmp_path / 'dst'}", "--config", str(conf), "-vv",
                 home=_isolated_home)
    assert res.returncode == 0, res.stderr
    assert "DEBUG" in res.stderr
    out = res.stdout + res.stderr
    for secret in (password, KEY_PASSPHRASE, *secrets_.values()):
        assert secret not in out
    assert read_tree(tmp_path / "dst") == read_tree(src)


def test_open_remote_and_connection_string(sshd_server: SshdServer, tmp_path: Path) -> None:
    from syncengine.remotes import open_backend

    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("box"))
    b = open_backend(f"box,disable_hashcheck:{tmp_path}", config_path=str(conf))
    try:
        assert isinstance(b, SftpBackend) and b.features.hashes == ()
        assert b.root == str(tmp_path)
    finally:
        b.close()
    b2 = open_remote("box", sshd_server.options(), "")  # relative: the login directory
    try:
        assert b2.root == pwd.getpwnam(sshd_server.user).pw_dir
        assert b2.describe() == f"sftp://{sshd_server.user}@127.0.0.1:{sshd_server.port}/"
    finally:
        b2.close()


# ----- the pool --------------------------------------------------------------------------------


class _Fake:
    def __init__(self, n: int) -> None:
        self.n = n
        self.closed = False
        self.ok = True


def _pool(**kw: object) -> tuple[Pool[_Fake], list[_Fake]]:
    made: list[_Fake] = []

    def factory() -> _Fake:
        made.append(_Fake(len(made)))
        return made[-1]

    def close(c: _Fake) -> None:
        c.closed = True

    return Pool(factory, close=close, alive=lambda c: c.ok and not c.closed,
                is_broken=lambda e: isinstance(e, ConnectionError), **kw), made  # type: ignore[arg-type]


def test_pool_per_thread_reuse_and_lifo() -> None:
    pool, made = _pool(max_idle=2)
    outer = pool.lease()
    inner = pool.lease()  # same thread: same connection
    assert inner.conn is outer.conn and len(made) == 1
    seen: list[_Fake] = []
    t = threading.Thread(target=lambda: seen.append(pool.lease().conn))
    t.start()
    t.join()
    assert seen[0] is not outer.conn  # another thread never shares it
    inner.release()
    inner.release()  # idempotent
    assert pool.stats().leased == 2  # outer still holds it (and the thread leaked its lease)
    outer.release()
    a = pool.lease()
    assert a.conn is made[0]  # last in, first out
    b_: list[_Fake] = []
    t = threading.Thread(target=lambda: b_.append(pool.lease().conn))
    t.start()
    t.join()
    assert b_[0] is made[2]  # made[0] is leased here, made[1] by the (finished) thread
    a.release()


def test_pool_broken_dead_idle_and_close() -> None:
    pool, made = _pool(max_idle=1, idle_timeout=0.2)
    with pytest.raises(ConnectionError):
        with pool.lease():
            raise ConnectionError("boom")
    assert made[0].closed and len(pool) == 0
    with pool.lease() as c:
        pass
    c.ok = False  # died while idle
    with pool.lease() as c2:
        assert c2 is not c and c.closed
    # two threads' connections come back; only max_idle=1 stays
    leases = []
    t = threading.Thread(target=lambda: leases.append(pool.lease()))
    t.start()
    t.join()
    mine = pool.lease()
    leases[0].release()
    mine.release()
    assert pool.stats().idle == 1
    time.sleep(0.3)
    with pool.lease() as fresh:  # the idle one aged out
        assert fresh is made[-1] and fresh not in (mine.conn, leases[0].conn)
    held = pool.lease()
    t = threading.Thread(target=lambda: pool.lease().release())  # leaves one idle
    t.start()
    t.join()
    assert pool.stats().idle == 1
    assert pool.close() == 1  # the idle one now, the held one on release
    assert not held.conn.closed
    held.release()
    assert held.conn.closed


def test_pool_max_open_waits() -> None:
    pool, made = _pool(max_open=1, wait_timeout=0.3)
    first = pool.lease()
    got: list[object] = []

    def other() -> None:
        try:
            got.append(pool.lease().conn)
        except TimeoutError as err:
            got.append(err)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert isinstance(got[0], TimeoutError)
    t = threading.Thread(target=other)
    t.start()
    time.sleep(0.1)
    first.release()
    t.join()
    assert got[1] is made[0] and len(made) == 1
