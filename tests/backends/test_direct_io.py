"""Downloads write big files with direct I/O: the same files as rclone's, the page cache
left alone (real sshd and smbd on loopback, the real rclone beside pysync)."""

from __future__ import annotations

import ctypes
import mmap
import os
import random
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from differential import sync_harness as sh

from syncengine import directio
from syncengine.confvalues import obscure
from tests.fsprobe import takes_direct_io

from . import sshd as _sshd
from .smbd import SmbdServer, smbd_server  # noqa: F401 - the module-scoped fixture
from .sshd import SshdServer, private_home

sshd_server = _sshd.sshd_server

# around the direct-I/O threshold and its 4 KiB blocks; the small ones stay buffered
SIZES = {"tiny.txt": 10, "below.dat": directio.MIN_SIZE - 1, "exact.dat": directio.MIN_SIZE,
         "odd.dat": directio.MIN_SIZE + 4097, "sub/big.dat": 9 * 1024 * 1024 + 333}


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return private_home(tmp_path, monkeypatch)


def _make_tree(root: Path) -> None:
    rng = random.Random(7)
    for i, (name, size) in enumerate(sorted(SIZES.items())):
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(rng.randbytes(size))
        # whole seconds: sftp keeps no more
        os.utime(p, ns=(1_600_000_000_000_000_000 + i * 1_000_000_000,) * 2)


def _run(tool: str, args: list[str], conf: Path) -> subprocess.CompletedProcess[str]:
    assert sh.RCLONE is not None
    exe = [sh.RCLONE] if tool == "rclone" else [sys.executable, "-m", "syncengine"]
    env = sh.tool_env()
    env["RCLONE_CONFIG"] = str(conf)
    return subprocess.run([*exe, *args, "--stats", "0"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=120)


def _tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def _resident_pages(path: Path) -> int:
    """How many of the file's pages are in the page cache (mincore on a shared mapping,
    which faults nothing in)."""
    libc = ctypes.CDLL(None, use_errno=True)
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = (ctypes.c_ubyte * pages)()
    with open(path, "r+b") as fh:
        mm = mmap.mmap(fh.fileno(), size)
        try:
            ref = ctypes.c_char.from_buffer(mm)
            rc = libc.mincore(ctypes.c_void_p(ctypes.addressof(ref)), ctypes.c_size_t(size), vec)
            del ref
            assert rc == 0, os.strerror(ctypes.get_errno())
        finally:
            mm.close()
    return sum(b & 1 for b in vec)


def _check_download(tmp_path: Path, conf: Path, remote: str, src: Path) -> None:
    want = _tree(src)
    big = "sub/big.dat"
    pages = (SIZES[big] + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    direct = takes_direct_io(tmp_path)
    for n, (tool, extra) in enumerate((("rclone", []), ("pysync", []),
                                       ("pysync", ["--local-no-direct-io"]))):
        dst = tmp_path / f"{tool}{n}"
        res = _run(tool, ["copy", remote, str(dst), *extra], conf)
        assert res.returncode == 0, res.stderr
        # before anything reads the files back: which pages did the writes leave cached?
        cached = _resident_pages(dst / big)
        if tool == "rclone" or extra:  # through the page cache: it keeps the pages
            assert cached > pages // 2, (tool, extra, cached)
        elif direct:  # direct I/O: only the last, partial block went through it
            assert cached <= 1, cached
            assert _resident_pages(dst / "below.dat") > 0  # under the threshold: buffered
        assert _tree(dst) == want, f"{tool} {extra}"
        assert not [p for p in dst.rglob("*") if ".partial" in p.name]


def test_sftp_download_direct(tmp_path: Path, sshd_server: SshdServer) -> None:
    src = tmp_path / "remote-src"
    _make_tree(src)
    conf = tmp_path / "rclone.conf"
    conf.write_text(sshd_server.section("srv", shell_type="unix", md5sum_command="md5sum"))
    _check_download(tmp_path, conf, f"srv:{src}", src)


def test_smb_download_direct(tmp_path: Path, smbd_server: SmbdServer) -> None:  # noqa: F811
    sub = f"d-{uuid.uuid4().hex[:12]}"
    src = smbd_server.share_path / sub
    _make_tree(src)
    conf = tmp_path / "rclone.conf"
    conf.write_text(smbd_server.rclone_section("smbsrv", obscure(smbd_server.password)))
    conf.chmod(0o600)
    try:
        _check_download(tmp_path, conf, f"smbsrv:{smbd_server.share}/{sub}", src)
    finally:
        shutil.rmtree(src, ignore_errors=True)
