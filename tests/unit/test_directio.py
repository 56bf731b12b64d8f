"""Direct I/O writes (syncengine.directio): every byte lands where a buffered write puts it."""

from __future__ import annotations

import fcntl
import os
import random
from pathlib import Path

import pytest

from syncengine import directio
from tests.fsprobe import takes_direct_io


def _feed(sink: directio.DirectSink, data: bytes, rng: random.Random,
          seen_direct: list[bool]) -> None:
    """Put ``data`` into ``sink`` as a network reader would: pieces of irregular size."""
    pos = 0
    while pos < len(data):
        space = sink.space()
        assert len(space) > 0
        n = min(len(space), len(data) - pos, rng.choice([1, 511, 4096, 32768, 1 << 20, 5 << 20]))
        space[:n] = data[pos:pos + n]
        sink.commit(n)
        pos += n
        seen_direct.append(bool(fcntl.fcntl(sink.fd, fcntl.F_GETFL) & os.O_DIRECT))
    sink.finish()


@pytest.mark.parametrize("size", [directio.MIN_SIZE, directio.MIN_SIZE + 1,
                                  directio.MIN_SIZE + 4095, 3 * directio.MIN_SIZE + 12345,
                                  9 * 1024 * 1024])
def test_sink_writes_every_byte(tmp_path: Path, size: int) -> None:
    rng = random.Random(size)
    data = rng.randbytes(size)
    path = tmp_path / "f.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        sink = directio.open_sink(fd, size)
        takes = takes_direct_io(tmp_path)
        assert (sink is not None) == takes
        if sink is None:  # this file system has no direct I/O: it is remembered
            assert os.fstat(fd).st_dev in directio._refused
            return
        seen: list[bool] = []
        _feed(sink, data, rng, seen)
        assert seen[0], "the bulk of the file is written with O_DIRECT"
        tail = size % directio.ALIGN
        # the last partial block went through the page cache: the flag is off again
        assert bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT) == (tail == 0)
    finally:
        os.close(fd)
    assert path.stat().st_size == size
    assert path.read_bytes() == data


def test_small_files_stay_buffered(tmp_path: Path) -> None:
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        assert directio.open_sink(fd, directio.MIN_SIZE - 1) is None
        assert not fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT
    finally:
        os.close(fd)


def test_not_at_offset_zero_stays_buffered(tmp_path: Path) -> None:
    """A writer positioned past the start (a resumed or appended file) is left alone."""
    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        os.write(fd, b"x")
        assert directio.open_sink(fd, directio.MIN_SIZE) is None
    finally:
        os.close(fd)


def test_refused_write_goes_on_buffered(tmp_path: Path) -> None:
    """A direct write the file system rejects (EINVAL: here an unaligned length) is written
    through the page cache instead, nothing lost or doubled."""
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    dev = os.fstat(fd).st_dev
    try:
        sink = directio.open_sink(fd, directio.MIN_SIZE)
        if sink is None:
            assert dev in directio._refused
            return
        space = sink.space()
        space[:100] = b"a" * 100
        sink._write_all(space[:100])  # ext4: EINVAL with O_DIRECT; tmpfs: accepted
        space[:5] = b"bcdef"
        sink._fill = 5
        sink.finish()
    finally:
        os.close(fd)
        directio._refused.discard(dev)
    assert path.read_bytes() == b"a" * 100 + b"bcdef"
