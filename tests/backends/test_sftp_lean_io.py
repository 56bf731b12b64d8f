"""The sftp backend's lean I/O paths (``backends/sftp/wire.py``, the pipelined reader and
writer) against the real OpenSSH sshd on 127.0.0.1.

Odd sizes and write/read sizes around the SFTP chunk and SSH packet boundaries, reads that
start at resume offsets, a writer resumed at an offset, a large file, a rekey in the middle of
a transfer, paramiko's own paths (CTR cipher) giving the same bytes, and a server that is
killed under an open reader or writer: a clean ECONNRESET error, never a hang or wrong data.
"""

from __future__ import annotations

import errno
import hashlib
import os
import random
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paramiko
import pytest
from paramiko.common import MSG_CHANNEL_DATA, MSG_CHANNEL_WINDOW_ADJUST

from syncengine.backends.sftp import SftpBackend
from syncengine.backends.sftp.wire import LeanChannel, LeanPacketizer, LeanPipe

from . import sshd as _sshd
from .proctree import child_pids
from .sshd import SshdServer, private_home, start_sshd

sshd_server = _sshd.sshd_server  # the session-scoped sshd fixture

KIB = 1024
MIB = 1024 * KIB
SSH_DATA = 32 * KIB - 64  # what one channel packet to OpenSSH's sftp channel carries


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the real ~/.ssh or talks to an ssh-agent of the caller."""
    private_home(tmp_path, monkeypatch)


@pytest.fixture
def backend(sshd_server: SshdServer, tmp_path: Path) -> Iterator[SftpBackend]:
    root = tmp_path / "remote"
    root.mkdir()
    b = SftpBackend(sshd_server.options(), str(root))
    try:
        yield b
    finally:
        b.close()


def payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def write_in_pieces(b: SftpBackend, path: str, data: bytes, pieces: list[int]) -> None:
    """Write ``data`` through ``open_write`` in pieces of the sizes in ``pieces`` (cycled)."""
    view = memoryview(data)
    pos, i = 0, 0
    with b.open_write(path) as fh:
        while pos < len(data):
            n = pieces[i % len(pieces)]
            i += 1
            assert fh.write(view[pos:pos + n]) == len(view[pos:pos + n])
            pos += n


def read_in_pieces(b: SftpBackend, path: str, offset: int, pieces: list[int]) -> bytes:
    """Everything from ``offset`` through ``readinto`` with buffers of the sizes in ``pieces``."""
    out = bytearray()
    i = 0
    with b.open_read(path, offset) as fh:
        while True:
            buf = bytearray(pieces[i % len(pieces)])
            i += 1
            n = fh.readinto(buf)
            if not n:
                return bytes(out)
            out += buf[:n]


# ----- the lean paths are the ones in use ------------------------------------------------------


def test_gcm_connection_uses_the_lean_packetizer_and_channel(backend: SftpBackend) -> None:
    with backend._client() as client:
        chan = client.sock
        assert isinstance(chan, LeanChannel)
        assert isinstance(chan.in_buffer, LeanPipe)
        assert isinstance(chan.transport.packetizer, LeanPacketizer)
        assert chan.transport.remote_cipher.endswith("-gcm@openssh.com")


def test_channel_data_and_window_skip_the_transport_dispatch(
        backend: SftpBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lean channel's data and window adjustments are handled by the packetizer itself:
    paramiko's handlers (Transport.run's dispatch table) see none of the thousands of each
    that 4 MiB each way brings, and the bytes arrive whole."""
    table = paramiko.Transport._channel_handler_table
    calls = {MSG_CHANNEL_DATA: 0, MSG_CHANNEL_WINDOW_ADJUST: 0}
    for ptype in calls:
        real = table[ptype]

        def counting(chan: object, m: object, real: Any = real, ptype: int = ptype) -> None:
            calls[ptype] += 1
            real(chan, m)

        monkeypatch.setitem(table, ptype, counting)
    data = payload(4 * MIB + 3, 5)
    write_in_pieces(backend, "inline.bin", data, [256 * KIB])
    assert read_in_pieces(backend, "inline.bin", 0, [256 * KIB]) == data
    assert calls == {MSG_CHANNEL_DATA: 0, MSG_CHANNEL_WINDOW_ADJUST: 0}


def test_packets_the_window_takes_go_out_in_one_write(
        backend: SftpBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large write's channel packets are sealed together and written with one socket
    write per batch the window allows (up to 16), not one write per 32 KiB packet; the
    file arrives whole."""
    lease = backend._pool.lease()
    try:
        packetizer = lease.conn.transport.packetizer
        writes: list[int] = []
        real = LeanPacketizer.write_all

        def counting(self: LeanPacketizer, out: Any) -> None:
            if self is packetizer:
                writes.append(len(out))
            real(self, out)

        monkeypatch.setattr(LeanPacketizer, "write_all", counting)
        before = packetizer._Packetizer__sent_packets
        data = payload(4 * MIB + 11, 6)
        write_in_pieces(backend, "batched.bin", data, [255 * KIB])
        packets = packetizer._Packetizer__sent_packets - before
    finally:
        lease.release()
    assert packets >= 4 * MIB // SSH_DATA
    assert len(writes) * 3 <= packets, (len(writes), packets)
    assert read_in_pieces(backend, "batched.bin", 0, [256 * KIB]) == data


# ----- odd sizes and boundaries ----------------------------------------------------------------


def sizes(chunk: int) -> list[int]:
    return sorted({0, 1, 2, 17, SSH_DATA - 1, SSH_DATA, SSH_DATA + 1, chunk - 1, chunk,
                   chunk + 1, 2 * chunk + 3, 1 * MIB - 5, 1 * MIB + 7, 3 * MIB + 12345})


def test_round_trip_of_odd_sizes(backend: SftpBackend, tmp_path: Path) -> None:
    chunk = backend._chunk
    for i, size in enumerate(sizes(chunk)):
        data = payload(size, i)
        name = f"odd-{size}.bin"
        write_in_pieces(backend, name, data, [7, 4093, chunk + 1, 1, SSH_DATA + 5, 3 * chunk])
        assert (tmp_path / "remote" / name).read_bytes() == data, size
        assert read_in_pieces(backend, name, 0, [1, 5000, chunk - 1, 64 * KIB, 2 * MIB]) \
            == data, size
        with backend.open_read(name) as fh:
            assert fh.read() == data, size


def test_write_of_one_large_buffer_arrives_whole(backend: SftpBackend, tmp_path: Path) -> None:
    data = payload(9 * MIB + 333, 99)  # one write call: many SFTP requests, many packets
    with backend.open_write("one.bin") as fh:
        assert fh.write(data) == len(data)
    assert hashlib.md5((tmp_path / "remote" / "one.bin").read_bytes()).hexdigest() == \
        hashlib.md5(data).hexdigest()


def test_sink_sends_the_blocks_it_lends_whole_and_takes_them_back(
        backend: SftpBackend, tmp_path: Path) -> None:
    """The zero-copy sink: blocks read into ``space()`` and committed arrive whole and in
    order (partial blocks included); each block's buffer is reused once it went out."""
    from syncengine.backends.sftp import io as sftp_io

    data = payload(3 * sftp_io._SEND_AHEAD + 12_345, 7)
    with backend.open_write("sunk.bin") as fh:
        sink = fh.sink(len(data))
        assert sink is not None
        seen: set[int] = set()
        off = 0
        for want in [sftp_io._SEND_AHEAD, 1000, sftp_io._SEND_AHEAD, sftp_io._SEND_AHEAD,
                     sftp_io._SEND_AHEAD]:
            view = sink.space()
            seen.add(id(view.obj))
            n = min(want, len(data) - off)
            view[:n] = data[off:off + n]
            sink.commit(n)
            off += n
        assert off == len(data)
        sink.finish()
    assert (tmp_path / "remote" / "sunk.bin").read_bytes() == data
    assert len(seen) <= 3  # buffers came back for reuse (one sent, one queued, one filled)
    with backend.open_write("small.bin") as fh:
        assert fh.sink(sftp_io._SEND_AHEAD - 1) is None  # small files: write() as before


def test_reads_from_resume_offsets(backend: SftpBackend, tmp_path: Path) -> None:
    chunk = backend._chunk
    data = payload(2 * MIB + 4097, 5)
    (tmp_path / "remote" / "r.bin").write_bytes(data)
    for off in (0, 1, SSH_DATA, chunk - 1, chunk, chunk + 1, MIB, len(data) - 1, len(data),
                len(data) + 10):
        assert read_in_pieces(backend, "r.bin", off, [chunk, 3, 100_000]) == data[off:], off


def test_writer_resumed_at_an_offset(backend: SftpBackend, tmp_path: Path) -> None:
    chunk = backend._chunk
    data = payload(3 * chunk + 999, 6)
    target = tmp_path / "remote" / "partial.bin"
    for off in (1, SSH_DATA + 1, chunk, 2 * chunk - 3):
        target.write_bytes(data[:off] + b"garbage beyond the offset")
        with backend.open_write_at("partial.bin", off) as fh:
            fh.write(memoryview(data)[off:])
        assert target.read_bytes() == data, off


def test_large_file_both_ways(backend: SftpBackend, tmp_path: Path) -> None:
    data = os.urandom(48 * MIB + 11)
    write_in_pieces(backend, "large.bin", data, [4 * MIB])
    assert (tmp_path / "remote" / "large.bin").read_bytes() == data
    md5 = hashlib.md5()
    got = 0
    with backend.open_read("large.bin") as fh:
        buf = bytearray(4 * MIB)
        while n := fh.readinto(buf):
            md5.update(memoryview(buf)[:n])
            got += n
    assert got == len(data)
    assert md5.hexdigest() == hashlib.md5(data).hexdigest()


def test_rekey_in_the_middle_of_a_transfer(backend: SftpBackend, tmp_path: Path) -> None:
    """paramiko's rekeying goes on under the lean packetizer (its counters are paramiko's)."""
    lease = backend._pool.lease()  # this thread's connection: the transfers below use it
    try:
        packetizer = lease.conn.transport.packetizer
        packetizer.REKEY_BYTES = MIB  # instead of 512 MiB: several rekeys per direction
        data = payload(6 * MIB + 5, 8)
        write_in_pieces(backend, "rekey.bin", data, [256 * KIB])
        assert read_in_pieces(backend, "rekey.bin", 0, [256 * KIB]) == data
        # the counters restart at every new key: far below what went through
        assert packetizer._Packetizer__sent_bytes < 2 * MIB
        assert packetizer._Packetizer__received_bytes < 2 * MIB
        assert lease.conn.alive()
    finally:
        lease.release()
    assert (tmp_path / "remote" / "rekey.bin").read_bytes() == data


@pytest.mark.parametrize("cipher", ["aes256-gcm@openssh.com", "aes128-ctr"])
def test_other_ciphers_give_the_same_bytes(sshd_server: SshdServer, tmp_path: Path,
                                           cipher: str) -> None:
    """AES-256-GCM (lean path) and AES-CTR with an HMAC (paramiko's packet path)."""
    root = tmp_path / "remote"
    root.mkdir()
    b = SftpBackend(sshd_server.options(ciphers=cipher), str(root))
    try:
        with b._client() as client:
            assert client.sock.transport.remote_cipher == cipher
        data = payload(2 * MIB + 77, 9)
        write_in_pieces(b, "c.bin", data, [5, 70_001])
        assert (root / "c.bin").read_bytes() == data
        assert read_in_pieces(b, "c.bin", 3, [33_333]) == data[3:]
    finally:
        b.close()


# ----- the channel pipe ------------------------------------------------------------------------


def test_lean_pipe_reads_across_and_within_pieces() -> None:
    pipe = LeanPipe()
    pipe.feed(b"abc")
    pipe.feed(memoryview(b"0123456789")[2:8])
    pipe.feed(b"")
    pipe.feed(b"xyz")
    assert len(pipe) == 12
    assert pipe.read(2) == b"ab"
    assert pipe.read(5) == b"c2345"
    assert pipe.read(100) == b"67xyz"
    assert not pipe.read_ready()
    event = threading.Event()
    pipe.set_event(event)
    assert not event.is_set()
    pipe.feed(b"q")
    assert event.is_set() and pipe.read_ready()
    assert pipe.empty() == b"q" and not event.is_set()
    pipe.close()
    assert pipe.read(10) == b"" and event.is_set()


def test_lean_pipe_read_times_out_when_nothing_comes() -> None:
    from paramiko.buffered_pipe import PipeTimeout

    with pytest.raises(PipeTimeout):
        LeanPipe().read(10, timeout=0.0)


# ----- a server that dies mid-transfer ---------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    out = []
    for child in child_pids(pid, lambda comm: True):
        out += [child, *_descendants(child)]
    return out


def _kill_connections(server: SshdServer) -> None:
    """SIGKILL every process the test's own sshd forked for its connections (not sshd)."""
    pids = _descendants(server.pid)
    assert pids, "no connection process under the test's sshd"
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def own_sshd(tmp_path: Path) -> Iterator[SshdServer]:
    server = start_sshd(tmp_path / "sshd")
    try:
        yield server
    finally:
        server.stop()


def test_server_killed_under_an_open_reader(own_sshd: SshdServer, tmp_path: Path) -> None:
    root = tmp_path / "remote"
    root.mkdir()
    data = os.urandom(64 * MIB)
    (root / "big.bin").write_bytes(data)
    b = SftpBackend(own_sshd.options(timeout="60s"), str(root))
    try:
        fh = b.open_read("big.bin")
        buf = bytearray(256 * KIB)
        got = bytearray()
        n = fh.readinto(buf)
        got += buf[:n]
        _kill_connections(own_sshd)
        with pytest.raises(OSError) as info:
            while n := fh.readinto(buf):
                got += buf[:n]
        assert info.value.errno == errno.ECONNRESET, info.value
        assert 0 < len(got) < len(data)
        assert bytes(got) == data[:len(got)]  # what came before the kill is right
        fh.close()
    finally:
        b.close()


@pytest.mark.parametrize("way", ["write", "sink"])
def test_server_killed_under_an_open_writer(own_sshd: SshdServer, tmp_path: Path,
                                            way: str) -> None:
    """``write`` or the zero-copy sink's ``commit``: a clean connection error, no hang."""
    root = tmp_path / "remote"
    root.mkdir()
    b = SftpBackend(own_sshd.options(timeout="60s"), str(root))
    try:
        fh = b.open_write("up.bin")
        sink = fh.sink(1 << 30) if way == "sink" else None
        block = os.urandom(MIB)
        fh.write(block)
        _kill_connections(own_sshd)
        with pytest.raises(OSError) as info:
            for _ in range(256):  # far more than the windows and buffers hold
                if sink is None:
                    fh.write(block)
                else:
                    view = sink.space()
                    sink.commit(len(view))
            fh.close()
        assert info.value.errno in (errno.ECONNRESET, errno.EPIPE), info.value
        fh.close()
    finally:
        b.close()
