"""The SMB backend against a real Samba smbd on 127.0.0.1 (see ``smbd.py``): Backend
conformance, 100 ns times, rclone's name encoding and obscured passwords, credentials kept
out of messages and logs, thread safety, and ``pysync copy/sync/check`` through an rclone.conf.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smbprotocol import transport as smb_transport
from smbprotocol.connection import Connection

from syncengine.backends import smb as smb_mod
from syncengine.backends.base import Backend, Entry, is_backend
from syncengine.backends.smb import (
    NameEncoder,
    SmbAuthError,
    SmbBackend,
    SmbConnectionError,
    open_remote,
    parse_encoding,
    reveal,
)
from syncengine.errors import EXIT_DIR_NOT_FOUND, ConfigError, DirNotFoundError
from syncengine.remotes import open_backend

from .smbd import SmbdServer, smbd_server  # noqa: F401 - the module-scoped fixture

REPO = Path(__file__).resolve().parents[2]
T1 = 1_600_000_000_123_456_789  # not a multiple of 100 ns: SMB keeps 1_600_000_000_123_456_700
T2 = 1_500_000_000_000_000_000
OLD = 1_600_000_000_000_000_000


def _rclone_obscure(text: str) -> str:
    res = subprocess.run(["rclone", "obscure", "-"], input=text, capture_output=True, text=True,
                         timeout=30, check=True)
    return res.stdout.strip()


@pytest.fixture(scope="module")
def obscured(smbd_server: SmbdServer) -> str:  # noqa: F811
    """The server's password obscured by the real ``rclone obscure``."""
    return _rclone_obscure(smbd_server.password)


@pytest.fixture(scope="module")
def conf(smbd_server: SmbdServer, obscured: str, tmp_path_factory: pytest.TempPathFactory  # noqa: F811
         ) -> Path:
    """An rclone.conf with remote ``smbt`` (good password) and ``smbbad`` (wrong one)."""
    path = tmp_path_factory.mktemp("conf") / "rclone.conf"
    bad = smbd_server.rclone_section("smbbad", _rclone_obscure("Wrong-" + "pw-4711"))
    path.write_text(smbd_server.rclone_section("smbt", obscured) + "\n" + bad)
    path.chmod(0o600)
    return path


def _new_backend(server: SmbdServer, sub: str, **kw: object) -> SmbBackend:
    return SmbBackend(server.host, f"{server.share}/{sub}" if sub else server.share,
                      user=server.user, password=server.password, port=server.port,
                      **kw)  # type: ignore[arg-type]


@pytest.fixture
def backend(smbd_server: SmbdServer) -> Iterator[SmbBackend]:  # noqa: F811
    """An SmbBackend rooted at a fresh empty directory of the share."""
    sub = f"t-{uuid.uuid4().hex[:12]}"
    b = _new_backend(smbd_server, sub)
    b.mkdir("")
    try:
        yield b
    finally:
        b.close()
        shutil.rmtree(smbd_server.share_path / sub, ignore_errors=True)


def write(b: Backend, path: str, data: bytes) -> None:
    with b.open_write(path) as fh:
        fh.write(data)


def read(b: Backend, path: str, offset: int = 0) -> bytes:
    with b.open_read(path, offset) as fh:
        return fh.read()


def listing(b: Backend, path: str = "") -> list[tuple[str, int, bool]]:
    return sorted((e.path, e.size, e.is_dir) for e in b.list_dir(path))


def on_disk(server: SmbdServer, b: SmbBackend, rel: str = "") -> Path:
    return server.share_path / b.base / rel


def _count_sends(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, the size of every TCP send of every SMB connection (one per round trip
    of a request or compound), appended to the returned list."""
    sends: list[int] = []
    real = smb_mod._Tcp.send

    def send(self: smb_transport.Tcp, data: bytes) -> None:
        sends.append(len(data))
        real(self, data)

    monkeypatch.setattr(smb_mod._Tcp, "send", send)
    return sends


def _in_threads(worker: Any, count: int) -> None:
    """Run ``worker(i)`` for i in range(count) on as many threads at once; all must end."""
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not any(th.is_alive() for th in threads)


def _one_connection(b: SmbBackend) -> Connection:
    """``b`` left with one pooled connection, set up (tree connected) by a listing; that one."""
    b.close()
    list(b.list_dir(""))
    assert b.connections == 1
    return _the_connection(b)


def _the_connection(b: SmbBackend) -> Connection:
    """The one pooled connection of ``b``."""
    slot = b._pool.acquire()
    try:
        (conn,) = slot.cache.values()
        return conn
    finally:
        b._pool.release(slot)


# ----- conformance ---------------------------------------------------------------------------


class TestConformance:
    """What every Backend must do, here over SMB."""

    def test_is_a_backend(self, backend: SmbBackend, smbd_server: SmbdServer) -> None:  # noqa: F811
        assert is_backend(backend)
        f = backend.features
        assert (f.name, f.precision_ns, f.hashes, f.can_set_mtime) == ("smb", 1_000_000, (), True)
        assert f.case_insensitive and f.partial_uploads
        assert backend.describe() == (f"smb://{smbd_server.user}@127.0.0.1:{smbd_server.port}/"
                                      f"{smbd_server.share}/{backend.base}")

    def test_empty_root(self, backend: SmbBackend) -> None:
        assert listing(backend) == []
        root = backend.stat("")
        assert root is not None and root.is_dir and root.size == -1

    def test_write_read_stat(self, backend: SmbBackend) -> None:
        write(backend, "f.txt", b"hello world")
        assert read(backend, "f.txt") == b"hello world"
        e = backend.stat("f.txt")
        assert e == Entry("f.txt", 11, e.mtime_ns, False)

    def test_open_read_with_offset_and_readinto(self, backend: SmbBackend) -> None:
        data = os.urandom(3 * 1024 * 1024 + 17)
        write(backend, "f", data)
        assert read(backend, "f", 90) == data[90:]
        assert read(backend, "f", len(data)) == b""
        buf = bytearray(1024 * 1024)
        got = bytearray()
        with backend.open_read("f", 5) as fh:
            while n := fh.readinto(buf):
                got += buf[:n]
        assert got == data[5:]

    def test_open_write_creates_parents_and_truncates(self, backend: SmbBackend) -> None:
        write(backend, "a/b/c.bin", b"long content")
        write(backend, "a/b/c.bin", b"short")
        assert read(backend, "a/b/c.bin") == b"short"
        assert listing(backend) == [("a", -1, True)]
        assert listing(backend, "a") == [("a/b", -1, True)]
        assert listing(backend, "a/b") == [("a/b/c.bin", 5, False)]

    def test_list_dir_mixed(self, backend: SmbBackend) -> None:
        write(backend, "x.txt", b"1")
        write(backend, "d/y.txt", b"22")
        backend.mkdir("empty")
        assert listing(backend) == [("d", -1, True), ("empty", -1, True), ("x.txt", 1, False)]
        assert listing(backend, "empty") == []
        names_only = sorted(e.path for e in backend.list_dir("", want_stat=False))
        assert names_only == ["d", "empty", "x.txt"]

    @pytest.mark.parametrize("path", ["missing", "missing/deeper"])
    def test_list_missing_dir(self, backend: SmbBackend, path: str) -> None:
        with pytest.raises(DirNotFoundError) as info:
            list(backend.list_dir(path))
        assert info.value.exit_code == EXIT_DIR_NOT_FOUND
        assert isinstance(info.value, FileNotFoundError)

    def test_list_a_file_is_dir_not_found(self, backend: SmbBackend) -> None:
        write(backend, "file", b"x")
        with pytest.raises(DirNotFoundError):
            list(backend.list_dir("file"))

    def test_stat(self, backend: SmbBackend) -> None:
        write(backend, "d/f", b"abc")
        assert backend.stat("missing") is None
        assert backend.stat("d/missing") is None
        assert backend.stat("d/f/below") is None
        d = backend.stat("d")
        assert d is not None and d.is_dir and d.size == -1
        f = backend.stat("d/f")
        assert f is not None and not f.is_dir and f.size == 3 and f.path == "d/f"
        assert backend.is_file("d/f") and not backend.is_file("d")

    def test_stat_compound_agrees_with_smbclient(self, backend: SmbBackend,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        """The CREATE+CLOSE stat gives what smbclient's seven-request stat gives (size,
        time to 100 ns, kind; a missing path or one below a file is None), and is what
        answers on an unsigned session (smbclient is not asked)."""
        write(backend, "d/f", b"abc")
        write(backend, "d/\u00e9t\u00e9 \u6f22.txt", b"12345")
        backend.set_mtime("d/f", T1 + 123)  # not a whole second: all 7 digits kept
        paths = ["", "d", "d/f", "d/\u00e9t\u00e9 \u6f22.txt", "missing", "d/missing",
                 "d/f/below"]
        ours = {p: backend.stat(p) for p in paths}
        calls: list[str] = []
        real_compound = smb_mod._stat_compound

        def no_compound(unc: str, slot: Any, state: Any) -> None:
            calls.append(unc)
            return None  # as on a signed session: smbclient's stat answers

        monkeypatch.setattr(smb_mod, "_stat_compound", no_compound)
        theirs = {p: backend.stat(p) for p in paths}
        assert len(calls) == len(paths)  # every stat tried the compound first
        assert ours == theirs
        assert ours["d/f"] == Entry("d/f", 3, (T1 + 123) // 100 * 100, False)  # 100 ns
        assert ours["missing"] is None and ours["d/f/below"] is None
        monkeypatch.setattr(smb_mod, "_stat_compound", real_compound)
        used = []
        monkeypatch.setattr(smb_mod.smbclient, "stat",
                            lambda *a, **k: used.append(a) or pytest.fail("smbclient.stat"))
        assert backend.stat("d/f") == ours["d/f"] and not used

    def test_rename_and_replace(self, backend: SmbBackend) -> None:
        write(backend, "src", b"new data")
        write(backend, "dst", b"old")
        backend.rename("src", "dst")
        assert backend.stat("src") is None
        assert read(backend, "dst") == b"new data"
        assert listing(backend) == [("dst", 8, False)]

    def test_rename_keeps_mtime_and_creates_parents(self, backend: SmbBackend) -> None:
        write(backend, "a", b"x")
        backend.set_mtime("a", T1)
        backend.rename("a", "new/dir/b")
        e = backend.stat("new/dir/b")
        assert e is not None and e.mtime_ns == T1 // 100 * 100

    def test_rename_missing_source(self, backend: SmbBackend) -> None:
        with pytest.raises(FileNotFoundError):
            backend.rename("nope", "other")

    def test_rename_onto_directory_fails(self, backend: SmbBackend) -> None:
        write(backend, "f", b"x")
        backend.mkdir("d")
        with pytest.raises(OSError):
            backend.rename("f", "d")
        assert read(backend, "f") == b"x"

    def test_remove(self, backend: SmbBackend) -> None:
        write(backend, "d/f", b"x")
        backend.remove("d/f")
        assert backend.stat("d/f") is None
        with pytest.raises(FileNotFoundError) as info:
            backend.remove("d/f")
        assert info.value.errno == errno.ENOENT
        assert "STATUS_OBJECT_NAME_NOT_FOUND" in str(info.value)

    def test_remove_directory_fails(self, backend: SmbBackend) -> None:
        backend.mkdir("d")
        with pytest.raises(IsADirectoryError):
            backend.remove("d")
        assert backend.stat("d") is not None

    def test_mkdir_rmdir(self, backend: SmbBackend) -> None:
        backend.mkdir("p/q/r")
        backend.mkdir("p/q/r")  # exists: fine
        assert listing(backend, "p/q") == [("p/q/r", -1, True)]
        backend.rmdir("p/q/r")
        assert listing(backend, "p/q") == []
        backend.rmdir("p/q")
        backend.rmdir("p")
        assert listing(backend) == []

    def test_mkdir_over_file_fails(self, backend: SmbBackend) -> None:
        """Worded as rclone's SMB client (go-smb2 MkdirAll) words it: the file in the way,
        share-relative and backslash-separated; Put and Move add rclone's smb prefix."""
        write(backend, "f", b"x")
        write(backend, "g", b"y")
        shown = f"{backend.base}\\f"
        for make in (lambda: backend.mkdir("f"), lambda: backend.mkdir("f/sub/deeper")):
            with pytest.raises(NotADirectoryError) as info:
                make()
            assert str(info.value) == f"mkdir {shown}: not a directory"
        want = f"failed to make parent directories: mkdir {shown}: not a directory"
        for move in (lambda: backend.open_write("f/sub/new"),
                     lambda: backend.rename("g", "f/sub/g")):
            with pytest.raises(NotADirectoryError) as info:
                move()
            assert str(info.value) == want
        assert read(backend, "f") == b"x" and read(backend, "g") == b"y"

    def test_rename_over_a_directory_fails_as_rclone_says(self, backend: SmbBackend) -> None:
        write(backend, "g", b"y")
        backend.mkdir("d")
        with pytest.raises(FileExistsError) as info:
            backend.rename("g", "d")
        assert str(info.value) == f"rename {backend.base}\\g {backend.base}\\d: file already exists"
        assert read(backend, "g") == b"y"

    def test_rmdir_not_empty(self, backend: SmbBackend) -> None:
        write(backend, "d/f", b"x")
        with pytest.raises(OSError) as info:
            backend.rmdir("d")
        assert info.value.errno == errno.ENOTEMPTY
        assert read(backend, "d/f") == b"x"

    def test_rmdir_missing(self, backend: SmbBackend) -> None:
        with pytest.raises(FileNotFoundError):
            backend.rmdir("missing")

    @pytest.mark.parametrize("when", [T1, T2, 1_234_567_891])
    def test_set_mtime_keeps_100ns(self, backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                   when: int) -> None:
        write(backend, "d/f", b"x")
        backend.set_mtime("d/f", when)
        want = when // 100 * 100
        e = backend.stat("d/f")
        assert e is not None and e.mtime_ns == want
        (listed,) = list(backend.list_dir("d"))
        assert listed.mtime_ns == want
        # what Samba really stored on disk: the same 100 ns value
        assert os.stat(on_disk(smbd_server, backend, "d/f")).st_mtime_ns == want

    def test_set_mtime_on_directory(self, backend: SmbBackend) -> None:
        backend.mkdir("d")
        backend.set_mtime("d", T2)
        d = backend.stat("d")
        assert d is not None and d.mtime_ns == T2
        assert [e.mtime_ns for e in backend.list_dir("")] == [T2]

    def test_set_mtime_missing(self, backend: SmbBackend) -> None:
        with pytest.raises(FileNotFoundError):
            backend.set_mtime("missing", T1)

    def test_mtime_is_recent_after_write(self, backend: SmbBackend) -> None:
        write(backend, "f", b"x")
        e = backend.stat("f")
        assert e is not None and abs(e.mtime_ns - time.time_ns()) < 120e9

    def test_hash_is_none(self, backend: SmbBackend) -> None:
        write(backend, "f", b"some content")
        assert backend.hash("f", "md5") is None
        assert backend.hash("missing", "md5") is None

    def test_unicode_and_spaces(self, backend: SmbBackend) -> None:
        write(backend, "dir with space/ünï cödé.txt", b"u")
        assert listing(backend, "dir with space") == [("dir with space/ünï cödé.txt", 1, False)]

    def test_open_missing(self, backend: SmbBackend) -> None:
        with pytest.raises(FileNotFoundError):
            backend.open_read("missing")
        backend.mkdir("d")
        with pytest.raises(IsADirectoryError):
            backend.open_write("d")


# ----- SMB specifics -------------------------------------------------------------------------


class TestSmb:
    def test_listing_is_one_batch_per_buffer_and_exact(self, backend: SmbBackend,
                                                       smbd_server: SmbdServer,  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        """Many entries over several QUERY_DIRECTORY answers; times equal stat()'s."""
        root = on_disk(smbd_server, backend, "many")
        root.mkdir()
        names = {f"file-{i:05d}-{'x' * (i % 40)}.dat" for i in range(1200)}
        for i, n in enumerate(sorted(names)):
            (root / n).write_bytes(b"y" * (i % 7))
            os.utime(root / n, ns=(T1 + i * 1000, T1 + i * 1000 + 37))
        monkeypatch.setattr(smb_mod, "_LIST_BUFFER", 64 * 1024)  # force several batches
        entries = {e.name: e for e in backend.list_dir("many")}
        assert set(entries) == names
        for i, n in enumerate(sorted(names)):
            assert entries[n].size == i % 7
            assert entries[n].mtime_ns == (T1 + i * 1000 + 37) // 100 * 100
        sample = sorted(names)[777]
        assert backend.stat(f"many/{sample}") == entries[sample]

    @pytest.mark.parametrize("count, name_len, buffer", [
        (300, 120, 16 * 1024),  # the answer buffer made small for the test
        (2600, 200, None),  # the real 1 MiB buffer: ~1.3 MB of records
    ])
    def test_listing_larger_than_one_answer_is_complete(
            self, backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
            monkeypatch: pytest.MonkeyPatch, count: int, name_len: int,
            buffer: int | None) -> None:
        """The compound's first answer cannot hold them all: the directory is listed again
        in batches, every entry exactly once, with its size and 100 ns time."""
        root = on_disk(smbd_server, backend, "big")
        root.mkdir()
        names = [f"{i:05d}-" + "n" * (name_len - 6) for i in range(count)]
        for i, n in enumerate(names):
            if i % 97 == 5:
                (root / n).mkdir()
            else:
                (root / n).write_bytes(b"z" * (i % 11))
            os.utime(root / n, ns=(T2, T1 + i * 100_001))
        if buffer is not None:
            monkeypatch.setattr(smb_mod, "_LIST_BUFFER", buffer)
        _one_connection(backend)
        sends = _count_sends(monkeypatch)
        entries = list(backend.list_dir("big"))
        assert len(sends) > 1  # the batch path really ran
        assert sorted(e.path for e in entries) == [f"big/{n}" for n in names]
        by_name = {e.name: e for e in entries}
        for i, n in enumerate(names):
            e = by_name[n]
            assert e.is_dir == (i % 97 == 5)
            assert e.size == (-1 if e.is_dir else i % 11)
            assert e.mtime_ns == (T1 + i * 100_001) // 100 * 100

    def test_small_listing_is_one_round_trip(self, backend: SmbBackend,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
        """CREATE, QUERY_DIRECTORY, QUERY_DIRECTORY and CLOSE go out in one TCP send, and
        each is answered (no request left pending, the credits come back)."""
        for i in range(40):
            write(backend, f"d/f{i:02d}", b"x" * i)
        backend.mkdir("d/sub")
        backend.mkdir("empty")
        conn = _one_connection(backend)
        sends = _count_sends(monkeypatch)
        before = dict(conn.sequence_window)
        assert listing(backend, "d") == sorted(
            [(f"d/f{i:02d}", i, False) for i in range(40)] + [("d/sub", -1, True)])
        assert len(sends) == 1
        assert listing(backend, "empty") == []
        assert len(sends) == 2
        assert conn.outstanding_requests == {}
        after = conn.sequence_window
        assert after["high"] - after["low"] >= before["high"] - before["low"]
        assert backend.connections == 1

    def test_listing_with_few_credits_uses_batches(self, backend: SmbBackend,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
        """Too few credits for the compound: the open-query-close path still lists."""
        write(backend, "d/a", b"1")
        write(backend, "d/b", b"22")
        conn = _one_connection(backend)
        if not conn.supports_multi_credit:
            pytest.skip("the server negotiated SMB 2.0.2 (no credit charges)")
        with conn.sequence_lock:  # pretend only 3 credits are left (the server has more)
            conn.sequence_window["high"] = conn.sequence_window["low"] + 3
        sends = _count_sends(monkeypatch)
        assert listing(backend, "d") == [("d/a", 1, False), ("d/b", 2, False)]
        assert len(sends) > 1
        assert conn.outstanding_requests == {}
        sends.clear()
        assert listing(backend, "d") == [("d/a", 1, False), ("d/b", 2, False)]
        assert len(sends) == 1  # the batch path asked for credits: the compound fits again

    def test_listing_errors_keep_the_connection(self, backend: SmbBackend,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
        """A missing directory or a file is DirNotFoundError (one round trip); every answer
        of the failed compound is collected and the connection is kept and still works."""
        write(backend, "file", b"x")
        backend.mkdir("d")
        conn = _one_connection(backend)
        sends = _count_sends(monkeypatch)
        for path in ("missing", "missing/deeper", "file", "file/below", "d/missing"):
            sends.clear()
            with pytest.raises(DirNotFoundError) as info:
                list(backend.list_dir(path))
            assert isinstance(info.value, FileNotFoundError)
            assert info.value.exit_code == EXIT_DIR_NOT_FOUND
            assert len(sends) == 1, path
            assert conn.outstanding_requests == {}
        assert _the_connection(backend) is conn and backend.connections == 1
        sends.clear()
        assert listing(backend) == [("d", -1, True), ("file", 1, False)]
        assert len(sends) == 1

    def test_connection_lost_during_a_listing(self, backend: SmbBackend,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
        """The socket goes away with the compound: a retryable SmbConnectionError, the
        connection is dropped from the pool and the next listing reconnects."""
        backend.mkdir("d")
        _one_connection(backend)
        real = smb_mod._Tcp.send

        def lose(self: smb_transport.Tcp, data: bytes) -> None:
            monkeypatch.setattr(smb_mod._Tcp, "send", real)
            self.close()  # the requests never reach the server, no answer ever comes

        monkeypatch.setattr(smb_mod._Tcp, "send", lose)
        with pytest.raises(ConnectionResetError) as info:  # SmbConnectionError
            list(backend.list_dir("d"))
        assert info.value.retryable  # type: ignore[attr-defined]
        assert backend.connections == 0
        assert listing(backend) == [("d", -1, True)]
        assert backend.connections == 1

    def test_names_are_encoded_like_rclone(self, backend: SmbBackend,
                                           smbd_server: SmbdServer) -> None:  # noqa: F811
        names = ["a:b?.txt ", "star*.", 'q"<>|', "back\\slash", "ctl\x01x", "fw：colon", "．",
                 "．．", "‛．", "bad\udcff"]
        for n in names:
            write(backend, n, n.encode("utf-8", "surrogateescape"))
        assert sorted(os.listdir(on_disk(smbd_server, backend))) == sorted([
            "a：b？.txt␠", "star＊．", "q＂＜＞｜", "back＼slash", "ctl␁x", "fw‛：colon", "．",
            "．．", "‛．", "bad‛FF"])
        assert sorted(e.name for e in backend.list_dir("")) == sorted(names)
        for n in names:
            assert read(backend, n) == n.encode("utf-8", "surrogateescape")

    def test_names_match_what_rclone_writes(self, backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                            conf: Path, tmp_path: Path) -> None:
        """rclone copies awkward local names to the share; pysync lists the local names."""
        names = {"a:b", "x*y?", "end.", "end ", "．", "fw＊", "c\x01d", "<q>|\"", "back\\s",
                 "~t", " lead", "#%;!$`'[]"}
        src = tmp_path / "names"
        src.mkdir()
        for n in names:
            (src / n).write_bytes(n.encode())
        res = subprocess.run(["rclone", "--config", str(conf), "copy", str(src),
                              f"smbt:{smbd_server.share}/{backend.base}"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
        assert {e.name for e in backend.list_dir("")} == names
        assert set(os.listdir(on_disk(smbd_server, backend))) == \
            {backend.to_server(n) for n in names}

    @pytest.mark.parametrize("name, encoded", [
        ("plain.txt", "plain.txt"),
        (".", "．"), ("..", "．．"), ("．", "‛．"),
        ("a:b", "a：b"), ("a：b", "a‛：b"), ("tail ", "tail␠"), ("tail.", "tail．"),
        ("tail␠", "tail‛␠"), (" lead", " lead"), ("nul\x00", "nul␀"), ("q‛", "q‛‛"),
        ("bad\udcff", "bad‛FF"), ("del\x7f", "del\x7f"),
    ])
    def test_name_encoder(self, name: str, encoded: str) -> None:
        enc = NameEncoder()
        assert enc.encode(name) == encoded
        assert enc.decode(encoded) == name

    def test_ascii_fast_path_gives_what_the_full_rules_give(self) -> None:
        """encode/decode skip the rules for ASCII names that need none: for many masks
        and random short names (ASCII with every edge and special character, and encoded
        forms) the result is the full rules' result."""
        masks = [smb_mod.DEFAULT_ENCODING, smb_mod.BASE_ENCODING, 0]
        masks += [random.Random(i).getrandbits(31) & ~1 for i in range(24)]  # 1: Raw
        alphabet = [chr(i) for i in range(128)] + ["．", "‛", "␠", "～", "␀", "␊", "\udc81",
                                                   "é"]
        rng = random.Random(12)
        for mask in masks:
            enc = NameEncoder(mask)
            for _ in range(1500):
                name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 5)))
                assert enc.encode(name) == enc._encode(name), (mask, name)
                assert enc.decode(name) == enc._decode(name), (mask, name)

    def test_encoding_option(self) -> None:
        assert parse_encoding("Raw") == 1
        assert parse_encoding("Slash,Colon") == 2 | 128
        assert NameEncoder(parse_encoding("Raw")).encode("a:b") == "a:b"
        with pytest.raises(ConfigError, match="bad encoding"):
            parse_encoding("Nope")

    def test_root_is_a_file(self, backend: SmbBackend, smbd_server: SmbdServer) -> None:  # noqa: F811
        write(backend, "f.bin", b"12345")
        b = _new_backend(smbd_server, f"{backend.base}/f.bin")
        try:
            e = b.stat("")
            assert e is not None and not e.is_dir and e.size == 5
        finally:
            b.close()

    def test_share_root_and_server_root(self, smbd_server: SmbdServer) -> None:  # noqa: F811
        b = _new_backend(smbd_server, "")
        top = SmbBackend(smbd_server.host, "", user=smbd_server.user,
                         password=smbd_server.password, port=smbd_server.port)
        try:
            assert b.describe().endswith(f":{smbd_server.port}/{smbd_server.share}/")
            assert top.describe() == f"smb://{smbd_server.user}@127.0.0.1:{smbd_server.port}/"
            b.mkdir("")  # the share itself: nothing to do
            b.rmdir("")
            root = b.stat("")
            assert root is not None and root.is_dir
            assert top.stat("") == Entry("", -1, 0, True)
            with pytest.raises(OSError) as info:
                list(top.list_dir(""))
            assert info.value.errno == errno.EOPNOTSUPP
            assert {e.name for e in top.list_dir(smbd_server.share)} == \
                set(os.listdir(smbd_server.share_path))
        finally:
            b.close()
            top.close()

    def test_missing_share(self, smbd_server: SmbdServer) -> None:  # noqa: F811
        b = SmbBackend(smbd_server.host, "noshare/dir", user=smbd_server.user,
                       password=smbd_server.password, port=smbd_server.port)
        try:
            assert b.stat("") is None
            with pytest.raises(DirNotFoundError):
                list(b.list_dir(""))
        finally:
            b.close()

    def test_concurrent_use_from_many_threads(self, backend: SmbBackend) -> None:
        """Separate connections per concurrent operation; nothing mixed up or lost."""
        errors: list[BaseException] = []
        rng = random.Random(7)
        payloads = {f"t{t}/f{i}": rng.randbytes(rng.randint(0, 600_000))
                    for t in range(12) for i in range(6)}
        barrier = threading.Barrier(12)

        def worker(t: int) -> None:
            try:
                barrier.wait()
                for i in range(6):
                    path = f"t{t}/f{i}"
                    write(backend, path + ".partial", payloads[path])
                    backend.set_mtime(path + ".partial", T1 + t * 100 + i)
                    backend.rename(path + ".partial", path)
                    assert read(backend, path) == payloads[path]
                    e = backend.stat(path)
                    assert e is not None and e.size == len(payloads[path])
                    assert e.mtime_ns == (T1 + t * 100 + i) // 100 * 100
                    assert len(list(backend.list_dir(f"t{t}"))) == i + 1
            except BaseException as err:  # reported by the main thread
                errors.append(err)

        _in_threads(worker, 12)
        assert not errors, errors[0]
        assert 2 <= backend.connections <= 24
        # a reader opened in one thread, read in another, closed in a third
        reader = backend.open_read("t3/f2")
        out: list[bytes] = []
        th = threading.Thread(target=lambda: out.append(reader.read()))
        th.start()
        th.join(30)
        closer = threading.Thread(target=reader.close)
        closer.start()
        closer.join(30)
        assert out == [payloads["t3/f2"]]
        backend.close()
        assert backend.connections == 0
        assert read(backend, "t0/f0") == payloads["t0/f0"]  # reconnects after close()

    def test_connections_are_set_up_one_at_a_time(self, backend: SmbBackend,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
        """Twelve threads listing and reading at once on a fresh pool: set-ups never
        overlap, the pool grows only while threads find no idle connection, and every
        listing is right."""
        for t in range(12):
            write(backend, f"d{t}/f", b"x" * t)
        backend.close()  # a fresh pool
        pool = backend._pool
        active, peak, setups = [0], [0], [0]
        lock = threading.Lock()
        real_connect = pool._connect

        def counting_connect(slot: Any) -> None:
            with lock:
                active[0] += 1
                setups[0] += 1
                peak[0] = max(peak[0], active[0])
            try:
                time.sleep(0.05)  # a slow set-up, so that the others pile up behind it
                real_connect(slot)
            finally:
                with lock:
                    active[0] -= 1

        monkeypatch.setattr(pool, "_connect", counting_connect)
        barrier = threading.Barrier(12)
        results: dict[int, list[tuple[str, int, bool]]] = {}
        errors: list[BaseException] = []

        def worker(t: int) -> None:
            try:
                barrier.wait()
                for _ in range(5):
                    results[t] = listing(backend, f"d{t}")
                    assert read(backend, f"d{t}/f") == b"x" * t  # a connection of its own
            except BaseException as err:  # reported by the main thread
                errors.append(err)

        _in_threads(worker, 12)
        assert not errors, errors[0]
        assert results == {t: [(f"d{t}/f", t, False)] for t in range(12)}
        assert peak[0] == 1  # never two set-ups at once
        assert 1 <= setups[0] == backend.connections <= 13

    def test_concurrent_listings_share_one_connection_within_its_credits(
            self, backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
            monkeypatch: pytest.MonkeyPatch) -> None:
        """Sixteen threads listing large directories at once share one connection (one
        session set-up): each answer wants more credits than the connection has spare
        while the others are in flight, so listings wait for credits to come back; every
        listing is complete."""
        names = {d: sorted(f"file-{d:02d}-{i:05d}-{'n' * 30}.dat" for i in range(1200))
                 for d in range(8)}
        for d, files in names.items():
            folder = on_disk(smbd_server, backend, f"d{d}")
            folder.mkdir()
            for name in files:
                (folder / name).write_bytes(b"")
        backend.close()  # a fresh pool
        least: list[int] = []
        real_spare = smb_mod._spare_credits

        def spare(conn: Any, *args: Any, **kw: Any) -> int:
            least.append(conn.sequence_window["high"] - conn.sequence_window["low"])
            return real_spare(conn, *args, **kw)

        monkeypatch.setattr(smb_mod, "_spare_credits", spare)
        barrier = threading.Barrier(16)
        errors: list[BaseException] = []
        results: dict[int, list[list[str]]] = {t: [] for t in range(16)}

        def worker(t: int) -> None:
            try:
                barrier.wait()
                for _ in range(3):
                    entries = list(backend.list_dir(f"d{t % 8}"))
                    results[t].append([e.path.rpartition("/")[2] for e in entries])
            except BaseException as err:  # reported by the main thread
                errors.append(err)

        _in_threads(worker, 16)
        assert not errors, errors[0]
        assert all(got == [names[t % 8]] * 3 for t, got in results.items())
        assert backend.connections == 1
        assert min(least) < 19  # a full 1 MiB listing compound: 16 + 3 credits

    def test_a_failed_set_up_does_not_strand_the_waiting_threads(
            self, smbd_server: SmbdServer) -> None:  # noqa: F811
        b = SmbBackend(smbd_server.host, smbd_server.share, user=smbd_server.user,
                       password="Wrong-" + uuid.uuid4().hex, port=smbd_server.port)
        outcome: list[str] = []
        barrier = threading.Barrier(6)

        def worker(_: int) -> None:
            barrier.wait()
            try:
                b.stat("x")
                outcome.append("ok")
            except SmbAuthError:
                outcome.append("auth")

        try:
            _in_threads(worker, 6)  # each waiter gets its turn: every thread ends
            assert outcome == ["auth"] * 6
            assert b.connections == 0
        finally:
            b.close()

    def test_lost_connections_are_reported_and_replaced(self, backend: SmbBackend,
                                                        smbd_server: SmbdServer,  # noqa: F811
                                                        ) -> None:
        write(backend, "f", b"data" * 1000)
        reader = backend.open_read("f")
        assert smbd_server.kill_client_connections() >= 1
        with pytest.raises(ConnectionResetError) as info:  # SmbConnectionError
            reader.read()
        assert info.value.errno == errno.ECONNRESET and info.value.retryable  # type: ignore[attr-defined]
        reader.close()
        deadline = time.monotonic() + 5
        while True:  # the next operations reconnect (a stale idle one may fail once)
            try:
                assert read(backend, "f") == b"data" * 1000
                break
            except ConnectionResetError:
                assert time.monotonic() < deadline
        assert backend.stat("f") is not None

    def test_case_insensitive_server(self, backend: SmbBackend) -> None:
        write(backend, "Mixed.TXT", b"m")
        e = backend.stat("mixed.txt")
        assert e is not None and e.size == 1
        assert backend.features.case_insensitive

    def test_listing_is_sorted_by_server_name(self, backend: SmbBackend,
                                              smbd_server: SmbdServer) -> None:  # noqa: F811
        """rclone's SMB client sorts a listing by name (go-smb2's ReadDir), whatever order
        the server sends; the march keeps the first of case or NFC/NFD twins in it."""
        on_share = smbd_server.share_path / backend.base.rsplit("/", 1)[-1]
        for name in ("index@.fdb", "zz", "INDEX@.FDB", "nai\u0308ve", "na\u00efve", "B"):
            (on_share / name).write_bytes(b"x")
        names = [e.name for e in backend.list_dir("")]
        assert names == sorted(names)
        assert names.index("INDEX@.FDB") < names.index("index@.fdb")
        assert names.index("nai\u0308ve") < names.index("na\u00efve")

    def test_case_twins_pair_with_the_first_listed_destination_twin(
            self, conf: Path, smbd_server: SmbdServer, tmp_path: Path) -> None:  # noqa: F811
        """A source file pairs with the destination twin rclone keeps (``INDEX@.FDB`` lists
        before ``index@.fdb``): that one is replaced, the other is left alone."""
        src = tmp_path / "src"
        src.mkdir()
        (src / "index@.fdb").write_bytes(b"new")
        sub = f"twins-{uuid.uuid4().hex[:8]}"
        on_share = smbd_server.share_path / sub
        on_share.mkdir()
        (on_share / "index@.fdb").write_bytes(b"old lower")
        (on_share / "INDEX@.FDB").write_bytes(b"old upper")
        res = pysync("copy", "--config", str(conf), str(src), f"smbt:{smbd_server.share}/{sub}",
                     "-v")
        assert res.returncode == 0, res.stderr
        assert "index@.fdb: Copied (replaced existing) to: INDEX@.FDB" in res.stderr
        assert (on_share / "INDEX@.FDB").read_bytes() == b"new"
        assert (on_share / "index@.fdb").read_bytes() == b"old lower"

    def test_idle_connections_are_closed(self, smbd_server: SmbdServer,  # noqa: F811
                                         obscured: str) -> None:
        opts = {**smbd_server.options(obscured), "idle_timeout": "200ms"}
        b = open_remote("idle", opts, smbd_server.share)
        try:
            assert b.stat("") is not None
            assert b.connections == 1
            deadline = time.monotonic() + 5
            while b.connections and time.monotonic() < deadline:
                time.sleep(0.05)
            assert b.connections == 0
            assert b.stat("") is not None  # and a new one comes when needed
        finally:
            b.close()


# ----- options, passwords, errors ------------------------------------------------------------


class TestOptionsAndErrors:
    def test_reveal_matches_rclone_obscure(self) -> None:
        for text in ("s3cret", "pässwörd with spaces", ""):
            assert reveal(_rclone_obscure(text)) == text
        with pytest.raises(ConfigError, match="is it obscured") as info:
            reveal("not*base64")
        assert "not*base64" not in str(info.value)
        with pytest.raises(ConfigError, match="too short"):
            reveal("YWJj")

    def test_open_remote_options(self, smbd_server: SmbdServer, obscured: str) -> None:  # noqa: F811
        opts = smbd_server.options(obscured)
        b = open_remote("r", {**opts, "case_insensitive": "false", "domain": ""}, "s/d/")
        assert not b.features.case_insensitive
        assert (b.share, b.base, b.port) == ("s", "d", smbd_server.port)
        d = open_remote("r", {"type": "smb", "host": "127.0.0.1"}, "")
        assert d.port == 445 and d.user and d.features.case_insensitive
        assert d.describe() == f"smb://{d.user}@127.0.0.1:445/"
        for bad in ({"port": "x"}, {"port": "70000"}, {"case_insensitive": "maybe"},
                    {"idle_timeout": "soon"}, {"host": ""}, {"encoding": "Bogus"},
                    {"pass": "@@@"}):
            with pytest.raises(ConfigError):
                open_remote("r", {**opts, **bad}, "s")

    def test_open_backend_dispatches_to_smb(self, conf: Path, smbd_server: SmbdServer  # noqa: F811
                                            ) -> None:
        b = open_backend(f"smbt:{smbd_server.share}/x", config_path=str(conf))
        try:
            assert isinstance(b, SmbBackend)
            assert b.describe().endswith(f"/{smbd_server.share}/x")
            assert b.stat("") is None or b.stat("") is not None  # connects fine
        finally:
            b.close()

    def test_wrong_password(self, smbd_server: SmbdServer, caplog: pytest.LogCaptureFixture  # noqa: F811
                            ) -> None:
        secret = "Very-Wrong-" + uuid.uuid4().hex
        caplog.set_level(logging.DEBUG)
        b = SmbBackend(smbd_server.host, smbd_server.share, user=smbd_server.user,
                       password=secret, port=smbd_server.port)
        try:
            with pytest.raises(SmbAuthError) as info:
                b.stat("x")
            err = info.value
            assert isinstance(err, PermissionError) and isinstance(err, ConfigError)
            assert err.errno == errno.EACCES and err.exit_code == 1 and not err.retryable
            text = str(err)
            assert "authentication failed" in text and "STATUS_LOGON_FAILURE" in text
            assert f'user "{smbd_server.user}"' in text
            hashed = smb_mod._ntlm_secret(secret).split(":")[1]  # what the session got
            for shown in (text, repr(err), repr(err.args), repr(b), b.describe(),
                          repr(b._pool), caplog.text):
                assert secret not in shown and hashed not in shown.lower()
            with pytest.raises(SmbAuthError):
                list(b.list_dir(""))
            assert b.connections == 0
        finally:
            b.close()

    def test_session_set_up_from_the_nt_hash(self, smbd_server: SmbdServer,  # noqa: F811
                                             monkeypatch: pytest.MonkeyPatch) -> None:
        """An NTLM session is set up from the password's NT hash, worked out once per
        pool: spnego's pure-Python DES (the LM hash, unused by NTLMv2) is never run, and
        the session authenticates (two connections, one hash). LM_COMPAT_LEVEL below 2
        (LM responses wanted) gets the password itself."""
        from spnego._ntlm_raw import crypto

        assert smb_mod._ntlm_secret("pw") == "0" * 32 + ":" + crypto.ntowfv1("pw").hex()
        assert smb_mod._ntlm_secret("") == ""
        hashed = "a" * 32 + ":" + "b" * 32
        assert smb_mod._ntlm_secret(hashed) == hashed
        ran: list[str] = []
        real_des, real_md4 = crypto.DES, crypto.md4
        monkeypatch.setattr(crypto, "DES", lambda *a: ran.append("des") or real_des(*a))
        monkeypatch.setattr(crypto, "md4", lambda *a: ran.append("md4") or real_md4(*a))
        b = SmbBackend(smbd_server.host, smbd_server.share, user=smbd_server.user,
                       password=smbd_server.password, port=smbd_server.port)
        try:
            assert ran == ["md4"]  # once, when the pool was made
            one, two = b._pool.acquire(), b._pool.acquire()  # two session set-ups
            b._pool.release(one)
            b._pool.release(two)
            assert b.connections == 2 and ran == ["md4"]
            assert b.stat("") is not None
        finally:
            b.close()
        monkeypatch.setenv("LM_COMPAT_LEVEL", "1")
        assert smb_mod._ntlm_secret("pw") == "pw"
        monkeypatch.setenv("LM_COMPAT_LEVEL", "x")
        assert smb_mod._ntlm_secret("pw") == "pw"

    def test_wrong_password_cli(self, conf: Path, smbd_server: SmbdServer) -> None:  # noqa: F811
        res = pysync("lsf", "--config", str(conf), "-vv", f"smbbad:{smbd_server.share}/")
        assert res.returncode == 1
        out = res.stdout + res.stderr
        assert "authentication failed" in out and "Traceback" not in out
        assert "Wrong-pw-4711" not in out and _pass_of(conf, "smbbad") not in out
        res = pysync("lsf", "--config", str(conf), "smbt:")  # no share: a clear error
        assert res.returncode == 1 and "listing the shares of a server is not supported" in \
            res.stderr and "Traceback" not in res.stderr

    def test_connection_refused(self, smbd_server: SmbdServer) -> None:  # noqa: F811
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        b = SmbBackend("127.0.0.1", "share", user="u", password="pw-xyz", port=port)
        with pytest.raises(SmbConnectionError) as info:
            b.stat("")
        assert isinstance(info.value, ConnectionError)
        assert info.value.errno == errno.ECONNREFUSED and info.value.retryable
        assert "pw-xyz" not in str(info.value)
        b.close()


def _pass_of(conf: Path, section: str) -> str:
    lines = conf.read_text().split(f"[{section}]", 1)[1].splitlines()
    return next(line.split("=", 1)[1].strip() for line in lines if line.startswith("pass"))


# ----- the CLI through an rclone.conf --------------------------------------------------------


def pysync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "syncengine", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath, f)
            out[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mtime_ns)
    return out


def test_cli_copy_sync_check_roundtrip(conf: Path, smbd_server: SmbdServer,  # noqa: F811
                                       tmp_path: Path) -> None:
    """pysync copy/sync to an smb remote and back, check without a common hash, 8 transfers."""
    src = tmp_path / "src"
    rng = random.Random(3)
    for i in range(30):
        p = src / f"d{i % 4}" / f"file {i}.bin"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(rng.randint(0, 200_000)))
        os.utime(p, ns=(OLD, OLD + i * 1_000_003))
    (src / "big.bin").write_bytes(rng.randbytes(9 * 1024 * 1024))
    (src / "odd: name?.txt").write_bytes(b"odd")
    remote = f"smbt:{smbd_server.share}/cli-{uuid.uuid4().hex[:8]}"
    on_share = smbd_server.share_path / remote.rsplit("/", 1)[1]

    res = pysync("copy", "--config", str(conf), str(src), remote, "--transfers", "8")
    assert res.returncode == 0, res.stderr
    want = _tree(src)
    got = _tree(on_share)
    assert {k.replace("：", ":").replace("？", "?") for k in got} == set(want)
    for rel, (data, mtime) in want.items():
        enc = rel.replace(":", "：").replace("?", "？")
        assert got[enc] == (data, mtime // 100 * 100)

    for flag in ("--size-only", "--download"):
        res = pysync("check", "--config", str(conf), str(src), remote, flag)
        assert res.returncode == 0, res.stderr
        assert "0 differences found" in res.stderr and f"{len(want)} matching files" in res.stderr

    # sync: an extra file on the share goes, an unchanged tree transfers nothing
    (on_share / "extra.txt").write_bytes(b"extra")
    res = pysync("sync", "--config", str(conf), str(src), remote, "--transfers", "8", "-v")
    assert res.returncode == 0, res.stderr
    assert "extra.txt: Deleted" in res.stderr and "Copied" not in res.stderr
    assert not (on_share / "extra.txt").exists()
    res = pysync("sync", "--config", str(conf), str(src), remote, "-v")
    assert res.returncode == 0 and "There was nothing to transfer" in res.stderr, res.stderr

    # and back to a local tree: same data, the 100 ns times the share keeps
    back = tmp_path / "back"
    res = pysync("sync", "--config", str(conf), remote, str(back), "--transfers", "8")
    assert res.returncode == 0, res.stderr
    assert _tree(back) == {rel: (data, mtime // 100 * 100) for rel, (data, mtime) in want.items()}
    res = pysync("check", "--config", str(conf), remote, str(back), "--download")
    assert res.returncode == 0 and "0 differences found" in res.stderr, res.stderr

    # the real rclone agrees with what pysync wrote (same name encoding, same sizes)
    rc = subprocess.run(["rclone", "--config", str(conf), "check", "--size-only", str(src),
                         remote], capture_output=True, text=True, timeout=60)
    assert rc.returncode == 0, rc.stderr
    assert "0 differences found" in rc.stderr
