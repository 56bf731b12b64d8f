"""Several SMB READ/WRITE requests in flight per open file, against the real smbd."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from smbprotocol import transport as smb_transport

from syncengine.backends import smb as smb_mod
from syncengine.backends.smb import SmbBackend

from .smbd import SmbdServer, smbd_server  # noqa: F401 - the module-scoped fixture

_READ, _WRITE = 8, 9


@pytest.fixture
def backend(smbd_server: SmbdServer) -> Iterator[SmbBackend]:  # noqa: F811
    sub = f"p-{uuid.uuid4().hex[:12]}"
    b = SmbBackend(smbd_server.host, f"{smbd_server.share}/{sub}", user=smbd_server.user,
                   password=smbd_server.password, port=smbd_server.port)
    b.mkdir("")
    try:
        yield b
    finally:
        b.close()
        shutil.rmtree(smbd_server.share_path / sub, ignore_errors=True)


def _in_flight(monkeypatch: pytest.MonkeyPatch, conn: Any, command: int) -> list[int]:
    """From now on, for each ``command`` request sent on ``conn``: how many requests of
    ``conn`` were already waiting for their answer."""
    seen: list[int] = []
    real, real_parts = smb_mod._Tcp.send, smb_mod._Tcp.send_parts

    def note(data: bytes) -> None:
        if data[:4] == b"\xfeSMB" and struct.unpack_from("<H", data, 12)[0] == command:
            seen.append(len(conn.outstanding_requests) - 1)

    def send(self: smb_transport.Tcp, data: bytes) -> None:
        note(data)
        real(self, data)

    def send_parts(self: smb_transport.Tcp, head: bytes, data: Any) -> None:
        note(head)  # a WRITE packed by smbraw: header and body head, then the data
        real_parts(self, head, data)

    monkeypatch.setattr(smb_mod._Tcp, "send", send)
    monkeypatch.setattr(smb_mod._Tcp, "send_parts", send_parts)
    return seen


def _connection(b: SmbBackend) -> Any:
    slot = b._pool.acquire()
    try:
        (conn,) = slot.cache.values()
        return conn
    finally:
        b._pool.release(slot)


def test_writes_are_pipelined_and_complete(backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A 7 MiB write goes out as several WRITE requests before the first answer; every
    byte lands, no request is left pending and the credits come back."""
    list(backend.list_dir(""))
    conn = _connection(backend)
    before = conn.sequence_window["high"] - conn.sequence_window["low"]
    data = os.urandom(7 * 1024 * 1024 + 5)
    seen = _in_flight(monkeypatch, conn, _WRITE)
    with backend.open_write("f.bin") as fh:
        fh.write(data[:3])
        fh.write(memoryview(data)[3:])
    assert len(seen) >= 7 and max(seen) >= 2
    assert (smbd_server.share_path / backend.base / "f.bin").read_bytes() == data
    assert conn.outstanding_requests == {}
    after = conn.sequence_window["high"] - conn.sequence_window["low"]
    assert after >= before


def test_reads_are_pipelined_from_any_offset(backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """READ requests run ahead of the position; odd buffer sizes and a start offset read
    exactly the file's bytes, then 0 at its end."""
    data = os.urandom(9 * 1024 * 1024 + 77)
    (smbd_server.share_path / backend.base / "r.bin").write_bytes(data)
    list(backend.list_dir(""))
    conn = _connection(backend)
    seen = _in_flight(monkeypatch, conn, _READ)
    with backend.open_read("r.bin") as fh:
        assert fh.read() == data
    assert max(seen) >= 2
    for offset, size in ((len(data) - 3000, 1), (12345, 777_777), (8 * 1024 * 1024 + 3, 4096)):
        with backend.open_read("r.bin", offset) as fh:
            buf = bytearray(size)
            got = bytearray()
            while n := fh.readinto(buf):
                got += buf[:n]
            assert bytes(got) == data[offset:]
            assert fh.readinto(buf) == 0
    assert conn.outstanding_requests == {}


def test_reader_closed_early_leaves_the_connection_usable(backend: SmbBackend,
                                                         smbd_server: SmbdServer  # noqa: F811
                                                         ) -> None:
    """Closing a reader with requests still in flight receives them: the pooled connection
    is reused and answers the next request correctly."""
    data = os.urandom(6 * 1024 * 1024)
    (smbd_server.share_path / backend.base / "e.bin").write_bytes(data)
    list(backend.list_dir(""))
    conn = _connection(backend)
    with backend.open_read("e.bin") as fh:
        assert fh.read(1000) == data[:1000]
    assert backend.connections == 1 and _connection(backend) is conn
    assert conn.outstanding_requests == {}
    with backend.open_read("e.bin", 5 * 1024 * 1024) as fh:
        assert fh.read() == data[5 * 1024 * 1024:]


def test_small_request_size_still_correct(backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """With 64 KiB requests and a 256 KiB window (many more requests than the window
    holds) a write and a read round-trip unchanged."""
    monkeypatch.setattr(smb_mod, "_IO_REQUEST", 64 * 1024)
    monkeypatch.setattr(smb_mod, "_IO_WINDOW", 256 * 1024)
    data = os.urandom(3 * 1024 * 1024 + 999)
    with backend.open_write("s.bin") as fh:
        fh.write(data)
    assert (smbd_server.share_path / backend.base / "s.bin").read_bytes() == data
    with backend.open_read("s.bin") as fh:
        assert fh.read() == data


def _messages(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """From now on, the command of the first request of each message (a compound's first
    request) sent on any connection: one entry per round trip."""
    sent: list[int] = []
    real, real_parts = smb_mod._Tcp.send, smb_mod._Tcp.send_parts

    def note(data: bytes) -> None:
        if data[:4] == b"\xfeSMB":
            sent.append(struct.unpack_from("<H", data, 12)[0])

    def send(self: smb_transport.Tcp, data: bytes) -> None:
        note(data)
        real(self, data)

    def send_parts(self: smb_transport.Tcp, head: bytes, data: Any) -> None:
        note(head)
        real_parts(self, head, data)

    monkeypatch.setattr(smb_mod._Tcp, "send", send)
    monkeypatch.setattr(smb_mod._Tcp, "send_parts", send_parts)
    return sent


_CREATE, _CLOSE, _SET_INFO = 5, 6, 17
_MTIME = 1_600_000_000_123_456_789


def _small_files(folder: Path, n: int) -> int:
    """``n`` files ``f<i>.txt`` of 1-78 KB in ``folder`` (made), each with its own time."""
    folder.mkdir(exist_ok=True)
    for i in range(n):
        p = folder / f"f{i}.txt"
        p.write_bytes(os.urandom(1000 + 7000 * i))
        os.utime(p, ns=(_MTIME, _MTIME + i * 1000))
    return n


def test_time_set_in_the_close(backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``time_at_close``: the close sends SET_INFO and CLOSE in one message; the server
    keeps that time (100 ns resolution, as set_mtime) and the close reports the size."""
    data = os.urandom(300_001)
    list(backend.list_dir(""))
    sent = _messages(monkeypatch)
    fh = backend.open_write("t.bin")
    fh.write(data)
    fh.time_at_close(_MTIME)  # type: ignore[attr-defined]
    fh.close()
    assert sent[0] == _CREATE and sent[-1] == _SET_INFO
    assert _CLOSE not in sent
    assert fh.closed_size == len(data)  # type: ignore[attr-defined]
    on_share = smbd_server.share_path / backend.base / "t.bin"
    assert on_share.read_bytes() == data
    assert on_share.stat().st_mtime_ns == _MTIME // 100 * 100
    entry = backend.stat("t.bin")
    assert entry is not None and entry.mtime_ns == _MTIME // 100 * 100
    # without it: a plain CLOSE, the size unknown
    fh = backend.open_write("u.bin")
    fh.write(b"x")
    fh.close()
    assert sent[-1] == _CLOSE and fh.closed_size == -1  # type: ignore[attr-defined]


def test_rename_is_one_round_trip(backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A rename is one compound (CREATE, SET_INFO, CLOSE), replacing an existing file;
    a missing parent is made; a missing source still raises FileNotFoundError."""
    root = smbd_server.share_path / backend.base
    (root / "a.txt").write_bytes(b"new")
    (root / "b.txt").write_bytes(b"old")
    list(backend.list_dir(""))
    sent = _messages(monkeypatch)
    backend.rename("a.txt", "b.txt")
    assert sent == [_CREATE]
    assert (root / "b.txt").read_bytes() == b"new" and not (root / "a.txt").exists()
    backend.rename("b.txt", "d/e/c.txt")
    assert (root / "d" / "e" / "c.txt").read_bytes() == b"new"
    with pytest.raises(FileNotFoundError):
        backend.rename("gone.txt", "c.txt")


def test_a_copied_small_file_costs_two_round_trips(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """pysync copy of small files to the share: per file one compound that creates, writes,
    times and closes the partial, and one rename compound - no separate WRITE, SET_INFO,
    CLOSE, stat or rename-target open. Times and data land as in the source."""
    from syncengine import api

    src = tmp_path / "src"
    n = _small_files(src, 12)
    list(backend.list_dir(""))
    sent = _messages(monkeypatch)
    result = api.copy(str(src), backend, transfers=1)
    assert result.exit_code == 0
    assert sent.count(_CREATE) <= 2 * n + 3, sent  # 6 per file before: open, write, close...
    assert not {_WRITE, _SET_INFO, _CLOSE} & set(sent), sent
    root = smbd_server.share_path / backend.base
    for i in range(n):
        got = root / f"f{i}.txt"
        assert got.read_bytes() == (src / f"f{i}.txt").read_bytes()
        assert got.stat().st_mtime_ns == (_MTIME + i * 1000) // 100 * 100
    assert not [p for p in root.iterdir() if p.name.endswith(".partial")]


def test_small_copies_are_packed_without_smbprotocols_structures(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Each copied file's CREATE, its SET_INFO+CLOSE and its rename compound are packed by
    smbraw: smbprotocol's ``Open.create`` and ``Open.close`` and smbclient's
    ``SMBFileTransaction`` (~2 ms of CPU per file) are not used; the files, their times and
    a file under a folder still to be made land as in the source."""
    from smbclient import _io
    from smbprotocol import open as smb_open

    from syncengine import api

    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    names = [f"f{i}.txt" for i in range(10)] + ["sub/g.txt"]
    for i, name in enumerate(names):
        (src / name).write_bytes(os.urandom(500 + i))
        os.utime(src / name, ns=(_MTIME, _MTIME + i * 1000))
    list(backend.list_dir(""))
    used: list[str] = []
    for owner, attr in ((smb_open.Open, "create"), (smb_open.Open, "close"),
                        (_io.SMBFileTransaction, "commit")):
        real = getattr(owner, attr)

        def spy(self: Any, *a: Any, _real: Any = real, _name: str = attr, **kw: Any) -> Any:
            used.append(_name)
            return _real(self, *a, **kw)

        monkeypatch.setattr(owner, attr, spy)
    result = api.copy(str(src), backend, transfers=2)
    assert result.exit_code == 0
    # (the folder's mkdir goes through smbclient: one of each)
    assert all(used.count(what) <= 1 for what in ("commit", "create", "close")), used
    root = smbd_server.share_path / backend.base
    for i, name in enumerate(names):
        assert (root / name).read_bytes() == (src / name).read_bytes()
        assert (root / name).stat().st_mtime_ns == (_MTIME + i * 1000) // 100 * 100


def test_send_file_writes_from_the_page_cache(backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                              tmp_path: Any) -> None:
    """``send_file``: the data goes from the local file to the socket by the kernel; any
    offset and length land exactly; a file shorter than asked gives fewer bytes, and the
    writer then sends nothing more (``torn``)."""
    data = os.urandom(3 * 1024 * 1024 + 321)
    local = tmp_path / "src.bin"
    local.write_bytes(data)
    root = smbd_server.share_path / backend.base
    with open(local, "rb", buffering=0) as src:
        fh = backend.open_write("whole.bin")
        assert fh.send_file(src, 0, 1000) == 1000  # type: ignore[attr-defined]
        assert fh.send_file(src, 1000, len(data) - 1000) == len(data) - 1000  # type: ignore[attr-defined]
        fh.close()
        assert (root / "whole.bin").read_bytes() == data
        fh = backend.open_write("short.bin")
        assert fh.send_file(src, len(data) - 10, 4096) == 10  # type: ignore[attr-defined]
        assert fh.send_file(src, 0, 4096) == 0  # type: ignore[attr-defined]
        fh.close()
    assert (root / "short.bin").read_bytes()[:10] == data[-10:]


def test_upload_data_never_enters_python_and_a_changing_source_fails(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """A pysync copy to the share sends each file of 1 MiB or more with sendfile (no WRITE
    through ``send_parts``; a smaller one goes whole in one compound). A source file that
    grows while it is sent fails its copy (rclone's "source file is being updated"),
    leaving nothing under its name."""
    from syncengine import api

    src = tmp_path / "src"
    src.mkdir()
    files = {f"f{i}.bin": os.urandom(10_000 * i + 7) for i in range(1, 6)}
    files["big.bin"] = os.urandom(5 * 1024 * 1024)
    for name, data in files.items():
        (src / name).write_bytes(data)
    sent: list[int] = []
    real_file, real_parts = smb_mod._Tcp.send_file_parts, smb_mod._Tcp.send_parts

    def send_file_parts(self: Any, head: bytes, source: Any, offset: int, count: int) -> int:
        sent.append(count)
        return real_file(self, head, source, offset, count)

    def send_parts(self: Any, head: bytes, data: Any) -> None:
        message = bytes(head or data[:64])
        assert struct.unpack_from("<H", message, 12)[0] != _WRITE  # no WRITE's data here
        real_parts(self, head, data)

    monkeypatch.setattr(smb_mod._Tcp, "send_file_parts", send_file_parts)
    monkeypatch.setattr(smb_mod._Tcp, "send_parts", send_parts)
    result = api.copy(str(src), backend)
    assert result.exit_code == 0
    assert sum(sent) == len(files["big.bin"])
    root = smbd_server.share_path / backend.base
    for name, data in files.items():
        assert (root / name).read_bytes() == data

    # the source grows after its first request went out
    grow = src / "growing.bin"
    grow.write_bytes(os.urandom(4 * 1024 * 1024))

    def growing(self: Any, head: bytes, source: Any, offset: int, count: int) -> int:
        n = real_file(self, head, source, offset, count)
        if os.path.basename(getattr(source, "name", "")) == "growing.bin":
            with open(grow, "ab") as fh:
                fh.write(b"more")
        return n

    monkeypatch.setattr(smb_mod._Tcp, "send_file_parts", growing)
    result = api.copy(str(src), backend, retries=1, low_level_retries=1)
    assert result.exit_code != 0
    assert any("source file is being updated" in str(e.error) for e in result.errors)
    assert not (root / "growing.bin").exists()
    assert not [p for p in root.iterdir() if p.name.endswith(".partial")]


def test_a_source_read_error_mid_message_drops_the_connection(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The file fails to read after part of a WRITE's data went out: the copy fails at
    once with that error (no wait for an answer that cannot come), nothing is left on the
    share, and the next copy works over a new connection."""
    import socket as socket_mod

    from syncengine import api

    src = tmp_path / "src"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    real = socket_mod.socket.sendfile

    def failing(self: Any, file: Any, offset: int = 0, count: int | None = None) -> int:
        os.sendfile(self.fileno(), file.fileno(), offset, min(count or 0, 1000))
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(socket_mod.socket, "sendfile", failing)
    result = api.copy(str(src), backend, retries=1, low_level_retries=1)
    assert result.exit_code != 0
    assert any("Input/output error" in str(e.error) for e in result.errors), result.errors
    root = smbd_server.share_path / backend.base
    assert not list(root.iterdir())
    monkeypatch.setattr(socket_mod.socket, "sendfile", real)
    assert api.copy(str(src), backend).exit_code == 0
    assert (root / "a.bin").read_bytes() == (src / "a.bin").read_bytes()


def test_a_small_file_is_read_whole_in_one_round_trip(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``open_whole``: a file listed under 1 MiB is read with one message (CREATE, READ and
    CLOSE in one compound), at the 64 KiB edges too; nothing is left open on the server."""
    root = smbd_server.share_path / backend.base
    sizes = [1, 65535, 65536, 65537, 300_000, 1024 * 1024 - 1]
    data = {f"s{n}.bin": os.urandom(n) for n in sizes}
    for name, body in data.items():
        (root / name).write_bytes(body)
    list(backend.list_dir(""))
    sent = _messages(monkeypatch)
    for name, body in data.items():
        with backend.open_whole(name, len(body)) as fh:
            assert fh.read() == body
    assert sent == [_CREATE] * len(sizes), sent
    conn = _connection(backend)
    assert not [o for s in conn.session_table.values() for o in s.open_table.values()]
    assert not conn.outstanding_requests
    # a large file is read as open_read reads it (requests in flight, several messages)
    big = os.urandom(3 * 1024 * 1024)
    (root / "big.bin").write_bytes(big)
    del sent[:]
    with backend.open_whole("big.bin", len(big)) as fh:
        assert fh.read() == big
    assert sent.count(_READ) >= 3, sent


def test_open_whole_reads_the_file_the_server_has(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What was listed is only a hint: a file grown past the READ is read again as a large
    file (all of it), one grown within it comes whole, an emptied one is empty; a missing
    file or a folder raises what ``open_read`` raises, and the connection stays usable."""
    root = smbd_server.share_path / backend.base
    grown, little, emptied = os.urandom(200_000), os.urandom(5000), b""
    (root / "grown.bin").write_bytes(grown)
    (root / "little.bin").write_bytes(little)
    (root / "emptied.bin").write_bytes(emptied)
    (root / "dir").mkdir()
    sent = _messages(monkeypatch)
    with backend.open_whole("grown.bin", 1000) as fh:
        assert fh.read() == grown
    assert sent.count(_CREATE) == 2 and _READ in sent, sent  # the compound, then a reader
    del sent[:]
    with backend.open_whole("little.bin", 1000) as fh:
        assert fh.read() == little
    assert sent == [_CREATE], sent
    with backend.open_whole("emptied.bin", 10) as fh:
        assert fh.read() == b""
    for name in ("missing.bin", "dir"):
        with pytest.raises(OSError) as plain:
            backend.open_read(name)
        with pytest.raises(OSError) as whole:
            backend.open_whole(name, 10)
        assert type(whole.value) is type(plain.value)
        assert whole.value.errno == plain.value.errno and whole.value.errno is not None
    assert backend.connections == 1  # none dropped
    with backend.open_whole("little.bin", 5000) as fh:
        assert fh.read() == little


def test_a_downloaded_small_file_costs_one_round_trip(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """pysync copy of small files from the share: one message per file (its CREATE, READ
    and CLOSE compound) beside the listing; data and times land as on the share."""
    from syncengine import api

    root = smbd_server.share_path / backend.base
    n = _small_files(root, 12)
    list(backend.list_dir(""))
    sent = _messages(monkeypatch)
    dst = tmp_path / "dst"
    result = api.copy(backend, str(dst), transfers=2)
    assert result.exit_code == 0
    assert _READ not in sent and sent.count(_CREATE) <= n + 2, sent
    for i in range(n):
        got = dst / f"f{i}.txt"
        assert got.read_bytes() == (root / f"f{i}.txt").read_bytes()
        assert got.stat().st_mtime_ns == (_MTIME + i * 1000) // 100 * 100


def test_read_small_keeps_many_files_in_flight(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``read_small``: the compounds of up to ``_READS_IN_FLIGHT`` files go out before
    their answers are read, and each file comes back whole. A file it cannot read so is
    None for the caller's usual read: listed empty or at 1 MiB or more, grown past its READ,
    missing, a folder, or emptied (b"", not the listed size). Nothing is left open or
    pending and the connection stays."""
    root = smbd_server.share_path / backend.base
    data = {f"f{i}.bin": os.urandom(1 + 997 * i) for i in range(40)}
    for name, body in data.items():
        (root / name).write_bytes(body)
    (root / "grown.bin").write_bytes(os.urandom(200_000))
    (root / "emptied.bin").write_bytes(b"")
    (root / "big.bin").write_bytes(b"x" * (1024 * 1024))
    (root / "dir").mkdir()
    list(backend.list_dir(""))
    conn = _connection(backend)
    before = conn.sequence_window["high"] - conn.sequence_window["low"]
    seen = _in_flight(monkeypatch, conn, _CREATE)
    odd = [("grown.bin", 1000), ("emptied.bin", 10), ("big.bin", 1024 * 1024),
           ("missing.bin", 10), ("dir", 10), ("f0.bin", 0)]
    items = [(name, len(body)) for name, body in data.items()]
    got = backend.read_small(items[:20] + odd + items[20:])
    assert got[:20] + got[26:] == list(data.values())
    assert got[20:26] == [None, b"", None, None, None, None]
    # 16 files' compounds (3 requests each) sent before an answer was read
    assert max(seen) >= 3 * (smb_mod._READS_IN_FLIGHT - 1), seen
    assert len(seen) == 40 + 4  # no CREATE for the empty listing or the 1 MiB file
    assert not conn.outstanding_requests
    assert not [o for s in conn.session_table.values() for o in s.open_table.values()]
    assert conn.sequence_window["high"] - conn.sequence_window["low"] == before
    assert backend.connections == 1


def test_read_small_waits_for_credits(backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """More files in flight than the connection has credits for: the compounds that do
    not fit wait for the answers in flight, and every file still comes back whole."""
    root = smbd_server.share_path / backend.base
    data = {f"f{i}.bin": os.urandom(70_000 + i) for i in range(80)}  # 4 credits each
    for name, body in data.items():
        (root / name).write_bytes(body)
    list(backend.list_dir(""))
    conn = _connection(backend)
    credits = conn.sequence_window["high"] - conn.sequence_window["low"]
    assert credits < 4 * len(data)  # or this test shows nothing
    monkeypatch.setattr(smb_mod, "_READS_IN_FLIGHT", len(data))
    got = backend.read_small([(name, len(body)) for name, body in data.items()])
    assert got == list(data.values())
    assert not conn.outstanding_requests
    assert backend.connections == 1


def test_small_files_download_in_batches(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    """pysync copy of new small files from the share: read a batch at a time
    (``read_small``), each written to its partial file, timed and renamed, logged and
    counted as the general path does. A file that changed after the listing (its size is
    not the listed one) is left to the general path, which copies what the share has."""
    from syncengine import api

    root = smbd_server.share_path / backend.base
    n = _small_files(root, 12)
    (root / "sub").mkdir()
    m = _small_files(root / "sub", 5)
    (root / "empty.txt").write_bytes(b"")
    (root / "big.bin").write_bytes(os.urandom(300_000))  # not a small file: no batch
    batches: list[list[str]] = []
    real = SmbBackend.read_small

    def read_small(self: SmbBackend, items: Any) -> list[bytes | None]:
        batches.append([path for path, _ in items])
        if len(batches) == 1:  # f3.txt changed between the listing and the read
            with open(root / "f3.txt", "ab") as fh:
                fh.write(b"+")
        return real(self, items)

    monkeypatch.setattr(SmbBackend, "read_small", read_small)
    caplog.set_level("INFO", logger="syncengine")
    dst = tmp_path / "dst"
    result = api.copy(backend, str(dst), transfers=2)
    # the general path read f3.txt as the share had it and failed the attempt with
    # rclone's "corrupted on transfer: sizes differ"; the retry copied it
    assert result.exit_code == 0 and result.attempts == 2, result.errors
    assert sorted(p for b in batches[:2] for p in b) == sorted(
        [f"f{i}.txt" for i in range(n)] + [f"sub/f{i}.txt" for i in range(m)]
        + ["empty.txt"])  # one batch per folder
    for rel in [f"f{i}.txt" for i in range(n)] + [f"sub/f{i}.txt" for i in range(m)]:
        got = dst / rel
        assert got.read_bytes() == (root / rel).read_bytes(), rel
        assert got.stat().st_mtime_ns == (root / rel).stat().st_mtime_ns // 100 * 100, rel
    assert (dst / "sub/f4.txt").stat().st_mtime_ns == (_MTIME + 4000) // 100 * 100
    assert (dst / "empty.txt").read_bytes() == b""
    assert (dst / "big.bin").read_bytes() == (root / "big.bin").read_bytes()
    assert not [p for p in dst.rglob("*") if ".partial" in p.name]
    copied = [r.getMessage() for r in caplog.records if "Copied (new)" in r.getMessage()]
    assert len(copied) == n + m + 2, copied
    assert result.stats.transfers == n + m + 2


def test_a_small_file_is_written_whole_at_close(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """``open_write_whole``: nothing is on the server until close, which sends one message
    (CREATE, WRITE, SET_INFO, CLOSE) inside the guard, making missing parents; the data,
    the time and the size the close reports are the file's; an empty file too."""
    root = smbd_server.share_path / backend.base
    list(backend.list_dir(""))
    guarded: list[bool] = []

    @contextlib.contextmanager
    def guard() -> Iterator[None]:
        guarded.append((root / "w.bin").exists())
        yield
        guarded.append((root / "w.bin").exists())

    sent = _messages(monkeypatch)
    data = os.urandom(700_000)
    fh = backend.open_write_whole("w.bin", len(data), guard)
    fh.write(data[:1000])
    fh.write(data[1000:])
    fh.time_at_close(_MTIME)  # type: ignore[attr-defined]
    assert not (root / "w.bin").exists() and not sent and not guarded
    fh.close()
    assert sent == [_CREATE] and guarded == [False, True]
    assert (root / "w.bin").read_bytes() == data
    assert (root / "w.bin").stat().st_mtime_ns == _MTIME // 100 * 100
    assert fh.closed_size == len(data)  # type: ignore[attr-defined]
    del sent[:]
    # the first file of a folder not known to exist: created at once, parents made (as
    # rclone makes them before the data); the next one of that folder is sent whole
    fh = backend.open_write_whole("x/y/e.bin", 0)
    assert (root / "x/y/e.bin").exists()
    fh.time_at_close(_MTIME)  # type: ignore[attr-defined]
    fh.close()
    assert (root / "x/y/e.bin").read_bytes() == b""
    assert fh.closed_size == 0  # type: ignore[attr-defined]
    fh = backend.open_write_whole("x/y/f.bin", 0)
    assert not (root / "x/y/f.bin").exists()
    fh.close()
    assert (root / "x/y/f.bin").read_bytes() == b""
    # a folder known to exist but removed meanwhile: made again by the close
    shutil.rmtree(root / "x")
    with backend.open_write_whole("x/y/g.bin", 3) as fh:
        fh.write(b"abc")
    assert (root / "x/y/g.bin").read_bytes() == b"abc"
    with backend.open_write_whole("plain.bin", 5) as fh:  # no time: the server's own
        fh.write(b"hello")
    assert (root / "plain.bin").read_bytes() == b"hello"
    conn = _connection(backend)
    assert not [o for s in conn.session_table.values() for o in s.open_table.values()]


def test_whole_writer_grown_or_refused(backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """More data than a small file holds turns the writer into a plain one (the data kept
    so far written first, WRITE requests in flight); a folder under the name fails the
    close as ``open_write`` fails, and nothing is left open."""
    root = smbd_server.share_path / backend.base
    data = os.urandom(3 * 1024 * 1024 + 5)
    sent = _messages(monkeypatch)
    fh = backend.open_write_whole("g.bin", 1000)
    for i in range(0, len(data), 100_000):
        fh.write(data[i:i + 100_000])
    fh.time_at_close(_MTIME)  # type: ignore[attr-defined]
    fh.close()
    assert (root / "g.bin").read_bytes() == data
    assert (root / "g.bin").stat().st_mtime_ns == _MTIME // 100 * 100
    assert fh.closed_size == len(data)  # type: ignore[attr-defined]
    assert sent.count(_WRITE) >= 3, sent
    (root / "dir").mkdir()
    with pytest.raises(OSError) as plain:
        backend.open_write("dir")
    fh = backend.open_write_whole("dir", 3)
    fh.write(b"abc")
    with pytest.raises(OSError) as whole:
        fh.close()
    assert type(whole.value) is type(plain.value) and whole.value.errno == plain.value.errno
    assert fh.closed and (root / "dir").is_dir()
    assert backend.connections == 1  # none dropped
    conn = _connection(backend)
    assert not [o for s in conn.session_table.values() for o in s.open_table.values()]


def test_whole_writer_dropped_unclosed_sends_nothing(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A whole writer given up without a close (garbage collected) creates nothing."""
    import gc

    root = smbd_server.share_path / backend.base
    list(backend.list_dir(""))
    sent = _messages(monkeypatch)
    fh = backend.open_write_whole("dropped.bin", 10)
    fh.write(b"0123456789")
    del fh
    gc.collect()
    assert not sent and not (root / "dropped.bin").exists()


def test_whole_writer_whose_growth_failed_sends_nothing_at_close(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A write past the small size that fails to create the file (a folder in the way)
    raises; the close after it sends nothing more and raises nothing."""
    root = smbd_server.share_path / backend.base
    (root / "taken").mkdir()
    list(backend.list_dir(""))
    fh = backend.open_write_whole("taken", 10)
    fh.write(b"x" * 1000)
    with pytest.raises(IsADirectoryError):
        fh.write(os.urandom(2 * 1024 * 1024))
    sent = _messages(monkeypatch)
    fh.close()
    assert fh.closed and not sent and (root / "taken").is_dir()


def test_a_batch_that_cannot_be_read_goes_the_general_way(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """``read_small`` failing as a whole (no connection to be had): the batch's files are
    handed to the general path, which copies them; the run does not fail."""
    from syncengine import api

    root = smbd_server.share_path / backend.base
    n = _small_files(root, 6)
    calls: list[int] = []

    def read_small(self: SmbBackend, items: Any) -> list[bytes | None]:
        calls.append(len(items))
        raise ConnectionResetError(104, "no connection")

    monkeypatch.setattr(SmbBackend, "read_small", read_small)
    dst = tmp_path / "dst"
    result = api.copy(backend, str(dst), transfers=2)
    assert calls == [n]
    assert result.exit_code == 0 and result.attempts == 1, result.errors
    for i in range(n):
        assert (dst / f"f{i}.txt").read_bytes() == (root / f"f{i}.txt").read_bytes()
    assert not [p for p in dst.rglob("*") if ".partial" in p.name]


def test_sigint_during_small_downloads_leaves_no_partial_file(
        backend: SmbBackend, smbd_server: SmbdServer,  # noqa: F811
        tmp_path: Path) -> None:
    """SIGINT while batches of small files come down from the share: exit 130, no partial
    file left, and every file under its final name whole."""
    from syncengine.backends.sftp import obscure  # rclone's obscure

    root = smbd_server.share_path / backend.base
    for d in range(40):
        (root / f"d{d}").mkdir()
        for i in range(60):
            (root / f"d{d}" / f"f{i}").write_bytes(os.urandom(1000 + i))
    conf = tmp_path / "rclone.conf"
    conf.write_text(smbd_server.rclone_section("smbt", obscure(smbd_server.password)))
    dst = tmp_path / "dst"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RCLONE_", "PYSYNC_"))}
    env["HOME"] = str(tmp_path)
    with open(tmp_path / "log.txt", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "syncengine", "copy", "-v", "--stats", "0", "--config",
             str(conf), f"smbt:{smbd_server.share}/{backend.base}", str(dst)],
            stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL, env=env)
        try:
            deadline = time.monotonic() + 120
            while sum(len(f) for _, _, f in os.walk(dst)) < 100:  # under way: no timing
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.005)
            proc.send_signal(signal.SIGINT)
            code = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = (tmp_path / "log.txt").read_text(errors="replace")
    assert code == 130, err
    assert "INFO  : Exiting...\n" in err
    copied = [p for p in dst.rglob("*") if p.is_file()]
    assert not [p for p in copied if ".partial" in p.name], err
    assert 0 < len(copied) < 40 * 60  # stopped in the middle
    for p in copied:
        assert p.read_bytes() == (root / p.relative_to(dst)).read_bytes()
