"""The time and size of an uploaded SFTP file asked with its CLOSE (real sshd on loopback).

A copied file's time used to cost a SETSTAT by name after the close and its size check a
STAT by name, two round trips per file; the writer now sends FSETSTAT and FSTAT behind the
last WRITE, with the CLOSE. A server that refuses FSETSTAT gets the SETSTAT by name (the
same time in the end); one that refuses both fails the copy as rclone's does.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from differential import sync_harness as sh
from paramiko.sftp import (
    CMD_CLOSE,
    CMD_FSETSTAT,
    CMD_FSTAT,
    CMD_LSTAT,
    CMD_SETSTAT,
    CMD_STAT,
    CMD_WRITE,
)

from syncengine import api
from syncengine.backends.sftp import SftpBackend
from syncengine.backends.sftp.transport import _SftpClient

from . import sshd as _sshd
from .sshd import SshdServer, private_home, start_sshd

sshd_server = _sshd.sshd_server
_MTIME = 1_600_000_000_987_654_321


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_home(tmp_path, monkeypatch)


def _writes(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """From now on, for every write of SFTP packets: the types of the packets in it."""
    writes: list[list[int]] = []
    real = _SftpClient._send_all

    def send_all(self: _SftpClient, pieces: Any) -> None:
        buf = b"".join(bytes(p) for p in pieces)
        types, off = [], 0
        while off < len(buf):
            types.append(buf[off + 4])
            off += 4 + struct.unpack_from(">I", buf, off)[0]
        writes.append(types)
        real(self, pieces)

    monkeypatch.setattr(_SftpClient, "_send_all", send_all)
    return writes


def _flat(writes: list[list[int]]) -> list[int]:
    """The types of every packet sent, in order."""
    return [t for w in writes for t in w]


def _tree(root: Path, n: int) -> dict[str, bytes]:
    files = {f"d/f{i}.bin": os.urandom(1000 + 5000 * i) for i in range(n)}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
        os.utime(root / name, ns=(_MTIME, _MTIME + len(data) * 10**9))
    return files


def test_writer_sets_time_and_learns_size_in_its_close(sshd_server: SshdServer,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    remote = tmp_path / "remote"
    remote.mkdir()
    b = SftpBackend(sshd_server.options(), str(remote))
    try:
        writes = _writes(monkeypatch)
        data = os.urandom(700_001)
        fh = b.open_write("t.bin")
        fh.write(data)
        fh.time_at_close(_MTIME)  # type: ignore[attr-defined]
        fh.close()
        assert fh.closed_size == len(data)  # type: ignore[attr-defined]
        assert (remote / "t.bin").read_bytes() == data
        assert (remote / "t.bin").stat().st_mtime_ns == _MTIME // 10**9 * 10**9
        sent = _flat(writes)
        assert CMD_FSETSTAT in sent and CMD_FSTAT in sent and CMD_SETSTAT not in sent
        # set_modtime = false: the size only, the server's own time
        b2 = SftpBackend(sshd_server.options(set_modtime="false"), str(remote))
        try:
            writes.clear()
            fh = b2.open_write("u.bin")
            fh.write(b"abc")
            fh.time_at_close(_MTIME)  # type: ignore[attr-defined]
            fh.close()
            assert fh.closed_size == 3  # type: ignore[attr-defined]
            sent = _flat(writes)
            assert CMD_FSETSTAT not in sent and CMD_FSTAT in sent
            assert (remote / "u.bin").stat().st_mtime_ns != _MTIME // 10**9 * 10**9
        finally:
            b2.close()
    finally:
        b.close()


def test_a_small_files_write_time_size_and_close_go_out_in_one_write(
        sshd_server: SshdServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small file written in one call: its WRITE is held and goes out with FSETSTAT,
    FSTAT and CLOSE in one write; a second write, or a flush, sends it first."""
    remote = tmp_path / "remote"
    remote.mkdir()
    b = SftpBackend(sshd_server.options(), str(remote))
    try:
        writes = _writes(monkeypatch)
        fh = b.open_write("s.bin")
        fh.write(b"x" * 5000)
        assert CMD_WRITE not in _flat(writes)
        fh.time_at_close(_MTIME)  # type: ignore[attr-defined]
        fh.close()
        assert writes[-1] == [CMD_WRITE, CMD_FSETSTAT, CMD_FSTAT, CMD_CLOSE], writes
        assert (remote / "s.bin").read_bytes() == b"x" * 5000
        assert fh.closed_size == 5000  # type: ignore[attr-defined]
        fh = b.open_write("t.bin")
        fh.write(b"a" * 3)
        fh.write(b"b" * 4)
        fh.flush()
        fh.write(b"c" * 5)
        fh.close()
        assert (remote / "t.bin").read_bytes() == b"aaabbbbccccc"
        assert writes[-1] == [CMD_CLOSE]
    finally:
        b.close()


def test_copy_costs_no_setstat_or_stat_by_name(sshd_server: SshdServer, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "src"
    files = _tree(src, 8)
    remote = tmp_path / "remote"
    remote.mkdir()
    b = SftpBackend(sshd_server.options(), str(remote))
    try:
        writes = _writes(monkeypatch)
        result = api.copy(str(src), b, transfers=2)
        assert result.exit_code == 0
    finally:
        b.close()
    sent = _flat(writes)
    assert sent.count(CMD_FSETSTAT) == len(files) and sent.count(CMD_FSTAT) == len(files)
    # (folders get their times as rclone sets them: one SETSTAT each, root and d)
    assert sent.count(CMD_SETSTAT) <= 2, sent
    assert sent.count(CMD_STAT) + sent.count(CMD_LSTAT) <= 3, sent  # the root's, not per file
    for name, data in files.items():
        got = remote / name
        assert got.read_bytes() == data
        assert got.stat().st_mtime_ns == (src / name).stat().st_mtime_ns // 10**9 * 10**9


@pytest.fixture
def refusing_sshd(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SshdServer]:
    server = start_sshd(tmp_path / "sshd", sftp_flags=f"-P {request.param}")
    try:
        yield server
    finally:
        server.stop()


def _both_tools(server: SshdServer, tmp_path: Path) -> dict[str, tuple[int, str, Path]]:
    """pysync and rclone copy the same small tree to ``server``: exit code, log, folder."""
    assert sh.RCLONE is not None
    src = tmp_path / "src"
    _tree(src, 3)
    out = {}
    for tool in ("rclone", "pysync"):
        dst = tmp_path / f"dst-{tool}"
        dst.mkdir()
        conf = tmp_path / f"{tool}.conf"
        conf.write_text(server.section("srv"))
        exe = [sh.RCLONE] if tool == "rclone" else [sys.executable, "-m", "syncengine"]
        env = sh.tool_env()
        env["RCLONE_CONFIG"] = str(conf)
        res = subprocess.run([*exe, "copy", str(src), f"srv:{dst}", "--retries", "1",
                              "--stats", "0", "--config", str(conf)], env=env,
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=120)
        out[tool] = (res.returncode, res.stderr, dst)
    return out


def _files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns // 10**9
            for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("refusing_sshd", ["fsetstat"], indirect=True)
def test_a_server_refusing_fsetstat_gets_the_time_by_name(refusing_sshd: SshdServer,
                                                          tmp_path: Path) -> None:
    runs = _both_tools(refusing_sshd, tmp_path)
    (rc_r, _, dst_r), (rc_p, err_p, dst_p) = runs["rclone"], runs["pysync"]
    assert rc_r == rc_p == 0, err_p
    src = {str(p.relative_to(tmp_path / "src")): p.stat().st_mtime_ns // 10**9
           for p in (tmp_path / "src").rglob("*") if p.is_file()}
    assert _files(dst_p) == _files(dst_r) == src


@pytest.mark.parametrize("refusing_sshd", ["fsetstat,setstat"], indirect=True)
def test_a_server_refusing_both_fails_the_copy_as_rclone(refusing_sshd: SshdServer,
                                                         tmp_path: Path) -> None:
    runs = _both_tools(refusing_sshd, tmp_path)
    (rc_r, err_r, dst_r), (rc_p, err_p, dst_p) = runs["rclone"], runs["pysync"]
    assert rc_r == rc_p != 0, (err_r, err_p)
    assert "SetModTime failed" in err_r and "SetModTime failed" in err_p, (err_r, err_p)
    assert _files(dst_p).keys() == _files(dst_r).keys()
    assert not [n for n in _files(dst_p) if n.endswith(".partial")]
