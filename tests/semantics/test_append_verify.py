"""``--append-verify``: a grown source whose old version is at the destination sends only the
new tail, and the whole file is checked; anything else is copied whole."""

from __future__ import annotations

import os
from pathlib import Path

import syncengine.api as api
from syncengine.backends.local import LocalBackend
from tests.semantics.conftest import OLD, files_only, read_tree, write_tree

MiB = 1024 * 1024


def _grown(src: Path, dst: Path, old: int, new: int) -> bytes:
    """``big.dat`` of ``new`` bytes at the source; its first ``old`` bytes at the destination
    (an older version, older mtime)."""
    data = os.urandom(new)
    write_tree(src, {"big.dat": data}, mtime_ns=OLD + 10**9)
    write_tree(dst, {"big.dat": data[:old]}, mtime_ns=OLD)
    return data


def test_only_the_tail_is_sent_and_the_file_checked(src: Path, dst: Path, caplog) -> None:
    data = _grown(src, dst, 6 * MiB, 7 * MiB + 123)
    caplog.set_level(20)
    res = api.copy(str(src), str(dst), append_verify=True)
    assert res.exit_code == 0 and res.stats.transfers == 1
    assert res.stats.bytes == 7 * MiB + 123 - 6 * MiB
    assert "appended 1048699 bytes to the verified destination" in caplog.text
    assert (dst / "big.dat").read_bytes() == data
    assert os.stat(dst / "big.dat").st_mtime_ns == OLD + 10**9
    assert not list(dst.rglob("*.partial"))
    again = api.sync(str(src), str(dst), append_verify=True)
    assert again.exit_code == 0 and again.stats.transfers == 0


def test_a_destination_that_is_no_prefix_is_copied_whole(src: Path, dst: Path) -> None:
    data = _grown(src, dst, 6 * MiB, 7 * MiB)
    with open(dst / "big.dat", "r+b") as fh:  # same length as the old version, other bytes
        fh.write(b"not the same start")
    res = api.copy(str(src), str(dst), append_verify=True)
    assert res.exit_code == 0 and res.stats.bytes == 7 * MiB
    assert (dst / "big.dat").read_bytes() == data


def test_without_the_flag_the_whole_file_goes(src: Path, dst: Path) -> None:
    data = _grown(src, dst, 6 * MiB, 7 * MiB)
    res = api.copy(str(src), str(dst))
    assert res.exit_code == 0 and res.stats.bytes == 7 * MiB
    assert (dst / "big.dat").read_bytes() == data


class _GrowsDuringTail(LocalBackend):
    """A source whose ``big.dat`` is appended to once its prefix has been read: the append
    phase (not the prefix check) sees the change."""

    def open_read(self, path: str, offset: int = 0):  # type: ignore[override]
        fh = super().open_read(path, offset)
        full = self.full(path)
        real = fh.readinto
        reads = [0]

        def readinto(buf):  # type: ignore[no-untyped-def]
            reads[0] += 1
            if reads[0] == 2:
                with open(full, "ab") as w:
                    w.write(b"appended while copying")
            return real(buf)

        class _Reader:
            def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
                return getattr(fh, name)

        r = _Reader()
        r.readinto = readinto  # type: ignore[attr-defined]
        return r


def test_a_failed_append_puts_the_old_version_back(src: Path, dst: Path, caplog) -> None:
    """The source grows again while its tail is sent: the file fails (rclone's message),
    and the destination holds exactly its old version again, under its final name."""
    _grown(src, dst, 2 * MiB, 6 * MiB)
    old = (dst / "big.dat").read_bytes()
    caplog.set_level(20)
    res = api.copy(_GrowsDuringTail(str(src)), str(dst), append_verify=True, retries=1)
    assert "Put the destination file back after a failed append" in caplog.text
    assert res.exit_code != 0
    assert "source file is being updated" in str(res.errors[0].error)
    tree = files_only(read_tree(dst))
    assert tree == {"big.dat": old}
    assert os.stat(dst / "big.dat").st_mtime_ns == OLD
