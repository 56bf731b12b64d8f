"""Several SMB READ/WRITE requests in flight per open file, against the real smbd."""

from __future__ import annotations

import os
import shutil
import struct
import uuid
from collections.abc import Iterator
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
